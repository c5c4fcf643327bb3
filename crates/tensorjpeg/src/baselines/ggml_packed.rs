//! GGUF blocks, entropy-coded: the `packed` option of the `q8_0`, `q4_0` and `q4_1` codecs.
//!
//! The blocks are exactly those of the plain codec ([`super::ggml`]); only their storage
//! differs: the symbols (f16 scales and minima, nibbles, bytes) are coded with
//! [`crate::repack`]'s static context models, fitted on this tensor and stored with it
//! ([`Contexts::Tensor`]: few enough tables that they cost ~1.6 KB per tensor). A tensor
//! whose values some block format holds exactly ([`exact_kind`]: a matrix read from a
//! Q4_1 GGUF file, say) is stored *losslessly* this way in fewer bits than the file's own
//! (SmolLM2-135M's Q4_1 matrices: 4.28 bits per value against 5.0), which is what lets a
//! whole-model allocation keep the matrices a model file already quantized and spend its
//! budget elsewhere ([`crate::allocation`]).
//!
//! Stored format (the codec name stays `q4_1` etc.; non-empty parameters mean packed):
//! parameters `u8 PACKED_VERSION`, then the tables ([`Model::write`]); chunks of whole
//! rows, `max(1, CHUNK_BLOCKS / blocks_per_row)` rows each (the last one shorter), each one
//! [`crate::repack::encode`] stream that decodes on its own.

use rayon::prelude::*;

use super::ggml::{Kind, CHUNK_BLOCKS, QK};
use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};
use crate::repack::{self, Blocks, Contexts, Counts, Model};

/// The version byte that opens a packed entry's parameters.
pub const PACKED_VERSION: u8 = 1;

/// Rows per chunk for rows of `per_row` blocks.
pub fn rows_per_chunk(per_row: usize) -> usize {
    (CHUNK_BLOCKS / per_row.max(1)).max(1)
}

/// Codes `blocks` (whole rows of `per_row` blocks of `kind`, as the plain codec lays them
/// out): the parameters and the chunks.
pub fn encode(kind: Kind, per_row: usize, blocks: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let row_bytes = per_row * kind.block_bytes();
    let chunk_bytes = rows_per_chunk(per_row) * row_bytes;
    let view = |data| Blocks {
        kind,
        row_len: per_row * QK,
        data,
    };
    // Each chunk's walk starts afresh, so the counts are taken chunk by chunk too.
    let counts = blocks
        .par_chunks(chunk_bytes.max(1))
        .map(|c| Counts::with_contexts(&view(c), Contexts::Tensor))
        .collect::<Result<Vec<_>>>()?;
    let mut all = Counts::default();
    counts.iter().for_each(|c| all.add(c));
    let model = Model::fit(&all);
    let mut w = ByteWriter::new();
    w.u8(PACKED_VERSION);
    model.write(&mut w);
    let chunks = blocks
        .par_chunks(chunk_bytes.max(1))
        .map(|c| repack::encode(&model, &view(c)))
        .collect::<Result<Vec<_>>>()?;
    Ok((w.into_inner(), chunks))
}

