//! Public key signature algorithms, for host keys (the server's signature over the
//! exchange hash) and for `publickey` user authentication.
//!
//! Implements the signature encodings of RFC 4253 §6.6 (`string name || string blob`),
//! RFC 8709 (`ssh-ed25519`), RFC 5656 §3.1.2 (`ecdsa-sha2-*`: `mpint r || mpint s`, hash by
//! curve size), RFC 8332 (`rsa-sha2-256`/`-512` under `ssh-rsa` keys) and RFC 4253's
//! legacy SHA-1 `ssh-rsa`, OpenSSH's `PROTOCOL.u2f` (`sk-*` security key signatures over
//! `SHA256(application) || flags || counter || SHA256(data)`) and `PROTOCOL.certkeys`
//! (the `*-cert-v01@openssh.com` names: signatures made with the certified key).
//!
//! The one rule this file exists to get right: the algorithm name inside a signature must
//! be the one negotiated or requested. An `ssh-rsa` (SHA-1) signature is refused when
//! `rsa-sha2-256` was negotiated, and the reverse; a key blob of another type than the
//! algorithm names is refused.
//!
//! [`HostKey`] is a server's host key together with its certificate, if it has one
//! (sshd's `HostKey` + `HostCertificate`): the key signs for both the plain and the
//! `*-cert-v01@openssh.com` algorithms, and for the latter the certificate blob is the
//! server's `K_S` (PROTOCOL.certkeys).
//!
//! Not here: certificate policy (validity, principals, CA trust, critical options: that
//! is `oxssh-keys`), loading certificate files (sshd), known_hosts, and the `webauthn-sk-ecdsa-sha2-nistp256@openssh.com`
//! signature format (not implemented). Parsing never panics: every length is checked
//! against the input.

use ed25519_dalek::Verifier as _;
use sha2::Digest;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, EcdsaCurve, PrivateKey, PublicKey};

use crate::Error;
use crate::wire::{Put, Reader};

#[cfg(test)]
mod tests;

/// A signature algorithm as named in KEXINIT's host key list and in `publickey`
/// authentication requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigAlg {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    RsaSha512,
    RsaSha256,
    RsaSha1,
    SkEd25519,
    SkEcdsaP256,
    Ed25519Cert,
    EcdsaP256Cert,
    EcdsaP384Cert,
    EcdsaP521Cert,
    RsaSha512Cert,
    RsaSha256Cert,
    RsaSha1Cert,
    SkEd25519Cert,
    SkEcdsaP256Cert,
}

/// Security key flag: the user touched the key (`SSH_SK_USER_PRESENCE_REQD`).
pub const SK_USER_PRESENCE: u8 = 0x01;
/// Security key flag: the user was verified, e.g. by PIN (`SSH_SK_USER_VERIFICATION_REQD`).
pub const SK_USER_VERIFICATION: u8 = 0x04;

/// What a security key signature reported, for the caller's policy (`no-touch-required`,
/// `verify-required`, counter checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkInfo {
    pub flags: u8,
    pub counter: u32,
}

/// A successful verification. `sk` is set for `sk-*` algorithms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub sk: Option<SkInfo>,
}

