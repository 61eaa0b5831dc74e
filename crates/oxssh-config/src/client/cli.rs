//! `ssh` command-line options that set configuration values, applied in argv
//! order exactly as OpenSSH's `main()` does (some only fill unset values, like
//! `-p` and `-l`; most overwrite), with OpenSSH's error messages.
//!
//! Argument splitting itself (getopt) belongs to the binary; this module only
//! knows what each option does to the configuration.

use std::path::Path;

use crate::error::{Diagnostic, Error, Level};
use crate::forward::parse_forward;
use crate::misc;
use crate::types::{AddressFamily, LogLevel};

use super::raw::Raw;
use super::read::{Reader, add_forward, add_identity_file, parse_jump};
use super::{ControlMaster, RequestTty, SessionType, TunnelMode};

/// One configuration-affecting `ssh` command-line option.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CliArg {
    /// `-o option`.
    Option(String),
    /// `-p port` (only if no port set yet).
    Port(String),
    /// `-l user` (only if no user set yet).
    User(String),
    /// User and port from the destination (`user@host`, `ssh://user@host:port`),
    /// applied where the destination appears among the options.
    Destination(Destination),
    /// `-4` / `-6`.
    AddressFamily(AddressFamily),
    /// `-A` (true) / `-a` (false).
    ForwardAgent(bool),
    /// `-X` (true) / `-x` (false).
    ForwardX11(bool),
    /// `-Y`.
    ForwardX11Trusted,
    /// `-g`.
    GatewayPorts,
    /// `-C`.
    Compression,
    /// `-i file`.
    Identity(String),
    /// `-J destination`.
    JumpHost(String),
    /// `-L spec`.
    LocalForward(String),
    /// `-R spec`.
    RemoteForward(String),
    /// `-D spec`.
    DynamicForward(String),
    /// `-W host:port`.
    StdioForward(String),
    /// `-e char`.
    EscapeChar(String),
    /// `-c ciphers`.
    Ciphers(String),
    /// `-m macs`.
    Macs(String),
    /// `-b address`.
    BindAddress(String),
    /// `-B interface`.
    BindInterface(String),
    /// `-S path`.
    ControlPath(String),
    /// `-M` (twice for `ask`).
    ControlMaster,
    /// `-t` (twice for `force`).
    Tty,
    /// `-T`.
    NoTty,
    /// `-N`.
    NoSession,
    /// `-s`.
    Subsystem,
    /// `-n`.
    StdinNull,
    /// `-f`.
    Fork,
    /// `-q`.
    Quiet,
    /// `-v` (repeatable).
    Verbose,
    /// `-w local[:remote]`.
    Tunnel(String),
    /// `-K`.
    GssapiAuthentication,
    /// `-k`.
    NoGssapiDelegation,
    /// `-I pkcs11`.
    Pkcs11(String),
}

/// The parts of a destination argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destination {
    /// User, if given.
    pub user: Option<String>,
    /// Host.
    pub host: String,
    /// Port (only from `ssh://` URIs).
    pub port: Option<i32>,
}

/// Split a destination as `ssh` does: `ssh://[user@]host[:port]` or
/// `[user@]host`. `None` when `ssh` would print its usage.
pub fn parse_destination(arg: &str) -> Option<Destination> {
    match misc::parse_uri("ssh", arg) {
        // ssh takes no path in an ssh:// URI (parse_ssh_uri): usage.
        misc::Uri::Invalid | misc::Uri::Ok(_, _, _, Some(_)) => None,
        misc::Uri::Ok(user, host, port, None) => Some(Destination {
            user,
            host,
            port: (port != -1).then_some(port),
        }),
        misc::Uri::NotUri => match arg.rfind('@') {
            Some(0) => None,
            Some(i) => Some(Destination {
                user: Some(arg.get(..i).unwrap_or("").to_owned()),
                host: arg.get(i + 1..).unwrap_or("").to_owned(),
                port: None,
            }),
            None => Some(Destination {
                user: None,
                host: arg.to_owned(),
                port: None,
            }),
        },
    }
}

fn fail(msg: String, log: &mut Vec<Diagnostic>) -> Error {
    Error::fatal(msg, std::mem::take(log))
}

