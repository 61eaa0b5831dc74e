//! Key revocation lists (PROTOCOL.krl): parsing, checking a key or certificate
//! against one (OpenSSH's `ssh_krl_check_key`), building and serialising one, and the
//! `ssh-keygen -k` specification lines (`serial:`, `id:`, `key:`, `sha1:`, `sha256:`,
//! `hash:`).
//!
//! Certificate serials are kept as merged ranges; the writer emits serial lists and
//! ranges (never bitmaps, which it only reads), and sorts every set, so OpenSSH reads
//! what we write. KRL signature sections are skipped, not verified (OpenSSH's
//! `ssh-keygen -Q` and sshd do not require them either). Parsing never panics and
//! allocates at most in proportion to its input.

use std::collections::BTreeSet;

use oxssh_proto::wire::{Put, Reader};
use sha1::Digest as _;
use ssh_key::public::KeyData;

use crate::cert::Certificate;

const MAGIC: u64 = 0x5353_484b_524c_0a00;
const FORMAT_VERSION: u32 = 1;
const SECTION_CERTIFICATES: u8 = 1;
const SECTION_EXPLICIT_KEY: u8 = 2;
const SECTION_FINGERPRINT_SHA1: u8 = 3;
const SECTION_SIGNATURE: u8 = 4;
const SECTION_FINGERPRINT_SHA256: u8 = 5;
const CERT_SERIAL_LIST: u8 = 0x20;
const CERT_SERIAL_RANGE: u8 = 0x21;
const CERT_SERIAL_BITMAP: u8 = 0x22;
const CERT_KEY_ID: u8 = 0x23;

/// Why a KRL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KrlError {
    #[error("KRL file has invalid magic number")]
    BadMagic,
    #[error("invalid format")]
    Invalid,
    #[error("Unsupported KRL section {0}")]
    Section(u8),
}

/// Revocations of certificates issued by one CA (`ca` None: any CA).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertRevocations {
    /// The CA key's wire blob.
    pub ca: Option<Vec<u8>>,
    /// Revoked serials as sorted, disjoint, non-adjacent inclusive ranges.
    pub serials: Vec<(u64, u64)>,
    pub key_ids: BTreeSet<String>,
}

impl CertRevocations {
    /// Revoke serials `lo..=hi`, merging with what is there.
    pub fn revoke_serials(&mut self, lo: u64, hi: u64) {
        let (mut lo, mut hi) = (lo.min(hi), lo.max(hi));
        let mut out = Vec::with_capacity(self.serials.len() + 1);
        for &(a, b) in &self.serials {
            if b.saturating_add(1) < lo || hi.saturating_add(1) < a {
                out.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        out.push((lo, hi));
        out.sort_unstable();
        self.serials = out;
    }

    fn serial_revoked(&self, s: u64) -> bool {
        let i = self.serials.partition_point(|&(_, hi)| hi < s);
        self.serials.get(i).is_some_and(|&(lo, _)| lo <= s)
    }
}

/// A key revocation list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Krl {
    pub version: u64,
    pub generated: u64,
    pub comment: String,
    pub certs: Vec<CertRevocations>,
    /// Plain key blobs.
    pub keys: BTreeSet<Vec<u8>>,
    pub sha1: BTreeSet<Vec<u8>>,
    pub sha256: BTreeSet<Vec<u8>>,
}

/// True if `data` starts with the KRL magic.
pub fn is_krl(data: &[u8]) -> bool {
    data.get(..8) == Some(&MAGIC.to_be_bytes()[..])
}

/// OpenSSH's `sshkey_check_revoked`: is `key` (or, for a certificate, the
/// certificate, its key or its CA) revoked by a revocation file's contents — a KRL, or
/// a list of public keys one per line? Err with the reason when a KRL does not parse.
pub fn file_revokes(
    data: &[u8],
    key: &ssh_key::PublicKey,
    cert: Option<&Certificate>,
) -> Result<bool, &'static str> {
    if is_krl(data) {
        let krl = Krl::parse(data).map_err(|_| "invalid format")?;
        return Ok(match cert {
            Some(c) => krl.is_revoked_cert(c),
            None => krl.is_revoked_key(key.key_data()),
        });
    }
    let text = String::from_utf8_lossy(data);
    let (entries, _) = crate::authorized_keys::parse(&text);
    // A certificate line revokes its key too (types compared loosely, as OpenSSH).
    let cert_keys: Vec<KeyData> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(crate::cert::is_cert_name)
        })
        .filter_map(|l| Certificate::from_line(l).ok())
        .map(|(c, _)| c.key.key_data().clone())
        .collect();
    let listed = |k: &KeyData| {
        entries.iter().any(|e| e.key.key_data() == k) || cert_keys.iter().any(|c| c == k)
    };
    Ok(match cert {
        Some(c) => listed(c.key.key_data()) || listed(c.signature_key.key_data()),
        None => listed(key.key_data()),
    })
}

