//! The listener's admission control, as OpenSSH's `sshd.c` (`drop_connection`,
//! `should_drop_connection`) and `srclimit.c` decide it for each accepted socket before
//! a per-connection process is started:
//!
//! - `MaxStartups start:rate:full` (sshd_config(5)): random early drop of new
//!   connections while `start` or more are still unauthenticated, with probability
//!   `rate`% rising linearly to 100% at `full`; the throttling log lines of OpenSSH 9.2.
//! - `PerSourceMaxStartups` / `PerSourceNetBlockSize`: unauthenticated connections per
//!   source netblock.
//! - `PerSourcePenalties` / `PerSourcePenaltyExemptList` (OpenSSH 9.8, with 10.0's
//!   `refuseconnection`): sources whose connections failed authentication, crashed,
//!   exceeded LoginGraceTime or were refused are refused at accept for a while; the
//!   table of penalised netblocks is capped (`max-sources4`/`max-sources6`).
//!
//! Pure logic: time and the random number come in as arguments, no sockets here. Which
//! child ended how is `startup.rs`'s business; the listener loop is in `main.rs`.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// What OpenSSH 9.2 writes to a client dropped by MaxStartups before closing.
pub const MAXSTARTUPS_MSG: &[u8] = b"Exceeded MaxStartups\r\n";
/// What OpenSSH 9.8 writes to a client refused for a penalty.
pub const PENALTY_MSG: &[u8] = b"Not allowed at this time\r\n";
/// OpenSSH's `SSHD_MAXSTARTUPS_LOG_INTERVAL`: how often to repeat the throttling line.
const MAXSTARTUPS_LOG_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// `MaxStartups start:rate:full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxStartups {
    pub begin: i32,
    pub rate: i32,
    pub full: i32,
}

impl MaxStartups {
    /// `should_drop_connection`: `r` is uniform in `0..100`. Dropping starts at
    /// connection #`begin` with probability `rate`/100, rising linearly until every
    /// connection is dropped at `full`.
    pub fn should_drop(&self, startups: i32, r: u32) -> bool {
        if startups < self.begin {
            return false;
        }
        if startups >= self.full || self.rate == 100 {
            return true;
        }
        let span = i64::from(self.full) - i64::from(self.begin);
        let (rate, above) = (
            i64::from(self.rate),
            i64::from(startups) - i64::from(self.begin),
        );
        let Some(step) = ((100 - rate) * above).checked_div(span) else {
            return true;
        };
        let p = step + rate;
        tracing::debug!("should_drop_connection: p {p}, r {r}");
        i64::from(r) < p
    }
}

/// A number uniform in `0..100` (OpenSSH: `arc4random_uniform(100)`), from std's
/// randomly keyed SipHash: a drop decision needs to be unpredictable, not secret.
pub fn random_percent() -> u32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let h = std::collections::hash_map::RandomState::new().hash_one(n);
    u32::try_from(h % 100).unwrap_or(0)
}

/// The address as OpenSSH logs and counts it: an IPv4-mapped IPv6 peer is IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// `PerSourceNetBlockSize`: the address with all but the first `bits4`/`bits6` bits
/// cleared, and the prefix length used.
pub fn mask(ip: IpAddr, bits4: i32, bits6: i32) -> (IpAddr, u32) {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let bits = bits4.clamp(0, 32) as u32;
            let m = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            (IpAddr::V4(Ipv4Addr::from(u32::from(a) & m)), bits)
        }
        IpAddr::V6(a) => {
            let bits = bits6.clamp(0, 128) as u32;
            let m = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            (IpAddr::V6(Ipv6Addr::from(u128::from(a) & m)), bits)
        }
    }
}

/// OpenSSH's `fmt_timeframe`: `HH:MM:SS`, `DdHHhMMm` past a day, `WWwDdHHh` past a
/// week.
pub fn fmt_timeframe(d: Duration) -> String {
    let mut t = d.as_secs();
    let sec = t % 60;
    t /= 60;
    let min = t % 60;
    t /= 60;
    let hrs = t % 24;
    t /= 24;
    let day = t % 7;
    let week = t / 7;
    if week > 0 {
        format!("{week:02}w{day}d{hrs:02}h")
    } else if day > 0 {
        format!("{day}d{hrs:02}h{min:02}m")
    } else {
        format!("{hrs:02}:{min:02}:{sec:02}")
    }
}

