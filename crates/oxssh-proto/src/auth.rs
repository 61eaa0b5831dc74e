//! User authentication messages (RFC 4252, RFC 4256 keyboard-interactive, OpenSSH
//! `PROTOCOL` §3.1 publickey-hostbound): encoders for what a client sends, parsers for
//! what a server receives and answers, and the exact bytes a publickey signature covers.
//!
//! The policy (which methods to try, whether a key is authorized) lives in the binaries;
//! this module only gets the bytes right. Secrets passed in (passwords, answers) are not
//! kept.

use zeroize::Zeroizing;

use crate::Error;
use crate::msg;
use crate::wire::{Put, Reader};

pub const SERVICE_USERAUTH: &str = "ssh-userauth";
pub const SERVICE_CONNECTION: &str = "ssh-connection";
pub const HOSTBOUND: &str = "publickey-hostbound-v00@openssh.com";

pub fn service_request(name: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(5 + name.len());
    m.put_u8(msg::SERVICE_REQUEST);
    m.put_str(name);
    m
}

pub fn service_accept(name: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(5 + name.len());
    m.put_u8(msg::SERVICE_ACCEPT);
    m.put_str(name);
    m
}

/// Parse SERVICE_REQUEST or SERVICE_ACCEPT: the service name.
pub fn parse_service(payload: &[u8]) -> Result<String, Error> {
    let mut r = Reader::new(payload.get(1..).unwrap_or_default());
    Ok(r.utf8()?.to_owned())
}

fn request_head(user: &str, service: &str, method: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + user.len());
    m.put_u8(msg::USERAUTH_REQUEST);
    m.put_str(user);
    m.put_str(service);
    m.put_str(method);
    m
}

/// The start of what a request's signature covers: the session id, then the
/// request's head as [`request_head`] writes it.
fn signed_head(session_id: &[u8], user: &str, service: &str, method: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(128 + session_id.len());
    d.put_string(session_id);
    d.extend_from_slice(&request_head(user, service, method));
    d
}

pub fn request_none(user: &str, service: &str) -> Vec<u8> {
    request_head(user, service, "none")
}

/// A password request; the returned buffer holds the password and is wiped on drop.
pub fn request_password(user: &str, service: &str, password: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut m = Zeroizing::new(request_head(user, service, "password"));
    m.put_bool(false);
    m.put_string(password);
    m
}

/// A password change (RFC 4252 §8), the answer to SSH_MSG_USERAUTH_PASSWD_CHANGEREQ:
/// the old password and the new one.
pub fn request_password_change(
    user: &str,
    service: &str,
    old: &[u8],
    new: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut m = Zeroizing::new(request_head(user, service, "password"));
    // Room for both at once: growing after the old password is in would leave a copy
    // of it in the freed buffer.
    m.reserve_exact(9 + old.len() + new.len());
    m.put_bool(true);
    m.put_string(old);
    m.put_string(new);
    m
}

/// SSH_MSG_USERAUTH_PASSWD_CHANGEREQ: the prompt (why a new password is needed) and
/// an empty language tag.
pub fn passwd_changereq(prompt: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(9 + prompt.len());
    m.put_u8(msg::USERAUTH_PASSWD_CHANGEREQ);
    m.put_str(prompt);
    m.put_str("");
    m
}

/// A publickey query ("would this key be acceptable?") without a signature.
pub fn request_publickey_query(user: &str, service: &str, alg: &str, key_blob: &[u8]) -> Vec<u8> {
    let mut m = request_head(user, service, "publickey");
    m.put_bool(false);
    m.put_str(alg);
    m.put_string(key_blob);
    m
}

/// RFC 4252 §7 (and PROTOCOL §3.1 for the host-bound variant): the data a publickey
/// signature covers. `hostbound` is the server's host key blob when the
/// `publickey-hostbound-v00@openssh.com` method is used.
pub fn publickey_signed_data(
    session_id: &[u8],
    user: &str,
    service: &str,
    alg: &str,
    key_blob: &[u8],
    hostbound: Option<&[u8]>,
) -> Vec<u8> {
    let method = if hostbound.is_some() {
        HOSTBOUND
    } else {
        "publickey"
    };
    let mut d = signed_head(session_id, user, service, method);
    d.put_bool(true);
    d.put_str(alg);
    d.put_string(key_blob);
    if let Some(hk) = hostbound {
        d.put_string(hk);
    }
    d
}

