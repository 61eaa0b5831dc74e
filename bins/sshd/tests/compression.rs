//! Packet compression (RFC 4253 §6.2) in our `sshd` against OpenSSH's `ssh`, the
//! reference client: `ssh -C` negotiates `zlib@openssh.com` (delayed until after
//! authentication), megabytes of compressible and incompressible data come back byte
//! for byte, also across rekeys; `Compression no` offers only `none`, as OpenSSH's
//! sshd; and the server's debug log shows the negotiated method and, at the end, the
//! compression statistics.

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, require_openssh};

fn our_sshd(extra: &[&str]) -> Sshd {
    let mut b = Sshd::ours();
    for line in extra {
        b = b.config(*line);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// OpenSSH's ssh with `flags`, `command` remote, `stdin` in; None when it is missing.
fn openssh(
    sshd: &Sshd,
    home: &TempHome,
    flags: &[&str],
    command: &str,
    stdin: &[u8],
) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let mut args: Vec<std::ffi::OsString> = flags.iter().map(Into::into).collect();
    args.extend(sshd.client(home).args());
    args.push(command.into());
    Some(
        Cmd::new(ssh)
            .args(args)
            .stdin(stdin.to_vec())
            .envs(home.env())
            .timeout(std::time::Duration::from_secs(180))
            .run(),
    )
}

/// Log-like text (compresses about 10:1) then bytes that do not compress.
fn mixed_data(text: usize, noise: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(text + noise);
    let mut i = 0u32;
    while v.len() < text {
        v.extend_from_slice(
            format!(
                "Jan  1 00:00:{:02} host sshd[{}]: Accepted publickey for user{i}\n",
                i % 60,
                1000 + i % 7
            )
            .as_bytes(),
        );
        i += 1;
    }
    v.truncate(text);
    let mut x = 0x9e37_79b9u32;
    for _ in 0..noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v
}

fn kex_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("kex: ") && l.contains(" cipher: ") && l.contains(" compression: "))
        .collect()
}

/// OpenSSH's "Transferred: sent N, received M bytes" (ssh -v) as (sent, received).
fn transferred(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Transferred: sent "))?;
    let mut nums = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().unwrap_or(0));
    Some((nums.next()?, nums.next()?))
}

#[test]
fn openssh_dash_c_round_trips_megabytes_with_zlib_openssh_com() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(&[]);
    let home = TempHome::new();
    let data = mixed_data(3 << 20, 1 << 20);
    let Some(out) = openssh(&sshd, &home, &["-C", "-v"], "cat", &data) else {
        return;
    };
    out.assert_success();
    assert!(
        out.stdout == data,
        "round trip differs: {} bytes back of {}",
        out.stdout.len(),
        data.len()
    );
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    assert_eq!(kex.len(), 2, "{err}");
    for l in &kex {
        assert!(l.ends_with(" compression: zlib@openssh.com"), "{l}");
    }
    // OpenSSH's own statistics: what it sent was compressed, and what it received (our
    // deflate) inflated to at least the data.
    assert!(
        err.contains("debug1: compress outgoing: raw data "),
        "{err}"
    );
    assert!(
        err.contains("debug1: compress incoming: raw data "),
        "{err}"
    );
    // Our side: the same negotiation, in OpenSSH's words and order (incoming first),
    // and the statistics when the connection ends.
    let log = sshd.wait_for_log("compress incoming: raw data ");
    let ours = kex_lines(&log);
    assert!(
        ours.first()
            .is_some_and(|l| l.contains("kex: client->server cipher: ")),
        "{log}"
    );
    assert!(
        ours.iter()
            .all(|l| l.ends_with(" compression: zlib@openssh.com")),
        "{log}"
    );
    assert!(log.contains("compress outgoing: raw data "), "{log}");
}

#[test]
fn compression_shrinks_what_goes_over_the_wire() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(&[]);
    let home = TempHome::new();
    let data = mixed_data(2 << 20, 0);
    let mut sent = Vec::new();
    for flag in ["-o Compression=no", "-C"] {
        let flags: Vec<&str> = flag.split(' ').collect();
        let mut all = vec!["-v"];
        all.extend(flags);
        let Some(out) = openssh(&sshd, &home, &all, "cat", &data) else {
            return;
        };
        out.assert_success();
        assert!(
            out.stdout == data,
            "{flag}: {} bytes back",
            out.stdout.len()
        );
        let (s, r) = transferred(&out.stderr_str()).expect("Transferred line");
        sent.push((s, r));
    }
    let (plain, zlib) = (sent[0], sent[1]);
    // Both directions carry the 2 MiB of text: at least 4x less with compression.
    assert!(plain.0 > 2 << 20 && plain.1 > 2 << 20, "{plain:?}");
    assert!(zlib.0 * 4 < plain.0, "sent {zlib:?} vs {plain:?}");
    assert!(zlib.1 * 4 < plain.1, "received {zlib:?} vs {plain:?}");
}

#[test]
fn openssh_dash_c_across_rekeys() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(&["RekeyLimit 512K"]);
    let home = TempHome::new();
    let data = mixed_data(2 << 20, 1 << 20);
    let Some(out) = openssh(
        &sshd,
        &home,
        &["-C", "-v", "-o", "RekeyLimit=256K"],
        "cat",
        &data,
    ) else {
        return;
    };
    out.assert_success();
    assert!(
        out.stdout == data,
        "round trip differs: {} bytes back of {}",
        out.stdout.len(),
        data.len()
    );
    let err = out.stderr_str();
    let rekeys = err.matches("debug1: SSH2_MSG_NEWKEYS received").count();
    assert!(rekeys >= 3, "{rekeys} key exchanges\n{err}");
}

#[test]
fn compression_no_offers_only_none() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(&["Compression no"]);
    let home = TempHome::new();
    let data = mixed_data(256 << 10, 64 << 10);
    let Some(out) = openssh(&sshd, &home, &["-C", "-v"], "cat", &data) else {
        return;
    };
    out.assert_success();
    assert!(out.stdout == data);
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    assert_eq!(kex.len(), 2, "{err}");
    assert!(
        kex.iter().all(|l| l.ends_with(" compression: none")),
        "{err}"
    );
    assert!(!err.contains("compress outgoing"), "{err}");
}

#[test]
fn compression_yes_and_delayed_are_openssh_default_offer() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    for value in ["yes", "delayed"] {
        let sshd = our_sshd(&[&format!("Compression {value}")]);
        let home = TempHome::new();
        let Some(out) = openssh(&sshd, &home, &["-C", "-vv"], "echo ok", b"") else {
            return;
        };
        assert_eq!(out.stdout_str(), "ok\n", "{out}");
        let err = out.stderr_str();
        assert!(
            kex_lines(&err)
                .iter()
                .all(|l| l.ends_with(" compression: zlib@openssh.com")),
            "{value}: {err}"
        );
        // The server's KEXINIT offers exactly OpenSSH's KEX_DEFAULT_COMP.
        assert!(
            err.lines()
                .any(|l| l == "debug2: compression ctos: none,zlib@openssh.com"),
            "{value}: {err}"
        );
    }
}

#[test]
fn openssh_without_dash_c_negotiates_none() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(&[]);
    let home = TempHome::new();
    let Some(out) = openssh(&sshd, &home, &["-v"], "echo ok", b"") else {
        return;
    };
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    assert_eq!(kex.len(), 2, "{err}");
    assert!(
        kex.iter().all(|l| l.ends_with(" compression: none")),
        "{err}"
    );
}
