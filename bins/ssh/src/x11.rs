//! X11 forwarding in ssh (`-X`, `-Y`, ForwardX11, ForwardX11Trusted,
//! ForwardX11Timeout, XAuthLocation), as OpenSSH's ssh does it:
//!
//! - the local display's cookie comes from `xauth list` (with `-X`, from a cookie
//!   `xauth generate`d as untrusted into a scratch file first, that expires
//!   ForwardX11Timeout + 60 s later; with `-Y`, the user's own), or is made up when
//!   xauth has none;
//! - the server is sent a *fake* cookie of the same length in `x11-req`; the real one
//!   never leaves this machine;
//! - each `x11` channel the server opens is connected to the local display (a Unix
//!   socket for `:N` or `unix:N`, abstract first on Linux; TCP port 6000 + N for
//!   `host:N`), and its first bytes, the X11 connection setup, must carry the fake
//!   cookie, which is replaced by the real one before anything reaches the X server;
//!   anything else closes the channel ("X11 connection rejected because of wrong
//!   authentication.").
//!
//! Data flows as in sshd's forwarding: one reader task per socket with one chunk in
//! flight (acknowledged once the channel took all of it), and a writer task whose
//! writes are reported consumed (window adjust) once done.

use std::collections::HashMap;

use oxssh_config::ClientConfig as Options;
use oxssh_proto::connection::{ChannelId, Connection, open_failure};
use oxssh_proto::transport::Transport;
use oxssh_proto::wire::{Put, Reader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

type ProtoResult<T> = Result<T, oxssh_proto::Error>;

const PROTO: &str = "MIT-MAGIC-COOKIE-1";
const TIMEOUT_SLACK: u64 = 60;
/// The most of a connection setup we wait for before judging it (the fixed 12 bytes
/// and two 16-bit-length fields, padded).
const MAX_SETUP: usize = 12 + 2 * (65535 + 3);
/// How much one socket read may take.
const CHUNK: usize = 16 * 1024;
/// The window and largest packet we give an `x11` channel (OpenSSH's
/// CHAN_X11_WINDOW_DEFAULT and CHAN_X11_PACKET_DEFAULT): what a server can make us
/// hold for one X connection whose X server is not reading.
const X11_WINDOW: u32 = 64 * 1024;
const X11_PACKET: u32 = 16 * 1024;

/// What `x11-req` promised: the cookie the server got and the one it stands for.
struct Spoof {
    proto: String,
    real: Vec<u8>,
    fake: Vec<u8>,
    display: String,
    /// ForwardX11Timeout for untrusted forwarding: no new connection after this.
    refuse_at: Option<tokio::time::Instant>,
}

/// `client_x11_display_valid`: DISPLAY may only hold alphanumerics and `:/.-_`.
fn display_valid(d: &str) -> bool {
    d.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":/.-_".contains(&b))
}

