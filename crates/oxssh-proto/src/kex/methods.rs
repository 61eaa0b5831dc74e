//! Key exchange methods: the per-method cryptography of one SSH key exchange.
//!
//! For every method we offer this module makes the client's ephemeral key and public
//! value, answers it on the server side, validates the peer's value and derives the
//! shared secret `K`. Public values come out already wire-encoded exactly as they sit in
//! the INIT/REPLY messages and in the exchange hash, and `K` comes out encoded as it enters
//! the hash and the key derivation (RFC 4253 §7.2), so the caller never re-encodes them.
//!
//! Methods and specs:
//! - `mlkem768x25519-sha256`: draft-ietf-sshm-mlkem-hybrid-kex (ML-KEM-768, FIPS 203,
//!   combined with X25519; `K = string HASH(K_PQ || K_CL)`).
//! - `sntrup761x25519-sha512` and its `@openssh.com` alias: draft-ietf-sshm-ntruprime-ssh,
//!   formerly draft-josefsson-ntruprime-ssh (Streamlined NTRU Prime 761 with X25519, the
//!   same shape with SHA-512).
//! - `curve25519-sha256` (and `@libssh.org`): RFC 8731 §3 (`K` is the X25519 output read
//!   as a big-endian unsigned integer, encoded as `mpint`; all-zero output refused).
//! - `ecdh-sha2-nistp256/384/521`: RFC 5656 §4 and §7.1 (uncompressed SEC1 points, the
//!   peer's point validated on the curve; `K` is the x-coordinate as `mpint`).
//! - `diffie-hellman-group{1,14,16,18}-*`: RFC 4253 §8 and RFC 8268; `-group-exchange-*`:
//!   RFC 4419 (see [`dh`] for the arithmetic, the groups and the moduli file).
//!
//! Not here: negotiation, the message framing, the exchange hash `H` and key derivation
//! (all in `kex/mod.rs`), and host key signatures (`hostkey.rs`). Every primitive comes
//! from a RustCrypto crate (x25519-dalek, p256/p384/p521, ml-kem, crypto-bigint) or the
//! `sntrup761` crate; this file only wires them to the SSH encodings.

mod dh;
mod groups;
#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod tests;

pub use dh::{
    DH_GRP_MAX, DH_GRP_MIN, DhGroup, ModuliEntry, choose_group, choose_group_with_rng, dh_estimate,
    parse_moduli,
};

use ml_kem::{Decapsulate, Encapsulate, Generate, KeyExport};
use rand_core::CryptoRng;
use sha2::Digest;
use zeroize::Zeroizing;

use crate::Error;
use crate::wire::Put;

/// A key exchange method we implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KexAlg {
    MlKem768X25519Sha256,
    Sntrup761X25519Sha512,
    Sntrup761X25519Sha512OpenSsh,
    Curve25519Sha256,
    Curve25519Sha256LibSsh,
    EcdhNistp256,
    EcdhNistp384,
    EcdhNistp521,
    DhGexSha256,
    DhGroup16Sha512,
    DhGroup18Sha512,
    DhGroup14Sha256,
    DhGroup14Sha1,
    DhGroup1Sha1,
    DhGexSha1,
}

