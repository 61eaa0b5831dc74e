//! In-memory client/server pairs: two transports wired back to back, no sockets, so
//! the whole exchange is deterministic and every failure path can be provoked.

use std::time::{Duration, Instant};

use super::*;
use crate::cipher::{Cipher, Mac};
use crate::compress::Compression;

fn host_key() -> PrivateKey {
    let mut rng: StdRng = rand::make_rng();
    PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).unwrap()
}

struct Pair {
    c: Transport,
    s: Transport,
    c_in: Vec<Vec<u8>>,
    s_in: Vec<Vec<u8>>,
    /// Every host key the client was asked to judge: (K_S, algorithm).
    host_keys_seen: Vec<(Vec<u8>, SigAlg)>,
}

impl Pair {
    fn new(algs: Option<Algorithms>) -> Pair {
        let mut cc = Config::new("server");
        let mut sc = Config::new("client");
        if let Some(a) = algs {
            cc.algorithms = a.clone();
            sc.algorithms = a;
        }
        Pair::from_configs(cc, sc)
    }

    /// Client and server with their own compression lists (everything else default).
    fn compression(client: &[&str], server: &[&str]) -> Pair {
        let mut cc = Config::new("server");
        let mut sc = Config::new("client");
        cc.algorithms.compression = client.iter().map(|s| s.to_string()).collect();
        sc.algorithms.compression = server.iter().map(|s| s.to_string()).collect();
        Pair::from_configs(cc, sc)
    }

    fn from_configs(cc: Config, sc: Config) -> Pair {
        Pair {
            c: Transport::new(Role::Client, cc, Vec::new()).unwrap(),
            s: Transport::new(Role::Server, sc, vec![host_key()]).unwrap(),
            c_in: Vec::new(),
            s_in: Vec::new(),
            host_keys_seen: Vec::new(),
        }
    }

