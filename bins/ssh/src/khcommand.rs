//! KnownHostsCommand (ssh_config(5)): a command whose standard output is read as
//! known_hosts lines, consulted after UserKnownHostsFile and GlobalKnownHostsFile.
//!
//! As OpenSSH's `load_hostkeys_command` does: the command line is split into words with
//! OpenSSH's `argv_split` quoting rules (no shell is involved), each argument after the
//! first has its `%` tokens (the usual ones plus `%H` host name as looked up, `%I` why
//! it is run, `%t` key type, `%f` fingerprint, `%K` base64 key) and `${VAR}`s expanded,
//! the program (an absolute path) runs with stdin on /dev/null and the user's
//! environment, and a non-zero exit or death by signal ends the connection
//! ("KnownHostsCommand failed"). Not here: the `ORDER` invocation that OpenSSH uses to
//! prefer host key algorithms already known (our ssh does not reorder them yet).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use oxssh_config::{ClientConfig as Options, FingerprintHash};
use oxssh_keys::fingerprint::{self, FpHash};
use ssh_key::PublicKey;

use crate::client::Failure;

/// Output beyond this is ignored: a known_hosts listing has no business being larger,
/// and reading without bound would let the command exhaust our memory.
const MAX_OUTPUT: u64 = 16 << 20;

/// Split a command line into words as OpenSSH's `argv_split` does: blanks separate
/// words, `'` and `"` quote, a backslash escapes a quote, a backslash, or (outside
/// quotes) a space; any other backslash is kept. `None` for an unterminated quote.
pub fn argv_split(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if it.peek().is_none() {
            return Some(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.peek().copied() {
                    Some(n @ ('\'' | '"' | '\\')) => {
                        it.next();
                        word.push(n);
                    }
                    Some(' ') if quote.is_none() => {
                        it.next();
                        word.push(' ');
                    }
                    _ => word.push('\\'),
                },
                ' ' | '\t' if quote.is_none() => break,
                '\'' | '"' if quote.is_none() => quote = Some(c),
                q if Some(q) == quote => quote = None,
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        words.push(word);
    }
}

pub(crate) fn fp_hash(h: FingerprintHash) -> FpHash {
    match h {
        FingerprintHash::Md5 => FpHash::Md5,
        FingerprintHash::Sha1 => FpHash::Sha1,
        _ => FpHash::Sha256,
    }
}

/// Run the command for `key` (`None` when no key is known yet) and return its output,
/// to be parsed as known_hosts text named `KnownHostsCommand-<invocation>`. Problems
/// before the command runs are logged and yield no keys, as in OpenSSH; a failed
/// command is fatal.
pub fn run(
    o: &Options,
    template: &str,
    invocation: &str,
    key: Option<&PublicKey>,
    hostfile_hostname: &str,
) -> Result<String, Failure> {
    let tag = format!("KnownHostsCommand-{invocation}");
    let Some(mut av) = argv_split(template) else {
        oxssh_cli::log::eprint(&format!("{tag} \"{template}\" contains invalid quotes"));
        return Ok(String::new());
    };
    if av.is_empty() {
        oxssh_cli::log::eprint(&format!("{tag} \"{template}\" yielded no arguments"));
        return Ok(String::new());
    }
    let fp = key.map(|k| fingerprint::fingerprint(k.key_data(), fp_hash(o.fingerprint_hash)));
    let text = key.and_then(|k| {
        k.to_openssh()
            .ok()
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    });
    let ktype = key.map(|k| k.algorithm().as_str().to_owned());
    let extra = [
        ('H', hostfile_hostname),
        ('I', invocation),
        ('t', ktype.as_deref().unwrap_or("NONE")),
        ('f', fp.as_deref().unwrap_or("NONE")),
        ('K', text.as_deref().unwrap_or("NONE")),
    ];
    let env = |name: &str| std::env::var(name).ok();
    for a in av.iter_mut().skip(1) {
        *a = o
            .expand(a, &extra, Some(&env), false)
            .map_err(|e| Failure::Message(e.to_string()))?;
    }
    let command = av.join(" ");
    let Some((program, args)) = av.split_first() else {
        return Ok(String::new());
    };
    if !program.starts_with('/') {
        oxssh_cli::log::eprint(&format!("{tag} path is not absolute"));
        return Ok(String::new());
    }
    if let Err(e) = std::fs::metadata(program) {
        oxssh_cli::log::eprint(&format!(
            "Could not stat {tag} \"{program}\": {}",
            crate::client::io_text(&e)
        ));
        return Ok(String::new());
    }
    tracing::trace!("subprocess: {tag} command \"{command}\"");
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            oxssh_cli::log::eprint(&format!("{tag} exec \"{command}\": {e}"));
            return Ok(String::new());
        }
    };
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let mut limited = stdout.take(MAX_OUTPUT);
        let _ = limited.read_to_end(&mut out);
        // Drain the rest so the command is not killed by SIGPIPE for our limit.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
    }
    let status = child
        .wait()
        .map_err(|e| Failure::Message(format!("{tag} waitpid: {e}")))?;
    if let Some(sig) = status.signal() {
        oxssh_cli::log::eprint(&format!("{tag} {command} exited on signal {sig}"));
        return Err(Failure::Message("KnownHostsCommand failed".into()));
    }
    if let Some(code) = status.code().filter(|c| *c != 0) {
        if o.log_level >= oxssh_config::LogLevel::Info {
            oxssh_cli::log::eprint(&format!("{tag} {command} failed, status {code}"));
        }
        return Err(Failure::Message("KnownHostsCommand failed".into()));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::argv_split;

    fn split(s: &str) -> Vec<String> {
        argv_split(s).unwrap()
    }

    #[test]
    fn argv_split_follows_openssh_quoting() {
        assert_eq!(
            split("  /bin/x  'a b'  \"%K\"\t%u "),
            ["/bin/x", "a b", "%K", "%u"]
        );
        assert_eq!(split(r"a\ b c\'d e\q"), ["a b", "c'd", r"e\q"]);
        assert_eq!(split(r#"'it''s' "x\"y""#), ["its", "x\"y"]);
        assert_eq!(split(""), Vec::<String>::new());
        assert!(argv_split("'open").is_none());
    }
}
