//! `-Y` signatures, allowed_signers, KRLs and SSHFP against OpenSSH: signatures each
//! makes are verified by the other with the same output and exit status, a table of
//! allowed_signers lines gives the same verdicts, KRLs each writes are read by the
//! other with the same results, and SSHFP records are byte-identical.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use oxssh_testkit::{Cmd, Output, TempHome, ours, require_openssh};

fn run(bin: &Path, args: &[&str], stdin: &[u8]) -> Output {
    Cmd::new(bin)
        .args(args)
        .stdin(stdin.to_vec())
        .env("TZ", "UTC")
        .env_remove("SSH_AUTH_SOCK")
        .run()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn keygen(bin: &Path, t: &str, f: &str) {
    run(bin, &["-q", "-N", "", "-t", t, "-C", "c", "-f", f], b"").assert_success();
}

fn same(a: &Output, b: &Output, what: &str) {
    assert_eq!(a.code(), b.code(), "exit status: {what}");
    assert_eq!(a.stdout_str(), b.stdout_str(), "stdout: {what}");
}

const MSG: &[u8] = b"the message\n";

#[test]
fn signatures_verify_both_ways() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for t in ["ed25519", "ecdsa", "rsa"] {
        let key = p(d, &format!("k_{t}"));
        keygen(&theirs, t, &key);
        let pubkey = std::fs::read_to_string(format!("{key}.pub")).unwrap();
        let allowed = p(d, &format!("allowed_{t}"));
        std::fs::write(&allowed, format!("me@example.com {pubkey}")).unwrap();
        for (signer, who) in [(&mine, "ours"), (&theirs, "theirs")] {
            for h in [None, Some("hashalg=sha256")] {
                let mut args = vec!["-Y", "sign", "-f", &key, "-n", "file"];
                if let Some(h) = h {
                    args.extend(["-O", h]);
                }
                let sig = run(signer, &args, MSG);
                sig.assert_success();
                let sigfile = p(d, &format!("{who}_{t}.sig"));
                std::fs::write(&sigfile, &sig.stdout).unwrap();
                for (args, input) in [
                    (
                        vec![
                            "-Y",
                            "verify",
                            "-f",
                            &allowed,
                            "-I",
                            "me@example.com",
                            "-n",
                            "file",
                            "-s",
                            &sigfile,
                        ],
                        MSG,
                    ),
                    (
                        vec![
                            "-Y",
                            "verify",
                            "-f",
                            &allowed,
                            "-I",
                            "me@example.com",
                            "-n",
                            "file",
                            "-s",
                            &sigfile,
                            "-O",
                            "print-pubkey",
                        ],
                        MSG,
                    ),
                    (
                        vec![
                            "-Y",
                            "verify",
                            "-f",
                            &allowed,
                            "-I",
                            "me@example.com",
                            "-n",
                            "git",
                            "-s",
                            &sigfile,
                        ],
                        MSG,
                    ),
                    (
                        vec![
                            "-Y",
                            "verify",
                            "-f",
                            &allowed,
                            "-I",
                            "me@example.com",
                            "-n",
                            "file",
                            "-s",
                            &sigfile,
                        ],
                        b"other data\n",
                    ),
                    (
                        vec!["-Y", "check-novalidate", "-n", "file", "-s", &sigfile],
                        MSG,
                    ),
                    (
                        vec!["-Y", "find-principals", "-f", &allowed, "-s", &sigfile],
                        b"",
                    ),
                ] {
                    let a = run(&theirs, &args, input);
                    let b = run(&mine, &args, input);
                    same(&a, &b, &format!("{who} {t} {h:?} {args:?}"));
                }
            }
        }
        // Ed25519 signatures are deterministic: the files are byte-identical.
        if t == "ed25519" {
            assert_eq!(
                std::fs::read(p(d, "ours_ed25519.sig")).unwrap(),
                std::fs::read(p(d, "theirs_ed25519.sig")).unwrap()
            );
        }
    }
}

