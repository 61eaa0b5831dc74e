//! Helpers shared by the fuzz targets: a cursor that turns the fuzzer's bytes into a
//! script (opcodes, lengths, chunks), and the fixed keys the targets check against.
//!
//! Not a parser of anything real: a short input simply ends the script. Keys come from
//! `tests/fixtures/keys` (made by the real `ssh-keygen`, see `gen.sh` there), so every
//! run is reproducible from the input file alone.

#![forbid(unsafe_code)]

use std::sync::OnceLock;

/// Reads a fuzz input front to back; every read succeeds (missing bytes read as zero
/// or empty), so a target never has to handle "input too short".
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }

    /// A chunk framed by a big-endian u16 length (the framing the seed generator
    /// writes: `len_hi len_lo bytes…`).
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Split `data` at the first occurrence of `sep` (a way to give a target two inputs,
/// e.g. a file and a name to look up, while keeping seeds readable text).
pub fn split2<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], &'a [u8]) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => {
            let (a, b) = data.split_at(i);
            (a, b.get(sep.len()..).unwrap_or_default())
        }
        None => (data, &[]),
    }
}

const ED25519_PRIV: &str = include_str!("../../tests/fixtures/keys/id_ed25519");
const ECDSA256_PRIV: &str = include_str!("../../tests/fixtures/keys/id_ecdsa256");
const ED25519_PUB: &str = include_str!("../../tests/fixtures/keys/id_ed25519.pub");
const ECDSA256_PUB: &str = include_str!("../../tests/fixtures/keys/id_ecdsa256.pub");

/// The fixture Ed25519 key (a server's host key in the transport targets).
pub fn ed25519_private() -> ssh_key::PrivateKey {
    static K: OnceLock<ssh_key::PrivateKey> = OnceLock::new();
    K.get_or_init(|| {
        ssh_key::PrivateKey::from_openssh(ED25519_PRIV).unwrap_or_else(|e| {
            // The fixture is part of the repository: a failure here is a broken
            // checkout, not a finding.
            abort_with(&format!("fixture id_ed25519: {e}"))
        })
    })
    .clone()
}

/// A server's host keys in the transport targets: the Ed25519 and ECDSA P-256 fixtures
/// (RSA is left out: a 3072-bit signature per run would slow the fuzzer tenfold).
pub fn host_keys() -> Vec<ssh_key::PrivateKey> {
    static K: OnceLock<ssh_key::PrivateKey> = OnceLock::new();
    let ecdsa = K
        .get_or_init(|| {
            ssh_key::PrivateKey::from_openssh(ECDSA256_PRIV)
                .unwrap_or_else(|e| abort_with(&format!("fixture id_ecdsa256: {e}")))
        })
        .clone();
    vec![ed25519_private(), ecdsa]
}

/// The fixture public keys (what known_hosts / authorized_keys lines are checked
/// against).
pub fn public_keys() -> &'static [ssh_key::PublicKey] {
    static K: OnceLock<Vec<ssh_key::PublicKey>> = OnceLock::new();
    K.get_or_init(|| {
        [ED25519_PUB, ECDSA256_PUB]
            .iter()
            .filter_map(|l| ssh_key::PublicKey::from_openssh(l.trim()).ok())
            .collect()
    })
}

/// `abort` with a message on stderr (used only for broken fixtures).
fn abort_with(msg: &str) -> ! {
    eprintln!("oxssh-fuzz: {msg}");
    std::process::abort()
}

/// ssh's options for `ssh example.com` with `text` as its only ssh_config (in memory),
/// as the fixed user "fuzz": what the targets that drive ssh's state machines run
/// with.
pub fn ssh_options(text: &str) -> oxssh_config::ClientConfig {
    use oxssh_config::{BasicContext, ClientConfig, ClientOptions, LocalUser, MemFs, Profile};
    let mut fs = MemFs::new();
    fs.add("/fuzz/ssh_config", text.as_bytes());
    let ctx = BasicContext::new(
        LocalUser {
            name: "fuzz".into(),
            uid: 1000,
            home: "/nonexistent".into(),
        },
        "fuzzhost",
    );
    let opts = ClientOptions {
        config_file: Some("/fuzz/ssh_config".into()),
        ..ClientOptions::new("example.com")
    };
    ClientConfig::load_with_profile(&opts, &ctx, &fs, &Profile::openssh_9_2_debian())
        .unwrap_or_else(|e| abort_with(&format!("the fixed ssh_config must load: {e:?}")))
}

/// A client and a server connection over an in-memory pipe, after a real
/// curve25519-sha256 / ssh-ed25519 / chacha20-poly1305 handshake (the fixture Ed25519
/// host key, accepted by the client): where the targets that play one side of a
/// protocol against the other's state machine start. None if the handshake failed.
pub async fn handshaked_pair() -> Option<(
    oxssh_net::Conn<tokio::io::DuplexStream>,
    oxssh_net::Conn<tokio::io::DuplexStream>,
)> {
    use oxssh_proto::transport::{Config, Role, Transport};
    let cfg = |peer: &str| {
        let mut c = Config::new(peer);
        c.algorithms.kex = vec!["curve25519-sha256".into()];
        c.algorithms.host_key = vec!["ssh-ed25519".into()];
        c.algorithms.cipher = vec!["chacha20-poly1305@openssh.com".into()];
        c
    };
    let (a, b) = tokio::io::duplex(1 << 20);
    let ct = Transport::new(Role::Client, cfg("server"), Vec::new()).ok()?;
    let st = Transport::new(Role::Server, cfg("client"), vec![ed25519_private()]).ok()?;
    let mut client = oxssh_net::Conn::new(a, ct);
    let mut server = oxssh_net::Conn::new(b, st);
    let mut accept = |_: &[u8], _| true;
    let mut none = oxssh_net::no_host_keys;
    let (c, s) = tokio::join!(client.handshake(&mut accept), server.handshake(&mut none));
    (c.is_ok() && s.is_ok()).then_some((client, server))
}

/// Run `f` to completion on this thread's current-thread runtime (made once per
/// thread), as the targets that drive async state machines do for every input.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| abort_with(&format!("a runtime: {e}")));
    }
    RT.with(|rt| rt.block_on(f))
}

/// The hostile side of the auth targets: send every u16-framed chunk of `data` as one
/// encrypted payload (empty ones skipped) until the input ends or the peer is gone,
/// then hang up by dropping the connection.
pub async fn send_chunks(mut conn: oxssh_net::Conn<tokio::io::DuplexStream>, data: &[u8]) {
    let mut input = Input::new(data);
    while !input.is_empty() {
        let payload = input.chunk();
        if payload.is_empty() {
            continue;
        }
        if conn.send(payload).await.is_err() {
            break;
        }
    }
}
