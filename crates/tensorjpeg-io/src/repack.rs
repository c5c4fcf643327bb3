//! Repacked GGUF files (`.tjgguf`): a GGUF file stored losslessly in fewer bytes and
//! restored bit for bit.
//!
//! The Q4_0, Q4_1 and Q8_0 tensors are entropy-coded block by block with the codec crate's
//! context models ([`tensorjpeg::repack`]); everything else — the header with its metadata
//! and tokenizer, other tensor types, alignment padding — is one zstd stream. Layout
//! (framing [`tensorjpeg::framing::REPACKED_GGUF`]: magic `TJREPACK`, u16 version, a
//! trailing CRC-32 over everything before it):
//!
//! ```text
//! varint original_len, u32 original_crc      the GGUF file this restores
//! blob   model                               the context tables (tensorjpeg::repack::Model)
//! blob   rest                                zstd of every byte range not coded as blocks
//! varint n, then n × (varint offset, u8 kind, varint row_len, varint n_blocks, blob stream)
//! ```
//!
//! Coded tensors are sorted by offset and do not overlap; the rest fills the gaps in file
//! order. A reader checks the framing, that every range lies inside `original_len`, the
//! limits ([`tensorjpeg::Limits`]) before allocating, and finally the restored file's CRC-32:
//! a damaged file is an error, never a different model.

use std::path::Path;

use rayon::prelude::*;
use tensorjpeg::baselines::ggml::Kind;
use tensorjpeg::bytes::{ByteReader, ByteWriter};
use tensorjpeg::framing::REPACKED_GGUF;
use tensorjpeg::repack::{self, Blocks, Counts, Model};

use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;

/// zstd level of the rest (the header's tokenizer strings are most of it).
const REST_LEVEL: i32 = 19;

/// Whether `bytes` start like a repacked GGUF file.
pub fn is_repacked(bytes: &[u8]) -> bool {
    REPACKED_GGUF.is(bytes)
}

/// What a repack stored, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RepackStats {
    /// Bytes of the GGUF file.
    pub original_bytes: u64,
    /// Bytes of the repacked file.
    pub repacked_bytes: u64,
    /// Tensors coded block by block, and their bytes in the GGUF file.
    pub coded_tensors: usize,
    /// See [`RepackStats::coded_tensors`].
    pub coded_original_bytes: u64,
    /// Bytes their streams take (with the model's tables).
    pub coded_bytes: u64,
    /// Bytes of the rest (header, other tensors, padding) before and after zstd.
    pub rest_original_bytes: u64,
    /// See [`RepackStats::rest_original_bytes`].
    pub rest_bytes: u64,
    /// Bits each group of block symbols costs ([`tensorjpeg::repack::group_bits`]).
    pub symbol_bits: [(&'static str, f64); 6],
    /// Values in the coded tensors, and in Q8_0 ones among them.
    pub coded_values: u64,
    /// See [`RepackStats::coded_values`].
    pub q8_values: u64,
}

struct Coded {
    offset: usize,
    kind: Kind,
    row_len: usize,
    len: usize,
}

fn kind_of(t: GgmlDType) -> Option<Kind> {
    match t {
        GgmlDType::Q4_0 => Some(Kind::Q4_0),
        GgmlDType::Q4_1 => Some(Kind::Q4_1),
        GgmlDType::Q8_0 => Some(Kind::Q8_0),
        _ => None,
    }
}

/// Repacks the GGUF file at `path` (its bytes: `gguf`). Returns the repacked file's bytes.
pub fn repack_gguf(path: &Path, gguf: &[u8]) -> Result<(Vec<u8>, RepackStats)> {
    crate::gguf::check_gguf_bytes(path, gguf)?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut std::io::Cursor::new(gguf))
        .map_err(|e| {
            Error::format(
                path,
                format!(
                    "cannot read the GGUF header: {}",
                    crate::gguf::candle_message(&e)
                ),
            )
        })?;
    let mut coded: Vec<Coded> = Vec::new();
    for info in content.tensor_infos.values() {
        let Some(kind) = kind_of(info.ggml_dtype) else {
            continue;
        };
        let dims = info.shape.dims();
        let row_len = dims.last().copied().unwrap_or(0);
        let n = tensorjpeg::tensor::numel(dims).unwrap_or(0);
        let offset = content.tensor_data_offset.checked_add(info.offset);
        let len = (n / 32).checked_mul(kind.block_bytes());
        match (offset, len) {
            (Some(o), Some(l))
                if row_len > 0
                    && row_len % 32 == 0
                    && n > 0
                    && (o as usize).checked_add(l).is_some_and(|e| e <= gguf.len()) =>
            {
                coded.push(Coded {
                    offset: o as usize,
                    kind,
                    row_len,
                    len: l,
                })
            }
            // Anything odd stays in the rest, byte for byte.
            _ => {}
        }
    }
    coded.sort_by_key(|c| c.offset);
    // Overlapping tensors (a crafted file) stay in the rest.
    let mut end = 0;
    coded.retain(|c| {
        let keep = c.offset >= end;
        if keep {
            end = c.offset + c.len;
        }
        keep
    });
    let blocks = |c: &Coded| Blocks {
        kind: c.kind,
        row_len: c.row_len,
        data: &gguf[c.offset..c.offset + c.len],
    };
    let counts = coded
        .par_iter()
        .map(|c| Counts::of(&blocks(c)))
        .collect::<tensorjpeg::Result<Vec<_>>>()?;
    let mut all = Counts::default();
    counts.iter().for_each(|c| all.add(c));
    let model = Model::fit(&all);
    let streams = coded
        .par_iter()
        .map(|c| repack::encode(&model, &blocks(c)))
        .collect::<tensorjpeg::Result<Vec<_>>>()?;
    let mut rest = Vec::new();
    let mut at = 0;
    for c in &coded {
        rest.extend_from_slice(&gguf[at..c.offset]);
        at = c.offset + c.len;
    }
    rest.extend_from_slice(&gguf[at..]);
    let rest_z = zstd::bulk::compress(&rest, REST_LEVEL).map_err(|e| Error::io(path, e))?;

    let mut w = REPACKED_GGUF.start();
    w.varint(gguf.len() as u64);
    w.u32(crc32fast::hash(gguf));
    let mut m = ByteWriter::new();
    model.write(&mut m);
    let model_bytes = m.into_inner();
    w.blob(&model_bytes);
    w.blob(&rest_z);
    w.varint(coded.len() as u64);
    for (c, s) in coded.iter().zip(&streams) {
        w.varint(c.offset as u64);
        w.u8(repack::kind_code(c.kind));
        w.varint(c.row_len as u64);
        w.varint((c.len / c.kind.block_bytes()) as u64);
        w.blob(s);
    }
    let out = tensorjpeg::framing::Framing::seal(w);
    let stats = RepackStats {
        original_bytes: gguf.len() as u64,
        repacked_bytes: out.len() as u64,
        coded_tensors: coded.len(),
        coded_original_bytes: coded.iter().map(|c| c.len as u64).sum(),
        coded_bytes: (model_bytes.len() + streams.iter().map(Vec::len).sum::<usize>()) as u64,
        rest_original_bytes: rest.len() as u64,
        rest_bytes: rest_z.len() as u64,
        symbol_bits: repack::group_bits(&model, &all),
        coded_values: coded
            .iter()
            .map(|c| (c.len / c.kind.block_bytes() * 32) as u64)
            .sum(),
        q8_values: coded
            .iter()
            .filter(|c| c.kind == Kind::Q8_0)
            .map(|c| (c.len / c.kind.block_bytes() * 32) as u64)
            .sum(),
    };
    Ok((out, stats))
}

