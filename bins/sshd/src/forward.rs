//! Server-side port forwarding (RFC 4254 §7; OpenSSH PROTOCOL §2.4 and sshd_config(5)
//! AllowTcpForwarding, AllowStreamLocalForwarding, DisableForwarding, GatewayPorts,
//! PermitOpen, PermitListen, StreamLocalBindMask, StreamLocalBindUnlink; the
//! authorized_keys options `no-port-forwarding`, `permitopen`, `permitlisten`).
//!
//! - `direct-tcpip` (ssh -L, -D, -W) and `direct-streamlocal@openssh.com` (ssh -L to a
//!   Unix socket): after the permission checks, connect (resolving the name and trying
//!   each address, as OpenSSH's connect_to does) and only then confirm the channel, or
//!   refuse it with OpenSSH's reason and text ("Connection refused", "open failed").
//! - `tcpip-forward` (ssh -R, including `-R 0:…` whose reply carries the allocated port,
//!   and the dynamic `-R port`) and `streamlocal-forward@openssh.com`: listen with
//!   GatewayPorts' choice of bind address (or the socket path, created with
//!   StreamLocalBindMask), open a `forwarded-tcpip` / `forwarded-streamlocal@openssh.com`
//!   channel for each connection; the `cancel-…` requests close the listener.
//!
//! Socket data flows exactly as a child's does in `session.rs`: one reader task per
//! socket with at most one chunk in flight (acknowledged when the channel took it all,
//! so a peer window that stays full stalls only that socket), and a writer task whose
//! writes are reported consumed (window adjust) once done. A socket's EOF becomes
//! CHANNEL_EOF, the peer's EOF a shutdown of the socket's write side, and the channel
//! is closed when both directions are done.
//!
//! Everything is per connection and goes when [`Forwarder`] is dropped: listeners,
//! connections and pending connects are aborted, and the socket files this connection
//! created are removed (OpenSSH leaves them behind; removing only a file that is still
//! ours lets a later `-R` on the same path work without StreamLocalBindUnlink). A
//! connection may hold at most [`MAX_LISTENERS`] forwards.
//!
//! The process already runs as the user, so the kernel refuses ports below 1024 to
//! anyone but root; we refuse them first ("Server has disabled port forwarding."), as
//! OpenSSH did before privilege separation was mandatory, so the answer does not depend
//! on the kernel's ip_unprivileged_port_start.
//!
//! Agent forwarding (`auth-agent-req@openssh.com`): a socket in a private directory
//! under /tmp whose connections become `auth-agent@openssh.com` channels.
//!
//! X11 forwarding (`x11-req`): the display's TCP sockets (6000 + N, N from
//! X11DisplayOffset; loopback only with X11UseLocalhost) whose connections become `x11`
//! channels; a single-connection request closes them after the first.
//!
//! Tunnel forwarding (`tun@openssh.com`, ssh -w; PermitTunnel, the key options
//! `tunnel="n"` and `restrict`): the tunnel device is opened as the user (so a user
//! other than root needs a persistent device made for them, `ip tuntap add … user`),
//! and each packet is one CHANNEL_DATA message, never split or merged: a packet the
//! peer's window cannot take yet waits (the device's own queue holds the rest), one
//! larger than the peer's largest packet is dropped. Sessions get the interfaces'
//! names in SSH_TUNNEL.
//!
//! Not here: service names in permitopen/PermitOpen ports (numbers and `*` only). ChannelTimeout sees these
//! channels through the session loop ([`Forwarder::kind_of`], [`Msg::data_channel`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;

use std::sync::Arc;

use oxssh_config::{AddressFamily, AllowForwarding, GatewayPorts, PermitTunnel};
use oxssh_proto::connection::{ChannelEvent, ChannelId, Connection, Datagram, open_failure};
use oxssh_proto::forward::{ChannelOpen, GlobalRequest, tcpip_forward_reply};
use oxssh_proto::msg;
use oxssh_proto::transport::Transport;
use oxssh_proto::wire::Put;
use oxssh_sys::tun::{Mode, Tun};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixSocket, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::conn::{Peer, User};

/// Forwards (listeners) one connection may hold: OpenSSH has no limit, we want one.
pub const MAX_LISTENERS: usize = 512;
/// OpenSSH's SSH_LISTEN_BACKLOG.
const LISTEN_BACKLOG: u32 = 128;
/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// `sizeof(sun_path)` on Linux: a socket path must be shorter.
const SUN_PATH_MAX: usize = 108;
/// OpenSSH's PORT_STREAMLOCAL, as it appears in its log lines.
const PORT_STREAMLOCAL: i32 = -2;

type ProtoResult<T> = Result<T, oxssh_proto::Error>;

/// A connected socket of a forwarding channel.
enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

type Reader = Box<dyn AsyncRead + Unpin + Send>;
type Writer = Box<dyn AsyncWrite + Unpin + Send>;

impl Sock {
    fn split(self) -> (Reader, Writer) {
        match self {
            Sock::Tcp(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Sock::Unix(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
        }
    }
}

/// Why a connect for a `direct-*` channel failed: the CHANNEL_OPEN_FAILURE fields.
struct Refusal {
    reason: u32,
    text: String,
}

/// Messages from the forwarding tasks to the connection loop. `key` tells a channel
/// from a later one that reuses its id.
pub struct Msg(Inner);

impl Msg {
    /// The channel whose data moved (socket output, or channel data written out), for
    /// ChannelTimeout.
    pub fn data_channel(&self) -> Option<ChannelId> {
        match &self.0 {
            Inner::Output { id, .. } | Inner::Consumed { id, .. } => Some(*id),
            _ => None,
        }
    }
}

enum Inner {
    /// A connect for a `direct-*` channel finished.
    Connected {
        id: ChannelId,
        key: u64,
        result: Result<Sock, Refusal>,
    },
    /// A listener accepted a connection.
    Accepted {
        listener: u64,
        sock: Sock,
        /// (address, port) of the connecting side, for `forwarded-tcpip`.
        originator: (String, u32),
        /// The port it connected to.
        local_port: u32,
    },
    /// Data read from a socket; `ack` once the channel took it all.
    Output {
        id: ChannelId,
        key: u64,
        data: Vec<u8>,
        ack: oneshot::Sender<()>,
    },
    /// The socket reached EOF (or a read error).
    OutputDone { id: ChannelId, key: u64 },
    /// `n` bytes of channel data were written to the socket (or dropped after a write
    /// error): the window may grow.
    Consumed { id: ChannelId, key: u64, n: usize },
    /// The socket's write side is finished: shut down after the peer's EOF, or failed.
    WriteDone { id: ChannelId, key: u64 },
}

/// One forwarding channel.
struct Chan {
    key: u64,
    state: ChanState,
    /// The channel type, as ChannelTimeout names it.
    kind: &'static str,
    /// A tunnel: each message is one packet, sent whole or not at all.
    datagram: bool,
    /// Data for the socket; `None` is the peer's EOF.
    writer: Option<mpsc::UnboundedSender<Option<Vec<u8>>>>,
    /// Socket data waiting for the peer's window, and whom to tell when it is gone.
    held: Vec<(Vec<u8>, Option<oneshot::Sender<()>>)>,
    read_done: bool,
    eof_sent: bool,
    write_done: bool,
    close_sent: bool,
    tasks: Vec<AbortHandle>,
}

enum ChanState {
    /// The peer asked for `direct-*`; we connect before answering.
    Connecting,
    /// We opened `forwarded-*` and wait for the peer's answer.
    Opening(Sock),
    Open,
}

impl Chan {
    fn new(key: u64, state: ChanState, kind: &'static str) -> Chan {
        Chan {
            key,
            state,
            kind,
            datagram: false,
            writer: None,
            held: Vec::new(),
            read_done: false,
            eof_sent: false,
            write_done: false,
            close_sent: false,
            tasks: Vec::new(),
        }
    }
}

impl Drop for Chan {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What a listener listens for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListenKind {
    /// `tcpip-forward`: the address as the client asked for it, and the port listened
    /// on (the allocated one when the client asked for 0).
    Tcp { host: String, port: u32 },
    /// `streamlocal-forward@openssh.com`; `file` identifies the socket file we made
    /// (device, inode), so only that file is removed at the end.
    Unix {
        path: String,
        file: Option<(u64, u64)>,
    },
    /// The forwarded agent's socket (`auth-agent-req@openssh.com`), in a directory of
    /// its own that goes with it.
    Agent {
        path: String,
        dir: std::path::PathBuf,
    },
    /// A forwarded X11 display's socket (`x11-req`), one per address of the display;
    /// `single`: it takes one connection, then closes.
    X11 { display: u32, single: bool },
}

struct Listener {
    key: u64,
    kind: ListenKind,
    tasks: Vec<AbortHandle>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let ListenKind::Agent { path, dir } = &self.kind {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_dir(dir);
        }
        if let ListenKind::Unix {
            path,
            file: Some(ours),
        } = &self.kind
        {
            use std::os::unix::fs::FileTypeExt;
            let still_ours = std::fs::symlink_metadata(path)
                .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == *ours);
            if still_ours {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// One permitopen/PermitOpen or permitlisten/PermitListen entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Perm {
    host: String,
    /// None: `*`, any port.
    port: Option<u16>,
}

/// Where a `direct-*` channel wants to go, as OpenSSH's open_match sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Port(&'a str, u16),
    /// A Unix socket path (OpenSSH matches it as host `path`, port PORT_STREAMLOCAL).
    Path(&'a str),
}

/// The permission lists of one direction, as OpenSSH's permission_set: the user's
/// (authorized_keys) and the administrator's (sshd_config). `None` admits everything;
/// an empty list admits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PermSet {
    user: Option<Vec<Perm>>,
    admin: Option<Vec<Perm>>,
}

/// Who may forward what on this connection, fixed at login (OpenSSH's
/// do_authenticated and server_process_permitopen).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    tcp_local: bool,
    tcp_remote: bool,
    streamlocal_local: bool,
    streamlocal_remote: bool,
    open: PermSet,
    listen: PermSet,
    /// Tunnel modes PermitTunnel allows (none with DisableForwarding or `restrict`).
    tun_point_to_point: bool,
    tun_ethernet: bool,
    /// The key's `tunnel="n"`: the only unit it may use.
    tun_unit: Option<u32>,
}

fn allows(a: AllowForwarding, local: bool) -> bool {
    match a {
        AllowForwarding::All => true,
        AllowForwarding::Local => local,
        AllowForwarding::Remote => !local,
        AllowForwarding::No => false,
    }
}

/// `host:port` / `[host]:port` (also `/` as separator, as hpdelim2), port a number or
/// `*`; the host without brackets. None for an entry OpenSSH would refuse.
fn parse_perm(s: &str) -> Option<Perm> {
    let end = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        s.find([':', '/'])?
    };
    let host = s.get(..end)?;
    let rest = s.get(end..)?;
    let port = rest.strip_prefix(':').or_else(|| rest.strip_prefix('/'))?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(h) => h,
        None => host,
    };
    let port = match port {
        "*" => None,
        p => Some(p.parse::<u16>().ok().filter(|&p| p > 0)?),
    };
    Some(Perm {
        host: host.to_owned(),
        port,
    })
}

