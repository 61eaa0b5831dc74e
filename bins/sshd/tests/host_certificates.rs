//! Host certificates in our sshd (`HostCertificate`, `sshd -c`), checked by OpenSSH's
//! `ssh`: with only an `@cert-authority` line for the CA in known_hosts and
//! `StrictHostKeyChecking yes` it logs in and reports the certificate; a certificate
//! from another CA, or without the host name among its principals, is refused with
//! OpenSSH's messages; RSA (both SHA-2 signature algorithms) and ECDSA certificates
//! work too; certificates that cannot be used are logged with OpenSSH's lines.
//!
//! The fixtures are made per test by OpenSSH's `ssh-keygen`:
//! `ssh-keygen -t ed25519 -N '' -f ca`, `ssh-keygen -t <type> -N '' -f host_<type>` and
//! `ssh-keygen -h -s ca -I oxssh-test-host -z 7 -n <principals> host_<type>.pub`.

// Test helpers fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use oxssh_testkit::{Cmd, Key, Output, Sshd, TempHome, require_openssh};

/// The host name the client connects to, and the principal a good certificate names.
const HOST: &str = "127.0.0.1";

/// Run OpenSSH's ssh-keygen in `dir`.
fn keygen(dir: &Path, args: &[&str]) -> Output {
    let out = Cmd::new(require_openssh("ssh-keygen").unwrap())
        .args(args)
        .current_dir(dir)
        .run();
    out.assert_success();
    out
}

/// A fresh key pair `dir/<name>` of `key_type` (`ed25519`, `ecdsa`, `rsa`).
fn make_key(dir: &Path, name: &str, key_type: &str) -> PathBuf {
    keygen(
        dir,
        &["-q", "-t", key_type, "-N", "", "-C", name, "-f", name],
    );
    dir.join(name)
}

/// `ssh-keygen -h -s <ca> …` over `<key>.pub`: returns the `-cert.pub` path.
fn sign_host(dir: &Path, ca: &str, key: &str, principals: Option<&str>) -> PathBuf {
    let public = format!("{key}.pub");
    let mut args = vec!["-q", "-h", "-s", ca, "-I", "oxssh-test-host", "-z", "7"];
    if let Some(p) = principals {
        args.extend(["-n", p]);
    }
    args.push(&public);
    keygen(dir, &args);
    dir.join(format!("{key}-cert.pub"))
}

