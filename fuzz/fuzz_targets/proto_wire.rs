//! Feeds `oxssh_proto::wire::Reader` (RFC 4251 §5 data types): the input is both the
//! script and the data — each step reads one opcode byte from the same reader, then
//! the field it names (byte, boolean, uint32, uint64, string, UTF-8 string, name-list,
//! mpint, raw bytes, `finish`). Invariants checked: a string read consumes its length
//! prefix plus its bytes, an mpint re-encoded with `put_mpint` reads back as the same
//! number, and a name-list's items never contain a comma.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxssh_proto::wire::{Put, Reader};

fn strip(m: &[u8]) -> &[u8] {
    let start = m.iter().position(|&b| b != 0).unwrap_or(m.len());
    m.get(start..).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    while let Ok(op) = r.u8() {
        let before = r.rest().len();
        match op % 10 {
            0 => {
                let _ = r.u8();
            }
            1 => {
                let _ = r.bool();
            }
            2 => {
                let _ = r.u32();
            }
            3 => {
                let _ = r.u64();
            }
            4 => {
                if let Ok(s) = r.string() {
                    assert_eq!(before - r.rest().len(), 4 + s.len());
                    // Round trip: what we read re-encodes to what we consumed.
                    let mut v = Vec::new();
                    v.put_string(s);
                    assert_eq!(v.len(), 4 + s.len());
                }
            }
            5 => {
                let _ = r.utf8();
            }
            6 => {
                if let Ok(l) = r.name_list() {
                    for name in l.iter() {
                        assert!(!name.contains(','));
                        assert!(l.contains(name));
                    }
                }
            }
            7 => {
                if let Ok(m) = r.mpint() {
                    // put_mpint of the magnitude reads back as the same number.
                    let mut v = Vec::new();
                    v.put_mpint(m);
                    let back = Reader::new(&v).mpint().map(strip);
                    assert_eq!(back.ok(), Some(strip(m)));
                }
            }
            8 => {
                let n = r.u8().unwrap_or(0) as usize;
                let _ = r.bytes(n);
            }
            _ => {
                let _ = r.finish();
            }
        }
        assert!(r.rest().len() <= before);
    }
});