/// The admin list from PermitOpen/PermitListen: empty or `any` admits all, `none`
/// nothing.
fn admin_list(entries: &[String], listen: bool) -> Option<Vec<Perm>> {
    match entries {
        [] => None,
        [one] if one == "any" => None,
        [one] if one == "none" => Some(Vec::new()),
        list => Some(
            list.iter()
                .filter_map(|e| {
                    let p = parse_perm(e);
                    if p.is_none() {
                        let what = if listen { "permitlisten" } else { "permitopen" };
                        tracing::error!("server_process_permitopen_list: bad {what} entry {e}");
                    }
                    p
                })
                .collect(),
        ),
    }
}

impl Policy {
    fn new(user: &User) -> Policy {
        let cfg = &user.cfg;
        let opts = user.key_options.as_ref();
        let permitted = !opts.is_some_and(|o| o.no_port_forwarding) && !cfg.disable_forwarding;
        let tcp_local = permitted && allows(cfg.allow_tcp_forwarding, true);
        let tcp_remote = permitted && allows(cfg.allow_tcp_forwarding, false);
        // The key's lists count only where AllowTcpForwarding allows that direction
        // (set_fwdpermit_from_authopts); an empty list means all.
        let key_list = |list: &[String], bare_port: bool| -> Option<Vec<Perm>> {
            let v: Vec<Perm> = list
                .iter()
                .filter_map(|e| {
                    if bare_port && !e.contains(':') {
                        parse_perm(&format!("*:{e}"))
                    } else {
                        parse_perm(e)
                    }
                })
                .collect();
            (!list.is_empty()).then_some(v)
        };
        let open_user = opts
            .filter(|_| allows(cfg.allow_tcp_forwarding, true))
            .and_then(|o| key_list(&o.permitopen, false));
        let listen_user = opts
            .filter(|_| allows(cfg.allow_tcp_forwarding, false))
            .and_then(|o| key_list(&o.permitlisten, true));
        // Forwarding disabled in a direction: the admin list admits nothing
        // (channel_disable_admin), which also stops direct-streamlocal, as in OpenSSH.
        let open_admin = if tcp_local {
            admin_list(&cfg.permit_open, false)
        } else {
            Some(Vec::new())
        };
        let listen_admin = if tcp_remote {
            admin_list(&cfg.permit_listen, true)
        } else {
            Some(Vec::new())
        };
        let tun_ok = !cfg.disable_forwarding && !opts.is_some_and(|o| o.restricted);
        let tun = cfg.permit_tunnel;
        Policy {
            tun_point_to_point: tun_ok
                && matches!(tun, PermitTunnel::Yes | PermitTunnel::PointToPoint),
            tun_ethernet: tun_ok && matches!(tun, PermitTunnel::Yes | PermitTunnel::Ethernet),
            tun_unit: opts.and_then(|o| o.tunnel),
            tcp_local,
            tcp_remote,
            streamlocal_local: permitted && allows(cfg.allow_streamlocal_forwarding, true),
            streamlocal_remote: permitted && allows(cfg.allow_streamlocal_forwarding, false),
            open: PermSet {
                user: open_user,
                admin: open_admin,
            },
            listen: PermSet {
                user: listen_user,
                admin: listen_admin,
            },
        }
    }

    /// channel_connect_to_port / channel_connect_to_path: may we connect there?
    fn may_open(&self, target: Target<'_>) -> bool {
        // open_match: exact host (or `*`), the port or `*`; a path has no port.
        let matches = |p: &Perm| {
            let (host, port) = match target {
                Target::Port(h, port) => (h, Some(port)),
                Target::Path(path) => (path, None),
            };
            (p.port.is_none() || p.port == port) && (p.host == "*" || p.host == host)
        };
        let ok = |list: &Option<Vec<Perm>>| list.as_ref().is_none_or(|l| l.iter().any(matches));
        ok(&self.open.user) && ok(&self.open.admin)
    }

    /// check_rfwd_permission for a TCP listen request.
    fn may_listen(&self, host: &str, port: u32) -> bool {
        // remote_open_match: the port or `*`, the host a pattern matched against the
        // request in lower case.
        let host = host.to_ascii_lowercase();
        let matches = |p: &Perm| {
            (p.port.is_none() || p.port.map(u32::from) == Some(port))
                && oxssh_keys::pattern::glob(&p.host, &host)
        };
        let ok = |list: &Option<Vec<Perm>>| list.as_ref().is_none_or(|l| l.iter().any(matches));
        ok(&self.listen.user) && ok(&self.listen.admin)
    }
}

/// Where a remote forward listens, per channel_fwd_bind_addr (server side).
#[derive(Debug, Clone, PartialEq, Eq)]
enum BindTo {
    /// Every local address.
    Wildcard,
    /// The loopback addresses.
    Loopback,
    /// An address or name the client gave.
    Host(String),
}

