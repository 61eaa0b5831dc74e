//! Key exchange: the KEXINIT message, algorithm negotiation (RFC 4253 §7.1), the
//! exchange hash (§8, RFC 4419 §3, RFC 5656 §4) and key derivation (§7.2).
//!
//! The per-method mathematics (curve25519, ECDH, DH, the post-quantum hybrids) lives in
//! [`methods`]; the message sequencing lives in the transport. This module is the glue:
//! what both sides offered, what was chosen, and which keys follow from the secret.

pub mod methods;

use crate::Error;
use crate::cipher::{Cipher, DirectionKeys, Mac};
use crate::compress::Compression;
use crate::hostkey::SigAlg;
use crate::wire::{Put, Reader};
use methods::{HashAlg, KexAlg, SharedSecret};

/// Markers that ride in the kex algorithm list without being key exchange methods.
pub const EXT_INFO_C: &str = "ext-info-c";
pub const EXT_INFO_S: &str = "ext-info-s";
pub const STRICT_KEX_C: &str = "kex-strict-c-v00@openssh.com";
pub const STRICT_KEX_S: &str = "kex-strict-s-v00@openssh.com";

/// Algorithm preference lists, most preferred first, as configured for one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Algorithms {
    pub kex: Vec<String>,
    pub host_key: Vec<String>,
    pub cipher: Vec<String>,
    pub mac: Vec<String>,
    pub compression: Vec<String>,
}

impl Default for Algorithms {
    /// OpenSSH 10's client defaults (ssh_config(5)), restricted to what we implement.
    /// A server built on these also offers finite-field DH, which OpenSSH 10's sshd no
    /// longer does by default: sshd sets its own lists from sshd_config.
    fn default() -> Self {
        Algorithms {
            kex: KexAlg::ALL
                .iter()
                .filter(|k| k.is_default())
                .map(|k| k.name().to_owned())
                .collect(),
            host_key: SigAlg::DEFAULT_HOSTKEY
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            cipher: Cipher::ALL.iter().map(|c| c.name().to_owned()).collect(),
            mac: Mac::ALL.iter().map(|m| m.name().to_owned()).collect(),
            compression: vec!["none".to_owned()],
        }
    }
}

/// A parsed SSH_MSG_KEXINIT (RFC 4253 §7.1). `raw` is the whole payload, which enters
/// the exchange hash verbatim.
#[derive(Clone, Debug)]
pub struct KexInit {
    pub raw: Vec<u8>,
    pub kex: Vec<String>,
    pub host_key: Vec<String>,
    pub cipher_c2s: Vec<String>,
    pub cipher_s2c: Vec<String>,
    pub mac_c2s: Vec<String>,
    pub mac_s2c: Vec<String>,
    pub comp_c2s: Vec<String>,
    pub comp_s2c: Vec<String>,
    pub first_kex_follows: bool,
}

fn names(r: &mut Reader<'_>) -> Result<Vec<String>, Error> {
    Ok(r.name_list()?.iter().map(str::to_owned).collect())
}

impl KexInit {
    /// Build our KEXINIT. `extra_kex` are the markers (ext-info, strict kex) appended to
    /// the kex list on the first exchange only.
    pub fn build(
        algs: &Algorithms,
        host_key: &[String],
        extra_kex: &[&str],
        cookie: [u8; 16],
    ) -> KexInit {
        let mut kex = algs.kex.clone();
        kex.extend(extra_kex.iter().map(|s| (*s).to_owned()));
        let mut raw = Vec::with_capacity(1024);
        raw.put_u8(crate::msg::KEXINIT);
        raw.extend_from_slice(&cookie);
        raw.put_name_list(&kex);
        raw.put_name_list(host_key);
        for _ in 0..2 {
            raw.put_name_list(&algs.cipher);
        }
        for _ in 0..2 {
            raw.put_name_list(&algs.mac);
        }
        for _ in 0..2 {
            raw.put_name_list(&algs.compression);
        }
        raw.put_name_list::<&str>(&[]);
        raw.put_name_list::<&str>(&[]);
        raw.put_bool(false);
        raw.put_u32(0);
        KexInit {
            raw,
            kex,
            host_key: host_key.to_vec(),
            cipher_c2s: algs.cipher.clone(),
            cipher_s2c: algs.cipher.clone(),
            mac_c2s: algs.mac.clone(),
            mac_s2c: algs.mac.clone(),
            comp_c2s: algs.compression.clone(),
            comp_s2c: algs.compression.clone(),
            first_kex_follows: false,
        }
    }

