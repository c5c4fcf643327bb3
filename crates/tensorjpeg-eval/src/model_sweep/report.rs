//! The model sweep's report: results.json / .csv, report.md, plots of the model metric
//! against bits per weight (one line per codec).

use anyhow::Result;
use serde_json::Value;

use super::{Config, ModelKind, Row};
use crate::report::plot::{log_x, Series};
use crate::report::table::{self, f};
use crate::report::{csv, write_atomic};

const COLUMNS: [&str; 15] = [
    "model",
    "codec",
    "rate",
    "allocation",
    "bits_per_weight",
    "bits_per_weight_matrices",
    "snr_db",
    "embedding_cosine",
    "neighbour_recall_at_10",
    "perplexity",
    "perplexity_rise",
    "kl",
    "top1_agreement",
    "compress_s",
    "kept_tensors",
];

fn opt(v: Option<f64>, d: usize) -> String {
    v.map_or_else(|| "—".into(), |v| f(v, d))
}

/// The rows as a plain-text table (the model's own metrics only).
pub fn table(rows: &[Row]) -> String {
    let lm = rows.iter().any(|r| r.metrics.perplexity.is_some());
    let mut head = vec![
        "codec",
        "rate",
        "bits/weight",
        "bits/matrix value",
        "SNR dB",
    ];
    if lm {
        head.extend(["perplexity", "rise", "KL nats", "top-1"]);
    } else {
        head.extend(["emb. cosine", "recall@10"]);
    }
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let m = &r.metrics;
            let mut v = vec![
                r.codec.clone(),
                r.rate.clone(),
                f(r.bits_per_weight, 3),
                f(r.bits_per_weight_matrices, 3),
                f(r.snr_db, 2),
            ];
            if lm {
                v.extend([
                    opt(m.perplexity, 3),
                    opt(m.perplexity_rise.map(|x| 100.0 * x), 2) + " %",
                    opt(m.kl, 4),
                    opt(m.top1_agreement, 4),
                ]);
            } else {
                v.extend([opt(m.embedding_cosine, 5), opt(m.neighbour_recall_at_10, 4)]);
            }
            v
        })
        .collect();
    table::render(&head, &t)
}

/// A model metric of a row, if it has one.
type Metric = Box<dyn Fn(&Row) -> Option<f64>>;

/// One series per codec label of `metric` against bits per weight.
fn series(rows: &[Row], metric: impl Fn(&Row) -> Option<f64>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in rows.iter().filter(|r| r.codec != "original") {
        let Some(y) = metric(r) else { continue };
        let p = (r.bits_per_weight, y);
        match out.iter_mut().find(|s| s.label == r.codec) {
            Some(s) => s.points.push(p),
            None => out.push(Series {
                label: r.codec.clone(),
                points: vec![p],
            }),
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Writes everything into `cfg.out`.
pub fn write(
    cfg: &Config,
    kind: ModelKind,
    rows: &[Row],
    skipped: &[(String, String)],
) -> Result<()> {
    let json_rows: Vec<Value> = rows.iter().map(Row::to_json).collect();
    write_atomic(
        &cfg.out.join("results.json"),
        serde_json::to_string_pretty(&json_rows)?.as_bytes(),
    )?;
    write_atomic(
        &cfg.out.join("results.csv"),
        csv(&COLUMNS, &json_rows).as_bytes(),
    )?;
    let x = "all-in bits per weight, every tensor (log scale)";
    let plots: Vec<(&str, &str, &str, Metric)> = match kind {
        ModelKind::Embedder => vec![
            (
                "cosine.png",
                "Embedding cosine to the original model",
                "mean cosine",
                Box::new(|r: &Row| r.metrics.embedding_cosine),
            ),
            (
                "recall.png",
                "Neighbour recall@10 against the original model",
                "recall@10",
                Box::new(|r: &Row| r.metrics.neighbour_recall_at_10),
            ),
        ],
        ModelKind::LanguageModel => vec![
            (
                "perplexity.png",
                "Perplexity rise over the original file",
                "perplexity rise, %",
                Box::new(|r: &Row| r.metrics.perplexity_rise.map(|v| 100.0 * v)),
            ),
            (
                "kl.png",
                "KL(original ‖ compressed) per token",
                "KL, nats",
                Box::new(|r: &Row| r.metrics.kl),
            ),
        ],
    };
    let mut names = Vec::new();
    for (file, title, y, metric) in &plots {
        log_x(&cfg.out.join(file), title, (x, y), &series(rows, metric))?;
        names.push(*file);
    }
    let what = match kind {
        ModelKind::Embedder => format!(
            "{} enwiki sentences embedded by the compressed and the original model",
            cfg.sentences
        ),
        ModelKind::LanguageModel => format!(
            "the first {} tokens of {}, windows of {} every {}, original file scored by the \
             same runtime",
            cfg.tokens,
            cfg.text.display(),
            cfg.window.ctx,
            cfg.window.stride
        ),
    };
    let mut md = format!(
        "# Model sweep: {}\n\nEvery tensor of the file stored by the plan (1-D tensors exact), \
         the container loaded by the runtime; {what}.\n\n```text\n{}```\n",
        cfg.model.display(),
        table(rows)
    );
    if !skipped.is_empty() {
        md += "\nSkipped:\n";
        for (p, why) in skipped {
            md += &format!("- {p}: {why}\n");
        }
    }
    md += &format!(
        "\nPlots: {}. Rows: results.json / results.csv.\n",
        names.join(", ")
    );
    write_atomic(&cfg.out.join("report.md"), md.as_bytes())
}