/// GatewayPorts decides: `no` binds loopback unless the client asked for exactly
/// 127.0.0.1 or ::1; `yes` binds the wildcard whatever was asked (second value: the
/// client should be told its address was overridden); `clientspecified` binds what the
/// client asked for, "" or "*" meaning the wildcard and "localhost" the loopback
/// addresses.
fn bind_to(listen_host: &str, gateway_ports: GatewayPorts) -> (BindTo, bool) {
    let explicit_loopback = listen_host == "127.0.0.1" || listen_host == "::1";
    match gateway_ports {
        GatewayPorts::No if explicit_loopback => (BindTo::Host(listen_host.to_owned()), false),
        GatewayPorts::No => (BindTo::Loopback, false),
        GatewayPorts::Yes | GatewayPorts::ClientSpecified
            if listen_host.is_empty()
                || listen_host == "*"
                || gateway_ports == GatewayPorts::Yes =>
        {
            let overridden =
                !listen_host.is_empty() && listen_host != "0.0.0.0" && listen_host != "*";
            (BindTo::Wildcard, overridden)
        }
        _ if listen_host == "localhost" => (BindTo::Loopback, false),
        _ => (BindTo::Host(listen_host.to_owned()), false),
    }
}

fn family_ok(family: AddressFamily, ip: &IpAddr) -> bool {
    match family {
        AddressFamily::Any => true,
        AddressFamily::Inet => ip.is_ipv4(),
        AddressFamily::Inet6 => ip.is_ipv6(),
    }
}

/// strerror(3) text of an OS error (std's Display adds " (os error N)").
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => s.get(..i).unwrap_or(&s).to_owned(),
        _ => s,
    }
}

/// gai_strerror(3) text of a failed name lookup.
fn gai_strerror(e: &io::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("failed to lookup address information: ")
        .map(str::to_owned)
        .unwrap_or(s)
}

fn reason_text(reason: u32) -> &'static str {
    match reason {
        open_failure::ADMINISTRATIVELY_PROHIBITED => "administratively prohibited",
        open_failure::CONNECT_FAILED => "connect failed",
        open_failure::UNKNOWN_CHANNEL_TYPE => "unknown channel type",
        open_failure::RESOURCE_SHORTAGE => "resource shortage",
        _ => "unknown reason",
    }
}

/// SSH_MSG_DEBUG to the client (ssh shows it with -v as "Remote: …").
fn send_debug(t: &mut Transport, text: &str) -> ProtoResult<()> {
    let mut m = Vec::with_capacity(16 + text.len());
    m.put_u8(msg::DEBUG);
    m.put_bool(false);
    m.put_str(text);
    m.put_str("");
    t.send(&m)
}

/// Port forwarding for one connection: its policy, listeners and channels.
pub struct Forwarder {
    policy: Policy,
    /// Agent forwarding is allowed (AllowAgentForwarding, DisableForwarding, the key's
    /// `no-agent-forwarding`).
    agent_ok: bool,
    /// The forwarded agent's socket, once a session asked for it.
    agent: Option<String>,
    /// The tunnel interfaces opened on this connection, for SSH_TUNNEL.
    tun_names: Vec<String>,
    uid: u32,
    family: AddressFamily,
    gateway_ports: GatewayPorts,
    bind_mask: u32,
    bind_unlink: bool,
    peer_ip: String,
    peer_port: u16,
    chans: HashMap<ChannelId, Chan>,
    listeners: Vec<Listener>,
    /// Writer tasks still draining data the peer sent before it closed the channel.
    draining: Vec<AbortHandle>,
    next_key: u64,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        for t in &self.draining {
            t.abort();
        }
    }
}

impl Forwarder {
    pub fn new(user: &User, peer: &Peer) -> Forwarder {
        let (tx, rx) = mpsc::unbounded_channel();
        let cfg = &user.cfg;
        Forwarder {
            policy: Policy::new(user),
            agent_ok: cfg.allow_agent_forwarding
                && !cfg.disable_forwarding
                && !user
                    .key_options
                    .as_ref()
                    .is_some_and(|o| o.no_agent_forwarding),
            agent: None,
            tun_names: Vec::new(),
            uid: user.pw.uid,
            family: cfg.address_family,
            gateway_ports: cfg.gateway_ports,
            bind_mask: cfg.stream_local_bind_mask & 0o777,
            bind_unlink: cfg.stream_local_bind_unlink,
            peer_ip: peer.ip(),
            peer_port: peer.port(),
            chans: HashMap::new(),
            listeners: Vec::new(),
            draining: Vec::new(),
            next_key: 0,
            tx,
            rx,
        }
    }

    fn key(&mut self) -> u64 {
        self.next_key = self.next_key.wrapping_add(1);
        self.next_key
    }