    /// Parse a peer's KEXINIT payload (message byte included).
    pub fn parse(payload: &[u8]) -> Result<KexInit, Error> {
        let mut r = Reader::new(payload);
        if r.u8()? != crate::msg::KEXINIT {
            return Err(Error::Malformed("not a KEXINIT"));
        }
        r.bytes(16)?;
        let kex = names(&mut r)?;
        let host_key = names(&mut r)?;
        let cipher_c2s = names(&mut r)?;
        let cipher_s2c = names(&mut r)?;
        let mac_c2s = names(&mut r)?;
        let mac_s2c = names(&mut r)?;
        let comp_c2s = names(&mut r)?;
        let comp_s2c = names(&mut r)?;
        r.name_list()?;
        r.name_list()?;
        let first_kex_follows = r.bool()?;
        r.u32()?;
        Ok(KexInit {
            raw: payload.to_vec(),
            kex,
            host_key,
            cipher_c2s,
            cipher_s2c,
            mac_c2s,
            mac_s2c,
            comp_c2s,
            comp_s2c,
            first_kex_follows,
        })
    }

    pub fn has_kex_marker(&self, marker: &str) -> bool {
        self.kex.iter().any(|k| k == marker)
    }
}

/// What a key exchange settled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub kex: KexAlg,
    pub host_key: SigAlg,
    pub cipher_c2s: Cipher,
    pub cipher_s2c: Cipher,
    pub mac_c2s: Option<Mac>,
    pub mac_s2c: Option<Mac>,
    pub comp_c2s: Compression,
    pub comp_s2c: Compression,
    /// The peer sent a guessed first kex packet and the guess was wrong: drop it.
    pub ignore_guess: bool,
}

/// RFC 4253 §7.1: the first algorithm on the client's list that the server also lists.
fn choose<'a>(client: &'a [String], server: &[String]) -> Option<&'a str> {
    client
        .iter()
        .find(|c| server.iter().any(|s| s == *c))
        .map(String::as_str)
}

fn no_match(kind: &'static str, peer: &str, offer: &[String]) -> Error {
    Error::NoCommonAlgorithm {
        kind,
        peer: peer.to_owned(),
        offer: offer.join(","),
    }
}

/// Negotiate from the client's and server's KEXINITs. `we_are_client` picks whose offer
/// is quoted in the error, and `peer` names the peer there ("127.0.0.1 port 22").
pub fn negotiate(
    client: &KexInit,
    server: &KexInit,
    we_are_client: bool,
    peer: &str,
) -> Result<Negotiated, Error> {
    let theirs = |c: &'static str, cl: &[String], sv: &[String]| {
        no_match(c, peer, if we_are_client { sv } else { cl })
    };
    let real_kex: Vec<String> = client
        .kex
        .iter()
        .filter(|k| !is_kex_marker(k))
        .cloned()
        .collect();
    let kex_name = choose(&real_kex, &server.kex)
        .ok_or_else(|| theirs("key exchange method", &client.kex, &server.kex))?;
    let kex = KexAlg::from_name(kex_name).ok_or_else(|| Error::Unsupported(kex_name.into()))?;
    let hk_name = choose(&client.host_key, &server.host_key)
        .ok_or_else(|| theirs("host key type", &client.host_key, &server.host_key))?;
    let host_key = SigAlg::from_name(hk_name).ok_or_else(|| Error::Unsupported(hk_name.into()))?;
    let cipher = |cl: &[String], sv: &[String]| -> Result<Cipher, Error> {
        let n = choose(cl, sv).ok_or_else(|| theirs("cipher", cl, sv))?;
        Cipher::from_name(n).ok_or_else(|| Error::Unsupported(n.into()))
    };
    let cipher_c2s = cipher(&client.cipher_c2s, &server.cipher_c2s)?;
    let cipher_s2c = cipher(&client.cipher_s2c, &server.cipher_s2c)?;
    // An AEAD cipher authenticates by itself: no MAC is chosen (as OpenSSH does).
    let mac = |c: Cipher, cl: &[String], sv: &[String]| -> Result<Option<Mac>, Error> {
        if c.is_aead() {
            return Ok(None);
        }
        let n = choose(cl, sv).ok_or_else(|| theirs("MAC", cl, sv))?;
        Mac::from_name(n)
            .map(Some)
            .ok_or_else(|| Error::Unsupported(n.into()))
    };
    let mac_c2s = mac(cipher_c2s, &client.mac_c2s, &server.mac_c2s)?;
    let mac_s2c = mac(cipher_s2c, &client.mac_s2c, &server.mac_s2c)?;
    // RFC 4253 §6.2: chosen per direction like the ciphers (OpenSSH's choose_comp).
    let comp = |cl: &[String], sv: &[String]| -> Result<Compression, Error> {
        let n = choose(cl, sv).ok_or_else(|| theirs("compression method", cl, sv))?;
        Compression::from_name(n).ok_or_else(|| Error::Unsupported(n.into()))
    };
    let comp_c2s = comp(&client.comp_c2s, &server.comp_c2s)?;
    let comp_s2c = comp(&client.comp_s2c, &server.comp_s2c)?;
    // RFC 4253 §7: a guess is right only if both the kex and host key algorithms are
    // the first of each side's list.
    let guesser = if we_are_client { server } else { client };
    let ignore_guess = guesser.first_kex_follows
        && (client.kex.first() != server.kex.first()
            || client.host_key.first() != server.host_key.first());
    Ok(Negotiated {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        comp_c2s,
        comp_s2c,
        ignore_guess,
    })
}

