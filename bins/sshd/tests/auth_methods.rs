//! Authentication policy of our sshd, driven by OpenSSH's `ssh`: AuthenticationMethods
//! with partial success (two different keys; key then password), ExposeAuthInfo's
//! SSH_USER_AUTH file, MaxAuthTries counting and its disconnect, PermitRootLogin
//! forced-commands-only, keyboard-interactive with and without UsePAM, and
//! AuthorizedKeysCommand — each with the log lines OpenSSH writes.
//!
//! Tests that need root (creating users, files in /run, logging in as root) skip
//! without it and say why.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, current_user, is_ci, require_openssh};

fn ssh(sshd: &Sshd, home: &TempHome, extra: &[&str], command: &str) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let mut client = sshd.client(home);
    for o in extra {
        client = client.option(*o);
    }
    Some(
        Cmd::new(ssh)
            .args(client.args())
            .arg(command)
            .envs(home.env())
            .run(),
    )
}

/// The "type base64" part of a fixture key's public line, as OpenSSH records keys.
fn key_text(key: Key) -> String {
    let line = key.public();
    let mut w = line.split_whitespace();
    format!("{} {}", w.next().unwrap(), w.next().unwrap())
}

fn is_root() -> bool {
    if oxssh_sys::geteuid() == 0 {
        return true;
    }
    eprintln!("skipping: needs root");
    false
}

#[test]
fn publickey_publickey_needs_two_different_keys() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let user = current_user();
    let sshd = Sshd::ours()
        .config("AuthenticationMethods publickey,publickey")
        .start();
    sshd.authorize(Key::Ed25519);
    // One authorized key: a partial success, then nothing else to offer.
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &[], "true").unwrap();
    out.assert_code(255);
    assert!(out.stderr_str().contains("Permission denied"), "{out}");
    sshd.wait_for_log(&format!(
        "Partial publickey for {user} from 127.0.0.1 port "
    ));
    // Two authorized keys: in, and the second key is the one that completes the list.
    sshd.authorize(Key::Ecdsa256);
    let home = TempHome::new();
    let second = home.install_key(Key::Ecdsa256);
    let out = ssh(
        &sshd,
        &home,
        &[&format!("IdentityFile {}", second.display())],
        "echo in",
    )
    .unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    let log = sshd.wait_for_log(&format!("Accepted publickey for {user} from 127.0.0.1"));
    // The client offers the ECDSA key first (its IdentityFile line comes first): it
    // is the partial success, and the Ed25519 key completes the list.
    let partial = log
        .lines()
        .filter(|l| l.contains("Partial publickey"))
        .nth(1)
        .unwrap();
    assert!(partial.contains(" ssh2: ECDSA SHA256:"), "{partial}");
    let accepted = log
        .lines()
        .find(|l| l.contains("Accepted publickey"))
        .unwrap();
    assert!(accepted.contains(" ssh2: ED25519 SHA256:"), "{accepted}");
}

#[test]
fn expose_auth_info_names_a_file_with_the_key_and_removes_it() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let sshd = Sshd::ours().config("ExposeAuthInfo yes").start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = ssh(
        &sshd,
        &home,
        &[],
        "echo \"$SSH_USER_AUTH\"; cat \"$SSH_USER_AUTH\"; stat -c %a \"$SSH_USER_AUTH\"",
    )
    .unwrap();
    out.assert_success();
    let text = out.stdout_str();
    let mut lines = text.lines();
    let path = PathBuf::from(lines.next().unwrap());
    assert!(path.starts_with("/tmp"), "{out}");
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("sshauth."),
        "{out}"
    );
    assert_eq!(
        lines.next(),
        Some(format!("publickey {}", key_text(Key::Ed25519)).as_str()),
        "{out}"
    );
    assert_eq!(lines.next(), Some("600"), "{out}");
    // Removed when the connection ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while path.exists() {
        assert!(Instant::now() < deadline, "{} left behind", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Without ExposeAuthInfo there is no SSH_USER_AUTH.
    let plain = Sshd::ours().start();
    plain.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = ssh(&plain, &home, &[], "echo \"[$SSH_USER_AUTH]\"").unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str(), "[]\n");
}

