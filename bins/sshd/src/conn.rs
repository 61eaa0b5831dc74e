//! One connection, in its own process: key exchange with our host keys and the
//! certificates HostCertificate pairs with them, then user authentication (`userauth`:
//! publickey against AuthorizedKeysFile and AuthorizedKeysCommand, password,
//! keyboard-interactive, AuthenticationMethods), with OpenSSH's log lines so fail2ban
//! and log tooling keep working, within LoginGraceTime; then the session.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oxssh_keys::authorized_keys;
use oxssh_net::Conn;
use oxssh_proto::hostkey::HostKey;
use oxssh_proto::transport::{Config, Role, Transport};
use ssh_key::{PrivateKey, PublicKey};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::ServerConfig;

mod cert;
mod hostbased;
pub(crate) mod hostkeys;
mod keys_command;
mod methods;
pub mod monitor;
pub(crate) mod pam;
mod userauth;

pub use userauth::authenticate;

/// Whether reads still ask for immediate ACKs (TCP_QUICKACK). The stalls it prevents
/// are those of a request/response exchange (key exchange, authentication, opening a
/// session); once channel data flows in bulk, delayed ACKs are what TCP wants, and the
/// setsockopt call per read is saved. One connection per process, so one flag.
static QUICKACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Channel data is flowing: stop asking for immediate ACKs.
pub(crate) fn stop_quickack() {
    QUICKACK.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// The byte stream of one connection: a socket, or an inetd pipe pair.
pub enum Stream {
    Tcp(tokio::net::TcpStream),
    Stdio(tokio::io::Stdin, tokio::io::Stdout),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => {
                let r = Pin::new(&mut *s).poll_read(cx, buf);
                if matches!(r, Poll::Ready(Ok(())))
                    && QUICKACK.load(std::sync::atomic::Ordering::Relaxed)
                {
                    // Acknowledge what comes next at once: see tcp_quickack.
                    oxssh_sys::tcp_quickack(s.as_fd());
                }
                r
            }
            Stream::Stdio(i, _) => Pin::new(i).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Stdio(_, o) => Pin::new(o).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Stdio(_, o) => Pin::new(o).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Stdio(_, o) => Pin::new(o).poll_shutdown(cx),
        }
    }
}

/// Who is on the other end, for logs and SSH_CLIENT/SSH_CONNECTION.
#[derive(Clone, Debug)]
pub struct Peer {
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
}

impl Peer {
    pub fn ip(&self) -> String {
        self.remote
            .map_or_else(|| "UNKNOWN".into(), |a| a.ip().to_string())
    }
    pub fn port(&self) -> u16 {
        self.remote.map_or(65535, |a| a.port())
    }
    pub fn local_ip(&self) -> String {
        self.local
            .map_or_else(|| "UNKNOWN".into(), |a| a.ip().to_string())
    }
    pub fn local_port(&self) -> u16 {
        self.local.map_or(65535, |a| a.port())
    }
}

/// The authenticated user.
// Not Clone: it owns the PAM transaction.
pub struct User {
    pub pw: oxssh_sys::Passwd,
    pub forced_command: Option<String>,
    /// The options of the authorized_keys line that let the user in, if any.
    pub key_options: Option<authorized_keys::Options>,
    /// The configuration with this connection's Match blocks applied.
    pub cfg: Box<ServerConfig>,
    /// ExposeAuthInfo: the methods (and keys) that succeeded, one per line, as
    /// OpenSSH writes them to the file SSH_USER_AUTH names.
    pub auth_info: String,
    /// UsePAM: the transaction that authenticated the user, for the PAM session.
    pub pam: Option<oxssh_sys::pam::Pam>,
    /// UsePAM: the PAM session's environment, for the user's processes.
    pub pam_env: Vec<(String, String)>,
    /// The root helper that allocates ptys and keeps the PAM session (when we run as
    /// root, from the moment the connection process becomes the user).
    pub monitor: Option<monitor::Monitor>,
    /// ChrootDirectory applied: the session runs inside it.
    pub in_chroot: bool,
}

/// The largest authorized_keys, principals, rhosts or known_hosts file read (users'
/// files are read by the root process before authentication).
pub(crate) const MAX_USER_FILE: u64 = 8 << 20;

