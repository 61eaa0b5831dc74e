//! sshd_config(5): the server configuration, read exactly as OpenSSH's `sshd`
//! reads it, into a typed [`ServerConfig`].
//!
//! Like OpenSSH, the file is read twice. [`ServerConfig::load`] is the first
//! pass (what `sshd -t` checks): global settings apply, `Match` blocks are
//! syntax-checked (only `Match all` applies), defaults are filled in one place.
//! [`ServerConfig::for_connection`] is the second pass for one connection
//! (`sshd -T -C …`): the same text is re-read with the connection's user, host
//! and addresses, and the settings allowed in `Match` blocks are overlaid.
//! [`ServerConfig::dump`] prints what `sshd -T` prints.

mod dump;
pub(crate) mod keywords;
mod raw;
mod read;

use std::collections::HashMap;
use std::net::IpAddr;

pub use keywords::all_keywords;

use crate::error::{Diagnostic, Error};
use crate::fs::Fs;
use crate::profile::{Dialect, Profile};
use crate::types::{AddressFamily, FingerprintHash, IpQos, LogLevel, RekeyLimit, SyslogFacility};

/// `PermitRootLogin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermitRootLogin {
    /// `no`.
    No,
    /// `forced-commands-only`.
    ForcedCommandsOnly,
    /// `prohibit-password` / `without-password` (default).
    ProhibitPassword,
    /// `yes`.
    Yes,
}

/// `IgnoreRhosts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoreRhosts {
    /// `no`.
    No,
    /// `yes` (default).
    Yes,
    /// `shosts-only`.
    ShostsOnly,
}

/// `Compression` (server side).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `no`.
    No,
    /// `yes` / `delayed` (default).
    Delayed,
}

/// `GatewayPorts` (server side).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayPorts {
    /// `no` (default).
    No,
    /// `yes`.
    Yes,
    /// `clientspecified`.
    ClientSpecified,
}

/// `AllowTcpForwarding` / `AllowStreamLocalForwarding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllowForwarding {
    /// `no`.
    No,
    /// `yes` / `all` (default).
    All,
    /// `local`.
    Local,
    /// `remote`.
    Remote,
}

/// `PermitTunnel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermitTunnel {
    /// `no` (default).
    No,
    /// `point-to-point`.
    PointToPoint,
    /// `ethernet`.
    Ethernet,
    /// `yes`.
    Yes,
}

/// One `Subsystem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subsystem {
    /// Name (`sftp`).
    pub name: String,
    /// The program.
    pub command: String,
    /// Program and arguments joined by spaces.
    pub args: String,
}

/// One socket sshd listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddress {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Routing domain, if any.
    pub rdomain: Option<String>,
}

/// Operating-system services the server configuration needs.
pub trait ServerContext {
    /// Home directory for `~` (`None`: the invoking user) or `~user`.
    fn home_dir(&self, user: Option<&str>) -> Option<String>;
    /// Current directory, to make relative paths absolute (`derelativise_path`).
    fn cwd(&self) -> String;
    /// Names of the groups of `user` (primary and supplementary), `None` if the
    /// user does not exist (`Match Group`).
    fn user_groups(&self, user: &str) -> Option<Vec<String>>;
    /// Resolve a `ListenAddress` (`None` = wildcard) as
    /// `getaddrinfo(AI_PASSIVE)` does; the error text is `gai_strerror`'s.
    fn resolve_listen(
        &self,
        host: Option<&str>,
        _port: u16,
        family: AddressFamily,
    ) -> Result<Vec<IpAddr>, String> {
        default_resolve_listen(host, family)
    }
}

/// Numeric-only resolution with glibc's wildcard order (IPv4 first).
pub(crate) fn default_resolve_listen(
    host: Option<&str>,
    family: AddressFamily,
) -> Result<Vec<IpAddr>, String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let Some(h) = host else {
        return Ok(match family {
            AddressFamily::Any => vec![any4, any6],
            AddressFamily::Inet => vec![any4],
            AddressFamily::Inet6 => vec![any6],
        });
    };
    let addr = match crate::pattern::addr_pton(h) {
        Some(crate::pattern::XAddr::V4(v)) => IpAddr::V4(Ipv4Addr::from(v)),
        Some(crate::pattern::XAddr::V6(v, _)) => IpAddr::V6(Ipv6Addr::from(v)),
        None => return Err("Name or service not known".to_owned()),
    };
    match (family, addr) {
        (AddressFamily::Inet, IpAddr::V6(_)) | (AddressFamily::Inet6, IpAddr::V4(_)) => {
            Err("Address family for hostname not supported".to_owned())
        }
        _ => Ok(vec![addr]),
    }
}

