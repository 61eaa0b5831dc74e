//! `ssh`: the OpenSSH client's interface on oxssh's protocol core.
//!
//! Parses the command line (options.rs), reads ssh_config through `oxssh-config`
//! exactly as OpenSSH does (`-G` prints the result), answers `-Q` and `-V`, and maps the
//! outcome to OpenSSH's exit codes: the remote command's status, or 255 for any error
//! of ssh's own.

use oxssh_ssh::{client, options};

use std::process::ExitCode;

use oxssh_cli::log::LogLevel;
use oxssh_config::{BasicContext, ClientConfig, LocalUser, RealFs};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let inv = match options::parse(args) {
        Ok(options::Parsed::Run(i)) => i,
        Ok(options::Parsed::Version) => {
            eprintln!("oxssh_{}, RustCrypto", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(options::Parsed::Query(q)) => return query(&q),
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(255);
        }
    };
    ExitCode::from(run(*inv))
}

/// `ssh -Q`: the algorithms this ssh implements, one per line.
fn query(what: &str) -> ExitCode {
    use oxssh_proto::cipher::Cipher;
    let lines: Vec<String> = match what {
        w if w == "cipher" || w.eq_ignore_ascii_case("Ciphers") => oxssh_cli::profile::ciphers()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "cipher-auth" => Cipher::IMPLEMENTED
            .iter()
            .filter(|c| c.is_aead())
            .map(|c| c.name().to_owned())
            .collect(),
        w if w == "mac" || w.eq_ignore_ascii_case("MACs") => oxssh_cli::profile::macs()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        w if w == "kex" || w.eq_ignore_ascii_case("KexAlgorithms") => oxssh_cli::profile::kex()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "kex-gss" => Vec::new(),
        "key" => key_algs(true, true, false),
        "key-cert" => key_algs(false, true, false),
        "key-plain" => key_algs(true, false, false),
        "sig" => key_algs(true, false, true),
        w if w == "key-sig"
            || [
                "PubkeyAcceptedKeyTypes",
                "PubkeyAcceptedAlgorithms",
                "HostKeyAlgorithms",
                "HostbasedKeyTypes",
                "HostbasedAcceptedKeyTypes",
                "HostbasedAcceptedAlgorithms",
            ]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(w)) =>
        {
            key_algs(true, true, true)
        }
        "compression" => oxssh_cli::profile::compression()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "protocol-version" => vec!["2".to_owned()],
        "help" => [
            "cipher",
            "cipher-auth",
            "compression",
            "kex",
            "kex-gss",
            "key",
            "key-cert",
            "key-plain",
            "key-sig",
            "mac",
            "protocol-version",
            "sig",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        _ => {
            oxssh_cli::log::eprint(&format!("Unsupported query \"{what}\""));
            return ExitCode::from(255);
        }
    };
    for l in lines {
        println!("{l}");
    }
    ExitCode::SUCCESS
}

/// OpenSSH's key type table in its order: each plain type then its certificate; the
/// `rsa-sha2-*` names are signature-only (listed by `key-sig` and `sig`, never as key
/// types). Only the names oxssh-proto implements are listed.
fn key_algs(plain: bool, certs: bool, sigonly: bool) -> Vec<String> {
    use oxssh_proto::hostkey::SigAlg;
    const ORDER: &[&str] = &[
        "ssh-ed25519",
        "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
        "rsa-sha2-256",
        "rsa-sha2-512",
    ];
    let mut out = Vec::new();
    for name in ORDER {
        let Some(alg) = SigAlg::from_name(name) else {
            continue;
        };
        if name.starts_with("rsa-sha2-") && !sigonly {
            continue;
        }
        if plain {
            out.push(alg.name().to_owned());
        }
        // `sig` lists no certificates, like OpenSSH's sshkey_alg_list(0, 1, 1).
        if certs && alg.cert() != alg {
            out.push(alg.cert().name().to_owned());
        }
    }
    out
}

fn context() -> BasicContext {
    let me = oxssh_sys::getpwuid(oxssh_sys::getuid());
    // Like OpenSSH, `~` is the passwd entry's home directory, not $HOME.
    let home = me
        .as_ref()
        .map(|p| p.dir.to_string_lossy().into_owned())
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/".into());
    let user = LocalUser {
        name: me
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_else(|| oxssh_sys::getuid().to_string()),
        uid: oxssh_sys::getuid(),
        home,
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let mut ctx = BasicContext::new(user, hostname);
    ctx.env = std::env::vars().collect();
    ctx
}

fn run(inv: options::Invocation) -> u8 {
    let ctx = context();
    let cfg = match ClientConfig::load_with_profile(
        &inv.opts,
        &ctx,
        &RealFs,
        &oxssh_cli::profile::oxssh(),
    ) {
        Ok(c) => c,
        // A bad command-line argument OpenSSH reports with a plain fprintf: a bare
        // "\n" even when stderr is a terminal in raw mode.
        Err(e @ oxssh_config::Error::Usage { .. }) => {
            let mut lines = e.stderr_lines();
            let last = lines.pop().unwrap_or_default();
            if !lines.is_empty() {
                oxssh_cli::log::eprint(&lines.join("\n"));
            }
            eprintln!("{last}");
            return 255;
        }
        Err(e) => {
            oxssh_cli::log::eprint(&e.stderr_lines().join("\n"));
            return 255;
        }
    };
    if inv.user_on_commandline && !options::valid_ruser(&cfg.user) {
        oxssh_cli::log::eprint("remote username contains invalid characters");
        return 255;
    }
    let level = LogLevel::from(cfg.log_level);
    let log_file = match &inv.log_file {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("Couldn't open logfile {}: {e}", p.display());
                return 255;
            }
        },
        None => None,
    };
    oxssh_cli::log::init(level, log_file);
    for d in &cfg.diagnostics {
        use oxssh_config::Level;
        match d.level {
            Level::Error | Level::Info if level >= LogLevel::Info || d.level == Level::Error => {
                oxssh_cli::log::eprint(&d.message)
            }
            Level::Verbose => tracing::info!("{}", d.message),
            Level::Debug1 => tracing::debug!("{}", d.message),
            _ => tracing::trace!("{}", d.message),
        }
    }
    if inv.dump {
        print!("{}", cfg.dump());
        return 0;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ssh: {e}");
            return 255;
        }
    };
    let command = inv.opts.command.clone();
    let code = match rt.block_on(client::run(cfg, command)) {
        Ok(code) => code,
        Err(client::Failure::Message(m)) => {
            oxssh_cli::log::eprint(&m);
            255
        }
    };
    // A read of stdin may still be pending on tokio's blocking pool (a terminal with
    // nothing typed): don't wait for it, the session is over.
    rt.shutdown_background();
    code
}
