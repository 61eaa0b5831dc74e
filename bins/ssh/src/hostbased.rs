//! Hostbased authentication on the client side (RFC 4252 §9, as OpenSSH's ssh does
//! it): the machine's public host keys and certificates from /etc/ssh, tried in the
//! order of HostbasedAcceptedAlgorithms, each signed by OpenSSH's setuid
//! `ssh-keysign` helper, which alone can read the private host keys and which checks
//! the request against the connection socket it is handed (its local name) and the
//! invoking user before it signs.
//!
//! The helper's protocol (OpenSSH `sshconnect2.c` ssh_keysign, `msg.c`): ssh writes
//! one message `u32 length, u8 version (2), u32 socket fd number, string data` on the
//! helper's stdin, with the connection socket open as that fd number; the helper
//! answers `u32 length, u8 version, string signature` on its stdout and exits 0.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::Path;
use std::process::{Command, Stdio};

use oxssh_config::ClientConfig as Options;
use oxssh_proto::hostkey::SigAlg;
use ssh_key::PublicKey;

use crate::identity;

/// Where OpenSSH's packages install the helper (`_PATH_SSH_KEY_SIGN`).
pub const KEYSIGN: &str = "/usr/lib/openssh/ssh-keysign";

/// The host key files, in OpenSSH's slot order (ECDSA, Ed25519, RSA).
const HOST_KEYS: [&str; 3] = [
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_rsa_key",
];

/// The helper protocol's version.
const VERSION: u8 = 2;

/// The descriptor number the helper finds the connection socket under (stderr + 1).
const SOCK_FD: RawFd = 3;

/// Bound on a helper reply (`ssh_msg_recv`'s own limit).
const MAX_REPLY: usize = 256 * 1024;

/// The host keys not yet tried, and where the walk over the algorithms stands.
pub struct HostKeys {
    keys: Vec<Option<PublicKey>>,
    algs: Vec<String>,
    next_alg: usize,
}

impl HostKeys {
    /// Certificates first, then plain keys, as OpenSSH loads them when
    /// HostbasedAuthentication is on; files that are missing or unreadable are skipped.
    pub fn load(o: &Options) -> HostKeys {
        let mut keys = Vec::new();
        for base in HOST_KEYS {
            let path = format!("{base}-cert");
            if let Some(k) = identity::load_public(Path::new(&path)) {
                if k.key_data().is_certificate() {
                    tracing::debug!("hostbased cert \"{base}\" in slot {}", keys.len());
                    keys.push(Some(k));
                }
            }
        }
        for base in HOST_KEYS {
            if let Some(k) = identity::load_public(Path::new(base)) {
                if !k.key_data().is_certificate() {
                    tracing::debug!("hostbased pubkey \"{base}\" in slot {}", keys.len());
                    keys.push(Some(k));
                }
            }
        }
        if keys.is_empty() {
            tracing::debug!(
                "HostbasedAuthentication enabled but no local public host keys could be loaded."
            );
        }
        HostKeys {
            keys,
            algs: o
                .hostbased_accepted_algorithms
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            next_alg: 0,
        }
    }

    /// The next key to offer and the algorithm to sign with: for each algorithm of
    /// HostbasedAcceptedAlgorithms in turn, each untried key that can sign with it.
    /// Each key is offered at most once.
    pub fn next(&mut self) -> Option<(SigAlg, PublicKey)> {
        while let Some(name) = self.algs.get(self.next_alg) {
            if let Some(alg) = SigAlg::from_name(name) {
                tracing::debug!("userauth_hostbased: trying key type {name}");
                let found = self.keys.iter_mut().find(|k| {
                    k.as_ref()
                        .is_some_and(|k| SigAlg::for_key(k).contains(&alg))
                });
                if let Some(key) = found.and_then(Option::take) {
                    return Some((alg, key));
                }
            }
            self.next_alg += 1;
        }
        None
    }
}

/// The client host name sent in the request, without its trailing dot: the name a
/// reverse lookup gives the connection's local address, else (no such name, or no
/// socket: a ProxyCommand's pipe) this machine's host name — OpenSSH's
/// `get_local_name`. ssh-keysign computes the same from the descriptor it is handed
/// and refuses to sign anything else.
pub fn local_name(local: Option<IpAddr>) -> String {
    local
        .and_then(|ip| oxssh_sys::reverse_name(ip.to_canonical()))
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "UNKNOWN".into())
        })
}

/// Have ssh-keysign sign `data` with the host key it names, handing it the connection
/// socket `sock`. Failures are logged in OpenSSH's words; the helper prints its own.
pub fn keysign(sock: RawFd, data: &[u8]) -> Option<Vec<u8>> {
    keysign_with(Path::new(KEYSIGN), sock, data)
        .map_err(|e| tracing::error!("ssh_keysign: {e}"))
        .ok()
}

