//! oxssh-sys: the one crate of oxssh that may use `unsafe`.
//!
//! Each function wraps one libc facility behind a safe signature, and each `unsafe`
//! block says in a `// SAFETY:` comment why it is sound. Everything else in the
//! workspace is `#![forbid(unsafe_code)]` and reaches the OS only through here or std.

pub mod alloc_count;
pub mod pam;
pub mod passwd;
pub mod privsep;
pub mod pty;
pub mod stdio;
pub mod tty;
pub mod tun;
pub mod utmp;

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// A user's account entry (the fields of `struct passwd` that oxssh uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub dir: PathBuf,
    pub shell: PathBuf,
}

/// The real uid of this process.
pub fn getuid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The effective uid of this process.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Look up a user by uid in the system's user database (NSS).
pub fn getpwuid(uid: u32) -> Option<Passwd> {
    lookup(|pw, buf, res| {
        // SAFETY: every pointer refers to live storage owned by `lookup` for the call,
        // and `buf.len()` is the true size of `buf`.
        unsafe { libc::getpwuid_r(uid, pw, buf.as_mut_ptr().cast(), buf.len(), res) }
    })
}

/// Look up a user by name in the system's user database (NSS).
pub fn getpwnam(name: &str) -> Option<Passwd> {
    let cname = std::ffi::CString::new(name).ok()?;
    lookup(|pw, buf, res| {
        // SAFETY: `cname` is a NUL-terminated string that outlives the call; the other
        // pointers refer to storage owned by `lookup`, and `buf.len()` is its size.
        unsafe { libc::getpwnam_r(cname.as_ptr(), pw, buf.as_mut_ptr().cast(), buf.len(), res) }
    })
}

type PwFn<'a> = dyn FnMut(*mut libc::passwd, &mut [u8], *mut *mut libc::passwd) -> libc::c_int + 'a;

fn lookup(
    f: impl FnMut(*mut libc::passwd, &mut [u8], *mut *mut libc::passwd) -> libc::c_int,
) -> Option<Passwd> {
    let mut f: Box<PwFn<'_>> = Box::new(f);
    let mut size = 1024usize;
    // NSS answers ERANGE when the buffer is too small; grow it, but never without bound.
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: an all-zero `passwd` is a valid value of a plain C struct of pointers
        // and integers; it is only read after getpw*_r has filled it in.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = f(&mut pw, &mut buf, &mut res);
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() {
            return None;
        }
        // SAFETY: on success the string fields point into `buf`, NUL-terminated, and
        // `buf` is alive until the end of this block.
        let (name, dir, shell) = unsafe {
            (
                CStr::from_ptr(pw.pw_name).to_bytes().to_vec(),
                CStr::from_ptr(pw.pw_dir).to_bytes().to_vec(),
                CStr::from_ptr(pw.pw_shell).to_bytes().to_vec(),
            )
        };
        return Some(Passwd {
            name: String::from_utf8_lossy(&name).into_owned(),
            uid: pw.pw_uid,
            gid: pw.pw_gid,
            dir: PathBuf::from(OsString::from_vec(dir)),
            shell: PathBuf::from(OsString::from_vec(shell)),
        });
    }
    None
}

/// Names of the groups `user` belongs to (primary first, then supplementary), as
/// getgrouplist(3) reports them; None if the user does not exist.
pub fn group_names(user: &str) -> Option<Vec<String>> {
    let pw = getpwnam(user)?;
    let name = std::ffi::CString::new(user).ok()?;
    let mut n: libc::c_int = 64;
    let mut gids: Vec<libc::gid_t> = Vec::new();
    // Grow the list when getgrouplist says it needs more, up to a bound.
    while n <= 65536 {
        gids = vec![0; usize::try_from(n).ok()?];
        let mut count = n;
        // SAFETY: `name` is NUL-terminated; `gids` has room for `count` entries and
        // getgrouplist writes at most that many, updating `count`.
        let r = unsafe { libc::getgrouplist(name.as_ptr(), pw.gid, gids.as_mut_ptr(), &mut count) };
        if r >= 0 {
            gids.truncate(usize::try_from(count).ok()?);
            break;
        }
        n = count.max(n.saturating_mul(2));
    }
    let mut out = Vec::new();
    for gid in gids {
        if let Some(g) = group_name(gid) {
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    Some(out)
}

/// The name of group `gid`.
pub fn group_name(gid: u32) -> Option<String> {
    let mut size = 1024usize;
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: group is plain data; only read after getgrgid_r filled it in.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers refer to live storage for the call; `buf.len()` is its size.
        let rc =
            unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr().cast(), buf.len(), &mut res) };
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() {
            return None;
        }
        // SAFETY: on success gr_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(gr.gr_name) };
        return Some(name.to_string_lossy().into_owned());
    }
    None
}

