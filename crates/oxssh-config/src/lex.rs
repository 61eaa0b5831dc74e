//! Tokenising configuration lines the way OpenSSH's `misc.c` does.
//!
//! Two tokenisers coexist in OpenSSH and both matter for exact compatibility:
//! `strdelim()` splits off the keyword (on whitespace, one `=`, or a quoted run)
//! and is also used by `Match` to walk its criteria; `argv_split()` splits the
//! arguments, honouring `'` and `"` quotes, `\` escapes and `#` comments.
//! Commands (`ProxyCommand`, `ForceCommand`, …) bypass `argv_split` and take the
//! raw remainder of the line, comments included, exactly as OpenSSH does.
//!
//! Not here: what keywords mean (see `client` and `server`).

/// Whitespace as OpenSSH's `WHITESPACE` macro.
pub(crate) const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// Longest line accepted from a file; longer lines are cut (bounded memory).
pub(crate) const MAX_LINE_LEN: usize = 64 * 1024;

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches(WHITESPACE)
}

/// OpenSSH's `strdelim_internal`: returns the next token and advances `s`.
///
/// `s` becomes `None` when the input is exhausted (C: `*s = NULL`). A token that
/// starts an unterminated quote yields `None`.
pub(crate) fn strdelim_internal(s: &mut Option<&str>, split_equals: bool) -> Option<String> {
    let cur = (*s)?;
    let is_delim =
        |c: char| matches!(c, ' ' | '\t' | '\r' | '\n' | '"') || (split_equals && c == '=');
    let Some(pos) = cur.find(is_delim) else {
        *s = None;
        return Some(cur.to_owned());
    };
    let (tok, rest) = cur.split_at(pos);
    let delim = rest.chars().next().unwrap_or(' ');
    let after = rest.get(1..).unwrap_or("");
    if delim == '"' {
        // The opening quote is removed and the token runs to the next quote.
        match after.find('"') {
            None => {
                *s = None;
                None
            }
            Some(q) => {
                let mut token = tok.to_owned();
                token.push_str(after.get(..q).unwrap_or(""));
                *s = Some(skip_ws(after.get(q + 1..).unwrap_or("")));
                Some(token)
            }
        }
    } else {
        let wspace = split_equals && delim == '=';
        let mut next = skip_ws(after);
        if split_equals && !wspace {
            if let Some(r) = next.strip_prefix('=') {
                next = skip_ws(r);
            }
        }
        *s = Some(next);
        Some(tok.to_owned())
    }
}

/// `strdelim()`: splits on whitespace or a single `=`.
pub(crate) fn strdelim(s: &mut Option<&str>) -> Option<String> {
    strdelim_internal(s, true)
}

/// Error from [`argv_split`]: an unterminated quote.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidQuotes;

/// OpenSSH's `argv_split()`: split into arguments, honouring `'`/`"` quotes and
/// the escapes `\\`, `\"`, `\'` and (outside quotes) `\ `. With
/// `terminate_on_comment`, a `#` at the start of an argument ends the line.
pub(crate) fn argv_split(
    s: &str,
    terminate_on_comment: bool,
) -> Result<Vec<String>, InvalidQuotes> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or('\0');
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if terminate_on_comment && c == '#' {
            break;
        }
        let mut quote: Option<char> = None;
        let mut arg = String::new();
        while let Some(&ch) = b.get(i) {
            if ch == '\\' {
                let next = b.get(i + 1).copied();
                match next {
                    Some('\'') | Some('"') | Some('\\') => {
                        i += 1;
                        arg.push(next.unwrap_or('\\'));
                    }
                    Some(' ') if quote.is_none() => {
                        i += 1;
                        arg.push(' ');
                    }
                    _ => arg.push('\\'),
                }
            } else if quote.is_none() && (ch == ' ' || ch == '\t') {
                break;
            } else if quote.is_none() && (ch == '"' || ch == '\'') {
                quote = Some(ch);
            } else if quote == Some(ch) {
                quote = None;
            } else {
                arg.push(ch);
            }
            i += 1;
        }
        out.push(arg);
        if i >= b.len() {
            if quote.is_some() {
                return Err(InvalidQuotes);
            }
            break;
        }
        i += 1;
    }
    Ok(out)
}

