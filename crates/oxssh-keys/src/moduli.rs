//! Diffie-Hellman group-exchange moduli (ssh-keygen(1) "MODULI GENERATION", the format
//! of moduli(5)), in OpenSSH's two steps:
//!
//! * generating candidates (`-M generate`, OpenSSH's `gen_candidates`): a sieve over
//!   q = start + 2j that strikes every q for which q or p = 2q + 1 has a small odd prime
//!   factor; what survives is written as moduli(5) lines of type 4 (Sophie Germain),
//!   tests 0x02 (sieve), tries = the number of small primes used, size = bits of q - 1,
//!   generator 0, and q in hex — what OpenSSH 9.2 writes and `-M screen` reads;
//! * screening (`-M screen`, `prime_test`): which candidate lines are safe primes, with
//!   the generator OpenSSH would assign, and the output line to write.
//!
//! The sieve's size follows OpenSSH (bits² / 4 words of 32 bits, or `-O memory=` MB),
//! so its memory is bounded: at most 127 MB, and a 64 KiB window for finding the small
//! primes. Unlike OpenSSH, which sieves with every prime below 2³² (minutes for
//! 1024 bits), it sieves with the primes below [`SIEVE_PRIMES_BELOW`]: seconds, at the
//! cost of some more candidates for the screening step to reject.
//!
//! Primality is the Baillie-PSW test of `crypto-primes` on both p and q = (p-1)/2,
//! stronger than the Miller-Rabin rounds OpenSSH counts; the "tries" field is still
//! recorded the way OpenSSH records it. Pure: no I/O; the caller supplies the
//! timestamp and the random start.

use crypto_bigint::BoxedUint;
use crypto_primes::{Flavor, is_prime};

const TYPE_UNKNOWN: u32 = 0;
const TYPE_UNSTRUCTURED: u32 = 1;
const TYPE_SAFE: u32 = 2;
const TYPE_SCHNORR: u32 = 3;
const TYPE_SOPHIE_GERMAIN: u32 = 4;
const TYPE_STRONG: u32 = 5;
const TESTS_COMPOSITE: u32 = 0x01;
const TESTS_SIEVE: u32 = 0x02;
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

/// Fewest bits `-M generate` makes (OpenSSH's `TEST_MINIMUM`).
pub const GENERATE_MIN_BITS: u32 = QSIZE_MINIMUM + 1;
/// Most bits `-M generate` makes (`TEST_MAXIMUM`).
pub const GENERATE_MAX_BITS: u32 = 1 << 16;
/// Smallest and largest `-O memory=` in MB (`LARGE_MINIMUM`, `LARGE_MAXIMUM`).
pub const MEMORY_MIN_MB: u32 = 8;
pub const MEMORY_MAX_MB: u32 = 127;
/// The sieve strikes multiples of the odd primes below this. OpenSSH uses 2³², which
/// leaves about 30% fewer candidates for 1024 bits but takes a hundred times longer.
pub const SIEVE_PRIMES_BELOW: u32 = 1 << 28;
/// 32-bit words in a megabyte (`SHIFT_MEGAWORD`).
const WORDS_PER_MB_SHIFT: u32 = 18;

/// Why candidate generation could not start; `Display` gives OpenSSH's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("Invalid memory amount (min {MEMORY_MIN_MB}, max {MEMORY_MAX_MB})")]
    Memory,
    #[error("Too many bits: {0} > {GENERATE_MAX_BITS}")]
    TooManyBits(u32),
    #[error("Too few bits: {0} < {GENERATE_MIN_BITS}")]
    TooFewBits(u32),
}

/// The sieve `gen_candidates` sets up for a modulus size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SievePlan {
    /// Bits of q (one less than the modulus).
    pub power: u32,
    /// 32-bit words of sieve: each bit stands for one odd q.
    pub words: u32,
    /// OpenSSH's note when `-O memory=` changed the size ("Increased memory: …").
    pub note: Option<String>,
}

impl SievePlan {
    /// How many integers the sieve spans (`largenumbers`, in "Sieve next N plus …").
    pub fn numbers(&self) -> u64 {
        u64::from(self.words) * 64
    }
}