/// `client_x11_get_proto`: the authentication protocol and cookie (hex) for
/// `display`, or None (with OpenSSH's message) when forwarding cannot be set up.
fn get_proto(o: &Options, display: &str) -> Option<(String, String)> {
    if !display_valid(display) {
        oxssh_cli::log::eprint(&format!(
            "DISPLAY \"{display}\" invalid; disabling X11 forwarding"
        ));
        return None;
    }
    let trusted = o.forward_x11_trusted;
    let xauth =
        Some(o.xauth_location.as_str()).filter(|x| !x.is_empty() && std::fs::metadata(x).is_ok());
    if xauth.is_none() {
        tracing::debug!("No xauth program.");
    }
    let mut got = None;
    if let Some(xauth) = xauth {
        let display = match display.strip_prefix("localhost:") {
            Some(rest) => format!("unix:{rest}"),
            None => display.to_owned(),
        };
        let mut scratch = None;
        if !trusted {
            scratch = tempdir();
            if let Some(dir) = &scratch {
                let file = dir.join("xauthfile");
                let mut cmd = std::process::Command::new(xauth);
                cmd.arg("-f")
                    .arg(&file)
                    .args(["generate", &display, PROTO, "untrusted"]);
                if o.forward_x11_timeout > 0 {
                    let t = u64::from(o.forward_x11_timeout.unsigned_abs()) + TIMEOUT_SLACK;
                    cmd.args(["timeout", &t.min(u64::from(u32::MAX)).to_string()]);
                }
                tracing::debug!("client_x11_get_proto: xauth command: {cmd:?}");
                let ok = cmd
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    let _ = std::fs::remove_dir_all(dir);
                    scratch = None;
                }
            }
        }
        if trusted || scratch.is_some() {
            let mut cmd = std::process::Command::new(xauth);
            if let Some(dir) = &scratch {
                cmd.arg("-f").arg(dir.join("xauthfile"));
            }
            cmd.args(["list", &display]);
            tracing::debug!("x11_get_proto: {cmd:?}");
            if let Ok(out) = cmd
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
            {
                let text = String::from_utf8_lossy(&out.stdout);
                let mut w = text.lines().next().unwrap_or("").split_whitespace();
                if let (Some(_), Some(p), Some(d)) = (w.next(), w.next(), w.next()) {
                    got = Some((p.to_owned(), d.to_owned()));
                }
            }
        }
        if let Some(dir) = scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if !trusted && got.is_none() {
        oxssh_cli::log::eprint(
            "Warning: untrusted X11 forwarding setup failed: xauth key data not generated",
        );
        return None;
    }
    got.or_else(|| {
        oxssh_cli::log::eprint(
            "Warning: No xauth data; using fake authentication data for X11 forwarding.",
        );
        let mut rnd = [0u8; 16];
        oxssh_keys::keyfile::random_bytes(&mut rnd);
        Some((PROTO.to_owned(), hex(&rnd)))
    })
}

fn tempdir() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for _ in 0..16 {
        let mut r = [0u8; 8];
        oxssh_keys::keyfile::random_bytes(&mut r);
        let dir = std::env::temp_dir().join(format!("ssh-{}", hex(&r)));
        if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
            return Some(dir);
        }
    }
    None
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// One `x11` channel's local side.
struct XChan {
    /// Tells this channel's socket reports from those of an earlier channel that had
    /// the same (reused) id.
    generation: u64,
    /// The connection setup gathered so far; None once it passed.
    setup: Option<Vec<u8>>,
    /// Data for the socket, and whether its writing should give window back (not for
    /// the setup, whose window was given back as it arrived).
    to_socket: mpsc::UnboundedSender<Option<(Vec<u8>, bool)>>,
    /// Socket data the peer's window has not taken yet, and the reader to wake then.
    held: Vec<u8>,
    ack: Option<oneshot::Sender<()>>,
    /// The socket has ended: EOF (and close) once `held` is out.
    socket_eof: bool,
    tasks: Vec<AbortHandle>,
}

