//! Linux-PAM (pam_start(3), pam_authenticate(3), pam_acct_mgmt(3), pam_chauthtok(3),
//! pam_setcred(3), pam_open_session(3), pam_getenvlist(3)) behind a safe, blocking
//! handle. The conversation is a Rust closure: it gets each message PAM sends (a prompt
//! with or without echo, or an informational/error text) and returns the answer to a
//! prompt, or None to abort the conversation.
//!
//! Linked against the runtime library `libpam.so.0` by its file name, so building needs
//! no PAM development package. Answers are copied into memory PAM owns and frees; our
//! copies are wiped. Not here: which service or policy to use — that is sshd's.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;

use zeroize::Zeroizing;

const PAM_SUCCESS: c_int = 0;
const PAM_CONV_ERR: c_int = 19;
/// pam_acct_mgmt: the account is valid but its password has expired.
pub const PAM_NEW_AUTHTOK_REQD: c_int = 12;
/// pam_acct_mgmt: the account has expired (also what sshd reports for any account
/// refusal during keyboard-interactive).
pub const PAM_ACCT_EXPIRED: c_int = 13;
/// pam_authenticate: too many failed attempts in this module stack.
pub const PAM_MAXTRIES: c_int = 11;
const PAM_MAX_NUM_MSG: c_int = 32;

const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;

/// pam_authenticate flag: fail for an empty password (PermitEmptyPasswords no).
pub const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;
const PAM_ESTABLISH_CRED: c_int = 0x0002;
const PAM_DELETE_CRED: c_int = 0x0004;
const PAM_CHANGE_EXPIRED_AUTHTOK: c_int = 0x0020;

/// Items for [`Pam::set_item`].
#[derive(Clone, Copy, Debug)]
pub enum Item {
    Tty = 3,
    Rhost = 4,
    Ruser = 8,
}

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

#[repr(C)]
struct PamConv {
    conv: unsafe extern "C" fn(
        c_int,
        *mut *const PamMessage,
        *mut *mut PamResponse,
        *mut c_void,
    ) -> c_int,
    appdata_ptr: *mut c_void,
}

#[link(name = "libpam.so.0", kind = "dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn pam_start(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item: c_int, value: *const c_void) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_chauthtok(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_setcred(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_open_session(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_close_session(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_putenv(pamh: *mut c_void, name_value: *const c_char) -> c_int;
    fn pam_getenvlist(pamh: *mut c_void) -> *mut *mut c_char;
    fn pam_strerror(pamh: *mut c_void, errnum: c_int) -> *const c_char;
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A question; `echo` says whether the answer may be shown as typed.
    Prompt { text: String, echo: bool },
    /// Something to show the user (`error`: PAM_ERROR_MSG rather than PAM_TEXT_INFO).
    Info { text: String, error: bool },
}

/// The conversation function: the answer to a prompt (None aborts the conversation);
/// the return value for an informational message is ignored.
pub type Conversation = Box<dyn FnMut(Message) -> Option<Zeroizing<String>> + Send>;

/// A PAM failure: the module stack's status code and PAM's text for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A PAM transaction for one user of one service.
pub struct Pam {
    pamh: *mut c_void,
    /// Owned by us, pointed to by the pam_conv PAM keeps (`appdata_ptr`).
    conv: *mut Conversation,
    /// The pam_conv structure itself (Linux-PAM copies it, but keep it alive anyway).
    _conv_struct: Box<PamConv>,
    last: c_int,
}

// SAFETY: a Linux-PAM handle has no thread affinity; every use goes through `&mut self`,
// so it is never used from two threads at once, and the conversation closure is Send.
unsafe impl Send for Pam {}

/// Copy a PAM-owned C string.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the call.
unsafe fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    if num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || msg.is_null() || resp.is_null() {
        return PAM_CONV_ERR;
    }
    if appdata.is_null() {
        return PAM_CONV_ERR;
    }
    // SAFETY: appdata is the `*mut Conversation` we gave pam_start; it lives as long as
    // the handle and PAM calls us only from inside a call on that handle (&mut self).
    let conv = unsafe { &mut *appdata.cast::<Conversation>() };
    let n = num_msg as usize;
    // SAFETY: calloc of n small structs; PAM frees the array and each `resp` with free(3).
    let replies =
        unsafe { libc::calloc(n, std::mem::size_of::<PamResponse>()) }.cast::<PamResponse>();
    if replies.is_null() {
        return PAM_CONV_ERR;
    }
    let fail = |filled: usize| {
        for j in 0..filled {
            // SAFETY: j < n; entries below `filled` were written by us (resp or null).
            unsafe {
                let r = &mut *replies.add(j);
                if !r.resp.is_null() {
                    let len = libc::strlen(r.resp);
                    ptr::write_bytes(r.resp, 0, len);
                    libc::free(r.resp.cast());
                }
            }
        }
        // SAFETY: allocated above with calloc.
        unsafe { libc::free(replies.cast()) };
        PAM_CONV_ERR
    };
    for i in 0..n {
        // Linux-PAM passes an array of pointers, one per message.
        // SAFETY: i < num_msg, the array has num_msg valid entries.
        let m = unsafe { *msg.add(i) };
        if m.is_null() {
            return fail(i);
        }
        // SAFETY: m points to a valid pam_message for the duration of the call.
        let (style, text) = unsafe { ((*m).msg_style, owned((*m).msg)) };
        let message = match style {
            PAM_PROMPT_ECHO_OFF | PAM_PROMPT_ECHO_ON => Message::Prompt {
                text,
                echo: style == PAM_PROMPT_ECHO_ON,
            },
            PAM_ERROR_MSG | PAM_TEXT_INFO => Message::Info {
                text,
                error: style == PAM_ERROR_MSG,
            },
            _ => return fail(i),
        };
        let is_prompt = matches!(message, Message::Prompt { .. });
        let answer = conv(message);
        if is_prompt {
            let Some(answer) = answer else {
                return fail(i);
            };
            let Ok(c) = CString::new(answer.as_bytes()) else {
                return fail(i);
            };
            // SAFETY: c is a valid C string; strdup allocates with malloc for PAM to free.
            let dup = unsafe { libc::strdup(c.as_ptr()) };
            let mut bytes = c.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            if dup.is_null() {
                return fail(i);
            }
            // SAFETY: i < n, inside the calloc'ed array.
            unsafe { (*replies.add(i)).resp = dup };
        }
    }
    // SAFETY: resp is a valid out-pointer from PAM.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

