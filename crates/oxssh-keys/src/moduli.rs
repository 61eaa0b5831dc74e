//! Screening Diffie-Hellman group-exchange moduli candidates (ssh-keygen(1) `-M
//! screen`, the format of moduli(5)): which candidate lines are safe primes, with the
//! generator OpenSSH's `prime_test` would assign, and the output line to write.
//!
//! Primality is the Baillie-PSW test of `crypto-primes` on both p and q = (p-1)/2,
//! stronger than the Miller-Rabin rounds OpenSSH counts; the "tries" field is still
//! recorded the way OpenSSH records it. Generating candidates (`-M generate`) is not
//! here. Pure: lines in, lines out; the caller supplies the timestamp.

use crypto_bigint::BoxedUint;
use crypto_primes::{Flavor, is_prime};

const TYPE_UNKNOWN: u32 = 0;
const TYPE_UNSTRUCTURED: u32 = 1;
const TYPE_SAFE: u32 = 2;
const TYPE_SCHNORR: u32 = 3;
const TYPE_SOPHIE_GERMAIN: u32 = 4;
const TYPE_STRONG: u32 = 5;
const TESTS_COMPOSITE: u32 = 0x01;
const TESTS_MILLER_RABIN: u32 = 0x04;
/// Smallest modulus size OpenSSH screens (`QSIZE_MINIMUM`).
const QSIZE_MINIMUM: u32 = 511;
/// Fewest primality trials OpenSSH accepts (`TRIAL_MINIMUM`).
pub const TRIAL_MINIMUM: u32 = 4;
/// OpenSSH's longest candidate line (`QLINESIZE`).
pub const MAX_LINE: usize = 100 + 8192;

/// What screening made of one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screened {
    /// A comment, short, malformed or unusable line (not a candidate).
    Skipped,
    /// A candidate that is not a safe prime.
    Composite,
    /// A safe prime: the moduli(5) fields after the timestamp.
    Safe {
        tests: u32,
        tries: u32,
        size: u32,
        generator: u32,
        modulus: String,
    },
}

impl Screened {
    /// Was the line a candidate (counted in OpenSSH's "of N candidates")?
    pub fn is_candidate(&self) -> bool {
        !matches!(self, Screened::Skipped)
    }

    /// The moduli(5) line for a safe prime, with `stamp` (`YYYYMMDDHHMMSS`, UTC).
    pub fn line(&self, stamp: &str) -> Option<String> {
        match self {
            Screened::Safe {
                tests,
                tries,
                size,
                generator,
                modulus,
            } => Some(format!(
                "{stamp} {TYPE_SAFE} {tests} {tries} {size} {generator:x} {modulus}"
            )),
            _ => None,
        }
    }
}

/// `strtoul(cp, &cp, radix)`: skip blanks, read digits (0 when there are none).
fn strtoul(s: &str, radix: u32) -> (u64, &str) {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let end = s.find(|c: char| !c.is_digit(radix)).unwrap_or(s.len());
    let v = s
        .get(..end)
        .and_then(|d| u64::from_str_radix(d, radix).ok())
        .unwrap_or(if end == 0 { 0 } else { u64::MAX });
    (v, s.get(end..).unwrap_or_default())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex
        .bytes()
        .take_while(u8::is_ascii_hexdigit)
        .filter_map(|c| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        })
        .collect();
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    let mut it = digits.iter();
    if digits.len() % 2 == 1
        && let Some(&d) = it.next()
    {
        out.push(d);
    }
    while let (Some(&h), Some(&l)) = (it.next(), it.next()) {
        out.push(h << 4 | l);
    }
    let lead = out.iter().position(|&b| b != 0).unwrap_or(out.len());
    out.split_off(lead)
}

fn bits(b: &[u8]) -> u32 {
    match b.first() {
        Some(&f) => {
            let n = u32::try_from(b.len()).unwrap_or(u32::MAX / 8);
            (n - 1) * 8 + (8 - f.leading_zeros())
        }
        None => 0,
    }
}

fn mod_small(b: &[u8], m: u32) -> u32 {
    b.iter().fold(0u32, |r, &x| (r * 256 + u32::from(x)) % m)
}

fn shl1_plus1(b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; b.len() + 1];
    let mut carry = 1u8;
    for (i, &x) in b.iter().enumerate().rev() {
        if let Some(o) = out.get_mut(i + 1) {
            *o = (x << 1) | carry;
        }
        carry = x >> 7;
    }
    if let Some(o) = out.first_mut() {
        *o = carry;
    }
    let lead = out.iter().position(|&x| x != 0).unwrap_or(out.len());
    out.split_off(lead)
}

