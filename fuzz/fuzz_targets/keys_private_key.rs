//! Feeds private key file parsing as ssh-keygen and ssh read `-i`/IdentityFile:
//! `keyfile::is_encrypted` and `keyfile::parse_private` (OpenSSH PROTOCOL.key,
//! PKCS#1 / SEC1 / PKCS#8 / DSA PEM) with the passphrase "passphrase", and ssh.com
//! (RFC 4716 armoured) private keys via `sshcom::is_private` / `sshcom::parse_private`.
//! A key that parses is written back (`encode_private`: OpenSSH, PEM and PKCS#8,
//! unencrypted): the OpenSSH form must read back as the same key; PEM and PKCS#8 must
//! read back, and be stable from the second round on (see `round_trip`).
//!
//! Encrypted OpenSSH keys are decrypted only when their bcrypt-pbkdf round count is
//! at most 4: each round costs as much as it does in OpenSSH, and a file asking for
//! 2³² rounds is slow by design, not a bug (OpenSSH reads such a file just as slowly).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_keys::keyfile::{self, Format, Protection};
use oxssh_keys::sshcom;

const MAX_ROUNDS: u32 = 4;

fuzz_target!(|data: &[u8]| {
    let _ = keyfile::is_encrypted(data);
    let too_slow = ssh_key::PrivateKey::from_openssh(data).is_ok_and(
        |k| matches!(k.kdf(), ssh_key::Kdf::Bcrypt { rounds, .. } if *rounds > MAX_ROUNDS),
    );
    if !too_slow {
        if let Ok(key) = keyfile::parse_private(data, "passphrase") {
            round_trip(&key);
        }
    }
    let _ = sshcom::is_private(data);
    if let Ok(imported) = sshcom::parse_private(data) {
        round_trip(&imported.key);
    }
});

fn round_trip(key: &ssh_key::PrivateKey) {
    let prot = Protection {
        passphrase: "",
        rounds: 16,
        cipher: ssh_key::Cipher::Aes256Ctr,
    };
    for format in [Format::Openssh, Format::Pem, Format::Pkcs8] {
        let Some(once) = write_read(key, format, &prot) else {
            continue;
        };
        if format == Format::Openssh {
            // The OpenSSH format carries every field: the key comes back as it was.
            assert!(
                once.key_data() == key.key_data(),
                "Openssh: key changed in a write/read round trip"
            );
        } else {
            // PEM and PKCS#8 rebuild the public key from the private one, so a key
            // whose halves do not match (which OpenSSH's format can hold, and OpenSSH
            // too reads) comes back repaired; from then on it must be stable.
            let twice = write_read(&once, format, &prot)
                .unwrap_or_else(|| panic!("{format:?}: a key we read no longer writes"));
            assert!(
                twice.key_data() == once.key_data(),
                "{format:?}: key changed in a second write/read round trip"
            );
        }
    }
}

/// Write `key` in `format` and read it back; None when the format cannot hold the key.
fn write_read(
    key: &ssh_key::PrivateKey,
    format: Format,
    prot: &Protection<'_>,
) -> Option<ssh_key::PrivateKey> {
    let text = keyfile::encode_private(key, format, prot).ok()?;
    match keyfile::parse_private(text.as_bytes(), "") {
        Ok(back) => Some(back),
        Err(e) => panic!("{format:?}: our own encoding does not read back: {e}"),
    }
}
