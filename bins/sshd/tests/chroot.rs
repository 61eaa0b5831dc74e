//! ChrootDirectory in our sshd, as OpenSSH's: after authentication the session runs
//! inside the directory (with `%u`/`%h` tokens expanded), which must be root-owned and
//! writable by root only down every component — otherwise the login ends with
//! OpenSSH's "bad ownership or modes for chroot directory" line. PermitTTY no refuses
//! ptys. Needs root (chroot, a directory tree under /run).

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oxssh_testkit::{Cmd, Key, Sshd, TempHome, current_user, require_openssh};

/// A chroot under /run with the user's shell and the libraries it needs; removed on
/// drop.
struct Jail(PathBuf);

impl Jail {
    fn new(tag: &str) -> Option<Jail> {
        if oxssh_sys::geteuid() != 0 {
            eprintln!("skipping: chroot needs root");
            return None;
        }
        let root = PathBuf::from(format!("/run/oxssh-chroot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let shell = oxssh_sys::getpwnam(&current_user()).unwrap().shell;
        copy_in(&root, &shell);
        let ldd = Cmd::new("/usr/bin/ldd").arg(&shell).run();
        for lib in ldd
            .stdout_str()
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            copy_in(&root, Path::new(lib));
        }
        std::fs::write(root.join("marker"), "inside\n").unwrap();
        for d in [root.as_path(), &root.join("bin")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Some(Jail(root))
    }
}

fn copy_in(root: &Path, file: &Path) {
    let dest = root.join(file.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    oxssh_testkit::copy_executable(file, &dest);
}

impl Drop for Jail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ssh(sshd: &Sshd, command: &str, tty: bool) -> Option<oxssh_testkit::Output> {
    let ssh = require_openssh("ssh")?;
    let home = TempHome::new();
    let args = sshd.client(&home).args();
    Some(
        Cmd::new(ssh)
            .args(tty.then_some("-tt"))
            .args(args)
            .arg(command)
            .envs(home.env())
            .run(),
    )
}

#[test]
fn the_session_runs_inside_a_safe_chroot() {
    let Some(jail) = Jail::new("safe") else {
        return;
    };
    // %u expands to the user: point it at the jail through a per-user directory name.
    let user = current_user();
    let parent = PathBuf::from(format!("{}-users", jail.0.display()));
    std::fs::create_dir_all(&parent).unwrap();
    let link = parent.join(&user);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&jail.0, &link).unwrap();
    let sshd = Sshd::ours()
        .config(format!("ChrootDirectory {}/%u", parent.display()))
        .start();
    sshd.authorize(Key::Ed25519);
    let Some(out) = ssh(&sshd, "cd /; echo *; read m < /marker; echo $m", false) else {
        return;
    };
    let _ = std::fs::remove_dir_all(&parent);
    out.assert_success();
    let lines: Vec<String> = out.stdout_str().lines().map(str::to_owned).collect();
    assert!(lines[0].split(' ').any(|e| e == "marker"), "{out}");
    assert!(
        !lines[0].split(' ').any(|e| e == "etc" || e == "home"),
        "{out}"
    );
    assert_eq!(lines[1], "inside", "{out}");
    sshd.wait_for_log(&format!("Changed root directory to \"{}\"", link.display()));
}

#[test]
fn an_unsafe_chroot_ends_the_login_and_permit_tty_no_refuses_ptys() {
    let Some(jail) = Jail::new("unsafe") else {
        return;
    };
    std::fs::set_permissions(&jail.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sshd = Sshd::ours()
        .config(format!("ChrootDirectory {}", jail.0.display()))
        .start();
    sshd.authorize(Key::Ed25519);
    let Some(out) = ssh(&sshd, "echo escaped", false) else {
        return;
    };
    assert_ne!(out.code(), Some(0), "{out}");
    assert!(!out.stdout_str().contains("escaped"), "{out}");
    sshd.wait_for_log(&format!(
        "bad ownership or modes for chroot directory \"{}\"",
        jail.0.display()
    ));
    drop(sshd);

    let sshd = Sshd::ours().config("PermitTTY no").start();
    sshd.authorize(Key::Ed25519);
    let Some(out) = ssh(&sshd, "tty", true) else {
        return;
    };
    assert!(
        out.stderr_str()
            .contains("PTY allocation request failed on channel 0"),
        "{out}"
    );
    assert!(!out.stdout_str().contains("/dev/pts"), "{out}");
    sshd.wait_for_log("Allocating a pty not permitted for this connection.");
}
