//! sshd's configuration: sshd_config and the command line read by `oxssh-config`
//! exactly as OpenSSH reads them (`-t` checks, `-T [-C spec]` dumps), with the
//! operating system behind `ServerContext` (home directories, group membership) and
//! the algorithm lists cut down to what `oxssh-proto` implements.

use std::net::SocketAddr;
use std::path::PathBuf;

use oxssh_cli::log::LogLevel;
pub use oxssh_config::{ConnSpec, PermitRootLogin, ServerConfig};
use std::cell::RefCell;
use std::io;
use std::path::Path;

use oxssh_config::{FileMeta, Fs, MemFs, RealFs, ServerCliArg, ServerContext, ServerOptions};
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

/// The environment variable that carries the listener's configuration files to each
/// per-connection process, so a connection is served with the configuration the
/// daemon started with even if the files changed since (OpenSSH hands its re-executed
/// children the configuration the same way).
pub const SNAPSHOT_ENV: &str = "OXSSH_SSHD_CONFIG";
/// Linux refuses single environment strings over 128 KiB; stay well below.
const MAX_SNAPSHOT: usize = 96 * 1024;

/// The real filesystem, remembering every file the configuration reader read.
struct RecordingFs {
    files: RefCell<Vec<(PathBuf, Vec<u8>)>>,
}

impl Fs for RecordingFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let data = RealFs.read(path)?;
        self.files
            .borrow_mut()
            .push((path.to_path_buf(), data.clone()));
        Ok(data)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        RealFs.read_dir(path)
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        RealFs.metadata(path)
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// Serialize the files read: hex(path) '=' hex(contents), ';'-separated.
fn encode_snapshot(files: &[(PathBuf, Vec<u8>)]) -> Option<String> {
    let s = files
        .iter()
        .map(|(p, d)| format!("{}={}", hex(p.as_os_str().as_encoded_bytes()), hex(d)))
        .collect::<Vec<_>>()
        .join(";");
    (s.len() <= MAX_SNAPSHOT).then_some(s)
}

fn decode_snapshot(s: &str) -> Option<MemFs> {
    let mut fs = MemFs::new();
    for item in s.split(';').filter(|i| !i.is_empty()) {
        let (p, d) = item.split_once('=')?;
        let path = String::from_utf8(unhex(p)?).ok()?;
        fs.add(path, unhex(d)?);
    }
    Some(fs)
}

/// Read the configuration as sshd starts (`sshd -t` stops here). On error: the lines
/// OpenSSH prints and its exit status. Also returns the files read, encoded for
/// [`SNAPSHOT_ENV`] (None when too large to pass: the child then reads the files).
/// A per-connection child started with the snapshot reads it instead of the disk.
pub fn load(
    config_file: Option<&PathBuf>,
    args: Vec<ServerCliArg>,
) -> Result<(ServerConfig, Option<String>), (Vec<String>, u8)> {
    let opts = ServerOptions {
        config_file: config_file
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/etc/ssh/sshd_config".into()),
        args,
    };
    let profile = oxssh_cli::profile::oxssh();
    if let Some(fs) = std::env::var(SNAPSHOT_ENV)
        .ok()
        .and_then(|s| decode_snapshot(&s))
    {
        return ServerConfig::load_with(&opts, &fs, &OsContext, &profile)
            .map(|c| (c, None))
            .map_err(|e| (e.stderr_lines(), e.sshd_exit_code()));
    }
    let fs = RecordingFs {
        files: RefCell::new(Vec::new()),
    };
    let cfg = ServerConfig::load_with(&opts, &fs, &OsContext, &profile)
        .map_err(|e| (e.stderr_lines(), e.sshd_exit_code()))?;
    let snapshot = encode_snapshot(&fs.files.borrow());
    Ok((cfg, snapshot))
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

pub fn log_level(cfg: &ServerConfig) -> LogLevel {
    LogLevel::from(cfg.log_level)
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
        compression: oxssh_cli::profile::server_compression(cfg.compression),
    }
}

/// The syslog facility number of SyslogFacility (LOG_AUTH = 4 by default).
pub fn syslog_facility(cfg: &ServerConfig) -> u8 {
    use oxssh_config::SyslogFacility as F;
    match cfg.syslog_facility {
        F::Daemon => 3,
        F::User => 1,
        F::Auth => 4,
        F::AuthPriv => 10,
        F::Local(n) => 16 + n.min(7),
    }
}