impl KexAlg {
    /// Every method we implement: OpenSSH 10's client default `KexAlgorithms` order first,
    /// then the SHA-1 methods that are supported but only enabled on request
    /// (`KexAlgorithms +diffie-hellman-group14-sha1`).
    pub const ALL: &'static [KexAlg] = &[
        KexAlg::MlKem768X25519Sha256,
        KexAlg::Sntrup761X25519Sha512,
        KexAlg::Sntrup761X25519Sha512OpenSsh,
        KexAlg::Curve25519Sha256,
        KexAlg::Curve25519Sha256LibSsh,
        KexAlg::EcdhNistp256,
        KexAlg::EcdhNistp384,
        KexAlg::EcdhNistp521,
        KexAlg::DhGexSha256,
        KexAlg::DhGroup16Sha512,
        KexAlg::DhGroup18Sha512,
        KexAlg::DhGroup14Sha256,
        KexAlg::DhGroup14Sha1,
        KexAlg::DhGroup1Sha1,
        KexAlg::DhGexSha1,
    ];

    /// Every method, in the order of OpenSSH's table (`kex-names.c`): the order
    /// `ssh -Q kex` lists them in and a pattern such as `KexAlgorithms +diffie*` expands
    /// in.
    pub const IMPLEMENTED: &'static [KexAlg] = &[
        KexAlg::DhGroup1Sha1,
        KexAlg::DhGroup14Sha1,
        KexAlg::DhGroup14Sha256,
        KexAlg::DhGroup16Sha512,
        KexAlg::DhGroup18Sha512,
        KexAlg::DhGexSha1,
        KexAlg::DhGexSha256,
        KexAlg::EcdhNistp256,
        KexAlg::EcdhNistp384,
        KexAlg::EcdhNistp521,
        KexAlg::Curve25519Sha256,
        KexAlg::Curve25519Sha256LibSsh,
        KexAlg::Sntrup761X25519Sha512,
        KexAlg::Sntrup761X25519Sha512OpenSsh,
        KexAlg::MlKem768X25519Sha256,
    ];

    /// The method's name in `SSH_MSG_KEXINIT`.
    pub fn name(self) -> &'static str {
        match self {
            KexAlg::MlKem768X25519Sha256 => "mlkem768x25519-sha256",
            KexAlg::Sntrup761X25519Sha512 => "sntrup761x25519-sha512",
            KexAlg::Sntrup761X25519Sha512OpenSsh => "sntrup761x25519-sha512@openssh.com",
            KexAlg::Curve25519Sha256 => "curve25519-sha256",
            KexAlg::Curve25519Sha256LibSsh => "curve25519-sha256@libssh.org",
            KexAlg::EcdhNistp256 => "ecdh-sha2-nistp256",
            KexAlg::EcdhNistp384 => "ecdh-sha2-nistp384",
            KexAlg::EcdhNistp521 => "ecdh-sha2-nistp521",
            KexAlg::DhGexSha256 => "diffie-hellman-group-exchange-sha256",
            KexAlg::DhGroup16Sha512 => "diffie-hellman-group16-sha512",
            KexAlg::DhGroup18Sha512 => "diffie-hellman-group18-sha512",
            KexAlg::DhGroup14Sha256 => "diffie-hellman-group14-sha256",
            KexAlg::DhGroup14Sha1 => "diffie-hellman-group14-sha1",
            KexAlg::DhGroup1Sha1 => "diffie-hellman-group1-sha1",
            KexAlg::DhGexSha1 => "diffie-hellman-group-exchange-sha1",
        }
    }

    /// The method for a KEXINIT name; `None` for names we do not implement.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The hash of the exchange hash and key derivation.
    pub fn hash(self) -> HashAlg {
        match self {
            KexAlg::MlKem768X25519Sha256
            | KexAlg::Curve25519Sha256
            | KexAlg::Curve25519Sha256LibSsh
            | KexAlg::EcdhNistp256
            | KexAlg::DhGexSha256
            | KexAlg::DhGroup14Sha256 => HashAlg::Sha256,
            KexAlg::EcdhNistp384 => HashAlg::Sha384,
            KexAlg::Sntrup761X25519Sha512
            | KexAlg::Sntrup761X25519Sha512OpenSsh
            | KexAlg::EcdhNistp521
            | KexAlg::DhGroup16Sha512
            | KexAlg::DhGroup18Sha512 => HashAlg::Sha512,
            KexAlg::DhGroup14Sha1 | KexAlg::DhGroup1Sha1 | KexAlg::DhGexSha1 => HashAlg::Sha1,
        }
    }

    /// Diffie-Hellman group exchange (RFC 4419): the group is negotiated first, then
    /// [`KexClient::start_gex`] / [`kex_server_gex`] run the exchange.
    pub fn is_gex(self) -> bool {
        matches!(self, KexAlg::DhGexSha256 | KexAlg::DhGexSha1)
    }

    /// In OpenSSH's default client `KexAlgorithms` (everything but the SHA-1 methods).
    pub fn is_default(self) -> bool {
        !matches!(
            self,
            KexAlg::DhGroup14Sha1 | KexAlg::DhGroup1Sha1 | KexAlg::DhGexSha1
        )
    }

    /// The fixed group of a `diffie-hellman-groupN-*` method.
    pub fn dh_group(self) -> Option<DhGroup> {
        match self {
            KexAlg::DhGroup1Sha1 => Some(DhGroup::group1()),
            KexAlg::DhGroup14Sha1 | KexAlg::DhGroup14Sha256 => Some(DhGroup::group14()),
            KexAlg::DhGroup16Sha512 => Some(DhGroup::group16()),
            KexAlg::DhGroup18Sha512 => Some(DhGroup::group18()),
            _ => None,
        }
    }
}

