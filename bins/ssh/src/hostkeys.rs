//! UpdateHostKeys: after authentication an OpenSSH server announces all its host keys
//! (global request `hostkeys-00@openssh.com`); ssh compares them with the user's
//! known_hosts, asks the server to prove possession of the new ones
//! (`hostkeys-prove-00@openssh.com`, each signature over "hostkeys-prove-00@openssh.com",
//! the session id and the key), and then records the new keys and drops the ones the
//! server no longer has — so a host key rotation needs no manual known_hosts edit.
//!
//! Only the first user known_hosts file gains keys; entries for the host are removed
//! from the others. Marker lines, wildcards and hand-written host lists make it stand
//! aside, as OpenSSH does.

use oxssh_config::{ClientConfig as Options, LogLevel, YesNoAsk};
use oxssh_keys::kh_update::{self, Survey};
use oxssh_proto::hostkey::{self, SigAlg};
use oxssh_proto::wire::{Put, Reader};
use ssh_key::PublicKey;

use crate::client::{Failure, Target};

const PROVE: &str = "hostkeys-prove-00@openssh.com";

/// Keys waiting for the server's proof.
struct Pending {
    keys: Vec<PublicKey>,
    survey: Survey,
}

/// The client side of one connection's host key update.
pub struct Updater {
    mode: YesNoAsk,
    batch: bool,
    files: Vec<String>,
    host: String,
    seen: bool,
    pending: Option<Pending>,
    log_level: LogLevel,
    hash: bool,
    fp: oxssh_keys::fingerprint::FpHash,
    host_key_algorithms: String,
}

/// A fresh salt for a hashed known_hosts name.
pub(crate) fn salt() -> [u8; 20] {
    let mut s = [0u8; 20];
    oxssh_keys::keyfile::random_bytes(&mut s);
    s
}

impl Updater {
    pub fn new(o: &Options, t: &Target) -> Updater {
        let files = crate::client::user_known_hosts(o, t)
            .into_iter()
            .map(|p| p.display().to_string())
            .filter(|p| p != "none")
            .collect();
        Updater {
            mode: o.update_host_keys,
            batch: o.batch_mode,
            files,
            host: crate::client::known_hosts_name(o, t),
            seen: false,
            pending: None,
            log_level: o.log_level,
            hash: o.hash_known_hosts,
            fp: crate::khcommand::fp_hash(o.fingerprint_hash),
            host_key_algorithms: o.host_key_algorithms.clone(),
        }
    }

    fn enabled(&self) -> bool {
        match self.mode {
            YesNoAsk::No => false,
            YesNoAsk::Ask if self.batch => false,
            _ => !self.files.is_empty(),
        }
    }

    fn verbose(&self, asking: bool, msg: &str) {
        if asking || self.log_level >= LogLevel::Verbose {
            tracing::info!("{msg}");
        }
    }

    /// Whether HostKeyAlgorithms lets this key type be learned (OpenSSH
    /// `hostkey_accepted_by_hostkeyalgs`).
    fn accepted(&self, key: &PublicKey) -> bool {
        let algs = &self.host_key_algorithms;
        let has = |n: &str| oxssh_config::pattern::match_pattern_list(n, algs, false) == 1;
        let name = key.algorithm();
        if matches!(name, ssh_key::Algorithm::Rsa { .. })
            && (has("rsa-sha2-256") || has("rsa-sha2-512"))
        {
            return true;
        }
        has(name.as_str())
    }

    fn read_files(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter_map(|f| match std::fs::read_to_string(f) {
                Ok(t) => Some((f.clone(), t)),
                Err(_) => {
                    tracing::debug!("hostkeys file {f} does not exist");
                    None
                }
            })
            .collect()
    }