/// `SHA256:…` of a public key file, as OpenSSH prints it.
fn fingerprint(path: &Path) -> String {
    let dir = path.parent().unwrap();
    let out = keygen(dir, &["-l", "-E", "sha256", "-f", path.to_str().unwrap()]);
    out.stdout_str()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// A CA, a host key of `key_type` and its certificate for `principals`, in a temp dir.
struct Fixture {
    dir: tempfile::TempDir,
    host_key: PathBuf,
    cert: PathBuf,
}

impl Fixture {
    fn new(key_type: &str, principals: Option<&str>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        make_key(dir.path(), "ca", "ed25519");
        let name = format!("host_{key_type}");
        let host_key = make_key(dir.path(), &name, key_type);
        let cert = sign_host(dir.path(), "ca", &name, principals);
        Fixture {
            dir,
            host_key,
            cert,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Our sshd with this host key and certificate and no other host key.
    fn sshd(&self) -> Sshd {
        let sshd = Sshd::ours()
            .host_keys(&[])
            .config(format!("HostKey {}", self.host_key.display()))
            .config(format!("HostCertificate {}", self.cert.display()))
            .start();
        sshd.authorize(Key::Ed25519);
        sshd
    }
}

/// The known_hosts line that trusts the CA in `ca_pub` for `sshd`.
fn cert_authority_line(sshd: &Sshd, ca_pub: &Path) -> String {
    let ca = std::fs::read_to_string(ca_pub).unwrap();
    format!("@cert-authority {} {}", sshd.known_hosts_name(), ca.trim())
}

/// The client's stderr with OpenSSH's CR LF line ends (its log lines) made LF.
fn stderr(out: &Output) -> String {
    out.stderr_str().replace("\r\n", "\n")
}

/// OpenSSH's ssh -v, StrictHostKeyChecking yes, known_hosts holding only `known_hosts`.
fn ssh(sshd: &Sshd, home: &TempHome, known_hosts: &[String], options: &[&str]) -> Output {
    let ssh = require_openssh("ssh").unwrap();
    home.write_known_hosts(known_hosts);
    let mut client = sshd.client(home).trust_host_key(false);
    for o in options {
        client = client.option(*o);
    }
    Cmd::new(ssh)
        .arg("-v")
        .args(client.args())
        .arg("echo in")
        .envs(home.env())
        .run()
}

#[test]
fn openssh_trusts_our_ed25519_host_certificate_through_cert_authority() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    let f = Fixture::new("ed25519", Some(HOST));
    let sshd = f.sshd();
    let home = TempHome::new();
    let ca_line = cert_authority_line(&sshd, &f.path("ca.pub"));
    let out = ssh(&sshd, &home, std::slice::from_ref(&ca_line), &[]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "in\n");
    let err = stderr(&out);
    assert!(
        err.contains("kex: host key algorithm: ssh-ed25519-cert-v01@openssh.com"),
        "{out}"
    );
    let want = format!(
        "Server host certificate: ssh-ed25519-cert-v01@openssh.com {}, serial 7 ID \
         \"oxssh-test-host\" CA ssh-ed25519 {} valid forever",
        fingerprint(&f.path("host_ed25519.pub")),
        fingerprint(&f.path("ca.pub"))
    );
    assert!(err.contains(&want), "{want}\n{out}");
    assert!(
        err.contains(&format!(
            "Host '{}' is known and matches the ED25519-CERT host certificate.",
            sshd.known_hosts_name()
        )),
        "{out}"
    );
    assert!(err.contains("Found CA key in "), "{out}");
    // Nothing learned: known_hosts still holds only the CA.
    let kh = std::fs::read_to_string(home.known_hosts_path()).unwrap();
    assert_eq!(kh.trim(), ca_line);
    // OpenSSH's debug line for the pairing; and the hostkeys-00@openssh.com
    // announcement after login names the plain key only.
    let log = sshd.wait_for_log("notify_hostkeys: sent 1 hostkeys");
    assert!(
        log.contains("host certificate: #0 type 7 ED25519-CERT"),
        "{log}"
    );
    let announced: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("notify_hostkeys: key "))
        .collect();
    assert_eq!(announced.len(), 1, "{log}");
    assert!(
        announced[0].contains("notify_hostkeys: key 0: ssh-ed25519 SHA256:"),
        "{log}"
    );
}

#[test]
fn a_host_certificate_from_another_ca_is_refused() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    let f = Fixture::new("ed25519", Some(HOST));
    make_key(f.dir.path(), "other_ca", "ed25519");
    let sshd = f.sshd();
    let home = TempHome::new();
    let ca_line = cert_authority_line(&sshd, &f.path("other_ca.pub"));
    let out = ssh(&sshd, &home, &[ca_line], &[]);
    out.assert_code(255);
    let err = stderr(&out);
    assert!(
        err.contains("No matching CA found. Retry with plain key"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "No ED25519 host key is known for {} and you have requested strict checking.\n\
             Host key verification failed.",
            sshd.known_hosts_name()
        )),
        "{out}"
    );
}

#[test]
fn a_host_certificate_without_the_host_name_gets_openssh_warning() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    let f = Fixture::new("ed25519", Some("other.example.com,10.0.0.1"));
    let sshd = f.sshd();
    let home = TempHome::new();
    let ca_line = cert_authority_line(&sshd, &f.path("ca.pub"));
    let out = ssh(&sshd, &home, &[ca_line], &[]);
    out.assert_code(255);
    let err = stderr(&out);
    assert!(
        err.contains("Certificate invalid: name is not a listed principal"),
        "{out}"
    );
    assert!(err.contains("Host key verification failed."), "{out}");
}

#[test]
fn rsa_and_ecdsa_host_certificates() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    // (key type, client HostKeyAlgorithms or OpenSSH's default, algorithm negotiated)
    let cases = [
        ("ecdsa", None, "ecdsa-sha2-nistp256-cert-v01@openssh.com"),
        ("rsa", None, "rsa-sha2-512-cert-v01@openssh.com"),
        (
            "rsa",
            Some("HostKeyAlgorithms rsa-sha2-256-cert-v01@openssh.com"),
            "rsa-sha2-256-cert-v01@openssh.com",
        ),
    ];
    for (key_type, option, alg) in cases {
        let f = Fixture::new(key_type, Some(HOST));
        let sshd = f.sshd();
        let home = TempHome::new();
        let ca_line = cert_authority_line(&sshd, &f.path("ca.pub"));
        let out = ssh(&sshd, &home, &[ca_line], option.as_slice());
        out.assert_success();
        let err = stderr(&out);
        assert!(
            err.contains(&format!("kex: host key algorithm: {alg}")),
            "{alg}\n{out}"
        );
        // The certificate's key type, not the signature algorithm, names it.
        let cert_type = if key_type == "rsa" {
            "ssh-rsa-cert-v01@openssh.com"
        } else {
            alg
        };
        assert!(
            err.contains(&format!("Server host certificate: {cert_type} SHA256:")),
            "{alg}\n{out}"
        );
    }
}

