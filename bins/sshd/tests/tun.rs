//! Tunnel forwarding: `ssh -w local[:remote]`, ssh_config `Tunnel` and `TunnelDevice`,
//! sshd_config `PermitTunnel`, the `tunnel="N"` key option, the `tun@openssh.com`
//! channel, and `SSH_TUNNEL` in the session. Every case runs for the four pairings of
//! client and server: OpenSSH's ssh → OpenSSH's sshd first, as the reference, then our
//! ssh → OpenSSH's sshd, OpenSSH's ssh → our sshd and ours → ours, each of which must
//! show the user what the reference showed (bytes through the tunnel, the device names,
//! stdout, stderr byte for byte, the exit status).
//!
//! The host's network is never touched. Each run makes two network namespaces of its
//! own (`ip netns add`, deleted on drop, also on panic): ssh runs in the client one
//! (`ip netns exec`) and reaches sshd through `ProxyCommand ip netns exec <server ns>
//! sshd -i …`, so sshd runs in the server one, and each side's tun or tap device appears
//! in its own namespace. The test addresses the two devices and sends 1 MiB each way over
//! TCP through the tunnel (a python3 server and client, checked by SHA-256 and a known
//! pattern), over IPv4 and IPv6 (in point-to-point mode each packet goes on the wire with
//! an address-family word, which differs between the two), in point-to-point (tun) and
//! ethernet (tap, with ARP and neighbour discovery through the tunnel) mode.
//!
//! What OpenSSH (9.2) does here, and so what is asserted:
//! - ssh does not exit when the remote command ends while the tunnel is open (the tun
//!   channel keeps the connection up): a run ends with SIGTERM, on which ssh exits 255,
//!   or 0 with `-N` (no session), and prints nothing.
//! - sshd puts `SSH_TUNNEL=<server device>` in the environment of sessions opened after
//!   the tunnel (ssh opens the tunnel channel before the session); unset when the
//!   tunnel was refused.
//! - Every refusal by the server (PermitTunnel no, the default; a mode PermitTunnel
//!   does not allow; a unit `tunnel="N"` does not allow; a device the server cannot
//!   open) looks the same to the user: `channel 0: open failed: connect failed: open
//!   failed` (reason code 2, "connect failed", not "administratively prohibited") and
//!   `Tunnel forwarding failed`; exit 255 with ExitOnForwardFailure, otherwise the
//!   session goes on.
//! - A local device ssh cannot open: `Tunnel device open failed.` and `Could not
//!   request tunnel forwarding.`, then as above. A bad `-w` argument: `Bad tun device
//!   '<argument>'` ending in a bare `\n` (it is not a log line), exit 255, before
//!   connecting; a bad `TunnelDevice`: `command-line line 0: Bad tun device.`.
//! - `-w` sets the point-to-point mode unless `Tunnel` came before it on the command
//!   line: a `Tunnel` line in the config file does not change it.
//! - `restrict` in authorized_keys and `DisableForwarding yes` refuse tunnels only from
//!   OpenSSH 10.5 and 10.4 on (9.2 accepts the tunnel); our sshd refuses as current
//!   OpenSSH does, and OpenSSH's sshd is held to what the installed one does.
//!
//! Needs root, /dev/net/tun, iproute2 and python3: without them the tests skip with a
//! line saying why, and fail under CI=true.

// Test helpers fail the test loudly, with what they saw.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::{Debug, Write as _};
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Output, Sshd, SshdBuilder, Status, TempHome, is_ci};

/// How long ssh may take to log in and run the remote command, or to exit.
const SETTLE: Duration = Duration::from_secs(20);
/// How long the tunnel devices may take to appear once ssh is in.
const DEVICES: Duration = Duration::from_secs(10);
/// How long ssh has to exit after SIGTERM, and pipes to drain after it exits.
const GRACE: Duration = Duration::from_secs(5);
/// The bytes sent each way per transfer.
const TRANSFER: usize = 1 << 20;
/// The TCP port the transfer server listens on, inside the server namespace.
const PORT: &str = "7777";

/// The option most runs give ssh, so that a refused tunnel ends it.
const EOFF: &str = "ExitOnForwardFailure=yes";

/// The remote command of most runs: what `SSH_TUNNEL` says in the session.
const REPORT: &str = "echo \"SSH_TUNNEL=${SSH_TUNNEL-unset}\"";

/// What OpenSSH's ssh prints when the server refuses the tunnel, for any reason.
const REFUSED: &str = "channel 0: open failed: connect failed: open failed\r\n\
                       Tunnel forwarding failed\r\n";
/// What OpenSSH's ssh prints when it cannot open its own device.
const LOCAL_FAILED: &str = "Tunnel device open failed.\r\nCould not request tunnel forwarding.\r\n";