impl Drop for XChan {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What the socket tasks report.
pub struct Msg(Inner);

enum Inner {
    Read(Tag, Option<Vec<u8>>, oneshot::Sender<()>),
    Wrote(Tag, usize),
}

/// A channel id and the generation of the channel that had it.
type Tag = (ChannelId, u64);

/// The connection's X11 forwarding: the spoofed cookie and the open `x11` channels.
pub struct X11 {
    /// LogLevel INFO or more: the rejection of a bad cookie is shown.
    info: bool,
    spoof: Option<Spoof>,
    chans: HashMap<ChannelId, XChan>,
    next_generation: u64,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl X11 {
    pub fn new(o: &Options) -> X11 {
        let (tx, rx) = mpsc::unbounded_channel();
        X11 {
            info: o.log_level >= oxssh_config::LogLevel::Info,
            spoof: None,
            chans: HashMap::new(),
            next_generation: 0,
            tx,
            rx,
        }
    }

    /// The `x11-req` body for the session channel, when ForwardX11 asks for it and a
    /// cookie could be had (`x11_request_forwarding_with_spoofing`).
    pub fn request(&mut self, o: &Options) -> Option<Vec<u8>> {
        if !o.forward_x11 {
            return None;
        }
        let Some(display) = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) else {
            tracing::debug!("X11 forwarding requested but DISPLAY not set");
            return None;
        };
        let (proto, data) = get_proto(o, &display)?;
        let Some(real) = unhex(&data) else {
            oxssh_cli::log::eprint(&format!(
                "x11_request_forwarding: bad authentication data: {data}"
            ));
            return None;
        };
        let mut fake = vec![0u8; real.len()];
        oxssh_keys::keyfile::random_bytes(&mut fake);
        let screen = display
            .rsplit_once(':')
            .and_then(|(_, d)| d.split_once('.'))
            .and_then(|(_, s)| s.parse::<u32>().ok())
            .filter(|s| *s <= 400)
            .unwrap_or(0);
        tracing::debug!("Requesting X11 forwarding with authentication spoofing.");
        let mut body = Vec::new();
        body.put_bool(false);
        body.put_str(&proto);
        body.put_str(&hex(&fake));
        body.put_u32(screen);
        let refuse_at = (!o.forward_x11_trusted && o.forward_x11_timeout > 0).then(|| {
            tokio::time::Instant::now()
                + std::time::Duration::from_secs(u64::from(o.forward_x11_timeout.unsigned_abs()))
        });
        self.spoof = Some(Spoof {
            proto,
            real,
            fake,
            display,
            refuse_at,
        });
        Some(body)
    }

    /// A channel the server opens. `x11` ones are connected to the display when we
    /// asked for forwarding; every other type is refused, as OpenSSH's ssh refuses
    /// what it did not ask for.
    pub fn open_request(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        id: ChannelId,
        kind: &str,
        data: &[u8],
    ) -> ProtoResult<()> {
        tracing::debug!("client_input_channel_open: ctype {kind}");
        let sock = match kind {
            "x11" => self.connect(data),
            "auth-agent@openssh.com" => {
                oxssh_cli::log::eprint("Warning: ssh server tried agent forwarding.");
                oxssh_cli::log::eprint(
                    "Warning: this is probably a break-in attempt by a malicious server.",
                );
                None
            }
            _ => None,
        };
        let Some(sock) = sock else {
            tracing::debug!("failure {kind}");
            return chans.reject(
                t,
                id,
                open_failure::ADMINISTRATIVELY_PROHIBITED,
                "open failed",
            );
        };
        tracing::debug!("confirm {kind}");
        chans.accept_with_window(t, id, X11_WINDOW, X11_PACKET)?;
        let (reader, writer) = tokio::io::split(sock);
        let (wtx, wrx) = mpsc::unbounded_channel();
        self.next_generation += 1;
        let tag = (id, self.next_generation);
        let tasks = vec![
            tokio::spawn(read_socket(reader, tag, self.tx.clone())).abort_handle(),
            tokio::spawn(write_socket(writer, wrx, tag, self.tx.clone())).abort_handle(),
        ];
        self.chans.insert(
            id,
            XChan {
                generation: tag.1,
                setup: Some(Vec::new()),
                to_socket: wtx,
                held: Vec::new(),
                ack: None,
                socket_eof: false,
                tasks,
            },
        );
        Ok(())
    }

    /// `client_request_x11`: the checks, then `x11_connect_display`.
    fn connect(&self, data: &[u8]) -> Option<Socket> {
        let Some(spoof) = &self.spoof else {
            oxssh_cli::log::eprint("Warning: ssh server tried X11 forwarding.");
            oxssh_cli::log::eprint(
                "Warning: this is probably a break-in attempt by a malicious server.",
            );
            return None;
        };
        if spoof
            .refuse_at
            .is_some_and(|at| tokio::time::Instant::now() >= at)
        {
            tracing::info!("Rejected X11 connection after ForwardX11Timeout expired");
            return None;
        }
        let mut r = Reader::new(data);
        if let (Ok(from), Ok(port)) = (r.utf8(), r.u32()) {
            tracing::debug!("client_request_x11: request from {from} {port}");
        }
        connect_display(&spoof.display)
    }

