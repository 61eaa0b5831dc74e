//! Port forwarding in our sshd, driven by OpenSSH's `ssh`: `-L` (to TCP and to a Unix
//! socket, and from a client-side Unix socket), `-R` (a fixed port, `-R 0` with its
//! "Allocated port N" line, a Unix socket path), `-D` and the dynamic `-R port` with a
//! SOCKS5 handshake written out here, `-W`; and the refusals a user meets: PermitOpen,
//! PermitListen, AllowTcpForwarding no, the `no-port-forwarding` key option, a target
//! that refuses the connection — with the messages ssh prints and the lines sshd logs.
//!
//! Every byte goes through small echo servers started by the test; every ssh runs with
//! a time limit and is killed when its guard drops.

// Test helpers fail the test loudly, with what they waited for.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome};

/// How long a forward may take to come up (a busy 2-core machine).
const READY: Duration = Duration::from_secs(10);
/// I/O timeout on the test's sockets.
const IO: Duration = Duration::from_secs(10);

/// A TCP echo server on 127.0.0.1: echoes each connection until EOF, then closes.
fn tcp_echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || echo(s.try_clone().unwrap(), s));
        }
    });
    port
}

/// A Unix-socket echo server at `path`.
fn unix_echo(path: &Path) {
    let l = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || echo(s.try_clone().unwrap(), s));
        }
    });
}

fn echo(mut r: impl Read, mut w: impl Write + ShutdownWrite) {
    let mut buf = [0u8; 16384];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if w.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    w.shutdown_write();
}

trait ShutdownWrite {
    fn shutdown_write(&self);
}
impl ShutdownWrite for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}
impl ShutdownWrite for UnixStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Send `data` (then EOF) over a connected stream and read everything back.
fn round_trip<S>(s: S, data: &[u8]) -> Vec<u8>
where
    S: Read + Write + ShutdownWrite + TryCloneStream + Send + 'static,
{
    let mut w = s.try_clone_stream();
    let data = data.to_vec();
    let writer = thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown_write();
    });
    let mut got = Vec::new();
    let mut s = s;
    s.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    got
}

trait TryCloneStream: Sized {
    fn try_clone_stream(&self) -> Self;
}
impl TryCloneStream for TcpStream {
    fn try_clone_stream(&self) -> Self {
        let s = self.try_clone().unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        s
    }
}
impl TryCloneStream for UnixStream {
    fn try_clone_stream(&self) -> Self {
        let s = self.try_clone().unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        s
    }
}

/// Test data that is not all one byte value.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A 127.0.0.1 port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connect to 127.0.0.1:`port`, retrying until something listens (bounded).
fn connect_when_up(port: u16) -> TcpStream {
    let deadline = Instant::now() + READY;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(IO)).unwrap();
                return s;
            }
            Err(e) if Instant::now() >= deadline => panic!("nothing listens on {port}: {e}"),
            Err(_) => thread::sleep(Duration::from_millis(30)),
        }
    }
}

fn connect_unix_when_up(path: &Path) -> UnixStream {
    let deadline = Instant::now() + READY;
    loop {
        match UnixStream::connect(path) {
            Ok(s) => {
                s.set_read_timeout(Some(IO)).unwrap();
                return s;
            }
            Err(e) if Instant::now() >= deadline => {
                panic!("nothing listens on {}: {e}", path.display())
            }
            Err(_) => thread::sleep(Duration::from_millis(30)),
        }
    }
}

