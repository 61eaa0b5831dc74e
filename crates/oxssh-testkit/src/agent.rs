//! OpenSSH's own `ssh-agent`, as a peer for tests: started in the foreground on a
//! socket of its own (`ssh-agent -D -a <sock>`), loaded with `ssh-add`, killed and
//! reaped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `ssh-agent -D -a <sock>`.
pub struct OpenSshAgent {
    child: Child,
    sock: PathBuf,
}

impl OpenSshAgent {
    /// Start `bin` (OpenSSH's ssh-agent) with its socket `agent.sock` in `dir`.
    ///
    /// # Panics
    /// If it cannot be started or its socket does not appear within 10 s.
    pub fn start(bin: &Path, dir: &Path) -> OpenSshAgent {
        let sock = dir.join("agent.sock");
        let mut child = Command::new(bin)
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let start = Instant::now();
        while !sock.exists() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("ssh-agent exited: {st}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ssh-agent did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OpenSshAgent { child, sock }
    }

    /// The agent's socket, for SSH_AUTH_SOCK.
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// `ssh-add key` with `ssh_add` (OpenSSH's).
    ///
    /// # Panics
    /// If ssh-add fails.
    pub fn add(&self, ssh_add: &Path, key: &Path) {
        let st = Command::new(ssh_add)
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", ssh_add.display()));
        assert!(st.success(), "ssh-add {}", key.display());
    }
}

impl Drop for OpenSshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
