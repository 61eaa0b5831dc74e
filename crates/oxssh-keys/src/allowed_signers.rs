//! allowed_signers files (ssh-keygen(1) "ALLOWED SIGNERS"): `principals [options] key`
//! lines saying who may make SSH signatures, with the options `cert-authority`,
//! `namespaces="…"`, `valid-after="…"` and `valid-before="…"`; and the three lookups
//! ssh-keygen makes with them (OpenSSH's `sshsig_check_allowed_keys`,
//! `sshsig_find_principals`, `sshsig_match_principals`).
//!
//! Pure: the caller passes the file's text, its name (for messages) and the time.
//! Messages OpenSSH would log are collected in a `Vec<String>` for the caller to print.

use ssh_key::PublicKey;

use crate::cert::{self, Certificate, Policy};
use crate::pattern::{self, ListMatch};
use crate::sshsig::SigKey;
use crate::timefmt::{self, Zone};

/// The options of one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigOpts {
    pub cert_authority: bool,
    pub namespaces: Option<String>,
    /// 0 when absent.
    pub valid_after: u64,
    /// 0 when absent.
    pub valid_before: u64,
}

/// A parsed line.
#[derive(Clone, Debug)]
pub struct Entry {
    pub principals: String,
    pub opts: SigOpts,
    pub key: SigKey,
}

fn starts_ci(s: &str, p: &str) -> bool {
    s.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p))
}

/// OpenSSH's `opt_dequote`: a double-quoted value with `\"` escapes.
fn dequote(s: &mut &str) -> Result<String, &'static str> {
    let Some(rest) = s.strip_prefix('"') else {
        return Err("missing start quote");
    };
    let mut out = String::new();
    let mut it = rest.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == '"' {
            *s = rest.get(i + 1..).unwrap_or_default();
            return Ok(out);
        }
        if c == '\\' && it.peek().is_some_and(|&(_, n)| n == '"') {
            if let Some((_, n)) = it.next() {
                out.push(n);
            }
            continue;
        }
        out.push(c);
    }
    Err("missing end quote")
}

/// OpenSSH's `sshsigopt_parse`.
pub fn parse_options(opts: &str, zone: &Zone) -> Result<SigOpts, &'static str> {
    let mut o = SigOpts::default();
    let mut s = opts;
    while !s.is_empty() && !s.starts_with([' ', '\t']) {
        if starts_ci(s, "cert-authority") {
            o.cert_authority = true;
            s = s.get(14..).unwrap_or_default();
        } else if starts_ci(s, "namespaces=") {
            if o.namespaces.is_some() {
                return Err("multiple \"namespaces\" clauses");
            }
            s = s.get(11..).unwrap_or_default();
            o.namespaces = Some(dequote(&mut s)?);
        } else if starts_ci(s, "valid-after=") {
            if o.valid_after != 0 {
                return Err("multiple \"valid-after\" clauses");
            }
            s = s.get(12..).unwrap_or_default();
            let v = dequote(&mut s)?;
            o.valid_after = timefmt::parse_absolute(&v, zone)
                .filter(|&t| t != 0)
                .ok_or("invalid \"valid-after\" time")?;
        } else if starts_ci(s, "valid-before=") {
            if o.valid_before != 0 {
                return Err("multiple \"valid-before\" clauses");
            }
            s = s.get(13..).unwrap_or_default();
            let v = dequote(&mut s)?;
            o.valid_before = timefmt::parse_absolute(&v, zone)
                .filter(|&t| t != 0)
                .ok_or("invalid \"valid-before\" time")?;
        }
        if s.is_empty() || s.starts_with([' ', '\t']) {
            break;
        }
        let Some(rest) = s.strip_prefix(',') else {
            return Err("unknown key option");
        };
        s = rest;
        if s.is_empty() {
            return Err("unexpected end-of-options");
        }
    }
    if o.valid_after != 0 && o.valid_before != 0 && o.valid_before <= o.valid_after {
        return Err("\"valid-before\" time is before \"valid-after\"");
    }
    Ok(o)
}

/// A key (or certificate) at the start of `s`: `type base64 [comment]`.
fn read_key(s: &str) -> Option<SigKey> {
    let mut it = s.split([' ', '\t']).filter(|t| !t.is_empty());
    let ty = it.next()?;
    let b64 = it.next()?;
    if cert::is_cert_name(ty) {
        let (c, _) = Certificate::from_line(&format!("{ty} {b64}")).ok()?;
        return Some(SigKey::Cert(Box::new(c)));
    }
    PublicKey::from_openssh(&format!("{ty} {b64}"))
        .ok()
        .map(SigKey::Plain)
}

