//! Key material for tests: the committed user-key fixtures under
//! `tests/fixtures/keys/` (made by `gen.sh` there with the real `ssh-keygen`), and fresh
//! host keys made by OpenSSH's `ssh-keygen` for every server the kit starts.
//!
//! Fixture paths come from this crate's manifest directory, never from the current
//! directory. Git does not keep file modes, so a fixture's private key may be
//! world-readable in a checkout: hand it to a client through
//! [`crate::TempHome::install_key`], which copies it with mode 0600.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bins::{OPENSSH_INSTALL, openssh, workspace_root};

/// The directory of the committed fixtures (`<workspace>/tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests/fixtures")
}

/// One committed user key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Ed25519,
    Ecdsa256,
    Ecdsa384,
    Ecdsa521,
    Rsa3072,
    /// Ed25519, encrypted with the passphrase [`Key::PASSPHRASE`] (bcrypt rounds 16).
    Ed25519Encrypted,
}

impl Key {
    /// Every fixture key.
    pub const ALL: [Key; 6] = [
        Key::Ed25519,
        Key::Ecdsa256,
        Key::Ecdsa384,
        Key::Ecdsa521,
        Key::Rsa3072,
        Key::Ed25519Encrypted,
    ];

    /// The passphrase of [`Key::Ed25519Encrypted`].
    pub const PASSPHRASE: &'static str = "passphrase";

