//! Product quantization (`pq:m=M`) and optimized product quantization (`opq:m=M`), the
//! FAISS `PQM` and `OPQM,PQM` index types.
//!
//! PQ splits each vector into `M` contiguous subvectors of `dim/M` values and quantizes each
//! with its own 256-centroid k-means codebook: one byte per subspace. OPQ first rotates the
//! vectors by a learned orthogonal `R` (`x' = x R`), trained as FAISS's `OPQMatrix` does:
//! on the mean-centred training set `X`, a random rotation to start, then alternately PQ
//! on `X R` (40 k-means iterations the first time, then 4, hot-started) and `R` ← the
//! orthogonal Procrustes solution minimising `‖X R − Ŷ‖` for the PQ reconstruction `Ŷ`
//! (50 rounds); finally the codebooks are trained afresh on the rotated (uncentred)
//! training set (25 iterations, FAISS's default).
//!
//! Search is asymmetric (ADC): the float query is rotated once, a `M × 256` table of
//! subvector–centroid inner products is built, and each stored vector's score is
//! `Σ_m table[m][code_m]`, exactly the inner product with its decoded vector.
//!
//! Size: `M` bytes per vector, plus the codebooks (`256 × dim` f32) and for OPQ the rotation
//! (`dim × dim` f32), amortised over the collection.

use super::kmeans::{
    assign, check_out, check_row, kmeans, par_scores, procrustes, random_orthogonal,
};
use super::scalar::dot_f32;
use super::{check_query, check_rows, VectorCodec, VectorIndex};
use crate::{Error, Result};
use rayon::prelude::*;

/// Centroids per subspace (one byte per code).
pub const KSUB: usize = 256;

/// Most training vectors used (FAISS: 256 per centroid for OPQ, evenly spaced here).
pub const MAX_TRAIN: usize = 256 * 256;

/// Product quantization, optionally with a learned rotation (OPQ).
#[derive(Debug, Clone, Copy)]
pub struct PqCodec {
    m: usize,
    opq: bool,
    /// Final k-means iterations per subspace codebook.
    pub iters: usize,
    /// OPQ alternation rounds.
    pub opq_rounds: usize,
    /// Seed for k-means++ and the initial rotation.
    pub seed: u64,
}

impl PqCodec {
    /// PQ with `m` subspaces (`m ≥ 1`; the dimension must be divisible by `m` at fit time).
    pub fn pq(m: usize) -> Result<Self> {
        Self::new(m, false)
    }
    /// OPQ with `m` subspaces.
    pub fn opq(m: usize) -> Result<Self> {
        Self::new(m, true)
    }
    fn new(m: usize, opq: bool) -> Result<Self> {
        if m == 0 {
            return Err(Error::param("product quantizer subspaces m", 0, "≥ 1"));
        }
        Ok(PqCodec {
            m,
            opq,
            iters: 25,
            opq_rounds: 50,
            seed: 1234,
        })
    }
}

impl VectorCodec for PqCodec {
    fn name(&self) -> String {
        format!("{}:m={}", if self.opq { "opq" } else { "pq" }, self.m)
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        Ok(Box::new(self.fit(train, base, dim)?))
    }
}

impl PqCodec {
    /// Fits codebooks (and for OPQ the rotation) on `train` and encodes `base`.
    pub fn fit(&self, train: &[f32], base: &[f32], dim: usize) -> Result<PqIndex> {
        let n_train = check_rows(train, dim, "training set")?;
        check_rows(base, dim, "collection")?;
        if !dim.is_multiple_of(self.m) {
            return Err(Error::param(
                "product quantizer subspaces m",
                self.m,
                format!("a divisor of the dimension {dim}"),
            ));
        }
        if n_train < KSUB {
            return Err(Error::param(
                "product quantizer training set",
                format!("{n_train} vectors"),
                format!("at least {KSUB} (one per centroid)"),
            ));
        }
        let x = subsample(train, dim, MAX_TRAIN);
        let rotation = if self.opq {
            Some(self.train_opq(&x, dim)?)
        } else {
            None
        };
        let xr = match &rotation {
            Some(r) => rotate(&x, dim, r),
            None => x,
        };
        let centroids = train_pq(&xr, dim, self.m, self.iters, self.seed, None)?;
        Ok(PqIndex::encode(dim, self.m, centroids, rotation, base))
    }

