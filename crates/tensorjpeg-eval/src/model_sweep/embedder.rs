//! The model sweep's judge for sentence embedders: embeddings of enwiki sentences under the
//! compressed model against the original model's.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use tensorjpeg::Tensor;
use tensorjpeg_models::bert::Embedder;
use tensorjpeg_models::weights::WeightOptions;

use super::{Config, Judge, Metrics};
use crate::embeddings::datasets::sample_sentences;
use crate::Progress;

/// Mean cosine between each row of `other` and the same row of `reference`, and the
/// neighbour recall@10: for every sentence, the overlap of its 10 nearest other sentences
/// (dot product of the unit embeddings) when every embedding comes from `other` with those
/// under `reference`.
pub fn compare_embeddings(reference: &[f32], other: &[f32], dim: usize) -> (f64, f64) {
    let n = reference.len() / dim.max(1);
    fn row(v: &[f32], i: usize, dim: usize) -> &[f32] {
        &v[i * dim..(i + 1) * dim]
    }
    let cos: f64 = (0..n)
        .map(|i| tensorjpeg::metrics::cosine(row(reference, i, dim), row(other, i, dim)))
        .sum();
    let k = 10.min(n.saturating_sub(1));
    let neighbours = |v: &[f32], i: usize| -> Vec<usize> {
        let scores: Vec<f32> = (0..n)
            .map(|j| {
                if j == i {
                    f32::NEG_INFINITY
                } else {
                    tensorjpeg::kernels::dot(row(v, i, dim), row(v, j, dim))
                }
            })
            .collect();
        tensorjpeg::kernels::top_k(&scores, k)
            .into_iter()
            .map(|j| j as usize)
            .collect()
    };
    let hits: usize = (0..n)
        .into_par_iter()
        .map(|i| {
            let a = neighbours(reference, i);
            neighbours(other, i)
                .iter()
                .filter(|j| a.contains(j))
                .count()
        })
        .sum();
    (cos / n.max(1) as f64, hits as f64 / (n * k).max(1) as f64)
}

/// The `n` evaluation sentences (evenly spaced over the text's sentences of ≥ 5 words), up
/// to `calibration` others, evenly spaced over the rest, and the rest itself (every
/// sentence not evaluated: the token counts of a calibration need no forward pass): no
/// evaluated sentence is in either of the others.
pub fn split_sentences(
    text: &str,
    n: usize,
    calibration: usize,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let all = sample_sentences(text, usize::MAX, 5);
    let n = n.min(all.len());
    let picked: std::collections::BTreeSet<usize> = (0..n).map(|i| i * all.len() / n).collect();
    let rest: Vec<&String> = (0..all.len())
        .filter(|i| !picked.contains(i))
        .map(|i| &all[i])
        .collect();
    let m = calibration.min(rest.len());
    (
        picked.iter().map(|&i| all[i].clone()).collect(),
        (0..m).map(|i| rest[i * rest.len() / m].clone()).collect(),
        rest.into_iter().cloned().collect(),
    )
}

/// The original embedder's embeddings of the evaluation sentences.
pub struct EmbedderJudge {
    model: std::path::PathBuf,
    sentences: Vec<String>,
    calibration: Vec<String>,
    /// Every sentence not evaluated, for the calibration's token counts.
    counting: Vec<String>,
    reference: Vec<f32>,
    dim: usize,
}

impl EmbedderJudge {
    /// Embeds the evaluation sentences with the original model.
    pub fn new(cfg: &Config) -> Result<Self> {
        if cfg.sentences < 11 {
            bail!(
                "--sentences {}: at least 11 (10 neighbours each)",
                cfg.sentences
            );
        }
        let text = tensorjpeg_models::text::read_text(&cfg.text)?;
        let (sentences, calibration, counting) =
            split_sentences(&text, cfg.sentences, cfg.calibration_sentences);
        if sentences.len() < 11 {
            bail!(
                "{}: only {} sentences of ≥ 5 words",
                cfg.text.display(),
                sentences.len()
            );
        }
        let original = Embedder::load(&cfg.model, &WeightOptions::default())
            .with_context(|| format!("loading {}", cfg.model.display()))?;
        let reference = original.embed(&sentences)?;
        Ok(EmbedderJudge {
            model: cfg.model.clone(),
            dim: original.dim(),
            sentences,
            calibration,
            counting,
            reference,
        })
    }
}

impl EmbedderJudge {
    /// Embeds the evaluation sentences with `model` and compares with the original's.
    fn score(&self, model: &Embedder) -> Result<Metrics> {
        if model.dim() != self.dim {
            bail!(
                "embeddings of {} values, the original model's {}",
                model.dim(),
                self.dim
            );
        }
        let emb = model.embed(&self.sentences)?;
        let (cos, recall) = compare_embeddings(&self.reference, &emb, self.dim);
        Ok(Metrics {
            embedding_cosine: Some(cos),
            neighbour_recall_at_10: Some(recall),
            ..Default::default()
        })
    }
}

impl Judge for EmbedderJudge {
    fn original(&self) -> Metrics {
        Metrics {
            embedding_cosine: Some(1.0),
            neighbour_recall_at_10: Some(1.0),
            ..Default::default()
        }
    }

    fn judge(&self, container: &Path) -> Result<Metrics> {
        let opts = WeightOptions {
            container: Some(container.to_path_buf()),
            ..Default::default()
        };
        self.score(&Embedder::load(&self.model, &opts)?)
    }

    fn judge_model(&self, model: &Path) -> Result<Metrics> {
        self.score(&Embedder::load(model, &WeightOptions::default())?)
    }

    fn importance(
        &self,
        tensors: &[Tensor],
        grams: bool,
        progress: &dyn Progress,
    ) -> Result<crate::sensitivity::Importance> {
        if self.calibration.is_empty() {
            bail!("weighted points need calibration sentences (--calibration-sentences > 0)");
        }
        crate::sensitivity::embedder(
            &self.model,
            tensors,
            &self.calibration,
            &self.counting,
            grams,
            progress,
        )
    }
}
