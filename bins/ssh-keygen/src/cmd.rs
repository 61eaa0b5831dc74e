//! The ssh-keygen operations: each reads its files, asks what it must, calls
//! `oxssh-keys`, and prints OpenSSH's messages. Fatal errors return `Fatal` with
//! OpenSSH's text and exit status (255 for `fatal()`, 1 where OpenSSH exits 1).

use std::io::Write;
use std::path::{Path, PathBuf};

use oxssh_keys::fingerprint::{self as fp, FpHash};
use oxssh_keys::generate::{self, KeyKind};
use oxssh_keys::keyfile::{self, Format, LoadError, Protection};
use oxssh_keys::kh_edit;
use oxssh_keys::sshcom;
use ssh_key::{Cipher, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::{Fatal, Opts, fatal, log, prompt};

pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

struct Me {
    name: String,
    home: PathBuf,
}

fn me() -> Result<Me, Fatal> {
    let uid = oxssh_sys::getuid();
    match oxssh_sys::getpwuid(uid) {
        Some(pw) => Ok(Me {
            name: pw.name,
            home: pw.dir,
        }),
        None => fatal(format!("No user exists for uid {uid}")),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn hash(o: &Opts) -> FpHash {
    o.hash.unwrap_or(FpHash::Sha256)
}

/// `-f`, or OpenSSH's `ask_filename` prompt on stdout with the default under ~/.ssh.
pub fn identity_file(o: &Opts, question: &str) -> Result<String, Fatal> {
    if let Some(f) = &o.file {
        return Ok(f.clone());
    }
    let kind = o
        .key_type
        .as_deref()
        .and_then(generate::parse_type)
        .map_or(KeyKind::Rsa, |(k, _)| k);
    let default = me()?
        .home
        .join(".ssh")
        .join(generate::default_file(kind))
        .to_string_lossy()
        .into_owned();
    match prompt::ask_stdin(&format!("{question} ({default}): ")) {
        None => Err(Fatal(String::new(), 1)),
        Some(s) if s.is_empty() => Ok(default),
        Some(s) => Ok(s),
    }
}

/// OpenSSH's `tilde_expand_filename`: `~/x` and `~user/x`.
pub fn tilde(path: &str) -> String {
    let Some(rest) = path.strip_prefix('~') else {
        return path.to_owned();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let home = if user.is_empty() {
        me().ok().map(|m| m.home)
    } else {
        oxssh_sys::getpwnam(user).map(|p| p.dir)
    };
    match home {
        Some(h) => format!("{}{tail}", h.to_string_lossy().trim_end_matches('/')),
        None => path.to_owned(),
    }
}

/// OpenSSH's `load_identity`: a private key, asking for its passphrase (or `-P`).
pub fn load_identity(o: &Opts, path: &str) -> Result<(PrivateKey, Zeroizing<String>), Fatal> {
    load_private(
        path,
        o.old_passphrase.as_deref(),
        "Enter passphrase: ",
        &format!("Load key \"{path}\""),
    )
}

fn stat_or_fatal(path: &str) -> Result<(), Fatal> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) => fatal(format!("{path}: {}", strerror(&e))),
    }
}

/// Read and decrypt a private key like OpenSSH's `load_identity`: permissions are
/// checked first; the passphrase is `-P` (or `alt`) or asked for when the key is
/// encrypted. `what` prefixes load errors (`Load key "…"`).
fn load_private(
    path: &str,
    passphrase: Option<&str>,
    ask: &str,
    what: &str,
) -> Result<(PrivateKey, Zeroizing<String>), Fatal> {
    let data = match std::fs::read(path) {
        Ok(d) => Zeroizing::new(d),
        Err(e) => return fatal(format!("{what}: {}", strerror(&e))),
    };
    if let Err(mode) = keyfile::check_perms(Path::new(path), oxssh_sys::getuid()) {
        for line in keyfile::perms_warning(path, mode).lines() {
            log(line);
        }
        return fatal(format!("{what}: bad permissions"));
    }
    match keyfile::parse_private(&data, "") {
        Ok(k) => return Ok((k, Zeroizing::new(String::new()))),
        Err(LoadError::Passphrase) => {}
        Err(e) => return fatal(format!("{what}: {e}")),
    }
    let pass = match passphrase {
        Some(p) => Zeroizing::new(p.to_owned()),
        None => prompt::passphrase(ask),
    };
    match keyfile::parse_private(&data, &pass) {
        Ok(k) => Ok((k, pass)),
        Err(e) => fatal(format!("{what}: {e}")),
    }
}

fn protection<'a>(o: &Opts, passphrase: &'a str) -> Protection<'a> {
    Protection {
        passphrase,
        rounds: o.rounds.unwrap_or(16),
        cipher: o.cipher.unwrap_or(Cipher::Aes256Ctr),
    }
}

