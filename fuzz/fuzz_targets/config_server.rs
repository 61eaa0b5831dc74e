//! Feeds `oxssh_config::parse_server_config_bytes`: the input is an sshd_config(5)
//! file (in-memory filesystem), loaded, evaluated for an empty connection (so Match
//! blocks are tested) and dumped as `sshd -T` prints it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = oxssh_config::parse_server_config_bytes(data);
});
