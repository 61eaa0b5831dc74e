//! fail2ban's stock sshd filter reads our log lines: the auth failures a brute-force
//! attempt produces against our sshd, put in syslog form as they reach auth.log, are
//! matched by `fail2ban-regex` with Debian's /etc/fail2ban/filter.d/sshd.conf.

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, is_ci, require_openssh};

#[test]
fn stock_fail2ban_sshd_filter_matches_our_failures() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let regex = std::path::Path::new("/usr/bin/fail2ban-regex");
    let filter = std::path::Path::new("/etc/fail2ban/filter.d/sshd.conf");
    if !regex.exists() || !filter.exists() {
        assert!(!is_ci(), "fail2ban missing: apt-get install -y fail2ban");
        eprintln!("skipping: fail2ban is not installed (apt-get install -y fail2ban)");
        return;
    }
    let sshd = Sshd::ours().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    // Two attempts as users that do not exist, one with a key that is not authorized.
    for user in ["nosuchuser1", "nosuchuser2"] {
        let mut args = sshd.client(&home).option(format!("User {user}")).args();
        args.push("true".into());
        Cmd::new(ssh.clone())
            .args(args)
            .envs(home.env())
            .run()
            .assert_code(255);
    }
    sshd.wait_for_log("Invalid user nosuchuser2 from 127.0.0.1 port ");
    // As syslog writes them to auth.log: "Mon DD HH:MM:SS host sshd[pid]: message".
    let log: String = sshd
        .log()
        .lines()
        .map(|l| {
            format!(
                "Nov 25 19:00:00 testhost sshd[{}]: {}\n",
                sshd.pid(),
                l.trim_end_matches('\r')
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.log");
    std::fs::write(&file, log).unwrap();
    let out = Cmd::new(regex).arg(&file).arg(filter).run();
    out.assert_success();
    let text = out.stdout_str();
    let matched: usize = text
        .lines()
        .find(|l| l.starts_with("Lines:"))
        .and_then(|l| l.split(", ").find(|p| p.ends_with(" matched")))
        .and_then(|p| p.trim_end_matches(" matched").trim().parse().ok())
        .unwrap_or(0);
    assert!(matched >= 2, "fail2ban matched {matched} lines:\n{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
}

/// A scanner's garbage instead of an SSH identification: answered in plain text as
/// OpenSSH answers it, logged with OpenSSH's lines, which fail2ban's sshd filter in
/// its aggressive mode matches.
#[test]
fn garbage_identification_is_answered_and_matched_in_aggressive_mode() {
    use std::io::{Read, Write};
    let regex = std::path::Path::new("/usr/bin/fail2ban-regex");
    if !regex.exists() {
        assert!(!is_ci(), "fail2ban missing: apt-get install -y fail2ban");
        eprintln!("skipping: fail2ban is not installed (apt-get install -y fail2ban)");
        return;
    }
    let sshd = Sshd::ours().start();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sshd.port())).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("SSH-2.0-"), "{reply}");
    assert!(
        reply.ends_with("\r\nInvalid SSH identification string.\r\n"),
        "{reply}"
    );
    let log = sshd.wait_for_log("banner exchange: Connection from 127.0.0.1 port ");
    assert!(
        log.contains(
            "kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\""
        ),
        "{log}"
    );
    let lines: String = log
        .lines()
        .map(|l| {
            format!(
                "Nov 25 19:00:00 testhost sshd[1]: {}\n",
                l.trim_end_matches('\r')
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.log");
    std::fs::write(&file, lines).unwrap();
    let out = Cmd::new(regex)
        .arg(&file)
        .arg("sshd[mode=aggressive]")
        .run();
    out.assert_success();
    let text = out.stdout_str();
    assert!(
        text.lines()
            .any(|l| l.starts_with("Lines:") && !l.contains(" 0 matched")),
        "{text}"
    );
}
