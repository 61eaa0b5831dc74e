//! UpdateHostKeys with our ssh: against OpenSSH's sshd and ours, a known_hosts file that
//! holds one of the server's keys gains the others (after the server proved it holds
//! them), keeps `.old` as the previous contents, loses keys the server no longer has,
//! hashes what it adds with HashKnownHosts, and is left alone with UpdateHostKeys no.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use oxssh_testkit::{Cmd, Key, KeyType, Output, Sshd, TempHome, ours, require_openssh};

fn sshd(openssh: bool) -> Option<Sshd> {
    let b = if openssh {
        require_openssh("sshd")?;
        Sshd::openssh()
    } else {
        Sshd::ours()
    };
    let sshd = b
        .host_keys(&[KeyType::Ed25519, KeyType::Ecdsa, KeyType::Rsa])
        .start();
    sshd.authorize(Key::Ed25519);
    Some(sshd)
}

/// Our ssh running `echo ok`, with known_hosts as the test left it (the kit adds no
/// host keys); `extra` are ssh_config lines.
fn connect(sshd: &Sshd, home: &TempHome, extra: &[&str]) -> Output {
    let mut c = sshd.client(home).trust_host_key(false);
    for o in extra {
        c = c.option(*o);
    }
    Cmd::new(ours("ssh"))
        .args(c.args())
        .arg("echo ok")
        .envs(home.env())
        .run()
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_owned).collect()
}

fn learn_all(openssh: bool) {
    let Some(sshd) = sshd(openssh) else { return };
    let home = TempHome::new();
    let kh = home.known_hosts_path();
    let all = sshd.known_hosts_lines();
    let first = format!("{}\n", all[0]);
    std::fs::write(&kh, &first).unwrap();
    let algs = "HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";
    let out = connect(
        &sshd,
        &home,
        &["UpdateHostKeys yes", "LogLevel VERBOSE", algs],
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), "ok\n");
    let got = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(lines(&got), all.iter().cloned().collect(), "{out}");
    assert_eq!(
        std::fs::read_to_string(kh.with_extension("old")).unwrap(),
        first
    );
    for k in &sshd.host_keys()[1..] {
        let err = out.stderr_str();
        assert!(
            err.lines()
                .any(|l| l.starts_with("Learned new hostkey: ") && l.contains(&k.fingerprint)),
            "{out}"
        );
    }

    // A key the server no longer has is dropped; other hosts' lines stay.
    let stale = Key::Ecdsa384.public();
    let stale: Vec<&str> = stale.split_whitespace().take(2).collect();
    let stale_line = format!("{} {}", sshd.known_hosts_name(), stale.join(" "));
    let other = format!("otherhost {}", stale.join(" "));
    std::fs::write(&kh, format!("{}\n{stale_line}\n", all.join("\n"))).unwrap();
    let out = connect(
        &sshd,
        &home,
        &["UpdateHostKeys yes", "LogLevel VERBOSE", algs],
    );
    out.assert_success();
    assert!(
        out.stderr_str()
            .contains("Deprecating obsolete hostkey: ECDSA SHA256:"),
        "{out}"
    );
    assert_eq!(
        lines(&std::fs::read_to_string(&kh).unwrap()),
        all.iter().cloned().collect()
    );

    // The same stale key also recorded for another host: OpenSSH stands aside.
    let text = format!("{}\n{stale_line}\n{other}\n", all.join("\n"));
    std::fs::write(&kh, &text).unwrap();
    connect(&sshd, &home, &["UpdateHostKeys yes", algs]).assert_success();
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), text);
}

#[test]
fn learns_new_host_keys_and_retires_old_ones_from_openssh_sshd() {
    learn_all(true);
}

#[test]
fn learns_new_host_keys_and_retires_old_ones_from_our_sshd() {
    learn_all(false);
}

#[test]
fn hash_known_hosts_hashes_learned_keys_and_no_leaves_the_file_alone() {
    let Some(sshd) = sshd(false) else { return };
    let home = TempHome::new();
    let kh = home.known_hosts_path();
    let all = sshd.known_hosts_lines();
    let first = format!("{}\n", all[0]);

    std::fs::write(&kh, &first).unwrap();
    connect(&sshd, &home, &["UpdateHostKeys no"]).assert_success();
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), first);

    connect(&sshd, &home, &["UpdateHostKeys yes", "HashKnownHosts yes"]).assert_success();
    let got = std::fs::read_to_string(&kh).unwrap();
    let added: Vec<&str> = got.lines().skip(1).collect();
    assert_eq!(got.lines().next(), Some(all[0].as_str()));
    assert_eq!(added.len(), 2, "{got}");
    for l in added {
        assert!(l.starts_with("|1|"), "{got}");
        assert!(!l.contains("127.0.0.1"), "{got}");
    }
    // The hashed lines verify the host: strict checking with each key type succeeds.
    for alg in ["ecdsa-sha2-nistp256", "rsa-sha2-512"] {
        connect(
            &sshd,
            &home,
            &["UpdateHostKeys no", &format!("HostKeyAlgorithms {alg}")],
        )
        .assert_success();
    }
}
