//! Our sshd under load, as its users and its admin see it: 200 sessions open at once
//! all work and all end cleanly; 2000 logins one after another leave nothing behind; a
//! pre-authentication flood (half-open connections that never say a word, and garbage
//! instead of a version line) does not keep a real user out.
//!
//! "Nothing behind" is checked on the listener through /proc after the load: no process
//! of the server left (the listener's descendants, zombies included, and anything still
//! running on this server's config, such as a post-login monitor orphaned by its
//! connection process), the listener's open descriptors back to their idle count, and
//! its resident memory grown by less than [`RSS_GROWTH_KIB`].
//!
//! Not here: speed. `tests/bench/sshd_load.sh` measures connection rates and memory per
//! session side by side with OpenSSH; tests never assert on time beyond generous bounds
//! that say "it did not hang".

// Test helpers fail the test loudly on a broken fixture or a broken server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, require_openssh};

/// Sessions held open at the same time.
const CONCURRENT: usize = 200;
/// Logins one after another.
const SEQUENTIAL: usize = 2000;
/// Flood: connections that never send a version line.
const HALF_OPEN: usize = 50;
/// Flood: connections that send garbage instead of a version line.
const GARBAGE: usize = 20;
/// How much the listener's resident memory may grow over a test's load. A listener
/// that kept a few KiB per connection (a child's watcher task, a pipe buffer, an
/// admission record) would pass this after 2000 logins only below ~4 KiB each, so
/// [`SEQUENTIAL`] also checks the growth from a warm listener, with a tighter bound.
const RSS_GROWTH_KIB: u64 = 8 * 1024;
/// Growth allowed between login [`WARM`] and the last of [`SEQUENTIAL`]: about half a
/// KiB per login.
const RSS_WARM_GROWTH_KIB: u64 = 1024;
/// The login after which the listener counts as warm (allocator pools filled).
const WARM: usize = 50;
/// The flood server's LoginGraceTime: the half-open connections are closed after it.
const FLOOD_GRACE: u64 = 15;

/// One login on this busy 2-core machine takes ~0.3 s; this bound only says "hung".
const LOGIN: Duration = Duration::from_secs(30);
/// For all [`CONCURRENT`] sessions to be up (their key exchanges compete for 2 cores).
const ALL_UP: Duration = Duration::from_secs(120);
/// For the server to clean up after its last connection.
const SETTLE: Duration = Duration::from_secs(30);
/// For a garbage connection to be closed by the server.
const GARBAGE_CLOSE: Duration = Duration::from_secs(20);

/// The listener's log line for the end of a child that never authenticated.
const PREAUTH_EXIT: &str = "child_reap: preauth child ";

/// Our sshd for a load test: the fixture key authorized, `SHLVL` accepted (see
/// [`client_args`]), and the test's own lines.
fn server(extra: &[&str]) -> Sshd {
    let mut builder = Sshd::ours().config("AcceptEnv SHLVL");
    for line in extra {
        builder = builder.config(*line);
    }
    let sshd = builder.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// OpenSSH's `ssh` arguments for `sshd`: the kit's client config, plus two choices that
/// keep hundreds of logins within the time budget without changing what sshd does per
/// connection. `SHLVL=1`: bash sources `~/.bashrc` for a command run by sshd only when
/// it is not a nested shell, and a developer's `.bashrc` may take longer than the whole
/// login (pyenv's takes 0.2 s here). curve25519-sha256: OpenSSH's client spends ~70 ms
/// of CPU on its sntrup761 key pair; the key exchange is not what this file tests.
fn client_args(sshd: &Sshd, home: &TempHome) -> Vec<OsString> {
    sshd.client(home)
        .option("KexAlgorithms curve25519-sha256")
        .option("SetEnv SHLVL=1")
        .args()
}

/// One process as /proc shows it.
#[derive(Debug)]
#[allow(dead_code)] // comm and cmdline are read through Debug, in failure messages
struct Proc {
    pid: u32,
    ppid: u32,
    state: char,
    comm: String,
    cmdline: String,
}

fn processes() -> Vec<Proc> {
    let mut all = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A process may end between the listing and the read: skip it.
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        all.push(Proc {
            pid,
            ppid,
            state,
            comm: stat[open + 1..close].to_owned(),
            cmdline: cmdline.trim_end().to_owned(),
        });
    }
    all
}

