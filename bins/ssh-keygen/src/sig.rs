//! `-Y sign|verify|find-principals|match-principals|check-novalidate`: SSH
//! signatures on the command line (OpenSSH's `sig_sign`, `sig_verify`,
//! `sig_find_principals`, `sig_match_principals`). The format and the allowed_signers
//! rules are `oxssh_keys::{sshsig, allowed_signers}`; this file reads the files,
//! streams the message through the hash, talks to the agent when it holds the key, and
//! prints OpenSSH's messages with its exit statuses.

use std::io::{Read, Write};

use oxssh_keys::allowed_signers::AllowedSigners;
use oxssh_keys::cert::{self, Certificate};
use oxssh_keys::fingerprint as fp;
use oxssh_keys::sshsig::{self, SigKey};
use ssh_key::PrivateKey;

use crate::agent;
use crate::{Fatal, Opts, fatal, log};

/// OpenSSH's `SSH_ERR_KEY_NOT_FOUND` as an exit status (main returns -46).
const EXIT_NOT_FOUND: u8 = 210;
/// `SSH_ERR_INVALID_ARGUMENT` (-10) as an exit status.
const EXIT_INVALID_ARGUMENT: u8 = 246;

struct SigOpts {
    hashalg: Option<String>,
    verify_time: u64,
    print_pubkey: bool,
}

/// OpenSSH's `sig_process_opts`; which options are allowed depends on the operation.
fn process_opts(
    o: &Opts,
    hashalg: bool,
    verify_time: bool,
    print_pubkey: bool,
) -> Result<SigOpts, ()> {
    let mut s = SigOpts {
        hashalg: None,
        verify_time: 0,
        print_pubkey: false,
    };
    for opt in &o.options {
        let lc = opt.to_ascii_lowercase();
        if hashalg && lc.starts_with("hashalg=") {
            s.hashalg = Some(opt.get(8..).unwrap_or_default().to_owned());
        } else if verify_time && lc.starts_with("verify-time=") {
            match oxssh_keys::timefmt::parse_absolute(
                opt.get(12..).unwrap_or_default(),
                &crate::certs::zone(),
            ) {
                Some(t) if t != 0 => s.verify_time = t,
                _ => {
                    log("Invalid \"verify-time\" option");
                    return Err(());
                }
            }
        } else if print_pubkey && lc == "print-pubkey" {
            s.print_pubkey = true;
        } else {
            log(&format!("Invalid option \"{opt}\""));
            return Err(());
        }
    }
    if verify_time && s.verify_time == 0 {
        s.verify_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
    }
    Ok(s)
}

/// Dispatch `-Y op`.
pub fn run(o: &Opts, op: &str) -> Result<u8, Fatal> {
    let too_few = |what: &str| -> Result<u8, Fatal> {
        log(&format!("Too few arguments for {what}"));
        Ok(1)
    };
    if op.starts_with("find-principals") {
        let Some(sigfile) = &o.ca_key else {
            return too_few("find-principals:missing signature file");
        };
        let Some(allowed) = &o.file else {
            return too_few("find-principals:missing allowed keys file");
        };
        return find_principals(o, sigfile, allowed);
    }
    if op.starts_with("match-principals") {
        let Some(allowed) = &o.file else {
            return too_few("match-principals:missing allowed keys file");
        };
        let Some(principal) = &o.key_id else {
            return too_few("match-principals: missing principal ID");
        };
        return match_principals(o, allowed, principal);
    }
    let ns = o.principals.as_deref().filter(|n| !n.is_empty());
    if op.starts_with("sign") {
        let Some(ns) = ns else {
            return too_few("sign: missing namespace");
        };
        let Some(key) = &o.file else {
            return too_few("sign: missing key");
        };
        return sign(o, key, ns);
    }
    if op.starts_with("check-novalidate") {
        let Some(ns) = ns else {
            return too_few("check-novalidate: missing namespace");
        };
        let Some(sigfile) = &o.ca_key else {
            return too_few("check-novalidate: missing signature file");
        };
        return verify(o, sigfile, ns, None, None);
    }
    if op.starts_with("verify") {
        let Some(ns) = ns else {
            return too_few("verify: missing namespace");
        };
        let Some(sigfile) = &o.ca_key else {
            return too_few("verify: missing signature file");
        };
        let Some(allowed) = &o.file else {
            return too_few("sign: missing allowed keys file");
        };
        let Some(principal) = &o.key_id else {
            return too_few("verify: missing principal identity");
        };
        return verify(o, sigfile, ns, Some(principal), Some(allowed));
    }
    log(&format!("Unsupported operation for -Y: \"{op}\""));
    eprint!("{}", crate::USAGE);
    Ok(1)
}

