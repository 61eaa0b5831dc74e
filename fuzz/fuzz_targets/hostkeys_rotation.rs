//! Feeds both sides of OpenSSH's host key rotation (`hostkeys-00@openssh.com` and
//! `hostkeys-prove-00@openssh.com`, PROTOCOL §2.5), which live in the binaries:
//!
//! - ssh's `hostkeys::Updater` (UpdateHostKeys yes, against a scratch known_hosts that
//!   holds the fixture Ed25519 key): `on_hostkeys` with the first chunk (the server's
//!   announcement), then `on_prove_reply` with the second (the server's signatures),
//!   which, when they verify, rewrites that known_hosts file;
//! - sshd's `prove` (compiled in from `bins/sshd/src/conn/hostkeys.rs`) with the first
//!   chunk as a client's request, for the fixture host keys, and `announcement` with
//!   the rest of the input as the client's version string.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oxssh_config::ClientConfig;
use oxssh_fuzz::Input;
use oxssh_proto::hostkey::SigAlg;

#[path = "../../bins/sshd/src/conn/hostkeys.rs"]
#[allow(dead_code)]
mod sshd_hostkeys;

const SESSION_ID: [u8; 32] = [7; 32];

fn known_hosts() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("oxssh-fuzz-known-hosts-{}", std::process::id()))
}

fn options(hash: bool) -> ClientConfig {
    let text = format!(
        "UpdateHostKeys yes\nUserKnownHostsFile {}\nGlobalKnownHostsFile none\n\
         HashKnownHosts {}\nLogLevel QUIET\n",
        known_hosts().display(),
        if hash { "yes" } else { "no" }
    );
    oxssh_fuzz::ssh_options(&text)
}

fuzz_target!(|data: &[u8]| {
    static PLAIN: OnceLock<ClientConfig> = OnceLock::new();
    static HASHED: OnceLock<ClientConfig> = OnceLock::new();
    let mut input = Input::new(data);
    let flags = input.u8();
    let announced = input.chunk();
    let proofs = input.chunk();
    let version = input.rest();
    let kex_alg = [
        SigAlg::Ed25519,
        SigAlg::EcdsaP256,
        SigAlg::RsaSha512,
        SigAlg::Ed25519Cert,
    ][usize::from(flags >> 1) % 4];

    // ssh's side.
    let o = if flags & 1 == 1 {
        HASHED.get_or_init(|| options(true))
    } else {
        PLAIN.get_or_init(|| options(false))
    };
    let line = format!(
        "example.com {}",
        oxssh_fuzz::public_keys()[0]
            .to_openssh()
            .unwrap_or_default()
    );
    if std::fs::write(known_hosts(), line).is_err() {
        return;
    }
    let t = oxssh_ssh::client::Target {
        host: "example.com".into(),
        port: 22,
        user: "fuzz".into(),
        remote: "192.0.2.1 port 22".into(),
    };
    let mut updater = oxssh_ssh::hostkeys::Updater::new(o, &t);
    if let Ok(Some(_request)) = updater.on_hostkeys(announced, Some(kex_alg)) {
        updater.on_prove_reply(flags & 0x40 == 0, proofs, &SESSION_ID, Some(kex_alg));
    }

    // sshd's side.
    let keys = oxssh_fuzz::host_keys();
    let _ = sshd_hostkeys::prove(&keys, announced, &SESSION_ID, Some(kex_alg));
    let _ = sshd_hostkeys::announcement(&keys, std::str::from_utf8(version).ok());
});
