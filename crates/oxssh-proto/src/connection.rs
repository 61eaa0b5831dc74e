//! The SSH connection protocol (RFC 4254): channels, per-channel flow control, channel
//! requests and global requests, for either end of a connection.
//!
//! Flow control is per channel and driven by the consumer: the window we grant the peer
//! is topped up only when the application reports data as consumed
//! ([`Connection::consumed`]), so a slow reader stalls only its own channel. Outgoing
//! data is limited by the peer's window and maximum packet size; [`Connection::send_data`]
//! reports how much it took so the caller keeps the rest.
//!
//! Messages go out through a [`Transport`]; this module never does I/O.

use std::collections::VecDeque;

use crate::Error;
use crate::msg;
use crate::transport::Transport;
use crate::wire::{Put, Reader};

/// The window we grant a session channel at open (OpenSSH uses 2 MiB; a larger window
/// keeps a fast link busy).
pub const DEFAULT_WINDOW: u32 = 4 * 1024 * 1024;
/// The largest data packet we accept, as we advertise it when a channel opens. OpenSSH
/// advertises 32 KiB (CHAN_SES_PACKET_DEFAULT); a peer that sends what we allow moves
/// bulk data in a quarter of the packets, each costing a header, a MAC key, a tag and
/// a wake-up on both sides. Well within the transport's 256 KiB packet limit.
pub const DEFAULT_MAX_PACKET: u32 = 128 * 1024;
/// The most data we put in one packet, whatever the peer advertises: a peer allowing
/// more still has a transport that refuses packets over 256 KiB (OpenSSH's
/// PACKET_MAX_SIZE), headers and padding included.
pub const SEND_MAX_PACKET: u32 = 128 * 1024;
/// Channels per connection: a bound on what a peer can make us allocate.
pub const MAX_CHANNELS: usize = 1024;

/// Channel open failure reason codes (RFC 4254 §5.1).
pub mod open_failure {
    pub const ADMINISTRATIVELY_PROHIBITED: u32 = 1;
    pub const CONNECT_FAILED: u32 = 2;
    pub const UNKNOWN_CHANNEL_TYPE: u32 = 3;
    pub const RESOURCE_SHORTAGE: u32 = 4;
}

/// Our identifier for a channel.
pub type ChannelId = u32;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum State {
    /// We sent CHANNEL_OPEN and wait for the answer.
    Opening,
    /// The peer opened it and we have not answered yet.
    PeerOpening,
    Open,
    /// We sent CLOSE and wait for the peer's.
    Closing,
}

#[derive(Debug)]
struct Channel {
    remote_id: u32,
    state: State,
    /// Bytes the peer may still send us.
    local_window: u32,
    /// Bytes consumed by the application since the last WINDOW_ADJUST.
    consumed: u32,
    local_window_max: u32,
    /// Bytes we may still send the peer.
    remote_window: u32,
    remote_max_packet: u32,
    eof_sent: bool,
    eof_received: bool,
    close_received: bool,
}

/// What the connection has for the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The peer wants to open a channel: answer with [`Connection::accept`] or
    /// [`Connection::reject`]. `data` holds the type-specific fields.
    OpenRequest {
        id: ChannelId,
        kind: String,
        data: Vec<u8>,
    },
    /// Our CHANNEL_OPEN succeeded.
    Opened {
        id: ChannelId,
    },
    /// Our CHANNEL_OPEN failed.
    OpenFailed {
        id: ChannelId,
        reason: u32,
        description: String,
    },
    /// Channel data; `ext` is the extended data type (1 = stderr) or None.
    Data {
        id: ChannelId,
        ext: Option<u32>,
        data: Vec<u8>,
    },
    /// The peer's window grew: more can be sent.
    WindowAdjusted {
        id: ChannelId,
    },
    Eof {
        id: ChannelId,
    },
    /// The channel is gone on both sides; its id may be reused.
    Closed {
        id: ChannelId,
    },
    /// A channel request (exec, pty-req, exit-status, …); answer with
    /// [`Connection::reply`] when `want_reply`.
    Request {
        id: ChannelId,
        name: String,
        want_reply: bool,
        data: Vec<u8>,
    },
    /// The answer to a channel request we sent with want_reply.
    RequestResult {
        id: ChannelId,
        success: bool,
    },
    /// A global request; answer with [`Connection::global_reply`] when `want_reply`.
    GlobalRequest {
        name: String,
        want_reply: bool,
        data: Vec<u8>,
    },
    /// The answer to a global request we sent with want_reply.
    GlobalResult {
        success: bool,
        data: Vec<u8>,
    },
}

