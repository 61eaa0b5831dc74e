//! oxssh-keys: the file formats around keys that every tool reads — key files
//! (`keyfile`), fingerprints and randomart (`fingerprint`), known_hosts (sshd(8)
//! "SSH_KNOWN_HOSTS FILE FORMAT") and its ssh-keygen edits (`kh_edit`), authorized_keys
//! ("AUTHORIZED_KEYS FILE FORMAT"), host pattern matching, and key generation rules
//! (`generate`), certificates and their policy (`cert`), OpenSSH's time formats
//! (`timefmt`), SSH signatures (`sshsig`), allowed_signers, KRLs (`krl`) and moduli screening. Key encodings themselves come from `ssh-key`.
//!
//! Parsing is pure: callers read the files and pass their text, so every parser here
//! can be fed untrusted bytes in tests and fuzzers. `keyfile` alone also writes files
//! (atomically, with OpenSSH's modes).

#![forbid(unsafe_code)]

pub mod allowed_signers;
pub mod authorized_keys;
pub mod cert;
pub mod fingerprint;
pub mod generate;
pub mod keyfile;
pub mod kh_edit;
pub mod kh_update;
pub mod known_hosts;
pub mod krl;
pub mod moduli;
pub mod pattern;
pub mod sshcom;
pub mod sshsig;
pub mod timefmt;
