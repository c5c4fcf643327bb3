//! A byte-level model of the tensorjpeg container (see `crates/tensorjpeg/src/container/mod.rs`)
//! for fuzzing: [`forge_crcs`] recomputes the table CRC-32 and every chunk CRC-32 of
//! (possibly damaged) container bytes, so mutations reach the codecs instead of stopping at
//! the checksums; [`RawContainer`] holds every table field as stored (declared counts may
//! disagree with the lists that follow) and [`mutate`] changes them structurally.
//!
//! Depends only on `std` and `crc32fast`, so the stable replay tests can include it with
//! `#[path]`.

/// File magic.
pub const MAGIC: [u8; 8] = [0x89, b'T', b'J', b'P', b'G', 0x0d, 0x0a, 0x1a];
/// magic + version + flags + table_len.
const HEADER: usize = 20;
/// Largest ndim the reader accepts.
const MAX_DIMS: u64 = 16;

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let byte = *self.b.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn blob(&mut self) -> Option<&'a [u8]> {
        let n = self.varint()?;
        self.take(n)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Where the table says a chunk is: its CRC field's offset inside the table and its length.
struct ChunkRecord {
    crc_at: usize,
    len: u64,
}

/// Walks a table as the reader does, collecting the chunk records it reaches before the
/// table ends or stops parsing.
fn chunk_records(table: &[u8]) -> Vec<ChunkRecord> {
    let mut recs = Vec::new();
    let mut c = Cursor { b: table, pos: 0 };
    let _ = (|| -> Option<()> {
        let n = c.varint()?;
        for _ in 0..n {
            c.blob()?; // name
            c.blob()?; // dtype
            let ndim = c.varint()?;
            if ndim > MAX_DIMS {
                return None;
            }
            for _ in 0..ndim {
                c.varint()?;
            }
            c.blob()?; // codec
            c.blob()?; // params
            let n_exc = c.varint()?;
            for _ in 0..n_exc {
                c.varint()?;
                c.u32()?;
            }
            let n_chunks = c.varint()?;
            for _ in 0..n_chunks {
                let len = c.varint()?;
                let crc_at = c.pos;
                c.u32()?;
                recs.push(ChunkRecord { crc_at, len });
            }
        }
        Some(())
    })();
    recs
}

/// If `bytes` start like a container (magic and a table length that fits), rewrites every
/// chunk CRC the table reaches and then the table CRC, so the reader's checksums pass.
/// Returns whether the bytes had a container layout.
pub fn forge_crcs(bytes: &mut [u8]) -> bool {
    if bytes.len() < HEADER + 4 || bytes[..8] != MAGIC {
        return false;
    }
    let table_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    if table_len > (bytes.len() - HEADER - 4) as u64 {
        return false;
    }
    let t_end = HEADER + table_len as usize;
    let recs = chunk_records(&bytes[HEADER..t_end]);
    let mut at = t_end + 4;
    for r in recs {
        let left = (bytes.len() - at) as u64;
        if r.len > left {
            break;
        }
        let end = at + r.len as usize;
        let crc = crc32fast::hash(&bytes[at..end]);
        let p = HEADER + r.crc_at;
        bytes[p..p + 4].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    let crc = crc32fast::hash(&bytes[HEADER..t_end]);
    bytes[t_end..t_end + 4].copy_from_slice(&crc.to_le_bytes());
    true
}

/// One table record with every field as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    /// Name bytes (need not be UTF-8).
    pub name: Vec<u8>,
    /// Dtype name bytes.
    pub dtype: Vec<u8>,
    /// Declared ndim.
    pub ndim: u64,
    /// Dimensions as stored.
    pub dims: Vec<u64>,
    /// Codec name bytes.
    pub codec: Vec<u8>,
    /// Codec parameters.
    pub params: Vec<u8>,
    /// Declared exception count.
    pub n_exc: u64,
    /// `(index delta, f32 bits)` as stored.
    pub exc: Vec<(u64, u32)>,
    /// Declared chunk count.
    pub n_chunks: u64,
    /// `(declared length, chunk bytes)`.
    pub chunks: Vec<(u64, Vec<u8>)>,
}

/// A whole container with every field as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RawContainer {
    /// Format version.
    pub version: u16,
    /// Header flags.
    pub flags: u16,
    /// Declared tensor count.
    pub n_tensors: u64,
    /// The records.
    pub entries: Vec<RawEntry>,
    /// Bytes after the last chunk.
    pub trailing: Vec<u8>,
}

