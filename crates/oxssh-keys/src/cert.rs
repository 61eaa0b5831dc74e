//! OpenSSH certificates (PROTOCOL.certkeys): the `*-cert-v01@openssh.com` blob,
//! signing one with a CA key, checking the CA's signature, and the policy checks that
//! ssh, sshd and ssh-keygen share (OpenSSH's `sshkey_cert_check_authority`, the host
//! certificate rule of `sshkey_cert_check_host`, and the user certificate options of
//! `sshauthopt_from_cert`).
//!
//! The blob is parsed here field by field (not through `ssh-key`'s `Certificate`)
//! because `ssh-keygen -L` must print every option exactly as the CA wrote it, including
//! ones with data `ssh-key` would refuse; the certified and CA keys themselves are
//! `ssh-key` types. [`Certificate::to_ssh_key`] converts for code that wants those.
//! Signatures are made and checked with `oxssh_proto::hostkey` (DSA through `ssh-key`).
//!
//! Not here: whether a CA is trusted (the caller compares [`Certificate::signature_key`]
//! with its `TrustedUserCAKeys` / `@cert-authority` keys) and revocation (`krl`).
//! Parsing never panics and allocates only what the blob holds.

use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::wire::{Put, Reader};
use ssh_key::public::KeyData;
use ssh_key::{PrivateKey, PublicKey};

/// `SSH2_CERT_TYPE_USER`.
pub const USER: u32 = 1;
/// `SSH2_CERT_TYPE_HOST`.
pub const HOST: u32 = 2;
/// OpenSSH's limit on principals in one certificate (`SSHKEY_CERT_MAX_PRINCIPALS`).
pub const MAX_PRINCIPALS: usize = 256;

/// Why a certificate could not be parsed or signed; `Display` gives OpenSSH's
/// `ssh_err` texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("invalid format")]
    Invalid,
    #[error("unknown or unsupported key type")]
    UnknownType,
    #[error("unknown certificate type")]
    UnknownCertType,
    #[error("invalid certificate signing key")]
    BadSigningKey,
    #[error("incorrect signature")]
    Signature,
    #[error("{0}")]
    Sign(String),
}

/// One critical option or extension: its name and its raw data (for the standard
/// options with a value, the data is itself an SSH string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertOption {
    pub name: String,
    pub data: Vec<u8>,
}

impl CertOption {
    /// A flag option (empty data), like `permit-pty`.
    pub fn flag(name: &str) -> CertOption {
        CertOption {
            name: name.into(),
            data: Vec::new(),
        }
    }

    /// A key/value option, like `force-command`: the value wrapped as a string.
    pub fn with_value(name: &str, value: &str) -> CertOption {
        let mut data = Vec::new();
        data.put_str(value);
        CertOption {
            name: name.into(),
            data,
        }
    }

    /// The option's string value (its data parsed as one SSH string), if it has one.
    pub fn value(&self) -> Option<String> {
        let mut r = Reader::new(&self.data);
        let v = r.string().ok()?;
        r.is_empty()
            .then(|| String::from_utf8_lossy(v).into_owned())
    }
}

/// Certificate types we know: (certificate name, plain key name, number of key fields).
const TYPES: &[(&str, &str, usize)] = &[
    ("ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", 1),
    ("ssh-rsa-cert-v01@openssh.com", "ssh-rsa", 2),
    ("ssh-dss-cert-v01@openssh.com", "ssh-dss", 4),
    (
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
        2,
    ),
    (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
        2,
    ),
    (
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
        2,
    ),
    (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        2,
    ),
    (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        3,
    ),
];

/// The certificate type name for a plain key type name (`ssh-ed25519` →
/// `ssh-ed25519-cert-v01@openssh.com`).
pub fn cert_name_for(plain: &str) -> Option<&'static str> {
    TYPES.iter().find(|t| t.1 == plain).map(|t| t.0)
}

/// The plain key type name of a certificate type name.
pub fn plain_name_for(cert: &str) -> Option<&'static str> {
    TYPES.iter().find(|t| t.0 == cert).map(|t| t.1)
}