/// A running `ssh -N …`: killed and reaped on drop; its stderr collected.
struct Client {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Client {
    fn start(ssh: &Path, sshd: &Sshd, home: &TempHome, forwards: &[&str]) -> Client {
        let mut cmd = Command::new(ssh);
        cmd.args(forwards)
            .args(["-N", "-o", "ExitOnForwardFailure=yes"])
            .args(sshd.client(home).args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        home.apply_env(&mut cmd);
        oxssh_sys::kill_on_parent_death(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Client { child, stderr }
    }

    /// Wait (bounded) until ssh's stderr has `needle`; return the stderr.
    fn wait_stderr(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + READY;
        loop {
            let text = self.stderr.lock().unwrap().clone();
            if text.contains(needle) {
                return text;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // Give the reader a moment for the last words.
                thread::sleep(Duration::from_millis(100));
                let text = self.stderr.lock().unwrap().clone();
                assert!(
                    text.contains(needle),
                    "ssh exited ({st}) without {needle:?}:\n{text}"
                );
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} from ssh:\n{text}");
            thread::sleep(Duration::from_millis(30));
        }
    }

    /// Wait (bounded) for ssh to exit; its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + READY;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            assert!(Instant::now() < deadline, "ssh did not exit");
            thread::sleep(Duration::from_millis(30));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What most tests start from: an echo server, our sshd with `config`, a client home.
struct Rig {
    echo: u16,
    sshd: Sshd,
    home: TempHome,
}

fn rig(config: &[&str]) -> Rig {
    Rig {
        echo: tcp_echo(),
        sshd: server(config),
        home: TempHome::new(),
    }
}

fn server(config: &[&str]) -> Sshd {
    let mut b = Sshd::ours();
    for line in config {
        b = b.config(*line);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// `ssh -W host:port` with `input` on stdin: a one-shot direct-tcpip channel.
fn stdio_forward(ssh: &Path, sshd: &Sshd, home: &TempHome, target: &str, input: &[u8]) -> Output {
    Cmd::new(ssh)
        .args(["-W", target])
        .args(sshd.client(home).args())
        .envs(home.env())
        .stdin(input.to_vec())
        .timeout(Duration::from_secs(20))
        .run()
}

#[test]
fn local_forward_carries_bytes_both_ways_and_half_closes() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let local = free_port();
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-L", &format!("{local}:127.0.0.1:{echo}")],
    );
    // More than a window's worth, so flow control is exercised.
    let data = pattern(5 * 1024 * 1024 + 17);
    let got = round_trip(connect_when_up(local), &data);
    assert!(got == data, "echoed {} of {} bytes", got.len(), data.len());
    // A second connection on the same forward.
    assert_eq!(round_trip(connect_when_up(local), b"again"), b"again");
    sshd.wait_for_log("server_request_direct_tcpip: originator 127.0.0.1 port ");
}

#[test]
fn remote_forward_to_port_0_prints_the_allocated_port_and_carries_bytes() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let mut c = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    let needle = format!(" for remote forward to 127.0.0.1:{echo}");
    let text = c.wait_stderr(&needle);
    let line = text.lines().find(|l| l.contains(&needle)).unwrap();
    let port: u16 = line
        .strip_prefix("Allocated port ")
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let data = pattern(300_000);
    assert!(round_trip(connect_when_up(port), &data) == data);
    sshd.wait_for_log(&format!("Allocated listen port {port}"));
    // The listener goes with the connection.
    c.stop();
    let deadline = Instant::now() + READY;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "port {port} still listening");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn remote_forward_to_a_fixed_port_and_a_taken_port_fails() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let port = free_port();
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("{port}:127.0.0.1:{echo}")],
    );
    assert_eq!(round_trip(connect_when_up(port), b"hello"), b"hello");
    // The same port again: the bind fails and ssh gives up (ExitOnForwardFailure).
    let mut again = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("{port}:127.0.0.1:{echo}")],
    );
    again.wait_stderr(&format!(
        "Error: remote port forwarding failed for listen port {port}"
    ));
    assert_eq!(again.wait_exit(), Some(255));
    sshd.wait_for_log(&format!("cannot listen to port: {port}"));
}

/// The client half of a SOCKS5 CONNECT (RFC 1928) to 127.0.0.1:`port`.
fn socks5_connect(mut s: TcpStream, port: u16) -> TcpStream {
    // Greeting: version 5, one method, "no authentication".
    s.write_all(&[5, 1, 0]).unwrap();
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 0]);
    // CONNECT to IPv4 127.0.0.1:port.
    let [hi, lo] = port.to_be_bytes();
    s.write_all(&[5, 1, 0, 1, 127, 0, 0, 1, hi, lo]).unwrap();
    let mut head = [0u8; 10];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head[..2], [5, 0], "SOCKS5 reply {head:?}");
    s
}

#[test]
fn dynamic_forward_socks5_reaches_the_target() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let local = free_port();
    let _c = Client::start(&ssh, &sshd, &home, &["-D", &format!("127.0.0.1:{local}")]);
    let s = socks5_connect(connect_when_up(local), echo);
    let data = pattern(100_000);
    assert!(round_trip(s, &data) == data);
}

