//! `AuthorizedKeysCommand` (sshd_config(5), OpenSSH's user_key_command_allowed2 and
//! subprocess()): the command is split into words like a shell would without
//! expansion, `%U %u %h %t %f %k %%` are expanded in every argument but the first
//! (a command with no arguments gets the user name, the legacy form), the program must
//! be an absolute path owned by root in directories writable only by root, and it runs
//! as `AuthorizedKeysCommandUser` with a minimal environment, stdin and stderr on
//! /dev/null. Its output is authorized_keys text, used only if it exits 0.
//! `AuthorizedPrincipalsCommand` runs the same way (as its own user, with the
//! certificate's tokens, no legacy user-name argument); its output is principals lines.
//!
//! Output is read up to [`MAX_OUTPUT`]; a command that writes more is killed and its
//! keys are not used, so a runaway command cannot make sshd allocate without bound.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;

use ssh_key::{HashAlg, PublicKey};
use tokio::io::AsyncReadExt;

use crate::config::ServerConfig;

/// The most authorized_keys text taken from one run.
pub const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// OpenSSH's _PATH_STDPATH: the PATH the command gets, never the daemon's own.
const STDPATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";

/// OpenSSH's argv_split: words separated by blanks, '…' and "…" quoting, a backslash
/// escaping a quote, backslash or blank. None for unbalanced quotes.
pub fn argv_split(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match (c, quote) {
            (' ' | '\t', None) => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            ('\\', q) => {
                in_word = true;
                match it.peek().copied() {
                    Some(n @ ('\\' | '\'' | '"')) => {
                        cur.push(n);
                        it.next();
                    }
                    Some(n @ (' ' | '\t')) if q.is_none() => {
                        cur.push(n);
                        it.next();
                    }
                    _ => cur.push('\\'),
                }
            }
            ('\'' | '"', None) => {
                in_word = true;
                quote = Some(c);
            }
            (c, Some(q)) if c == q => quote = None,
            (c, _) => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

/// percent_expand with the tokens of AuthorizedKeysCommand; None for an unknown token.
fn expand(arg: &str, tokens: &[(char, &str)]) -> Option<String> {
    let mut out = String::new();
    let mut it = arg.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some(t) => out.push_str(tokens.iter().find(|(k, _)| *k == t)?.1),
            None => return None,
        }
    }
    Some(out)
}

/// OpenSSH's safe_path for a root-run helper: the file and every directory above it
/// owned by root and not writable by group or others.
fn safe_path(path: &Path) -> Result<(), String> {
    let bad = |m: &std::fs::Metadata| m.uid() != 0 || m.mode() & 0o022 != 0;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if bad(&meta) {
        return Err(format!(
            "bad ownership or modes for file {}",
            path.display()
        ));
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        let m = std::fs::metadata(d).map_err(|e| e.to_string())?;
        if bad(&m) {
            return Err(format!(
                "bad ownership or modes for directory {}",
                d.display()
            ));
        }
        dir = d.parent();
    }
    Ok(())
}

/// Run the configured command for `user` and `key`: its output, if it exited 0.
pub async fn run(cfg: &ServerConfig, user: &oxssh_sys::Passwd, key: &PublicKey) -> Option<String> {
    let command = cfg
        .authorized_keys_command
        .as_deref()
        .filter(|c| *c != "none")?;
    let fp = key.fingerprint(HashAlg::Sha256).to_string();
    let text = key.to_openssh().ok()?;
    let mut words = text.split_whitespace();
    let (Some(ktype), Some(kb64)) = (words.next(), words.next()) else {
        return None;
    };
    let tokens = [('t', ktype), ('f', fp.as_str()), ('k', kb64)];
    let runas = cfg.authorized_keys_command_user.as_deref();
    helper("AuthorizedKeysCommand", command, runas, user, &tokens).await
}

/// AuthorizedPrincipalsCommand (match_principals_command) for a certificate: its
/// output (`[options] principal` lines), if it exited 0. The tokens are OpenSSH's:
/// %t %f %k of the certificate, %T %F %K of its CA, %i its key ID, %s its serial.
pub async fn run_principals(
    cfg: &ServerConfig,
    user: &oxssh_sys::Passwd,
    cert: &oxssh_keys::cert::Certificate,
) -> Option<String> {
    let command = cfg
        .authorized_principals_command
        .as_deref()
        .filter(|c| *c != "none")?;
    let ca = &cert.signature_key;
    let f = cert.key.fingerprint(HashAlg::Sha256).to_string();
    let ca_f = ca.fingerprint(HashAlg::Sha256).to_string();
    let line = cert.to_line("");
    let k = line.split_whitespace().nth(1).unwrap_or_default();
    let ca_line = ca.to_openssh().ok()?;
    let mut ca_words = ca_line.split_whitespace();
    let (Some(ca_t), Some(ca_k)) = (ca_words.next(), ca_words.next()) else {
        return None;
    };
    let serial = cert.serial.to_string();
    let tokens = [
        ('t', cert.type_name),
        ('T', ca_t),
        ('f', f.as_str()),
        ('F', ca_f.as_str()),
        ('k', k),
        ('K', ca_k),
        ('i', cert.key_id.as_str()),
        ('s', serial.as_str()),
    ];
    let runas = cfg.authorized_principals_command_user.as_deref();
    helper("AuthorizedPrincipalsCommand", command, runas, user, &tokens).await
}

