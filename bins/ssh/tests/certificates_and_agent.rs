//! User certificates and agent keys against OpenSSH's sshd, with certificates made by
//! OpenSSH's ssh-keygen and keys held by OpenSSH's ssh-agent (loaded with ssh-add):
//! `<key>-cert.pub` beside a key, CertificateFile, IdentitiesOnly, signing through the
//! agent (RSA SHA-2 flags included), and what sshd says it accepted.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, current_user, ours, require_openssh};

fn keygen(args: &[&str]) {
    let bin = require_openssh("ssh-keygen").unwrap();
    let st = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen {args:?}");
}

/// A CA key in `dir`; returns (private path, public line).
fn make_ca(dir: &Path, name: &str) -> (PathBuf, String) {
    let ca = dir.join(name);
    keygen(&["-q", "-N", "", "-t", "ed25519", "-f", ca.to_str().unwrap()]);
    let line = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    (ca, line.trim().to_owned())
}

/// Sign `key`'s public half for the current user; ssh-keygen writes `<key>-cert.pub`.
fn certify(ca: &Path, key: &Path) -> PathBuf {
    keygen(&[
        "-q",
        "-s",
        ca.to_str().unwrap(),
        "-I",
        "oxssh test",
        "-n",
        &current_user(),
        key.with_extension("pub").to_str().unwrap(),
    ]);
    PathBuf::from(format!("{}-cert.pub", key.display()))
}

fn sshd(config: &[&str]) -> Option<Sshd> {
    require_openssh("sshd")?;
    require_openssh("ssh-keygen")?;
    let mut b = Sshd::openssh();
    for c in config {
        b = b.config(*c);
    }
    Some(b.start())
}

fn ssh(sshd: &Sshd, home: &TempHome, opts: &[String], agent: Option<&Path>) -> Output {
    let mut client = sshd.client(home).no_identity();
    for o in opts {
        client = client.option(o.clone());
    }
    let mut cmd = Cmd::new(ours("ssh"))
        .args(client.args())
        .arg("echo in")
        .envs(home.env());
    if let Some(sock) = agent {
        cmd = cmd.env("SSH_AUTH_SOCK", sock);
    }
    cmd.run()
}

