//! ssh's connection set-up: resolve and connect, key exchange with known_hosts host
//! key checking (StrictHostKeyChecking), and user authentication (publickey, password,
//! keyboard-interactive), with OpenSSH's messages at each failure.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use oxssh_keys::known_hosts::{self, Check, KnownHosts};
use oxssh_net::Conn;
use oxssh_proto::auth::{self, Pending, Reply};
use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::kex::Algorithms;
use oxssh_proto::transport::{Config, Role, Transport};
use ssh_key::{HashAlg, PublicKey};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use crate::{hostbased, identity, session};
use oxssh_config::{
    AddressFamily, ClientConfig as Options, PubkeyAuthentication, StrictHostKeyChecking,
};

/// Why ssh stops with status 255; the message is printed as is.
pub enum Failure {
    Message(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Message(e.to_string())
    }
}

fn fail<T>(m: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Message(m.into()))
}

pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The other end as OpenSSH's messages name it (ssh_remote_ipaddr and port): the
    /// address connected to, or `UNKNOWN port 65535` through a ProxyCommand.
    pub remote: String,
}

/// The algorithm lists the configuration resolved (OpenSSH's +,-,^ syntax applied by
/// oxssh-config), restricted to what oxssh-proto implements.
fn algorithms(o: &Options) -> Algorithms {
    use oxssh_cli::profile::{ciphers, kex, macs, sigs, supported};
    Algorithms {
        cipher: supported(&o.ciphers, &ciphers()),
        mac: supported(&o.macs, &macs()),
        kex: supported(&o.kex_algorithms, &kex()),
        host_key: supported(&o.host_key_algorithms, &sigs()),
        compression: oxssh_cli::profile::client_compression(o.compression),
    }
}

/// The connection's byte stream: a socket, or a ProxyCommand's stdio.
// One value per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Stream {
    Tcp(TcpStream),
    /// The child is kept so it is killed (kill_on_drop) when the connection goes.
    Proxy {
        out: tokio::process::ChildStdout,
        inp: tokio::process::ChildStdin,
        _child: tokio::process::Child,
    },
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Proxy { out, .. } => std::pin::Pin::new(out).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Proxy { inp, .. } => std::pin::Pin::new(inp).poll_write(cx, buf),
        }
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Proxy { inp, .. } => std::pin::Pin::new(inp).poll_flush(cx),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Proxy { inp, .. } => std::pin::Pin::new(inp).poll_shutdown(cx),
        }
    }
}

/// Run ProxyCommand with the user's shell (`exec` so signals reach it), %h %p %r %%
/// expanded, its stdin/stdout becoming the connection.
fn proxy_command(pc: &str, host: &str, port: u16, user: &str) -> Result<Stream, Failure> {
    let mut cmd = String::new();
    let mut it = pc.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            cmd.push(c);
            continue;
        }
        match it.next() {
            Some('h') => cmd.push_str(host),
            Some('p') => cmd.push_str(&port.to_string()),
            Some('r') => cmd.push_str(user),
            Some('n') => cmd.push_str(host),
            Some('%') => cmd.push('%'),
            Some(x) => return fail(format!("percent_expand: unknown key %{x}")),
            None => return fail("percent_expand: invalid format"),
        }
    }
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    tracing::debug!("Executing proxy command: exec {cmd}");
    let mut child = tokio::process::Command::new(shell)
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Message(format!("ssh: proxy command: {e}")))?;
    match (child.stdout.take(), child.stdin.take()) {
        (Some(out), Some(inp)) => Ok(Stream::Proxy {
            out,
            inp,
            _child: child,
        }),
        _ => fail("ssh: proxy command: no pipes"),
    }
}

async fn connect(o: &Options, host: &str, port: u16) -> Result<TcpStream, Failure> {
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a
            .filter(|a| match o.address_family {
                AddressFamily::Inet => a.is_ipv4(),
                AddressFamily::Inet6 => a.is_ipv6(),
                AddressFamily::Any => true,
            })
            .collect(),
        Err(_) => {
            return fail(format!(
                "ssh: Could not resolve hostname {host}: Name or service not known"
            ));
        }
    };
    let mut last = None;
    // ConnectionAttempts: every address in turn, then again after a second's pause.
    let attempts = o.connection_attempts.max(1);
    let tries = (0..attempts).flat_map(|n| addrs.iter().enumerate().map(move |(i, a)| (n, i, a)));
    for (n, i, a) in tries {
        if n > 0 && i == 0 {
            tracing::debug!("Trying again...");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tracing::debug!("Connecting to {host} [{}] port {port}.", a.ip());
        let attempt = TcpStream::connect(a);
        let r = match o.connect_timeout {
            Some(t) if t > 0 => {
                match tokio::time::timeout(Duration::from_secs(t as u64), attempt).await {
                    Ok(r) => r,
                    Err(_) => {
                        last = Some(format!(
                            "ssh: connect to host {host} port {port}: Connection timed out"
                        ));
                        continue;
                    }
                }
            }
            _ => attempt.await,
        };
        match r {
            Ok(s) => {
                tracing::debug!("Connection established.");
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                last = Some(format!(
                    "ssh: connect to host {host} port {port}: {}",
                    io_text(&e)
                ))
            }
        }
    }
    fail(last.unwrap_or_else(|| {
        format!("ssh: Could not resolve hostname {host}: Name or service not known")
    }))
}