    /// The OPQ alternation on the mean-centred training set (as FAISS does); returns the
    /// rotation (`dim × dim` f32).
    fn train_opq(&self, x: &[f32], dim: usize) -> Result<Vec<f32>> {
        let n = x.len() / dim;
        let mut mean = vec![0f64; dim];
        for row in x.chunks_exact(dim) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        }
        let centred: Vec<f32> = x
            .chunks_exact(dim)
            .flat_map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(|(&v, &m)| v - (m / n as f64) as f32)
            })
            .collect();
        let x = centred.as_slice();
        let to_f32 = |r: &[f64]| r.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let mut r = to_f32(&random_orthogonal(dim, self.seed));
        let mut centroids: Option<Vec<f32>> = None;
        for round in 0..self.opq_rounds {
            let xr = rotate(x, dim, &r);
            let iters = if round == 0 { 40 } else { 4 };
            let c = train_pq(&xr, dim, self.m, iters, self.seed, centroids.as_deref())?;
            let codes = encode_all(&xr, dim, self.m, &c);
            let y = decode_all(&codes, dim, self.m, &c);
            r = to_f32(&procrustes(&xt_y(x, &y, dim), dim));
            centroids = Some(c);
        }
        Ok(r)
    }
}

/// At most `max` rows of `x`, evenly spaced.
fn subsample(x: &[f32], dim: usize, max: usize) -> Vec<f32> {
    let n = x.len() / dim;
    if n <= max {
        return x.to_vec();
    }
    (0..max)
        .flat_map(|i| x[i * n / max * dim..][..dim].iter().copied())
        .collect()
}

/// `x R` for row vectors `x` (`n × dim`) and `R` (`dim × dim`, row-major).
fn rotate(x: &[f32], dim: usize, r: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(dim * 64)
        .zip(x.par_chunks(dim * 64))
        .for_each(|(o, x)| {
            for (o, x) in o.chunks_exact_mut(dim).zip(x.chunks_exact(dim)) {
                for (&xk, rk) in x.iter().zip(r.chunks_exact(dim)) {
                    o.iter_mut().zip(rk).for_each(|(o, &v)| *o += xk * v);
                }
            }
        });
    out
}

