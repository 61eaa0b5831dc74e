//! The typed payloads of the connection protocol's channel types and requests beyond a
//! plain session (RFC 4254 §6.2–§7, §6.5–§6.10; OpenSSH PROTOCOL §2.1–§2.7 and
//! PROTOCOL.agent): what follows the common CHANNEL_OPEN fields for `direct-tcpip`,
//! `forwarded-tcpip`, `direct-streamlocal@openssh.com`,
//! `forwarded-streamlocal@openssh.com`, `x11`, `auth-agent@openssh.com` and
//! `tun@openssh.com`; the global requests `tcpip-forward` (its reply carries the port
//! when 0 was asked), `cancel-tcpip-forward`, `streamlocal-forward@openssh.com` and its
//! cancel, `no-more-sessions@openssh.com`, `keepalive@openssh.com`; and the channel
//! requests `x11-req`, `signal`, `exit-signal`, `break`, `xon-xoff`,
//! `eow@openssh.com` and `auth-agent-req@openssh.com`.
//!
//! [`crate::connection::Connection`] carries these as opaque bytes; this module gives
//! them a type, with `encode` producing exactly the bytes OpenSSH sends and `decode`
//! refusing truncated or trailing data. Policy (what to allow) is the caller's.

use crate::Error;
use crate::wire::{Put, Reader};

/// What a CHANNEL_OPEN asks for, by channel type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOpen {
    Session,
    /// `direct-tcpip`: connect to host:port for the peer (ssh -L, -D, -W).
    DirectTcpip {
        host: String,
        port: u32,
        originator: String,
        originator_port: u32,
    },
    /// `forwarded-tcpip`: a connection arrived on a port the peer asked us to listen on.
    ForwardedTcpip {
        address: String,
        port: u32,
        originator: String,
        originator_port: u32,
    },
    /// `direct-streamlocal@openssh.com`: connect to a Unix socket.
    DirectStreamlocal {
        path: String,
    },
    /// `forwarded-streamlocal@openssh.com`: a connection on a forwarded Unix socket.
    ForwardedStreamlocal {
        path: String,
    },
    /// `x11`: an X11 client connected to the forwarded display.
    X11 {
        originator: String,
        originator_port: u32,
    },
    /// `auth-agent@openssh.com`: a client of the forwarded agent socket.
    AuthAgent,
    /// `tun@openssh.com`: layer 3 (mode 1) or layer 2 (mode 2) tunnel to unit N.
    Tun {
        mode: u32,
        unit: u32,
    },
}

