//! The keys ssh offers in `publickey` authentication, in OpenSSH's order
//! (`ssh.c` load_public_identity_files, `sshconnect2.c` pubkey_prepare):
//!
//! 1. certificates named by CertificateFile;
//! 2. keys held by the agent (`IdentityAgent` or `SSH_AUTH_SOCK`) — an agent key that
//!    is also an IdentityFile takes that file's place here; with IdentitiesOnly, agent
//!    keys that are not IdentityFiles are left out;
//! 3. the remaining IdentityFiles, each followed by `<file>-cert.pub` when that is a
//!    certificate and no CertificateFile was given;
//!
//! then filtered by PubkeyAcceptedAlgorithms. A certificate is signed for by the
//! identity holding its plain key (a file or the agent), found by key, or by file name
//! when only the private half is on disk.
//!
//! Not here: PKCS#11 and security-key (`sk-*`) signing, AddKeysToAgent.

use std::path::{Path, PathBuf};

use oxssh_agent::Client;
use oxssh_config::ClientConfig as Options;
use oxssh_proto::hostkey::{self, SigAlg};
use ssh_key::{PrivateKey, PublicKey};

/// One key ssh may offer.
pub struct Identity {
    /// The file it came from (the private key's path for `-cert.pub` companions), or
    /// the agent's comment.
    pub filename: String,
    /// The public key or certificate; `None` when only an encrypted private key with no
    /// `.pub` is on disk (its private half is loaded when its turn comes).
    pub key: Option<PublicKey>,
    /// The agent holds its private half.
    pub agent: bool,
    /// The user named it (IdentityFile, CertificateFile, -i), as opposed to a default.
    pub user_provided: bool,
}

impl Identity {
    /// OpenSSH's `format_identity`: `file TYPE fingerprint[ explicit][ agent]`.
    pub fn describe(&self) -> String {
        let key = self
            .key
            .as_ref()
            .map(|k| {
                // A certificate is known by its key's fingerprint, as in OpenSSH.
                let fp = oxssh_keys::fingerprint::fingerprint(
                    plain_key_data(k),
                    oxssh_keys::fingerprint::FpHash::Sha256,
                );
                format!(" {} {fp}", type_label(k))
            })
            .unwrap_or_default();
        format!(
            "{}{key}{}{}",
            self.filename,
            if self.user_provided { " explicit" } else { "" },
            if self.agent { " agent" } else { "" }
        )
    }
}

/// `ED25519`, `RSA-CERT`…, as OpenSSH's `sshkey_type`.
pub fn type_label(key: &PublicKey) -> String {
    match key.key_data().certificate() {
        Some(c) => oxssh_keys::fingerprint::cert_type_label(c.public_key()),
        None => oxssh_keys::fingerprint::type_label(key.key_data()).to_owned(),
    }
}

/// The identities, and the agent connection their agent keys sign through.
pub struct Identities {
    pub list: Vec<Identity>,
    pub agent: Option<Client>,
}

/// The plain key inside a certificate, or the key itself.
pub fn plain_key_data(key: &PublicKey) -> &ssh_key::public::KeyData {
    match key.key_data().certificate() {
        Some(c) => c.public_key(),
        None => key.key_data(),
    }
}

fn is_cert(key: &PublicKey) -> bool {
    key.key_data().is_certificate()
}

/// A public key or certificate line (`type base64 [comment]`).
pub fn parse_public(line: &str) -> Option<PublicKey> {
    PublicKey::from_openssh(line).ok().or_else(|| {
        let cert = ssh_key::Certificate::from_openssh(line).ok()?;
        let comment = cert.comment().to_owned();
        Some(PublicKey::new(cert.into(), comment))
    })
}

/// A public key or certificate wire blob.
pub fn parse_blob(blob: &[u8]) -> Option<PublicKey> {
    PublicKey::from_bytes(blob).ok().or_else(|| {
        let cert = ssh_key::Certificate::from_bytes(blob).ok()?;
        Some(PublicKey::new(cert.into(), ""))
    })
}

/// `sshkey_load_public`: the file itself as a public key, then `<file>.pub`, then the
/// public half of an (unencrypted or encrypted) OpenSSH private key file.
pub fn load_public(path: &Path) -> Option<PublicKey> {
    let read = |p: &Path| -> Option<PublicKey> {
        let meta = std::fs::metadata(p).ok()?;
        // Public key files are small; do not read anything huge into memory.
        if meta.len() > 1 << 20 {
            return None;
        }
        let text = std::fs::read_to_string(p).ok()?;
        parse_public(text.trim())
    };
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    read(path)
        .or_else(|| read(Path::new(&pub_path)))
        .or_else(|| {
            PrivateKey::read_openssh_file(path)
                .ok()
                .map(|k| k.public_key().clone())
        })
}

