//! `aes128-ctr`, `aes192-ctr`, `aes256-ctr` (RFC 4344 §4) with an HMAC (RFC 4253 §6.4,
//! RFC 6668), in either order:
//!
//! - classic (RFC 4253 §6.4): `mac = MAC(key, uint32 seq || unencrypted packet)`, and
//!   the whole packet, length included, is encrypted;
//! - encrypt-then-MAC (OpenSSH `PROTOCOL` §1.5, `*-etm@openssh.com`): the length is
//!   sent in clear, only the rest is encrypted, and
//!   `mac = MAC(key, uint32 seq || packet_length || encrypted packet)`.
//!
//! CTR is one keystream per direction that runs on across packets (RFC 4344 §4: the
//! IV from key exchange is the initial 128-bit big-endian counter, incremented per
//! block, modulo 2^128). Without -etm the receiver must decrypt the first block to
//! learn the length; `packet_length` does that and `open` continues from the next
//! byte, so each keystream byte is used exactly once.
//!
//! Not here: umac (no well-kept crate), CBC modes, and truncated MACs (`-96`), which
//! OpenSSH no longer offers.

use aes::{Aes128, Aes192, Aes256};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::{Cipher, LEN_FIELD, Mac, read_length, tags_match};
use crate::Error;

/// The AES block size: the head a non-etm receiver decrypts to learn the length.
const AES_BLOCK: usize = 16;

enum Keystream {
    Aes128(Ctr128BE<Aes128>),
    Aes192(Ctr128BE<Aes192>),
    Aes256(Ctr128BE<Aes256>),
}

impl Keystream {
    fn new(cipher: Cipher, key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::Key(format!("{}: bad key or IV length", cipher.name()));
        Ok(match cipher {
            Cipher::Aes128Ctr => {
                Keystream::Aes128(Ctr128BE::new_from_slices(key, iv).map_err(bad)?)
            }
            Cipher::Aes192Ctr => {
                Keystream::Aes192(Ctr128BE::new_from_slices(key, iv).map_err(bad)?)
            }
            Cipher::Aes256Ctr => {
                Keystream::Aes256(Ctr128BE::new_from_slices(key, iv).map_err(bad)?)
            }
            _ => return Err(Error::Unsupported(cipher.name().into())),
        })
    }

    fn apply(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Keystream::Aes128(c) => c.try_apply_keystream(buf),
            Keystream::Aes192(c) => c.try_apply_keystream(buf),
            Keystream::Aes256(c) => c.try_apply_keystream(buf),
        }
        // Cannot happen: the 128-bit counter wraps around as RFC 4344 says.
        .map_err(|_| Error::Malformed("aes-ctr keystream exhausted"))
    }
}

/// A keyed HMAC, cloned for every packet so the key is hashed only once.
pub(super) enum Hmacs {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl Hmacs {
    pub(super) fn new(mac: Mac, key: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::Key(format!("{}: bad key", mac.name()));
        Ok(match mac {
            Mac::HmacSha1 | Mac::HmacSha1Etm => {
                Hmacs::Sha1(Hmac::new_from_slice(key).map_err(bad)?)
            }
            Mac::HmacSha256 | Mac::HmacSha256Etm => {
                Hmacs::Sha256(Hmac::new_from_slice(key).map_err(bad)?)
            }
            Mac::HmacSha512 | Mac::HmacSha512Etm => {
                Hmacs::Sha512(Hmac::new_from_slice(key).map_err(bad)?)
            }
        })
    }

    /// Calls `f` with `MAC(key, uint32 seq || data)`.
    pub(super) fn with_tag<R>(&self, seq: u32, data: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        fn compute<M: hmac::Mac + Clone>(
            keyed: &M,
            seq: u32,
            data: &[u8],
        ) -> hmac::digest::Output<M> {
            let mut m = keyed.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            m.finalize().into_bytes()
        }
        match self {
            Hmacs::Sha1(m) => f(&compute(m, seq, data)),
            Hmacs::Sha256(m) => f(&compute(m, seq, data)),
            Hmacs::Sha512(m) => f(&compute(m, seq, data)),
        }
    }

    fn sign(&self, seq: u32, data: &[u8], out: &mut [u8]) -> Result<(), Error> {
        self.with_tag(seq, data, |t| {
            let out = out.get_mut(..t.len()).filter(|o| o.len() == t.len());
            out.map(|o| o.copy_from_slice(t)).ok_or(Error::Truncated)
        })
    }

    fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> bool {
        self.with_tag(seq, data, |t| tags_match(t, tag))
    }
}

pub(super) struct CtrHmac {
    keystream: Keystream,
    mac: Hmacs,
    etm: bool,
    /// Receiving without -etm: `packet_length` has decrypted the head of the current
    /// packet and `open` has not yet consumed it.
    head_pending: bool,
}

impl CtrHmac {
    pub(super) fn new(
        cipher: Cipher,
        mac: Mac,
        key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Self, Error> {
        Ok(CtrHmac {
            keystream: Keystream::new(cipher, key, iv)?,
            mac: Hmacs::new(mac, mac_key)?,
            etm: mac.is_etm(),
            head_pending: false,
        })
    }

    /// `msg` = length || body in clear; `tag` = tag_len bytes of room.
    pub(super) fn seal(&mut self, seq: u32, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        if self.etm {
            self.keystream
                .apply(msg.get_mut(LEN_FIELD..).ok_or(Error::Truncated)?)?;
            self.mac.sign(seq, msg, tag)
        } else {
            self.mac.sign(seq, msg, tag)?;
            self.keystream.apply(msg)
        }
    }

    /// -etm: the length is in clear. Otherwise decrypts the first block in place.
    pub(super) fn packet_length(&mut self, head: &mut [u8]) -> Result<u32, Error> {
        if !self.etm {
            if self.head_pending {
                return Err(Error::Malformed(
                    "packet_length called twice for one packet",
                ));
            }
            self.keystream
                .apply(head.get_mut(..AES_BLOCK).ok_or(Error::Truncated)?)?;
            self.head_pending = true;
        }
        read_length(head)
    }

    /// `msg` = length || body as received (the head already decrypted without -etm);
    /// `tag` = the received MAC.
    pub(super) fn open(&mut self, seq: u32, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        if self.etm {
            if !self.mac.verify(seq, msg, tag) {
                return Err(Error::Mac);
            }
            self.keystream
                .apply(msg.get_mut(LEN_FIELD..).ok_or(Error::Truncated)?)
        } else {
            if !std::mem::take(&mut self.head_pending) {
                return Err(Error::Malformed("open called before packet_length"));
            }
            // The MAC is over the plaintext, so decrypting comes first here: the
            // weakness -etm exists to fix. The plaintext of a forged packet is never
            // returned, only Error::Mac.
            self.keystream
                .apply(msg.get_mut(AES_BLOCK..).ok_or(Error::Truncated)?)?;
            if !self.mac.verify(seq, msg, tag) {
                return Err(Error::Mac);
            }
            Ok(())
        }
    }
}
