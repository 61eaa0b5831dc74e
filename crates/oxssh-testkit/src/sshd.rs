//! `Sshd`: a server under test, OpenSSH's or ours (both read the same `sshd_config`),
//! either listening on a free 127.0.0.1 port or started per connection by a client's
//! `ProxyCommand sshd -i`; and `ClientConfig`, the client config that connects to it.
//!
//! The kit owns the daemon: it runs in the foreground (`-D`), is killed if the test
//! process dies, and is stopped (SIGTERM, then SIGKILL) and reaped on drop, also when
//! the test panics. Every server gets fresh host keys.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bins::{openssh, ours};
use crate::home::{TempHome, current_user};
use crate::keys::{HostKey, Key, KeyType, fresh_host_keys};

/// The address every test server listens on, and the host name clients connect to.
pub const HOST: &str = "127.0.0.1";

/// How long a server may take to start listening: generous for a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`Sshd::wait_for_log`] waits for a line.
const LOG_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server has to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Fresh ports to try when another process takes ours between choosing and binding it.
const PORT_ATTEMPTS: usize = 5;

/// How to set up an [`Sshd`]: which binary, host key types, extra config lines.
#[derive(Debug, Clone)]
pub struct SshdBuilder {
    binary: PathBuf,
    host_keys: Vec<KeyType>,
    config: Vec<String>,
    authorized_keys: Option<PathBuf>,
}

impl SshdBuilder {
    /// Host key types to make fresh keys of (default: only ed25519).
    pub fn host_keys(mut self, types: &[KeyType]) -> Self {
        self.host_keys = types.to_vec();
        self
    }

    /// Add one `sshd_config` line. Lines before the first `Match` go above the kit's own
    /// settings, so they win (first value wins); a `Match` line and everything after it
    /// goes at the end, where a `Match` block has to be.
    pub fn config(mut self, line: impl Into<String>) -> Self {
        self.config.push(line.into());
        self
    }

    /// Point `AuthorizedKeysFile` at this file instead of the server directory's own
    /// `authorized_keys` (e.g. at a [`TempHome::write_authorized_keys`] file).
    pub fn authorized_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.authorized_keys = Some(path.into());
        self
    }

    /// Start the daemon on a free port and wait until it accepts connections.
    ///
    /// Ready means: the log has OpenSSH's `Server listening on 127.0.0.1 port N.` line
    /// (so a port taken by someone else is never mistaken for ours) and a TCP connect
    /// succeeds.
    ///
    /// # Panics
    /// With the server's log, if it exits or is not ready within 20 s.
    #[track_caller]
    pub fn start(self) -> Sshd {
        let mut sshd = self.prepare();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            sshd.write_config(Some(port));
            let mut child = sshd.spawn();
            match wait_ready(&mut child, port, &sshd.log_path) {
                Ok(()) => {
                    sshd.daemon = Some(Daemon { child, port });
                    return sshd;
                }
                Err(Failure::PortTaken) if attempt < PORT_ATTEMPTS => continue,
                Err(why) => {
                    stop(&mut child);
                    let (binary, log) = (sshd.binary.clone(), sshd.log());
                    // Dropped first, so that its drop does not print the log again.
                    drop(sshd);
                    panic!(
                        "{} did not start: {}\n--- sshd log ---\n{log}",
                        binary.display(),
                        why.describe(port),
                    );
                }
            }
        }
    }

    /// Set up a server for inetd mode: no daemon and no port; a client's
    /// `ProxyCommand` ([`Sshd::inetd_command`]) starts `sshd -i` for each connection.
    pub fn inetd(self) -> Sshd {
        let sshd = self.prepare();
        sshd.write_config(None);
        sshd
    }

    fn prepare(self) -> Sshd {
        assert!(
            self.binary.is_absolute(),
            "sshd must be run by absolute path (it re-executes itself): {}",
            self.binary.display()
        );
        ensure_privsep_dir();
        let dir = tempfile::Builder::new()
            .prefix("oxssh-sshd-")
            .tempdir()
            .expect("creating the server's temp dir");
        let host_keys = fresh_host_keys(dir.path(), &self.host_keys);
        let authorized_keys = self
            .authorized_keys
            .unwrap_or_else(|| dir.path().join("authorized_keys"));
        if !authorized_keys.exists() {
            fs::write(&authorized_keys, "").expect("creating authorized_keys");
        }
        Sshd {
            binary: self.binary,
            config_path: dir.path().join("sshd_config"),
            log_path: dir.path().join("sshd.log"),
            authorized_keys,
            host_keys,
            extra: self.config,
            daemon: None,
            dir,
        }
    }
}

