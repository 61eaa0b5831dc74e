//! Reading sshd_config: one function per line (OpenSSH's
//! `process_server_config_line_depth`), `Match` evaluation, `Include` with its
//! cache, the queued `ListenAddress` processing, `fill_default_server_options`
//! and the second pass (`parse_server_match_config` + `copy_set_server_options`).
//!
//! OpenSSH's sshd treats most problems as fatal at once; some (unknown
//! keywords, bad `LogVerbose`, …) are counted and reported at the end of the
//! file as `terminating, N bad configuration options`. Both behaviours and all
//! messages are reproduced.

use std::net::IpAddr;
use std::path::Path;

use crate::algs;
use crate::error::{Diagnostic, Error, Level};
use crate::fs::Fs;
use crate::lex::{argv_split, split_keyword, strdelim};
use crate::misc::{self, trunc};
use crate::pattern::{addr_match_list, match_hostname, match_pattern_list, validate_user_pattern};
use crate::profile::Profile;
use crate::types::{
    ADDRESS_FAMILY, FingerprintHash, IpQos, LogLevel, RekeyLimit, SyslogFacility, multistate_parse,
};

use super::keywords::{self, Op};
use super::raw::{QueuedListen, SRaw};
use super::{
    AllowForwarding, Compression, ConnSpec, GatewayPorts, IgnoreRhosts, IncludeItem, ListenAddress,
    PermitRootLogin, PermitTunnel, ServerCliArg, ServerConfig, ServerContext, ServerOptions,
    Subsystem,
};

const MAX_DEPTH: u32 = 16;
const MAX_PORTS: usize = 256;
const MAX_SUBSYSTEMS: usize = 256;
const MAX_FILES: usize = 1024;
const MAX_LIST: usize = 100_000;

pub(crate) const FLAG: &[(&str, bool)] = &[("yes", true), ("no", false)];
pub(crate) const IGNORE_RHOSTS: &[(&str, IgnoreRhosts)] = &[
    ("yes", IgnoreRhosts::Yes),
    ("no", IgnoreRhosts::No),
    ("shosts-only", IgnoreRhosts::ShostsOnly),
];
pub(crate) const PERMIT_ROOT_LOGIN: &[(&str, PermitRootLogin)] = &[
    ("without-password", PermitRootLogin::ProhibitPassword),
    ("prohibit-password", PermitRootLogin::ProhibitPassword),
    ("forced-commands-only", PermitRootLogin::ForcedCommandsOnly),
    ("yes", PermitRootLogin::Yes),
    ("no", PermitRootLogin::No),
];
pub(crate) const COMPRESSION: &[(&str, Compression)] = &[
    ("yes", Compression::Delayed),
    ("delayed", Compression::Delayed),
    ("no", Compression::No),
];
pub(crate) const GATEWAY_PORTS: &[(&str, GatewayPorts)] = &[
    ("clientspecified", GatewayPorts::ClientSpecified),
    ("yes", GatewayPorts::Yes),
    ("no", GatewayPorts::No),
];
pub(crate) const TCPFWD: &[(&str, AllowForwarding)] = &[
    ("yes", AllowForwarding::All),
    ("all", AllowForwarding::All),
    ("no", AllowForwarding::No),
    ("remote", AllowForwarding::Remote),
    ("local", AllowForwarding::Local),
];
pub(crate) const TUNMODE: &[(&str, PermitTunnel)] = &[
    ("no", PermitTunnel::No),
    ("point-to-point", PermitTunnel::PointToPoint),
    ("ethernet", PermitTunnel::Ethernet),
    ("yes", PermitTunnel::Yes),
];

/// Flags of one file being parsed (`SSHCFG_NEVERMATCH`, `SSHCFG_MATCH_ONLY`).
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    nevermatch: bool,
    match_only: bool,
}

struct Reader<'a> {
    fs: &'a dyn Fs,
    ctx: &'a dyn ServerContext,
    profile: &'a Profile,
    /// `None` in the first pass.
    conn: Option<&'a ConnSpec>,
    includes: Vec<IncludeItem>,
    log: Vec<Diagnostic>,
    files: usize,
    bytes: usize,
    lines: usize,
}

type LineResult = Result<bool, Error>;

fn set<T>(field: &mut Option<T>, active: bool, v: T) {
    if active && field.is_none() {
        *field = Some(v);
    }
}

/// Split a file the way `load_server_config` keeps it: leading blanks of each
/// line removed, newlines preserved.
pub(crate) fn load_text(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut out = String::with_capacity(text.len());
    for piece in text.split_inclusive('\n') {
        let piece = piece.trim_start_matches([' ', '\t', '\r']);
        // Each line is copied with strlen(): a NUL ends it, newline included.
        match piece.find('\0') {
            Some(i) => out.push_str(piece.get(..i).unwrap_or("")),
            None => out.push_str(piece),
        }
    }
    out
}

/// `auth2_methods_valid`: `Err(message)` for the first unknown or (with
/// `need_enable`) disabled method.
fn auth_methods_valid(list: &str, enabled: Option<&dyn Fn(&str) -> bool>) -> Result<(), String> {
    const METHODS: &[&str] = &[
        "none",
        "publickey",
        "gssapi-keyex",
        "gssapi-with-mic",
        "password",
        "keyboard-interactive",
        "hostbased",
    ];
    if list.is_empty() {
        return Err("empty authentication method list".to_owned());
    }
    for m in list.split(',') {
        let name = m.split(':').next().unwrap_or("");
        if !METHODS.contains(&name) {
            return Err(format!("Unknown authentication method \"{name}\" in list"));
        }
        if let Some(en) = enabled {
            if !en(name) {
                return Err(format!(
                    "Disabled method \"{name}\" in AuthenticationMethods list \"{list}\""
                ));
            }
        }
    }
    Ok(())
}