#[test]
fn max_auth_tries_counts_offered_keys_and_disconnects() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let user = current_user();
    let sshd = Sshd::ours().config("MaxAuthTries 2").start();
    // Nothing authorized: each key offered is a failed attempt.
    let home = TempHome::new();
    let k2 = home.install_key(Key::Ecdsa256);
    let k3 = home.install_key(Key::Ecdsa384);
    let out = ssh(
        &sshd,
        &home,
        &[
            &format!("IdentityFile {}", k2.display()),
            &format!("IdentityFile {}", k3.display()),
        ],
        "true",
    )
    .unwrap();
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains(": Too many authentication failures"),
        "{out}"
    );
    let log = sshd.wait_for_log(&format!(
        "maximum authentication attempts exceeded for {user} from 127.0.0.1 port "
    ));
    assert!(
        log.contains(&format!(
            "Disconnecting authenticating user {user} 127.0.0.1 port "
        )),
        "{log}"
    );
    // Two tries suffice when the second key is the right one.
    sshd.authorize(Key::Ecdsa256);
    let home = TempHome::new();
    let k2 = home.install_key(Key::Ecdsa256);
    let out = ssh(
        &sshd,
        &home,
        &[&format!("IdentityFile {}", k2.display())],
        "echo ok",
    )
    .unwrap();
    out.assert_success();
}

#[test]
fn root_with_forced_commands_only_needs_a_key_command() {
    if require_openssh("ssh").is_none() || !is_root() {
        return;
    }
    let sshd = Sshd::ours()
        .config("PermitRootLogin forced-commands-only")
        .start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &["User root"], "echo asked").unwrap();
    out.assert_code(255);
    sshd.wait_for_log("ROOT LOGIN REFUSED FROM 127.0.0.1 port ");
    sshd.wait_for_log("Failed publickey for root from 127.0.0.1 port ");

    let sshd = Sshd::ours()
        .config("PermitRootLogin forced-commands-only")
        .start();
    sshd.authorize_line(&format!(
        "command=\"echo forced\" {}",
        Key::Ed25519.public().trim()
    ));
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &["User root"], "echo asked").unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str(), "forced\n");
    sshd.wait_for_log("Root login accepted for forced command.");
}

#[test]
fn keyboard_interactive_without_pam_fails_without_a_prompt() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let user = current_user();
    let sshd = Sshd::ours()
        .config("KbdInteractiveAuthentication yes")
        .start();
    let home = TempHome::new();
    let out = ssh(
        &sshd,
        &home,
        &[
            "PreferredAuthentications keyboard-interactive",
            "BatchMode no",
            "LogLevel DEBUG1",
        ],
        "true",
    )
    .unwrap();
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("Permission denied (publickey,password,keyboard-interactive)"),
        "{out}"
    );
    let log = sshd.wait_for_log(&format!(
        "userauth-request for user {user} service ssh-connection method keyboard-interactive"
    ));
    assert!(!log.contains("Postponed keyboard-interactive"), "{log}");
}

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

/// A throwaway account with a known password, removed on drop.
struct TestUser {
    name: String,
}

impl TestUser {
    fn create(password: &str) -> Option<TestUser> {
        if !is_root() {
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("oxam{}x{n}", std::process::id());
        Cmd::new("/usr/sbin/useradd")
            .args(["-m", "-s", "/bin/sh", &name])
            .run()
            .assert_success();
        let user = TestUser { name };
        Cmd::new("/usr/sbin/chpasswd")
            .stdin(format!("{}:{password}\n", user.name))
            .run()
            .assert_success();
        Some(user)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Cmd::new("/usr/sbin/userdel").args(["-r", &self.name]).run();
    }
}

/// `sshpass -p <password> ssh …` as `user` with the given client options.
fn with_password(
    sshd: &Sshd,
    home: &TempHome,
    user: &str,
    password: &str,
    extra: &[&str],
    command: &str,
) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let sshpass = sshpass()?;
    let mut client = sshd
        .client(home)
        .option(format!("User {user}"))
        .option("BatchMode no")
        .option("NumberOfPasswordPrompts 1");
    for o in extra {
        client = client.option(*o);
    }
    let args: Vec<OsString> = client.args();
    Some(
        Cmd::new(sshpass)
            .args(["-p", password])
            .arg(ssh)
            .args(args)
            .arg(command)
            .envs(home.env())
            .run(),
    )
}

#[test]
fn publickey_then_password_with_partial_success_and_auth_info() {
    let Some(user) = TestUser::create("s3cret pass") else {
        return;
    };
    let sshd = Sshd::ours()
        .config("AuthenticationMethods publickey,password publickey,keyboard-interactive")
        .config("ExposeAuthInfo yes")
        .start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let Some(out) = with_password(
        &sshd,
        &home,
        &user.name,
        "s3cret pass",
        &["PreferredAuthentications publickey,password"],
        "id -un; cat \"$SSH_USER_AUTH\"",
    ) else {
        return;
    };
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        format!(
            "{}\npublickey {}\npassword\n",
            user.name,
            key_text(Key::Ed25519)
        )
    );
    let log = sshd.wait_for_log(&format!("Accepted password for {} from", user.name));
    assert!(
        log.contains(&format!(
            "Partial publickey for {} from 127.0.0.1 port ",
            user.name
        )),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "the password was logged:\n{log}");
    // The password alone is not enough: not even offered before a key.
    let home = TempHome::new();
    let Some(out) = with_password(
        &sshd,
        &home,
        &user.name,
        "s3cret pass",
        &[
            "PreferredAuthentications password",
            "PubkeyAuthentication no",
        ],
        "true",
    ) else {
        return;
    };
    out.assert_code(255);
    assert!(
        out.stderr_str().contains("Permission denied (publickey)"),
        "{out}"
    );
}

