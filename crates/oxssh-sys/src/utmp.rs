//! Login records, as sshd(8) writes them for sessions with a pty: a USER_PROCESS entry
//! in utmp (`who`) and wtmp (`last`) and the user's lastlog slot (`lastlog`, the
//! "Last login:" line) at login; a DEAD_PROCESS entry in utmp and wtmp at logout.
//! Missing files are not an error (a container may have no utmp); writing needs root.

use std::ffi::{CString, c_char};
use std::io::{Seek, SeekFrom, Write};

unsafe extern "C" {
    fn updwtmpx(wtmpx_file: *const c_char, utmpx: *const libc::utmpx);
}

const WTMP: &str = "/var/log/wtmp";
const LASTLOG: &str = "/var/log/lastlog";

/// glibc's `struct lastlog` on Linux: 32-bit time, line, host.
#[repr(C)]
struct LastLog {
    ll_time: i32,
    ll_line: [c_char; 32],
    ll_host: [c_char; 256],
}

/// Copy `s` into a fixed C field, truncating, NUL-padded (strncpy).
fn fill(dst: &mut [c_char], s: &str) {
    for (d, b) in dst.iter_mut().zip(s.bytes().chain(std::iter::repeat(0))) {
        *d = b as c_char;
    }
}

/// `/dev/pts/3` → `pts/3` (ut_line) and `ts/3` (ut_id: its last four characters).
fn line_and_id(tty: &str) -> (&str, &str) {
    let line = tty.strip_prefix("/dev/").unwrap_or(tty);
    let id = line.get(line.len().saturating_sub(4)..).unwrap_or(line);
    (line, id)
}

fn now() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, i64::from(d.subsec_micros()))
}

#[cfg(not(any(
    target_arch = "aarch64",
    target_arch = "s390x",
    target_arch = "loongarch64",
    all(target_pointer_width = "32", not(target_arch = "x86_64"))
)))]
fn set_time(ut: &mut libc::utmpx, (sec, usec): (i64, i64)) {
    ut.ut_tv.tv_sec = sec as i32;
    ut.ut_tv.tv_usec = usec as i32;
}

#[cfg(any(
    target_arch = "aarch64",
    target_arch = "s390x",
    target_arch = "loongarch64",
    all(target_pointer_width = "32", not(target_arch = "x86_64"))
))]
fn set_time(ut: &mut libc::utmpx, (sec, usec): (i64, i64)) {
    ut.ut_tv.tv_sec = sec as _;
    ut.ut_tv.tv_usec = usec as _;
}

fn record(
    kind: libc::c_short,
    pid: u32,
    tty: &str,
    user: &str,
    host: &str,
    addr: Option<std::net::IpAddr>,
) {
    // SAFETY: utmpx is plain old data; all-zero is a valid (empty) record.
    let mut ut: libc::utmpx = unsafe { std::mem::zeroed() };
    let (line, id) = line_and_id(tty);
    ut.ut_type = kind;
    ut.ut_pid = pid as libc::pid_t;
    fill(&mut ut.ut_line, line);
    fill(&mut ut.ut_id, id);
    set_time(&mut ut, now());
    if kind == libc::USER_PROCESS {
        fill(&mut ut.ut_user, user);
        fill(&mut ut.ut_host, host);
        match addr {
            Some(std::net::IpAddr::V4(a)) => {
                ut.ut_addr_v6[0] = i32::from_ne_bytes(a.octets());
            }
            Some(std::net::IpAddr::V6(a)) => {
                for (d, c) in ut.ut_addr_v6.iter_mut().zip(a.octets().chunks_exact(4)) {
                    *d = <[u8; 4]>::try_from(c).map_or(0, i32::from_ne_bytes);
                }
            }
            None => {}
        }
    }
    let Ok(wtmp) = CString::new(WTMP) else { return };
    // SAFETY: glibc's utmp API with a fully initialised record; it copies what it needs.
    unsafe {
        libc::setutxent();
        libc::pututxline(&ut);
        libc::endutxent();
        updwtmpx(wtmp.as_ptr(), &ut);
    }
}

/// Record a login on `tty` (e.g. `/dev/pts/3`) by the session process `pid`.
pub fn login(
    pid: u32,
    tty: &str,
    user: &str,
    uid: u32,
    host: &str,
    addr: Option<std::net::IpAddr>,
) {
    record(libc::USER_PROCESS, pid, tty, user, host, addr);
    let mut ll = LastLog {
        ll_time: now().0 as i32,
        ll_line: [0; 32],
        ll_host: [0; 256],
    };
    fill(&mut ll.ll_line, line_and_id(tty).0);
    fill(&mut ll.ll_host, host);
    let size = std::mem::size_of::<LastLog>();
    // SAFETY: LastLog is repr(C) plain data; we view its bytes to write them.
    let bytes = unsafe { std::slice::from_raw_parts((&ll as *const LastLog).cast::<u8>(), size) };
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(LASTLOG) {
        let _ = f
            .seek(SeekFrom::Start(u64::from(uid) * size as u64))
            .and_then(|_| f.write_all(bytes));
    }
}

/// The user's previous login from lastlog: (time, line, host); None if never.
pub fn last_login(uid: u32) -> Option<(i64, String, String)> {
    use std::io::Read;
    let size = std::mem::size_of::<LastLog>();
    let mut f = std::fs::File::open(LASTLOG).ok()?;
    f.seek(SeekFrom::Start(u64::from(uid) * size as u64)).ok()?;
    let mut b = vec![0u8; size];
    f.read_exact(&mut b).ok()?;
    let time = i32::from_ne_bytes(b.get(..4)?.try_into().ok()?);
    let text = |r: std::ops::Range<usize>| {
        let f = b.get(r).unwrap_or_default();
        let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
        String::from_utf8_lossy(f.get(..end).unwrap_or_default()).into_owned()
    };
    (time != 0).then(|| (i64::from(time), text(4..36), text(36..292)))
}

/// A time as ctime(3) prints it, in local time, without the newline:
/// "Wed Nov 25 21:28:21 2026".
pub fn ctime(t: i64) -> String {
    // SAFETY: an all-zero tm is valid; localtime_r fills it from a valid time_t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: both pointers are to live locals.
    if unsafe { libc::localtime_r(&tt, &mut tm) }.is_null() {
        return String::new();
    }
    let mut buf = [0u8; 64];
    let Ok(fmt) = CString::new("%a %b %e %H:%M:%S %Y") else {
        return String::new();
    };
    // SAFETY: buf is writable for its length; strftime NUL-terminates within it.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm) };
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}

/// Record the end of the session on `tty`.
pub fn logout(pid: u32, tty: &str) {
    record(libc::DEAD_PROCESS, pid, tty, "", "", None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_id_as_openssh_abbreviates() {
        assert_eq!(line_and_id("/dev/pts/3"), ("pts/3", "ts/3"));
        assert_eq!(line_and_id("/dev/pts/12"), ("pts/12", "s/12"));
        assert_eq!(line_and_id("tty1"), ("tty1", "tty1"));
        let mut f = [1 as c_char; 4];
        fill(&mut f, "ab");
        assert_eq!(f, [b'a' as c_char, b'b' as c_char, 0, 0]);
        fill(&mut f, "abcdef");
        assert_eq!(
            f,
            [
                b'a' as c_char,
                b'b' as c_char,
                b'c' as c_char,
                b'd' as c_char
            ]
        );
    }
}
