//! Tests of packet protection: round trips for every cipher × MAC, tampering, and
//! cross-checks against independent compositions of the raw primitives (and, for
//! chacha20-poly1305@openssh.com, against the `ssh-cipher` crate's implementation of
//! the same construction) plus published vectors (SP 800-38A, RFC 4231, RFC 2202).
//! Interop with a real OpenSSH peer is not tested here but by the transport's tests.

use super::*;
use crate::Error;

/// splitmix64: reproducible test data, not for anything secret.
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every supported (cipher, MAC) pair, `none` first.
fn suites() -> Vec<(Cipher, Option<Mac>)> {
    let mut v = vec![(Cipher::None, None)];
    for &c in Cipher::ALL {
        if c.is_aead() {
            v.push((c, None));
        } else {
            v.extend(Mac::ALL.iter().map(|&m| (c, Some(m))));
        }
    }
    v
}

fn random_keys(cipher: Cipher, mac: Option<Mac>, rng: &mut TestRng) -> DirectionKeys {
    DirectionKeys {
        cipher,
        mac,
        key: rng.bytes(cipher.key_len()),
        iv: rng.bytes(cipher.iv_len()),
        mac_key: rng.bytes(mac.map_or(0, Mac::key_len)),
    }
}

fn pair(keys: &DirectionKeys) -> (SealingKey, OpeningKey) {
    if keys.cipher == Cipher::None {
        (SealingKey::none(), OpeningKey::none())
    } else {
        (
            SealingKey::new(keys).unwrap(),
            OpeningKey::new(keys).unwrap(),
        )
    }
}

/// Lays out a packet the way the transport does (RFC 4253 §6): at least 4 bytes of
/// random padding up to the alignment, and room for the tag.
fn build(sealer: &SealingKey, payload: &[u8], rng: &mut TestRng) -> Vec<u8> {
    let bs = sealer.block_size();
    let counted = 1 + payload.len() + if sealer.length_in_alignment() { 4 } else { 0 };
    let mut pad = bs - counted % bs;
    if pad < 4 {
        pad += bs;
    }
    let packet_length = 1 + payload.len() + pad;
    let mut p = Vec::new();
    p.extend_from_slice(&(packet_length as u32).to_be_bytes());
    p.push(pad as u8);
    p.extend_from_slice(payload);
    p.extend_from_slice(&rng.bytes(pad));
    p.resize(p.len() + sealer.tag_len(), 0);
    p
}

/// Receives a packet the way the transport does: the head first, then the rest.
fn receive(opener: &mut OpeningKey, seq: u32, wire: &mut [u8]) -> Result<Vec<u8>, Error> {
    let head_len = opener.head_len();
    let len = opener.packet_length(seq, &mut wire[..head_len])? as usize;
    assert_eq!(4 + len + opener.tag_len(), wire.len(), "packet_length");
    opener.open(seq, wire)?;
    let pad = wire[4] as usize;
    Ok(wire[5..4 + len - pad].to_vec())
}

#[test]
fn names_and_defaults_match_openssh() {
    let ciphers: Vec<_> = Cipher::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        ciphers.join(","),
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,\
         aes128-gcm@openssh.com,aes256-gcm@openssh.com"
    );
    let macs: Vec<_> = Mac::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        macs.join(","),
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,\
         hmac-sha2-256,hmac-sha2-512,hmac-sha1"
    );
    for &c in Cipher::ALL.iter().chain([Cipher::None].iter()) {
        assert_eq!(Cipher::from_name(c.name()), Some(c));
    }
    for &m in Mac::ALL {
        assert_eq!(Mac::from_name(m.name()), Some(m));
    }
    for unknown in [
        "",
        "aes128-cbc",
        "AES128-CTR",
        "umac-64@openssh.com",
        "hmac-md5",
    ] {
        assert_eq!(Cipher::from_name(unknown), None);
        assert_eq!(Mac::from_name(unknown), None);
    }
}