impl SigAlg {
    /// Every algorithm we implement.
    pub const ALL: &'static [SigAlg] = &[
        SigAlg::Ed25519Cert,
        SigAlg::EcdsaP256Cert,
        SigAlg::EcdsaP384Cert,
        SigAlg::EcdsaP521Cert,
        SigAlg::SkEd25519Cert,
        SigAlg::SkEcdsaP256Cert,
        SigAlg::RsaSha512Cert,
        SigAlg::RsaSha256Cert,
        SigAlg::Ed25519,
        SigAlg::EcdsaP256,
        SigAlg::EcdsaP384,
        SigAlg::EcdsaP521,
        SigAlg::SkEd25519,
        SigAlg::SkEcdsaP256,
        SigAlg::RsaSha512,
        SigAlg::RsaSha256,
        SigAlg::RsaSha1Cert,
        SigAlg::RsaSha1,
    ];

    /// OpenSSH 10's default `HostKeyAlgorithms` (and `PubkeyAcceptedAlgorithms`), from its
    /// `myproposal.h`, less the webauthn name we do not implement. `ssh-rsa` is supported
    /// but, as in OpenSSH since 8.8, only on request.
    pub const DEFAULT_HOSTKEY: &'static [SigAlg] = &[
        SigAlg::Ed25519Cert,
        SigAlg::EcdsaP256Cert,
        SigAlg::EcdsaP384Cert,
        SigAlg::EcdsaP521Cert,
        SigAlg::SkEd25519Cert,
        SigAlg::SkEcdsaP256Cert,
        SigAlg::RsaSha512Cert,
        SigAlg::RsaSha256Cert,
        SigAlg::Ed25519,
        SigAlg::EcdsaP256,
        SigAlg::EcdsaP384,
        SigAlg::EcdsaP521,
        SigAlg::SkEd25519,
        SigAlg::SkEcdsaP256,
        SigAlg::RsaSha512,
        SigAlg::RsaSha256,
    ];

    /// The algorithm's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            SigAlg::Ed25519 => "ssh-ed25519",
            SigAlg::EcdsaP256 => "ecdsa-sha2-nistp256",
            SigAlg::EcdsaP384 => "ecdsa-sha2-nistp384",
            SigAlg::EcdsaP521 => "ecdsa-sha2-nistp521",
            SigAlg::RsaSha512 => "rsa-sha2-512",
            SigAlg::RsaSha256 => "rsa-sha2-256",
            SigAlg::RsaSha1 => "ssh-rsa",
            SigAlg::SkEd25519 => "sk-ssh-ed25519@openssh.com",
            SigAlg::SkEcdsaP256 => "sk-ecdsa-sha2-nistp256@openssh.com",
            SigAlg::Ed25519Cert => "ssh-ed25519-cert-v01@openssh.com",
            SigAlg::EcdsaP256Cert => "ecdsa-sha2-nistp256-cert-v01@openssh.com",
            SigAlg::EcdsaP384Cert => "ecdsa-sha2-nistp384-cert-v01@openssh.com",
            SigAlg::EcdsaP521Cert => "ecdsa-sha2-nistp521-cert-v01@openssh.com",
            SigAlg::RsaSha512Cert => "rsa-sha2-512-cert-v01@openssh.com",
            SigAlg::RsaSha256Cert => "rsa-sha2-256-cert-v01@openssh.com",
            SigAlg::RsaSha1Cert => "ssh-rsa-cert-v01@openssh.com",
            SigAlg::SkEd25519Cert => "sk-ssh-ed25519-cert-v01@openssh.com",
            SigAlg::SkEcdsaP256Cert => "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        }
    }

    /// The algorithm for a wire name; `None` for names we do not implement.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// A `*-cert-v01@openssh.com` algorithm.
    pub fn is_cert(self) -> bool {
        self != self.plain()
    }

    /// A FIDO security key algorithm (`sk-*`).
    pub fn is_sk(self) -> bool {
        matches!(self.plain(), SigAlg::SkEd25519 | SigAlg::SkEcdsaP256)
    }

    /// An RSA algorithm (any hash, plain or certificate).
    pub fn is_rsa(self) -> bool {
        matches!(
            self.plain(),
            SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1
        )
    }

    /// The algorithm without the certificate: `rsa-sha2-512-cert-v01@openssh.com` →
    /// `rsa-sha2-512`.
    pub fn plain(self) -> SigAlg {
        match self {
            SigAlg::Ed25519Cert => SigAlg::Ed25519,
            SigAlg::EcdsaP256Cert => SigAlg::EcdsaP256,
            SigAlg::EcdsaP384Cert => SigAlg::EcdsaP384,
            SigAlg::EcdsaP521Cert => SigAlg::EcdsaP521,
            SigAlg::RsaSha512Cert => SigAlg::RsaSha512,
            SigAlg::RsaSha256Cert => SigAlg::RsaSha256,
            SigAlg::RsaSha1Cert => SigAlg::RsaSha1,
            SigAlg::SkEd25519Cert => SigAlg::SkEd25519,
            SigAlg::SkEcdsaP256Cert => SigAlg::SkEcdsaP256,
            plain => plain,
        }
    }

    /// The certificate form: `rsa-sha2-512` → `rsa-sha2-512-cert-v01@openssh.com`.
    pub fn cert(self) -> SigAlg {
        match self.plain() {
            SigAlg::Ed25519 => SigAlg::Ed25519Cert,
            SigAlg::EcdsaP256 => SigAlg::EcdsaP256Cert,
            SigAlg::EcdsaP384 => SigAlg::EcdsaP384Cert,
            SigAlg::EcdsaP521 => SigAlg::EcdsaP521Cert,
            SigAlg::RsaSha512 => SigAlg::RsaSha512Cert,
            SigAlg::RsaSha256 => SigAlg::RsaSha256Cert,
            SigAlg::RsaSha1 => SigAlg::RsaSha1Cert,
            SigAlg::SkEd25519 => SigAlg::SkEd25519Cert,
            SigAlg::SkEcdsaP256 => SigAlg::SkEcdsaP256Cert,
            cert => cert,
        }
    }

    /// The key type name at the start of the key (or certificate) blob:
    /// `rsa-sha2-512` → `ssh-rsa`, `rsa-sha2-512-cert-v01@openssh.com` →
    /// `ssh-rsa-cert-v01@openssh.com`, otherwise the algorithm name itself.
    pub fn key_type_name(self) -> &'static str {
        match self {
            SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1 => "ssh-rsa",
            SigAlg::RsaSha512Cert | SigAlg::RsaSha256Cert | SigAlg::RsaSha1Cert => {
                "ssh-rsa-cert-v01@openssh.com"
            }
            other => other.name(),
        }
    }

    /// The name inside the signature blob: the plain algorithm's name (a certificate's
    /// signature is made by the certified key, PROTOCOL.certkeys).
    pub fn sig_name(self) -> &'static str {
        self.plain().name()
    }

    /// The algorithms a key can sign and verify with, in preference order: an RSA key
    /// gives `rsa-sha2-512`, `rsa-sha2-256`, `ssh-rsa`; a certificate (ssh-key's
    /// `KeyData::Certificate`) gives the certificate names. Empty for key types we do not
    /// implement (DSA, unknown).
    pub fn for_key(key: &PublicKey) -> Vec<SigAlg> {
        Self::for_key_data(key.key_data())
    }

    /// [`SigAlg::for_key`] for a certificate.
    pub fn for_cert(cert: &ssh_key::Certificate) -> Vec<SigAlg> {
        Self::for_key_data(cert.public_key())
            .into_iter()
            .map(SigAlg::cert)
            .collect()
    }

    fn for_key_data(key: &KeyData) -> Vec<SigAlg> {
        if let Some(cert) = key.certificate() {
            return Self::for_cert(cert);
        }
        match key.algorithm() {
            Algorithm::Ed25519 => vec![SigAlg::Ed25519],
            Algorithm::Ecdsa { curve } => vec![match curve {
                EcdsaCurve::NistP256 => SigAlg::EcdsaP256,
                EcdsaCurve::NistP384 => SigAlg::EcdsaP384,
                EcdsaCurve::NistP521 => SigAlg::EcdsaP521,
            }],
            Algorithm::Rsa { .. } => vec![SigAlg::RsaSha512, SigAlg::RsaSha256, SigAlg::RsaSha1],
            Algorithm::SkEd25519 => vec![SigAlg::SkEd25519],
            Algorithm::SkEcdsaSha2NistP256 => vec![SigAlg::SkEcdsaP256],
            _ => Vec::new(),
        }
    }
}