/// A user's file (authorized_keys, principals, ~/.shosts, known_hosts) as text: only a
/// regular file of at most [`MAX_USER_FILE`] bytes (`oxssh_sys::read_regular_file`).
pub(crate) fn read_user_file(path: &Path) -> Option<String> {
    match oxssh_sys::read_regular_file(path, MAX_USER_FILE) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::debug!("{}: {}", path.display(), io_text(&e));
            None
        }
    }
}

/// A path keyword's `%h %u %U %%` tokens expanded for `pw` (an unknown token is kept
/// as written), as OpenSSH's sshd does for AuthorizedKeysFile, AuthorizedPrincipalsFile
/// and ChrootDirectory.
pub(crate) fn expand_user_tokens(s: &str, pw: &oxssh_sys::Passwd) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('h') => out.push_str(&pw.dir.to_string_lossy()),
            Some('u') => out.push_str(&pw.name),
            Some('U') => out.push_str(&pw.uid.to_string()),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A token-expanded path; a relative one is under the user's home.
pub(crate) fn user_path(s: &str, pw: &oxssh_sys::Passwd) -> std::path::PathBuf {
    let p = std::path::PathBuf::from(expand_user_tokens(s, pw));
    if p.is_absolute() { p } else { pw.dir.join(p) }
}

/// ChrootDirectory with `~` and the `%h %u %U %%` tokens expanded (as OpenSSH).
fn chroot_path(dir: &str, pw: &oxssh_sys::Passwd) -> String {
    let home = pw.dir.display().to_string();
    let dir = match dir.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => dir.to_owned(),
    };
    expand_user_tokens(&dir, pw)
}

/// OpenSSH `safely_chroot`: every component of the path a root-owned directory that
/// neither group nor others may write, then chroot there.
fn safely_chroot(path: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !path.starts_with('/') {
        return Err("fatal: chroot path does not begin at root".into());
    }
    if path.len() >= 4096 {
        return Err("fatal: chroot path too long".into());
    }
    // "/", "/a/", "/a/b/", …, then the whole path.
    let mut components: Vec<&str> = path
        .match_indices('/')
        .filter_map(|(i, _)| path.get(..=i))
        .collect();
    components.push(path);
    components.dedup();
    let last = components.len().saturating_sub(1);
    for (n, component) in components.iter().enumerate() {
        tracing::trace!("safely_chroot: checking '{component}'");
        let st = std::fs::metadata(component).map_err(|e| {
            format!(
                "fatal: safely_chroot: stat(\"{component}\"): {}",
                io_text(&e)
            )
        })?;
        let which = if n == last { "" } else { "component " };
        if st.uid() != 0 || st.mode() & 0o022 != 0 {
            return Err(format!(
                "fatal: bad ownership or modes for chroot directory {which}\"{component}\""
            ));
        }
        if !st.is_dir() {
            return Err(format!(
                "fatal: chroot path {which}\"{component}\" is not a directory"
            ));
        }
    }
    oxssh_sys::privsep::chroot(std::path::Path::new(path))
        .map_err(|e| format!("fatal: chroot(\"{path}\"): {}", io_text(&e)))?;
    tracing::info!("Changed root directory to \"{path}\"");
    Ok(())
}

/// strerror-style text of an I/O error (without Rust's " (os error N)").
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

fn stdin_stream() -> (Stream, Peer) {
    // A socket on stdin (our listener's re-exec, or inetd): use it directly.
    if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
        let s = std::net::TcpStream::from(fd);
        if let (Ok(remote), Ok(local)) = (s.peer_addr(), s.local_addr()) {
            if s.set_nonblocking(true).is_ok() {
                if let Ok(t) = tokio::net::TcpStream::from_std(s) {
                    let _ = t.set_nodelay(true);
                    oxssh_sys::tcp_quickack(t.as_fd());
                    return (
                        Stream::Tcp(t),
                        Peer {
                            remote: Some(remote),
                            local: Some(local),
                        },
                    );
                }
            }
        }
    }
    (
        Stream::Stdio(tokio::io::stdin(), tokio::io::stdout()),
        Peer {
            remote: None,
            local: None,
        },
    )
}

/// A line sshd logs while loading its host keys and certificates, at OpenSSH's level.
pub enum LoadNote {
    Error(String),
    Debug(String),
}

