//! The linear projection of the signal codec: `n_in` sub-band channels → `k` latent
//! channels, fitted by PCA.
//!
//! Signals are channel-major arrays `[n_in, P]` (channel `n` is the `P` values
//! `x[n·P .. (n+1)·P]`); each spatial position `p` is one sample vector
//! `(x[0][p], …, x[n_in−1][p])`. With `μ` the mean sample vector and `B` (`k × n_in`,
//! orthonormal rows in decreasing-variance order) the leading principal directions,
//!
//! ```text
//! forward   z[j][p] = Σ_n B[j][n]·(x[n][p] − μ[n])        [n_in, P] → [k, P]
//! inverse   x̂[n][p] = μ[n] + Σ_j B[j][n]·z[j][p]          [k, P] → [n_in, P]
//! ```
//!
//! With `k = n_in` the pair is an orthogonal change of basis (exact up to rounding); with
//! `k < n_in` the inverse is the best rank-`k` affine approximation on the training data.
//! This is WaLLoC's 1×1-convolution encoder with the PCA solution in place of a trained
//! one, and the transpose plus mean as the decoder.
//!
//! Fitting reuses [`crate::transform::klt`] on the sample vectors (position-major, i.e.
//! transposed), taken at evenly spaced positions across all training signals when there are
//! more than [`MAX_FIT_VECTORS`] (or more than [`MAX_FIT_FLOATS`] values); the KLT itself
//! estimates the covariance from a further evenly spaced subsample
//! ([`crate::transform::klt::max_fit_rows`]). Fitting is deterministic.
//!
//! Both directions run channel-major over blocks of [`BLOCK`] positions, four output
//! channels at a time, so the inner loops are contiguous multiply-adds that vectorise.

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};
use crate::transform::klt::Klt;

/// At most this many sample vectors (positions) are gathered for fitting.
pub const MAX_FIT_VECTORS: usize = 200_000;
/// At most this many values (`vectors × n_in`) are gathered for fitting (128 MiB of f32),
/// but never fewer than `2·n_in` vectors.
pub const MAX_FIT_FLOATS: usize = 1 << 25;
/// Positions per block in [`Projection::forward`] / [`Projection::inverse`].
pub const BLOCK: usize = 64;

/// Version byte of the serialized form.
const FORMAT_VERSION: u8 = 1;
/// Largest deviation of the stored basis's Gram matrix from the identity accepted on read.
const ORTHO_TOL: f64 = 1e-3;

/// A fitted projection from `channels` input channels to `k` latent channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Input channel count `n_in` (sub-band channels, `C·2^(J·D)`).
    pub channels: usize,
    /// Latent channel count (`1 ≤ k ≤ channels`).
    pub k: usize,
    mean: Vec<f32>,
    basis: Vec<f32>,
}

impl Projection {
    /// Fits a `k`-component PCA projection to the sample vectors of `samples`, each a
    /// channel-major `[n_in, P_i]` array (length a multiple of `n_in`; every position of
    /// every sample is one training vector).
    ///
    /// Errors: `n_in = 0`, `k` outside `1..=n_in`, a sample whose length is not a multiple
    /// of `n_in`, no positions at all, non-finite training values.
    pub fn fit(samples: &[&[f32]], n_in: usize, k: usize) -> Result<Projection> {
        if n_in == 0 {
            return Err(Error::param("projection input channels", 0, "≥ 1"));
        }
        check_k(k, n_in)?;
        let mut total = 0usize;
        for (i, s) in samples.iter().enumerate() {
            if s.len() % n_in != 0 {
                return Err(Error::param(
                    "projection training sample length",
                    format!("{} (sample {i})", s.len()),
                    format!("a multiple of the channel count {n_in}"),
                ));
            }
            if let Some(pos) = s.iter().position(|v| !v.is_finite()) {
                return Err(Error::param(
                    "projection training value",
                    format!("{} (sample {i}, index {pos})", s[pos]),
                    "finite values",
                ));
            }
            total += s.len() / n_in;
        }
        if total == 0 {
            return Err(Error::param(
                "projection training positions",
                0,
                "at least one sample vector",
            ));
        }
        let rows = total
            .min(MAX_FIT_VECTORS)
            .min((MAX_FIT_FLOATS / n_in).max(2 * n_in));
        // Gather `rows` evenly spaced positions (global index i·total/rows), transposed.
        let mut data = vec![0.0f32; rows * n_in];
        let mut sample = 0usize;
        let mut start = 0usize; // global index of the first position of `sample`
        for (i, row) in data.chunks_exact_mut(n_in).enumerate() {
            let g = (i as u128 * total as u128 / rows as u128) as usize;
            while g >= start + samples[sample].len() / n_in {
                start += samples[sample].len() / n_in;
                sample += 1;
            }
            let s = samples[sample];
            let p = s.len() / n_in;
            let q = g - start;
            for (n, v) in row.iter_mut().enumerate() {
                *v = s[n * p + q];
            }
        }
        let klt = Klt::fit(&data, rows, n_in, k, false);
        Projection::from_parts(klt.mean, klt.basis, k)
    }

