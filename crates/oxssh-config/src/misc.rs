//! Small value parsers shared by ssh_config and sshd_config, each reproducing the
//! corresponding OpenSSH helper (`convtime`, `a2port`, `a2tun`, `scan_scaled`,
//! `parse_ipqos`, `hpdelim`, `parse_user_host_port`, `parse_uri`,
//! `valid_domain`, …) including its quirks, because those quirks decide which
//! configuration lines OpenSSH accepts.
//!
//! Not here: anything that touches the OS. Service names for ports come from a
//! built-in table of well-known TCP services instead of `getservbyname`.

/// C `isspace` in the C locale.
fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol`/`strtoll`: returns (value, bytes consumed, overflowed).
/// `consumed == 0` means no conversion. Base 0 auto-detects `0x` and `0`.
pub(crate) fn c_strtol(s: &str, base: u32) -> (i64, usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(c_isspace) {
        i += 1;
    }
    let mut neg = false;
    match b.get(i) {
        Some(b'-') => {
            neg = true;
            i += 1;
        }
        Some(b'+') => i += 1,
        _ => {}
    }
    let mut base = base;
    if (base == 0 || base == 16)
        && b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x') | Some(b'X'))
        && b.get(i + 2)
            .is_some_and(|c| (*c as char).is_ascii_hexdigit())
    {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut val: i64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(base)) {
        match val
            .checked_mul(i64::from(base))
            .and_then(|v| v.checked_add(i64::from(d)))
        {
            Some(v) => val = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    if overflow {
        val = if neg { i64::MIN } else { i64::MAX };
    } else if neg {
        val = -val;
    }
    (val, i, overflow)
}

/// OpenBSD `strtonum`: decimal, whole string, within `[min, max]`.
pub(crate) fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let (v, used, overflow) = c_strtol(s, 10);
    if used == 0 || used != s.len() {
        return Err("invalid");
    }
    if (overflow && v == i64::MIN) || v < min {
        return Err("too small");
    }
    if overflow || v > max {
        return Err("too large");
    }
    Ok(v)
}

/// `atoi_err`: an `int` in `[0, INT_MAX]`, or OpenSSH's reason string.
pub(crate) fn atoi_err(s: Option<&str>) -> Result<i32, &'static str> {
    match s {
        None | Some("") => Err("missing"),
        Some(s) => strtonum(s, 0, i64::from(i32::MAX)).map(|v| v as i32),
    }
}

/// Well-known TCP service names (stand-in for `getservbyname(…, "tcp")`).
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("imap2", 143),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("postgresql", 5432),
    ("x11", 6000),
];

/// `a2port`: a port number 0..=65535 or a TCP service name; -1 on error.
pub(crate) fn a2port(s: &str) -> i32 {
    if let Ok(p) = strtonum(s, 0, 65535) {
        return p as i32;
    }
    SERVICES
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, p)| i32::from(*p))
        .unwrap_or(-1)
}

/// Tunnel id meaning "any".
pub(crate) const SSH_TUNID_ANY: i64 = 0x7fff_ffff;
pub(crate) const SSH_TUNID_ERR: i64 = SSH_TUNID_ANY - 1;
const SSH_TUNID_MAX: i64 = SSH_TUNID_ANY - 2;

fn a2tun_one(s: &str) -> i64 {
    if s.eq_ignore_ascii_case("any") {
        return SSH_TUNID_ANY;
    }
    strtonum(s, 0, SSH_TUNID_MAX).unwrap_or(SSH_TUNID_ERR)
}

/// `a2tun` with a remote part: returns (local, remote).
pub(crate) fn a2tun(s: &str) -> (i64, i64) {
    match s.split_once(':') {
        None => (a2tun_one(s), SSH_TUNID_ANY),
        Some((l, r)) => {
            let remote = a2tun_one(r);
            let local = a2tun_one(l);
            (
                if remote == SSH_TUNID_ERR {
                    remote
                } else {
                    local
                },
                remote,
            )
        }
    }
}

/// `convtime`: `1h30m` style durations to seconds; `None` when invalid.
pub(crate) fn convtime(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let (secs, used, overflow) = c_strtol(rest, 10);
        if used == 0 || overflow || secs < 0 || secs > i64::from(i32::MAX) {
            return None;
        }
        let after = rest.get(used..).unwrap_or("");
        let mut chars = after.chars();
        let (mult, next) = match chars.next() {
            None => (1, after),
            Some('s') | Some('S') => (1, chars.as_str()),
            Some('m') | Some('M') => (60, chars.as_str()),
            Some('h') | Some('H') => (3600, chars.as_str()),
            Some('d') | Some('D') => (86400, chars.as_str()),
            Some('w') | Some('W') => (604_800, chars.as_str()),
            Some(_) => return None,
        };
        if secs > i64::from(i32::MAX) / mult {
            return None;
        }
        let secs = secs * mult;
        if total > i64::from(i32::MAX) - secs {
            return None;
        }
        total += secs;
        rest = next;
    }
    Some(total)
}

/// `scan_scaled`: numbers with an optional K/M/G/T/P/E suffix (powers of 1024)
/// and fractions; `Err` carries the `strerror` text OpenSSH prints.
pub(crate) fn scan_scaled(s: &str) -> Result<i64, &'static str> {
    const EINVAL: &str = "Invalid argument";
    const ERANGE: &str = "Numerical result out of range";
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(c_isspace) {
        i += 1;
    }
    let mut sign: i64 = 0;
    while let Some(&c) = b.get(i) {
        if c == b'-' || c == b'+' {
            if sign != 0 {
                return Err(EINVAL);
            }
            sign = if c == b'-' { -1 } else { 1 };
            i += 1;
        } else {
            break;
        }
    }
    let max_digits = 21u32;
    let (mut whole, mut fpart): (i64, i64) = (0, 0);
    let (mut ndigits, mut fract_digits) = (0u32, 0u32);
    while let Some(&c) = b.get(i) {
        if c == b'.' {
            if fract_digits > 0 {
                return Err(EINVAL);
            }
            fract_digits = 1;
        } else if c.is_ascii_digit() {
            let d = i64::from(c - b'0');
            if fract_digits > 0 {
                if fract_digits < max_digits - 1 {
                    fract_digits += 1;
                    fpart = fpart
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(d))
                        .ok_or(ERANGE)?;
                }
            } else {
                ndigits += 1;
                if ndigits >= max_digits {
                    return Err(ERANGE);
                }
                whole = whole
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(d))
                    .ok_or(ERANGE)?;
            }
        } else {
            break;
        }
        i += 1;
    }
    if sign != 0 {
        whole *= sign;
    }
    let Some(&unit) = b.get(i) else {
        return Ok(whole);
    };
    let pos = b"BKMGTPE"
        .iter()
        .position(|u| *u == unit.to_ascii_uppercase())
        .ok_or(EINVAL)?;
    if b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err(EINVAL);
    }
    let mut scale: i64 = 1;
    for _ in 0..pos {
        scale *= 1024;
    }
    if whole > i64::MAX / scale || whole < i64::MIN / scale {
        return Err(ERANGE);
    }
    whole *= scale;
    let mut fdigits = i64::from(fract_digits);
    while fpart >= i64::MAX / scale {
        fpart /= 10;
        fdigits -= 1;
    }
    fpart *= scale;
    let mut k = 0;
    while k < fdigits - 1 {
        fpart /= 10;
        k += 1;
    }
    if sign == -1 {
        whole -= fpart;
    } else {
        whole += fpart;
    }
    Ok(whole)
}

/// IP type-of-service names accepted by `IPQoS`, in OpenSSH's table order
/// (the order decides which name `iptos2str` prints).
const IPQOS: &[(&str, i32)] = &[
    ("none", i32::MAX),
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("le", 0x04),
    ("lowdelay", 0x10),
    ("throughput", 0x08),
    ("reliability", 0x04),
];

/// `IPTOS_LOWDELAY`.
pub(crate) const IPTOS_LOWDELAY: i32 = 0x10;
/// `IPTOS_THROUGHPUT`.
pub(crate) const IPTOS_THROUGHPUT: i32 = 0x08;

/// `parse_ipqos`.
pub(crate) fn parse_ipqos(s: &str) -> Option<i32> {
    if let Some((_, v)) = IPQOS.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(*v);
    }
    let (v, used, _) = c_strtol(s, 0);
    if s.is_empty() || used != s.len() || !(0..=255).contains(&v) {
        return None;
    }
    Some(v as i32)
}

/// `iptos2str`.
pub(crate) fn iptos2str(v: i32) -> String {
    match IPQOS.iter().find(|(_, x)| *x == v) {
        Some((n, _)) => (*n).to_owned(),
        None => format!("0x{v:02x}"),
    }
}

/// `hpdelim2`: split `host[:port]` / `[v6]:port`; returns (host, rest, delimiter).
/// `None` on a bad bracket.
pub(crate) fn hpdelim2(s: &str) -> Option<(&str, Option<&str>, Option<char>)> {
    let end = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        s.find([':', '/']).unwrap_or(s.len())
    };
    match s.get(end..).and_then(|r| r.chars().next()) {
        None => Some((s, None, None)),
        Some(c @ (':' | '/')) => Some((s.get(..end)?, Some(s.get(end + 1..)?), Some(c))),
        Some(_) => None,
    }
}

/// `hpdelim`: as [`hpdelim2`] but only `:` separates.
pub(crate) fn hpdelim(s: &str) -> Option<(&str, Option<&str>)> {
    let (h, rest, d) = hpdelim2(s)?;
    if d == Some('/') {
        return None;
    }
    Some((h, rest))
}

/// `cleanhostname`: strip `[` `]` around an address.
pub(crate) fn cleanhostname(h: &str) -> &str {
    if h.len() >= 2 && h.starts_with('[') && h.ends_with(']') {
        h.get(1..h.len() - 1).unwrap_or(h)
    } else {
        h
    }
}

/// `parse_user_host_port`: `[user@]host[:port]`; port -1 when absent.
pub(crate) fn parse_user_host_port(s: &str) -> Option<(Option<String>, String, i32)> {
    let (user, rest) = match s.rfind('@') {
        Some(p) => {
            let u = s.get(..p)?;
            if u.is_empty() {
                return None;
            }
            (Some(u.to_owned()), s.get(p + 1..)?)
        }
        None => (None, s),
    };
    let (host, port) = hpdelim(rest)?;
    if host.is_empty() {
        return None;
    }
    let mut p = -1;
    if let Some(port) = port {
        if !port.is_empty() {
            p = a2port(port);
            if p <= 0 {
                return None;
            }
        }
    }
    Some((user, cleanhostname(host).to_owned(), p))
}

fn urldecode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Outcome of [`parse_uri`].
pub(crate) enum Uri {
    /// Not a URI of this scheme.
    #[allow(clippy::enum_variant_names)]
    NotUri,
    /// Malformed.
    Invalid,
    /// Parsed: user, host, port (-1 if absent), path.
    Ok(Option<String>, String, i32, Option<String>),
}

/// `parse_uri`: `scheme://[user[;params]@]host[:port][/path]`.
pub(crate) fn parse_uri(scheme: &str, uri: &str) -> Uri {
    let Some(rest) = uri.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) else {
        return Uri::NotUri;
    };
    let mut tmp = rest;
    let mut user = None;
    if let Some(at) = tmp.find('@') {
        let mut u = tmp.get(..at).unwrap_or("");
        if let Some(semi) = u.find(';') {
            u = u.get(..semi).unwrap_or("");
        }
        if u.is_empty() {
            return Uri::Invalid;
        }
        match urldecode(u) {
            Some(u) => user = Some(u),
            None => return Uri::Invalid,
        }
        tmp = tmp.get(at + 1..).unwrap_or("");
    }
    let Some((h, after, delim)) = hpdelim2(tmp) else {
        return Uri::Invalid;
    };
    if h.is_empty() {
        return Uri::Invalid;
    }
    let host = cleanhostname(h).to_owned();
    if valid_domain(&host, false).is_err() {
        return Uri::Invalid;
    }
    let mut port = -1;
    let mut path = None;
    if let Some(mut t) = after.filter(|a| !a.is_empty()) {
        let mut more = Some(t);
        if delim == Some(':') {
            let (p, r) = match t.find('/') {
                Some(i) => (t.get(..i).unwrap_or(""), t.get(i + 1..)),
                None => (t, None),
            };
            port = a2port(p);
            if port <= 0 {
                return Uri::Invalid;
            }
            more = r;
        }
        if let Some(m) = more {
            t = m;
            if !t.is_empty() {
                match urldecode(t) {
                    Some(p) => path = Some(p),
                    None => return Uri::Invalid,
                }
            }
        }
    }
    Uri::Ok(user, host, port, path)
}

