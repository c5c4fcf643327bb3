//! `tensorjpeg embed-eval`: embedding-collection codecs at equal bytes per vector, judged by
//! retrieval on real sentence embeddings (see `tensorjpeg_models::datasets` for the sets
//! and splits, `tensorjpeg::vectors::evaluate` for the measures).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use tensorjpeg::vectors::evaluate::{evaluate, EvalOptions, Measured, Split, Truth};
use tensorjpeg::vectors::registry::{self, Planned};
use tensorjpeg_models::bert::Embedder;
use tensorjpeg_models::datasets;

use super::embed_eval_report as report;
use super::model::assets_dir;
use super::progress;

/// The evaluation sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dataset {
    /// Neighbour preservation on enwiki sentences (no relevance labels).
    Enwiki,
    /// Paraphrase retrieval: World English Bible verse → its King James verse.
    Bible,
}

impl Dataset {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Enwiki => "enwiki",
            Dataset::Bible => "bible",
        }
    }
}

/// The default codec list: every baseline family, seed 000's JPEG, and the KLT codec.
pub const DEFAULT_CODECS: &str = "float32,f16,int8,int4,binary,binary+rescore,binary+int8,\
pq,opq,pca,jpeg,jpeg-matrix,klt,klt+search";

/// Arguments of `embed-eval`.
#[derive(Args, Debug)]
pub struct EmbedEvalArgs {
    /// Sentence-embedding model directory; default assets/minilm.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Evaluation sets (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "enwiki")]
    pub dataset: Vec<Dataset>,
    /// Codecs or codec families (comma-separated): float32, f16, int8, int4, binary,
    /// binary+rescore, binary+int8, pq, opq, pca, klt, klt+search, jpeg (seed 000: one
    /// JPEG per vector at its qualities), jpeg-matrix (the collection as one JPEG), or any
    /// codec spec such as `opq:m=48` or `klt:bytes=64:search:shortlist=50`.
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_CODECS)]
    pub codecs: Vec<String>,
    /// Byte budgets (all-in bytes per vector) for the budgeted families.
    #[arg(
        long = "bytes-per-vector",
        value_delimiter = ',',
        default_value = "16,24,32,48,64,96,128,160,192"
    )]
    pub bytes_per_vector: Vec<f64>,
    /// Output directory: results.json, results.csv, report.md, seed000.md, run.json, plots.
    #[arg(long)]
    pub out: PathBuf,
    /// enwiki: sentences sampled from the text (split 1:2:9 into queries, fit, database).
    #[arg(long, default_value_t = 6000)]
    pub sentences: usize,
    /// enwiki: the text file; default assets/text/enwiki.txt.
    #[arg(long, value_name = "PATH")]
    pub text: Option<PathBuf>,
    /// bible: the verse-pair file; default assets/bible/pairs.tsv.
    #[arg(long, value_name = "PATH")]
    pub pairs: Option<PathBuf>,
    /// bible: use at most this many pairs (evenly spaced); default all.
    #[arg(long, value_name = "N")]
    pub max_pairs: Option<usize>,
    /// bible: pairs held out for fitting (both translations).
    #[arg(long, default_value_t = 2000)]
    pub fit_pairs: usize,
    /// Evaluate at most this many queries (evenly spaced); default all.
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// Database pairs for the Spearman correlation.
    #[arg(long, default_value_t = 20_000)]
    pub spearman_pairs: usize,
    /// Queries timed one at a time (single-thread latency).
    #[arg(long, default_value_t = 200)]
    pub latency_queries: usize,
    /// Embedding cache directory (keyed by model and sentences); default OUT/embeddings.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One dataset, embedded and split.
pub struct Prepared {
    /// Which set.
    pub dataset: Dataset,
    /// Embedding dimension.
    pub dim: usize,
    /// Fit vectors.
    pub train: Vec<f32>,
    /// Database vectors.
    pub base: Vec<f32>,
    /// Query vectors.
    pub queries: Vec<f32>,
    /// Relevant database index per query (bible).
    pub relevant: Option<Vec<u32>>,
    /// Seconds spent embedding (0 when cached).
    pub embed_s: f64,
}

impl Prepared {
    fn split(&self) -> Split<'_> {
        Split {
            train: &self.train,
            base: &self.base,
            queries: &self.queries,
            dim: self.dim,
            relevant: self.relevant.as_deref(),
        }
    }
}