/// True if `name` is a certificate key type name.
pub fn is_cert_name(name: &str) -> bool {
    plain_name_for(name).is_some()
}

/// A parsed certificate.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// `ssh-ed25519-cert-v01@openssh.com` etc.
    pub type_name: &'static str,
    pub nonce: Vec<u8>,
    /// The certified key (plain, without comment).
    pub key: PublicKey,
    /// The certified key's fields as they appear in the blob.
    key_fields: Vec<u8>,
    pub serial: u64,
    /// [`USER`] or [`HOST`].
    pub cert_type: u32,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub critical_options: Vec<CertOption>,
    pub extensions: Vec<CertOption>,
    pub reserved: Vec<u8>,
    /// The CA's public key.
    pub signature_key: PublicKey,
    signature_key_blob: Vec<u8>,
    /// The CA's signature blob (`string alg || string sig`), empty until signed.
    pub signature: Vec<u8>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn options(data: &[u8]) -> Result<Vec<CertOption>, CertError> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while !r.is_empty() {
        let name = r.string().map_err(|_| CertError::Invalid)?;
        let d = r.string().map_err(|_| CertError::Invalid)?;
        out.push(CertOption {
            name: lossy(name),
            data: d.to_vec(),
        });
    }
    Ok(out)
}

fn put_options(out: &mut Vec<u8>, opts: &[CertOption]) {
    let mut b = Vec::new();
    for o in opts {
        b.put_str(&o.name);
        b.put_string(&o.data);
    }
    out.put_string(&b);
}

impl Certificate {
    /// Parse a certificate blob and check the CA's signature over it, as OpenSSH does
    /// whenever it loads a certificate.
    pub fn from_blob(blob: &[u8]) -> Result<Certificate, CertError> {
        let c = Certificate::parse_unverified(blob)?;
        c.verify_signature()?;
        Ok(c)
    }

    /// Parse a certificate blob without checking the signature.
    pub fn parse_unverified(blob: &[u8]) -> Result<Certificate, CertError> {
        let bad = |_| CertError::Invalid;
        let mut r = Reader::new(blob);
        let name = r.string().map_err(bad)?;
        let (type_name, plain, nfields) = TYPES
            .iter()
            .find(|t| t.0.as_bytes() == name)
            .copied()
            .ok_or(CertError::UnknownType)?;
        let nonce = r.string().map_err(bad)?.to_vec();
        let before = r.rest();
        for _ in 0..nfields {
            r.string().map_err(bad)?;
        }
        let used = before.len() - r.rest().len();
        let key_fields = before.get(..used).ok_or(CertError::Invalid)?.to_vec();
        let mut plain_blob = Vec::with_capacity(used + plain.len() + 4);
        plain_blob.put_str(plain);
        plain_blob.extend_from_slice(&key_fields);
        let key = PublicKey::from_bytes(&plain_blob).map_err(|_| CertError::Invalid)?;
        let serial = r.u64().map_err(bad)?;
        let cert_type = r.u32().map_err(bad)?;
        let key_id = lossy(r.string().map_err(bad)?);
        let mut principals = Vec::new();
        let mut pr = Reader::new(r.string().map_err(bad)?);
        while !pr.is_empty() {
            if principals.len() >= MAX_PRINCIPALS {
                return Err(CertError::Invalid);
            }
            principals.push(lossy(pr.string().map_err(bad)?));
        }
        let valid_after = r.u64().map_err(bad)?;
        let valid_before = r.u64().map_err(bad)?;
        let critical_options = options(r.string().map_err(bad)?)?;
        let extensions = options(r.string().map_err(bad)?)?;
        let reserved = r.string().map_err(bad)?.to_vec();
        let signature_key_blob = r.string().map_err(bad)?.to_vec();
        let signature = r.string().map_err(bad)?.to_vec();
        if !r.is_empty() {
            return Err(CertError::Invalid);
        }
        if cert_type != USER && cert_type != HOST {
            return Err(CertError::UnknownCertType);
        }
        let signature_key =
            PublicKey::from_bytes(&signature_key_blob).map_err(|_| CertError::BadSigningKey)?;
        if signature_key.key_data().is_certificate() {
            return Err(CertError::BadSigningKey);
        }
        Ok(Certificate {
            type_name,
            nonce,
            key,
            key_fields,
            serial,
            cert_type,
            key_id,
            principals,
            valid_after,
            valid_before,
            critical_options,
            extensions,
            reserved,
            signature_key,
            signature_key_blob,
            signature,
        })
    }

