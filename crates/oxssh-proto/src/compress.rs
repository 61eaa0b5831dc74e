//! Packet compression (RFC 4253 §6.2): the `none`, `zlib` and OpenSSH's delayed
//! `zlib@openssh.com` methods, and the zlib streams that carry them.
//!
//! > "The compression context is initialized after each key exchange, and is passed
//! > from one packet to the next, with only a partial flush being performed at the end
//! > of each packet." (RFC 4253 §6.2)
//!
//! Each direction has one stream ([`Deflater`] out, [`Inflater`] in); every packet's
//! payload is compressed on its own and ends with a partial flush, so the peer can
//! decode each packet as soon as it arrives. Inflating is bounded: a payload that
//! would grow past the caller's limit is refused before more than the limit is ever
//! allocated (a compression bomb costs the receiver at most one packet's worth).
//!
//! When a stream starts (at NEWKEYS for `zlib`, after SSH_MSG_USERAUTH_SUCCESS for
//! `zlib@openssh.com`) is the transport's business, not this module's.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use crate::Error;

/// zlib level OpenSSH uses (`start_compression_out(ssh, 6)`).
const LEVEL: u32 = 6;

/// A compression method named in KEXINIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `none`: payloads go as they are.
    None,
    /// `zlib`: compression from the first NEWKEYS on (RFC 4253 §6.2).
    Zlib,
    /// `zlib@openssh.com`: zlib once user authentication succeeded (the server after
    /// sending SSH_MSG_USERAUTH_SUCCESS, the client after receiving it), so nothing an
    /// unauthenticated peer sends is ever inflated.
    ZlibDelayed,
}

impl Compression {
    /// Every method we implement, in `ssh -Q compression` order (OpenSSH's
    /// `compression_alg_list(0)`).
    pub const ALL: [Compression; 3] = [
        Compression::None,
        Compression::ZlibDelayed,
        Compression::Zlib,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::ZlibDelayed => "zlib@openssh.com",
        }
    }

    pub fn from_name(name: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Bytes through one stream since it (re)started: what OpenSSH reports at exit as
/// "compress outgoing: raw data N, compressed M, factor F".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Payload bytes before compression (after decompression, incoming).
    pub raw: u64,
    /// Bytes of zlib data on the wire.
    pub compressed: u64,
}

impl Stats {
    /// compressed / raw, as OpenSSH prints it (0 when nothing went through).
    pub fn factor(&self) -> f64 {
        if self.raw == 0 {
            0.0
        } else {
            self.compressed as f64 / self.raw as f64
        }
    }
}

/// ssh_err() texts OpenSSH ends the connection with (`ssh_dispatch_run_fatal: …`).
const INVALID_FORMAT: &str = "invalid format";
const NO_BUFFER_SPACE: &str = "insufficient buffer space";
const INTERNAL: &str = "unexpected internal error";

/// The outgoing stream.
pub struct Deflater {
    z: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater::new()
    }
}

impl Deflater {
    pub fn new() -> Deflater {
        Deflater {
            // zlib framing (deflateInit, not raw deflate), as OpenSSH.
            z: Compress::new(flate2::Compression::new(LEVEL), true),
        }
    }

    /// Compress one payload, given in pieces, appending the zlib data to `out` and
    /// ending with a partial flush (OpenSSH's `Z_PARTIAL_FLUSH`). `out` grows as needed
    /// but is not otherwise touched: the caller reuses one buffer for every packet.
    pub fn compress(&mut self, parts: &[&[u8]], out: &mut Vec<u8>) -> Result<(), Error> {
        let Some((last, rest)) = parts.split_last() else {
            return self.run(&[], out, FlushCompress::Partial);
        };
        for p in rest {
            self.run(p, out, FlushCompress::None)?;
        }
        self.run(last, out, FlushCompress::Partial)
    }

    fn run(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        flush: FlushCompress,
    ) -> Result<(), Error> {
        loop {
            // Deflate grows incompressible data by a few bytes per block at most; with
            // this much room one call nearly always finishes the packet.
            out.reserve(input.len() + input.len() / 8 + 64);
            let spare = out.capacity() - out.len();
            let (in0, len0) = (self.z.total_in(), out.len());
            self.z
                .compress_vec(input, out, flush)
                .map_err(|_| Error::Compression(INTERNAL))?;
            let used = usize::try_from(self.z.total_in() - in0).unwrap_or(usize::MAX);
            let produced = out.len() - len0;
            input = input.get(used..).unwrap_or_default();
            // Done once all input is taken and the flush fitted (room was left over).
            if input.is_empty() && produced < spare {
                return Ok(());
            }
            if used == 0 && produced == 0 {
                return Err(Error::Compression(INTERNAL));
            }
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            raw: self.z.total_in(),
            compressed: self.z.total_out(),
        }
    }
}

