//! Certificates against OpenSSH: certificates we sign are listed by OpenSSH's
//! `ssh-keygen -L` exactly as by ours and accepted by OpenSSH's sshd
//! (`TrustedUserCAKeys`); certificates OpenSSH signs are listed identically by our
//! `-L`; bad options get OpenSSH's messages and exit status.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use oxssh_testkit::{Cmd, Output, Sshd, TempHome, ours, require_openssh};

fn run(bin: &Path, args: &[&str]) -> Output {
    Cmd::new(bin).args(args).env("TZ", "Europe/Berlin").run()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn keygen(bin: &Path, t: &str, f: &str) {
    run(bin, &["-q", "-N", "", "-t", t, "-C", "c", "-f", f]).assert_success();
}

const SIGN_CASES: &[&[&str]] = &[
    &["-I", "plain"],
    &[
        "-I",
        "my id",
        "-n",
        "alice,bob",
        "-z",
        "42",
        "-V",
        "20200101:20300101123456",
    ],
    &[
        "-I",
        "opts",
        "-V",
        "-1d:+2w",
        "-O",
        "clear",
        "-O",
        "force-command=/bin/true",
        "-O",
        "source-address=10.0.0.0/8,::1",
        "-O",
        "permit-pty",
        "-O",
        "critical:custom=val",
        "-O",
        "extension:zzz@example.com",
        "-O",
        "verify-required",
    ],
    &[
        "-I",
        "host",
        "-h",
        "-n",
        "*.example.com",
        "-V",
        "always:20991231",
    ],
    &[
        "-I",
        "after",
        "-V",
        "20240601:forever",
        "-O",
        "no-x11-forwarding",
    ],
];

/// Replace every `YYYY-MM-DDTHH:MM:SS` with `<time>`.
fn mask_times(s: &str) -> String {
    let shape = |w: &[u8]| {
        w.len() == 19
            && w.iter().enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                10 => c == b'T',
                13 | 16 => c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b.get(i..i + 19).is_some_and(shape) {
            out.push_str("<time>");
            i += 19;
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    out
}

#[test]
fn listings_match_openssh_both_ways() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for (ca_t, user_t) in [
        ("ed25519", "ecdsa"),
        ("rsa", "ed25519"),
        ("ecdsa", "rsa"),
        ("dsa", "dsa"),
    ] {
        let ca = p(d, &format!("ca-{ca_t}"));
        keygen(&theirs, ca_t, &ca);
        for (i, case) in SIGN_CASES.iter().enumerate() {
            for (signer, who) in [(&mine, "ours"), (&theirs, "theirs")] {
                let key = p(d, &format!("{who}-{ca_t}-{i}"));
                keygen(&theirs, user_t, &key);
                let mut args: Vec<&str> = vec!["-s", &ca];
                args.extend_from_slice(case);
                args.push(&key);
                let signed = run(signer, &args);
                signed.assert_success();
                let cert = format!("{key}-cert.pub");
                let a = run(&theirs, &["-L", "-f", &cert]);
                let b = run(&mine, &["-L", "-f", &cert]);
                a.assert_success();
                assert_eq!(a.stdout_str(), b.stdout_str(), "{who} {ca_t} {case:?}");
                assert_eq!(b.code(), Some(0));
                if who == "ours" {
                    // Same message as OpenSSH's for the same request.
                    let again = run(&theirs, &args);
                    // The validity times are relative to the second each tool ran in.
                    assert_eq!(
                        mask_times(&signed.stderr_str()),
                        mask_times(&again.stderr_str())
                    );
                }
            }
        }
    }
}

#[test]
fn rsa_ca_signature_algorithm_follows_t() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let ca = p(d, "ca");
    let key = p(d, "key");
    keygen(&theirs, "rsa", &ca);
    keygen(&theirs, "ed25519", &key);
    for (t, want) in [
        (None, "rsa-sha2-512"),
        (Some("rsa-sha2-256"), "rsa-sha2-256"),
        (Some("ssh-rsa"), "ssh-rsa"),
    ] {
        let mut args = vec!["-q", "-s", &ca, "-I", "x"];
        if let Some(t) = t {
            args.extend(["-t", t]);
        }
        args.push(&key);
        run(&mine, &args).assert_success();
        let out = run(&theirs, &["-L", "-f", &format!("{key}-cert.pub")]);
        assert!(out.stdout_str().contains(&format!("(using {want})")));
    }
    let out = run(&mine, &["-s", &ca, "-I", "x", "-t", "ed25519", &key]);
    out.assert_code(255);
    assert!(
        out.stderr_str()
            .contains("CA key type ssh-rsa doesn't match specified ed25519")
    );
}

#[test]
fn bad_options_fail_like_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let ca = p(d, "ca");
    let key = p(d, "key");
    keygen(&theirs, "ed25519", &ca);
    keygen(&theirs, "ed25519", &key);
    for extra in [
        &["-V", "20300101:20200101"][..],
        &["-V", "bogus"],
        &["-V", "+1x"],
        &["-z", "-3"],
        &["-O", "nonsense"],
        &["-O", "source-address=not-an-address"],
        &["-O", "source-address=10.0.0.1/8"],
        &["-O", "source-address=10.0.0.0/8,,::1"],
        &["-O", "force-command="],
        &["-n", "a,,b"],
    ] {
        let mut args = vec!["-s", &ca, "-I", "x"];
        args.extend_from_slice(extra);
        args.push(&key);
        let a = run(&theirs, &args);
        let b = run(&mine, &args);
        assert_eq!(a.code(), b.code(), "{extra:?}");
        assert_eq!(a.stderr_str(), b.stderr_str(), "{extra:?}");
    }
    // -L of a plain key, and of a missing file.
    for f in [format!("{key}.pub"), p(d, "missing")] {
        let a = run(&theirs, &["-L", "-f", &f]);
        let b = run(&mine, &["-L", "-f", &f]);
        assert_eq!(a.code(), b.code());
        assert_eq!(a.stderr_str(), b.stderr_str());
    }
}

