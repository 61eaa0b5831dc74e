//! The server side of user authentication (RFC 4252, RFC 4256) as OpenSSH's auth2.c,
//! auth2-pubkey.c and auth2-chall.c behave: one user and service per connection,
//! `AuthenticationMethods` with partial success, `MaxAuthTries` counted the way OpenSSH
//! counts (every failed request but an initial "none" and partial successes; an
//! unauthorized key offered without signature counts too), PermitRootLogin checked
//! after a method succeeds (`forced-commands-only`: only a key with command=), keys
//! never accepted twice, and the `Accepted`/`Partial`/`Failed`/`Postponed` log lines
//! OpenSSH writes for the same attempts.
//!
//! keyboard-interactive has the devices OpenSSH has on Linux: with `UsePAM no` none, so
//! the method fails at once without a prompt, exactly as OpenSSH's; with `UsePAM yes`
//! the "pam" device: the PAM stack's own conversation, one prompt per round (see
//! `pam`). With UsePAM, passwords are checked by PAM too and account modules run after
//! every successful method. Secrets (passwords, answers) are wiped on drop and never
//! logged.

use std::path::PathBuf;

use oxssh_keys::authorized_keys;
use oxssh_keys::cert::Certificate;
use oxssh_net::Conn;
use oxssh_proto::auth::{self, Method};
use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::msg;
use ssh_key::{HashAlg, PublicKey};
use tokio::io::{AsyncRead, AsyncWrite};

use super::methods::Lists;
use super::{Peer, User, describe, key_label, key_options_allow, password_ok};
use crate::config::{ConnSpec, PermitRootLogin, ServerConfig};

/// OpenSSH disconnects after this many requests whatever MaxAuthTries says.
const MAX_ATTEMPTS: u32 = 1024;

/// A keyboard-interactive exchange waiting for USERAUTH_INFO_RESPONSE.
struct Challenge {
    device: &'static str,
    nreq: usize,
}

/// What a method did with one request.
enum Res {
    /// Authenticated (a key's options are in the context by now).
    Ok,
    Fail,
    /// PK_OK or INFO_REQUEST sent: the exchange goes on.
    Postponed,
}

/// One request's outcome, with what OpenSSH would log about it.
struct Attempt {
    res: Res,
    submethod: Option<&'static str>,
    /// The key for the log line and the ExposeAuthInfo record (sshkey_format_text).
    key: Option<PublicKey>,
    /// The certificate the key came in, for the log line and ExposeAuthInfo.
    cert: Option<Certificate>,
    /// Whether OpenSSH writes an auth_log line for this request (its monitor logs
    /// password, key verification and kbd-int results; its network child only
    /// postponements).
    logged: bool,
}

impl Attempt {
    fn fail() -> Attempt {
        Attempt {
            res: Res::Fail,
            submethod: None,
            key: None,
            cert: None,
            logged: false,
        }
    }
}

/// Where a keyboard-interactive PAM exchange stands (OpenSSH's `pam_done`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum KbdOutcome {
    /// A prompt is out; the answer goes to PAM.
    Prompting,
    /// PAM said yes: the empty round's answer completes the method.
    Succeeded,
    /// PAM said no after showing messages: the empty round's answer fails it.
    Failed,
}

/// A keyboard-interactive exchange with the PAM stack.
struct Kbd {
    it: super::pam::Interactive,
    outcome: KbdOutcome,
}

/// Authctxt: the state of authentication for the connection.
struct Ctx<'a> {
    peer: &'a Peer,
    user: String,
    service: String,
    cfg: ServerConfig,
    /// Some for a valid user (exists, allowed, service ssh-connection).
    pw: Option<oxssh_sys::Passwd>,
    lists: Lists,
    attempt: u32,
    failures: u32,
    prev_keys: Vec<PublicKey>,
    /// ExposeAuthInfo: one line per method that succeeded.
    info: String,
    key_opts: Option<authorized_keys::Options>,
    challenge: Option<Challenge>,
    /// UsePAM: the PAM transaction (started at the first request that needs it).
    pam: Option<oxssh_sys::pam::Pam>,
    kbd: Option<Kbd>,
    /// The account modules already ran (in the keyboard-interactive thread).
    pam_account_ok: bool,
    /// auth2_record_info of the request being decided (hostbased: the client user and
    /// host), for the log line and ExposeAuthInfo.
    method_info: Option<String>,
}