    /// Builds a projection from a mean (`n_in` values) and `k` basis rows (`k × n_in`,
    /// row-major), checking sizes, finiteness and orthonormality (to 1e-3).
    pub fn from_parts(mean: Vec<f32>, basis: Vec<f32>, k: usize) -> Result<Projection> {
        let n_in = mean.len();
        if n_in == 0 {
            return Err(Error::param("projection input channels", 0, "≥ 1"));
        }
        check_k(k, n_in)?;
        if basis.len() != k * n_in {
            return Err(Error::param(
                "projection basis length",
                basis.len(),
                format!("k·n_in = {k}·{n_in} = {}", k * n_in),
            ));
        }
        if mean.iter().chain(&basis).any(|v| !v.is_finite()) {
            return Err(Error::param(
                "projection parameters",
                "non-finite value",
                "finite mean and basis",
            ));
        }
        let rows: Vec<&[f32]> = basis.chunks_exact(n_in).collect();
        for (a, ra) in rows.iter().enumerate() {
            for (b, rb) in rows.iter().enumerate().skip(a) {
                let d: f64 = ra
                    .iter()
                    .zip(rb.iter())
                    .map(|(&u, &v)| f64::from(u) * f64::from(v))
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                if (d - want).abs() > ORTHO_TOL {
                    return Err(Error::param(
                        "projection basis",
                        format!("row {a} · row {b} = {d}"),
                        format!("orthonormal rows ({want} within {ORTHO_TOL})"),
                    ));
                }
            }
        }
        Ok(Projection {
            channels: n_in,
            k,
            mean,
            basis,
        })
    }

    /// The mean sample vector (`channels` values).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The basis, `k` orthonormal rows of `channels` values, in decreasing-variance order.
    pub fn basis(&self) -> &[f32] {
        &self.basis
    }

    /// Fails unless this projection was fitted for `n_in` channels.
    pub fn check_channels(&self, n_in: usize) -> Result<()> {
        if n_in != self.channels {
            return Err(Error::param(
                "signal channel count",
                n_in,
                format!(
                    "{} (the projection was fitted for that many)",
                    self.channels
                ),
            ));
        }
        Ok(())
    }

    /// Checks the public sizes against the stored vectors (they are public fields).
    fn check_sizes(&self) -> Result<()> {
        if self.k == 0
            || self.k > self.channels
            || self.mean.len() != self.channels
            || self.basis.len() != self.k * self.channels
        {
            return Err(Error::param(
                "projection sizes",
                format!(
                    "channels {} k {} mean {} basis {}",
                    self.channels,
                    self.k,
                    self.mean.len(),
                    self.basis.len()
                ),
                "1 ≤ k ≤ channels, mean.len() == channels, basis.len() == k·channels",
            ));
        }
        Ok(())
    }

