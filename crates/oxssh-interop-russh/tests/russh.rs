//! Interop with russh, a second SSH implementation written independently of ours and of
//! OpenSSH: our `ssh` against an in-process russh server, and a russh client against our
//! `sshd`. It is our only peer for `mlkem768x25519-sha256`, which the installed OpenSSH
//! (9.2) lacks.
//!
//! What it does not cover: anything russh 0.55 does not implement, and every algorithm
//! OpenSSH already tests with us (the tests of `bins/ssh` and `bins/sshd`).
//!
//! Why russh 0.55 and not 0.65: every russh from 0.61 on pins `ssh-key =0.7.0-rc.10/11`
//! (and `rsa =0.10.0-rc.18`), which cannot share one lock file with the workspace's
//! `ssh-key =0.7.0-rc.12` and `rsa 0.10`; 0.56–0.60 pin other pre-releases of crates
//! the workspace uses (`rand_core`, `rsa`, `ml-kem`, `p256`). 0.55 depends on the previous
//! crypto generation and a fork of ssh-key under another name, so it builds beside ours,
//! and it has ML-KEM (libcrux).
//!
//! Every run is bounded: the client binary by [`Cmd`]'s time limit, every russh
//! operation by a tokio timeout.

// Test code: failing loudly is its job.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxssh_testkit::{Cmd, HOST, Key, Sshd, TempHome, current_user, ours, require_openssh};
use russh::keys::{Algorithm, PrivateKey, PrivateKeyWithHashAlg, PublicKey, decode_secret_key};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, CryptoVec, Preferred, cipher, kex};

/// The longest any one russh step (connect, auth, a command) may take.
const STEP: Duration = Duration::from_secs(30);
/// The time limit of one run of our `ssh`.
const RUN: Duration = Duration::from_secs(60);

/// Key exchanges both sides implement; `mlkem768x25519-sha256` is the one no other peer
/// on this machine has.
const KEX: [kex::Name; 3] = [
    kex::MLKEM768X25519_SHA256,
    kex::CURVE25519,
    kex::ECDH_SHA2_NISTP256,
];
/// The two AEAD ciphers OpenSSH prefers.
const CIPHERS: [cipher::Name; 2] = [cipher::CHACHA20_POLY1305, cipher::AES_256_GCM];

/// The exit status the russh server reports for every command but `cat`.
const SERVER_EXIT: u32 = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Run `fut` to completion on `rt`, or panic naming `what` after [`STEP`].
#[track_caller]
fn bounded<T>(rt: &tokio::runtime::Runtime, what: &str, fut: impl Future<Output = T>) -> T {
    rt.block_on(async { tokio::time::timeout(STEP, fut).await })
        .unwrap_or_else(|_| panic!("{what}: no result within {STEP:?}"))
}

fn fixture_key(key: Key) -> PrivateKey {
    decode_secret_key(&key.private(), None).expect("the fixture key parses in russh")
}

// ---------------------------------------------------------------------------------------
// Our ssh → a russh server
// ---------------------------------------------------------------------------------------

/// A russh server on 127.0.0.1 in its own runtime, alive as long as this value.
///
/// It accepts publickey auth for the fixture Ed25519 key only. An `exec` of `cat` echoes
/// the channel's data back and ends with exit status 0 after the client's EOF; any
/// other command is written back verbatim on stdout, followed by exit status
/// [`SERVER_EXIT`], EOF and CLOSE.
struct RusshServer {
    /// Runs the accept loop and every session; dropping it stops them all.
    _rt: tokio::runtime::Runtime,
    port: u16,
    /// `ssh-ed25519 <base64>` of the server's host key.
    host_key: String,
    /// What the server saw: commands and per-connection errors, for failure messages.
    log: Arc<Mutex<String>>,
}

