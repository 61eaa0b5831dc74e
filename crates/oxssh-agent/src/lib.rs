//! oxssh-agent: the ssh-agent protocol (OpenSSH's `PROTOCOL.agent`, published as
//! draft-miller-ssh-agent): the message codec, shared by clients and (later) the
//! agent, and a small async client over the agent's Unix socket.
//!
//! Messages travel as `uint32 length || byte type || contents`. This crate implements
//! the messages a client needs to authenticate — `SSH_AGENTC_REQUEST_IDENTITIES`,
//! `SSH_AGENTC_SIGN_REQUEST` (with the `SSH_AGENT_RSA_SHA2_256`/`_512` flags, §4.5.1)
//! and their answers, `SSH_AGENT_SUCCESS` and `SSH_AGENT_FAILURE`. Not here yet: adding
//! and removing keys, constraints, locking, extensions (the agent binary's issue).
//!
//! Decoding never panics and allocates no more than the message holds: a frame longer
//! than [`MAX_MESSAGE`] is refused before anything is read into memory.

#![forbid(unsafe_code)]

mod client;

pub use client::{Client, blocking};

use oxssh_proto::wire::{Put, Reader};

/// Largest message accepted (OpenSSH's `AGENT_MAX_LEN`).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Most identities accepted in one answer (OpenSSH's `MAX_AGENT_IDENTITIES`).
pub const MAX_IDENTITIES: u32 = 2048;

pub const SSH_AGENT_FAILURE: u8 = 5;
pub const SSH_AGENT_SUCCESS: u8 = 6;
pub const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
pub const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
pub const SSH_AGENTC_SIGN_REQUEST: u8 = 13;
pub const SSH_AGENT_SIGN_RESPONSE: u8 = 14;
/// `SSH2_AGENT_FAILURE` and `SSH_COM_AGENT2_FAILURE`: other agents' failure codes,
/// which OpenSSH's client also reads as failure.
pub const SSH2_AGENT_FAILURE: u8 = 30;
pub const SSH_COM_AGENT2_FAILURE: u8 = 102;

/// Sign-request flag: an `rsa-sha2-256` signature for an `ssh-rsa` key (RFC 8332).
pub const SSH_AGENT_RSA_SHA2_256: u32 = 0x02;
/// Sign-request flag: an `rsa-sha2-512` signature for an `ssh-rsa` key (RFC 8332).
pub const SSH_AGENT_RSA_SHA2_512: u32 = 0x04;

/// What can go wrong talking to an agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting, reading or writing the socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The agent announced a message longer than [`MAX_MESSAGE`].
    #[error("agent message too long ({0} bytes)")]
    TooLong(usize),
    /// A message did not parse.
    #[error("invalid format")]
    Format,
    /// An answer of another type than the request calls for.
    #[error("unexpected agent message type {0}")]
    Unexpected(u8),
    /// The agent refused (`SSH_AGENT_FAILURE`).
    #[error("agent refused operation")]
    Refused,
}

impl From<oxssh_proto::Error> for Error {
    fn from(_: oxssh_proto::Error) -> Self {
        Error::Format
    }
}

/// A key the agent holds: its wire blob (a key or a certificate) and its comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub key_blob: Vec<u8>,
    pub comment: String,
}

/// A client's message to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    RequestIdentities,
    /// `SSH_AGENTC_SIGN_REQUEST`: `string key blob || string data || uint32 flags`.
    Sign {
        key_blob: Vec<u8>,
        data: Vec<u8>,
        flags: u32,
    },
}

/// The agent's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `SSH_AGENT_SUCCESS`.
    Success,
    /// `SSH_AGENT_FAILURE` (or another agent's failure code).
    Failure,
    /// `SSH_AGENT_IDENTITIES_ANSWER`: `uint32 nkeys || (string blob || string comment)*`.
    Identities(Vec<Identity>),
    /// `SSH_AGENT_SIGN_RESPONSE`: `string signature` (`string alg || string sig`).
    Signature(Vec<u8>),
}

/// Frame a message body (type byte included) with its length.
fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(&body);
    out
}

/// The length a frame header announces, refused when above [`MAX_MESSAGE`] or zero.
pub fn frame_len(header: [u8; 4]) -> Result<usize, Error> {
    let n = u32::from_be_bytes(header) as usize;
    match n {
        0 => Err(Error::Format),
        n if n > MAX_MESSAGE => Err(Error::TooLong(n)),
        n => Ok(n),
    }
}

impl Request {
    /// The framed message (length prefix included).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Request::RequestIdentities => b.put_u8(SSH_AGENTC_REQUEST_IDENTITIES),
            Request::Sign {
                key_blob,
                data,
                flags,
            } => {
                b.put_u8(SSH_AGENTC_SIGN_REQUEST);
                b.put_string(key_blob);
                b.put_string(data);
                b.put_u32(*flags);
            }
        }
        frame(b)
    }

    /// Parse a message body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Request, Error> {
        let mut r = Reader::new(body);
        let req = match r.u8()? {
            SSH_AGENTC_REQUEST_IDENTITIES => Request::RequestIdentities,
            SSH_AGENTC_SIGN_REQUEST => {
                let key_blob = r.string()?.to_vec();
                let data = r.string()?.to_vec();
                let flags = r.u32()?;
                Request::Sign {
                    key_blob,
                    data,
                    flags,
                }
            }
            t => return Err(Error::Unexpected(t)),
        };
        r.finish()?;
        Ok(req)
    }
}

