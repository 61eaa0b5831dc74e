//! `TempHome`: a throwaway home directory for a client under test, with `~/.ssh/`
//! (mode 0700), installed fixture keys, `authorized_keys`, `known_hosts` and a client
//! config; removed with everything in it on drop.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::keys::Key;

/// A temporary `HOME`. Run clients with [`TempHome::env`] so they read their
/// `~/.ssh/` from here and not from the real home.
#[derive(Debug)]
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    /// A new empty home with an empty `~/.ssh/` of mode 0700.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("oxssh-home-")
            .tempdir()
            .expect("creating a temp home");
        let home = TempHome { dir };
        fs::create_dir(home.ssh_dir()).expect("creating ~/.ssh");
        set_mode(&home.ssh_dir(), 0o700);
        home
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `~/.ssh`.
    pub fn ssh_dir(&self) -> PathBuf {
        self.path().join(".ssh")
    }

    /// Copy a fixture key to `~/.ssh/<default name>` (mode 0600) and its `.pub` beside
    /// it (0644), e.g. `~/.ssh/id_ecdsa` for every ECDSA size; returns the private path.
    pub fn install_key(&self, key: Key) -> PathBuf {
        let private = self.ssh_dir().join(key.default_name());
        let public = self.ssh_dir().join(format!("{}.pub", key.default_name()));
        self.write(&private, key.private(), 0o600);
        self.write(&public, key.public() + "\n", 0o644);
        private
    }

    /// Write `~/.ssh/authorized_keys` (0600) with these lines; returns its path.
    pub fn write_authorized_keys<S: AsRef<str>>(&self, lines: &[S]) -> PathBuf {
        let path = self.ssh_dir().join("authorized_keys");
        self.write(&path, join_lines(lines), 0o600);
        path
    }

    /// Write `~/.ssh/known_hosts` (0644) with these lines; returns its path.
    pub fn write_known_hosts<S: AsRef<str>>(&self, lines: &[S]) -> PathBuf {
        let path = self.known_hosts_path();
        self.write(&path, join_lines(lines), 0o644);
        path
    }

    /// `~/.ssh/known_hosts` (which may not exist yet).
    pub fn known_hosts_path(&self) -> PathBuf {
        self.ssh_dir().join("known_hosts")
    }

    /// Write the client config `~/.ssh/config` (0644) with this text; returns its path.
    /// [`crate::Sshd::client`] writes one for connecting to a server.
    pub fn write_ssh_config(&self, text: &str) -> PathBuf {
        let path = self.ssh_config_path();
        self.write(&path, text.to_owned(), 0o644);
        path
    }

    /// `~/.ssh/config` (which may not exist yet).
    pub fn ssh_config_path(&self) -> PathBuf {
        self.ssh_dir().join("config")
    }

    /// The environment changes a client under test runs with (for [`crate::Cmd::envs`]):
    /// `HOME` set here, `USER` and `LOGNAME` set to the real user's name, and
    /// `SSH_AUTH_SOCK` unset so that no agent of the developer's leaks in. `None`
    /// means unset.
    pub fn env(&self) -> Vec<(OsString, Option<OsString>)> {
        let user = OsString::from(current_user());
        vec![
            ("HOME".into(), Some(self.path().into())),
            ("USER".into(), Some(user.clone())),
            ("LOGNAME".into(), Some(user)),
            ("SSH_AUTH_SOCK".into(), None),
        ]
    }

    /// Apply [`TempHome::env`] to a command started without [`crate::Cmd`].
    pub fn apply_env(&self, cmd: &mut std::process::Command) {
        for (k, v) in self.env() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
    }

    fn write(&self, path: &Path, text: String, mode: u32) {
        fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        set_mode(path, mode);
    }
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

/// The name of the user this process runs as, from the user database.
pub fn current_user() -> String {
    let uid = oxssh_sys::getuid();
    oxssh_sys::getpwuid(uid)
        .unwrap_or_else(|| panic!("uid {uid} is not in the user database"))
        .name
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn join_lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|l| format!("{}\n", l.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn layout_and_modes() {
        let home = TempHome::new();
        assert_eq!(mode(&home.ssh_dir()), 0o700);
        let private = home.install_key(Key::Ecdsa384);
        assert_eq!(private, home.ssh_dir().join("id_ecdsa"));
        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&home.ssh_dir().join("id_ecdsa.pub")), 0o644);
        assert_eq!(
            fs::read_to_string(&private).unwrap(),
            Key::Ecdsa384.private()
        );
        let ak = home.write_authorized_keys(&[Key::Ed25519.public(), Key::Rsa3072.public()]);
        assert_eq!(mode(&ak), 0o600);
        assert_eq!(fs::read_to_string(&ak).unwrap().lines().count(), 2);
        assert_eq!(home.write_known_hosts(&["a", "b"]), home.known_hosts_path());
        assert_eq!(
            fs::read_to_string(home.known_hosts_path()).unwrap(),
            "a\nb\n"
        );
    }

    #[test]
    fn env_points_home_here_and_drops_the_agent() {
        let home = TempHome::new();
        let env = home.env();
        assert!(env.contains(&("HOME".into(), Some(home.path().into()))));
        assert!(env.contains(&("USER".into(), Some(current_user().into()))));
        assert!(env.contains(&("SSH_AUTH_SOCK".into(), None)));
    }

    #[test]
    fn everything_is_removed_on_drop() {
        let home = TempHome::new();
        home.install_key(Key::Ed25519);
        let path = home.path().to_owned();
        drop(home);
        assert!(!path.exists());
    }
}