/// Receives everything until EOF, answers `<bytes> <sha256>\n` and then TRANSFER bytes
/// of its own pattern. argv: address port length.
const SERVER_PY: &str = r#"
import hashlib, socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, port)); ls.listen(1); ls.settimeout(20)
c, peer = ls.accept(); c.settimeout(20)
h, got = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); got += len(b)
c.sendall(b"%d %s\n" % (got, h.hexdigest().encode()))
c.sendall(b"".join(hashlib.sha256(b"s%d" % i).digest() for i in range(n // 32 + 1))[:n])
c.close()
print("server received %d bytes from %s" % (got, peer[0]))
"#;

/// Connects (retrying while the server starts), sends TRANSFER bytes of a pattern, and
/// checks the server's digest of them and the server's own pattern that comes back.
const CLIENT_PY: &str = r#"
import hashlib, socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = b"".join(hashlib.sha256(b"c%d" % i).digest() for i in range(n // 32 + 1))[:n]
deadline = time.time() + 10
while True:
    try:
        s = socket.create_connection((addr, port), timeout=2); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.1)
s.settimeout(20)
s.sendall(data); s.shutdown(socket.SHUT_WR)
buf = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    buf += b
line, _, rest = bytes(buf).partition(b"\n")
want = b"%d %s" % (n, hashlib.sha256(data).hexdigest().encode())
assert line == want, (line, want)
back = b"".join(hashlib.sha256(b"s%d" % i).digest() for i in range(n // 32 + 1))[:n]
assert rest == back, ("received", len(rest), "bytes, not the", n, "expected")
print("%d bytes each way intact" % n)
"#;

// ---------------------------------------------------------------------------------
// Prerequisites

/// The tools every run needs.
#[derive(Debug, Clone)]
struct Tools {
    ip: PathBuf,
    python: PathBuf,
    openssh_ssh: PathBuf,
    openssh_sshd: PathBuf,
}

/// Skip with a reason outside CI; fail under CI=true.
fn skip<T>(why: &str) -> Option<T> {
    assert!(!is_ci(), "{why} (CI must run the tunnel tests)");
    eprintln!("skipping: {why}");
    None
}

/// The tools, or None after a skip line (a panic under CI=true). The check, which
/// makes and removes a probe namespace, runs once per process.
fn tools() -> Option<Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    let found = TOOLS.get_or_init(|| {
        if oxssh_sys::geteuid() != 0 {
            return Err("tunnel devices and network namespaces need root".into());
        }
        let openssh = |tool| {
            oxssh_testkit::openssh(tool).ok_or_else(|| {
                format!(
                    "OpenSSH `{tool}` is not installed ({})",
                    oxssh_testkit::OPENSSH_INSTALL
                )
            })
        };
        let openssh_ssh = openssh("ssh")?;
        let openssh_sshd = openssh("sshd")?;
        if !Path::new("/dev/net/tun").exists() {
            return Err("/dev/net/tun is missing".into());
        }
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("`ip` is missing (apt-get install -y iproute2)")?;
        let python = PathBuf::from("/usr/bin/python3");
        if !python.is_file() {
            return Err("/usr/bin/python3 is missing (apt-get install -y python3)".into());
        }
        let name = format!("oxssh-tun-{}-probe", std::process::id());
        let out = Cmd::new(&ip).args(["netns", "add", &name]).run();
        if out.code() != Some(0) {
            return Err(format!("`ip netns add` fails here:\n{out}"));
        }
        Cmd::new(&ip).args(["netns", "delete", &name]).run();
        Ok(Tools {
            ip,
            python,
            openssh_ssh,
            openssh_sshd,
        })
    });
    match found {
        Ok(tools) => Some(tools.clone()),
        Err(why) => skip(why),
    }
}

// ---------------------------------------------------------------------------------
// The pairs

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    OpenSsh,
    Ours,
}

/// Which client talks to which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    ssh: Impl,
    sshd: Impl,
}

/// OpenSSH on both sides: what every other pair is compared with.
const REFERENCE: Pair = Pair {
    ssh: Impl::OpenSsh,
    sshd: Impl::OpenSsh,
};

/// The reference first, then the three pairs with our side in them.
const PAIRS: [Pair; 4] = [
    REFERENCE,
    Pair {
        ssh: Impl::Ours,
        sshd: Impl::OpenSsh,
    },
    Pair {
        ssh: Impl::OpenSsh,
        sshd: Impl::Ours,
    },
    Pair {
        ssh: Impl::Ours,
        sshd: Impl::Ours,
    },
];

impl Pair {
    fn name(self) -> String {
        let who = |i| match i {
            Impl::OpenSsh => "OpenSSH",
            Impl::Ours => "our",
        };
        format!("{} ssh -> {} sshd", who(self.ssh), who(self.sshd))
    }

    fn ssh(self, tools: &Tools) -> PathBuf {
        match self.ssh {
            Impl::OpenSsh => tools.openssh_ssh.clone(),
            Impl::Ours => oxssh_testkit::ours("ssh"),
        }
    }

    fn sshd(self, tools: &Tools) -> SshdBuilder {
        match self.sshd {
            Impl::OpenSsh => Sshd::builder(&tools.openssh_sshd),
            Impl::Ours => Sshd::ours(),
        }
    }
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

/// Run every one of `runs` for the reference pair first and hold the results to
/// `expect` (a failure there is a problem of the test or of the machine, and fails the
/// test at once); then for each other pair, whose results must equal what `expected`
/// makes of the reference's ([`compare_pairs`]: the reference's own). Every run of
/// every pair is made even when some fail; the test then fails with, for each failing
/// pair, the runs that differed and in what.
fn compare_pairs_with(
    tools: &Tools,
    runs: &[Run],
    expect: impl FnOnce(&[Seen]),
    expected: impl Fn(Pair, &[Seen]) -> Vec<Seen>,
) {
    let reference: Vec<Seen> = runs.iter().map(|r| connect(tools, REFERENCE, r)).collect();
    expect(&reference);
    let mut failures = Vec::new();
    for pair in PAIRS.into_iter().filter(|p| *p != REFERENCE) {
        let want = expected(pair, &reference);
        let mut differences = Vec::new();
        for (i, (run, want)) in runs.iter().zip(&want).enumerate() {
            let got = panic::catch_unwind(AssertUnwindSafe(|| connect(tools, pair, run)));
            let what = match got {
                Ok(got) if got == *want => continue,
                Ok(got) => got.differences(want),
                Err(payload) => format!("  the run failed: {}", panic_text(&*payload)),
            };
            differences.push(format!("run {} `{}`:\n{what}", i + 1, run.describe()));
        }
        if !differences.is_empty() {
            failures.push(format!(
                "=== {} ===\n{}",
                pair.name(),
                differences.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pairs do not behave as OpenSSH ssh -> OpenSSH sshd \
         (\"got\": the pair, \"want\": the reference or what it implies):\n\n{}",
        failures.len(),
        PAIRS.len() - 1,
        failures.join("\n\n")
    );
}

/// [`compare_pairs_with`] where every pair must see what the reference saw.
fn compare_pairs(tools: &Tools, runs: &[Run], expect: impl FnOnce(&[Seen])) {
    compare_pairs_with(tools, runs, expect, |_, reference| reference.to_vec());
}

// ---------------------------------------------------------------------------------
// Network namespaces

/// Which side's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// Two fresh network namespaces, deleted on drop.
struct Lab {
    ip: PathBuf,
    client: String,
    server: String,
}

impl Lab {
    fn new(tools: &Tools) -> Lab {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("oxssh-tun-{}-{n}", std::process::id());
        let mut lab = Lab {
            ip: tools.ip.clone(),
            client: String::new(),
            server: String::new(),
        };
        // Set one by one, so that drop deletes whichever was made.
        for side in [Side::Client, Side::Server] {
            let name = format!("{base}-{}", if side == Side::Client { "c" } else { "s" });
            lab.ip(&["netns", "add", &name]);
            match side {
                Side::Client => lab.client = name,
                Side::Server => lab.server = name,
            }
        }
        lab
    }

    fn ns(&self, side: Side) -> &str {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// Run `ip` with these arguments; it must succeed.
    fn ip(&self, args: &[&str]) -> Output {
        let out = Cmd::new(&self.ip)
            .args(args)
            .timeout(Duration::from_secs(20))
            .run();
        assert_eq!(out.code(), Some(0), "ip failed\n{out}");
        out
    }

    /// `ip -n <ns> <args>`.
    fn ip_in(&self, side: Side, args: &[&str]) -> Output {
        let mut all = vec!["-n", self.ns(side)];
        all.extend_from_slice(args);
        self.ip(&all)
    }

    /// The names of the network devices in one namespace, in index order.
    fn links(&self, side: Side) -> Vec<String> {
        self.ip_in(side, &["-o", "link", "show"])
            .stdout_str()
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|name| name.split('@').next().unwrap_or(name).to_owned())
            .collect()
    }

    /// A persistent tap device with this name (e.g. `tun0`): the name is then taken,
    /// and opening it as a tun device fails.
    fn occupy(&self, side: Side, name: &str) {
        self.ip_in(side, &["tuntap", "add", "dev", name, "mode", "tap"]);
    }

    /// Address both ends of the tunnel and bring the devices up.
    fn address(&self, net: Net, devices: [&str; 2]) {
        for (side, dev, me, peer) in [
            (Side::Client, devices[0], "1", "2"),
            (Side::Server, devices[1], "2", "1"),
        ] {
            match net {
                Net::PointToPoint => {
                    let (me4, peer4) = (format!("10.77.0.{me}"), format!("10.77.0.{peer}"));
                    self.ip_in(side, &["addr", "add", &me4, "peer", &peer4, "dev", dev]);
                    let me6 = format!("fd77::{me}/64");
                    self.ip_in(side, &["-6", "addr", "add", &me6, "dev", dev, "nodad"]);
                }
                Net::Ethernet => {
                    let me4 = format!("10.78.0.{me}/24");
                    self.ip_in(side, &["addr", "add", &me4, "dev", dev]);
                    let me6 = format!("fd78::{me}/64");
                    self.ip_in(side, &["-6", "addr", "add", &me6, "dev", dev, "nodad"]);
                }
            }
            self.ip_in(side, &["link", "set", dev, "up"]);
        }
    }

    /// Send TRANSFER bytes each way between the namespaces over TCP to `addr` (the
    /// server end): what the two ends said.
    fn transfer(&self, tools: &Tools, addr: &str) -> String {
        let n = TRANSFER.to_string();
        let python = |side: Side, code: &str| {
            Cmd::new(&tools.ip)
                .args(["netns", "exec", self.ns(side)])
                .arg(&tools.python)
                .args(["-c", code, addr, PORT, &n])
                .timeout(Duration::from_secs(40))
        };
        let server = python(Side::Server, SERVER_PY);
        let server = thread::spawn(move || server.run());
        let client = python(Side::Client, CLIENT_PY).run();
        let server = server.join().unwrap();
        assert!(
            client.code() == Some(0) && server.code() == Some(0),
            "the transfer to {addr} through the tunnel failed\n--- client ---\n{client}\n\
             --- server ---\n{server}"
        );
        format!(
            "{addr}: {} / {}",
            client.stdout_str().trim_end(),
            server.stdout_str().trim_end()
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in [&self.client, &self.server] {
            if !name.is_empty() {
                let _ = Command::new(&self.ip)
                    .args(["netns", "delete", name])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// One run of ssh against sshd

/// How the two tunnel ends are addressed for a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    /// tun devices: 10.77.0.1 peer 10.77.0.2, fd77::1/64 and fd77::2/64.
    PointToPoint,
    /// tap devices: 10.78.0.1/24 and .2, fd78::1/64 and ::2.
    Ethernet,
}

/// One connection: the server's config, the client's command line, what is in place
/// beforehand, and what to expect.
#[derive(Debug, Clone, Default)]
struct Run<'a> {
    /// sshd_config lines.
    sshd_config: &'a [&'a str],
    /// authorized_keys options in front of the client's key.
    key_options: Option<&'a str>,
    /// ssh_config lines (in the config file, after the command line).
    ssh_config: &'a [&'a str],
    /// ssh's command-line options, before `-F <config> <host>`.
    flags: &'a [&'a str],
    /// Run [`REPORT`] as the remote command; otherwise `-N`.
    report: bool,
    /// Device names taken (by persistent tap devices) before ssh starts.
    occupied: &'a [(Side, &'a str)],
    /// Some: the tunnel is expected up, with these device names on the client and the
    /// server, and then a transfer in this mode if any. None: ssh is expected to exit
    /// by itself.
    tunnel: Option<([&'a str; 2], Option<Net>)>,
}

/// What the user saw in a run (and which devices the namespaces had).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// How ssh ended: by itself, or (with a tunnel up) on SIGTERM.
    status: Status,
    stdout: String,
    stderr: String,
    /// The devices in each namespace once the tunnel was up (empty otherwise).
    client_links: Vec<String>,
    server_links: Vec<String>,
    /// What each transfer's ends said.
    transfers: Vec<String>,
}

impl Seen {
    /// The fields that differ from `want`, one line each.
    fn differences(&self, want: &Seen) -> String {
        let mut text = String::new();
        let mut field = |name: &str, got: &dyn Debug, want: &dyn Debug, same: bool| {
            if !same {
                let _ = writeln!(
                    text,
                    "  {name}: got {got:?}\n  {:w$}  want {want:?}",
                    "",
                    w = name.len()
                );
            }
        };
        field(
            "status",
            &self.status,
            &want.status,
            self.status == want.status,
        );
        field(
            "stdout",
            &self.stdout,
            &want.stdout,
            self.stdout == want.stdout,
        );
        field(
            "stderr",
            &self.stderr,
            &want.stderr,
            self.stderr == want.stderr,
        );
        field(
            "client devices",
            &self.client_links,
            &want.client_links,
            self.client_links == want.client_links,
        );
        field(
            "server devices",
            &self.server_links,
            &want.server_links,
            self.server_links == want.server_links,
        );
        field(
            "transfers",
            &self.transfers,
            &want.transfers,
            self.transfers == want.transfers,
        );
        text
    }
}

impl Run<'_> {
    /// The run in a few words, for failure messages.
    fn describe(&self) -> String {
        let mut text = format!("ssh {}", self.flags.join(" "));
        text.push_str(if self.report {
            " <host> REPORT"
        } else {
            " -N <host>"
        });
        if !self.ssh_config.is_empty() {
            let _ = write!(text, "; ssh_config: {}", self.ssh_config.join(", "));
        }
        let config = if self.sshd_config.is_empty() {
            "(defaults)".to_owned()
        } else {
            self.sshd_config.join(", ")
        };
        let _ = write!(text, "; sshd_config: {config}");
        if let Some(options) = self.key_options {
            let _ = write!(text, "; key options: {options}");
        }
        for (side, name) in self.occupied {
            let _ = write!(text, "; {name} taken on the {side:?} side");
        }
        text
    }
}

/// A pipe read to its end on a thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let mut pipe = pipe.unwrap();
    let done = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, done)
}

/// ssh running in the client namespace; killed and reaped on drop.
struct Client {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<Status>,
}

impl Client {
    fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
        String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
    }

    /// Whether ssh has exited (recording how).
    fn exited(&mut self) -> bool {
        if self.status.is_none() {
            if let Some(st) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                self.status = Some(match (st.code(), st.signal()) {
                    (Some(code), _) => Status::Exited(code),
                    (None, sig) => Status::Signaled(sig.unwrap_or(0)),
                });
            }
        }
        self.status.is_some()
    }

    /// Wait (bounded) until `done` or ssh's exit; whether `done` came first.
    fn wait_for(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.exited() || Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait (bounded) for ssh to exit by itself; if it does not, kill it and say so.
    fn wait_exit(&mut self) {
        if !self.wait_for(SETTLE, |_| false) && !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.status = Some(Status::TimedOut(SETTLE));
        }
    }

    /// SIGTERM (as a user's kill or the session manager would), then a bounded wait,
    /// then SIGKILL.
    fn terminate(&mut self) {
        if self.exited() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if !self.wait_for(GRACE, |_| false) && !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.status = Some(Status::Signaled(9));
        }
    }

    /// Once ssh has exited: what it printed, read until the pipes close (the
    /// ProxyCommand holds stderr a moment longer) or a grace period passes.
    fn finish(&mut self) -> (Status, String, String) {
        let deadline = Instant::now() + GRACE;
        for r in &self.readers {
            while !r.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
        }
        let Some(status) = self.status else {
            panic!("ssh has not exited")
        };
        (status, Self::text(&self.stdout), Self::text(&self.stderr))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The namespaces and the server made, and ssh started in the client namespace, as
/// `run` says (the home and the server must outlive the client).
fn launch(tools: &Tools, pair: Pair, run: &Run) -> (Lab, Sshd, TempHome, Client) {
    let lab = Lab::new(tools);
    for (side, name) in run.occupied {
        lab.occupy(*side, name);
    }
    let mut builder = pair.sshd(tools);
    for line in run.sshd_config {
        builder = builder.config(*line);
    }
    let sshd = builder.inetd();
    let key = Key::Ed25519.public();
    match run.key_options {
        Some(options) => sshd.authorize_line(&format!("{options} {key}")),
        None => sshd.authorize_line(&key),
    }
    let home = TempHome::new();
    let mut config = sshd.client(&home).option(format!(
        "ProxyCommand {} netns exec {} {}",
        tools.ip.display(),
        lab.server,
        sshd.inetd_command()
    ));
    for line in run.ssh_config {
        config = config.option(*line);
    }
    let mut cmd = Command::new(&tools.ip);
    cmd.args(["netns", "exec", &lab.client])
        .arg(pair.ssh(tools))
        .args(run.flags)
        .args(if run.report { None } else { Some("-N") })
        .args(config.args())
        .args(if run.report { Some(REPORT) } else { None })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    home.apply_env(&mut cmd);
    oxssh_sys::kill_on_parent_death(&mut cmd);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start ssh: {e}"));
    let (stdout, out_reader) = drain(child.stdout.take());
    let (stderr, err_reader) = drain(child.stderr.take());
    let client = Client {
        child,
        stdout,
        stderr,
        readers: vec![out_reader, err_reader],
        status: None,
    };
    (lab, sshd, home, client)
}

/// Make the namespaces and the server, run ssh as `run` says, and report what was seen.
fn connect(tools: &Tools, pair: Pair, run: &Run) -> Seen {
    let (lab, sshd, _home, mut client) = launch(tools, pair, run);
    let mut seen = Seen {
        status: Status::Exited(-1),
        stdout: String::new(),
        stderr: String::new(),
        client_links: Vec::new(),
        server_links: Vec::new(),
        transfers: Vec::new(),
    };
    match run.tunnel {
        None => client.wait_exit(),
        Some((devices, net)) => {
            // The session has said its piece (or, with -N, nothing to wait for) ...
            let said = !run.report
                || client.wait_for(SETTLE, |c| {
                    Client::text(&c.stdout).contains("SSH_TUNNEL=")
                        && Client::text(&c.stdout).ends_with('\n')
                });
            // ... and both devices are there, unless ssh gave up.
            let up = said
                && client.wait_for(DEVICES, |_| {
                    lab.links(Side::Client).iter().any(|l| l == devices[0])
                        && lab.links(Side::Server).iter().any(|l| l == devices[1])
                });
            if up {
                seen.client_links = lab.links(Side::Client);
                seen.server_links = lab.links(Side::Server);
                if let Some(net) = net {
                    lab.address(net, devices);
                    let addrs: [&str; 2] = match net {
                        Net::PointToPoint => ["10.77.0.2", "fd77::2"],
                        Net::Ethernet => ["10.78.0.2", "fd78::2"],
                    };
                    for addr in addrs {
                        let result =
                            panic::catch_unwind(AssertUnwindSafe(|| lab.transfer(tools, addr)));
                        match result {
                            Ok(said) => seen.transfers.push(said),
                            Err(payload) => panic!(
                                "{}\n--- ssh's stderr so far ---\n{}",
                                panic_text(&*payload),
                                Client::text(&client.stderr)
                            ),
                        }
                    }
                }
            } else if said && !client.exited() {
                // Still running, but the devices never came: fail with what there is.
                let (c, s) = (lab.links(Side::Client), lab.links(Side::Server));
                client.terminate();
                let (status, out, err) = client.finish();
                panic!(
                    "tunnel devices {devices:?} did not appear within {DEVICES:?} \
                     (client has {c:?}, server has {s:?})\nssh: {status:?}\n\
                     --- stdout ---\n{out}\n--- stderr ---\n{err}"
                );
            }
            client.terminate();
        }
    }
    (seen.status, seen.stdout, seen.stderr) = client.finish();
    drop(client);
    drop(sshd);
    drop(lab);
    seen
}

/// The outcome of a run whose tunnel came up and which SIGTERM ended: ssh exits 255,
/// or 0 with `-N` (no session, so no remote exit status to pass on), and says nothing.
fn assert_tunnel_up(seen: &Seen, run: &Run) {
    let (devices, _) = run.tunnel.unwrap();
    let status = Status::Exited(if run.report { 255 } else { 0 });
    assert_eq!(seen.status, status, "SIGTERM: {seen:#?}");
    assert_eq!(seen.stderr, "", "{seen:#?}");
    assert_eq!(seen.client_links, ["lo", devices[0]], "{seen:#?}");
    assert!(
        seen.server_links.last().map(String::as_str) == Some(devices[1]),
        "{seen:#?}"
    );
}

// ---------------------------------------------------------------------------------
// The cases

/// `-w 0:0` in point-to-point mode: tun0 on both sides, 1 MiB each way over TCP on
/// IPv4 and on IPv6 (whose packets carry a different address-family word on the
/// wire), and SSH_TUNNEL=tun0 in the session.
#[test]
fn point_to_point_tunnel_carries_tcp_over_ipv4_and_ipv6() {
    let Some(tools) = tools() else { return };
    let runs = [Run {
        sshd_config: &["PermitTunnel yes"],
        flags: &["-w", "0:0", "-o", "Tunnel=point-to-point", "-o", EOFF],
        report: true,
        tunnel: Some((["tun0", "tun0"], Some(Net::PointToPoint))),
        ..Run::default()
    }];
    compare_pairs(&tools, &runs, |seen| {
        assert_tunnel_up(&seen[0], &runs[0]);
        assert_eq!(seen[0].stdout, "SSH_TUNNEL=tun0\n");
        assert_eq!(seen[0].server_links, ["lo", "tun0"]);
        assert_eq!(
            seen[0].transfers,
            [
                "10.77.0.2: 1048576 bytes each way intact / \
                 server received 1048576 bytes from 10.77.0.1",
                "fd77::2: 1048576 bytes each way intact / \
                 server received 1048576 bytes from fd77::1",
            ]
        );
    });
}

/// `-o Tunnel=ethernet -w 0:0` with `PermitTunnel ethernet`: tap0 on both sides, and
/// the same transfers, with ARP and neighbour discovery through the tunnel.
#[test]
fn ethernet_tunnel_carries_tcp_over_ipv4_and_ipv6() {
    let Some(tools) = tools() else { return };
    let runs = [Run {
        sshd_config: &["PermitTunnel ethernet"],
        flags: &["-o", "Tunnel=ethernet", "-w", "0:0", "-o", EOFF],
        report: true,
        tunnel: Some((["tap0", "tap0"], Some(Net::Ethernet))),
        ..Run::default()
    }];
    compare_pairs(&tools, &runs, |seen| {
        assert_tunnel_up(&seen[0], &runs[0]);
        assert_eq!(seen[0].stdout, "SSH_TUNNEL=tap0\n");
        assert_eq!(
            seen[0].transfers,
            [
                "10.78.0.2: 1048576 bytes each way intact / \
                 server received 1048576 bytes from 10.78.0.1",
                "fd78::2: 1048576 bytes each way intact / \
                 server received 1048576 bytes from fd78::1",
            ]
        );
    });
}

/// The ways to name the devices: `-w 0` (the server's side is then `any`), `any:7`,
/// `ANY` with `-N`, `Tunnel`/`TunnelDevice` options without `-w`, and `-w` with a
/// config file's `Tunnel ethernet`, which it overrides (`-w` sets point-to-point unless
/// a `-o Tunnel=` came before it on the command line).
#[test]
fn tunnel_device_numbers_any_and_the_tunnel_options() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            flags: &["-w", "0", "-o", EOFF],
            report: true,
            tunnel: Some((["tun0", "tun0"], None)),
            ..Run::default()
        },
        Run {
            flags: &["-w", "any:7", "-o", EOFF],
            report: true,
            tunnel: Some((["tun0", "tun7"], None)),
            ..Run::default()
        },
        // Traffic through the tunnel also shows that ssh is in its main loop, where
        // SIGTERM makes it exit 0: without a session there is no output to wait for.
        Run {
            flags: &["-w", "ANY", "-o", EOFF],
            tunnel: Some((["tun0", "tun0"], Some(Net::PointToPoint))),
            ..Run::default()
        },
        Run {
            flags: &[
                "-o",
                "Tunnel=ethernet",
                "-o",
                "TunnelDevice=2:5",
                "-o",
                EOFF,
            ],
            report: true,
            tunnel: Some((["tap2", "tap5"], None)),
            ..Run::default()
        },
        Run {
            ssh_config: &["Tunnel ethernet"],
            flags: &["-w", "1:2", "-o", EOFF],
            report: true,
            tunnel: Some((["tun1", "tun2"], None)),
            ..Run::default()
        },
    ]
    .map(|r| Run {
        sshd_config: &["PermitTunnel yes"],
        ..r
    });
    compare_pairs(&tools, &runs, |seen| {
        for (s, r) in seen.iter().zip(&runs) {
            assert_tunnel_up(s, r);
        }
        let stdout: Vec<&str> = seen.iter().map(|s| s.stdout.as_str()).collect();
        assert_eq!(
            stdout,
            [
                "SSH_TUNNEL=tun0\n",
                "SSH_TUNNEL=tun7\n",
                "",
                "SSH_TUNNEL=tap5\n",
                "SSH_TUNNEL=tun2\n"
            ]
        );
        assert_eq!(seen[2].transfers.len(), 2, "{:#?}", seen[2]);
    });
}

