//! A pty session whose client floods stdin (`ssh -tt host cmd < /dev/zero`, as regress
//! key-options runs it) ends when the command exits. In a test binary of its own: the
//! flood takes both cores while it lasts, which would starve the timed pty tests that
//! cargo runs beside it in one binary.

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, require_openssh, sh_quote};

fn our_sshd() -> Sshd {
    let sshd = Sshd::ours().start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// `ssh -tt host cmd < /dev/zero` (regress key-options): the client floods the pty and
/// the terminal echoes every byte back. Once the command exits the session must end
/// (the server stops feeding the pty, as OpenSSH does), not echo the flood forever.
#[test]
fn session_on_a_pty_ends_when_the_command_exits_while_the_client_floods_stdin() {
    let _ = require_openssh!("ssh-keygen");
    let sshd = our_sshd();
    let home = TempHome::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut clients = vec![("ours", oxssh_testkit::ours("ssh"))];
    if let Some(ssh) = oxssh_testkit::require_openssh("ssh") {
        clients.push(("OpenSSH's", ssh));
    }
    for (who, ssh) in clients {
        let _ = std::fs::remove_file(&data);
        let mut line = vec![sh_quote(&ssh.display().to_string()), "-ttq".to_owned()];
        line.extend(
            sshd.client(&home)
                .args()
                .iter()
                .map(|a| sh_quote(&a.to_string_lossy())),
        );
        line.push(sh_quote(&format!("tty > {}; exit 0", data.display())));
        // Two logins each: the hang depended on timing.
        for round in 0..2 {
            eprintln!("{who} ssh, login {round}");
            let out = Cmd::new("/bin/sh")
                .arg("-c")
                .arg(format!("exec {} < /dev/zero > /dev/null", line.join(" ")))
                .envs(home.env())
                .timeout(std::time::Duration::from_secs(60))
                .run();
            out.assert_success();
            let tty = std::fs::read_to_string(&data).unwrap_or_default();
            assert!(tty.starts_with("/dev/pts/"), "{who} ssh: {tty:?} {out}");
        }
    }
}