/// What a hostbased request's signature covers (RFC 4252 §9): the session id and
/// the request up to, not including, the signature.
pub fn hostbased_signed_data(
    session_id: &[u8],
    user: &str,
    service: &str,
    alg: &str,
    key_blob: &[u8],
    client_host: &str,
    client_user: &str,
) -> Vec<u8> {
    let mut d = signed_head(session_id, user, service, "hostbased");
    d.put_str(alg);
    d.put_string(key_blob);
    d.put_str(client_host);
    d.put_str(client_user);
    d
}

/// The signed publickey (or hostbased) request: the signed data minus the session id, plus the
/// signature.
pub fn request_publickey_signed(signed_data: &[u8], sig_blob: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(signed_data);
    r.string()?;
    let mut m = r.rest().to_vec();
    m.put_string(sig_blob);
    Ok(m)
}

pub fn request_keyboard_interactive(user: &str, service: &str, submethods: &str) -> Vec<u8> {
    let mut m = request_head(user, service, "keyboard-interactive");
    m.put_str("");
    m.put_str(submethods);
    m
}

/// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 §3.4); wiped on drop.
pub fn info_response(answers: &[Zeroizing<String>]) -> Zeroizing<Vec<u8>> {
    let mut m = Zeroizing::new(Vec::with_capacity(16));
    m.put_u8(msg::USERAUTH_INFO_RESPONSE);
    m.put_u32(answers.len() as u32);
    for a in answers {
        m.put_str(a);
    }
    m
}

/// A server's answer to an authentication request, as a client sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Success,
    Failure {
        methods: Vec<String>,
        partial: bool,
    },
    Banner {
        message: String,
    },
    /// Type 60 in answer to a publickey query.
    PkOk {
        alg: String,
        key_blob: Vec<u8>,
    },
    /// Type 60 during keyboard-interactive.
    InfoRequest {
        name: String,
        instruction: String,
        prompts: Vec<(String, bool)>,
    },
    /// Type 60 during password authentication.
    PasswdChangeReq {
        prompt: String,
    },
}

/// Which method is in flight: it decides what message 60 means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    None,
    PublicKey,
    Password,
    KeyboardInteractive,
}

/// Bound on prompts in one INFO_REQUEST (OpenSSH allows 100).
const MAX_PROMPTS: u32 = 100;

pub fn parse_reply(payload: &[u8], pending: Pending) -> Result<Reply, Error> {
    let (&ty, body) = payload.split_first().ok_or(Error::Truncated)?;
    let mut r = Reader::new(body);
    match ty {
        msg::USERAUTH_SUCCESS => Ok(Reply::Success),
        msg::USERAUTH_FAILURE => {
            let methods = r.name_list()?.iter().map(str::to_owned).collect();
            let partial = r.bool()?;
            Ok(Reply::Failure { methods, partial })
        }
        msg::USERAUTH_BANNER => Ok(Reply::Banner {
            message: String::from_utf8_lossy(r.string()?).into_owned(),
        }),
        60 => match pending {
            Pending::PublicKey => Ok(Reply::PkOk {
                alg: r.utf8()?.to_owned(),
                key_blob: r.string()?.to_vec(),
            }),
            Pending::Password => Ok(Reply::PasswdChangeReq {
                prompt: String::from_utf8_lossy(r.string()?).into_owned(),
            }),
            Pending::KeyboardInteractive => {
                let name = String::from_utf8_lossy(r.string()?).into_owned();
                let instruction = String::from_utf8_lossy(r.string()?).into_owned();
                r.string()?; // language tag
                let n = r.u32()?;
                if n > MAX_PROMPTS {
                    return Err(Error::Protocol(format!("too many prompts: {n}")));
                }
                let mut prompts = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let p = String::from_utf8_lossy(r.string()?).into_owned();
                    prompts.push((p, r.bool()?));
                }
                Ok(Reply::InfoRequest {
                    name,
                    instruction,
                    prompts,
                })
            }
            Pending::None => Err(Error::Unexpected {
                got: ty,
                state: "userauth",
            }),
        },
        _ => Err(Error::Unexpected {
            got: ty,
            state: "userauth",
        }),
    }
}

