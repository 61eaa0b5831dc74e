//! PAM fixtures for tests of interactive authentication: a throwaway local user with a
//! known password ([`TestUser`]), an OATH secret for `pam_oath` with the next one-time
//! code computed by `oathtool` ([`Oath`]), and a PAM service file in `/etc/pam.d/`
//! ([`PamService`]) — each removed again on drop, also when the test panics.
//!
//! The service trick: OpenSSH's sshd passes its program name to `pam_start` as the
//! service, so a copy of `/usr/sbin/sshd` named after the service
//! ([`PamService::openssh_sshd`]) authenticates through `/etc/pam.d/<service>` and
//! nothing else on the machine is touched.
//!
//! All of this needs root (useradd, /etc/pam.d) and the packages `libpam-oath` and
//! `oathtool`. Without them the constructors print `skipping: <why>` and return `None`
//! (the test returns early); in CI (`CI=true`) they fail the test instead, because a
//! CI run that skips every PAM test would prove nothing — the peer rule of
//! [`crate::require_openssh`].
//!
//! Not here: PAM itself (the modules are the system's) and time control — a TOTP code
//! is the current one, and `pam_oath` refuses a code used twice, so a test that logs in
//! twice with TOTP waits for the next 30 s step or uses HOTP.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::bins::{is_ci, require_openssh};
use crate::run::Cmd;
use crate::sshd::{Sshd, SshdBuilder};

/// The command that installs what this module needs, on Debian.
pub const PAM_INSTALL: &str = "apt-get install -y libpam-oath oathtool";

/// Where Debian (and most Linux distributions) keep the PAM modules.
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/security",
    "/usr/lib/aarch64-linux-gnu/security",
    "/lib/x86_64-linux-gnu/security",
    "/lib/aarch64-linux-gnu/security",
    "/usr/lib/security",
    "/lib/security",
    "/usr/lib64/security",
];

/// `pam_oath`'s look-ahead: how many codes past the expected one it accepts.
pub const OATH_WINDOW: u64 = 20;

/// Digits of every one-time code here (pam_oath's and oathtool's default).
pub const OATH_DIGITS: usize = 6;

/// A number unique in this test process, for user and service names.
fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A missing prerequisite: skip (print why, `None`) outside CI, fail in CI.
fn prerequisite(ok: bool, why: impl FnOnce() -> String) -> Option<()> {
    if ok {
        return Some(());
    }
    let why = why();
    if is_ci() {
        panic!("{why}, and CI must run every PAM test");
    }
    eprintln!("skipping: {why}");
    None
}

/// Root, or `None` after `skipping: <what> needs root` (a panic in CI).
pub fn require_root(what: &str) -> Option<()> {
    prerequisite(oxssh_sys::geteuid() == 0, || format!("{what} needs root"))
}

/// The path of a PAM module (`"pam_oath.so"`), if installed.
pub fn pam_module(name: &str) -> Option<PathBuf> {
    MODULE_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// `oathtool`, or `None` after a skip line (a panic in CI).
pub fn require_oathtool() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/oathtool");
    prerequisite(path.is_file(), || {
        format!("oathtool is not installed (install it with `{PAM_INSTALL}`)")
    })?;
    Some(path)
}

/// A throwaway local account (`useradd -m`, shell `/bin/sh`, its own group) with a
/// known password set by `chpasswd`, so hashed the system's default way. Removed with
/// its home by `userdel -r -f` on drop, also when the test panics.
#[derive(Debug)]
pub struct TestUser {
    name: String,
    password: String,
}

impl TestUser {
    /// A new user `oxpam<pid>x<n>` with this password; `None` (after a skip line)
    /// without root.
    ///
    /// # Panics
    /// If useradd or chpasswd fail, or without root in CI.
    #[track_caller]
    pub fn create(password: &str) -> Option<TestUser> {
        require_root("creating a test user")?;
        let name = format!("oxpam{}", unique());
        Cmd::new("/usr/sbin/useradd")
            .args(["-m", "-s", "/bin/sh", &name])
            .run()
            .assert_success();
        // From here on, drop removes the user even if setting the password fails.
        let user = TestUser {
            name,
            password: password.to_owned(),
        };
        Cmd::new("/usr/sbin/chpasswd")
            .stdin(format!("{}:{password}\n", user.name))
            .run()
            .assert_success();
        Some(user)
    }

    /// The login name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The password it was given.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // -f: also while a session of the user is still being torn down.
        let _ = Cmd::new("/usr/sbin/userdel")
            .args(["-r", "-f", &self.name])
            .run();
    }
}

/// Which OATH algorithm a [`Oath`] secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OathMode {
    /// RFC 4226 event-based codes: the counter advances with each accepted code.
    Hotp,
    /// RFC 6238 time-based codes, 30 s steps.
    Totp,
}