impl Reader<'_> {
    fn fatal(&mut self, msg: String) -> Error {
        Error::fatal(msg, std::mem::take(&mut self.log))
    }

    fn error(&mut self, msg: String) -> LineResult {
        self.log.push(Diagnostic::new(Level::Error, msg));
        Ok(false)
    }

    fn home(&self, user: Option<&str>) -> Option<String> {
        self.ctx.home_dir(user)
    }

    fn tilde(&mut self, path: &str) -> Result<String, Error> {
        let home = |u: Option<&str>| self.home(u);
        crate::expand::tilde_expand(path, &home)
            .map_err(|e| Error::fatal(e, std::mem::take(&mut self.log)))
    }

    /// `derelativise_path`.
    fn derelativise(&mut self, path: &str) -> Result<String, Error> {
        if path.eq_ignore_ascii_case("none") {
            return Ok("none".to_owned());
        }
        let e = self.tilde(path)?;
        if e.starts_with('/') {
            return Ok(e);
        }
        Ok(format!("{}/{}", self.ctx.cwd(), e))
    }

    /// Parse a whole buffer (`parse_server_config_depth`).
    fn parse(
        &mut self,
        o: &mut SRaw,
        filename: &str,
        text: &str,
        mut flags: Flags,
        active: &mut bool,
        depth: u32,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.fatal("Too many recursive configuration includes".to_owned()));
        }
        if text.contains('\0') {
            self.log.push(Diagnostic::new(
                Level::Error,
                "sshbuf_dup_string: string contains \\0",
            ));
            return Err(
                self.fatal("parse_server_config_depth: sshbuf_dup_string failed".to_owned())
            );
        }
        let mut bad = 0usize;
        for (i, line) in text.split('\n').enumerate() {
            let linenum = u32::try_from(i + 1).unwrap_or(u32::MAX);
            self.lines += 1;
            if self.lines > crate::MAX_TOTAL_LINES {
                return Err(self.fatal(format!("{filename}: too many configuration lines")));
            }
            if !self.process_line(
                o,
                line,
                filename,
                linenum,
                Some(&mut *active),
                &mut flags,
                depth,
            )? {
                bad += 1;
            }
        }
        if bad > 0 {
            return Err(Error::BadOptions {
                file: filename.to_owned(),
                count: bad,
                log: std::mem::take(&mut self.log),
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn process_line(
        &mut self,
        o: &mut SRaw,
        raw_line: &str,
        filename: &str,
        linenum: u32,
        active: Option<&mut bool>,
        inc_flags: &mut Flags,
        depth: u32,
    ) -> LineResult {
        let line = crate::lex::clean_line(raw_line);
        if line.is_empty() {
            return Ok(true);
        }
        let split = match split_keyword(line) {
            Ok(None) => return Ok(true),
            Ok(Some(s)) => s,
            Err(kw) => {
                return self.error(format!(
                    "{filename} line {linenum}: no argument after keyword \"{kw}\""
                ));
            }
        };
        let keyword = split.keyword;
        let str_rest = split.rest;
        let looked = keywords::lookup(&keyword, self.profile.v10());
        if looked.is_none() {
            self.log.push(Diagnostic::at(
                Level::Error,
                filename,
                linenum,
                format!("{filename}: line {linenum}: Bad configuration option: {keyword}"),
            ));
        }
        let Ok(av) = argv_split(str_rest, true) else {
            return self.error(format!("{filename} line {linenum}: invalid quotes"));
        };
        let mut args = av.into_iter();
        let mut cmdline_active = true;
        let cmdline = active.is_none();
        let activep: &mut bool = match active {
            Some(a) => a,
            None => &mut cmdline_active,
        };
        let (op, in_match) = match looked {
            Some((op, m)) => (Some(op), m),
            None => (None, false),
        };
        if !*activep && !in_match {
            if self.conn.is_none() {
                return Err(self.fatal(format!(
                    "{filename} line {linenum}: Directive '{keyword}' is not allowed within a Match block"
                )));
            }
            return Ok(true);
        }
        let Some(op) = op else { return Ok(false) };
        let active = *activep;

        macro_rules! fatal {
            ($($t:tt)*) => { return Err(self.fatal(format!($($t)*))) };
        }
        macro_rules! bad {
            ($($t:tt)*) => { return self.error(format!($($t)*)) };
        }
        macro_rules! multistate {
            ($field:expr, $table:expr) => {{
                let a = args.next().filter(|a| !a.is_empty());
                let Some(a) = a else {
                    fatal!("{filename} line {linenum}: missing argument.")
                };
                match multistate_parse($table, &a) {
                    Some(v) => set(&mut $field, active, v),
                    None => fatal!("{filename} line {linenum}: unsupported option \"{a}\"."),
                }
            }};
        }
        macro_rules! flag {
            ($field:expr) => {
                multistate!($field, FLAG)
            };
        }
        macro_rules! time {
            ($field:expr) => {{
                let a = args.next().filter(|a| !a.is_empty());
                let Some(a) = a else {
                    fatal!("{filename} line {linenum}: missing time value.")
                };
                match misc::convtime(&a) {
                    Some(v) => set(&mut $field, active, v as i32),
                    None => fatal!("{filename} line {linenum}: invalid time value."),
                }
            }};
        }
        macro_rules! int {
            ($field:expr) => {{
                let a = args.next();
                match misc::atoi_err(a.as_deref()) {
                    Ok(v) => set(&mut $field, active, v),
                    Err(e) => fatal!("{filename} line {linenum}: {keyword} integer value {e}."),
                }
            }};
        }
        macro_rules! filename_opt {
            ($field:expr) => {{
                let a = args.next().filter(|a| !a.is_empty());
                let Some(a) = a else {
                    fatal!("{filename} line {linenum}: missing file name.")
                };
                if active && $field.is_none() {
                    $field = Some(self.derelativise(&a)?);
                }
            }};
        }
        macro_rules! pubkey_algos {
            ($field:expr) => {{
                let a = args.next().filter(|a| !a.is_empty());
                let Some(a) = a else {
                    fatal!("{filename} line {linenum}: Missing argument.")
                };
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.key_names_valid(body) {
                    fatal!("{filename} line {linenum}: Bad key types '{a}'.");
                }
                set(&mut $field, active, a);
            }};
        }
        macro_rules! missing_arg {
            () => {{
                match args.next().filter(|a| !a.is_empty()) {
                    Some(a) => a,
                    None => fatal!("{filename} line {linenum}: {keyword} missing argument."),
                }
            }};
        }
        macro_rules! command {
            ($field:expr) => {{
                let rest = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if !rest.starts_with('/') && !rest.eq_ignore_ascii_case("none") {
                    fatal!("{filename} line {linenum}: {keyword} must be an absolute path");
                }
                // OpenSSH checks the AuthorizedKeysCommand field here (a bug kept for fidelity).
                if active && o.authorized_keys_command.is_none() {
                    $field = Some(rest.to_owned());
                }
                args = Vec::new().into_iter();
            }};
        }
        macro_rules! localuser {
            ($field:expr) => {{
                let a = match args.next().filter(|a| !a.is_empty()) {
                    Some(a) => a,
                    None => fatal!("{filename} line {linenum}: missing {keyword} argument."),
                };
                set(&mut $field, active, a);
            }};
        }

        match op {
            Op::UsePam => flag!(o.use_pam),
            Op::Port => {
                if o.ports_from_cmdline {
                    args = Vec::new().into_iter();
                } else {
                    if o.ports.len() >= MAX_PORTS {
                        fatal!("{filename} line {linenum}: too many ports.");
                    }
                    let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                        fatal!("{filename} line {linenum}: missing port number.")
                    };
                    let p = misc::a2port(&a);
                    if p <= 0 {
                        fatal!("{filename} line {linenum}: Badly formatted port number.");
                    }
                    o.ports.push(p as u16);
                }
            }
            Op::LoginGraceTime => time!(o.login_grace_time),
            Op::ListenAddress => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{filename} line {linenum}: missing address")
                };
                let (host, port) = match a.find(':') {
                    Some(i)
                        if !a.contains('[') && a.get(i + 1..).is_some_and(|r| r.contains(':')) =>
                    {
                        (a.clone(), 0)
                    }
                    _ => {
                        let Some((h, p)) = misc::hpdelim(&a) else {
                            fatal!("{filename} line {linenum}: bad address:port usage")
                        };
                        let h = misc::cleanhostname(h).to_owned();
                        let port = match p {
                            None => 0,
                            Some(p) => {
                                let v = misc::a2port(p);
                                if v <= 0 {
                                    fatal!("{filename} line {linenum}: bad port number");
                                }
                                v
                            }
                        };
                        (h, port)
                    }
                };
                let mut rdomain = None;
                if let Some(kw) = args.next() {
                    let r = args.next();
                    if kw != "rdomain" || r.is_none() {
                        fatal!("{filename} line {linenum}: bad ListenAddress syntax");
                    }
                    // Linux checks for a VRF device of that name; none is assumed.
                    let _ = r.map(|x| rdomain = Some(x));
                    fatal!("{filename} line {linenum}: bad routing domain");
                }
                o.queued_listens.push(QueuedListen {
                    addr: host,
                    port: port as u16,
                    rdomain,
                });
            }
            Op::AddressFamily => multistate!(o.address_family, ADDRESS_FAMILY),
            Op::HostKeyFile => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{filename} line {linenum}: missing file name.")
                };
                if active {
                    let p = self.derelativise(&a)?;
                    if o.host_key_files.len() < MAX_LIST {
                        o.host_key_files.push((p, true));
                    }
                }
            }
            Op::HostKeyAgent => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{filename} line {linenum}: missing socket name.")
                };
                if active && o.host_key_agent.is_none() {
                    o.host_key_agent = Some(if a == "SSH_AUTH_SOCK" {
                        a
                    } else {
                        self.derelativise(&a)?
                    });
                }
            }
            Op::HostCertificate => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{filename} line {linenum}: missing file name.")
                };
                if active {
                    let p = self.derelativise(&a)?;
                    if o.host_cert_files.len() < MAX_LIST {
                        o.host_cert_files.push(p);
                    }
                }
            }
            Op::PidFile => filename_opt!(o.pid_file),
            Op::ModuliFile => filename_opt!(o.moduli_file),
            Op::PermitRootLogin => multistate!(o.permit_root_login, PERMIT_ROOT_LOGIN),
            Op::IgnoreRhosts => multistate!(o.ignore_rhosts, IGNORE_RHOSTS),
            Op::IgnoreUserKnownHosts => flag!(o.ignore_user_known_hosts),
            Op::HostbasedAuthentication => flag!(o.hostbased_authentication),
            Op::HostbasedUsesNameFromPacketOnly => flag!(o.hostbased_uses_name_from_packet_only),
            Op::HostbasedAcceptedAlgorithms => pubkey_algos!(o.hostbased_accepted_algos),
            Op::HostKeyAlgorithms => pubkey_algos!(o.hostkeyalgorithms),
            Op::CaSignatureAlgorithms => pubkey_algos!(o.ca_sign_algorithms),
            Op::PubkeyAuthentication => flag!(o.pubkey_authentication),
            Op::PubkeyAcceptedAlgorithms => pubkey_algos!(o.pubkey_accepted_algos),
            Op::PubkeyAuthOptions => {
                let mut value = 0u32;
                for a in args.by_ref() {
                    if a.eq_ignore_ascii_case("none") {
                        continue;
                    }
                    if a.eq_ignore_ascii_case("touch-required") {
                        value |= 1;
                    } else if a.eq_ignore_ascii_case("verify-required") {
                        value |= 2;
                    } else {
                        bad!("{filename} line {linenum}: unsupported {keyword} option {a}");
                    }
                }
                set(&mut o.pubkey_auth_options, active, value);
            }
            Op::KerberosAuthentication => flag!(o.kerberos_authentication),
            Op::KerberosOrLocalPasswd => flag!(o.kerberos_or_local_passwd),
            Op::KerberosTicketCleanup => flag!(o.kerberos_ticket_cleanup),
            Op::GssAuthentication => flag!(o.gss_authentication),
            Op::GssKeyEx => flag!(o.gss_keyex),
            Op::GssCleanupCreds => flag!(o.gss_cleanup_creds),
            Op::GssStrictAcceptor => flag!(o.gss_strict_acceptor),
            Op::GssStoreRekey => flag!(o.gss_store_rekey),
            Op::GssKexAlgorithms => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{} line {linenum}: Missing argument.", trunc(filename, 200))
                };
                if let Err(name) = self.profile.algorithms.kex_check(&a, true) {
                    if let Some(n) = name {
                        self.log.push(Diagnostic::new(
                            Level::Error,
                            format!("Unsupported KEX algorithm \"{n}\""),
                        ));
                    }
                    fatal!(
                        "{} line {linenum}: Bad GSSAPI KexAlgorithms '{a}'.",
                        trunc(filename, 200)
                    );
                }
                set(&mut o.gss_kex_algorithms, active, a);
            }
            Op::PasswordAuthentication => flag!(o.password_authentication),
            Op::KbdInteractiveAuthentication => flag!(o.kbd_interactive_authentication),
            Op::PrintMotd => flag!(o.print_motd),
            Op::PrintLastLog => flag!(o.print_lastlog),
            Op::X11Forwarding => flag!(o.x11_forwarding),
            Op::X11DisplayOffset => int!(o.x11_display_offset),
            Op::X11UseLocalhost => flag!(o.x11_use_localhost),
            Op::XAuthLocation => filename_opt!(o.xauth_location),
            Op::PermitTty => flag!(o.permit_tty),
            Op::PermitUserRc => flag!(o.permit_user_rc),
            Op::StrictModes => flag!(o.strict_modes),
            Op::TcpKeepAlive => flag!(o.tcp_keep_alive),
            Op::EmptyPasswd => flag!(o.permit_empty_passwd),
            Op::PermitUserEnvironment => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    fatal!("{filename} line {linenum}: {keyword} missing argument.")
                };
                let (v, list) = if a == "yes" {
                    (true, None)
                } else if a == "no" {
                    (false, None)
                } else {
                    (true, Some(a))
                };
                if active && o.permit_user_env.is_none() {
                    o.permit_user_env = Some(v);
                    o.permit_user_env_allowlist = list;
                }
            }
            Op::Compression => multistate!(o.compression, COMPRESSION),
            Op::RekeyLimit => {
                let a = missing_arg!();
                let v = if a == "default" {
                    0
                } else {
                    match misc::scan_scaled(&a) {
                        Err(e) => fatal!(
                            "{} line {linenum}: Bad {keyword} number '{a}': {e}",
                            trunc(filename, 200)
                        ),
                        Ok(v) if v != 0 && v < 16 => fatal!(
                            "{} line {linenum}: {keyword} too small",
                            trunc(filename, 200)
                        ),
                        Ok(v) => v,
                    }
                };
                set(&mut o.rekey_limit, active, v);
                let rest: Vec<String> = args.by_ref().collect();
                let mut it = rest.into_iter();
                match it.next() {
                    None => {}
                    Some(n) if n == "none" => {}
                    Some(t) => match misc::convtime(&t) {
                        Some(v) => set(&mut o.rekey_interval, active, v as i32),
                        None => fatal!("{filename} line {linenum}: invalid time value."),
                    },
                }
                args = it.collect::<Vec<_>>().into_iter();
            }
            Op::GatewayPorts => multistate!(o.gateway_ports, GATEWAY_PORTS),
            Op::UseDns => flag!(o.use_dns),
            Op::LogFacility => {
                let a = args.next();
                match a.as_deref().and_then(SyslogFacility::parse) {
                    Some(v) => set(&mut o.log_facility, true, v),
                    None => fatal!(
                        "{} line {linenum}: unsupported log facility '{}'",
                        trunc(filename, 200),
                        a.as_deref().unwrap_or("<NONE>")
                    ),
                }
            }
            Op::LogLevel => {
                let a = args.next();
                match a.as_deref().and_then(LogLevel::parse) {
                    Some(v) => set(&mut o.log_level, active, v),
                    None => fatal!(
                        "{} line {linenum}: unsupported log level '{}'",
                        trunc(filename, 200),
                        a.as_deref().unwrap_or("<NONE>")
                    ),
                }
            }
            Op::LogVerbose => {
                let found = o.log_verbose.is_empty();
                let all: Vec<String> = args.by_ref().collect();
                let n = all.len();
                for (i, a) in all.into_iter().enumerate() {
                    if a.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    if a.eq_ignore_ascii_case("none") && (i > 0 || i + 1 < n) {
                        bad!(
                            "{filename} line {linenum}: keyword {keyword} \"none\" argument must appear alone."
                        );
                    }
                    if found && active && o.log_verbose.len() < MAX_LIST {
                        o.log_verbose.push(a);
                    }
                }
            }
            Op::AllowTcpForwarding => multistate!(o.allow_tcp_forwarding, TCPFWD),
            Op::AllowStreamLocalForwarding => multistate!(o.allow_streamlocal_forwarding, TCPFWD),
            Op::AllowAgentForwarding => flag!(o.allow_agent_forwarding),
            Op::DisableForwarding => flag!(o.disable_forwarding),
            Op::AllowUsers | Op::DenyUsers => {
                for a in args.by_ref() {
                    if a.is_empty() || !validate_user_pattern(&a) {
                        fatal!("{filename} line {linenum}: invalid {keyword} pattern: \"{a}\"");
                    }
                    if !active {
                        continue;
                    }
                    let list = if op == Op::AllowUsers {
                        &mut o.allow_users
                    } else {
                        &mut o.deny_users
                    };
                    if list.len() < MAX_LIST {
                        list.push(a);
                    }
                }
            }
            Op::AllowGroups | Op::DenyGroups => {
                for a in args.by_ref() {
                    if a.is_empty() {
                        fatal!("{filename} line {linenum}: empty {keyword} pattern");
                    }
                    if !active {
                        continue;
                    }
                    let list = if op == Op::AllowGroups {
                        &mut o.allow_groups
                    } else {
                        &mut o.deny_groups
                    };
                    if list.len() < MAX_LIST {
                        list.push(a);
                    }
                }
            }
            Op::Ciphers => {
                let a = missing_arg!();
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.ciphers_valid(body) {
                    fatal!("{filename} line {linenum}: Bad SSH2 cipher spec '{a}'.");
                }
                if o.ciphers.is_none() {
                    o.ciphers = Some(a);
                }
            }
            Op::Macs => {
                let a = missing_arg!();
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.macs_valid(body) {
                    fatal!("{filename} line {linenum}: Bad SSH2 mac spec '{a}'.");
                }
                if o.macs.is_none() {
                    o.macs = Some(a);
                }
            }
            Op::KexAlgorithms => {
                let a = missing_arg!();
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') {
                    if let Err(name) = self.profile.algorithms.kex_check(body, false) {
                        if let Some(n) = name {
                            self.log.push(Diagnostic::new(
                                Level::Error,
                                format!("Unsupported KEX algorithm \"{n}\""),
                            ));
                        }
                        fatal!("{filename} line {linenum}: Bad SSH2 KexAlgorithms '{a}'.");
                    }
                }
                if o.kex_algorithms.is_none() {
                    o.kex_algorithms = Some(a);
                }
            }
            Op::Subsystem => {
                if o.subsystems.len() >= MAX_SUBSYSTEMS {
                    fatal!("{filename} line {linenum}: too many subsystems defined.");
                }
                let name = missing_arg!();
                if !active {
                    let _ = args.next();
                } else {
                    if o.subsystems.iter().any(|s| s.name == name) {
                        fatal!("{filename} line {linenum}: Subsystem '{name}' already defined.");
                    }
                    let Some(cmd) = args.next().filter(|a| !a.is_empty()) else {
                        fatal!("{filename} line {linenum}: Missing subsystem command.")
                    };
                    let mut full = cmd.clone();
                    for a in args.by_ref() {
                        full.push(' ');
                        full.push_str(&a);
                    }
                    o.subsystems.push(Subsystem {
                        name,
                        command: cmd,
                        args: full,
                    });
                }
            }
            Op::MaxStartups => {
                let a = missing_arg!();
                let parts = scanf_ints(&a, 3);
                let rate = o.max_startups.map_or(-1, |m| m.1);
                let v = match *parts.as_slice() {
                    [b, r, f] => {
                        if b > f || !(1..=100).contains(&r) {
                            fatal!("{filename} line {linenum}: Invalid {keyword} spec.");
                        }
                        (b, r, f)
                    }
                    [b] => (b, rate, b),
                    _ => fatal!("{filename} line {linenum}: Invalid {keyword} spec."),
                };
                if v.2 <= 0 || v.0 <= 0 {
                    fatal!("{filename} line {linenum}: Invalid {keyword} spec.");
                }
                o.max_startups = Some(v);
            }
            Op::PerSourceNetBlockSize => {
                let a = missing_arg!();
                let parts = scanf_ints(&a, 2);
                let mut ok = !parts.is_empty();
                let v4 = parts.first().copied().unwrap_or(0);
                // With one number OpenSSH stores an uninitialised value for
                // IPv6; in practice it is 0.
                let v6 = parts.get(1).copied().unwrap_or(0);
                if parts.len() == 2 && !(0..=128).contains(&v6) {
                    ok = false;
                }
                if !(0..=32).contains(&v4) {
                    ok = false;
                }
                if !ok {
                    fatal!("{filename} line {linenum}: Invalid {keyword} spec.");
                }
                if active {
                    o.per_source_masklen = Some((v4, v6));
                }
            }
            Op::PerSourceMaxStartups => {
                let a = missing_arg!();
                let v = if a == "none" {
                    i32::MAX
                } else {
                    match misc::atoi_err(Some(&a)) {
                        Ok(v) => v,
                        Err(e) => fatal!("{filename} line {linenum}: {keyword} integer value {e}."),
                    }
                };
                if active {
                    o.per_source_max_startups = Some(v);
                }
            }
            Op::MaxAuthTries => int!(o.max_authtries),
            Op::MaxSessions => int!(o.max_sessions),
            Op::Banner => filename_opt!(o.banner),
            Op::AuthorizedKeysFile => {
                let was_empty = o.authorized_keys_files.is_empty();
                for a in args.by_ref() {
                    if a.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    let p = self.tilde(&a)?;
                    if active && was_empty && o.authorized_keys_files.len() < MAX_LIST {
                        o.authorized_keys_files.push(p);
                    }
                }
            }
            Op::AuthorizedPrincipalsFile => {
                let a = missing_arg!();
                if active && o.authorized_principals_file.is_none() {
                    o.authorized_principals_file = Some(self.tilde(&a)?);
                }
            }
            Op::ClientAliveInterval => time!(o.client_alive_interval),
            Op::ClientAliveCountMax => int!(o.client_alive_count_max),
            Op::AcceptEnv => {
                for a in args.by_ref() {
                    if a.is_empty() || a.contains('=') {
                        fatal!("{filename} line {linenum}: Invalid environment name.");
                    }
                    if active && o.accept_env.len() < MAX_LIST {
                        o.accept_env.push(a);
                    }
                }
            }
            Op::SetEnv => {
                let was_empty = o.setenv.is_empty();
                for a in args.by_ref() {
                    let Some((name, _)) = a.split_once('=') else {
                        fatal!("{filename} line {linenum}: Invalid environment.");
                    };
                    if !active || !was_empty {
                        continue;
                    }
                    if o.setenv
                        .iter()
                        .any(|e| e.split_once('=').is_some_and(|(n, _)| n == name))
                    {
                        continue;
                    }
                    if o.setenv.len() < MAX_LIST {
                        o.setenv.push(a);
                    }
                }
            }
            Op::PermitTunnel => {
                let a = missing_arg!();
                match TUNMODE.iter().find(|(n, _)| *n == a) {
                    Some((_, v)) => set(&mut o.permit_tun, active, *v),
                    None => fatal!("{filename} line {linenum}: bad {keyword} argument {a}"),
                }
            }
            Op::Include => {
                if cmdline {
                    fatal!("Include directive not supported as a command-line option");
                }
                let mut count = 0;
                let all: Vec<String> = args.by_ref().collect();
                for arg2 in all {
                    if arg2.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    count += 1;
                    let sel = if !arg2.starts_with('/') && !arg2.starts_with('~') {
                        format!("/etc/ssh/{arg2}")
                    } else {
                        arg2
                    };
                    let oactive = *activep;
                    let sub = if inc_flags.match_only {
                        Flags {
                            match_only: true,
                            nevermatch: false,
                        }
                    } else {
                        Flags {
                            match_only: false,
                            nevermatch: !oactive,
                        }
                    };
                    let cached: Vec<IncludeItem> = self
                        .includes
                        .iter()
                        .filter(|i| i.selector == sel)
                        .cloned()
                        .collect();
                    if !cached.is_empty() {
                        for item in cached {
                            if let Some(f) = &item.filename {
                                self.parse(o, f, &item.contents, sub, activep, depth + 1)?;
                            }
                            *activep = oactive;
                        }
                        continue;
                    }
                    let paths = match self.fs.glob(&sel) {
                        Ok(p) => p,
                        Err(_) => {
                            fatal!("{filename} line {linenum}: include \"{sel}\" glob failed")
                        }
                    };
                    if paths.is_empty() {
                        self.includes.push(IncludeItem {
                            selector: sel.clone(),
                            filename: None,
                            contents: String::new(),
                        });
                    }
                    for p in paths {
                        let p = p.to_string_lossy().into_owned();
                        self.files += 1;
                        if self.files > MAX_FILES {
                            fatal!("{p}: too many configuration files");
                        }
                        let data = match self.fs.read(Path::new(&p)) {
                            Ok(d) => d,
                            Err(e) => {
                                return Err(Error::Io {
                                    path: p.clone().into(),
                                    message: format!("{p}: {}", crate::io_error_text(&e)),
                                    log: std::mem::take(&mut self.log),
                                    source: e,
                                });
                            }
                        };
                        self.bytes = self.bytes.saturating_add(data.len());
                        if self.bytes > crate::MAX_TOTAL_BYTES {
                            fatal!("{p}: configuration too large");
                        }
                        let contents = load_text(&data);
                        self.parse(o, &p, &contents, sub, activep, depth + 1)?;
                        *activep = oactive;
                        self.includes.push(IncludeItem {
                            selector: sel.clone(),
                            filename: Some(p),
                            contents,
                        });
                    }
                }
                if count == 0 {
                    fatal!("{filename} line {linenum}: {keyword} missing filename argument");
                }
            }
            Op::Match => {
                if cmdline {
                    fatal!("Match directive not supported as a command-line option");
                }
                let mut cond = Some(str_rest);
                let ci = if inc_flags.nevermatch {
                    None
                } else {
                    self.conn
                };
                let value = self.match_cfg_line(&mut cond, linenum, ci)?;
                if value < 0 {
                    fatal!("{filename} line {linenum}: Bad Match condition");
                }
                *activep = if inc_flags.nevermatch {
                    false
                } else {
                    value == 1
                };
                inc_flags.match_only = false;
                if cond.is_none_or(str::is_empty) {
                    args = Vec::new().into_iter();
                }
            }
            Op::PermitOpen | Op::PermitListen => {
                let a = missing_arg!();
                let list_empty = if op == Op::PermitListen {
                    o.permitted_listens.is_empty()
                } else {
                    o.permitted_opens.is_empty()
                };
                if a == "any" || a == "none" {
                    if active && list_empty {
                        let list = if op == Op::PermitListen {
                            &mut o.permitted_listens
                        } else {
                            &mut o.permitted_opens
                        };
                        list.push(a);
                    }
                } else {
                    let mut cur = Some(a);
                    while let Some(a) = cur.take().filter(|a| !a.is_empty()) {
                        let (entry, port) = if op == Op::PermitListen && !a.contains(':') {
                            (format!("*:{a}"), Some(a.clone()))
                        } else {
                            let Some((_, p)) = misc::hpdelim(&a) else {
                                fatal!("{filename} line {linenum}: {keyword} missing host");
                            };
                            (a.clone(), p.map(str::to_owned))
                        };
                        let ok = port
                            .as_deref()
                            .is_some_and(|p| p == "*" || misc::a2port(p) > 0);
                        if !ok {
                            fatal!("{filename} line {linenum}: {keyword} bad port number");
                        }
                        if active && list_empty {
                            let list = if op == Op::PermitListen {
                                &mut o.permitted_listens
                            } else {
                                &mut o.permitted_opens
                            };
                            if list.len() < MAX_LIST {
                                list.push(entry);
                            }
                        }
                        cur = args.next();
                    }
                }
            }
            Op::ForceCommand => {
                let rest = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                set(&mut o.adm_forced_command, active, rest.to_owned());
                args = Vec::new().into_iter();
            }
            Op::ChrootDirectory => {
                let a = missing_arg!();
                set(&mut o.chroot_directory, active, a);
            }
            Op::TrustedUserCaKeys => filename_opt!(o.trusted_user_ca_keys),
            Op::RevokedKeys => filename_opt!(o.revoked_keys_file),
            Op::SecurityKeyProvider => {
                let a = missing_arg!();
                if active && o.sk_provider.is_none() {
                    o.sk_provider = Some(if a.eq_ignore_ascii_case("internal") {
                        a
                    } else {
                        self.derelativise(&a)?
                    });
                }
            }
            Op::IpQos => {
                let a = missing_arg!();
                let Some(v1) = misc::parse_ipqos(&a) else {
                    fatal!("{filename} line {linenum}: Bad {keyword} value: {a}")
                };
                let v2 = match args.next() {
                    None => v1,
                    Some(b) => match misc::parse_ipqos(&b) {
                        Some(v) => v,
                        None => fatal!("{filename} line {linenum}: Bad {keyword} value: {b}"),
                    },
                };
                if active {
                    o.ip_qos = Some((v1, v2));
                }
            }
            Op::VersionAddendum => {
                let rest = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if rest.contains('\r') {
                    fatal!(
                        "{} line {linenum}: Invalid {keyword} argument",
                        trunc(filename, 200)
                    );
                }
                // OpenSSH means to cut a trailing comment but searches the
                // keyword (already NUL-terminated), so comments are kept.
                if active && o.version_addendum.is_none() {
                    o.version_addendum = Some(if rest.eq_ignore_ascii_case("none") {
                        String::new()
                    } else {
                        rest.to_owned()
                    });
                }
                args = Vec::new().into_iter();
            }
            Op::AuthorizedKeysCommand => command!(o.authorized_keys_command),
            Op::AuthorizedKeysCommandUser => localuser!(o.authorized_keys_command_user),
            Op::AuthorizedPrincipalsCommand => command!(o.authorized_principals_command),
            Op::AuthorizedPrincipalsCommandUser => localuser!(o.authorized_principals_command_user),
            Op::AuthenticationMethods => {
                let found = o.auth_methods.is_empty();
                let mut seen_any = false;
                let mut parsed = false;
                for a in args.by_ref() {
                    if a == "any" {
                        if !o.auth_methods.is_empty() {
                            fatal!(
                                "{filename} line {linenum}: \"any\" must appear alone in {keyword}"
                            );
                        }
                        seen_any = true;
                    } else if seen_any {
                        fatal!("{filename} line {linenum}: \"any\" must appear alone in {keyword}");
                    } else if let Err(e) = auth_methods_valid(&a, None) {
                        self.log.push(Diagnostic::new(Level::Error, e));
                        fatal!("{filename} line {linenum}: invalid {keyword} method list.");
                    }
                    parsed = true;
                    if found && active && o.auth_methods.len() < MAX_LIST {
                        o.auth_methods.push(a);
                    }
                }
                if !parsed {
                    fatal!("{filename} line {linenum}: no {keyword} specified");
                }
            }
            Op::StreamLocalBindMask => {
                let a = missing_arg!();
                let (v, used, _) = misc::c_strtol(&a, 8);
                if used == 0 || !(0..=0o777).contains(&v) {
                    fatal!("{filename} line {linenum}: Invalid {keyword}.");
                }
                if active {
                    o.streamlocal_bind_mask = Some(v as u32);
                }
            }
            Op::StreamLocalBindUnlink => flag!(o.streamlocal_bind_unlink),
            Op::FingerprintHash => {
                let a = missing_arg!();
                match FingerprintHash::parse(&a) {
                    Some(v) => {
                        if active {
                            o.fingerprint_hash = Some(v);
                        }
                    }
                    None => fatal!(
                        "{} line {linenum}: Invalid {keyword} algorithm \"{a}\".",
                        trunc(filename, 200)
                    ),
                }
            }
            Op::ExposeAuthInfo => flag!(o.expose_userauth_info),
            Op::RDomain => {
                fatal!(
                    "{filename} line {linenum}: setting RDomain not supported on this platform."
                );
            }
            Op::RequiredRsaSize => int!(o.required_rsa_size),
            Op::ChannelTimeout => {
                let was_empty = o.channel_timeouts.is_empty();
                let all: Vec<String> = args.by_ref().collect();
                let n = all.len();
                for (i, a) in all.into_iter().enumerate() {
                    if a.eq_ignore_ascii_case("none") {
                        if i > 0 || i + 1 < n {
                            bad!(
                                "{filename} line {linenum}: keyword {keyword} \"none\" argument must appear alone."
                            );
                        }
                    } else {
                        let ok = a
                            .split_once('=')
                            .is_some_and(|(t, v)| !t.is_empty() && misc::convtime(v).is_some());
                        if !ok {
                            fatal!("{filename} line {linenum}: invalid channel timeout {a}");
                        }
                    }
                    if active && was_empty && o.channel_timeouts.len() < MAX_LIST {
                        o.channel_timeouts.push(a);
                    }
                }
            }
            Op::UnusedConnectionTimeout => {
                let first = args.clone().next();
                if first
                    .as_deref()
                    .is_some_and(|f| f.eq_ignore_ascii_case("none"))
                {
                    let _ = args.next();
                    if active {
                        o.unused_connection_timeout = Some(0);
                    }
                } else {
                    time!(o.unused_connection_timeout);
                }
            }
            Op::DebianBanner => flag!(o.debian_banner),
            Op::PamServiceName => {
                let a = missing_arg!();
                set(&mut o.pam_service_name, active, a);
            }
            Op::RefuseConnection => flag!(o.refuse_connection),
            Op::SshdAuthPath => filename_opt!(o.sshd_auth_path),
            Op::SshdSessionPath => filename_opt!(o.sshd_session_path),
            Op::PerSourcePenalties => {
                let all: Vec<String> = args.by_ref().collect();
                if active && o.per_source_penalties.is_empty() {
                    o.per_source_penalties = all;
                }
            }
            Op::PerSourcePenaltyExemptList => {
                let a = missing_arg!();
                set(&mut o.per_source_penalty_exempt, active, a);
            }
            Op::Deprecated | Op::Ignore | Op::Unsupported => {
                let level = if op == Op::Ignore {
                    Level::Debug2
                } else {
                    Level::Info
                };
                let what = if op == Op::Unsupported {
                    "Unsupported"
                } else {
                    "Deprecated"
                };
                self.log.push(Diagnostic::at(
                    level,
                    filename,
                    linenum,
                    format!("{filename} line {linenum}: {what} option {keyword}"),
                ));
                args = Vec::new().into_iter();
            }
        }
        if args.len() > 0 {
            bad!(
                "{} line {linenum}: keyword {keyword} extra arguments at end of line",
                trunc(filename, 200)
            );
        }
        Ok(true)
    }

    /// `match_cfg_line`: 1 match, 0 no match, -1 bad.
    fn match_cfg_line(
        &mut self,
        cond: &mut Option<&str>,
        line: u32,
        ci: Option<&ConnSpec>,
    ) -> Result<i32, Error> {
        let mut result = 1;
        let mut attributes = 0;
        while let Some(attrib) = strdelim(cond) {
            if attrib.is_empty() {
                break;
            }
            if attrib.starts_with('#') {
                *cond = None;
                break;
            }
            attributes += 1;
            if attrib.eq_ignore_ascii_case("all") {
                let next = strdelim(cond);
                if attributes > 1
                    || next
                        .as_deref()
                        .is_some_and(|n| !n.is_empty() && !n.starts_with('#'))
                {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        "'all' cannot be combined with other Match attributes",
                    ));
                    return Ok(-1);
                }
                if next.as_deref().is_some_and(|n| n.starts_with('#')) {
                    *cond = None;
                }
                return Ok(1);
            }
            let arg = match strdelim(cond) {
                Some(a) if !a.is_empty() && !a.starts_with('#') => a,
                _ => {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        format!("Missing Match criteria for {attrib}"),
                    ));
                    return Ok(-1);
                }
            };
            let missing = |this: &mut Self, crit: &str, attr: &str| -> Error {
                this.fatal(format!("'Match {crit}' in configuration but '{attr}' not in connection test specification."))
            };
            if attrib.eq_ignore_ascii_case("user") {
                match ci.and_then(|c| c.user.as_deref()) {
                    None => result = 0,
                    Some(u) => {
                        if match_pattern_list(u, &arg, false) != 1 {
                            result = 0;
                        }
                    }
                }
            } else if attrib.eq_ignore_ascii_case("group") {
                match ci.and_then(|c| c.user.as_deref()) {
                    None => result = 0,
                    Some(u) => {
                        let ok = match self.ctx.user_groups(u) {
                            None => false,
                            Some(groups) => {
                                let mut found = false;
                                let mut negated = false;
                                for g in &groups {
                                    match match_pattern_list(g, &arg, false) {
                                        -1 => {
                                            negated = true;
                                            break;
                                        }
                                        1 => found = true,
                                        _ => {}
                                    }
                                }
                                found && !negated
                            }
                        };
                        if !ok {
                            result = 0;
                        }
                    }
                }
            } else if attrib.eq_ignore_ascii_case("host") {
                match ci.and_then(|c| c.host.as_deref()) {
                    None => result = 0,
                    Some(h) => {
                        if match_hostname(h, &arg) != 1 {
                            result = 0;
                        }
                    }
                }
            } else if attrib.eq_ignore_ascii_case("address")
                || attrib.eq_ignore_ascii_case("localaddress")
            {
                let local = attrib.eq_ignore_ascii_case("localaddress");
                let addr = ci.and_then(|c| {
                    if local {
                        c.laddr.as_deref()
                    } else {
                        c.addr.as_deref()
                    }
                });
                match addr {
                    None => {
                        if addr_match_list(None, &arg) != 0 {
                            let what = if local { "localaddress" } else { "address" };
                            return Err(self.fatal(format!(
                                "Invalid Match {what} argument '{arg}' at line {line}"
                            )));
                        }
                        result = 0;
                    }
                    Some(a) => match addr_match_list(Some(a), &arg) {
                        1 => {}
                        -2 => return Ok(-1),
                        _ => result = 0,
                    },
                }
            } else if attrib.eq_ignore_ascii_case("localport") {
                let port = misc::a2port(&arg);
                if port == -1 {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        format!("Invalid LocalPort '{arg}' on Match line"),
                    ));
                    return Ok(-1);
                }
                match ci {
                    None => result = 0,
                    Some(c) if c.lport == -1 => result = 0,
                    Some(c) if c.lport == 0 => return Err(missing(self, "LocalPort", "lport")),
                    Some(c) => {
                        if port != c.lport {
                            result = 0;
                        }
                    }
                }
            } else if attrib.eq_ignore_ascii_case("rdomain") {
                match ci.and_then(|c| c.rdomain.as_deref()) {
                    None => result = 0,
                    Some(r) => {
                        if match_pattern_list(r, &arg, false) != 1 {
                            result = 0;
                        }
                    }
                }
            } else {
                self.log.push(Diagnostic::new(
                    Level::Error,
                    format!("Unsupported Match attribute {attrib}"),
                ));
                return Ok(-1);
            }
        }
        if attributes == 0 {
            self.log.push(Diagnostic::new(
                Level::Error,
                "One or more attributes required for Match",
            ));
            return Ok(-1);
        }
        Ok(result)
    }
}

