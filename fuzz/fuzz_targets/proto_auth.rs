//! Feeds the user authentication decoders of `oxssh_proto::auth` (RFC 4252, RFC 4256,
//! OpenSSH `PROTOCOL` §3.1): the input's first byte picks the number of answers the
//! server expects; the rest is one message payload (message byte included) given to
//! `parse_request` (server side), `parse_reply` under every pending method (client
//! side), `parse_info_response` and `parse_service`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_proto::auth::{self, Method, Pending, Reply};

fuzz_target!(|data: &[u8]| {
    let Some((&expected, payload)) = data.split_first() else {
        return;
    };
    if let Ok(req) = auth::parse_request(payload) {
        let _ = req.method_name();
        if let Method::PublicKey {
            alg,
            key_blob,
            hostbound,
            signature: Some(sig),
        } = &req.method
        {
            // What a server then rebuilds to verify the signature over.
            let d = auth::publickey_signed_data(
                b"session",
                &req.user,
                &req.service,
                alg,
                key_blob,
                hostbound.as_deref(),
            );
            let _ = auth::request_publickey_signed(&d, sig);
        }
    }
    for p in [
        Pending::None,
        Pending::PublicKey,
        Pending::Password,
        Pending::KeyboardInteractive,
    ] {
        if let Ok(Reply::InfoRequest { prompts, .. }) = auth::parse_reply(payload, p) {
            // The bound is what keeps a peer from making us allocate: check it holds.
            assert!(prompts.len() <= 100);
        }
    }
    if let Ok(answers) = auth::parse_info_response(payload, usize::from(expected)) {
        assert_eq!(answers.len(), usize::from(expected));
    }
    let _ = auth::parse_service(payload);
});
