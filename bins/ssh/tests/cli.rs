//! ssh's command-line and configuration behaviour as a user sees it, compared with
//! OpenSSH's `ssh` where OpenSSH is the reference: `-G` dumps, `-Q` lists, usage errors.

use oxssh_testkit::{Cmd, TempHome, ours, require_openssh};

/// Keywords whose values differ from OpenSSH 9.2 by design: our defaults are OpenSSH
/// 10's, restricted to the algorithms we implement (no umac).
const DIFFERS_BY_DESIGN: &[&str] = &["ciphers", "kexalgorithms", "macs"];

fn g(bin: std::path::PathBuf, home: &TempHome, args: &[&str]) -> String {
    let out = Cmd::new(bin).args(["-G"]).args(args).envs(home.env()).run();
    out.assert_success();
    out.stdout_str()
        .lines()
        .filter(|l| !DIFFERS_BY_DESIGN.contains(&l.split(' ').next().unwrap_or("")))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn dash_g_matches_openssh_for_a_real_world_config() {
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.write_ssh_config(
        "Host web*\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/id_web\n\
         Match host *.internal\n  ProxyJump bastion\n\
         Host *\n  ServerAliveInterval 30\n  SendEnv LANG LC_*\n",
    );
    let cfg = cfg.to_string_lossy().into_owned();
    for args in [
        vec!["-F", &cfg, "web1"],
        vec!["-F", &cfg, "-p", "2200", "-l", "root", "db.internal"],
        vec!["-F", &cfg, "-o", "User=x", "ssh://bob@web2:2022"],
        vec!["-F", "none", "-vvv", "-4", "-C", "h"],
    ] {
        assert_eq!(
            g(ours("ssh"), &home, &args),
            g(theirs.clone(), &home, &args),
            "{args:?}"
        );
    }
}

#[test]
fn dash_q_lists_only_what_we_implement() {
    let out = Cmd::new(ours("ssh")).args(["-Q", "cipher"]).run();
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "3des-cbc\naes128-cbc\naes192-cbc\naes256-cbc\naes128-ctr\naes192-ctr\naes256-ctr\naes128-gcm@openssh.com\naes256-gcm@openssh.com\nchacha20-poly1305@openssh.com\n"
    );
    let out = Cmd::new(ours("ssh")).args(["-Q", "kex"]).run();
    assert!(
        out.stdout_str()
            .lines()
            .any(|l| l == "mlkem768x25519-sha256"),
        "{out}"
    );
    let out = Cmd::new(ours("ssh")).args(["-Q", "nonsense"]).run();
    out.assert_code(255);
    assert_eq!(out.stderr_str(), "Unsupported query \"nonsense\"\r\n");
}

#[test]
fn dash_q_lists_come_in_openssh_order() {
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    for what in [
        "cipher",
        "cipher-auth",
        "mac",
        "kex",
        "compression",
        "protocol-version",
    ] {
        let ours = Cmd::new(ours("ssh")).args(["-Q", what]).run();
        ours.assert_success();
        let openssh = Cmd::new(&theirs).args(["-Q", what]).run();
        let ours_text = ours.stdout_str();
        let ours: Vec<&str> = ours_text.lines().collect();
        let openssh: Vec<String> = openssh.stdout_str().lines().map(str::to_owned).collect();
        // What both implement, in the same order; what we lack (umac, MD5, DSA…) is
        // left out of theirs, and what the installed OpenSSH predates (OpenSSH 10's
        // mlkem768x25519-sha256, last in its table) out of ours.
        let shared: Vec<&str> = openssh
            .iter()
            .map(String::as_str)
            .filter(|n| ours.contains(n))
            .collect();
        let ours_known: Vec<&str> = ours
            .iter()
            .copied()
            .filter(|n| openssh.iter().any(|o| o == n))
            .collect();
        assert_eq!(ours_known, shared, "ssh -Q {what}");
        assert!(!shared.is_empty(), "ssh -Q {what}");
        for n in &ours {
            assert!(
                openssh.iter().any(|o| o == n) || *n == "mlkem768x25519-sha256",
                "ssh -Q {what}: {n} is not OpenSSH's"
            );
        }
    }
}

