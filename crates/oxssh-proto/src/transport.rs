//! The SSH transport layer (RFC 4253) as a sans-IO state machine: version exchange,
//! the binary packet protocol, key exchange and re-exchange, strict kex (OpenSSH
//! `PROTOCOL` §1.10, the Terrapin countermeasure), EXT_INFO (RFC 8308) and packet
//! compression (RFC 4253 §6.2; the zlib streams themselves are in [`crate::compress`]).
//! A server's host keys may carry certificates (OpenSSH `PROTOCOL.certkeys`, sshd's
//! HostCertificate): their `*-cert-v01@openssh.com` algorithms are offered beside the
//! plain ones, and when one is chosen the certificate is `K_S`.
//!
//! Bytes from the peer go in through [`Transport::handle_input`]; bytes to send come out
//! of [`Transport::take_output`]; messages for the layers above (user auth, connection)
//! come out of [`Transport::poll_event`] and go in through [`Transport::send`]. The
//! transport does not know about users or channels, and it never does I/O or reads a
//! clock: time comes in as arguments.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand_core::Rng as _;
use ssh_key::PrivateKey;

use crate::Error;
use crate::cipher::{Mac, OpeningKey, SealingKey};
use crate::compress::{self, Compression, Deflater, Inflater};
use crate::hostkey::{self, HostKey, SigAlg};
use crate::kex::methods::{self, DhGroup, KexClient, SharedSecret};
use crate::kex::{self, Algorithms, HashInput, KexInit, Negotiated};
use crate::msg;
use crate::wire::{Put, Reader};

/// OpenSSH's PACKET_MAX_SIZE: no packet longer than this is accepted or allocated.
pub const MAX_PACKET: usize = 256 * 1024;
/// Bytes of received input the transport holds unprocessed at most (see
/// [`Transport::input_filled`]).
const MAX_UNPROCESSED: usize = 4 * 1024 * 1024;
/// Output we let wait before answering another unknown message: a flood of those from
/// a peer that reads nothing ends the connection rather than our memory.
const MAX_REPLY_BACKLOG: usize = 64 * 1024 * 1024;
/// RFC 4253 §4.2: the identification line is at most 255 bytes including CR LF.
const MAX_VERSION_LINE: usize = 255;
/// The longest line a server may send before its identification, CR LF not counted
/// (OpenSSH's SSH_MAX_BANNER_LEN).
const MAX_PRE_BANNER_LINE: usize = 8192;
/// How many lines a server may send before its identification string.
const MAX_PRE_BANNER_LINES: usize = 1024;

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// Settings of one transport.
#[derive(Clone, Debug)]
pub struct Config {
    pub algorithms: Algorithms,
    /// Our identification string without CR LF, e.g. `SSH-2.0-oxssh_0.1`.
    pub version: String,
    /// Rekey after this many bytes in either direction (RekeyLimit's first value).
    pub rekey_bytes: u64,
    /// Rekey after this much time (RekeyLimit's second value); None: never by time.
    pub rekey_interval: Option<Duration>,
    /// Text that names the peer in error messages ("127.0.0.1 port 22").
    pub peer_name: String,
    /// DH group exchange bounds a client requests (RFC 4419 min and max bits). The
    /// preferred size between them follows from the negotiated ciphers and MACs, as
    /// OpenSSH's does (`dh_estimate` of `dh_need`): 8192 with chacha20-poly1305.
    pub gex_bits: (u32, u32),
    /// Server: the moduli file's groups for DH group exchange, and the file's name for
    /// the log; None (the file could not be read) uses the built-in groups. A file read
    /// but holding no prime that suits a request refuses it, as OpenSSH does.
    pub moduli: Option<(String, Vec<methods::ModuliEntry>)>,
}

impl Config {
    pub fn new(peer_name: impl Into<String>) -> Config {
        Config {
            algorithms: Algorithms::default(),
            version: format!("SSH-2.0-oxssh_{}", env!("CARGO_PKG_VERSION")),
            rekey_bytes: 1 << 30,
            rekey_interval: None,
            peer_name: peer_name.into(),
            gex_bits: (methods::DH_GRP_MIN, methods::DH_GRP_MAX),
            moduli: None,
        }
    }
}

/// What the transport has for the caller.
#[derive(Debug)]
pub enum Event {
    /// Client only: the server proved possession of this host key (its signature over
    /// the exchange hash verified). Call [`Transport::host_key_verdict`] before anything
    /// else happens; until then the key exchange waits.
    HostKey { key_blob: Vec<u8>, alg: SigAlg },
    /// A key exchange finished and new keys are in use.
    KexDone {
        first: bool,
        negotiated: Box<Negotiated>,
    },
    /// The peer's EXT_INFO (RFC 8308): extension names and values.
    ExtInfo(Vec<(String, Vec<u8>)>),
    /// A message for the layers above (service, user auth, connection protocol).
    Packet(Vec<u8>),
    /// SSH_MSG_DEBUG with always_display set, or any at debug level.
    Debug {
        always_display: bool,
        message: String,
    },
}

/// Message numbers that this transport or a layer above it (user authentication, the
/// connection protocol) defines; anything else is answered with SSH_MSG_UNIMPLEMENTED.
fn known_message(t: u8) -> bool {
    matches!(
        t,
        // transport generic: DISCONNECT to EXT_INFO; KEXINIT, NEWKEYS; kex methods
        1..=7 | 20 | 21 | 30..=49
        // user authentication (RFC 4252, method-specific 60-79 per method)
        | 50..=53 | 60..=79
        // connection protocol (RFC 4254)
        | 80..=82 | 90..=100
    ) || t == msg::PING
        || t == msg::PONG
}

enum KexStep {
    /// No exchange running.
    Idle,
    /// We sent KEXINIT and wait for theirs.
    SentInit,
    /// Client, DH-GEX: we sent the request and wait for the group.
    ClientGexGroup,
    /// Client: we sent our public value and wait for the server's reply.
    ClientReply(Box<KexClient>, Vec<u8>),
    /// Client: the reply verified; waiting for the caller to accept the host key.
    ClientVerdict,
    /// Server: waiting for the client's public value (or its GEX request).
    ServerInit,
    /// Server, DH-GEX: we sent the group and wait for e.
    ServerGexInit(DhGroup),
    /// We sent NEWKEYS and wait for the peer's.
    NewKeys,
}

/// State of one key exchange between the two KEXINITs and NEWKEYS.
struct Exchange {
    ours: KexInit,
    theirs: Option<KexInit>,
    neg: Option<Negotiated>,
    gex_params: Vec<u8>,
    /// After NEWKEYS: the keys waiting for the peer's NEWKEYS.
    pending_open: Option<OpeningKey>,
    /// Until the verdict: what NEWKEYS will install.
    pending: Option<Pending>,
}

struct Pending {
    k: SharedSecret,
    h: Vec<u8>,
    key_blob: Vec<u8>,
}

