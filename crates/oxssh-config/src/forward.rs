//! Port-forwarding specifications (`LocalForward`, `RemoteForward`,
//! `DynamicForward`, `-L`/`-R`/`-D`/`-W`) parsed as OpenSSH's `parse_forward`
//! does: `[bind:]port`, `host:port`, bracketed IPv6, Unix-socket paths, `\`
//! escapes, and `${ENV}` expansion before deciding what is a path.

use std::fmt::Write as _;

/// `PORT_STREAMLOCAL`: the port value marking a Unix-domain socket path.
pub const PORT_STREAMLOCAL: i32 = -2;
const NI_MAXHOST: usize = 1025;
const PATH_MAX_SUN: usize = 108;

/// One forwarding, with OpenSSH's `struct Forward` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forward {
    /// Bind address, if given.
    pub listen_host: Option<String>,
    /// Listen port, or [`PORT_STREAMLOCAL`] for a socket path.
    pub listen_port: i32,
    /// Listen socket path.
    pub listen_path: Option<String>,
    /// Target host (`socks` for dynamic forwards).
    pub connect_host: Option<String>,
    /// Target port, or [`PORT_STREAMLOCAL`].
    pub connect_port: i32,
    /// Target socket path.
    pub connect_path: Option<String>,
}

impl Forward {
    /// Whether this is a dynamic (SOCKS) forward.
    pub fn is_dynamic(&self) -> bool {
        self.connect_host.as_deref() == Some("socks")
    }
}

struct Field {
    arg: String,
    ispath: bool,
}

/// `parse_fwd_field`; `None` at end of input or on error.
fn parse_fwd_field(p: &mut Option<&str>) -> Option<Result<Field, ()>> {
    let cp = (*p)?;
    if cp.is_empty() {
        *p = None;
        return None;
    }
    if let Some(inner) = cp.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Some(Err(()));
        };
        let field = inner.get(..end).unwrap_or("");
        let after = inner.get(end + 1..).unwrap_or("");
        let rest = if after.is_empty() {
            ""
        } else if let Some(r) = after.strip_prefix(':') {
            r
        } else {
            return Some(Err(()));
        };
        *p = Some(rest);
        return Some(Ok(Field {
            arg: field.to_owned(),
            ispath: field.contains('/'),
        }));
    }
    let mut arg = String::new();
    let mut ispath = false;
    let mut chars = cp.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n)) => arg.push(n),
                None => return Some(Err(())),
            },
            '/' => {
                ispath = true;
                arg.push(c);
            }
            ':' => {
                *p = Some(cp.get(i + 1..).unwrap_or(""));
                return Some(Ok(Field { arg, ispath }));
            }
            _ => arg.push(c),
        }
    }
    *p = Some("");
    Some(Ok(Field { arg, ispath }))
}

