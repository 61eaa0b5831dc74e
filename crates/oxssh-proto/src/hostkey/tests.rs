//! Unit tests for signature algorithms: our signatures verify with us and with OpenSSH,
//! OpenSSH's signatures (certificates made by `ssh-keygen -s`, `ssh-keygen -Y sign`
//! signatures, security-key signatures through OpenSSH's `sk-dummy.so` test provider)
//! verify with us, and every mismatch of algorithm, key and signature name is refused.
//!
//! Tests that need `ssh-keygen` skip with a message when it is missing, and fail when
//! `CI=true`.

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_key::encoding::Encode;
use ssh_key::{LineEnding, SshSig};
use std::path::{Path, PathBuf};
use std::process::Command;

const RSA2048: &str = include_str!("testdata/rsa2048");
const ED25519: &str = include_str!("testdata/ed25519");
const SK_DUMMY: &str = "/usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so";

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5160)
}

/// One private key of each type we sign with, and the algorithms to sign with.
fn test_keys() -> Vec<(PrivateKey, Vec<SigAlg>)> {
    let mut rng = rng();
    let mut keys = vec![
        (
            PrivateKey::from_openssh(ED25519).unwrap(),
            vec![SigAlg::Ed25519],
        ),
        (
            PrivateKey::from_openssh(RSA2048).unwrap(),
            vec![SigAlg::RsaSha512, SigAlg::RsaSha256, SigAlg::RsaSha1],
        ),
    ];
    for (curve, alg) in [
        (EcdsaCurve::NistP256, SigAlg::EcdsaP256),
        (EcdsaCurve::NistP384, SigAlg::EcdsaP384),
        (EcdsaCurve::NistP521, SigAlg::EcdsaP521),
    ] {
        let key = PrivateKey::random(&mut rng, Algorithm::Ecdsa { curve }).unwrap();
        keys.push((key, vec![alg]));
    }
    keys
}

#[test]
fn names_round_trip_and_default_order() {
    for &alg in SigAlg::ALL {
        assert_eq!(SigAlg::from_name(alg.name()), Some(alg));
        assert_eq!(alg.plain().cert(), alg.cert());
        assert_eq!(alg.cert().plain(), alg.plain());
        assert_eq!(alg.is_cert(), alg.name().contains("-cert-v01@openssh.com"));
        assert_eq!(alg.sig_name(), alg.plain().name());
    }
    assert_eq!(SigAlg::ALL.len(), 18);
    assert_eq!(SigAlg::from_name("ssh-dss"), None);
    assert_eq!(
        SigAlg::from_name("webauthn-sk-ecdsa-sha2-nistp256@openssh.com"),
        None
    );
    assert_eq!(SigAlg::RsaSha512.key_type_name(), "ssh-rsa");
    assert_eq!(SigAlg::RsaSha1.key_type_name(), "ssh-rsa");
    assert_eq!(
        SigAlg::RsaSha256Cert.key_type_name(),
        "ssh-rsa-cert-v01@openssh.com"
    );
    assert_eq!(SigAlg::RsaSha512Cert.sig_name(), "rsa-sha2-512");
    assert_eq!(
        SigAlg::EcdsaP384Cert.key_type_name(),
        "ecdsa-sha2-nistp384-cert-v01@openssh.com"
    );
    assert_eq!(
        SigAlg::SkEd25519.key_type_name(),
        "sk-ssh-ed25519@openssh.com"
    );
    // OpenSSH 10 myproposal.h KEX_DEFAULT_PK_ALG without the webauthn names.
    let names: Vec<_> = SigAlg::DEFAULT_HOSTKEY.iter().map(|a| a.name()).collect();
    assert_eq!(
        names.join(","),
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,\
         ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,\
         sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,\
         rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,\
         ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,\
         sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
    );
    assert!(!SigAlg::DEFAULT_HOSTKEY.contains(&SigAlg::RsaSha1));
}