    /// Projects `x` (`[channels, p]`, channel-major) into `out` (`[k, p]`):
    /// `out[j][q] = Σ_n B[j][n]·(x[n][q] − μ[n])`, blocked over positions.
    pub fn forward(&self, x: &[f32], p: usize, out: &mut [f32]) -> Result<()> {
        self.check_sizes()?;
        let (n_in, k) = (self.channels, self.k);
        check_len("projection input length", x.len(), n_in, p)?;
        check_len("projection output length", out.len(), k, p)?;
        let zero = vec![0.0f32; k];
        let mut buf = vec![0.0f32; n_in * BLOCK];
        for p0 in (0..p).step_by(BLOCK) {
            let bl = BLOCK.min(p - p0);
            for (n, b) in buf.chunks_exact_mut(BLOCK).enumerate() {
                let m = self.mean[n];
                for (d, &v) in b.iter_mut().zip(&x[n * p + p0..n * p + p0 + bl]) {
                    *d = v - m;
                }
            }
            gemm_block(&self.basis, k, n_in, &buf, &zero, out, p, p0, bl);
        }
        Ok(())
    }

    /// The plain scalar version of [`Projection::forward`] (f64 accumulation), as a
    /// reference for tests.
    pub fn forward_reference(&self, x: &[f32], p: usize, out: &mut [f32]) -> Result<()> {
        self.check_sizes()?;
        let (n_in, k) = (self.channels, self.k);
        check_len("projection input length", x.len(), n_in, p)?;
        check_len("projection output length", out.len(), k, p)?;
        for j in 0..k {
            for q in 0..p {
                let mut acc = 0.0f64;
                for n in 0..n_in {
                    acc += f64::from(self.basis[j * n_in + n])
                        * (f64::from(x[n * p + q]) - f64::from(self.mean[n]));
                }
                out[j * p + q] = acc as f32;
            }
        }
        Ok(())
    }

    /// Reconstructs `out` (`[channels, p]`) from latents `z` (`[k, p]`):
    /// `out[n][q] = μ[n] + Σ_j B[j][n]·z[j][q]`, blocked over positions.
    pub fn inverse(&self, z: &[f32], p: usize, out: &mut [f32]) -> Result<()> {
        self.check_sizes()?;
        let (n_in, k) = (self.channels, self.k);
        check_len("projection latent length", z.len(), k, p)?;
        check_len("projection output length", out.len(), n_in, p)?;
        let mut bt = vec![0.0f32; n_in * k];
        for (j, row) in self.basis.chunks_exact(n_in).enumerate() {
            for (n, &v) in row.iter().enumerate() {
                bt[n * k + j] = v;
            }
        }
        let mut buf = vec![0.0f32; k * BLOCK];
        for p0 in (0..p).step_by(BLOCK) {
            let bl = BLOCK.min(p - p0);
            for (j, b) in buf.chunks_exact_mut(BLOCK).enumerate() {
                b[..bl].copy_from_slice(&z[j * p + p0..j * p + p0 + bl]);
                b[bl..].fill(0.0);
            }
            gemm_block(&bt, n_in, k, &buf, &self.mean, out, p, p0, bl);
        }
        Ok(())
    }

    /// Appends the projection: version byte, `channels` and `k` as varints, then the mean
    /// and the basis as little-endian f32.
    pub fn write(&self, w: &mut ByteWriter) {
        w.u8(FORMAT_VERSION);
        w.varint(self.channels as u64);
        w.varint(self.k as u64);
        for &v in self.mean.iter().chain(&self.basis) {
            w.f32(v);
        }
    }

    /// Reads what [`Projection::write`] wrote; truncated or garbled input (bad version,
    /// sizes, non-finite or non-orthonormal basis) is an error.
    pub fn read(r: &mut ByteReader) -> Result<Projection> {
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::corrupt(format!(
                "projection: format version {version} (expected {FORMAT_VERSION})"
            )));
        }
        let n_in = r.varint_max("projection channels", (r.remaining() / 4) as u64)? as usize;
        let k = r.varint_max("projection k", n_in as u64)? as usize;
        if n_in == 0 || k == 0 {
            return Err(Error::corrupt(format!(
                "projection: channels {n_in}, k {k} (both must be ≥ 1)"
            )));
        }
        let need = (k + 1) * n_in * 4;
        if need > r.remaining() {
            return Err(Error::corrupt(format!(
                "projection: truncated ({need} bytes of parameters wanted, {} left)",
                r.remaining()
            )));
        }
        let mut vals = Vec::with_capacity((k + 1) * n_in);
        for _ in 0..(k + 1) * n_in {
            vals.push(r.f32()?);
        }
        let basis = vals.split_off(n_in);
        Projection::from_parts(vals, basis, k)
            .map_err(|e| Error::corrupt(format!("projection: {e}")))
    }

    /// The serialized projection ([`Projection::write`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        self.write(&mut w);
        w.into_inner()
    }

    /// Reads [`Projection::to_bytes`]'s output; trailing bytes are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Projection> {
        let mut r = ByteReader::new(bytes, "signal projection");
        let proj = Projection::read(&mut r)?;
        r.finish()?;
        Ok(proj)
    }
}

