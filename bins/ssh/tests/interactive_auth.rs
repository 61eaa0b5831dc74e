//! Our `ssh`'s interactive authentication and first-connection host key question,
//! against OpenSSH's `sshd`, each compared byte for byte with OpenSSH's `ssh` run the
//! same way (same config, same server, same answers):
//!
//! - password authentication answered by `SSH_ASKPASS` (`SSH_ASKPASS_REQUIRE=force`):
//!   the prompt, the command's output and status; wrong passwords and
//!   `NumberOfPasswordPrompts`; no terminal and no askpass;
//! - keyboard-interactive through PAM (OpenSSH's sshd with `UsePAM yes` as a PAM
//!   service of its own, see [`oxssh_testkit::pam`]): `pam_unix`'s password, then
//!   `pam_oath`'s one-time code, right and wrong;
//! - an encrypted identity's passphrase through `SSH_ASKPASS`;
//! - `BatchMode yes`, which never asks;
//! - `StrictHostKeyChecking ask` on a real terminal (a pty we drive): the question,
//!   answered yes, no, empty, something else, or with the fingerprint; and the same
//!   question sent to a forced askpass.
//!
//! The askpass program is a script that records each prompt it is given (one file per
//! call, in order) and answers by matching the prompt. Clients without a terminal run
//! under `setsid`, so a developer's terminal never leaks in.
//!
//! Creating users and PAM services needs root: without it those tests skip and say why
//! (in CI they fail). Not here: the server side of PAM (bins/sshd/tests).
//!
//! The host key terminal tests run `ssh -n` (the question is asked on /dev/tty either
//! way); `remote_command_exit_ends_ssh_while_the_terminal_stays_open` covers a session
//! whose stdin is a terminal nobody types into.

// Test helpers fail the test loudly on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use oxssh_testkit::pam::{Oath, OathMode, PamService, TestUser};
use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, ours, require_openssh, sh_quote};

/// Every client run here ends well within this (each is one local login).
const LIMIT: Duration = Duration::from_secs(30);

/// Environment changes shared by every run: no askpass and no display inherited from
/// the developer's session.
fn clean_env() -> Vec<(OsString, Option<OsString>)> {
    [
        "SSH_ASKPASS",
        "SSH_ASKPASS_REQUIRE",
        "DISPLAY",
        "WAYLAND_DISPLAY",
    ]
    .into_iter()
    .map(|k| (OsString::from(k), None))
    .collect()
}

/// An `SSH_ASKPASS` program: records each prompt (its first argument, byte for byte)
/// in a file of its own, numbered in call order, and prints the answer of the first
/// `(substring, answer)` pair whose substring the prompt contains; exits 1 (no answer,
/// as a cancelled dialog) when none matches.
struct Askpass {
    scratch: TempHome,
}

impl Askpass {
    fn new(answers: &[(String, String)]) -> Askpass {
        let scratch = TempHome::new();
        let prompts = scratch.path().join("prompts");
        fs::create_dir(&prompts).unwrap();
        let mut script = format!(
            "#!/bin/sh\ndir={}\nn=0\nwhile [ -e \"$dir/$n\" ]; do n=$((n+1)); done\n\
             printf '%s' \"$1\" > \"$dir/$n\"\ncase \"$1\" in\n",
            sh_quote(&prompts.to_string_lossy())
        );
        for (needle, answer) in answers {
            script.push_str(&format!(
                "  *{}*) printf '%s\\n' {} ;;\n",
                sh_quote(needle),
                sh_quote(answer)
            ));
        }
        script.push_str("  *) exit 1 ;;\nesac\n");
        let path = scratch.path().join("askpass");
        oxssh_testkit::write_executable(&path, script);
        Askpass { scratch }
    }

    fn path(&self) -> PathBuf {
        self.scratch.path().join("askpass")
    }

    /// Forced: OpenSSH's ssh then asks every question through the program, terminal
    /// or not.
    fn env(&self) -> Vec<(OsString, Option<OsString>)> {
        let mut env = clean_env();
        env.push(("SSH_ASKPASS".into(), Some(self.path().into())));
        env.push(("SSH_ASKPASS_REQUIRE".into(), Some("force".into())));
        env
    }

    /// The prompts it was called with, in order.
    fn prompts(&self) -> Vec<String> {
        let dir = self.scratch.path().join("prompts");
        (0..)
            .map(|n| dir.join(n.to_string()))
            .take_while(|p| p.exists())
            .map(|p| fs::read_to_string(p).unwrap())
            .collect()
    }
}

fn answers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
        .collect()
}

