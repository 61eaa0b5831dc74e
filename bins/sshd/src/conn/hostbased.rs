//! Hostbased authentication's policy (RFC 4252 §9; OpenSSH's auth2-hostbased.c
//! `hostbased_key_allowed`, auth-rhosts.c `auth_rhosts2` and auth.c
//! `check_key_in_hostfiles`): may `client_user` on the client host log in as this
//! account — `/etc/hosts.equiv` and `/etc/ssh/shosts.equiv` (never for root), then
//! `~/.shosts` and `~/.rhosts` as IgnoreRhosts allows, with StrictModes' checks of the
//! home directory and the files — and is the host key the one `/etc/ssh/ssh_known_hosts`
//! or `~/.ssh/known_hosts` (unless IgnoreUserKnownHosts) list for that host, or a host
//! certificate signed by a CA they mark `@cert-authority`.
//!
//! The client host is the peer's address (UseDNS is not consulted: names are never
//! looked up), or, with HostbasedUsesNameFromPacketOnly, the name the client sent.
//! The request's signature is checked by the caller.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oxssh_config::IgnoreRhosts;
use oxssh_keys::cert::{Certificate, Policy};
use oxssh_keys::known_hosts::{Check, KnownHosts};
use ssh_key::{HashAlg, PublicKey};

use super::{Peer, key_label};
use crate::config::ServerConfig;

const HOSTS_EQUIV: &str = "/etc/hosts.equiv";
const SHOSTS_EQUIV: &str = "/etc/ssh/shosts.equiv";
const SYSTEM_HOSTFILE: &str = "/etc/ssh/ssh_known_hosts";
const SYSTEM_HOSTFILE2: &str = "/etc/ssh/ssh_known_hosts2";

/// `check_rhosts_file`: whether `path` grants `client_user` from `hostname`/`ipaddr`
/// the account `server_user`. Lines are `host [user]`, `-` negates, `+` alone and
/// netgroups (`@group`) are not honoured.
fn rhosts_file_allows(
    path: &Path,
    hostname: &str,
    ipaddr: &str,
    client_user: &str,
    server_user: &str,
) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        tracing::info!(
            "User {server_user} hosts file {} is not a regular file",
            path.display()
        );
        return false;
    }
    let Some(text) = super::read_user_file(path) else {
        return false;
    };
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '\t']);
        if t.is_empty() || t.starts_with('#') || t.starts_with("NO_PLUS") {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let (host, user) = match words.as_slice() {
            [h] => (*h, server_user),
            [h, u] => (*h, *u),
            _ => continue,
        };
        let mut negated = false;
        let host = if let Some(h) = host.strip_prefix('-') {
            negated = true;
            h
        } else {
            host.strip_prefix('+').unwrap_or(host)
        };
        let user = if let Some(u) = user.strip_prefix('-') {
            negated = true;
            u
        } else {
            user.strip_prefix('+').unwrap_or(user)
        };
        if host.is_empty() || user.is_empty() {
            continue;
        }
        // Netgroups are not supported: such a line matches nothing.
        if host.starts_with('@') || user.starts_with('@') {
            continue;
        }
        if !host.eq_ignore_ascii_case(hostname) && host != ipaddr {
            continue;
        }
        if user != client_user {
            continue;
        }
        if negated {
            tracing::debug!("Matched negative entry in {}.", path.display());
            return false;
        }
        return true;
    }
    false
}

/// Owned by root or the user, and writable by nobody else.
fn safe_owner_mode(meta: &std::fs::Metadata, uid: u32) -> bool {
    (meta.uid() == 0 || meta.uid() == uid) && meta.mode() & 0o022 == 0
}