/// A server host key and, optionally, the certificate for it (sshd's `HostKey` with a
/// matching `HostCertificate`). The certificate's certified key is the host key's
/// public key, checked when the pair is made; the CA's signature and the certificate's
/// contents are the client's business, so any certificate framing is accepted (as
/// OpenSSH's sshd offers a user certificate given as a host certificate).
#[derive(Clone)]
pub struct HostKey {
    key: PrivateKey,
    /// The certificate blob exactly as loaded: it is sent as `K_S` byte for byte, so a
    /// re-encoding can never break the CA's signature over it.
    cert: Option<Vec<u8>>,
}

impl From<PrivateKey> for HostKey {
    fn from(key: PrivateKey) -> HostKey {
        HostKey::new(key)
    }
}

impl HostKey {
    /// A host key without a certificate.
    pub fn new(key: PrivateKey) -> HostKey {
        HostKey { key, cert: None }
    }

    /// A host key with its certificate (ssh-key's parsed form, encoded again).
    pub fn with_certificate(key: PrivateKey, cert: &ssh_key::Certificate) -> Result<Self, Error> {
        if cert.public_key() != key.public_key().key_data() {
            return Err(cert_mismatch());
        }
        HostKey::with_certificate_blob(key, cert_blob(cert))
    }

    /// A host key with its certificate given as the wire blob (the base64 of a
    /// `-cert.pub` line, decoded). The blob must be a certificate of the key's own type
    /// whose certified key is `key`'s public key.
    pub fn with_certificate_blob(key: PrivateKey, blob: Vec<u8>) -> Result<Self, Error> {
        let plain = SigAlg::for_key(key.public_key());
        let Some(&first) = plain.first() else {
            return Err(Error::Unsupported(format!(
                "{}: host certificates of this key type",
                key.algorithm()
            )));
        };
        // Checks the type name and the framing of every certificate field.
        parse_key_blob(first.cert(), &blob).map_err(|_| cert_mismatch())?;
        let key_blob = public_blob(key.public_key());
        let mut k = Reader::new(&key_blob);
        let mut c = Reader::new(&blob);
        // Key blob: type || fields. Certificate blob: type || nonce || the same fields
        // || the certificate's own fields (PROTOCOL.certkeys).
        let framed = (k.string(), c.string(), c.string());
        let certified = matches!(framed, (Ok(_), Ok(_), Ok(_)))
            && !k.rest().is_empty()
            && c.rest().starts_with(k.rest());
        if !certified {
            return Err(cert_mismatch());
        }
        Ok(HostKey {
            key,
            cert: Some(blob),
        })
    }

