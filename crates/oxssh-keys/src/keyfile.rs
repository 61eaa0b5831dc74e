//! Key files as ssh-keygen(1) reads and writes them: OpenSSH private keys
//! (PROTOCOL.key, optionally bcrypt-pbkdf encrypted), the old PEM formats (PKCS#1 RSA,
//! SEC1 EC) and PKCS#8 for RSA and ECDSA, public keys as OpenSSH lines, RFC 4716
//! (`---- BEGIN SSH2 PUBLIC KEY ----`), PKCS#8 SubjectPublicKeyInfo and PKCS#1 PEM.
//!
//! DSA private keys are written in OpenSSL's traditional form for `-m PEM` (as OpenSSH
//! does) and as PKCS#8 for `-m PKCS8`; both are read. RSA keys with primes of unequal
//! size (which OpenSSL makes and the `rsa` crate's decoder refuses) are read and written.
//!
//! Not supported (said so with an error, never silently): encrypted PEM/PKCS#8 private
//! keys, security-key (sk-*) generation.
//!
//! Writing is done to a temporary file in the target directory, then renamed, so a
//! crash never leaves a half-written key; modes are 0600 (private) and 0644 (public).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use ssh_key::private::{DsaKeypair, DsaPrivateKey, EcdsaKeypair, KeypairData, RsaKeypair};
use ssh_key::public::{DsaPublicKey, EcdsaPublicKey, KeyData, RsaPublicKey};
use ssh_key::{Cipher, LineEnding, Mpint, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// Why a key could not be loaded; `Display` gives OpenSSH's `ssh_err` texts.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("incorrect passphrase supplied to decrypt private key")]
    Passphrase,
    #[error("invalid format")]
    Invalid,
    /// OpenSSH reports a damaged OpenSSH key this way, since it then tries PEM.
    #[error("error in libcrypto")]
    Libcrypto,
    #[error("{0}")]
    Unsupported(String),
}

/// Private key serialisations (`-m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The OpenSSH format (default).
    Openssh,
    /// RFC 4716 for public keys; for private keys it means the OpenSSH format.
    Rfc4716,
    Pkcs8,
    Pem,
}

impl Format {
    /// Parse `-m` (case-insensitive, as OpenSSH).
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_uppercase().as_str() {
            "RFC4716" | "SSH2" => Some(Format::Rfc4716),
            "PKCS8" => Some(Format::Pkcs8),
            "PEM" => Some(Format::Pem),
            _ => None,
        }
    }
}

/// True if the private key data is an encrypted OpenSSH key (so a passphrase is needed).
pub fn is_encrypted(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    if text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return true;
    }
    PrivateKey::from_openssh(data).is_ok_and(|k| k.is_encrypted())
}

fn pem_body(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

/// Parse a private key file's contents, decrypting with `passphrase` when encrypted.
/// Keys in the old PEM formats carry no comment.
pub fn parse_private(data: &[u8], passphrase: &str) -> Result<PrivateKey, LoadError> {
    let text = String::from_utf8_lossy(data);
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        let key = PrivateKey::from_openssh(data).map_err(|_| LoadError::Libcrypto)?;
        if key.is_encrypted() {
            return key.decrypt(passphrase).map_err(|_| LoadError::Passphrase);
        }
        return Ok(key);
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return Err(LoadError::Unsupported(
            "encrypted PEM private keys are not supported".into(),
        ));
    }
    if !pem_body(&text) {
        return Err(LoadError::Invalid);
    }
    parse_pem_private(&text).ok_or(LoadError::Libcrypto)
}

fn rsa_private(k: &rsa::PrivateKey) -> Option<PrivateKey> {
    let kp = RsaKeypair::try_from(k).ok()?;
    PrivateKey::new(KeypairData::Rsa(kp), "").ok()
}

macro_rules! ec_keypair {
    ($variant:ident, $sk:expr) => {{
        let sk = $sk;
        let public = sk.public_key();
        KeypairData::Ecdsa(EcdsaKeypair::$variant {
            public: public.into(),
            private: sk.into(),
        })
    }};
}

/// The DER inside a PEM block with `label` (no encryption headers).
fn pem_der(text: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let (l, der) = rsa::pkcs1::der::pem::decode_vec(text.as_bytes()).ok()?;
    let der = Zeroizing::new(der);
    (l == label).then_some(der)
}