/// (status, stdout, stderr) of each run.
fn said(seen: &[Seen]) -> Vec<(Status, &str, &str)> {
    seen.iter()
        .map(|s| (s.status, s.stdout.as_str(), s.stderr.as_str()))
        .collect()
}

/// PermitTunnel no (the default): the channel open fails; with ExitOnForwardFailure
/// ssh exits 255, otherwise the session runs, without SSH_TUNNEL.
#[test]
fn permit_tunnel_no_refuses_the_tunnel() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            flags: &["-w", "0:0", "-o", EOFF],
            ..Run::default()
        },
        Run {
            flags: &["-w", "0:0"],
            report: true,
            ..Run::default()
        },
        Run {
            sshd_config: &["PermitTunnel no"],
            flags: &["-w", "any", "-o", EOFF],
            report: true,
            ..Run::default()
        },
    ];
    compare_pairs(&tools, &runs, |seen| {
        assert_eq!(
            said(seen),
            [
                (Status::Exited(255), "", REFUSED),
                (Status::Exited(0), "SSH_TUNNEL=unset\n", REFUSED),
                (Status::Exited(255), "", REFUSED),
            ]
        );
    });
}

/// PermitTunnel point-to-point refuses an ethernet tunnel and allows a point-to-point
/// one; PermitTunnel ethernet refuses a point-to-point tunnel.
#[test]
fn permit_tunnel_mode_must_match_the_request() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            sshd_config: &["PermitTunnel point-to-point"],
            flags: &["-o", "Tunnel=ethernet", "-w", "0:0", "-o", EOFF],
            ..Run::default()
        },
        Run {
            sshd_config: &["PermitTunnel point-to-point"],
            flags: &["-o", "Tunnel=point-to-point", "-w", "0:0", "-o", EOFF],
            report: true,
            tunnel: Some((["tun0", "tun0"], None)),
            ..Run::default()
        },
        Run {
            sshd_config: &["PermitTunnel ethernet"],
            flags: &["-w", "0:0", "-o", EOFF],
            ..Run::default()
        },
    ];
    compare_pairs(&tools, &runs, |seen| {
        for refused in [&seen[0], &seen[2]] {
            assert_eq!(refused.status, Status::Exited(255), "{refused:#?}");
            assert_eq!(refused.stderr, REFUSED, "{refused:#?}");
        }
        assert_tunnel_up(&seen[1], &runs[1]);
        assert_eq!(seen[1].stdout, "SSH_TUNNEL=tun0\n");
    });
}

