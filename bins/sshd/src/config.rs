//! sshd's configuration: sshd_config and the command line read by `oxssh-config`
//! exactly as OpenSSH reads them (`-t` checks, `-T [-C spec]` dumps), with the
//! operating system behind `ServerContext` (home directories, group membership) and
//! the algorithm lists cut down to what `oxssh-proto` implements.

use std::net::SocketAddr;
use std::path::PathBuf;

use oxssh_cli::log::LogLevel;
pub use oxssh_config::{ConnSpec, PermitRootLogin, ServerConfig};
use oxssh_config::{RealFs, ServerCliArg, ServerContext, ServerOptions};
use oxssh_proto::kex::Algorithms;

/// The OS answers for Match Group, `~` and relative paths.
pub struct OsContext;

impl ServerContext for OsContext {
    fn home_dir(&self, user: Option<&str>) -> Option<String> {
        let pw = match user {
            Some(u) => oxssh_sys::getpwnam(u),
            None => oxssh_sys::getpwuid(oxssh_sys::getuid()),
        };
        pw.map(|p| p.dir.to_string_lossy().into_owned())
    }

    fn cwd(&self) -> String {
        std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into())
    }

    fn user_groups(&self, user: &str) -> Option<Vec<String>> {
        oxssh_sys::group_names(user)
    }
}

/// Read the configuration as sshd starts (`sshd -t` stops here). On error: the lines
/// OpenSSH prints and its exit status.
pub fn load(
    config_file: Option<&PathBuf>,
    args: Vec<ServerCliArg>,
) -> Result<ServerConfig, (Vec<String>, u8)> {
    let opts = ServerOptions {
        config_file: config_file
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/etc/ssh/sshd_config".into()),
        args,
    };
    ServerConfig::load_with(&opts, &RealFs, &OsContext, &oxssh_cli::profile::oxssh())
        .map_err(|e| (e.stderr_lines(), e.sshd_exit_code()))
}

/// The configuration with the Match blocks for one connection applied.
pub fn for_connection(cfg: &ServerConfig, spec: &ConnSpec) -> Result<ServerConfig, String> {
    cfg.for_connection_with(spec, &OsContext)
        .map_err(|e| e.stderr_lines().join("\n"))
}

/// Sockets to listen on.
pub fn listen_addrs(cfg: &ServerConfig) -> Vec<SocketAddr> {
    cfg.listen_addresses
        .iter()
        .map(|l| SocketAddr::new(l.addr, l.port))
        .collect()
}

/// Host key files, in configured order.
pub fn host_key_files(cfg: &ServerConfig) -> Vec<PathBuf> {
    cfg.host_key_files
        .iter()
        .flatten()
        .map(PathBuf::from)
        .collect()
}

pub fn log_level(cfg: &ServerConfig) -> LogLevel {
    use oxssh_config::LogLevel as C;
    match cfg.log_level {
        C::Quiet => LogLevel::Quiet,
        C::Fatal => LogLevel::Fatal,
        C::Error => LogLevel::Error,
        C::Info => LogLevel::Info,
        C::Verbose => LogLevel::Verbose,
        C::Debug1 => LogLevel::Debug1,
        C::Debug2 => LogLevel::Debug2,
        _ => LogLevel::Debug3,
    }
}

/// Negotiable algorithms: the configured lists (already resolved by the config crate),
/// restricted to what we implement.
pub fn algorithms(cfg: &ServerConfig) -> Algorithms {
    use oxssh_cli::profile::{ciphers, kex, macs, sigs, supported};
    Algorithms {
        cipher: supported(&cfg.ciphers, &ciphers()),
        mac: supported(&cfg.macs, &macs()),
        kex: supported(&cfg.kex_algorithms, &kex()),
        host_key: supported(&cfg.host_key_algorithms, &sigs()),
        compression: vec!["none".to_owned()],
    }
}
