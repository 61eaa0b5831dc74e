//! Reading ssh_config files and `-o` options into [`Raw`] options: one function
//! per line (`process_line`, OpenSSH's `process_config_line_depth`), `Host` and
//! `Match` evaluation, and `Include`.
//!
//! First obtained value wins: every setter only fills an unset field, and only
//! while the current `Host`/`Match` block is active. Messages are OpenSSH's,
//! word for word.

use std::path::Path;

use crate::error::{Diagnostic, Error, Level};
use crate::forward::{Forward, parse_forward};
use crate::fs::Fs;
use crate::lex::{argv_split, split_keyword, strdelim};
use crate::misc::{self, trunc};
use crate::pattern::{match_hostname, match_pattern, match_pattern_list};
use crate::profile::Profile;
use crate::types::{ADDRESS_FAMILY, FingerprintHash, LogLevel, SyslogFacility, multistate_parse};

use super::keywords::{self, Op};
use super::raw::Raw;
use super::{
    AddKeysToAgent, Canonicalize, ClientContext, ControlMaster, LocalUser, PubkeyAuthentication,
    RequestTty, SessionType, StrictHostKeyChecking, TunnelMode, YesNoAsk,
};

/// Maximum `Include` nesting (`READCONF_MAX_DEPTH`).
pub(crate) const MAX_DEPTH: u32 = 16;
/// Maximum number of files read for one configuration (bounds work and memory).
pub(crate) const MAX_FILES: usize = 1024;
const MAX_IDENTITY_FILES: usize = 100;
const MAX_CERTIFICATE_FILES: usize = 100;
const MAX_HOSTS_FILES: usize = 32;
const MAX_CANON_DOMAINS: usize = 32;
/// Upper bound for the accumulating lists (SendEnv, SetEnv, forwards, …).
const MAX_LIST: usize = 100_000;

pub(crate) const FLAG: &[(&str, bool)] = &[
    ("true", true),
    ("false", false),
    ("yes", true),
    ("no", false),
];
pub(crate) const YESNOASK: &[(&str, YesNoAsk)] = &[
    ("true", YesNoAsk::Yes),
    ("false", YesNoAsk::No),
    ("yes", YesNoAsk::Yes),
    ("no", YesNoAsk::No),
    ("ask", YesNoAsk::Ask),
];
pub(crate) const STRICT_HOSTKEY: &[(&str, StrictHostKeyChecking)] = &[
    ("true", StrictHostKeyChecking::Yes),
    ("false", StrictHostKeyChecking::Off),
    ("yes", StrictHostKeyChecking::Yes),
    ("no", StrictHostKeyChecking::Off),
    ("ask", StrictHostKeyChecking::Ask),
    ("off", StrictHostKeyChecking::Off),
    ("accept-new", StrictHostKeyChecking::AcceptNew),
];
pub(crate) const YESNOASKCONFIRM: &[(&str, AddKeysToAgent)] = &[
    ("true", AddKeysToAgent::Yes),
    ("false", AddKeysToAgent::No),
    ("yes", AddKeysToAgent::Yes),
    ("no", AddKeysToAgent::No),
    ("ask", AddKeysToAgent::Ask),
    ("confirm", AddKeysToAgent::Confirm),
];
pub(crate) const CONTROL_MASTER: &[(&str, ControlMaster)] = &[
    ("true", ControlMaster::Yes),
    ("yes", ControlMaster::Yes),
    ("false", ControlMaster::No),
    ("no", ControlMaster::No),
    ("auto", ControlMaster::Auto),
    ("ask", ControlMaster::Ask),
    ("autoask", ControlMaster::AutoAsk),
];
pub(crate) const TUNNEL: &[(&str, TunnelMode)] = &[
    ("ethernet", TunnelMode::Ethernet),
    ("point-to-point", TunnelMode::PointToPoint),
    ("true", TunnelMode::PointToPoint),
    ("yes", TunnelMode::PointToPoint),
    ("false", TunnelMode::No),
    ("no", TunnelMode::No),
];
pub(crate) const REQUEST_TTY: &[(&str, RequestTty)] = &[
    ("true", RequestTty::Yes),
    ("yes", RequestTty::Yes),
    ("false", RequestTty::No),
    ("no", RequestTty::No),
    ("force", RequestTty::Force),
    ("auto", RequestTty::Auto),
];
pub(crate) const SESSION_TYPE: &[(&str, SessionType)] = &[
    ("none", SessionType::None),
    ("subsystem", SessionType::Subsystem),
    ("default", SessionType::Default),
];
pub(crate) const CANONICALIZE: &[(&str, Canonicalize)] = &[
    ("true", Canonicalize::Yes),
    ("false", Canonicalize::No),
    ("yes", Canonicalize::Yes),
    ("no", Canonicalize::No),
    ("always", Canonicalize::Always),
];
pub(crate) const PUBKEY_AUTH: &[(&str, PubkeyAuthentication)] = &[
    ("true", PubkeyAuthentication::Yes),
    ("false", PubkeyAuthentication::No),
    ("yes", PubkeyAuthentication::Yes),
    ("no", PubkeyAuthentication::No),
    ("unbound", PubkeyAuthentication::Unbound),
    ("host-bound", PubkeyAuthentication::HostBound),
];
pub(crate) const COMPRESSION: &[(&str, bool)] = &[("yes", true), ("no", false)];

/// Flags for one file being read (`SSHCONF_*`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flags {
    pub userconf: bool,
    pub checkperm: bool,
    pub nevermatch: bool,
    pub final_pass: bool,
}

/// State shared by all lines of one configuration pass.
pub(crate) struct Reader<'a> {
    pub ctx: &'a dyn ClientContext,
    pub fs: &'a dyn Fs,
    pub profile: &'a Profile,
    pub pw: LocalUser,
    /// Host name `Host` lines match against.
    pub host: String,
    /// The host as given on the command line.
    pub original_host: String,
    /// Set by `Match final` (when `record_final`).
    pub want_final_pass: bool,
    pub record_final: bool,
    pub log: Vec<Diagnostic>,
    pub files_read: usize,
    pub bytes_read: usize,
    pub lines_done: usize,
}

/// What a line did: fine, or rejected (counted as a bad option).
type LineResult = Result<bool, Error>;

fn set<T>(field: &mut Option<T>, active: bool, v: T) {
    if active && field.is_none() {
        *field = Some(v);
    }
}

fn f200(file: &str) -> &str {
    trunc(file, 200)
}

/// Add an identity file unless already present with the same provenance.
pub(crate) fn add_identity_file(
    o: &mut Raw,
    path: String,
    userprovided: bool,
) -> Result<(), String> {
    if o.identity_files.len() >= MAX_IDENTITY_FILES {
        return Err(format!(
            "Too many identity files specified (max {MAX_IDENTITY_FILES})"
        ));
    }
    if !o
        .identity_files
        .iter()
        .any(|(p, u)| *u == userprovided && *p == path)
    {
        o.identity_files.push((path, userprovided));
    }
    Ok(())
}

