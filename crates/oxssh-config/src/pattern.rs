//! OpenSSH pattern matching (`match.c`, `addrmatch.c`): `*`/`?` wildcards,
//! comma-separated pattern lists with `!` negation, host name matching, and
//! address lists mixing CIDR blocks and wildcards.
//!
//! Semantics follow OpenSSH exactly (including the 1023-character limit on one
//! sub-pattern), but the wildcard matcher is iterative so a hostile pattern cannot
//! cause exponential backtracking.

use std::net::Ipv6Addr;

/// `match_pattern`: `*` and `?` wildcards, case-sensitive.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match p.get(pi) {
            Some('*') => {
                while p.get(pi) == Some(&'*') {
                    pi += 1;
                }
                if pi >= p.len() {
                    return true;
                }
                star = Some((pi, si));
                continue;
            }
            Some(&pc) if si < s.len() && (pc == '?' || s.get(si) == Some(&pc)) => {
                pi += 1;
                si += 1;
                continue;
            }
            None if si >= s.len() => return true,
            _ => {}
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// `match_pattern_list`: 1 for a positive match, -1 if a negated sub-pattern
/// matched, 0 for no match. With `dolower` the patterns are lower-cased.
pub fn match_pattern_list(string: &str, pattern: &str, dolower: bool) -> i32 {
    let mut got_positive = 0;
    let mut rest = pattern;
    while !rest.is_empty() {
        let negated = rest.starts_with('!');
        if negated {
            rest = rest.get(1..).unwrap_or("");
        }
        let (sub, next) = match rest.find(',') {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i + 1..).unwrap_or("")),
            None => (rest, ""),
        };
        // OpenSSH copies each sub-pattern into a 1024-byte buffer; longer ones
        // make the whole list fail.
        if sub.len() >= 1023 {
            return 0;
        }
        let sub = if dolower {
            sub.to_ascii_lowercase()
        } else {
            sub.to_owned()
        };
        if match_pattern(string, &sub) {
            if negated {
                return -1;
            }
            got_positive = 1;
        }
        rest = next;
    }
    got_positive
}

/// `match_hostname`: the host is lower-cased, patterns are lower-cased.
pub fn match_hostname(host: &str, pattern: &str) -> i32 {
    match_pattern_list(&host.to_ascii_lowercase(), pattern, true)
}

/// An address as OpenSSH's `struct xaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XAddr {
    V4(u32),
    V6(u128, u32),
}

/// glibc `inet_aton` (exact form, as `getaddrinfo(AI_NUMERICHOST)` uses it).
fn inet_aton(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        if p.is_empty() || !p.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, used, overflow) = crate::misc::c_strtol(p, 0);
        if used != p.len() || overflow || v < 0 || v > i64::from(u32::MAX) {
            return None;
        }
        vals.push(v as u64);
    }
    let n = vals.len();
    let mut addr: u64 = 0;
    for (i, v) in vals.iter().enumerate() {
        if i + 1 < n {
            if *v > 255 {
                return None;
            }
            addr |= v << (8 * (3 - i));
        } else {
            let bits = 8 * (4 - i) as u32;
            if bits < 32 && *v >= (1u64 << bits) {
                return None;
            }
            addr |= v;
        }
    }
    u32::try_from(addr).ok()
}

/// `addr_pton`: parse a numeric address (IPv4 in `inet_aton` form, IPv6 with an
/// optional numeric `%scope`).
pub(crate) fn addr_pton(s: &str) -> Option<XAddr> {
    if let Some(v4) = inet_aton(s) {
        return Some(XAddr::V4(v4));
    }
    let (a, scope) = match s.split_once('%') {
        Some((a, sc)) => (a, sc.parse::<u32>().unwrap_or(0)),
        None => (s, 0),
    };
    a.parse::<Ipv6Addr>()
        .ok()
        .map(|v6| XAddr::V6(u128::from(v6), scope))
}

/// Canonical text of an address (`getnameinfo(NI_NUMERICHOST)`).
pub(crate) fn addr_ntop(a: XAddr) -> String {
    match a {
        XAddr::V4(v) => std::net::Ipv4Addr::from(v).to_string(),
        XAddr::V6(v, _) => Ipv6Addr::from(v).to_string(),
    }
}

fn mask_bits(a: XAddr, masklen: u32) -> XAddr {
    match a {
        XAddr::V4(v) => {
            let m = if masklen == 0 {
                0
            } else {
                u32::MAX << (32 - masklen.min(32))
            };
            XAddr::V4(v & m)
        }
        XAddr::V6(v, sc) => {
            let m = if masklen == 0 {
                0
            } else {
                u128::MAX << (128 - masklen.min(128))
            };
            XAddr::V6(v & m, sc)
        }
    }
}

