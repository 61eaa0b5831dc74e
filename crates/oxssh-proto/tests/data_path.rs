//! The receive side of the data path: bytes read straight into the transport's buffer
//! (`input_space` / `input_filled`) in whatever pieces a socket returns, channel data
//! delivered in the packet's own buffer (`Connection::handle_owned`) and buffers given
//! back (`Transport::recycle`), so that a long transfer allocates nothing per packet —
//! and a peer that floods us while the host key awaits its verdict is cut off.

// Test code: a panic here is a failing test, which is the point.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Instant;

use oxssh_proto::connection::{ChannelEvent, Connection};
use oxssh_proto::transport::{Config, Event, Role, Transport};

#[global_allocator]
static ALLOC: oxssh_sys::alloc_count::Counting = oxssh_sys::alloc_count::Counting;

fn host_key() -> ssh_key::PrivateKey {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    ssh_key::PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).unwrap()
}

use rand::SeedableRng;

/// Moves `from`'s output into `to` through `input_space`, `piece` bytes at a time (the
/// sizes a socket might return). `wire` is the driver's reused write buffer.
fn deliver(
    from: &mut Transport,
    to: &mut Transport,
    piece: usize,
    now: Instant,
    wire: &mut Vec<u8>,
) {
    from.take_output(wire);
    for chunk in wire.chunks(piece.max(1)) {
        let room = to.input_space(chunk.len());
        room[..chunk.len()].copy_from_slice(chunk);
        to.input_filled(chunk.len(), now).unwrap();
    }
}

/// A handshake, then packets of the connection protocol handed to `chans` as owned
/// buffers; returns the transports.
fn handshake(now: Instant) -> (Transport, Transport) {
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    for _ in 0..20 {
        deliver(&mut c, &mut s, 1000, now, &mut Vec::new());
        deliver(&mut s, &mut c, 1000, now, &mut Vec::new());
        while let Some(ev) = c.poll_event() {
            if let Event::HostKey { .. } = ev {
                c.host_key_verdict(true, now).unwrap();
            }
        }
        while s.poll_event().is_some() {}
    }
    assert!(c.session_id().is_some() && s.session_id().is_some());
    (c, s)
}

fn pump_owned(t: &mut Transport, chans: &mut Connection) {
    while let Some(ev) = t.poll_event() {
        if let Event::Packet(p) = ev {
            chans.handle_owned(t, p).unwrap();
        }
    }
}

/// Opens a session channel from `cc` (on transport `c`) to `sc` (on `s`), the bytes
/// moving in reads of `piece`; returns the client's and the server's channel ids.
fn open_session(
    c: &mut Transport,
    s: &mut Transport,
    cc: &mut Connection,
    sc: &mut Connection,
    piece: usize,
    now: Instant,
) -> (u32, u32) {
    let id = cc.open(c, "session", &[]).unwrap();
    deliver(c, s, piece, now, &mut Vec::new());
    pump_owned(s, sc);
    let Some(ChannelEvent::OpenRequest { id: sid, .. }) = sc.poll_event() else {
        panic!("no open request");
    };
    sc.accept(s, sid).unwrap();
    deliver(s, c, piece, now, &mut Vec::new());
    pump_owned(c, cc);
    assert!(matches!(cc.poll_event(), Some(ChannelEvent::Opened { .. })));
    (id, sid)
}

