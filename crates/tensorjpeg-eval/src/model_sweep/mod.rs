//! Whole models judged by the model (`tensorjpeg model-sweep`): every tensor of a model's
//! file stored by a codec plan ([`crate::plan`]: 1-D tensors exact, the rest through the
//! codec — per tensor, at one slope, or at one slope of the calibrated, model-weighted
//! error), the container loaded into the runtime, and the compressed model compared with
//! the original:
//! - a sentence embedder ([`embedder`]): mean embedding cosine and neighbour recall@10 on
//!   enwiki sentences;
//! - a language model ([`lm`]): perplexity, its rise, KL(original ‖ compressed) and top-1
//!   agreement on held-out text, the original file scored by the same runtime.
//!
//! Bits per weight are all-in over every tensor of the file (the container's size × 8 / all
//! values) and, separately, over the compressed tensors only. A point whose codec cannot
//! store some tensor (candle's K-quants need rows divisible by 256) is skipped with the
//! reason, where llama.cpp would fall back to another type.

pub mod embedder;
pub mod lm;
pub mod peers;
mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tensorjpeg::pipeline::compress_planned;
use tensorjpeg::{Tensor, TensorPlan};

use crate::plan::PlanConfig;
use crate::report::{create_dir, num, write_atomic};
use crate::sweep::{parse_points, Point};
use crate::Progress;

pub use crate::kind::ModelKind;
pub use report::table;

/// The default codec list for embedders: the native codec per tensor, at one slope, and at
/// one slope of the model-weighted error; the fixed-rate formats people use; the seed's
/// literal JPEG.
pub const DEFAULT_CODECS: &str = "native@bits=2/3/4/5,global:native@bits=2/3/4/5,\
weighted:native@bits=2/3/4/5,q8_0,q4_1,q4_0,q4_k,f16,jpeg:matrix@q=95";

/// The default codec list for language models.
pub const DEFAULT_LM_CODECS: &str = "native@bits=3/4/5/6,global:native@bits=3/4/5/6,\
weighted:native@bits=3/4/5/6,q8_0,q4_1,q4_0,f16";

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// The model: an embedder folder (or its model.safetensors), a `.gguf` file, a GPT-2
    /// folder.
    pub model: PathBuf,
    /// Text the evaluation (and calibration) samples are drawn from.
    pub text: PathBuf,
    /// Points, in the sweep grammar (`SPEC[@RATES]`, `global:` / `weighted:` prefixes).
    pub codecs: String,
    /// Embedders: sentences embedded per point.
    pub sentences: usize,
    /// Embedders: calibration sentences for `weighted:` points (disjoint from the
    /// evaluated ones).
    pub calibration_sentences: usize,
    /// Language models: tokens scored (from the start of the text).
    pub tokens: usize,
    /// Language models: calibration tokens for `weighted:` points (from the end of the
    /// text, never among the scored ones).
    pub calibration_tokens: usize,
    /// Language models: measure each matrix's sensitivity by a noise probe for `weighted:`
    /// points (else every tensor weighs 1).
    pub probe: bool,
    /// Language models: window length and stride.
    pub window: tensorjpeg_models::eval::Window,
    /// Output folder.
    pub out: PathBuf,
    /// Models compressed by other programs, scored in the same run ([`peers`]).
    pub peers: Option<PathBuf>,
}

impl Config {
    /// The quick settings for tests: 200 sentences (64 for calibration), or 256 tokens in
    /// windows of 128 (512 for calibration, no probes).
    pub fn quick(self) -> Config {
        Config {
            sentences: 200,
            calibration_sentences: 64,
            tokens: 256,
            calibration_tokens: 512,
            probe: false,
            window: tensorjpeg_models::eval::Window {
                ctx: 128,
                stride: 64,
            },
            ..self
        }
    }
}

/// The default codec list for a model at `path`.
pub fn default_codecs(path: &Path) -> &'static str {
    match ModelKind::of(path) {
        ModelKind::Embedder => DEFAULT_CODECS,
        ModelKind::LanguageModel => DEFAULT_LM_CODECS,
    }
}

/// How a compressed model compares with the original.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    /// Embedders: mean cosine between compressed-model and original-model embeddings.
    pub embedding_cosine: Option<f64>,
    /// Embedders: neighbour recall@10 ([`embedder::compare_embeddings`]).
    pub neighbour_recall_at_10: Option<f64>,
    /// Language models: perplexity of the compressed model.
    pub perplexity: Option<f64>,
    /// Language models: perplexity / the original's − 1.
    pub perplexity_rise: Option<f64>,
    /// Language models: mean KL(original ‖ compressed) per position, nats.
    pub kl: Option<f64>,
    /// Language models: share of positions where both rank the same token first.
    pub top1_agreement: Option<f64>,
}

