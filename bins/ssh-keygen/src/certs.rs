//! Certificates on the command line: `-s ca_key -I id [-h] [-n …] [-V …] [-z …]
//! [-O …] key…` (OpenSSH's `do_ca_sign`) and `-L` (`do_show_cert`). The certificate
//! format and signing are `oxssh_keys::cert`; this file parses the options the way
//! ssh-keygen.c does and prints its messages.

use std::path::Path;

use oxssh_keys::cert::{self, CertOption, Certificate};
use oxssh_keys::fingerprint as fp;
use oxssh_keys::timefmt::{self, Zone};
use ssh_key::PublicKey;

use crate::{Fatal, Opts, fatal, log};

/// The local time zone (`TZ`, else /etc/localtime, else UTC).
pub fn zone() -> Zone {
    timefmt::local_zone()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn relative(s: &str, now: u64) -> Result<u64, Fatal> {
    let neg = s.starts_with('-');
    let secs = match s.get(1..).and_then(timefmt::convtime) {
        Some(v) => u64::try_from(v).unwrap_or(0),
        None => return fatal(format!("Invalid relative certificate time {s}")),
    };
    if neg {
        if secs > now {
            return fatal(format!("Certificate time {s} cannot be represented"));
        }
        Ok(now - secs)
    } else {
        Ok(now.saturating_add(secs))
    }
}

fn hex_u64(s: &str) -> Result<u64, Fatal> {
    let digits = s.get(2..).unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return fatal("Invalid certificate time: not a number");
    }
    u64::from_str_radix(digits, 16).or_else(|_| fatal("Invalid certificate time: Result too large"))
}

/// `-V`: OpenSSH's `parse_cert_times`, returning (valid_after, valid_before).
pub fn parse_validity(spec: &str) -> Result<(u64, u64), Fatal> {
    let now = now();
    if spec.starts_with('+') && !spec.contains(':') {
        let Some(secs) = spec.get(1..).and_then(timefmt::convtime) else {
            return fatal(format!("Invalid relative certificate life {spec}"));
        };
        let to = now.saturating_add(u64::try_from(secs).unwrap_or(0));
        // Backdated a minute, for hosts with poorly synchronised clocks.
        let from = now.saturating_sub(59) / 60 * 60;
        return Ok((from, to));
    }
    let Some((from, to)) = spec
        .split_once(':')
        .filter(|(f, t)| !f.is_empty() && !t.is_empty())
    else {
        return fatal(format!("Invalid certificate life specification {spec}"));
    };
    let zone = zone();
    let from_t = if from.starts_with(['-', '+']) {
        relative(from, now)?
    } else if from == "always" {
        0
    } else if from.starts_with("0x") {
        hex_u64(from)?
    } else {
        match timefmt::parse_absolute(from, &zone) {
            Some(t) => t,
            None => return fatal(format!("Invalid from time \"{from}\"")),
        }
    };
    let to_t = if to.starts_with(['-', '+']) {
        relative(to, now)?
    } else if to == "forever" {
        u64::MAX
    } else if to.starts_with("0x") {
        hex_u64(to)?
    } else {
        match timefmt::parse_absolute(to, &zone) {
            Some(t) => t,
            None => return fatal(format!("Invalid to time \"{to}\"")),
        }
    };
    if to_t <= from_t {
        return fatal("Empty certificate validity interval");
    }
    Ok((from_t, to_t))
}

/// `-z`: a serial number, `+` for auto-increment.
pub fn parse_serial(s: &str) -> Result<(u64, bool), Fatal> {
    let (inc, digits) = match s.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let ok = digits.bytes().next().is_some_and(|c| c.is_ascii_digit())
        && digits.bytes().all(|c| c.is_ascii_digit());
    match digits.parse::<u64>() {
        Ok(v) if ok => Ok((v, inc)),
        _ => fatal(format!("Invalid serial number \"{digits}\"")),
    }
}

const X_FWD: u8 = 1;
const AGENT_FWD: u8 = 2;
const PORT_FWD: u8 = 4;
const PTY: u8 = 8;
const USER_RC: u8 = 16;
const NO_TOUCH: u8 = 32;
const VERIFY: u8 = 64;