impl RusshServer {
    fn start() -> Self {
        let rt = runtime();
        let host_key = PrivateKey::random(
            &mut russh::keys::ssh_key::rand_core::OsRng,
            Algorithm::Ed25519,
        )
        .expect("a fresh Ed25519 host key");
        let host_key_line = host_key
            .public_key()
            .to_openssh()
            .expect("encoding the host key")
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let config = Arc::new(russh::server::Config {
            keys: vec![host_key],
            preferred: Preferred {
                // Every kex under test, plus the markers for EXT_INFO and strict kex.
                kex: Cow::Owned(
                    KEX.into_iter()
                        .chain([
                            kex::EXTENSION_SUPPORT_AS_SERVER,
                            kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
                        ])
                        .collect(),
                ),
                ..Preferred::default()
            },
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: Some(STEP),
            ..Default::default()
        });
        let authorized = fixture_key(Key::Ed25519).public_key().clone();
        let log = Arc::new(Mutex::new(String::new()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind((HOST, 0)))
            .expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let accept_log = Arc::clone(&log);
        rt.spawn(async move {
            loop {
                let Ok((socket, peer)) = listener.accept().await else {
                    return;
                };
                let handler = ServerHandler {
                    authorized: authorized.clone(),
                    echo: Vec::new(),
                    log: Arc::clone(&accept_log),
                };
                let (config, log) = (Arc::clone(&config), Arc::clone(&accept_log));
                tokio::spawn(async move {
                    let result = match russh::server::run_stream(config, socket, handler).await {
                        Ok(session) => session.await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        let _ = writeln!(log.lock().unwrap(), "session from {peer}: {e:?}");
                    }
                });
            }
        });
        RusshServer {
            _rt: rt,
            port,
            host_key: host_key_line,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A home with the fixture Ed25519 key and a known_hosts line for this server,
    /// `-F`-ready: returns the config's path.
    fn client_home(&self, home: &TempHome, known_host_key: &str) -> PathBuf {
        let identity = home.install_key(Key::Ed25519);
        home.write_known_hosts(&[format!("[{HOST}]:{} {known_host_key}", self.port)]);
        home.write_ssh_config(&format!(
            "HostName {HOST}\nPort {}\nUser {}\nIdentityFile {}\nIdentitiesOnly yes\n\
             UserKnownHostsFile {}\nGlobalKnownHostsFile /dev/null\n\
             StrictHostKeyChecking yes\nBatchMode yes\n",
            self.port,
            current_user(),
            identity.display(),
            home.known_hosts_path().display(),
        ))
    }

    /// Our `ssh -F <config> <extra args> 127.0.0.1 <command>`, bounded by [`RUN`].
    fn ssh(&self, home: &TempHome, config: &PathBuf, extra: &[&str], command: &str) -> Cmd {
        Cmd::new(ours("ssh"))
            .arg("-F")
            .arg(config)
            .args(extra)
            .arg(HOST)
            .arg(command)
            .envs(home.env())
            .timeout(RUN)
    }
}

impl Drop for RusshServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- russh server log ---\n{}", self.log());
        }
    }
}

/// One connection's handler.
struct ServerHandler {
    authorized: PublicKey,
    /// Channels running `cat`.
    echo: Vec<ChannelId>,
    log: Arc<Mutex<String>>,
}

impl ServerHandler {
    fn check(&self, user: &str, key: &PublicKey) -> Auth {
        if key.key_data() == self.authorized.key_data() {
            Auth::Accept
        } else {
            let _ = writeln!(
                self.log.lock().unwrap(),
                "rejected key {:?} for {user}",
                key.algorithm()
            );
            Auth::reject()
        }
    }
}

impl russh::server::Handler for ServerHandler {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        key: &PublicKey,
    ) -> Result<Auth, Self::Error> {
        Ok(self.check(user, key))
    }

    async fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        Ok(self.check(user, key))
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let _ = writeln!(
            self.log.lock().unwrap(),
            "exec {:?}",
            String::from_utf8_lossy(command)
        );
        session.channel_success(channel)?;
        if command == b"cat" {
            self.echo.push(channel);
            return Ok(());
        }
        session.data(channel, CryptoVec::from_slice(command))?;
        session.exit_status_request(channel, SERVER_EXIT)?;
        session.eof(channel)?;
        session.close(channel)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.echo.contains(&channel) {
            session.data(channel, CryptoVec::from_slice(data))?;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.echo.contains(&channel) {
            // russh holds EOF and CLOSE back until the echoed data has been sent.
            session.exit_status_request(channel, 0)?;
            session.eof(channel)?;
            session.close(channel)?;
        }
        Ok(())
    }
}

#[test]
fn our_ssh_runs_a_command_on_russh_with_every_shared_kex_and_cipher() {
    let server = RusshServer::start();
    let home = TempHome::new();
    let config = server.client_home(&home, &server.host_key);
    for kex in KEX {
        for cipher in CIPHERS {
            let (kex, cipher) = (kex.as_ref(), cipher.as_ref());
            let command = format!("printf {kex} {cipher}");
            let out = server
                .ssh(
                    &home,
                    &config,
                    &[
                        "-o",
                        &format!("KexAlgorithms={kex}"),
                        "-o",
                        &format!("Ciphers={cipher}"),
                    ],
                    &command,
                )
                .run();
            assert_eq!(
                out.code(),
                Some(SERVER_EXIT as i32),
                "{kex} / {cipher}\n{out}\n--- russh server ---\n{}",
                server.log()
            );
            assert_eq!(out.stdout, command.as_bytes(), "{kex} / {cipher}\n{out}");
        }
    }
}