/// One measured point.
#[derive(Debug, Clone)]
pub struct Row {
    /// The model's file or folder name.
    pub model: String,
    /// Codec spec as reported (`global:` / `weighted:` prefix for a shared budget).
    pub codec: String,
    /// Rate label.
    pub rate: String,
    /// `per-tensor`, `global`, `weighted`, or `—` for the original.
    pub allocation: String,
    /// All-in bits per weight over every tensor of the file.
    pub bits_per_weight: f64,
    /// All-in bits per value over the compressed tensors only.
    pub bits_per_weight_matrices: f64,
    /// Aggregate SNR over the compressed tensors, dB.
    pub snr_db: f64,
    /// What the model says.
    pub metrics: Metrics,
    /// Seconds to compress the model.
    pub compress_s: f64,
    /// Tensors the allocation kept exactly (their file's own blocks, entropy-coded).
    pub kept_tensors: usize,
}

impl Row {
    /// The row as `results.json` writes it (absent metrics as `null`).
    pub fn to_json(&self) -> Value {
        let opt = |v: Option<f64>| v.map_or(Value::Null, num);
        let m = &self.metrics;
        json!({
            "model": self.model, "codec": self.codec, "rate": self.rate,
            "allocation": self.allocation,
            "bits_per_weight": num(self.bits_per_weight),
            "bits_per_weight_matrices": num(self.bits_per_weight_matrices),
            "snr_db": num(self.snr_db),
            "embedding_cosine": opt(m.embedding_cosine),
            "neighbour_recall_at_10": opt(m.neighbour_recall_at_10),
            "perplexity": opt(m.perplexity),
            "perplexity_rise": opt(m.perplexity_rise),
            "kl": opt(m.kl),
            "top1_agreement": opt(m.top1_agreement),
            "compress_s": num(self.compress_s),
            "kept_tensors": self.kept_tensors,
        })
    }
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What was measured.
    pub kind: ModelKind,
    /// The measured points, the original model's first.
    pub rows: Vec<Row>,
    /// Points skipped, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Scores a compressed model against the original.
pub trait Judge {
    /// The original model's own row metrics.
    fn original(&self) -> Metrics;
    /// Loads the model with the tensors of the container at `container` and compares.
    fn judge(&self, container: &Path) -> Result<Metrics>;
    /// Loads another model file or folder of the same architecture (a peer's decompressed
    /// output) and compares.
    fn judge_model(&self, model: &Path) -> Result<Metrics>;
    /// The calibrated importance for `weighted:` points (computed on first use); `grams`:
    /// with each layer's `E[x xᵀ]`, for `gptq:` points.
    fn importance(
        &self,
        tensors: &[Tensor],
        grams: bool,
        progress: &dyn Progress,
    ) -> Result<crate::sensitivity::Importance>;
}

/// The file whose tensors are compressed.
fn model_file(model: &Path) -> Result<PathBuf> {
    if !model.is_dir() {
        return Ok(model.to_path_buf());
    }
    let st = model.join("model.safetensors");
    if st.exists() {
        return Ok(st);
    }
    let gguf = std::fs::read_dir(model)
        .with_context(|| format!("reading {}", model.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "gguf"));
    gguf.with_context(|| format!("{}: no model.safetensors or .gguf file", model.display()))
}

/// Measures every point; writes `results.json`, `results.csv`, `report.md` and plots into
/// `cfg.out`.
pub fn run(cfg: &Config, progress: &dyn Progress) -> Result<Outcome> {
    let points = parse_points(&cfg.codecs)?;
    let registry = tensorjpeg_io::registry();
    crate::sweep::check_points(&points, &registry)?;
    let kind = ModelKind::of(&cfg.model);
    let file = model_file(&cfg.model)?;
    let tensors = tensorjpeg_io::read_tensors(&file)?;
    create_dir(&cfg.out)?;
    progress.phase("original model", 1);
    let judge: Box<dyn Judge> = match kind {
        ModelKind::Embedder => Box::new(embedder::EmbedderJudge::new(cfg)?),
        ModelKind::LanguageModel => Box::new(lm::LmJudge::new(cfg)?),
    };
    progress.advance(1);
    progress.finish();
    let total: usize = tensors.iter().map(Tensor::numel).sum();
    let file_bytes = std::fs::metadata(&file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let name = cfg
        .model
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rows = vec![Row {
        model: name.clone(),
        codec: "original".into(),
        rate: "—".into(),
        allocation: "—".into(),
        bits_per_weight: file_bytes as f64 * 8.0 / total.max(1) as f64,
        bits_per_weight_matrices: file_bytes as f64 * 8.0 / total.max(1) as f64,
        snr_db: f64::INFINITY,
        metrics: judge.original(),
        compress_s: 0.0,
        kept_tensors: 0,
    }];
    let importance = if points.iter().any(|p| p.allocation.is_calibrated()) {
        let grams = points
            .iter()
            .any(|p| p.allocation == crate::plan::Allocation::Gptq);
        Some(judge.importance(&tensors, grams, progress)?)
    } else {
        None
    };
    let peer_list = match &cfg.peers {
        Some(p) => peers::read(p)?,
        None => Vec::new(),
    };
    progress.phase("model-sweep", points.len() + peer_list.len());
    let mut skipped = Vec::new();
    for (k, p) in points.iter().enumerate() {
        progress.message(&format!("{} {}", p.codec_label(), p.label));
        // A new file per point: a file this process has read is never written again.
        let tmp = cfg.out.join(format!(".model-sweep-{k}.tjpg"));
        let r = measure(&tensors, p, &tmp, judge.as_ref(), importance.as_ref());
        let _ = std::fs::remove_file(&tmp);
        match r {
            Ok(mut r) => {
                r.model = name.clone();
                rows.push(r);
            }
            Err(e) => {
                let why = format!("{e:#}");
                progress.note(&format!("skipped {} {}: {why}", p.codec_label(), p.label));
                skipped.push((format!("{} {}", p.codec_label(), p.label), why));
            }
        }
        progress.advance(1);
    }
    for peer in &peer_list {
        progress.message(&format!("peer {} {}", peer.codec, peer.rate));
        match peers::measure(&tensors, peer, judge.as_ref()) {
            Ok(mut r) => {
                r.model = name.clone();
                rows.push(r);
            }
            Err(e) => {
                let why = format!("{e:#}");
                progress.note(&format!("skipped peer {} {}: {why}", peer.codec, peer.rate));
                skipped.push((format!("peer {} {}", peer.codec, peer.rate), why));
            }
        }
        progress.advance(1);
    }
    progress.finish();
    report::write(cfg, kind, &rows, &skipped)?;
    Ok(Outcome {
        kind,
        rows,
        skipped,
    })
}

/// Compresses the model's tensors as point `p` plans, writes the container to `tmp`, and
/// has the judge score it.
fn measure(
    tensors: &[Tensor],
    p: &Point,
    tmp: &Path,
    judge: &dyn Judge,
    importance: Option<&crate::sensitivity::Importance>,
) -> Result<Row> {
    let registry = tensorjpeg_io::registry();
    let mut plan_cfg = PlanConfig {
        codec: p.spec.clone(),
        rate: p.rate,
        allocation: p.allocation,
        requantize: p.requantize,
        ..Default::default()
    };
    if let (true, Some(imp)) = (p.allocation.is_calibrated(), importance) {
        plan_cfg.weights = imp.weights.clone();
        plan_cfg.axes = imp.axes.clone();
        plan_cfg.grams = imp.grams.clone();
    }
    let plan = plan_cfg.plan(tensors, &registry)?;
    let t0 = Instant::now();
    let c = compress_planned(tensors, &plan.tensors, plan.pool_bits, &registry, &|_| {})?;
    let compress_s = t0.elapsed().as_secs_f64();
    let back = tensorjpeg::decompress_with(&c.bytes, &registry)?;
    let mut coded = tensorjpeg::metrics::Stats::default();
    for ((t, b), (r, pl)) in tensors
        .iter()
        .zip(&back)
        .zip(c.report.tensors.iter().zip(&plan.tensors))
    {
        if *pl == TensorPlan::Verbatim {
            continue;
        }
        let (Some(x), Some(y)) = (t.values(), b.values()) else {
            continue;
        };
        let mut st = tensorjpeg::metrics::compare(x, y, 0);
        st.bytes = r.stored_bytes as u64;
        coded.merge(&st);
    }
    drop(back);
    write_atomic(tmp, &c.bytes)?;
    let metrics = judge.judge(tmp)?;
    let total: usize = tensors.iter().map(Tensor::numel).sum();
    Ok(Row {
        model: String::new(),
        codec: p.codec_label(),
        rate: p.label.clone(),
        allocation: p.allocation.name().into(),
        bits_per_weight: c.bytes.len() as f64 * 8.0 / total.max(1) as f64,
        bits_per_weight_matrices: coded.bits_per_value(),
        snr_db: coded.snr_db(),
        metrics,
        compress_s,
        kept_tensors: c
            .report
            .tensors
            .iter()
            .filter(|r| r.stats.iter().any(|(k, _)| k == "kept_exact"))
            .count(),
    })
}
