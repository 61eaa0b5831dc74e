//! From sources to a [`ClientConfig`]: the order in which OpenSSH's `ssh`
//! reads its configuration, hostname canonicalisation and the `Match final`
//! re-read, `fill_default_options` (all defaults, in one place), and the
//! checks and `%`/`${}`/`~` expansions `ssh` performs before `ssh -G` prints.

use crate::algs;
use crate::error::{Diagnostic, Error, Level};
use crate::expand::{expand, tilde_expand};
use crate::fs::Fs;
use crate::misc::{self, IPTOS_LOWDELAY, IPTOS_THROUGHPUT, trunc};
use crate::pattern::{addr_ntop, addr_pton, match_pattern_list};
use crate::profile::Profile;
use crate::types::{AddressFamily, FingerprintHash, IpQos, LogLevel, RekeyLimit, SyslogFacility};

use super::raw::Raw;
use super::read::{Flags, Reader, add_identity_file, connection_hash};
use super::{
    AddKeysToAgent, Canonicalize, ClientConfig, ClientContext, ClientOptions, ControlMaster,
    IdentityFile, PermittedCname, ProxyJump, PubkeyAuthentication, RequestTty, Resolution,
    SessionType, StrictHostKeyChecking, TunnelDevice, TunnelMode, YesNoAsk, cli,
};

const DEFAULT_IDENTITY_FILES: &[&str] = &[
    ".ssh/id_rsa",
    ".ssh/id_ecdsa",
    ".ssh/id_ecdsa_sk",
    ".ssh/id_ed25519",
    ".ssh/id_ed25519_sk",
    ".ssh/id_xmss",
    ".ssh/id_dsa",
];

/// `process_config_files`: `-F` file, or the user's then the system file.
fn process_config_files(
    r: &mut Reader<'_>,
    o: &mut Raw,
    opts: &ClientOptions,
    final_pass: bool,
) -> Result<(), Error> {
    if let Some(cfg) = &opts.config_file {
        if !cfg.eq_ignore_ascii_case("none") {
            let flags = Flags {
                userconf: true,
                final_pass,
                ..Default::default()
            };
            let mut active = true;
            if let Err(e) = r.read_file(o, cfg, flags, &mut active, 0)? {
                return Err(Error::Io {
                    path: cfg.into(),
                    message: format!(
                        "Can't open user config file {}: {}",
                        trunc(cfg, 100),
                        trunc(&crate::io_error_text(&e), 100)
                    ),
                    log: std::mem::take(&mut r.log),
                    source: e,
                });
            }
        }
        return Ok(());
    }
    let user_cfg = opts
        .user_config
        .clone()
        .unwrap_or_else(|| format!("{}/.ssh/config", r.pw.home));
    if user_cfg.len() < 4096 {
        let flags = Flags {
            userconf: true,
            checkperm: true,
            final_pass,
            ..Default::default()
        };
        let mut active = true;
        let _ = r.read_file(o, &user_cfg, flags, &mut active, 0)?;
    }
    let sys = opts
        .system_config
        .clone()
        .unwrap_or_else(|| "/etc/ssh/ssh_config".to_owned());
    let flags = Flags {
        final_pass,
        ..Default::default()
    };
    let mut active = true;
    let _ = r.read_file(o, &sys, flags, &mut active, 0)?;
    Ok(())
}

/// `is_addr_fast`.
fn is_addr_fast(name: &str) -> bool {
    name.contains('%') || name.contains(':') || name.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn family_ok(a: crate::pattern::XAddr, fam: Option<AddressFamily>) -> bool {
    use crate::pattern::XAddr;
    !matches!(
        (fam, a),
        (Some(AddressFamily::Inet), XAddr::V6(..)) | (Some(AddressFamily::Inet6), XAddr::V4(_))
    )
}

fn option_clear_or_none(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("none"))
}

fn config_has_permitted_cnames(o: &Raw) -> bool {
    if o.permitted_cnames.len() == 1 {
        if let Some((s, t)) = o.permitted_cnames.first() {
            if s.eq_ignore_ascii_case("none") && t.is_empty() {
                return false;
            }
        }
    }
    !o.permitted_cnames.is_empty()
}