/// An RSA key from PKCS#1 `RSAPrivateKey` DER. The `rsa` crate's own decoder wants each
/// prime to fit in half the modulus; OpenSSL (so OpenSSH) also makes and reads keys with
/// unbalanced primes (OpenSSH's regress fixture rsa_openssh.prv has a 513-bit and a
/// 511-bit one), so those are taken with modulus-width primes. Components that do not
/// form a working key (p·q ≠ n, d·e ≢ 1) are refused either way.
fn rsa_from_pkcs1_der(der: &[u8]) -> Option<rsa::PrivateKey> {
    use rsa::pkcs1::der::Decode;
    let k = rsa::pkcs1::RsaPrivateKeyRef::from_der(der).ok()?;
    if k.other_prime_infos.is_some() {
        return None;
    }
    let u = |x: rsa::pkcs1::UintRef<'_>| rsa::BoxedUint::from_be_slice_vartime(x.as_bytes());
    rsa_from_components(
        u(k.modulus),
        u(k.public_exponent),
        u(k.private_exponent),
        u(k.prime1),
        u(k.prime2),
    )
}

/// `rsa::PrivateKey::from_components`, falling back to modulus-width primes for keys
/// whose primes are of unequal size (see `rsa_from_pkcs1_der`).
pub(crate) fn rsa_from_components(
    n: rsa::BoxedUint,
    e: rsa::BoxedUint,
    d: rsa::BoxedUint,
    p: rsa::BoxedUint,
    q: rsa::BoxedUint,
) -> Option<rsa::PrivateKey> {
    let primes = vec![p, q];
    rsa::PrivateKey::from_components(n.clone(), e.clone(), d.clone(), primes.clone())
        .or_else(|_| rsa::PrivateKey::from_components_with_wide_primes(n, e, d, primes))
        .ok()
}

/// A PKCS#8 RSA key whose primes the `rsa` crate's decoder refused (see above).
fn rsa_from_pkcs8(text: &str) -> Option<rsa::PrivateKey> {
    use rsa::pkcs8::der::Decode;
    let der = pem_der(text, "PRIVATE KEY")?;
    let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(&der).ok()?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return None;
    }
    rsa_from_pkcs1_der(info.private_key.as_bytes())
}

/// OpenSSL's traditional DSA private key (`-----BEGIN DSA PRIVATE KEY-----`): a
/// SEQUENCE of the INTEGERs version (0), p, q, g, y, x.
fn dsa_from_der(der: &[u8]) -> Option<DsaKeypair> {
    use rsa::pkcs1::der::Decode;
    use rsa::pkcs1::der::asn1::UintRef;
    let ints = Vec::<UintRef<'_>>::from_der(der).ok()?;
    let [version, p, q, g, y, x] = ints.as_slice() else {
        return None;
    };
    if version.as_bytes() != [0] {
        return None;
    }
    let m = |v: &UintRef<'_>| Mpint::from_positive_bytes(v.as_bytes());
    let public = DsaPublicKey::new(m(p), m(q), m(g), m(y)).ok()?;
    let private = DsaPrivateKey::new(m(x)).ok()?;
    DsaKeypair::new(public, private).ok()
}

/// The traditional DSA PEM OpenSSH writes for `-m PEM` and `-i` (`PEM_write_DSAPrivateKey`).
fn dsa_to_pem(kp: &DsaKeypair) -> Option<Zeroizing<String>> {
    use rsa::pkcs1::der::Encode;
    use rsa::pkcs1::der::asn1::UintRef;
    let public = kp.public();
    fn pos(m: &Mpint) -> Option<UintRef<'_>> {
        m.as_positive_bytes().and_then(|b| UintRef::new(b).ok())
    }
    let ints = vec![
        UintRef::new(&[0]).ok()?,
        pos(public.p())?,
        pos(public.q())?,
        pos(public.g())?,
        pos(public.y())?,
        pos(kp.private().as_mpint())?,
    ];
    let der = Zeroizing::new(ints.to_der().ok()?);
    let pem = rsa::pkcs1::der::pem::encode_string(
        "DSA PRIVATE KEY",
        rsa::pkcs1::der::pem::LineEnding::LF,
        &der,
    )
    .ok()?;
    Some(Zeroizing::new(pem))
}

/// An `rsa` key for an RSA keypair, with unbalanced primes too (see `rsa_from_pkcs1_der`).
fn rsa_key(kp: &RsaKeypair) -> Option<rsa::PrivateKey> {
    if let Ok(k) = rsa::PrivateKey::try_from(kp) {
        return Some(k);
    }
    let u = |m: &Mpint| {
        m.as_positive_bytes()
            .map(rsa::BoxedUint::from_be_slice_vartime)
    };
    let (public, private) = (kp.public(), kp.private());
    rsa_from_components(
        u(public.n())?,
        u(public.e())?,
        u(private.d())?,
        u(private.p())?,
        u(private.q())?,
    )
}