    /// `auth-agent-req@openssh.com` (OpenSSH's `auth_input_request_forwarding`): make
    /// the connection's agent socket, `/tmp/ssh-XXXXXXXXXX/agent.<pid>`, whose clients
    /// become `auth-agent@openssh.com` channels. Only the first request of a
    /// connection succeeds, as OpenSSH's; every session started after it gets the
    /// socket in SSH_AUTH_SOCK ([`Forwarder::agent_path`]).
    pub fn agent_request(&mut self) -> bool {
        if !self.agent_ok {
            tracing::debug!("session_auth_agent_req: no_agent_forwarding_flag");
            return false;
        }
        if self.agent.is_some() || self.listeners.len() >= MAX_LISTENERS {
            return false;
        }
        let Some(dir) = agent_dir() else {
            tracing::error!("temporary directory for agent socket: could not create one in /tmp");
            return false;
        };
        let path = dir
            .join(format!("agent.{}", std::process::id()))
            .to_string_lossy()
            .into_owned();
        let listener = match bind_unix(&path, 0o600, false) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{e}");
                let _ = std::fs::remove_dir(&dir);
                return false;
            }
        };
        let key = self.key();
        let task = tokio::spawn(accept_unix(listener, key, self.tx.clone()));
        self.listeners.push(Listener {
            key,
            kind: ListenKind::Agent {
                path: path.clone(),
                dir,
            },
            tasks: vec![task.abort_handle()],
        });
        self.agent = Some(path);
        true
    }

    /// X11 forwarding (`x11-req`, OpenSSH's `x11_create_display_inet`): the first
    /// display number from `offset` whose TCP port (6000 + display) can be bound on
    /// every address it needs — the loopback ones with X11UseLocalhost, else the
    /// wildcard ones — and whose connections become `x11` channels. None when no
    /// display among the 1000 from `offset` is free.
    pub fn x11_listen(&mut self, offset: u32, localhost: bool, single: bool) -> Option<u32> {
        const X11_BASE_PORT: u32 = 6000;
        const MAX_DISPLAYS: u32 = 1000;
        if self.listeners.len() >= MAX_LISTENERS || offset > 65535 - X11_BASE_PORT - MAX_DISPLAYS {
            return None;
        }
        // The wildcard: `[::]` alone takes IPv4 connections too (binding `0.0.0.0`
        // beside it would collide on Linux); `0.0.0.0` serves when there is no IPv6.
        let addrs: &[IpAddr] = if localhost {
            &[Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        } else if self.family == AddressFamily::Inet {
            &[Ipv4Addr::UNSPECIFIED.into()]
        } else {
            &[Ipv6Addr::UNSPECIFIED.into()]
        };
        for display in offset..offset + MAX_DISPLAYS {
            let port = (X11_BASE_PORT + display) as u16;
            let mut bound = Vec::new();
            let mut failed = false;
            for ip in addrs.iter().filter(|ip| family_ok(self.family, ip)) {
                match bind_tcp(SocketAddr::new(*ip, port)) {
                    Ok(l) => bound.push(l),
                    // No IPv6 on this host: the IPv4 socket serves alone.
                    // No IPv6 on this host (EAFNOSUPPORT, EADDRNOTAVAIL): the IPv4
                    // socket serves alone.
                    Err(e) if ip.is_ipv6() && matches!(e.raw_os_error(), Some(97 | 99)) => {
                        if ip.is_unspecified() && self.family != AddressFamily::Inet6 {
                            match bind_tcp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)) {
                                Ok(l) => bound.push(l),
                                Err(_) => {
                                    failed = true;
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::trace!(
                            "x11_create_display_inet: bind port {port}: {}",
                            strerror(&e)
                        );
                        failed = true;
                        break;
                    }
                }
            }
            if failed || bound.is_empty() {
                continue;
            }
            for l in bound {
                let key = self.key();
                let task = tokio::spawn(accept_tcp(l, key, self.tx.clone()));
                self.listeners.push(Listener {
                    key,
                    kind: ListenKind::X11 { display, single },
                    tasks: vec![task.abort_handle()],
                });
            }
            return Some(display);
        }
        tracing::error!("Failed to allocate internet-domain X11 display socket.");
        None
    }

    /// Close the sockets of X11 display `display` (its session is gone, as OpenSSH's
    /// session_close_x11 does).
    pub fn x11_close(&mut self, display: u32) {
        self.listeners
            .retain(|l| !matches!(l.kind, ListenKind::X11 { display: d, .. } if d == display));
    }

    /// The forwarded agent's socket, for SSH_AUTH_SOCK.
    pub fn agent_path(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The tunnel interfaces opened so far, comma-separated, for SSH_TUNNEL (as
    /// OpenSSH, a closed tunnel's name stays).
    pub fn tun_names(&self) -> Option<String> {
        (!self.tun_names.is_empty()).then(|| self.tun_names.join(","))
    }

    /// The type of a forwarding channel of ours ("direct-tcpip", "forwarded-tcpip", …).
    pub fn kind_of(&self, id: ChannelId) -> Option<&'static str> {
        self.chans.get(&id).map(|c| c.kind)
    }

    /// The next message from the forwarding tasks (never ends: we hold a sender).
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    /// Take a channel event if it is ours: a `direct-*` open, a forwarding global
    /// request, or anything about a forwarding channel. Returns the event otherwise.
    pub fn intercept(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        ev: ChannelEvent,
    ) -> ProtoResult<Option<ChannelEvent>> {
        match ev {
            ChannelEvent::OpenRequest { id, kind, data }
                if kind == "direct-tcpip"
                    || kind == "direct-streamlocal@openssh.com"
                    || kind == "tun@openssh.com" =>
            {
                self.open_request(chans, t, id, &kind, &data)?;
            }
            ChannelEvent::GlobalRequest {
                name,
                want_reply,
                data,
            } if matches!(
                name.as_str(),
                "tcpip-forward"
                    | "cancel-tcpip-forward"
                    | "streamlocal-forward@openssh.com"
                    | "cancel-streamlocal-forward@openssh.com"
            ) =>
            {
                tracing::debug!(
                    "server_input_global_request: rtype {name} want_reply {}",
                    u8::from(want_reply)
                );
                let (ok, body) = self.global_request(t, &name, want_reply, &data)?;
                if want_reply {
                    chans.global_reply(t, ok, if ok { &body } else { &[] })?;
                }
            }
            ChannelEvent::Data { id, data, ext } if self.chans.contains_key(&id) => {
                // Extended data has no place on a socket: consumed and dropped.
                match self
                    .chans
                    .get(&id)
                    .and_then(|c| c.writer.as_ref())
                    .filter(|_| ext.is_none())
                {
                    Some(w) => {
                        let n = data.len();
                        if w.send(Some(data)).is_err() {
                            chans.consumed(t, id, n)?;
                        }
                    }
                    None => chans.consumed(t, id, data.len())?,
                }
            }
            ChannelEvent::Eof { id } if self.chans.contains_key(&id) => {
                if let Some(c) = self.chans.get_mut(&id) {
                    match c.writer.take() {
                        Some(w) => {
                            // The writer shuts the socket's write side down after what
                            // is queued, then reports WriteDone.
                            if w.send(None).is_err() {
                                c.write_done = true;
                            }
                        }
                        None => c.write_done = true,
                    }
                }
                self.progress(chans, t, id)?;
            }
            ChannelEvent::WindowAdjusted { id } if self.chans.contains_key(&id) => {
                self.progress(chans, t, id)?;
            }
            ChannelEvent::Request { id, want_reply, .. } if self.chans.contains_key(&id) => {
                if want_reply {
                    chans.reply(t, id, false)?;
                }
            }
            ChannelEvent::Opened { id } if self.chans.contains_key(&id) => {
                let key = self.chans.get(&id).map_or(0, |c| c.key);
                if let Some(c) = self.chans.get_mut(&id) {
                    if let ChanState::Opening(sock) =
                        std::mem::replace(&mut c.state, ChanState::Open)
                    {
                        start_pumps(c, sock, id, key, &self.tx);
                    }
                }
            }
            ChannelEvent::OpenFailed {
                id,
                reason,
                description,
            } if self.chans.contains_key(&id) => {
                tracing::error!(
                    "channel {id}: open failed: {}{}{description}",
                    reason_text(reason),
                    if description.is_empty() { "" } else { ": " }
                );
                self.chans.remove(&id);
            }
            ChannelEvent::Closed { id } if self.chans.contains_key(&id) => {
                if let Some(mut c) = self.chans.remove(&id) {
                    // Data the peer sent before its CLOSE still goes out (the writer
                    // ends once its queue is empty); the reader stops now.
                    if matches!(c.state, ChanState::Open) && c.tasks.len() == 2 {
                        if let Some(w) = c.tasks.pop() {
                            self.draining.retain(|t| !t.is_finished());
                            self.draining.push(w);
                        }
                    }
                }
            }
            ev => return Ok(Some(ev)),
        }
        Ok(None)
    }

    /// Act on a message from a forwarding task.
    pub fn handle(&mut self, chans: &mut Connection, t: &mut Transport, m: Msg) -> ProtoResult<()> {
        match m.0 {
            Inner::Connected { id, key, result } => {
                let live = self
                    .chans
                    .get(&id)
                    .is_some_and(|c| c.key == key && matches!(c.state, ChanState::Connecting));
                if !live {
                    return Ok(());
                }
                match result {
                    Ok(sock) => {
                        chans.accept(t, id)?;
                        if let Some(c) = self.chans.get_mut(&id) {
                            c.state = ChanState::Open;
                            start_pumps(c, sock, id, key, &self.tx);
                        }
                    }
                    Err(r) => {
                        self.chans.remove(&id);
                        chans.reject(t, id, r.reason, &r.text)?;
                    }
                }
            }
            Inner::Accepted {
                listener,
                sock,
                originator,
                local_port,
            } => self.accepted(chans, t, listener, sock, originator, local_port)?,
            Inner::Output { id, key, data, ack } => match self.chans.get_mut(&id) {
                Some(c) if c.key == key && !c.close_sent => {
                    c.held.push((data, Some(ack)));
                    self.progress(chans, t, id)?;
                }
                _ => {
                    let _ = ack.send(());
                }
            },
            Inner::OutputDone { id, key } => {
                if let Some(c) = self.chans.get_mut(&id).filter(|c| c.key == key) {
                    c.read_done = true;
                    self.progress(chans, t, id)?;
                }
            }
            Inner::Consumed { id, key, n } => {
                if self.chans.get(&id).is_some_and(|c| c.key == key) {
                    chans.consumed(t, id, n)?;
                }
            }
            Inner::WriteDone { id, key } => {
                if let Some(c) = self.chans.get_mut(&id).filter(|c| c.key == key) {
                    c.write_done = true;
                    self.progress(chans, t, id)?;
                }
            }
        }
        Ok(())
    }

    /// Send held data as the window allows; EOF once the socket's data is all sent;
    /// CLOSE once both directions are done.
    fn progress(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        id: ChannelId,
    ) -> ProtoResult<()> {
        let Some(c) = self.chans.get_mut(&id) else {
            return Ok(());
        };
        if !matches!(c.state, ChanState::Open) || c.close_sent {
            return Ok(());
        }
        while let Some((data, ack)) = c.held.first_mut() {
            if c.datagram {
                match chans.send_datagram(t, id, data)? {
                    Datagram::Wait => return Ok(()),
                    Datagram::Sent => {}
                    Datagram::TooBig => tracing::debug!("channel {id}: datagram too big"),
                }
                if let Some(a) = ack.take() {
                    let _ = a.send(());
                }
                c.held.remove(0);
                continue;
            }
            let n = chans.send_data(t, id, None, data)?;
            data.drain(..n);
            if !data.is_empty() {
                return Ok(());
            }
            if let Some(a) = ack.take() {
                let _ = a.send(());
            }
            c.held.remove(0);
        }
        if c.read_done && !c.eof_sent {
            c.eof_sent = true;
            chans.send_eof(t, id)?;
        }
        if c.eof_sent && c.write_done {
            c.close_sent = true;
            chans.close(t, id)?;
        }
        Ok(())
    }

    fn open_request(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        id: ChannelId,
        kind: &str,
        data: &[u8],
    ) -> ProtoResult<()> {
        tracing::debug!("server_input_channel_open: ctype {kind}");
        let refuse = |chans: &mut Connection, t: &mut Transport, reason: u32| {
            tracing::debug!("server_input_channel_open: failure {kind}");
            chans.reject(t, id, reason, "open failed")
        };
        let open = match ChannelOpen::decode(kind, data) {
            Some(Ok(o)) => o,
            _ => {
                tracing::error!(
                    "server_input_channel_open: {kind}: parse packet: message incomplete"
                );
                return refuse(chans, t, open_failure::CONNECT_FAILED);
            }
        };
        match open {
            ChannelOpen::DirectTcpip {
                host,
                port,
                originator,
                originator_port,
            } => {
                let (Ok(port16), true) = (u16::try_from(port), originator_port <= 0xffff) else {
                    let what = if port > 0xffff {
                        "target"
                    } else {
                        "originator"
                    };
                    tracing::error!("server_request_direct_tcpip: invalid {what} port");
                    return refuse(chans, t, open_failure::ADMINISTRATIVELY_PROHIBITED);
                };
                tracing::debug!(
                    "server_request_direct_tcpip: originator {originator} port {originator_port}, target {host} port {port}"
                );
                if !self.policy.tcp_local {
                    tracing::info!(
                        "refused local port forward: originator {originator} port {originator_port}, target {host} port {port}"
                    );
                    return refuse(chans, t, open_failure::ADMINISTRATIVELY_PROHIBITED);
                }
                if !self.policy.may_open(Target::Port(&host, port16)) {
                    tracing::info!(
                        "Received request from {} port {} to connect to host {host} port {port}, but the request was denied.",
                        self.peer_ip,
                        self.peer_port
                    );
                    return refuse(chans, t, open_failure::ADMINISTRATIVELY_PROHIBITED);
                }
                let key = self.key();
                self.chans
                    .insert(id, Chan::new(key, ChanState::Connecting, "direct-tcpip"));
                let tx = self.tx.clone();
                let family = self.family;
                let task = tokio::spawn(async move {
                    let result = connect_tcp(&host, port16, family, id).await;
                    let _ = tx.send(Msg(Inner::Connected { id, key, result }));
                });
                if let Some(c) = self.chans.get_mut(&id) {
                    c.tasks.push(task.abort_handle());
                }
            }
            ChannelOpen::DirectStreamlocal { path } => {
                // The originator fields are read by the codec as "reserved".
                let mut r = oxssh_proto::wire::Reader::new(data);
                let _ = r.string();
                let originator = r.utf8().unwrap_or_default().to_owned();
                let originator_port = r.u32().unwrap_or_default();
                if originator_port > 0xffff {
                    tracing::error!("server_request_direct_streamlocal: invalid originator port");
                    return refuse(chans, t, open_failure::CONNECT_FAILED);
                }
                tracing::debug!(
                    "server_request_direct_streamlocal: originator {originator} port {originator_port}, target {path}"
                );
                if !self.policy.streamlocal_local {
                    tracing::info!(
                        "refused streamlocal port forward: originator {originator} port {originator_port}, target {path}"
                    );
                    return refuse(chans, t, open_failure::CONNECT_FAILED);
                }
                if !self.policy.may_open(Target::Path(&path)) {
                    tracing::info!(
                        "Received request to connect to path {path}, but the request was denied."
                    );
                    return refuse(chans, t, open_failure::CONNECT_FAILED);
                }
                // A Unix connect completes at once: its failure is OpenSSH's immediate
                // one ("open failed").
                let sock = if path.len() >= SUN_PATH_MAX {
                    Err(io::Error::from_raw_os_error(36))
                } else {
                    connect_unix_now(&path)
                };
                match sock {
                    Ok(s) => {
                        let key = self.key();
                        let mut c =
                            Chan::new(key, ChanState::Open, "direct-streamlocal@openssh.com");
                        chans.accept(t, id)?;
                        tracing::debug!("server_input_channel_open: confirm {kind}");
                        start_pumps(&mut c, Sock::Unix(s), id, key, &self.tx);
                        self.chans.insert(id, c);
                    }
                    Err(e) => {
                        tracing::error!(
                            "connect to {path} port {PORT_STREAMLOCAL} failed: {}",
                            strerror(&e)
                        );
                        return refuse(chans, t, open_failure::CONNECT_FAILED);
                    }
                }
            }
            ChannelOpen::Tun { mode, unit } => {
                let Some(mode) = Mode::from_wire(mode) else {
                    t.send_debug("Unsupported tunnel device mode.")?;
                    return refuse(chans, t, open_failure::CONNECT_FAILED);
                };
                let permitted = match mode {
                    Mode::PointToPoint => self.policy.tun_point_to_point,
                    Mode::Ethernet => self.policy.tun_ethernet,
                };
                if !permitted {
                    t.send_debug("Server has rejected tunnel device forwarding")?;
                    return refuse(chans, t, open_failure::CONNECT_FAILED);
                }
                match self.open_tun(mode, unit) {
                    Some(tun) => {
                        tracing::debug!("Tunnel forwarding using interface {}", tun.name());
                        self.tun_names.push(tun.name().to_owned());
                        chans.accept(t, id)?;
                        tracing::debug!("server_input_channel_open: confirm {kind}");
                        let key = self.key();
                        let mut c = Chan::new(key, ChanState::Open, "tun-connection");
                        c.datagram = true;
                        start_tun_pumps(&mut c, Arc::new(tun), id, key, &self.tx);
                        self.chans.insert(id, c);
                    }
                    None => {
                        t.send_debug("Failed to open the tunnel device.")?;
                        return refuse(chans, t, open_failure::CONNECT_FAILED);
                    }
                }
            }
            _ => return refuse(chans, t, open_failure::CONNECT_FAILED),
        }
        Ok(())
    }

    /// The tunnel device for `tun@openssh.com`, with the key's `tunnel="n"` applied
    /// (OpenSSH's server_request_tun and tun_open); None when it cannot be had.
    fn open_tun(&self, mode: Mode, unit: u32) -> Option<Tun> {
        if unit > oxssh_sys::tun::UNIT_ANY {
            tracing::debug!("server_request_tun: invalid tun");
            return None;
        }
        let unit = match self.policy.tun_unit {
            Some(forced) if unit != oxssh_sys::tun::UNIT_ANY && forced != unit => return None,
            Some(forced) => forced,
            None => unit,
        };
        match Tun::open(unit, mode) {
            Ok(tun) => Some(tun),
            Err((what, e)) => {
                tracing::debug!(
                    "sys_tun_open: {what} (mode {}): {}",
                    mode.wire(),
                    strerror(&e)
                );
                None
            }
        }
    }

    /// Answer a forwarding global request: (success, reply data).
    fn global_request(
        &mut self,
        t: &mut Transport,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> ProtoResult<(bool, Vec<u8>)> {
        let req = match GlobalRequest::decode(name, data) {
            Some(Ok(r)) => r,
            _ => {
                tracing::error!("server_input_global_request: parse {name}: message incomplete");
                return Ok((false, Vec::new()));
            }
        };
        match req {
            GlobalRequest::TcpipForward { address, port } => {
                tracing::debug!(
                    "server_input_global_request: tcpip-forward listen {address} port {port}"
                );
                // Ports below 1024 are root's: we already run as the user, and refuse
                // rather than leave it to the kernel's ip_unprivileged_port_start.
                let privileged = port != 0 && port < 1024 && self.uid != 0;
                if port > i32::MAX as u32
                    || !self.policy.tcp_remote
                    || (!want_reply && port == 0)
                    || privileged
                {
                    if privileged && self.policy.tcp_remote {
                        tracing::debug!(
                            "server_input_global_request: port {port} is privileged and the user is not root"
                        );
                    }
                    send_debug(t, "Server has disabled port forwarding.")?;
                    return Ok((false, Vec::new()));
                }
                if !self.policy.may_listen(&address, port) {
                    send_debug(t, "port forwarding refused")?;
                    tracing::info!(
                        "Received request from {} port {} to remote forward to host {address} port {port}, but the request was denied.",
                        self.peer_ip,
                        self.peer_port
                    );
                    return Ok((false, Vec::new()));
                }
                if self.listeners.len() >= MAX_LISTENERS {
                    tracing::error!(
                        "channel_setup_fwd_listener_tcpip: too many forwardings ({MAX_LISTENERS}), cannot listen to port: {port}"
                    );
                    return Ok((false, Vec::new()));
                }
                match self.listen_tcp(t, &address, port)? {
                    Some(bound) => {
                        let body = if port == 0 {
                            tcpip_forward_reply(bound)
                        } else {
                            Vec::new()
                        };
                        Ok((true, body))
                    }
                    None => Ok((false, Vec::new())),
                }
            }
            GlobalRequest::CancelTcpipForward { address, port } => {
                tracing::debug!(
                    "server_input_global_request: cancel-tcpip-forward addr {address} port {port}"
                );
                let want = ListenKind::Tcp {
                    host: address,
                    port,
                };
                Ok((
                    port <= i32::MAX as u32 && self.cancel(|k| *k == want),
                    Vec::new(),
                ))
            }
            GlobalRequest::StreamlocalForward { path } => {
                tracing::debug!(
                    "server_input_global_request: streamlocal-forward listen path {path}"
                );
                if !self.policy.streamlocal_remote {
                    send_debug(t, "Server has disabled streamlocal forwarding.")?;
                    return Ok((false, Vec::new()));
                }
                if self.listeners.len() >= MAX_LISTENERS {
                    tracing::error!(
                        "channel_setup_fwd_listener_streamlocal: too many forwardings ({MAX_LISTENERS}), cannot listen on path {path}"
                    );
                    return Ok((false, Vec::new()));
                }
                Ok((self.listen_unix(&path), Vec::new()))
            }
            GlobalRequest::CancelStreamlocalForward { path } => {
                tracing::debug!(
                    "server_input_global_request: cancel-streamlocal-forward path {path}"
                );
                Ok((
                    self.cancel(|k| matches!(k, ListenKind::Unix { path: p, .. } if *p == path)),
                    Vec::new(),
                ))
            }
            GlobalRequest::NoMoreSessions | GlobalRequest::Keepalive => Ok((false, Vec::new())),
        }
    }

    /// Close the listeners `which` selects; whether there were any.
    fn cancel(&mut self, which: impl Fn(&ListenKind) -> bool) -> bool {
        let before = self.listeners.len();
        self.listeners.retain(|l| !which(&l.kind));
        before != self.listeners.len()
    }

    /// channel_setup_fwd_listener_tcpip: listen on every address GatewayPorts picks;
    /// the port listened on, or None when no address could be bound.
    fn listen_tcp(&mut self, t: &mut Transport, host: &str, port: u32) -> ProtoResult<Option<u32>> {
        let Ok(port16) = u16::try_from(port) else {
            tracing::error!(
                "channel_setup_fwd_listener_tcpip: getaddrinfo({host}): Servname not supported for ai_socktype"
            );
            return Ok(None);
        };
        let (bind, overridden) = bind_to(host, self.gateway_ports);
        if overridden {
            send_debug(
                t,
                &format!("Forwarding listen address \"{host}\" overridden by server GatewayPorts"),
            )?;
        }
        // A dual-stack [::] also takes IPv4, so it goes first and a failing 0.0.0.0
        // after it is no loss.
        let addrs: Vec<IpAddr> = match &bind {
            BindTo::Wildcard => vec![Ipv6Addr::UNSPECIFIED.into(), Ipv4Addr::UNSPECIFIED.into()],
            BindTo::Loopback => vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            BindTo::Host(h) => match h.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    // A name (GatewayPorts clientspecified): resolved here, blocking
                    // this connection only, as OpenSSH's getaddrinfo does.
                    use std::net::ToSocketAddrs;
                    match (h.as_str(), port16).to_socket_addrs() {
                        Ok(a) => a.map(|a| a.ip()).collect(),
                        Err(e) => {
                            tracing::error!(
                                "channel_setup_fwd_listener_tcpip: getaddrinfo({h}): {}",
                                gai_strerror(&e)
                            );
                            return Ok(None);
                        }
                    }
                }
            },
        };
        let addrs: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|ip| family_ok(self.family, ip))
            .collect();
        tracing::trace!(
            "channel_setup_fwd_listener_tcpip: type 11 wildcard {} addr {}",
            u8::from(bind == BindTo::Wildcard),
            match &bind {
                BindTo::Host(h) => h.as_str(),
                _ => "NULL",
            }
        );
        let mut bound_port = port16;
        let mut sockets: Vec<TcpListener> = Vec::new();
        let mut dual_stack_wildcard = false;
        let count = addrs.len();
        for (i, ip) in addrs.into_iter().enumerate() {
            let addr = SocketAddr::new(ip, bound_port);
            tracing::debug!("Local forwarding listening on {ip} port {bound_port}.");
            match bind_tcp(addr) {
                Ok(l) => {
                    if bound_port == 0 {
                        bound_port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                        tracing::debug!("Allocated listen port {bound_port}");
                    }
                    dual_stack_wildcard |= ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                    sockets.push(l);
                }
                Err(e) => {
                    let covered = dual_stack_wildcard
                        && ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                        && e.kind() == io::ErrorKind::AddrInUse;
                    let text = format!("bind [{ip}]:{bound_port}: {}", strerror(&e));
                    if covered {
                        tracing::trace!("{text} (the IPv6 wildcard takes IPv4 too)");
                    } else if i + 1 == count && sockets.is_empty() {
                        tracing::error!("{text}");
                    } else {
                        tracing::info!("{text}");
                    }
                }
            }
        }
        if sockets.is_empty() || bound_port == 0 {
            tracing::error!("channel_setup_fwd_listener_tcpip: cannot listen to port: {port}");
            return Ok(None);
        }
        let key = self.key();
        let tasks = sockets
            .into_iter()
            .map(|l| tokio::spawn(accept_tcp(l, key, self.tx.clone())).abort_handle())
            .collect();
        self.listeners.push(Listener {
            key,
            kind: ListenKind::Tcp {
                host: host.to_owned(),
                port: u32::from(bound_port),
            },
            tasks,
        });
        Ok(Some(u32::from(bound_port)))
    }

    /// channel_setup_fwd_listener_streamlocal with unix_listener: the socket file made
    /// with StreamLocalBindMask, an old socket removed first with StreamLocalBindUnlink.
    fn listen_unix(&mut self, path: &str) -> bool {
        if path.len() >= SUN_PATH_MAX {
            tracing::error!("unix_listener: path \"{path}\" too long for Unix domain socket");
            return false;
        }
        tracing::trace!("channel_setup_fwd_listener_streamlocal: type 19 path {path}");
        let mode = 0o777 & !self.bind_mask;
        let listener = match bind_unix(path, mode, self.bind_unlink) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{e}");
                return false;
            }
        };
        tracing::debug!("Local forwarding listening on path {path}.");
        let file = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let key = self.key();
        let task = tokio::spawn(accept_unix(listener, key, self.tx.clone()));
        self.listeners.push(Listener {
            key,
            kind: ListenKind::Unix {
                path: path.to_owned(),
                file,
            },
            tasks: vec![task.abort_handle()],
        });
        true
    }

    /// A connection on a forwarded port or path: open a `forwarded-*` channel for it.
    fn accepted(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        listener: u64,
        sock: Sock,
        originator: (String, u32),
        local_port: u32,
    ) -> ProtoResult<()> {
        let Some(l) = self.listeners.iter().find(|l| l.key == listener) else {
            return Ok(());
        };
        let open = match &l.kind {
            ListenKind::Tcp { host, port } => {
                tracing::debug!("Connection to port {port} forwarding to {host} port 0 requested.");
                ChannelOpen::ForwardedTcpip {
                    address: host.clone(),
                    port: local_port,
                    originator: originator.0,
                    originator_port: originator.1,
                }
            }
            ListenKind::Unix { path, .. } => {
                tracing::debug!(
                    "Connection to port {PORT_STREAMLOCAL} forwarding to {path} port {PORT_STREAMLOCAL} requested."
                );
                ChannelOpen::ForwardedStreamlocal { path: path.clone() }
            }
            ListenKind::Agent { .. } => ChannelOpen::AuthAgent,
            ListenKind::X11 { display, single } => {
                let (display, single) = (*display, *single);
                tracing::debug!("X11 connection requested.");
                if single {
                    // Every socket of this display goes: it served its one client.
                    self.x11_close(display);
                }
                ChannelOpen::X11 {
                    originator: originator.0,
                    originator_port: originator.1,
                }
            }
        };
        match chans.open(t, open.kind(), &open.encode()) {
            Ok(id) => {
                tracing::trace!("channel {id}: new {}", open.kind());
                let key = self.key();
                self.chans
                    .insert(id, Chan::new(key, ChanState::Opening(sock), open.kind()));
            }
            // Out of channels: this connection is dropped, the others go on.
            Err(e) => tracing::error!("channel_new: {}: {e}", open.kind()),
        }
        Ok(())
    }
}

