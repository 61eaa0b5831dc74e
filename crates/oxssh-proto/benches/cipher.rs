//! Packet-protection throughput: `SealingKey::seal` + `OpeningKey::packet_length` +
//! `OpeningKey::open` on 32 KiB packets, side by side with the raw RustCrypto primitives
//! doing the same cryptographic work on the same number of bytes, and the ratio of the
//! two (the goal is at least 85%).
//!
//! The primitive columns use each crate at its fastest: keyed HMAC states cloned per
//! packet rather than re-keyed, Poly1305 fed whole blocks, GCM through the in-place
//! detached API. What they leave out (the K_1 length encryption of chacha20-poly1305,
//! the per-packet nonce/IV bookkeeping, length and alignment checks) is the overhead
//! being measured.
//!
//! Our GCM runs on aws-lc-rs, so its primitive column is aws-lc-rs; a last table sets
//! the candidate backends of each AEAD side by side (RustCrypto, aws-lc-rs).
//!
//! Not a statistical benchmark harness: plain `std::time`, best of a few alternating
//! rounds to shrug off noise from other processes. Run with
//! `cargo bench -p oxssh-proto --bench cipher`; results go to docs/performance.md.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInOut;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit};
use oxssh_proto::cipher::{Cipher, DirectionKeys, Mac, OpeningKey, SealingKey};
use poly1305::Poly1305;
use poly1305::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;

type Res<T = ()> = Result<T, Box<dyn Error>>;
/// One benchmarked unit of work (seal and open one packet).
type Job = Box<dyn FnMut() -> Res>;
/// HMAC of the first argument, written into the second.
type HmacFn = Box<dyn Fn(&[u8], &mut [u8])>;

const PAYLOAD: usize = 32 * 1024;
/// Alternating rounds per side; the best of each is reported.
const ROUNDS: usize = 3;
const ROUND_TIME: Duration = Duration::from_millis(400);

fn main() -> Res {
    print_cpu_features();
    println!(
        "{:<30} {:<30} {:>11} {:>11} {:>7}",
        "cipher", "mac", "oxssh MiB/s", "raw MiB/s", "ratio"
    );
    for &cipher in Cipher::ALL {
        let macs: Vec<Option<Mac>> = if cipher.is_aead() {
            vec![None]
        } else {
            Mac::ALL.iter().copied().map(Some).collect()
        };
        for mac in macs {
            let keys = DirectionKeys {
                cipher,
                mac,
                key: filler(cipher.key_len(), 1),
                iv: filler(cipher.iv_len(), 2),
                mac_key: filler(mac.map_or(0, Mac::key_len), 3),
            };
            let mut ours = ours(&keys)?;
            let mut raw = raw(&keys)?;
            let (mut best_ours, mut best_raw) = (0f64, 0f64);
            for _ in 0..ROUNDS {
                best_ours = best_ours.max(measure(&mut ours)?);
                best_raw = best_raw.max(measure(&mut raw)?);
            }
            println!(
                "{:<30} {:<30} {:>11.0} {:>11.0} {:>6.1}%",
                cipher.name(),
                mac.map_or("-", Mac::name),
                best_ours,
                best_raw,
                100.0 * best_ours / best_raw
            );
        }
    }
    compare_backends()
}

fn print_cpu_features() {
    #[cfg(target_arch = "x86_64")]
    println!(
        "cpu: aes-ni {}, pclmulqdq {}, avx2 {}, sha-ni {}, vaes {} \
         (the aes crate picks AES-NI at run time; VAES only with --cfg aes_backend)",
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
        std::arch::is_x86_feature_detected!("avx2"),
        std::arch::is_x86_feature_detected!("sha"),
        std::arch::is_x86_feature_detected!("vaes"),
    );
    println!("packet payload: {PAYLOAD} bytes; MiB/s of payload sealed and opened\n");
}