/// `sscanf("%d:%d:%d")`: the integers converted before the first failure.
fn scanf_ints(s: &str, max: usize) -> Vec<i32> {
    let mut out = Vec::new();
    let mut rest = s;
    while out.len() < max {
        let (v, used, _) = misc::c_strtol(rest, 10);
        if used == 0 {
            break;
        }
        out.push(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
        rest = rest.get(used..).unwrap_or("");
        if out.len() < max {
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None => break,
            }
        }
    }
    out
}

/// Apply one `sshd` command-line option.
fn apply_cli(r: &mut Reader<'_>, o: &mut SRaw, arg: &ServerCliArg) -> Result<(), Error> {
    let usage = |r: &mut Reader<'_>, msg: String| Error::Usage {
        message: msg,
        log: std::mem::take(&mut r.log),
    };
    match arg {
        ServerCliArg::Option(line) => {
            let before = r.log.len();
            let mut flags = Flags::default();
            if !r.process_line(o, line, "command-line", 0, None, &mut flags, 0)? {
                let msg = r
                    .log
                    .get(before..)
                    .and_then(|l| l.last())
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                let mut log = std::mem::take(&mut r.log);
                log.pop();
                return Err(Error::Usage { message: msg, log });
            }
        }
        ServerCliArg::Port(p) => {
            o.ports_from_cmdline = true;
            if o.ports.len() >= MAX_PORTS {
                return Err(usage(r, "too many ports.".into()));
            }
            let v = misc::a2port(p);
            if v <= 0 {
                return Err(usage(r, "Bad port number.".into()));
            }
            o.ports.push(v as u16);
        }
        ServerCliArg::HostKey(h) => {
            let p = r.derelativise(h)?;
            o.host_key_files.push((p, true));
        }
        ServerCliArg::HostCertificate(c) => {
            let p = r.derelativise(c)?;
            o.host_cert_files.push(p);
        }
        ServerCliArg::AddressFamily(f) => o.address_family = Some(*f),
        ServerCliArg::LoginGraceTime(g) => match misc::convtime(g) {
            Some(v) => o.login_grace_time = Some(v as i32),
            None => return Err(usage(r, "Invalid login grace time.".into())),
        },
        ServerCliArg::Debug => {
            o.log_level = Some(match o.log_level {
                None => LogLevel::Debug1,
                Some(l) if l < LogLevel::Debug3 && l >= LogLevel::Debug1 => l.more_verbose(),
                Some(l) if l < LogLevel::Debug1 => LogLevel::Debug1,
                Some(l) => l,
            });
        }
        ServerCliArg::Quiet => o.log_level = Some(LogLevel::Quiet),
    }
    Ok(())
}

