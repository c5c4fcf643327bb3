//! Whole models judged by the model (`tensorjpeg model-sweep`): every tensor of a
//! sentence-embedding model's file stored by a codec plan ([`crate::plan`]: 1-D tensors
//! exact, the rest through the codec, per tensor or at one slope), the container loaded
//! into the runtime, and the compressed model's embeddings compared with the original's.
//!
//! Measures per point, on `sentences` enwiki sentences (the embedding evaluation's sampler,
//! [`crate::embeddings::datasets::sample_sentences`]): the mean cosine between each
//! sentence's embedding under the compressed and the original model, and the neighbour
//! recall@10 — for every sentence, the overlap of its 10 nearest other sentences (cosine)
//! when every embedding comes from the compressed model with those of the original model.
//! Bits per weight are all-in over every tensor of the file (the container's size × 8 /
//! all values) and, separately, over the compressed matrices only.
//!
//! A point whose codec cannot store some tensor (candle's K-quants need rows divisible by
//! 256) is skipped with the reason, as llama.cpp would have to fall back to another type.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde_json::{json, Value};
use tensorjpeg::pipeline::compress_planned;
use tensorjpeg::{Tensor, TensorPlan};
use tensorjpeg_models::bert::Embedder;
use tensorjpeg_models::weights::WeightOptions;

use crate::embeddings::datasets::sample_sentences;
use crate::plan::{Allocation, PlanConfig};
use crate::report::plot::{log_x, Series};
use crate::report::table::{self, f};
use crate::report::{create_dir, csv, num, write_atomic};
use crate::sweep::{parse_points, Point};
use crate::Progress;

/// The default codec list: the native codec per tensor and at one slope, the seed's literal
/// JPEG, and the fixed-rate formats people use.
pub const DEFAULT_CODECS: &str = "native@bits=2/3/4/5,global:native@bits=2/3/4/5,\
weighted:native@bits=2/3/4/5,q8_0,q4_1,q4_0,q4_k,f16,jpeg:matrix@q=95";

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// Model directory (model.safetensors, config.json, tokenizer.json) or its
    /// model.safetensors.
    pub model: PathBuf,
    /// Text to sample sentences from.
    pub text: PathBuf,
    /// Points, in the sweep grammar (`SPEC[@RATES]`, `global:` prefix).
    pub codecs: String,
    /// Sentences embedded per point.
    pub sentences: usize,
    /// Calibration sentences for `weighted:` points (disjoint from the evaluated ones).
    pub calibration_sentences: usize,
    /// Output folder.
    pub out: PathBuf,
}

/// One measured point.
#[derive(Debug, Clone)]
pub struct Row {
    /// The model's file name.
    pub model: String,
    /// Codec spec as reported (`global:` prefix for one slope).
    pub codec: String,
    /// Rate label.
    pub rate: String,
    /// `per-tensor` or `global`.
    pub allocation: String,
    /// All-in bits per weight over every tensor of the file.
    pub bits_per_weight: f64,
    /// All-in bits per value over the compressed tensors only.
    pub bits_per_weight_matrices: f64,
    /// Aggregate SNR over the compressed tensors, dB.
    pub snr_db: f64,
    /// Mean cosine between compressed-model and original-model embeddings.
    pub embedding_cosine: f64,
    /// Neighbour recall@10 (see the module docs).
    pub neighbour_recall_at_10: f64,
    /// Seconds to compress the model.
    pub compress_s: f64,
}