/// A public key or certificate file, with OpenSSH's fallbacks.
fn load_sig_key(path: &str) -> Result<SigKey, String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines() {
            let l = line.trim_start_matches([' ', '\t']);
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let ty = l.split([' ', '\t']).next().unwrap_or_default();
            if cert::is_cert_name(ty) {
                if let Ok((c, _)) = Certificate::from_line(l) {
                    return Ok(SigKey::Cert(Box::new(c)));
                }
                break;
            }
            break;
        }
    }
    match crate::certs::load_public(path)? {
        (Ok(k), _) => Ok(SigKey::Plain(k)),
        (Err(_), _) => Err("invalid format".into()),
    }
}

/// OpenSSH's `load_sign_key`: the private key for a key (or certificate) file.
fn load_sign_key(o: &Opts, keypath: &str, pubkey: &SigKey) -> Result<Option<PrivateKey>, Fatal> {
    let mut privpath = keypath.to_owned();
    let mut waspub = false;
    for suffix in ["-cert.pub", ".pub"] {
        if keypath.len() > suffix.len() && privpath.ends_with(suffix) {
            privpath.truncate(privpath.len() - suffix.len());
            waspub = true;
        }
    }
    if waspub && std::fs::metadata(&privpath).is_err() {
        return fatal(format!("No private key found for public key \"{keypath}\""));
    }
    let data = std::fs::read(&privpath)
        .or_else(|_| fatal(format!("No private key found for \"{privpath}\"")))?;
    let key = match oxssh_keys::keyfile::parse_private(&data, "") {
        Ok(k) => k,
        Err(oxssh_keys::keyfile::LoadError::Passphrase) => {
            crate::cmd::load_identity(o, &privpath)?.0
        }
        Err(_) => return fatal(format!("No private key found for \"{privpath}\"")),
    };
    if key.public_key().key_data() != pubkey.plain().key_data() {
        log(&format!(
            "Public key {keypath} doesn't match private {privpath}"
        ));
        return Ok(None);
    }
    Ok(Some(key))
}

/// Hash a stream with `alg` (8 KiB at a time, like OpenSSH's `hash_file`).
fn hash_stream(r: &mut dyn Read, alg: &str) -> Result<Vec<u8>, String> {
    sshsig::check_hash_alg(alg).map_err(|e| format!("hash_file: {e}"))?;
    let Some(mut h) = sshsig::hasher(alg) else {
        return Err("hash_file: invalid argument".into());
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("hash_file: read: {}", crate::cmd::strerror(&e))),
        }
    }
    Ok(h.finish())
}

enum Signer {
    Key(Box<PrivateKey>),
    Agent,
}