fn add_certificate_file(o: &mut Raw, path: String, userprovided: bool) -> Result<(), String> {
    if o.certificate_files.len() >= MAX_CERTIFICATE_FILES {
        return Err(format!(
            "Too many certificate files specified (max {MAX_CERTIFICATE_FILES})"
        ));
    }
    if !o
        .certificate_files
        .iter()
        .any(|(p, u)| *u == userprovided && *p == path)
    {
        o.certificate_files.push((path, userprovided));
    }
    Ok(())
}

/// `add_local_forward` / `add_remote_forward`: no duplicates.
pub(crate) fn add_forward(list: &mut Vec<Forward>, fwd: Forward) {
    if !list.contains(&fwd) && list.len() < MAX_LIST {
        list.push(fwd);
    }
}

/// `parse_jump` as Debian's 9.2p1 has it (upstream's later version): `none`
/// first, then the list with its comment removed and "right-trimmed" by
/// OpenSSH's `rtrim()`, which blanks every whitespace character after the
/// first one and so cuts the list at its first blank. With `strict` (`-J`)
/// every hop's host and user must be free of shell metacharacters. `Err`
/// carries a message OpenSSH logs first, if any.
pub(crate) fn parse_jump(
    s: &str,
    o: &mut Raw,
    strict: bool,
    active: bool,
) -> Result<(), Option<String>> {
    if s.eq_ignore_ascii_case("none") {
        if active && o.jump_host.is_none() {
            o.jump_host = Some("none".to_owned());
            o.jump_port = Some(0);
        }
        return Ok(());
    }
    let mut orig = match s.find('#') {
        Some(i) => s.get(..i).unwrap_or("").to_owned(),
        None => s.to_owned(),
    };
    if let Some(i) = orig
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_whitespace() || *c == '\x0b')
        .map(|(i, _)| i)
    {
        orig.truncate(i);
    }
    let active = active && o.proxy_command.is_none() && o.jump_host.is_none();
    let mut first = true;
    let mut last: Option<(Option<String>, String, i32)> = None;
    let mut sdup = orig.as_str();
    loop {
        let (rest, cp) = match sdup.rfind(',') {
            Some(i) => (
                Some(sdup.get(..i).unwrap_or("")),
                sdup.get(i + 1..).unwrap_or(""),
            ),
            None => (None, sdup),
        };
        let parsed = match misc::parse_uri("ssh", cp) {
            misc::Uri::Invalid => return Err(None),
            misc::Uri::Ok(u, h, p, path) => {
                if path.is_some() {
                    return Err(None);
                }
                (u, h, p)
            }
            misc::Uri::NotUri => misc::parse_user_host_port(cp).ok_or(None)?,
        };
        if strict {
            if !valid_hostname(&parsed.1) {
                return Err(Some(format!(
                    "parse_jump: invalid hostname \"{}\"",
                    parsed.1
                )));
            }
            if let Some(u) = &parsed.0 {
                if !valid_ruser(u) {
                    return Err(Some(format!("parse_jump: invalid username \"{u}\"")));
                }
            }
        }
        if first {
            last = Some(parsed);
        }
        first = false;
        match rest {
            Some(r) => sdup = r,
            None => break,
        }
    }
    if active {
        if let Some((u, h, p)) = last {
            o.jump_user = u;
            o.jump_host = Some(h);
            o.jump_port = Some(p);
            o.proxy_command = Some("none".to_owned());
            if let Some(i) = orig.rfind(',') {
                o.jump_extra = Some(orig.get(..i).unwrap_or("").to_owned());
            }
        }
    }
    Ok(())
}

/// Host names given on the command line may not contain shell metacharacters
/// (`valid_hostname`, CVE-2023-51385).
pub(crate) fn valid_hostname(s: &str) -> bool {
    !s.starts_with('-')
        && !s.chars().any(|c| {
            "'`\"$\\;&<>|(){}".contains(c)
                || c.is_ascii_whitespace()
                || c == '\x0b'
                || c.is_ascii_control()
        })
}

/// User names given on the command line (`valid_ruser`).
pub(crate) fn valid_ruser(s: &str) -> bool {
    if s.starts_with('-') {
        return false;
    }
    let b: Vec<char> = s.chars().collect();
    for (i, c) in b.iter().enumerate() {
        if "'`\";&<>|(){}".contains(*c) {
            return false;
        }
        let next = b.get(i + 1).copied();
        if (c.is_ascii_whitespace() || *c == '\x0b') && next == Some('-') {
            return false;
        }
        if *c == '\\' && next.is_none() {
            return false;
        }
    }
    true
}

