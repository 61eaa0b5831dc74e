//! The non-AEAD ciphers with an HMAC (RFC 4253 §6.4, RFC 6668): `aes128-ctr`,
//! `aes192-ctr`, `aes256-ctr` (RFC 4344 §4) and the legacy `3des-cbc`, `aes128-cbc`,
//! `aes192-cbc`, `aes256-cbc` (RFC 4253 §6.3, in `cbc.rs`), with the MAC in either order:
//!
//! - classic (RFC 4253 §6.4): `mac = MAC(key, uint32 seq || unencrypted packet)`, and
//!   the whole packet, length included, is encrypted;
//! - encrypt-then-MAC (OpenSSH `PROTOCOL` §1.5, `*-etm@openssh.com`): the length is
//!   sent in clear, only the rest is encrypted, and
//!   `mac = MAC(key, uint32 seq || packet_length || encrypted packet)`.
//!
//! CTR is one keystream per direction that runs on across packets (RFC 4344 §4: the
//! IV from key exchange is the initial 128-bit big-endian counter, incremented per
//! block, modulo 2^128); CBC is one chain per direction, likewise. Without -etm the
//! receiver must decrypt the first block to learn the length; `packet_length` does that
//! and `open` continues from the next block, so each keystream byte (or chained block)
//! is used exactly once.
//!
//! CBC without -etm also gets OpenSSH's countermeasure against the plaintext-recovery
//! attack on the encrypted length (CPNI-957037, `ssh_packet_start_discard` in OpenSSH's
//! `packet.c`): a decrypted length out of bounds, a length that is not block-aligned
//! ("padding error") and a MAC that does not verify all end the same way, with
//! "Corrupted MAC on input." once input up to `PACKET_MAX_SIZE` bytes from the start of
//! the bad packet has been read and thrown away, so when the connection drops tells
//! nothing about the decrypted length. See [`super::OpeningKey::discard_length`].
//!
//! Not here: umac (no well-kept crate), and truncated MACs (`-96`) and MD5, which
//! OpenSSH no longer offers.

use aes::{Aes128, Aes192, Aes256};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::cbc::Cbc;
use super::{Cipher, Direction, LEN_FIELD, Mac, read_length, tags_match};
use crate::Error;
use crate::transport::MAX_PACKET;

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

/// The cipher half of the composition.
enum Mode {
    Ctr(Keystream),
    Cbc(Cbc),
}

impl Mode {
    fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Mode::Ctr(k) => k.apply(buf),
            Mode::Cbc(c) => c.encrypt(buf),
        }
    }

    fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        match self {
            Mode::Ctr(k) => k.apply(buf),
            Mode::Cbc(c) => c.decrypt(buf),
        }
    }
}

pub(super) struct CipherHmac {
    mode: Mode,
    mac: Hmacs,
    etm: bool,
    /// The cipher's block size: the head a non-etm receiver decrypts to learn the
    /// length.
    block: usize,
    /// `packet_length` of the packet a receiver reads out to when it discards.
    discard_length: u32,
    /// Receiving without -etm: `packet_length` has decrypted the head of the current
    /// packet and `open` has not yet consumed it.
    head_pending: bool,
    /// Receiving with CBC without -etm after a bad length, padding or MAC: how many
    /// bytes of the bad packet the MAC has already been computed over. The next `open`
    /// fails whatever it gets.
    discarding: Option<usize>,
}

