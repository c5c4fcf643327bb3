//! Kernels shared by the vector codecs, search and the model runtime: an eight-lane [`dot`]
//! product and [`top_k`] selection, each beside the plain reference it is tested against.

use std::cmp::Ordering;

/// Lanes of the partial sums in [`dot`] and of the blocked brute-force kernel
/// (`vectors::retrieval`): two SSE / one AVX register.
pub const LANES: usize = 8;

/// `Σ a_i b_i` with eight independent partial sums (vectorisable; the order of additions
/// differs from a left-to-right sum, so results agree with it to rounding only).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Orders `(score, index)` pairs best first: higher score, then lower index. NaN sorts as
/// `f32::total_cmp` does (positive NaN first), so the order is total and deterministic.
#[inline]
fn better(scores: &[f32], i: u32, j: u32) -> Ordering {
    scores[j as usize]
        .total_cmp(&scores[i as usize])
        .then(i.cmp(&j))
}

/// The indices of the `min(k, len)` largest scores, best first (ties: lower index first).
pub fn top_k(scores: &[f32], k: usize) -> Vec<u32> {
    let k = k.min(scores.len());
    if k == 0 {
        return Vec::new();
    }
    if k <= 64 && scores.len() > 16 * k {
        return top_k_small(scores, k);
    }
    // Quickselect puts the k best first (in any order), then only those k are sorted.
    let mut idx: Vec<u32> = (0..scores.len() as u32).collect();
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, |&i, &j| better(scores, i, j));
        idx.truncate(k);
    }
    idx.sort_unstable_by(|&i, &j| better(scores, i, j));
    idx
}

/// [`top_k`] for small `k`: one pass keeping the best `k` sorted; most scores fail the
/// comparison with the current `k`-th best and cost one compare.
fn top_k_small(scores: &[f32], k: usize) -> Vec<u32> {
    let mut best: Vec<u32> = Vec::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        let i = i as u32;
        if best.len() == k {
            let last = *best.last().unwrap();
            // Later indices lose ties, so only a strictly better score enters.
            if s.total_cmp(&scores[last as usize]) != Ordering::Greater {
                continue;
            }
        }
        let pos = best.partition_point(|&j| better(scores, j, i) == Ordering::Less);
        best.insert(pos, i);
        best.truncate(k);
    }
    best
}

/// [`top_k`] by sorting every index (the reference the fast path is tested against).
pub fn top_k_reference(scores: &[f32], k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..scores.len() as u32).collect();
    idx.sort_by(|&i, &j| better(scores, i, j));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rng::uniform_values as synth;

    #[test]
    fn dot_matches_plain_sum() {
        for n in [0usize, 1, 7, 8, 9, 384, 385] {
            let (a, b) = (synth(n, 1), synth(n, 2));
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn top_k_orders_and_breaks_ties_by_index() {
        let s = [0.5, 2.0, -1.0, 2.0, 0.5, 3.0];
        assert_eq!(top_k(&s, 3), vec![5, 1, 3]);
        assert_eq!(top_k(&s, 5), vec![5, 1, 3, 0, 4]);
        assert_eq!(top_k(&s, 10), vec![5, 1, 3, 0, 4, 2]);
        assert!(top_k(&s, 0).is_empty());
        assert!(top_k(&[], 3).is_empty());
        for seed in 0..20 {
            // Many ties: values on a coarse grid.
            let v: Vec<f32> = synth(300, seed).iter().map(|x| (x * 8.0).round()).collect();
            for k in [1usize, 10, 299, 300] {
                assert_eq!(top_k(&v, k), top_k_reference(&v, k), "seed {seed} k {k}");
            }
        }
    }
}