/// A path keyword's value with `~` and `%` tokens (and `${VAR}`) expanded.
fn expand(o: &Options, p: &str) -> String {
    let env = |name: &str| std::env::var(name).ok();
    o.expand(p, &[], Some(&env), true)
        .unwrap_or_else(|_| p.to_owned())
}

/// The agent socket: IdentityAgent (`none`, `SSH_AUTH_SOCK`, `$VAR` or a path), else
/// the `SSH_AUTH_SOCK` environment variable.
pub fn agent_socket(o: &Options) -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    match o.identity_agent.as_deref() {
        Some("none") => None,
        Some("SSH_AUTH_SOCK") | None => from_env("SSH_AUTH_SOCK"),
        Some(v) => match v.strip_prefix('$') {
            Some(var) => from_env(var),
            None => Some(PathBuf::from(expand(o, v))),
        },
    }
}

fn accepted(o: &Options, key: &PublicKey) -> bool {
    SigAlg::for_key(key).iter().any(|a| {
        o.pubkey_accepted_algorithms
            .split(',')
            .any(|n| n == a.name())
    })
}

/// Build the list, connecting to the agent when there is one.
pub async fn prepare(o: &Options) -> Identities {
    let mut files: Vec<Identity> = Vec::new();
    for f in &o.identity_files {
        let filename = expand(o, &f.path);
        let key = load_public(Path::new(&filename));
        tracing::debug!(
            "identity file {filename} type {}",
            key.as_ref().map(type_label).unwrap_or_else(|| "-1".into())
        );
        files.push(Identity {
            filename: filename.clone(),
            key,
            agent: false,
            user_provided: f.user_provided,
        });
        if !o.certificate_files.is_empty() {
            continue;
        }
        let cert_path = format!("{filename}-cert");
        match load_public(Path::new(&cert_path)) {
            Some(k) if is_cert(&k) => {
                tracing::debug!("identity file {cert_path} type {}", type_label(&k));
                files.push(Identity {
                    filename,
                    key: Some(k),
                    agent: false,
                    user_provided: f.user_provided,
                });
            }
            Some(k) => tracing::debug!(
                "load_public_identity_files: key {cert_path} type {} is not a certificate",
                type_label(&k)
            ),
            None => tracing::debug!("identity file {cert_path} type -1"),
        }
    }
    let mut preferred: Vec<Identity> = Vec::new();
    for f in &o.certificate_files {
        let filename = expand(o, &f.path);
        let key = load_public(Path::new(&filename));
        tracing::debug!(
            "certificate file {filename} type {}",
            key.as_ref().map(type_label).unwrap_or_else(|| "-1".into())
        );
        match key {
            Some(k)
                if k.key_data()
                    .certificate()
                    .is_some_and(|c| c.cert_type() == ssh_key::certificate::CertType::User) =>
            {
                preferred.push(Identity {
                    filename,
                    key: Some(k),
                    agent: false,
                    user_provided: f.user_provided,
                });
            }
            Some(k) => tracing::debug!(
                "load_public_identity_files: key {filename} type {} is not a certificate",
                type_label(&k)
            ),
            None => {}
        }
    }
    let mut agent = None;
    if let Some(sock) = agent_socket(o) {
        match Client::connect(&sock).await {
            Ok(mut c) => match c.identities().await {
                Ok(ids) => {
                    for id in ids {
                        let Some(key) = parse_blob(&id.key_blob) else {
                            continue;
                        };
                        let pos = files.iter().position(|f| {
                            f.key
                                .as_ref()
                                .is_some_and(|k| k.key_data() == key.key_data())
                        });
                        match pos {
                            Some(i) => {
                                let mut f = files.remove(i);
                                f.agent = true;
                                preferred.push(f);
                            }
                            None if !o.identities_only => preferred.push(Identity {
                                filename: id.comment,
                                key: Some(key),
                                agent: true,
                                user_provided: false,
                            }),
                            None => {}
                        }
                    }
                    agent = Some(c);
                }
                Err(e) => tracing::debug!("get_agent_identities: ssh_fetch_identitylist: {e}"),
            },
            Err(e) => {
                let why = match &e {
                    oxssh_agent::Error::Io(e) => crate::client::io_text(e),
                    e => e.to_string(),
                };
                tracing::debug!("get_agent_identities: ssh_get_authentication_socket: {why}");
            }
        }
    }
    preferred.append(&mut files);
    preferred.retain(|id| match &id.key {
        Some(k) if !accepted(o, k) => {
            tracing::debug!(
                "Skipping {} key {} - corresponding algorithm not in PubkeyAcceptedAlgorithms",
                type_label(k),
                id.filename
            );
            false
        }
        _ => true,
    });
    for id in &preferred {
        tracing::debug!("Will attempt key: {}", id.describe());
    }
    Identities {
        list: preferred,
        agent,
    }
}