impl RawContainer {
    /// Parses a container whose table is complete and consistent (declared counts equal the
    /// lists; chunk lengths fit the file). CRCs are not checked.
    pub fn parse(bytes: &[u8]) -> Option<RawContainer> {
        if bytes.len() < HEADER + 4 || bytes[..8] != MAGIC {
            return None;
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
        let table_len = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
        if table_len > (bytes.len() - HEADER - 4) as u64 {
            return None;
        }
        let t_end = HEADER + table_len as usize;
        let mut c = Cursor {
            b: &bytes[HEADER..t_end],
            pos: 0,
        };
        let mut data = Cursor {
            b: &bytes[t_end + 4..],
            pos: 0,
        };
        let n_tensors = c.varint()?;
        let mut entries = Vec::new();
        for _ in 0..n_tensors {
            let name = c.blob()?.to_vec();
            let dtype = c.blob()?.to_vec();
            let ndim = c.varint()?;
            if ndim > MAX_DIMS {
                return None;
            }
            let dims = (0..ndim).map(|_| c.varint()).collect::<Option<Vec<_>>>()?;
            let codec = c.blob()?.to_vec();
            let params = c.blob()?.to_vec();
            let n_exc = c.varint()?;
            if n_exc > c.b.len() as u64 {
                return None;
            }
            let exc = (0..n_exc)
                .map(|_| Some((c.varint()?, c.u32()?)))
                .collect::<Option<Vec<_>>>()?;
            let n_chunks = c.varint()?;
            if n_chunks > c.b.len() as u64 {
                return None;
            }
            let mut chunks = Vec::new();
            for _ in 0..n_chunks {
                let len = c.varint()?;
                c.u32()?;
                chunks.push((len, data.take(len)?.to_vec()));
            }
            entries.push(RawEntry {
                name,
                dtype,
                ndim,
                dims,
                codec,
                params,
                n_exc,
                exc,
                n_chunks,
                chunks,
            });
        }
        if c.pos != c.b.len() {
            return None;
        }
        Some(RawContainer {
            version,
            flags,
            n_tensors,
            entries,
            trailing: data.b[data.pos..].to_vec(),
        })
    }

    /// Serialises every field as stored, then forges the CRCs ([`forge_crcs`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut t = Vec::new();
        put_varint(&mut t, self.n_tensors);
        for e in &self.entries {
            put_blob(&mut t, &e.name);
            put_blob(&mut t, &e.dtype);
            put_varint(&mut t, e.ndim);
            for &d in &e.dims {
                put_varint(&mut t, d);
            }
            put_blob(&mut t, &e.codec);
            put_blob(&mut t, &e.params);
            put_varint(&mut t, e.n_exc);
            for &(d, bits) in &e.exc {
                put_varint(&mut t, d);
                t.extend_from_slice(&bits.to_le_bytes());
            }
            put_varint(&mut t, e.n_chunks);
            for (len, _) in &e.chunks {
                put_varint(&mut t, *len);
                t.extend_from_slice(&[0; 4]);
            }
        }
        let mut out = Vec::with_capacity(HEADER + t.len() + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&(t.len() as u64).to_le_bytes());
        out.extend_from_slice(&t);
        out.extend_from_slice(&[0; 4]);
        for e in &self.entries {
            for (_, c) in &e.chunks {
                out.extend_from_slice(c);
            }
        }
        out.extend_from_slice(&self.trailing);
        forge_crcs(&mut out);
        out
    }

    /// Largest element count any entry declares (saturating), for campaign filters.
    pub fn max_numel(&self) -> u128 {
        self.entries
            .iter()
            .map(|e| {
                e.dims
                    .iter()
                    .fold(1u128, |a, &d| a.saturating_mul(u128::from(d)))
            })
            .max()
            .unwrap_or(0)
    }
}

/// A small deterministic generator (xorshift64*), seeded by the fuzzer.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    /// One of `xs`.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Dimension values that hit size arithmetic: 0, 1, powers of two and their neighbours,
/// `u32::MAX`, `u32::MAX * 64` (the largest the reader accepts), just beyond it, `u64::MAX`.
pub const INTERESTING_DIMS: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    255,
    256,
    4095,
    4096,
    65535,
    65536,
    1 << 20,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    (1 << 32) + 1,
    1 << 40,
    u32::MAX as u64 * 64,
    u32::MAX as u64 * 64 + 1,
    u64::MAX,
];

/// Whole shapes of the big-allocation class.
pub const BIG_SHAPES: &[&[u64]] = &[
    &[64, 4294967295],
    &[4294967295, 64],
    &[4294967295],
    &[4294967295 * 64],
    &[1 << 20, 1 << 20],
    &[65536, 65536],
    &[4294967295, 4294967295],
    &[2, 3, 4294967295],
    &[1 << 31, 2],
    &[1 << 28],
    &[16384, 16384],
    &[1, 1, 1, 1, 4294967295 * 64],
];