    /// A certificate line's key (`type base64 [comment]`): the certificate and the
    /// comment. The type must agree with the blob.
    pub fn from_line(line: &str) -> Result<(Certificate, String), CertError> {
        use base64ct::{Base64, Encoding};
        let line = line.trim_start_matches([' ', '\t']);
        let mut it = line.splitn(3, [' ', '\t']);
        let ty = it.next().unwrap_or_default();
        let b64 = it.next().ok_or(CertError::Invalid)?;
        let comment = it
            .next()
            .unwrap_or_default()
            .trim_matches(['\r', '\n', ' ', '\t'])
            .to_owned();
        if !is_cert_name(ty) {
            if ty.is_empty() {
                return Err(CertError::Invalid);
            }
            return Err(CertError::UnknownType);
        }
        let blob = Base64::decode_vec(b64.trim_end_matches(['\r', '\n']))
            .map_err(|_| CertError::Invalid)?;
        let c = Certificate::from_blob(&blob)?;
        if c.type_name != ty {
            return Err(CertError::Invalid);
        }
        Ok((c, comment))
    }

    /// An unsigned certificate for `key` with a random nonce, to be filled in and
    /// [`sign`](Certificate::sign)ed.
    pub fn for_key(key: &PublicKey) -> Result<Certificate, CertError> {
        let kd = key.key_data();
        if kd.is_certificate() {
            return Err(CertError::UnknownType);
        }
        let blob = crate::fingerprint::blob(kd);
        let mut r = Reader::new(&blob);
        let plain = r.string().map_err(|_| CertError::Invalid)?;
        let type_name = TYPES
            .iter()
            .find(|t| t.1.as_bytes() == plain)
            .map(|t| t.0)
            .ok_or(CertError::UnknownType)?;
        let mut nonce = vec![0u8; 32];
        crate::keyfile::random_bytes(&mut nonce);
        Ok(Certificate {
            type_name,
            nonce,
            key: PublicKey::new(kd.clone(), ""),
            key_fields: r.rest().to_vec(),
            serial: 0,
            cert_type: USER,
            key_id: String::new(),
            principals: Vec::new(),
            valid_after: 0,
            valid_before: u64::MAX,
            critical_options: Vec::new(),
            extensions: Vec::new(),
            reserved: Vec::new(),
            signature_key: PublicKey::new(kd.clone(), ""),
            signature_key_blob: Vec::new(),
            signature: Vec::new(),
        })
    }

    /// The signed part of the blob: everything before the signature.
    pub fn tbs(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(512 + self.key_fields.len());
        b.put_str(self.type_name);
        b.put_string(&self.nonce);
        b.extend_from_slice(&self.key_fields);
        b.put_u64(self.serial);
        b.put_u32(self.cert_type);
        b.put_str(&self.key_id);
        let mut p = Vec::new();
        for n in &self.principals {
            p.put_str(n);
        }
        b.put_string(&p);
        b.put_u64(self.valid_after);
        b.put_u64(self.valid_before);
        put_options(&mut b, &self.critical_options);
        put_options(&mut b, &self.extensions);
        b.put_string(&self.reserved);
        b.put_string(&self.signature_key_blob);
        b
    }