impl Pam {
    /// pam_start for `service` and `user` with the conversation `conv`.
    pub fn start(service: &str, user: &str, conv: Conversation) -> Result<Pam, Error> {
        let service = CString::new(service).map_err(|_| bad("service name"))?;
        let user = CString::new(user).map_err(|_| bad("user name"))?;
        let conv: *mut Conversation = Box::into_raw(Box::new(conv));
        let conv_struct = Box::new(PamConv {
            conv: converse,
            appdata_ptr: conv.cast(),
        });
        let mut pamh: *mut c_void = ptr::null_mut();
        // SAFETY: valid C strings and pam_conv; pamh is an out-pointer.
        let r = unsafe { pam_start(service.as_ptr(), user.as_ptr(), &*conv_struct, &mut pamh) };
        if r != PAM_SUCCESS || pamh.is_null() {
            // SAFETY: conv came from Box::into_raw above and PAM holds no handle.
            drop(unsafe { Box::from_raw(conv) });
            return Err(Error {
                code: r,
                message: format!("pam_start failed: {r}"),
            });
        }
        Ok(Pam {
            pamh,
            conv,
            _conv_struct: conv_struct,
            last: PAM_SUCCESS,
        })
    }

    /// Replace the conversation function (e.g. from a password answerer to an
    /// interactive one).
    pub fn set_conversation(&mut self, conv: Conversation) {
        // SAFETY: self.conv is our live Box; PAM only reads it during calls on &mut self.
        unsafe { *self.conv = conv };
    }

    fn check(&mut self, r: c_int) -> Result<(), Error> {
        self.last = r;
        if r == PAM_SUCCESS {
            return Ok(());
        }
        Err(Error {
            code: r,
            message: self.strerror(r),
        })
    }

    /// PAM's text for a status code ("Authentication failure", …).
    pub fn strerror(&self, code: i32) -> String {
        // SAFETY: pamh is valid; pam_strerror returns a static or handle-owned string.
        unsafe { owned(pam_strerror(self.pamh, code)) }
    }

    pub fn set_item(&mut self, item: Item, value: &str) -> Result<(), Error> {
        let v = CString::new(value).map_err(|_| bad("item"))?;
        // SAFETY: PAM copies string items.
        let r = unsafe { pam_set_item(self.pamh, item as c_int, v.as_ptr().cast()) };
        self.check(r)
    }

    pub fn authenticate(&mut self, flags: c_int) -> Result<(), Error> {
        // SAFETY: valid handle; the conversation may be called back during the call.
        let r = unsafe { pam_authenticate(self.pamh, flags) };
        self.check(r)
    }

    /// pam_acct_mgmt: `Err` with code [`PAM_NEW_AUTHTOK_REQD`] means the password expired.
    pub fn acct_mgmt(&mut self) -> Result<(), Error> {
        // SAFETY: valid handle.
        let r = unsafe { pam_acct_mgmt(self.pamh, 0) };
        self.check(r)
    }

    /// pam_chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK): change an expired password through
    /// the conversation.
    pub fn change_expired_authtok(&mut self) -> Result<(), Error> {
        // SAFETY: valid handle.
        let r = unsafe { pam_chauthtok(self.pamh, PAM_CHANGE_EXPIRED_AUTHTOK) };
        self.check(r)
    }

    pub fn setcred(&mut self, establish: bool) -> Result<(), Error> {
        let f = if establish {
            PAM_ESTABLISH_CRED
        } else {
            PAM_DELETE_CRED
        };
        // SAFETY: valid handle.
        let r = unsafe { pam_setcred(self.pamh, f) };
        self.check(r)
    }

    pub fn open_session(&mut self) -> Result<(), Error> {
        // SAFETY: valid handle.
        let r = unsafe { pam_open_session(self.pamh, 0) };
        self.check(r)
    }

