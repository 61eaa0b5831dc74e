//! Feeds `oxssh_config::parse_client_config_bytes`: the input is an ssh_config(5) file
//! read for `ssh example.com` (in-memory filesystem, fixed user and host, `Match exec`
//! answered from an empty table), evaluated and dumped as `ssh -G` prints it. Covers
//! the lexer, keyword table, Host/Match, Include (of the file itself), % tokens and
//! environment expansion, and the defaults pass.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oxssh_config::parse_client_config_bytes(data);
});