/// Why a child's exit earns its source a penalty (`SRCLIMIT_PENALTY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Penalty {
    Crash,
    AuthFail,
    NoAuth,
    GraceExceeded,
    RefuseConnection,
}

impl Penalty {
    fn reason(self) -> &'static str {
        match self {
            Penalty::Crash => "penalty: caused crash",
            Penalty::AuthFail => "penalty: failed authentication",
            Penalty::NoAuth => "penalty: connections without attempting authentication",
            Penalty::GraceExceeded => "penalty: exceeded LoginGraceTime",
            Penalty::RefuseConnection => "penalty: connection prohibited by RefuseConnection",
        }
    }
}

/// `overflow:` / `overflow6:` of PerSourcePenalties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse every connection (but exempt ones) until a penalty expires.
    DenyAll,
    /// Make room by expiring the penalties closest to expiry early.
    Permissive,
}

/// `PerSourcePenalties`, durations in seconds, with OpenSSH 9.8's defaults
/// (`refuseconnection` from 10.0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PenaltyConfig {
    pub enabled: bool,
    pub crash: u64,
    pub authfail: u64,
    pub noauth: u64,
    pub grace_exceeded: u64,
    pub refuseconnection: u64,
    pub max: u64,
    pub min: u64,
    pub max_sources4: usize,
    pub max_sources6: usize,
    pub overflow: Overflow,
    pub overflow6: Overflow,
}

impl Default for PenaltyConfig {
    fn default() -> Self {
        PenaltyConfig {
            enabled: true,
            crash: 90,
            authfail: 5,
            noauth: 1,
            grace_exceeded: 20,
            refuseconnection: 10,
            max: 600,
            min: 15,
            max_sources4: 65536,
            max_sources6: 65536,
            overflow: Overflow::Permissive,
            overflow6: Overflow::Permissive,
        }
    }
}

/// OpenSSH's `convtime`: `90`, `2m`, `1h30m` (units s m h d w, either case) to seconds.
pub fn convtime(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (mut total, mut num) = (0u64, None::<u64>);
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(d))?,
            );
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(mult)?)?;
    }
    if let Some(n) = num {
        total = total.checked_add(n)?;
    }
    (total <= i32::MAX as u64).then_some(total)
}