/// Codec names (with options) the table's codec field is set to.
pub const CODEC_NAMES: &[&str] = &[
    "",
    "native",
    "jpeg",
    "f16",
    "bf16",
    "q8_0",
    "q4_0",
    "q4_1",
    "svd",
    "zstd",
    "raw",
    "native:dct8x8",
    "jpeg:tworow",
    "zstd:shuffle",
    "svd:f32",
    "nope",
    "native:bogus",
    ":",
    "q4_k",
];

/// Dtype names the dtype field is set to.
pub const DTYPE_NAMES: &[&str] = &[
    "F32", "F16", "BF16", "I8", "U8", "I32", "I64", "F64", "BOOL", "F8_E4M3", "Q4_0", "", "x",
];

fn interesting_u64(rng: &mut Rng, current: u64) -> u64 {
    match rng.below(6) {
        0 => current.wrapping_add(1),
        1 => current.wrapping_sub(1),
        2 => current.wrapping_mul(2),
        3 => current / 2,
        4 => rng.next() >> rng.below(64),
        _ => *rng.pick(INTERESTING_DIMS),
    }
}

fn mutate_bytes(rng: &mut Rng, b: &mut Vec<u8>) {
    match rng.below(7) {
        0 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, 0xfe, 2, 8, 16, 64]);
        }
        2 if !b.is_empty() => {
            let n = rng.below(b.len());
            b.truncate(n);
        }
        3 => {
            let n = 1 + rng.below(16);
            for _ in 0..n {
                b.push(rng.next() as u8);
            }
        }
        4 if !b.is_empty() => {
            // A varint-looking run of 0xff (huge lengths or counts) somewhere.
            let i = rng.below(b.len());
            let n = (1 + rng.below(9)).min(b.len() - i);
            b[i..i + n].fill(0xff);
        }
        5 if b.len() >= 2 => {
            let i = rng.below(b.len());
            let j = rng.below(b.len());
            b.swap(i, j);
        }
        _ => {
            let i = if b.is_empty() { 0 } else { rng.below(b.len()) };
            b.insert(i, rng.next() as u8);
        }
    }
}