    /// The private key, which signs for the plain and the certificate algorithms.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The certificate blob, if the key has a certificate.
    pub fn certificate(&self) -> Option<&[u8]> {
        self.cert.as_deref()
    }

    /// The host key algorithms this key serves: the key's own (`rsa-sha2-512`, …)
    /// and, with a certificate, their certificate forms.
    pub fn algorithms(&self) -> Vec<SigAlg> {
        let plain = SigAlg::for_key(self.key.public_key());
        let certs = self
            .cert
            .as_ref()
            .map(|_| plain.iter().map(|a| a.cert()).collect::<Vec<_>>())
            .unwrap_or_default();
        plain.into_iter().chain(certs).collect()
    }

    /// `K_S` for `alg`: the certificate blob for a certificate algorithm, the public key
    /// blob otherwise; None if this key does not serve `alg`.
    pub fn blob_for(&self, alg: SigAlg) -> Option<Vec<u8>> {
        if !self.algorithms().contains(&alg) {
            return None;
        }
        match &self.cert {
            Some(cert) if alg.is_cert() => Some(cert.clone()),
            _ => Some(public_blob(self.key.public_key())),
        }
    }
}

fn cert_mismatch() -> Error {
    Error::Key("host certificate does not match its host key".into())
}

/// The public key blob of a key (`K_S` in the key exchange, the key in `publickey`
/// authentication): `string type || fields`, or the certificate blob when the key data
/// is a certificate.
///
/// Encoding a key that exists in memory cannot fail (it can only overflow a 32-bit
/// length); should it ever, the blob is empty and the peer's verification fails.
pub fn public_blob(key: &PublicKey) -> Vec<u8> {
    use ssh_key::encoding::Encode;
    key.key_data().encode_vec().unwrap_or_default()
}

