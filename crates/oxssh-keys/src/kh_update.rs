//! UpdateHostKeys (ssh_config(5); OpenSSH's hostkeys-00@openssh.com extension,
//! draft-miller-sshm-hostkey-update): from the user's known_hosts files, decide which of
//! the keys a server announced are new and which recorded keys it no longer holds, and
//! rewrite a known_hosts file so that it lists exactly the server's keys for the host.
//!
//! Like OpenSSH, lines with `@cert-authority`/`@revoked` markers, wildcards or hand-written
//! host lists make the update stand aside: only the simple `host` or `host,address` lines
//! ssh itself writes are ever changed. Text in, text out; the caller does the I/O.

use ssh_key::PublicKey;

use crate::fingerprint::FpHash;

use crate::kh_edit::{Kind, Marker, classify, host_matches};
use crate::known_hosts::hashed_name;

/// The line names the host (its lookup name or HostKeyAlias).
pub const MATCH_HOST: u8 = 1;
/// The line names the host's address (CheckHostIP).
pub const MATCH_IP: u8 = 2;

/// What the known_hosts files say about the keys a server announced.
#[derive(Debug, Default)]
pub struct Survey {
    /// For each announced key: MATCH_HOST / MATCH_IP bits of the lines that record it.
    pub matched: Vec<u8>,
    /// Keys recorded for the host that the server did not announce (to be removed).
    pub old: Vec<PublicKey>,
    /// A marker line, a wildcard or a longer host list names the host.
    pub complex: bool,
    /// An announced key is recorded under another name or address.
    pub other_name: bool,
}

fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

fn line_match(hosts: &str, host: &str, ip: Option<&str>) -> u8 {
    let mut m = 0;
    if host_matches(hosts, host) {
        m |= MATCH_HOST;
    }
    if ip.is_some_and(|ip| host_matches(hosts, ip)) {
        m |= MATCH_IP;
    }
    m
}

/// Wildcards, or more than `host,address`: ssh never writes these, so never edits them.
fn complex_hostspec(hosts: &str) -> bool {
    hosts.contains(['*', '?']) || hosts.matches(',').count() > 1
}

/// The parsed entries of a file: (1-based line, marker, host list, key).
fn entries(text: &str) -> impl Iterator<Item = (usize, Marker, &str, PublicKey)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| match classify(line) {
            Kind::Entry {
                marker,
                hosts,
                rawkey,
            } => {
                let mut p = rawkey.split_whitespace();
                let key = PublicKey::from_openssh(&format!("{} {}", p.next()?, p.next()?)).ok()?;
                Some((i + 1, marker, hosts, key))
            }
            _ => None,
        })
}

/// Survey the user's known_hosts files (path, text) for `host` (and `ip` when CheckHostIP
/// applies) against the keys the server announced.
pub fn survey(
    files: &[(String, String)],
    host: &str,
    ip: Option<&str>,
    keys: &[PublicKey],
) -> Survey {
    let mut s = Survey {
        matched: vec![0; keys.len()],
        ..Survey::default()
    };
    for (_, text) in files {
        for (_, marker, hosts, key) in entries(text) {
            let m = line_match(hosts, host, ip);
            if m == 0 {
                if keys.iter().any(|k| same_key(k, &key)) {
                    s.other_name = true;
                }
                continue;
            }
            if marker != Marker::None {
                s.complex = true;
                continue;
            }
            if ip.is_some() && hosts.contains(',') {
                if m & MATCH_HOST == 0 {
                    s.other_name = true;
                    continue;
                }
                if m & MATCH_IP == 0 {
                    s.other_name = true;
                }
            }
            if complex_hostspec(hosts) {
                s.complex = true;
                continue;
            }
            match keys.iter().position(|k| same_key(k, &key)) {
                Some(i) => {
                    if let Some(b) = s.matched.get_mut(i) {
                        *b |= m;
                    }
                }
                None => s.old.push(key),
            }
        }
    }
    s
}

/// Whether any of `old` is recorded under a name that is neither `host` nor `ip`:
/// removing it for this host would leave those entries inconsistent.
pub fn old_keys_elsewhere(
    files: &[(String, String)],
    host: &str,
    ip: Option<&str>,
    old: &[PublicKey],
) -> bool {
    files.iter().any(|(_, text)| {
        entries(text).any(|(_, _, hosts, key)| {
            line_match(hosts, host, ip) == 0 && old.iter().any(|o| same_key(o, &key))
        })
    })
}

/// A rewritten known_hosts file.
#[derive(Debug, Default)]
pub struct Replaced {
    pub text: String,
    /// Whether anything changed (otherwise the file is left alone).
    pub modified: bool,
    /// OpenSSH's verbose-level lines describing each change.
    pub log: Vec<String>,
}

/// The known_hosts line ssh writes for a host: lower-cased, or hashed (HashKnownHosts)
/// when `hash` gives fresh salts.
pub fn host_entry(
    host: &str,
    ip: Option<&str>,
    key: &PublicKey,
    hash: &mut Option<&mut dyn FnMut() -> [u8; 20]>,
) -> Option<String> {
    let lhost = host.to_ascii_lowercase();
    let names = if let Some(salt) = hash {
        hashed_name(&lhost, &salt())
    } else if let Some(ip) = ip {
        format!("{lhost},{ip}")
    } else {
        lhost
    };
    crate::known_hosts::format_line(&names, key)
}