/// Deterministic non-zero key material; the values do not matter for timing.
fn filler(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// MiB/s of payload over one round of calls to `f`, after a short warm-up.
fn measure(f: &mut dyn FnMut() -> Res) -> Res<f64> {
    for _ in 0..4 {
        f()?;
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < ROUND_TIME {
        for _ in 0..8 {
            f()?;
        }
        calls += 8;
    }
    let mib = (calls as f64) * (PAYLOAD as f64) / f64::from(1u32 << 20);
    Ok(mib / start.elapsed().as_secs_f64())
}

/// A packet laid out as the transport does: 32 KiB payload, padding to the alignment,
/// room for the tag.
fn packet(block: usize, length_in_alignment: bool, tag_len: usize) -> Res<Vec<u8>> {
    let counted = 1 + PAYLOAD + if length_in_alignment { 4 } else { 0 };
    let mut pad = block - counted % block;
    if pad < 4 {
        pad += block;
    }
    let packet_length = u32::try_from(1 + PAYLOAD + pad)?;
    let mut p = Vec::with_capacity(4 + 1 + PAYLOAD + pad + tag_len);
    p.extend_from_slice(&packet_length.to_be_bytes());
    p.push(u8::try_from(pad)?);
    p.extend_from_slice(&filler(PAYLOAD + pad, 9));
    p.resize(p.len() + tag_len, 0);
    Ok(p)
}

/// One call = seal one packet, then learn its length and open it, as both ends would.
fn ours(keys: &DirectionKeys) -> Res<Job> {
    let mut sealer = SealingKey::new(keys)?;
    let mut opener = OpeningKey::new(keys)?;
    let mut pkt = packet(
        sealer.block_size(),
        sealer.length_in_alignment(),
        sealer.tag_len(),
    )?;
    let mut seq = 0u32;
    Ok(Box::new(move || {
        sealer.seal(seq, &mut pkt)?;
        let head_len = opener.head_len();
        let head = pkt.get_mut(..head_len).ok_or("short packet")?;
        black_box(opener.packet_length(seq, head)?);
        opener.open(seq, &mut pkt)?;
        black_box(&pkt);
        seq = seq.wrapping_add(1);
        Ok(())
    }))
}

/// The same work straight on the primitives: encrypt + authenticate, then
/// authenticate + decrypt, over a buffer of the same size.
fn raw(keys: &DirectionKeys) -> Res<Job> {
    let sealer = SealingKey::new(keys)?;
    let pkt = packet(
        sealer.block_size(),
        sealer.length_in_alignment(),
        sealer.tag_len(),
    )?;
    let msg_len = pkt.len() - sealer.tag_len();
    let mut msg = pkt.get(..msg_len).ok_or("short packet")?.to_vec();
    Ok(match keys.cipher {
        Cipher::Chacha20Poly1305 => raw_chacha(keys.key.get(..32).ok_or("key")?, msg)?,
        Cipher::Aes128Gcm | Cipher::Aes256Gcm => {
            let aead = aws_gcm(&keys.key)?;
            Box::new(move || raw_aws_gcm(&aead, &mut msg))
        }
        Cipher::Aes128Ctr => raw_ctr::<ctr::Ctr128BE<aes::Aes128>>(keys, msg)?,
        Cipher::Aes192Ctr => raw_ctr::<ctr::Ctr128BE<aes::Aes192>>(keys, msg)?,
        Cipher::Aes256Ctr => raw_ctr::<ctr::Ctr128BE<aes::Aes256>>(keys, msg)?,
        Cipher::None => return Err("no primitive for none".into()),
        // Not in Cipher::ALL, which is all this bench runs: legacy, off by default.
        Cipher::TripleDesCbc | Cipher::Aes128Cbc | Cipher::Aes192Cbc | Cipher::Aes256Cbc => {
            return Err("legacy CBC ciphers are not benchmarked".into());
        }
    })
}

fn raw_chacha(key: &[u8], mut msg: Vec<u8>) -> Res<Job> {
    let key: [u8; 32] = key.try_into()?;
    let mut nonce = 0u64;
    fn poly(block0: &[u8; 64], data: &[u8]) -> Res<poly1305::Tag> {
        let key: &[u8; 32] = block0.first_chunk().ok_or("block")?;
        let mut p = <Poly1305 as KeyInit>::new(key.into());
        let (blocks, rest) = poly1305::Block::slice_as_chunks(data);
        p.update(blocks);
        Ok(p.compute_unpadded(rest))
    }
    Ok(Box::new(move || {
        let [a, b, c, d, e, f, g, h] = nonce.to_be_bytes();
        let n = [0, 0, 0, 0, a, b, c, d, e, f, g, h];
        for _ in 0..2 {
            // Encrypt then MAC, then (on the second turn) MAC then decrypt: the same
            // keystream and Poly1305 work either way.
            let mut c = chacha20::ChaCha20::new((&key).into(), (&n).into());
            let mut block0 = [0u8; 64];
            c.apply_keystream(&mut block0);
            let body = msg.get_mut(4..).ok_or("short")?;
            c.apply_keystream(body);
            black_box(poly(&block0, &msg)?);
        }
        nonce = nonce.wrapping_add(1);
        Ok(())
    }))
}

fn aws_gcm(key: &[u8]) -> Res<aws_lc_rs::aead::LessSafeKey> {
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, LessSafeKey, UnboundKey};
    let alg = if key.len() == 16 {
        &AES_128_GCM
    } else {
        &AES_256_GCM
    };
    Ok(LessSafeKey::new(
        UnboundKey::new(alg, key).map_err(|_| "key")?,
    ))
}

/// GCM straight on aws-lc-rs, the backend of our GCM.
fn raw_aws_gcm(aead: &aws_lc_rs::aead::LessSafeKey, msg: &mut [u8]) -> Res {
    use aws_lc_rs::aead::{Aad, Nonce};
    let (aad, body) = msg.split_first_chunk_mut::<4>().ok_or("short")?;
    let tag = aead
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key([0; 12]), Aad::from(*aad), body)
        .map_err(|_| "seal")?;
    aead.open_in_place_separate_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::from(*aad),
        tag.as_ref(),
        body,
    )
    .map_err(|_| "open")?;
    black_box(&msg);
    Ok(())
}

