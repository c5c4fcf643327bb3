//! How much each *output* of a post-LayerNorm encoder's residual writers matters: row
//! weights for the matrices that write into a LayerNorm, column weights for the embedding
//! tables, from the model's own LayerNorm gains.
//!
//! The column weights `E[xⱼ²]` say how strongly an input drives a layer's output; they say
//! nothing about where that output goes. BERT and MPNet add each attention output
//! projection's and each FFN-down projection's outputs to the residual stream, and sum the
//! word, position and token-type embeddings, right before a LayerNorm
//! `γ ⊙ (x − μ)/σ + β`: an error `Δ_d` in channel `d` leaves it as `γ_d Δ_d / σ`. So row `d`
//! of those matrices (column `d` of the tables) weighs `γ_d²` (the probes in
//! [`super::embedder`] still set each tensor's total).
//!
//! Measured on MiniLM with `gptq:native:tcq` (docs/notes/issue16-whole-models.md, session
//! 21): these weights move the embedding cosine at 3 / 4 bits from 0.99133 / 0.99791 to
//! 0.99152 / 0.99799. Rules for the other matrices were measured and left out: a query row
//! by `E[k_d²]` and a key row by `E[q_d²]` (4 bits 0.99788), a value row by its output
//! projection's column norm (0.99128 / 0.99789), an FFN-up row by the down projection's
//! column norm times the activation's squared slope (0.99137 / 0.99792 with the slope
//! recorded exactly; 0.98975 / 0.99757 with `E[h²]/E[z²]` standing in for it).

use std::collections::HashMap;

use tensorjpeg::{AxisWeights, Tensor};
use tensorjpeg_models::mpnet::{BERT_NAMES, MPNET_NAMES};

/// Relative floor added to a weight (a channel whose gain is 0 still exists).
const FLOOR: f64 = 1e-3;

/// The FFN-down projection and the LayerNorm after it, under `….layer.N.` (both families).
const FFN_OUT: (&str, &str) = ("output.dense", "output.LayerNorm");

/// The embedding tables a post-LayerNorm encoder sums before `embeddings.LayerNorm`.
const TABLES: [&str; 3] = [
    "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight",
];

/// `γ² + floor · mean(γ²)` of the LayerNorm weight `name`, if it has `n` finite values
/// with a positive mean.
fn gain_weights(by_name: &HashMap<&str, &Tensor>, name: &str, n: usize) -> Option<Vec<f32>> {
    let g = by_name.get(name)?.values()?;
    if g.len() != n || g.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let sq: Vec<f64> = g.iter().map(|&v| f64::from(v).powi(2)).collect();
    let mean = sq.iter().sum::<f64>() / n.max(1) as f64;
    (mean > 0.0).then(|| sq.iter().map(|&v| (v + FLOOR * mean) as f32).collect())
}

/// The row weights of every attention output and FFN-down projection of a BERT- or
/// MPNet-style encoder, and the column weights of its embedding tables (module docs), by
/// tensor name. Matrices without their LayerNorm get none.
pub fn output_weights(tensors: &[Tensor]) -> HashMap<String, AxisWeights> {
    let by_name: HashMap<&str, &Tensor> = tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let layer = regex::Regex::new(r"^(.*\.layer\.\d+)\.(.+)\.weight$").expect("a valid regex");
    let mut out: HashMap<String, AxisWeights> = HashMap::new();
    for t in tensors.iter().filter(|t| t.shape.len() == 2) {
        let norm = if let Some(c) = layer.captures(&t.name) {
            let (prefix, local) = (&c[1], &c[2]);
            [
                (BERT_NAMES.qkvo[3], BERT_NAMES.attn_norm),
                (MPNET_NAMES.qkvo[3], MPNET_NAMES.attn_norm),
                FFN_OUT,
            ]
            .into_iter()
            .find(|(m, _)| *m == local)
            .map(|(_, norm)| (format!("{prefix}.{norm}.weight"), t.shape[0], true))
        } else {
            TABLES
                .iter()
                .find_map(|s| t.name.strip_suffix(s))
                .map(|base| {
                    (
                        format!("{base}embeddings.LayerNorm.weight"),
                        t.shape[1],
                        false,
                    )
                })
        };
        let Some((norm, n, rows)) = norm else {
            continue;
        };
        if let Some(w) = gain_weights(&by_name, &norm, n) {
            let a = out.entry(t.name.clone()).or_default();
            if rows {
                a.rows = Some(w);
            } else {
                a.cols = Some(w);
            }
        }
    }
    out
}