/// A server under test. Its files (config, host keys, log, `authorized_keys`) live in a
/// temp dir removed on drop.
///
/// Start and drop it on the test's own thread: the daemon gets SIGKILL when the thread
/// that started it ends (`PR_SET_PDEATHSIG`), so it cannot be shared through a static.
#[derive(Debug)]
pub struct Sshd {
    binary: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    authorized_keys: PathBuf,
    host_keys: Vec<HostKey>,
    extra: Vec<String>,
    daemon: Option<Daemon>,
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Daemon {
    child: Child,
    port: u16,
}

impl Sshd {
    /// A builder for the sshd at `binary` (an absolute path).
    pub fn builder(binary: impl Into<PathBuf>) -> SshdBuilder {
        SshdBuilder {
            binary: binary.into(),
            host_keys: vec![KeyType::Ed25519],
            config: Vec::new(),
            authorized_keys: None,
        }
    }

    /// A builder for OpenSSH's `/usr/sbin/sshd`.
    ///
    /// # Panics
    /// If it is not installed: check with [`crate::require_openssh!`] first.
    pub fn openssh() -> SshdBuilder {
        Self::builder(openssh("sshd").expect("OpenSSH sshd (use require_openssh! first)"))
    }

    /// A builder for our `sshd` ([`crate::ours`]).
    pub fn ours() -> SshdBuilder {
        Self::builder(ours("sshd"))
    }

    /// The listening port.
    ///
    /// # Panics
    /// In inetd mode, which has none.
    pub fn port(&self) -> u16 {
        self.daemon().port
    }

    /// The daemon's process id.
    ///
    /// # Panics
    /// In inetd mode, which has no daemon.
    pub fn pid(&self) -> u32 {
        self.daemon().child.id()
    }

    fn daemon(&self) -> &Daemon {
        self.daemon
            .as_ref()
            .expect("this Sshd is in inetd mode: no daemon, no port")
    }

