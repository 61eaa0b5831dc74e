//! ssh_config(5): the client configuration, read exactly as OpenSSH's `ssh`
//! reads it, into a typed [`ClientConfig`].
//!
//! Sources are applied in OpenSSH's order (command line, then `-F` file or
//! `~/.ssh/config` and `/etc/ssh/ssh_config`), first value wins, then
//! `fill_defaults` gives every option its default in one place. The work that
//! `ssh` does between reading and `ssh -G` (hostname `%h` expansion,
//! canonicalisation, the `Match final` re-read, `%`/`${}` expansion of the
//! keywords OpenSSH expands at that point) happens in [`ClientConfig::load`], so
//! [`ClientConfig::dump`] is byte-for-byte `ssh -G`.
//!
//! Everything that needs the operating system (user database, host name,
//! environment, running `Match exec` commands, DNS for canonicalisation) comes
//! through [`ClientContext`]; files come through [`crate::Fs`].

mod cli;
mod dump;
mod finish;
pub(crate) mod keywords;
mod raw;
pub(crate) mod read;

use std::collections::HashMap;

pub use cli::{CliArg, Destination, parse_destination};
pub use keywords::all_keywords;

use crate::error::{Diagnostic, Error};
use crate::forward::Forward;
use crate::fs::Fs;
use crate::profile::{Dialect, Profile};
use crate::types::{AddressFamily, FingerprintHash, IpQos, LogLevel, RekeyLimit, SyslogFacility};

/// Looks up an environment variable for `${VAR}` expansion.
pub type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `StrictHostKeyChecking`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrictHostKeyChecking {
    /// `no`/`off`: accept and add any key.
    Off,
    /// `accept-new`.
    AcceptNew,
    /// `yes`.
    Yes,
    /// `ask` (default).
    Ask,
}

/// Three-way `yes`/`no`/`ask` (`VerifyHostKeyDNS`, `UpdateHostKeys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum YesNoAsk {
    /// `no`.
    No,
    /// `yes`.
    Yes,
    /// `ask`.
    Ask,
}

/// `ControlMaster`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlMaster {
    /// `no`.
    No,
    /// `yes`.
    Yes,
    /// `auto`.
    Auto,
    /// `ask`.
    Ask,
    /// `autoask`.
    AutoAsk,
}

/// `Tunnel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelMode {
    /// `no`.
    No,
    /// `point-to-point` (also `yes`).
    PointToPoint,
    /// `ethernet`.
    Ethernet,
}

/// `RequestTTY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestTty {
    /// `auto`.
    Auto,
    /// `no`.
    No,
    /// `yes`.
    Yes,
    /// `force`.
    Force,
}

/// `SessionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionType {
    /// `none` (like `-N`).
    None,
    /// `subsystem` (like `-s`).
    Subsystem,
    /// `default`.
    Default,
}

/// `CanonicalizeHostname`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Canonicalize {
    /// `no`.
    No,
    /// `yes`.
    Yes,
    /// `always`.
    Always,
}

/// `PubkeyAuthentication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PubkeyAuthentication {
    /// `no`.
    No,
    /// `unbound`.
    Unbound,
    /// `host-bound`.
    HostBound,
    /// `yes`.
    Yes,
}

/// `AddKeysToAgent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddKeysToAgent {
    /// `no`.
    No,
    /// `yes`.
    Yes,
    /// `ask`.
    Ask,
    /// `confirm`.
    Confirm,
}

/// An `IdentityFile` or `CertificateFile`, unexpanded (as `ssh -G` shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityFile {
    /// The path as configured (`~` and `%` tokens not yet expanded).
    pub path: String,
    /// Whether the user configured it (as opposed to a built-in default).
    pub user_provided: bool,
}

/// `TunnelDevice` (`None` means `any`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelDevice {
    /// Local tun unit.
    pub local: Option<u32>,
    /// Remote tun unit.
    pub remote: Option<u32>,
}

/// One `CanonicalizePermittedCNAMEs` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermittedCname {
    /// Pattern list for the original name.
    pub source: String,
    /// Pattern list for the CNAME target.
    pub target: String,
}