/// Result of `addr_pton_cidr`: `Ok` or -1 (unparseable) / -2 (bad mask).
pub(crate) fn addr_pton_cidr(p: &str) -> Result<(XAddr, u32), i32> {
    if p.len() >= 64 {
        return Err(-1);
    }
    let (a, mask) = match p.split_once('/') {
        Some((a, m)) => {
            if !m.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                return Err(-1);
            }
            let (v, used, of) = crate::misc::c_strtol(m, 10);
            if used != m.len() || of || !(0..=128).contains(&v) {
                return Err(-1);
            }
            (a, Some(v as u32))
        }
        None => (p, None),
    };
    let addr = addr_pton(a).ok_or(-1)?;
    let max = match addr {
        XAddr::V4(_) => 32,
        XAddr::V6(..) => 128,
    };
    let masklen = mask.unwrap_or(max);
    if masklen > max {
        return Err(-2);
    }
    // The host part must be zero.
    if mask_bits(addr, masklen) != addr {
        return Err(-2);
    }
    Ok((addr, masklen))
}

fn addr_netmatch(host: XAddr, net: XAddr, masklen: u32) -> bool {
    match (host, net) {
        (XAddr::V4(_), XAddr::V4(_)) | (XAddr::V6(..), XAddr::V6(..)) => {
            mask_bits(host, masklen) == net
        }
        _ => false,
    }
}

/// `addr_match_list`: 1 match, 0 none, -1 negated match, -2 invalid entry.
/// With `addr == None` only validates the list.
pub fn addr_match_list(addr: Option<&str>, list: &str) -> i32 {
    let try_addr = match addr {
        Some(a) => match addr_pton(a) {
            Some(x) => Some(x),
            None => return 0,
        },
        None => None,
    };
    let mut ret = 0;
    for entry in list.split(',') {
        let neg = entry.starts_with('!');
        let cp = if neg {
            entry.get(1..).unwrap_or("")
        } else {
            entry
        };
        if cp.is_empty() {
            return -2;
        }
        let found = match addr_pton_cidr(cp) {
            Err(-2) => return -2,
            Ok((net, len)) => try_addr.is_some_and(|t| addr_netmatch(t, net, len)),
            Err(_) => addr.is_some_and(|a| match_pattern(a, cp)),
        };
        if found {
            if neg {
                return -1;
            }
            ret = 1;
        }
    }
    ret
}

/// `match_host_and_ip`.
fn match_host_and_ip(host: Option<&str>, ip: Option<&str>, patterns: &str) -> i32 {
    let mip = addr_match_list(ip, patterns);
    if mip == -2 {
        return -1;
    }
    let (Some(host), Some(_)) = (host, ip) else {
        return 0;
    };
    if mip == -1 {
        return 0;
    }
    let mhost = match_hostname(host, patterns);
    if mhost == -1 || (mhost == 0 && mip == 0) {
        return 0;
    }
    1
}

/// `match_user` in validation mode: -1 when `user@host` has an invalid host part.
pub(crate) fn validate_user_pattern(pattern: &str) -> bool {
    match pattern.find('@') {
        Some(i) => match_host_and_ip(None, None, pattern.get(i + 1..).unwrap_or("")) >= 0,
        None => true,
    }
}

/// `match_filter_allowlist` / `match_filter_denylist` on comma lists.
pub(crate) fn filter_list(proposal: &str, filter: &str, denylist: bool) -> String {
    let mut out: Vec<&str> = Vec::new();
    for cp in proposal.split(',') {
        let r = match_pattern_list(cp, filter, false);
        if (denylist && r != 1) || (!denylist && r == 1) {
            out.push(cp);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard() {
        assert!(match_pattern("foo.example.com", "*.example.com"));
        assert!(match_pattern("a", "?"));
        assert!(!match_pattern("", "?"));
        assert!(match_pattern("", "*"));
        assert!(match_pattern("abcabd", "*ab?"));
        assert!(!match_pattern("abc", "abd*"));
        assert!(match_pattern("aXbXc", "a*b*c"));
        assert!(!match_pattern("aXbXd", "a*b*c"));
    }

    #[test]
    fn lists() {
        assert_eq!(match_pattern_list("a.b", "x,*.b", false), 1);
        assert_eq!(match_pattern_list("a.b", "*.b,!a.*", false), -1);
        assert_eq!(match_pattern_list("a.b", "c", false), 0);
        assert_eq!(match_hostname("HOST", "HO*"), 1);
    }

    #[test]
    fn addresses() {
        assert_eq!(addr_match_list(Some("192.168.1.5"), "192.168.0.0/16"), 1);
        assert_eq!(
            addr_match_list(Some("192.168.1.5"), "!192.168.0.0/16,*"),
            -1
        );
        assert_eq!(addr_match_list(Some("10.0.0.1"), "10.0.0.1/8"), -2);
        assert_eq!(addr_match_list(Some("::1"), "::1/128"), 1);
        assert_eq!(addr_match_list(Some("10.1.2.3"), "10.1.*"), 1);
        assert_eq!(addr_match_list(None, "10.0.0.0/8,fe80::/10"), 0);
        assert_eq!(addr_match_list(None, "10.0.0.0/33"), -2);
        assert_eq!(addr_pton("127.1"), Some(XAddr::V4(0x7f00_0001)));
        assert_eq!(addr_pton("0x7f.1"), Some(XAddr::V4(0x7f00_0001)));
        assert_eq!(addr_pton("1.2.3.256"), None);
    }
}