    /// The whole certificate blob.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut b = self.tbs();
        b.put_string(&self.signature);
        b
    }

    /// `type base64 comment`, the `-cert.pub` line (no newline).
    pub fn to_line(&self, comment: &str) -> String {
        use base64ct::{Base64, Encoding};
        let mut s = format!(
            "{} {}",
            self.type_name,
            Base64::encode_string(&self.to_blob())
        );
        if !comment.is_empty() {
            s.push(' ');
            s.push_str(comment);
        }
        s
    }

    /// The certificate as an `ssh-key` public key (for code that uses `ssh-key`'s
    /// `KeyData::Certificate`); None when `ssh-key` refuses the blob.
    pub fn to_ssh_key(&self) -> Option<PublicKey> {
        ssh_key::Certificate::from_bytes(&self.to_blob())
            .ok()
            .map(|c| PublicKey::new(KeyData::Certificate(Box::new(c)), ""))
    }

    /// "user" or "host".
    pub fn type_label(&self) -> &'static str {
        if self.cert_type == HOST {
            "host"
        } else {
            "user"
        }
    }

    /// The algorithm name inside the CA signature (`rsa-sha2-512`…).
    pub fn signature_type(&self) -> String {
        let mut r = Reader::new(&self.signature);
        r.string().map(lossy).unwrap_or_default()
    }

    /// The CA key's wire blob.
    pub fn signature_key_blob(&self) -> &[u8] {
        &self.signature_key_blob
    }

    /// Check the CA's signature over the certificate.
    pub fn verify_signature(&self) -> Result<(), CertError> {
        verify_blob(&self.signature_key_blob, &self.tbs(), &self.signature)
    }

    /// Sign with `ca` using the signature algorithm `alg` (default: the CA key's own,
    /// `rsa-sha2-512` for RSA), setting the signature key.
    pub fn sign(&mut self, ca: &PrivateKey, alg: Option<&str>) -> Result<(), CertError> {
        let ca_pub = ca.public_key().key_data();
        self.signature_key = PublicKey::new(ca_pub.clone(), "");
        self.signature_key_blob = crate::fingerprint::blob(ca_pub);
        let tbs = self.tbs();
        self.signature = sign_blob(ca, alg, &tbs)?;
        Ok(())
    }

    /// Sign with a CA key held elsewhere (an agent): `sign` gets the data to sign and
    /// returns the signature blob.
    pub fn sign_with(
        &mut self,
        ca: &PublicKey,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, CertError>,
    ) -> Result<(), CertError> {
        let ca_pub = ca.key_data();
        if ca_pub.is_certificate() {
            return Err(CertError::BadSigningKey);
        }
        self.signature_key = PublicKey::new(ca_pub.clone(), "");
        self.signature_key_blob = crate::fingerprint::blob(ca_pub);
        let tbs = self.tbs();
        self.signature = sign(&tbs)?;
        self.verify_signature()
    }

    /// OpenSSH's `sshkey_cert_check_authority`: type, validity at `now`, principals.
    /// The error is OpenSSH's reason text.
    pub fn check_authority(&self, p: &Policy<'_>) -> Result<(), &'static str> {
        if p.want_host && self.cert_type != HOST {
            return Err("Certificate invalid: not a host certificate");
        }
        if !p.want_host && self.cert_type != USER {
            return Err("Certificate invalid: not a user certificate");
        }
        if p.now < self.valid_after {
            return Err("Certificate invalid: not yet valid");
        }
        if p.now >= self.valid_before {
            return Err("Certificate invalid: expired");
        }
        if self.principals.is_empty() {
            if p.require_principal {
                return Err("Certificate lacks principal list");
            }
        } else if let Some(name) = p.name {
            let hit = self.principals.iter().any(|pr| {
                if p.wildcard {
                    crate::pattern::glob(pr, name)
                } else {
                    pr == name
                }
            });
            if !hit {
                return Err("Certificate invalid: name is not a listed principal");
            }
        }
        Ok(())
    }

    /// OpenSSH's `sshkey_cert_check_host`: a host certificate valid now for `host`,
    /// with no critical options.
    pub fn check_host(&self, host: &str, wildcard: bool, now: u64) -> Result<(), &'static str> {
        self.check_authority(&Policy {
            want_host: true,
            require_principal: false,
            wildcard,
            name: Some(host),
            now,
        })?;
        if !self.critical_options.is_empty() {
            return Err("Certificate contains unsupported critical options");
        }
        Ok(())
    }

    /// The restrictions a user certificate carries (OpenSSH's `sshauthopt_from_cert`);
    /// an unknown critical option or a malformed one is an error.
    pub fn user_options(&self) -> Result<UserCertOptions, String> {
        let mut o = UserCertOptions::default();
        for opt in &self.critical_options {
            match opt.name.as_str() {
                "force-command" => {
                    o.force_command = Some(opt.value().ok_or_else(|| {
                        "Certificate option \"force-command\" corrupt".to_owned()
                    })?);
                }
                "source-address" => {
                    o.source_address = Some(opt.value().ok_or_else(|| {
                        "Certificate option \"source-address\" corrupt".to_owned()
                    })?);
                }
                "verify-required" => o.verify_required = true,
                n => {
                    return Err(format!(
                        "Certificate critical option \"{n}\" is not supported"
                    ));
                }
            }
        }
        for ext in &self.extensions {
            match ext.name.as_str() {
                "permit-X11-forwarding" => o.permit_x11_forwarding = true,
                "permit-agent-forwarding" => o.permit_agent_forwarding = true,
                "permit-port-forwarding" => o.permit_port_forwarding = true,
                "permit-pty" => o.permit_pty = true,
                "permit-user-rc" => o.permit_user_rc = true,
                "no-touch-required" => o.no_touch_required = true,
                _ => {}
            }
        }
        Ok(o)
    }
}

