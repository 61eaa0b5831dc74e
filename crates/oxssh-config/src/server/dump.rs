//! `sshd -T`: the effective server configuration in OpenSSH's format and order
//! (`dump_config`, with the lines Debian's GSSAPI patch adds).

use std::net::IpAddr;

use crate::types::{ADDRESS_FAMILY, multistate_name};

use super::ServerConfig;
use super::read::{COMPRESSION, GATEWAY_PORTS, IGNORE_RHOSTS, PERMIT_ROOT_LOGIN, TCPFWD, TUNMODE};

fn yn(v: bool) -> &'static str {
    if v { "yes" } else { "no" }
}

pub(crate) fn dump(c: &ServerConfig) -> String {
    let mut out = String::with_capacity(8192);
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push(' ');
        out.push_str(v);
        out.push('\n');
    };
    for p in &c.ports {
        line("port", &p.to_string());
    }
    line(
        "addressfamily",
        multistate_name(ADDRESS_FAMILY, c.address_family),
    );
    for la in &c.listen_addresses {
        let addr = match la.addr {
            IpAddr::V4(a) => format!("{a}:{}", la.port),
            IpAddr::V6(a) => format!("[{a}]:{}", la.port),
        };
        match &la.rdomain {
            None => line("listenaddress", &addr),
            Some(r) => line("listenaddress", &format!("{addr} rdomain {r}")),
        }
    }
    line("usepam", yn(c.use_pam));
    line("logingracetime", &c.login_grace_time.to_string());
    line("x11displayoffset", &c.x11_display_offset.to_string());
    line("maxauthtries", &c.max_auth_tries.to_string());
    line("maxsessions", &c.max_sessions.to_string());
    line("clientaliveinterval", &c.client_alive_interval.to_string());
    line("clientalivecountmax", &c.client_alive_count_max.to_string());
    line("requiredrsasize", &c.required_rsa_size.to_string());
    line(
        "streamlocalbindmask",
        &format!("0{:o}", c.stream_local_bind_mask),
    );
    if c.unused_connection_timeout == 0 {
        line("unusedconnectiontimeout", "none");
    } else {
        line(
            "unusedconnectiontimeout",
            &c.unused_connection_timeout.to_string(),
        );
    }
    line(
        "permitrootlogin",
        multistate_name(PERMIT_ROOT_LOGIN, c.permit_root_login),
    );
    line(
        "ignorerhosts",
        multistate_name(IGNORE_RHOSTS, c.ignore_rhosts),
    );
    line("ignoreuserknownhosts", yn(c.ignore_user_known_hosts));
    line("hostbasedauthentication", yn(c.hostbased_authentication));
    line(
        "hostbasedusesnamefrompacketonly",
        yn(c.hostbased_uses_name_from_packet_only),
    );
    line("pubkeyauthentication", yn(c.pubkey_authentication));
    line("kerberosauthentication", yn(c.kerberos_authentication));
    line("kerberosorlocalpasswd", yn(c.kerberos_or_local_passwd));
    line("kerberosticketcleanup", yn(c.kerberos_ticket_cleanup));
    line("gssapiauthentication", yn(c.gssapi_authentication));
    line("gssapicleanupcredentials", yn(c.gssapi_cleanup_credentials));
    line("gssapikeyexchange", yn(c.gssapi_key_exchange));
    line(
        "gssapistrictacceptorcheck",
        yn(c.gssapi_strict_acceptor_check),
    );
    line(
        "gssapistorecredentialsonrekey",
        yn(c.gssapi_store_credentials_on_rekey),
    );
    line("gssapikexalgorithms", &c.gssapi_kex_algorithms);
    line("passwordauthentication", yn(c.password_authentication));
    line(
        "kbdinteractiveauthentication",
        yn(c.kbd_interactive_authentication),
    );
    line("printmotd", yn(c.print_motd));
    line("printlastlog", yn(c.print_lastlog));
    line("x11forwarding", yn(c.x11_forwarding));
    line("x11uselocalhost", yn(c.x11_use_localhost));
    line("permittty", yn(c.permit_tty));
    line("permituserrc", yn(c.permit_user_rc));
    line("strictmodes", yn(c.strict_modes));
    line("tcpkeepalive", yn(c.tcp_keep_alive));
    line("permitemptypasswords", yn(c.permit_empty_passwords));
    line("compression", multistate_name(COMPRESSION, c.compression));
    line(
        "gatewayports",
        multistate_name(GATEWAY_PORTS, c.gateway_ports),
    );
    line("usedns", yn(c.use_dns));
    line(
        "allowtcpforwarding",
        multistate_name(TCPFWD, c.allow_tcp_forwarding),
    );
    line("allowagentforwarding", yn(c.allow_agent_forwarding));
    line("disableforwarding", yn(c.disable_forwarding));
    line(
        "allowstreamlocalforwarding",
        multistate_name(TCPFWD, c.allow_streamlocal_forwarding),
    );
    line("streamlocalbindunlink", yn(c.stream_local_bind_unlink));
    line("fingerprinthash", &c.fingerprint_hash.to_string());
    line("exposeauthinfo", yn(c.expose_auth_info));

    let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    line("pidfile", &s(&c.pid_file));
    line("modulifile", &c.moduli_file);
    line("xauthlocation", &s(&c.xauth_location));
    line("ciphers", &c.ciphers);
    line("macs", &c.macs);
    line("banner", &s(&c.banner));
    line("forcecommand", &s(&c.force_command));
    line("chrootdirectory", &s(&c.chroot_directory));
    line("trustedusercakeys", &s(&c.trusted_user_ca_keys));
    line("revokedkeys", &s(&c.revoked_keys_file));
    line("securitykeyprovider", &s(&c.security_key_provider));
    line(
        "authorizedprincipalsfile",
        &s(&c.authorized_principals_file),
    );
    line(
        "versionaddendum",
        if c.version_addendum.is_empty() {
            "none"
        } else {
            &c.version_addendum
        },
    );
    line("authorizedkeyscommand", &s(&c.authorized_keys_command));
    line(
        "authorizedkeyscommanduser",
        &s(&c.authorized_keys_command_user),
    );
    line(
        "authorizedprincipalscommand",
        &s(&c.authorized_principals_command),
    );
    line(
        "authorizedprincipalscommanduser",
        &s(&c.authorized_principals_command_user),
    );
    line("hostkeyagent", &s(&c.host_key_agent));
    line("kexalgorithms", &c.kex_algorithms);
    line("casignaturealgorithms", &c.ca_signature_algorithms);
    line(
        "hostbasedacceptedalgorithms",
        &c.hostbased_accepted_algorithms,
    );
    line("hostkeyalgorithms", &c.host_key_algorithms);
    line("pubkeyacceptedalgorithms", &c.pubkey_accepted_algorithms);
    line("loglevel", &c.log_level.to_string());
    line("syslogfacility", &c.syslog_facility.to_string());

    if !c.authorized_keys_files.is_empty() {
        line("authorizedkeysfile", &c.authorized_keys_files.join(" "));
    }
    let opt_path = |v: &Option<String>| v.clone().unwrap_or_else(|| "(null)".to_owned());
    for k in &c.host_key_files {
        line("hostkey", &opt_path(k));
    }
    for k in &c.host_cert_files {
        line("hostcertificate", &opt_path(k));
    }
    for v in &c.allow_users {
        line("allowusers", v);
    }
    for v in &c.deny_users {
        line("denyusers", v);
    }
    for v in &c.allow_groups {
        line("allowgroups", v);
    }
    for v in &c.deny_groups {
        line("denygroups", v);
    }
    for v in &c.accept_env {
        line("acceptenv", v);
    }
    for v in &c.set_env {
        line("setenv", v);
    }
    if c.authentication_methods.is_empty() {
        line("authenticationmethods", "any");
    } else {
        line("authenticationmethods", &c.authentication_methods.join(" "));
    }
    if !c.log_verbose.is_empty() {
        line("logverbose", &c.log_verbose.join(" "));
    }
    if !c.channel_timeouts.is_empty() {
        line("channeltimeout", &c.channel_timeouts.join(" "));
    }
    for sub in &c.subsystems {
        line("subsystem", &format!("{} {}", sub.name, sub.args));
    }
    line(
        "maxstartups",
        &format!(
            "{}:{}:{}",
            c.max_startups_begin, c.max_startups_rate, c.max_startups
        ),
    );
    match c.per_source_max_startups {
        None => line("persourcemaxstartups", "none"),
        Some(v) => line("persourcemaxstartups", &v.to_string()),
    }
    line(
        "persourcenetblocksize",
        &format!(
            "{}:{}",
            c.per_source_masklen_ipv4, c.per_source_masklen_ipv6
        ),
    );
    line("permittunnel", multistate_name(TUNMODE, c.permit_tunnel));
    line("ipqos", &c.ip_qos.to_string());
    line("rekeylimit", &c.rekey_limit.to_string());
    line(
        "permitopen",
        &if c.permit_open.is_empty() {
            "any".to_owned()
        } else {
            c.permit_open.join(" ")
        },
    );
    line(
        "permitlisten",
        &if c.permit_listen.is_empty() {
            "any".to_owned()
        } else {
            c.permit_listen.join(" ")
        },
    );
    match &c.permit_user_environment_allowlist {
        None => line("permituserenvironment", yn(c.permit_user_environment)),
        Some(l) => line("permituserenvironment", l),
    }
    let mut pao = String::new();
    if !c.pubkey_auth_touch_required && !c.pubkey_auth_verify_required {
        pao.push_str(" none");
    }
    if c.pubkey_auth_touch_required {
        pao.push_str(" touch-required");
    }
    if c.pubkey_auth_verify_required {
        pao.push_str(" verify-required");
    }
    out.push_str("pubkeyauthoptions");
    out.push_str(&pao);
    out.push('\n');
    let _ = c.dialect;
    out
}
