//! Feeds allowed_signers files (ssh-keygen(1) "ALLOWED SIGNERS") in
//! `oxssh_keys::allowed_signers`: the input is the file, read as `-Y verify`
//! (`AllowedSigners::check` for principal "alice" in namespace "file" with the
//! fixture Ed25519 key), `-Y find-principals` and `-Y match-principals`, and each line
//! through `parse_entry` (principal lists, quoting, `cert-authority`, `namespaces=`,
//! `valid-after=` / `valid-before=` times) and its first field through
//! `parse_options`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::allowed_signers::{self, AllowedSigners};
use oxssh_keys::sshsig::SigKey;
use oxssh_keys::timefmt::Zone;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let zone = Zone::utc();
    let file = AllowedSigners {
        path: "/fuzz/allowed_signers",
        text: &text,
        zone: &zone,
    };
    let mut log = Vec::new();
    for key in oxssh_fuzz::public_keys() {
        let k = SigKey::Plain(key.clone());
        let _ = file.check(&k, "alice", "file", 1_800_000_000, &mut log);
        let _ = file.find_principals(&k, 1_800_000_000, &mut log);
    }
    let _ = file.match_principals("alice");
    for (i, line) in text.lines().take(32).enumerate() {
        let _ = allowed_signers::parse_entry("/fuzz/allowed_signers", i + 1, line, None, &zone);
        let first = line.split([' ', '\t']).next().unwrap_or_default();
        let _ = allowed_signers::parse_options(first, &zone);
    }
});
