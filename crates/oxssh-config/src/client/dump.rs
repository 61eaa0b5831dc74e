//! `ssh -G`: the evaluated client configuration in OpenSSH's format and order
//! (`dump_client_config`), including its quirks (`canonicalizePermittedcnames`
//! spelled with capitals, dynamic forwards listed from the local forwards).

use std::fmt::Write as _;

use crate::forward::dump_forward;
use crate::types::{ADDRESS_FAMILY, multistate_name};

use super::ClientConfig;
use super::read::{
    CANONICALIZE, CONTROL_MASTER, PUBKEY_AUTH, REQUEST_TTY, SESSION_TYPE, STRICT_HOSTKEY, TUNNEL,
    YESNOASK, YESNOASKCONFIRM,
};
use crate::profile::Dialect;

fn yn(v: bool) -> &'static str {
    if v { "yes" } else { "no" }
}

/// OpenBSD `vis(c, VIS_WHITE)` for the escape character.
fn vis_byte(c: u8) -> String {
    let visible = c.is_ascii_graphic();
    if visible {
        return if c == b'\\' {
            "\\\\".to_owned()
        } else {
            (c as char).to_string()
        };
    }
    if c & 0x7f == b' ' {
        return format!("\\{}{}{}", (c >> 6) & 7, (c >> 3) & 7, c & 7);
    }
    let mut s = String::from("\\");
    let mut c = c;
    if c & 0x80 != 0 {
        c &= 0x7f;
        s.push('M');
    }
    if c < 0x20 || c == 0x7f {
        s.push('^');
        s.push(if c == 0x7f { '?' } else { (c + b'@') as char });
    } else {
        s.push('-');
        s.push(c as char);
    }
    s
}

