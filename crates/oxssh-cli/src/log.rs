//! Diagnostics in OpenSSH's format: `-v`, `-vv`, `-vvv` print `debug1: `, `debug2: `,
//! `debug3: ` lines on stderr (or to the `-E` log file); errors print without a prefix.
//! The regress suite and users' scripts grep these lines, so the prefixes matter.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Print `msg` on stderr the way OpenSSH's `error()`/`fatal()`/`logit()` do: each line
/// ended with CR LF. Scripts that capture ssh's stderr see the same bytes.
/// With `-E`, OpenSSH sends these to the log file instead of stderr.
pub fn eprint(msg: &str) {
    let mut out = String::with_capacity(msg.len() + 8);
    for line in msg.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    let file = LOG_FILE.get().and_then(|f| f.try_clone().ok());
    let _ = match file {
        Some(mut f) => f.write_all(out.as_bytes()),
        None => std::io::stderr().write_all(out.as_bytes()),
    };
}

/// The `-E` log file, once [`init`] opened it.
static LOG_FILE: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// OpenSSH's LogLevel values, in increasing verbosity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Quiet,
    Fatal,
    Error,
    Info,
    Verbose,
    Debug1,
    Debug2,
    Debug3,
}

impl From<oxssh_config::LogLevel> for LogLevel {
    /// The LogLevel keyword of ssh_config / sshd_config.
    fn from(l: oxssh_config::LogLevel) -> LogLevel {
        use oxssh_config::LogLevel as C;
        match l {
            C::Quiet => LogLevel::Quiet,
            C::Fatal => LogLevel::Fatal,
            C::Error => LogLevel::Error,
            C::Info => LogLevel::Info,
            C::Verbose => LogLevel::Verbose,
            C::Debug1 => LogLevel::Debug1,
            C::Debug2 => LogLevel::Debug2,
            _ => LogLevel::Debug3,
        }
    }
}

impl LogLevel {
    /// INFO raised by `-v` count, as ssh's `-v` flag does.
    pub fn from_verbosity(base: LogLevel, v: u8) -> LogLevel {
        let mut l = base;
        for _ in 0..v {
            l = match l {
                LogLevel::Quiet
                | LogLevel::Fatal
                | LogLevel::Error
                | LogLevel::Info
                | LogLevel::Verbose => LogLevel::Debug1,
                LogLevel::Debug1 => LogLevel::Debug2,
                _ => LogLevel::Debug3,
            };
        }
        l
    }

    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.to_ascii_uppercase().as_str() {
            "QUIET" => LogLevel::Quiet,
            "FATAL" => LogLevel::Fatal,
            "ERROR" => LogLevel::Error,
            "INFO" => LogLevel::Info,
            "VERBOSE" => LogLevel::Verbose,
            "DEBUG" | "DEBUG1" => LogLevel::Debug1,
            "DEBUG2" => LogLevel::Debug2,
            "DEBUG3" => LogLevel::Debug3,
            _ => return None,
        })
    }

    fn max_tracing(self) -> Option<Level> {
        match self {
            LogLevel::Quiet => None,
            LogLevel::Fatal | LogLevel::Error => Some(Level::ERROR),
            LogLevel::Info => Some(Level::INFO),
            LogLevel::Verbose => Some(Level::INFO),
            LogLevel::Debug1 => Some(Level::DEBUG),
            LogLevel::Debug2 | LogLevel::Debug3 => Some(Level::TRACE),
        }
    }
}

struct OpenSshFormat;

impl<S, N> FormatEvent<S, N> for OpenSshFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let prefix = match *event.metadata().level() {
            Level::TRACE => "debug2: ",
            Level::DEBUG => "debug1: ",
            _ => "",
        };
        w.write_str(prefix)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        // OpenSSH's log writes CR LF to stderr (the terminal may be in raw mode).
        w.write_str("\r\n")
    }
}