impl Ctx<'_> {
    /// Whether PAM gets the real password: a valid user, and not a root PermitRootLogin
    /// keeps from passwords (those get a junk one of the same length).
    fn pam_real_password(&self) -> bool {
        self.pw
            .as_ref()
            .is_some_and(|pw| pw.uid != 0 || self.cfg.permit_root_login == PermitRootLogin::Yes)
    }

    /// The PAM transaction, started on first use.
    fn take_pam(&mut self) -> Option<oxssh_sys::pam::Pam> {
        self.pam
            .take()
            .or_else(|| super::pam::start(&self.user, &self.peer.ip()))
    }

    /// "authenticating user bob" / "invalid user bob", as OpenSSH's log preamble.
    fn who(&self) -> String {
        format!(
            "{} user {}",
            if self.pw.is_some() {
                "authenticating"
            } else {
                "invalid"
            },
            self.user
        )
    }

    fn max_tries(&self) -> u32 {
        self.cfg.max_auth_tries.max(0) as u32
    }

    fn enabled(&self) -> Vec<&'static str> {
        let c = &self.cfg;
        let mut m = Vec::new();
        if c.pubkey_authentication {
            m.push("publickey");
        }
        if c.password_authentication {
            m.push("password");
        }
        if c.kbd_interactive_authentication {
            m.push("keyboard-interactive");
        }
        if c.hostbased_authentication {
            m.push("hostbased");
        }
        m
    }

    /// auth_log: "Accepted publickey for bob from 10.0.0.1 port 5 ssh2: ED25519 SHA256:…".
    fn log(&self, verdict: &str, method: &str, submethod: Option<&str>, att: &Attempt) {
        // OpenSSH's monitor logs this line without the method's info (hostbased's
        // client user and host), which only ExposeAuthInfo records.
        let extra = match (&att.cert, &att.key) {
            (Some(c), _) => format!(": {}", super::cert::describe(c)),
            (None, Some(k)) => format!(": {} {}", key_label(k), k.fingerprint(HashAlg::Sha256)),
            (None, None) => String::new(),
        };
        let tail = if verdict == "Postponed" {
            " [preauth]"
        } else {
            ""
        };
        tracing::info!(
            "{verdict} {method}{}{} for {}{} from {} port {} ssh2{extra}{tail}",
            if submethod.is_some() { "/" } else { "" },
            submethod.unwrap_or_default(),
            if self.pw.is_some() {
                ""
            } else {
                "invalid user "
            },
            self.user,
            self.peer.ip(),
            self.peer.port()
        );
    }

    /// auth_root_allowed, with its log lines.
    fn root_allowed(&self, method: &str) -> bool {
        match self.cfg.permit_root_login {
            PermitRootLogin::Yes => return true,
            PermitRootLogin::ProhibitPassword if matches!(method, "publickey" | "hostbased") => {
                return true;
            }
            PermitRootLogin::ForcedCommandsOnly
                if self.key_opts.as_ref().is_some_and(|o| o.command.is_some()) =>
            {
                tracing::info!("Root login accepted for forced command.");
                return true;
            }
            _ => {}
        }
        tracing::info!(
            "ROOT LOGIN REFUSED FROM {} port {}",
            self.peer.ip(),
            self.peer.port()
        );
        false
    }
}

/// auth_activate_options for a second key: the restrictions add up; two different
/// forced commands cannot both hold.
pub(super) fn merge_options(
    prev: Option<&authorized_keys::Options>,
    new: authorized_keys::Options,
) -> Option<authorized_keys::Options> {
    let Some(p) = prev else { return Some(new) };
    let mut m = new;
    match (&p.command, &m.command) {
        (Some(a), Some(b)) if a != b => return None,
        (Some(a), None) => m.command = Some(a.clone()),
        _ => {}
    }
    m.no_pty |= p.no_pty;
    m.no_port_forwarding |= p.no_port_forwarding;
    m.no_agent_forwarding |= p.no_agent_forwarding;
    m.no_x11_forwarding |= p.no_x11_forwarding;
    m.no_user_rc |= p.no_user_rc;
    let mut env = p.environment.clone();
    env.append(&mut m.environment);
    m.environment = env;
    if m.permitopen.is_empty() {
        m.permitopen = p.permitopen.clone();
    }
    if m.permitlisten.is_empty() {
        m.permitlisten = p.permitlisten.clone();
    }
    // As OpenSSH's sshauthopt_merge: the key line's tunnel= first. `restrict` stays in
    // force (OpenSSH's merge drops it, which lets a certificate login or a second key
    // undo it for tunnels; we fail closed).
    m.tunnel = p.tunnel.or(m.tunnel);
    m.restricted |= p.restricted;
    Some(m)
}

/// AuthorizedKeysFile entries with %h, %u, %U, %% expanded; relative paths are under
/// home.
fn authorized_files(cfg: &ServerConfig, pw: &oxssh_sys::Passwd) -> Vec<PathBuf> {
    cfg.authorized_keys_files
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("none"))
        .map(|f| super::user_path(f, pw))
        .collect()
}

/// Find `key` in authorized_keys text read from `source`: its options if present and
/// its from=/expiry-time= let this login in.
fn find_key(
    text: &str,
    source: &str,
    pw: &oxssh_sys::Passwd,
    key: &PublicKey,
    peer: &Peer,
) -> Option<authorized_keys::Options> {
    let (entries, bad) = authorized_keys::parse(text);
    for (line, why) in bad {
        tracing::debug!("{source}:{line}: {why}");
    }
    for e in entries
        .into_iter()
        .filter(|e| !e.options.cert_authority && e.key.key_data() == key.key_data())
    {
        tracing::debug!(
            "{source}:{}: matching key found: {} {}",
            e.line,
            key_label(key),
            key.fingerprint(HashAlg::Sha256)
        );
        if key_options_allow(
            &e.options,
            &pw.name,
            peer,
            std::path::Path::new(source),
            e.line,
        ) {
            return Some(e.options);
        }
    }
    None
}

