//! Feeds `oxssh_proto::transport::Transport` in the server role, the fuzzer playing
//! the client: the bytes are what arrives on the socket — identification line, then
//! unencrypted binary packets (KEXINIT, the key exchange messages of any method the
//! fuzzer negotiates, NEWKEYS, and whatever else it tries). The first input byte sets
//! how the rest is cut into `handle_input` calls (0: all at once, n: n-byte pieces), so
//! partial packets and lines are exercised too.
//!
//! The server offers every algorithm it implements (CBC ciphers, SHA-1 kex, both zlib
//! methods) so the fuzzer can reach each key exchange method's server side. Past
//! NEWKEYS it cannot forge the client's keys; `proto_transport_encrypted` covers that.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use oxssh_proto::cipher::Cipher;
use oxssh_proto::compress::Compression;
use oxssh_proto::kex::methods::KexAlg;
use oxssh_proto::transport::{Config, Role, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, wire)) = data.split_first() else {
        return;
    };
    let mut cfg = Config::new("fuzz client");
    cfg.algorithms.kex = KexAlg::ALL.iter().map(|k| k.name().to_owned()).collect();
    cfg.algorithms.cipher = Cipher::IMPLEMENTED
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    cfg.algorithms.compression = Compression::ALL
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    cfg.algorithms.host_key = vec!["ssh-ed25519".into(), "ecdsa-sha2-nistp256".into()];
    cfg.rekey_interval = Some(Duration::from_secs(1));
    let Ok(mut t) = Transport::new(Role::Server, cfg, oxssh_fuzz::host_keys()) else {
        return;
    };
    let start = Instant::now();
    let step = if cut == 0 {
        wire.len().max(1)
    } else {
        usize::from(cut)
    };
    let mut out = Vec::new();
    for (i, piece) in wire.chunks(step).enumerate() {
        let now = start + Duration::from_millis(i as u64 * 100);
        if t.handle_input(piece, now).is_err() {
            break;
        }
        while t.poll_event().is_some() {}
        t.take_output(&mut out);
        if t.handle_timeout(now).is_err() {
            break;
        }
    }
    let _ = (
        t.peer_version(),
        t.session_id(),
        t.kex_in_progress(),
        t.backlog(),
    );
});