/// Apply one command-line option.
pub(crate) fn apply(r: &mut Reader<'_>, o: &mut Raw, arg: &CliArg) -> Result<(), Error> {
    let env = |v: &str| r.ctx.env(v);
    match arg {
        CliArg::Option(line) => {
            let flags = super::read::Flags {
                userconf: true,
                ..Default::default()
            };
            let before = r.log.len();
            if !r.process_line(o, line, "command-line", 0, None, flags, 0)? {
                // OpenSSH has already printed the reason; it exits 255.
                let msg = r
                    .log
                    .get(before..)
                    .and_then(|l| l.last())
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                let mut log = std::mem::take(&mut r.log);
                log.pop();
                return Err(Error::Fatal {
                    file: Some("command-line".into()),
                    line: Some(0),
                    message: msg,
                    log,
                });
            }
        }
        CliArg::Port(p) => {
            if o.port.is_none() {
                let v = misc::a2port(p);
                if v <= 0 {
                    return Err(fail(format!("Bad port '{p}'"), &mut r.log));
                }
                o.port = Some(v);
            }
        }
        CliArg::User(u) => {
            if o.user.is_none() {
                o.user = Some(u.clone());
            }
        }
        CliArg::Destination(d) => {
            if o.user.is_none() {
                o.user.clone_from(&d.user);
            }
            if o.port.is_none() {
                if let Some(p) = d.port {
                    o.port = Some(p);
                }
            }
        }
        CliArg::AddressFamily(f) => o.address_family = Some(*f),
        CliArg::ForwardAgent(v) => o.forward_agent = Some(*v),
        CliArg::ForwardX11(v) => o.forward_x11 = Some(*v),
        CliArg::ForwardX11Trusted => {
            o.forward_x11 = Some(true);
            o.forward_x11_trusted = Some(true);
        }
        CliArg::GatewayPorts => o.gateway_ports = Some(true),
        CliArg::Compression => o.compression = Some(true),
        CliArg::Identity(path) => {
            let home = |u: Option<&str>| match u {
                None => Some(r.pw.home.clone()),
                Some(n) => r.ctx.home_dir(n),
            };
            let p = crate::expand::tilde_expand(path, &home).map_err(|e| fail(e, &mut r.log))?;
            match r.fs.metadata(Path::new(&p)) {
                Ok(_) => add_identity_file(o, p, true).map_err(|e| fail(e, &mut r.log))?,
                Err(e) => r.log.push(Diagnostic::new(
                    Level::Error,
                    format!(
                        "Warning: Identity file {p} not accessible: {}.",
                        crate::io_error_text(&e)
                    ),
                )),
            }
        }
        CliArg::JumpHost(j) => {
            if o.jump_host.is_some() {
                return Err(fail(
                    "Only a single -J option is permitted (use commas to separate multiple jump hops)".into(),
                    &mut r.log,
                ));
            }
            if o.proxy_command.is_some() {
                return Err(fail(
                    "Cannot specify -J with ProxyCommand".into(),
                    &mut r.log,
                ));
            }
            if let Err(msg) = parse_jump(j, o, true, true) {
                if let Some(m) = msg {
                    r.log.push(Diagnostic::new(Level::Error, m));
                }
                return Err(fail("Invalid -J argument".into(), &mut r.log));
            }
            o.proxy_command = Some("none".into());
        }
        CliArg::LocalForward(s) => match parse_forward(s, false, false, &env) {
            Some(f) => add_forward(&mut o.local_forwards, f),
            None => {
                return Err(fail(
                    format!("Bad local forwarding specification '{s}'"),
                    &mut r.log,
                ));
            }
        },
        CliArg::RemoteForward(s) => {
            match parse_forward(s, false, true, &env).or_else(|| parse_forward(s, true, true, &env))
            {
                Some(f) => add_forward(&mut o.remote_forwards, f),
                None => {
                    return Err(fail(
                        format!("Bad remote forwarding specification '{s}'"),
                        &mut r.log,
                    ));
                }
            }
        }
        CliArg::DynamicForward(s) => match parse_forward(s, true, false, &env) {
            Some(f) => add_forward(&mut o.local_forwards, f),
            None => {
                return Err(fail(
                    format!("Bad dynamic forwarding specification '{s}'"),
                    &mut r.log,
                ));
            }
        },
        CliArg::StdioForward(s) => {
            if o.stdio_forward_host.is_some() {
                return Err(fail("stdio forward already specified".into(), &mut r.log));
            }
            match parse_forward(s, true, false, &env) {
                Some(f) => {
                    o.stdio_forward_host = f.listen_host;
                    o.stdio_forward_port = f.listen_port;
                }
                None => {
                    return Err(fail(
                        format!("Bad stdio forwarding specification '{s}'"),
                        &mut r.log,
                    ));
                }
            }
            o.request_tty = Some(RequestTty::No);
            o.session_type = Some(SessionType::None);
        }
        CliArg::EscapeChar(e) => {
            let b = e.as_bytes();
            o.escape_char = Some(
                if b.len() == 2
                    && b.first() == Some(&b'^')
                    && b.get(1).is_some_and(|c| (64..128).contains(c))
                {
                    b.get(1).map(|c| c & 31)
                } else if b.len() == 1 {
                    b.first().copied()
                } else if e == "none" {
                    None
                } else {
                    return Err(fail(format!("Bad escape character '{e}'."), &mut r.log));
                },
            );
        }
        CliArg::Ciphers(c) => {
            let body = c.strip_prefix(['+', '^']).unwrap_or(c);
            if !r.profile.algorithms.ciphers_valid(body) {
                return Err(fail(format!("Unknown cipher type '{c}'"), &mut r.log));
            }
            o.ciphers = Some(c.clone());
        }
        CliArg::Macs(m) => {
            if !r.profile.algorithms.macs_valid(m) {
                return Err(fail(format!("Unknown mac type '{m}'"), &mut r.log));
            }
            o.macs = Some(m.clone());
        }
        CliArg::BindAddress(b) => o.bind_address = Some(b.clone()),
        CliArg::BindInterface(b) => o.bind_interface = Some(b.clone()),
        CliArg::ControlPath(p) => o.control_path = Some(p.clone()),
        CliArg::ControlMaster => {
            o.control_master = Some(if o.control_master == Some(ControlMaster::Yes) {
                ControlMaster::Ask
            } else {
                ControlMaster::Yes
            });
        }
        CliArg::Tty => {
            o.request_tty = Some(if o.request_tty == Some(RequestTty::Yes) {
                RequestTty::Force
            } else {
                RequestTty::Yes
            });
        }
        CliArg::NoTty => o.request_tty = Some(RequestTty::No),
        CliArg::NoSession => {
            if o.session_type.is_some_and(|s| s != SessionType::None) {
                return Err(fail(
                    "Cannot specify -N with -s/SessionType".into(),
                    &mut r.log,
                ));
            }
            o.session_type = Some(SessionType::None);
            o.request_tty = Some(RequestTty::No);
        }
        CliArg::Subsystem => {
            if o.session_type.is_some_and(|s| s != SessionType::Subsystem) {
                return Err(fail(
                    "Cannot specify -s with -N/SessionType".into(),
                    &mut r.log,
                ));
            }
            o.session_type = Some(SessionType::Subsystem);
        }
        CliArg::StdinNull => o.stdin_null = Some(true),
        CliArg::Fork => {
            o.fork_after_authentication = Some(true);
            o.stdin_null = Some(true);
        }
        CliArg::Quiet => o.log_level = Some(LogLevel::Quiet),
        CliArg::Verbose => {
            if o.debug_flag == 0 {
                o.debug_flag = 1;
                o.log_level = Some(LogLevel::Debug1);
            } else if let Some(l) = o.log_level.filter(|l| *l < LogLevel::Debug3) {
                o.debug_flag = o.debug_flag.saturating_add(1);
                o.log_level = Some(l.more_verbose());
            }
        }
        CliArg::Tunnel(t) => {
            if o.tun_open.is_none() {
                o.tun_open = Some(TunnelMode::PointToPoint);
            }
            let (l, rem) = misc::a2tun(t);
            if l == misc::SSH_TUNID_ERR {
                // OpenSSH prints this one with fprintf, not as a log line.
                return Err(Error::Usage {
                    message: format!("Bad tun device '{t}'"),
                    log: std::mem::take(&mut r.log),
                });
            }
            o.tun_device = Some((l, rem));
        }
        CliArg::GssapiAuthentication => {
            o.gss_authentication = Some(true);
            o.gss_deleg_creds = Some(true);
        }
        CliArg::NoGssapiDelegation => o.gss_deleg_creds = Some(false),
        CliArg::Pkcs11(p) => o.pkcs11_provider = Some(p.clone()),
    }
    Ok(())
}
