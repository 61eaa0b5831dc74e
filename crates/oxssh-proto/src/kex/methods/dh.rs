//! Finite-field Diffie-Hellman: groups, the exchange values `e`/`f`, the shared secret, and
//! the server's group choice for DH group exchange.
//!
//! Implements the arithmetic side of RFC 4253 §8 (`e = g^x mod p`, `K = f^x mod p`, values
//! outside `[1, p-1]` refused), RFC 4419 §3 (group exchange: the server picks a safe prime
//! from its moduli file, moduli(5) format) and RFC 8268 (the SHA-2 groups). The checks on
//! a peer's public value follow OpenSSH's `dh_pub_is_valid` (1 < y < p-1 and more than
//! three bits set), and the group choice its `choose_dh`.
//!
//! Not here: the GEX request/group messages and the min/n/max range check against what the
//! client asked for (the transport in `kex/mod.rs` owns those), and the exchange hash.
//! Modular exponentiation is `crypto-bigint`'s constant-time Montgomery ladder; nothing
//! here does arithmetic of its own.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::groups;
use crate::Error;
use crate::wire::Put;

/// OpenSSH's `DH_GRP_MIN`: the smallest group a GEX server offers.
pub const DH_GRP_MIN: u32 = 2048;
/// OpenSSH's `DH_GRP_MAX`: the largest group a GEX server offers.
pub const DH_GRP_MAX: u32 = 8192;

/// The smallest modulus we compute with at all (the RFC 2409 1024-bit group); anything
/// smaller is refused before exponentiation.
const MIN_MODULUS_BITS: usize = 1024;
/// The largest modulus we compute with: bounds the work a peer can make us do.
const MAX_MODULUS_BITS: usize = DH_GRP_MAX as usize;

/// Length of our secret exponent in bits. OpenSSH uses twice the strength the negotiated
/// cipher and MAC need (at least 512 bits, 1024 with chacha20-poly1305 or hmac-sha2-512);
/// we always take the larger figure, capped below the modulus size.
const EXPONENT_BITS: usize = 1024;

/// A Diffie-Hellman group: safe prime `p` and generator `g`, both as unsigned big-endian
/// magnitudes (leading zero bytes allowed; they are ignored).
#[derive(Clone, PartialEq, Eq)]
pub struct DhGroup {
    pub p: Vec<u8>,
    pub g: Vec<u8>,
}

impl std::fmt::Debug for DhGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhGroup")
            .field("bits", &self.bits())
            .field("g", &self.g)
            .finish_non_exhaustive()
    }
}

impl DhGroup {
    fn fixed(hex: &str) -> Self {
        DhGroup {
            p: decode_hex(hex),
            g: vec![2],
        }
    }

    /// RFC 2409 Second Oakley Group (1024 bits), for `diffie-hellman-group1-sha1`.
    pub fn group1() -> Self {
        Self::fixed(groups::GROUP1_P)
    }

    /// RFC 3526 group 14 (2048 bits), for `diffie-hellman-group14-sha1`/`-sha256`.
    pub fn group14() -> Self {
        Self::fixed(groups::GROUP14_P)
    }

    /// RFC 3526 group 16 (4096 bits), for `diffie-hellman-group16-sha512`.
    pub fn group16() -> Self {
        Self::fixed(groups::GROUP16_P)
    }

    /// RFC 3526 group 18 (8192 bits), for `diffie-hellman-group18-sha512`.
    pub fn group18() -> Self {
        Self::fixed(groups::GROUP18_P)
    }

    /// Size of the modulus in bits (what OpenSSH's `BN_num_bits(p)` reports, and what the
    /// GEX client compares against its min/max).
    pub fn bits(&self) -> usize {
        bit_len(&self.p)
    }

    /// OpenSSH's `dh_new_group_fallback`: the built-in group for a GEX request whose
    /// moduli file cannot be read, chosen by the client's maximum.
    pub fn fallback(max: u32) -> Self {
        if max < 3072 {
            Self::group14()
        } else if max < 6144 {
            Self::group16()
        } else {
            Self::group18()
        }
    }
}

/// OpenSSH's `dh_estimate`: the group size a GEX client asks for given the symmetric
/// strength (in bits) it needs, from NIST SP 800-57 capped at RFC 4419's 8192.
pub fn dh_estimate(bits: u32) -> u32 {
    if bits <= 112 {
        2048
    } else if bits <= 128 {
        3072
    } else if bits <= 192 {
        7680
    } else {
        8192
    }
}