/// Listening sockets of one routing domain, in print order.
type ListenGroup = (Option<String>, Vec<(IpAddr, u16)>);

/// `process_queued_listen_addrs` + the default listener: listening sockets in
/// `sshd -T` order.
fn listen_addresses(r: &mut Reader<'_>, o: &mut SRaw) -> Result<Vec<ListenAddress>, Error> {
    if o.ports.is_empty() {
        o.ports.push(22);
    }
    let family = o.address_family.unwrap_or_default();
    // Per routing domain, in order of first use; within each, print order.
    let mut groups: Vec<ListenGroup> = Vec::new();
    let mut add = |r: &mut Reader<'_>,
                   addr: Option<&str>,
                   rdomain: Option<String>,
                   port: u16|
     -> Result<(), Error> {
        let mut res = r.ctx.resolve_listen(addr, port, family).map_err(|e| {
            Error::fatal(
                format!("bad addr or host: {} ({e})", addr.unwrap_or("<NULL>")),
                std::mem::take(&mut r.log),
            )
        })?;
        res.reverse();
        let idx = match groups.iter().position(|(rd, _)| *rd == rdomain) {
            Some(i) => i,
            None => {
                groups.push((rdomain, Vec::new()));
                groups.len() - 1
            }
        };
        if let Some((_, list)) = groups.get_mut(idx) {
            list.extend(res.into_iter().map(|a| (a, port)));
        }
        Ok(())
    };
    let queued = std::mem::take(&mut o.queued_listens);
    let ports = o.ports.clone();
    for q in &queued {
        if q.port > 0 {
            add(r, Some(&q.addr), q.rdomain.clone(), q.port)?;
        } else {
            for p in &ports {
                add(r, Some(&q.addr), q.rdomain.clone(), *p)?;
            }
        }
    }
    if queued.is_empty() {
        for p in &ports {
            add(r, None, None, *p)?;
        }
    }
    Ok(groups
        .into_iter()
        .flat_map(|(rd, list)| {
            list.into_iter().map(move |(addr, port)| ListenAddress {
                addr,
                port,
                rdomain: rd.clone(),
            })
        })
        .collect())
}

