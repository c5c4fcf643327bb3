//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The assets directory: `$TENSORJPEG_ASSETS`, else `<workspace>/assets`.
pub fn assets_dir() -> PathBuf {
    match std::env::var_os("TENSORJPEG_ASSETS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
    }
}

/// The path of a fetched asset; a missing one fails the test (CI fetches them all).
pub fn asset(rel: &str) -> PathBuf {
    let p = assets_dir().join(rel);
    assert!(
        p.is_file(),
        "{} missing: run `bash scripts/fetch-assets.sh` (or set TENSORJPEG_ASSETS)",
        p.display()
    );
    p
}

pub const MINILM: &str = "minilm/model.safetensors";
pub const SMOLLM2: &str = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Deterministic pseudo-random values, roughly N(0, scale^2).
pub fn random_values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let s: f32 = (0..4).map(|_| rng.gen::<f32>()).sum::<f32>() - 2.0;
            s * 1.7 * scale
        })
        .collect()
}