/// OpenSSH's `sshkey_format_cert_validity`: "forever", "before …", "after …" or
/// "from … to …", in `zone`.
pub fn validity_text(after: u64, before: u64, zone: &crate::timefmt::Zone) -> String {
    use crate::timefmt::format_absolute;
    match (after, before) {
        (0, u64::MAX) => "forever".into(),
        (0, b) => format!("before {}", format_absolute(b, zone)),
        (a, u64::MAX) => format!("after {}", format_absolute(a, zone)),
        (a, b) => format!(
            "from {} to {}",
            format_absolute(a, zone),
            format_absolute(b, zone)
        ),
    }
}

/// What [`Certificate::check_authority`] checks against.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// A host certificate is wanted (else a user certificate).
    pub want_host: bool,
    /// A certificate without principals is refused.
    pub require_principal: bool,
    /// Principals are patterns (host certificates in known_hosts).
    pub wildcard: bool,
    /// The user or host name that must be a principal.
    pub name: Option<&'a str>,
    /// The time to check validity at (seconds since the epoch).
    pub now: u64,
}

/// Restrictions from a user certificate's critical options and extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserCertOptions {
    pub force_command: Option<String>,
    pub source_address: Option<String>,
    pub verify_required: bool,
    pub permit_x11_forwarding: bool,
    pub permit_agent_forwarding: bool,
    pub permit_port_forwarding: bool,
    pub permit_pty: bool,
    pub permit_user_rc: bool,
    pub no_touch_required: bool,
}

/// The signature algorithm for `key` when the caller names none: its own, and
/// `rsa-sha2-512` for RSA (OpenSSH's default for certificates and sshsig).
pub fn default_sig_alg(key: &KeyData) -> Option<&'static str> {
    match key.algorithm() {
        ssh_key::Algorithm::Dsa => Some("ssh-dss"),
        _ => SigAlg::for_key(&PublicKey::new(key.clone(), ""))
            .first()
            .map(|a| a.name()),
    }
}

/// Sign `data` with `key` and algorithm `alg` (default per [`default_sig_alg`]):
/// the signature blob `string alg || string sig`.
pub fn sign_blob(key: &PrivateKey, alg: Option<&str>, data: &[u8]) -> Result<Vec<u8>, CertError> {
    let kd = key.public_key().key_data();
    let alg = match alg {
        Some(a) => a,
        None => default_sig_alg(kd).ok_or(CertError::UnknownType)?,
    };
    if alg == "ssh-dss" {
        use ssh_key::encoding::Encode;
        let sig: ssh_key::Signature =
            signature::Signer::try_sign(key, data).map_err(|e| CertError::Sign(e.to_string()))?;
        return sig.encode_vec().map_err(|e| CertError::Sign(e.to_string()));
    }
    let sa = SigAlg::from_name(alg).ok_or(CertError::UnknownType)?;
    hostkey::sign(key, sa, data).map_err(|e| CertError::Sign(e.to_string()))
}