/// strerror(3)-style text without Rust's " (os error N)" suffix.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

pub async fn run(o: Options, command: Option<String>) -> Result<u8, Failure> {
    let host = o.hostname.clone();
    let port = o.port;
    let mut target = Target {
        host: host.clone(),
        port,
        user: o.user.clone(),
        remote: "UNKNOWN port 65535".to_owned(),
    };
    let stream = match o.proxy_command.as_deref() {
        Some(pc) if pc != "none" => proxy_command(pc, &host, port, &target.user)?,
        _ => Stream::Tcp(connect(&o, &host, port).await?),
    };
    if let Stream::Tcp(s) = &stream {
        if let Ok(a) = s.peer_addr() {
            target.remote = format!("{} port {}", a.ip(), a.port());
        }
    }
    let mut cfg = Config::new(target.remote.clone());
    cfg.algorithms = algorithms(&o);
    if o.rekey_limit.bytes > 0 {
        cfg.rekey_bytes = o.rekey_limit.bytes as u64;
    }
    if o.rekey_limit.seconds > 0 {
        cfg.rekey_interval = Some(Duration::from_secs(o.rekey_limit.seconds as u64));
    }
    // OpenSSH's hostfile_ipaddr: the address connected to, as known_hosts names it.
    let ip = match &stream {
        Stream::Tcp(s) => s
            .peer_addr()
            .map(|a| known_hosts::lookup_name(&a.ip().to_string(), port))
            .unwrap_or_default(),
        Stream::Proxy { .. } => "<no hostip for proxy command>".to_owned(),
    };
    // Hostbased authentication hands ssh-keysign the TCP socket and names this end.
    let socket = match &stream {
        Stream::Tcp(s) => Some((s.as_raw_fd(), s.local_addr().ok().map(|a| a.ip()))),
        // As OpenSSH: the descriptor ssh reads the connection from.
        Stream::Proxy { out, .. } => Some((out.as_raw_fd(), None)),
    };
    let t = Transport::new(Role::Client, cfg, Vec::new())?;
    let mut conn = Conn::new(stream, t);

    let mut verdict_error: Option<String> = None;
    let hk_result = {
        let mut verify =
            |blob: &[u8], alg: SigAlg| match check_host_key(&o, &target, &ip, blob, alg) {
                Ok(()) => true,
                Err(Failure::Message(m)) => {
                    verdict_error = Some(m);
                    false
                }
            };
        conn.handshake(&mut verify).await
    };
    if let Err(e) = hk_result {
        if let Some(m) = verdict_error {
            return fail(m);
        }
        return fail(connection_error(&e, &target));
    }
    if let Some(v) = conn.t.peer_version() {
        tracing::debug!(
            "Remote protocol version 2.0, remote software version {}",
            v.splitn(3, '-').nth(2).unwrap_or("")
        );
    }
    authenticate(&mut conn, &o, &target, socket).await?;
    session::run(conn, &o, command, &target).await
}

/// LocalCommand (with PermitLocalCommand yes): `%` tokens expanded (`%T` is the local
/// tunnel interface, or `NONE`), run with the user's shell once the connection is
/// authenticated and forwarding is set up; ssh waits for it.
pub(crate) fn local_command(o: &Options, tunnel: Option<&str>) {
    let (true, Some(cmd)) = (o.permit_local_command, &o.local_command) else {
        return;
    };
    let cmd = match o.expand(cmd, &[('T', tunnel.unwrap_or("NONE"))], None, false) {
        Ok(c) => c,
        Err(e) => {
            oxssh_cli::log::eprint(&e.to_string());
            return;
        }
    };
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    tracing::debug!("Executing command: '{cmd}'");
    if let Err(e) = std::process::Command::new(shell)
        .arg("-c")
        .arg(&cmd)
        .status()
    {
        tracing::debug!("local command failed: {e}");
    }
}

pub fn connection_error(e: &oxssh_net::Error, t: &Target) -> String {
    match e {
        oxssh_net::Error::Closed => format!("Connection closed by {}", t.remote),
        oxssh_net::Error::Proto(oxssh_proto::Error::Disconnected { code, description }) => {
            format!(
                "Received disconnect from {}:{code}: {description}\nDisconnected from {}",
                t.remote, t.remote
            )
        }
        // As OpenSSH: the transport's own message, then ssh_dispatch_run_fatal's line.
        oxssh_net::Error::Proto(e) => {
            let why = match e {
                oxssh_proto::Error::Mac => "message authentication code incorrect",
                oxssh_proto::Error::Signature(_) => "incorrect signature",
                oxssh_proto::Error::NoCommonAlgorithm { .. } | oxssh_proto::Error::Version(_) => {
                    return e.to_string();
                }
                _ => "Connection corrupted",
            };
            format!(
                "{e}\nssh_dispatch_run_fatal: Connection to {}: {why}",
                t.remote
            )
        }
        e => format!("ssh: {e}"),
    }
}

