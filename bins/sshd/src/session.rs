//! After authentication: the connection protocol for one user (RFC 4254 §6). Each
//! "session" channel runs the user's command (`$SHELL -c command`, the shell itself as
//! a login shell, or a Subsystem) as the user, in a new session (setsid), with
//! stdin/stdout/stderr bound to the channel — or, after a `pty-req`, to a
//! pseudo-terminal whose master carries the channel's data both ways (no stderr
//! stream), with the client's terminal modes, window size (`window-change`) and TERM,
//! and the slave as the child's controlling terminal. `signal` and `break` requests go
//! to the child's process group and the pty. Child output is read by one task per
//! stream with at most one chunk in flight, so a channel whose peer window is full
//! stalls only its own child; data for a child's stdin goes through a per-channel
//! writer task and is reported consumed (window adjust) once written. The exit status
//! is sent once all output is (a pty is drained until EIO).
//!
//! With ExposeAuthInfo, `SSH_USER_AUTH` names a file listing the methods the user
//! authenticated with (`authinfo`), removed when the connection ends.
//!
//! Pty sessions get login records (utmp, wtmp, lastlog) through the root monitor, and
//! an interactive login shows /etc/motd (PrintMotd) and "Last login:" (PrintLastLog).
//!
//! Port forwarding channels and global requests go to `forward.rs` first.
//!
//! Before the command, `~/.ssh/rc` (or `/etc/ssh/sshrc`) runs as OpenSSH runs it.
//! After an `x11-req`, the session gets DISPLAY and the client's authentication
//! protocol and cookie go to that rc file on its stdin, or, without one, to
//! `xauth add` for the display.
//! The connection's clocks (ClientAlive, ChannelTimeout, UnusedConnectionTimeout,
//! RekeyLimit's time) are kept by `timers`.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use oxssh_net::Conn;
use oxssh_proto::connection::{ChannelEvent, ChannelId, Connection, open_failure};
use oxssh_proto::transport::Event;
use oxssh_proto::wire::{Put, Reader};
use oxssh_sys::pty::AsyncMaster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::config::ServerConfig;
use crate::conn::{Peer, Stream, User};
use crate::forward::Forwarder;

mod authinfo;
mod timers;

/// Messages from the per-child tasks to the connection loop.
enum FromChild {
    /// Output of a child (ext = Some(1) for stderr); acknowledged, with the emptied
    /// buffer for the next read, once the channel took it all.
    Output {
        id: ChannelId,
        ext: Option<u32>,
        data: Vec<u8>,
        ack: oneshot::Sender<Vec<u8>>,
    },
    /// A stream of the child reached EOF.
    OutputDone { id: ChannelId },
    /// The child took this data (written to its stdin or pty): the window may grow,
    /// and the buffer goes back to the transport.
    Consumed { id: ChannelId, buf: Vec<u8> },
    /// Writing to the child's stdin failed (it closed it): the peer is told to stop
    /// sending with `eow@openssh.com`, as OpenSSH's chan_write_failed does.
    StdinClosed { id: ChannelId },
    /// The child exited: (status, signal name).
    Exited {
        id: ChannelId,
        status: Option<i32>,
        signal: Option<String>,
    },
}

/// Output waiting for window: (extended data type, bytes, acknowledgement).
type Held = (Option<u32>, Vec<u8>, Option<oneshot::Sender<Vec<u8>>>);

/// A session's pseudo-terminal, from `pty-req` on.
struct Pty {
    /// The master, shared by the reader and writer tasks once the child runs.
    master: Arc<AsyncMaster>,
    /// The slave, until it is handed to the child (then ours is closed, so the master
    /// reads EIO once the child's side is all closed).
    slave: Option<OwnedFd>,
    name: PathBuf,
    /// The tasks holding the master: aborted when the session goes, which closes the
    /// master and so hangs up the terminal (SIGHUP), as OpenSSH's pty cleanup does.
    tasks: Vec<tokio::task::AbortHandle>,
    /// The task writing channel data into the master: stopped when the child exits.
    writer: Option<tokio::task::AbortHandle>,
}

impl Drop for Pty {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(&self.writer) {
            t.abort();
        }
    }
}

#[derive(Default)]
struct Session {
    env: Vec<(String, String)>,
    pty: Option<Pty>,
    term: Option<String>,
    /// The child's pid (its process group: it is a session leader).
    pid: Option<u32>,
    /// Whether `signal` requests may reach the child (not for forced commands or
    /// subsystems, as in OpenSSH).
    signals_ok: bool,
    stdin: Option<mpsc::UnboundedSender<Option<Vec<u8>>>>,
    started: bool,
    /// Output waiting for the peer's window, and whom to tell when it is gone.
    held: Vec<Held>,
    streams_open: u8,
    exit: Option<(Option<i32>, Option<String>)>,
    closed: bool,
    /// ExposeAuthInfo: the file for SSH_USER_AUTH.
    auth_info: Option<PathBuf>,
    /// The forwarded agent's socket, for SSH_AUTH_SOCK.
    auth_sock: Option<String>,
    /// The connection's tunnel interfaces so far, for SSH_TUNNEL.
    tunnel: Option<String>,
    /// X11 forwarding, once `x11-req` set it up.
    x11: Option<X11>,
}

/// A session's forwarded X11 display (OpenSSH's `session_setup_x11fwd`).
struct X11 {
    /// The display number (its TCP port less 6000).
    number: u32,
    /// DISPLAY for the session: `localhost:N.S` (X11UseLocalhost), else `host:N.S`.
    display: String,
    /// The name xauth files the cookie under: `unix:N.S` for a localhost display.
    auth_display: String,
    /// The client's authentication protocol and (fake) cookie, in hex.
    proto: String,
    cookie: String,
}