#[test]
fn sshd_dash_c_adds_a_host_certificate() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    let f = Fixture::new("ed25519", Some(HOST));
    // No HostCertificate line: the certificate comes from `-c` on sshd's command line.
    let sshd = Sshd::ours()
        .host_keys(&[])
        .config(format!("HostKey {}", f.host_key.display()))
        .inetd();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    let ca_line = cert_authority_line(&sshd, &f.path("ca.pub"));
    let proxy = format!(
        "ProxyCommand {} -c {}",
        sshd.inetd_command(),
        f.cert.display()
    );
    let out = ssh(&sshd, &home, &[ca_line], &[&proxy]);
    out.assert_success();
    assert!(
        stderr(&out).contains("Server host certificate: ssh-ed25519-cert-v01@openssh.com"),
        "{out}"
    );
    // `sshd -T` lists it as OpenSSH's does: command-line certificates first.
    let dump = |binary: &Path| {
        let out = Cmd::new(binary)
            .arg("-T")
            .arg("-f")
            .arg(sshd.config_path())
            .arg("-c")
            .arg(&f.cert)
            .run();
        out.assert_success();
        out.stdout_str()
            .lines()
            .filter(|l| l.starts_with("hostkey ") || l.starts_with("hostcertificate "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let ours = dump(sshd.binary());
    assert_eq!(
        ours,
        [
            format!("hostkey {}", f.host_key.display()),
            format!("hostcertificate {}", f.cert.display()),
        ]
    );
    if let Some(openssh) = require_openssh("sshd") {
        assert_eq!(ours, dump(&openssh));
    }
}

#[test]
fn unusable_host_certificates_are_logged_as_openssh_logs_them() {
    if require_openssh("ssh").is_none() || require_openssh("ssh-keygen").is_none() {
        return;
    }
    let f = Fixture::new("ed25519", Some(HOST));
    std::fs::write(f.path("garbage-cert.pub"), "not a key\n").unwrap();
    let missing = f.path("missing-cert.pub");
    let garbage = f.path("garbage-cert.pub");
    let plain = f.path("ca.pub");
    let private = f.path("ca");
    // f.cert certifies f.host_key, which this server does not have.
    let lines = [&missing, &garbage, &plain, &private, &f.cert]
        .map(|p| format!("HostCertificate {}", p.display()));
    let mut builder = Sshd::ours();
    for l in &lines {
        builder = builder.config(l.clone());
    }
    let sshd = builder.start();
    sshd.authorize(Key::Ed25519);
    let home = TempHome::new();
    // The plain host key still serves, under its own algorithm.
    let out = ssh(&sshd, &home, &sshd.known_hosts_lines(), &[]);
    out.assert_success();
    assert!(
        stderr(&out).contains("kex: host key algorithm: ssh-ed25519\n"),
        "{out}"
    );
    let want = [
        format!(
            "Could not load host certificate \"{}\": No such file or directory",
            missing.display()
        ),
        format!(
            "Could not load host certificate \"{}\": No such file or directory",
            garbage.display()
        ),
        format!("Certificate file is not a certificate: {}", plain.display()),
        format!(
            "Certificate file is not a certificate: {}",
            private.display()
        ),
        format!(
            "No matching private key for certificate: {}",
            f.cert.display()
        ),
    ];
    let log = sshd.wait_for_log(&want[4]);
    for w in &want {
        assert!(log.contains(w.as_str()), "{w}\n{log}");
    }
    // OpenSSH's sshd says the same, in the same order, checking the same config.
    if let Some(openssh) = require_openssh("sshd") {
        let out = Cmd::new(openssh)
            .arg("-t")
            .arg("-f")
            .arg(sshd.config_path())
            .run();
        let theirs: Vec<String> = out
            .stderr_str()
            .lines()
            .filter(|l| l.contains("ertificate") && !l.starts_with("debug"))
            .map(str::to_owned)
            .collect();
        assert_eq!(theirs, want, "{out}");
    }
}
