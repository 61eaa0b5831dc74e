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

/// Output being built: `keyword value` lines.
struct Dump(String);

impl Dump {
    fn kv(&mut self, k: &str, v: &str) {
        self.0.push_str(k);
        self.0.push(' ');
        self.0.push_str(v);
        self.0.push('\n');
    }

    fn opt(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.kv(k, v);
        }
    }
}

pub(crate) fn dump(c: &ClientConfig) -> String {
    let mut d = Dump(String::with_capacity(8192));
    let v10 = c.dialect == Dialect::Oxssh;

    d.kv("host", &c.host_arg);
    d.kv("user", &c.user);
    d.kv("hostname", &c.hostname);
    d.kv("port", &c.port.to_string());

    d.kv(
        "addressfamily",
        multistate_name(ADDRESS_FAMILY, c.address_family),
    );
    d.kv("batchmode", yn(c.batch_mode));
    d.kv(
        "canonicalizefallbacklocal",
        yn(c.canonicalize_fallback_local),
    );
    d.kv(
        "canonicalizehostname",
        multistate_name(CANONICALIZE, c.canonicalize_hostname),
    );
    d.kv("checkhostip", yn(c.check_host_ip));
    d.kv("compression", yn(c.compression));
    d.kv(
        "controlmaster",
        multistate_name(CONTROL_MASTER, c.control_master),
    );
    d.kv("enablesshkeysign", yn(c.enable_ssh_keysign));
    d.kv("clearallforwardings", yn(c.clear_all_forwardings));
    d.kv("exitonforwardfailure", yn(c.exit_on_forward_failure));
    d.kv("fingerprinthash", &c.fingerprint_hash.to_string());
    d.kv("forwardx11", yn(c.forward_x11));
    d.kv("forwardx11trusted", yn(c.forward_x11_trusted));
    d.kv("gatewayports", yn(c.gateway_ports));
    d.kv("gssapiauthentication", yn(c.gssapi_authentication));
    d.kv("gssapikeyexchange", yn(c.gssapi_key_exchange));
    d.kv(
        "gssapidelegatecredentials",
        yn(c.gssapi_delegate_credentials),
    );
    d.kv("gssapitrustdns", yn(c.gssapi_trust_dns));
    d.kv(
        "gssapirenewalforcesrekey",
        yn(c.gssapi_renewal_forces_rekey),
    );
    if let Some(v) = &c.gssapi_client_identity {
        d.kv("gssapiclientidentity", v);
    }
    if let Some(v) = &c.gssapi_server_identity {
        d.kv("gssapiserveridentity", v);
    }
    d.kv("gssapikexalgorithms", &c.gssapi_kex_algorithms);
    d.kv("hashknownhosts", yn(c.hash_known_hosts));
    d.kv("hostbasedauthentication", yn(c.hostbased_authentication));
    d.kv("identitiesonly", yn(c.identities_only));
    d.kv(
        "kbdinteractiveauthentication",
        yn(c.kbd_interactive_authentication),
    );
    d.kv(
        "nohostauthenticationforlocalhost",
        yn(c.no_host_authentication_for_localhost),
    );
    d.kv("passwordauthentication", yn(c.password_authentication));
    d.kv("permitlocalcommand", yn(c.permit_local_command));
    d.kv("proxyusefdpass", yn(c.proxy_use_fdpass));
    d.kv(
        "pubkeyauthentication",
        multistate_name(PUBKEY_AUTH, c.pubkey_authentication),
    );
    d.kv("requesttty", multistate_name(REQUEST_TTY, c.request_tty));
    d.kv("sessiontype", multistate_name(SESSION_TYPE, c.session_type));
    d.kv("stdinnull", yn(c.stdin_null));
    d.kv("forkafterauthentication", yn(c.fork_after_authentication));
    d.kv("streamlocalbindunlink", yn(c.stream_local_bind_unlink));
    d.kv(
        "stricthostkeychecking",
        multistate_name(STRICT_HOSTKEY, c.strict_host_key_checking),
    );
    d.kv("tcpkeepalive", yn(c.tcp_keep_alive));
    d.kv("tunnel", multistate_name(TUNNEL, c.tunnel));
    d.kv(
        "verifyhostkeydns",
        multistate_name(YESNOASK, c.verify_host_key_dns),
    );
    d.kv("visualhostkey", yn(c.visual_host_key));
    d.kv(
        "updatehostkeys",
        multistate_name(YESNOASK, c.update_host_keys),
    );
    d.kv("enableescapecommandline", yn(c.enable_escape_commandline));

    d.kv("canonicalizemaxdots", &c.canonicalize_max_dots.to_string());
    d.kv("connectionattempts", &c.connection_attempts.to_string());
    d.kv("forwardx11timeout", &c.forward_x11_timeout.to_string());
    d.kv(
        "numberofpasswordprompts",
        &c.number_of_password_prompts.to_string(),
    );
    d.kv("serveralivecountmax", &c.server_alive_count_max.to_string());
    d.kv("serveraliveinterval", &c.server_alive_interval.to_string());
    d.kv("requiredrsasize", &c.required_rsa_size.to_string());
    // OpenSSH 10 keywords appear only when configured, so that the output
    // keeps 9.2's format otherwise.
    if let (true, Some(ms)) = (v10, c.obscure_keystroke_timing) {
        let t = match ms {
            0 => "no".to_owned(),
            20 => "yes".to_owned(),
            n => n.to_string(),
        };
        d.kv("obscurekeystroketiming", &t);
    }

    let algo = |d: &mut Dump, k: &str, v: &str, name: &str| {
        if !c.failed_algos.contains(&name) {
            d.kv(k, v);
        }
    };
    d.opt("bindaddress", &c.bind_address);
    d.opt("bindinterface", &c.bind_interface);
    algo(&mut d, "ciphers", &c.ciphers, "ciphers");
    d.opt("controlpath", &c.control_path);
    d.kv("hostkeyalgorithms", &c.host_key_algorithms);
    d.opt("hostkeyalias", &c.host_key_alias);
    algo(
        &mut d,
        "hostbasedacceptedalgorithms",
        &c.hostbased_accepted_algorithms,
        "hostbased_accepted_algos",
    );
    d.opt("identityagent", &c.identity_agent);
    d.opt("ignoreunknown", &c.ignore_unknown);
    d.opt("kbdinteractivedevices", &c.kbd_interactive_devices);
    algo(&mut d, "kexalgorithms", &c.kex_algorithms, "kex_algorithms");
    algo(
        &mut d,
        "casignaturealgorithms",
        &c.ca_signature_algorithms,
        "ca_sign_algorithms",
    );
    d.opt("localcommand", &c.local_command);
    d.opt("remotecommand", &c.remote_command);
    d.kv("loglevel", &c.log_level.to_string());
    algo(&mut d, "macs", &c.macs, "macs");
    d.opt("pkcs11provider", &c.pkcs11_provider);
    d.opt("securitykeyprovider", &c.security_key_provider);
    d.opt("preferredauthentications", &c.preferred_authentications);
    algo(
        &mut d,
        "pubkeyacceptedalgorithms",
        &c.pubkey_accepted_algorithms,
        "pubkey_accepted_algos",
    );
    d.opt("revokedhostkeys", &c.revoked_host_keys);
    d.kv("xauthlocation", &c.xauth_location);
    d.opt("knownhostscommand", &c.known_hosts_command);
    if v10 {
        d.opt("tag", &c.tag);
        d.opt("versionaddendum", &c.version_addendum);
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
    d.0.push_str(&fwd_lines);

    for f in &c.identity_files {
        d.kv("identityfile", &f.path);
    }
    let oneline = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(" ")
        }
    };
    d.kv("canonicaldomains", &oneline(&c.canonical_domains));
    for f in &c.certificate_files {
        d.kv("certificatefile", &f.path);
    }
    d.kv(
        "globalknownhostsfile",
        &oneline(&c.global_known_hosts_files),
    );
    d.kv("userknownhostsfile", &oneline(&c.user_known_hosts_files));
    for e in &c.send_env {
        d.kv("sendenv", e);
    }
    for e in &c.set_env {
        d.kv("setenv", e);
    }
    d.kv("logverbose", &oneline(&c.log_verbose));
    if v10 && !c.channel_timeouts.is_empty() {
        d.kv("channeltimeout", &oneline(&c.channel_timeouts));
    }

    d.kv(
        "permitremoteopen",
        &if c.permit_remote_open.is_empty() {
            "any".to_owned()
        } else {
            c.permit_remote_open.join(" ")
        },
    );
    if c.add_keys_to_agent_lifespan <= 0 {
        d.kv(
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
        d.kv(&format!("addkeystoagent{confirm}"), &v);
    }
    match &c.forward_agent_sock_path {
        None => d.kv("forwardagent", yn(c.forward_agent)),
        Some(p) => d.kv("forwardagent", p),
    }
    match c.connect_timeout {
        None => d.kv("connecttimeout", "none"),
        Some(t) => d.kv("connecttimeout", &t.to_string()),
    }
    let tun = |v: Option<u32>| v.map_or("any".to_owned(), |n| n.to_string());
    d.kv(
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
    d.kv("canonicalizePermittedcnames", &cn);
    if !c.control_persist || c.control_persist_timeout == 0 {
        d.kv("controlpersist", yn(c.control_persist));
    } else {
        d.kv("controlpersist", &c.control_persist_timeout.to_string());
    }
    match c.escape_char {
        None => d.kv("escapechar", "none"),
        Some(ch) => d.kv("escapechar", &vis_byte(ch)),
    }
    d.kv("ipqos", &c.ip_qos.to_string());
    d.kv("rekeylimit", &c.rekey_limit.to_string());
    d.kv(
        "streamlocalbindmask",
        &format!("0{:o}", c.stream_local_bind_mask),
    );
    d.kv("syslogfacility", &c.syslog_facility.to_string());
    match &c.proxy_jump {
        None => {
            if let Some(p) = &c.proxy_command {
                d.kv("proxycommand", p);
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
            d.kv("proxyjump", &s);
        }
    }
    d.0
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
