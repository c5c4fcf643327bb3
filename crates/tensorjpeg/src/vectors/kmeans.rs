//! k-means (k-means++ seeding, Lloyd iterations, empty clusters re-seeded) and the small
//! pieces the quantization baselines share: a deterministic random generator, random
//! orthogonal matrices, the orthogonal Procrustes solution, and row-parallel scoring.

use crate::{Error, Result};
use rayon::prelude::*;

use crate::rng::SplitMix64;

/// Points per parallel task in assignment and scoring.
const BLOCK: usize = 256;

/// Nearest of `k` centroids given transposed (`dim × k`) and their squared norms:
/// `‖c‖² − 2 x·c` is accumulated for all centroids at once (one pass per coordinate, so the
/// inner loop runs over centroids and vectorises); `scratch` holds `k` values. Returns
/// `(index, ‖x − c‖²)`.
fn nearest(x: &[f32], ct: &[f32], norms: &[f32], scratch: &mut [f32]) -> (u32, f32) {
    let k = norms.len();
    scratch.copy_from_slice(norms);
    for (&xt, row) in x.iter().zip(ct.chunks_exact(k)) {
        let m = -2.0 * xt;
        scratch.iter_mut().zip(row).for_each(|(s, &c)| *s += m * c);
    }
    let mut best = (0u32, f32::INFINITY);
    for (j, &d) in scratch.iter().enumerate() {
        if d < best.1 {
            best = (j as u32, d);
        }
    }
    let xx: f32 = x.iter().map(|v| v * v).sum();
    (best.0, (best.1 + xx).max(0.0))
}

/// Assigns each `dim`-wide row of `data` to its nearest centroid (`k × dim`, row-major):
/// returns the labels and the squared distances. Runs in parallel over blocks of rows.
pub fn assign(data: &[f32], dim: usize, centroids: &[f32]) -> (Vec<u32>, Vec<f32>) {
    let k = centroids.len() / dim;
    let norms: Vec<f32> = centroids
        .chunks_exact(dim)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let mut ct = vec![0f32; k * dim];
    for (j, c) in centroids.chunks_exact(dim).enumerate() {
        for (t, &v) in c.iter().enumerate() {
            ct[t * k + j] = v;
        }
    }
    let n = data.len() / dim;
    let mut labels = vec![0u32; n];
    let mut dists = vec![0f32; n];
    labels
        .par_chunks_mut(BLOCK)
        .zip(dists.par_chunks_mut(BLOCK))
        .zip(data.par_chunks(BLOCK * dim))
        .for_each(|((l, d), x)| {
            let mut scratch = vec![0f32; k];
            for ((l, d), x) in l.iter_mut().zip(d.iter_mut()).zip(x.chunks_exact(dim)) {
                (*l, *d) = nearest(x, &ct, &norms, &mut scratch);
            }
        });
    (labels, dists)
}