/// A random OATH secret for one user, in a `pam_oath` usersfile of its own (in a temp
/// dir removed on drop).
#[derive(Debug)]
pub struct Oath {
    dir: tempfile::TempDir,
    usersfile: PathBuf,
    user: String,
    secret_hex: String,
    mode: OathMode,
    oathtool: PathBuf,
}

impl Oath {
    /// A fresh secret for `user`; `None` (after a skip line) when `pam_oath.so` or
    /// `oathtool` is missing.
    ///
    /// # Panics
    /// If the usersfile cannot be written, or a prerequisite is missing in CI.
    pub fn new(user: &str, mode: OathMode) -> Option<Oath> {
        prerequisite(pam_module("pam_oath.so").is_some(), || {
            format!("pam_oath.so is not installed (install it with `{PAM_INSTALL}`)")
        })?;
        let oathtool = require_oathtool()?;
        let mut secret = [0u8; 20];
        fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut secret))
            .expect("reading /dev/urandom");
        let secret_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let dir = tempfile::Builder::new()
            .prefix("oxssh-oath-")
            .tempdir()
            .expect("creating the usersfile's temp dir");
        let usersfile = dir.path().join("users.oath");
        let kind = match mode {
            OathMode::Hotp => "HOTP",
            OathMode::Totp => "HOTP/T30",
        };
        fs::write(&usersfile, format!("{kind} {user} - {secret_hex}\n"))
            .expect("writing the pam_oath usersfile");
        crate::home::set_mode(&usersfile, 0o600);
        Some(Oath {
            dir,
            usersfile,
            user: user.to_owned(),
            secret_hex,
            mode,
            oathtool,
        })
    }

    /// The usersfile (`pam_oath` rewrites it after each accepted code).
    pub fn usersfile(&self) -> &Path {
        &self.usersfile
    }

    /// The secret, hex encoded (as `oathtool` and the usersfile take it).
    pub fn secret_hex(&self) -> &str {
        &self.secret_hex
    }

    /// The PAM line that asks for this secret's codes:
    /// `auth required pam_oath.so usersfile=<file> window=20 digits=6`.
    pub fn pam_line(&self) -> String {
        format!(
            "auth required pam_oath.so usersfile={} window={OATH_WINDOW} digits={OATH_DIGITS}",
            self.usersfile.display()
        )
    }

    /// The prompt `pam_oath` shows: ``One-time password (OATH) for `<user>': ``.
    pub fn prompt(&self) -> String {
        format!("One-time password (OATH) for `{}': ", self.user)
    }

    /// The code `pam_oath` accepts next. HOTP: the one after the last accepted (the
    /// counter `pam_oath` writes into the usersfile), so call it again after each
    /// successful login. TOTP: the current time step's code.
    pub fn next_code(&self) -> String {
        self.codes(self.next_counter(), 0)
            .into_iter()
            .next()
            .expect("oathtool printed no code")
    }

    /// A well-formed code (six digits) that `pam_oath` accepts for none of the
    /// counters it would look at now.
    pub fn wrong_code(&self) -> String {
        // For TOTP the window reaches back as far as ahead: exclude both sides.
        let counter = self.next_counter();
        let from = counter.saturating_sub(OATH_WINDOW + 1);
        let valid = self.codes(from, counter - from + OATH_WINDOW + 1);
        (0..)
            .map(|n: u32| format!("{n:06}"))
            .find(|c| !valid.contains(c))
            .expect("a six-digit code outside the window")
    }

    /// The HOTP counter (for TOTP: the time step) of the next acceptable code.
    fn next_counter(&self) -> u64 {
        match self.mode {
            OathMode::Totp => u64::try_from(oxssh_sys::now_epoch()).unwrap_or(0) / 30,
            OathMode::Hotp => {
                let text = fs::read_to_string(&self.usersfile).expect("reading the usersfile");
                // `HOTP user - secret [counter otp time]`: after the first accepted code
                // pam_oath records the counter it used.
                text.split_whitespace()
                    .nth(4)
                    .map(|c| c.parse::<u64>().expect("a counter in the usersfile") + 1)
                    .unwrap_or(0)
            }
        }
    }

    /// `oathtool --hotp -c <counter> -w <extra>`: the codes for `counter` and the
    /// `extra` counters after it.
    fn codes(&self, counter: u64, extra: u64) -> Vec<String> {
        let out = Cmd::new(&self.oathtool)
            .args(["--hotp", "-d", &OATH_DIGITS.to_string()])
            .args(["-c", &counter.to_string(), "-w", &extra.to_string()])
            .arg(&self.secret_hex)
            .run();
        out.assert_success();
        out.stdout_str().lines().map(str::to_owned).collect()
    }

    /// The temp dir holding the usersfile.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A PAM service: the file `/etc/pam.d/oxtest-pam-<pid>x<n>` with the given stack,