/// Size the sieve for `bits`-bit moduli as OpenSSH's `gen_candidates` does: about
/// (bits-1)² / 4 words, so that some safe prime is likely among them, or exactly
/// `memory_mb` megabytes when given. Without `memory_mb` the size is also capped at
/// [`MEMORY_MAX_MB`] (from about 11500 bits up), where OpenSSH would try for gigabytes.
pub fn plan(bits: u32, memory_mb: Option<u32>) -> Result<SievePlan, GenerateError> {
    if let Some(m) = memory_mb
        && !(MEMORY_MIN_MB..=MEMORY_MAX_MB).contains(&m)
    {
        return Err(GenerateError::Memory);
    }
    if bits > GENERATE_MAX_BITS {
        return Err(GenerateError::TooManyBits(bits));
    }
    if bits < GENERATE_MIN_BITS {
        return Err(GenerateError::TooFewBits(bits));
    }
    let power = bits - 1;
    let want = u32::try_from((u64::from(power) * u64::from(power)) >> 2).unwrap_or(u32::MAX);
    let (words, note) = match memory_mb {
        Some(m) => {
            let have = m << WORDS_PER_MB_SHIFT;
            let verb = if want <= have {
                "Increased"
            } else {
                "Decreased"
            };
            let what = if want <= have { "need" } else { "want" };
            let bytes = want.wrapping_mul(4);
            (
                have,
                Some(format!("{verb} memory: {m} MB; {what} {bytes} bytes")),
            )
        }
        None => (want.min(MEMORY_MAX_MB << WORDS_PER_MB_SHIFT), None),
    };
    Ok(SievePlan { power, words, note })
}

/// A random start for q: `power` bits with the top two set (so 2q + 1 has the full
/// size) and odd, as OpenSSH's `BN_rand(…, 1, 1)`. `fill` supplies random bytes.
pub fn random_start(power: u32, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let len = usize::try_from(power.div_ceil(8)).unwrap_or(0);
    let mut b = vec![0u8; len];
    fill(&mut b);
    let top_bits = (power - 1) % 8 + 1;
    if let Some(first) = b.first_mut() {
        *first &= u8::MAX >> (8 - top_bits);
        *first |= 1 << (top_bits - 1);
    }
    // The second-highest bit may be in the next byte down.
    let second = power.saturating_sub(2);
    let idx = len.saturating_sub(1 + usize::try_from(second / 8).unwrap_or(0));
    if let Some(byte) = b.get_mut(idx) {
        *byte |= 1 << (second % 8);
    }
    if let Some(last) = b.last_mut() {
        *last |= 1;
    }
    b
}

/// `-O start=`: OpenSSH's `BN_hex2bn` takes the leading hex digits and needs one.
/// A negative start (which OpenSSH would take) is refused.
pub fn parse_start(s: &str) -> Option<Vec<u8>> {
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_hexdigit()).len();
    let b = hex_bytes(s.get(..digits)?);
    (digits > 0).then(|| if b.is_empty() { vec![0] } else { b })
}

/// One moduli(5) candidate line as `gen_candidates` writes it (`qfileout`).
pub fn candidate_line(stamp: &str, tries: u32, power: u32, q_hex: &str) -> String {
    format!(
        "{stamp} {TYPE_SOPHIE_GERMAIN} {TESTS_SIEVE} {tries} {} 0 {q_hex}",
        power.saturating_sub(1)
    )
}

/// The sieve over q = start + 2j, j < 32·words: bit j is set once q or 2q + 1 is known
/// to have a small factor.
#[derive(Clone, Debug)]
pub struct Sieve {
    /// The (odd) start, as 32-bit limbs, least significant first.
    base: Vec<u32>,
    marks: Vec<u32>,
    tries: u32,
}

