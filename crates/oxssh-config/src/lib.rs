//! `ssh_config(5)` and `sshd_config(5)`, read exactly as OpenSSH reads them.
//!
//! This crate turns configuration files and command-line options into typed
//! configurations ([`ClientConfig`], [`ServerConfig`]) and prints them the way
//! `ssh -G` and `sshd -T` do. OpenSSH is the specification: keyword spellings and
//! aliases, first-value-wins, `Host`/`Match` evaluation, `Include`, `%` tokens,
//! error messages and dump formats all follow it. The reference version is
//! OpenSSH 9.2p1 as shipped by Debian 12 (see [`Profile`]).
//!
//! It does no I/O of its own: files are read through the [`Fs`] trait
//! ([`RealFs`] for the real filesystem, [`MemFs`] for tests) and everything else
//! the client needs from the operating system comes through [`ClientContext`].
//! Nothing read from a file can make it panic or use unbounded memory: lines,
//! files, include depth and list lengths are capped.
//!
//! # Client (`ssh`, `ssh -G`)
//!
//! ```
//! use oxssh_config::{BasicContext, ClientConfig, ClientOptions, CliArg, LocalUser, MemFs, Profile};
//!
//! let mut fs = MemFs::new();
//! fs.add("/home/al/.ssh/config", "Host web*\n  User deploy\n  Port 2222\n");
//! let ctx = BasicContext::new(
//!     LocalUser { name: "al".into(), uid: 1000, home: "/home/al".into() },
//!     "laptop.example.org",
//! );
//! let mut opts = ClientOptions::new("web1");
//! opts.args.push(CliArg::Option("ForwardAgent yes".into()));
//! opts.system_config = Some("/etc/ssh/ssh_config".into()); // missing: ignored, as OpenSSH does
//! let cfg = ClientConfig::load_with_profile(&opts, &ctx, &fs, &Profile::openssh_9_2_debian()).unwrap();
//! assert_eq!((cfg.user.as_str(), cfg.port, cfg.forward_agent), ("deploy", 2222, true));
//! assert!(cfg.dump().starts_with("host web1\nuser deploy\nhostname web1\nport 2222\n"));
//! ```
//!
//! The binary maps argv to [`ClientOptions`]: the destination host, `-F`, the
//! remote command, and every configuration-affecting option as a [`CliArg`] in
//! argv order (`-o` lines, `-p`, `-l`, `-L`, `-v`, …). On error, print
//! [`Error::stderr_lines`] and exit 255.
//!
//! # Server (`sshd`, `sshd -t`, `sshd -T`)
//!
//! ```
//! use oxssh_config::{ConnSpec, MemFs, Profile, ServerConfig, ServerOptions};
//!
//! let mut fs = MemFs::new();
//! fs.add("/etc/ssh/sshd_config", "PermitRootLogin no\nMatch User admin\n  PermitRootLogin yes\n");
//! let opts = ServerOptions { config_file: "/etc/ssh/sshd_config".into(), ..Default::default() };
//! let base = ServerConfig::load_with_profile(&opts, &fs, &Profile::openssh_9_2_debian()).unwrap();
//! let conn = ConnSpec::parse("user=admin,host=h,addr=192.0.2.1").unwrap();
//! let per_conn = base.for_connection(&conn).unwrap();
//! assert!(per_conn.dump().contains("\npermitrootlogin yes\n"));
//! ```
//!
//! `sshd -t` is [`ServerConfig::load`] (errors print as OpenSSH's, exit with
//! [`Error::sshd_exit_code`]); `sshd -T [-C spec]` is
//! `load` then [`ServerConfig::for_connection`] (with an empty [`ConnSpec`]
//! when there is no `-C`) then [`ServerConfig::dump`].
//!
//! # Profiles and OpenSSH 10
//!
//! [`Profile::openssh_9_2_debian`] reproduces the installed reference exactly
//! (keyword set, Debian's patches, 9.2 algorithm defaults); the differential
//! tests use it. [`Profile::oxssh`] (the default for [`ClientConfig::load`] and
//! [`ServerConfig::load`]) keeps that behaviour and output format but also
//! accepts the keywords OpenSSH 10.0 added (`Tag`, `Match tagged`,
//! `Match localnetwork`, `ChannelTimeout`, `ObscureKeystrokeTiming` and
//! `VersionAddendum` in ssh_config; `PAMServiceName`, `PerSourcePenalties`,
//! `PerSourcePenaltyExemptList`, `RefuseConnection`, `SshdAuthPath`,
//! `SshdSessionPath` in sshd_config) and offers OpenSSH 10.0's algorithm
//! defaults ([`Algorithms::openssh_10`]: `mlkem768x25519-sha256` first, AES-GCM
//! before AES-CTR, no DSA, no finite-field DH in the server's default
//! `KexAlgorithms`). The algorithm lists are plain data and can be replaced.
//! Dumps keep 9.2's format: OpenSSH 10 keywords are printed only when set.
//!
//! # Limits
//!
//! Lines are cut at 64 KiB, files over [`MAX_FILE_SIZE`] are refused,
//! `Include` nests at most 16 deep (OpenSSH's limit), and one configuration
//! reads at most 1024 files, [`MAX_TOTAL_BYTES`] bytes and
//! [`MAX_TOTAL_LINES`] lines. Non-UTF-8 bytes are read lossily.
//!
//! # Fuzzing
//!
//! [`parse_client_config_bytes`] and [`parse_server_config_bytes`] take
//! arbitrary bytes and never panic (`tests/robustness.rs` checks random and
//! adversarial input; a cargo-fuzz target can call them directly).
//!
//! # Testing against OpenSSH
//!
//! `tests/client_diff.rs` and `tests/server_diff.rs` run every file of
//! `tests/corpus/{client,server}` (with the `#@ run:` invocations it lists)
//! through the real `ssh -G` / `sshd -T` and through this crate and require
//! identical output; `tests/random_diff.rs` does the same for generated
//! configurations (`OXSSH_RANDOM_CASES`, `OXSSH_RANDOM_SEED`). Without OpenSSH
//! installed they are skipped, except under `CI=true` where they fail.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algs;
mod client;
mod error;
mod expand;
mod forward;
mod fs;
mod lex;
mod misc;
pub mod pattern;
mod profile;
mod server;
mod types;

