//! SSH signatures (PROTOCOL.sshsig): the `SSHSIG` blob, its armor (`-----BEGIN SSH
//! SIGNATURE-----`), the data that is signed, and verification — what `ssh-keygen -Y`
//! and git's ssh signing use.
//!
//! The signer may be a plain key or a certificate (the blob then carries the
//! certificate, and the signature is made by the certified key). The message is hashed
//! by the caller (streamed, so a large file is never held in memory) with the hash the
//! signature names ([`peek_hash_alg`]). Error texts are OpenSSH's. Policy (who may
//! sign) is `allowed_signers`. Parsing never panics.

use oxssh_proto::wire::{Put, Reader};
use ssh_key::PublicKey;

use crate::cert::{self, Certificate};

const MAGIC: &[u8] = b"SSHSIG";
const VERSION: u32 = 1;
const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----\n";
const END: &str = "-----END SSH SIGNATURE-----";

/// The hash algorithms a signature may use.
pub const HASH_ALGS: &[&str] = &["sha256", "sha512"];

/// The key that made a signature.
#[derive(Clone, Debug)]
pub enum SigKey {
    Plain(PublicKey),
    Cert(Box<Certificate>),
}

impl SigKey {
    /// Parse a key blob (plain key or certificate; a certificate's CA signature is
    /// checked, as OpenSSH does on load).
    pub fn from_blob(blob: &[u8]) -> Result<SigKey, String> {
        let mut r = Reader::new(blob);
        let ty = r.utf8().map_err(|_| "invalid format".to_owned())?;
        if cert::is_cert_name(ty) {
            return Certificate::from_blob(blob)
                .map(|c| SigKey::Cert(Box::new(c)))
                .map_err(|e| e.to_string());
        }
        PublicKey::from_bytes(blob)
            .map(SigKey::Plain)
            .map_err(|_| "invalid format".to_owned())
    }

    /// The key that verifies signatures (a certificate's certified key).
    pub fn plain(&self) -> &PublicKey {
        match self {
            SigKey::Plain(k) => k,
            SigKey::Cert(c) => &c.key,
        }
    }

    /// The wire blob.
    pub fn blob(&self) -> Vec<u8> {
        match self {
            SigKey::Plain(k) => crate::fingerprint::blob(k.key_data()),
            SigKey::Cert(c) => c.to_blob(),
        }
    }

    /// OpenSSH's `sshkey_type`: `ED25519`, `RSA-CERT`…
    pub fn type_label(&self) -> String {
        match self {
            SigKey::Plain(k) => crate::fingerprint::type_label(k.key_data()).to_owned(),
            SigKey::Cert(c) => crate::fingerprint::cert_type_label(c.key.key_data()),
        }
    }

    /// The `type base64` line (no comment).
    pub fn to_line(&self) -> String {
        match self {
            SigKey::Plain(k) => PublicKey::new(k.key_data().clone(), "")
                .to_openssh()
                .unwrap_or_default(),
            SigKey::Cert(c) => c.to_line(""),
        }
    }
}

/// Armor a signature blob (base64 in 70-column lines).
pub fn armor(blob: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(blob);
    let mut out = String::from(BEGIN);
    for chunk in b64.as_bytes().chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Remove the armor; errors are OpenSSH's texts.
pub fn dearmor(text: &[u8]) -> Result<Vec<u8>, String> {
    use base64ct::{Base64, Encoding};
    let Some(rest) = text.strip_prefix(BEGIN.as_bytes()) else {
        return Err("Couldn't parse signature: missing header".into());
    };
    let footer = format!("\n{END}");
    let Some(end) = rest
        .windows(footer.len())
        .position(|w| w == footer.as_bytes())
    else {
        return Err("Couldn't parse signature: missing footer".into());
    };
    let body: String = String::from_utf8_lossy(rest.get(..end).unwrap_or_default())
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Base64::decode_vec(&body).map_err(|_| "sshsig_armor: decode base64: invalid format".into())
}

/// The hash algorithm a signature blob names (checked against [`HASH_ALGS`]).
pub fn peek_hash_alg(blob: &[u8]) -> Result<String, String> {
    let mut r = preamble(blob)?;
    let fail = |_| "parse signature object: invalid format".to_owned();
    r.string().map_err(fail)?;
    r.string().map_err(fail)?;
    r.string().map_err(fail)?;
    let alg = r.utf8().map_err(fail)?;
    r.string().map_err(fail)?;
    check_hash_alg(alg)?;
    Ok(alg.to_owned())
}

/// Refuse hash algorithms other than sha256 and sha512.
pub fn check_hash_alg(alg: &str) -> Result<(), String> {
    if HASH_ALGS.contains(&alg) {
        Ok(())
    } else {
        Err(format!(
            "sshsig_check_hashalg: unsupported hash algorithm \"{alg}\""
        ))
    }
}

/// Hash `data` with `alg` (sha256 or sha512).
pub fn hasher(alg: &str) -> Option<Hasher> {
    use sha2::Digest;
    match alg {
        "sha256" => Some(Hasher::Sha256(sha2::Sha256::new())),
        "sha512" => Some(Hasher::Sha512(sha2::Sha512::new())),
        _ => None,
    }
}

/// An incremental message hash.
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

fn preamble(blob: &[u8]) -> Result<Reader<'_>, String> {
    let mut r = Reader::new(blob);
    let bad = || "Couldn't verify signature: invalid format".to_owned();
    if r.bytes(MAGIC.len()).map_err(|_| bad())? != MAGIC {
        return Err(bad());
    }
    let v = r.u32().map_err(|_| bad())?;
    if v > VERSION {
        return Err(format!(
            "Signature version {v} is larger than supported version {VERSION}"
        ));
    }
    Ok(r)
}