impl PenaltyConfig {
    /// The arguments of a `PerSourcePenalties` line (servconf.c `sPerSourcePenalties`),
    /// over the defaults: `yes`/`no` alone, or `crash:` `authfail:` `noauth:`
    /// `grace-exceeded:` `refuseconnection:` `max:` `min:` durations, `max-sources4:`
    /// `max-sources6:` numbers, `overflow[6]:deny-all|permissive`; the first value of
    /// each wins, and any of them enables penalties. Errors are OpenSSH's texts, without
    /// the `file line N:` prefix.
    pub fn parse(args: &[String]) -> Result<PenaltyConfig, String> {
        const KW: &str = "PerSourcePenalties";
        if args.is_empty() {
            return Err(format!("no {KW} specified"));
        }
        let mut enabled: Option<bool> = None;
        let mut times: [Option<u64>; 7] = [None; 7];
        let (mut src4, mut src6) = (None::<usize>, None::<usize>);
        let (mut ov, mut ov6) = (None::<Overflow>, None::<Overflow>);
        for (i, arg) in args.iter().enumerate() {
            if arg.eq_ignore_ascii_case("no") || arg.eq_ignore_ascii_case("yes") {
                if i + 1 < args.len() {
                    return Err(format!(
                        "keyword {KW} \"{arg}\" argument must appear alone."
                    ));
                }
                enabled.get_or_insert(arg.eq_ignore_ascii_case("yes"));
                continue;
            }
            let timed = [
                "crash:",
                "authfail:",
                "noauth:",
                "grace-exceeded:",
                "refuseconnection:",
                "max:",
                "min:",
            ];
            if let Some((slot, rest)) = timed
                .iter()
                .enumerate()
                .find_map(|(n, p)| arg.strip_prefix(p).map(|r| (n, r)))
            {
                let v = convtime(rest).ok_or_else(|| format!("invalid {KW} time value."))?;
                if let Some(t) = times.get_mut(slot) {
                    t.get_or_insert(v);
                }
            } else if let Some(n) = arg.strip_prefix("max-sources4:") {
                src4.get_or_insert(sources(n)?);
            } else if let Some(n) = arg.strip_prefix("max-sources6:") {
                src6.get_or_insert(sources(n)?);
            } else {
                match arg.as_str() {
                    "overflow:deny-all" => ov.get_or_insert(Overflow::DenyAll),
                    "overflow:permissive" => ov.get_or_insert(Overflow::Permissive),
                    "overflow6:deny-all" => ov6.get_or_insert(Overflow::DenyAll),
                    "overflow6:permissive" => ov6.get_or_insert(Overflow::Permissive),
                    _ => return Err(format!("unsupported {KW} keyword {arg}")),
                };
            }
            // Any setting implicitly enables penalties.
            enabled = Some(true);
        }
        let d = PenaltyConfig::default();
        let [crash, authfail, noauth, grace, refuse, max, min] = times;
        let overflow = ov.unwrap_or(d.overflow);
        Ok(PenaltyConfig {
            enabled: enabled.unwrap_or(d.enabled),
            crash: crash.unwrap_or(d.crash),
            authfail: authfail.unwrap_or(d.authfail),
            noauth: noauth.unwrap_or(d.noauth),
            grace_exceeded: grace.unwrap_or(d.grace_exceeded),
            refuseconnection: refuse.unwrap_or(d.refuseconnection),
            max: max.unwrap_or(d.max),
            min: min.unwrap_or(d.min),
            max_sources4: src4.unwrap_or(d.max_sources4),
            max_sources6: src6.unwrap_or(d.max_sources6),
            overflow,
            overflow6: ov6.unwrap_or(overflow),
        })
    }

    fn duration(&self, p: Penalty) -> u64 {
        match p {
            Penalty::Crash => self.crash,
            Penalty::AuthFail => self.authfail,
            Penalty::NoAuth => self.noauth,
            Penalty::GraceExceeded => self.grace_exceeded,
            Penalty::RefuseConnection => self.refuseconnection,
        }
    }
}

fn sources(n: &str) -> Result<usize, String> {
    n.parse::<usize>()
        .ok()
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or_else(|| format!("PerSourcePenalties value {n} is invalid."))
}

/// One penalised netblock.
#[derive(Debug)]
struct Entry {
    expiry: Instant,
    active: bool,
    reason: &'static str,
}

/// The penalties of one address family: by netblock, and ordered by expiry.
#[derive(Debug, Default)]
struct Table {
    by_addr: HashMap<IpAddr, Entry>,
    by_expiry: BTreeSet<(Instant, IpAddr)>,
}

impl Table {
    fn expire(&mut self, now: Instant) {
        while let Some(&(expiry, addr)) = self.by_expiry.first() {
            if expiry >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.by_addr.remove(&addr);
        }
    }

    fn len(&self) -> usize {
        self.by_addr.len()
    }
}

/// `PerSourcePenalties` state: the penalty tables, capped at `max-sources4`/`6`.
#[derive(Debug)]
pub struct Penalties {
    cfg: PenaltyConfig,
    /// `PerSourcePenaltyExemptList`, an address/CIDR pattern list.
    exempt: Option<String>,
    bits4: i32,
    bits6: i32,
    v4: Table,
    v6: Table,
}

impl Penalties {
    pub fn new(cfg: PenaltyConfig, exempt: Option<String>, bits4: i32, bits6: i32) -> Self {
        Penalties {
            cfg,
            exempt: exempt.filter(|e| e != "none"),
            bits4,
            bits6,
            v4: Table::default(),
            v6: Table::default(),
        }
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        self.exempt.as_deref().is_some_and(|list| {
            oxssh_config::pattern::addr_match_list(Some(&ip.to_string()), list) == 1
        })
    }

