//! ssh's session: one "session" channel running the command (or a shell, with a pty
//! when asked or when stdin is a terminal), stdin/stdout/stderr pumped with per-channel
//! flow control, and the remote exit status (or signal) returned as ssh's status.

use std::os::fd::{AsFd, AsRawFd};

use oxssh_net::Conn;
use oxssh_proto::connection::{ChannelEvent, ChannelId, Connection};
use oxssh_proto::wire::{Put, Reader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Failure, Target, connection_error};
use crate::tun::Tunnel;
use oxssh_config::{ClientConfig as Options, RequestTty, SessionType};

fn want_tty(o: &Options, command: &str, stdin_tty: bool) -> bool {
    match o.request_tty {
        RequestTty::Force => true,
        RequestTty::Yes => stdin_tty,
        RequestTty::No => false,
        RequestTty::Auto => {
            command.is_empty() && o.session_type == SessionType::Default && stdin_tty
        }
    }
}

/// `pty-req`: TERM, the window size and the encoded modes of our terminal (its
/// interrupt, erase, … characters and flags, as OpenSSH sends them; just the end of
/// the list when stdin is not a terminal).
fn pty_request(term: &str, size: (u32, u32, u32, u32), modes: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.put_str(term);
    put_size(&mut d, size);
    d.put_string(modes);
    d
}

fn put_size(d: &mut Vec<u8>, size: (u32, u32, u32, u32)) {
    d.put_u32(size.0);
    d.put_u32(size.1);
    d.put_u32(size.2);
    d.put_u32(size.3);
}

/// Global requests from the server and the answers to ours, for the whole connection.
struct Globals {
    hostkeys: crate::hostkeys::Updater,
    /// Our requests awaiting an answer, in order: true for hostkeys-prove-00.
    pending: std::collections::VecDeque<bool>,
}

impl Globals {
    fn new(o: &Options, t: &Target) -> Globals {
        Globals {
            hostkeys: crate::hostkeys::Updater::new(o, t),
            pending: Default::default(),
        }
    }

    fn request<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        chans: &mut Connection,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), Failure> {
        tracing::debug!(
            "client_input_global_request: rtype {name} want_reply {}",
            u8::from(want_reply)
        );
        let mut ok = false;
        if name == "hostkeys-00@openssh.com" {
            ok = true;
            if let Some(body) = self.hostkeys.on_hostkeys(data, conn.host_key_alg)? {
                chans.global_request(&mut conn.t, "hostkeys-prove-00@openssh.com", true, &body)?;
                self.pending.push_back(true);
            }
        }
        if want_reply {
            chans.global_reply(&mut conn.t, ok, &[])?;
        }
        Ok(())
    }

    fn keepalive<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        chans: &mut Connection,
    ) -> Result<(), Failure> {
        chans.global_request(&mut conn.t, "keepalive@openssh.com", true, &[])?;
        self.pending.push_back(false);
        Ok(())
    }

    fn result<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &Conn<S>,
        success: bool,
        data: &[u8],
    ) {
        if self.pending.pop_front() == Some(true) {
            let sid = conn.t.session_id().unwrap_or_default();
            self.hostkeys
                .on_prove_reply(success, data, sid, conn.host_key_alg);
        }
    }
}

/// Wait for one specific channel event, handling nothing else but errors.
async fn expect_event<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    chans: &mut Connection,
    t: &Target,
    g: &mut Globals,
    tunnel: &mut Tunnel,
) -> Result<ChannelEvent, Failure> {
    let mut nov = oxssh_net::no_host_keys;
    loop {
        match chans.poll_event() {
            Some(ev) if crate::tun::channel_of(&ev).is_some_and(|id| tunnel.owns(id)) => {
                tunnel.event(chans, &mut conn.t, ev)?;
                conn.flush().await?;
                continue;
            }
            Some(ChannelEvent::GlobalRequest {
                name,
                want_reply,
                data,
            }) => {
                g.request(conn, chans, &name, want_reply, &data)?;
                conn.flush().await?;
                continue;
            }
            Some(ChannelEvent::GlobalResult { success, data }) => {
                g.result(conn, success, &data);
                continue;
            }
            Some(ev) => return Ok(ev),
            None => {}
        }
        let p = conn
            .recv(&mut nov)
            .await
            .map_err(|e| Failure::Message(connection_error(&e, t)))?;
        chans.handle(&mut conn.t, &p)?;
        conn.flush().await?;
    }
}

pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: Conn<S>,
    o: &Options,
    command: Option<String>,
    t: &Target,
) -> Result<u8, Failure> {
    let mut chans = Connection::new();
    let mut g = Globals::new(o, t);
    // Forwarding first, as OpenSSH's ssh_init_forwarding: the tunnel is channel 0.
    let (mut tunnel, ifname) = Tunnel::request(o, &mut chans, &mut conn.t)?;
    conn.flush().await?;
    crate::client::local_command(o, ifname.as_deref());
    if o.session_type == SessionType::None {
        // -N: keep the connection for forwarding until it ends.
        return idle(&mut conn, &mut chans, o, t, &mut g, &mut tunnel).await;
    }
    let id = chans.open(&mut conn.t, "session", &[])?;
    conn.flush().await?;
    match expect_event(&mut conn, &mut chans, t, &mut g, &mut tunnel).await? {
        ChannelEvent::Opened { .. } => {}
        ChannelEvent::OpenFailed {
            description,
            reason,
            ..
        } => {
            return Err(Failure::Message(format!(
                "channel {id}: open failed: {}: {description}",
                open_failure_text(reason)
            )));
        }
        ev => return Err(Failure::Message(format!("ssh: unexpected {ev:?}"))),
    }
    let stdin_tty = oxssh_sys::tty::isatty(std::io::stdin().as_raw_fd());
    let command = match (command, &o.remote_command) {
        (Some(_), Some(_)) => {
            return Err(Failure::Message(
                "Cannot execute command-line and remote command.".into(),
            ));
        }
        (Some(c), None) => c,
        (None, Some(r)) => r.clone(),
        (None, None) => String::new(),
    };
    let tty = want_tty(o, &command, stdin_tty);
    let mut raw_guard = None;
    if tty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "vt100".into());
        let size =
            oxssh_sys::tty::window_size(std::io::stdin().as_raw_fd()).unwrap_or((80, 24, 0, 0));
        let modes = oxssh_sys::pty::encode_modes(std::io::stdin().as_fd());
        chans.request(
            &mut conn.t,
            id,
            "pty-req",
            true,
            &pty_request(&term, size, &modes),
        )?;
        conn.flush().await?;
        match expect_event(&mut conn, &mut chans, t, &mut g, &mut tunnel).await? {
            ChannelEvent::RequestResult { success: true, .. } => {}
            _ => oxssh_cli::log::eprint(&format!("PTY allocation request failed on channel {id}")),
        }
        if stdin_tty {
            raw_guard = oxssh_sys::tty::raw_mode(std::io::stdin().as_raw_fd()).ok();
        }
    } else if o.request_tty == RequestTty::Yes
        && !stdin_tty
        && o.log_level >= oxssh_config::LogLevel::Info
    {
        oxssh_cli::log::eprint(
            "Pseudo-terminal will not be allocated because stdin is not a terminal.",
        );
    }
    let mut x11 = crate::x11::X11::new(o);
    if let Some(body) = x11.request(o) {
        chans.request(&mut conn.t, id, "x11-req", true, &body)?;
        conn.flush().await?;
        match expect_event(&mut conn, &mut chans, t, &mut g, &mut tunnel).await? {
            ChannelEvent::RequestResult { success: true, .. } => {
                tracing::debug!("X11 forwarding request accepted on channel {id}");
            }
            _ => oxssh_cli::log::eprint(&format!("X11 forwarding request failed on channel {id}")),
        }
    }
    send_env(&mut conn, &mut chans, id, o)?;
    let (req, data, what) = if o.session_type == SessionType::Subsystem {
        let mut d = Vec::new();
        d.put_str(&command);
        ("subsystem", d, "subsystem")
    } else if command.is_empty() {
        ("shell", Vec::new(), "shell")
    } else {
        let mut d = Vec::new();
        d.put_str(&command);
        ("exec", d, "exec")
    };
    tracing::debug!("Sending command: {command}");
    chans.request(&mut conn.t, id, req, true, &data)?;
    conn.flush().await?;
    // Escapes work only in a session with a terminal, as in OpenSSH.
    let escape = if tty {
        o.escape_char.map(crate::escape::Escape::new)
    } else {
        None
    };
    // With a terminal, SIGWINCH: its new size goes to the server (window-change).
    let winch = if tty && stdin_tty {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
    } else {
        None
    };
    let code = pump(
        &mut conn,
        &mut chans,
        id,
        o,
        t,
        what,
        escape,
        &mut g,
        &mut x11,
        &mut tunnel,
        winch,
    )
    .await;
    drop(raw_guard);
    code
}

