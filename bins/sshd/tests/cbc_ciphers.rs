//! The legacy CBC ciphers (`3des-cbc`, `aes128-cbc`, `aes192-cbc`, `aes256-cbc`) in our
//! `sshd`, with OpenSSH's `ssh` as the client: enabled by `Ciphers +…` (or an explicit
//! list) each moves data byte-exact with plain and -etm MACs; with the default config
//! they are not offered, and a client that only speaks CBC is refused in OpenSSH's
//! words on both sides; and a bit flipped on the wire under CBC without -etm ends the
//! connection with "Corrupted MAC on input." (after OpenSSH's discard), never a crash.
//!
//! Not here: the packet-level details of the discard (`oxssh-proto`'s cipher tests),
//! and our ssh (`bins/ssh/tests/cbc_ciphers.rs`).

// The relay helper is test code outside a #[test] fn: a failing unwrap fails the test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use oxssh_testkit::{Cmd, Key, KeyType, Output, Sshd, TempHome, require_openssh};

const CBC: [&str; 4] = ["3des-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc"];

/// Our sshd, with a `Ciphers` line when given, and our fixture key authorized.
fn our_sshd(ciphers: Option<&str>) -> Sshd {
    let mut b = Sshd::ours().host_keys(&[KeyType::Ed25519]);
    if let Some(c) = ciphers {
        b = b.config(format!("Ciphers {c}"));
    }
    let sshd = b.start();
    sshd.authorize(Key::Ed25519);
    sshd
}

/// OpenSSH's ssh with `args` before the kit's `-F <config> 127.0.0.1`.
fn openssh_ssh(
    sshd: &Sshd,
    home: &TempHome,
    args: &[&str],
    command: &str,
    stdin: &[u8],
) -> Option<Output> {
    let ssh = require_openssh("ssh")?;
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.extend(sshd.client(home).args());
    Some(
        Cmd::new(ssh)
            .args(all)
            .arg(command)
            .stdin(stdin.to_vec())
            .envs(home.env())
            .run(),
    )
}

/// Data that is not all one byte, so a cipher or chaining slip shows.
fn data(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8)
        .collect()
}

#[test]
fn openssh_client_moves_data_with_each_cbc_cipher_and_mac_kind() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(Some(&format!("+{}", CBC.join(","))));
    let home = TempHome::new();
    let payload = data(300 * 1024);
    for (cipher, mac) in [
        ("3des-cbc", "hmac-sha2-256"),
        ("3des-cbc", "hmac-sha1-etm@openssh.com"),
        ("aes128-cbc", "hmac-sha1"),
        ("aes128-cbc", "hmac-sha2-256-etm@openssh.com"),
        ("aes192-cbc", "hmac-sha2-256"),
        ("aes192-cbc", "hmac-sha2-512-etm@openssh.com"),
        ("aes256-cbc", "hmac-sha2-512"),
        ("aes256-cbc", "hmac-sha2-256-etm@openssh.com"),
    ] {
        let Some(out) = openssh_ssh(
            &sshd,
            &home,
            &["-v", "-c", cipher, "-m", mac],
            "cat",
            &payload,
        ) else {
            return;
        };
        out.assert_success();
        assert!(
            out.stdout == payload,
            "{cipher} {mac}: {} bytes back of {}",
            out.stdout.len(),
            payload.len()
        );
        // OpenSSH's client says what it negotiated with us, both ways.
        for way in ["client->server", "server->client"] {
            let line = format!("kex: {way} cipher: {cipher} MAC: {mac} compression: none");
            assert!(out.stderr_str().contains(&line), "{line}\n{out}");
        }
    }
}

#[test]
fn explicit_cbc_only_list_serves_the_named_cipher_alone() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(Some("3des-cbc"));
    let home = TempHome::new();
    let Some(out) = openssh_ssh(&sshd, &home, &["-c", "3des-cbc"], "echo ok", b"") else {
        return;
    };
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    // Nothing else is served: OpenSSH's default client finds no common cipher.
    let Some(out) = openssh_ssh(&sshd, &home, &[], "true", b"") else {
        return;
    };
    out.assert_code(255);
    assert!(
        out.stderr_str().contains(&format!(
            "Unable to negotiate with 127.0.0.1 port {}: no matching cipher found. \
             Their offer: 3des-cbc",
            sshd.port()
        )),
        "{out}"
    );
}

#[test]
fn default_config_does_not_offer_cbc_and_refuses_a_cbc_only_client_like_openssh() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(None);
    let home = TempHome::new();
    let Some(out) = openssh_ssh(&sshd, &home, &["-c", "3des-cbc"], "true", b"") else {
        return;
    };
    out.assert_code(255);
    let want = format!(
        "Unable to negotiate with 127.0.0.1 port {}: no matching cipher found. Their offer: ",
        sshd.port()
    );
    let stderr = out.stderr_str();
    let offer = stderr
        .lines()
        .find_map(|l| l.split_once(want.as_str()).map(|(_, o)| o.to_owned()))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(offer.contains("aes128-ctr"), "{offer}");
    assert!(!offer.contains("-cbc"), "{offer}");
    // Our server's log line is OpenSSH sshd's.
    sshd.wait_for_log("no matching cipher found. Their offer: 3des-cbc [preauth]");
}

/// A TCP relay on a fresh port in front of `port`: it passes both directions through
/// unchanged, except that it flips one bit of the client's stream at byte `at`.
/// Returns the relay's port; its threads end when either side closes.
fn corrupting_relay(port: u16, at: usize) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut client_w, mut server_r) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut server_r, &mut client_w);
            let _ = client_w.shutdown(Shutdown::Both);
        });
        let mut seen = 0usize;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if (seen..seen + n).contains(&at) {
                buf[at - seen] ^= 0x10;
            }
            seen += n;
            if server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server.shutdown(Shutdown::Both);
        let _ = client.shutdown(Shutdown::Both);
    });
    relay_port
}

#[test]
fn bit_flipped_on_the_wire_under_cbc_is_corrupted_mac_not_a_crash() {
    if require_openssh("ssh-keygen").is_none() {
        return;
    }
    let sshd = our_sshd(Some("+aes128-cbc"));
    let Some(ssh) = require_openssh("ssh") else {
        return;
    };
    // 200 KB into the client's stream: well past key exchange and authentication, in
    // the middle of the data. The client has megabytes more to send, enough for the
    // server to read out OpenSSH's discard (PACKET_MAX_SIZE from the bad packet).
    let relay = corrupting_relay(sshd.port(), 200 * 1024);
    let home = TempHome::new();
    let mut args: Vec<std::ffi::OsString> = ["-c", "aes128-cbc", "-m", "hmac-sha2-256"]
        .iter()
        .map(Into::into)
        .collect();
    args.extend(
        sshd.client(&home)
            .option(format!("Port {relay}"))
            .trust_host_key(false)
            .strict_host_key_checking("no")
            .args(),
    );
    let out = Cmd::new(ssh)
        .args(args)
        .arg("cat > /dev/null")
        .stdin(data(4 * 1024 * 1024))
        .envs(home.env())
        .run();
    out.assert_code(255);
    let log = sshd.wait_for_log("Corrupted MAC on input.");
    assert!(!log.contains("panicked"), "{log}");
}
