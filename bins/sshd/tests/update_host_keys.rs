//! Host key rotation served by our sshd to OpenSSH's ssh: after login we announce every
//! host key (hostkeys-00@openssh.com) and prove possession of the ones the client does
//! not know (hostkeys-prove-00@openssh.com, RSA proofs with rsa-sha2-512), so OpenSSH's
//! `UpdateHostKeys yes` adds them to known_hosts.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use oxssh_testkit::{Cmd, Key, KeyType, Sshd, TempHome, require_openssh};

#[test]
fn openssh_ssh_learns_our_host_keys() {
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    let sshd = Sshd::ours()
        .host_keys(&[KeyType::Ed25519, KeyType::Ecdsa, KeyType::Rsa])
        .start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let kh = home.known_hosts_path();
    let all = sshd.known_hosts_lines();
    std::fs::write(&kh, format!("{}\n", all[0])).unwrap();
    let args = sshd
        .client(&home)
        .trust_host_key(false)
        .option("UpdateHostKeys yes")
        .option("LogLevel DEBUG3")
        .option("HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256")
        .args();
    let out = Cmd::new(ssh)
        .args(args)
        .arg("echo ok")
        .envs(home.env())
        .run();
    out.assert_success();
    assert_eq!(out.stdout_str(), "ok\n");
    let got: BTreeSet<String> = std::fs::read_to_string(&kh)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, all.iter().cloned().collect(), "{out}");
    // OpenSSH verified an RSA proof made with rsa-sha2-512 (the exchange used ed25519).
    assert!(
        out.stderr_str()
            .contains("verify RSA key 2 using sigalg rsa-sha2-512"),
        "{out}"
    );
}
