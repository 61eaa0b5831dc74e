//! Interop tests of the key exchange methods and host key signatures against the
//! installed OpenSSH, both directions, up to the first SSH_MSG_NEWKEYS.
//!
//! Client side: we speak to `sshd -i` over a socket pair, run each method, compute the
//! exchange hash (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4) and check sshd's host key
//! signature over it with `hostkey::verify`. sshd signs the hash of the `K` it derived,
//! so a valid signature proves both sides computed the same `K`.
//! Server side: OpenSSH's `ssh` connects to a loopback listener of the test; we answer
//! with `kex_server` and sign with `hostkey::sign`; `ssh` sends NEWKEYS only after it
//! checked our signature over its own exchange hash.
//!
//! The small transport here (unencrypted packets, one KEXINIT each way) exists only for
//! these tests; the real one is `transport.rs`. Methods the installed OpenSSH does not
//! know (`ssh -Q kex`) are skipped with a message; a missing sshd/ssh skips the test, and
//! fails it under CI=true.

use super::*;
use crate::hostkey::{self, SigAlg};
use crate::msg;
use crate::wire::Reader;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SSHD: &str = "/usr/sbin/sshd";
const OUR_VERSION: &str = "SSH-2.0-oxssh_kextest";

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x1a7e)
}

/// The tool is there, or the test is skipped (failed under CI=true).
fn have(test: &str, tool: &str) -> bool {
    let ok = Path::new(tool).exists()
        || Command::new(tool)
            .arg("-V")
            .stderr(Stdio::null())
            .output()
            .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {tool} is required under CI"
        );
        eprintln!("{test}: skipped: {tool} not found");
    }
    ok
}

