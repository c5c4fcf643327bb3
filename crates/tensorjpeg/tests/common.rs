//! Shared helpers for the integration tests.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, StudentT};

/// Deterministic heavy-tailed "weights" (Student-t with 4 degrees of freedom, scale 0.05),
/// the shape real weight matrices have.
pub fn weights(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t = StudentT::new(4.0).unwrap();
    (0..n).map(|_| (t.sample(&mut rng) * 0.05) as f32).collect()
}

/// Deterministic Gaussian values.
pub fn gaussian(n: usize, seed: u64, sigma: f64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let d = Normal::new(0.0, sigma).unwrap();
    (0..n).map(|_| d.sample(&mut rng) as f32).collect()
}

/// Values mixing tiny, huge, subnormal and ordinary magnitudes.
pub fn nasty(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| match i % 7 {
            0 => rng.gen_range(-1e30f32..1e30),
            1 => f32::from_bits(rng.gen_range(1u32..0x007f_ffff)),
            2 => 0.0,
            3 => rng.gen_range(-1e-3f32..1e-3),
            _ => rng.gen_range(-5.0f32..5.0),
        })
        .collect()
}

/// Path of the fetched assets (TENSORJPEG_ASSETS or <repo>/assets).
pub fn assets() -> std::path::PathBuf {
    std::env::var_os("TENSORJPEG_ASSETS")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"))
}