/// Restores the GGUF file from a repacked file's bytes (`path` names it in errors).
pub fn unpack_gguf(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    unpack(bytes).map_err(|e| Error::format(path, e.to_string()))
}

fn unpack(bytes: &[u8]) -> tensorjpeg::Result<Vec<u8>> {
    let fail = |msg: String| tensorjpeg::Error::corrupt(msg);
    let mut r = REPACKED_GGUF.open_sealed(bytes)?;
    let original_len = r.varint()?;
    let original_crc = r.u32()?;
    tensorjpeg::Limits::configured().check_total(original_len / 4, bytes.len())?;
    let original_len = usize::try_from(original_len)
        .map_err(|_| fail(format!("original length {original_len} overflows")))?;
    let model = Model::read(&mut ByteReader::new(r.blob()?, "repack model"))?;
    let rest_z = r.blob()?;
    let n = r.varint_max("coded tensor count", r.remaining() as u64)? as usize;
    let mut coded = Vec::with_capacity(n);
    let mut end = 0usize;
    for i in 0..n {
        let offset = r.varint()? as usize;
        let code = r.u8()?;
        let kind = repack::kind_of_code(code).ok_or_else(|| {
            fail(format!(
                "coded tensor {i}: block kind {code} (expected 0, 1 or 2)"
            ))
        })?;
        let row_len = r.varint()? as usize;
        let n_blocks = r.varint()? as usize;
        let stream = r.blob()?;
        let len = n_blocks.checked_mul(kind.block_bytes());
        match len.and_then(|l| offset.checked_add(l)) {
            Some(e) if offset >= end && e <= original_len => end = e,
            _ => {
                return Err(fail(format!(
                    "coded tensor {i}: {n_blocks} {} blocks at offset {offset} overlap another or lie beyond the restored file's {original_len} bytes",
                    kind.name()
                )))
            }
        }
        coded.push((offset, kind, row_len, n_blocks, stream));
    }
    r.finish()?;
    let coded_len: usize = coded.iter().map(|c| c.3 * c.1.block_bytes()).sum();
    let rest = zstd::bulk::decompress(rest_z, original_len - coded_len).map_err(|e| {
        fail(format!(
            "the zstd stream of the header and other tensors: {e}"
        ))
    })?;
    if rest.len() != original_len - coded_len {
        return Err(fail(format!(
            "the header and other tensors hold {} bytes (expected {})",
            rest.len(),
            original_len - coded_len
        )));
    }
    let decoded = coded
        .par_iter()
        .map(|&(_, kind, row_len, n_blocks, stream)| {
            repack::decode(&model, kind, row_len, n_blocks, stream)
        })
        .collect::<tensorjpeg::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    out.try_reserve_exact(original_len)
        .map_err(|_| fail(format!("cannot allocate {original_len} bytes")))?;
    let mut rest_at = 0;
    for (c, d) in coded.iter().zip(&decoded) {
        let gap = c.0 - out.len();
        out.extend_from_slice(&rest[rest_at..rest_at + gap]);
        rest_at += gap;
        out.extend_from_slice(d);
    }
    out.extend_from_slice(&rest[rest_at..]);
    let got = crc32fast::hash(&out);
    if got != original_crc {
        return Err(fail(format!(
            "the restored GGUF's CRC-32 is {got:08x}, the stored one {original_crc:08x}: damaged file"
        )));
    }
    Ok(out)
}
