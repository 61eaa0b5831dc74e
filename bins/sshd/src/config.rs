//! The settings sshd acts on, read from sshd_config and `-o`/`-p`/`-h` with
//! first-value-wins and OpenSSH's defaults.
//!
//! Interim reader: it covers the keywords this sshd implements and stops at the first
//! `Match` block; the full sshd_config semantics (Match evaluation, Include, every
//! keyword, `-T`) come from the `oxssh-config` crate once it is wired in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use oxssh_cli::log::LogLevel;

use crate::Flags;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermitRootLogin {
    Yes,
    ProhibitPassword,
    ForcedCommandsOnly,
    No,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub host_keys: Vec<PathBuf>,
    pub authorized_keys_files: Vec<String>,
    pub pid_file: Option<PathBuf>,
    pub log_level: LogLevel,
    pub pubkey_auth: bool,
    pub password_auth: bool,
    pub kbd_auth: bool,
    pub permit_empty_passwords: bool,
    /// UsePAM: parsed; PAM itself is not implemented yet (passwords are checked
    /// against the shadow database either way).
    pub use_pam: bool,
    pub permit_root_login: PermitRootLogin,
    pub max_auth_tries: u32,
    pub login_grace_time: u64,
    pub subsystems: Vec<(String, String)>,
    pub accept_env: Vec<String>,
    pub banner: Option<PathBuf>,
    pub ciphers: Option<String>,
    pub macs: Option<String>,
    pub kex: Option<String>,
    pub host_key_algorithms: Option<String>,
    pub force_command: Option<String>,
}

#[derive(Default)]
struct Raw {
    ports: Vec<u16>,
    listen: Vec<String>,
    host_keys: Vec<PathBuf>,
    authorized_keys_files: Option<Vec<String>>,
    pid_file: Option<String>,
    log_level: Option<LogLevel>,
    pubkey_auth: Option<bool>,
    password_auth: Option<bool>,
    kbd_auth: Option<bool>,
    permit_empty_passwords: Option<bool>,
    use_pam: Option<bool>,
    permit_root_login: Option<PermitRootLogin>,
    max_auth_tries: Option<u32>,
    login_grace_time: Option<u64>,
    subsystems: Vec<(String, String)>,
    accept_env: Vec<String>,
    banner: Option<String>,
    ciphers: Option<String>,
    macs: Option<String>,
    kex: Option<String>,
    host_key_algorithms: Option<String>,
    force_command: Option<String>,
}

fn set<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

fn yes_no(file: &str, line: usize, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("{file} line {line}: unsupported option \"{v}\".")),
    }
}

fn time_secs(file: &str, line: usize, v: &str) -> Result<u64, String> {
    let (num, mult) = match v.chars().last() {
        Some('s' | 'S') => (v.get(..v.len() - 1).unwrap_or(""), 1),
        Some('m' | 'M') => (v.get(..v.len() - 1).unwrap_or(""), 60),
        Some('h' | 'H') => (v.get(..v.len() - 1).unwrap_or(""), 3600),
        _ => (v, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("{file} line {line}: invalid time value."))
}

/// Split a config line into keyword and arguments (quotes removed).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '=' if out.is_empty() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

impl Raw {
    /// Returns false at a `Match` line: the interim reader stops there.
    fn line(&mut self, file: &str, n: usize, text: &str) -> Result<bool, String> {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(true);
        }
        let w = words(text);
        let Some((kw, args)) = w.split_first() else {
            return Ok(true);
        };
        let k = kw.to_ascii_lowercase();
        let arg = args.first().map(String::as_str);
        fn need<'a>(a: Option<&'a str>, file: &str, n: usize) -> Result<&'a str, String> {
            a.ok_or_else(|| format!("{file} line {n}: missing argument."))
        }
        match k.as_str() {
            "match" => return Ok(false),
            "port" => self.ports.push(
                need(arg, file, n)?
                    .parse()
                    .map_err(|_| format!("{file} line {n}: Badly formatted port number."))?,
            ),
            "listenaddress" => self.listen.push(need(arg, file, n)?.to_owned()),
            "hostkey" => self.host_keys.push(PathBuf::from(need(arg, file, n)?)),
            "authorizedkeysfile" => set(&mut self.authorized_keys_files, args.to_vec()),
            "pidfile" => set(&mut self.pid_file, need(arg, file, n)?.to_owned()),
            "loglevel" => set(
                &mut self.log_level,
                LogLevel::parse(need(arg, file, n)?)
                    .ok_or_else(|| format!("{file} line {n}: unsupported log level"))?,
            ),
            "pubkeyauthentication" => {
                set(&mut self.pubkey_auth, yes_no(file, n, need(arg, file, n)?)?)
            }
            "passwordauthentication" => set(
                &mut self.password_auth,
                yes_no(file, n, need(arg, file, n)?)?,
            ),
            "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
                set(&mut self.kbd_auth, yes_no(file, n, need(arg, file, n)?)?)
            }
            "permitemptypasswords" => set(
                &mut self.permit_empty_passwords,
                yes_no(file, n, need(arg, file, n)?)?,
            ),
            "usepam" => set(&mut self.use_pam, yes_no(file, n, need(arg, file, n)?)?),
            "permitrootlogin" => {
                let v = match need(arg, file, n)?.to_ascii_lowercase().as_str() {
                    "yes" => PermitRootLogin::Yes,
                    "prohibit-password" | "without-password" => PermitRootLogin::ProhibitPassword,
                    "forced-commands-only" => PermitRootLogin::ForcedCommandsOnly,
                    "no" => PermitRootLogin::No,
                    v => return Err(format!("{file} line {n}: unsupported option \"{v}\".")),
                };
                set(&mut self.permit_root_login, v);
            }
            "maxauthtries" => set(
                &mut self.max_auth_tries,
                need(arg, file, n)?
                    .parse()
                    .map_err(|_| format!("{file} line {n}: invalid number"))?,
            ),
            "logingracetime" => set(
                &mut self.login_grace_time,
                time_secs(file, n, need(arg, file, n)?)?,
            ),
            "subsystem" => {
                let name = need(arg, file, n)?.to_owned();
                let cmd = args.get(1..).unwrap_or_default().join(" ");
                if !self.subsystems.iter().any(|(s, _)| *s == name) {
                    self.subsystems.push((name, cmd));
                }
            }
            "acceptenv" => self.accept_env.extend(args.iter().cloned()),
            "banner" => set(&mut self.banner, need(arg, file, n)?.to_owned()),
            "ciphers" => set(&mut self.ciphers, need(arg, file, n)?.to_owned()),
            "macs" => set(&mut self.macs, need(arg, file, n)?.to_owned()),
            "kexalgorithms" => set(&mut self.kex, need(arg, file, n)?.to_owned()),
            "hostkeyalgorithms" => set(
                &mut self.host_key_algorithms,
                need(arg, file, n)?.to_owned(),
            ),
            "forcecommand" => set(&mut self.force_command, args.join(" ")),
            _ => tracing::debug!("{file} line {n}: keyword {kw} not acted on yet"),
        }
        Ok(true)
    }
}