/// subprocess() for either command (`tag`): `%U %u %h %%` and `extra` tokens in every
/// argument but the first; run as `runas`; the output if it exited 0.
async fn helper(
    tag: &str,
    command: &str,
    runas: Option<&str>,
    user: &oxssh_sys::Passwd,
    extra: &[(char, &str)],
) -> Option<String> {
    let Some(runas) = runas else {
        tracing::error!("No user for {tag} specified, skipping");
        return None;
    };
    let runas = expand(runas, &[('u', &user.name)]).unwrap_or_else(|| runas.to_owned());
    let Some(runas_pw) = oxssh_sys::getpwnam(&runas) else {
        tracing::error!("{tag}User \"{runas}\" not found: No such file or directory");
        return None;
    };
    let Some(mut av) = argv_split(command) else {
        tracing::error!("{tag} \"{command}\" contains invalid quotes");
        return None;
    };
    if av.is_empty() {
        tracing::error!("{tag} \"{command}\" yielded no arguments");
        return None;
    }
    let uid = user.uid.to_string();
    let home = user.dir.to_string_lossy();
    let mut tokens = vec![('U', uid.as_str()), ('u', user.name.as_str()), ('h', &home)];
    tokens.extend_from_slice(extra);
    for a in av.iter_mut().skip(1) {
        match expand(a, &tokens) {
            Some(e) => *a = e,
            None => {
                tracing::error!("{tag} \"{command}\": unknown % token in \"{a}\"");
                return None;
            }
        }
    }
    // The legacy form: a keys command without arguments gets the user name.
    if av.len() == 1 && tag == "AuthorizedKeysCommand" {
        av.push(user.name.clone());
    }
    let shown = av.join(" ");
    let (program, args) = av.split_first()?;
    tracing::trace!(
        "subprocess: {tag} command \"{shown}\" running as {}",
        runas_pw.name
    );
    let program = Path::new(program);
    if !program.is_absolute() {
        tracing::error!("{tag} path is not absolute");
        return None;
    }
    if let Err(why) = safe_path(program) {
        tracing::error!("Unsafe {tag} \"{}\": {why}", program.display());
        return None;
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", STDPATH)
        .env("USER", &runas_pw.name)
        .env("LOGNAME", &runas_pw.name)
        .env("HOME", &runas_pw.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Ok(lang) = std::env::var("LANG") {
        cmd.env("LANG", lang);
    }
    if let Err(e) = oxssh_sys::run_as_user(&mut cmd, &runas_pw.name, runas_pw.uid, runas_pw.gid) {
        tracing::error!("{tag}: {e}");
        return None;
    }
    let mut child = match tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{tag} execve \"{shown}\": {e}");
            return None;
        }
    };
    let mut out = Vec::new();
    let mut too_much = false;
    if let Some(stdout) = child.stdout.take() {
        let mut limited = stdout.take(MAX_OUTPUT as u64 + 1);
        if limited.read_to_end(&mut out).await.is_err() {
            out.clear();
        }
        if out.len() > MAX_OUTPUT {
            too_much = true;
            let _ = child.start_kill();
        }
    }
    let status = child.wait().await.ok()?;
    if too_much {
        tracing::error!("{tag} {shown}: output over {MAX_OUTPUT} bytes, ignored");
        return None;
    }
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        tracing::error!("{tag} {shown} exited on signal {sig}");
        return None;
    }
    if !status.success() {
        tracing::error!(
            "{tag} {shown} failed, status {}",
            status.code().unwrap_or(255)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_tokens() {
        assert_eq!(
            argv_split("/bin/k %u 'a b' \"c\\\"d\" e\\ f").unwrap(),
            ["/bin/k", "%u", "a b", "c\"d", "e f"]
        );
        assert!(argv_split("/bin/k 'open").is_none());
        assert_eq!(
            expand("%u:%U:%%:%t", &[('u', "al"), ('U', "7"), ('t', "ssh-rsa")]).unwrap(),
            "al:7:%:ssh-rsa"
        );
        assert!(expand("%z", &[]).is_none());
    }
}