struct CertFlags {
    flags: u8,
    command: Option<String>,
    source: Option<String>,
    /// (critical, name, value)
    custom: Vec<(bool, String, Option<String>)>,
}

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// OpenSSH's `add_cert_option`.
fn add_option(f: &mut CertFlags, opt: &str) -> Result<(), Fatal> {
    let set = |f: &mut CertFlags, bit: u8, on: bool| {
        if on {
            f.flags |= bit;
        } else {
            f.flags &= !bit;
        }
    };
    let lc = opt.to_ascii_lowercase();
    match lc.as_str() {
        "clear" => f.flags = 0,
        "no-x11-forwarding" => set(f, X_FWD, false),
        "permit-x11-forwarding" => set(f, X_FWD, true),
        "no-agent-forwarding" => set(f, AGENT_FWD, false),
        "permit-agent-forwarding" => set(f, AGENT_FWD, true),
        "no-port-forwarding" => set(f, PORT_FWD, false),
        "permit-port-forwarding" => set(f, PORT_FWD, true),
        "no-pty" => set(f, PTY, false),
        "permit-pty" => set(f, PTY, true),
        "no-user-rc" => set(f, USER_RC, false),
        "permit-user-rc" => set(f, USER_RC, true),
        "touch-required" => set(f, NO_TOUCH, false),
        "no-touch-required" => set(f, NO_TOUCH, true),
        "no-verify-required" => set(f, VERIFY, false),
        "verify-required" => set(f, VERIFY, true),
        _ if starts_ci(opt, "force-command=") => {
            let val = opt.get(14..).unwrap_or_default();
            if val.is_empty() {
                return fatal("Empty force-command option");
            }
            if f.command.is_some() {
                return fatal("force-command already specified");
            }
            f.command = Some(val.to_owned());
        }
        _ if starts_ci(opt, "source-address=") => {
            let val = opt.get(15..).unwrap_or_default();
            if val.is_empty() {
                return fatal("Empty source-address option");
            }
            if f.source.is_some() {
                return fatal("source-address already specified");
            }
            if !valid_cidr_list(val) {
                return fatal("Invalid source-address list");
            }
            f.source = Some(val.to_owned());
        }
        _ if starts_ci(opt, "extension:") || starts_ci(opt, "critical:") => {
            let crit = starts_ci(opt, "critical:");
            let rest = opt.split_once(':').map(|x| x.1).unwrap_or_default();
            let (name, val) = match rest.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (rest.to_owned(), None),
            };
            f.custom.push((crit, name, val));
        }
        _ => return fatal(format!("Unsupported certificate option \"{opt}\"")),
    }
    Ok(())
}

/// OpenSSH's `addr_match_cidr_list(NULL, list)` validation: every entry an address
/// or network/prefix (v4 or v6) with no host bits set. Errors are logged as OpenSSH
/// logs them.
fn valid_cidr_list(list: &str) -> bool {
    let mut ok = true;
    for e in list.split(',') {
        if e.is_empty() {
            // OpenSSH prints its copy of the list after strsep(3) cut it at the
            // first comma.
            let cut = list.split(',').next().unwrap_or_default();
            log(&format!(
                "addr_match_cidr_list: empty entry in list \"{}\"",
                trunc(cut)
            ));
            return false;
        }
        if e.len() > 46 + 3 {
            log(&format!(
                "addr_match_cidr_list: list entry \"{}\" too long",
                trunc(e)
            ));
            return false;
        }
        if !e
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b'.' || c == b':' || c == b'/')
        {
            log(&format!(
                "addr_match_cidr_list: list entry \"{}\" contains invalid characters",
                trunc(e)
            ));
            ok = false;
        }
        match parse_cidr(e) {
            Err(true) => {
                log(&format!("Invalid network entry \"{}\"", trunc(e)));
                return false;
            }
            Err(false) => {
                log(&format!(
                    "Inconsistent mask length for network \"{}\"",
                    trunc(e)
                ));
                return false;
            }
            Ok(()) => {}
        }
    }
    ok
}

fn trunc(s: &str) -> &str {
    let mut n = s.len().min(100);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or(s)
}

/// `addr_pton_cidr`: Err(true) for an invalid entry, Err(false) for a bad mask.
fn parse_cidr(e: &str) -> Result<(), bool> {
    let (addr, bits) = match e.split_once('/') {
        Some((a, b)) => {
            if !b.bytes().next().is_some_and(|c| c.is_ascii_digit())
                || !b.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(true);
            }
            (a, Some(b.parse::<u32>().map_err(|_| true)?))
        }
        None => (e, None),
    };
    if bits.is_some_and(|b| b > 128) {
        return Err(true);
    }
    let (value, width): (u128, u32) = if let Ok(v4) = addr.parse::<std::net::Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else if let Ok(v6) = addr.parse::<std::net::Ipv6Addr>() {
        (u128::from(v6), 128)
    } else {
        return Err(true);
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return Err(false);
    }
    let host_bits = width - bits;
    let host_mask = if host_bits == 0 {
        0
    } else if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    if value & host_mask != 0 {
        return Err(false);
    }
    Ok(())
}