fn save_private(o: &Opts, key: &PrivateKey, path: &str, passphrase: &str) -> Result<(), Fatal> {
    let text = keyfile::encode_private(
        key,
        o.format.unwrap_or(Format::Openssh),
        &protection(o, passphrase),
    )
    .map_err(|e| Fatal(format!("Saving key \"{path}\" failed: {e}"), 1))?;
    keyfile::write_atomic(Path::new(path), text.as_bytes(), 0o600)
        .map_err(|e| Fatal(format!("Saving key \"{path}\" failed: {}", strerror(&e)), 1))
}

fn save_public(key: &PublicKey, path: &str) -> Result<(), Fatal> {
    let line = format!("{}\n", keyfile::public_line(key));
    keyfile::write_atomic(Path::new(path), line.as_bytes(), 0o644).map_err(|e| {
        Fatal(
            format!("Unable to save public key to {path}: {}", strerror(&e)),
            255,
        )
    })
}

fn flush() {
    let _ = std::io::stdout().flush();
}

/// Key generation (no mode option).
pub fn generate(o: &Opts) -> Result<u8, Fatal> {
    let type_name = o.key_type.clone().unwrap_or_else(|| "ed25519".into());
    let Some((kind, implied)) = generate::parse_type(&type_name) else {
        return fatal(format!("unknown key type {type_name}"));
    };
    let bits = generate::bits_for(kind, implied, o.bits).or_else(fatal)?;
    if !o.quiet {
        println!("Generating public/private {type_name} key pair.");
        flush();
    }
    let mut key = generate::generate(kind, bits).or_else(fatal)?;
    let path = match &o.file {
        Some(f) => f.clone(),
        None => {
            let default = me()?
                .home
                .join(".ssh")
                .join(generate::default_file(kind))
                .to_string_lossy()
                .into_owned();
            match prompt::ask_stdin(&format!(
                "Enter file in which to save the key ({default}): "
            )) {
                None => return Ok(1),
                Some(s) if s.is_empty() => default,
                Some(s) => s,
            }
        }
    };
    create_user_ssh_dir(&path, !o.quiet)?;
    if std::fs::metadata(&path).is_ok() {
        println!("{path} already exists.");
        match prompt::ask_stdin("Overwrite (y/n)? ") {
            Some(a) if a.starts_with(['y', 'Y']) => {}
            _ => return Ok(1),
        }
    }
    let passphrase = match o.old_passphrase.as_ref().or(o.new_passphrase.as_ref()) {
        Some(p) => Zeroizing::new(p.clone()),
        None => loop {
            let p1 = prompt::passphrase("Enter passphrase (empty for no passphrase): ");
            let p2 = prompt::passphrase("Enter same passphrase again: ");
            if *p1 == *p2 {
                break p1;
            }
            println!("Passphrases do not match.  Try again.");
        },
    };
    let comment = match &o.comment {
        Some(c) => c.clone(),
        None => format!("{}@{}", me()?.name, hostname()),
    };
    key.set_comment(comment.as_str());
    save_private(o, &key, &path, &passphrase)?;
    if !o.quiet {
        println!("Your identification has been saved in {path}");
    }
    let pub_path = format!("{path}.pub");
    save_public(key.public_key(), &pub_path)?;
    if !o.quiet {
        let kd = key.public_key().key_data();
        println!("Your public key has been saved in {pub_path}");
        println!("The key fingerprint is:");
        println!("{} {comment}", fp::fingerprint(kd, hash(o)));
        println!("The key's randomart image is:");
        println!("{}", fp::randomart(kd, hash(o), fp::type_label(kd)));
    }
    Ok(0)
}