pub fn is_kex_marker(name: &str) -> bool {
    matches!(name, EXT_INFO_C | EXT_INFO_S | STRICT_KEX_C | STRICT_KEX_S)
        || name.starts_with("ext-info-in-auth@")
}

/// The inputs of the exchange hash that both sides know (RFC 4253 §8).
pub struct HashInput<'a> {
    pub v_c: &'a [u8],
    pub v_s: &'a [u8],
    pub i_c: &'a [u8],
    pub i_s: &'a [u8],
    pub k_s: &'a [u8],
    /// For DH group exchange: uint32 min || uint32 n || uint32 max || mpint p || mpint g,
    /// already encoded. Empty for every other method.
    pub gex_params: &'a [u8],
    /// The client's and server's public values, wire-encoded (string or mpint).
    pub client_public: &'a [u8],
    pub server_public: &'a [u8],
}

/// H = HASH(V_C || V_S || I_C || I_S || K_S || [gex params] || e || f || K), each of the
/// first five as an SSH string.
pub fn exchange_hash(alg: HashAlg, h: &HashInput<'_>, k: &SharedSecret) -> Vec<u8> {
    let mut buf = Vec::with_capacity(
        h.v_c.len() + h.v_s.len() + h.i_c.len() + h.i_s.len() + h.k_s.len() + 64,
    );
    buf.put_string(h.v_c);
    buf.put_string(h.v_s);
    buf.put_string(h.i_c);
    buf.put_string(h.i_s);
    buf.put_string(h.k_s);
    buf.extend_from_slice(h.gex_params);
    buf.extend_from_slice(h.client_public);
    buf.extend_from_slice(h.server_public);
    buf.extend_from_slice(k.encoded());
    let out = alg.digest(&[&buf]);
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// RFC 4253 §7.2: K1 = HASH(K || H || X || session_id), Kn = HASH(K || H || K1 || … ),
/// truncated to `len`.
fn derive(
    alg: HashAlg,
    k: &SharedSecret,
    h: &[u8],
    x: u8,
    session_id: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut out = alg.digest(&[k.encoded(), h, &[x], session_id]);
    while out.len() < len {
        let next = alg.digest(&[k.encoded(), h, &out]);
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}

/// Derive the client-to-server and server-to-client keys for what was negotiated.
pub fn derive_keys(
    neg: &Negotiated,
    k: &SharedSecret,
    h: &[u8],
    session_id: &[u8],
) -> (DirectionKeys, DirectionKeys) {
    let alg = neg.kex.hash();
    let dir = |cipher: Cipher, mac: Option<Mac>, iv: u8, key: u8, mk: u8| DirectionKeys {
        cipher,
        mac,
        iv: derive(alg, k, h, iv, session_id, cipher.iv_len()),
        key: derive(alg, k, h, key, session_id, cipher.key_len()),
        mac_key: mac.map_or_else(Vec::new, |m| derive(alg, k, h, mk, session_id, m.key_len())),
    };
    (
        dir(neg.cipher_c2s, neg.mac_c2s, b'A', b'C', b'E'),
        dir(neg.cipher_s2c, neg.mac_s2c, b'B', b'D', b'F'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(kex: &[&str], hk: &[&str], cipher: &[&str], mac: &[&str]) -> KexInit {
        let algs = Algorithms {
            kex: kex.iter().map(|s| s.to_string()).collect(),
            host_key: vec![],
            cipher: cipher.iter().map(|s| s.to_string()).collect(),
            mac: mac.iter().map(|s| s.to_string()).collect(),
            compression: vec!["none".into()],
        };
        let hk: Vec<String> = hk.iter().map(|s| s.to_string()).collect();
        let built = KexInit::build(&algs, &hk, &[], [7; 16]);
        KexInit::parse(&built.raw).unwrap()
    }

    #[test]
    fn client_preference_wins_and_aead_needs_no_mac() {
        let c = init(
            &["curve25519-sha256", "ecdh-sha2-nistp256", "ext-info-c"],
            &["ssh-ed25519", "rsa-sha2-512"],
            &["chacha20-poly1305@openssh.com", "aes128-ctr"],
            &["hmac-sha2-256"],
        );
        let s = init(
            &["ecdh-sha2-nistp256", "curve25519-sha256"],
            &["rsa-sha2-512", "ssh-ed25519"],
            &["aes128-ctr", "chacha20-poly1305@openssh.com"],
            &["hmac-sha1"],
        );
        let n = negotiate(&c, &s, true, "peer").unwrap();
        assert_eq!(n.kex, KexAlg::Curve25519Sha256);
        assert_eq!(n.host_key, SigAlg::Ed25519);
        assert_eq!(n.cipher_c2s, Cipher::Chacha20Poly1305);
        assert_eq!(n.mac_c2s, None);
    }

    #[test]
    fn no_common_cipher_reports_the_peers_offer_in_openssh_words() {
        let c = init(
            &["curve25519-sha256"],
            &["ssh-ed25519"],
            &["aes128-ctr"],
            &["hmac-sha2-256"],
        );
        let s = init(
            &["curve25519-sha256"],
            &["ssh-ed25519"],
            &["aes256-gcm@openssh.com"],
            &[],
        );
        let e = negotiate(&c, &s, true, "127.0.0.1 port 22").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unable to negotiate with 127.0.0.1 port 22: no matching cipher found. Their offer: aes256-gcm@openssh.com"
        );
    }

    #[test]
    fn markers_are_never_chosen_as_kex() {
        let c = init(
            &["ext-info-c", "curve25519-sha256"],
            &["ssh-ed25519"],
            &["aes128-ctr"],
            &["hmac-sha2-256"],
        );
        let s = init(
            &["ext-info-c", "curve25519-sha256"],
            &["ssh-ed25519"],
            &["aes128-ctr"],
            &["hmac-sha2-256"],
        );
        assert_eq!(
            negotiate(&c, &s, true, "p").unwrap().kex,
            KexAlg::Curve25519Sha256
        );
    }

    #[test]
    fn compression_is_chosen_per_direction_by_the_client() {
        let with = |c2s: &[&str], s2c: &[&str]| {
            let mut k = init(
                &["curve25519-sha256"],
                &["ssh-ed25519"],
                &["aes128-ctr"],
                &["hmac-sha2-256"],
            );
            k.comp_c2s = c2s.iter().map(|s| s.to_string()).collect();
            k.comp_s2c = s2c.iter().map(|s| s.to_string()).collect();
            k
        };
        // OpenSSH's `ssh -C` against its sshd's default offer.
        let c = with(
            &["zlib@openssh.com", "zlib", "none"],
            &["zlib@openssh.com", "zlib", "none"],
        );
        let s = with(&["none", "zlib@openssh.com"], &["none"]);
        let n = negotiate(&c, &s, true, "p").unwrap();
        assert_eq!(n.comp_c2s, Compression::ZlibDelayed);
        assert_eq!(n.comp_s2c, Compression::None);
        // The client's default ("none" first) wins over a server that offers zlib.
        let c = with(&["none", "zlib@openssh.com", "zlib"], &["none"]);
        let s = with(&["zlib", "none"], &["zlib"]);
        let e = negotiate(&c, &s, true, "127.0.0.1 port 22").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unable to negotiate with 127.0.0.1 port 22: no matching compression method found. Their offer: zlib"
        );
        let s = with(&["zlib", "none"], &["zlib", "none"]);
        let n = negotiate(&c, &s, true, "p").unwrap();
        assert_eq!(n.comp_c2s, Compression::None);
    }
}