    /// Data from the server for one of our channels: the setup is checked and its
    /// cookie replaced first; the rest goes to the socket.
    pub fn data(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        id: ChannelId,
        data: Vec<u8>,
    ) -> ProtoResult<()> {
        let Some(c) = self.chans.get_mut(&id) else {
            return Ok(());
        };
        let n = data.len();
        let Some(setup) = c.setup.as_mut() else {
            let _ = c.to_socket.send(Some((data, true)));
            return Ok(());
        };
        setup.extend_from_slice(&data);
        // The window is given back at once for the setup: it is small and bounded.
        chans.consumed(t, id, n)?;
        let verdict = self
            .spoof
            .as_ref()
            .map_or(Some(false), |s| check_setup(setup, s));
        match verdict {
            None if setup.len() <= MAX_SETUP => Ok(()),
            Some(true) => {
                if let Some(setup) = c.setup.take() {
                    let _ = c.to_socket.send(Some((setup, false)));
                }
                Ok(())
            }
            _ => {
                if self.info {
                    oxssh_cli::log::eprint(
                        "X11 connection rejected because of wrong authentication.",
                    );
                }
                self.chans.remove(&id);
                chans.close(t, id)
            }
        }
    }

    /// The server's EOF on one of our channels: no more writes to the socket.
    pub fn eof(&mut self, id: ChannelId) {
        if let Some(c) = self.chans.get(&id) {
            let _ = c.to_socket.send(None);
        }
    }

    /// The channel is gone: so is its socket.
    pub fn closed(&mut self, id: ChannelId) {
        self.chans.remove(&id);
    }

    /// No X11 connection is open.
    pub fn is_empty(&self) -> bool {
        self.chans.is_empty()
    }

    /// The next report from a socket task (never ends: we hold a sender).
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    pub fn handle(&mut self, chans: &mut Connection, t: &mut Transport, m: Msg) -> ProtoResult<()> {
        let ours = |chans: &HashMap<ChannelId, XChan>, (id, generation): Tag| {
            chans.get(&id).is_some_and(|c| c.generation == generation)
        };
        match m.0 {
            Inner::Wrote(tag, n) => {
                if ours(&self.chans, tag) && chans.is_open(tag.0) {
                    chans.consumed(t, tag.0, n)?;
                }
            }
            Inner::Read(tag, data, ack) => {
                if !ours(&self.chans, tag) {
                    return Ok(());
                }
                let Some(c) = self.chans.get_mut(&tag.0) else {
                    return Ok(());
                };
                match data {
                    Some(d) => {
                        c.held = d;
                        c.ack = Some(ack);
                    }
                    None => c.socket_eof = true,
                }
            }
        }
        self.progress(chans, t)
    }

