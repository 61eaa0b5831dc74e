//! ssh's command line: getopt with OpenSSH's option string, the destination forms
//! (`host`, `user@host`, `ssh://user@host:port`), options after the destination, and
//! `-o Keyword=value` settings, first value wins.
//!
//! This is the interim settings table until `oxssh-config` is wired in: it covers the
//! keywords the client implements today and accepts the rest without effect.

use std::ffi::OsString;
use std::path::PathBuf;

use oxssh_cli::getopt::{Getopt, Item};
use oxssh_cli::log::LogLevel;

/// OpenSSH 9's ssh option string.
const OPTSTRING: &str = "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    Yes,
    No,
    AcceptNew,
    Ask,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestTty {
    No,
    Yes,
    Force,
    Auto,
}

#[derive(Debug, Default)]
pub struct Options {
    pub destination: String,
    pub command: Vec<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub hostname: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub verbose: u8,
    pub quiet: bool,
    pub log_level: Option<LogLevel>,
    pub log_file: Option<PathBuf>,
    pub tty_flags: u8,
    pub no_tty: bool,
    pub stdin_null: bool,
    pub no_command: bool,
    pub subsystem: bool,
    pub config_file: Option<PathBuf>,
    pub user_known_hosts: Option<Vec<PathBuf>>,
    pub global_known_hosts: Option<Vec<PathBuf>>,
    pub strict: Option<StrictHostKeyChecking>,
    pub batch_mode: Option<bool>,
    pub connect_timeout: Option<u64>,
    pub ciphers: Option<String>,
    pub kex: Option<String>,
    pub macs: Option<String>,
    pub host_key_algorithms: Option<String>,
    pub pubkey_auth: Option<bool>,
    pub password_auth: Option<bool>,
    pub kbd_auth: Option<bool>,
    pub identities_only: Option<bool>,
    pub number_of_password_prompts: Option<u32>,
    pub preferred_authentications: Option<String>,
    pub request_tty: Option<RequestTty>,
    pub host_key_alias: Option<String>,
    pub escape_char: Option<String>,
    pub address_family: Option<u8>,
    pub proxy_command: Option<String>,
}

// One value per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Run(Options),
    Exit(u8),
}

const USAGE: &str = "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]
           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]
           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]
           [-J destination] [-L address] [-l login_name] [-m mac_spec]
           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-Q query_option]
           [-R address] [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]
           destination [command [argument ...]]";

fn yes_no(kw: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!(
            "command-line line 0: unsupported option \"{v}\" for {kw}."
        )),
    }
}

fn set<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| "Bad port '".to_owned() + s + "'")
}

impl Options {
    pub fn log_level(&self) -> LogLevel {
        let base = if self.quiet {
            LogLevel::Quiet
        } else {
            self.log_level.unwrap_or(LogLevel::Info)
        };
        LogLevel::from_verbosity(base, self.verbose)
    }