fn bad<T>(_: T) -> KrlError {
    KrlError::Invalid
}

impl Krl {
    /// Parse a KRL.
    pub fn parse(data: &[u8]) -> Result<Krl, KrlError> {
        if !is_krl(data) {
            return Err(KrlError::BadMagic);
        }
        let mut r = Reader::new(data.get(8..).unwrap_or_default());
        if r.u32().map_err(bad)? != FORMAT_VERSION {
            return Err(KrlError::Invalid);
        }
        let mut k = Krl {
            version: r.u64().map_err(bad)?,
            generated: r.u64().map_err(bad)?,
            ..Krl::default()
        };
        r.u64().map_err(bad)?; // flags
        r.string().map_err(bad)?; // reserved
        k.comment = String::from_utf8_lossy(r.string().map_err(bad)?).into_owned();
        while !r.is_empty() {
            let ty = r.u8().map_err(bad)?;
            let sect = r.string().map_err(bad)?;
            match ty {
                SECTION_CERTIFICATES => k.parse_certs(sect)?,
                SECTION_EXPLICIT_KEY => blobs(sect, 0, &mut k.keys)?,
                SECTION_FINGERPRINT_SHA1 => blobs(sect, 20, &mut k.sha1)?,
                SECTION_FINGERPRINT_SHA256 => blobs(sect, 32, &mut k.sha256)?,
                SECTION_SIGNATURE => {
                    r.string().map_err(bad)?;
                }
                t => return Err(KrlError::Section(t)),
            }
        }
        Ok(k)
    }

    /// Apply `f` to the revocations of CA `ca`, creating them if needed.
    fn with_ca(&mut self, ca: Option<&[u8]>, f: impl FnOnce(&mut CertRevocations)) {
        if let Some(e) = self.certs.iter_mut().find(|c| c.ca.as_deref() == ca) {
            f(e);
            return;
        }
        let mut e = CertRevocations {
            ca: ca.map(<[u8]>::to_vec),
            ..CertRevocations::default()
        };
        f(&mut e);
        self.certs.push(e);
    }

    fn parse_certs(&mut self, sect: &[u8]) -> Result<(), KrlError> {
        let mut r = Reader::new(sect);
        let ca = r.string().map_err(bad)?;
        r.string().map_err(bad)?; // reserved
        let ca = if ca.is_empty() {
            None
        } else {
            // The CA must be a key OpenSSH could parse.
            ssh_key::PublicKey::from_bytes(ca).map_err(bad)?;
            Some(ca.to_vec())
        };
        let mut entry = self
            .certs
            .iter()
            .position(|c| c.ca == ca)
            .map(|i| self.certs.swap_remove(i))
            .unwrap_or(CertRevocations {
                ca,
                ..CertRevocations::default()
            });
        while !r.is_empty() {
            let ty = r.u8().map_err(bad)?;
            let sub = r.string().map_err(bad)?;
            let mut s = Reader::new(sub);
            match ty {
                CERT_SERIAL_LIST => {
                    while !s.is_empty() {
                        let v = s.u64().map_err(bad)?;
                        if v == 0 {
                            return Err(KrlError::Invalid);
                        }
                        entry.revoke_serials(v, v);
                    }
                }
                CERT_SERIAL_RANGE => {
                    let lo = s.u64().map_err(bad)?;
                    let hi = s.u64().map_err(bad)?;
                    if lo > hi || lo == 0 {
                        return Err(KrlError::Invalid);
                    }
                    entry.revoke_serials(lo, hi);
                }
                CERT_SERIAL_BITMAP => {
                    let off = s.u64().map_err(bad)?;
                    let bits = s.mpint().map_err(bad)?;
                    let nbits = bits.len().saturating_mul(8);
                    let mut run: Option<u64> = None;
                    for i in 0..=nbits {
                        let set = i < nbits && {
                            let byte = bits.get(bits.len() - 1 - i / 8).copied().unwrap_or(0);
                            byte & (1 << (i % 8)) != 0
                        };
                        let serial = off.checked_add(i as u64).ok_or(KrlError::Invalid);
                        match (set, run) {
                            (true, None) => run = Some(serial?),
                            (false, Some(start)) => {
                                entry.revoke_serials(start, serial? - 1);
                                run = None;
                            }
                            _ => {}
                        }
                    }
                }
                CERT_KEY_ID => {
                    while !s.is_empty() {
                        let id = s.string().map_err(bad)?;
                        entry
                            .key_ids
                            .insert(String::from_utf8_lossy(id).into_owned());
                    }
                }
                t => return Err(KrlError::Section(t)),
            }
            if !s.is_empty() {
                return Err(KrlError::Invalid);
            }
        }
        self.certs.push(entry);
        Ok(())
    }