#[test]
fn one_mib_round_trips_through_a_russh_cat_over_mlkem() {
    let server = RusshServer::start();
    let home = TempHome::new();
    let config = server.client_home(&home, &server.host_key);
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let out = server
        .ssh(
            &home,
            &config,
            &["-o", "KexAlgorithms=mlkem768x25519-sha256"],
            "cat",
        )
        .stdin(data.clone())
        .run();
    out.assert_success();
    assert_eq!(out.stdout.len(), data.len(), "{}", out.stderr_str());
    assert!(
        out.stdout == data,
        "the echoed bytes differ from those sent"
    );
}

#[test]
fn our_ssh_refuses_a_russh_host_key_that_known_hosts_does_not_list() {
    let server = RusshServer::start();
    let home = TempHome::new();
    // Another Ed25519 key under the server's name: a changed host key.
    let wrong = Key::Ed25519
        .public()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert_ne!(wrong, server.host_key);
    let config = server.client_home(&home, &wrong);
    let out = server.ssh(&home, &config, &[], "never-run").run();
    out.assert_code(255);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(
        out.stderr_str().contains("Host key verification failed."),
        "{out}"
    );
    assert!(
        !server.log().contains("never-run"),
        "the command ran although the host key was wrong\n{}",
        server.log()
    );
}

// ---------------------------------------------------------------------------------------
// A russh client → our sshd
// ---------------------------------------------------------------------------------------

/// The russh client's handler: trusts exactly `host_key` and records the negotiated kex.
struct ClientHandler {
    host_key: PublicKey,
    kex: Arc<Mutex<Option<String>>>,
}

impl russh::client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        Ok(key.key_data() == self.host_key.key_data())
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        names: &russh::Names,
        _session: &mut russh::client::Session,
    ) -> Result<(), Self::Error> {
        *self.kex.lock().unwrap() = Some(names.kex.as_ref().to_owned());
        Ok(())
    }
}

/// What one exec over a russh client brought back.
#[derive(Debug)]
struct Exec {
    kex: Option<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_status: Option<u32>,
}

/// Connect a russh client offering only `kex` and `cipher` to `port`, log in with the
/// fixture Ed25519 key, and run `command`.
async fn russh_exec(
    port: u16,
    host_key: PublicKey,
    kex: kex::Name,
    cipher: cipher::Name,
    command: &str,
) -> Result<Exec, russh::Error> {
    let config = Arc::new(russh::client::Config {
        preferred: Preferred {
            kex: Cow::Owned(vec![
                kex,
                kex::EXTENSION_SUPPORT_AS_CLIENT,
                kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
            ]),
            cipher: Cow::Owned(vec![cipher]),
            ..Preferred::default()
        },
        inactivity_timeout: Some(STEP),
        ..Default::default()
    });
    let negotiated = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        host_key,
        kex: Arc::clone(&negotiated),
    };
    let mut session = russh::client::connect(config, (HOST, port), handler).await?;
    let key = Arc::new(fixture_key(Key::Ed25519));
    let auth = session
        .authenticate_publickey(current_user(), PrivateKeyWithHashAlg::new(key, None))
        .await?;
    assert!(auth.success(), "publickey auth failed: {auth:?}");
    let mut channel = session.channel_open_session().await?;
    channel.exec(true, command).await?;
    let mut exec = Exec {
        kex: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_status: None,
    };
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => exec.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => exec.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => exec.exit_status = Some(exit_status),
            _ => {}
        }
    }
    session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await?;
    exec.kex = negotiated.lock().unwrap().clone();
    Ok(exec)
}

#[test]
fn a_russh_client_runs_a_command_on_our_sshd_with_every_shared_kex_and_cipher() {
    let _ = require_openssh!("ssh-keygen"); // the kit makes the host keys with it
    let sshd = Sshd::ours().start();
    sshd.authorize(Key::Ed25519);
    let host_key = PublicKey::from_openssh(&sshd.host_keys()[0].public_key)
        .expect("the server's host key parses in russh");
    let rt = runtime();
    for kex in KEX {
        for cipher in CIPHERS {
            let what = format!("russh → our sshd, {} / {}", kex.as_ref(), cipher.as_ref());
            let exec = bounded(
                &rt,
                &what,
                russh_exec(
                    sshd.port(),
                    host_key.clone(),
                    kex,
                    cipher,
                    "echo hello; exit 7",
                ),
            )
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            assert_eq!(exec.kex.as_deref(), Some(kex.as_ref()), "{what}: {exec:?}");
            assert_eq!(exec.stdout, b"hello\n", "{what}: {exec:?}");
            assert_eq!(exec.exit_status, Some(7), "{what}: {exec:?}");
            assert!(exec.stderr.is_empty(), "{what}: {exec:?}");
        }
    }
    let log = sshd.wait_for_log("Accepted publickey for");
    let user = current_user();
    let accepted = log
        .lines()
        .filter(|l| l.contains(&format!("Accepted publickey for {user} from {HOST} port ")))
        .count();
    assert_eq!(accepted, KEX.len() * CIPHERS.len(), "{log}");
}