/// One usable line of a moduli(5) file.
#[derive(Clone, PartialEq, Eq)]
pub struct ModuliEntry {
    /// Modulus size in bits (the file's size field plus one, as OpenSSH reads it).
    pub bits: u32,
    pub group: DhGroup,
}

impl std::fmt::Debug for ModuliEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuliEntry")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// moduli(5) type field value for a safe prime (`MODULI_TYPE_SAFE`).
const MODULI_TYPE_SAFE: u32 = 2;
/// moduli(5) tests bit: found composite (`MODULI_TESTS_COMPOSITE`).
const MODULI_TESTS_COMPOSITE: u32 = 0x01;

/// Parse the text of a moduli(5) file (`/etc/ssh/moduli`), keeping the lines OpenSSH's
/// `parse_prime` accepts: `time type tests tries size generator modulus`, where type is 2
/// (safe prime), tests has some test bit and not the composite bit, tries is non-zero,
/// the modulus really has size+1 bits, and the generator is greater than 1. Comments,
/// blank lines and bad lines are skipped, as sshd does (it logs and moves on).
pub fn parse_moduli(text: &str) -> Vec<ModuliEntry> {
    text.lines().filter_map(parse_moduli_line).collect()
}

fn parse_moduli_line(line: &str) -> Option<ModuliEntry> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_ascii_whitespace();
    let _time = fields.next()?;
    let kind: u32 = fields.next()?.parse().ok()?;
    let tests: u32 = fields.next()?.parse().ok()?;
    let tries: u32 = fields.next()?.parse().ok()?;
    let size: u32 = fields.next()?.parse().ok()?;
    let gen_hex = fields.next()?;
    let p_hex = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    if kind != MODULI_TYPE_SAFE
        || tests > 0x1f
        || tests & MODULI_TESTS_COMPOSITE != 0
        || tests & !MODULI_TESTS_COMPOSITE == 0
        || tries == 0
        || tries > 1 << 30
        || size == 0
        || size > 64 * 1024
    {
        return None;
    }
    let bits = size + 1;
    let p = parse_hex_strict(p_hex)?;
    let g = parse_hex_strict(gen_hex)?;
    if bit_len(&p) != bits as usize || bit_len(&g) < 2 {
        return None;
    }
    Some(ModuliEntry {
        bits,
        group: DhGroup { p, g },
    })
}

/// The server's answer to SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 §3), as OpenSSH's
/// `input_kex_dh_gex_request` + `choose_dh` give it.
///
/// `moduli` is the parsed moduli file; empty (no file, or nothing usable in it) means the
/// built-in RFC 3526 group chosen by `max`, as sshd does when it cannot read the file.
/// Returns `None` when the request is out of range (`max < min`, `want` outside
/// `[min, max]`, `max` below 2048) or the file has no prime within `[min, max]`
/// (clamped to 2048..8192): OpenSSH then disconnects with "no matching DH grp found".
///
/// Among the primes of the best size (the smallest above `want`, else the largest below
/// it), one is picked at random (from the thread's OS-seeded generator), so clients do
/// not all share one group; [`choose_group_with_rng`] takes the generator explicitly.
pub fn choose_group(moduli: &[ModuliEntry], min: u32, want: u32, max: u32) -> Option<DhGroup> {
    choose_group_with_rng(moduli, min, want, max, &mut rand::rng())
}