/// `check_follow_cname`.
fn check_follow_cname(
    r: &mut Reader<'_>,
    o: &Raw,
    direct: bool,
    name: &mut String,
    cname: &str,
) -> bool {
    if cname.is_empty() || !config_has_permitted_cnames(o) || name == cname {
        return false;
    }
    let canon = o.canonicalize_hostname.unwrap_or(Canonicalize::No);
    if canon == Canonicalize::No || (!direct && canon != Canonicalize::Always) {
        return false;
    }
    for (src, tgt) in &o.permitted_cnames {
        if match_pattern_list(name, src, true) != 1 || match_pattern_list(cname, tgt, true) != 1 {
            continue;
        }
        r.log.push(Diagnostic::new(
            Level::Verbose,
            format!("Canonicalized DNS aliased hostname \"{name}\" => \"{cname}\""),
        ));
        *name = cname.to_owned();
        return true;
    }
    false
}

fn resolve(r: &Reader<'_>, o: &Raw, name: &str) -> Option<String> {
    let port = o
        .port
        .filter(|p| *p > 0)
        .unwrap_or_else(|| r.ctx.default_port());
    match r.ctx.resolve(
        name,
        u16::try_from(port).unwrap_or(22),
        o.address_family.unwrap_or_default(),
    ) {
        Resolution::NotFound => None,
        Resolution::Found { cname } => Some(
            cname
                .filter(|c| misc::valid_domain(c, false).is_ok())
                .unwrap_or_default(),
        ),
    }
}

/// `resolve_canonicalize`: `true` when the name resolved (OpenSSH keeps the addresses).
fn resolve_canonicalize(r: &mut Reader<'_>, o: &Raw, host: &mut String) -> Result<bool, Error> {
    if let Some(a) = addr_pton(host).filter(|a| family_ok(*a, o.address_family)) {
        let newname = addr_ntop(a);
        if !host.eq_ignore_ascii_case(&newname) {
            *host = newname;
        }
        return Ok(true);
    }
    if is_addr_fast(host) {
        return Ok(false);
    }
    let canon = o.canonicalize_hostname.unwrap_or(Canonicalize::No);
    if canon == Canonicalize::No {
        return Ok(false);
    }
    let direct = option_clear_or_none(&o.proxy_command) && o.jump_host.is_none();
    if !direct && canon != Canonicalize::Always {
        return Ok(false);
    }
    let mut candidates: Vec<String> = Vec::new();
    if host.ends_with('.') {
        candidates.push(host.clone());
    } else {
        let ndots = host.matches('.').count();
        if ndots > usize::try_from(o.canonicalize_max_dots.unwrap_or(1)).unwrap_or(0) {
            return Ok(false);
        }
        for d in &o.canonical_domains {
            if d.eq_ignore_ascii_case("none") {
                break;
            }
            candidates.push(format!("{host}.{d}."));
        }
    }
    for mut fullhost in candidates {
        if let Some(cname) = resolve(r, o, &fullhost) {
            fullhost.pop();
            if !check_follow_cname(r, o, direct, &mut fullhost, &cname) {
                r.log.push(Diagnostic::new(
                    Level::Debug1,
                    format!("Canonicalized hostname \"{host}\" => \"{fullhost}\""),
                ));
            }
            *host = fullhost;
            return Ok(true);
        }
    }
    if !o.canonicalize_fallback_local.unwrap_or(true) {
        return Err(Error::fatal(
            format!("ssh: Could not resolve host \"{host}\""),
            std::mem::take(&mut r.log),
        ));
    }
    Ok(false)
}

