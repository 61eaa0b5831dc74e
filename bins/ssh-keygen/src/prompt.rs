//! Passphrase and yes/no input the way ssh-keygen(1) reads it: the terminal first;
//! `SSH_ASKPASS` when `SSH_ASKPASS_REQUIRE=force` (or `prefer` with a display); standard
//! input when there is no terminal (OpenSSH's `RP_ALLOW_STDIN`).

use std::io::{BufRead, Write};

use zeroize::Zeroizing;

fn askpass(prompt: &str) -> Option<Zeroizing<String>> {
    let prog = std::env::var_os("SSH_ASKPASS")?;
    let out = std::process::Command::new(prog)
        .arg(prompt)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return Some(Zeroizing::new(String::new()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

/// Read a passphrase: askpass when required, else the tty, else a line of stdin.
pub fn passphrase(prompt: &str) -> Zeroizing<String> {
    let require = std::env::var("SSH_ASKPASS_REQUIRE").unwrap_or_default();
    let display = std::env::var_os("DISPLAY").is_some();
    if (require == "force" || (require == "prefer" && display))
        && let Some(p) = askpass(prompt)
    {
        return p;
    }
    match oxssh_sys::tty::read_passphrase(prompt) {
        Ok(p) => Zeroizing::new(p),
        Err(_) => {
            if require != "never"
                && display
                && let Some(p) = askpass(prompt)
            {
                return p;
            }
            line_from_stdin()
        }
    }
}

/// A line from standard input without its newline (empty at end of input).
pub fn line_from_stdin() -> Zeroizing<String> {
    let mut line = Zeroizing::new(String::new());
    let _ = std::io::stdin().lock().read_line(&mut line);
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    line
}

/// Print `prompt` on stdout and read an answer from stdin (OpenSSH's fgets(stdin)).
/// None at end of input.
pub fn ask_stdin(prompt: &str) -> Option<String> {
    let mut out = std::io::stdout();
    let _ = out.write_all(prompt.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_owned()),
    }
}