/// user_key_allowed: RevokedKeys, then (for a certificate, see `cert`) the
/// AuthorizedKeysFile files, then AuthorizedKeysCommand.
async fn key_allowed(
    cfg: &ServerConfig,
    pw: &oxssh_sys::Passwd,
    key: &PublicKey,
    cert: Option<&Certificate>,
    peer: &Peer,
) -> Option<authorized_keys::Options> {
    if let Some(c) = cert {
        return super::cert::allowed(cfg, pw, c, &authorized_files(cfg, pw), peer).await;
    }
    if super::cert::is_revoked(cfg, key, None) {
        return None;
    }
    for f in authorized_files(cfg, pw) {
        let Some(text) = super::read_user_file(&f) else {
            continue;
        };
        tracing::debug!("trying public key file {}", f.display());
        if let Some(o) = find_key(&text, &f.display().to_string(), pw, key, peer) {
            return Some(o);
        }
    }
    let command = cfg.authorized_keys_command.as_deref()?;
    let text = super::keys_command::run(cfg, pw, key).await?;
    find_key(&text, command, pw, key, peer)
}

pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    base: &ServerConfig,
    peer: &Peer,
) -> Result<User, String> {
    let mut nov = oxssh_net::no_host_keys;
    let p = conn
        .recv(&mut nov)
        .await
        .map_err(|e| describe(&e, peer, None))?;
    if p.first() != Some(&msg::SERVICE_REQUEST)
        || auth::parse_service(&p).ok().as_deref() != Some(auth::SERVICE_USERAUTH)
    {
        return Err(format!(
            "Disconnecting {} port {}: bad service request [preauth]",
            peer.ip(),
            peer.port()
        ));
    }
    conn.send(&auth::service_accept(auth::SERVICE_USERAUTH))
        .await
        .map_err(|e| describe(&e, peer, None))?;
    let session_id = conn.t.session_id().map(<[u8]>::to_vec).unwrap_or_default();
    let mut ctx: Option<Ctx> = None;
    loop {
        let who = ctx.as_ref().map(Ctx::who);
        let p = conn
            .recv(&mut nov)
            .await
            .map_err(|e| describe(&e, peer, who.as_deref()))?;
        if p.first() == Some(&msg::USERAUTH_INFO_RESPONSE) {
            let Some(c) = ctx.as_mut() else {
                tracing::debug!("unexpected USERAUTH_INFO_RESPONSE [preauth]");
                continue;
            };
            let Some(ch) = c.challenge.take() else {
                tracing::debug!("USERAUTH_INFO_RESPONSE without a challenge [preauth]");
                continue;
            };
            let answers = match auth::parse_info_response(&p, ch.nreq) {
                Ok(a) => a,
                Err(e) => {
                    return Err(
                        fatal(conn, c, &format!("input_userauth_info_response: {e}")).await,
                    );
                }
            };
            let att = kbd_respond(conn, c, ch.device, &answers).await?;
            if let Some(u) = finish(conn, c, "keyboard-interactive", att).await? {
                return Ok(u);
            }
            continue;
        }
        let req = auth::parse_request(&p).map_err(|e| format!("{e} [preauth]"))?;
        let wire_user = req.user.clone();
        // "user:style" names a BSD auth style; the account is the part before ':'.
        let user = req
            .user
            .split_once(':')
            .map_or(req.user.as_str(), |(u, _)| u);
        let user = user.to_owned();
        tracing::debug!(
            "userauth-request for user {user} service {} method {} [preauth]",
            req.service,
            req.method_name()
        );
        let c = match ctx.as_mut() {
            None => {
                let c = ctx.insert(start(base, peer, &user, &req.service)?);
                if let Some(b) = c.cfg.banner.as_deref().filter(|b| *b != "none") {
                    if let Ok(text) = std::fs::read_to_string(b) {
                        conn.send(&auth::banner(&text))
                            .await
                            .map_err(|e| describe(&e, peer, Some(&c.who())))?;
                    }
                }
                c
            }
            Some(c) => {
                if c.user != user || c.service != req.service {
                    let m = format!(
                        "Change of username or service not allowed: ({},{}) -> ({user},{})",
                        c.user, c.service, req.service
                    );
                    return Err(fatal(conn, c, &m).await);
                }
                c
            }
        };
        if c.attempt >= MAX_ATTEMPTS {
            return Err(maxtries_exceeded(conn, c).await);
        }
        c.attempt += 1;
        // A new request abandons a keyboard-interactive exchange (and its PAM thread).
        c.challenge = None;
        c.kbd = None;
        c.method_info = None;
        let method = match &req.method {
            Method::PublicKey { .. } => "publickey",
            _ => req.method_name(),
        };
        let enabled = match method {
            "none" => true,
            m => c.enabled().contains(&m),
        };
        let usable = enabled && c.lists.allowed(method, None) && c.failures < c.max_tries();
        if !usable {
            tracing::trace!("method {method} not enabled or not allowed [preauth]");
        }
        let att = match (&req.method, usable) {
            (_, false) => Attempt::fail(),
            (Method::None, _) => none(c),
            (
                Method::Password {
                    password,
                    new_password,
                },
                _,
            ) => {
                if new_password.is_some() {
                    tracing::info!("password change not supported");
                }
                let ok = new_password.is_none()
                    && if c.cfg.use_pam {
                        pam_password(c, password).await
                    } else {
                        password_ok(&c.cfg, c.pw.as_ref(), password, |pw| {
                            pw.uid != 0 || c.cfg.permit_root_login == PermitRootLogin::Yes
                        })
                    }
                    && c.pw.is_some();
                Attempt {
                    res: if ok { Res::Ok } else { Res::Fail },
                    submethod: None,
                    key: None,
                    cert: None,
                    logged: true,
                }
            }
            (
                Method::PublicKey {
                    alg,
                    key_blob,
                    hostbound,
                    signature,
                },
                _,
            ) => {
                let q = PubkeyRequest {
                    wire_method: req.method_name(),
                    wire_user: &wire_user,
                    alg,
                    key_blob,
                    hostbound: hostbound.as_deref(),
                    signature: signature.as_deref(),
                    session_id: &session_id,
                };
                pubkey(conn, c, q).await?
            }
            (Method::KeyboardInteractive { submethods }, _) => kbdint(conn, c, submethods).await?,
            (
                Method::Hostbased {
                    alg,
                    key_blob,
                    client_host,
                    client_user,
                    signature,
                },
                _,
            ) => {
                let q = HostbasedRequest {
                    wire_user: &wire_user,
                    alg,
                    key_blob,
                    client_host,
                    client_user,
                    signature,
                    session_id: &session_id,
                };
                hostbased(c, q)
            }
            _ => Attempt::fail(),
        };
        let name = match (&att.res, &req.method) {
            // The query's postponement is logged under the method name as sent.
            (Res::Postponed, Method::PublicKey { .. }) => req.method_name(),
            _ => method,
        };
        let name = name.to_owned();
        if let Some(u) = finish(conn, c, &name, att).await? {
            return Ok(u);
        }
    }
}