/// Read, canonicalise, fill and expand: everything `ssh` does before `-G` prints.
pub(crate) fn load(
    opts: &ClientOptions,
    ctx: &dyn ClientContext,
    fs: &dyn Fs,
    profile: &Profile,
) -> Result<ClientConfig, Error> {
    let pw = ctx.local_user();
    let mut o = Raw::default();
    let mut r = Reader {
        ctx,
        fs,
        profile,
        pw: pw.clone(),
        host: opts.host.clone(),
        original_host: opts.host.clone(),
        want_final_pass: false,
        record_final: true,
        log: Vec::new(),
        files_read: 0,
        bytes_read: 0,
        lines_done: 0,
    };
    for a in &opts.args {
        cli::apply(&mut r, &mut o, a)?;
    }
    if !super::read::valid_hostname(&opts.host) {
        return Err(Error::fatal(
            "hostname contains invalid characters",
            std::mem::take(&mut r.log),
        ));
    }
    if o.user
        .as_deref()
        .is_some_and(|u| !super::read::valid_ruser(u))
    {
        return Err(Error::fatal(
            "remote username contains invalid characters",
            std::mem::take(&mut r.log),
        ));
    }
    let host_arg = opts.host.clone();
    let mut host = opts.host.clone();
    r.host = host.clone();
    process_config_files(&mut r, &mut o, opts, false)?;
    let mut want_final = r.want_final_pass;
    if want_final {
        r.log.push(Diagnostic::new(
            Level::Debug1,
            "configuration requests final Match pass",
        ));
    }
    // fill_default_options_for_canonicalization
    o.canonicalize_max_dots.get_or_insert(1);
    o.canonicalize_fallback_local.get_or_insert(true);
    o.canonicalize_hostname.get_or_insert(Canonicalize::No);

    if let Some(h) = &o.hostname {
        let t = [('h', host.as_str())];
        match expand(h, Some(&t), None, &mut r.log) {
            Ok(v) => host = v.unwrap_or_default(),
            Err(e) => {
                r.log.push(Diagnostic::new(Level::Error, e.detail));
                return Err(Error::fatal(
                    "percent_expand: failed",
                    std::mem::take(&mut r.log),
                ));
            }
        }
        o.hostname = Some(host.clone());
    }
    let was_addr =
        is_addr_fast(&host) || addr_pton(&host).is_some_and(|a| family_ok(a, o.address_family));
    if !was_addr {
        host = host.to_ascii_lowercase();
    }
    let canon = o.canonicalize_hostname.unwrap_or(Canonicalize::No);
    let mut resolved = false;
    if canon != Canonicalize::No || was_addr {
        resolved = resolve_canonicalize(&mut r, &o, &mut host)?;
    }
    let direct = option_clear_or_none(&o.proxy_command) && o.jump_host.is_none();
    if !resolved && config_has_permitted_cnames(&o) && (direct || canon == Canonicalize::Always) {
        match resolve(&r, &o, &host) {
            None => {
                if direct {
                    return Err(Error::fatal(
                        format!(
                            "ssh: Could not resolve hostname {}: Name or service not known",
                            trunc(&host, 100)
                        ),
                        std::mem::take(&mut r.log),
                    ));
                }
            }
            Some(cname) => {
                check_follow_cname(&mut r, &o, direct, &mut host, &cname);
            }
        }
    }
    if canon != Canonicalize::No && !want_final {
        r.log.push(Diagnostic::new(
            Level::Debug1,
            "hostname canonicalisation enabled, will re-parse configuration",
        ));
        want_final = true;
    }
    if want_final {
        r.log
            .push(Diagnostic::new(Level::Debug1, "re-parsing configuration"));
        o.hostname = Some(host.clone());
        r.host = host.clone();
        r.record_final = false;
        process_config_files(&mut r, &mut o, opts, true)?;
    }

    let failed_algos = fill_default_options(&mut r, &mut o, profile);

    let user = o.user.clone().unwrap_or_else(|| pw.name.clone());
    let mut proxy_use_fdpass = o.proxy_use_fdpass.unwrap_or(false);
    let mut port = o.port.unwrap_or(0);
    if let Some(jh) = &o.jump_host {
        let p = if port <= 0 { ctx.default_port() } else { port };
        let jp = match o.jump_port {
            Some(x) if x > 0 => x,
            _ => ctx.default_port(),
        };
        let ju = o.jump_user.clone().unwrap_or_else(|| user.clone());
        if *jh == host && p == jp && user == ju {
            return Err(Error::fatal(
                format!("jumphost loop via {jh}"),
                std::mem::take(&mut r.log),
            ));
        }
        if o.proxy_command.is_some() {
            return Err(Error::fatal(
                "inconsistent options: ProxyCommand+ProxyJump",
                std::mem::take(&mut r.log),
            ));
        }
        proxy_use_fdpass = false;
    }
    if port == 0 {
        port = ctx.default_port();
    }
    if let Some(a) = &mut o.host_key_alias {
        *a = a.to_ascii_lowercase();
    }
    if o.proxy_command.as_deref() == Some("-") && proxy_use_fdpass {
        return Err(Error::fatal(
            "ProxyCommand=- and ProxyUseFDPass are incompatible",
            std::mem::take(&mut r.log),
        ));
    }
    let has_command = opts.command.as_deref().is_some_and(|c| !c.is_empty());
    let request_tty = o.request_tty.unwrap_or(RequestTty::Auto);
    let log_level = o.log_level.unwrap_or(LogLevel::Info);
    let mut update_host_keys = o.update_hostkeys.unwrap_or(YesNoAsk::No);
    let (control_persist, control_persist_timeout) = o.control_persist.unwrap_or((false, 0));
    if update_host_keys == YesNoAsk::Ask {
        if control_persist && o.control_path.is_some() {
            r.log.push(Diagnostic::new(
                Level::Debug1,
                "UpdateHostKeys=ask is incompatible with ControlPersist; disabling",
            ));
            update_host_keys = YesNoAsk::No;
        } else if has_command || o.remote_command.is_some() || request_tty == RequestTty::No {
            r.log.push(Diagnostic::new(
                Level::Debug1,
                "UpdateHostKeys=ask is incompatible with remote command execution; disabling",
            ));
            update_host_keys = YesNoAsk::No;
        } else if log_level < LogLevel::Info {
            update_host_keys = YesNoAsk::No;
        }
    }
    let connection_attempts = o.connection_attempts.unwrap_or(1);
    if connection_attempts <= 0 {
        return Err(Error::fatal(
            "Invalid number of ConnectionAttempts",
            std::mem::take(&mut r.log),
        ));
    }
    if has_command && o.remote_command.is_some() {
        return Err(Error::fatal(
            "Cannot execute command-line and remote command.",
            std::mem::take(&mut r.log),
        ));
    }
    let session_type = o.session_type.unwrap_or(SessionType::Default);
    if o.fork_after_authentication == Some(true)
        && !has_command
        && o.remote_command.is_none()
        && session_type != SessionType::None
    {
        return Err(Error::fatal(
            "Cannot fork into background without a command to execute.",
            std::mem::take(&mut r.log),
        ));
    }

    // Connection information for % expansion (ssh_conn_info).
    let thishost = ctx.hostname();
    let shorthost = thishost.split('.').next().unwrap_or("").to_owned();
    let portstr = port.to_string();
    let uidstr = pw.uid.to_string();
    let keyalias = o.host_key_alias.clone().unwrap_or_else(|| host_arg.clone());
    let conn_hash = connection_hash(&thishost, &host, &portstr, &user);
    let tokens: [(char, &str); 11] = [
        ('C', &conn_hash),
        ('L', &shorthost),
        ('i', &uidstr),
        ('k', &keyalias),
        ('l', &thishost),
        ('n', &host_arg),
        ('p', &portstr),
        ('d', &pw.home),
        ('h', &host),
        ('r', &user),
        ('u', &pw.name),
    ];
    let home_lookup = |u: Option<&str>| match u {
        None => Some(pw.home.clone()),
        Some(n) => ctx.home_dir(n),
    };
    let env_lookup = |v: &str| ctx.env(v);
    let percent = |s: &str, log: &mut Vec<Diagnostic>| -> Result<String, Error> {
        match expand(s, Some(&tokens), None, log) {
            Ok(v) => Ok(v.unwrap_or_default()),
            Err(e) => {
                log.push(Diagnostic::new(Level::Error, e.detail));
                Err(Error::fatal("percent_expand: failed", std::mem::take(log)))
            }
        }
    };
    let percent_dollar = |s: &str, log: &mut Vec<Diagnostic>| -> Result<String, Error> {
        let t = tilde_expand(s, &home_lookup).map_err(|e| Error::fatal(e, std::mem::take(log)))?;
        match expand(&t, Some(&tokens), Some(&env_lookup), log) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Error::fatal(
                "invalid environment variable expansion",
                std::mem::take(log),
            )),
            Err(e) => {
                log.push(Diagnostic::new(Level::Error, e.detail));
                Err(Error::fatal(
                    "percent_dollar_expand: failed",
                    std::mem::take(log),
                ))
            }
        }
    };
    let remote_command = match &o.remote_command {
        Some(c) => Some(percent(c, &mut r.log)?),
        None => None,
    };
    let control_path = match &o.control_path {
        Some(c) => Some(percent_dollar(c, &mut r.log)?),
        None => None,
    };
    let identity_agent = match &o.identity_agent {
        Some(c) => Some(percent_dollar(c, &mut r.log)?),
        None => None,
    };
    let exit_on_forward_failure = o.exit_on_forward_failure.unwrap_or(false);
    let forward_agent_sock_path = match &o.forward_agent_sock_path {
        Some(c) => {
            let p = percent_dollar(c, &mut r.log)?;
            if let Err(e) = fs.metadata(std::path::Path::new(&p)) {
                let msg = format!(
                    "Cannot forward agent socket path \"{p}\": {}",
                    crate::io_error_text(&e)
                );
                if exit_on_forward_failure {
                    return Err(Error::fatal(msg, std::mem::take(&mut r.log)));
                }
                r.log.push(Diagnostic::new(Level::Error, msg));
            }
            Some(p)
        }
        None => None,
    };
    let mut system_hostfiles = o.system_hostfiles.clone();
    if system_hostfiles
        .first()
        .is_some_and(|f| f.eq_ignore_ascii_case("none"))
    {
        if system_hostfiles.len() > 1 {
            return Err(Error::fatal(
                "Invalid GlobalKnownHostsFiles: \"none\" appears with other entries",
                std::mem::take(&mut r.log),
            ));
        }
        system_hostfiles.clear();
    }
    let mut user_hostfiles = o.user_hostfiles.clone();
    if user_hostfiles
        .first()
        .is_some_and(|f| f.eq_ignore_ascii_case("none"))
    {
        if user_hostfiles.len() > 1 {
            return Err(Error::fatal(
                "Invalid UserKnownHostsFiles: \"none\" appears with other entries",
                std::mem::take(&mut r.log),
            ));
        }
        user_hostfiles.clear();
    }
    for f in &mut user_hostfiles {
        *f = percent_dollar(f, &mut r.log)?;
    }
    let mut local_forwards = o.local_forwards.clone();
    let mut remote_forwards = o.remote_forwards.clone();
    for fwd in local_forwards.iter_mut().chain(remote_forwards.iter_mut()) {
        if let Some(p) = &fwd.listen_path {
            fwd.listen_path = Some(percent(p, &mut r.log)?);
        }
        if let Some(p) = &fwd.connect_path {
            fwd.connect_path = Some(percent(p, &mut r.log)?);
        }
    }

    // HostKeyAlgorithms is assembled only when used (ssh -G or key exchange).
    let keys_all = profile.algorithms.keys_all();
    let pk_default = algs::filter_default(&profile.algorithms.pk_default, &keys_all);
    let host_key_algorithms =
        algs::assemble(o.hostkeyalgorithms.as_deref(), &pk_default, &keys_all).map_err(|()| {
            Error::fatal(
                "dump_client_config: expand HostKeyAlgorithms: invalid argument",
                std::mem::take(&mut r.log),
            )
        })?;

    let (tun_local, tun_remote) = o
        .tun_device
        .unwrap_or((misc::SSH_TUNID_ANY, misc::SSH_TUNID_ANY));
    let tun_id = |v: i64| {
        if v == misc::SSH_TUNID_ANY {
            None
        } else {
            u32::try_from(v).ok()
        }
    };
    let (ip_i, ip_b) = o.ip_qos.unwrap_or((IPTOS_LOWDELAY, IPTOS_THROUGHPUT));
    let (akta, akta_life) = o.add_keys_to_agent.unwrap_or((AddKeysToAgent::No, 0));
    let proxy_jump = o.jump_host.clone().map(|h| ProxyJump {
        user: o.jump_user.clone(),
        host: h,
        port: o
            .jump_port
            .filter(|p| *p > 0)
            .and_then(|p| u16::try_from(p).ok()),
        extra: o.jump_extra.clone(),
    });
    let ident = |v: &[(String, bool)]| -> Vec<IdentityFile> {
        v.iter()
            .map(|(p, u)| IdentityFile {
                path: p.clone(),
                user_provided: *u,
            })
            .collect()
    };
    let unwrap_algo = |v: &Option<String>| v.clone().unwrap_or_default();

    Ok(ClientConfig {
        host_arg,
        hostname: host,
        user,
        port: u16::try_from(port).unwrap_or(22),
        address_family: o.address_family.unwrap_or_default(),
        batch_mode: o.batch_mode.unwrap_or(false),
        canonicalize_fallback_local: o.canonicalize_fallback_local.unwrap_or(true),
        canonicalize_hostname: canon,
        check_host_ip: o.check_host_ip.unwrap_or(false),
        compression: o.compression.unwrap_or(false),
        control_master: o.control_master.unwrap_or(ControlMaster::No),
        enable_ssh_keysign: o.enable_ssh_keysign.unwrap_or(false),
        clear_all_forwardings: o.clear_forwardings.unwrap_or(false),
        exit_on_forward_failure,
        fingerprint_hash: o.fingerprint_hash.unwrap_or_default(),
        forward_x11: o.forward_x11.unwrap_or(false),
        forward_x11_trusted: o.forward_x11_trusted.unwrap_or(true),
        gateway_ports: o.gateway_ports.unwrap_or(false),
        gssapi_authentication: o.gss_authentication.unwrap_or(false),
        gssapi_key_exchange: o.gss_keyex.unwrap_or(false),
        gssapi_delegate_credentials: o.gss_deleg_creds.unwrap_or(false),
        gssapi_trust_dns: o.gss_trust_dns.unwrap_or(false),
        gssapi_renewal_forces_rekey: o.gss_renewal_rekey.unwrap_or(false),
        gssapi_client_identity: o.gss_client_identity.clone(),
        gssapi_server_identity: o.gss_server_identity.clone(),
        gssapi_kex_algorithms: o
            .gss_kex_algorithms
            .clone()
            .unwrap_or_else(|| profile.algorithms.gss_kex_default.clone()),
        hash_known_hosts: o.hash_known_hosts.unwrap_or(false),
        hostbased_authentication: o.hostbased_authentication.unwrap_or(false),
        identities_only: o.identities_only.unwrap_or(false),
        kbd_interactive_authentication: o.kbd_interactive_authentication.unwrap_or(true),
        no_host_authentication_for_localhost: o
            .no_host_authentication_for_localhost
            .unwrap_or(false),
        password_authentication: o.password_authentication.unwrap_or(true),
        permit_local_command: o.permit_local_command.unwrap_or(false),
        proxy_use_fdpass,
        pubkey_authentication: o.pubkey_authentication.unwrap_or(PubkeyAuthentication::Yes),
        request_tty,
        session_type,
        stdin_null: o.stdin_null.unwrap_or(false),
        fork_after_authentication: o.fork_after_authentication.unwrap_or(false),
        stream_local_bind_unlink: o.streamlocal_bind_unlink.unwrap_or(false),
        strict_host_key_checking: o
            .strict_host_key_checking
            .unwrap_or(StrictHostKeyChecking::Ask),
        tcp_keep_alive: o.tcp_keep_alive.unwrap_or(true),
        tunnel: o.tun_open.unwrap_or(TunnelMode::No),
        verify_host_key_dns: o.verify_host_key_dns.unwrap_or(YesNoAsk::No),
        visual_host_key: o.visual_host_key.unwrap_or(false),
        update_host_keys,
        enable_escape_commandline: o.enable_escape_commandline.unwrap_or(false),
        canonicalize_max_dots: o.canonicalize_max_dots.unwrap_or(1),
        connection_attempts,
        forward_x11_timeout: o.forward_x11_timeout.unwrap_or(1200),
        number_of_password_prompts: o.number_of_password_prompts.unwrap_or(3),
        server_alive_count_max: o.server_alive_count_max.unwrap_or(3),
        server_alive_interval: o.server_alive_interval.unwrap_or(0),
        required_rsa_size: o.required_rsa_size.unwrap_or(1024),
        bind_address: o.bind_address.clone(),
        bind_interface: o.bind_interface.clone(),
        ciphers: unwrap_algo(&o.ciphers),
        control_path,
        host_key_algorithms,
        host_key_algorithms_configured: o.hostkeyalgorithms.is_some(),
        host_key_alias: o.host_key_alias.clone(),
        hostbased_accepted_algorithms: unwrap_algo(&o.hostbased_accepted_algos),
        identity_agent,
        ignore_unknown: o.ignored_unknown.clone(),
        kbd_interactive_devices: o.kbd_interactive_devices.clone(),
        kex_algorithms: unwrap_algo(&o.kex_algorithms),
        ca_signature_algorithms: unwrap_algo(&o.ca_sign_algorithms),
        local_command: o.local_command.clone(),
        remote_command,
        log_level,
        macs: unwrap_algo(&o.macs),
        pkcs11_provider: o.pkcs11_provider.clone(),
        security_key_provider: o.sk_provider.clone(),
        preferred_authentications: o.preferred_authentications.clone(),
        pubkey_accepted_algorithms: unwrap_algo(&o.pubkey_accepted_algos),
        revoked_host_keys: o.revoked_host_keys.clone(),
        xauth_location: o.xauth_location.clone().unwrap_or_default(),
        known_hosts_command: o.known_hosts_command.clone(),
        local_forwards,
        remote_forwards,
        identity_files: ident(&o.identity_files),
        canonical_domains: o.canonical_domains.clone(),
        certificate_files: ident(&o.certificate_files),
        global_known_hosts_files: system_hostfiles,
        user_known_hosts_files: user_hostfiles,
        send_env: o.send_env.clone(),
        set_env: o.setenv.clone(),
        log_verbose: o.log_verbose.clone(),
        permit_remote_open: o.permitted_remote_opens.clone(),
        add_keys_to_agent: akta,
        add_keys_to_agent_lifespan: akta_life,
        forward_agent: o.forward_agent.unwrap_or(false),
        forward_agent_sock_path,
        connect_timeout: o.connection_timeout,
        tunnel_device: TunnelDevice {
            local: tun_id(tun_local),
            remote: tun_id(tun_remote),
        },
        permitted_cnames: o
            .permitted_cnames
            .iter()
            .map(|(s, t)| PermittedCname {
                source: s.clone(),
                target: t.clone(),
            })
            .collect(),
        control_persist,
        control_persist_timeout,
        escape_char: o.escape_char.unwrap_or(Some(b'~')),
        ip_qos: IpQos {
            interactive: ip_i,
            bulk: ip_b,
        },
        rekey_limit: RekeyLimit {
            bytes: o.rekey_limit.unwrap_or(0),
            seconds: o.rekey_interval.unwrap_or(0),
        },
        stream_local_bind_mask: o.streamlocal_bind_mask.unwrap_or(0o177),
        syslog_facility: o.log_facility.unwrap_or(SyslogFacility::User),
        proxy_command: o.proxy_command.clone(),
        proxy_jump,
        stdio_forward: o
            .stdio_forward_host
            .clone()
            .map(|h| (h, o.stdio_forward_port)),
        tag: o.tag.clone(),
        obscure_keystroke_timing: o.obscure_keystroke_timing,
        channel_timeouts: o.channel_timeouts.clone(),
        version_addendum: o.version_addendum.clone(),
        diagnostics: std::mem::take(&mut r.log),
        dialect: profile.dialect,
        failed_algos,
        local_user: pw.clone(),
        local_hostname: thishost.clone(),
    })
}

