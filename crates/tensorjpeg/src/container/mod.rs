//! The container (stage 5): one file holding many tensors, each stored by a named codec.
//! Byte layout (all integers little-endian; see docs/FORMAT.md):
//!
//! ```text
//! magic      8 bytes  89 'T' 'J' 'P' 'G' 0D 0A 1A   (PNG-style: catches text-mode damage)
//! version    u16      = FORMAT_VERSION
//! flags      u16      = 0 (reserved; non-zero is refused)
//! table_len  u64      bytes of the tensor table
//! table      table_len bytes (below)
//! table_crc  u32      CRC-32 (IEEE) of the table
//! chunks     the chunks of every tensor, back to back, in table order
//! ```
//!
//! Table: `varint n_tensors`, then per tensor: `str name`, `str dtype`, `varint ndim`,
//! `varint dim × ndim`, `str codec` (empty = the source bytes stored verbatim),
//! `blob params`, `varint n_exceptions` with `(varint index_delta, u32 f32_bits)` each,
//! `varint n_chunks` with `(varint len, u32 crc32)` each. Chunk offsets follow from the
//! lengths; the chunks must end exactly at the end of the file.
//!
//! Every chunk is checked against its CRC before a codec sees it, so a damaged file is
//! reported (naming the tensor and chunk), never decoded into wrong numbers.

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};
use crate::framing::{self, check_crc};
use crate::limits::Limits;
use crate::tensor::{numel, DType};

/// File magic (the frame is [`framing::CONTAINER`]).
pub const MAGIC: &[u8] = framing::CONTAINER.magic;
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = framing::CONTAINER.version;
/// Largest number of dimensions accepted.
pub const MAX_DIMS: u64 = 16;

/// A value stored exactly, overriding the codec's output at `index` (non-finite values,
/// and elements that would break a `--max-error` bound).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exception {
    /// Flat index into the tensor.
    pub index: usize,
    /// The exact f32 bits.
    pub bits: u32,
}

/// One tensor's entry in the table, with its chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Tensor name.
    pub name: String,
    /// Source dtype (restored on decode).
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Codec name; empty for verbatim source bytes.
    pub codec: String,
    /// Codec parameters.
    pub params: Vec<u8>,
    /// Exactly stored values, sorted by index.
    pub exceptions: Vec<Exception>,
    /// The chunks.
    pub chunks: Vec<Vec<u8>>,
}

/// How an entry's values are stored: verbatim source bytes (an empty codec name in the
/// file, `stored` in reports) or through a named codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// The source bytes as they are (non-float tensors, and whatever a selection skips).
    Verbatim,
    /// Through the codec of this name.
    Codec(String),
}

impl Storage {
    /// The storage a container's codec field names (empty: verbatim).
    pub fn from_field(name: &str) -> Storage {
        if name.is_empty() {
            Storage::Verbatim
        } else {
            Storage::Codec(name.to_string())
        }
    }

    /// Whether the values went through a codec.
    pub fn is_coded(&self) -> bool {
        matches!(self, Storage::Codec(_))
    }
}

/// `stored` or the codec's name, as reports print it.
impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Verbatim => f.write_str("stored"),
            Storage::Codec(c) => f.write_str(c),
        }
    }
}

impl Entry {
    /// Bytes this entry occupies in the file: its table record, its chunks and their
    /// CRCs — the "all-in" size used for bits per value.
    pub fn stored_bytes(&self) -> usize {
        let mut w = ByteWriter::new();
        write_entry(&mut w, self);
        w.buf.len() + self.chunks.iter().map(Vec::len).sum::<usize>()
    }
}

fn write_entry(w: &mut ByteWriter, e: &Entry) {
    w.str(&e.name);
    w.str(e.dtype.name());
    w.varint(e.shape.len() as u64);
    for &d in &e.shape {
        w.varint(d as u64);
    }
    w.str(&e.codec);
    w.blob(&e.params);
    w.varint(e.exceptions.len() as u64);
    let mut prev = 0usize;
    for x in &e.exceptions {
        w.varint((x.index - prev) as u64);
        w.u32(x.bits);
        prev = x.index;
    }
    w.varint(e.chunks.len() as u64);
    for c in &e.chunks {
        w.varint(c.len() as u64);
        w.u32(crc32fast::hash(c));
    }
}