/// `valid_domain`: returns the (optionally lower-cased, trailing-dot-stripped) name
/// or OpenSSH's error text.
pub(crate) fn valid_domain(name: &str, makelower: bool) -> Result<String, String> {
    if name.is_empty() {
        return Err("empty domain name".to_owned());
    }
    let first = name.as_bytes().first().copied().unwrap_or(0);
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "domain name \"{}\" starts with invalid character",
            trunc(name, 100)
        ));
    }
    let mut out = String::with_capacity(name.len());
    let mut last = '\0';
    for (i, ch) in name.chars().enumerate() {
        let c = ch.to_ascii_lowercase();
        if last == '.' && c == '.' {
            let shown = shown_name(name, i, makelower);
            return Err(format!(
                "domain name \"{}\" contains consecutive separators",
                trunc(&shown, 100)
            ));
        }
        if c != '.' && c != '-' && !c.is_ascii_alphanumeric() && c != '_' {
            let shown = shown_name(name, i, makelower);
            return Err(format!(
                "domain name \"{}\" contains invalid characters",
                trunc(&shown, 100)
            ));
        }
        out.push(if makelower { c } else { ch });
        last = c;
    }
    if out.ends_with('.') {
        out.pop();
    }
    Ok(out)
}

/// The name as OpenSSH shows it in `valid_domain` errors: lower-cased in place up
/// to and including the offending character when `makelower` is set.
fn shown_name(name: &str, upto: usize, makelower: bool) -> String {
    if !makelower {
        return name.to_owned();
    }
    name.chars()
        .enumerate()
        .map(|(j, c)| if j <= upto { c.to_ascii_lowercase() } else { c })
        .collect()
}

