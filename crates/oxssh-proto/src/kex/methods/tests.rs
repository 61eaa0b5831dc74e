//! Unit tests for the key exchange methods: both sides agree on `K` for every method, the
//! encodings have the shapes RFC 4253 §7.2/§8, RFC 5656, RFC 8731 and the hybrid drafts
//! give them, bad peer values are errors (never panics), the fixed groups are what the
//! RFCs define, and moduli parsing / group choice behave like OpenSSH's.

use super::*;
use crate::wire::Reader;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5eed)
}

/// Run one exchange in memory; returns (client K, server K, client INIT value, server
/// REPLY value as encoded by each side).
fn exchange(alg: KexAlg, rng: &mut StdRng) -> (SharedSecret, SharedSecret) {
    let group = DhGroup::group14();
    let (client, init) = if alg.is_gex() {
        KexClient::start_gex(alg, &group, rng).unwrap()
    } else {
        KexClient::start(alg, rng).unwrap()
    };
    // The transport parses the raw field out of INIT: mpint for DH, string otherwise.
    let dh_like = alg.is_gex() || alg.dh_group().is_some();
    let mut r = Reader::new(&init);
    let client_raw = if dh_like {
        r.mpint().unwrap()
    } else {
        r.string().unwrap()
    };
    r.finish().unwrap();
    let (reply, client_enc, k_server) = if alg.is_gex() {
        kex_server_gex(alg, &group, client_raw, rng).unwrap()
    } else {
        kex_server(alg, client_raw, rng).unwrap()
    };
    assert_eq!(
        client_enc,
        init,
        "{}: client value re-encoded differently",
        alg.name()
    );
    let mut r = Reader::new(&reply);
    let server_raw = if dh_like {
        r.mpint().unwrap()
    } else {
        r.string().unwrap()
    };
    r.finish().unwrap();
    let (k_client, server_enc) = client.finish(server_raw).unwrap();
    assert_eq!(
        server_enc,
        reply,
        "{}: server value re-encoded differently",
        alg.name()
    );
    (k_client, k_server)
}

#[test]
fn every_method_agrees_on_the_shared_secret() {
    let mut rng = rng();
    for &alg in KexAlg::ALL {
        let (kc, ks) = exchange(alg, &mut rng);
        assert_eq!(kc.encoded(), ks.encoded(), "{}", alg.name());
        // A second run gives a different secret (fresh ephemeral keys).
        let (kc2, _) = exchange(alg, &mut rng);
        assert_ne!(kc.encoded(), kc2.encoded(), "{}", alg.name());
    }
}

#[test]
fn shared_secret_encodings() {
    let mut rng = rng();
    for &alg in KexAlg::ALL {
        let (k, _) = exchange(alg, &mut rng);
        let mut r = Reader::new(k.encoded());
        match alg {
            KexAlg::MlKem768X25519Sha256
            | KexAlg::Sntrup761X25519Sha512
            | KexAlg::Sntrup761X25519Sha512OpenSsh => {
                // string HASH(K_PQ || K_CL)
                let s = r.string().unwrap();
                assert_eq!(s.len(), alg.hash().output_len(), "{}", alg.name());
            }
            _ => {
                // mpint: minimal, non-negative.
                let m = r.mpint().unwrap();
                assert!(!m.is_empty());
                assert!(
                    m[0] != 0 || m.get(1).is_some_and(|b| b & 0x80 != 0),
                    "{}",
                    alg.name()
                );
                let max = match alg {
                    KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => 33,
                    KexAlg::EcdhNistp256 => 33,
                    KexAlg::EcdhNistp384 => 49,
                    KexAlg::EcdhNistp521 => 67,
                    _ => alg.dh_group().map_or(2048, |g| g.bits()) / 8 + 1,
                };
                assert!(m.len() <= max, "{}: {}", alg.name(), m.len());
            }
        }
        r.finish().unwrap();
    }
}

