//! Feeds `oxssh_proto::compress` (RFC 4253 §6.2 zlib packet compression). The first
//! input byte picks the mode:
//! - even: the rest is a sequence of u16-length-framed packets given to one
//!   `Inflater::decompress` stream (what a peer's compressed packets meet), with an
//!   output limit set by the second byte; the output must never exceed the limit.
//! - odd: the rest is a sequence of framed payloads compressed by a `Deflater`
//!   (each split in two parts at a fuzzer-chosen point) and inflated again: every
//!   payload must come back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_proto::compress::{Deflater, Inflater};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let mut inf = Inflater::new();
    if mode & 1 == 0 {
        let limit = 64usize << (input.u8() % 12);
        while !input.is_empty() {
            let packet = input.chunk();
            match inf.decompress(packet, limit) {
                Ok(out) => assert!(out.len() <= limit),
                Err(_) => break,
            }
        }
        let _ = inf.stats();
    } else {
        let mut def = Deflater::new();
        let mut z = Vec::new();
        while !input.is_empty() {
            let at = usize::from(input.u8());
            let payload = input.chunk();
            let (a, b) = payload.split_at(at.min(payload.len()));
            z.clear();
            def.compress(&[a, b], &mut z)
                .unwrap_or_else(|e| panic!("deflate failed: {e}"));
            let out = inf
                .decompress(&z, 256 * 1024)
                .unwrap_or_else(|e| panic!("inflating our own stream failed: {e}"));
            assert_eq!(out, payload);
        }
        assert_eq!(def.stats().raw, inf.stats().raw);
    }
});