/// SendEnv (variables of our environment matching its patterns) then SetEnv, as
/// "env" requests without reply; the server's AcceptEnv decides.
fn send_env<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    chans: &mut Connection,
    id: ChannelId,
    o: &Options,
) -> Result<(), Failure> {
    let mut sent: Vec<String> = Vec::new();
    let mut req = |conn: &mut Conn<S>,
                   chans: &mut Connection,
                   name: &str,
                   value: &str|
     -> Result<(), Failure> {
        if sent.iter().any(|s| s == name) {
            return Ok(());
        }
        tracing::debug!("channel {id}: setting env {name} = \"{value}\"");
        let mut d = Vec::new();
        d.put_str(name);
        d.put_str(value);
        chans.request(&mut conn.t, id, "env", false, &d)?;
        sent.push(name.to_owned());
        Ok(())
    };
    if !o.send_env.is_empty() {
        for (name, value) in std::env::vars() {
            let permitted = o
                .send_env
                .iter()
                .filter(|p| !p.starts_with('-'))
                .any(|p| oxssh_keys::pattern::glob(p, &name));
            if permitted {
                req(conn, chans, &name, &value)?;
            }
        }
    }
    for kv in &o.set_env {
        if let Some((name, value)) = kv.split_once('=') {
            req(conn, chans, name, value)?;
        }
    }
    Ok(())
}

pub(crate) fn open_failure_text(reason: u32) -> &'static str {
    match reason {
        1 => "administratively prohibited",
        2 => "connect failed",
        3 => "unknown channel type",
        4 => "resource shortage",
        _ => "unknown reason",
    }
}

/// Hand what the transport has taken in (on a read, or while a flush waited) to the
/// channel layer; true when there was anything (the server is alive).
fn take_transport_events<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    chans: &mut Connection,
) -> Result<bool, Failure> {
    let nov = oxssh_net::no_host_keys;
    let mut any = false;
    while let Some(ev) = conn.t.poll_event() {
        any = true;
        match ev {
            oxssh_proto::transport::Event::Packet(p)
                if p.first().is_some_and(|&t| (80..=100).contains(&t)) =>
            {
                chans.handle_owned(&mut conn.t, p)?;
            }
            oxssh_proto::transport::Event::HostKey { key_blob, alg } => {
                let ok = nov(&key_blob, alg);
                conn.t.host_key_verdict(ok, std::time::Instant::now())?;
            }
            oxssh_proto::transport::Event::Debug { message, .. } => {
                tracing::debug!("Remote: {message}");
            }
            _ => {}
        }
    }
    Ok(any)
}

