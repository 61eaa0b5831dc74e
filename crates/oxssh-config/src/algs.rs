//! Algorithm name lists: what is known ("all"), what is offered by default, how
//! `+`/`-`/`^` edits and wildcard lists are assembled (`kex_assemble_names`),
//! and the validation OpenSSH applies when reading `Ciphers`, `MACs`,
//! `KexAlgorithms` and the key-type keywords.
//!
//! The lists are data in an [`Algorithms`] value so that the defaults can be
//! injected: [`Algorithms::openssh_9_2`] reproduces the reference OpenSSH the
//! differential tests run against, [`Algorithms::openssh_10`] is what the oxssh
//! binaries offer.

use crate::pattern::{filter_list, match_pattern_list};

/// One public-key algorithm as OpenSSH's `sshkey_impl` table describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyType {
    /// Wire name.
    pub name: &'static str,
    /// Short name (`RSA`, `ED25519`, …) accepted in key-type lists.
    pub shortname: &'static str,
    /// Certificate type.
    pub cert: bool,
    /// Signature-only algorithm (no key of its own).
    pub sigonly: bool,
}

const fn kt(name: &'static str, shortname: &'static str, cert: bool, sigonly: bool) -> KeyType {
    KeyType {
        name,
        shortname,
        cert,
        sigonly,
    }
}

/// The key table of OpenSSH 9.2 (OpenSSL build, no XMSS), in table order.
const KEYS_9_2: &[KeyType] = &[
    kt("ssh-ed25519", "ED25519", false, false),
    kt(
        "ssh-ed25519-cert-v01@openssh.com",
        "ED25519-CERT",
        true,
        false,
    ),
    kt("sk-ssh-ed25519@openssh.com", "ED25519-SK", false, false),
    kt(
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "ED25519-SK-CERT",
        true,
        false,
    ),
    kt("ecdsa-sha2-nistp256", "ECDSA", false, false),
    kt(
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ECDSA-CERT",
        true,
        false,
    ),
    kt("ecdsa-sha2-nistp384", "ECDSA", false, false),
    kt(
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ECDSA-CERT",
        true,
        false,
    ),
    kt("ecdsa-sha2-nistp521", "ECDSA", false, false),
    kt(
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ECDSA-CERT",
        true,
        false,
    ),
    kt(
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ECDSA-SK",
        false,
        false,
    ),
    kt(
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ECDSA-SK-CERT",
        true,
        false,
    ),
    kt(
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
        "ECDSA-SK",
        false,
        true,
    ),
    kt("ssh-dss", "DSA", false, false),
    kt("ssh-dss-cert-v01@openssh.com", "DSA-CERT", true, false),
    kt("ssh-rsa", "RSA", false, false),
    kt("ssh-rsa-cert-v01@openssh.com", "RSA-CERT", true, false),
    kt("rsa-sha2-256", "RSA", false, true),
    kt("rsa-sha2-256-cert-v01@openssh.com", "RSA-CERT", true, true),
    kt("rsa-sha2-512", "RSA", false, true),
    kt("rsa-sha2-512-cert-v01@openssh.com", "RSA-CERT", true, true),
];

const CIPHERS_ALL: &str = "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,\
aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";

const MACS_ALL: &str = "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,\
umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,\
hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,\
hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com";

const KEX_ALL_9_2: &str = "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,\
diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,\
diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,\
curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com";

const KEX_DEFAULT_9_2: &str = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,\
curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,\
diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,\
diffie-hellman-group14-sha256";

const CIPHERS_DEFAULT_9_2: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,\
aes128-gcm@openssh.com,aes256-gcm@openssh.com";

const MACS_DEFAULT: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,\
hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,\
hmac-sha2-256,hmac-sha2-512,hmac-sha1";

const PK_DEFAULT: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,\
ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,\
sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,\
rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,\
ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,\
rsa-sha2-512,rsa-sha2-256";

const CA_SIG_DEFAULT: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,\
sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";

const GSS_KEX_ALL: &str = "gss-gex-sha1-,gss-group1-sha1-,gss-group14-sha1-,gss-group14-sha256-,\
gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-";

const GSS_KEX_DEFAULT: &str = "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,\
gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-";

