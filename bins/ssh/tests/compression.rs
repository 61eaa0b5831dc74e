//! Packet compression (RFC 4253 §6.2) in our `ssh` against OpenSSH's `sshd`, the
//! reference server: `-C` / `Compression yes` negotiates OpenSSH's delayed
//! `zlib@openssh.com`, moves megabytes of compressible and incompressible data byte
//! for byte (also across rekeys, where both sides restart their zlib streams), and
//! `-v` shows what OpenSSH's client shows: the negotiated method per direction and the
//! compression statistics at exit. Also `ssh -Q compression` and what is proposed
//! without `-C` and against `Compression no`.

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, ours, require_openssh};

fn openssh_sshd(extra: &[&str]) -> Option<Sshd> {
    require_openssh("sshd")?;
    let mut b = Sshd::openssh();
    for line in extra {
        b = b.config(*line);
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    Some(sshd)
}

/// Our ssh with `flags` (e.g. `-C`, `-v`) and `-o` options, `command` remote, `stdin` in.
fn ssh(sshd: &Sshd, home: &TempHome, flags: &[&str], command: &str, stdin: &[u8]) -> Output {
    let mut args: Vec<std::ffi::OsString> = flags.iter().map(Into::into).collect();
    args.extend(sshd.client(home).args());
    args.push(command.into());
    Cmd::new(ours("ssh"))
        .args(args)
        .stdin(stdin.to_vec())
        .envs(home.env())
        .timeout(std::time::Duration::from_secs(180))
        .run()
}

/// Directory-listing-like text (compresses about 10:1) then bytes that do not compress.
fn mixed_data(text: usize, noise: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(text + noise);
    let mut i = 0u32;
    while v.len() < text {
        v.extend_from_slice(
            format!(
                "-rw-r--r-- 1 root root {:>6} Jan  1 00:00 /usr/share/doc/pkg{i}/README\n",
                i * 37
            )
            .as_bytes(),
        );
        i += 1;
    }
    v.truncate(text);
    let mut x = 0x2545_f491u32;
    for _ in 0..noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v
}

/// The `(raw, compressed)` numbers of a "compress outgoing/incoming" line of `-v`.
fn stats(stderr: &str, dir: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("debug1: compress {dir}: raw data ")))?;
    let mut nums = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .skip(1) // the 1 of "debug1"
        .map(|s| s.parse::<u64>().unwrap_or(0));
    Some((nums.next()?, nums.next()?))
}

fn kex_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("debug1: kex: ") && l.contains(" cipher: "))
        .collect()
}

#[test]
fn dash_q_compression_lists_what_openssh_lists() {
    let ours = Cmd::new(ours("ssh")).args(["-Q", "compression"]).run();
    ours.assert_success();
    assert_eq!(ours.stdout_str(), "none\nzlib@openssh.com\nzlib\n");
    if let Some(theirs) = require_openssh("ssh") {
        let theirs = Cmd::new(theirs).args(["-Q", "compression"]).run();
        assert_eq!(ours.stdout_str(), theirs.stdout_str());
    }
}

#[test]
fn dash_c_against_openssh_sshd_round_trips_megabytes_with_zlib_openssh_com() {
    let Some(sshd) = openssh_sshd(&[]) else {
        return;
    };
    let home = TempHome::new();
    let data = mixed_data(3 << 20, 1 << 20);
    let out = ssh(&sshd, &home, &["-C", "-v"], "cat", &data);
    out.assert_success();
    assert!(
        out.stdout == data,
        "round trip differs: {} bytes back of {}",
        out.stdout.len(),
        data.len()
    );
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    // OpenSSH's order for a client: the incoming direction first.
    assert_eq!(kex.len(), 2, "{err}");
    assert!(
        kex[0].starts_with("debug1: kex: server->client cipher: "),
        "{err}"
    );
    assert!(
        kex[1].starts_with("debug1: kex: client->server cipher: "),
        "{err}"
    );
    for l in &kex {
        assert!(l.ends_with(" compression: zlib@openssh.com"), "{l}");
    }
    assert!(
        err.contains("debug1: Enabling compression at level 6.\r\n"),
        "{err}"
    );
    // The statistics at exit: everything we sent went through zlib, and the text part
    // shrank the total to well under its size.
    let (raw, compressed) = stats(&err, "outgoing").expect("compress outgoing line");
    assert!(raw >= data.len() as u64, "{raw}");
    assert!(compressed < raw / 2, "{raw} -> {compressed}");
    let (raw_in, _) = stats(&err, "incoming").expect("compress incoming line");
    assert!(raw_in >= data.len() as u64, "{raw_in}");
    // The server agrees on what was negotiated.
    let log = sshd.wait_for_log("compression: zlib@openssh.com");
    assert!(
        log.contains("kex: client->server cipher: ")
            && log.contains("compression: zlib@openssh.com"),
        "{log}"
    );
}

