//! oxssh-proto: the SSH protocol as pure state machines (sans-IO).
//!
//! This crate never touches a socket, a file or a clock of its own. Callers feed it
//! bytes received from the peer and the current time, and take from it bytes to send
//! and events to act on. That makes every layer testable in memory, fuzzable, and
//! drivable by any runtime (the tokio driver lives in `oxssh-net`).
//!
//! Layers, one module each, bottom up:
//! - [`wire`]: RFC 4251 §5 data types.
//! - [`cipher`]: packet protection (RFC 4253 §6, OpenSSH `PROTOCOL.chacha20poly1305`,
//!   RFC 5647 as amended by OpenSSH's `aes*-gcm@openssh.com`).
//! - [`compress`]: packet compression (RFC 4253 §6.2, OpenSSH's `zlib@openssh.com`).
//! - [`kex`]: algorithm negotiation, key exchange methods, exchange hash, key derivation.
//! - [`hostkey`]: host key and user key signature algorithms.
//! - [`transport`]: version exchange, binary packet protocol, key (re)exchange.
//! - [`auth`]: user authentication messages (RFC 4252, 4256).
//! - [`connection`]: channels, flow control and requests (RFC 4254).
//!
//! Cryptographic primitives come from the RustCrypto crates; nothing here implements one.

#![forbid(unsafe_code)]

pub mod auth;
pub mod cipher;
pub mod compress;
pub mod connection;
pub mod forward;
pub mod hostkey;
pub mod kex;
pub mod msg;
pub mod transport;
pub mod wire;

/// Everything that can go wrong in the protocol layer. Callers branch on the variant;
/// the `Display` text is what OpenSSH would print for the same condition where one exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input ended inside a field.
    #[error("message truncated")]
    Truncated,
    /// A field had a value the spec does not allow.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A packet length outside RFC 4253 §6.1 limits (checked before allocating).
    #[error("Bad packet length {0}.")]
    BadPacketLength(u32),
    /// MAC or AEAD tag verification failed.
    #[error("Corrupted MAC on input.")]
    Mac,
    /// A message that is not valid in the current state.
    #[error("protocol error: unexpected message type {got} in state {state}")]
    Unexpected { got: u8, state: &'static str },
    /// Negotiation found no algorithm both sides accept.
    #[error("Unable to negotiate with {peer}: no matching {kind} found. Their offer: {offer}")]
    NoCommonAlgorithm {
        kind: &'static str,
        peer: String,
        offer: String,
    },
    /// The peer's signature or key was bad.
    #[error("{0}")]
    Signature(&'static str),
    /// A key exchange computation failed (invalid public value, decapsulation error…).
    #[error("key exchange failed: {0}")]
    Kex(&'static str),
    /// An algorithm name we do not implement.
    #[error("unsupported algorithm {0}")]
    Unsupported(String),
    /// Key material could not be parsed or used.
    #[error("invalid key: {0}")]
    Key(String),
    /// The peer sent SSH_MSG_DISCONNECT.
    #[error("Received disconnect from peer: {code}: {description}")]
    Disconnected { code: u32, description: String },
    /// Version exchange failed.
    #[error("{0}")]
    Version(String),
    /// Packet compression failed (RFC 4253 §6.2): data that is not the peer's zlib
    /// stream, or a payload that inflates past the packet size limit. The text is
    /// OpenSSH's `ssh_err()` wording ("invalid format", "insufficient buffer space").
    #[error("{0}")]
    Compression(&'static str),
    /// Any other protocol violation, described.
    #[error("{0}")]
    Protocol(String),
}