/// What the installed OpenSSH implements (`ssh -Q kex`).
fn openssh_kex() -> Vec<String> {
    let out = Command::new("ssh").args(["-Q", "kex"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("oxssh-kex-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kill and reap a child we started when the test is done with it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ssh_keygen(dir: &TempDir, args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plain-text SSH packets (RFC 4253 §6 with no cipher and no MAC) over a stream.
struct Conn<S: Read + Write> {
    r: BufReader<S>,
    w: S,
}

impl<S: Read + Write> Conn<S> {
    /// Exchange identification strings; returns the peer's, without CR LF.
    fn versions(&mut self) -> String {
        self.w
            .write_all(format!("{OUR_VERSION}\r\n").as_bytes())
            .unwrap();
        loop {
            let mut line = String::new();
            assert!(
                self.r.read_line(&mut line).unwrap() > 0,
                "peer closed before its version"
            );
            if line.starts_with("SSH-") {
                return line.trim_end_matches(['\r', '\n']).to_owned();
            }
        }
    }

    fn send(&mut self, payload: &[u8]) {
        let mut pad = 8 - (5 + payload.len()) % 8;
        if pad < 4 {
            pad += 8;
        }
        let mut p = Vec::new();
        p.put_u32((1 + payload.len() + pad) as u32);
        p.put_u8(pad as u8);
        p.extend_from_slice(payload);
        p.extend(std::iter::repeat_n(0, pad));
        self.w.write_all(&p).unwrap();
    }

    /// The next packet's payload, skipping IGNORE and DEBUG; `None` when the peer closed
    /// the connection.
    fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            let mut len = [0u8; 4];
            self.r.read_exact(&mut len).ok()?;
            let len = u32::from_be_bytes(len) as usize;
            assert!(len < 256 * 1024, "packet length {len}");
            let mut body = vec![0u8; len];
            self.r.read_exact(&mut body).unwrap();
            let pad = body[0] as usize;
            let payload = body[1..len - pad].to_vec();
            if !matches!(payload[0], msg::IGNORE | msg::DEBUG) {
                return Some(payload);
            }
        }
    }
}

fn kexinit(kex: &str, host_key: &str) -> Vec<u8> {
    let mut p = vec![msg::KEXINIT];
    p.extend_from_slice(&[0x42; 16]);
    for list in [
        kex,
        host_key,
        "aes128-ctr",
        "aes128-ctr",
        "hmac-sha2-256",
        "hmac-sha2-256",
        "none",
        "none",
        "",
        "",
    ] {
        p.put_str(list);
    }
    p.put_bool(false);
    p.put_u32(0);
    p
}

/// What goes into the exchange hash besides the method's values.
struct HashCtx<'a> {
    v_c: &'a str,
    v_s: &'a str,
    i_c: &'a [u8],
    i_s: &'a [u8],
    k_s: &'a [u8],
    gex: Option<(u32, u32, u32, &'a DhGroup)>,
}

/// RFC 4253 §8 / RFC 4419 §3 / RFC 5656 §4: H = HASH(V_C || V_S || I_C || I_S || K_S
/// [|| min || n || max || p || g] || client value || server value || K), with the
/// values already encoded by `methods`.
fn exchange_hash(
    alg: KexAlg,
    c: &HashCtx<'_>,
    client: &[u8],
    server: &[u8],
    k: &SharedSecret,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_str(c.v_c);
    b.put_str(c.v_s);
    b.put_string(c.i_c);
    b.put_string(c.i_s);
    b.put_string(c.k_s);
    if let Some((min, n, max, group)) = c.gex {
        b.put_u32(min);
        b.put_u32(n);
        b.put_u32(max);
        b.put_mpint(&group.p);
        b.put_mpint(&group.g);
    }
    b.extend_from_slice(client);
    b.extend_from_slice(server);
    b.extend_from_slice(k.encoded());
    alg.hash().digest(&[&b])
}

/// Run our client side of one key exchange against a connected OpenSSH server: the host
/// key signature must verify, and the server must go on to NEWKEYS.
fn client_exchange<S: Read + Write>(conn: &mut Conn<S>, alg: KexAlg, host_key: SigAlg) {
    let mut rng = rng();
    let v_s = conn.versions();
    let i_c = kexinit(alg.name(), host_key.name());
    conn.send(&i_c);
    let i_s = conn.recv().expect("server KEXINIT");
    assert_eq!(i_s[0], msg::KEXINIT);
    let (min, n, max) = (2048, 3072, 8192);
    let (state, client_value, group) = if alg.is_gex() {
        let mut req = vec![msg::KEX_DH_GEX_REQUEST];
        req.put_u32(min);
        req.put_u32(n);
        req.put_u32(max);
        conn.send(&req);
        let grp = conn.recv().expect("GEX group");
        assert_eq!(grp[0], msg::KEX_DH_GEX_GROUP, "{}", alg.name());
        let mut r = Reader::new(&grp[1..]);
        let group = DhGroup {
            p: r.mpint().unwrap().to_vec(),
            g: r.mpint().unwrap().to_vec(),
        };
        assert!((min as usize..=max as usize).contains(&group.bits()));
        let (state, e) = KexClient::start_gex(alg, &group, &mut rng).unwrap();
        let mut init = vec![msg::KEX_DH_GEX_INIT];
        init.extend_from_slice(&e);
        conn.send(&init);
        (state, e, Some(group))
    } else {
        let (state, public) = KexClient::start(alg, &mut rng).unwrap();
        let mut init = vec![msg::KEXDH_INIT];
        init.extend_from_slice(&public);
        conn.send(&init);
        (state, public, None)
    };
    let reply = conn
        .recv()
        .unwrap_or_else(|| panic!("{}: no reply", alg.name()));
    let want = if alg.is_gex() {
        msg::KEX_DH_GEX_REPLY
    } else {
        msg::KEXDH_REPLY
    };
    assert_eq!(
        reply[0],
        want,
        "{}: {:?}",
        alg.name(),
        String::from_utf8_lossy(&reply)
    );
    let mut r = Reader::new(&reply[1..]);
    let k_s = r.string().unwrap();
    let server_raw = if group.is_some() || alg.dh_group().is_some() {
        r.mpint().unwrap()
    } else {
        r.string().unwrap()
    };
    let sig = r.string().unwrap();
    r.finish().unwrap();
    let (k, server_value) = state.finish(server_raw).unwrap();
    let ctx = HashCtx {
        v_c: OUR_VERSION,
        v_s: &v_s,
        i_c: &i_c,
        i_s: &i_s,
        k_s,
        gex: group.as_ref().map(|g| (min, n, max, g)),
    };
    let h = exchange_hash(alg, &ctx, &client_value, &server_value, &k);
    hostkey::verify(host_key, k_s, &h, sig)
        .unwrap_or_else(|e| panic!("{} / {}: {e}", alg.name(), host_key.name()));
    // The check has teeth: a hash over any other K does not verify.
    let other = SharedSecret(Zeroizing::new([k.encoded(), &[0][..]].concat()));
    let h2 = exchange_hash(alg, &ctx, &client_value, &server_value, &other);
    assert!(hostkey::verify(host_key, k_s, &h2, sig).is_err());
    let newkeys = conn.recv().expect("NEWKEYS");
    assert_eq!(newkeys, [msg::NEWKEYS]);
}

struct Sshd {
    dir: TempDir,
}

impl Sshd {
    fn setup() -> Sshd {
        let dir = TempDir::new("sshd");
        for (name, args) in [
            ("host_ed25519", &["-t", "ed25519"][..]),
            ("host_ecdsa256", &["-t", "ecdsa", "-b", "256"]),
            ("host_ecdsa384", &["-t", "ecdsa", "-b", "384"]),
            ("host_ecdsa521", &["-t", "ecdsa", "-b", "521"]),
            ("host_rsa", &["-t", "rsa", "-b", "2048"]),
            ("ca", &["-t", "ed25519"]),
        ] {
            let mut a = vec!["-q", "-N", "", "-f", name];
            a.extend_from_slice(args);
            ssh_keygen(&dir, &a);
        }
        for key in ["host_ed25519", "host_rsa", "host_ecdsa384"] {
            ssh_keygen(
                &dir,
                &[
                    "-q",
                    "-s",
                    "ca",
                    "-h",
                    "-I",
                    "host",
                    "-n",
                    "localhost",
                    &format!("{key}.pub"),
                ],
            );
        }
        Sshd { dir }
    }

    /// `sshd -i` on one end of a socket pair; the other end is returned.
    fn spawn(&self, kex: &str, host_key: &str) -> (Reaped, Conn<UnixStream>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let d = |n: &str| self.dir.path(n).display().to_string();
        let mut cmd = Command::new(SSHD);
        cmd.args(["-i", "-e", "-f", "/dev/null"]);
        for key in [
            "host_ed25519",
            "host_ecdsa256",
            "host_ecdsa384",
            "host_ecdsa521",
            "host_rsa",
        ] {
            cmd.arg("-o").arg(format!("HostKey={}", d(key)));
        }
        for key in ["host_ed25519", "host_rsa", "host_ecdsa384"] {
            cmd.arg("-o")
                .arg(format!("HostCertificate={}", d(&format!("{key}-cert.pub"))));
        }
        cmd.arg("-o").arg(format!("KexAlgorithms={kex}"));
        cmd.arg("-o").arg(format!("HostKeyAlgorithms={host_key}"));
        cmd.args(["-o", "LogLevel=ERROR", "-o", "UsePAM=no"]);
        let child = cmd
            .stdin(Stdio::from(OwnedFd::from(theirs.try_clone().unwrap())))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let w = ours.try_clone().unwrap();
        (
            Reaped(child),
            Conn {
                r: BufReader::new(ours),
                w,
            },
        )
    }
}

fn sshd_usable(test: &str) -> bool {
    if !have(test, SSHD) || !have(test, "ssh-keygen") || !have(test, "ssh") {
        return false;
    }
    // sshd refuses to run without its privilege separation directory.
    if !Path::new("/run/sshd").exists() && std::fs::create_dir_all("/run/sshd").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: /run/sshd missing"
        );
        eprintln!("{test}: skipped: /run/sshd missing");
        return false;
    }
    true
}

