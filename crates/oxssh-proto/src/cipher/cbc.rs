//! One direction of cipher block chaining for the legacy ciphers OpenSSH 9.2 still
//! implements (but offers only when configured): `3des-cbc` (RFC 4253 §6.3: three-key
//! triple DES, encrypt-decrypt-encrypt) and `aes128-cbc`, `aes192-cbc`, `aes256-cbc`.
//!
//! RFC 4253 §6.3: the IV from key exchange starts the chain, and the chain runs on
//! across packets ("the initialization vector for each packet is the last ciphertext
//! block of the previous packet"). A [`Cbc`] is therefore one stateful encryptor or
//! decryptor per direction, kept for the life of the keys; it works in place on whole
//! blocks and never allocates.
//!
//! Not here: DES, AES and the CBC mode itself (RustCrypto `des`, `aes`, `cbc`), and
//! everything about packets — the MAC, the length in the first block, OpenSSH's
//! discard-on-error countermeasure (all in `ctr_hmac.rs`).

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use des::TdesEde3;

use super::{Cipher, Direction};
use crate::Error;

enum Encryptor {
    Tdes(cbc::Encryptor<TdesEde3>),
    Aes128(cbc::Encryptor<Aes128>),
    Aes192(cbc::Encryptor<Aes192>),
    Aes256(cbc::Encryptor<Aes256>),
}

enum Decryptor {
    Tdes(cbc::Decryptor<TdesEde3>),
    Aes128(cbc::Decryptor<Aes128>),
    Aes192(cbc::Decryptor<Aes192>),
    Aes256(cbc::Decryptor<Aes256>),
}

/// The CBC state of one direction: an encryptor for sealing, a decryptor for opening.
pub(super) struct Cbc(Chain);

enum Chain {
    Encrypt(Encryptor),
    Decrypt(Decryptor),
}

impl Cbc {
    pub(super) fn new(
        cipher: Cipher,
        direction: Direction,
        key: &[u8],
        iv: &[u8],
    ) -> Result<Self, Error> {
        let bad = |_| Error::Key(format!("{}: bad key or IV length", cipher.name()));
        Ok(Cbc(match direction {
            Direction::Seal => Chain::Encrypt(match cipher {
                Cipher::TripleDesCbc => {
                    Encryptor::Tdes(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes128Cbc => {
                    Encryptor::Aes128(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes192Cbc => {
                    Encryptor::Aes192(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes256Cbc => {
                    Encryptor::Aes256(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                _ => return Err(Error::Unsupported(cipher.name().into())),
            }),
            Direction::Open => Chain::Decrypt(match cipher {
                Cipher::TripleDesCbc => {
                    Decryptor::Tdes(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes128Cbc => {
                    Decryptor::Aes128(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes192Cbc => {
                    Decryptor::Aes192(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                Cipher::Aes256Cbc => {
                    Decryptor::Aes256(KeyIvInit::new_from_slices(key, iv).map_err(bad)?)
                }
                _ => return Err(Error::Unsupported(cipher.name().into())),
            }),
        }))
    }

    /// Encrypts `buf` in place, continuing the chain. `buf` must be whole blocks.
    pub(super) fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        fn run<M: BlockModeEncrypt>(m: &mut M, buf: &mut [u8]) -> Result<(), Error> {
            let (blocks, tail) = Array::slice_as_chunks_mut(buf);
            if !tail.is_empty() {
                return Err(Error::Malformed("cbc: not a whole number of blocks"));
            }
            m.encrypt_blocks(blocks);
            Ok(())
        }
        match &mut self.0 {
            Chain::Encrypt(Encryptor::Tdes(m)) => run(m, buf),
            Chain::Encrypt(Encryptor::Aes128(m)) => run(m, buf),
            Chain::Encrypt(Encryptor::Aes192(m)) => run(m, buf),
            Chain::Encrypt(Encryptor::Aes256(m)) => run(m, buf),
            Chain::Decrypt(_) => Err(Error::Malformed("cbc: encrypting with an opening key")),
        }
    }

    /// Decrypts `buf` in place, continuing the chain. `buf` must be whole blocks.
    pub(super) fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        fn run<M: BlockModeDecrypt>(m: &mut M, buf: &mut [u8]) -> Result<(), Error> {
            let (blocks, tail) = Array::slice_as_chunks_mut(buf);
            if !tail.is_empty() {
                return Err(Error::Malformed("cbc: not a whole number of blocks"));
            }
            m.decrypt_blocks(blocks);
            Ok(())
        }
        match &mut self.0 {
            Chain::Decrypt(Decryptor::Tdes(m)) => run(m, buf),
            Chain::Decrypt(Decryptor::Aes128(m)) => run(m, buf),
            Chain::Decrypt(Decryptor::Aes192(m)) => run(m, buf),
            Chain::Decrypt(Decryptor::Aes256(m)) => run(m, buf),
            Chain::Encrypt(_) => Err(Error::Malformed("cbc: decrypting with a sealing key")),
        }
    }
}
