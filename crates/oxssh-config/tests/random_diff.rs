//! Randomised differential test: configurations generated from the keyword
//! tables and a pool of plausible (and implausible) values are fed to the real
//! `ssh -G` / `sshd -T` and to this crate; results must agree. The generator is
//! deterministic, so a failure is reproducible; `OXSSH_RANDOM_CASES` raises the
//! number of cases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;

use oxssh_config::{
    BasicServerContext, ClientConfig, ConnSpec, Level, Profile, RealFs, ServerCliArg, ServerConfig,
    ServerOptions,
};

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

const VALUES: &[&str] = &[
    "yes",
    "no",
    "true",
    "false",
    "ask",
    "auto",
    "none",
    "any",
    "all",
    "always",
    "confirm",
    "force",
    "local",
    "remote",
    "delayed",
    "inet",
    "inet6",
    "0",
    "1",
    "2",
    "22",
    "2222",
    "65535",
    "-1",
    "10",
    "5m",
    "1h30m",
    "1G",
    "512K 1h",
    "default",
    "sha256",
    "MD5",
    "INFO",
    "DEBUG3",
    "QUIET",
    "LOCAL3",
    "AUTH",
    "af21 cs1",
    "lowdelay",
    "0x20",
    "~/.ssh/id_test",
    "/etc/ssh/x",
    "%h:%p",
    "%C",
    "%d/%u",
    "${TESTVAR}",
    "\"quoted value\"",
    "a b",
    "*.example.com",
    "!bad,*",
    "10.0.0.0/8",
    "[::1]:2200",
    "localhost:80",
    "8080 localhost:80",
    "1080",
    "aes128-ctr",
    "+aes128-cbc",
    "-chacha20*",
    "^curve25519-sha256",
    "ssh-ed25519",
    "+ssh-rsa",
    "rsa-sha2-*",
    "curve25519-sha256",
    "hmac-sha2-256",
    "LANG LC_*",
    "A=1 B=2",
    "publickey,password",
    "point-to-point",
    "prohibit-password",
    "forced-commands-only",
    "clientspecified",
    "shosts-only",
    "touch-required",
    "0077",
    "3:4",
    "10:30:60",
    "24:64",
    "session=1m",
    "internal-sftp",
    "/usr/bin/cmd %u",
    "user@host:2200",
    "example.com",
    "x # comment",
    "=value",
    "'single'",
    "",
];

