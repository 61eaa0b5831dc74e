//! Pseudo-terminals for sshd sessions: allocating a pty pair, giving the slave to the
//! user (owner, `tty` group, mode 0620, as OpenSSH's `pty_setowner` does), applying the
//! encoded terminal modes of a `pty-req` (RFC 4254 §8, with RFC 8160's IUTF8) and the
//! window size, making the slave the child's controlling terminal (`setsid` +
//! `TIOCSCTTY` between fork and exec), `tcsendbreak`, and signalling a session's
//! process group with the user's credentials.
//!
//! Not here: the session logic that decides when to do these things (bins/sshd), and
//! utmp/wtmp/lastlog records (not implemented yet).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A freshly allocated pseudo-terminal.
#[derive(Debug)]
pub struct Pty {
    /// The master side, close-on-exec and non-blocking: sshd reads the terminal's
    /// output from it and writes the user's keystrokes to it.
    pub master: File,
    /// The slave side, close-on-exec: becomes the child's stdin/stdout/stderr.
    pub slave: OwnedFd,
    /// The slave's path, e.g. `/dev/pts/3` (`SSH_TTY`).
    pub name: PathBuf,
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A pty master registered with the tokio reactor, for the session's reader and
/// writer tasks.
#[derive(Debug)]
pub struct AsyncMaster(tokio::io::unix::AsyncFd<File>);

impl AsyncMaster {
    /// Register `master` (from [`open`], already non-blocking). Must be called within
    /// a tokio runtime.
    pub fn new(master: File) -> io::Result<Self> {
        // SAFETY: the `File` owns its descriptor, which stays open and the same for as
        // long as the AsyncFd (which owns the File) exists.
        let fd =
            unsafe { tokio::io::unix::AsyncFd::register(master) }.map_err(|e| e.into_parts().1)?;
        Ok(AsyncMaster(fd))
    }

    /// The master descriptor, for ioctls (window size, break).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.get_ref().as_fd()
    }

