//! ssh-keygen's known_hosts operations (ssh-keygen(1) `-F`, `-H`, `-R`): find the
//! lines for a host, hash host names (`|1|salt|hash`, one line per name), remove a
//! host's keys. Comments, blank lines, `@cert-authority`/`@revoked` lines and hashed
//! or wildcard names are kept as they are; a file with an invalid line is never
//! rewritten. Pure text in, text out: the caller reads and writes the files.

use ssh_key::PublicKey;

use crate::known_hosts::hashed_name;
use crate::pattern::{ListMatch, match_list};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    None,
    Ca,
    Revoked,
}

pub(crate) enum Kind<'a> {
    /// Blank or comment line.
    Other,
    Invalid,
    Entry {
        marker: Marker,
        hosts: &'a str,
        /// From the key type to the end of the line (key and comment).
        rawkey: &'a str,
    },
}

fn split_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() {
        return None;
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    let (a, b) = s.split_at(end);
    Some((a, b.trim_start_matches([' ', '\t'])))
}

pub(crate) fn classify(line: &str) -> Kind<'_> {
    let t = line.trim_start_matches([' ', '\t']);
    if t.is_empty() || t.starts_with('#') {
        return Kind::Other;
    }
    let Some((mut first, mut rest)) = split_field(t) else {
        return Kind::Invalid;
    };
    let marker = match first {
        "@cert-authority" => Marker::Ca,
        "@revoked" => Marker::Revoked,
        m if m.starts_with('@') => return Kind::Invalid,
        _ => Marker::None,
    };
    if marker != Marker::None {
        match split_field(rest) {
            Some((f, r)) => (first, rest) = (f, r),
            None => return Kind::Invalid,
        }
    }
    let hosts = first;
    let rawkey = rest.trim_end_matches(['\r', ' ', '\t']);
    let mut parts = rawkey.split_whitespace();
    let (Some(ty), Some(b64)) = (parts.next(), parts.next()) else {
        return Kind::Invalid;
    };
    if PublicKey::from_openssh(&format!("{ty} {b64}")).is_err() {
        return Kind::Invalid;
    }
    Kind::Entry {
        marker,
        hosts,
        rawkey,
    }
}

pub(crate) fn host_matches(hosts: &str, name: &str) -> bool {
    if hosts.starts_with("|1|") {
        let kh = crate::known_hosts::KnownHosts::parse(
            "",
            &format!(
                "{hosts} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw"
            ),
        );
        return !kh.key_types_for(&[name]).is_empty();
    }
    match_list(hosts, name, true) == ListMatch::Match
}

/// Hash the names of one entry, one `|1|…` line per name (OpenSSH `known_hosts_hash`).
/// Returns None when the line is to be kept as it is.
fn hash_entry(
    hosts: &str,
    marker: Marker,
    rawkey: &str,
    salt: &mut dyn FnMut() -> [u8; 20],
) -> Option<String> {
    let has_wild = hosts.contains(['*', '?', '!']);
    if hosts.starts_with('|') || has_wild || marker != Marker::None {
        return None;
    }
    let mut out = String::new();
    for name in hosts.split(',') {
        if name.is_empty() {
            break;
        }
        out.push_str(&hashed_name(&name.to_ascii_lowercase(), &salt()));
        out.push(' ');
        out.push_str(rawkey);
        out.push('\n');
    }
    Some(out)
}

/// Result of `-F host`.
#[derive(Debug, Default)]
pub struct Found {
    /// What ssh-keygen prints on stdout.
    pub output: String,
    pub found: bool,
}