#[test]
fn our_client_against_openssh_sshd() {
    let test = "our_client_against_openssh_sshd";
    if !sshd_usable(test) {
        return;
    }
    let sshd = Sshd::setup();
    let supported = openssh_kex();
    for &alg in KexAlg::ALL {
        if !supported.iter().any(|s| s == alg.name()) {
            eprintln!(
                "{test}: {} skipped: not in this OpenSSH's `ssh -Q kex`",
                alg.name()
            );
            continue;
        }
        let (_child, mut conn) = sshd.spawn(alg.name(), "ssh-ed25519");
        client_exchange(&mut conn, alg, SigAlg::Ed25519);
    }
    for host_key in [
        SigAlg::Ed25519,
        SigAlg::EcdsaP256,
        SigAlg::EcdsaP384,
        SigAlg::EcdsaP521,
        SigAlg::RsaSha512,
        SigAlg::RsaSha256,
        SigAlg::RsaSha1,
        SigAlg::Ed25519Cert,
        SigAlg::RsaSha512Cert,
        SigAlg::RsaSha256Cert,
        SigAlg::EcdsaP384Cert,
    ] {
        let (_child, mut conn) = sshd.spawn("curve25519-sha256", host_key.name());
        client_exchange(&mut conn, KexAlg::Curve25519Sha256, host_key);
    }
}