/// `auth_rhosts2`.
pub(super) fn rhosts_allow(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    client_user: &str,
    hostname: &str,
    ipaddr: &str,
) -> bool {
    tracing::trace!(
        "auth_rhosts2: clientuser {client_user} hostname {hostname} ipaddr {ipaddr} [preauth]"
    );
    const USER_FILES: [&str; 2] = [".shosts", ".rhosts"];
    let any_user_file = USER_FILES.iter().any(|f| pw.dir.join(f).exists());
    if !any_user_file && !Path::new(HOSTS_EQUIV).exists() && !Path::new(SHOSTS_EQUIV).exists() {
        tracing::trace!("auth_rhosts2: no hosts access files exist [preauth]");
        return false;
    }
    if pw.uid == 0 {
        tracing::trace!("auth_rhosts2: root user, ignoring system hosts files [preauth]");
    } else {
        for f in [HOSTS_EQUIV, SHOSTS_EQUIV] {
            if rhosts_file_allows(Path::new(f), hostname, ipaddr, client_user, &pw.name) {
                return true;
            }
        }
    }
    let Ok(home) = std::fs::metadata(&pw.dir) else {
        tracing::info!(
            "Rhosts authentication refused for {}: no home directory {}",
            pw.name,
            pw.dir.display()
        );
        return false;
    };
    if cfg.strict_modes && !safe_owner_mode(&home, pw.uid) {
        tracing::info!(
            "Rhosts authentication refused for {}: bad ownership or modes for home directory.",
            pw.name
        );
        return false;
    }
    for f in USER_FILES {
        let path = pw.dir.join(f);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if cfg.strict_modes && !safe_owner_mode(&meta, pw.uid) {
            tracing::info!(
                "Rhosts authentication refused for {}: bad modes for {}",
                pw.name,
                path.display()
            );
            continue;
        }
        let ignored = match cfg.ignore_rhosts {
            IgnoreRhosts::Yes => true,
            IgnoreRhosts::ShostsOnly => f != ".shosts",
            IgnoreRhosts::No => false,
        };
        if ignored {
            tracing::debug!("Server has been configured to ignore {f}.");
            continue;
        }
        if rhosts_file_allows(&path, hostname, ipaddr, client_user, &pw.name) {
            return true;
        }
    }
    false
}

/// What the known_hosts files say about the key.
#[derive(PartialEq, Eq)]
enum Status {
    Ok,
    New,
    Other,
}

