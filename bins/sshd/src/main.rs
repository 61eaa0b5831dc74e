//! `sshd`: OpenSSH's daemon interface on oxssh's protocol core.
//!
//! The listener accepts connections and never parses protocol data: each connection
//! is handed, as its stdin/stdout, to a fresh process of this same binary (`-R`, the
//! per-connection mode, like OpenSSH 9.8's sshd-session), which runs key exchange,
//! authentication and sessions. `-i` runs that per-connection mode on an inetd-style
//! stdin/stdout.

mod config;
mod conn;
mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use oxssh_cli::getopt::{Getopt, Item};
use oxssh_cli::log::LogLevel;
use oxssh_config::ServerCliArg;

/// OpenSSH 9's sshd option string.
const OPTSTRING: &str = "C:E:b:c:f:g:h:k:o:p:u:46DGQRTdeiqrtV";

#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config_file: Option<PathBuf>,
    /// Configuration-affecting options in argv order, for oxssh-config.
    pub cli: Vec<ServerCliArg>,
    /// The whole argument list, handed to each per-connection child with -R.
    pub raw: Vec<std::ffi::OsString>,
    pub debug: u8,
    pub no_detach: bool,
    pub log_stderr: bool,
    pub log_file: Option<PathBuf>,
    pub inetd: bool,
    pub reexec_child: bool,
    pub quiet: bool,
    pub test: bool,
    pub dump: bool,
    pub conn_spec: Option<String>,
}

const USAGE: &str = "usage: sshd [-46DdeGiqTtV] [-C connection_spec] [-c host_cert_file]
            [-E log_file] [-f config_file] [-g login_grace_time]
            [-h host_key_file] [-o option] [-p port] [-u len]";

fn parse(args: Vec<std::ffi::OsString>) -> Result<Flags, String> {
    let mut f = Flags {
        raw: args.clone(),
        ..Flags::default()
    };
    let mut g = Getopt::new(args, OPTSTRING);
    while let Some(item) = g.next_opt() {
        let Item::Opt(c, a) = item.map_err(|e| format!("{e}\r\n{USAGE}"))?;
        let a = a
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match c {
            'f' => f.config_file = Some(PathBuf::from(a)),
            'o' => f.cli.push(ServerCliArg::Option(a)),
            'h' => f.cli.push(ServerCliArg::HostKey(a)),
            'c' => f.cli.push(ServerCliArg::HostCertificate(a)),
            'p' => f.cli.push(ServerCliArg::Port(a)),
            'g' => f.cli.push(ServerCliArg::LoginGraceTime(a)),
            '4' => f.cli.push(ServerCliArg::AddressFamily(
                oxssh_config::AddressFamily::Inet,
            )),
            '6' => f.cli.push(ServerCliArg::AddressFamily(
                oxssh_config::AddressFamily::Inet6,
            )),
            'd' => {
                f.cli.push(ServerCliArg::Debug);
                f.debug = f.debug.saturating_add(1);
                f.no_detach = true;
                f.log_stderr = true;
            }
            'D' => f.no_detach = true,
            'e' => f.log_stderr = true,
            'E' => f.log_file = Some(PathBuf::from(a)),
            'i' => f.inetd = true,
            'R' => f.reexec_child = true,
            'q' => {
                f.cli.push(ServerCliArg::Quiet);
                f.quiet = true;
            }
            't' => f.test = true,
            'T' => f.dump = true,
            'C' => f.conn_spec = Some(a),
            'V' => {
                eprintln!("oxssh_{}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            _ => {}
        }
    }
    if let Some(extra) = g.remaining().first() {
        return Err(format!("Extra argument {}.", extra.to_string_lossy()));
    }
    Ok(f)
}

fn main() -> ExitCode {
    let flags = match parse(std::env::args_os().skip(1).collect()) {
        Ok(f) => f,
        Err(m) => {
            eprintln!("{m}");
            return ExitCode::from(1);
        }
    };
    let (cfg, snapshot) = match config::load(flags.config_file.as_ref(), flags.cli.clone()) {
        Ok(c) => c,
        Err((lines, code)) => {
            oxssh_cli::log::eprint(&lines.join("\n"));
            return ExitCode::from(code);
        }
    };
    if flags.conn_spec.is_some() && !flags.dump {
        oxssh_cli::log::eprint("sshd: -C without -T");
        return ExitCode::from(255);
    }
    if flags.dump {
        let spec = match flags
            .conn_spec
            .as_deref()
            .map(config::ConnSpec::parse)
            .transpose()
        {
            Ok(s) => s.unwrap_or_default(),
            Err(m) => {
                oxssh_cli::log::eprint(&m);
                return ExitCode::from(255);
            }
        };
        return match config::for_connection(&cfg, &spec) {
            Ok(c) => {
                print!("{}", c.dump());
                ExitCode::SUCCESS
            }
            Err(m) => {
                oxssh_cli::log::eprint(&m);
                ExitCode::from(255)
            }
        };
    }
    let level = if flags.quiet {
        LogLevel::Quiet
    } else {
        LogLevel::from_verbosity(config::log_level(&cfg), flags.debug)
    };
    let log_file = flags.log_file.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    // As OpenSSH: -E file, or -e / -d stderr, else syslog (facility AUTH unless
    // SyslogFacility says otherwise).
    if log_file.is_some() || flags.log_stderr {
        oxssh_cli::log::init(level, log_file);
    } else {
        oxssh_cli::log::init_syslog(level, "sshd", config::syslog_facility(&cfg));
    }
    for d in &cfg.diagnostics {
        use oxssh_config::Level;
        match d.level {
            Level::Error => tracing::error!("{}", d.message),
            Level::Info => tracing::info!("{}", d.message),
            Level::Verbose => tracing::info!("{}", d.message),
            Level::Debug1 => tracing::debug!("{}", d.message),
            _ => tracing::trace!("{}", d.message),
        }
    }
    if flags.test {
        return ExitCode::SUCCESS;
    }
    if !(flags.no_detach || flags.inetd || flags.reexec_child) {
        return daemonize(&flags);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sshd: {e}");
            return ExitCode::from(255);
        }
    };
    let r = if flags.inetd || flags.reexec_child {
        rt.block_on(conn::serve_stdio(cfg))
    } else {
        rt.block_on(listen(flags, cfg, snapshot))
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => {
            if !m.is_empty() {
                tracing::error!("{m}");
            }
            ExitCode::from(255)
        }
    }
}

/// Background by default, as OpenSSH: run ourselves again in the foreground (-D) in a
/// new session with stdio on /dev/null, and return at once. The child writes the
/// PidFile once it listens.
fn daemonize(flags: &Flags) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            oxssh_cli::log::eprint(&format!(
                "sshd re-exec requires execution with an absolute path: {e}"
            ));
            return ExitCode::from(255);
        }
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-D")
        .args(&flags.raw)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if flags.log_stderr {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    oxssh_sys::new_session(&mut cmd);
    match cmd.spawn() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            oxssh_cli::log::eprint(&format!("daemon() failed: {e}"));
            ExitCode::from(255)
        }
    }
}