/// The server's processes other than the listener: its descendants by the parent chain
/// (zombies included: reaping its children is the listener's job), and any live process
/// still running on this server's config (every per-connection process gets
/// `-f <config>`, and the monitor forked after login keeps that command line; orphaned,
/// it would hang under init, outside the chain).
fn server_processes(sshd: &Sshd) -> Vec<Proc> {
    let all = processes();
    let root = sshd.pid();
    let config = sshd.config_path().to_string_lossy().into_owned();
    let mut tree = HashSet::from([root]);
    loop {
        let before = tree.len();
        for p in &all {
            if tree.contains(&p.ppid) {
                tree.insert(p.pid);
            }
        }
        if tree.len() == before {
            break;
        }
    }
    all.into_iter()
        .filter(|p| {
            p.pid != root
                && (tree.contains(&p.pid) || (p.state != 'Z' && p.cmdline.contains(&config)))
        })
        .collect()
}

/// What the listener's descriptors point at (`socket:[…]`, `pipe:[…]`, paths), sorted.
fn fds(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            fs::read_link(e.path())
                .map(|t| format!("{} -> {}", e.file_name().to_string_lossy(), t.display()))
                .unwrap_or_default()
        })
        .collect();
    v.sort();
    v
}

/// Resident memory (VmRSS) in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The listener with no connection: its descriptors and memory.
struct Idle {
    fds: Vec<String>,
    rss_kib: u64,
}

/// Wait until the listener is idle, and take its measure.
fn idle(sshd: &Sshd) -> Idle {
    // The kit's readiness probe was a connection: its child must be gone first.
    sshd.wait_for_log(PREAUTH_EXIT);
    wait_for_no_server_processes(sshd, "start-up");
    let pid = sshd.pid();
    Idle {
        fds: fds(pid),
        rss_kib: rss_kib(pid),
    }
}

#[track_caller]
fn wait_for_no_server_processes(sshd: &Sshd, after: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let left = server_processes(sshd);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of the server's processes still there {SETTLE:?} after {after}: {left:#?}",
            left.len()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// After the load: no process of the server left, the listener's descriptors back to
/// their idle count, its memory grown by less than [`RSS_GROWTH_KIB`]. Returns the
/// listener's RSS now.
#[track_caller]
fn assert_back_to_idle(sshd: &Sshd, idle: &Idle, after: &str) -> u64 {
    wait_for_no_server_processes(sshd, after);
    let pid = sshd.pid();
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = fds(pid);
        if now.len() == idle.fds.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the listener has {} descriptors {SETTLE:?} after {after}, {} when idle\n\
             now: {now:#?}\nidle: {:#?}",
            now.len(),
            idle.fds.len(),
            idle.fds
        );
        thread::sleep(Duration::from_millis(100));
    }
    let rss = rss_kib(pid);
    let grown = rss.saturating_sub(idle.rss_kib);
    eprintln!(
        "listener after {after}: {} fds (idle {}), VmRSS {rss} KiB (idle {} KiB, +{grown} KiB)",
        fds(pid).len(),
        idle.fds.len(),
        idle.rss_kib
    );
    assert!(
        grown < RSS_GROWTH_KIB,
        "the listener's VmRSS grew by {grown} KiB over {after} ({} -> {rss} KiB), \
         bound {RSS_GROWTH_KIB} KiB",
        idle.rss_kib
    );
    rss
}

/// `ssh <args> <command>`, checked: exit 0 and exactly `stdout` printed.
#[track_caller]
fn login(ssh: &Path, args: &[OsString], home: &TempHome, command: &str, stdout: &str) {
    let out = Cmd::new(ssh)
        .args(args.to_vec())
        .arg(command)
        .envs(home.env())
        .timeout(LOGIN)
        .run();
    assert!(
        out.code() == Some(0) && out.stdout_str() == stdout,
        "`ssh host {command}` should print {stdout:?} and exit 0: {out}"
    );
}

/// What a session's reader thread reports.
enum Event {
    /// The first line the session sent back.
    Echoed(usize, String),
    /// The client ended: its status, the rest of its stdout, its stderr.
    Exited(usize, ExitStatus, String, String),
}

/// Start `ssh <args> cat` with piped stdio; a thread reports its first line of output
/// and its end. Returns its stdin.
fn spawn_session(
    ssh: &Path,
    args: &[OsString],
    home: &TempHome,
    i: usize,
    events: &mpsc::Sender<Event>,
) -> ChildStdin {
    let mut cmd = Command::new(ssh);
    cmd.args(args)
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    home.apply_env(&mut cmd);
    // Killed if the test thread dies with the session still open.
    oxssh_sys::kill_on_parent_death(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let events = events.clone();
    thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = events.send(Event::Echoed(i, line));
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        let mut err = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut err);
        let status = child.wait().unwrap();
        let _ = events.send(Event::Exited(i, status, rest, err));
    });
    stdin
}

