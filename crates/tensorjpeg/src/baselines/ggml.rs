//! GGUF's block quantizers Q8_0, Q4_0 and Q4_1, in pure Rust, as baselines.
//!
//! The stored chunks are the GGUF block bytes themselves, bit for bit what llama.cpp's
//! `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` / `quantize_row_q4_1_ref` (and candle's
//! port, `BlockQ8_0::from_float` etc.) write:
//!
//! | codec  | block | bytes | layout                                                     |
//! |--------|-------|-------|------------------------------------------------------------|
//! | `q8_0` | 32    | 34    | f16 `d`, 32 × i8 `qs`                                      |
//! | `q4_0` | 32    | 18    | f16 `d`, 16 bytes: low nibbles = values 0..16, high = 16..32 |
//! | `q4_1` | 32    | 20    | f16 `d`, f16 `m`, 16 bytes packed as in `q4_0`             |
//!
//! All f16 fields are little-endian. Blocks run along the last dimension of the 2-D view
//! `[rows, cols]` of the tensor, row after row, as in a GGUF file. If `cols` is not a multiple
//! of 32, each row's last block is padded with zeros (the padding is stored, so it counts in
//! the bits per value: a 384 × 100 matrix costs 4 blocks, not 3.125, per row). When `cols` is
//! a multiple of 32 the concatenated chunks are exactly the tensor's data in a GGUF file.
//!
//! The blocks are split into chunks of [`CHUNK_BLOCKS`] blocks (the last one shorter), encoded
//! and decoded in parallel. The codec has no parameters and ignores the rate (these are
//! fixed-rate formats), except that [`Rate::MaxError`] is refused: no bound can be promised.
//!
//! With the `packed` option (`q4_1:packed`) the same blocks are entropy-coded instead of
//! stored as they are ([`super::ggml_packed`]); the decoder tells the two apart by the
//! parameters (none = plain).
//!
//! Which reference behaviours matter for byte-identical output (checked against candle's
//! `QTensor::quantize` in `tensorjpeg-io`'s tests):
//! * the scale is computed in f32 and its reciprocal `id = 1/d` is taken from the *unrounded*
//!   f32 `d`; only the stored `d` (and `m`) are rounded to f16 (round to nearest even);
//! * Q8_0 rounds `x * id` half away from zero (`roundf`), then casts to i8;
//! * Q4_0 takes as `max` the *first* value of largest magnitude (strict `<` comparison), keeps
//!   its sign (`d = max / -8`), and quantizes with a truncating cast `(x*id + 8.5) as u8`
//!   clamped to 15 (so `x = -max` maps to 15, i.e. +7, not +8);
//! * Q4_1 uses `min` (not rounded) both for `(x - min) * id` and for the stored f16 `m`, and
//!   truncates `(x - min) * id + 0.5` to u8, clamped to 15.

use half::f16;
use rayon::prelude::*;

use crate::codec::{Codec, CodecSpec, Encoded, Rate};
use crate::error::{Error, Result};
use crate::tensor::matrix_dims;

/// Values per block (all three formats).
pub const QK: usize = 32;
/// Blocks per chunk (the last chunk holds the rest). Part of the stored format.
pub const CHUNK_BLOCKS: usize = 65_536;

/// One of the three GGUF block formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 8-bit, symmetric: f16 scale + 32 × i8 (8.5 bits per value).
    Q8_0,
    /// 4-bit, symmetric with sign-carrying scale: f16 scale + 32 nibbles (4.5 bits per value).
    Q4_0,
    /// 4-bit, affine: f16 scale, f16 minimum + 32 nibbles (5 bits per value).
    Q4_1,
}

