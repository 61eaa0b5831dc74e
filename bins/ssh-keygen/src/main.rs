//! `ssh-keygen`: OpenSSH's key tool. This file parses the command line with
//! OpenSSH's getopt string and picks the operation in OpenSSH's order; `cmd` wires
//! files and prompts to `oxssh-keys`; `certs` does certificates (`-s`, `-L`), `sig`
//! SSH signatures (`-Y`), `krl` revocation lists (`-k`, `-Q`).
//! `cmd::sshfp` prints SSHFP records (`-r`), `moduli` screens DH moduli (`-M screen`).
//! Not yet: `-M generate`, PKCS#11 and FIDO keys.

use std::process::ExitCode;

use oxssh_cli::getopt::{Getopt, Item};

mod agent;
mod certs;
mod cmd;
mod krl;
mod moduli;
mod prompt;
mod sig;

const OPTSTRING: &str = "ABHKLQUXceghiklopquvyC:D:E:F:I:M:N:O:P:R:V:Y:Z:a:b:f:g:m:n:r:s:t:w:z:";

pub const USAGE: &str =
    "usage: ssh-keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile]
                  [-m format] [-N new_passphrase] [-O option]
                  [-t dsa | ecdsa | ecdsa-sk | ed25519 | ed25519-sk | rsa]
                  [-w provider] [-Z cipher]
       ssh-keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase]
                   [-P old_passphrase] [-Z cipher]
       ssh-keygen -i [-f input_keyfile] [-m key_format]
       ssh-keygen -e [-f input_keyfile] [-m key_format]
       ssh-keygen -y [-f input_keyfile]
       ssh-keygen -c [-a rounds] [-C comment] [-f keyfile] [-P passphrase]
       ssh-keygen -l [-v] [-E fingerprint_hash] [-f input_keyfile]
       ssh-keygen -B [-f input_keyfile]
       ssh-keygen -D pkcs11
       ssh-keygen -F hostname [-lv] [-f known_hosts_file]
       ssh-keygen -H [-f known_hosts_file]
       ssh-keygen -K [-a rounds] [-w provider]
       ssh-keygen -R hostname [-f known_hosts_file]
       ssh-keygen -r hostname [-g] [-f input_keyfile]
       ssh-keygen -M generate [-O option] output_file
       ssh-keygen -M screen [-f input_file] [-O option] output_file
       ssh-keygen -I certificate_identity -s ca_key [-hU] [-D pkcs11_provider]
                  [-n principals] [-O option] [-V validity_interval]
                  [-z serial_number] file ...
       ssh-keygen -L [-f input_keyfile]
       ssh-keygen -A [-a rounds] [-f prefix_path]
       ssh-keygen -k -f krl_file [-u] [-s ca_public] [-z version_number]
                  file ...
       ssh-keygen -Q [-l] -f krl_file [file ...]
       ssh-keygen -Y find-principals -s signature_file -f allowed_signers_file
       ssh-keygen -Y match-principals -I signer_identity -f allowed_signers_file
       ssh-keygen -Y check-novalidate -n namespace -s signature_file
       ssh-keygen -Y sign -f key_file -n namespace file [-O option] ...
       ssh-keygen -Y verify -f allowed_signers_file -I signer_identity
                  -n namespace -s signature_file [-r krl_file] [-O option]
";