#[test]
fn dynamic_remote_forward_serves_socks_on_the_server_side() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let port = free_port();
    let _c = Client::start(&ssh, &sshd, &home, &["-R", &port.to_string()]);
    let s = socks5_connect(connect_when_up(port), echo);
    assert_eq!(round_trip(s, b"through -R socks"), b"through -R socks");
}

#[test]
fn stdio_forward_and_a_refused_target() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let out = stdio_forward(
        &ssh,
        &sshd,
        &home,
        &format!("127.0.0.1:{echo}"),
        b"via -W\n",
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), "via -W\n");
    // Nothing listens on a port that was just free.
    let closed = free_port();
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{closed}"), b"");
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("open failed: connect failed: Connection refused"),
        "{out}"
    );
    sshd.wait_for_log(&format!("connect_to 127.0.0.1 port {closed}: failed."));
}

#[test]
fn permit_open_denies_other_targets() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let other = tcp_echo();
    let sshd = server(&[&format!("PermitOpen 127.0.0.1:{echo}")]);
    let home = TempHome::new();
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{echo}"), b"ok\n");
    out.assert_success();
    assert_eq!(out.stdout_str(), "ok\n");
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{other}"), b"no\n");
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("open failed: administratively prohibited: open failed"),
        "{out}"
    );
    sshd.wait_for_log(&format!(
        "to connect to host 127.0.0.1 port {other}, but the request was denied."
    ));
}

#[test]
fn permit_listen_denies_other_ports() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let allowed = free_port();
    let sshd = server(&[&format!("PermitListen {allowed}")]);
    let home = TempHome::new();
    let _ok = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("{allowed}:127.0.0.1:{echo}")],
    );
    assert_eq!(round_trip(connect_when_up(allowed), b"yes"), b"yes");
    let mut denied = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    denied.wait_stderr("Error: remote port forwarding failed for listen port 0");
    sshd.wait_for_log("to remote forward to host localhost port 0, but the request was denied.");
}

#[test]
fn allow_tcp_forwarding_no_refuses_local_and_remote() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&["AllowTcpForwarding no"]);
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{echo}"), b"");
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("open failed: administratively prohibited: open failed"),
        "{out}"
    );
    // ssh -W names no real originator: OpenSSH's stand-in is 127.0.0.1 port 65535.
    sshd.wait_for_log(&format!(
        "refused local port forward: originator 127.0.0.1 port 65535, target 127.0.0.1 port {echo}"
    ));
    let mut c = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    c.wait_stderr("Error: remote port forwarding failed for listen port 0");
}

#[test]
fn allow_tcp_forwarding_local_still_refuses_remote() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&["AllowTcpForwarding local"]);
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{echo}"), b"l\n");
    out.assert_success();
    assert_eq!(out.stdout_str(), "l\n");
    let mut c = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    c.wait_stderr("Error: remote port forwarding failed for listen port 0");
}

#[test]
fn no_port_forwarding_key_option_refuses_forwarding_but_not_the_session() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let sshd = Sshd::ours().start();
    sshd.authorize_line(&format!("no-port-forwarding {}", Key::Ed25519.public()));
    let home = TempHome::new();
    let out = Cmd::new(&ssh)
        .args(sshd.client(&home).args())
        .arg("echo session")
        .envs(home.env())
        .run();
    out.assert_success();
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{echo}"), b"");
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("open failed: administratively prohibited: open failed"),
        "{out}"
    );
    let mut c = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    c.wait_stderr("Error: remote port forwarding failed for listen port 0");
}

#[test]
fn permitopen_key_option_limits_targets() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let other = tcp_echo();
    let sshd = Sshd::ours().start();
    sshd.authorize_line(&format!(
        "permitopen=\"127.0.0.1:{echo}\" {}",
        Key::Ed25519.public()
    ));
    let home = TempHome::new();
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{echo}"), b"k\n");
    out.assert_success();
    assert_eq!(out.stdout_str(), "k\n");
    let out = stdio_forward(&ssh, &sshd, &home, &format!("127.0.0.1:{other}"), b"");
    out.assert_code(255);
    assert!(
        out.stderr_str().contains("administratively prohibited"),
        "{out}"
    );
}