/// A hash function of a key exchange method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Hash the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Sha1 => run::<sha1::Sha1>(parts),
            HashAlg::Sha256 => run::<sha2::Sha256>(parts),
            HashAlg::Sha384 => run::<sha2::Sha384>(parts),
            HashAlg::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// The shared secret `K`, already wire-encoded the way it enters the exchange hash and the
/// key derivation (RFC 4253 §7.2): `mpint` for DH, ECDH and curve25519; `string` for the
/// post-quantum hybrids. Zeroized on drop; its `Debug` shows nothing.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// The encoded `K`.
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// X25519 public value length (RFC 7748).
const X25519_LEN: usize = 32;
/// ML-KEM-768 encapsulation key and ciphertext lengths (FIPS 203 §8, table 3).
const MLKEM768_EK_LEN: usize = 1184;
const MLKEM768_CT_LEN: usize = 1088;

/// The client's half of a one-round key exchange, between sending INIT and receiving REPLY.
pub struct KexClient {
    alg: KexAlg,
    state: ClientState,
}

impl std::fmt::Debug for KexClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KexClient")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

enum ClientState {
    Curve25519(x25519_dalek::EphemeralSecret),
    P256(p256::ecdh::EphemeralSecret),
    P384(p384::ecdh::EphemeralSecret),
    P521(p521::ecdh::EphemeralSecret),
    Dh {
        group: Box<dh::Prepared>,
        x: dh::Secret,
    },
    MlKem {
        dk: Box<ml_kem::DecapsulationKey768>,
        x: x25519_dalek::EphemeralSecret,
    },
    Sntrup {
        dk: Box<sntrup761::DecapsulationKey>,
        x: x25519_dalek::EphemeralSecret,
    },
}