/// One result row: dataset, plan entry, measurements.
pub struct Row {
    /// Dataset name.
    pub dataset: &'static str,
    /// What was run.
    pub planned: Planned,
    /// What was measured.
    pub m: Measured,
    /// Sizes: database, queries, fit vectors.
    pub sizes: (usize, usize, usize),
}

/// Runs `embed-eval`.
pub fn run(a: &EmbedEvalArgs) -> Result<()> {
    check_args(a)?;
    let t0 = Instant::now();
    let model_path = a
        .model
        .clone()
        .unwrap_or_else(|| assets_dir().join("minilm"));
    let model = Embedder::load(&model_path, &Default::default())
        .with_context(|| format!("loading {}", model_path.display()))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let cache = a.cache.clone().unwrap_or_else(|| a.out.join("embeddings"));
    let (plan, mut skipped) = registry::expand(&a.codecs, &a.bytes_per_vector, model.dim())?;
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    let opts = EvalOptions {
        pairs: a.spearman_pairs,
        latency_queries: a.latency_queries,
        ..EvalOptions::default()
    };
    let mut rows = Vec::new();
    let mut prepared_sets = Vec::new();
    for &ds in &a.dataset {
        let p = prepare(a, ds, &model, &model_path, &cache)?;
        let split = p.split();
        let truth = Truth::new(&split, &opts)?;
        let pb = progress(plan.len(), a.quiet, ds.name());
        for planned in &plan {
            pb.set_message(planned.spec.clone());
            let codec = registry::parse(&planned.spec)?;
            pb.inc(1);
            // A codec that cannot run on this set (e.g. PQ with fewer fit vectors than
            // centroids) is reported and skipped; the others still run.
            let m = match evaluate(codec.as_ref(), &split, &truth, &opts) {
                Ok(m) => m,
                Err(e) => {
                    let msg = format!("{} on {}: {e}", planned.spec, ds.name());
                    pb.suspend(|| eprintln!("skipped: {msg}"));
                    skipped.push(msg);
                    continue;
                }
            };
            rows.push(Row {
                dataset: ds.name(),
                planned: planned.clone(),
                m,
                sizes: (
                    p.base.len() / p.dim,
                    p.queries.len() / p.dim,
                    p.train.len() / p.dim,
                ),
            });
        }
        pb.finish_and_clear();
        prepared_sets.push(p);
    }
    let seed000 = if a.codecs.iter().any(|c| c.trim() == "jpeg") {
        let base = prepared_sets
            .first()
            .map(|p| (p.dataset.name(), &p.base[..], p.dim));
        Some(report::seed000(&model, base)?)
    } else {
        None
    };
    let ctx = report::Context {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        model: model_path.display().to_string(),
        skipped,
        embed_s: prepared_sets
            .iter()
            .map(|p| (p.dataset.name(), p.embed_s))
            .collect(),
        total_s: t0.elapsed().as_secs_f64(),
    };
    report::write(&a.out, &ctx, &rows, seed000.as_ref())?;
    eprint!("{}", report::summary(&rows));
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

fn check_args(a: &EmbedEvalArgs) -> Result<()> {
    if a.codecs.iter().all(|c| c.trim().is_empty()) {
        bail!("--codecs: give at least one codec or family");
    }
    if let Some(b) = a
        .bytes_per_vector
        .iter()
        .find(|b| !(b.is_finite() && **b > 0.0))
    {
        bail!("--bytes-per-vector {b}: every budget must be > 0");
    }
    if a.sentences < 24 {
        bail!(
            "--sentences {}: at least 24 (queries, fit and database are split 1:2:9)",
            a.sentences
        );
    }
    if a.fit_pairs == 0 {
        bail!("--fit-pairs 0: at least 1 pair must be held out for fitting");
    }
    if a.queries == Some(0) {
        bail!("--queries 0: at least 1");
    }
    Ok(())
}

/// Evenly spaced subset of `idx` of at most `n`.
fn thin(idx: Vec<usize>, n: Option<usize>) -> Vec<usize> {
    match n {
        Some(n) if n < idx.len() => (0..n).map(|i| idx[i * idx.len() / n]).collect(),
        _ => idx,
    }
}

fn rows_of(x: &[f32], d: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
        .collect()
}

fn prepare(
    a: &EmbedEvalArgs,
    ds: Dataset,
    model: &Embedder,
    model_path: &Path,
    cache: &Path,
) -> Result<Prepared> {
    let d = model.dim();
    match ds {
        Dataset::Enwiki => {
            let path = a
                .text
                .clone()
                .unwrap_or_else(|| assets_dir().join("text/enwiki.txt"));
            let (s, split) = datasets::enwiki(&path, a.sentences)?;
            let (x, embed_s) = embed_cached(model, model_path, &s, cache, "enwiki", a.quiet)?;
            let q = thin(split.queries, a.queries);
            Ok(Prepared {
                dataset: ds,
                dim: d,
                train: rows_of(&x, d, &split.fit),
                base: rows_of(&x, d, &split.database),
                queries: rows_of(&x, d, &q),
                relevant: None,
                embed_s,
            })
        }
        Dataset::Bible => {
            let path = a
                .pairs
                .clone()
                .unwrap_or_else(|| assets_dir().join("bible/pairs.tsv"));
            let p = datasets::bible(&path, a.max_pairs)?;
            let n = p.refs.len();
            let (held, eval) = datasets::bible_split(n, a.fit_pairs);
            let (web, t1) = embed_cached(model, model_path, &p.web, cache, "bible-web", a.quiet)?;
            let (kjv, t2) = embed_cached(model, model_path, &p.kjv, cache, "bible-kjv", a.quiet)?;
            let mut train = rows_of(&kjv, d, &held);
            train.extend(rows_of(&web, d, &held));
            let qpos = thin((0..eval.len()).collect(), a.queries);
            let qidx: Vec<usize> = qpos.iter().map(|&t| eval[t]).collect();
            Ok(Prepared {
                dataset: ds,
                dim: d,
                train,
                base: rows_of(&kjv, d, &eval),
                queries: rows_of(&web, d, &qidx),
                relevant: Some(qpos.iter().map(|&t| t as u32).collect()),
                embed_s: t1 + t2,
            })
        }
    }
}

/// FNV-1a 64 over bytes.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// Embeds `sentences`, or reads them from the cache (keyed by the model's files and the
/// sentences); returns the vectors and the seconds spent embedding.
fn embed_cached(
    model: &Embedder,
    model_path: &Path,
    sentences: &[String],
    cache: &Path,
    name: &str,
    quiet: bool,
) -> Result<(Vec<f32>, f64)> {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        let p = model_path.join(f);
        if let Ok(meta) = std::fs::metadata(&p) {
            fnv(&mut h, &meta.len().to_le_bytes());
            // Weights: length plus the first MiB (the header names every tensor); only
            // that much is read.
            let mut head = Vec::new();
            if let Ok(f) = std::fs::File::open(&p) {
                use std::io::Read;
                f.take(1 << 20).read_to_end(&mut head).ok();
            }
            fnv(&mut h, &head);
        }
    }
    for s in sentences {
        fnv(&mut h, s.as_bytes());
        fnv(&mut h, b"\n");
    }
    let file = cache.join(format!(
        "{name}-{}x{}-{h:016x}.npy",
        sentences.len(),
        model.dim()
    ));
    if let Ok(t) = tensorjpeg_io::read_tensors(&file) {
        if let Some(v) = t.first().and_then(|t| t.values()) {
            if v.len() == sentences.len() * model.dim() && v.iter().all(|x| x.is_finite()) {
                return Ok((v.to_vec(), 0.0));
            }
        }
        eprintln!(
            "{}: stale or damaged cache entry, re-embedding",
            file.display()
        );
    }
    let t = Instant::now();
    let pb = progress(sentences.len(), quiet, &format!("embedding {name}"));
    let mut out = Vec::with_capacity(sentences.len() * model.dim());
    for chunk in sentences.chunks(256) {
        out.extend(model.embed(chunk)?);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let tensor = tensorjpeg::Tensor::from_f32(
        "embeddings",
        vec![sentences.len(), model.dim()],
        out.clone(),
    )?;
    tensorjpeg_io::write_tensors(&file, &[tensor])
        .with_context(|| format!("writing {}", file.display()))?;
    eprintln!(
        "embedded {} {name} sentences in {secs:.1} s ({:.0}/s) → {}",
        sentences.len(),
        sentences.len() as f64 / secs.max(1e-9),
        file.display()
    );
    Ok((out, secs))
}
