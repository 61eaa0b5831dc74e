//! The listener's admission control and service-manager integration, as a client and
//! systemd see them: MaxStartups drops the connection past `full` with OpenSSH 9.2's
//! notice and log lines and recovers once the half-open connections go;
//! PerSourceMaxStartups counts per PerSourceNetBlockSize netblock; PerSourcePenalties
//! (OpenSSH 9.8 defaults) refuses a source after repeated authentication failures or
//! an exceeded LoginGraceTime; `NOTIFY_SOCKET` (a path or an abstract `@name`) gets
//! `READY=1`, and `RELOADING=1` then `READY=1` around a SIGHUP re-exec — a SIGHUP sent
//! the moment READY=1 arrives must restart the daemon, not kill it (it once did: the
//! signal handlers were installed after the listener announced itself).

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, require_openssh};

/// How long any one wait in these tests may take.
const WAIT: Duration = Duration::from_secs(20);

/// Wait (bounded) until `needle` occurs at least `n` times in the server's log.
#[track_caller]
fn wait_for_count(sshd: &Sshd, needle: &str, n: usize) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = sshd.log();
        if log.matches(needle).count() >= n {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} not logged {n} times within {WAIT:?}\n--- sshd log ---\n{log}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Everything the server sends until it closes the connection (bounded).
fn read_to_close(mut s: &TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("the server closes the connection");
    got
}

/// The first bytes the server sends on a connection it serves: its version line.
fn read_banner(mut s: &TcpStream) -> String {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).expect("a banner within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The listener's log line for the end of a child that never authenticated.
const PREAUTH_EXIT: &str = "child_reap: preauth child ";

#[test]
fn maxstartups_drops_past_full_and_recovers() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let sshd = Sshd::ours().config("MaxStartups 2:100:2").start();
    sshd.authorize(Key::Ed25519);
    // The kit's readiness probe was a connection too: wait until its child is gone, so
    // that ours are the only ones.
    wait_for_count(&sshd, PREAUTH_EXIT, 1);
    let addr = (Ipv4Addr::LOCALHOST, sshd.port());
    // Two half-open connections (we send nothing) fill MaxStartups; each is served.
    let first = TcpStream::connect(addr).unwrap();
    assert!(read_banner(&first).starts_with("SSH-2.0-"));
    let second = TcpStream::connect(addr).unwrap();
    assert!(read_banner(&second).starts_with("SSH-2.0-"));
    // The third is dropped: OpenSSH 9.2's notice instead of a banner, then close.
    let third = TcpStream::connect(addr).unwrap();
    let third_port = third.local_addr().unwrap().port();
    let got = read_to_close(&third);
    assert_eq!(String::from_utf8_lossy(&got), "Exceeded MaxStartups\r\n");
    let log = sshd.wait_for_log(&format!(
        "drop connection #2 from [127.0.0.1]:{third_port} on [127.0.0.1]:{} past MaxStartups",
        sshd.port()
    ));
    assert!(log.contains("beginning MaxStartups throttling"), "{log}");
    // Once the half-open connections go, a login works again.
    drop(first);
    drop(second);
    wait_for_count(&sshd, PREAUTH_EXIT, 3);
    let home = TempHome::new();
    let out = Cmd::new(ssh)
        .args(sshd.client(&home).args())
        .arg("echo ok")
        .envs(home.env())
        .run();
    out.assert_success();
    assert_eq!(out.stdout_str(), "ok\n");
    let log = sshd.wait_for_log("exited MaxStartups throttling after 00:00:");
    assert!(log.contains(", 1 connections dropped"), "{log}");
}

#[test]
fn per_source_penalty_refuses_after_authentication_failures() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    // No key is authorized: every login fails after a publickey attempt.
    let sshd = Sshd::ours().start();
    let home = TempHome::new();
    let args = sshd.client(&home).args();
    // OpenSSH 9.8's defaults: authfail is 5 s, enforced once more than 15 s add up.
    const FAILED: &str = "exited after unsuccessful auth attempt";
    const ACTIVE: &str = "activating ipv4 penalty of ";
    let mut activated = false;
    for n in 1..=12 {
        Cmd::new(&ssh)
            .args(args.clone())
            .arg("true")
            .envs(home.env())
            .run()
            .assert_code(255);
        if wait_for_count(&sshd, FAILED, n).contains(ACTIVE) {
            activated = true;
            break;
        }
    }
    let log = sshd.log();
    assert!(activated, "no penalty activated\n{log}");
    // The first penalty is below the 15 s threshold: deferred. (It may be the 1 s
    // "noauth" one of the kit's readiness probe, which the failures add to.)
    assert!(
        log.contains("srclimit_penalise: ipv4: new 127.0.0.1/32 deferred penalty of "),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.1/32: activating ipv4 penalty of "),
        "{log}"
    );
    // While penalised, a new connection is refused at accept, before any banner.
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, sshd.port())).unwrap();
    let port = refused.local_addr().unwrap().port();
    let got = read_to_close(&refused);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "Not allowed at this time\r\n"
    );
    sshd.wait_for_log(&format!(
        "drop connection #0 from [127.0.0.1]:{port} on [127.0.0.1]:{} penalty: failed authentication",
        sshd.port()
    ));
    // And so is ssh.
    let out = Cmd::new(&ssh).args(args).arg("true").envs(home.env()).run();
    out.assert_code(255);
    assert!(
        !out.stderr_str().contains("Permission denied"),
        "refused before authentication: {out}"
    );
}

