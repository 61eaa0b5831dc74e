//! Feeds OpenSSH's time formats in `oxssh_keys::timefmt`: the input as TZif data
//! (tzfile(5), what the caller reads from /usr/share/zoneinfo) to `Zone::from_tzif`,
//! and as text whose lines go to `convtime` (`1h30m`) and `parse_absolute`
//! (`YYYYMMDD[HHMM[SS]][Z|UTC]`) in that zone (UTC when the data is not TZif). Times
//! read from the input are formatted back with `format_absolute` / `format_ctime` and
//! converted with `offset_at` / `local_to_utc`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_fuzz::Input;
use oxssh_keys::timefmt::{self, Zone};

fuzz_target!(|data: &[u8]| {
    let zone = Zone::from_tzif(data).unwrap_or_else(Zone::utc);
    let mut input = Input::new(data);
    for _ in 0..4 {
        let t = input.u64();
        let _ = timefmt::format_absolute(t, &zone);
        let _ = timefmt::format_ctime(t, &zone);
        let _ = zone.offset_at(t as i64);
        let _ = zone.local_to_utc(t as i64);
    }
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(32) {
        if let Some(secs) = timefmt::convtime(line) {
            assert!((0..=i64::from(i32::MAX)).contains(&secs));
        }
        if let Some(t) = timefmt::parse_absolute(line, &zone) {
            let _ = timefmt::format_absolute(t, &zone);
            let _ = timefmt::format_ctime(t, &zone);
        }
    }
});
