//! The configuration profile of the oxssh binaries: OpenSSH 10's defaults and keyword
//! set (from `oxssh-config`), with every algorithm list cut down to what
//! `oxssh-proto` implements — so `ssh -G`, `ssh -Q`, `sshd -T` and what goes on the
//! wire all tell the same truth.

use oxssh_config::Profile;
use oxssh_proto::cipher::{Cipher, Mac};
use oxssh_proto::compress::Compression;
use oxssh_proto::hostkey::SigAlg;
use oxssh_proto::kex::methods::KexAlg;

fn keep(list: &str, supported: &[&str]) -> String {
    list.split(',')
        .filter(|n| supported.contains(n))
        .collect::<Vec<_>>()
        .join(",")
}

/// Ciphers we implement, in `ssh -Q cipher` order (OpenSSH's cipher table). The legacy
/// CBC ones are listed and can be configured, but `keep` leaves them out of the defaults
/// because OpenSSH's default lists do not name them.
pub fn ciphers() -> Vec<&'static str> {
    Cipher::IMPLEMENTED.iter().map(|c| c.name()).collect()
}

/// MACs we implement.
pub fn macs() -> Vec<&'static str> {
    Mac::IMPLEMENTED.iter().map(|m| m.name()).collect()
}

/// Key exchange methods we implement.
pub fn kex() -> Vec<&'static str> {
    KexAlg::IMPLEMENTED.iter().map(|k| k.name()).collect()
}

/// Signature algorithms we implement.
pub fn sigs() -> Vec<&'static str> {
    SigAlg::ALL.iter().map(|a| a.name()).collect()
}

/// Compression methods, in `ssh -Q compression` order (OpenSSH's
/// `compression_alg_list(0)`: none,zlib@openssh.com,zlib).
pub fn compression() -> Vec<&'static str> {
    Compression::ALL.iter().map(|c| c.name()).collect()
}

/// What ssh proposes (OpenSSH's `compression_alg_list(options.compression)`):
/// `Compression yes` prefers zlib, `no` prefers none but still accepts zlib.
pub fn client_compression(enabled: bool) -> Vec<String> {
    let list: &[&str] = if enabled {
        &["zlib@openssh.com", "zlib", "none"]
    } else {
        &["none", "zlib@openssh.com", "zlib"]
    };
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// What sshd offers: OpenSSH's KEX_DEFAULT_COMP (`none,zlib@openssh.com`: never plain
/// `zlib`, so nothing before authentication is inflated), or `none` for
/// `Compression no`.
pub fn server_compression(c: oxssh_config::Compression) -> Vec<String> {
    let list: &[&str] = match c {
        oxssh_config::Compression::Delayed => &["none", "zlib@openssh.com"],
        oxssh_config::Compression::No => &["none"],
    };
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The profile the binaries load their configuration with.
pub fn oxssh() -> Profile {
    let mut p = Profile::oxssh();
    let a = &mut p.algorithms;
    let (c, m, k, s) = (ciphers(), macs(), kex(), sigs());
    a.ciphers_all = c.join(",");
    a.ciphers_default = keep(&a.ciphers_default, &c);
    a.macs_all = m.join(",");
    a.macs_default = keep(&a.macs_default, &m);
    a.kex_all = k.join(",");
    a.kex_client_default = keep(&a.kex_client_default, &k);
    a.kex_server_default = keep(&a.kex_server_default, &k);
    a.pk_default = keep(&a.pk_default, &s);
    a.ca_sig_default = keep(&a.ca_sig_default, &s);
    p
}

/// Keep only the names of a negotiated list (as resolved by the config) that we
/// implement: a name we cannot do must never be offered.
pub fn supported(list: &str, implemented: &[&str]) -> Vec<String> {
    list.split(',')
        .filter(|n| implemented.contains(n))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_only_name_what_we_implement() {
        let p = oxssh();
        let a = &p.algorithms;
        assert!(a.kex_client_default.starts_with("mlkem768x25519-sha256,"));
        assert!(!a.macs_default.contains("umac"));
        assert!(
            a.ciphers_default
                .starts_with("chacha20-poly1305@openssh.com,aes128-gcm@openssh.com")
        );
        // Legacy CBC: listed like OpenSSH's `ssh -Q cipher`, offered only when configured.
        assert!(
            a.ciphers_all
                .starts_with("3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,")
        );
        assert!(!a.ciphers_default.contains("-cbc"));
        for n in a.pk_default.split(',') {
            assert!(SigAlg::from_name(n).is_some(), "{n}");
        }
    }
}
