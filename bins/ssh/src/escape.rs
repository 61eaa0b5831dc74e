//! ssh(1) ESCAPE CHARACTERS: with a terminal session, the escape character (`~` by
//! default, EscapeChar) typed at the start of a line introduces a command: `~.`
//! disconnects, `~?` lists the escapes, `~~` sends a literal `~`, `~R` rekeys, `~B`
//! sends a BREAK. Pure filtering over the bytes typed; the session acts on the result.

/// What the user asked for with an escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Disconnect,
    Help,
    Rekey,
    Break,
}

pub struct Escape {
    ch: u8,
    at_line_start: bool,
    pending: bool,
}

pub const HELP: &str = "Supported escape sequences:\r
 ~.   - terminate connection (and any multiplexed sessions)\r
 ~B   - send a BREAK to the remote system\r
 ~R   - request rekey\r
 ~?   - this message\r
 ~~   - send the escape character by typing it twice\r
(Note that escapes are only recognized immediately after newline.)\r
";

impl Escape {
    pub fn new(ch: u8) -> Escape {
        Escape {
            ch,
            at_line_start: true,
            pending: false,
        }
    }

    /// Filter typed bytes: what to send goes to `out`, commands to `actions`. Stops at
    /// a disconnect (the rest of the input is dropped, as OpenSSH does).
    pub fn filter(&mut self, input: &[u8], out: &mut Vec<u8>, actions: &mut Vec<Action>) {
        for &b in input {
            if self.pending {
                self.pending = false;
                let action = match b {
                    b'.' => Some(Action::Disconnect),
                    b'?' => Some(Action::Help),
                    b'R' => Some(Action::Rekey),
                    b'B' => Some(Action::Break),
                    c if c == self.ch => {
                        out.push(c);
                        None
                    }
                    c => {
                        // Not an escape: both characters go through.
                        out.push(self.ch);
                        out.push(c);
                        self.at_line_start = c == b'\r' || c == b'\n';
                        continue;
                    }
                };
                if let Some(a) = action {
                    actions.push(a);
                    if a == Action::Disconnect {
                        return;
                    }
                }
                self.at_line_start = false;
                continue;
            }
            if self.at_line_start && b == self.ch {
                self.pending = true;
                continue;
            }
            out.push(b);
            self.at_line_start = b == b'\r' || b == b'\n';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, Vec<Action>) {
        let mut e = Escape::new(b'~');
        let (mut out, mut acts) = (Vec::new(), Vec::new());
        e.filter(input, &mut out, &mut acts);
        (out, acts)
    }

    #[test]
    fn escapes_only_after_newline() {
        assert_eq!(run(b"a~.b"), (b"a~.b".to_vec(), vec![]));
        assert_eq!(
            run(b"ls\n~.rest"),
            (b"ls\n".to_vec(), vec![Action::Disconnect])
        );
        assert_eq!(run(b"~~x"), (b"~x".to_vec(), vec![]));
        assert_eq!(run(b"~x"), (b"~x".to_vec(), vec![]));
        assert_eq!(
            run(b"~?\r~R"),
            (b"\r".to_vec(), vec![Action::Help, Action::Rekey])
        );
    }

    #[test]
    fn split_across_reads() {
        let mut e = Escape::new(b'~');
        let (mut out, mut acts) = (Vec::new(), Vec::new());
        e.filter(b"x\n~", &mut out, &mut acts);
        e.filter(b".", &mut out, &mut acts);
        assert_eq!((out, acts), (b"x\n".to_vec(), vec![Action::Disconnect]));
    }
}
