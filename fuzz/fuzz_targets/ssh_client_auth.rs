//! Feeds ssh's user-authentication loop (`oxssh_ssh::client::authenticate`, the
//! client's auth state machine in `bins/ssh`) the messages of a hostile server: an
//! in-memory client and server first complete a real curve25519-sha256 handshake
//! (chacha20-poly1305); then every u16-length-framed chunk of the input is sent by the
//! server as one encrypted payload, whatever the client asked — SERVICE_ACCEPT,
//! USERAUTH_FAILURE with any method list and partial success, PK_OK, INFO_REQUEST,
//! PASSWD_CHANGEREQ, BANNER, SUCCESS, anything else — until the input ends and the
//! server hangs up. The client offers publickey (the fixture Ed25519 key, so PK_OK
//! leads to a real signature), keyboard-interactive and password; with no terminal
//! (the target leaves its controlling terminal once) every prompt reads as empty.
#![no_main]

use std::sync::{Once, OnceLock};

use libfuzzer_sys::fuzz_target;
use oxssh_config::ClientConfig;

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/keys/id_ed25519"
);

fn options() -> ClientConfig {
    let text = format!(
        "IdentityFile {KEY}\nIdentitiesOnly yes\nIdentityAgent none\nBatchMode no\n\
         PasswordAuthentication yes\nKbdInteractiveAuthentication yes\n\
         NumberOfPasswordPrompts 3\nLogLevel QUIET\n"
    );
    oxssh_fuzz::ssh_options(&text)
}

fuzz_target!(|data: &[u8]| {
    static DETACH: Once = Once::new();
    DETACH.call_once(|| {
        // No controlling terminal: prompts must not wait for a keyboard. (Fails
        // harmlessly when already a session leader.)
        // SAFETY: setsid has no memory effects.
        unsafe { libc::setsid() };
        // SAFETY: set before any other thread of this process reads the environment.
        unsafe {
            std::env::remove_var("SSH_AUTH_SOCK");
            std::env::remove_var("DISPLAY");
            std::env::remove_var("WAYLAND_DISPLAY");
            std::env::set_var("SSH_ASKPASS_REQUIRE", "never");
        }
    });
    static OPTIONS: OnceLock<ClientConfig> = OnceLock::new();
    let o = OPTIONS.get_or_init(options).clone();
    oxssh_fuzz::block_on(async {
        let Some((mut client, server)) = oxssh_fuzz::handshaked_pair().await else {
            return;
        };
        let target = oxssh_ssh::client::Target {
            host: "example.com".into(),
            port: 22,
            user: "fuzz".into(),
            remote: "192.0.2.1 port 22".into(),
        };
        let hostile = oxssh_fuzz::send_chunks(server, data);
        let victim = async move {
            let r = oxssh_ssh::client::authenticate(&mut client, &o, &target, None).await;
            drop(client);
            r
        };
        let _ = tokio::join!(hostile, victim);
    });
});
