//! Feeds SSH signatures (OpenSSH PROTOCOL.sshsig, `ssh-keygen -Y`) in
//! `oxssh_keys::sshsig`: input starting with `-----BEGIN SSH SIGNATURE-----` is
//! dearmored first, anything else is taken as the binary blob. The blob goes to
//! `peek_hash_alg`, `signer` (the signing key, a certificate's CA signature checked)
//! and `verify` over the message "message" in namespace "file"; armoring a blob and
//! dearmoring it must give it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::sshsig;

fuzz_target!(|data: &[u8]| {
    let blob = if data.starts_with(b"-----BEGIN SSH SIGNATURE-----") {
        match sshsig::dearmor(data) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        data.to_vec()
    };
    // (An empty blob armors to a header directly followed by the footer, which
    // `dearmor` rightly refuses: no signature is empty.)
    if !blob.is_empty() {
        let back = sshsig::dearmor(sshsig::armor(&blob).as_bytes());
        assert_eq!(back.ok().as_ref(), Some(&blob), "armor/dearmor round trip");
    }
    let alg = sshsig::peek_hash_alg(&blob).unwrap_or_else(|_| "sha512".to_owned());
    if let Ok(k) = sshsig::signer(&blob) {
        let _ = (k.type_label(), k.to_line(), k.plain());
        // The blob we print for a key reads back as that key.
        let b = k.blob();
        assert!(
            sshsig::SigKey::from_blob(&b).is_ok(),
            "key blob does not read back"
        );
    }
    if let Some(mut h) = sshsig::hasher(&alg) {
        h.update(b"message");
        let hash = h.finish();
        let _ = sshsig::verify(&blob, "file", &alg, &hash);
    }
});