/// The blob of a certificate, as sent in place of the key (PROTOCOL.certkeys); empty on
/// the same impossible encoding failure as [`public_blob`].
pub fn cert_blob(cert: &ssh_key::Certificate) -> Vec<u8> {
    cert.to_bytes().unwrap_or_default()
}

/// Verify `sig_blob` (`string name || string signature`, plus `byte flags || uint32
/// counter` for `sk-*`) over `data` with the key given as its wire blob (`string type ||
/// fields`; for a certificate algorithm the certificate blob, verified with the certified
/// key — the CA's signature on the certificate is the caller's policy, not checked here).
///
/// The key blob's type must be `alg`'s key type and the signature's name `alg`'s
/// signature name, exactly; for RSA the hash comes from `alg`, never from the blob.
pub fn verify(
    alg: SigAlg,
    key_blob: &[u8],
    data: &[u8],
    sig_blob: &[u8],
) -> Result<Verified, Error> {
    let key = parse_key_blob(alg, key_blob)?;
    let mut r = Reader::new(sig_blob);
    let name = r
        .string()
        .map_err(|_| Error::Signature("malformed signature"))?;
    if name != alg.sig_name().as_bytes() {
        return Err(Error::Signature("signature algorithm does not match"));
    }
    let sig = r
        .string()
        .map_err(|_| Error::Signature("malformed signature"))?;
    let sk = if alg.is_sk() {
        let flags = r
            .u8()
            .map_err(|_| Error::Signature("malformed signature"))?;
        let counter = r
            .u32()
            .map_err(|_| Error::Signature("malformed signature"))?;
        Some(SkInfo { flags, counter })
    } else {
        None
    };
    if !r.is_empty() {
        return Err(Error::Signature("trailing data after signature"));
    }
    let ok = match (key, sk) {
        (Key::Ed25519(pk), None) => verify_ed25519(pk, data, sig),
        (Key::Ecdsa(curve, q), None) => verify_ecdsa(curve, q, data, sig),
        (Key::Rsa { e, n }, None) => verify_rsa(alg.plain(), e, n, data, sig),
        (Key::SkEd25519 { pk, application }, Some(info)) => {
            verify_ed25519(pk, &sk_signed_data(application, info, data), sig)
        }
        (Key::SkEcdsa { q, application }, Some(info)) => verify_ecdsa(
            EcdsaCurve::NistP256,
            q,
            &sk_signed_data(application, info, data),
            sig,
        ),
        _ => Err(Error::Signature("key type does not match algorithm")),
    };
    ok.map(|()| Verified { sk })
}