/// OpenSSH's `hostfile_create_user_ssh_dir`: make ~/.ssh (0700) when the key goes there.
fn create_user_ssh_dir(path: &str, notify: bool) -> Result<(), Fatal> {
    let Ok(me) = me() else { return Ok(()) };
    let dir = me.home.join(".ssh");
    let dir_s = dir.to_string_lossy().into_owned();
    if !path.starts_with(&format!("{dir_s}/")) || dir.exists() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {
            if notify {
                println!("Created directory '{dir_s}'.");
            }
            Ok(())
        }
        Err(e) => {
            log(&format!(
                "Could not create directory '{dir_s}': {}",
                strerror(&e)
            ));
            Ok(())
        }
    }
}

/// `-A`: host keys of every type that is missing, under the `-f` prefix.
pub fn all_hostkeys(o: &Opts) -> Result<u8, Fatal> {
    let prefix = o.file.clone().unwrap_or_default();
    let comment = format!("{}@{}", me()?.name, hostname());
    let mut first = true;
    let mut failed = false;
    for (name, label, kind, bits) in [
        ("rsa", "RSA", KeyKind::Rsa, 3072),
        ("ecdsa", "ECDSA", KeyKind::Ecdsa, 256),
        ("ed25519", "ED25519", KeyKind::Ed25519, 256),
    ] {
        let path = format!("{prefix}/etc/ssh/ssh_host_{name}_key");
        match std::fs::metadata(&path) {
            Ok(m) if m.len() != 0 => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                log(&format!(
                    "Could not stat /etc/ssh/ssh_host_{name}_key: {}",
                    strerror(&e)
                ));
                failed = true;
                continue;
            }
        }
        if first {
            print!("ssh-keygen: generating new host keys: ");
            first = false;
        }
        print!("{label} ");
        flush();
        let result = generate::generate(kind, bits)
            .map_err(|e| Fatal(e, 1))
            .and_then(|mut key| {
                key.set_comment(comment.as_str());
                save_public(key.public_key(), &format!("{path}.pub"))?;
                save_private(o, &key, &path, "")
            });
        if let Err(Fatal(msg, _)) = result {
            flush();
            log(&msg);
            failed = true;
        }
    }
    if !first {
        println!();
    }
    Ok(u8::from(failed))
}

fn fp_line(o: &Opts, key: &ssh_key::public::KeyData, comment: &str) -> String {
    fp_line_labelled(o, key, comment, fp::type_label(key))
}

/// A `-l` line with an explicit type label (`ECDSA-CERT` for a certificate, whose
/// fingerprint is that of the certified key).
fn fp_line_labelled(
    o: &Opts,
    key: &ssh_key::public::KeyData,
    comment: &str,
    label: &str,
) -> String {
    let f = if o.bubblebabble {
        fp::bubblebabble(key)
    } else {
        fp::fingerprint(key, hash(o))
    };
    let mut s = format!("{} {f} {comment} ({label})\n", fp::bits(key));
    if o.verbose > 0 {
        s.push_str(&fp::randomart(key, hash(o), label));
        s.push('\n');
    }
    s
}