/// A new directory `/tmp/ssh-XXXXXXXXXX`, mode 0700 (mkdtemp's contract: created
/// here, so nobody else's).
fn agent_dir() -> Option<std::path::PathBuf> {
    use std::io::Read;
    use std::os::unix::fs::DirBuilderExt;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut urandom = std::fs::File::open("/dev/urandom").ok()?;
    for _ in 0..16 {
        let mut raw = [0u8; 10];
        urandom.read_exact(&mut raw).ok()?;
        let name: String = raw
            .iter()
            .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()))
            .map(|&c| char::from(c))
            .collect();
        let dir = std::path::PathBuf::from(format!("/tmp/ssh-{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Some(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Start the reader and writer tasks of an open channel.
fn start_pumps(c: &mut Chan, sock: Sock, id: ChannelId, key: u64, tx: &mpsc::UnboundedSender<Msg>) {
    let (mut r, mut w) = sock.split();
    let t = tx.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (ack, wait) = oneshot::channel();
            let data = buf.get(..n).unwrap_or_default().to_vec();
            if t.send(Msg(Inner::Output { id, key, data, ack })).is_err() {
                return;
            }
            // One chunk in flight: wait until the channel took it.
            if wait.await.is_err() {
                return;
            }
        }
        let _ = t.send(Msg(Inner::OutputDone { id, key }));
    });
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    let t = tx.clone();
    let writer = tokio::spawn(async move {
        let mut failed = false;
        while let Some(item) = wrx.recv().await {
            match item {
                Some(data) => {
                    if !failed && w.write_all(&data).await.is_err() {
                        // The socket is gone for writing: keep consuming, so the peer
                        // is never stalled.
                        failed = true;
                        let _ = t.send(Msg(Inner::WriteDone { id, key }));
                    }
                    let _ = t.send(Msg(Inner::Consumed {
                        id,
                        key,
                        n: data.len(),
                    }));
                }
                None => {
                    if !failed {
                        let _ = w.shutdown().await;
                        let _ = t.send(Msg(Inner::WriteDone { id, key }));
                    }
                    break;
                }
            }
        }
    });
    c.writer = Some(wtx);
    // The writer goes last: on the peer's CLOSE it is left to drain.
    c.tasks.push(reader.abort_handle());
    c.tasks.push(writer.abort_handle());
}

