//! User certificates in our sshd, signed by OpenSSH's `ssh-keygen -s` and offered by
//! OpenSSH's `ssh` (it loads `id_ed25519-cert.pub` beside the identity): a CA in
//! TrustedUserCAKeys, a `cert-authority` line in authorized_keys with `principals=`,
//! refusals for a wrong principal and an expired certificate, and a certificate's
//! `force-command`, a revoked CA (RevokedKeys) — each with the log lines OpenSSH writes.
//!
//! The fixtures are made per test:
//! `ssh-keygen -t ed25519 -N '' -f ca` and
//! `ssh-keygen -s ca -I <id> -n <principals> -z <serial> [-V …] [-O …] id_ed25519.pub`.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, current_user, require_openssh};

/// A fresh CA key pair in `dir`; returns the private key's path.
fn make_ca(dir: &Path) -> Option<PathBuf> {
    let keygen = require_openssh("ssh-keygen")?;
    let ca = dir.join("ca");
    Cmd::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test-ca", "-f"])
        .arg(&ca)
        .run()
        .assert_success();
    Some(ca)
}

fn ca_public(ca: &Path) -> String {
    std::fs::read_to_string(ca.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Install the fixture Ed25519 key in `home` and sign it with `ca`: the client finds
/// `~/.ssh/id_ed25519-cert.pub` by itself.
fn certify(home: &TempHome, ca: &Path, extra: &[&str]) {
    let keygen = require_openssh("ssh-keygen").unwrap();
    let private = home.install_key(Key::Ed25519);
    let public = private.with_extension("pub");
    Cmd::new(keygen)
        .args(["-q", "-s"])
        .arg(ca)
        .args(extra)
        .arg(&public)
        .run()
        .assert_success();
    assert!(home.ssh_dir().join("id_ed25519-cert.pub").exists());
}

fn ssh(sshd: &Sshd, home: &TempHome, command: &str) -> Output {
    let ssh = require_openssh("ssh").unwrap();
    Cmd::new(ssh)
        .args(sshd.client(home).args())
        .arg(command)
        .envs(home.env())
        .run()
}

/// The TrustedUserCAKeys setup: a CA, a server trusting it, a client holding a
/// certificate made with `extra`.
fn trusted_ca(extra: &[&str]) -> Option<(tempfile::TempDir, Sshd, TempHome)> {
    require_openssh("ssh")?;
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path())?;
    let sshd = Sshd::ours()
        .config(format!(
            "TrustedUserCAKeys {}",
            ca.with_extension("pub").display()
        ))
        .start();
    let home = TempHome::new();
    certify(&home, &ca, extra);
    Some((dir, sshd, home))
}

#[test]
fn trusted_ca_certificate_is_accepted_with_openssh_log_lines() {
    let user = current_user();
    let Some((_dir, sshd, home)) = trusted_ca(&["-I", "test-id", "-n", &user, "-z", "7"]) else {
        return;
    };
    let out = ssh(&sshd, &home, "echo in");
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    let log = sshd.wait_for_log(&format!(
        "Accepted publickey for {user} from 127.0.0.1 port "
    ));
    let line = log
        .lines()
        .find(|l| l.contains("Accepted publickey for"))
        .unwrap();
    assert!(
        line.contains(" ssh2: ED25519-CERT SHA256:")
            && line.contains(" ID test-id (serial 7) CA ED25519 SHA256:"),
        "{line}"
    );
    assert!(
        log.contains("Accepted certificate ID \"test-id\" (serial 7) signed by ED25519 CA SHA256:"),
        "{log}"
    );
}

#[test]
fn certificate_for_another_principal_is_refused() {
    let Some((_dir, sshd, home)) = trusted_ca(&["-I", "other", "-n", "someone-else"]) else {
        return;
    };
    let out = ssh(&sshd, &home, "true");
    out.assert_code(255);
    assert!(out.stderr_str().contains("Permission denied"), "{out}");
    sshd.wait_for_log("Certificate invalid: name is not a listed principal");
}

#[test]
fn expired_certificate_is_refused() {
    let user = current_user();
    let Some((_dir, sshd, home)) =
        trusted_ca(&["-I", "old", "-n", &user, "-V", "20200101:20200102"])
    else {
        return;
    };
    let out = ssh(&sshd, &home, "true");
    out.assert_code(255);
    sshd.wait_for_log("Certificate invalid: expired");
}

#[test]
fn cert_authority_line_with_principals_lets_a_listed_principal_in() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(ca) = make_ca(dir.path()) else {
        return;
    };
    let sshd = Sshd::ours().start();
    sshd.authorize_line(&format!(
        "cert-authority,principals=\"ops,admins\" {}",
        ca_public(&ca)
    ));
    // The principal is "ops", not the user name: principals= decides.
    let home = TempHome::new();
    certify(&home, &ca, &["-I", "via-authkeys", "-n", "ops", "-z", "3"]);
    let out = ssh(&sshd, &home, "echo in");
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    sshd.wait_for_log("Accepted certificate ID \"via-authkeys\" (serial 3) signed by ED25519 CA");
    // A certificate for a principal the line does not list is refused.
    let home = TempHome::new();
    certify(&home, &ca, &["-I", "nope", "-n", "dev"]);
    ssh(&sshd, &home, "true").assert_code(255);
    sshd.wait_for_log("Certificate does not contain an authorized principal");
}

#[test]
fn force_command_of_the_certificate_replaces_the_requested_command() {
    let user = current_user();
    let Some((_dir, sshd, home)) = trusted_ca(&[
        "-I",
        "forced",
        "-n",
        &user,
        "-O",
        "force-command=echo forced",
    ]) else {
        return;
    };
    let out = ssh(&sshd, &home, "echo asked");
    out.assert_success();
    assert_eq!(out.stdout_str(), "forced\n");
}

#[test]
fn certificate_of_a_revoked_ca_is_refused() {
    if require_openssh("ssh").is_none() {
        return;
    }
    let user = current_user();
    let dir = tempfile::tempdir().unwrap();
    let Some(ca) = make_ca(dir.path()) else {
        return;
    };
    // RevokedKeys as a plain list of public keys (a KRL works too).
    let revoked = dir.path().join("revoked");
    std::fs::write(&revoked, ca_public(&ca) + "\n").unwrap();
    let sshd = Sshd::ours()
        .config(format!(
            "TrustedUserCAKeys {}",
            ca.with_extension("pub").display()
        ))
        .config(format!("RevokedKeys {}", revoked.display()))
        .start();
    let home = TempHome::new();
    certify(&home, &ca, &["-I", "revoked", "-n", &user]);
    ssh(&sshd, &home, "true").assert_code(255);
    sshd.wait_for_log("Authentication key ED25519-CERT SHA256:");
    sshd.wait_for_log(" revoked by file ");
}