/// A short directory for socket paths (sun_path holds 108 bytes).
fn sock_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("oxfwd")
        .tempdir_in("/tmp")
        .unwrap()
}

#[test]
fn unix_socket_forwards_local_from_a_socket_and_to_a_socket() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let dir = sock_dir();
    let target = dir.path().join("target.sock");
    unix_echo(&target);
    let client_side: PathBuf = dir.path().join("client.sock");
    let sshd = server(&[]);
    let home = TempHome::new();
    let local = free_port();
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &[
            // A client-side socket to a TCP target (direct-tcpip).
            "-L",
            &format!("{}:127.0.0.1:{echo}", client_side.display()),
            // A TCP port to a server-side socket (direct-streamlocal@openssh.com).
            "-L",
            &format!("{local}:{}", target.display()),
        ],
    );
    let data = pattern(200_000);
    assert!(round_trip(connect_unix_when_up(&client_side), &data) == data);
    assert!(round_trip(connect_when_up(local), &data) == data);
    sshd.wait_for_log("server_request_direct_streamlocal: originator 127.0.0.1 port ");
}

#[test]
fn unix_socket_remote_forward_uses_the_bind_mask_and_goes_away() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let dir = sock_dir();
    let path = dir.path().join("remote.sock");
    let sshd = server(&[]);
    let home = TempHome::new();
    let mut c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("{}:127.0.0.1:{echo}", path.display())],
    );
    let s = connect_unix_when_up(&path);
    // StreamLocalBindMask 0177 by default: only the owner may connect.
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(round_trip(s, b"over a socket"), b"over a socket");
    sshd.wait_for_log(&format!(
        "Local forwarding listening on path {}.",
        path.display()
    ));
    c.stop();
    let deadline = Instant::now() + READY;
    while path.exists() {
        assert!(Instant::now() < deadline, "{} left behind", path.display());
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn allow_streamlocal_forwarding_no_refuses_socket_forwards() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let dir = sock_dir();
    let path = dir.path().join("r.sock");
    let sshd = server(&["AllowStreamLocalForwarding no"]);
    let home = TempHome::new();
    let mut c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("{}:127.0.0.1:{echo}", path.display())],
    );
    c.wait_stderr(&format!(
        "Error: remote port forwarding failed for listen path {}",
        path.display()
    ));
    assert!(!path.exists());
}

/// A TCP server that writes `pattern` bytes to each connection without end.
fn tcp_flood() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            thread::spawn(move || {
                let chunk = pattern(64 * 1024);
                while s.write_all(&chunk).is_ok() {}
            });
        }
    });
    port
}

#[test]
fn a_forward_nobody_reads_does_not_stall_the_others() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let echo = tcp_echo();
    let flood = tcp_flood();
    let sshd = server(&[]);
    let home = TempHome::new();
    let (to_flood, to_echo) = (free_port(), free_port());
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &[
            "-L",
            &format!("{to_flood}:127.0.0.1:{flood}"),
            "-L",
            &format!("{to_echo}:127.0.0.1:{echo}"),
        ],
    );
    // Opened and never read: its channel window fills and stays full.
    let stalled = connect_when_up(to_flood);
    thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        let data = pattern(256 * 1024);
        assert!(round_trip(connect_when_up(to_echo), &data) == data);
    }
    // The stalled one still delivers what it was sent, in order.
    let mut head = vec![0u8; 128 * 1024];
    (&stalled).read_exact(&mut head).unwrap();
    assert!(head[..64 * 1024] == pattern(64 * 1024)[..]);
}

#[test]
fn gateway_ports_yes_listens_on_every_address() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&["GatewayPorts yes"]);
    let mut c = Client::start(&ssh, &sshd, &home, &["-R", &format!("0:127.0.0.1:{echo}")]);
    let text = c.wait_stderr(&format!(" for remote forward to 127.0.0.1:{echo}"));
    let port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("Allocated port "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    // ssh asked for "localhost"; GatewayPorts yes binds the wildcard instead.
    let log = sshd.wait_for_log(&format!("Allocated listen port {port}"));
    assert!(
        log.contains("Local forwarding listening on :: port 0."),
        "{log}"
    );
    assert_eq!(round_trip(connect_when_up(port), b"v4"), b"v4");
    if TcpListener::bind("[::1]:0").is_ok() {
        let s = TcpStream::connect(("::1", port)).unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        assert_eq!(round_trip(s, b"v6"), b"v6");
    }
}