/// `tunnel="3"` on the key: a request for the server's unit 0 is refused; `-w 0:any`
/// gets tun3 on the server, which the session sees in SSH_TUNNEL, and it carries
/// traffic.
#[test]
fn authorized_keys_tunnel_option_forces_the_server_unit() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            flags: &["-w", "0:0", "-o", EOFF],
            report: true,
            ..Run::default()
        },
        Run {
            flags: &["-w", "0:any", "-o", EOFF],
            report: true,
            tunnel: Some((["tun0", "tun3"], Some(Net::PointToPoint))),
            ..Run::default()
        },
    ]
    .map(|r| Run {
        sshd_config: &["PermitTunnel yes"],
        key_options: Some("tunnel=\"3\""),
        ..r
    });
    compare_pairs(&tools, &runs, |seen| {
        assert_eq!(said(&seen[..1]), [(Status::Exited(255), "", REFUSED)]);
        assert_tunnel_up(&seen[1], &runs[1]);
        assert_eq!(seen[1].stdout, "SSH_TUNNEL=tun3\n");
        assert_eq!(seen[1].server_links, ["lo", "tun3"]);
        assert_eq!(seen[1].transfers.len(), 2, "{:#?}", seen[1]);
    });
}

/// `restrict` on the key and `DisableForwarding yes` refuse tunnels in current OpenSSH
/// (from 10.5 and 10.4 on), and so in our sshd, which must then look exactly like a
/// refusal by OpenSSH's sshd (here: PermitTunnel no). Older OpenSSH sshds (9.2 in
/// Debian 12) accept the tunnel: OpenSSH's sshd is held to what the installed one does.
#[test]
fn restrict_and_disable_forwarding_refuse_tunnels() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            sshd_config: &["PermitTunnel yes"],
            key_options: Some("restrict"),
            ..Run::default()
        },
        Run {
            sshd_config: &["PermitTunnel yes", "DisableForwarding yes"],
            ..Run::default()
        },
    ]
    .map(|r| Run {
        flags: &["-w", "0:0", "-o", EOFF],
        report: true,
        tunnel: Some((["tun0", "tun0"], None)),
        ..r
    });
    // What a refusal looks like to this client, from OpenSSH's sshd.
    let refusal = connect(
        &tools,
        REFERENCE,
        &Run {
            sshd_config: &["PermitTunnel no"],
            ..runs[0].clone()
        },
    );
    assert_eq!(
        said(std::slice::from_ref(&refusal)),
        [(Status::Exited(255), "", REFUSED)]
    );
    compare_pairs_with(
        &tools,
        &runs,
        |seen| {
            for ((s, r), what) in seen
                .iter()
                .zip(&runs)
                .zip(["restrict", "DisableForwarding"])
            {
                if *s != refusal {
                    assert_tunnel_up(s, r);
                    eprintln!(
                        "note: the installed OpenSSH sshd accepts a tunnel under {what} \
                         (as OpenSSH did before 10.4/10.5); our sshd must refuse it"
                    );
                }
            }
        },
        |pair, reference| match pair.sshd {
            Impl::OpenSsh => reference.to_vec(),
            Impl::Ours => vec![refusal.clone(); runs.len()],
        },
    );
}

