//! Feeds OpenSSH certificate parsing (PROTOCOL.certkeys) in `oxssh_keys::cert`: the
//! input as a certificate blob to `Certificate::parse_unverified` and `from_blob`
//! (which also checks the CA signature), and as a `-cert.pub` line to `from_line`. A
//! certificate that parses is put through the policy checks sshd and ssh apply
//! (`check_authority`, `check_host`, `user_options`), and re-encoded: `to_blob` must
//! parse again and re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::cert::{Certificate, Policy};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::parse_unverified(data) {
        exercise(&c);
        let blob = c.to_blob();
        match Certificate::parse_unverified(&blob) {
            Ok(again) => assert_eq!(again.to_blob(), blob, "re-encoding is not stable"),
            Err(e) => panic!("our own encoding does not parse: {e}"),
        }
        let _ = c.to_line("comment");
        let _ = c.to_ssh_key();
    }
    if let Ok(c) = Certificate::from_blob(data) {
        exercise(&c);
    }
    let text = String::from_utf8_lossy(data);
    if let Ok((c, _comment)) = Certificate::from_line(&text) {
        exercise(&c);
    }
});

fn exercise(c: &Certificate) {
    for (want_host, wildcard) in [(false, false), (true, true)] {
        let _ = c.check_authority(&Policy {
            want_host,
            require_principal: true,
            wildcard,
            name: Some("alice"),
            now: 1_800_000_000,
        });
    }
    let _ = c.check_host("host.example.com", true, 1_800_000_000);
    let _ = c.user_options();
    let _ = (c.type_label(), c.signature_type(), c.signature_key_blob());
    for o in c.critical_options.iter().chain(&c.extensions) {
        let _ = o.value();
    }
}
