//! X11 forwarding in our `sshd` (`X11Forwarding yes`) and our `ssh` (`-Y`, `-X`), each
//! against OpenSSH's other half, with a stand-in X server on this machine: the session gets DISPLAY
//! (`localhost:N.0`, N from X11DisplayOffset up), xauth files the client's cookie
//! under `unix:N.0` (in a scratch XAUTHORITY the server's SetEnv names), and an X client on the server that connects to the display
//! reaches the X server through an `x11` channel, with ssh putting the real cookie in
//! place of the one the server side was given. The same script runs against OpenSSH's
//! sshd as the reference. Refusals (X11Forwarding no, `no-x11-forwarding`) leave
//! DISPLAY unset and ssh says "X11 forwarding request failed on channel 0".

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use oxssh_testkit::{Cmd, Key, Output, Sshd, SshdBuilder, TempHome, require_openssh};

/// An X client for the server side: reads DISPLAY and the cookie xauth filed for it,
/// connects to the display's TCP port, sends the X11 connection setup with that
/// cookie, and prints what comes back.
const X_CLIENT: &str = r#"
import os, socket, struct, subprocess, sys, time
d = os.environ["DISPLAY"]
print("DISPLAY=" + d)
n = int(d.split(":")[1].split(".")[0])
lines = subprocess.run(["xauth", "list"], capture_output=True, text=True).stdout.splitlines()
entries = [l.split() for l in lines if l.split()[0].endswith(":%d" % n)][0]
name, cookie = entries[1].encode(), bytes.fromhex(entries[2])
print("cookie=" + cookie.hex())
pad = lambda b: b + b"\0" * (-len(b) % 4)
s = socket.create_connection(("127.0.0.1", 6000 + n))
time.sleep(float(os.environ.get("X_DELAY", "0")))
s.sendall(b"l\0" + struct.pack("<HHHH", 11, 0, len(name), len(cookie)) + b"\0\0" + pad(name) + pad(cookie))
sys.stdout.write(s.recv(100).decode())
"#;

/// An X client's connection setup: authorization protocol name and data.
type Setup = (Vec<u8>, Vec<u8>);

/// A stand-in X server on `127.0.0.1:6000+N`: the display name for it, and the
/// connection setup (authorization name and data) of the first client, once it came.
fn fake_x_server() -> (String, mpsc::Receiver<Setup>) {
    let Some((listener, n)) = (60..160).find_map(|n| {
        TcpListener::bind(("127.0.0.1", 6000 + n))
            .ok()
            .map(|l| (l, n))
    }) else {
        panic!("no free X display port among 6060..6160");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        let name_len = usize::from(u16::from_le_bytes([head[6], head[7]]));
        let data_len = usize::from(u16::from_le_bytes([head[8], head[9]]));
        let mut name = vec![0u8; name_len.next_multiple_of(4)];
        let mut data = vec![0u8; data_len.next_multiple_of(4)];
        s.read_exact(&mut name).unwrap();
        s.read_exact(&mut data).unwrap();
        name.truncate(name_len);
        data.truncate(data_len);
        s.write_all(b"X server says hello\n").unwrap();
        let _ = tx.send((name, data));
    });
    (format!("127.0.0.1:{n}.0"), rx)
}

fn prerequisites() -> Option<std::path::PathBuf> {
    let ssh = require_openssh("ssh")?;
    oxssh_testkit::require_files(&["/usr/bin/xauth", "/usr/bin/python3"], "xauth python3")?;
    Some(ssh)
}