/// Applies one structural change to a table field of `c` (the CRCs are forged when it is
/// serialised). Returns a short name of the mutation, for statistics.
pub fn mutate_once(c: &mut RawContainer, rng: &mut Rng) -> &'static str {
    if c.entries.is_empty() || rng.one_in(40) {
        match rng.below(4) {
            0 => c.n_tensors = interesting_u64(rng, c.n_tensors),
            1 => c.version = rng.next() as u16,
            2 => c.flags = 1 << rng.below(16),
            _ => {
                let n = rng.below(8);
                c.trailing.extend((0..n).map(|_| rng.next() as u8));
            }
        }
        return "header";
    }
    let n_entries = c.entries.len();
    let donor = rng.below(n_entries);
    let i = rng.below(n_entries);
    match rng.below(15) {
        0 => {
            let e = &mut c.entries[i];
            if !e.dims.is_empty() {
                let d = rng.below(e.dims.len());
                e.dims[d] = interesting_u64(rng, e.dims[d]);
            }
            "dim"
        }
        1 => {
            let e = &mut c.entries[i];
            e.dims = rng.pick(BIG_SHAPES).to_vec();
            e.ndim = e.dims.len() as u64;
            "big-shape"
        }
        2 => {
            // Same element count, other factoring (transpose, merge, split, add 1s).
            let e = &mut c.entries[i];
            match rng.below(4) {
                0 => e.dims.reverse(),
                1 if e.dims.len() >= 2 => {
                    let a = e.dims.remove(0);
                    e.dims[0] = e.dims[0].wrapping_mul(a);
                }
                2 => e.dims.insert(rng.below(e.dims.len() + 1), 1),
                _ => {
                    if let Some(d) = e.dims.first_mut() {
                        if *d % 2 == 0 && *d > 0 {
                            *d /= 2;
                            e.dims.push(2);
                        }
                    }
                }
            }
            e.ndim = e.dims.len() as u64;
            "refactor-shape"
        }
        3 => {
            let e = &mut c.entries[i];
            match rng.below(3) {
                0 => e.ndim = interesting_u64(rng, e.ndim) % 20,
                1 => {
                    e.dims.pop();
                    e.ndim = e.dims.len() as u64;
                }
                _ => {
                    e.dims.push(*rng.pick(INTERESTING_DIMS));
                    e.ndim = e.dims.len() as u64;
                }
            }
            "ndim"
        }
        4 => {
            let e = &mut c.entries[i];
            if !e.chunks.is_empty() {
                let k = rng.below(e.chunks.len());
                e.chunks[k].0 = interesting_u64(rng, e.chunks[k].0);
            }
            "chunk-len"
        }
        5 => {
            let e = &mut c.entries[i];
            match rng.below(6) {
                0 => e.n_chunks = interesting_u64(rng, e.n_chunks),
                1 if !e.chunks.is_empty() => {
                    e.chunks.remove(rng.below(e.chunks.len()));
                    e.n_chunks = e.chunks.len() as u64;
                }
                2 if !e.chunks.is_empty() => {
                    let k = rng.below(e.chunks.len());
                    let dup = e.chunks[k].clone();
                    e.chunks.insert(k, dup);
                    e.n_chunks = e.chunks.len() as u64;
                }
                3 if !e.chunks.is_empty() => {
                    // Split a chunk in two.
                    let k = rng.below(e.chunks.len());
                    let data = e.chunks[k].1.clone();
                    let at = rng.below(data.len() + 1);
                    e.chunks[k] = (at as u64, data[..at].to_vec());
                    e.chunks
                        .insert(k + 1, ((data.len() - at) as u64, data[at..].to_vec()));
                    e.n_chunks = e.chunks.len() as u64;
                }
                4 if e.chunks.len() >= 2 => {
                    // Merge two neighbours.
                    let k = rng.below(e.chunks.len() - 1);
                    let (_, b) = e.chunks.remove(k + 1);
                    e.chunks[k].1.extend_from_slice(&b);
                    e.chunks[k].0 = e.chunks[k].1.len() as u64;
                    e.n_chunks = e.chunks.len() as u64;
                }
                _ => {
                    e.chunks.push((0, Vec::new()));
                    e.n_chunks = e.chunks.len() as u64;
                }
            }
            "chunk-count"
        }
        6 | 7 => {
            let e = &mut c.entries[i];
            let n = 1 + rng.below(3);
            for _ in 0..n {
                mutate_bytes(rng, &mut e.params);
            }
            "params"
        }
        8 => {
            let p = c.entries[donor].params.clone();
            c.entries[i].params = p;
            "params-swap"
        }
        9 => {
            let e = &mut c.entries[i];
            let numel = e.dims.iter().fold(1u64, |a, &d| a.saturating_mul(d)).max(1);
            match rng.below(5) {
                0 => e.n_exc = interesting_u64(rng, e.n_exc),
                1 => {
                    let idx = *rng.pick(&[
                        numel - 1,
                        numel,
                        numel.wrapping_add(1),
                        0,
                        u64::MAX,
                        u32::MAX as u64,
                    ]);
                    e.exc.push((idx, f32::NAN.to_bits()));
                    e.n_exc = e.exc.len() as u64;
                }
                2 if !e.exc.is_empty() => {
                    let k = rng.below(e.exc.len());
                    e.exc[k].0 = interesting_u64(rng, e.exc[k].0);
                }
                3 => {
                    let n = 1 + rng.below(64);
                    for _ in 0..n {
                        e.exc.push((rng.below(3) as u64, rng.next() as u32));
                    }
                    e.n_exc = e.exc.len() as u64;
                }
                _ => {
                    e.exc.clear();
                    e.n_exc = 0;
                }
            }
            "exceptions"
        }
        10 => {
            let e = &mut c.entries[i];
            if rng.one_in(4) {
                mutate_bytes(rng, &mut e.codec);
            } else {
                e.codec = rng.pick(CODEC_NAMES).as_bytes().to_vec();
            }
            "codec"
        }
        11 => {
            let e = &mut c.entries[i];
            if rng.one_in(4) {
                mutate_bytes(rng, &mut e.dtype);
            } else {
                e.dtype = rng.pick(DTYPE_NAMES).as_bytes().to_vec();
            }
            "dtype"
        }
        12 => {
            let e = &mut c.entries[i];
            mutate_bytes(rng, &mut e.name);
            "name"
        }
        13 => {
            match rng.below(3) {
                0 => {
                    let e = c.entries[donor].clone();
                    c.entries.insert(i, e);
                }
                1 => {
                    c.entries.remove(i);
                }
                _ => {
                    // Another entry's codec and params on this entry's shape and chunks.
                    let d = c.entries[donor].clone();
                    let e = &mut c.entries[i];
                    e.codec = d.codec;
                    e.params = d.params;
                }
            }
            c.n_tensors = c.entries.len() as u64;
            "entries"
        }
        _ => {
            // Chunk contents (their CRCs are forged, so the codec sees the change).
            let e = &mut c.entries[i];
            if !e.chunks.is_empty() {
                let k = rng.below(e.chunks.len());
                let n = 1 + rng.below(4);
                for _ in 0..n {
                    mutate_bytes(rng, &mut e.chunks[k].1);
                }
                if !rng.one_in(4) {
                    e.chunks[k].0 = e.chunks[k].1.len() as u64;
                }
            }
            "chunk-data"
        }
    }
}

/// Applies 1–4 structural mutations.
pub fn mutate(c: &mut RawContainer, rng: &mut Rng) {
    let n = 1 + rng.below(4);
    for _ in 0..n {
        mutate_once(c, rng);
    }
}