/// OpenSSH's key type label (`ED25519`, `ECDSA`, `RSA`, …) for messages and logs.
fn key_type_label(key: &PublicKey) -> &'static str {
    oxssh_keys::fingerprint::type_label(key.key_data())
}

/// A path keyword's value with `~` and `%` tokens expanded, as OpenSSH does at use.
fn expand_path(o: &Options, p: &str) -> PathBuf {
    PathBuf::from(
        o.expand(p, &[], None, true)
            .unwrap_or_else(|_| p.to_owned()),
    )
}

pub(crate) fn user_known_hosts(o: &Options, _t: &Target) -> Vec<PathBuf> {
    o.user_known_hosts_files
        .iter()
        .map(|p| expand_path(o, p))
        .collect()
}

fn global_known_hosts(o: &Options) -> Vec<PathBuf> {
    o.global_known_hosts_files
        .iter()
        .map(|p| expand_path(o, p))
        .collect()
}

/// The name the host is recorded under in known_hosts. HostKeyAlias replaces the
/// whole name: no `[host]:port` decoration.
pub(crate) fn known_hosts_name(o: &Options, t: &Target) -> String {
    match &o.host_key_alias {
        Some(alias) => alias.clone(),
        None => known_hosts::lookup_name(&t.host, t.port),
    }
}

/// RevokedHostKeys (OpenSSH `verify_host_key`): a host key, or a certificate, its key or
/// its CA, listed in the KRL or key list ends the connection.
fn revoked_host_key(
    o: &Options,
    key: &PublicKey,
    cert: Option<&oxssh_keys::cert::Certificate>,
) -> Result<(), Failure> {
    let Some(file) = o.revoked_host_keys.as_deref().filter(|f| *f != "none") else {
        return Ok(());
    };
    let file = expand_path(o, file);
    let label = match cert {
        Some(c) => oxssh_keys::fingerprint::cert_type_label(c.key.key_data()),
        None => key_type_label(key).to_owned(),
    };
    let fp = key.fingerprint(HashAlg::Sha256);
    let r = std::fs::read(&file)
        .map_err(|e| io_text(&e))
        .and_then(|d| oxssh_keys::krl::file_revokes(&d, key, cert).map_err(str::to_owned));
    match r {
        Ok(false) => Ok(()),
        Ok(true) => fail(format!(
            "Host key {label} {fp} revoked by file {}\nHost key verification failed.",
            file.display()
        )),
        Err(e) => fail(format!(
            "Error checking host key {label} {fp} in revoked keys file {}: {e}\nHost key verification failed.",
            file.display()
        )),
    }
}

/// A host certificate (OpenSSH `check_host_key` with want_cert): accepted when a
/// `@cert-authority` line for the host names its CA and the certificate is a valid host
/// certificate for the name; otherwise — no CA, or a certificate that does not pass —
/// the certified key is checked as a plain host key ("No matching CA found. Retry with
/// plain key"). A revoked certificate or CA fails outright.
fn check_host_cert(o: &Options, t: &Target, ip: &str, blob: &[u8]) -> Result<(), Failure> {
    use oxssh_keys::cert::Certificate;
    let cert = Certificate::from_blob(blob)
        .map_err(|_| Failure::Message("Host key verification failed.".into()))?;
    let fp = cert.key.fingerprint(HashAlg::Sha256);
    let cafp = cert.signature_key.fingerprint(HashAlg::Sha256);
    let zone = oxssh_keys::timefmt::local_zone();
    tracing::debug!(
        "Server host certificate: {} {fp}, serial {} ID \"{}\" CA {} {cafp} valid {}",
        cert.type_name,
        cert.serial,
        cert.key_id,
        cert.signature_key.algorithm().as_str(),
        oxssh_keys::cert::validity_text(cert.valid_after, cert.valid_before, &zone)
    );
    for p in &cert.principals {
        tracing::trace!("Server host certificate hostname: {p}");
    }
    revoked_host_key(o, &cert.key, Some(&cert))?;
    let name = known_hosts_name(o, t);
    let label = oxssh_keys::fingerprint::cert_type_label(cert.key.key_data());
    let files: Vec<PathBuf> = user_known_hosts(o, t)
        .into_iter()
        .chain(global_known_hosts(o))
        .collect();
    let sources: Vec<KnownHosts> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            Some(KnownHosts::parse(&f.display().to_string(), &text))
        })
        .collect();
    let keys = [&cert.key, &cert.signature_key];
    if sources
        .iter()
        .any(|kh| kh.revoked(&[&name], &keys).is_some())
    {
        return fail(format!(
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@       WARNING: REVOKED HOST KEY DETECTED!               @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nThe {label} host key for {name} is marked as revoked.\nThis could mean that a stolen key is being used to\nimpersonate this host.\nHost key verification failed."
        ));
    }
    let found = sources.iter().find_map(|kh| {
        kh.cert_authority(&[&name], &cert.signature_key)
            .map(|line| (kh.path.clone(), line))
    });
    if let Some((path, line)) = found {
        tracing::debug!("Host '{name}' is known and matches the {label} host certificate.");
        tracing::debug!("Found CA key in {path}:{line}");
        let host = o.host_key_alias.as_deref().unwrap_or(&t.host);
        let ca_alg = cert.signature_type();
        let ca_ok = o.ca_signature_algorithms.split(',').any(|a| a == ca_alg);
        let r = if ca_ok {
            cert.check_host(host, false, oxssh_sys::now_epoch().max(0) as u64)
        } else {
            Err("Certificate signature algorithm not allowed by CASignatureAlgorithms")
        };
        match r {
            Ok(()) => return Ok(()),
            Err(reason) => oxssh_cli::log::eprint(reason),
        }
    }
    tracing::debug!("No matching CA found. Retry with plain key");
    let plain = oxssh_proto::hostkey::public_blob(&cert.key);
    check_plain_host_key(o, t, ip, &plain)
}