/// Known and default algorithm lists (comma-separated, in preference order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Algorithms {
    /// Every cipher known (`ssh -Q cipher`).
    pub ciphers_all: String,
    /// Default `Ciphers`.
    pub ciphers_default: String,
    /// Every MAC known.
    pub macs_all: String,
    /// Default `MACs`.
    pub macs_default: String,
    /// Every key exchange known.
    pub kex_all: String,
    /// Default client `KexAlgorithms`.
    pub kex_client_default: String,
    /// Default server `KexAlgorithms`.
    pub kex_server_default: String,
    /// The public-key algorithm table.
    pub key_types: Vec<KeyType>,
    /// Default host key / pubkey / hostbased algorithms (`KEX_DEFAULT_PK_ALG`).
    pub pk_default: String,
    /// Default `CASignatureAlgorithms`.
    pub ca_sig_default: String,
    /// Every GSSAPI key exchange known (Debian's GSSAPI patch).
    pub gss_kex_all: String,
    /// Default `GSSAPIKexAlgorithms`.
    pub gss_kex_default: String,
}

impl Algorithms {
    /// The lists of OpenSSH 9.2p1 as built by Debian 12.
    pub fn openssh_9_2() -> Self {
        Algorithms {
            ciphers_all: CIPHERS_ALL.to_owned(),
            ciphers_default: CIPHERS_DEFAULT_9_2.to_owned(),
            macs_all: MACS_ALL.to_owned(),
            macs_default: MACS_DEFAULT.to_owned(),
            kex_all: KEX_ALL_9_2.to_owned(),
            kex_client_default: KEX_DEFAULT_9_2.to_owned(),
            kex_server_default: KEX_DEFAULT_9_2.to_owned(),
            key_types: KEYS_9_2.to_vec(),
            pk_default: PK_DEFAULT.to_owned(),
            ca_sig_default: CA_SIG_DEFAULT.to_owned(),
            gss_kex_all: GSS_KEX_ALL.to_owned(),
            gss_kex_default: GSS_KEX_DEFAULT.to_owned(),
        }
    }

    /// The lists of OpenSSH 10.0: ML-KEM hybrid key exchange first, no DSA,
    /// finite-field DH only in the client's list, AES-GCM before AES-CTR.
    pub fn openssh_10() -> Self {
        let kex_all = format!("{KEX_ALL_9_2},mlkem768x25519-sha256");
        let kex_server = "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,\
curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521";
        let kex_client = format!(
            "{kex_server},diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,\
diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
        );
        Algorithms {
            ciphers_all: CIPHERS_ALL.to_owned(),
            ciphers_default:
                "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,\
aes128-ctr,aes192-ctr,aes256-ctr"
                    .to_owned(),
            macs_all: MACS_ALL.to_owned(),
            macs_default: MACS_DEFAULT.to_owned(),
            kex_all,
            kex_client_default: kex_client,
            kex_server_default: kex_server.to_owned(),
            key_types: KEYS_9_2
                .iter()
                .filter(|k| !k.name.starts_with("ssh-dss"))
                .cloned()
                .collect(),
            pk_default: PK_DEFAULT.to_owned(),
            ca_sig_default: CA_SIG_DEFAULT.to_owned(),
            gss_kex_all: GSS_KEX_ALL.to_owned(),
            gss_kex_default: GSS_KEX_DEFAULT.to_owned(),
        }
    }

