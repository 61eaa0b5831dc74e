//! The I/O boundary: every file the configuration readers look at goes through
//! [`Fs`], so parsing stays pure and tests run against [`MemFs`].
//!
//! [`RealFs`] reads the real filesystem with bounded reads (no file larger than
//! [`MAX_FILE_SIZE`] is loaded). Globbing (`Include /etc/ssh/ssh_config.d/*.conf`)
//! is implemented once here on top of `read_dir`, following POSIX `glob(3)`
//! without flags: `*`, `?`, `[…]`, backslash escapes, no match for leading dots,
//! results sorted bytewise.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Largest configuration file read (bytes); bigger files are rejected.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Most paths one glob may return.
pub const MAX_GLOB_RESULTS: usize = 4096;

/// Ownership and mode of a file, for OpenSSH's "Bad owner or permissions" check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// File access used by the configuration readers.
pub trait Fs {
    /// Read a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Names of the entries of a directory (no `.`/`..`), in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Metadata of a path (following symlinks).
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;

    /// `glob(3)` with no flags: sorted matches; empty when nothing matches.
    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        glob_with(self, pattern)
    }
}

/// The real filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl Fs for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let f = std::fs::File::open(path)?;
        let mut buf = Vec::new();
        f.take(MAX_FILE_SIZE + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_FILE_SIZE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "File too large"));
        }
        Ok(buf)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(path)? {
            let e = e?;
            out.push(e.file_name().to_string_lossy().into_owned());
            if out.len() > 100_000 {
                break;
            }
        }
        Ok(out)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(FileMeta {
            is_dir: m.is_dir(),
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
        })
    }
}

/// An in-memory filesystem for tests: files by absolute path.
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, (Vec<u8>, FileMeta)>,
}

impl MemFs {
    /// Empty filesystem.
    pub fn new() -> Self {
        MemFs::default()
    }

    /// Add (or replace) a file owned by root with mode 0644.
    pub fn add(&mut self, path: impl Into<PathBuf>, contents: impl AsRef<[u8]>) -> &mut Self {
        self.add_with_meta(path, contents, 0, 0o644)
    }

    /// Add a file with an explicit owner and mode.
    pub fn add_with_meta(
        &mut self,
        path: impl Into<PathBuf>,
        contents: impl AsRef<[u8]>,
        uid: u32,
        mode: u32,
    ) -> &mut Self {
        self.files.insert(
            path.into(),
            (
                contents.as_ref().to_vec(),
                FileMeta {
                    is_dir: false,
                    uid,
                    gid: 0,
                    mode,
                },
            ),
        );
        self
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.files.keys().any(|k| k.starts_with(path) && k != path)
    }
}

