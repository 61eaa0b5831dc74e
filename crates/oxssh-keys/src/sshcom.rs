//! ssh.com ("SSH2", Tectia) private key files, as ssh-keygen(1) `-i` imports them: the
//! `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` armour around a base64 blob that starts
//! with the magic 0x3f6ff9eb and holds an RSA or DSA key under the "none" cipher.
//!
//! ssh.com never published the format; this follows what OpenSSH's
//! `do_convert_from_ssh2` / `do_convert_private_ssh2` accept, which is the spec here:
//!
//! ```text
//! uint32  0x3f6ff9eb                 magic
//! uint32  total length               (ignored)
//! string  key type                   "if-modn{sign{rsa-pkcs1-sha1},…}" / "dl-modp{sign{dsa-nist-sha1},…}"
//! string  cipher                     only "none"
//! uint32  length of what follows     (ignored)
//! uint32  length of the key data     (ignored)
//! RSA:    mpbits e, d, n, iqmp, q, p (OpenSSH's names for the two primes)
//! DSA:    uint32 0, mpbits p, g, q, y, x
//! ```
//!
//! `mpbits` is a uint32 bit count and then ceil(bits/8) big-endian bytes. The armour is
//! read line by line as OpenSSH reads it (lines end in LF, CR or CRLF; header lines start
//! with `----` or contain `": "`; a line ending in a backslash continues a header).
//!
//! Not here: encrypted keys (OpenSSH refuses them as well), public keys (RFC 4716, in
//! `keyfile`), and writing the format (no OpenSSH tool writes it). Before a key is
//! returned it is tried, as OpenSSH tries it: RSA components must form a working key,
//! a DSA key must make a signature its public half verifies.

use base64ct::{Base64, Encoding};
use ssh_key::private::{DsaKeypair, DsaPrivateKey, KeypairData, RsaKeypair};
use ssh_key::public::DsaPublicKey;
use ssh_key::{Mpint, PrivateKey};
use zeroize::Zeroizing;

/// The armour line that marks a private key (`SSH_COM_PRIVATE_BEGIN`).
pub const PRIVATE_BEGIN: &str = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----";
/// The first four bytes of the blob (`SSH_COM_PRIVATE_KEY_MAGIC`).
pub const MAGIC: u32 = 0x3f6f_f9eb;
/// OpenSSH reads armour lines into a 1024-byte buffer.
const MAX_LINE: usize = 1024;
/// … and collects the base64 text in an 8096-byte one, silently cutting what is longer.
const MAX_ENCODED: usize = 8096 - 1;
/// The message every signature test uses (`data[]` in `do_convert_private_ssh2`).
const TEST_DATA: &[u8] = b"abcde12345\0";

