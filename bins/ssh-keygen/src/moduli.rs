//! `-M screen [-f candidates] [-O option…] output`: append the safe primes among DH
//! group-exchange candidates to a moduli(5) file (OpenSSH's `do_moduli_screen` and
//! `prime_test`), with `lines=`, `start-line=`, `checkpoint=`, `generator=` and
//! `prime-tests=`. The test itself is `oxssh_keys::moduli`. `-M generate` is not
//! implemented.

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

/// `-M generate`.
pub fn generate(_o: &Opts) -> Result<u8, Fatal> {
    fatal("moduli generation (-M generate) is not implemented in oxssh yet")
}

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
        let stamp =
            timefmt::format_absolute(now(), &timefmt::Zone::utc()).replace(['-', ':', 'T'], "");
        if let Some(l) = r.line(&stamp) {
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