#[test]
fn for_key_lists_what_a_key_can_do() {
    for (key, algs) in test_keys() {
        assert_eq!(SigAlg::for_key(key.public_key()), algs);
    }
}

#[test]
fn sign_then_verify_every_key_type() {
    let data = b"exchange hash or session data";
    for (key, algs) in test_keys() {
        let blob = public_blob(key.public_key());
        assert_eq!(blob, key.public_key().to_bytes().unwrap());
        for alg in algs {
            let sig = sign(&key, alg, data).unwrap();
            let mut r = Reader::new(&sig);
            assert_eq!(r.string().unwrap(), alg.name().as_bytes());
            let inner = r.string().unwrap();
            r.finish().unwrap();
            match alg {
                SigAlg::Ed25519 => assert_eq!(inner.len(), 64),
                SigAlg::RsaSha512 | SigAlg::RsaSha256 | SigAlg::RsaSha1 => {
                    assert_eq!(inner.len(), 256)
                }
                _ => {
                    // RFC 5656 §3.1.2: mpint r, mpint s.
                    let mut r = Reader::new(inner);
                    r.mpint().unwrap();
                    r.mpint().unwrap();
                    r.finish().unwrap();
                }
            }
            assert_eq!(verify(alg, &blob, data, &sig).unwrap(), Verified::default());
            assert!(matches!(
                verify(alg, &blob, b"other data", &sig),
                Err(Error::Signature(_))
            ));
            // Flip each byte of the signature value in turn (a sample of positions).
            let sig_start = sig.len() - inner.len();
            for i in (sig_start..sig.len()).step_by(7) {
                let mut bad = sig.clone();
                bad[i] ^= 0x40;
                assert!(
                    verify(alg, &blob, data, &bad).is_err(),
                    "{} byte {i}",
                    alg.name()
                );
            }
        }
    }
}

/// Regression guard for the classic bug: accepting an `ssh-rsa` (SHA-1) signature when
/// `rsa-sha2-256` was negotiated, or any RSA hash other than the negotiated one.
#[test]
fn rsa_signature_hash_must_match_the_negotiated_algorithm() {
    let key = PrivateKey::from_openssh(RSA2048).unwrap();
    let blob = public_blob(key.public_key());
    let data = b"data";
    let rsa_algs = [SigAlg::RsaSha512, SigAlg::RsaSha256, SigAlg::RsaSha1];
    for signed_with in rsa_algs {
        let sig = sign(&key, signed_with, data).unwrap();
        for negotiated in rsa_algs {
            let res = verify(negotiated, &blob, data, &sig);
            assert_eq!(
                res.is_ok(),
                signed_with == negotiated,
                "{signed_with:?} under {negotiated:?}"
            );
        }
        // Relabelling the signature with another RSA name does not help: the hash comes
        // from the algorithm, and the PKCS#1 DigestInfo no longer matches.
        for other in rsa_algs.into_iter().filter(|&a| a != signed_with) {
            let mut r = Reader::new(&sig);
            r.string().unwrap();
            let inner = r.string().unwrap();
            let mut relabelled = Vec::new();
            relabelled.put_str(other.name());
            relabelled.put_string(inner);
            assert!(matches!(
                verify(other, &blob, data, &relabelled),
                Err(Error::Signature(_))
            ));
        }
    }
}

#[test]
fn key_type_and_algorithm_mismatches_are_refused() {
    let keys = test_keys();
    let data = b"data";
    for (key, algs) in &keys {
        let blob = public_blob(key.public_key());
        let sig = sign(key, algs[0], data).unwrap();
        for &alg in SigAlg::ALL {
            if algs.contains(&alg) {
                continue;
            }
            assert!(
                verify(alg, &blob, data, &sig).is_err(),
                "{} blob under {}",
                algs[0].name(),
                alg.name()
            );
            // Signing with an algorithm the key cannot do is an error, not a wrong signature
            // (a certificate algorithm of the key's own type signs with the key).
            if !algs.contains(&alg.plain()) {
                assert!(
                    sign(key, alg, data).is_err(),
                    "{} key signing {}",
                    algs[0].name(),
                    alg.name()
                );
            }
        }
    }
    // A signature of another key type with the same data.
    let (ed, _) = &keys[0];
    let (ec, _) = &keys[2];
    let ed_sig = sign(ed, SigAlg::Ed25519, data).unwrap();
    assert!(
        verify(
            SigAlg::EcdsaP256,
            &public_blob(ec.public_key()),
            data,
            &ed_sig
        )
        .is_err()
    );
}

