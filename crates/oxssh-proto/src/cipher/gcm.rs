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
//! Not here: GCM itself (the `aes-gcm` crate), and stopping before the invocation
//! counter wraps, which rekeying makes unreachable.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadCore, AeadInOut};
use aes_gcm::{KeyInit, Nonce};

use super::{AEAD_TAG_LEN, LEN_FIELD};
use crate::Error;

/// `A` is `aes_gcm::Aes128Gcm` or `aes_gcm::Aes256Gcm`, holding the AES key schedule
/// and the GHASH key.
pub(super) struct AesGcmKey<A> {
    aead: A,
    fixed: [u8; 4],
    invocation: u64,
}

impl<A> AesGcmKey<A>
where
    A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16> + KeyInit,
{
    pub(super) fn new(key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let aead = A::new_from_slice(key).map_err(|_| Error::Key("AES-GCM key length".into()))?;
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
    fn nonce(&self) -> Nonce<U12> {
        let [f0, f1, f2, f3] = self.fixed;
        let [c0, c1, c2, c3, c4, c5, c6, c7] = self.invocation.to_be_bytes();
        [f0, f1, f2, f3, c0, c1, c2, c3, c4, c5, c6, c7].into()
    }

    /// `msg` = length || body in clear; `tag` = 16 bytes of room.
    pub(super) fn seal(&mut self, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        let nonce = self.nonce();
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        let computed = self
            .aead
            .encrypt_inout_detached(&nonce, len.as_slice(), body.into())
            // The only error aes-gcm reports when sealing is input over 2^36 bytes.
            .map_err(|_| Error::BadPacketLength(u32::MAX))?;
        let out: &mut [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| Error::Truncated)?;
        *out = computed.into();
        self.invocation = self.invocation.wrapping_add(1);
        Ok(())
    }

    /// `msg` = clear length || encrypted body; `tag` = the received tag. aes-gcm checks
    /// the tag in constant time before it decrypts anything.
    pub(super) fn open(&mut self, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        let nonce = self.nonce();
        let tag = aes_gcm::Tag::try_from(tag).map_err(|_| Error::Mac)?;
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        self.aead
            .decrypt_inout_detached(&nonce, len.as_slice(), body.into(), &tag)
            .map_err(|_| Error::Mac)?;
        self.invocation = self.invocation.wrapping_add(1);
        Ok(())
    }
}
