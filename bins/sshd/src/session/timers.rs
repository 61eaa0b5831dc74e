//! The clocks of an authenticated connection, as OpenSSH's server loop keeps them:
//! ClientAliveInterval/ClientAliveCountMax (probe a quiet client with a
//! keepalive@openssh.com request, give up after too many unanswered ones),
//! ChannelTimeout (close a channel idle for longer than its type's limit; session
//! channels are labelled `session:command`, `session:shell` or
//! `session:subsystem:NAME` once started) and UnusedConnectionTimeout (end a
//! connection that has had no open channel for that long). This module only keeps
//! time and says what is due; the session loop acts on it.

use std::collections::HashMap;
use std::time::Duration;

use oxssh_proto::connection::ChannelId;
use tokio::time::Instant;

use crate::config::ServerConfig;

/// A channel's inactivity clock.
struct Idle {
    limit: Option<Duration>,
    last_used: Instant,
}

/// What [`Timers::due`] found to do.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Close this channel: idle for its limit (in seconds).
    ChannelIdle(ChannelId, u64),
    /// Send a keepalive probe.
    Probe,
    /// ClientAliveCountMax probes went unanswered.
    ClientGone,
    /// No channel was open for UnusedConnectionTimeout.
    Unused,
}

pub(super) struct Timers {
    patterns: Vec<(String, u64)>,
    chans: HashMap<ChannelId, Idle>,
    alive: Option<Duration>,
    alive_max: i32,
    /// When we last heard from the client or sent it a probe.
    last_heard: Instant,
    misses: i32,
    unused: Option<Duration>,
    unused_expiry: Option<Instant>,
}

impl Timers {
    pub(super) fn new(cfg: &ServerConfig, now: Instant) -> Timers {
        let secs = |s: i32| (s > 0).then(|| Duration::from_secs(u64::from(s.unsigned_abs())));
        Timers {
            patterns: cfg.channel_timeout_list(),
            chans: HashMap::new(),
            alive: secs(cfg.client_alive_interval),
            alive_max: cfg.client_alive_count_max,
            last_heard: now,
            misses: 0,
            unused: secs(cfg.unused_connection_timeout),
            unused_expiry: None,
        }
    }

    /// The limit for a channel of `ctype`: the first pattern that matches it.
    fn lookup(&self, ctype: &str) -> Option<Duration> {
        self.patterns
            .iter()
            .find(|(p, _)| oxssh_config::pattern::match_pattern(ctype, p))
            .and_then(|&(_, s)| (s > 0).then(|| Duration::from_secs(s)))
    }

    /// A channel of `ctype` ("session", "direct-tcpip", …) was opened.
    pub(super) fn opened(&mut self, id: ChannelId, ctype: &str, now: Instant) {
        let limit = self.lookup(ctype);
        let secs = limit.map_or(0, |d| d.as_secs());
        tracing::debug!("channel {id}: new {ctype} (inactive timeout: {secs})");
        self.chans.insert(
            id,
            Idle {
                limit,
                last_used: now,
            },
        );
    }

    /// A session channel started what it runs: its type becomes `xtype`
    /// ("session:shell", …) for the timeout.
    pub(super) fn label(&mut self, id: ChannelId, xtype: &str) {
        let limit = self.lookup(xtype);
        if let Some(c) = self.chans.get_mut(&id) {
            c.limit = limit;
            let secs = limit.map_or(0, |d| d.as_secs());
            tracing::debug!(
                "channel_set_xtype: labeled channel {id} as {xtype} (inactive timeout {secs})"
            );
        }
    }

    /// Data went through the channel, either way.
    pub(super) fn used(&mut self, id: ChannelId, now: Instant) {
        if let Some(c) = self.chans.get_mut(&id) {
            c.last_used = now;
        }
    }

    /// The channel is closing: exempt from its timeout from now on.
    pub(super) fn closed(&mut self, id: ChannelId) {
        self.chans.remove(&id);
    }

    /// Bytes arrived from the client.
    pub(super) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// The client answered a probe (or any request of ours).
    pub(super) fn answered(&mut self) {
        if self.alive.is_some() {
            tracing::debug!("Got reply for keepalive");
        }
        self.misses = 0;
    }

    /// The next moment something may be due (`open`: whether any channel is open).
    pub(super) fn deadline(&mut self, open: bool, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for c in self.chans.values() {
            if let Some(l) = c.limit {
                at(c.last_used + l);
            }
        }
        if let Some(i) = self.alive {
            at(self.last_heard + i);
        }
        if let Some(u) = self.unused {
            if open || self.unused_expiry.is_none() {
                self.unused_expiry = Some(now + u);
            }
            if let Some(e) = self.unused_expiry {
                at(e);
            }
        }
        next
    }