fn parse_pem_private(text: &str) -> Option<PrivateKey> {
    use p256::pkcs8::DecodePrivateKey;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let text = text.trim();
    let data = if text.contains("BEGIN RSA PRIVATE KEY") {
        let key = rsa::PrivateKey::from_pkcs1_pem(text)
            .ok()
            .or_else(|| rsa_from_pkcs1_der(&pem_der(text, "RSA PRIVATE KEY")?))?;
        return rsa_private(&key);
    } else if text.contains("BEGIN DSA PRIVATE KEY") {
        KeypairData::Dsa(dsa_from_der(&pem_der(text, "DSA PRIVATE KEY")?)?)
    } else if text.contains("BEGIN EC PRIVATE KEY") {
        if let Ok(sk) = p256::SecretKey::from_sec1_pem(text) {
            ec_keypair!(NistP256, sk)
        } else if let Ok(sk) = p384::SecretKey::from_sec1_pem(text) {
            ec_keypair!(NistP384, sk)
        } else {
            ec_keypair!(NistP521, p521::SecretKey::from_sec1_pem(text).ok()?)
        }
    } else if text.contains("BEGIN PRIVATE KEY") {
        if let Ok(k) = rsa::PrivateKey::from_pkcs8_pem(text) {
            return rsa_private(&k);
        } else if let Some(k) = rsa_from_pkcs8(text) {
            return rsa_private(&k);
        } else if let Ok(k) = dsa::SigningKey::from_pkcs8_pem(text) {
            KeypairData::Dsa(k.into())
        } else if let Ok(sk) = p256::SecretKey::from_pkcs8_pem(text) {
            ec_keypair!(NistP256, sk)
        } else if let Ok(sk) = p384::SecretKey::from_pkcs8_pem(text) {
            ec_keypair!(NistP384, sk)
        } else {
            ec_keypair!(NistP521, p521::SecretKey::from_pkcs8_pem(text).ok()?)
        }
    } else {
        return None;
    };
    PrivateKey::new(data, "").ok()
}

/// Parse a public key: an OpenSSH line, RFC 4716, PKCS#8 SPKI or PKCS#1 PEM.
pub fn parse_public(text: &str) -> Result<PublicKey, LoadError> {
    let t = text.trim();
    if t.starts_with("---- BEGIN SSH2 PUBLIC KEY ----") {
        return parse_rfc4716(t).ok_or(LoadError::Invalid);
    }
    if t.starts_with("-----BEGIN ") {
        return parse_pem_public(t).ok_or(LoadError::Invalid);
    }
    let line = t
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or(LoadError::Invalid)?;
    PublicKey::from_openssh(line).map_err(|_| LoadError::Invalid)
}

fn parse_rfc4716(text: &str) -> Option<PublicKey> {
    let mut body = String::new();
    let mut comment = String::new();
    let mut in_header_cont = false;
    let mut header = String::new();
    for line in text.lines().skip(1) {
        let line = line.trim();
        if line.starts_with("---- END SSH2 PUBLIC KEY ----") {
            break;
        }
        if in_header_cont || (line.contains(':') && body.is_empty()) {
            let (part, cont) = match line.strip_suffix('\\') {
                Some(p) => (p, true),
                None => (line, false),
            };
            header.push_str(part);
            in_header_cont = cont;
            if !cont {
                if let Some((k, v)) = header.split_once(':')
                    && k.trim().eq_ignore_ascii_case("comment")
                {
                    comment = v.trim().trim_matches('"').to_owned();
                }
                header.clear();
            }
            continue;
        }
        body.push_str(line);
    }
    let blob = Base64::decode_vec(&body).ok()?;
    let mut key = PublicKey::from_bytes(&blob).ok()?;
    key.set_comment(comment);
    Some(key)
}

fn parse_pem_public(text: &str) -> Option<PublicKey> {
    use p256::pkcs8::DecodePublicKey;
    use rsa::pkcs1::DecodeRsaPublicKey;
    let data = if text.contains("BEGIN RSA PUBLIC KEY") {
        KeyData::Rsa(RsaPublicKey::try_from(rsa::PublicKey::from_pkcs1_pem(text).ok()?).ok()?)
    } else if let Ok(k) = rsa::PublicKey::from_public_key_pem(text) {
        KeyData::Rsa(RsaPublicKey::try_from(k).ok()?)
    } else if let Ok(k) = p256::PublicKey::from_public_key_pem(text) {
        KeyData::Ecdsa(EcdsaPublicKey::NistP256(k.into()))
    } else if let Ok(k) = p384::PublicKey::from_public_key_pem(text) {
        KeyData::Ecdsa(EcdsaPublicKey::NistP384(k.into()))
    } else {
        KeyData::Ecdsa(EcdsaPublicKey::NistP521(
            p521::PublicKey::from_public_key_pem(text).ok()?.into(),
        ))
    };
    Some(PublicKey::new(data, ""))
}