/// The same OpenSSH chacha20-poly1305 construction in aws-lc-rs (seal + open).
fn raw_aws_chacha(key: &[u8], mut msg: Vec<u8>) -> Res<Job> {
    use aws_lc_rs::aead::chacha20_poly1305_openssh::{OpeningKey, SealingKey};
    let key: &[u8; 64] = key.try_into()?;
    let (sealer, opener) = (SealingKey::new(key), OpeningKey::new(key));
    let mut seq = 0u32;
    Ok(Box::new(move || {
        let mut tag = [0u8; 16];
        sealer.seal_in_place(seq, &mut msg, &mut tag);
        opener
            .open_in_place(seq, &mut msg, &tag)
            .map_err(|_| "open")?;
        seq = seq.wrapping_add(1);
        Ok(())
    }))
}

/// The backends each AEAD could use, on the same work: what chose ours.
fn compare_backends() -> Res {
    println!("\nbackends (seal + open, MiB/s; ours marked *):");
    let msg = filler(4 + PAYLOAD + 12, 5);
    let key64 = filler(64, 1);
    let mut rc_chacha = raw_chacha(key64.get(..32).ok_or("key")?, msg.clone())?;
    let mut aws_chacha = raw_aws_chacha(&key64, msg.clone())?;
    let (mut m1, mut m2) = (msg.clone(), msg.clone());
    let rc128 = aes_gcm::Aes128Gcm::new_from_slice(key64.get(..16).ok_or("key")?)?;
    let aws128 = aws_gcm(key64.get(..16).ok_or("key")?)?;
    let mut rc_gcm: Job = Box::new(move || raw_gcm(&rc128, &mut m1));
    let mut aws_gcm128: Job = Box::new(move || raw_aws_gcm(&aws128, &mut m2));
    let rows: [(&str, &mut Job, &str, &mut Job); 2] = [
        (
            "chacha20-poly1305",
            &mut rc_chacha,
            "*RustCrypto chacha20+poly1305",
            &mut aws_chacha,
        ),
        (
            "aes128-gcm",
            &mut rc_gcm,
            "RustCrypto aes-gcm",
            &mut aws_gcm128,
        ),
    ];
    for (name, a, a_name, b) in rows {
        let (mut best_a, mut best_b) = (0f64, 0f64);
        for _ in 0..ROUNDS {
            best_a = best_a.max(measure(a)?);
            best_b = best_b.max(measure(b)?);
        }
        let b_name = if a_name.starts_with('*') {
            "aws-lc-rs"
        } else {
            "*aws-lc-rs"
        };
        println!("  {name:<20} {a_name:<32} {best_a:>7.0}   {b_name:<12} {best_b:>7.0}");
    }
    Ok(())
}

