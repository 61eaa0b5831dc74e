//! The crate's one error type and the diagnostics (warnings, debug lines) that
//! reading a configuration produces.
//!
//! OpenSSH reports configuration problems as free-form lines on stderr whose exact
//! wording scripts and users rely on (`<file> line N: Bad port '0'.`,
//! `<file>: terminating, 2 bad configuration options`). Every message here keeps
//! OpenSSH's text verbatim in `message`, with the file and line also available as
//! structured fields for callers that want them.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// How loud a diagnostic is; mirrors OpenSSH's log levels so the binaries can
/// filter with `LogLevel`/`-v` exactly as OpenSSH does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `error()`: always shown unless `-q`.
    Error,
    /// `logit()`: shown at the default level.
    Info,
    /// `verbose()`.
    Verbose,
    /// `debug()`.
    Debug1,
    /// `debug2()`.
    Debug2,
    /// `debug3()`.
    Debug3,
}

/// One message produced while reading a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Severity.
    pub level: Level,
    /// File the message is about, when there is one (`command-line` for `-o`).
    pub file: Option<String>,
    /// Line number in `file` (0 for the command line).
    pub line: Option<u32>,
    /// The complete text, exactly as OpenSSH prints it.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(level: Level, message: impl Into<String>) -> Self {
        Diagnostic {
            level,
            file: None,
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(level: Level, file: &str, line: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            level,
            file: Some(file.to_owned()),
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Everything that can make loading a configuration fail.
///
/// `Display` gives the final line OpenSSH prints before exiting; [`Error::log`]
/// gives the diagnostics printed before it (for instance each bad line before
/// `terminating, N bad configuration options`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One or more lines of `file` were rejected. OpenSSH prints each rejected
    /// line's message, then `<file>: terminating, <count> bad configuration options`.
    #[error("{file}: terminating, {count} bad configuration options")]
    BadOptions {
        /// The file whose lines were rejected.
        file: String,
        /// How many lines were rejected.
        count: usize,
        /// Everything logged before giving up, including the rejected lines.
        log: Vec<Diagnostic>,
    },
    /// A problem OpenSSH treats as fatal straight away; `message` is its exact text,
    /// usually `<file> line N: …`.
    #[error("{message}")]
    Fatal {
        /// File concerned, if any.
        file: Option<String>,
        /// Line concerned, if any.
        line: Option<u32>,
        /// Exact text.
        message: String,
        /// Everything logged before the fatal message.
        log: Vec<Diagnostic>,
    },
    /// A command-line setting was rejected before any file was read (`sshd`
    /// prints `message` and exits 1; `ssh` exits 255).
    #[error("{message}")]
    Usage {
        /// Exact text.
        message: String,
        /// Everything logged before.
        log: Vec<Diagnostic>,
    },
    /// A configuration file could not be read; `message` is OpenSSH's text
    /// (`Can't open user config file …` for ssh, `<file>: No such file or
    /// directory` for sshd).
    #[error("{message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Exact text.
        message: String,
        /// Everything logged before.
        log: Vec<Diagnostic>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Diagnostics that OpenSSH would have printed before the final message.
    pub fn log(&self) -> &[Diagnostic] {
        match self {
            Error::BadOptions { log, .. }
            | Error::Fatal { log, .. }
            | Error::Io { log, .. }
            | Error::Usage { log, .. } => log,
        }
    }

    /// The file the error is about, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            Error::BadOptions { file, .. } => Some(file),
            Error::Fatal { file, .. } => file.as_deref(),
            Error::Io { .. } | Error::Usage { .. } => None,
        }
    }

    /// The line the error is about, if any.
    pub fn line(&self) -> Option<u32> {
        match self {
            Error::Fatal { line, .. } => *line,
            _ => None,
        }
    }

    /// Every line OpenSSH prints on stderr for this error at the default log level
    /// (errors and info messages logged before, then the final message).
    pub fn stderr_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .log()
            .iter()
            .filter(|d| d.level <= Level::Info)
            .map(|d| d.message.clone())
            .collect();
        out.push(self.to_string());
        out
    }

    /// The exit status `sshd` uses for this error: 1 when the main configuration
    /// file cannot be opened (OpenSSH calls `perror` then `exit(1)`), 255 otherwise.
    pub fn sshd_exit_code(&self) -> u8 {
        match self {
            Error::Io { .. } | Error::Usage { .. } => 1,
            _ => 255,
        }
    }

    pub(crate) fn fatal(message: impl Into<String>, log: Vec<Diagnostic>) -> Self {
        Error::Fatal {
            file: None,
            line: None,
            message: message.into(),
            log,
        }
    }
}
