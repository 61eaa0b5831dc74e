//! An in-memory client/server pair pushing bulk data through one session channel, per
//! cipher: everything of the data path that is ours (packets built in place from the
//! "stdin" reads, sealed, batched, read back in socket-sized pieces, opened, delivered
//! as channel data, windows adjusted, buffers recycled), with no sockets, processes or
//! scheduler in the way. Both ends run on one thread, so MiB/s here is the cost of one
//! byte on both sides together; `cargo bench -p oxssh-proto --bench cipher` gives the
//! crypto alone to compare with.
//!
//! usage: `cargo bench -p oxssh-proto --bench channel [-- MiB [rounds [cipher]]]`
//! (default 1024 MiB, 3 rounds, every cipher; the best round is reported).

use std::error::Error;
use std::time::Instant;

use oxssh_proto::connection::{ChannelEvent, Connection};
use oxssh_proto::transport::{Config, Event, Role, Transport};
use rand::SeedableRng;

type Res<T = ()> = Result<T, Box<dyn Error>>;

/// What a socket read returns at most (the drivers read 256 KiB at a time).
const READ: usize = 256 * 1024;

fn main() -> Res {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let mib: usize = args.next().map_or(Ok(1024), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let only = args.next();
    let suites = [
        (
            "chacha20-poly1305@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
        ),
        ("aes128-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"),
        ("aes256-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"),
        ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
        ("aes128-ctr", "hmac-sha2-256"),
    ];
    println!("{mib} MiB through one channel, client → server, best of {rounds} rounds\n");
    println!(
        "  {:<32} {:<32} {:>8} {:>8}",
        "cipher", "MAC", "MiB/s", "packets"
    );
    for (cipher, mac) in suites {
        if only.as_deref().is_some_and(|o| o != cipher) {
            continue;
        }
        let mut best = 0f64;
        let mut packets = 0;
        for _ in 0..rounds {
            let (rate, n) = push(cipher, mac, mib << 20)?;
            best = best.max(rate);
            packets = n;
        }
        let mac = if cipher.contains("gcm") || cipher.contains("poly") {
            "(AEAD)"
        } else {
            mac
        };
        println!("  {cipher:<32} {mac:<32} {best:>8.0} {packets:>8}");
    }
    Ok(())
}

/// A handshake with `cipher` and `mac`, a session channel, then `total` bytes from the
/// client to the server. Returns MiB/s and how many data packets carried them.
fn push(cipher: &str, mac: &str, total: usize) -> Res<(f64, usize)> {
    let now = Instant::now();
    let config = |peer: &str| {
        let mut c = Config::new(peer);
        c.algorithms.cipher = vec![cipher.to_owned()];
        c.algorithms.mac = vec![mac.to_owned()];
        c
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let host = ssh_key::PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519)?;
    let mut c = Transport::new(Role::Client, config("s"), Vec::new())?;
    let mut s = Transport::new(Role::Server, config("c"), vec![host])?;
    let mut wire = Vec::new();
    for _ in 0..20 {
        deliver(&mut c, &mut s, now, &mut wire)?;
        deliver(&mut s, &mut c, now, &mut wire)?;
        while let Some(ev) = c.poll_event() {
            if let Event::HostKey { .. } = ev {
                c.host_key_verdict(true, now)?;
            }
        }
        while s.poll_event().is_some() {}
    }
    if c.session_id().is_none() {
        return Err("no key exchange".into());
    }
    let (mut cc, mut sc) = (Connection::new(), Connection::new());
    let id = cc.open(&mut c, "session", &[])?;
    deliver(&mut c, &mut s, now, &mut wire)?;
    pump(&mut s, &mut sc)?;
    let Some(ChannelEvent::OpenRequest { id: sid, .. }) = sc.poll_event() else {
        return Err("no channel open request".into());
    };
    sc.accept(&mut s, sid)?;
    deliver(&mut s, &mut c, now, &mut wire)?;
    pump(&mut c, &mut cc)?;

    // "stdin": a pattern the client's packets are filled from, as reads would.
    let source: Vec<u8> = (0..READ).map(|i| (i * 31 + i / 251) as u8).collect();
    let (mut sent, mut received, mut packets) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    while received < total {
        if sent < total {
            sent += cc.send_data_from(&mut c, id, total - sent, |out, max| {
                let piece = source.get(..max.min(source.len())).unwrap_or_default();
                out.extend_from_slice(piece);
                piece.len()
            })?;
        }
        deliver(&mut c, &mut s, now, &mut wire)?;
        pump(&mut s, &mut sc)?;
        while let Some(ev) = sc.poll_event() {
            if let ChannelEvent::Data { id, data, .. } = ev {
                received += data.len();
                packets += 1;
                sc.consumed(&mut s, id, data.len())?;
                s.recycle(data);
            }
        }
        deliver(&mut s, &mut c, now, &mut wire)?;
        pump(&mut c, &mut cc)?;
        while cc.poll_event().is_some() {}
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(((total >> 20) as f64 / secs, packets))
}

/// `from`'s output into `to`, in reads of at most [`READ`] bytes.
fn deliver(from: &mut Transport, to: &mut Transport, now: Instant, wire: &mut Vec<u8>) -> Res {
    from.take_output(wire);
    for chunk in wire.chunks(READ) {
        let room = to.input_space(chunk.len());
        room.get_mut(..chunk.len())
            .ok_or("short input space")?
            .copy_from_slice(chunk);
        to.input_filled(chunk.len(), now)?;
    }
    Ok(())
}

/// Packets of the connection protocol to `chans`, in their own buffers.
fn pump(t: &mut Transport, chans: &mut Connection) -> Res {
    while let Some(ev) = t.poll_event() {
        if let Event::Packet(p) = ev {
            chans.handle_owned(t, p)?;
        }
    }
    Ok(())
}
