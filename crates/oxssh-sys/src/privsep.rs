//! Privilege separation after authentication, as sshd(8) does it: the connection
//! process becomes the user for good (initgroups, setresgid, setresuid — then a check
//! that root cannot be regained, and no core dumps or ptrace of what it still holds),
//! while a small forked helper keeps root for the few things that need it at the end
//! of the session (closing the PAM session, login records).

use std::ffi::CString;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Become `uid`/`gid` with `user`'s supplementary groups, irrevocably. A no-op when
/// not running as root (then we already are the only user we can be).
pub fn become_user(user: &str, uid: u32, gid: u32) -> io::Result<()> {
    if crate::geteuid() != 0 {
        return Ok(());
    }
    let name = CString::new(user).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain syscalls on valid arguments; glibc applies set*id to every thread.
    unsafe {
        if libc::initgroups(name.as_ptr(), gid) == -1
            || libc::setresgid(gid, gid, gid) == -1
            || libc::setresuid(uid, uid, uid) == -1
        {
            return Err(io::Error::last_os_error());
        }
    }
    if uid != 0 {
        // SAFETY: probing syscalls; success would mean root can be regained.
        let regained = unsafe { libc::setuid(0) != -1 || libc::seteuid(0) != -1 };
        if regained || crate::geteuid() == 0 || crate::getuid() == 0 {
            return Err(io::Error::other("privileges could be regained"));
        }
    }
    // The process still holds secrets (session keys, host keys for rekeying): the user
    // may not attach a debugger or read its memory.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    Ok(())
}

/// chdir(path), chroot(path), chdir("/") — sshd's ChrootDirectory, after the caller
/// checked the path's ownership and modes. Needs root.
pub fn chroot(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    std::env::set_current_dir(path)?;
    // SAFETY: chroot with a valid C string.
    if unsafe { libc::chroot(c.as_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    std::env::set_current_dir("/")
}

/// Fork a helper process that runs `child` and exits with its return value; the
/// parent gets the helper's pid. `close_in_child` are descriptors the helper must not
/// keep (e.g. the parent's end of a socket pair, so the helper sees EOF when the parent
/// exits).
///
/// `child` runs in a copy of this process that has only the calling thread: it must
/// stick to blocking code (no async runtime, no threads of ours). What it captured is
/// leaked, not dropped, in the parent: the values now belong to the helper (a PAM
/// session, say, must not be ended by the parent). `link` is the helper's end of its
/// socket pair with the parent: `child` gets it, and the parent closes its copy, so the
/// parent sees EOF when the helper dies rather than waiting forever on a link whose
/// other end it holds itself.
pub fn fork_helper<F: FnOnce(UnixStream) -> i32>(
    close_in_child: &[RawFd],
    link: UnixStream,
    child: F,
) -> io::Result<u32> {
    let child = ManuallyDrop::new(child);
    // SAFETY: fork(2). In the child we close the listed descriptors, run `child` (which
    // by contract uses only blocking calls on data it owns) and leave with _exit, so no
    // destructor or atexit handler touches state of threads that do not exist there.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            for &fd in close_in_child {
                // SAFETY: closing a descriptor number; the parent keeps its own copy.
                unsafe { libc::close(fd) };
            }
            let f = ManuallyDrop::into_inner(child);
            let code = f(link);
            // SAFETY: leaving the helper without running the parent's cleanup.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid as u32),
    }
}

/// A connected pair of unix sockets that keep message boundaries (SOCK_SEQPACKET), for
/// a request protocol: on a stream pair, two messages sent back to back can arrive in
/// one read, and a request read along with the one before it is never answered.
pub fn seqpacket_pair() -> io::Result<(UnixStream, UnixStream)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair(2) writes two descriptors into `fds`, which has room for them.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let [a, b] = fds;
    // SAFETY: both descriptors were just created by socketpair and are owned by nobody
    // else; a seqpacket socket takes the same calls (sendmsg, recvmsg) as a stream one.
    Ok(unsafe { (UnixStream::from_raw_fd(a), UnixStream::from_raw_fd(b)) })
}