/// [`read_host_keys`], its lines logged.
fn load_host_keys(cfg: &ServerConfig) -> Vec<HostKey> {
    let (keys, notes) = read_host_keys(cfg);
    for note in notes {
        match note {
            LoadNote::Error(m) => tracing::error!("{m}"),
            LoadNote::Debug(m) => tracing::debug!("{m}"),
        }
    }
    keys
}

/// The host keys (HostKey, in order) with the certificates HostCertificate names
/// paired to them, as OpenSSH's sshd loads them, and what it would log on the way: a
/// certificate goes with the first host key whose public key it certifies; one that
/// cannot be loaded, is not a certificate or certifies none of the keys is reported
/// and left out. (OpenSSH also does this for `sshd -t` and `-T`, printing the errors.)
pub fn read_host_keys(cfg: &ServerConfig) -> (Vec<HostKey>, Vec<LoadNote>) {
    let mut notes = Vec::new();
    // (index of the HostKey line, key): OpenSSH's debug line numbers keys that way.
    let mut keys = Vec::new();
    for (i, p) in cfg.host_key_files.iter().enumerate() {
        let Some(p) = p.as_deref().map(Path::new) else {
            continue;
        };
        match PrivateKey::read_openssh_file(p) {
            Ok(k) if !k.is_encrypted() => keys.push((i, HostKey::new(k))),
            Ok(_) => notes.push(LoadNote::Error(format!(
                "Unable to load host key \"{}\": encrypted",
                p.display()
            ))),
            Err(_) => notes.push(LoadNote::Debug(format!(
                "Unable to load host key: {}",
                p.display()
            ))),
        }
    }
    for path in cfg.host_cert_files.iter().flatten() {
        notes.push(attach_certificate(&mut keys, path));
    }
    (keys.into_iter().map(|(_, k)| k).collect(), notes)
}

/// One turn of sshd's loop over HostCertificate files (OpenSSH 9.2 `sshd.c`, "Load
/// certificates"): pair the certificate in `path` with its key, and say what happened.
fn attach_certificate(keys: &mut [(usize, HostKey)], path: &str) -> LoadNote {
    let cert = match load_public(Path::new(path)) {
        // sshkey_load_public's error, whatever went wrong, reaches the log as ENOENT.
        None => {
            return LoadNote::Error(format!(
                "Could not load host certificate \"{path}\": No such file or directory"
            ));
        }
        Some(Loaded::Plain) => {
            return LoadNote::Error(format!("Certificate file is not a certificate: {path}"));
        }
        Some(Loaded::Cert(c)) => c,
    };
    let Some((j, hk)) = keys
        .iter_mut()
        .find(|(_, k)| k.key().public_key().key_data() == cert.key.key_data())
    else {
        return LoadNote::Error(format!("No matching private key for certificate: {path}"));
    };
    match HostKey::with_certificate_blob(hk.key().clone(), cert.to_blob()) {
        Ok(with_cert) => {
            *hk = with_cert;
            LoadNote::Debug(format!(
                "host certificate: #{j} type {} {}",
                cert_key_type(cert.key.key_data()),
                oxssh_keys::fingerprint::cert_type_label(cert.key.key_data())
            ))
        }
        // A certificate for a key type we cannot sign with (DSA): never offered.
        Err(e) => LoadNote::Debug(format!("host certificate {path} not used: {e}")),
    }
}

/// What a public key file held.
enum Loaded {
    Cert(Box<oxssh_keys::cert::Certificate>),
    Plain,
}

/// Public key files are a line or two; a larger file is not read into memory whole.
const MAX_PUBLIC_FILE: u64 = 1 << 20;

/// OpenSSH's `sshkey_load_public`: the first key line of the file, else of `<file>.pub`,
/// else the public half of the private key in the file. A certificate's CA signature
/// is checked on loading, as OpenSSH does.
fn load_public(path: &Path) -> Option<Loaded> {
    let read = |p: &Path| -> Option<Loaded> {
        let meta = std::fs::metadata(p).ok()?;
        if !meta.is_file() || meta.len() > MAX_PUBLIC_FILE {
            return None;
        }
        let bytes = std::fs::read(p).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // A private key: stop here (its public half is tried last).
            if line.starts_with("-----BEGIN") {
                break;
            }
            let l = line.trim_start_matches([' ', '\t']);
            let ty = l.split([' ', '\t']).next().unwrap_or_default();
            if oxssh_keys::cert::is_cert_name(ty) {
                if let Ok((c, _)) = oxssh_keys::cert::Certificate::from_line(l) {
                    return Some(Loaded::Cert(Box::new(c)));
                }
            } else if PublicKey::from_openssh(l).is_ok() {
                return Some(Loaded::Plain);
            }
        }
        None
    };
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    read(path)
        .or_else(|| read(Path::new(&pub_path)))
        .or_else(|| {
            PrivateKey::read_openssh_file(path)
                .ok()
                .map(|_| Loaded::Plain)
        })
}