#[test]
fn trailing_bytes_and_truncation_are_refused_without_panics() {
    let data = b"data";
    for (key, algs) in test_keys() {
        let blob = public_blob(key.public_key());
        let alg = algs[0];
        let sig = sign(&key, alg, data).unwrap();
        let mut sig_trailing = sig.clone();
        sig_trailing.push(0);
        assert!(verify(alg, &blob, data, &sig_trailing).is_err());
        let mut blob_trailing = blob.clone();
        blob_trailing.push(0);
        assert!(verify(alg, &blob_trailing, data, &sig).is_err());
        for n in 0..sig.len() {
            assert!(verify(alg, &blob, data, &sig[..n]).is_err());
        }
        for n in 0..blob.len() {
            assert!(verify(alg, &blob[..n], data, &sig).is_err());
        }
        // Huge declared lengths.
        for at in [0usize, 4, 8] {
            let mut s = sig.clone();
            if at + 4 <= s.len() {
                s[at..at + 4].copy_from_slice(&[0xff; 4]);
                assert!(verify(alg, &blob, data, &s).is_err());
            }
        }
    }
    for &alg in SigAlg::ALL {
        assert!(verify(alg, &[], &[], &[]).is_err());
        assert!(verify(alg, &[0xff; 64], b"x", &[0xff; 64]).is_err());
    }
}

#[test]
fn ecdsa_signature_components_are_bounded_by_the_curve() {
    let mut rng = rng();
    let key = PrivateKey::random(
        &mut rng,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
    )
    .unwrap();
    let blob = public_blob(key.public_key());
    let sig = sign(&key, SigAlg::EcdsaP256, b"m").unwrap();
    let mut r = Reader::new(&sig);
    r.string().unwrap();
    let mut inner = Reader::new(r.string().unwrap());
    let (sr, ss) = (
        inner.mpint().unwrap().to_vec(),
        inner.mpint().unwrap().to_vec(),
    );
    let rebuild = |a: &[u8], b: &[u8]| {
        let mut i = Vec::new();
        i.put_string(a);
        i.put_string(b);
        let mut s = Vec::new();
        s.put_str("ecdsa-sha2-nistp256");
        s.put_string(&i);
        s
    };
    // Extra leading zero bytes are tolerated (OpenSSH strips them too).
    let padded_r = [&[0u8, 0][..], &sr].concat();
    assert!(verify(SigAlg::EcdsaP256, &blob, b"m", &rebuild(&padded_r, &ss)).is_ok());
    // A component wider than the scalar field, zero, or negative is refused.
    let wide = [&[1u8][..], &[0u8; 32]].concat();
    for (a, b) in [
        (&wide[..], &ss[..]),
        (&sr[..], &[][..]),
        (&[0x80, 1][..], &ss[..]),
    ] {
        assert!(verify(SigAlg::EcdsaP256, &blob, b"m", &rebuild(a, b)).is_err());
    }
}

