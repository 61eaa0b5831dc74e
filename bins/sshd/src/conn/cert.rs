//! User certificates in publickey authentication (PROTOCOL.certkeys; OpenSSH's
//! auth2-pubkey.c `user_cert_trusted_ca`, the `cert-authority` branch of
//! auth2-pubkeyfile.c `auth_check_authkey_line`, and auth-options.c
//! `sshauthopt_from_cert` / `auth_authorise_keyopts`): is the certificate's CA trusted
//! (`TrustedUserCAKeys`, or a `cert-authority` line of an authorized_keys file or of
//! `AuthorizedKeysCommand` output), is it valid now, for this user
//! (`AuthorizedPrincipalsFile` / `AuthorizedPrincipalsCommand`, a `principals=` option, or the user name), from this
//! address (`source-address`), with critical options we understand; and `RevokedKeys`
//! (a KRL or a list of public keys) for certificates and plain keys alike.
//!
//! The restrictions a certificate carries become authorized_keys [`Options`] (a missing
//! `permit-pty` is `no-pty`, `force-command` is `command=`), merged with those of the
//! line that trusted the CA, so the session enforces both the same way.
//!
//! Not here: the certificate's own CA signature (checked when the blob is parsed) and
//! the signature of the request (userauth). `AuthorizedPrincipalsCommand` runs
//! through the AuthorizedKeysCommand machinery (`keys_command`).

use std::path::{Path, PathBuf};

use oxssh_keys::authorized_keys::{self, Options};
use oxssh_keys::cert::{Certificate, Policy};
use ssh_key::{HashAlg, PublicKey};

use super::{Peer, key_label, key_options_allow};
use crate::config::ServerConfig;

/// "ED25519-CERT", OpenSSH's sshkey_type of a certificate.
pub(super) fn cert_label(c: &Certificate) -> String {
    format!("{}-CERT", key_label(&c.key))
}

/// The key part of auth_log's line for a certificate: `ED25519-CERT SHA256:… ID x
/// (serial 1) CA ED25519 SHA256:…`.
pub(super) fn describe(c: &Certificate) -> String {
    format!(
        "{} {} ID {} (serial {}) CA {} {}",
        cert_label(c),
        c.key.fingerprint(HashAlg::Sha256),
        c.key_id,
        c.serial,
        key_label(&c.signature_key),
        c.signature_key.fingerprint(HashAlg::Sha256)
    )
}

/// auth_key_is_revoked for `key` (and, for a certificate, its CA): refuse when listed
/// in `RevokedKeys`, and when the file cannot be read or parsed.
pub(super) fn is_revoked(cfg: &ServerConfig, key: &PublicKey, cert: Option<&Certificate>) -> bool {
    let Some(file) = cfg.revoked_keys_file.as_deref() else {
        return false;
    };
    let (label, fp) = match cert {
        Some(c) => (cert_label(c), c.key.fingerprint(HashAlg::Sha256)),
        None => (key_label(key).to_owned(), key.fingerprint(HashAlg::Sha256)),
    };
    let trouble = |why: &str| {
        tracing::error!(
            "Error checking authentication key {label} {fp} in revoked keys file {file}: {why}"
        );
        true
    };
    let data = match std::fs::read(file) {
        Ok(d) => d,
        Err(e) => return trouble(&e.to_string()),
    };
    let revoked = match oxssh_keys::krl::file_revokes(&data, key, cert) {
        Ok(r) => r,
        Err(why) => return trouble(why),
    };
    if revoked {
        tracing::error!("Authentication key {label} {fp} revoked by file {file}");
    }
    revoked
}

/// user_key_allowed for a certificate: TrustedUserCAKeys, then the AuthorizedKeysFile
/// files, then AuthorizedKeysCommand; the options of the login if one trusts it.
pub(super) async fn allowed(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    cert: &Certificate,
    files: &[PathBuf],
    peer: &Peer,
) -> Option<Options> {
    if is_revoked(cfg, &cert.key, Some(cert)) {
        return None;
    }
    let sigtype = cert.signature_type();
    if oxssh_config::pattern::match_pattern_list(&sigtype, &cfg.ca_signature_algorithms, false) != 1
    {
        tracing::info!(
            "Certificate signature algorithm {sigtype} not in CASignatureAlgorithms [preauth]"
        );
        return None;
    }
    if let Some(o) = trusted_ca(cfg, pw, cert, peer).await {
        return Some(o);
    }
    for f in files {
        let Some(text) = super::read_user_file(f) else {
            continue;
        };
        tracing::debug!("trying public key file {}", f.display());
        if let Some(o) = find_ca(&text, &f.display().to_string(), pw, cert, peer) {
            return Some(o);
        }
    }
    let command = cfg.authorized_keys_command.as_deref()?;
    let key = cert.to_ssh_key()?;
    let text = super::keys_command::run(cfg, pw, &key).await?;
    find_ca(&text, command, pw, cert, peer)
}

