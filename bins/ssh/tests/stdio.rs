//! ssh's standard streams in scripts: bulk data through pipes and through regular files
//! arrives byte for byte, and a pipe that ssh made non-blocking while it ran (as
//! OpenSSH does) is blocking again once ssh exits — the pipe's other users (the shell,
//! the next command of a pipeline) share that flag.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use oxssh_testkit::{Key, KeyType, Sshd, TempHome, ours, require_openssh};

const O_NONBLOCK: u32 = 0o4000;

/// The file status flags of our descriptor `fd`, from /proc/self/fdinfo.
fn flags(fd: &impl AsRawFd) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let line = info.lines().find(|l| l.starts_with("flags:")).unwrap();
    u32::from_str_radix(line.trim_start_matches("flags:").trim(), 8).unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect()
}

fn sshd() -> Option<Sshd> {
    require_openssh("sshd")?;
    let sshd = Sshd::openssh().host_keys(&[KeyType::Ed25519]).start();
    sshd.authorize(Key::Ed25519);
    Some(sshd)
}

fn ssh(sshd: &Sshd, home: &TempHome, command: &str) -> Command {
    let mut c = Command::new(ours("ssh"));
    c.args(sshd.client(home).args()).arg(command);
    for (k, v) in home.env() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[test]
fn piped_stdin_and_stdout_round_trip_and_are_blocking_again_after_exit() {
    let Some(sshd) = sshd() else {
        return;
    };
    let home = TempHome::new();
    let sent = data(8 << 20);
    // Our own descriptions of ssh's stdin (read end) and stdout (write end), kept to
    // look at the flags ssh leaves on them.
    let (in_r, mut in_w) = std::io::pipe().unwrap();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let mut child = ssh(&sshd, &home, "cat")
        .stdin(Stdio::from(in_r.try_clone().unwrap()))
        .stdout(Stdio::from(out_w.try_clone().unwrap()))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let to_send = sent.clone();
    let writer = std::thread::spawn(move || {
        in_w.write_all(&to_send).unwrap();
    });
    let mut got = vec![0u8; sent.len()];
    // Half the data back: ssh is running and has set up its streams.
    out_r.read_exact(&mut got[..sent.len() / 2]).unwrap();
    let running = (flags(&in_r) & O_NONBLOCK, flags(&out_w) & O_NONBLOCK);
    out_r.read_exact(&mut got[sent.len() / 2..]).unwrap();
    writer.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "ssh: {status}");
    assert!(got == sent, "data differs after the round trip");
    // Non-blocking while it ran (the fast path is what is tested), blocking after.
    assert_eq!(running, (O_NONBLOCK, O_NONBLOCK));
    assert_eq!(flags(&in_r) & O_NONBLOCK, 0, "stdin left non-blocking");
    assert_eq!(flags(&out_w) & O_NONBLOCK, 0, "stdout left non-blocking");
}

#[test]
fn files_as_stdin_and_stdout_round_trip() {
    let Some(sshd) = sshd() else {
        return;
    };
    let home = TempHome::new();
    let sent = data(8 << 20);
    let dir = home.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in"), &sent).unwrap();
    let status = ssh(&sshd, &home, "cat")
        .stdin(std::fs::File::open(dir.join("in")).unwrap())
        .stdout(std::fs::File::create(dir.join("out")).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "ssh: {status}");
    assert!(
        std::fs::read(dir.join("out")).unwrap() == sent,
        "file differs"
    );
}