impl ChannelOpen {
    /// The channel type name on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelOpen::Session => "session",
            ChannelOpen::DirectTcpip { .. } => "direct-tcpip",
            ChannelOpen::ForwardedTcpip { .. } => "forwarded-tcpip",
            ChannelOpen::DirectStreamlocal { .. } => "direct-streamlocal@openssh.com",
            ChannelOpen::ForwardedStreamlocal { .. } => "forwarded-streamlocal@openssh.com",
            ChannelOpen::X11 { .. } => "x11",
            ChannelOpen::AuthAgent => "auth-agent@openssh.com",
            ChannelOpen::Tun { .. } => "tun@openssh.com",
        }
    }

    /// The type-specific data (after sender channel, window and maximum packet).
    pub fn encode(&self) -> Vec<u8> {
        let mut d = Vec::new();
        match self {
            ChannelOpen::Session | ChannelOpen::AuthAgent => {}
            ChannelOpen::DirectTcpip {
                host,
                port,
                originator,
                originator_port,
            }
            | ChannelOpen::ForwardedTcpip {
                address: host,
                port,
                originator,
                originator_port,
            } => {
                d.put_str(host);
                d.put_u32(*port);
                d.put_str(originator);
                d.put_u32(*originator_port);
            }
            ChannelOpen::DirectStreamlocal { path } => {
                d.put_str(path);
                // Reserved: "string reserved, uint32 reserved" (PROTOCOL §2.4).
                d.put_str("");
                d.put_u32(0);
            }
            ChannelOpen::ForwardedStreamlocal { path } => {
                d.put_str(path);
                d.put_str("");
            }
            ChannelOpen::X11 {
                originator,
                originator_port,
            } => {
                d.put_str(originator);
                d.put_u32(*originator_port);
            }
            ChannelOpen::Tun { mode, unit } => {
                d.put_u32(*mode);
                d.put_u32(*unit);
            }
        }
        d
    }

    /// Parse the data of a CHANNEL_OPEN of type `kind`; None for a type not listed here.
    pub fn decode(kind: &str, data: &[u8]) -> Option<Result<ChannelOpen, Error>> {
        let mut r = Reader::new(data);
        let v = (|| -> Result<ChannelOpen, Error> {
            let v = match kind {
                "session" => ChannelOpen::Session,
                "auth-agent@openssh.com" => ChannelOpen::AuthAgent,
                "direct-tcpip" => ChannelOpen::DirectTcpip {
                    host: r.utf8()?.to_owned(),
                    port: r.u32()?,
                    originator: r.utf8()?.to_owned(),
                    originator_port: r.u32()?,
                },
                "forwarded-tcpip" => ChannelOpen::ForwardedTcpip {
                    address: r.utf8()?.to_owned(),
                    port: r.u32()?,
                    originator: r.utf8()?.to_owned(),
                    originator_port: r.u32()?,
                },
                "direct-streamlocal@openssh.com" => {
                    let path = r.utf8()?.to_owned();
                    r.string()?;
                    r.u32()?;
                    ChannelOpen::DirectStreamlocal { path }
                }
                "forwarded-streamlocal@openssh.com" => {
                    let path = r.utf8()?.to_owned();
                    r.string()?;
                    ChannelOpen::ForwardedStreamlocal { path }
                }
                // RFC 4254 §6.3.2; very old clients omit the originator.
                "x11" if data.is_empty() => ChannelOpen::X11 {
                    originator: String::new(),
                    originator_port: 0,
                },
                "x11" => ChannelOpen::X11 {
                    originator: r.utf8()?.to_owned(),
                    originator_port: r.u32()?,
                },
                "tun@openssh.com" => ChannelOpen::Tun {
                    mode: r.u32()?,
                    unit: r.u32()?,
                },
                _ => return Err(Error::Truncated),
            };
            r.finish()?;
            Ok(v)
        })();
        match kind {
            "session"
            | "auth-agent@openssh.com"
            | "direct-tcpip"
            | "forwarded-tcpip"
            | "direct-streamlocal@openssh.com"
            | "forwarded-streamlocal@openssh.com"
            | "x11"
            | "tun@openssh.com" => Some(v),
            _ => None,
        }
    }
}

/// A global request, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRequest {
    /// `tcpip-forward`: listen on address:port for the peer (ssh -R); port 0 asks the
    /// server to pick one and return it in the reply.
    TcpipForward {
        address: String,
        port: u32,
    },
    CancelTcpipForward {
        address: String,
        port: u32,
    },
    StreamlocalForward {
        path: String,
    },
    CancelStreamlocalForward {
        path: String,
    },
    /// `no-more-sessions@openssh.com`: refuse any further session channel.
    NoMoreSessions,
    /// `keepalive@openssh.com`: answered (with failure) to prove liveness.
    Keepalive,
}

impl GlobalRequest {
    pub fn name(&self) -> &'static str {
        match self {
            GlobalRequest::TcpipForward { .. } => "tcpip-forward",
            GlobalRequest::CancelTcpipForward { .. } => "cancel-tcpip-forward",
            GlobalRequest::StreamlocalForward { .. } => "streamlocal-forward@openssh.com",
            GlobalRequest::CancelStreamlocalForward { .. } => {
                "cancel-streamlocal-forward@openssh.com"
            }
            GlobalRequest::NoMoreSessions => "no-more-sessions@openssh.com",
            GlobalRequest::Keepalive => "keepalive@openssh.com",
        }
    }

    /// The request-specific data (after name and want_reply).
    pub fn encode(&self) -> Vec<u8> {
        let mut d = Vec::new();
        match self {
            GlobalRequest::TcpipForward { address, port }
            | GlobalRequest::CancelTcpipForward { address, port } => {
                d.put_str(address);
                d.put_u32(*port);
            }
            GlobalRequest::StreamlocalForward { path }
            | GlobalRequest::CancelStreamlocalForward { path } => d.put_str(path),
            GlobalRequest::NoMoreSessions | GlobalRequest::Keepalive => {}
        }
        d
    }

    /// Parse a global request; None for a name not listed here (answer those per
    /// want_reply with failure).
    pub fn decode(name: &str, data: &[u8]) -> Option<Result<GlobalRequest, Error>> {
        let mut r = Reader::new(data);
        let mut v = |name: &str| -> Result<GlobalRequest, Error> {
            let v = match name {
                "tcpip-forward" => GlobalRequest::TcpipForward {
                    address: r.utf8()?.to_owned(),
                    port: r.u32()?,
                },
                "cancel-tcpip-forward" => GlobalRequest::CancelTcpipForward {
                    address: r.utf8()?.to_owned(),
                    port: r.u32()?,
                },
                "streamlocal-forward@openssh.com" => GlobalRequest::StreamlocalForward {
                    path: r.utf8()?.to_owned(),
                },
                "cancel-streamlocal-forward@openssh.com" => {
                    GlobalRequest::CancelStreamlocalForward {
                        path: r.utf8()?.to_owned(),
                    }
                }
                "no-more-sessions@openssh.com" => GlobalRequest::NoMoreSessions,
                _ => GlobalRequest::Keepalive,
            };
            r.finish()?;
            Ok(v)
        };
        match name {
            "tcpip-forward"
            | "cancel-tcpip-forward"
            | "streamlocal-forward@openssh.com"
            | "cancel-streamlocal-forward@openssh.com"
            | "no-more-sessions@openssh.com"
            | "keepalive@openssh.com" => Some(v(name)),
            _ => None,
        }
    }
}

