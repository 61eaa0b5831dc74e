//! oxssh-interop-russh: hosts the interop tests of our `ssh` and `sshd` against
//! `russh`, a second, independent SSH implementation (`tests/russh.rs`). No code of
//! its own; `russh` is a dev-dependency only and never reaches a shipped binary.