/// removed on drop, and a temp dir for the sshd copy named after it.
#[derive(Debug)]
pub struct PamService {
    name: String,
    path: PathBuf,
    dir: tempfile::TempDir,
}

impl PamService {
    /// Install a service with these lines (e.g. `auth required pam_unix.so`, an
    /// [`Oath::pam_line`], `account required pam_unix.so`); `None` (after a skip
    /// line) without root.
    ///
    /// # Panics
    /// If the file cannot be written, or without root in CI.
    pub fn install<S: AsRef<str>>(stack: &[S]) -> Option<PamService> {
        require_root("installing a PAM service")?;
        let name = format!("oxtest-pam-{}", unique());
        let path = Path::new("/etc/pam.d").join(&name);
        let mut text = String::from("# written by oxssh-testkit, removed after the test\n");
        for line in stack {
            text.push_str(line.as_ref());
            text.push('\n');
        }
        let dir = tempfile::Builder::new()
            .prefix("oxssh-pam-")
            .tempdir()
            .expect("creating the service's temp dir");
        fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        crate::home::set_mode(&path, 0o644);
        Some(PamService { name, path, dir })
    }

    /// The service name (the file name under `/etc/pam.d`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/etc/pam.d/<name>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A builder for OpenSSH's sshd running as this service (a copy of
    /// `/usr/sbin/sshd` named `<name>`) with `UsePAM yes`; `None` (after a skip line)
    /// without OpenSSH's sshd. Start and drop the server before this service.
    pub fn openssh_sshd(&self) -> Option<SshdBuilder> {
        let sshd = require_openssh("sshd")?;
        let copy = self.dir.path().join(&self.name);
        if !copy.exists() {
            crate::copy_executable(&sshd, &copy);
        }
        Some(Sshd::builder(copy).config("UsePAM yes"))
    }

    /// The same for our sshd: a copy of our binary named `<name>` (our sshd also
    /// takes its program name as the PAM service), with `UsePAM yes`.
    pub fn our_sshd(&self) -> SshdBuilder {
        let ours = crate::bins::ours("sshd");
        let dir = self.dir.path().join("ours");
        fs::create_dir_all(&dir).expect("creating the copy's dir");
        let copy = dir.join(&self.name);
        if !copy.exists() {
            crate::copy_executable(&ours, &copy);
        }
        Sshd::builder(copy).config("UsePAM yes")
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotp_codes_follow_the_usersfile_counter() {
        if require_root("the OATH fixture").is_none() {
            return;
        }
        let Some(oath) = Oath::new("nobody", OathMode::Hotp) else {
            return;
        };
        // RFC 4226's test secret gives its published codes.
        let rfc = Oath {
            secret_hex: "3132333435363738393031323334353637383930".to_owned(),
            ..oath
        };
        assert_eq!(rfc.next_code(), "755224");
        fs::write(
            rfc.usersfile(),
            "HOTP\tnobody\t-\t3132333435363738393031323334353637383930\t1\t287082\t\n",
        )
        .unwrap();
        assert_eq!(rfc.next_code(), "359152");
        let wrong = rfc.wrong_code();
        assert_eq!(wrong.len(), 6);
        assert!(!rfc.codes(0, 60).contains(&wrong), "{wrong}");
        assert!(
            rfc.pam_line()
                .starts_with("auth required pam_oath.so usersfile=/")
        );
        assert_eq!(rfc.prompt(), "One-time password (OATH) for `nobody': ");
    }

    #[test]
    fn totp_code_is_oathtools_current_one() {
        if require_root("the OATH fixture").is_none() {
            return;
        }
        let Some(oath) = Oath::new("nobody", OathMode::Totp) else {
            return;
        };
        assert!(
            fs::read_to_string(oath.usersfile())
                .unwrap()
                .starts_with("HOTP/T30 nobody - ")
        );
        // Twice at most: a 30 s step may end between the two computations.
        let same = (0..2).any(|_| {
            let ours = oath.next_code();
            let out = Cmd::new("/usr/bin/oathtool")
                .args(["--totp", "-d", "6", oath.secret_hex()])
                .run();
            out.stdout_str().trim_end() == ours
        });
        assert!(same);
    }

    #[test]
    fn service_file_and_user_are_removed_on_drop() {
        let Some(service) = PamService::install(&["auth required pam_deny.so"]) else {
            return;
        };
        let path = service.path().to_owned();
        assert_eq!(
            fs::read_to_string(&path).unwrap().lines().last(),
            Some("auth required pam_deny.so")
        );
        drop(service);
        assert!(!path.exists());

        let user = TestUser::create("pw").unwrap();
        let name = user.name().to_owned();
        assert!(oxssh_sys::getpwnam(&name).is_some());
        drop(user);
        assert!(oxssh_sys::getpwnam(&name).is_none());
    }
}
