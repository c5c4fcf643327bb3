//! The one deterministic random generator of the crate: SplitMix64 (Steele, Lea & Flood
//! 2014). It draws the randomized Hadamard transform's sign flips (so it is part of the
//! format: a stored seed must give the same signs on every machine), k-means seeds and
//! test data. Same seed, same numbers, on every machine and thread count.

/// SplitMix64: 64 bits of state, one add and a mix per draw.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `0..n` (`n ≥ 1`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }
    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Synthetic test data: `n` values uniform in `[-1, 1)` on a grid of `2^-23` (the top 24
/// bits of each draw).
pub fn uniform_values(n: usize, seed: u64) -> Vec<f32> {
    let mut g = SplitMix64(seed);
    (0..n)
        .map(|_| (g.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// Synthetic test and benchmark data: `n` correlated Gaussian vectors of dimension `dim` (a shared random low-rank factor
/// with decaying scales, a mean offset, isotropic noise), L2-normalised.
pub fn correlated_unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let rank = (dim / 2).max(1);
    let mut basis_rng = SplitMix64::new(0xBA5E + dim as u64);
    let a: Vec<f64> = (0..dim * rank).map(|_| basis_rng.gaussian()).collect();
    let mean: Vec<f64> = (0..dim).map(|_| 0.3 * basis_rng.gaussian()).collect();
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let z: Vec<f64> = (0..rank)
            .map(|j| rng.gaussian() / (1.0 + j as f64).sqrt())
            .collect();
        let mut x: Vec<f64> = (0..dim)
            .map(|i| {
                let s: f64 = a[i * rank..(i + 1) * rank]
                    .iter()
                    .zip(&z)
                    .map(|(a, z)| a * z)
                    .sum();
                s / (rank as f64).sqrt() + mean[i] + 0.05 * rng.gaussian()
            })
            .collect();
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        x.iter_mut().for_each(|v| *v /= norm);
        out.extend(x.iter().map(|&v| v as f32));
    }
    out
}
