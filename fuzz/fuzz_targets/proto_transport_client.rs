//! Feeds `oxssh_proto::transport::Transport` in the client role, the fuzzer playing
//! the server: the bytes are what arrives on the socket — pre-banner lines, the
//! identification line, then unencrypted binary packets (KEXINIT, DH-GEX group, the
//! key exchange reply with its host key and signature, NEWKEYS, EXT_INFO, …). The first
//! input byte sets how the rest is cut into `handle_input` calls (0: all at once, n:
//! n-byte pieces). A host key that verifies is accepted, as `StrictHostKeyChecking no`
//! would.
//!
//! The client offers every algorithm it implements so the fuzzer's KEXINIT can pick
//! any key exchange reply parser to reach.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use oxssh_proto::cipher::Cipher;
use oxssh_proto::compress::Compression;
use oxssh_proto::hostkey::SigAlg;
use oxssh_proto::kex::methods::KexAlg;
use oxssh_proto::transport::{Config, Event, Role, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, wire)) = data.split_first() else {
        return;
    };
    let mut cfg = Config::new("fuzz server");
    cfg.algorithms.kex = KexAlg::ALL.iter().map(|k| k.name().to_owned()).collect();
    cfg.algorithms.cipher = Cipher::IMPLEMENTED
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    cfg.algorithms.compression = Compression::ALL
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    cfg.algorithms.host_key = SigAlg::ALL.iter().map(|a| a.name().to_owned()).collect();
    // A 4096-bit ceiling (default 8192) halves the cost of the modular exponentiation
    // with a fuzzer-chosen DH-GEX group; the range check itself is the same code.
    cfg.gex_bits = (2048, 4096);
    let Ok(mut t) = Transport::new(Role::Client, cfg, Vec::new()) else {
        return;
    };
    let start = Instant::now();
    let step = if cut == 0 {
        wire.len().max(1)
    } else {
        usize::from(cut)
    };
    let mut out = Vec::new();
    'feed: for (i, piece) in wire.chunks(step).enumerate() {
        let now = start + Duration::from_millis(i as u64 * 100);
        if t.handle_input(piece, now).is_err() {
            break;
        }
        while let Some(ev) = t.poll_event() {
            if let Event::HostKey { .. } = ev {
                if t.host_key_verdict(true, now).is_err() {
                    break 'feed;
                }
            }
        }
        t.take_output(&mut out);
    }
    let _ = (
        t.peer_version(),
        t.session_id(),
        t.host_key(),
        t.peer_wants_ext_info(),
    );
});