/// Our server side of one exchange with an OpenSSH client connected over TCP.
fn server_exchange(
    conn: &mut Conn<std::net::TcpStream>,
    alg: KexAlg,
    key: &ssh_key::PrivateKey,
    host_key: SigAlg,
    corrupt: bool,
) -> bool {
    let mut rng = rng();
    let v_c = conn.versions();
    let i_s = kexinit(alg.name(), host_key.name());
    conn.send(&i_s);
    let i_c = conn.recv().expect("client KEXINIT");
    assert_eq!(i_c[0], msg::KEXINIT);
    let k_s = hostkey::public_blob(key.public_key());
    let first = conn.recv().expect("client INIT");
    let (reply_type, server_value, client_value, k, gex) = if alg.is_gex() {
        assert_eq!(first[0], msg::KEX_DH_GEX_REQUEST, "{}", alg.name());
        let mut r = Reader::new(&first[1..]);
        let (min, n, max) = (r.u32().unwrap(), r.u32().unwrap(), r.u32().unwrap());
        let moduli = std::fs::read_to_string("/etc/ssh/moduli")
            .map(|t| parse_moduli(&t))
            .unwrap_or_default();
        let group = choose_group_with_rng(&moduli, min, n, max, &mut rng).expect("a group");
        let mut m = vec![msg::KEX_DH_GEX_GROUP];
        m.put_mpint(&group.p);
        m.put_mpint(&group.g);
        conn.send(&m);
        let init = conn.recv().expect("GEX INIT");
        assert_eq!(init[0], msg::KEX_DH_GEX_INIT);
        let mut r = Reader::new(&init[1..]);
        let e = r.mpint().unwrap();
        let (f, e_enc, k) = kex_server_gex(alg, &group, e, &mut rng).unwrap();
        (
            msg::KEX_DH_GEX_REPLY,
            f,
            e_enc,
            k,
            Some((min, n, max, group)),
        )
    } else {
        assert_eq!(first[0], msg::KEXDH_INIT, "{}", alg.name());
        let mut r = Reader::new(&first[1..]);
        let raw = if alg.dh_group().is_some() {
            r.mpint().unwrap()
        } else {
            r.string().unwrap()
        };
        r.finish().unwrap();
        let (server_value, client_value, k) = kex_server(alg, raw, &mut rng).unwrap();
        (msg::KEXDH_REPLY, server_value, client_value, k, None)
    };
    let ctx = HashCtx {
        v_c: &v_c,
        v_s: OUR_VERSION,
        i_c: &i_c,
        i_s: &i_s,
        k_s: &k_s,
        gex: gex.as_ref().map(|(a, b, c, g)| (*a, *b, *c, g)),
    };
    let mut h = exchange_hash(alg, &ctx, &client_value, &server_value, &k);
    if corrupt {
        h[0] ^= 1;
    }
    let sig = hostkey::sign(key, host_key, &h).unwrap();
    let mut m = vec![reply_type];
    m.put_string(&k_s);
    m.extend_from_slice(&server_value);
    m.put_string(&sig);
    conn.send(&m);
    conn.send(&[msg::NEWKEYS]);
    // ssh sends NEWKEYS only once it has verified our signature over its own H.
    conn.recv().is_some_and(|p| p == [msg::NEWKEYS])
}