fn whoami() -> String {
    Cmd::new("id")
        .arg("-un")
        .run()
        .stdout_str()
        .trim()
        .to_owned()
}

#[test]
fn openssh_sshd_accepts_our_user_certificates() {
    let ssh = require_openssh!("ssh");
    let _sshd_bin = require_openssh!("sshd");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let ca = p(d, "user_ca");
    keygen(&mine, "rsa", &ca);
    let user = whoami();
    let empty = p(d, "empty_authorized_keys");
    std::fs::write(&empty, "").unwrap();
    let sshd = Sshd::openssh()
        .config(format!("TrustedUserCAKeys {ca}.pub"))
        .authorized_keys_file(&empty)
        .inetd();
    for (t, principals, opts, ok) in [
        ("ed25519", user.clone(), vec![], true),
        (
            "ecdsa",
            format!("nobody,{user}"),
            vec!["-V", "-5m:+1h"],
            true,
        ),
        ("rsa", user.clone(), vec!["-t", "rsa-sha2-256"], true),
        ("ed25519", "somebody-else".to_owned(), vec![], false),
        (
            "ed25519",
            user.clone(),
            vec!["-V", "20100101:20110101"],
            false,
        ),
    ] {
        let key = p(d, &format!("id_{t}_{ok}"));
        let _ = std::fs::remove_file(&key);
        keygen(&mine, t, &key);
        let mut args = vec!["-q", "-s", &ca, "-I", "test", "-n", &principals];
        args.extend(opts.iter().copied());
        args.push(&key);
        run(&mine, &args).assert_success();
        let mut a = sshd.client(&home).no_identity().args();
        let mut full: Vec<std::ffi::OsString> = vec![
            "-o".into(),
            format!("IdentityFile={key}").into(),
            "-o".into(),
            format!("CertificateFile={key}-cert.pub").into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
        ];
        full.append(&mut a);
        full.push("echo cert-ok".into());
        let out = Cmd::new(&ssh).args(full).envs(home.env()).run();
        if ok {
            out.assert_success();
            assert_eq!(out.stdout_str(), "cert-ok\n", "{t} {principals}");
        } else {
            assert_ne!(out.code(), Some(0), "{t} {principals} should be refused");
        }
    }
}

