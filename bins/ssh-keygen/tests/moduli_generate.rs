//! `-M generate` against OpenSSH: bad `-O` options and output files get OpenSSH's
//! message and exit status (and leave the output file as OpenSSH leaves it); a real
//! 512-bit run prints OpenSSH's progress lines, writes moduli(5) candidate lines of
//! OpenSSH's form, keeps every candidate OpenSSH's deeper sieve keeps from the same
//! start, and its output screens (`-M screen`) the same with OpenSSH's tool as with ours.
//! Tests skip (or fail under CI=true) without OpenSSH.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use oxssh_testkit::{Cmd, Output, TempHome, ours, require_openssh};

fn run(bin: &Path, args: &[&str]) -> Output {
    // A debug build sieves a 512-bit range in tens of seconds on a busy machine.
    Cmd::new(bin)
        .args(args)
        .env("TZ", "UTC")
        .timeout(Duration::from_secs(300))
        .run()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn bad_options_fail_as_in_openssh() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    // Every case fails before any sieving, so OpenSSH answers at once too.
    let cases: &[&[&str]] = &[
        &["-O", "lines=5"],
        &["-O", "foo"],
        &["-O", "memory=0"],
        &["-O", "memory=x"],
        &["-O", "memory=1x"],
        &["-O", "memory=4294967296"],
        &["-O", "memory=4"],
        &["-O", "memory=200"],
        &["-O", "memory=4", "-O", "bits=100"],
        &["-O", "bits=100"],
        &["-O", "bits=511"],
        &["-O", "bits=70000"],
        &["-O", "bits=99999999999"],
        &["-O", "start=zz"],
        &["-O", "start="],
        &["-O", "bits=100", "-O", "start=zz"],
    ];
    for (i, opts) in cases.iter().enumerate() {
        let mut outs = Vec::new();
        for (bin, who) in [(&theirs, "theirs"), (&mine, "ours")] {
            let out = p(d, &format!("out{i}-{who}"));
            let mut args = vec!["-M", "generate"];
            args.extend_from_slice(opts);
            args.push(&out);
            let r = run(bin, &args);
            let exists = std::fs::metadata(&out).map(|m| m.len()).ok();
            outs.push((r.code(), r.stderr_str(), exists));
        }
        assert_eq!(outs[0], outs[1], "{opts:?}");
        assert_eq!(outs[1].0, Some(255), "{opts:?}");
    }
    for args in [
        &["-M", "generate"][..],
        &["-M", "generate", "a", "b"],
        &["-M", "generate", "-O", "bits=1024", "/nonexistent/dir/x"],
    ] {
        let a = run(&theirs, args);
        let b = run(&mine, args);
        assert_eq!(
            (a.code(), a.stderr_str()),
            (b.code(), b.stderr_str()),
            "{args:?}"
        );
    }
}

/// `ssh-keygen -M generate -O bits=512 -O start=START out` by OpenSSH 9.2p1 sieved
/// with the 203277289 odd primes below 2³² and found 3596 candidates; these are the
/// first 40, as q - START (the N of its `-vv` lines `debug2: test q = largebase+N`).
const START: &str = "60123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDF";
const OPENSSH_FIRST: &[u64] = &[
    1096, 1486, 2086, 2692, 3004, 4054, 4582, 5272, 5734, 6916, 7522, 11242, 13312, 16216, 16282,
    18016, 18412, 19222, 19726, 20722, 22012, 22624, 22636, 23074, 23326, 32104, 32452, 33196,
    33352, 34804, 36856, 36892, 38932, 39394, 41536, 43204, 44746, 44986, 45466, 47236,
];
const OPENSSH_FOUND: usize = 3596;

/// `YYYYMMDDHHMMSS 4 2 tries 510 0 hex`, and the q it holds.
fn parse_line(line: &str, tries: &str) -> String {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 7, "{line}");
    assert!(
        f[0].len() == 14 && f[0].bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    assert_eq!(&f[1..6], &["4", "2", tries, "510", "0"], "{line}");
    assert!(
        f[6].bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    );
    assert_eq!(f[6].len(), 128, "511 bits: {line}");
    f[6].to_owned()
}