/// `%.Ns` truncation.
pub(crate) fn trunc(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// `valid_env_name`.
pub(crate) fn valid_env_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Log levels by name, in OpenSSH's table order.
/// (Debian adds `SILENT` as a synonym of `QUIET`, first, so dumps print it.)
pub(crate) const LOG_LEVELS: &[(&str, i32)] = &[
    ("SILENT", 0),
    ("QUIET", 0),
    ("FATAL", 1),
    ("ERROR", 2),
    ("INFO", 3),
    ("VERBOSE", 4),
    ("DEBUG", 5),
    ("DEBUG1", 5),
    ("DEBUG2", 6),
    ("DEBUG3", 7),
];

/// Syslog facilities by name, in OpenSSH's table order.
pub(crate) const LOG_FACILITIES: &[&str] = &[
    "DAEMON", "USER", "AUTH", "AUTHPRIV", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4",
    "LOCAL5", "LOCAL6", "LOCAL7",
];

/// Digest names for `FingerprintHash`, in OpenSSH's table order.
pub(crate) const DIGESTS: &[&str] = &["MD5", "SHA1", "SHA256", "SHA384", "SHA512"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convtime_cases() {
        assert_eq!(convtime("90m"), Some(5400));
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("10"), Some(10));
        assert_eq!(convtime("1x"), None);
        assert_eq!(convtime(""), None);
        assert_eq!(convtime("-1"), None);
        assert_eq!(convtime("9999999999"), None);
    }

    #[test]
    fn strtonum_cases() {
        assert_eq!(strtonum("22", 0, 65535), Ok(22));
        assert_eq!(strtonum("x", 0, 65535), Err("invalid"));
        assert_eq!(strtonum("70000", 0, 65535), Err("too large"));
        assert_eq!(strtonum("-1", 0, 65535), Err("too small"));
        assert_eq!(strtonum(" 5", 0, 9), Ok(5));
        assert_eq!(a2port("ssh"), 22);
        assert_eq!(a2port("nope"), -1);
    }

    #[test]
    fn scaled() {
        assert_eq!(scan_scaled("1G"), Ok(1 << 30));
        assert_eq!(scan_scaled("1.5K"), Ok(1536));
        assert_eq!(scan_scaled("100"), Ok(100));
        assert!(scan_scaled("1Q").is_err());
    }

    #[test]
    fn ipqos() {
        assert_eq!(parse_ipqos("af21"), Some(0x48));
        assert_eq!(parse_ipqos("0x10"), Some(0x10));
        assert_eq!(parse_ipqos("256"), None);
        assert_eq!(iptos2str(0x48), "af21");
        assert_eq!(iptos2str(3), "0x03");
    }

    #[test]
    fn user_host_port() {
        assert_eq!(
            parse_user_host_port("u@h:22"),
            Some((Some("u".into()), "h".into(), 22))
        );
        assert_eq!(
            parse_user_host_port("[::1]:2"),
            Some((None, "::1".into(), 2))
        );
        assert_eq!(parse_user_host_port("@h"), None);
        assert!(matches!(
            parse_uri("ssh", "ssh://u@h:2222"),
            Uri::Ok(Some(_), _, 2222, None)
        ));
        assert!(matches!(parse_uri("ssh", "h"), Uri::NotUri));
    }
}
