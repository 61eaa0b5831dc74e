//! SSH wire encoding (RFC 4251 §5): `byte`, `boolean`, `uint32`, `uint64`, `string`,
//! `mpint` and `name-list`, read from a borrowed buffer and appended to a `Vec<u8>`.
//!
//! Reading never panics and never allocates more than the input holds: every length is
//! checked against the bytes that remain before it is used. Writing appends in place so
//! a packet is built in one buffer without intermediate copies.

use crate::Error;

/// A cursor over untrusted bytes. Every getter checks the remaining length first.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Take exactly `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.buf.len() {
            return Err(Error::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        let (&b, tail) = self.buf.split_first().ok_or(Error::Truncated)?;
        self.buf = tail;
        Ok(b)
    }

    pub fn bool(&mut self) -> Result<bool, Error> {
        Ok(self.u8()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_be_bytes(a))
    }

    pub fn u64(&mut self) -> Result<u64, Error> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// An SSH `string`: uint32 length then that many bytes.
    pub fn string(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }

    /// A `string` that must be UTF-8 (names, messages).
    pub fn utf8(&mut self) -> Result<&'a str, Error> {
        std::str::from_utf8(self.string()?).map_err(|_| Error::Malformed("invalid UTF-8"))
    }

    /// A `name-list`: comma-separated US-ASCII names in one `string`.
    pub fn name_list(&mut self) -> Result<NameList<'a>, Error> {
        let s = self.utf8()?;
        if !s.is_ascii() {
            return Err(Error::Malformed("non-ASCII name-list"));
        }
        Ok(NameList(s))
    }

    /// An `mpint`, returned as its raw two's-complement bytes (possibly with a leading
    /// zero). Negative values are refused: SSH never sends them where we read them.
    pub fn mpint(&mut self) -> Result<&'a [u8], Error> {
        let b = self.string()?;
        if b.first().is_some_and(|&x| x & 0x80 != 0) {
            return Err(Error::Malformed("negative mpint"));
        }
        Ok(b)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed("trailing bytes"))
        }
    }
}

/// A borrowed `name-list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameList<'a>(pub &'a str);

impl<'a> NameList<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let s = self.0;
        s.split(',').filter(|n| !n.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

/// Appending encoders for the SSH wire types.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_bool(&mut self, v: bool);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_string(&mut self, v: &[u8]);
    fn put_str(&mut self, v: &str) {
        self.put_string(v.as_bytes());
    }
    /// Encode an unsigned big-endian magnitude as an `mpint`: leading zeros stripped,
    /// a zero byte prepended when the top bit is set.
    fn put_mpint(&mut self, magnitude: &[u8]);
    fn put_name_list<S: AsRef<str>>(&mut self, names: &[S]);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_string(&mut self, v: &[u8]) {
        // Lengths we encode come from our own buffers, all far below 4 GiB.
        self.put_u32(v.len() as u32);
        self.extend_from_slice(v);
    }
    fn put_mpint(&mut self, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let m = magnitude.get(start..).unwrap_or_default();
        let pad = m.first().is_some_and(|&b| b & 0x80 != 0);
        self.put_u32((m.len() + usize::from(pad)) as u32);
        if pad {
            self.push(0);
        }
        self.extend_from_slice(m);
    }
    fn put_name_list<S: AsRef<str>>(&mut self, names: &[S]) {
        let len: usize =
            names.iter().map(|n| n.as_ref().len()).sum::<usize>() + names.len().saturating_sub(1);
        self.put_u32(len as u32);
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                self.push(b',');
            }
            self.extend_from_slice(n.as_ref().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_encoding_matches_rfc4251_examples() {
        let cases: &[(&[u8], &[u8])] = &[
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0, 0x80]),
            (&[0, 0, 0x80], &[0, 0, 0, 2, 0, 0x80]),
        ];
        for (m, want) in cases {
            let mut v = Vec::new();
            v.put_mpint(m);
            assert_eq!(&v, want);
        }
    }

    #[test]
    fn truncated_string_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert!(matches!(r.string(), Err(Error::Truncated)));
    }

    #[test]
    fn name_list_round_trip() {
        let mut v = Vec::new();
        v.put_name_list(&["a", "bb", "c"]);
        let mut r = Reader::new(&v);
        let nl = r.name_list().unwrap();
        assert_eq!(nl.iter().collect::<Vec<_>>(), ["a", "bb", "c"]);
        assert!(r.finish().is_ok());
    }
}