fn check_k(k: usize, n_in: usize) -> Result<()> {
    if k == 0 || k > n_in {
        return Err(Error::param(
            "projection k",
            k,
            format!("1..={n_in} (the input channel count)"),
        ));
    }
    Ok(())
}

fn check_len(what: &'static str, len: usize, channels: usize, p: usize) -> Result<()> {
    if Some(len) != channels.checked_mul(p) {
        return Err(Error::param(
            what,
            len,
            format!("{channels} channels × {p} positions"),
        ));
    }
    Ok(())
}

/// `out[i][p0 + t] = init[i] + Σ_n w[i][n]·xin[n][t]` for `i < m`, `t < bl`, where `w` is
/// `m × inner` row-major, `xin` is `inner × BLOCK` and `out` is `m × p`. Four output rows
/// at a time so each loaded input row feeds four multiply-adds.
#[allow(clippy::too_many_arguments)]
fn gemm_block(
    w: &[f32],
    m: usize,
    inner: usize,
    xin: &[f32],
    init: &[f32],
    out: &mut [f32],
    p: usize,
    p0: usize,
    bl: usize,
) {
    if inner < 32 {
        // Short sums (the inverse: k latents per output): whole-block rows amortise the
        // per-tile set-up better than register tiles.
        for i0 in (0..m).step_by(4) {
            let r: [usize; 4] = std::array::from_fn(|q| (i0 + q).min(m - 1));
            let mut acc: [[f32; BLOCK]; 4] = std::array::from_fn(|q| [init[r[q]]; BLOCK]);
            for (n, xr) in xin.chunks_exact(BLOCK).enumerate().take(inner) {
                let wv: [f32; 4] = std::array::from_fn(|q| w[r[q] * inner + n]);
                for (a, &wq) in acc.iter_mut().zip(&wv) {
                    for (o, &v) in a.iter_mut().zip(xr) {
                        *o += wq * v;
                    }
                }
            }
            for (q, a) in acc.iter().enumerate().take(m - i0) {
                let i = i0 + q;
                out[i * p + p0..i * p + p0 + bl].copy_from_slice(&a[..bl]);
            }
        }
        return;
    }
    // Long sums (the forward projection): micro-tiles of 4 output rows × 8 positions, whose
    // 32 accumulators stay in registers (SSE2 has 16 of 4 lanes).
    const TP: usize = 8;
    for pb in (0..bl).step_by(TP) {
        for i0 in (0..m).step_by(4) {
            let r: [usize; 4] = std::array::from_fn(|q| (i0 + q).min(m - 1));
            let mut acc: [[f32; TP]; 4] = std::array::from_fn(|q| [init[r[q]]; TP]);
            for n in 0..inner {
                let xr: &[f32; TP] = xin[n * BLOCK + pb..n * BLOCK + pb + TP]
                    .try_into()
                    .expect("BLOCK is a multiple of 8");
                let wv: [f32; 4] = std::array::from_fn(|q| w[r[q] * inner + n]);
                for (a, &wq) in acc.iter_mut().zip(&wv) {
                    for (o, &v) in a.iter_mut().zip(xr) {
                        *o += wq * v;
                    }
                }
            }
            let len = TP.min(bl - pb);
            for (q, a) in acc.iter().enumerate().take(m - i0) {
                let at = (i0 + q) * p + p0 + pb;
                out[at..at + len].copy_from_slice(&a[..len]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    /// Channel-major `[n_in, p]` data: `n_in` correlated channels (a random mixing of
    /// decaying-variance sources) plus a per-channel offset.
    fn correlated(n_in: usize, p: usize, seed: u64) -> Vec<f32> {
        let mix = random(n_in * n_in, seed);
        let src = random(n_in * p, seed + 1);
        let mut x = vec![0.0f32; n_in * p];
        for n in 0..n_in {
            for s in 0..n_in {
                let w = mix[n * n_in + s] / (1.0 + s as f32);
                for q in 0..p {
                    x[n * p + q] += w * src[s * p + q];
                }
            }
            for q in 0..p {
                x[n * p + q] += n as f32 * 0.5 - 3.0;
            }
        }
        x
    }

    #[test]
    fn full_rank_round_trip() {
        let (n_in, p) = (12, 300);
        let x = correlated(n_in, p, 1);
        let proj = Projection::fit(&[&x], n_in, n_in).unwrap();
        let mut z = vec![0.0; n_in * p];
        proj.forward(&x, p, &mut z).unwrap();
        let mut back = vec![0.0; n_in * p];
        proj.inverse(&z, p, &mut back).unwrap();
        let scale = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
    }

    #[test]
    fn low_rank_data_is_reconstructed() {
        // Data in a 3-dim affine subspace of R^10, split over two training signals.
        let (n_in, k, p) = (10, 3, 500);
        let dirs = random(k * n_in, 7);
        let coef = random(k * 2 * p, 8);
        let offset: Vec<f32> = (0..n_in).map(|n| n as f32 - 4.0).collect();
        let mut x = vec![0.0f32; n_in * 2 * p];
        for n in 0..n_in {
            for q in 0..2 * p {
                let mut v = offset[n];
                for j in 0..k {
                    v += 3.0 * coef[j * 2 * p + q] * dirs[j * n_in + n];
                }
                x[n * 2 * p + q] = v;
            }
        }
        // The two halves of the positions as two separate signals.
        let half = |h: usize| -> Vec<f32> {
            (0..n_in)
                .flat_map(|n| x[n * 2 * p + h * p..n * 2 * p + (h + 1) * p].to_vec())
                .collect()
        };
        let (a, b) = (half(0), half(1));
        let proj = Projection::fit(&[&a, &b], n_in, k).unwrap();
        for s in [&a, &b] {
            let mut z = vec![0.0; k * p];
            proj.forward(s, p, &mut z).unwrap();
            let mut back = vec![0.0; n_in * p];
            proj.inverse(&z, p, &mut back).unwrap();
            for (u, v) in s.iter().zip(&back) {
                assert!((u - v).abs() < 1e-3, "{u} vs {v}");
            }
        }
    }

    #[test]
    fn fast_forward_matches_reference_and_basis_is_orthonormal() {
        for &(n_in, k, p) in &[(48, 12, 1000), (7, 5, 3), (5, 1, 130), (16, 16, 64)] {
            let x = correlated(n_in, p, n_in as u64);
            let proj = Projection::fit(&[&x], n_in, k).unwrap();
            let b = proj.basis();
            for i in 0..k {
                for j in 0..k {
                    let d: f64 = (0..n_in)
                        .map(|n| f64::from(b[i * n_in + n]) * f64::from(b[j * n_in + n]))
                        .sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-5, "gram[{i}][{j}] = {d}");
                }
            }
            let mut fast = vec![0.0; k * p];
            let mut slow = vec![0.0; k * p];
            proj.forward(&x, p, &mut fast).unwrap();
            proj.forward_reference(&x, p, &mut slow).unwrap();
            let scale = slow.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            for (u, v) in fast.iter().zip(&slow) {
                assert!((u - v).abs() <= 1e-5 * scale, "{u} vs {v}");
            }
        }
    }

    #[test]
    fn first_component_carries_most_variance() {
        let (n_in, p) = (8, 2000);
        let x = correlated(n_in, p, 3);
        let proj = Projection::fit(&[&x], n_in, n_in).unwrap();
        let mut z = vec![0.0; n_in * p];
        proj.forward(&x, p, &mut z).unwrap();
        let var: Vec<f64> = z
            .chunks_exact(p)
            .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
            .collect();
        assert!(
            var.windows(2).all(|w| w[0] >= w[1] * (1.0 - 1e-4)),
            "{var:?}"
        );
    }

    #[test]
    fn serialization_round_trip_and_corruption() {
        let (n_in, k, p) = (9, 4, 200);
        let x = correlated(n_in, p, 5);
        let proj = Projection::fit(&[&x], n_in, k).unwrap();
        let bytes = proj.to_bytes();
        assert_eq!(Projection::from_bytes(&bytes).unwrap(), proj);
        for cut in 0..bytes.len() {
            assert!(Projection::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Projection::from_bytes(&long).is_err());
        let mut bad = bytes.clone();
        bad[0] = 9; // version
        assert!(Projection::from_bytes(&bad).is_err());
        let mut bad = bytes.clone();
        bad[2] = 0; // k = 0
        assert!(Projection::from_bytes(&bad).is_err());
        let mut bad = bytes.clone();
        bad[2] = 10; // k > channels
        assert!(Projection::from_bytes(&bad).is_err());
        // A garbled basis value (exponent bits) breaks orthonormality.
        let mut bad = bytes.clone();
        let at = 3 + 4 * n_in + 3;
        bad[at] ^= 0x20;
        assert!(Projection::from_bytes(&bad).is_err());
        // A NaN mean value.
        let mut bad = bytes;
        bad[3..7].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Projection::from_bytes(&bad).is_err());
    }

    #[test]
    fn error_cases() {
        let x = correlated(6, 50, 11);
        assert!(Projection::fit(&[&x], 6, 0).is_err());
        assert!(Projection::fit(&[&x], 6, 7).is_err());
        assert!(Projection::fit(&[&x], 0, 1).is_err());
        assert!(Projection::fit(&[&x[..299]], 6, 2).is_err());
        assert!(Projection::fit(&[], 6, 2).is_err());
        assert!(Projection::fit(&[&[]], 6, 2).is_err());
        let mut nan = x.clone();
        nan[17] = f32::NAN;
        assert!(Projection::fit(&[&x, &nan], 6, 2).is_err());
        let mut inf = x.clone();
        inf[3] = f32::INFINITY;
        assert!(Projection::fit(&[&inf], 6, 2).is_err());

        let proj = Projection::fit(&[&x], 6, 2).unwrap();
        proj.check_channels(6).unwrap();
        let msg = proj.check_channels(192).unwrap_err().to_string();
        assert!(msg.contains("192") && msg.contains('6'), "{msg}");
        let mut z = vec![0.0; 2 * 50];
        assert!(proj.forward(&x[..294], 50, &mut z).is_err());
        assert!(proj.forward(&x, 50, &mut z[..99]).is_err());
        assert!(proj.forward_reference(&x, 49, &mut z).is_err());
        let mut back = vec![0.0; 300];
        assert!(proj.inverse(&z[..98], 50, &mut back).is_err());
        assert!(proj.inverse(&z, 50, &mut back[..299]).is_err());
        let mut broken = proj.clone();
        broken.k = 3;
        assert!(broken.forward(&x, 50, &mut vec![0.0; 150]).is_err());
        assert!(
            Projection::from_parts(vec![0.0; 3], vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 2).is_err()
        );
        assert!(Projection::from_parts(vec![0.0; 3], vec![1.0, 0.0, 0.0], 2).is_err());
        Projection::from_parts(vec![0.0; 3], vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 2).unwrap();
    }

    #[test]
    fn large_inputs_are_subsampled_deterministically() {
        // More positions than MAX_FIT_VECTORS: the fit still works and is repeatable.
        let (n_in, p) = (2, MAX_FIT_VECTORS + 12_345);
        let x: Vec<f32> = (0..n_in * p)
            .map(|i| {
                let q = (i % p) as f32;
                if i < p {
                    (q * 0.001).sin()
                } else {
                    2.0 * (q * 0.001).sin() + 1.0
                }
            })
            .collect();
        let a = Projection::fit(&[&x], n_in, 1).unwrap();
        let b = Projection::fit(&[&x], n_in, 1).unwrap();
        assert_eq!(a, b);
        // Channel 1 = 2·channel 0 + 1: the direction is (1, 2)/√5.
        let d = a.basis();
        assert!((d[0] - 1.0 / 5f32.sqrt()).abs() < 1e-4, "{d:?}");
        assert!((d[1] - 2.0 / 5f32.sqrt()).abs() < 1e-4, "{d:?}");
    }
}