impl Sieve {
    /// A sieve of `words` 32-bit words from `start` (big-endian; made odd).
    pub fn new(start: &[u8], words: u32) -> Sieve {
        let mut base: Vec<u32> = start
            .rchunks(4)
            .map(|c| c.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)))
            .collect();
        match base.first_mut() {
            Some(l) => *l |= 1,
            None => base.push(1),
        }
        while base.len() > 1 && base.last() == Some(&0) {
            base.pop();
        }
        Sieve {
            base,
            marks: vec![0; usize::try_from(words).unwrap_or(0)],
            tries: 0,
        }
    }

    /// How many small primes were sieved with (the "tries" field).
    pub fn tries(&self) -> u32 {
        self.tries
    }

    fn len_bits(&self) -> u64 {
        self.marks.len() as u64 * 32
    }

    /// The start, in hex (OpenSSH's debug2 "start point").
    pub fn start_hex(&self) -> String {
        limbs_hex(&self.base)
    }

    /// Strike the multiples of every odd prime below `below`. Slow part of generation:
    /// a segmented sieve of Eratosthenes finds the primes a window at a time.
    pub fn run(&mut self, below: u32) {
        let below = u64::from(below);
        let root = (below as f64).sqrt() as u64 + 1;
        // Odd primes up to √below, by a plain sieve.
        let mut small = vec![true; usize::try_from(root + 1).unwrap_or(0)];
        let mut roots: Vec<u64> = Vec::new();
        let mut i = 3u64;
        while i <= root {
            if small.get(i as usize) == Some(&true) {
                roots.push(i);
                let mut k = i * i;
                while k <= root {
                    if let Some(f) = small.get_mut(k as usize) {
                        *f = false;
                    }
                    k += 2 * i;
                }
            }
            i += 2;
        }
        // Window of odd numbers lo, lo+2, …: WINDOW of them at a time.
        const WINDOW: u64 = 1 << 16;
        let mut composite = vec![false; WINDOW as usize];
        let mut batch = [0u32; BATCH];
        let mut batched = 0usize;
        let mut lo = 3u64;
        while lo < below {
            let hi = (lo + 2 * WINDOW).min(below);
            composite.iter_mut().for_each(|c| *c = false);
            for &r in &roots {
                if r * r >= hi {
                    break;
                }
                // First odd multiple of r that is ≥ max(lo, r²).
                let mut m = (r * r).max(lo.div_ceil(r) * r);
                if m % 2 == 0 {
                    m += r;
                }
                while m < hi {
                    if let Some(c) = composite.get_mut(((m - lo) / 2) as usize) {
                        *c = true;
                    }
                    m += 2 * r;
                }
            }
            let count = ((hi - lo).div_ceil(2)) as usize;
            for (k, c) in composite.iter().take(count).enumerate() {
                if !*c {
                    let p = lo + 2 * k as u64;
                    if let Some(slot) = batch.get_mut(batched) {
                        *slot = u32::try_from(p).unwrap_or(u32::MAX);
                    }
                    batched += 1;
                    if batched == BATCH {
                        self.strike_batch(&batch);
                        batched = 0;
                    }
                }
            }
            lo = hi;
        }
        for &s in batch.iter().take(batched) {
            let r = mod_small_limbs(&self.base, s);
            self.strike(s, r);
        }
    }

    fn strike_batch(&mut self, primes: &[u32; BATCH]) {
        let residues = mod_small_limbs_batch(&self.base, primes);
        for (&s, &r) in primes.iter().zip(residues.iter()) {
            self.strike(s, r);
        }
    }

    /// OpenSSH's `sieve_large`: strike each j for which s divides q_j or 2·q_j + 1,
    /// given r = start mod s.
    fn strike(&mut self, s: u32, r: u64) {
        self.tries += 1;
        let s64 = u64::from(s);
        let bits = self.len_bits();
        // q_j = base + 2j: base + u is a multiple of s; make u even, j = u / 2.
        let mut u = if r == 0 { 0 } else { s64 - r };
        if u < bits * 2 {
            if u & 1 == 1 {
                u += s64;
            }
            self.mark_from(u / 2, s64);
        }
        // p_j = 2·base + 1 + 4j.
        let r = (2 * r + 1) % s64;
        let mut u = if r == 0 { 0 } else { s64 - r };
        if u < bits * 4 {
            while u & 3 != 0 {
                u += s64;
            }
            self.mark_from(u / 4, s64);
        }
    }

    fn mark_from(&mut self, mut j: u64, step: u64) {
        let bits = self.len_bits();
        while j < bits {
            if let Some(w) = self.marks.get_mut((j / 32) as usize) {
                *w |= 1 << (j % 32);
            }
            j += step;
        }
    }

    /// The offsets j of the survivors, in order.
    pub fn candidates(&self) -> impl Iterator<Item = u32> + '_ {
        self.marks.iter().enumerate().flat_map(|(w, &bits)| {
            (0..32u32)
                .filter(move |b| bits & (1 << b) == 0)
                .filter_map(move |b| u32::try_from(w * 32).ok()?.checked_add(b))
        })
    }

    /// q = start + 2j in hex, as `BN_print_fp` writes it.
    pub fn candidate_hex(&self, j: u32) -> String {
        let mut limbs = self.base.clone();
        let mut carry = u64::from(j) * 2;
        for l in limbs.iter_mut() {
            if carry == 0 {
                break;
            }
            let sum = u64::from(*l) + carry;
            *l = sum as u32;
            carry = sum >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        limbs_hex(&limbs)
    }
}

