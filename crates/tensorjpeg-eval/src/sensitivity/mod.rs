//! How much each weight of a sentence embedder matters, from calibration text kept apart
//! from every evaluation text: the inputs to a model-weighted bit allocation.
//!
//! Two levels, both measured on the calibration sentences:
//! - **Inside a tensor** ([`tensorjpeg::AxisWeights`]): a linear layer's columns weigh
//!   `E[xⱼ²]` of its inputs (llama.cpp's importance matrix; the layer's output error is
//!   `Σᵢⱼ ΔWᵢⱼ² E[xⱼ²]`); an embedding table's rows weigh how often each token (position,
//!   token type) occurs, plus a prior count so that a token the calibration never saw is
//!   still stored. A sentence embedder counts its tokens over all the text it may see (every
//!   sentence not evaluated, [`EMBEDDER_PRIOR_COUNT`] added), not only the calibration
//!   sentences it runs: counting needs no forward pass, and 512 sentences (~15k tokens) meet
//!   a small part of a 30k vocabulary — the rest got almost no bits, and the evaluation's
//!   sentences are full of them (MiniLM at 4 bits: recall@10 0.928 → 0.935). A language
//!   model counts its calibration tokens ([`PRIOR_COUNT`] added).
//! - **Between tensors** (one weight per tensor; sentence embedders, [`embedder`]): Gaussian noise shaped by the axis weights
//!   (so it is white in the weighted domain the codec quantizes in) is added to one tensor
//!   at a time at [`PROBE_SNR_DB`] weighted SNR; the weight is the model's loss — the mean
//!   `1 − cos` between its embeddings and the clean model's — per unit of weighted squared
//!   error. Loss is quadratic in a small perturbation, so `Σₜ wₜ Dₜ` predicts the loss of
//!   any set of small errors, and the allocator minimises exactly that. A language model
//!   ([`language_model`]) has 211 matrices and a costlier forward pass: its tensors weigh 1
//!   each, i.e. every layer's output error counts the same (llama.cpp's importance matrix
//!   makes the same assumption).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use tensorjpeg::rng::SplitMix64;
use tensorjpeg::{AxisWeights, Tensor};
use tensorjpeg_models::bert::Embedder;
use tensorjpeg_models::weights::WeightOptions;

use crate::Progress;

pub mod rows;

/// Occurrences added to every token, position and token-type count of a language model's
/// calibration.
pub const PRIOR_COUNT: f64 = 0.5;
/// Occurrences added to every count of a sentence embedder's calibration, whose counts come
/// from the whole text it may see (MiniLM, `weighted:native:tcq`, recall@10 at 3 / 4 bits:
/// 0.5 → 0.870 / 0.937, 2 → 0.878 / 0.935, 4 → 0.880 / 0.936, 16 → 0.875 / 0.935).
pub const EMBEDDER_PRIOR_COUNT: f64 = 4.0;
/// Weighted SNR of the probing noise, dB (about what 3–4 bits per weight give).
pub const PROBE_SNR_DB: f64 = 20.0;
/// Relative floor added to a column's `E[xⱼ²]` (a column that never fires still exists).
const COLUMN_FLOOR: f64 = 1e-3;

/// The importance of a model's tensors.
#[derive(Debug, Clone, Default)]
pub struct Importance {
    /// Weights along rows/columns, by tensor name.
    pub axes: HashMap<String, AxisWeights>,
    /// Loss per unit of weighted squared error, by tensor name.
    pub weights: HashMap<String, f64>,
    /// `E[xxᵀ]` of each linear layer's inputs, by weight name (for error feedback).
    pub grams: HashMap<String, std::sync::Arc<tensorjpeg::Gram>>,
    /// Calibration sentences and tokens used.
    pub sentences: usize,
    /// Tokens in them.
    pub tokens: u64,
}

