//! Interop tests against OpenSSH.