impl Fs for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.files.get(path) {
            Some((d, _)) => Ok(d.clone()),
            None if self.is_dir(path) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "Is a directory",
            )),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "No such file or directory",
            )),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        if !self.is_dir(path) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "No such file or directory",
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for k in self.files.keys() {
            if let Ok(rest) = k.strip_prefix(path) {
                if let Some(first) = rest.components().next() {
                    let name = first.as_os_str().to_string_lossy().into_owned();
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        match self.files.get(path) {
            Some((_, m)) => Ok(*m),
            None if self.is_dir(path) => Ok(FileMeta {
                is_dir: true,
                uid: 0,
                gid: 0,
                mode: 0o755,
            }),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "No such file or directory",
            )),
        }
    }
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch` without flags except that a leading `.` must be matched literally.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if n.first() == Some(&'.')
        && p.first() != Some(&'.')
        && !(p.first() == Some(&'\\') && p.get(1) == Some(&'.'))
    {
        return false;
    }
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = p.get(pi) {
            match pc {
                '*' => {
                    while p.get(pi) == Some(&'*') {
                        pi += 1;
                    }
                    star = Some((pi, ni));
                    continue;
                }
                '?' if ni < n.len() => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    if let Some((matched, next)) =
                        bracket(&p, pi, n.get(ni).copied().unwrap_or('\0'))
                    {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n.get(ni) == Some(&'[') {
                        // An unterminated bracket matches itself.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if p.get(pi + 1).is_some() && n.get(ni) == p.get(pi + 1) => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '\\' && n.get(ni) == Some(&c) => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni >= n.len() {
            return true;
        }
        match star {
            Some((sp, sn)) if sn < n.len() => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Match one bracket expression at `p[start]`; returns (matched, index after `]`).
fn bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
            let hi = *p.get(i + 2)?;
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        if c == '\\' && !esc {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out
}

/// Glob on top of [`Fs::read_dir`] / [`Fs::metadata`].
pub fn glob_with<F: Fs + ?Sized>(fs: &F, pattern: &str) -> io::Result<Vec<PathBuf>> {
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    if !has_magic(pattern) {
        let p = PathBuf::from(unescape(pattern));
        return Ok(if fs.metadata(&p).is_ok() {
            vec![p]
        } else {
            Vec::new()
        });
    }
    let absolute = pattern.starts_with('/');
    let mut current: Vec<String> = vec![if absolute {
        "/".to_owned()
    } else {
        String::new()
    }];
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let trailing_slash = pattern.ends_with('/');
    for (idx, comp) in comps.iter().enumerate() {
        let last = idx + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            let join = |name: &str| -> String {
                if base.is_empty() {
                    name.to_owned()
                } else if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if has_magic(comp) {
                let dir = if base.is_empty() {
                    ".".to_owned()
                } else {
                    base.clone()
                };
                let Ok(mut names) = fs.read_dir(Path::new(&dir)) else {
                    continue;
                };
                names.sort();
                for n in names {
                    if fnmatch(comp, &n) {
                        let p = join(&n);
                        if (!last || trailing_slash)
                            && !fs.metadata(Path::new(&p)).is_ok_and(|m| m.is_dir)
                        {
                            continue;
                        }
                        next.push(p);
                        if next.len() > MAX_GLOB_RESULTS {
                            return Err(io::Error::other("too many glob results"));
                        }
                    }
                }
            } else {
                let p = join(&unescape(comp));
                if last {
                    if fs.metadata(Path::new(&p)).is_ok() {
                        next.push(p);
                    }
                } else {
                    next.push(p);
                }
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    let mut out: Vec<PathBuf> = current
        .into_iter()
        .map(|p| {
            if trailing_slash {
                PathBuf::from(format!("{p}/"))
            } else {
                PathBuf::from(p)
            }
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch("*.conf", "a.conf"));
        assert!(!fnmatch("*.conf", ".a.conf"));
        assert!(fnmatch(".*", ".a"));
        assert!(fnmatch("[ab]?", "bz"));
        assert!(!fnmatch("[!ab]?", "bz"));
        assert!(fnmatch("[a-c]x", "cx"));
        assert!(fnmatch("a\\*", "a*"));
    }

    #[test]
    fn mem_glob() {
        let mut fs = MemFs::new();
        fs.add("/etc/ssh/ssh_config.d/b.conf", "x");
        fs.add("/etc/ssh/ssh_config.d/a.conf", "x");
        fs.add("/etc/ssh/ssh_config.d/c.txt", "x");
        fs.add("/etc/ssh/ssh_config.d/.h.conf", "x");
        let g = fs.glob("/etc/ssh/ssh_config.d/*.conf").unwrap();
        assert_eq!(
            g,
            vec![
                PathBuf::from("/etc/ssh/ssh_config.d/a.conf"),
                PathBuf::from("/etc/ssh/ssh_config.d/b.conf")
            ]
        );
        assert!(fs.glob("/etc/nope/*").unwrap().is_empty());
        assert_eq!(fs.glob("/etc/ssh/ssh_config.d/c.txt").unwrap().len(), 1);
        assert_eq!(fs.glob("/etc/*/ssh_config.d/c.txt").unwrap().len(), 1);
    }
}