/// `ssh_connection_hash`: SHA-1 of local host, remote host, port and user, in hex (`%C`).
pub(crate) fn connection_hash(thishost: &str, host: &str, port: &str, user: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(thishost.as_bytes());
    h.update(host.as_bytes());
    h.update(port.as_bytes());
    h.update(user.as_bytes());
    let d = h.finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Reader<'_> {
    fn error(&mut self, msg: String) -> LineResult {
        self.log.push(Diagnostic::new(Level::Error, msg));
        Ok(false)
    }

    fn debug(&mut self, level: Level, msg: String) {
        self.log.push(Diagnostic::new(level, msg));
    }

    fn fatal(&mut self, msg: String) -> Error {
        Error::fatal(msg, std::mem::take(&mut self.log))
    }

    /// Read one file (`read_config_file_depth`). `Ok(false)` when it could not be
    /// opened (OpenSSH then decides whether that matters).
    pub(crate) fn read_file(
        &mut self,
        o: &mut Raw,
        filename: &str,
        flags: Flags,
        active: &mut bool,
        depth: u32,
    ) -> Result<Result<(), std::io::Error>, Error> {
        if depth > MAX_DEPTH {
            return Err(self.fatal("Too many recursive configuration includes".to_owned()));
        }
        self.files_read += 1;
        if self.files_read > MAX_FILES {
            return Err(self.fatal(format!("{filename}: too many configuration files")));
        }
        let data = match self.fs.read(Path::new(filename)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Vec::new(),
            Err(e) => return Ok(Err(e)),
        };
        self.bytes_read = self.bytes_read.saturating_add(data.len());
        if self.bytes_read > crate::MAX_TOTAL_BYTES {
            return Err(self.fatal(format!("{filename}: configuration too large")));
        }
        if flags.checkperm {
            let meta = self.fs.metadata(Path::new(filename)).map_err(|e| {
                Error::fatal(
                    format!("fstat {filename}: {}", crate::io_error_text(&e)),
                    std::mem::take(&mut self.log),
                )
            })?;
            let uid = self.pw.uid;
            let owner_ok = meta.uid == 0 || meta.uid == uid;
            let mode_ok = meta.mode & 0o002 == 0
                && (meta.mode & 0o020 == 0 || self.ctx.secure_group(meta.gid));
            if !owner_ok || !mode_ok {
                return Err(self.fatal(format!("Bad owner or permissions on {filename}")));
            }
        }
        self.debug(
            Level::Debug1,
            format!("Reading configuration data {}", f200(filename)),
        );
        let mut bad = 0usize;
        for (i, raw) in crate::lex::lines(&data).iter().enumerate() {
            let linenum = u32::try_from(i + 1).unwrap_or(u32::MAX);
            self.lines_done += 1;
            if self.lines_done > crate::MAX_TOTAL_LINES {
                return Err(self.fatal(format!("{filename}: too many configuration lines")));
            }
            if !self.process_line(o, raw, filename, linenum, Some(&mut *active), flags, depth)? {
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
        Ok(Ok(()))
    }

    /// `process_config_line_depth`. `active == None` marks a command-line option.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn process_line(
        &mut self,
        o: &mut Raw,
        raw_line: &str,
        filename: &str,
        linenum: u32,
        active: Option<&mut bool>,
        flags: Flags,
        depth: u32,
    ) -> LineResult {
        let mut cmdline_active = true;
        let cmdline = active.is_none();
        let activep: &mut bool = match active {
            Some(a) => a,
            None => &mut cmdline_active,
        };
        let line = crate::lex::clean_line(raw_line);
        if line.is_empty() {
            return Ok(true);
        }
        let split = match split_keyword(line) {
            Ok(None) => return Ok(true),
            Ok(Some(s)) => s,
            Err(kw) => {
                return self.error(format!(
                    "{filename} line {linenum}: no argument after keyword \"{}\"",
                    kw.to_ascii_lowercase()
                ));
            }
        };
        let keyword = split.keyword.to_ascii_lowercase();
        let str_rest = split.rest;
        let op = match keywords::lookup(&keyword, self.profile.v10()) {
            Some(op) => Some(op),
            None => {
                if o.ignored_unknown
                    .as_deref()
                    .is_some_and(|pat| match_pattern_list(&keyword, pat, true) == 1)
                {
                    None
                } else {
                    self.log.push(Diagnostic::at(
                        Level::Error,
                        filename,
                        linenum,
                        format!("{filename}: line {linenum}: Bad configuration option: {keyword}"),
                    ));
                    // OpenSSH still splits the arguments; a quoting error is reported too.
                    if argv_split(str_rest, true).is_err() {
                        return self.error(format!("{filename} line {linenum}: invalid quotes"));
                    }
                    return Ok(false);
                }
            }
        };
        let Ok(av) = argv_split(str_rest, true) else {
            return self.error(format!("{filename} line {linenum}: invalid quotes"));
        };
        let mut args = av.into_iter();
        let Some(op) = op else {
            self.debug(
                Level::Debug1,
                format!("{filename} line {linenum}: Ignored unknown option \"{keyword}\""),
            );
            return Ok(true);
        };
        let active = *activep;
        let fname = f200(filename);

        macro_rules! bad {
            ($($t:tt)*) => { return self.error(format!($($t)*)) };
        }
        macro_rules! missing {
            () => {
                bad!("{fname} line {linenum}: Missing argument.")
            };
        }

        // Shared argument handlers (OpenSSH's goto labels).
        let parse_time =
            |this: &mut Self, arg: Option<String>| -> Result<Option<Option<i32>>, Error> {
                match arg.as_deref() {
                    None | Some("") => {
                        this.log.push(Diagnostic::new(
                            Level::Error,
                            format!("{filename} line {linenum}: missing time value."),
                        ));
                        Ok(None)
                    }
                    Some("none") => Ok(Some(None)),
                    Some(a) => match misc::convtime(a) {
                        Some(v) => Ok(Some(Some(v as i32))),
                        None => {
                            this.log.push(Diagnostic::new(
                                Level::Error,
                                format!("{filename} line {linenum}: invalid time value."),
                            ));
                            Ok(None)
                        }
                    },
                }
            };
        let multistate = |this: &mut Self, arg: Option<String>| -> Option<String> {
            match arg {
                None => {
                    this.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{filename} line {linenum}: missing argument."),
                    ));
                    this.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{filename} line {linenum}: unsupported option \"(null)\"."),
                    ));
                    None
                }
                Some(a) if a.is_empty() => {
                    this.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{filename} line {linenum}: missing argument."),
                    ));
                    this.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{filename} line {linenum}: unsupported option \"\"."),
                    ));
                    None
                }
                Some(a) => Some(a),
            }
        };
        macro_rules! flag_table {
            ($field:expr, $table:expr) => {{
                let Some(a) = multistate(self, args.next()) else {
                    return Ok(false);
                };
                match multistate_parse($table, &a) {
                    Some(v) => set(&mut $field, active, v),
                    None => bad!("{filename} line {linenum}: unsupported option \"{a}\"."),
                }
            }};
        }
        macro_rules! flag {
            ($field:expr) => {
                flag_table!($field, FLAG)
            };
        }
        macro_rules! int {
            ($field:expr) => {{
                let a = args.next();
                match misc::atoi_err(a.as_deref()) {
                    Ok(v) => set(&mut $field, active, v),
                    Err(e) => bad!("{filename} line {linenum}: integer value {e}."),
                }
            }};
        }
        macro_rules! time {
            ($field:expr) => {{
                match parse_time(self, args.next())? {
                    None => return Ok(false),
                    Some(None) => {}
                    Some(Some(v)) => set(&mut $field, active, v),
                }
            }};
        }
        macro_rules! string {
            ($field:expr) => {{
                match args.next() {
                    Some(a) if !a.is_empty() => set(&mut $field, active, a),
                    _ => missing!(),
                }
            }};
        }
        macro_rules! command {
            ($field:expr) => {{
                let cmd = str_rest
                    .trim_start_matches([' ', '\t', '\r', '\n', '='])
                    .to_owned();
                set(&mut $field, active, cmd);
                args = Vec::new().into_iter();
            }};
        }
        macro_rules! pubkey_algos {
            ($field:expr) => {{
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.key_names_valid(body) {
                    bad!("{filename} line {linenum}: Bad key types '{a}'.");
                }
                set(&mut $field, active, a);
            }};
        }
        macro_rules! char_array {
            ($field:expr, $max:expr) => {{
                let was_empty = $field.is_empty();
                let all: Vec<String> = args.by_ref().collect();
                let n = all.len();
                for (i, a) in all.into_iter().enumerate() {
                    if a.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    if a.eq_ignore_ascii_case("none") && (i > 0 || i + 1 < n) {
                        bad!("{filename} line {linenum}: keyword {keyword} \"none\" argument must appear alone.");
                    }
                    if active && was_empty {
                        if $field.len() >= $max {
                            bad!("{filename} line {linenum}: too many {keyword} entries.");
                        }
                        $field.push(a);
                    }
                }
            }};
        }

        match op {
            Op::Ignore => args = Vec::new().into_iter(),
            Op::Deprecated => {
                self.debug(
                    Level::Debug1,
                    format!("{filename} line {linenum}: Deprecated option \"{keyword}\""),
                );
                args = Vec::new().into_iter();
            }
            Op::Unsupported => {
                self.log.push(Diagnostic::at(
                    Level::Error,
                    filename,
                    linenum,
                    format!("{filename} line {linenum}: Unsupported option \"{keyword}\""),
                ));
                args = Vec::new().into_iter();
            }
            Op::ConnectTimeout => time!(o.connection_timeout),
            Op::ForwardAgent => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    bad!("{filename} line {linenum}: missing argument.")
                };
                if let Some(v) = multistate_parse(FLAG, &a) {
                    set(&mut o.forward_agent, active, v);
                } else {
                    set(&mut o.forward_agent, active, true);
                    if !self.agent_path_ok(&a, fname, linenum) {
                        return Ok(false);
                    }
                    set(&mut o.forward_agent_sock_path, active, a);
                }
            }
            Op::ForwardX11 => flag!(o.forward_x11),
            Op::ForwardX11Trusted => flag!(o.forward_x11_trusted),
            Op::ForwardX11Timeout => time!(o.forward_x11_timeout),
            Op::GatewayPorts => flag!(o.gateway_ports),
            Op::ExitOnForwardFailure => flag!(o.exit_on_forward_failure),
            Op::PasswordAuthentication => flag!(o.password_authentication),
            Op::KbdInteractiveAuthentication => flag!(o.kbd_interactive_authentication),
            Op::KbdInteractiveDevices => string!(o.kbd_interactive_devices),
            Op::PubkeyAuthentication => flag_table!(o.pubkey_authentication, PUBKEY_AUTH),
            Op::HostbasedAuthentication => flag!(o.hostbased_authentication),
            Op::GssAuthentication => flag!(o.gss_authentication),
            Op::GssKeyEx => flag!(o.gss_keyex),
            Op::GssDelegateCreds => flag!(o.gss_deleg_creds),
            Op::GssTrustDns => flag!(o.gss_trust_dns),
            Op::GssClientIdentity => string!(o.gss_client_identity),
            Op::GssServerIdentity => string!(o.gss_server_identity),
            Op::GssRenewalRekey => flag!(o.gss_renewal_rekey),
            Op::GssKexAlgorithms => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                if let Err(name) = self.profile.algorithms.kex_check(&a, true) {
                    if let Some(n) = name {
                        self.log.push(Diagnostic::new(
                            Level::Error,
                            format!("Unsupported KEX algorithm \"{n}\""),
                        ));
                    }
                    bad!("{fname} line {linenum}: Bad GSSAPI KexAlgorithms '{a}'.");
                }
                set(&mut o.gss_kex_algorithms, active, a);
            }
            Op::BatchMode => flag!(o.batch_mode),
            Op::CheckHostIp => flag!(o.check_host_ip),
            Op::VerifyHostKeyDns => flag_table!(o.verify_host_key_dns, YESNOASK),
            Op::StrictHostKeyChecking => flag_table!(o.strict_host_key_checking, STRICT_HOSTKEY),
            Op::Compression => flag_table!(o.compression, COMPRESSION),
            Op::TcpKeepAlive => flag!(o.tcp_keep_alive),
            Op::NoHostAuthenticationForLocalhost => flag!(o.no_host_authentication_for_localhost),
            Op::NumberOfPasswordPrompts => int!(o.number_of_password_prompts),
            Op::RekeyLimit => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    bad!("{fname} line {linenum}: Missing argument.")
                };
                let v = if a == "default" {
                    0
                } else {
                    match misc::scan_scaled(&a) {
                        Err(e) => bad!("{fname} line {linenum}: Bad number '{a}': {e}"),
                        Ok(v) if v != 0 && v < 16 => {
                            bad!("{fname} line {linenum}: RekeyLimit too small")
                        }
                        Ok(v) => v,
                    }
                };
                set(&mut o.rekey_limit, active, v);
                let rest: Vec<String> = args.by_ref().collect();
                let mut rest_it = rest.into_iter();
                match rest_it.next() {
                    None => {}
                    Some(n) if n == "none" => {}
                    Some(t) => match parse_time(self, Some(t))? {
                        None => return Ok(false),
                        Some(None) => {}
                        Some(Some(v)) => set(&mut o.rekey_interval, active, v),
                    },
                }
                args = rest_it.collect::<Vec<_>>().into_iter();
            }
            Op::IdentityFile => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                if active {
                    if o.identity_files.len() >= MAX_IDENTITY_FILES {
                        bad!(
                            "{fname} line {linenum}: Too many identity files specified (max {MAX_IDENTITY_FILES})."
                        );
                    }
                    if let Err(e) = add_identity_file(o, a, flags.userconf) {
                        return Err(self.fatal(e));
                    }
                }
            }
            Op::CertificateFile => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                if active {
                    if o.certificate_files.len() >= MAX_CERTIFICATE_FILES {
                        bad!(
                            "{fname} line {linenum}: Too many certificate files specified (max {MAX_CERTIFICATE_FILES})."
                        );
                    }
                    if let Err(e) = add_certificate_file(o, a, flags.userconf) {
                        return Err(self.fatal(e));
                    }
                }
            }
            Op::XAuthLocation => string!(o.xauth_location),
            Op::User => string!(o.user),
            Op::GlobalKnownHostsFile => char_array!(o.system_hostfiles, MAX_HOSTS_FILES),
            Op::UserKnownHostsFile => char_array!(o.user_hostfiles, MAX_HOSTS_FILES),
            Op::Hostname => string!(o.hostname),
            Op::HostKeyAlias => string!(o.host_key_alias),
            Op::PreferredAuthentications => string!(o.preferred_authentications),
            Op::BindAddress => string!(o.bind_address),
            Op::BindInterface => string!(o.bind_interface),
            Op::Pkcs11Provider => string!(o.pkcs11_provider),
            Op::SecurityKeyProvider => string!(o.sk_provider),
            Op::KnownHostsCommand => command!(o.known_hosts_command),
            Op::ProxyCommand => {
                if o.jump_host.is_some() {
                    // ProxyJump already set: ProxyCommand is ignored.
                    args = Vec::new().into_iter();
                } else {
                    command!(o.proxy_command)
                }
            }
            Op::ProxyJump => {
                let spec = str_rest.trim_start_matches([' ', '\t', '\r', '\n', '=']);
                if parse_jump(spec, o, false, active).is_err() {
                    bad!("{fname} line {linenum}: Invalid ProxyJump \"{spec}\"");
                }
                args = Vec::new().into_iter();
            }
            Op::Port => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let v = misc::a2port(&a);
                if v <= 0 {
                    bad!("{fname} line {linenum}: Bad port '{a}'.");
                }
                set(&mut o.port, active, v);
            }
            Op::ConnectionAttempts => int!(o.connection_attempts),
            Op::Ciphers => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.ciphers_valid(body) {
                    bad!("{fname} line {linenum}: Bad SSH2 cipher spec '{a}'.");
                }
                set(&mut o.ciphers, active, a);
            }
            Op::Macs => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') && !self.profile.algorithms.macs_valid(body) {
                    bad!("{fname} line {linenum}: Bad SSH2 MAC spec '{a}'.");
                }
                set(&mut o.macs, active, a);
            }
            Op::KexAlgorithms => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let body = a.strip_prefix(['+', '^']).unwrap_or(&a);
                if !a.starts_with('-') {
                    if let Err(name) = self.profile.algorithms.kex_check(body, false) {
                        if let Some(n) = name {
                            self.log.push(Diagnostic::new(
                                Level::Error,
                                format!("Unsupported KEX algorithm \"{n}\""),
                            ));
                        }
                        bad!("{fname} line {linenum}: Bad SSH2 KexAlgorithms '{a}'.");
                    }
                }
                set(&mut o.kex_algorithms, active, a);
            }
            Op::HostKeyAlgorithms => pubkey_algos!(o.hostkeyalgorithms),
            Op::CaSignatureAlgorithms => pubkey_algos!(o.ca_sign_algorithms),
            Op::HostbasedAcceptedAlgorithms => pubkey_algos!(o.hostbased_accepted_algos),
            Op::PubkeyAcceptedAlgorithms => pubkey_algos!(o.pubkey_accepted_algos),
            Op::LogLevel => {
                let a = args.next();
                match a.as_deref().and_then(LogLevel::parse) {
                    Some(v) => set(&mut o.log_level, active, v),
                    None => bad!(
                        "{fname} line {linenum}: unsupported log level '{}'",
                        a.as_deref().unwrap_or("<NONE>")
                    ),
                }
            }
            Op::LogFacility => {
                let a = args.next();
                match a.as_deref().and_then(SyslogFacility::parse) {
                    // OpenSSH sets the facility even in inactive blocks.
                    Some(v) => set(&mut o.log_facility, true, v),
                    None => {
                        bad!(
                            "{fname} line {linenum}: unsupported log facility '{}'",
                            a.as_deref().unwrap_or("<NONE>")
                        )
                    }
                }
            }
            Op::LogVerbose => {
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
                    // OpenSSH re-checks emptiness per argument: only the first is kept.
                    if active && o.log_verbose.is_empty() {
                        o.log_verbose.push(a);
                    }
                }
            }
            Op::LocalForward | Op::RemoteForward | Op::DynamicForward => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let remote = op == Op::RemoteForward;
                let mut dynamic = op == Op::DynamicForward;
                let mut spec = String::new();
                if !dynamic {
                    match args.next().filter(|a| !a.is_empty()) {
                        None if remote => dynamic = true,
                        None => bad!("{fname} line {linenum}: Missing target argument."),
                        Some(b) => spec = trunc_bytes(&format!("{a}:{b}"), 255),
                    }
                }
                if dynamic {
                    spec = trunc_bytes(&a, 255);
                }
                let env = |v: &str| self.ctx.env(v);
                let Some(fwd) = parse_forward(&spec, dynamic, remote, &env) else {
                    bad!("{fname} line {linenum}: Bad forwarding specification.");
                };
                if active {
                    if remote {
                        add_forward(&mut o.remote_forwards, fwd);
                    } else {
                        add_forward(&mut o.local_forwards, fwd);
                    }
                }
            }
            Op::PermitRemoteOpen => {
                let was_empty = o.permitted_remote_opens.is_empty();
                let all: Vec<String> = args.by_ref().collect();
                let n = all.len();
                let name = keywords::name_of(op);
                if n == 0 {
                    return Err(self.fatal(format!(
                        "{filename} line {linenum}: missing {name} specification"
                    )));
                }
                for (i, a) in all.into_iter().enumerate() {
                    if a.eq_ignore_ascii_case("none") || a.eq_ignore_ascii_case("any") {
                        if i > 0 || i + 1 < n {
                            bad!(
                                "{filename} line {linenum}: keyword {keyword} \"{a}\" argument must appear alone."
                            );
                        }
                    } else {
                        let Some((_, port)) = misc::hpdelim(&a) else {
                            return Err(self.fatal(format!(
                                "{filename} line {linenum}: missing host in {name}"
                            )));
                        };
                        let port_ok = port.is_some_and(|p| p == "*" || misc::a2port(p) > 0);
                        if !port_ok {
                            return Err(self.fatal(format!(
                                "{filename} line {linenum}: bad port number in {name}"
                            )));
                        }
                    }
                    if active && was_empty && o.permitted_remote_opens.len() < MAX_LIST {
                        o.permitted_remote_opens.push(a);
                    }
                }
            }
            Op::ClearAllForwardings => flag!(o.clear_forwardings),
            Op::Host => {
                if cmdline {
                    bad!("Host directive not supported as a command-line option");
                }
                *activep = false;
                let mut first_match: Option<String> = None;
                for a in args.by_ref() {
                    if a.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    if flags.nevermatch {
                        break;
                    }
                    let (negated, pat) = match a.strip_prefix('!') {
                        Some(p) => (true, p),
                        None => (false, a.as_str()),
                    };
                    if match_pattern(&self.host, pat) {
                        if negated {
                            self.debug(
                                Level::Debug1,
                                format!(
                                    "{fname} line {linenum}: Skipping Host block because of negated match for {}",
                                    trunc(pat, 100)
                                ),
                            );
                            *activep = false;
                            break;
                        }
                        if !*activep {
                            first_match = Some(pat.to_owned());
                        }
                        *activep = true;
                    }
                }
                args = Vec::new().into_iter();
                if *activep {
                    self.debug(
                        Level::Debug1,
                        format!(
                            "{fname} line {linenum}: Applying options for {}",
                            trunc(first_match.as_deref().unwrap_or(""), 100)
                        ),
                    );
                }
            }
            Op::Match => {
                if cmdline {
                    bad!("Host directive not supported as a command-line option");
                }
                let mut cond = Some(str_rest);
                let value =
                    self.match_cfg_line(o, &mut cond, flags.final_pass, filename, linenum)?;
                if value < 0 {
                    bad!("{fname} line {linenum}: Bad Match condition");
                }
                *activep = if flags.nevermatch { false } else { value == 1 };
                if cond.is_none_or(str::is_empty) {
                    args = Vec::new().into_iter();
                }
            }
            Op::EscapeChar => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let b = a.as_bytes();
                let v = if a == "none" {
                    None
                } else if b.len() == 1 {
                    b.first().copied()
                } else if b.len() == 2
                    && b.first() == Some(&b'^')
                    && b.get(1).is_some_and(|c| (64..128).contains(c))
                {
                    b.get(1).map(|c| c & 31)
                } else {
                    bad!("{fname} line {linenum}: Bad escape character.");
                };
                set(&mut o.escape_char, active, v);
            }
            Op::AddressFamily => flag_table!(o.address_family, ADDRESS_FAMILY),
            Op::EnableSshKeysign => flag!(o.enable_ssh_keysign),
            Op::IdentitiesOnly => flag!(o.identities_only),
            Op::ServerAliveInterval => time!(o.server_alive_interval),
            Op::ServerAliveCountMax => int!(o.server_alive_count_max),
            Op::SendEnv => {
                for a in args.by_ref() {
                    if a.is_empty() || a.contains('=') {
                        bad!("{filename} line {linenum}: Invalid environment name.");
                    }
                    if !active {
                        continue;
                    }
                    if let Some(pat) = a.strip_prefix('-') {
                        let before = o.send_env.len();
                        o.send_env.retain(|e| !match_pattern(e, pat));
                        if before != o.send_env.len() {
                            self.debug(
                                Level::Debug3,
                                format!("{filename} line {linenum}: removing environment {pat}"),
                            );
                        }
                        continue;
                    }
                    if o.send_env.len() < MAX_LIST {
                        o.send_env.push(a);
                    }
                }
            }
            Op::SetEnv => {
                let was_empty = o.setenv.is_empty();
                for a in args.by_ref() {
                    let Some((name, _)) = a.split_once('=') else {
                        bad!("{filename} line {linenum}: Invalid SetEnv.");
                    };
                    if !active || !was_empty {
                        continue;
                    }
                    let dup = o
                        .setenv
                        .iter()
                        .any(|e| e.split_once('=').is_some_and(|(n, _)| n == name));
                    if dup {
                        continue;
                    }
                    if o.setenv.len() < MAX_LIST {
                        o.setenv.push(a);
                    }
                }
            }
            Op::ControlPath => string!(o.control_path),
            Op::ControlMaster => flag_table!(o.control_master, CONTROL_MASTER),
            Op::ControlPersist => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    bad!("{fname} line {linenum}: Missing ControlPersist argument.")
                };
                let v = if a == "no" || a == "false" {
                    (false, 0)
                } else if a == "yes" || a == "true" {
                    (true, 0)
                } else if let Some(t) = misc::convtime(&a) {
                    (true, t as i32)
                } else {
                    bad!("{fname} line {linenum}: Bad ControlPersist argument.");
                };
                set(&mut o.control_persist, active, v);
            }
            Op::HashKnownHosts => flag!(o.hash_known_hosts),
            Op::Tunnel => flag_table!(o.tun_open, TUNNEL),
            Op::TunnelDevice => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                let (l, r) = misc::a2tun(&a);
                if l == misc::SSH_TUNID_ERR {
                    bad!("{fname} line {linenum}: Bad tun device.");
                }
                set(&mut o.tun_device, active, (l, r));
            }
            Op::LocalCommand => command!(o.local_command),
            Op::PermitLocalCommand => flag!(o.permit_local_command),
            Op::RemoteCommand => command!(o.remote_command),
            Op::VisualHostKey => flag!(o.visual_host_key),
            Op::Include => {
                if cmdline {
                    bad!("Include directive not supported as a command-line option");
                }
                let all: Vec<String> = args.by_ref().collect();
                for a in all {
                    if a.is_empty() {
                        bad!("{filename} line {linenum}: keyword {keyword} empty argument");
                    }
                    if a.starts_with('~') && !flags.userconf {
                        bad!("{fname} line {linenum}: bad include path {a}.");
                    }
                    let pattern = if !a.starts_with('/') && !a.starts_with('~') {
                        if flags.userconf {
                            format!("~/.ssh/{a}")
                        } else {
                            format!("/etc/ssh/{a}")
                        }
                    } else {
                        a.clone()
                    };
                    let globbed = if let Some(rest) = pattern.strip_prefix('~') {
                        // GLOB_TILDE: ~ and ~user are expanded before matching.
                        let (user, tail) = match rest.find('/') {
                            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
                            None => (rest, ""),
                        };
                        let home = if user.is_empty() {
                            Some(self.pw.home.clone())
                        } else {
                            self.ctx.home_dir(user)
                        };
                        match home {
                            Some(h) => format!("{h}{tail}"),
                            None => pattern.clone(),
                        }
                    } else {
                        pattern.clone()
                    };
                    let paths = match self.fs.glob(&globbed) {
                        Ok(p) => p,
                        Err(_) => bad!("{fname} line {linenum}: glob failed for {pattern}."),
                    };
                    if paths.is_empty() {
                        self.debug(
                            Level::Debug1,
                            format!("{fname} line {linenum}: include {pattern} matched no files"),
                        );
                        continue;
                    }
                    let oactive = *activep;
                    for p in paths {
                        let p = p.to_string_lossy().into_owned();
                        self.debug(
                            Level::Debug3,
                            format!(
                                "{fname} line {linenum}: Including file {p} depth {depth}{}",
                                if oactive { "" } else { " (parse only)" }
                            ),
                        );
                        let sub = Flags {
                            checkperm: true,
                            nevermatch: flags.nevermatch || !oactive,
                            ..flags
                        };
                        match self.read_file(o, &p, sub, activep, depth + 1)? {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => {
                                *activep = oactive;
                                bad!(
                                    "Can't open user config file {}: {}",
                                    trunc(&p, 100),
                                    trunc(&crate::io_error_text(&e), 100)
                                );
                            }
                        }
                        *activep = oactive;
                    }
                }
            }
            Op::IpQos => {
                let a = args.next();
                let Some(v1) = a.as_deref().and_then(misc::parse_ipqos) else {
                    bad!(
                        "{filename} line {linenum}: Bad IPQoS value: {}",
                        a.as_deref().unwrap_or("(null)")
                    );
                };
                let v2 = match args.next() {
                    None => v1,
                    Some(b) => match misc::parse_ipqos(&b) {
                        Some(v) => v,
                        None => bad!("{filename} line {linenum}: Bad IPQoS value: {b}"),
                    },
                };
                set(&mut o.ip_qos, active, (v1, v2));
            }
            Op::RequestTty => flag_table!(o.request_tty, REQUEST_TTY),
            Op::SessionType => flag_table!(o.session_type, SESSION_TYPE),
            Op::StdinNull => flag!(o.stdin_null),
            Op::ForkAfterAuthentication => flag!(o.fork_after_authentication),
            Op::IgnoreUnknown => string!(o.ignored_unknown),
            Op::ProxyUseFdpass => flag!(o.proxy_use_fdpass),
            Op::CanonicalDomains => {
                let was_set = !o.canonical_domains.is_empty();
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
                    let name = match misc::valid_domain(&a, true) {
                        Ok(n) => n,
                        Err(e) => bad!("{filename} line {linenum}: {e}"),
                    };
                    if !active || was_set {
                        continue;
                    }
                    if o.canonical_domains.len() >= MAX_CANON_DOMAINS {
                        bad!("{filename} line {linenum}: too many hostname suffixes.");
                    }
                    o.canonical_domains.push(name);
                }
            }
            Op::CanonicalizePermittedCnames => {
                let was_set = !o.permitted_cnames.is_empty();
                let all: Vec<String> = args.by_ref().collect();
                let n = all.len();
                for (i, a) in all.into_iter().enumerate() {
                    let pair = if a.eq_ignore_ascii_case("none") {
                        if i > 0 || i + 1 < n {
                            bad!(
                                "{filename} line {linenum}: keyword {keyword} \"none\" argument must appear alone."
                            );
                        }
                        (a.clone(), String::new())
                    } else if a == "*" {
                        (a.clone(), a.clone())
                    } else {
                        let lower = a.to_ascii_lowercase();
                        match lower.split_once(':') {
                            Some((s, t)) if !t.is_empty() => (s.to_owned(), t.to_owned()),
                            _ => bad!(
                                "{filename} line {linenum}: Invalid permitted CNAME \"{lower}\""
                            ),
                        }
                    };
                    if !active || was_set {
                        continue;
                    }
                    if o.permitted_cnames.len() >= MAX_CANON_DOMAINS {
                        bad!("{filename} line {linenum}: too many permitted CNAMEs.");
                    }
                    o.permitted_cnames.push(pair);
                }
            }
            Op::CanonicalizeHostname => flag_table!(o.canonicalize_hostname, CANONICALIZE),
            Op::CanonicalizeMaxDots => int!(o.canonicalize_max_dots),
            Op::CanonicalizeFallbackLocal => flag!(o.canonicalize_fallback_local),
            Op::StreamLocalBindMask => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    bad!("{fname} line {linenum}: Missing StreamLocalBindMask argument.")
                };
                let (v, used, _) = misc::c_strtol(&a, 8);
                if used == 0 || !(0..=0o777).contains(&v) {
                    bad!("{fname} line {linenum}: Bad mask.");
                }
                // OpenSSH stores the mask unconditionally (last value wins).
                o.streamlocal_bind_mask = Some(v as u32);
            }
            Op::StreamLocalBindUnlink => flag!(o.streamlocal_bind_unlink),
            Op::RevokedHostKeys => string!(o.revoked_host_keys),
            Op::FingerprintHash => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                match FingerprintHash::parse(&a) {
                    Some(v) => set(&mut o.fingerprint_hash, active, v),
                    None => bad!("{fname} line {linenum}: Invalid hash algorithm \"{a}\"."),
                }
            }
            Op::UpdateHostkeys => flag_table!(o.update_hostkeys, YESNOASK),
            Op::AddKeysToAgent => {
                let a = args.next();
                let b = args.next();
                let mut v = a
                    .as_deref()
                    .and_then(|x| multistate_parse(YESNOASKCONFIRM, x));
                if a.as_deref().is_none_or(str::is_empty) {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{filename} line {linenum}: missing argument."),
                    ));
                    v = None;
                }
                let mut life = 0i64;
                match (v, &b) {
                    (Some(AddKeysToAgent::Confirm), Some(t)) => match misc::convtime(t) {
                        Some(x) => life = x,
                        None => bad!("{filename} line {linenum}: invalid time value."),
                    },
                    (None, None) => match a.as_deref().and_then(misc::convtime) {
                        Some(x) => {
                            life = x;
                            v = Some(AddKeysToAgent::Yes);
                        }
                        None => bad!("{filename} line {linenum}: unsupported option"),
                    },
                    (None, Some(_)) | (Some(_), Some(_)) => {
                        bad!("{filename} line {linenum}: unsupported option")
                    }
                    (Some(_), None) => {}
                }
                if let Some(v) = v {
                    set(&mut o.add_keys_to_agent, active, (v, life as i32));
                }
            }
            Op::IdentityAgent => {
                let Some(a) = args.next().filter(|a| !a.is_empty()) else {
                    missing!()
                };
                if !self.agent_path_ok(&a, fname, linenum) {
                    return Ok(false);
                }
                set(&mut o.identity_agent, active, a);
            }
            Op::EnableEscapeCommandline => flag!(o.enable_escape_commandline),
            Op::RequiredRsaSize => int!(o.required_rsa_size),
            Op::Tag => string!(o.tag),
            Op::ObscureKeystrokeTiming => {
                let a = args.next().unwrap_or_default();
                let v = if a == "yes" || a == "true" {
                    20
                } else if a == "no" || a == "false" {
                    0
                } else if let Some(rest) = a.strip_prefix("interval:") {
                    match misc::strtonum(rest, 1, 1000) {
                        Ok(v) => v as i32,
                        Err(e) => {
                            bad!("{filename} line {linenum}: obscure keystroke interval is {e}")
                        }
                    }
                } else {
                    bad!("{filename} line {linenum}: unsupported argument \"{a}\"");
                };
                set(&mut o.obscure_keystroke_timing, active, v);
            }
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
                            return Err(self.fatal(format!(
                                "{filename} line {linenum}: invalid channel timeout {a}"
                            )));
                        }
                    }
                    if active && was_empty && o.channel_timeouts.len() < MAX_LIST {
                        o.channel_timeouts.push(a);
                    }
                }
            }
            Op::VersionAddendum => {
                let v = str_rest.trim_start_matches([' ', '\t', '\r', '\n', '=']);
                let v = match v.find('#') {
                    Some(i) => v.get(..i).unwrap_or("").trim_end(),
                    None => v,
                };
                let v = if v.eq_ignore_ascii_case("none") {
                    String::new()
                } else {
                    v.to_owned()
                };
                set(&mut o.version_addendum, active, v);
                args = Vec::new().into_iter();
            }
        }
        if args.len() > 0 {
            bad!("{fname} line {linenum}: keyword {keyword} extra arguments at end of line");
        }
        Ok(true)
    }

    /// Validation shared by `IdentityAgent` and `ForwardAgent <path>`.
    fn agent_path_ok(&mut self, a: &str, fname: &str, linenum: u32) -> bool {
        let env = |v: &str| self.ctx.env(v);
        let mut tmp = Vec::new();
        let expanded = crate::expand::expand(a, None, Some(&env), &mut tmp);
        if !matches!(expanded, Ok(Some(_))) {
            self.log.append(&mut tmp);
            self.log.push(Diagnostic::new(
                Level::Error,
                format!("{fname} line {linenum}: Invalid environment expansion {a}."),
            ));
            return false;
        }
        if let Some(rest) = a.strip_prefix('$') {
            if !rest.starts_with('{') && !misc::valid_env_name(rest) {
                self.log.push(Diagnostic::new(
                    Level::Error,
                    format!("{fname} line {linenum}: Invalid environment name {a}."),
                ));
                return false;
            }
        }
        true
    }

    /// `match_cfg_line`: 1 match, 0 no match, -1 bad condition.
    fn match_cfg_line(
        &mut self,
        o: &Raw,
        cond: &mut Option<&str>,
        final_pass: bool,
        filename: &str,
        linenum: u32,
    ) -> Result<i32, Error> {
        let fname = f200(filename);
        let port = match o.port {
            Some(p) if p > 0 => p,
            _ => self.ctx.default_port(),
        };
        let ruser = o.user.clone().unwrap_or_else(|| self.pw.name.clone());
        let host = if final_pass {
            o.hostname.clone().unwrap_or_default()
        } else if let Some(h) = &o.hostname {
            let t = [('h', self.host.as_str())];
            match crate::expand::expand(h, Some(&t), None, &mut self.log) {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => {
                    self.log.push(Diagnostic::new(Level::Error, e.detail));
                    return Err(self.fatal("percent_expand: failed".to_owned()));
                }
            }
        } else {
            self.host.clone()
        };
        let original_host = self.original_host.clone();
        self.debug(
            Level::Debug2,
            format!(
                "checking match for '{}' host {host} originally {original_host}",
                cond.unwrap_or("")
            ),
        );
        let mut result = 1i32;
        let mut attributes = 0;
        while let Some(oattrib) = strdelim(cond) {
            if oattrib.is_empty() {
                break;
            }
            if oattrib.starts_with('#') {
                *cond = None;
                break;
            }
            let negate = oattrib.starts_with('!');
            let attrib = if negate {
                oattrib.get(1..).unwrap_or("")
            } else {
                oattrib.as_str()
            };
            let mut this_result = 1;
            if attrib.eq_ignore_ascii_case("all") {
                let next = strdelim(cond);
                if attributes > 1
                    || next
                        .as_deref()
                        .is_some_and(|n| !n.is_empty() && !n.starts_with('#'))
                {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        format!("{fname} line {linenum}: '{oattrib}' cannot be combined with other Match attributes"),
                    ));
                    return Ok(-1);
                }
                if next.as_deref().is_some_and(|n| n.starts_with('#')) {
                    *cond = None;
                }
                if result != 0 {
                    result = if negate { 0 } else { 1 };
                }
                return Ok(result);
            }
            attributes += 1;
            if attrib.eq_ignore_ascii_case("canonical") || attrib.eq_ignore_ascii_case("final") {
                if attrib.eq_ignore_ascii_case("final") && self.record_final {
                    self.want_final_pass = true;
                }
                if final_pass == negate {
                    result = 0;
                    this_result = 0;
                }
                self.debug(
                    Level::Debug3,
                    format!(
                        "{fname} line {linenum}: {}matched '{oattrib}'",
                        if this_result != 0 { "" } else { "not " }
                    ),
                );
                continue;
            }
            let arg = strdelim(cond);
            let arg = match arg {
                Some(a) if !a.is_empty() && !a.starts_with('#') => a,
                _ => {
                    self.log.push(Diagnostic::new(
                        Level::Error,
                        format!("Missing Match criteria for {attrib}"),
                    ));
                    return Ok(-1);
                }
            };
            let v10 = self.profile.v10();
            let criteria: String;
            let r: bool;
            if attrib.eq_ignore_ascii_case("host") {
                criteria = host.clone();
                r = match_hostname(&host, &arg) == 1;
            } else if attrib.eq_ignore_ascii_case("originalhost") {
                criteria = original_host.clone();
                r = match_hostname(&original_host, &arg) == 1;
            } else if attrib.eq_ignore_ascii_case("user") {
                criteria = ruser.clone();
                r = match_pattern_list(&ruser, &arg, false) == 1;
            } else if attrib.eq_ignore_ascii_case("localuser") {
                criteria = self.pw.name.clone();
                r = match_pattern_list(&self.pw.name, &arg, false) == 1;
            } else if v10 && attrib.eq_ignore_ascii_case("tagged") {
                criteria = o.tag.clone().unwrap_or_default();
                r = if criteria.is_empty() {
                    arg.is_empty()
                } else {
                    match_pattern_list(&criteria, &arg, false) == 1
                };
            } else if v10 && attrib.eq_ignore_ascii_case("localnetwork") {
                if !cidr_list_valid(&arg) {
                    return Ok(-1);
                }
                criteria = arg.clone();
                r = self.ctx.local_network_matches(&arg);
            } else if attrib.eq_ignore_ascii_case("exec") {
                let thishost = self.ctx.hostname();
                let shorthost = thishost.split('.').next().unwrap_or("").to_owned();
                let portstr = port.to_string();
                let uidstr = self.pw.uid.to_string();
                let conn_hash = connection_hash(&thishost, &host, &portstr, &ruser);
                let keyalias = o.host_key_alias.clone().unwrap_or_else(|| host.clone());
                let home = self.pw.home.clone();
                let user = self.pw.name.clone();
                let t = [
                    ('C', conn_hash.as_str()),
                    ('L', shorthost.as_str()),
                    ('d', home.as_str()),
                    ('h', host.as_str()),
                    ('k', keyalias.as_str()),
                    ('l', thishost.as_str()),
                    ('n', original_host.as_str()),
                    ('p', portstr.as_str()),
                    ('r', ruser.as_str()),
                    ('u', user.as_str()),
                    ('i', uidstr.as_str()),
                ];
                let cmd = match crate::expand::expand(&arg, Some(&t), None, &mut self.log) {
                    Ok(Some(c)) => c,
                    Ok(None) => String::new(),
                    Err(e) => {
                        self.log.push(Diagnostic::new(Level::Error, e.detail));
                        return Err(self.fatal("percent_expand: failed".to_owned()));
                    }
                };
                if result != 1 {
                    self.debug(
                        Level::Debug3,
                        format!(
                            "{fname} line {linenum}: skipped exec \"{}\"",
                            trunc(&cmd, 100)
                        ),
                    );
                    continue;
                }
                self.debug(
                    Level::Debug1,
                    format!("Executing command: '{}'", trunc(&cmd, 500)),
                );
                let status = match self.ctx.exec(&cmd) {
                    Ok(s) => s,
                    Err(msg) => {
                        if !msg.is_empty() {
                            self.log.push(Diagnostic::new(Level::Error, msg));
                        }
                        return Err(self.fatal(format!(
                            "{fname} line {linenum}: match exec '{}' error",
                            trunc(&cmd, 100)
                        )));
                    }
                };
                criteria = cmd;
                r = status == 0;
            } else {
                self.log.push(Diagnostic::new(
                    Level::Error,
                    format!("Unsupported Match attribute {attrib}"),
                ));
                return Ok(-1);
            }
            if r == negate {
                result = 0;
                this_result = 0;
            }
            self.debug(
                Level::Debug3,
                format!(
                    "{fname} line {linenum}: {}matched '{oattrib} \"{}\"' ",
                    if this_result != 0 { "" } else { "not " },
                    trunc(&criteria, 100)
                ),
            );
        }
        if attributes == 0 {
            self.log.push(Diagnostic::new(
                Level::Error,
                "One or more attributes required for Match",
            ));
            return Ok(-1);
        }
        self.debug(
            Level::Debug2,
            format!("match {}found", if result != 0 { "" } else { "not " }),
        );
        Ok(result)
    }
}

/// `addr_match_cidr_list(NULL, list)` validation for `Match localnetwork`.
fn cidr_list_valid(list: &str) -> bool {
    list.split(',')
        .all(|e| !e.is_empty() && e.len() <= 49 && crate::pattern::addr_pton_cidr(e).is_ok())
}

/// Truncate to at most `n` bytes on a character boundary (C buffers).
fn trunc_bytes(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let mut cut = n;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or("").to_owned()
}
