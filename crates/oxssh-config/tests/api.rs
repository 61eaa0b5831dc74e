//! Behaviour through the public API with an in-memory filesystem: file
//! selection and order, Include resolution, permission checks, typed values,
//! the OpenSSH 10 additions of the oxssh dialect, and error reporting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use oxssh_config::{
    AddressFamily, BasicContext, BasicServerContext, CliArg, ClientConfig, ClientOptions, ConnSpec,
    Error, ExecPolicy, LocalUser, MemFs, PermitRootLogin, Profile, ServerCliArg, ServerConfig,
    ServerOptions, StrictHostKeyChecking,
};

fn user() -> LocalUser {
    LocalUser {
        name: "alice".into(),
        uid: 1000,
        home: "/home/alice".into(),
    }
}

fn ctx() -> BasicContext {
    let mut c = BasicContext::new(user(), "laptop.example.org");
    c.exec = ExecPolicy::Table(HashMap::from([
        ("true".to_owned(), 0),
        ("check h1".to_owned(), 0),
    ]));
    c.env.insert("SOCK".into(), "/run/agent".into());
    c
}

fn p92() -> Profile {
    Profile::openssh_9_2_debian()
}

fn load(fs: &MemFs, opts: &ClientOptions) -> Result<ClientConfig, Error> {
    ClientConfig::load_with_profile(opts, &ctx(), fs, &p92())
}

#[test]
fn user_file_then_system_file_first_value_wins() {
    let mut fs = MemFs::new();
    fs.add_with_meta("/home/alice/.ssh/config", "Port 2000\n", 1000, 0o600);
    fs.add("/etc/ssh/ssh_config", "Port 3000\nUser sys\n");
    let cfg = load(&fs, &ClientOptions::new("h")).unwrap();
    assert_eq!((cfg.port, cfg.user.as_str()), (2000, "sys"));
}

#[test]
fn bad_permissions_on_user_config_are_fatal() {
    let mut fs = MemFs::new();
    fs.add_with_meta("/home/alice/.ssh/config", "Port 2000\n", 1000, 0o666);
    let err = load(&fs, &ClientOptions::new("h")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Bad owner or permissions on /home/alice/.ssh/config"
    );
    let mut fs = MemFs::new();
    fs.add_with_meta("/home/alice/.ssh/config", "Port 2000\n", 4242, 0o600);
    assert!(load(&fs, &ClientOptions::new("h")).is_err());
}

#[test]
fn f_none_reads_nothing_and_missing_f_file_fails() {
    let mut fs = MemFs::new();
    fs.add("/etc/ssh/ssh_config", "Port 3000\n");
    let opts = ClientOptions {
        config_file: Some("none".into()),
        ..ClientOptions::new("h")
    };
    assert_eq!(load(&fs, &opts).unwrap().port, 22);
    let opts = ClientOptions {
        config_file: Some("/nope".into()),
        ..ClientOptions::new("h")
    };
    let err = load(&fs, &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Can't open user config file /nope: No such file or directory"
    );
}

#[test]
fn relative_includes_resolve_against_dot_ssh_and_etc_ssh() {
    let mut fs = MemFs::new();
    fs.add_with_meta(
        "/home/alice/.ssh/config",
        "Include conf.d/*.conf\n",
        1000,
        0o600,
    );
    fs.add_with_meta(
        "/home/alice/.ssh/conf.d/b.conf",
        "User from-b\n",
        1000,
        0o600,
    );
    fs.add_with_meta(
        "/home/alice/.ssh/conf.d/a.conf",
        "User from-a\n",
        1000,
        0o600,
    );
    fs.add("/etc/ssh/ssh_config", "Include sys.d/x.conf\n");
    fs.add("/etc/ssh/sys.d/x.conf", "Port 4444\n");
    let cfg = load(&fs, &ClientOptions::new("h")).unwrap();
    assert_eq!((cfg.user.as_str(), cfg.port), ("from-a", 4444));
}