/// One client run: what it printed and exited with, and what askpass was asked.
struct Run {
    out: Output,
    prompts: Vec<String>,
}

/// Run `bin` without a controlling terminal (`setsid -w`), with `home`'s environment
/// and then `env`.
fn run_detached(
    bin: &Path,
    home: &TempHome,
    args: &[OsString],
    command: &str,
    env: Vec<(OsString, Option<OsString>)>,
) -> Output {
    Cmd::new("/usr/bin/setsid")
        .arg("-w")
        .arg(bin)
        .args(args)
        .arg(command)
        .envs(home.env())
        .envs(env)
        .timeout(LIMIT)
        .run()
}

/// OpenSSH's ssh, then ours, run identically, each with a fresh askpass that gives
/// the answers `answers()` returns at that moment (a one-time code changes after use).
/// `None` (after a skip line) without OpenSSH's ssh.
fn run_both(
    home: &TempHome,
    args: &[OsString],
    command: &str,
    answers: impl Fn() -> Vec<(String, String)>,
) -> Option<[Run; 2]> {
    let theirs = require_openssh("ssh")?;
    Some([theirs, ours("ssh")].map(|bin| {
        let askpass = Askpass::new(&answers());
        let out = run_detached(&bin, home, args, command, askpass.env());
        Run {
            out,
            prompts: askpass.prompts(),
        }
    }))
}

/// Ours behaved exactly as OpenSSH's: exit status, stdout, stderr and askpass prompts.
#[track_caller]
fn assert_same(theirs: &Run, ours: &Run) {
    let context = format!(
        "--- OpenSSH ---\n{}\nprompts: {:?}\n--- ours ---\n{}\nprompts: {:?}",
        theirs.out, theirs.prompts, ours.out, ours.prompts
    );
    assert_eq!(
        ours.prompts, theirs.prompts,
        "askpass prompts differ\n{context}"
    );
    assert_eq!(
        ours.out.status, theirs.out.status,
        "status differs\n{context}"
    );
    assert_eq!(
        ours.out.stdout, theirs.out.stdout,
        "stdout differs\n{context}"
    );
    assert_eq!(
        ours.out.stderr, theirs.out.stderr,
        "stderr differs\n{context}"
    );
}

/// An OpenSSH sshd with its defaults (password authentication on, no PAM), or `None`.
fn password_sshd() -> Option<Sshd> {
    require_openssh("sshd")?;
    require_openssh("ssh")?;
    Some(Sshd::openssh().config("PasswordAuthentication yes").start())
}

/// Client arguments for password authentication only, as `user`.
fn password_client(sshd: &Sshd, home: &TempHome, user: &str, prompts: u32) -> Vec<OsString> {
    sshd.client(home)
        .no_identity()
        .option(format!("User {user}"))
        .option("BatchMode no")
        .option("PreferredAuthentications password")
        .option("PubkeyAuthentication no")
        .option(format!("NumberOfPasswordPrompts {prompts}"))
        .args()
}

#[test]
fn password_from_askpass_logs_in_with_openssh_prompt() {
    let Some(sshd) = password_sshd() else { return };
    let Some(user) = TestUser::create("c0rrect horse") else {
        return;
    };
    let home = TempHome::new();
    let args = password_client(&sshd, &home, user.name(), 3);
    let Some([theirs, ours]) = run_both(&home, &args, "echo \"in as $(id -un)\"", || {
        answers(&[("password", user.password())])
    }) else {
        return;
    };
    // The reference first: one prompt in OpenSSH's words, and the login worked.
    let prompt = format!("{}@127.0.0.1's password: ", user.name());
    assert_eq!(theirs.prompts, [prompt], "{}", theirs.out);
    theirs.out.assert_success();
    assert_eq!(theirs.out.stdout_str(), format!("in as {}\n", user.name()));
    assert_same(&theirs, &ours);
    sshd.wait_for_log(&format!("Accepted password for {} from", user.name()));
}

/// What the password-changing server saw of one client.
#[derive(Debug, Default)]
struct Change {
    first: String,
    old: String,
    new: String,
    command: String,
}

/// A server that makes every client change its password (OpenSSH's sshd never asks:
/// it leaves expiry to PAM, so ours is built here from the protocol crate): `none`
/// fails with "password"; a password gets SSH_MSG_USERAUTH_PASSWD_CHANGEREQ; a change
/// succeeds; the session's command then gets "changed\n" and exit status 0. Serves
/// `clients` connections one after the other on a thread of its own.
fn password_changing_server(clients: usize) -> (u16, thread::JoinHandle<Vec<Change>>) {
    password_changing_server_saying(clients, "", "Your password has expired.")
}