impl KexClient {
    /// Start a key exchange: returns the state to keep and the client's public value
    /// wire-encoded exactly as it follows the message number in the INIT message and as
    /// it enters the exchange hash (`string Q_C` for ECDH, curve25519 and the hybrids,
    /// `mpint e` for DH). For group exchange use [`KexClient::start_gex`].
    pub fn start(
        alg: KexAlg,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, Vec<u8>), Error> {
        let (state, public) = match alg {
            KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => {
                let (x, q) = x25519_keygen(rng);
                (ClientState::Curve25519(x), string(&q))
            }
            KexAlg::EcdhNistp256 => {
                let x = p256::ecdh::EphemeralSecret::generate_from_rng(rng);
                let q = ecdh_public_p256(&x);
                (ClientState::P256(x), string(&q))
            }
            KexAlg::EcdhNistp384 => {
                let x = p384::ecdh::EphemeralSecret::generate_from_rng(rng);
                let q = ecdh_public_p384(&x);
                (ClientState::P384(x), string(&q))
            }
            KexAlg::EcdhNistp521 => {
                let x = p521::ecdh::EphemeralSecret::generate_from_rng(rng);
                let q = ecdh_public_p521(&x);
                (ClientState::P521(x), string(&q))
            }
            KexAlg::MlKem768X25519Sha256 => {
                let dk = Box::new(ml_kem::DecapsulationKey768::generate_from_rng(rng));
                let (x, q) = x25519_keygen(rng);
                let mut init = Vec::with_capacity(4 + MLKEM768_EK_LEN + X25519_LEN);
                let ek = dk.encapsulation_key().to_bytes();
                init.put_u32((ek.len() + q.len()) as u32);
                init.extend_from_slice(&ek);
                init.extend_from_slice(&q);
                (ClientState::MlKem { dk, x }, init)
            }
            KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh => {
                let (ek, dk) = sntrup761::generate_key(&mut *rng);
                let (x, q) = x25519_keygen(rng);
                let mut init = Vec::with_capacity(4 + sntrup761::PUBLIC_KEY_SIZE + X25519_LEN);
                init.put_u32((sntrup761::PUBLIC_KEY_SIZE + q.len()) as u32);
                init.extend_from_slice(ek.as_ref());
                init.extend_from_slice(&q);
                (
                    ClientState::Sntrup {
                        dk: Box::new(dk),
                        x,
                    },
                    init,
                )
            }
            KexAlg::DhGroup1Sha1
            | KexAlg::DhGroup14Sha1
            | KexAlg::DhGroup14Sha256
            | KexAlg::DhGroup16Sha512
            | KexAlg::DhGroup18Sha512 => {
                let group = alg
                    .dh_group()
                    .ok_or(Error::Kex("no fixed group for this method"))?;
                return Self::start_dh(alg, &group, rng);
            }
            KexAlg::DhGexSha1 | KexAlg::DhGexSha256 => {
                return Err(Error::Kex("group exchange needs the group: use start_gex"));
            }
        };
        Ok((KexClient { alg, state }, public))
    }

    /// Start a DH group exchange (RFC 4419 §3) once SSH_MSG_KEX_DH_GEX_GROUP gave the
    /// group: returns the state and `mpint e` for SSH_MSG_KEX_DH_GEX_INIT. The caller has
    /// already checked the group size against the min/max it asked for; here the group
    /// itself is checked (odd modulus of 1024..8192 bits, 1 < g < p-1).
    pub fn start_gex(
        alg: KexAlg,
        group: &DhGroup,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, Vec<u8>), Error> {
        if !alg.is_gex() {
            return Err(Error::Kex("start_gex needs a group exchange method"));
        }
        Self::start_dh(alg, group, rng)
    }

    fn start_dh(
        alg: KexAlg,
        group: &DhGroup,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, Vec<u8>), Error> {
        let group = Box::new(dh::Prepared::new(group)?);
        let (x, e) = group.keygen(rng)?;
        Ok((
            KexClient {
                alg,
                state: ClientState::Dh { group, x },
            },
            e,
        ))
    }

    /// The method this exchange runs.
    pub fn alg(&self) -> KexAlg {
        self.alg
    }