/// An authentication request, as a server sees it.
#[derive(Debug)]
pub enum Method {
    None,
    Password {
        password: Zeroizing<Vec<u8>>,
        new_password: Option<Zeroizing<Vec<u8>>>,
    },
    PublicKey {
        alg: String,
        key_blob: Vec<u8>,
        /// The server host key, for publickey-hostbound-v00@openssh.com.
        hostbound: Option<Vec<u8>>,
        signature: Option<Vec<u8>>,
    },
    KeyboardInteractive {
        submethods: String,
    },
    /// RFC 4252 §9: a client host's key vouches for its user.
    Hostbased {
        alg: String,
        key_blob: Vec<u8>,
        /// The client's host name as it sends it (FQDN, often with a trailing dot).
        client_host: String,
        client_user: String,
        signature: Vec<u8>,
    },
    Other(String),
}

#[derive(Debug)]
pub struct Request {
    pub user: String,
    pub service: String,
    pub method: Method,
}

impl Request {
    pub fn method_name(&self) -> &str {
        match &self.method {
            Method::None => "none",
            Method::Password { .. } => "password",
            Method::PublicKey { .. } => "publickey",
            Method::KeyboardInteractive { .. } => "keyboard-interactive",
            Method::Hostbased { .. } => "hostbased",
            Method::Other(s) => s,
        }
    }
}

pub fn parse_request(payload: &[u8]) -> Result<Request, Error> {
    let (&ty, body) = payload.split_first().ok_or(Error::Truncated)?;
    if ty != msg::USERAUTH_REQUEST {
        return Err(Error::Unexpected {
            got: ty,
            state: "userauth",
        });
    }
    let mut r = Reader::new(body);
    let user = String::from_utf8_lossy(r.string()?).into_owned();
    let service = String::from_utf8_lossy(r.string()?).into_owned();
    let method_name = r.utf8()?;
    let method = match method_name {
        "none" => Method::None,
        "password" => {
            let change = r.bool()?;
            let password = Zeroizing::new(r.string()?.to_vec());
            let new_password = if change {
                Some(Zeroizing::new(r.string()?.to_vec()))
            } else {
                None
            };
            Method::Password {
                password,
                new_password,
            }
        }
        "publickey" | HOSTBOUND => {
            let has_sig = r.bool()?;
            let alg = r.utf8()?.to_owned();
            let key_blob = r.string()?.to_vec();
            let hostbound = if method_name == HOSTBOUND {
                Some(r.string()?.to_vec())
            } else {
                None
            };
            let signature = if has_sig {
                Some(r.string()?.to_vec())
            } else {
                None
            };
            Method::PublicKey {
                alg,
                key_blob,
                hostbound,
                signature,
            }
        }
        "keyboard-interactive" => {
            r.string()?;
            Method::KeyboardInteractive {
                submethods: String::from_utf8_lossy(r.string()?).into_owned(),
            }
        }
        "hostbased" => Method::Hostbased {
            alg: r.utf8()?.to_owned(),
            key_blob: r.string()?.to_vec(),
            client_host: String::from_utf8_lossy(r.string()?).into_owned(),
            client_user: String::from_utf8_lossy(r.string()?).into_owned(),
            signature: r.string()?.to_vec(),
        },
        other => Method::Other(other.to_owned()),
    };
    Ok(Request {
        user,
        service,
        method,
    })
}

pub fn failure(methods: &[&str], partial: bool) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.put_u8(msg::USERAUTH_FAILURE);
    m.put_name_list(methods);
    m.put_bool(partial);
    m
}

pub fn success() -> Vec<u8> {
    vec![msg::USERAUTH_SUCCESS]
}