/// `ProxyJump`'s last hop plus the remaining hops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyJump {
    /// User for the last hop.
    pub user: Option<String>,
    /// Host of the last hop.
    pub host: String,
    /// Port of the last hop (`None` when not given).
    pub port: Option<u16>,
    /// Earlier hops, comma-separated, as written.
    pub extra: Option<String>,
}

/// The local user `ssh` runs as (`getpwuid(getuid())`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalUser {
    /// Login name (`%u`).
    pub name: String,
    /// Numeric uid (`%i`).
    pub uid: u32,
    /// Home directory (`%d`, `~`).
    pub home: String,
}

/// What name resolution found when canonicalising a host name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The name does not resolve.
    NotFound,
    /// It resolves; `cname` is the canonical name reported by the resolver, if any.
    Found {
        /// `ai_canonname`.
        cname: Option<String>,
    },
}

/// Operating-system services the client configuration needs.
pub trait ClientContext {
    /// The invoking user.
    fn local_user(&self) -> LocalUser;
    /// `gethostname()` (`%l`; `%L` is its first label).
    fn hostname(&self) -> String;
    /// Home directory of another user, for `~user` (`None` if unknown).
    fn home_dir(&self, _user: &str) -> Option<String> {
        None
    }
    /// An environment variable, for `${VAR}`.
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    /// Run `Match exec` command `command` with the user's shell and return its
    /// exit status; `Err` (with an optional message to log) when it did not exit
    /// normally.
    fn exec(&self, command: &str) -> Result<i32, String>;
    /// Resolve `name` for hostname canonicalisation.
    fn resolve(&self, _name: &str, _port: u16, _family: AddressFamily) -> Resolution {
        Resolution::NotFound
    }
    /// `Match localnetwork`: whether a local interface address is in the CIDR list.
    fn local_network_matches(&self, _cidr_list: &str) -> bool {
        false
    }
    /// Whether a group-writable config file's group is the owner's private group
    /// (Debian's relaxed permission check).
    fn secure_group(&self, _gid: u32) -> bool {
        false
    }
    /// `getservbyname("ssh", "tcp")`.
    fn default_port(&self) -> i32 {
        22
    }
}

/// How [`BasicContext`] answers `Match exec`.
#[derive(Clone, Debug, Default)]
pub enum ExecPolicy {
    /// Run the command with `$SHELL -c` (or `/bin/sh`), stdin and stdout on
    /// `/dev/null`, like OpenSSH.
    #[default]
    Run,
    /// Look the command up in a table; unknown commands exit 1.
    Table(HashMap<String, i32>),
}

/// A [`ClientContext`] from plain values; the binaries fill it from the OS.
#[derive(Clone, Debug)]
pub struct BasicContext {
    /// The invoking user.
    pub user: LocalUser,
    /// The local host name.
    pub hostname: String,
    /// Environment variables visible to `${VAR}` expansion.
    pub env: HashMap<String, String>,
    /// Home directories of other users (`~name`).
    pub homes: HashMap<String, String>,
    /// `Match exec` behaviour.
    pub exec: ExecPolicy,
    /// Fixed answers for canonicalisation lookups: name → CNAME (`None` = resolves
    /// without a CNAME). Names not listed do not resolve.
    pub dns: HashMap<String, Option<String>>,
    /// CIDR lists that `Match localnetwork` should report as matching.
    pub local_networks: Vec<String>,
}

impl BasicContext {
    /// A context for `user` with nothing else set.
    pub fn new(user: LocalUser, hostname: impl Into<String>) -> Self {
        BasicContext {
            user,
            hostname: hostname.into(),
            env: HashMap::new(),
            homes: HashMap::new(),
            exec: ExecPolicy::Run,
            dns: HashMap::new(),
            local_networks: Vec::new(),
        }
    }
}

impl ClientContext for BasicContext {
    fn local_user(&self) -> LocalUser {
        self.user.clone()
    }

    fn hostname(&self) -> String {
        self.hostname.clone()
    }