/// StrictHostKeyChecking against the known_hosts files, with OpenSSH's messages; `ip`
/// is the address connected to, as OpenSSH names it in the question.
fn check_host_key(
    o: &Options,
    t: &Target,
    ip: &str,
    blob: &[u8],
    alg: SigAlg,
) -> Result<(), Failure> {
    if alg.is_cert() {
        return check_host_cert(o, t, ip, blob);
    }
    let key = PublicKey::from_bytes(blob)
        .map_err(|e| Failure::Message(format!("ssh: bad host key: {e}")))?;
    tracing::debug!(
        "Server host key: {} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    );
    revoked_host_key(o, &key, None)?;
    check_plain_host_key(o, t, ip, blob)
}

/// The known_hosts part of [`check_host_key`] for a plain key.
fn check_plain_host_key(o: &Options, t: &Target, ip: &str, blob: &[u8]) -> Result<(), Failure> {
    let key = PublicKey::from_bytes(blob)
        .map_err(|e| Failure::Message(format!("ssh: bad host key: {e}")))?;
    let name = known_hosts_name(o, t);
    let fp = key.fingerprint(HashAlg::Sha256);
    let label = key_type_label(&key);
    let files: Vec<PathBuf> = user_known_hosts(o, t)
        .into_iter()
        .chain(global_known_hosts(o))
        .collect();
    let mut sources: Vec<KnownHosts> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            Some(KnownHosts::parse(&f.display().to_string(), &text))
        })
        .collect();
    // KnownHostsCommand runs after the files are read, whatever they said.
    if let Some(template) = &o.known_hosts_command {
        let text = crate::khcommand::run(o, template, "HOSTNAME", Some(&key), &name)?;
        sources.push(KnownHosts::parse("KnownHostsCommand-HOSTNAME", &text));
    }
    let mut changed: Option<(String, usize)> = None;
    for kh in &sources {
        match kh.check(&[&name], &key) {
            Check::Found { path, line } => {
                tracing::debug!("Host '{name}' is known and matches the {label} host key.");
                tracing::debug!("Found key in {path}:{line}");
                return Ok(());
            }
            Check::Revoked { .. } => {
                return fail(format!(
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@       WARNING: REVOKED HOST KEY DETECTED!               @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nThe {label} host key for {name} is marked as revoked.\nThis could mean that a stolen key is being used to\nimpersonate this host.\nHost key verification failed."
                ));
            }
            Check::Changed { path, line } => {
                changed.get_or_insert((path, line));
            }
            Check::NotFound => {}
        }
    }
    let strict = o.strict_host_key_checking;
    if let Some((path, line)) = changed {
        let msg = format!(
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nSomeone could be eavesdropping on you right now (man-in-the-middle attack)!\nIt is also possible that a host key has just been changed.\nThe fingerprint for the {label} key sent by the remote host is\n{fp}.\nPlease contact your system administrator.\nAdd correct host key in {} to get rid of this message.\nOffending {label} key in {path}:{line}",
            files
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        if strict == StrictHostKeyChecking::Off {
            oxssh_cli::log::eprint(&msg);
            return Ok(());
        }
        return fail(format!(
            "{msg}\nHost key for {name} has changed and you have requested strict checking.\nHost key verification failed."
        ));
    }
    let batch = o.batch_mode;
    match strict {
        StrictHostKeyChecking::Yes => fail(format!(
            "No {label} host key is known for {name} and you have requested strict checking.\nHost key verification failed."
        )),
        StrictHostKeyChecking::Ask if batch => fail("Host key verification failed."),
        StrictHostKeyChecking::Ask => {
            let prompt = format!(
                "The authenticity of host '{name} ({ip})' can't be established.\n{label} key fingerprint is {fp}.\nThis key is not known by any other names.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? "
            );
            if !confirm(&prompt, &fp.to_string()) {
                return fail("Host key verification failed.");
            }
            learn(o, t, &name, &key, label);
            Ok(())
        }
        StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::Off => {
            learn(o, t, &name, &key, label);
            Ok(())
        }
    }
}

