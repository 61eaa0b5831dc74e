//! Feeds known_hosts parsing and editing (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): the
//! input's first line is the host being looked up (comma-separated names, e.g. a
//! lookup name and an address), the rest is the file. It goes through
//! `known_hosts::KnownHosts::parse` then `check` / `key_types_for` against the fixture
//! keys, ssh-keygen's `kh_edit::find` (`-F`, plain and `-H`), `hash_file` (`-H`) and
//! `remove` (`-R`), and ssh's `kh_update::survey` / `replace_entries`
//! (UpdateHostKeys). Hashed names, markers, negated and wildcard patterns included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::fingerprint::FpHash;
use oxssh_keys::{kh_edit, kh_update, known_hosts::KnownHosts};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (host_line, file) = text.split_once('\n').unwrap_or((&text, ""));
    let names: Vec<&str> = host_line.split(',').take(4).collect();
    let host = names.first().copied().unwrap_or_default();
    let ip = names.get(1).copied();
    let keys = oxssh_fuzz::public_keys();

    let kh = KnownHosts::parse("/fuzz/known_hosts", file);
    for k in keys {
        let _ = kh.check(&names, k);
    }
    let _ = kh.key_types_for(&names);

    let mut salt = || [0x5a; 20];
    for (hash, quiet) in [(false, false), (true, true)] {
        let _ = kh_edit::find(file, host, hash, quiet, &mut salt);
    }
    let _ = kh_edit::hash_file(file, &mut salt);
    let _ = kh_edit::remove(file, host);

    let files = vec![("/fuzz/known_hosts".to_owned(), file.to_owned())];
    let _ = kh_update::survey(&files, host, ip, keys);
    let _ = kh_update::old_keys_elsewhere(&files, host, ip, keys);
    let mut hasher = || [0x33; 20];
    let _ = kh_update::replace_entries(
        "/fuzz/known_hosts",
        file,
        host,
        ip,
        keys,
        FpHash::Sha256,
        Some(&mut hasher),
    );
});