/// The end of an option string (OpenSSH's `sshkey_advance_past_options`); None for an
/// unterminated quote.
fn past_options(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if !quoted && (c == b' ' || c == b'\t') {
            break;
        }
        if c == b'\\' && b.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if c == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    if i >= b.len() && quoted {
        None
    } else {
        Some(i)
    }
}

/// OpenSSH's `parse_principals_key_and_options`: Ok(None) for a blank or comment line
/// or one whose principals do not match `required`; Err with the message to log.
pub fn parse_entry(
    path: &str,
    lnum: usize,
    line: &str,
    required: Option<&str>,
    zone: &Zone,
) -> Result<Option<Entry>, String> {
    let line = line.trim_end_matches(['\n', '\r']);
    let cp = line.trim_start_matches([' ', '\t']);
    if cp.is_empty() || cp.starts_with('#') {
        return Ok(None);
    }
    let invalid = || format!("{path}:{lnum}: invalid line");
    let (principals, rest) = if let Some(q) = cp.strip_prefix('"') {
        let end = q.find('"').ok_or_else(invalid)?;
        (
            q.get(..end).unwrap_or_default(),
            q.get(end + 1..).unwrap_or_default(),
        )
    } else {
        match cp.find([' ', '\t']) {
            Some(i) => (
                cp.get(..i).unwrap_or_default(),
                cp.get(i..).unwrap_or_default(),
            ),
            None => return Err(invalid()),
        }
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    if let Some(req) = required
        && pattern::match_list(principals, req, false) != ListMatch::Match
    {
        return Ok(None);
    }
    let (opts, key) = match read_key(rest) {
        Some(k) => (String::new(), k),
        None => {
            let Some(end) = past_options(rest) else {
                return Err(format!("{path}:{lnum}: invalid options"));
            };
            let after = rest.get(end..).unwrap_or_default();
            if after.is_empty() {
                return Err(format!("{path}:{lnum}: missing key"));
            }
            let key = read_key(after.trim_start_matches([' ', '\t']))
                .ok_or_else(|| format!("{path}:{lnum}: invalid key"))?;
            (rest.get(..end).unwrap_or_default().to_owned(), key)
        }
    };
    let opts =
        parse_options(&opts, zone).map_err(|why| format!("{path}:{lnum}: bad options: {why}"))?;
    Ok(Some(Entry {
        principals: principals.to_owned(),
        opts,
        key,
    }))
}

fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

/// OpenSSH's `check_allowed_keys_line`: the line's principals (or the certificate
/// principals they admit) when it allows `sign_key`.
#[allow(clippy::too_many_arguments)]
fn check_line(
    path: &str,
    lnum: usize,
    line: &str,
    sign_key: &SigKey,
    principal: Option<&str>,
    namespace: Option<&str>,
    now: u64,
    zone: &Zone,
    log: &mut Vec<String>,
) -> Option<String> {
    let e = match parse_entry(path, lnum, line, principal, zone) {
        Ok(Some(e)) => e,
        Ok(None) => return None,
        Err(msg) => {
            log.push(msg);
            return None;
        }
    };
    let mut principals = e.principals.clone();
    let exact = match (&e.key, sign_key) {
        // OpenSSH's sshkey_equal: the types must agree, so a plain key does not
        // match a signature made by a certificate of it.
        (SigKey::Plain(f), SigKey::Plain(s)) => same_key(f, s),
        (SigKey::Plain(_), SigKey::Cert(_)) => false,
        (SigKey::Cert(f), SigKey::Cert(s)) => f.to_blob() == s.to_blob(),
        (SigKey::Cert(_), SigKey::Plain(_)) => false,
    };
    if !e.opts.cert_authority && exact {
    } else if let (true, SigKey::Cert(c)) = (e.opts.cert_authority, sign_key) {
        if !same_key(&c.signature_key, e.key.plain()) {
            return None;
        }
        let policy = Policy {
            want_host: false,
            require_principal: true,
            wildcard: false,
            name: principal,
            now,
        };
        if principal.is_some() {
            if let Err(why) = c.check_authority(&policy) {
                log.push(format!("{path}:{lnum}: certificate not authorized: {why}"));
                return None;
            }
        } else {
            let mut found: Vec<&str> = Vec::new();
            for pat in e.principals.split(',') {
                if pat.is_empty() {
                    break;
                }
                if c.check_authority(&policy).is_err() {
                    continue;
                }
                for cp in &c.principals {
                    if pattern::glob(pat, cp) {
                        found.push(cp);
                    }
                }
            }
            if found.is_empty() {
                log.push(format!("{path}:{lnum}: no valid principals found"));
                return None;
            }
            principals = found.join(",");
        }
    } else {
        return None;
    }
    if let (Some(ns), Some(allowed)) = (namespace, &e.opts.namespaces)
        && pattern::match_list(allowed, ns, false) != ListMatch::Match
    {
        log.push(format!(
            "{path}:{lnum}: key is not permitted for use in signature namespace \"{ns}\""
        ));
        return None;
    }
    let tverify = timefmt::format_absolute(now, zone);
    if e.opts.valid_after != 0 && now < e.opts.valid_after {
        log.push(format!(
            "{path}:{lnum}: key is not yet valid: verify time {tverify} < valid-after {}",
            timefmt::format_absolute(e.opts.valid_after, zone)
        ));
        return None;
    }
    if e.opts.valid_before != 0 && now > e.opts.valid_before {
        log.push(format!(
            "{path}:{lnum}: key has expired: verify time {tverify} > valid-before {}",
            timefmt::format_absolute(e.opts.valid_before, zone)
        ));
        return None;
    }
    Some(principals)
}

/// An allowed_signers file: its name (for messages), its text, and the time zone its
/// times are in.
#[derive(Clone, Copy, Debug)]
pub struct AllowedSigners<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub zone: &'a Zone,
}

