//! `ssh`: the OpenSSH client's interface on oxssh's protocol core.
//!
//! This file parses the command line exactly as OpenSSH's ssh does (getopt, options
//! after the destination, first value wins) and maps the outcome to OpenSSH's exit
//! codes: the remote command's status, or 255 for any error of ssh's own.

mod client;
mod options;
mod session;

use std::process::ExitCode;

use options::Options;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let opts = match options::parse(args) {
        Ok(options::Parsed::Run(o)) => o,
        Ok(options::Parsed::Exit(code)) => return ExitCode::from(code),
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(255);
        }
    };
    ExitCode::from(run(opts))
}

fn run(opts: Options) -> u8 {
    let log_file = match &opts.log_file {
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
    oxssh_cli::log::init(opts.log_level(), log_file);
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
    match rt.block_on(client::run(opts)) {
        Ok(code) => code,
        Err(client::Failure::Message(m)) => {
            if !m.is_empty() {
                eprintln!("{m}");
            }
            255
        }
    }
}