#[test]
fn sizes_match_openssh_cipher_table() {
    // (cipher, key, iv, block, tag) as in OpenSSH's cipher.c.
    let table = [
        (Cipher::None, 0, 0, 8, 0),
        (Cipher::Chacha20Poly1305, 64, 0, 8, 16),
        (Cipher::Aes128Gcm, 16, 12, 16, 16),
        (Cipher::Aes256Gcm, 32, 12, 16, 16),
        (Cipher::Aes128Ctr, 16, 16, 16, 0),
        (Cipher::Aes192Ctr, 24, 16, 16, 0),
        (Cipher::Aes256Ctr, 32, 16, 16, 0),
    ];
    for (c, key, iv, block, tag) in table {
        assert_eq!(
            (c.key_len(), c.iv_len(), c.block_size(), c.tag_len()),
            (key, iv, block, tag),
            "{}",
            c.name()
        );
        assert_eq!(c.is_aead(), tag != 0);
    }
    for m in Mac::ALL {
        assert_eq!(m.key_len(), m.tag_len());
        assert_eq!(m.is_etm(), m.name().ends_with("-etm@openssh.com"));
    }
    // head_len / length_in_alignment per mode.
    let mut rng = TestRng(1);
    for (c, m) in suites() {
        let (s, o) = pair(&random_keys(c, m, &mut rng));
        let etm_or_aead = c.is_aead() || m.is_some_and(Mac::is_etm);
        assert_eq!(s.length_in_alignment(), !etm_or_aead);
        assert_eq!(o.length_in_alignment(), !etm_or_aead);
        assert_eq!(o.head_len(), if etm_or_aead { 4 } else { c.block_size() });
        assert_eq!(s.tag_len(), c.tag_len() + m.map_or(0, Mac::tag_len));
        assert_eq!(s.tag_len(), o.tag_len());
        assert_eq!(s.block_size(), o.block_size());
    }
}

#[test]
fn round_trip_every_cipher_and_mac() {
    let mut rng = TestRng(0x5eed);
    for (c, m) in suites() {
        // Sequence numbers start anywhere and wrap at 2^32.
        for start in [0, 3, rng.next() as u32, u32::MAX - 5] {
            let keys = random_keys(c, m, &mut rng);
            let (mut sealer, mut opener) = pair(&keys);
            let mut seq = start;
            for i in 0..24 {
                let n = match i % 6 {
                    0 => 0,
                    1 => 32 * 1024 + rng.below(64),
                    _ => rng.below(2000),
                };
                let payload = rng.bytes(n);
                let mut wire = build(&sealer, &payload, &mut rng);
                sealer.seal(seq, &mut wire).unwrap();
                if c != Cipher::None && n >= 16 {
                    assert!(
                        !wire.windows(16).any(|w| w == &payload[..16]),
                        "{c:?} leaks"
                    );
                }
                let got = receive(&mut opener, seq, &mut wire)
                    .unwrap_or_else(|e| panic!("{c:?}/{m:?} seq {seq}: {e}"));
                assert_eq!(got, payload, "{c:?}/{m:?} seq {seq}");
                seq = seq.wrapping_add(1);
            }
        }
    }
}

#[test]
fn flipped_bit_anywhere_is_corrupted_mac() {
    let mut rng = TestRng(0xf11b);
    for (c, m) in suites().into_iter().filter(|&(c, _)| c != Cipher::None) {
        let keys = random_keys(c, m, &mut rng);
        for n in [0, 37, 200] {
            let seq = rng.next() as u32;
            let payload = rng.bytes(n);
            let (mut sealer, _) = pair(&keys);
            let mut wire = build(&sealer, &payload, &mut rng);
            sealer.seal(seq, &mut wire).unwrap();
            // The untouched packet opens (with a fresh opener, as every trial below).
            let (_, mut opener) = pair(&keys);
            receive(&mut opener, seq, &mut wire.clone()).unwrap();

            for pos in 0..wire.len() {
                let mut bad = wire.clone();
                bad[pos] ^= 1 << (pos % 8);
                let (_, mut opener) = pair(&keys);
                // A flipped length bit may yield another length (CTR decrypts it,
                // -etm/gcm send it in clear): the transport would then read a
                // different amount; here the buffer stays as sent, which the
                // tag must reject all the same.
                let head_len = opener.head_len();
                opener.packet_length(seq, &mut bad[..head_len]).unwrap();
                let r = opener.open(seq, &mut bad);
                assert!(
                    matches!(r, Err(Error::Mac)),
                    "{c:?}/{m:?} n={n} byte {pos}: {r:?}"
                );
            }

            // The right packet under the wrong sequence number is rejected too
            // (GCM does not use it: its nonce is its own invocation counter).
            if c.is_aead() && c != Cipher::Chacha20Poly1305 {
                continue;
            }
            let (_, mut opener) = pair(&keys);
            let mut bad = wire.clone();
            let head_len = opener.head_len();
            opener.packet_length(seq ^ 1, &mut bad[..head_len]).unwrap();
            assert!(
                matches!(opener.open(seq ^ 1, &mut bad), Err(Error::Mac)),
                "{c:?}/{m:?}"
            );
        }
    }
}

