//! Feeds `oxssh_proto::connection::Connection` (RFC 4254 channels, windows, requests)
//! a script of steps read from the input: most opcodes deliver a u16-length-framed
//! peer message to `Connection::handle` or `handle_owned`; the others make the local side act (open,
//! accept, reject, send data, consume, EOF, close, channel and global requests and
//! replies) on channel ids 0–7, so peer messages meet channels in every state.
//!
//! The transport underneath is a fresh server `Transport` still in its first key
//! exchange: whatever the connection layer sends is queued (deferred), which costs
//! nothing and needs no handshake. A `handle` error ends the run, as it ends the
//! connection in the real drivers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_proto::connection::{ChannelEvent, Connection, DEFAULT_MAX_PACKET, MAX_CHANNELS};
use oxssh_proto::transport::{Config, Role, Transport};

const KINDS: [&str; 4] = ["session", "direct-tcpip", "forwarded-tcpip", "x11"];
const REQUESTS: [&str; 6] = [
    "pty-req",
    "shell",
    "exec",
    "exit-status",
    "env",
    "window-change",
];

fuzz_target!(|data: &[u8]| {
    let Ok(mut t) = Transport::new(
        Role::Server,
        Config::new("fuzz peer"),
        vec![oxssh_fuzz::ed25519_private()],
    ) else {
        return;
    };
    let mut conn = Connection::new();
    let mut input = Input::new(data);
    while !input.is_empty() {
        let op = input.u8();
        let id = u32::from(op >> 5);
        match op & 0x1f {
            0..=15 => {
                let msg = input.chunk();
                // Half the opcodes take the owned path the drivers use for data.
                let r = if op & 8 == 0 {
                    conn.handle(&mut t, msg)
                } else {
                    conn.handle_owned(&mut t, msg.to_vec())
                };
                if r.is_err() {
                    break;
                }
            }
            16 => {
                let kind = KINDS[usize::from(input.u8()) % KINDS.len()];
                let _ = conn.open(&mut t, kind, input.chunk());
            }
            17 => {
                let _ = conn.accept(&mut t, id);
            }
            18 => {
                let reason = input.u32();
                let _ = conn.reject(&mut t, id, reason, "fuzz");
            }
            19 | 20 => {
                let ext = (op & 0x1f == 20).then_some(1);
                let d = input.chunk();
                let cap = conn.send_capacity(id);
                if let Ok(n) = conn.send_data(&mut t, id, ext, d) {
                    assert!(n <= d.len() && n <= cap);
                }
            }
            21 => {
                let n = input.u32() as usize;
                let _ = conn.consumed(&mut t, id, n);
            }
            22 => {
                let _ = conn.send_eof(&mut t, id);
            }
            23 => {
                let _ = conn.close(&mut t, id);
            }
            24 => {
                let name = REQUESTS[usize::from(input.u8()) % REQUESTS.len()];
                let want = input.bool();
                let _ = conn.request(&mut t, id, name, want, input.chunk());
            }
            25 => {
                let ok = input.bool();
                let _ = conn.reply(&mut t, id, ok);
            }
            26 => {
                let want = input.bool();
                let _ = conn.global_request(&mut t, "tcpip-forward", want, input.chunk());
            }
            _ => {
                let ok = input.bool();
                let _ = conn.global_reply(&mut t, ok, input.chunk());
            }
        }
        while let Some(ev) = conn.poll_event() {
            if let ChannelEvent::Data { data, .. } = ev {
                // The window we grant never lets one packet exceed the limit we set.
                assert!(data.len() <= 2 * DEFAULT_MAX_PACKET as usize);
                t.recycle(data);
            }
        }
        assert!(conn.open_channels() <= MAX_CHANNELS);
    }
});