#[test]
fn public_value_shapes() {
    let mut rng = rng();
    let cases: &[(KexAlg, usize)] = &[
        (KexAlg::MlKem768X25519Sha256, 1184 + 32),
        (KexAlg::Sntrup761X25519Sha512, 1158 + 32),
        (KexAlg::Sntrup761X25519Sha512OpenSsh, 1158 + 32),
        (KexAlg::Curve25519Sha256, 32),
        (KexAlg::Curve25519Sha256LibSsh, 32),
        (KexAlg::EcdhNistp256, 65),
        (KexAlg::EcdhNistp384, 97),
        (KexAlg::EcdhNistp521, 133),
    ];
    for &(alg, len) in cases {
        let (_c, init) = KexClient::start(alg, &mut rng).unwrap();
        let mut r = Reader::new(&init);
        let q = r.string().unwrap();
        assert_eq!(q.len(), len, "{}", alg.name());
        if matches!(
            alg,
            KexAlg::EcdhNistp256 | KexAlg::EcdhNistp384 | KexAlg::EcdhNistp521
        ) {
            assert_eq!(q[0], 4, "uncompressed point");
        }
    }
    // S_REPLY of the hybrids: ciphertext || X25519 public.
    for (alg, len) in [
        (KexAlg::MlKem768X25519Sha256, 1088 + 32),
        (KexAlg::Sntrup761X25519Sha512, 1039 + 32),
    ] {
        let (_c, init) = KexClient::start(alg, &mut rng).unwrap();
        let (reply, _, _) = kex_server(alg, &init[4..], &mut rng).unwrap();
        assert_eq!(Reader::new(&reply).string().unwrap().len(), len);
    }
}

#[test]
fn names_hashes_and_defaults() {
    assert_eq!(KexAlg::ALL.len(), 15);
    let names: Vec<_> = KexAlg::ALL
        .iter()
        .filter(|a| a.is_default())
        .map(|a| a.name())
        .collect();
    assert_eq!(
        names.join(","),
        "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,\
         curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,\
         ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,\
         diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
    );
    for &alg in KexAlg::ALL {
        assert_eq!(KexAlg::from_name(alg.name()), Some(alg));
        assert_eq!(alg.name().ends_with("sha1"), alg.hash() == HashAlg::Sha1);
    }
    // `ssh -Q kex` order: OpenSSH 9.2's, with OpenSSH 10's mlkem768x25519-sha256 last
    // (kex-names.c), each method once.
    let table: Vec<_> = KexAlg::IMPLEMENTED.iter().map(|a| a.name()).collect();
    assert_eq!(
        table.join(","),
        "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,\
         diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,\
         diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256,\
         ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,\
         curve25519-sha256@libssh.org,sntrup761x25519-sha512,\
         sntrup761x25519-sha512@openssh.com,mlkem768x25519-sha256"
    );
    assert!(KexAlg::ALL.iter().all(|a| KexAlg::IMPLEMENTED.contains(a)));
    assert_eq!(KexAlg::IMPLEMENTED.len(), KexAlg::ALL.len());
    assert_eq!(KexAlg::from_name("diffie-hellman-group15-sha512"), None);
    assert_eq!(KexAlg::from_name("mlkem768x25519-sha256 "), None);
    assert_eq!(KexAlg::EcdhNistp384.hash(), HashAlg::Sha384);
    assert_eq!(KexAlg::Sntrup761X25519Sha512OpenSsh.hash(), HashAlg::Sha512);
    assert!(KexAlg::DhGexSha1.is_gex() && KexAlg::DhGexSha256.is_gex());
    assert!(!KexAlg::DhGroup14Sha256.is_gex());
    for h in [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        assert_eq!(h.digest(&[b"ab", b"c"]), h.digest(&[b"abc"]));
        assert_eq!(h.digest(&[]).len(), h.output_len());
    }
    // FIPS 180 "abc" vector.
    assert_eq!(
        HashAlg::Sha256.digest(&[b"abc"])[..4],
        [0xba, 0x78, 0x16, 0xbf]
    );
}

#[test]
fn gex_methods_need_a_group_and_fixed_ones_refuse_one() {
    let mut rng = rng();
    assert!(KexClient::start(KexAlg::DhGexSha256, &mut rng).is_err());
    assert!(kex_server(KexAlg::DhGexSha1, &[1, 2, 3], &mut rng).is_err());
    assert!(KexClient::start_gex(KexAlg::Curve25519Sha256, &DhGroup::group14(), &mut rng).is_err());
    assert!(
        kex_server_gex(
            KexAlg::DhGroup14Sha256,
            &DhGroup::group14(),
            &[5; 64],
            &mut rng
        )
        .is_err()
    );
}