    /// Send what the windows allow; wake readers whose chunk went out; end channels
    /// whose socket ended.
    pub fn progress(&mut self, chans: &mut Connection, t: &mut Transport) -> ProtoResult<()> {
        let mut done = Vec::new();
        for (&id, c) in &mut self.chans {
            if !c.held.is_empty() {
                let n = chans.send_data(t, id, None, &c.held)?;
                c.held.drain(..n);
            }
            if c.held.is_empty() {
                if let Some(ack) = c.ack.take() {
                    let _ = ack.send(());
                }
                if c.socket_eof {
                    done.push(id);
                }
            }
        }
        for id in done {
            self.chans.remove(&id);
            chans.send_eof(t, id)?;
            chans.close(t, id)?;
        }
        Ok(())
    }
}

/// `x11_open_helper`: Some(true) when the whole setup is there and carries the fake
/// cookie (which is then replaced by the real one, in place), Some(false) when it is
/// wrong, None while incomplete.
fn check_setup(b: &mut [u8], s: &Spoof) -> Option<bool> {
    let head: &[u8; 12] = b.first_chunk()?;
    let [order, _, _, _, _, _, p0, p1, d0, d1, _, _] = *head;
    let (proto_len, data_len) = match order {
        0x42 => (
            usize::from(u16::from_be_bytes([p0, p1])),
            usize::from(u16::from_be_bytes([d0, d1])),
        ),
        0x6c => (
            usize::from(u16::from_le_bytes([p0, p1])),
            usize::from(u16::from_le_bytes([d0, d1])),
        ),
        _ => {
            tracing::debug!("Initial X11 packet contains bad byte order byte");
            return Some(false);
        }
    };
    let data_at = 12 + proto_len.next_multiple_of(4);
    if b.len() < data_at + data_len.next_multiple_of(4) {
        return None;
    }
    if b.get(12..12 + proto_len) != Some(s.proto.as_bytes()) {
        tracing::debug!("X11 connection uses different authentication protocol.");
        return Some(false);
    }
    let cookie = b.get_mut(data_at..data_at + data_len)?;
    let matches = data_len == s.fake.len()
        && oxssh_sys::passwd::constant_time_eq(cookie, &s.fake)
        && s.fake.len() == s.real.len();
    if !matches {
        tracing::debug!("X11 auth data does not match fake data.");
        return Some(false);
    }
    cookie.copy_from_slice(&s.real);
    Some(true)
}

/// A connection to the local X server.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}
type Socket = Box<dyn Stream>;

/// `x11_connect_display`: `:N`/`unix:N` is the Unix socket of display N (the
/// abstract one first, as on Linux), `host:N` is TCP port 6000 + N on host.
fn connect_display(display: &str) -> Option<Socket> {
    let number = |s: &str| -> Option<u32> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if display.starts_with("unix:") || display.starts_with(':') {
        let Some(n) = display.rsplit_once(':').and_then(|(_, d)| number(d)) else {
            oxssh_cli::log::eprint(&format!(
                "Could not parse display number from DISPLAY: {display}"
            ));
            return None;
        };
        let path = format!("/tmp/.X11-unix/X{n}");
        let abstract_sock = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(path.as_bytes())
                .and_then(|a| std::os::unix::net::UnixStream::connect_addr(&a))
        };
        let s = match abstract_sock.or_else(|_| std::os::unix::net::UnixStream::connect(&path)) {
            Ok(s) => s,
            Err(e) => {
                oxssh_cli::log::eprint(&format!("connect {path}: {}", crate::client::io_text(&e)));
                return None;
            }
        };
        s.set_nonblocking(true).ok()?;
        return Some(Box::new(tokio::net::UnixStream::from_std(s).ok()?));
    }
    let Some((host, rest)) = display.split_once(':') else {
        oxssh_cli::log::eprint(&format!("Could not find ':' in DISPLAY: {display}"));
        return None;
    };
    let Some(port) = number(rest)
        .filter(|n| *n <= 65535 - 6000)
        .map(|n| 6000 + n as u16)
    else {
        oxssh_cli::log::eprint(&format!(
            "Could not parse display number from DISPLAY: {display}"
        ));
        return None;
    };
    let addrs = match std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => {
            oxssh_cli::log::eprint(&format!("{host}: unknown host. ({e})"));
            return None;
        }
    };
    let mut last = None;
    for a in addrs {
        match std::net::TcpStream::connect(a) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                s.set_nonblocking(true).ok()?;
                return Some(Box::new(tokio::net::TcpStream::from_std(s).ok()?));
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(String::new, |e| crate::client::io_text(&e));
    oxssh_cli::log::eprint(&format!("connect {host} port {port}: {why}"));
    None
}