#[test]
fn fingerprints_of_certificates_match_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let ca = p(d, "ca");
    keygen(&theirs, "ed25519", &ca);
    for t in ["ecdsa", "rsa", "ed25519"] {
        let key = p(d, t);
        keygen(&theirs, t, &key);
        run(&mine, &["-q", "-s", &ca, "-I", "x", &key]).assert_success();
        let cert = format!("{key}-cert.pub");
        for flags in ["-lf", "-lvf", "-Bf", "-lEmd5f"] {
            let a = run(&theirs, &[flags, &cert]);
            let b = run(&mine, &[flags, &cert]);
            assert_eq!(a.stdout_str(), b.stdout_str(), "{t} {flags}");
            assert_eq!(a.code(), b.code());
        }
    }
}

/// Stops an OpenSSH ssh-agent started for a test.
struct AgentGuard {
    bin: std::path::PathBuf,
    pid: String,
    sock: String,
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        Cmd::new(&self.bin)
            .arg("-k")
            .env("SSH_AGENT_PID", &self.pid)
            .env("SSH_AUTH_SOCK", &self.sock)
            .run();
    }
}

#[test]
fn ca_key_and_signing_key_in_openssh_agent() {
    let theirs = require_openssh!("ssh-keygen");
    let agent_bin = require_openssh!("ssh-agent");
    let add = require_openssh!("ssh-add");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let sock = p(d, "agent.sock");
    let out = Cmd::new(&agent_bin).args(["-s", "-a", &sock]).run();
    out.assert_success();
    let text = out.stdout_str();
    let pid = text
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_owned();
    let _guard = AgentGuard {
        bin: agent_bin,
        pid,
        sock: sock.clone(),
    };
    let ca = p(d, "ca");
    let key = p(d, "key");
    keygen(&theirs, "rsa", &ca);
    keygen(&theirs, "ed25519", &key);
    Cmd::new(&add)
        .arg(&ca)
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .run()
        .assert_success();
    let capub = format!("{ca}.pub");
    let keypub = format!("{key}.pub");
    let signed = Cmd::new(&mine)
        .args([
            "-q",
            "-U",
            "-s",
            &capub,
            "-I",
            "agent",
            "-t",
            "rsa-sha2-256",
            &keypub,
        ])
        .env("SSH_AUTH_SOCK", &sock)
        .run();
    signed.assert_success();
    let listing = run(&theirs, &["-L", "-f", &format!("{key}-cert.pub")]);
    listing.assert_success();
    assert!(listing.stdout_str().contains("(using rsa-sha2-256)"));
    // Without the agent, -U fails as OpenSSH's does.
    let no_agent = Cmd::new(&mine)
        .args(["-q", "-U", "-s", &keypub, "-I", "x", &capub])
        .env_remove("SSH_AUTH_SOCK")
        .run();
    assert_eq!(no_agent.code(), Some(255));
    // -Y sign with only the public key: the agent signs.
    std::fs::remove_file(&key).unwrap();
    let sig = Cmd::new(&mine)
        .args(["-Y", "sign", "-f", &keypub, "-n", "file"])
        .stdin(b"data".to_vec())
        .env("SSH_AUTH_SOCK", &sock)
        .run();
    sig.assert_success();
    let sigfile = p(d, "agent.sig");
    std::fs::write(&sigfile, &sig.stdout).unwrap();
    let check = Cmd::new(&theirs)
        .args(["-Y", "check-novalidate", "-n", "file", "-s", &sigfile])
        .stdin(b"data".to_vec())
        .run();
    check.assert_success();
}