#[test]
fn gex_with_every_builtin_group_size() {
    let mut rng = rng();
    for group in [DhGroup::group1(), DhGroup::group16()] {
        let (c, init) = KexClient::start_gex(KexAlg::DhGexSha256, &group, &mut rng).unwrap();
        let e = Reader::new(&init).mpint().unwrap().to_vec();
        let (f_enc, _, ks) = kex_server_gex(KexAlg::DhGexSha256, &group, &e, &mut rng).unwrap();
        let f = Reader::new(&f_enc).mpint().unwrap().to_vec();
        let (kc, _) = c.finish(&f).unwrap();
        assert_eq!(kc.encoded(), ks.encoded());
    }
}

#[test]
fn bad_gex_groups_are_refused() {
    let mut rng = rng();
    let g14 = DhGroup::group14();
    let bad = [
        // even modulus
        DhGroup {
            p: {
                let mut p = g14.p.clone();
                *p.last_mut().unwrap() ^= 1;
                p
            },
            g: vec![2],
        },
        // too small
        DhGroup {
            p: vec![0xff; 64],
            g: vec![2],
        },
        // too large (over 8192 bits)
        DhGroup {
            p: vec![0xff; 1025],
            g: vec![2],
        },
        // generator 0, 1, p-1, p
        DhGroup {
            p: g14.p.clone(),
            g: vec![],
        },
        DhGroup {
            p: g14.p.clone(),
            g: vec![1],
        },
        DhGroup {
            p: g14.p.clone(),
            g: {
                let mut p = g14.p.clone();
                *p.last_mut().unwrap() -= 1;
                p
            },
        },
        DhGroup {
            p: g14.p.clone(),
            g: g14.p.clone(),
        },
        DhGroup {
            p: vec![],
            g: vec![2],
        },
    ];
    for group in &bad {
        assert!(
            KexClient::start_gex(KexAlg::DhGexSha256, group, &mut rng).is_err(),
            "{group:?}"
        );
        assert!(kex_server_gex(KexAlg::DhGexSha256, group, &[3; 200], &mut rng).is_err());
    }
    // Leading zero bytes on p and g are only padding.
    let padded = DhGroup {
        p: [&[0u8, 0][..], &g14.p].concat(),
        g: vec![0, 2],
    };
    assert_eq!(padded.bits(), 2048);
    assert!(KexClient::start_gex(KexAlg::DhGexSha256, &padded, &mut rng).is_ok());
}

/// Subtract one from a big-endian magnitude (test helper).
fn minus(mut v: Vec<u8>, d: u8) -> Vec<u8> {
    let mut borrow = d;
    for b in v.iter_mut().rev() {
        let (n, o) = b.overflowing_sub(borrow);
        *b = n;
        borrow = u8::from(o);
        if borrow == 0 {
            break;
        }
    }
    v
}

#[test]
fn dh_public_values_out_of_range_are_refused() {
    let mut rng = rng();
    let p = DhGroup::group14().p;
    let bad: Vec<Vec<u8>> = vec![
        vec![],                                  // 0
        vec![0],                                 // 0 with padding
        vec![1],                                 // 1
        vec![0, 0, 1],                           // 1 with padding
        vec![2],                                 // too few bits set
        vec![0x40, 0, 0, 0],                     // one bit set
        minus(p.clone(), 1),                     // p-1
        [&[0u8][..], &p].concat(),               // p (as a positive mpint)
        [&[0u8][..], &vec![0xff; 256]].concat(), // 2^2048 - 1 > p
        [&[0u8][..], &vec![0xff; 300]].concat(), // longer than p
        vec![0x80, 1, 2, 3],                     // negative mpint
    ];
    for alg in [KexAlg::DhGroup14Sha256, KexAlg::DhGroup14Sha1] {
        for f in &bad {
            let (c, _) = KexClient::start(alg, &mut rng).unwrap();
            assert!(matches!(c.finish(f), Err(Error::Kex(_))), "f = {f:02x?}");
            assert!(
                matches!(kex_server(alg, f, &mut rng), Err(Error::Kex(_))),
                "e = {f:02x?}"
            );
        }
    }
    // p-2 is the largest value allowed.
    let (c, _) = KexClient::start(KexAlg::DhGroup14Sha256, &mut rng).unwrap();
    assert!(c.finish(&[&[0u8][..], &minus(p, 2)].concat()).is_ok());
}

