//! The clocks of our `sshd` after login, with OpenSSH's `ssh` as the client:
//! ClientAliveInterval/ClientAliveCountMax end a connection whose client stopped
//! answering (a proxy in the test freezes the bytes) with OpenSSH's log line, and keep
//! one whose client answers; ChannelTimeout closes an idle command's channel (ssh
//! exits 255, no exit status) but not a busy one or one of another type;
//! UnusedConnectionTimeout ends a connection left with no channel; RekeyLimit's time
//! limit re-keys a quiet session.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, require_openssh};

fn our_sshd(extra: &[&str]) -> Sshd {
    let mut b = Sshd::ours();
    for line in extra {
        b = b.config(*line);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// OpenSSH's ssh running `command` on `sshd`; None when it is missing.
fn openssh(sshd: &Sshd, home: &TempHome, command: &str) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let mut args = sshd.client(home).args();
    args.push(command.into());
    Some(
        Cmd::new(ssh)
            .args(args)
            .envs(home.env())
            .timeout(Duration::from_secs(60))
            .run(),
    )
}

/// A TCP relay to `port` for one connection; setting the flag stops it moving bytes
/// either way (a client that vanished without closing its socket).
fn freezable_proxy(port: u16) -> (u16, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = l.local_addr().unwrap().port();
    let frozen = Arc::new(AtomicBool::new(false));
    let f = frozen.clone();
    thread::spawn(move || {
        let Ok((client, _)) = l.accept() else { return };
        let server = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for (mut from, mut to) in [
            (client.try_clone().unwrap(), server.try_clone().unwrap()),
            (server, client),
        ] {
            let f = f.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 16384];
                from.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let end = Instant::now() + Duration::from_secs(60);
                while Instant::now() < end {
                    if f.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    match from.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => break,
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    });
    (local, frozen)
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn client_alive_ends_a_connection_whose_client_stopped_answering() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let sshd = our_sshd(&["ClientAliveInterval 1", "ClientAliveCountMax 2"]);
    let home = TempHome::new();
    let (port, frozen) = freezable_proxy(sshd.port());
    let args = sshd
        .client(&home)
        .option(format!("Port {port}"))
        .strict_host_key_checking("no")
        .option("ServerAliveInterval 0")
        .args();
    let mut cmd = Command::new(ssh);
    home.apply_env(&mut cmd);
    let child = cmd
        .args(args)
        .arg("sleep 30")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Kill(child);
    sshd.wait_for_log("Starting session: command");
    // Probes are answered while the bytes flow.
    sshd.wait_for_log("Got reply for keepalive");
    frozen.store(true, Ordering::SeqCst);
    let log = sshd.wait_for_log("Timeout, client not responding from user ");
    let line = log
        .lines()
        .find(|l| l.contains("Timeout, client not responding"))
        .unwrap();
    let user = oxssh_testkit::current_user();
    let prefix = format!("Timeout, client not responding from user {user} 127.0.0.1 port ");
    assert!(line.contains(&prefix), "{line}");
    let port: u16 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
}

#[test]
fn client_alive_keeps_a_client_that_answers() {
    let sshd = our_sshd(&["ClientAliveInterval 1", "ClientAliveCountMax 1"]);
    let home = TempHome::new();
    let Some(out) = openssh(&sshd, &home, "sleep 4; echo done") else {
        return;
    };
    assert_eq!(out.stdout_str(), "done\n", "{}", out.stderr_str());
    assert_eq!(out.code(), Some(0));
    let log = sshd.log();
    assert!(log.contains("Got reply for keepalive"), "{log}");
    assert!(!log.contains("Timeout, client not responding"), "{log}");
}

#[test]
fn channel_timeout_closes_an_idle_command_but_not_a_busy_one() {
    let sshd = our_sshd(&["ChannelTimeout session:command=2 session:shell=1"]);
    let home = TempHome::new();
    let Some(idle) = openssh(&sshd, &home, "sleep 6; exit 23") else {
        return;
    };
    // The channel closed before the command ended: no exit status, ssh says 255.
    assert_eq!(idle.code(), Some(255), "{}", idle.stderr_str());
    sshd.wait_for_log("closing after 2 seconds of inactivity");
    // Output every second keeps the channel in use.
    let busy = openssh(
        &sshd,
        &home,
        "for i in 1 2 3 4; do sleep 1; echo $i; done; exit 23",
    )
    .unwrap();
    assert_eq!(busy.stdout_str(), "1\n2\n3\n4\n");
    assert_eq!(busy.code(), Some(23));
}

#[test]
fn unused_connection_timeout_ends_a_connection_without_channels() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let sshd = our_sshd(&["UnusedConnectionTimeout 2"]);
    let home = TempHome::new();
    // -N: logged in, no session channel.
    let args = sshd.client(&home).args();
    let out = Cmd::new(ssh)
        .arg("-N")
        .args(args)
        .envs(home.env())
        .timeout(Duration::from_secs(30))
        .run();
    assert_eq!(out.code(), Some(255), "{}", out.stderr_str());
    sshd.wait_for_log("terminating inactive connection from user ");
    // A session in progress holds the connection open past the limit.
    let held = openssh(&sshd, &home, "sleep 4; echo held").unwrap();
    assert_eq!(held.stdout_str(), "held\n");
    assert_eq!(held.code(), Some(0));
}

#[test]
fn rekey_limit_time_rekeys_a_quiet_session() {
    let sshd = our_sshd(&["RekeyLimit default 1"]);
    let home = TempHome::new();
    let Some(out) = openssh(&sshd, &home, "sleep 3; echo after") else {
        return;
    };
    assert_eq!(out.stdout_str(), "after\n", "{}", out.stderr_str());
    assert_eq!(out.code(), Some(0));
    let log = sshd.log();
    let kexes = log.matches("SSH2_MSG_NEWKEYS sent").count();
    assert!(kexes >= 2, "no time-based rekey:\n{log}");
}