/// OpenSSH's `enum sshkey_types` number of a certificate of this key type, for the
/// "host certificate: #0 type 7 ED25519-CERT" debug line.
fn cert_key_type(key: &ssh_key::public::KeyData) -> u32 {
    use ssh_key::public::KeyData;
    match key {
        KeyData::Rsa(_) => 4,
        KeyData::Dsa(_) => 5,
        KeyData::Ecdsa(_) => 6,
        KeyData::Ed25519(_) => 7,
        KeyData::SkEcdsaSha2NistP256(_) => 11,
        KeyData::SkEd25519(_) => 13,
        _ => 14,
    }
}

/// The primes of ModuliFile for DH group exchange, read only when KexAlgorithms offers
/// it (OpenSSH 10's default does not). A file that cannot be read leaves the built-in
/// groups, with OpenSSH's warning; its size is bounded (the stock file is ~550 KiB).
fn moduli(
    cfg: &ServerConfig,
    kex: &[String],
) -> Option<(String, Vec<oxssh_proto::kex::methods::ModuliEntry>)> {
    use oxssh_proto::kex::methods::{KexAlg, parse_moduli};
    const MAX_MODULI_FILE: u64 = 16 << 20;
    if !kex
        .iter()
        .filter_map(|k| KexAlg::from_name(k))
        .any(KexAlg::is_gex)
    {
        return None;
    }
    let path = std::path::Path::new(&cfg.moduli_file);
    match oxssh_sys::read_regular_file(path, MAX_MODULI_FILE) {
        Ok(text) => Some((cfg.moduli_file.clone(), parse_moduli(&text))),
        Err(e) => {
            tracing::info!(
                "WARNING: could not open {} ({}), using fixed modulus",
                cfg.moduli_file,
                io_text(&e)
            );
            None
        }
    }
}

