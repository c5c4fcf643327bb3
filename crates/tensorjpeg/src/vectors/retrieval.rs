//! Exact search and retrieval measures for embedding collections, with no ML dependency
//! (the shared kernels, `dot` and `top_k`, are in [`crate::kernels`]).
//!
//! - exact float32 search: [`brute_force_topk`] / [`BruteForce`] (blocked four queries at a
//!   time so every database row is loaded once per block, rayon over query blocks) beside
//!   [`brute_force_topk_reference`] (one query, one row, one sum at a time);
//! - [`search`]: top-`k` of a compressed [`VectorIndex`] for many queries (its own
//!   [`VectorIndex::scores`]);
//! - quality: [`recall_at_k`] and [`mrr`] for one relevant document per query,
//!   [`neighbour_recall`] (overlap of a top-`k` with the exact top-`k`, divided by `k`),
//!   [`spearman`] (rank correlation with tied ranks averaged).
//!
//! Scores are inner products; for L2-normalised embeddings that is cosine similarity.

use super::{check_query, check_rows, VectorIndex};
use crate::kernels::{dot, top_k, top_k_reference, LANES};
use crate::{Error, Result};
use rayon::prelude::*;
use std::cmp::Ordering;

/// Queries scored together against each database row in [`brute_force_topk`].
const QBLOCK: usize = 4;

/// Exact top-`k` by inner product of every query (rows of `queries`) against every row of
/// `base` (both row-major, `dim` wide): per query, the indices of the `k` best rows, best
/// first. Four queries share each pass over the database (a 4 × 8 register block), query
/// blocks run in parallel. Errors on empty inputs, ragged rows or non-finite values.
pub fn brute_force_topk(
    base: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<u32>>> {
    BruteForce::new(base, dim)?.topk(queries, k)
}

/// A float32 collection checked once (shape, finite values), searched exactly many times:
/// the float32 brute-force baseline without re-validating the collection per query.
#[derive(Debug, Clone, Copy)]
pub struct BruteForce<'a> {
    base: &'a [f32],
    dim: usize,
    n: usize,
}

impl<'a> BruteForce<'a> {
    /// Checks `base` (row-major, `dim` wide): whole rows, at least one, finite values.
    pub fn new(base: &'a [f32], dim: usize) -> Result<Self> {
        let n = check_rows(base, dim, "collection")?;
        Ok(BruteForce { base, dim, n })
    }

    /// For a collection already checked (e.g. when it was stored): no pass over it.
    pub(crate) fn new_checked(base: &'a [f32], dim: usize) -> Self {
        BruteForce {
            base,
            dim,
            n: base.len() / dim.max(1),
        }
    }