/// `-l` / `-B`: fingerprints of a key file, authorized_keys or known_hosts.
pub fn fingerprint(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    let (data, shown) = if path == "-" {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v);
        (v, "(stdin)".to_owned())
    } else {
        match std::fs::read(&path) {
            Ok(d) => (d, path.clone()),
            Err(e) => return fatal(format!("ssh-keygen: {path}: {}", strerror(&e))),
        }
    };
    let text = String::from_utf8_lossy(&data);
    let first = text
        .lines()
        .map(|l| l.trim_start_matches([' ', '\t']))
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if path != "-" && first.is_some_and(|l| l.contains("PRIVATE KEY")) {
        return fingerprint_private(o, &path, &data);
    }
    if text
        .trim_start()
        .starts_with("---- BEGIN SSH2 PUBLIC KEY ----")
        && let Ok(k) = keyfile::parse_public(&text)
    {
        let c = k.comment().as_str_lossy();
        print!(
            "{}",
            fp_line(o, k.key_data(), if c.is_empty() { "no comment" } else { c })
        );
        return Ok(0);
    }
    let mut out = String::new();
    for line in text.lines() {
        let l = line.trim_start_matches([' ', '\t']);
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let ty = l.split([' ', '\t']).next().unwrap_or_default();
        if oxssh_keys::cert::is_cert_name(ty) {
            if let Ok((c, comment)) = oxssh_keys::cert::Certificate::from_line(l) {
                let kd = c.key.key_data();
                let comment = if comment.is_empty() {
                    "no comment".to_owned()
                } else {
                    comment
                };
                out.push_str(&fp_line_labelled(o, kd, &comment, &fp::cert_type_label(kd)));
            }
            continue;
        }
        if let Some((key, comment)) = key_in_line(l) {
            out.push_str(&fp_line(
                o,
                key.key_data(),
                comment.as_deref().unwrap_or("no comment"),
            ));
        }
    }
    if out.is_empty() {
        return fatal(format!("{shown} is not a public key file."));
    }
    print!("{out}");
    Ok(0)
}

/// A key in a public key, authorized_keys or known_hosts line, with the comment
/// OpenSSH's `do_fingerprint` reports (the trailing comment, else the leading field).
fn key_in_line(l: &str) -> Option<(PublicKey, Option<String>)> {
    let try_key = |s: &str| -> Option<(PublicKey, Option<String>)> {
        let mut it = s.splitn(3, [' ', '\t']);
        let (ty, b64) = (it.next()?, it.next()?);
        let key = PublicKey::from_openssh(&format!("{ty} {b64}")).ok()?;
        let rest = it.next().map(|r| r.trim_start_matches([' ', '\t']));
        let comment = rest
            .filter(|r| !r.is_empty() && !r.starts_with('#'))
            .map(str::to_owned);
        Some((key, comment))
    };
    if let Some(k) = try_key(l) {
        return Some(k);
    }
    // Skip a leading host list or option string (quotes may hide spaces).
    let mut quoted = false;
    let mut end = None;
    let mut prev = '\0';
    for (i, c) in l.char_indices() {
        if c == '"' && prev != '\\' {
            quoted = !quoted;
        } else if !quoted && (c == ' ' || c == '\t') {
            end = Some(i);
            break;
        }
        prev = c;
    }
    let end = end?;
    let lead = l.get(..end)?;
    let rest = l.get(end..)?.trim_start_matches([' ', '\t']);
    let (key, comment) = try_key(rest)?;
    Some((key, comment.or_else(|| Some(lead.to_owned()))))
}

fn fingerprint_private(o: &Opts, path: &str, data: &[u8]) -> Result<u8, Fatal> {
    // The comment comes from path.pub when there is one, else from the unencrypted key.
    let pubkey = std::fs::read_to_string(format!("{path}.pub"))
        .ok()
        .and_then(|t| keyfile::parse_public(&t).ok());
    let private = keyfile::parse_private(data, "").ok();
    let key = match (&pubkey, &private) {
        (Some(p), _) => p.clone(),
        (None, Some(k)) => k.public_key().clone(),
        (None, None) => match PrivateKey::from_openssh(data) {
            Ok(k) => k.public_key().clone(),
            Err(_) => return fatal(format!("{path} is not a key file.")),
        },
    };
    let mut comment = key.comment().as_str_lossy().to_owned();
    if comment.is_empty()
        && let Some(k) = &private
        && k.public_key().key_data() == key.key_data()
    {
        comment = k.comment().as_str_lossy().to_owned();
    }
    if comment.is_empty() {
        comment = "no comment".into();
    }
    print!("{}", fp_line(o, key.key_data(), &comment));
    Ok(0)
}