/// `parse_forward`: returns the forward, or `None` for a bad specification.
/// `env` resolves `${VAR}`.
pub fn parse_forward(
    spec: &str,
    dynamic: bool,
    remote: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Forward> {
    let mut log = Vec::new();
    let expanded = crate::expand::expand(spec, None, Some(env), &mut log).ok()??;
    let trimmed = expanded.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let mut cur = Some(trimmed);
    let mut fields: Vec<Field> = Vec::new();
    while fields.len() < 4 {
        match parse_fwd_field(&mut cur) {
            None => break,
            Some(Err(())) => return None,
            Some(Ok(f)) => fields.push(f),
        }
    }
    if cur.is_some_and(|c| !c.is_empty()) {
        return None;
    }
    let a2port = crate::misc::a2port;
    let mut fwd = Forward::default();
    let n = fields.len();
    let f = |i: usize| fields.get(i);
    let arg = |i: usize| f(i).map(|x| x.arg.clone()).unwrap_or_default();
    let ispath = |i: usize| f(i).is_some_and(|x| x.ispath);
    match n {
        1 => {
            if ispath(0) {
                fwd.listen_path = Some(arg(0));
                fwd.listen_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_port = a2port(&arg(0));
            }
            fwd.connect_host = Some("socks".to_owned());
        }
        2 => {
            if ispath(0) && ispath(1) {
                fwd.listen_path = Some(arg(0));
                fwd.listen_port = PORT_STREAMLOCAL;
                fwd.connect_path = Some(arg(1));
                fwd.connect_port = PORT_STREAMLOCAL;
            } else if ispath(1) {
                fwd.listen_port = a2port(&arg(0));
                fwd.connect_path = Some(arg(1));
                fwd.connect_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_host = Some(arg(0));
                fwd.listen_port = a2port(&arg(1));
                fwd.connect_host = Some("socks".to_owned());
            }
        }
        3 => {
            if ispath(0) {
                fwd.listen_path = Some(arg(0));
                fwd.listen_port = PORT_STREAMLOCAL;
                fwd.connect_host = Some(arg(1));
                fwd.connect_port = a2port(&arg(2));
            } else if ispath(2) {
                fwd.listen_host = Some(arg(0));
                fwd.listen_port = a2port(&arg(1));
                fwd.connect_path = Some(arg(2));
                fwd.connect_port = PORT_STREAMLOCAL;
            } else {
                fwd.listen_port = a2port(&arg(0));
                fwd.connect_host = Some(arg(1));
                fwd.connect_port = a2port(&arg(2));
            }
        }
        4 => {
            fwd.listen_host = Some(arg(0));
            fwd.listen_port = a2port(&arg(1));
            fwd.connect_host = Some(arg(2));
            fwd.connect_port = a2port(&arg(3));
        }
        _ => return None,
    }
    if dynamic {
        if !(n == 1 || n == 2) {
            return None;
        }
    } else {
        if !(n == 3 || n == 4) && fwd.connect_path.is_none() && fwd.listen_path.is_none() {
            return None;
        }
        if fwd.connect_port <= 0 && fwd.connect_path.is_none() {
            return None;
        }
    }
    if (fwd.listen_port < 0 && fwd.listen_path.is_none()) || (!remote && fwd.listen_port == 0) {
        return None;
    }
    let too_long = |s: &Option<String>, max: usize| s.as_ref().is_some_and(|v| v.len() >= max);
    if too_long(&fwd.connect_host, NI_MAXHOST)
        || too_long(&fwd.connect_path, PATH_MAX_SUN)
        || too_long(&fwd.listen_host, NI_MAXHOST)
        || too_long(&fwd.listen_path, PATH_MAX_SUN)
    {
        return None;
    }
    Some(fwd)
}

/// Format one forward as `ssh -G` does (`keyword listen [connect]`).
pub(crate) fn dump_forward(keyword: &str, fwd: &Forward, with_connect: bool) -> String {
    let mut s = String::from(keyword);
    if fwd.listen_port == PORT_STREAMLOCAL {
        let _ = write!(s, " {}", fwd.listen_path.as_deref().unwrap_or("(null)"));
    } else {
        match &fwd.listen_host {
            None => {
                let _ = write!(s, " {}", fwd.listen_port);
            }
            Some(h) => {
                let _ = write!(s, " [{}]:{}", h, fwd.listen_port);
            }
        }
    }
    if with_connect {
        if fwd.connect_port == PORT_STREAMLOCAL {
            let _ = write!(s, " {}", fwd.connect_path.as_deref().unwrap_or("(null)"));
        } else {
            match &fwd.connect_host {
                None => {
                    let _ = write!(s, " {}", fwd.connect_port);
                }
                Some(h) => {
                    let _ = write!(s, " [{}]:{}", h, fwd.connect_port);
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noenv(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn local_forms() {
        let f = parse_forward("8080:localhost:80", false, false, &noenv).unwrap();
        assert_eq!(
            (f.listen_port, f.connect_host.as_deref(), f.connect_port),
            (8080, Some("localhost"), 80)
        );
        let f = parse_forward("[::1]:8080:[::2]:80", false, false, &noenv).unwrap();
        assert_eq!(f.listen_host.as_deref(), Some("::1"));
        assert_eq!(f.connect_host.as_deref(), Some("::2"));
        let f = parse_forward("/tmp/a:/tmp/b", false, false, &noenv).unwrap();
        assert_eq!(f.listen_path.as_deref(), Some("/tmp/a"));
        assert!(parse_forward("8080", false, false, &noenv).is_none());
        assert!(parse_forward("0:h:1", false, false, &noenv).is_none());
    }

    #[test]
    fn dynamic_forms() {
        let f = parse_forward("1080", true, false, &noenv).unwrap();
        assert!(f.is_dynamic());
        let f = parse_forward("localhost:1080", true, false, &noenv).unwrap();
        assert_eq!(f.listen_host.as_deref(), Some("localhost"));
        assert!(parse_forward("a:b:c", true, false, &noenv).is_none());
    }
}
