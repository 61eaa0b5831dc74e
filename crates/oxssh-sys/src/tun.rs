//! Tunnel devices for `tun@openssh.com` (ssh `-w`, Tunnel, TunnelDevice; sshd
//! PermitTunnel): Linux's `/dev/net/tun`, opened as OpenSSH's port-net.c opens it, and
//! its packets in the form they take on the wire.
//!
//! - A point-to-point tunnel is a `tun` device (layer 3), an ethernet tunnel a `tap`
//!   device (layer 2), both without the kernel's packet-information header. Unit N is
//!   the interface `tunN`/`tapN` (created, or an existing persistent one that this user
//!   may attach to); "any" lets the kernel pick the next free name.
//! - On the wire a layer 3 packet is preceded by a 32-bit address family in OpenBSD's
//!   numbering (2 for IPv4, 24 for IPv6), which OpenSSH on every system sends and
//!   expects; it is added from the IP version of what the device gives us and dropped
//!   from what goes to the device. Ethernet frames travel as they are.
//! - The device is polled on tokio's reactor; each read is one packet, each write one
//!   packet. What cannot be a packet is dropped, never fatal: a layer 3 packet no longer
//!   than an IP header from the device, or a wire packet shorter than its family field,
//!   or one the kernel refuses as malformed.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};

use tokio::io::unix::AsyncFd;

/// The unit number that means "any free one" (OpenSSH's SSH_TUNID_ANY).
pub const UNIT_ANY: u32 = 0x7fff_ffff;
/// The largest unit number (SSH_TUNID_MAX).
pub const UNIT_MAX: u32 = UNIT_ANY - 2;
/// OpenBSD's AF_INET and AF_INET6, as the address family field on the wire.
pub const WIRE_AF_INET: u32 = 2;
pub const WIRE_AF_INET6: u32 = 24;
/// The most one read takes from the device: a tunnel's MTU can be at most 65535.
pub const MAX_PACKET: usize = 65536;
/// The buffer [`Tun::recv`] wants: the largest packet and its family field.
pub const RECV_BUF: usize = MAX_PACKET + 4;
/// The smallest IPv4 header: a layer 3 packet must be longer (OpenSSH's check).
const IP_HEADER: usize = 20;

/// The protocol's tunnel modes (SSH_TUNMODE_POINTOPOINT, SSH_TUNMODE_ETHERNET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    PointToPoint,
    Ethernet,
}

impl Mode {
    /// The mode's number in `tun@openssh.com`.
    pub fn wire(self) -> u32 {
        match self {
            Mode::PointToPoint => 1,
            Mode::Ethernet => 2,
        }
    }

    /// The mode with this number, if it is one.
    pub fn from_wire(n: u32) -> Option<Mode> {
        match n {
            1 => Some(Mode::PointToPoint),
            2 => Some(Mode::Ethernet),
            _ => None,
        }
    }
}

/// An open tunnel device on tokio's reactor. Reads and writes take `&self`, so one
/// task may read while another writes (share it in an `Arc`).
#[derive(Debug)]
pub struct Tun {
    io: AsyncFd<File>,
    mode: Mode,
    name: String,
}