    /// The fixture's file name under `tests/fixtures/keys/` (`.pub` added for the
    /// public half).
    pub fn fixture_name(self) -> &'static str {
        match self {
            Key::Ed25519 => "id_ed25519",
            Key::Ecdsa256 => "id_ecdsa256",
            Key::Ecdsa384 => "id_ecdsa384",
            Key::Ecdsa521 => "id_ecdsa521",
            Key::Rsa3072 => "id_rsa3072",
            Key::Ed25519Encrypted => "id_ed25519_encrypted",
        }
    }

    /// The name OpenSSH's client looks for by default in `~/.ssh/` for this type.
    pub fn default_name(self) -> &'static str {
        match self {
            Key::Ed25519 | Key::Ed25519Encrypted => "id_ed25519",
            Key::Ecdsa256 | Key::Ecdsa384 | Key::Ecdsa521 => "id_ecdsa",
            Key::Rsa3072 => "id_rsa",
        }
    }

    /// The public key's algorithm name, as in the first field of the `.pub` file.
    pub fn algorithm(self) -> &'static str {
        match self {
            Key::Ed25519 | Key::Ed25519Encrypted => "ssh-ed25519",
            Key::Ecdsa256 => "ecdsa-sha2-nistp256",
            Key::Ecdsa384 => "ecdsa-sha2-nistp384",
            Key::Ecdsa521 => "ecdsa-sha2-nistp521",
            Key::Rsa3072 => "ssh-rsa",
        }
    }

    /// The key's comment, e.g. `oxssh-fixture-ed25519`.
    pub fn comment(self) -> String {
        format!(
            "oxssh-fixture-{}",
            self.fixture_name()
                .trim_start_matches("id_")
                .replace('_', "-")
        )
    }

    /// The passphrase, for the encrypted fixture.
    pub fn passphrase(self) -> Option<&'static str> {
        (self == Key::Ed25519Encrypted).then_some(Key::PASSPHRASE)
    }

    pub fn private_path(self) -> PathBuf {
        fixtures_dir().join("keys").join(self.fixture_name())
    }

    pub fn public_path(self) -> PathBuf {
        fixtures_dir()
            .join("keys")
            .join(format!("{}.pub", self.fixture_name()))
    }

    /// The private key file's text (OpenSSH format).
    pub fn private(self) -> String {
        read(&self.private_path())
    }

    /// The public key line, `<algorithm> <base64> <comment>`, without the newline.
    pub fn public(self) -> String {
        read(&self.public_path()).trim_end().to_owned()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A host key type for [`fresh_host_keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Ed25519,
    /// ECDSA on P-256.
    Ecdsa,
    /// RSA, 3072 bits (slow to make: use only where a test needs it).
    Rsa,
}

impl KeyType {
    /// The `ssh-keygen -t` name, also used in the file name `ssh_host_<name>_key`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Ecdsa => "ecdsa",
            KeyType::Rsa => "rsa",
        }
    }
}

/// A freshly made host key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    pub key_type: KeyType,
    /// `<dir>/ssh_host_<type>_key`, mode 0600.
    pub private: PathBuf,
    /// `<dir>/ssh_host_<type>_key.pub`.
    pub public: PathBuf,
    /// The public key as `<algorithm> <base64>`, no comment: ready for a known_hosts line.
    pub public_key: String,
    /// The SHA256 fingerprint as OpenSSH prints it, `SHA256:<base64>`.
    pub fingerprint: String,
}

/// Make new host keys of the given types in `dir` with OpenSSH's `ssh-keygen`.
///
/// # Panics
/// If OpenSSH's `ssh-keygen` is not installed or fails. Tests that get here have
/// already passed [`crate::require_openssh()`] for the tools they run.
pub fn fresh_host_keys(dir: &Path, types: &[KeyType]) -> Vec<HostKey> {
    let keygen = openssh("ssh-keygen").unwrap_or_else(|| {
        panic!("making host keys needs OpenSSH's ssh-keygen: `{OPENSSH_INSTALL}`")
    });
    types
        .iter()
        .map(|&key_type| {
            let private = dir.join(format!("ssh_host_{}_key", key_type.name()));
            let mut cmd = Command::new(&keygen);
            cmd.args(["-q", "-t", key_type.name(), "-N", "", "-C"])
                .arg(format!("oxssh-testkit-host-{}", key_type.name()))
                .arg("-f")
                .arg(&private);
            if key_type == KeyType::Rsa {
                cmd.args(["-b", "3072"]);
            }
            checked(&mut cmd);
            let public = private.with_extension("pub");
            let line = read(&public);
            let public_key = line
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let fingerprint = fingerprint(&keygen, &public);
            HostKey {
                key_type,
                private,
                public,
                public_key,
                fingerprint,
            }
        })
        .collect()
}

/// The SHA256 fingerprint of a public key file, from `ssh-keygen -l`.
fn fingerprint(keygen: &Path, public: &Path) -> String {
    let out = checked(
        Command::new(keygen)
            .args(["-l", "-E", "sha256", "-f"])
            .arg(public),
    );
    // `<bits> SHA256:<b64> <comment> (<TYPE>)`
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| {
            panic!(
                "no fingerprint of {} in ssh-keygen's output",
                public.display()
            )
        })
        .to_owned()
}

fn checked(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_is_present_and_matches_its_description() {
        for key in Key::ALL {
            let public = key.public();
            let fields: Vec<&str> = public.split(' ').collect();
            assert_eq!(fields.len(), 3, "{public}");
            assert_eq!(fields[0], key.algorithm());
            assert_eq!(fields[2], key.comment());
            let private = key.private();
            assert!(
                private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                "{key:?}"
            );
        }
        assert_eq!(Key::Ed25519.comment(), "oxssh-fixture-ed25519");
        assert_eq!(
            Key::Ed25519Encrypted.comment(),
            "oxssh-fixture-ed25519-encrypted"
        );
    }

    #[test]
    fn gen_sh_is_kept_beside_the_fixtures() {
        let script = read(&fixtures_dir().join("keys/gen.sh"));
        for key in Key::ALL {
            assert!(
                script.contains(&format!("-f {}\n", key.fixture_name())),
                "{key:?}"
            );
        }
    }

    #[test]
    fn fresh_host_keys_are_new_each_time() {
        let Some(_) = crate::require_openssh("ssh-keygen") else {
            return;
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ka = fresh_host_keys(a.path(), &[KeyType::Ed25519, KeyType::Ecdsa]);
        let kb = fresh_host_keys(b.path(), &[KeyType::Ed25519]);
        assert_eq!(ka.len(), 2);
        assert!(
            ka[0].public_key.starts_with("ssh-ed25519 AAAA"),
            "{:?}",
            ka[0]
        );
        assert!(
            ka[1].public_key.starts_with("ecdsa-sha2-nistp256 AAAA"),
            "{:?}",
            ka[1]
        );
        assert!(ka[0].fingerprint.starts_with("SHA256:"), "{:?}", ka[0]);
        assert_ne!(ka[0].public_key, kb[0].public_key);
        assert!(ka[0].private.is_file());
    }
}