/// `-N`: no session, only forwarding, until the connection ends (exit 255, as
/// OpenSSH's ssh when the server goes away), a signal, or a fatal forwarding failure.
/// ServerAliveInterval applies, as in a session.
async fn idle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    chans: &mut Connection,
    o: &Options,
    t: &Target,
    g: &mut Globals,
    tunnel: &mut Tunnel,
) -> Result<u8, Failure> {
    let mut signals = Quit::new();
    let alive = (o.server_alive_interval > 0)
        .then(|| std::time::Duration::from_secs(o.server_alive_interval as u64));
    let mut alive_deadline = alive.map(|i| tokio::time::Instant::now() + i);
    let mut alive_misses: i32 = 0;
    loop {
        if take_transport_events(conn, chans)? {
            if let Some(i) = alive {
                alive_misses = 0;
                alive_deadline = Some(tokio::time::Instant::now() + i);
            }
        }
        while let Some(ev) = chans.poll_event() {
            match ev {
                ev if crate::tun::channel_of(&ev).is_some_and(|x| tunnel.owns(x)) => {
                    tunnel.event(chans, &mut conn.t, ev)?;
                }
                ChannelEvent::OpenRequest { id, .. } => chans.reject(
                    &mut conn.t,
                    id,
                    oxssh_proto::connection::open_failure::ADMINISTRATIVELY_PROHIBITED,
                    "open failed",
                )?,
                ChannelEvent::GlobalRequest {
                    name,
                    want_reply,
                    data,
                } => g.request(conn, chans, &name, want_reply, &data)?,
                ChannelEvent::GlobalResult { success, data } => g.result(conn, success, &data),
                _ => {}
            }
        }
        conn.flush().await?;
        let rekey_at = conn.t.next_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            r = conn.read_some() => {
                if let Err(e) = r {
                    return Err(Failure::Message(match e {
                        oxssh_net::Error::Closed => format!("Connection to {} closed by remote host.", t.host),
                        e => connection_error(&e, t),
                    }));
                }
            }
            Some(m) = tunnel.recv() => tunnel.handle(chans, &mut conn.t, m)?,
            () = sleep_until(rekey_at), if rekey_at.is_some() => {
                conn.t.handle_timeout(std::time::Instant::now())?;
            }
            () = sleep_until(alive_deadline), if alive_deadline.is_some() => {
                alive_misses += 1;
                if alive_misses > o.server_alive_count_max {
                    return Err(Failure::Message(format!(
                        "Timeout, server {} not responding.",
                        t.host
                    )));
                }
                g.keepalive(conn, chans)?;
                alive_deadline = alive.map(|i| tokio::time::Instant::now() + i);
            }
            sig = signals.recv() => return Ok(quit(conn, sig, true).await),
        }
    }
}

/// The signals that end ssh as OpenSSH's client loop takes them: SIGHUP, SIGINT,
/// SIGQUIT and SIGTERM, each unless it was ignored when ssh started (nohup, a
/// background job). ssh then says "disconnected by user" to the server, puts the
/// terminal back and exits 255 (0 for SIGTERM without a session, `-N`), where the
/// default action would kill it outright and leave the terminal raw.
struct Quit(Vec<(i32, tokio::signal::unix::Signal)>);