/// `check_key_in_hostfiles` for one pair of files.
fn in_hostfiles(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    key: &PublicKey,
    cert: Option<&Certificate>,
    host: &str,
    system: &str,
    user: &str,
) -> Status {
    let mut files = vec![system.to_owned()];
    if !cfg.ignore_user_known_hosts {
        let path = pw.dir.join(user);
        if let Ok(meta) = std::fs::metadata(&path) {
            if cfg.strict_modes && !safe_owner_mode(&meta, pw.uid) {
                tracing::info!(
                    "Authentication refused for {}: bad owner or modes for {}",
                    pw.name,
                    path.display()
                );
            } else {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    let mut status = Status::New;
    for f in files {
        let Some(text) = super::read_user_file(Path::new(&f)) else {
            continue;
        };
        let kh = KnownHosts::parse(&f, &text);
        let names = [host];
        let keys: Vec<&PublicKey> = match cert {
            Some(c) => vec![&c.key, &c.signature_key],
            None => vec![key],
        };
        if kh.revoked(&names, &keys).is_some() {
            return Status::Other;
        }
        match cert {
            Some(c) => {
                if kh.cert_authority(&names, &c.signature_key).is_some() {
                    status = Status::Ok;
                }
            }
            None => match kh.check(&names, key) {
                Check::Found { .. } => status = Status::Ok,
                Check::Revoked { .. } => return Status::Other,
                Check::Changed { .. } if status == Status::New => status = Status::Other,
                _ => {}
            },
        }
    }
    status
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `hostbased_key_allowed`: `client_host` as sent (a trailing dot is dropped).
pub(super) fn key_allowed(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    peer: &Peer,
    client_user: &str,
    client_host: &str,
    key: &PublicKey,
    cert: Option<&Certificate>,
) -> bool {
    if super::cert::is_revoked(cfg, key, cert) {
        return false;
    }
    let ipaddr = peer.ip();
    // UseDNS is not consulted: the canonical name is the address.
    let resolved = ipaddr.clone();
    tracing::trace!(
        "hostbased_key_allowed: chost {client_host} resolvedname {resolved} ipaddr {ipaddr} [preauth]"
    );
    let chost = client_host.strip_suffix('.').unwrap_or(client_host);
    let lookup = if cfg.hostbased_uses_name_from_packet_only {
        if !rhosts_allow(cfg, pw, client_user, chost, chost) {
            tracing::trace!(
                "hostbased_key_allowed: auth_rhosts2 refused user \"{client_user}\" host \"{chost}\" (from packet) [preauth]"
            );
            return false;
        }
        chost.to_owned()
    } else {
        if !resolved.eq_ignore_ascii_case(chost) {
            tracing::info!(
                "userauth_hostbased mismatch: client sends {chost}, but we resolve {ipaddr} to {resolved}"
            );
        }
        if !rhosts_allow(cfg, pw, client_user, &resolved, &ipaddr) {
            tracing::trace!(
                "hostbased_key_allowed: auth_rhosts2 refused user \"{client_user}\" host \"{resolved}\" addr \"{ipaddr}\" [preauth]"
            );
            return false;
        }
        resolved
    };
    tracing::trace!("hostbased_key_allowed: access allowed by auth_rhosts2 [preauth]");
    if let Some(c) = cert {
        let policy = Policy {
            want_host: true,
            require_principal: false,
            wildcard: false,
            name: Some(&lookup),
            now: now(),
        };
        if let Err(reason) = c.check_authority(&policy) {
            tracing::error!("{reason}");
            return false;
        }
    }
    let mut status = in_hostfiles(
        cfg,
        pw,
        key,
        cert,
        &lookup,
        SYSTEM_HOSTFILE,
        ".ssh/known_hosts",
    );
    if status == Status::New {
        status = in_hostfiles(
            cfg,
            pw,
            key,
            cert,
            &lookup,
            SYSTEM_HOSTFILE2,
            ".ssh/known_hosts2",
        );
    }
    if status != Status::Ok {
        return false;
    }
    match cert {
        Some(c) => tracing::info!(
            "Accepted certificate ID \"{}\" signed by {} CA {} from {client_user}@{lookup}",
            c.key_id,
            key_label(&c.signature_key),
            c.signature_key.fingerprint(HashAlg::Sha256)
        ),
        None => tracing::info!(
            "Accepted {} public key {} from {client_user}@{lookup}",
            key_label(key),
            key.fingerprint(HashAlg::Sha256)
        ),
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file(text: &str) -> (std::path::PathBuf, impl Drop) {
        struct Rm(std::path::PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("oxssh-shosts-{}-{n}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        (p.clone(), Rm(p))
    }

    #[test]
    fn rhosts_lines_match_host_and_user_with_negation() {
        let (p, _rm) = file(
            "# comment\n\n-evil.example\nclient.example alice\n+other.example\n\
             10.0.0.1 -bob\n10.0.0.1 bob\nwild.example + \n@netgroup alice\n",
        );
        let ok = |h: &str, ip: &str, cu: &str, su: &str| rhosts_file_allows(&p, h, ip, cu, su);
        assert!(ok("client.example", "192.0.2.1", "alice", "carol"));
        assert!(ok("CLIENT.example", "192.0.2.1", "alice", "carol"));
        assert!(!ok("client.example", "192.0.2.1", "mallory", "carol"));
        // A host-only line admits the same user name.
        assert!(ok("other.example", "192.0.2.1", "carol", "carol"));
        assert!(!ok("other.example", "192.0.2.1", "dave", "carol"));
        // The first matching line decides: the negated one comes first.
        assert!(!ok("evil.example", "192.0.2.1", "carol", "carol"));
        assert!(!ok("x", "10.0.0.1", "bob", "carol"));
        // "+" alone and netgroups grant nothing.
        assert!(!ok("wild.example", "192.0.2.1", "anyone", "carol"));
        assert!(!ok("netgroup", "192.0.2.1", "alice", "carol"));
    }
}