impl CipherHmac {
    pub(super) fn new(
        cipher: Cipher,
        direction: Direction,
        mac: Mac,
        key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Self, Error> {
        let mode = match cipher {
            Cipher::Aes128Ctr | Cipher::Aes192Ctr | Cipher::Aes256Ctr => {
                Mode::Ctr(Keystream::new(cipher, key, iv)?)
            }
            _ => Mode::Cbc(Cbc::new(cipher, direction, key, iv)?),
        };
        // 4 + packet_length + tag = PACKET_MAX_SIZE: OpenSSH discards that much input
        // counted from the start of the bad packet.
        let discard_length = MAX_PACKET
            .checked_sub(LEN_FIELD + mac.tag_len())
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(Error::Malformed("MAC longer than a packet"))?;
        Ok(CipherHmac {
            mode,
            mac: Hmacs::new(mac, mac_key)?,
            etm: mac.is_etm(),
            block: cipher.block_size(),
            discard_length,
            head_pending: false,
            discarding: None,
        })
    }

    /// Whether errors on input start a discard instead of ending the connection at
    /// once: CBC without -etm, as in OpenSSH's `ssh_packet_start_discard`.
    fn discards(&self) -> bool {
        matches!(self.mode, Mode::Cbc(_)) && !self.etm
    }

    /// See [`super::OpeningKey::discard_length`].
    pub(super) fn discard_length(&self) -> Option<u32> {
        self.discarding.map(|_| self.discard_length)
    }

    /// `msg` = length || body in clear; `tag` = tag_len bytes of room.
    pub(super) fn seal(&mut self, seq: u32, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        if self.etm {
            self.mode
                .encrypt(msg.get_mut(LEN_FIELD..).ok_or(Error::Truncated)?)?;
            self.mac.sign(seq, msg, tag)
        } else {
            self.mac.sign(seq, msg, tag)?;
            self.mode.encrypt(msg)
        }
    }

    /// -etm: the length is in clear. Otherwise decrypts the first block in place.
    ///
    /// With CBC without -etm a length out of bounds or not block-aligned starts the
    /// discard: the length returned is then [`Self::discard_length`]'s.
    pub(super) fn packet_length(&mut self, head: &mut [u8]) -> Result<u32, Error> {
        if self.etm {
            return read_length(head);
        }
        if self.head_pending {
            return Err(Error::Malformed(
                "packet_length called twice for one packet",
            ));
        }
        if self.discarding.is_some() {
            return Ok(self.discard_length);
        }
        self.mode
            .decrypt(head.get_mut(..self.block).ok_or(Error::Truncated)?)?;
        self.head_pending = true;
        let len = read_length(head)?;
        if !self.discards() {
            return Ok(len);
        }
        // OpenSSH's ssh_packet_read_poll2 checks, and words, in this order.
        if !(5..=MAX_PACKET as u64).contains(&u64::from(len)) {
            tracing::info!("Bad packet length {len}.");
        } else if !(u64::from(len) + LEN_FIELD as u64).is_multiple_of(self.block as u64) {
            // OpenSSH's `need`, the bytes still to decrypt, is computed in unsigned
            // arithmetic and printed signed.
            let need = (len + LEN_FIELD as u32).wrapping_sub(self.block as u32);
            tracing::info!(
                "padding error: need {} block {} mod {}",
                need as i32,
                self.block,
                need % self.block as u32
            );
        } else {
            return Ok(len);
        }
        self.discarding = Some(0);
        Ok(self.discard_length)
    }

    /// `msg` = length || body as received (the head already decrypted without -etm);
    /// `tag` = the received MAC.
    pub(super) fn open(&mut self, seq: u32, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        if let Some(already) = self.discarding {
            // The end of a discard (OpenSSH's ssh_packet_stop_discard): MAC what was
            // not MACed yet, so that the time taken does not tell which check failed.
            self.head_pending = false;
            self.mac
                .with_tag(seq, msg.get(already..).unwrap_or_default(), |_| ());
            return Err(Error::Mac);
        }
        if self.etm {
            if !self.mac.verify(seq, msg, tag) {
                return Err(Error::Mac);
            }
            return self
                .mode
                .decrypt(msg.get_mut(LEN_FIELD..).ok_or(Error::Truncated)?);
        }
        if !std::mem::take(&mut self.head_pending) {
            return Err(Error::Malformed("open called before packet_length"));
        }
        // The MAC is over the plaintext, so decrypting comes first here: the
        // weakness -etm exists to fix. The plaintext of a forged packet is never
        // returned, only Error::Mac.
        self.mode
            .decrypt(msg.get_mut(self.block..).ok_or(Error::Truncated)?)?;
        if !self.mac.verify(seq, msg, tag) {
            if self.discards() {
                tracing::info!("Corrupted MAC on input.");
                self.discarding = Some(msg.len());
            }
            return Err(Error::Mac);
        }
        Ok(())
    }
}
