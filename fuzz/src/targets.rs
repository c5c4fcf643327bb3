//! What each codec-crate fuzz target does with its input, as plain functions: the
//! `fuzz_targets/*.rs` files call them, and `crates/tensorjpeg/tests/fuzz_regressions.rs`
//! replays `fuzz/regressions/<target>/*` through the same functions (it includes this file
//! with `#[path]`). Every function must return, whatever the bytes: no panic, no abort, no
//! unbounded allocation.
//!
//! Depends on `tensorjpeg`, `crc32fast` and the sibling modules `container` and `frame`.

use crate::container::{forge_crcs, RawContainer};
use crate::frame;
use tensorjpeg::bytes::ByteReader;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::vectors::collection::{Collection, Ids};
use tensorjpeg::vectors::klt::{KltIndex, SearchOptions};
use tensorjpeg::vectors::VectorIndex;

/// The codec-crate targets, by name (the per-codec ones are `codec_<name>`).
pub const TARGETS: &[&str] = &[
    "decode",
    "container_crc",
    "container_table",
    "codec_native",
    "codec_jpeg",
    "codec_q8_0",
    "codec_q4_0",
    "codec_q4_1",
    "codec_svd",
    "codec_zstd",
    "codec_f16",
    "codec_bf16",
    "codec_raw",
    "entropy",
    "signal",
    "klt_index",
    "embedding_index",
];

/// Runs the target `name` on `data`. Panics on an unknown name.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "decode" => decode(data),
        "container_crc" => container_crc(data),
        "container_table" => container_table(data),
        "entropy" => entropy(data),
        "signal" => signal(data),
        "klt_index" => klt_index(data),
        "embedding_index" => embedding_index(data),
        other => match other.strip_prefix("codec_") {
            Some(codec) => codec_decode(codec, data),
            None => panic!("unknown fuzz target {other}"),
        },
    }
}

/// Raw bytes to `tensorjpeg::decompress` (CRC-gated).
pub fn decode(data: &[u8]) {
    let _ = tensorjpeg::decompress(data);
}

/// With `TJ_FUZZ_SKIP_HUGE` set, containers declaring a tensor of more than 2^28 elements
/// are not decoded (a campaign knob while the big-shape bugs are being fixed; off by
/// default, and never set by the replay tests).
fn skip_huge(bytes: &[u8]) -> bool {
    std::env::var_os("TJ_FUZZ_SKIP_HUGE").is_some()
        && RawContainer::parse(bytes).is_some_and(|c| c.max_numel() > 1 << 28)
}

/// Bytes with their table and chunk CRCs recomputed, then decompressed.
pub fn container_crc(data: &[u8]) {
    let mut bytes = data.to_vec();
    forge_crcs(&mut bytes);
    if skip_huge(&bytes) {
        return;
    }
    let _ = tensorjpeg::decompress(&bytes);
}

/// A container from the structured mutator (CRCs already forged), decompressed. The CRCs
/// are forged again so that replayed or hand-written inputs behave the same.
pub fn container_table(data: &[u8]) {
    container_crc(data)
}

/// `Codec::decode` of the codec `name` on a framed shape, params and chunks.
pub fn codec_decode(name: &str, data: &[u8]) {
    let Some(input) = frame::parse(data) else {
        return;
    };
    let codec = tensorjpeg::default_registry()
        .build(name)
        .expect("registry codec");
    if let Ok(values) = codec.decode(input.params, &input.chunks, &input.shape) {
        let n: usize = input.shape.iter().product();
        assert_eq!(
            values.len(),
            n,
            "codec {name} returned {} values for shape {:?}",
            values.len(),
            input.shape
        );
    }
}

/// The entropy coder: `u16 n · u8 mode · segments`; decodes up to 4 segments of `n` values
/// (mode bit 0: `decode_map` instead of `decode`).
pub fn entropy(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let mode = data[2];
    let mut r = ByteReader::new(&data[3..], "fuzz entropy");
    for _ in 0..4 {
        let ok = if mode & 1 == 0 {
            let mut out = vec![0i32; n];
            tensorjpeg::entropy::decode(&mut r, &mut out).is_ok()
        } else {
            let mut out = vec![0f32; n];
            tensorjpeg::entropy::decode_map(&mut r, &mut out, |v| v as f32 * 0.5).is_ok()
        };
        if !ok || r.remaining() == 0 {
            break;
        }
    }
}

