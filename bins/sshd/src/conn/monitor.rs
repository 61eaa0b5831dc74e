//! What stays root after a user logs in. The connection process drops to the user
//! for good before serving any channel (`oxssh_sys::privsep::become_user`); this forked
//! helper keeps the few powers a session still needs, as OpenSSH's monitor does:
//! allocating ptys that belong to the user (owner, group tty, 0620 — a chown only root
//! may do), and closing the PAM session once the connection process is gone (its end
//! of the link reads EOF). It runs only blocking code: it was forked from an async
//! process and has none of its threads.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

use super::pam;

/// Request: allocate a pty for the user.
const PTY: u8 = b'P';

/// The connection's end of the link to the helper; the helper finishes when every
/// copy of it is closed (the connection process exited).
pub struct Monitor {
    link: UnixStream,
}

/// Serve requests until the connection process is gone.
fn serve(link: &UnixStream, uid: u32, gid: u32) {
    let mut buf = [0u8; 64];
    loop {
        match oxssh_sys::privsep::recv_fds(link, &mut buf) {
            Ok((0, _)) | Err(_) => return,
            Ok((_, _)) if buf.first() == Some(&PTY) => {
                let r = oxssh_sys::pty::open().and_then(|p| {
                    oxssh_sys::pty::set_owner(&p.name, uid, gid)?;
                    Ok(p)
                });
                let sent = match r {
                    // Our copies close when `p` drops after sending, so the master
                    // sees EIO once the user's side is closed.
                    Ok(p) => oxssh_sys::privsep::send_fds(
                        link,
                        p.name.as_os_str().as_encoded_bytes(),
                        &[p.master.as_fd(), p.slave.as_fd()],
                    ),
                    Err(e) => oxssh_sys::privsep::send_fds(link, format!("E{e}").as_bytes(), &[]),
                };
                if sent.is_err() {
                    return;
                }
            }
            Ok(_) => return,
        }
    }
}

/// Fork the helper for a user (`uid`/`gid`), holding the PAM session if there is one.
pub fn start(session: Option<pam::Session>, uid: u32, gid: u32) -> std::io::Result<Monitor> {
    let (ours, theirs) = UnixStream::pair()?;
    let pid = oxssh_sys::privsep::fork_helper(&[ours.as_raw_fd()], move || {
        serve(&theirs, uid, gid);
        drop(session);
        0
    })?;
    tracing::debug!("monitor: helper {pid} serves the session's privileged requests");
    Ok(Monitor { link: ours })
}

impl Monitor {
    /// A pty pair owned by the user (OpenSSH `mm_pty_allocate`).
    pub fn pty(&self) -> std::io::Result<oxssh_sys::pty::Pty> {
        oxssh_sys::privsep::send_fds(&self.link, &[PTY], &[])?;
        let mut buf = [0u8; 256];
        let (n, fds) = oxssh_sys::privsep::recv_fds(&self.link, &mut buf)?;
        let reply = buf.get(..n).unwrap_or_default();
        let mut fds = fds.into_iter();
        match (fds.next(), fds.next()) {
            (Some(master), Some(slave)) if n > 0 => Ok(oxssh_sys::pty::Pty {
                master: std::fs::File::from(master),
                slave,
                name: std::path::PathBuf::from(String::from_utf8_lossy(reply).into_owned()),
            }),
            _ => Err(std::io::Error::other(
                String::from_utf8_lossy(reply.get(1..).unwrap_or_default()).into_owned(),
            )),
        }
    }
}