/// The data the signature covers: `"SSHSIG" || string namespace || string reserved ||
/// string hash_alg || string H(message)`.
pub fn signed_data(namespace: &str, hash_alg: &str, hash: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + namespace.len() + hash.len());
    b.extend_from_slice(MAGIC);
    b.put_str(namespace);
    b.put_string(&[]);
    b.put_str(hash_alg);
    b.put_string(hash);
    b
}

/// The signature blob for a signature `sig` (`string alg || string sig`) made by the
/// key with wire blob `key_blob`.
pub fn wrap(key_blob: &[u8], namespace: &str, hash_alg: &str, sig: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + key_blob.len() + sig.len());
    b.extend_from_slice(MAGIC);
    b.put_u32(VERSION);
    b.put_string(key_blob);
    b.put_str(namespace);
    b.put_string(&[]);
    b.put_str(hash_alg);
    b.put_string(sig);
    b
}

/// The signing key of a signature blob, without verifying anything else.
pub fn signer(blob: &[u8]) -> Result<SigKey, String> {
    let mut r = preamble(blob)?;
    let kb = r
        .string()
        .map_err(|_| "sshsig_get_pubkey: invalid format".to_owned())?;
    SigKey::from_blob(kb).map_err(|e| format!("sshsig_get_pubkey: {e}"))
}

/// Verify a signature blob over a message whose `hash_alg` hash is `hash`, for
/// `namespace`. Returns the signing key; errors are OpenSSH's messages.
pub fn verify(blob: &[u8], namespace: &str, hash_alg: &str, hash: &[u8]) -> Result<SigKey, String> {
    let mut r = preamble(blob)?;
    let fail = |_| "sshsig_wrap_verify: parse signature object: invalid format".to_owned();
    let key_blob = r.string().map_err(fail)?;
    let got_ns = r.string().map_err(fail)?;
    r.string().map_err(fail)?;
    let got_hash = r.string().map_err(fail)?;
    let sig = r.string().map_err(fail)?;
    if !r.is_empty() {
        return Err("Signature contains trailing data".into());
    }
    let key = SigKey::from_blob(key_blob)
        .map_err(|e| format!("sshsig_wrap_verify: parse signature object: {e}"))?;
    if got_ns != namespace.as_bytes() {
        return Err("Couldn't verify signature: namespace does not match".into());
    }
    if got_hash != hash_alg.as_bytes() {
        return Err("Couldn't verify signature: hash algorithm mismatch".into());
    }
    let mut sr = Reader::new(sig);
    let sigtype = sr.utf8().unwrap_or_default();
    if matches!(key.plain().key_data(), ssh_key::public::KeyData::Rsa(_))
        && sigtype != "rsa-sha2-512"
        && sigtype != "rsa-sha2-256"
    {
        return Err(format!(
            "Couldn't verify signature: unsupported RSA signature algorithm {sigtype}"
        ));
    }
    let plain_blob = crate::fingerprint::blob(key.plain().key_data());
    cert::verify_blob(&plain_blob, &signed_data(namespace, hash_alg, hash), sig)
        .map_err(|_| "Signature verification failed: incorrect signature".to_owned())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_failures() {
        let k = ssh_key::PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Ed25519).unwrap();
        let mut h = hasher("sha512").unwrap();
        h.update(b"hello");
        let hash = h.finish();
        let sig = cert::sign_blob(&k, None, &signed_data("file", "sha512", &hash)).unwrap();
        let kb = crate::fingerprint::blob(k.public_key().key_data());
        let blob = wrap(&kb, "file", "sha512", &sig);
        let text = armor(&blob);
        let back = dearmor(text.as_bytes()).unwrap();
        assert_eq!(back, blob);
        assert_eq!(peek_hash_alg(&back).unwrap(), "sha512");
        assert!(verify(&back, "file", "sha512", &hash).is_ok());
        assert!(verify(&back, "other", "sha512", &hash).is_err());
        assert!(verify(&back, "file", "sha512", &[0u8; 64]).is_err());
        for n in 0..blob.len() {
            let _ = verify(blob.get(..n).unwrap(), "file", "sha512", &hash);
            let _ = peek_hash_alg(blob.get(..n).unwrap());
        }
        assert!(dearmor(b"junk").is_err());
    }
}
