//! `chacha20-poly1305@openssh.com`, exactly as OpenSSH's `PROTOCOL.chacha20poly1305`
//! describes it (now draft-ietf-sshm-chacha20-poly1305).
//!
//! The 64 bytes of key material are K_2 (the first 32, the "main" key) then K_1 (the
//! last 32, the "header" key). For packet sequence number `seq`, both ChaCha20 instances
//! use the nonce `uint64(seq)`:
//! - K_1 at block counter 0 encrypts only the 4-byte `packet_length`;
//! - K_2's block 0 gives the one-time Poly1305 key (its first 32 bytes), and K_2 from
//!   block counter 1 on encrypts the rest of the packet;
//! - the tag is Poly1305 over the encrypted length followed by the encrypted rest.
//!
//! This is the original ChaCha20 (64-bit nonce, 64-bit counter). We run it on the
//! RFC 8439 ChaCha20 of the `chacha20` crate with the 96-bit nonce `0u32 || uint64(seq)`:
//! the state words are identical (word 13 is the counter's high half in one and the
//! nonce's first word in the other, zero in both) as long as the block counter stays
//! below 2^32, and a packet is at most 2^32 bytes, i.e. 2^26 blocks. The tests check
//! this against the 64-bit-nonce variant.
//!
//! Not here: the sequence-number bookkeeping and rekeying that keep a (key, nonce) pair
//! from ever being used twice — the transport's job.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use zeroize::Zeroizing;

use super::{AEAD_TAG_LEN, LEN_FIELD, read_length, tags_match};
use crate::Error;

/// The two ChaCha20 keys; per-packet instances are made from them (setting up ChaCha20
/// is only copying the key into the state, so there is no schedule worth keeping).
pub(super) struct ChaChaPoly {
    /// K_2: Poly1305 keys and the packet body.
    main: Zeroizing<[u8; 32]>,
    /// K_1: the packet length.
    header: Zeroizing<[u8; 32]>,
}

impl ChaChaPoly {
    pub(super) fn new(key: &[u8]) -> Result<Self, Error> {
        let (main, header) = key
            .split_first_chunk::<32>()
            .and_then(|(k2, rest)| Some((k2, <&[u8; 32]>::try_from(rest).ok()?)))
            .ok_or_else(|| Error::Key("chacha20-poly1305 needs 64 bytes of key".into()))?;
        Ok(ChaChaPoly {
            main: Zeroizing::new(*main),
            header: Zeroizing::new(*header),
        })
    }

    /// `packet_length` decrypted from a copy of `head`, which stays as received: the
    /// tag covers the encrypted bytes.
    pub(super) fn packet_length(&self, seq: u32, head: &[u8]) -> Result<u32, Error> {
        let mut len = read_length(head)?.to_be_bytes();
        apply(&mut instance(&self.header, seq), &mut len)?;
        Ok(u32::from_be_bytes(len))
    }

    /// `msg` = length || body in clear; `tag` = 16 bytes of room.
    pub(super) fn seal(&self, seq: u32, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        apply(&mut instance(&self.header, seq), len)?;
        let mut main = instance(&self.main, seq);
        let poly = poly1305_key(&mut main)?;
        apply(&mut main, body)?;
        let out: &mut [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| Error::Truncated)?;
        *out = poly1305(poly, msg).into();
        Ok(())
    }

    /// `msg` = encrypted length || encrypted body; `tag` = the received tag. The tag is
    /// checked before anything is decrypted; then both the length and the body are.
    pub(super) fn open(&self, seq: u32, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        let mut main = instance(&self.main, seq);
        let poly = poly1305_key(&mut main)?;
        if !tags_match(&poly1305(poly, msg), tag) {
            return Err(Error::Mac);
        }
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        apply(&mut main, body)?;
        apply(&mut instance(&self.header, seq), len)
    }
}

/// A ChaCha20 instance at block 0 for this key and packet.
fn instance(key: &[u8; 32], seq: u32) -> ChaCha20 {
    // The 64-bit nonce uint64(seq), big-endian as SSH encodes it, behind a zero word:
    // see the module header.
    let s = u64::from(seq).to_be_bytes();
    let nonce = [0, 0, 0, 0, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]];
    ChaCha20::new(key.into(), &nonce.into())
}

fn apply(cipher: &mut ChaCha20, buf: &mut [u8]) -> Result<(), Error> {
    // Cannot fail: a packet is far below the 256 GiB the 32-bit block counter covers.
    cipher
        .try_apply_keystream(buf)
        .map_err(|_| Error::Malformed("chacha20 keystream exhausted"))
}

/// Takes block 0 of the K_2 stream and keys Poly1305 with its first 32 bytes, leaving
/// the stream at block counter 1, where the packet body starts.
fn poly1305_key(main: &mut ChaCha20) -> Result<Poly1305, Error> {
    let mut block0 = Zeroizing::new([[0u8; 32]; 2]);
    apply(main, block0.as_flattened_mut())?;
    let [poly_key, _] = &*block0;
    Ok(Poly1305::new(poly_key.into()))
}

/// Poly1305 over `data` with no padding (the message is not a multiple of 16 bytes in
/// general). Whole blocks go through `update`, which uses the wide (AVX2) code path.
fn poly1305(mut poly: Poly1305, data: &[u8]) -> poly1305::Tag {
    let (blocks, rest) = poly1305::Block::slice_as_chunks(data);
    poly.update(blocks);
    poly.compute_unpadded(rest)
}