#[test]
fn compression_survives_rekeys_against_openssh_sshd() {
    // A small RekeyLimit makes both sides rekey several times mid-transfer: each NEWKEYS
    // restarts the zlib streams on both ends (RFC 4253 §6.2), and delayed compression
    // resumes at once without a new USERAUTH_SUCCESS.
    let Some(sshd) = openssh_sshd(&["RekeyLimit 512K"]) else {
        return;
    };
    let home = TempHome::new();
    let data = mixed_data(2 << 20, 1 << 20);
    let out = ssh(
        &sshd,
        &home,
        &["-C", "-v", "-o", "RekeyLimit=256K"],
        "cat",
        &data,
    );
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
    assert!(
        err.matches("debug1: Enabling compression at level 6.")
            .count()
            >= rekeys,
        "{err}"
    );
}

#[test]
fn remote_output_of_compressible_data_is_exact() {
    let Some(sshd) = openssh_sshd(&[]) else {
        return;
    };
    let home = TempHome::new();
    // 4 MiB made on the server, compressed by OpenSSH, inflated by us.
    let out = ssh(
        &sshd,
        &home,
        &["-C"],
        "yes 'the quick brown fox jumps over the lazy dog' | head -c 4194304",
        b"",
    );
    out.assert_success();
    let want: Vec<u8> = b"the quick brown fox jumps over the lazy dog\n"
        .iter()
        .copied()
        .cycle()
        .take(4 << 20)
        .collect();
    assert!(out.stdout == want, "{} bytes", out.stdout.len());
}

#[test]
fn without_dash_c_nothing_is_compressed() {
    let Some(sshd) = openssh_sshd(&[]) else {
        return;
    };
    let home = TempHome::new();
    let out = ssh(&sshd, &home, &["-v"], "echo ok", b"");
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    assert_eq!(kex.len(), 2, "{err}");
    for l in &kex {
        assert!(l.ends_with(" compression: none"), "{l}");
    }
    assert!(stats(&err, "outgoing").is_none(), "{err}");
    // Compression=no in the config is the same; -C on the command line wins over it?
    // No: the command line is read first and first value wins, as in OpenSSH.
    let out = ssh(
        &sshd,
        &home,
        &["-v", "-o", "Compression=no"],
        "echo ok",
        b"",
    );
    assert!(
        kex_lines(&out.stderr_str())
            .iter()
            .all(|l| l.ends_with(" compression: none"))
    );
}

#[test]
fn dash_c_against_sshd_compression_no_falls_back_to_none() {
    let Some(sshd) = openssh_sshd(&["Compression no"]) else {
        return;
    };
    let home = TempHome::new();
    let data = mixed_data(256 << 10, 64 << 10);
    let out = ssh(&sshd, &home, &["-C", "-v"], "cat", &data);
    out.assert_success();
    assert!(out.stdout == data);
    let err = out.stderr_str();
    let kex = kex_lines(&err);
    assert_eq!(kex.len(), 2, "{err}");
    for l in &kex {
        assert!(l.ends_with(" compression: none"), "{l}");
    }
}

#[test]
fn dash_c_against_our_sshd() {
    let sshd = Sshd::ours().config("RekeyLimit 1M").start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let data = mixed_data(2 << 20, 1 << 20);
    let out = ssh(&sshd, &home, &["-C", "-v"], "cat", &data);
    out.assert_success();
    assert!(out.stdout == data, "{} bytes back", out.stdout.len());
    let err = out.stderr_str();
    assert!(
        kex_lines(&err)
            .iter()
            .all(|l| l.ends_with(" compression: zlib@openssh.com")),
        "{err}"
    );
    // Our sshd logs its side of the statistics when the connection ends.
    sshd.wait_for_log("compress incoming: raw data ");
}