fn keysign_with(helper: &Path, sock: RawFd, data: &[u8]) -> Result<Vec<u8>, String> {
    if let Err(e) = std::fs::metadata(helper) {
        return Err(format!("not installed: {}", crate::client::io_text(&e)));
    }
    let mut request = Vec::with_capacity(data.len() + 13);
    let body_len = 1 + 4 + 4 + data.len();
    let too_long = || "request too long".to_owned();
    request.extend_from_slice(
        &u32::try_from(body_len)
            .map_err(|_| too_long())?
            .to_be_bytes(),
    );
    request.push(VERSION);
    request.extend_from_slice(&(SOCK_FD as u32).to_be_bytes());
    request.extend_from_slice(
        &u32::try_from(data.len())
            .map_err(|_| too_long())?
            .to_be_bytes(),
    );
    request.extend_from_slice(data);

    let mut cmd = Command::new(helper);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    oxssh_sys::pass_fd(&mut cmd, sock, SOCK_FD);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("exec({}): {}", helper.display(), crate::client::io_text(&e)))?;
    // The request is small (a few KiB): it fits the pipe whether or not the helper
    // has started reading.
    if let Some(mut stdin) = child.stdin.take() {
        if stdin.write_all(&request).is_err() {
            tracing::debug!("ssh_keysign: couldn't send request");
        }
    }
    let reply = child.stdout.take().map(read_reply);
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    let reply = match reply {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            if let Some(e) = e {
                tracing::error!("ssh_msg_recv: {e}");
            }
            return Err("no reply".into());
        }
        None => return Err("no reply".into()),
    };
    match status.code() {
        None => return Err("exited abnormally".into()),
        Some(0) => {}
        Some(n) => return Err(format!("exited with status {n}")),
    }
    let (&version, rest) = reply.split_first().ok_or("buffer error")?;
    if version != VERSION {
        return Err("bad version".into());
    }
    let mut r = oxssh_proto::wire::Reader::new(rest);
    r.string()
        .map(<[u8]>::to_vec)
        .map_err(|_| "buffer error: incomplete message".into())
}

/// One helper message: its body after the length. `Err(None)` when the helper closed
/// its output first (it printed why), `Err(Some(text))` for a bad length.
fn read_reply(mut out: impl Read) -> Result<Vec<u8>, Option<String>> {
    let mut len = [0u8; 4];
    out.read_exact(&mut len).map_err(|_| None)?;
    let len = u32::from_be_bytes(len);
    if len as usize > MAX_REPLY {
        return Err(Some(format!("read: bad msg_len {len}")));
    }
    let mut body = vec![0u8; len as usize];
    out.read_exact(&mut body)
        .map_err(|e| Some(format!("read: {}", crate::client::io_text(&e))))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A stand-in helper: a shell script that checks the request's framing and the
    /// socket it was handed, then answers as `reply` says.
    fn helper(dir: &Path, reply: &str) -> std::path::PathBuf {
        let p = dir.join("keysign");
        oxssh_testkit::write_script(&p, reply);
        p
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("oxssh-keysign-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_request_carries_version_socket_number_and_data_and_the_socket_is_fd_3() {
        use std::os::fd::AsRawFd;
        let dir = tmp("request");
        let seen = dir.join("seen");
        // Save the request, check fd 3 is a socket, answer version 2 + string "SIG".
        let script = format!(
            "cat > {0}; case \"$(readlink /proc/$$/fd/3)\" in socket:*) ;; *) exit 9;; esac; printf '\\000\\000\\000\\010\\002\\000\\000\\000\\003SIG'",
            seen.display()
        );
        let h = helper(&dir, &script);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let sig = keysign_with(&h, sock.as_raw_fd(), b"data").unwrap();
        assert_eq!(sig, b"SIG");
        let req = std::fs::read(&seen).unwrap();
        assert_eq!(
            req,
            [&[0, 0, 0, 13, 2, 0, 0, 0, 3, 0, 0, 0, 4][..], b"data"].concat()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn helper_failures_are_reported_as_openssh_words_them() {
        use std::os::fd::AsRawFd;
        let dir = tmp("failures");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let fd = sock.as_raw_fd();
        let missing = dir.join("nope");
        assert_eq!(
            keysign_with(&missing, fd, b"x").unwrap_err(),
            "not installed: No such file or directory"
        );
        let silent = helper(&dir, "cat >/dev/null; exit 1");
        assert_eq!(keysign_with(&silent, fd, b"x").unwrap_err(), "no reply");
        let failed = helper(
            &dir,
            "cat >/dev/null; printf '\\000\\000\\000\\010\\002\\000\\000\\000\\003SIG'; exit 3",
        );
        assert_eq!(
            keysign_with(&failed, fd, b"x").unwrap_err(),
            "exited with status 3"
        );
        let version = helper(
            &dir,
            "cat >/dev/null; printf '\\000\\000\\000\\010\\001\\000\\000\\000\\003SIG'",
        );
        assert_eq!(keysign_with(&version, fd, b"x").unwrap_err(), "bad version");
        // A length past the bound is refused before anything is allocated for it.
        let huge = helper(&dir, "cat >/dev/null; printf '\\177\\377\\377\\377'");
        assert_eq!(keysign_with(&huge, fd, b"x").unwrap_err(), "no reply");
        let short = helper(
            &dir,
            "cat >/dev/null; printf '\\000\\000\\000\\005\\002\\000\\000\\000\\011'",
        );
        assert_eq!(
            keysign_with(&short, fd, b"x").unwrap_err(),
            "buffer error: incomplete message"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
