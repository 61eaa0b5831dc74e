//! Packet protection for the SSH binary packet protocol: encrypting and authenticating
//! each packet in place in the caller's buffer, in both directions.
//!
//! Implements RFC 4253 §6 (binary packet protocol; §6.3 encryption, §6.4 data
//! integrity), RFC 4344 §4 (`aes*-ctr`), RFC 6668 (`hmac-sha2-*`), OpenSSH `PROTOCOL`
//! §1.5 (`*-etm@openssh.com` MACs), §1.6 with RFC 5647 §7 (`aes*-gcm@openssh.com`),
//! `PROTOCOL.chacha20poly1305` (`chacha20-poly1305@openssh.com`), and the legacy CBC
//! ciphers OpenSSH 9.2 still implements but offers only when configured (RFC 4253
//! §6.3: `3des-cbc`, `aes128-cbc`, `aes192-cbc`, `aes256-cbc`).
//!
//! It does not frame packets (reading the socket, bounding `packet_length`, choosing
//! padding, parsing the payload), compress, count sequence numbers or decide when to
//! rekey: the transport does. It implements no primitive either: ChaCha20, Poly1305,
//! AES, triple DES, CTR, CBC, HMAC and SHA come from the RustCrypto crates, AES-GCM
//! from aws-lc-rs (chosen by the benchmark in docs/performance.md).
//!
//! Every per-packet call works inside the caller's buffer and never allocates; key
//! schedules are computed once, in [`SealingKey::new`] / [`OpeningKey::new`]. The buffer
//! always holds one whole packet:
//!
//! ```text
//! uint32    packet_length      clear (none, -etm, gcm), encrypted (ctr, cbc), or K_1-encrypted (chacha)
//! byte      padding_length  ┐
//! byte[n1]  payload         ├ packet_length bytes, encrypted
//! byte[n2]  random padding  ┘
//! byte[m]   mac / tag          tag_len() bytes
//! ```

mod cbc;
mod chacha;
mod ctr_hmac;
mod gcm;
#[cfg(test)]
mod tests;

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Size of the `uint32 packet_length` field that starts every packet.
const LEN_FIELD: usize = 4;

/// Tag length of both AEAD constructions (Poly1305 and GCM).
const AEAD_TAG_LEN: usize = 16;

/// An encryption algorithm, as negotiated in `SSH_MSG_KEXINIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// No encryption: the state before the first `SSH_MSG_NEWKEYS` (RFC 4253 §6.3).
    None,
    /// `chacha20-poly1305@openssh.com` (`PROTOCOL.chacha20poly1305`).
    Chacha20Poly1305,
    /// `aes128-gcm@openssh.com` (RFC 5647 as amended by OpenSSH `PROTOCOL` §1.6).
    Aes128Gcm,
    /// `aes256-gcm@openssh.com`.
    Aes256Gcm,
    /// `aes128-ctr` (RFC 4344 §4).
    Aes128Ctr,
    /// `aes192-ctr`.
    Aes192Ctr,
    /// `aes256-ctr`.
    Aes256Ctr,
    /// `3des-cbc` (RFC 4253 §6.3): three-key triple DES (encrypt-decrypt-encrypt) in CBC
    /// mode. Legacy, like the other CBC ciphers: implemented, never offered unless
    /// configured (`Ciphers +3des-cbc`, `-c 3des-cbc`), as in OpenSSH.
    TripleDesCbc,
    /// `aes128-cbc` (RFC 4253 §6.3).
    Aes128Cbc,
    /// `aes192-cbc`.
    Aes192Cbc,
    /// `aes256-cbc` (RFC 4253 §6.3).
    Aes256Cbc,
}

