//! Tunnel forwarding in ssh (`-w local_tun[:remote_tun]`, Tunnel, TunnelDevice,
//! ExitOnForwardFailure), as OpenSSH's ssh does it:
//!
//! - the local tun (point-to-point) or tap (ethernet) device is opened before the
//!   session, and a `tun@openssh.com` channel asks the server for its side (its unit,
//!   or any); so the tunnel is channel 0 and the session channel 1, as in OpenSSH;
//! - a device that cannot be opened, or a channel the server refuses, is reported in
//!   OpenSSH's words, and is fatal (exit 255) only with ExitOnForwardFailure;
//! - each packet is one CHANNEL_DATA message, never split or merged: one packet from
//!   the device is in flight at a time (the device's own queue holds the rest) and
//!   waits for the server's window; each message from the server is written to the
//!   device as one packet and given back to the window once written.
//!
//! While the tunnel is open, ssh stays (after the session, or with `-N`), as OpenSSH's
//! does.

use std::sync::Arc;

use oxssh_config::{ClientConfig as Options, TunnelMode};
use oxssh_proto::connection::{ChannelEvent, ChannelId, Connection, Datagram};
use oxssh_proto::transport::Transport;
use oxssh_proto::wire::Put;
use oxssh_sys::tun::{Mode, Tun, UNIT_ANY};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::client::Failure;

type ProtoResult<T> = Result<T, oxssh_proto::Error>;

/// The tunnel's channel.
struct Chan {
    id: ChannelId,
    /// The device, until the server confirms the channel and the pumps take it.
    pending: Option<Arc<Tun>>,
    /// Data for the device; `None` is the server's EOF.
    to_device: Option<mpsc::UnboundedSender<Option<Vec<u8>>>>,
    /// A packet from the device waiting for the server's window, and its reader.
    held: Option<(Vec<u8>, oneshot::Sender<()>)>,
    tasks: Vec<AbortHandle>,
}

impl Drop for Chan {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What the device tasks report.
pub struct Msg(Inner);

enum Inner {
    /// A packet from the device (wire form); `ack` once sent or dropped.
    Read(Vec<u8>, oneshot::Sender<()>),
    /// The device can no longer be read.
    ReadDone,
    /// `n` bytes of channel data went to the device.
    Wrote(usize),
}

/// The connection's tunnel, if it asked for one.
pub struct Tunnel {
    chan: Option<Chan>,
    exit_on_failure: bool,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl Tunnel {
    /// Open the local device and ask for the server's side when Tunnel (or `-w`) asks
    /// for it (OpenSSH's client_request_tun_fwd). Returns the tunnel and the local
    /// interface's name; a local failure is an error only with ExitOnForwardFailure.
    pub fn request(
        o: &Options,
        chans: &mut Connection,
        t: &mut Transport,
    ) -> Result<(Tunnel, Option<String>), Failure> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tunnel = Tunnel {
            chan: None,
            exit_on_failure: o.exit_on_forward_failure,
            tx,
            rx,
        };
        let mode = match o.tunnel {
            TunnelMode::No => return Ok((tunnel, None)),
            TunnelMode::PointToPoint => Mode::PointToPoint,
            TunnelMode::Ethernet => Mode::Ethernet,
        };
        let local = o.tunnel_device.local.unwrap_or(UNIT_ANY);
        let remote = o.tunnel_device.remote.unwrap_or(UNIT_ANY);
        tracing::debug!("Requesting tun unit {local} in mode {}", mode.wire());
        let tun = match Tun::open(local, mode) {
            Ok(tun) => tun,
            Err((what, e)) => {
                tracing::debug!("sys_tun_open: {what} (mode {}): {e}", mode.wire());
                oxssh_cli::log::eprint("Tunnel device open failed.");
                if tunnel.exit_on_failure {
                    return Err(Failure::Message(
                        "Could not request tunnel forwarding.".into(),
                    ));
                }
                oxssh_cli::log::eprint("Could not request tunnel forwarding.");
                return Ok((tunnel, None));
            }
        };
        let name = tun.name().to_owned();
        tracing::debug!("Tunnel forwarding using interface {name}");
        let mut body = Vec::with_capacity(8);
        body.put_u32(mode.wire());
        body.put_u32(remote);
        let id = chans.open(t, "tun@openssh.com", &body)?;
        tunnel.chan = Some(Chan {
            id,
            pending: Some(Arc::new(tun)),
            to_device: None,
            held: None,
            tasks: Vec::new(),
        });
        Ok((tunnel, Some(name)))
    }

    /// Whether `id` is the tunnel's channel.
    pub fn owns(&self, id: ChannelId) -> bool {
        self.chan.as_ref().is_some_and(|c| c.id == id)
    }

    /// The tunnel is open (or opening): ssh stays for it.
    pub fn is_open(&self) -> bool {
        self.chan.is_some()
    }

