//! What stays root after a user logs in. The connection process drops to the user
//! for good before serving any channel (`oxssh_sys::privsep::become_user`); this forked
//! helper keeps the few powers a session still needs, as OpenSSH's monitor does:
//! allocating ptys that belong to the user (owner, group tty, 0620 — a chown only root
//! may do), writing the login records of pty sessions (utmp, wtmp, lastlog: `who`,
//! `last`), and, once the connection process is gone (its end of the link reads EOF),
//! the logout records still due and closing the PAM session. It runs only blocking code: it was forked from an async
//! process and has none of its threads.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

use super::pam;

/// Most ptys one connection may have allocated over its life.
const MAX_PTYS: usize = 256;

/// Request: allocate a pty for the user.
const PTY: u8 = b'P';
/// Request: "L<pid> <tty>", a pty session started (no reply).
const LOGIN: u8 = b'L';
/// Request: "O<pid>", a pty session ended (no reply).
const LOGOUT: u8 = b'O';

/// Who the records are for.
pub struct Login {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// The client's address, as ut_host (UseDNS no) and ut_addr_v6.
    pub host: String,
}

/// The connection's end of the link to the helper; the helper finishes when every
/// copy of it is closed (the connection process exited).
pub struct Monitor {
    link: UnixStream,
}

/// Serve requests until the connection process is gone; returns the sessions still
/// logged in.
fn serve(link: &UnixStream, who: &Login) -> Vec<(u32, String)> {
    let mut buf = [0u8; 256];
    let mut logged_in: Vec<(u32, String)> = Vec::new();
    // The connection process runs as the user: it gets login records only for ptys
    // this helper gave it, and a bounded number of ptys.
    let mut allocated: Vec<String> = Vec::new();
    loop {
        let n = match oxssh_sys::privsep::recv_fds(link, &mut buf) {
            Ok((0, _)) | Err(_) => return logged_in,
            Ok((n, _)) => n,
        };
        let msg = buf.get(..n).unwrap_or_default();
        match msg.split_first() {
            Some((&PTY, _)) => {
                let r = if allocated.len() >= MAX_PTYS {
                    Err(std::io::Error::other("too many ptys"))
                } else {
                    oxssh_sys::pty::open()
                };
                let r = r.and_then(|p| {
                    oxssh_sys::pty::set_owner(&p.name, who.uid, who.gid)?;
                    Ok(p)
                });
                let sent = match r {
                    // Our copies close when `p` drops after sending, so the master
                    // sees EIO once the user's side is closed.
                    Ok(p) => {
                        allocated.push(p.name.display().to_string());
                        oxssh_sys::privsep::send_fds(
                            link,
                            p.name.as_os_str().as_encoded_bytes(),
                            &[p.master.as_fd(), p.slave.as_fd()],
                        )
                    }
                    Err(e) => oxssh_sys::privsep::send_fds(link, format!("E{e}").as_bytes(), &[]),
                };
                if sent.is_err() {
                    return logged_in;
                }
            }
            Some((&LOGIN, rest)) => {
                let text = String::from_utf8_lossy(rest);
                let Some((pid, tty)) = text.split_once(' ') else {
                    continue;
                };
                // Only ptys we allocated, and a bounded table.
                if let (Ok(pid), true) = (pid.parse::<u32>(), allocated.iter().any(|a| a == tty)) {
                    if logged_in.len() < 64 {
                        let addr = who.host.parse().ok();
                        oxssh_sys::utmp::login(pid, tty, &who.user, who.uid, &who.host, addr);
                        logged_in.push((pid, tty.to_owned()));
                    }
                }
            }
            Some((&LOGOUT, rest)) => {
                let pid = String::from_utf8_lossy(rest).parse::<u32>().ok();
                if let Some(i) = logged_in.iter().position(|(p, _)| Some(*p) == pid) {
                    let (pid, tty) = logged_in.swap_remove(i);
                    oxssh_sys::utmp::logout(pid, &tty);
                }
            }
            _ => return logged_in,
        }
    }
}

/// A helper forked early, while this process is still small, that waits to learn
/// whom it serves: without a PAM session to hold, the helper need not be a fork of
/// the grown process, whose later writes would leave it private copies of pages.
pub struct Zygote {
    link: UnixStream,
}

/// Fork a [`Zygote`]. Call before any thread exists (before the runtime starts).
pub fn zygote() -> std::io::Result<Zygote> {
    let (ours, theirs) = oxssh_sys::privsep::seqpacket_pair()?;
    oxssh_sys::privsep::fork_helper(&[ours.as_raw_fd(), 0, 1], theirs, move |theirs| {
        let mut buf = [0u8; 512];
        let who = match oxssh_sys::privsep::recv_fds(&theirs, &mut buf) {
            Ok((n, _)) if n > 0 => parse_login(buf.get(..n).unwrap_or_default()),
            // The connection ended before a login (or went on with a PAM session).
            _ => return 0,
        };
        let Some(who) = who else { return 1 };
        for (pid, tty) in serve(&theirs, &who) {
            oxssh_sys::utmp::logout(pid, &tty);
        }
        0
    })?;
    Ok(Zygote { link: ours })
}

/// "user\nuid\ngid\nhost", as [`Zygote::activate`] sends it.
fn parse_login(b: &[u8]) -> Option<Login> {
    let text = std::str::from_utf8(b).ok()?;
    let mut f = text.split('\n');
    Some(Login {
        user: f.next()?.to_owned(),
        uid: f.next()?.parse().ok()?,
        gid: f.next()?.parse().ok()?,
        host: f.next()?.to_owned(),
    })
}

impl Zygote {
    /// Make the waiting helper the monitor for `who`.
    pub fn activate(self, who: &Login) -> std::io::Result<Monitor> {
        let m = format!("{}\n{}\n{}\n{}", who.user, who.uid, who.gid, who.host);
        oxssh_sys::privsep::send_fds(&self.link, m.as_bytes(), &[])?;
        tracing::debug!("monitor: the early helper serves the session's privileged requests");
        Ok(Monitor { link: self.link })
    }
}

/// Fork the helper for a user, holding the PAM session if there is one.
pub fn start(session: Option<pam::Session>, who: Login) -> std::io::Result<Monitor> {
    let (ours, theirs) = oxssh_sys::privsep::seqpacket_pair()?;
    // The helper keeps neither our end of the link nor the connection itself (stdin
    // and stdout: the socket, or inetd's pipes), so the peer sees the connection end
    // when this process does; we do not keep the helper's end, so a helper that dies
    // ends the link instead of leaving requests waiting.
    let pid = oxssh_sys::privsep::fork_helper(&[ours.as_raw_fd(), 0, 1], theirs, move |theirs| {
        for (pid, tty) in serve(&theirs, &who) {
            oxssh_sys::utmp::logout(pid, &tty);
        }
        drop(session);
        0
    })?;
    tracing::debug!("monitor: helper {pid} serves the session's privileged requests");
    Ok(Monitor { link: ours })
}

impl Monitor {
    /// A pty session started: the login records (best effort).
    pub fn login(&self, pid: u32, tty: &std::path::Path) {
        let m = format!("{}{pid} {}", char::from(LOGIN), tty.display());
        let _ = oxssh_sys::privsep::send_fds(&self.link, m.as_bytes(), &[]);
    }

    /// A pty session ended: the logout records.
    pub fn logout(&self, pid: u32) {
        let m = format!("{}{pid}", char::from(LOGOUT));
        let _ = oxssh_sys::privsep::send_fds(&self.link, m.as_bytes(), &[]);
    }

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
