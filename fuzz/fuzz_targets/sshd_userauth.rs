//! Feeds sshd's user-authentication state machine (`oxssh_sshd::conn::authenticate`,
//! `bins/sshd/src/conn/userauth.rs`) the messages of a hostile client: an in-memory
//! client and server first complete a real curve25519-sha256 handshake
//! (chacha20-poly1305); then every u16-length-framed chunk of the input is sent by the
//! client as one encrypted payload — SERVICE_REQUEST, USERAUTH_REQUEST for any user,
//! service and method (none, password with or without a new password, publickey
//! queries and signed requests, hostbound ones, keyboard-interactive, hostbased),
//! INFO_RESPONSE with or without a challenge, anything else — until the input ends and
//! the client hangs up.
//!
//! The server runs with a scratch configuration: UsePAM no, every method enabled,
//! root allowed, the fixture Ed25519 key authorized (so a query for it earns PK_OK and
//! a signed request reaches the verifier), a banner, StrictModes no. Accounts are the
//! machine's own (`root` exists, most names do not), looked up as sshd looks them up.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const PUB: &str = include_str!("../../tests/fixtures/keys/id_ed25519.pub");

/// The scratch directory and the server configuration read from it.
fn server_config() -> oxssh_config::ServerConfig {
    let dir = std::env::temp_dir().join(format!("oxssh-fuzz-sshd-{}", std::process::id()));
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let keys = write("authorized_keys", PUB);
    let banner = write("banner", "fuzz banner\n");
    let text = format!(
        "UsePAM no\nPermitRootLogin yes\nStrictModes no\nPasswordAuthentication yes\n\
         KbdInteractiveAuthentication yes\nHostbasedAuthentication yes\n\
         PubkeyAuthentication yes\nAuthorizedKeysFile {}\nBanner {}\nMaxAuthTries 6\n\
         LogLevel QUIET\n",
        keys.display(),
        banner.display()
    );
    let cfg = write("sshd_config", &text);
    match oxssh_sshd::config::load(Some(&cfg), Vec::new()) {
        Ok((c, _)) => c,
        Err((lines, _)) => panic!("scratch sshd_config: {lines:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    static CONFIG: OnceLock<oxssh_config::ServerConfig> = OnceLock::new();
    let base = CONFIG.get_or_init(server_config);
    oxssh_fuzz::block_on(async {
        let Some((client, mut server)) = oxssh_fuzz::handshaked_pair().await else {
            return;
        };
        let peer = oxssh_sshd::conn::Peer {
            remote: Some(([127, 0, 0, 1], 40000).into()),
            local: Some(([127, 0, 0, 1], 22).into()),
        };
        let hostile = oxssh_fuzz::send_chunks(client, data);
        let victim = async move {
            let r = oxssh_sshd::conn::authenticate(&mut server, base, &peer).await;
            drop(server);
            r.is_ok()
        };
        let _ = tokio::join!(hostile, victim);
    });
});
