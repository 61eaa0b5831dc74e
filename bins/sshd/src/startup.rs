//! How a per-connection child tells the listener how far it got — OpenSSH's "startup
//! pipe" (sshd.c) reshaped for our re-exec:
//!
//! - The listener starts each child (`sshd -R`) with the connection socket on stdin
//!   and the write end of a fresh pipe on **stdout** (the child reads and writes the
//!   connection through its stdin descriptor only), and sets [`ENV`] so the child knows
//!   stdout is that pipe. Std cannot hand a child any other descriptor without
//!   `unsafe`, which this crate forbids.
//! - After successful authentication the child writes one byte, [`AUTH_DONE`]
//!   (OpenSSH's `'\001'`), with [`report_authenticated`]: from then on the connection
//!   no longer counts against MaxStartups and its exit earns no penalty.
//! - A child that ends before that says why with its exit status, OpenSSH 9.8's
//!   `EXIT_*` values ([`exit_code`]), which the listener turns into a
//!   PerSourcePenalties penalty ([`penalty_for`]).
//!
//! Not here: the decisions on new connections (`srclimit.rs`), the loop (`main.rs`).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Mutex;

use crate::srclimit::Penalty;

/// Set to `1` by the listener in a child's environment when stdout is the startup pipe.
pub const ENV: &str = "OXSSH_SSHD_STARTUP_PIPE";
/// The byte a child writes once authenticated.
pub const AUTH_DONE: u8 = 1;

/// OpenSSH 9.8's exit statuses of a per-connection process (srclimit.h).
pub const EXIT_LOGIN_GRACE: u8 = 3;
pub const EXIT_CHILD_CRASH: u8 = 4;
pub const EXIT_AUTH_ATTEMPTED: u8 = 5;
pub const EXIT_CONFIG_REFUSED: u8 = 6;
/// A Rust panic's exit status: a crash, as far as penalties go.
const EXIT_PANIC: i32 = 101;

/// The child's end of the pipe, until it has reported.
static PIPE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// In a child started by our listener (`-R`): take stdout as the startup pipe when the
/// listener said so and it is indeed a pipe. Call once, early.
pub fn child_init() {
    if std::env::var_os(ENV).is_none_or(|v| v != "1") {
        return;
    }
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return;
    };
    let file = std::fs::File::from(fd);
    if file.metadata().is_ok_and(|m| m.file_type().is_fifo()) {
        if let Ok(mut p) = PIPE.lock() {
            *p = Some(file);
        }
    }
}

/// Tell the listener this connection has authenticated (OpenSSH writes `'\001'` to its
/// startup pipe at the same point). Does nothing outside a listener's child, and only
/// the first call writes. `conn::serve_stdio` calls it once authentication succeeded
/// within LoginGraceTime, before privileges are dropped.
pub fn report_authenticated() {
    let pipe = PIPE.lock().ok().and_then(|mut p| p.take());
    if let Some(mut f) = pipe {
        if let Err(e) = f.write_all(&[AUTH_DONE]) {
            tracing::debug!("startup pipe: {e}");
        }
    }
}

/// The exit status of a per-connection child (`-R`) that failed with the log line
/// `err`, as OpenSSH 9.8's sshd-session chooses it: LoginGraceTime exceeded, or an
/// authentication attempt was made (the client named a user: OpenSSH's
/// `authenticating user …` / `invalid user …` preamble), else 255.
pub fn exit_code(err: &str) -> u8 {
    if err.starts_with("Timeout before authentication") {
        return EXIT_LOGIN_GRACE;
    }
    let preauth = err.ends_with("[preauth]");
    let named = err.contains("authenticating user ") || err.contains("invalid user ");
    if preauth && (named || err.contains("Too many authentication failures")) {
        return EXIT_AUTH_ATTEMPTED;
    }
    255
}