    /// One `-o` option (or config line): `Keyword value` or `Keyword=value`.
    pub fn apply_option(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        let (kw, val) = match line.find(|c: char| c == '=' || c.is_whitespace()) {
            Some(i) => (
                line.get(..i).unwrap_or(""),
                line.get(i + 1..)
                    .unwrap_or("")
                    .trim_start_matches(['=', ' ', '\t']),
            ),
            None => (line, ""),
        };
        let val = val.trim().trim_matches('"');
        let k = kw.to_ascii_lowercase();
        if val.is_empty() && !k.is_empty() {
            return Err(format!("command-line line 0: {kw}: missing argument."));
        }
        match k.as_str() {
            "port" => set(&mut self.port, parse_port(val)?),
            "user" => set(&mut self.user, val.to_owned()),
            "hostname" => set(&mut self.hostname, val.to_owned()),
            "identityfile" => self.identity_files.push(PathBuf::from(val)),
            "userknownhostsfile" => set(
                &mut self.user_known_hosts,
                val.split_whitespace().map(PathBuf::from).collect(),
            ),
            "globalknownhostsfile" => set(
                &mut self.global_known_hosts,
                val.split_whitespace().map(PathBuf::from).collect(),
            ),
            "stricthostkeychecking" => {
                let v = match val.to_ascii_lowercase().as_str() {
                    "yes" | "true" => StrictHostKeyChecking::Yes,
                    "no" | "false" | "off" => StrictHostKeyChecking::No,
                    "accept-new" => StrictHostKeyChecking::AcceptNew,
                    "ask" => StrictHostKeyChecking::Ask,
                    _ => {
                        return Err(format!(
                            "command-line line 0: unsupported option \"{val}\"."
                        ));
                    }
                };
                set(&mut self.strict, v);
            }
            "batchmode" => set(&mut self.batch_mode, yes_no(kw, val)?),
            "connecttimeout" => set(
                &mut self.connect_timeout,
                val.parse()
                    .map_err(|_| format!("command-line line 0: invalid time value \"{val}\"."))?,
            ),
            "ciphers" => set(&mut self.ciphers, val.to_owned()),
            "kexalgorithms" => set(&mut self.kex, val.to_owned()),
            "macs" => set(&mut self.macs, val.to_owned()),
            "hostkeyalgorithms" => set(&mut self.host_key_algorithms, val.to_owned()),
            "pubkeyauthentication" => set(&mut self.pubkey_auth, yes_no(kw, val)?),
            "passwordauthentication" => set(&mut self.password_auth, yes_no(kw, val)?),
            "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
                set(&mut self.kbd_auth, yes_no(kw, val)?)
            }
            "identitiesonly" => set(&mut self.identities_only, yes_no(kw, val)?),
            "numberofpasswordprompts" => set(
                &mut self.number_of_password_prompts,
                val.parse()
                    .map_err(|_| format!("command-line line 0: Bad number '{val}'."))?,
            ),
            "preferredauthentications" => set(&mut self.preferred_authentications, val.to_owned()),
            "loglevel" => set(
                &mut self.log_level,
                LogLevel::parse(val)
                    .ok_or_else(|| format!("command-line line 0: unsupported log level '{val}'"))?,
            ),
            "requesttty" => {
                let v = match val.to_ascii_lowercase().as_str() {
                    "no" => RequestTty::No,
                    "yes" => RequestTty::Yes,
                    "force" => RequestTty::Force,
                    "auto" => RequestTty::Auto,
                    _ => {
                        return Err(format!(
                            "command-line line 0: unsupported option \"{val}\"."
                        ));
                    }
                };
                set(&mut self.request_tty, v);
            }
            "hostkeyalias" => set(&mut self.host_key_alias, val.to_owned()),
            "escapechar" => set(&mut self.escape_char, val.to_owned()),
            "proxycommand" => set(&mut self.proxy_command, val.to_owned()),
            "addressfamily" => set(
                &mut self.address_family,
                match val {
                    "inet" => 4,
                    "inet6" => 6,
                    _ => 0,
                },
            ),
            "" => {}
            // Known keywords this client does not act on yet are accepted, as the config
            // crate will interpret them; nothing is silently run differently.
            _ => tracing::debug!("option {kw} not yet supported; ignored"),
        }
        Ok(())
    }
}

/// Read a config file the interim way: `Host` blocks matched against the destination
/// as typed, `Match` blocks skipped, every other line applied with first-value-wins.
/// (The full ssh_config semantics come with the `oxssh-config` crate.)
pub fn read_config_file(
    o: &mut Options,
    path: &std::path::Path,
    required: bool,
) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if required => {
            return Err(format!(
                "Can't open user config file {}: {}",
                path.display(),
                e.to_string().split(" (os error").next().unwrap_or("")
            ));
        }
        Err(_) => return Ok(()),
    };
    let host = o.destination.clone();
    let mut active = true;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (kw, rest) = t
            .split_once(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or((t, ""));
        match kw.to_ascii_lowercase().as_str() {
            "host" => {
                let mut m = false;
                for pat in rest.split_whitespace() {
                    match oxssh_keys::pattern::match_list(pat, &host, true) {
                        oxssh_keys::pattern::ListMatch::Negated => {
                            m = false;
                            break;
                        }
                        oxssh_keys::pattern::ListMatch::Match => m = true,
                        oxssh_keys::pattern::ListMatch::NoMatch => {}
                    }
                }
                active = m;
            }
            "match" => active = rest.trim().eq_ignore_ascii_case("all"),
            _ if active => o.apply_option(t)?,
            _ => {}
        }
    }
    Ok(())
}