#[test]
fn x25519_low_order_points_are_refused() {
    let mut rng = rng();
    // Points whose X25519 output is all zero (RFC 7748 §6.1; u = 0 and u = 1 are the
    // simplest members of the small subgroup).
    let mut low_order = vec![[0u8; 32]];
    let mut one = [0u8; 32];
    one[0] = 1;
    low_order.push(one);
    for q in &low_order {
        for alg in [KexAlg::Curve25519Sha256, KexAlg::Curve25519Sha256LibSsh] {
            let (c, _) = KexClient::start(alg, &mut rng).unwrap();
            assert!(matches!(c.finish(q), Err(Error::Kex(_))));
            assert!(matches!(kex_server(alg, q, &mut rng), Err(Error::Kex(_))));
        }
        // The hybrids refuse it too, with a valid PQ part.
        for alg in [KexAlg::MlKem768X25519Sha256, KexAlg::Sntrup761X25519Sha512] {
            let (c, init) = KexClient::start(alg, &mut rng).unwrap();
            let mut client_value = init[4..].to_vec();
            let at = client_value.len() - 32;
            client_value[at..].copy_from_slice(q);
            assert!(kex_server(alg, &client_value, &mut rng).is_err());
            let (reply, _, _) = kex_server(alg, &init[4..], &mut rng).unwrap();
            let mut server_value = reply[4..].to_vec();
            let at = server_value.len() - 32;
            server_value[at..].copy_from_slice(q);
            assert!(c.finish(&server_value).is_err());
        }
    }
}

#[test]
fn ecdh_points_off_the_curve_or_compressed_are_refused() {
    let mut rng = rng();
    for (alg, field) in [
        (KexAlg::EcdhNistp256, 32),
        (KexAlg::EcdhNistp384, 48),
        (KexAlg::EcdhNistp521, 66),
    ] {
        let (_, init) = KexClient::start(alg, &mut rng).unwrap();
        let good = Reader::new(&init).string().unwrap().to_vec();
        let mut off_curve = good.clone();
        *off_curve.last_mut().unwrap() ^= 1;
        let mut compressed = vec![2 + (good[good.len() - 1] & 1)];
        compressed.extend_from_slice(&good[1..=field]);
        let identity = vec![0u8];
        let mut zero_point = vec![4u8];
        zero_point.extend(std::iter::repeat_n(0, 2 * field));
        let mut big_coord = vec![4u8];
        big_coord.extend(std::iter::repeat_n(0xff, 2 * field));
        for q in [
            off_curve,
            compressed,
            identity,
            zero_point,
            big_coord,
            good[..good.len() - 1].to_vec(),
        ] {
            let (c, _) = KexClient::start(alg, &mut rng).unwrap();
            assert!(
                matches!(c.finish(&q), Err(Error::Kex(_))),
                "{}: {q:02x?}",
                alg.name()
            );
            assert!(matches!(kex_server(alg, &q, &mut rng), Err(Error::Kex(_))));
        }
        // The good point is accepted by the server.
        assert!(kex_server(alg, &good, &mut rng).is_ok());
    }
}