impl Response {
    /// The framed message (length prefix included).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Response::Success => b.put_u8(SSH_AGENT_SUCCESS),
            Response::Failure => b.put_u8(SSH_AGENT_FAILURE),
            Response::Identities(ids) => {
                b.put_u8(SSH_AGENT_IDENTITIES_ANSWER);
                b.put_u32(u32::try_from(ids.len()).unwrap_or(u32::MAX));
                for id in ids {
                    b.put_string(&id.key_blob);
                    b.put_str(&id.comment);
                }
            }
            Response::Signature(sig) => {
                b.put_u8(SSH_AGENT_SIGN_RESPONSE);
                b.put_string(sig);
            }
        }
        frame(b)
    }

    /// Parse a message body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Response, Error> {
        let mut r = Reader::new(body);
        let resp = match r.u8()? {
            SSH_AGENT_SUCCESS => Response::Success,
            SSH_AGENT_FAILURE | SSH2_AGENT_FAILURE | SSH_COM_AGENT2_FAILURE => Response::Failure,
            SSH_AGENT_IDENTITIES_ANSWER => {
                let n = r.u32()?;
                if n > MAX_IDENTITIES {
                    return Err(Error::Format);
                }
                // Grown per entry read: the count alone allocates nothing.
                let mut ids = Vec::new();
                for _ in 0..n {
                    let key_blob = r.string()?.to_vec();
                    // Comments are UTF-8 by convention only; keep what is there.
                    let comment = String::from_utf8_lossy(r.string()?).into_owned();
                    ids.push(Identity { key_blob, comment });
                }
                Response::Identities(ids)
            }
            SSH_AGENT_SIGN_RESPONSE => Response::Signature(r.string()?.to_vec()),
            t => return Err(Error::Unexpected(t)),
        };
        r.finish()?;
        Ok(resp)
    }
}

/// The sign-request flags for a signature algorithm name: the RSA SHA-2 flags for
/// `rsa-sha2-256`/`-512` (and their certificate names), none otherwise.
pub fn sign_flags(alg: &str) -> u32 {
    if alg.starts_with("rsa-sha2-512") {
        SSH_AGENT_RSA_SHA2_512
    } else if alg.starts_with("rsa-sha2-256") {
        SSH_AGENT_RSA_SHA2_256
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(framed: &[u8]) -> &[u8] {
        let n = frame_len(framed[..4].try_into().unwrap()).unwrap();
        assert_eq!(n, framed.len() - 4);
        &framed[4..]
    }

    #[test]
    fn requests_round_trip_with_openssh_bytes() {
        assert_eq!(Request::RequestIdentities.encode(), [0, 0, 0, 1, 11]);
        let sign = Request::Sign {
            key_blob: b"KEY".to_vec(),
            data: b"DATA".to_vec(),
            flags: SSH_AGENT_RSA_SHA2_512,
        };
        let framed = sign.encode();
        assert_eq!(
            framed,
            [
                0, 0, 0, 20, 13, 0, 0, 0, 3, b'K', b'E', b'Y', 0, 0, 0, 4, b'D', b'A', b'T', b'A',
                0, 0, 0, 4
            ]
        );
        assert_eq!(Request::decode(body(&framed)).unwrap(), sign);
    }

    #[test]
    fn responses_round_trip() {
        for r in [
            Response::Success,
            Response::Failure,
            Response::Identities(vec![
                Identity {
                    key_blob: vec![1, 2, 3],
                    comment: "a@b".into(),
                },
                Identity {
                    key_blob: vec![],
                    comment: String::new(),
                },
            ]),
            Response::Signature(vec![9; 70]),
        ] {
            assert_eq!(Response::decode(body(&r.encode())).unwrap(), r);
        }
        assert_eq!(Response::decode(&[30]).unwrap(), Response::Failure);
    }

    #[test]
    fn hostile_messages_are_errors_not_panics_or_allocations() {
        assert!(matches!(frame_len([0, 0x10, 0, 0]), Err(Error::TooLong(_))));
        assert!(frame_len([0, 0, 0, 0]).is_err());
        // Claims four billion identities in five bytes.
        assert!(Response::decode(&[12, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Response::decode(&[12, 0, 0, 0, 1, 0, 0, 0, 9]).is_err());
        assert!(Response::decode(&[14, 0, 0, 0, 1, 7, 0]).is_err());
        assert!(Response::decode(&[]).is_err());
        assert!(matches!(
            Response::decode(&[99]),
            Err(Error::Unexpected(99))
        ));
        assert_eq!(
            sign_flags("rsa-sha2-256-cert-v01@openssh.com"),
            SSH_AGENT_RSA_SHA2_256
        );
        assert_eq!(sign_flags("ssh-ed25519"), 0);
    }
}