#[test]
fn certificate_beside_the_key_is_offered_and_accepted() {
    let Some(sshd) = sshd(&[]) else { return };
    let home = TempHome::new();
    let (ca, ca_pub) = make_ca(home.path(), "ca");
    sshd.authorize_line(&format!("cert-authority {ca_pub}"));
    let key = home.install_key(Key::Ed25519);
    certify(&ca, &key);
    // The plain key alone is not authorized: only its certificate gets in.
    let out = ssh(
        &sshd,
        &home,
        &[
            format!("IdentityFile {}", key.display()),
            "IdentitiesOnly yes".into(),
        ],
        None,
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    sshd.wait_for_log("Accepted publickey for");
    assert!(sshd.log().contains("ED25519-CERT"), "{}", sshd.log());
}

#[test]
fn certificate_file_and_untrusted_certificates() {
    let Some(sshd) = sshd(&[]) else { return };
    let home = TempHome::new();
    let (ca, ca_pub) = make_ca(home.path(), "ca");
    let (other_ca, _) = make_ca(home.path(), "other_ca");
    sshd.authorize_line(&format!("cert-authority {ca_pub}"));
    let key = home.install_key(Key::Ed25519);
    let good = home.path().join("good-cert.pub");
    std::fs::rename(certify(&ca, &key), &good).unwrap();
    let bad = home.path().join("bad-cert.pub");
    std::fs::rename(certify(&other_ca, &key), &bad).unwrap();
    let base = [
        format!("IdentityFile {}", key.display()),
        "IdentitiesOnly yes".into(),
    ];

    let with = |certs: &[&Path]| {
        let mut o = base.to_vec();
        o.extend(
            certs
                .iter()
                .map(|c| format!("CertificateFile {}", c.display())),
        );
        ssh(&sshd, &home, &o, None)
    };
    let out = with(&[&bad]);
    out.assert_code(255);
    assert!(
        out.stderr_str().contains("Permission denied (publickey"),
        "{out}"
    );
    with(&[&bad, &good]).assert_success();
    // A certificate whose private key is nowhere to be found is not enough.
    let other = home.path().join("other_key");
    keygen(&[
        "-q",
        "-N",
        "",
        "-t",
        "ed25519",
        "-f",
        other.to_str().unwrap(),
    ]);
    let o = vec![
        format!("IdentityFile {}", other.display()),
        "IdentitiesOnly yes".into(),
        format!("CertificateFile {}", good.display()),
    ];
    ssh(&sshd, &home, &o, None).assert_code(255);
}

/// OpenSSH's ssh-agent in the foreground on its own socket; killed on drop.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path, keys: &[&Path]) -> Option<Agent> {
        let bin = require_openssh("ssh-agent")?;
        let add = require_openssh("ssh-add")?;
        let sock = dir.join("agent.sock");
        let child = Command::new(bin)
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent { child, sock };
        let start = Instant::now();
        while !agent.sock.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "no ssh-agent");
            std::thread::sleep(Duration::from_millis(20));
        }
        for k in keys {
            let st = Command::new(&add)
                .arg(k)
                .env("SSH_AUTH_SOCK", &agent.sock)
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
        }
        Some(agent)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn agent_keys_sign_including_rsa_sha2() {
    let Some(sshd) = sshd(&[]) else { return };
    sshd.authorize(Key::Rsa3072);
    let home = TempHome::new();
    let rsa = home.install_key(Key::Rsa3072);
    let ed = home.install_key(Key::Ed25519);
    let Some(agent) = Agent::start(home.path(), &[&ed, &rsa]) else {
        return;
    };
    // Keep the keys only in the agent.
    std::fs::remove_file(&rsa).unwrap();
    std::fs::remove_file(&ed).unwrap();
    // Only rsa-sha2-256 allowed: the agent must be asked for it by flag, or its
    // (ssh-rsa, SHA-1) signature would not match the algorithm and sshd would refuse.
    let opts = [
        "LogLevel DEBUG".to_owned(),
        "PubkeyAcceptedAlgorithms rsa-sha2-256".to_owned(),
    ];
    let out = ssh(&sshd, &home, &opts, Some(&agent.sock));
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    let err = out.stderr_str();
    assert!(err.contains("Will attempt key: "), "{err}");
    assert!(err.contains(" agent\r\n"), "{err}");
    assert!(
        err.contains("Skipping ED25519 key oxssh-fixture-ed25519"),
        "{err}"
    );
    sshd.wait_for_log("Accepted publickey for");
    assert!(sshd.log().contains(": RSA SHA256:"), "{}", sshd.log());

    // IdentitiesOnly with no IdentityFile leaves the agent's keys out.
    let out = ssh(
        &sshd,
        &home,
        &["IdentitiesOnly yes".into()],
        Some(&agent.sock),
    );
    out.assert_code(255);
}

#[test]
fn agent_key_signs_for_a_certificate_file() {
    let Some(sshd) = sshd(&[]) else { return };
    let home = TempHome::new();
    let (ca, ca_pub) = make_ca(home.path(), "ca");
    sshd.authorize_line(&format!("cert-authority {ca_pub}"));
    let key = home.install_key(Key::Ed25519);
    let cert = home.path().join("cert.pub");
    std::fs::rename(certify(&ca, &key), &cert).unwrap();
    let Some(agent) = Agent::start(home.path(), &[&key]) else {
        return;
    };
    std::fs::remove_file(&key).unwrap();
    let opt = vec![format!("CertificateFile {}", cert.display())];
    let out = ssh(&sshd, &home, &opt, Some(&agent.sock));
    out.assert_success();
    sshd.wait_for_log("Accepted publickey for");
    assert!(sshd.log().contains("ED25519-CERT"), "{}", sshd.log());
    // Without the certificate the agent's plain key is not authorized.
    ssh(&sshd, &home, &[], Some(&agent.sock)).assert_code(255);
}