/// [`choose_group`] with an explicit random generator (deterministic in tests).
pub fn choose_group_with_rng(
    moduli: &[ModuliEntry],
    min: u32,
    want: u32,
    max: u32,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Option<DhGroup> {
    if max < min || want < min || max < want || max < DH_GRP_MIN {
        return None;
    }
    let min = min.max(DH_GRP_MIN);
    let max = max.min(DH_GRP_MAX);
    let want = want.clamp(DH_GRP_MIN, DH_GRP_MAX);
    if moduli.is_empty() {
        return Some(DhGroup::fallback(max));
    }
    let in_range = || moduli.iter().filter(|m| m.bits >= min && m.bits <= max);
    let mut best = 0u32;
    for m in in_range() {
        if (m.bits > want && m.bits < best) || (m.bits > best && best < want) {
            best = m.bits;
        }
    }
    let count = in_range().filter(|m| m.bits == best).count();
    if count == 0 {
        return None;
    }
    let which = uniform_below(rng, count);
    in_range()
        .filter(|m| m.bits == best)
        .nth(which)
        .map(|m| m.group.clone())
}

/// A uniformly random index below `n` (n > 0), by rejection sampling.
fn uniform_below(rng: &mut (impl CryptoRng + ?Sized), n: usize) -> usize {
    let n = n as u64;
    if n <= 1 {
        return 0;
    }
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// A group ready for arithmetic: the modulus in Montgomery form, the generator reduced.
pub(super) struct Prepared {
    params: BoxedMontyParams,
    p_minus_1: BoxedUint,
    g: BoxedUint,
    /// Modulus length in bytes, the length of every fixed-width value below.
    p_len: usize,
    p_bits: usize,
}

impl Prepared {
    /// Validate a group (from our table or from a GEX server) and set it up: odd `p` of
    /// 1024 to 8192 bits, `1 < g < p-1`.
    pub(super) fn new(group: &DhGroup) -> Result<Self, Error> {
        let p_bytes = strip_zeros(&group.p);
        let p_bits = bit_len(p_bytes);
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&p_bits) {
            return Err(Error::Kex("DH group size out of range"));
        }
        let precision = precision_for(p_bits);
        let p = BoxedUint::from_be_slice(p_bytes, precision)
            .map_err(|_| Error::Kex("invalid DH modulus"))?;
        let p: Odd<BoxedUint> =
            Option::from(Odd::new(p)).ok_or(Error::Kex("DH modulus is even"))?;
        let p_minus_1 = p
            .as_ref()
            .wrapping_sub(BoxedUint::one_with_precision(precision));
        let g_bytes = strip_zeros(&group.g);
        if g_bytes.len() > p_bytes.len() {
            return Err(Error::Kex("invalid DH generator"));
        }
        let g = BoxedUint::from_be_slice(g_bytes, precision)
            .map_err(|_| Error::Kex("invalid DH generator"))?;
        let one = BoxedUint::one_with_precision(precision);
        if g <= one || g >= p_minus_1 {
            return Err(Error::Kex("invalid DH generator"));
        }
        Ok(Prepared {
            params: BoxedMontyParams::new_vartime(p),
            p_minus_1,
            g,
            p_len: p_bytes.len(),
            p_bits,
        })
    }

    /// Generate our secret exponent `x` and public value `e = g^x mod p`, returning `x` and
    /// `e` as an `mpint` wire encoding.
    pub(super) fn keygen(
        &self,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Secret, Vec<u8>), Error> {
        let x_bits = EXPONENT_BITS.min(self.p_bits.saturating_sub(1));
        let x_len = x_bits.div_ceil(8);
        // A fresh random exponent gives a valid public value with overwhelming
        // probability; the retry bound only keeps the loop finite.
        for _ in 0..16 {
            let mut buf = Zeroizing::new(vec![0u8; x_len]);
            rng.fill_bytes(&mut buf);
            let excess = x_len * 8 - x_bits;
            if let Some(top) = buf.first_mut() {
                *top &= 0xffu8 >> excess;
            }
            if bit_len(&buf) < 2 {
                continue;
            }
            let x = BoxedUint::from_be_slice(&buf, self.params.bits_precision())
                .map_err(|_| Error::Kex("DH exponent"))?;
            let x = Secret { x, bits: x_bits };
            let e = self.pow(&self.g, &x);
            let e_bytes = e.to_be_bytes();
            if self.check_public(&e).is_err() {
                continue;
            }
            let mut out = Vec::with_capacity(e_bytes.len() + 5);
            out.put_mpint(&e_bytes);
            return Ok((x, out));
        }
        Err(Error::Kex("could not generate a DH key"))
    }

    /// Parse and validate the peer's public value (`e` or `f`, the contents of the mpint
    /// as received): non-negative, `1 < y < p-1`, more than three bits set.
    pub(super) fn peer(&self, peer: &[u8]) -> Result<PeerValue, Error> {
        if peer.first().is_some_and(|&b| b & 0x80 != 0) {
            return Err(Error::Kex("negative DH public value"));
        }
        let peer = strip_zeros(peer);
        if peer.len() > self.p_len {
            return Err(Error::Kex("DH public value out of range"));
        }
        let y = BoxedUint::from_be_slice(peer, self.params.bits_precision())
            .map_err(|_| Error::Kex("DH public value out of range"))?;
        self.check_public(&y)?;
        let mut encoded = Vec::with_capacity(peer.len() + 5);
        encoded.put_mpint(peer);
        Ok(PeerValue { y, encoded })
    }

    /// `K = y^x mod p` as an `mpint` encoding, and the peer value re-encoded as an `mpint`
    /// for the exchange hash.
    pub(super) fn agree(&self, x: &Secret, peer: PeerValue) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
        let mut k = self.pow(&peer.y, x);
        let k_bytes = Zeroizing::new(k.to_be_bytes());
        k.zeroize();
        let mut k_enc = Zeroizing::new(Vec::with_capacity(k_bytes.len() + 5));
        k_enc.put_mpint(&k_bytes);
        (k_enc, peer.encoded)
    }

    /// RFC 4253 §8 / OpenSSH `dh_pub_is_valid`: 1 < y < p-1, and more than three bits set
    /// (with g = 2 a value of few bits has a trivial discrete log).
    fn check_public(&self, y: &BoxedUint) -> Result<(), Error> {
        let one = BoxedUint::one_with_precision(self.params.bits_precision());
        if *y <= one {
            return Err(Error::Kex("invalid DH public value: <= 1"));
        }
        if *y >= self.p_minus_1 {
            return Err(Error::Kex("invalid DH public value: >= p-1"));
        }
        let bits_set: u32 = y.to_be_bytes().iter().map(|b| b.count_ones()).sum();
        if bits_set < 4 {
            return Err(Error::Kex("invalid DH public value: too few bits set"));
        }
        Ok(())
    }

    fn pow(&self, base: &BoxedUint, x: &Secret) -> BoxedUint {
        let base = BoxedMontyForm::new(base.clone(), &self.params);
        base.pow_bounded_exp(&x.x, x.bits as u32).retrieve()
    }
}

