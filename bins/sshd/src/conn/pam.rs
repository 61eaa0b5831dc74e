//! UsePAM yes, as OpenSSH's auth-pam.c on Linux: the PAM service is sshd's program name
//! (so /etc/pam.d/sshd for /usr/sbin/sshd), PAM_RHOST is the client's address and
//! PAM_TTY "ssh"; passwords go through pam_authenticate with a conversation that
//! answers the password prompt; keyboard-interactive runs the PAM stack on its own
//! thread, each PAM prompt becoming one round of INFO_REQUEST/INFO_RESPONSE (so
//! pam_oath / pam_google_authenticator second factors and expired-password changes
//! work); account modules run after every successful method; the PAM session is
//! opened after authentication and closed when the connection ends, and its
//! environment (pam_env) reaches the user's processes.
//!
//! An invalid user, or root when PermitRootLogin forbids passwords, still goes through
//! the whole stack — with a junk password of the same length, as OpenSSH does, so the
//! timing tells nothing.

use oxssh_sys::pam::{self, Conversation, Message, Pam};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// The PAM service: our program name, as OpenSSH's `__progname`.
pub fn service() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sshd".to_owned())
}

fn silent() -> Conversation {
    Box::new(|_| None)
}

/// pam_start for `user` with PAM_RHOST and PAM_TTY set; None (logged) on failure.
pub fn start(user: &str, rhost: &str) -> Option<Pam> {
    tracing::debug!("PAM: initializing for \"{user}\"");
    let mut p = match Pam::start(&service(), user, silent()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("PAM: initialisation failed: {e}");
            return None;
        }
    };
    tracing::debug!("PAM: setting PAM_RHOST to \"{rhost}\"");
    if let Err(e) = p.set_item(pam::Item::Rhost, rhost) {
        tracing::error!("PAM: failed to set PAM_RHOST: {e}");
        return None;
    }
    tracing::debug!("PAM: setting PAM_TTY to \"ssh\"");
    if let Err(e) = p.set_item(pam::Item::Tty, "ssh") {
        tracing::error!("PAM: failed to set PAM_TTY: {e}");
        return None;
    }
    Some(p)
}

/// A junk password as long as the one the client sent (OpenSSH `fake_password`).
pub fn fake_password(len: usize) -> Zeroizing<String> {
    const JUNK: &[u8] = b"\x08\n\r\x7fINCORRECT";
    Zeroizing::new(
        JUNK.iter()
            .cycle()
            .take(len)
            .map(|&b| char::from(b))
            .collect(),
    )
}

/// pam_authenticate flags for PermitEmptyPasswords.
pub fn flags(permit_empty: bool) -> i32 {
    if permit_empty {
        0
    } else {
        pam::PAM_DISALLOW_NULL_AUTHTOK
    }
}

/// Password authentication through PAM (OpenSSH `sshpam_auth_passwd`): the
/// conversation answers echo-off prompts with `password` and refuses echo-on ones.
/// Runs on a blocking thread; gives the handle back with the result.
pub async fn password(
    mut p: Pam,
    password: Zeroizing<String>,
    flags: i32,
) -> (Option<Pam>, Result<(), pam::Error>) {
    let r = tokio::task::spawn_blocking(move || {
        p.set_conversation(Box::new(move |m| match m {
            Message::Prompt { echo: false, .. } => Some(password.clone()),
            Message::Prompt { echo: true, .. } => None,
            Message::Info { text, .. } => {
                tracing::debug!("PAM: {text}");
                None
            }
        }));
        let r = p.authenticate(flags);
        p.set_conversation(silent());
        (p, r)
    })
    .await;
    match r {
        Ok((p, r)) => (Some(p), r),
        Err(_) => (
            None,
            Err(pam::Error {
                code: -1,
                message: "PAM thread failed".into(),
            }),
        ),
    }
}

