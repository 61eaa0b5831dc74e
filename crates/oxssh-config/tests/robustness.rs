//! Property tests: arbitrary and adversarial input never panics, and hostile
//! `Include` structures stay bounded. A deterministic generator keeps runs
//! reproducible; a cargo-fuzz target can reuse the same entry points
//! (`parse_client_config_bytes`, `parse_server_config_bytes`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use oxssh_config::{
    BasicContext, ClientConfig, ClientOptions, ConnSpec, ExecPolicy, LocalUser, MemFs, Profile,
    ServerConfig, ServerOptions, parse_client_config_bytes, parse_server_config_bytes,
};

/// xorshift64*: small, deterministic, good enough to shake a parser.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const PIECES: &[&str] = &[
    " ",
    "\t",
    "=",
    "\"",
    "'",
    "\\",
    "#",
    "%",
    "%h",
    "%%",
    "${",
    "}",
    "${HOME}",
    "~",
    "~/",
    "!",
    "*",
    "?",
    ",",
    ":",
    "[",
    "]",
    "/",
    "none",
    "any",
    "yes",
    "no",
    "ask",
    "all",
    "host",
    "user",
    "exec",
    "final",
    "canonical",
    "Match",
    "Host",
    "Include",
    "0",
    "1",
    "65536",
    "-1",
    "10.0.0.0/8",
    "::1",
    "[::1]:22",
    "1h30m",
    "1G",
    "+",
    "-",
    "^",
    "aes128-ctr",
    "ssh-ed25519",
    "\r",
    "\x0c",
    "\0",
    "é",
    "localhost:80",
    "/tmp/x.sock",
];

fn random_line(rng: &mut Rng, keywords: &[&str]) -> String {
    let mut line = String::new();
    if rng.below(4) == 0 {
        line.push_str(rng.pick(&["  ", "\t", "=", "#", "\""]));
    }
    line.push_str(rng.pick(keywords));
    let n = rng.below(6);
    for _ in 0..n {
        line.push_str(rng.pick(&[" ", "=", " ", "\t"]));
        let m = 1 + rng.below(3);
        for _ in 0..m {
            line.push_str(rng.pick(PIECES));
        }
    }
    line
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..1500 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse_client_config_bytes(&data);
        let _ = parse_server_config_bytes(&data);
    }
}

#[test]
fn random_keyword_lines_never_panic() {
    let client: Vec<&str> = oxssh_config::client_keywords().collect();
    let server: Vec<&str> = oxssh_config::server_keywords().collect();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..3000 {
        let lines = 1 + rng.below(8);
        let text: Vec<String> = (0..lines).map(|_| random_line(&mut rng, &client)).collect();
        let _ = parse_client_config_bytes(text.join("\n").as_bytes());
        let text: Vec<String> = (0..lines).map(|_| random_line(&mut rng, &server)).collect();
        let _ = parse_server_config_bytes(text.join("\n").as_bytes());
    }
}

#[test]
fn every_keyword_with_odd_arguments_never_panics() {
    let odd = [
        "",
        "x",
        "\"\"",
        "''",
        "none",
        "-1",
        "#",
        "a b c d e",
        "\"unterminated",
        "%",
        "${",
        "[::1]",
    ];
    for kw in oxssh_config::client_keywords() {
        for a in odd {
            let _ = parse_client_config_bytes(format!("{kw} {a}\n").as_bytes());
        }
    }
    for kw in oxssh_config::server_keywords() {
        for a in odd {
            let _ = parse_server_config_bytes(format!("{kw} {a}\n").as_bytes());
            let _ = parse_server_config_bytes(format!("Match all\n{kw} {a}\n").as_bytes());
        }
    }
}

fn ctx() -> BasicContext {
    BasicContext {
        exec: ExecPolicy::Table(Default::default()),
        ..BasicContext::new(
            LocalUser {
                name: "u".into(),
                uid: 1000,
                home: "/home/u".into(),
            },
            "h",
        )
    }
}

#[test]
fn include_bombs_are_bounded() {
    // Each file includes itself twice: exponential without limits.
    let mut fs = MemFs::new();
    fs.add("/c/a.conf", "Include /c/a.conf /c/a.conf\n");
    let opts = ClientOptions {
        config_file: Some("/c/a.conf".into()),
        ..ClientOptions::new("h")
    };
    let err = ClientConfig::load_with_profile(&opts, &ctx(), &fs, &Profile::openssh_9_2_debian())
        .unwrap_err();
    assert!(
        err.to_string().contains("too many") || err.to_string().contains("recursive"),
        "{err}"
    );

    let mut fs = MemFs::new();
    fs.add("/s/a.conf", "Include /s/a.conf /s/a.conf\n");
    let opts = ServerOptions {
        config_file: "/s/a.conf".into(),
        args: vec![],
    };
    let err =
        ServerConfig::load_with_profile(&opts, &fs, &Profile::openssh_9_2_debian()).unwrap_err();
    assert!(
        err.to_string().contains("too many") || err.to_string().contains("recursive"),
        "{err}"
    );
}

#[test]
fn long_lines_are_bounded() {
    let long = format!("SendEnv {}\n", "A".repeat(1 << 20));
    let out = parse_client_config_bytes(long.as_bytes()).unwrap();
    assert!(out.len() < 200_000);
    let long = format!("AcceptEnv {}\n", "B".repeat(1 << 20));
    let out = parse_server_config_bytes(long.as_bytes()).unwrap();
    assert!(out.len() < 200_000);
}

#[test]
fn pathological_patterns_are_fast() {
    let pat = "*a".repeat(400);
    let text = format!("Host {pat}b\n  User x\nMatch host {pat}\n  Port 2\n");
    let start = std::time::Instant::now();
    let _ = parse_client_config_bytes(text.as_bytes());
    let spec = ConnSpec::parse(&format!("user={},host=h", "a".repeat(5000))).unwrap();
    let mut fs = MemFs::new();
    fs.add(
        "/s",
        format!("Match User {}\n  MaxSessions 1\n", "*a".repeat(500)),
    );
    let cfg = ServerConfig::load_with_profile(
        &ServerOptions {
            config_file: "/s".into(),
            args: vec![],
        },
        &fs,
        &Profile::openssh_9_2_debian(),
    )
    .unwrap();
    let _ = cfg.for_connection(&spec).unwrap();
    assert!(start.elapsed().as_secs() < 10);
}