/// OpenSSH's confirm() (sshconnect.c): ask until the first word of the answer is
/// "yes" or the fingerprint (true), or "no" or nothing at all (false); anything else
/// asks again.
fn confirm(prompt: &str, fingerprint: &str) -> bool {
    let mut msg = prompt;
    loop {
        let answer = read_passphrase(msg, true);
        let word = answer
            .trim_start_matches([' ', '\t'])
            .split([' ', '\t', '\n'])
            .next()
            .unwrap_or_default();
        if word.is_empty() || word.eq_ignore_ascii_case("no") {
            return false;
        }
        if word.eq_ignore_ascii_case("yes") || word == fingerprint {
            return true;
        }
        msg = "Please type 'yes', 'no' or the fingerprint: ";
    }
}

/// OpenSSH's read_passphrase() (readpass.c) for ssh's questions: through the
/// `SSH_ASKPASS` program when `SSH_ASKPASS_REQUIRE` is `force` (or `prefer` with a
/// display), or when there is no terminal but a display (unless `never`); else on the
/// terminal, echoed only if `echo`. Empty when neither works or the program fails, as
/// OpenSSH's, whose callers then send the empty answer or take it as "no".
pub(crate) fn read_passphrase(prompt: &str, echo: bool) -> Zeroizing<String> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let mut allow_askpass = set("DISPLAY") || set("WAYLAND_DISPLAY");
    let mut use_askpass = false;
    if let Some(require) = std::env::var_os("SSH_ASKPASS_REQUIRE") {
        let require = require.to_string_lossy();
        if require.eq_ignore_ascii_case("force") {
            use_askpass = true;
            allow_askpass = true;
        } else if require.eq_ignore_ascii_case("prefer") {
            use_askpass = allow_askpass;
        } else if require.eq_ignore_ascii_case("never") {
            allow_askpass = false;
        }
    }
    if !use_askpass {
        // A carriage return first, as OpenSSH: the prompt then starts its line and
        // overwrites whatever was typed ahead.
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        {
            Ok(mut tty) => {
                use std::io::Write;
                let _ = tty.write_all(b"\r");
            }
            Err(_) => use_askpass = true,
        }
    }
    if use_askpass && allow_askpass {
        let program = std::env::var_os("SSH_ASKPASS")
            .unwrap_or_else(|| std::ffi::OsString::from("/usr/bin/ssh-askpass"));
        return askpass(&program, prompt).unwrap_or_default();
    }
    let answer = if echo {
        oxssh_sys::tty::read_line_echo(prompt)
    } else {
        oxssh_sys::tty::read_passphrase(prompt)
    };
    Zeroizing::new(answer.unwrap_or_default())
}

/// OpenSSH's ssh_askpass(): run `program prompt` with our stdin and stderr, take the
/// first line of what it prints (at most 1023 bytes); `None` if it fails.
fn askpass(program: &std::ffi::OsStr, prompt: &str) -> Option<Zeroizing<String>> {
    use std::io::{Read, Write};
    let _ = std::io::stdout().flush();
    let mut child = match std::process::Command::new(program)
        .arg(prompt)
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            oxssh_cli::log::eprint(&format!(
                "ssh_askpass: exec({}): {}",
                program.to_string_lossy(),
                io_text(&e)
            ));
            return None;
        }
    };
    let mut buf = Zeroizing::new(Vec::new());
    if let Some(out) = child.stdout.take() {
        let _ = out.take(1023).read_to_end(&mut buf);
    }
    if !child.wait().ok()?.success() {
        return None;
    }
    let end = buf
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(buf.len());
    buf.truncate(end);
    Some(Zeroizing::new(String::from_utf8_lossy(&buf).into_owned()))
}

fn learn(o: &Options, t: &Target, name: &str, key: &PublicKey, label: &str) {
    let Some(file) = user_known_hosts(o, t).into_iter().next() else {
        return;
    };
    let mut salt = crate::hostkeys::salt;
    let hash: Option<&mut dyn FnMut() -> [u8; 20]> = if o.hash_known_hosts {
        Some(&mut salt)
    } else {
        None
    };
    let Some(line) = oxssh_keys::kh_update::host_entry(name, None, key, &mut { hash }) else {
        return;
    };
    let r = (|| -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = file.parent() {
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)?;
        writeln!(f, "{line}")
    })();
    match r {
        Ok(()) => {
            if o.log_level >= oxssh_config::LogLevel::Info {
                oxssh_cli::log::eprint(&format!(
                    "Warning: Permanently added '{name}' ({label}) to the list of known hosts."
                ));
            }
        }
        Err(e) => eprintln!(
            "Failed to add the host to the list of known hosts ({}): {}",
            file.display(),
            io_text(&e)
        ),
    }
}