#[test]
fn mac_error_reads_like_openssh() {
    assert_eq!(Error::Mac.to_string(), "Corrupted MAC on input.");
}

#[test]
fn packet_length_leaves_head_alone_except_ctr_without_etm() {
    let mut rng = TestRng(7);
    for (c, m) in suites() {
        let keys = random_keys(c, m, &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        let payload = rng.bytes(100);
        let mut wire = build(&sealer, &payload, &mut rng);
        sealer.seal(9, &mut wire).unwrap();
        let before = wire.clone();
        let head_len = opener.head_len();
        let len = opener.packet_length(9, &mut wire[..head_len]).unwrap();
        assert_eq!(len as usize, before.len() - 4 - opener.tag_len());
        let ctr_classic = !c.is_aead() && c != Cipher::None && !m.unwrap().is_etm();
        assert_eq!(wire == before, !ctr_classic, "{c:?}/{m:?}");
    }
}

/// ChaCha20 with the original 64-bit nonce, from the `chacha20` crate (through
/// ssh-cipher, which enables its `legacy` variant).
fn djb_chacha20(key: &[u8], seq: u32) -> ssh_key::cipher::ChaCha20 {
    use chacha20::cipher::KeyIvInit;
    let nonce = ssh_key::cipher::ChaChaNonce::from(u64::from(seq).to_be_bytes());
    ssh_key::cipher::ChaCha20::new(key.try_into().unwrap(), &nonce)
}

#[test]
fn chacha20_poly1305_matches_independent_compositions() {
    use chacha20::cipher::{StreamCipher, StreamCipherSeek};
    use poly1305::universal_hash::KeyInit as _;
    use ssh_key::cipher::aead::AeadInOut;

    let mut rng = TestRng(0xc4ac4a);
    for seq in [0, 1, 7, 0x0102_0304, 0x8000_0000, u32::MAX] {
        let keys = random_keys(Cipher::Chacha20Poly1305, None, &mut rng);
        let (k2, k1) = keys.key.split_at(32);
        let mut sealer = SealingKey::new(&keys).unwrap();
        let n = rng.below(500);
        let payload = rng.bytes(n);
        let plain = build(&sealer, &payload, &mut rng);
        let mut wire = plain.clone();
        sealer.seal(seq, &mut wire).unwrap();
        let msg_len = plain.len() - 16;

        // 1. Straight from PROTOCOL.chacha20poly1305 on the raw primitives.
        let mut expect = plain[..msg_len].to_vec();
        djb_chacha20(k1, seq).apply_keystream(&mut expect[..4]);
        let mut main = djb_chacha20(k2, seq);
        let mut block0 = [0u8; 64];
        main.apply_keystream(&mut block0);
        main.seek(64u64);
        main.apply_keystream(&mut expect[4..]);
        let poly = poly1305::Poly1305::new((&block0[..32]).try_into().unwrap());
        let tag = poly.compute_unpadded(&expect);
        expect.extend_from_slice(&tag);
        assert_eq!(wire, expect, "raw composition, seq {seq:#x}");

        // 2. ssh-cipher's implementation of the same AEAD (K_2 part), with the
        // K_1-encrypted length as associated data.
        let aead = ssh_key::cipher::ChaCha20Poly1305::new(k2.try_into().unwrap());
        let nonce = ssh_key::cipher::ChaChaNonce::from(u64::from(seq).to_be_bytes());
        let mut body = plain[4..msg_len].to_vec();
        let tag2 = aead
            .encrypt_inout_detached(&nonce, &wire[..4], body.as_mut_slice().into())
            .unwrap();
        assert_eq!(
            &wire[4..msg_len],
            &body[..],
            "ssh-cipher body, seq {seq:#x}"
        );
        assert_eq!(&wire[msg_len..], &tag2[..], "ssh-cipher tag, seq {seq:#x}");

        // And it opens back.
        let mut opener = OpeningKey::new(&keys).unwrap();
        assert_eq!(receive(&mut opener, seq, &mut wire).unwrap(), payload);
        assert_eq!(wire[..msg_len], plain[..msg_len]);
    }
}

#[test]
fn chacha20_nonce_is_the_u32_sequence_number_widened() {
    // seq 2^32 - 1 then 0: distinct nonces 00000000ffffffff and 0000000000000000, so
    // the same plaintext seals differently, and both open.
    let mut rng = TestRng(42);
    let keys = random_keys(Cipher::Chacha20Poly1305, None, &mut rng);
    let (mut sealer, mut opener) = pair(&keys);
    let plain = build(&sealer, b"same payload", &mut rng);
    let (mut a, mut b) = (plain.clone(), plain.clone());
    sealer.seal(u32::MAX, &mut a).unwrap();
    sealer.seal(0, &mut b).unwrap();
    assert_ne!(a, b);
    assert_eq!(
        receive(&mut opener, u32::MAX, &mut a).unwrap(),
        b"same payload"
    );
    assert_eq!(receive(&mut opener, 0, &mut b).unwrap(), b"same payload");
}

#[test]
fn aes_gcm_matches_one_shot_api_with_incrementing_invocation_counter() {
    use aes_gcm::aead::{Aead, KeyInit, Payload};

    let mut rng = TestRng(0x6c3);
    for cipher in [Cipher::Aes128Gcm, Cipher::Aes256Gcm] {
        let mut keys = random_keys(cipher, None, &mut rng);
        // Start two packets before the 64-bit invocation counter wraps.
        keys.iv[4..].copy_from_slice(&(u64::MAX - 1).to_be_bytes());
        let (mut sealer, mut opener) = pair(&keys);
        for k in 0..4u64 {
            let n = rng.below(300);
            let payload = rng.bytes(n);
            let plain = build(&sealer, &payload, &mut rng);
            let mut wire = plain.clone();
            let seq = rng.next() as u32; // unused by GCM
            sealer.seal(seq, &mut wire).unwrap();

            let mut nonce = keys.iv.clone();
            nonce[4..].copy_from_slice(&(u64::MAX - 1).wrapping_add(k).to_be_bytes());
            let msg_len = plain.len() - 16;
            let input = Payload {
                msg: &plain[4..msg_len],
                aad: &plain[..4],
            };
            let expect = match cipher {
                Cipher::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(&keys.key)
                    .unwrap()
                    .encrypt(nonce.as_slice().try_into().unwrap(), input),
                _ => aes_gcm::Aes256Gcm::new_from_slice(&keys.key)
                    .unwrap()
                    .encrypt(nonce.as_slice().try_into().unwrap(), input),
            }
            .unwrap();
            assert_eq!(wire[..4], plain[..4], "length is sent in clear");
            assert_eq!(wire[4..], expect[..], "{cipher:?} packet {k}");
            assert_eq!(receive(&mut opener, seq, &mut wire).unwrap(), payload);
        }
    }
}

/// HMAC over `uint32 seq || data`, from the hmac crate's one-shot API.
fn reference_hmac(mac: Mac, key: &[u8], seq: u32, data: &[u8]) -> Vec<u8> {
    use hmac::KeyInit;
    fn one<M: hmac::Mac + KeyInit>(key: &[u8], seq: u32, data: &[u8]) -> Vec<u8> {
        let m = <M as KeyInit>::new_from_slice(key).unwrap();
        m.chain_update(seq.to_be_bytes())
            .chain_update(data)
            .finalize()
            .into_bytes()
            .to_vec()
    }
    match mac {
        Mac::HmacSha1 | Mac::HmacSha1Etm => one::<hmac::Hmac<sha1::Sha1>>(key, seq, data),
        Mac::HmacSha256 | Mac::HmacSha256Etm => one::<hmac::Hmac<sha2::Sha256>>(key, seq, data),
        Mac::HmacSha512 | Mac::HmacSha512Etm => one::<hmac::Hmac<sha2::Sha512>>(key, seq, data),
    }
}

#[test]
fn aes_ctr_hmac_matches_independent_composition() {
    use ctr::cipher::{KeyIvInit, StreamCipher};

    let mut rng = TestRng(0xc7);
    for (cipher, mac) in suites() {
        let Some(mac) = mac else { continue };
        let keys = random_keys(cipher, Some(mac), &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        // One keystream for the whole direction, running on across packets.
        let mut stream: Box<dyn StreamCipher> = match cipher {
            Cipher::Aes128Ctr => Box::new(
                ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&keys.key, &keys.iv).unwrap(),
            ),
            Cipher::Aes192Ctr => Box::new(
                ctr::Ctr128BE::<aes::Aes192>::new_from_slices(&keys.key, &keys.iv).unwrap(),
            ),
            _ => Box::new(
                ctr::Ctr128BE::<aes::Aes256>::new_from_slices(&keys.key, &keys.iv).unwrap(),
            ),
        };
        let mut seq = u32::MAX - 1;
        for _ in 0..4 {
            let n = rng.below(300);
            let payload = rng.bytes(n);
            let plain = build(&sealer, &payload, &mut rng);
            let mut wire = plain.clone();
            sealer.seal(seq, &mut wire).unwrap();

            let msg_len = plain.len() - mac.tag_len();
            let mut expect = plain[..msg_len].to_vec();
            let tag = if mac.is_etm() {
                // PROTOCOL §1.5: length in clear, MAC over seq || length || ciphertext.
                stream.apply_keystream(&mut expect[4..]);
                reference_hmac(mac, &keys.mac_key, seq, &expect)
            } else {
                // RFC 4253 §6.4: MAC over seq || plaintext, then all of it encrypted.
                let tag = reference_hmac(mac, &keys.mac_key, seq, &expect);
                stream.apply_keystream(&mut expect);
                tag
            };
            expect.extend_from_slice(&tag);
            assert_eq!(wire, expect, "{cipher:?}/{mac:?} seq {seq}");
            assert_eq!(receive(&mut opener, seq, &mut wire).unwrap(), payload);
            seq = seq.wrapping_add(1);
        }
    }
}

#[test]
fn aes_ctr_first_block_matches_sp800_38a() {
    // NIST SP 800-38A F.5.1/F.5.3/F.5.5 (CTR-AESxxx.Decrypt), block #1: the counter
    // block f0f1…ff is exactly the RFC 4344 IV. The decrypted "length" is whatever
    // the vector's first plaintext word is.
    let iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    let plain = hex("6bc1bee22e409f96e93d7e117393172a");
    let cases = [
        (
            Cipher::Aes128Ctr,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "874d6191b620e3261bef6864990db6ce",
        ),
        (
            Cipher::Aes192Ctr,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "1abc932417521ca24f2b0459fe7e6e0b",
        ),
        (
            Cipher::Aes256Ctr,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "601ec313775789a5b7a7f504bbf3d228",
        ),
    ];
    for (cipher, key, ct) in cases {
        let keys = DirectionKeys {
            cipher,
            mac: Some(Mac::HmacSha256),
            key: hex(key),
            iv: iv.clone(),
            mac_key: vec![0; 32],
        };
        let mut opener = OpeningKey::new(&keys).unwrap();
        let mut head = hex(ct);
        let len = opener.packet_length(0, &mut head).unwrap();
        assert_eq!(head, plain, "{cipher:?}");
        assert_eq!(len, 0x6bc1_bee2);
    }
}

#[test]
fn hmac_over_seq_and_data_matches_rfc4231_and_rfc2202() {
    // Test case 2 of both RFCs: key "Jefe", data "what do ya want for nothing?".
    // The first four bytes of the data stand in for the sequence number.
    let seq = u32::from_be_bytes(*b"what");
    let data = b" do ya want for nothing?";
    let cases = [
        (Mac::HmacSha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (
            Mac::HmacSha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            Mac::HmacSha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (mac, want) in cases {
        let h = super::ctr_hmac::Hmacs::new(mac, b"Jefe").unwrap();
        assert_eq!(h.with_tag(seq, data, <[u8]>::to_vec), hex(want), "{mac:?}");
    }
}

#[test]
fn none_is_clear_and_still_checks_alignment() {
    let mut rng = TestRng(3);
    let (mut sealer, mut opener) = (SealingKey::none(), OpeningKey::none());
    assert_eq!(
        (sealer.block_size(), sealer.tag_len(), opener.head_len()),
        (8, 0, 8)
    );
    let plain = build(&sealer, b"hello", &mut rng);
    let mut wire = plain.clone();
    sealer.seal(0, &mut wire).unwrap();
    assert_eq!(wire, plain);
    assert_eq!(receive(&mut opener, 0, &mut wire).unwrap(), b"hello");

    // 4 + 9 is not a multiple of 8: OpenSSH says "Packet corrupt".
    let mut odd = vec![0, 0, 0, 9, 4, 1, 2, 3, 4, 5, 6, 7, 8];
    assert!(matches!(opener.open(1, &mut odd), Err(Error::Mac)));
    assert!(matches!(
        sealer.seal(1, &mut odd),
        Err(Error::BadPacketLength(9))
    ));
}

#[test]
fn seal_refuses_a_length_field_that_disagrees_with_the_buffer() {
    let mut rng = TestRng(4);
    for (c, m) in suites() {
        let (mut sealer, _) = pair(&random_keys(c, m, &mut rng));
        let mut wire = build(&sealer, b"payload", &mut rng);
        wire[3] ^= 0x10;
        assert!(
            matches!(sealer.seal(0, &mut wire), Err(Error::BadPacketLength(_))),
            "{c:?}/{m:?}"
        );
        assert!(matches!(sealer.seal(0, &mut [0, 0]), Err(Error::Truncated)));
    }
}

#[test]
fn misaligned_packet_is_corrupted_mac_in_every_mode() {
    let mut rng = TestRng(5);
    for (c, m) in suites() {
        let (_, mut opener) = pair(&random_keys(c, m, &mut rng));
        // 4 + 22 + tag bytes: aligned neither with nor without the length field.
        let mut wire = vec![0u8; 4 + 22 + opener.tag_len()];
        wire[3] = 22;
        let head_len = opener.head_len();
        opener.packet_length(0, &mut wire[..head_len]).unwrap();
        assert!(
            matches!(opener.open(0, &mut wire), Err(Error::Mac)),
            "{c:?}/{m:?}"
        );
    }
}

#[test]
fn ctr_open_must_follow_exactly_one_packet_length() {
    let mut rng = TestRng(6);
    let keys = random_keys(Cipher::Aes128Ctr, Some(Mac::HmacSha256), &mut rng);
    let (mut sealer, mut opener) = pair(&keys);
    let mut wire = build(&sealer, b"x", &mut rng);
    sealer.seal(0, &mut wire).unwrap();
    assert!(matches!(
        opener.open(0, &mut wire.clone()),
        Err(Error::Malformed(_))
    ));
    let mut head = wire[..16].to_vec();
    opener.packet_length(0, &mut head).unwrap();
    assert!(matches!(
        opener.packet_length(0, &mut head),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn short_head_is_truncated_not_a_panic() {
    let mut rng = TestRng(8);
    for (c, m) in suites() {
        let (_, mut opener) = pair(&random_keys(c, m, &mut rng));
        let mut head = vec![0u8; opener.head_len() - 1];
        assert!(matches!(
            opener.packet_length(0, &mut head),
            Err(Error::Truncated)
        ));
        assert!(opener.open(0, &mut []).is_err());
    }
}

#[test]
fn wrong_key_material_is_refused() {
    let mut rng = TestRng(9);
    let mut keys = random_keys(Cipher::Aes256Gcm, None, &mut rng);
    keys.key.pop();
    assert!(matches!(SealingKey::new(&keys), Err(Error::Key(_))));
    let mut keys = random_keys(Cipher::Chacha20Poly1305, None, &mut rng);
    keys.iv = vec![0; 12];
    assert!(matches!(OpeningKey::new(&keys), Err(Error::Key(_))));
    let mut keys = random_keys(Cipher::Aes128Ctr, Some(Mac::HmacSha1), &mut rng);
    keys.mac_key.push(0);
    assert!(matches!(OpeningKey::new(&keys), Err(Error::Key(_))));
    let keys = random_keys(Cipher::Aes128Ctr, None, &mut rng);
    assert!(matches!(SealingKey::new(&keys), Err(Error::Key(_))));
    let keys = random_keys(Cipher::None, Some(Mac::HmacSha1), &mut rng);
    assert!(matches!(SealingKey::new(&keys), Err(Error::Unsupported(_))));
}

#[test]
fn aead_ignores_a_negotiated_mac_and_debug_hides_keys() {
    let mut rng = TestRng(10);
    let keys = random_keys(Cipher::Aes128Gcm, Some(Mac::HmacSha512), &mut rng);
    let (s, o) = pair(&keys);
    assert_eq!((s.mac(), s.tag_len(), o.mac()), (None, 16, None));
    let shown = format!("{keys:?} {s:?} {o:?}");
    assert!(!shown.contains(&format!("{:?}", keys.key)), "{shown}");
}
