//! oxssh-testkit: what every integration and interop test of oxssh stands on.
//!
//! - [`openssh`] / [`ours`]: where OpenSSH's installed tools and our built binaries are;
//!   [`require_openssh!`] applies the peer rule (skip outside CI when an OpenSSH tool is
//!   missing, fail in CI with the install command).
//! - [`TempHome`]: a throwaway `HOME` with `~/.ssh/`, fixture keys, known_hosts, config.
//! - [`Key`]: the committed user-key fixtures (`tests/fixtures/keys/`, made by `gen.sh`
//!   there); [`fresh_host_keys`]: new host keys from OpenSSH's `ssh-keygen`.
//! - [`Sshd`]: OpenSSH's sshd or ours on a free loopback port, or in inetd mode behind a
//!   `ProxyCommand`; stopped and reaped on drop. [`Sshd::client`] writes the matching
//!   client config.
//! - [`Cmd`]: runs any binary with a time limit and captures an [`Output`].
//!
//! ```no_run
//! use oxssh_testkit::{require_openssh, Cmd, Key, Sshd, TempHome};
//!
//! let ssh = require_openssh!("ssh");
//! let _ = require_openssh!("sshd");
//! let sshd = Sshd::openssh().start(); // or Sshd::ours(), or .inetd() for `sshd -i`
//! sshd.authorize(Key::Ed25519);
//! let home = TempHome::new();
//! let args = sshd.client(&home).args(); // -F <config> 127.0.0.1, strict host keys
//! let out = Cmd::new(ssh).args(args).arg("echo hello").envs(home.env()).run();
//! assert_eq!(out.assert_success().stdout_str(), "hello\n");
//! ```
//!
//! The kit is a library of the tests, not of the product: it never runs in production
//! code and its dependencies stay out of the shipped binaries.

// Test-support code: its job is to fail the test loudly and say why, so it panics,
// unwraps and indexes freely where library code of the product may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![forbid(unsafe_code)]

mod agent;
mod bins;
mod exe;
mod home;
mod keys;
pub mod pam;
mod run;
mod sshd;

pub use agent::OpenSshAgent;
pub use bins::{
    OPENSSH_INSTALL, Peer, is_ci, openssh, ours, peer_rule, require_files, require_openssh,
    workspace_root,
};
pub use exe::{copy_executable, write_executable, write_script};
pub use home::{TempHome, current_user};
pub use keys::{HostKey, Key, KeyType, fixtures_dir, fresh_host_keys};
pub use run::{Cmd, DEFAULT_TIMEOUT, Output, Status, sh_quote};
pub use sshd::{ClientConfig, HOST, Sshd, SshdBuilder};