/// Prepare a raw line as OpenSSH sees it: stop at a NUL (C strings), cut overlong
/// lines, and strip trailing whitespace including form feeds (but never the
/// first character, matching OpenSSH's loop).
pub(crate) fn clean_line(raw: &str) -> &str {
    let mut line = match raw.find('\0') {
        Some(p) => raw.get(..p).unwrap_or(""),
        None => raw,
    };
    if line.len() > MAX_LINE_LEN {
        let mut cut = MAX_LINE_LEN;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line = line.get(..cut).unwrap_or("");
    }
    let mut end = line.len();
    while end > 1 {
        let Some(c) = line.get(..end).and_then(|s| s.chars().next_back()) else {
            break;
        };
        if matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c') {
            end -= c.len_utf8();
        } else {
            break;
        }
    }
    line.get(..end).unwrap_or("")
}

/// Split a file's bytes into lines (like `getline`), lossily decoding non-UTF-8.
pub(crate) fn lines(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<String> = text.split('\n').map(str::to_owned).collect();
    // A trailing newline does not start another line.
    if out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// Result of splitting a line into keyword and arguments.
pub(crate) struct SplitLine<'a> {
    /// The keyword as written.
    pub keyword: String,
    /// The raw remainder after the keyword and following whitespace (`str` in C).
    pub rest: &'a str,
}

/// Keyword extraction shared by ssh and sshd: `Ok(None)` for blank and comment
/// lines, `Err(keyword)` when the keyword has no argument.
pub(crate) fn split_keyword(line: &str) -> Result<Option<SplitLine<'_>>, String> {
    let mut s = Some(line);
    let Some(mut keyword) = strdelim(&mut s) else {
        return Ok(None);
    };
    if keyword.is_empty() {
        match strdelim(&mut s) {
            Some(k) => keyword = k,
            None => return Ok(None),
        }
    }
    if keyword.is_empty() || keyword.starts_with('\n') || keyword.starts_with('#') {
        return Ok(None);
    }
    let rest = s.map(skip_ws);
    match rest {
        Some(r) if !r.is_empty() => Ok(Some(SplitLine { keyword, rest: r })),
        _ => Err(keyword),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strdelim_equals_and_space() {
        let mut s = Some("Port = 22");
        assert_eq!(strdelim(&mut s).as_deref(), Some("Port"));
        assert_eq!(s, Some("22"));
        let mut s = Some("Port=22");
        assert_eq!(strdelim(&mut s).as_deref(), Some("Port"));
        assert_eq!(s, Some("22"));
        let mut s = Some("Port==22");
        assert_eq!(strdelim(&mut s).as_deref(), Some("Port"));
        assert_eq!(s, Some("=22"));
        let mut s = Some("\"Po rt\" 22");
        assert_eq!(strdelim(&mut s).as_deref(), Some("Po rt"));
        assert_eq!(s, Some("22"));
    }

    #[test]
    fn strdelim_quote_inside_token() {
        let mut s = Some("Ho\"st\" x");
        assert_eq!(strdelim(&mut s).as_deref(), Some("Host"));
        assert_eq!(s, Some("x"));
        let mut s = Some("Ho\"st x");
        assert_eq!(strdelim(&mut s), None);
    }

    #[test]
    fn argv_split_quotes_escapes_comments() {
        assert_eq!(
            argv_split("a 'b c' \"d\\\"e\" f\\ g # x", true).unwrap(),
            vec!["a", "b c", "d\"e", "f g"]
        );
        assert_eq!(argv_split("a#b", true).unwrap(), vec!["a#b"]);
        assert_eq!(argv_split("a \\q", true).unwrap(), vec!["a", "\\q"]);
        assert!(argv_split("a 'b", true).is_err());
        assert_eq!(argv_split("", true).unwrap(), Vec::<String>::new());
        assert_eq!(argv_split("''", true).unwrap(), vec![""]);
    }

    #[test]
    fn clean_line_strips_trailing() {
        assert_eq!(clean_line("Port 22 \t\x0c\r"), "Port 22");
        assert_eq!(clean_line(" "), " ");
        assert_eq!(clean_line("a\0b"), "a");
    }

    #[test]
    fn split_keyword_cases() {
        assert!(split_keyword("   # comment").unwrap().is_none());
        assert!(split_keyword("").unwrap().is_none());
        assert_eq!(split_keyword("Port").err().as_deref(), Some("Port"));
        let l = split_keyword("  Port  22").unwrap().unwrap();
        assert_eq!(l.keyword, "Port");
        assert_eq!(l.rest, "22");
    }
}
