//! Little-endian byte writing and bounds-checked reading, shared by every stage that
//! serialises something. A reader never panics: reading past the end is [`Error::Corrupt`].

use crate::error::{Error, Result};

/// Appends little-endian values and LEB128 varints to a `Vec<u8>`.
#[derive(Debug, Default, Clone)]
pub struct ByteWriter {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl ByteWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// Writes one byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Writes a little-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes a little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes a little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes a little-endian f32 (bit-exact).
    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }
    /// Writes a little-endian f64 (bit-exact).
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    /// Writes an unsigned LEB128 varint.
    pub fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(b);
                return;
            }
            self.buf.push(b | 0x80);
        }
    }
    /// Writes a zig-zag signed varint.
    pub fn svarint(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
    /// Writes raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Writes a varint length followed by the bytes.
    pub fn blob(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.bytes(b);
    }
    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, s: &str) {
        self.blob(s.as_bytes());
    }
    /// Consumes the writer.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads what [`ByteWriter`] wrote; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    /// Reads `data`; `what` names it in error messages.
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// The unread rest.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }
    /// Takes `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::corrupt(format!(
                "{}: truncated at byte {} (wanted {} more bytes, {} left)",
                self.what,
                self.pos,
                n,
                self.remaining()
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Reads a little-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// Reads an f32.
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    /// Reads an f64.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// Reads an unsigned LEB128 varint (at most 10 bytes).
    pub fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt(format!(
            "{}: varint longer than 10 bytes at byte {}",
            self.what, self.pos
        )))
    }
    /// Reads a varint and checks it is at most `max`, naming the field in the error.
    pub fn varint_max(&mut self, field: &str, max: u64) -> Result<u64> {
        let v = self.varint()?;
        if v > max {
            return Err(Error::corrupt(format!(
                "{}: {field} = {v} exceeds its limit {max}",
                self.what
            )));
        }
        Ok(v)
    }
    /// Reads a varint as `usize` no larger than what is left to read times `per_byte`
    /// (a cheap sanity bound before allocating).
    pub fn len(&mut self, field: &str) -> Result<usize> {
        let rem = self.remaining() as u64;
        Ok(self.varint_max(field, rem)? as usize)
    }
    /// Reads a zig-zag signed varint.
    pub fn svarint(&mut self) -> Result<i64> {
        let u = self.varint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    /// Reads a length-prefixed blob.
    pub fn blob(&mut self) -> Result<&'a [u8]> {
        let n = self.len("blob length")?;
        self.take(n)
    }
    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str> {
        let b = self.blob()?;
        std::str::from_utf8(b)
            .map_err(|_| Error::corrupt(format!("{}: string is not UTF-8", self.what)))
    }
    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(Error::corrupt(format!(
                "{}: {} trailing bytes",
                self.what,
                self.remaining()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let mut w = ByteWriter::new();
        let vals = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        for &v in &vals {
            w.varint(v);
        }
        for &s in &[0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            w.svarint(s);
        }
        let buf = w.into_inner();
        let mut r = ByteReader::new(&buf, "test");
        for &v in &vals {
            assert_eq!(r.varint().unwrap(), v);
        }
        for &s in &[0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            assert_eq!(r.svarint().unwrap(), s);
        }
        r.finish().unwrap();
        assert!(r.u8().is_err());
    }
}