/// OpenSSH's `finalise_cert_exts`: (critical options, extensions), sorted.
fn finalise(f: &CertFlags) -> (Vec<CertOption>, Vec<CertOption>) {
    let mut all: Vec<(bool, String, Option<String>)> = f.custom.clone();
    if let Some(c) = &f.command {
        all.push((true, "force-command".into(), Some(c.clone())));
    }
    if let Some(s) = &f.source {
        all.push((true, "source-address".into(), Some(s.clone())));
    }
    if f.flags & VERIFY != 0 {
        all.push((true, "verify-required".into(), None));
    }
    for (bit, name) in [
        (X_FWD, "permit-X11-forwarding"),
        (AGENT_FWD, "permit-agent-forwarding"),
        (PORT_FWD, "permit-port-forwarding"),
        (PTY, "permit-pty"),
        (USER_RC, "permit-user-rc"),
        (NO_TOUCH, "no-touch-required"),
    ] {
        if f.flags & bit != 0 {
            all.push((false, name.into(), None));
        }
    }
    // Extensions (crit = false) sort first, as OpenSSH's comparison does; each list
    // lands in its own buffer so only the order within a list matters.
    all.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
            .then_with(|| a.2.is_some().cmp(&b.2.is_some()))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut crit = Vec::new();
    let mut ext = Vec::new();
    for (c, name, val) in all {
        let o = match val {
            Some(v) => CertOption::with_value(&name, &v),
            None => CertOption::flag(&name),
        };
        if c {
            crit.push(o);
        } else {
            ext.push(o);
        }
    }
    (crit, ext)
}

/// `sshkey_type_from_name`: the key family a `-t` name stands for.
fn family_of(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    Some(match name {
        "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512" => "rsa",
        "ssh-dss" => "dsa",
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => "ecdsa",
        "ssh-ed25519" => "ed25519",
        "sk-ecdsa-sha2-nistp256@openssh.com" => "ecdsa-sk",
        "sk-ssh-ed25519@openssh.com" => "ed25519-sk",
        _ => match n.as_str() {
            "rsa" => "rsa",
            "dsa" => "dsa",
            "ecdsa" => "ecdsa",
            "ed25519" => "ed25519",
            "ecdsa-sk" => "ecdsa-sk",
            "ed25519-sk" => "ed25519-sk",
            _ => return None,
        },
    })
}

fn family_of_key(key: &ssh_key::public::KeyData) -> &'static str {
    use ssh_key::public::KeyData;
    match key {
        KeyData::Rsa(_) => "rsa",
        KeyData::Dsa(_) => "dsa",
        KeyData::Ecdsa(_) => "ecdsa",
        KeyData::Ed25519(_) => "ed25519",
        KeyData::SkEcdsaSha2NistP256(_) => "ecdsa-sk",
        KeyData::SkEd25519(_) => "ed25519-sk",
        _ => "unknown",
    }
}

/// `sshkey_load_public`: the file itself, then `file.pub`, then the private key's
/// public half. Returns the key and its comment.
/// A certificate where a plain key is wanted is `Err(label)`.
pub fn load_public(path: &str) -> Result<(Result<PublicKey, String>, String), String> {
    let try_file = |p: &str| -> Option<(Result<PublicKey, String>, String)> {
        let text = std::fs::read_to_string(p).ok()?;
        for line in text.lines() {
            let l = line.trim_start_matches([' ', '\t']);
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut it = l.splitn(3, [' ', '\t']);
            let (ty, b64) = (it.next()?, it.next()?);
            let comment = it.next().unwrap_or_default().trim().to_owned();
            if cert::is_cert_name(ty) {
                let (c, _) = Certificate::from_line(l).ok()?;
                return Some((Err(fp::cert_type_label(c.key.key_data())), comment));
            }
            let k = PublicKey::from_openssh(&format!("{ty} {b64}")).ok()?;
            return Some((Ok(k), comment));
        }
        None
    };
    if let Some(k) = try_file(path) {
        return Ok(k);
    }
    if let Some(k) = try_file(&format!("{path}.pub")) {
        return Ok(k);
    }
    if let Ok(d) = std::fs::read(path)
        && let Ok(k) = ssh_key::PrivateKey::from_openssh(&d)
    {
        return Ok((
            Ok(PublicKey::new(k.public_key().key_data().clone(), "")),
            String::new(),
        ));
    }
    if std::fs::metadata(path).is_ok() {
        return Err("invalid format".into());
    }
    Err("No such file or directory".into())
}