#[test]
fn allowed_signers_rules_match_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let key = p(d, "k");
    let ca = p(d, "ca");
    keygen(&theirs, "ed25519", &key);
    keygen(&theirs, "ed25519", &ca);
    let pubkey = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let capub = std::fs::read_to_string(format!("{ca}.pub")).unwrap();
    // A certificate for the key, and signatures by the plain key and by the certificate.
    run(
        &theirs,
        &[
            "-q",
            "-s",
            &ca,
            "-I",
            "cert",
            "-n",
            "alice@example.com,bob@example.com",
            "-V",
            "20200101:20300101",
            &key,
        ],
        b"",
    )
    .assert_success();
    let plain_sig = p(d, "plain.sig");
    let cert_sig = p(d, "cert.sig");
    let out = run(&mine, &["-Y", "sign", "-f", &key, "-n", "file"], MSG);
    std::fs::write(&plain_sig, &out.stdout).unwrap();
    let out = run(
        &mine,
        &["-Y", "sign", "-f", &format!("{key}-cert.pub"), "-n", "file"],
        MSG,
    );
    out.assert_success();
    std::fs::write(&cert_sig, &out.stdout).unwrap();
    let lines = [
        format!("alice@example.com {pubkey}"),
        format!("*@example.com {pubkey}"),
        format!("alice@example.com,!alice@example.com {pubkey}"),
        format!("alice@example.com namespaces=\"git,file\" {pubkey}"),
        format!("alice@example.com namespaces=\"git\" {pubkey}"),
        format!("alice@example.com valid-after=\"20990101\" {pubkey}"),
        format!("alice@example.com valid-before=\"20100101Z\" {pubkey}"),
        format!("alice@example.com valid-after=\"20100101\",valid-before=\"20990101\" {pubkey}"),
        format!("alice@example.com octopus {pubkey}"),
        format!("alice@example.com cert-authority {capub}"),
        format!("*@example.com cert-authority,namespaces=\"file\" {capub}"),
        format!("alice@example.com {capub}"),
        "alice@example.com".to_owned(),
        format!("\"alice@example.com\" {pubkey}"),
    ];
    for line in &lines {
        let allowed = p(d, "allowed");
        std::fs::write(&allowed, format!("# test\n{line}")).unwrap();
        for sig in [&plain_sig, &cert_sig] {
            for verify_time in [
                None,
                Some("verify-time=20250101"),
                Some("verify-time=20350101"),
            ] {
                let mut v = vec![
                    "-Y",
                    "verify",
                    "-f",
                    &allowed,
                    "-I",
                    "alice@example.com",
                    "-n",
                    "file",
                    "-s",
                    sig,
                ];
                let mut f = vec!["-Y", "find-principals", "-f", &allowed, "-s", sig];
                if let Some(t) = verify_time {
                    v.extend(["-O", t]);
                    f.extend(["-O", t]);
                }
                same(
                    &run(&theirs, &v, MSG),
                    &run(&mine, &v, MSG),
                    &format!("{line} {v:?}"),
                );
                same(
                    &run(&theirs, &f, b""),
                    &run(&mine, &f, b""),
                    &format!("{line} {f:?}"),
                );
            }
        }
        for who in ["alice@example.com", "bob@example.com", "nobody"] {
            let m = ["-Y", "match-principals", "-f", &allowed, "-I", who];
            same(
                &run(&theirs, &m, b""),
                &run(&mine, &m, b""),
                &format!("{line} {m:?}"),
            );
        }
    }
}

#[test]
fn krls_are_read_by_both() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let ca = p(d, "ca");
    keygen(&theirs, "ed25519", &ca);
    let mut keys = Vec::new();
    for (i, t) in ["ed25519", "ecdsa", "rsa", "ed25519", "ed25519", "ed25519"]
        .iter()
        .enumerate()
    {
        let k = p(d, &format!("k{i}"));
        keygen(&theirs, t, &k);
        let serial = (i * 10).to_string();
        run(
            &theirs,
            &["-q", "-s", &ca, "-I", &format!("id {i}"), "-z", &serial, &k],
            b"",
        )
        .assert_success();
        keys.push(k);
    }
    let spec = p(d, "spec");
    let key1 = std::fs::read_to_string(format!("{}.pub", keys[1])).unwrap();
    let fp2 = run(&theirs, &["-lf", &format!("{}.pub", keys[2])], b"").stdout_str();
    let hash2 = fp2.split_whitespace().nth(1).unwrap().to_owned();
    std::fs::write(
        &spec,
        format!("serial: 30-40\nid: id 5\n# comment\nsha256: {key1}hash: {hash2}\nserial: 0x05\n"),
    )
    .unwrap();
    let k0pub = format!("{}.pub", keys[0]);
    let k4cert = format!("{}-cert.pub", keys[4]);
    for (maker, reader, who) in [
        (&mine, &theirs, "ours->theirs"),
        (&theirs, &mine, "theirs->ours"),
    ] {
        let krl = p(d, &format!("krl-{who}"));
        let out = run(
            maker,
            &[
                "-k",
                "-f",
                &krl,
                "-s",
                &format!("{ca}.pub"),
                "-z",
                "7",
                &spec,
                &k0pub,
                &k4cert,
            ],
            b"",
        );
        out.assert_success();
        // `-Q -l` dumps the KRL the same way.
        let a = run(reader, &["-Q", "-l", "-f", &krl], b"");
        let b = run(maker, &["-Q", "-l", "-f", &krl], b"");
        same(&a, &b, &format!("{who} dump"));
        for k in &keys {
            for f in [format!("{k}.pub"), format!("{k}-cert.pub")] {
                let q = ["-Q", "-f", &krl, &f];
                let a = run(reader, &q, b"");
                let b = run(maker, &q, b"");
                same(&a, &b, &format!("{who} {f}"));
            }
        }
    }
    // Updating needs an existing KRL; a missing CA needs -s.
    let missing = p(d, "missing-krl");
    let a = run(&theirs, &["-k", "-u", "-f", &missing, &k0pub], b"");
    let b = run(&mine, &["-k", "-u", "-f", &missing, &k0pub], b"");
    same(&a, &b, "update missing");
    assert_eq!(a.stderr_str(), b.stderr_str());
    let a = run(&theirs, &["-k", "-f", &p(d, "x"), &spec], b"");
    let b = run(&mine, &["-k", "-f", &p(d, "y"), &spec], b"");
    assert_eq!(a.code(), b.code());
    assert_eq!(a.stderr_str(), b.stderr_str());
}

#[test]
fn sshfp_records_are_identical() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for t in ["ed25519", "ecdsa", "rsa", "dsa"] {
        let k = p(d, t);
        keygen(&theirs, t, &k);
        for g in [&[][..], &["-g"][..]] {
            let mut args = vec!["-r", "host.example.com", "-f", &k];
            args.extend_from_slice(g);
            let a = run(&theirs, &args, b"");
            let b = run(&mine, &args, b"");
            same(&a, &b, t);
        }
    }
    let missing = p(d, "missing");
    let a = run(&theirs, &["-r", "h", "-f", &missing], b"");
    let b = run(&mine, &["-r", "h", "-f", &missing], b"");
    same(&a, &b, "missing");
    assert_eq!(a.stderr_str(), b.stderr_str());
}