#[test]
fn channel_data_arrives_intact_in_recycled_buffers_whatever_the_read_sizes() {
    let now = Instant::now();
    let (mut c, mut s) = handshake(now);
    let (mut cc, mut sc) = (Connection::new(), Connection::new());
    let (id, sid) = open_session(&mut c, &mut s, &mut cc, &mut sc, 7, now);

    // 8 MiB of patterned data and some stderr-typed data the other way, read in
    // pieces of odd sizes; every buffer goes back to the transport once used.
    let total = 8 << 20;
    let sent: Vec<u8> = (0..total).map(|i| (i * 7 + i / 4099) as u8).collect();
    let (mut got, mut got_ext) = (Vec::new(), Vec::new());
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut packets = 0usize;
    let mut allocs_at_warm = 0usize;
    let (mut off, mut round) = (0usize, 0usize);
    while got.len() < total {
        if off < total && cc.send_capacity(id) > 0 {
            // Sends that span several packets, and sends smaller than one.
            let step = [300_000, 1_000, 2_000, 3_000, 40_000][round % 5];
            let end = (off + step).min(total);
            off += cc.send_data(&mut c, id, None, &sent[off..end]).unwrap();
        }
        let piece = [65_536, 1, 4093, 262_144, 17][round % 5];
        deliver(&mut c, &mut s, piece, now, &mut up);
        round += 1;
        pump_owned(&mut s, &mut sc);
        while let Some(ev) = sc.poll_event() {
            match ev {
                ChannelEvent::Data { id, ext, data } => {
                    assert_eq!(ext, None);
                    got.extend_from_slice(&data);
                    sc.consumed(&mut s, id, data.len()).unwrap();
                    packets += 1;
                    if packets == 50 {
                        allocs_at_warm = oxssh_sys::alloc_count::large_allocations();
                    }
                    s.recycle(data);
                }
                ev => panic!("unexpected {ev:?}"),
            }
        }
        if round % 50 == 0 {
            sc.send_data(&mut s, sid, Some(1), b"stderr bytes").unwrap();
        }
        deliver(&mut s, &mut c, 3001, now, &mut down);
        pump_owned(&mut c, &mut cc);
        while let Some(ev) = cc.poll_event() {
            match ev {
                ChannelEvent::Data { id, ext, data } => {
                    assert_eq!(ext, Some(1));
                    got_ext.extend_from_slice(&data);
                    cc.consumed(&mut c, id, data.len()).unwrap();
                    c.recycle(data);
                }
                ChannelEvent::WindowAdjusted { .. } => {}
                ev => panic!("unexpected {ev:?}"),
            }
        }
        assert!(round < 100_000, "no progress");
    }
    assert!(got == sent, "data corrupted on the way");
    assert_eq!(got_ext, b"stderr bytes".repeat(round / 50));
    // Past the first packets, data came in reused buffers, not a fresh allocation per
    // packet (the collecting `got` still grows now and then).
    let allocs = oxssh_sys::alloc_count::large_allocations() - allocs_at_warm;
    assert!(packets > 150, "{packets} packets");
    assert!(
        allocs < 10,
        "{allocs} packet-sized allocations for {packets} packets"
    );
}

#[test]
fn a_peer_flooding_before_the_host_key_verdict_is_cut_off() {
    let now = Instant::now();
    let mut c = Transport::new(Role::Client, Config::new("s"), Vec::new()).unwrap();
    let mut s = Transport::new(Role::Server, Config::new("c"), vec![host_key()]).unwrap();
    let mut waiting = false;
    for _ in 0..20 {
        deliver(&mut c, &mut s, 1000, now, &mut Vec::new());
        deliver(&mut s, &mut c, 1000, now, &mut Vec::new());
        while let Some(ev) = c.poll_event() {
            waiting |= matches!(ev, Event::HostKey { .. });
        }
        while s.poll_event().is_some() {}
        if waiting {
            break;
        }
    }
    assert!(waiting, "no host key to decide on");
    // The verdict is pending (a user reading a prompt): input is held, up to a bound.
    let chunk = vec![0u8; 256 * 1024];
    let mut taken = 0usize;
    let err = loop {
        let room = c.input_space(chunk.len());
        room.copy_from_slice(&chunk);
        match c.input_filled(chunk.len(), now) {
            Ok(()) => taken += chunk.len(),
            Err(e) => break e,
        }
        assert!(taken < 64 << 20, "input held without bound");
    };
    assert!(taken <= 4 << 20, "held {taken} bytes");
    assert!(err.to_string().contains("too much input"), "{err}");
}