#[test]
fn two_hundred_concurrent_sessions_all_work_and_leave_nothing_behind() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    // Room for all of them in key exchange at once: the default MaxStartups 10:30:100
    // would drop some at random, as OpenSSH's does.
    let sshd = server(&["MaxStartups 300"]);
    let idle = idle(&sshd);
    let home = TempHome::new();
    let args = client_args(&sshd, &home);
    let started = Instant::now();
    let (tx, events) = mpsc::channel();
    let mut stdins: Vec<Option<ChildStdin>> = (0..CONCURRENT)
        .map(|i| {
            let mut stdin = spawn_session(&ssh, &args, &home, i, &tx);
            // Waits in the pipe until the session's `cat` reads it.
            stdin.write_all(format!("ping {i}\n").as_bytes()).unwrap();
            Some(stdin)
        })
        .collect();
    drop(tx);
    // Every session echoes its line while all of them stay open (`cat` runs until its
    // stdin closes): 200 sessions live at once.
    let mut echoed = [false; CONCURRENT];
    let mut exited = Vec::new();
    while echoed.iter().any(|e| !e) {
        let left = ALL_UP.saturating_sub(started.elapsed());
        match events.recv_timeout(left) {
            Ok(Event::Echoed(i, line)) => {
                // A failed client reports an empty line first; its exit says why.
                if line == format!("ping {i}\n") {
                    echoed[i] = true;
                }
            }
            Ok(Event::Exited(i, status, _, err)) => exited.push((i, status, err)),
            Err(_) => break,
        }
        if let Some((i, status, err)) = exited.first() {
            panic!("session {i} ended ({status}) before all were up: {err}");
        }
    }
    let up = echoed.iter().filter(|e| **e).count();
    assert_eq!(
        up, CONCURRENT,
        "only {up} of {CONCURRENT} sessions echoed within {ALL_UP:?}"
    );
    let all_up = started.elapsed();
    // Each open session has its own connection process on the server (and, for root,
    // its monitor).
    let busy = server_processes(&sshd);
    let connections = busy
        .iter()
        .filter(|p| p.ppid == sshd.pid() && p.cmdline.contains(" -R "))
        .count();
    eprintln!(
        "{CONCURRENT} sessions up after {all_up:.1?}: {} server processes, {connections} \
         of them connection processes; listener {} fds, VmRSS {} KiB",
        busy.len(),
        fds(sshd.pid()).len(),
        rss_kib(sshd.pid())
    );
    assert_eq!(connections, CONCURRENT, "{busy:#?}");
    // Closing each stdin ends its `cat`, its session, its client: all with status 0.
    for stdin in &mut stdins {
        drop(stdin.take());
    }
    let ended = Instant::now();
    let mut ok = 0;
    while ok < CONCURRENT {
        let left = ALL_UP.saturating_sub(ended.elapsed());
        let Ok(ev) = events.recv_timeout(left) else {
            panic!("only {ok} of {CONCURRENT} clients exited within {ALL_UP:?} of EOF");
        };
        if let Event::Exited(i, status, rest, err) = ev {
            assert!(
                status.success() && rest.is_empty(),
                "session {i}: {status}, stdout after the echo {rest:?}, stderr {err:?}"
            );
            ok += 1;
        }
    }
    assert_back_to_idle(&sshd, &idle, "200 concurrent sessions");
    // And the server still serves.
    login(&ssh, &args, &home, "echo ok", "ok\n");
}

#[test]
fn two_thousand_sequential_logins_leave_nothing_behind() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let sshd = server(&[]);
    let idle = idle(&sshd);
    let home = TempHome::new();
    let args = client_args(&sshd, &home);
    let started = Instant::now();
    let mut warm_rss = 0;
    for n in 1..=SEQUENTIAL {
        login(&ssh, &args, &home, "true", "");
        if n == WARM {
            wait_for_no_server_processes(&sshd, &format!("{WARM} logins"));
            warm_rss = rss_kib(sshd.pid());
        }
    }
    let took = started.elapsed();
    eprintln!(
        "{SEQUENTIAL} sequential logins in {took:.1?} ({:.1} per second)",
        SEQUENTIAL as f64 / took.as_secs_f64()
    );
    let rss = assert_back_to_idle(&sshd, &idle, "2000 sequential logins");
    let grown = rss.saturating_sub(warm_rss);
    assert!(
        grown < RSS_WARM_GROWTH_KIB,
        "the listener's VmRSS grew by {grown} KiB from login {WARM} to login {SEQUENTIAL} \
         ({warm_rss} -> {rss} KiB), bound {RSS_WARM_GROWTH_KIB} KiB"
    );
}

