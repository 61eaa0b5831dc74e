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
        xor_header_keystream(&self.header, seq, &mut len)?;
        Ok(u32::from_be_bytes(len))
    }

    /// `msg` = length || body in clear; `tag` = 16 bytes of room.
    pub(super) fn seal(&self, seq: u32, msg: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        xor_header_keystream(&self.header, seq, len)?;
        let (poly, body_stream) = BodyStream::new(&self.main, seq)?;
        body_stream.xor(body)?;
        let out: &mut [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| Error::Truncated)?;
        *out = poly1305(poly, msg).into();
        Ok(())
    }

    /// `msg` = encrypted length || encrypted body; `tag` = the received tag. The tag is
    /// checked before anything is decrypted; then both the length and the body are.
    pub(super) fn open(&self, seq: u32, msg: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        let (poly, body_stream) = BodyStream::new(&self.main, seq)?;
        if !tags_match(&poly1305(poly, msg), tag) {
            return Err(Error::Mac);
        }
        let (len, body) = msg
            .split_first_chunk_mut::<LEN_FIELD>()
            .ok_or(Error::Truncated)?;
        body_stream.xor(body)?;
        xor_header_keystream(&self.header, seq, len)
    }

    /// As [`open`](Self::open), but `msg` stays as received and the body is decrypted
    /// into `out` (replacing what it held): `out` = the body after its first byte
    /// (payload || padding), and that byte, padding_length, is returned. One pass over
    /// the data instead of decrypting in place and then copying the payload out. The
    /// length is not decrypted again: the caller has it from
    /// [`packet_length`](Self::packet_length), and the tag has just vouched for the
    /// bytes it came from.
    pub(super) fn open_to(
        &self,
        seq: u32,
        msg: &[u8],
        tag: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, Error> {
        let (poly, body_stream) = BodyStream::new(&self.main, seq)?;
        if !tags_match(&poly1305(poly, msg), tag) {
            return Err(Error::Mac);
        }
        let body = msg.get(LEN_FIELD..).ok_or(Error::Truncated)?;
        // Within the buffer's length, resizing only truncates: a recycled buffer is not
        // zero-filled again before it is overwritten.
        let n = body.len().saturating_sub(1);
        // Exactly: a buffer grown past what the transport keeps would be freed after use.
        out.reserve_exact(n.saturating_sub(out.len()));
        out.resize(n, 0);
        body_stream.xor_to(body, out)
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

/// One ChaCha20 block.
const BLOCK: usize = 64;
/// The blocks the `chacha20` crate computes at once on its fast paths.
const WIDE: usize = 16 * BLOCK;

// Why the keystream is taken in whole wide runs, with small pieces from a scratch buffer
// of at least two blocks: the crate computes a lone block (a packet's length field, its
// Poly1305 key, the last partial block of its body) on a slow path that is not inlined,
// three times per packet; two or more blocks at once take its vector paths. Seal + open
// of 32 KiB packets went from 917 to 974 MiB/s (`cargo bench -p oxssh-proto --bench
// cipher`). Each packet has its own instance, so keystream computed past the end of a
// packet is never used.

/// XORs `data` with its keystream from `cipher`'s position on (block-aligned).
fn xor_keystream(cipher: &mut ChaCha20, data: &mut [u8]) -> Result<(), Error> {
    let (wide, rest) = data.split_at_mut(data.len() - data.len() % WIDE);
    apply(cipher, wide)?;
    if rest.is_empty() {
        return Ok(());
    }
    let mut scratch = Zeroizing::new([0u8; WIDE]);
    xor(rest, tail_keystream(cipher, &mut scratch, rest.len())?);
    Ok(())
}

/// The keystream for a tail of `len` (< [`WIDE`]) bytes, computed as a run of at least
/// two blocks in `scratch` (see above).
fn tail_keystream<'a>(
    cipher: &mut ChaCha20,
    scratch: &'a mut [u8; WIDE],
    len: usize,
) -> Result<&'a [u8], Error> {
    let blocks = len.div_ceil(BLOCK).max(2);
    let ks = scratch.get_mut(..blocks * BLOCK).ok_or(Error::Truncated)?;
    apply(cipher, ks)?;
    Ok(ks)
}