/// SSH_TUNNEL names the device the server actually got: with tun0 taken on the server,
/// `-w any:any` gets tun1 there (and tun0 on the client), and it carries traffic.
#[test]
fn ssh_tunnel_names_the_server_device_in_the_session() {
    let Some(tools) = tools() else { return };
    let runs = [Run {
        sshd_config: &["PermitTunnel point-to-point"],
        flags: &["-w", "any:any", "-o", EOFF],
        report: true,
        occupied: &[(Side::Server, "tun0")],
        tunnel: Some((["tun0", "tun1"], Some(Net::PointToPoint))),
        ..Run::default()
    }];
    compare_pairs(&tools, &runs, |seen| {
        assert_tunnel_up(&seen[0], &runs[0]);
        assert_eq!(seen[0].stdout, "SSH_TUNNEL=tun1\n");
        assert_eq!(seen[0].server_links, ["lo", "tun0", "tun1"]);
        assert_eq!(seen[0].transfers.len(), 2, "{:#?}", seen[0]);
    });
}

/// Failures the user meets: the client's own unit taken (with and without
/// ExitOnForwardFailure), the server's unit taken, and `-w` / `TunnelDevice` values
/// ssh does not accept.
#[test]
fn tunnel_failures_on_either_side_and_bad_device_arguments() {
    let Some(tools) = tools() else { return };
    let runs = [
        Run {
            flags: &["-w", "0:0", "-o", EOFF],
            occupied: &[(Side::Client, "tun0")],
            ..Run::default()
        },
        Run {
            flags: &["-w", "0:0"],
            report: true,
            occupied: &[(Side::Client, "tun0")],
            ..Run::default()
        },
        Run {
            flags: &["-w", "0:0", "-o", EOFF],
            report: true,
            occupied: &[(Side::Server, "tun0")],
            ..Run::default()
        },
        Run {
            flags: &["-w", "foo"],
            ..Run::default()
        },
        Run {
            flags: &["-w", "0:2147483647"],
            ..Run::default()
        },
        Run {
            flags: &["-o", "Tunnel=yes", "-o", "TunnelDevice=0:x"],
            ..Run::default()
        },
    ]
    .map(|r| Run {
        sshd_config: &["PermitTunnel yes"],
        ..r
    });
    compare_pairs(&tools, &runs, |seen| {
        assert_eq!(
            said(seen),
            [
                (Status::Exited(255), "", LOCAL_FAILED),
                (Status::Exited(0), "SSH_TUNNEL=unset\n", LOCAL_FAILED),
                (Status::Exited(255), "", REFUSED),
                (Status::Exited(255), "", "Bad tun device 'foo'\n"),
                (Status::Exited(255), "", "Bad tun device '0:2147483647'\n"),
                (
                    Status::Exited(255),
                    "",
                    "command-line line 0: Bad tun device.\r\n"
                ),
            ]
        );
    });
}