impl Tun {
    /// Open unit `unit` ([`UNIT_ANY`] for any) in `mode`. The error is what the system
    /// said; `what` tells which step failed, in OpenSSH's debug words.
    pub fn open(unit: u32, mode: Mode) -> Result<Tun, (&'static str, io::Error)> {
        if unit != UNIT_ANY && unit > UNIT_MAX {
            return Err((
                "invalid tunnel id",
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let path = c"/dev/net/tun";
        // SAFETY: open(2) of a NUL-terminated path; the result is checked.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err((
                "failed to open tunnel control device",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let file = unsafe { File::from_raw_fd(fd) };
        // SAFETY: ifreq is plain data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        let (flags, prefix) = match mode {
            Mode::PointToPoint => (libc::IFF_TUN, "tun"),
            Mode::Ethernet => (libc::IFF_TAP, "tap"),
        };
        ifr.ifr_ifru.ifru_flags = (flags | libc::IFF_NO_PI) as libc::c_short;
        if unit != UNIT_ANY {
            let name = format!("{prefix}{unit}");
            // Fits: "tap" and at most 10 digits, under IFNAMSIZ with the NUL.
            for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
                *dst = src as libc::c_char;
            }
        }
        // SAFETY: TUNSETIFF reads and writes the ifreq we own, for the whole call.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
            return Err(("failed to configure tunnel", io::Error::last_os_error()));
        }
        let mut last = ifr.ifr_name;
        if let Some(l) = last.last_mut() {
            *l = 0;
        }
        // SAFETY: the name is NUL-terminated within the array (its last byte is 0).
        let name = unsafe { CStr::from_ptr(last.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: the `File` owns its descriptor and keeps it open until the `AsyncFd`
        // that owns the `File` is dropped.
        let io = unsafe { AsyncFd::register(file) }
            .map_err(|e| ("failed to register tunnel", e.into_parts().1))?;
        Ok(Tun { io, mode, name })
    }

    /// The interface's name, e.g. `tun0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The next packet from the device, in its wire form, at the start of `buf`;
    /// returns its length. `buf` should hold [`RECV_BUF`] bytes (a longer packet is cut
    /// short, as the kernel cuts any read).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let head = match self.mode {
            Mode::PointToPoint => 4,
            Mode::Ethernet => 0,
        };
        loop {
            let mut guard = self.io.readable().await?;
            let body = buf.get_mut(head..).unwrap_or_default();
            match guard.try_io(|f| f.get_ref().read(body)) {
                // A device never reads empty; a buffer too small to read into does.
                Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(n)) => {
                    let packet = buf.get(head..head + n).unwrap_or_default();
                    if let Some(af) = wire_family(self.mode, packet) {
                        if let Some(h) = buf.get_mut(..4) {
                            h.copy_from_slice(&af.to_be_bytes());
                        }
                        return Ok(head + n);
                    }
                    if self.mode == Mode::Ethernet && n > 0 {
                        return Ok(n);
                    }
                    // Not a packet we can frame: dropped.
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }

    /// Write one packet in wire form to the device. A packet that cannot be one (too
    /// short, or refused by the kernel as malformed) is dropped; other errors are
    /// returned.
    pub async fn send(&self, wire: &[u8]) -> io::Result<()> {
        let Some(packet) = device_form(self.mode, wire) else {
            return Ok(());
        };
        loop {
            let mut guard = self.io.writable().await?;
            match guard.try_io(|f| f.get_ref().write(packet)) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // A packet the kernel refuses (EINVAL), or cannot take now: the
                // interface is still down (EIO), out of buffers (ENOBUFS, ENOMEM).
                // Dropped, as a network would; the tunnel goes on.
                Ok(Err(e))
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::EIO | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }
}

/// The wire family of a layer 3 packet from the device, or None: not point-to-point,
/// or too short to be an IP packet (OpenSSH requires more than an IPv4 header).
fn wire_family(mode: Mode, packet: &[u8]) -> Option<u32> {
    if mode != Mode::PointToPoint || packet.len() <= IP_HEADER {
        return None;
    }
    Some(match packet.first()? >> 4 {
        6 => WIRE_AF_INET6,
        _ => WIRE_AF_INET,
    })
}

/// What goes to the device for a wire packet: a layer 3 packet without its family
/// field; None when there is nothing to write.
fn device_form(mode: Mode, wire: &[u8]) -> Option<&[u8]> {
    let p = match mode {
        Mode::PointToPoint => wire.get(4..)?,
        Mode::Ethernet => wire,
    };
    (!p.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer3_packets_carry_openbsd_family_numbers_on_the_wire() {
        let mut v4 = vec![0u8; 28];
        v4[0] = 0x45;
        let mut v6 = vec![0u8; 48];
        v6[0] = 0x60;
        assert_eq!(wire_family(Mode::PointToPoint, &v4), Some(2));
        assert_eq!(wire_family(Mode::PointToPoint, &v6), Some(24));
        // No longer than an IPv4 header: not framed (OpenSSH's filter refuses it too).
        assert_eq!(wire_family(Mode::PointToPoint, &v4[..20]), None);
        assert_eq!(wire_family(Mode::Ethernet, &v4), None);
    }

    #[test]
    fn the_family_field_is_dropped_before_the_device_and_short_packets_are_nothing() {
        let wire = [0, 0, 0, 2, 0x45, 1, 2];
        assert_eq!(device_form(Mode::PointToPoint, &wire), Some(&wire[4..]));
        assert_eq!(device_form(Mode::PointToPoint, &wire[..4]), None);
        assert_eq!(device_form(Mode::PointToPoint, &wire[..3]), None);
        assert_eq!(device_form(Mode::Ethernet, &wire), Some(&wire[..]));
        assert_eq!(device_form(Mode::Ethernet, &[]), None);
    }

    #[test]
    fn modes_have_the_protocol_numbers() {
        assert_eq!(Mode::from_wire(1), Some(Mode::PointToPoint));
        assert_eq!(Mode::from_wire(2), Some(Mode::Ethernet));
        assert_eq!(Mode::from_wire(3), None);
        assert_eq!(Mode::Ethernet.wire(), 2);
    }
}