/// Replace this process with a fresh sshd in the foreground with the same arguments;
/// returns only on failure.
fn restart(exe: &std::path::Path, flags: &Flags) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let path = if exe.exists() {
        exe.to_path_buf()
    } else {
        PathBuf::from("/proc/self/exe")
    };
    let mut cmd = std::process::Command::new(path);
    if !flags.no_detach {
        cmd.arg("-D");
    }
    cmd.args(&flags.raw).exec()
}

/// The arguments a per-connection child gets: ours, plus -R.
fn child_args(flags: &Flags) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = vec!["-R".into()];
    a.extend(flags.raw.iter().cloned());
    a
}

async fn listen(
    flags: Flags,
    cfg: config::ServerConfig,
    snapshot: Option<String>,
) -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("sshd re-exec requires execution with an absolute path: {e}"))?;
    let mut listeners = Vec::new();
    for addr in &config::listen_addrs(&cfg) {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!("Server listening on {} port {}.", addr.ip(), addr.port());
                listeners.push(l);
            }
            Err(e) => tracing::error!("Bind to port {} on {} failed: {e}.", addr.port(), addr.ip()),
        }
    }
    if listeners.is_empty() {
        return Err("Cannot bind any address.".into());
    }
    if let Some(pid) = cfg.pid_file.as_deref().filter(|p| *p != "none") {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            tracing::error!("Couldn't create pid file \"{pid}\": {e}");
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::net::TcpStream, SocketAddr)>(16);
    for l in listeners {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, a)) => {
                        if tx.send((s, a)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::error!("accept: {e}"),
                }
            }
        });
    }
    drop(tx);
    let child_args = child_args(&flags);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| e.to_string())?;
    loop {
        let (stream, peer) = tokio::select! {
            c = rx.recv() => match c { Some(c) => c, None => break },
            _ = term.recv() => {
                tracing::info!("Received signal 15; terminating.");
                break;
            }
            _ = hup.recv() => {
                // As OpenSSH: re-execute ourselves (same pid) to read the configuration
                // anew; connections in progress are other processes and carry on.
                tracing::info!("Received SIGHUP; restarting.");
                let e = restart(&exe, &flags);
                tracing::error!("sshd restart failed: {e}");
                continue;
            }
        };
        let local = stream.local_addr().ok();
        tracing::debug!(
            "Connection from {} port {} on {} port {}",
            peer.ip(),
            peer.port(),
            local.map(|l| l.ip().to_string()).unwrap_or_default(),
            local.map(|l| l.port()).unwrap_or(0)
        );
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("accept: {e}");
                continue;
            }
        };
        let _ = std_stream.set_nonblocking(false);
        let (rd, wr) = match (std_stream.try_clone(), std_stream) {
            (Ok(a), b) => (a, b),
            (Err(e), _) => {
                tracing::error!("dup: {e}");
                continue;
            }
        };
        // Re-execute by our path, so the process is called sshd in ps and logs; if the
        // file was removed or replaced since we started (a package upgrade),
        // /proc/self/exe still names the binary we are running.
        let path = if exe.exists() {
            exe.clone()
        } else {
            PathBuf::from("/proc/self/exe")
        };
        let mut cmd = tokio::process::Command::new(&path);
        if let Some(snap) = &snapshot {
            cmd.env(config::SNAPSHOT_ENV, snap);
        }
        cmd.args(&child_args)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(rd)))
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(wr)))
            .stderr(if flags.log_stderr {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(false);
        match cmd.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => tracing::error!("sshd re-exec failed: {e}"),
        }
        if flags.debug > 0 {
            // -d serves a single connection, as OpenSSH does.
            break;
        }
    }
    if let Some(pid) = cfg.pid_file.as_deref().filter(|p| *p != "none") {
        let _ = std::fs::remove_file(pid);
    }
    Ok(())
}