/// `-y`: print the public key of a private key file.
pub fn print_public(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    stat_or_fatal(&path)?;
    let (key, _) = load_private(
        &path,
        o.old_passphrase.as_deref(),
        "Enter passphrase: ",
        &format!("Load key \"{path}\""),
    )?;
    println!("{}", keyfile::public_line(key.public_key()));
    Ok(0)
}

/// `-p`: change (or set, or remove) the passphrase.
pub fn change_passphrase(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    stat_or_fatal(&path)?;
    let (key, _) = load_private(
        &path,
        o.old_passphrase.as_deref(),
        "Enter old passphrase: ",
        &format!("Failed to load key {path}"),
    )?;
    let comment = key.comment().as_str_lossy().to_owned();
    if !comment.is_empty() {
        println!("Key has comment '{comment}'");
    }
    let new = match &o.new_passphrase {
        Some(p) => Zeroizing::new(p.clone()),
        None => {
            let p1 = prompt::passphrase("Enter new passphrase (empty for no passphrase): ");
            let p2 = prompt::passphrase("Enter same passphrase again: ");
            if *p1 != *p2 {
                println!("Pass phrases do not match.  Try again.");
                return Ok(1);
            }
            p1
        }
    };
    save_private(o, &key, &path, &new)?;
    println!("Your identification has been saved with the new passphrase.");
    Ok(0)
}

/// `-c`: change the comment of a private key (and rewrite its .pub).
pub fn change_comment(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    stat_or_fatal(&path)?;
    let pass = o.old_passphrase.as_deref().or(o.new_passphrase.as_deref());
    let (mut key, passphrase) = load_private(
        &path,
        pass,
        "Enter passphrase: ",
        &format!("Cannot load private key \"{path}\""),
    )?;
    if matches!(o.format, Some(Format::Pem | Format::Pkcs8))
        && key.algorithm() != ssh_key::Algorithm::Ed25519
    {
        return Err(Fatal(
            "Comments are only supported for keys stored in the new format (-o).".into(),
            1,
        ));
    }
    let old = key.comment().as_str_lossy().to_owned();
    println!("Old comment: {old}");
    let new = match &o.comment {
        Some(c) => c.clone(),
        None => match prompt::ask_stdin("New comment: ") {
            Some(c) => c,
            None => return Ok(1),
        },
    };
    if old == new {
        println!("No change to comment");
        return Ok(0);
    }
    key.set_comment(new.as_str());
    save_private(o, &key, &path, &passphrase)?;
    save_public(key.public_key(), &format!("{path}.pub"))?;
    if new.is_empty() {
        println!("Comment removed");
    } else {
        println!("Comment '{new}' applied");
    }
    Ok(0)
}

/// `-e`: export a public key in RFC 4716, PKCS#8 or PEM.
pub fn export(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    if let Err(e) = std::fs::metadata(&path) {
        return fatal(format!("ssh-keygen: {path}: {}", strerror(&e)));
    }
    let key = match std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| keyfile::parse_public(&t).ok())
    {
        Some(k) => k,
        None => load_private(
            &path,
            o.old_passphrase.as_deref(),
            "Enter passphrase: ",
            &format!("Load key \"{path}\""),
        )?
        .0
        .public_key()
        .clone(),
    };
    let text = match o.format.unwrap_or(Format::Rfc4716) {
        Format::Rfc4716 | Format::Openssh => {
            keyfile::export_rfc4716(&key, &format!("{}@{}", me()?.name, hostname()))
        }
        f => {
            keyfile::export_pem_public(&key, f).or_else(|e| fatal(format!("do_convert_to: {e}")))?
        }
    };
    print!("{text}");
    Ok(0)
}