/// `xauth_valid_string`: what may reach the xauth command line (alphanumerics and
/// `.:/-_`), so that nothing the client sends is ever interpreted by a shell.
fn xauth_valid(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".:/-_".contains(&b))
}

/// `x11-req` (OpenSSH's `session_x11_req` and `session_setup_x11fwd`): checked against
/// the key's options, X11Forwarding, DisableForwarding and XAuthLocation, then a
/// display is allocated whose connections the forwarder turns into `x11` channels.
fn x11_request(
    s: &mut Session,
    id: ChannelId,
    data: &[u8],
    cfg: &ServerConfig,
    user: &User,
    fwd: &mut Forwarder,
    t: &mut oxssh_proto::transport::Transport,
) -> bool {
    if s.x11.is_some() {
        tracing::error!("session_x11_req: session {id}: x11 forwarding already active");
        return false;
    }
    let mut r = Reader::new(data);
    let (Ok(single), Ok(proto), Ok(cookie), Ok(screen)) = (r.bool(), r.utf8(), r.utf8(), r.u32())
    else {
        return false;
    };
    if !xauth_valid(proto) || !xauth_valid(cookie) {
        tracing::error!("Invalid X11 forwarding data");
        return false;
    }
    let debug_to_client = |t: &mut oxssh_proto::transport::Transport, text: &str| {
        let mut m = Vec::with_capacity(16 + text.len());
        m.put_u8(oxssh_proto::msg::DEBUG);
        m.put_bool(false);
        m.put_str(text);
        m.put_str("");
        let _ = t.send(&m);
    };
    if user
        .key_options
        .as_ref()
        .is_some_and(|o| o.no_x11_forwarding)
    {
        debug_to_client(t, "X11 forwarding disabled by key options.");
        return false;
    }
    if !cfg.x11_forwarding || cfg.disable_forwarding {
        tracing::debug!("X11 forwarding disabled in server configuration file.");
        return false;
    }
    let xauth_ok = cfg
        .xauth_location
        .as_deref()
        .is_some_and(|x| !x.contains('\'') && std::fs::metadata(x).is_ok());
    if !xauth_ok {
        debug_to_client(t, "No xauth program; cannot forward X11.");
        return false;
    }
    let offset = u32::try_from(cfg.x11_display_offset).unwrap_or(u32::MAX);
    let Some(n) = fwd.x11_listen(offset, cfg.x11_use_localhost, single) else {
        tracing::debug!("x11_create_display_inet failed.");
        return false;
    };
    let (display, auth_display) = if cfg.x11_use_localhost {
        (
            format!("localhost:{n}.{screen}"),
            format!("unix:{n}.{screen}"),
        )
    } else {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        let d = format!("{host}:{n}.{screen}");
        (d.clone(), d)
    };
    s.x11 = Some(X11 {
        number: n,
        display,
        auth_display,
        proto: proto.to_owned(),
        cookie: cookie.to_owned(),
    });
    true
}

fn signal_name(sig: i32) -> String {
    match sig {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        6 => "ABRT",
        8 => "FPE",
        9 => "KILL",
        10 => "USR1",
        11 => "SEGV",
        12 => "USR2",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => "KILL",
    }
    .to_owned()
}

/// RFC 4254 §6.10 signal names (without "SIG") to numbers.
fn signal_number(name: &str) -> Option<i32> {
    Some(match name {
        "ABRT" => libc_sig::ABRT,
        "ALRM" => libc_sig::ALRM,
        "FPE" => libc_sig::FPE,
        "HUP" => libc_sig::HUP,
        "ILL" => libc_sig::ILL,
        "INT" => libc_sig::INT,
        "KILL" => libc_sig::KILL,
        "PIPE" => libc_sig::PIPE,
        "QUIT" => libc_sig::QUIT,
        "SEGV" => libc_sig::SEGV,
        "TERM" => libc_sig::TERM,
        "USR1" => libc_sig::USR1,
        "USR2" => libc_sig::USR2,
        _ => return None,
    })
}

/// Linux signal numbers (the same table as `signal_name`).
mod libc_sig {
    pub const HUP: i32 = 1;
    pub const INT: i32 = 2;
    pub const QUIT: i32 = 3;
    pub const ILL: i32 = 4;
    pub const ABRT: i32 = 6;
    pub const FPE: i32 = 8;
    pub const KILL: i32 = 9;
    pub const USR1: i32 = 10;
    pub const SEGV: i32 = 11;
    pub const USR2: i32 = 12;
    pub const PIPE: i32 = 13;
    pub const ALRM: i32 = 14;
    pub const TERM: i32 = 15;
}