/// Sign `data` with `key` for `alg`, producing the signature blob `string name || string
/// signature`. RSA uses the hash `alg` names (RFC 8332); ECDSA encodes `r`, `s` as mpints
/// (RFC 5656 §3.1.2) with deterministic nonces (RFC 6979). For a certificate algorithm
/// pass the certified key's private key. Security keys cannot sign here (that takes the
/// authenticator, through the agent or a middleware).
pub fn sign(key: &PrivateKey, alg: SigAlg, data: &[u8]) -> Result<Vec<u8>, Error> {
    use ssh_key::private::{EcdsaKeypair, KeypairData};
    let mut inner = Vec::new();
    match (key.key_data(), alg.plain()) {
        (KeypairData::Ed25519(kp), SigAlg::Ed25519) => {
            let sk = ed25519_dalek::SigningKey::from(&kp.private);
            let sig: ed25519_dalek::Signature =
                ed25519_dalek::Signer::try_sign(&sk, data).map_err(|_| signing_failed())?;
            inner.extend_from_slice(&sig.to_bytes());
        }
        (KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }), SigAlg::EcdsaP256) => {
            let sk = p256::ecdsa::SigningKey::from_slice(private.as_slice())
                .map_err(|_| Error::Key("invalid ECDSA private key".into()))?;
            let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::try_sign(&sk, data)
                .map_err(|_| signing_failed())?;
            let (r, s) = sig.split_bytes();
            inner.put_mpint(&r);
            inner.put_mpint(&s);
        }
        (KeypairData::Ecdsa(EcdsaKeypair::NistP384 { private, .. }), SigAlg::EcdsaP384) => {
            let sk = p384::ecdsa::SigningKey::from_slice(private.as_slice())
                .map_err(|_| Error::Key("invalid ECDSA private key".into()))?;
            let sig: p384::ecdsa::Signature = p384::ecdsa::signature::Signer::try_sign(&sk, data)
                .map_err(|_| signing_failed())?;
            let (r, s) = sig.split_bytes();
            inner.put_mpint(&r);
            inner.put_mpint(&s);
        }
        (KeypairData::Ecdsa(EcdsaKeypair::NistP521 { private, .. }), SigAlg::EcdsaP521) => {
            let sk = p521::ecdsa::SigningKey::from_slice(private.as_slice())
                .map_err(|_| Error::Key("invalid ECDSA private key".into()))?;
            let sig: p521::ecdsa::Signature = p521::ecdsa::signature::Signer::try_sign(&sk, data)
                .map_err(|_| signing_failed())?;
            let (r, s) = sig.split_bytes();
            inner.put_mpint(&r);
            inner.put_mpint(&s);
        }
        (
            KeypairData::Rsa(kp),
            plain @ (SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1),
        ) => {
            let sk = rsa::PrivateKey::try_from(kp)
                .map_err(|e| Error::Key(format!("invalid RSA private key: {e}")))?;
            let sig = match plain {
                SigAlg::RsaSha512 => sk.pkcs1v15_sign::<sha2::Sha512>(data),
                SigAlg::RsaSha256 => sk.pkcs1v15_sign::<sha2::Sha256>(data),
                _ => sk.pkcs1v15_sign::<sha1::Sha1>(data),
            }
            .map_err(|e| Error::Key(format!("RSA signing failed: {e}")))?;
            inner = sig;
        }
        (KeypairData::SkEd25519(_) | KeypairData::SkEcdsaSha2NistP256(_), _) => {
            return Err(Error::Unsupported(format!(
                "{}: signing needs the security key",
                alg.name()
            )));
        }
        (KeypairData::Encrypted(_), _) => {
            return Err(Error::Key("private key is encrypted".into()));
        }
        _ => {
            return Err(Error::Key(format!(
                "a {} key cannot sign with {}",
                key.algorithm(),
                alg.name()
            )));
        }
    }
    let mut out = Vec::with_capacity(inner.len() + alg.sig_name().len() + 8);
    out.put_str(alg.sig_name());
    out.put_string(&inner);
    Ok(out)
}

fn signing_failed() -> Error {
    Error::Key("signing failed".into())
}

