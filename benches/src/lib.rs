//! Benchmark inputs: the real assets fetched by `scripts/fetch-assets.sh`. A missing asset
//! stops the bench with a message, so the published figures (docs/PERFORMANCE.md) are always
//! measured on real inputs; `TENSORJPEG_BENCH_SYNTHETIC=1` asks for synthetic stand-ins of
//! the same shapes instead (and the bench says so).
//!
//! [`constriction`]: the peer entropy coder our rANS is measured against.

pub mod constriction;

use rand::SeedableRng;
use rand_distr::{Distribution, StudentT};
use std::path::PathBuf;

/// Rows and columns of the benchmark matrix (MiniLM's FFN output weight, 384 × 1536).
pub const SHAPE: (usize, usize) = (384, 1536);

/// The environment variable that allows synthetic inputs when an asset is missing.
pub const SYNTHETIC_ENV: &str = "TENSORJPEG_BENCH_SYNTHETIC";

/// The assets directory: `TENSORJPEG_ASSETS`, else `assets/` at the workspace root.
pub fn assets() -> PathBuf {
    std::env::var_os("TENSORJPEG_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets"))
}

/// Whether synthetic inputs were asked for (`TENSORJPEG_BENCH_SYNTHETIC=1`).
pub fn synthetic_allowed() -> bool {
    std::env::var(SYNTHETIC_ENV).is_ok_and(|v| v == "1")
}

/// Called when a real input cannot be read: panics (naming the file and the fix) unless
/// synthetic inputs were asked for, in which case it says so on stderr and returns.
pub fn missing(what: &str, why: &str) {
    if !synthetic_allowed() {
        panic!(
            "benchmark input {what} unavailable ({why}): run `bash scripts/fetch-assets.sh` \
             (or set TENSORJPEG_ASSETS), or set {SYNTHETIC_ENV}=1 to benchmark synthetic data"
        );
    }
    eprintln!("{what} unavailable ({why}): {SYNTHETIC_ENV}=1, using synthetic data");
}

/// The benchmark matrix and a description of where it came from.
pub fn matrix() -> (Vec<f32>, String) {
    let path = assets().join("minilm/model.safetensors");
    let name = "encoder.layer.0.output.dense.weight";
    let why = match tensorjpeg_io::read_safetensors(&path) {
        Ok(ts) => match ts.into_iter().find(|t| t.name == name) {
            Some(t) => match t.values() {
                Some(v) => return (v.to_vec(), format!("{} [{}]", name, path.display())),
                None => format!("{name} is not a float tensor"),
            },
            None => format!("no tensor {name}"),
        },
        Err(e) => e.to_string(),
    };
    missing(&path.display().to_string(), &why);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let d = StudentT::new(4.0).unwrap();
    let n = SHAPE.0 * SHAPE.1;
    (
        (0..n).map(|_| (d.sample(&mut rng) * 0.04) as f32).collect(),
        "synthetic Student-t(4)".into(),
    )
}