fn sign(o: &Opts, keypath: &str, ns: &str) -> Result<u8, Fatal> {
    let files = &o.operands;
    if files.iter().any(|f| f == "-") && files.len() > 1 {
        return fatal("Cannot sign mix of paths and standard input");
    }
    let Ok(opts) = process_opts(o, true, false, false) else {
        return Ok(255);
    };
    let pubkey = match load_sig_key(keypath) {
        Ok(k) => k,
        Err(e) => {
            log(&format!("Couldn't load public key {keypath}: {e}"));
            return Ok(255);
        }
    };
    let key_blob = pubkey.blob();
    let signer = if agent::has_key(&key_blob) {
        Signer::Agent
    } else {
        if o.prefer_agent {
            return fatal("Couldn't find key in agent");
        }
        match load_sign_key(o, keypath, &pubkey)? {
            Some(k) => Signer::Key(Box::new(k)),
            None => return Ok(255),
        }
    };
    let hashalg = opts.hashalg.unwrap_or_else(|| "sha512".into());
    let targets: Vec<Option<&str>> = if files.is_empty() {
        vec![None]
    } else {
        files
            .iter()
            .map(|f| if f == "-" { None } else { Some(f.as_str()) })
            .collect()
    };
    for target in targets {
        let name = target.unwrap_or("(stdin)");
        if !o.quiet {
            match target {
                None => eprintln!("Signing data on standard input"),
                Some(f) => eprintln!("Signing file {f}"),
            }
        }
        let hash = match target {
            None => hash_stream(&mut std::io::stdin().lock(), &hashalg),
            Some(f) => match std::fs::File::open(f) {
                Ok(mut file) => hash_stream(&mut file, &hashalg),
                Err(e) => {
                    log(&format!(
                        "Cannot open {f} for signing: {}",
                        crate::cmd::strerror(&e)
                    ));
                    return Ok(255);
                }
            },
        };
        let hash = match hash {
            Ok(h) => h,
            Err(e) => {
                log(&format!("sshsig_sign_fd: {e}"));
                log(&format!("Signing {name} failed: invalid argument"));
                return Ok(255);
            }
        };
        let data = sshsig::signed_data(ns, &hashalg, &hash);
        let rsa = matches!(pubkey.plain().key_data(), ssh_key::public::KeyData::Rsa(_));
        let sig = match &signer {
            Signer::Key(k) => {
                cert::sign_blob(k, rsa.then_some("rsa-sha2-512"), &data).map_err(|e| e.to_string())
            }
            Signer::Agent => agent::sign(&key_blob, &data, rsa.then_some("rsa-sha2-512")),
        };
        let sig = match sig {
            Ok(s) => s,
            Err(e) => {
                log(&format!("Couldn't sign message: {e}"));
                log(&format!("Signing {name} failed: {e}"));
                return Ok(255);
            }
        };
        let armored = sshsig::armor(&sshsig::wrap(&key_blob, ns, &hashalg, &sig));
        match target {
            None => {
                let mut out = std::io::stdout();
                let _ = out.write_all(armored.as_bytes());
                let _ = out.flush();
            }
            Some(f) => {
                let wfile = format!("{f}.sig");
                if std::fs::metadata(&wfile).is_ok() {
                    println!("{wfile} already exists.");
                    match crate::prompt::ask_stdin("Overwrite (y/n)? ") {
                        Some(a) if a.starts_with(['y', 'Y']) => {}
                        _ => continue,
                    }
                }
                if let Err(e) = std::fs::write(&wfile, armored.as_bytes()) {
                    log(&format!(
                        "Cannot open {wfile}: {}",
                        crate::cmd::strerror(&e)
                    ));
                    return Ok(255);
                }
                if !o.quiet {
                    eprintln!("Write signature to {wfile}");
                }
            }
        }
    }
    Ok(0)
}

fn read_signature(sigfile: &str) -> Result<Vec<u8>, String> {
    let data = std::fs::read(sigfile)
        .map_err(|e| format!("Couldn't read signature file: {}", crate::cmd::strerror(&e)))?;
    sshsig::dearmor(&data)
}

