//! The known_hosts engine (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed
//! (`|1|salt|hash`) host names, wildcard and negated patterns, `[host]:port`,
//! `@revoked` and `@cert-authority` markers, and the lookup the client does for a
//! host key: found, changed, revoked, or unknown — with the file and line.
//!
//! Like OpenSSH, a line that does not parse is skipped, never fatal. Reading the files
//! is the caller's business; this module takes their text.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use ssh_key::PublicKey;

use crate::pattern::{ListMatch, match_list};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Hosts {
    Patterns(String),
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub marker: Marker,
    hosts: Hosts,
    pub key: PublicKey,
    /// 1-based line number in its file.
    pub line: usize,
}

/// One parsed known_hosts file.
#[derive(Clone, Debug, Default)]
pub struct KnownHosts {
    pub path: String,
    pub entries: Vec<Entry>,
}

/// The outcome of looking up a host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The key is listed for this host.
    Found { path: String, line: usize },
    /// The key is marked `@revoked`.
    Revoked { path: String, line: usize },
    /// The host is listed with a different key of the same type.
    Changed { path: String, line: usize },
    /// The host is not listed with a key of this type.
    NotFound,
}

/// The name a host is looked up and recorded under: `host`, or `[host]:port` when the
/// port is not 22.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

fn hash_name(salt: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).ok()?;
    mac.update(name.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

/// `|1|salt|hash` for `name` with a fresh 20-byte salt (HashKnownHosts).
pub fn hashed_name(name: &str, salt: &[u8; 20]) -> String {
    let hash = hash_name(salt, name).unwrap_or_default();
    format!(
        "|1|{}|{}",
        Base64::encode_string(salt),
        Base64::encode_string(&hash)
    )
}

/// A known_hosts line for `names` (comma-joined) and `key`, without a comment.
pub fn format_line(names: &str, key: &PublicKey) -> Option<String> {
    let mut k = key.clone();
    k.set_comment("");
    Some(format!("{names} {}", k.to_openssh().ok()?.trim_end()))
}

impl KnownHosts {
    /// Parse a file's text. Unparseable lines are skipped, as OpenSSH does.
    pub fn parse(path: &str, text: &str) -> KnownHosts {
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| parse_line(l, i + 1))
            .collect();
        KnownHosts {
            path: path.to_owned(),
            entries,
        }
    }

    fn matches(hosts: &Hosts, names: &[&str]) -> bool {
        match hosts {
            Hosts::Hashed { salt, hash } => names
                .iter()
                .any(|n| hash_name(salt, n).is_some_and(|h| h == *hash)),
            Hosts::Patterns(list) => {
                let mut any = false;
                for n in names {
                    match match_list(list, n, true) {
                        ListMatch::Negated => return false,
                        ListMatch::Match => any = true,
                        ListMatch::NoMatch => {}
                    }
                }
                any
            }
        }
    }

    /// Look up `key` for a host known by any of `names` (its lookup name, and its
    /// address when CheckHostIP applies).
    pub fn check(&self, names: &[&str], key: &PublicKey) -> Check {
        let mut changed = None;
        for e in &self.entries {
            if e.marker == Marker::CertAuthority || !Self::matches(&e.hosts, names) {
                continue;
            }
            if e.key.key_data() == key.key_data() {
                let (path, line) = (self.path.clone(), e.line);
                return match e.marker {
                    Marker::Revoked => Check::Revoked { path, line },
                    _ => Check::Found { path, line },
                };
            }
            if e.marker == Marker::None && e.key.algorithm() == key.algorithm() && changed.is_none()
            {
                changed = Some(Check::Changed {
                    path: self.path.clone(),
                    line: e.line,
                });
            }
        }
        changed.unwrap_or(Check::NotFound)
    }

    /// The line of a `@cert-authority` entry for one of `names` whose key is the CA
    /// key `ca` (host certificates).
    pub fn cert_authority(&self, names: &[&str], ca: &PublicKey) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| {
                e.marker == Marker::CertAuthority
                    && e.key.key_data() == ca.key_data()
                    && Self::matches(&e.hosts, names)
            })
            .map(|e| e.line)
    }

    /// The line of a `@revoked` entry for one of `names` naming any of `keys` (for a
    /// host certificate: the certified key and its CA).
    pub fn revoked(&self, names: &[&str], keys: &[&PublicKey]) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| {
                e.marker == Marker::Revoked
                    && keys.iter().any(|k| k.key_data() == e.key.key_data())
                    && Self::matches(&e.hosts, names)
            })
            .map(|e| e.line)
    }

    /// Key types listed for a host (to order HostKeyAlgorithms, as OpenSSH does).
    pub fn key_types_for(&self, names: &[&str]) -> Vec<ssh_key::Algorithm> {
        let mut v = Vec::new();
        for e in &self.entries {
            if e.marker == Marker::None
                && Self::matches(&e.hosts, names)
                && !v.contains(&e.key.algorithm())
            {
                v.push(e.key.algorithm());
            }
        }
        v
    }
}

fn parse_line(line: &str, n: usize) -> Option<Entry> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut parts = line.split_whitespace();
    let mut first = parts.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = parts.next()?;
    }
    let hosts = if let Some(h) = first.strip_prefix("|1|") {
        let (salt, hash) = h.split_once('|')?;
        Hosts::Hashed {
            salt: Base64::decode_vec(salt).ok()?,
            hash: Base64::decode_vec(hash).ok()?,
        }
    } else {
        Hosts::Patterns(first.to_owned())
    };
    let ty = parts.next()?;
    let b64 = parts.next()?;
    let key = PublicKey::from_openssh(&format!("{ty} {b64}")).ok()?;
    Some(Entry {
        marker,
        hosts,
        key,
        line: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJa0lYcV5hj4k3CEeaHZZVA4eu8qsyzaDH3s2c7OzNUh";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn plain_port_and_hashed_lookups() {
        let salt = [7u8; 20];
        let text = format!(
            "# comment\nhost1,host2 {K1}\n[host3]:2222 {K1}\n{} {K2}\nbad line\n",
            hashed_name("secret.example", &salt)
        );
        let kh = KnownHosts::parse("kh", &text);
        assert_eq!(
            kh.check(&["host2"], &key(K1)),
            Check::Found {
                path: "kh".into(),
                line: 2
            }
        );
        assert_eq!(
            kh.check(&["host2"], &key(K2)),
            Check::Changed {
                path: "kh".into(),
                line: 2
            }
        );
        assert_eq!(
            kh.check(&[&lookup_name("host3", 2222)], &key(K1)),
            Check::Found {
                path: "kh".into(),
                line: 3
            }
        );
        assert_eq!(kh.check(&["host3"], &key(K1)), Check::NotFound);
        assert_eq!(
            kh.check(&["secret.example"], &key(K2)),
            Check::Found {
                path: "kh".into(),
                line: 4
            }
        );
    }

    #[test]
    fn revoked_and_negation() {
        let text = format!("@revoked * {K2}\n*.ex.com,!bad.ex.com {K1}\n");
        let kh = KnownHosts::parse("kh", &text);
        assert_eq!(
            kh.check(&["a"], &key(K2)),
            Check::Revoked {
                path: "kh".into(),
                line: 1
            }
        );
        assert!(matches!(
            kh.check(&["a.ex.com"], &key(K1)),
            Check::Found { .. }
        ));
        assert_eq!(kh.check(&["bad.ex.com"], &key(K1)), Check::NotFound);
    }
}