/// Send diagnostics at `level` to stderr, or to `file` (the `-E` option) when given.
pub fn init(level: LogLevel, file: Option<std::fs::File>) {
    if let Some(f) = file.as_ref().and_then(|f| f.try_clone().ok()) {
        let _ = LOG_FILE.set(f);
    }
    let Some(max) = level.max_tracing() else {
        return;
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(max)
        .event_format(OpenSshFormat);
    let _ = match file {
        Some(f) => builder.with_writer(Mutex::new(f)).try_init(),
        None => builder.with_writer(StderrRaw).try_init(),
    };
}

/// Send diagnostics to syslog (the `/dev/log` socket) as `<PRI>ident[pid]: message`,
/// as OpenSSH's sshd does unless `-e`, `-E` or `-D`-with-stderr say otherwise. The
/// text of each line is what fail2ban's stock sshd filter reads.
pub fn init_syslog(level: LogLevel, ident: &'static str, facility: u8) {
    let Some(max) = level.max_tracing() else {
        return;
    };
    let socket = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.connect("/dev/log").map(|()| s))
        .ok();
    let writer = Syslog {
        socket: socket.map(std::sync::Arc::new),
        ident,
        facility,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(max)
        .event_format(OpenSshFormat)
        .with_writer(writer)
        .try_init();
}

/// The syslog priority of a tracing level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

#[derive(Clone)]
struct Syslog {
    socket: Option<std::sync::Arc<std::os::unix::net::UnixDatagram>>,
    ident: &'static str,
    facility: u8,
}

/// One message being formatted; sent as one datagram when dropped.
struct SyslogLine {
    socket: Option<std::sync::Arc<std::os::unix::net::UnixDatagram>>,
    prefix: String,
    buf: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(s) = &self.socket {
            let _ = s.send(format!("{}{text}", self.prefix).as_bytes());
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> Self::Writer {
        self.line(6)
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        self.line(severity(meta.level()))
    }
}

impl Syslog {
    fn line(&self, sev: u8) -> SyslogLine {
        let pri = u32::from(self.facility) * 8 + u32::from(sev);
        SyslogLine {
            socket: self.socket.clone(),
            prefix: format!("<{pri}>{}[{}]: ", self.ident, std::process::id()),
            buf: Vec::with_capacity(128),
        }
    }
}

/// stderr, written unbuffered line by line.
#[derive(Clone, Copy)]
struct StderrRaw;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrRaw {
    type Writer = Box<dyn Write + 'a>;
    fn make_writer(&'a self) -> Self::Writer {
        Box::new(std::io::stderr())
    }
}

/// Text from the peer made safe to print on a terminal, as OpenSSH's `fmprintf` makes
/// it (`utf8.c`): newline, carriage return and tab pass, and so does every printable
/// character; a control character (ESC, which would start a terminal escape sequence,
/// and the rest of C0, DEL, C1) is shown as `\ooo` octal for each of its bytes. Under a
/// locale whose character set is not UTF-8 (`C`, `POSIX`), every non-ASCII byte is
/// escaped too, as there the terminal is not known to show it.
pub fn sanitize(text: &str) -> String {
    sanitize_in(text, utf8_locale())
}

fn sanitize_in(text: &str, utf8: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let printable =
            matches!(c, '\n' | '\r' | '\t') || (!c.is_control() && (utf8 || c.is_ascii()));
        if printable {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:03o}"));
            }
        }
    }
    out
}

/// Whether the locale the environment selects for character types (LC_ALL, else
/// LC_CTYPE, else LANG) uses UTF-8.
fn utf8_locale() -> bool {
    let var = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    var.contains("utf-8") || var.contains("utf8")
}

#[cfg(test)]
mod sanitize_tests {
    use super::sanitize_in;

    #[test]
    fn control_characters_are_escaped_in_octal_and_layout_characters_pass() {
        assert_eq!(
            sanitize_in("a\x1b[2Jb\x07\x7f\n\r\tc", true),
            "a\\033[2Jb\\007\\177\n\r\tc"
        );
        // A C1 control is escaped byte by byte.
        assert_eq!(sanitize_in("x\u{9b}y", true), "x\\302\\233y");
        assert_eq!(sanitize_in("Grüße", true), "Grüße");
    }

    #[test]
    fn outside_a_utf8_locale_every_non_ascii_byte_is_escaped() {
        assert_eq!(sanitize_in("Grüße", false), "Gr\\303\\274\\303\\237e");
        assert_eq!(sanitize_in("plain text\n", false), "plain text\n");
    }
}