/// The tasks of a tunnel channel: one packet from the device in flight at a time
/// (acknowledged once the channel sent or dropped it), and each channel message
/// written to the device as one packet, reported consumed once written.
fn start_tun_pumps(
    c: &mut Chan,
    tun: Arc<Tun>,
    id: ChannelId,
    key: u64,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let t = tx.clone();
    let dev = tun.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; oxssh_sys::tun::RECV_BUF];
        while let Ok(n) = dev.recv(&mut buf).await {
            let (ack, wait) = oneshot::channel();
            let data = buf.get(..n).unwrap_or_default().to_vec();
            if t.send(Msg(Inner::Output { id, key, data, ack })).is_err() || wait.await.is_err() {
                return;
            }
        }
        let _ = t.send(Msg(Inner::OutputDone { id, key }));
    });
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    let t = tx.clone();
    let writer = tokio::spawn(async move {
        let mut failed = false;
        while let Some(Some(data)) = wrx.recv().await {
            if !failed && tun.send(&data).await.is_err() {
                failed = true;
                let _ = t.send(Msg(Inner::WriteDone { id, key }));
            }
            let n = data.len();
            let _ = t.send(Msg(Inner::Consumed { id, key, n }));
        }
        // The peer's EOF (or the channel's end): nothing to shut down on a device.
        if !failed {
            let _ = t.send(Msg(Inner::WriteDone { id, key }));
        }
    });
    c.writer = Some(wtx);
    c.tasks.push(reader.abort_handle());
    c.tasks.push(writer.abort_handle());
}