async fn read_socket(mut r: tokio::io::ReadHalf<Socket>, id: Tag, tx: mpsc::UnboundedSender<Msg>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = r.read(&mut buf).await.unwrap_or(0);
        let (ack, acked) = oneshot::channel();
        let data = (n > 0).then(|| buf.get(..n).unwrap_or_default().to_vec());
        let eof = data.is_none();
        if tx.send(Msg(Inner::Read(id, data, ack))).is_err() || eof {
            return;
        }
        if acked.await.is_err() {
            return;
        }
    }
}

async fn write_socket(
    mut w: tokio::io::WriteHalf<Socket>,
    mut rx: mpsc::UnboundedReceiver<Option<(Vec<u8>, bool)>>,
    id: Tag,
    tx: mpsc::UnboundedSender<Msg>,
) {
    while let Some(Some((data, credit))) = rx.recv().await {
        if w.write_all(&data).await.is_err() {
            return;
        }
        if credit {
            let _ = tx.send(Msg(Inner::Wrote(id, data.len())));
        }
    }
    let _ = w.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spoof() -> Spoof {
        Spoof {
            proto: PROTO.into(),
            real: vec![0xaa; 16],
            fake: vec![0x55; 16],
            display: ":0".into(),
            refuse_at: None,
        }
    }

    fn setup(order: u8, name: &[u8], data: &[u8]) -> Vec<u8> {
        let le = order == 0x6c;
        let u16b = |v: usize| {
            let v = v as u16;
            if le { v.to_le_bytes() } else { v.to_be_bytes() }
        };
        let mut b = vec![order, 0];
        b.extend_from_slice(&u16b(11));
        b.extend_from_slice(&u16b(0));
        b.extend_from_slice(&u16b(name.len()));
        b.extend_from_slice(&u16b(data.len()));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(name);
        b.resize(b.len().next_multiple_of(4), 0);
        b.extend_from_slice(data);
        b.resize(b.len().next_multiple_of(4), 0);
        b
    }

    #[test]
    fn the_fake_cookie_is_replaced_by_the_real_one_in_either_byte_order() {
        for order in [0x42, 0x6c] {
            let mut b = setup(order, PROTO.as_bytes(), &[0x55; 16]);
            assert_eq!(check_setup(&mut b, &spoof()), Some(true));
            assert_eq!(b, setup(order, PROTO.as_bytes(), &[0xaa; 16]));
        }
    }

    #[test]
    fn wrong_or_incomplete_setups_are_refused_or_awaited() {
        let full = setup(0x6c, PROTO.as_bytes(), &[0x55; 16]);
        for cut in [0, 5, 12, 20, full.len() - 1] {
            assert_eq!(
                check_setup(&mut full[..cut].to_vec(), &spoof()),
                None,
                "{cut}"
            );
        }
        let mut wrong = setup(0x6c, PROTO.as_bytes(), &[0x56; 16]);
        assert_eq!(check_setup(&mut wrong, &spoof()), Some(false));
        let mut other = setup(0x6c, b"XDM-AUTHORIZATION-1", &[0x55; 16]);
        assert_eq!(check_setup(&mut other, &spoof()), Some(false));
        let mut short = setup(0x6c, PROTO.as_bytes(), &[0x55; 8]);
        assert_eq!(check_setup(&mut short, &spoof()), Some(false));
        let mut order = setup(0x6c, PROTO.as_bytes(), &[0x55; 16]);
        order[0] = b'x';
        assert_eq!(check_setup(&mut order, &spoof()), Some(false));
    }

    #[test]
    fn display_names_are_checked_as_openssh_checks_them() {
        assert!(display_valid("localhost:10.0"));
        assert!(display_valid("unix:0"));
        assert!(!display_valid(":0; rm -rf ~"));
        assert!(!display_valid("host:0 "));
    }
}
