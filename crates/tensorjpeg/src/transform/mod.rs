//! Orthogonal transforms (stage 2 of the pipeline).
//!
//! A [`Transform`] maps one *plane* — a `rows × cols` row-major block of `f32` — to a flat
//! vector of coefficients and back. Every transform here is orthonormal (DCT, Hadamard,
//! KLT with `k == cols`) or close to energy-preserving (the CDF 9/7 wavelet, whose subbands
//! are scaled by the L2 norms of their synthesis functions), so a quantization error of
//! `e` in the coefficient domain costs about `e` in the signal domain.
//!
//! Coefficient layouts (what `forward` writes, what `inverse` reads):
//!
//! | transform | length | layout |
//! |---|---|---|
//! | `Identity` | `rows·cols` | the plane itself |
//! | `Dct8x8` | `R8·C8` (`R8`, `C8`: rows/cols rounded up to multiples of 8) | padded plane, row-major; coefficient `(u, v)` of the block at block-row `i`, block-column `j` sits at row `8i+u`, column `8j+v` |
//! | `Dct1d` | `rows·cols` | row `r` holds the DCT-II of input row `r`, frequency `0..cols` |
//! | `Hadamard` | `rows·P` (`P`: cols rounded up to a multiple of `block`) | row `r` holds the transform of input row `r`, block after block |
//! | `Wavelet` | `rows·cols` | Mallat layout in place: LL of the coarsest level top-left, details of each level in the usual three quadrants |
//! | `Klt` | `rows·k` | row `r` holds the `k` component scores of input row `r` |
//!
//! [`Transform::bands`] gives, for each coefficient, a small context index
//! (`0..num_bands`, at most [`MAX_BANDS`]) grouping coefficients of similar statistics,
//! for per-band quantizer steps and entropy models.
//!
//! Decoders must call [`Transform::validate`] with the plane shape after
//! [`Transform::read_params`]: `forward`/`inverse` panic (with a message) on parameters that
//! do not fit the plane, since that is a programming error on the encoder side.

pub mod dct;
pub mod hadamard;
pub mod klt;
pub mod wavelet;
pub mod wpt;

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};

/// The largest number of bands [`Transform::num_bands`] ever returns.
pub const MAX_BANDS: usize = 16;

/// Largest `log2(block)` accepted for [`Transform::Hadamard`] (blocks up to 2²⁴ values).
pub const MAX_HADAMARD_LOG2_BLOCK: u32 = 24;

/// Largest `cols` accepted for a stored [`klt::Klt`] (a sanity bound for decoders).
pub const MAX_KLT_COLS: usize = 1 << 24;

/// A transform applied to one plane (a rows×cols row-major f32 block).
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// No transform: coefficients are the values.
    Identity,
    /// JPEG's 2-D DCT-II on 8×8 blocks (orthonormal). Plane padded to multiples of 8 by edge
    /// replication.
    Dct8x8,
    /// 1-D orthonormal DCT-II along each row (per vector), any length.
    Dct1d,
    /// Randomized Hadamard per row: sign flips from a seeded PRNG (only the u64 seed is
    /// stored), then an orthonormal Walsh–Hadamard transform on blocks of length `block`
    /// (power of two); rows padded to a multiple of `block` by zeros.
    Hadamard {
        /// Seed of the SplitMix64 generator that draws the sign flips.
        seed: u64,
        /// Block length, a power of two (1 ..= 2²⁴).
        block: usize,
    },
    /// 2-D CDF 9/7 (JPEG 2000 irreversible) lifting wavelet, `levels` levels of Mallat
    /// dyadic decomposition, symmetric extension, any size; subbands scaled to be
    /// energy-preserving. See [`wavelet`].
    Wavelet {
        /// Requested decomposition levels (0 ..= [`wavelet::MAX_LEVELS`]); fewer are applied
        /// when the plane is too small.
        levels: u8,
    },
    /// KLT/PCA: rows are projected onto an orthonormal basis (cols × k, k ≤ cols) fitted on
    /// data and stored; inverse = basis · coef (+ mean).
    Klt(klt::Klt),
}

/// Band of a log2-spaced index grouping: `0 → 0`, `1 → 1`, `2..=3 → 2`, `4..=7 → 3`, …,
/// capped at `MAX_BANDS - 1`.
#[inline]
pub fn log2_band(i: usize) -> u8 {
    if i == 0 {
        0
    } else {
        ((usize::BITS - i.leading_zeros()) as usize).min(MAX_BANDS - 1) as u8
    }
}

/// `n` rounded up to a multiple of `m` (`m > 0`).
#[inline]
fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

