//! Feeds authorized_keys parsing (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): the whole
//! input as a file to `authorized_keys::parse` (options, quoting, key type and blob on
//! every line), and each line's option prefix alone to `parse_options`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::authorized_keys;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (entries, bad) = authorized_keys::parse(&text);
    let lines = text.lines().count();
    assert!(entries.len() + bad.len() <= lines);
    for e in &entries {
        assert!(e.line >= 1 && e.line <= lines);
    }
    for line in text.lines().take(32) {
        let _ = authorized_keys::parse_options(line);
    }
});