#[test]
fn tilde_include_only_in_user_files() {
    let mut fs = MemFs::new();
    fs.add("/etc/ssh/ssh_config", "Include ~/x.conf\n");
    let opts = ClientOptions {
        config_file: None,
        ..ClientOptions::new("h")
    };
    let err = load(&fs, &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/ssh/ssh_config: terminating, 1 bad configuration options"
    );
    assert_eq!(
        err.stderr_lines()[0],
        "/etc/ssh/ssh_config line 1: bad include path ~/x.conf."
    );
}

#[test]
fn include_depth_is_limited() {
    let mut fs = MemFs::new();
    for i in 0..20 {
        fs.add(
            format!("/c/{i}.conf"),
            format!("Include /c/{}.conf\n", i + 1),
        );
    }
    let opts = ClientOptions {
        config_file: Some("/c/0.conf".into()),
        ..ClientOptions::new("h")
    };
    assert_eq!(
        load(&fs, &opts).unwrap_err().to_string(),
        "Too many recursive configuration includes"
    );
}

#[test]
fn match_exec_uses_the_context_and_tokens() {
    let mut fs = MemFs::new();
    fs.add("/c", "Match exec \"check %h\"\n  User matched\n");
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h1")
    };
    assert_eq!(load(&fs, &opts).unwrap().user, "matched");
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h2")
    };
    assert_eq!(load(&fs, &opts).unwrap().user, "alice");
}

#[test]
fn typed_values_and_expansions() {
    let mut fs = MemFs::new();
    fs.add(
        "/c",
        "Host h\n  StrictHostKeyChecking accept-new\n  AddressFamily inet6\n  ControlPath ~/.ssh/%r@%h:%p\n  \
         IdentityAgent ${SOCK}\n  LocalForward 8080 localhost:80\n  DynamicForward 1080\n",
    );
    let mut opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h")
    };
    opts.args.push(CliArg::User("bob".into()));
    opts.args.push(CliArg::Port("2222".into()));
    let cfg = load(&fs, &opts).unwrap();
    assert_eq!(
        cfg.strict_host_key_checking,
        StrictHostKeyChecking::AcceptNew
    );
    assert_eq!(cfg.address_family, AddressFamily::Inet6);
    assert_eq!(
        cfg.control_path.as_deref(),
        Some("/home/alice/.ssh/bob@h:2222")
    );
    assert_eq!(cfg.identity_agent.as_deref(), Some("/run/agent"));
    assert_eq!(cfg.local_forwards.len(), 2);
    assert!(cfg.local_forwards[1].is_dynamic());
}

#[test]
fn command_line_errors_report_like_openssh() {
    let fs = MemFs::new();
    let mut opts = ClientOptions {
        config_file: Some("none".into()),
        ..ClientOptions::new("h")
    };
    opts.args.push(CliArg::Option("Bogus yes".into()));
    let err = load(&fs, &opts).unwrap_err();
    assert_eq!(
        err.stderr_lines(),
        vec!["command-line: line 0: Bad configuration option: bogus"]
    );
    let mut opts = ClientOptions {
        config_file: Some("none".into()),
        ..ClientOptions::new("h")
    };
    opts.args.push(CliArg::Port("0".into()));
    assert_eq!(load(&fs, &opts).unwrap_err().to_string(), "Bad port '0'");
}

#[test]
fn oxssh_dialect_knows_openssh_10_keywords() {
    let mut fs = MemFs::new();
    fs.add("/c", "Tag work\nMatch tagged work\n  User tagged\nMatch localnetwork 192.168.0.0/16\n  Port 2200\n");
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h")
    };
    let mut c = ctx();
    c.local_networks.push("192.168.0.0/16".into());
    let cfg = ClientConfig::load_with_profile(&opts, &c, &fs, &Profile::oxssh()).unwrap();
    assert_eq!(
        (cfg.user.as_str(), cfg.port, cfg.tag.as_deref()),
        ("tagged", 2200, Some("work"))
    );
    assert!(cfg.dump().contains("\ntag work\n"));
    // The reference 9.2 rejects them.
    assert!(ClientConfig::load_with_profile(&opts, &c, &fs, &p92()).is_err());
    // oxssh offers OpenSSH 10's algorithms.
    assert!(cfg.kex_algorithms.starts_with("mlkem768x25519-sha256,"));
}