fn clear_none(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.eq_ignore_ascii_case("none"))
}

/// Assemble one algorithm list or fail as `assemble_algorithms` does.
fn assemble(
    r: &mut Reader<'_>,
    what: &str,
    v: Option<&str>,
    def: &str,
    all: &str,
) -> Result<String, Error> {
    let def = algs::filter_default(def, all);
    algs::assemble(v, &def, all).map_err(|()| {
        Error::fatal(
            format!("assemble_algorithms: {what}: invalid argument"),
            std::mem::take(&mut r.log),
        )
    })
}

/// First pass, defaults and startup checks.
pub(crate) fn load(
    opts: &ServerOptions,
    fs: &dyn Fs,
    ctx: &dyn ServerContext,
    profile: &Profile,
) -> Result<ServerConfig, Error> {
    let mut r = Reader {
        fs,
        ctx,
        profile,
        conn: None,
        includes: Vec::new(),
        log: Vec::new(),
        files: 0,
        bytes: 0,
        lines: 0,
    };
    let mut o = SRaw::default();
    for a in &opts.args {
        apply_cli(&mut r, &mut o, a)?;
    }
    let text = if opts.config_file.eq_ignore_ascii_case("none") {
        String::new()
    } else {
        match fs.read(Path::new(&opts.config_file)) {
            Ok(d) => load_text(&d),
            Err(e) => {
                return Err(Error::Io {
                    path: opts.config_file.clone().into(),
                    message: format!("{}: {}", opts.config_file, crate::io_error_text(&e)),
                    log: std::mem::take(&mut r.log),
                    source: e,
                });
            }
        }
    };
    let mut active = true;
    r.parse(
        &mut o,
        &opts.config_file,
        &text,
        Flags::default(),
        &mut active,
        0,
    )?;
    let listen = listen_addresses(&mut r, &mut o)?;
    fill(&mut r, o, listen, opts, text, profile)
}

