//! Differential test: every case in `tests/corpus/server` is run through the
//! real `sshd -T` (and so `-t` checks) and through `ServerConfig::load_with` +
//! `for_connection` + `dump`; stdout on success, or exit status and error
//! lines on failure, must be identical.
//!
//! Case files are sshd_config files; `#@ run: <sshd args>` lines give the
//! invocations (`-T -f <case> -h <generated ed25519 key>` is added; usually
//! `-C user=…,host=…,addr=…`). `@DIR@` is replaced by the staged directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use oxssh_config::{
    BasicServerContext, ConnSpec, Level, Profile, RealFs, ServerCliArg, ServerConfig, ServerOptions,
};

fn context(dir: &Path) -> BasicServerContext {
    let user = common::local_user();
    let mut groups = HashMap::new();
    for u in ["root", "nobody", "daemon"] {
        let out = Command::new("id").args(["-Gn", u]).output().unwrap();
        if out.status.success() {
            let g: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            groups.insert(u.to_owned(), g);
        }
    }
    let mut hosts = HashMap::new();
    hosts.insert(
        "localhost".to_owned(),
        vec!["127.0.0.1".parse::<IpAddr>().unwrap()],
    );
    BasicServerContext {
        home: user.home,
        homes: HashMap::new(),
        cwd: dir.to_str().unwrap().to_owned(),
        groups,
        hosts,
        system_resolver: false,
    }
}

/// Map `sshd` arguments (after the fixed ones) to our options.
fn sshd_args(args: &[String]) -> (Vec<ServerCliArg>, Option<String>) {
    let mut out = Vec::new();
    let mut spec = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let flag = a.chars().nth(1).unwrap();
        let val = if "Cfhcopg".contains(flag) {
            if a.len() > 2 {
                a[2..].to_owned()
            } else {
                i += 1;
                args[i].clone()
            }
        } else {
            String::new()
        };
        match flag {
            'C' => spec = Some(val),
            'o' => out.push(ServerCliArg::Option(val)),
            'p' => out.push(ServerCliArg::Port(val)),
            'h' => out.push(ServerCliArg::HostKey(val)),
            'c' => out.push(ServerCliArg::HostCertificate(val)),
            'g' => out.push(ServerCliArg::LoginGraceTime(val)),
            '4' => out.push(ServerCliArg::AddressFamily(
                oxssh_config::AddressFamily::Inet,
            )),
            '6' => out.push(ServerCliArg::AddressFamily(
                oxssh_config::AddressFamily::Inet6,
            )),
            'q' => out.push(ServerCliArg::Quiet),
            'T' | 'f' => {}
            other => panic!("test helper does not know -{other}"),
        }
        i += 1;
    }
    (out, spec)
}

fn ours(
    path: &Path,
    args: &[String],
    dir: &Path,
) -> Result<(String, Vec<String>), (Vec<String>, i32)> {
    let (cli, spec) = sshd_args(args);
    let opts = ServerOptions {
        config_file: path.to_str().unwrap().to_owned(),
        args: cli,
    };
    let ctx = context(dir);
    let fail = |e: oxssh_config::Error| (e.stderr_lines(), i32::from(e.sshd_exit_code()));
    let base = ServerConfig::load_with(&opts, &RealFs, &ctx, &Profile::openssh_9_2_debian())
        .map_err(fail)?;
    let conn = match spec {
        Some(s) => ConnSpec::parse(&s).map_err(|e| (vec![e], 1))?,
        None => ConnSpec::default(),
    };
    let cfg = base.for_connection_with(&conn, &ctx).map_err(fail)?;
    let diags = cfg
        .diagnostics
        .iter()
        .filter(|d| d.level <= Level::Info)
        .map(|d| d.message.clone())
        .collect();
    Ok((cfg.dump(), diags))
}

#[test]
fn sshd_t_matches_openssh() {
    if !common::require("/usr/sbin/sshd") || !common::require("/usr/bin/ssh-keygen") {
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/server");
    let (_tmp, dir) = common::stage_corpus(&src);
    // sshd insists on its privilege separation directory when run as root.
    let _ = std::fs::create_dir_all("/run/sshd");
    let key = dir.join("hostkey_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let mut invocations: Vec<Vec<String>> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#@ run:"))
            .map(common::split_args)
            .collect();
        if invocations.is_empty() {
            invocations.push(Vec::new());
        }
        for extra in invocations {
            runs += 1;
            let mut args = vec![
                "-T".to_owned(),
                "-f".to_owned(),
                case.to_str().unwrap().to_owned(),
            ];
            args.push("-h".to_owned());
            args.push(key.to_str().unwrap().to_owned());
            args.extend(extra.iter().cloned());
            let out = Command::new("/usr/sbin/sshd")
                .args(&args)
                .current_dir(&dir)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .output()
                .expect("run sshd");
            let status = out.status.code().unwrap_or(-1);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            // Host key loading is sshd's business, not the configuration's.
            let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| {
                    !l.starts_with("Unable to load host key")
                        && !l.starts_with("Could not connect to agent")
                        && !l.starts_with("Could not load host certificate")
                })
                .map(str::to_owned)
                .collect();
            let name = format!(
                "{} [{}]",
                case.file_name().unwrap().to_string_lossy(),
                extra.join(" ")
            );
            match (status, ours(case, &args[3..], &dir)) {
                (0, Ok((dump, diags))) => {
                    if dump != stdout {
                        failures.push(format!(
                            "{name}: dump differs: {}",
                            common::first_diff(&stdout, &dump)
                        ));
                    } else if diags != stderr {
                        failures.push(format!(
                            "{name}: stderr differs: sshd={stderr:?} oxssh={diags:?}"
                        ));
                    }
                }
                (0, Err(e)) => failures.push(format!("{name}: sshd accepted, oxssh failed: {e:?}")),
                (st, Ok(_)) => failures.push(format!(
                    "{name}: sshd failed ({st}: {stderr:?}), oxssh accepted"
                )),
                (st, Err((lines, code))) => {
                    if lines != stderr || code != st {
                        failures.push(format!(
                            "{name}: error differs: sshd={st} {stderr:?} oxssh={code} {lines:?}"
                        ));
                    }
                }
            }
        }
    }
    let ok = runs - failures.len();
    eprintln!(
        "sshd -T differential: {ok}/{runs} invocations identical over {} config files",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
