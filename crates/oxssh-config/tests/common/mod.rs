//! Helpers shared by the differential tests: locating the real OpenSSH,
//! describing the invoking user the same way OpenSSH sees it, turning `ssh`
//! argument lists into `ClientOptions`, and preparing corpus directories.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use oxssh_config::{BasicContext, CliArg, ClientOptions, LocalUser};

/// Whether `bin` exists. Without it the test is skipped with a printed reason,
/// except under `CI=true`, where a missing OpenSSH is a failure.
pub fn require(bin: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{bin} is missing: apt-get install -y openssh-server openssh-client");
    }
    eprintln!("skipping: {bin} not installed (apt-get install -y openssh-server openssh-client)");
    false
}

fn cmd_out(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .expect("run helper command");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// The user OpenSSH will see (`getpwuid(getuid())`).
pub fn local_user() -> LocalUser {
    let name = cmd_out("id", &["-un"]);
    let uid: u32 = cmd_out("id", &["-u"]).parse().unwrap();
    let pw = cmd_out("getent", &["passwd", &name]);
    let home = pw.split(':').nth(5).unwrap_or("/").to_owned();
    LocalUser { name, uid, home }
}

/// `gethostname()`.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| cmd_out("hostname", &[]))
}

/// The controlled environment both implementations see.
pub fn test_env(home: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert("HOME".to_owned(), home.to_owned());
    env.insert(
        "PATH".to_owned(),
        "/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
    );
    env.insert("SHELL".to_owned(), "/bin/sh".to_owned());
    env.insert("TESTVAR".to_owned(), "tv".to_owned());
    env.insert("SOCKDIR".to_owned(), "/tmp/sockdir".to_owned());
    env
}

/// A context matching what the real `ssh` sees in the tests.
pub fn context() -> BasicContext {
    let user = local_user();
    let mut ctx = BasicContext::new(user.clone(), local_hostname());
    ctx.env = test_env(&user.home);
    ctx
}

/// Translate an `ssh` argument list (options, destination, command) into
/// `ClientOptions` the way the ssh binary will.
pub fn ssh_args(args: &[String]) -> ClientOptions {
    let mut opts = ClientOptions::default();
    let mut i = 0;
    let mut host: Option<String> = None;
    let mut command: Vec<String> = Vec::new();
    let mut terminated = false;
    while i < args.len() {
        let a = &args[i];
        if host.is_some() && (!a.starts_with('-') || terminated) {
            command.extend(args[i..].iter().cloned());
            break;
        }
        if a == "--" && !terminated {
            terminated = true;
            i += 1;
            continue;
        }
        if !a.starts_with('-') || terminated {
            let d = oxssh_config::parse_destination(a).expect("destination");
            host = Some(d.host.clone());
            opts.args.push(CliArg::Destination(d));
            i += 1;
            continue;
        }
        let flag = a.chars().nth(1).unwrap();
        let takes_arg = "bcDeFIiJLlmoOpRSwWBEQ".contains(flag);
        let val = if takes_arg {
            if a.len() > 2 {
                a[2..].to_owned()
            } else {
                i += 1;
                args[i].clone()
            }
        } else {
            String::new()
        };
        let push = |o: &mut ClientOptions, c: CliArg| o.args.push(c);
        match flag {
            'F' => opts.config_file = Some(val),
            'o' => push(&mut opts, CliArg::Option(val)),
            'p' => push(&mut opts, CliArg::Port(val)),
            'l' => push(&mut opts, CliArg::User(val)),
            'i' => push(&mut opts, CliArg::Identity(val)),
            'J' => push(&mut opts, CliArg::JumpHost(val)),
            'L' => push(&mut opts, CliArg::LocalForward(val)),
            'R' => push(&mut opts, CliArg::RemoteForward(val)),
            'D' => push(&mut opts, CliArg::DynamicForward(val)),
            'W' => push(&mut opts, CliArg::StdioForward(val)),
            'w' => push(&mut opts, CliArg::Tunnel(val)),
            'e' => push(&mut opts, CliArg::EscapeChar(val)),
            'c' => push(&mut opts, CliArg::Ciphers(val)),
            'm' => push(&mut opts, CliArg::Macs(val)),
            'b' => push(&mut opts, CliArg::BindAddress(val)),
            'B' => push(&mut opts, CliArg::BindInterface(val)),
            'S' => push(&mut opts, CliArg::ControlPath(val)),
            'I' => push(&mut opts, CliArg::Pkcs11(val)),
            '4' => push(
                &mut opts,
                CliArg::AddressFamily(oxssh_config::AddressFamily::Inet),
            ),
            '6' => push(
                &mut opts,
                CliArg::AddressFamily(oxssh_config::AddressFamily::Inet6),
            ),
            'A' => push(&mut opts, CliArg::ForwardAgent(true)),
            'a' => push(&mut opts, CliArg::ForwardAgent(false)),
            'X' => push(&mut opts, CliArg::ForwardX11(true)),
            'x' => push(&mut opts, CliArg::ForwardX11(false)),
            'Y' => push(&mut opts, CliArg::ForwardX11Trusted),
            'g' => push(&mut opts, CliArg::GatewayPorts),
            'C' => push(&mut opts, CliArg::Compression),
            'M' => push(&mut opts, CliArg::ControlMaster),
            't' => push(&mut opts, CliArg::Tty),
            'T' => push(&mut opts, CliArg::NoTty),
            'N' => push(&mut opts, CliArg::NoSession),
            's' => push(&mut opts, CliArg::Subsystem),
            'n' => push(&mut opts, CliArg::StdinNull),
            'f' => push(&mut opts, CliArg::Fork),
            'q' => push(&mut opts, CliArg::Quiet),
            'v' => push(&mut opts, CliArg::Verbose),
            'K' => push(&mut opts, CliArg::GssapiAuthentication),
            'k' => push(&mut opts, CliArg::NoGssapiDelegation),
            'G' => {}
            other => panic!("test helper does not know -{other}"),
        }
        i += 1;
    }
    opts.host = host.expect("a destination");
    if !command.is_empty() {
        opts.command = Some(command.join(" "));
    }
    opts
}

/// Result of running a real OpenSSH binary.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: Vec<String>,
}

/// Run `bin args` with the controlled environment.
pub fn run(bin: &str, args: &[String], home: &str) -> Run {
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(test_env(home))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run OpenSSH");
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| {
            !l.contains("Pseudo-terminal will not be allocated")
                && !l.starts_with("debug")
                && !l.starts_with("OpenSSH_")
        })
        .map(str::to_owned)
        .collect();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// Copy a corpus directory to a fresh temporary directory, replacing `@DIR@` in
/// every file with the new location.
pub fn stage_corpus(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().to_path_buf();
    copy_dir(src, &dst, &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path, root: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let target = dst.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &target, root);
        } else {
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("@DIR@", root.to_str().unwrap());
            std::fs::write(&target, text).unwrap();
        }
    }
}

/// Split a `#@ run:` line into arguments (whitespace, with '…' quoting).
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' | '\t' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Show the first differing line of two texts.
pub fn first_diff(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i), bl.get(i));
        if x != y {
            return format!("line {}: openssh={:?} oxssh={:?}", i + 1, x, y);
        }
    }
    "identical".to_owned()
}