/// `fill_default_server_options` and the checks `sshd` makes right after.
fn fill(
    r: &mut Reader<'_>,
    mut o: SRaw,
    listen: Vec<ListenAddress>,
    opts: &ServerOptions,
    text: String,
    profile: &Profile,
) -> Result<ServerConfig, Error> {
    if o.host_key_files.is_empty() {
        for k in [
            "/etc/ssh/ssh_host_rsa_key",
            "/etc/ssh/ssh_host_ecdsa_key",
            "/etc/ssh/ssh_host_ed25519_key",
        ] {
            o.host_key_files.push((k.to_owned(), false));
        }
    }
    let a = &profile.algorithms;
    let keys_all = a.keys_all();
    let sigs_all = a.sigs_all();
    let ciphers = assemble(
        r,
        "ciphers",
        o.ciphers.as_deref(),
        &a.ciphers_default,
        &a.ciphers_all,
    )?;
    let macs = assemble(r, "macs", o.macs.as_deref(), &a.macs_default, &a.macs_all)?;
    let kex = assemble(
        r,
        "kex_algorithms",
        o.kex_algorithms.as_deref(),
        &a.kex_server_default,
        &a.kex_all,
    )?;
    let hostkeyalgs = assemble(
        r,
        "hostkeyalgorithms",
        o.hostkeyalgorithms.as_deref(),
        &a.pk_default,
        &keys_all,
    )?;
    let hostbased = assemble(
        r,
        "hostbased_accepted_algos",
        o.hostbased_accepted_algos.as_deref(),
        &a.pk_default,
        &keys_all,
    )?;
    let pubkey = assemble(
        r,
        "pubkey_accepted_algos",
        o.pubkey_accepted_algos.as_deref(),
        &a.pk_default,
        &keys_all,
    )?;
    let casig = assemble(
        r,
        "ca_sign_algorithms",
        o.ca_sign_algorithms.as_deref(),
        &a.ca_sig_default,
        &sigs_all,
    )?;

    let mut auth_methods = o.auth_methods.clone();
    if auth_methods.len() == 1
        && auth_methods
            .first()
            .is_some_and(|m| m.eq_ignore_ascii_case("any"))
    {
        auth_methods.clear();
    }
    let mut channel_timeouts = o.channel_timeouts.clone();
    if channel_timeouts.len() == 1
        && channel_timeouts
            .first()
            .is_some_and(|m| m.eq_ignore_ascii_case("none"))
    {
        channel_timeouts.clear();
    }
    let mut authorized_keys_files = o.authorized_keys_files.clone();
    if authorized_keys_files.is_empty() {
        authorized_keys_files = vec![
            ".ssh/authorized_keys".into(),
            ".ssh/authorized_keys2".into(),
        ];
    }
    let (ms_b, ms_r, ms_f) = o.max_startups.unwrap_or((10, 30, 100));
    let (ms_r, ms_f) = (
        if ms_r == -1 { 30 } else { ms_r },
        if ms_f == -1 { 100 } else { ms_f },
    );
    let (m4, m6) = o.per_source_masklen.unwrap_or((32, 128));
    let (q1, q2) = o
        .ip_qos
        .unwrap_or((misc::IPTOS_LOWDELAY, misc::IPTOS_THROUGHPUT));
    let pao = o.pubkey_auth_options.unwrap_or(0);

    let cfg = ServerConfig {
        use_pam: o.use_pam.unwrap_or(false),
        ports: o.ports.clone(),
        address_family: o.address_family.unwrap_or_default(),
        listen_addresses: listen,
        host_key_file_user_provided: o.host_key_files.iter().map(|(_, u)| *u).collect(),
        host_key_files: o
            .host_key_files
            .iter()
            .map(|(p, _)| clear_none(Some(p.clone())))
            .collect(),
        host_cert_files: o
            .host_cert_files
            .iter()
            .map(|p| clear_none(Some(p.clone())))
            .collect(),
        host_key_agent: clear_none(o.host_key_agent.clone()),
        pid_file: clear_none(Some(
            o.pid_file
                .clone()
                .unwrap_or_else(|| "/run/sshd.pid".to_owned()),
        )),
        moduli_file: o
            .moduli_file
            .clone()
            .unwrap_or_else(|| "/etc/ssh/moduli".to_owned()),
        login_grace_time: o.login_grace_time.unwrap_or(120),
        permit_root_login: o
            .permit_root_login
            .unwrap_or(PermitRootLogin::ProhibitPassword),
        ignore_rhosts: o.ignore_rhosts.unwrap_or(IgnoreRhosts::Yes),
        ignore_user_known_hosts: o.ignore_user_known_hosts.unwrap_or(false),
        print_motd: o.print_motd.unwrap_or(true),
        print_lastlog: o.print_lastlog.unwrap_or(true),
        x11_forwarding: o.x11_forwarding.unwrap_or(false),
        x11_display_offset: o.x11_display_offset.unwrap_or(10),
        x11_use_localhost: o.x11_use_localhost.unwrap_or(true),
        permit_tty: o.permit_tty.unwrap_or(true),
        permit_user_rc: o.permit_user_rc.unwrap_or(true),
        xauth_location: clear_none(Some(
            o.xauth_location
                .clone()
                .unwrap_or_else(|| profile.xauth_location.clone()),
        )),
        strict_modes: o.strict_modes.unwrap_or(true),
        tcp_keep_alive: o.tcp_keep_alive.unwrap_or(true),
        syslog_facility: o.log_facility.unwrap_or(SyslogFacility::Auth),
        log_level: o.log_level.unwrap_or(LogLevel::Info),
        log_verbose: o.log_verbose.clone(),
        hostbased_authentication: o.hostbased_authentication.unwrap_or(false),
        hostbased_uses_name_from_packet_only: o
            .hostbased_uses_name_from_packet_only
            .unwrap_or(false),
        hostbased_accepted_algorithms: hostbased,
        host_key_algorithms: hostkeyalgs,
        pubkey_authentication: o.pubkey_authentication.unwrap_or(true),
        pubkey_auth_touch_required: pao & 1 != 0,
        pubkey_auth_verify_required: pao & 2 != 0,
        pubkey_accepted_algorithms: pubkey,
        kerberos_authentication: o.kerberos_authentication.unwrap_or(false),
        kerberos_or_local_passwd: o.kerberos_or_local_passwd.unwrap_or(true),
        kerberos_ticket_cleanup: o.kerberos_ticket_cleanup.unwrap_or(true),
        gssapi_authentication: o.gss_authentication.unwrap_or(false),
        gssapi_key_exchange: o.gss_keyex.unwrap_or(false),
        gssapi_cleanup_credentials: o.gss_cleanup_creds.unwrap_or(true),
        gssapi_strict_acceptor_check: o.gss_strict_acceptor.unwrap_or(true),
        gssapi_store_credentials_on_rekey: o.gss_store_rekey.unwrap_or(false),
        gssapi_kex_algorithms: o
            .gss_kex_algorithms
            .clone()
            .unwrap_or_else(|| a.gss_kex_default.clone()),
        password_authentication: o.password_authentication.unwrap_or(true),
        kbd_interactive_authentication: o.kbd_interactive_authentication.unwrap_or(true),
        permit_empty_passwords: o.permit_empty_passwd.unwrap_or(false),
        permit_user_environment: o.permit_user_env.unwrap_or(false),
        permit_user_environment_allowlist: o.permit_user_env_allowlist.clone(),
        compression: o.compression.unwrap_or(Compression::Delayed),
        rekey_limit: RekeyLimit {
            bytes: o.rekey_limit.unwrap_or(0),
            seconds: o.rekey_interval.unwrap_or(0),
        },
        allow_tcp_forwarding: o.allow_tcp_forwarding.unwrap_or(AllowForwarding::All),
        allow_streamlocal_forwarding: o
            .allow_streamlocal_forwarding
            .unwrap_or(AllowForwarding::All),
        allow_agent_forwarding: o.allow_agent_forwarding.unwrap_or(true),
        disable_forwarding: o.disable_forwarding.unwrap_or(false),
        allow_users: o.allow_users.clone(),
        deny_users: o.deny_users.clone(),
        allow_groups: o.allow_groups.clone(),
        deny_groups: o.deny_groups.clone(),
        ciphers,
        macs,
        kex_algorithms: kex,
        ca_signature_algorithms: casig,
        gateway_ports: o.gateway_ports.unwrap_or(GatewayPorts::No),
        stream_local_bind_mask: o.streamlocal_bind_mask.unwrap_or(0o177),
        stream_local_bind_unlink: o.streamlocal_bind_unlink.unwrap_or(false),
        subsystems: o.subsystems.clone(),
        max_startups_begin: ms_b,
        max_startups_rate: ms_r,
        max_startups: ms_f,
        per_source_max_startups: o.per_source_max_startups.filter(|v| *v != i32::MAX),
        per_source_masklen_ipv4: m4,
        per_source_masklen_ipv6: m6,
        per_source_penalties: o.per_source_penalties.clone(),
        per_source_penalty_exempt: o.per_source_penalty_exempt.clone(),
        max_auth_tries: o.max_authtries.unwrap_or(6),
        max_sessions: o.max_sessions.unwrap_or(10),
        banner: clear_none(o.banner.clone()),
        use_dns: o.use_dns.unwrap_or(false),
        client_alive_interval: o.client_alive_interval.unwrap_or(0),
        client_alive_count_max: o.client_alive_count_max.unwrap_or(3),
        authorized_keys_files,
        accept_env: o.accept_env.clone(),
        set_env: o.setenv.clone(),
        permit_tunnel: o.permit_tun.unwrap_or(PermitTunnel::No),
        permit_open: o.permitted_opens.clone(),
        permit_listen: o.permitted_listens.clone(),
        force_command: clear_none(o.adm_forced_command.clone()),
        chroot_directory: clear_none(o.chroot_directory.clone()),
        authorized_keys_command: o.authorized_keys_command.clone(),
        authorized_keys_command_user: o.authorized_keys_command_user.clone(),
        revoked_keys_file: clear_none(o.revoked_keys_file.clone()),
        security_key_provider: clear_none(Some(
            o.sk_provider
                .clone()
                .unwrap_or_else(|| "internal".to_owned()),
        )),
        trusted_user_ca_keys: clear_none(o.trusted_user_ca_keys.clone()),
        authorized_principals_file: clear_none(o.authorized_principals_file.clone()),
        authorized_principals_command: o.authorized_principals_command.clone(),
        authorized_principals_command_user: o.authorized_principals_command_user.clone(),
        ip_qos: IpQos {
            interactive: q1,
            bulk: q2,
        },
        version_addendum: o.version_addendum.clone().unwrap_or_default(),
        fingerprint_hash: o.fingerprint_hash.unwrap_or_default(),
        expose_auth_info: o.expose_userauth_info.unwrap_or(false),
        routing_domain: clear_none(o.routing_domain.clone()),
        required_rsa_size: o.required_rsa_size.unwrap_or(1024),
        channel_timeouts,
        unused_connection_timeout: o.unused_connection_timeout.unwrap_or(0),
        authentication_methods: auth_methods,
        debian_banner: o.debian_banner.unwrap_or(true),
        pam_service_name: o.pam_service_name.clone(),
        refuse_connection: o.refuse_connection.unwrap_or(false),
        diagnostics: Vec::new(),
        config_name: opts.config_file.clone(),
        config_text: text,
        includes: std::mem::take(&mut r.includes),
        profile: profile.clone(),
        dialect: profile.dialect,
    };
    let mut cfg = cfg;
    if cfg.authorized_keys_command_user.is_none()
        && cfg
            .authorized_keys_command
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case("none"))
    {
        return Err(
            r.fatal("AuthorizedKeysCommand set without AuthorizedKeysCommandUser".to_owned())
        );
    }
    if cfg.authorized_principals_command_user.is_none()
        && cfg
            .authorized_principals_command
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case("none"))
    {
        return Err(r.fatal(
            "AuthorizedPrincipalsCommand set without AuthorizedPrincipalsCommandUser".to_owned(),
        ));
    }
    if !cfg.authentication_methods.is_empty() {
        let c = cfg.clone();
        let enabled = |m: &str| match m {
            "none" => true,
            "publickey" => c.pubkey_authentication,
            "gssapi-keyex" => c.gssapi_key_exchange,
            "gssapi-with-mic" => c.gssapi_authentication,
            "password" => c.password_authentication,
            "keyboard-interactive" => c.kbd_interactive_authentication,
            "hostbased" => c.hostbased_authentication,
            _ => false,
        };
        let mut any_ok = false;
        for list in &cfg.authentication_methods {
            match auth_methods_valid(list, Some(&enabled)) {
                Ok(()) => {
                    any_ok = true;
                    break;
                }
                Err(e) => r.log.push(Diagnostic::new(Level::Error, e)),
            }
        }
        if !any_ok {
            return Err(r.fatal(
                "AuthenticationMethods cannot be satisfied by enabled authentication methods"
                    .to_owned(),
            ));
        }
    }
    cfg.diagnostics = std::mem::take(&mut r.log);
    Ok(cfg)
}