/// Everything the command line said, typed.
#[derive(Debug, Default)]
pub struct Opts {
    pub all_hostkeys: bool,
    pub bits: Option<u32>,
    pub hash: Option<oxssh_keys::fingerprint::FpHash>,
    pub find_host: Option<String>,
    pub delete_host: Option<String>,
    pub hash_hosts: bool,
    pub key_id: Option<String>,
    pub show_cert: bool,
    pub fingerprint: bool,
    pub bubblebabble: bool,
    pub format: Option<oxssh_keys::keyfile::Format>,
    pub principals: Option<String>,
    pub change_passphrase: bool,
    pub change_comment: bool,
    pub file: Option<String>,
    pub old_passphrase: Option<String>,
    pub new_passphrase: Option<String>,
    pub check_krl: bool,
    pub gen_krl: bool,
    pub options: Vec<String>,
    pub cipher: Option<ssh_key::Cipher>,
    pub comment: Option<String>,
    pub quiet: bool,
    pub export: bool,
    pub import: bool,
    pub print_public: bool,
    pub ca_key: Option<String>,
    pub key_type: Option<String>,
    pub verbose: u8,
    pub rr_host: Option<String>,
    pub rounds: Option<u32>,
    pub sign_op: Option<String>,
    pub moduli: bool,
    /// `-M screen` (else `-M generate`).
    pub moduli_screen: bool,
    pub pkcs11: bool,
    pub download_sk: bool,
    pub operands: Vec<String>,
    /// `-V`: (valid_after, valid_before).
    pub validity: Option<(u64, u64)>,
    /// `-z`: certificate serial (or KRL version).
    pub serial: u64,
    pub serial_autoinc: bool,
    /// `-h`: host certificate.
    pub cert_host: bool,
    /// `-U`: the CA key is in the agent.
    pub prefer_agent: bool,
    /// `-u`: update a KRL.
    pub update_krl: bool,
    /// `-g`: generic DNS resource records.
    pub generic_rr: bool,
}

/// A fatal error: OpenSSH's message and exit status.
#[derive(Debug)]
pub struct Fatal(pub String, pub u8);

pub fn fatal<T>(msg: impl Into<String>) -> Result<T, Fatal> {
    Err(Fatal(msg.into(), 255))
}

fn usage<T>() -> Result<T, Fatal> {
    eprint!("{USAGE}");
    Err(Fatal(String::new(), 1))
}

/// Flush stdout before writing to stderr, so the two interleave as OpenSSH's do.
pub fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// OpenSSH's log functions end stderr lines with CRLF; plain fprintf(stderr) does not.
pub fn log(msg: &str) {
    eprint!("{msg}\r\n");
}

fn parse(args: Vec<std::ffi::OsString>) -> Result<Opts, Fatal> {
    let mut o = Opts::default();
    let mut g = Getopt::new(args, OPTSTRING);
    while let Some(item) = g.next_opt() {
        let (c, arg) = match item {
            Ok(Item::Opt(c, a)) => (c, a.map(|s| s.to_string_lossy().into_owned())),
            Err(e) => {
                eprintln!("ssh-keygen: {e}");
                return usage();
            }
        };
        let a = arg.unwrap_or_default();
        match c {
            'A' => o.all_hostkeys = true,
            'b' => match a.parse::<u32>() {
                Ok(b) if b >= 1 => o.bits = Some(b),
                Ok(_) => return fatal(format!("Bits has bad value {a} (too small)")),
                Err(_) => return fatal(format!("Bits has bad value {a} (invalid)")),
            },
            'E' => match oxssh_keys::fingerprint::FpHash::parse(&a) {
                Some(h) => o.hash = Some(h),
                None => return fatal(format!("Invalid hash algorithm \"{a}\"")),
            },
            'F' => o.find_host = Some(a),
            'H' => o.hash_hosts = true,
            'I' => o.key_id = Some(a),
            'R' => o.delete_host = Some(a),
            'L' => o.show_cert = true,
            'l' => o.fingerprint = true,
            'B' => o.bubblebabble = true,
            'm' => match oxssh_keys::keyfile::Format::parse(&a) {
                Some(f) => o.format = Some(f),
                None => return fatal(format!("Unsupported conversion format \"{a}\"")),
            },
            'n' => o.principals = Some(a),
            'o' => {}
            'p' => o.change_passphrase = true,
            'c' => o.change_comment = true,
            'f' => o.file = Some(a),
            'g' => o.generic_rr = true,
            'w' => {}
            'U' => o.prefer_agent = true,
            'u' => o.update_krl = true,
            'V' => o.validity = Some(certs::parse_validity(&a)?),
            'z' => (o.serial, o.serial_autoinc) = certs::parse_serial(&a)?,
            'K' => o.download_sk = true,
            'P' => o.old_passphrase = Some(a),
            'N' => o.new_passphrase = Some(a),
            'Q' => o.check_krl = true,
            'O' => o.options.push(a),
            'Z' => match ssh_key::Cipher::new(&a) {
                Ok(c) if !c.is_none() => o.cipher = Some(c),
                _ => return fatal(format!("Invalid OpenSSH-format cipher '{a}'")),
            },
            'C' => o.comment = Some(a),
            'q' => o.quiet = true,
            'e' => o.export = true,
            'h' => o.cert_host = true,
            'k' => o.gen_krl = true,
            'i' | 'X' => o.import = true,
            'y' => o.print_public = true,
            's' => o.ca_key = Some(a),
            't' => o.key_type = Some(a),
            'D' => o.pkcs11 = true,
            'v' => o.verbose = o.verbose.saturating_add(1),
            'r' => o.rr_host = Some(a),
            'a' => match a.parse::<u32>() {
                Ok(r) if (1..=i32::MAX as u32).contains(&r) => o.rounds = Some(r),
                _ => return fatal(format!("Invalid number: {a} (invalid)")),
            },
            'Y' => o.sign_op = Some(a),
            'M' => match a.as_str() {
                "generate" => o.moduli = true,
                "screen" => {
                    o.moduli = true;
                    o.moduli_screen = true;
                }
                _ => return fatal(format!("Unsupported moduli option {a}")),
            },
            _ => return usage(),
        }
    }
    o.operands = g
        .remaining()
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    Ok(o)
}