impl Quit {
    fn new() -> Quit {
        use tokio::signal::unix::{SignalKind, signal};
        let mut v = Vec::new();
        for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
            if oxssh_sys::signal_ignored(sig) {
                continue;
            }
            if let Ok(s) = signal(SignalKind::from_raw(sig)) {
                v.push((sig, s));
            }
        }
        Quit(v)
    }

    /// The next of these signals (never, with none to watch).
    async fn recv(&mut self) -> i32 {
        std::future::poll_fn(|cx| {
            for (sig, s) in &mut self.0 {
                if let std::task::Poll::Ready(Some(())) = s.poll_recv(cx) {
                    return std::task::Poll::Ready(*sig);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// End the connection on a signal, as OpenSSH's client loop does: DISCONNECT
/// "disconnected by user", then the exit status.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    sig: i32,
    no_session: bool,
) -> u8 {
    let _ = conn.t.send_disconnect(
        oxssh_proto::msg::disconnect::BY_APPLICATION,
        "disconnected by user",
    );
    let _ = conn.flush().await;
    if no_session && sig == libc::SIGTERM {
        return 0;
    }
    // VERBOSE in OpenSSH, which our log levels fold into INFO: shown from -v.
    tracing::debug!("Killed by signal {sig}.");
    255
}

/// Readiness of the stdin read straight into packets; never, without one.
async fn read_ready(
    s: Option<&oxssh_sys::stdio::AsyncStdio>,
) -> std::io::Result<oxssh_sys::stdio::ReadReady<'_>> {
    match s {
        Some(s) => s.read_ready().await,
        None => std::future::pending().await,
    }
}

/// Sleep until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

// The session loop's state is its arguments: bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
async fn pump<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    chans: &mut Connection,
    id: ChannelId,
    o: &Options,
    t: &Target,
    what: &str,
    mut escape: Option<crate::escape::Escape>,
    g: &mut Globals,
    x11: &mut crate::x11::X11,
    tunnel: &mut Tunnel,
    mut winch: Option<tokio::signal::unix::Signal>,
) -> Result<u8, Failure> {
    let mut typed: Vec<u8> = Vec::new();
    let mut actions = Vec::new();
    let mut stdin_open = !o.stdin_null;
    // Pipes and sockets are polled non-blocking on the reactor (their flags restored
    // when this returns), files and devices are used directly; terminals go through
    // tokio's blocking pool.
    // Without an escape character to look for, such a stdin is read straight into the
    // packets that carry it (`direct_in`).
    let (direct_in, mut stdin): (
        Option<oxssh_sys::stdio::AsyncStdio>,
        Box<dyn AsyncRead + Unpin>,
    ) = match stdin_open
        .then(|| oxssh_sys::stdio::AsyncStdio::new(std::io::stdin().as_fd()))
        .flatten()
    {
        Some(s) if escape.is_none() => (Some(s), Box::new(tokio::io::empty())),
        Some(s) => (None, Box::new(s)),
        None => (None, Box::new(tokio::io::stdin())),
    };
    let mut stdout: Box<dyn AsyncWrite + Unpin> =
        match oxssh_sys::stdio::AsyncStdio::new(std::io::stdout().as_fd()) {
            Some(s) => Box::new(s),
            None => Box::new(tokio::io::stdout()),
        };
    let mut stderr = tokio::io::stderr();
    if !stdin_open {
        chans.send_eof(&mut conn.t, id)?;
    }
    // Large reads: fewer wake-ups, and each read of tokio's stdin is a round trip to
    // its blocking pool. On an upload, what one read took goes out in one write: at
    // 1 MiB the server is woken a quarter as often as at 256 KiB, which measured 10%
    // more throughput (docs/performance.md); at 2 MiB the packets no longer stay in
    // the cache between sealing and writing, and it is slower again.
    let mut inbuf = vec![0u8; 1024 * 1024];
    // Bytes read from stdin that the peer's window has not taken yet.
    let mut held: Vec<u8> = Vec::new();
    let mut exit: Option<u8> = None;
    // The session channel closed while X11 connections were still open.
    let mut session_closed = false;
    let mut request_answered = false;
    // ServerAliveInterval: with nothing from the server for that long, send a
    // keepalive@openssh.com request; more than ServerAliveCountMax unanswered ends it.
    let alive = (o.server_alive_interval > 0)
        .then(|| std::time::Duration::from_secs(o.server_alive_interval as u64));
    let mut alive_deadline = alive.map(|i| tokio::time::Instant::now() + i);
    let mut alive_misses: i32 = 0;
    let mut signals = Quit::new();
    loop {
        // Packets the transport has taken in (on a read, or while a flush waited).
        if take_transport_events(conn, chans)? {
            if let Some(i) = alive {
                alive_misses = 0;
                alive_deadline = Some(tokio::time::Instant::now() + i);
            }
        }
        // Deliver channel events.
        while let Some(ev) = chans.poll_event() {
            match ev {
                ev if crate::tun::channel_of(&ev).is_some_and(|x| tunnel.owns(x)) => {
                    tunnel.event(chans, &mut conn.t, ev)?;
                }
                // The server's channels: X11 connections (anything else is refused).
                ChannelEvent::OpenRequest { id: x, kind, data } => {
                    x11.open_request(chans, &mut conn.t, x, &kind, &data)?;
                }
                ChannelEvent::Data { id: x, data, .. } if x != id => {
                    x11.data(chans, &mut conn.t, x, data)?;
                }
                ChannelEvent::Eof { id: x } if x != id => x11.eof(x),
                ChannelEvent::Closed { id: x } if x != id => x11.closed(x),
                ChannelEvent::Request {
                    id: x,
                    want_reply: true,
                    ..
                } if x != id => chans.reply(&mut conn.t, x, false)?,
                ChannelEvent::Request { id: x, .. } if x != id => {}
                ChannelEvent::Data { data, ext, .. } => {
                    let r = if ext == Some(1) {
                        match stderr.write_all(&data).await {
                            Ok(()) => stderr.flush().await,
                            Err(e) => Err(e),
                        }
                    } else {
                        match stdout.write_all(&data).await {
                            Ok(()) => stdout.flush().await,
                            Err(e) => Err(e),
                        }
                    };
                    if let Err(e) = r {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            // A closed stdout is not an error: stop reading from the peer.
                            chans.close(&mut conn.t, id)?;
                        } else {
                            return Err(e.into());
                        }
                    }
                    chans.consumed(&mut conn.t, id, data.len())?;
                    conn.t.recycle(data);
                }
                ChannelEvent::RequestResult { success, .. } if !request_answered => {
                    request_answered = true;
                    if !success {
                        return Err(Failure::Message(format!(
                            "{what} request failed on channel {id}"
                        )));
                    }
                }
                ChannelEvent::Request {
                    name,
                    want_reply,
                    data,
                    ..
                } => {
                    let mut r = Reader::new(&data);
                    match name.as_str() {
                        "exit-status" => {
                            let s = r.u32().unwrap_or(255);
                            exit = Some((s & 0xff) as u8);
                            tracing::debug!(
                                "client_input_channel_req: channel {id} rtype exit-status reply 0"
                            );
                        }
                        "exit-signal" => {
                            // OpenSSH's ssh exits 255 when the remote command was killed.
                            exit = Some(255);
                        }
                        // The remote command closed its stdin: stop sending it ours
                        // (what is still held is dropped) and say EOF, as OpenSSH's
                        // chan_rcvd_eow does.
                        "eow@openssh.com" => {
                            tracing::trace!("channel {id}: rcvd eow");
                            stdin_open = false;
                            held.clear();
                        }
                        _ => {
                            if want_reply {
                                chans.reply(&mut conn.t, id, false)?;
                            }
                        }
                    }
                }
                ChannelEvent::Eof { .. } => {}
                ChannelEvent::Closed { .. } => {
                    let _ = stdout.flush().await;
                    let _ = stderr.flush().await;
                    let _ = conn.flush().await;
                    // As OpenSSH: X11 connections and the tunnel, while open, keep
                    // ssh (and the programs on the server using them) going.
                    if x11.is_empty() && !tunnel.is_open() {
                        return Ok(exit.unwrap_or(255));
                    }
                    session_closed = true;
                    stdin_open = false;
                    held.clear();
                }
                ChannelEvent::GlobalRequest {
                    name,
                    want_reply,
                    data,
                } => g.request(conn, chans, &name, want_reply, &data)?,
                ChannelEvent::GlobalResult { success, data } => g.result(conn, success, &data),
                _ => {}
            }
        }
        x11.progress(chans, &mut conn.t)?;
        // Push held stdin data as the window allows; EOF once all of it went out.
        if !held.is_empty() {
            let n = chans.send_data(&mut conn.t, id, None, &held)?;
            held.drain(..n);
        }
        if session_closed {
            if x11.is_empty() && !tunnel.is_open() {
                let _ = conn.flush().await;
                return Ok(exit.unwrap_or(255));
            }
        } else if !stdin_open && held.is_empty() {
            chans.send_eof(&mut conn.t, id)?;
        }
        conn.flush().await?;
        let can_read_stdin = stdin_open
            && held.is_empty()
            && chans.send_capacity(id) > 0
            && conn.t.backlog() < 1 << 20;
        let rekey_at = conn.t.next_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            r = conn.read_some() => {
                if let Err(e) = r {
                    let _ = stdout.flush().await;
                    let _ = stderr.flush().await;
                    return Err(Failure::Message(match e {
                        oxssh_net::Error::Closed => format!("Connection to {} closed by remote host.", t.host),
                        e => connection_error(&e, t),
                    }));
                }
            }
            Some(m) = x11.recv() => x11.handle(chans, &mut conn.t, m)?,
            Some(m) = tunnel.recv() => tunnel.handle(chans, &mut conn.t, m)?,
            sig = signals.recv() => {
                let _ = stdout.flush().await;
                let _ = stderr.flush().await;
                return Ok(quit(conn, sig, false).await);
            }
            Some(()) = async { match winch.as_mut() { Some(w) => w.recv().await, None => std::future::pending().await } } => {
                if let Some(size) = oxssh_sys::tty::window_size(std::io::stdin().as_raw_fd()) {
                    let mut d = Vec::new();
                    put_size(&mut d, size);
                    chans.request(&mut conn.t, id, "window-change", false, &d)?;
                }
            }
            () = sleep_until(rekey_at), if rekey_at.is_some() => {
                // RekeyLimit's time limit.
                conn.t.handle_timeout(std::time::Instant::now())?;
            }
            () = sleep_until(alive_deadline), if alive_deadline.is_some() => {
                alive_misses += 1;
                if alive_misses > o.server_alive_count_max {
                    return Err(Failure::Message(format!(
                        "Timeout, server {} not responding.",
                        t.host
                    )));
                }
                g.keepalive(conn, chans)?;
                alive_deadline = alive.map(|i| tokio::time::Instant::now() + i);
            }
            r = read_ready(direct_in.as_ref()), if can_read_stdin && direct_in.is_some() => {
                match r {
                    Err(_) => stdin_open = false,
                    Ok(mut ready) => {
                        let mut eof = false;
                        chans.send_data_from(&mut conn.t, id, inbuf.len(), |out, max| {
                            match ready.append(out, max) {
                                Ok(0) => {
                                    eof = true;
                                    0
                                }
                                Ok(n) => n,
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                                Err(_) => {
                                    eof = true;
                                    0
                                }
                            }
                        })?;
                        if eof {
                            stdin_open = false;
                        }
                    }
                }
            }
            r = stdin.read(&mut inbuf), if can_read_stdin && direct_in.is_none() => {
                match r {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                    }
                    Ok(n) => {
                        let mut data = inbuf.get(..n).unwrap_or_default();
                        if let Some(e) = escape.as_mut() {
                            typed.clear();
                            actions.clear();
                            e.filter(data, &mut typed, &mut actions);
                            data = &typed;
                        }
                        let sent = chans.send_data(&mut conn.t, id, None, data)?;
                        held.extend_from_slice(data.get(sent..).unwrap_or_default());
                        for a in actions.drain(..) {
                            match a {
                                crate::escape::Action::Disconnect => {
                                    let _ = stdout.flush().await;
                    let _ = stderr.flush().await;
                                    let _ = conn.t.send_disconnect(
                                        oxssh_proto::msg::disconnect::BY_APPLICATION,
                                        "disconnected by user",
                                    );
                                    let _ = conn.flush().await;
                                    return Err(Failure::Message(format!("Connection to {} closed.", t.host)));
                                }
                                crate::escape::Action::Help => {
                                    let _ = stderr.write_all(crate::escape::HELP.as_bytes()).await;
                                }
                                crate::escape::Action::Rekey => conn.t.rekey()?,
                                crate::escape::Action::Break => {
                                    let mut d = Vec::new();
                                    d.put_u32(1000);
                                    chans.request(&mut conn.t, id, "break", false, &d)?;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
