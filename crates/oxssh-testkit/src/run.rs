//! Running a client binary (ours or OpenSSH's) to completion under a time limit, and
//! the captured result with assertions that print everything on failure.
//!
//! Not for daemons: [`crate::Sshd`] owns those.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a command may run unless [`Cmd::timeout`] says otherwise: generous, since the
/// machine may be busy with other builds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to keep reading output after the child exits, for a grandchild (such as a
/// `ProxyCommand`) that still holds the pipes.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signaled(i32),
    /// Still running at the time limit, so the kit killed it.
    TimedOut(Duration),
}

/// A command to run: program, arguments, environment changes, stdin bytes, time limit.
///
/// The child inherits this process's environment with the changes applied, gets
/// `/dev/null` as stdin unless [`Cmd::stdin`] gives bytes, and is killed if this process
/// dies.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    dir: Option<PathBuf>,
}

impl Cmd {
    /// A command running `program` (a path: use [`crate::openssh`] or [`crate::ours`]).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            dir: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set one environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Unset one environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Apply environment changes, `None` meaning unset: e.g. [`crate::TempHome::env`].
    pub fn envs(mut self, changes: impl IntoIterator<Item = (OsString, Option<OsString>)>) -> Self {
        self.env.extend(changes);
        self
    }

    /// Bytes for the child's stdin, which is closed after them.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The time limit (default [`DEFAULT_TIMEOUT`]); past it the child is killed.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// The child's working directory (default: this process's).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Run to completion (or to the time limit) and capture everything.
    ///
    /// # Panics
    /// If the program cannot be started at all.
    pub fn run(self) -> Output {
        let command = self.describe();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        oxssh_sys::kill_on_parent_death(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));

        if let (Some(bytes), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            // A child that exits without reading gives EPIPE here: not our failure.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Drain::start(child.stdout.take());
        let stderr = Drain::start(child.stderr.take());

        let started = Instant::now();
        let status = wait_bounded(&mut child, self.timeout, &command);
        let drained_by = Instant::now() + DRAIN_GRACE;
        Output {
            command,
            status,
            stdout: stdout.finish(drained_by),
            stderr: stderr.finish(drained_by),
            elapsed: started.elapsed(),
        }
    }

    fn describe(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

fn wait_bounded(child: &mut Child, limit: Duration, command: &str) -> Status {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                return match (st.code(), st.signal()) {
                    (Some(code), _) => Status::Exited(code),
                    (None, Some(sig)) => Status::Signaled(sig),
                    (None, None) => panic!("`{command}` ended with neither code nor signal"),
                };
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Status::TimedOut(limit);
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for `{command}`: {e}"),
        }
    }
}

/// A pipe read to its end on a thread, into a buffer that stays readable even if the
/// end never comes.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    done: Option<thread::JoinHandle<()>>,
}

impl Drain {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let done = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        });
        Drain { buf, done }
    }

    /// What was read by the end of the pipe or by `deadline`, whichever is first.
    fn finish(self, deadline: Instant) -> Vec<u8> {
        if let Some(done) = self.done {
            while !done.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
        }
        std::mem::take(&mut *self.buf.lock().unwrap())
    }
}

/// The result of [`Cmd::run`]. `Display` shows all of it, for assertion messages:
/// `assert!(cond, "{out}")`.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    pub status: Status,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Output {
    /// The exit code, if the program exited by itself.
    pub fn code(&self) -> Option<i32> {
        match self.status {
            Status::Exited(code) => Some(code),
            Status::Signaled(_) | Status::TimedOut(_) => None,
        }
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Assert the program exited with `code`; on failure the panic shows everything.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status,
            Status::Exited(code),
            "unexpected status\n{self}"
        );
        self
    }

    /// Assert the program exited with 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        match self.status {
            Status::Exited(code) => writeln!(f, "status:  exit {code}")?,
            Status::Signaled(sig) => writeln!(f, "status:  killed by signal {sig}")?,
            Status::TimedOut(limit) => writeln!(f, "status:  TIMED OUT after {limit:?}, killed")?,
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout_str())?;
        write!(f, "--- stderr ---\n{}", self.stderr_str())
    }
}

/// `s` single-quoted for /bin/sh, for tests that build a shell command line.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_stdout_stderr_code_and_stdin() {
        let out = Cmd::new("/bin/sh")
            .args(["-c", "cat; echo err >&2; exit 3"])
            .stdin("in\n")
            .run();
        assert_eq!(out.status, Status::Exited(3), "{out}");
        assert_eq!(out.stdout_str(), "in\n");
        assert_eq!(out.stderr_str(), "err\n");
        out.assert_code(3);
    }

    #[test]
    fn environment_changes_apply_in_order() {
        let out = Cmd::new("/bin/sh")
            .args(["-c", "echo \"${A-unset} ${B-unset}\""])
            .env("A", "1")
            .env("B", "2")
            .env_remove("B")
            .run();
        assert_eq!(out.assert_success().stdout_str(), "1 unset\n");
    }

    #[test]
    fn a_run_past_its_limit_is_killed_and_reported() {
        let out = Cmd::new("/bin/sleep")
            .arg("30")
            .timeout(Duration::from_millis(300))
            .run();
        assert_eq!(out.status, Status::TimedOut(Duration::from_millis(300)));
        assert_eq!(out.code(), None);
        assert!(out.elapsed < Duration::from_secs(20), "{out}");
        assert!(out.to_string().contains("TIMED OUT"));
    }

    #[test]
    fn a_signal_is_reported_as_such() {
        let out = Cmd::new("/bin/sh").args(["-c", "kill -TERM $$"]).run();
        assert_eq!(out.status, Status::Signaled(15), "{out}");
    }

    #[test]
    #[should_panic(expected = "unexpected status")]
    fn assert_code_fails_loudly() {
        Cmd::new("/bin/false").run().assert_success();
    }
}