    fn home_dir(&self, user: &str) -> Option<String> {
        if user == self.user.name {
            return Some(self.user.home.clone());
        }
        self.homes.get(user).cloned()
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn exec(&self, command: &str) -> Result<i32, String> {
        match &self.exec {
            ExecPolicy::Table(t) => Ok(t.get(command).copied().unwrap_or(1)),
            ExecPolicy::Run => {
                let shell = self
                    .env
                    .get("SHELL")
                    .cloned()
                    .unwrap_or_else(|| "/bin/sh".to_owned());
                let status = std::process::Command::new(&shell)
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .status()
                    .map_err(|e| {
                        format!(
                            "Unable to execute '{}': {}",
                            crate::misc::trunc(command, 100),
                            crate::io_error_text(&e)
                        )
                    })?;
                match status.code() {
                    Some(c) => Ok(c),
                    None => Err(format!(
                        "command '{}' exited abnormally",
                        crate::misc::trunc(command, 100)
                    )),
                }
            }
        }
    }

    fn resolve(&self, name: &str, _port: u16, _family: AddressFamily) -> Resolution {
        match self.dns.get(name) {
            Some(c) => Resolution::Found { cname: c.clone() },
            None => Resolution::NotFound,
        }
    }

    fn local_network_matches(&self, cidr_list: &str) -> bool {
        self.local_networks.iter().any(|n| n == cidr_list)
    }
}

/// What to read and the command-line settings, in argv order.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// The destination host as given (`%n`, `Match originalhost`); without `user@`.
    pub host: String,
    /// `-F`: `Some("none")` reads no file; `None` reads the user and system files.
    pub config_file: Option<String>,
    /// Command-line settings (`-o`, `-p`, `-l`, …) in the order given.
    pub args: Vec<CliArg>,
    /// The remote command from the command line, if any.
    pub command: Option<String>,
    /// The system-wide file (default `/etc/ssh/ssh_config`).
    pub system_config: Option<String>,
    /// The per-user file (default `~/.ssh/config`).
    pub user_config: Option<String>,
}

impl ClientOptions {
    /// Options for `ssh host` with no command-line settings.
    pub fn new(host: impl Into<String>) -> Self {
        ClientOptions {
            host: host.into(),
            ..Default::default()
        }
    }
}