pub fn banner(text: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(9 + text.len());
    m.put_u8(msg::USERAUTH_BANNER);
    m.put_str(text);
    m.put_str("");
    m
}

pub fn pk_ok(alg: &str, key_blob: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(9 + alg.len() + key_blob.len());
    m.put_u8(msg::USERAUTH_PK_OK);
    m.put_str(alg);
    m.put_string(key_blob);
    m
}

/// SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2).
pub fn info_request(name: &str, instruction: &str, prompts: &[(&str, bool)]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.put_u8(msg::USERAUTH_INFO_REQUEST);
    m.put_str(name);
    m.put_str(instruction);
    m.put_str("");
    m.put_u32(prompts.len() as u32);
    for (p, echo) in prompts {
        m.put_str(p);
        m.put_bool(*echo);
    }
    m
}

/// Parse SSH_MSG_USERAUTH_INFO_RESPONSE; at most `expected` answers are accepted.
pub fn parse_info_response(
    payload: &[u8],
    expected: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, Error> {
    let (&ty, body) = payload.split_first().ok_or(Error::Truncated)?;
    if ty != msg::USERAUTH_INFO_RESPONSE {
        return Err(Error::Unexpected {
            got: ty,
            state: "keyboard-interactive",
        });
    }
    let mut r = Reader::new(body);
    let n = r.u32()? as usize;
    if n != expected {
        return Err(Error::Protocol(format!(
            "wrong number of replies: {n} != {expected}"
        )));
    }
    (0..n)
        .map(|_| Ok(Zeroizing::new(r.string()?.to_vec())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_change_round_trips() {
        let m = passwd_changereq("Your password has expired.");
        match parse_reply(&m, Pending::Password).unwrap() {
            Reply::PasswdChangeReq { prompt } => assert_eq!(prompt, "Your password has expired."),
            r => panic!("{r:?}"),
        }
        let m = request_password_change("alice", SERVICE_CONNECTION, b"old", b"new");
        let req = parse_request(&m).unwrap();
        assert_eq!(req.user, "alice");
        match req.method {
            Method::Password {
                password,
                new_password,
            } => {
                assert_eq!(&password[..], b"old");
                assert_eq!(new_password.as_deref().map(|v| &v[..]), Some(&b"new"[..]));
            }
            m => panic!("{m:?}"),
        }
        // The plain request says "no change" and carries one password.
        let req = parse_request(&request_password("alice", SERVICE_CONNECTION, b"pw")).unwrap();
        assert!(matches!(
            req.method,
            Method::Password {
                new_password: None,
                ..
            }
        ));
    }

    #[test]
    fn signed_request_is_signed_data_without_session_id_plus_signature() {
        let d = publickey_signed_data(
            b"sid",
            "alice",
            SERVICE_CONNECTION,
            "ssh-ed25519",
            b"blob",
            None,
        );
        let m = request_publickey_signed(&d, b"sig").unwrap();
        let req = parse_request(&m).unwrap();
        assert_eq!(req.user, "alice");
        match req.method {
            Method::PublicKey {
                alg,
                key_blob,
                signature,
                hostbound,
            } => {
                assert_eq!(alg, "ssh-ed25519");
                assert_eq!(key_blob, b"blob");
                assert_eq!(signature.as_deref(), Some(&b"sig"[..]));
                assert_eq!(hostbound, None);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn info_request_round_trip_and_prompt_bound() {
        let m = info_request("n", "i", &[("Password: ", false), ("Code: ", true)]);
        let r = parse_reply(&m, Pending::KeyboardInteractive).unwrap();
        assert_eq!(
            r,
            Reply::InfoRequest {
                name: "n".into(),
                instruction: "i".into(),
                prompts: vec![("Password: ".into(), false), ("Code: ".into(), true)]
            }
        );
        let mut bad = vec![msg::USERAUTH_INFO_REQUEST];
        for _ in 0..3 {
            bad.put_str("");
        }
        bad.put_u32(u32::MAX);
        assert!(parse_reply(&bad, Pending::KeyboardInteractive).is_err());
    }
}
