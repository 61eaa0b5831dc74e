//! In-memory client/server pairs: two transports wired back to back, no sockets, so
//! the whole exchange is deterministic and every failure path can be provoked.

use std::time::Instant;

use super::*;
use crate::cipher::{Cipher, Mac};

fn host_key() -> PrivateKey {
    let mut rng: StdRng = rand::make_rng();
    PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).unwrap()
}

struct Pair {
    c: Transport,
    s: Transport,
    c_in: Vec<Vec<u8>>,
    s_in: Vec<Vec<u8>>,
}

impl Pair {
    fn new(algs: Option<Algorithms>) -> Pair {
        let mut cc = Config::new("server");
        let mut sc = Config::new("client");
        if let Some(a) = algs {
            cc.algorithms = a.clone();
            sc.algorithms = a;
        }
        Pair {
            c: Transport::new(Role::Client, cc, Vec::new()).unwrap(),
            s: Transport::new(Role::Server, sc, vec![host_key()]).unwrap(),
            c_in: Vec::new(),
            s_in: Vec::new(),
        }
    }

    /// Move bytes both ways until quiet; accept host keys; collect upper-layer packets.
    fn pump(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let mut buf = Vec::new();
        for _ in 0..100 {
            let mut moved = false;
            if self.c.has_output() {
                self.c.take_output(&mut buf);
                self.s.handle_input(&buf, now)?;
                moved = true;
            }
            if self.s.has_output() {
                self.s.take_output(&mut buf);
                self.c.handle_input(&buf, now)?;
                moved = true;
            }
            while let Some(ev) = self.c.poll_event() {
                match ev {
                    Event::HostKey { .. } => self.c.host_key_verdict(true, now)?,
                    Event::Packet(p) => self.c_in.push(p),
                    _ => {}
                }
            }
            while let Some(ev) = self.s.poll_event() {
                if let Event::Packet(p) = ev {
                    self.s_in.push(p);
                }
            }
            if !moved {
                return Ok(());
            }
        }
        panic!("pair did not settle");
    }
}

#[test]
fn handshake_then_messages_both_ways() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    assert_eq!(p.c.session_id(), p.s.session_id());
    assert!(p.c.session_id().is_some());
    p.c.send(&[94, 1, 2, 3]).unwrap();
    p.s.send(&[95, 9]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.s_in, vec![vec![94, 1, 2, 3]]);
    assert_eq!(p.c_in, vec![vec![95, 9]]);
}

#[test]
fn every_cipher_and_mac_in_memory() {
    for cipher in Cipher::ALL {
        for mac in Mac::ALL {
            let algs = Algorithms {
                cipher: vec![cipher.name().into()],
                mac: vec![mac.name().into()],
                ..Algorithms::default()
            };
            let mut p = Pair::new(Some(algs));
            p.pump().unwrap();
            let big = vec![7u8; 40_000];
            p.c.send(&big).unwrap();
            p.pump().unwrap();
            assert_eq!(p.s_in, vec![big], "{} {}", cipher.name(), mac.name());
        }
    }
}

#[test]
fn rekey_with_data_in_flight_keeps_order_and_session_id() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    let sid = p.c.session_id().unwrap().to_vec();
    p.c.rekey().unwrap();
    for i in 0..10u8 {
        p.c.send(&[94, i]).unwrap();
        p.s.send(&[94, i]).unwrap();
    }
    p.pump().unwrap();
    let want: Vec<Vec<u8>> = (0..10u8).map(|i| vec![94, i]).collect();
    assert_eq!(p.s_in, want);
    assert_eq!(p.c_in, want);
    assert_eq!(p.c.session_id().unwrap(), sid.as_slice());
    assert!(!p.c.kex_in_progress() && !p.s.kex_in_progress());
}

#[test]
fn corrupted_packet_is_corrupted_mac_on_input() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    p.c.send(&[94, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    let last = buf.len() - 1;
    buf[last] ^= 1;
    let e = p.s.handle_input(&buf, Instant::now()).unwrap_err();
    assert_eq!(e.to_string(), "Corrupted MAC on input.");
}

#[test]
fn oversized_length_is_refused_before_allocation() {
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let mut input = b"SSH-2.0-test\r\n".to_vec();
    input.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    input.extend_from_slice(&[0u8; 16]);
    let e = s.handle_input(&input, Instant::now()).unwrap_err();
    assert!(matches!(e, Error::BadPacketLength(_)), "{e:?}");
}

#[test]
fn strict_kex_rejects_ignore_during_initial_exchange() {
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let now = Instant::now();
    let mut buf = Vec::new();
    s.take_output(&mut buf);
    c.handle_input(&buf, now).unwrap();
    // The client's KEXINIT goes first, then an IGNORE: a strict server must refuse it.
    c.send_ignore_for_test();
    c.take_output(&mut buf);
    let e = s.handle_input(&buf, now).unwrap_err();
    assert!(matches!(e, Error::Unexpected { got: 2, .. }), "{e:?}");
}

#[test]
fn ssh1_peer_gets_openssh_message() {
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let e = s
        .handle_input(b"SSH-1.5-old\r\n", Instant::now())
        .unwrap_err();
    assert_eq!(e.to_string(), "Protocol major versions differ: 2 vs. 1");
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x1234_5678u32;
    for len in [0usize, 1, 5, 17, 64, 300, 4096] {
        let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
        let mut input = b"SSH-2.0-fuzz\r\n".to_vec();
        for _ in 0..len {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            input.push((seed >> 16) as u8);
        }
        let _ = s.handle_input(&input, Instant::now());
    }
}
