//! Password checking without PAM, as OpenSSH's `sys_auth_passwd` with `UsePAM no`:
//! the user's hash from the shadow database (falling back to the passwd entry), the
//! candidate hashed by the system's crypt(3) (libxcrypt: yescrypt, sha512crypt, …) with
//! the stored hash as setting, and a constant-time comparison. For unknown users the
//! same work is done against the setting of the first real hash on the system
//! (OpenSSH's `pick_salt`), so the time taken does not tell whether a user exists.
//!
//! Not here: PAM (a later step), policy (PermitEmptyPasswords, PermitRootLogin — the
//! caller's), account and password expiry.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use zeroize::{Zeroize, Zeroizing};

/// Passwords longer than this are refused without hashing (OpenSSH's
/// MAX_PASSWORD_LEN: hashing huge inputs is a denial of service).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Room for either libc's `struct crypt_data`: glibc's own libcrypt used 131232 bytes,
/// libxcrypt uses 32768.
const CRYPT_DATA_SIZE: usize = 256 * 1024;

#[link(name = "crypt")]
unsafe extern "C" {
    fn crypt_r(
        phrase: *const libc::c_char,
        setting: *const libc::c_char,
        data: *mut libc::c_void,
    ) -> *mut libc::c_char;
}

/// Hash `password` with `setting` (a stored hash or a `$id$params$salt` prefix) by
/// crypt(3). `None` when crypt fails or answers with a failure token (`*0`, `*1`).
pub fn crypt(password: &[u8], setting: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if password.contains(&0) {
        return None;
    }
    let mut phrase = Zeroizing::new(Vec::with_capacity(password.len() + 1));
    phrase.extend_from_slice(password);
    phrase.push(0);
    let setting = CString::new(setting).ok()?;
    let mut data = Zeroizing::new(vec![0u8; CRYPT_DATA_SIZE]);
    // SAFETY: `phrase` and `setting` are NUL-terminated and live across the call;
    // `data` is a zeroed buffer at least as large as any libc's `struct crypt_data`
    // (zeroed is its documented initial state). The result points into `data` or is
    // NULL, and is copied out before `data` is dropped (and zeroized).
    let out = unsafe {
        let p = crypt_r(
            phrase.as_ptr().cast(),
            setting.as_ptr(),
            data.as_mut_ptr().cast(),
        );
        if p.is_null() {
            return None;
        }
        Zeroizing::new(CStr::from_ptr(p).to_bytes().to_vec())
    };
    if out.first() == Some(&b'*') || out.is_empty() {
        return None;
    }
    Some(out)
}

/// Equality of two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    // Keep the compiler from short-circuiting the loop on the accumulated value.
    std::hint::black_box(diff) == 0
}

/// The user's password hash, as OpenSSH's `shadow_pw`: the shadow entry's, or the
/// passwd entry's when there is no shadow entry. Reading shadow needs root.
pub fn password_hash(user: &str) -> Option<Zeroizing<Vec<u8>>> {
    let name = CString::new(user).ok()?;
    if let Some(h) = shadow_lookup(|sp, buf, res| {
        // SAFETY: `name` is NUL-terminated and outlives the call; the other pointers
        // refer to storage owned by `shadow_lookup`, and `buf.len()` is its size.
        unsafe { libc::getspnam_r(name.as_ptr(), sp, buf.as_mut_ptr().cast(), buf.len(), res) }
    }) {
        return Some(h);
    }
    passwd_field(&name)
}

type SpFn<'a> = dyn FnMut(*mut libc::spwd, &mut [u8], *mut *mut libc::spwd) -> libc::c_int + 'a;

/// Run a getsp*_r call with a buffer that grows on ERANGE (bounded), and copy out the
/// hash field. The buffer is zeroized afterwards: it held a password hash.
fn shadow_lookup(
    f: impl FnMut(*mut libc::spwd, &mut [u8], *mut *mut libc::spwd) -> libc::c_int,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut f: Box<SpFn<'_>> = Box::new(f);
    let mut size = 1024usize;
    while size <= 1 << 20 {
        let mut buf = Zeroizing::new(vec![0u8; size]);
        // SAFETY: an all-zero `spwd` is a valid value of a plain C struct of pointers
        // and integers; it is only read after getsp*_r has filled it in.
        let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
        let mut res: *mut libc::spwd = std::ptr::null_mut();
        let rc = f(&mut sp, &mut buf, &mut res);
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || res.is_null() || sp.sp_pwdp.is_null() {
            return None;
        }
        // SAFETY: on success sp_pwdp points into `buf`, NUL-terminated, and `buf` is
        // alive until the end of this block.
        let hash = unsafe { CStr::from_ptr(sp.sp_pwdp) }.to_bytes().to_vec();
        return Some(Zeroizing::new(hash));
    }
    None
}