/// The axis weights of each tensor the calibration says something about: rows of token,
/// position and token-type tables by how often each occurs (+ `prior`); columns of
/// every matrix whose input was recorded (a linear layer, or a tied embedding table as the
/// output head) by `E[xⱼ²]` (+ a small floor).
pub fn axis_weights(
    tensors: &[Tensor],
    cal: &tensorjpeg_models::calibrate::Calibration,
    prior: f64,
) -> HashMap<String, AxisWeights> {
    let mut out = HashMap::new();
    for t in tensors.iter().filter(|t| t.shape.len() == 2) {
        let rows_of = |counts: &[f64]| -> Option<Vec<f32>> {
            (t.shape[0] == counts.len())
                .then(|| counts.iter().map(|&c| (c + prior) as f32).collect())
        };
        let n = &t.name;
        let rows = if n.ends_with("embeddings.word_embeddings.weight") || n == "token_embd.weight" {
            rows_of(&cal.token_counts)
        } else if n.ends_with("embeddings.position_embeddings.weight") {
            rows_of(&cal.position_counts)
        } else if n.ends_with("embeddings.token_type_embeddings.weight") {
            // Sentence embedders use token type 0 only.
            let mut counts = vec![0.0; t.shape[0]];
            counts[0] = cal.tokens as f64;
            rows_of(&counts)
        } else {
            None
        };
        let cols = cal.input_energy.get(n).and_then(|e| {
            let mean = e.iter().sum::<f64>() / e.len().max(1) as f64;
            (t.shape[1] == e.len() && mean > 0.0).then(|| {
                e.iter()
                    .map(|&v| (v + COLUMN_FLOOR * mean) as f32)
                    .collect()
            })
        });
        if rows.is_some() || cols.is_some() {
            out.insert(n.clone(), AxisWeights { rows, cols });
        }
    }
    out
}

/// `√(w / mean w)` per element of an axis (1 without weights).
fn unit_scales(w: Option<&Vec<f32>>, n: usize) -> Vec<f64> {
    match w {
        None => vec![1.0; n],
        Some(w) => {
            let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len().max(1) as f64;
            w.iter().map(|&v| (f64::from(v) / mean).sqrt()).collect()
        }
    }
}

/// A tensor the model does not use (BERT's pooler) or whose noise changes nothing
/// measurable gets the smallest measured weight: stored coarsely, never dropped.
fn floor_weights(weights: &mut HashMap<String, f64>) {
    let floor = weights
        .values()
        .copied()
        .filter(|&w| w > 0.0)
        .fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { 1.0 };
    for w in weights.values_mut() {
        *w = w.max(floor);
    }
}

/// `t` plus Gaussian noise that is white in the weighted domain (`e = σg/(rᵢcⱼ)`) at
/// [`PROBE_SNR_DB`] weighted SNR; returns the values and the weighted squared error.
fn probe_noise(t: &Tensor, axes: Option<&AxisWeights>, seed: u64) -> Result<(Vec<f32>, f64)> {
    let x = t
        .values()
        .with_context(|| format!("tensor '{}' is not a float tensor", t.name))?;
    let (rows, cols) = t.matrix_dims();
    let r = unit_scales(axes.and_then(|a| a.rows.as_ref()), rows);
    let c = unit_scales(axes.and_then(|a| a.cols.as_ref()), cols);
    let mut energy = 0.0;
    for (i, row) in x.chunks(cols.max(1)).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            energy += (r[i] * c[j] * f64::from(v)).powi(2);
        }
    }
    let sigma = (energy / x.len().max(1) as f64 / 10f64.powf(PROBE_SNR_DB / 10.0)).sqrt();
    let mut rng = SplitMix64::new(0x5e75 + seed);
    let mut weighted_err = 0.0;
    let noisy = x
        .iter()
        .enumerate()
        .map(|(idx, &v)| {
            let (i, j) = (idx / cols, idx % cols);
            let e = sigma * rng.gaussian() / (r[i] * c[j]).max(1e-6);
            let y = (f64::from(v) + e) as f32;
            weighted_err += (r[i] * c[j] * (f64::from(y) - f64::from(v))).powi(2);
            y
        })
        .collect();
    Ok((noisy, weighted_err))
}

/// Mean `1 − cos` between row-major `n × dim` embeddings.
fn loss(reference: &[f32], other: &[f32], dim: usize) -> f64 {
    let n = reference.len() / dim.max(1);
    (0..n)
        .map(|i| {
            let s = i * dim..(i + 1) * dim;
            1.0 - tensorjpeg::metrics::cosine(&reference[s.clone()], &other[s])
        })
        .sum::<f64>()
        / n.max(1) as f64
}

