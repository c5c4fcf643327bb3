//! Embedding-collection codecs at equal bytes per vector, judged by retrieval on real
//! sentence embeddings (`tensorjpeg embed-eval`).
//!
//! | file | what |
//! |---|---|
//! | [`plan`] | the configuration, the datasets, a result row |
//! | [`datasets`] | the text sets (enwiki sentences, Bible verse pairs) and their fixed splits |
//! | [`families`] | codec families expanded over byte budgets |
//! | [`collection`] | a dataset embedded (cached) and split into fit / database / queries |
//! | [`measure`] | one codec on one split: retrieval, pair ranking, size, speed |
//! | [`jpeg_images`] | seed 000's JPEG images of embeddings, and its Table 3 |
//! | [`report`] | results.json / .csv, report.md, run.json, plots |

pub mod collection;
pub mod datasets;
pub mod families;
pub mod jpeg_images;
pub mod measure;
pub mod plan;
pub mod report;

use std::time::Instant;

use anyhow::{Context, Result};
use tensorjpeg::vectors::registry;
use tensorjpeg_models::bert::Embedder;

pub use plan::{Config, Dataset, Row, DEFAULT_BUDGETS, DEFAULT_CODECS};

use crate::Progress;
use measure::{evaluate, EvalOptions, Truth};

/// What a run measured and wrote.
pub struct Outcome {
    /// One row per dataset × codec point.
    pub rows: Vec<Row>,
    /// The JPEG-image measurements, when the `jpeg` family ran.
    pub jpeg_images: Option<jpeg_images::JpegImages>,
    /// Points skipped (a budget a family cannot meet, a codec that cannot run on a set).
    pub skipped: Vec<String>,
}

/// Runs the evaluation and writes every output file into `a.out`.
pub fn run(a: &Config, progress: &dyn Progress) -> Result<Outcome> {
    a.check()?;
    let t0 = Instant::now();
    let model_path = a.model.clone().unwrap_or_else(|| a.assets.join("minilm"));
    let model = Embedder::load(&model_path, &Default::default())
        .with_context(|| format!("loading {}", model_path.display()))?;
    crate::report::create_dir(&a.out)?;
    let cache = a.cache.clone().unwrap_or_else(|| a.out.join("embeddings"));
    let (plan, mut skipped) = families::expand(&a.codecs, &a.bytes_per_vector, model.dim())?;
    for s in &skipped {
        progress.note(&format!("skipped: {s}"));
    }
    let opts = EvalOptions {
        pairs: a.spearman_pairs,
        latency_queries: a.latency_queries,
        ..EvalOptions::default()
    };
    let mut rows = Vec::new();
    let mut prepared_sets = Vec::new();
    for &ds in &a.datasets {
        let p = collection::prepare(a, ds, &model, &model_path, &cache, progress)?;
        if a.export_splits {
            let dir = a.out.join("splits");
            crate::report::create_dir(&dir)?;
            p.export(&dir)?;
        }
        let split = p.split();
        let truth = Truth::new(&split, &opts)?;
        progress.phase(ds.name(), plan.len());
        for planned in &plan {
            progress.message(&planned.spec);
            let codec = registry::parse(&planned.spec)?;
            progress.advance(1);
            // A codec that cannot run on this set (e.g. PQ with fewer fit vectors than
            // centroids) is reported and skipped; the others still run.
            let m = match evaluate(codec.as_ref(), &split, &truth, &opts) {
                Ok(m) => m,
                Err(e) => {
                    let msg = format!("{} on {}: {e}", planned.spec, ds.name());
                    progress.note(&format!("skipped: {msg}"));
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
        progress.finish();
        prepared_sets.push(p);
    }
    let jpeg_images = if a.wants_jpeg_images() {
        let base = prepared_sets
            .first()
            .map(|p| (p.dataset.name(), &p.base[..], p.dim));
        Some(jpeg_images::measure(&model, base)?)
    } else {
        None
    };
    let ctx = plan::Context {
        command: a.command.clone(),
        model: model_path.display().to_string(),
        skipped: skipped.clone(),
        embed_s: prepared_sets
            .iter()
            .map(|p| (p.dataset.name(), p.embed_s))
            .collect(),
        total_s: t0.elapsed().as_secs_f64(),
    };
    report::write(&a.out, &ctx, &rows, jpeg_images.as_ref())?;
    Ok(Outcome {
        rows,
        jpeg_images,
        skipped,
    })
}