/// The evaluated client configuration: what `ssh -G` prints, typed.
///
/// Paths that OpenSSH expands before `ssh -G` (`ControlPath`, `IdentityAgent`,
/// `UserKnownHostsFile`, forward socket paths, `RemoteCommand`) are expanded;
/// those it expands later (`IdentityFile`, `CertificateFile`, `ProxyCommand`,
/// `LocalCommand`, `KnownHostsCommand`) are as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ClientConfig {
    /// The host as given on the command line.
    pub host_arg: String,
    /// The host to connect to (after `Hostname`, `%h`, lower-casing and canonicalisation).
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub address_family: AddressFamily,
    pub batch_mode: bool,
    pub canonicalize_fallback_local: bool,
    pub canonicalize_hostname: Canonicalize,
    pub check_host_ip: bool,
    pub compression: bool,
    pub control_master: ControlMaster,
    pub enable_ssh_keysign: bool,
    pub clear_all_forwardings: bool,
    pub exit_on_forward_failure: bool,
    pub fingerprint_hash: FingerprintHash,
    pub forward_x11: bool,
    pub forward_x11_trusted: bool,
    pub gateway_ports: bool,
    pub gssapi_authentication: bool,
    pub gssapi_key_exchange: bool,
    pub gssapi_delegate_credentials: bool,
    pub gssapi_trust_dns: bool,
    pub gssapi_renewal_forces_rekey: bool,
    pub gssapi_client_identity: Option<String>,
    pub gssapi_server_identity: Option<String>,
    pub gssapi_kex_algorithms: String,
    pub hash_known_hosts: bool,
    pub hostbased_authentication: bool,
    pub identities_only: bool,
    pub kbd_interactive_authentication: bool,
    pub no_host_authentication_for_localhost: bool,
    pub password_authentication: bool,
    pub permit_local_command: bool,
    pub proxy_use_fdpass: bool,
    pub pubkey_authentication: PubkeyAuthentication,
    pub request_tty: RequestTty,
    pub session_type: SessionType,
    pub stdin_null: bool,
    pub fork_after_authentication: bool,
    pub stream_local_bind_unlink: bool,
    pub strict_host_key_checking: StrictHostKeyChecking,
    pub tcp_keep_alive: bool,
    pub tunnel: TunnelMode,
    pub verify_host_key_dns: YesNoAsk,
    pub visual_host_key: bool,
    pub update_host_keys: YesNoAsk,
    pub enable_escape_commandline: bool,
    pub canonicalize_max_dots: i32,
    pub connection_attempts: i32,
    pub forward_x11_timeout: i32,
    pub number_of_password_prompts: i32,
    pub server_alive_count_max: i32,
    pub server_alive_interval: i32,
    pub required_rsa_size: i32,
    pub bind_address: Option<String>,
    pub bind_interface: Option<String>,
    pub ciphers: String,
    pub control_path: Option<String>,
    /// Assembled host key algorithms.
    pub host_key_algorithms: String,
    /// Whether `HostKeyAlgorithms` was configured (ssh otherwise prefers
    /// algorithms of keys already in known_hosts).
    pub host_key_algorithms_configured: bool,
    pub host_key_alias: Option<String>,
    pub hostbased_accepted_algorithms: String,
    pub identity_agent: Option<String>,
    pub ignore_unknown: Option<String>,
    pub kbd_interactive_devices: Option<String>,
    pub kex_algorithms: String,
    pub ca_signature_algorithms: String,
    pub local_command: Option<String>,
    pub remote_command: Option<String>,
    pub log_level: LogLevel,
    pub macs: String,
    pub pkcs11_provider: Option<String>,
    pub security_key_provider: Option<String>,
    pub preferred_authentications: Option<String>,
    pub pubkey_accepted_algorithms: String,
    pub revoked_host_keys: Option<String>,
    pub xauth_location: String,
    pub known_hosts_command: Option<String>,
    /// `LocalForward` and `DynamicForward` entries (dynamic ones connect to `socks`).
    pub local_forwards: Vec<Forward>,
    pub remote_forwards: Vec<Forward>,
    pub identity_files: Vec<IdentityFile>,
    pub canonical_domains: Vec<String>,
    pub certificate_files: Vec<IdentityFile>,
    pub global_known_hosts_files: Vec<String>,
    pub user_known_hosts_files: Vec<String>,
    pub send_env: Vec<String>,
    pub set_env: Vec<String>,
    pub log_verbose: Vec<String>,
    /// Empty means `any`.
    pub permit_remote_open: Vec<String>,
    pub add_keys_to_agent: AddKeysToAgent,
    pub add_keys_to_agent_lifespan: i32,
    pub forward_agent: bool,
    pub forward_agent_sock_path: Option<String>,
    /// `None` means no timeout.
    pub connect_timeout: Option<i32>,
    pub tunnel_device: TunnelDevice,
    pub permitted_cnames: Vec<PermittedCname>,
    pub control_persist: bool,
    pub control_persist_timeout: i32,
    /// `None` is `EscapeChar none`.
    pub escape_char: Option<u8>,
    pub ip_qos: IpQos,
    pub rekey_limit: RekeyLimit,
    pub stream_local_bind_mask: u32,
    pub syslog_facility: SyslogFacility,
    pub proxy_command: Option<String>,
    pub proxy_jump: Option<ProxyJump>,
    /// `-W host:port`.
    pub stdio_forward: Option<(String, i32)>,
    /// `Tag` (OpenSSH 10).
    pub tag: Option<String>,
    /// `ObscureKeystrokeTiming` interval in ms, 0 = off, `None` = not configured
    /// (OpenSSH 10 then obscures with 20 ms) (OpenSSH 10).
    pub obscure_keystroke_timing: Option<i32>,
    /// `ChannelTimeout` (OpenSSH 10).
    pub channel_timeouts: Vec<String>,
    /// `VersionAddendum` (OpenSSH 10).
    pub version_addendum: Option<String>,
    /// Warnings and debug messages produced while reading.
    pub diagnostics: Vec<Diagnostic>,
    dialect: Dialect,
    failed_algos: Vec<&'static str>,
    local_user: LocalUser,
    local_hostname: String,
}

