//! The `ssh` client as a library: everything but `main`, so that the fuzz targets
//! (`fuzz/`) can drive its state machines — the user-authentication loop above all —
//! with the bytes a hostile server could send.

pub mod client;
mod escape;
mod hostbased;
pub mod hostkeys;
mod identity;
mod khcommand;
pub mod options;
mod session;
mod tun;
mod x11;
