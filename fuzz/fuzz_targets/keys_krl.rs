//! Feeds key revocation lists (PROTOCOL.krl) in `oxssh_keys::krl`. Input starting with
//! the KRL magic goes to `Krl::parse` (every section type, serial lists, ranges and
//! bitmaps, key IDs, hashes, signature sections); any other input is read as the text
//! of an `ssh-keygen -k` specification file, one `apply_spec_line` per line, with the
//! wildcard CA. Either way the resulting KRL is checked against the fixture keys,
//! dumped (`-Q -l`), and serialised: what `to_bytes` writes must parse back to an equal
//! KRL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::krl::{self, Krl};

fuzz_target!(|data: &[u8]| {
    let k = if krl::is_krl(data) {
        match Krl::parse(data) {
            Ok(k) => k,
            Err(_) => return,
        }
    } else {
        let text = String::from_utf8_lossy(data);
        let mut k = Krl::default();
        for (i, line) in text.lines().take(64).enumerate() {
            if krl::apply_spec_line(&mut k, line, "/fuzz/spec", i + 1, None, true).is_err() {
                return;
            }
        }
        k
    };
    for key in oxssh_fuzz::public_keys() {
        let _ = k.is_revoked_key(key.key_data());
    }
    let _ = k.dump("19700101T000000");
    let bytes = k.to_bytes();
    match Krl::parse(&bytes) {
        Ok(back) => assert!(back == k, "KRL changed in a write/read round trip"),
        Err(e) => panic!("our own KRL does not parse: {e}"),
    }
});