/// Remove every plain entry for `host`/`ip` in `text` whose key is not in `keys`, keep
/// those that are, and append the keys not yet recorded under both names (OpenSSH
/// `hostfile_replace_entries`). With `keys` empty the host's entries are just removed.
/// New lines are hashed when `hash` gives salts (HashKnownHosts).
pub fn replace_entries(
    path: &str,
    text: &str,
    host: &str,
    ip: Option<&str>,
    keys: &[PublicKey],
    fingerprint: FpHash,
    mut hash: Option<&mut dyn FnMut() -> [u8; 20]>,
) -> Replaced {
    let mut r = Replaced::default();
    let mut matched = vec![0u8; keys.len()];
    for (i, line) in text.lines().enumerate() {
        match classify(line) {
            Kind::Entry {
                marker: Marker::None,
                hosts,
                rawkey,
            } => {
                let m = line_match(hosts, host, ip);
                let mut p = rawkey.split_whitespace();
                let key = p
                    .next()
                    .zip(p.next())
                    .and_then(|(t, b)| PublicKey::from_openssh(&format!("{t} {b}")).ok());
                if let (true, Some(key)) = (m != 0, key) {
                    if let Some(k) = keys.iter().position(|k| same_key(k, &key)) {
                        if let Some(b) = matched.get_mut(k) {
                            *b |= m;
                        }
                    } else {
                        r.log.push(format!(
                            "{path}:{}: Removed {} key for host {host}",
                            i + 1,
                            crate::fingerprint::type_label(key.key_data())
                        ));
                        r.modified = true;
                        continue;
                    }
                }
            }
            Kind::Invalid => r
                .log
                .push(format!("{path}:{}: invalid known_hosts entry", i + 1)),
            _ => {}
        }
        r.text.push_str(line);
        r.text.push('\n');
    }
    let want = MATCH_HOST | if ip.is_some() { MATCH_IP } else { 0 };
    for (key, &m) in keys.iter().zip(&matched) {
        if m & want == want {
            continue;
        }
        let (what, line) = if m == 0 {
            ("Adding new key", host_entry(host, ip, key, &mut hash))
        } else if want & !m == MATCH_HOST {
            (
                "Fixing match (hostname)",
                host_entry(host, None, key, &mut hash),
            )
        } else {
            let addr = ip.unwrap_or(host);
            (
                "Fixing match (address)",
                host_entry(addr, None, key, &mut hash),
            )
        };
        let Some(line) = line else { continue };
        r.text.push_str(&line);
        r.text.push('\n');
        r.log.push(format!(
            "{what} for {host}{}{} to {path}: {} {}",
            if ip.is_some() { "," } else { "" },
            ip.unwrap_or(""),
            key.algorithm().as_str(),
            crate::fingerprint::fingerprint(key.key_data(), fingerprint)
        ));
        r.modified = true;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw";
    const B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKyC0F9wwqWq63G9Mg8DCvRA4BvlcRqnZ6L3wFa2zP1P";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn files(text: &str) -> Vec<(String, String)> {
        vec![("kh".to_owned(), text.to_owned())]
    }

    #[test]
    fn new_and_old_keys() {
        let text = format!("[h]:2222 {A}\nother {B}\n");
        let s = survey(&files(&text), "[h]:2222", None, &[key(B)]);
        // B is known, but under another name: OpenSSH then leaves the file alone.
        assert!(s.other_name);
        let text = format!("[h]:2222 {A}\nunrelated {A}\n");
        let s = survey(&files(&text), "[h]:2222", None, &[key(B)]);
        assert_eq!(s.matched, vec![0]);
        assert_eq!(s.old.len(), 1);
        assert!(!s.complex && !s.other_name);
        assert!(old_keys_elsewhere(&files(&text), "[h]:2222", None, &s.old));
    }

    #[test]
    fn markers_and_wildcards_stand_aside() {
        for text in [
            format!("@cert-authority [h]:2222 {A}\n"),
            format!("[h]:* {A}\n"),
            format!("[h]:2222,a,b {A}\n"),
        ] {
            assert!(
                survey(&files(&text), "[h]:2222", None, &[key(B)]).complex,
                "{text}"
            );
        }
    }

    #[test]
    fn replace_keeps_known_removes_old_adds_new() {
        let text = format!("# keep me\n[h]:2222 {A}\nother {A}\n@revoked [h]:2222 {B}\n");
        let mut salt = || [7u8; 20];
        let r = replace_entries(
            "kh",
            &text,
            "[h]:2222",
            None,
            &[key(B)],
            FpHash::Sha256,
            None,
        );
        assert!(r.modified);
        assert_eq!(
            r.text,
            format!("# keep me\nother {A}\n@revoked [h]:2222 {B}\n[h]:2222 {B}\n")
        );
        assert!(r.log[0].starts_with("kh:2: Removed ED25519 key for host [h]:2222"));
        assert!(r.log[1].starts_with("Adding new key for [h]:2222 to kh: ssh-ed25519 SHA256:"));
        // Hashed: the new line names the host only through its hash.
        let r = replace_entries(
            "kh",
            "",
            "H",
            None,
            &[key(A)],
            FpHash::Sha256,
            Some(&mut salt),
        );
        assert!(r.text.starts_with("|1|"));
        assert!(
            crate::known_hosts::KnownHosts::parse("kh", &r.text)
                .key_types_for(&["h"])
                .len()
                == 1
        );
        // Nothing to do: unchanged.
        let text = format!("h {A}\n");
        let r = replace_entries("kh", &text, "h", None, &[key(A)], FpHash::Sha256, None);
        assert!(!r.modified);
        assert_eq!(r.text, text);
    }
}