/// Measures the importance of every matrix of the embedder at `model` (`tensors` are its
/// file's tensors) on `calibration` sentences, its token and position counts on `counting`
/// (all the text it may see; the calibration sentences if empty). Each probe swaps one
/// matrix in memory ([`Embedder::set_matrix`]).
pub fn embedder(
    model: &Path,
    tensors: &[Tensor],
    calibration: &[String],
    counting: &[String],
    grams: bool,
    progress: &dyn Progress,
) -> Result<Importance> {
    let mut clean = Embedder::load(model, &WeightOptions::default())
        .with_context(|| format!("loading {}", model.display()))?;
    let mut cal = clean.calibrate(calibration, grams)?;
    if !counting.is_empty() {
        (cal.token_counts, cal.position_counts, cal.tokens) = clean.count_tokens(counting)?;
    }
    let mut axes = axis_weights(tensors, &cal, EMBEDDER_PRIOR_COUNT);
    for (name, w) in rows::output_weights(tensors) {
        let a = axes.entry(name).or_default();
        a.rows = a.rows.take().or(w.rows);
        a.cols = a.cols.take().or(w.cols);
    }
    let dim = clean.dim();
    let reference = clean.embed(calibration)?;
    let used = clean.matrix_names();
    let matrices: Vec<&Tensor> = tensors
        .iter()
        .filter(|t| t.shape.len() >= 2 && t.values().is_some())
        .collect();
    progress.phase("sensitivity", matrices.len());
    let mut weights = HashMap::new();
    for (k, t) in matrices.iter().enumerate() {
        progress.message(&t.name);
        // A matrix the model does not use (the pooler) changes nothing: the floor weight.
        let mut l = 0.0;
        let (noisy, weighted_err) = probe_noise(t, axes.get(&t.name), k as u64)?;
        if used.contains(&t.name) {
            // Swapped in memory, then back (`t` holds the values the model loaded).
            clean.set_matrix(&t.name, noisy)?;
            let out = clean.embed(calibration);
            let original = t.values().map(<[f32]>::to_vec).unwrap_or_default();
            clean.set_matrix(&t.name, original)?;
            l = loss(&reference, &out?, dim);
        }
        weights.insert(t.name.clone(), l / weighted_err.max(1e-30));
        progress.advance(1);
    }
    progress.finish();
    floor_weights(&mut weights);
    Ok(Importance {
        axes,
        weights,
        grams: cal.input_gram,
        sentences: calibration.len(),
        tokens: cal.tokens,
    })
}

/// The importance of a language model's tensors from calibration token ids (never the
/// evaluated ones): axis weights from [`tensorjpeg_models::calibrate::calibrate_lm`]; with
/// `probe`, each matrix's weight is the mean KL(clean ‖ perturbed) per unit of weighted
/// squared error when only it carries [`PROBE_SNR_DB`] of weighted-white noise (on one
/// window of the calibration ids, the weight swapped in memory), else 1 for every tensor.
/// The ids run in consecutive windows of `ctx` tokens (at most the ids and the model's
/// context).
pub fn language_model(
    model: &mut dyn tensorjpeg_models::lm::LanguageModel,
    tensors: &[Tensor],
    ids: &[u32],
    ctx: usize,
    probe: bool,
    grams: bool,
    progress: &dyn Progress,
) -> Result<Importance> {
    if ids.len() < 2 {
        anyhow::bail!("fewer than 2 calibration tokens");
    }
    let ctx = ctx.min(ids.len()).min(model.config().context).max(1);
    let window = tensorjpeg_models::eval::Window { ctx, stride: ctx };
    let cal = tensorjpeg_models::calibrate::calibrate_lm(model, ids, window, grams)?;
    let axes = axis_weights(tensors, &cal, PRIOR_COUNT);
    let mut weights = HashMap::new();
    if probe {
        let probe_ids = &ids[..window.ctx.min(ids.len())];
        let logits = |m: &dyn tensorjpeg_models::lm::LanguageModel| -> Result<Vec<f32>> {
            let mut cache = m.new_cache();
            Ok(m.forward(probe_ids, 1, &mut cache)?
                .flatten_all()?
                .to_vec1()?)
        };
        let reference = logits(model)?;
        let vocab = model.config().vocab;
        let names: Vec<String> = model.linears_mut().into_iter().map(|(n, _)| n).collect();
        let matrices: Vec<&Tensor> = tensors
            .iter()
            .filter(|t| t.shape.len() == 2 && names.contains(&t.name))
            .collect();
        progress.phase("sensitivity", matrices.len());
        for (k, t) in matrices.iter().enumerate() {
            progress.message(&t.name);
            let (noisy, weighted_err) = probe_noise(t, axes.get(&t.name), k as u64)?;
            let w = candle_core::Tensor::from_vec(
                noisy,
                (t.shape[0], t.shape[1]),
                &candle_core::Device::Cpu,
            )?;
            let tied = t.name == "token_embd.weight";
            let saved_embed = tied.then(|| model.parts().embed.clone());
            if tied {
                model.parts_mut().embed = tensorjpeg_models::lm::EmbedTable::Dense(w.clone());
            }
            let saved = swap_linear(model, &t.name, Some(&w))?;
            let out = logits(model);
            swap_back(model, &t.name, saved);
            if let Some(e) = saved_embed {
                model.parts_mut().embed = e;
            }
            let out = out?;
            let rows = reference.len() / vocab.max(1);
            let kl: f64 = (0..rows)
                .map(|r| {
                    let s = r * vocab..(r + 1) * vocab;
                    tensorjpeg_models::eval::kl_row(&reference[s.clone()], &out[s])
                })
                .sum::<f64>()
                / rows.max(1) as f64;
            weights.insert(t.name.clone(), kl / weighted_err.max(1e-30));
            progress.advance(1);
        }
        progress.finish();
        floor_weights(&mut weights);
    }
    // A tied embedding table is read row by row as the input embedding too: error feedback
    // through the head's inputs alone trades that use's error away (SmolLM2, 4 bits, 2,048
    // scored tokens: perplexity +10.1 % with it, +8.6 % without).
    let mut grams = cal.input_gram;
    grams.remove("token_embd.weight");
    Ok(Importance {
        axes,
        weights,
        grams,
        sentences: 0,
        tokens: cal.tokens,
    })
}