/// GCM on the RustCrypto `aes-gcm` crate, for the comparison of backends.
fn raw_gcm<A: AeadInOut>(aead: &A, msg: &mut [u8]) -> Res {
    let nonce = aes_gcm::aead::Nonce::<A>::default();
    let (aad, body) = msg.split_first_chunk_mut::<4>().ok_or("short")?;
    let tag = aead
        .encrypt_inout_detached(&nonce, aad.as_slice(), body.into())
        .map_err(|_| "seal")?;
    aead.decrypt_inout_detached(&nonce, aad.as_slice(), body.into(), &tag)
        .map_err(|_| "open")?;
    black_box(&msg);
    Ok(())
}

/// `S` is `ctr::Ctr128BE<aes::AesNNN>`: one keystream per direction, as in SSH.
fn raw_ctr<S>(keys: &DirectionKeys, mut msg: Vec<u8>) -> Res<Job>
where
    S: StreamCipher + KeyIvInit + 'static,
{
    let mut enc = S::new_from_slices(&keys.key, &keys.iv)?;
    let mut dec = S::new_from_slices(&keys.key, &keys.iv)?;
    let mac = keys.mac.ok_or("CTR needs a MAC")?;
    let mut tag = vec![0u8; mac.tag_len()];
    let hmac = raw_hmac(mac, &keys.mac_key)?;
    Ok(Box::new(move || {
        hmac(&msg, &mut tag);
        enc.apply_keystream(&mut msg);
        dec.apply_keystream(&mut msg);
        let mut check = [0u8; 64];
        let check = check.get_mut(..tag.len()).ok_or("tag")?;
        hmac(&msg, check);
        if !bool::from(check.ct_eq(&tag)) {
            return Err("mac mismatch".into());
        }
        Ok(())
    }))
}

/// HMAC of `data` with a keyed state cloned per call, written into `out`.
fn raw_hmac(mac: Mac, key: &[u8]) -> Res<HmacFn> {
    fn make<M: hmac::Mac + KeyInit + Clone + 'static>(key: &[u8]) -> Res<HmacFn> {
        let keyed = <M as KeyInit>::new_from_slice(key)?;
        Ok(Box::new(move |data: &[u8], out: &mut [u8]| {
            let mut m = keyed.clone();
            m.update(data);
            let t = m.finalize().into_bytes();
            out.iter_mut().zip(t.iter()).for_each(|(o, t)| *o = *t);
        }))
    }
    match mac {
        Mac::HmacSha1 | Mac::HmacSha1Etm => make::<Hmac<sha1::Sha1>>(key),
        Mac::HmacSha256 | Mac::HmacSha256Etm => make::<Hmac<sha2::Sha256>>(key),
        Mac::HmacSha512 | Mac::HmacSha512Etm => make::<Hmac<sha2::Sha512>>(key),
    }
}