impl Cipher {
    /// The ciphers offered when none are configured, in OpenSSH's default order: every
    /// one we implement but the legacy CBC ones (see [`Cipher::IMPLEMENTED`]).
    pub const ALL: &'static [Cipher] = &[
        Cipher::Chacha20Poly1305,
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
        Cipher::Aes128Ctr,
        Cipher::Aes192Ctr,
        Cipher::Aes256Ctr,
    ];

    /// Every cipher we can negotiate (all but `None`), in the order of OpenSSH's cipher
    /// table: the order `ssh -Q cipher` lists them in and a pattern such as
    /// `Ciphers aes*` expands in. The CBC ones come first there but are in no default.
    pub const IMPLEMENTED: &'static [Cipher] = &[
        Cipher::TripleDesCbc,
        Cipher::Aes128Cbc,
        Cipher::Aes192Cbc,
        Cipher::Aes256Cbc,
        Cipher::Aes128Ctr,
        Cipher::Aes192Ctr,
        Cipher::Aes256Ctr,
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
        Cipher::Chacha20Poly1305,
    ];

    /// The name used in `SSH_MSG_KEXINIT` and in `Ciphers`.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::None => "none",
            Cipher::Chacha20Poly1305 => "chacha20-poly1305@openssh.com",
            Cipher::Aes128Gcm => "aes128-gcm@openssh.com",
            Cipher::Aes256Gcm => "aes256-gcm@openssh.com",
            Cipher::Aes128Ctr => "aes128-ctr",
            Cipher::Aes192Ctr => "aes192-ctr",
            Cipher::Aes256Ctr => "aes256-ctr",
            Cipher::TripleDesCbc => "3des-cbc",
            Cipher::Aes128Cbc => "aes128-cbc",
            Cipher::Aes192Cbc => "aes192-cbc",
            Cipher::Aes256Cbc => "aes256-cbc",
        }
    }

    /// The cipher with this exact name (including `none`), if we implement it.
    pub fn from_name(name: &str) -> Option<Self> {
        [Cipher::None]
            .iter()
            .chain(Cipher::IMPLEMENTED)
            .copied()
            .find(|c| c.name() == name)
    }

    /// Bytes of encryption key key exchange must derive (RFC 4253 §7.2, key C/D).
    /// chacha20-poly1305 takes 64: K_2 (main) then K_1 (length).
    pub fn key_len(self) -> usize {
        match self {
            Cipher::None => 0,
            Cipher::Chacha20Poly1305 => 64,
            Cipher::Aes128Gcm | Cipher::Aes128Ctr | Cipher::Aes128Cbc => 16,
            Cipher::Aes192Ctr | Cipher::Aes192Cbc | Cipher::TripleDesCbc => 24,
            Cipher::Aes256Gcm | Cipher::Aes256Ctr | Cipher::Aes256Cbc => 32,
        }
    }

    /// Bytes of IV key exchange must derive (key A/B). GCM uses 12 (RFC 5647 §7.1),
    /// CTR a whole 16-byte counter block, CBC one cipher block, chacha20-poly1305 none
    /// (its nonce is the sequence number).
    pub fn iv_len(self) -> usize {
        match self {
            Cipher::None | Cipher::Chacha20Poly1305 => 0,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
            Cipher::TripleDesCbc => 8,
            Cipher::Aes128Ctr
            | Cipher::Aes192Ctr
            | Cipher::Aes256Ctr
            | Cipher::Aes128Cbc
            | Cipher::Aes192Cbc
            | Cipher::Aes256Cbc => 16,
        }
    }

    /// The padding alignment: 8 for `none`, chacha20-poly1305 and 3des-cbc (the DES
    /// block), the AES block size otherwise (RFC 4253 §6: "the cipher block size or 8,
    /// whichever is larger").
    pub fn block_size(self) -> usize {
        match self {
            Cipher::None | Cipher::Chacha20Poly1305 | Cipher::TripleDesCbc => 8,
            _ => 16,
        }
    }

    /// True for the CBC ciphers, which OpenSSH implements but offers only when
    /// configured (and which get its discard-on-error countermeasure).
    pub fn is_cbc(self) -> bool {
        matches!(
            self,
            Cipher::TripleDesCbc | Cipher::Aes128Cbc | Cipher::Aes192Cbc | Cipher::Aes256Cbc
        )
    }

    /// OpenSSH's `cipher_seclen`: the bytes of strength the cipher offers, by which a
    /// DH group exchange client sizes its request (see [`dh_need`]). The key length,
    /// except for 3des-cbc: its 24-byte key gives 112 bits (14 bytes), the strength
    /// meet-in-the-middle leaves three-key triple DES.
    pub fn security_len(self) -> usize {
        match self {
            Cipher::TripleDesCbc => 14,
            c => c.key_len(),
        }
    }

    /// True for the AEAD ciphers: no separate MAC is negotiated or used with them.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Cipher::Chacha20Poly1305 | Cipher::Aes128Gcm | Cipher::Aes256Gcm
        )
    }

    /// Length of the AEAD tag (16), or 0 for the non-AEAD ciphers.
    pub fn tag_len(self) -> usize {
        if self.is_aead() { AEAD_TAG_LEN } else { 0 }
    }
}

