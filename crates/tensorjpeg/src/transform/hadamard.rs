//! Randomized Hadamard transform (the "incoherence processing" of QuIP#/QuaRot-style
//! quantizers): `y = H_b · D · x` per block of `b` values, where
//!
//! * `D = diag(±1)` holds sign flips drawn from a SplitMix64 generator seeded with the
//!   stored `u64` (bit `i % 64` of the `⌊i/64⌋`-th output, `1 → −1`; one sign per column
//!   position, the same for every row), and
//! * `H_b` is the Walsh–Hadamard matrix (Sylvester construction, `H_1 = [1]`,
//!   `H_2b = [[H_b, H_b], [H_b, −H_b]]`) scaled by `1/√b`, so `H_b·H_bᵀ = I`: the
//!   transform is orthonormal and its own inverse (`(H_b/√b)² = I`), and the inverse of the
//!   whole thing is `x = D · H_b · y`.
//!
//! The fast transform is the in-place butterfly (`log2 b` passes of `(a, c) → (a+c, a−c)`),
//! O(b log b) per block. Rows are zero-padded to a multiple of `b`; the padding positions
//! carry coefficients too (the transform spreads energy over the whole block), so the
//! coefficient row has `⌈cols/b⌉·b` entries.

use crate::rng::SplitMix64;

/// The `n` sign flips of `seed`, each multiplied by `scale` (`±scale`).
pub fn signs(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut g = SplitMix64(seed);
    let mut v = Vec::with_capacity(n);
    let mut bits = 0u64;
    for i in 0..n {
        if i % 64 == 0 {
            bits = g.next_u64();
        }
        v.push(if (bits >> (i % 64)) & 1 == 1 {
            -scale
        } else {
            scale
        });
    }
    v
}

/// Unnormalised in-place fast Walsh–Hadamard transform of `x` (length a power of two):
/// `x ← H_n x`, Sylvester (natural) ordering.
pub fn fwht(x: &mut [f32]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two() || n == 0);
    if n < 2 {
        return;
    }
    let mut h = 1;
    if n >= 4 {
        // Stages h = 1 and h = 2 fused as a radix-4 butterfly.
        for c in x.chunks_exact_mut(4) {
            let (a, b, d, e) = (c[0] + c[1], c[0] - c[1], c[2] + c[3], c[2] - c[3]);
            c[0] = a + d;
            c[1] = b + e;
            c[2] = a - d;
            c[3] = b - e;
        }
        h = 4;
    }
    while h < n {
        for c in x.chunks_exact_mut(2 * h) {
            let (a, b) = c.split_at_mut(h);
            for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                let t = *u;
                *u = t + *v;
                *v = t - *v;
            }
        }
        h *= 2;
    }
}

/// Coefficient-row length for `cols` values and block `block`: `⌈cols/block⌉·block`.
pub fn padded_len(cols: usize, block: usize) -> usize {
    cols.div_ceil(block) * block
}

/// Forward randomized Hadamard of each row of a rows×cols plane; `out` is
/// `rows × padded_len(cols, block)`.
pub fn forward_rows(x: &[f32], rows: usize, cols: usize, seed: u64, block: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        block.is_power_of_two(),
        "hadamard block must be a power of two"
    );
    let p = padded_len(cols, block);
    // Fold the 1/√b normalisation into the signs: y = H (D/√b) x.
    let s = signs(seed, p, 1.0 / (block as f32).sqrt());
    for (xr, or) in x.chunks_exact(cols).zip(out.chunks_exact_mut(p)).take(rows) {
        for ((o, &v), &si) in or.iter_mut().zip(xr).zip(&s) {
            *o = v * si;
        }
        or[cols..].fill(0.0);
        for b in or.chunks_exact_mut(block) {
            fwht(b);
        }
    }
}

