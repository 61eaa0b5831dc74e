//! Shared command-line plumbing for the oxssh binaries.
//!
//! Every tool prints its errors the way OpenSSH does (`ssh: …` on stderr) and maps
//! outcomes to OpenSSH's exit codes. This crate holds that common behaviour so the
//! binaries in `bins/` stay thin: argument parsing plus wiring.

#![forbid(unsafe_code)]

pub mod getopt;
pub mod log;
pub mod profile;

use std::process::ExitCode;

/// What a tool that has not been built yet does: say so on stderr and exit 1.
///
/// A drop-in replacement must never pretend: a script that calls a missing tool gets a
/// clear message and a failing status rather than silent success.
pub fn not_yet_implemented(tool: &str) -> ExitCode {
    eprintln!("{tool}: not yet implemented");
    ExitCode::from(1)
}