fn now() -> u64 {
    u64::try_from(oxssh_sys::now_epoch()).unwrap_or(0)
}

/// user_cert_trusted_ca: the CA in TrustedUserCAKeys, a principal from
/// AuthorizedPrincipalsFile (when set) or the user name.
async fn trusted_ca(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    cert: &Certificate,
    peer: &Peer,
) -> Option<Options> {
    let file = cfg.trusted_user_ca_keys.as_deref()?;
    let ca = &cert.signature_key;
    let listed = super::read_user_file(Path::new(file)).is_some_and(|t| {
        authorized_keys::parse(&t)
            .0
            .iter()
            .any(|e| e.key.key_data() == ca.key_data())
    });
    let ca_text = format!("{} CA {}", key_label(ca), ca.fingerprint(HashAlg::Sha256));
    if !listed {
        tracing::debug!("user_cert_trusted_ca: {ca_text} is not listed in {file} [preauth]");
        return None;
    }
    let principals_file = cfg
        .authorized_principals_file
        .as_deref()
        .filter(|f| !f.eq_ignore_ascii_case("none"))
        .map(|f| expand_path(f, pw));
    let mut line_opts = None;
    if let Some(pf) = &principals_file {
        line_opts = match_principals_file(pf, pw, cert, peer);
    }
    let command = cfg
        .authorized_principals_command
        .as_deref()
        .filter(|c| *c != "none");
    if line_opts.is_none() && command.is_some() {
        if let Some(text) = super::keys_command::run_principals(cfg, pw, cert).await {
            line_opts = principals_in(&text, "(command)", pw, cert, peer);
        }
    }
    let use_authorized_principals = principals_file.is_some() || command.is_some();
    if line_opts.is_none() && use_authorized_principals {
        tracing::error!("Certificate does not contain an authorized principal");
        return None;
    }
    let policy = Policy {
        want_host: false,
        require_principal: true,
        wildcard: false,
        name: if use_authorized_principals {
            None
        } else {
            Some(pw.name.as_str())
        },
        now: now(),
    };
    if let Err(reason) = cert.check_authority(&policy) {
        tracing::error!("{reason}");
        return None;
    }
    let opts = finish(cert, line_opts, pw, peer)?;
    tracing::info!(
        "Accepted certificate ID \"{}\" (serial {}) signed by {ca_text} via {file}",
        cert.key_id,
        cert.serial
    );
    Some(opts)
}

/// The `cert-authority` lines of authorized_keys text naming the certificate's CA.
fn find_ca(
    text: &str,
    source: &str,
    pw: &oxssh_sys::Passwd,
    cert: &Certificate,
    peer: &Peer,
) -> Option<Options> {
    let ca = &cert.signature_key;
    let (entries, _) = authorized_keys::parse(text);
    for e in entries
        .into_iter()
        .filter(|e| e.options.cert_authority && e.key.key_data() == ca.key_data())
    {
        let ca_text = format!("{} CA {}", key_label(ca), ca.fingerprint(HashAlg::Sha256));
        tracing::debug!(
            "{source}:{}: matching CA found: {} {}",
            e.line,
            key_label(ca),
            ca.fingerprint(HashAlg::Sha256)
        );
        if !key_options_allow(&e.options, &pw.name, peer, Path::new(source), e.line) {
            continue;
        }
        if let Some(list) = &e.options.principals {
            let hit = cert
                .principals
                .iter()
                .find(|p| list.split(',').any(|l| l == p.as_str()));
            match hit {
                Some(p) => tracing::debug!("matched principal from key options \"{p}\""),
                None => {
                    tracing::error!("Certificate does not contain an authorized principal");
                    continue;
                }
            }
        }
        let policy = Policy {
            want_host: false,
            require_principal: false,
            wildcard: false,
            name: if e.options.principals.is_some() {
                None
            } else {
                Some(pw.name.as_str())
            },
            now: now(),
        };
        if let Err(reason) = cert.check_authority(&policy) {
            tracing::error!("{reason}");
            continue;
        }
        let mut line = e.options;
        line.cert_authority = false;
        line.principals = None;
        let Some(opts) = finish(cert, Some(line), pw, peer) else {
            continue;
        };
        tracing::info!(
            "Accepted certificate ID \"{}\" (serial {}) signed by {ca_text} via {source}:{}",
            cert.key_id,
            cert.serial,
            e.line
        );
        return Some(opts);
    }
    None
}