/// A ctime-style stamp ("Wed Nov 25 21:13:05 2026 ") before each progress line.
fn strip_ctime(line: &str) -> &str {
    assert!(line.len() > 25 && line.as_bytes()[24] == b' ', "{line:?}");
    &line[25..]
}

#[test]
fn generated_candidates_are_openssh_candidates() {
    let theirs = require_openssh!("ssh-keygen");
    let mine = ours("ssh-keygen");
    let home = TempHome::new();
    let d = home.path();
    let out = p(d, "candidates");
    let start = format!("start={START}");
    let r = run(
        &mine,
        &["-M", "generate", "-O", "bits=512", "-O", &start, &out],
    );
    r.assert_success();
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 1000, "{} candidates", lines.len());

    // Progress lines: OpenSSH's words, CRLF-terminated as its logit() ends them.
    let err = r.stderr_str();
    let progress: Vec<&str> = err.split_terminator("\r\n").collect();
    assert_eq!(progress.len(), 3, "{err:?}");
    assert_eq!(strip_ctime(progress[0]), "Sieve next 4177920 plus 511-bit");
    let sieved = strip_ctime(progress[1]);
    let tries = sieved
        .strip_prefix("Sieved with ")
        .and_then(|s| s.split_once(" small primes in "))
        .map(|(n, _)| n.to_owned())
        .unwrap_or_else(|| panic!("{sieved:?}"));
    assert!(sieved.ends_with(" seconds"), "{sieved:?}");
    assert_eq!(
        strip_ctime(progress[2]),
        format!("Found {} candidates", lines.len())
    );

    let ours: Vec<String> = lines.iter().map(|l| parse_line(l, &tries)).collect();
    // OpenSSH's survivors are a subset of ours: our sieve is shallower, never wrong.
    // q - START is small, so the low 64 bits give it.
    let low = |h: &str| u64::from_str_radix(&h[h.len() - 16..], 16).unwrap();
    let offsets: Vec<u64> = ours
        .iter()
        .map(|q| {
            assert_eq!(&q[..100], &START[..100]);
            low(q).wrapping_sub(low(START))
        })
        .collect();
    let last = *OPENSSH_FIRST.last().unwrap();
    let ours_first: Vec<u64> = offsets.iter().copied().filter(|&o| o <= last).collect();
    for o in OPENSSH_FIRST {
        assert!(
            ours_first.contains(o),
            "OpenSSH's candidate START+{o} missing"
        );
    }
    // … and not many more: the primes from 2²⁸ to 2³² strike few.
    assert!(
        ours_first.len() * 10 <= OPENSSH_FIRST.len() * 15,
        "{ours_first:?}"
    );
    assert!(lines.len() >= OPENSSH_FOUND && lines.len() * 10 <= OPENSSH_FOUND * 15);
    // Every survivor is free of small factors, in q and in p = 2q + 1.
    for q in ours.iter().take(200) {
        for s in [3u32, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 997] {
            let r = q
                .bytes()
                .map(|c| char::from(c).to_digit(16).unwrap())
                .fold(0u32, |r, d| (r * 16 + d) % s);
            assert!(r != 0 && (2 * r + 1) % s != 0, "{q} vs {s}");
        }
    }

    // OpenSSH's screening takes our file; both tools find the same safe primes.
    let head = p(d, "head");
    std::fs::write(&head, lines[..400].join("\n") + "\n").unwrap();
    let mut found = Vec::new();
    for (bin, who) in [(&theirs, "theirs"), (&mine, "ours")] {
        let moduli = p(d, &format!("moduli-{who}"));
        let r = run(bin, &["-M", "screen", "-f", &head, &moduli]);
        r.assert_success();
        let msg = r.stderr_str();
        let tail = msg.get(25..).unwrap_or_default().to_owned();
        let tail = tail.split(" in ").next().unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(&moduli).unwrap_or_default();
        let safe: Vec<String> = text
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect();
        found.push((tail, safe));
    }
    assert_eq!(found[0], found[1]);
    assert!(
        found[0].0.starts_with("Found ") && found[0].0.contains(" safe primes of "),
        "{:?}",
        found[0].0
    );
}
