//! Connection liveness. ServerAliveInterval / ServerAliveCountMax against OpenSSH's
//! sshd: keepalives to a live server change nothing; a server that stops answering is
//! given up on with OpenSSH's "Timeout, server … not responding." and status 255.
//! ConnectionAttempts: a refused connection is retried after a second, and reported
//! once. RekeyLimit's time limit re-keys a quiet session (OpenSSH's sshd logs each
//! key exchange).

use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, ours, require_openssh};

fn run(sshd: &Sshd, home: &TempHome, command: &str) -> oxssh_testkit::Output {
    let args = sshd
        .client(home)
        .option("ServerAliveInterval 1")
        .option("ServerAliveCountMax 2")
        .args();
    Cmd::new(ours("ssh"))
        .args(args)
        .arg(command)
        .envs(home.env())
        .run()
}

#[test]
fn keepalives_to_a_live_server_are_answered() {
    if require_openssh("sshd").is_none() {
        return;
    }
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    // Quiet for longer than interval × count: the answered keepalives keep it going.
    let out = run(&sshd, &home, "sleep 4; echo still here");
    out.assert_success();
    assert_eq!(out.stdout_str(), "still here\n");
}

#[test]
fn a_server_that_stops_answering_times_out() {
    if require_openssh("sshd").is_none() {
        return;
    }
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let start = Instant::now();
    // Stop the sshd process serving this session (resumed later, so it can clean up).
    let out = run(
        &sshd,
        &home,
        "(sleep 8; kill -CONT $PPID) >/dev/null 2>&1 & kill -STOP $PPID",
    );
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .ends_with("Timeout, server 127.0.0.1 not responding.\r\n"),
        "{out}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn connection_attempts_retry_after_a_pause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let home = TempHome::new();
    let start = Instant::now();
    let out = Cmd::new(ours("ssh"))
        .args(["-F", "none", "-oConnectionAttempts=2", "-p"])
        .arg(port.to_string())
        .args(["127.0.0.1", "true"])
        .envs(home.env())
        .run();
    out.assert_code(255);
    assert_eq!(
        out.stderr_str(),
        format!("ssh: connect to host 127.0.0.1 port {port}: Connection refused\r\n")
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn rekey_limit_time_rekeys_a_quiet_session() {
    if require_openssh("sshd").is_none() {
        return;
    }
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let args = sshd.client(&home).option("RekeyLimit default 1").args();
    let out = Cmd::new(ours("ssh"))
        .arg("-v")
        .args(args)
        .arg("sleep 3; echo done")
        .envs(home.env())
        .run();
    out.assert_success();
    assert_eq!(out.stdout_str(), "done\n");
    // The first exchange and at least one started by the client's clock.
    let sent = out.stderr_str().matches("SSH2_MSG_NEWKEYS sent").count();
    assert!(sent >= 2, "{out}");
    let log = sshd.log();
    assert!(
        log.matches("SSH2_MSG_NEWKEYS received").count() >= 2,
        "{log}"
    );
}
