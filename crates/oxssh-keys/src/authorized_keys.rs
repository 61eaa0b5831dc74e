//! authorized_keys (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): `[options] keytype base64
//! [comment]` lines. Options are parsed into a typed set; enforcement of each option
//! is the server's job.
//!
//! Like OpenSSH, a line that does not parse is skipped (and reported to the caller so
//! it can be logged), never fatal.

use ssh_key::PublicKey;

/// The options of one authorized_keys line, typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub command: Option<String>,
    pub environment: Vec<String>,
    pub from: Option<String>,
    pub permitopen: Vec<String>,
    pub permitlisten: Vec<String>,
    pub principals: Option<String>,
    pub expiry_time: Option<String>,
    pub no_pty: bool,
    pub no_port_forwarding: bool,
    pub no_agent_forwarding: bool,
    pub no_x11_forwarding: bool,
    pub no_user_rc: bool,
    pub cert_authority: bool,
    pub no_touch_required: bool,
    pub verify_required: bool,
    /// `tunnel="n"`: the only tunnel unit this key may use (0x7fffffff for `any`).
    pub tunnel: Option<u32>,
    /// `restrict` was given: among other things, no tunnel forwarding.
    pub restricted: bool,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub options: Options,
    pub key: PublicKey,
    pub line: usize,
}

/// Split the option string at the first unquoted whitespace: (options, rest).
fn split_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                return (
                    line.get(..i).unwrap_or(""),
                    line.get(i..).unwrap_or("").trim_start(),
                );
            }
            _ => {}
        }
        escaped = false;
    }
    (line, "")
}

/// A tunnel unit as OpenSSH's a2tun reads it: a number up to 0x7ffffffd, or `any`.
fn parse_tunnel(v: &str) -> Result<u32, String> {
    const ANY: u32 = 0x7fff_ffff;
    if v.eq_ignore_ascii_case("any") {
        return Ok(ANY);
    }
    v.parse::<u32>()
        .ok()
        .filter(|&n| n <= ANY - 2)
        .ok_or_else(|| "invalid tun device".to_owned())
}

/// Parse a comma-separated option list.
pub fn parse_options(s: &str) -> Result<Options, String> {
    let mut o = Options::default();
    let mut rest = s;
    while !rest.is_empty() {
        let name_end = rest.find(['=', ',']).unwrap_or(rest.len());
        let name = rest.get(..name_end).unwrap_or("").to_ascii_lowercase();
        rest = rest.get(name_end..).unwrap_or("");
        let value = if let Some(r) = rest.strip_prefix('=') {
            let r = r
                .strip_prefix('"')
                .ok_or_else(|| format!("missing start quote for {name}"))?;
            let mut v = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            if n != '"' {
                                v.push('\\');
                            }
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("missing end quote for {name}"))?;
            rest = r.get(end..).unwrap_or("");
            Some(v)
        } else {
            None
        };
        match (name.as_str(), value) {
            ("command", Some(v)) => o.command = o.command.or(Some(v)),
            ("environment", Some(v)) => o.environment.push(v),
            ("from", Some(v)) => o.from = Some(v),
            ("permitopen", Some(v)) => o.permitopen.push(v),
            ("permitlisten", Some(v)) => o.permitlisten.push(v),
            ("principals", Some(v)) => o.principals = Some(v),
            ("expiry-time", Some(v)) => o.expiry_time = Some(v),
            ("tunnel", Some(v)) => o.tunnel = Some(parse_tunnel(&v)?),
            ("no-pty", None) => o.no_pty = true,
            ("pty", None) => o.no_pty = false,
            ("no-port-forwarding", None) => o.no_port_forwarding = true,
            ("port-forwarding", None) => o.no_port_forwarding = false,
            ("no-agent-forwarding", None) => o.no_agent_forwarding = true,
            ("agent-forwarding", None) => o.no_agent_forwarding = false,
            ("no-x11-forwarding", None) => o.no_x11_forwarding = true,
            ("x11-forwarding", None) => o.no_x11_forwarding = false,
            ("no-user-rc", None) => o.no_user_rc = true,
            ("user-rc", None) => o.no_user_rc = false,
            ("cert-authority", None) => o.cert_authority = true,
            ("no-touch-required", None) => o.no_touch_required = true,
            ("verify-required", None) => o.verify_required = true,
            ("restrict", None) => {
                o.restricted = true;
                o.no_pty = true;
                o.no_port_forwarding = true;
                o.no_agent_forwarding = true;
                o.no_x11_forwarding = true;
                o.no_user_rc = true;
            }
            (n, _) => return Err(format!("Bad options in authorized_keys: {n}")),
        }
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None if rest.is_empty() => {}
            None => return Err("bad option separator".into()),
        }
    }
    Ok(o)
}

/// Parse one line; None for blank lines and comments; Err with a reason for bad lines.
pub fn parse_line(line: &str, n: usize) -> Option<Result<Entry, String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let entry = |opts: &str, rest: &str| -> Result<Entry, String> {
        let options = if opts.is_empty() {
            Options::default()
        } else {
            parse_options(opts)?
        };
        let mut it = rest.split_whitespace();
        let ty = it.next().ok_or("missing key type")?;
        let b64 = it.next().ok_or("missing key")?;
        let key = PublicKey::from_openssh(&format!("{ty} {b64}")).map_err(|e| e.to_string())?;
        Ok(Entry {
            options,
            key,
            line: n,
        })
    };
    // A line starts with either the key type or the options.
    Some(entry("", line).or_else(|_| {
        let (opts, rest) = split_options(line);
        entry(opts, rest)
    }))
}

/// Parse a whole file: entries, and (line, reason) for lines that were skipped.
pub fn parse(text: &str) -> (Vec<Entry>, Vec<(usize, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, l) in text.lines().enumerate() {
        match parse_line(l, i + 1) {
            Some(Ok(e)) => ok.push(e),
            Some(Err(e)) => bad.push((i + 1, e)),
            None => {}
        }
    }
    (ok, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw c";

    #[test]
    fn options_are_typed() {
        let text = format!(
            "{K}\nrestrict,pty,command=\"echo \\\"hi\\\" there\",from=\"10.0.0.0/8\" {K}\nbogus-opt {K}\n"
        );
        let (ok, bad) = parse(&text);
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].options, Options::default());
        let o = &ok[1].options;
        assert_eq!(o.command.as_deref(), Some("echo \"hi\" there"));
        assert_eq!(o.from.as_deref(), Some("10.0.0.0/8"));
        assert!(!o.no_pty && o.no_port_forwarding && o.no_user_rc);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 3);
    }

    #[test]
    fn tunnel_takes_a_unit_or_any_and_restrict_is_remembered() {
        let o = |s: &str| parse_options(s);
        assert_eq!(o("tunnel=\"3\"").unwrap().tunnel, Some(3));
        assert_eq!(o("tunnel=\"ANY\"").unwrap().tunnel, Some(0x7fff_ffff));
        assert_eq!(
            o("tunnel=\"2147483645\"").unwrap().tunnel,
            Some(0x7fff_fffd)
        );
        for bad in ["2147483646", "-1", "tun0", ""] {
            assert_eq!(
                o(&format!("tunnel=\"{bad}\"")).unwrap_err(),
                "invalid tun device"
            );
        }
        assert!(o("restrict").unwrap().restricted);
        assert!(!o("no-pty").unwrap().restricted);
    }
}