    /// The server's `hostkeys-00@openssh.com` request. Returns the body of the
    /// `hostkeys-prove-00@openssh.com` request to send (want_reply set) when there are
    /// new keys to verify.
    pub fn on_hostkeys(
        &mut self,
        data: &[u8],
        kex_alg: Option<SigAlg>,
    ) -> Result<Option<Vec<u8>>, Failure> {
        if kex_alg.is_some_and(SigAlg::is_cert) {
            tracing::trace!(
                "client_input_hostkeys: certificate host key in use; disabling UpdateHostkeys"
            );
            return Ok(None);
        }
        if self.seen {
            return Err(Failure::Message(
                "client_input_hostkeys: server already sent hostkeys".into(),
            ));
        }
        if !self.enabled() {
            return Ok(None);
        }
        self.seen = true;
        let mut keys: Vec<PublicKey> = Vec::new();
        let mut r = Reader::new(data);
        while !r.is_empty() {
            let Ok(blob) = r.string() else {
                tracing::error!("client_input_hostkeys: parse key: incomplete message");
                return Ok(None);
            };
            let Ok(key) = PublicKey::from_bytes(blob) else {
                tracing::debug!(
                    "client_input_hostkeys: convert key: unknown or unsupported key type"
                );
                continue;
            };
            if key.key_data().is_certificate() || !self.accepted(&key) {
                tracing::debug!(
                    "client_input_hostkeys: {} key not permitted by HostkeyAlgorithms",
                    key.algorithm().as_str()
                );
                continue;
            }
            if keys.iter().any(|k| k.key_data() == key.key_data()) {
                tracing::error!(
                    "client_input_hostkeys: received duplicated {} host key",
                    key.algorithm().as_str()
                );
                return Ok(None);
            }
            keys.push(key);
        }
        if keys.is_empty() {
            tracing::debug!("client_input_hostkeys: server sent no hostkeys");
            return Ok(None);
        }
        let files = self.read_files();
        let survey = kh_update::survey(&files, &self.host, None, &keys);
        let nnew = survey.matched.iter().filter(|&&m| m == 0).count();
        tracing::debug!(
            "client_input_hostkeys: {} server keys: {nnew} new, {} retained, 0 incomplete match. {} to remove",
            keys.len(),
            keys.len() - nnew,
            survey.old.len()
        );
        if nnew == 0 && survey.old.is_empty() {
            tracing::debug!("client_input_hostkeys: no new or deprecated keys from server");
            return Ok(None);
        }
        if survey.complex {
            tracing::debug!(
                "client_input_hostkeys: CA/revocation marker, manual host list or wildcard host pattern found, skipping UserKnownHostsFile update"
            );
            return Ok(None);
        }
        if survey.other_name {
            tracing::debug!(
                "client_input_hostkeys: host key found matching a different name/address, skipping UserKnownHostsFile update"
            );
            return Ok(None);
        }
        if !survey.old.is_empty()
            && kh_update::old_keys_elsewhere(&files, &self.host, None, &survey.old)
        {
            tracing::debug!(
                "client_input_hostkeys: key(s) for {} exist under other names; skipping UserKnownHostsFile update",
                self.host
            );
            return Ok(None);
        }
        if nnew == 0 {
            // Only removals: no proof needed.
            let verified = vec![false; keys.len()];
            self.update(&keys, &verified, &survey);
            return Ok(None);
        }
        tracing::debug!("client_input_hostkeys: asking server to prove ownership for {nnew} keys");
        let mut body = Vec::new();
        for (k, &m) in keys.iter().zip(&survey.matched) {
            if m == 0 {
                body.put_string(&hostkey::public_blob(k));
            }
        }
        self.pending = Some(Pending { keys, survey });
        Ok(Some(body))
    }

