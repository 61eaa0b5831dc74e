//! Feeds the connection protocol's type-specific decoders of `oxssh_proto::forward`
//! (RFC 4254 §6-7, OpenSSH `PROTOCOL` §2): the input's first byte picks a channel
//! type, global request or channel request name (one of each kind we know, plus one
//! we do not), the rest is its data. Whatever decodes must encode back to data that
//! decodes to the same value; the tcpip-forward reply parser gets the data as well.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_proto::forward::{ChannelOpen, ChannelRequest, GlobalRequest, parse_tcpip_forward_reply};

const OPENS: &[&str] = &[
    "session",
    "direct-tcpip",
    "forwarded-tcpip",
    "direct-streamlocal@openssh.com",
    "forwarded-streamlocal@openssh.com",
    "x11",
    "auth-agent@openssh.com",
    "tun@openssh.com",
    "unknown@example.com",
];
const GLOBALS: &[&str] = &[
    "tcpip-forward",
    "cancel-tcpip-forward",
    "streamlocal-forward@openssh.com",
    "cancel-streamlocal-forward@openssh.com",
    "no-more-sessions@openssh.com",
    "keepalive@openssh.com",
    "unknown@example.com",
];
const REQUESTS: &[&str] = &[
    "x11-req",
    "signal",
    "exit-signal",
    "break",
    "xon-xoff",
    "eow@openssh.com",
    "auth-agent-req@openssh.com",
    "unknown@example.com",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let pick = usize::from(pick);
    let _ = parse_tcpip_forward_reply(data);
    let open = OPENS[pick % OPENS.len()];
    if let Some(Ok(v)) = ChannelOpen::decode(open, data) {
        assert_eq!(v.kind(), open);
        let again = ChannelOpen::decode(open, &v.encode());
        assert_eq!(again.map(Result::ok), Some(Some(v)));
    }
    let global = GLOBALS[pick % GLOBALS.len()];
    if let Some(Ok(v)) = GlobalRequest::decode(global, data) {
        assert_eq!(v.name(), global);
        let again = GlobalRequest::decode(global, &v.encode());
        assert_eq!(again.map(Result::ok), Some(Some(v)));
    }
    let request = REQUESTS[pick % REQUESTS.len()];
    if let Some(Ok(v)) = ChannelRequest::decode(request, data) {
        assert_eq!(v.name(), request);
        let again = ChannelRequest::decode(request, &v.encode());
        assert_eq!(again.map(Result::ok), Some(Some(v)));
    }
});