pub async fn run(
    mut conn: Conn<Stream>,
    cfg: &ServerConfig,
    peer: &Peer,
    user: &User,
    host_keys: &[ssh_key::PrivateKey],
) -> Result<(), String> {
    // Lives as long as the connection: dropping it removes the file.
    let auth_file = if cfg.expose_auth_info {
        authinfo::AuthInfoFile::create(
            std::path::Path::new("/tmp"),
            &user.auth_info,
            user.pw.uid,
            user.pw.gid,
        )
    } else {
        None
    };
    let mut chans = Connection::new();
    let mut sessions: HashMap<ChannelId, Session> = HashMap::new();
    // no-more-sessions@openssh.com received: a further session is an attack.
    let mut no_more_sessions = false;
    let (tx, mut rx) = mpsc::unbounded_channel::<FromChild>();
    let err = |e: oxssh_proto::Error| e.to_string();
    let mut clocks = timers::Timers::new(cfg, tokio::time::Instant::now());
    // sshpkt_fmt_connection_id, for the lines that end the connection.
    let conn_id = format!("user {} {} port {}", user.pw.name, peer.ip(), peer.port());
    // Port forwarding: its listeners and channels go when this returns.
    let mut fwd = Forwarder::new(user, peer);
    loop {
        // Packets the transport has taken in (on a read, or while a flush waited).
        while let Some(ev) = conn.t.poll_event() {
            if let Event::Packet(p) = ev {
                if p.first().is_some_and(|&t| (80..=100).contains(&t)) {
                    chans.handle_owned(&mut conn.t, p).map_err(err)?;
                } else {
                    tracing::debug!("unexpected message {:?} after authentication", p.first());
                }
            }
        }
        // Act on channel events.
        while let Some(ev) = chans.poll_event() {
            // ChannelTimeout's view of every channel, forwarding ones included.
            let now = tokio::time::Instant::now();
            match &ev {
                ChannelEvent::OpenRequest { id, kind, .. } if kind != "session" => {
                    // A tunnel is `tun-connection` to ChannelTimeout (sshd_config(5)).
                    let kind = if kind == "tun@openssh.com" {
                        "tun-connection"
                    } else {
                        kind
                    };
                    clocks.opened(*id, kind, now);
                }
                ChannelEvent::Opened { id } => {
                    if let Some(kind) = fwd.kind_of(*id) {
                        clocks.opened(*id, kind, now);
                    }
                }
                ChannelEvent::Data { id, .. } => {
                    clocks.used(*id, now);
                    crate::conn::stop_quickack();
                }
                ChannelEvent::Closed { id } => clocks.closed(*id),
                _ => {}
            }
            let Some(ev) = fwd.intercept(&mut chans, &mut conn.t, ev).map_err(err)? else {
                continue;
            };
            match ev {
                ChannelEvent::OpenRequest { id, kind, .. } => {
                    if kind == "session" && no_more_sessions {
                        let m = "Possible attack: attempt to open a session after additional sessions disabled";
                        let _ = conn
                            .t
                            .send_disconnect(oxssh_proto::msg::disconnect::PROTOCOL_ERROR, m);
                        let _ = conn.flush().await;
                        return Err(m.to_owned());
                    }
                    let max = usize::try_from(cfg.max_sessions).unwrap_or(0);
                    if kind == "session" && sessions.len() < max {
                        chans.accept(&mut conn.t, id).map_err(err)?;
                        clocks.opened(id, "session", tokio::time::Instant::now());
                        let auth_info = auth_file.as_ref().map(|f| f.path().to_path_buf());
                        sessions.insert(
                            id,
                            Session {
                                auth_info,
                                ..Session::default()
                            },
                        );
                    } else if kind == "session" {
                        chans
                            .reject(
                                &mut conn.t,
                                id,
                                open_failure::RESOURCE_SHORTAGE,
                                "too many sessions",
                            )
                            .map_err(err)?;
                    } else {
                        chans
                            .reject(
                                &mut conn.t,
                                id,
                                open_failure::ADMINISTRATIVELY_PROHIBITED,
                                "open failed",
                            )
                            .map_err(err)?;
                    }
                }
                ChannelEvent::Request {
                    id,
                    name,
                    want_reply,
                    data,
                } => {
                    let ok = match sessions.get_mut(&id) {
                        Some(_) if name == "auth-agent-req@openssh.com" => fwd.agent_request(),
                        Some(s) if name == "x11-req" && !s.started => {
                            x11_request(s, id, &data, cfg, user, &mut fwd, &mut conn.t)
                        }
                        Some(s) => {
                            s.auth_sock = fwd.agent_path().map(str::to_owned);
                            s.tunnel = fwd.tun_names();
                            handle_request(s, id, &name, &data, cfg, peer, user, &tx)
                        }
                        None => false,
                    };
                    if ok {
                        if let Some(xtype) = session_xtype(&name, &data) {
                            clocks.label(id, &xtype);
                        }
                    }
                    if want_reply {
                        chans.reply(&mut conn.t, id, ok).map_err(err)?;
                    }
                }
                ChannelEvent::Data {
                    id,
                    data,
                    ext: None,
                } => match sessions.get(&id).and_then(|s| s.stdin.as_ref()) {
                    Some(w) => {
                        let _ = w.send(Some(data));
                    }
                    None => {
                        chans.consumed(&mut conn.t, id, data.len()).map_err(err)?;
                        conn.t.recycle(data);
                    }
                },
                ChannelEvent::Data { id, data, .. } => {
                    chans.consumed(&mut conn.t, id, data.len()).map_err(err)?;
                    conn.t.recycle(data);
                }
                ChannelEvent::Eof { id } => {
                    if let Some(s) = sessions.get_mut(&id) {
                        if let Some(w) = s.stdin.take() {
                            let _ = w.send(None);
                        }
                    }
                }
                ChannelEvent::WindowAdjusted { id } => {
                    if let Some(s) = sessions.get_mut(&id) {
                        flush_held(&mut chans, &mut conn, id, s).map_err(err)?;
                    }
                }
                ChannelEvent::Closed { id } => {
                    if let Some(mut s) = sessions.remove(&id) {
                        s.closed = true;
                        if let Some(x) = &s.x11 {
                            fwd.x11_close(x.number);
                        }
                    }
                }
                // Answers to our keepalive probes.
                ChannelEvent::RequestResult { .. } | ChannelEvent::GlobalResult { .. } => {
                    clocks.answered();
                }
                ChannelEvent::GlobalRequest {
                    name,
                    want_reply,
                    data,
                } => {
                    tracing::debug!(
                        "server_input_global_request: rtype {name} want_reply {}",
                        u8::from(want_reply)
                    );
                    if name == "no-more-sessions@openssh.com" {
                        no_more_sessions = true;
                    }
                    // keepalive@openssh.com and unknown requests get a failure reply.
                    let proof = (name == "hostkeys-prove-00@openssh.com")
                        .then(|| {
                            let sid = conn.t.session_id().unwrap_or_default();
                            crate::conn::hostkeys::prove(host_keys, &data, sid, conn.host_key_alg)
                        })
                        .flatten();
                    if want_reply {
                        let ok = proof.is_some();
                        let body = proof.unwrap_or_default();
                        chans.global_reply(&mut conn.t, ok, &body).map_err(err)?;
                    }
                }
                _ => {}
            }
        }
        // Finish sessions whose child exited and whose output is all sent.
        let done: Vec<ChannelId> = sessions
            .iter()
            .filter(|(_, s)| {
                s.exit.is_some() && s.streams_open == 0 && s.held.is_empty() && !s.closed
            })
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            if let Some(s) = sessions.get_mut(&id) {
                s.closed = true;
                let mut d = Vec::new();
                match &s.exit {
                    Some((Some(code), _)) => {
                        d.put_u32(*code as u32);
                        chans
                            .request(&mut conn.t, id, "exit-status", false, &d)
                            .map_err(err)?;
                    }
                    Some((None, Some(sig))) => {
                        d.put_str(sig);
                        d.put_bool(false);
                        d.put_str("");
                        d.put_str("");
                        chans
                            .request(&mut conn.t, id, "exit-signal", false, &d)
                            .map_err(err)?;
                    }
                    _ => {}
                }
                chans.send_eof(&mut conn.t, id).map_err(err)?;
                chans.close(&mut conn.t, id).map_err(err)?;
                clocks.closed(id);
            }
        }
        conn.flush().await.map_err(|e| e.to_string())?;
        let now = tokio::time::Instant::now();
        let deadline = [
            clocks.deadline(chans.open_channels() > 0, now),
            conn.t.next_timeout().map(tokio::time::Instant::from_std),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            () = sleep_until(deadline), if deadline.is_some() => {
                conn.t.handle_timeout(std::time::Instant::now()).map_err(err)?;
                let open = chans.open_channels() > 0;
                for due in clocks.due(open, tokio::time::Instant::now()) {
                    match due {
                        timers::Due::ChannelIdle(id, secs) if chans.is_open(id) => {
                            tracing::info!("channel {id}: closing after {secs} seconds of inactivity");
                            if let Some(s) = sessions.get_mut(&id) {
                                s.closed = true;
                                s.stdin = None;
                                for (_, _, ack) in s.held.drain(..) {
                                    if let Some(a) = ack {
                                        let _ = a.send(Vec::new());
                                    }
                                }
                            }
                            chans.send_eof(&mut conn.t, id).map_err(err)?;
                            chans.close(&mut conn.t, id).map_err(err)?;
                        }
                        timers::Due::ChannelIdle(..) => {}
                        timers::Due::Probe => match chans.first_open() {
                            Some(id) => chans.request(&mut conn.t, id, "keepalive@openssh.com", true, &[]).map_err(err)?,
                            None => chans.global_request(&mut conn.t, "keepalive@openssh.com", true, &[]).map_err(err)?,
                        },
                        timers::Due::ClientGone => {
                            tracing::info!("Timeout, client not responding from {conn_id}");
                            return Err(String::new());
                        }
                        timers::Due::Unused => {
                            tracing::info!("terminating inactive connection from {conn_id}");
                            return Err(String::new());
                        }
                    }
                }
            }
            r = conn.read_some() => {
                clocks.heard(tokio::time::Instant::now());
                match r {
                    Ok(()) => {}
                    Err(oxssh_net::Error::Closed) => {
                        tracing::info!("Connection closed by {} port {}", peer.ip(), peer.port());
                        return Ok(());
                    }
                    Err(oxssh_net::Error::Proto(oxssh_proto::Error::Disconnected { code, description })) => {
                        tracing::info!("Received disconnect from {} port {}:{code}: {description}", peer.ip(), peer.port());
                        tracing::info!("Disconnected from user {} {} port {}", user.pw.name, peer.ip(), peer.port());
                        return Ok(());
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            Some(m) = fwd.recv() => {
                if let Some(id) = m.data_channel() {
                    clocks.used(id, tokio::time::Instant::now());
                }
                fwd.handle(&mut chans, &mut conn.t, m).map_err(err)?;
            }
            Some(m) = rx.recv() => {
                match m {
                    FromChild::Output { id, ext, data, ack } => {
                        clocks.used(id, tokio::time::Instant::now());
                        match sessions.get_mut(&id) {
                            Some(s) if !s.closed => {
                                s.held.push((ext, data, Some(ack)));
                                flush_held(&mut chans, &mut conn, id, s).map_err(err)?;
                            }
                            _ => { let _ = ack.send(Vec::new()); }
                        }
                    }
                    FromChild::OutputDone { id } => {
                        if let Some(s) = sessions.get_mut(&id) {
                            s.streams_open = s.streams_open.saturating_sub(1);
                        }
                    }
                    FromChild::Consumed { id, buf } => {
                        chans.consumed(&mut conn.t, id, buf.len()).map_err(err)?;
                        conn.t.recycle(buf);
                    }
                    // Only OpenSSH-derived peers know the request (OpenSSH sends it to
                    // those alone, SSH_NEW_OPENSSH); others see the EOF of the session.
                    FromChild::StdinClosed { id } => {
                        let openssh = conn.t.peer_version().is_some_and(|v| {
                            let sw = v.splitn(3, '-').nth(2).unwrap_or("");
                            sw.starts_with("OpenSSH") || sw.starts_with("oxssh")
                        });
                        if openssh && chans.is_open(id) {
                            tracing::trace!("channel {id}: write failed");
                            chans
                                .request(&mut conn.t, id, "eow@openssh.com", false, &[])
                                .map_err(err)?;
                        }
                    }
                    FromChild::Exited { id, status, signal } => {
                        if let Some(s) = sessions.get_mut(&id) {
                            s.exit = Some((status, signal));
                            // As OpenSSH (chan_write_failed): nobody reads what we would
                            // write now. Data still arriving is consumed and dropped; a
                            // pty stops taking input, or its echo of a flood (ssh -tt
                            // < /dev/zero) would keep the master from ever reading EIO.
                            s.stdin = None;
                            if let Some(w) = s.pty.as_mut().and_then(|p| p.writer.take()) {
                                w.abort();
                            }
                            if let (Some(m), Some(pid), true) = (&user.monitor, s.pid, s.pty.is_some()) {
                                m.logout(pid);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// OpenSSH's channel type label for a session once `request` started it, which
/// ChannelTimeout patterns match: `session:command`, `session:shell` or
/// `session:subsystem:NAME`.
fn session_xtype(request: &str, data: &[u8]) -> Option<String> {
    match request {
        "exec" => Some("session:command".to_owned()),
        "shell" => Some("session:shell".to_owned()),
        "subsystem" => {
            let name = Reader::new(data).utf8().ok()?;
            Some(format!("session:subsystem:{name}"))
        }
        _ => None,
    }
}

/// Sleep until `at`; never, without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Send held output as the window allows; acknowledge chunks that went out whole.
fn flush_held(
    chans: &mut Connection,
    conn: &mut Conn<Stream>,
    id: ChannelId,
    s: &mut Session,
) -> Result<(), oxssh_proto::Error> {
    while let Some((ext, data, ack)) = s.held.first_mut() {
        let n = chans.send_data(&mut conn.t, id, *ext, data)?;
        data.drain(..n);
        if !data.is_empty() {
            return Ok(());
        }
        if let Some(a) = ack.take() {
            let _ = a.send(std::mem::take(data));
        }
        s.held.remove(0);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn handle_request(
    s: &mut Session,
    id: ChannelId,
    name: &str,
    data: &[u8],
    cfg: &ServerConfig,
    peer: &Peer,
    user: &User,
    tx: &mpsc::UnboundedSender<FromChild>,
) -> bool {
    let mut r = Reader::new(data);
    match name {
        "env" => {
            let (Ok(k), Ok(v)) = (r.utf8(), r.utf8()) else {
                return false;
            };
            let accepted = cfg
                .accept_env
                .iter()
                .any(|p| oxssh_keys::pattern::glob(p, k));
            if accepted {
                s.env.push((k.to_owned(), v.to_owned()));
            }
            accepted
        }
        "pty-req" => {
            if user.key_options.as_ref().is_some_and(|o| o.no_pty) || !cfg.permit_tty {
                tracing::debug!("Allocating a pty not permitted for this connection.");
                return false;
            }
            if s.pty.is_some() || s.started {
                tracing::error!("session_pty_req: session {} already has a pty", id);
                return false;
            }
            let (Ok(term), Ok(cols), Ok(rows), Ok(xpixel), Ok(ypixel), Ok(modes)) =
                (r.string(), r.u32(), r.u32(), r.u32(), r.u32(), r.string())
            else {
                return false;
            };
            match allocate_pty(term, (cols, rows, xpixel, ypixel), modes, user) {
                Ok((pty, term)) => {
                    tracing::debug!(
                        "session_pty_req: session {} alloc {}",
                        id,
                        pty.name.display()
                    );
                    s.term = term;
                    s.pty = Some(pty);
                    true
                }
                Err(e) => {
                    tracing::error!("session_pty_req: session {}: {e}", id);
                    false
                }
            }
        }
        "window-change" => {
            let (Ok(cols), Ok(rows), Ok(xpixel), Ok(ypixel)) = (r.u32(), r.u32(), r.u32(), r.u32())
            else {
                return false;
            };
            match &s.pty {
                Some(p) => {
                    oxssh_sys::pty::set_window_size(p.master.fd(), cols, rows, xpixel, ypixel)
                        .is_ok()
                }
                None => false,
            }
        }
        "break" => match &s.pty {
            Some(p) => oxssh_sys::pty::send_break(p.master.fd()).is_ok(),
            None => false,
        },
        "signal" => {
            let Ok(name) = r.utf8() else { return false };
            let Some(sig) = signal_number(name) else {
                tracing::error!("session_signal_req: unsupported signal \"{name}\"");
                return false;
            };
            let Some(pid) = s.pid.filter(|_| s.exit.is_none()) else {
                tracing::error!("session_signal_req: no pid for session {}", id);
                return false;
            };
            if !s.signals_ok {
                tracing::error!(
                    "session_signal_req: refusing to send signal {name} to forced-command or subsystem session"
                );
                return false;
            }
            tracing::debug!("session_signal_req: signal {name}, killpg({pid}, {sig})");
            oxssh_sys::pty::killpg_as(pid, sig, user.pw.uid).is_ok()
        }
        "shell" | "exec" | "subsystem" if !s.started => {
            let mut subsystem = None;
            let command = match name {
                "exec" => match r.string() {
                    Ok(c) => Some(String::from_utf8_lossy(c).into_owned()),
                    Err(_) => return false,
                },
                "subsystem" => {
                    let Ok(sub) = r.utf8() else { return false };
                    subsystem = Some(sub);
                    match cfg.subsystems.iter().find(|s| s.name == sub) {
                        Some(s) => Some(s.args.clone()),
                        None => {
                            tracing::error!(
                                "subsystem request for {sub} by user {} failed, subsystem not found",
                                user.pw.name
                            );
                            return false;
                        }
                    }
                }
                _ => None,
            };
            s.started = true;
            // Unforced commands are not logged, for privacy (as OpenSSH).
            let what = match (&user.forced_command, subsystem, &command) {
                (Some(f), _, _) => {
                    let from = if cfg.force_command.is_some() {
                        "(config)"
                    } else {
                        "(key-option)"
                    };
                    format!("forced-command {from} '{f}'")
                }
                (None, Some(sub), _) => format!("subsystem '{sub}'"),
                (None, None, None) => "shell".to_owned(),
                (None, None, Some(_)) => "command".to_owned(),
            };
            let tty = s.pty.as_ref().map(|p| {
                let n = p.name.to_string_lossy();
                format!(" on {}", n.strip_prefix("/dev/").unwrap_or(&n))
            });
            tracing::info!(
                "Starting session: {what}{} for {} from {} port {} id {id}",
                tty.unwrap_or_default(),
                user.pw.name,
                peer.ip(),
                peer.port()
            );
            match spawn(s, id, command, name == "subsystem", cfg, peer, user, tx) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("session: {e}");
                    false
                }
            }
        }
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    s: &mut Session,
    id: ChannelId,
    command: Option<String>,
    is_subsystem: bool,
    cfg: &ServerConfig,
    peer: &Peer,
    user: &User,
    tx: &mpsc::UnboundedSender<FromChild>,
) -> std::io::Result<()> {
    let pw = &user.pw;
    let shell = if pw.shell.as_os_str().is_empty() {
        std::path::PathBuf::from("/bin/sh")
    } else {
        pw.shell.clone()
    };
    let original = command.clone();
    s.signals_ok = user.forced_command.is_none() && !is_subsystem;
    let command = user.forced_command.clone().or(command);
    let mut cmd = std::process::Command::new(&shell);
    match &command {
        Some(c) => {
            cmd.arg("-c").arg(c);
        }
        None => {
            // A login shell: argv[0] is "-" + the shell's name.
            use std::os::unix::process::CommandExt;
            let base = shell
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sh".into());
            cmd.arg0(format!("-{base}"));
        }
    }
    cmd.env_clear()
        .env("USER", &pw.name)
        .env("LOGNAME", &pw.name)
        .env("HOME", &pw.dir)
        .env("SHELL", &shell)
        .env(
            "PATH",
            if pw.uid == 0 {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            } else {
                "/usr/local/bin:/usr/bin:/bin:/usr/games"
            },
        )
        .env("MAIL", format!("/var/mail/{}", pw.name))
        .env(
            "SSH_CLIENT",
            format!("{} {} {}", peer.ip(), peer.port(), peer.local_port()),
        )
        .env(
            "SSH_CONNECTION",
            format!(
                "{} {} {} {}",
                peer.ip(),
                peer.port(),
                peer.local_ip(),
                peer.local_port()
            ),
        );
    if let (Some(_), Some(orig)) = (&user.forced_command, &original) {
        cmd.env("SSH_ORIGINAL_COMMAND", orig);
    }
    if let Ok(tz) = std::env::var("TZ") {
        cmd.env("TZ", tz);
    }
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    // PermitUserEnvironment: the key's environment= options, then ~/.ssh/environment.
    if cfg.permit_user_environment {
        let allowed = |name: &str| match &cfg.permit_user_environment_allowlist {
            Some(list) => oxssh_config::pattern::match_pattern_list(name, list, false) == 1,
            None => true,
        };
        let from_key = user
            .key_options
            .iter()
            .flat_map(|o| o.environment.iter().cloned());
        let file = std::fs::read_to_string(pw.dir.join(".ssh/environment")).unwrap_or_default();
        let from_file = file
            .lines()
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned);
        for kv in from_key.chain(from_file).take(1000) {
            match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() && allowed(k) => {
                    cmd.env(k, v);
                }
                Some(_) => {}
                None => tracing::debug!("Invalid line in environment file: {kv}"),
            }
        }
    }
    // UsePAM: what the session modules (pam_env, …) put in the PAM environment.
    for (k, v) in &user.pam_env {
        cmd.env(k, v);
    }
    if let Some(f) = &s.auth_info {
        cmd.env("SSH_USER_AUTH", f);
    }
    if let Some(sock) = &s.auth_sock {
        cmd.env("SSH_AUTH_SOCK", sock);
    }
    if let Some(names) = &s.tunnel {
        cmd.env("SSH_TUNNEL", names);
    }
    if let Some(x) = &s.x11 {
        cmd.env("DISPLAY", &x.display);
    }
    // The server's SetEnv wins over anything the client sent.
    for kv in &cfg.set_env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Home, or "/" when it is missing (silently inside a chroot, as OpenSSH).
    if pw.dir.is_dir() {
        cmd.current_dir(&pw.dir);
    } else {
        if !user.in_chroot {
            tracing::debug!("Could not chdir to home directory {}", pw.dir.display());
        }
        cmd.current_dir("/");
    }
    if let Some(pty) = &mut s.pty {
        let Some(slave) = pty.slave.take() else {
            return Err(std::io::Error::other("pty already in use"));
        };
        // do_login: an interactive login (no command) shows the last login, then the
        // motd, unless ~/.hushlogin exists; written to the terminal before the shell.
        if command.is_none() && !pw.dir.join(".hushlogin").exists() {
            let mut banner = String::new();
            if cfg.print_lastlog {
                if let Some((t, _, host)) = oxssh_sys::utmp::last_login(pw.uid) {
                    banner.push_str(&format!("Last login: {}", oxssh_sys::utmp::ctime(t)));
                    if !host.is_empty() {
                        banner.push_str(&format!(" from {host}"));
                    }
                    banner.push_str("\r\n");
                }
            }
            if cfg.print_motd {
                if let Ok(m) = std::fs::read_to_string("/etc/motd") {
                    banner.push_str(&m);
                }
            }
            if !banner.is_empty() {
                use std::io::Write;
                let _ = std::fs::File::from(slave.try_clone()?).write_all(banner.as_bytes());
            }
        }
        if let Some(term) = &s.term {
            cmd.env("TERM", term);
        }
        cmd.env("SSH_TTY", &pty.name)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // Before the switch to the user, as OpenSSH makes the controlling tty as root.
        oxssh_sys::pty::controlling_tty(&mut cmd);
    } else {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        oxssh_sys::pty::new_session(&mut cmd);
    }
    oxssh_sys::run_as_user(&mut cmd, &pw.name, pw.uid, pw.gid)?;
    // With X11 forwarding the rc file reads "proto cookie" on its stdin, as OpenSSH's
    // do_rc_files gives it; without one, xauth files the cookie for the display. The
    // strings were checked by `xauth_valid` and the xauth path has no quote.
    let rc = rc_script(user, cfg, &shell, is_subsystem);
    let script = match (&s.x11, rc) {
        (Some(x), Some(rc)) => Some(format!(
            "printf '%s %s\\n' '{}' '{}' | {rc}",
            x.proto, x.cookie
        )),
        (Some(x), None) => cfg.xauth_location.as_ref().map(|xauth| {
            format!(
                "printf 'remove %s\\nadd %s %s %s\\n' '{d}' '{d}' '{}' '{}' | '{xauth}' -q -",
                x.proto,
                x.cookie,
                d = x.auth_display
            )
        }),
        (None, rc) => rc,
    };
    if let Some(script) = script {
        let env: Vec<_> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect();
        oxssh_sys::run_first(&mut cmd, &script, &env)?;
    }
    // The command (and with it our copies of the pty slave) is dropped right here, so
    // the master reads EIO once the child's side is closed.
    let mut child = tokio::process::Command::from(cmd).spawn()?;
    s.pid = child.id();
    if let Some(pty) = &mut s.pty {
        if let (Some(m), Some(pid)) = (&user.monitor, s.pid) {
            m.login(pid, &pty.name);
        }
        s.streams_open = 1;
        let (wtx, wrx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
        s.stdin = Some(wtx);
        pty.writer = Some(spawn_pty_writer(pty.master.clone(), wrx, id, tx.clone()));
        pty.tasks
            .push(spawn_pty_reader(pty.master.clone(), id, tx.clone()));
    } else {
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("no pipes"));
        };
        // Room for bulk data both ways, so that we and the child take turns less often.
        oxssh_sys::stdio::grow_pipe(std::os::fd::AsFd::as_fd(&stdin));
        oxssh_sys::stdio::grow_pipe(std::os::fd::AsFd::as_fd(&stdout));
        // Child stdin writer.
        let (wtx, mut wrx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
        s.stdin = Some(wtx);
        let t = tx.clone();
        tokio::spawn(async move {
            // Whatever has arrived by the time the pipe takes more goes in one write.
            let mut batch: Vec<Vec<u8>> = Vec::new();
            let mut eof = false;
            while !eof {
                match wrx.recv().await {
                    Some(Some(data)) => batch.push(data),
                    _ => break,
                }
                while batch.len() < 64 {
                    match wrx.try_recv() {
                        Ok(Some(data)) => batch.push(data),
                        Ok(None) => {
                            eof = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let ok = write_all_vectored(&mut stdin, &batch).await.is_ok();
                for buf in batch.drain(..) {
                    let _ = t.send(FromChild::Consumed { id, buf });
                }
                if !ok {
                    let _ = t.send(FromChild::StdinClosed { id });
                    // The child stopped reading: keep consuming so the peer is not stalled.
                    while let Some(Some(buf)) = wrx.recv().await {
                        let _ = t.send(FromChild::Consumed { id, buf });
                    }
                    break;
                }
            }
            drop(stdin);
        });
        s.streams_open = 2;
        spawn_reader(stdout, id, None, tx.clone());
        spawn_reader(stderr, id, Some(1), tx.clone());
    }
    let t = tx.clone();
    // Stopped the moment the child is reaped, not when the loop gets to the message:
    // a client flooding the pty keeps that loop busy.
    let pty_writer = s.pty.as_ref().and_then(|p| p.writer.clone());
    tokio::spawn(async move {
        use std::os::unix::process::ExitStatusExt;
        let st = child.wait().await;
        if let Some(w) = pty_writer {
            w.abort();
        }
        let (status, signal) = match st {
            Ok(st) => (st.code(), st.signal().map(signal_name)),
            Err(_) => (Some(255), None),
        };
        let _ = t.send(FromChild::Exited { id, status, signal });
    });
    Ok(())
}

/// `do_rc_files`: what runs before the session's command, as the user, in its
/// environment and home, with its stdout: `~/.ssh/rc` through the user's shell
/// (not for subsystems, a ForceCommand, `no-user-rc` or PermitUserRC no), else
/// `/etc/ssh/sshrc`.
fn rc_script(
    user: &User,
    cfg: &ServerConfig,
    shell: &std::path::Path,
    is_subsystem: bool,
) -> Option<String> {
    let user_rc = user.pw.dir.join(".ssh/rc");
    let key_allows = !user.key_options.as_ref().is_some_and(|o| o.no_user_rc);
    if !is_subsystem
        && cfg.force_command.is_none()
        && key_allows
        && cfg.permit_user_rc
        && std::fs::metadata(&user_rc).is_ok()
    {
        return Some(format!(
            "{} -c '/bin/sh {}'",
            shell.display(),
            user_rc.display()
        ));
    }
    std::fs::metadata("/etc/ssh/sshrc")
        .is_ok()
        .then(|| "/bin/sh /etc/ssh/sshrc".to_owned())
}

/// Allocate a pty for `pty-req`: owned by the user (tty group, 0620), with the
/// client's modes and window size. Returns it and the TERM value to set.
fn allocate_pty(
    term: &[u8],
    (cols, rows, xpixel, ypixel): (u32, u32, u32, u32),
    modes: &[u8],
    user: &User,
) -> std::io::Result<(Pty, Option<String>)> {
    // After the switch to the user only the monitor may give a tty to the user.
    let p = match &user.monitor {
        Some(m) => m.pty()?,
        None => {
            let p = oxssh_sys::pty::open()?;
            oxssh_sys::pty::set_owner(&p.name, user.pw.uid, user.pw.gid)?;
            p
        }
    };
    if let Err(e) = oxssh_sys::pty::apply_modes(p.slave.as_fd(), modes) {
        // As OpenSSH: a terminal whose modes cannot be read is used as it is.
        tracing::error!("tcgetattr: {e}");
    }
    oxssh_sys::pty::set_window_size(p.master.as_fd(), cols, rows, xpixel, ypixel)?;
    // An environment value cannot hold NUL; OpenSSH's C string would end there.
    let term = term.split(|&b| b == 0).next().unwrap_or_default();
    let term = (!term.is_empty()).then(|| String::from_utf8_lossy(term).into_owned());
    let pty = Pty {
        master: Arc::new(AsyncMaster::new(p.master)?),
        slave: Some(p.slave),
        name: p.name,
        tasks: Vec::new(),
        writer: None,
    };
    Ok((pty, term))
}

/// The size of the next read of a child's output: small while the child is quiet,
/// doubling up to 1 MiB (a pipe's size, see `grow_pipe`) while reads fill their buffer, so an idle session holds
/// little memory and bulk output still moves in large chunks.
struct ChunkSize(usize);

impl ChunkSize {
    const MIN: usize = 4 * 1024;
    const MAX: usize = 1024 * 1024;

    fn next(&mut self, filled: usize) {
        if filled >= self.0 {
            self.0 = (self.0 * 2).min(Self::MAX);
        } else if filled < self.0 / 4 {
            self.0 = (self.0 / 2).max(Self::MIN);
        }
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        ChunkSize(Self::MIN)
    }
}

/// Read the pty master until EIO (every slave descriptor closed: the child and all it
/// left behind are gone), one chunk in flight, as normal channel data.
fn spawn_pty_reader(
    master: Arc<AsyncMaster>,
    id: ChannelId,
    tx: mpsc::UnboundedSender<FromChild>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut size = ChunkSize::default();
        loop {
            let mut data = vec![0u8; size.0];
            let n = match master.read(&mut data).await {
                Ok(0) => break,
                // EIO is the normal end (every slave descriptor closed); anything else
                // ends the output too, and the log says which it was.
                Err(e) => {
                    tracing::debug!("channel {id}: pty output ends: {e}");
                    break;
                }
                Ok(n) => n,
            };
            data.truncate(n);
            size.next(n);
            let (ack, wait) = oneshot::channel();
            if tx
                .send(FromChild::Output {
                    id,
                    ext: None,
                    data,
                    ack,
                })
                .is_err()
            {
                return;
            }
            if wait.await.is_err() {
                return;
            }
        }
        let _ = tx.send(FromChild::OutputDone { id });
    })
    .abort_handle()
}

/// Write every buffer of `bufs`, in order, with as few system calls as the pipe allows.
async fn write_all_vectored<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    bufs: &[Vec<u8>],
) -> std::io::Result<()> {
    let (mut i, mut off) = (0usize, 0usize);
    loop {
        while bufs.get(i).is_some_and(|b| b.len() == off) {
            i += 1;
            off = 0;
        }
        if i >= bufs.len() {
            return Ok(());
        }
        let slices: Vec<std::io::IoSlice<'_>> = bufs
            .iter()
            .skip(i)
            .enumerate()
            .map(|(k, b)| {
                std::io::IoSlice::new(if k == 0 {
                    b.get(off..).unwrap_or_default()
                } else {
                    b
                })
            })
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while let Some(b) = bufs.get(i) {
            let left = b.len() - off;
            if n < left {
                off += n;
                break;
            }
            n -= left;
            i += 1;
            off = 0;
        }
    }
}

/// Write channel data to the pty master, reporting it consumed once written. After a
/// write error (the terminal is gone) data is still consumed, so the peer never stalls.
fn spawn_pty_writer(
    master: Arc<AsyncMaster>,
    mut rx: mpsc::UnboundedReceiver<Option<Vec<u8>>>,
    id: ChannelId,
    tx: mpsc::UnboundedSender<FromChild>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut broken = false;
        // Channel EOF (None) is not passed on: OpenSSH does not send VEOF either.
        while let Some(Some(data)) = rx.recv().await {
            if !broken && master.write_all(&data).await.is_err() {
                broken = true;
            }
            let _ = tx.send(FromChild::Consumed { id, buf: data });
        }
    })
    .abort_handle()
}

fn spawn_reader<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut r: R,
    id: ChannelId,
    ext: Option<u32>,
    tx: mpsc::UnboundedSender<FromChild>,
) {
    tokio::spawn(async move {
        let mut size = ChunkSize::default();
        let mut spare = Vec::new();
        loop {
            // Read into the chunk that is sent (no zero-filling, no copy): the one the
            // channel gave back, unless the reads have become smaller.
            let mut data = std::mem::take(&mut spare);
            if data.capacity() > size.0 {
                data = Vec::new();
            }
            data.clear();
            data.reserve(size.0);
            match r.read_buf(&mut data).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    size.next(n);
                    let (ack, wait) = oneshot::channel();
                    if tx.send(FromChild::Output { id, ext, data, ack }).is_err() {
                        return;
                    }
                    // One chunk in flight: wait until the channel took it.
                    match wait.await {
                        Ok(buf) => spare = buf,
                        Err(_) => return,
                    }
                }
            }
        }
        let _ = tx.send(FromChild::OutputDone { id });
    });
}
