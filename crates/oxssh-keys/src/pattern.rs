//! OpenSSH host and user patterns (ssh_config(5) "PATTERNS"): `*` and `?` wildcards,
//! comma-separated lists, and `!` negation, where a negated match vetoes the list.

/// Glob match of `name` against one pattern with `*` and `?` (no negation, no lists).
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with single-star backtracking: linear-ish, no recursion.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '*')
}

/// Result of matching a name against a comma-separated pattern list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMatch {
    NoMatch,
    Match,
    /// A `!pattern` matched: the list refuses the name whatever else matches.
    Negated,
}

/// Match `name` against a pattern list like `*.example.com,!bad.example.com`.
/// Host names compare case-insensitively when `fold_case` is set.
pub fn match_list(list: &str, name: &str, fold_case: bool) -> ListMatch {
    let name = if fold_case {
        name.to_ascii_lowercase()
    } else {
        name.to_owned()
    };
    let mut got = ListMatch::NoMatch;
    for pat in list.split(',') {
        let (neg, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        let pat = if fold_case {
            pat.to_ascii_lowercase()
        } else {
            pat.to_owned()
        };
        if glob(&pat, &name) {
            if neg {
                return ListMatch::Negated;
            }
            got = ListMatch::Match;
        }
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*.example.com", "a.example.com"));
        assert!(!glob("*.example.com", "example.com"));
        assert!(glob("h?st", "host"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn negation_vetoes() {
        assert_eq!(
            match_list("*.ex.com,!bad.ex.com", "bad.ex.com", true),
            ListMatch::Negated
        );
        assert_eq!(
            match_list("*.ex.com,!bad.ex.com", "OK.ex.com", true),
            ListMatch::Match
        );
        assert_eq!(match_list("!bad", "good", true), ListMatch::NoMatch);
    }
}