/// A [`ServerContext`] from plain values.
#[derive(Clone, Debug)]
pub struct BasicServerContext {
    /// Home directory of the invoking user.
    pub home: String,
    /// Other users' home directories.
    pub homes: HashMap<String, String>,
    /// Current directory.
    pub cwd: String,
    /// Users and their groups.
    pub groups: HashMap<String, Vec<String>>,
    /// Host names and what they resolve to (numeric addresses need no entry).
    pub hosts: HashMap<String, Vec<IpAddr>>,
    /// Resolve other names with the system resolver (`ToSocketAddrs`);
    /// otherwise only numeric addresses and `hosts` are known.
    pub system_resolver: bool,
}

impl Default for BasicServerContext {
    fn default() -> Self {
        BasicServerContext {
            home: "/root".to_owned(),
            homes: HashMap::new(),
            cwd: "/".to_owned(),
            groups: HashMap::new(),
            hosts: HashMap::new(),
            system_resolver: false,
        }
    }
}

impl ServerContext for BasicServerContext {
    fn home_dir(&self, user: Option<&str>) -> Option<String> {
        match user {
            None => Some(self.home.clone()),
            Some(u) => self.homes.get(u).cloned(),
        }
    }

    fn cwd(&self) -> String {
        self.cwd.clone()
    }

    fn user_groups(&self, user: &str) -> Option<Vec<String>> {
        self.groups.get(user).cloned()
    }

    fn resolve_listen(
        &self,
        host: Option<&str>,
        port: u16,
        family: AddressFamily,
    ) -> Result<Vec<IpAddr>, String> {
        if let Some(h) = host {
            if self.system_resolver
                && !self.hosts.contains_key(h)
                && default_resolve_listen(host, family).is_err()
            {
                use std::net::ToSocketAddrs;
                let found: Vec<IpAddr> = (h, port)
                    .to_socket_addrs()
                    .map_err(|_| "Name or service not known".to_owned())?
                    .map(|sa| sa.ip())
                    .filter(|a| match family {
                        AddressFamily::Any => true,
                        AddressFamily::Inet => a.is_ipv4(),
                        AddressFamily::Inet6 => a.is_ipv6(),
                    })
                    .collect();
                if found.is_empty() {
                    return Err("Address family for hostname not supported".to_owned());
                }
                return Ok(found);
            }
            if let Some(v) = self.hosts.get(h) {
                let v: Vec<IpAddr> = v
                    .iter()
                    .copied()
                    .filter(|a| match family {
                        AddressFamily::Any => true,
                        AddressFamily::Inet => a.is_ipv4(),
                        AddressFamily::Inet6 => a.is_ipv6(),
                    })
                    .collect();
                return if v.is_empty() {
                    Err("Address family for hostname not supported".into())
                } else {
                    Ok(v)
                };
            }
        }
        default_resolve_listen(host, family)
    }
}

/// A connection to evaluate `Match` blocks for (`sshd -T -C …`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnSpec {
    /// `user=`.
    pub user: Option<String>,
    /// `host=` (remote host name).
    pub host: Option<String>,
    /// `addr=` (remote address).
    pub addr: Option<String>,
    /// `laddr=` (local address).
    pub laddr: Option<String>,
    /// `lport=` (local port; 0 when not given).
    pub lport: i32,
    /// `rdomain=`.
    pub rdomain: Option<String>,
}

impl ConnSpec {
    /// Parse `user=…,host=…,addr=…,laddr=…,lport=…,rdomain=…`; `Err` carries
    /// the message sshd prints before exiting 1.
    pub fn parse(spec: &str) -> Result<ConnSpec, String> {
        let mut ci = ConnSpec::default();
        for p in spec.split(',') {
            if p.is_empty() {
                break;
            }
            if let Some(v) = p.strip_prefix("addr=") {
                ci.addr = Some(v.to_owned());
            } else if let Some(v) = p.strip_prefix("host=") {
                ci.host = Some(v.to_owned());
            } else if let Some(v) = p.strip_prefix("user=") {
                ci.user = Some(v.to_owned());
            } else if let Some(v) = p.strip_prefix("laddr=") {
                ci.laddr = Some(v.to_owned());
            } else if let Some(v) = p.strip_prefix("rdomain=") {
                ci.rdomain = Some(v.to_owned());
            } else if let Some(v) = p.strip_prefix("lport=") {
                ci.lport = crate::misc::a2port(v);
                if ci.lport == -1 {
                    return Err(format!("Invalid port '{v}' in test mode specification {p}"));
                }
            } else {
                return Err(format!("Invalid test mode specification {p}"));
            }
        }
        Ok(ci)
    }
}