/// A MAC algorithm, used only with the non-AEAD ciphers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac {
    /// `hmac-sha2-256` (RFC 6668).
    HmacSha256,
    /// `hmac-sha2-512` (RFC 6668).
    HmacSha512,
    /// `hmac-sha1` (RFC 4253 §6.4).
    HmacSha1,
    /// `hmac-sha2-256-etm@openssh.com` (OpenSSH `PROTOCOL` §1.5).
    HmacSha256Etm,
    /// `hmac-sha2-512-etm@openssh.com`.
    HmacSha512Etm,
    /// `hmac-sha1-etm@openssh.com`.
    HmacSha1Etm,
}

impl Mac {
    /// Every MAC we implement, in OpenSSH's default order (umac omitted).
    pub const ALL: &'static [Mac] = &[
        Mac::HmacSha256Etm,
        Mac::HmacSha512Etm,
        Mac::HmacSha1Etm,
        Mac::HmacSha256,
        Mac::HmacSha512,
        Mac::HmacSha1,
    ];

    /// Every MAC, in the order of OpenSSH's table (`mac.c`): the order `ssh -Q mac`
    /// lists them in and a pattern such as `MACs +hmac*` expands in.
    pub const IMPLEMENTED: &'static [Mac] = &[
        Mac::HmacSha1,
        Mac::HmacSha256,
        Mac::HmacSha512,
        Mac::HmacSha1Etm,
        Mac::HmacSha256Etm,
        Mac::HmacSha512Etm,
    ];

    /// The name used in `SSH_MSG_KEXINIT` and in `MACs`.
    pub fn name(self) -> &'static str {
        match self {
            Mac::HmacSha256 => "hmac-sha2-256",
            Mac::HmacSha512 => "hmac-sha2-512",
            Mac::HmacSha1 => "hmac-sha1",
            Mac::HmacSha256Etm => "hmac-sha2-256-etm@openssh.com",
            Mac::HmacSha512Etm => "hmac-sha2-512-etm@openssh.com",
            Mac::HmacSha1Etm => "hmac-sha1-etm@openssh.com",
        }
    }

    /// The MAC with this exact name, if we implement it.
    pub fn from_name(name: &str) -> Option<Self> {
        Mac::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Bytes of integrity key key exchange must derive (key E/F): the digest length,
    /// as RFC 4253 §6.4 and RFC 6668 specify.
    pub fn key_len(self) -> usize {
        self.tag_len()
    }

    /// Bytes of MAC appended to each packet (never truncated for these algorithms).
    pub fn tag_len(self) -> usize {
        match self {
            Mac::HmacSha1 | Mac::HmacSha1Etm => 20,
            Mac::HmacSha256 | Mac::HmacSha256Etm => 32,
            Mac::HmacSha512 | Mac::HmacSha512Etm => 64,
        }
    }

    /// Encrypt-then-MAC: the length is sent in clear and the MAC covers the ciphertext.
    pub fn is_etm(self) -> bool {
        matches!(
            self,
            Mac::HmacSha256Etm | Mac::HmacSha512Etm | Mac::HmacSha1Etm
        )
    }
}

/// OpenSSH's `dh_need` for one direction (`kex_choose_conf` in `kex.c`), in bytes: the
/// most of the cipher's [`security_len`](Cipher::security_len), block size and IV
/// length and the MAC's key length (`mac` is `None` with an AEAD cipher). A DH group
/// exchange client asks for a group of `dh_estimate(8 × n)` bits (`kexgexc.c`), `n`
/// the larger of the two directions': e.g. 3072 for aes128-ctr with umac-64, but 8192
/// with hmac-sha2-256, whose key is 32 bytes.
pub fn dh_need(cipher: Cipher, mac: Option<Mac>) -> usize {
    cipher
        .security_len()
        .max(cipher.block_size())
        .max(cipher.iv_len())
        .max(mac.map_or(0, Mac::key_len))
}