/// What the keyboard-interactive PAM thread says.
pub enum Event {
    Prompt {
        text: String,
        echo: bool,
    },
    Info(String),
    /// The stack finished (authentication, account, any expired-password change).
    Done(Box<Pam>, Result<(), pam::Error>),
}

/// A keyboard-interactive PAM conversation in progress on its own thread.
pub struct Interactive {
    events: mpsc::UnboundedReceiver<Event>,
    answers: std::sync::mpsc::Sender<Zeroizing<String>>,
}

impl Interactive {
    /// Run pam_authenticate, then pam_acct_mgmt and, for an expired password,
    /// pam_chauthtok — all through the conversation (OpenSSH `sshpam_thread`).
    pub fn start(mut p: Pam, flags: i32) -> Interactive {
        let (etx, events) = mpsc::unbounded_channel();
        let (answers, arx) = std::sync::mpsc::channel::<Zeroizing<String>>();
        let conv_tx = etx.clone();
        std::thread::spawn(move || {
            p.set_conversation(Box::new(move |m| match m {
                Message::Prompt { text, echo } => {
                    conv_tx.send(Event::Prompt { text, echo }).ok()?;
                    // Dropping the sender (a new request abandoned the exchange) ends
                    // the conversation: PAM fails with a conversation error.
                    arx.recv().ok()
                }
                Message::Info { text, .. } => {
                    let _ = conv_tx.send(Event::Info(text));
                    None
                }
            }));
            let mut r = p.authenticate(flags);
            if r.is_ok() {
                r = match p.acct_mgmt() {
                    Err(e) if e.code == pam::PAM_NEW_AUTHTOK_REQD => {
                        tracing::debug!("PAM: password change required");
                        p.change_expired_authtok()
                    }
                    // As OpenSSH, any refusal by the account stack reads as expiry.
                    Err(_) => Err(pam::Error {
                        code: pam::PAM_ACCT_EXPIRED,
                        message: p.strerror(pam::PAM_ACCT_EXPIRED),
                    }),
                    Ok(()) => Ok(()),
                };
            }
            p.set_conversation(silent());
            let _ = etx.send(Event::Done(Box::new(p), r));
        });
        Interactive { events, answers }
    }

    /// The next thing PAM says; a thread that vanished counts as a failure.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    pub fn answer(&self, a: Zeroizing<String>) {
        let _ = self.answers.send(a);
    }
}

/// The PAM side of a logged-in connection: credentials and the session, closed and
/// deleted when dropped (the connection ends).
pub struct Session {
    pam: Pam,
    opened: bool,
    creds: bool,
}

impl Session {
    /// pam_setcred(ESTABLISH) and pam_open_session; a failed session is fatal for the
    /// login, as in OpenSSH.
    pub fn open(mut pam: Pam) -> Result<Session, String> {
        let creds = match pam.setcred(true) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("PAM: failed to establish credentials: {e}");
                false
            }
        };
        let mut s = Session {
            pam,
            opened: false,
            creds,
        };
        s.pam
            .open_session()
            .map_err(|e| format!("PAM: pam_open_session(): {e}"))?;
        s.opened = true;
        Ok(s)
    }

    /// The PAM environment for the user's processes, minus what sshd itself sets.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.pam
            .envlist()
            .into_iter()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                let denied = k.starts_with("SSH_AUTH_INFO") || k.starts_with("SSH_CONNECTION");
                (!denied).then(|| (k.to_owned(), v.to_owned()))
            })
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.opened {
            if let Err(e) = self.pam.close_session() {
                tracing::info!("PAM: pam_close_session(): {e}");
            }
        }
        if self.creds {
            let _ = self.pam.setcred(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_password_has_the_length_and_is_not_a_password() {
        let f = fake_password(13);
        assert_eq!(f.chars().count(), 13);
        assert!(f.starts_with("\u{8}\n\r\u{7f}INCORRECT"));
        assert!(fake_password(0).is_empty());
    }
}
