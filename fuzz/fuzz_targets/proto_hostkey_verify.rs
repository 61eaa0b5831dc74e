//! Feeds `oxssh_proto::hostkey::verify`, which every host key signature (KEX reply)
//! and user key signature (publickey auth) goes through: the input is three
//! u16-length-framed chunks — key blob, signed data, signature blob — after a byte that
//! picks the signature algorithm (any of `SigAlg::ALL`, certificate and `sk-`
//! variants included). The fuzzer cannot forge a signature; what is tested is that no
//! key or signature encoding (RSA, ECDSA point, Ed25519, security-key, certificate
//! framing) panics or hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_proto::hostkey::{self, SigAlg};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let alg = SigAlg::ALL[usize::from(input.u8()) % SigAlg::ALL.len()];
    let key_blob = input.chunk();
    let signed = input.chunk();
    let sig = input.chunk();
    let _ = hostkey::verify(alg, key_blob, signed, sig);
    assert_eq!(alg.cert().plain(), alg.plain());
});
