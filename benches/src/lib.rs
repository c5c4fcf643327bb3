//! Benchmark inputs: a real weight matrix from the fetched assets when present, else a
//! synthetic heavy-tailed one of the same shape (the bench prints which).

use rand::SeedableRng;
use rand_distr::{Distribution, StudentT};

/// Rows and columns of the benchmark matrix (MiniLM's FFN output weight, 384 × 1536).
pub const SHAPE: (usize, usize) = (384, 1536);

/// The benchmark matrix and a description of where it came from.
pub fn matrix() -> (Vec<f32>, String) {
    let assets = std::env::var_os("TENSORJPEG_ASSETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets"));
    let path = assets.join("minilm/model.safetensors");
    let name = "encoder.layer.0.output.dense.weight";
    if let Ok(ts) = tensorjpeg_io::read_safetensors(&path) {
        if let Some(t) = ts.into_iter().find(|t| t.name == name) {
            if let Some(v) = t.values() {
                return (v.to_vec(), format!("{} [{}]", name, path.display()));
            }
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let d = StudentT::new(4.0).unwrap();
    let n = SHAPE.0 * SHAPE.1;
    (
        (0..n).map(|_| (d.sample(&mut rng) * 0.04) as f32).collect(),
        "synthetic Student-t(4)".into(),
    )
}
