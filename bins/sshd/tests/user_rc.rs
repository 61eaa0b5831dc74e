//! `~/.ssh/rc`: run by the shell as the user before the session's command, with the
//! session's environment and stdout, and its stdin not taken from the client — byte
//! for byte what OpenSSH's sshd does for the same user, which the test runs side by
//! side. Skipped for subsystems, a ForceCommand, PermitUserRC no and the `no-user-rc`
//! key option.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use oxssh_testkit::pam::TestUser;
use oxssh_testkit::{Cmd, Key, Output, Sshd, SshdBuilder, TempHome, require_openssh};

const RC: &str = "echo \"rc as $(id -un) in $(pwd) for ${SSH_CONNECTION%% *}\"\n\
                  if read line; then echo \"rc read: $line\"; fi\n";

/// A user with `~/.ssh/rc`; None without root (skipped).
fn user_with_rc() -> Option<(TestUser, PathBuf)> {
    let user = TestUser::create("unused-Pw-1")?;
    let home = PathBuf::from(format!("/home/{}", user.name()));
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/rc"), RC).unwrap();
    Some((user, home))
}

fn start(b: SshdBuilder, extra: &[&str]) -> Sshd {
    let mut b = b;
    for l in extra {
        b = b.config(*l);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

fn run(sshd: &Sshd, user: &TestUser, command: &str, stdin: &str) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let home = TempHome::new();
    let args = sshd
        .client(&home)
        .option(format!("User {}", user.name()))
        .args();
    Some(
        Cmd::new(ssh)
            .args(args)
            .arg(command)
            .stdin(stdin.as_bytes().to_vec())
            .envs(home.env())
            .run(),
    )
}

#[test]
fn rc_runs_before_the_command_as_openssh_runs_it() {
    let Some((user, home)) = user_with_rc() else {
        return;
    };
    if require_openssh("sshd").is_none() {
        return;
    }
    let ours = start(Sshd::ours(), &[]);
    let Some(out) = run(&ours, &user, "cat; echo done", "client input\n") else {
        return;
    };
    let want = format!(
        "rc as {} in {} for 127.0.0.1\nclient input\ndone\n",
        user.name(),
        home.display()
    );
    assert_eq!(out.stdout_str(), want, "{}", out.stderr_str());
    assert_eq!(out.code(), Some(0));
    let openssh = start(Sshd::openssh(), &[]);
    let reference = run(&openssh, &user, "cat; echo done", "client input\n").unwrap();
    assert_eq!(out.stdout_str(), reference.stdout_str());
}

#[test]
fn rc_is_skipped_where_openssh_skips_it() {
    let Some((user, _home)) = user_with_rc() else {
        return;
    };
    let cases: [(&[&str], &str); 3] = [
        (&["PermitUserRC no"], "echo cmd"),
        (&["ForceCommand echo cmd"], "anything"),
        (&["Subsystem echoer /bin/echo cmd"], "-s echoer"),
    ];
    for (config, command) in cases {
        let sshd = start(Sshd::ours(), config);
        let out = if let Some(sub) = command.strip_prefix("-s ") {
            let Some(ssh) = require_openssh("ssh") else {
                return;
            };
            let home = TempHome::new();
            let args = sshd
                .client(&home)
                .option(format!("User {}", user.name()))
                .args();
            Cmd::new(ssh)
                .arg("-s")
                .args(args)
                .arg(sub)
                .envs(home.env())
                .run()
        } else {
            let Some(o) = run(&sshd, &user, command, "") else {
                return;
            };
            o
        };
        assert_eq!(
            out.stdout_str(),
            "cmd\n",
            "{config:?}: {}",
            out.stderr_str()
        );
    }
    // The no-user-rc key option.
    let sshd = start(Sshd::ours(), &[]);
    let k = std::fs::read_to_string(sshd.authorized_keys_path()).unwrap();
    std::fs::write(
        sshd.authorized_keys_path(),
        format!("no-user-rc {}\n", k.trim()),
    )
    .unwrap();
    let out = run(&sshd, &user, "echo cmd", "").unwrap();
    assert_eq!(out.stdout_str(), "cmd\n", "{}", out.stderr_str());
}