/// sshauthopt_from_cert, merged with the options of the line that trusted the CA, and
/// auth_authorise_keyopts' source-address check.
fn finish(
    cert: &Certificate,
    line: Option<Options>,
    pw: &oxssh_sys::Passwd,
    peer: &Peer,
) -> Option<Options> {
    let co = match cert.user_options() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("{e}");
            tracing::error!("Invalid certificate options");
            return None;
        }
    };
    if let Some(sa) = &co.source_address {
        let ip = peer.ip();
        match oxssh_config::pattern::addr_match_list(Some(&ip), sa) {
            1 => {}
            r => {
                if r < 0 {
                    tracing::error!("Certificate source-address invalid");
                }
                tracing::info!(
                    "cert: Authentication tried for {} with valid certificate but not from a permitted source address ({ip}).",
                    pw.name
                );
                return None;
            }
        }
    }
    let from_cert = Options {
        command: co.force_command,
        no_pty: !co.permit_pty,
        no_port_forwarding: !co.permit_port_forwarding,
        no_agent_forwarding: !co.permit_agent_forwarding,
        no_x11_forwarding: !co.permit_x11_forwarding,
        no_user_rc: !co.permit_user_rc,
        no_touch_required: co.no_touch_required,
        verify_required: co.verify_required,
        ..Options::default()
    };
    let merged = super::userauth::merge_options(line.as_ref(), from_cert);
    if merged.is_none() {
        tracing::error!("Certificate and key options forced command conflict");
    }
    merged
}

/// AuthorizedPrincipalsFile with its tokens expanded; relative paths are under home.
fn expand_path(f: &str, pw: &oxssh_sys::Passwd) -> PathBuf {
    super::user_path(f, pw)
}

/// match_principals_file / process_principals: `[options] principal` lines; the options
/// of the first line naming one of the certificate's principals whose options let this
/// login in.
fn match_principals_file(
    file: &Path,
    pw: &oxssh_sys::Passwd,
    cert: &Certificate,
    peer: &Peer,
) -> Option<Options> {
    tracing::debug!("trying authorized principals file {}", file.display());
    let text = super::read_user_file(file)?;
    principals_in(&text, &file.display().to_string(), pw, cert, peer)
}

fn principals_in(
    text: &str,
    source: &str,
    pw: &oxssh_sys::Passwd,
    cert: &Certificate,
    peer: &Peer,
) -> Option<Options> {
    for (n, raw) in text.lines().enumerate() {
        let n = n + 1;
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        // Internal whitespace: options, then the principal after the last blank.
        let (opts, name) = match line.rfind([' ', '\t']) {
            Some(i) => (
                line.get(..i).unwrap_or_default().trim(),
                line.get(i + 1..).unwrap_or_default(),
            ),
            None => ("", line),
        };
        if !cert.principals.iter().any(|p| p == name) {
            continue;
        }
        tracing::debug!("{source}:{n}: matched principal \"{name}\"");
        let parsed = if opts.is_empty() {
            Ok(Options::default())
        } else {
            authorized_keys::parse_options(opts)
        };
        match parsed {
            Ok(o) if key_options_allow(&o, &pw.name, peer, Path::new(source), n) => return Some(o),
            Ok(_) => {}
            Err(why) => tracing::debug!("{source}:{n}: bad principals options: {why}"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(principals: &[&str]) -> Certificate {
        let ca = ssh_key::PrivateKey::from_openssh(oxssh_testkit::Key::Ed25519.private()).unwrap();
        let mut c = Certificate::for_key(ca.public_key()).unwrap();
        c.principals = principals.iter().map(|p| (*p).to_owned()).collect();
        c.sign(&ca, None).unwrap();
        c
    }

    fn pw() -> oxssh_sys::Passwd {
        oxssh_sys::getpwnam("root").unwrap()
    }

    fn peer() -> Peer {
        Peer {
            remote: "127.0.0.1:5".parse().ok(),
            local: None,
        }
    }

    #[test]
    fn principals_file_lines_take_options_before_the_last_blank() {
        let c = cert(&["alice", "ops"]);
        let text = "# comment\nbob\ncommand=\"echo hi\" ops\n";
        let o = principals_in(text, "f", &pw(), &c, &peer()).unwrap();
        assert_eq!(o.command.as_deref(), Some("echo hi"));
        assert!(principals_in("bob\ncarol # x\n", "f", &pw(), &c, &peer()).is_none());
    }

    #[test]
    fn missing_extensions_become_restrictions() {
        let c = cert(&["alice"]);
        let o = finish(&c, None, &pw(), &peer()).unwrap();
        assert!(o.no_pty && o.no_port_forwarding && o.no_agent_forwarding && o.no_user_rc);
    }
}