#[test]
fn keyboard_interactive_with_use_pam_prompts_for_the_password() {
    let Some(user) = TestUser::create("kbd pass") else {
        return;
    };
    let sshd = Sshd::ours()
        .config("UsePAM yes")
        .config("KbdInteractiveAuthentication yes")
        .start();
    let home = TempHome::new();
    let opts = [
        "PreferredAuthentications keyboard-interactive",
        "PubkeyAuthentication no",
    ];
    let Some(out) = with_password(&sshd, &home, &user.name, "kbd pass", &opts, "id -un") else {
        return;
    };
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("{}\n", user.name));
    sshd.wait_for_log(&format!(
        "Accepted keyboard-interactive/pam for {} from 127.0.0.1 port ",
        user.name
    ));
    let home = TempHome::new();
    let Some(out) = with_password(&sshd, &home, &user.name, "wrong", &opts, "true") else {
        return;
    };
    out.assert_code(255);
    sshd.wait_for_log(&format!(
        "Failed keyboard-interactive/pam for {} from 127.0.0.1 port ",
        user.name
    ));
}

/// A root-owned AuthorizedKeysCommand in /run (a directory only root writes, as
/// OpenSSH requires); removed on drop.
struct KeysCommand(PathBuf);

impl KeysCommand {
    fn create(dir: &Path, script: &str) -> KeysCommand {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("oxssh-keycmd-{}-{n}", std::process::id()));
        oxssh_testkit::write_executable(&path, script);
        KeysCommand(path)
    }
}

impl Drop for KeysCommand {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn authorized_keys_command_gets_tokens_and_its_output_authorizes() {
    if require_openssh("ssh").is_none() || !is_root() {
        return;
    }
    let user = current_user();
    let scratch = tempfile::tempdir().unwrap();
    let args_file = scratch.path().join("args");
    let keys = scratch.path().join("keys");
    std::fs::write(&keys, Key::Ed25519.public()).unwrap();
    let cmd = KeysCommand::create(
        Path::new("/run"),
        &format!(
            "#!/bin/sh\necho \"$@\" \"PATH=$PATH\" >> {}\nexec cat {}\n",
            args_file.display(),
            keys.display()
        ),
    );
    let sshd = Sshd::ours()
        .config("AuthorizedKeysFile none")
        .config(format!(
            "AuthorizedKeysCommand {} %u %t %f %k %%",
            cmd.0.display()
        ))
        .config(format!("AuthorizedKeysCommandUser {user}"))
        .start();
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &[], "echo in").unwrap();
    out.assert_success();
    let args = std::fs::read_to_string(&args_file).unwrap();
    let first = args.lines().next().unwrap();
    let fp = Cmd::new(require_openssh("ssh-keygen").unwrap())
        .args(["-lf"])
        .arg(Key::Ed25519.public_path())
        .run();
    let fp = fp.stdout_str();
    let fp = fp.split_whitespace().nth(1).unwrap();
    let kt = key_text(Key::Ed25519);
    let (ktype, kb64) = kt.split_once(' ').unwrap();
    assert_eq!(
        first,
        format!("{user} {ktype} {fp} {kb64} % PATH=/usr/bin:/bin:/usr/sbin:/sbin")
    );

    // A command in a directory others may write to is refused.
    let unsafe_dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(unsafe_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bad = KeysCommand::create(
        unsafe_dir.path(),
        &format!("#!/bin/sh\nexec cat {}\n", keys.display()),
    );
    let sshd = Sshd::ours()
        .config("AuthorizedKeysFile none")
        .config(format!("AuthorizedKeysCommand {}", bad.0.display()))
        .config(format!("AuthorizedKeysCommandUser {user}"))
        .start();
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &[], "true").unwrap();
    out.assert_code(255);
    sshd.wait_for_log(&format!(
        "Unsafe AuthorizedKeysCommand \"{}\": bad ownership or modes for directory",
        bad.0.display()
    ));
}
