//! The few ssh-agent requests ssh-keygen makes (PROTOCOL.agent): list identities and
//! sign, for `-Y sign` with a key held by the agent and `-s … -U` (a CA key in the
//! agent). The protocol lives in `oxssh-agent`; any failure here means "not available".

use oxssh_agent::blocking::Client;

fn client() -> Option<Client> {
    Client::connect(std::env::var_os("SSH_AUTH_SOCK")?).ok()
}

/// Does the agent hold this key (or certificate)?
pub fn has_key(blob: &[u8]) -> bool {
    client()
        .and_then(|mut c| c.identities().ok())
        .is_some_and(|ids| ids.iter().any(|i| i.key_blob == blob))
}

/// Sign `data` with the agent's key; `alg` picks the RSA hash (`rsa-sha2-256`/`-512`).
pub fn sign(blob: &[u8], data: &[u8], alg: Option<&str>) -> Result<Vec<u8>, String> {
    let mut c = client().ok_or("communication with agent failed")?;
    let flags = alg.map_or(0, oxssh_agent::sign_flags);
    c.sign(blob, data, flags).map_err(|e| match e {
        oxssh_agent::Error::Refused => "agent refused operation".to_owned(),
        _ => "communication with agent failed".to_owned(),
    })
}
