//! ExposeAuthInfo (sshd_config(5)): after authentication, the methods that succeeded
//! and the keys they used ("publickey ssh-ed25519 AAAA…", one per line, as OpenSSH's
//! auth2_update_session_info records them) go to a private file
//! `/tmp/sshauth.XXXXXXXXXXXXXXX` owned by the user (mode 0600), named to the user's
//! sessions by `SSH_USER_AUTH`, and removed when the connection ends — as OpenSSH's
//! session.c prepare_auth_info_file and do_cleanup do.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Characters of mkstemp's random suffix.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Length of the random suffix (OpenSSH's template has 15 X's).
const SUFFIX: usize = 15;
/// Fresh names to try if one is taken.
const TRIES: usize = 8;

/// The file while it exists; removed on drop.
#[derive(Debug)]
pub struct AuthInfoFile {
    path: PathBuf,
}

impl AuthInfoFile {
    /// Write `info` to a new file in `dir` owned by `uid`:`gid`. Errors are logged as
    /// OpenSSH logs them; the session then goes on without SSH_USER_AUTH.
    pub fn create(dir: &Path, info: &str, uid: u32, gid: u32) -> Option<AuthInfoFile> {
        for _ in 0..TRIES {
            let path = dir.join(format!("sshauth.{}", random_suffix()?));
            let mut f = match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    tracing::error!("prepare_auth_info_file: mkstemp: {e}");
                    return None;
                }
            };
            let file = AuthInfoFile { path };
            if let Err(e) = std::os::unix::fs::fchown(&f, Some(uid), Some(gid)) {
                tracing::error!("prepare_auth_info_file: fchown: {e}");
                return None;
            }
            if let Err(e) = f.write_all(info.as_bytes()) {
                tracing::error!("prepare_auth_info_file: write: {e}");
                return None;
            }
            return Some(file);
        }
        tracing::error!("prepare_auth_info_file: mkstemp: File exists");
        None
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AuthInfoFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn random_suffix() -> Option<String> {
    let mut bytes = [0u8; SUFFIX];
    if let Err(e) = std::fs::File::open("/dev/urandom").and_then(|mut r| r.read_exact(&mut bytes)) {
        tracing::error!("prepare_auth_info_file: random: {e}");
        return None;
    }
    let n = ALPHABET.len();
    Some(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET.get(usize::from(*b) % n).copied().unwrap_or(b'X')))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_holds_the_info_privately_and_goes_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let uid = oxssh_sys::getuid();
        let gid = oxssh_sys::getpwuid(uid).unwrap().gid;
        let f = AuthInfoFile::create(dir.path(), "publickey ssh-ed25519 AAAA\n", uid, gid).unwrap();
        let path = f.path().to_path_buf();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with("sshauth.") && name.len() == 8 + SUFFIX,
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "publickey ssh-ed25519 AAAA\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(f);
        assert!(!path.exists());
    }
}