impl Row {
    /// The row as `results.json` writes it.
    pub fn to_json(&self) -> Value {
        json!({
            "model": self.model, "codec": self.codec, "rate": self.rate,
            "allocation": self.allocation,
            "bits_per_weight": num(self.bits_per_weight),
            "bits_per_weight_matrices": num(self.bits_per_weight_matrices),
            "snr_db": num(self.snr_db),
            "embedding_cosine": num(self.embedding_cosine),
            "neighbour_recall_at_10": num(self.neighbour_recall_at_10),
            "compress_s": num(self.compress_s),
        })
    }
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The measured points, the original model's first (f32, exact).
    pub rows: Vec<Row>,
    /// Points skipped, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// The embeddings' comparison: mean cosine and neighbour recall@10.
pub fn compare_embeddings(reference: &[f32], other: &[f32], dim: usize) -> (f64, f64) {
    let n = reference.len() / dim.max(1);
    let rows = |v: &[f32], i: usize| v[i * dim..(i + 1) * dim].to_vec();
    let mut cos = 0.0;
    for i in 0..n {
        cos += tensorjpeg::metrics::cosine(&rows(reference, i), &rows(other, i));
    }
    let k = 10.min(n.saturating_sub(1));
    let neighbours = |v: &[f32], i: usize| -> Vec<usize> {
        let q = &v[i * dim..(i + 1) * dim];
        let scores: Vec<f32> = (0..n)
            .map(|j| {
                if j == i {
                    f32::NEG_INFINITY
                } else {
                    tensorjpeg::kernels::dot(q, &v[j * dim..(j + 1) * dim])
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

fn model_file(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.safetensors")
    } else {
        model.to_path_buf()
    }
}

/// Measures every point; writes `results.json`, `results.csv`, `report.md` and plots into
/// `cfg.out`.
pub fn run(cfg: &Config, progress: &dyn Progress) -> Result<Outcome> {
    let points = parse_points(&cfg.codecs)?;
    let registry = tensorjpeg_io::registry();
    crate::sweep::check_points(&points, &registry)?;
    if cfg.sentences < 11 {
        bail!(
            "--sentences {}: at least 11 (10 neighbours each)",
            cfg.sentences
        );
    }
    let file = model_file(&cfg.model);
    let tensors = tensorjpeg_io::read_tensors(&file)?;
    let total_values: usize = tensors.iter().map(Tensor::numel).sum();
    let text = tensorjpeg_models::text::read_text(&cfg.text)?;
    let (sentences, calibration) = split_sentences(&text, cfg.sentences, cfg.calibration_sentences);
    if sentences.len() < 11 {
        bail!(
            "{}: only {} sentences of ≥ 5 words",
            cfg.text.display(),
            sentences.len()
        );
    }
    create_dir(&cfg.out)?;
    progress.phase("original model", 1);
    let original = Embedder::load(&cfg.model, &WeightOptions::default())
        .with_context(|| format!("loading {}", cfg.model.display()))?;
    let dim = original.dim();
    let reference = original.embed(&sentences)?;
    let source_bytes: u64 = tensors.iter().map(Tensor::source_bytes).sum();
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
        bits_per_weight: source_bytes as f64 * 8.0 / total_values as f64,
        bits_per_weight_matrices: source_bytes as f64 * 8.0 / total_values as f64,
        snr_db: f64::INFINITY,
        embedding_cosine: 1.0,
        neighbour_recall_at_10: 1.0,
        compress_s: 0.0,
    }];
    progress.advance(1);
    let importance = if points.iter().any(|p| p.allocation == Allocation::Weighted) {
        if calibration.is_empty() {
            bail!("weighted points need calibration sentences (--calibration-sentences > 0)");
        }
        Some(crate::sensitivity::embedder(
            &cfg.model,
            &tensors,
            &calibration,
            &cfg.out,
            progress,
        )?)
    } else {
        None
    };
    progress.phase("model-sweep", points.len());
    let mut skipped = Vec::new();
    for (k, p) in points.iter().enumerate() {
        // A new file per point: a file this process has read is never written again.
        let tmp = cfg.out.join(format!(".model-sweep-{k}.tjpg"));
        progress.message(&format!("{} {}", p.codec_label(), p.label));
        let eval = Eval {
            reference: &reference,
            sentences: &sentences,
            dim,
            importance: importance.as_ref(),
        };
        match measure(&tensors, p, cfg, &tmp, &eval) {
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
        let _ = std::fs::remove_file(&tmp);
        progress.advance(1);
    }
    progress.finish();
    write(cfg, &rows, &skipped)?;
    Ok(Outcome { rows, skipped })
}

/// The `n` evaluation sentences (evenly spaced over the text's sentences of ≥ 5 words) and
/// up to `calibration` others, evenly spaced over the rest: no sentence is in both.
pub fn split_sentences(text: &str, n: usize, calibration: usize) -> (Vec<String>, Vec<String>) {
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
    )
}

/// What every point is compared with.
struct Eval<'a> {
    reference: &'a [f32],
    sentences: &'a [String],
    dim: usize,
    importance: Option<&'a crate::sensitivity::Importance>,
}

fn measure(tensors: &[Tensor], p: &Point, cfg: &Config, tmp: &Path, ev: &Eval) -> Result<Row> {
    let registry = tensorjpeg_io::registry();
    let mut plan_cfg = PlanConfig {
        codec: p.spec.clone(),
        rate: p.rate,
        allocation: p.allocation,
        ..Default::default()
    };
    if let (Allocation::Weighted, Some(imp)) = (p.allocation, ev.importance) {
        plan_cfg.weights = imp.weights.clone();
        plan_cfg.axes = imp.axes.clone();
    }
    let plan = plan_cfg.plan(tensors, &registry)?;
    let t0 = Instant::now();
    let c = compress_planned(tensors, &plan.tensors, plan.pool_bits, &registry, &|_| {})?;
    let compress_s = t0.elapsed().as_secs_f64();
    let back = tensorjpeg::decompress_with(&c.bytes, &registry)?;
    let (mut s, mut e, mut vals, mut bytes) = (0f64, 0f64, 0usize, 0usize);
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
        for (&a, &b) in x.iter().zip(y) {
            s += f64::from(a) * f64::from(a);
            e += (f64::from(a) - f64::from(b)).powi(2);
        }
        vals += t.numel();
        bytes += r.stored_bytes;
    }
    write_atomic(tmp, &c.bytes)?;
    let opts = WeightOptions {
        container: Some(tmp.to_path_buf()),
        ..Default::default()
    };
    let model = Embedder::load(&cfg.model, &opts)?;
    let emb = model.embed(ev.sentences)?;
    let (cos, recall) = compare_embeddings(ev.reference, &emb, ev.dim);
    let total: usize = tensors.iter().map(Tensor::numel).sum();
    Ok(Row {
        model: String::new(),
        codec: p.codec_label(),
        rate: p.label.clone(),
        allocation: p.allocation.name().into(),
        bits_per_weight: c.bytes.len() as f64 * 8.0 / total as f64,
        bits_per_weight_matrices: bytes as f64 * 8.0 / vals.max(1) as f64,
        snr_db: if e > 0.0 {
            10.0 * (s / e).log10()
        } else {
            f64::INFINITY
        },
        embedding_cosine: cos,
        neighbour_recall_at_10: recall,
        compress_s,
    })
}

const COLUMNS: [&str; 10] = [
    "model",
    "codec",
    "rate",
    "allocation",
    "bits_per_weight",
    "bits_per_weight_matrices",
    "snr_db",
    "embedding_cosine",
    "neighbour_recall_at_10",
    "compress_s",
];

/// The rows as a plain-text table.
pub fn table(rows: &[Row]) -> String {
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.codec.clone(),
                r.rate.clone(),
                f(r.bits_per_weight, 3),
                f(r.bits_per_weight_matrices, 3),
                f(r.snr_db, 2),
                f(r.embedding_cosine, 5),
                f(r.neighbour_recall_at_10, 4),
            ]
        })
        .collect();
    table::render(
        &[
            "codec",
            "rate",
            "bits/weight",
            "bits/matrix value",
            "SNR dB",
            "emb. cosine",
            "recall@10",
        ],
        &t,
    )
}

