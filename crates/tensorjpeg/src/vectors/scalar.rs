//! float16, int8 and int4 scalar quantization.
//!
//! int8/int4 follow sentence-transformers' `quantize_embeddings(…, calibration_embeddings)`:
//! per dimension `d`, `min_d` and `max_d` over the calibration (training) set, `L` uniform
//! levels (256 or 16), `step_d = (max_d − min_d)/(L − 1)`, code `c = (x − min_d)/step_d`.
//! Two deliberate differences, both improvements: codes are rounded to the nearest level
//! (sentence-transformers truncates) and values outside the calibrated range are clamped
//! (sentence-transformers lets them wrap around). int4 packs two codes per byte (dimension
//! `2j` in the low nibble of byte `j`).
//!
//! Scoring without decoding: `q·x̂ = Σ_d q_d (min_d + step_d c_d) = q·min + Σ_d w_d c_d` with
//! `w_d = q_d·step_d` computed once per query, then one multiply-add per stored code.

use super::kmeans::{check_out, check_row, par_scores};
use super::retrieval::BruteForce;
use super::{check_query, check_rows, VectorCodec, VectorIndex};
use crate::kernels::dot;
use crate::{Error, Result};
use half::f16;
use half::slice::HalfFloatSliceExt;

/// Dot product of two `f32` slices (16 independent accumulators, so it vectorises).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (mut ac, mut bc) = (a.chunks_exact(16), b.chunks_exact(16));
    for (x, y) in (&mut ac).zip(&mut bc) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ_d w_d·c_d` over one row of 8-bit codes with 16-bit integer weights: the fast path
/// (plain integer reductions, which LLVM vectorises to `pmaddwd`, fully so with AVX2), in
/// i32 over blocks of 512 dimensions (which cannot overflow for weights within ±16383),
/// summed in i64.
pub fn dot_u8_i16(w: &[i16], codes: &[u8]) -> i64 {
    w.chunks(512)
        .zip(codes.chunks(512))
        .map(|(w, c)| {
            let s: i32 = w
                .iter()
                .zip(c)
                .map(|(&w, &c)| i32::from(w) * i32::from(c))
                .sum();
            i64::from(s)
        })
        .sum()
}

/// `Σ_d w_d·c_d` over one row of 8-bit codes, one f32 term at a time (the reference).
pub fn dot_u8_reference(w: &[f32], codes: &[u8]) -> f32 {
    w.iter().zip(codes).map(|(&w, &c)| w * f32::from(c)).sum()
}

/// The 4-bit code of dimension `d` in a packed row.
#[inline]
fn nibble(codes: &[u8], d: usize) -> u8 {
    (codes[d / 2] >> (4 * (d % 2))) & 15
}

/// `Σ_d w_d·c_d` over one row of packed 4-bit codes with 16-bit integer weights split by
/// nibble: `w = [w_0, w_2, w_4, …, w_1, w_3, w_5, …]` (`2·⌈dim/2⌉` values, the odd half
/// zero-padded), so both halves are plain reductions over the row's bytes: the fast path.
pub fn dot_u4_i16(w: &[i16], codes: &[u8]) -> i64 {
    let (lo, hi) = w.split_at(w.len() / 2);
    // Blocks of 4096 bytes: 2 · 4096 · 15 · 16383 < 2³¹.
    let block = |lo: &[i16], hi: &[i16], c: &[u8]| -> i64 {
        let a: i32 = lo
            .iter()
            .zip(c)
            .map(|(&w, &c)| i32::from(w) * i32::from(c & 15))
            .sum();
        let b: i32 = hi
            .iter()
            .zip(c)
            .map(|(&w, &c)| i32::from(w) * i32::from(c >> 4))
            .sum();
        i64::from(a) + i64::from(b)
    };
    lo.chunks(4096)
        .zip(hi.chunks(4096))
        .zip(codes.chunks(4096))
        .map(|((l, h), c)| block(l, h, c))
        .sum()
}

/// `Σ_d w_d·c_d` over one row of packed 4-bit codes (`w.len()` dimensions), one f32 term
/// at a time (the reference).
pub fn dot_u4_reference(w: &[f32], codes: &[u8]) -> f32 {
    (0..w.len())
        .map(|d| w[d] * f32::from(nibble(codes, d)))
        .sum()
}

/// The query-dependent terms of `q·x̂ = q·min + Σ_d w_d c_d`, computed once per query.
#[derive(Debug, Clone)]
pub struct QueryTerms {
    /// `q·min`.
    pub bias: f32,
    /// `w_d = q_d·step_d` in f32 (the reference loops).
    pub weights: Vec<f32>,
    /// `w_d` rounded to 16-bit integers in units of `unit` (int4: split by nibble, see
    /// [`dot_u4_i16`]).
    pub int_weights: Vec<i16>,
    /// The value of one integer weight unit.
    pub unit: f32,
}

/// float32 storage (`float32`): the uncompressed reference. A single query is one pass of
/// [`dot`] over the rows (the default [`VectorIndex::search`]); batches use [`BruteForce`]
/// (the kernel of the exact ground truth).
#[derive(Debug, Clone, Copy, Default)]
pub struct F32Codec;

/// A collection stored as float32.
#[derive(Debug, Clone)]
pub struct F32Index {
    dim: usize,
    data: Vec<f32>,
}

impl VectorCodec for F32Codec {
    fn name(&self) -> String {
        "float32".into()
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        check_rows(train, dim, "training set")?;
        check_rows(base, dim, "collection")?;
        Ok(Box::new(F32Index {
            dim,
            data: base.to_vec(),
        }))
    }
}

impl VectorIndex for F32Index {
    fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        4 * self.data.len()
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        out.copy_from_slice(&self.data[i * self.dim..(i + 1) * self.dim]);
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        for (o, x) in out.iter_mut().zip(self.data.chunks_exact(self.dim)) {
            *o = dot(query, x);
        }
        Ok(())
    }
    /// Many queries: the blocked kernel (four queries per pass over the collection).
    fn search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<u32>>> {
        BruteForce::new_checked(&self.data, self.dim).topk(queries, k)
    }
}

/// float16 storage (`f16`): 2 bytes per value, scored by converting a row at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct F16Codec;

/// A collection stored as float16.
#[derive(Debug, Clone)]
pub struct F16Index {
    dim: usize,
    data: Vec<f16>,
}

impl VectorCodec for F16Codec {
    fn name(&self) -> String {
        "f16".into()
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        check_rows(train, dim, "training set")?;
        check_rows(base, dim, "collection")?;
        if let Some(i) = base.iter().position(|v| v.abs() > f16::MAX.to_f32()) {
            return Err(Error::BadTensor {
                tensor: "collection".into(),
                msg: format!(
                    "value {} at vector {} is outside the float16 range",
                    base[i],
                    i / dim
                ),
            });
        }
        let mut data = vec![f16::ZERO; base.len()];
        data.convert_from_f32_slice(base);
        Ok(Box::new(F16Index { dim, data }))
    }
}

impl VectorIndex for F16Index {
    fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        2 * self.data.len()
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        self.data[i * self.dim..(i + 1) * self.dim].convert_to_f32_slice(out);
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        let dim = self.dim;
        par_scores(out, |first, block| {
            let mut row = vec![0f32; dim];
            for (j, o) in block.iter_mut().enumerate() {
                let i = first + j;
                self.data[i * dim..(i + 1) * dim].convert_to_f32_slice(&mut row);
                *o = dot_f32(query, &row);
            }
        });
        Ok(())
    }
}

/// A fitted per-dimension uniform quantizer with 256 (int8) or 16 (int4) levels.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarQuantizer {
    /// Bits per code: 8 or 4.
    pub bits: u32,
    /// Per-dimension calibrated minimum (the value of code 0).
    pub min: Vec<f32>,
    /// Per-dimension step between levels (0 for a constant dimension).
    pub step: Vec<f32>,
}

impl ScalarQuantizer {
    /// Calibrates on `train` (row-major, `dim` wide): per-dimension min and max.
    pub fn fit(train: &[f32], dim: usize, bits: u32) -> Result<Self> {
        if bits != 8 && bits != 4 {
            return Err(Error::param("scalar quantizer bits", bits, "8 or 4"));
        }
        check_rows(train, dim, "training set")?;
        let mut min = vec![f32::INFINITY; dim];
        let mut max = vec![f32::NEG_INFINITY; dim];
        for row in train.chunks_exact(dim) {
            for ((lo, hi), &v) in min.iter_mut().zip(max.iter_mut()).zip(row) {
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
        let top = ((1u32 << bits) - 1) as f32;
        let step = min
            .iter()
            .zip(&max)
            .map(|(lo, hi)| (hi - lo) / top)
            .collect();
        Ok(ScalarQuantizer { bits, min, step })
    }
    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.min.len()
    }
    /// Bytes of codes per vector (int4: two codes per byte, rounded up).
    pub fn row_bytes(&self) -> usize {
        (self.dim() * self.bits as usize).div_ceil(8)
    }
    /// Bytes of side information: `min` and `step` as f32.
    pub fn side_bytes(&self) -> usize {
        8 * self.dim()
    }
    /// Appends the codes of one vector (`dim` values) to `out`.
    pub fn encode_row(&self, x: &[f32], out: &mut Vec<u8>) {
        let top = ((1u32 << self.bits) - 1) as f32;
        let code = |d: usize| {
            let s = self.step[d];
            if s > 0.0 {
                ((x[d] - self.min[d]) / s).round().clamp(0.0, top) as u8
            } else {
                0
            }
        };
        if self.bits == 8 {
            out.extend((0..self.dim()).map(code));
        } else {
            out.extend((0..self.row_bytes()).map(|j| {
                let hi = if 2 * j + 1 < self.dim() {
                    code(2 * j + 1)
                } else {
                    0
                };
                code(2 * j) | (hi << 4)
            }));
        }
    }
    /// Decodes one row of codes into `out` (`dim` values).
    pub fn decode_row(&self, codes: &[u8], out: &mut [f32]) {
        for (d, o) in out.iter_mut().enumerate() {
            let c = if self.bits == 8 {
                codes[d]
            } else {
                nibble(codes, d)
            };
            *o = self.min[d] + self.step[d] * f32::from(c);
        }
    }
    /// The per-query terms. The integer weights map the largest `|w_d|` to 16383; their
    /// rounding adds an error whose spread is a few percent of the spread of the codes' own
    /// rounding error (`√(Σ w_d²/12)`).
    pub fn query_terms(&self, query: &[f32]) -> QueryTerms {
        let bias = dot_f32(query, &self.min);
        let weights: Vec<f32> = query.iter().zip(&self.step).map(|(q, s)| q * s).collect();
        let max_w = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max_w > 0.0 {
            16383.0 / f64::from(max_w)
        } else {
            1.0
        };
        let q = |w: f32| (f64::from(w) * scale).round() as i16;
        let int_weights = if self.bits == 8 {
            weights.iter().map(|&w| q(w)).collect()
        } else {
            let half = self.row_bytes();
            let odd = |j: usize| weights.get(2 * j + 1).map_or(0, |&w| q(w));
            (0..half)
                .map(|j| q(weights[2 * j]))
                .chain((0..half).map(odd))
                .collect()
        };
        QueryTerms {
            bias,
            weights,
            int_weights,
            unit: (1.0 / scale) as f32,
        }
    }
    /// `q·x̂` for one row of codes: the fast integer path.
    pub fn score(&self, t: &QueryTerms, codes: &[u8]) -> f32 {
        let dot = if self.bits == 8 {
            dot_u8_i16(&t.int_weights, codes)
        } else {
            dot_u4_i16(&t.int_weights, codes)
        };
        t.bias + (f64::from(t.unit) * dot as f64) as f32
    }
    /// `q·x̂` for one row of codes through the f32 reference loops.
    pub fn score_reference(&self, t: &QueryTerms, codes: &[u8]) -> f32 {
        let dot = if self.bits == 8 {
            dot_u8_reference(&t.weights, codes)
        } else {
            dot_u4_reference(&t.weights, codes)
        };
        t.bias + dot
    }
}

/// Calibrated int8 (`int8`) or int4 (`int4`) scalar quantization.
#[derive(Debug, Clone, Copy)]
pub struct ScalarCodec {
    bits: u32,
}

impl ScalarCodec {
    /// 256 levels, one byte per value.
    pub fn int8() -> Self {
        ScalarCodec { bits: 8 }
    }
    /// 16 levels, two values per byte.
    pub fn int4() -> Self {
        ScalarCodec { bits: 4 }
    }
    /// `bits` = 8 or 4.
    pub fn new(bits: u32) -> Result<Self> {
        match bits {
            8 | 4 => Ok(ScalarCodec { bits }),
            _ => Err(Error::param("scalar quantizer bits", bits, "8 or 4")),
        }
    }
}

impl VectorCodec for ScalarCodec {
    fn name(&self) -> String {
        format!("int{}", self.bits)
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        let q = ScalarQuantizer::fit(train, dim, self.bits)?;
        Ok(Box::new(ScalarIndex::encode(q, base)?))
    }
}

/// A collection stored as calibrated int8 or int4 codes.
#[derive(Debug, Clone)]
pub struct ScalarIndex {
    quantizer: ScalarQuantizer,
    codes: Vec<u8>,
}

impl ScalarIndex {
    /// Encodes `base` (row-major, the quantizer's dimension wide) with a fitted quantizer.
    pub fn encode(quantizer: ScalarQuantizer, base: &[f32]) -> Result<Self> {
        let n = check_rows(base, quantizer.dim(), "collection")?;
        let mut codes = Vec::with_capacity(n * quantizer.row_bytes());
        for row in base.chunks_exact(quantizer.dim()) {
            quantizer.encode_row(row, &mut codes);
        }
        Ok(ScalarIndex { quantizer, codes })
    }
    /// The fitted quantizer.
    pub fn quantizer(&self) -> &ScalarQuantizer {
        &self.quantizer
    }
    /// The codes of vector `i` (`row_bytes` bytes), `None` when `i ≥ len()`.
    pub fn codes(&self, i: usize) -> Option<&[u8]> {
        (i < self.len()).then(|| self.row(i))
    }
    /// The codes of vector `i < len()`.
    fn row(&self, i: usize) -> &[u8] {
        let rb = self.quantizer.row_bytes();
        &self.codes[i * rb..(i + 1) * rb]
    }
    /// Scores of the listed rows only (for rescoring a shortlist); indices must be `< len()`.
    pub fn scores_of(&self, query: &[f32], rows: &[usize]) -> Result<Vec<f32>> {
        check_query(query, self.dim())?;
        if let Some(&i) = rows.iter().find(|&&i| i >= self.len()) {
            return Err(Error::param("vector index", i, format!("< {}", self.len())));
        }
        let t = self.quantizer.query_terms(query);
        Ok(rows
            .iter()
            .map(|&i| self.quantizer.score(&t, self.row(i)))
            .collect())
    }
    /// [`VectorIndex::scores`] through the one-term-at-a-time reference loops.
    pub fn scores_reference(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim())?;
        check_out(out.len(), self.len())?;
        let t = self.quantizer.query_terms(query);
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.quantizer.score_reference(&t, self.row(i));
        }
        Ok(())
    }
}

impl VectorIndex for ScalarIndex {
    fn len(&self) -> usize {
        self.codes.len() / self.quantizer.row_bytes()
    }
    fn dim(&self) -> usize {
        self.quantizer.dim()
    }
    fn total_bytes(&self) -> usize {
        self.codes.len() + self.quantizer.side_bytes()
    }
    fn side_bytes(&self) -> usize {
        self.quantizer.side_bytes()
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim())?;
        self.quantizer.decode_row(self.row(i), out);
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim())?;
        check_out(out.len(), self.len())?;
        let t = self.quantizer.query_terms(query);
        par_scores(out, |first, block| {
            for (j, o) in block.iter_mut().enumerate() {
                *o = self.quantizer.score(&t, self.row(first + j));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::kmeans::testdata::*;
    use super::*;

    const DIM: usize = 37; // odd, and not a multiple of 16: exercises every tail

    #[test]
    fn decode_error_is_within_half_a_step() {
        let train = vectors(300, DIM, 1);
        let base = vectors(200, DIM, 2);
        for bits in [8, 4] {
            let q = ScalarQuantizer::fit(&train, DIM, bits).unwrap();
            let index = ScalarIndex::encode(q.clone(), &base).unwrap();
            assert_eq!(index.total_bytes(), 200 * q.row_bytes() + 8 * DIM);
            let mut row = vec![0f32; DIM];
            for (i, x) in base.chunks_exact(DIM).enumerate() {
                index.decode(i, &mut row).unwrap();
                for d in 0..DIM {
                    let hi = q.min[d] + q.step[d] * ((1 << bits) - 1) as f32;
                    let clamped = x[d].clamp(q.min[d], hi);
                    let err = (row[d] - clamped).abs();
                    assert!(err <= 0.5 * q.step[d] + 1e-6, "bits {bits} dim {d}: {err}");
                }
            }
        }
    }

    #[test]
    fn scores_match_decoded_dot_and_reference() {
        let train = vectors(300, DIM, 3);
        let base = vectors(500, DIM, 4);
        let query = &vectors(1, DIM, 5);
        for codec in [ScalarCodec::int8(), ScalarCodec::int4()] {
            let q = ScalarQuantizer::fit(&train, DIM, codec.bits).unwrap();
            let index = ScalarIndex::encode(q, &base).unwrap();
            check_consistent(&index, query, 1e-4);
            let (mut fast, mut slow) = (vec![0f32; 500], vec![0f32; 500]);
            index.scores(query, &mut fast).unwrap();
            index.scores_reference(query, &mut slow).unwrap();
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() <= 1e-4, "{} fast {a} ref {b}", codec.name());
            }
            assert_eq!(
                index.scores_of(query, &[3, 7]).unwrap(),
                vec![fast[3], fast[7]]
            );
        }
        let f16 = F16Codec.fit_encode(&train, &base, DIM).unwrap();
        assert_eq!(f16.total_bytes(), 2 * base.len());
        check_consistent(f16.as_ref(), query, 1e-5);
    }

    #[test]
    fn fast_dots_equal_reference_on_random_codes() {
        let mut rng = crate::rng::SplitMix64::new(11);
        for len in [1usize, 15, 16, 17, 48, 384, 385, 3000] {
            for bits in [8u32, 4] {
                let q = ScalarQuantizer {
                    bits,
                    min: (0..len).map(|_| rng.gaussian() as f32).collect(),
                    step: (0..len).map(|_| rng.uniform() as f32 * 0.01).collect(),
                };
                let query: Vec<f32> = (0..len).map(|_| rng.gaussian() as f32).collect();
                let t = q.query_terms(&query);
                // Worst case of 16-bit weight rounding: half a unit per term.
                let bound = 0.5 * t.unit * (len as f32) * ((1 << bits) - 1) as f32 + 1e-4;
                let noise = (t.weights.iter().map(|w| w * w).sum::<f32>() / 12.0).sqrt();
                for _ in 0..20 {
                    // (int4, odd length: the unused high nibble of the last byte is zero.)
                    let top = |j: usize| {
                        if bits == 4 && 2 * j + 1 == len {
                            16
                        } else {
                            256
                        }
                    };
                    let codes: Vec<u8> = (0..q.row_bytes())
                        .map(|j| rng.below(top(j)) as u8)
                        .collect();
                    let (fast, slow) = (q.score(&t, &codes), q.score_reference(&t, &codes));
                    let e = (fast - slow).abs();
                    assert!(e <= bound, "len {len} bits {bits}: {fast} vs {slow}");
                    // And in practice small beside the codes' own rounding noise, whose
                    // standard deviation is √(Σ w²/12).
                    assert!(
                        e <= 0.2 * noise,
                        "len {len} bits {bits}: {e} vs noise {noise}"
                    );
                }
            }
        }
    }

    #[test]
    fn recall_against_float() {
        for (spec, want) in [("f16", 0.99), ("int8", 0.9), ("int4", 0.6)] {
            let r = top10_overlap(&*parse(spec).unwrap(), 1000, 64);
            assert!(r >= want, "{spec}: top-10 overlap {r}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let train = vectors(10, 8, 1);
        let codec = ScalarCodec::int8();
        assert!(codec.fit_encode(&[], &train, 8).is_err());
        assert!(codec.fit_encode(&train, &train[..7], 8).is_err());
        let mut nan = train.clone();
        nan[5] = f32::NAN;
        assert!(codec.fit_encode(&train, &nan, 8).is_err());
        assert!(codec.fit_encode(&nan, &train, 8).is_err());
        assert!(ScalarCodec::new(3).is_err());
        assert!(F16Codec.fit_encode(&train, &[1e6; 8], 8).is_err());
        let index = codec.fit_encode(&train, &train, 8).unwrap();
        let mut out = vec![0f32; 10];
        assert!(index.scores(&[0.0; 7], &mut out).is_err());
        assert!(index.scores(&[f32::NAN; 8], &mut out).is_err());
        assert!(index.scores(&[0.0; 8], &mut out[..3]).is_err());
        assert!(index.decode(10, &mut [0.0; 8]).is_err());
        assert!(parse("int3").is_none());
    }
}