    /// The server's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The generated `sshd_config`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file (`-E`), shared by the daemon and every `sshd -i`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything logged so far (the daemon's and each `sshd -i`'s log, `LogLevel
    /// DEBUG3`).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Wait (bounded) until the log contains `needle`, and return the log. Needed for
    /// lines the server may write after the client has gone.
    ///
    /// # Panics
    /// With the log, if `needle` does not appear within 20 s.
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + LOG_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            if Instant::now() >= deadline {
                panic!("{needle:?} not logged within {LOG_TIMEOUT:?}\n--- sshd log ---\n{log}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The fresh host keys, in the order of the `HostKey` lines.
    pub fn host_keys(&self) -> &[HostKey] {
        &self.host_keys
    }

    /// The file `AuthorizedKeysFile` names.
    pub fn authorized_keys_path(&self) -> &Path {
        &self.authorized_keys
    }

    /// Append a fixture key's public line to the authorized keys.
    pub fn authorize(&self, key: Key) {
        self.authorize_line(&key.public());
    }

    /// Append one line (options allowed, e.g. `command="true" ssh-ed25519 …`) to the
    /// authorized keys. The server reads the file at each login.
    pub fn authorize_line(&self, line: &str) {
        append(&self.authorized_keys, line);
    }

    /// The `ProxyCommand` that runs this server in inetd mode for one connection:
    /// `<abs sshd> -i -f <config> -E <log>`. Works in either mode (`-i` ignores the
    /// listen settings).
    pub fn inetd_command(&self) -> String {
        for path in [&self.binary, &self.config_path, &self.log_path] {
            // ssh hands the command to /bin/sh and expands `%` tokens in it.
            let plain = path.to_str().is_some_and(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
            });
            assert!(plain, "path unfit for a ProxyCommand: {}", path.display());
        }
        format!(
            "{} -i -f {} -E {}",
            self.binary.display(),
            self.config_path.display(),
            self.log_path.display()
        )
    }

    /// The host name a client's known_hosts line needs for this server:
    /// `[127.0.0.1]:<port>`, or plain `127.0.0.1` in inetd mode (port 22 is implied).
    pub fn known_hosts_name(&self) -> String {
        match &self.daemon {
            Some(d) => format!("[{HOST}]:{}", d.port),
            None => HOST.to_owned(),
        }
    }

    /// known_hosts lines for every host key of this server.
    pub fn known_hosts_lines(&self) -> Vec<String> {
        let name = self.known_hosts_name();
        self.host_keys
            .iter()
            .map(|k| format!("{name} {}", k.public_key))
            .collect()
    }

    /// A client config for connecting to this server from `home`.
    pub fn client<'a>(&'a self, home: &'a TempHome) -> ClientConfig<'a> {
        ClientConfig {
            sshd: self,
            home,
            identity: Some(Key::Ed25519),
            strict: "yes".to_owned(),
            trust_host_key: true,
            extra: Vec::new(),
        }
    }

    fn write_config(&self, port: Option<u16>) {
        let mut own = Vec::new();
        if let Some(port) = port {
            own.push(format!("ListenAddress {HOST}:{port}"));
        }
        for k in &self.host_keys {
            own.push(format!("HostKey {}", k.private.display()));
        }
        own.extend([
            format!("PidFile {}", self.dir().join("sshd.pid").display()),
            format!("AuthorizedKeysFile {}", self.authorized_keys.display()),
            "StrictModes no".to_owned(),
            "UsePAM no".to_owned(),
            "LogLevel DEBUG3".to_owned(),
            "PermitRootLogin yes".to_owned(),
        ]);
        let text = render("sshd_config", &self.extra, &own, "match");
        fs::write(&self.config_path, text).expect("writing sshd_config");
    }

    fn spawn(&self) -> Child {
        // The daemon logs to the file itself (-E, also for its per-connection
        // children); stderr goes there too, for anything said before -E takes effect.
        let log = File::create(&self.log_path).expect("creating the sshd log");
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-D", "-e", "-f"])
            .arg(&self.config_path)
            .arg("-E")
            .arg(&self.log_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup of the log file"))
            .stderr(log);
        oxssh_sys::kill_on_parent_death(&mut cmd);
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(daemon) = &mut self.daemon {
            stop(&mut daemon.child);
        }
        if thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(200).collect();
            eprintln!(
                "--- last lines of the sshd log, {} ---",
                self.log_path.display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// SIGTERM, a bounded wait, then SIGKILL; always reaps. Never panics (runs in drop).
fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // Signals other than SIGKILL need libc::kill, which is unsafe: the `kill`
        // command sends SIGTERM instead. The pid is still ours: we have not reaped it.
        let termed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !termed {
            let _ = child.kill();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while let Ok(None) = child.try_wait() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = child.wait();
}

enum Failure {
    PortTaken,
    Exited(String),
    NotListening,
    NotLogged,
}

impl Failure {
    fn describe(&self, port: u16) -> String {
        match self {
            Failure::PortTaken => format!("port {port} stayed taken for {PORT_ATTEMPTS} tries"),
            Failure::Exited(status) => format!("it exited ({status})"),
            Failure::NotListening => {
                format!("nothing accepted connections on port {port} within {START_TIMEOUT:?}")
            }
            Failure::NotLogged => format!(
                "it accepts connections on port {port} but never logged \
                 `Server listening on {HOST} port {port}.`, the line the kit waits for"
            ),
        }
    }
}

fn wait_ready(child: &mut Child, port: u16, log_path: &Path) -> Result<(), Failure> {
    let deadline = Instant::now() + START_TIMEOUT;
    let listening = format!("Server listening on {HOST} port {port}.");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        let log = fs::read(log_path).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        if let Ok(Some(status)) = child.try_wait() {
            return Err(if log.contains("Address already in use") {
                Failure::PortTaken
            } else {
                Failure::Exited(status.to_string())
            });
        }
        let accepts = || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
        if log.contains(&listening) && accepts() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(if accepts() {
                Failure::NotLogged
            } else {
                Failure::NotListening
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A port that was free a moment ago (the kernel's choice for port 0).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// OpenSSH's sshd, run as root, needs its privilege separation directory; a fresh
/// machine may not have it until the sshd service first starts.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if oxssh_sys::geteuid() == 0 && !dir.exists() {
        fs::create_dir_all(dir).expect("creating /run/sshd");
        crate::home::set_mode(dir, 0o755);
    }
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .unwrap_or_else(|e| panic!("appending to {}: {e}", path.display()));
}

/// A config file: the test's lines up to its first block keyword (`Match` for sshd,
/// `Host`/`Match` for ssh), then the kit's own lines, then the test's block lines.
fn render(what: &str, extra: &[String], own: &[String], blocks: &str) -> String {
    let opens_block = |line: &String| {
        let word = line
            .trim_start()
            .split([' ', '\t', '='])
            .next()
            .unwrap_or("");
        blocks.split('|').any(|b| word.eq_ignore_ascii_case(b))
    };
    let split = extra.iter().position(opens_block).unwrap_or(extra.len());
    let (head, tail) = extra.split_at(split);
    let mut text = format!("# {what} written by oxssh-testkit\n");
    for line in head.iter().chain(own).chain(tail) {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A client config for an [`Sshd`], written into a [`TempHome`] by
/// [`ClientConfig::write`] or [`ClientConfig::args`].
///
/// Defaults: `User` the current user, the fixture key [`Key::Ed25519`] installed and
/// used as the only identity, `StrictHostKeyChecking yes` with the server's host keys
/// already in `known_hosts`, `BatchMode yes`, no global known_hosts.
#[derive(Debug, Clone)]
pub struct ClientConfig<'a> {
    sshd: &'a Sshd,
    home: &'a TempHome,
    identity: Option<Key>,
    strict: String,
    trust_host_key: bool,
    extra: Vec<String>,
}

impl ClientConfig<'_> {
    /// Use this fixture key (installed into the home) as the identity.
    pub fn identity(mut self, key: Key) -> Self {
        self.identity = Some(key);
        self
    }

    /// Name no identity file (the test adds its own or relies on the defaults).
    pub fn no_identity(mut self) -> Self {
        self.identity = None;
        self
    }

    /// The `StrictHostKeyChecking` value (default `yes`).
    pub fn strict_host_key_checking(mut self, value: &str) -> Self {
        self.strict = value.to_owned();
        self
    }

    /// Whether to add the server's host keys to `known_hosts` (default yes).
    pub fn trust_host_key(mut self, yes: bool) -> Self {
        self.trust_host_key = yes;
        self
    }

    /// Add one `ssh_config` line. Lines before the first `Host`/`Match` go above the
    /// kit's own settings, so they win (first value wins); a `Host`/`Match` line and
    /// everything after it goes at the end.
    pub fn option(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Write `~/.ssh/config` (and the known_hosts lines, and the identity key) and
    /// return the config's path, for `-F`.
    pub fn write(self) -> PathBuf {
        let home = self.home;
        let mut own = vec![format!("HostName {HOST}")];
        match &self.sshd.daemon {
            Some(d) => own.push(format!("Port {}", d.port)),
            None => own.push(format!("ProxyCommand {}", self.sshd.inetd_command())),
        }
        own.push(format!("User {}", current_user()));
        if let Some(key) = self.identity {
            own.push(format!("IdentityFile {}", home.install_key(key).display()));
            own.push("IdentitiesOnly yes".to_owned());
        }
        own.extend([
            format!("UserKnownHostsFile {}", home.known_hosts_path().display()),
            "GlobalKnownHostsFile /dev/null".to_owned(),
            format!("StrictHostKeyChecking {}", self.strict),
            "BatchMode yes".to_owned(),
        ]);
        if self.trust_host_key {
            for line in self.sshd.known_hosts_lines() {
                append(&home.known_hosts_path(), &line);
            }
        }
        home.write_ssh_config(&render("ssh_config", &self.extra, &own, "host|match"))
    }

    /// Write the config and return `-F <config> 127.0.0.1`, the arguments that make
    /// `ssh` connect to the server; append the remote command. (`scp` and `sftp` take
    /// `-F <config>` from [`ClientConfig::write`] and the host [`HOST`].)
    pub fn args(self) -> Vec<OsString> {
        let config = self.write();
        vec!["-F".into(), config.into(), HOST.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn test_lines_come_first_and_blocks_last() {
        let extra = lines(&[
            "LogLevel VERBOSE",
            "Match User nobody",
            "  PasswordAuthentication no",
        ]);
        let own = lines(&["LogLevel DEBUG3", "UsePAM no"]);
        let text = render("sshd_config", &extra, &own, "match");
        assert_eq!(
            text,
            "# sshd_config written by oxssh-testkit\nLogLevel VERBOSE\nLogLevel DEBUG3\n\
             UsePAM no\nMatch User nobody\n  PasswordAuthentication no\n"
        );
    }

    #[test]
    fn host_opens_a_block_for_the_client_and_keywords_are_caseless() {
        let extra = lines(&["Ciphers aes128-ctr", "host=other", "  Port 1"]);
        let text = render("ssh_config", &extra, &lines(&["Port 2"]), "host|match");
        let body: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            body,
            ["Ciphers aes128-ctr", "Port 2", "host=other", "  Port 1"]
        );
    }

    #[test]
    fn a_port_is_offered() {
        assert_ne!(free_port(), 0);
    }
}