/// `BN_bn2hex` / `BN_print_fp`: upper-case hex without leading zeros.
fn limbs_hex(limbs: &[u32]) -> String {
    let s: String = limbs.iter().rev().map(|l| format!("{l:08X}")).collect();
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.to_owned()
    }
}

/// Primes reduced together: independent chains of multiplications keep the CPU busy.
const BATCH: usize = 8;

/// `mod_small_limbs` for several primes in one pass over the limbs.
fn mod_small_limbs_batch(limbs: &[u32], s: &[u32; BATCH]) -> [u64; BATCH] {
    let s = s.map(u64::from);
    let inv = s.map(|s| u64::MAX / s.max(1));
    let mut r = [0u64; BATCH];
    for &l in limbs.iter().rev() {
        for ((r, &s), &inv) in r.iter_mut().zip(s.iter()).zip(inv.iter()) {
            let x = *r << 32 | u64::from(l);
            let q = ((u128::from(x) * u128::from(inv)) >> 64) as u64;
            let mut v = x - q * s;
            if v >= s {
                v -= s;
            }
            *r = v;
        }
    }
    r
}

/// `x mod s` for a number in 32-bit limbs (least significant first) and an odd s ≥ 3,
/// by a fixed-point reciprocal: one multiply per limb instead of a division.
fn mod_small_limbs(limbs: &[u32], s: u32) -> u64 {
    let s = u64::from(s);
    let inv = u64::MAX / s;
    let mut r = 0u64;
    for &l in limbs.iter().rev() {
        // x < s·2³², and the estimated quotient is at most one short.
        let x = r << 32 | u64::from(l);
        let q = ((u128::from(x) * u128::from(inv)) >> 64) as u64;
        r = x - q * s;
        if r >= s {
            r -= s;
        }
    }
    r
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
    fn sieve_plan_follows_openssh() {
        let p = plan(1024, None).unwrap();
        assert_eq!((p.power, p.numbers(), p.note), (1023, 16_744_448, None));
        assert_eq!(plan(3072, None).unwrap().numbers(), 150_896_640);
        assert_eq!(plan(512, None).unwrap().numbers(), 4_177_920);
        assert_eq!(
            plan(1024, Some(8)).unwrap().note.as_deref(),
            Some("Increased memory: 8 MB; need 1046528 bytes")
        );
        let p = plan(3072, Some(8)).unwrap();
        assert_eq!(p.words, 8 << 18);
        assert_eq!(
            p.note.as_deref(),
            Some("Decreased memory: 8 MB; want 9431040 bytes")
        );
        // Without -O memory the sieve stays within 127 MB.
        assert_eq!(plan(65536, None).unwrap().words, 127 << 18);
        assert_eq!(plan(1024, Some(7)), Err(GenerateError::Memory));
        assert_eq!(plan(100, Some(200)), Err(GenerateError::Memory));
        assert_eq!(plan(511, None), Err(GenerateError::TooFewBits(511)));
        assert_eq!(plan(65537, None), Err(GenerateError::TooManyBits(65537)));
        assert_eq!(
            GenerateError::TooFewBits(100).to_string(),
            "Too few bits: 100 < 512"
        );
    }

    #[test]
    fn starts_have_the_right_shape() {
        for power in [511u32, 1023, 1024, 1025, 3071] {
            let b = random_start(power, |b| b.fill(0));
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let s = Sieve::new(&b, 1);
            let top = s.start_hex();
            assert_eq!(bits(&hex_bytes(&top)), power, "{hex}");
            // Top two bits set, odd.
            let q = BoxedUint::from_be_slice_vartime(&b);
            assert!(q.bit_vartime(power - 2) && q.bit_vartime(0));
            assert_eq!(random_start(power, |b| b.fill(0xff)).len(), b.len());
            let ones = random_start(power, |b| b.fill(0xff));
            assert_eq!(bits(&ones), power);
        }
        assert_eq!(parse_start("1x"), Some(vec![1]));
        assert_eq!(parse_start("00"), Some(vec![0]));
        assert_eq!(parse_start("abC"), Some(vec![0x0a, 0xbc]));
        assert_eq!(parse_start("zz"), None);
        assert_eq!(parse_start(""), None);
        assert_eq!(parse_start("-5"), None);
    }

    #[test]
    fn sieve_strikes_exactly_the_small_factors() {
        let start: u128 = 0xF123_4567_89AB_CDEF_0011_2233;
        let mut s = Sieve::new(&start.to_be_bytes(), 8);
        s.run(1000);
        let primes: Vec<u128> = (3..1000u128)
            .filter(|n| {
                (2..*n)
                    .take_while(|d| d * d <= *n)
                    .all(|d| !n.is_multiple_of(d))
            })
            .collect();
        assert_eq!(s.tries() as usize, primes.len());
        let got: Vec<u32> = s.candidates().collect();
        let want: Vec<u32> = (0..256u32)
            .filter(|&j| {
                let q = start + 2 * u128::from(j);
                primes
                    .iter()
                    .all(|p| !q.is_multiple_of(*p) && !(2 * q + 1).is_multiple_of(*p))
            })
            .collect();
        assert_eq!(got, want);
        let j = *got.first().unwrap();
        assert_eq!(
            s.candidate_hex(j),
            format!("{:X}", start + 2 * u128::from(j))
        );
        let line = candidate_line("20260101000000", 166, 1023, "ABC");
        assert_eq!(line, "20260101000000 4 2 166 1022 0 ABC");
    }

    /// A 1024-bit safe prime that `-M generate` found and OpenSSH's `-M screen` kept
    /// (with generator 2, since it is 11 mod 24).
    const SAFE_1024: &str = "F0499D90DBC7A99AAEB46A5A8F85B24CADCB4DF81C4A24983375FC2C1E32B1294923AC1565CCDE46275B3BE2A37E3F2C004B62C1A23440A6F666DA9CC35721E87D72C3424E81B4D18680E052240F9A966D3C672C131470C79F9A0471935A4FA88CE76CE718854B39EBAE993CA0BB4908CBCBD02DF858265636F8C250FC3CB3B3";

    #[test]
    fn generated_lines_are_screened_as_sophie_germain_candidates() {
        // q = (p - 1) / 2, written as the generator writes it.
        let q: String = shr1(&hex_bytes(SAFE_1024))
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let line = candidate_line("20260101000000", 14_630_842, 1023, &q);
        assert!(line.starts_with("20260101000000 4 2 14630842 1022 0 7824CEC8"));
        match screen_line(&line, 100, 0) {
            Screened::Safe {
                tests,
                size,
                generator,
                modulus,
                ..
            } => {
                assert_eq!((tests, size, generator), (0x06, 1023, 2));
                assert_eq!(modulus, SAFE_1024);
            }
            other => panic!("{other:?}"),
        }
        // A neighbour of q is no Sophie Germain prime.
        let odd = candidate_line(
            "20260101000000",
            1,
            1023,
            &format!("{}1", &q[..q.len() - 1]),
        );
        assert_eq!(screen_line(&odd, 100, 0), Screened::Composite);
    }

    #[test]
    fn reductions_agree() {
        let limbs: Vec<u32> = (1..=40u32).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
        let primes = [
            3u32,
            5,
            65_521,
            1_000_003,
            16_777_213,
            268_435_399,
            4_294_967_291,
            7,
        ];
        let batch = mod_small_limbs_batch(&limbs, &primes);
        for (&p, &r) in primes.iter().zip(batch.iter()) {
            let slow = limbs
                .iter()
                .rev()
                .fold(0u64, |r, &l| ((r << 32) | u64::from(l)) % u64::from(p));
            assert_eq!(r, slow, "{p}");
            assert_eq!(mod_small_limbs(&limbs, p), slow, "{p}");
        }
    }

    const P14: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

    #[test]
    fn screens_rfc3526_group14() {
        let p = P14;
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