/// Keys for one direction, as derived by key exchange (RFC 4253 §7.2). Zeroized on drop.
///
/// `mac` and `mac_key` are ignored for the AEAD ciphers; a CTR or CBC cipher requires a
/// MAC.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DirectionKeys {
    #[zeroize(skip)]
    pub cipher: Cipher,
    #[zeroize(skip)]
    pub mac: Option<Mac>,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub mac_key: Vec<u8>,
}

impl fmt::Debug for DirectionKeys {
    // Secrets are never printed, not even at -vvv.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectionKeys")
            .field("cipher", &self.cipher)
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

/// The negotiated algorithms of one direction; everything about the packet layout
/// follows from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Suite {
    cipher: Cipher,
    /// `None` for `none` and for the AEAD ciphers.
    mac: Option<Mac>,
}

impl Suite {
    const NONE: Suite = Suite {
        cipher: Cipher::None,
        mac: None,
    };

    fn block_size(self) -> usize {
        self.cipher.block_size()
    }

    /// Whether the 4-byte length counts toward the block alignment: not for AEAD and
    /// -etm, where it is not encrypted with the rest (RFC 5647 §7.2, PROTOCOL §1.5).
    fn length_in_alignment(self) -> bool {
        !self.cipher.is_aead() && !self.mac.is_some_and(Mac::is_etm)
    }

    fn tag_len(self) -> usize {
        self.cipher.tag_len() + self.mac.map_or(0, Mac::tag_len)
    }

    fn head_len(self) -> usize {
        if self.length_in_alignment() {
            self.block_size()
        } else {
            LEN_FIELD
        }
    }

    /// RFC 4253 §6: the encrypted part must be a whole number of blocks. OpenSSH
    /// (`ssh_packet_read_poll2`) checks this on every packet it receives.
    fn is_aligned(self, packet_length: u32) -> bool {
        let covered = u64::from(packet_length)
            + if self.length_in_alignment() {
                LEN_FIELD as u64
            } else {
                0
            };
        covered % self.block_size() as u64 == 0
    }
}

/// Which way an [`Engine`] works: CBC needs an encryptor or a decryptor; the other
/// modes are the same both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Seal,
    Open,
}

/// The per-direction cipher state behind [`SealingKey`] and [`OpeningKey`].
enum Engine {
    Plain,
    ChaCha(chacha::ChaChaPoly),
    // Boxed: key schedules and hash states make these several hundred bytes.
    Gcm128(Box<gcm::AesGcmKey>),
    Gcm256(Box<gcm::AesGcmKey>),
    /// CTR or CBC with an HMAC.
    Hmac(Box<ctr_hmac::CipherHmac>),
}

impl Engine {
    fn new(keys: &DirectionKeys, direction: Direction) -> Result<(Suite, Engine), Error> {
        let cipher = keys.cipher;
        if keys.key.len() != cipher.key_len() {
            return Err(Error::Key(format!(
                "{}: {}-byte key, expected {}",
                cipher.name(),
                keys.key.len(),
                cipher.key_len()
            )));
        }
        if keys.iv.len() != cipher.iv_len() {
            return Err(Error::Key(format!(
                "{}: {}-byte IV, expected {}",
                cipher.name(),
                keys.iv.len(),
                cipher.iv_len()
            )));
        }
        match cipher {
            Cipher::None => match keys.mac {
                None => Ok((Suite::NONE, Engine::Plain)),
                Some(mac) => Err(Error::Unsupported(format!(
                    "none cipher with {}",
                    mac.name()
                ))),
            },
            // PROTOCOL.chacha20poly1305 "Negotiation": with an AEAD cipher the
            // negotiated MAC, if any, is ignored.
            Cipher::Chacha20Poly1305 => Ok((
                Suite { cipher, mac: None },
                Engine::ChaCha(chacha::ChaChaPoly::new(&keys.key)?),
            )),
            Cipher::Aes128Gcm => Ok((
                Suite { cipher, mac: None },
                Engine::Gcm128(Box::new(gcm::AesGcmKey::new(&keys.key, &keys.iv)?)),
            )),
            Cipher::Aes256Gcm => Ok((
                Suite { cipher, mac: None },
                Engine::Gcm256(Box::new(gcm::AesGcmKey::new(&keys.key, &keys.iv)?)),
            )),
            Cipher::Aes128Ctr
            | Cipher::Aes192Ctr
            | Cipher::Aes256Ctr
            | Cipher::TripleDesCbc
            | Cipher::Aes128Cbc
            | Cipher::Aes192Cbc
            | Cipher::Aes256Cbc => {
                let mac = keys
                    .mac
                    .ok_or_else(|| Error::Key(format!("{} needs a MAC", cipher.name())))?;
                if keys.mac_key.len() != mac.key_len() {
                    return Err(Error::Key(format!(
                        "{}: {}-byte key, expected {}",
                        mac.name(),
                        keys.mac_key.len(),
                        mac.key_len()
                    )));
                }
                let engine = ctr_hmac::CipherHmac::new(
                    cipher,
                    direction,
                    mac,
                    &keys.key,
                    &keys.iv,
                    &keys.mac_key,
                )?;
                Ok((
                    Suite {
                        cipher,
                        mac: Some(mac),
                    },
                    Engine::Hmac(Box::new(engine)),
                ))
            }
        }
    }
}