/// [`password_changing_server`] that sends `banner` (unless empty) before its first
/// reply and gives `reason` with its change request.
fn password_changing_server_saying(
    clients: usize,
    banner: &'static str,
    reason: &'static str,
) -> (u16, thread::JoinHandle<Vec<Change>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = ssh_key::PrivateKey::read_openssh_file(Key::Ed25519.private_path()).unwrap();
    let server = thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut seen = Vec::new();
            for _ in 0..clients {
                let accept = tokio::time::timeout(LIMIT, listener.accept());
                let (sock, _) = accept.await.expect("no client came").unwrap();
                let one = serve_password_change(sock, key.clone(), banner, reason);
                let one = tokio::time::timeout(LIMIT, one);
                seen.push(one.await.expect("the client stalled"));
            }
            seen
        })
    });
    (port, server)
}

async fn serve_password_change(
    sock: tokio::net::TcpStream,
    key: ssh_key::PrivateKey,
    banner: &str,
    reason: &str,
) -> Change {
    use oxssh_proto::auth::{self, Method};
    use oxssh_proto::connection::{ChannelEvent, Connection};
    use oxssh_proto::transport::{Config, Role, Transport};
    use oxssh_proto::wire::{Put, Reader};
    let t = Transport::new(Role::Server, Config::new("client"), vec![key]).unwrap();
    let mut conn = oxssh_net::Conn::new(sock, t);
    let mut nov = oxssh_net::no_host_keys;
    conn.handshake(&mut nov).await.unwrap();
    let p = conn.recv(&mut nov).await.unwrap();
    assert_eq!(auth::parse_service(&p).unwrap(), "ssh-userauth");
    conn.send(&auth::service_accept("ssh-userauth"))
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut c = Change::default();
    if !banner.is_empty() {
        conn.send(&auth::banner(banner)).await.unwrap();
    }
    loop {
        let p = conn.recv(&mut nov).await.unwrap();
        match auth::parse_request(&p).unwrap().method {
            Method::Password {
                password,
                new_password: None,
            } => {
                c.first = text(&password);
                let m = auth::passwd_changereq(reason);
                conn.send(&m).await.unwrap();
            }
            Method::Password {
                password,
                new_password: Some(new),
            } => {
                (c.old, c.new) = (text(&password), text(&new));
                conn.send(&auth::success()).await.unwrap();
                break;
            }
            _ => conn
                .send(&auth::failure(&["password"], false))
                .await
                .unwrap(),
        }
    }
    let mut chans = Connection::new();
    loop {
        // A client may send its DISCONNECT without closing the channel first
        // (OpenSSH's does once the session's channel is closed).
        let Ok(p) = conn.recv(&mut nov).await else {
            assert!(
                !c.command.is_empty(),
                "the client left before its command ran"
            );
            return c;
        };
        chans.handle(&mut conn.t, &p).unwrap();
        while let Some(ev) = chans.poll_event() {
            match ev {
                ChannelEvent::OpenRequest { id, .. } => chans.accept(&mut conn.t, id).unwrap(),
                ChannelEvent::Request {
                    id,
                    name,
                    want_reply,
                    data,
                } if name == "exec" => {
                    c.command = text(Reader::new(&data).string().unwrap());
                    if want_reply {
                        chans.reply(&mut conn.t, id, true).unwrap();
                    }
                    chans
                        .send_data(&mut conn.t, id, None, b"changed\n")
                        .unwrap();
                    let mut status = Vec::new();
                    status.put_u32(0);
                    chans
                        .request(&mut conn.t, id, "exit-status", false, &status)
                        .unwrap();
                    chans.send_eof(&mut conn.t, id).unwrap();
                    chans.close(&mut conn.t, id).unwrap();
                }
                ChannelEvent::Request {
                    id,
                    want_reply: true,
                    ..
                } => chans.reply(&mut conn.t, id, false).unwrap(),
                ChannelEvent::Closed { .. } => {
                    let _ = conn.flush().await;
                    return c;
                }
                _ => {}
            }
        }
        conn.flush().await.unwrap();
    }
}

/// What the user types at a password change: the old password, then the new one.
fn change_answers() -> Vec<(String, String)> {
    answers(&[
        ("old password", "0ld-pw"),
        ("new password", "n3w-pw"),
        ("password", "0ld-pw"),
    ])
}