#[test]
fn login_grace_time_exceeded_is_penalised() {
    // A client that says its version and then nothing outlives LoginGraceTime: its
    // child exits with OpenSSH 9.8's EXIT_LOGIN_GRACE, and the 20 s grace-exceeded
    // penalty is over the 15 s threshold at once.
    let sshd = Sshd::ours().config("LoginGraceTime 2").start();
    let addr = (Ipv4Addr::LOCALHOST, sshd.port());
    let mut slow = TcpStream::connect(addr).unwrap();
    assert!(read_banner(&slow).starts_with("SSH-2.0-"));
    slow.write_all(b"SSH-2.0-slow\r\n").unwrap();
    sshd.wait_for_log("Timeout before authentication for 127.0.0.1 port ");
    let log = sshd.wait_for_log("for penalty: exceeded LoginGraceTime");
    assert!(
        log.contains("Timeout before authentication for connection from 127.0.0.1"),
        "{log}"
    );
    let refused = TcpStream::connect(addr).unwrap();
    let port = refused.local_addr().unwrap().port();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&refused)),
        "Not allowed at this time\r\n"
    );
    sshd.wait_for_log(&format!(
        "drop connection #0 from [127.0.0.1]:{port} on [127.0.0.1]:{} penalty: exceeded LoginGraceTime",
        sshd.port()
    ));
}

#[test]
fn per_source_penalties_no_turns_penalties_off() {
    // The same slow client, but with `PerSourcePenalties no`: no penalty, and the next
    // connection gets a banner.
    let sshd = Sshd::ours()
        .config("LoginGraceTime 2")
        .config("PerSourcePenalties no")
        .start();
    let addr = (Ipv4Addr::LOCALHOST, sshd.port());
    let mut slow = TcpStream::connect(addr).unwrap();
    assert!(read_banner(&slow).starts_with("SSH-2.0-"));
    slow.write_all(b"SSH-2.0-slow\r\n").unwrap();
    sshd.wait_for_log("Timeout before authentication for 127.0.0.1 port ");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let next = TcpStream::connect(addr).unwrap();
    assert!(read_banner(&next).starts_with("SSH-2.0-"));
    assert!(!sshd.log().contains("penalty:"), "{}", sshd.log());
}

/// Our sshd run by hand in the foreground with `NOTIFY_SOCKET` set (the kit does not
/// pass environment to its daemons); killed on drop.
struct Notified {
    child: Child,
}

impl Drop for Notified {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start `sshd -D` listening on a fresh port, with `NOTIFY_SOCKET=notify_socket`.
fn start_notified(notify_socket: &str) -> (Sshd, Notified, u16) {
    let port = free_port();
    // inetd() writes the config and host keys without starting a daemon.
    let sshd = Sshd::ours()
        .config(format!("ListenAddress 127.0.0.1:{port}"))
        .inetd();
    let mut cmd = Command::new(sshd.binary());
    cmd.args(["-D", "-e", "-f"])
        .arg(sshd.config_path())
        .arg("-E")
        .arg(sshd.log_path())
        .env("NOTIFY_SOCKET", notify_socket)
        .stdin(Stdio::null());
    // Anything said on stdout/stderr (before -E takes effect, or a panic) goes to the
    // log too, which the kit prints when a test fails.
    let log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(sshd.log_path())
            .unwrap()
    };
    cmd.stdout(log()).stderr(log());
    oxssh_sys::kill_on_parent_death(&mut cmd);
    let child = cmd.spawn().unwrap();
    (sshd, Notified { child }, port)
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn sd_notify_ready_then_reloading_and_ready_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let (sshd, mut daemon, port) = start_notified(path.to_str().unwrap());
    assert_eq!(recv(&sock), "READY=1");
    // Ready means listening.
    let log = sshd.log();
    assert!(
        log.contains(&format!("Server listening on 127.0.0.1 port {port}.")),
        "{log}"
    );
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("listening once READY=1");
    let pid = daemon.child.id();
    Cmd::new("kill")
        .args(["-HUP", &pid.to_string()])
        .run()
        .assert_success();
    let reloading = recv(&sock);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{reloading:?}"));
    let usec: u64 = usec.parse().unwrap();
    // CLOCK_MONOTONIC: not ahead of the time since boot.
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        usec > 0 && (usec as f64) / 1e6 <= uptime + 1.0,
        "{usec} {uptime}"
    );
    assert_eq!(recv(&sock), "READY=1");
    // The same process, re-executed, listens again.
    assert!(daemon.child.try_wait().unwrap().is_none());
    let log = wait_for_count(
        &sshd,
        &format!("Server listening on 127.0.0.1 port {port}."),
        2,
    );
    assert!(log.contains("Received SIGHUP; restarting."), "{log}");
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("listening after the reload");
    // Nothing else was sent.
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(sock.recv(&mut buf).is_err());
}

