//! Typed values shared by the client and server configurations, each with the
//! keyword spellings OpenSSH accepts and the spelling its dumps print.
//!
//! OpenSSH's "multistate" tables map several spellings to one value
//! (`yes`/`true`); dumps print the *first* spelling in the table with that value,
//! which is why, for example, `ssh -G` prints `stricthostkeychecking true`. The
//! tables here keep OpenSSH's order so [`multistate_name`] reproduces that.

use std::fmt;

/// Look a value up in a multistate table, case-insensitively.
pub(crate) fn multistate_parse<T: Copy>(table: &[(&str, T)], arg: &str) -> Option<T> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(arg))
        .map(|(_, v)| *v)
}

/// The name OpenSSH's `fmt_multistate_int` prints: the first table entry with
/// this value.
pub(crate) fn multistate_name<T: Copy + PartialEq>(
    table: &[(&'static str, T)],
    v: T,
) -> &'static str {
    table
        .iter()
        .find(|(_, x)| *x == v)
        .map(|(k, _)| *k)
        .unwrap_or("UNKNOWN")
}

/// `AddressFamily`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AddressFamily {
    /// `any`.
    #[default]
    Any,
    /// `inet`.
    Inet,
    /// `inet6`.
    Inet6,
}

pub(crate) const ADDRESS_FAMILY: &[(&str, AddressFamily)] = &[
    ("inet", AddressFamily::Inet),
    ("inet6", AddressFamily::Inet6),
    ("any", AddressFamily::Any),
];

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(multistate_name(ADDRESS_FAMILY, *self))
    }
}

/// `LogLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// `QUIET`.
    Quiet,
    /// `FATAL`.
    Fatal,
    /// `ERROR`.
    Error,
    /// `INFO` (default).
    #[default]
    Info,
    /// `VERBOSE`.
    Verbose,
    /// `DEBUG1` (also `DEBUG`).
    Debug1,
    /// `DEBUG2`.
    Debug2,
    /// `DEBUG3`.
    Debug3,
}

impl LogLevel {
    pub(crate) fn from_index(i: i32) -> LogLevel {
        match i {
            0 => LogLevel::Quiet,
            1 => LogLevel::Fatal,
            2 => LogLevel::Error,
            3 => LogLevel::Info,
            4 => LogLevel::Verbose,
            5 => LogLevel::Debug1,
            6 => LogLevel::Debug2,
            _ => LogLevel::Debug3,
        }
    }

    /// Parse a `LogLevel` value (case-insensitive).
    pub fn parse(s: &str) -> Option<LogLevel> {
        crate::misc::LOG_LEVELS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, i)| LogLevel::from_index(*i))
    }

    /// One level more verbose, saturating at `DEBUG3` (for `-v`).
    pub fn more_verbose(self) -> LogLevel {
        LogLevel::from_index((self as i32 + 1).min(7))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = *self as i32;
        let name = crate::misc::LOG_LEVELS
            .iter()
            .find(|(_, x)| *x == i)
            .map(|(n, _)| *n)
            .unwrap_or("UNKNOWN");
        f.write_str(name)
    }
}

/// `SyslogFacility`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyslogFacility {
    /// `DAEMON`.
    Daemon,
    /// `USER`.
    User,
    /// `AUTH`.
    Auth,
    /// `AUTHPRIV`.
    AuthPriv,
    /// `LOCAL0`..`LOCAL7`.
    Local(u8),
}

impl SyslogFacility {
    /// Parse a facility name (case-insensitive).
    pub fn parse(s: &str) -> Option<SyslogFacility> {
        let i = crate::misc::LOG_FACILITIES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))?;
        Some(match i {
            0 => SyslogFacility::Daemon,
            1 => SyslogFacility::User,
            2 => SyslogFacility::Auth,
            3 => SyslogFacility::AuthPriv,
            n => SyslogFacility::Local((n - 4) as u8),
        })
    }
}

impl fmt::Display for SyslogFacility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogFacility::Daemon => f.write_str("DAEMON"),
            SyslogFacility::User => f.write_str("USER"),
            SyslogFacility::Auth => f.write_str("AUTH"),
            SyslogFacility::AuthPriv => f.write_str("AUTHPRIV"),
            SyslogFacility::Local(n) => write!(f, "LOCAL{n}"),
        }
    }
}

/// `FingerprintHash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FingerprintHash {
    /// `MD5`.
    Md5,
    /// `SHA1`.
    Sha1,
    /// `SHA256` (default).
    #[default]
    Sha256,
    /// `SHA384`.
    Sha384,
    /// `SHA512`.
    Sha512,
}

impl FingerprintHash {
    /// Parse a digest name (case-insensitive).
    pub fn parse(s: &str) -> Option<FingerprintHash> {
        Some(
            match crate::misc::DIGESTS
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))?
            {
                0 => FingerprintHash::Md5,
                1 => FingerprintHash::Sha1,
                2 => FingerprintHash::Sha256,
                3 => FingerprintHash::Sha384,
                _ => FingerprintHash::Sha512,
            },
        )
    }
}

impl fmt::Display for FingerprintHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            crate::misc::DIGESTS
                .get(*self as usize)
                .copied()
                .unwrap_or("UNKNOWN"),
        )
    }
}

/// `IPQoS`: IP type-of-service / DSCP for interactive and bulk traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpQos {
    /// For interactive sessions (`i32::MAX` means `none`).
    pub interactive: i32,
    /// For bulk transfers.
    pub bulk: i32,
}

impl fmt::Display for IpQos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            crate::misc::iptos2str(self.interactive),
            crate::misc::iptos2str(self.bulk)
        )
    }
}

/// `RekeyLimit`: bytes (0 = cipher default) and seconds (0 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RekeyLimit {
    /// Data limit in bytes.
    pub bytes: i64,
    /// Time limit in seconds.
    pub seconds: i32,
}

impl fmt::Display for RekeyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.bytes as u64, self.seconds)
    }
}