/// A public key parsed from its wire blob, borrowing the blob.
enum Key<'a> {
    Ed25519(&'a [u8]),
    Ecdsa(EcdsaCurve, &'a [u8]),
    Rsa { e: &'a [u8], n: &'a [u8] },
    SkEd25519 { pk: &'a [u8], application: &'a [u8] },
    SkEcdsa { q: &'a [u8], application: &'a [u8] },
}

fn curve_of(alg: SigAlg) -> Option<(EcdsaCurve, &'static str)> {
    match alg.plain() {
        SigAlg::EcdsaP256 | SigAlg::SkEcdsaP256 => Some((EcdsaCurve::NistP256, "nistp256")),
        SigAlg::EcdsaP384 => Some((EcdsaCurve::NistP384, "nistp384")),
        SigAlg::EcdsaP521 => Some((EcdsaCurve::NistP521, "nistp521")),
        _ => None,
    }
}

/// Parse a key blob (or, for certificate algorithms, the certified key inside a
/// certificate blob, PROTOCOL.certkeys) whose type must be `alg`'s key type.
fn parse_key_blob(alg: SigAlg, blob: &[u8]) -> Result<Key<'_>, Error> {
    let bad = |what: &str| Error::Key(format!("{}: {what}", alg.key_type_name()));
    let mut r = Reader::new(blob);
    let kind = r.string().map_err(|_| bad("malformed key"))?;
    if kind != alg.key_type_name().as_bytes() {
        return Err(Error::Key(format!(
            "key type {} does not match algorithm {}",
            String::from_utf8_lossy(kind),
            alg.name()
        )));
    }
    if alg.is_cert() {
        let _nonce = r.string().map_err(|_| bad("malformed certificate"))?;
    }
    let key = match alg.plain() {
        SigAlg::Ed25519 => Key::Ed25519(r.string().map_err(|_| bad("malformed key"))?),
        SigAlg::SkEd25519 => {
            let pk = r.string().map_err(|_| bad("malformed key"))?;
            let application = r.string().map_err(|_| bad("malformed key"))?;
            Key::SkEd25519 { pk, application }
        }
        SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1 => {
            let e = r.mpint().map_err(|_| bad("malformed key"))?;
            let n = r.mpint().map_err(|_| bad("malformed key"))?;
            Key::Rsa { e, n }
        }
        plain => {
            let (curve, curve_name) = curve_of(plain).ok_or_else(|| bad("unsupported"))?;
            let id = r.string().map_err(|_| bad("malformed key"))?;
            if id != curve_name.as_bytes() {
                return Err(bad("curve does not match key type"));
            }
            let q = r.string().map_err(|_| bad("malformed key"))?;
            if plain == SigAlg::SkEcdsaP256 {
                let application = r.string().map_err(|_| bad("malformed key"))?;
                Key::SkEcdsa { q, application }
            } else {
                Key::Ecdsa(curve, q)
            }
        }
    };
    if alg.is_cert() {
        skip_cert_tail(&mut r).map_err(|_| bad("malformed certificate"))?;
    }
    if !r.is_empty() {
        return Err(bad("trailing data after key"));
    }
    Ok(key)
}

/// The certificate fields after the key (PROTOCOL.certkeys): serial, type, key id,
/// principals, validity, critical options, extensions, reserved, signature key and
/// signature. Only their framing is checked here.
fn skip_cert_tail(r: &mut Reader<'_>) -> Result<(), Error> {
    let _serial = r.u64()?;
    let _type = r.u32()?;
    let _key_id = r.string()?;
    let _principals = r.string()?;
    let _valid_after = r.u64()?;
    let _valid_before = r.u64()?;
    let _critical = r.string()?;
    let _extensions = r.string()?;
    let _reserved = r.string()?;
    let _signature_key = r.string()?;
    let _signature = r.string()?;
    Ok(())
}

/// PROTOCOL.u2f: what the authenticator signed.
fn sk_signed_data(application: &[u8], info: SkInfo, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + 1 + 4 + 32);
    m.extend_from_slice(&sha2::Sha256::digest(application));
    m.push(info.flags);
    m.extend_from_slice(&info.counter.to_be_bytes());
    m.extend_from_slice(&sha2::Sha256::digest(data));
    m
}

fn bad_sig() -> Error {
    Error::Signature("incorrect signature")
}

fn verify_ed25519(pk: &[u8], data: &[u8], sig: &[u8]) -> Result<(), Error> {
    let pk: &[u8; 32] = pk
        .try_into()
        .map_err(|_| Error::Key("ssh-ed25519: bad public key length".into()))?;
    let pk = ed25519_dalek::VerifyingKey::from_bytes(pk)
        .map_err(|_| Error::Key("ssh-ed25519: invalid public key".into()))?;
    let sig: &[u8; 64] = sig
        .try_into()
        .map_err(|_| Error::Signature("bad ssh-ed25519 signature length"))?;
    let sig = ed25519_dalek::Signature::from_bytes(sig);
    pk.verify(data, &sig).map_err(|_| bad_sig())
}