/// `output = input ^ keystream` from `cipher`'s position on (block-aligned), over the
/// length of `input` (`output` as long).
fn xor_keystream_to(cipher: &mut ChaCha20, input: &[u8], output: &mut [u8]) -> Result<(), Error> {
    let whole = input.len() - input.len() % WIDE;
    let (wide_in, rest_in) = input.split_at(whole);
    let (wide_out, rest_out) = output.split_at_mut_checked(whole).ok_or(Error::Truncated)?;
    cipher
        .try_apply_keystream_b2b(wide_in, wide_out)
        .map_err(|_| Error::Malformed("chacha20 keystream exhausted"))?;
    if rest_in.is_empty() {
        return Ok(());
    }
    let mut scratch = Zeroizing::new([0u8; WIDE]);
    let ks = tail_keystream(cipher, &mut scratch, rest_in.len())?;
    for ((o, i), k) in rest_out.iter_mut().zip(rest_in).zip(ks) {
        *o = i ^ k;
    }
    Ok(())
}

/// Encrypts or decrypts the 4-byte length field with K_1's block 0.
fn xor_header_keystream(key: &[u8; 32], seq: u32, len: &mut [u8; LEN_FIELD]) -> Result<(), Error> {
    let mut ks = Zeroizing::new([0u8; 2 * BLOCK]);
    apply(&mut instance(key, seq), &mut *ks)?;
    xor(len, &*ks);
    Ok(())
}

/// K_2's stream for one packet, past block 0 (which keys Poly1305): block 1's keystream
/// already computed, the instance at block 2.
struct BodyStream {
    main: ChaCha20,
    block1: Zeroizing<[u8; BLOCK]>,
}

impl BodyStream {
    /// Poly1305 keyed with the first 32 bytes of K_2's block 0, and the stream after it.
    fn new(key: &[u8; 32], seq: u32) -> Result<(Poly1305, BodyStream), Error> {
        let mut main = instance(key, seq);
        let mut head = Zeroizing::new([[0u8; BLOCK]; 2]);
        apply(&mut main, head.as_flattened_mut())?;
        let [block0, block1] = &*head;
        let (poly_key, _) = block0.split_first_chunk::<32>().ok_or(Error::Truncated)?;
        let poly = Poly1305::new(poly_key.into());
        let block1 = Zeroizing::new(*block1);
        Ok((poly, BodyStream { main, block1 }))
    }

    /// Encrypts or decrypts the packet body (everything after the length field).
    fn xor(mut self, body: &mut [u8]) -> Result<(), Error> {
        let (first, rest) = body.split_at_mut(body.len().min(BLOCK));
        xor(first, &*self.block1);
        xor_keystream(&mut self.main, rest)
    }

    /// Decrypts the packet `body` into `out` (`body.len() - 1` bytes), all but its first
    /// byte, which is returned.
    fn xor_to(mut self, body: &[u8], out: &mut [u8]) -> Result<u8, Error> {
        let (first, rest) = body.split_at(body.len().min(BLOCK));
        let mut clear = Zeroizing::new([0u8; BLOCK]);
        let clear = clear.get_mut(..first.len()).ok_or(Error::Truncated)?;
        for ((c, b), k) in clear.iter_mut().zip(first).zip(&*self.block1) {
            *c = b ^ k;
        }
        let (&lead, clear) = clear.split_first().ok_or(Error::Truncated)?;
        let (out_first, out_rest) = out
            .split_at_mut_checked(clear.len())
            .ok_or(Error::Truncated)?;
        out_first.copy_from_slice(clear);
        xor_keystream_to(&mut self.main, rest, out_rest)?;
        Ok(lead)
    }
}

/// `data ^= keystream`, over the length of `data`.
fn xor(data: &mut [u8], keystream: &[u8]) {
    for (d, k) in data.iter_mut().zip(keystream) {
        *d ^= k;
    }
}

/// Poly1305 over `data` with no padding (the message is not a multiple of 16 bytes in
/// general). Whole blocks go through `update`, which uses the wide (AVX2) code path.
fn poly1305(mut poly: Poly1305, data: &[u8]) -> poly1305::Tag {
    let (blocks, rest) = poly1305::Block::slice_as_chunks(data);
    poly.update(blocks);
    poly.compute_unpadded(rest)
}