    fn family(&mut self, ip: IpAddr) -> (&mut Table, usize, Overflow, &'static str) {
        match ip {
            IpAddr::V4(_) => (
                &mut self.v4,
                self.cfg.max_sources4,
                self.cfg.overflow,
                "ipv4",
            ),
            IpAddr::V6(_) => (
                &mut self.v6,
                self.cfg.max_sources6,
                self.cfg.overflow6,
                "ipv6",
            ),
        }
    }

    /// `srclimit_penalty_check_allow`: `Err(reason)` if `ip` is refused now.
    pub fn check_allow(&mut self, ip: IpAddr, now: Instant) -> Result<(), &'static str> {
        let ip = canonical(ip);
        if !self.cfg.enabled || self.exempt(ip) {
            return Ok(());
        }
        self.v4.expire(now);
        self.v6.expire(now);
        let (masked, _) = mask(ip, self.bits4, self.bits6);
        let (table, max_sources, overflow, _) = self.family(ip);
        if table.len() >= max_sources && overflow == Overflow::DenyAll {
            return Err("too many penalised addresses");
        }
        match table.by_addr.get(&masked) {
            Some(p) if p.active && p.expiry >= now => Err(p.reason),
            _ => Ok(()),
        }
    }

    /// `srclimit_penalise`: add `kind`'s duration to the netblock of `ip`, up to `max`;
    /// enforcement starts once more than `min` is outstanding.
    pub fn penalise(&mut self, ip: IpAddr, kind: Penalty, now: Instant) {
        let ip = canonical(ip);
        if !self.cfg.enabled {
            return;
        }
        if self.exempt(ip) {
            tracing::trace!("srclimit_penalise: address {ip} is exempt");
            return;
        }
        let secs = self.cfg.duration(kind);
        let min_secs = self.cfg.min;
        let (min, max) = (
            Duration::from_secs(self.cfg.min),
            Duration::from_secs(self.cfg.max),
        );
        let reason = kind.reason();
        let (masked, bits) = mask(ip, self.bits4, self.bits6);
        let shown = format!("{ip}/{bits}");
        self.v4.expire(now);
        self.v6.expire(now);
        let (table, max_sources, overflow, t) = self.family(ip);
        if table.len() >= max_sources && overflow == Overflow::DenyAll {
            tracing::info!(
                "srclimit_penalise: {t} penalty table full, cannot penalise {shown} for {reason}"
            );
            return;
        }
        let Some(existing) = table.by_addr.get_mut(&masked) else {
            let active = secs > min_secs;
            let expiry = now + Duration::from_secs(secs);
            table.by_addr.insert(
                masked,
                Entry {
                    expiry,
                    active,
                    reason,
                },
            );
            table.by_expiry.insert((expiry, masked));
            tracing::info!(
                "srclimit_penalise: {t}: new {shown} {} penalty of {secs} seconds for {reason}",
                if active { "active" } else { "deferred" }
            );
            // Permissive overflow: the penalties closest to expiry go first.
            while table.len() > max_sources {
                let Some((_, victim)) = table.by_expiry.pop_first() else {
                    break;
                };
                table.by_addr.remove(&victim);
                tracing::trace!(
                    "srclimit_early_expire_penalties_from_tree: {t} overflow, remove {victim}/{bits}"
                );
            }
            return;
        };
        tracing::debug!(
            "srclimit_penalise: {} penalty for {t} {shown} already exists, {} seconds remaining",
            if existing.active {
                "active"
            } else {
                "inactive"
            },
            existing.expiry.saturating_duration_since(now).as_secs()
        );
        table.by_expiry.remove(&(existing.expiry, masked));
        let mut expiry = existing.expiry + Duration::from_secs(secs);
        if expiry.saturating_duration_since(now) > max {
            expiry = now + max;
        }
        existing.expiry = expiry;
        let left = expiry.saturating_duration_since(now);
        if left > min && !existing.active {
            tracing::info!(
                "srclimit_penalise: {shown}: activating {t} penalty of {} seconds for {reason}",
                left.as_secs()
            );
            existing.active = true;
        }
        existing.reason = reason;
        table.by_expiry.insert((expiry, masked));
    }

    /// How many netblocks are tracked (both families).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// Whether to refuse a new connection, and what to tell the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// MaxStartups or PerSourceMaxStartups: [`MAXSTARTUPS_MSG`].
    Throttled,
    /// PerSourcePenalties: [`PENALTY_MSG`].
    Penalised,
}

