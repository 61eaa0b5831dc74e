//! POSIX `getopt(3)` exactly as OpenSSH's tools use it: bundled flags (`-vvv`),
//! attached or separate option arguments (`-p22`, `-p 22`), `--` ends the options, a
//! lone `-` is an operand, and parsing stops at the first operand (BSD behaviour; `ssh`
//! restarts it after the destination). Error texts are getopt's, which OpenSSH prints
//! before its usage message.

use std::ffi::OsString;

/// One parsed item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An option letter and, if it takes one, its argument.
    Opt(char, Option<OsString>),
}

/// A getopt error, with the text getopt prints (without the program name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetoptError {
    Unknown(char),
    MissingArgument(char),
}

impl std::fmt::Display for GetoptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetoptError::Unknown(c) => write!(f, "unknown option -- {c}"),
            GetoptError::MissingArgument(c) => write!(f, "option requires an argument -- {c}"),
        }
    }
}

/// A getopt scanner over `args` (without the program name) for `optstring`
/// (letters; a letter followed by `:` takes an argument).
pub struct Getopt {
    args: Vec<OsString>,
    optstring: &'static str,
    /// Index of the next argument to look at.
    pub index: usize,
    /// Position inside a bundle of flags (`-vvv`), 0 when between arguments.
    pos: usize,
}

impl Getopt {
    pub fn new(args: Vec<OsString>, optstring: &'static str) -> Getopt {
        Getopt {
            args,
            optstring,
            index: 0,
            pos: 0,
        }
    }

    fn takes_arg(&self, c: char) -> Option<bool> {
        let mut it = self.optstring.chars().peekable();
        while let Some(x) = it.next() {
            let has = it.peek() == Some(&':');
            if has {
                it.next();
            }
            if x == c && x != ':' {
                return Some(has);
            }
        }
        None
    }

    /// Arguments from the first operand on.
    pub fn remaining(&self) -> &[OsString] {
        self.args.get(self.index..).unwrap_or_default()
    }

    /// Skip `n` operands (ssh skips the destination, then resumes option parsing).
    pub fn skip(&mut self, n: usize) {
        self.index = (self.index + n).min(self.args.len());
        self.pos = 0;
    }

    /// The next option, or None at the first operand / `--` / end.
    pub fn next_opt(&mut self) -> Option<Result<Item, GetoptError>> {
        let arg = self.args.get(self.index)?.as_encoded_bytes().to_vec();
        if self.pos == 0 {
            if arg == b"--" {
                self.index += 1;
                return None;
            }
            if arg.len() < 2 || arg.first() != Some(&b'-') {
                return None;
            }
            self.pos = 1;
        }
        let rest = arg.get(self.pos..).unwrap_or_default();
        let s = String::from_utf8_lossy(rest);
        let c = s.chars().next()?;
        self.pos += c.len_utf8();
        let at_end = self.pos >= arg.len();
        match self.takes_arg(c) {
            None => {
                if at_end {
                    self.index += 1;
                    self.pos = 0;
                }
                Some(Err(GetoptError::Unknown(c)))
            }
            Some(false) => {
                if at_end {
                    self.index += 1;
                    self.pos = 0;
                }
                Some(Ok(Item::Opt(c, None)))
            }
            Some(true) => {
                let value = if !at_end {
                    let v = arg.get(self.pos..).unwrap_or_default().to_vec();
                    self.index += 1;
                    // Split after an ASCII option letter, so the tail is still a valid OsString.
                    Some(os_from_bytes(v))
                } else {
                    self.index += 1;
                    let v = self.args.get(self.index).cloned();
                    if v.is_some() {
                        self.index += 1;
                    }
                    v
                };
                self.pos = 0;
                match value {
                    Some(v) => Some(Ok(Item::Opt(c, Some(v)))),
                    None => Some(Err(GetoptError::MissingArgument(c))),
                }
            }
        }
    }
}

fn os_from_bytes(v: Vec<u8>) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], opts: &'static str) -> (Vec<Result<Item, GetoptError>>, Vec<String>) {
        let mut g = Getopt::new(args.iter().map(OsString::from).collect(), opts);
        let mut out = Vec::new();
        while let Some(i) = g.next_opt() {
            out.push(i);
        }
        (
            out,
            g.remaining()
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect(),
        )
    }

    fn o(c: char, v: Option<&str>) -> Result<Item, GetoptError> {
        Ok(Item::Opt(c, v.map(OsString::from)))
    }

    #[test]
    fn openssh_style_cases() {
        let (items, rest) = run(&["-vvp22", "-o", "A=b", "-oC=d", "host", "-x"], "vo:p:x");
        assert_eq!(
            items,
            vec![
                o('v', None),
                o('v', None),
                o('p', Some("22")),
                o('o', Some("A=b")),
                o('o', Some("C=d"))
            ]
        );
        assert_eq!(rest, ["host", "-x"]);
        let (items, rest) = run(&["-v", "--", "-x"], "vx");
        assert_eq!(items, vec![o('v', None)]);
        assert_eq!(rest, ["-x"]);
        let (items, _) = run(&["-p"], "p:");
        assert_eq!(items, vec![Err(GetoptError::MissingArgument('p'))]);
        let (items, rest) = run(&["-z", "-"], "p:");
        assert_eq!(items, vec![Err(GetoptError::Unknown('z'))]);
        assert_eq!(rest, ["-"]);
        assert_eq!(
            GetoptError::MissingArgument('p').to_string(),
            "option requires an argument -- p"
        );
    }
}