/// The incoming stream, with a scratch buffer reused for every packet.
pub struct Inflater {
    z: Decompress,
    buf: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            z: Decompress::new(true),
            buf: Vec::new(),
        }
    }

    /// Inflate one packet's payload. More than `limit` bytes of output is an error
    /// (OpenSSH's "insufficient buffer space"), found with at most `limit + 1` bytes
    /// allocated; data that is not a valid continuation of the stream is
    /// "invalid format". The result borrows the scratch buffer until the next call.
    pub fn decompress(&mut self, mut input: &[u8], limit: usize) -> Result<&[u8], Error> {
        self.buf.clear();
        loop {
            if self.buf.len() == self.buf.capacity() {
                // Grow by doubling, never past limit + 1: the one byte over the limit
                // proves the payload too large without allocating for the rest of it.
                let room = limit.saturating_add(1).saturating_sub(self.buf.len());
                if room == 0 {
                    return Err(Error::Compression(NO_BUFFER_SPACE));
                }
                let grow = self.buf.capacity().max(4096).min(room);
                self.buf.reserve_exact(grow);
            }
            let spare = self.buf.capacity() - self.buf.len();
            let (in0, len0) = (self.z.total_in(), self.buf.len());
            let status = self
                .z
                .decompress_vec(input, &mut self.buf, FlushDecompress::Sync)
                .map_err(|_| Error::Compression(INVALID_FORMAT))?;
            let used = usize::try_from(self.z.total_in() - in0).unwrap_or(usize::MAX);
            let produced = self.buf.len() - len0;
            input = input.get(used..).unwrap_or_default();
            if self.buf.len() > limit {
                return Err(Error::Compression(NO_BUFFER_SPACE));
            }
            match status {
                // The sender ended its stream: nothing after could be decoded. OpenSSH
                // treats Z_STREAM_END as an internal error too.
                Status::StreamEnd => return Err(Error::Compression(INTERNAL)),
                // No progress possible: everything there is has been produced.
                Status::BufError => break,
                Status::Ok => {}
            }
            if input.is_empty() && produced < spare {
                break;
            }
            if used == 0 && produced == 0 {
                break;
            }
        }
        Ok(&self.buf)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            raw: self.z.total_out(),
            compressed: self.z.total_in(),
        }
    }

    /// Bytes the scratch buffer holds allocated (tests: a bomb stays within the limit).
    #[cfg(test)]
    pub(crate) fn scratch_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_ssh_q_order() {
        let names: Vec<&str> = Compression::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["none", "zlib@openssh.com", "zlib"]);
        for c in Compression::ALL {
            assert_eq!(Compression::from_name(c.name()), Some(c));
        }
        assert_eq!(Compression::from_name("zlib@example.com"), None);
    }

    #[test]
    fn packets_decode_one_by_one_with_shared_context() {
        let mut d = Deflater::new();
        let mut i = Inflater::new();
        let text = b"the same words again and again and again ".repeat(50);
        let mut sizes = Vec::new();
        for n in 0..5u8 {
            let mut wire = Vec::new();
            d.compress(&[&[94, n], &text], &mut wire).unwrap();
            sizes.push(wire.len());
            let back = i.decompress(&wire, 256 * 1024).unwrap();
            assert_eq!(back.first(), Some(&94));
            assert_eq!(back.get(2..), Some(&text[..]));
        }
        // Later packets refer back to earlier ones: the context is shared.
        assert!(sizes[1] < sizes[0], "{sizes:?}");
        assert_eq!(d.stats().raw, i.stats().raw);
        assert_eq!(d.stats().compressed, i.stats().compressed);
    }

    #[test]
    fn bomb_is_refused_within_the_limit() {
        let mut d = Deflater::new();
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let mut wire = Vec::new();
        d.compress(&[&zeros], &mut wire).unwrap();
        assert!(wire.len() < 64 * 1024, "{}", wire.len());
        let mut i = Inflater::new();
        let limit = 256 * 1024;
        let e = i.decompress(&wire, limit).unwrap_err();
        assert_eq!(e.to_string(), "insufficient buffer space");
        assert!(
            i.scratch_capacity() <= limit + 1,
            "{}",
            i.scratch_capacity()
        );
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let mut d = Deflater::new();
        let data = vec![b'x'; 10_000];
        let mut wire = Vec::new();
        d.compress(&[&data], &mut wire).unwrap();
        let mut i = Inflater::new();
        assert_eq!(i.decompress(&wire, 10_000).unwrap().len(), 10_000);
        let mut d = Deflater::new();
        let mut wire = Vec::new();
        d.compress(&[&data], &mut wire).unwrap();
        let mut i = Inflater::new();
        assert!(i.decompress(&wire, 9_999).is_err());
    }

    #[test]
    fn garbage_is_invalid_format_never_a_panic() {
        let mut seed = 0x9e37_79b9u32;
        for len in [1usize, 2, 7, 64, 1000, 5000] {
            let mut junk = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                junk.push((seed >> 16) as u8);
            }
            let mut i = Inflater::new();
            // Whatever the bytes, the answer is data or an error, and never too much.
            if let Ok(out) = i.decompress(&junk, 4096) {
                assert!(out.len() <= 4096);
            }
        }
        let mut i = Inflater::new();
        let e = i
            .decompress(&[0x78, 0x9c, 0xff, 0xff, 0xff], 4096)
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid format");
    }

    #[test]
    fn a_finished_stream_is_refused() {
        let mut z = Compress::new(flate2::Compression::new(6), true);
        let mut wire = Vec::with_capacity(256);
        z.compress_vec(b"hello", &mut wire, FlushCompress::Finish)
            .unwrap();
        let mut i = Inflater::new();
        assert!(i.decompress(&wire, 4096).is_err());
    }
}