#[test]
fn destination_parsing() {
    let d = oxssh_config::parse_destination("ssh://bob@example.com:2022").unwrap();
    assert_eq!(
        (d.user.as_deref(), d.host.as_str(), d.port),
        (Some("bob"), "example.com", Some(2022))
    );
    let d = oxssh_config::parse_destination("a@b@c").unwrap();
    assert_eq!((d.user.as_deref(), d.host.as_str()), (Some("a@b"), "c"));
    assert!(oxssh_config::parse_destination("@h").is_none());
}

fn sload(text: &str, args: Vec<ServerCliArg>) -> Result<ServerConfig, Error> {
    let mut fs = MemFs::new();
    fs.add("/etc/ssh/sshd_config", text);
    let opts = ServerOptions {
        config_file: "/etc/ssh/sshd_config".into(),
        args,
    };
    ServerConfig::load_with_profile(&opts, &fs, &p92())
}

#[test]
fn server_match_evaluation() {
    let base = sload(
        "PermitRootLogin no\nMatch User admin Address 10.0.0.0/8\n  PermitRootLogin yes\n",
        vec![],
    )
    .unwrap();
    assert_eq!(base.permit_root_login, PermitRootLogin::No);
    let c = base
        .for_connection(&ConnSpec::parse("user=admin,addr=10.1.1.1").unwrap())
        .unwrap();
    assert_eq!(c.permit_root_login, PermitRootLogin::Yes);
    let c = base
        .for_connection(&ConnSpec::parse("user=admin,addr=192.0.2.1").unwrap())
        .unwrap();
    assert_eq!(c.permit_root_login, PermitRootLogin::No);
}

#[test]
fn server_match_group_uses_context() {
    let base = sload("Match Group wheel\n  MaxSessions 2\n", vec![]).unwrap();
    let mut ctx = BasicServerContext::default();
    ctx.groups
        .insert("al".into(), vec!["al".into(), "wheel".into()]);
    let c = base
        .for_connection_with(&ConnSpec::parse("user=al").unwrap(), &ctx)
        .unwrap();
    assert_eq!(c.max_sessions, 2);
    let c = base
        .for_connection_with(&ConnSpec::parse("user=bo").unwrap(), &ctx)
        .unwrap();
    assert_eq!(c.max_sessions, 10);
}

#[test]
fn server_errors_and_exit_codes() {
    let err = sload("Match User x\n  Ciphers aes128-ctr\n", vec![]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/ssh/sshd_config line 2: Directive 'Ciphers' is not allowed within a Match block"
    );
    assert_eq!(err.sshd_exit_code(), 255);
    let err = sload("", vec![ServerCliArg::Option("Nope yes".into())]).unwrap_err();
    assert_eq!(err.sshd_exit_code(), 1);
    assert_eq!(
        err.to_string(),
        "command-line: line 0: Bad configuration option: Nope"
    );
    let opts = ServerOptions {
        config_file: "/missing".into(),
        args: vec![],
    };
    let err = ServerConfig::load_with_profile(&opts, &MemFs::new(), &p92()).unwrap_err();
    assert_eq!(
        (err.to_string().as_str(), err.sshd_exit_code()),
        ("/missing: No such file or directory", 1)
    );
    assert_eq!(
        ConnSpec::parse("bogus=1").unwrap_err(),
        "Invalid test mode specification bogus=1"
    );
}

#[test]
fn server_command_line_ports_override_file() {
    let c = sload("Port 2200\n", vec![ServerCliArg::Port("2022".into())]).unwrap();
    assert_eq!(c.ports, vec![2022]);
    let c = sload(
        "Port 2200\n",
        vec![ServerCliArg::Option("Port 3000".into())],
    )
    .unwrap();
    assert_eq!(c.ports, vec![3000, 2200]);
}