/// Why an ssh.com key could not be imported. `Display` gives OpenSSH's message; where
/// OpenSSH follows it with `do_convert_from_ssh2: private key conversion failed`,
/// [`SshComError::conversion_failed`] says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshComError {
    #[error("input line too long.")]
    LineTooLong,
    #[error("do_convert_from_ssh2: base64 decode: invalid format")]
    Base64,
    /// The blob ended early; the field being read (`parse magic`, `parse`, `parse RSA`).
    #[error("do_convert_private_ssh2: {0}: incomplete message")]
    Truncated(&'static str),
    /// A bignum's bit count was cut off.
    #[error("buffer_get_bignum_bits: parse: incomplete message")]
    BignumTruncated,
    #[error("buffer_get_bignum_bits: input buffer too small: need {need} have {have}")]
    BignumShort { need: u64, have: usize },
    #[error("bad magic 0x{0:x} != 0x3f6ff9eb")]
    BadMagic(u32),
    #[error("unsupported cipher {0}")]
    Cipher(String),
    /// Neither "rsa" nor "dsa" in the key type; OpenSSH says nothing more.
    #[error("")]
    KeyType(String),
    /// The key did not work: the reason in OpenSSH's words, and how many bytes were
    /// left over after the key (OpenSSH complains about those first).
    #[error("do_convert_private_ssh2: {0}")]
    Rejected(&'static str, usize),
}

impl SshComError {
    /// Does OpenSSH end with `do_convert_from_ssh2: private key conversion failed`?
    pub fn conversion_failed(&self) -> bool {
        matches!(
            self,
            Self::BadMagic(_) | Self::Cipher(_) | Self::KeyType(_) | Self::Rejected(..)
        )
    }

    /// What OpenSSH logs before this error (a complaint about trailing bytes).
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Self::Rejected(_, n) => leftover_warning(*n).into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

fn leftover_warning(n: usize) -> Option<String> {
    (n > 0).then(|| format!("do_convert_private_ssh2: remaining bytes in key blob {n}"))
}

/// A key read from an ssh.com file, and OpenSSH's non-fatal complaints about it
/// (`do_convert_private_ssh2: remaining bytes in key blob N`).
#[derive(Debug)]
pub struct Imported {
    pub key: PrivateKey,
    pub warnings: Vec<String>,
}

/// Lines as OpenSSH's `get_line` splits them: at LF, CR or CRLF. The last piece counts
/// only when it was ended by a newline, as in OpenSSH.
fn lines(data: &[u8]) -> Result<Vec<&[u8]>, SshComError> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(end) = rest.iter().position(|&c| c == b'\n' || c == b'\r') {
        let (line, tail) = rest.split_at(end);
        if line.len() >= MAX_LINE - 1 {
            return Err(SshComError::LineTooLong);
        }
        out.push(line);
        rest = match tail {
            [b'\r', b'\n', t @ ..] | [_, t @ ..] => t,
            [] => tail,
        };
    }
    if rest.len() >= MAX_LINE {
        return Err(SshComError::LineTooLong);
    }
    Ok(out)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The armour of an RFC 4716 / ssh.com file: the base64 text (header and continued
/// header lines left out, stopping at the END line) and whether a header line was the
/// private key marker.
pub fn armour(data: &[u8]) -> Result<(Zeroizing<String>, bool), SshComError> {
    let mut encoded = Zeroizing::new(String::new());
    let mut private = false;
    let mut escaped = 0usize;
    for line in lines(data)? {
        if line.last() == Some(&b'\\') {
            escaped += 1;
        }
        if line.starts_with(b"----") || contains(line, b": ") {
            if contains(line, PRIVATE_BEGIN.as_bytes()) {
                private = true;
            }
            if contains(line, b" END ") {
                break;
            }
            continue;
        }
        if escaped > 0 {
            escaped -= 1;
            continue;
        }
        let room = MAX_ENCODED.saturating_sub(encoded.len());
        let take = line.get(..line.len().min(room)).unwrap_or_default();
        encoded.push_str(&String::from_utf8_lossy(take));
    }
    Ok((encoded, private))
}

/// Does this file hold an ssh.com private key (so `-i` takes the private path)?
pub fn is_private(data: &[u8]) -> bool {
    armour(data).is_ok_and(|(_, private)| private)
}

/// OpenSSH's base64 decoding of the armour: blanks are skipped, padding is required,
/// and a stray `===` is dropped first (some ssh.com versions wrote one).
fn decode(encoded: &str) -> Result<Zeroizing<Vec<u8>>, SshComError> {
    let mut text: Zeroizing<String> = Zeroizing::new(
        encoded
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    if text.len() % 4 == 3 && text.ends_with("===") {
        let keep = text.len() - 3;
        text.truncate(keep);
    }
    Base64::decode_vec(&text)
        .map(Zeroizing::new)
        .map_err(|_| SshComError::Base64)
}

/// A reader over the blob, with OpenSSH's error for each kind of field.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.bytes(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.bytes(n)
    }

    /// `buffer_get_bignum_bits`.
    fn bignum(&mut self) -> Result<Mpint, SshComError> {
        let bits = self.u32().ok_or(SshComError::BignumTruncated)?;
        let need = u64::from(bits).div_ceil(8);
        let have = self.0.len();
        let bytes = usize::try_from(need)
            .ok()
            .and_then(|n| self.bytes(n))
            .ok_or(SshComError::BignumShort { need, have })?;
        Ok(Mpint::from_positive_bytes(bytes))
    }
}

/// Import the ssh.com private key in `data` (the whole file).
pub fn parse_private(data: &[u8]) -> Result<Imported, SshComError> {
    let (encoded, _) = armour(data)?;
    let blob = decode(&encoded)?;
    let mut r = Reader(&blob);
    let magic = r.u32().ok_or(SshComError::Truncated("parse magic"))?;
    if magic != MAGIC {
        return Err(SshComError::BadMagic(magic));
    }
    let truncated = || SshComError::Truncated("parse");
    r.u32().ok_or_else(truncated)?;
    let key_type = String::from_utf8_lossy(r.string().ok_or_else(truncated)?).into_owned();
    let cipher = String::from_utf8_lossy(r.string().ok_or_else(truncated)?).into_owned();
    r.u32().ok_or_else(truncated)?;
    r.u32().ok_or_else(truncated)?;
    // RSA: the bit count of e; DSA: a flag OpenSSH ignores.
    let fourth = r.u32().ok_or_else(truncated)?;
    if cipher != "none" {
        return Err(SshComError::Cipher(cipher));
    }
    let keypair = if key_type.contains("dsa") {
        let p = r.bignum()?;
        let g = r.bignum()?;
        let q = r.bignum()?;
        let y = r.bignum()?;
        let x = r.bignum()?;
        dsa_keypair(p, q, g, y, x)
            .map(KeypairData::Dsa)
            .map_err(|why| SshComError::Rejected(why, r.0.len()))?
    } else if key_type.contains("rsa") {
        let e_len = usize::try_from(u64::from(fourth).div_ceil(8)).unwrap_or(usize::MAX);
        let e = r.bytes(e_len).ok_or(SshComError::Truncated("parse RSA"))?;
        let e = Mpint::from_positive_bytes(e);
        let d = r.bignum()?;
        let n = r.bignum()?;
        let _iqmp = r.bignum()?;
        let q = r.bignum()?;
        let p = r.bignum()?;
        rsa_keypair(&e, &d, &n, &p, &q)
            .map(KeypairData::Rsa)
            .map_err(|why| SshComError::Rejected(why, r.0.len()))?
    } else {
        return Err(SshComError::KeyType(key_type));
    };
    let key = PrivateKey::new(keypair, "").map_err(|_| {
        SshComError::Rejected(
            "signing with converted key failed: invalid format",
            r.0.len(),
        )
    })?;
    Ok(Imported {
        key,
        warnings: leftover_warning(r.0.len()).into_iter().collect(),
    })
}

const LIBCRYPTO: &str = "verification with converted key failed: error in libcrypto";
const KEY_LENGTH: &str = "signing with converted key failed: Invalid key length";

/// Build and try an RSA key. The CRT coefficient is recomputed from p and q rather than
/// taken from the file, so a damaged one cannot make a broken PEM file.
fn rsa_keypair(
    e: &Mpint,
    d: &Mpint,
    n: &Mpint,
    p: &Mpint,
    q: &Mpint,
) -> Result<RsaKeypair, &'static str> {
    let u = |m: &Mpint| {
        m.as_positive_bytes()
            .map(rsa::BoxedUint::from_be_slice_vartime)
            .ok_or(LIBCRYPTO)
    };
    let n_int = u(n)?;
    // OpenSSH refuses RSA keys under 1024 bits (SSH_RSA_MINIMUM_MODULUS_SIZE).
    if n_int.bit_width_vartime() < 1024 {
        return Err(KEY_LENGTH);
    }
    let key =
        crate::keyfile::rsa_from_components(n_int, u(e)?, u(d)?, u(p)?, u(q)?).ok_or(LIBCRYPTO)?;
    RsaKeypair::try_from(&key).map_err(|_| LIBCRYPTO)
}

/// Build and try a DSA key: sign the test message and verify it with the public half.
fn dsa_keypair(
    p: Mpint,
    q: Mpint,
    g: Mpint,
    y: Mpint,
    x: Mpint,
) -> Result<DsaKeypair, &'static str> {
    use signature::{Signer, Verifier};
    let bits = p.as_positive_bytes().map_or(0, |b| {
        let lead = b.first().map_or(0, |f| 8 - f.leading_zeros() as usize);
        (b.len().saturating_sub(1)) * 8 + lead
    });
    // OpenSSH's DSA keys are 1024 bits with a 160-bit q, nothing else.
    if bits != 1024 {
        return Err(KEY_LENGTH);
    }
    let failed = |_| "signing with converted key failed: error in libcrypto";
    let public = DsaPublicKey::new(p, q, g, y).map_err(failed)?;
    let private = DsaPrivateKey::new(x).map_err(failed)?;
    let keypair = DsaKeypair::new(public, private).map_err(failed)?;
    let signer = dsa::SigningKey::try_from(&keypair).map_err(failed)?;
    let sig: dsa::Signature = signer
        .try_sign(TEST_DATA)
        .map_err(|_| "signing with converted key failed: error in libcrypto")?;
    signer
        .verifying_key()
        .verify(TEST_DATA, &sig)
        .map_err(|_| "verification with converted key failed: incorrect signature")?;
    Ok(keypair)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn armoured(blob: &[u8]) -> Vec<u8> {
        let b64 = Base64::encode_string(blob);
        let mut s = format!("{PRIVATE_BEGIN}\nComment: \"x\"\n");
        for chunk in b64.as_bytes().chunks(70) {
            s.push_str(&String::from_utf8_lossy(chunk));
            s.push('\n');
        }
        s.push_str("---- END SSH2 ENCRYPTED PRIVATE KEY ----\n");
        s.into_bytes()
    }

    #[test]
    fn armour_follows_openssh_line_rules() {
        let text = b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\rSubject: a \\\rcontinued\r\nQUJD\rREVG\n---- END X ----\nR0hJ\n";
        let (enc, private) = armour(text).unwrap();
        assert!(private);
        assert_eq!(enc.as_str(), "QUJDREVG");
        let long = vec![b'A'; 2000];
        assert_eq!(armour(&long), Err(SshComError::LineTooLong));
        assert!(!is_private(b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n"));
    }

    #[test]
    fn bad_blobs_get_openssh_errors() {
        let err = |blob: &[u8]| parse_private(&armoured(blob)).unwrap_err();
        assert_eq!(err(b""), SshComError::Truncated("parse magic"));
        assert_eq!(err(&[0, 0, 0, 1]), SshComError::BadMagic(1));
        let mut blob = MAGIC.to_be_bytes().to_vec();
        blob.extend([0, 0, 0, 0]);
        assert_eq!(err(&blob), SshComError::Truncated("parse"));
        let head = |ty: &str, cipher: &str| {
            let mut b = MAGIC.to_be_bytes().to_vec();
            b.extend([0, 0, 0, 0]);
            for s in [ty, cipher] {
                b.extend(u32::try_from(s.len()).unwrap().to_be_bytes());
                b.extend(s.as_bytes());
            }
            b.extend([0; 12]);
            b
        };
        assert_eq!(
            err(&head("if-modn{sign{rsa}}", "3des-cbc")),
            SshComError::Cipher("3des-cbc".into())
        );
        assert!(err(&head("ed25519", "none")).conversion_failed());
        assert_eq!(
            err(&head("dl-modp{sign{dsa}}", "none")),
            SshComError::BignumTruncated
        );
        let mut b = head("dl-modp{sign{dsa}}", "none");
        b.extend([0, 0, 4, 0, 1, 2]);
        assert_eq!(err(&b), SshComError::BignumShort { need: 128, have: 2 });
        assert_eq!(
            parse_private(b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n!!!!\n").unwrap_err(),
            SshComError::Base64
        );
    }
}
