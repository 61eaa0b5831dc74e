//! `AuthenticationMethods` as OpenSSH's auth2.c applies it: each configured list
//! ("publickey,password") is a sequence of methods that must all succeed, in order; a
//! method succeeding that completes no list is a partial success (USERAUTH_FAILURE with
//! partial = true) and is struck from the front of every list it starts. A list item
//! may name a keyboard-interactive device ("keyboard-interactive:pam").
//!
//! Pure logic over strings; what counts as enabled comes from the caller.

/// How a method name matches the front of a list (OpenSSH's list_starts_with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Match {
    None,
    /// "keyboard-interactive" against "keyboard-interactive:dev" without a device.
    Partial,
    Method,
    Both,
}

fn starts_with(list: &str, method: &str, submethod: Option<&str>) -> Match {
    let Some(rest) = list.strip_prefix(method) else {
        return Match::None;
    };
    let (rest, m) = match rest.strip_prefix(':') {
        Some(after) => {
            let Some(sub) = submethod else {
                return Match::Partial;
            };
            match after.strip_prefix(sub) {
                Some(r) => (r, Match::Both),
                None => return Match::None,
            }
        }
        None => (rest, Match::Method),
    };
    if rest.is_empty() || rest.starts_with(',') {
        m
    } else {
        Match::None
    }
}

/// The method names OpenSSH knows, in the order it offers them.
pub const KNOWN: &[&str] = &[
    "none",
    "publickey",
    "gssapi-with-mic",
    "password",
    "keyboard-interactive",
    "hostbased",
];

/// The lists still to be completed for one connection; `None` = no
/// AuthenticationMethods (any single method suffices).
#[derive(Clone, Debug, Default)]
pub struct Lists(Option<Vec<String>>);

impl Lists {
    /// auth2_setup_methods_lists: "any" alone means no restriction; lists naming a
    /// disabled method are skipped with OpenSSH's log line. Err when nothing is left.
    pub fn setup(configured: &[String], enabled: impl Fn(&str) -> bool) -> Result<Lists, ()> {
        if configured.is_empty() || configured == ["any"] {
            return Ok(Lists(None));
        }
        let mut lists = Vec::new();
        for l in configured {
            let ok = !l.is_empty()
                && l.split(',').all(|m| {
                    let name = m.split_once(':').map_or(m, |(n, _)| n);
                    KNOWN.contains(&name) && enabled(name)
                });
            if !ok {
                tracing::info!(
                    "Authentication methods list \"{l}\" contains disabled method, skipping"
                );
                continue;
            }
            tracing::debug!("authentication methods list {}: {l}", lists.len());
            lists.push(l.clone());
        }
        if lists.is_empty() {
            tracing::error!("No AuthenticationMethods left after eliminating disabled methods");
            return Err(());
        }
        Ok(Lists(Some(lists)))
    }

    /// auth2_method_allowed: may `method` (with `submethod`, a kbd-int device) be tried
    /// now?
    pub fn allowed(&self, method: &str, submethod: Option<&str>) -> bool {
        match &self.0 {
            None => true,
            Some(lists) => lists
                .iter()
                .any(|l| starts_with(l, method, submethod) != Match::None),
        }
    }

    /// auth2_update_methods_lists after `method` succeeded: true when some list is now
    /// complete (the user is in), false for a partial success.
    pub fn update(&mut self, method: &str, submethod: Option<&str>) -> bool {
        let Some(lists) = &mut self.0 else {
            return true;
        };
        tracing::trace!("auth2_update_methods_lists: updating methods list after \"{method}\"");
        for (i, l) in lists.iter_mut().enumerate() {
            let m = starts_with(l, method, submethod);
            if m != Match::Method && m != Match::Both {
                continue;
            }
            let mut skip = method.len();
            if let (Some(sub), Match::Both) = (submethod, m) {
                skip += 1 + sub.len();
            }
            let rest = l.get(skip..).unwrap_or_default();
            *l = rest.strip_prefix(',').unwrap_or(rest).to_owned();
            if l.is_empty() {
                tracing::debug!("authentication methods list {i} complete");
                return true;
            }
            tracing::trace!("authentication methods list {i} remaining: \"{l}\"");
        }
        false
    }

    /// authmethods_get: the names for USERAUTH_FAILURE, in OpenSSH's order.
    pub fn offer<'a>(&self, enabled: &[&'a str]) -> Vec<&'a str> {
        KNOWN
            .iter()
            .filter(|m| **m != "none")
            .filter_map(|m| enabled.iter().find(|e| *e == m).copied())
            .filter(|m| self.allowed(m, None))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(v: &[&str]) -> Lists {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        Lists::setup(&v, |_| true).unwrap()
    }

    #[test]
    fn publickey_then_password_or_kbdint() {
        let mut l = lists(&["publickey,password", "publickey,keyboard-interactive"]);
        let all = ["publickey", "password", "keyboard-interactive"];
        assert_eq!(l.offer(&all), ["publickey"]);
        assert!(!l.allowed("password", None));
        assert!(!l.update("publickey", None));
        assert_eq!(l.offer(&all), ["password", "keyboard-interactive"]);
        assert!(!l.allowed("publickey", None));
        assert!(l.update("password", None));
    }

    #[test]
    fn two_publickeys_and_devices() {
        let mut l = lists(&["publickey,publickey"]);
        assert!(!l.update("publickey", None));
        assert!(l.allowed("publickey", None));
        assert!(l.update("publickey", None));
        let mut k = lists(&["keyboard-interactive:pam"]);
        assert!(k.allowed("keyboard-interactive", None));
        assert!(k.allowed("keyboard-interactive", Some("pam")));
        assert!(!k.allowed("keyboard-interactive", Some("bsdauth")));
        assert!(k.update("keyboard-interactive", Some("pam")));
        assert!(!starts_with("publickeyx", "publickey", None).eq(&Match::Method));
    }

    #[test]
    fn any_and_disabled_methods() {
        assert!(lists(&["any"]).allowed("password", None));
        let v = vec!["password".to_string(), "publickey".to_string()];
        let l = Lists::setup(&v, |m| m != "password").unwrap();
        assert!(!l.allowed("password", None));
        assert!(Lists::setup(&v[..1], |m| m != "password").is_err());
    }
}