#[test]
fn usage_errors_match_openssh() {
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    for args in [vec!["-Z", "h"], vec!["-p"], vec![]] {
        let a = Cmd::new(ours("ssh")).args(&args).run();
        let b = Cmd::new(theirs.clone()).args(&args).run();
        assert_eq!(a.code(), b.code(), "{args:?}");
        assert_eq!(a.stderr_str(), b.stderr_str(), "{args:?}");
    }
}

#[test]
fn bad_config_line_is_reported_as_openssh_does() {
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    let home = TempHome::new();
    let cfg = home.write_ssh_config("Port notanumber\n");
    let a = Cmd::new(ours("ssh"))
        .arg("-F")
        .arg(&cfg)
        .args(["-G", "h"])
        .envs(home.env())
        .run();
    let b = Cmd::new(theirs)
        .arg("-F")
        .arg(&cfg)
        .args(["-G", "h"])
        .envs(home.env())
        .run();
    assert_eq!(a.code(), Some(255));
    assert_eq!(a.code(), b.code());
    assert_eq!(a.stderr_str(), b.stderr_str());
}

#[test]
fn query_lists_key_types_and_signature_algorithms_apart_like_openssh() {
    let q = |what: &str| {
        let out = Cmd::new(ours("ssh")).args(["-Q", what]).run();
        out.assert_success();
        out.stdout_str()
    };
    let plain = q("key-plain");
    assert!(plain.lines().any(|l| l == "ssh-rsa"), "{plain}");
    assert!(!plain.contains("rsa-sha2-"), "{plain}");
    assert!(q("sig").lines().any(|l| l == "rsa-sha2-512"));
    assert!(
        q("key-cert")
            .lines()
            .all(|l| l.ends_with("-cert-v01@openssh.com"))
    );
    assert_eq!(q("HostKeyAlgorithms"), q("key-sig"));
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    let out = Cmd::new(theirs).args(["-Q", "key-plain"]).run();
    let known: Vec<String> = out.stdout_str().lines().map(str::to_owned).collect();
    // OpenSSH also lists DSA, which we do not implement; otherwise the same, in order.
    let theirs: Vec<&String> = known.iter().filter(|l| !l.contains("dss")).collect();
    let ours: Vec<&str> = plain.lines().collect();
    assert_eq!(ours, theirs);
}

#[test]
fn user_or_host_with_shell_characters_is_refused() {
    let home = TempHome::new();
    for args in [
        vec!["-l", "${FOO}", "-G", "somehost"],
        vec!["-G", "x\u{7}y@somehost"],
        vec!["-G", "-l", "-oProxyCommand=x", "somehost"],
    ] {
        let out = Cmd::new(ours("ssh")).args(&args).envs(home.env()).run();
        out.assert_code(255);
        assert_eq!(
            out.stderr_str(),
            "remote username contains invalid characters\r\n",
            "{args:?}"
        );
    }
    let out = Cmd::new(ours("ssh"))
        .args(["-G", "a;b"])
        .envs(home.env())
        .run();
    out.assert_code(255);
    assert_eq!(out.stderr_str(), "hostname contains invalid characters\r\n");
    // A literal User in the configuration is not checked, as in OpenSSH.
    let cfg = home.write_ssh_config("User we{ird}\n");
    let out = Cmd::new(ours("ssh"))
        .args(["-F".as_ref(), cfg.as_os_str(), "-G".as_ref(), "h".as_ref()])
        .envs(home.env())
        .run();
    out.assert_success();
    assert!(out.stdout_str().contains("\nuser we{ird}\n"));
}