    /// Exact top-`k` of each query (see [`brute_force_topk`]); checks the queries.
    pub fn topk(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<u32>>> {
        let (base, dim, n) = (self.base, self.dim, self.n);
        check_rows(queries, dim, "queries")?;
        let blocks: Vec<Vec<Vec<u32>>> = queries
            .par_chunks(QBLOCK * dim)
            .map_init(
                || vec![0.0f32; QBLOCK * n],
                |scores, qb| {
                    let g = qb.len() / dim;
                    score_block(base, qb, dim, scores);
                    (0..g)
                        .map(|t| top_k(&scores[t * n..(t + 1) * n], k))
                        .collect()
                },
            )
            .collect();
        Ok(blocks.into_iter().flatten().collect())
    }
}

/// Scores of up to [`QBLOCK`] queries (`qb`, row-major) against every base row, into
/// `out[t·n + r]`. A short block is scored one query at a time ([`dot`]), so a single
/// query costs one pass of single-query work.
fn score_block(base: &[f32], qb: &[f32], dim: usize, out: &mut [f32]) {
    let n = base.len() / dim;
    let g = qb.len() / dim;
    if g < QBLOCK {
        for (t, q) in qb.chunks_exact(dim).enumerate() {
            for (o, x) in out[t * n..(t + 1) * n]
                .iter_mut()
                .zip(base.chunks_exact(dim))
            {
                *o = dot(q, x);
            }
        }
        return;
    }
    let mut q = vec![0.0f32; QBLOCK * dim];
    q[..qb.len()].copy_from_slice(qb);
    let qs: [&[f32]; QBLOCK] = std::array::from_fn(|t| &q[t * dim..(t + 1) * dim]);
    let m = dim - dim % LANES;
    for (r, x) in base.chunks_exact(dim).enumerate() {
        let mut acc = [[0.0f32; LANES]; QBLOCK];
        for o in (0..m).step_by(LANES) {
            let xv: &[f32; LANES] = x[o..o + LANES].try_into().unwrap();
            for (a, qt) in acc.iter_mut().zip(&qs) {
                let qv: &[f32; LANES] = qt[o..o + LANES].try_into().unwrap();
                for l in 0..LANES {
                    a[l] += qv[l] * xv[l];
                }
            }
        }
        for (t, a) in acc.iter().enumerate().take(g) {
            let mut s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            for i in m..dim {
                s += qs[t][i] * x[i];
            }
            out[t * n + r] = s;
        }
    }
}

/// [`brute_force_topk`] one query and one row at a time with a plain left-to-right sum and a
/// full sort (the scalar reference).
pub fn brute_force_topk_reference(
    base: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<u32>>> {
    check_rows(base, dim, "collection")?;
    check_rows(queries, dim, "queries")?;
    Ok(queries
        .chunks_exact(dim)
        .map(|q| {
            let scores: Vec<f32> = base
                .chunks_exact(dim)
                .map(|x| q.iter().zip(x).map(|(a, b)| a * b).sum())
                .collect();
            top_k_reference(&scores, k)
        })
        .collect())
}

/// Top-`k` of every query against a compressed index, from its own
/// [`VectorIndex::scores`] (queries in parallel). Errors on a dimension mismatch or a
/// non-finite query value.
pub fn search<I: VectorIndex + ?Sized>(
    index: &I,
    queries: &[f32],
    k: usize,
) -> Result<Vec<Vec<u32>>> {
    let dim = index.dim();
    if dim == 0 || !queries.len().is_multiple_of(dim) {
        return Err(Error::BadTensor {
            tensor: "queries".into(),
            msg: format!(
                "{} values do not split into queries of the collection's dimension {dim}",
                queries.len()
            ),
        });
    }
    let n = index.len();
    queries
        .par_chunks(dim)
        .map_init(
            || vec![0.0f32; n],
            |scores, q| {
                check_query(q, dim)?;
                index.scores(q, scores)?;
                Ok(top_k(scores, k))
            },
        )
        .collect()
}

/// The 1-based rank of document `relevant` in `scores` under [`top_k`]'s order (higher
/// score first, ties to the lower index). `None` if `relevant` is out of range.
pub fn rank_of(scores: &[f32], relevant: usize) -> Option<usize> {
    let s = *scores.get(relevant)?;
    let before = scores
        .iter()
        .enumerate()
        .filter(|&(j, v)| v.total_cmp(&s) == Ordering::Greater || (*v == s && j < relevant))
        .count();
    Some(before + 1)
}

/// Fraction of queries whose one relevant document (`relevant[q]`) is among the first `k`
/// results of `results[q]`. 0 for no queries.
pub fn recall_at_k(results: &[Vec<u32>], relevant: &[u32], k: usize) -> f64 {
    let hits = results
        .iter()
        .zip(relevant)
        .filter(|(r, &rel)| r.iter().take(k).any(|&i| i == rel))
        .count();
    hits as f64 / results.len().max(1) as f64
}

/// Mean reciprocal rank from 1-based ranks (`None`: not retrieved, counts 0). 0 for no
/// queries. With ranks from a top-`k` list this is MRR@k; with [`rank_of`], the full MRR.
pub fn mrr(ranks: &[Option<usize>]) -> f64 {
    let s: f64 = ranks
        .iter()
        .map(|r| r.map_or(0.0, |r| 1.0 / r.max(1) as f64))
        .sum();
    s / ranks.len().max(1) as f64
}

/// 1-based rank of `relevant` within a result list, `None` when absent.
pub fn rank_in(result: &[u32], relevant: u32) -> Option<usize> {
    result.iter().position(|&i| i == relevant).map(|p| p + 1)
}

/// Neighbour recall@k: mean over queries of `|approx_q[..k] ∩ exact_q[..k]| / k`.
/// 0 for no queries.
pub fn neighbour_recall(approx: &[Vec<u32>], exact: &[Vec<u32>], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for (a, e) in approx.iter().zip(exact) {
        let e = &e[..k.min(e.len())];
        let hit = a.iter().take(k).filter(|i| e.contains(i)).count();
        total += hit as f64 / k as f64;
    }
    total / approx.len().max(1) as f64
}

/// Ranks `1..=n` of `v` in increasing order, tied values sharing the mean of their ranks.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share ranks i+1..=j: mean (i + 1 + j) / 2.
        let r = (i + 1 + j) as f64 / 2.0;
        for &t in &idx[i..j] {
            ranks[t] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman rank correlation of two paired lists (Pearson correlation of their
/// [`average_ranks`]). Errors when the lengths differ, fewer than two pairs are given, a
/// value is not finite, or either list is constant (the correlation is undefined).
pub fn spearman(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return Err(Error::param(
            "spearman input lengths",
            format!("{} and {}", a.len(), b.len()),
            "two equal lengths ≥ 2",
        ));
    }
    if !a.iter().chain(b).all(|v| v.is_finite()) {
        return Err(Error::param(
            "spearman input",
            "a non-finite value",
            "finite values",
        ));
    }
    let (ra, rb) = (average_ranks(a), average_ranks(b));
    let n = a.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        let (dx, dy) = (x - mean, y - mean);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return Err(Error::param(
            "spearman input",
            "a constant list",
            "at least two distinct values in each list",
        ));
    }
    Ok(sab / (saa * sbb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rng::uniform_values as synth;

    #[test]
    fn brute_force_matches_reference_and_hand_case() {
        // Hand case: dim 2, base rows (1,0), (0,1), (1,1), (-1,0).
        let base = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.0];
        let q = [2.0, 1.0, 0.0, -1.0];
        let got = brute_force_topk(&base, &q, 2, 2).unwrap();
        assert_eq!(got, vec![vec![2, 0], vec![0, 3]]);
        assert_eq!(got, brute_force_topk_reference(&base, &q, 2, 2).unwrap());
        // Random shapes, including partial query blocks and dims that are not multiples
        // of the lane width. Values on a grid of 1/64 so every sum is exact in f32 and the
        // two summation orders agree bit for bit.
        for (n, nq, dim) in [(50usize, 9usize, 13usize), (200, 4, 384), (7, 1, 1)] {
            let g =
                |v: Vec<f32>| -> Vec<f32> { v.iter().map(|x| (x * 64.0).round() / 64.0).collect() };
            let base = g(synth(n * dim, n as u64));
            let qs = g(synth(nq * dim, 99));
            for k in [1usize, 10, n] {
                assert_eq!(
                    brute_force_topk(&base, &qs, dim, k).unwrap(),
                    brute_force_topk_reference(&base, &qs, dim, k).unwrap(),
                    "n {n} nq {nq} dim {dim} k {k}"
                );
            }
        }
    }

    #[test]
    fn brute_force_rejects_bad_input() {
        let base = [1.0f32, 0.0, 0.0, 1.0];
        assert!(brute_force_topk(&[], &[1.0, 0.0], 2, 1).is_err());
        assert!(brute_force_topk(&base, &[1.0, 0.0, 3.0], 2, 1).is_err());
        assert!(brute_force_topk(&base, &[f32::NAN, 0.0], 2, 1).is_err());
        assert!(brute_force_topk(&base, &[1.0, 0.0], 0, 1).is_err());
        let e = brute_force_topk(&[1.0, f32::INFINITY], &[1.0, 0.0], 2, 1).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
    }

    #[test]
    fn recall_mrr_and_neighbour_recall_by_hand() {
        let results = vec![vec![3, 1, 2], vec![0, 4, 5], vec![7, 8, 9]];
        let relevant = [1u32, 0, 6];
        assert_eq!(recall_at_k(&results, &relevant, 1), 1.0 / 3.0);
        assert_eq!(recall_at_k(&results, &relevant, 2), 2.0 / 3.0);
        let ranks: Vec<_> = results
            .iter()
            .zip(&relevant)
            .map(|(r, &rel)| rank_in(r, rel))
            .collect();
        assert_eq!(ranks, vec![Some(2), Some(1), None]);
        assert!((mrr(&ranks) - (0.5 + 1.0) / 3.0).abs() < 1e-12);
        // rank_of on scores, ties to the lower index.
        let s = [0.1f32, 0.9, 0.5, 0.9];
        assert_eq!(rank_of(&s, 1), Some(1));
        assert_eq!(rank_of(&s, 3), Some(2));
        assert_eq!(rank_of(&s, 0), Some(4));
        assert_eq!(rank_of(&s, 4), None);
        // Neighbour recall: 2 of 3 and 3 of 3 → 5/6.
        let exact = vec![vec![1, 2, 3], vec![4, 5, 6]];
        let approx = vec![vec![3, 9, 1], vec![6, 5, 4]];
        assert!((neighbour_recall(&approx, &exact, 3) - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(neighbour_recall(&approx, &exact, 1), 0.0);
        assert_eq!(recall_at_k(&[], &[], 10), 0.0);
    }

    #[test]
    fn spearman_by_hand() {
        // Monotone → 1, reversed → −1.
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&a, &[10.0, 20.0, 30.0, 40.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        // Ties averaged: b ranks (1.5, 1.5, 3, 4). Centred: a (−1.5, −0.5, 0.5, 1.5),
        // b (−1, −1, 0.5, 1.5): Σab = 4.5, Σa² = 5, Σb² = 4.5 → 4.5 / sqrt(5 · 4.5).
        let r = spearman(&a, &[5.0, 5.0, 6.0, 7.0]).unwrap();
        assert!((r - 4.5 / (5.0f64 * 4.5).sqrt()).abs() < 1e-12, "{r}");
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        // Classic textbook case: d² = 0+1+1+4+0+... → ρ = 1 − 6Σd²/(n(n²−1)).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 5.0];
        assert!((spearman(&x, &y).unwrap() - (1.0 - 6.0 * 4.0 / 120.0)).abs() < 1e-12);
        assert!(spearman(&a, &[1.0; 4]).is_err());
        assert!(spearman(&a, &a[..3]).is_err());
        assert!(spearman(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
    }
}
