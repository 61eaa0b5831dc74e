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
