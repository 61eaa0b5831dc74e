//! `Conn::flush` against a stream that buffers writes and completes them later (as
//! tokio's stdout does, on another thread): while the flush waits, what the peer sends
//! must still be read. Here the peer takes our bytes only once it has handed us its
//! own, like a peer blocked in a write to us (PuTTY's plink through `sshd -i`); a flush
//! that stops reading while it waits would wait for ever.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use oxssh_net::Conn;
use oxssh_proto::transport::{Config, Role, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Writes are accepted into a buffer at once; the flush completes only when the peer's
/// bytes (`inbound`) have all been read.
struct BlockedPeer {
    inbound: VecDeque<u8>,
    written: Vec<u8>,
}

impl AsyncRead for BlockedPeer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.inbound.is_empty() {
            // Nothing more from the peer until it got our bytes.
            return Poll::Pending;
        }
        let n = buf.remaining().min(self.inbound.len());
        let chunk: Vec<u8> = self.inbound.drain(..n).collect();
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for BlockedPeer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.inbound.is_empty() {
            Poll::Ready(Ok(()))
        } else {
            // The peer is stuck writing to us: our bytes wait in the pipe.
            Poll::Pending
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_flush_that_waits_keeps_reading_the_peer() {
    let t = Transport::new(Role::Client, Config::new("peer"), Vec::new()).unwrap();
    let peer = BlockedPeer {
        inbound: b"SSH-2.0-BlockedPeer\r\n".iter().copied().collect(),
        written: Vec::new(),
    };
    let mut conn = Conn::new(peer, t);
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), conn.flush()).await;
    assert!(r.is_ok(), "flush waited for ever without reading the peer");
    r.unwrap().unwrap();
    assert_eq!(conn.t.peer_version(), Some("SSH-2.0-BlockedPeer"));
    assert!(conn.stream.written.starts_with(b"SSH-2.0-"));
}

/// SSH_MSG_DEBUG in a plaintext packet (before any key exchange), as a peer may send.
fn debug_packet(text: &str) -> Vec<u8> {
    let mut payload = vec![4u8, 0];
    payload.extend_from_slice(&(text.len() as u32).to_be_bytes());
    payload.extend_from_slice(text.as_bytes());
    payload.extend_from_slice(&0u32.to_be_bytes());
    let mut pad = 8 - (4 + 1 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut p = ((1 + payload.len() + pad) as u32).to_be_bytes().to_vec();
    p.push(pad as u8);
    p.extend_from_slice(&payload);
    p.extend(std::iter::repeat_n(0u8, pad));
    p
}

#[tokio::test]
async fn a_message_read_while_a_flush_waited_is_not_left_behind() {
    let t = Transport::new(Role::Client, Config::new("peer"), Vec::new()).unwrap();
    let mut inbound: Vec<u8> = b"SSH-2.0-BlockedPeer\r\n".to_vec();
    inbound.extend(debug_packet("hello"));
    let peer = BlockedPeer {
        inbound: inbound.into_iter().collect(),
        written: Vec::new(),
    };
    let mut conn = Conn::new(peer, t);
    conn.flush().await.unwrap();
    // The flush took the DEBUG message in. The peer now waits for us and sends no
    // more: reading must not wait for more input while an event is pending.
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read_some()).await;
    assert!(
        r.is_ok(),
        "read_some waited for input with a message pending"
    );
    r.unwrap().unwrap();
    assert!(matches!(
        conn.t.poll_event(),
        Some(oxssh_proto::transport::Event::Debug { .. })
    ));
}