fn passwd_field(name: &CStr) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; 16 * 1024]);
    // SAFETY: an all-zero `passwd` is a valid plain C struct; read only after success.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; the other pointers refer to live storage of the
    // right types and `buf.len()` is the size of `buf`.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut res,
        )
    };
    if rc != 0 || res.is_null() || pw.pw_passwd.is_null() {
        return None;
    }
    // SAFETY: on success pw_passwd points into `buf`, NUL-terminated.
    let hash = unsafe { CStr::from_ptr(pw.pw_passwd) }.to_bytes().to_vec();
    Some(Zeroizing::new(hash))
}

/// The setting used for unknown users (OpenSSH's `pick_salt`): the `$id$…$` prefix of
/// the first modular-crypt hash in the shadow database, so the work done matches the
/// system's real hashes; `xx` (traditional DES) when there is none. Computed once.
pub fn fake_setting() -> &'static [u8] {
    static SALT: OnceLock<Vec<u8>> = OnceLock::new();
    SALT.get_or_init(|| {
        let mut found = b"xx".to_vec();
        // SAFETY: setspent has no preconditions; this process is single-threaded in
        // its use of the shadow enumeration (only here, under the OnceLock).
        unsafe { libc::setspent() };
        loop {
            let h = shadow_lookup(|sp, buf, res| {
                // SAFETY: the pointers refer to storage owned by `shadow_lookup`, and
                // `buf.len()` is its size.
                unsafe { libc::getspent_r(sp, buf.as_mut_ptr().cast(), buf.len(), res) }
            });
            let Some(mut h) = h else { break };
            if h.first() == Some(&b'$') {
                if let Some(last) = h.iter().rposition(|&c| c == b'$').filter(|&p| p > 0) {
                    if let Some(prefix) = h.get(..=last) {
                        found = prefix
                            .get(..prefix.len().min(31))
                            .unwrap_or(prefix)
                            .to_vec();
                        h.zeroize();
                        break;
                    }
                }
            }
        }
        // SAFETY: endspent has no preconditions.
        unsafe { libc::endspent() };
        found
    })
}

/// OpenSSH's `sys_auth_passwd`: whether `password` is the password of `user`
/// (`None`: an unknown user, for whom the same hashing work is done and the answer is
/// always no). An empty stored hash matches only an empty password; whether empty
/// passwords are allowed at all is the caller's policy.
pub fn check_password(user: Option<&str>, password: &[u8]) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let stored = user.and_then(password_hash);
    match &stored {
        Some(h) if h.is_empty() && password.is_empty() => true,
        Some(h) if h.len() >= 2 => {
            let got = crypt(password, h);
            got.is_some_and(|g| constant_time_eq(&g, h))
        }
        _ => {
            // Unknown user, or a hash too short to be a setting: same work, no match.
            let _ = crypt(password, fake_setting());
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn crypt_matches_known_hashes() {
        // A sha512crypt hash of "hunter2" made with `openssl passwd -6 -salt saltsalt hunter2`.
        let sha = b"$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.";
        let got = crypt(b"hunter2", sha).unwrap();
        assert!(
            constant_time_eq(&got, sha),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert!(!constant_time_eq(&crypt(b"hunter3", sha).unwrap(), sha));
        assert!(crypt(b"a\0b", sha).is_none());
    }

    #[test]
    fn yescrypt_round_trips_its_own_setting() {
        let h = crypt(b"pw", b"$y$j9T$abcdefghijklmnopqrstu.$").unwrap();
        assert!(h.starts_with(b"$y$j9T$"), "{}", String::from_utf8_lossy(&h));
        assert!(constant_time_eq(&crypt(b"pw", &h).unwrap(), &h));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn unknown_users_and_huge_passwords_never_match() {
        assert!(!check_password(None, b""));
        assert!(!check_password(None, b"x"));
        assert!(!check_password(Some("no-such-user-oxssh"), b"x"));
        assert!(!check_password(
            Some("root"),
            &vec![b'a'; MAX_PASSWORD_LEN + 1]
        ));
        assert!(fake_setting().len() <= 31);
    }
}
