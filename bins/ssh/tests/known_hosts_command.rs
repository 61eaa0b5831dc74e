//! KnownHostsCommand against OpenSSH's sshd: the command's output is a known_hosts
//! source, its arguments carry the `%` tokens (`%H %I %t %f %K %u`), and a failing
//! command or an empty answer stops the connection with OpenSSH's messages.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use oxssh_testkit::{Cmd, KeyType, Output, Sshd, TempHome, current_user, ours, require_openssh};

fn sshd() -> Option<Sshd> {
    require_openssh("sshd")?;
    let sshd = Sshd::openssh().host_keys(&[KeyType::Ed25519]).start();
    sshd.authorize(oxssh_testkit::Key::Ed25519);
    Some(sshd)
}

/// Connect with only KnownHostsCommand as a host key source; `body` is the script.
fn connect(sshd: &Sshd, home: &TempHome, body: &str) -> Output {
    let script = home.path().join("khc");
    oxssh_testkit::write_script(&script, body);
    let args = sshd
        .client(home)
        .trust_host_key(false)
        .option("UserKnownHostsFile none")
        .option("GlobalKnownHostsFile none")
        .option(format!(
            "KnownHostsCommand {} %H %I '%t' \"%f\" %K %u",
            script.display()
        ))
        .args();
    Cmd::new(ours("ssh"))
        .args(args)
        .arg("echo connected")
        .envs(home.env())
        .run()
}

#[test]
fn known_hosts_command_supplies_the_host_key_and_gets_its_tokens() {
    let Some(sshd) = sshd() else { return };
    let home = TempHome::new();
    let lines = sshd.known_hosts_lines().join("\n");
    let args_file = home.path().join("args");
    let out = connect(
        &sshd,
        &home,
        &format!(
            "printf '%s\\n' \"$@\" > {}\nprintf '%s\\n' '{lines}'",
            args_file.display()
        ),
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), "connected\n");
    let key = &sshd.host_keys()[0];
    let got = std::fs::read_to_string(&args_file).unwrap();
    let want = [
        sshd.known_hosts_name(),
        "HOSTNAME".into(),
        "ssh-ed25519".into(),
        key.fingerprint.clone(),
        key.public_key.split(' ').nth(1).unwrap().to_owned(),
        current_user(),
    ];
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
}

#[test]
fn known_hosts_command_with_no_keys_fails_verification() {
    let Some(sshd) = sshd() else { return };
    let home = TempHome::new();
    let out = connect(&sshd, &home, "exit 0");
    out.assert_code(255);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr_str()
            .ends_with("Host key verification failed.\r\n"),
        "{out}"
    );
}

#[test]
fn known_hosts_command_failing_ends_the_connection() {
    let Some(sshd) = sshd() else { return };
    let home = TempHome::new();
    let lines = sshd.known_hosts_lines().join("\n");
    let out = connect(&sshd, &home, &format!("printf '%s\\n' '{lines}'\nexit 3"));
    out.assert_code(255);
    assert!(out.stdout.is_empty());
    let err = out.stderr_str();
    assert!(err.contains("KnownHostsCommand-HOSTNAME "), "{err}");
    assert!(err.contains(" failed, status 3\r\n"), "{err}");
    assert!(err.ends_with("KnownHostsCommand failed\r\n"), "{err}");
}
