//! oxssh-net: drives an `oxssh_proto` transport over any tokio byte stream — a TCP
//! socket, a ProxyCommand's stdio, or stdin/stdout for `sshd -i`.
//!
//! [`Conn`] owns the stream and the sans-IO [`Transport`]. It offers a procedural,
//! packet-at-a-time interface for the key exchange and user authentication phases
//! (`recv`/`send`), and the pieces a session loop needs (`read_some`, `flush`) so
//! binaries can `select!` over the socket and their own sources (stdin, a child's pipes).
//! All protocol decisions stay in the proto crate; this crate only moves bytes.

#![forbid(unsafe_code)]

use std::io;
use std::time::Instant;

use oxssh_proto::Error as ProtoError;
use oxssh_proto::hostkey::SigAlg;
use oxssh_proto::transport::{Event, Transport};
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Failures of a driven connection.
#[derive(Debug)]
pub enum Error {
    /// The peer or the protocol layer ended the connection.
    Proto(ProtoError),
    /// Reading or writing the stream failed.
    Io(io::Error),
    /// The stream ended.
    Closed,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Proto(e) => e.fmt(f),
            Error::Io(e) => e.fmt(f),
            Error::Closed => f.write_str("Connection closed by remote host"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ProtoError> for Error {
    fn from(e: ProtoError) -> Self {
        Error::Proto(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Read buffer size: large reads amortise syscalls on bulk transfers.
const READ_CHUNK: usize = 256 * 1024;

/// A transport bound to a byte stream.
pub struct Conn<S> {
    pub stream: S,
    pub t: Transport,
    out: Vec<u8>,
    eof: bool,
    /// EXT_INFO extensions the peer sent (name, value).
    pub ext_info: Vec<(String, Vec<u8>)>,
    /// The host key algorithm of the first key exchange (set by [`Conn::handshake`]).
    pub host_key_alg: Option<SigAlg>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S, t: Transport) -> Self {
        Conn {
            stream,
            t,
            out: Vec::with_capacity(READ_CHUNK),
            eof: false,
            ext_info: Vec::new(),
            host_key_alg: None,
        }
    }

    /// Write everything the transport has queued, and flush the stream.
    ///
    /// While the peer does not take our bytes, whatever it sends is read and fed to the
    /// transport (its events wait in the transport's queue): a peer that is itself
    /// blocked writing to us would otherwise never read again, and both ends would wait
    /// for ever (a pty echoing a flood of input over a pipe does exactly that; so does a
    /// client sending stdin to a command that never reads it while we write it the
    /// command's output). That holds for a stream that buffers writes too (tokio's
    /// stdout finishes them on another thread): waiting for its flush also reads. The
    /// input so taken is bounded by the channel windows we granted.
    pub async fn flush(&mut self) -> Result<(), Error> {
        let mut pos = 0usize;
        self.out.clear();
        std::future::poll_fn(|cx| {
            loop {
                if pos >= self.out.len() {
                    pos = 0;
                    if self.t.has_output() {
                        self.t.take_output(&mut self.out);
                        continue;
                    }
                    self.out.clear();
                    match Pin::new(&mut self.stream).poll_flush(cx) {
                        Poll::Ready(r) => return Poll::Ready(r.map_err(Error::Io)),
                        Poll::Pending => match self.poll_read_while_blocked(cx) {
                            Poll::Ready(Ok(())) => continue,
                            other => return other,
                        },
                    }
                }
                let pending = self.out.get(pos..).unwrap_or_default();
                match Pin::new(&mut self.stream).poll_write(cx, pending) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())));
                    }
                    Poll::Ready(Ok(n)) => pos += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                    Poll::Pending => match self.poll_read_while_blocked(cx) {
                        Poll::Ready(Ok(())) => continue,
                        other => return other,
                    },
                }
            }
        })
        .await
    }

    /// While a write or flush waits: read what the peer sent, straight into the
    /// transport. Ready(Ok) when something was taken in (or the peer finished sending:
    /// our write may still complete), Pending when nothing can be read now.
    fn poll_read_while_blocked(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), Error>> {
        if self.eof {
            return Poll::Pending;
        }
        let mut rb = ReadBuf::new(self.t.input_space(READ_CHUNK));
        match Pin::new(&mut self.stream).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    // Their side is done sending; our write may still complete, so
                    // keep waiting on it.
                    self.eof = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(self.t.input_filled(n, Instant::now()).map_err(Error::Proto))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::Io(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Read once from the stream and feed the transport. Cancel-safe: if the future is
    /// dropped before the read completes, no data is lost.
    ///
    /// Returns at once, reading nothing, while the transport holds events not yet
    /// taken: a [`flush`](Self::flush) that had to wait may have read the peer's next
    /// message, and a loop that went on to wait for more input would never see it (the
    /// peer waiting for our answer meanwhile).
    pub async fn read_some(&mut self) -> Result<(), Error> {
        if self.t.has_events() {
            return Ok(());
        }
        if self.eof {
            return Err(Error::Closed);
        }
        // Straight into the transport's buffer: the packets are opened where they land.
        let n = self.stream.read(self.t.input_space(READ_CHUNK)).await?;
        if n == 0 {
            self.eof = true;
            return Err(Error::Closed);
        }
        self.t.input_filled(n, Instant::now())?;
        Ok(())
    }

    /// Feed bytes read elsewhere (e.g. a split read half).
    pub fn input(&mut self, data: &[u8]) -> Result<(), Error> {
        self.t.handle_input(data, Instant::now())?;
        Ok(())
    }

    /// Queue a message and write it out.
    pub async fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.t.send(payload)?;
        self.flush().await
    }

    /// The next event, reading as needed. Host key events are answered by `verify`
    /// (client side); EXT_INFO is recorded; debug messages are logged.
    pub async fn next_event(
        &mut self,
        verify: &mut dyn FnMut(&[u8], SigAlg) -> bool,
    ) -> Result<Event, Error> {
        loop {
            while let Some(ev) = self.t.poll_event() {
                match ev {
                    Event::HostKey { key_blob, alg } => {
                        let ok = verify(&key_blob, alg);
                        let r = self.t.host_key_verdict(ok, Instant::now());
                        self.flush().await?;
                        r?;
                    }
                    Event::ExtInfo(exts) => {
                        for (name, value) in &exts {
                            tracing::debug!(
                                "kex_input_ext_info: {name}={}",
                                String::from_utf8_lossy(value)
                            );
                        }
                        self.ext_info = exts;
                    }
                    Event::Debug { message, .. } => {
                        tracing::debug!("Remote: {message}");
                    }
                    ev => return Ok(ev),
                }
            }
            self.flush().await?;
            self.read_some().await?;
        }
    }

    /// The next message for the layers above, reading as needed.
    pub async fn recv(
        &mut self,
        verify: &mut dyn FnMut(&[u8], SigAlg) -> bool,
    ) -> Result<Vec<u8>, Error> {
        loop {
            if let Event::Packet(p) = self.next_event(verify).await? {
                return Ok(p);
            }
        }
    }

    /// Run until the first key exchange completes.
    pub async fn handshake(
        &mut self,
        verify: &mut dyn FnMut(&[u8], SigAlg) -> bool,
    ) -> Result<(), Error> {
        self.flush().await?;
        loop {
            match self.next_event(verify).await? {
                Event::KexDone {
                    first: true,
                    negotiated,
                } => {
                    self.host_key_alg = Some(negotiated.host_key);
                    return Ok(());
                }
                Event::Packet(p) => {
                    return Err(Error::Proto(ProtoError::Unexpected {
                        got: p.first().copied().unwrap_or(0),
                        state: "initial key exchange",
                    }));
                }
                _ => {}
            }
        }
    }

    /// The EXT_INFO value of `name`, if the peer sent it.
    pub fn ext(&self, name: &str) -> Option<&[u8]> {
        self.ext_info
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// A verifier for servers, which never receive host keys.
pub fn no_host_keys(_: &[u8], _: SigAlg) -> bool {
    false
}