/// The first request: the user, the Match blocks for it, the method lists.
fn start<'a>(
    base: &ServerConfig,
    peer: &'a Peer,
    user: &str,
    service: &str,
) -> Result<Ctx<'a>, String> {
    let spec = ConnSpec {
        user: Some(user.to_owned()),
        host: Some(peer.ip()),
        addr: Some(peer.ip()),
        laddr: Some(peer.local_ip()),
        lport: i32::from(peer.local_port()),
        rdomain: None,
    };
    let cfg = crate::config::for_connection(base, &spec).map_err(|e| format!("{e} [preauth]"))?;
    // getpwnamallow: unknown users and users AllowUsers & co. refuse are handled
    // alike afterwards: the same work, the same failures, no oracle.
    let pw = match oxssh_sys::getpwnam(user) {
        None => {
            tracing::info!(
                "Invalid user {user} from {} port {}",
                peer.ip(),
                peer.port()
            );
            None
        }
        Some(pw) => super::allowed_user(&cfg, &pw, peer).then_some(pw),
    };
    let pw = pw.filter(|_| service == auth::SERVICE_CONNECTION);
    let enabled = |m: &str| match m {
        "none" => true,
        "publickey" => cfg.pubkey_authentication,
        "password" => cfg.password_authentication,
        "keyboard-interactive" => cfg.kbd_interactive_authentication,
        "hostbased" => cfg.hostbased_authentication,
        "gssapi-with-mic" => cfg.gssapi_authentication,
        _ => false,
    };
    let lists = Lists::setup(&cfg.authentication_methods, enabled);
    let mut c = Ctx {
        peer,
        user: user.to_owned(),
        service: service.to_owned(),
        cfg,
        pw,
        lists: Lists::default(),
        attempt: 0,
        failures: 0,
        prev_keys: Vec::new(),
        info: String::new(),
        key_opts: None,
        challenge: None,
        pam: None,
        kbd: None,
        pam_account_ok: false,
        method_info: None,
    };
    match lists {
        Ok(l) => c.lists = l,
        Err(()) => {
            return Err(format!(
                "Disconnecting {} {} port {}: no authentication methods enabled [preauth]",
                c.who(),
                peer.ip(),
                peer.port()
            ));
        }
    }
    Ok(c)
}

/// userauth_none: only with PermitEmptyPasswords does "none" try the empty password.
fn none(c: &Ctx) -> Attempt {
    if !(c.cfg.permit_empty_passwords && c.cfg.password_authentication) {
        return Attempt::fail();
    }
    let ok = c.pw.is_some()
        && password_ok(&c.cfg, c.pw.as_ref(), b"", |pw| {
            pw.uid != 0 || c.cfg.permit_root_login == PermitRootLogin::Yes
        });
    Attempt {
        res: if ok { Res::Ok } else { Res::Fail },
        submethod: None,
        key: None,
        cert: None,
        logged: true,
    }
}

struct PubkeyRequest<'r> {
    wire_method: &'r str,
    wire_user: &'r str,
    alg: &'r str,
    key_blob: &'r [u8],
    hostbound: Option<&'r [u8]>,
    signature: Option<&'r [u8]>,
    session_id: &'r [u8],
}