/// One SSH transport connection.
pub struct Transport {
    role: Role,
    cfg: Config,
    host_keys: Vec<HostKey>,
    rng: StdRng,
    // Version exchange.
    peer_version: Option<String>,
    pre_banner_lines: usize,
    // Buffers.
    /// Received bytes are `inbuf[in_pos..in_end]`; the rest of `inbuf` is room that
    /// [`input_space`](Transport::input_space) lends out for the next read.
    inbuf: Vec<u8>,
    in_pos: usize,
    in_end: usize,
    /// Payload buffers given back by the layers above ([`Transport::recycle`]), reused
    /// for the next packets: in steady state the data path allocates nothing.
    spare: Vec<Vec<u8>>,
    out: Vec<u8>,
    deferred: VecDeque<Vec<u8>>,
    deferred_bytes: usize,
    events: VecDeque<Event>,
    // Packet protection.
    seq_in: u32,
    /// The sequence number the peer's last SSH_MSG_UNIMPLEMENTED named.
    last_unimplemented: Option<u32>,
    seq_out: u32,
    opening: OpeningKey,
    sealing: SealingKey,
    in_len: Option<usize>,
    // Compression (RFC 4253 §6.2): the method of the keys in use per direction and its
    // zlib stream. A stream starts at NEWKEYS (`zlib`) or once authentication has
    // succeeded (`zlib@openssh.com`) and, as §6.2 says and OpenSSH does, restarts at
    // every later NEWKEYS; what survives a rekey is `after_auth`, so delayed
    // compression resumes at once. The streams stay (unused) after a rekey to `none`
    // for the exit statistics.
    comp_out: Compression,
    comp_in: Compression,
    deflate: Option<Box<Deflater>>,
    inflate: Option<Box<Inflater>>,
    deflating: bool,
    inflating: bool,
    after_auth: bool,
    // Key exchange.
    step: KexStep,
    exchange: Option<Exchange>,
    session_id: Option<Vec<u8>>,
    first_host_key: Option<Vec<u8>>,
    strict: bool,
    kex_count: u32,
    ignore_next_kex_packet: bool,
    peer_wants_ext_info: bool,
    bytes_since_kex: u64,
    last_kex: Option<Instant>,
    dead: bool,
}

impl Transport {
    /// A new transport. `host_keys` must be non-empty for a server and is ignored for a
    /// client. Our identification line and KEXINIT are queued at once (strict kex wants
    /// KEXINIT to be the first packet).
    pub fn new(role: Role, cfg: Config, host_keys: Vec<PrivateKey>) -> Result<Transport, Error> {
        Transport::with_host_keys(role, cfg, host_keys.into_iter().map(HostKey::new).collect())
    }

