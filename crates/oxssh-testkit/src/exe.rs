//! Executables that tests write and then run (stand-in helpers, askpass scripts,
//! copies of sshd), written so that running them never fails with "Text file busy".
//!
//! Tests run as threads of one process. A file written here through a descriptor
//! would be inherited, still open for writing, by any child another thread forks in
//! that instant, and Linux refuses to exec a file open for writing (ETXTBSY). So the
//! bytes are written by a short-lived child process instead: no thread of the test
//! process ever holds a writable descriptor on the file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Write `contents` to `path` (created or truncated) with mode 0755.
pub fn write_executable(path: &Path, contents: impl AsRef<[u8]>) {
    let mut child = Command::new("/bin/sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("writing {}: /bin/sh: {e}", path.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(contents.as_ref())
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    drop(stdin);
    let status = child.wait().expect("waiting for /bin/sh");
    assert!(status.success(), "writing {}: {status}", path.display());
}

/// Write a `#!/bin/sh` script whose body is `body`, mode 0755.
pub fn write_script(path: &Path, body: &str) {
    write_executable(path, format!("#!/bin/sh\n{body}\n"));
}

/// Copy the file `from` to `to` with mode 0755.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("/bin/sh")
        .args(["-c", "cp \"$1\" \"$2\" && chmod 755 \"$2\"", "sh"])
        .arg(from)
        .arg(to)
        .status()
        .expect("running /bin/sh");
    assert!(
        status.success(),
        "copying {} to {}: {status}",
        from.display(),
        to.display()
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Many threads each write a script and run it at once, the pattern that made
    /// exec fail with ETXTBSY when the scripts were written in-process.
    #[test]
    fn scripts_written_while_other_threads_fork_always_run() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    for i in 0..60 {
                        let p = dir.join(format!("s{t}-{i}"));
                        write_script(&p, &format!("echo {t}-{i}"));
                        let out = Command::new(&p).output().unwrap();
                        assert_eq!(out.stdout, format!("{t}-{i}\n").into_bytes());
                        let copy = dir.join(format!("c{t}-{i}"));
                        copy_executable(&p, &copy);
                        let out = Command::new(&copy).output().unwrap();
                        assert_eq!(out.stdout, format!("{t}-{i}\n").into_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