/// The signature algorithm to use with a key or certificate, among those
/// PubkeyAcceptedAlgorithms allows: for RSA, the best SHA-2 one the server announced in
/// server-sig-algs (rsa-sha2-512 when it said nothing), as OpenSSH does.
fn sig_alg_for(key: &PublicKey, server_sig_algs: Option<&str>, accepted: &str) -> Option<SigAlg> {
    let algs: Vec<SigAlg> = SigAlg::for_key(key)
        .into_iter()
        .filter(|a| accepted.split(',').any(|n| n == a.name()))
        .collect();
    if let Some(list) = server_sig_algs {
        if let Some(a) = algs
            .iter()
            .find(|a| list.split(',').any(|n| n == a.plain().name()))
        {
            return Some(*a);
        }
    }
    algs.iter()
        .find(|a| a.plain() != SigAlg::RsaSha1)
        .or(algs.first())
        .copied()
}

/// The descriptor the connection is read from and, for a TCP socket, its local
/// address: what hostbased authentication hands ssh-keysign and names this end by.
pub type Socket = Option<(RawFd, Option<IpAddr>)>;

/// A server's text (a keyboard-interactive name or instruction) on stderr as OpenSSH
/// prints it: made safe for the terminal, and followed by a newline unless it ends
/// with one.
fn print_server_text(text: &str) {
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    eprint!("{}{nl}", oxssh_cli::log::sanitize(text));
}

