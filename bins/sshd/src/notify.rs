//! Service-manager readiness, as OpenSSH portable's `ssh_systemd_notify`
//! (openbsd-compat/port-linux.c, 9.8+; Debian's 9.2 sends `READY=1` the same way):
//! when `NOTIFY_SOCKET` names an `AF_UNIX` datagram socket — a path, or an abstract
//! name written with a leading `@` — the listener sends `READY=1` once it listens and
//! `RELOADING=1` with `MONOTONIC_USEC=` before re-executing itself on SIGHUP (the new
//! image then sends `READY=1` again), per sd_notify(3).
//!
//! Not here: `WATCHDOG=1`, `STATUS=`, `MAINPID=` (sshd sends none of them), and socket
//! credentials beyond the kernel's own.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;

const ENV: &str = "NOTIFY_SOCKET";

/// `READY=1`: listening (again).
pub fn ready() {
    send("READY=1");
}

/// `RELOADING=1` stamped with CLOCK_MONOTONIC, as systemd's `Type=notify-reload`
/// expects; plain `RELOADING=1` if the clock cannot be read.
pub fn reloading() {
    match monotonic_usec() {
        Some(us) => send(&format!("RELOADING=1\nMONOTONIC_USEC={us}")),
        None => {
            tracing::error!("ssh_systemd_notify_reload: monotime returned negative value");
            send("RELOADING=1");
        }
    }
}

/// CLOCK_MONOTONIC in microseconds. std's `Instant` is CLOCK_MONOTONIC on Linux but
/// opaque; its `Debug` form (`Instant { tv_sec: S, tv_nsec: N }`) carries the value,
/// and reading it needs no `unsafe`. `None` if that form ever changes.
pub fn monotonic_usec() -> Option<u64> {
    let text = format!("{:?}", std::time::Instant::now());
    let field = |name: &str| -> Option<u64> {
        let rest = text.split_once(&format!("{name}: "))?.1;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let (sec, nsec) = (field("tv_sec")?, field("tv_nsec")?);
    sec.checked_mul(1_000_000)?.checked_add(nsec / 1000)
}

/// Send one notification; errors are logged, never fatal.
fn send(state: &str) {
    let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    let shown = path.to_string_lossy().into_owned();
    let bytes = path.as_bytes();
    let sock = match UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("ssh_systemd_notify: socket \"{shown}\": {e}");
            return;
        }
    };
    let sent = match bytes.split_first() {
        Some((b'/', _)) => sock.send_to(state.as_bytes(), std::path::Path::new(&path)),
        Some((b'@', name)) => {
            abstract_addr(name).and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
        }
        _ => {
            tracing::error!(
                "ssh_systemd_notify: socket \"{shown}\" is not compatible with AF_UNIX"
            );
            return;
        }
    };
    match sent {
        Ok(n) if n == state.len() => {
            tracing::debug!("ssh_systemd_notify: socket \"{shown}\" notified {state}");
        }
        Ok(_) => tracing::error!("ssh_systemd_notify: socket \"{shown}\" write: short write"),
        Err(e) => tracing::error!("ssh_systemd_notify: socket \"{shown}\" write: {e}"),
    }
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_: &[u8]) -> std::io::Result<std::os::unix::net::SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract sockets are Linux-only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_is_read_and_advances() {
        let a = monotonic_usec().expect("Instant's Debug form carries tv_sec/tv_nsec");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = monotonic_usec().unwrap();
        assert!(b >= a + 4000, "{a} {b}");
        // CLOCK_MONOTONIC never runs ahead of CLOCK_BOOTTIME (/proc/uptime).
        if let Ok(up) = std::fs::read_to_string("/proc/uptime") {
            let boot: f64 = up.split(' ').next().unwrap().parse().unwrap();
            assert!((b as f64) / 1e6 <= boot + 1.0, "{b} vs uptime {boot}");
        }
    }
}