/// Split `[user@]host[:port]` forms and `ssh://[user@]host[:port]`.
fn parse_destination(o: &mut Options, dest: &str) -> Result<(), String> {
    if let Some(rest) = dest.strip_prefix("ssh://") {
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or("ssh: invalid URI")?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if let Some(u) = user {
            set(&mut o.user, u.to_owned());
        }
        if let Some(p) = port {
            set(&mut o.port, parse_port(p)?);
        }
        o.destination = host.to_owned();
    } else if let Some((u, h)) = dest.rsplit_once('@') {
        set(&mut o.user, u.to_owned());
        o.destination = h.to_owned();
    } else {
        o.destination = dest.to_owned();
    }
    if o.destination.is_empty() {
        return Err(USAGE.to_owned());
    }
    Ok(())
}

pub fn parse(args: Vec<OsString>) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut g = Getopt::new(args, OPTSTRING);
    let mut have_dest = false;
    loop {
        while let Some(item) = g.next_opt() {
            let Item::Opt(c, arg) = item.map_err(|e| format!("ssh: {e}\n{USAGE}"))?;
            let a = arg
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match c {
                '4' => set(&mut o.address_family, 4),
                '6' => set(&mut o.address_family, 6),
                'V' => {
                    eprintln!("oxssh_{}, RustCrypto", env!("CARGO_PKG_VERSION"));
                    return Ok(Parsed::Exit(0));
                }
                'v' => o.verbose = o.verbose.saturating_add(1),
                'q' => o.quiet = true,
                'p' => set(&mut o.port, parse_port(&a)?),
                'l' => set(&mut o.user, a),
                'i' => o.identity_files.push(PathBuf::from(a)),
                'o' => o.apply_option(&a)?,
                'F' => set(&mut o.config_file, PathBuf::from(a)),
                'E' => set(&mut o.log_file, PathBuf::from(a)),
                'c' => set(&mut o.ciphers, a),
                'm' => set(&mut o.macs, a),
                't' => o.tty_flags = o.tty_flags.saturating_add(1),
                'T' => o.no_tty = true,
                'n' => o.stdin_null = true,
                'N' => o.no_command = true,
                's' => o.subsystem = true,
                'e' => set(&mut o.escape_char, a),
                // Accepted and not yet acted on: forwarding, multiplexing, GSSAPI, X11.
                _ => tracing::debug!("option -{c} not yet supported"),
            }
        }
        if have_dest {
            break;
        }
        let Some(dest) = g.remaining().first().cloned() else {
            return Err(USAGE.to_owned());
        };
        parse_destination(&mut o, &dest.to_string_lossy())?;
        have_dest = true;
        g.skip(1);
    }
    o.command = g
        .remaining()
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    Ok(Parsed::Run(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Options {
        match parse(args.iter().map(OsString::from).collect()).unwrap() {
            Parsed::Run(o) => o,
            Parsed::Exit(_) => panic!("exit"),
        }
    }

    #[test]
    fn options_after_destination_and_first_value_wins() {
        let o = p(&[
            "-p22",
            "alice@h",
            "-p",
            "23",
            "-oUser=bob",
            "ls",
            "-l",
            "x y",
        ]);
        assert_eq!(o.port, Some(22));
        assert_eq!(o.user.as_deref(), Some("alice"));
        assert_eq!(o.destination, "h");
        assert_eq!(o.command, ["ls", "-l", "x y"]);
    }

    #[test]
    fn uri_destination() {
        let o = p(&["ssh://carol@[::1]:2200"]);
        assert_eq!(
            (o.user.as_deref(), o.destination.as_str(), o.port),
            (Some("carol"), "::1", Some(2200))
        );
    }

    #[test]
    fn missing_destination_is_usage() {
        assert!(parse(vec![OsString::from("-v")]).is_err());
    }
}