/// `-F host` (with `-H`: print the matching lines hashed). `salt` gives fresh salts.
pub fn find(
    text: &str,
    host: &str,
    hash: bool,
    quiet: bool,
    salt: &mut dyn FnMut() -> [u8; 20],
) -> Found {
    let mut f = Found::default();
    for (i, line) in text.lines().enumerate() {
        let Kind::Entry {
            marker,
            hosts,
            rawkey,
        } = classify(line)
        else {
            continue;
        };
        if !host_matches(hosts, host) {
            continue;
        }
        f.found = true;
        if !quiet {
            let m = match marker {
                Marker::Ca => "CA",
                Marker::Revoked => "REVOKED",
                Marker::None => "",
            };
            f.output
                .push_str(&format!("# Host {host} found: line {} {m}\n", i + 1));
        }
        match hash
            .then(|| hash_entry(hosts, marker, rawkey, salt))
            .flatten()
        {
            Some(h) => f.output.push_str(&h),
            None => {
                f.output.push_str(line);
                f.output.push('\n');
            }
        }
    }
    f
}

/// Result of rewriting a file (`-H`, `-R`).
#[derive(Debug, Default)]
pub struct Rewrite {
    /// The new file contents.
    pub text: String,
    /// 1-based numbers of lines that did not parse (the file must then be left alone).
    pub invalid: Vec<usize>,
    /// `-H`: some names were not hashed before.
    pub has_unhashed: bool,
    /// `-R`: line numbers removed.
    pub removed: Vec<usize>,
    /// `-H`: wildcard lines left as they are (line number, hosts).
    pub wildcards: Vec<(usize, String)>,
}

/// `-H`: hash every plain host name.
pub fn hash_file(text: &str, salt: &mut dyn FnMut() -> [u8; 20]) -> Rewrite {
    let mut r = Rewrite::default();
    for (i, line) in text.lines().enumerate() {
        match classify(line) {
            Kind::Entry {
                marker,
                hosts,
                rawkey,
            } => match hash_entry(hosts, marker, rawkey, salt) {
                Some(h) => {
                    r.text.push_str(&h);
                    r.has_unhashed = true;
                }
                None => {
                    if hosts.contains(['*', '?', '!']) {
                        r.wildcards.push((i + 1, hosts.chars().take(64).collect()));
                    }
                    r.text.push_str(line);
                    r.text.push('\n');
                }
            },
            Kind::Invalid => {
                r.invalid.push(i + 1);
                r.text.push_str(line);
                r.text.push('\n');
            }
            Kind::Other => {
                r.text.push_str(line);
                r.text.push('\n');
            }
        }
    }
    r
}

/// `-R host`: drop the host's plain entries (not `@cert-authority`/`@revoked` ones).
pub fn remove(text: &str, host: &str) -> Rewrite {
    let mut r = Rewrite::default();
    for (i, line) in text.lines().enumerate() {
        match classify(line) {
            Kind::Entry { marker, hosts, .. }
                if marker == Marker::None && host_matches(hosts, host) =>
            {
                r.removed.push(i + 1);
                continue;
            }
            Kind::Invalid => r.invalid.push(i + 1),
            _ => {}
        }
        r.text.push_str(line);
        r.text.push('\n');
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw c";

    #[test]
    fn find_hash_remove() {
        let text = format!("# c\nhost-a {K}\n\n@revoked host-a {K}\nx,host-a,y {K}\nh* {K}\n");
        let mut salt = || [1u8; 20];
        let f = find(&text, "host-a", false, false, &mut salt);
        assert!(f.found);
        assert!(
            f.output
                .starts_with("# Host host-a found: line 2 \nhost-a ")
        );
        assert!(f.output.contains("# Host host-a found: line 4 REVOKED\n"));
        let h = hash_file(&text, &mut salt);
        assert!(h.invalid.is_empty());
        assert_eq!(h.text.lines().filter(|l| l.starts_with("|1|")).count(), 4);
        assert!(find(&h.text, "y", false, true, &mut salt).found);
        let r = remove(&text, "host-a");
        assert_eq!(r.removed, vec![2, 5, 6]);
        assert!(r.text.contains("@revoked host-a"));
        let r = remove(&h.text, "host-a");
        assert_eq!(r.removed.len(), 3);
        assert_eq!(remove("host-i \n", "x").invalid, vec![1]);
    }
}