/// `type base64 [comment]`, the public key line ssh-keygen writes (no newline).
pub fn public_line(key: &PublicKey) -> String {
    key.to_openssh().unwrap_or_default()
}

/// Export a public key in RFC 4716 (`-e`), with OpenSSH's comment header.
pub fn export_rfc4716(key: &PublicKey, converted_by: &str) -> String {
    let blob = key.to_bytes().unwrap_or_default();
    let b64 = Base64::encode_string(&blob);
    let mut out = String::from("---- BEGIN SSH2 PUBLIC KEY ----\n");
    out.push_str(&format!(
        "Comment: \"{}-bit {}, converted by {} from OpenSSH\"\n",
        crate::fingerprint::bits(key.key_data()),
        crate::fingerprint::type_label(key.key_data()),
        converted_by
    ));
    let bytes = b64.as_bytes();
    for chunk in bytes.chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("---- END SSH2 PUBLIC KEY ----\n");
    out
}

/// Export a public key as PKCS#8 SPKI or (RSA only) PKCS#1 PEM (`-e -m`).
pub fn export_pem_public(key: &PublicKey, format: Format) -> Result<String, LoadError> {
    use p256::pkcs8::{EncodePublicKey, LineEnding as Le};
    use rsa::pkcs1::EncodeRsaPublicKey;
    let unsupported = || LoadError::Unsupported("unsupported key type for this format".into());
    match key.key_data() {
        KeyData::Rsa(k) => {
            let rk = rsa::PublicKey::try_from(k).map_err(|_| unsupported())?;
            if format == Format::Pem {
                rk.to_pkcs1_pem(Le::LF).map_err(|_| unsupported())
            } else {
                rk.to_public_key_pem(Le::LF).map_err(|_| unsupported())
            }
        }
        KeyData::Ecdsa(EcdsaPublicKey::NistP256(p)) => {
            p256::PublicKey::from_sec1_bytes(p.as_bytes())
                .ok()
                .and_then(|k| k.to_public_key_pem(Le::LF).ok())
                .ok_or_else(unsupported)
        }
        KeyData::Ecdsa(EcdsaPublicKey::NistP384(p)) => {
            p384::PublicKey::from_sec1_bytes(p.as_bytes())
                .ok()
                .and_then(|k| k.to_public_key_pem(Le::LF).ok())
                .ok_or_else(unsupported)
        }
        KeyData::Ecdsa(EcdsaPublicKey::NistP521(p)) => {
            p521::PublicKey::from_sec1_bytes(p.as_bytes())
                .ok()
                .and_then(|k| k.to_public_key_pem(Le::LF).ok())
                .ok_or_else(unsupported)
        }
        _ => Err(unsupported()),
    }
}

/// How to encrypt a private key when writing it.
#[derive(Clone, Debug)]
pub struct Protection<'a> {
    pub passphrase: &'a str,
    /// bcrypt-pbkdf rounds (`-a`), 16 by default.
    pub rounds: u32,
    /// Cipher (`-Z`), aes256-ctr by default.
    pub cipher: Cipher,
}

/// Serialise a private key in `format`, encrypted when the passphrase is not empty.
pub fn encode_private(
    key: &PrivateKey,
    format: Format,
    prot: &Protection<'_>,
) -> Result<Zeroizing<String>, LoadError> {
    let fail = |e: ssh_key::Error| LoadError::Unsupported(e.to_string());
    match format {
        Format::Openssh | Format::Rfc4716 => {
            let key = if prot.passphrase.is_empty() {
                key.clone()
            } else {
                let mut rng = rand::rng();
                let mut salt = vec![0u8; 16];
                rand_core::Rng::fill_bytes(&mut rng, &mut salt);
                let kdf = ssh_key::Kdf::Bcrypt {
                    salt,
                    rounds: prot.rounds,
                };
                let checkint = rand_core::Rng::next_u32(&mut rng);
                key.encrypt_with(prot.cipher, kdf, checkint, prot.passphrase)
                    .map_err(fail)?
            };
            key.to_openssh(LineEnding::LF).map_err(fail)
        }
        Format::Pem | Format::Pkcs8 => {
            if !prot.passphrase.is_empty() {
                return Err(LoadError::Unsupported(
                    "passphrase-protected PEM and PKCS8 keys are not supported".into(),
                ));
            }
            encode_pem_private(key, format)
        }
    }
}