#[test]
fn gateway_ports_no_keeps_a_remote_forward_on_loopback() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&[]);
    let port = free_port();
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-R", &format!("*:{port}:127.0.0.1:{echo}")],
    );
    assert_eq!(round_trip(connect_when_up(port), b"lo"), b"lo");
    let log = sshd.wait_for_log(&format!(
        "Local forwarding listening on 127.0.0.1 port {port}."
    ));
    assert!(
        !log.contains(&format!("listening on :: port {port}.")),
        "{log}"
    );
}

#[test]
fn channel_timeout_closes_an_idle_forwarded_connection() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let Rig { echo, sshd, home } = rig(&["ChannelTimeout direct-tcpip=1"]);
    let local = free_port();
    let _c = Client::start(
        &ssh,
        &sshd,
        &home,
        &["-L", &format!("{local}:127.0.0.1:{echo}")],
    );
    let mut s = connect_when_up(local);
    s.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    // Idle past the limit: the server closes the channel and ssh the connection.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    sshd.wait_for_log("closing after 1 seconds of inactivity");
    // The forward itself stays: a new connection works.
    assert_eq!(round_trip(connect_when_up(local), b"again"), b"again");
}

/// `ssh -A` through our sshd to OpenSSH's own ssh-agent: the session's SSH_AUTH_SOCK
/// reaches the client's agent (OpenSSH's `ssh-add -l` run in the session lists its
/// key); AllowAgentForwarding no leaves the session without one.
#[test]
fn agent_forwarding_reaches_the_clients_agent() {
    let ssh = oxssh_testkit::require_openssh!("ssh");
    let agent_bin = oxssh_testkit::require_openssh!("ssh-agent");
    let add_bin = oxssh_testkit::require_openssh!("ssh-add");
    let dir = sock_dir();
    let agent = oxssh_testkit::OpenSshAgent::start(&agent_bin, dir.path());
    let sock = agent.sock().to_path_buf();
    let key = oxssh_testkit::fixtures_dir().join("keys/id_ed25519");
    let tmpkey = dir.path().join("id");
    std::fs::copy(&key, &tmpkey).unwrap();
    std::fs::set_permissions(&tmpkey, std::fs::Permissions::from_mode(0o600)).unwrap();
    agent.add(&add_bin, &tmpkey);
    let listed = Cmd::new(&add_bin)
        .arg("-l")
        .env("SSH_AUTH_SOCK", &sock)
        .run();
    listed.assert_success();
    let fingerprint = listed.stdout_str();
    let run = |sshd: &Sshd, home: &TempHome| {
        let mut envs = home.env();
        envs.retain(|(k, _)| k != "SSH_AUTH_SOCK");
        envs.push(("SSH_AUTH_SOCK".into(), Some(sock.clone().into())));
        Cmd::new(&ssh)
            .arg("-A")
            .args(sshd.client(home).args())
            .arg(format!(
                "{} -l; echo \"sock=$SSH_AUTH_SOCK\"",
                add_bin.display()
            ))
            .envs(envs)
            .run()
    };
    let sshd = server(&[]);
    let home = TempHome::new();
    let out = run(&sshd, &home);
    let text = out.stdout_str();
    assert!(text.starts_with(&fingerprint), "{out}");
    let sock_line = text.lines().last().unwrap();
    assert!(
        sock_line.starts_with("sock=/tmp/ssh-") && sock_line.contains("/agent."),
        "{out}"
    );
    // The socket and its directory go with the connection.
    let path = sock_line.trim_start_matches("sock=");
    let parent = Path::new(path).parent().unwrap().to_path_buf();
    let deadline = Instant::now() + READY;
    while parent.exists() {
        assert!(
            Instant::now() < deadline,
            "{} left behind",
            parent.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
    // Refused by configuration: no socket, and ssh-add says so.
    let refused = server(&["AllowAgentForwarding no"]);
    let out = run(&refused, &home);
    assert_eq!(out.stdout_str(), "sock=\n", "{out}");
    assert!(
        out.stderr_str()
            .contains("Could not open a connection to your authentication agent."),
        "{out}"
    );
}