    /// Serialise (unsigned).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_u64(MAGIC);
        b.put_u32(FORMAT_VERSION);
        b.put_u64(self.version);
        b.put_u64(self.generated);
        b.put_u64(0);
        b.put_string(&[]);
        b.put_str(&self.comment);
        for c in &self.certs {
            let mut s = Vec::new();
            s.put_string(c.ca.as_deref().unwrap_or_default());
            s.put_string(&[]);
            let singles: Vec<u64> = c
                .serials
                .iter()
                .filter(|r| r.0 == r.1)
                .map(|r| r.0)
                .collect();
            if !singles.is_empty() {
                let mut l = Vec::new();
                for v in singles {
                    l.put_u64(v);
                }
                s.put_u8(CERT_SERIAL_LIST);
                s.put_string(&l);
            }
            for &(lo, hi) in c.serials.iter().filter(|r| r.0 != r.1) {
                let mut l = Vec::new();
                l.put_u64(lo);
                l.put_u64(hi);
                s.put_u8(CERT_SERIAL_RANGE);
                s.put_string(&l);
            }
            if !c.key_ids.is_empty() {
                let mut l = Vec::new();
                for id in &c.key_ids {
                    l.put_str(id);
                }
                s.put_u8(CERT_KEY_ID);
                s.put_string(&l);
            }
            b.put_u8(SECTION_CERTIFICATES);
            b.put_string(&s);
        }
        for (ty, set) in [
            (SECTION_EXPLICIT_KEY, &self.keys),
            (SECTION_FINGERPRINT_SHA1, &self.sha1),
            (SECTION_FINGERPRINT_SHA256, &self.sha256),
        ] {
            if set.is_empty() {
                continue;
            }
            // Byte-wise order (a prefix first), as OpenSSH's blob_cmp and BTreeSet.
            let mut s = Vec::new();
            for blob in set {
                s.put_string(blob);
            }
            b.put_u8(ty);
            b.put_string(&s);
        }
        b
    }

    /// Revoke a plain key explicitly (a certificate: its serial, or its key ID when the
    /// serial is 0), as OpenSSH's `ssh_krl_revoke_key`.
    pub fn revoke_key(&mut self, key: &KeyData) {
        self.keys.insert(crate::fingerprint::blob(key));
    }

    /// Revoke a certificate by serial (or key ID when its serial is 0).
    pub fn revoke_cert(&mut self, c: &Certificate) {
        let ca = c.signature_key_blob().to_vec();
        self.with_ca(Some(&ca), |e| {
            if c.serial == 0 {
                e.key_ids.insert(c.key_id.clone());
            } else {
                e.revoke_serials(c.serial, c.serial);
            }
        });
    }

    /// Revoke serials `lo..=hi` of CA `ca` (None: any CA).
    pub fn revoke_serials(&mut self, ca: Option<&[u8]>, lo: u64, hi: u64) {
        self.with_ca(ca, |e| e.revoke_serials(lo, hi));
    }

    /// Revoke a key ID of CA `ca` (None: any CA).
    pub fn revoke_key_id(&mut self, ca: Option<&[u8]>, id: &str) {
        self.with_ca(ca, |e| {
            e.key_ids.insert(id.to_owned());
        });
    }

    /// Is this plain key revoked (by hash or explicitly)?
    pub fn is_revoked_key(&self, key: &KeyData) -> bool {
        let blob = crate::fingerprint::blob(key);
        self.sha1.contains(sha1::Sha1::digest(&blob).as_slice())
            || self.sha256.contains(sha2::Sha256::digest(&blob).as_slice())
            || self.keys.contains(&blob)
    }

    /// Is this certificate revoked: its key, its serial or key ID under its CA (or the
    /// wildcard CA), or its CA key itself (OpenSSH's `ssh_krl_check_key`)?
    pub fn is_revoked_cert(&self, c: &Certificate) -> bool {
        if self.is_revoked_key(c.key.key_data()) || self.is_revoked_key(c.signature_key.key_data())
        {
            return true;
        }
        let ca = c.signature_key_blob();
        self.certs
            .iter()
            .filter(|e| e.ca.as_deref().is_none_or(|x| x == ca))
            .any(|e| e.key_ids.contains(&c.key_id) || (c.serial != 0 && e.serial_revoked(c.serial)))
    }

    /// `ssh-keygen -Q -l`: the KRL in specification form. `when` formats the
    /// generation time.
    pub fn dump(&self, when: &str) -> String {
        let mut s = format!("# KRL version {}\n# Generated at {when}\n", self.version);
        if !self.comment.is_empty() {
            s.push_str(&format!("# Comment: {}\n", self.comment));
        }
        s.push('\n');
        for k in &self.keys {
            if let Ok(pk) = ssh_key::PublicKey::from_bytes(k) {
                s.push_str(&format!(
                    "hash: {} # {}\n",
                    crate::fingerprint::fingerprint(
                        pk.key_data(),
                        crate::fingerprint::FpHash::Sha256
                    ),
                    pk.algorithm().as_str()
                ));
            }
        }
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for h in &self.sha256 {
            s.push_str(&format!("hash: SHA256:{}\n", hex(h)));
        }
        for h in &self.sha1 {
            s.push_str(&format!("# hash SHA1:{}\n", hex(h)));
        }
        for c in &self.certs {
            s.push('\n');
            match c.ca.as_deref().map(ssh_key::PublicKey::from_bytes) {
                None => s.push_str("# Wildcard CA\n"),
                Some(Ok(k)) => s.push_str(&format!(
                    "# CA key {} {}\n",
                    k.algorithm().as_str(),
                    crate::fingerprint::fingerprint(
                        k.key_data(),
                        crate::fingerprint::FpHash::Sha256
                    )
                )),
                Some(Err(_)) => continue,
            }
            for &(lo, hi) in &c.serials {
                if lo == hi {
                    s.push_str(&format!("serial: {lo}\n"));
                } else {
                    s.push_str(&format!("serial: {lo}-{hi}\n"));
                }
            }
            for id in &c.key_ids {
                s.push_str(&format!("id: {id}\n"));
            }
        }
        s
    }
}