impl ClientConfig {
    /// Read the configuration for `opts` with the oxssh [`Profile`].
    pub fn load(
        opts: &ClientOptions,
        ctx: &dyn ClientContext,
        fs: &dyn Fs,
    ) -> Result<ClientConfig, Error> {
        Self::load_with_profile(opts, ctx, fs, &Profile::oxssh())
    }

    /// Read the configuration imitating the OpenSSH described by `profile`.
    pub fn load_with_profile(
        opts: &ClientOptions,
        ctx: &dyn ClientContext,
        fs: &dyn Fs,
        profile: &Profile,
    ) -> Result<ClientConfig, Error> {
        finish::load(opts, ctx, fs, profile)
    }

    /// The configuration exactly as `ssh -G` prints it.
    pub fn dump(&self) -> String {
        dump::dump(self)
    }

    /// The `%` tokens every expanding keyword knows (`%C %L %i %k %l %n %p %d
    /// %h %r %u`; `%%` is always `%`), with this configuration's values.
    pub fn tokens(&self) -> Vec<(char, String)> {
        let port = self.port.to_string();
        let keyalias = self
            .host_key_alias
            .clone()
            .unwrap_or_else(|| self.host_arg.clone());
        let hash = read::connection_hash(&self.local_hostname, &self.hostname, &port, &self.user);
        vec![
            ('C', hash),
            (
                'L',
                self.local_hostname
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            ),
            ('i', self.local_user.uid.to_string()),
            ('k', keyalias),
            ('l', self.local_hostname.clone()),
            ('n', self.host_arg.clone()),
            ('p', port),
            ('d', self.local_user.home.clone()),
            ('h', self.hostname.clone()),
            ('r', self.user.clone()),
            ('u', self.local_user.name.clone()),
        ]
    }

    /// Expand a value the way `ssh` does when it uses it: `~` first (when
    /// `tilde`), then the default tokens plus `extra` (for example `%T` for
    /// `LocalCommand`, `%f`/`%H`/`%K`/`%t`/`%I` for `KnownHostsCommand`), then
    /// `${VAR}` when `env` is given. Errors are OpenSSH's fatal messages.
    pub fn expand(
        &self,
        s: &str,
        extra: &[(char, &str)],
        env: Option<EnvFn<'_>>,
        tilde: bool,
    ) -> Result<String, Error> {
        let mut log = Vec::new();
        let mut s = s.to_owned();
        if tilde {
            let home = |u: Option<&str>| match u {
                None => Some(self.local_user.home.clone()),
                Some(_) => None,
            };
            s = crate::expand::tilde_expand(&s, &home).map_err(|e| Error::fatal(e, Vec::new()))?;
        }
        let owned = self.tokens();
        let mut toks: Vec<(char, &str)> = extra.to_vec();
        toks.extend(owned.iter().map(|(c, v)| (*c, v.as_str())));
        match crate::expand::expand(&s, Some(&toks), env, &mut log) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Error::fatal("invalid environment variable expansion", log)),
            Err(e) => {
                log.push(Diagnostic::new(crate::error::Level::Error, e.detail));
                Err(Error::fatal("percent_expand: failed", log))
            }
        }
    }
}

/// Fuzz entry point: read `data` as an ssh_config file (with an in-memory
/// filesystem and a fixed context) and dump the result. Never panics.
pub fn parse_client_config_bytes(data: &[u8]) -> Result<String, Error> {
    let mut fs = crate::fs::MemFs::new();
    fs.add("/fuzz/ssh_config", data);
    let ctx = BasicContext {
        exec: ExecPolicy::Table(HashMap::new()),
        ..BasicContext::new(
            LocalUser {
                name: "fuzz".into(),
                uid: 1000,
                home: "/home/fuzz".into(),
            },
            "fuzzhost",
        )
    };
    let opts = ClientOptions {
        config_file: Some("/fuzz/ssh_config".into()),
        ..ClientOptions::new("example.com")
    };
    ClientConfig::load_with_profile(&opts, &ctx, &fs, &Profile::openssh_9_2_debian())
        .map(|c| c.dump())
}
