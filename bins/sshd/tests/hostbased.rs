//! Hostbased authentication in our `sshd`, with OpenSSH's `ssh` and its setuid
//! `ssh-keysign` signing with this machine's real host key, as in production; and in
//! our `ssh`, through that same ssh-keysign, against OpenSSH's sshd and ours. The
//! client side needs `EnableSSHKeysign yes` in /etc/ssh/ssh_config, which ssh-keysign
//! alone reads: the test bind-mounts its own file there inside a private mount
//! namespace (`unshare -m`), so the system's file is never touched. The account is a
//! throwaway user whose `~/.shosts` names the client and whose `~/.ssh/known_hosts`
//! holds the host key. Logins succeed and are logged as OpenSSH logs them (the same
//! line from OpenSSH's sshd in the same set-up); a missing `.shosts` line, a wrong
//! known host key, IgnoreRhosts yes or HostbasedAcceptedAlgorithms without the key's
//! algorithm refuse.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use oxssh_testkit::pam::TestUser;
use oxssh_testkit::{Cmd, Output, Sshd, SshdBuilder, TempHome, require_openssh};

const KEYSIGN: &str = "/usr/lib/openssh/ssh-keysign";
const HOST_PUB: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// Everything the set-up needs, or None after a skip line (a panic under CI=true).
fn prerequisites() -> Option<(PathBuf, TestUser)> {
    let ssh = require_openssh("ssh")?;
    oxssh_testkit::require_files(
        &[KEYSIGN, HOST_PUB, "/usr/bin/unshare"],
        "openssh-client openssh-server util-linux",
    )?;
    let user = TestUser::create("unused-Pw-2")?;
    Some((ssh, user))
}

/// The account's `~/.shosts` and `~/.ssh/known_hosts`.
fn trust(user: &TestUser, shosts: &str, known_key: &str) {
    let home = PathBuf::from(format!("/home/{}", user.name()));
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".shosts"), shosts).unwrap();
    std::fs::write(
        home.join(".ssh/known_hosts"),
        format!("127.0.0.1 {known_key}\n"),
    )
    .unwrap();
}

fn host_key() -> String {
    let text = std::fs::read_to_string(HOST_PUB).unwrap();
    let mut w = text.split_whitespace();
    format!("{} {}", w.next().unwrap(), w.next().unwrap())
}

fn start(b: SshdBuilder, extra: &[&str]) -> Sshd {
    let mut b = b
        .config("HostbasedAuthentication yes")
        .config("PubkeyAuthentication no");
    for l in extra {
        b = b.config(*l);
    }
    b.start()
}

/// `ssh -o HostbasedAuthentication=yes … id -un` as root, for `user`, with ssh-keysign
/// enabled in a private mount namespace.
fn login(ssh: &Path, sshd: &Sshd, user: &TestUser) -> Output {
    login_with(ssh, sshd, user, "EnableSSHKeysign yes\n")
}

/// [`login`] with `system_config` as the /etc/ssh/ssh_config ssh-keysign reads.
fn login_with(ssh: &Path, sshd: &Sshd, user: &TestUser, system_config: &str) -> Output {
    let home = TempHome::new();
    let keysign_conf = home.path().join("system_ssh_config");
    std::fs::write(&keysign_conf, system_config).unwrap();
    let args = sshd
        .client(&home)
        .no_identity()
        .option(format!("User {}", user.name()))
        .option("HostbasedAuthentication yes")
        .option("PreferredAuthentications hostbased")
        .args();
    let mut script = format!(
        "mount --bind {} /etc/ssh/ssh_config && exec {}",
        keysign_conf.display(),
        ssh.display()
    );
    for a in &args {
        script.push(' ');
        script.push_str(&a.to_string_lossy());
    }
    script.push_str(" 'id -un'");
    Cmd::new("/usr/bin/unshare")
        .args(["-m", "sh", "-c", &script])
        .envs(home.env())
        .run()
}

/// "Accepted hostbased for …" with the port (which differs per connection) blanked.
fn accepted_line(log: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.starts_with("Accepted hostbased for "))
        .unwrap_or_else(|| panic!("no Accepted hostbased line:\n{log}"));
    let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
    if let Some(i) = words.iter().position(|w| w == "port") {
        words[i + 1] = "N".into();
    }
    words.join(" ")
}

#[test]
fn hostbased_login_as_openssh_logs_it() {
    let Some((ssh, user)) = prerequisites() else {
        return;
    };
    trust(&user, "127.0.0.1 root\n", &host_key());
    let ours = start(Sshd::ours(), &["IgnoreRhosts no"]);
    let out = login(&ssh, &ours, &user);
    assert_eq!(out.stdout_str(), format!("{}\n", user.name()), "{out}");
    assert_eq!(out.code(), Some(0));
    let log = ours.log();
    let ours_line = accepted_line(&log);
    assert!(log.contains("Accepted ED25519 public key SHA256:"), "{log}");
    if require_openssh("sshd").is_some() {
        let theirs = start(Sshd::openssh(), &["IgnoreRhosts no"]);
        let reference = login(&ssh, &theirs, &user);
        assert_eq!(reference.code(), Some(0), "{reference}");
        assert_eq!(ours_line, accepted_line(&theirs.log()));
    }
}

