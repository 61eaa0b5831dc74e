//! DH group-exchange moduli (ssh-keygen(1) "MODULI GENERATION"):
//!
//! * `-M generate [-O bits=N] [-O memory=MB] [-O start=hex] output`: write sieved
//!   candidates to a new moduli(5) file (OpenSSH's `do_moduli_gen`, `gen_candidates`),
//!   with OpenSSH's progress lines and errors;
//! * `-M screen [-f candidates] [-O option…] output`: append the safe primes among the
//!   candidates (OpenSSH's `do_moduli_screen` and `prime_test`), with `lines=`,
//!   `start-line=`, `checkpoint=`, `generator=` and `prime-tests=`.
//!
//! The sieve and the test themselves are `oxssh_keys::moduli`; this file parses the
//! options, opens the files and prints the messages.

use std::io::{BufRead, Write};

use oxssh_keys::moduli;
use oxssh_keys::timefmt;

use crate::{Fatal, Opts, fatal, log};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `strtoul(s, NULL, 10)`: leading digits, 0 when none.
fn strtoul(s: &str) -> u64 {
    let s = s.trim_start();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end).map_or(0, |d| {
        d.parse().unwrap_or(if end == 0 { 0 } else { u64::MAX })
    })
}

fn write_checkpoint(path: &str, lineno: u64) {
    let tmp = format!("{path}.{:x}", now());
    if std::fs::write(&tmp, format!("{lineno}\n")).is_err() || std::fs::rename(&tmp, path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
        log(&format!("failed to write to checkpoint file '{path}'"));
    }
}

fn read_checkpoint(path: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    match text
        .lines()
        .next()
        .map(str::trim)
        .and_then(|l| l.parse::<u64>().ok())
    {
        Some(n) => {
            log(&format!("Loaded checkpoint from '{path}' line {n}"));
            n
        }
        None => {
            log(&format!("Failed to load checkpoint from '{path}'"));
            0
        }
    }
}

/// OpenSSH's `strtonum(s, min, max)`: a whole decimal number in range, or its reason.
fn strtonum(s: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    let negative = t.starts_with('-');
    match t.parse::<i64>() {
        Ok(v) if v < min => Err("too small"),
        Ok(v) if v > max => Err("too large"),
        Ok(v) => Ok(v),
        Err(_) if negative => Err("too small"),
        Err(_) => Err("too large"),
    }
}

/// The UTC `YYYYMMDDHHMMSS` that starts a moduli(5) line.
fn stamp(t: u64) -> String {
    timefmt::format_absolute(t, &timefmt::Zone::utc()).replace(['-', ':', 'T'], "")
}

/// `-M generate`: sieve candidates for safe primes into `output` (truncated first).
pub fn generate(o: &Opts) -> Result<u8, Fatal> {
    let (mut memory, mut start, mut bits) = (None, None, None);
    for opt in &o.options {
        if let Some(v) = opt.strip_prefix("memory=") {
            match strtonum(v, 1, i64::from(u32::MAX)) {
                Ok(m) => memory = Some(u32::try_from(m).unwrap_or(u32::MAX)),
                Err(why) => return fatal(format!("Memory limit is {why}: {v}")),
            }
        } else if let Some(v) = opt.strip_prefix("start=") {
            match moduli::parse_start(v) {
                Some(s) => start = Some(s),
                None => return fatal("Invalid start point."),
            }
        } else if let Some(v) = opt.strip_prefix("bits=") {
            match strtonum(v, 1, i64::from(i32::MAX)) {
                Ok(b) => bits = Some(u32::try_from(b).unwrap_or(u32::MAX)),
                // OpenSSH prints the option from its 13th byte here (a slip for the
                // value); what it shows for shorter options is undefined.
                Err(why) => {
                    let shown = opt.get(12..).unwrap_or_default();
                    return fatal(format!("Invalid number: {shown} ({why})"));
                }
            }
        } else {
            return fatal(format!(
                "Option \"{opt}\" is unsupported for moduli generation"
            ));
        }
    }
    let Some(out_path) = o.operands.first() else {
        return fatal("No output file specified");
    };
    let file = match std::fs::File::create(out_path) {
        Ok(f) => f,
        Err(e) => {
            return fatal(format!(
                "Couldn't open modulus candidate file \"{out_path}\": {}",
                crate::cmd::strerror(&e)
            ));
        }
    };
    let failed = || fatal("modulus candidate generation failed");
    let plan = match moduli::plan(bits.unwrap_or(DEFAULT_BITS), memory) {
        Ok(p) => p,
        Err(e) => {
            log(&e.to_string());
            return failed();
        }
    };
    if let Some(note) = &plan.note {
        log(note);
    }
    let start = start
        .unwrap_or_else(|| moduli::random_start(plan.power, oxssh_keys::keyfile::random_bytes));
    let mut sieve = moduli::Sieve::new(&start, plan.words);
    let zone = crate::certs::zone();
    let started = now();
    log(&format!(
        "{} Sieve next {} plus {}-bit",
        timefmt::format_ctime(started, &zone),
        plan.numbers(),
        plan.power
    ));
    if o.verbose >= 2 {
        log(&format!("debug2: start point: 0x{}", sieve.start_hex()));
    }
    sieve.run(moduli::SIEVE_PRIMES_BELOW);
    let sieved = now();
    log(&format!(
        "{} Sieved with {} small primes in {} seconds",
        timefmt::format_ctime(sieved, &zone),
        sieve.tries(),
        sieved.saturating_sub(started)
    ));
    let mut out = std::io::LineWriter::new(file);
    let mut found = 0u32;
    let mut ok = true;
    let (mut stamp_at, mut stamp_text) = (0, String::new());
    for j in sieve.candidates() {
        if o.verbose >= 2 {
            log(&format!("debug2: test q = largebase+{}", u64::from(j) * 2));
        }
        let t = now();
        if t != stamp_at || stamp_text.is_empty() {
            (stamp_at, stamp_text) = (t, stamp(t));
        }
        let line = moduli::candidate_line(
            &stamp_text,
            sieve.tries(),
            plan.power,
            &sieve.candidate_hex(j),
        );
        if writeln!(out, "{line}").is_err() {
            ok = false;
            break;
        }
        found += 1;
    }
    if out.flush().is_err() {
        ok = false;
    }
    log(&format!(
        "{} Found {found} candidates",
        timefmt::format_ctime(now(), &zone)
    ));
    if ok { Ok(0) } else { failed() }
}