/// A server whose sessions keep their X authority in the server's own directory
/// (SetEnv XAUTHORITY), never in the account's ~/.Xauthority.
fn start(b: SshdBuilder, extra: &[&str]) -> (Sshd, TempHome) {
    let scratch = TempHome::new();
    let xauthority = scratch.path().join("xauthority");
    let mut b = b
        .config("X11DisplayOffset 20")
        .config(format!("SetEnv XAUTHORITY={}", xauthority.display()));
    for l in extra {
        b = b.config(*l);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    (sshd, scratch)
}

fn ssh_y(ssh: &Path, sshd: &Sshd, display: &str, command: &str) -> Output {
    ssh_x(ssh, &["-Y"], sshd, display, command)
}

fn ssh_x(ssh: &Path, flags: &[&str], sshd: &Sshd, display: &str, command: &str) -> Output {
    let home = TempHome::new();
    let args = sshd.client(&home).args();
    Cmd::new(ssh)
        .args(flags)
        .args(args)
        .arg(command)
        .envs(home.env())
        .env("DISPLAY", display)
        .timeout(Duration::from_secs(60))
        .run()
}

/// Connect an X client through `sshd`; what it printed, and what the X server got.
fn forward_once(ssh: &Path, sshd: &Sshd) -> (Output, Setup) {
    let (display, seen) = fake_x_server();
    let out = ssh_y(ssh, sshd, &display, &format!("python3 -c '{X_CLIENT}'"));
    let got = seen
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the X server saw no client\n{out}\n{}", sshd.log()));
    (out, got)
}

fn check_forwarded(out: &Output, got: &Setup, offset: u32) {
    assert_eq!(out.code(), Some(0), "{out}");
    let text = out.stdout_str();
    let display = text
        .lines()
        .find_map(|l| l.strip_prefix("DISPLAY="))
        .unwrap_or_else(|| panic!("{out}"));
    let n: u32 = display
        .rsplit_once(':')
        .map(|(_, d)| d)
        .and_then(|d| d.strip_suffix(".0"))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("DISPLAY {display}"));
    assert!(n >= offset, "{display}");
    assert!(text.ends_with("X server says hello\n"), "{out}");
    // The server side held a stand-in cookie; ssh put its own in its place.
    let remote_cookie = text
        .lines()
        .find_map(|l| l.strip_prefix("cookie="))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(got.0, b"MIT-MAGIC-COOKIE-1");
    assert_eq!(got.1.len(), 16);
    assert_ne!(
        hex(&got.1),
        remote_cookie,
        "the X server got the forged cookie"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn x11_forwarding_reaches_the_clients_x_server_as_with_openssh() {
    let Some(ssh) = prerequisites() else {
        return;
    };
    let (ours, ours_x) = start(Sshd::ours(), &["X11Forwarding yes"]);
    let (out, got) = forward_once(&ssh, &ours);
    check_forwarded(&out, &got, 20);
    assert!(
        ours.log().contains("X11 connection requested."),
        "{}",
        ours.log()
    );
    if require_openssh("sshd").is_some() {
        let (theirs, theirs_x) = start(Sshd::openssh(), &["X11Forwarding yes"]);
        let (reference, got) = forward_once(&ssh, &theirs);
        check_forwarded(&reference, &got, 20);
        // What the session printed (xauth's own words included) is the same.
        let scrub = |o: &Output, x: &TempHome| {
            o.stderr_str()
                .replace(&*x.path().to_string_lossy(), "SCRATCH")
        };
        assert_eq!(scrub(&out, &ours_x), scrub(&reference, &theirs_x));
    }
}

#[test]
fn x11_forwarding_refused_leaves_display_unset_as_openssh() {
    let Some(ssh) = prerequisites() else {
        return;
    };
    let cases: [(&str, &[&str]); 2] = [
        ("X11Forwarding no", &["X11Forwarding no"]),
        (
            "DisableForwarding",
            &["X11Forwarding yes", "DisableForwarding yes"],
        ),
    ];
    for (what, config) in cases {
        let (ours, _x) = start(Sshd::ours(), config);
        let out = ssh_y(&ssh, &ours, "127.0.0.1:99.0", "echo \"DISPLAY=$DISPLAY\"");
        assert_eq!(out.code(), Some(0), "{what}: {out}");
        assert_eq!(out.stdout_str(), "DISPLAY=\n", "{what}: {out}");
        assert!(
            out.stderr_str()
                .contains("X11 forwarding request failed on channel 0"),
            "{what}: {out}"
        );
        if require_openssh("sshd").is_some() {
            let (theirs, _y) = start(Sshd::openssh(), config);
            let reference = ssh_y(&ssh, &theirs, "127.0.0.1:99.0", "echo \"DISPLAY=$DISPLAY\"");
            assert_eq!(reference.stdout_str(), out.stdout_str(), "{what}");
            assert_eq!(reference.stderr_str(), out.stderr_str(), "{what}");
        }
    }
}

/// Our ssh -Y against OpenSSH's sshd and ours: the X client on the server reaches the
/// X server with the real cookie, and ssh says what OpenSSH's ssh says.
#[test]
fn our_ssh_forwards_x11_as_openssh_ssh_does() {
    let Some(theirs_ssh) = prerequisites() else {
        return;
    };
    let ours_ssh = oxssh_testkit::ours("ssh");
    let mut servers = vec![start(Sshd::ours(), &["X11Forwarding yes"])];
    if require_openssh("sshd").is_some() {
        servers.push(start(Sshd::openssh(), &["X11Forwarding yes"]));
    }
    for (sshd, x) in &servers {
        // Each run starts without an X authority file (xauth says it makes one).
        let fresh = || {
            let _ = std::fs::remove_file(x.path().join("xauthority"));
        };
        fresh();
        let (out, got) = forward_once(&ours_ssh, sshd);
        check_forwarded(&out, &got, 20);
        fresh();
        let (reference, _) = forward_once(&theirs_ssh, sshd);
        let scrub = |o: &Output| {
            o.stderr_str()
                .replace(&*x.path().to_string_lossy(), "SCRATCH")
        };
        assert_eq!(scrub(&out), scrub(&reference), "{out}\n{reference}");
    }
}

/// Without a cookie to spoof (untrusted forwarding needs xauth to make one, which
/// needs the X server), or with X11Forwarding no on the server, our ssh goes on
/// without X11 and says so exactly as OpenSSH's ssh. (Debian's ssh makes `-X` trusted
/// unless ForwardX11Trusted says no, and so does ours.)
#[test]
fn our_ssh_x11_failures_are_reported_as_openssh_ssh_does() {
    let Some(theirs_ssh) = prerequisites() else {
        return;
    };
    let ours_ssh = oxssh_testkit::ours("ssh");
    let (on, _x) = start(Sshd::ours(), &["X11Forwarding yes"]);
    let (off, _y) = start(Sshd::ours(), &["X11Forwarding no"]);
    let cases = [
        (["-X", "-oForwardX11Trusted=no"], &on, "untrusted"),
        (["-Y", "-oForwardX11Trusted=yes"], &off, "refused"),
    ];
    for (flags, sshd, what) in cases {
        let cmd = "echo \"DISPLAY=$DISPLAY\"";
        let ours = ssh_x(&ours_ssh, &flags, sshd, "127.0.0.1:99.0", cmd);
        let theirs = ssh_x(&theirs_ssh, &flags, sshd, "127.0.0.1:99.0", cmd);
        assert_eq!(ours.code(), Some(0), "{what}: {ours}");
        assert_eq!(ours.stdout_str(), "DISPLAY=\n", "{what}: {ours}");
        assert_eq!(
            ours.stderr_str(),
            theirs.stderr_str(),
            "{what}: {ours}\n{theirs}"
        );
        assert!(!ours.stderr_str().is_empty(), "{what}: {ours}");
    }
}

/// X11UseLocalhost no: the display listens on the wildcard address (IPv4 included)
/// and DISPLAY names this host.
#[test]
fn x11_display_on_the_wildcard_address_with_x11uselocalhost_no() {
    let Some(ssh) = prerequisites() else {
        return;
    };
    let (ours, _x) = start(Sshd::ours(), &["X11Forwarding yes", "X11UseLocalhost no"]);
    let (out, got) = forward_once(&ssh, &ours);
    check_forwarded(&out, &got, 20);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        out.stdout_str()
            .contains(&format!("DISPLAY={}:", host.trim())),
        "{out}"
    );
}

/// An X connection still open when the session ends keeps ssh running until it ends,
/// as OpenSSH's ssh does: a program the command left in the background goes on
/// using its display.
#[test]
fn ssh_stays_while_x11_connections_outlive_the_session() {
    let Some(theirs_ssh) = prerequisites() else {
        return;
    };
    let (sshd, _x) = start(Sshd::ours(), &["X11Forwarding yes"]);
    let client = format!(
        "X_DELAY=1.5 python3 -c '{X_CLIENT}' >/dev/null 2>&1 </dev/null & sleep 0.5; echo left"
    );
    for ssh in [oxssh_testkit::ours("ssh"), theirs_ssh] {
        let (display, seen) = fake_x_server();
        let out = ssh_y(&ssh, &sshd, &display, &client);
        assert_eq!(out.stdout_str(), "left\n", "{out}");
        let got = seen
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("the X connection died with the session\n{out}"));
        assert_eq!(got.0, b"MIT-MAGIC-COOKIE-1");
    }
}
