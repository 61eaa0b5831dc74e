//! `%` token and `${ENV}` expansion and `~` expansion, as OpenSSH's
//! `percent_expand`, `percent_dollar_expand`, `dollar_expand` and
//! `tilde_expand` do them.
//!
//! Which keywords are expanded, and with which tokens, is decided by the callers
//! (`client`, `server`); this module only knows the mechanics and OpenSSH's error
//! messages. Environment and home directories come from the caller, never from
//! the process, so expansion stays pure.

use crate::error::{Diagnostic, Level};

/// Looks up an environment variable.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why an expansion failed, with the message(s) OpenSSH logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpandError {
    /// The `error()` line logged by `vdollar_percent_expand`.
    pub detail: String,
}

/// Expand `%x` tokens (when `tokens` is `Some`) and `${VAR}` (when `env` is
/// `Some`). Returns `Ok(None)` when a variable is unset: OpenSSH logs it and the
/// caller decides (usually fatal).
pub(crate) fn expand(
    s: &str,
    tokens: Option<&[(char, &str)]>,
    env: Option<EnvLookup<'_>>,
    log: &mut Vec<Diagnostic>,
) -> Result<Option<String>, ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut missing = false;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if let Some(env) = env {
            if c == '$' && it.peek().map(|x| x.1) == Some('{') {
                let after = s.get(i + 2..).unwrap_or("");
                let Some(end) = after.find('}') else {
                    return Err(ExpandError {
                        detail: format!(
                            "vdollar_percent_expand: environment variable '{after}' missing closing '}}'"
                        ),
                    });
                };
                if end == 0 {
                    return Err(ExpandError {
                        detail: "vdollar_percent_expand: zero-length environment variable".into(),
                    });
                }
                let var = after.get(..end).unwrap_or("");
                match env(var) {
                    Some(v) => out.push_str(&v),
                    None => {
                        log.push(Diagnostic::new(
                            Level::Error,
                            format!("vdollar_percent_expand: env var ${{{var}}} has no value"),
                        ));
                        missing = true;
                    }
                }
                // Skip "{", the name and "}".
                let skip_to = i + 2 + end;
                while it.peek().is_some_and(|(j, _)| *j <= skip_to) {
                    it.next();
                }
                continue;
            }
        }
        let Some(tokens) = tokens else {
            out.push(c);
            continue;
        };
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            None => {
                return Err(ExpandError {
                    detail: "vdollar_percent_expand: invalid format".into(),
                });
            }
            Some((_, '%')) => out.push('%'),
            Some((_, k)) => match tokens.iter().find(|(t, _)| *t == k) {
                Some((_, v)) => out.push_str(v),
                None => {
                    return Err(ExpandError {
                        detail: format!("vdollar_percent_expand: unknown key %{k}"),
                    });
                }
            },
        }
    }
    Ok(if missing { None } else { Some(out) })
}

/// Look up a home directory: `None` for the current user, `Some(name)` for
/// `~name`.
pub(crate) type HomeLookup<'a> = &'a dyn Fn(Option<&str>) -> Option<String>;

/// `tilde_expand`: `~`, `~/x`, `~user/x`. Errors carry OpenSSH's message.
pub(crate) fn tilde_expand(path: &str, home: HomeLookup<'_>) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_owned());
    };
    let (user, tail) = if rest.is_empty() {
        (None, None)
    } else if let Some(r) = rest.strip_prefix('/') {
        let r = r.trim_start_matches('/');
        (None, if r.is_empty() { None } else { Some(r) })
    } else {
        match rest.split_once('/') {
            Some((u, t)) => {
                let t = t.trim_start_matches('/');
                (Some(u), if t.is_empty() { None } else { Some(t) })
            }
            None => (Some(rest), None),
        }
    };
    let dir = match home(user) {
        Some(d) => d,
        None => {
            return Err(match user {
                Some(u) => format!("tilde_expand: No such user {u}"),
                None => "tilde_expand: No such uid".to_owned(),
            });
        }
    };
    let slash = if dir.is_empty() || !dir.ends_with('/') {
        "/"
    } else {
        ""
    };
    let out = format!("{dir}{slash}{}", tail.unwrap_or(""));
    if out.len() >= 4096 {
        return Err("tilde_expand: Path too long".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_dollar() {
        let mut log = Vec::new();
        let env = |v: &str| {
            if v == "X" {
                Some("ex".to_owned())
            } else {
                None
            }
        };
        let t = [('h', "host"), ('p', "22")];
        assert_eq!(
            expand("%h:%p %% ${X}", Some(&t), Some(&env), &mut log)
                .unwrap()
                .unwrap(),
            "host:22 % ex"
        );
        assert!(expand("%q", Some(&t), None, &mut log).is_err());
        assert!(expand("%", Some(&t), None, &mut log).is_err());
        assert_eq!(expand("${Y}", None, Some(&env), &mut log).unwrap(), None);
        assert!(expand("${Y", None, Some(&env), &mut log).is_err());
        assert_eq!(
            expand("%h ${X}", None, None, &mut log).unwrap().unwrap(),
            "%h ${X}"
        );
    }

    #[test]
    fn tilde() {
        let home = |u: Option<&str>| match u {
            None => Some("/root".to_owned()),
            Some("bob") => Some("/home/bob/".to_owned()),
            Some(_) => None,
        };
        assert_eq!(tilde_expand("~/.ssh/x", &home).unwrap(), "/root/.ssh/x");
        assert_eq!(tilde_expand("~", &home).unwrap(), "/root/");
        assert_eq!(tilde_expand("~bob/k", &home).unwrap(), "/home/bob/k");
        assert!(tilde_expand("~zed/k", &home).is_err());
        assert_eq!(tilde_expand("/a", &home).unwrap(), "/a");
    }
}
