//! The legacy CBC ciphers (`3des-cbc`, `aes128-cbc`, `aes192-cbc`, `aes256-cbc`) in our
//! `ssh`, against OpenSSH's `sshd` configured with `Ciphers +…`: each moves data
//! byte-exact with plain and -etm MACs when asked for (`-c`, `Ciphers +…`, an explicit
//! list); `ssh -Q cipher` lists them in OpenSSH's order; and, as in OpenSSH, they are
//! never offered by default, so a server that only speaks CBC refuses our default
//! client with OpenSSH's "no matching cipher found" message.
//!
//! Not here: the packet-level behaviour (corrupted packets, OpenSSH's discard), which
//! `oxssh-proto`'s cipher tests cover, and our sshd (`bins/sshd/tests/cbc_ciphers.rs`).

use std::ffi::OsString;

use oxssh_testkit::{Cmd, Key, KeyType, Output, Sshd, TempHome, ours, require_openssh};

const CBC: [&str; 4] = ["3des-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc"];

/// OpenSSH's sshd with the given `Ciphers` line, and our fixture key authorized.
fn openssh_sshd(ciphers: &str) -> Option<Sshd> {
    require_openssh("sshd")?;
    let sshd = Sshd::openssh()
        .host_keys(&[KeyType::Ed25519])
        .config(format!("Ciphers {ciphers}"))
        .start();
    sshd.authorize(Key::Ed25519);
    Some(sshd)
}

/// Our ssh with `args` before the kit's `-F <config> 127.0.0.1`, running `command`.
fn our_ssh(sshd: &Sshd, home: &TempHome, args: &[&str], command: &str, stdin: &[u8]) -> Output {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(sshd.client(home).args());
    Cmd::new(ours("ssh"))
        .args(all)
        .arg(command)
        .stdin(stdin.to_vec())
        .envs(home.env())
        .run()
}

/// Data that is not all one byte, so a cipher or chaining slip shows.
fn data(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn dash_q_cipher_lists_cbc_in_openssh_order() {
    let out = Cmd::new(ours("ssh")).args(["-Q", "cipher"]).run();
    out.assert_success();
    assert_eq!(
        out.stdout_str(),
        "3des-cbc\naes128-cbc\naes192-cbc\naes256-cbc\naes128-ctr\naes192-ctr\naes256-ctr\n\
         aes128-gcm@openssh.com\naes256-gcm@openssh.com\nchacha20-poly1305@openssh.com\n"
    );
    let Some(theirs) = require_openssh("ssh") else {
        return;
    };
    let openssh = Cmd::new(theirs).args(["-Q", "cipher"]).run();
    assert_eq!(out.stdout_str(), openssh.stdout_str());
}

#[test]
fn each_cbc_cipher_with_each_mac_kind_moves_data_to_openssh_sshd() {
    let Some(sshd) = openssh_sshd(&format!("+{}", CBC.join(","))) else {
        return;
    };
    let home = TempHome::new();
    let payload = data(300 * 1024);
    for (cipher, mac) in [
        ("3des-cbc", "hmac-sha1"),
        ("3des-cbc", "hmac-sha2-256-etm@openssh.com"),
        ("aes128-cbc", "hmac-sha2-256"),
        ("aes128-cbc", "hmac-sha1-etm@openssh.com"),
        ("aes192-cbc", "hmac-sha2-512"),
        ("aes192-cbc", "hmac-sha2-512-etm@openssh.com"),
        ("aes256-cbc", "hmac-sha2-256"),
        ("aes256-cbc", "hmac-sha2-256-etm@openssh.com"),
    ] {
        let out = our_ssh(
            &sshd,
            &home,
            &["-c", cipher, "-m", mac],
            "cat; echo done >&2",
            &payload,
        );
        out.assert_success();
        assert!(
            out.stdout == payload,
            "{cipher} {mac}: {} bytes back of {}",
            out.stdout.len(),
            payload.len()
        );
        assert_eq!(out.stderr_str(), "done\n", "{cipher} {mac}");
        // The server agrees on what was used, both ways.
        for way in ["client->server", "server->client"] {
            sshd.wait_for_log(&format!(
                "kex: {way} cipher: {cipher} MAC: {mac} compression: none"
            ));
        }
    }
}

#[test]
fn ciphers_plus_in_ssh_config_and_explicit_lists_enable_cbc() {
    // A server that speaks nothing but aes256-cbc.
    let Some(sshd) = openssh_sshd("aes256-cbc") else {
        return;
    };
    for how in [
        "Ciphers +aes256-cbc",
        "Ciphers aes128-ctr,aes256-cbc",
        "Ciphers ^aes256-cbc",
    ] {
        let home = TempHome::new();
        let mut args = sshd.client(&home).option(how).args();
        args.push("echo ok".into());
        let out = Cmd::new(ours("ssh")).args(args).envs(home.env()).run();
        assert_eq!(out.stdout_str(), "ok\n", "{how}: {out}");
    }
}

#[test]
fn default_client_does_not_offer_cbc_and_is_refused_like_openssh() {
    let Some(sshd) = openssh_sshd("3des-cbc") else {
        return;
    };
    let home = TempHome::new();
    let out = our_ssh(&sshd, &home, &[], "true", b"");
    out.assert_code(255);
    let port = sshd.port();
    let want = format!(
        "Unable to negotiate with 127.0.0.1 port {port}: no matching cipher found. \
         Their offer: 3des-cbc"
    );
    assert!(out.stderr_str().contains(&want), "{out}");
    // What we offered (the server logs the client's proposal): no CBC in it.
    let log = sshd.wait_for_log("no matching cipher found");
    let offer = log
        .lines()
        .find(|l| l.contains("ciphers ctos:") && l.contains("aes128-ctr"))
        .unwrap_or_else(|| panic!("no client proposal logged:\n{log}"));
    assert!(!offer.contains("-cbc"), "{offer}");
    // OpenSSH's own ssh, as the reference, says the same.
    if let Some(theirs) = require_openssh("ssh") {
        let home = TempHome::new();
        let mut args = sshd.client(&home).args();
        args.push("true".into());
        let reference = Cmd::new(theirs).args(args).envs(home.env()).run();
        reference.assert_code(255);
        assert!(reference.stderr_str().contains(&want), "{reference}");
    }
}