    /// A server with these host keys (certified or not); the client offers
    /// `client_host_key_algs` (None: its defaults, certificates first).
    fn with_host_keys(keys: Vec<HostKey>, client_host_key_algs: Option<&[SigAlg]>) -> Pair {
        let mut cc = Config::new("server");
        if let Some(algs) = client_host_key_algs {
            cc.algorithms.host_key = algs.iter().map(|a| a.name().to_owned()).collect();
        }
        Pair {
            c: Transport::new(Role::Client, cc, Vec::new()).unwrap(),
            s: Transport::with_host_keys(Role::Server, Config::new("client"), keys).unwrap(),
            c_in: Vec::new(),
            s_in: Vec::new(),
            host_keys_seen: Vec::new(),
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
                    Event::HostKey { key_blob, alg } => {
                        self.host_keys_seen.push((key_blob, alg));
                        self.c.host_key_verdict(true, now)?
                    }
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
fn ping_is_answered_with_pong_and_never_reaches_the_layers_above() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    let mut ping = vec![crate::msg::PING];
    ping.put_string(b"are you there");
    p.c.send(&ping).unwrap();
    // The server's PONG carries the same data; the client swallows it.
    let now = Instant::now();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    p.s.handle_input(&buf, now).unwrap();
    assert!(p.s.poll_event().is_none());
    assert!(p.s.has_output());
    p.pump().unwrap();
    assert!(p.s_in.is_empty() && p.c_in.is_empty());
    // A malformed PING is a protocol error, not a panic.
    p.c.send(&[crate::msg::PING, 0, 0]).unwrap();
    assert!(p.pump().is_err());
}

#[test]
fn an_unknown_message_number_gets_unimplemented_with_its_sequence_number() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    // A local extension, a reserved number, and unassigned ones in the transport,
    // user authentication and connection ranges: each answered, none delivered, and
    // the connection goes on.
    for t in [200u8, 150, 8, 25, 55, 85, 120, 255] {
        let seq = p.c.seq_out;
        p.c.send(&[t, 1, 2, 3]).unwrap();
        p.pump().unwrap();
        assert_eq!(p.c.last_unimplemented, Some(seq), "message {t}");
        assert!(p.s_in.is_empty(), "message {t} reached the layers above");
    }
    // Known numbers still reach the layers above, unanswered.
    p.c.last_unimplemented = None;
    p.c.send(&[94, 0, 0, 0, 0]).unwrap();
    p.c.send(&[msg::SERVICE_REQUEST]).unwrap();
    p.pump().unwrap();
    assert_eq!(
        p.s_in,
        vec![vec![94, 0, 0, 0, 0], vec![msg::SERVICE_REQUEST]]
    );
    assert_eq!(p.c.last_unimplemented, None);
    // A truncated UNIMPLEMENTED is a protocol error, not a panic.
    p.s.send(&[msg::UNIMPLEMENTED, 0]).unwrap();
    assert!(p.pump().is_err());
}

/// The payloads of unencrypted binary packets (before the first NEWKEYS), with the
/// offset of each payload in `wire` (which may start with the identification line).
fn plain_packets(wire: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    // The identification line, when these are the first bytes.
    if wire.starts_with(b"SSH-") {
        at = wire.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    }
    while at + 5 <= wire.len() {
        let len = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
        let pad = wire[at + 4] as usize;
        let payload = wire[at + 5..at + 4 + len - pad].to_vec();
        let newkeys = payload.first() == Some(&msg::NEWKEYS);
        out.push((at + 5, payload));
        at += 4 + len;
        if newkeys {
            // What follows is encrypted.
            break;
        }
    }
    out
}

/// Run the first key exchange by hand up to the server's reply: returns the server's
/// bytes that carry it, not yet given to the client.
fn up_to_the_servers_reply(p: &mut Pair) -> Vec<u8> {
    let now = Instant::now();
    let mut buf = Vec::new();
    for _ in 0..10 {
        if p.c.has_output() {
            p.c.take_output(&mut buf);
            p.s.handle_input(&buf, now).unwrap();
        }
        if p.s.has_output() {
            p.s.take_output(&mut buf);
            if plain_packets(&buf)
                .iter()
                .any(|(_, m)| m[0] == msg::KEXDH_REPLY)
            {
                return buf;
            }
            p.c.handle_input(&buf, now).unwrap();
        }
    }
    panic!("no reply from the server");
}

#[test]
fn a_bad_signature_on_the_exchange_hash_fails_before_the_key_is_judged_or_newkeys_sent() {
    for flip in [0u8, 1] {
        let mut p = Pair::new(None);
        let mut wire = up_to_the_servers_reply(&mut p);
        let (at, reply) = plain_packets(&wire)
            .into_iter()
            .find(|(_, m)| m[0] == msg::KEXDH_REPLY)
            .unwrap();
        // The signature is the reply's last field: change its last byte (the
        // signature proper), or one early in its blob (the algorithm name's length).
        let target = if flip == 0 {
            at + reply.len() - 1
        } else {
            let mut r = Reader::new(&reply[1..]);
            let k_s = r.string().unwrap().len();
            let q_s = r.string().unwrap().len();
            at + 1 + 4 + k_s + 4 + q_s + 4 + 3
        };
        wire[target] ^= 0x01;
        let before = p.c.seq_out;
        assert!(
            p.c.handle_input(&wire, Instant::now()).is_err(),
            "flip {flip}"
        );
        assert!(
            !std::iter::from_fn(|| p.c.poll_event()).any(|e| matches!(e, Event::HostKey { .. })),
            "the key was offered for acceptance with a bad signature"
        );
        // Nothing went out after the bad reply but a DISCONNECT: no NEWKEYS.
        assert!(p.c.seq_out - before <= 1);
        let mut out = Vec::new();
        p.c.take_output(&mut out);
        assert!(
            plain_packets(&out)
                .iter()
                .all(|(_, m)| m[0] == msg::DISCONNECT),
            "flip {flip}: {out:?}"
        );
    }
}

#[test]
fn the_client_sends_nothing_until_the_host_key_is_accepted_and_nothing_if_refused() {
    let mut p = Pair::new(None);
    let wire = up_to_the_servers_reply(&mut p);
    let now = Instant::now();
    p.c.handle_input(&wire, now).unwrap();
    let mut judged = false;
    while let Some(e) = p.c.poll_event() {
        judged |= matches!(e, Event::HostKey { .. });
    }
    assert!(judged);
    // The layers above try to start user authentication meanwhile: held back.
    let mut req = vec![msg::SERVICE_REQUEST];
    req.put_string(b"ssh-userauth");
    let _ = p.c.send(&req);
    assert!(
        !p.c.has_output(),
        "the client wrote before its host key verdict"
    );
    // Refused: an error, and still nothing on the wire.
    assert!(p.c.host_key_verdict(false, now).is_err());
    assert!(
        !p.c.has_output(),
        "the client wrote after refusing the host key"
    );
    assert!(p.c.send(&req).is_err() || !p.c.has_output());

    // Accepted instead: NEWKEYS, then the request, encrypted.
    let mut p = Pair::new(None);
    let wire = up_to_the_servers_reply(&mut p);
    p.c.handle_input(&wire, now).unwrap();
    while p.c.poll_event().is_some() {}
    let _ = p.c.send(&req);
    assert!(!p.c.has_output());
    p.c.host_key_verdict(true, now).unwrap();
    assert!(p.c.has_output());
    p.pump().unwrap();
    assert_eq!(p.s_in, vec![req]);
}

/// The size of the group a server with 2048-, 4096- and 8192-bit primes in its moduli
/// file picks for our client's DH-GEX request, with `cipher` negotiated.
fn gex_group_bits(cipher: &str) -> usize {
    gex_group_bits_from(cipher, None)
}

/// [`gex_group_bits`] with the server announcing `server_version`.
fn gex_group_bits_from(cipher: &str, server_version: Option<&str>) -> usize {
    let a = Algorithms {
        kex: vec!["diffie-hellman-group-exchange-sha256".into()],
        cipher: vec![cipher.into()],
        ..Default::default()
    };
    let mut cc = Config::new("server");
    cc.algorithms = a.clone();
    let mut sc = Config::new("client");
    sc.algorithms = a;
    let primes = [DhGroup::group14(), DhGroup::group16(), DhGroup::group18()]
        .into_iter()
        .map(|group| methods::ModuliEntry {
            bits: group.bits() as u32,
            group,
        })
        .collect();
    sc.moduli = Some(("moduli".into(), primes));
    if let Some(v) = server_version {
        sc.version = v.into();
    }
    let mut p = Pair::from_configs(cc, sc);
    let now = Instant::now();
    let mut buf = Vec::new();
    for _ in 0..10 {
        if let KexStep::ServerGexInit(g) = &p.s.step {
            return g.bits();
        }
        if p.c.has_output() {
            p.c.take_output(&mut buf);
            p.s.handle_input(&buf, now).unwrap();
        }
        if p.s.has_output() {
            p.s.take_output(&mut buf);
            p.c.handle_input(&buf, now).unwrap();
        }
    }
    panic!("the server never chose a group");
}

#[test]
fn the_group_exchange_request_asks_for_the_size_the_ciphers_need() {
    // OpenSSH's client asks for dh_estimate(8 × dh_need) bits: 3072 for aes128-gcm
    // (16-byte key), 8192 for chacha20-poly1305 and aes256-gcm; the server picks the
    // smallest prime above that.
    assert_eq!(gex_group_bits("aes128-gcm@openssh.com"), 4096);
    assert_eq!(gex_group_bits("chacha20-poly1305@openssh.com"), 8192);
    assert_eq!(gex_group_bits("aes256-gcm@openssh.com"), 8192);
}

#[test]
fn an_old_cisco_server_is_asked_for_no_more_than_4096_bits() {
    // OpenSSH's SSH_BUG_DHGEX_LARGE: "Cisco-1.*" servers fail on larger groups.
    let cisco = Some("SSH-2.0-Cisco-1.25");
    assert_eq!(
        gex_group_bits_from("chacha20-poly1305@openssh.com", cisco),
        4096
    );
    assert_eq!(gex_group_bits_from("aes128-gcm@openssh.com", cisco), 4096);
    let other = Some("SSH-2.0-Cisco-2.0");
    assert_eq!(
        gex_group_bits_from("chacha20-poly1305@openssh.com", other),
        8192
    );
}

#[test]
fn unimplemented_is_answered_at_once_during_a_key_re_exchange() {
    // RFC 4253 §7.1 allows transport messages during a re-exchange; OpenSSH answers
    // an unknown message at once, not after the exchange.
    let mut p = Pair::new(None);
    p.pump().unwrap();
    let now = Instant::now();
    let mut buf = Vec::new();
    p.s.rekey().unwrap();
    let seq = p.c.seq_out;
    p.c.send(&[200, 1, 2]).unwrap();
    p.c.take_output(&mut buf);
    p.s.handle_input(&buf, now).unwrap();
    // The server's KEXINIT, then its answer: the client has it before the exchange
    // has gone any further.
    p.s.take_output(&mut buf);
    p.c.handle_input(&buf, now).unwrap();
    assert_eq!(p.c.last_unimplemented, Some(seq));
    assert!(p.s.kex_in_progress());
    p.pump().unwrap();
    p.c.send(&[94, 0, 0, 0, 0]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.s_in, vec![vec![94, 0, 0, 0, 0]]);
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
fn rekey_limits_wait_for_authentication() {
    // RekeyLimit 16 1s on both sides: before USERAUTH_SUCCESS nothing re-keys (OpenSSH's
    // sshd takes no KEXINIT while it authenticates); after it, the next packet does.
    let mut cfgs = [Config::new("server"), Config::new("client")];
    for cfg in &mut cfgs {
        cfg.rekey_bytes = 16;
        cfg.rekey_interval = Some(Duration::from_secs(1));
    }
    let [cc, sc] = cfgs;
    let mut p = Pair::from_configs(cc, sc);
    p.pump().unwrap();
    let later = Instant::now() + Duration::from_secs(5);
    for i in 0..5u8 {
        p.c.send(&[50, i]).unwrap();
        p.s.send(&[60, i]).unwrap();
        p.pump().unwrap();
        p.c.handle_timeout(later).unwrap();
        p.s.handle_timeout(later).unwrap();
    }
    assert_eq!((p.c.next_timeout(), p.s.next_timeout()), (None, None));
    p.pump().unwrap();
    assert_eq!((p.c.kex_count, p.s.kex_count), (1, 1));
    assert_eq!(p.s_in.len(), 5);

    userauth_success(&mut p);
    assert!(p.c.next_timeout().is_some());
    p.c.send(&[94, 1]).unwrap();
    p.pump().unwrap();
    // (The server's USERAUTH_SUCCESS already used up its volume, the client's data
    // its own: one or two exchanges.)
    let k = p.c.kex_count;
    assert!(k >= 2 && p.s.kex_count == k, "{k} {}", p.s.kex_count);
    // And by time alone.
    let due = p.s.next_timeout().unwrap();
    p.s.handle_timeout(due).unwrap();
    p.pump().unwrap();
    assert_eq!((p.c.kex_count, p.s.kex_count), (k + 1, k + 1));
    assert_eq!(p.s_in.last(), Some(&vec![94, 1]));
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
fn strict_kex_resets_the_sequence_numbers_at_newkeys() {
    let mut p = Pair::new(None);
    p.pump().unwrap();
    assert!(p.c.strict && p.s.strict);
    // Counted from NEWKEYS: the server's EXT_INFO is the only packet since, where
    // KEXINIT, the exchange and NEWKEYS would have made at least 3.
    assert_eq!((p.c.seq_out, p.s.seq_in), (0, 0));
    assert_eq!((p.s.seq_out, p.c.seq_in), (1, 1));
    p.c.send(&[94, 0, 0, 0, 0]).unwrap();
    p.pump().unwrap();
    assert_eq!((p.c.seq_out, p.s.seq_in), (1, 1));
}

#[test]
fn strict_kex_client_rejects_ignore_and_a_kexinit_that_is_not_first() {
    // The server's KEXINIT, then an IGNORE: a strict client refuses it.
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let now = Instant::now();
    let mut buf = Vec::new();
    c.take_output(&mut buf);
    s.handle_input(&buf, now).unwrap();
    s.send_ignore_for_test();
    s.take_output(&mut buf);
    let e = c.handle_input(&buf, now).unwrap_err();
    assert!(matches!(e, Error::Unexpected { got: 2, .. }), "{e:?}");

    // An IGNORE *before* the peer's KEXINIT: with strict kex offered, a KEXINIT that
    // is not the first packet ends the connection (the Terrapin prefix).
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    c.take_output(&mut buf);
    s.handle_input(&buf, now).unwrap();
    let mut wire = Vec::new();
    s.take_output(&mut wire);
    assert!(
        plain_packets(&wire)
            .iter()
            .any(|(_, m)| m[0] == msg::KEXINIT)
    );
    let banner_end = wire.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    // A plain-text IGNORE packet (empty string, 6 bytes of padding) between the
    // banner and the KEXINIT.
    let ignore = [0, 0, 0, 12, 6, msg::IGNORE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    wire.splice(banner_end..banner_end, ignore);
    let e = c.handle_input(&wire, now).unwrap_err();
    assert!(
        e.to_string().contains("KEXINIT was not the first packet"),
        "{e:?}"
    );
}

#[test]
fn ssh1_peer_gets_openssh_message() {
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let e = s
        .handle_input(b"SSH-1.5-old\r\n", Instant::now())
        .unwrap_err();
    assert_eq!(e.to_string(), "could not read protocol version");
    // The client reads, after our identification and nothing else, OpenSSH's answer.
    let mut out = Vec::new();
    s.take_output(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("SSH-2.0-"), "{text}");
    assert!(
        text.ends_with("\r\nProtocol major versions differ.\r\n"),
        "{text}"
    );
    // A client never hears that: it gets the log line's reason.
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let e = c
        .handle_input(b"SSH-1.5-old\r\n", Instant::now())
        .unwrap_err();
    assert_eq!(e.to_string(), "Protocol major versions differ: 2 vs. 1");
}

#[test]
fn a_client_line_that_is_not_an_identification_is_answered() {
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let e = s
        .handle_input(b"GET / HTTP/1.1\r\n", Instant::now())
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid format");
    let mut out = Vec::new();
    s.take_output(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with("\r\nInvalid SSH identification string.\r\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("\r\n").count(),
        2,
        "no KEXINIT before the verdict: {text}"
    );
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

// ----- compression (RFC 4253 §6.2, OpenSSH's zlib@openssh.com) -----

/// OpenSSH's `ssh -C` proposal and its sshd's default offer.
const CLIENT_C: &[&str] = &["zlib@openssh.com", "zlib", "none"];
const SSHD_DEFAULT: &[&str] = &["none", "zlib@openssh.com"];

/// Text that compresses well, and bytes that do not.
fn compressible(n: usize) -> Vec<u8> {
    let mut v = vec![94u8];
    while v.len() < n {
        v.extend_from_slice(b"drwxr-xr-x 2 root root 4096 Jan  1 00:00 usr/share/doc\n");
    }
    v.truncate(n);
    v
}

fn incompressible(n: usize) -> Vec<u8> {
    let mut rng: StdRng = rand::make_rng();
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    if let Some(b) = v.first_mut() {
        *b = 94;
    }
    v
}

/// Send `payload` from the client and return how many bytes it took on the wire.
fn client_wire_bytes(p: &mut Pair, payload: &[u8]) -> usize {
    p.c.send(payload).unwrap();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    p.s.handle_input(&buf, Instant::now()).unwrap();
    buf.len()
}

/// The server reports authentication success, as the auth layer above would.
fn userauth_success(p: &mut Pair) {
    p.s.send(&[msg::USERAUTH_SUCCESS]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.c_in.pop(), Some(vec![msg::USERAUTH_SUCCESS]));
}

fn round_trip_both_ways(p: &mut Pair, payloads: &[Vec<u8>]) {
    p.c_in.clear();
    p.s_in.clear();
    for d in payloads {
        p.c.send(d).unwrap();
        p.s.send(d).unwrap();
    }
    p.pump().unwrap();
    assert!(p.s_in == payloads, "client to server data differs");
    assert!(p.c_in == payloads, "server to client data differs");
}

#[test]
fn data_round_trips_with_each_compression_setting() {
    let data = vec![
        compressible(30_000),
        incompressible(30_000),
        vec![94],
        compressible(200_000),
        incompressible(120_000),
    ];
    for (client, server, want) in [
        (&["none"][..], &["none"][..], Compression::None),
        (CLIENT_C, SSHD_DEFAULT, Compression::ZlibDelayed),
        (CLIENT_C, &["zlib"][..], Compression::Zlib),
        // OpenSSH's client default (`Compression no`) against a zlib-only server.
        (
            &["none", "zlib@openssh.com", "zlib"][..],
            &["zlib"][..],
            Compression::Zlib,
        ),
    ] {
        let mut p = Pair::compression(client, server);
        p.pump().unwrap();
        assert_eq!(p.c.compression(), (want, want), "{client:?} {server:?}");
        assert_eq!(p.s.compression(), (want, want));
        userauth_success(&mut p);
        let on = want != Compression::None;
        assert_eq!(p.c.compressing(), (on, on), "{}", want.name());
        assert_eq!(p.s.compressing(), (on, on));
        round_trip_both_ways(&mut p, &data);
        let wire = client_wire_bytes(&mut p, &compressible(30_000));
        if on {
            assert!(
                wire < 30_000 / 10,
                "{}: {wire} bytes on the wire",
                want.name()
            );
        } else {
            assert!(wire > 30_000, "{wire}");
        }
    }
}

#[test]
fn zlib_with_every_cipher() {
    for cipher in Cipher::ALL {
        let algs = Algorithms {
            cipher: vec![cipher.name().into()],
            mac: vec![Mac::ALL[0].name().into()],
            compression: vec!["zlib".into()],
            ..Algorithms::default()
        };
        let mut p = Pair::new(Some(algs));
        p.pump().unwrap();
        round_trip_both_ways(&mut p, &[compressible(40_000), incompressible(40_000)]);
        assert_eq!(p.c.compressing(), (true, true), "{}", cipher.name());
    }
}

#[test]
fn delayed_compression_starts_only_after_userauth_success() {
    let mut p = Pair::compression(CLIENT_C, SSHD_DEFAULT);
    p.pump().unwrap();
    assert_eq!(p.c.compression().0, Compression::ZlibDelayed);
    // Before authentication: negotiated, not running; bytes go as they are.
    assert_eq!(p.c.compressing(), (false, false));
    assert_eq!(p.s.compressing(), (false, false));
    assert!(p.c.compression_stats() == (None, None));
    assert!(client_wire_bytes(&mut p, &compressible(20_000)) > 20_000);
    // The server starts both ways as soon as it has sent USERAUTH_SUCCESS, and a packet
    // right behind it in the same flight is already compressed: the client must switch
    // between the two packets of one read.
    p.s.send(&[msg::USERAUTH_SUCCESS]).unwrap();
    assert_eq!(p.s.compressing(), (true, true));
    assert_eq!(p.c.compressing(), (false, false));
    let after = compressible(20_000);
    p.s.send(&after).unwrap();
    let mut buf = Vec::new();
    p.s.take_output(&mut buf);
    assert!(
        buf.len() < 20_000 / 5,
        "{} bytes for both packets",
        buf.len()
    );
    p.c.handle_input(&buf, Instant::now()).unwrap();
    assert_eq!(p.c.compressing(), (true, true));
    p.pump().unwrap();
    assert_eq!(p.c_in, vec![vec![msg::USERAUTH_SUCCESS], after]);
    assert!(client_wire_bytes(&mut p, &compressible(20_000)) < 20_000 / 10);
    let (out, inc) = p.c.compression_stats();
    assert!(
        out.is_some_and(|s| s.raw == 20_000 && s.compressed < 2_000),
        "{out:?}"
    );
    assert!(inc.is_some_and(|s| s.raw == 20_000), "{inc:?}");
}

#[test]
fn a_client_userauth_success_does_not_start_compression() {
    // USERAUTH_SUCCESS means something only from the server.
    let mut p = Pair::compression(CLIENT_C, SSHD_DEFAULT);
    p.pump().unwrap();
    p.c.send(&[msg::USERAUTH_SUCCESS]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.c.compressing(), (false, false));
    assert_eq!(p.s.compressing(), (false, false));
    round_trip_both_ways(&mut p, &[compressible(5_000)]);
}

#[test]
fn compression_across_rekeys_from_either_side() {
    for (client, server) in [(CLIENT_C, SSHD_DEFAULT), (CLIENT_C, &["zlib"][..])] {
        let mut p = Pair::compression(client, server);
        p.pump().unwrap();
        userauth_success(&mut p);
        let data = vec![
            compressible(50_000),
            incompressible(10_000),
            compressible(100),
        ];
        round_trip_both_ways(&mut p, &data);
        let before = p.c.compression_stats().0.unwrap();
        // Data queued while the exchange runs goes out (compressed) after NEWKEYS.
        p.c.rekey().unwrap();
        round_trip_both_ways(&mut p, &data);
        assert!(!p.c.kex_in_progress() && !p.s.kex_in_progress());
        // Still compressing without a second USERAUTH_SUCCESS, on a fresh context
        // (RFC 4253 §6.2; OpenSSH restarts its streams at NEWKEYS too).
        assert_eq!(p.c.compressing(), (true, true));
        assert_eq!(p.s.compressing(), (true, true));
        let after = p.c.compression_stats().0.unwrap();
        assert!(after.raw < before.raw * 2, "{before:?} {after:?}");
        p.s.rekey().unwrap();
        p.pump().unwrap();
        round_trip_both_ways(&mut p, &data);
        assert!(client_wire_bytes(&mut p, &compressible(30_000)) < 3_000);
    }
}

#[test]
fn rekey_to_none_stops_compressing() {
    let mut p = Pair::compression(CLIENT_C, &["zlib", "none"]);
    p.pump().unwrap();
    assert_eq!(p.c.compressing(), (true, true));
    p.s.cfg.algorithms.compression = vec!["none".into()];
    p.c.rekey().unwrap();
    p.pump().unwrap();
    assert_eq!(p.c.compression(), (Compression::None, Compression::None));
    assert_eq!(p.c.compressing(), (false, false));
    assert_eq!(p.s.compressing(), (false, false));
    round_trip_both_ways(&mut p, &[compressible(10_000)]);
    assert!(client_wire_bytes(&mut p, &compressible(10_000)) > 10_000);
}

#[test]
fn decompression_bomb_is_refused_without_allocating_past_the_limit() {
    let mut p = Pair::compression(&["zlib"], &["zlib"]);
    p.pump().unwrap();
    // 64 MiB of zeros in a few dozen KiB: the first packet of the client's stream.
    let mut z = flate2::Compress::new(flate2::Compression::new(9), true);
    let zeros = vec![0u8; 64 << 20];
    let mut bomb = Vec::with_capacity(128 * 1024);
    z.compress_vec(&zeros, &mut bomb, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(z.total_in(), 64 << 20);
    assert!(bomb.len() + 64 < MAX_PACKET, "{}", bomb.len());
    p.c.send_precompressed_for_test(&bomb).unwrap();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    let e = p.s.handle_input(&buf, Instant::now()).unwrap_err();
    assert_eq!(e.to_string(), "insufficient buffer space");
    assert!(matches!(e, Error::Compression(_)), "{e:?}");
    let held = p.s.inflate.as_ref().unwrap().scratch_capacity();
    assert!(held <= MAX_PACKET + 1, "inflated into {held} bytes");
    // The server says why before it closes (a DISCONNECT is queued).
    assert!(p.s.has_output());
}

#[test]
fn a_payload_inflating_to_just_the_limit_is_accepted() {
    let mut p = Pair::compression(&["zlib"], &["zlib"]);
    p.pump().unwrap();
    let mut z = flate2::Compress::new(flate2::Compression::new(6), true);
    let mut big = vec![94u8; MAX_PACKET];
    if let Some(b) = big.get_mut(1) {
        *b = 7;
    }
    let mut wire = Vec::with_capacity(64 * 1024);
    z.compress_vec(&big, &mut wire, flate2::FlushCompress::Partial)
        .unwrap();
    p.c.send_precompressed_for_test(&wire).unwrap();
    p.pump().unwrap();
    assert_eq!(p.s_in.len(), 1);
    assert!(p.s_in[0] == big);
}

#[test]
fn garbage_compressed_data_is_an_error_not_a_panic() {
    let mut seed = 0x2545_f491u32;
    for len in [1usize, 2, 3, 9, 100, 5000, 60_000] {
        let mut junk = Vec::with_capacity(len);
        for _ in 0..len {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            junk.push((seed >> 16) as u8);
        }
        for prefix in [&[][..], &[0x78, 0x9c][..]] {
            let mut p = Pair::compression(&["zlib"], &["zlib"]);
            p.pump().unwrap();
            let mut payload = prefix.to_vec();
            payload.extend_from_slice(&junk);
            p.c.send_precompressed_for_test(&payload).unwrap();
            let mut buf = Vec::new();
            p.c.take_output(&mut buf);
            // Junk may happen to decode to something: then it is a message like any
            // other. What matters: an error or data, bounded, and never a panic.
            let _ = p.s.handle_input(&buf, Instant::now());
        }
    }
    // A zlib header, then a block type that does not exist.
    let mut p = Pair::compression(&["zlib"], &["zlib"]);
    p.pump().unwrap();
    p.c.send_precompressed_for_test(&[0x78, 0x9c, 0xff, 0xff])
        .unwrap();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    let e = p.s.handle_input(&buf, Instant::now()).unwrap_err();
    assert_eq!(e.to_string(), "invalid format");
    // The connection is over: more input is refused, not decoded.
    assert!(p.s.handle_input(&buf, Instant::now()).is_err());
}

#[test]
fn uncompressed_data_while_compression_runs_is_an_error() {
    // A peer that "forgets" to compress after USERAUTH_SUCCESS.
    let mut p = Pair::compression(CLIENT_C, SSHD_DEFAULT);
    p.pump().unwrap();
    userauth_success(&mut p);
    p.c.send_precompressed_for_test(&compressible(1000))
        .unwrap();
    let mut buf = Vec::new();
    p.c.take_output(&mut buf);
    let e = p.s.handle_input(&buf, Instant::now()).unwrap_err();
    assert!(matches!(e, Error::Compression(_)), "{e:?}");
}

// ----- host certificates (PROTOCOL.certkeys; sshd's HostCertificate) -----

/// A host certificate for `key` signed by `ca`: valid forever, principal "server".
fn certify(key: &PrivateKey, ca: &PrivateKey) -> ssh_key::Certificate {
    let mut rng: StdRng = rand::make_rng();
    let mut b = ssh_key::certificate::Builder::new_with_random_nonce(
        &mut rng,
        key.public_key().key_data().clone(),
        0,
        u64::MAX,
    )
    .unwrap();
    b.serial(42).unwrap();
    b.cert_type(ssh_key::certificate::CertType::Host).unwrap();
    b.key_id("test host").unwrap();
    b.valid_principal("server").unwrap();
    b.sign(ca).unwrap()
}

/// `key` with a certificate from `ca`, and the certificate's blob.
fn certified(key: PrivateKey, ca: &PrivateKey) -> (HostKey, Vec<u8>) {
    let cert = certify(&key, ca);
    let blob = hostkey::cert_blob(&cert);
    (HostKey::with_certificate(key, &cert).unwrap(), blob)
}

fn rsa_key() -> PrivateKey {
    PrivateKey::from_openssh(include_str!("../hostkey/testdata/rsa2048")).unwrap()
}

fn ecdsa_key() -> PrivateKey {
    let mut rng: StdRng = rand::make_rng();
    let curve = ssh_key::EcdsaCurve::NistP256;
    PrivateKey::random(&mut rng, ssh_key::Algorithm::Ecdsa { curve }).unwrap()
}

#[test]
fn certified_host_key_negotiates_the_certificate_and_sends_it_as_k_s() {
    let key = host_key();
    let public = key.public_key().key_data().clone();
    let (hk, blob) = certified(key, &host_key());
    let mut p = Pair::with_host_keys(vec![hk], None);
    // The server's KEXINIT offers the certificate beside the plain key.
    assert_eq!(
        p.s.server_host_key_algs(),
        ["ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"]
    );
    p.pump().unwrap();
    // The client (certificates first, as OpenSSH's default) got the certificate as
    // K_S, and the exchange hash verified with the certified key.
    assert_eq!(p.host_keys_seen, vec![(blob.clone(), SigAlg::Ed25519Cert)]);
    let k_s = ssh_key::Certificate::from_bytes(&blob).unwrap();
    assert_eq!(k_s.public_key(), &public);
    assert_eq!(k_s.key_id(), "test host");
    assert_eq!(p.c.host_key(), Some(blob.as_slice()));
    // The server remembers the same K_S (publickey-hostbound compares against it).
    assert_eq!(p.s.host_key(), Some(blob.as_slice()));
    // A rekey presents the same certificate (the client refuses a changed K_S).
    p.c.rekey().unwrap();
    p.c.send(&[94, 7]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.s_in, vec![vec![94, 7]]);
    assert_eq!(p.host_keys_seen.len(), 1);
}

#[test]
fn a_client_without_certificate_algorithms_gets_the_plain_key() {
    let key = host_key();
    let plain = hostkey::public_blob(key.public_key());
    let (hk, _) = certified(key, &host_key());
    let mut p = Pair::with_host_keys(vec![hk], Some(&[SigAlg::Ed25519]));
    p.pump().unwrap();
    assert_eq!(p.host_keys_seen, vec![(plain, SigAlg::Ed25519)]);
}

#[test]
fn rsa_and_ecdsa_certificates_sign_with_the_negotiated_algorithm() {
    let ca = host_key();
    for (key, alg) in [
        (rsa_key(), SigAlg::RsaSha512Cert),
        (rsa_key(), SigAlg::RsaSha256Cert),
        (ecdsa_key(), SigAlg::EcdsaP256Cert),
    ] {
        let (hk, blob) = certified(key, &ca);
        let mut p = Pair::with_host_keys(vec![hk], Some(&[alg]));
        p.pump().unwrap_or_else(|e| panic!("{}: {e}", alg.name()));
        assert_eq!(p.host_keys_seen, vec![(blob, alg)], "{}", alg.name());
    }
}

#[test]
fn only_the_certified_key_offers_certificate_algorithms() {
    let plain = host_key();
    let plain_blob = hostkey::public_blob(plain.public_key());
    let (hk, blob) = certified(ecdsa_key(), &host_key());
    let keys = vec![HostKey::new(plain), hk];
    let mut p = Pair::with_host_keys(keys.clone(), None);
    assert_eq!(
        p.s.server_host_key_algs(),
        [
            "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256"
        ]
    );
    p.pump().unwrap();
    assert_eq!(p.host_keys_seen, vec![(blob, SigAlg::EcdsaP256Cert)]);
    // Asked for the Ed25519 certificate, which does not exist: no agreement.
    let mut p = Pair::with_host_keys(keys.clone(), Some(&[SigAlg::Ed25519Cert]));
    let e = p.pump().unwrap_err();
    assert!(matches!(e, Error::NoCommonAlgorithm { .. }), "{e:?}");
    // The uncertified key still serves its plain algorithm.
    let mut p = Pair::with_host_keys(keys, Some(&[SigAlg::Ed25519]));
    p.pump().unwrap();
    assert_eq!(p.host_keys_seen, vec![(plain_blob, SigAlg::Ed25519)]);
}

#[test]
fn server_host_key_algorithms_follow_the_configured_order() {
    let (hk, _) = certified(rsa_key(), &host_key());
    let mut sc = Config::new("client");
    sc.algorithms.host_key = [
        "rsa-sha2-256",
        "ssh-rsa-cert-v01@openssh.com",
        "rsa-sha2-512-cert-v01@openssh.com",
        "ssh-ed25519-cert-v01@openssh.com",
    ]
    .map(String::from)
    .to_vec();
    let s = Transport::with_host_keys(Role::Server, sc, vec![hk]).unwrap();
    assert_eq!(
        s.server_host_key_algs(),
        [
            "rsa-sha2-256",
            "ssh-rsa-cert-v01@openssh.com",
            "rsa-sha2-512-cert-v01@openssh.com"
        ]
    );
}

/// Messages sent at every step of a key re-exchange, started by either side, arrive
/// in the order they were sent (a message sent after our NEWKEYS must not overtake
/// one held back before it).
#[test]
fn data_sent_at_every_step_of_a_rekey_keeps_its_order() {
    for server_starts in [true, false] {
        let mut p = Pair::new(None);
        p.pump().unwrap();
        if server_starts {
            p.s.rekey().unwrap();
        } else {
            p.c.rekey().unwrap();
        }
        let now = Instant::now();
        let mut buf = Vec::new();
        let mut n = 0u8;
        for _ in 0..20 {
            for to_server in [true, false] {
                p.s.send(&[94, n]).unwrap();
                p.c.send(&[94, n]).unwrap();
                n += 1;
                let (from, to) = if to_server {
                    (&mut p.c, &mut p.s)
                } else {
                    (&mut p.s, &mut p.c)
                };
                if from.has_output() {
                    from.take_output(&mut buf);
                    to.handle_input(&buf, now).unwrap();
                }
                while let Some(ev) = p.c.poll_event() {
                    match ev {
                        Event::HostKey { .. } => p.c.host_key_verdict(true, now).unwrap(),
                        Event::Packet(x) => p.c_in.push(x),
                        _ => {}
                    }
                }
                while let Some(ev) = p.s.poll_event() {
                    if let Event::Packet(x) = ev {
                        p.s_in.push(x);
                    }
                }
            }
        }
        p.pump().unwrap();
        let want: Vec<Vec<u8>> = (0..n).map(|i| vec![94, i]).collect();
        assert_eq!(p.c_in, want, "server starts: {server_starts}");
        assert_eq!(p.s_in, want, "server starts: {server_starts}");
        assert!(!p.c.kex_in_progress() && !p.s.kex_in_progress());
    }
}

#[test]
fn recycled_buffers_cover_a_window_of_bulk_data_then_shrink() {
    use crate::connection::{DEFAULT_MAX_PACKET, DEFAULT_WINDOW};
    let mut t = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let full = DEFAULT_MAX_PACKET as usize;
    let window = (DEFAULT_WINDOW / DEFAULT_MAX_PACKET) as usize;
    // A window's worth of full data packets in flight come back: all are kept, and no
    // more than that.
    for _ in 0..window + 10 {
        t.recycle(vec![7u8; full]);
    }
    assert_eq!(t.spare.len(), window);
    // Larger than any data packet we allow: not kept.
    t.spare.clear();
    t.recycle(vec![0u8; full + 4096]);
    assert!(t.spare.is_empty());
    // Bulk data stops: buffers that come back from small messages are freed until a
    // few are left.
    for _ in 0..window {
        t.recycle(vec![7u8; full]);
    }
    for _ in 0..window {
        let mut b = t.spare.pop().unwrap();
        b.truncate(40);
        t.recycle(b);
    }
    assert_eq!(t.spare.len(), 8);
}

// ----- version exchange (RFC 4253 §4.2) -----

#[test]
fn a_server_may_send_other_lines_before_its_identification_and_the_exchange_proceeds() {
    let mut p = Pair::new(None);
    let now = Instant::now();
    // The server's first flight is its identification alone (its KEXINIT waits for
    // ours): put lines in front of it, CR LF and bare LF ones and an empty one.
    let mut banner = Vec::new();
    p.s.take_output(&mut banner);
    assert!(banner.starts_with(b"SSH-2.0-"), "{banner:?}");
    let mut wire = b"hello\r\nbanner line\n\r\nSSH is not this line's start\r\n".to_vec();
    wire.extend_from_slice(&banner);
    // A few bytes per read: lines end in the middle of reads.
    for chunk in wire.chunks(3) {
        p.c.handle_input(chunk, now).unwrap();
    }
    // The identification alone is V_S: a preamble line taken for it, or kept in it,
    // would break the exchange hash and the server's signature with it.
    assert_eq!(p.c.peer_version(), Some(p.s.local_version()));
    p.pump().unwrap();
    assert!(p.c.session_id().is_some());
    assert_eq!(p.c.session_id(), p.s.session_id());
    p.c.send(&[94, 1]).unwrap();
    p.s.send(&[94, 2]).unwrap();
    p.pump().unwrap();
    assert_eq!((p.s_in, p.c_in), (vec![vec![94, 1]], vec![vec![94, 2]]));
}

#[test]
fn a_server_identification_longer_than_255_bytes_is_refused() {
    // 253 characters and CR LF: the longest line RFC 4253 §4.2 allows, accepted.
    let longest = format!("SSH-2.0-{}", "x".repeat(253 - 8));
    let mut sc = Config::new("client");
    sc.version = longest.clone();
    let mut p = Pair::from_configs(Config::new("server"), sc);
    p.pump().unwrap();
    assert_eq!(p.c.peer_version(), Some(longest.as_str()));
    assert!(p.c.session_id().is_some());

    let now = Instant::now();
    let mut buf = Vec::new();
    // One byte more, and a line far longer: refused once the line is in.
    for n in [254usize, 300, 1000] {
        let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
        c.take_output(&mut buf);
        let line = format!("SSH-2.0-{}\r\n", "y".repeat(n - 8));
        let e = c.handle_input(line.as_bytes(), now).unwrap_err();
        assert!(matches!(e, Error::Version(_)), "{n}: {e:?}");
        assert_eq!(e.to_string(), "banner line too long", "{n}");
        assert_eq!(c.peer_version(), None);
        // Nothing is sent in answer (no DISCONNECT before a version exchange), and the
        // connection is over.
        assert!(!c.has_output(), "{n}");
        assert!(c.handle_input(b"SSH-2.0-ok\r\n", now).is_err());
    }
    // Without a newline the client does not wait for one past 255 bytes.
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let start = format!("SSH-2.0-{}", "z".repeat(200));
    c.handle_input(start.as_bytes(), now).unwrap();
    let e = c.handle_input(&[b'z'; 60], now).unwrap_err();
    assert_eq!(
        e.to_string(),
        "banner line too long or no newline in identification"
    );
}

/// Lines before a server's identification may be up to 8192 bytes, as OpenSSH's
/// client allows (SSH_MAX_BANNER_LEN); the identification itself stays within 255.
#[test]
fn long_lines_before_the_server_identification_are_accepted_up_to_8192_bytes() {
    let now = Instant::now();
    let mut buf = Vec::new();
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    c.take_output(&mut buf);
    let motd = format!("{}\r\n{}\n", "m".repeat(8192), "n".repeat(3000));
    c.handle_input(motd.as_bytes(), now).unwrap();
    c.handle_input(b"SSH-2.0-long_banner_ok\r\n", now).unwrap();
    assert_eq!(c.peer_version(), Some("SSH-2.0-long_banner_ok"));

    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let e = c
        .handle_input(format!("{}\r\n", "m".repeat(8193)).as_bytes(), now)
        .unwrap_err();
    assert_eq!(e.to_string(), "banner line too long");
    // Without a newline, the client stops waiting past the limit too.
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    c.handle_input(&[b'm'; 8000], now).unwrap();
    assert!(c.handle_input(&[b'm'; 500], now).is_err());
}

#[test]
fn a_server_announcing_protocol_1_99_is_accepted() {
    // SSH-1.99 is a server that speaks 2.0 too (RFC 4253 §5.1).
    let mut sc = Config::new("client");
    sc.version = "SSH-1.99-OpenSSH_x".into();
    let mut p = Pair::from_configs(Config::new("server"), sc);
    p.pump().unwrap();
    assert_eq!(p.c.peer_version(), Some("SSH-1.99-OpenSSH_x"));
    assert!(p.c.session_id().is_some());
    assert_eq!(p.c.session_id(), p.s.session_id());
    p.c.send(&[94, 3]).unwrap();
    p.pump().unwrap();
    assert_eq!(p.s_in, vec![vec![94, 3]]);
}

#[test]
fn a_client_line_before_a_valid_identification_is_still_refused() {
    // Only a server may send lines before its identification: sshd does not skip a
    // client's, even with a good identification right behind it.
    let now = Instant::now();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let e = s
        .handle_input(b"hello\r\nSSH-2.0-OpenSSH_9.6\r\n", now)
        .unwrap_err();
    assert!(matches!(e, Error::Version(_)), "{e:?}");
    assert_eq!(e.to_string(), "invalid format");
    assert_eq!(s.peer_version(), None);
    let mut out = Vec::new();
    s.take_output(&mut out);
    let text = String::from_utf8(out).unwrap();
    let want = format!(
        "{}\r\nInvalid SSH identification string.\r\n",
        s.local_version()
    );
    assert_eq!(text, want, "no KEXINIT, nothing else");
    assert!(s.handle_input(b"SSH-2.0-again\r\n", now).is_err());
}

// ----- transport messages from the peer (RFC 4253 §11) -----

#[test]
fn a_disconnect_after_the_key_exchange_reports_its_reason_code_and_text() {
    let now = Instant::now();
    for server_sends in [true, false] {
        let mut p = Pair::new(None);
        p.pump().unwrap();
        let (from, to) = if server_sends {
            (&mut p.s, &mut p.c)
        } else {
            (&mut p.c, &mut p.s)
        };
        from.send_disconnect(msg::disconnect::BY_APPLICATION, "Server shutting down")
            .unwrap();
        // Data behind the DISCONNECT is not delivered.
        from.send(&[94, 9]).unwrap();
        let mut buf = Vec::new();
        from.take_output(&mut buf);
        let e = to.handle_input(&buf, now).unwrap_err();
        match &e {
            Error::Disconnected { code, description } => {
                assert_eq!(*code, msg::disconnect::BY_APPLICATION);
                assert_eq!(description, "Server shutting down");
            }
            _ => panic!("server sends {server_sends}: {e:?}"),
        }
        assert_eq!(
            e.to_string(),
            "Received disconnect from peer: 11: Server shutting down"
        );
        // No DISCONNECT in answer, nothing for the layers above, and it is over.
        assert!(!to.has_output(), "server sends {server_sends}");
        assert!(to.poll_event().is_none(), "server sends {server_sends}");
        assert!(to.handle_input(&buf, now).is_err());
    }
}

#[test]
fn a_disconnect_during_the_initial_exchange_reaches_the_client() {
    // A server that gives up after its KEXINIT (strict kex allows DISCONNECT there).
    let now = Instant::now();
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let mut buf = Vec::new();
    c.take_output(&mut buf);
    s.handle_input(&buf, now).unwrap();
    s.send_disconnect(msg::disconnect::HOST_NOT_ALLOWED_TO_CONNECT, "go away")
        .unwrap();
    s.take_output(&mut buf);
    let e = c.handle_input(&buf, now).unwrap_err();
    assert!(
        matches!(&e, Error::Disconnected { code: 1, description } if description == "go away"),
        "{e:?}"
    );
    // A DISCONNECT too short to hold its text is an error, not a panic.
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut wire = b"SSH-2.0-x\r\n".to_vec();
    wire.extend_from_slice(&[
        0,
        0,
        0,
        12,
        6,
        msg::DISCONNECT,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    assert!(c.handle_input(&wire, now).is_err());
}

#[test]
fn a_received_unimplemented_is_recorded_unanswered_and_the_connection_goes_on() {
    let now = Instant::now();
    for server_sends in [true, false] {
        let mut p = Pair::new(None);
        p.pump().unwrap();
        for seq in [0xdead_beef_u32, 7] {
            let mut m = vec![msg::UNIMPLEMENTED];
            m.put_u32(seq);
            let (from, to) = if server_sends {
                (&mut p.s, &mut p.c)
            } else {
                (&mut p.c, &mut p.s)
            };
            from.send(&m).unwrap();
            from.send(&[94, seq as u8]).unwrap();
            let mut buf = Vec::new();
            from.take_output(&mut buf);
            to.handle_input(&buf, now).unwrap();
            assert_eq!(to.last_unimplemented, Some(seq), "{server_sends}");
            // Not answered (an UNIMPLEMENTED for an UNIMPLEMENTED would loop), and only
            // the data behind it goes up.
            assert!(!to.has_output(), "server sends {server_sends}");
            let mut got = Vec::new();
            while let Some(ev) = to.poll_event() {
                if let Event::Packet(x) = ev {
                    got.push(x);
                }
            }
            assert_eq!(got, vec![vec![94, seq as u8]], "{server_sends}");
        }
        // Both ways still work.
        p.c.send(&[94, 1]).unwrap();
        p.s.send(&[94, 2]).unwrap();
        p.pump().unwrap();
        assert_eq!((&p.s_in, &p.c_in), (&vec![vec![94, 1]], &vec![vec![94, 2]]));
    }
}

// ----- the binary packet protocol's framing (RFC 4253 §6) -----

/// A binary packet as the `none` cipher sends it (before the first NEWKEYS), with
/// `pad` zero bytes of padding, whatever the rules say.
fn raw_plain_packet(payload: &[u8], pad: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.put_u32((1 + payload.len() + usize::from(pad)) as u32);
    v.put_u8(pad);
    v.extend_from_slice(payload);
    v.resize(v.len() + usize::from(pad), 0);
    v
}

/// A fresh server given a client identification and then `wire`.
fn server_after_version(wire: &[u8]) -> (Transport, Result<(), Error>) {
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let mut input = b"SSH-2.0-test\r\n".to_vec();
    input.extend_from_slice(wire);
    let r = s.handle_input(&input, Instant::now());
    (s, r)
}

/// The (code, description) of the DISCONNECT a server queued, if any.
fn server_disconnect(s: &mut Transport) -> Option<(u32, String)> {
    let mut out = Vec::new();
    s.take_output(&mut out);
    plain_packets(&out)
        .into_iter()
        .find(|(_, m)| m[0] == msg::DISCONNECT)
        .map(|(_, m)| {
            let mut r = Reader::new(&m[1..]);
            let code = r.u32().unwrap();
            (
                code,
                String::from_utf8(r.string().unwrap().to_vec()).unwrap(),
            )
        })
}

#[test]
fn padding_shorter_than_four_bytes_is_refused() {
    // Each packet block-aligned (4 + packet_length a multiple of 8): only the padding
    // is wrong.
    for pad in 0u8..4 {
        // An IGNORE's bytes (its content is never looked at): 12 bytes with the padding.
        let mut payload = vec![0u8; 11 - usize::from(pad)];
        payload[0] = msg::IGNORE;
        let pkt = raw_plain_packet(&payload, pad);
        assert_eq!(pkt.len(), 16);
        let (mut s, r) = server_after_version(&pkt);
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "padding {pad}: {e:?}");
        assert_eq!(e.to_string(), format!("Corrupted padlen {pad} on input."));
        // The client is told, with a protocol error.
        let (code, text) = server_disconnect(&mut s).expect("a DISCONNECT");
        assert_eq!(code, msg::disconnect::PROTOCOL_ERROR, "padding {pad}");
        assert_eq!(text, e.to_string());
        assert!(s.handle_input(&pkt, Instant::now()).is_err());
    }
    // Padding longer than the packet: refused, no panic.
    let mut pkt = raw_plain_packet(&[msg::IGNORE, 0, 0, 0, 2, 1, 2], 4);
    pkt[4] = 200;
    assert!(server_after_version(&pkt).1.is_err());
    // Four bytes: the minimum, accepted.
    let pkt = raw_plain_packet(&[msg::IGNORE, 0, 0, 0, 2, 1, 2], 4);
    assert_eq!(pkt.len() % 8, 0);
    let (mut s, r) = server_after_version(&pkt);
    r.unwrap();
    assert_eq!(server_disconnect(&mut s), None);
}

#[test]
fn padding_shorter_than_four_bytes_gets_openssh_words() {
    // OpenSSH's packet.c: sshpkt_disconnect(ssh, "Corrupted padlen %d on input.", padlen).
    let pkt = raw_plain_packet(&[msg::IGNORE, 0, 0, 0, 3, 1, 2, 3], 3);
    let (mut s, r) = server_after_version(&pkt);
    assert_eq!(r.unwrap_err().to_string(), "Corrupted padlen 3 on input.");
    let (_, text) = server_disconnect(&mut s).unwrap();
    assert_eq!(text, "Corrupted padlen 3 on input.");
}

#[test]
fn packet_lengths_below_five_or_above_256_kib_are_refused_from_the_length_field_alone() {
    // Only the first block (length, padding length, 3 bytes) is sent: the verdict
    // must not wait for a body, nor make room for one.
    for len in [
        0u32,
        1,
        4,
        MAX_PACKET as u32 + 1,
        MAX_PACKET as u32 + 4,
        u32::MAX,
    ] {
        let mut head = len.to_be_bytes().to_vec();
        head.extend_from_slice(&[4, msg::IGNORE, 0, 0]);
        let (mut s, r) = server_after_version(&head);
        let e = r.unwrap_err();
        assert!(
            matches!(e, Error::BadPacketLength(l) if l == len),
            "{len}: {e:?}"
        );
        // OpenSSH's words ("Bad packet length %u.").
        assert_eq!(e.to_string(), format!("Bad packet length {len}."));
        let (code, _) = server_disconnect(&mut s).expect("a DISCONNECT");
        assert_eq!(code, msg::disconnect::PROTOCOL_ERROR);
    }
    // Just inside the limits (and block-aligned): the rest is awaited.
    for len in [12u32, MAX_PACKET as u32 - 4] {
        let mut head = len.to_be_bytes().to_vec();
        head.extend_from_slice(&[4, msg::IGNORE, 0, 0]);
        let (_, r) = server_after_version(&head);
        r.unwrap_or_else(|e| panic!("{len}: {e}"));
    }
}

#[test]
fn a_packet_length_that_is_not_block_aligned_is_refused() {
    // 4 + 13 = 17 bytes: not a multiple of the `none` cipher's 8.
    let pkt = raw_plain_packet(&[msg::IGNORE, 0, 0, 0, 3, 1, 2, 3], 4);
    assert_eq!(pkt.len(), 17);
    let (mut s, r) = server_after_version(&pkt);
    let e = r.unwrap_err();
    // The cipher layer's "Packet corrupt" (see OpeningKey::open).
    assert!(matches!(e, Error::Mac), "{e:?}");
    assert!(server_disconnect(&mut s).is_some());
    assert!(s.poll_event().is_none());
}

#[test]
fn a_packet_length_that_is_not_block_aligned_is_refused_from_the_length_field_alone() {
    // OpenSSH (packet.c, ssh_packet_read_poll2) checks `need % block_size` right after
    // the first block and, for the `none` cipher, disconnects ("Packet corrupt") without
    // waiting for the body: a peer cannot make it buffer up to 256 KiB first.
    for len in [13u32, MAX_PACKET as u32 - 3] {
        let mut head = len.to_be_bytes().to_vec();
        head.extend_from_slice(&[4, msg::IGNORE, 0, 0]);
        let (_, r) = server_after_version(&head);
        assert!(r.is_err(), "{len}: waits for the body");
    }
}