    /// An event of the tunnel's channel ([`owns`](Self::owns) said so). An error is the
    /// end of ssh (a refused tunnel with ExitOnForwardFailure).
    pub fn event(
        &mut self,
        chans: &mut Connection,
        t: &mut Transport,
        ev: ChannelEvent,
    ) -> Result<(), Failure> {
        let Some(c) = self.chan.as_mut() else {
            return Ok(());
        };
        match ev {
            ChannelEvent::Opened { id } => {
                tracing::debug!("tunnel forward established, id={id}");
                if let Some(tun) = c.pending.take() {
                    start_pumps(c, tun, &self.tx);
                }
            }
            ChannelEvent::OpenFailed {
                id,
                reason,
                description,
            } => {
                self.chan = None;
                oxssh_cli::log::eprint(&format!(
                    "channel {id}: open failed: {}{}{description}",
                    crate::session::open_failure_text(reason),
                    if description.is_empty() { "" } else { ": " }
                ));
                if self.exit_on_failure {
                    return Err(Failure::Message("Tunnel forwarding failed".into()));
                }
                oxssh_cli::log::eprint("Tunnel forwarding failed");
            }
            ChannelEvent::Data { id, data, ext } => {
                let n = data.len();
                let queued = match (&c.to_device, ext) {
                    (Some(w), None) => w.send(Some(data)).is_ok(),
                    _ => false,
                };
                if !queued {
                    chans.consumed(t, id, n)?;
                }
            }
            ChannelEvent::Eof { .. } => {
                if let Some(w) = c.to_device.take() {
                    let _ = w.send(None);
                }
            }
            ChannelEvent::WindowAdjusted { .. } => self.progress(chans, t)?,
            ChannelEvent::Request {
                id,
                want_reply: true,
                ..
            } => chans.reply(t, id, false)?,
            ChannelEvent::Closed { .. } => self.chan = None,
            _ => {}
        }
        Ok(())
    }

    /// The next report from the device tasks (never ends: we hold a sender).
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    pub fn handle(&mut self, chans: &mut Connection, t: &mut Transport, m: Msg) -> ProtoResult<()> {
        let Some(c) = self.chan.as_mut() else {
            return Ok(());
        };
        match m.0 {
            Inner::Read(data, ack) => c.held = Some((data, ack)),
            Inner::ReadDone => {
                // The device is gone: so is the tunnel, as a socket's EOF would end it.
                let id = c.id;
                chans.send_eof(t, id)?;
                chans.close(t, id)?;
            }
            Inner::Wrote(n) => {
                if chans.is_open(c.id) {
                    chans.consumed(t, c.id, n)?;
                }
            }
        }
        self.progress(chans, t)
    }

    /// Send the held packet if the server's window takes it now.
    pub fn progress(&mut self, chans: &mut Connection, t: &mut Transport) -> ProtoResult<()> {
        let Some(c) = self.chan.as_mut() else {
            return Ok(());
        };
        let Some((data, _)) = &c.held else {
            return Ok(());
        };
        match chans.send_datagram(t, c.id, data)? {
            Datagram::Wait => return Ok(()),
            Datagram::Sent => {}
            Datagram::TooBig => tracing::debug!("channel {}: datagram too big", c.id),
        }
        if let Some((_, ack)) = c.held.take() {
            let _ = ack.send(());
        }
        Ok(())
    }
}

/// The channel an event is about; None for global ones.
pub fn channel_of(ev: &ChannelEvent) -> Option<ChannelId> {
    match ev {
        ChannelEvent::OpenRequest { id, .. }
        | ChannelEvent::Opened { id }
        | ChannelEvent::OpenFailed { id, .. }
        | ChannelEvent::Data { id, .. }
        | ChannelEvent::WindowAdjusted { id }
        | ChannelEvent::Eof { id }
        | ChannelEvent::Closed { id }
        | ChannelEvent::Request { id, .. }
        | ChannelEvent::RequestResult { id, .. } => Some(*id),
        ChannelEvent::GlobalRequest { .. } | ChannelEvent::GlobalResult { .. } => None,
    }
}

/// The device's reader (one packet in flight) and writer tasks.
fn start_pumps(c: &mut Chan, tun: Arc<Tun>, tx: &mpsc::UnboundedSender<Msg>) {
    let dev = tun.clone();
    let t = tx.clone();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; oxssh_sys::tun::RECV_BUF];
        while let Ok(n) = dev.recv(&mut buf).await {
            let (ack, acked) = oneshot::channel();
            let data = buf.get(..n).unwrap_or_default().to_vec();
            if t.send(Msg(Inner::Read(data, ack))).is_err() || acked.await.is_err() {
                return;
            }
        }
        let _ = t.send(Msg(Inner::ReadDone));
    });
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    let t = tx.clone();
    let writer = tokio::spawn(async move {
        while let Some(Some(data)) = wrx.recv().await {
            // A device that fails a write drops the packet, as a network would.
            let _ = tun.send(&data).await;
            let _ = t.send(Msg(Inner::Wrote(data.len())));
        }
    });
    c.to_device = Some(wtx);
    c.tasks.push(reader.abort_handle());
    c.tasks.push(writer.abort_handle());
}
