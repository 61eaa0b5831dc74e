//! Non-blocking access to a process's standard streams when they are pipes or sockets,
//! for bulk data paths (`ssh host 'cat > f' < big`, `ssh host cat f | ...`).
//!
//! tokio's `stdin()`/`stdout()` hand every read and write to a thread of its blocking
//! pool and copy the bytes through a buffer of their own: a thread switch and a copy
//! per chunk. A pipe or socket can instead be made non-blocking and polled on the
//! runtime's reactor, as OpenSSH's ssh does (it sets O_NONBLOCK on stdio that is not a
//! terminal). Like OpenSSH, we restore the descriptor's original flags when done: they
//! belong to an open file description that other processes (the shell that started us)
//! share.
//!
//! Regular files and devices that are not terminals (`< file`, `> /dev/null`) are read
//! and written directly: they never make a process wait for a peer, which is why
//! OpenSSH's event loop treats them as always ready, and neither do we. Terminals are
//! left alone ([`AsyncStdio::new`] returns `None`): they keep tokio's blocking path.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The capacity asked for a pipe on our stdio: the default 64 KiB makes the writer and
/// the reader of a bulk transfer take turns in small steps. 1 MiB is the most an
/// unprivileged process may ask for by default (`/proc/sys/fs/pipe-max-size`).
const PIPE_SIZE: libc::c_int = 1024 * 1024;

/// A standard stream (its duplicate), polled on tokio's reactor or used directly.
pub struct AsyncStdio {
    inner: Inner,
}

enum Inner {
    /// A pipe or socket, made non-blocking; `restore` holds the file status flags from
    /// before, put back on drop.
    Polled {
        io: AsyncFd<File>,
        restore: libc::c_int,
    },
    /// A regular file or a device that is not a terminal.
    Direct(File),
}

impl AsyncStdio {
    /// `fd` as an asynchronous stream, unless it is a terminal (or cannot be set up).
    /// Call it from inside a tokio runtime.
    pub fn new(fd: BorrowedFd<'_>) -> Option<AsyncStdio> {
        // Registering outside a runtime would panic.
        tokio::runtime::Handle::try_current().ok()?;
        let kind = file_type(fd)?;
        let file = File::from(fd.try_clone_to_owned().ok()?);
        let raw = file.as_raw_fd();
        match kind {
            libc::S_IFIFO | libc::S_IFSOCK => {}
            // SAFETY: isatty on a descriptor we own; no pointers.
            libc::S_IFCHR if unsafe { libc::isatty(raw) } == 0 => {
                return Some(AsyncStdio {
                    inner: Inner::Direct(file),
                });
            }
            libc::S_IFREG => {
                return Some(AsyncStdio {
                    inner: Inner::Direct(file),
                });
            }
            _ => return None,
        }
        // SAFETY: fcntl(F_GETFL) on a descriptor we own; no pointers.
        let restore = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        if restore < 0 {
            return None;
        }
        // SAFETY: fcntl(F_SETFL) on a descriptor we own; no pointers.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, restore | libc::O_NONBLOCK) } < 0 {
            return None;
        }
        if kind == libc::S_IFIFO {
            grow_pipe(fd);
        }
        // SAFETY: the `File` owns its descriptor and keeps it open, on the same open
        // file description, until the `AsyncFd` that owns the `File` is dropped.
        match unsafe { AsyncFd::register(file) } {
            Ok(io) => Some(AsyncStdio {
                inner: Inner::Polled { io, restore },
            }),
            Err(_) => {
                // The duplicate is closed; the flags live on in the description that
                // `fd` still refers to.
                // SAFETY: fcntl(F_SETFL) on a descriptor borrowed for the call.
                unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, restore) };
                None
            }
        }
    }
}

impl AsyncStdio {
    /// Wait until a read would not block (at once for a file or device), for
    /// [`ReadReady::append`].
    pub async fn read_ready(&self) -> io::Result<ReadReady<'_>> {
        Ok(ReadReady(match &self.inner {
            Inner::Direct(f) => Ready::Direct(f),
            Inner::Polled { io, .. } => Ready::Polled(io.readable().await?),
        }))
    }
}

/// A stream found readable by [`AsyncStdio::read_ready`].
pub struct ReadReady<'a>(Ready<'a>);

