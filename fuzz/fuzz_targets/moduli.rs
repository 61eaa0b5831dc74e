//! Feeds the two readers of moduli(5) lines: sshd's `oxssh_proto::kex::methods::
//! parse_moduli` (the whole input as a moduli file, then `choose_group_with_rng` for a
//! DH-GEX request whose min/want/max come from the first 12 bytes) and ssh-keygen's
//! `-M screen` line parser `oxssh_keys::moduli::screen_line` (each line, one
//! Miller-Rabin trial), plus `-O start=` parsing (`parse_start`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_keys::moduli;
use oxssh_proto::kex::methods::{choose_group_with_rng, parse_moduli};
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (min, want, max) = (input.u32() % 9000, input.u32() % 9000, input.u32() % 9000);
    let text = String::from_utf8_lossy(input.rest());
    let entries = parse_moduli(&text);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    if let Some(g) = choose_group_with_rng(&entries, min, want, max, &mut rng) {
        // A group from the file must be one of its entries.
        if !entries.is_empty() {
            assert!(entries.iter().any(|e| e.group == g));
        }
    }
    for line in text.lines().take(16) {
        let s = moduli::screen_line(line, 1, 0);
        if s.is_candidate() {
            let _ = s.line("20260101000000");
        }
        let _ = moduli::parse_start(line);
    }
});