/// User authentication over an established transport, as OpenSSH's ssh does it: the
/// service request, then each method of PreferredAuthentications the server allows, in
/// turn, until success (Ok) or nothing is left to try (the "Permission denied" error).
/// Public for the fuzz target that plays a hostile server against it.
pub async fn authenticate<S>(
    conn: &mut Conn<S>,
    o: &Options,
    t: &Target,
    socket: Socket,
) -> Result<(), Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut noverify = oxssh_net::no_host_keys;
    let lost = |e: oxssh_net::Error| Failure::Message(connection_error(&e, t));
    conn.send(&auth::service_request(auth::SERVICE_USERAUTH))
        .await
        .map_err(lost)?;
    let p = conn.recv(&mut noverify).await.map_err(lost)?;
    if p.first() != Some(&oxssh_proto::msg::SERVICE_ACCEPT) {
        return fail(format!(
            "ssh: unexpected message {} awaiting service accept",
            p.first().copied().unwrap_or(0)
        ));
    }
    let service = auth::SERVICE_CONNECTION;
    conn.send(&auth::request_none(&t.user, service))
        .await
        .map_err(lost)?;
    let mut methods: Vec<String>;
    let mut pending = Pending::None;
    // Read replies until a Failure tells us what may continue.
    macro_rules! next_reply {
        () => {{
            loop {
                let p = conn.recv(&mut noverify).await.map_err(lost)?;
                match auth::parse_reply(&p, pending)? {
                    Reply::Banner { message } => {
                        if o.log_level >= oxssh_config::LogLevel::Info {
                            eprint!("{}", oxssh_cli::log::sanitize(&message));
                        }
                    }
                    r => break r,
                }
            }
        }};
    }
    match next_reply!() {
        Reply::Success => return Ok(()),
        Reply::Failure { methods: m, .. } => methods = m,
        r => return fail(format!("ssh: unexpected reply {r:?}")),
    }
    let server_sig_algs = conn
        .ext("server-sig-algs")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let preferred: Vec<String> = o
        .preferred_authentications
        .clone()
        .unwrap_or_else(|| {
            "gssapi-with-mic,hostbased,publickey,keyboard-interactive,password".into()
        })
        .split(',')
        .map(str::to_owned)
        .collect();
    let session_id = conn.t.session_id().map(<[u8]>::to_vec).unwrap_or_default();
    let host_key = conn.t.host_key().map(<[u8]>::to_vec).unwrap_or_default();
    // As OpenSSH: the host-bound form when the server offers it, unless
    // `PubkeyAuthentication unbound` asks for the plain one.
    let hostbound = conn.ext("publickey-hostbound@openssh.com") == Some(b"0")
        && o.pubkey_authentication != PubkeyAuthentication::Unbound;
    let mut tried: Vec<String> = Vec::new();
    let mut ids = identity::prepare(o).await;
    let mut host_keys: Option<hostbased::HostKeys> = None;
    let mut next_id = 0usize;
    let batch = o.batch_mode;
    let prompts = o.number_of_password_prompts.max(0) as u32;
    let mut password_tries = 0u32;
    // As OpenSSH: keyboard-interactive is tried up to NumberOfPasswordPrompts times,
    // but not again if the server never sent an info request.
    let mut kbd_tries = 0u32;
    let mut kbd_info_seen = false;
    // OpenSSH names the host in prompts as HostKeyAlias, else HostName.
    let prompt_host = o.host_key_alias.as_deref().unwrap_or(&t.host);
    'methods: while let Some(method) = preferred
        .iter()
        .find(|m| methods.iter().any(|x| x == *m) && !tried.contains(m))
        .cloned()
    {
        tracing::debug!("Next authentication method: {method}");
        match method.as_str() {
            "publickey" if o.pubkey_authentication != PubkeyAuthentication::No => {
                while next_id < ids.list.len() {
                    let i = next_id;
                    next_id += 1;
                    let Some(id) = ids.list.get(i) else { break };
                    let (alg, blob) = match &id.key {
                        Some(key) => {
                            let Some(alg) = sig_alg_for(
                                key,
                                server_sig_algs.as_deref(),
                                &o.pubkey_accepted_algorithms,
                            ) else {
                                continue;
                            };
                            tracing::debug!("Offering public key: {}", id.describe());
                            let blob = hostkey::public_blob(key);
                            pending = Pending::PublicKey;
                            conn.send(&auth::request_publickey_query(
                                &t.user,
                                service,
                                alg.name(),
                                &blob,
                            ))
                            .await
                            .map_err(lost)?;
                            match next_reply!() {
                                Reply::PkOk { .. } => {}
                                Reply::Failure { methods: m, .. } => {
                                    methods = m;
                                    continue;
                                }
                                Reply::Success => return Ok(()),
                                r => return fail(format!("ssh: unexpected reply {r:?}")),
                            }
                            tracing::debug!("Server accepts key: {}", id.describe());
                            (alg, blob)
                        }
                        None => {
                            // No public half on disk: load the private key to learn it.
                            tracing::debug!("Trying private key: {}", id.filename);
                            let path = std::path::Path::new(&id.filename);
                            let Some(private) = identity::load_private(path, o, id.user_provided)
                            else {
                                continue;
                            };
                            let public = private.public_key().clone();
                            let Some(alg) = sig_alg_for(
                                &public,
                                server_sig_algs.as_deref(),
                                &o.pubkey_accepted_algorithms,
                            ) else {
                                continue;
                            };
                            if let Some(slot) = ids.list.get_mut(i) {
                                slot.key = Some(public.clone());
                            }
                            (alg, hostkey::public_blob(&public))
                        }
                    };
                    let data = auth::publickey_signed_data(
                        &session_id,
                        &t.user,
                        service,
                        alg.name(),
                        &blob,
                        hostbound.then_some(host_key.as_slice()),
                    );
                    let signer = identity::signer_for(&ids.list, i);
                    let Some(sig) = identity::sign(&mut ids, signer, alg, &data, o).await else {
                        continue;
                    };
                    pending = Pending::PublicKey;
                    conn.send(&auth::request_publickey_signed(&data, &sig)?)
                        .await
                        .map_err(lost)?;
                    match next_reply!() {
                        Reply::Success => {
                            tracing::debug!("Authentication succeeded (publickey).");
                            return Ok(());
                        }
                        Reply::Failure {
                            methods: m,
                            partial,
                        } => {
                            methods = m;
                            if partial {
                                tracing::debug!(
                                    "Authenticated using \"publickey\" with partial success."
                                );
                                tried.clear();
                                continue 'methods;
                            }
                        }
                        r => return fail(format!("ssh: unexpected reply {r:?}")),
                    }
                }
                tried.push(method.clone());
            }
            "hostbased" if o.hostbased_authentication => {
                let keys = host_keys.get_or_insert_with(|| hostbased::HostKeys::load(o));
                let luser = oxssh_sys::getpwuid(oxssh_sys::getuid())
                    .map(|p| p.name)
                    .unwrap_or_default();
                while let Some((alg, key)) = keys.next() {
                    let fp = oxssh_keys::fingerprint::fingerprint(
                        identity::plain_key_data(&key),
                        crate::khcommand::fp_hash(o.fingerprint_hash),
                    );
                    let key_name = alg.key_type_name();
                    tracing::debug!(
                        "userauth_hostbased: trying hostkey {key_name} {fp} using sigalg {}",
                        alg.name()
                    );
                    let Some((sock, local)) = socket else {
                        tracing::error!("userauth_hostbased: cannot get local ipaddr/name");
                        break;
                    };
                    let chost = format!("{}.", hostbased::local_name(local));
                    tracing::debug!("userauth_hostbased: chost {chost}");
                    let data = auth::hostbased_signed_data(
                        &session_id,
                        &t.user,
                        service,
                        alg.name(),
                        &hostkey::public_blob(&key),
                        &chost,
                        &luser,
                    );
                    // As OpenSSH: a key the helper cannot sign with ends the method
                    // (only a refusal by the server moves on to the next key).
                    let Some(sig) = hostbased::keysign(sock, &data) else {
                        tracing::error!("sign using hostkey {key_name} {fp} failed");
                        break;
                    };
                    pending = Pending::None;
                    conn.send(&auth::request_publickey_signed(&data, &sig)?)
                        .await
                        .map_err(lost)?;
                    match next_reply!() {
                        Reply::Success => {
                            tracing::debug!("Authentication succeeded (hostbased).");
                            return Ok(());
                        }
                        Reply::Failure {
                            methods: m,
                            partial,
                        } => {
                            methods = m;
                            if partial {
                                tried.clear();
                                continue 'methods;
                            }
                        }
                        r => return fail(format!("ssh: unexpected reply {r:?}")),
                    }
                }
                tracing::debug!("No more client hostkeys for hostbased authentication.");
                tried.push(method.clone());
            }
            "password" if o.password_authentication && !batch && password_tries < prompts => {
                password_tries += 1;
                if password_tries > 1 {
                    oxssh_cli::log::eprint("Permission denied, please try again.");
                }
                let prompt = format!("{}@{prompt_host}'s password: ", t.user);
                // Without a terminal or askpass this is empty, and is sent: as OpenSSH.
                let pw = read_passphrase(&prompt, false);
                pending = Pending::Password;
                conn.send(&auth::request_password(&t.user, service, pw.as_bytes()))
                    .await
                    .map_err(lost)?;
                let mut reply = next_reply!();
                // A server may ask again when it refuses the new password (RFC 4252
                // §8): as many rounds as NumberOfPasswordPrompts, never endlessly.
                let mut changes = 0u32;
                loop {
                    match reply {
                        Reply::Success => return Ok(()),
                        Reply::Failure {
                            methods: m,
                            partial,
                        } => {
                            methods = m;
                            if partial {
                                tried.clear();
                            }
                            break;
                        }
                        // The server wants a new password (RFC 4252 §8): the old one
                        // again, then the new one twice, as OpenSSH asks for them.
                        Reply::PasswdChangeReq { prompt: info } => {
                            tracing::debug!("input_userauth_passwd_changereq");
                            changes += 1;
                            if changes > prompts {
                                break;
                            }
                            // Logged as OpenSSH 9's logit does (CR LF), made safe.
                            if !info.is_empty() {
                                oxssh_cli::log::eprint(&oxssh_cli::log::sanitize(&info));
                            }
                            let who = format!("{}@{prompt_host}", t.user);
                            let old =
                                read_passphrase(&format!("Enter {who}'s old password: "), false);
                            let new = loop {
                                let new = read_passphrase(
                                    &format!("Enter {who}'s new password: "),
                                    false,
                                );
                                // Nothing typed (end of input, or no way to ask):
                                // give the change up, as OpenSSH does at EOF, rather
                                // than set an empty password.
                                if new.is_empty() {
                                    break None;
                                }
                                let retype = read_passphrase(
                                    &format!("Retype {who}'s new password: "),
                                    false,
                                );
                                if *new == *retype {
                                    break Some(new);
                                }
                                oxssh_cli::log::eprint("Mismatch; try again, EOF to quit.");
                            };
                            let Some(new) = new else {
                                break;
                            };
                            conn.send(&auth::request_password_change(
                                &t.user,
                                service,
                                old.as_bytes(),
                                new.as_bytes(),
                            ))
                            .await
                            .map_err(lost)?;
                            reply = next_reply!();
                        }
                        r => return fail(format!("ssh: unexpected reply {r:?}")),
                    }
                }
            }
            "keyboard-interactive"
                if o.kbd_interactive_authentication
                    && !batch
                    && kbd_tries < prompts
                    && (kbd_tries == 0 || kbd_info_seen) =>
            {
                kbd_tries += 1;
                pending = Pending::KeyboardInteractive;
                conn.send(&auth::request_keyboard_interactive(&t.user, service, ""))
                    .await
                    .map_err(lost)?;
                loop {
                    match next_reply!() {
                        Reply::Success => return Ok(()),
                        Reply::Failure {
                            methods: m,
                            partial,
                        } => {
                            methods = m;
                            if partial {
                                tried.clear();
                                kbd_tries = 0;
                            }
                            break;
                        }
                        Reply::InfoRequest {
                            name,
                            instruction,
                            prompts,
                        } => {
                            kbd_info_seen = true;
                            for text in [&name, &instruction] {
                                if !text.is_empty() {
                                    print_server_text(text);
                                }
                            }
                            let mut answers = Vec::with_capacity(prompts.len());
                            for (p, echo) in &prompts {
                                let p = oxssh_cli::log::sanitize(&format!(
                                    "({}@{prompt_host}) {p}",
                                    t.user
                                ));
                                answers.push(read_passphrase(&p, *echo));
                            }
                            conn.send(&auth::info_response(&answers))
                                .await
                                .map_err(lost)?;
                        }
                        r => return fail(format!("ssh: unexpected reply {r:?}")),
                    }
                }
            }
            _ => tried.push(method.clone()),
        }
    }
    fail(format!(
        "{}@{}: Permission denied ({}).",
        t.user,
        t.host,
        methods.join(",")
    ))
}