enum Ready<'a> {
    Direct(&'a File),
    Polled(tokio::io::unix::AsyncFdReadyGuard<'a, File>),
}

impl ReadReady<'_> {
    /// Read at most `max` bytes onto the end of `out`, into its spare capacity (no
    /// zero-filling, no copy): one read(2). Ok(0) is end of file; `WouldBlock` means
    /// nothing is there now (and the stream is polled again before the next read).
    pub fn append(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        out.reserve(max);
        let fd = match &self.0 {
            Ready::Direct(f) => f.as_raw_fd(),
            Ready::Polled(g) => g.get_ref().get_ref().as_raw_fd(),
        };
        let spare = out.spare_capacity_mut();
        let want = max.min(spare.len());
        let n = loop {
            // SAFETY: read(2) writes at most `want` bytes into the spare capacity, which
            // has room for them; `fd` stays open while `self` borrows its stream.
            let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), want) };
            if n >= 0 {
                break n.unsigned_abs();
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    if let Ready::Polled(g) = &mut self.0 {
                        g.clear_ready();
                    }
                    return Err(e);
                }
                _ => return Err(e),
            }
        };
        let n = n.min(want);
        // SAFETY: read(2) initialised the first `n` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + n) };
        Ok(n)
    }
}

impl Drop for AsyncStdio {
    fn drop(&mut self) {
        if let Inner::Polled { io, restore } = &self.inner {
            // SAFETY: fcntl(F_SETFL) on the descriptor we still own; no pointers.
            unsafe { libc::fcntl(io.get_ref().as_raw_fd(), libc::F_SETFL, *restore) };
        }
    }
}

/// Ask for 1 MiB of capacity in pipe `fd` (F_SETPIPE_SZ), so that its writer and its
/// reader take turns in large steps. Failure (not a pipe, a lower system limit) leaves
/// the pipe as it was.
pub fn grow_pipe(fd: BorrowedFd<'_>) {
    // SAFETY: fcntl(F_SETPIPE_SZ) on a descriptor borrowed for the call; no pointers.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// The `S_IFMT` bits of `fd`'s mode.
fn file_type(fd: BorrowedFd<'_>) -> Option<libc::mode_t> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `struct stat` into `st`, which has room for one.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Some(st.st_mode & libc::S_IFMT)
}

impl AsyncRead for AsyncStdio {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let n = match &self.inner {
            Inner::Direct(f) => (&*f).read(unfilled),
            Inner::Polled { io, .. } => loop {
                let mut guard = ready!(io.poll_read_ready(cx))?;
                if let Ok(r) = guard.try_io(|f| f.get_ref().read(unfilled)) {
                    break r;
                }
            },
        }?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for AsyncStdio {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Direct(f) => Poll::Ready((&*f).write(data)),
            Inner::Polled { io, .. } => loop {
                let mut guard = ready!(io.poll_write_ready(cx))?;
                if let Ok(r) = guard.try_io(|f| f.get_ref().write(data)) {
                    return Poll::Ready(r);
                }
            },
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::fd::AsFd;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn flags(f: &impl AsFd) -> libc::c_int {
        // SAFETY: fcntl(F_GETFL) on a descriptor borrowed for the call.
        unsafe { libc::fcntl(f.as_fd().as_raw_fd(), libc::F_GETFL) }
    }

    #[tokio::test]
    async fn a_pipe_is_read_and_written_and_its_flags_are_restored() {
        let (r, w) = std::io::pipe().unwrap();
        let (rf, wf) = (flags(&r), flags(&w));
        {
            let mut ar = AsyncStdio::new(r.as_fd()).unwrap();
            let mut aw = AsyncStdio::new(w.as_fd()).unwrap();
            assert_ne!(flags(&r) & libc::O_NONBLOCK, 0);
            let data = vec![7u8; 300_000];
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                aw.write_all(&sent).await.unwrap();
            });
            let mut got = vec![0u8; data.len()];
            ar.read_exact(&mut got).await.unwrap();
            writer.await.unwrap();
            assert_eq!(got, data);
        }
        assert_eq!((flags(&r), flags(&w)), (rf, wf));
    }

    #[tokio::test]
    async fn files_and_devices_are_used_directly_and_keep_their_flags() {
        let dir = std::env::temp_dir().join(format!("oxssh-stdio-{}", std::process::id()));
        std::fs::write(&dir, b"from a file").unwrap();
        let f = File::open(&dir).unwrap();
        let before = flags(&f);
        let mut got = String::new();
        AsyncStdio::new(f.as_fd())
            .unwrap()
            .read_to_string(&mut got)
            .await
            .unwrap();
        assert_eq!(got, "from a file");
        assert_eq!(flags(&f), before);
        std::fs::remove_file(&dir).unwrap();
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let mut w = AsyncStdio::new(null.as_fd()).unwrap();
        w.write_all(&[1; 100_000]).await.unwrap();
    }

    #[tokio::test]
    async fn a_terminal_keeps_the_blocking_path() {
        let pty = crate::pty::open().unwrap();
        assert!(AsyncStdio::new(pty.slave.as_fd()).is_none());
    }
}