fn write(cfg: &Config, rows: &[Row], skipped: &[(String, String)]) -> Result<()> {
    let json_rows: Vec<Value> = rows.iter().map(Row::to_json).collect();
    write_atomic(
        &cfg.out.join("results.json"),
        serde_json::to_string_pretty(&json_rows)?.as_bytes(),
    )?;
    write_atomic(
        &cfg.out.join("results.csv"),
        csv(&COLUMNS, &json_rows).as_bytes(),
    )?;
    let mut by_codec: Vec<Series> = Vec::new();
    let mut by_codec_recall: Vec<Series> = Vec::new();
    for r in rows.iter().filter(|r| r.codec != "original") {
        let label = r.codec.clone();
        match by_codec.iter().position(|s| s.label == label) {
            Some(i) => {
                by_codec[i]
                    .points
                    .push((r.bits_per_weight, r.embedding_cosine));
                by_codec_recall[i]
                    .points
                    .push((r.bits_per_weight, r.neighbour_recall_at_10));
            }
            None => {
                by_codec.push(Series {
                    label: label.clone(),
                    points: vec![(r.bits_per_weight, r.embedding_cosine)],
                });
                by_codec_recall.push(Series {
                    label,
                    points: vec![(r.bits_per_weight, r.neighbour_recall_at_10)],
                });
            }
        }
    }
    for s in by_codec.iter_mut().chain(by_codec_recall.iter_mut()) {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let x = "all-in bits per weight, every tensor (log scale)";
    log_x(
        &cfg.out.join("cosine.png"),
        "Embedding cosine to the original model",
        (x, "mean cosine"),
        &by_codec,
    )?;
    log_x(
        &cfg.out.join("recall.png"),
        "Neighbour recall@10 against the original model",
        (x, "recall@10"),
        &by_codec_recall,
    )?;
    let mut md = format!(
        "# Model sweep: {}\n\n{} sentences of {}; every tensor of the file stored by the \
         plan (1-D tensors exact), the container loaded by the runtime.\n\n```text\n{}```\n",
        cfg.model.display(),
        cfg.sentences,
        cfg.text.display(),
        table(rows)
    );
    if !skipped.is_empty() {
        md += "\nSkipped:\n";
        for (p, why) in skipped {
            md += &format!("- {p}: {why}\n");
        }
    }
    md += "\nPlots: cosine.png, recall.png. Rows: results.json / results.csv.\n";
    write_atomic(&cfg.out.join("report.md"), md.as_bytes())
}
