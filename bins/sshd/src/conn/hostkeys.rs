//! The server side of OpenSSH's host key rotation extension (PROTOCOL §2.5,
//! draft-miller-sshm-hostkey-update): after authentication sshd announces every host key
//! it holds (`hostkeys-00@openssh.com`), and answers `hostkeys-prove-00@openssh.com` by
//! signing, with each requested key, "hostkeys-prove-00@openssh.com" || session id ||
//! key — so clients with UpdateHostKeys learn new keys before the old ones are retired.

use oxssh_config::pattern::match_pattern_list;
use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::wire::{Put, Reader};
use ssh_key::{PrivateKey, PublicKey};

/// Clients that mishandle the announcement (OpenSSH's SSH_BUG_HOSTKEYS list).
const BUGGY_CLIENTS: &str = "Cisco-1.*,TeraTerm SSH*,TTSSH/1.5.*,TTSSH/2.1*,TTSSH/2.2*,\
TTSSH/2.3*,TTSSH/2.4*,TTSSH/2.5*,TTSSH/2.6*,TTSSH/2.70*,TTSSH/2.71*,TTSSH/2.72*";

/// The body of the `hostkeys-00@openssh.com` request (one public key blob per host
/// key), or None for clients known to choke on it.
pub fn announcement(keys: &[PrivateKey], peer_version: Option<&str>) -> Option<Vec<u8>> {
    let software = peer_version
        .and_then(|v| v.splitn(3, '-').nth(2))
        .unwrap_or("");
    if match_pattern_list(software, BUGGY_CLIENTS, false) == 1 {
        return None;
    }
    let mut body = Vec::new();
    let mut n = 0;
    // Only keys we can sign proofs with (not DSA, which we load but never use).
    let usable = keys
        .iter()
        .filter(|k| !SigAlg::for_key(k.public_key()).is_empty());
    for (i, k) in usable.enumerate() {
        n += 1;
        tracing::trace!(
            "notify_hostkeys: key {i}: {} {}",
            k.algorithm().as_str(),
            k.public_key().fingerprint(ssh_key::HashAlg::Sha256)
        );
        body.put_string(&hostkey::public_blob(k.public_key()));
    }
    tracing::trace!("notify_hostkeys: sent {n} hostkeys");
    (n > 0).then_some(body)
}

/// Answer `hostkeys-prove-00@openssh.com`: the reply data (one signature per requested
/// key, in order), or None — any key that is not ours fails the whole request.
/// `kex_alg` is the host key algorithm of the key exchange: an RSA proof uses it when it
/// is RSA, else rsa-sha2-512.
pub fn prove(
    keys: &[PrivateKey],
    data: &[u8],
    session_id: &[u8],
    kex_alg: Option<SigAlg>,
) -> Option<Vec<u8>> {
    let mut r = Reader::new(data);
    let mut resp = Vec::new();
    while !r.is_empty() {
        let blob = r.string().ok()?;
        let Ok(key) = PublicKey::from_bytes(blob) else {
            tracing::error!("server_input_hostkeys_prove: parse key: invalid format");
            return None;
        };
        let Some(private) = keys
            .iter()
            .find(|k| k.public_key().key_data() == key.key_data())
        else {
            tracing::error!(
                "server_input_hostkeys_prove: unknown host {} key",
                oxssh_keys::fingerprint::type_label(key.key_data())
            );
            return None;
        };
        let alg = SigAlg::for_key(&key).into_iter().next()?;
        let alg = if alg.is_rsa() {
            kex_alg
                .map(SigAlg::plain)
                .filter(|a| a.is_rsa())
                .unwrap_or(SigAlg::RsaSha512)
        } else {
            alg
        };
        tracing::trace!(
            "server_input_hostkeys_prove: sign {} key using sigalg {}",
            oxssh_keys::fingerprint::type_label(key.key_data()),
            alg.name()
        );
        let mut signed = Vec::new();
        signed.put_str("hostkeys-prove-00@openssh.com");
        signed.put_string(session_id);
        signed.put_string(blob);
        match hostkey::sign(private, alg, &signed) {
            Ok(sig) => resp.put_string(&sig),
            Err(e) => {
                tracing::error!("server_input_hostkeys_prove: assemble signature: {e}");
                return None;
            }
        }
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> PrivateKey {
        let p = format!(
            "{}/../../tests/fixtures/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        PrivateKey::read_openssh_file(std::path::Path::new(&p)).unwrap()
    }

    #[test]
    fn proof_verifies_and_foreign_keys_are_refused() {
        let ours = vec![key("id_ed25519"), key("id_rsa3072")];
        let sid = b"session-id";
        let req = announcement(&ours, Some("SSH-2.0-OpenSSH_9.2")).unwrap();
        let resp = prove(&ours, &req, sid, None).unwrap();
        let mut rr = Reader::new(&resp);
        let sig = rr.string().unwrap().to_vec();
        // The RSA proof uses rsa-sha2-512 when the exchange did not use RSA.
        let rsa_sig = rr.string().unwrap().to_vec();
        assert!(rr.is_empty());
        let rsa_blob = hostkey::public_blob(ours[1].public_key());
        let mut rsa_signed = Vec::new();
        rsa_signed.put_str("hostkeys-prove-00@openssh.com");
        rsa_signed.put_string(sid);
        rsa_signed.put_string(&rsa_blob);
        hostkey::verify(SigAlg::RsaSha512, &rsa_blob, &rsa_signed, &rsa_sig).unwrap();
        let mut signed = Vec::new();
        signed.put_str("hostkeys-prove-00@openssh.com");
        signed.put_string(sid);
        signed.put_string(&hostkey::public_blob(ours[0].public_key()));
        let blob = hostkey::public_blob(ours[0].public_key());
        hostkey::verify(SigAlg::Ed25519, &blob, &signed, &sig).unwrap();
        // A different session id does not verify.
        let mut other = Vec::new();
        other.put_str("hostkeys-prove-00@openssh.com");
        other.put_string(b"other");
        other.put_string(&blob);
        assert!(hostkey::verify(SigAlg::Ed25519, &blob, &other, &sig).is_err());
        // A key that is not ours: no proof at all.
        let theirs = vec![key("id_ecdsa256")];
        let req = announcement(&theirs, None).unwrap();
        assert!(prove(&ours, &req, sid, None).is_none());
        // Garbage is refused, not a panic.
        assert!(prove(&ours, &[0, 0, 0, 9, 1], sid, None).is_none());
        // Old TeraTerm never sees the announcement.
        assert!(announcement(&ours, Some("SSH-2.0-TTSSH/2.72 Win32")).is_none());
    }
}