/// userauth_pubkey.
async fn pubkey<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &mut Ctx<'_>,
    q: PubkeyRequest<'_>,
) -> Result<Attempt, String> {
    let Some(alg) = SigAlg::from_name(q.alg) else {
        tracing::info!(
            "userauth_pubkey: unsupported public key algorithm: {} [preauth]",
            q.alg
        );
        return Ok(Attempt::fail());
    };
    // A certificate is parsed (and its CA signature checked) field by field, so that
    // options ssh-key would refuse still reach the policy checks and their log lines.
    let cert = if alg.is_cert() {
        match Certificate::from_blob(q.key_blob) {
            Ok(c) if c.type_name == alg.key_type_name() => Some(c),
            Ok(_) => {
                tracing::error!("userauth_pubkey: type mismatch for decoded key [preauth]");
                return Ok(Attempt::fail());
            }
            Err(e) => {
                tracing::error!("userauth_pubkey: parse key: {e} [preauth]");
                return Ok(Attempt::fail());
            }
        }
    } else {
        None
    };
    let parsed = match &cert {
        Some(c) => Ok(c.key.clone()),
        None => PublicKey::from_bytes(q.key_blob),
    };
    let key = match parsed {
        Ok(k) if cert.is_some() || SigAlg::for_key(&k).contains(&alg) => k,
        Ok(_) => {
            tracing::error!("userauth_pubkey: type mismatch for decoded key [preauth]");
            return Ok(Attempt::fail());
        }
        Err(_) => {
            tracing::error!("userauth_pubkey: parse key: invalid format [preauth]");
            return Ok(Attempt::fail());
        }
    };
    if c.prev_keys.iter().any(|k| k.key_data() == key.key_data()) {
        let label = cert
            .as_ref()
            .map_or_else(|| key_label(&key).to_owned(), super::cert::cert_label);
        tracing::info!("refusing previously-used {label} key [preauth]");
        return Ok(Attempt::fail());
    }
    let accepted =
        oxssh_config::pattern::match_pattern_list(q.alg, &c.cfg.pubkey_accepted_algorithms, false)
            == 1;
    if !accepted {
        tracing::info!(
            "userauth_pubkey: signature algorithm {} not in PubkeyAcceptedAlgorithms [preauth]",
            q.alg
        );
        return Ok(Attempt::fail());
    }
    let Some(pw) = c.pw.clone() else {
        tracing::debug!("userauth_pubkey: disabled because of invalid user [preauth]");
        return Ok(Attempt::fail());
    };
    let Some(sig) = q.signature else {
        if key_allowed(&c.cfg, &pw, &key, cert.as_ref(), c.peer)
            .await
            .is_some()
        {
            conn.send(&auth::pk_ok(q.alg, q.key_blob))
                .await
                .map_err(|e| describe(&e, c.peer, Some(&c.who())))?;
            return Ok(Attempt {
                res: Res::Postponed,
                submethod: None,
                key: None,
                cert: None,
                logged: true,
            });
        }
        return Ok(Attempt::fail());
    };
    if let Some(hk) = q.hostbound {
        if conn.t.host_key() != Some(hk) {
            let m = format!(
                "userauth_pubkey: {} packet contained wrong host key",
                q.wire_method
            );
            return Err(fatal(conn, c, &m).await);
        }
    }
    let Some(opts) = key_allowed(&c.cfg, &pw, &key, cert.as_ref(), c.peer).await else {
        return Ok(Attempt::fail());
    };
    let data = auth::publickey_signed_data(
        q.session_id,
        q.wire_user,
        &c.service,
        alg.name(),
        q.key_blob,
        q.hostbound,
    );
    let verified = hostkey::verify(alg, q.key_blob, &data, sig).is_ok();
    let res = if verified {
        c.prev_keys.push(key.clone());
        match merge_options(c.key_opts.as_ref(), opts) {
            Some(m) => {
                c.key_opts = Some(m);
                Res::Ok
            }
            None => {
                tracing::debug!("userauth_pubkey: key options inconsistent with existing");
                Res::Fail
            }
        }
    } else {
        Res::Fail
    };
    Ok(Attempt {
        res,
        submethod: None,
        key: Some(key),
        cert,
        logged: true,
    })
}

/// The fields of a hostbased request.
struct HostbasedRequest<'a> {
    wire_user: &'a str,
    alg: &'a str,
    key_blob: &'a [u8],
    client_host: &'a str,
    client_user: &'a str,
    signature: &'a [u8],
    session_id: &'a [u8],
}