/// `child_reap`: the penalty a child that exited before authenticating earns its
/// source, with OpenSSH 9.8's log line for it; `id` names the connection.
pub fn penalty_for(status: &ExitStatus, pid: u32, id: &str) -> Option<Penalty> {
    if let Some(sig) = status.signal() {
        // SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS: signal_is_crash().
        let crash = matches!(sig, 4 | 5 | 6 | 7 | 8 | 11 | 31);
        if crash {
            tracing::error!("session process {pid} for {id} killed by signal {sig}");
            return Some(Penalty::Crash);
        }
        tracing::debug!("session process {pid} for {id} killed by signal {sig}");
        return None;
    }
    let Some(code) = status.code() else {
        tracing::error!("session process {pid} for {id} terminated abnormally, status={status}");
        return Some(Penalty::Crash);
    };
    match code {
        0 => {
            tracing::trace!("child_reap: preauth child {pid} for {id} completed normally");
            None
        }
        c if c == i32::from(EXIT_LOGIN_GRACE) => {
            tracing::debug!("Timeout before authentication for {id}, pid = {pid}");
            Some(Penalty::GraceExceeded)
        }
        c if c == i32::from(EXIT_CHILD_CRASH) || c == EXIT_PANIC => {
            tracing::info!("Session process {pid} unpriv child crash for {id}");
            Some(Penalty::Crash)
        }
        c if c == i32::from(EXIT_AUTH_ATTEMPTED) => {
            tracing::debug!(
                "child_reap: preauth child {pid} for {id} exited after unsuccessful auth attempt"
            );
            Some(Penalty::AuthFail)
        }
        c if c == i32::from(EXIT_CONFIG_REFUSED) => {
            tracing::debug!(
                "child_reap: preauth child {pid} for {id} prohibited by RefuseConnection"
            );
            Some(Penalty::RefuseConnection)
        }
        c => {
            tracing::debug!("child_reap: preauth child {pid} for {id} exited with status {c}");
            Some(Penalty::NoAuth)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_the_childs_last_line() {
        assert_eq!(
            exit_code("Timeout before authentication for 192.0.2.1 port 5"),
            EXIT_LOGIN_GRACE
        );
        assert_eq!(
            exit_code("Connection closed by authenticating user bob 192.0.2.1 port 5 [preauth]"),
            EXIT_AUTH_ATTEMPTED
        );
        assert_eq!(
            exit_code(
                "Disconnecting invalid user x 192.0.2.1 port 5: Too many authentication failures [preauth]"
            ),
            EXIT_AUTH_ATTEMPTED
        );
        assert_eq!(
            exit_code("Connection closed by 192.0.2.1 port 5 [preauth]"),
            255
        );
        assert_eq!(exit_code("write: Broken pipe"), 255);
    }

    #[test]
    fn penalties_from_exit_statuses() {
        let st = |raw: i32| ExitStatus::from_raw(raw);
        // Exit statuses are in the second byte of a wait status; signals in the first.
        assert_eq!(penalty_for(&st(0), 1, "c"), None);
        assert_eq!(
            penalty_for(&st(3 << 8), 1, "c"),
            Some(Penalty::GraceExceeded)
        );
        assert_eq!(penalty_for(&st(4 << 8), 1, "c"), Some(Penalty::Crash));
        assert_eq!(penalty_for(&st(5 << 8), 1, "c"), Some(Penalty::AuthFail));
        assert_eq!(
            penalty_for(&st(6 << 8), 1, "c"),
            Some(Penalty::RefuseConnection)
        );
        assert_eq!(penalty_for(&st(255 << 8), 1, "c"), Some(Penalty::NoAuth));
        assert_eq!(penalty_for(&st(101 << 8), 1, "c"), Some(Penalty::Crash));
        assert_eq!(penalty_for(&st(11), 1, "c"), Some(Penalty::Crash));
        assert_eq!(penalty_for(&st(15), 1, "c"), None);
    }

    #[test]
    fn reporting_without_a_pipe_is_a_no_op() {
        report_authenticated();
        report_authenticated();
    }
}