/// Is the key listed in a revoked keys file (a KRL or a list of public keys)? For a
/// certificate, its CA key counts too.
fn revoked(key: &SigKey, path: &str) -> Result<bool, String> {
    let data = std::fs::read(path).map_err(|e| crate::cmd::strerror(&e))?;
    if oxssh_keys::krl::is_krl(&data) {
        let krl = oxssh_keys::krl::Krl::parse(&data).map_err(|e| e.to_string())?;
        return Ok(match key {
            SigKey::Plain(k) => krl.is_revoked_key(k.key_data()),
            SigKey::Cert(c) => krl.is_revoked_cert(c) || krl.is_revoked_key(c.key.key_data()),
        });
    }
    let text = String::from_utf8_lossy(&data);
    let ca = match key {
        SigKey::Cert(c) => Some(c.signature_key.key_data().clone()),
        SigKey::Plain(_) => None,
    };
    for line in text.lines() {
        let l = line.trim_start_matches([' ', '\t']);
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut it = l.split([' ', '\t']).filter(|t| !t.is_empty());
        let (Some(ty), Some(b64)) = (it.next(), it.next()) else {
            continue;
        };
        let listed = if cert::is_cert_name(ty) {
            Certificate::from_line(l).ok().map(|(c, _)| c.key)
        } else {
            ssh_key::PublicKey::from_openssh(&format!("{ty} {b64}")).ok()
        };
        if let Some(k) = listed
            && (k.key_data() == key.plain().key_data()
                || ca.as_ref().is_some_and(|c| c == k.key_data()))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn verify(
    o: &Opts,
    sigfile: &str,
    ns: &str,
    principal: Option<&str>,
    allowed: Option<&str>,
) -> Result<u8, Fatal> {
    let hash_kind = o.hash.unwrap_or(fp::FpHash::Sha256);
    let result = (|| -> Result<(SigKey, bool), ()> {
        let opts = process_opts(o, false, true, true)?;
        let blob = read_signature(sigfile).map_err(|e| log(&e))?;
        let hashalg = sshsig::peek_hash_alg(&blob).map_err(|e| log(&e))?;
        let hash = hash_stream(&mut std::io::stdin().lock(), &hashalg)
            .map_err(|e| log(&format!("sshsig_verify_fd: {e}")))?;
        let key = sshsig::verify(&blob, ns, &hashalg, &hash).map_err(|e| log(&e))?;
        if let Some(rev) = o.rr_host.as_deref() {
            match revoked(&key, rev) {
                Ok(false) => {}
                Ok(true) => return Err(()),
                Err(e) => {
                    log(&format!("Couldn't check revocation: {e}"));
                    return Err(());
                }
            }
        }
        if let Some(path) = allowed {
            let text = match std::fs::read(path) {
                Ok(d) => String::from_utf8_lossy(&d).into_owned(),
                Err(e) => {
                    log(&format!(
                        "Unable to open allowed keys file \"{path}\": {}",
                        crate::cmd::strerror(&e)
                    ));
                    return Err(());
                }
            };
            let mut msgs = Vec::new();
            let zone = crate::certs::zone();
            let file = AllowedSigners {
                path,
                text: &text,
                zone: &zone,
            };
            let ok = file.check(
                &key,
                principal.unwrap_or_default(),
                ns,
                opts.verify_time,
                &mut msgs,
            );
            for m in &msgs {
                log(m);
            }
            if !ok {
                return Err(());
            }
        }
        Ok((key, opts.print_pubkey))
    })();
    match result {
        Ok((key, print_pubkey)) => {
            if !o.quiet {
                let fpr = fp::fingerprint(key.plain().key_data(), hash_kind);
                match principal {
                    None => println!(
                        "Good \"{ns}\" signature with {} key {fpr}",
                        key.type_label()
                    ),
                    Some(p) => println!(
                        "Good \"{ns}\" signature for {p} with {} key {fpr}",
                        key.type_label()
                    ),
                }
            }
            if print_pubkey {
                println!("{}", key.to_line());
            }
            Ok(0)
        }
        Err(()) => {
            if !o.quiet {
                println!("Could not verify signature.");
            }
            Ok(255)
        }
    }
}

fn find_principals(o: &Opts, sigfile: &str, allowed: &str) -> Result<u8, Fatal> {
    let found = (|| -> Option<String> {
        let opts = process_opts(o, false, true, false).ok()?;
        let blob = read_signature(sigfile).map_err(|e| log(&e)).ok()?;
        let key = sshsig::signer(&blob).map_err(|e| log(&e)).ok()?;
        let text = match std::fs::read(allowed) {
            Ok(d) => String::from_utf8_lossy(&d).into_owned(),
            Err(e) => {
                log(&format!(
                    "Unable to open allowed keys file \"{allowed}\": {}",
                    crate::cmd::strerror(&e)
                ));
                return None;
            }
        };
        let mut msgs = Vec::new();
        let zone = crate::certs::zone();
        let file = AllowedSigners {
            path: allowed,
            text: &text,
            zone: &zone,
        };
        let r = file.find_principals(&key, opts.verify_time, &mut msgs);
        for m in &msgs {
            log(m);
        }
        r
    })();
    match found {
        Some(p) => {
            for cp in p.split(',') {
                if cp.is_empty() {
                    break;
                }
                println!("{cp}");
            }
            Ok(0)
        }
        None => {
            crate::flush();
            eprintln!("No principal matched.");
            Ok(255)
        }
    }
}

fn match_principals(o: &Opts, allowed: &str, principal: &str) -> Result<u8, Fatal> {
    if process_opts(o, false, false, false).is_err() {
        return Ok(EXIT_INVALID_ARGUMENT);
    }
    let text = match std::fs::read(allowed) {
        Ok(d) => String::from_utf8_lossy(&d).into_owned(),
        Err(e) => {
            log(&format!(
                "Unable to open allowed keys file \"{allowed}\": {}",
                crate::cmd::strerror(&e)
            ));
            eprintln!("No principal matched.");
            return Ok(255);
        }
    };
    let zone = crate::certs::zone();
    let file = AllowedSigners {
        path: allowed,
        text: &text,
        zone: &zone,
    };
    match file.match_principals(principal) {
        Ok(list) if !list.is_empty() => {
            for p in list {
                println!("{p}");
            }
            Ok(0)
        }
        Ok(_) => {
            eprintln!("No principal matched.");
            Ok(EXIT_NOT_FOUND)
        }
        Err(msg) => {
            log(&msg);
            eprintln!("No principal matched.");
            // SSH_ERR_INVALID_FORMAT (-4).
            Ok(252)
        }
    }
}
