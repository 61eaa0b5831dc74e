//! Global and channel requests as a client sees them (RFC 4254 §4, §5.4, §7; OpenSSH
//! PROTOCOL §2), from our sshd and from OpenSSH's as the reference, through a client
//! built from our protocol crate (logged in by ssh's own authentication code):
//!
//! - a request nobody knows gets a failure when it wants a reply and nothing when it
//!   does not, and `keepalive@openssh.com` is answered as such an unknown request;
//! - `tcpip-forward` to port 0 answers with the port it listens on, whose connections
//!   arrive as `forwarded-tcpip` channels, and `cancel-tcpip-forward` stops it;
//! - after `no-more-sessions@openssh.com`, opening a session ends the connection;
//! - an unknown channel request gets CHANNEL_FAILURE when it wants a reply.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use oxssh_config::{BasicContext, ClientConfig, ClientOptions, LocalUser, MemFs, Profile};
use oxssh_net::Conn;
use oxssh_proto::connection::{ChannelEvent, ChannelId, Connection};
use oxssh_proto::forward::parse_tcpip_forward_reply;
use oxssh_proto::transport::{Config, Event, Role, Transport};
use oxssh_proto::wire::Put;
use oxssh_testkit::{Key, Sshd, SshdBuilder, TempHome, current_user, require_openssh};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(20);

struct Client {
    conn: Conn<TcpStream>,
    chans: Connection,
    _home: TempHome,
}

fn options(home: &TempHome) -> ClientConfig {
    let key = home.install_key(Key::Ed25519);
    let text = format!(
        "User {}\nIdentityFile {}\nIdentitiesOnly yes\nIdentityAgent none\nBatchMode yes\n",
        current_user(),
        key.display()
    );
    let mut fs = MemFs::new();
    fs.add("/test/ssh_config", text.as_bytes());
    let ctx = BasicContext::new(
        LocalUser {
            name: current_user(),
            uid: 0,
            home: home.path().display().to_string(),
        },
        "testhost",
    );
    let opts = ClientOptions {
        config_file: Some("/test/ssh_config".into()),
        ..ClientOptions::new("127.0.0.1")
    };
    ClientConfig::load_with_profile(&opts, &ctx, &fs, &Profile::openssh_9_2_debian()).unwrap()
}

impl Client {
    async fn login(sshd: &Sshd) -> Client {
        let home = TempHome::new();
        let o = options(&home);
        let sock = TcpStream::connect(("127.0.0.1", sshd.port()))
            .await
            .unwrap();
        let t = Transport::new(Role::Client, Config::new("server"), Vec::new()).unwrap();
        let mut conn = Conn::new(sock, t);
        conn.handshake(&mut |_: &[u8], _| true).await.unwrap();
        let target = oxssh_ssh::client::Target {
            host: "127.0.0.1".into(),
            port: sshd.port(),
            user: current_user(),
            remote: format!("127.0.0.1 port {}", sshd.port()),
        };
        let r = oxssh_ssh::client::authenticate(&mut conn, &o, &target, None).await;
        assert!(r.is_ok(), "login failed\n{}", sshd.log());
        Client {
            conn,
            chans: Connection::new(),
            _home: home,
        }
    }

    /// The next channel-layer event, or None when the server ended the connection.
    async fn next(&mut self) -> Option<ChannelEvent> {
        loop {
            if let Some(ev) = self.chans.poll_event() {
                return Some(ev);
            }
            self.conn.flush().await.ok()?;
            let Ok(ev) =
                tokio::time::timeout(LIMIT, self.conn.next_event(&mut |_: &[u8], _| false)).await
            else {
                panic!("the server went quiet");
            };
            if let Event::Packet(p) = ev.ok()? {
                self.chans.handle_owned(&mut self.conn.t, p).ok()?;
            }
        }
    }

    /// The next event that is not a global request from the server (hostkeys-00) or a
    /// window adjustment.
    async fn next_answer(&mut self) -> Option<ChannelEvent> {
        loop {
            match self.next().await? {
                ChannelEvent::GlobalRequest { .. } | ChannelEvent::WindowAdjusted { .. } => {}
                ev => return Some(ev),
            }
        }
    }

    fn global(&mut self, name: &str, want_reply: bool, data: &[u8]) {
        self.chans
            .global_request(&mut self.conn.t, name, want_reply, data)
            .unwrap();
    }

    async fn session(&mut self) -> ChannelId {
        let id = self.chans.open(&mut self.conn.t, "session", &[]).unwrap();
        match self.next_answer().await {
            Some(ChannelEvent::Opened { id: got }) if got == id => id,
            ev => panic!("session open: {ev:?}"),
        }
    }
}