impl Kind {
    /// The codec name (`q8_0`, `q4_0`, `q4_1`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Q8_0 => "q8_0",
            Kind::Q4_0 => "q4_0",
            Kind::Q4_1 => "q4_1",
        }
    }
    /// Parses a codec name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "q8_0" => Some(Kind::Q8_0),
            "q4_0" => Some(Kind::Q4_0),
            "q4_1" => Some(Kind::Q4_1),
            _ => None,
        }
    }
    /// Bytes per block of [`QK`] values.
    pub fn block_bytes(self) -> usize {
        match self {
            Kind::Q8_0 => 34,
            Kind::Q4_0 => 18,
            Kind::Q4_1 => 20,
        }
    }
    /// Quantizes one block of exactly [`QK`] values, appending its bytes to `out`.
    pub fn quantize_block(self, xs: &[f32; QK], out: &mut Vec<u8>) {
        match self {
            Kind::Q8_0 => quantize_q8_0(xs, out),
            Kind::Q4_0 => quantize_q4_0(xs, out),
            Kind::Q4_1 => quantize_q4_1(xs, out),
        }
    }
    /// Dequantizes one block (`block.len() == self.block_bytes()`) into `ys`.
    pub fn dequantize_block(self, block: &[u8], ys: &mut [f32; QK]) {
        match self {
            Kind::Q8_0 => {
                let d = f16_at(block, 0);
                for (y, &q) in ys.iter_mut().zip(&block[2..2 + QK]) {
                    *y = f32::from(q as i8) * d;
                }
            }
            Kind::Q4_0 => {
                let d = f16_at(block, 0);
                for (j, &q) in block[2..2 + QK / 2].iter().enumerate() {
                    ys[j] = f32::from((q & 0x0f) as i16 - 8) * d;
                    ys[j + QK / 2] = f32::from((q >> 4) as i16 - 8) * d;
                }
            }
            Kind::Q4_1 => {
                let d = f16_at(block, 0);
                let m = f16_at(block, 2);
                for (j, &q) in block[4..4 + QK / 2].iter().enumerate() {
                    ys[j] = f32::from(q & 0x0f) * d + m;
                    ys[j + QK / 2] = f32::from(q >> 4) * d + m;
                }
            }
        }
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `quantize_row_q8_0_ref`: d = amax / 127, q = round(x / d).
fn quantize_q8_0(xs: &[f32; QK], out: &mut Vec<u8>) {
    let mut amax = 0f32;
    for &x in xs {
        amax = amax.max(x.abs());
    }
    let d = amax / ((1 << 7) - 1) as f32;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    for &x in xs {
        // `f32::round` rounds half away from zero like C's roundf; `as i8` saturates.
        out.push(f32::round(x * id) as i8 as u8);
    }
}

/// `quantize_row_q4_0_ref`: d = max / -8 (max = first value of largest magnitude).
fn quantize_q4_0(xs: &[f32; QK], out: &mut Vec<u8>) {
    let mut amax = 0f32;
    let mut max = 0f32;
    for &x in xs {
        if amax < x.abs() {
            amax = x.abs();
            max = x;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    for j in 0..QK / 2 {
        let x0 = xs[j] * id;
        let x1 = xs[QK / 2 + j] * id;
        let q0 = u8::min(15, (x0 + 8.5) as u8);
        let q1 = u8::min(15, (x1 + 8.5) as u8);
        out.push(q0 | (q1 << 4));
    }
}

/// `quantize_row_q4_1_ref`: d = (max - min) / 15, m = min.
fn quantize_q4_1(xs: &[f32; QK], out: &mut Vec<u8>) {
    let mut min = f32::INFINITY;
    let mut max = f32::NEG_INFINITY;
    for &x in xs {
        min = f32::min(x, min);
        max = f32::max(x, max);
    }
    let d = (max - min) / ((1 << 4) - 1) as f32;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
    for j in 0..QK / 2 {
        let x0 = (xs[j] - min) * id;
        let x1 = (xs[QK / 2 + j] - min) * id;
        let q0 = u8::min(15, (x0 + 0.5) as u8);
        let q1 = u8::min(15, (x1 + 0.5) as u8);
        out.push(q0 | (q1 << 4));
    }
}

/// A GGUF block quantizer as a [`Codec`].
#[derive(Debug, Clone, Copy)]
pub struct GgmlCodec {
    kind: Kind,
    packed: bool,
}

impl GgmlCodec {
    /// The codec for `kind`.
    pub fn new(kind: Kind) -> Self {
        GgmlCodec {
            kind,
            packed: false,
        }
    }
    /// The codec for `kind` whose blocks are entropy-coded ([`super::ggml_packed`]).
    pub fn packed(kind: Kind) -> Self {
        GgmlCodec { kind, packed: true }
    }
    /// Which format this codec writes.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// Block geometry of a shape: (rows, cols, blocks per row, total blocks), with overflow checks.
fn geometry(shape: &[usize], values: usize) -> Result<(usize, usize, usize, usize)> {
    let (rows, cols) = matrix_dims(shape);
    let n = rows.checked_mul(cols);
    if n != Some(values) {
        return Err(Error::corrupt(format!(
            "ggml: shape {shape:?} does not hold {values} values"
        )));
    }
    let per_row = cols.div_ceil(QK);
    let blocks = rows
        .checked_mul(per_row)
        .ok_or_else(|| Error::corrupt(format!("ggml: shape {shape:?} overflows")))?;
    Ok((rows, cols, per_row, blocks))
}

impl Codec for GgmlCodec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        if let Rate::MaxError(_) = rate {
            return Err(Error::unsupported(
                self.name(),
                "max-error rate is not supported (fixed-rate block format; use quality, bits or the default)",
            ));
        }
        let (_rows, cols, per_row, blocks) = geometry(shape, values.len())?;
        let kind = self.kind;
        let bb = kind.block_bytes();
        let n_chunks = blocks.div_ceil(CHUNK_BLOCKS);
        let chunks: Vec<Vec<u8>> = (0..n_chunks)
            .into_par_iter()
            .map(|c| {
                let b0 = c * CHUNK_BLOCKS;
                let b1 = (b0 + CHUNK_BLOCKS).min(blocks);
                let mut out = Vec::with_capacity((b1 - b0) * bb);
                let mut buf = [0f32; QK];
                for b in b0..b1 {
                    let (row, j) = (b / per_row, b % per_row);
                    let start = row * cols + j * QK;
                    let end = (start + QK).min(row * cols + cols);
                    let src = &values[start..end];
                    buf[..src.len()].copy_from_slice(src);
                    buf[src.len()..].fill(0.0);
                    kind.quantize_block(&buf, &mut out);
                }
                out
            })
            .collect();
        let n = values.len().max(1) as f64;
        let (params, chunks) = if self.packed {
            super::ggml_packed::encode(kind, per_row, &chunks.concat())?
        } else {
            (Vec::new(), chunks)
        };
        let stored_bits = (params.len() + chunks.iter().map(Vec::len).sum::<usize>()) as f64 * 8.0;
        Ok(Encoded {
            params,
            chunks,
            stats: vec![
                ("blocks".to_string(), blocks as f64),
                (
                    "padding_values".to_string(),
                    (blocks * QK - values.len()) as f64,
                ),
                ("bits_per_value".to_string(), stored_bits / n),
            ],
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        let name = self.name();
        let numel = crate::tensor::numel(shape)
            .ok_or_else(|| Error::corrupt(format!("{name}: shape {shape:?} overflows")))?;
        let (rows, cols, per_row, blocks) = geometry(shape, numel)?;
        let kind = self.kind;
        let bb = kind.block_bytes();
        if !params.is_empty() {
            let data = super::ggml_packed::decode(name, kind, rows, per_row, params, chunks)?;
            let plain: Vec<&[u8]> = data.chunks(CHUNK_BLOCKS * bb).collect();
            return GgmlCodec::new(kind).decode(&[], &plain, shape);
        }
        let n_chunks = blocks.div_ceil(CHUNK_BLOCKS);
        if chunks.len() != n_chunks {
            return Err(Error::corrupt(format!(
                "{name}: shape {shape:?} needs {n_chunks} chunks of up to {CHUNK_BLOCKS} blocks, found {}",
                chunks.len()
            )));
        }
        for (c, chunk) in chunks.iter().enumerate() {
            let nb = (blocks - c * CHUNK_BLOCKS).min(CHUNK_BLOCKS);
            if chunk.len() != nb * bb {
                return Err(Error::corrupt(format!(
                    "{name}: chunk {c} has {} bytes, expected {} ({nb} blocks of {bb} bytes)",
                    chunk.len(),
                    nb * bb
                )));
            }
        }
        // Sizes are validated: the output allocation is bounded by the input size.
        let mut out = crate::limits::try_zeroed::<f32>(numel, "ggml output")?;
        // Decode each chunk into padded rows of blocks, then scatter into `out`.
        let decoded: Vec<Vec<f32>> = chunks
            .par_iter()
            .map(|chunk| {
                let mut ys = Vec::with_capacity(chunk.len() / bb * QK);
                let mut buf = [0f32; QK];
                for block in chunk.chunks_exact(bb) {
                    kind.dequantize_block(block, &mut buf);
                    ys.extend_from_slice(&buf);
                }
                ys
            })
            .collect();
        for (c, ys) in decoded.iter().enumerate() {
            for (k, block) in ys.chunks_exact(QK).enumerate() {
                let b = c * CHUNK_BLOCKS + k;
                let (row, j) = (b / per_row, b % per_row);
                let start = row * cols + j * QK;
                let len = QK.min(cols - j * QK);
                out[start..start + len].copy_from_slice(&block[..len]);
            }
        }
        Ok(out)
    }
}

/// Builds `q8_0`, `q4_0`, `q4_1` from a spec (the one option: `packed`).
pub fn factory(spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    let kind = Kind::from_name(&spec.name)?;
    Some(spec.check_allowed(&["packed"], &[]).map(|()| {
        let codec = if spec.flags.iter().any(|f| f == "packed") {
            GgmlCodec::packed(kind)
        } else {
            GgmlCodec::new(kind)
        };
        Box::new(codec) as Box<dyn Codec>
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        // xorshift64*, mapped to roughly N(0, 1)-ish via sum of uniforms.
        let mut s = seed.max(1);
        let mut next = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
        };
        (0..n)
            .map(|_| (next() + next() + next() + next() - 2.0) * 1.7)
            .collect()
    }

    fn codec(name: &str) -> Box<dyn Codec> {
        factory(&CodecSpec::parse(name).unwrap()).unwrap().unwrap()
    }

    fn round_trip(name: &str, values: &[f32], shape: &[usize]) -> (Encoded, Vec<f32>) {
        let c = codec(name);
        assert_eq!(c.name(), name);
        let enc = c.encode(values, shape, Rate::Default).unwrap();
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let dec = c.decode(&enc.params, &chunks, shape).unwrap();
        assert_eq!(dec.len(), values.len());
        (enc, dec)
    }

    fn f16r(x: f32) -> f32 {
        f16::from_f32(x).to_f32()
    }

    #[test]
    fn q8_0_error_within_half_step() {
        let (rows, cols) = (7, 96);
        let v = pseudo_random(rows * cols, 1);
        let (_, dec) = round_trip("q8_0", &v, &[rows, cols]);
        for (bx, by) in v.chunks(QK).zip(dec.chunks(QK)) {
            let amax = bx.iter().fold(0f32, |a, x| a.max(x.abs()));
            let d = amax / 127.0;
            // d/2 from rounding, plus the f16 rounding of the stored scale (|q| <= 127).
            let bound = d / 2.0 + 127.0 * (d - f16r(d)).abs() + 1e-6 * amax;
            for (x, y) in bx.iter().zip(by) {
                assert!((x - y).abs() <= bound, "{x} vs {y}, bound {bound}");
            }
        }
    }

    #[test]
    fn q4_0_and_q4_1_error_bounds() {
        let (rows, cols) = (5, 64);
        let v = pseudo_random(rows * cols, 2);
        let (_, d40) = round_trip("q4_0", &v, &[rows, cols]);
        let (_, d41) = round_trip("q4_1", &v, &[rows, cols]);
        for ((bx, b0), b1) in v.chunks(QK).zip(d40.chunks(QK)).zip(d41.chunks(QK)) {
            let amax = bx.iter().fold(0f32, |a, x| a.max(x.abs()));
            let d = amax / 8.0;
            // One full step (x = -max clamps from +8 to +7), plus the f16 scale error.
            let bound0 = d + 8.0 * (d - f16r(d)).abs() + 1e-6 * amax;
            let min = bx.iter().fold(f32::INFINITY, |a, &x| a.min(x));
            let max = bx.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
            let d1 = (max - min) / 15.0;
            let bound1 =
                d1 / 2.0 + 15.0 * (d1 - f16r(d1)).abs() + (min - f16r(min)).abs() + 1e-6 * amax;
            for ((x, y0), y1) in bx.iter().zip(b0).zip(b1) {
                assert!(
                    (x - y0).abs() <= bound0,
                    "q4_0: {x} vs {y0}, bound {bound0}"
                );
                assert!(
                    (x - y1).abs() <= bound1,
                    "q4_1: {x} vs {y1}, bound {bound1}"
                );
            }
        }
    }

    #[test]
    fn exact_bits_per_value() {
        let v = pseudo_random(64 * 128, 3);
        for (name, bpv) in [("q8_0", 8.5), ("q4_0", 4.5), ("q4_1", 5.0)] {
            let (enc, _) = round_trip(name, &v, &[64, 128]);
            let bits = enc.payload_bytes() as f64 * 8.0 / v.len() as f64;
            assert_eq!(bits, bpv, "{name}");
            assert!(enc
                .stats
                .iter()
                .any(|(k, x)| k == "bits_per_value" && *x == bpv));
        }
    }

    #[test]
    fn padding_of_ragged_rows_is_counted_and_dropped() {
        let (rows, cols) = (3, 40); // 2 blocks per row, 24 padding values per row
        let v = pseudo_random(rows * cols, 4);
        let (enc, dec) = round_trip("q8_0", &v, &[rows, cols]);
        assert_eq!(enc.payload_bytes(), rows * 2 * 34);
        for (x, y) in v.iter().zip(&dec) {
            assert!((x - y).abs() < 0.05);
        }
        // Scalars and empty tensors work too.
        let (_, d) = round_trip("q4_1", &[1.25], &[]);
        assert_eq!(d.len(), 1);
        let (enc, d) = round_trip("q4_0", &[], &[0, 32]);
        assert!(enc.chunks.is_empty() && d.is_empty());
    }

    #[test]
    fn exact_representation_cases() {
        // A block whose values are multiples of a power-of-two step round-trips exactly in Q8_0.
        let mut w: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 0.25).collect();
        w[0] = -31.75; // amax = 31.75 -> d = 0.25, exact in f16
        let (_, dec) = round_trip("q8_0", &w, &[32]);
        assert_eq!(dec, w);
        let zeros = vec![0f32; 64];
        for name in ["q8_0", "q4_0", "q4_1"] {
            assert_eq!(round_trip(name, &zeros, &[2, 32]).1, zeros);
        }
    }

    #[test]
    fn multi_chunk_and_validation() {
        let rows = CHUNK_BLOCKS / 2 + 3; // 2 blocks per row -> 2 chunks
        let v = pseudo_random(rows * 64, 5);
        let c = codec("q4_0");
        let enc = c.encode(&v, &[rows, 64], Rate::Quality(50)).unwrap();
        assert_eq!(enc.chunks.len(), 2);
        assert_eq!(enc.chunks[1].len(), 6 * 18);
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let dec = c.decode(&[], &chunks, &[rows, 64]).unwrap();
        assert_eq!(dec.len(), v.len());
        // Wrong chunk count, wrong chunk size, params, wrong shape: all rejected.
        assert!(c.decode(&[], &chunks[..1], &[rows, 64]).is_err());
        let short = &chunks[1][..chunks[1].len() - 1];
        assert!(c.decode(&[], &[chunks[0], short], &[rows, 64]).is_err());
        assert!(c.decode(&[1], &chunks, &[rows, 64]).is_err());
        assert!(c.decode(&[], &chunks, &[rows + 1, 64]).is_err());
        assert!(c.decode(&[], &chunks, &[usize::MAX, 64]).is_err());
    }

    #[test]
    fn rate_and_spec_handling() {
        let c = codec("q8_0");
        let err = c
            .encode(&[1.0; 32], &[32], Rate::MaxError(0.1))
            .unwrap_err();
        assert!(err.to_string().contains("q8_0"), "{err}");
        assert!(c.encode(&[1.0; 32], &[32], Rate::Bits(2.0)).is_ok());
        assert!(factory(&CodecSpec::parse("q8_0:fast").unwrap())
            .unwrap()
            .is_err());
        assert!(factory(&CodecSpec::parse("q5_0").unwrap()).is_none());
    }

    #[test]
    fn q4_0_first_max_wins_and_clamps() {
        // -2 comes first and has the same magnitude as 2: d = -2 / -8 = 0.25, so 2 -> +8
        // clamps to +7 (1.75).
        let mut v = [0f32; 32];
        v[0] = -2.0;
        v[1] = 2.0;
        let mut out = Vec::new();
        Kind::Q4_0.quantize_block(&v, &mut out);
        let mut ys = [0f32; 32];
        Kind::Q4_0.dequantize_block(&out, &mut ys);
        assert_eq!(ys[0], -2.0);
        assert_eq!(ys[1], 1.75);
    }
}