impl Verdict {
    /// The best-effort notice OpenSSH writes to a refused client.
    pub fn message(self) -> &'static [u8] {
        match self {
            Verdict::Accept => b"",
            Verdict::Throttled => MAXSTARTUPS_MSG,
            Verdict::Penalised => PENALTY_MSG,
        }
    }
}

/// Throttling state of `drop_connection`, for its log lines.
#[derive(Debug, Default)]
struct Throttle {
    first_drop: Option<Instant>,
    last_drop: Option<Instant>,
    ndropped: u64,
}

/// Everything the listener decides at accept: the unauthenticated connections
/// ("startups") by child id, per source and in total, and the penalties.
#[derive(Debug)]
pub struct Admission {
    max: MaxStartups,
    /// `PerSourceMaxStartups`; `None` is no limit.
    per_source: Option<i32>,
    bits4: i32,
    bits6: i32,
    /// Unauthenticated children: id → source netblock. At most `max.full` entries:
    /// every connection past that is dropped.
    startups: HashMap<u64, IpAddr>,
    penalties: Penalties,
    throttle: Throttle,
}

impl Admission {
    pub fn new(
        max: MaxStartups,
        per_source: Option<i32>,
        bits4: i32,
        bits6: i32,
        penalties: PenaltyConfig,
        exempt: Option<String>,
    ) -> Self {
        if let Some(n) = per_source {
            tracing::debug!(
                "srclimit_init: max connections {}, per source {n}, masks {bits4},{bits6}",
                max.full
            );
        }
        Admission {
            max,
            per_source,
            bits4,
            bits6,
            startups: HashMap::new(),
            penalties: Penalties::new(penalties, exempt, bits4, bits6),
            throttle: Throttle::default(),
        }
    }

    /// Connections accepted and not yet authenticated or gone.
    #[cfg(test)]
    pub fn startups(&self) -> usize {
        self.startups.len()
    }

    /// Whether child `id` is still an unauthenticated connection.
    pub fn is_startup(&self, id: u64) -> bool {
        self.startups.contains_key(&id)
    }

    /// `srclimit_check_allow`: room for one more unauthenticated connection from the
    /// netblock of `ip`?
    fn source_allows(&self, ip: IpAddr) -> bool {
        let Some(limit) = self.per_source else {
            return true;
        };
        let (masked, bits) = mask(ip, self.bits4, self.bits6);
        let count = self.startups.values().filter(|a| **a == masked).count();
        tracing::trace!(
            "srclimit_check_allow: new unauthenticated connection from {}/{bits}, at {count} of {limit}",
            canonical(ip)
        );
        if self.startups.len() >= usize::try_from(self.max.full).unwrap_or(0) {
            tracing::trace!("srclimit_check_allow: no free slot");
            return false;
        }
        i64::try_from(count).unwrap_or(i64::MAX) < i64::from(limit)
    }