/// A validated public value of the peer.
pub(super) struct PeerValue {
    y: BoxedUint,
    encoded: Vec<u8>,
}

/// Our secret DH exponent; zeroized on drop.
pub(super) struct Secret {
    x: BoxedUint,
    bits: usize,
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

/// Bits of precision for a modulus of `bits` bits: whole 64-bit limbs, as BoxedUint needs
/// the same precision on both operands.
fn precision_for(bits: usize) -> u32 {
    (bits.div_ceil(64) * 64) as u32
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

/// Bit length of an unsigned big-endian magnitude.
fn bit_len(b: &[u8]) -> usize {
    let b = strip_zeros(b);
    match b.first() {
        Some(&top) => b.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

/// Decode one of our own hex constants (whitespace ignored).
fn decode_hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| d as u8)
        .collect();
    digits
        .chunks(2)
        .map(|c| c.iter().fold(0u8, |acc, d| (acc << 4) | d))
        .collect()
}

/// Decode a hex field from a moduli file: hex digits only, an odd count allowed (as
/// OpenSSH's `BN_hex2bn` does).
fn parse_hex_strict(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > 64 * 1024 / 4 + 1 {
        return None;
    }
    let mut digits = Vec::with_capacity(s.len() + 1);
    if s.len() % 2 == 1 {
        digits.push(0u8);
    }
    for c in s.chars() {
        digits.push(c.to_digit(16)? as u8);
    }
    Some(
        digits
            .chunks(2)
            .map(|c| c.iter().fold(0u8, |acc, d| (acc << 4) | d))
            .collect(),
    )
}

#[cfg(test)]
pub(super) fn is_probable_safe_prime(group: &DhGroup) -> bool {
    // Fermat tests to base 2 and 3 of p and of q = (p-1)/2: enough to catch any typo in
    // a constant (a corrupted value is composite and fails with overwhelming probability).
    let fermat = |n: &[u8]| -> bool {
        let bits = bit_len(n);
        let precision = precision_for(bits);
        let Ok(n) = BoxedUint::from_be_slice(strip_zeros(n), precision) else {
            return false;
        };
        let Some(n) = Option::<Odd<BoxedUint>>::from(Odd::new(n)) else {
            return false;
        };
        let params = BoxedMontyParams::new_vartime(n.clone());
        let n_minus_1 = n
            .as_ref()
            .wrapping_sub(BoxedUint::one_with_precision(precision));
        [2u8, 3].iter().all(|&a| {
            let Ok(a) = BoxedUint::from_be_slice(&[a], precision) else {
                return false;
            };
            let a = BoxedMontyForm::new(a, &params);
            a.pow(&n_minus_1).retrieve() == BoxedUint::one_with_precision(precision)
        })
    };
    let p = strip_zeros(&group.p);
    // q = (p - 1) / 2 = p >> 1 for odd p.
    let mut q = Vec::with_capacity(p.len());
    let mut carry = 0u8;
    for &b in p {
        q.push((b >> 1) | carry);
        carry = (b & 1) << 7;
    }
    fermat(p) && fermat(&q)
}