    /// What is due at `now` (`open`: whether any channel is open).
    pub(super) fn due(&mut self, open: bool, now: Instant) -> Vec<Due> {
        let mut out = Vec::new();
        let mut idle: Vec<(ChannelId, u64)> = self
            .chans
            .iter()
            .filter_map(|(&id, c)| {
                let l = c.limit?;
                (now >= c.last_used + l).then_some((id, l.as_secs()))
            })
            .collect();
        idle.sort_unstable();
        for (id, secs) in idle {
            self.chans.remove(&id);
            out.push(Due::ChannelIdle(id, secs));
        }
        if let Some(i) = self.alive {
            if now >= self.last_heard + i {
                self.misses = self.misses.saturating_add(1);
                if self.alive_max > 0 && self.misses > self.alive_max {
                    out.push(Due::ClientGone);
                } else {
                    out.push(Due::Probe);
                }
                self.last_heard = now;
            }
        }
        if !open && self.unused_expiry.is_some_and(|e| now >= e) {
            out.push(Due::Unused);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cfg(lines: &str) -> ServerConfig {
        let mut fs = oxssh_config::MemFs::new();
        fs.add("/etc/ssh/sshd_config", lines);
        ServerConfig::load(&oxssh_config::ServerOptions::default(), &fs).unwrap()
    }

    #[test]
    fn channel_timeout_follows_the_first_matching_type() {
        let c = cfg("ChannelTimeout session:command=5 session:*=60 direct-tcpip=10\n");
        let t0 = Instant::now();
        let mut t = Timers::new(&c, t0);
        t.opened(0, "session", t0);
        t.opened(1, "session", t0);
        t.opened(2, "direct-tcpip", t0);
        t.label(0, "session:command");
        t.label(1, "session:shell");
        assert_eq!(t.deadline(true, t0), Some(t0 + Duration::from_secs(5)));
        assert_eq!(t.due(true, t0 + Duration::from_secs(4)), vec![]);
        // Use at 4 s pushes channel 0's deadline to 9 s; channel 2 goes at 10 s.
        t.used(0, t0 + Duration::from_secs(4));
        assert_eq!(t.due(true, t0 + Duration::from_secs(8)), vec![]);
        assert_eq!(
            t.due(true, t0 + Duration::from_secs(10)),
            vec![Due::ChannelIdle(0, 5), Due::ChannelIdle(2, 10)]
        );
        // Closed channels are exempt; the shell has a minute.
        assert_eq!(t.deadline(true, t0), Some(t0 + Duration::from_secs(60)));
        t.closed(1);
        assert_eq!(t.deadline(true, t0), None);
    }

    #[test]
    fn client_alive_probes_then_gives_up() {
        let c = cfg("ClientAliveInterval 2\nClientAliveCountMax 2\n");
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Timers::new(&c, t0);
        assert_eq!(t.deadline(true, t0), Some(t0 + s(2)));
        t.heard(t0 + s(1));
        assert_eq!(t.due(true, t0 + s(2)), vec![]);
        assert_eq!(t.due(true, t0 + s(3)), vec![Due::Probe]);
        assert_eq!(t.due(true, t0 + s(5)), vec![Due::Probe]);
        // An answer resets the count.
        t.answered();
        assert_eq!(t.due(true, t0 + s(7)), vec![Due::Probe]);
        assert_eq!(t.due(true, t0 + s(9)), vec![Due::Probe]);
        assert_eq!(t.due(true, t0 + s(11)), vec![Due::ClientGone]);
    }

    #[test]
    fn unused_connection_timeout_counts_only_without_channels() {
        let c = cfg("UnusedConnectionTimeout 3\n");
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Timers::new(&c, t0);
        assert_eq!(t.deadline(false, t0), Some(t0 + s(3)));
        // A channel open restarts the clock each time round.
        assert_eq!(t.deadline(true, t0 + s(2)), Some(t0 + s(5)));
        assert_eq!(t.due(true, t0 + s(6)), vec![]);
        assert_eq!(t.deadline(false, t0 + s(6)), Some(t0 + s(5)));
        assert_eq!(t.due(false, t0 + s(6)), vec![Due::Unused]);
        // Nothing configured: no deadline at all.
        let mut none = Timers::new(&cfg(""), t0);
        assert_eq!(none.deadline(false, t0), None);
    }
}