/// Build an `sk-*` key blob and signature per PROTOCOL.u2f with a software key, as an
/// authenticator would.
#[test]
fn security_key_signatures_per_protocol_u2f() {
    let app = b"ssh:";
    let data = b"session data";
    let flags = SK_USER_PRESENCE;
    let counter = 7u32;
    let signed = sk_signed_data(app, SkInfo { flags, counter }, data);
    assert_eq!(signed.len(), 32 + 1 + 4 + 32);

    // sk-ssh-ed25519@openssh.com
    let ed = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let mut blob = Vec::new();
    blob.put_str("sk-ssh-ed25519@openssh.com");
    blob.put_string(ed.verifying_key().as_bytes());
    blob.put_string(app);
    let s: ed25519_dalek::Signature = ed25519_dalek::Signer::sign(&ed, &signed);
    let mut sig = Vec::new();
    sig.put_str("sk-ssh-ed25519@openssh.com");
    sig.put_string(&s.to_bytes());
    sig.put_u8(flags);
    sig.put_u32(counter);
    let v = verify(SigAlg::SkEd25519, &blob, data, &sig).unwrap();
    assert_eq!(v.sk, Some(SkInfo { flags, counter }));
    // The flags and counter are signed: changing them breaks the signature.
    let mut bad = sig.clone();
    let n = bad.len();
    bad[n - 5] = 0;
    assert!(verify(SigAlg::SkEd25519, &blob, data, &bad).is_err());
    bad = sig.clone();
    bad[n - 1] ^= 1;
    assert!(verify(SigAlg::SkEd25519, &blob, data, &bad).is_err());
    // Missing flags/counter.
    assert!(verify(SigAlg::SkEd25519, &blob, data, &sig[..n - 5]).is_err());
    // Another application.
    let mut other_app = Vec::new();
    other_app.put_str("sk-ssh-ed25519@openssh.com");
    other_app.put_string(ed.verifying_key().as_bytes());
    other_app.put_string(b"ssh:other");
    assert!(verify(SigAlg::SkEd25519, &other_app, data, &sig).is_err());

    // sk-ecdsa-sha2-nistp256@openssh.com: ECDSA over SHA-256 of the same blob.
    let ec = p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap();
    use p256::elliptic_curve::sec1::ToSec1Point;
    let q = ec.verifying_key().as_affine().to_sec1_point(false);
    let mut blob = Vec::new();
    blob.put_str("sk-ecdsa-sha2-nistp256@openssh.com");
    blob.put_str("nistp256");
    blob.put_string(q.as_bytes());
    blob.put_string(app);
    let s: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&ec, &signed);
    let (r, s) = s.split_bytes();
    let mut inner = Vec::new();
    inner.put_mpint(&r);
    inner.put_mpint(&s);
    let mut sig = Vec::new();
    sig.put_str("sk-ecdsa-sha2-nistp256@openssh.com");
    sig.put_string(&inner);
    sig.put_u8(flags);
    sig.put_u32(counter);
    let v = verify(SigAlg::SkEcdsaP256, &blob, data, &sig).unwrap();
    assert_eq!(v.sk, Some(SkInfo { flags, counter }));
    let mut bad = sig.clone();
    let n = bad.len();
    bad[n - 5] |= SK_USER_VERIFICATION;
    assert!(verify(SigAlg::SkEcdsaP256, &blob, data, &bad).is_err());
    // The plain ECDSA algorithm does not accept the sk key or signature.
    assert!(verify(SigAlg::EcdsaP256, &blob, data, &sig).is_err());
}

// ---- Cross-checks against OpenSSH's ssh-keygen ----

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "oxssh-hostkey-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ssh-keygen` is there, or the test is skipped (failed under CI=true).
fn have_ssh_keygen(test: &str) -> bool {
    let ok = Command::new("ssh-keygen").arg("-?").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: ssh-keygen is required under CI"
        );
        eprintln!("{test}: skipped: ssh-keygen not found");
    }
    ok
}

fn have_sk_dummy(test: &str) -> bool {
    let ok = Path::new(SK_DUMMY).exists();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {SK_DUMMY} (Debian openssh-tests) is required under CI"
        );
        eprintln!("{test}: security key cases skipped: {SK_DUMMY} not found");
    }
    ok
}