pub async fn serve_stdio(cfg: ServerConfig, zygote: Option<monitor::Zygote>) -> Result<(), String> {
    let (stream, peer) = stdin_stream();
    let host_keys = load_host_keys(&cfg);
    if host_keys.is_empty() {
        return Err("sshd: no hostkeys available -- exiting.".into());
    }
    // The plain keys, for the hostkeys-00@openssh.com announcement and its proofs:
    // certificates are never announced (OpenSSH's notify_hostkeys skips them).
    let keys: Vec<PrivateKey> = host_keys.iter().map(|k| k.key().clone()).collect();
    let mut tc = Config::new(format!("{} port {}", peer.ip(), peer.port()));
    tc.algorithms = crate::config::algorithms(&cfg);
    tc.moduli = moduli(&cfg, &tc.algorithms.kex);
    // RekeyLimit: 0 bytes keeps the cipher's default; 0 seconds means no time limit.
    if cfg.rekey_limit.bytes > 0 {
        tc.rekey_bytes = cfg.rekey_limit.bytes.unsigned_abs();
    }
    if cfg.rekey_limit.seconds > 0 {
        tc.rekey_interval = Some(Duration::from_secs(u64::from(
            cfg.rekey_limit.seconds.unsigned_abs(),
        )));
    }
    let t = Transport::with_host_keys(Role::Server, tc, host_keys).map_err(|e| e.to_string())?;
    let mut conn = Conn::new(stream, t);
    let grace = cfg.login_grace_time;
    let setup = async {
        let mut nov = oxssh_net::no_host_keys;
        if let Err(e) = conn.handshake(&mut nov).await {
            // What is queued still goes out: a bad identification's plain-text answer,
            // or our KEXINIT (sent only once the client's identification was read), so
            // that a client with no algorithm in common can say which.
            let _ = conn.flush().await;
            return Err(describe(&e, &peer, None));
        }
        userauth::authenticate(&mut conn, &cfg, &peer).await
    };
    let user = if grace > 0 {
        match tokio::time::timeout(Duration::from_secs(grace.max(0) as u64), setup).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(format!(
                    "Timeout before authentication for {} port {}",
                    peer.ip(),
                    peer.port()
                ));
            }
        }
    } else {
        setup.await?
    };
    crate::startup::report_authenticated();
    if let Some(body) = hostkeys::announcement(&keys, conn.t.peer_version()) {
        let mut m = Vec::new();
        m.push(oxssh_proto::msg::GLOBAL_REQUEST);
        oxssh_proto::wire::Put::put_str(&mut m, "hostkeys-00@openssh.com");
        m.push(0);
        m.extend_from_slice(&body);
        conn.send(&m).await.map_err(|e| e.to_string())?;
    }
    let mut user = user;
    // The PAM session lives as long as the connection (closed when this returns).
    let pam_session = match user.pam.take() {
        Some(p) => Some(pam::Session::open(p)?),
        None => None,
    };
    user.pam_env = pam_session
        .as_ref()
        .map(pam::Session::environment)
        .unwrap_or_default();
    // Key exchange and authentication ran deep; the session loop does not.
    oxssh_sys::release_unused_stack();
    // Root's work that must wait for the end (closing the PAM session) moves to a helper;
    // this process becomes the user for good before it serves any channel.
    if oxssh_sys::geteuid() == 0 {
        let who = monitor::Login {
            user: user.pw.name.clone(),
            uid: user.pw.uid,
            gid: user.pw.gid,
            host: peer.ip(),
        };
        let m = match (zygote, pam_session) {
            (Some(z), None) => z.activate(&who),
            (_, session) => monitor::start(session, who),
        };
        user.monitor = Some(m.map_err(|e| format!("fork: {e}"))?);
    }
    if let Some(dir) = user
        .cfg
        .chroot_directory
        .as_deref()
        .filter(|d| !d.eq_ignore_ascii_case("none"))
    {
        safely_chroot(&chroot_path(dir, &user.pw))?;
        user.in_chroot = true;
    }
    tracing::debug!("permanently_set_uid: {}/{}", user.pw.uid, user.pw.gid);
    oxssh_sys::privsep::become_user(&user.pw.name, user.pw.uid, user.pw.gid)
        .map_err(|e| format!("permanently_set_uid: {e}"))?;
    crate::session::run(conn, &user.cfg, &peer, &user, &keys).await
}

/// The log line for a connection that ended before authentication; `who` is OpenSSH's
/// preamble ("authenticating user bob", "invalid user bob") once a user was named.
fn describe(e: &oxssh_net::Error, peer: &Peer, who: Option<&str>) -> String {
    let who = match who {
        Some(w) => format!("{w} "),
        None => String::new(),
    };
    match e {
        oxssh_net::Error::Closed => format!(
            "Connection closed by {who}{} port {} [preauth]",
            peer.ip(),
            peer.port()
        ),
        oxssh_net::Error::Proto(oxssh_proto::Error::Disconnected { code, description }) => {
            format!(
                "Received disconnect from {} port {}:{code}: {description} [preauth]",
                peer.ip(),
                peer.port()
            )
        }
        oxssh_net::Error::Proto(oxssh_proto::Error::Version(v)) => {
            format!(
                "banner exchange: Connection from {} port {}: {v}",
                peer.ip(),
                peer.port()
            )
        }
        e => format!("{e} [preauth]"),
    }
}

/// OpenSSH's key type label (`ED25519`, `ECDSA`, `RSA`, …) for messages and logs.
fn key_label(k: &PublicKey) -> &'static str {
    oxssh_keys::fingerprint::type_label(k.key_data())
}

/// OpenSSH's `auth_password` with `UsePAM no` (PAM is a later step): passwords over
/// 1024 bytes and, unless PermitEmptyPasswords, empty ones fail at once; otherwise the
/// candidate is hashed against the shadow entry — or, for an unknown user, against a
/// fake setting with the same cost — and compared in constant time. A root login
/// PermitRootLogin refuses for passwords still does the work, then fails.
fn password_ok(
    cfg: &ServerConfig,
    pw: Option<&oxssh_sys::Passwd>,
    password: &[u8],
    root_ok: impl Fn(&oxssh_sys::Passwd) -> bool,
) -> bool {
    if password.len() > oxssh_sys::passwd::MAX_PASSWORD_LEN {
        return false;
    }
    if password.is_empty() && !cfg.permit_empty_passwords {
        return false;
    }
    if cfg.use_pam {
        tracing::debug!("UsePAM yes: PAM is not supported yet; checking the shadow password");
    }
    let allowed = pw.is_some_and(root_ok);
    let matched = oxssh_sys::passwd::check_password(pw.map(|p| p.name.as_str()), password);
    matched && allowed
}