impl Transform {
    /// Number of coefficients produced for a rows×cols plane (≥ rows*cols for padding
    /// transforms; rows*k for KLT). Zero when `rows == 0` or `cols == 0`.
    pub fn coeff_len(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            return 0;
        }
        match self {
            Transform::Identity | Transform::Dct1d | Transform::Wavelet { .. } => rows * cols,
            Transform::Dct8x8 => round_up(rows, 8) * round_up(cols, 8),
            Transform::Hadamard { block, .. } => rows * round_up(cols, (*block).max(1)),
            Transform::Klt(k) => rows * k.k,
        }
    }

    /// Checks that the parameters are usable on a rows×cols plane: Hadamard block a power of
    /// two ≤ 2²⁴, wavelet levels ≤ [`wavelet::MAX_LEVELS`], KLT sizes consistent and
    /// `klt.cols == cols` (when `rows > 0`). Decoders call this before `inverse`.
    pub fn validate(&self, rows: usize, cols: usize) -> Result<()> {
        match self {
            Transform::Identity | Transform::Dct8x8 | Transform::Dct1d => Ok(()),
            Transform::Hadamard { block, .. } => {
                if block.is_power_of_two() && *block <= 1 << MAX_HADAMARD_LOG2_BLOCK {
                    Ok(())
                } else {
                    Err(Error::param(
                        "hadamard block",
                        block,
                        format!(
                            "a power of two in 1..={}",
                            1usize << MAX_HADAMARD_LOG2_BLOCK
                        ),
                    ))
                }
            }
            Transform::Wavelet { levels } => {
                if (*levels as usize) <= wavelet::MAX_LEVELS {
                    Ok(())
                } else {
                    Err(Error::param(
                        "wavelet levels",
                        levels,
                        format!("0..={}", wavelet::MAX_LEVELS),
                    ))
                }
            }
            Transform::Klt(k) => {
                k.check()?;
                if rows > 0 && cols > 0 && k.cols != cols {
                    return Err(Error::param(
                        "klt cols",
                        k.cols,
                        format!("the plane's cols ({cols})"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Forward transform; `out.len() == coeff_len(rows, cols)`.
    ///
    /// # Panics
    /// If `x.len() != rows*cols`, `out` has the wrong length, or the parameters fail
    /// [`Transform::validate`].
    pub fn forward(&self, x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
        assert_eq!(x.len(), rows * cols, "transform input length");
        assert_eq!(
            out.len(),
            self.coeff_len(rows, cols),
            "transform output length"
        );
        if let Err(e) = self.validate(rows, cols) {
            panic!("{}: {e}", self.name());
        }
        if rows == 0 || cols == 0 {
            return;
        }
        match self {
            Transform::Identity => out.copy_from_slice(x),
            Transform::Dct8x8 => dct::forward_8x8_plane(x, rows, cols, out),
            Transform::Dct1d => dct::forward_1d_rows(x, rows, cols, out),
            Transform::Hadamard { seed, block } => {
                hadamard::forward_rows(x, rows, cols, *seed, *block, out)
            }
            Transform::Wavelet { levels } => wavelet::forward(x, rows, cols, *levels as usize, out),
            Transform::Klt(k) => k.forward(x, rows, out),
        }
    }

    /// Inverse; `out.len() == rows*cols`.
    ///
    /// # Panics
    /// If `c.len() != coeff_len(rows, cols)`, `out` has the wrong length, or the parameters
    /// fail [`Transform::validate`].
    pub fn inverse(&self, c: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
        assert_eq!(
            c.len(),
            self.coeff_len(rows, cols),
            "transform input length"
        );
        assert_eq!(out.len(), rows * cols, "transform output length");
        if let Err(e) = self.validate(rows, cols) {
            panic!("{}: {e}", self.name());
        }
        if rows == 0 || cols == 0 {
            return;
        }
        match self {
            Transform::Identity => out.copy_from_slice(c),
            Transform::Dct8x8 => dct::inverse_8x8_plane(c, rows, cols, out),
            Transform::Dct1d => dct::inverse_1d_rows(c, rows, cols, out),
            Transform::Hadamard { seed, block } => {
                hadamard::inverse_rows(c, rows, cols, *seed, *block, out)
            }
            Transform::Wavelet { levels } => wavelet::inverse(c, rows, cols, *levels as usize, out),
            Transform::Klt(k) => k.inverse(c, rows, out),
        }
    }

    /// Context/band index (0..num_bands) of each coefficient of a rows×cols plane (length
    /// `coeff_len(rows, cols)`), for per-band entropy models.
    ///
    /// * Identity/Hadamard: all 0.
    /// * Dct8x8: by zig-zag diagonal `u+v` of the coefficient inside its 8×8 block:
    ///   `{0}→0` (DC), `{1}→1`, `{2}→2`, `{3,4}→3`, `{5,6}→4`, `{7,8,9}→5`, `{10..14}→6`.
    /// * Dct1d: log2-spaced frequency groups ([`log2_band`] of the frequency index).
    /// * Wavelet: `0` = coarsest LL, then `1` = coarsest level's details, …, `L` = finest
    ///   level's details (`L` = levels actually applied).
    /// * KLT: log2-spaced component-index groups ([`log2_band`]: 0, 1, 2-3, 4-7, …).
    pub fn bands(&self, rows: usize, cols: usize) -> Vec<u8> {
        let n = self.coeff_len(rows, cols);
        if n == 0 {
            return Vec::new();
        }
        match self {
            Transform::Identity | Transform::Hadamard { .. } => vec![0; n],
            Transform::Dct8x8 => {
                let c8 = round_up(cols, 8);
                let mut v = Vec::with_capacity(n);
                for r in 0..round_up(rows, 8) {
                    for c in 0..c8 {
                        v.push(dct::DIAGONAL_BAND[(r % 8) + (c % 8)]);
                    }
                }
                v
            }
            Transform::Dct1d => {
                let row: Vec<u8> = (0..cols).map(log2_band).collect();
                row.repeat(rows)
            }
            Transform::Wavelet { levels } => wavelet::bands(rows, cols, *levels as usize),
            Transform::Klt(k) => {
                let row: Vec<u8> = (0..k.k).map(log2_band).collect();
                row.repeat(rows)
            }
        }
    }

    /// Number of bands used by [`Transform::bands`] for a rows×cols plane (≥ 1, ≤
    /// [`MAX_BANDS`]); every band index is below it (some bands may be empty).
    pub fn num_bands(&self, rows: usize, cols: usize) -> usize {
        match self {
            Transform::Identity | Transform::Hadamard { .. } => 1,
            Transform::Dct8x8 => dct::NUM_DIAGONAL_BANDS,
            Transform::Dct1d => log2_band(cols.saturating_sub(1)) as usize + 1,
            Transform::Wavelet { levels } => wavelet::num_bands(rows, cols, *levels as usize),
            Transform::Klt(k) => log2_band(k.k.saturating_sub(1)) as usize + 1,
        }
    }

    /// Short name: "identity","dct8x8","dct1d","hadamard","wavelet","klt".
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Identity => "identity",
            Transform::Dct8x8 => "dct8x8",
            Transform::Dct1d => "dct1d",
            Transform::Hadamard { .. } => "hadamard",
            Transform::Wavelet { .. } => "wavelet",
            Transform::Klt(_) => "klt",
        }
    }

    /// Serializes the parameters needed to invert.
    ///
    /// Format: a tag byte (`0` identity, `1` dct8x8, `2` dct1d, `3` hadamard, `4` wavelet,
    /// `5` klt), then: hadamard — `u64` seed, `u8` log2(block); wavelet — `u8` levels;
    /// klt — varint cols, varint k, `u8` flags (bit 0: basis stored as f16), `cols` f32
    /// means, then `k·cols` basis values (f16 bits as `u16`, or f32), component-major.
    ///
    /// # Panics
    /// If a Hadamard block is not a power of two (see [`Transform::validate`]).
    pub fn write_params(&self, w: &mut ByteWriter) {
        match self {
            Transform::Identity => w.u8(0),
            Transform::Dct8x8 => w.u8(1),
            Transform::Dct1d => w.u8(2),
            Transform::Hadamard { seed, block } => {
                assert!(
                    block.is_power_of_two(),
                    "hadamard block {block} is not a power of two"
                );
                w.u8(3);
                w.u64(*seed);
                w.u8(block.trailing_zeros() as u8);
            }
            Transform::Wavelet { levels } => {
                w.u8(4);
                w.u8(*levels);
            }
            Transform::Klt(k) => {
                w.u8(5);
                k.write(w);
            }
        }
    }

    /// Reads what [`Transform::write_params`] wrote. Corrupt or truncated input gives
    /// `Err` (never a panic); sizes are checked against the bytes left before allocating.
    pub fn read_params(r: &mut ByteReader) -> Result<Transform> {
        let tag = r.u8()?;
        Ok(match tag {
            0 => Transform::Identity,
            1 => Transform::Dct8x8,
            2 => Transform::Dct1d,
            3 => {
                let seed = r.u64()?;
                let lb = r.u8()? as u32;
                if lb > MAX_HADAMARD_LOG2_BLOCK {
                    return Err(Error::corrupt(format!(
                        "transform: hadamard log2(block) = {lb} exceeds {MAX_HADAMARD_LOG2_BLOCK}"
                    )));
                }
                Transform::Hadamard {
                    seed,
                    block: 1usize << lb,
                }
            }
            4 => {
                let levels = r.u8()?;
                if levels as usize > wavelet::MAX_LEVELS {
                    return Err(Error::corrupt(format!(
                        "transform: wavelet levels = {levels} exceeds {}",
                        wavelet::MAX_LEVELS
                    )));
                }
                Transform::Wavelet { levels }
            }
            5 => Transform::Klt(klt::Klt::read(r)?),
            t => {
                return Err(Error::corrupt(format!(
                    "transform: unknown transform tag {t} (expected 0..=5)"
                )))
            }
        })
    }
}

/// Deterministic pseudo-random test data shared by the transform tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// `n` values in about [-1, 1] (plus an occasional large one) from a 64-bit LCG.
    pub fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 40) as f32) / ((1u64 << 24) as f32);
                if (s >> 20) & 63 == 0 {
                    (u - 0.5) * 40.0
                } else {
                    u * 2.0 - 1.0
                }
            })
            .collect()
    }

    /// Sum of squares in f64.
    pub fn energy(v: &[f32]) -> f64 {
        v.iter().map(|&a| (a as f64) * (a as f64)).sum()
    }

    /// max |a-b| / max(1, max |a|).
    pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let scale = a.iter().fold(1.0f64, |m, &v| m.max(v.abs() as f64));
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).abs())
            .fold(0.0, f64::max)
            / scale
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{data, energy, rel_err};
    use super::*;
    use proptest::prelude::*;

    fn all_transforms(rows: usize, cols: usize, seed: u64) -> Vec<Transform> {
        let x = data(rows * cols, seed ^ 0x55);
        let mut v = vec![
            Transform::Identity,
            Transform::Dct8x8,
            Transform::Dct1d,
            Transform::Hadamard { seed, block: 1 },
            Transform::Hadamard { seed, block: 8 },
            Transform::Hadamard { seed, block: 64 },
            Transform::Wavelet { levels: 0 },
            Transform::Wavelet { levels: 1 },
            Transform::Wavelet { levels: 3 },
            Transform::Wavelet { levels: 15 },
        ];
        v.push(Transform::Klt(klt::Klt::fit(&x, rows, cols, cols, false)));
        v
    }

    fn round_trip(t: &Transform, rows: usize, cols: usize, seed: u64) {
        let x = data(rows * cols, seed);
        let mut c = vec![f32::NAN; t.coeff_len(rows, cols)];
        t.forward(&x, rows, cols, &mut c);
        assert!(
            c.iter().all(|v| v.is_finite()),
            "{} {rows}x{cols}",
            t.name()
        );
        let mut y = vec![f32::NAN; rows * cols];
        t.inverse(&c, rows, cols, &mut y);
        let e = rel_err(&x, &y);
        assert!(e <= 1e-5, "{} {rows}x{cols}: rel err {e}", t.name());
        // Energy: exact for the orthonormal ones when nothing is padded.
        let orthonormal = match t {
            Transform::Identity | Transform::Dct1d => true,
            Transform::Hadamard { block, .. } => cols.is_multiple_of(*block),
            Transform::Dct8x8 => rows.is_multiple_of(8) && cols.is_multiple_of(8),
            _ => false,
        };
        if orthonormal {
            let (ex, ec) = (energy(&x), energy(&c));
            assert!(
                (ex - ec).abs() <= 1e-5 * ex.max(1e-30),
                "{} {rows}x{cols}: energy {ex} vs {ec}",
                t.name()
            );
        }
        // Bands: right length and within range.
        let b = t.bands(rows, cols);
        assert_eq!(b.len(), c.len());
        let nb = t.num_bands(rows, cols);
        assert!((1..=MAX_BANDS).contains(&nb));
        assert!(b.iter().all(|&v| (v as usize) < nb), "{}", t.name());
    }

    #[test]
    fn round_trip_edge_shapes() {
        let shapes = [
            (0, 0),
            (0, 5),
            (5, 0),
            (1, 1),
            (1, 2),
            (2, 1),
            (1, 17),
            (17, 1),
            (3, 5),
            (8, 8),
            (9, 7),
            (16, 24),
            (13, 31),
            (64, 3),
        ];
        for (i, &(r, c)) in shapes.iter().enumerate() {
            for t in all_transforms(r, c, i as u64 + 7) {
                round_trip(&t, r, c, i as u64);
            }
        }
    }

    #[test]
    fn params_round_trip_and_reject_corruption() {
        let x = data(40 * 12, 3);
        let ts = vec![
            Transform::Identity,
            Transform::Dct8x8,
            Transform::Dct1d,
            Transform::Hadamard {
                seed: u64::MAX - 3,
                block: 256,
            },
            Transform::Wavelet { levels: 4 },
            Transform::Klt(klt::Klt::fit(&x, 40, 12, 5, false)),
            Transform::Klt(klt::Klt::fit(&x, 40, 12, 12, true)),
        ];
        for t in &ts {
            let mut w = ByteWriter::new();
            t.write_params(&mut w);
            let buf = w.into_inner();
            let mut r = ByteReader::new(&buf, "t");
            let back = Transform::read_params(&mut r).unwrap();
            r.finish().unwrap();
            assert_eq!(&back, t);
            back.validate(40, 12).unwrap();
            // Every truncation is an error, never a panic.
            for n in 0..buf.len() {
                let mut r = ByteReader::new(&buf[..n], "t");
                assert!(
                    Transform::read_params(&mut r).is_err(),
                    "{} cut at {n}",
                    t.name()
                );
            }
            // Random byte flips never panic.
            for i in 0..buf.len().min(64) {
                let mut b2 = buf.clone();
                b2[i] ^= 0xA5;
                let mut r = ByteReader::new(&b2, "t");
                if let Ok(t2) = Transform::read_params(&mut r) {
                    let _ = t2.validate(40, 12);
                }
            }
        }
        for bad in [vec![9u8], vec![3, 0, 0, 0, 0, 0, 0, 0, 0, 25], vec![4, 16]] {
            let mut r = ByteReader::new(&bad, "t");
            assert!(Transform::read_params(&mut r).is_err());
        }
        // Huge claimed KLT sizes are rejected before allocating.
        let mut w = ByteWriter::new();
        w.u8(5);
        w.varint(1 << 20);
        w.varint(1 << 20);
        w.u8(0);
        let mut r = ByteReader::new(&w.buf, "t");
        assert!(Transform::read_params(&mut r).is_err());
    }

    #[test]
    fn validate_rejects_bad_params() {
        assert!(Transform::Hadamard { seed: 1, block: 12 }
            .validate(2, 2)
            .is_err());
        assert!(Transform::Hadamard { seed: 1, block: 0 }
            .validate(2, 2)
            .is_err());
        assert!(Transform::Wavelet { levels: 16 }.validate(2, 2).is_err());
        let x = data(30, 1);
        let k = Transform::Klt(klt::Klt::fit(&x, 5, 6, 3, false));
        assert!(k.validate(5, 6).is_ok());
        assert!(k.validate(5, 7).is_err());
    }

    #[test]
    fn band_layouts() {
        assert_eq!(log2_band(0), 0);
        assert_eq!(log2_band(1), 1);
        assert_eq!(log2_band(3), 2);
        assert_eq!(log2_band(4), 3);
        assert_eq!(log2_band(usize::MAX), 15);
        let b = Transform::Dct8x8.bands(8, 8);
        assert_eq!(b[0], 0);
        assert_eq!(b[1], 1);
        assert_eq!(b[8], 1);
        assert_eq!(b[63], 6);
        assert_eq!(Transform::Dct8x8.num_bands(3, 3), 7);
        let b = Transform::Dct1d.bands(2, 9);
        assert_eq!(b, [0, 1, 2, 2, 3, 3, 3, 3, 4].repeat(2));
        assert_eq!(Transform::Dct1d.num_bands(2, 9), 5);
        assert_eq!(Transform::Dct1d.num_bands(2, 1 << 20), 16);
    }

    #[test]
    fn names() {
        let names: Vec<_> = all_transforms(2, 2, 0).iter().map(|t| t.name()).collect();
        for n in ["identity", "dct8x8", "dct1d", "hadamard", "wavelet", "klt"] {
            assert!(names.contains(&n));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn prop_round_trip(rows in 0usize..24, cols in 0usize..40, seed in any::<u64>(), lv in 0u8..6, lb in 0u32..7) {
            let x = data(rows * cols, seed);
            let ts = [
                Transform::Identity,
                Transform::Dct8x8,
                Transform::Dct1d,
                Transform::Hadamard { seed, block: 1 << lb },
                Transform::Wavelet { levels: lv },
                Transform::Klt(klt::Klt::fit(&x, rows, cols, cols, false)),
            ];
            for t in &ts {
                round_trip(t, rows, cols, seed);
            }
        }
    }
}
