//! Times as OpenSSH reads and prints them for certificates, allowed_signers and KRLs:
//! `convtime` intervals (`1w2d3h`, sshd_config(5) "TIME FORMATS"), absolute times
//! `YYYYMMDD[HHMM[SS]]` with an optional `Z`/`UTC` suffix (local time otherwise), and
//! the `YYYY-MM-DDTHH:MM:SS` local-time form of `ssh-keygen -L`.
//!
//! Local time comes from a [`Zone`] built from TZif data (tzfile(5), the files under
//! /usr/share/zoneinfo) which the caller reads; without one, times are UTC. POSIX `TZ`
//! rule strings (`EST5EDT`) are not interpreted: past the last transition in the file the
//! last offset holds. Pure functions, no I/O, no panics.

/// A time zone: UTC offsets in effect from each transition time on.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    /// (transition time, UTC offset in seconds from then on, is DST), ascending.
    transitions: Vec<(i64, i64, bool)>,
    /// The offset before the first transition (or always, without transitions).
    initial: i64,
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

fn be_i64(d: &[u8], at: usize) -> Option<i64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_be_bytes(a))
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::default()
    }

    /// Parse TZif data (version 1, 2 or 3; the 64-bit block is used when present).
    /// None when the data is not TZif.
    pub fn from_tzif(d: &[u8]) -> Option<Zone> {
        if d.get(..4)? != b"TZif" {
            return None;
        }
        let version = *d.get(4)?;
        let counts = |at: usize| -> Option<[usize; 6]> {
            let mut c = [0usize; 6];
            for (i, slot) in c.iter_mut().enumerate() {
                *slot = usize::try_from(be_u32(d, at + 20 + 4 * i)?).ok()?;
            }
            Some(c)
        };
        let block_len = |c: &[usize; 6], tsize: usize| -> Option<usize> {
            let [isutc, isstd, leap, time, typ, chars] = *c;
            time.checked_mul(tsize)?
                .checked_add(time)?
                .checked_add(typ.checked_mul(6)?)?
                .checked_add(chars)?
                .checked_add(leap.checked_mul(tsize + 4)?)?
                .checked_add(isstd)?
                .checked_add(isutc)
        };
        let c1 = counts(0)?;
        let (base, c, tsize) = if version >= b'2' {
            let second = 44usize.checked_add(block_len(&c1, 4)?)?;
            (second, counts(second)?, 8usize)
        } else {
            (0, c1, 4usize)
        };
        let [_, _, _, timecnt, typecnt, _] = c;
        if typecnt == 0 || d.len() < base.checked_add(44)?.checked_add(block_len(&c, tsize)?)? {
            return None;
        }
        let times_at = base + 44;
        let idx_at = times_at + timecnt * tsize;
        let types_at = idx_at + timecnt;
        let offset_of = |t: usize| -> Option<i64> {
            let at = types_at.checked_add(t.checked_mul(6)?)?;
            Some(i64::from(be_u32(d, at)? as i32))
        };
        let dst_of = |t: usize| -> Option<bool> {
            Some(*d.get(types_at.checked_add(t.checked_mul(6)?)?.checked_add(4)?)? != 0)
        };
        let mut transitions = Vec::with_capacity(timecnt.min(4096));
        for i in 0..timecnt {
            let t = if tsize == 8 {
                be_i64(d, times_at + 8 * i)?
            } else {
                i64::from(be_u32(d, times_at + 4 * i)? as i32)
            };
            let ty = usize::from(*d.get(idx_at + i)?);
            transitions.push((t, offset_of(ty)?, dst_of(ty)?));
        }
        // The first non-DST type (or type 0) applies before the first transition.
        let initial = offset_of(0)?;
        Some(Zone {
            transitions,
            initial,
        })
    }

    /// The UTC offset in effect at UTC time `t`.
    pub fn offset_at(&self, t: i64) -> i64 {
        let n = self.transitions.partition_point(|&(tt, _, _)| tt <= t);
        match n.checked_sub(1).and_then(|i| self.transitions.get(i)) {
            Some(&(_, off, _)) => off,
            None => self.initial,
        }
    }

    /// The UTC time of a local wall-clock time read as standard time, as OpenSSH's
    /// `parse_absolute_time` gets it from mktime(3) with `tm_isdst = 0`: in summer the
    /// result is an hour later than the wall clock says.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        let guess = local.saturating_sub(self.offset_at(local));
        let n = self.transitions.partition_point(|&(tt, _, _)| tt <= guess);
        let before = self.transitions.get(..n).unwrap_or_default();
        let after = self.transitions.get(n..).unwrap_or_default();
        let std_off = before
            .iter()
            .rev()
            .chain(after.iter())
            .find(|t| !t.2)
            .map_or(self.initial, |t| t.1);
        local.saturating_sub(std_off)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// OpenSSH's `convtime`: `90`, `10m`, `1h30m`, `2w`… in seconds; None when invalid
