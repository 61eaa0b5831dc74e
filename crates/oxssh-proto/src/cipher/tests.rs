//! Tests of packet protection: round trips for every cipher × MAC, tampering, and
//! cross-checks against independent compositions of the raw primitives (and, for
//! chacha20-poly1305@openssh.com, against the `ssh-cipher` crate's implementation of
//! the same construction) plus published vectors (SP 800-38A, SP 800-67, RFC 4231,
//! RFC 2202). The legacy CBC ciphers also get OpenSSH's discard-on-error behaviour
//! checked: a bad length, padding or MAC reads on to PACKET_MAX_SIZE, then fails.
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

/// Every supported (cipher, MAC) pair, `none` first, the legacy CBC ones included.
fn suites() -> Vec<(Cipher, Option<Mac>)> {
    let mut v = vec![(Cipher::None, None)];
    for &c in Cipher::IMPLEMENTED {
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
        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,\
         aes128-ctr,aes192-ctr,aes256-ctr"
    );
    // `ssh -Q cipher` of OpenSSH 9.2, in its order.
    let implemented: Vec<_> = Cipher::IMPLEMENTED.iter().map(|c| c.name()).collect();
    assert_eq!(
        implemented.join(","),
        "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,\
         aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"
    );
    // The default is a subset: everything but CBC.
    for c in Cipher::IMPLEMENTED {
        assert_eq!(Cipher::ALL.contains(c), !c.is_cbc(), "{c:?}");
    }
    // `ssh -Q mac` of OpenSSH, without what we do not implement (umac, MD5, -96).
    let table: Vec<_> = Mac::IMPLEMENTED.iter().map(|m| m.name()).collect();
    assert_eq!(
        table.join(","),
        "hmac-sha1,hmac-sha2-256,hmac-sha2-512,hmac-sha1-etm@openssh.com,\
         hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"
    );
    let mut sorted_table = Mac::IMPLEMENTED.to_vec();
    let mut sorted_all = Mac::ALL.to_vec();
    sorted_table.sort_by_key(|m| m.name());
    sorted_all.sort_by_key(|m| m.name());
    assert_eq!(sorted_table, sorted_all);
    let macs: Vec<_> = Mac::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        macs.join(","),
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,\
         hmac-sha2-256,hmac-sha2-512,hmac-sha1"
    );
    for &c in Cipher::IMPLEMENTED.iter().chain([Cipher::None].iter()) {
        assert_eq!(Cipher::from_name(c.name()), Some(c));
    }
    for &m in Mac::ALL {
        assert_eq!(Mac::from_name(m.name()), Some(m));
    }
    for unknown in [
        "",
        "blowfish-cbc",
        "rijndael-cbc@lysator.liu.se",
        "3DES-CBC",
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
        (Cipher::TripleDesCbc, 24, 8, 8, 0),
        (Cipher::Aes128Cbc, 16, 16, 16, 0),
        (Cipher::Aes192Cbc, 24, 16, 16, 0),
        (Cipher::Aes256Cbc, 32, 16, 16, 0),
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
fn packet_length_leaves_head_alone_except_ctr_and_cbc_without_etm() {
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
        let classic = !c.is_aead() && c != Cipher::None && !m.unwrap().is_etm();
        assert_eq!(wire == before, !classic, "{c:?}/{m:?}");
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
    use poly1305::universal_hash::KeyInit as _;
    use ssh_key::cipher::aead::AeadInOut;

    let mut rng = TestRng(0xc4ac4a);
    let seqs = [0, 1, 7, 0x0102_0304, 0x8000_0000, u32::MAX];
    // Random sizes, and sizes around the keystream's block (64) and wide-run (1024)
    // boundaries, where the keystream is taken in different pieces.
    let mut sizes: Vec<usize> = (0..6).map(|_| rng.below(500)).collect();
    for base in [0usize, 64, 128, 1024, 2048, 32768] {
        for delta in 0..=80 {
            sizes.push((base + delta).saturating_sub(40));
        }
    }
    for (i, n) in sizes.into_iter().enumerate() {
        let seq = seqs[i % seqs.len()];
        let keys = random_keys(Cipher::Chacha20Poly1305, None, &mut rng);
        let k2 = &keys.key[..32];
        let mut sealer = SealingKey::new(&keys).unwrap();
        let payload = rng.bytes(n);
        let plain = build(&sealer, &payload, &mut rng);
        let mut wire = plain.clone();
        sealer.seal(seq, &mut wire).unwrap();
        let msg_len = plain.len() - 16;

        // 1. Straight from PROTOCOL.chacha20poly1305 on the raw primitives.
        let expect = raw_chacha_packet(&keys.key, seq, &plain[4..msg_len]);
        assert_eq!(wire, expect, "raw composition, seq {seq:#x}, payload {n}");

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

        // It opens into another buffer, leaving the packet as received: the buffer
        // ends up holding payload || padding whatever it held before (shorter,
        // longer, or stale bytes), and padding_length comes back.
        let mut opener = OpeningKey::new(&keys).unwrap();
        assert!(opener.opens_to_buffer());
        let mut out = rng.bytes([0, 5, 70, 40_000][i % 4]);
        let head_len = opener.head_len();
        let len = opener.packet_length(seq, &mut wire[..head_len]).unwrap() as usize;
        assert_eq!(len, msg_len - 4, "packet_length, payload {n}");
        let pad = opener.open_to(seq, &wire, &mut out).unwrap();
        assert_eq!(pad, plain[4], "padding_length, payload {n}");
        assert_eq!(out, plain[5..msg_len], "open_to, seq {seq:#x}, payload {n}");
        assert_eq!(wire, expect, "open_to changed the packet");

        // And it opens back in place.
        let mut opener = OpeningKey::new(&keys).unwrap();
        assert_eq!(receive(&mut opener, seq, &mut wire).unwrap(), payload);
        assert_eq!(wire[..msg_len], plain[..msg_len]);
    }
}

/// A chacha20-poly1305 packet with `body` (padding_length || payload || padding) in
/// clear, sealed with the raw primitives, which (unlike our sealer) take any length.
fn raw_chacha_packet(key: &[u8], seq: u32, body: &[u8]) -> Vec<u8> {
    use chacha20::cipher::{StreamCipher, StreamCipherSeek};
    use poly1305::universal_hash::KeyInit as _;
    let (k2, k1) = key.split_at(32);
    let mut msg = (body.len() as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(body);
    djb_chacha20(k1, seq).apply_keystream(&mut msg[..4]);
    let mut main = djb_chacha20(k2, seq);
    let mut block0 = [0u8; 64];
    main.apply_keystream(&mut block0);
    main.seek(64u64);
    main.apply_keystream(&mut msg[4..]);
    let tag = poly1305::Poly1305::new((&block0[..32]).try_into().unwrap()).compute_unpadded(&msg);
    msg.extend_from_slice(&tag);
    msg
}

#[test]
fn a_misaligned_packet_with_a_good_tag_is_refused_both_ways_of_opening() {
    let mut rng = TestRng(0xa119);
    let keys = random_keys(Cipher::Chacha20Poly1305, None, &mut rng);
    // 1 + 11 + 4 = 16: a multiple of 8, opens; 1 + 8 + 4 = 13: not, refused.
    for (payload_len, aligned) in [(11usize, true), (8, false)] {
        let mut body = vec![4u8];
        body.extend(rng.bytes(payload_len + 4));
        let wire = raw_chacha_packet(&keys.key, 9, &body);
        let (_, mut opener) = pair(&keys);
        let mut head = wire[..4].to_vec();
        assert_eq!(
            opener.packet_length(9, &mut head).unwrap() as usize,
            body.len()
        );
        let mut out = Vec::new();
        let r = opener.open_to(9, &wire, &mut out);
        let mut in_place = wire.clone();
        let r2 = opener.open(9, &mut in_place);
        if aligned {
            assert_eq!(r.unwrap(), 4);
            assert_eq!(out, body[1..]);
            r2.unwrap();
        } else {
            assert!(matches!(r, Err(Error::Mac)), "open_to: {r:?}");
            assert!(matches!(r2, Err(Error::Mac)), "open: {r2:?}");
        }
    }
}

#[test]
fn open_to_is_chacha20_poly1305_only_and_checks_the_tag_first() {
    let mut rng = TestRng(0x0be2);
    for (c, m) in suites() {
        let keys = random_keys(c, m, &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        let mut wire = build(&sealer, b"payload", &mut rng);
        sealer.seal(3, &mut wire).unwrap();
        let head_len = opener.head_len();
        opener.packet_length(3, &mut wire[..head_len]).unwrap();
        let mut out = b"untouched".to_vec();
        let r = opener.open_to(3, &wire, &mut out);
        if c != Cipher::Chacha20Poly1305 {
            assert!(!opener.opens_to_buffer(), "{c:?}");
            assert!(r.is_err(), "{c:?}/{m:?}");
            continue;
        }
        assert!(r.is_ok(), "{r:?}");
        // Every flipped bit fails the tag, and nothing is decrypted into `out`.
        for pos in 0..wire.len() {
            let mut bad = wire.clone();
            bad[pos] ^= 1 << (pos % 8);
            let (_, mut opener) = pair(&keys);
            opener.packet_length(3, &mut bad[..head_len]).unwrap();
            let mut out = b"untouched".to_vec();
            let r = opener.open_to(3, &bad, &mut out);
            assert!(matches!(r, Err(Error::Mac)), "byte {pos}: {r:?}");
            assert_eq!(out, b"untouched");
        }
        // A packet too short to hold a length and a tag is an error, not a panic.
        for n in 0..21 {
            let (_, mut opener) = pair(&keys);
            assert!(
                opener.open_to(3, &wire[..n], &mut out).is_err(),
                "{n} bytes"
            );
        }
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
        if cipher.is_cbc() {
            continue;
        }
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
        if opener.opens_to_buffer() {
            let mut out = Vec::new();
            assert!(
                matches!(opener.open_to(0, &wire, &mut out), Err(Error::Mac)),
                "{c:?}/{m:?}: open_to"
            );
        }
    }
}

#[test]
fn ctr_and_cbc_open_must_follow_exactly_one_packet_length() {
    let mut rng = TestRng(6);
    for cipher in [Cipher::Aes128Ctr, Cipher::TripleDesCbc, Cipher::Aes256Cbc] {
        let keys = random_keys(cipher, Some(Mac::HmacSha256), &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        let mut wire = build(&sealer, b"x", &mut rng);
        sealer.seal(0, &mut wire).unwrap();
        assert!(matches!(
            opener.open(0, &mut wire.clone()),
            Err(Error::Malformed(_))
        ));
        let mut head = wire[..cipher.block_size()].to_vec();
        opener.packet_length(0, &mut head).unwrap();
        assert!(matches!(
            opener.packet_length(0, &mut head),
            Err(Error::Malformed(_))
        ));
    }
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
    let keys = random_keys(Cipher::TripleDesCbc, None, &mut rng);
    assert!(matches!(OpeningKey::new(&keys), Err(Error::Key(_))));
    let mut keys = random_keys(Cipher::Aes192Cbc, Some(Mac::HmacSha1), &mut rng);
    keys.iv.truncate(8);
    assert!(matches!(SealingKey::new(&keys), Err(Error::Key(_))));
    let mut keys = random_keys(Cipher::TripleDesCbc, Some(Mac::HmacSha1), &mut rng);
    keys.key.truncate(16);
    assert!(matches!(OpeningKey::new(&keys), Err(Error::Key(_))));
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

/// Encrypts one block in place.
type BlockFn = Box<dyn Fn(&mut [u8])>;

/// The raw block cipher of a CBC suite.
fn raw_block_encrypt(cipher: Cipher, key: &[u8]) -> BlockFn {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    fn boxed<C: BlockCipherEncrypt + KeyInit + 'static>(key: &[u8]) -> BlockFn {
        let c = C::new_from_slice(key).unwrap();
        Box::new(move |block| c.encrypt_block(block.try_into().unwrap()))
    }
    match cipher {
        Cipher::TripleDesCbc => boxed::<des::TdesEde3>(key),
        Cipher::Aes128Cbc => boxed::<aes::Aes128>(key),
        Cipher::Aes192Cbc => boxed::<aes::Aes192>(key),
        Cipher::Aes256Cbc => boxed::<aes::Aes256>(key),
        c => panic!("{c:?} is not CBC"),
    }
}

/// CBC written out (SP 800-38A §6.2): each plaintext block is XORed with the previous
/// ciphertext block (`chain`, the IV at first) and encrypted; `chain` runs on.
fn raw_cbc(encrypt: &dyn Fn(&mut [u8]), chain: &mut [u8], data: &mut [u8]) {
    assert_eq!(data.len() % chain.len(), 0);
    for block in data.chunks_mut(chain.len()) {
        block
            .iter_mut()
            .zip(chain.iter())
            .for_each(|(b, c)| *b ^= c);
        encrypt(block);
        chain.copy_from_slice(block);
    }
}

#[test]
fn cbc_hmac_matches_independent_composition() {
    let mut rng = TestRng(0xcbc);
    for (cipher, mac) in suites() {
        if !cipher.is_cbc() {
            continue;
        }
        let mac = mac.unwrap();
        let keys = random_keys(cipher, Some(mac), &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        let encrypt = raw_block_encrypt(cipher, &keys.key);
        // One chain for the whole direction, running on across packets (RFC 4253 §6.3).
        let mut chain = keys.iv.clone();
        let mut seq = u32::MAX - 1;
        for _ in 0..5 {
            let n = rng.below(300);
            let payload = rng.bytes(n);
            let plain = build(&sealer, &payload, &mut rng);
            let mut wire = plain.clone();
            sealer.seal(seq, &mut wire).unwrap();

            let msg_len = plain.len() - mac.tag_len();
            let mut expect = plain[..msg_len].to_vec();
            let tag = if mac.is_etm() {
                raw_cbc(&*encrypt, &mut chain, &mut expect[4..]);
                reference_hmac(mac, &keys.mac_key, seq, &expect)
            } else {
                let tag = reference_hmac(mac, &keys.mac_key, seq, &expect);
                raw_cbc(&*encrypt, &mut chain, &mut expect);
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
fn cbc_first_block_matches_sp800_38a_and_sp800_67() {
    // SP 800-38A F.2.2/F.2.4/F.2.6 (CBC-AESxxx.Decrypt) block #1, and the triple DES
    // example of SP 800-67 (keys 0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123,
    // "The qufc") with a zero IV, where CBC's first block is the plain block cipher:
    //   printf 'The qufc' | openssl enc -des-ede3-cbc -nopad -iv 0000000000000000 \
    //     -K 0123456789abcdef23456789abcdef01456789abcdef0123 | xxd -p
    // The decrypted "length" is the plaintext's first word, far out of bounds: the
    // opener reports the discard length instead (see the discard tests below).
    let aes_iv = hex("000102030405060708090a0b0c0d0e0f");
    let aes_plain = hex("6bc1bee22e409f96e93d7e117393172a");
    let cases = [
        (
            Cipher::Aes128Cbc,
            "2b7e151628aed2a6abf7158809cf4f3c",
            aes_iv.clone(),
            "7649abac8119b246cee98e9b12e9197d",
            aes_plain.clone(),
        ),
        (
            Cipher::Aes192Cbc,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            aes_iv.clone(),
            "4f021db243bc633d7178183a9fa071e8",
            aes_plain.clone(),
        ),
        (
            Cipher::Aes256Cbc,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            aes_iv.clone(),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6",
            aes_plain.clone(),
        ),
        (
            Cipher::TripleDesCbc,
            "0123456789abcdef23456789abcdef01456789abcdef0123",
            vec![0; 8],
            "a826fd8ce53b855f",
            b"The qufc".to_vec(),
        ),
    ];
    for (cipher, key, iv, ct, plain) in cases {
        let keys = DirectionKeys {
            cipher,
            mac: Some(Mac::HmacSha256),
            key: hex(key),
            iv,
            mac_key: vec![0; 32],
        };
        let mut opener = OpeningKey::new(&keys).unwrap();
        let mut head = hex(ct);
        let len = opener.packet_length(0, &mut head).unwrap();
        assert_eq!(head, plain, "{cipher:?}");
        assert_eq!(len as usize, crate::transport::MAX_PACKET - 4 - 32);
        // And the sealer's raw encryption of that block is the vector's.
        let encrypt = raw_block_encrypt(cipher, &keys.key);
        let mut block = plain.clone();
        raw_cbc(&*encrypt, &mut keys.iv.clone(), &mut block);
        assert_eq!(block, hex(ct), "{cipher:?}");
    }
}

/// A packet head whose first block decrypts to `plain_head` (padded with zeros to a
/// block), encrypted for `keys` as the first block of the direction.
fn cbc_head(keys: &DirectionKeys, plain_head: &[u8]) -> Vec<u8> {
    let mut block = plain_head.to_vec();
    block.resize(keys.cipher.block_size(), 0);
    let encrypt = raw_block_encrypt(keys.cipher, &keys.key);
    raw_cbc(&*encrypt, &mut keys.iv.clone(), &mut block);
    block
}

/// Reads a discard out the way the transport does: a buffer of `4 + n + tag_len()`
/// bytes, whatever they are, and `open` must fail with the MAC error.
fn finish_discard(opener: &mut OpeningKey, seq: u32) {
    let n = opener.discard_length().expect("discarding") as usize;
    assert_eq!(
        4 + n + opener.tag_len(),
        crate::transport::MAX_PACKET,
        "read out to PACKET_MAX_SIZE from the start of the bad packet"
    );
    let mut rest = vec![0x61; 4 + n + opener.tag_len()];
    assert!(matches!(opener.open(seq, &mut rest), Err(Error::Mac)));
    // And nothing opens afterwards: the direction is dead.
    assert!(opener.open(seq + 1, &mut rest).is_err());
}

#[test]
fn cbc_without_etm_bad_length_discards_to_packet_max_size_then_corrupted_mac() {
    let mut rng = TestRng(0xbad1);
    for cipher in [Cipher::TripleDesCbc, Cipher::Aes128Cbc, Cipher::Aes256Cbc] {
        for mac in [Mac::HmacSha1, Mac::HmacSha512] {
            let keys = random_keys(cipher, Some(mac), &mut rng);
            // OpenSSH's bounds: 5 <= packet_length <= PACKET_MAX_SIZE.
            for bad in [0u32, 4, 256 * 1024 + 12, u32::MAX] {
                let (_, mut opener) = pair(&keys);
                assert_eq!(opener.discard_length(), None);
                let mut head = cbc_head(&keys, &bad.to_be_bytes());
                let n = opener.packet_length(7, &mut head).unwrap();
                assert_eq!(opener.discard_length(), Some(n), "{cipher:?} {bad}");
                finish_discard(&mut opener, 7);
            }
        }
    }
}

#[test]
fn cbc_without_etm_bad_padding_discards_to_packet_max_size_then_corrupted_mac() {
    let mut rng = TestRng(0xbad2);
    for cipher in [Cipher::TripleDesCbc, Cipher::Aes192Cbc] {
        let keys = random_keys(cipher, Some(Mac::HmacSha256), &mut rng);
        // In bounds, but 4 + packet_length is not a whole number of blocks.
        for bad in [5u32, 22, 1001, 256 * 1024 - 1] {
            let (_, mut opener) = pair(&keys);
            let mut head = cbc_head(&keys, &bad.to_be_bytes());
            let n = opener.packet_length(0, &mut head).unwrap();
            assert_ne!(n, bad);
            assert_eq!(opener.discard_length(), Some(n), "{cipher:?} {bad}");
            finish_discard(&mut opener, 0);
        }
        // An aligned length in bounds is taken as it is.
        let (_, mut opener) = pair(&keys);
        let mut head = cbc_head(&keys, &28u32.to_be_bytes());
        assert_eq!(opener.packet_length(0, &mut head).unwrap(), 28);
        assert_eq!(opener.discard_length(), None);
    }
}

#[test]
fn cbc_without_etm_bad_mac_discards_to_packet_max_size_then_corrupted_mac() {
    let mut rng = TestRng(0xbad3);
    for cipher in [Cipher::TripleDesCbc, Cipher::Aes128Cbc, Cipher::Aes256Cbc] {
        let keys = random_keys(cipher, Some(Mac::HmacSha256), &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        // A good packet first: the chain runs on into the bad one.
        let mut good = build(&sealer, b"first", &mut rng);
        sealer.seal(1, &mut good).unwrap();
        assert_eq!(receive(&mut opener, 1, &mut good).unwrap(), b"first");

        let mut wire = build(&sealer, &rng.bytes(100), &mut rng);
        sealer.seal(2, &mut wire).unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 0x80;
        let head_len = opener.head_len();
        let len = opener.packet_length(2, &mut wire[..head_len]).unwrap();
        assert_eq!(4 + len as usize + opener.tag_len(), wire.len());
        assert_eq!(opener.discard_length(), None);
        assert!(matches!(opener.open(2, &mut wire), Err(Error::Mac)));
        assert!(opener.discard_length().is_some(), "{cipher:?}");
        finish_discard(&mut opener, 2);
    }
}

#[test]
fn errors_are_final_at_once_except_cbc_without_etm() {
    // OpenSSH discards only for CBC without -etm; everything else fails on the spot.
    let mut rng = TestRng(0xbad4);
    for (c, m) in suites() {
        if c == Cipher::None {
            continue;
        }
        let keys = random_keys(c, m, &mut rng);
        let (mut sealer, mut opener) = pair(&keys);
        let mut wire = build(&sealer, b"payload", &mut rng);
        sealer.seal(3, &mut wire).unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let head_len = opener.head_len();
        opener.packet_length(3, &mut wire[..head_len]).unwrap();
        assert!(matches!(opener.open(3, &mut wire), Err(Error::Mac)));
        let discards = c.is_cbc() && !m.unwrap().is_etm();
        assert_eq!(opener.discard_length().is_some(), discards, "{c:?}/{m:?}");
    }
}

#[test]
fn cbc_keys_do_not_work_backwards() {
    // A CBC sealing key holds only an encryptor and an opening key only a decryptor:
    // misuse is an error, not wrong bytes.
    let mut rng = TestRng(0xbad5);
    let keys = random_keys(Cipher::Aes128Cbc, Some(Mac::HmacSha1Etm), &mut rng);
    let (mut sealer, mut opener) = pair(&keys);
    let mut wire = build(&sealer, b"x", &mut rng);
    sealer.seal(0, &mut wire).unwrap();
    assert_eq!(receive(&mut opener, 0, &mut wire).unwrap(), b"x");
    let mut c =
        super::cbc::Cbc::new(Cipher::Aes128Cbc, Direction::Seal, &keys.key, &keys.iv).unwrap();
    assert!(c.decrypt(&mut [0; 16]).is_err());
    assert!(c.encrypt(&mut [0; 15]).is_err());
    let mut d =
        super::cbc::Cbc::new(Cipher::TripleDesCbc, Direction::Open, &[0; 24], &[0; 8]).unwrap();
    assert!(d.encrypt(&mut [0; 8]).is_err());
    assert!(d.decrypt(&mut [0; 12]).is_err());
}

/// A client and a server transport that have finished key exchange in memory with
/// these algorithms (the kex and host key defaults otherwise).
fn transports(
    cipher: Cipher,
    mac: Mac,
) -> (crate::transport::Transport, crate::transport::Transport) {
    use crate::kex::Algorithms;
    use crate::transport::{Config, Event, Role, Transport};
    use std::time::Instant;

    let algorithms = Algorithms {
        cipher: vec![cipher.name().into()],
        mac: vec![mac.name().into()],
        ..Algorithms::default()
    };
    let (mut cc, mut sc) = (Config::new("server"), Config::new("client"));
    cc.algorithms = algorithms.clone();
    sc.algorithms = algorithms;
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let host_key = ssh_key::PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).unwrap();
    let mut c = Transport::new(Role::Client, cc, Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, sc, vec![host_key]).unwrap();
    let now = Instant::now();
    let mut buf = Vec::new();
    let mut done = false;
    for _ in 0..50 {
        if c.has_output() {
            c.take_output(&mut buf);
            s.handle_input(&buf, now).unwrap();
        }
        if s.has_output() {
            s.take_output(&mut buf);
            c.handle_input(&buf, now).unwrap();
        }
        while let Some(ev) = c.poll_event() {
            match ev {
                Event::HostKey { .. } => c.host_key_verdict(true, now).unwrap(),
                Event::KexDone { .. } => done = true,
                _ => {}
            }
        }
        while s.poll_event().is_some() {}
    }
    assert!(done, "key exchange with {cipher:?}/{mac:?}");
    (c, s)
}

#[test]
fn transport_reads_a_bad_cbc_packet_out_to_packet_max_size_then_fails() {
    use std::time::Instant;
    const MAX: usize = crate::transport::MAX_PACKET;
    let now = Instant::now();
    // (cipher, MAC, where to flip a bit: the first byte is in the encrypted length,
    // the last in the MAC, or none: a good packet).
    for cipher in [Cipher::TripleDesCbc, Cipher::Aes256Cbc] {
        for first_byte in [true, false] {
            let (mut c, mut s) = transports(cipher, Mac::HmacSha256);
            c.send(&[crate::msg::IGNORE, 0, 0, 0, 3, b'a', b'b', b'c'])
                .unwrap();
            let mut bad = Vec::new();
            c.take_output(&mut bad);
            let at = if first_byte { 0 } else { bad.len() - 1 };
            bad[at] ^= 0x40;
            // Not an error yet: the server discards, as OpenSSH does.
            s.handle_input(&bad, now)
                .unwrap_or_else(|e| panic!("{cipher:?} first={first_byte}: {e}"));
            let mut fed = bad.len();
            let chunk = vec![0u8; 16 * 1024];
            while fed + chunk.len() < MAX {
                s.handle_input(&chunk, now).unwrap();
                fed += chunk.len();
            }
            s.handle_input(&chunk[..MAX - fed - 1], now).unwrap();
            // The byte that completes PACKET_MAX_SIZE from the bad packet's start ends it.
            let r = s.handle_input(&[0], now);
            assert!(matches!(r, Err(Error::Mac)), "{cipher:?}: {r:?}");
            assert_eq!(r.unwrap_err().to_string(), "Corrupted MAC on input.");
        }
    }
}

#[test]
fn transport_fails_a_bad_packet_at_once_with_ctr_or_etm() {
    use std::time::Instant;
    let now = Instant::now();
    for (cipher, mac) in [
        (Cipher::Aes128Ctr, Mac::HmacSha256),
        (Cipher::Aes128Cbc, Mac::HmacSha256Etm),
        (Cipher::TripleDesCbc, Mac::HmacSha1Etm),
    ] {
        let (mut c, mut s) = transports(cipher, mac);
        c.send(&[crate::msg::IGNORE, 0, 0, 0, 0]).unwrap();
        let mut bad = Vec::new();
        c.take_output(&mut bad);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let r = s.handle_input(&bad, now);
        assert!(matches!(r, Err(Error::Mac)), "{cipher:?}/{mac:?}: {r:?}");
    }
}

#[test]
fn dh_need_sizes_group_exchange_like_openssh() {
    use crate::kex::methods::dh_estimate;
    // The preferred size OpenSSH 9.2's ssh sends in SSH2_MSG_KEX_DH_GEX_REQUEST for
    // the pair, as `ssh -vvv -c <cipher> -m <mac>` shows.
    let cases = [
        (Cipher::TripleDesCbc, Some(Mac::HmacSha256Etm), 8192),
        (Cipher::TripleDesCbc, Some(Mac::HmacSha1), 7680),
        (Cipher::Aes128Ctr, Some(Mac::HmacSha256Etm), 8192),
        (Cipher::Aes192Cbc, Some(Mac::HmacSha1), 7680),
        (Cipher::Aes128Gcm, None, 3072),
        (Cipher::Aes256Gcm, None, 8192),
        (Cipher::Chacha20Poly1305, None, 8192),
    ];
    for (cipher, mac, bits) in cases {
        let need = dh_need(cipher, mac) as u32;
        assert_eq!(dh_estimate(8 * need), bits, "{cipher:?} {mac:?}");
    }
    // With umac-64 (a 16-byte key, not implemented here) OpenSSH asks for 3072 bits
    // for 3des-cbc and aes128-*, and 7680 for aes192-*: the cipher side of the formula.
    for (cipher, bits) in [
        (Cipher::TripleDesCbc, 3072),
        (Cipher::Aes128Cbc, 3072),
        (Cipher::Aes128Ctr, 3072),
        (Cipher::Aes192Cbc, 7680),
        (Cipher::Aes192Ctr, 7680),
    ] {
        let need = dh_need(cipher, None).max(16) as u32;
        assert_eq!(dh_estimate(8 * need), bits, "{cipher:?} umac-64");
    }
    assert_eq!(Cipher::TripleDesCbc.security_len(), 14);
    assert_eq!(Cipher::Aes192Cbc.security_len(), 24);
}

/// Every type that holds key material on the packet path wipes it when dropped: the
/// derived keys (`ZeroizeOnDrop`), the key copies the ciphers keep (`Zeroizing`), and
/// the primitives' states (RustCrypto crates built with their `zeroize` features; the
/// AES-GCM key lives in aws-lc, which wipes it itself). Were a feature or derive lost,
/// this would not compile. The derived keys' wipe (what their Drop runs) is checked to
/// clear every secret field.
#[test]
fn key_material_is_zeroized_on_drop() {
    use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};
    fn wipes<T: ZeroizeOnDrop>() {}
    wipes::<DirectionKeys>();
    wipes::<Zeroizing<[u8; 32]>>();
    wipes::<chacha20::ChaCha20>();
    wipes::<ctr::Ctr128BE<aes::Aes128>>();
    wipes::<ctr::Ctr128BE<aes::Aes256>>();
    wipes::<::cbc::Encryptor<aes::Aes256>>();
    wipes::<::cbc::Decryptor<aes::Aes128>>();
    // An HMAC's key lives in its inner and outer digest states.
    wipes::<<sha2::Sha256 as hmac::digest::block_api::EagerHash>::Core>();
    wipes::<<sha2::Sha512 as hmac::digest::block_api::EagerHash>::Core>();
    wipes::<<sha1::Sha1 as hmac::digest::block_api::EagerHash>::Core>();
    wipes::<x25519_dalek::StaticSecret>();
    wipes::<x25519_dalek::EphemeralSecret>();
    wipes::<ed25519_dalek::SigningKey>();
    wipes::<p256::ecdh::EphemeralSecret>();
    wipes::<p384::ecdh::EphemeralSecret>();
    wipes::<p521::ecdh::EphemeralSecret>();
    wipes::<ml_kem::DecapsulationKey768>();
    wipes::<sntrup761::DecapsulationKey>();
    // ssh-key's private keys (host keys, identities) wipe themselves in Drop impls of
    // their own, unconditionally.
    // Poly1305 wipes its one-time key in a Drop of its own, under its `zeroize` feature
    // (it implements no marker trait to check): the workspace must keep that feature.
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let poly = manifest
        .lines()
        .find(|l| l.starts_with("poly1305 "))
        .expect("poly1305 in the workspace dependencies");
    assert!(poly.contains("\"zeroize\""), "{poly}");
    let mut keys = DirectionKeys {
        cipher: Cipher::Aes256Ctr,
        mac: Some(Mac::HmacSha256),
        key: vec![0xa5; 32],
        iv: vec![0x5a; 16],
        mac_key: vec![0x3c; 32],
    };
    keys.zeroize();
    assert!(
        keys.key
            .iter()
            .chain(&keys.iv)
            .chain(&keys.mac_key)
            .all(|&b| b == 0),
        "a secret survived"
    );
}
