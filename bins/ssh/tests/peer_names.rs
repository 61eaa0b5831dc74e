//! How ssh names the other end in its messages, as OpenSSH's ssh does: the address it
//! connected to (ssh_remote_ipaddr), not the name the user typed, and `UNKNOWN port
//! 65535` through a ProxyCommand. Checked byte for byte against OpenSSH's ssh, with
//! `localhost` on the command line and a key exchange the server refuses.

use oxssh_testkit::{Cmd, Output, Sshd, require_openssh};

/// `ssh -F none <extra> -o KexAlgorithms=diffie-hellman-group1-sha1 localhost true`.
fn run(ssh: &std::path::Path, extra: &[String]) -> Output {
    Cmd::new(ssh)
        .args(["-F", "none", "-o", "BatchMode=yes"])
        .args(extra)
        .args([
            "-o",
            "KexAlgorithms=diffie-hellman-group1-sha1",
            "localhost",
            "true",
        ])
        .run()
}

#[test]
fn negotiation_failures_name_the_address_or_unknown_as_openssh() {
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    if require_openssh("sshd").is_none() {
        return;
    }
    let ours = oxssh_testkit::ours("ssh");
    let daemon = Sshd::openssh().start();
    let inetd = Sshd::openssh().inetd();
    let cases = [
        (
            vec!["-p".to_owned(), daemon.port().to_string()],
            format!(
                "Unable to negotiate with 127.0.0.1 port {}: ",
                daemon.port()
            ),
        ),
        (
            vec![
                "-o".to_owned(),
                format!("ProxyCommand={}", inetd.inetd_command()),
            ],
            "Unable to negotiate with UNKNOWN port 65535: ".to_owned(),
        ),
    ];
    for (extra, want) in cases {
        let reference = run(&theirs, &extra);
        reference.assert_code(255);
        assert!(reference.stderr_str().starts_with(&want), "{reference}");
        let out = run(&ours, &extra);
        out.assert_code(255);
        assert_eq!(out.stderr_str(), reference.stderr_str(), "{out}");
    }
}
