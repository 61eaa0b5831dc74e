//! `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com`: RFC 5647 §7 with OpenSSH's
//! negotiation rules (`PROTOCOL` §1.6, draft-miller-sshm-aes-gcm): the cipher name
//! alone selects GCM, and no MAC is used.
//!
//! - The 12-byte IV from key exchange is a 4-byte fixed field and an 8-byte invocation
//!   counter (RFC 5647 §7.1); the counter is incremented, modulo 2^64, after every
//!   packet, and the fixed field never changes.
//! - The 4-byte `packet_length` is sent in clear as additional authenticated data;
//!   `padding_length || payload || padding` is encrypted (§7.2, §7.3).
//! - The tag is the full 16 bytes.
//!
//! Not here: GCM itself, which comes from aws-lc-rs (its AES-NI/VAES code is about five
//! times the RustCrypto `aes-gcm` crate's speed here: docs/performance.md), and
//! stopping before the invocation counter wraps, which rekeying makes unreachable.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::{AEAD_TAG_LEN, LEN_FIELD};
use crate::Error;

/// The key (aws-lc holds the AES key schedule and the GHASH key, and wipes them when
/// dropped) and the IV's two fields.
pub(super) struct AesGcmKey {
    aead: LessSafeKey,
    fixed: [u8; 4],
    invocation: u64,
}

impl AesGcmKey {
    /// A 16-byte key selects AES-128, a 32-byte one AES-256.
    pub(super) fn new(key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let alg = match key.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            _ => return Err(Error::Key("AES-GCM key length".into())),
        };
        let aead = LessSafeKey::new(
            UnboundKey::new(alg, key).map_err(|_| Error::Key("AES-GCM key".into()))?,
        );
        let (fixed, invocation) = iv
            .split_first_chunk::<4>()
            .and_then(|(f, rest)| Some((*f, <[u8; 8]>::try_from(rest).ok()?)))
            .ok_or_else(|| Error::Key("AES-GCM IV length".into()))?;
        Ok(AesGcmKey {
            aead,
            fixed,
            invocation: u64::from_be_bytes(invocation),
        })
    }

    /// IV = fixed || invocation_counter, both big-endian as they came from key exchange.
    fn nonce(&self) -> Nonce {
        let [f0, f1, f2, f3] = self.fixed;
        let [c0, c1, c2, c3, c4, c5, c6, c7] = self.invocation.to_be_bytes();
        Nonce::assume_unique_for_key([f0, f1, f2, f3, c0, c1, c2, c3, c4, c5, c6, c7])
    }

    /// `msg` = length || body in clear; `tag` = 16 bytes of room.
    pub(super) fn seal(&mut self, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        let nonce = self.nonce();
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        let computed = self
            .aead
            .seal_in_place_separate_tag(nonce, Aad::from(*len), body)
            // The only failure when sealing is input beyond GCM's limit (~64 GiB).
            .map_err(|_| Error::BadPacketLength(u32::MAX))?;
        let out: &mut [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| Error::Truncated)?;
        out.copy_from_slice(computed.as_ref());
        self.invocation = self.invocation.wrapping_add(1);
        Ok(())
    }

    /// `msg` = clear length || encrypted body; `tag` = the received tag, which aws-lc
    /// checks in constant time. On a mismatch the buffer's contents are unspecified, and
    /// unused: the error ends the connection.
    pub(super) fn open(&mut self, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        let nonce = self.nonce();
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        self.aead
            .open_in_place_separate_tag(nonce, Aad::from(*len), tag, body)
            .map_err(|_| Error::Mac)?;
        self.invocation = self.invocation.wrapping_add(1);
        Ok(())
    }
}
