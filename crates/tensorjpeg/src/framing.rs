//! The framing every tensorjpeg file shares: a magic number, a format version, a body, and
//! CRC-32 (IEEE) checksums — one module, so every format checks its bytes the same way and
//! reports damage the same way (naming the file type and what was checked).
//!
//! | file                        | magic                               | version | checksum                                   |
//! |-----------------------------|-------------------------------------|---------|--------------------------------------------|
//! | tensor container (`.tjpg`)  | `89 'T' 'J' 'P' 'G' 0D 0A 1A`       | u16     | the table, and each chunk (in the table)   |
//! | signal file (`.tjs`)        | `TJSIGNAL`                          | u8      | trailing u32 over everything before it     |
//! | signal basis (`.tjb`)       | `TJSBASIS`                          | u8      | trailing u32 over everything before it     |
//! | KLT vector index (`TJVK`)   | `TJVK`                              | u16     | trailing u32 over everything before it     |
//! | embedding index (`.tjv`)    | `TJVINDEX`                          | u16     | trailing u32 (and the inner `TJVK`'s own)  |
//! | repacked GGUF (`.tjgguf`)   | `TJREPACK`                          | u16     | trailing u32, and one over the restored file |
//!
//! A reader checks, in this order, the magic (another file type gets a message saying what
//! it is not), the version (a newer file gets [`Error::UnsupportedVersion`], not a checksum
//! error), then the checksum, before it parses a single field of the body. Lengths inside a
//! body are read through [`ByteReader`], whose every read is checked against the bytes
//! present. The container differs only in where its checksums sit (its chunks are read one
//! at a time, so each carries its own CRC in the table, and the table carries one for
//! itself); it uses [`Framing::write_header`], [`Framing::open_header`] and [`check_crc`].

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};

/// How many bytes a format's version number takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionWidth {
    /// One byte.
    U8,
    /// A little-endian u16.
    U16,
}

impl VersionWidth {
    fn bytes(self) -> usize {
        match self {
            VersionWidth::U8 => 1,
            VersionWidth::U16 => 2,
        }
    }
}

/// One file format's frame: its magic, the version this build writes and reads, and the
/// names its errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// The magic number the file starts with.
    pub magic: &'static [u8],
    /// The format version this build writes and reads.
    pub version: u16,
    /// How the version is stored.
    pub width: VersionWidth,
    /// What the file is, as messages name it ("signal file").
    pub what: &'static str,
    /// The message for bytes that do not start with the magic.
    pub not_it: &'static str,
}

/// The tensor container (see [`crate::container`]).
pub const CONTAINER: Framing = Framing {
    magic: &[0x89, b'T', b'J', b'P', b'G', 0x0d, 0x0a, 0x1a],
    version: 1,
    width: VersionWidth::U16,
    what: "container",
    not_it: "not a tensorjpeg container (bad magic number)",
};

/// The signal file of [`crate::signal::codec`].
pub const SIGNAL_FILE: Framing = Framing {
    magic: b"TJSIGNAL",
    version: 1,
    width: VersionWidth::U8,
    what: "signal file",
    not_it: "not a tensorjpeg signal file (magic TJSIGNAL missing)",
};

/// The fitted signal basis of [`crate::signal::basis`].
pub const SIGNAL_BASIS: Framing = Framing {
    magic: b"TJSBASIS",
    version: 1,
    width: VersionWidth::U8,
    what: "signal basis",
    not_it: "not a tensorjpeg signal basis (magic TJSBASIS missing; make one with `tensorjpeg signal fit`)",
};

/// The KLT vector index of [`crate::vectors::klt`].
pub const KLT_INDEX: Framing = Framing {
    magic: b"TJVK",
    version: 1,
    width: VersionWidth::U16,
    what: "KLT vector index",
    not_it: "not a tensorjpeg KLT vector index (bad magic)",
};

/// A persisted embedding collection (`.tjv`, [`crate::vectors::collection`]).
pub const EMBEDDING_INDEX: Framing = Framing {
    magic: b"TJVINDEX",
    version: 1,
    width: VersionWidth::U16,
    what: "embedding index",
    not_it: "not a tensorjpeg embedding index (magic TJVINDEX missing; make one with `tensorjpeg index build`)",
};

/// A repacked GGUF file (the block coding is [`crate::repack`]; the file layer is
/// `tensorjpeg-io`'s `repack` module).
pub const REPACKED_GGUF: Framing = Framing {
    magic: b"TJREPACK",
    version: 1,
    width: VersionWidth::U16,
    what: "repacked GGUF file",
    not_it: "not a tensorjpeg repacked GGUF file (magic TJREPACK missing)",
};

/// Every framed format, for tests and tools that tell files apart.
pub const ALL: [Framing; 6] = [
    CONTAINER,
    SIGNAL_FILE,
    SIGNAL_BASIS,
    KLT_INDEX,
    EMBEDDING_INDEX,
    REPACKED_GGUF,
];

impl Framing {
    /// Bytes of the magic and the version.
    pub fn header_len(&self) -> usize {
        self.magic.len() + self.width.bytes()
    }

    /// Whether `bytes` starts with this format's magic.
    pub fn is(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(self.magic)
    }