#[test]
fn hostbased_is_refused_without_trust() {
    let Some((ssh, user)) = prerequisites() else {
        return;
    };
    let denied = |out: &Output| {
        assert_eq!(out.code(), Some(255), "{out}");
        assert!(out.stderr_str().contains("Permission denied"), "{out}");
    };
    // Another client user in .shosts.
    trust(&user, "127.0.0.1 somebody\n", &host_key());
    let sshd = start(Sshd::ours(), &["IgnoreRhosts no"]);
    denied(&login(&ssh, &sshd, &user));
    // A different key listed for the host.
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    trust(&user, "127.0.0.1 root\n", other);
    denied(&login(&ssh, &sshd, &user));
    // IgnoreRhosts yes (the default) ignores ~/.shosts.
    trust(&user, "127.0.0.1 root\n", &host_key());
    let strict = start(Sshd::ours(), &[]);
    denied(&login(&ssh, &strict, &user));
    // The key's algorithm not accepted.
    let algs = start(
        Sshd::ours(),
        &[
            "IgnoreRhosts no",
            "HostbasedAcceptedAlgorithms rsa-sha2-512",
        ],
    );
    denied(&login(&ssh, &algs, &user));
    assert!(!algs.log().contains("Accepted hostbased"), "{}", algs.log());
}

/// Our ssh logs in by hostbased to OpenSSH's sshd and to ours, signing through
/// OpenSSH's ssh-keysign; OpenSSH's sshd logs the login exactly as for its own ssh.
#[test]
fn our_ssh_logs_in_by_hostbased_as_openssh_ssh_does() {
    let Some((theirs_ssh, user)) = prerequisites() else {
        return;
    };
    let ours_ssh = oxssh_testkit::ours("ssh");
    trust(&user, "127.0.0.1 root\n", &host_key());
    let ours = start(Sshd::ours(), &["IgnoreRhosts no"]);
    let out = login(&ours_ssh, &ours, &user);
    assert_eq!(out.stdout_str(), format!("{}\n", user.name()), "{out}");
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        ours.log().contains("Accepted hostbased for "),
        "{}",
        ours.log()
    );
    let Some(_) = require_openssh("sshd") else {
        return;
    };
    let theirs = start(Sshd::openssh(), &["IgnoreRhosts no"]);
    let out = login(&ours_ssh, &theirs, &user);
    assert_eq!(out.stdout_str(), format!("{}\n", user.name()), "{out}");
    assert_eq!(out.code(), Some(0), "{out}");
    assert_eq!(out.stderr_str(), "", "{out}");
    let ours_line = accepted_line(&theirs.log());
    let reference = start(Sshd::openssh(), &["IgnoreRhosts no"]);
    assert_eq!(login(&theirs_ssh, &reference, &user).code(), Some(0));
    assert_eq!(ours_line, accepted_line(&reference.log()));
}

/// When ssh-keysign refuses (not enabled in /etc/ssh/ssh_config) or the server does not
/// trust the host, our ssh fails as OpenSSH's does: the same stderr, byte for byte,
/// and exit status 255.
#[test]
fn our_ssh_fails_hostbased_as_openssh_ssh_does() {
    let Some((theirs_ssh, user)) = prerequisites() else {
        return;
    };
    let ours_ssh = oxssh_testkit::ours("ssh");
    let sshd = start(Sshd::ours(), &["IgnoreRhosts no", "PerSourcePenalties no"]);
    let compare = |what: &str, system_config: &str| {
        let ours = login_with(&ours_ssh, &sshd, &user, system_config);
        let theirs = login_with(&theirs_ssh, &sshd, &user, system_config);
        assert_eq!(theirs.code(), Some(255), "{what}: {theirs}");
        assert_eq!(ours.code(), Some(255), "{what}: {ours}");
        assert_eq!(ours.stderr_str(), theirs.stderr_str(), "{what}");
        assert_eq!(ours.stdout_str(), "", "{what}");
        ours.stderr_str()
    };
    trust(&user, "127.0.0.1 root\n", &host_key());
    let err = compare("keysign disabled", "EnableSSHKeysign no\n");
    assert!(err.contains("ssh-keysign not enabled"), "{err}");
    assert!(err.contains("sign using hostkey "), "{err}");
    trust(&user, "127.0.0.1 somebody\n", &host_key());
    let err = compare("host not trusted", "EnableSSHKeysign yes\n");
    assert!(err.contains("Permission denied ("), "{err}");
}
