//! Our ssh-keygen against OpenSSH's: keys each writes are read by the other (plain,
//! encrypted, PEM), fingerprints, randomart and bubblebabble are byte-identical,
//! known_hosts edits give the same files and output, and bad input gets OpenSSH's
//! message and exit status. Tests skip (or fail under CI=true) without OpenSSH.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use oxssh_testkit::{Cmd, Output, TempHome, ours, require_openssh};

fn run(bin: &Path, args: &[&str]) -> Output {
    Cmd::new(bin).args(args).run()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

const TYPES: &[(&str, &str)] = &[
    ("ed25519", ""),
    ("ecdsa", "256"),
    ("ecdsa", "384"),
    ("ecdsa", "521"),
    ("rsa", "2048"),
    ("dsa", "1024"),
];

fn gen_args<'a>(t: &'a str, bits: &'a str, pass: &'a str, file: &'a str) -> Vec<&'a str> {
    let mut v = vec!["-q", "-t", t, "-N", pass, "-C", "some comment", "-f", file];
    if !bits.is_empty() {
        v.extend(["-b", bits]);
    }
    v
}

fn pub_no_comment(path: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let f: Vec<&str> = text.split_whitespace().take(2).collect();
    f.join(" ")
}

#[test]
fn keys_we_write_are_read_by_openssh_and_back() {
    let theirs: PathBuf = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for (t, bits) in TYPES {
        for pass in ["", "hunter2"] {
            let name = format!("ours-{t}{bits}-{}", pass.len());
            let f = p(d, &name);
            run(&mine, &gen_args(t, bits, pass, &f)).assert_success();
            let out = run(&theirs, &["-y", "-P", pass, "-f", &f]);
            out.assert_success();
            let line = out.stdout_str();
            let want = std::fs::read_to_string(format!("{f}.pub")).unwrap();
            assert_eq!(line, want, "{name}: OpenSSH -y differs from our .pub");

            let name = format!("theirs-{t}{bits}-{}", pass.len());
            let f = p(d, &name);
            run(&theirs, &gen_args(t, bits, pass, &f)).assert_success();
            let out = run(&mine, &["-y", "-P", pass, "-f", &f]);
            out.assert_success();
            let want = std::fs::read_to_string(format!("{f}.pub")).unwrap();
            assert_eq!(
                out.stdout_str(),
                want,
                "{name}: our -y differs from OpenSSH's .pub"
            );
        }
    }
}

#[test]
fn fingerprints_randomart_and_bubblebabble_match_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for (t, bits) in TYPES {
        let f = p(d, &format!("k-{t}{bits}"));
        run(&theirs, &gen_args(t, bits, "", &f)).assert_success();
        let pubf = format!("{f}.pub");
        for args in [
            vec!["-l", "-f", &f],
            vec!["-l", "-f", &pubf],
            vec!["-lv", "-f", &pubf],
            vec!["-l", "-E", "md5", "-f", &pubf],
            vec!["-lv", "-E", "md5", "-f", &f],
            vec!["-B", "-f", &pubf],
        ] {
            let a = run(&mine, &args);
            let b = run(&theirs, &args);
            assert_eq!(a.stdout_str(), b.stdout_str(), "{args:?}");
            assert_eq!(a.code(), b.code(), "{args:?}");
        }
    }
}

#[test]
fn generation_output_matches_openssh_for_the_same_key() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let f = p(home.path(), "id");
    let out = run(&mine, &["-t", "ed25519", "-N", "", "-C", "x@y", "-f", &f]);
    out.assert_success();
    let fpv = run(&theirs, &["-lv", "-f", &format!("{f}.pub")]).stdout_str();
    let mut lines = fpv.lines();
    let first = lines.next().unwrap();
    let fpr = first.split(' ').nth(1).unwrap();
    let art: Vec<&str> = lines.collect();
    let want = format!(
        "Generating public/private ed25519 key pair.\nYour identification has been saved in {f}\n\
         Your public key has been saved in {f}.pub\nThe key fingerprint is:\n{fpr} x@y\n\
         The key's randomart image is:\n{}\n",
        art.join("\n")
    );
    assert_eq!(out.stdout_str(), want);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f), 0o600);
    assert_eq!(mode(&format!("{f}.pub")), 0o644);

    // Existing file: OpenSSH's question, and "n" keeps the old key (exit 1).
    let before = std::fs::read(&f).unwrap();
    let out = Cmd::new(&mine)
        .args(["-t", "ed25519", "-N", "", "-f", &f])
        .stdin("n\n")
        .run();
    out.assert_code(1);
    assert_eq!(
        out.stdout_str(),
        format!(
            "Generating public/private ed25519 key pair.\n{f} already exists.\nOverwrite (y/n)? "
        )
    );
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn bad_input_gets_openssh_messages() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let f = p(d, "enc");
    run(&theirs, &["-q", "-t", "ed25519", "-N", "right", "-f", &f]).assert_success();
    let trunc = p(d, "trunc");
    let data = std::fs::read(&f).unwrap();
    std::fs::write(&trunc, &data[..data.len() / 2]).unwrap();
    let open = p(d, "open");
    std::fs::copy(&f, &open).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&trunc, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let missing = p(d, "missing");
    for args in [
        vec!["-y", "-P", "wrong", "-f", &f],
        vec!["-y", "-P", "right", "-f", &open],
        vec!["-y", "-f", &trunc],
        vec!["-y", "-f", &missing],
        vec!["-p", "-P", "wrong", "-N", "x", "-f", &f],
        vec!["-t", "ecdsa", "-b", "100", "-f", &missing],
        vec!["-t", "nope", "-f", &missing],
        vec!["-E", "sha1", "-l", "-f", &f],
    ] {
        let a = run(&mine, &args);
        let b = run(&theirs, &args);
        assert_eq!(a.stderr_str(), b.stderr_str(), "{args:?}");
        assert_eq!(a.code(), b.code(), "{args:?}");
    }
}