/// userauth_hostbased: the key and algorithm, then the host's right to vouch for the
/// user (`hostbased`), then the signature.
fn hostbased(c: &mut Ctx<'_>, q: HostbasedRequest<'_>) -> Attempt {
    tracing::debug!(
        "userauth_hostbased: cuser {} chost {} pkalg {} slen {} [preauth]",
        q.client_user,
        q.client_host,
        q.alg,
        q.signature.len()
    );
    let Some(alg) = SigAlg::from_name(q.alg) else {
        tracing::info!(
            "userauth_hostbased: unsupported public key algorithm: {} [preauth]",
            q.alg
        );
        return Attempt::fail();
    };
    let cert = if alg.is_cert() {
        match Certificate::from_blob(q.key_blob) {
            Ok(c) if c.type_name == alg.key_type_name() => Some(c),
            _ => {
                tracing::error!("userauth_hostbased: cannot decode key: {} [preauth]", q.alg);
                return Attempt::fail();
            }
        }
    } else {
        None
    };
    let key = match &cert {
        Some(c) => c.key.clone(),
        None => match PublicKey::from_bytes(q.key_blob) {
            Ok(k) if SigAlg::for_key(&k).contains(&alg) => k,
            _ => {
                tracing::error!("userauth_hostbased: cannot decode key: {} [preauth]", q.alg);
                return Attempt::fail();
            }
        },
    };
    let algs = &c.cfg.hostbased_accepted_algorithms;
    if oxssh_config::pattern::match_pattern_list(q.alg, algs, false) != 1 {
        tracing::info!(
            "userauth_hostbased: signature algorithm {} not in HostbasedAcceptedAlgorithms [preauth]",
            q.alg
        );
        return Attempt::fail();
    }
    if let Some(ct) = &cert {
        let sigtype = ct.signature_type();
        let algs = &c.cfg.ca_signature_algorithms;
        if oxssh_config::pattern::match_pattern_list(&sigtype, algs, false) != 1 {
            tracing::info!(
                "userauth_hostbased: certificate signature algorithm {sigtype}: signature algorithm not supported [preauth]"
            );
            return Attempt::fail();
        }
    }
    let Some(pw) = c.pw.clone() else {
        tracing::trace!("userauth_hostbased: disabled because of invalid user [preauth]");
        return Attempt::fail();
    };
    c.method_info = Some(format!(
        "client user \"{}\", client host \"{}\"",
        q.client_user, q.client_host
    ));
    let data = auth::hostbased_signed_data(
        q.session_id,
        q.wire_user,
        &c.service,
        q.alg,
        q.key_blob,
        q.client_host,
        q.client_user,
    );
    let ok = super::hostbased::key_allowed(
        &c.cfg,
        &pw,
        c.peer,
        q.client_user,
        q.client_host,
        &key,
        cert.as_ref(),
    ) && hostkey::verify(alg, q.key_blob, &data, q.signature).is_ok();
    tracing::trace!(
        "userauth_hostbased: authenticated {} [preauth]",
        u8::from(ok)
    );
    Attempt {
        res: if ok { Res::Ok } else { Res::Fail },
        submethod: None,
        key: Some(key),
        cert,
        logged: true,
    }
}

/// userauth_kbdint / auth2_challenge: pick the first device the client asks for (all,
/// if it names none) that exists and AuthenticationMethods allows, and send its
/// prompts.
async fn kbdint<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &mut Ctx<'_>,
    submethods: &str,
) -> Result<Attempt, String> {
    tracing::debug!("keyboard-interactive devs {submethods} [preauth]");
    // OpenSSH on Linux has the PAM device only, and drops it with UsePAM no.
    let devices: &[&'static str] = if c.cfg.use_pam { &["pam"] } else { &[] };
    let wanted: Vec<&str> = if submethods.is_empty() {
        devices.to_vec()
    } else {
        submethods.split(',').collect()
    };
    let device = wanted.iter().filter(|w| !w.is_empty()).find_map(|w| {
        devices
            .iter()
            .find(|d| d.starts_with(*w) && c.lists.allowed("keyboard-interactive", Some(d)))
    });
    let Some(&device) = device else {
        return Ok(Attempt::fail());
    };
    tracing::debug!("auth2_challenge_start: trying authentication method '{device}' [preauth]");
    let Some(p) = c.take_pam() else {
        return Ok(Attempt::fail());
    };
    let flags = super::pam::flags(c.cfg.permit_empty_passwords);
    c.kbd = Some(Kbd {
        it: super::pam::Interactive::start(p, flags),
        outcome: KbdOutcome::Prompting,
    });
    let mut att = kbd_query(conn, c, device).await?;
    // The first round is logged under the bare method name, as OpenSSH does.
    if matches!(att.res, Res::Postponed) {
        att.submethod = None;
    }
    Ok(att)
}

fn postponed(submethod: &'static str) -> Attempt {
    Attempt {
        res: Res::Postponed,
        submethod: Some(submethod),
        key: None,
        cert: None,
        logged: true,
    }
}

fn kbd_result(ok: bool, submethod: &'static str) -> Attempt {
    Attempt {
        res: if ok { Res::Ok } else { Res::Fail },
        submethod: Some(submethod),
        key: None,
        cert: None,
        logged: true,
    }
}

/// sshpam_query + send_userauth_info_request: wait for the PAM stack's next prompt
/// (informational messages go before it, one per line) or its verdict, and send the
/// INFO_REQUEST — with no prompts once PAM has decided, so the client's empty answer
/// completes (or, after messages were shown, fails) the method.
async fn kbd_query<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &mut Ctx<'_>,
    device: &'static str,
) -> Result<Attempt, String> {
    use super::pam::Event;
    let mut info = String::new();
    loop {
        let Some(k) = c.kbd.as_mut() else {
            return Ok(kbd_result(false, device));
        };
        let (instruction, prompt, outcome) = match k.it.next().await {
            Some(Event::Info(t)) => {
                info.push_str(&t);
                info.push('\n');
                continue;
            }
            Some(Event::Prompt { text, echo }) => (
                String::new(),
                Some((format!("{info}{text}"), echo)),
                KbdOutcome::Prompting,
            ),
            Some(Event::Done(p, Ok(()))) => {
                c.pam = Some(*p);
                c.pam_account_ok = true;
                if !info.is_empty() {
                    tracing::debug!("PAM: {info}");
                }
                (String::new(), None, KbdOutcome::Succeeded)
            }
            Some(Event::Done(p, Err(e))) => {
                c.pam = Some(*p);
                if info.is_empty() {
                    tracing::error!(
                        "PAM: {} for {}{} from {}",
                        e.message,
                        if c.pw.is_some() { "" } else { "illegal user " },
                        c.user,
                        c.peer.ip()
                    );
                    c.kbd = None;
                    return Ok(kbd_result(false, device));
                }
                (std::mem::take(&mut info), None, KbdOutcome::Failed)
            }
            None => {
                c.kbd = None;
                return Ok(kbd_result(false, device));
            }
        };
        k.outcome = outcome;
        let prompts: Vec<(&str, bool)> = prompt.iter().map(|(p, e)| (p.as_str(), *e)).collect();
        conn.send(&auth::info_request("", &instruction, &prompts))
            .await
            .map_err(|e| describe(&e, c.peer, Some(&c.who())))?;
        c.challenge = Some(Challenge {
            device,
            nreq: prompts.len(),
        });
        return Ok(postponed(device));
    }
}