/// Recomputes the trailing CRC-32 of a framed file (signal files, bases, KLT indexes).
pub fn forge_trailing_crc(b: &mut [u8]) {
    if b.len() >= 4 {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Offset of the `basis_crc` field in a signal file's header, if the header reaches it.
fn signal_basis_crc_offset(b: &[u8]) -> Option<usize> {
    let mut pos = 9; // magic (8) + version (1)
    let dims = *b.get(pos)? as usize;
    pos += 1;
    let skip_varint = |pos: &mut usize| -> Option<()> {
        for _ in 0..10 {
            let byte = *b.get(*pos)?;
            *pos += 1;
            if byte & 0x80 == 0 {
                return Some(());
            }
        }
        None
    };
    for _ in 0..=dims.min(8) {
        skip_varint(&mut pos)?;
    }
    pos += 1; // levels
    skip_varint(&mut pos)?;
    (pos + 4 <= b.len()).then_some(pos)
}

/// Frames a signal-target input: `u8 mode · varint basis_len · basis · signal`.
pub fn signal_input(mode: u8, basis: &[u8], signal: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    let mut v = basis.len() as u64;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(basis);
    out.extend_from_slice(signal);
    out
}

/// `.tjb` basis and `.tjs` signal decoding. Input: [`signal_input`]. Mode bit 0 clear:
/// both frame CRCs are recomputed; bit 1 clear: the signal's basis CRC field is set to the
/// basis's checksum. Then `SignalBasis::from_bytes`, `read_header` and `decode_full`.
pub fn signal(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut pos = 0;
    let mut len = 0u64;
    for i in 0..10 {
        let Some(&byte) = rest.get(pos) else {
            return;
        };
        pos += 1;
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    let rest = &rest[pos..];
    let len = (len.min(rest.len() as u64)) as usize;
    let mut basis_bytes = rest[..len].to_vec();
    let mut sig = rest[len..].to_vec();
    if mode & 1 == 0 {
        forge_trailing_crc(&mut basis_bytes);
        forge_trailing_crc(&mut sig);
    }
    let _ = tensorjpeg::signal::codec::read_header(&sig);
    let Ok(basis) = SignalBasis::from_bytes(&basis_bytes) else {
        return;
    };
    if mode & 2 == 0 {
        if let Some(at) = signal_basis_crc_offset(&sig) {
            sig[at..at + 4].copy_from_slice(&basis.checksum().to_le_bytes());
            forge_trailing_crc(&mut sig);
        }
    }
    let _ = tensorjpeg::signal::codec::decode_full(&basis, &sig);
}

/// The KLT vector-index format: trailing CRC recomputed, `KltIndex::from_bytes`, then
/// stats, validation, decoding the first vectors, scores and a search.
pub fn klt_index(data: &[u8]) {
    let mut b = data.to_vec();
    forge_trailing_crc(&mut b);
    let Ok(index) = KltIndex::from_bytes(&b) else {
        return;
    };
    let _ = index.stats();
    let _ = index.validate();
    let dim = index.dim();
    if dim == 0 || dim > 1 << 16 {
        return;
    }
    let mut out = vec![0f32; dim];
    for i in 0..index.len().min(16) {
        let _ = index.decode(i, &mut out);
    }
    let query: Vec<f32> = (0..dim).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
    if index.len() <= 1 << 16 {
        let mut scores = vec![0f32; index.len()];
        let _ = index.scores(&query, &mut scores);
        let _ = VectorIndex::search(&index, &query, 5);
        let _ = index.search(&query, 3, &SearchOptions::default());
    }
}

/// The persisted embedding index (`.tjv`): trailing CRC recomputed,
/// `Collection::from_bytes`, then a search, decoding, and adding a vector (with and without
/// ids) to what was read.
pub fn embedding_index(data: &[u8]) {
    let mut b = data.to_vec();
    forge_trailing_crc(&mut b);
    let Ok(mut c) = Collection::from_bytes(&b) else {
        return;
    };
    let dim = c.dim();
    if dim == 0 || dim > 1 << 16 || c.len() > 1 << 16 {
        return;
    }
    let query: Vec<f32> = (0..dim).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
    let _ = c.search(&query, 3, 10);
    let _ = c.decode(&[0, c.len().saturating_sub(1)]);
    let nrm = (query.iter().map(|v| v * v).sum::<f32>()).sqrt().max(1e-6);
    let unit: Vec<f32> = query.iter().map(|v| v / nrm).collect();
    let _ = c.add(&unit, None);
    let _ = c.add(&unit, Some(Ids::Int(vec![-5])));
    let _ = c.to_bytes();
}