#[test]
fn passphrase_and_comment_changes_are_read_by_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let f = p(home.path(), "k");
    run(
        &theirs,
        &["-q", "-t", "ecdsa", "-N", "one", "-C", "old", "-f", &f],
    )
    .assert_success();
    let out = run(
        &mine,
        &[
            "-p",
            "-P",
            "one",
            "-N",
            "two",
            "-a",
            "4",
            "-Z",
            "aes128-ctr",
            "-f",
            &f,
        ],
    );
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "Key has comment 'old'\nYour identification has been saved with the new passphrase.\n"
    );
    run(&theirs, &["-y", "-P", "two", "-f", &f]).assert_success();
    let out = run(&mine, &["-c", "-P", "two", "-C", "new", "-f", &f]);
    assert_eq!(
        out.stdout_str(),
        "Old comment: old\nComment 'new' applied\n"
    );
    let l = run(&theirs, &["-l", "-f", &f]).stdout_str();
    assert!(l.contains(" new (ECDSA)"), "{l}");
}

#[test]
fn export_import_and_pem_interoperate() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    for (t, bits) in TYPES {
        let f = p(d, &format!("k-{t}{bits}"));
        run(&theirs, &gen_args(t, bits, "", &f)).assert_success();
        let a = run(&mine, &["-e", "-f", &f]);
        let b = run(&theirs, &["-e", "-f", &f]);
        assert_eq!(a.stdout_str(), b.stdout_str(), "{t}{bits} -e");
        let rfc = p(d, "rfc");
        std::fs::write(&rfc, b.stdout_str()).unwrap();
        let i = run(&mine, &["-i", "-f", &rfc]);
        assert_eq!(
            i.stdout_str(),
            format!("{}\n", pub_no_comment(&format!("{f}.pub")))
        );
        if *t == "rsa" || *t == "ecdsa" {
            for m in ["PEM", "PKCS8"] {
                let e = p(d, &format!("pem-{t}{bits}-{m}"));
                run(
                    &mine,
                    &["-q", "-m", m, "-t", t, "-b", bits, "-N", "", "-f", &e],
                )
                .assert_success();
                let y = run(&theirs, &["-y", "-f", &e]);
                y.assert_success();
                assert_eq!(y.stdout_str().trim(), pub_no_comment(&format!("{e}.pub")));
                let a = run(&mine, &["-e", "-m", m, "-f", &e]);
                let b = run(&theirs, &["-e", "-m", m, "-f", &e]);
                assert_eq!(a.stdout_str(), b.stdout_str(), "{t}{bits} -e -m {m}");
                let o = p(d, &format!("theirs-pem-{t}{bits}-{m}"));
                run(
                    &theirs,
                    &["-q", "-m", m, "-t", t, "-b", bits, "-N", "", "-f", &o],
                )
                .assert_success();
                let a = run(&mine, &["-l", "-f", &o]);
                let b = run(&theirs, &["-l", "-f", &o]);
                assert_eq!(a.stdout_str(), b.stdout_str());
            }
        }
    }
}

const KH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyGSvJ8MLnw+4VXLqSRe1djb/nckw6cUjDzNkmIcRxw";

#[test]
fn known_hosts_find_remove_hash_match_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let text = format!(
        "# comment\nhost-a {KH_KEY} c1\n\n@cert-authority host-a {KH_KEY}\n\
         @revoked host-b {KH_KEY}\nhost-e* {KH_KEY}\nhost-f,host-g,host-h {KH_KEY}\n[host-p]:2222 {KH_KEY}\n"
    );
    for host in [
        "host-a",
        "host-b",
        "host-e.x",
        "host-g",
        "[host-p]:2222",
        "nowhere",
    ] {
        for extra in [&[][..], &["-q"][..]] {
            let f = p(d, "kh");
            std::fs::write(&f, &text).unwrap();
            let mut args = extra.to_vec();
            args.extend(["-f", &f, "-F", host]);
            let a = run(&mine, &args);
            let b = run(&theirs, &args);
            assert_eq!(a.stdout_str(), b.stdout_str(), "{args:?}");
            assert_eq!(a.code(), b.code(), "{args:?}");
        }
        let (fa, fb) = (p(d, "kh-a"), p(d, "kh-b"));
        std::fs::write(&fa, &text).unwrap();
        std::fs::write(&fb, &text).unwrap();
        let a = run(&mine, &["-f", &fa, "-R", host]);
        let b = run(&theirs, &["-f", &fb, "-R", host]);
        assert_eq!(
            a.stdout_str().replace("kh-a", "kh-b"),
            b.stdout_str(),
            "-R {host}"
        );
        assert_eq!(
            a.stderr_str().replace("kh-a", "kh-b"),
            b.stderr_str(),
            "-R {host}"
        );
        assert_eq!(a.code(), b.code());
        assert_eq!(
            std::fs::read_to_string(&fa).unwrap(),
            std::fs::read_to_string(&fb).unwrap()
        );
    }
    // Hashing: same shape, and OpenSSH finds every name in our hashed file.
    let f = p(d, "kh-h");
    std::fs::write(&f, &text).unwrap();
    run(&mine, &["-q", "-f", &f, "-H"]).assert_success();
    assert_eq!(std::fs::read_to_string(format!("{f}.old")).unwrap(), text);
    let hashed = std::fs::read_to_string(&f).unwrap();
    assert!(!hashed.contains("host-g"));
    for host in ["host-a", "host-f", "host-g", "host-h", "[host-p]:2222"] {
        run(&theirs, &["-q", "-f", &f, "-F", host]).assert_success();
    }
}
