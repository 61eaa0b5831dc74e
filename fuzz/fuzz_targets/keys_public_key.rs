//! Feeds `keyfile::parse_public` (an OpenSSH public key line, RFC 4716 `---- BEGIN SSH2
//! PUBLIC KEY ----`, PKCS#8 SubjectPublicKeyInfo or PKCS#1 PEM: what `ssh-keygen -i`,
//! `-l -f` and `-y` take). A key that parses is exported again (OpenSSH line, RFC 4716,
//! PKCS#8/PEM where the type allows), each export must read back as the same key, and
//! its fingerprints, randomart and bubblebabble are computed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::fingerprint::{self, FpHash};
use oxssh_keys::keyfile::{self, Format};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(key) = keyfile::parse_public(&text) else {
        return;
    };
    let kd = key.key_data();
    let mut exports = vec![
        keyfile::public_line(&key),
        keyfile::export_rfc4716(&key, "fuzz"),
    ];
    for f in [Format::Pkcs8, Format::Pem] {
        if let Ok(s) = keyfile::export_pem_public(&key, f) {
            exports.push(s);
        }
    }
    for e in &exports {
        match keyfile::parse_public(e) {
            Ok(back) => assert!(back.key_data() == kd, "export changed the key:\n{e}"),
            Err(err) => panic!("our own export does not read back ({err}):\n{e}"),
        }
    }
    for h in [FpHash::Md5, FpHash::Sha256] {
        let _ = fingerprint::fingerprint(kd, h);
        let _ = fingerprint::randomart(kd, h, "fuzz");
    }
    let _ = (
        fingerprint::bits(kd),
        fingerprint::type_label(kd),
        fingerprint::bubblebabble(kd),
    );
});