    /// `sshkey_alg_list(0, 0, 1)`: every key algorithm including signature-only ones.
    pub fn keys_all(&self) -> String {
        self.key_types
            .iter()
            .map(|k| k.name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `sshkey_alg_list(0, 1, 1)`: plain (non-certificate) signature algorithms.
    pub fn sigs_all(&self) -> String {
        self.key_types
            .iter()
            .filter(|k| !k.cert)
            .map(|k| k.name)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn names_valid(list: &str, all: &str) -> bool {
        if list.is_empty() {
            return false;
        }
        for p in list.split(',') {
            if p.is_empty() {
                break;
            }
            if !all.split(',').any(|a| a == p) {
                return false;
            }
        }
        true
    }

    /// `ciphers_valid`.
    pub fn ciphers_valid(&self, list: &str) -> bool {
        Self::names_valid(list, &self.ciphers_all)
    }

    /// `mac_valid`.
    pub fn macs_valid(&self, list: &str) -> bool {
        Self::names_valid(list, &self.macs_all)
    }

    fn kex_alg_known(&self, name: &str) -> bool {
        self.kex_all.split(',').any(|a| a == name)
            || self.gss_kex_all.split(',').any(|g| name.starts_with(g))
    }

    /// `kex_names_valid` (`gss_only == false`) or Debian's `kex_gss_names_valid`.
    /// `Err(Some(name))` when OpenSSH logs `Unsupported KEX algorithm "name"`.
    pub fn kex_check(&self, list: &str, gss_only: bool) -> Result<(), Option<String>> {
        if list.is_empty() {
            return Err(None);
        }
        for p in list.split(',') {
            if p.is_empty() {
                break;
            }
            if (gss_only && !p.starts_with("gss-")) || !self.kex_alg_known(p) {
                return Err(Some(crate::misc::trunc(p, 100).to_owned()));
            }
        }
        Ok(())
    }

    /// `sshkey_names_valid2(list, 1)`: exact names, short names (plain types,
    /// any case) or patterns matching at least one known type.
    pub fn key_names_valid(&self, list: &str) -> bool {
        if list.is_empty() {
            return false;
        }
        for p in list.split(',') {
            if p.is_empty() {
                break;
            }
            let exact = self
                .key_types
                .iter()
                .any(|k| k.name == p || (!k.cert && k.shortname.eq_ignore_ascii_case(p)));
            if exact {
                continue;
            }
            if !self
                .key_types
                .iter()
                .any(|k| match_pattern_list(k.name, p, false) != 0)
            {
                return false;
            }
        }
        true
    }
}

/// `kex_names_cat`: append `b`'s names not already in `a`.
fn names_cat(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_owned();
    }
    if b.is_empty() {
        return a.to_owned();
    }
    let mut out = a.to_owned();
    for p in b.split(',') {
        if p.is_empty() {
            break;
        }
        let present = out.split(',').take_while(|x| !x.is_empty()).any(|x| x == p);
        if present {
            continue;
        }
        out.push(',');
        out.push_str(p);
    }
    out
}

/// `match_filter_allowlist(default, all)`: the default list restricted to known names.
pub(crate) fn filter_default(def: &str, all: &str) -> String {
    filter_list(def, all, false)
}

/// `kex_assemble_names`: apply a configured list (possibly `+`, `-` or `^`
/// prefixed, possibly with wildcards) to a default. `Err` when the result is
/// empty or a `!` negation appears (OpenSSH's `invalid argument`).
pub(crate) fn assemble(configured: Option<&str>, def: &str, all: &str) -> Result<String, ()> {
    let list = match configured {
        None | Some("") => return Ok(def.to_owned()),
        Some(l) => l,
    };
    let list: String = if let Some(r) = list.strip_prefix('+') {
        names_cat(def, r)
    } else if let Some(r) = list.strip_prefix('-') {
        return Ok(filter_list(def, r, true));
    } else if let Some(r) = list.strip_prefix('^') {
        names_cat(r, def)
    } else {
        list.to_owned()
    };
    let mut ret = String::new();
    for cp in list.split(',') {
        if cp.starts_with('!') {
            return Err(());
        }
        let matching = filter_list(all, cp, false);
        ret = names_cat(&ret, &matching);
    }
    if ret.is_empty() {
        return Err(());
    }
    Ok(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemble_edits() {
        let all = "a,b,c,d";
        assert_eq!(assemble(None, "a,b", all).unwrap(), "a,b");
        assert_eq!(assemble(Some("+c"), "a,b", all).unwrap(), "a,b,c");
        assert_eq!(assemble(Some("+a"), "a,b", all).unwrap(), "a,b");
        assert_eq!(assemble(Some("-a"), "a,b", all).unwrap(), "b");
        assert_eq!(assemble(Some("^d"), "a,b", all).unwrap(), "d,a,b");
        assert_eq!(assemble(Some("*"), "a,b", all).unwrap(), "a,b,c,d");
        assert!(assemble(Some("zz"), "a,b", all).is_err());
        assert!(assemble(Some("!a"), "a,b", all).is_err());
    }

    #[test]
    fn key_validation() {
        let a = Algorithms::openssh_9_2();
        assert!(a.key_names_valid("ssh-ed25519,rsa-sha2-512"));
        assert!(a.key_names_valid("RSA"));
        assert!(a.key_names_valid("*-cert-v01@openssh.com"));
        assert!(!a.key_names_valid("nope"));
        assert!(a.ciphers_valid("aes128-ctr"));
        assert!(!a.ciphers_valid("none"));
        assert!(a.ciphers_valid("aes128-ctr,,bogus"));
    }
}