fn run(o: Opts) -> Result<u8, Fatal> {
    if let Some(op) = &o.sign_op {
        return sig::run(&o, op);
    }
    if o.ca_key.is_some() {
        if o.operands.is_empty() && !o.gen_krl {
            log("Too few arguments.");
            return usage();
        }
    } else if !o.operands.is_empty() && !o.gen_krl && !o.check_krl && !o.moduli {
        log("Too many arguments.");
        return usage();
    }
    if o.change_passphrase && o.change_comment {
        log("Can only have one of -p and -c.");
        return usage();
    }
    if o.fingerprint && (o.delete_host.is_some() || o.hash_hosts) {
        log("Cannot use -l with -H or -R.");
        return usage();
    }
    if o.gen_krl {
        return krl::generate(&o);
    }
    if o.check_krl {
        return krl::check(&o);
    }
    if o.ca_key.is_some() {
        return certs::ca_sign(&o);
    }
    if o.show_cert {
        return certs::show_cert(&o);
    }
    if o.delete_host.is_some() || o.hash_hosts || o.find_host.is_some() {
        return cmd::known_hosts(&o);
    }
    if o.pkcs11 {
        return fatal("no pkcs11 support");
    }
    if o.download_sk {
        return fatal("security keys (FIDO) are not supported by oxssh yet");
    }
    if o.fingerprint || o.bubblebabble {
        return cmd::fingerprint(&o);
    }
    if o.change_passphrase {
        return cmd::change_passphrase(&o);
    }
    if o.change_comment {
        return cmd::change_comment(&o);
    }
    if o.export {
        return cmd::export(&o);
    }
    if o.import {
        return cmd::import(&o);
    }
    if o.print_public {
        return cmd::print_public(&o);
    }
    if let Some(host) = &o.rr_host {
        return cmd::sshfp(&o, host);
    }
    if o.moduli {
        if o.operands.is_empty() {
            return fatal("No output file specified");
        }
        if o.operands.len() > 1 {
            return fatal("Too many output files specified");
        }
        if o.moduli_screen {
            return moduli::screen(&o);
        }
        return moduli::generate(&o);
    }
    if o.all_hostkeys {
        return cmd::all_hostkeys(&o);
    }
    cmd::generate(&o)
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = parse(args).and_then(run);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Fatal(msg, code)) => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            if !msg.is_empty() {
                log(&msg);
            }
            ExitCode::from(code)
        }
    }
}