/// or over `i32::MAX`.
pub fn convtime(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let b = s.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let secs: i64 = s.get(start..i)?.parse().ok()?;
        if secs > i64::from(i32::MAX) {
            return None;
        }
        let mult = match b.get(i) {
            None => 1,
            Some(c) => {
                i += 1;
                match c {
                    b's' | b'S' => 1,
                    b'm' | b'M' => 60,
                    b'h' | b'H' => 3600,
                    b'd' | b'D' => 86_400,
                    b'w' | b'W' => 604_800,
                    _ => return None,
                }
            }
        };
        let v = secs.checked_mul(mult)?;
        if v > i64::from(i32::MAX) || total > i64::from(i32::MAX) - v {
            return None;
        }
        total += v;
    }
    Some(total)
}

/// OpenSSH's `parse_absolute_time`: `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`,
/// in `zone` unless suffixed `Z` or `UTC`. None when invalid or before 1970.
pub fn parse_absolute(s: &str, zone: &Zone) -> Option<u64> {
    let (body, utc) = if s.len() > 1 && (s.ends_with('Z') || s.ends_with('z')) {
        (s.get(..s.len() - 1)?, true)
    } else if s.len() > 3 && s.get(s.len() - 3..)?.eq_ignore_ascii_case("UTC") {
        (s.get(..s.len() - 3)?, true)
    } else {
        (s, false)
    };
    if !matches!(body.len(), 8 | 12 | 14) || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<i64> { body.get(a..b)?.parse().ok() };
    let (y, mo, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (h, mi, sec) = match body.len() {
        8 => (0, 0, 0),
        12 => (num(8, 10)?, num(10, 12)?, 0),
        _ => (num(8, 10)?, num(10, 12)?, num(12, 14)?),
    };
    let mdays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max_day = match mo {
        2 if leap => 29,
        1..=12 => *mdays.get(usize::try_from(mo - 1).ok()?)?,
        _ => return None,
    };
    // strptime accepts a leap second (60) and up to day 31 in any month; mktime then
    // normalises. We accept what strptime does and normalise the same way.
    if !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 || (d > max_day && d > 31) {
        return None;
    }
    let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    let t = if utc { local } else { zone.local_to_utc(local) };
    u64::try_from(t).ok()
}

/// OpenSSH's `format_absolute_time`: `YYYY-MM-DDTHH:MM:SS` in `zone`; times past
/// `i64::MAX` are shown as that (as OpenSSH clamps to its `time_t` maximum).
pub fn format_absolute(t: u64, zone: &Zone) -> String {
    let t = i64::try_from(t).unwrap_or(i64::MAX);
    let local = t.saturating_add(zone.offset_at(t));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// ctime(3) without the newline: `Wed Nov 25 19:21:24 2026`, in `zone`.
pub fn format_ctime(t: u64, zone: &Zone) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = i64::try_from(t).unwrap_or(i64::MAX);
    let local = t.saturating_add(zone.offset_at(t));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = usize::try_from(days.rem_euclid(7)).unwrap_or(0);
    let mon = usize::try_from(m - 1).unwrap_or(0);
    format!(
        "{} {} {d:2} {:02}:{:02}:{:02} {y}",
        DAYS.get(wd).unwrap_or(&"Thu"),
        MONTHS.get(mon).unwrap_or(&"Jan"),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The local time zone: `TZ` (a zoneinfo name or path), else /etc/localtime, else UTC.
pub fn local_zone() -> Zone {
    let path = match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let tz = tz.trim_start_matches(':');
            if tz.starts_with('/') {
                tz.to_owned()
            } else if tz.contains("..") {
                return Zone::utc();
            } else {
                format!("/usr/share/zoneinfo/{tz}")
            }
        }
        _ => "/etc/localtime".to_owned(),
    };
    std::fs::read(path)
        .ok()
        .and_then(|d| Zone::from_tzif(&d))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convtime_matches_openssh() {
        assert_eq!(convtime("90"), Some(90));
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("52w"), Some(52 * 604_800));
        assert_eq!(convtime(""), None);
        assert_eq!(convtime("1x"), None);
        assert_eq!(convtime("-1"), None);
        assert_eq!(convtime("99999999999"), None);
    }

    #[test]
    fn absolute_times() {
        let z = Zone::utc();
        assert_eq!(parse_absolute("20200101", &z), Some(1_577_836_800));
        assert_eq!(parse_absolute("202001010102", &z), Some(1_577_840_520));
        assert_eq!(parse_absolute("20200101010203Z", &z), Some(1_577_840_523));
        assert_eq!(parse_absolute("2020010", &z), None);
        assert_eq!(parse_absolute("20201301", &z), None);
        assert_eq!(format_absolute(1_577_840_523, &z), "2020-01-01T01:02:03");
        assert_eq!(format_ctime(1_577_840_523, &z), "Wed Jan  1 01:02:03 2020");
        let _ = format_absolute(u64::MAX, &z);
    }

    #[test]
    fn tzif_garbage_is_none() {
        assert!(Zone::from_tzif(b"TZif2").is_none());
        assert!(Zone::from_tzif(b"").is_none());
        if let Ok(d) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            let z = Zone::from_tzif(&d).unwrap();
            assert_eq!(z.offset_at(1_577_836_800), 3600);
            assert_eq!(z.offset_at(1_593_561_600), 7200);
        }
    }
}