    /// Finish with the server's public value as the raw field parsed from the REPLY (the
    /// contents of the `Q_S` string, or of the `f` mpint). Validates it (point on the
    /// curve, `1 < f < p-1`, non-zero X25519 result, exact hybrid lengths) and returns `K`
    /// and the server value re-encoded for the exchange hash.
    pub fn finish(self, server_public: &[u8]) -> Result<(SharedSecret, Vec<u8>), Error> {
        let hash = self.alg.hash();
        match self.state {
            ClientState::Curve25519(x) => {
                let k = x25519_agree(x, server_public)?;
                Ok((SharedSecret(mpint_secret(&k[..])), string(server_public)))
            }
            ClientState::P256(x) => {
                let peer = ecdh_peer_p256(server_public)?;
                let k = x.diffie_hellman(&peer);
                Ok((
                    SharedSecret(mpint_secret(k.raw_secret_bytes())),
                    string(server_public),
                ))
            }
            ClientState::P384(x) => {
                let peer = ecdh_peer_p384(server_public)?;
                let k = x.diffie_hellman(&peer);
                Ok((
                    SharedSecret(mpint_secret(k.raw_secret_bytes())),
                    string(server_public),
                ))
            }
            ClientState::P521(x) => {
                let peer = ecdh_peer_p521(server_public)?;
                let k = x.diffie_hellman(&peer);
                Ok((
                    SharedSecret(mpint_secret(k.raw_secret_bytes())),
                    string(server_public),
                ))
            }
            ClientState::Dh { group, x } => {
                let f = group.peer(server_public)?;
                let (k, f) = group.agree(&x, f);
                Ok((SharedSecret(k), f))
            }
            ClientState::MlKem { dk, x } => {
                if server_public.len() != MLKEM768_CT_LEN + X25519_LEN {
                    return Err(Error::Kex("bad mlkem768x25519 reply length"));
                }
                let (ct, q) = server_public.split_at(MLKEM768_CT_LEN);
                let pq = Zeroizing::new(
                    dk.decapsulate_slice(ct)
                        .map_err(|_| Error::Kex("bad ML-KEM ciphertext"))?,
                );
                let cl = x25519_agree(x, q)?;
                let k = hybrid_secret(hash, &pq[..], &cl[..]);
                Ok((SharedSecret(k), string(server_public)))
            }
            ClientState::Sntrup { dk, x } => {
                if server_public.len() != sntrup761::CIPHERTEXT_SIZE + X25519_LEN {
                    return Err(Error::Kex("bad sntrup761x25519 reply length"));
                }
                let (ct, q) = server_public.split_at(sntrup761::CIPHERTEXT_SIZE);
                let ct = sntrup761::Ciphertext::try_from(ct)
                    .map_err(|_| Error::Kex("bad sntrup761 ciphertext"))?;
                let pq = dk.decapsulate(&ct);
                let cl = x25519_agree(x, q)?;
                let k = hybrid_secret(hash, pq.as_ref(), &cl[..]);
                Ok((SharedSecret(k), string(server_public)))
            }
        }
    }
}