/// Restores the blocks of `rows` rows of `per_row` blocks from [`encode`]'s parameters and
/// chunks. The output is bounded by the shape, which the container checked against its
/// limits.
pub fn decode(
    name: &str,
    kind: Kind,
    rows: usize,
    per_row: usize,
    params: &[u8],
    chunks: &[&[u8]],
) -> Result<Vec<u8>> {
    let mut r = ByteReader::new(params, "packed block parameters");
    let version = r.u8()?;
    if version != PACKED_VERSION {
        return Err(Error::corrupt(format!(
            "{name}: packed parameters of version {version} (this build reads {PACKED_VERSION})"
        )));
    }
    let model = Model::read_with_contexts(&mut r, Contexts::Tensor)?;
    r.finish()?;
    let rpc = rows_per_chunk(per_row);
    let n_chunks = rows.div_ceil(rpc);
    if chunks.len() != n_chunks {
        return Err(Error::corrupt(format!(
            "{name}: {rows} rows need {n_chunks} packed chunks of up to {rpc} rows, found {}",
            chunks.len()
        )));
    }
    let parts = chunks
        .par_iter()
        .enumerate()
        .map(|(c, bytes)| {
            let n_rows = (rows - c * rpc).min(rpc);
            repack::decode(&model, kind, per_row * QK, n_rows * per_row, bytes)
                .map_err(|e| Error::corrupt(format!("{name}: packed chunk {c}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.concat())
}

/// The first of Q4_0, Q4_1 and Q8_0 (the smallest first) whose blocks hold `values`
/// exactly, bit for bit, laid out as the plain codec lays them out (`shape`'s last
/// dimension a multiple of 32): a tensor read from a GGUF file of those types, or decoded
/// from their codecs. `None` for anything else, decided on the first row where it can be.
pub fn exact_kind(values: &[f32], shape: &[usize]) -> Option<Kind> {
    let (rows, cols) = crate::tensor::matrix_dims(shape);
    if cols == 0 || cols % QK != 0 || rows.checked_mul(cols) != Some(values.len()) {
        return None;
    }
    let holds = |kind: Kind, xs: &[f32]| {
        let mut out = Vec::with_capacity(kind.block_bytes());
        let mut back = [0f32; QK];
        xs.chunks_exact(QK).all(|b| {
            out.clear();
            let block: &[f32; QK] = b.try_into().expect("chunks of QK");
            kind.quantize_block(block, &mut out);
            kind.dequantize_block(&out, &mut back);
            back.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        })
    };
    [Kind::Q4_0, Kind::Q4_1, Kind::Q8_0].into_iter().find(|&k| {
        holds(k, &values[..cols]) && values.par_chunks(cols * 64).all(|rows| holds(k, rows))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, Rate};
    use crate::rng::SplitMix64;

    fn gaussian(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| (rng.gaussian() * 0.05) as f32).collect()
    }

    /// Values some block format holds exactly: `v` through the plain codec.
    fn on_grid(kind: Kind, v: &[f32], shape: &[usize]) -> Vec<f32> {
        let c = super::super::ggml::GgmlCodec::new(kind);
        let e = c.encode(v, shape, Rate::Default).unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        c.decode(&e.params, &chunks, shape).unwrap()
    }

    #[test]
    fn packed_blocks_decode_to_the_plain_codecs_values_in_fewer_bytes() {
        use super::super::ggml::GgmlCodec;
        // Rows long enough that a chunk holds several, and a shape whose rows pad.
        for (shape, kinds) in [
            (
                vec![1500usize, 96],
                &[Kind::Q4_0, Kind::Q4_1, Kind::Q8_0][..],
            ),
            (vec![7, 100], &[Kind::Q4_1][..]),
            // Rows of more than a chunk's blocks: a chunk per row.
            (vec![3, (CHUNK_BLOCKS + 11) * QK], &[Kind::Q4_1][..]),
        ] {
            let v = gaussian(shape[0] * shape[1], 5);
            for &kind in kinds {
                let (plain, packed) = (GgmlCodec::new(kind), GgmlCodec::packed(kind));
                let a = plain.encode(&v, &shape, Rate::Default).unwrap();
                let b = packed.encode(&v, &shape, Rate::Default).unwrap();
                assert!(!b.params.is_empty());
                if shape[0] > 1000 {
                    assert!(b.payload_bytes() < a.payload_bytes(), "{kind:?}");
                }
                let ca: Vec<&[u8]> = a.chunks.iter().map(Vec::as_slice).collect();
                let cb: Vec<&[u8]> = b.chunks.iter().map(Vec::as_slice).collect();
                let (x, y) = (
                    plain.decode(&a.params, &ca, &shape).unwrap(),
                    plain.decode(&b.params, &cb, &shape).unwrap(),
                );
                assert!(x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()));
                // Damaged parameters or chunks are errors (or, for a flipped symbol bit,
                // other values: the container's CRCs catch those before decoding).
                let mut bad = b.params.clone();
                bad[0] = 9;
                assert!(plain.decode(&bad, &cb, &shape).is_err());
                assert!(plain
                    .decode(&b.params, &cb[..cb.len() - 1], &shape)
                    .is_err());
                let cut = &cb[0][..cb[0].len() - 3];
                let mut short = cb.clone();
                short[0] = cut;
                assert!(plain.decode(&b.params, &short, &shape).is_err());
            }
        }
    }

    #[test]
    fn exact_kind_finds_the_format_that_holds_the_values() {
        let shape = [64usize, 128];
        let v = gaussian(64 * 128, 6);
        assert_eq!(exact_kind(&v, &shape), None);
        for kind in [Kind::Q4_0, Kind::Q4_1, Kind::Q8_0] {
            let g = on_grid(kind, &v, &shape);
            assert_eq!(exact_kind(&g, &shape), Some(kind), "{kind:?}");
            // One value off the grid anywhere rules it out.
            let mut off = g.clone();
            off[64 * 100 + 3] += 1e-3;
            assert_ne!(exact_kind(&off, &shape), Some(kind), "{kind:?}");
        }
        // Rows that are not whole blocks are never offered.
        assert_eq!(exact_kind(&v[..64 * 100], &[64, 100]), None);
        assert_eq!(exact_kind(&v, &[64, 100]), None);
    }
}