/// `Xᵀ Y` (`dim × dim`, f64) for `n × dim` row-major `x`, `y`.
fn xt_y(x: &[f32], y: &[f32], dim: usize) -> Vec<f64> {
    x.par_chunks(dim * 256)
        .zip(y.par_chunks(dim * 256))
        .map(|(x, y)| {
            let mut a = vec![0f64; dim * dim];
            for (xr, yr) in x.chunks_exact(dim).zip(y.chunks_exact(dim)) {
                let yr: Vec<f64> = yr.iter().map(|&v| v as f64).collect();
                for (arow, &xi) in a.chunks_exact_mut(dim).zip(xr) {
                    let xi = xi as f64;
                    arow.iter_mut().zip(&yr).for_each(|(a, &y)| *a += xi * y);
                }
            }
            a
        })
        .reduce(
            || vec![0f64; dim * dim],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// Subspace `s` of every row, contiguous (`n × dsub`).
fn subspace(x: &[f32], dim: usize, dsub: usize, s: usize) -> Vec<f32> {
    x.chunks_exact(dim)
        .flat_map(|row| row[s * dsub..(s + 1) * dsub].iter().copied())
        .collect()
}

/// Codebooks for `m` subspaces (`m × 256 × dsub`), each by k-means (subspaces in parallel).
fn train_pq(
    x: &[f32],
    dim: usize,
    m: usize,
    iters: usize,
    seed: u64,
    init: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let dsub = dim / m;
    let books: Vec<Result<Vec<f32>>> = (0..m)
        .into_par_iter()
        .map(|s| {
            let sub = subspace(x, dim, dsub, s);
            let init = init.map(|c| &c[s * KSUB * dsub..(s + 1) * KSUB * dsub]);
            kmeans(&sub, dsub, KSUB, iters, seed.wrapping_add(s as u64), init)
        })
        .collect();
    let mut out = Vec::with_capacity(m * KSUB * dsub);
    for b in books {
        out.extend(b?);
    }
    Ok(out)
}

/// PQ codes (`n × m` bytes) of the rows of `x` (already rotated).
fn encode_all(x: &[f32], dim: usize, m: usize, centroids: &[f32]) -> Vec<u8> {
    let dsub = dim / m;
    let n = x.len() / dim;
    let mut codes = vec![0u8; n * m];
    for s in 0..m {
        let (labels, _) = assign(
            &subspace(x, dim, dsub, s),
            dsub,
            &centroids[s * KSUB * dsub..][..KSUB * dsub],
        );
        for (row, &l) in codes.chunks_exact_mut(m).zip(&labels) {
            row[s] = l as u8;
        }
    }
    codes
}

/// Reconstructions (in the rotated space) of PQ codes.
fn decode_all(codes: &[u8], dim: usize, m: usize, centroids: &[f32]) -> Vec<f32> {
    let dsub = dim / m;
    let mut y = Vec::with_capacity(codes.len() / m * dim);
    for row in codes.chunks_exact(m) {
        for (s, &c) in row.iter().enumerate() {
            y.extend_from_slice(&centroids[(s * KSUB + c as usize) * dsub..][..dsub]);
        }
    }
    y
}

/// A PQ/OPQ-encoded collection.
#[derive(Debug, Clone)]
pub struct PqIndex {
    dim: usize,
    m: usize,
    centroids: Vec<f32>,
    rotation: Option<Vec<f32>>,
    codes: Vec<u8>,
}

impl PqIndex {
    fn encode(
        dim: usize,
        m: usize,
        centroids: Vec<f32>,
        rotation: Option<Vec<f32>>,
        base: &[f32],
    ) -> Self {
        let codes = match &rotation {
            Some(r) => encode_all(&rotate(base, dim, r), dim, m, &centroids),
            None => encode_all(base, dim, m, &centroids),
        };
        PqIndex {
            dim,
            m,
            centroids,
            rotation,
            codes,
        }
    }
    /// Number of subspaces (bytes of code per vector).
    pub fn m(&self) -> usize {
        self.m
    }
    /// The learned rotation `R` (`dim × dim`, row-major, `x' = x R`), for OPQ.
    pub fn rotation(&self) -> Option<&[f32]> {
        self.rotation.as_deref()
    }
    /// The ADC table for a query: `m × 256` inner products of the (rotated) query's
    /// subvectors with the centroids.
    pub fn adc_table(&self, query: &[f32]) -> Result<Vec<f32>> {
        check_query(query, self.dim)?;
        let q = match &self.rotation {
            Some(r) => rotate(query, self.dim, r),
            None => query.to_vec(),
        };
        let dsub = self.dim / self.m;
        let mut table = Vec::with_capacity(self.m * KSUB);
        for (s, book) in self.centroids.chunks_exact(KSUB * dsub).enumerate() {
            let qs = &q[s * dsub..(s + 1) * dsub];
            table.extend(book.chunks_exact(dsub).map(|c| dot_f32(qs, c)));
        }
        Ok(table)
    }
}

impl VectorIndex for PqIndex {
    fn len(&self) -> usize {
        self.codes.len() / self.m
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        let rotation = self.rotation.as_ref().map_or(0, |r| 4 * r.len());
        self.codes.len() + 4 * self.centroids.len() + rotation
    }
    fn side_bytes(&self) -> usize {
        self.total_bytes() - self.codes.len()
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        let y = decode_all(
            &self.codes[i * self.m..(i + 1) * self.m],
            self.dim,
            self.m,
            &self.centroids,
        );
        match &self.rotation {
            // x = y Rᵀ: x_j = Σ_k y_k R[j][k].
            Some(r) => out
                .iter_mut()
                .zip(r.chunks_exact(self.dim))
                .for_each(|(o, rj)| *o = dot_f32(&y, rj)),
            None => out.copy_from_slice(&y),
        }
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_out(out.len(), self.len())?;
        let table = self.adc_table(query)?;
        let m = self.m;
        par_scores(out, |first, block| {
            let codes = &self.codes[first * m..(first + block.len()) * m];
            for (o, row) in block.iter_mut().zip(codes.chunks_exact(m)) {
                let mut acc = [0f32; 4];
                let mut quads = row.chunks_exact(4).zip(table.chunks_exact(4 * KSUB));
                for (c, t) in &mut quads {
                    for (k, a) in acc.iter_mut().enumerate() {
                        *a += t[k * KSUB + c[k] as usize];
                    }
                }
                let done = 4 * (m / 4);
                let tail: f32 = (done..m).map(|s| table[s * KSUB + row[s] as usize]).sum();
                *o = acc.iter().sum::<f32>() + tail;
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::kmeans::testdata::*;
    use super::*;

    fn reconstruction_mse(index: &PqIndex, base: &[f32]) -> f64 {
        let mut row = vec![0f32; index.dim()];
        let mut se = 0f64;
        for (i, x) in base.chunks_exact(index.dim()).enumerate() {
            index.decode(i, &mut row).unwrap();
            se += x
                .iter()
                .zip(&row)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>();
        }
        se / base.len() as f64
    }

    #[test]
    fn adc_scores_are_decoded_dot_products() {
        let dim = 24;
        let train = vectors(600, dim, 1);
        let base = vectors(300, dim, 2);
        let q = vectors(1, dim, 3);
        for spec in ["pq:m=6", "opq:m=6", "pq:m=5"] {
            let codec = parse(spec).unwrap();
            assert_eq!(codec.name(), spec);
            if spec == "pq:m=5" {
                assert!(codec.fit_encode(&train, &base, dim).is_err());
                continue;
            }
            let index = codec.fit_encode(&train, &base, dim).unwrap();
            let rot = if spec.starts_with("opq") {
                4 * dim * dim
            } else {
                0
            };
            assert_eq!(index.total_bytes(), 300 * 6 + 4 * 256 * dim + rot);
            check_consistent(index.as_ref(), &q, 1e-5);
        }
    }

    #[test]
    fn opq_rotation_is_orthogonal_and_helps() {
        let dim = 32;
        let train = vectors(1500, dim, 4);
        let base = vectors(500, dim, 5);
        let mut opq = PqCodec::opq(4).unwrap();
        opq.opq_rounds = 10;
        let index = opq.fit(&train, &base, dim).unwrap();
        let r = index.rotation().unwrap();
        for i in 0..dim {
            for j in 0..dim {
                let dot: f32 = (0..dim).map(|t| r[i * dim + t] * r[j * dim + t]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
        let pq = PqCodec::pq(4).unwrap().fit(&train, &base, dim).unwrap();
        let (e_opq, e_pq) = (
            reconstruction_mse(&index, &base),
            reconstruction_mse(&pq, &base),
        );
        assert!(e_opq < e_pq, "OPQ error {e_opq} vs PQ {e_pq}");
        assert!(e_pq < 0.5 / dim as f64, "PQ error {e_pq}"); // well below the vectors' energy
    }

    #[test]
    fn recall_sanity() {
        let r = top10_overlap(&PqCodec::pq(16).unwrap(), 2000, 32);
        assert!(r > 0.6, "pq:m=16 top-10 overlap {r}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let train = vectors(300, 8, 1);
        let codec = PqCodec::pq(4).unwrap();
        assert!(codec.fit_encode(&train[..8 * 100], &train, 8).is_err()); // < 256 vectors
        assert!(codec.fit_encode(&train, &[], 8).is_err());
        let mut nan = train.clone();
        nan[3] = f32::NAN;
        assert!(codec.fit_encode(&nan, &train, 8).is_err());
        assert!(PqCodec::pq(0).is_err());
        assert!(parse("pq:m=0").is_none() && parse("pq:m=x").is_none() && parse("pq").is_none());
        let index = codec.fit_encode(&train, &train[..80], 8).unwrap();
        let mut out = vec![0f32; 10];
        assert!(index.scores(&[0.0; 9], &mut out).is_err());
        assert!(index.scores(&[0.0; 8], &mut out[..9]).is_err());
        assert!(index.decode(10, &mut [0.0; 8]).is_err());
    }
}