#[test]
fn wrong_lengths_and_garbage_are_errors_not_panics() {
    let mut rng = rng();
    for &alg in KexAlg::ALL {
        let group = DhGroup::group14();
        // Lengths around the ones each method expects (key generation is slow in debug
        // builds, so no more than that).
        let lens: &[usize] = match alg {
            KexAlg::MlKem768X25519Sha256 => &[0, 1120, 1216, 1217],
            KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh => {
                &[1070, 1071, 1190]
            }
            KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => &[0, 1, 31, 32, 33],
            KexAlg::EcdhNistp256 | KexAlg::EcdhNistp384 | KexAlg::EcdhNistp521 => {
                &[0, 1, 33, 49, 65, 67, 97, 99, 133, 135]
            }
            _ => &[1, 256, 600],
        };
        for &len in lens {
            for fill in 0..2 {
                let v: Vec<u8> = match fill {
                    0 => vec![0; len],
                    _ => (0..len).map(|_| rng.random()).collect(),
                };
                let (c, _) = if alg.is_gex() {
                    KexClient::start_gex(alg, &group, &mut rng).unwrap()
                } else {
                    KexClient::start(alg, &mut rng).unwrap()
                };
                // Must not panic; random values of the right length may be accepted by
                // the KEMs (implicit rejection) and DH (any value in range).
                let _ = c.finish(&v);
                let _ = if alg.is_gex() {
                    kex_server_gex(alg, &group, &v, &mut rng)
                } else {
                    kex_server(alg, &v, &mut rng)
                };
            }
        }
        // Lengths that are wrong for the method are always refused.
        let wrong: &[usize] = match alg {
            KexAlg::MlKem768X25519Sha256 => &[0, 32, 1184, 1215, 1217],
            KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh => {
                &[0, 32, 1158, 1189, 1191]
            }
            KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => &[0, 31, 33],
            KexAlg::EcdhNistp256 => &[0, 33, 64, 66],
            KexAlg::EcdhNistp384 => &[0, 49, 96, 98],
            KexAlg::EcdhNistp521 => &[0, 67, 132, 134],
            _ => &[0],
        };
        for &len in wrong {
            let v: Vec<u8> = (0..len).map(|i| (i as u8) | 0x11).collect();
            let v = if v.is_empty() {
                v
            } else {
                [&[4u8][..], &v[1..]].concat()
            };
            let ok = if alg.is_gex() {
                kex_server_gex(alg, &group, &v, &mut rng).is_ok()
            } else {
                kex_server(alg, &v, &mut rng).is_ok()
            };
            assert!(!ok, "{} accepted a {len}-byte value", alg.name());
        }
    }
}

#[test]
fn ml_kem_encapsulation_key_check() {
    // FIPS 203 §7.2: an encapsulation key with a coefficient >= q is refused. All-ones
    // bytes decode to 12-bit coefficients of 4095 > 3329.
    let mut rng = rng();
    let mut v = vec![0xff; 1184];
    v.extend_from_slice(&[9; 32]);
    assert!(matches!(
        kex_server(KexAlg::MlKem768X25519Sha256, &v, &mut rng),
        Err(Error::Kex(_))
    ));
}

#[test]
fn fixed_groups_are_the_rfc_safe_primes() {
    for (group, bits) in [
        (DhGroup::group1(), 1024),
        (DhGroup::group14(), 2048),
        (DhGroup::group16(), 4096),
        (DhGroup::group18(), 8192),
    ] {
        assert_eq!(group.bits(), bits);
        assert_eq!(group.p.len(), bits / 8);
        assert_eq!(group.g, [2]);
        // The RFC 3526 shape: top and bottom 64 bits all ones.
        assert!(
            group.p[..8]
                .iter()
                .chain(&group.p[bits / 8 - 8..])
                .all(|&b| b == 0xff)
        );
        // The pi digits start the same in every group.
        assert_eq!(group.p[8..12], [0xc9, 0x0f, 0xda, 0xa2]);
        if bits <= 4096 {
            assert!(dh::is_probable_safe_prime(&group), "group of {bits} bits");
        }
    }
    assert_eq!(KexAlg::DhGroup14Sha1.dh_group(), Some(DhGroup::group14()));
    assert_eq!(KexAlg::DhGroup18Sha512.dh_group().unwrap().bits(), 8192);
    assert_eq!(KexAlg::Curve25519Sha256.dh_group(), None);
}

#[test]
#[ignore = "slow in debug builds (8192-bit Fermat tests); run with --ignored"]
fn group18_is_a_safe_prime() {
    assert!(dh::is_probable_safe_prime(&DhGroup::group18()));
}

const MODULI_SAMPLE: &str = "\
# Time Type Tests Tries Size Generator Modulus
    \t
20220714110357 2 6 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 1 6 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 7 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 0 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 6 0 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 6 100 1024 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 6 100 1023 1 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
20220714110357 2 6 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFG
20220714110357 2 6 100 1023 2 FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF extra
20220714110357 2 6 100 1023 2
";

#[test]
fn moduli_lines_are_filtered_like_openssh() {
    let entries = parse_moduli(MODULI_SAMPLE);
    // Only the first line is valid: the others have type 1, the composite bit, no tests,
    // no tries, a wrong size, generator 1, a bad hex digit, an extra field, no modulus.
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].bits, 1024);
    assert_eq!(entries[0].group, DhGroup::group1());
}