/// sshpam_respond: the client's answer to a PAM round.
async fn kbd_respond<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &mut Ctx<'_>,
    device: &'static str,
    answers: &[zeroize::Zeroizing<Vec<u8>>],
) -> Result<Attempt, String> {
    let Some(outcome) = c.kbd.as_ref().map(|k| k.outcome) else {
        return Ok(kbd_result(false, device));
    };
    match outcome {
        KbdOutcome::Succeeded => {
            c.kbd = None;
            Ok(kbd_result(true, device))
        }
        KbdOutcome::Failed => {
            c.kbd = None;
            Ok(kbd_result(false, device))
        }
        KbdOutcome::Prompting => {
            let [answer] = answers else {
                tracing::error!("PAM: expected one response, got {}", answers.len());
                c.kbd = None;
                return Ok(kbd_result(false, device));
            };
            let text = if c.pam_real_password() {
                zeroize::Zeroizing::new(String::from_utf8_lossy(answer).into_owned())
            } else {
                super::pam::fake_password(answer.len())
            };
            if let Some(k) = c.kbd.as_ref() {
                k.it.answer(text);
            }
            kbd_query(conn, c, device).await
        }
    }
}

/// Password authentication with UsePAM (OpenSSH `sshpam_auth_passwd`).
async fn pam_password(c: &mut Ctx<'_>, password: &[u8]) -> bool {
    if password.len() > oxssh_sys::passwd::MAX_PASSWORD_LEN {
        return false;
    }
    if password.is_empty() && !c.cfg.permit_empty_passwords {
        return false;
    }
    let real = c.pam_real_password();
    let secret = if real {
        zeroize::Zeroizing::new(String::from_utf8_lossy(password).into_owned())
    } else {
        super::pam::fake_password(password.len())
    };
    let Some(p) = c.take_pam() else {
        return false;
    };
    let flags = super::pam::flags(c.cfg.permit_empty_passwords);
    let (p, r) = super::pam::password(p, secret, flags).await;
    c.pam = p;
    match r {
        Ok(()) if c.pw.is_some() => {
            tracing::debug!("PAM: password authentication accepted for {}", c.user);
            real
        }
        Ok(()) => false,
        Err(e) => {
            tracing::debug!(
                "PAM: password authentication failed for {}: {e}",
                if c.pw.is_some() {
                    c.user.as_str()
                } else {
                    "an illegal user"
                }
            );
            false
        }
    }
}