/// Serialises entries into a container.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut t = ByteWriter::new();
    t.varint(entries.len() as u64);
    for e in entries {
        write_entry(&mut t, e);
    }
    let table = t.into_inner();
    let total: usize = entries
        .iter()
        .flat_map(|e| e.chunks.iter().map(Vec::len))
        .sum();
    let mut w = ByteWriter {
        buf: Vec::with_capacity(8 + 4 + 8 + table.len() + 4 + total),
    };
    framing::CONTAINER.write_header(&mut w);
    w.u16(0);
    w.u64(table.len() as u64);
    w.bytes(&table);
    w.u32(crc32fast::hash(&table));
    for e in entries {
        for c in &e.chunks {
            w.bytes(c);
        }
    }
    w.into_inner()
}

/// A parsed table entry whose chunks still live in the file bytes.
#[derive(Debug, Clone)]
pub struct EntryRef<'a> {
    /// Tensor name.
    pub name: String,
    /// Source dtype.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Codec name; empty for verbatim bytes.
    pub codec: String,
    /// Codec parameters.
    pub params: &'a [u8],
    /// Exactly stored values.
    pub exceptions: Vec<Exception>,
    /// `(bytes, stored crc)` of each chunk, unverified.
    pub chunks: Vec<(&'a [u8], u32)>,
    /// Bytes of this entry's table record.
    pub record_bytes: usize,
}

impl<'a> EntryRef<'a> {
    /// How the entry is stored.
    pub fn storage(&self) -> Storage {
        Storage::from_field(&self.codec)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape).unwrap_or(0)
    }
    /// All-in stored bytes (record + chunks).
    pub fn stored_bytes(&self) -> usize {
        self.record_bytes + self.chunks.iter().map(|c| c.0.len()).sum::<usize>()
    }
    /// The chunks after checking each CRC; a mismatch names the tensor and chunk.
    pub fn verified_chunks(&self) -> Result<Vec<&'a [u8]>> {
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, &(c, stored))| {
                check_crc(c, stored, || format!("tensor '{}' chunk {i}", self.name))?;
                Ok(c)
            })
            .collect()
    }
}

/// A container opened for reading: header checked, table parsed, chunks located.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// Entries in file order.
    pub entries: Vec<EntryRef<'a>>,
    /// Total file size.
    pub file_bytes: usize,
}

/// True if `bytes` starts with the container magic.
pub fn is_container(bytes: &[u8]) -> bool {
    framing::CONTAINER.is(bytes)
}