    /// `drop_connection`: decide on a new connection (`id` names its child from now
    /// on), with OpenSSH's log lines; `r` is uniform in `0..100`.
    pub fn admit(
        &mut self,
        id: u64,
        peer: SocketAddr,
        local: SocketAddr,
        now: Instant,
        r: u32,
    ) -> Verdict {
        let startups = i32::try_from(self.startups.len()).unwrap_or(i32::MAX);
        let drop_line = |why: &str| {
            format!(
                "drop connection #{startups} from [{}]:{} on [{}]:{} {why}",
                canonical(peer.ip()),
                peer.port(),
                canonical(local.ip()),
                local.port()
            )
        };
        if let Err(reason) = self.penalties.check_allow(peer.ip(), now) {
            tracing::info!("{}", drop_line(reason));
            return Verdict::Penalised;
        }
        if !self.max.should_drop(startups, r) && self.source_allows(peer.ip()) {
            if let Some(first) = self.throttle.first_drop {
                if self.throttle.last_drop.is_some() && startups < self.max.begin.saturating_sub(1)
                {
                    tracing::info!(
                        "exited MaxStartups throttling after {}, {} connections dropped",
                        fmt_timeframe(now.saturating_duration_since(first)),
                        self.throttle.ndropped
                    );
                    self.throttle.last_drop = None;
                }
            }
            let (masked, _) = mask(peer.ip(), self.bits4, self.bits6);
            self.startups.insert(id, masked);
            return Verdict::Accept;
        }
        match (self.throttle.last_drop, self.throttle.first_drop) {
            (Some(last), Some(first)) => {
                if last + MAXSTARTUPS_LOG_INTERVAL < now {
                    tracing::error!(
                        "in MaxStartups throttling for {}, {} connections dropped",
                        fmt_timeframe(now.saturating_duration_since(first)),
                        self.throttle.ndropped + 1
                    );
                }
            }
            _ => {
                tracing::error!("beginning MaxStartups throttling");
                self.throttle.first_drop = Some(now);
                self.throttle.ndropped = 0;
            }
        }
        self.throttle.last_drop = Some(now);
        self.throttle.ndropped += 1;
        // OpenSSH logs this at VERBOSE, or INFO with the throttling lines; both are
        // `info` here.
        tracing::info!("{}", drop_line("past MaxStartups"));
        Verdict::Throttled
    }

    /// The child reported successful authentication: no longer a startup, and its exit
    /// no longer concerns the penalties. Returns whether it was a startup.
    pub fn authenticated(&mut self, id: u64) -> bool {
        self.startups.remove(&id).is_some()
    }

    /// The child exited. If it never authenticated, its source earns `penalty`.
    /// Returns whether it was a startup.
    pub fn exited(
        &mut self,
        id: u64,
        peer: IpAddr,
        penalty: Option<Penalty>,
        now: Instant,
    ) -> bool {
        if self.startups.remove(&id).is_none() {
            return false;
        }
        if let Some(p) = penalty {
            self.penalties.penalise(peer, p, now);
        }
        true
    }