#[test]
fn openssh_client_against_our_server_side() {
    let test = "openssh_client_against_our_server_side";
    if !have(test, "ssh") || !have(test, "ssh-keygen") {
        return;
    }
    let dir = TempDir::new("client");
    let mut keys = Vec::new();
    for (name, args, alg) in [
        ("ed25519", &["-t", "ed25519"][..], SigAlg::Ed25519),
        ("ecdsa256", &["-t", "ecdsa", "-b", "256"], SigAlg::EcdsaP256),
        ("ecdsa384", &["-t", "ecdsa", "-b", "384"], SigAlg::EcdsaP384),
        ("ecdsa521", &["-t", "ecdsa", "-b", "521"], SigAlg::EcdsaP521),
        ("rsa", &["-t", "rsa", "-b", "2048"], SigAlg::RsaSha512),
    ] {
        let mut a = vec!["-q", "-N", "", "-f", name];
        a.extend_from_slice(args);
        ssh_keygen(&dir, &a);
        keys.push((
            ssh_key::PrivateKey::read_openssh_file(dir.path(name)).unwrap(),
            alg,
        ));
    }
    let supported = openssh_kex();
    let mut cases: Vec<(KexAlg, usize, SigAlg)> = KexAlg::ALL
        .iter()
        .filter(|a| {
            let ok = supported.iter().any(|s| s == a.name());
            if !ok {
                eprintln!(
                    "{test}: {} skipped: not in this OpenSSH's `ssh -Q kex`",
                    a.name()
                );
            }
            ok
        })
        .map(|&a| (a, 0, SigAlg::Ed25519))
        .collect();
    for (i, (_, alg)) in keys.iter().enumerate() {
        cases.push((KexAlg::Curve25519Sha256, i, *alg));
    }
    cases.push((KexAlg::Curve25519Sha256, 4, SigAlg::RsaSha256));
    cases.push((KexAlg::Curve25519Sha256, 4, SigAlg::RsaSha1));
    // Last, a signature over the wrong hash, which ssh must refuse.
    let corrupt_case = cases.len();
    cases.push((KexAlg::Curve25519Sha256, 0, SigAlg::Ed25519));
    for (i, (alg, key_index, host_key)) in cases.into_iter().enumerate() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let child = Command::new("ssh")
            .args(["-F", "/dev/null", "-p", &port, "-o", "BatchMode=yes"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR"])
            .arg("-o")
            .arg(format!("KexAlgorithms={}", alg.name()))
            .arg("-o")
            .arg(format!("HostKeyAlgorithms={}", host_key.name()))
            .args(["test@127.0.0.1", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _child = Reaped(child);
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let w = stream.try_clone().unwrap();
        let mut conn = Conn {
            r: BufReader::new(stream),
            w,
        };
        let corrupt = i == corrupt_case;
        let ok = server_exchange(&mut conn, alg, &keys[key_index].0, host_key, corrupt);
        if corrupt {
            assert!(
                !ok,
                "OpenSSH ssh accepted a signature over the wrong exchange hash"
            );
        } else {
            assert!(
                ok,
                "OpenSSH ssh rejected our {} exchange with {}",
                alg.name(),
                host_key.name()
            );
        }
    }
}