/// `-i`: import an RFC 4716 / PKCS#8 / PEM key and print it in OpenSSH format; an
/// ssh.com private key is printed as OpenSSH prints it, in the traditional PEM form.
pub fn import(o: &Opts) -> Result<u8, Fatal> {
    let path = identity_file(o, "Enter file in which the key is")?;
    let data = match std::fs::read(&path) {
        Ok(d) => Zeroizing::new(d),
        Err(e) => return fatal(format!("ssh-keygen: {path}: {}", strerror(&e))),
    };
    if matches!(o.format, None | Some(Format::Rfc4716)) && sshcom::is_private(&data) {
        return import_sshcom(o, &data);
    }
    let text = Zeroizing::new(String::from_utf8_lossy(&data).into_owned());
    if let Ok(k) = keyfile::parse_public(&text) {
        let mut k = k;
        k.set_comment("");
        println!("{}", keyfile::public_line(&k));
        return Ok(0);
    }
    match keyfile::parse_private(text.as_bytes(), "") {
        Ok(k) => {
            let prot = protection(o, "");
            let out = keyfile::encode_private(&k, Format::Openssh, &prot)
                .or_else(|e| fatal(format!("key write failed: {e}")))?;
            print!("{}", out.as_str());
            Ok(0)
        }
        Err(_) => fatal(format!("{path}: unrecognised key format")),
    }
}

/// `-i` of an ssh.com (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`) file: OpenSSH's
/// `do_convert_from_ssh2` with `do_convert_private_ssh2`, writing PEM to stdout.
fn import_sshcom(o: &Opts, data: &[u8]) -> Result<u8, Fatal> {
    let imported = match sshcom::parse_private(data) {
        Ok(k) => k,
        Err(e) => {
            for w in e.warnings() {
                log(&w);
            }
            let msg = e.to_string();
            if !e.conversion_failed() {
                return fatal(msg);
            }
            if !msg.is_empty() {
                log(&msg);
            }
            return fatal("do_convert_from_ssh2: private key conversion failed");
        }
    };
    for w in &imported.warnings {
        log(w);
    }
    let out = keyfile::encode_private(&imported.key, Format::Pem, &protection(o, ""))
        .or_else(|_| fatal("key write failed"))?;
    print!("{}", out.as_str());
    Ok(0)
}

fn salt() -> [u8; 20] {
    let mut s = [0u8; 20];
    keyfile::random_bytes(&mut s);
    s
}

/// `-F`, `-H`, `-R` on a known_hosts file (default ~/.ssh/known_hosts).
pub fn known_hosts(o: &Opts) -> Result<u8, Fatal> {
    let path = match &o.file {
        Some(f) => f.clone(),
        None => me()?
            .home
            .join(".ssh/known_hosts")
            .to_string_lossy()
            .into_owned(),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return fatal(format!("Cannot stat {path}: {}", strerror(&e))),
    };
    let text = match std::fs::read(&path) {
        Ok(d) => String::from_utf8_lossy(&d).into_owned(),
        Err(e) => return fatal(format!("hostkeys_foreach failed: {}", strerror(&e))),
    };
    if let Some(host) = &o.find_host {
        let f = kh_edit::find(&text, host, o.hash_hosts, o.quiet, &mut salt);
        if o.fingerprint {
            for line in f.output.lines() {
                if line.starts_with('#') {
                    println!("{line}");
                } else if let Some((key, comment)) = key_in_line(line) {
                    let fpr = if o.bubblebabble {
                        fp::bubblebabble(key.key_data())
                    } else {
                        fp::fingerprint(key.key_data(), hash(o))
                    };
                    let c = comment.filter(|c| !c.starts_with('|') && c != host);
                    println!(
                        "{host} {} {fpr}{}",
                        key.algorithm().as_str(),
                        c.map(|c| format!(" {c}")).unwrap_or_default()
                    );
                }
            }
        } else {
            print!("{}", f.output);
        }
        return Ok(u8::from(!f.found));
    }
    let (rewrite, host) = match &o.delete_host {
        Some(h) => (kh_edit::remove(&text, h), Some(h.as_str())),
        None => (kh_edit::hash_file(&text, &mut salt), None),
    };
    if !o.quiet {
        for n in &rewrite.invalid {
            log(&format!("{path}:{n}: invalid line"));
        }
        if let Some(h) = host {
            for n in &rewrite.removed {
                println!("# Host {h} found: line {n}");
            }
        } else {
            for (n, hosts) in &rewrite.wildcards {
                log(&format!(
                    "{path}:{n}: ignoring host name with wildcard: {hosts}"
                ));
            }
        }
    }
    if !rewrite.invalid.is_empty() {
        flush();
        log(&format!("{path} is not a valid known_hosts file."));
        log("Not replacing existing known_hosts file because of errors");
        return Ok(1);
    }
    if let Some(h) = host
        && rewrite.removed.is_empty()
    {
        if !o.quiet {
            log(&format!("Host {h} not found in {path}"));
        }
        return Ok(0);
    }
    use std::os::unix::fs::PermissionsExt;
    let old = format!("{path}.old");
    let _ = std::fs::remove_file(&old);
    if let Err(e) = std::fs::hard_link(&path, &old) {
        return fatal(format!("link {path} to {old}: {}", strerror(&e)));
    }
    let mode = meta.permissions().mode() & 0o644;
    if let Err(e) = keyfile::write_atomic(Path::new(&path), rewrite.text.as_bytes(), mode) {
        let _ = std::fs::remove_file(&old);
        return Err(Fatal(format!("rename to \"{path}\": {}", strerror(&e)), 1));
    }
    println!("{path} updated.");
    println!("Original contents retained as {old}");
    if rewrite.has_unhashed && !o.quiet {
        flush();
        log(&format!("WARNING: {old} contains unhashed entries"));
        log("Delete this file to ensure privacy of hostnames");
    }
    Ok(0)
}