pub fn load(flags: &Flags) -> Result<ServerConfig, String> {
    let mut raw = Raw::default();
    for (i, o) in flags.options.iter().enumerate() {
        raw.line("command-line", i + 1, o)?;
    }
    let path = flags
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/ssh/sshd_config"));
    let file = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            for (i, l) in text.lines().enumerate() {
                if !raw.line(&file, i + 1, l)? {
                    break;
                }
            }
        }
        Err(e) => {
            return Err(format!(
                "{file}: {}",
                e.to_string().split(" (os error").next().unwrap_or("")
            ));
        }
    }
    let mut host_keys = flags.host_keys.clone();
    host_keys.extend(raw.host_keys);
    if host_keys.is_empty() {
        host_keys = [
            "ssh_host_rsa_key",
            "ssh_host_ecdsa_key",
            "ssh_host_ed25519_key",
        ]
        .iter()
        .map(|n| PathBuf::from("/etc/ssh").join(n))
        .collect();
    }
    let ports = if flags.ports.is_empty() {
        raw.ports
    } else {
        flags.ports.clone()
    };
    let ports = if ports.is_empty() { vec![22] } else { ports };
    let mut listen = Vec::new();
    let addrs: Vec<(IpAddr, Option<u16>)> = if raw.listen.is_empty() {
        vec![
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), None),
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), None),
        ]
    } else {
        raw.listen
            .iter()
            .map(|l| {
                if let Ok(sa) = l.parse::<SocketAddr>() {
                    return Ok((sa.ip(), Some(sa.port())));
                }
                l.trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .map(|ip| (ip, None))
                    .map_err(|_| format!("{file}: bad ListenAddress {l}"))
            })
            .collect::<Result<_, _>>()?
    };
    for (ip, port) in addrs {
        match port {
            Some(p) => listen.push(SocketAddr::new(ip, p)),
            None => listen.extend(ports.iter().map(|&p| SocketAddr::new(ip, p))),
        }
    }
    Ok(ServerConfig {
        listen,
        host_keys,
        authorized_keys_files: raw.authorized_keys_files.unwrap_or_else(|| {
            vec![
                ".ssh/authorized_keys".into(),
                ".ssh/authorized_keys2".into(),
            ]
        }),
        pid_file: match raw.pid_file.as_deref() {
            Some("none") => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from("/run/sshd.pid")),
        },
        log_level: raw.log_level.unwrap_or(LogLevel::Info),
        pubkey_auth: raw.pubkey_auth.unwrap_or(true),
        password_auth: raw.password_auth.unwrap_or(true),
        kbd_auth: raw.kbd_auth.unwrap_or(true),
        permit_empty_passwords: raw.permit_empty_passwords.unwrap_or(false),
        use_pam: raw.use_pam.unwrap_or(false),
        permit_root_login: raw
            .permit_root_login
            .unwrap_or(PermitRootLogin::ProhibitPassword),
        max_auth_tries: raw.max_auth_tries.unwrap_or(6),
        login_grace_time: raw.login_grace_time.unwrap_or(120),
        subsystems: raw.subsystems,
        accept_env: raw.accept_env,
        banner: raw.banner.filter(|b| b != "none").map(PathBuf::from),
        ciphers: raw.ciphers,
        macs: raw.macs,
        kex: raw.kex,
        host_key_algorithms: raw.host_key_algorithms,
        force_command: raw.force_command,
    })
}
