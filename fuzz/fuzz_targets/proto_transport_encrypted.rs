//! Feeds `oxssh_proto::transport::Transport` (server role) payloads that arrive
//! *after* a real key exchange, properly encrypted: an in-memory client and server
//! first complete a curve25519-sha256 handshake with the cipher, MAC and compression
//! the first input byte picks; then every u16-length-framed chunk of the rest is sealed
//! by the client (`Transport::send`, so any message number goes, KEXINIT and NEWKEYS
//! included) and handed to the server's `handle_input`. This reaches what a peer that
//! knows the session keys can do: re-key, EXT_INFO, SERVICE_REQUEST, DISCONNECT,
//! IGNORE/DEBUG/UNIMPLEMENTED, zlib streams, upper-layer packets.
//!
//! The server's answers are not fed back to the client, which serves only as the
//! packet sealer.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_proto::cipher::{Cipher, Mac};
use oxssh_proto::transport::{Config, Event, Role, Transport};

/// Move bytes both ways until the handshake is quiet; accept the host key.
fn handshake(c: &mut Transport, s: &mut Transport, now: Instant) -> bool {
    let mut buf = Vec::new();
    for _ in 0..16 {
        let mut moved = false;
        if c.has_output() {
            c.take_output(&mut buf);
            if s.handle_input(&buf, now).is_err() {
                return false;
            }
            moved = true;
        }
        if s.has_output() {
            s.take_output(&mut buf);
            if c.handle_input(&buf, now).is_err() {
                return false;
            }
            moved = true;
        }
        while let Some(ev) = c.poll_event() {
            if let Event::HostKey { .. } = ev {
                if c.host_key_verdict(true, now).is_err() {
                    return false;
                }
            }
        }
        while s.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    c.session_id().is_some() && s.session_id().is_some() && !c.kex_in_progress()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let pick = input.u8();
    let ciphers = Cipher::IMPLEMENTED;
    let cipher = ciphers[usize::from(pick & 0x0f) % ciphers.len()];
    let mac = Mac::ALL[usize::from(pick >> 4) % Mac::ALL.len()];
    let comp = if pick & 0x80 != 0 { "zlib" } else { "none" };
    let cfg = |peer: &str| {
        let mut c = Config::new(peer);
        c.algorithms.kex = vec!["curve25519-sha256".into()];
        c.algorithms.host_key = vec!["ssh-ed25519".into()];
        c.algorithms.cipher = vec![cipher.name().into()];
        c.algorithms.mac = vec![mac.name().into()];
        c.algorithms.compression = vec![comp.into()];
        c
    };
    let (Ok(mut c), Ok(mut s)) = (
        Transport::new(Role::Client, cfg("server"), Vec::new()),
        Transport::new(
            Role::Server,
            cfg("client"),
            vec![oxssh_fuzz::ed25519_private()],
        ),
    ) else {
        return;
    };
    let start = Instant::now();
    // Every combination we implement must complete a handshake with ourselves.
    assert!(
        handshake(&mut c, &mut s, start),
        "handshake failed: {} {} {comp}",
        cipher.name(),
        mac.name()
    );
    let mut buf = Vec::new();
    let mut i = 0u64;
    while !input.is_empty() {
        i += 1;
        let now = start + Duration::from_millis(i * 10);
        let payload = input.chunk();
        if payload.is_empty() || c.send(payload).is_err() {
            continue;
        }
        c.take_output(&mut buf);
        if s.handle_input(&buf, now).is_err() {
            break;
        }
        while s.poll_event().is_some() {}
        s.take_output(&mut buf);
    }
});