fn ssh_keygen(dir: &TempDir, args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .current_dir(&dir.0)
        .env("SSH_SK_PROVIDER", SK_DUMMY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The base64 blob of a `.pub` line (key or certificate), decoded as written.
fn pub_blob(path: &Path) -> Vec<u8> {
    use ssh_encoding::base64::{Base64, Encoding};
    let text = std::fs::read_to_string(path).unwrap();
    let b64 = text.split_whitespace().nth(1).unwrap();
    Base64::decode_vec(b64).unwrap()
}

/// Key types `ssh-keygen -t` makes, with the signature algorithm OpenSSH uses with them
/// by default.
const KEYGEN_TYPES: &[(&str, &[&str], SigAlg)] = &[
    ("ed25519", &["-t", "ed25519"], SigAlg::Ed25519),
    ("ecdsa256", &["-t", "ecdsa", "-b", "256"], SigAlg::EcdsaP256),
    ("ecdsa384", &["-t", "ecdsa", "-b", "384"], SigAlg::EcdsaP384),
    ("ecdsa521", &["-t", "ecdsa", "-b", "521"], SigAlg::EcdsaP521),
    ("rsa", &["-t", "rsa", "-b", "2048"], SigAlg::RsaSha512),
];
const KEYGEN_SK_TYPES: &[(&str, &[&str], SigAlg)] = &[
    ("sked25519", &["-t", "ed25519-sk"], SigAlg::SkEd25519),
    ("skecdsa", &["-t", "ecdsa-sk"], SigAlg::SkEcdsaP256),
];

fn keygen_types(test: &str) -> Vec<(&'static str, &'static [&'static str], SigAlg)> {
    let mut v = KEYGEN_TYPES.to_vec();
    if have_sk_dummy(test) {
        v.extend_from_slice(KEYGEN_SK_TYPES);
    }
    v
}

fn make_key(dir: &TempDir, name: &str, type_args: &[&str], alg: SigAlg) {
    let mut args = vec!["-q", "-N", "", "-C", "test", "-f", name];
    args.extend_from_slice(type_args);
    if alg.is_sk() {
        args.extend_from_slice(&["-w", SK_DUMMY]);
    }
    ssh_keygen(dir, &args);
}

/// The signed part of a certificate blob and its signature: everything before the final
/// `string signature` field (PROTOCOL.certkeys), found by the signature's length.
fn split_cert(blob: &[u8]) -> (&[u8], &[u8], Vec<u8>) {
    let cert = ssh_key::Certificate::from_bytes(blob).unwrap();
    let sig = cert.signature().encode_vec().unwrap();
    let tail = sig.len() + 4;
    let (signed, sig_field) = blob.split_at(blob.len() - tail);
    assert_eq!(
        &sig_field[4..],
        &sig[..],
        "certificate ends with its signature"
    );
    let ca = cert.signature_key().encode_vec().unwrap();
    (signed, &sig_field[4..], ca)
}

#[test]
fn openssh_certificate_signatures_verify() {
    let test = "openssh_certificate_signatures_verify";
    if !have_ssh_keygen(test) {
        return;
    }
    let dir = TempDir::new("cert");
    make_key(&dir, "user", &["-t", "ed25519"], SigAlg::Ed25519);
    let mut cases: Vec<(String, Vec<&str>, SigAlg)> = Vec::new();
    for (name, type_args, alg) in keygen_types(test) {
        make_key(&dir, name, type_args, alg);
        cases.push((name.to_string(), vec![], alg));
    }
    // An RSA CA signing with rsa-sha2-256 on request (ssh-keygen -t with -s).
    cases.push(("rsa".into(), vec!["-t", "rsa-sha2-256"], SigAlg::RsaSha256));
    for (ca, extra, alg) in cases {
        let _ = std::fs::remove_file(dir.path("user-cert.pub"));
        let mut args = vec!["-q", "-s", ca.as_str(), "-I", "id", "-n", "p"];
        args.extend_from_slice(&extra);
        if alg.is_sk() {
            args.extend_from_slice(&["-w", SK_DUMMY]);
        }
        args.push("user.pub");
        ssh_keygen(&dir, &args);
        let blob = pub_blob(&dir.path("user-cert.pub"));
        let (signed, sig, ca_blob) = split_cert(&blob);
        assert_eq!(ca_blob, pub_blob(&dir.path(&format!("{ca}.pub"))));
        let got = verify(alg, &ca_blob, signed, sig)
            .unwrap_or_else(|e| panic!("CA {ca} ({}): {e}", alg.name()));
        if alg.is_sk() {
            let info = got.sk.unwrap();
            assert!(info.flags & SK_USER_PRESENCE != 0);
        }
        // A flipped byte anywhere in the signed part breaks it.
        for i in [0, signed.len() / 2, signed.len() - 1] {
            let mut bad = signed.to_vec();
            bad[i] ^= 1;
            assert!(
                verify(alg, &ca_blob, &bad, sig).is_err(),
                "CA {ca} byte {i}"
            );
        }
        // So does a flipped byte in the signature value.
        let mut bad_sig = sig.to_vec();
        let at = bad_sig.len() - if alg.is_sk() { 10 } else { 5 };
        bad_sig[at] ^= 1;
        assert!(verify(alg, &ca_blob, signed, &bad_sig).is_err(), "CA {ca}");
        // An RSA certificate signature names its hash: another RSA algorithm is refused.
        if alg.is_rsa() {
            for other in [SigAlg::RsaSha512, SigAlg::RsaSha256, SigAlg::RsaSha1] {
                if other != alg {
                    assert!(verify(other, &ca_blob, signed, sig).is_err());
                }
            }
        }
    }
}

/// `ssh-keygen -Y sign` signatures verify with us (PROTOCOL.sshsig wraps an ordinary
/// SSH signature over its own preamble), and ours verify with `ssh-keygen -Y
/// check-novalidate`.
#[test]
fn openssh_sshsig_cross_check() {
    let test = "openssh_sshsig_cross_check";
    if !have_ssh_keygen(test) {
        return;
    }
    let dir = TempDir::new("sshsig");
    let msg = b"a message to sign\n";
    std::fs::write(dir.path("msg"), msg).unwrap();
    for (name, type_args, alg) in keygen_types(test) {
        make_key(&dir, name, type_args, alg);
        let _ = std::fs::remove_file(dir.path("msg.sig"));
        ssh_keygen(
            &dir,
            &["-q", "-Y", "sign", "-f", name, "-n", "oxssh-test", "msg"],
        );
        let pem = std::fs::read_to_string(dir.path("msg.sig")).unwrap();
        let sshsig = SshSig::from_pem(&pem).unwrap();
        let signed = SshSig::signed_data("oxssh-test", sshsig.hash_alg(), msg).unwrap();
        let key_blob = sshsig.public_key().encode_vec().unwrap();
        assert_eq!(key_blob, pub_blob(&dir.path(&format!("{name}.pub"))));
        let sig_blob = sshsig.signature().encode_vec().unwrap();
        let got =
            verify(alg, &key_blob, &signed, &sig_blob).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.sk.is_some(), alg.is_sk());
        let mut tampered = signed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(verify(alg, &key_blob, &tampered, &sig_blob).is_err());

        // And the other way: our signature in an SSHSIG envelope, checked by OpenSSH.
        if alg.is_sk() {
            continue;
        }
        let key = PrivateKey::read_openssh_file(dir.path(name)).unwrap();
        let algs: &[SigAlg] = if alg.is_rsa() {
            &[SigAlg::RsaSha512, SigAlg::RsaSha256]
        } else {
            std::slice::from_ref(&alg)
        };
        for &alg in algs {
            let hash = ssh_key::HashAlg::Sha512;
            let signed = SshSig::signed_data("oxssh-test", hash, msg).unwrap();
            let ours = sign(&key, alg, &signed).unwrap();
            let sig = ssh_key::Signature::try_from(&ours[..]).unwrap();
            let env =
                SshSig::new(key.public_key().key_data().clone(), "oxssh-test", hash, sig).unwrap();
            std::fs::write(dir.path("ours.sig"), env.to_pem(LineEnding::LF).unwrap()).unwrap();
            let out = Command::new("ssh-keygen")
                .args([
                    "-Y",
                    "check-novalidate",
                    "-n",
                    "oxssh-test",
                    "-s",
                    "ours.sig",
                ])
                .current_dir(&dir.0)
                .stdin(std::fs::File::open(dir.path("msg")).unwrap())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "OpenSSH rejected our {} signature: {}",
                alg.name(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn certificate_algorithms_verify_with_the_certified_key() {
    let test = "certificate_algorithms_verify_with_the_certified_key";
    if !have_ssh_keygen(test) {
        return;
    }
    let dir = TempDir::new("certkey");
    make_key(&dir, "ca", &["-t", "ed25519"], SigAlg::Ed25519);
    let data = b"exchange hash";
    for (name, type_args, alg) in KEYGEN_TYPES {
        make_key(&dir, name, type_args, *alg);
        ssh_keygen(
            &dir,
            &[
                "-q",
                "-s",
                "ca",
                "-I",
                "host",
                "-h",
                "-n",
                "example.com",
                &format!("{name}.pub"),
            ],
        );
        let cert_path = dir.path(&format!("{name}-cert.pub"));
        let cert_line = std::fs::read_to_string(&cert_path).unwrap();
        let blob = pub_blob(&cert_path);
        let cert = ssh_key::Certificate::from_openssh(cert_line.trim()).unwrap();
        assert_eq!(
            cert_blob(&cert),
            blob,
            "ssh-key re-encodes the certificate exactly"
        );
        let key = PrivateKey::read_openssh_file(dir.path(name)).unwrap();
        let cert_algs = SigAlg::for_cert(&cert);
        assert_eq!(cert_algs[0], alg.cert());
        for cert_alg in cert_algs {
            let sig = sign(&key, cert_alg, data).unwrap();
            // The signature inside names the plain algorithm.
            assert_eq!(
                Reader::new(&sig).string().unwrap(),
                cert_alg.sig_name().as_bytes()
            );
            verify(cert_alg, &blob, data, &sig)
                .unwrap_or_else(|e| panic!("{}: {e}", cert_alg.name()));
            // The plain algorithm does not take the certificate blob, nor the reverse.
            assert!(verify(cert_alg.plain(), &blob, data, &sig).is_err());
            assert!(verify(cert_alg, &public_blob(key.public_key()), data, &sig).is_err());
        }
        // A truncated certificate is refused.
        let sig = sign(&key, alg.cert(), data).unwrap();
        assert!(verify(alg.cert(), &blob[..blob.len() - 1], data, &sig).is_err());
    }
}

// ----- HostKey: a host key and its certificate (sshd's HostCertificate) -----

/// A host certificate for `key` made by ssh-key, signed by `ca`.
fn host_cert(key: &PrivateKey, ca: &PrivateKey) -> ssh_key::Certificate {
    let mut b = ssh_key::certificate::Builder::new_with_random_nonce(
        &mut rng(),
        key.public_key().key_data().clone(),
        0,
        u64::MAX,
    )
    .unwrap();
    b.cert_type(ssh_key::certificate::CertType::Host).unwrap();
    b.key_id("host").unwrap();
    b.all_principals_valid().unwrap();
    b.sign(ca).unwrap()
}

#[test]
fn host_key_certificate_must_certify_that_key() {
    let ca = PrivateKey::random(&mut rng(), Algorithm::Ed25519).unwrap();
    let key = PrivateKey::from_openssh(ED25519).unwrap();
    let other = PrivateKey::random(&mut rng(), Algorithm::Ed25519).unwrap();
    let rsa = PrivateKey::from_openssh(RSA2048).unwrap();
    let cert = host_cert(&key, &ca);
    let blob = cert_blob(&cert);

    let hk = HostKey::with_certificate(key.clone(), &cert).unwrap();
    assert_eq!(hk.certificate(), Some(blob.as_slice()));
    assert_eq!(hk.algorithms(), [SigAlg::Ed25519, SigAlg::Ed25519Cert]);
    assert_eq!(hk.blob_for(SigAlg::Ed25519Cert), Some(blob.clone()));
    assert_eq!(
        hk.blob_for(SigAlg::Ed25519),
        Some(public_blob(key.public_key()))
    );
    assert_eq!(hk.blob_for(SigAlg::RsaSha512Cert), None);
    let plain = HostKey::from(key.clone());
    assert_eq!(plain.certificate(), None);
    assert_eq!(plain.algorithms(), [SigAlg::Ed25519]);
    assert_eq!(plain.blob_for(SigAlg::Ed25519Cert), None);

    // Another key's certificate, of the same type or not, is refused either way in.
    let mismatch = "invalid key: host certificate does not match its host key";
    let e = HostKey::with_certificate(other.clone(), &cert)
        .err()
        .unwrap();
    assert_eq!(e.to_string(), mismatch);
    let e = HostKey::with_certificate_blob(other, blob.clone())
        .err()
        .unwrap();
    assert_eq!(e.to_string(), mismatch);
    let e = HostKey::with_certificate_blob(rsa.clone(), blob.clone())
        .err()
        .unwrap();
    assert_eq!(e.to_string(), mismatch);
    let rsa_cert = cert_blob(&host_cert(&rsa, &ca));
    assert!(HostKey::with_certificate_blob(key.clone(), rsa_cert.clone()).is_err());
    assert_eq!(
        HostKey::with_certificate_blob(rsa, rsa_cert)
            .unwrap()
            .algorithms(),
        [
            SigAlg::RsaSha512,
            SigAlg::RsaSha256,
            SigAlg::RsaSha1,
            SigAlg::RsaSha512Cert,
            SigAlg::RsaSha256Cert,
            SigAlg::RsaSha1Cert
        ]
    );
    // Not a certificate at all, a truncated one, one with trailing bytes: refused.
    let key_blob = public_blob(key.public_key());
    assert!(HostKey::with_certificate_blob(key.clone(), key_blob).is_err());
    let short = blob.get(..blob.len() - 1).unwrap().to_vec();
    assert!(HostKey::with_certificate_blob(key.clone(), short).is_err());
    let mut long = blob.clone();
    long.push(0);
    assert!(HostKey::with_certificate_blob(key.clone(), long).is_err());
    assert!(HostKey::with_certificate_blob(key, Vec::new()).is_err());
}

#[test]
fn ssh_keygen_host_certificates_pair_with_their_keys_byte_for_byte() {
    let test = "ssh_keygen_host_certificates_pair_with_their_keys_byte_for_byte";
    if !have_ssh_keygen(test) {
        return;
    }
    let dir = TempDir::new("hostcert");
    make_key(&dir, "ca", &["-t", "ed25519"], SigAlg::Ed25519);
    for (name, type_args, alg) in KEYGEN_TYPES {
        make_key(&dir, name, type_args, *alg);
        // ssh-keygen -h -s ca -I host -n example.com <key>.pub
        ssh_keygen(
            &dir,
            &["-q", "-h", "-s", "ca", "-I", "host", "-n", "example.com"]
                .into_iter()
                .chain([format!("{name}.pub").as_str()])
                .collect::<Vec<_>>(),
        );
        let blob = pub_blob(&dir.path(&format!("{name}-cert.pub")));
        let key = PrivateKey::read_openssh_file(dir.path(name)).unwrap();
        let hk = HostKey::with_certificate_blob(key.clone(), blob.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // K_S is the file's blob exactly, and the key signs for the certificate.
        assert_eq!(hk.blob_for(alg.cert()), Some(blob.clone()), "{name}");
        let sig = sign(hk.key(), alg.cert(), b"h").unwrap();
        verify(alg.cert(), &blob, b"h", &sig).unwrap();
        // The CA's key is not the host key: its certificate blob does not pair.
        let ca = PrivateKey::read_openssh_file(dir.path("ca")).unwrap();
        assert!(HostKey::with_certificate_blob(ca, blob).is_err(), "{name}");
    }
}
