//! `sshd`: OpenSSH's daemon interface on oxssh's protocol core.
//!
//! The listener accepts connections and never parses protocol data: each connection
//! is handed, as its stdin/stdout, to a fresh process of this same binary (`-R`, the
//! per-connection mode, like OpenSSH 9.8's sshd-session), which runs key exchange,
//! authentication and sessions. `-i` runs that per-connection mode on an inetd-style
//! stdin/stdout.
//!
//! Before starting a child the listener applies OpenSSH's admission control
//! (MaxStartups, PerSourceMaxStartups, PerSourcePenalties: `srclimit.rs`); each child
//! reports authentication and failure back (`startup.rs`); under systemd it reports
//! readiness and reloads (`notify.rs`).

use oxssh_sshd::{config, conn, notify, srclimit, startup};

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
        // As OpenSSH, -T loads the host keys and certificates and says what is wrong.
        for note in conn::read_host_keys(&cfg).1 {
            if let conn::LoadNote::Error(m) = note {
                oxssh_cli::log::eprint(&m);
            }
        }
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
        for note in conn::read_host_keys(&cfg).1 {
            if let conn::LoadNote::Error(m) = note {
                oxssh_cli::log::eprint(&m);
            }
        }
        return ExitCode::SUCCESS;
    }
    if !(flags.no_detach || flags.inetd || flags.reexec_child) {
        return daemonize(&flags);
    }
    // The connection's root helper, forked now while this process is small (and has no
    // other thread), when it will not have to hold a PAM session.
    let zygote = if (flags.inetd || flags.reexec_child) && oxssh_sys::geteuid() == 0 && !cfg.use_pam
    {
        conn::monitor::zygote().ok()
    } else {
        None
    };
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
    let reexec_child = flags.reexec_child;
    if reexec_child {
        startup::child_init();
    }
    let r = if flags.inetd || reexec_child {
        rt.block_on(conn::serve_stdio(cfg, zygote))
    } else {
        rt.block_on(listen(flags, cfg, snapshot))
    };
    // A read of the connection (inetd mode: stdin on tokio's blocking pool) may still
    // be pending: the connection is over, do not wait for it.
    rt.shutdown_background();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => {
            if !m.is_empty() {
                tracing::error!("{m}");
            }
            // Our listener's child tells it why it failed (OpenSSH 9.8's exit statuses,
            // for PerSourcePenalties); `sshd -i` keeps 9.2's 255.
            ExitCode::from(if reexec_child {
                startup::exit_code(&m)
            } else {
                255
            })
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

/// What a child's watcher task tells the listener loop.
enum ChildEvent {
    /// The child wrote [`startup::AUTH_DONE`] on its startup pipe.
    Authenticated(u64),
    /// The child exited (`None`: waiting for it failed).
    Exited {
        id: u64,
        pid: u32,
        peer: SocketAddr,
        label: String,
        status: Option<std::process::ExitStatus>,
    },
}

/// Read the child's one report byte; `None` at end of file or on error (the child is
/// on its way out, and its exit status will tell).
async fn read_report(pipe: Option<&mut tokio::net::unix::pipe::Receiver>) -> Option<u8> {
    use tokio::io::AsyncReadExt;
    let mut b = [0u8; 1];
    match pipe?.read(&mut b).await {
        Ok(1) => {
            let [byte] = b;
            Some(byte)
        }
        _ => None,
    }
}

/// Wait for one child: forward its authentication report, then its exit.
fn watch_child(
    mut child: tokio::process::Child,
    pipe: Option<tokio::net::unix::pipe::Receiver>,
    id: u64,
    peer: SocketAddr,
    label: String,
    events: tokio::sync::mpsc::UnboundedSender<ChildEvent>,
) {
    let pid = child.id().unwrap_or(0);
    tokio::spawn(async move {
        let mut pipe = pipe;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s.ok(),
                b = read_report(pipe.as_mut()), if pipe.is_some() => {
                    // One byte at most: OpenSSH's protocol has nothing after it.
                    pipe = None;
                    match b {
                        Some(startup::AUTH_DONE) => {
                            tracing::trace!("server_accept_loop: child {pid} for {label} auth done");
                            let _ = events.send(ChildEvent::Authenticated(id));
                        }
                        Some(other) => tracing::error!(
                            "server_accept_loop: unexpected message 0x{other:02x} child {pid} for {label}"
                        ),
                        None => {}
                    }
                }
            }
        };
        let _ = events.send(ChildEvent::Exited {
            id,
            pid,
            peer,
            label,
            status,
        });
    });
}