/// OpenSSH's user@host pattern of AllowUsers/DenyUsers: the user part is a glob; the
/// host part matches the client's address (a glob or a CIDR list; UseDNS is off).
fn match_user(user: &str, ip: &str, pattern: &str) -> bool {
    use oxssh_config::pattern::{addr_match_list, match_pattern};
    match pattern.split_once('@') {
        None => match_pattern(user, pattern),
        Some((u, h)) => {
            match_pattern(user, u) && (match_pattern(ip, h) || addr_match_list(Some(ip), h) == 1)
        }
    }
}

/// sshd's allowed_user(): AllowUsers/DenyUsers, AllowGroups/DenyGroups and a usable
/// shell, with OpenSSH's log line when the answer is no.
fn allowed_user(cfg: &ServerConfig, pw: &oxssh_sys::Passwd, peer: &Peer) -> bool {
    let (user, ip) = (pw.name.as_str(), peer.ip());
    let shell = if pw.shell.as_os_str().is_empty() {
        std::path::PathBuf::from("/bin/sh")
    } else {
        pw.shell.clone()
    };
    let executable = std::fs::metadata(&shell).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    });
    if !executable {
        tracing::info!(
            "User {user} not allowed because shell {} is not executable",
            shell.display()
        );
        return false;
    }
    if cfg.deny_users.iter().any(|p| match_user(user, &ip, p)) {
        tracing::info!("User {user} from {ip} not allowed because listed in DenyUsers");
        return false;
    }
    if !cfg.allow_users.is_empty() && !cfg.allow_users.iter().any(|p| match_user(user, &ip, p)) {
        tracing::info!("User {user} from {ip} not allowed because not listed in AllowUsers");
        return false;
    }
    if !cfg.deny_groups.is_empty() || !cfg.allow_groups.is_empty() {
        let groups = oxssh_sys::group_names(user).unwrap_or_default();
        let any = |list: &[String]| {
            groups.iter().any(|g| {
                list.iter()
                    .any(|p| oxssh_config::pattern::match_pattern(g, p))
            })
        };
        if any(&cfg.deny_groups) {
            tracing::info!(
                "User {user} from {ip} not allowed because a group is listed in DenyGroups"
            );
            return false;
        }
        if !cfg.allow_groups.is_empty() && !any(&cfg.allow_groups) {
            tracing::info!(
                "User {user} from {ip} not allowed because none of user's groups are listed in AllowGroups"
            );
            return false;
        }
    }
    true
}

/// The restrictions of an authorized_keys line that decide whether it applies to this
/// login at all: `from=` (host patterns and CIDR against the client address; UseDNS is
/// off) and `expiry-time=` (local time), with OpenSSH's log lines.
fn key_options_allow(
    o: &authorized_keys::Options,
    user: &str,
    peer: &Peer,
    file: &std::path::Path,
    line: usize,
) -> bool {
    let ip = peer.ip();
    if let Some(from) = &o.from {
        use oxssh_config::pattern::{addr_match_list, match_pattern_list};
        let by_name = match_pattern_list(&ip, from, true);
        let by_addr = addr_match_list(Some(&ip), from);
        if by_name == -1 || by_addr == -1 || (by_name != 1 && by_addr != 1) {
            tracing::info!(
                "Authentication tried for {user} with correct key but not from a permitted host (host={ip}, ip={ip})."
            );
            return false;
        }
    }
    if let Some(t) = &o.expiry_time {
        match oxssh_sys::parse_local_time(t) {
            Some(expiry) if expiry <= oxssh_sys::now_epoch() => {
                tracing::info!("{}:{line}: key has expired", file.display());
                return false;
            }
            Some(_) => {}
            None => {
                tracing::info!("{}:{line}: invalid expiry-time \"{t}\"", file.display());
                return false;
            }
        }
    }
    true
}