/// connect_to for `direct-tcpip`: resolve, then try each address in turn.
async fn connect_tcp(
    host: &str,
    port: u16,
    family: AddressFamily,
    id: ChannelId,
) -> Result<Sock, Refusal> {
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(a) => a.filter(|a| family_ok(family, &a.ip())).collect(),
        Err(e) => {
            let text = gai_strerror(&e);
            tracing::error!("connect_to {host}: unknown host ({text})");
            return Err(Refusal {
                reason: open_failure::CONNECT_FAILED,
                text,
            });
        }
    };
    let mut last: Option<io::Error> = None;
    for a in addrs {
        tracing::debug!(
            "connect_next: start for host {host} ([{}]:{})",
            a.ip(),
            a.port()
        );
        match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                tracing::debug!("channel {id}: connected to {host} port {port}");
                return Ok(Sock::Tcp(s));
            }
            Err(e) => {
                tracing::debug!("channel {id}: connection failed: {}", strerror(&e));
                last = Some(e);
            }
        }
    }
    tracing::error!("connect_to {host} port {port}: failed.");
    Err(Refusal {
        reason: open_failure::CONNECT_FAILED,
        text: match last {
            Some(e) => strerror(&e),
            // No address of the allowed family.
            None => "open failed".to_owned(),
        },
    })
}

/// A Unix-domain connect, which never waits (the listener's backlog takes it or not).
fn connect_unix_now(path: &str) -> io::Result<UnixStream> {
    let s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_nonblocking(true)?;
    UnixStream::from_std(s)
}

fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(LISTEN_BACKLOG)
}

/// unix_listener: the file gets `mode` from the start (the socket's own mode before
/// bind(2) is what Linux gives the file, less the umask), then exactly `mode`.
fn bind_unix(path: &str, mode: u32, unlink_first: bool) -> Result<UnixListener, String> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;
    let s =
        UnixSocket::new_stream().map_err(|e| format!("unix_listener: socket: {}", strerror(&e)))?;
    let set_mode = s
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(mode)));
    if let Err(e) = set_mode {
        // Without it the file would get the umask's mode: refuse rather than expose it.
        return Err(format!("unix_listener: fchmod: {}", strerror(&e)));
    }
    if unlink_first {
        if let Err(e) = std::fs::remove_file(path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::error!("unlink({path}): {}", strerror(&e));
            }
        }
    }
    s.bind(path).map_err(|e| {
        format!(
            "unix_listener: cannot bind to path {path}: {}",
            strerror(&e)
        )
    })?;
    // Our umask may have taken bits the mask leaves: give them back.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    s.listen(LISTEN_BACKLOG).map_err(|e| {
        let _ = std::fs::remove_file(path);
        format!(
            "unix_listener: cannot listen on path {path}: {}",
            strerror(&e)
        )
    })
}

