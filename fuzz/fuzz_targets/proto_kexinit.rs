//! Feeds `oxssh_proto::kex::KexInit::parse` a peer's SSH_MSG_KEXINIT payload (RFC 4253
//! §7.1, message byte included), then negotiates it against our default KEXINIT in
//! both roles with `kex::negotiate`, as the transport does on receipt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_proto::kex::{self, Algorithms, KexInit};

fuzz_target!(|data: &[u8]| {
    let Ok(theirs) = KexInit::parse(data) else {
        return;
    };
    assert_eq!(theirs.raw, data);
    let _ = theirs.has_kex_marker(kex::STRICT_KEX_C);
    for we_are_client in [true, false] {
        let ours = KexInit::build(
            &Algorithms::default(),
            &["ssh-ed25519".into(), "rsa-sha2-256".into()],
            &[kex::EXT_INFO_C, kex::STRICT_KEX_C],
            [7; 16],
        );
        let (c, s) = if we_are_client {
            (&ours, &theirs)
        } else {
            (&theirs, &ours)
        };
        if let Ok(n) = kex::negotiate(c, s, we_are_client, "fuzz peer") {
            // Whatever was chosen must be something both sides listed.
            assert!(c.kex.iter().any(|k| k == n.kex.name()));
            assert!(s.kex.iter().any(|k| k == n.kex.name()));
            assert!(c.cipher_c2s.iter().any(|x| x == n.cipher_c2s.name()));
            assert!(s.cipher_s2c.iter().any(|x| x == n.cipher_s2c.name()));
        }
    }
});
