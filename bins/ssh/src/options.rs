//! ssh's command line, exactly as OpenSSH's getopt loop reads it: options before and
//! after the destination, the destination forms (`host`, `user@host`,
//! `ssh://user@host:port`), and the trailing command words joined with spaces. Every
//! configuration-affecting option becomes an `oxssh_config::CliArg` in argv order, so
//! first-value-wins and `-o` semantics are the config crate's, identical to `ssh -G`.

use std::ffi::OsString;
use std::path::PathBuf;

use oxssh_cli::getopt::{Getopt, Item};
use oxssh_config::{AddressFamily, CliArg, ClientOptions, parse_destination};

/// OpenSSH 9's ssh option string.
const OPTSTRING: &str = "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy";

pub const USAGE: &str = "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface]
           [-b bind_address] [-c cipher_spec] [-D [bind_address:]port]
           [-E log_file] [-e escape_char] [-F configfile] [-I pkcs11]
           [-i identity_file] [-J [user@]host[:port]] [-L address]
           [-l login_name] [-m mac_spec] [-O ctl_cmd] [-o option] [-p port]
           [-Q query_option] [-R address] [-S ctl_path] [-W host:port]
           [-w local_tun[:remote_tun]] destination [command [argument ...]]";

/// What the command line asks for.
pub enum Parsed {
    /// Connect (or, with `dump`, print the configuration as `-G`).
    Run(Box<Invocation>),
    /// `-Q what`.
    Query(String),
    /// `-V`.
    Version,
}

pub struct Invocation {
    pub opts: ClientOptions,
    /// `-G`: print the evaluated configuration and exit.
    pub dump: bool,
    /// `-E log_file`.
    pub log_file: Option<PathBuf>,
    /// Whether `-l` or `user@` named the remote user (which must then pass
    /// [`valid_ruser`] once the configuration is read).
    pub user_on_commandline: bool,
}

/// A destination host is refused when it holds shell metacharacters, whitespace or
/// control characters, or starts with `-` (OpenSSH's CVE-2023-51385 hardening).
pub fn valid_hostname(s: &str) -> bool {
    !s.starts_with('-')
        && !s
            .chars()
            .any(|c| "'`\"$\\;&<>|(){},".contains(c) || c.is_ascii_whitespace() || c.is_control())
}

/// A user name given on the command line is refused when it holds control characters
/// or shell metacharacters, has `-` after whitespace, or ends in a backslash.
pub fn valid_ruser(s: &str) -> bool {
    if s.starts_with('-') || s.ends_with('\\') {
        return false;
    }
    let b = s.as_bytes();
    !b.iter().enumerate().any(|(i, &c)| {
        c.is_ascii_control()
            || b"'`\";&<>|(){}".contains(&c)
            || (matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
                && b.get(i + 1) == Some(&b'-'))
    })
}