/// Inverse of [`forward_rows`]: `x = (D/√b) H y`, dropping the padding.
pub fn inverse_rows(c: &[f32], rows: usize, cols: usize, seed: u64, block: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        block.is_power_of_two(),
        "hadamard block must be a power of two"
    );
    let p = padded_len(cols, block);
    let s = signs(seed, p, 1.0 / (block as f32).sqrt());
    let mut buf = vec![0.0f32; p];
    for (cr, or) in c.chunks_exact(p).zip(out.chunks_exact_mut(cols)).take(rows) {
        buf.copy_from_slice(cr);
        for b in buf.chunks_exact_mut(block) {
            fwht(b);
        }
        for ((o, &v), &si) in or.iter_mut().zip(&buf).zip(&s) {
            *o = v * si;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{data, energy, rel_err};
    use super::*;
    use proptest::prelude::*;

    /// Sylvester Hadamard entry: `H[i][j] = (−1)^popcount(i & j)`.
    fn h_entry(i: usize, j: usize) -> f64 {
        if (i & j).count_ones().is_multiple_of(2) {
            1.0
        } else {
            -1.0
        }
    }

    /// Reference: dense matrix multiply, f64.
    fn reference(x: &[f32], cols: usize, seed: u64, block: usize) -> Vec<f64> {
        let p = padded_len(cols, block);
        let s = signs(seed, p, 1.0);
        let mut xp = vec![0.0f64; p];
        for i in 0..cols {
            xp[i] = x[i] as f64 * s[i] as f64;
        }
        let mut y = vec![0.0; p];
        for b0 in (0..p).step_by(block) {
            for i in 0..block {
                y[b0 + i] = (0..block).map(|j| h_entry(i, j) * xp[b0 + j]).sum::<f64>()
                    / (block as f64).sqrt();
            }
        }
        y
    }

    #[test]
    fn fast_matches_reference_matrix() {
        for &block in &[1usize, 2, 4, 8, 16, 64, 256] {
            for &cols in &[1usize, 3, 8, 17, 64, 300] {
                let x = data(cols, (block * 1000 + cols) as u64);
                let p = padded_len(cols, block);
                let mut y = vec![0.0; p];
                forward_rows(&x, 1, cols, 42, block, &mut y);
                let r = reference(&x, cols, 42, block);
                for (a, b) in y.iter().zip(&r) {
                    assert!(
                        (*a as f64 - b).abs() <= 1e-5,
                        "b={block} c={cols}: {a} vs {b}"
                    );
                }
                // Orthonormal: energy preserved even with zero padding.
                let ex = energy(&x);
                assert!((ex - energy(&y)).abs() <= 1e-5 * ex, "b={block} c={cols}");
                let mut z = vec![0.0; cols];
                inverse_rows(&y, 1, cols, 42, block, &mut z);
                assert!(rel_err(&x, &z) <= 1e-5);
            }
        }
    }

    #[test]
    fn hadamard_matrix_is_orthogonal() {
        let n = 32;
        let mut m = vec![0.0f32; n * n];
        for i in 0..n {
            let mut e = vec![0.0f32; n];
            e[i] = 1.0;
            fwht(&mut e);
            m[i * n..(i + 1) * n].copy_from_slice(&e);
        }
        for i in 0..n {
            for j in 0..n {
                let d: f32 = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum();
                assert_eq!(d, if i == j { n as f32 } else { 0.0 });
            }
        }
    }

    #[test]
    fn signs_depend_on_seed_and_are_balanced() {
        let a = signs(1, 4096, 1.0);
        let b = signs(2, 4096, 1.0);
        assert_ne!(a, b);
        assert_eq!(a, signs(1, 4096, 1.0));
        let neg = a.iter().filter(|&&v| v < 0.0).count();
        assert!((1800..2300).contains(&neg), "{neg}");
        // A prefix is stable whatever the length.
        assert_eq!(&signs(7, 100, 1.0)[..], &signs(7, 1000, 1.0)[..100]);
    }

    #[test]
    fn spreads_a_spike() {
        // A single outlier is spread evenly over the block: every |coef| = |x|/√b.
        let mut x = vec![0.0f32; 64];
        x[5] = 8.0;
        let mut y = vec![0.0; 64];
        forward_rows(&x, 1, 64, 3, 64, &mut y);
        assert!(y.iter().all(|v| (v.abs() - 1.0).abs() < 1e-6));
    }

    proptest! {
        #[test]
        fn prop_round_trip(rows in 0usize..6, cols in 0usize..100, lb in 0u32..8, seed in any::<u64>()) {
            let block = 1usize << lb;
            let x = data(rows * cols, seed);
            let p = padded_len(cols, block);
            let mut y = vec![0.0; rows * p];
            forward_rows(&x, rows, cols, seed, block, &mut y);
            let ex = energy(&x);
            prop_assert!((ex - energy(&y)).abs() <= 1e-5 * ex.max(1e-30));
            let mut z = vec![0.0; rows * cols];
            inverse_rows(&y, rows, cols, seed, block, &mut z);
            prop_assert!(rel_err(&x, &z) <= 1e-5);
        }
    }
}
