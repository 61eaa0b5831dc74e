//! The harness self-test: OpenSSH's `ssh` against OpenSSH's `sshd`, both driven by the
//! kit, proves that the kit's servers, configs, homes and runs work before any binary of
//! ours does. Each test skips outside CI when OpenSSH is missing (the peer rule).

use std::path::{Path, PathBuf};

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, current_user, require_openssh};

/// OpenSSH's ssh, after checking that sshd and ssh-keygen (for host keys) are there too.
macro_rules! openssh_pair {
    () => {{
        let ssh = require_openssh!("ssh");
        require_openssh!("sshd");
        require_openssh!("ssh-keygen");
        ssh
    }};
}

fn ssh(ssh: &Path, sshd: &Sshd, home: &TempHome, remote: &str) -> oxssh_testkit::Output {
    Cmd::new(ssh)
        .args(sshd.client(home).args())
        .arg(remote)
        .envs(home.env())
        .run()
}

#[test]
fn echo_hello_over_tcp() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = ssh(&ssh_bin, &sshd, &home, "echo hello");
    out.assert_success();
    assert_eq!(out.stdout_str(), "hello\n", "{out}");
    // Strict checking passed against the pre-filled known_hosts, without a warning.
    assert_eq!(out.stderr_str(), "", "{out}");
}

#[test]
fn remote_exit_status_comes_back() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    ssh(&ssh_bin, &sshd, &home, "exit 7").assert_code(7);
}

#[test]
fn inetd_mode_through_proxy_command() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().inetd();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = ssh(&ssh_bin, &sshd, &home, "echo hello");
    out.assert_success();
    assert_eq!(out.stdout_str(), "hello\n", "{out}");
    ssh(&ssh_bin, &sshd, &home, "exit 7").assert_code(7);
    sshd.wait_for_log(&format!("Accepted publickey for {} ", current_user()));
}

#[test]
fn a_wrong_key_is_refused_with_255() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = Cmd::new(&ssh_bin)
        .args(sshd.client(&home).identity(Key::Ecdsa256).args())
        .arg("true")
        .envs(home.env())
        .run();
    out.assert_code(255);
    assert!(out.stderr_str().contains("Permission denied"), "{out}");
}

#[test]
fn every_fixture_key_type_logs_in() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    let keys = [
        Key::Ed25519,
        Key::Ecdsa256,
        Key::Ecdsa384,
        Key::Ecdsa521,
        Key::Rsa3072,
    ];
    for key in keys {
        sshd.authorize(key);
    }
    for key in keys {
        let home = TempHome::new();
        let out = Cmd::new(&ssh_bin)
            .args(sshd.client(&home).identity(key).args())
            .arg("echo ok")
            .envs(home.env())
            .run();
        assert_eq!(out.assert_success().stdout_str(), "ok\n", "{key:?}\n{out}");
    }
}

#[test]
fn the_log_records_the_login() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    ssh(&ssh_bin, &sshd, &home, "true").assert_success();
    sshd.wait_for_log(&format!(
        "Accepted publickey for {} from 127.0.0.1 port ",
        current_user()
    ));
}

#[test]
fn an_unknown_host_key_fails_strict_checking() {
    let ssh_bin = openssh_pair!();
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let out = Cmd::new(&ssh_bin)
        .args(sshd.client(&home).trust_host_key(false).args())
        .arg("true")
        .envs(home.env())
        .run();
    out.assert_code(255);
    assert!(
        out.stderr_str().contains("Host key verification failed"),
        "{out}"
    );
}

#[test]
fn the_daemon_is_gone_after_drop() {
    openssh_pair!();
    let sshd = Sshd::openssh().start();
    let (pid, dir) = (sshd.pid(), sshd.dir().to_owned());
    let proc_entry = PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_entry.exists());
    drop(sshd);
    assert!(
        !proc_entry.exists(),
        "sshd pid {pid} still exists after drop"
    );
    assert!(!dir.exists(), "the server's temp dir outlived it");
}

#[test]
fn the_daemon_is_gone_after_a_panicking_test() {
    openssh_pair!();
    let pid = std::thread::spawn(|| {
        let sshd = Sshd::openssh().start();
        let pid = sshd.pid();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _sshd = sshd;
            panic!("a test failing with a server up");
        }))
        .unwrap_err();
        pid
    })
    .join()
    .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "sshd pid {pid} survived a panic"
    );
}

#[test]
fn servers_get_fresh_host_keys_and_distinct_ports() {
    openssh_pair!();
    let a = Sshd::openssh().start();
    let b = Sshd::openssh().start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.host_keys()[0].public_key, b.host_keys()[0].public_key);
    let config = std::fs::read_to_string(a.config_path()).unwrap();
    assert!(config.contains(&format!("HostKey {}", a.host_keys()[0].private.display())));
}
