//! `ssh-copy-id`: not built yet. Says so and exits 1 rather than pretending to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    oxssh_cli::not_yet_implemented("ssh-copy-id")
}