/// A configuration-affecting `sshd` command-line option, in argv order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCliArg {
    /// `-o option`.
    Option(String),
    /// `-p port`.
    Port(String),
    /// `-h hostkey`.
    HostKey(String),
    /// `-c hostcert`.
    HostCertificate(String),
    /// `-4` / `-6`.
    AddressFamily(AddressFamily),
    /// `-g grace`.
    LoginGraceTime(String),
    /// `-d` (repeatable).
    Debug,
    /// `-q`.
    Quiet,
}

/// What to read.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `-f` (default `/etc/ssh/sshd_config`; `none` reads nothing).
    pub config_file: String,
    /// Command-line settings in argv order.
    pub args: Vec<ServerCliArg>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            config_file: "/etc/ssh/sshd_config".to_owned(),
            args: Vec::new(),
        }
    }
}

/// A cached `Include` result (OpenSSH keeps these for the second pass).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IncludeItem {
    pub selector: String,
    pub filename: Option<String>,
    pub contents: String,
}

/// The effective server configuration, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ServerConfig {
    pub use_pam: bool,
    pub ports: Vec<u16>,
    pub address_family: AddressFamily,
    /// Listening sockets in `sshd -T` order.
    pub listen_addresses: Vec<ListenAddress>,
    /// `None` entries are `HostKey none`.
    pub host_key_files: Vec<Option<String>>,
    pub host_key_file_user_provided: Vec<bool>,
    pub host_cert_files: Vec<Option<String>>,
    pub host_key_agent: Option<String>,
    pub pid_file: Option<String>,
    pub moduli_file: String,
    pub login_grace_time: i32,
    pub permit_root_login: PermitRootLogin,
    pub ignore_rhosts: IgnoreRhosts,
    pub ignore_user_known_hosts: bool,
    pub print_motd: bool,
    pub print_lastlog: bool,
    pub x11_forwarding: bool,
    pub x11_display_offset: i32,
    pub x11_use_localhost: bool,
    pub permit_tty: bool,
    pub permit_user_rc: bool,
    pub xauth_location: Option<String>,
    pub strict_modes: bool,
    pub tcp_keep_alive: bool,
    pub syslog_facility: SyslogFacility,
    pub log_level: LogLevel,
    pub log_verbose: Vec<String>,
    pub hostbased_authentication: bool,
    pub hostbased_uses_name_from_packet_only: bool,
    pub hostbased_accepted_algorithms: String,
    pub host_key_algorithms: String,
    pub pubkey_authentication: bool,
    pub pubkey_auth_touch_required: bool,
    pub pubkey_auth_verify_required: bool,
    pub pubkey_accepted_algorithms: String,
    pub kerberos_authentication: bool,
    pub kerberos_or_local_passwd: bool,
    pub kerberos_ticket_cleanup: bool,
    pub gssapi_authentication: bool,
    pub gssapi_key_exchange: bool,
    pub gssapi_cleanup_credentials: bool,
    pub gssapi_strict_acceptor_check: bool,
    pub gssapi_store_credentials_on_rekey: bool,
    pub gssapi_kex_algorithms: String,
    pub password_authentication: bool,
    pub kbd_interactive_authentication: bool,
    pub permit_empty_passwords: bool,
    pub permit_user_environment: bool,
    /// `PermitUserEnvironment <pattern-list>`.
    pub permit_user_environment_allowlist: Option<String>,
    pub compression: Compression,
    pub rekey_limit: RekeyLimit,
    pub allow_tcp_forwarding: AllowForwarding,
    pub allow_streamlocal_forwarding: AllowForwarding,
    pub allow_agent_forwarding: bool,
    pub disable_forwarding: bool,
    pub allow_users: Vec<String>,
    pub deny_users: Vec<String>,
    pub allow_groups: Vec<String>,
    pub deny_groups: Vec<String>,
    pub ciphers: String,
    pub macs: String,
    pub kex_algorithms: String,
    pub ca_signature_algorithms: String,
    pub gateway_ports: GatewayPorts,
    pub stream_local_bind_mask: u32,
    pub stream_local_bind_unlink: bool,
    pub subsystems: Vec<Subsystem>,
    pub max_startups_begin: i32,
    pub max_startups_rate: i32,
    pub max_startups: i32,
    /// `None` is `none` (no limit).
    pub per_source_max_startups: Option<i32>,
    pub per_source_masklen_ipv4: i32,
    pub per_source_masklen_ipv6: i32,
    /// PerSourcePenalties (OpenSSH 9.8) as written; empty: the defaults.
    pub per_source_penalties: Vec<String>,
    /// PerSourcePenaltyExemptList (OpenSSH 9.8).
    pub per_source_penalty_exempt: Option<String>,
    pub max_auth_tries: i32,
    pub max_sessions: i32,
    pub banner: Option<String>,
    pub use_dns: bool,
    pub client_alive_interval: i32,
    pub client_alive_count_max: i32,
    pub authorized_keys_files: Vec<String>,
    pub accept_env: Vec<String>,
    pub set_env: Vec<String>,
    pub permit_tunnel: PermitTunnel,
    /// Empty means `any`.
    pub permit_open: Vec<String>,
    /// Empty means `any`.
    pub permit_listen: Vec<String>,
    pub force_command: Option<String>,
    pub chroot_directory: Option<String>,
    pub authorized_keys_command: Option<String>,
    pub authorized_keys_command_user: Option<String>,
    pub revoked_keys_file: Option<String>,
    pub security_key_provider: Option<String>,
    pub trusted_user_ca_keys: Option<String>,
    pub authorized_principals_file: Option<String>,
    pub authorized_principals_command: Option<String>,
    pub authorized_principals_command_user: Option<String>,
    pub ip_qos: IpQos,
    /// Empty when unset or `none`.
    pub version_addendum: String,
    pub fingerprint_hash: FingerprintHash,
    pub expose_auth_info: bool,
    pub routing_domain: Option<String>,
    pub required_rsa_size: i32,
    pub channel_timeouts: Vec<String>,
    /// 0 is `none`.
    pub unused_connection_timeout: i32,
    /// Empty means `any`.
    pub authentication_methods: Vec<String>,
    pub debian_banner: bool,
    /// `PAMServiceName` (OpenSSH 10).
    pub pam_service_name: Option<String>,
    /// `RefuseConnection` (OpenSSH 10).
    pub refuse_connection: bool,
    /// Warnings and debug messages produced while reading.
    pub diagnostics: Vec<Diagnostic>,
    config_name: String,
    config_text: String,
    includes: Vec<IncludeItem>,
    profile: Profile,
    dialect: Dialect,
}