/// A TCP connection to the server from a chosen loopback source address (so that the
/// flood's sources are not the real user's: PerSourcePenalties works per address).
fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind((source, 0).into()).unwrap();
        let stream = s.connect((Ipv4Addr::LOCALHOST, port).into()).await.unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

/// Everything the server sends until it closes the connection, or `Err` with what came
/// before the time limit. A reset counts as closed (the server closed with our garbage
/// unread).
fn read_until_closed(mut s: &TcpStream, limit: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(got);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(got),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(got),
        }
    }
}

/// Whether the server has not closed the connection (nothing to read yet, or data).
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let open = loop {
        match (&*s).read(&mut buf) {
            Ok(0) => break false,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break true,
            Err(_) => break false,
        }
    };
    s.set_nonblocking(false).unwrap();
    open
}

/// What a scanner or a confused client sends instead of `SSH-2.0-…\r\n`.
const GARBAGE_KINDS: [&[u8]; 5] = [
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls client hello",
    b"SSH-1.5-ancient\r\n",
    b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n",
    b"SSH-2.0-garbage-after-version\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
];

#[test]
fn a_login_succeeds_during_a_preauth_flood() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    // Room for the whole flood without random early drops (the default 10:30:100 would
    // drop the real user's connection with a good chance, as OpenSSH's does), and a
    // LoginGraceTime that ends the half-open connections within the test.
    let sshd = server(&[
        "MaxStartups 100:30:200",
        &format!("LoginGraceTime {FLOOD_GRACE}"),
    ]);
    let idle = idle(&sshd);
    let home = TempHome::new();
    let args = client_args(&sshd, &home);
    let port = sshd.port();
    // The flood comes from 127.0.0.2 and 127.0.0.3, the user from 127.0.0.1.
    let half_open: Vec<TcpStream> = (0..HALF_OPEN)
        .map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 2), port))
        .collect();
    // Each is served (a child per connection says its version), none says anything back.
    for (i, s) in half_open.iter().enumerate() {
        s.set_read_timeout(Some(LOGIN)).unwrap();
        let mut buf = [0u8; 64];
        let n = (&*s).read(&mut buf).unwrap_or(0);
        assert!(
            buf[..n].starts_with(b"SSH-2.0-"),
            "half-open connection {i} was not served: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    // The garbage comes while the user logs in. Each garbage connection is closed
    // promptly: after the server's version line, or, once the source's penalty for
    // connections that never try to authenticate adds up (OpenSSH 9.8's
    // PerSourcePenalties noauth), at once with "Not allowed at this time".
    let garbage = thread::spawn(move || {
        (0..GARBAGE)
            .map(|i| {
                let s = connect_from(Ipv4Addr::new(127, 0, 0, 3), port);
                let _ = (&s).write_all(GARBAGE_KINDS[i % GARBAGE_KINDS.len()]);
                let started = Instant::now();
                (i, read_until_closed(&s, GARBAGE_CLOSE), started.elapsed())
            })
            .collect::<Vec<_>>()
    });
    let started = Instant::now();
    login(&ssh, &args, &home, "echo ok", "ok\n");
    let took = started.elapsed();
    eprintln!("login during the flood: {took:.2?}");
    // The login had the whole flood against it.
    let closed = half_open.iter().filter(|s| !still_open(s)).count();
    assert_eq!(
        closed, 0,
        "{closed} half-open connections were closed before the login ended ({took:?} \
         for the login; LoginGraceTime {FLOOD_GRACE})"
    );
    for (i, result, waited) in garbage.join().unwrap() {
        match result {
            Ok(got) => assert!(
                got.starts_with(b"SSH-2.0-") || got == b"Not allowed at this time\r\n",
                "garbage connection {i}: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Err(got) => panic!(
                "garbage connection {i} still open after {waited:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    // LoginGraceTime ends the half-open ones.
    let limit = Duration::from_secs(FLOOD_GRACE) + SETTLE;
    for (i, s) in half_open.iter().enumerate() {
        assert!(
            read_until_closed(s, limit).is_ok(),
            "half-open connection {i} still open {limit:?} after the flood"
        );
    }
    drop(half_open);
    assert_back_to_idle(&sshd, &idle, "the flood");
    // Every half-open connection's process is gone, so its last words are in the log.
    let log = sshd.log();
    let timeouts = log
        .matches("Timeout before authentication for 127.0.0.2 port ")
        .count();
    assert_eq!(timeouts, HALF_OPEN, "LoginGraceTime exits logged");
    // The user is still welcome.
    login(&ssh, &args, &home, "echo ok", "ok\n");
}