/// Verify a signature blob over `data` by the key with wire blob `key_blob`. The
/// algorithm is the one the signature names, which must suit the key.
pub fn verify_blob(key_blob: &[u8], data: &[u8], sig: &[u8]) -> Result<(), CertError> {
    let mut r = Reader::new(sig);
    let name = r.utf8().map_err(|_| CertError::Signature)?;
    if name == "ssh-dss" {
        let key = PublicKey::from_bytes(key_blob).map_err(|_| CertError::Signature)?;
        let s = ssh_key::Signature::try_from(sig).map_err(|_| CertError::Signature)?;
        return signature::Verifier::verify(key.key_data(), data, &s)
            .map_err(|_| CertError::Signature);
    }
    let alg = SigAlg::from_name(name).ok_or(CertError::Signature)?;
    if alg.is_cert() {
        return Err(CertError::Signature);
    }
    hostkey::verify(alg, key_blob, data, sig)
        .map(|_| ())
        .map_err(|_| CertError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: ssh_key::Algorithm) -> PrivateKey {
        PrivateKey::random(&mut rand::rng(), alg).unwrap()
    }

    #[test]
    fn sign_parse_round_trip_and_policy() {
        let ca = key(ssh_key::Algorithm::Ed25519);
        let user = key(ssh_key::Algorithm::Ecdsa {
            curve: ssh_key::EcdsaCurve::NistP256,
        });
        let mut c = Certificate::for_key(user.public_key()).unwrap();
        c.key_id = "id".into();
        c.serial = 7;
        c.principals = vec!["alice".into(), "bob".into()];
        c.valid_after = 100;
        c.valid_before = 200;
        c.critical_options = vec![CertOption::with_value("force-command", "true")];
        c.extensions = vec![CertOption::flag("permit-pty")];
        c.sign(&ca, None).unwrap();
        let back = Certificate::from_blob(&c.to_blob()).unwrap();
        assert_eq!(back.key.key_data(), user.public_key().key_data());
        assert_eq!(back.principals, c.principals);
        assert_eq!(back.signature_type(), "ssh-ed25519");
        assert!(back.to_ssh_key().is_some());
        let mut p = Policy {
            want_host: false,
            require_principal: true,
            wildcard: false,
            name: Some("alice"),
            now: 150,
        };
        assert_eq!(back.check_authority(&p), Ok(()));
        p.now = 200;
        assert_eq!(
            back.check_authority(&p),
            Err("Certificate invalid: expired")
        );
        p.now = 150;
        p.name = Some("carol");
        assert!(back.check_authority(&p).is_err());
        let o = back.user_options().unwrap();
        assert_eq!(o.force_command.as_deref(), Some("true"));
        assert!(o.permit_pty);
        // A flipped byte anywhere in the signed part breaks the signature.
        let mut blob = c.to_blob();
        if let Some(b) = blob.get_mut(60) {
            *b ^= 1;
        }
        assert!(Certificate::from_blob(&blob).is_err());
    }

    #[test]
    fn rsa_ca_defaults_to_sha512() {
        let ca = PrivateKey::random(&mut rand::rng(), ssh_key::Algorithm::Rsa { hash: None });
        let Ok(ca) = ca else { return };
        let user = key(ssh_key::Algorithm::Ed25519);
        let mut c = Certificate::for_key(user.public_key()).unwrap();
        c.sign(&ca, None).unwrap();
        assert_eq!(c.signature_type(), "rsa-sha2-512");
        assert!(c.verify_signature().is_ok());
    }

    #[test]
    fn truncated_blobs_never_panic() {
        let ca = key(ssh_key::Algorithm::Ed25519);
        let mut c = Certificate::for_key(ca.public_key()).unwrap();
        c.sign(&ca, None).unwrap();
        let blob = c.to_blob();
        for n in 0..blob.len() {
            assert!(Certificate::from_blob(blob.get(..n).unwrap()).is_err());
        }
    }
}