fn forward_body(port: u32) -> Vec<u8> {
    let mut d = Vec::new();
    d.put_str("127.0.0.1");
    d.put_u32(port);
    d
}

fn servers() -> Vec<(&'static str, Sshd)> {
    let start = |b: SshdBuilder| {
        let sshd = b.config("AllowTcpForwarding yes").start();
        sshd.authorize(Key::Ed25519);
        sshd
    };
    let mut v = vec![("ours", start(Sshd::ours()))];
    if require_openssh("sshd").is_some() {
        v.push(("OpenSSH", start(Sshd::openssh())));
    }
    v
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn global_requests_are_answered_per_want_reply_and_forwards_come_and_go() {
    for (who, sshd) in servers() {
        rt().block_on(async {
            let mut c = Client::login(&sshd).await;
            // No reply to the first; a failure for the second, and only that.
            c.global("unknown-request@example.com", false, &[]);
            c.global("keepalive@openssh.com", true, &[]);
            match c.next_answer().await {
                Some(ChannelEvent::GlobalResult { success: false, .. }) => {}
                ev => panic!("{who}: keepalive: {ev:?}"),
            }
            // Port 0: the reply names the port; a connection to it becomes a
            // forwarded-tcpip channel.
            c.global("tcpip-forward", true, &forward_body(0));
            let port = match c.next_answer().await {
                Some(ChannelEvent::GlobalResult {
                    success: true,
                    data,
                }) => parse_tcpip_forward_reply(&data).unwrap(),
                ev => panic!("{who}: tcpip-forward: {ev:?}"),
            };
            assert_ne!(port, 0, "{who}");
            let knock = tokio::spawn(TcpStream::connect(("127.0.0.1", port as u16)));
            match c.next_answer().await {
                Some(ChannelEvent::OpenRequest { id, kind, .. }) => {
                    assert_eq!(kind, "forwarded-tcpip", "{who}");
                    c.chans.reject(&mut c.conn.t, id, 2, "not now").unwrap();
                }
                ev => panic!("{who}: forwarded connection: {ev:?}"),
            }
            let _ = knock.await;
            c.global("cancel-tcpip-forward", true, &forward_body(port));
            match c.next_answer().await {
                Some(ChannelEvent::GlobalResult { success: true, .. }) => {}
                ev => panic!("{who}: cancel-tcpip-forward: {ev:?}"),
            }
            // A second cancel has nothing left to cancel.
            c.global("cancel-tcpip-forward", true, &forward_body(port));
            match c.next_answer().await {
                Some(ChannelEvent::GlobalResult { success: false, .. }) => {}
                ev => panic!("{who}: second cancel: {ev:?}"),
            }
            let refused = TcpStream::connect(("127.0.0.1", port as u16)).await;
            assert!(refused.is_err(), "{who}: port {port} still listens");
        });
    }
}

#[test]
fn unknown_channel_requests_fail_when_they_want_a_reply() {
    for (who, sshd) in servers() {
        rt().block_on(async {
            let mut c = Client::login(&sshd).await;
            let id = c.session().await;
            c.chans
                .request(&mut c.conn.t, id, "no-such-request@example.com", false, &[])
                .unwrap();
            c.chans
                .request(&mut c.conn.t, id, "no-such-request@example.com", true, &[])
                .unwrap();
            match c.next_answer().await {
                Some(ChannelEvent::RequestResult { success: false, .. }) => {}
                ev => panic!("{who}: {ev:?}"),
            }
            // The session still works.
            let mut d = Vec::new();
            d.put_str("echo still here");
            c.chans
                .request(&mut c.conn.t, id, "exec", true, &d)
                .unwrap();
            match c.next_answer().await {
                Some(ChannelEvent::RequestResult { success: true, .. }) => {}
                ev => panic!("{who}: exec: {ev:?}"),
            }
        });
    }
}

#[test]
fn no_more_sessions_makes_the_next_session_open_end_the_connection() {
    for (who, sshd) in servers() {
        rt().block_on(async {
            let mut c = Client::login(&sshd).await;
            c.session().await;
            c.global("no-more-sessions@openssh.com", false, &[]);
            c.chans.open(&mut c.conn.t, "session", &[]).unwrap();
            loop {
                match c.next_answer().await {
                    None => break,
                    Some(ChannelEvent::Opened { .. }) => panic!("{who}: a session opened"),
                    Some(_) => {}
                }
            }
        });
        eprintln!("{who}: waiting for the log line");
        sshd.wait_for_log(
            "Possible attack: attempt to open a session after additional sessions disabled",
        );
    }
}