/// k-means++ seeding (D² sampling), deterministic for a seed.
fn kmeanspp(data: &[f32], dim: usize, k: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let n = data.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(n);
    centroids.extend_from_slice(&data[first * dim..(first + 1) * dim]);
    let mut d2: Vec<f32> = vec![f32::INFINITY; n];
    for c in 1..k {
        let last = &centroids[(c - 1) * dim..c * dim];
        d2.par_iter_mut()
            .zip(data.par_chunks(dim))
            .for_each(|(d, x)| {
                let e: f32 = x.iter().zip(last).map(|(a, b)| (a - b) * (a - b)).sum();
                *d = d.min(e);
            });
        let total: f64 = d2.iter().map(|&v| v as f64).sum();
        let pick = if total > 0.0 {
            let mut target = rng.uniform() * total;
            let mut pick = n - 1;
            for (i, &v) in d2.iter().enumerate() {
                target -= v as f64;
                if target < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            rng.below(n) // fewer distinct points than clusters: duplicates are unavoidable
        };
        centroids.extend_from_slice(&data[pick * dim..(pick + 1) * dim]);
    }
    centroids
}

/// k-means on the `dim`-wide rows of `data`: `k` centroids (`k × dim`, row-major).
///
/// Seeded by k-means++ (or from `init`, `k × dim`, a hot start), then at most `iters`
/// Lloyd iterations (stopping early when no label changes). An empty cluster is re-seeded
/// with the point farthest from its centroid, as FAISS and scikit-learn do. Needs at least
/// `k` rows.
pub fn kmeans(
    data: &[f32],
    dim: usize,
    k: usize,
    iters: usize,
    seed: u64,
    init: Option<&[f32]>,
) -> Result<Vec<f32>> {
    if dim == 0 || k == 0 {
        return Err(Error::param(
            "k-means size",
            format!("k={k}, dim={dim}"),
            "≥ 1",
        ));
    }
    let n = data.len() / dim;
    if n < k {
        return Err(Error::param(
            "k-means training set",
            format!("{n} vectors"),
            format!("at least {k} (one per centroid)"),
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mut centroids = match init {
        Some(c) if c.len() == k * dim => c.to_vec(),
        _ => kmeanspp(data, dim, k, &mut rng),
    };
    let mut prev: Vec<u32> = Vec::new();
    for _ in 0..iters {
        let (labels, dists) = assign(data, dim, &centroids);
        if labels == prev {
            break;
        }
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (x, &l) in data.chunks_exact(dim).zip(&labels) {
            counts[l as usize] += 1;
            for (s, &v) in sums[l as usize * dim..][..dim].iter_mut().zip(x) {
                *s += v as f64;
            }
        }
        // Points ordered by decreasing distance: candidates to re-seed empty clusters.
        let mut far: Vec<usize> = Vec::new();
        if counts.contains(&0) {
            far = (0..n).collect();
            far.sort_by(|&a, &b| dists[b].total_cmp(&dists[a]).then(a.cmp(&b)));
        }
        let mut far = far.into_iter();
        for j in 0..k {
            let c = &mut centroids[j * dim..(j + 1) * dim];
            if counts[j] > 0 {
                for (c, &s) in c.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
                    *c = (s / counts[j] as f64) as f32;
                }
            } else if let Some(p) = far.next() {
                c.copy_from_slice(&data[p * dim..(p + 1) * dim]);
            }
        }
        prev = labels;
    }
    Ok(centroids)
}

/// Orthonormalises the `count` rows of `rows` (`count × d`, f64) in order by modified
/// Gram–Schmidt (twice, for accuracy); a row that degenerates is replaced by a unit basis
/// vector orthogonalised against the rows before it.
fn orthonormalise_rows(rows: &mut [f64], d: usize) {
    let count = rows.len() / d;
    let mut fallback = 0usize;
    for i in 0..count {
        let (done, rest) = rows.split_at_mut(i * d);
        let row = &mut rest[..d];
        for _attempt in 0..=d {
            let norm0 = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            for _ in 0..2 {
                for p in done.chunks_exact(d) {
                    let dot: f64 = p.iter().zip(row.iter()).map(|(a, b)| a * b).sum();
                    row.iter_mut().zip(p).for_each(|(r, &q)| *r -= dot * q);
                }
            }
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 1e-9 * norm0 && norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
                break;
            }
            // Degenerate: start again from the next unit vector.
            row.iter_mut().for_each(|v| *v = 0.0);
            row[fallback % d] = 1.0;
            fallback += 1;
        }
    }
}

/// A random `d × d` orthogonal matrix (row-major), deterministic for a seed: Gaussian
/// entries orthonormalised by Gram–Schmidt.
pub fn random_orthogonal(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut m: Vec<f64> = (0..d * d).map(|_| rng.gaussian()).collect();
    orthonormalise_rows(&mut m, d);
    m
}

/// The orthogonal `d × d` matrix `R` minimising `‖X R − Y‖_F`, given `A = Xᵀ Y`
/// (`d × d`, row-major): `R = U Vᵀ` for the SVD `A = U Σ Vᵀ`.
///
/// The SVD comes from the symmetric eigensolver: `AᵀA = V Σ² Vᵀ`
/// ([`crate::transform::klt::sym_eigen`]), then `uᵢ = A vᵢ / σᵢ`, re-orthonormalised in
/// decreasing-σ order (directions with σ ≈ 0 are completed to an orthonormal basis; they
/// do not affect the objective).
pub fn procrustes(a: &[f64], d: usize) -> Vec<f64> {
    let mut ata = vec![0f64; d * d];
    for row in a.chunks_exact(d) {
        for (i, &ri) in row.iter().enumerate() {
            for (o, &rj) in ata[i * d..(i + 1) * d].iter_mut().zip(row) {
                *o += ri * rj;
            }
        }
    }
    let (_, v) = crate::transform::klt::sym_eigen(&mut ata, d, d); // rows vᵢ
                                                                   // Rows uᵢ = A vᵢ.
    let mut u = vec![0f64; d * d];
    for (ui, vi) in u.chunks_exact_mut(d).zip(v.chunks_exact(d)) {
        for (o, arow) in ui.iter_mut().zip(a.chunks_exact(d)) {
            *o = arow.iter().zip(vi).map(|(x, y)| x * y).sum();
        }
    }
    orthonormalise_rows(&mut u, d);
    // R = Σᵢ uᵢ vᵢᵀ.
    let mut r = vec![0f64; d * d];
    for (ui, vi) in u.chunks_exact(d).zip(v.chunks_exact(d)) {
        for (rrow, &uir) in r.chunks_exact_mut(d).zip(ui) {
            rrow.iter_mut().zip(vi).for_each(|(o, &vc)| *o += uir * vc);
        }
    }
    r
}

/// Fills `out` (one score per stored row) in parallel blocks: `f(first_row, block)` fills
/// the scores of rows `first_row..first_row + block.len()`.
pub(crate) fn par_scores(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    out.par_chunks_mut(4 * BLOCK)
        .enumerate()
        .for_each(|(b, chunk)| f(b * 4 * BLOCK, chunk));
}

/// Checks a decode request: row in range, output `dim` long.
pub(crate) fn check_row(i: usize, len: usize, out: usize, dim: usize) -> Result<()> {
    if i >= len {
        return Err(Error::param("vector index", i, format!("< {len}")));
    }
    if out != dim {
        return Err(Error::param("decode output length", out, dim));
    }
    Ok(())
}

/// Checks a scores output buffer: one value per stored vector.
pub(crate) fn check_out(out: usize, len: usize) -> Result<()> {
    if out != len {
        return Err(Error::param(
            "scores output length",
            out,
            format!("{len} (one per vector)"),
        ));
    }
    Ok(())
}

/// Test helpers shared by the baselines' tests.
#[cfg(test)]
pub(crate) mod testdata {
    use crate::vectors::VectorIndex;

    pub use crate::rng::correlated_unit_vectors as vectors;

    /// The codec a spec names, if it parses and builds.
    pub fn parse(spec: &str) -> Option<Box<dyn crate::vectors::VectorCodec>> {
        crate::vectors::registry::parse(spec).ok()
    }

    /// Top-10 overlap with float32 of `codec` fitted on `train_n` synthetic vectors of
    /// dimension `dim` and encoding 2,000 others, over 30 queries (the recall sanity check
    /// every vector codec's tests run).
    pub fn top10_overlap(
        codec: &dyn crate::vectors::VectorCodec,
        train_n: usize,
        dim: usize,
    ) -> f64 {
        let train = vectors(train_n, dim, 6);
        let base = vectors(2000, dim, 7);
        let queries = vectors(30, dim, 8);
        let exact: Vec<Vec<f32>> = queries
            .chunks_exact(dim)
            .map(|q| exact_scores(&base, dim, q))
            .collect();
        let index = codec.fit_encode(&train, &base, dim).unwrap();
        overlap(&exact, &all_scores(index.as_ref(), &queries), 10)
    }

    /// Exact inner products of `query` with every row.
    pub fn exact_scores(base: &[f32], dim: usize, query: &[f32]) -> Vec<f32> {
        base.chunks_exact(dim)
            .map(|x| x.iter().zip(query).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// Scores of every query (row-major, the index's dimension wide) against an index.
    pub fn all_scores(index: &dyn VectorIndex, queries: &[f32]) -> Vec<Vec<f32>> {
        queries
            .chunks_exact(index.dim())
            .map(|q| {
                let mut s = vec![0f32; index.len()];
                index.scores(q, &mut s).unwrap();
                s
            })
            .collect()
    }

    /// Asserts that every score equals the dot product of the query with the decoded
    /// vector, within `tol`.
    pub fn check_consistent(index: &dyn VectorIndex, query: &[f32], tol: f32) {
        let mut s = vec![0f32; index.len()];
        index.scores(query, &mut s).unwrap();
        let mut row = vec![0f32; index.dim()];
        for (i, &si) in s.iter().enumerate() {
            index.decode(i, &mut row).unwrap();
            let want: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            assert!((si - want).abs() <= tol, "row {i}: {si} vs {want}");
        }
    }

    /// Mean overlap of the top-`k` sets of two scorings, over `queries`.
    pub fn overlap(a: &[Vec<f32>], b: &[Vec<f32>], k: usize) -> f64 {
        let mut hit = 0usize;
        for (x, y) in a.iter().zip(b) {
            let tx = crate::kernels::top_k(x, k);
            let ty = crate::kernels::top_k(y, k);
            hit += tx.iter().filter(|i| ty.contains(i)).count();
        }
        hit as f64 / (k * a.len()) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_off_orthogonal(r: &[f64], d: usize) -> f64 {
        let mut worst = 0f64;
        for i in 0..d {
            for j in 0..d {
                let dot: f64 = (0..d).map(|t| r[i * d + t] * r[j * d + t]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                worst = worst.max((dot - want).abs());
            }
        }
        worst
    }

    #[test]
    fn kmeans_finds_separated_clusters() {
        let mut rng = SplitMix64::new(3);
        let centers = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
        let mut data = Vec::new();
        for i in 0..400 {
            let c = centers[i % 4];
            data.push(c[0] + 0.1 * rng.gaussian() as f32);
            data.push(c[1] + 0.1 * rng.gaussian() as f32);
        }
        let cents = kmeans(&data, 2, 4, 20, 7, None).unwrap();
        for c in centers {
            let best = cents
                .chunks_exact(2)
                .map(|x| (x[0] - c[0]).abs() + (x[1] - c[1]).abs())
                .fold(f32::INFINITY, f32::min);
            assert!(best < 0.1, "center {c:?} not found: {cents:?}");
        }
        // Same seed, same answer.
        assert_eq!(cents, kmeans(&data, 2, 4, 20, 7, None).unwrap());
    }

    #[test]
    fn kmeans_handles_duplicates_and_small_sets() {
        let data = vec![1.0f32; 2 * 10]; // ten identical points
        let c = kmeans(&data, 2, 4, 5, 1, None).unwrap();
        assert!(c.iter().all(|v| v.is_finite()));
        assert!(kmeans(&data, 2, 11, 5, 1, None).is_err());
        assert!(kmeans(&data, 0, 1, 5, 1, None).is_err());
    }

    #[test]
    fn procrustes_recovers_rotation_and_is_orthogonal() {
        let d = 12;
        let r0 = random_orthogonal(d, 5);
        assert!(max_off_orthogonal(&r0, d) < 1e-12);
        // X random, Y = X R0: the solution is R0.
        let mut rng = SplitMix64::new(9);
        let n = 50;
        let x: Vec<f64> = (0..n * d).map(|_| rng.gaussian()).collect();
        let mut a = vec![0f64; d * d]; // Xᵀ Y = Xᵀ X R0
        for row in x.chunks_exact(d) {
            let y: Vec<f64> = (0..d)
                .map(|c| (0..d).map(|t| row[t] * r0[t * d + c]).sum())
                .collect();
            for i in 0..d {
                for j in 0..d {
                    a[i * d + j] += row[i] * y[j];
                }
            }
        }
        let r = procrustes(&a, d);
        assert!(max_off_orthogonal(&r, d) < 1e-9);
        let err = r
            .iter()
            .zip(&r0)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-8, "max error {err}");
        // Rank-deficient A still gives an orthogonal matrix.
        let mut low = vec![0f64; d * d];
        low[0] = 1.0;
        low[d + 1] = 2.0;
        assert!(max_off_orthogonal(&procrustes(&low, d), d) < 1e-9);
    }
}