fn blobs(sect: &[u8], len: usize, set: &mut BTreeSet<Vec<u8>>) -> Result<(), KrlError> {
    let mut r = Reader::new(sect);
    while !r.is_empty() {
        let b = r.string().map_err(bad)?;
        if len != 0 && b.len() != len {
            return Err(KrlError::Invalid);
        }
        set.insert(b.to_vec());
    }
    Ok(())
}

/// OpenSSH's `strtoull(s, &ep, 0)`: decimal, `0x` hex or leading-0 octal; returns the
/// value and the rest.
fn strtoull(s: &str) -> Option<(u64, &str)> {
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, s.get(1..)?)
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return if radix == 8 { Some((0, digits)) } else { None };
    }
    let v = u64::from_str_radix(digits.get(..end)?, radix).ok()?;
    Some((v, digits.get(end..)?))
}

/// One `-k` specification line, applied to `krl`. `ca` is the `-s` CA (or None with
/// `wild` for `-s none`). Errors are OpenSSH's fatal messages.
pub fn apply_spec_line(
    krl: &mut Krl,
    line: &str,
    path: &str,
    lnum: usize,
    ca: Option<&[u8]>,
    wild: bool,
) -> Result<(), String> {
    let mut cp = line.trim_start_matches([' ', '\t']);
    if let Some(i) = cp.find(['#', '\n']) {
        cp = cp.get(..i).unwrap_or_default();
    }
    let cp = cp.trim_end_matches([' ', '\t', '\r']);
    if cp.is_empty() {
        return Ok(());
    }
    let lc = cp.to_ascii_lowercase();
    let after = |n: usize| {
        cp.get(n..)
            .unwrap_or_default()
            .trim_start_matches([' ', '\t'])
    };
    if lc.starts_with("serial:") {
        if ca.is_none() && !wild {
            return Err(
                "revoking certificates by serial number requires specification of a CA key".into(),
            );
        }
        let s = after(7);
        let invalid = |x: &str| format!("{path}:{lnum}: invalid serial \"{x}\"");
        let (lo, rest) = strtoull(s).ok_or_else(|| invalid(s))?;
        let hi = if let Some(r2) = rest.strip_prefix('-') {
            let (hi, tail) = strtoull(r2).ok_or_else(|| invalid(r2))?;
            if !tail.is_empty() {
                return Err(invalid(r2));
            }
            if hi <= lo {
                return Err(format!("{path}:{lnum}: invalid serial range {lo}:{hi}"));
            }
            hi
        } else if rest.is_empty() {
            lo
        } else {
            return Err(invalid(s));
        };
        // Serial 0 means "no serial" in certificates and cannot be revoked.
        if lo == 0 {
            return Err("update_krl_from_file: revoke serial failed".into());
        }
        krl.revoke_serials(ca, lo, hi);
    } else if lc.starts_with("id:") {
        if ca.is_none() && !wild {
            return Err(
                "revoking certificates by key ID requires specification of a CA key".into(),
            );
        }
        krl.revoke_key_id(ca, after(3));
    } else if lc.starts_with("hash:") {
        use base64ct::{Base64Unpadded, Encoding};
        let h = after(5);
        let Some(b64) = h.strip_prefix("SHA256:") else {
            return Err(format!("{path}:{lnum}: unsupported hash algorithm"));
        };
        let blob = Base64Unpadded::decode_vec(b64.trim_end_matches('='))
            .map_err(|_| format!("{path}:{lnum}: decode hash failed: invalid format"))?;
        if blob.len() != 32 {
            return Err("revoke key failed: invalid argument".into());
        }
        krl.sha256.insert(blob);
    } else {
        let (kind, rest) = if lc.starts_with("key:") {
            (1, after(4))
        } else if lc.starts_with("sha1:") {
            (2, after(5))
        } else if lc.starts_with("sha256:") {
            (3, after(7))
        } else {
            (0, cp)
        };
        let mut it = rest.split([' ', '\t']).filter(|t| !t.is_empty());
        let invalid = || format!("{path}:{lnum}: invalid key: invalid format");
        let ty = it.next().ok_or_else(invalid)?;
        let b64 = it.next().ok_or_else(invalid)?;
        if crate::cert::is_cert_name(ty) {
            let (c, _) = Certificate::from_line(&format!("{ty} {b64}"))
                .map_err(|e| format!("{path}:{lnum}: invalid key: {e}"))?;
            match kind {
                0 => krl.revoke_cert(&c),
                1 => krl.revoke_key(c.key.key_data()),
                2 => {
                    let d = sha1::Sha1::digest(crate::fingerprint::blob(c.key.key_data()));
                    krl.sha1.insert(d.to_vec());
                }
                _ => {
                    let d = sha2::Sha256::digest(crate::fingerprint::blob(c.key.key_data()));
                    krl.sha256.insert(d.to_vec());
                }
            }
            return Ok(());
        }
        let k = ssh_key::PublicKey::from_openssh(&format!("{ty} {b64}")).map_err(|_| invalid())?;
        let blob = crate::fingerprint::blob(k.key_data());
        match kind {
            2 => {
                krl.sha1.insert(sha1::Sha1::digest(&blob).to_vec());
            }
            3 => {
                krl.sha256.insert(sha2::Sha256::digest(&blob).to_vec());
            }
            _ => {
                krl.keys.insert(blob);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_ranges_merge() {
        let mut c = CertRevocations::default();
        for (a, b) in [
            (500, 500),
            (501, 501),
            (503, 600),
            (599, 701),
            (502, 502),
            (1, 4),
        ] {
            c.revoke_serials(a, b);
        }
        assert_eq!(c.serials, [(1, 4), (500, 701)]);
        assert!(c.serial_revoked(650));
        assert!(!c.serial_revoked(5));
        assert!(!c.serial_revoked(702));
    }

    #[test]
    fn round_trip_and_spec() {
        let mut k = Krl {
            version: 3,
            comment: "hi".into(),
            ..Krl::default()
        };
        let ca = vec![0u8, 0, 0, 1, b'x'];
        k.revoke_serials(None, 10, 20);
        apply_spec_line(&mut k, "serial: 0x30", "f", 1, None, true).unwrap();
        assert!(apply_spec_line(&mut k, "serial: 0", "f", 1, None, true).is_err());
        apply_spec_line(&mut k, "id: revoked 1  # c", "f", 2, None, true).unwrap();
        assert!(apply_spec_line(&mut k, "serial: 5-4", "f", 3, None, true).is_err());
        assert!(apply_spec_line(&mut k, "serial: 5", "f", 3, None, false).is_err());
        assert!(apply_spec_line(&mut k, "hash: MD5:aa", "f", 3, None, true).is_err());
        let bytes = k.to_bytes();
        let back = Krl::parse(&bytes).unwrap();
        assert_eq!(back.certs.first().unwrap().serials, [(10, 20), (48, 48)]);
        assert!(back.certs.first().unwrap().key_ids.contains("revoked 1"));
        let _ = ca;
        for n in 0..bytes.len() {
            let _ = Krl::parse(bytes.get(..n).unwrap());
        }
    }
}