    pub fn close_session(&mut self) -> Result<(), Error> {
        // SAFETY: valid handle.
        let r = unsafe { pam_close_session(self.pamh, 0) };
        self.check(r)
    }

    /// pam_putenv("NAME=value").
    pub fn putenv(&mut self, name_value: &str) -> Result<(), Error> {
        let v = CString::new(name_value).map_err(|_| bad("environment"))?;
        // SAFETY: PAM copies the string.
        let r = unsafe { pam_putenv(self.pamh, v.as_ptr()) };
        self.check(r)
    }

    /// The PAM environment ("NAME=value" strings) modules such as pam_env set.
    pub fn envlist(&self) -> Vec<String> {
        // SAFETY: valid handle; the list and its strings are malloc'ed copies we free.
        let list = unsafe { pam_getenvlist(self.pamh) };
        let mut out = Vec::new();
        if list.is_null() {
            return out;
        }
        let mut i = 0;
        loop {
            // SAFETY: the list is NULL-terminated.
            let p = unsafe { *list.add(i) };
            if p.is_null() {
                break;
            }
            // SAFETY: p is a NUL-terminated malloc'ed string we now own.
            unsafe {
                out.push(owned(p));
                libc::free(p.cast());
            }
            i += 1;
        }
        // SAFETY: the array itself is malloc'ed.
        unsafe { libc::free(list.cast()) };
        out
    }
}

fn bad(what: &str) -> Error {
    Error {
        code: PAM_CONV_ERR,
        message: format!("invalid {what}"),
    }
}

impl Drop for Pam {
    fn drop(&mut self) {
        // SAFETY: pamh is valid until here; after pam_end PAM never calls the
        // conversation again, so the closure can be freed.
        unsafe {
            pam_end(self.pamh, self.last);
            drop(Box::from_raw(self.conv));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A throwaway PAM service with `stack`, removed on drop; None unless root.
    struct Service(String);

    impl Service {
        fn new(tag: &str, stack: &str) -> Option<Service> {
            if crate::geteuid() != 0 {
                eprintln!("skipping: writing /etc/pam.d needs root");
                return None;
            }
            let name = format!("oxssh-sys-test-{tag}-{}", std::process::id());
            std::fs::write(format!("/etc/pam.d/{name}"), stack).unwrap();
            Some(Service(name))
        }
    }

    impl Drop for Service {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(format!("/etc/pam.d/{}", self.0));
        }
    }

    #[test]
    fn permit_deny_and_environment() {
        let Some(ok) = Service::new(
            "permit",
            "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n",
        ) else {
            return;
        };
        let mut p = Pam::start(&ok.0, "nobody", Box::new(|_| None)).unwrap();
        p.set_item(Item::Rhost, "127.0.0.1").unwrap();
        p.authenticate(0).unwrap();
        p.acct_mgmt().unwrap();
        p.putenv("OXSSH_TEST=1").unwrap();
        assert!(p.envlist().contains(&"OXSSH_TEST=1".to_owned()));
        p.open_session().unwrap();
        p.close_session().unwrap();
        drop(p);

        let Some(no) = Service::new("deny", "auth required pam_deny.so\n") else {
            return;
        };
        let mut p = Pam::start(&no.0, "nobody", Box::new(|_| None)).unwrap();
        let e = p.authenticate(0).unwrap_err();
        assert_eq!(e.message, "Authentication failure");
    }

    #[test]
    fn a_prompting_module_talks_through_the_conversation() {
        // pam_exec with expose_authtok asks for the password through the conversation
        // and hands it to the command on stdin.
        let dir = std::env::temp_dir().join(format!("oxssh-pam-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("got");
        let script = dir.join("check.sh");
        // Written by a child process: a descriptor open for writing in this process
        // could be inherited by another test thread's fork and make the exec fail
        // with "Text file busy".
        let body = format!(
            "#!/bin/sh\nread -r pw\nprintf '%s' \"$pw\" > {}\n[ \"$pw\" = sesame ]\n",
            out.display()
        );
        let wrote = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "printf '%s' \"$1\" > {0} && chmod 755 {0}",
                script.display()
            ))
            .arg("sh")
            .arg(body)
            .status()
            .unwrap();
        assert!(wrote.success());
        let stack = format!(
            "auth required pam_exec.so expose_authtok quiet {}\n",
            script.display()
        );
        let Some(svc) = Service::new("exec", &stack) else {
            return;
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let answer = |a: &'static str| -> Conversation {
            let s2 = s2.clone();
            Box::new(move |m| {
                s2.lock().unwrap().push(m);
                Some(Zeroizing::new(a.to_owned()))
            })
        };
        let mut p = Pam::start(&svc.0, "nobody", answer("sesame")).unwrap();
        p.authenticate(0).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "sesame");
        assert!(matches!(
            &seen.lock().unwrap()[0],
            Message::Prompt { echo: false, .. }
        ));
        p.set_conversation(answer("wrong"));
        drop(p);
        let mut p = Pam::start(&svc.0, "nobody", answer("wrong")).unwrap();
        assert!(p.authenticate(0).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