    /// Read what the terminal wrote. `Ok(0)` or an error (EIO: every slave descriptor
    /// is closed) means the end.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.0.readable().await?;
            match guard.try_io(|f| {
                let mut r: &File = f.get_ref();
                io::Read::read(&mut r, buf)
            }) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Write all of `data` to the terminal (its input).
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.0.writable().await?;
            match guard.try_io(|f| {
                let mut w: &File = f.get_ref();
                io::Write::write(&mut w, data)
            }) {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => data = data.get(n..).unwrap_or_default(),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

/// Allocate a pty pair (posix_openpt, grantpt, unlockpt, ptsname_r, open the slave).
pub fn open() -> io::Result<Pty> {
    // SAFETY: posix_openpt takes only flags and returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) })?;
    // SAFETY: `fd` was just returned by posix_openpt and is owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let m = master.as_raw_fd();
    // SAFETY: grantpt and unlockpt take a descriptor we own and have no memory effects.
    cvt(unsafe { libc::grantpt(m) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::unlockpt(m) })?;
    let mut buf = [0u8; 128];
    // SAFETY: `buf` is writable for `buf.len()` bytes; ptsname_r NUL-terminates within
    // that length or fails with ERANGE.
    let rc = unsafe { libc::ptsname_r(m, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let name =
        CStr::from_bytes_until_nul(&buf).map_err(|_| io::Error::from_raw_os_error(libc::ERANGE))?;
    let name = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    // std adds O_CLOEXEC itself.
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)?
        .into();
    set_nonblocking(master.as_fd())?;
    Ok(Pty {
        master: File::from(master),
        slave,
        name,
    })
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor we borrow; no memory is passed.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// The gid of the `tty` group, if the system has one.
pub fn tty_group() -> Option<u32> {
    let name = c"tty";
    let mut size = 1024usize;
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: `group` is plain C data; it is only read after getgrnam_r filled it.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer refers to live storage of the right type and `buf.len()`
        // is the true size of `buf`.
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut gr,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut res,
            )
        };
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() {
            return None;
        }
        return Some(gr.gr_gid);
    }
    None
}

/// Give the tty at `path` to the user as OpenSSH does: owner `uid`, group `tty` (or
/// `user_gid` when there is no such group), mode 0620 (0600 without a tty group).
/// Changes nothing that is already right, so it also works when not running as root.
pub fn set_owner(path: &Path, uid: u32, user_gid: u32) -> io::Result<()> {
    let (gid, mode) = match tty_group() {
        Some(g) => (g, 0o620),
        None => (user_gid, 0o600),
    };
    let st = std::fs::metadata(path)?;
    if st.uid() != uid || st.gid() != gid {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    if st.mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Set the terminal's window size (TIOCSWINSZ); the kernel sends SIGWINCH to the
/// foreground process group. Values beyond 65535 are clamped.
pub fn set_window_size(
    fd: BorrowedFd<'_>,
    cols: u32,
    rows: u32,
    xpixel: u32,
    ypixel: u32,
) -> io::Result<()> {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let ws = libc::winsize {
        ws_row: clamp(rows),
        ws_col: clamp(cols),
        ws_xpixel: clamp(xpixel),
        ws_ypixel: clamp(ypixel),
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid pointer given.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

/// Send a break on the terminal (`tcsendbreak` with the default duration, as OpenSSH
/// does whatever length the client asked for).
pub fn send_break(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: tcsendbreak takes a descriptor and an integer; no memory effects.
    cvt(unsafe { libc::tcsendbreak(fd.as_raw_fd(), 0) })?;
    Ok(())
}

/// Make a child started from `cmd` a session leader whose controlling terminal is its
/// stdin (which the caller sets to the pty slave). Register this before
/// [`crate::run_as_user`], so it runs while the child still has sshd's privileges, as
/// OpenSSH's `pty_make_controlling_tty` does.
pub fn controlling_tty(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // setsid(2) and ioctl(2), which are async-signal-safe, on the child's own fd 0.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Make a child started from `cmd` the leader of a new session (no terminal), as
/// OpenSSH does for sessions without a pty, so signals can reach its process group.
pub fn new_session(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // setsid(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Send `signal` to the process group `pgid` with the real and effective uid of `uid`
/// (OpenSSH uses the user's uid too), so a user cannot signal what they could not
/// signal themselves. The switch happens on a short-lived thread with the raw system
/// call, which changes only that thread's credentials.
pub fn killpg_as(pgid: u32, signal: i32, uid: u32) -> io::Result<()> {
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    if pgid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    let as_root = crate::geteuid() == 0 && uid != 0;
    let t = std::thread::spawn(move || -> io::Result<()> {
        if as_root {
            // SAFETY: the raw setresuid system call changes the credentials of this
            // thread only (glibc's wrapper would change every thread); the thread ends
            // right after the kill, so nothing else ever runs with them. Saved uid
            // stays root, which is irrelevant as the thread exits.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_setresuid,
                    libc::c_long::from(uid),
                    libc::c_long::from(uid),
                    -1 as libc::c_long,
                )
            };
            if rc == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: killpg takes plain integers and has no memory effects.
        cvt(unsafe { libc::killpg(pgid, signal) })?;
        Ok(())
    });
    t.join()
        .map_err(|_| io::Error::other("signal thread failed"))?
}

/// One terminal setting from RFC 4254 §8: where it lives in `termios`.
enum Mode {
    Char(usize),
    Iflag(libc::tcflag_t),
    Lflag(libc::tcflag_t),
    Oflag(libc::tcflag_t),
    Cflag(libc::tcflag_t),
    Ispeed,
    Ospeed,
}

/// The RFC 4254 §8 opcode table (and RFC 8160's IUTF8), restricted to what Linux has.
fn mode(opcode: u8) -> Option<Mode> {
    use Mode::*;
    Some(match opcode {
        1 => Char(libc::VINTR),
        2 => Char(libc::VQUIT),
        3 => Char(libc::VERASE),
        4 => Char(libc::VKILL),
        5 => Char(libc::VEOF),
        6 => Char(libc::VEOL),
        7 => Char(libc::VEOL2),
        8 => Char(libc::VSTART),
        9 => Char(libc::VSTOP),
        10 => Char(libc::VSUSP),
        12 => Char(libc::VREPRINT),
        13 => Char(libc::VWERASE),
        14 => Char(libc::VLNEXT),
        16 => Char(libc::VSWTC),
        18 => Char(libc::VDISCARD),
        30 => Iflag(libc::IGNPAR),
        31 => Iflag(libc::PARMRK),
        32 => Iflag(libc::INPCK),
        33 => Iflag(libc::ISTRIP),
        34 => Iflag(libc::INLCR),
        35 => Iflag(libc::IGNCR),
        36 => Iflag(libc::ICRNL),
        37 => Iflag(libc::IUCLC),
        38 => Iflag(libc::IXON),
        39 => Iflag(libc::IXANY),
        40 => Iflag(libc::IXOFF),
        41 => Iflag(libc::IMAXBEL),
        42 => Iflag(libc::IUTF8),
        50 => Lflag(libc::ISIG),
        51 => Lflag(libc::ICANON),
        52 => Lflag(libc::XCASE),
        53 => Lflag(libc::ECHO),
        54 => Lflag(libc::ECHOE),
        55 => Lflag(libc::ECHOK),
        56 => Lflag(libc::ECHONL),
        57 => Lflag(libc::NOFLSH),
        58 => Lflag(libc::TOSTOP),
        59 => Lflag(libc::IEXTEN),
        60 => Lflag(libc::ECHOCTL),
        61 => Lflag(libc::ECHOKE),
        62 => Lflag(libc::PENDIN),
        70 => Oflag(libc::OPOST),
        71 => Oflag(libc::OLCUC),
        72 => Oflag(libc::ONLCR),
        73 => Oflag(libc::OCRNL),
        74 => Oflag(libc::ONOCR),
        75 => Oflag(libc::ONLRET),
        90 => Cflag(libc::CS7),
        91 => Cflag(libc::CS8),
        92 => Cflag(libc::PARENB),
        93 => Cflag(libc::PARODD),
        128 => Ispeed,
        129 => Ospeed,
        _ => return None,
    })
}

fn baud(b: u32) -> Option<libc::speed_t> {
    Some(match b {
        0 => libc::B0,
        50 => libc::B50,
        75 => libc::B75,
        110 => libc::B110,
        134 => libc::B134,
        150 => libc::B150,
        200 => libc::B200,
        300 => libc::B300,
        600 => libc::B600,
        1200 => libc::B1200,
        1800 => libc::B1800,
        2400 => libc::B2400,
        4800 => libc::B4800,
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115200 => libc::B115200,
        230400 => libc::B230400,
        460800 => libc::B460800,
        _ => return None,
    })
}

/// The terminal modes of `fd` encoded for a `pty-req` (RFC 4254 §8), as OpenSSH's
/// tty_make_modes: the speeds, every control character (255 for a disabled one) and
/// every flag of the opcode table, then TTY_OP_END. Just TTY_OP_END when `fd` is not a
/// terminal.
pub fn encode_modes(fd: BorrowedFd<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    // SAFETY: termios is plain data; tcgetattr fills it in or fails.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, writable termios for the duration of the call.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } == 0 {
        let mut put = |op: u8, v: u32| {
            out.push(op);
            out.extend_from_slice(&v.to_be_bytes());
        };
        // SAFETY: reading the speeds of a valid termios.
        let (ispeed, ospeed) = unsafe { (libc::cfgetispeed(&t), libc::cfgetospeed(&t)) };
        if let Some(b) = baud_rate(ispeed) {
            put(128, b);
        }
        if let Some(b) = baud_rate(ospeed) {
            put(129, b);
        }
        let on = |flags: libc::tcflag_t, f: libc::tcflag_t| u32::from(flags & f != 0);
        for op in 1..160u8 {
            let v = match mode(op) {
                Some(Mode::Char(i)) => match t.c_cc.get(i) {
                    // Linux's _POSIX_VDISABLE is 0; the protocol says 255.
                    Some(0) => 255,
                    Some(&c) => u32::from(c),
                    None => continue,
                },
                Some(Mode::Iflag(f)) => on(t.c_iflag, f),
                Some(Mode::Lflag(f)) => on(t.c_lflag, f),
                Some(Mode::Oflag(f)) => on(t.c_oflag, f),
                Some(Mode::Cflag(f)) => on(t.c_cflag, f),
                Some(Mode::Ispeed | Mode::Ospeed) | None => continue,
            };
            put(op, v);
        }
    }
    out.push(0);
    out
}

/// The bits per second of a termios speed code ([`baud`] the other way).
fn baud_rate(s: libc::speed_t) -> Option<u32> {
    [
        0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
        115200, 230400, 460800,
    ]
    .into_iter()
    .find(|&b| baud(b) == Some(s))
}

/// Parse the encoded terminal modes of a `pty-req` into (opcode, value) pairs.
///
/// RFC 4254 §8: opcodes 1 to 159 take a uint32 argument; 0 (TTY_OP_END) ends the list;
/// 160 to 255 are undefined and stop the parsing. A truncated list stops it too.
/// Unknown opcodes below 160 are skipped. Bounded by the input: at most len/5 pairs.
pub fn parse_modes(mut modes: &[u8]) -> Vec<(u8, u32)> {
    let mut out = Vec::new();
    while let Some((&op, rest)) = modes.split_first() {
        if op == 0 || op >= 160 {
            break;
        }
        let Some((arg, rest)) = rest.split_first_chunk::<4>() else {
            break;
        };
        out.push((op, u32::from_be_bytes(*arg)));
        modes = rest;
    }
    out
}

/// Apply encoded terminal modes (see [`parse_modes`]) to the terminal `fd`, as
/// OpenSSH's `tty_parse_modes`: read the current settings, change what the client
/// sent, write them back. Unknown opcodes and unsupported speeds are ignored.
pub fn apply_modes(fd: BorrowedFd<'_>, modes: &[u8]) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it in or fails.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, writable termios for the duration of the call.
    cvt(unsafe { libc::tcgetattr(raw, &mut t) })?;
    for (op, v) in parse_modes(modes) {
        let on = v != 0;
        let set = |flags: &mut libc::tcflag_t, f: libc::tcflag_t| {
            if on {
                *flags |= f;
            } else {
                *flags &= !f;
            }
        };
        match mode(op) {
            Some(Mode::Char(i)) => {
                // 255 means "disabled"; Linux's _POSIX_VDISABLE is 0.
                let c = if v == 255 {
                    0
                } else {
                    (v & 0xff) as libc::cc_t
                };
                if let Some(slot) = t.c_cc.get_mut(i) {
                    *slot = c;
                }
            }
            Some(Mode::Iflag(f)) => set(&mut t.c_iflag, f),
            Some(Mode::Lflag(f)) => set(&mut t.c_lflag, f),
            Some(Mode::Oflag(f)) => set(&mut t.c_oflag, f),
            Some(Mode::Cflag(f)) => set(&mut t.c_cflag, f),
            Some(Mode::Ispeed) => {
                if let Some(s) = baud(v) {
                    // SAFETY: `t` is a valid termios; failure leaves it unchanged.
                    unsafe { libc::cfsetispeed(&mut t, s) };
                }
            }
            Some(Mode::Ospeed) => {
                if let Some(s) = baud(v) {
                    // SAFETY: as above.
                    unsafe { libc::cfsetospeed(&mut t, s) };
                }
            }
            None => {}
        }
    }
    // SAFETY: `t` points to a valid termios.
    cvt(unsafe { libc::tcsetattr(raw, libc::TCSANOW, &t) })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn encoded_modes_carry_the_terminal_settings_and_apply_back() {
        let a = open().unwrap();
        let b = open().unwrap();
        // ECHO off, VINTR = ^B, VERASE = ^H, ospeed 9600 on the first terminal.
        let mut m = vec![53, 0, 0, 0, 0, 1, 0, 0, 0, 2, 3, 0, 0, 0, 8];
        m.extend([129, 0, 0, 0x25, 0x80, 0]);
        apply_modes(a.slave.as_fd(), &m).unwrap();
        let enc = encode_modes(a.slave.as_fd());
        let pairs = parse_modes(&enc);
        assert!(pairs.contains(&(53, 0)), "{pairs:?}");
        assert!(pairs.contains(&(1, 2)), "{pairs:?}");
        assert!(pairs.contains(&(3, 8)), "{pairs:?}");
        assert!(pairs.contains(&(129, 9600)), "{pairs:?}");
        assert_eq!(enc.last(), Some(&0));
        // What one terminal says, another takes on.
        apply_modes(b.slave.as_fd(), &enc).unwrap();
        assert_eq!(parse_modes(&encode_modes(b.slave.as_fd())), pairs);
        // Not a terminal: only the end of the list.
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(encode_modes(f.as_fd()), [0]);
    }

    #[test]
    fn modes_parse_stop_at_end_undefined_or_truncated() {
        let mut m = vec![53, 0, 0, 0, 1, 128, 0, 0, 0x96, 0];
        m.extend([0, 72, 0, 0, 0, 1]);
        assert_eq!(parse_modes(&m), [(53, 1), (128, 38400)]);
        assert_eq!(parse_modes(&[200, 53, 0, 0, 0, 1]), []);
        assert_eq!(parse_modes(&[53, 0, 0]), []);
        assert_eq!(parse_modes(&[]), []);
    }

    #[test]
    fn a_pty_takes_modes_and_size() {
        let pty = open().unwrap();
        assert!(pty.name.starts_with("/dev/pts/"), "{}", pty.name.display());
        // ECHO off, VINTR = ^B, ospeed 9600.
        let modes = [53, 0, 0, 0, 0, 1, 0, 0, 0, 2, 129, 0, 0, 0x25, 0x80, 0];
        apply_modes(pty.slave.as_fd(), &modes).unwrap();
        // SAFETY: test-only read of a termios from a valid fd.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::tcgetattr(pty.slave.as_raw_fd(), &mut t) }, 0);
        assert_eq!(t.c_lflag & libc::ECHO, 0);
        assert_eq!(t.c_cc[libc::VINTR], 2);
        // SAFETY: `t` is a valid termios.
        assert_eq!(unsafe { libc::cfgetospeed(&t) }, libc::B9600);
        set_window_size(pty.master.as_fd(), 132, 43, 0, 0).unwrap();
        assert_eq!(
            crate::tty::window_size(pty.slave.as_raw_fd()),
            Some((132, 43, 0, 0))
        );
    }

    #[test]
    fn killpg_as_signals_a_new_session_with_the_users_rights_only() {
        use std::os::unix::process::ExitStatusExt;
        let mut cmd = std::process::Command::new("/bin/sleep");
        cmd.arg("30");
        new_session(&mut cmd);
        crate::kill_on_parent_death(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        if crate::geteuid() == 0 {
            // Another user may not signal root's processes.
            let e = killpg_as(child.id(), libc::SIGTERM, 65534).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        }
        killpg_as(child.id(), libc::SIGTERM, crate::geteuid()).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
}