pub(crate) fn dump(c: &ClientConfig) -> String {
    let mut out = String::with_capacity(8192);
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push(' ');
        out.push_str(v);
        out.push('\n');
    };
    let v10 = c.dialect == Dialect::Oxssh;

    line("host", &c.host_arg);
    line("user", &c.user);
    line("hostname", &c.hostname);
    line("port", &c.port.to_string());

    line(
        "addressfamily",
        multistate_name(ADDRESS_FAMILY, c.address_family),
    );
    line("batchmode", yn(c.batch_mode));
    line(
        "canonicalizefallbacklocal",
        yn(c.canonicalize_fallback_local),
    );
    line(
        "canonicalizehostname",
        multistate_name(CANONICALIZE, c.canonicalize_hostname),
    );
    line("checkhostip", yn(c.check_host_ip));
    line("compression", yn(c.compression));
    line(
        "controlmaster",
        multistate_name(CONTROL_MASTER, c.control_master),
    );
    line("enablesshkeysign", yn(c.enable_ssh_keysign));
    line("clearallforwardings", yn(c.clear_all_forwardings));
    line("exitonforwardfailure", yn(c.exit_on_forward_failure));
    line("fingerprinthash", &c.fingerprint_hash.to_string());
    line("forwardx11", yn(c.forward_x11));
    line("forwardx11trusted", yn(c.forward_x11_trusted));
    line("gatewayports", yn(c.gateway_ports));
    line("gssapiauthentication", yn(c.gssapi_authentication));
    line("gssapikeyexchange", yn(c.gssapi_key_exchange));
    line(
        "gssapidelegatecredentials",
        yn(c.gssapi_delegate_credentials),
    );
    line("gssapitrustdns", yn(c.gssapi_trust_dns));
    line(
        "gssapirenewalforcesrekey",
        yn(c.gssapi_renewal_forces_rekey),
    );
    if let Some(v) = &c.gssapi_client_identity {
        line("gssapiclientidentity", v);
    }
    if let Some(v) = &c.gssapi_server_identity {
        line("gssapiserveridentity", v);
    }
    line("gssapikexalgorithms", &c.gssapi_kex_algorithms);
    line("hashknownhosts", yn(c.hash_known_hosts));
    line("hostbasedauthentication", yn(c.hostbased_authentication));
    line("identitiesonly", yn(c.identities_only));
    line(
        "kbdinteractiveauthentication",
        yn(c.kbd_interactive_authentication),
    );
    line(
        "nohostauthenticationforlocalhost",
        yn(c.no_host_authentication_for_localhost),
    );
    line("passwordauthentication", yn(c.password_authentication));
    line("permitlocalcommand", yn(c.permit_local_command));
    line("proxyusefdpass", yn(c.proxy_use_fdpass));
    line(
        "pubkeyauthentication",
        multistate_name(PUBKEY_AUTH, c.pubkey_authentication),
    );
    line("requesttty", multistate_name(REQUEST_TTY, c.request_tty));
    line("sessiontype", multistate_name(SESSION_TYPE, c.session_type));
    line("stdinnull", yn(c.stdin_null));
    line("forkafterauthentication", yn(c.fork_after_authentication));
    line("streamlocalbindunlink", yn(c.stream_local_bind_unlink));
    line(
        "stricthostkeychecking",
        multistate_name(STRICT_HOSTKEY, c.strict_host_key_checking),
    );
    line("tcpkeepalive", yn(c.tcp_keep_alive));
    line("tunnel", multistate_name(TUNNEL, c.tunnel));
    line(
        "verifyhostkeydns",
        multistate_name(YESNOASK, c.verify_host_key_dns),
    );
    line("visualhostkey", yn(c.visual_host_key));
    line(
        "updatehostkeys",
        multistate_name(YESNOASK, c.update_host_keys),
    );
    line("enableescapecommandline", yn(c.enable_escape_commandline));

    line("canonicalizemaxdots", &c.canonicalize_max_dots.to_string());
    line("connectionattempts", &c.connection_attempts.to_string());
    line("forwardx11timeout", &c.forward_x11_timeout.to_string());
    line(
        "numberofpasswordprompts",
        &c.number_of_password_prompts.to_string(),
    );
    line("serveralivecountmax", &c.server_alive_count_max.to_string());
    line("serveraliveinterval", &c.server_alive_interval.to_string());
    line("requiredrsasize", &c.required_rsa_size.to_string());
    if v10 {
        let t = match c.obscure_keystroke_timing {
            0 => "no".to_owned(),
            20 => "yes".to_owned(),
            n => n.to_string(),
        };
        line("obscurekeystroketiming", &t);
    }

    let opt = |line: &mut dyn FnMut(&str, &str), k: &str, v: &Option<String>| {
        if let Some(v) = v {
            line(k, v);
        }
    };
    let algo = |line: &mut dyn FnMut(&str, &str), k: &str, v: &str, name: &str| {
        if !c.failed_algos.contains(&name) {
            line(k, v);
        }
    };
    opt(&mut line, "bindaddress", &c.bind_address);
    opt(&mut line, "bindinterface", &c.bind_interface);
    algo(&mut line, "ciphers", &c.ciphers, "ciphers");
    opt(&mut line, "controlpath", &c.control_path);
    line("hostkeyalgorithms", &c.host_key_algorithms);
    opt(&mut line, "hostkeyalias", &c.host_key_alias);
    algo(
        &mut line,
        "hostbasedacceptedalgorithms",
        &c.hostbased_accepted_algorithms,
        "hostbased_accepted_algos",
    );
    opt(&mut line, "identityagent", &c.identity_agent);
    opt(&mut line, "ignoreunknown", &c.ignore_unknown);
    opt(
        &mut line,
        "kbdinteractivedevices",
        &c.kbd_interactive_devices,
    );
    algo(
        &mut line,
        "kexalgorithms",
        &c.kex_algorithms,
        "kex_algorithms",
    );
    algo(
        &mut line,
        "casignaturealgorithms",
        &c.ca_signature_algorithms,
        "ca_sign_algorithms",
    );
    opt(&mut line, "localcommand", &c.local_command);
    opt(&mut line, "remotecommand", &c.remote_command);
    line("loglevel", &c.log_level.to_string());
    algo(&mut line, "macs", &c.macs, "macs");
    opt(&mut line, "pkcs11provider", &c.pkcs11_provider);
    opt(&mut line, "securitykeyprovider", &c.security_key_provider);
    opt(
        &mut line,
        "preferredauthentications",
        &c.preferred_authentications,
    );
    algo(
        &mut line,
        "pubkeyacceptedalgorithms",
        &c.pubkey_accepted_algorithms,
        "pubkey_accepted_algos",
    );
    opt(&mut line, "revokedhostkeys", &c.revoked_host_keys);
    line("xauthlocation", &c.xauth_location);
    opt(&mut line, "knownhostscommand", &c.known_hosts_command);
    if v10 {
        opt(&mut line, "tag", &c.tag);
        opt(&mut line, "versionaddendum", &c.version_addendum);
    }

    // Forwards: dynamic ones are the local forwards whose target is "socks"
    // (or that have no target host at all, as OpenSSH prints them).
    let mut fwd_lines = String::new();
    for f in &c.local_forwards {
        if f.connect_host.as_deref().is_some_and(|h| h != "socks") {
            continue;
        }
        let _ = writeln!(fwd_lines, "{}", dump_forward("dynamicforward", f, false));
    }
    for f in &c.local_forwards {
        if f.connect_host.as_deref() == Some("socks") {
            continue;
        }
        let _ = writeln!(fwd_lines, "{}", dump_forward("localforward", f, true));
    }
    for f in &c.remote_forwards {
        let _ = writeln!(fwd_lines, "{}", dump_forward("remoteforward", f, true));
    }
    drop(line);
    out.push_str(&fwd_lines);
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push(' ');
        out.push_str(v);
        out.push('\n');
    };

    for f in &c.identity_files {
        line("identityfile", &f.path);
    }
    let oneline = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(" ")
        }
    };
    line("canonicaldomains", &oneline(&c.canonical_domains));
    for f in &c.certificate_files {
        line("certificatefile", &f.path);
    }
    line(
        "globalknownhostsfile",
        &oneline(&c.global_known_hosts_files),
    );
    line("userknownhostsfile", &oneline(&c.user_known_hosts_files));
    for e in &c.send_env {
        line("sendenv", e);
    }
    for e in &c.set_env {
        line("setenv", e);
    }
    line("logverbose", &oneline(&c.log_verbose));
    if v10 {
        line("channeltimeout", &oneline(&c.channel_timeouts));
    }

    line(
        "permitremoteopen",
        &if c.permit_remote_open.is_empty() {
            "any".to_owned()
        } else {
            c.permit_remote_open.join(" ")
        },
    );
    if c.add_keys_to_agent_lifespan <= 0 {
        line(
            "addkeystoagent",
            multistate_name(YESNOASKCONFIRM, c.add_keys_to_agent),
        );
    } else {
        let confirm = if c.add_keys_to_agent == super::AddKeysToAgent::Confirm {
            " confirm"
        } else {
            ""
        };
        let v = format!("{}", c.add_keys_to_agent_lifespan);
        line(&format!("addkeystoagent{confirm}"), &v);
    }
    match &c.forward_agent_sock_path {
        None => line("forwardagent", yn(c.forward_agent)),
        Some(p) => line("forwardagent", p),
    }
    match c.connect_timeout {
        None => line("connecttimeout", "none"),
        Some(t) => line("connecttimeout", &t.to_string()),
    }
    let tun = |v: Option<u32>| v.map_or("any".to_owned(), |n| n.to_string());
    line(
        "tunneldevice",
        &format!(
            "{}:{}",
            tun(c.tunnel_device.local),
            tun(c.tunnel_device.remote)
        ),
    );
    let cn = if c.permitted_cnames.is_empty() {
        "none".to_owned()
    } else {
        c.permitted_cnames
            .iter()
            .map(|p| format!("{}:{}", p.source, p.target))
            .collect::<Vec<_>>()
            .join(" ")
    };
    line("canonicalizePermittedcnames", &cn);
    if !c.control_persist || c.control_persist_timeout == 0 {
        line("controlpersist", yn(c.control_persist));
    } else {
        line("controlpersist", &c.control_persist_timeout.to_string());
    }
    match c.escape_char {
        None => line("escapechar", "none"),
        Some(ch) => line("escapechar", &vis_byte(ch)),
    }
    line("ipqos", &c.ip_qos.to_string());
    line("rekeylimit", &c.rekey_limit.to_string());
    line(
        "streamlocalbindmask",
        &format!("0{:o}", c.stream_local_bind_mask),
    );
    line("syslogfacility", &c.syslog_facility.to_string());
    match &c.proxy_jump {
        None => {
            if let Some(p) = &c.proxy_command {
                line("proxycommand", p);
            }
        }
        Some(j) => {
            let numeric =
                j.host.contains(':') || j.host.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
            let mut s = String::new();
            if let Some(e) = &j.extra {
                s.push_str(e);
                s.push(',');
            }
            if let Some(u) = &j.user {
                s.push_str(u);
                s.push('@');
            }
            if numeric {
                let _ = write!(s, "[{}]", j.host);
            } else {
                s.push_str(&j.host);
            }
            if let Some(p) = j.port {
                let _ = write!(s, ":{p}");
            }
            line("proxyjump", &s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::vis_byte;

    #[test]
    fn vis() {
        assert_eq!(vis_byte(b'~'), "~");
        assert_eq!(vis_byte(b'\\'), "\\\\");
        assert_eq!(vis_byte(b' '), "\\040");
        assert_eq!(vis_byte(1), "\\^A");
        assert_eq!(vis_byte(b'\t'), "\\^I");
        assert_eq!(vis_byte(0x7f), "\\^?");
        assert_eq!(vis_byte(0xe9), "\\M-i");
    }
}
