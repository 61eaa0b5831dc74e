//! The few ssh-agent requests ssh-keygen makes (PROTOCOL.agent): list identities and
//! sign, for `-Y sign` with a key held by the agent and `-s … -U` (a CA key in the
//! agent). Replies are bounded; any failure means "not available".

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use oxssh_proto::wire::{Put, Reader};

const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
const RSA_SHA2_256: u32 = 2;
const RSA_SHA2_512: u32 = 4;
/// Replies larger than this are refused (OpenSSH's own limit).
const MAX_REPLY: usize = 256 * 1024;

fn request(msg: &[u8]) -> Option<Vec<u8>> {
    let path = std::env::var_os("SSH_AUTH_SOCK")?;
    let mut s = UnixStream::connect(path).ok()?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut framed = Vec::with_capacity(msg.len() + 4);
    framed.put_string(msg);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let len = usize::try_from(u32::from_be_bytes(len)).ok()?;
    if len > MAX_REPLY {
        return None;
    }
    let mut reply = vec![0u8; len];
    s.read_exact(&mut reply).ok()?;
    Some(reply)
}

/// Does the agent hold this key (or certificate)?
pub fn has_key(blob: &[u8]) -> bool {
    let Some(reply) = request(&[REQUEST_IDENTITIES]) else {
        return false;
    };
    let mut r = Reader::new(&reply);
    if r.u8().ok() != Some(IDENTITIES_ANSWER) {
        return false;
    }
    let Ok(n) = r.u32() else { return false };
    for _ in 0..n {
        let (Ok(k), Ok(_)) = (r.string(), r.string()) else {
            return false;
        };
        if k == blob {
            return true;
        }
    }
    false
}

/// Sign `data` with the agent's key; `alg` picks the RSA hash (`rsa-sha2-256`/`-512`).
pub fn sign(blob: &[u8], data: &[u8], alg: Option<&str>) -> Result<Vec<u8>, String> {
    let mut m = vec![SIGN_REQUEST];
    m.put_string(blob);
    m.put_string(data);
    m.put_u32(match alg {
        Some("rsa-sha2-512") => RSA_SHA2_512,
        Some("rsa-sha2-256") => RSA_SHA2_256,
        _ => 0,
    });
    let reply = request(&m).ok_or("communication with agent failed")?;
    let mut r = Reader::new(&reply);
    if r.u8().ok() != Some(SIGN_RESPONSE) {
        return Err("agent refused operation".into());
    }
    r.string()
        .map(<[u8]>::to_vec)
        .map_err(|_| "invalid format".into())
}