/// Splits a whole packet into `packet_length || body` and the tag, checking only that
/// the sizes add up. The body length is taken from the buffer, not from the length
/// field, which may still be encrypted.
fn split_packet(packet: &mut [u8], tag_len: usize) -> Result<(&mut [u8], &mut [u8], u32), Error> {
    let msg_len = packet
        .len()
        .checked_sub(tag_len)
        .filter(|&n| n >= LEN_FIELD)
        .ok_or(Error::Truncated)?;
    let body_len =
        u32::try_from(msg_len - LEN_FIELD).map_err(|_| Error::BadPacketLength(u32::MAX))?;
    let (msg, tag) = packet
        .split_at_mut_checked(msg_len)
        .ok_or(Error::Truncated)?;
    Ok((msg, tag, body_len))
}

/// The `uint32` at the start of `buf`.
fn read_length(buf: &[u8]) -> Result<u32, Error> {
    buf.first_chunk::<LEN_FIELD>()
        .map(|b| u32::from_be_bytes(*b))
        .ok_or(Error::Truncated)
}

/// Constant-time tag comparison (false on a length mismatch).
fn tags_match(computed: &[u8], received: &[u8]) -> bool {
    computed.ct_eq(received).into()
}

/// Protects outgoing packets.
pub struct SealingKey {
    suite: Suite,
    engine: Engine,
}

impl SealingKey {
    /// The state before the first `SSH_MSG_NEWKEYS`: no encryption, no MAC, block size 8.
    pub fn none() -> Self {
        SealingKey {
            suite: Suite::NONE,
            engine: Engine::Plain,
        }
    }

    /// Sets up the negotiated cipher (and MAC) with keys from key exchange.
    pub fn new(keys: &DirectionKeys) -> Result<Self, Error> {
        let (suite, engine) = Engine::new(keys, Direction::Seal)?;
        Ok(SealingKey { suite, engine })
    }

    pub fn cipher(&self) -> Cipher {
        self.suite.cipher
    }

    /// The MAC in use; `None` for `none` and the AEAD ciphers.
    pub fn mac(&self) -> Option<Mac> {
        self.suite.mac
    }

    /// Padding alignment: 8 for `none`, chacha20-poly1305 and 3des-cbc, 16 for AES.
    pub fn block_size(&self) -> usize {
        self.suite.block_size()
    }

    /// False for AEAD and -etm: the 4-byte length is then excluded from the block
    /// alignment, i.e. `packet_length` itself must be a multiple of `block_size()`;
    /// otherwise `4 + packet_length` must be.
    pub fn length_in_alignment(&self) -> bool {
        self.suite.length_in_alignment()
    }

    /// Bytes of MAC or AEAD tag after each packet.
    pub fn tag_len(&self) -> usize {
        self.suite.tag_len()
    }

