//! Pseudo-terminals in our sshd's sessions, driven by OpenSSH's `ssh -tt`: a /dev/pts
//! slave owned by the user as the controlling terminal, TERM and SSH_TTY, the client's
//! window size and terminal modes (ssh run under `script` so it has a terminal to
//! copy them from), window-change, keystrokes through the master, and the exit status.

use std::path::PathBuf;

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, current_user, is_ci, require_openssh, sh_quote};

fn our_sshd() -> Sshd {
    let sshd = Sshd::ours().start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// util-linux `script`, which runs a command on a fresh terminal.
fn script() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/script");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !is_ci(),
        "CI needs util-linux `script` (apt-get install -y bsdutils)"
    );
    eprintln!("skipping: util-linux `script` is not installed");
    None
}

#[test]
fn ssh_tt_gets_a_pty_with_term_ssh_tty_and_exit_status() {
    let ssh = require_openssh!("ssh");
    let _ = require_openssh!("ssh-keygen");
    let sshd = our_sshd();
    let home = TempHome::new();
    let out = Cmd::new(ssh)
        .arg("-tt")
        .args(sshd.client(&home).args())
        .arg(
            "tty; echo TERM=$TERM; echo SSH_TTY=$SSH_TTY; \
             stat -c '%U %G %a' $(tty); echo err >&2; exit 3",
        )
        .envs(home.env())
        .env("TERM", "xterm-oxssh")
        .run();
    out.assert_code(3);
    // A terminal: output comes back with CR LF, and stderr is merged into it.
    let text = out.stdout_str().replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let tty = lines.first().copied().unwrap_or_default();
    assert!(tty.starts_with("/dev/pts/"), "{out}");
    assert_eq!(lines.get(1).copied(), Some("TERM=xterm-oxssh"), "{out}");
    assert_eq!(
        lines.get(2).copied(),
        Some(format!("SSH_TTY={tty}").as_str()),
        "{out}"
    );
    assert_eq!(
        lines.get(3).copied(),
        Some(format!("{} tty 620", current_user()).as_str()),
        "{out}"
    );
    assert_eq!(lines.get(4).copied(), Some("err"), "{out}");
    assert!(!out.stderr_str().contains("err\n"), "{out}");
}

#[test]
fn keystrokes_reach_the_program_through_the_pty() {
    let ssh = require_openssh!("ssh");
    let _ = require_openssh!("ssh-keygen");
    let sshd = our_sshd();
    let home = TempHome::new();
    let out = Cmd::new(ssh)
        .arg("-tt")
        .args(sshd.client(&home).args())
        .arg("read line; echo got:$line")
        .stdin("hello\n")
        .envs(home.env())
        .run();
    out.assert_success();
    let text = out.stdout_str();
    // The terminal echoes the line, then the program answers.
    assert!(text.contains("hello\r\n"), "{out}");
    assert!(text.contains("got:hello\r\n"), "{out}");
}

#[test]
fn window_size_modes_and_window_change_follow_the_client_terminal() {
    let ssh = require_openssh!("ssh");
    let _ = require_openssh!("ssh-keygen");
    let Some(script) = script() else { return };
    window_size_modes_and_window_change(&ssh, &script);
}

/// The same with our ssh: it sends its terminal's modes in `pty-req` and its new size
/// on SIGWINCH, as OpenSSH's does.
#[test]
fn our_ssh_sends_the_terminal_modes_and_window_changes() {
    let _ = require_openssh!("ssh-keygen");
    let Some(script) = script() else { return };
    window_size_modes_and_window_change(&oxssh_testkit::ours("ssh"), &script);
}

#[allow(clippy::unwrap_used)]
fn window_size_modes_and_window_change(ssh: &std::path::Path, script: &std::path::Path) {
    let sshd = our_sshd();
    let home = TempHome::new();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut ssh_cmd = vec![ssh.display().to_string(), "-tt".to_owned()];
    ssh_cmd.extend(
        sshd.client(&home)
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    // The remote side reports the size it starts with and its interrupt character,
    // then says it is ready (through a file: it runs on this machine) and waits for
    // the window to change.
    let remote = format!(
        "stty size; stty -a | grep -o 'intr = [^;]*'; touch {ready}; i=0; \
         while [ \"$(stty size)\" = '40 100' ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; \
         stty size; exit 5",
        ready = ready.display()
    );
    ssh_cmd.push(remote);
    let ssh_line: Vec<String> = ssh_cmd.iter().map(|a| sh_quote(a)).collect();
    // Locally, under script's terminal: set the size and ^B as interrupt, then resize
    // once the remote side is ready (ssh gets SIGWINCH and sends window-change).
    let local = format!(
        "stty rows 40 cols 100 intr ^B; \
         (i=0; while [ ! -e {ready} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
          stty rows 50 cols 120 </dev/tty) & {}",
        ssh_line.join(" "),
        ready = sh_quote(&ready.display().to_string())
    );
    let out = Cmd::new(script)
        .args(["-qec", &local, "/dev/null"])
        .envs(home.env())
        .run();
    out.assert_code(5);
    let text = out.stdout_str().replace("\r\n", "\n");
    assert!(text.contains("40 100\n"), "{out}");
    assert!(text.contains("intr = ^B"), "{out}");
    assert!(text.contains("50 120\n"), "{out}");
}

#[test]
fn shell_on_a_pty_is_a_login_shell() {
    let ssh = require_openssh!("ssh");
    let _ = require_openssh!("ssh-keygen");
    let sshd = our_sshd();
    let home = TempHome::new();
    let shell = oxssh_sys::getpwnam(&current_user()).unwrap().shell;
    let base = shell.file_name().unwrap().to_string_lossy().into_owned();
    let out = Cmd::new(ssh)
        .arg("-tt")
        .args(sshd.client(&home).args())
        .stdin("echo zero=$0; exit 4\n")
        .envs(home.env())
        .run();
    out.assert_code(4);
    assert!(
        out.stdout_str().contains(&format!("zero=-{base}\r\n")),
        "{out}"
    );
}