    /// [`Transport::new`] with host keys that may carry certificates: a server offers
    /// a key's certificate algorithms (`ssh-ed25519-cert-v01@openssh.com`, …) beside
    /// its plain ones and, when one is negotiated, sends the certificate as `K_S` and
    /// signs with the key (PROTOCOL.certkeys).
    pub fn with_host_keys(
        role: Role,
        cfg: Config,
        host_keys: Vec<HostKey>,
    ) -> Result<Transport, Error> {
        if role == Role::Server && host_keys.is_empty() {
            return Err(Error::Key("no hostkeys available".into()));
        }
        let mut t = Transport {
            role,
            cfg,
            host_keys,
            rng: rand::make_rng(),
            peer_version: None,
            pre_banner_lines: 0,
            inbuf: Vec::new(),
            in_pos: 0,
            in_end: 0,
            spare: Vec::new(),
            out: Vec::with_capacity(64 * 1024),
            deferred: VecDeque::new(),
            deferred_bytes: 0,
            events: VecDeque::new(),
            seq_in: 0,
            last_unimplemented: None,
            seq_out: 0,
            opening: OpeningKey::none(),
            sealing: SealingKey::none(),
            in_len: None,
            comp_out: Compression::None,
            comp_in: Compression::None,
            deflate: None,
            inflate: None,
            deflating: false,
            inflating: false,
            after_auth: false,
            step: KexStep::Idle,
            exchange: None,
            session_id: None,
            first_host_key: None,
            strict: false,
            kex_count: 0,
            ignore_next_kex_packet: false,
            peer_wants_ext_info: false,
            bytes_since_kex: 0,
            last_kex: None,
            dead: false,
        };
        t.out.extend_from_slice(t.cfg.version.as_bytes());
        t.out.extend_from_slice(b"\r\n");
        // A server sends KEXINIT once the client's identification is read (as
        // OpenSSH's), so that a bad one can still be answered in plain text.
        if t.role == Role::Client {
            t.start_kex()?;
        }
        Ok(t)
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The peer's identification string, once received.
    pub fn peer_version(&self) -> Option<&str> {
        self.peer_version.as_deref()
    }

    pub fn local_version(&self) -> &str {
        &self.cfg.version
    }

    /// H of the first key exchange (RFC 4253 §7.2), once it finished.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The server's host key blob as accepted in the first exchange (client side).
    pub fn host_key(&self) -> Option<&[u8]> {
        self.first_host_key.as_deref()
    }

    /// Whether the peer announced ext-info support (server side: the client's
    /// `ext-info-c`).
    pub fn peer_wants_ext_info(&self) -> bool {
        self.peer_wants_ext_info
    }

    /// The compression methods of the keys in use: (outgoing, incoming).
    pub fn compression(&self) -> (Compression, Compression) {
        (self.comp_out, self.comp_in)
    }

    /// Whether outgoing and incoming packets are being compressed right now (a
    /// delayed method only is after authentication): (outgoing, incoming).
    pub fn compressing(&self) -> (bool, bool) {
        (self.deflating, self.inflating)
    }

    /// Bytes through the outgoing and incoming zlib streams since they last
    /// (re)started, as OpenSSH reports them at exit; None for a stream never started.
    pub fn compression_stats(&self) -> (Option<compress::Stats>, Option<compress::Stats>) {
        (
            self.deflate.as_ref().map(|z| z.stats()),
            self.inflate.as_ref().map(|z| z.stats()),
        )
    }

    /// True while a key exchange is running: messages passed to [`send`](Self::send)
    /// are held back until it ends.
    pub fn kex_in_progress(&self) -> bool {
        !matches!(self.step, KexStep::Idle)
    }

    /// Bytes of upper-layer messages held back by a running key exchange plus bytes
    /// waiting to be written: the driver stops producing data while this is large.
    pub fn backlog(&self) -> usize {
        self.deferred_bytes + self.out.len()
    }

    /// Swap out the bytes to send. `buf` is cleared and exchanged with the internal
    /// buffer, so steady-state operation reuses two allocations.
    pub fn take_output(&mut self, buf: &mut Vec<u8>) {
        buf.clear();
        std::mem::swap(&mut self.out, buf);
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// True while events wait to be taken with [`poll_event`](Self::poll_event).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Feed bytes received from the peer. Errors are fatal: the caller sends what
    /// [`take_output`](Self::take_output) still holds (a DISCONNECT, where one applies)
    /// and closes the connection.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<(), Error> {
        let room = self.input_space(data.len());
        room.copy_from_slice(data.get(..room.len()).unwrap_or_default());
        self.input_filled(data.len(), now)
    }

    /// `want` bytes of room for reading from the peer straight into the transport's
    /// input buffer (no copy on the way in); [`input_filled`](Self::input_filled) then
    /// says how many were read. The buffer grows to hold at most one partial packet
    /// plus `want`.
    pub fn input_space(&mut self, want: usize) -> &mut [u8] {
        if self.in_pos == self.in_end {
            self.in_pos = 0;
            self.in_end = 0;
        } else if self.in_pos > 0 && self.inbuf.len() - self.in_end < want {
            // Move the partial packet to the front rather than grow.
            self.inbuf.copy_within(self.in_pos..self.in_end, 0);
            self.in_end -= self.in_pos;
            self.in_pos = 0;
        }
        let end = self.in_end + want;
        if self.inbuf.len() < end {
            // A fresh zeroed allocation (calloc: large ones are mapped zero pages, made
            // resident only as reads fill them) with room for a partial packet besides
            // `want`, so that it does not grow again.
            let mut grown = vec![0u8; end + MAX_PACKET];
            if let (Some(to), Some(from)) =
                (grown.get_mut(..self.in_end), self.inbuf.get(..self.in_end))
            {
                to.copy_from_slice(from);
            }
            self.inbuf = grown;
        }
        self.inbuf.get_mut(self.in_end..end).unwrap_or_default()
    }

    /// `n` bytes were read into the room [`input_space`](Self::input_space) lent: take
    /// them in, as [`handle_input`](Self::handle_input) does.
    pub fn input_filled(&mut self, n: usize, now: Instant) -> Result<(), Error> {
        if self.dead {
            return Err(Error::Protocol("connection already failed".into()));
        }
        self.in_end = (self.in_end + n).min(self.inbuf.len());
        let mut r = self.process(now);
        // What processing leaves is one partial packet, except while the host key
        // awaits the caller's verdict: a peer that floods us then is cut off.
        if r.is_ok() && self.in_end - self.in_pos > MAX_UNPROCESSED {
            r = Err(Error::Protocol(
                "too much input before the host key verdict".into(),
            ));
        }
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    /// Give back the buffer of an [`Event::Packet`] (or of the channel data made from
    /// one) once its bytes are used: the next packet is received into it.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        use crate::connection::{DEFAULT_MAX_PACKET, DEFAULT_WINDOW};
        // As many as a full window of the largest data packets we allow: that many are
        // in flight in a bulk transfer, which then allocates nothing (a fresh buffer per
        // packet costs page faults as the allocator returns memory and takes it back).
        // Past the first few, a buffer that comes back from a small message is freed
        // instead, so the pool shrinks once bulk data stops: about 1 MiB stays then.
        const KEEP: usize = (DEFAULT_WINDOW / DEFAULT_MAX_PACKET) as usize;
        const KEEP_IDLE: usize = 8;
        const SMALL: usize = 4096;
        // A buffer that held a whole data packet (with its header) is kept: the next
        // one fits without growing.
        const LARGEST: usize = DEFAULT_MAX_PACKET as usize + 1024;
        let keep = self.spare.len() < KEEP_IDLE || (self.spare.len() < KEEP && buf.len() >= SMALL);
        // Kept with its length (every use clears it or overwrites within it), so that
        // decrypting into it does not zero-fill it first.
        if keep && buf.capacity() <= LARGEST {
            self.spare.push(buf);
        }
    }

    fn fail(&mut self, e: &Error) {
        if self.dead {
            return;
        }
        self.dead = true;
        let code = match e {
            Error::Mac => Some(msg::disconnect::MAC_ERROR),
            Error::NoCommonAlgorithm { .. } | Error::Kex(_) | Error::Signature(_) => {
                Some(msg::disconnect::KEY_EXCHANGE_FAILED)
            }
            Error::Disconnected { .. } | Error::Version(_) => None,
            _ => Some(msg::disconnect::PROTOCOL_ERROR),
        };
        if let (Some(code), Some(_)) = (code, &self.peer_version) {
            let _ = self.send_disconnect(code, &e.to_string());
        }
    }

    /// Queue SSH_MSG_DISCONNECT.
    pub fn send_disconnect(&mut self, code: u32, description: &str) -> Result<(), Error> {
        let mut p = Vec::with_capacity(16 + description.len());
        p.put_u8(msg::DISCONNECT);
        p.put_u32(code);
        p.put_str(description);
        p.put_str("");
        self.write_packet(&p)
    }

    /// SSH_MSG_DEBUG, not to be shown unless the user asked for debug output (OpenSSH's
    /// ssh_packet_send_debug: a reason the peer may log, e.g. why a channel was
    /// refused).
    pub fn send_debug(&mut self, message: &str) -> Result<(), Error> {
        let mut p = Vec::with_capacity(16 + message.len());
        p.put_u8(msg::DEBUG);
        p.put_u8(0);
        p.put_str(message);
        p.put_str("");
        self.send(&p)
    }

    /// Time-based duties: start a rekey when RekeyLimit's interval has passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(due) = self.next_timeout() {
            if now >= due {
                self.start_kex()?;
            }
        }
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        match (
            self.cfg.rekey_interval,
            self.last_kex,
            self.may_rekey_by_limit(),
        ) {
            (Some(iv), Some(last), true) => Some(last + iv),
            _ => None,
        }
    }

    /// Whether RekeyLimit may start a key exchange now: none runs, and authentication
    /// has succeeded. As OpenSSH (packet.c), neither side re-keys by volume or time
    /// before that — OpenSSH's sshd does not take a KEXINIT while it authenticates, so
    /// a client that sent one would wait forever.
    fn may_rekey_by_limit(&self) -> bool {
        self.after_auth && matches!(self.step, KexStep::Idle)
    }

    /// Start a key exchange if RekeyLimit's volume is used up.
    fn rekey_if_volume_reached(&mut self) -> Result<(), Error> {
        if self.bytes_since_kex >= self.cfg.rekey_bytes && self.may_rekey_by_limit() {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Send a message of the layers above. During a key exchange it is held back and
    /// sent, in order, after NEWKEYS (RFC 4253 §7.1).
    pub fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_parts(&[payload])
    }

    /// [`send`](Self::send) a payload given in pieces (a message header and the data
    /// it carries), written straight into the output buffer: the data path makes no
    /// intermediate copy.
    pub fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), Error> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len + 64 > MAX_PACKET {
            return Err(Error::BadPacketLength(len as u32));
        }
        // Behind anything still held back, so that messages keep their order.
        if self.kex_sending_blocked() || !self.deferred.is_empty() {
            self.deferred_bytes += len;
            self.deferred.push_back(parts.concat());
            return Ok(());
        }
        self.write_packet_parts(parts, len)?;
        self.rekey_if_volume_reached()
    }

    /// Send one packet whose payload `fill` appends to the buffer it is given, which is
    /// where the packet is then sealed: bulk data read straight into it is never
    /// copied. `fill` returns false to send nothing (what it appended is dropped).
    /// While packets cannot be sealed at once (compression, or a key exchange holding
    /// them back) the payload goes through [`send`](Self::send) instead.
    pub fn send_appended(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> bool) -> Result<(), Error> {
        if self.deflating || self.kex_sending_blocked() || !self.deferred.is_empty() {
            let mut payload = self.spare.pop().unwrap_or_default();
            payload.clear();
            let r = if fill(&mut payload) {
                self.send(&payload)
            } else {
                Ok(())
            };
            self.recycle(payload);
            return r;
        }
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 5]);
        if !fill(&mut self.out) {
            self.out.truncate(start);
            return Ok(());
        }
        let len = self.out.len() - start - 5;
        if len == 0 || len + 64 > MAX_PACKET {
            self.out.truncate(start);
            return Err(Error::BadPacketLength(len as u32));
        }
        let pad = self.padding(len);
        let plen = 1 + len + pad;
        let head = self.out.get_mut(start..start + 5).ok_or(Error::Truncated)?;
        let [a, b, c, d] = (plen as u32).to_be_bytes();
        head.copy_from_slice(&[a, b, c, d, pad as u8]);
        let tag = self.sealing.tag_len();
        self.seal_packet(start, plen, pad, tag)?;
        self.rekey_if_volume_reached()
    }

    /// Start a key re-exchange now (e.g. `~R`).
    pub fn rekey(&mut self) -> Result<(), Error> {
        if matches!(self.step, KexStep::Idle) {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Client: the caller's verdict on the host key from [`Event::HostKey`].
    pub fn host_key_verdict(&mut self, accept: bool, now: Instant) -> Result<(), Error> {
        if !matches!(self.step, KexStep::ClientVerdict) {
            return Err(Error::Protocol("no host key awaiting a verdict".into()));
        }
        if !accept {
            self.dead = true;
            return Err(Error::Protocol("Host key verification failed.".into()));
        }
        let r = self.finish_exchange().and_then(|()| self.process(now));
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    /// Queue an SSH_MSG_IGNORE outside the kex hold-back (tests of strict kex).
    #[cfg(test)]
    fn send_ignore_for_test(&mut self) {
        let _ = self.write_packet(&[msg::IGNORE, 0, 0, 0, 0]);
    }

    /// Write a payload that is already zlib data as it is, compression running or not
    /// (tests of a hostile sender: bombs, garbage).
    #[cfg(test)]
    fn send_precompressed_for_test(&mut self, payload: &[u8]) -> Result<(), Error> {
        let deflating = std::mem::replace(&mut self.deflating, false);
        let r = self.write_packet(payload);
        self.deflating = deflating;
        r
    }

    // ----- internals -----

    /// Between sending our KEXINIT and sending NEWKEYS only kex messages may go out.
    fn kex_sending_blocked(&self) -> bool {
        !matches!(self.step, KexStep::Idle | KexStep::NewKeys)
    }

    fn start_kex(&mut self) -> Result<(), Error> {
        let first = self.session_id.is_none();
        let mut markers: Vec<&str> = Vec::new();
        if first {
            match self.role {
                Role::Client => markers.extend([kex::EXT_INFO_C, kex::STRICT_KEX_C]),
                Role::Server => markers.extend([kex::EXT_INFO_S, kex::STRICT_KEX_S]),
            }
        }
        let host_key_algs = match self.role {
            Role::Client => self.cfg.algorithms.host_key.clone(),
            Role::Server => self.server_host_key_algs(),
        };
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let ours = KexInit::build(&self.cfg.algorithms, &host_key_algs, &markers, cookie);
        self.write_packet(&ours.raw)?;
        self.exchange = Some(Exchange {
            ours,
            theirs: None,
            neg: None,
            gex_params: Vec::new(),
            pending_open: None,
            pending: None,
        });
        self.step = KexStep::SentInit;
        Ok(())
    }

    /// The configured host key algorithms we hold a key for, in configured order.
    fn server_host_key_algs(&self) -> Vec<String> {
        self.cfg
            .algorithms
            .host_key
            .iter()
            .filter(|name| {
                SigAlg::from_name(name)
                    .is_some_and(|alg| self.host_keys.iter().any(|k| k.algorithms().contains(&alg)))
            })
            .cloned()
            .collect()
    }

    fn process(&mut self, now: Instant) -> Result<(), Error> {
        if self.peer_version.is_none() {
            if !self.read_version()? {
                return Ok(());
            }
            if self.role == Role::Server && self.exchange.is_none() {
                self.start_kex()?;
            }
        }
        // While the caller decides on the host key, later packets (the server's NEWKEYS
        // among them) stay buffered: nothing may be acted on before the verdict.
        while !matches!(self.step, KexStep::ClientVerdict) {
            let Some(payload) = self.read_packet()? else {
                break;
            };
            self.dispatch(payload, now)?;
            if self.dead {
                break;
            }
        }
        Ok(())
    }

    /// Returns true once the peer's identification string has been read. A server
    /// answers a bad one as OpenSSH's does: an error line for the log, a plain-text
    /// reply to the client, and ssh_err's text as the error.
    fn read_version(&mut self) -> Result<bool, Error> {
        match self.read_version_line() {
            Err(Error::Version(why)) if self.role == Role::Server => {
                let (reply, err) = if why.starts_with("Protocol major versions differ") {
                    tracing::error!("{why}");
                    (
                        "Protocol major versions differ.",
                        "could not read protocol version",
                    )
                } else {
                    tracing::error!("kex_exchange_identification: {why}");
                    ("Invalid SSH identification string.", "invalid format")
                };
                self.out.extend_from_slice(reply.as_bytes());
                self.out.extend_from_slice(b"\r\n");
                Err(Error::Version(err.into()))
            }
            r => r,
        }
    }

    fn read_version_line(&mut self) -> Result<bool, Error> {
        loop {
            let avail = self.inbuf.get(self.in_pos..self.in_end).unwrap_or_default();
            // Lines a server sends before its identification may be long; the
            // identification itself may not (RFC 4253 §4.2).
            let pre_banner = |line: &[u8]| self.role == Role::Client && !line.starts_with(b"SSH-");
            let Some(nl) = avail.iter().position(|&b| b == b'\n') else {
                let limit = if pre_banner(avail) {
                    MAX_PRE_BANNER_LINE + 2
                } else {
                    MAX_VERSION_LINE
                };
                if avail.len() > limit {
                    return Err(Error::Version(
                        "banner line too long or no newline in identification".into(),
                    ));
                }
                return Ok(false);
            };
            let line = avail.get(..nl).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.in_pos += nl + 1;
            let too_long = if pre_banner(line) {
                line.len() > MAX_PRE_BANNER_LINE
            } else {
                nl + 1 > MAX_VERSION_LINE
            };
            if too_long {
                return Err(Error::Version("banner line too long".into()));
            }
            if line.starts_with(b"SSH-") {
                let text = String::from_utf8_lossy(line).into_owned();
                let proto = text.split('-').nth(1).unwrap_or("");
                if proto != "2.0" && proto != "1.99" {
                    let major = proto.split('.').next().unwrap_or(proto);
                    return Err(Error::Version(format!(
                        "Protocol major versions differ: 2 vs. {major}"
                    )));
                }
                tracing::debug!(
                    "Remote protocol version {proto}, remote software version {}",
                    text.splitn(3, '-').nth(2).unwrap_or("")
                );
                self.peer_version = Some(text);
                return Ok(true);
            }
            // RFC 4253 §4.2: a server may send other lines first; a client may not.
            if self.role == Role::Server {
                let shown: String = String::from_utf8_lossy(line).chars().take(256).collect();
                return Err(Error::Version(format!(
                    "client sent invalid protocol identifier \"{shown}\""
                )));
            }
            self.pre_banner_lines += 1;
            if self.pre_banner_lines > MAX_PRE_BANNER_LINES {
                return Err(Error::Version("banner exchange: too many lines".into()));
            }
        }
    }

    /// Decode one packet from the input buffer, if a whole one is there.
    fn read_packet(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let avail = self.in_end - self.in_pos;
        let plen = match self.in_len {
            Some(l) => l,
            None => {
                let head_len = self.opening.head_len();
                if avail < head_len {
                    return Ok(None);
                }
                let head = self
                    .inbuf
                    .get_mut(self.in_pos..self.in_pos + head_len)
                    .ok_or(Error::Truncated)?;
                let l = self.opening.packet_length(self.seq_in, head)? as usize;
                if !(5..=MAX_PACKET).contains(&l) {
                    return Err(Error::BadPacketLength(l as u32));
                }
                // Not block-aligned: refused from the length alone, as OpenSSH does
                // ("Packet corrupt"), not after up to 256 KiB more. CBC without -etm
                // reads on instead (its discard length already stands in for it).
                let o = &self.opening;
                let cbc_reads_on = o.cipher().is_cbc() && !o.mac().is_some_and(Mac::is_etm);
                let covered = l + if o.length_in_alignment() { 4 } else { 0 };
                if !cbc_reads_on && !covered.is_multiple_of(o.block_size()) {
                    return Err(Error::Mac);
                }
                self.in_len = Some(l);
                l
            }
        };
        let total = 4 + plen + self.opening.tag_len();
        if avail < total {
            return Ok(None);
        }
        let pkt_at = self.in_pos;
        let pkt = self
            .inbuf
            .get_mut(pkt_at..pkt_at + total)
            .ok_or(Error::Truncated)?;
        // chacha20-poly1305 decrypts the body straight into the payload's buffer: one
        // pass, instead of decrypting in place and then copying the payload out.
        let mut opened = None;
        if self.opening.opens_to_buffer() && !self.inflating {
            let mut v = self.spare.pop().unwrap_or_default();
            let pad = self.opening.open_to(self.seq_in, pkt, &mut v)?;
            opened = Some((v, usize::from(pad)));
        } else if let Err(e) = self.opening.open(self.seq_in, pkt) {
            // CBC without -etm: OpenSSH reads on to PACKET_MAX_SIZE before failing, so
            // when the connection drops tells nothing of the decrypted length.
            return match self.opening.discard_length().map(|n| n as usize) {
                Some(n) if self.in_len != Some(n) => {
                    self.in_len = Some(n);
                    self.read_packet()
                }
                _ => Err(e),
            };
        }
        self.in_len = None;
        self.in_pos += total;
        self.seq_in = self.seq_in.wrapping_add(1);
        if self.seq_in == 0 && self.kex_count == 0 && self.strict {
            return Err(Error::Protocol(
                "incoming sequence number wrapped during initial key exchange".into(),
            ));
        }
        self.bytes_since_kex += total as u64;
        let payload = match opened {
            Some((mut v, pad)) => {
                if pad < 4 {
                    return Err(Error::Protocol(format!("Corrupted padlen {pad} on input.")));
                }
                if pad > v.len() {
                    return Err(Error::Protocol(format!(
                        "padding error: {pad} in packet of {plen}"
                    )));
                }
                v.truncate(v.len() - pad);
                v
            }
            None => self.payload_in_place(pkt_at, plen)?,
        };
        if payload.is_empty() {
            return Err(Error::Protocol("empty packet".into()));
        }
        // Delayed compression starts, both ways, once the client has received
        // USERAUTH_SUCCESS (OpenSSH's ssh_packet_read_poll2): the next packet is
        // already compressed.
        if !self.after_auth
            && self.role == Role::Client
            && payload.first() == Some(&msg::USERAUTH_SUCCESS)
        {
            self.enable_delayed_compression();
        }
        Ok(Some(payload))
    }

    /// The payload of the packet opened in place at `at` in the input buffer
    /// (`plen` its packet_length), in a buffer of its own: inflated when compression is
    /// on, else copied.
    fn payload_in_place(&mut self, at: usize, plen: usize) -> Result<Vec<u8>, Error> {
        let body = self
            .inbuf
            .get(at + 4..at + 4 + plen)
            .ok_or(Error::Truncated)?;
        let (&pad, rest) = body.split_first().ok_or(Error::Truncated)?;
        let pad = usize::from(pad);
        if pad < 4 {
            return Err(Error::Protocol(format!("Corrupted padlen {pad} on input.")));
        }
        if pad > rest.len() {
            return Err(Error::Protocol(format!(
                "padding error: {pad} in packet of {plen}"
            )));
        }
        let payload = rest.get(..rest.len() - pad).ok_or(Error::Truncated)?;
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        if self.inflating {
            // Inflated into the stream's scratch buffer, bounded by the same limit as
            // a packet on the wire: a bomb is refused at MAX_PACKET bytes.
            let z = self
                .inflate
                .as_deref_mut()
                .ok_or(Error::Compression("unexpected internal error"))?;
            v.extend_from_slice(z.decompress(payload, MAX_PACKET)?);
        } else {
            // Exactly: a buffer grown past what `recycle` keeps would be freed after use.
            v.reserve_exact(payload.len());
            v.extend_from_slice(payload);
        }
        Ok(v)
    }

    fn write_packet(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write_packet_parts(&[payload], payload.len())
    }

    /// Pad, seal in place and append one packet whose payload is `parts` concatenated
    /// (`len` bytes in all), compressed first when compression is running.
    fn write_packet_parts(&mut self, parts: &[&[u8]], len: usize) -> Result<(), Error> {
        if self.deflating {
            self.write_compressed(parts)?;
        } else {
            let pad = self.padding(len);
            let plen = 1 + len + pad;
            let tag = self.sealing.tag_len();
            let start = self.out.len();
            self.out.reserve(4 + plen + tag);
            self.out.put_u32(plen as u32);
            self.out.put_u8(pad as u8);
            for p in parts {
                self.out.extend_from_slice(p);
            }
            self.seal_packet(start, plen, pad, tag)?;
        }
        // Delayed compression starts, both ways, once the server has sent
        // USERAUTH_SUCCESS (OpenSSH's ssh_packet_send2_wrapped).
        if !self.after_auth
            && self.role == Role::Server
            && parts.iter().find_map(|p| p.first()) == Some(&msg::USERAUTH_SUCCESS)
        {
            self.enable_delayed_compression();
        }
        Ok(())
    }

    /// Padding for a payload of `len` bytes (RFC 4253 §6: at least 4, to the block
    /// size, counting the length field where the cipher encrypts it).
    #[inline]
    fn padding(&self, len: usize) -> usize {
        let bs = self.sealing.block_size().max(8);
        let head = if self.sealing.length_in_alignment() {
            4
        } else {
            0
        };
        let mut pad = bs - (head + 1 + len) % bs;
        if pad < 4 {
            pad += bs;
        }
        pad
    }

    /// Compress `parts` straight into the output buffer behind a header filled in
    /// afterwards, then pad and seal: no copy and, once the buffer has grown, no
    /// allocation per packet.
    fn write_compressed(&mut self, parts: &[&[u8]]) -> Result<(), Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 5]);
        let z = self
            .deflate
            .as_deref_mut()
            .ok_or(Error::Compression("unexpected internal error"))?;
        let r = z.compress(parts, &mut self.out);
        let len = self.out.len() - start - 5;
        let pad = self.padding(len);
        let plen = 1 + len + pad;
        // Either way the stream has taken the data: the peer could not follow any more.
        if let Err(e) = r {
            self.out.truncate(start);
            self.dead = true;
            return Err(e);
        }
        if plen > MAX_PACKET {
            self.out.truncate(start);
            self.dead = true;
            return Err(Error::BadPacketLength(plen as u32));
        }
        let l = (plen as u32).to_be_bytes();
        self.out
            .get_mut(start..start + 5)
            .ok_or(Error::Truncated)?
            .copy_from_slice(&[l[0], l[1], l[2], l[3], pad as u8]);
        let tag = self.sealing.tag_len();
        self.seal_packet(start, plen, pad, tag)
    }

    /// Append padding and room for the tag to the packet that starts at `start`, seal
    /// it in place and count it.
    #[inline]
    fn seal_packet(
        &mut self,
        start: usize,
        plen: usize,
        pad: usize,
        tag: usize,
    ) -> Result<(), Error> {
        let pad_at = self.out.len();
        self.out.resize(pad_at + pad + tag, 0);
        if let Some(p) = self.out.get_mut(pad_at..pad_at + pad) {
            self.rng.fill_bytes(p);
        }
        let pkt = self.out.get_mut(start..).ok_or(Error::Truncated)?;
        self.sealing.seal(self.seq_out, pkt)?;
        self.seq_out = self.seq_out.wrapping_add(1);
        if self.seq_out == 0 && self.in_initial_kex() && self.strict {
            return Err(Error::Protocol(
                "outgoing sequence number wrapped during initial key exchange".into(),
            ));
        }
        self.bytes_since_kex += (4 + plen + tag) as u64;
        Ok(())
    }

    /// Until the peer's first NEWKEYS has arrived (strict kex counts to there).
    fn in_initial_kex(&self) -> bool {
        self.kex_count == 0
    }

    fn dispatch(&mut self, payload: Vec<u8>, now: Instant) -> Result<(), Error> {
        let Some(&t) = payload.first() else {
            return Err(Error::Truncated);
        };
        // Strict kex: during the initial exchange only KEXINIT, the method's messages and
        // NEWKEYS are allowed; anything else (even IGNORE) ends the connection.
        let strict_initial = self.strict && self.in_initial_kex();
        match t {
            msg::DISCONNECT => {
                let mut r = Reader::new(payload.get(1..).unwrap_or_default());
                let code = r.u32()?;
                let description = String::from_utf8_lossy(r.string()?).into_owned();
                self.dead = true;
                Err(Error::Disconnected { code, description })
            }
            msg::IGNORE | msg::UNIMPLEMENTED | msg::DEBUG if strict_initial => {
                Err(Error::Unexpected {
                    got: t,
                    state: "strict initial key exchange",
                })
            }
            msg::IGNORE => Ok(()),
            msg::UNIMPLEMENTED => {
                // The peer did not know a message of ours: nothing we send needs an
                // answer of that kind to go on, so it is noted, as OpenSSH does.
                let mut r = Reader::new(payload.get(1..).unwrap_or_default());
                let seq = r.u32()?;
                tracing::debug!("Received SSH2_MSG_UNIMPLEMENTED for {seq}");
                self.last_unimplemented = Some(seq);
                Ok(())
            }
            msg::DEBUG => {
                let mut r = Reader::new(payload.get(1..).unwrap_or_default());
                let always_display = r.bool()?;
                let message = String::from_utf8_lossy(r.string()?).into_owned();
                self.events.push_back(Event::Debug {
                    always_display,
                    message,
                });
                Ok(())
            }
            msg::KEXINIT => self.on_kexinit(payload, now),
            msg::NEWKEYS => self.on_newkeys(now),
            30..=49 => {
                if self.ignore_next_kex_packet {
                    self.ignore_next_kex_packet = false;
                    return Ok(());
                }
                self.on_kex_message(payload)
            }
            msg::EXT_INFO if self.role == Role::Client => self.on_ext_info(&payload),
            // ping@openssh.com (PROTOCOL §1.9): answered here, never seen above; not
            // allowed before the first key exchange completed.
            msg::PING if !self.in_initial_kex() => {
                let mut r = Reader::new(payload.get(1..).unwrap_or_default());
                let data = r.string()?;
                r.finish()?;
                let mut m = Vec::with_capacity(5 + data.len());
                m.put_u8(msg::PONG);
                m.put_string(data);
                self.send(&m)
            }
            msg::PONG if !self.in_initial_kex() => Ok(()),
            _ if self.in_initial_kex() => Err(Error::Unexpected {
                got: t,
                state: "initial key exchange",
            }),
            // A number no layer of ours defines (RFC 4250 §4.1: unassigned in a range,
            // reserved, or a local extension): RFC 4253 §11.4 wants SSH_MSG_UNIMPLEMENTED
            // with the packet's sequence number, and the connection goes on.
            _ if !known_message(t) => {
                // A peer that sends such messages and never reads our answers must not
                // make them pile up without end (OpenSSH's buffers stop at 128 MiB).
                if self.backlog() > MAX_REPLY_BACKLOG {
                    return Err(Error::Protocol(
                        "peer does not read our replies: output buffer full".into(),
                    ));
                }
                let seq = self.seq_in.wrapping_sub(1);
                tracing::debug!("dispatch_protocol_error: type {t} seq {seq}");
                let mut m = Vec::with_capacity(5);
                m.put_u8(msg::UNIMPLEMENTED);
                m.put_u32(seq);
                // A transport message, allowed during a key re-exchange (RFC 4253
                // §7.1): sent at once, as OpenSSH does, not held back behind it.
                self.write_packet(&m)
            }
            // During a re-exchange the peer may still send messages it queued before it
            // saw our KEXINIT; once it sent its own KEXINIT it must not.
            _ if self.exchange.as_ref().is_some_and(|x| x.theirs.is_some())
                && !matches!(self.step, KexStep::NewKeys) =>
            {
                Err(Error::Unexpected {
                    got: t,
                    state: "key exchange",
                })
            }
            _ => {
                self.events.push_back(Event::Packet(payload));
                Ok(())
            }
        }
    }

    fn on_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let n = r.u32()?;
        let mut exts = Vec::new();
        for _ in 0..n.min(64) {
            let name = r.utf8()?.to_owned();
            let value = r.string()?.to_vec();
            exts.push((name, value));
        }
        self.events.push_back(Event::ExtInfo(exts));
        Ok(())
    }

    fn on_kexinit(&mut self, payload: Vec<u8>, _now: Instant) -> Result<(), Error> {
        let first = self.in_initial_kex();
        let theirs = KexInit::parse(&payload)?;
        if matches!(self.step, KexStep::Idle) {
            self.start_kex()?;
        }
        let Some(x) = self.exchange.as_mut() else {
            return Err(Error::Unexpected {
                got: msg::KEXINIT,
                state: "kex",
            });
        };
        if x.theirs.is_some() {
            return Err(Error::Unexpected {
                got: msg::KEXINIT,
                state: "kex in progress",
            });
        }
        if first {
            let (marker, ext) = match self.role {
                Role::Client => (kex::STRICT_KEX_S, kex::EXT_INFO_S),
                Role::Server => (kex::STRICT_KEX_C, kex::EXT_INFO_C),
            };
            self.strict = theirs.has_kex_marker(marker);
            self.peer_wants_ext_info = theirs.has_kex_marker(ext);
            // Strict kex: the peer's KEXINIT must have been its very first packet.
            if self.strict && self.seq_in != 1 {
                return Err(Error::Protocol(
                    "strict KEX violation: KEXINIT was not the first packet".into(),
                ));
            }
        }
        let neg = match self.role {
            Role::Client => kex::negotiate(&x.ours, &theirs, true, &self.cfg.peer_name)?,
            Role::Server => kex::negotiate(&theirs, &x.ours, false, &self.cfg.peer_name)?,
        };
        tracing::debug!("kex: algorithm: {}", neg.kex.name());
        tracing::debug!("kex: host key algorithm: {}", neg.host_key.name());
        // OpenSSH's lines, the incoming direction first.
        let c2s = ("client->server", neg.cipher_c2s, neg.mac_c2s, neg.comp_c2s);
        let s2c = ("server->client", neg.cipher_s2c, neg.mac_s2c, neg.comp_s2c);
        let dirs = match self.role {
            Role::Client => [s2c, c2s],
            Role::Server => [c2s, s2c],
        };
        for (dir, cipher, mac, comp) in dirs {
            tracing::debug!(
                "kex: {dir} cipher: {} MAC: {} compression: {}",
                cipher.name(),
                mac.map_or("<implicit>", |m| m.name()),
                comp.name()
            );
        }
        self.ignore_next_kex_packet = neg.ignore_guess;
        let alg = neg.kex;
        let need = crate::cipher::dh_need(neg.cipher_c2s, neg.mac_c2s)
            .max(crate::cipher::dh_need(neg.cipher_s2c, neg.mac_s2c));
        x.theirs = Some(theirs);
        x.neg = Some(neg);
        match self.role {
            Role::Client if alg.is_gex() => {
                let (min, max) = self.cfg.gex_bits;
                let bits = u32::try_from(need.saturating_mul(8)).unwrap_or(u32::MAX);
                let mut n = methods::dh_estimate(bits).clamp(min, max.max(min));
                // Old Cisco servers fail on groups above 4096 bits (OpenSSH's
                // SSH_BUG_DHGEX_LARGE, for the software version "Cisco-1.*").
                let cisco = self
                    .peer_version
                    .as_deref()
                    .and_then(|v| v.splitn(3, '-').nth(2))
                    .is_some_and(|sw| sw.starts_with("Cisco-1."));
                if cisco {
                    n = n.min(4096).max(min);
                }
                let mut p = Vec::with_capacity(13);
                p.put_u8(msg::KEX_DH_GEX_REQUEST);
                p.put_u32(min);
                p.put_u32(n);
                p.put_u32(max);
                x.gex_params.put_u32(min);
                x.gex_params.put_u32(n);
                x.gex_params.put_u32(max);
                tracing::debug!("SSH2_MSG_KEX_DH_GEX_REQUEST({min}<{n}<{max}) sent");
                self.write_packet(&p)?;
                self.step = KexStep::ClientGexGroup;
            }
            Role::Client => {
                let (state, public) = KexClient::start(alg, &mut self.rng)?;
                let mut p = Vec::with_capacity(1 + public.len());
                p.put_u8(msg::KEXDH_INIT);
                p.extend_from_slice(&public);
                self.write_packet(&p)?;
                self.step = KexStep::ClientReply(Box::new(state), public);
            }
            Role::Server => self.step = KexStep::ServerInit,
        }
        Ok(())
    }

    fn on_kex_message(&mut self, payload: Vec<u8>) -> Result<(), Error> {
        let t = payload.first().copied().unwrap_or(0);
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let step = std::mem::replace(&mut self.step, KexStep::Idle);
        match (self.role, step, t) {
            (Role::Client, KexStep::ClientGexGroup, msg::KEX_DH_GEX_GROUP) => {
                let p = r.mpint()?;
                let g = r.mpint()?;
                r.finish()?;
                let group = DhGroup {
                    p: p.to_vec(),
                    g: g.to_vec(),
                };
                let (min, max) = self.cfg.gex_bits;
                let bits = group.bits() as u32;
                if bits < min || bits > max {
                    return Err(Error::Kex("DH_GEX group out of range"));
                }
                let alg = self.neg()?.kex;
                let x = self.exchange_mut()?;
                x.gex_params.put_mpint(&group.p);
                x.gex_params.put_mpint(&group.g);
                let (state, public) = KexClient::start_gex(alg, &group, &mut self.rng)?;
                let mut m = Vec::with_capacity(1 + public.len());
                m.put_u8(msg::KEX_DH_GEX_INIT);
                m.extend_from_slice(&public);
                tracing::debug!("SSH2_MSG_KEX_DH_GEX_INIT sent");
                self.write_packet(&m)?;
                self.step = KexStep::ClientReply(Box::new(state), public);
                Ok(())
            }
            (Role::Client, KexStep::ClientReply(state, client_public), t)
                if t == msg::KEXDH_REPLY && !self.neg()?.kex.is_gex()
                    || t == msg::KEX_DH_GEX_REPLY && self.neg()?.kex.is_gex() =>
            {
                let k_s = r.string()?;
                let server_raw = if self.neg()?.kex.is_gex() {
                    r.mpint()?
                } else {
                    r.string()?
                };
                let sig = r.string()?;
                r.finish()?;
                let (k, server_public) = state.finish(server_raw)?;
                let neg = self.neg()?.clone();
                let h = self.hash(&neg, k_s, &client_public, &server_public, &k)?;
                hostkey::verify(neg.host_key, k_s, &h, sig)
                    .map_err(|_| Error::Signature("incorrect signature"))?;
                // On a re-exchange the server must present the key it proved the first time.
                if let Some(first) = &self.first_host_key {
                    if first.as_slice() != k_s {
                        return Err(Error::Protocol(
                            "Server host key changed during rekey".into(),
                        ));
                    }
                    self.exchange_mut()?.pending = Some(Pending {
                        k,
                        h,
                        key_blob: k_s.to_vec(),
                    });
                    self.step = KexStep::ClientVerdict;
                    return self.finish_exchange();
                }
                self.exchange_mut()?.pending = Some(Pending {
                    k,
                    h,
                    key_blob: k_s.to_vec(),
                });
                self.events.push_back(Event::HostKey {
                    key_blob: k_s.to_vec(),
                    alg: neg.host_key,
                });
                self.step = KexStep::ClientVerdict;
                Ok(())
            }
            (Role::Server, KexStep::ServerInit, msg::KEX_DH_GEX_REQUEST)
                if self.neg()?.kex.is_gex() =>
            {
                let min = r.u32()?;
                let n = r.u32()?;
                let max = r.u32()?;
                r.finish()?;
                if min > n || n > max || max < methods::DH_GRP_MIN {
                    return Err(Error::Kex("DH_GEX request out of range"));
                }
                // OpenSSH's words for it, as the client sees them in the DISCONNECT.
                let group = match &self.cfg.moduli {
                    None => methods::choose_group(&[], min, n, max),
                    Some((file, primes)) => {
                        let group = if primes.is_empty() {
                            None
                        } else {
                            methods::choose_group(primes, min, n, max)
                        };
                        if group.is_none() {
                            tracing::info!(
                                "WARNING: no suitable primes (size {}/{}/{}) in {file}",
                                min.max(methods::DH_GRP_MIN),
                                n.clamp(methods::DH_GRP_MIN, methods::DH_GRP_MAX),
                                max.min(methods::DH_GRP_MAX)
                            );
                        }
                        group
                    }
                }
                .ok_or_else(|| Error::Protocol("no matching DH grp found".into()))?;
                let x = self.exchange_mut()?;
                x.gex_params.put_u32(min);
                x.gex_params.put_u32(n);
                x.gex_params.put_u32(max);
                x.gex_params.put_mpint(&group.p);
                x.gex_params.put_mpint(&group.g);
                let mut m = Vec::with_capacity(16 + group.p.len());
                m.put_u8(msg::KEX_DH_GEX_GROUP);
                m.put_mpint(&group.p);
                m.put_mpint(&group.g);
                self.write_packet(&m)?;
                self.step = KexStep::ServerGexInit(group);
                Ok(())
            }
            (Role::Server, KexStep::ServerInit, msg::KEXDH_INIT) if !self.neg()?.kex.is_gex() => {
                let client_raw = r.string()?;
                r.finish()?;
                let alg = self.neg()?.kex;
                let (server_public, client_public, k) =
                    methods::kex_server(alg, client_raw, &mut self.rng)?;
                self.server_reply(msg::KEXDH_REPLY, &client_public, &server_public, k)
            }
            (Role::Server, KexStep::ServerGexInit(group), msg::KEX_DH_GEX_INIT) => {
                let e = r.mpint()?;
                r.finish()?;
                let alg = self.neg()?.kex;
                let (server_public, client_public, k) =
                    methods::kex_server_gex(alg, &group, e, &mut self.rng)?;
                self.server_reply(msg::KEX_DH_GEX_REPLY, &client_public, &server_public, k)
            }
            (_, step, t) => {
                self.step = step;
                Err(Error::Unexpected {
                    got: t,
                    state: "key exchange",
                })
            }
        }
    }

    fn server_reply(
        &mut self,
        reply_type: u8,
        client_public: &[u8],
        server_public: &[u8],
        k: SharedSecret,
    ) -> Result<(), Error> {
        let neg = self.neg()?.clone();
        // K_S is the certificate for a certificate algorithm; either way the host key
        // itself signs the exchange hash.
        let (key, k_s) = self
            .host_keys
            .iter()
            .find_map(|hk| Some((hk.key(), hk.blob_for(neg.host_key)?)))
            .ok_or_else(|| Error::Key(format!("no host key for {}", neg.host_key.name())))?;
        let h = self.hash(&neg, &k_s, client_public, server_public, &k)?;
        let sig = hostkey::sign(key, neg.host_key, &h)?;
        let mut m = Vec::with_capacity(16 + k_s.len() + server_public.len() + sig.len());
        m.put_u8(reply_type);
        m.put_string(&k_s);
        m.extend_from_slice(server_public);
        m.put_string(&sig);
        self.write_packet(&m)?;
        self.exchange_mut()?.pending = Some(Pending {
            k,
            h,
            key_blob: k_s,
        });
        self.finish_exchange()
    }

    /// Send NEWKEYS and switch our outgoing direction to the new keys.
    fn finish_exchange(&mut self) -> Result<(), Error> {
        let neg = self.neg()?.clone();
        let x = self.exchange_mut()?;
        let pending = x.pending.take().ok_or(Error::Kex("no pending keys"))?;
        let session_id = self.session_id.clone().unwrap_or_else(|| pending.h.clone());
        let (c2s, s2c) = kex::derive_keys(&neg, &pending.k, &pending.h, &session_id);
        let (out_keys, in_keys) = match self.role {
            Role::Client => (c2s, s2c),
            Role::Server => (s2c, c2s),
        };
        let sealing = SealingKey::new(&out_keys)?;
        let opening = OpeningKey::new(&in_keys)?;
        self.write_packet(&[msg::NEWKEYS])?;
        tracing::debug!("SSH2_MSG_NEWKEYS sent");
        self.sealing = sealing;
        if self.strict {
            self.seq_out = 0;
        }
        self.comp_out = match self.role {
            Role::Client => neg.comp_c2s,
            Role::Server => neg.comp_s2c,
        };
        self.start_compression_out();
        if self.first_host_key.is_none() {
            self.first_host_key = Some(pending.key_blob);
        }
        if self.session_id.is_none() {
            self.session_id = Some(session_id);
        }
        self.exchange_mut()?.pending_open = Some(opening);
        self.step = KexStep::NewKeys;
        // Server: EXT_INFO goes right after our first NEWKEYS (RFC 8308 §2.4).
        if self.role == Role::Server && self.kex_count == 0 && self.peer_wants_ext_info {
            let mut m = Vec::with_capacity(256);
            m.put_u8(msg::EXT_INFO);
            m.put_u32(3);
            m.put_str("server-sig-algs");
            m.put_str(SERVER_SIG_ALGS);
            m.put_str("publickey-hostbound@openssh.com");
            m.put_str("0");
            m.put_str("ping@openssh.com");
            m.put_str("0");
            self.write_packet(&m)?;
        }
        // What was held back during the exchange goes out now, under the new keys and
        // before anything sent later (OpenSSH sends its queue right after NEWKEYS).
        self.send_deferred()
    }

    fn send_deferred(&mut self) -> Result<(), Error> {
        while let Some(p) = self.deferred.pop_front() {
            self.deferred_bytes -= p.len();
            self.write_packet(&p)?;
        }
        Ok(())
    }

    fn on_newkeys(&mut self, now: Instant) -> Result<(), Error> {
        if !matches!(self.step, KexStep::NewKeys) {
            return Err(Error::Unexpected {
                got: msg::NEWKEYS,
                state: "key exchange",
            });
        }
        tracing::debug!("SSH2_MSG_NEWKEYS received");
        let x = self.exchange.take().ok_or(Error::Kex("no exchange"))?;
        let neg = x.neg.ok_or(Error::Kex("no negotiation"))?;
        self.opening = x.pending_open.ok_or(Error::Kex("no pending keys"))?;
        self.in_len = None;
        self.comp_in = match self.role {
            Role::Client => neg.comp_s2c,
            Role::Server => neg.comp_c2s,
        };
        self.start_compression_in();
        if self.strict {
            self.seq_in = 0;
        }
        let first = self.kex_count == 0;
        self.kex_count += 1;
        self.bytes_since_kex = 0;
        self.last_kex = Some(now);
        self.step = KexStep::Idle;
        self.events.push_back(Event::KexDone {
            first,
            negotiated: Box::new(neg),
        });
        self.send_deferred()
    }

    /// OpenSSH's ssh_packet_enable_delayed_compress: a delayed method runs from now
    /// on in both directions, and every later NEWKEYS starts it at once.
    fn enable_delayed_compression(&mut self) {
        self.after_auth = true;
        if !self.deflating {
            self.start_compression_out();
        }
        if !self.inflating {
            self.start_compression_in();
        }
    }

    /// New outgoing keys (or authentication): start a fresh stream if the method runs
    /// now (RFC 4253 §6.2: the context is initialized after each key exchange).
    fn start_compression_out(&mut self) {
        self.deflating = self.comp_out == Compression::Zlib
            || self.comp_out == Compression::ZlibDelayed && self.after_auth;
        if self.deflating {
            tracing::debug!("Enabling compression at level 6.");
            self.deflate = Some(Box::default());
        }
    }

    fn start_compression_in(&mut self) {
        self.inflating = self.comp_in == Compression::Zlib
            || self.comp_in == Compression::ZlibDelayed && self.after_auth;
        if self.inflating {
            self.inflate = Some(Box::default());
        }
    }

    fn neg(&self) -> Result<&Negotiated, Error> {
        self.exchange
            .as_ref()
            .and_then(|x| x.neg.as_ref())
            .ok_or(Error::Kex("no negotiation"))
    }

    fn exchange_mut(&mut self) -> Result<&mut Exchange, Error> {
        self.exchange.as_mut().ok_or(Error::Kex("no exchange"))
    }

    fn hash(
        &self,
        neg: &Negotiated,
        k_s: &[u8],
        client_public: &[u8],
        server_public: &[u8],
        k: &SharedSecret,
    ) -> Result<Vec<u8>, Error> {
        let x = self.exchange.as_ref().ok_or(Error::Kex("no exchange"))?;
        let theirs = x.theirs.as_ref().ok_or(Error::Kex("no peer KEXINIT"))?;
        let peer_version = self.peer_version.as_deref().unwrap_or("").as_bytes();
        let ours = self.cfg.version.as_bytes();
        let (v_c, v_s, i_c, i_s) = match self.role {
            Role::Client => (ours, peer_version, &x.ours.raw, &theirs.raw),
            Role::Server => (peer_version, ours, &theirs.raw, &x.ours.raw),
        };
        let input = HashInput {
            v_c,
            v_s,
            i_c,
            i_s,
            k_s,
            gex_params: &x.gex_params,
            client_public,
            server_public,
        };
        Ok(kex::exchange_hash(neg.kex.hash(), &input, k))
    }
}

/// At the end of a connection that compressed, OpenSSH's statistics lines (from
/// ssh_packet_close), seen with `ssh -v` and in sshd's debug log.
impl Drop for Transport {
    fn drop(&mut self) {
        let (out, inc) = self.compression_stats();
        if let Some(s) = out {
            tracing::debug!(
                "compress outgoing: raw data {}, compressed {}, factor {:.2}",
                s.raw,
                s.compressed,
                s.factor()
            );
        }
        if let Some(s) = inc {
            tracing::debug!(
                "compress incoming: raw data {}, compressed {}, factor {:.2}",
                s.raw,
                s.compressed,
                s.factor()
            );
        }
    }
}

/// Signature algorithms a server accepts for user authentication, announced in
/// EXT_INFO `server-sig-algs` (the list OpenSSH 9.x sends).
pub const SERVER_SIG_ALGS: &str = "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";

#[cfg(test)]
mod tests;