/// Pause after accept(2) fails for lack of descriptors (OpenSSH waits a second too).
async fn accept_failed(e: &io::Error) {
    let no_fds = matches!(e.raw_os_error(), Some(23 | 24)); // ENFILE, EMFILE
    if e.kind() != io::ErrorKind::ConnectionAborted && e.kind() != io::ErrorKind::Interrupted {
        tracing::error!("accept: {}", strerror(e));
    }
    let pause = if no_fds { 1000 } else { 10 };
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
}

async fn accept_tcp(l: TcpListener, listener: u64, tx: mpsc::UnboundedSender<Msg>) {
    loop {
        match l.accept().await {
            Ok((s, from)) => {
                let _ = s.set_nodelay(true);
                let local_port = s.local_addr().map_or(0, |a| u32::from(a.port()));
                let originator = (from.ip().to_canonical().to_string(), u32::from(from.port()));
                let m = Inner::Accepted {
                    listener,
                    sock: Sock::Tcp(s),
                    originator,
                    local_port,
                };
                if tx.send(Msg(m)).is_err() {
                    return;
                }
            }
            Err(e) => accept_failed(&e).await,
        }
    }
}

async fn accept_unix(l: UnixListener, listener: u64, tx: mpsc::UnboundedSender<Msg>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let m = Inner::Accepted {
                    listener,
                    sock: Sock::Unix(s),
                    originator: (String::new(), 0),
                    local_port: 0,
                };
                if tx.send(Msg(m)).is_err() {
                    return;
                }
            }
            Err(e) => accept_failed(&e).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn perm(h: &str, p: Option<u16>) -> Perm {
        Perm {
            host: h.into(),
            port: p,
        }
    }

    #[test]
    fn permission_entries_parse_as_openssh_does() {
        assert_eq!(parse_perm("host:22"), Some(perm("host", Some(22))));
        assert_eq!(parse_perm("*:*"), Some(perm("*", None)));
        assert_eq!(parse_perm("[::1]:8080"), Some(perm("::1", Some(8080))));
        assert_eq!(parse_perm("h/443"), Some(perm("h", Some(443))));
        for bad in [
            "host",
            "host:0",
            "host:70000",
            "host:",
            "[::1]",
            "[::1",
            ":x",
            "",
        ] {
            assert_eq!(parse_perm(bad), None, "{bad}");
        }
        assert_eq!(admin_list(&[], false), None);
        assert_eq!(admin_list(&["any".into()], false), None);
        assert_eq!(admin_list(&["none".into()], false), Some(vec![]));
        assert_eq!(
            admin_list(&["a:1".into(), "b:*".into()], false),
            Some(vec![perm("a", Some(1)), perm("b", None)])
        );
    }

    fn policy(open_admin: Option<Vec<Perm>>, open_user: Option<Vec<Perm>>) -> Policy {
        Policy {
            tcp_local: true,
            tcp_remote: true,
            streamlocal_local: true,
            streamlocal_remote: true,
            open: PermSet {
                user: open_user,
                admin: open_admin,
            },
            listen: PermSet::default(),
            tun_point_to_point: false,
            tun_ethernet: false,
            tun_unit: None,
        }
    }

    #[test]
    fn open_needs_both_the_key_and_the_config_to_agree() {
        let any = policy(None, None);
        assert!(any.may_open(Target::Port("example.com", 80)));
        assert!(any.may_open(Target::Path("/tmp/s")));
        let none = policy(Some(vec![]), None);
        assert!(!none.may_open(Target::Port("localhost", 22)));
        assert!(!none.may_open(Target::Path("/tmp/s")));
        let admin = policy(
            Some(vec![perm("localhost", Some(22)), perm("*", Some(80))]),
            None,
        );
        assert!(admin.may_open(Target::Port("localhost", 22)));
        assert!(admin.may_open(Target::Port("anything", 80)));
        assert!(!admin.may_open(Target::Port("localhost", 23)));
        // Exact host comparison, as OpenSSH's strcmp.
        assert!(!admin.may_open(Target::Port("LOCALHOST", 22)));
        // A path matches only an entry with any port.
        assert!(!admin.may_open(Target::Path("localhost")));
        let both = policy(
            Some(vec![perm("*", None)]),
            Some(vec![perm("127.0.0.1", Some(7))]),
        );
        assert!(both.may_open(Target::Port("127.0.0.1", 7)));
        assert!(!both.may_open(Target::Port("127.0.0.1", 8)));
    }

    #[test]
    fn listen_matches_host_patterns_case_insensitively() {
        let mut p = policy(None, None);
        assert!(p.may_listen("localhost", 0));
        p.listen.admin = Some(vec![perm("*", Some(2222)), perm("LOCAL*", None)]);
        assert!(p.may_listen("", 2222));
        assert!(!p.may_listen("localhost", 2223));
        p.listen.admin = Some(vec![perm("local*", None)]);
        assert!(p.may_listen("LocalHost", 9));
        p.listen.user = Some(vec![perm("*", Some(9))]);
        assert!(p.may_listen("localhost", 9));
        assert!(!p.may_listen("localhost", 10));
    }

    #[test]
    fn gateway_ports_chooses_the_bind_address() {
        use GatewayPorts::*;
        let h = |s: &str| BindTo::Host(s.into());
        assert_eq!(bind_to("", No), (BindTo::Loopback, false));
        assert_eq!(bind_to("*", No), (BindTo::Loopback, false));
        assert_eq!(bind_to("0.0.0.0", No), (BindTo::Loopback, false));
        assert_eq!(bind_to("localhost", No), (BindTo::Loopback, false));
        assert_eq!(bind_to("127.0.0.1", No), (h("127.0.0.1"), false));
        assert_eq!(bind_to("::1", No), (h("::1"), false));
        assert_eq!(bind_to("", Yes), (BindTo::Wildcard, false));
        assert_eq!(bind_to("localhost", Yes), (BindTo::Wildcard, true));
        assert_eq!(bind_to("10.1.2.3", Yes), (BindTo::Wildcard, true));
        assert_eq!(bind_to("0.0.0.0", Yes), (BindTo::Wildcard, false));
        assert_eq!(bind_to("", ClientSpecified), (BindTo::Wildcard, false));
        assert_eq!(bind_to("*", ClientSpecified), (BindTo::Wildcard, false));
        assert_eq!(
            bind_to("localhost", ClientSpecified),
            (BindTo::Loopback, false)
        );
        assert_eq!(bind_to("0.0.0.0", ClientSpecified), (h("0.0.0.0"), false));
        assert_eq!(bind_to("10.1.2.3", ClientSpecified), (h("10.1.2.3"), false));
    }

    #[test]
    fn error_texts_are_the_c_library_ones() {
        let e = io::Error::from_raw_os_error(111);
        assert_eq!(strerror(&e), "Connection refused");
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(gai_strerror(&e), "Name or service not known");
        assert_eq!(reason_text(1), "administratively prohibited");
    }

    #[test]
    fn unix_listener_gets_the_mask_mode_and_is_removed_only_while_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let p = path.to_str().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use std::os::unix::fs::PermissionsExt;
            let l = bind_unix(p, 0o600, false).unwrap();
            let m = std::fs::metadata(&path).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
            // Without StreamLocalBindUnlink an existing file stops a second bind.
            let e = bind_unix(p, 0o600, false).unwrap_err();
            assert!(e.contains("Address already in use"), "{e}");
            drop(l);
            // With it the stale socket is replaced.
            let _l = bind_unix(p, 0o666, true).unwrap();
            let m = std::fs::metadata(&path).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o666);
            let ours = Listener {
                key: 1,
                kind: ListenKind::Unix {
                    path: p.to_owned(),
                    file: Some((m.dev(), m.ino())),
                },
                tasks: vec![],
            };
            drop(ours);
            assert!(!path.exists());
            // A file that is no longer ours stays.
            std::fs::write(&path, b"x").unwrap();
            let stale = Listener {
                key: 2,
                kind: ListenKind::Unix {
                    path: p.to_owned(),
                    file: Some((m.dev(), m.ino())),
                },
                tasks: vec![],
            };
            drop(stale);
            assert!(path.exists());
        });
    }
}