/// The send side: `Connection::send_data_from` has the data appended straight into
/// the packets (as ssh reads stdin), in short reads and across a key re-exchange
/// (while that holds packets back, they go the copying way), within the window.
#[test]
fn data_appended_into_packets_arrives_intact_across_a_rekey() {
    let now = Instant::now();
    let (mut c, mut s) = handshake(now);
    let (mut cc, mut sc) = (Connection::new(), Connection::new());
    let (id, _) = open_session(&mut c, &mut s, &mut cc, &mut sc, 4096, now);

    let total = 6 << 20;
    let sent: Vec<u8> = (0..total).map(|i| (i * 13 + i / 7919) as u8).collect();
    let (mut off, mut round, mut got) = (0usize, 0usize, Vec::new());
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut rekeys = 0;
    while got.len() < total {
        // Reads as a pipe returns them: whatever is there, at most what is asked.
        let piece = [40_000, 1, 333, 100_000, 7][round % 5];
        let window = cc.send_capacity(id);
        let n = cc
            .send_data_from(&mut c, id, 256 * 1024, |buf, max| {
                let n = piece.min(max).min(total - off);
                buf.extend_from_slice(&sent[off..off + n]);
                off += n;
                n
            })
            .unwrap();
        assert!(n <= window, "sent {n} with a window of {window}");
        if round == 3 {
            c.rekey().unwrap();
        }
        round += 1;
        deliver(&mut c, &mut s, 65_536, now, &mut up);
        while let Some(ev) = s.poll_event() {
            match ev {
                Event::Packet(p) => sc.handle_owned(&mut s, p).unwrap(),
                Event::KexDone { .. } => rekeys += 1,
                _ => {}
            }
        }
        while let Some(ev) = sc.poll_event() {
            if let ChannelEvent::Data { id, data, .. } = ev {
                got.extend_from_slice(&data);
                sc.consumed(&mut s, id, data.len()).unwrap();
                s.recycle(data);
            }
        }
        deliver(&mut s, &mut c, 65_536, now, &mut down);
        pump_owned(&mut c, &mut cc);
        while cc.poll_event().is_some() {}
        assert!(round < 100_000, "no progress");
    }
    assert_eq!(off, total);
    assert!(got == sent, "data corrupted on the way");
    // The re-exchange happened in the middle of it.
    assert_eq!(rekeys, 1, "no rekey");
}

#[test]
fn datagrams_go_whole_in_one_message_or_wait_for_the_window_or_are_dropped() {
    use oxssh_proto::connection::Datagram;
    let now = Instant::now();
    let (mut c, mut s) = handshake(now);
    let (mut cc, mut sc) = (Connection::new(), Connection::new());
    // The server grants a 3000-byte window and 1500-byte packets.
    let id = cc
        .open(&mut c, "tun@openssh.com", &[0, 0, 0, 1, 0, 0, 0, 0])
        .unwrap();
    deliver(&mut c, &mut s, 4096, now, &mut Vec::new());
    pump_owned(&mut s, &mut sc);
    let Some(ChannelEvent::OpenRequest { id: sid, .. }) = sc.poll_event() else {
        panic!("no open request");
    };
    sc.accept_with_window(&mut s, sid, 3000, 1500).unwrap();
    deliver(&mut s, &mut c, 4096, now, &mut Vec::new());
    pump_owned(&mut c, &mut cc);
    assert!(matches!(cc.poll_event(), Some(ChannelEvent::Opened { .. })));

    let a = vec![1u8; 1400];
    let b = vec![2u8; 1496];
    // With its 4-byte length, more than the largest packet.
    let big = vec![3u8; 1497];
    assert_eq!(
        cc.send_datagram(&mut c, id, &big).unwrap(),
        Datagram::TooBig
    );
    assert_eq!(cc.send_datagram(&mut c, id, &a).unwrap(), Datagram::Sent);
    assert_eq!(cc.send_datagram(&mut c, id, &b).unwrap(), Datagram::Sent);
    // 104 bytes of window left: a datagram that fits a packet waits for more.
    assert_eq!(cc.send_datagram(&mut c, id, &a).unwrap(), Datagram::Wait);
    assert_eq!(cc.send_capacity(id), 104);
    deliver(&mut c, &mut s, 999, now, &mut Vec::new());
    pump_owned(&mut s, &mut sc);
    let mut got = Vec::new();
    while let Some(ev) = sc.poll_event() {
        let ChannelEvent::Data { data, .. } = ev else {
            panic!("unexpected {ev:?}");
        };
        sc.consumed(&mut s, sid, data.len()).unwrap();
        got.push(data);
    }
    // One message per datagram, never split or merged.
    assert_eq!(got, vec![a.clone(), b]);
    deliver(&mut s, &mut c, 4096, now, &mut Vec::new());
    pump_owned(&mut c, &mut cc);
    while cc.poll_event().is_some() {}
    assert_eq!(cc.send_datagram(&mut c, id, &a).unwrap(), Datagram::Sent);
}