pub use algs::Algorithms;
pub use client::{
    AddKeysToAgent, BasicContext, Canonicalize, CliArg, ClientConfig, ClientContext, ClientOptions,
    ControlMaster, Destination, EnvFn, ExecPolicy, IdentityFile, LocalUser, PermittedCname,
    ProxyJump, PubkeyAuthentication, RequestTty, Resolution, SessionType, StrictHostKeyChecking,
    TunnelDevice, TunnelMode, YesNoAsk, all_keywords as client_keywords, parse_client_config_bytes,
    parse_destination,
};
pub use error::{Diagnostic, Error, Level};
pub use forward::{Forward, PORT_STREAMLOCAL, parse_forward};
pub use fs::{FileMeta, Fs, MAX_FILE_SIZE, MemFs, RealFs, glob_with};
pub use profile::{Dialect, Profile};
pub use server::{
    AllowForwarding, BasicServerContext, Compression, ConnSpec, GatewayPorts, IgnoreRhosts,
    ListenAddress, PermitRootLogin, PermitTunnel, ServerCliArg, ServerConfig, ServerContext,
    ServerOptions, Subsystem, all_keywords as server_keywords, parse_server_config_bytes,
};
pub use types::{AddressFamily, FingerprintHash, IpQos, LogLevel, RekeyLimit, SyslogFacility};

/// Most bytes read from configuration files for one configuration (all files
/// and includes together).
pub const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// Most configuration lines processed for one configuration (includes read
/// several times count each time).
pub const MAX_TOTAL_LINES: usize = 1_000_000;

/// `strerror`-style text for an I/O error (no "(os error N)" suffix).
pub(crate) fn io_error_text(e: &std::io::Error) -> String {
    let known = match e.raw_os_error() {
        Some(1) => Some("Operation not permitted"),
        Some(2) => Some("No such file or directory"),
        Some(5) => Some("Input/output error"),
        Some(13) => Some("Permission denied"),
        Some(20) => Some("Not a directory"),
        Some(21) => Some("Is a directory"),
        Some(36) => Some("File name too long"),
        Some(40) => Some("Too many levels of symbolic links"),
        _ => None,
    };
    if let Some(k) = known {
        return k.to_owned();
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".to_owned(),
        std::io::ErrorKind::IsADirectory => "Is a directory".to_owned(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
                None => s,
            }
        }
    }
}