/// ChannelTimeout `tun-connection` (sshd_config(5)'s name for a tunnel) closes an idle
/// tunnel: our sshd's device goes with its channel, and sshd says why. Ours only:
/// OpenSSH's sshd names the channel `tun`, so the documented pattern does not match
/// there.
#[test]
fn channel_timeout_tun_connection_closes_an_idle_tunnel() {
    let Some(tools) = tools() else { return };
    let pair = Pair {
        ssh: Impl::Ours,
        sshd: Impl::Ours,
    };
    let run = Run {
        sshd_config: &["PermitTunnel yes", "ChannelTimeout tun-connection=2s"],
        key_options: None,
        ssh_config: &[],
        flags: &["-w", "0:0"],
        report: false,
        occupied: &[],
        tunnel: Some((["tun0", "tun0"], None)),
    };
    let (lab, sshd, _home, mut client) = launch(&tools, pair, &run);
    let both = |lab: &Lab| {
        lab.links(Side::Client).iter().any(|l| l == "tun0")
            && lab.links(Side::Server).iter().any(|l| l == "tun0")
    };
    assert!(
        client.wait_for(DEVICES, |_| both(&lab)),
        "the tunnel never came up: {:?}",
        client.finish()
    );
    // Idle for the timeout: the server's end goes, and with it the client's.
    let gone = client.wait_for(DEVICES, |_| {
        !lab.links(Side::Server).iter().any(|l| l == "tun0")
            && !lab.links(Side::Client).iter().any(|l| l == "tun0")
    });
    // -N: ssh stays for the connection, as OpenSSH's does.
    let still_running = !client.exited();
    client.terminate();
    let (status, _, stderr) = client.finish();
    assert!(
        gone,
        "the idle tunnel was not closed; ssh: {status:?} {stderr}"
    );
    assert!(
        still_running,
        "ssh left with the tunnel: {status:?} {stderr}"
    );
    let log = sshd.log();
    assert!(
        log.contains("closing after 2 seconds of inactivity"),
        "sshd's log:\n{log}"
    );
}