    /// `packet` is the whole packet: `uint32 packet_length || byte padding_length ||
    /// payload || padding || tag_len() bytes of room`. Encrypts in place and writes the
    /// tag/MAC into the last `tag_len()` bytes.
    ///
    /// Fails with [`Error::BadPacketLength`] when the length field does not match the
    /// buffer or the packet is not block-aligned: both are bugs in the caller, and a
    /// peer would reject such a packet anyway.
    pub fn seal(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), Error> {
        let (msg, tag, len) = split_packet(packet, self.suite.tag_len())?;
        let field = read_length(msg)?;
        if field != len || !self.suite.is_aligned(len) {
            return Err(Error::BadPacketLength(field));
        }
        match &mut self.engine {
            Engine::Plain => Ok(()),
            Engine::ChaCha(c) => c.seal(seq, msg, tag),
            Engine::Gcm128(g) => g.seal(msg, tag),
            Engine::Gcm256(g) => g.seal(msg, tag),
            Engine::Hmac(c) => c.seal(seq, msg, tag),
        }
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("cipher", &self.suite.cipher)
            .field("mac", &self.suite.mac)
            .finish_non_exhaustive()
    }
}

/// Verifies and decrypts incoming packets.
pub struct OpeningKey {
    suite: Suite,
    engine: Engine,
}

impl OpeningKey {
    /// The state before the first `SSH_MSG_NEWKEYS`.
    pub fn none() -> Self {
        OpeningKey {
            suite: Suite::NONE,
            engine: Engine::Plain,
        }
    }

    /// Sets up the negotiated cipher (and MAC) with keys from key exchange.
    pub fn new(keys: &DirectionKeys) -> Result<Self, Error> {
        let (suite, engine) = Engine::new(keys, Direction::Open)?;
        Ok(OpeningKey { suite, engine })
    }

    pub fn cipher(&self) -> Cipher {
        self.suite.cipher
    }

    /// The MAC in use; `None` for `none` and the AEAD ciphers.
    pub fn mac(&self) -> Option<Mac> {
        self.suite.mac
    }

    /// Alignment the peer's packets must have (see [`SealingKey::block_size`]).
    pub fn block_size(&self) -> usize {
        self.suite.block_size()
    }

    /// See [`SealingKey::length_in_alignment`].
    pub fn length_in_alignment(&self) -> bool {
        self.suite.length_in_alignment()
    }

    /// How many bytes from the start of a packet are needed to learn its length:
    /// 4 for AEAD and -etm, the block size for CTR and CBC without -etm, 8 for `none`.
    pub fn head_len(&self) -> usize {
        self.suite.head_len()
    }

    /// Bytes of MAC or AEAD tag after each packet.
    pub fn tag_len(&self) -> usize {
        self.suite.tag_len()
    }

    /// Learns `packet_length` from the first `head_len()` bytes of a packet (`head` may
    /// be longer; only those bytes are looked at). Checks nothing about the value: the
    /// caller bounds it (RFC 4253 §6.1) before reading the rest.
    ///
    /// Only CTR and CBC without -etm change `head`: the first block is decrypted in
    /// place, and the caller passes it unchanged to [`open`](Self::open). Those are also
    /// the only modes where this call moves state (the CTR keystream, the CBC chain), so
    /// it must be called exactly once per packet, before `open`. chacha20-poly1305
    /// decrypts a copy of the length with K_1 and leaves the buffer as received, because
    /// its tag covers the encrypted length.
    ///
    /// CBC without -etm is the exception to "checks nothing": a decrypted length that is
    /// out of bounds (not in `5..=PACKET_MAX_SIZE`) or not block-aligned is logged as
    /// OpenSSH logs it, and the value returned instead is
    /// [`discard_length`](Self::discard_length)'s, which the caller reads out like any
    /// other before `open` fails with [`Error::Mac`].
    pub fn packet_length(&mut self, seq: u32, head: &mut [u8]) -> Result<u32, Error> {
        let head = head
            .get_mut(..self.suite.head_len())
            .ok_or(Error::Truncated)?;
        match &mut self.engine {
            Engine::Plain | Engine::Gcm128(_) | Engine::Gcm256(_) => read_length(head),
            Engine::ChaCha(c) => c.packet_length(seq, head),
            Engine::Hmac(c) => c.packet_length(head),
        }
    }