    /// Penalised netblocks tracked.
    #[cfg(test)]
    pub fn penalised_sources(&self) -> usize {
        self.penalties.tracked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn admission(max: (i32, i32, i32), per_source: Option<i32>, pen: PenaltyConfig) -> Admission {
        let m = MaxStartups {
            begin: max.0,
            rate: max.1,
            full: max.2,
        };
        Admission::new(m, per_source, 32, 128, pen, None)
    }

    #[test]
    fn should_drop_is_linear_between_start_and_full() {
        let m = MaxStartups {
            begin: 10,
            rate: 30,
            full: 100,
        };
        assert!(!m.should_drop(9, 0));
        // At start: 30%.
        assert!(m.should_drop(10, 29));
        assert!(!m.should_drop(10, 30));
        // Half way (55): 30 + 70*45/90 = 65%.
        assert!(m.should_drop(55, 64));
        assert!(!m.should_drop(55, 65));
        assert!(m.should_drop(100, 99));
        let all = MaxStartups {
            begin: 2,
            rate: 100,
            full: 2,
        };
        assert!(!all.should_drop(1, 99));
        assert!(all.should_drop(2, 0));
    }

    #[test]
    fn random_percent_stays_in_range() {
        assert!((0..1000).map(|_| random_percent()).all(|r| r < 100));
    }

    #[test]
    fn masks_netblocks() {
        let ip: IpAddr = "192.0.2.77".parse().unwrap();
        assert_eq!(mask(ip, 24, 64).0, "192.0.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(mask(ip, 0, 64).0, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(mask(ip, 32, 64).0, ip);
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(
            mask(v6, 32, 48).0,
            "2001:db8:1::".parse::<IpAddr>().unwrap()
        );
        let mapped: IpAddr = "::ffff:192.0.2.77".parse().unwrap();
        assert_eq!(mask(mapped, 24, 64), ("192.0.2.0".parse().unwrap(), 24));
    }

    #[test]
    fn timeframes_as_openssh() {
        assert_eq!(fmt_timeframe(Duration::from_secs(0)), "00:00:00");
        assert_eq!(fmt_timeframe(Duration::from_secs(3725)), "01:02:05");
        assert_eq!(
            fmt_timeframe(Duration::from_secs(86400 + 7200 + 180)),
            "1d02h03m"
        );
        assert_eq!(fmt_timeframe(Duration::from_secs(15 * 86400)), "02w1d00h");
    }

    #[test]
    fn maxstartups_counts_only_unauthenticated() {
        let mut a = admission((2, 100, 2), None, PenaltyConfig::default());
        let (p, l, now) = (sa("127.0.0.1:1000"), sa("127.0.0.1:22"), Instant::now());
        assert_eq!(a.admit(1, p, l, now, 0), Verdict::Accept);
        assert_eq!(a.admit(2, p, l, now, 0), Verdict::Accept);
        assert_eq!(a.admit(3, p, l, now, 99), Verdict::Throttled);
        assert!(a.authenticated(1));
        assert!(!a.exited(1, p.ip(), Some(Penalty::Crash), now));
        assert_eq!(a.admit(4, p, l, now, 0), Verdict::Accept);
        assert_eq!(a.startups(), 2);
        // An authenticated child's crash is no penalty.
        assert_eq!(a.penalised_sources(), 0);
    }

    #[test]
    fn per_source_limit_counts_the_netblock() {
        let mut a = Admission::new(
            MaxStartups {
                begin: 10,
                rate: 30,
                full: 100,
            },
            Some(1),
            24,
            64,
            PenaltyConfig::default(),
            None,
        );
        let (l, now) = (sa("10.0.0.1:22"), Instant::now());
        assert_eq!(a.admit(1, sa("192.0.2.1:5"), l, now, 0), Verdict::Accept);
        assert_eq!(a.admit(2, sa("192.0.2.9:5"), l, now, 0), Verdict::Throttled);
        assert_eq!(a.admit(3, sa("198.51.100.1:5"), l, now, 0), Verdict::Accept);
        a.exited(1, "192.0.2.1".parse().unwrap(), None, now);
        assert_eq!(a.admit(4, sa("192.0.2.9:5"), l, now, 0), Verdict::Accept);
    }

    #[test]
    fn penalties_accumulate_past_min_then_expire() {
        let mut p = Penalties::new(PenaltyConfig::default(), None, 32, 128);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        // authfail is 5 s, below min 15 s: deferred.
        p.penalise(ip, Penalty::AuthFail, t0);
        p.penalise(ip, Penalty::AuthFail, t0);
        p.penalise(ip, Penalty::AuthFail, t0);
        assert_eq!(p.check_allow(ip, t0), Ok(()));
        p.penalise(ip, Penalty::AuthFail, t0);
        assert_eq!(
            p.check_allow(ip, t0 + Duration::from_secs(1)),
            Err("penalty: failed authentication")
        );
        // Another address is not affected.
        assert_eq!(p.check_allow("127.0.0.2".parse().unwrap(), t0), Ok(()));
        assert_eq!(p.check_allow(ip, t0 + Duration::from_secs(21)), Ok(()));
        assert_eq!(p.tracked(), 0);
    }

    #[test]
    fn crash_is_active_at_once_and_capped_at_max() {
        let cfg = PenaltyConfig::parse(&["crash:100".into(), "max:150".into()]).unwrap();
        let mut p = Penalties::new(cfg, None, 32, 128);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        p.penalise(ip, Penalty::Crash, t0);
        p.penalise(ip, Penalty::Crash, t0);
        assert_eq!(
            p.check_allow(ip, t0 + Duration::from_secs(149)),
            Err("penalty: caused crash")
        );
        assert_eq!(p.check_allow(ip, t0 + Duration::from_secs(151)), Ok(()));
    }

    #[test]
    fn exempt_list_and_disabled_penalties() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        let mut p = Penalties::new(
            PenaltyConfig::default(),
            Some("10.0.0.0/8,192.0.2.0/24".into()),
            32,
            128,
        );
        p.penalise(ip, Penalty::Crash, t0);
        assert_eq!(p.check_allow(ip, t0), Ok(()));
        let off = PenaltyConfig::parse(&["no".into()]).unwrap();
        let mut p = Penalties::new(off, None, 32, 128);
        p.penalise(ip, Penalty::Crash, t0);
        assert_eq!(p.check_allow(ip, t0), Ok(()));
    }

    #[test]
    fn overflow_permissive_evicts_and_deny_all_refuses() {
        let t0 = Instant::now();
        let cfg = PenaltyConfig::parse(&["max-sources4:2".into()]).unwrap();
        let mut p = Penalties::new(cfg, None, 32, 128);
        for (i, host) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            p.penalise(host.parse().unwrap(), Penalty::Crash, at);
        }
        assert_eq!(p.tracked(), 2);
        // The first (closest to expiry) went.
        assert_eq!(p.check_allow("192.0.2.1".parse().unwrap(), t0), Ok(()));
        let cfg =
            PenaltyConfig::parse(&["max-sources4:1".into(), "overflow:deny-all".into()]).unwrap();
        let mut p = Penalties::new(cfg, None, 32, 128);
        p.penalise("192.0.2.1".parse().unwrap(), Penalty::NoAuth, t0);
        assert_eq!(
            p.check_allow("198.51.100.7".parse().unwrap(), t0),
            Err("too many penalised addresses")
        );
        // IPv6 is tracked separately.
        assert_eq!(p.check_allow("2001:db8::1".parse().unwrap(), t0), Ok(()));
    }