/// The server's half of a one-round key exchange: given the client's public value (the
/// raw field parsed from INIT), returns the server's public value wire-encoded for the
/// REPLY and the exchange hash, the client's value re-encoded for the exchange hash, and
/// `K`. For group exchange use [`kex_server_gex`].
pub fn kex_server(
    alg: KexAlg,
    client_public: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(Vec<u8>, Vec<u8>, SharedSecret), Error> {
    let hash = alg.hash();
    match alg {
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => {
            let (y, q) = x25519_keygen(rng);
            let k = x25519_agree(y, client_public)?;
            Ok((
                string(&q),
                string(client_public),
                SharedSecret(mpint_secret(&k[..])),
            ))
        }
        KexAlg::EcdhNistp256 => {
            let peer = ecdh_peer_p256(client_public)?;
            let y = p256::ecdh::EphemeralSecret::generate_from_rng(rng);
            let k = y.diffie_hellman(&peer);
            Ok((
                string(&ecdh_public_p256(&y)),
                string(client_public),
                SharedSecret(mpint_secret(k.raw_secret_bytes())),
            ))
        }
        KexAlg::EcdhNistp384 => {
            let peer = ecdh_peer_p384(client_public)?;
            let y = p384::ecdh::EphemeralSecret::generate_from_rng(rng);
            let k = y.diffie_hellman(&peer);
            Ok((
                string(&ecdh_public_p384(&y)),
                string(client_public),
                SharedSecret(mpint_secret(k.raw_secret_bytes())),
            ))
        }
        KexAlg::EcdhNistp521 => {
            let peer = ecdh_peer_p521(client_public)?;
            let y = p521::ecdh::EphemeralSecret::generate_from_rng(rng);
            let k = y.diffie_hellman(&peer);
            Ok((
                string(&ecdh_public_p521(&y)),
                string(client_public),
                SharedSecret(mpint_secret(k.raw_secret_bytes())),
            ))
        }
        KexAlg::MlKem768X25519Sha256 => {
            if client_public.len() != MLKEM768_EK_LEN + X25519_LEN {
                return Err(Error::Kex("bad mlkem768x25519 init length"));
            }
            let (ek, q) = client_public.split_at(MLKEM768_EK_LEN);
            let ek = ml_kem::array::Array::try_from(ek)
                .map_err(|_| Error::Kex("bad ML-KEM encapsulation key"))?;
            // FIPS 203 §7.2 encapsulation key check (coefficients reduced mod q).
            let ek = ml_kem::EncapsulationKey768::new(&ek)
                .map_err(|_| Error::Kex("bad ML-KEM encapsulation key"))?;
            let (ct, pq) = ek.encapsulate_with_rng(rng);
            let pq = Zeroizing::new(pq);
            let (y, q_s) = x25519_keygen(rng);
            let cl = x25519_agree(y, q)?;
            let k = hybrid_secret(hash, &pq[..], &cl[..]);
            let mut reply = Vec::with_capacity(4 + MLKEM768_CT_LEN + X25519_LEN);
            reply.put_u32((ct.len() + q_s.len()) as u32);
            reply.extend_from_slice(&ct);
            reply.extend_from_slice(&q_s);
            Ok((reply, string(client_public), SharedSecret(k)))
        }
        KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh => {
            if client_public.len() != sntrup761::PUBLIC_KEY_SIZE + X25519_LEN {
                return Err(Error::Kex("bad sntrup761x25519 init length"));
            }
            let (ek, q) = client_public.split_at(sntrup761::PUBLIC_KEY_SIZE);
            let ek = sntrup761::EncapsulationKey::try_from(ek)
                .map_err(|_| Error::Kex("bad sntrup761 public key"))?;
            let (ct, pq) = ek.encapsulate(&mut *rng);
            let (y, q_s) = x25519_keygen(rng);
            let cl = x25519_agree(y, q)?;
            let k = hybrid_secret(hash, pq.as_ref(), &cl[..]);
            let mut reply = Vec::with_capacity(4 + sntrup761::CIPHERTEXT_SIZE + X25519_LEN);
            reply.put_u32((sntrup761::CIPHERTEXT_SIZE + q_s.len()) as u32);
            reply.extend_from_slice(ct.as_ref());
            reply.extend_from_slice(&q_s);
            Ok((reply, string(client_public), SharedSecret(k)))
        }
        KexAlg::DhGroup1Sha1
        | KexAlg::DhGroup14Sha1
        | KexAlg::DhGroup14Sha256
        | KexAlg::DhGroup16Sha512
        | KexAlg::DhGroup18Sha512 => {
            let group = alg
                .dh_group()
                .ok_or(Error::Kex("no fixed group for this method"))?;
            dh_server(&group, client_public, rng)
        }
        KexAlg::DhGexSha1 | KexAlg::DhGexSha256 => Err(Error::Kex(
            "group exchange needs the group: use kex_server_gex",
        )),
    }
}

/// The server's half of a DH group exchange (RFC 4419 §3): `group` is what it sent in
/// SSH_MSG_KEX_DH_GEX_GROUP, `client_e` the contents of the `e` mpint from
/// SSH_MSG_KEX_DH_GEX_INIT. Returns `mpint f`, `mpint e` re-encoded, and `K`.
pub fn kex_server_gex(
    alg: KexAlg,
    group: &DhGroup,
    client_e: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(Vec<u8>, Vec<u8>, SharedSecret), Error> {
    if !alg.is_gex() {
        return Err(Error::Kex("kex_server_gex needs a group exchange method"));
    }
    dh_server(group, client_e, rng)
}

fn dh_server(
    group: &DhGroup,
    client_e: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(Vec<u8>, Vec<u8>, SharedSecret), Error> {
    let group = dh::Prepared::new(group)?;
    // Refuse a bad `e` before spending an exponentiation on our own value.
    let e = group.peer(client_e)?;
    let (y, f) = group.keygen(rng)?;
    let (k, e) = group.agree(&y, e);
    Ok((f, e, SharedSecret(k)))
}

/// `string` encoding of a public value.
fn string(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 4);
    out.put_string(v);
    out
}

/// `mpint` encoding of a secret big-endian magnitude, into a buffer sized up front so no
/// reallocation leaves a copy behind.
fn mpint_secret(magnitude: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(magnitude.len() + 5));
    out.put_mpint(magnitude);
    out
}

/// The hybrid methods' `K`: `string HASH(K_PQ || K_CL)`.
fn hybrid_secret(hash: HashAlg, pq: &[u8], cl: &[u8]) -> Zeroizing<Vec<u8>> {
    let digest = Zeroizing::new(hash.digest(&[pq, cl]));
    let mut out = Zeroizing::new(Vec::with_capacity(digest.len() + 4));
    out.put_string(&digest);
    out
}

fn x25519_keygen(
    rng: &mut (impl CryptoRng + ?Sized),
) -> (x25519_dalek::EphemeralSecret, [u8; X25519_LEN]) {
    let x = x25519_dalek::EphemeralSecret::random_from_rng(rng);
    let q = x25519_dalek::PublicKey::from(&x).to_bytes();
    (x, q)
}

/// X25519 with the peer's 32-byte value; an all-zero result (a low-order peer point) is
/// refused, as RFC 8731 §3 and RFC 7748 §6.1 require.
fn x25519_agree(
    x: x25519_dalek::EphemeralSecret,
    peer: &[u8],
) -> Result<Zeroizing<[u8; X25519_LEN]>, Error> {
    let peer: [u8; X25519_LEN] = peer
        .try_into()
        .map_err(|_| Error::Kex("bad curve25519 public key length"))?;
    let k = x.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
    if !k.was_contributory() {
        return Err(Error::Kex("curve25519 shared secret is zero"));
    }
    Ok(Zeroizing::new(k.to_bytes()))
}

macro_rules! ecdh_curve {
    ($krate:ident, $public:ident, $peer:ident, $name:literal) => {
        /// Our public point, SEC1 uncompressed (RFC 5656 §4).
        fn $public(x: &$krate::ecdh::EphemeralSecret) -> Vec<u8> {
            use $krate::elliptic_curve::sec1::ToSec1Point;
            x.public_key().to_sec1_point(false).as_bytes().to_vec()
        }

        /// The peer's point: uncompressed SEC1 of the exact length, on the curve, not the
        /// identity (RFC 5656 §4 and §7.1; OpenSSH accepts only uncompressed points).
        fn $peer(q: &[u8]) -> Result<$krate::PublicKey, Error> {
            let field_len = <$krate::FieldBytes>::default().len();
            if q.len() != 1 + 2 * field_len || q.first() != Some(&0x04) {
                return Err(Error::Kex(concat!("bad ", $name, " public key encoding")));
            }
            $krate::PublicKey::from_sec1_bytes(q)
                .map_err(|_| Error::Kex(concat!($name, " public key not on the curve")))
        }
    };
}

ecdh_curve!(p256, ecdh_public_p256, ecdh_peer_p256, "nistp256");
ecdh_curve!(p384, ecdh_public_p384, ecdh_peer_p384, "nistp384");
ecdh_curve!(p521, ecdh_public_p521, ecdh_peer_p521, "nistp521");