/// userauth_finish: root policy, AuthenticationMethods, the log line, and the answer.
async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &mut Ctx<'_>,
    method: &str,
    att: Attempt,
) -> Result<Option<User>, String> {
    let mut authenticated = matches!(att.res, Res::Ok) && c.pw.is_some();
    let postponed = matches!(att.res, Res::Postponed);
    let mut partial = false;
    if authenticated && c.pw.as_ref().is_some_and(|p| p.uid == 0) && !c.root_allowed(method) {
        authenticated = false;
    }
    if authenticated && !c.lists.update(method, att.submethod) {
        authenticated = false;
        partial = true;
    }
    if att.logged {
        let verdict = if postponed {
            "Postponed"
        } else if partial {
            "Partial"
        } else if authenticated {
            "Accepted"
        } else {
            "Failed"
        };
        c.log(verdict, method, att.submethod, &att);
    }
    if authenticated || partial {
        c.info.push_str(method);
        if let Some(s) = att.submethod {
            c.info.push('/');
            c.info.push_str(s);
        }
        if let Some(cert) = &att.cert {
            c.info.push(' ');
            c.info.push_str(&cert.to_line(""));
        } else if let Some(k) = &att.key {
            if let Ok(text) = k.to_openssh() {
                let mut w = text.split_whitespace();
                if let (Some(t), Some(b)) = (w.next(), w.next()) {
                    c.info.push_str(&format!(" {t} {b}"));
                }
            }
        }
        if let Some(info) = &c.method_info {
            c.info.push(' ');
            c.info.push_str(info);
        }
        c.info.push('\n');
    }
    if postponed {
        return Ok(None);
    }
    if authenticated && c.cfg.use_pam && !c.pam_account_ok {
        // do_pam_account: the account modules have the last word on every method.
        let ok = match c.take_pam() {
            Some(mut p) => {
                let r = p.acct_mgmt();
                tracing::trace!(
                    "PAM: do_pam_account pam_acct_mgmt = {}",
                    r.as_ref()
                        .map_or_else(|e| e.message.clone(), |()| "Success".into())
                );
                c.pam = Some(p);
                match r {
                    Ok(()) => true,
                    Err(e) if e.code == oxssh_sys::pam::PAM_NEW_AUTHTOK_REQD => true,
                    Err(_) => false,
                }
            }
            None => false,
        };
        if !ok {
            let m = format!(
                "Access denied for user {} by PAM account configuration",
                c.user
            );
            return Err(fatal(conn, c, &m).await);
        }
        c.pam_account_ok = true;
    }
    if let (true, Some(pw)) = (authenticated, &c.pw) {
        conn.send(&auth::success())
            .await
            .map_err(|e| describe(&e, c.peer, Some(&c.who())))?;
        // ForceCommand in sshd_config overrides a key's command=.
        let key_options = c.key_opts.clone();
        return Ok(Some(User {
            pw: pw.clone(),
            forced_command: c
                .cfg
                .force_command
                .clone()
                .or_else(|| key_options.as_ref().and_then(|o| o.command.clone())),
            key_options,
            cfg: Box::new(c.cfg.clone()),
            auth_info: std::mem::take(&mut c.info),
            pam: c.pam.take(),
            pam_env: Vec::new(),
            monitor: None,
            in_chroot: false,
        }));
    }
    // The client's first "none" is free; so is a partial success.
    if !partial && (c.attempt > 1 || method != "none") {
        c.failures += 1;
    }
    if c.failures >= c.max_tries() {
        return Err(maxtries_exceeded(conn, c).await);
    }
    let enabled = c.enabled();
    let offer = c.lists.offer(&enabled);
    tracing::trace!(
        "userauth_finish: failure partial={} next methods=\"{}\" [preauth]",
        u8::from(partial),
        offer.join(",")
    );
    conn.send(&auth::failure(&offer, partial))
        .await
        .map_err(|e| describe(&e, c.peer, Some(&c.who())))?;
    Ok(None)
}

/// ssh_packet_disconnect during authentication: DISCONNECT (protocol error) with the
/// reason, and OpenSSH's log line as the error to return.
async fn fatal<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &Ctx<'_>,
    why: &str,
) -> String {
    let _ = conn.t.send_disconnect(msg::disconnect::PROTOCOL_ERROR, why);
    let _ = conn.flush().await;
    format!(
        "Disconnecting {} {} port {}: {why} [preauth]",
        c.who(),
        c.peer.ip(),
        c.peer.port()
    )
}

/// auth_maxtries_exceeded.
async fn maxtries_exceeded<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    c: &Ctx<'_>,
) -> String {
    tracing::error!(
        "maximum authentication attempts exceeded for {}{} from {} port {} ssh2 [preauth]",
        if c.pw.is_some() { "" } else { "invalid user " },
        c.user,
        c.peer.ip(),
        c.peer.port()
    );
    fatal(conn, c, "Too many authentication failures").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_key_options_add_up_and_commands_must_agree() {
        let a = authorized_keys::parse_options("command=\"x\",no-pty").unwrap();
        let b = authorized_keys::parse_options("no-agent-forwarding").unwrap();
        let m = merge_options(Some(&a), b).unwrap();
        assert_eq!(m.command.as_deref(), Some("x"));
        assert!(m.no_pty && m.no_agent_forwarding);
        let c = authorized_keys::parse_options("command=\"y\"").unwrap();
        assert!(merge_options(Some(&a), c).is_none());
    }

    /// A `cert-authority,restrict,tunnel="2"` line and the options of the certificate
    /// it admits: the tunnel stays forbidden and the line's unit stays forced.
    #[test]
    fn restrict_and_the_tunnel_unit_survive_the_merge_with_certificate_options() {
        let line = authorized_keys::parse_options("cert-authority,restrict,tunnel=\"2\"").unwrap();
        let from_cert = authorized_keys::Options {
            tunnel: Some(5),
            ..authorized_keys::Options::default()
        };
        let m = merge_options(Some(&line), from_cert).unwrap();
        assert!(m.restricted);
        assert_eq!(m.tunnel, Some(2));
        let m = merge_options(None, authorized_keys::Options::default()).unwrap();
        assert!(!m.restricted);
    }
}
