//! The controlling terminal: prompts that must not echo (passphrases, passwords) and
//! raw mode for interactive sessions, restored on drop.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, RawFd};

/// Saved terminal settings; restores them when dropped.
pub struct TermiosGuard {
    fd: RawFd,
    saved: libc::termios,
}

impl Drop for TermiosGuard {
    fn drop(&mut self) {
        // SAFETY: `saved` is a termios filled in by tcgetattr for this same fd.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSADRAIN, &self.saved);
        }
    }
}

fn get(fd: RawFd) -> io::Result<libc::termios> {
    // SAFETY: termios is plain data; tcgetattr fills it in or fails.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, writable termios for the duration of the call.
    if unsafe { libc::tcgetattr(fd, &mut t) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(t)
}

fn set(fd: RawFd, t: &libc::termios) -> io::Result<()> {
    // SAFETY: `t` points to a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSADRAIN, t) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is a terminal.
pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// Put `fd` into raw mode (as ssh does for an interactive session with a pty).
pub fn raw_mode(fd: RawFd) -> io::Result<TermiosGuard> {
    let saved = get(fd)?;
    let mut t = saved;
    t.c_iflag |= libc::IGNPAR;
    t.c_iflag &= !(libc::ISTRIP
        | libc::INLCR
        | libc::IGNCR
        | libc::ICRNL
        | libc::IXON
        | libc::IXANY
        | libc::IXOFF
        | libc::IUCLC);
    t.c_lflag &= !(libc::ISIG
        | libc::ICANON
        | libc::ECHO
        | libc::ECHOE
        | libc::ECHOK
        | libc::ECHONL
        | libc::IEXTEN);
    t.c_oflag &= !libc::OPOST;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    set(fd, &t)?;
    Ok(TermiosGuard { fd, saved })
}

/// The terminal's size as (columns, rows, x pixels, y pixels).
pub fn window_size(fd: RawFd) -> Option<(u32, u32, u32, u32)> {
    // SAFETY: winsize is plain data, filled in by the ioctl or left zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid pointer given.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == -1 {
        return None;
    }
    Some((
        u32::from(ws.ws_col),
        u32::from(ws.ws_row),
        u32::from(ws.ws_xpixel),
        u32::from(ws.ws_ypixel),
    ))
}

/// Prompt on /dev/tty and read a line with echo off (OpenSSH's readpassphrase).
/// Errors when there is no controlling terminal.
pub fn read_passphrase(prompt: &str) -> io::Result<String> {
    let tty: File = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    let saved = get(fd)?;
    let mut t = saved;
    t.c_lflag &= !(libc::ECHO | libc::ECHONL);
    let guard = TermiosGuard { fd, saved };
    set(fd, &t)?;
    (&tty).write_all(prompt.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&tty).read_line(&mut line)?;
    drop(guard);
    (&tty).write_all(b"\n")?;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// Prompt on /dev/tty and read a line with echo on (yes/no questions).
pub fn read_line_echo(prompt: &str) -> io::Result<String> {
    let tty: File = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    (&tty).write_all(prompt.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
