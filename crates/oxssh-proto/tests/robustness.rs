//! No input panics: every decoder and state machine of the protocol crate is fed
//! random bytes and mutations of valid messages, from a fixed seed so a failure
//! reproduces. (A coverage-guided fuzzer needs a nightly toolchain, which this machine
//! cannot fetch; these bounded loops run on every test run instead.)

// Test code: a panic here is a failing test, which is the point.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Instant;

use oxssh_proto::auth::{self, Pending};
use oxssh_proto::connection::Connection;
use oxssh_proto::kex::KexInit;
use oxssh_proto::transport::{Config, Event, Role, Transport};
use oxssh_proto::wire::Reader;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Flip, insert or delete a few bytes of `v`.
    fn mutate(&mut self, v: &[u8]) -> Vec<u8> {
        let mut v = v.to_vec();
        for _ in 0..(1 + self.next() % 4) {
            let pos = if v.is_empty() {
                0
            } else {
                (self.next() as usize) % v.len()
            };
            match self.next() % 3 {
                0 if !v.is_empty() => v[pos] ^= 1 << (self.next() % 8),
                1 => v.insert(pos, self.next() as u8),
                _ if !v.is_empty() => {
                    v.remove(pos);
                }
                _ => {}
            }
        }
        v
    }
}

fn host_key() -> ssh_key::PrivateKey {
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    ssh_key::PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).unwrap()
}

#[test]
fn message_decoders_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let samples: Vec<Vec<u8>> = vec![
        auth::request_publickey_query("alice", "ssh-connection", "ssh-ed25519", b"blob"),
        auth::info_request("n", "i", &[("Password: ", false)]),
        auth::failure(&["publickey", "password"], false),
        auth::pk_ok("ssh-ed25519", b"blob"),
        KexInit::build(&Default::default(), &["ssh-ed25519".into()], &[], [0; 16]).raw,
    ];
    for i in 0..20_000 {
        let input = if i % 2 == 0 {
            rng.bytes(512)
        } else {
            let s = &samples[i % samples.len()];
            rng.mutate(s)
        };
        let _ = auth::parse_request(&input);
        for p in [
            Pending::None,
            Pending::PublicKey,
            Pending::Password,
            Pending::KeyboardInteractive,
        ] {
            let _ = auth::parse_reply(&input, p);
        }
        let _ = auth::parse_info_response(&input, 2);
        let _ = KexInit::parse(&input);
        let mut r = Reader::new(&input);
        let _ = (r.string(), r.name_list(), r.mpint(), r.u64());
    }
}

#[test]
fn transport_and_channels_survive_garbage_after_a_real_handshake() {
    let mut rng = Rng(42);
    let now = Instant::now();
    for round in 0..30 {
        let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
        let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
        let mut buf = Vec::new();
        for _ in 0..20 {
            c.take_output(&mut buf);
            s.handle_input(&buf, now).unwrap();
            s.take_output(&mut buf);
            c.handle_input(&buf, now).unwrap();
            while let Some(ev) = c.poll_event() {
                if let Event::HostKey { .. } = ev {
                    c.host_key_verdict(true, now).unwrap();
                }
            }
            while s.poll_event().is_some() {}
        }
        assert!(c.session_id().is_some(), "round {round}: handshake");
        // Authenticated-looking connection-protocol messages with random contents.
        let mut conn = Connection::new();
        for _ in 0..500 {
            let mut msg = vec![80 + (rng.next() % 21) as u8];
            msg.extend(rng.bytes(64));
            let _ = conn.handle(&mut s, &msg);
            while conn.poll_event().is_some() {}
        }
        // Then raw garbage on the wire: an error, never a panic.
        let _ = s.handle_input(&rng.bytes(4096), now);
    }
}