/// `10 log₁₀(AM / GM)` of a weight vector: the most, in dB of weighted squared error at
/// high rate, that spending bits by these weights instead of uniformly can save.
pub fn spread_db(w: &[f32]) -> f64 {
    let n = w.len().max(1) as f64;
    let am = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let gm = (w
        .iter()
        .map(|&v| f64::from(v).max(1e-300).ln())
        .sum::<f64>()
        / n)
        .exp();
    10.0 * (am / gm).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: Vec<usize>, v: Vec<f32>) -> Tensor {
        Tensor::from_f32(name, shape, v).unwrap()
    }

    fn close(a: &[f32], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        let mean = b.iter().sum::<f64>() / b.len() as f64;
        for (x, y) in a.iter().zip(b) {
            let want = y + FLOOR * mean;
            assert!(
                (f64::from(*x) - want).abs() < 1e-6 * (1.0 + want),
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn residual_writers_weigh_as_the_layernorm_gain_after_them() {
        let bert = "encoder.layer.0";
        let mpnet = "mpnet.encoder.layer.4";
        let ts = vec![
            t(
                &format!("{bert}.attention.output.dense.weight"),
                vec![2, 3],
                vec![1.; 6],
            ),
            t(
                &format!("{bert}.attention.output.LayerNorm.weight"),
                vec![2],
                vec![0.5, 2.],
            ),
            t(
                &format!("{bert}.output.dense.weight"),
                vec![2, 3],
                vec![1.; 6],
            ),
            t(
                &format!("{bert}.output.LayerNorm.weight"),
                vec![2],
                vec![1., -3.],
            ),
            t(
                &format!("{bert}.attention.self.query.weight"),
                vec![2, 2],
                vec![1.; 4],
            ),
            t(
                &format!("{mpnet}.attention.attn.o.weight"),
                vec![2, 2],
                vec![1.; 4],
            ),
            t(
                &format!("{mpnet}.attention.LayerNorm.weight"),
                vec![2],
                vec![3., 0.],
            ),
            t(
                "embeddings.word_embeddings.weight",
                vec![4, 2],
                vec![0.1; 8],
            ),
            t(
                "embeddings.position_embeddings.weight",
                vec![3, 2],
                vec![0.1; 6],
            ),
            t("embeddings.LayerNorm.weight", vec![2], vec![2., 1.]),
            // Its LayerNorm has the wrong width: no weights.
            t(
                "encoder.layer.1.output.dense.weight",
                vec![3, 2],
                vec![1.; 6],
            ),
            t(
                "encoder.layer.1.output.LayerNorm.weight",
                vec![2],
                vec![1., 1.],
            ),
        ];
        let w = output_weights(&ts);
        let get = |n: &str| w.get(n).cloned().unwrap_or_default();
        close(
            &get(&format!("{bert}.attention.output.dense.weight"))
                .rows
                .unwrap(),
            &[0.25, 4.0],
        );
        close(
            &get(&format!("{bert}.output.dense.weight")).rows.unwrap(),
            &[1.0, 9.0],
        );
        close(
            &get(&format!("{mpnet}.attention.attn.o.weight"))
                .rows
                .unwrap(),
            &[9.0, 0.0],
        );
        for table in ["word", "position"] {
            let a = get(&format!("embeddings.{table}_embeddings.weight"));
            assert!(a.rows.is_none());
            close(&a.cols.unwrap(), &[4.0, 1.0]);
        }
        assert_eq!(w.len(), 5, "{:?}", w.keys());
        assert!(w
            .values()
            .flat_map(|a| a.rows.iter().chain(&a.cols))
            .flatten()
            .all(|&v| v > 0.0));
    }

    #[test]
    fn spread_is_zero_for_equal_weights_and_grows_with_their_spread() {
        assert!(spread_db(&[2.0; 8]).abs() < 1e-12);
        let a = spread_db(&[1.0, 2.0]);
        let b = spread_db(&[1.0, 8.0]);
        assert!(a > 0.0 && b > a, "{a} {b}");
    }
}