/// Seconds since the epoch, now.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parse OpenSSH's `YYYYMMDD[HHMM[SS]]` (authorized_keys expiry-time) as local time,
/// to seconds since the epoch; None if malformed.
pub fn parse_local_time(s: &str) -> Option<i64> {
    if !s.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&s.len()) {
        return None;
    }
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i32>().ok());
    // SAFETY: tm is plain data; every field mktime reads is set below.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = num(0, 4)? - 1900;
    tm.tm_mon = num(4, 6)? - 1;
    tm.tm_mday = num(6, 8)?;
    tm.tm_hour = if s.len() >= 12 { num(8, 10)? } else { 0 };
    tm.tm_min = if s.len() >= 12 { num(10, 12)? } else { 0 };
    tm.tm_sec = if s.len() == 14 { num(12, 14)? } else { 0 };
    tm.tm_isdst = -1;
    if !(0..12).contains(&tm.tm_mon) || !(1..=31).contains(&tm.tm_mday) {
        return None;
    }
    // SAFETY: `tm` is a valid, initialised struct tm that mktime may normalise.
    let t = unsafe { libc::mktime(&mut tm) };
    (t != -1).then_some(t)
}

/// Start the child from `cmd` in a new session (setsid), detached from our
/// controlling terminal: how a daemon leaves the shell that started it.
pub fn new_session(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // setsid(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Arrange for a child started from `cmd` to receive SIGKILL when this thread's process
/// dies, however it dies. Test harnesses use it so no daemon outlives its test.
pub fn kill_on_parent_death(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // prctl(2), which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Ask the kernel to acknowledge the next segments on TCP socket `fd` at once
/// (TCP_QUICKACK, which it clears again by itself), instead of delaying the ACK for up
/// to 40 ms. A peer that writes two small packets in a row with Nagle's algorithm on
/// (OpenSSH's ssh does, e.g. NEWKEYS then SERVICE_REQUEST) holds the second until the
/// first is acknowledged: without this, each such pair costs a delayed-ACK timeout.
/// Errors (not a TCP socket) are ignored.
pub fn tcp_quickack(fd: std::os::fd::BorrowedFd<'_>) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&one`, which lives for
    // the call; `fd` is a descriptor borrowed for the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_ref(&one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Give back to the system the main thread's stack pages below the caller's frame
/// (less a margin): after a deep phase (key exchange, signatures) a long-lived process
/// otherwise keeps every page it once touched. Those pages hold only dead frames; the
/// kernel hands out zeroed ones if the stack grows there again. Call it from the main
/// thread; elsewhere it does nothing.
pub fn release_unused_stack() {
    const MARGIN: usize = 16 * 1024;
    const PAGE: usize = 4096;
    let marker = 0u8;
    let sp = std::ptr::from_ref(&marker) as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let Some((start, end)) = maps.lines().find_map(|l| {
        if !l.ends_with("[stack]") {
            return None;
        }
        let (range, _) = l.split_once(' ')?;
        let (a, b) = range.split_once('-')?;
        Some((
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        ))
    }) else {
        return;
    };
    // Not the main thread's stack: leave it.
    if !(start..end).contains(&sp) {
        return;
    }
    let top = sp.saturating_sub(MARGIN) & !(PAGE - 1);
    if top <= start {
        return;
    }
    // SAFETY: [start, top) lies in our own stack mapping, wholly below the current
    // frame less a margin, so it holds no live data (frames the calls below make fit in
    // the margin). MADV_DONTNEED on private anonymous memory only drops its contents;
    // later accesses read zero pages.
    unsafe {
        libc::madvise(start as *mut libc::c_void, top - start, libc::MADV_DONTNEED);
    }
}

/// Read a file a user may control (authorized_keys, principals, ~/.shosts, …) as
/// text, safely for a privileged reader: it must be a regular file (opened without
/// blocking, so a FIFO or device named by a symlink is refused, not waited on or read
/// for ever) of at most `max` bytes; invalid UTF-8 is replaced, not fatal.
pub fn read_regular_file(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other("file too large"));
    }
    let mut buf = Vec::new();
    f.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::other("file too large"));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Give a child started from `cmd` our descriptor `fd` as its descriptor `target`,
/// kept open across exec (how ssh hands its connection socket to ssh-keysign).
pub fn pass_fd(
    cmd: &mut std::process::Command,
    fd: std::os::fd::RawFd,
    target: std::os::fd::RawFd,
) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // dup2(2) and fcntl(2), which are async-signal-safe; it touches no memory of the
    // parent. dup2 onto another number clears close-on-exec on the copy; when the
    // numbers are equal it does nothing, so the flag is cleared by hand.
    unsafe {
        cmd.pre_exec(move || {
            if fd == target {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags == -1 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, target) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The name a reverse lookup gives `ip` (`getnameinfo` with `NI_NAMEREQD`), or None
/// when it has none.
pub fn reverse_name(ip: std::net::IpAddr) -> Option<String> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage (a plain C struct).
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match ip {
        std::net::IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large enough and suitably aligned for any
            // socket address, sockaddr_in included.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut ss).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut ss).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    let mut host = [0u8; 1025];
    // SAFETY: `ss` holds a valid address of `len` bytes; `host` is writable for its
    // full length, which is passed; no service buffer is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            std::ptr::from_ref(&ss).cast(),
            len as libc::socklen_t,
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    let name = CStr::from_bytes_until_nul(&host).ok()?;
    Some(name.to_string_lossy().into_owned())
}

/// Send `signal` to process `pid`.
pub fn kill(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: kill(2) takes plain integers and has no memory effects.
    if unsafe { libc::kill(pid, signal) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `signal` is ignored (SIG_IGN) in this process, as a parent may have left it
/// (`nohup`, a shell's background job): a program that takes over its handler would
/// undo the caller's choice.
pub fn signal_ignored(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`,
    // a zeroed struct we own.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Make a child started from `cmd` run as `uid`/`gid` with the supplementary groups of
/// `user` (initgroups), and fail the spawn if any step fails — so nothing of a user's
/// ever runs with our privileges. A no-op when we already are that uid.
pub fn run_as_user(
    cmd: &mut std::process::Command,
    user: &str,
    uid: u32,
    gid: u32,
) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if geteuid() == uid {
        return Ok(());
    }
    let name = std::ffi::CString::new(user)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the closure runs in the child between fork and exec. It calls only
    // initgroups/setgid/setuid/getuid, and reads `name`, which was allocated before the
    // fork and is moved into the closure, so it stays valid in the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::initgroups(name.as_ptr(), gid) == -1
                || libc::setgid(gid) == -1
                || libc::setuid(uid) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            // Verify root cannot be regained.
            if uid != 0 && (libc::setuid(0) != -1 || libc::geteuid() == 0) {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            Ok(())
        });
    }
    Ok(())
}

/// A NULL-terminated array of pointers into strings owned next to it, for execve.
struct CArray {
    _strings: Vec<std::ffi::CString>,
    ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into `_strings`' heap buffers, which live and stay put as
// long as the array does and are never written; sharing them is sharing `&CStr`s.
unsafe impl Send for CArray {}
// SAFETY: as for Send: the array is only ever read.
unsafe impl Sync for CArray {}

impl CArray {
    fn new<I: IntoIterator<Item = Vec<u8>>>(items: I) -> std::io::Result<CArray> {
        let strings = items
            .into_iter()
            .map(std::ffi::CString::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Ok(CArray {
            _strings: strings,
            ptrs,
        })
    }

    /// The first string (NULL when empty).
    fn first(&self) -> *const libc::c_char {
        self.ptrs.first().copied().unwrap_or(std::ptr::null())
    }

    /// The array, for execve.
    fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }
}

/// In the child started from `cmd`, after the steps registered before this one (the
/// switch to the user) and before its own program starts, run `/bin/sh -c script` to
/// completion with stdin from /dev/null, the child's stdout, stderr and working
/// directory, and exactly the environment `env`: how sshd runs `~/.ssh/rc` or
/// `/etc/ssh/sshrc` ahead of the session's command. Its exit status is ignored.
pub fn run_first(
    cmd: &mut std::process::Command,
    script: &str,
    env: &[(std::ffi::OsString, std::ffi::OsString)],
) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let argv = CArray::new([
        b"/bin/sh".to_vec(),
        b"-c".to_vec(),
        script.as_bytes().to_vec(),
    ])?;
    let envp = CArray::new(env.iter().map(|(k, v)| {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        kv
    }))?;
    let null = std::ffi::CString::new("/dev/null")
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the closure runs in the child between fork and exec. It allocates
    // nothing: every string and pointer array was built before the fork and is moved
    // in. It calls only fork, open, dup2, close, execve, _exit and waitpid, all
    // async-signal-safe; the grandchild either becomes /bin/sh or exits at once.
    unsafe {
        cmd.pre_exec(move || {
            let sh = argv.first();
            if sh.is_null() {
                return Ok(());
            }
            let pid = libc::fork();
            if pid == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if pid == 0 {
                let fd = libc::open(null.as_ptr(), libc::O_RDONLY);
                if fd > 0 {
                    libc::dup2(fd, 0);
                    libc::close(fd);
                }
                libc::execve(sh, argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) == -1 {
                if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break;
                }
            }
            Ok(())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_runs_to_completion_before_the_program() {
        let dir = std::env::temp_dir().join(format!("oxssh-run-first-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg("echo main; cat marker")
            .current_dir(&dir)
            .env_clear()
            .env("X", "from-env");
        let env: Vec<_> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect();
        run_first(
            &mut cmd,
            "sleep 0.2; echo rc $X; read l; echo $? > marker",
            &env,
        )
        .unwrap();
        let out = cmd.output().unwrap();
        // The script's output comes first, it read EOF from /dev/null (status 1), and it
        // ran in the child's directory.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "rc from-env\nmain\n1\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = std::env::temp_dir().join(format!("oxssh-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("keys");
        std::fs::write(&f, b"ssh-ed25519 AAAA caf\xe9\n").unwrap();
        assert_eq!(
            read_regular_file(&f, 100).unwrap(),
            "ssh-ed25519 AAAA caf\u{fffd}\n"
        );
        assert!(read_regular_file(&f, 5).is_err());
        // A symlink to a device is refused at once, not read for ever.
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read_regular_file(&link, 1 << 20).is_err());
        assert!(read_regular_file(&dir, 1 << 20).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn current_user_is_found_by_uid_and_by_name() {
        let me = getpwuid(getuid()).expect("current user in passwd");
        assert_eq!(me.uid, getuid());
        assert_eq!(getpwnam(&me.name), Some(me));
    }

    #[test]
    fn expiry_times_parse_as_openssh_writes_them() {
        assert!(parse_local_time("20200101").unwrap() < now_epoch());
        assert!(parse_local_time("29991231235959").unwrap() > now_epoch());
        assert_eq!(parse_local_time("2020010"), None);
        assert_eq!(parse_local_time("20201301"), None);
        assert_eq!(parse_local_time("2020x101"), None);
    }

    #[test]
    fn root_is_in_group_root() {
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert!(group_names("root").unwrap().contains(&"root".to_owned()));
        assert_eq!(group_names("no-such-user-oxssh"), None);
    }

    #[test]
    fn unknown_user_is_none() {
        assert_eq!(getpwnam("no-such-user-oxssh-\u{1}"), None);
        assert_eq!(getpwnam("a\0b"), None);
    }
}