#[test]
fn canonicalization_uses_the_resolver_and_reparses() {
    let mut fs = MemFs::new();
    fs.add(
        "/c",
        "CanonicalizeHostname yes\nCanonicalDomains nope.example example.com\n\
         CanonicalizePermittedCNAMEs *.example.com:*.cdn.example.net\n\
         Match canonical host web.example.com\n  User canon\n\
         Match canonical host *.cdn.example.net\n  Port 4444\n",
    );
    let mut c = ctx();
    c.dns.insert("web.example.com.".into(), None);
    c.dns.insert(
        "api.example.com.".into(),
        Some("edge7.cdn.example.net".into()),
    );
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("web")
    };
    let cfg = ClientConfig::load_with_profile(&opts, &c, &fs, &p92()).unwrap();
    assert_eq!(
        (cfg.hostname.as_str(), cfg.user.as_str()),
        ("web.example.com", "canon")
    );
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("api")
    };
    let cfg = ClientConfig::load_with_profile(&opts, &c, &fs, &p92()).unwrap();
    assert_eq!(
        (cfg.hostname.as_str(), cfg.port),
        ("edge7.cdn.example.net", 4444)
    );
    // Not found anywhere, no fallback: fatal like OpenSSH.
    let mut fs2 = MemFs::new();
    fs2.add(
        "/c",
        "CanonicalizeHostname yes\nCanonicalDomains nope.example\nCanonicalizeFallbackLocal no\n",
    );
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("zzz")
    };
    let err = ClientConfig::load_with_profile(&opts, &c, &fs2, &p92()).unwrap_err();
    assert_eq!(err.to_string(), "ssh: Could not resolve host \"zzz\"");
}

#[test]
fn dump_reads_back_to_itself() {
    let mut fs = MemFs::new();
    fs.add(
        "/c",
        "Host h\n  User u\n  Port 2\n  LocalForward 1 localhost:2\n  SendEnv A B\n  SetEnv X=1\n  \
         IdentityFile ~/.ssh/k\n  ProxyJump j@jump:22\n  Ciphers +aes128-cbc\n",
    );
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h")
    };
    let first = ClientConfig::load_with_profile(&opts, &ctx(), &fs, &p92())
        .unwrap()
        .dump();
    let mut fs2 = MemFs::new();
    fs2.add("/d", first.clone());
    let opts = ClientOptions {
        config_file: Some("/d".into()),
        ..ClientOptions::new("h")
    };
    let second = ClientConfig::load_with_profile(&opts, &ctx(), &fs2, &p92())
        .unwrap()
        .dump();
    assert_eq!(first, second);
}

#[test]
fn expand_helper_for_later_keywords() {
    let mut fs = MemFs::new();
    fs.add(
        "/c",
        "Host h\n  HostName real.example\n  User bob\n  LocalCommand echo %T %h %r %%\n",
    );
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h")
    };
    let cfg = load(&fs, &opts).unwrap();
    let lc = cfg.local_command.clone().unwrap();
    assert_eq!(
        cfg.expand(&lc, &[('T', "tun0")], None, false).unwrap(),
        "echo tun0 real.example bob %"
    );
    let env = |v: &str| (v == "X").then(|| "ex".to_owned());
    assert_eq!(
        cfg.expand("~/.ssh/%n-${X}", &[], Some(&env), true).unwrap(),
        "/home/alice/.ssh/h-ex"
    );
    assert_eq!(
        cfg.expand("%Z", &[], None, false).unwrap_err().to_string(),
        "percent_expand: failed"
    );
}

#[test]
fn oxssh_profile_keeps_the_9_2_format() {
    let mut fs = MemFs::new();
    fs.add("/c", "Host h\n  User u\n  LocalForward 1 localhost:2\n");
    let opts = ClientOptions {
        config_file: Some("/c".into()),
        ..ClientOptions::new("h")
    };
    let a = ClientConfig::load_with_profile(&opts, &ctx(), &fs, &p92())
        .unwrap()
        .dump();
    let b = ClientConfig::load_with_profile(&opts, &ctx(), &fs, &Profile::oxssh())
        .unwrap()
        .dump();
    let strip = |d: &str| -> Vec<String> {
        d.lines()
            .filter(|l| {
                !l.starts_with("kexalgorithms ")
                    && !l.starts_with("ciphers ")
                    && !l.contains("algorithms ")
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.lines().count(), b.lines().count());
}