impl ServerConfig {
    /// First pass with the oxssh [`Profile`] and real paths resolved against `/`
    /// and `/root`: see [`ServerConfig::load_with`] to supply a context.
    pub fn load(opts: &ServerOptions, fs: &dyn Fs) -> Result<ServerConfig, Error> {
        Self::load_with(opts, fs, &BasicServerContext::default(), &Profile::oxssh())
    }

    /// First pass imitating `profile`, with a default context.
    pub fn load_with_profile(
        opts: &ServerOptions,
        fs: &dyn Fs,
        profile: &Profile,
    ) -> Result<ServerConfig, Error> {
        Self::load_with(opts, fs, &BasicServerContext::default(), profile)
    }

    /// First pass (what `sshd` does at startup and `sshd -t` checks).
    pub fn load_with(
        opts: &ServerOptions,
        fs: &dyn Fs,
        ctx: &dyn ServerContext,
        profile: &Profile,
    ) -> Result<ServerConfig, Error> {
        read::load(opts, fs, ctx, profile)
    }

    /// Second pass for one connection: the configuration with every matching
    /// `Match` block applied (`sshd -T -C spec`; an empty spec for plain `-T`).
    pub fn for_connection(&self, conn: &ConnSpec) -> Result<ServerConfig, Error> {
        self.for_connection_with(conn, &BasicServerContext::default())
    }

    /// [`ServerConfig::for_connection`] with a context (for `Match Group`).
    pub fn for_connection_with(
        &self,
        conn: &ConnSpec,
        ctx: &dyn ServerContext,
    ) -> Result<ServerConfig, Error> {
        read::for_connection(self, conn, ctx)
    }

    /// The configuration exactly as `sshd -T` prints it.
    pub fn dump(&self) -> String {
        dump::dump(self)
    }

    /// `ChannelTimeout` as (channel type pattern, seconds) pairs, in the order given
    /// (the first pattern matching a channel's type applies, as in OpenSSH).
    pub fn channel_timeout_list(&self) -> Vec<(String, u64)> {
        self.channel_timeouts
            .iter()
            .filter_map(|e| {
                let (t, v) = e.split_once('=')?;
                let secs = crate::misc::convtime(v)?;
                Some((t.to_owned(), u64::try_from(secs).ok()?))
            })
            .collect()
    }
}

/// Fuzz entry point: read `data` as an sshd_config (in memory), evaluate it for
/// an empty connection and dump it. Never panics.
pub fn parse_server_config_bytes(data: &[u8]) -> Result<String, Error> {
    let mut fs = crate::fs::MemFs::new();
    fs.add("/fuzz/sshd_config", data);
    let opts = ServerOptions {
        config_file: "/fuzz/sshd_config".to_owned(),
        args: Vec::new(),
    };
    let cfg = ServerConfig::load_with_profile(&opts, &fs, &Profile::openssh_9_2_debian())?;
    Ok(cfg.for_connection(&ConnSpec::default())?.dump())
}