    #[test]
    fn parses_persourcepenalties_as_openssh() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let c = PenaltyConfig::parse(&args(
            "crash:2m authfail:1h30s authfail:9 overflow6:deny-all",
        ))
        .unwrap();
        assert_eq!((c.crash, c.authfail, c.noauth), (120, 3630, 1));
        assert_eq!(
            (c.overflow, c.overflow6),
            (Overflow::Permissive, Overflow::DenyAll)
        );
        assert!(c.enabled);
        assert!(!PenaltyConfig::parse(&args("no")).unwrap().enabled);
        assert_eq!(
            PenaltyConfig::parse(&args("no crash:1")).unwrap_err(),
            "keyword PerSourcePenalties \"no\" argument must appear alone."
        );
        assert_eq!(
            PenaltyConfig::parse(&args("crash:x")).unwrap_err(),
            "invalid PerSourcePenalties time value."
        );
        assert_eq!(
            PenaltyConfig::parse(&args("bogus:1")).unwrap_err(),
            "unsupported PerSourcePenalties keyword bogus:1"
        );
        assert_eq!(
            PenaltyConfig::parse(&[]).unwrap_err(),
            "no PerSourcePenalties specified"
        );
    }

    #[test]
    fn convtime_units() {
        assert_eq!(convtime("90"), Some(90));
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("2W"), Some(1_209_600));
        assert_eq!(convtime(""), None);
        assert_eq!(convtime("m"), None);
        assert_eq!(convtime("5x"), None);
        assert_eq!(convtime("99999999999"), None);
    }

    #[test]
    fn penalised_source_is_refused_before_maxstartups() {
        let mut a = admission((10, 30, 100), None, PenaltyConfig::default());
        let (p, l, now) = (sa("127.0.0.1:1000"), sa("127.0.0.1:22"), Instant::now());
        assert_eq!(a.admit(1, p, l, now, 0), Verdict::Accept);
        a.exited(1, p.ip(), Some(Penalty::Crash), now);
        assert_eq!(a.admit(2, p, l, now, 0), Verdict::Penalised);
        assert_eq!(a.startups(), 0);
    }
}
