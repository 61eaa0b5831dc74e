//! oxssh-keys: the file formats around keys that every tool reads — known_hosts
//! (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), authorized_keys ("AUTHORIZED_KEYS FILE
//! FORMAT") and host pattern matching. Key encodings themselves come from `ssh-key`.
//!
//! Parsing is pure: callers read the files and pass their text, so every parser here
//! can be fed untrusted bytes in tests and fuzzers.

#![forbid(unsafe_code)]

pub mod authorized_keys;
pub mod known_hosts;
pub mod pattern;
