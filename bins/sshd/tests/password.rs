//! Password authentication in our sshd with `UsePAM no` (shadow + crypt(3)), driven by
//! OpenSSH's `ssh` under `sshpass`: a real test user (created with useradd/chpasswd,
//! so its hash is the system's default, yescrypt on Debian 12) logs in and runs as
//! itself; wrong passwords, unknown users and empty passwords fail with OpenSSH's log
//! lines. Creating users needs root: without it those tests skip and say why.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use oxssh_testkit::{Cmd, Output, Sshd, TempHome, is_ci, require_openssh};

/// `sshpass`, which types a password into ssh's prompt.
fn sshpass() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/sshpass");
    if path.is_file() {
        return Some(path);
    }
    assert!(!is_ci(), "CI needs sshpass: apt-get install -y sshpass");
    eprintln!("skipping: sshpass is not installed (apt-get install -y sshpass)");
    None
}

/// A throwaway local account with a known password and one supplementary group;
/// removed (with its home and group) on drop.
struct TestUser {
    name: String,
    group: String,
}

impl TestUser {
    fn create(password: Option<&str>) -> Option<TestUser> {
        if oxssh_sys::geteuid() != 0 {
            eprintln!("skipping: creating a test user needs root");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("oxpw{}x{n}", std::process::id());
        let group = format!("{name}g");
        Cmd::new("/usr/sbin/groupadd")
            .arg(&group)
            .run()
            .assert_success();
        let user = TestUser { name, group };
        Cmd::new("/usr/sbin/useradd")
            .args(["-m", "-s", "/bin/sh", "-G", &user.group, &user.name])
            .run()
            .assert_success();
        match password {
            Some(p) => {
                Cmd::new("/usr/sbin/chpasswd")
                    .stdin(format!("{}:{p}\n", user.name))
                    .run()
                    .assert_success();
            }
            None => {
                Cmd::new("/usr/bin/passwd")
                    .args(["-d", &user.name])
                    .run()
                    .assert_success();
            }
        }
        Some(user)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Cmd::new("/usr/sbin/userdel").args(["-r", &self.name]).run();
        let _ = Cmd::new("/usr/sbin/groupdel").arg(&self.group).run();
    }
}

/// `sshpass -p <password> ssh …` as `user`, password authentication only, one prompt.
fn login(
    sshd: &Sshd,
    home: &TempHome,
    user: &str,
    password: &str,
    tty: bool,
    command: &str,
) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let sshpass = sshpass()?;
    let args: Vec<OsString> = sshd
        .client(home)
        .no_identity()
        .option(format!("User {user}"))
        .option("BatchMode no")
        .option("PreferredAuthentications password")
        .option("PubkeyAuthentication no")
        .option("NumberOfPasswordPrompts 1")
        .args();
    Some(
        Cmd::new(sshpass)
            .args(["-p", password])
            .arg(ssh)
            .args(tty.then_some("-tt"))
            .args(args)
            .arg(command)
            .envs(home.env())
            .run(),
    )
}

#[test]
fn password_login_runs_as_the_user_and_is_logged() {
    let _ = require_openssh!("ssh-keygen");
    let Some(user) = TestUser::create(Some("c0rrect horse")) else {
        return;
    };
    let sshd = Sshd::ours().start();
    let home = TempHome::new();
    let Some(out) = login(
        &sshd,
        &home,
        &user.name,
        "c0rrect horse",
        false,
        "id -un; id -u; id -g; id -G",
    ) else {
        return;
    };
    out.assert_success();
    let pw = oxssh_sys::getpwnam(&user.name).unwrap();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first().copied(), Some(user.name.as_str()), "{out}");
    assert_eq!(
        lines.get(1).copied(),
        Some(pw.uid.to_string().as_str()),
        "{out}"
    );
    assert_eq!(
        lines.get(2).copied(),
        Some(pw.gid.to_string().as_str()),
        "{out}"
    );
    // The supplementary group from useradd -G: initgroups happened.
    let groups = lines.get(3).copied().unwrap_or_default();
    assert_eq!(groups.split(' ').count(), 2, "{out}");
    assert!(!groups.split(' ').any(|g| g == "0"), "{out}");
    let log = sshd.wait_for_log(&format!(
        "Accepted password for {} from 127.0.0.1 port ",
        user.name
    ));
    assert!(!log.contains("c0rrect"), "the password was logged:\n{log}");

    // With a pty: the slave is given to the user (group tty, 0620) before the switch.
    let Some(out) = login(
        &sshd,
        &home,
        &user.name,
        "c0rrect horse",
        true,
        "stat -c '%U %G %a' $(tty); id -un",
    ) else {
        return;
    };
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        format!("{0} tty 620\r\n{0}\r\n", user.name),
        "{out}"
    );
}

#[test]
fn wrong_password_is_denied_and_logged() {
    let _ = require_openssh!("ssh-keygen");
    let Some(user) = TestUser::create(Some("right one")) else {
        return;
    };
    let sshd = Sshd::ours().start();
    let home = TempHome::new();
    let Some(out) = login(&sshd, &home, &user.name, "wrong one", false, "true") else {
        return;
    };
    out.assert_code(255);
    assert!(out.stderr_str().contains("Permission denied"), "{out}");
    let needle = format!("Failed password for {} from 127.0.0.1 port ", user.name);
    let log = sshd.wait_for_log(&needle);
    let line = log
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_default();
    assert!(line.trim_end().ends_with(" ssh2"), "{log}");
    assert!(!log.contains("Accepted password"), "{log}");
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    let _ = require_openssh!("ssh-keygen");
    let sshd = Sshd::ours().start();
    let home = TempHome::new();
    let Some(out) = login(&sshd, &home, "oxssh-nosuchuser", "whatever", false, "true") else {
        return;
    };
    out.assert_code(255);
    assert!(out.stderr_str().contains("Permission denied"), "{out}");
    sshd.wait_for_log("Invalid user oxssh-nosuchuser from 127.0.0.1 port ");
    sshd.wait_for_log("Failed password for invalid user oxssh-nosuchuser from 127.0.0.1 port ");
}

#[test]
fn empty_password_needs_permit_empty_passwords() {
    let _ = require_openssh!("ssh-keygen");
    let Some(user) = TestUser::create(None) else {
        return;
    };
    let sshd = Sshd::ours().start();
    let home = TempHome::new();
    let Some(out) = login(&sshd, &home, &user.name, "", false, "true") else {
        return;
    };
    out.assert_code(255);
    sshd.wait_for_log(&format!("Failed password for {} from", user.name));

    let sshd = Sshd::ours().config("PermitEmptyPasswords yes").start();
    let home = TempHome::new();
    let Some(out) = login(&sshd, &home, &user.name, "", false, "id -un") else {
        return;
    };
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("{}\n", user.name));
    // As OpenSSH's: the client's initial "none" request already tries the empty
    // password (userauth_none), so that is the method logged.
    sshd.wait_for_log(&format!("Accepted none for {} from", user.name));
}
