//! `eow@openssh.com` (OpenSSH PROTOCOL §2.1): when the remote command closes its
//! stdin, the server says so and the client stops sending it. OpenSSH's `ssh -vv` logs
//! "channel 0: rcvd eow" from our sshd as from its own, and our `ssh -vv` logs it from
//! our sshd; the command's output and status arrive as usual. (OpenSSH's sshd sends
//! the request only to clients whose version string says OpenSSH, so not to ours.)

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use oxssh_testkit::{Cmd, Key, Output, Sshd, SshdBuilder, TempHome, require_openssh};

/// A command that closes its stdin at once, then answers; ssh is given 4 MiB to send
/// it, more than the pipe holds, so the server's write fails.
fn run(ssh: &Path, sshd: &Sshd) -> Output {
    let home = TempHome::new();
    let args = sshd.client(&home).args();
    Cmd::new(ssh)
        .arg("-vv")
        .args(args)
        .arg("exec 0<&-; sleep 1; echo done")
        .stdin(vec![b'x'; 4 << 20])
        .envs(home.env())
        .run()
}

fn start(b: SshdBuilder) -> Sshd {
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

fn check(out: &Output) {
    assert_eq!(out.code(), Some(0), "{out}");
    assert_eq!(out.stdout_str(), "done\n", "{out}");
    assert!(
        out.stderr_str().contains("debug2: channel 0: rcvd eow"),
        "{out}"
    );
}

#[test]
fn a_command_that_closes_its_stdin_gets_eow_sent_both_ways() {
    let Some(theirs_ssh) = require_openssh("ssh") else {
        return;
    };
    let ours = start(Sshd::ours());
    check(&run(&theirs_ssh, &ours));
    check(&run(&oxssh_testkit::ours("ssh"), &ours));
    let Some(_) = require_openssh("sshd") else {
        return;
    };
    // The reference: OpenSSH on both sides.
    let theirs = start(Sshd::openssh());
    check(&run(&theirs_ssh, &theirs));
}