/// What [`Connection::send_datagram`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    Sent,
    /// The peer's window is too small for it now: try again after
    /// [`ChannelEvent::WindowAdjusted`].
    Wait,
    /// It can never be sent: larger than the peer's (or our) largest packet, or the
    /// channel no longer sends. Drop it.
    TooBig,
}

/// The channel table of one connection.
#[derive(Debug, Default)]
pub struct Connection {
    channels: Vec<Option<Channel>>,
    events: VecDeque<ChannelEvent>,
}

/// Where a CHANNEL_DATA or CHANNEL_EXTENDED_DATA message's data is: its channel, data
/// type code and byte range within the message.
type DataAt = (ChannelId, Option<u32>, std::ops::Range<usize>);

impl Connection {
    pub fn new() -> Connection {
        Connection::default()
    }

    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    /// Number of channels not yet fully closed.
    pub fn open_channels(&self) -> usize {
        self.channels.iter().filter(|c| c.is_some()).count()
    }

    /// The lowest-numbered channel that is open (neither opening nor closing): where
    /// a keepalive channel request can go.
    pub fn first_open(&self) -> Option<ChannelId> {
        self.channels
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.state == State::Open))
            .and_then(|i| ChannelId::try_from(i).ok())
    }

    /// Whether channel `id` is open (neither opening nor closing).
    pub fn is_open(&self, id: ChannelId) -> bool {
        self.channels
            .get(id as usize)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.state == State::Open)
    }

    fn alloc(&mut self, ch: Channel) -> Result<ChannelId, Error> {
        if let Some((i, slot)) = self
            .channels
            .iter_mut()
            .enumerate()
            .find(|(_, c)| c.is_none())
        {
            *slot = Some(ch);
            return Ok(i as u32);
        }
        if self.channels.len() >= MAX_CHANNELS {
            return Err(Error::Protocol("too many channels".into()));
        }
        self.channels.push(Some(ch));
        Ok((self.channels.len() - 1) as u32)
    }

    fn get(&mut self, id: ChannelId) -> Result<&mut Channel, Error> {
        self.channels
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| Error::Protocol(format!("unknown channel {id}")))
    }

    fn new_channel(state: State) -> Channel {
        Channel {
            remote_id: 0,
            state,
            local_window: DEFAULT_WINDOW,
            consumed: 0,
            local_window_max: DEFAULT_WINDOW,
            remote_window: 0,
            remote_max_packet: 0,
            eof_sent: false,
            eof_received: false,
            close_received: false,
        }
    }

    /// Open a channel of `kind` ("session", "direct-tcpip", …) with type-specific `data`.
    pub fn open(&mut self, t: &mut Transport, kind: &str, data: &[u8]) -> Result<ChannelId, Error> {
        let id = self.alloc(Self::new_channel(State::Opening))?;
        let mut m = Vec::with_capacity(32 + kind.len() + data.len());
        m.put_u8(msg::CHANNEL_OPEN);
        m.put_str(kind);
        m.put_u32(id);
        m.put_u32(DEFAULT_WINDOW);
        m.put_u32(DEFAULT_MAX_PACKET);
        m.extend_from_slice(data);
        t.send(&m)?;
        Ok(id)
    }

    /// Accept a channel the peer asked to open.
    pub fn accept(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), Error> {
        self.accept_with_window(t, id, DEFAULT_WINDOW, DEFAULT_MAX_PACKET)
    }

    /// [`accept`](Self::accept) with a window and maximum packet of our choosing (at
    /// most the defaults): a channel whose data we only relay, such as an X11
    /// connection (OpenSSH gives those 64 KiB and 16 KiB), holds that much at most.
    pub fn accept_with_window(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        window: u32,
        max_packet: u32,
    ) -> Result<(), Error> {
        let window = window.min(DEFAULT_WINDOW);
        let max_packet = max_packet.min(DEFAULT_MAX_PACKET);
        let ch = self.get(id)?;
        if ch.state != State::PeerOpening {
            return Err(Error::Protocol("channel not awaiting an answer".into()));
        }
        ch.state = State::Open;
        ch.local_window = window;
        ch.local_window_max = window;
        let remote = ch.remote_id;
        let mut m = Vec::with_capacity(17);
        m.put_u8(msg::CHANNEL_OPEN_CONFIRMATION);
        m.put_u32(remote);
        m.put_u32(id);
        m.put_u32(window);
        m.put_u32(max_packet);
        t.send(&m)
    }

    /// Refuse a channel the peer asked to open.
    pub fn reject(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        reason: u32,
        description: &str,
    ) -> Result<(), Error> {
        let ch = self.get(id)?;
        if ch.state != State::PeerOpening {
            return Err(Error::Protocol("channel not awaiting an answer".into()));
        }
        let remote = ch.remote_id;
        if let Some(slot) = self.channels.get_mut(id as usize) {
            *slot = None;
        }
        let mut m = Vec::with_capacity(32 + description.len());
        m.put_u8(msg::CHANNEL_OPEN_FAILURE);
        m.put_u32(remote);
        m.put_u32(reason);
        m.put_str(description);
        m.put_str("");
        t.send(&m)
    }

    /// How many bytes [`send_data`](Self::send_data) would take now.
    pub fn send_capacity(&mut self, id: ChannelId) -> usize {
        match self.get(id) {
            Ok(ch) if ch.state == State::Open && !ch.eof_sent => ch.remote_window as usize,
            _ => 0,
        }
    }

    /// Send as much of `data` as the peer's window allows, in packets no larger than
    /// its maximum. Returns how many bytes were taken.
    pub fn send_data(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        ext: Option<u32>,
        data: &[u8],
    ) -> Result<usize, Error> {
        let ch = self.get(id)?;
        if ch.state != State::Open || ch.eof_sent {
            return Ok(0);
        }
        let remote = ch.remote_id;
        let max_packet = ch.remote_max_packet.clamp(1, SEND_MAX_PACKET) as usize;
        let n = data.len().min(ch.remote_window as usize);
        ch.remote_window -= n as u32;
        for chunk in data.get(..n).unwrap_or_default().chunks(max_packet) {
            let len = (chunk.len() as u32).to_be_bytes();
            let id = remote.to_be_bytes();
            match ext {
                None => {
                    let [a, b, c, d] = id;
                    let [e, f, g, h] = len;
                    let hdr = [msg::CHANNEL_DATA, a, b, c, d, e, f, g, h];
                    t.send_parts(&[&hdr, chunk])?;
                }
                Some(code) => {
                    let [a, b, c, d] = id;
                    let [e, f, g, h] = code.to_be_bytes();
                    let [i, j, k, l] = len;
                    let hdr = [
                        msg::CHANNEL_EXTENDED_DATA,
                        a,
                        b,
                        c,
                        d,
                        e,
                        f,
                        g,
                        h,
                        i,
                        j,
                        k,
                        l,
                    ];
                    t.send_parts(&[&hdr, chunk])?;
                }
            }
        }
        Ok(n)
    }

    /// Send `data` as exactly one CHANNEL_DATA message, or not at all: a datagram of
    /// a tunnel channel (`tun@openssh.com`), which must not be split or merged.
    pub fn send_datagram(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        data: &[u8],
    ) -> Result<Datagram, Error> {
        let ch = self.get(id)?;
        if ch.state != State::Open || ch.eof_sent {
            return Ok(Datagram::TooBig);
        }
        // OpenSSH's receiver counts a datagram's string length (4 bytes) against its
        // largest packet, and drops one that does not fit.
        let max_packet = ch.remote_max_packet.min(SEND_MAX_PACKET) as usize;
        if data.len() + 4 > max_packet {
            return Ok(Datagram::TooBig);
        }
        if data.len() > ch.remote_window as usize {
            return Ok(Datagram::Wait);
        }
        let n = self.send_data(t, id, None, data)?;
        debug_assert_eq!(n, data.len());
        Ok(Datagram::Sent)
    }

    /// [`send_data`](Self::send_data) with data that `read` appends straight into each
    /// packet (`read(buf, max)` appends at most `max` bytes to `buf` and returns how
    /// many): stdin read into the buffer it is sealed in, with no copy. Packets go out
    /// while the window allows, up to `limit` bytes in all, until a read appends
    /// nothing or less than was asked. Returns how many bytes were sent.
    pub fn send_data_from(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        limit: usize,
        mut read: impl FnMut(&mut Vec<u8>, usize) -> usize,
    ) -> Result<usize, Error> {
        let mut total = 0usize;
        loop {
            let ch = self.get(id)?;
            if ch.state != State::Open || ch.eof_sent {
                return Ok(total);
            }
            let remote = ch.remote_id;
            let max_packet = ch.remote_max_packet.clamp(1, SEND_MAX_PACKET) as usize;
            let max = max_packet
                .min(ch.remote_window as usize)
                .min(limit.saturating_sub(total));
            if max == 0 {
                return Ok(total);
            }
            let mut got = 0usize;
            t.send_appended(|out| {
                out.push(msg::CHANNEL_DATA);
                out.put_u32(remote);
                let len_at = out.len();
                out.put_u32(0);
                let data_at = out.len();
                got = read(out, max).min(max);
                out.truncate(data_at + got);
                if let Some(len) = out.get_mut(len_at..data_at) {
                    len.copy_from_slice(&(got as u32).to_be_bytes());
                }
                got > 0
            })?;
            if got == 0 {
                return Ok(total);
            }
            let ch = self.get(id)?;
            ch.remote_window -= got as u32;
            total += got;
            if got < max {
                return Ok(total);
            }
        }
    }

    /// The application consumed `n` bytes of this channel's data: grant the peer more
    /// window once half of it has been used, as OpenSSH does.
    pub fn consumed(&mut self, t: &mut Transport, id: ChannelId, n: usize) -> Result<(), Error> {
        let Ok(ch) = self.get(id) else { return Ok(()) };
        ch.consumed = ch.consumed.saturating_add(n as u32);
        if ch.state == State::Open && !ch.eof_received && ch.consumed >= ch.local_window_max / 2 {
            let add = ch.consumed;
            ch.consumed = 0;
            ch.local_window = ch.local_window.saturating_add(add);
            let remote = ch.remote_id;
            let mut m = Vec::with_capacity(9);
            m.put_u8(msg::CHANNEL_WINDOW_ADJUST);
            m.put_u32(remote);
            m.put_u32(add);
            t.send(&m)?;
        }
        Ok(())
    }

    pub fn send_eof(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), Error> {
        let ch = self.get(id)?;
        if ch.eof_sent || ch.state != State::Open {
            return Ok(());
        }
        ch.eof_sent = true;
        let remote = ch.remote_id;
        let mut m = Vec::with_capacity(5);
        m.put_u8(msg::CHANNEL_EOF);
        m.put_u32(remote);
        t.send(&m)
    }

    /// Send CLOSE (once). The channel is freed when the peer's CLOSE has also arrived.
    pub fn close(&mut self, t: &mut Transport, id: ChannelId) -> Result<(), Error> {
        let ch = self.get(id)?;
        if ch.state == State::Closing || ch.state == State::Opening {
            return Ok(());
        }
        ch.state = State::Closing;
        let remote = ch.remote_id;
        let done = ch.close_received;
        let mut m = Vec::with_capacity(5);
        m.put_u8(msg::CHANNEL_CLOSE);
        m.put_u32(remote);
        t.send(&m)?;
        if done {
            self.free(id);
        }
        Ok(())
    }

    fn free(&mut self, id: ChannelId) {
        if let Some(slot) = self.channels.get_mut(id as usize) {
            *slot = None;
        }
        self.events.push_back(ChannelEvent::Closed { id });
    }

    /// Send a channel request.
    pub fn request(
        &mut self,
        t: &mut Transport,
        id: ChannelId,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), Error> {
        let ch = self.get(id)?;
        if ch.state != State::Open {
            return Ok(());
        }
        let remote = ch.remote_id;
        let mut m = Vec::with_capacity(16 + name.len() + data.len());
        m.put_u8(msg::CHANNEL_REQUEST);
        m.put_u32(remote);
        m.put_str(name);
        m.put_bool(want_reply);
        m.extend_from_slice(data);
        t.send(&m)
    }

    /// Answer a channel request that wanted a reply.
    pub fn reply(&mut self, t: &mut Transport, id: ChannelId, success: bool) -> Result<(), Error> {
        let ch = self.get(id)?;
        if ch.state != State::Open {
            return Ok(());
        }
        let remote = ch.remote_id;
        let mut m = Vec::with_capacity(5);
        m.put_u8(if success {
            msg::CHANNEL_SUCCESS
        } else {
            msg::CHANNEL_FAILURE
        });
        m.put_u32(remote);
        t.send(&m)
    }

    pub fn global_request(
        &mut self,
        t: &mut Transport,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), Error> {
        let mut m = Vec::with_capacity(8 + name.len() + data.len());
        m.put_u8(msg::GLOBAL_REQUEST);
        m.put_str(name);
        m.put_bool(want_reply);
        m.extend_from_slice(data);
        t.send(&m)
    }

    pub fn global_reply(
        &mut self,
        t: &mut Transport,
        success: bool,
        data: &[u8],
    ) -> Result<(), Error> {
        let mut m = Vec::with_capacity(1 + data.len());
        m.put_u8(if success {
            msg::REQUEST_SUCCESS
        } else {
            msg::REQUEST_FAILURE
        });
        m.extend_from_slice(data);
        t.send(&m)
    }

    /// [`handle`](Self::handle) a message the caller owns: channel data is delivered in
    /// the packet's own buffer (moved to its front), and any other buffer goes back to
    /// the transport ([`Transport::recycle`]), so the data path neither allocates nor
    /// copies between buffers.
    pub fn handle_owned(&mut self, t: &mut Transport, mut payload: Vec<u8>) -> Result<(), Error> {
        if !matches!(
            payload.first(),
            Some(&msg::CHANNEL_DATA | &msg::CHANNEL_EXTENDED_DATA)
        ) {
            self.handle(t, &payload)?;
            t.recycle(payload);
            return Ok(());
        }
        match self.channel_data(&payload)? {
            Some((id, ext, range)) => {
                let len = range.len();
                payload.copy_within(range, 0);
                payload.truncate(len);
                self.events.push_back(ChannelEvent::Data {
                    id,
                    ext,
                    data: payload,
                });
            }
            None => t.recycle(payload),
        }
        Ok(())
    }

    /// Checks and accounts a CHANNEL_DATA or CHANNEL_EXTENDED_DATA message: its
    /// channel, data type code and where in `payload` the data is — `None` when the
    /// data is to be discarded (after EOF or our CLOSE).
    fn channel_data(&mut self, payload: &[u8]) -> Result<Option<DataAt>, Error> {
        let (&ty, body) = payload.split_first().ok_or(Error::Truncated)?;
        let mut r = Reader::new(body);
        let id = r.u32()?;
        let ext = if ty == msg::CHANNEL_EXTENDED_DATA {
            Some(r.u32()?)
        } else {
            None
        };
        let data = r.string()?;
        // type, recipient channel, [data type code,] string length.
        let start = 1 + 4 + ext.map_or(0, |_| 4) + 4;
        let ch = self.get(id)?;
        if data.len() > ch.local_window as usize || data.len() > DEFAULT_MAX_PACKET as usize * 2 {
            return Err(Error::Protocol(format!(
                "channel {id}: rcvd too much data {}, win {}",
                data.len(),
                ch.local_window
            )));
        }
        ch.local_window -= data.len() as u32;
        if ch.eof_received || ch.state == State::Closing {
            // Data after EOF or our CLOSE is discarded, but still counted.
            return Ok(None);
        }
        Ok(Some((id, ext, start..start + data.len())))
    }

    /// Handle one connection-protocol message (types 80–100). Anything else is an error.
    pub fn handle(&mut self, t: &mut Transport, payload: &[u8]) -> Result<(), Error> {
        let (&ty, body) = payload.split_first().ok_or(Error::Truncated)?;
        let mut r = Reader::new(body);
        match ty {
            msg::GLOBAL_REQUEST => {
                let name = r.utf8()?.to_owned();
                let want_reply = r.bool()?;
                self.events.push_back(ChannelEvent::GlobalRequest {
                    name,
                    want_reply,
                    data: r.rest().to_vec(),
                });
            }
            msg::REQUEST_SUCCESS | msg::REQUEST_FAILURE => {
                self.events.push_back(ChannelEvent::GlobalResult {
                    success: ty == msg::REQUEST_SUCCESS,
                    data: r.rest().to_vec(),
                });
            }
            msg::CHANNEL_OPEN => {
                let kind = r.utf8()?.to_owned();
                let sender = r.u32()?;
                let window = r.u32()?;
                let max_packet = r.u32()?;
                let mut ch = Self::new_channel(State::PeerOpening);
                ch.remote_id = sender;
                ch.remote_window = window;
                ch.remote_max_packet = max_packet;
                match self.alloc(ch) {
                    Ok(id) => self.events.push_back(ChannelEvent::OpenRequest {
                        id,
                        kind,
                        data: r.rest().to_vec(),
                    }),
                    Err(_) => {
                        let mut m = Vec::new();
                        m.put_u8(msg::CHANNEL_OPEN_FAILURE);
                        m.put_u32(sender);
                        m.put_u32(open_failure::RESOURCE_SHORTAGE);
                        m.put_str("too many channels");
                        m.put_str("");
                        t.send(&m)?;
                    }
                }
            }
            msg::CHANNEL_OPEN_CONFIRMATION => {
                let id = r.u32()?;
                let sender = r.u32()?;
                let window = r.u32()?;
                let max_packet = r.u32()?;
                let ch = self.get(id)?;
                if ch.state != State::Opening {
                    return Err(Error::Unexpected {
                        got: ty,
                        state: "channel not opening",
                    });
                }
                ch.remote_id = sender;
                ch.remote_window = window;
                ch.remote_max_packet = max_packet;
                ch.state = State::Open;
                self.events.push_back(ChannelEvent::Opened { id });
            }
            msg::CHANNEL_OPEN_FAILURE => {
                let id = r.u32()?;
                let reason = r.u32()?;
                let description = String::from_utf8_lossy(r.string()?).into_owned();
                if self.get(id)?.state != State::Opening {
                    return Err(Error::Unexpected {
                        got: ty,
                        state: "channel not opening",
                    });
                }
                if let Some(slot) = self.channels.get_mut(id as usize) {
                    *slot = None;
                }
                self.events.push_back(ChannelEvent::OpenFailed {
                    id,
                    reason,
                    description,
                });
            }
            msg::CHANNEL_WINDOW_ADJUST => {
                let id = r.u32()?;
                let add = r.u32()?;
                let ch = self.get(id)?;
                // RFC 4254 §5.2: the window may not exceed 2^32 - 1.
                ch.remote_window = ch
                    .remote_window
                    .checked_add(add)
                    .ok_or_else(|| Error::Protocol(format!("channel {id}: window overflow")))?;
                self.events.push_back(ChannelEvent::WindowAdjusted { id });
            }
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => {
                if let Some((id, ext, range)) = self.channel_data(payload)? {
                    let data = payload.get(range).unwrap_or_default().to_vec();
                    self.events.push_back(ChannelEvent::Data { id, ext, data });
                }
            }
            msg::CHANNEL_EOF => {
                let id = r.u32()?;
                let ch = self.get(id)?;
                ch.eof_received = true;
                self.events.push_back(ChannelEvent::Eof { id });
            }
            msg::CHANNEL_CLOSE => {
                let id = r.u32()?;
                let ch = self.get(id)?;
                ch.close_received = true;
                if ch.state == State::Closing {
                    self.free(id);
                } else {
                    // Answer the CLOSE, then the channel is gone.
                    let remote = ch.remote_id;
                    let mut m = Vec::with_capacity(5);
                    m.put_u8(msg::CHANNEL_CLOSE);
                    m.put_u32(remote);
                    t.send(&m)?;
                    self.free(id);
                }
            }
            msg::CHANNEL_REQUEST => {
                let id = r.u32()?;
                let name = r.utf8()?.to_owned();
                let want_reply = r.bool()?;
                self.get(id)?;
                self.events.push_back(ChannelEvent::Request {
                    id,
                    name,
                    want_reply,
                    data: r.rest().to_vec(),
                });
            }
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                let id = r.u32()?;
                self.get(id)?;
                self.events.push_back(ChannelEvent::RequestResult {
                    id,
                    success: ty == msg::CHANNEL_SUCCESS,
                });
            }
            _ => {
                return Err(Error::Unexpected {
                    got: ty,
                    state: "connection",
                });
            }
        }
        Ok(())
    }
}