/// `-O bits=` when not given (OpenSSH's `DEFAULT_BITS`).
const DEFAULT_BITS: u32 = 3072;

/// `-M screen`.
pub fn screen(o: &Opts) -> Result<u8, Fatal> {
    let mut checkpoint: Option<String> = None;
    let mut generator_wanted = 0u32;
    let (mut start, mut lines) = (0u64, 0u64);
    let mut trials = 0u32;
    for opt in &o.options {
        if let Some(v) = opt.strip_prefix("lines=") {
            lines = strtoul(v);
        } else if let Some(v) = opt.strip_prefix("start-line=") {
            start = strtoul(v);
        } else if let Some(v) = opt.strip_prefix("checkpoint=") {
            checkpoint = Some(v.to_owned());
        } else if let Some(v) = opt.strip_prefix("generator=") {
            match v.parse::<u32>() {
                Ok(g) if g >= 1 => generator_wanted = g,
                Ok(_) => return fatal(format!("Generator invalid: {v} (too small)")),
                Err(_) => return fatal(format!("Generator invalid: {v} (invalid)")),
            }
        } else if let Some(v) = opt.strip_prefix("prime-tests=") {
            match v.parse::<u32>() {
                Ok(t) if (1..=i32::MAX as u32).contains(&t) => trials = t,
                Ok(_) => return fatal(format!("Invalid number: {v} (too small)")),
                Err(_) => return fatal(format!("Invalid number: {v} (invalid)")),
            }
        } else {
            return fatal(format!(
                "Option \"{opt}\" is unsupported for moduli screening"
            ));
        }
    }
    let Some(out_path) = o.operands.first() else {
        return fatal("No output file specified");
    };
    let input: Box<dyn BufRead> = match o.file.as_deref() {
        Some(f) if f != "-" => match std::fs::File::open(f) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(e) => {
                return fatal(format!(
                    "Couldn't open modulus candidate file \"{f}\": {}",
                    crate::cmd::strerror(&e)
                ));
            }
        },
        _ => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let mut out = match std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(out_path)
    {
        Ok(f) => f,
        Err(e) => {
            return fatal(format!(
                "Couldn't open moduli file \"{out_path}\": {}",
                crate::cmd::strerror(&e)
            ));
        }
    };
    let trials = if trials == 0 { 100 } else { trials };
    if trials < moduli::TRIAL_MINIMUM {
        log(&format!(
            "Minimum primality trials is {}",
            moduli::TRIAL_MINIMUM
        ));
        return fatal("modulus screening failed");
    }
    let end = if lines == 0 {
        u64::MAX
    } else {
        start.saturating_add(lines)
    };
    let last = checkpoint.as_deref().map_or(0, read_checkpoint).max(start);
    let started = now();
    let (mut count_in, mut count_out, mut possible) = (0u64, 0u32, 0u32);
    for line in input.split(b'\n') {
        if count_in >= end {
            break;
        }
        let Ok(line) = line else { break };
        count_in += 1;
        if count_in <= last {
            continue;
        }
        if let Some(cp) = &checkpoint {
            write_checkpoint(cp, count_in);
        }
        let text = String::from_utf8_lossy(&line);
        let r = moduli::screen_line(&text, trials, generator_wanted);
        if r.is_candidate() {
            possible += 1;
        }
        if let Some(l) = r.line(&stamp(now())) {
            if let Err(e) = writeln!(out, "{l}") {
                return fatal(format!(
                    "modulus screening failed: {}",
                    crate::cmd::strerror(&e)
                ));
            }
            count_out += 1;
        }
    }
    if let Some(cp) = &checkpoint {
        let _ = std::fs::remove_file(cp);
    }
    let stop = now();
    log(&format!(
        "{} Found {count_out} safe primes of {possible} candidates in {} seconds",
        timefmt::format_ctime(stop, &crate::certs::zone()),
        stop.saturating_sub(started)
    ));
    Ok(0)
}
