//! Key generation as ssh-keygen(1) `-t`/`-b` define it: type names (`rsa`, `ssh-rsa`,
//! `ecdsa-sha2-nistp384`…), default sizes (RSA 3072, ECDSA 256, DSA 1024), OpenSSH's
//! size limits and their messages, and the default file names under `~/.ssh`.
//! Security-key types (`*-sk`) need an authenticator and are refused.

use ssh_key::{Algorithm, EcdsaCurve, PrivateKey};

/// A key type ssh-keygen can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
    EcdsaSk,
    Ed25519Sk,
}

/// Parse `-t` (short names and full key type names, as `sshkey_type_from_name`).
/// Returns the kind and, for full ECDSA names, the curve size they imply.
pub fn parse_type(name: &str) -> Option<(KeyKind, Option<u32>)> {
    let short = name.to_ascii_lowercase();
    let short = match short.as_str() {
        "rsa" | "dsa" | "ecdsa" | "ed25519" | "ecdsa-sk" | "ed25519-sk" => short.as_str(),
        _ => name,
    };
    Some(match short {
        "rsa" | "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512" => (KeyKind::Rsa, None),
        "dsa" | "ssh-dss" => (KeyKind::Dsa, None),
        "ecdsa" => (KeyKind::Ecdsa, None),
        "ecdsa-sha2-nistp256" => (KeyKind::Ecdsa, Some(256)),
        "ecdsa-sha2-nistp384" => (KeyKind::Ecdsa, Some(384)),
        "ecdsa-sha2-nistp521" => (KeyKind::Ecdsa, Some(521)),
        "ed25519" | "ssh-ed25519" => (KeyKind::Ed25519, None),
        "ecdsa-sk" | "sk-ecdsa-sha2-nistp256@openssh.com" => (KeyKind::EcdsaSk, None),
        "ed25519-sk" | "sk-ssh-ed25519@openssh.com" => (KeyKind::Ed25519Sk, None),
        _ => return None,
    })
}

/// The key size to use, or OpenSSH's error message (`type_bits_valid`).
pub fn bits_for(kind: KeyKind, implied: Option<u32>, bits: Option<u32>) -> Result<u32, String> {
    let bits = bits.or(implied).unwrap_or(match kind {
        KeyKind::Rsa => 3072,
        KeyKind::Dsa => 1024,
        KeyKind::Ecdsa | KeyKind::EcdsaSk => 256,
        KeyKind::Ed25519 | KeyKind::Ed25519Sk => 256,
    });
    match kind {
        KeyKind::Dsa if bits != 1024 => Err("Invalid DSA key length: must be 1024 bits".into()),
        KeyKind::Rsa if bits < 1024 => Err("Invalid RSA key length: minimum is 1024 bits".into()),
        KeyKind::Rsa if bits > 16384 => Err("Invalid RSA key length: maximum is 16384 bits".into()),
        KeyKind::Ecdsa if ![256, 384, 521].contains(&bits) => {
            Err("Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits".into())
        }
        _ => Ok(bits),
    }
}

/// The default identity file name under `~/.ssh` for a key type.
pub fn default_file(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Rsa => "id_rsa",
        KeyKind::Dsa => "id_dsa",
        KeyKind::Ecdsa => "id_ecdsa",
        KeyKind::Ed25519 => "id_ed25519",
        KeyKind::EcdsaSk => "id_ecdsa_sk",
        KeyKind::Ed25519Sk => "id_ed25519_sk",
    }
}

/// Generate a new key (no comment yet).
pub fn generate(kind: KeyKind, bits: u32) -> Result<PrivateKey, String> {
    let mut rng = rand::rng();
    let failed = |e: ssh_key::Error| format!("sshkey_generate failed: {e}");
    match kind {
        KeyKind::Ed25519 => PrivateKey::random(&mut rng, Algorithm::Ed25519).map_err(failed),
        KeyKind::Dsa => PrivateKey::random(&mut rng, Algorithm::Dsa).map_err(failed),
        KeyKind::Ecdsa => {
            let curve = match bits {
                384 => EcdsaCurve::NistP384,
                521 => EcdsaCurve::NistP521,
                _ => EcdsaCurve::NistP256,
            };
            PrivateKey::random(&mut rng, Algorithm::Ecdsa { curve }).map_err(failed)
        }
        KeyKind::Rsa => {
            let bits = usize::try_from(bits).map_err(|_| "bad key size".to_owned())?;
            let kp = ssh_key::private::RsaKeypair::random(&mut rng, bits).map_err(failed)?;
            PrivateKey::new(ssh_key::private::KeypairData::Rsa(kp), "").map_err(failed)
        }
        KeyKind::EcdsaSk | KeyKind::Ed25519Sk => {
            Err("Key enrollment failed: security keys (FIDO) are not supported by oxssh yet".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_messages() {
        assert_eq!(
            parse_type("ecdsa-sha2-nistp384"),
            Some((KeyKind::Ecdsa, Some(384)))
        );
        assert_eq!(bits_for(KeyKind::Ecdsa, Some(384), None), Ok(384));
        assert_eq!(bits_for(KeyKind::Rsa, None, None), Ok(3072));
        assert!(bits_for(KeyKind::Ecdsa, None, Some(100)).is_err());
        assert!(bits_for(KeyKind::Rsa, None, Some(512)).is_err());
        assert!(parse_type("foo").is_none());
        let k = generate(KeyKind::Ecdsa, 521).unwrap();
        assert_eq!(crate::fingerprint::bits(k.public_key().key_data()), 521);
    }
}