/// (keyword, value) pairs this crate accepts on their own; most generated lines
/// use one so that most configurations are valid and exercise dumps, not only
/// error paths (the comparison with OpenSSH keeps this honest).
fn accepted_pairs(
    keywords: &[&'static str],
    ok: &dyn Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for kw in keywords {
        for v in VALUES {
            if ok(&format!("{kw} {v}\n")) {
                out.push((*kw, *v));
            }
        }
    }
    out
}

fn random_config(
    rng: &mut Rng,
    keywords: &[&str],
    pairs: &[(&str, &str)],
    blocks: &[&str],
) -> String {
    let mut out = String::new();
    let n = 1 + rng.below(12);
    for _ in 0..n {
        if rng.below(8) == 0 {
            out.push_str(rng.pick(blocks));
            out.push('\n');
            continue;
        }
        if rng.below(5) == 0 {
            out.push_str("  ");
        }
        let (kw, value) = if !pairs.is_empty() && rng.below(12) != 0 {
            pairs[rng.below(pairs.len())]
        } else {
            (rng.pick(keywords), rng.pick(VALUES))
        };
        // Keywords are case-insensitive; vary the spelling.
        let kw: String = match rng.below(3) {
            0 => kw.to_owned(),
            1 => kw.to_ascii_uppercase(),
            _ => kw
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                .collect(),
        };
        out.push_str(&kw);
        out.push_str(rng.pick(&[" ", "=", " = ", "\t"]));
        out.push_str(value);
        out.push('\n');
    }
    out
}

fn seed(base: u64) -> u64 {
    std::env::var("OXSSH_RANDOM_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(base, |s| base ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn cases() -> usize {
    std::env::var("OXSSH_RANDOM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

#[test]
fn random_client_configs_match_openssh() {
    if !common::require("/usr/bin/ssh") {
        return;
    }
    let keywords: Vec<&str> = oxssh_config::client_keywords()
        .filter(|k| {
            ![
                "tag",
                "obscurekeystroketiming",
                "channeltimeout",
                "versionaddendum",
                // LogVerbose changes how ssh formats its log lines, not the configuration.
                "logverbose",
                "include",
            ]
            .contains(k)
        })
        .collect();
    let pairs = accepted_pairs(&keywords, &|l| {
        oxssh_config::parse_client_config_bytes(l.as_bytes()).is_ok()
    });
    let blocks = [
        "Host h*",
        "Host !h1 *",
        "Match all",
        "Match host h1",
        "Match !final",
        "Match user root",
        "Host *",
        "Match originalhost h1 exec true",
        "Match canonical",
        "Match exec \"test %h = h1\"",
        "Host h1,h2 !h3",
        "Match localuser root !host x*",
    ];
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::context();
    let mut rng = Rng(seed(0x5eed_0001_2345_6789));
    let mut failures = Vec::new();
    let mut accepted = 0usize;
    let n = cases();
    for i in 0..n {
        let text = random_config(&mut rng, &keywords, &pairs, &blocks);
        let path = dir.path().join(format!("c{i}.conf"));
        std::fs::write(&path, &text).unwrap();
        let args = vec![
            "-G".to_owned(),
            "-F".to_owned(),
            path.to_str().unwrap().to_owned(),
            "h1".to_owned(),
        ];
        let real = common::run("/usr/bin/ssh", &args, &ctx.user.home);
        accepted += usize::from(real.status == 0);
        let ours = ClientConfig::load_with_profile(
            &common::ssh_args(&args),
            &ctx,
            &RealFs,
            &Profile::openssh_9_2_debian(),
        );
        let verdict = match (real.status, ours) {
            (0, Ok(cfg)) => {
                let errs: Vec<String> = cfg
                    .diagnostics
                    .iter()
                    .filter(|d| d.level <= Level::Info)
                    .map(|d| d.message.clone())
                    .collect();
                let d = cfg.dump();
                if d != real.stdout {
                    Some(common::first_diff(&real.stdout, &d))
                } else if errs != real.stderr {
                    Some(format!("stderr {:?} vs {:?}", real.stderr, errs))
                } else {
                    None
                }
            }
            (0, Err(e)) => Some(format!("we fail: {:?}", e.stderr_lines())),
            (_, Ok(_)) => Some(format!("ssh fails: {:?}", real.stderr)),
            (_, Err(e)) => (e.stderr_lines() != real.stderr)
                .then(|| format!("errors {:?} vs {:?}", real.stderr, e.stderr_lines())),
        };
        if let Some(v) = verdict {
            failures.push(format!("case {i}:\n{text}=> {v}"));
        }
    }
    eprintln!(
        "random ssh -G: {}/{n} identical ({accepted} accepted by OpenSSH)",
        n - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn random_server_configs_match_openssh() {
    if !common::require("/usr/sbin/sshd") || !common::require("/usr/bin/ssh-keygen") {
        return;
    }
    let _ = std::fs::create_dir_all("/run/sshd");
    let skip = [
        "include",
        "pamservicename",
        "persourcepenalties",
        "persourcepenaltyexemptlist",
        "refuseconnection",
        "sshdauthpath",
        "sshdsessionpath",
        "listenaddress",
        "hostkeyagent",
        "hostkey",
        "hostdsakey",
        "hostcertificate",
        "authorizedkeyscommand",
        "authorizedprincipalscommand",
        "securitykeyprovider",
    ];
    let keywords: Vec<&str> = oxssh_config::server_keywords()
        .filter(|k| !skip.contains(k))
        .collect();
    let pairs = accepted_pairs(&keywords, &|l| {
        oxssh_config::parse_server_config_bytes(l.as_bytes()).is_ok()
    });
    let blocks = [
        "Match all",
        "Match User root",
        "Match User !root,*",
        "Match Address 10.0.0.0/8",
        "Match Host *",
    ];
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hk");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let ctx = BasicServerContext {
        cwd: dir.path().to_str().unwrap().to_owned(),
        ..Default::default()
    };
    let mut rng = Rng(seed(0x5eed_0002_abcd_ef01));
    let mut failures = Vec::new();
    let mut accepted = 0usize;
    let n = cases();
    for i in 0..n {
        let text = random_config(&mut rng, &keywords, &pairs, &blocks);
        let path = dir.path().join(format!("s{i}.conf"));
        std::fs::write(&path, &text).unwrap();
        let spec = "user=root,host=h.example.com,addr=10.1.2.3";
        let out = Command::new("/usr/sbin/sshd")
            .args(["-T", "-f"])
            .arg(&path)
            .arg("-h")
            .arg(&key)
            .args(["-C", spec])
            .current_dir(dir.path())
            .env_clear()
            .output()
            .unwrap();
        let status = out.status.code().unwrap_or(-1);
        accepted += usize::from(status == 0);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("Unable to load host key") && !l.starts_with("Could not"))
            .map(str::to_owned)
            .collect();
        let opts = ServerOptions {
            config_file: path.to_str().unwrap().to_owned(),
            args: vec![ServerCliArg::HostKey(key.to_str().unwrap().to_owned())],
        };
        let ours = ServerConfig::load_with(&opts, &RealFs, &ctx, &Profile::openssh_9_2_debian())
            .and_then(|c| c.for_connection_with(&ConnSpec::parse(spec).unwrap(), &ctx));
        let verdict = match (status, ours) {
            (0, Ok(cfg)) => {
                let errs: Vec<String> = cfg
                    .diagnostics
                    .iter()
                    .filter(|d| d.level <= Level::Info)
                    .map(|d| d.message.clone())
                    .collect();
                let d = cfg.dump();
                if d != stdout {
                    Some(common::first_diff(&stdout, &d))
                } else if errs != stderr {
                    Some(format!("stderr {stderr:?} vs {errs:?}"))
                } else {
                    None
                }
            }
            (0, Err(e)) => Some(format!("we fail: {:?}", e.stderr_lines())),
            (_, Ok(_)) => Some(format!("sshd fails: {stderr:?}")),
            (st, Err(e)) => (e.stderr_lines() != stderr || i32::from(e.sshd_exit_code()) != st)
                .then(|| {
                    format!(
                        "errors {st} {stderr:?} vs {} {:?}",
                        e.sshd_exit_code(),
                        e.stderr_lines()
                    )
                }),
        };
        if let Some(v) = verdict {
            failures.push(format!("case {i}:\n{text}=> {v}"));
        }
    }
    let _ = Path::new("");
    eprintln!(
        "random sshd -T: {}/{n} identical ({accepted} accepted by sshd)",
        n - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