fn encode_pem_private(key: &PrivateKey, format: Format) -> Result<Zeroizing<String>, LoadError> {
    use p256::pkcs8::{EncodePrivateKey, LineEnding as Le};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let unsupported = || {
        LoadError::Unsupported(format!(
            "unsupported key type {} for PEM/PKCS8",
            key.algorithm().as_str()
        ))
    };
    let pkcs8 = format == Format::Pkcs8;
    macro_rules! ec {
        ($krate:ident, $private:expr) => {{
            let sk =
                $krate::SecretKey::from_slice($private.as_slice()).map_err(|_| unsupported())?;
            if pkcs8 {
                sk.to_pkcs8_pem(Le::LF).map_err(|_| unsupported())
            } else {
                sk.to_sec1_pem(Le::LF).map_err(|_| unsupported())
            }
        }};
    }
    match key.key_data() {
        KeypairData::Rsa(kp) => {
            let rk = rsa_key(kp).ok_or_else(unsupported)?;
            if pkcs8 {
                rk.to_pkcs8_pem(Le::LF).map_err(|_| unsupported())
            } else {
                rk.to_pkcs1_pem(Le::LF).map_err(|_| unsupported())
            }
        }
        KeypairData::Dsa(kp) if !pkcs8 => dsa_to_pem(kp).ok_or_else(unsupported),
        KeypairData::Dsa(kp) => dsa::SigningKey::try_from(kp)
            .ok()
            .and_then(|k| k.to_pkcs8_pem(Le::LF).ok())
            .ok_or_else(unsupported),
        KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }) => ec!(p256, private),
        KeypairData::Ecdsa(EcdsaKeypair::NistP384 { private, .. }) => ec!(p384, private),
        KeypairData::Ecdsa(EcdsaKeypair::NistP521 { private, .. }) => ec!(p521, private),
        _ => Err(unsupported()),
    }
}

/// Write `contents` to `path` with `mode` via a temporary file and a rename.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 6];
    rand_core::Rng::fill_bytes(&mut rand::rng(), &mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.{hex}.tmp"));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Fill `buf` from the operating system's CSPRNG (salts for hashed host names).
pub fn random_bytes(buf: &mut [u8]) {
    rand_core::Rng::fill_bytes(&mut rand::rng(), buf);
}

/// OpenSSH's private key permission rule (`sshkey_perm_ok`): a key owned by `uid`
/// must not be accessible by group or others. Returns the offending mode.
pub fn check_perms(path: &Path, uid: u32) -> Result<(), u32> {
    match std::fs::metadata(path) {
        Ok(m) if m.uid() == uid && m.mode() & 0o077 != 0 => Err(m.mode() & 0o777),
        _ => Ok(()),
    }
}

/// The "UNPROTECTED PRIVATE KEY FILE" warning block for `path` with `mode`.
pub fn perms_warning(path: &str, mode: u32) -> String {
    let at = "@".repeat(59);
    format!(
        "{at}\n@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n{at}\n\
         Permissions 0{mode:o} for '{path}' are too open.\n\
         It is required that your private key files are NOT accessible by others.\n\
         This private key will be ignored.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_rejected_without_panic() {
        for data in [
            &b""[..],
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA",
            b"\xff\x00",
        ] {
            assert!(parse_private(data, "").is_err());
            assert!(parse_public(&String::from_utf8_lossy(data)).is_err());
        }
    }

    #[test]
    fn pem_round_trip() {
        let key = PrivateKey::random(
            &mut rand::rng(),
            ssh_key::Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP384,
            },
        )
        .unwrap();
        let prot = Protection {
            passphrase: "",
            rounds: 16,
            cipher: Cipher::Aes256Ctr,
        };
        for f in [Format::Pem, Format::Pkcs8] {
            let pem = encode_private(&key, f, &prot).unwrap();
            let back = parse_private(pem.as_bytes(), "").unwrap();
            assert_eq!(back.public_key().key_data(), key.public_key().key_data());
        }
        let rfc = export_rfc4716(key.public_key(), "me@host");
        let back = parse_public(&rfc).unwrap();
        assert_eq!(back.key_data(), key.public_key().key_data());
    }
}