fn shr1(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut carry = 0u8;
    for &x in b {
        out.push((x >> 1) | (carry << 7));
        carry = x & 1;
    }
    let lead = out.iter().position(|&x| x != 0).unwrap_or(out.len());
    out.split_off(lead)
}

fn prime(b: &[u8]) -> bool {
    !b.is_empty() && is_prime(Flavor::Any, &BoxedUint::from_be_slice_vartime(b))
}

/// OpenSSH's `prime_test` for one candidate line.
pub fn screen_line(line: &str, trials: u32, generator_wanted: u32) -> Screened {
    if line.len() < 14 || line.starts_with(['!', '#']) || line.len() > MAX_LINE {
        return Screened::Skipped;
    }
    let Some(rest) = line.get(14..) else {
        return Screened::Skipped;
    };
    let (in_type, rest) = strtoul(rest, 10);
    let (in_tests, rest) = strtoul(rest, 10);
    let in_tests = u32::try_from(in_tests).unwrap_or(u32::MAX);
    if in_tests & TESTS_COMPOSITE != 0 {
        return Screened::Skipped;
    }
    let (in_tries, rest) = strtoul(rest, 10);
    let (in_size, rest) = strtoul(rest, 10);
    let (mut generator, rest) = strtoul(rest, 16);
    let hex = rest.trim_start_matches(' ');
    let mut size = u32::try_from(in_size).unwrap_or(u32::MAX);
    let (p, q) = match u32::try_from(in_type).unwrap_or(u32::MAX) {
        TYPE_SOPHIE_GERMAIN => {
            let q = hex_bytes(hex);
            size = size.saturating_add(1);
            generator = 0;
            (shl1_plus1(&q), q)
        }
        TYPE_UNSTRUCTURED | TYPE_SAFE | TYPE_SCHNORR | TYPE_STRONG | TYPE_UNKNOWN => {
            let p = hex_bytes(hex);
            let q = shr1(&p);
            (p, q)
        }
        _ => return Screened::Skipped,
    };
    if bits(&p) != size.saturating_add(1) || size < QSIZE_MINIMUM {
        return Screened::Skipped;
    }
    let tries = if in_tests & TESTS_MILLER_RABIN != 0 {
        u32::try_from(in_tries)
            .unwrap_or(u32::MAX)
            .saturating_add(trials)
    } else {
        trials
    };
    if generator == 0 {
        if mod_small(&p, 24) == 11 {
            generator = 2;
        } else if matches!(mod_small(&p, 10), 3 | 7) {
            generator = 5;
        }
    }
    let generator = u32::try_from(generator).unwrap_or(u32::MAX);
    if (generator_wanted > 0 && generator_wanted != generator) || generator == 0 {
        return Screened::Skipped;
    }
    if !prime(&q) || !prime(&p) {
        return Screened::Composite;
    }
    let modulus: String = p.iter().map(|b| format!("{b:02X}")).collect();
    Screened::Safe {
        tests: in_tests | TESTS_MILLER_RABIN,
        tries,
        size,
        generator,
        modulus: modulus.trim_start_matches('0').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_helpers() {
        assert_eq!(shl1_plus1(&[0x80]), vec![1, 1]);
        assert_eq!(shr1(&[1, 1]), vec![0x80]);
        assert_eq!(bits(&[1, 0]), 9);
        assert_eq!(mod_small(&[1, 0], 24), 256 % 24);
        assert_eq!(hex_bytes("0aBc\n"), vec![0x0a, 0xbc]);
    }

    #[test]
    fn screens_rfc3526_group14() {
        let p = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";
        let line = format!("20160301052556 2 6 100 2047 2 {p}");
        match screen_line(&line, 100, 0) {
            Screened::Safe {
                generator, size, ..
            } => {
                assert_eq!(generator, 2);
                assert_eq!(size, 2047);
            }
            other => panic!("{other:?}"),
        }
        let composite = format!(
            "20160301052556 2 6 100 2047 2 {}",
            p.replace("C90F", "C90D")
        );
        assert_eq!(screen_line(&composite, 100, 0), Screened::Composite);
        assert_eq!(screen_line("# comment", 100, 0), Screened::Skipped);
        assert_eq!(
            screen_line("20160301052556 2 6 100 2047 2 zz", 100, 0),
            Screened::Skipped
        );
    }
}