    /// The answer to our `hostkeys-prove-00@openssh.com` request: one signature per new
    /// key, in order. `kex_alg` is the host key algorithm of the key exchange.
    pub fn on_prove_reply(
        &mut self,
        success: bool,
        data: &[u8],
        session_id: &[u8],
        kex_alg: Option<SigAlg>,
    ) {
        let Some(Pending { mut keys, survey }) = self.pending.take() else {
            return;
        };
        if !success {
            tracing::error!("Server failed to confirm ownership of private host keys");
            return;
        }
        let rsa_kex = kex_alg.filter(|a| a.is_rsa()).map(SigAlg::plain);
        let mut verified = vec![false; keys.len()];
        let mut r = Reader::new(data);
        let mut drop = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if survey.matched.get(i).copied().unwrap_or(1) != 0 {
                continue;
            }
            let mut signed = Vec::new();
            signed.put_str(PROVE);
            signed.put_string(session_id);
            signed.put_string(&hostkey::public_blob(key));
            let Ok(sig) = r.string() else {
                tracing::error!(
                    "client_global_hostkeys_prove_confirm: parse sig: incomplete message"
                );
                return;
            };
            let sig_name = Reader::new(sig).utf8().ok().and_then(SigAlg::from_name);
            let Some(sig_alg) = sig_name else {
                tracing::error!(
                    "client_global_hostkeys_prove_confirm: server gave unintelligible signature for {} key {i}",
                    oxssh_keys::fingerprint::type_label(key.key_data())
                );
                return;
            };
            let alg = if sig_alg.is_rsa() {
                match rsa_kex {
                    Some(a) => a,
                    None if matches!(sig_alg, SigAlg::RsaSha256 | SigAlg::RsaSha512) => sig_alg,
                    None => {
                        tracing::debug!(
                            "client_global_hostkeys_prove_confirm: server used untrusted RSA signature algorithm {} for key {i}, disregarding",
                            sig_alg.name()
                        );
                        drop.push(i);
                        continue;
                    }
                }
            } else {
                sig_alg
            };
            if hostkey::verify(alg, &hostkey::public_blob(key), &signed, sig).is_err() {
                tracing::error!(
                    "client_global_hostkeys_prove_confirm: server gave bad signature for {} key {i}: incorrect signature",
                    oxssh_keys::fingerprint::type_label(key.key_data())
                );
                return;
            }
            if let Some(v) = verified.get_mut(i) {
                *v = true;
            }
        }
        if !r.is_empty() {
            tracing::error!("client_global_hostkeys_prove_confirm: protocol error");
            return;
        }
        // Keys whose proof used a disregarded algorithm are neither added nor kept.
        let mut kept = Vec::new();
        let mut kept_verified = Vec::new();
        let mut matched = Vec::new();
        for (i, k) in keys.drain(..).enumerate() {
            if !drop.contains(&i) {
                kept.push(k);
                kept_verified.push(verified.get(i).copied().unwrap_or(false));
                matched.push(survey.matched.get(i).copied().unwrap_or(0));
            }
        }
        let survey = Survey { matched, ..survey };
        self.update(&kept, &kept_verified, &survey);
    }

    /// Report the changes, ask when UpdateHostKeys=ask, and rewrite the files.
    fn update(&mut self, keys: &[PublicKey], verified: &[bool], survey: &Survey) {
        let asking = self.mode == YesNoAsk::Ask;
        let mut first = true;
        let preamble = |first: &mut bool| {
            if *first && asking {
                tracing::info!("The server has updated its host keys.");
                tracing::info!("These changes were verified by the server's existing trusted key.");
            }
            *first = false;
        };
        for (k, _) in keys.iter().zip(verified).filter(|(_, v)| **v) {
            preamble(&mut first);
            self.verbose(
                asking,
                &format!(
                    "Learned new hostkey: {} {}",
                    oxssh_keys::fingerprint::type_label(k.key_data()),
                    oxssh_keys::fingerprint::fingerprint(k.key_data(), self.fp)
                ),
            );
        }
        for k in &survey.old {
            preamble(&mut first);
            self.verbose(
                asking,
                &format!(
                    "Deprecating obsolete hostkey: {} {}",
                    oxssh_keys::fingerprint::type_label(k.key_data()),
                    oxssh_keys::fingerprint::fingerprint(k.key_data(), self.fp)
                ),
            );
        }
        if asking {
            let mut yes = false;
            for _ in 0..3 {
                match oxssh_sys::tty::read_line_echo("Accept updated hostkeys? (yes/no): ") {
                    Ok(a) if a.trim().eq_ignore_ascii_case("yes") => {
                        yes = true;
                        break;
                    }
                    Ok(a) if !a.trim().eq_ignore_ascii_case("no") => {
                        tracing::info!("Please enter \"yes\" or \"no\"");
                    }
                    _ => break,
                }
            }
            if !yes {
                return;
            }
        }
        let mut salt_fn = salt;
        for (n, path) in self.files.iter().enumerate() {
            let Ok(text) = std::fs::read_to_string(path) else {
                tracing::debug!("update_known_hosts: known hosts file {path} does not exist");
                continue;
            };
            let add: &[PublicKey] = if n == 0 { keys } else { &[] };
            let hash: Option<&mut dyn FnMut() -> [u8; 20]> =
                if self.hash { Some(&mut salt_fn) } else { None };
            let r = kh_update::replace_entries(path, &text, &self.host, None, add, self.fp, hash);
            for l in &r.log {
                self.verbose(false, l);
            }
            if r.modified {
                if let Err(e) = write_with_backup(path, &r.text) {
                    tracing::error!(
                        "update_known_hosts: hostfile_replace_entries failed for {path}: {e}"
                    );
                }
            }
        }
    }
}

/// Replace `path` with `text`, keeping the previous contents as `path.old` (as OpenSSH
/// does), through a temporary file renamed into place.
fn write_with_backup(path: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = format!("{path}.{:08x}", std::process::id());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let r = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let back = format!("{path}.old");
    let _ = std::fs::remove_file(&back);
    if let Err(e) = std::fs::hard_link(path, &back).and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}