    /// Appends the magic and the version to `w`.
    pub fn write_header(&self, w: &mut ByteWriter) {
        w.bytes(self.magic);
        match self.width {
            VersionWidth::U8 => w.u8(self.version as u8),
            VersionWidth::U16 => w.u16(self.version),
        }
    }

    /// A writer holding the magic and the version; finish it with [`Framing::seal`].
    pub fn start(&self) -> ByteWriter {
        let mut w = ByteWriter::new();
        self.write_header(&mut w);
        w
    }

    /// Appends the CRC-32 of everything written and returns the file's bytes.
    pub fn seal(mut w: ByteWriter) -> Vec<u8> {
        let crc = crc32fast::hash(&w.buf);
        w.u32(crc);
        w.into_inner()
    }

    /// Checks the magic and the version and returns a reader over what follows them (for
    /// formats that place their checksums themselves, like the container).
    pub fn open_header<'a>(&self, bytes: &'a [u8]) -> Result<ByteReader<'a>> {
        if !self.is(bytes) {
            return Err(Error::corrupt(self.not_it));
        }
        let mut r = ByteReader::new(&bytes[self.magic.len()..], self.what);
        let found = match self.width {
            VersionWidth::U8 => u16::from(r.u8()?),
            VersionWidth::U16 => r.u16()?,
        };
        if found != self.version {
            return Err(Error::UnsupportedVersion {
                what: self.what,
                found,
                supported: self.version,
            });
        }
        Ok(r)
    }

    /// Checks the magic, the version and the trailing CRC-32 of a file written by
    /// [`Framing::start`] + [`Framing::seal`]; returns a reader over its body (between the
    /// version and the checksum).
    pub fn open_sealed<'a>(&self, bytes: &'a [u8]) -> Result<ByteReader<'a>> {
        self.open_header(bytes)?;
        if bytes.len() < self.header_len() + 4 {
            return Err(Error::corrupt(format!(
                "{}: {} bytes, shorter than its header and checksum (truncated)",
                self.what,
                bytes.len()
            )));
        }
        let (covered, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
        check_crc(covered, stored, || self.what.to_string())?;
        Ok(ByteReader::new(&covered[self.header_len()..], self.what))
    }

    /// The stored CRC-32 of a sealed file (its last four bytes), without checking it.
    pub fn sealed_crc(bytes: &[u8]) -> Option<u32> {
        let tail = bytes.len().checked_sub(4).map(|s| &bytes[s..])?;
        Some(u32::from_le_bytes(tail.try_into().ok()?))
    }
}

/// Checks `data` against its stored CRC-32; a mismatch is [`Error::Checksum`] naming
/// `what()` (called only then).
pub fn check_crc(data: &[u8], stored: u32, what: impl FnOnce() -> String) -> Result<()> {
    let computed = crc32fast::hash(data);
    if computed == stored {
        Ok(())
    } else {
        Err(Error::Checksum {
            what: what(),
            stored,
            computed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(f: &Framing, body: &[u8]) -> Vec<u8> {
        let mut w = f.start();
        w.bytes(body);
        Framing::seal(w)
    }

    #[test]
    fn sealed_round_trip_and_every_damage_is_refused() {
        for f in [SIGNAL_FILE, SIGNAL_BASIS, KLT_INDEX] {
            let bytes = sealed(&f, b"body bytes");
            assert_eq!(bytes.len(), f.header_len() + 10 + 4);
            let mut r = f.open_sealed(&bytes).unwrap();
            assert_eq!(r.take(10).unwrap(), b"body bytes");
            r.finish().unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    f.open_sealed(&bytes[..cut]).is_err(),
                    "{} cut {cut}",
                    f.what
                );
            }
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut b = bytes.clone();
                    b[i] ^= 1 << bit;
                    assert!(f.open_sealed(&b).is_err(), "{} flip {i}.{bit}", f.what);
                }
            }
        }
    }

    #[test]
    fn errors_say_which_check_failed() {
        let f = KLT_INDEX;
        let bytes = sealed(&f, b"xyz");
        // Another format's file: named as not this one.
        let other = sealed(&SIGNAL_FILE, b"xyz");
        assert!(f
            .open_sealed(&other)
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        // A newer version: refused as such, before the checksum.
        let mut newer = bytes.clone();
        newer[4] = 2;
        match f.open_sealed(&newer) {
            Err(Error::UnsupportedVersion {
                what: "KLT vector index",
                found: 2,
                supported: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
        // A damaged body: a checksum error naming the file type.
        let mut bad = bytes.clone();
        bad[7] ^= 1;
        let e = f.open_sealed(&bad).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
        assert!(e.to_string().contains("KLT vector index"), "{e}");
    }

    #[test]
    fn magics_are_distinct_and_header_only_formats_check_versions() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert!(!a.magic.starts_with(b.magic) && !b.magic.starts_with(a.magic));
            }
        }
        let mut w = CONTAINER.start();
        w.u16(0);
        let bytes = w.into_inner();
        let mut r = CONTAINER.open_header(&bytes).unwrap();
        assert_eq!(r.u16().unwrap(), 0);
        assert!(CONTAINER.open_header(&bytes[..9]).is_err());
        assert!(CONTAINER.open_header(b"PK\x03\x04").is_err());
    }
}