impl AllowedSigners<'_> {
    /// `-Y verify`: does the file let `principal` sign in `namespace` with `sign_key`
    /// at time `now`?
    pub fn check(
        &self,
        sign_key: &SigKey,
        principal: &str,
        namespace: &str,
        now: u64,
        log: &mut Vec<String>,
    ) -> bool {
        self.text.lines().enumerate().any(|(i, line)| {
            check_line(
                self.path,
                i + 1,
                line,
                sign_key,
                Some(principal),
                Some(namespace),
                now,
                self.zone,
                log,
            )
            .is_some()
        })
    }

    /// `-Y find-principals`: the principals of the first line that allows `sign_key`.
    pub fn find_principals(
        &self,
        sign_key: &SigKey,
        now: u64,
        log: &mut Vec<String>,
    ) -> Option<String> {
        self.text.lines().enumerate().find_map(|(i, line)| {
            check_line(
                self.path,
                i + 1,
                line,
                sign_key,
                None,
                None,
                now,
                self.zone,
                log,
            )
        })
    }

    /// `-Y match-principals`: the principal fields of every line matching `principal`;
    /// Err(message) when a matching line is malformed.
    pub fn match_principals(&self, principal: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (i, line) in self.text.lines().enumerate() {
            if let Some(e) = parse_entry(self.path, i + 1, line, Some(principal), self.zone)? {
                out.push(e.principals);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOp3tUqcPfDfDKv6pqdwZRhqXS4BC/sCVZXkyhFbw5Gq c";

    #[test]
    fn options() {
        let z = Zone::utc();
        let o = parse_options(
            "cert-authority,namespaces=\"git,file\",valid-after=\"20200101\"",
            &z,
        )
        .unwrap();
        assert!(o.cert_authority);
        assert_eq!(o.namespaces.as_deref(), Some("git,file"));
        assert_eq!(o.valid_after, 1_577_836_800);
        assert_eq!(parse_options("octopus", &z), Err("unknown key option"));
        assert_eq!(
            parse_options("namespaces=\"x", &z),
            Err("missing end quote")
        );
        assert!(parse_options("valid-after=\"20200101\",valid-before=\"20100101\"", &z).is_err());
    }

    #[test]
    fn lines_and_matching() {
        let z = Zone::utc();
        let text = format!(
            "# comment\n\nprincipal1 {KEY}\nprinci* namespaces=\"git\" {KEY}\nbad octopus {KEY}\n"
        );
        let f = AllowedSigners {
            path: "f",
            text: &text,
            zone: &z,
        };
        let m = f.match_principals("principal1").unwrap();
        assert_eq!(m, ["principal1", "princi*"]);
        assert!(f.match_principals("nobody").unwrap().is_empty());
        assert!(f.match_principals("bad").is_err());
        let key = SigKey::Plain(PublicKey::from_openssh(KEY).unwrap());
        let mut log = Vec::new();
        assert!(f.check(&key, "principal1", "file", 0, &mut log));
        assert!(!f.check(&key, "princip", "file", 0, &mut log));
        assert!(f.check(&key, "princip", "git", 0, &mut log));
        assert_eq!(
            f.find_principals(&key, 0, &mut log).as_deref(),
            Some("principal1")
        );
        assert!(parse_entry("f", 1, "onlyprincipal", None, &z).is_err());
        assert!(parse_entry("f", 1, "p \"unterminated", None, &z).is_err());
    }
}
