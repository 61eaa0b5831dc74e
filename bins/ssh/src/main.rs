//! `ssh`: the OpenSSH client's interface on oxssh's protocol core.
//!
//! Parses the command line (options.rs), reads ssh_config through `oxssh-config`
//! exactly as OpenSSH does (`-G` prints the result), answers `-Q` and `-V`, and maps the
//! outcome to OpenSSH's exit codes: the remote command's status, or 255 for any error
//! of ssh's own.

mod client;
mod options;
mod session;

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
    use oxssh_proto::hostkey::SigAlg;
    let lines: Vec<String> = match what {
        "cipher" | "ciphers" => oxssh_cli::profile::ciphers()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "cipher-auth" => Cipher::ALL
            .iter()
            .filter(|c| c.is_aead())
            .map(|c| c.name().to_owned())
            .collect(),
        "mac" | "macs" => oxssh_cli::profile::macs()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "kex" | "kexalgorithms" => oxssh_cli::profile::kex()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        "kex-gss" => Vec::new(),
        "key" | "key-sig" | "sig" | "hostkeyalgorithms" | "pubkeyacceptedalgorithms" => SigAlg::ALL
            .iter()
            .filter(|a| what != "sig" || !a.is_cert())
            .map(|a| a.name().to_owned())
            .collect(),
        "key-cert" => SigAlg::ALL
            .iter()
            .filter(|a| a.is_cert())
            .map(|a| a.name().to_owned())
            .collect(),
        "key-plain" => SigAlg::ALL
            .iter()
            .filter(|a| !a.is_cert())
            .map(|a| a.name().to_owned())
            .collect(),
        "compression" => vec!["none".to_owned()],
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

fn log_level(l: oxssh_config::LogLevel) -> LogLevel {
    use oxssh_config::LogLevel as C;
    match l {
        C::Quiet => LogLevel::Quiet,
        C::Fatal => LogLevel::Fatal,
        C::Error => LogLevel::Error,
        C::Info => LogLevel::Info,
        C::Verbose => LogLevel::Verbose,
        C::Debug1 => LogLevel::Debug1,
        C::Debug2 => LogLevel::Debug2,
        _ => LogLevel::Debug3,
    }
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
        Err(e) => {
            oxssh_cli::log::eprint(&e.stderr_lines().join("\n"));
            return 255;
        }
    };
    let level = log_level(cfg.log_level);
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
    match rt.block_on(client::run(cfg, command)) {
        Ok(code) => code,
        Err(client::Failure::Message(m)) => {
            oxssh_cli::log::eprint(&m);
            255
        }
    }
}
