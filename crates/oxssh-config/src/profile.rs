//! Which OpenSSH the readers imitate: keyword set, dump format and default
//! algorithm lists.
//!
//! The reference implementation installed on the build machines is OpenSSH 9.2p1
//! as patched by Debian 12 (GSSAPI key exchange, `ProtocolKeepAlives`, `IPQoS`
//! defaults of `lowdelay throughput`, `ForwardX11Trusted yes`, …). The
//! differential tests use [`Profile::openssh_9_2_debian`]; the oxssh binaries use
//! [`Profile::oxssh`], which keeps that behaviour and output format, accepts the
//! keywords OpenSSH 10.0 added, and offers OpenSSH 10.0's algorithm defaults.

use crate::algs::Algorithms;

/// Keyword set and behaviour to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// OpenSSH 9.2p1 as shipped in Debian 12, byte for byte.
    OpenSsh92Debian,
    /// The Debian 9.2 behaviour plus the keywords and `Match` criteria that
    /// OpenSSH 10.0 added (`Tag`, `Match tagged`, `Match localnetwork`,
    /// `ChannelTimeout` in ssh_config, …).
    Oxssh,
}

/// Everything that differs between the OpenSSH being imitated and oxssh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Keyword set.
    pub dialect: Dialect,
    /// Known and default algorithms.
    pub algorithms: Algorithms,
    /// Default `XAuthLocation`.
    pub xauth_location: String,
}

impl Profile {
    /// The reference: Debian 12's OpenSSH 9.2p1.
    pub fn openssh_9_2_debian() -> Self {
        Profile {
            dialect: Dialect::OpenSsh92Debian,
            algorithms: Algorithms::openssh_9_2(),
            xauth_location: "/usr/bin/xauth".to_owned(),
        }
    }

    /// What the oxssh binaries use.
    pub fn oxssh() -> Self {
        Profile {
            dialect: Dialect::Oxssh,
            algorithms: Algorithms::openssh_10(),
            xauth_location: "/usr/bin/xauth".to_owned(),
        }
    }

    /// Whether OpenSSH 10 additions are accepted.
    pub(crate) fn v10(&self) -> bool {
        self.dialect == Dialect::Oxssh
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::oxssh()
    }
}