/// OpenSSH's `sshkey_format_cert_validity`.
pub fn validity_text(after: u64, before: u64, zone: &Zone) -> String {
    oxssh_keys::cert::validity_text(after, before, zone)
}

/// Where the CA's signatures come from.
enum CaKey {
    File(Box<ssh_key::PrivateKey>),
    Agent(PublicKey),
}

impl CaKey {
    fn public(&self) -> PublicKey {
        match self {
            CaKey::File(k) => k.public_key().clone(),
            CaKey::Agent(k) => k.clone(),
        }
    }
}

/// `-s`: sign each public key named on the command line.
pub fn ca_sign(o: &Opts) -> Result<u8, Fatal> {
    let Some(ca_path) = o.ca_key.as_deref() else {
        return Ok(1);
    };
    let Some(key_id) = o.key_id.as_deref() else {
        return fatal("Must specify key id (-I) when certifying");
    };
    let mut flags = CertFlags {
        flags: X_FWD | AGENT_FWD | PORT_FWD | PTY | USER_RC,
        command: None,
        source: None,
        custom: Vec::new(),
    };
    for opt in &o.options {
        add_option(&mut flags, opt)?;
    }
    let ca_path = crate::cmd::tilde(ca_path);
    // The CA: a private key file, or (-U) a public key whose private half the agent holds.
    let ca: CaKey = if o.prefer_agent {
        let public = match load_public(&ca_path) {
            Ok((Ok(k), _)) => k,
            Ok((Err(_), _)) => {
                return fatal(format!(
                    "Cannot load CA public key {ca_path}: invalid format"
                ));
            }
            Err(e) => return fatal(format!("Cannot load CA public key {ca_path}: {e}")),
        };
        if std::env::var_os("SSH_AUTH_SOCK").is_none() {
            return fatal("Cannot use public key for CA signature: agent not present");
        }
        if !crate::agent::has_key(&fp::blob(public.key_data())) {
            return fatal(format!("CA key {ca_path} not found in agent"));
        }
        CaKey::Agent(public)
    } else {
        CaKey::File(Box::new(crate::cmd::load_identity(o, &ca_path)?.0))
    };
    let ca_public = ca.public();
    let ca_family = family_of_key(ca_public.key_data());
    let alg: Option<String> = match o.key_type.as_deref() {
        Some(t) => {
            if family_of(t) != Some(ca_family) {
                return fatal(format!(
                    "CA key type {} doesn't match specified {t}",
                    ca_public.algorithm().as_str()
                ));
            }
            Some(t.to_owned())
        }
        None if ca_family == "rsa" => Some("rsa-sha2-512".into()),
        None => None,
    };
    // A `-t` short name (`ed25519`) means the key's own algorithm.
    let alg =
        alg.filter(|a| oxssh_proto::hostkey::SigAlg::from_name(a).is_some() || a == "ssh-dss");
    let (crit, ext) = finalise(&flags);
    let (valid_after, valid_before) = o.validity.unwrap_or((0, u64::MAX));
    let zone = zone();
    let mut serial = o.serial;
    for arg in &o.operands {
        let principals: Vec<String> = match &o.principals {
            Some(p) => {
                let list: Vec<String> = p.split(',').map(str::to_owned).collect();
                if list.iter().any(String::is_empty) {
                    return fatal("Empty principal name");
                }
                list
            }
            None => Vec::new(),
        };
        if principals.len() > cert::MAX_PRINCIPALS {
            return fatal("Too many certificate principals specified");
        }
        let path = crate::cmd::tilde(arg);
        let (public, comment) =
            load_public(&path).or_else(|e| fatal(format!("load pubkey \"{path}\": {e}")))?;
        let public = match public {
            Ok(k) => k,
            Err(label) => {
                return fatal(format!(
                    "do_ca_sign: key \"{path}\" type {label} cannot be certified"
                ));
            }
        };
        let mut c = Certificate::for_key(&public)
            .or_else(|e| fatal(format!("Could not upgrade key {path} to certificate: {e}")))?;
        c.cert_type = if o.cert_host { cert::HOST } else { cert::USER };
        c.serial = serial;
        c.key_id = key_id.to_owned();
        c.principals = principals;
        c.valid_after = valid_after;
        c.valid_before = valid_before;
        c.critical_options = crit.clone();
        c.extensions = ext.clone();
        let signed = match &ca {
            CaKey::File(k) => c.sign(k, alg.as_deref()),
            CaKey::Agent(k) => c.sign_with(k, |tbs| {
                crate::agent::sign(&fp::blob(k.key_data()), tbs, alg.as_deref())
                    .map_err(cert::CertError::Sign)
            }),
        };
        if let Err(e) = signed {
            if o.prefer_agent {
                return fatal(format!("Couldn't certify {path} via agent: {e}"));
            }
            return fatal(format!("Couldn't certify key {path}: {e}"));
        }
        let base = path.strip_suffix(".pub").unwrap_or(&path);
        let out = format!("{base}-cert.pub");
        let line = format!("{}\n", c.to_line(&comment));
        if let Err(e) = write_public(&out, &line) {
            return fatal(format!(
                "Unable to save public key to {}: {e}",
                o.file.as_deref().unwrap_or("(null)")
            ));
        }
        if !o.quiet {
            log(&format!(
                "Signed {} key {out}: id \"{}\" serial {}{}{} valid {}",
                c.type_label(),
                c.key_id,
                c.serial,
                if o.principals.is_some() { " for " } else { "" },
                o.principals.as_deref().unwrap_or(""),
                validity_text(c.valid_after, c.valid_before, &zone)
            ));
        }
        if o.serial_autoinc {
            serial = serial.wrapping_add(1);
        }
    }
    Ok(0)
}