/// Replaces the linear layer `name` by a dense one of weight `w`; returns the original.
fn swap_linear(
    model: &mut dyn tensorjpeg_models::lm::LanguageModel,
    name: &str,
    w: Option<&candle_core::Tensor>,
) -> Result<Option<tensorjpeg_models::linear::Linear>> {
    for (n, l) in model.linears_mut() {
        if n == name {
            let saved = l.clone();
            if let Some(w) = w {
                *l = tensorjpeg_models::linear::Linear::dense(w.clone(), None)?;
            }
            return Ok(Some(saved));
        }
    }
    Ok(None)
}

fn swap_back(
    model: &mut dyn tensorjpeg_models::lm::LanguageModel,
    name: &str,
    saved: Option<tensorjpeg_models::linear::Linear>,
) {
    let Some(saved) = saved else { return };
    for (n, l) in model.linears_mut() {
        if n == name {
            *l = saved;
            return;
        }
    }
}

/// The importance of the model in `file` (a sentence embedder's model.safetensors with its
/// config.json and tokenizer.json beside it, or a `.gguf` language model) from the text
/// file `text`: embedders calibrate on up to `limit` of its sentences (with per-matrix
/// probes), language models on its last `limit` tokens (with probes on one window of 512).
/// `tensors` are the file's tensors.
pub fn calibrate_file(
    file: &Path,
    tensors: &[Tensor],
    text: &Path,
    limit: usize,
    grams: bool,
    progress: &dyn Progress,
) -> Result<Importance> {
    let body = tensorjpeg_models::text::read_text(text)?;
    match crate::kind::ModelKind::of(file) {
        crate::kind::ModelKind::Embedder => {
            // Every sentence counts tokens; `limit` of them, evenly spaced (as
            // `sample_sentences` picks them), run through the model.
            let every = crate::embeddings::datasets::sample_sentences(&body, usize::MAX, 5);
            let n = limit.min(every.len());
            let all: Vec<String> = (0..n).map(|i| every[i * every.len() / n].clone()).collect();
            if all.is_empty() {
                anyhow::bail!(
                    "{}: no sentence of ≥ 5 words to calibrate on",
                    text.display()
                );
            }
            embedder(file, tensors, &all, &every, grams, progress)
        }
        crate::kind::ModelKind::LanguageModel => {
            let opts = WeightOptions {
                dequantize: true,
                ..Default::default()
            };
            let mut m = tensorjpeg_models::load::load(file, &opts)
                .with_context(|| format!("loading {}", file.display()))?;
            let ids = m.tokenizer().encode(&body)?;
            let ids = &ids[ids.len().saturating_sub(limit)..];
            language_model(m.as_mut(), tensors, ids, 512, true, grams, progress)
                .with_context(|| format!("calibrating on {}", text.display()))
        }
    }
}