impl<'a> Container<'a> {
    /// Parses and checks the header and table under [`Limits::configured`]. Chunk CRCs
    /// are checked on access ([`EntryRef::verified_chunks`]).
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        Self::open_with(bytes, &Limits::configured())
    }

    /// Parses and checks the header and table; every declared shape is held to `limits`
    /// (per tensor, and for the whole file against its size) before anything is
    /// allocated for it. Chunk CRCs are checked on access ([`EntryRef::verified_chunks`]).
    pub fn open_with(bytes: &'a [u8], limits: &Limits) -> Result<Self> {
        let mut r = framing::CONTAINER.open_header(bytes).map_err(|e| match e {
            Error::Corrupt(_) if !is_container(bytes) && bytes.len() < MAGIC.len() => {
                Error::corrupt("not a tensorjpeg container (file shorter than the 8-byte magic)")
            }
            e => e,
        })?;
        let flags = r.u16()?;
        if flags != 0 {
            return Err(Error::corrupt(format!("unknown header flags {flags:#06x}")));
        }
        let table_len = r.u64()?;
        if table_len > r.remaining() as u64 {
            return Err(Error::corrupt(format!(
                "table length {table_len} exceeds the {} bytes left in the file (truncated?)",
                r.remaining()
            )));
        }
        let table = r.take(table_len as usize)?;
        check_crc(table, r.u32()?, || "container table".into())?;
        let mut data = r.rest();
        let mut t = ByteReader::new(table, "container table");
        let n = t.len("tensor count")?;
        let mut entries = Vec::with_capacity(n);
        let mut total = 0u64;
        for _ in 0..n {
            let start = t.pos();
            let name = t.str()?.to_string();
            let dtype = DType::from_name(t.str()?);
            let ndim = t.varint_max("ndim", MAX_DIMS)? as usize;
            let mut shape = Vec::with_capacity(ndim);
            for _ in 0..ndim {
                shape.push(t.varint_max("dimension", u32::MAX as u64 * 64)? as usize);
            }
            let count = numel(&shape).ok_or_else(|| {
                Error::corrupt(format!("tensor '{name}': shape {shape:?} overflows"))
            })?;
            limits.check_tensor(&name, &shape, count as u64)?;
            total = total.saturating_add(count as u64);
            limits.check_total(total, bytes.len())?;
            let codec = t.str()?.to_string();
            let params = t.blob()?;
            let n_exc = t.len("exception count")?;
            let mut exceptions = Vec::with_capacity(n_exc.min(count));
            let mut idx = 0usize;
            for k in 0..n_exc {
                let d = t.varint()? as usize;
                idx = if k == 0 {
                    d
                } else {
                    idx.checked_add(d)
                        .ok_or_else(|| Error::corrupt("exception index overflow"))?
                };
                if idx >= count || (k > 0 && d == 0) {
                    return Err(Error::corrupt(format!(
                        "tensor '{name}': exception index {idx} invalid for {count} elements"
                    )));
                }
                exceptions.push(Exception {
                    index: idx,
                    bits: t.u32()?,
                });
            }
            let n_chunks = t.len("chunk count")?;
            let mut chunks = Vec::with_capacity(n_chunks);
            for i in 0..n_chunks {
                let len = t.varint()?;
                let crc = t.u32()?;
                if len > data.len() as u64 {
                    return Err(Error::corrupt(format!(
                        "tensor '{name}' chunk {i}: {len} bytes but only {} left in the file (truncated?)",
                        data.len()
                    )));
                }
                let (c, rest) = data.split_at(len as usize);
                chunks.push((c, crc));
                data = rest;
            }
            entries.push(EntryRef {
                name,
                dtype,
                shape,
                codec,
                params,
                exceptions,
                chunks,
                record_bytes: t.pos() - start,
            });
        }
        t.finish()?;
        if !data.is_empty() {
            return Err(Error::corrupt(format!(
                "{} unexpected bytes after the last chunk",
                data.len()
            )));
        }
        Ok(Container {
            entries,
            file_bytes: bytes.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry {
                name: "a".into(),
                dtype: DType::F32,
                shape: vec![2, 3],
                codec: "native".into(),
                params: vec![1, 2, 3],
                exceptions: vec![
                    Exception {
                        index: 1,
                        bits: f32::NAN.to_bits(),
                    },
                    Exception { index: 5, bits: 7 },
                ],
                chunks: vec![vec![9; 10], vec![8; 3]],
            },
            Entry {
                name: "ids".into(),
                dtype: DType::Other("I64".into()),
                shape: vec![2],
                codec: String::new(),
                params: vec![],
                exceptions: vec![],
                chunks: vec![vec![0; 16]],
            },
        ]
    }

    #[test]
    fn round_trip_and_sizes() {
        let entries = sample();
        let bytes = write(&entries);
        let c = Container::open(&bytes).unwrap();
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.entries[0].exceptions, entries[0].exceptions);
        assert_eq!(c.entries[0].verified_chunks().unwrap()[1], &[8u8; 3][..]);
        assert_eq!(c.entries[1].dtype, DType::Other("I64".into()));
        let total: usize = c.entries.iter().map(|e| e.stored_bytes()).sum();
        assert_eq!(total + 8 + 4 + 8 + 4 + 1, bytes.len());
        assert_eq!(c.entries[0].stored_bytes(), entries[0].stored_bytes());
    }

    #[test]
    fn damage_is_detected() {
        let bytes = write(&sample());
        // Every truncation fails to open.
        for cut in 0..bytes.len() {
            assert!(Container::open(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Every single-bit flip is detected either at open or by a chunk CRC.
        for i in 0..bytes.len() {
            for bit in [0u8, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let bad = match Container::open(&b) {
                    Err(_) => true,
                    Ok(c) => c.entries.iter().any(|e| e.verified_chunks().is_err()),
                };
                assert!(bad, "flip at byte {i} bit {bit} went unnoticed");
            }
        }
        // A future version is refused by name.
        let mut b = bytes.clone();
        b[8] = 2;
        match Container::open(&b) {
            Err(Error::UnsupportedVersion {
                what: "container",
                found: 2,
                supported: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