pub fn parse(args: Vec<OsString>) -> Result<Parsed, String> {
    let mut g = Getopt::new(args, OPTSTRING);
    let mut cli: Vec<CliArg> = Vec::new();
    let mut host: Option<String> = None;
    let mut config_file: Option<String> = None;
    let mut dump = false;
    let mut log_file = None;
    let mut query = None;
    let mut user_on_commandline = false;
    loop {
        while let Some(item) = g.next_opt() {
            let Item::Opt(c, arg) = item.map_err(|e| format!("{e}\r\n{USAGE}"))?;
            let a = arg
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let push = |cli: &mut Vec<CliArg>, x| cli.push(x);
            match c {
                '1' => return Err("SSH protocol v.1 is no longer supported\r".into()),
                '2' => {}
                '4' => push(&mut cli, CliArg::AddressFamily(AddressFamily::Inet)),
                '6' => push(&mut cli, CliArg::AddressFamily(AddressFamily::Inet6)),
                'A' => push(&mut cli, CliArg::ForwardAgent(true)),
                'a' => push(&mut cli, CliArg::ForwardAgent(false)),
                'X' => push(&mut cli, CliArg::ForwardX11(true)),
                'x' => push(&mut cli, CliArg::ForwardX11(false)),
                'Y' => push(&mut cli, CliArg::ForwardX11Trusted),
                'g' => push(&mut cli, CliArg::GatewayPorts),
                'C' => push(&mut cli, CliArg::Compression),
                'i' => push(&mut cli, CliArg::Identity(a)),
                'J' => push(&mut cli, CliArg::JumpHost(a)),
                'L' => push(&mut cli, CliArg::LocalForward(a)),
                'R' => push(&mut cli, CliArg::RemoteForward(a)),
                'D' => push(&mut cli, CliArg::DynamicForward(a)),
                'W' => push(&mut cli, CliArg::StdioForward(a)),
                'e' => push(&mut cli, CliArg::EscapeChar(a)),
                'c' => push(&mut cli, CliArg::Ciphers(a)),
                'm' => push(&mut cli, CliArg::Macs(a)),
                'b' => push(&mut cli, CliArg::BindAddress(a)),
                'B' => push(&mut cli, CliArg::BindInterface(a)),
                'S' => push(&mut cli, CliArg::ControlPath(a)),
                'M' => push(&mut cli, CliArg::ControlMaster),
                't' => push(&mut cli, CliArg::Tty),
                'T' => push(&mut cli, CliArg::NoTty),
                'N' => push(&mut cli, CliArg::NoSession),
                's' => push(&mut cli, CliArg::Subsystem),
                'n' => push(&mut cli, CliArg::StdinNull),
                'f' => push(&mut cli, CliArg::Fork),
                'q' => push(&mut cli, CliArg::Quiet),
                'v' => push(&mut cli, CliArg::Verbose),
                'w' => push(&mut cli, CliArg::Tunnel(a)),
                'K' => push(&mut cli, CliArg::GssapiAuthentication),
                'k' => push(&mut cli, CliArg::NoGssapiDelegation),
                'I' => push(&mut cli, CliArg::Pkcs11(a)),
                'o' => push(&mut cli, CliArg::Option(a)),
                'p' => push(&mut cli, CliArg::Port(a)),
                'l' => {
                    user_on_commandline = true;
                    push(&mut cli, CliArg::User(a))
                }
                'F' => config_file = Some(a),
                'G' => dump = true,
                'E' => log_file = Some(PathBuf::from(a)),
                // -y (syslog) is accepted; diagnostics go to stderr or -E.
                'y' => {}
                'Q' => query = Some(a),
                'V' => return Ok(Parsed::Version),
                // -O (control commands) and -P (tags) need multiplexing / OpenSSH 10.
                _ => {}
            }
        }
        if host.is_some() {
            break;
        }
        let Some(dest) = g.remaining().first().cloned() else {
            break;
        };
        let dest = dest.to_string_lossy().into_owned();
        let d = parse_destination(&dest).ok_or_else(|| USAGE.to_owned())?;
        user_on_commandline |= d.user.is_some();
        host = Some(d.host.clone());
        cli.push(CliArg::Destination(d));
        g.skip(1);
    }
    if let Some(q) = query {
        return Ok(Parsed::Query(q));
    }
    let Some(host) = host else {
        return Err(USAGE.to_owned());
    };
    if !valid_hostname(&host) {
        return Err("hostname contains invalid characters\r".into());
    }
    let words: Vec<String> = g
        .remaining()
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let mut opts = ClientOptions::new(host);
    opts.config_file = config_file;
    opts.args = cli;
    if !words.is_empty() {
        opts.command = Some(words.join(" "));
    }
    Ok(Parsed::Run(Box::new(Invocation {
        opts,
        dump,
        log_file,
        user_on_commandline,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(args: &[&str]) -> Invocation {
        match parse(args.iter().map(OsString::from).collect()).unwrap() {
            Parsed::Run(i) => *i,
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn options_after_destination_keep_argv_order() {
        let i = inv(&[
            "-p22",
            "alice@h",
            "-p",
            "23",
            "-oUser=bob",
            "ls",
            "-l",
            "x y",
        ]);
        assert_eq!(i.opts.host, "h");
        assert_eq!(i.opts.command.as_deref(), Some("ls -l x y"));
        assert_eq!(i.opts.args.first(), Some(&CliArg::Port("22".into())));
        assert_eq!(i.opts.args.get(2), Some(&CliArg::Port("23".into())));
    }

    #[test]
    fn missing_destination_is_usage_and_query_needs_none() {
        assert!(parse(vec![OsString::from("-v")]).is_err());
        assert!(matches!(
            parse(vec![OsString::from("-Qcipher")]),
            Ok(Parsed::Query(q)) if q == "cipher"
        ));
    }

    #[test]
    fn shell_and_control_characters_in_user_or_host_are_refused() {
        assert!(valid_ruser("alice") && valid_ruser("a b") && valid_ruser("a$b"));
        for bad in ["${FOO}", "x\u{7}y", "-x", "a -b", "a\\", "a;b"] {
            assert!(!valid_ruser(bad), "{bad:?}");
        }
        assert!(valid_hostname("host.example") && valid_hostname("[::1]"));
        for bad in ["a$b", "a,b", "a b", "x\u{7}y"] {
            assert!(!valid_hostname(bad), "{bad:?}");
        }
        let e = parse(vec![OsString::from("a,b")]).err().unwrap();
        assert_eq!(e, "hostname contains invalid characters\r");
    }

    #[test]
    fn bad_option_is_getopt_text_then_usage() {
        let e = parse(vec![OsString::from("-Z"), OsString::from("h")])
            .err()
            .unwrap();
        assert!(e.starts_with("unknown option -- Z\r\nusage: ssh"), "{e}");
    }
}
