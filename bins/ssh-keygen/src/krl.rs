//! `-k` (make or update a KRL from keys, certificates and specification files) and
//! `-Q` (check keys against a KRL), as OpenSSH's `do_gen_krl` and `do_check_krl`. The
//! KRL format and the specification lines are `oxssh_keys::krl`.

use std::io::Read;

use oxssh_keys::krl::{self, Krl};

use crate::{Fatal, Opts, fatal};

fn load_krl(path: &str) -> Result<Krl, Fatal> {
    let data = std::fs::read(path).or_else(|e| {
        fatal(format!(
            "Unable to load KRL {path}: {}",
            crate::cmd::strerror(&e)
        ))
    })?;
    Krl::parse(&data).or_else(|e| fatal(format!("Invalid KRL file {path}: {e}")))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `-k [-u] -f krl [-s ca|none] [-z version] [-C comment] file…`.
pub fn generate(o: &Opts) -> Result<u8, Fatal> {
    let out = o.file.clone().unwrap_or_default();
    if out.is_empty() {
        return fatal("KRL generation requires an output file");
    }
    match std::fs::metadata(&out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if o.update_krl {
                return fatal(format!("KRL \"{out}\" does not exist"));
            }
        }
        Err(e) => {
            return fatal(format!(
                "Cannot access KRL \"{out}\": {}",
                crate::cmd::strerror(&e)
            ));
        }
    }
    let (ca, wild) = match o.ca_key.as_deref() {
        Some(p) if p.eq_ignore_ascii_case("none") => (None, true),
        Some(p) => {
            let path = crate::cmd::tilde(p);
            match crate::certs::load_public(&path) {
                Ok((Ok(k), _)) => (Some(oxssh_keys::fingerprint::blob(k.key_data())), false),
                Ok((Err(_), _)) => {
                    return fatal(format!("Cannot load CA public key {path}: invalid format"));
                }
                Err(e) => return fatal(format!("Cannot load CA public key {path}: {e}")),
            }
        }
        None => (None, false),
    };
    let mut k = if o.update_krl {
        load_krl(&out)?
    } else {
        Krl::default()
    };
    if o.serial != 0 {
        k.version = o.serial;
    }
    if let Some(c) = &o.comment {
        k.comment = c.clone();
    }
    for file in &o.operands {
        let path = crate::cmd::tilde(file);
        let (text, shown) = if path == "-" {
            let mut v = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut v);
            (v, "(standard input)".to_owned())
        } else {
            match std::fs::read(&path) {
                Ok(d) => (d, path.clone()),
                Err(e) => {
                    return fatal(format!("fopen {path}: {}", crate::cmd::strerror(&e)));
                }
            }
        };
        if !o.quiet {
            println!("Revoking from {shown}");
        }
        let text = String::from_utf8_lossy(&text);
        for (i, line) in text.lines().enumerate() {
            krl::apply_spec_line(&mut k, line, &shown, i + 1, ca.as_deref(), wild)
                .or_else(fatal)?;
        }
    }
    k.generated = now();
    std::fs::write(&out, k.to_bytes())
        .or_else(|e| fatal(format!("write {out}: {}", crate::cmd::strerror(&e))))?;
    Ok(0)
}

/// `-Q [-l] -f krl file…`: exit 1 if any key is revoked.
pub fn check(o: &Opts) -> Result<u8, Fatal> {
    let path = o.file.clone().unwrap_or_default();
    if path.is_empty() {
        return fatal("KRL checking requires an input file");
    }
    let k = load_krl(&path)?;
    if o.fingerprint {
        let zone = crate::certs::zone();
        let t = oxssh_keys::timefmt::format_absolute(k.generated, &zone).replace(['-', ':'], "");
        print!("{}", k.dump(&t));
    }
    let mut ret = 0;
    for f in &o.operands {
        let (revoked, comment) = match crate::certs::load_public(f) {
            Ok((Ok(key), comment)) => (k.is_revoked_key(key.key_data()), comment),
            Ok((Err(_), comment)) => {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                let line = text
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .unwrap_or_default();
                match oxssh_keys::cert::Certificate::from_line(line) {
                    Ok((c, _)) => (k.is_revoked_cert(&c), comment),
                    Err(e) => return fatal(format!("Cannot load public key {f}: {e}")),
                }
            }
            Err(e) => return fatal(format!("Cannot load public key {f}: {e}")),
        };
        let c = if comment.is_empty() {
            String::new()
        } else {
            format!(" ({comment})")
        };
        println!("{f}{c}: {}", if revoked { "REVOKED" } else { "ok" });
        if revoked {
            ret = 1;
        }
    }
    Ok(ret)
}