/// The REQUEST_SUCCESS data of a `tcpip-forward` that asked for port 0: the port bound.
pub fn tcpip_forward_reply(port: u32) -> Vec<u8> {
    let mut d = Vec::new();
    d.put_u32(port);
    d
}

/// Parse a `tcpip-forward` REQUEST_SUCCESS: the allocated port, if the reply has one.
pub fn parse_tcpip_forward_reply(data: &[u8]) -> Option<u32> {
    let mut r = Reader::new(data);
    let p = r.u32().ok()?;
    r.finish().ok()?;
    Some(p)
}

/// A channel request beyond pty-req/env/shell/exec/subsystem/window-change/exit-status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRequest {
    X11Req {
        single_connection: bool,
        auth_protocol: String,
        auth_cookie: String,
        screen: u32,
    },
    /// `signal`: signal name without "SIG".
    Signal {
        name: String,
    },
    ExitSignal {
        name: String,
        core_dumped: bool,
        message: String,
        language: String,
    },
    /// `break` (RFC 4335): length in milliseconds.
    Break {
        ms: u32,
    },
    XonXoff {
        client_can_do: bool,
    },
    /// `eow@openssh.com`: the peer will write no more to the channel's stdin.
    Eow,
    AuthAgentReq,
}

impl ChannelRequest {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelRequest::X11Req { .. } => "x11-req",
            ChannelRequest::Signal { .. } => "signal",
            ChannelRequest::ExitSignal { .. } => "exit-signal",
            ChannelRequest::Break { .. } => "break",
            ChannelRequest::XonXoff { .. } => "xon-xoff",
            ChannelRequest::Eow => "eow@openssh.com",
            ChannelRequest::AuthAgentReq => "auth-agent-req@openssh.com",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut d = Vec::new();
        match self {
            ChannelRequest::X11Req {
                single_connection,
                auth_protocol,
                auth_cookie,
                screen,
            } => {
                d.put_bool(*single_connection);
                d.put_str(auth_protocol);
                d.put_str(auth_cookie);
                d.put_u32(*screen);
            }
            ChannelRequest::Signal { name } => d.put_str(name),
            ChannelRequest::ExitSignal {
                name,
                core_dumped,
                message,
                language,
            } => {
                d.put_str(name);
                d.put_bool(*core_dumped);
                d.put_str(message);
                d.put_str(language);
            }
            ChannelRequest::Break { ms } => d.put_u32(*ms),
            ChannelRequest::XonXoff { client_can_do } => d.put_bool(*client_can_do),
            ChannelRequest::Eow | ChannelRequest::AuthAgentReq => {}
        }
        d
    }

    /// Parse a channel request; None for a name not listed here.
    pub fn decode(name: &str, data: &[u8]) -> Option<Result<ChannelRequest, Error>> {
        let known = matches!(
            name,
            "x11-req"
                | "signal"
                | "exit-signal"
                | "break"
                | "xon-xoff"
                | "eow@openssh.com"
                | "auth-agent-req@openssh.com"
        );
        if !known {
            return None;
        }
        let mut r = Reader::new(data);
        let mut v = || -> Result<ChannelRequest, Error> {
            let v = match name {
                "x11-req" => ChannelRequest::X11Req {
                    single_connection: r.bool()?,
                    auth_protocol: r.utf8()?.to_owned(),
                    auth_cookie: r.utf8()?.to_owned(),
                    screen: r.u32()?,
                },
                "signal" => ChannelRequest::Signal {
                    name: r.utf8()?.to_owned(),
                },
                "exit-signal" => ChannelRequest::ExitSignal {
                    name: r.utf8()?.to_owned(),
                    core_dumped: r.bool()?,
                    message: r.utf8()?.to_owned(),
                    language: r.utf8()?.to_owned(),
                },
                "break" => ChannelRequest::Break { ms: r.u32()? },
                "xon-xoff" => ChannelRequest::XonXoff {
                    client_can_do: r.bool()?,
                },
                "eow@openssh.com" => ChannelRequest::Eow,
                _ => ChannelRequest::AuthAgentReq,
            };
            r.finish()?;
            Ok(v)
        };
        Some(v())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn channel_opens_round_trip_and_match_openssh_bytes() {
        let all = [
            ChannelOpen::Session,
            ChannelOpen::DirectTcpip {
                host: "localhost".into(),
                port: 80,
                originator: "127.0.0.1".into(),
                originator_port: 40000,
            },
            ChannelOpen::ForwardedTcpip {
                address: "0.0.0.0".into(),
                port: 8080,
                originator: "10.0.0.1".into(),
                originator_port: 5,
            },
            ChannelOpen::DirectStreamlocal {
                path: "/run/x.sock".into(),
            },
            ChannelOpen::ForwardedStreamlocal {
                path: "/tmp/y".into(),
            },
            ChannelOpen::X11 {
                originator: "127.0.0.1".into(),
                originator_port: 6010,
            },
            ChannelOpen::AuthAgent,
            ChannelOpen::Tun {
                mode: 1,
                unit: 0x7fff_ffff,
            },
        ];
        for c in all {
            let d = c.encode();
            assert_eq!(ChannelOpen::decode(c.kind(), &d).unwrap().unwrap(), c);
            // Every truncation is an error, never a panic; trailing bytes are refused.
            for n in 0..d.len() {
                assert!(
                    ChannelOpen::decode(c.kind(), &d[..n]).unwrap().is_err()
                        || n == 0 && c.kind() == "x11"
                );
            }
            let mut long = d.clone();
            long.push(0);
            assert!(ChannelOpen::decode(c.kind(), &long).unwrap().is_err());
        }
        // direct-tcpip as OpenSSH sends it (channels.c channel_connect_stdio_fwd).
        let d = ChannelOpen::DirectTcpip {
            host: "h".into(),
            port: 22,
            originator: "".into(),
            originator_port: 0,
        }
        .encode();
        assert_eq!(d, [0, 0, 0, 1, b'h', 0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(ChannelOpen::decode("unknown@example.com", &[]).is_none());
    }

    #[test]
    fn global_and_channel_requests_round_trip() {
        for g in [
            GlobalRequest::TcpipForward {
                address: "localhost".into(),
                port: 0,
            },
            GlobalRequest::CancelTcpipForward {
                address: "".into(),
                port: 2222,
            },
            GlobalRequest::StreamlocalForward { path: "/s".into() },
            GlobalRequest::CancelStreamlocalForward { path: "/s".into() },
            GlobalRequest::NoMoreSessions,
            GlobalRequest::Keepalive,
        ] {
            let d = g.encode();
            assert_eq!(GlobalRequest::decode(g.name(), &d).unwrap().unwrap(), g);
            for n in 0..d.len() {
                assert!(GlobalRequest::decode(g.name(), &d[..n]).unwrap().is_err());
            }
        }
        assert!(GlobalRequest::decode("hostkeys-00@openssh.com", &[]).is_none());
        assert_eq!(
            parse_tcpip_forward_reply(&tcpip_forward_reply(43211)),
            Some(43211)
        );
        assert_eq!(parse_tcpip_forward_reply(&[]), None);

        for c in [
            ChannelRequest::X11Req {
                single_connection: false,
                auth_protocol: "MIT-MAGIC-COOKIE-1".into(),
                auth_cookie: "00ff".into(),
                screen: 0,
            },
            ChannelRequest::Signal {
                name: "TERM".into(),
            },
            ChannelRequest::ExitSignal {
                name: "KILL".into(),
                core_dumped: true,
                message: "".into(),
                language: "".into(),
            },
            ChannelRequest::Break { ms: 1000 },
            ChannelRequest::XonXoff {
                client_can_do: true,
            },
            ChannelRequest::Eow,
            ChannelRequest::AuthAgentReq,
        ] {
            let d = c.encode();
            assert_eq!(ChannelRequest::decode(c.name(), &d).unwrap().unwrap(), c);
            for n in 0..d.len() {
                assert!(ChannelRequest::decode(c.name(), &d[..n]).unwrap().is_err());
            }
        }
        assert!(ChannelRequest::decode("pty-req", &[]).is_none());
    }
}
