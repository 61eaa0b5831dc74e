//! Feeds the ssh-agent protocol codec of `oxssh_agent` (draft-miller-ssh-agent): the
//! first 4 bytes as a frame header to `frame_len`, the rest as a message body to
//! `Request::decode` (what an agent receives) and `Response::decode` (what a client
//! receives). A message that decodes must encode back to the same framed bytes when
//! the input was canonical, and always to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_agent::{Request, Response, frame_len};

fuzz_target!(|data: &[u8]| {
    if let Some(h) = data.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()) {
        let _ = frame_len(h);
    }
    let body = data.get(4..).unwrap_or(data);
    if let Ok(req) = Request::decode(body) {
        let framed = req.encode();
        let back = framed.get(4..).unwrap_or_default();
        assert_eq!(back, body, "request did not re-encode to its bytes");
        assert_eq!(Request::decode(back).ok(), Some(req));
    }
    if let Ok(resp) = Response::decode(body) {
        let framed = resp.encode();
        let back = framed.get(4..).unwrap_or_default();
        assert_eq!(Response::decode(back).ok(), Some(resp.clone()));
        // Failure has several wire codes and comments are read lossily: only a
        // canonical body must come back byte for byte.
        let lossy = match &resp {
            Response::Failure => true,
            Response::Identities(ids) => ids.iter().any(|i| i.comment.contains('\u{FFFD}')),
            _ => false,
        };
        if !lossy {
            assert_eq!(back, body, "response did not re-encode to its bytes");
        }
    }
});