async fn listen(
    flags: Flags,
    cfg: config::ServerConfig,
    snapshot: Option<String>,
) -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("sshd re-exec requires execution with an absolute path: {e}"))?;
    // Before anyone can see us listening (the log line, READY=1): a SIGHUP or SIGTERM
    // sent right after must find our handlers, not the default action.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| e.to_string())?;
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
    notify::ready();
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
    // PerSourcePenalties / PerSourcePenaltyExemptList (OpenSSH 9.8): 9.8's defaults
    // unless configured; `PerSourcePenalties no` turns penalties off.
    let penalties = if cfg.per_source_penalties.is_empty() {
        srclimit::PenaltyConfig::default()
    } else {
        match srclimit::PenaltyConfig::parse(&cfg.per_source_penalties) {
            Ok(p) => p,
            Err(e) => return Err(e),
        }
    };
    let mut admission = srclimit::Admission::new(
        srclimit::MaxStartups {
            begin: cfg.max_startups_begin,
            rate: cfg.max_startups_rate,
            full: cfg.max_startups,
        },
        cfg.per_source_max_startups,
        cfg.per_source_masklen_ipv4,
        cfg.per_source_masklen_ipv6,
        penalties,
        cfg.per_source_penalty_exempt.clone(),
    );
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<ChildEvent>();
    let mut next_id: u64 = 0;
    loop {
        let (stream, peer) = tokio::select! {
            c = rx.recv() => match c { Some(c) => c, None => break },
            Some(ev) = events.recv() => {
                match ev {
                    ChildEvent::Authenticated(id) => {
                        admission.authenticated(id);
                    }
                    ChildEvent::Exited { id, pid, peer, label, status } => {
                        // Only a child that never authenticated concerns the penalties.
                        if admission.is_startup(id) {
                            let penalty = status
                                .and_then(|s| startup::penalty_for(&s, pid, &label));
                            admission.exited(id, peer.ip(), penalty, std::time::Instant::now());
                        }
                    }
                }
                continue;
            }
            _ = term.recv() => {
                tracing::info!("Received signal 15; terminating.");
                break;
            }
            _ = hup.recv() => {
                // As OpenSSH: re-execute ourselves (same pid) to read the configuration
                // anew; connections in progress are other processes and carry on. The
                // new image says READY=1 once it listens again.
                tracing::info!("Received SIGHUP; restarting.");
                notify::reloading();
                let e = restart(&exe, &flags);
                tracing::error!("sshd restart failed: {e}");
                notify::ready();
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
        next_id = next_id.wrapping_add(1);
        let id = next_id;
        let local = local.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let now = std::time::Instant::now();
        let verdict = admission.admit(id, peer, local, now, srclimit::random_percent());
        if verdict != srclimit::Verdict::Accept {
            // Best effort, as OpenSSH: a one-line notice, then close.
            let _ = stream.try_write(verdict.message());
            continue;
        }
        let label = format!(
            "connection from {} to {}",
            srclimit::canonical(peer.ip()),
            srclimit::canonical(local.ip())
        );
        let gone = |admission: &mut srclimit::Admission| {
            admission.exited(id, peer.ip(), None, now);
        };
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("accept: {e}");
                gone(&mut admission);
                continue;
            }
        };
        let _ = std_stream.set_nonblocking(false);
        // The child serves the connection on stdin. Its stdout is the startup pipe
        // (startup.rs) — except with -d, where nobody is left to read it.
        let (sock_in, stdout, report) = if flags.debug > 0 {
            match std_stream.try_clone() {
                Ok(dup) => (
                    std_stream,
                    Stdio::from(std::os::fd::OwnedFd::from(dup)),
                    None,
                ),
                Err(e) => {
                    tracing::error!("dup: {e}");
                    gone(&mut admission);
                    continue;
                }
            }
        } else {
            match std::io::pipe() {
                Ok((r, w)) => (
                    std_stream,
                    Stdio::from(std::os::fd::OwnedFd::from(w)),
                    Some(r),
                ),
                Err(e) => {
                    tracing::error!("pipe(startup_p): {e}");
                    gone(&mut admission);
                    continue;
                }
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
        if report.is_some() {
            cmd.env(startup::ENV, "1");
        }
        cmd.args(&child_args)
            // Readiness is the listener's to report, not a connection's.
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(sock_in)))
            .stdout(stdout)
            .stderr(if flags.log_stderr {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(false);
        let spawned = cmd.spawn();
        // Our copies of the child's descriptors (the pipe's write end above all: its
        // end of file must mean the child is gone) close here.
        drop(cmd);
        match spawned {
            Ok(child) => {
                let pipe = report.and_then(|r| {
                    tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(r))
                        .map_err(|e| tracing::error!("startup pipe: {e}"))
                        .ok()
                });
                watch_child(child, pipe, id, peer, label, events_tx.clone());
            }
            Err(e) => {
                tracing::error!("sshd re-exec failed: {e}");
                gone(&mut admission);
            }
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