/// Send `data` with the descriptors `fds` attached (SCM_RIGHTS) on a unix socket.
pub fn send_fds(sock: &UnixStream, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if data.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    let mut cbuf = [0u64; CMSG_WORDS];
    // SAFETY: an all-zero msghdr is valid; the fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !raw.is_empty() {
        let bytes = std::mem::size_of_val(raw.as_slice());
        msg.msg_control = cbuf.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(bytes as u32) } as _;
        // SAFETY: msg_control points at cbuf, which is large enough (CMSG_WORDS covers
        // MAX_FDS descriptors), so the first header and its data fit inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            if c.is_null() {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
            std::ptr::copy_nonoverlapping(
                raw.as_ptr(),
                libc::CMSG_DATA(c).cast::<RawFd>(),
                raw.len(),
            );
        }
    }
    // SAFETY: msg points at live buffers for the duration of the call.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != data.len() {
        return Err(io::Error::from(io::ErrorKind::WriteZero));
    }
    Ok(())
}

/// Receive one message into `buf` and the descriptors sent with it (at most
/// [`MAX_FDS`]; they come close-on-exec). Returns the byte count (0 at EOF).
pub fn recv_fds(sock: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; CMSG_WORDS];
    // SAFETY: an all-zero msghdr is valid; the fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: msg points at live buffers for the duration of the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control headers the kernel wrote into cbuf, within
    // msg_controllen; each SCM_RIGHTS payload holds descriptors now owned by us.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("descriptors truncated"));
    }
    Ok((n as usize, fds))
}

/// Most descriptors one message carries.
pub const MAX_FDS: usize = 4;
const CMSG_WORDS: usize = 8;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn helper_runs_apart_and_sees_eof_when_the_parent_end_closes() {
        let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mut done_r, done_w) = std::os::unix::net::UnixStream::pair().unwrap();
        let keep = ours.as_raw_fd();
        let pid = fork_helper(&[keep, done_r.as_raw_fd()], theirs, move |mut theirs| {
            let mut got = Vec::new();
            let _ = theirs.read_to_end(&mut got);
            let mut w = &done_w;
            let _ = w.write_all(&got);
            0
        })
        .unwrap();
        assert_ne!(pid, 0);
        ours.write_all(b"bye").unwrap();
        drop(ours);
        // (The parent leaked its copy of done_w with the closure: read a fixed size.)
        let mut echoed = [0u8; 3];
        done_r.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"bye");
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    }

    #[test]
    fn the_parent_sees_eof_when_the_helper_dies() {
        let (ours, theirs) = seqpacket_pair().unwrap();
        let pid = fork_helper(&[ours.as_raw_fd()], theirs, |_link| 7).unwrap();
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        assert_eq!(libc::WEXITSTATUS(status), 7);
        // Were the helper's end still open here, this would wait for the timeout.
        ours.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(recv_fds(&ours, &mut buf).unwrap().0, 0);
    }

    #[test]
    fn descriptors_travel_with_a_message() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut p, q) = UnixStream::pair().unwrap();
        send_fds(&a, b"pty", &[q.as_fd()]).unwrap();
        let mut buf = [0u8; 16];
        let (n, fds) = recv_fds(&b, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"pty");
        assert_eq!(fds.len(), 1);
        // The received descriptor is the same socket: writing to it reaches `p`.
        let mut got = UnixStream::from(fds.into_iter().next().unwrap());
        got.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        p.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");
        // No descriptors, and EOF.
        send_fds(&a, b"e", &[]).unwrap();
        assert_eq!(recv_fds(&b, &mut buf).unwrap().0, 1);
        drop(a);
        assert_eq!(recv_fds(&b, &mut buf).unwrap().0, 0);
    }

    #[test]
    fn becoming_a_user_cannot_be_undone() {
        if crate::geteuid() != 0 {
            eprintln!("skipping: needs root");
            return;
        }
        let Some(nobody) = crate::getpwnam("nobody") else {
            eprintln!("skipping: no user nobody");
            return;
        };
        let (_ours, theirs) = seqpacket_pair().unwrap();
        let pid = fork_helper(&[], theirs, move |_link| {
            if become_user("nobody", nobody.uid, nobody.gid).is_err() {
                return 2;
            }
            // SAFETY: probing syscalls.
            let back = unsafe { libc::setuid(0) } == 0;
            if back || crate::geteuid() != nobody.uid {
                return 3;
            }
            0
        })
        .unwrap();
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }
}