/// `fill_default_options`: every default in one place. Returns the algorithm
/// lists left unset because assembling one of them failed (OpenSSH logs the
/// error, stops filling and carries on).
fn fill_default_options(r: &mut Reader<'_>, o: &mut Raw, profile: &Profile) -> Vec<&'static str> {
    let stdio = o.stdio_forward_host.is_some();
    o.exit_on_forward_failure.get_or_insert(stdio);
    let clear = *o.clear_forwardings.get_or_insert(stdio);
    if clear {
        o.local_forwards.clear();
        o.remote_forwards.clear();
        o.tun_open = Some(TunnelMode::No);
    }
    o.xauth_location
        .get_or_insert_with(|| profile.xauth_location.clone());
    if o.identity_files.is_empty() {
        for f in DEFAULT_IDENTITY_FILES {
            let _ = add_identity_file(o, format!("~/{f}"), false);
        }
    }
    if o.system_hostfiles.is_empty() {
        o.system_hostfiles = vec![
            "/etc/ssh/ssh_known_hosts".into(),
            "/etc/ssh/ssh_known_hosts2".into(),
        ];
    }
    if o.update_hostkeys.is_none() {
        let dns_off = o.verify_host_key_dns.is_none_or(|v| v == YesNoAsk::No);
        let default_files = o.user_hostfiles.is_empty()
            || (o.user_hostfiles.len() == 1
                && o.user_hostfiles
                    .first()
                    .is_some_and(|f| f == "~/.ssh/known_hosts"));
        o.update_hostkeys = Some(if dns_off && default_files {
            YesNoAsk::Yes
        } else {
            YesNoAsk::No
        });
    }
    if o.user_hostfiles.is_empty() {
        o.user_hostfiles = vec!["~/.ssh/known_hosts".into(), "~/.ssh/known_hosts2".into()];
    }
    // Debian: in batch mode the default ServerAliveInterval is 5 minutes.
    if o.server_alive_interval.is_none() {
        o.server_alive_interval = Some(if o.batch_mode == Some(true) { 300 } else { 0 });
    }
    o.sk_provider.get_or_insert_with(|| "internal".to_owned());
    o.fingerprint_hash.get_or_insert(FingerprintHash::Sha256);

    let a = &profile.algorithms;
    let ciphers_def = algs::filter_default(&a.ciphers_default, &a.ciphers_all);
    let macs_def = algs::filter_default(&a.macs_default, &a.macs_all);
    let kex_def = algs::filter_default(&a.kex_client_default, &a.kex_all);
    let keys_all = a.keys_all();
    let key_def = algs::filter_default(&a.pk_default, &keys_all);
    let sigs_all = a.sigs_all();
    let sig_def = algs::filter_default(&a.ca_sig_default, &sigs_all);
    let steps: [(&'static str, &mut Option<String>, &str, &str); 6] = [
        ("ciphers", &mut o.ciphers, &ciphers_def, &a.ciphers_all),
        ("macs", &mut o.macs, &macs_def, &a.macs_all),
        (
            "kex_algorithms",
            &mut o.kex_algorithms,
            &kex_def,
            &a.kex_all,
        ),
        (
            "hostbased_accepted_algos",
            &mut o.hostbased_accepted_algos,
            &key_def,
            &keys_all,
        ),
        (
            "pubkey_accepted_algos",
            &mut o.pubkey_accepted_algos,
            &key_def,
            &keys_all,
        ),
        (
            "ca_sign_algorithms",
            &mut o.ca_sign_algorithms,
            &sig_def,
            &sigs_all,
        ),
    ];
    let mut failed: Vec<&'static str> = Vec::new();
    let mut stopped = false;
    for (name, field, def, all) in steps {
        if stopped {
            if field.is_none() {
                failed.push(name);
            }
            continue;
        }
        match algs::assemble(field.as_deref(), def, all) {
            Ok(v) => *field = Some(v),
            Err(()) => {
                r.log.push(Diagnostic::new(
                    Level::Error,
                    format!("fill_default_options: {name}: invalid argument"),
                ));
                *field = None;
                failed.push(name);
                stopped = true;
            }
        }
    }
    if stopped {
        return failed;
    }
    for v in [
        &mut o.local_command,
        &mut o.remote_command,
        &mut o.proxy_command,
        &mut o.control_path,
        &mut o.revoked_host_keys,
        &mut o.pkcs11_provider,
        &mut o.sk_provider,
        &mut o.known_hosts_command,
    ] {
        if option_clear_or_none(v) {
            *v = None;
        }
    }
    if o.jump_host.as_deref() == Some("none") && o.jump_port == Some(0) && o.jump_user.is_none() {
        o.jump_host = None;
    }
    if o.permitted_cnames.len() == 1 && !config_has_permitted_cnames(o) {
        o.permitted_cnames.clear();
    }
    failed
}