/// A client home trusting the fake server's key, and ssh's arguments for a password
/// login to it.
fn password_change_client(port: u16) -> (TempHome, Vec<OsString>) {
    let home = TempHome::new();

    let known = home.path().join("known_hosts");
    let public = fs::read_to_string(Key::Ed25519.public_path()).unwrap();
    let blob: Vec<&str> = public.split_whitespace().take(2).collect();
    fs::write(&known, format!("[127.0.0.1]:{port} {}\n", blob.join(" "))).unwrap();
    let args: Vec<OsString> = [
        "-F",
        "/dev/null",
        "-p",
        &port.to_string(),
        "-o",
        &format!("UserKnownHostsFile {}", known.display()),
        "-o",
        "StrictHostKeyChecking yes",
        "-o",
        "PreferredAuthentications password",
        "-o",
        "PubkeyAuthentication no",
        "-o",
        "BatchMode no",
        "u@127.0.0.1",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    (home, args)
}

/// A server's banner and its reason for a password change may hold terminal escape
/// sequences: both clients print them made harmless (control characters as octal), byte
/// for byte alike.
#[test]
fn server_text_is_printed_with_control_characters_escaped_as_openssh() {
    let (port, server) = password_changing_server_saying(
        2,
        "Welcome\x1b[2J\x1b]0;pwned\x07 to\tthe host\r\n",
        "Expired\x1b[31m\x7f now.",
    );
    let (home, args) = password_change_client(port);
    let Some([theirs, ours]) = run_both(&home, &args, "true", change_answers) else {
        return;
    };
    theirs.out.assert_success();
    let err = theirs.out.stderr_str();
    assert!(
        err.contains("Welcome\\033[2J\\033]0;pwned\\007 to\tthe host"),
        "{err}"
    );
    assert!(err.contains("Expired\\033[31m\\177 now."), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
    assert_same(&theirs, &ours);
    server.join().unwrap();
}

#[test]
fn a_password_change_request_asks_old_and_new_passwords_as_openssh() {
    let (port, server) = password_changing_server(2);
    let (home, args) = password_change_client(port);
    let Some([theirs, ours]) = run_both(&home, &args, "echo hi", change_answers) else {
        return;
    };
    // The reference first: the server's reason on stderr, the old password asked
    // again, the new one twice, and the session ran.
    assert_eq!(
        theirs.prompts,
        [
            "u@127.0.0.1's password: ",
            "Enter u@127.0.0.1's old password: ",
            "Enter u@127.0.0.1's new password: ",
            "Retype u@127.0.0.1's new password: ",
        ],
        "{}",
        theirs.out
    );
    theirs.out.assert_success();
    assert!(
        theirs
            .out
            .stderr_str()
            .contains("Your password has expired.")
    );
    assert_eq!(theirs.out.stdout_str(), "changed\n");
    assert_same(&theirs, &ours);
    for c in server.join().unwrap() {
        assert_eq!(
            (&*c.first, &*c.old, &*c.new, &*c.command),
            ("0ld-pw", "0ld-pw", "n3w-pw", "echo hi"),
            "{c:?}"
        );
    }
}

#[test]
fn wrong_password_is_asked_number_of_password_prompts_times_then_denied() {
    let Some(sshd) = password_sshd() else { return };
    let Some(user) = TestUser::create("right one") else {
        return;
    };
    let home = TempHome::new();
    let args = password_client(&sshd, &home, user.name(), 2);
    let Some([theirs, ours]) = run_both(&home, &args, "true", || {
        answers(&[("password", "wrong one")])
    }) else {
        return;
    };
    let prompt = format!("{}@127.0.0.1's password: ", user.name());
    assert_eq!(theirs.prompts, [prompt.clone(), prompt], "{}", theirs.out);
    theirs.out.assert_code(255);
    let stderr = theirs.out.stderr_str();
    let denied = format!("{}@127.0.0.1: Permission denied (", user.name());
    assert!(
        stderr.starts_with(&format!("Permission denied, please try again.\r\n{denied}")),
        "{}",
        theirs.out
    );
    assert!(stderr.ends_with(").\r\n"), "{}", theirs.out);
    assert_same(&theirs, &ours);
    assert_eq!(ours.out.code(), Some(255));
}

#[test]
fn password_without_terminal_or_askpass_sends_empty_passwords_as_openssh() {
    // OpenSSH's read_passphrase gives "" when it has neither: ssh still sends it, once
    // per NumberOfPasswordPrompts, saying "please try again" between.
    let Some(sshd) = password_sshd() else { return };
    let Some(user) = TestUser::create("unguessable") else {
        return;
    };
    let home = TempHome::new();
    let args = password_client(&sshd, &home, user.name(), 3);
    let Some(theirs_bin) = require_openssh("ssh") else {
        return;
    };
    let [theirs, ours] =
        [theirs_bin, ours("ssh")].map(|bin| run_detached(&bin, &home, &args, "true", clean_env()));
    theirs.assert_code(255);
    assert_eq!(
        theirs
            .stderr_str()
            .matches("Permission denied, please try again.\r\n")
            .count(),
        2,
        "{theirs}"
    );
    assert_eq!(ours.status, theirs.status, "{ours}\n{theirs}");
    assert_eq!(ours.stderr_str(), theirs.stderr_str(), "{ours}\n{theirs}");
}

/// OpenSSH's sshd as a PAM service asking for the user's password (pam_unix), then
/// a one-time code (pam_oath). Fields drop in order: the server before its service.
struct PamServer {
    sshd: Sshd,
    _service: PamService,
    oath: Oath,
}

fn pam_server(user: &TestUser, extra: &[&str]) -> Option<PamServer> {
    require_openssh("sshd")?;
    require_openssh("ssh")?;
    let oath = Oath::new(user.name(), OathMode::Hotp)?;
    let service = PamService::install(&[
        "auth required pam_unix.so".to_owned(),
        oath.pam_line(),
        "account required pam_unix.so".to_owned(),
        "session required pam_unix.so".to_owned(),
    ])?;
    let mut builder = service.openssh_sshd()?;
    for line in extra {
        builder = builder.config(*line);
    }
    Some(PamServer {
        sshd: builder.start(),
        _service: service,
        oath,
    })
}

/// The server side of the two-round keyboard-interactive tests.
const KBD_ONLY: &[&str] = &[
    "KbdInteractiveAuthentication yes",
    "AuthenticationMethods keyboard-interactive",
];

fn kbd_client(sshd: &Sshd, home: &TempHome, user: &str) -> Vec<OsString> {
    sshd.client(home)
        .no_identity()
        .option(format!("User {user}"))
        .option("BatchMode no")
        .option("PreferredAuthentications keyboard-interactive")
        .option("PubkeyAuthentication no")
        .args()
}

/// OpenSSH's keyboard-interactive prompts: `(<user>@<host>) ` before PAM's text.
fn kbd_prompts(user: &TestUser, oath: &Oath) -> [String; 2] {
    let tag = format!("({}@127.0.0.1) ", user.name());
    [
        format!("{tag}Password: "),
        format!("{tag}{}", oath.prompt()),
    ]
}

#[test]
fn keyboard_interactive_password_then_one_time_code_through_pam() {
    let Some(user) = TestUser::create("pam pass") else {
        return;
    };
    let Some(server) = pam_server(&user, KBD_ONLY) else {
        return;
    };
    let home = TempHome::new();
    let args = kbd_client(&server.sshd, &home, user.name());
    let oath = &server.oath;
    let first_code = oath.next_code();
    let Some([theirs, ours]) = run_both(&home, &args, "echo \"in as $(id -un)\"", || {
        // pam_oath's prompt also says "password": match it first.
        let code = oath.next_code();
        answers(&[("OATH", code.as_str()), ("Password:", user.password())])
    }) else {
        return;
    };
    assert_eq!(theirs.prompts, kbd_prompts(&user, oath), "{}", theirs.out);
    theirs.out.assert_success();
    assert_eq!(theirs.out.stdout_str(), format!("in as {}\n", user.name()));
    assert_same(&theirs, &ours);
    server.sshd.wait_for_log(&format!(
        "Accepted keyboard-interactive/pam for {} from",
        user.name()
    ));
    // Each login used up one code: both clients sent the right one.
    assert_ne!(oath.next_code(), first_code);
    let used = fs::read_to_string(oath.usersfile()).unwrap();
    assert_eq!(used.split_whitespace().nth(4), Some("1"), "{used}");
}

#[test]
fn keyboard_interactive_wrong_one_time_code_is_denied() {
    let Some(user) = TestUser::create("pam pass") else {
        return;
    };
    let Some(server) = pam_server(&user, KBD_ONLY) else {
        return;
    };
    let home = TempHome::new();
    let args = kbd_client(&server.sshd, &home, user.name());
    let oath = &server.oath;
    let wrong = oath.wrong_code();
    let Some([theirs, ours]) = run_both(&home, &args, "true", || {
        answers(&[("OATH", wrong.as_str()), ("Password:", user.password())])
    }) else {
        return;
    };
    // OpenSSH tries keyboard-interactive NumberOfPasswordPrompts (3) times.
    let round = kbd_prompts(&user, oath);
    assert_eq!(
        theirs.prompts,
        round.iter().cycle().take(6).cloned().collect::<Vec<_>>(),
        "{}",
        theirs.out
    );
    theirs.out.assert_code(255);
    assert!(
        theirs.out.stderr_str().ends_with(&format!(
            "{}@127.0.0.1: Permission denied (keyboard-interactive).\r\n",
            user.name()
        )),
        "{}",
        theirs.out
    );
    assert_same(&theirs, &ours);
    server.sshd.wait_for_log(&format!(
        "Failed keyboard-interactive/pam for {} from",
        user.name()
    ));
    // No code was used up: the first one is still the next.
    assert_eq!(
        fs::read_to_string(oath.usersfile())
            .unwrap()
            .split_whitespace()
            .count(),
        4
    );
}

#[test]
fn batch_mode_never_asks_and_fails_as_openssh() {
    let Some(user) = TestUser::create("batch") else {
        return;
    };
    // Password and keyboard-interactive both on offer, through PAM.
    let Some(server) = pam_server(
        &user,
        &[
            "KbdInteractiveAuthentication yes",
            "PasswordAuthentication yes",
        ],
    ) else {
        return;
    };
    let sshd = &server.sshd;
    let any = || answers(&[("", "anything")]);
    // The kit's client config says BatchMode yes.
    let home = TempHome::new();
    let args = sshd
        .client(&home)
        .no_identity()
        .option(format!("User {}", user.name()))
        .args();
    let Some([theirs, ours]) = run_both(&home, &args, "true", any) else {
        return;
    };
    assert_eq!(theirs.prompts, Vec::<String>::new(), "{}", theirs.out);
    theirs.out.assert_code(255);
    assert_eq!(
        theirs.out.stderr_str(),
        format!(
            "{}@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n",
            user.name()
        )
    );
    assert_same(&theirs, &ours);

    // An unknown host key with StrictHostKeyChecking ask: no question either.
    let home = TempHome::new();
    let args = sshd
        .client(&home)
        .trust_host_key(false)
        .strict_host_key_checking("ask")
        .args();
    let Some([theirs, ours]) = run_both(&home, &args, "true", any) else {
        return;
    };
    assert_eq!(theirs.prompts, Vec::<String>::new(), "{}", theirs.out);
    theirs.out.assert_code(255);
    assert!(
        theirs
            .out
            .stderr_str()
            .ends_with("Host key verification failed.\r\n"),
        "{}",
        theirs.out
    );
    assert_same(&theirs, &ours);
    assert!(!home.known_hosts_path().exists());
}

#[test]
fn encrypted_identity_passphrase_from_askpass() {
    let Some(_) = require_openssh("sshd") else {
        return;
    };
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519Encrypted);
    let home = TempHome::new();
    let args = sshd
        .client(&home)
        .identity(Key::Ed25519Encrypted)
        .option("BatchMode no")
        .args();
    let Some([theirs, ours]) = run_both(&home, &args, "echo in", || {
        answers(&[("Enter passphrase for key", Key::PASSPHRASE)])
    }) else {
        return;
    };
    let key = home.ssh_dir().join("id_ed25519");
    assert_eq!(
        theirs.prompts,
        [format!("Enter passphrase for key '{}': ", key.display())],
        "{}",
        theirs.out
    );
    theirs.out.assert_success();
    assert_eq!(theirs.out.stdout_str(), "in\n");
    assert_same(&theirs, &ours);
}

/// A client on a pseudo-terminal of its own (its controlling terminal, and its stdin,
/// stdout and stderr), whose output we read and whose keyboard we type on.
struct PtyClient {
    child: Child,
    master: File,
    transcript: Vec<u8>,
    code: Option<i32>,
}

impl PtyClient {
    fn spawn(bin: &Path, args: &[OsString], env: &[(OsString, Option<OsString>)]) -> PtyClient {
        let pty = oxssh_sys::pty::open().expect("allocating a pty");
        let mut cmd = Command::new(bin);
        cmd.args(args);
        for (key, value) in env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave));
        oxssh_sys::pty::controlling_tty(&mut cmd);
        oxssh_sys::kill_on_parent_death(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // Our copies of the slave go with `cmd`: the master sees the end (EIO) once
        // the client's are closed.
        drop(cmd);
        PtyClient {
            child,
            master: pty.master,
            transcript: Vec::new(),
            code: None,
        }
    }

    /// Read what the terminal has now (the master is non-blocking); false at its end.
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match (&self.master).read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => self.transcript.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EIO: every slave descriptor is closed.
                Err(_) => return false,
            }
        }
    }

    /// Read until `done(transcript)` holds (true), or the terminal ends or the time
    /// limit passes (false).
    fn wait_for(&mut self, done: impl Fn(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + LIMIT;
        loop {
            let open = self.pump();
            if done(&self.transcript) {
                return true;
            }
            if !open || Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn type_line(&mut self, line: &str) {
        (&self.master)
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// Read to the end of the terminal, then reap the client (killed at the limit).
    fn finish(&mut self) {
        self.wait_for(|_| false);
        let deadline = Instant::now() + LIMIT;
        loop {
            match self.child.try_wait().unwrap() {
                Some(status) => {
                    self.code = status.code();
                    break;
                }
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        }
        self.pump();
    }
}

impl Drop for PtyClient {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How a first connection went on a terminal.
struct Conversation {
    transcript: String,
    code: Option<i32>,
    known_hosts: Option<String>,
}

impl std::fmt::Display for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exit: {:?}", self.code)?;
        writeln!(f, "terminal: {:?}", self.transcript)?;
        write!(f, "known_hosts: {:?}", self.known_hosts)
    }
}

const QUESTION: &str = "Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
const AGAIN: &str = "Please type 'yes', 'no' or the fingerprint: ";

/// Connect with `bin` from a fresh home that knows no host key, with
/// `StrictHostKeyChecking ask`, on a terminal; answer each question in turn with the
/// next of `answers` (typed only once the question is on the screen: OpenSSH flushes
/// what was typed ahead).
///
/// `-n`: the question is asked on /dev/tty whatever stdin is, and our ssh does not yet
/// exit before its stdin ends (see
/// `remote_command_exit_ends_ssh_while_the_terminal_stays_open`).
fn first_connection(bin: &Path, sshd: &Sshd, answers: &[&str]) -> Conversation {
    let home = TempHome::new();
    let mut args: Vec<OsString> = vec!["-n".into()];
    args.extend(
        sshd.client(&home)
            .trust_host_key(false)
            .strict_host_key_checking("ask")
            .option("BatchMode no")
            .args(),
    );
    args.push("echo hello".into());
    let mut env = home.env();
    env.extend(clean_env());
    let mut client = PtyClient::spawn(bin, &args, &env);
    for (n, answer) in answers.iter().enumerate() {
        let asked = client.wait_for(|t| {
            let t = String::from_utf8_lossy(t);
            t.matches(QUESTION).count() + t.matches(AGAIN).count() > n
        });
        if !asked {
            break;
        }
        client.type_line(answer);
    }
    client.finish();
    Conversation {
        transcript: String::from_utf8_lossy(&client.transcript).into_owned(),
        code: client.code,
        known_hosts: fs::read_to_string(home.known_hosts_path()).ok(),
    }
}

/// The same first connection with OpenSSH's ssh and ours; ours must match it byte for
/// byte (the temp homes differ, but nothing printed names them).
fn first_connection_both(sshd: &Sshd, answers: &[&str]) -> Option<[Conversation; 2]> {
    let theirs = require_openssh("ssh")?;
    let theirs = first_connection(&theirs, sshd, answers);
    let ours = first_connection(&ours("ssh"), sshd, answers);
    assert_eq!(
        ours.transcript, theirs.transcript,
        "answers {answers:?}: the terminals differ\n--- OpenSSH ---\n{theirs}\n--- ours ---\n{ours}"
    );
    assert_eq!(
        (ours.code, &ours.known_hosts),
        (theirs.code, &theirs.known_hosts),
        "answers {answers:?}\n--- OpenSSH ---\n{theirs}\n--- ours ---\n{ours}"
    );
    Some([theirs, ours])
}

fn host_key_sshd() -> Option<Sshd> {
    require_openssh("sshd")?;
    let sshd = Sshd::openssh().start();
    sshd.authorize(Key::Ed25519);
    Some(sshd)
}

/// The question as OpenSSH 9.2 words it for a server on a non-default port, as the
/// terminal shows it (its ONLCR turns each LF into CR LF). Log lines such as "Host key
/// verification failed." end in CR LF already, so the terminal shows CR CR LF.
fn question(sshd: &Sshd) -> String {
    let name = sshd.known_hosts_name();
    let key = &sshd.host_keys()[0];
    format!(
        "The authenticity of host '{name} ({name})' can't be established.\r\n\
         ED25519 key fingerprint is {}.\r\n\
         This key is not known by any other names.\r\n{QUESTION}",
        key.fingerprint
    )
}

#[test]
fn host_key_question_answered_yes_adds_the_key() {
    let Some(sshd) = host_key_sshd() else { return };
    let Some([theirs, _]) = first_connection_both(&sshd, &["yes"]) else {
        return;
    };
    let name = sshd.known_hosts_name();
    assert_eq!(
        theirs.transcript,
        format!(
            "\r{}yes\r\nWarning: Permanently added '{name}' (ED25519) to the list of known \
             hosts.\r\r\nhello\r\n",
            question(&sshd)
        ),
        "{theirs}"
    );
    assert_eq!(theirs.code, Some(0));
    assert_eq!(
        theirs.known_hosts,
        Some(sshd.known_hosts_lines().join("\n") + "\n")
    );
}

#[test]
fn host_key_question_answered_no_or_nothing_fails() {
    let Some(sshd) = host_key_sshd() else { return };
    for answer in ["no", "", "  NO  "] {
        let Some([theirs, _]) = first_connection_both(&sshd, &[answer]) else {
            return;
        };
        assert_eq!(
            theirs.transcript,
            format!(
                "\r{}{answer}\r\nHost key verification failed.\r\r\n",
                question(&sshd)
            ),
            "{theirs}"
        );
        assert_eq!(theirs.code, Some(255));
        assert_eq!(theirs.known_hosts, None);
    }
}

#[test]
fn host_key_question_accepts_the_fingerprint_and_asks_again_otherwise() {
    let Some(sshd) = host_key_sshd() else { return };
    let fingerprint = sshd.host_keys()[0].fingerprint.clone();
    let lines = Some(sshd.known_hosts_lines().join("\n") + "\n");
    let Some([theirs, _]) = first_connection_both(&sshd, &[&fingerprint]) else {
        return;
    };
    assert_eq!(theirs.code, Some(0), "{theirs}");
    assert_eq!(theirs.known_hosts, lines);

    // Anything else is asked again, as often as it takes.
    let Some([theirs, _]) = first_connection_both(&sshd, &["maybe", "sure", &fingerprint]) else {
        return;
    };
    assert_eq!(theirs.code, Some(0), "{theirs}");
    assert_eq!(theirs.transcript.matches(AGAIN).count(), 2, "{theirs}");
    assert!(
        theirs.transcript.contains(&format!(
            "maybe\r\n\r{AGAIN}sure\r\n\r{AGAIN}{fingerprint}\r\n"
        )),
        "{theirs}"
    );
    assert_eq!(theirs.known_hosts, lines);
}

#[test]
fn host_key_question_goes_to_a_forced_askpass() {
    let Some(sshd) = host_key_sshd() else { return };
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    // Each client from a home of its own: the first one to say yes would teach the
    // other the key.
    let [theirs, ours] = [theirs, ours("ssh")].map(|bin| {
        let home = TempHome::new();
        let args = sshd
            .client(&home)
            .trust_host_key(false)
            .strict_host_key_checking("ask")
            .option("BatchMode no")
            .args();
        let askpass = Askpass::new(&answers(&[("continue connecting", "yes")]));
        let out = run_detached(&bin, &home, &args, "echo hello", askpass.env());
        let known_hosts = fs::read_to_string(home.known_hosts_path()).ok();
        (
            Run {
                out,
                prompts: askpass.prompts(),
            },
            known_hosts,
        )
    });
    // The whole question is the prompt, with plain newlines (no terminal).
    assert_eq!(
        theirs.0.prompts,
        [question(&sshd).replace("\r\n", "\n")],
        "{}",
        theirs.0.out
    );
    theirs.0.out.assert_success();
    assert_eq!(theirs.0.out.stdout_str(), "hello\n");
    assert_same(&theirs.0, &ours.0);
    let lines = sshd.known_hosts_lines().join("\n") + "\n";
    assert_eq!(theirs.1.as_deref(), Some(lines.as_str()));
    assert_eq!(ours.1.as_deref(), Some(lines.as_str()));
}

#[test]
fn remote_command_exit_ends_ssh_while_the_terminal_stays_open() {
    let Some(sshd) = host_key_sshd() else { return };
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    let [theirs, ours] = [theirs, ours("ssh")].map(|bin| {
        let home = TempHome::new();
        let mut args = sshd.client(&home).args();
        args.push("echo hello".into());
        let mut env = home.env();
        env.extend(clean_env());
        let mut client = PtyClient::spawn(&bin, &args, &env);
        client.finish();
        (
            String::from_utf8_lossy(&client.transcript).into_owned(),
            client.code,
        )
    });
    assert_eq!(theirs, ("hello\r\n".to_owned(), Some(0)));
    assert_eq!(ours, theirs);
}