    /// After a bad packet: `Some(n)` when OpenSSH would not drop the connection yet but
    /// read on and throw input away until `4 + n + tag_len()` bytes (its
    /// `PACKET_MAX_SIZE`) from the start of the bad packet have arrived; the caller then
    /// reads the packet out to that `packet_length` and calls [`open`](Self::open) once
    /// more, which fails with [`Error::Mac`] ("Corrupted MAC on input.").
    ///
    /// Only CBC without -etm does this, after a bad length or padding (from
    /// [`packet_length`](Self::packet_length)) or a bad MAC (from `open`): it is
    /// OpenSSH's countermeasure against recovering plaintext from when the connection
    /// drops (CPNI-957037, `ssh_packet_start_discard`). `None` otherwise: an error is
    /// final at once.
    pub fn discard_length(&self) -> Option<u32> {
        match &self.engine {
            Engine::Hmac(c) => c.discard_length(),
            _ => None,
        }
    }

    /// `packet` = `uint32 length || (encrypted) rest || tag`, exactly `4 + packet_length
    /// + tag_len()` bytes, with the head already processed by
    /// [`packet_length`](Self::packet_length).
    ///
    /// Verifies the MAC/tag in constant time, then decrypts in place (CTR and CBC
    /// without -etm can only decrypt first: their MAC is over the plaintext). Afterwards
    /// `packet[..4]` is the length and `packet[4..4 + packet_length]` is
    /// `padding_length || payload || padding`, in clear.
    ///
    /// A bad tag returns [`Error::Mac`] ("Corrupted MAC on input."), and so does a
    /// packet that is not block-aligned, as in OpenSSH, which answers both with
    /// "Packet corrupt". After an error the direction is unusable: the connection
    /// must be dropped, at once or (see [`discard_length`](Self::discard_length))
    /// after reading on.
    pub fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), Error> {
        let (msg, tag, len) = split_packet(packet, self.suite.tag_len())?;
        if let Engine::Hmac(c) = &mut self.engine {
            if c.discard_length().is_some() {
                return c.open(seq, msg, tag);
            }
        }
        if !self.suite.is_aligned(len) {
            return Err(Error::Mac);
        }
        match &mut self.engine {
            Engine::Plain => {}
            Engine::ChaCha(c) => c.open(seq, msg, tag)?,
            Engine::Gcm128(g) => g.open(msg, tag)?,
            Engine::Gcm256(g) => g.open(msg, tag)?,
            Engine::Hmac(c) => c.open(seq, msg, tag)?,
        }
        // Authentic now, so a mismatch means the caller sized the buffer differently
        // from what packet_length() returned.
        let field = read_length(msg)?;
        if field != len {
            return Err(Error::BadPacketLength(field));
        }
        Ok(())
    }
}

impl OpeningKey {
    /// True when [`open_to`](Self::open_to) can be used: chacha20-poly1305, whose
    /// body can be decrypted into another buffer as cheaply as in place.
    pub fn opens_to_buffer(&self) -> bool {
        matches!(self.engine, Engine::ChaCha(_))
    }

    /// As [`open`](Self::open) (same `packet`, same checks, same errors), but `packet`
    /// is left as received and its body, after the padding_length byte, is decrypted
    /// into `out`, replacing its contents: `out` = payload || padding, and
    /// padding_length is returned. Only where [`opens_to_buffer`](Self::opens_to_buffer)
    /// says so; other ciphers return an error.
    pub fn open_to(&mut self, seq: u32, packet: &[u8], out: &mut Vec<u8>) -> Result<u8, Error> {
        let tag_at = packet
            .len()
            .checked_sub(self.suite.tag_len())
            .ok_or(Error::Truncated)?;
        let (msg, tag) = packet.split_at(tag_at);
        // Not a whole number of blocks: "Corrupted MAC on input.", as `open` says.
        let len = msg.len().saturating_sub(LEN_FIELD);
        if !u32::try_from(len).is_ok_and(|l| self.suite.is_aligned(l)) {
            return Err(Error::Mac);
        }
        match &self.engine {
            Engine::ChaCha(c) if msg.len() > LEN_FIELD => c.open_to(seq, msg, tag, out),
            Engine::ChaCha(_) => Err(Error::Truncated),
            _ => Err(Error::Malformed("cipher decrypts in place only")),
        }
    }
}

impl fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpeningKey")
            .field("cipher", &self.suite.cipher)
            .field("mac", &self.suite.mac)
            .finish_non_exhaustive()
    }
}