#[test]
fn choose_group_prefers_the_smallest_at_least_wanted() {
    let mut rng = rng();
    let mk = |bits: u32, tag: u8| ModuliEntry {
        bits,
        group: DhGroup {
            p: vec![tag; (bits / 8) as usize],
            g: vec![2],
        },
    };
    let moduli = vec![
        mk(2048, 1),
        mk(3072, 2),
        mk(3072, 3),
        mk(4096, 4),
        mk(8192, 5),
    ];
    let pick = |min, want, max, rng: &mut StdRng| {
        choose_group_with_rng(&moduli, min, want, max, rng).map(|g| g.p[0])
    };
    let mut seen = std::collections::HashSet::new();
    for _ in 0..64 {
        seen.insert(pick(2048, 3000, 8192, &mut rng).unwrap());
    }
    assert_eq!(
        seen,
        [2u8, 3].into_iter().collect(),
        "random among the best size"
    );
    assert_eq!(pick(2048, 4096, 8192, &mut rng), Some(4));
    assert_eq!(pick(2048, 8192, 8192, &mut rng), Some(5));
    // Nothing above want within max: the largest below.
    assert_eq!(pick(2048, 7680, 7680, &mut rng), Some(4));
    // min/want/max clamp to 2048..8192.
    assert_eq!(pick(1024, 1024, 2048, &mut rng), Some(1));
    assert_eq!(pick(2048, 9000, 16384, &mut rng), Some(5));
    // Out-of-range requests.
    assert_eq!(pick(4096, 3072, 8192, &mut rng), None);
    assert_eq!(pick(2048, 9000, 8192, &mut rng), None);
    assert_eq!(pick(1024, 1024, 1536, &mut rng), None);
    // No prime in range.
    assert_eq!(pick(5000, 6000, 7000, &mut rng), None);
    // No moduli: the built-in group chosen by max (OpenSSH dh_new_group_fallback).
    assert_eq!(
        choose_group_with_rng(&[], 2048, 2048, 2048, &mut rng),
        Some(DhGroup::group14())
    );
    assert_eq!(
        choose_group_with_rng(&[], 2048, 3072, 6143, &mut rng),
        Some(DhGroup::group16())
    );
    assert_eq!(
        choose_group(&[], 2048, 3072, 8192),
        Some(DhGroup::group18())
    );
    assert_eq!(dh_estimate(128), 3072);
    assert_eq!(dh_estimate(256), 8192);
}

#[test]
fn system_moduli_file() {
    let Ok(text) = std::fs::read_to_string("/etc/ssh/moduli") else {
        eprintln!("skipped: /etc/ssh/moduli not present");
        return;
    };
    let entries = parse_moduli(&text);
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert!(!entries.is_empty());
    assert_eq!(
        entries.len(),
        lines,
        "every line of the shipped file is valid"
    );
    for e in &entries {
        assert_eq!(e.group.bits() as u32, e.bits);
        assert_eq!(e.group.p.last().map(|b| b & 1), Some(1));
    }
    let mut rng = rng();
    let g = choose_group_with_rng(&entries, 2048, 3072, 8192, &mut rng).unwrap();
    assert!(g.bits() >= 3072 && g.bits() <= 8192);
    assert!(entries.iter().any(|e| e.group == g));
    // And a group from the file works for an exchange.
    let small = entries.iter().min_by_key(|e| e.bits).unwrap();
    let (c, init) = KexClient::start_gex(KexAlg::DhGexSha256, &small.group, &mut rng).unwrap();
    let e = Reader::new(&init).mpint().unwrap().to_vec();
    let (f, _, ks) = kex_server_gex(KexAlg::DhGexSha256, &small.group, &e, &mut rng).unwrap();
    let (kc, _) = c.finish(Reader::new(&f).mpint().unwrap()).unwrap();
    assert_eq!(kc.encoded(), ks.encoded());
}

#[test]
fn shared_secret_debug_shows_nothing() {
    let mut rng = rng();
    let (k, _) = exchange(KexAlg::Curve25519Sha256, &mut rng);
    assert_eq!(format!("{k:?}"), "SharedSecret(..)");
}
