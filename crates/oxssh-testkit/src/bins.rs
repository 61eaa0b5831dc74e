//! Where the binaries under test live: OpenSSH's installed tools, our own builds, and
//! the peer rule that decides what a test does when an OpenSSH tool is missing.
//!
//! The peer rule: outside CI a missing OpenSSH tool skips the test (with a line on
//! stderr saying so); in CI (`CI=true`) it fails the test, because a CI run that skips
//! every interop test would prove nothing.

use std::path::{Path, PathBuf};

/// The command that installs every OpenSSH tool the tests use, on Debian.
pub const OPENSSH_INSTALL: &str = "apt-get install -y openssh-server openssh-client openssh-tests";

/// The path of an installed OpenSSH tool (`ssh`, `sshd`, `ssh-keygen`, `scp`, `sftp`,
/// `ssh-agent`, `ssh-add`, `ssh-keyscan`, `ssh-copy-id`, `sftp-server`), or `None` if
/// it is not installed.
///
/// # Panics
/// On a name that is not an OpenSSH tool: that is a typo in the test.
pub fn openssh(tool: &str) -> Option<PathBuf> {
    let dir = match tool {
        "sshd" => "/usr/sbin",
        "sftp-server" => "/usr/lib/openssh",
        "ssh" | "ssh-keygen" | "scp" | "sftp" | "ssh-agent" | "ssh-add" | "ssh-keyscan"
        | "ssh-copy-id" => "/usr/bin",
        _ => panic!("oxssh-testkit: `{tool}` is not an OpenSSH tool"),
    };
    let path = Path::new(dir).join(tool);
    path.is_file().then_some(path)
}

/// The path of our build of `tool` (the binary name, e.g. `"ssh"`, `"sshd"`).
///
/// The directory is `$OXSSH_BIN_DIR` if set, else `$CARGO_TARGET_DIR/debug` (a relative
/// `CARGO_TARGET_DIR` is taken from the workspace root), else `<workspace>/target/debug`.
///
/// # Panics
/// If the binary is not there: `cargo test` does not build other packages' binaries,
/// so the test script runs `cargo build --workspace --bins` first.
pub fn ours(tool: &str) -> PathBuf {
    let dir = match std::env::var_os("OXSSH_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("debug"),
    };
    let path = dir.join(tool);
    if !path.is_file() {
        panic!(
            "oxssh binary `{tool}` not found at {}: run `cargo build --workspace --bins` \
             first (or set OXSSH_BIN_DIR)",
            path.display()
        );
    }
    path
}

/// The root of the cargo workspace (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("oxssh-testkit lives at <workspace>/crates/oxssh-testkit")
        .to_owned()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        // `join` keeps an absolute path as it is.
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// What a test does about one OpenSSH tool: the outcome of the peer rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The tool is installed here.
    Found(PathBuf),
    /// Missing outside CI: the test returns early after printing `skipping: <why>`.
    Skip(String),
    /// Missing in CI: the test fails with this message.
    Fail(String),
}

/// The peer rule as a pure function of what was found and whether this is CI.
pub fn peer_rule(tool: &str, found: Option<PathBuf>, ci: bool) -> Peer {
    match found {
        Some(path) => Peer::Found(path),
        None if ci => Peer::Fail(format!(
            "OpenSSH `{tool}` is not installed, and CI must run every interop test: \
             install it with `{OPENSSH_INSTALL}`"
        )),
        None => Peer::Skip(format!(
            "OpenSSH `{tool}` is not installed (install it with `{OPENSSH_INSTALL}`)"
        )),
    }
}

/// Whether this run is CI (`CI=true` in the environment).
pub fn is_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// The OpenSSH tool's path, or `None` after printing `skipping: <why>` so that the test
/// can return early; in CI a missing tool panics instead. See [`require_openssh!`] for
/// the early return written out.
///
/// [`require_openssh!`]: crate::require_openssh!
pub fn require_openssh(tool: &str) -> Option<PathBuf> {
    match peer_rule(tool, openssh(tool), is_ci()) {
        Peer::Found(path) => Some(path),
        Peer::Skip(why) => {
            eprintln!("skipping: {why}");
            None
        }
        Peer::Fail(why) => panic!("{why}"),
    }
}

/// `Some(())` when every file in `paths` exists; otherwise `None` after printing
/// `skipping: <path> is missing`, or, in CI, a panic naming the packages that provide
/// them (`install`).
pub fn require_files(paths: &[&str], install: &str) -> Option<()> {
    for p in paths {
        if !std::path::Path::new(p).exists() {
            assert!(!is_ci(), "{p} is missing (apt-get install -y {install})");
            eprintln!("skipping: {p} is missing");
            return None;
        }
    }
    Some(())
}

/// `let ssh = require_openssh!("ssh");` — the tool's `PathBuf`, or an early `return`
/// from the (unit-returning) test when [`require_openssh()`] says to skip.
#[macro_export]
macro_rules! require_openssh {
    ($tool:expr) => {
        match $crate::require_openssh($tool) {
            ::std::option::Option::Some(path) => path,
            ::std::option::Option::None => return,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_tool_is_used_in_and_out_of_ci() {
        let p = PathBuf::from("/usr/bin/ssh");
        assert_eq!(
            peer_rule("ssh", Some(p.clone()), false),
            Peer::Found(p.clone())
        );
        assert_eq!(peer_rule("ssh", Some(p.clone()), true), Peer::Found(p));
    }

    #[test]
    fn a_missing_tool_skips_outside_ci() {
        let Peer::Skip(why) = peer_rule("sshd", None, false) else {
            panic!("expected a skip")
        };
        assert!(why.contains("`sshd`"), "{why}");
    }

    #[test]
    fn a_missing_tool_fails_in_ci_with_the_install_command() {
        let Peer::Fail(why) = peer_rule("sshd", None, true) else {
            panic!("expected a failure")
        };
        assert!(why.contains("`sshd`"), "{why}");
        assert!(
            why.contains("apt-get install -y openssh-server openssh-client openssh-tests"),
            "{why}"
        );
    }

    #[test]
    #[should_panic(expected = "not an OpenSSH tool")]
    fn an_unknown_tool_name_is_a_bug_in_the_test() {
        let _ = openssh("shh");
    }

    #[test]
    fn sftp_server_and_sshd_are_looked_up_where_debian_puts_them() {
        if let Some(p) = openssh("sshd") {
            assert_eq!(p, Path::new("/usr/sbin/sshd"));
        }
        if let Some(p) = openssh("sftp-server") {
            assert_eq!(p, Path::new("/usr/lib/openssh/sftp-server"));
        }
    }

    #[test]
    #[should_panic(expected = "cargo build --workspace --bins")]
    fn a_missing_binary_of_ours_says_how_to_build_it() {
        let _ = ours("no-such-oxssh-tool");
    }
}