fn write_public(path: &str, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(Path::new(path))
        .map_err(|e| crate::cmd::strerror(&e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| crate::cmd::strerror(&e))
}

fn show_options(out: &mut String, opts: &[CertOption], critical: bool) -> Result<(), Fatal> {
    const FLAGS: &[&str] = &[
        "permit-X11-forwarding",
        "permit-agent-forwarding",
        "permit-port-forwarding",
        "permit-pty",
        "permit-user-rc",
        "no-touch-required",
    ];
    for o in opts {
        out.push_str("                ");
        out.push_str(&o.name);
        let mut leftover = !o.data.is_empty();
        if !critical && FLAGS.contains(&o.name.as_str()) {
            out.push('\n');
        } else if critical && (o.name == "force-command" || o.name == "source-address") {
            let mut r = oxssh_proto::wire::Reader::new(&o.data);
            let Ok(v) = r.string() else {
                print!("{out}");
                return fatal("show_options: parse critical: invalid format");
            };
            out.push(' ');
            out.push_str(&String::from_utf8_lossy(
                v.split(|&b| b == 0).next().unwrap_or(v),
            ));
            out.push('\n');
            leftover = !r.is_empty();
        } else if critical && o.name == "verify-required" {
            out.push('\n');
        } else if !o.data.is_empty() {
            let hex: String = o.data.iter().map(|b| format!("{b:02x}")).collect();
            out.push_str(&format!(" UNKNOWN OPTION: {hex} (len {})\n", o.data.len()));
            leftover = false;
        } else {
            out.push_str(" UNKNOWN FLAG OPTION\n");
        }
        if leftover {
            print!("{out}");
            return fatal("Option corrupt: extra data at end");
        }
    }
    Ok(())
}

fn print_cert(o: &Opts, c: &Certificate, zone: &Zone) -> Result<(), Fatal> {
    let hash = o.hash.unwrap_or(fp::FpHash::Sha256);
    let kd = c.key.key_data();
    let mut s = String::new();
    s.push_str(&format!(
        "        Type: {} {} certificate\n",
        c.type_name,
        c.type_label()
    ));
    s.push_str(&format!(
        "        Public key: {} {}\n",
        fp::cert_type_label(kd),
        fp::fingerprint(kd, hash)
    ));
    let ca = c.signature_key.key_data();
    s.push_str(&format!(
        "        Signing CA: {} {} (using {})\n",
        fp::type_label(ca),
        fp::fingerprint(ca, hash),
        c.signature_type()
    ));
    s.push_str(&format!("        Key ID: \"{}\"\n", c.key_id));
    s.push_str(&format!("        Serial: {}\n", c.serial));
    s.push_str(&format!(
        "        Valid: {}\n",
        validity_text(c.valid_after, c.valid_before, zone)
    ));
    s.push_str("        Principals: ");
    if c.principals.is_empty() {
        s.push_str("(none)\n");
    } else {
        for p in &c.principals {
            s.push_str("\n                ");
            s.push_str(p);
        }
        s.push('\n');
    }
    s.push_str("        Critical Options: ");
    if c.critical_options.is_empty() {
        s.push_str("(none)\n");
    } else {
        s.push('\n');
        show_options(&mut s, &c.critical_options, true)?;
    }
    s.push_str("        Extensions: ");
    if c.extensions.is_empty() {
        s.push_str("(none)\n");
    } else {
        s.push('\n');
        show_options(&mut s, &c.extensions, false)?;
    }
    print!("{s}");
    Ok(())
}

/// `-L`: print every certificate in a file (or `-` for stdin).
pub fn show_cert(o: &Opts) -> Result<u8, Fatal> {
    let path = crate::cmd::identity_file(o, "Enter file in which the key is")?;
    let (data, shown, is_stdin) = if path == "-" {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut v);
        (v, "(stdin)".to_owned(), true)
    } else {
        if let Err(e) = std::fs::metadata(&path) {
            return fatal(format!("ssh-keygen: {path}: {}", crate::cmd::strerror(&e)));
        }
        match std::fs::read(&path) {
            Ok(d) => (d, path.clone(), false),
            Err(e) => return fatal(format!("fopen {path}: {}", crate::cmd::strerror(&e))),
        }
    };
    let zone = zone();
    let text = String::from_utf8_lossy(&data);
    let mut ok = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let lnum = i + 1;
        let l = line.trim_start_matches([' ', '\t']);
        if l.starts_with('#') || l.trim_end_matches(['\n', '\r']).is_empty() {
            continue;
        }
        let ty = l.split([' ', '\t']).next().unwrap_or_default();
        if !cert::is_cert_name(ty) {
            let plain = l
                .splitn(3, [' ', '\t'])
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            if PublicKey::from_openssh(plain.trim_end()).is_ok() {
                crate::flush();
                log(&format!("{shown}:{lnum} is not a certificate"));
            } else {
                crate::flush();
                log(&format!("{shown}:{lnum}: invalid key: invalid format"));
            }
            continue;
        }
        match Certificate::from_line(l) {
            Ok((c, _)) => {
                ok = true;
                if !is_stdin && lnum == 1 {
                    println!("{shown}:");
                } else {
                    println!("{shown}:{lnum}:");
                }
                print_cert(o, &c, &zone)?;
            }
            Err(e) => {
                crate::flush();
                log(&format!("{shown}:{lnum}: invalid key: {e}"));
            }
        }
    }
    Ok(u8::from(!ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_forms() {
        assert_eq!(parse_validity("always:forever").unwrap(), (0, u64::MAX));
        let (a, b) = parse_validity("+1d").unwrap();
        assert!(b - a >= 86_400 && b - a < 86_400 + 120);
        assert_eq!(parse_validity("0x10:0x20").unwrap(), (16, 32));
        assert!(parse_validity("20200101:20100101").is_err());
        assert!(parse_validity("bogus").is_err());
        assert!(parse_validity(":x").is_err());
        let (a, b) = parse_validity("-1d:+2w").unwrap();
        assert_eq!(b - a, 86_400 + 14 * 86_400);
    }

    #[test]
    fn serials() {
        assert_eq!(parse_serial("42").unwrap(), (42, false));
        assert_eq!(parse_serial("+7").unwrap(), (7, true));
        assert!(parse_serial("-1").is_err());
        assert!(parse_serial("1x").is_err());
        assert!(parse_serial("").is_err());
    }

    #[test]
    fn option_order_and_cidr() {
        let mut f = CertFlags {
            flags: X_FWD | AGENT_FWD | PORT_FWD | PTY | USER_RC,
            command: None,
            source: None,
            custom: Vec::new(),
        };
        for o in [
            "no-pty",
            "force-command=ls",
            "extension:zzz",
            "critical:aaa=1",
        ] {
            add_option(&mut f, o).unwrap();
        }
        let (crit, ext) = finalise(&f);
        let names: Vec<_> = crit.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["aaa", "force-command"]);
        let names: Vec<_> = ext.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "permit-X11-forwarding",
                "permit-agent-forwarding",
                "permit-port-forwarding",
                "permit-user-rc",
                "zzz"
            ]
        );
        assert!(valid_cidr_list("10.0.0.0/8,::1,127.0.0.1,::/0"));
        assert!(!valid_cidr_list("10.0.0.0/33"));
        assert!(!valid_cidr_list("10.0.0.1/8"));
        assert!(!valid_cidr_list("host.example"));
    }
}