/// Load a private key file, asking for its passphrase on the terminal when it is
/// encrypted (three tries, none in BatchMode). `None` when it cannot be had; a missing
/// file the user named is reported as OpenSSH does.
pub fn load_private(path: &Path, o: &Options, user_provided: bool) -> Option<PrivateKey> {
    if let Err(e) = std::fs::metadata(path) {
        let msg = format!(
            "no such identity: {}: {}",
            path.display(),
            crate::client::io_text(&e)
        );
        if user_provided && o.log_level >= oxssh_config::LogLevel::Info {
            oxssh_cli::log::eprint(&msg);
        } else {
            tracing::trace!("{msg}");
        }
        return None;
    }
    let key = match PrivateKey::read_openssh_file(path) {
        Ok(k) => k,
        Err(e) => {
            tracing::debug!("Load key \"{}\": {e}", path.display());
            return None;
        }
    };
    if !key.is_encrypted() {
        return Some(key);
    }
    if o.batch_mode {
        return None;
    }
    for _ in 0..3 {
        let prompt = format!("Enter passphrase for key '{}': ", path.display());
        // The terminal or SSH_ASKPASS, as OpenSSH's read_passphrase.
        let pass = crate::client::read_passphrase(&prompt, false);
        if pass.is_empty() {
            return None;
        }
        match key.decrypt(pass.as_bytes()) {
            Ok(k) => return Some(k),
            Err(_) => eprintln!("Bad passphrase, try again for {}", path.display()),
        }
    }
    None
}

/// The identity whose private half signs for `list[i]`: for a certificate, the
/// identity holding the same plain key, or (for a file whose public half could not be
/// loaded) the one of the same file name; otherwise `i` itself.
pub fn signer_for(list: &[Identity], i: usize) -> usize {
    let Some(id) = list.get(i) else { return i };
    let Some(cert) = id.key.as_ref().filter(|k| is_cert(k)) else {
        return i;
    };
    let by_key = list.iter().position(|p| {
        p.key
            .as_ref()
            .is_some_and(|k| !is_cert(k) && k.key_data() == plain_key_data(cert))
    });
    let by_name = || {
        if id.agent {
            return None;
        }
        list.iter()
            .position(|p| p.key.is_none() && p.filename == id.filename)
    };
    match by_key.or_else(by_name) {
        Some(j) => {
            let s = list.get(j).map(|p| (p.filename.as_str(), p.agent));
            if let Some((name, agent)) = s {
                tracing::trace!(
                    "sign_and_send_pubkey: using private key \"{name}\"{} for certificate",
                    if agent { " from agent" } else { "" }
                );
            }
            j
        }
        None => {
            tracing::debug!(
                "sign_and_send_pubkey: no separate private key for certificate \"{}\"",
                id.filename
            );
            i
        }
    }
}

/// Sign `data` for `alg` with identity `signer`, whose public half (if known) is
/// `public`: through the agent, or with the private key file.
pub async fn sign(
    ids: &mut Identities,
    signer: usize,
    alg: SigAlg,
    data: &[u8],
    o: &Options,
) -> Option<Vec<u8>> {
    let id = ids.list.get(signer)?;
    if id.agent {
        let key = id.key.as_ref()?;
        // The agent signs with the plain key; certificates are only what we present.
        let blob = oxssh_keys::fingerprint::blob(plain_key_data(key));
        let agent = ids.agent.as_mut()?;
        return match agent
            .sign(&blob, data, oxssh_agent::sign_flags(alg.name()))
            .await
        {
            Ok(sig) => Some(sig),
            Err(e) => {
                tracing::debug!("identity_sign: agent signing failed: {e}");
                None
            }
        };
    }
    let private = load_private(Path::new(&id.filename), o, id.user_provided)?;
    if let Some(public) = &id.key {
        if private.public_key().key_data() != plain_key_data(public) {
            oxssh_cli::log::eprint(&format!(
                "identity_sign: private key {} contents do not match public",
                id.filename
            ));
            return None;
        }
    }
    match hostkey::sign(&private, alg, data) {
        Ok(sig) => Some(sig),
        Err(e) => {
            tracing::debug!("identity_sign: {e}");
            None
        }
    }
}