/// `-r host [-g] [-f file]`: SSHFP resource records (RFC 4255, RFC 6594, RFC 7479)
/// for a public key, or for every host key under /etc/ssh.
pub fn sshfp(o: &Opts, host: &str) -> Result<u8, Fatal> {
    let one = |path: &str| -> Result<bool, Fatal> {
        if let Err(e) = std::fs::metadata(path) {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(false);
            }
            return fatal(format!("{path}: {}", strerror(&e)));
        }
        let key = match crate::certs::load_public(path) {
            Ok((Ok(k), _)) => k,
            Ok((Err(_), _)) => {
                // Certificates have no SSHFP algorithm number.
                crate::flush();
                log("export_dns_rr: unsupported algorithm and/or digest_type");
                return Ok(true);
            }
            Err(e) => {
                return fatal(format!("Failed to read v2 public key from \"{path}\": {e}"));
            }
        };
        use ssh_key::public::KeyData;
        let alg = match key.key_data() {
            KeyData::Rsa(_) => 1,
            KeyData::Dsa(_) => 2,
            KeyData::Ecdsa(_) => 3,
            KeyData::Ed25519(_) => 4,
            _ => 0,
        };
        if alg == 0 {
            crate::flush();
            log("export_dns_rr: unsupported algorithm and/or digest_type");
            return Ok(true);
        }
        let blob = fp::blob(key.key_data());
        for (dtype, digest) in [
            (1u8, fp::raw_digest(FpHash::Sha1, &blob)),
            (2u8, fp::raw_digest(FpHash::Sha256, &blob)),
        ] {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            if o.generic_rr {
                println!(
                    "{host} IN TYPE44 \\# {} {alg:02x} {dtype:02x} {hex}",
                    2 + digest.len()
                );
            } else {
                println!("{host} IN SSHFP {alg} {dtype} {hex}");
            }
        }
        Ok(true)
    };
    if let Some(f) = &o.file {
        if !one(f)? {
            return fatal(format!("{f}: No such file or directory"));
        }
        return Ok(0);
    }
    let mut n = 0;
    for t in ["rsa", "dsa", "ecdsa", "ed25519", "xmss"] {
        if one(&format!("/etc/ssh/ssh_host_{t}_key"))? {
            n += 1;
        }
    }
    if n == 0 {
        return fatal("no keys found.");
    }
    Ok(0)
}