/// RFC 5656 §3.1.2: the signature blob is `mpint r || mpint s`; each must fit the curve's
/// scalar size. The hash is the curve's (SHA-256/384/512, §6.2.1), applied by the
/// verifier.
fn verify_ecdsa(curve: EcdsaCurve, q: &[u8], data: &[u8], sig: &[u8]) -> Result<(), Error> {
    let mut r = Reader::new(sig);
    let (sig_r, sig_s) = match (r.mpint(), r.mpint()) {
        (Ok(a), Ok(b)) if r.is_empty() => (strip_zeros(a), strip_zeros(b)),
        _ => return Err(Error::Signature("malformed ECDSA signature")),
    };
    macro_rules! run {
        ($krate:ident) => {{
            use $krate::ecdsa::signature::Verifier as _;
            let field_len = <$krate::FieldBytes>::default().len();
            // OpenSSH accepts only uncompressed points in key blobs.
            if q.len() != 1 + 2 * field_len || q.first() != Some(&0x04) {
                return Err(Error::Key("ECDSA public key: bad point encoding".into()));
            }
            let vk = $krate::ecdsa::VerifyingKey::from_sec1_bytes(q)
                .map_err(|_| Error::Key("ECDSA public key: not on the curve".into()))?;
            let fixed = |v: &[u8]| -> Result<$krate::FieldBytes, Error> {
                let mut out = <$krate::FieldBytes>::default();
                let start = field_len
                    .checked_sub(v.len())
                    .ok_or(Error::Signature("malformed ECDSA signature"))?;
                out.get_mut(start..)
                    .ok_or(Error::Signature("malformed ECDSA signature"))?
                    .copy_from_slice(v);
                Ok(out)
            };
            let sig = $krate::ecdsa::Signature::from_scalars(fixed(sig_r)?, fixed(sig_s)?)
                .map_err(|_| bad_sig())?;
            vk.verify(data, &sig).map_err(|_| bad_sig())
        }};
    }
    match curve {
        EcdsaCurve::NistP256 => run!(p256),
        EcdsaCurve::NistP384 => run!(p384),
        EcdsaCurve::NistP521 => run!(p521),
    }
}

/// OpenSSH's `SSH_RSA_MINIMUM_MODULUS_SIZE` and its largest bignum (16384 bits).
const RSA_MIN_BITS: usize = 1024;
const RSA_MAX_BITS: usize = 16384;

/// RFC 8332 / RFC 4253 §6.6: RSASSA-PKCS1-v1_5 with the hash `plain` names. A signature
/// shorter than the modulus is left-padded with zeros, as OpenSSH does; a longer one is
/// refused.
fn verify_rsa(plain: SigAlg, e: &[u8], n: &[u8], data: &[u8], sig: &[u8]) -> Result<(), Error> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    let n_bits = n.len() * 8;
    if n.len() * 8 > RSA_MAX_BITS + 7 || e.len() > n.len() {
        return Err(Error::Key("ssh-rsa: key too large".into()));
    }
    let precision = (n_bits.div_ceil(64) * 64) as u32;
    let to_uint = |v: &[u8]| {
        rsa::BoxedUint::from_be_slice(v, precision)
            .map_err(|_| Error::Key("ssh-rsa: invalid key".into()))
    };
    let pk =
        rsa::PublicKey::new_with_size_limits(to_uint(n)?, to_uint(e)?, RSA_MIN_BITS..=RSA_MAX_BITS)
            .map_err(|e| Error::Key(format!("ssh-rsa: {e}")))?;
    let sig = strip_zeros(sig);
    if sig.len() > n.len() {
        return Err(Error::Signature("bad ssh-rsa signature length"));
    }
    let mut padded = vec![0u8; n.len()];
    let start = n.len() - sig.len();
    padded
        .get_mut(start..)
        .ok_or(Error::Signature("bad ssh-rsa signature length"))?
        .copy_from_slice(sig);
    let res = match plain {
        SigAlg::RsaSha512 => pk.pkcs1v15_verify::<sha2::Sha512>(data, &padded),
        SigAlg::RsaSha256 => pk.pkcs1v15_verify::<sha2::Sha256>(data, &padded),
        SigAlg::RsaSha1 => pk.pkcs1v15_verify::<sha1::Sha1>(data, &padded),
        _ => return Err(Error::Signature("key type does not match algorithm")),
    };
    res.map_err(|_| bad_sig())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}
