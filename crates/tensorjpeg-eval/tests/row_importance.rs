//! MiniLM's LayerNorm-gain weights (`sensitivity::rows`) on the real model: which matrices
//! get them, and how unequal they are — for each kind of matrix, the mean
//! `10 log₁₀(AM/GM)` of its row weights (of its column weights for the embedding tables),
//! the most a weighted allocation inside the tensor can save (printed for a docs/RESULTS.md
//! reading: `cargo test --release -p tensorjpeg-eval --test row_importance -- --nocapture`).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tensorjpeg_eval::sensitivity::rows::{output_weights, spread_db};

fn asset(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(p)
}

#[test]
fn row_weight_spread_on_minilm() {
    let model = asset("minilm");
    let tensors = tensorjpeg_io::read_tensors(&model.join("model.safetensors")).unwrap();
    let w = output_weights(&tensors);
    let layer = regex::Regex::new(r"^encoder\.layer\.\d+\.").unwrap();
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, a) in &w {
        let kind = layer.replace(name, "").to_string();
        if let Some(r) = &a.rows {
            by_kind
                .entry(format!("{kind} rows"))
                .or_default()
                .push(spread_db(r));
        }
        if let Some(c) = &a.cols {
            by_kind
                .entry(format!("{kind} cols"))
                .or_default()
                .push(spread_db(c));
        }
    }
    for (kind, s) in &by_kind {
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        let max = s.iter().cloned().fold(0.0, f64::max);
        println!(
            "{kind:48} n={:2}  mean {mean:5.2} dB  max {max:5.2} dB",
            s.len()
        );
    }
    // Six attention-output and six FFN-down projections by their rows, the three embedding
    // tables by their columns, nothing else; γ² of a trained LayerNorm is unequal but not
    // wildly so.
    let counts: Vec<(&str, usize)> = by_kind.iter().map(|(k, s)| (k.as_str(), s.len())).collect();
    assert_eq!(
        counts,
        [
            ("attention.output.dense.weight rows", 6),
            ("embeddings.position_embeddings.weight cols", 1),
            ("embeddings.token_type_embeddings.weight cols", 1),
            ("embeddings.word_embeddings.weight cols", 1),
            ("output.dense.weight rows", 6),
        ]
    );
    assert!(
        by_kind.values().flatten().all(|&s| s > 0.0 && s < 1.0),
        "{by_kind:?}"
    );
}