/// Second pass: re-read the text for `conn`, then overlay what was set
/// (`copy_set_server_options`).
pub(crate) fn for_connection(
    base: &ServerConfig,
    conn: &ConnSpec,
    ctx: &dyn ServerContext,
) -> Result<ServerConfig, Error> {
    let profile = base.profile.clone();
    // Includes come from the cache filled by the first pass; a filesystem is
    // needed only for globs never seen before, which cannot happen here.
    let empty = crate::fs::MemFs::new();
    let mut r = Reader {
        fs: &empty,
        ctx,
        profile: &profile,
        conn: Some(conn),
        includes: base.includes.clone(),
        log: Vec::new(),
        files: 0,
        bytes: 0,
        lines: 0,
    };
    let mut mo = SRaw::default();
    let mut active = false;
    r.parse(
        &mut mo,
        "reprocess config",
        &base.config_text,
        Flags {
            match_only: true,
            nevermatch: false,
        },
        &mut active,
        0,
    )?;
    let mut d = base.clone();
    macro_rules! cp {
        ($dst:expr, $src:expr) => {
            if let Some(v) = $src.clone() {
                $dst = v;
            }
        };
    }
    cp!(d.password_authentication, mo.password_authentication);
    cp!(d.gssapi_authentication, mo.gss_authentication);
    cp!(d.pubkey_authentication, mo.pubkey_authentication);
    if let Some(v) = mo.pubkey_auth_options {
        d.pubkey_auth_touch_required = v & 1 != 0;
        d.pubkey_auth_verify_required = v & 2 != 0;
    }
    cp!(d.kerberos_authentication, mo.kerberos_authentication);
    cp!(d.hostbased_authentication, mo.hostbased_authentication);
    cp!(
        d.hostbased_uses_name_from_packet_only,
        mo.hostbased_uses_name_from_packet_only
    );
    cp!(
        d.kbd_interactive_authentication,
        mo.kbd_interactive_authentication
    );
    cp!(d.permit_root_login, mo.permit_root_login);
    cp!(d.permit_empty_passwords, mo.permit_empty_passwd);
    cp!(d.ignore_rhosts, mo.ignore_rhosts);
    cp!(d.allow_tcp_forwarding, mo.allow_tcp_forwarding);
    cp!(
        d.allow_streamlocal_forwarding,
        mo.allow_streamlocal_forwarding
    );
    cp!(d.allow_agent_forwarding, mo.allow_agent_forwarding);
    cp!(d.disable_forwarding, mo.disable_forwarding);
    cp!(d.expose_auth_info, mo.expose_userauth_info);
    cp!(d.permit_tunnel, mo.permit_tun);
    cp!(d.gateway_ports, mo.gateway_ports);
    cp!(d.stream_local_bind_unlink, mo.streamlocal_bind_unlink);
    cp!(d.x11_display_offset, mo.x11_display_offset);
    cp!(d.x11_forwarding, mo.x11_forwarding);
    cp!(d.x11_use_localhost, mo.x11_use_localhost);
    cp!(d.permit_tty, mo.permit_tty);
    cp!(d.permit_user_rc, mo.permit_user_rc);
    cp!(d.max_sessions, mo.max_sessions);
    cp!(d.max_auth_tries, mo.max_authtries);
    cp!(d.client_alive_count_max, mo.client_alive_count_max);
    cp!(d.client_alive_interval, mo.client_alive_interval);
    if let Some((i, b)) = mo.ip_qos {
        d.ip_qos = IpQos {
            interactive: i,
            bulk: b,
        };
    }
    cp!(d.rekey_limit.bytes, mo.rekey_limit);
    cp!(d.rekey_limit.seconds, mo.rekey_interval);
    cp!(d.log_level, mo.log_level);
    cp!(d.required_rsa_size, mo.required_rsa_size);
    cp!(d.unused_connection_timeout, mo.unused_connection_timeout);
    cp!(d.stream_local_bind_mask, mo.streamlocal_bind_mask);
    if mo.banner.is_some() {
        d.banner = mo.banner.clone();
    }
    if mo.trusted_user_ca_keys.is_some() {
        d.trusted_user_ca_keys = mo.trusted_user_ca_keys.clone();
    }
    if mo.revoked_keys_file.is_some() {
        d.revoked_keys_file = mo.revoked_keys_file.clone();
    }
    if mo.authorized_keys_command.is_some() {
        d.authorized_keys_command = mo.authorized_keys_command.clone();
    }
    if mo.authorized_keys_command_user.is_some() {
        d.authorized_keys_command_user = mo.authorized_keys_command_user.clone();
    }
    if mo.authorized_principals_file.is_some() {
        d.authorized_principals_file = mo.authorized_principals_file.clone();
    }
    if mo.authorized_principals_command.is_some() {
        d.authorized_principals_command = mo.authorized_principals_command.clone();
    }
    if mo.authorized_principals_command_user.is_some() {
        d.authorized_principals_command_user = mo.authorized_principals_command_user.clone();
    }
    if mo.routing_domain.is_some() {
        d.routing_domain = mo.routing_domain.clone();
    }
    if mo.permit_user_env_allowlist.is_some() {
        d.permit_user_environment_allowlist = mo.permit_user_env_allowlist.clone();
    }
    let arr = |dst: &mut Vec<String>, src: &Vec<String>| {
        if !src.is_empty() {
            dst.clone_from(src);
        }
    };
    arr(&mut d.authorized_keys_files, &mo.authorized_keys_files);
    arr(&mut d.allow_users, &mo.allow_users);
    arr(&mut d.deny_users, &mo.deny_users);
    arr(&mut d.allow_groups, &mo.allow_groups);
    arr(&mut d.deny_groups, &mo.deny_groups);
    arr(&mut d.accept_env, &mo.accept_env);
    arr(&mut d.set_env, &mo.setenv);
    arr(&mut d.authentication_methods, &mo.auth_methods);
    arr(&mut d.permit_open, &mo.permitted_opens);
    arr(&mut d.permit_listen, &mo.permitted_listens);
    arr(&mut d.channel_timeouts, &mo.channel_timeouts);
    arr(&mut d.log_verbose, &mo.log_verbose);
    // Lists that accept '+', '-' and '^' are assembled again.
    let a = &profile.algorithms;
    let keys_all = a.keys_all();
    let sigs_all = a.sigs_all();
    d.ciphers = assemble(
        &mut r,
        "ciphers",
        Some(&d.ciphers),
        &a.ciphers_default,
        &a.ciphers_all,
    )?;
    d.macs = assemble(&mut r, "macs", Some(&d.macs), &a.macs_default, &a.macs_all)?;
    d.kex_algorithms = assemble(
        &mut r,
        "kex_algorithms",
        Some(&d.kex_algorithms),
        &a.kex_server_default,
        &a.kex_all,
    )?;
    d.host_key_algorithms = assemble(
        &mut r,
        "hostkeyalgorithms",
        Some(&d.host_key_algorithms),
        &a.pk_default,
        &keys_all,
    )?;
    let hb = mo
        .hostbased_accepted_algos
        .clone()
        .unwrap_or_else(|| d.hostbased_accepted_algorithms.clone());
    d.hostbased_accepted_algorithms = assemble(
        &mut r,
        "hostbased_accepted_algos",
        Some(&hb),
        &a.pk_default,
        &keys_all,
    )?;
    let pk = mo
        .pubkey_accepted_algos
        .clone()
        .unwrap_or_else(|| d.pubkey_accepted_algorithms.clone());
    d.pubkey_accepted_algorithms = assemble(
        &mut r,
        "pubkey_accepted_algos",
        Some(&pk),
        &a.pk_default,
        &keys_all,
    )?;
    let ca = mo
        .ca_sign_algorithms
        .clone()
        .unwrap_or_else(|| d.ca_signature_algorithms.clone());
    d.ca_signature_algorithms = assemble(
        &mut r,
        "ca_sign_algorithms",
        Some(&ca),
        &a.ca_sig_default,
        &sigs_all,
    )?;
    if mo.adm_forced_command.is_some() {
        d.force_command = clear_none(mo.adm_forced_command.clone());
    }
    if mo.chroot_directory.is_some() {
        d.chroot_directory = clear_none(mo.chroot_directory.clone());
    }
    d.diagnostics.append(&mut r.log);
    Ok(d)
}