#[test]
fn sd_notify_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("oxssh-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let (sshd, _daemon, _port) = start_notified(&format!("@{name}"));
    assert_eq!(recv(&sock), "READY=1");
    sshd.wait_for_log(&format!(
        "ssh_systemd_notify: socket \"@{name}\" notified READY=1"
    ));
}

/// A TCP connection to the server from a chosen loopback source address.
fn connect_from(source: &str, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let stream = s.connect((Ipv4Addr::LOCALHOST, port).into()).await.unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

#[test]
fn per_source_max_startups_counts_the_netblock() {
    // Per address (the default PerSourceNetBlockSize 32:128): 127.0.0.1's second
    // half-open connection is dropped, 127.0.0.2's first is served.
    let sshd = Sshd::ours().config("PerSourceMaxStartups 1").start();
    wait_for_count(&sshd, PREAUTH_EXIT, 1);
    let port = sshd.port();
    let first = connect_from("127.0.0.1", port);
    assert!(read_banner(&first).starts_with("SSH-2.0-"));
    let second = connect_from("127.0.0.1", port);
    let second_port = second.local_addr().unwrap().port();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&second)),
        "Exceeded MaxStartups\r\n"
    );
    sshd.wait_for_log(&format!(
        "drop connection #1 from [127.0.0.1]:{second_port} on [127.0.0.1]:{port} past MaxStartups"
    ));
    let other = connect_from("127.0.0.2", port);
    assert!(read_banner(&other).starts_with("SSH-2.0-"));
    drop((first, other));

    // Per /24: 127.0.0.2 shares 127.0.0.1's netblock.
    let sshd = Sshd::ours()
        .config("PerSourceMaxStartups 1")
        .config("PerSourceNetBlockSize 24:64")
        .start();
    wait_for_count(&sshd, PREAUTH_EXIT, 1);
    let port = sshd.port();
    let first = connect_from("127.0.0.1", port);
    assert!(read_banner(&first).starts_with("SSH-2.0-"));
    let other = connect_from("127.0.0.2", port);
    let other_port = other.local_addr().unwrap().port();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&other)),
        "Exceeded MaxStartups\r\n"
    );
    sshd.wait_for_log(&format!(
        "drop connection #1 from [127.0.0.2]:{other_port} on [127.0.0.1]:{port} past MaxStartups"
    ));
}

/// `ssh` with a client config, run in the background (the kit's `Cmd` waits).
fn spawn_ssh(ssh: &std::path::Path, sshd: &Sshd, home: &TempHome, command: &str) -> Child {
    let mut cmd = Command::new(ssh);
    cmd.args(sshd.client(home).args())
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    home.apply_env(&mut cmd);
    cmd.spawn().unwrap()
}

#[test]
fn authenticated_connections_leave_maxstartups() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    // Room for one unauthenticated connection only.
    let sshd = Sshd::ours().config("MaxStartups 1:100:1").start();
    sshd.authorize(Key::Ed25519);
    wait_for_count(&sshd, PREAUTH_EXIT, 1);
    let home = TempHome::new();
    let mut session = spawn_ssh(&ssh, &sshd, &home, "sleep 30");
    // Its child reports authentication on the startup pipe...
    sshd.wait_for_log("auth done");
    // ...so the open session no longer counts, and a second login gets in.
    let out = Cmd::new(&ssh)
        .args(sshd.client(&home).args())
        .arg("echo ok")
        .envs(home.env())
        .run();
    let _ = session.kill();
    let _ = session.wait();
    out.assert_success();
    assert_eq!(out.stdout_str(), "ok\n");
    assert!(!sshd.log().contains("past MaxStartups"), "{}", sshd.log());
}
