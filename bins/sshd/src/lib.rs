//! `sshd` as a library: everything but `main` (the listener and the command line), so
//! that the fuzz targets (`fuzz/`) can drive its state machines — user authentication
//! above all — with the bytes a hostile client could send.

pub mod config;
pub mod conn;
mod forward;
pub mod notify;
mod session;
pub mod srclimit;
pub mod startup;
