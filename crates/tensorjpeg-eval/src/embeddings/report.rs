//! `embed-eval`'s outputs: results.json (one row per dataset × codec), results.csv (the
//! same columns), report.md (all rows, the equal-bytes comparison, search speed),
//! seed000.md/.json (seed 000 reproduced), run.json, and plots of recall against bytes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use super::jpeg_images::JpegImages;
use super::plan::{Context, Row};
use crate::report::plot::{quality_vs_bytes, Series};
use crate::report::table::{f, fenced, render};
use crate::report::{csv, num, write_atomic};

/// Columns of results.json rows that results.csv carries.
const CSV_COLUMNS: [&str; 24] = [
    "dataset",
    "codec",
    "family",
    "budget",
    "bytes_per_vector",
    "side_bytes_per_vector",
    "code_bytes_per_vector",
    "ratio_vs_f32",
    "recall_at_1",
    "recall_at_10",
    "mrr",
    "neighbour_recall_at_10",
    "recall_vs_exhaustive_at_10",
    "spearman",
    "cosine_mean",
    "cosine_min",
    "queries_per_s",
    "speedup_vs_float32",
    "batch_queries_per_s",
    "batch_speedup_vs_float32",
    "fit_encode_s",
    "database",
    "queries",
    "fit",
];

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, num)
}

/// The float32 row of a dataset (the speed peer), if it was run.
fn float32_of<'a>(rows: &'a [Row], ds: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.dataset == ds && r.planned.spec == "float32")
}

fn row_json(r: &Row, rows: &[Row]) -> Value {
    let m = &r.m;
    let peer = float32_of(rows, r.dataset);
    let dim_bytes = peer.map(|p| p.m.bytes_per_vector);
    let extra: serde_json::Map<String, Value> =
        m.report.iter().map(|(k, v)| (k.clone(), num(*v))).collect();
    json!({
        "dataset": r.dataset,
        "codec": r.planned.spec,
        "family": r.planned.family,
        "budget": opt(r.planned.budget),
        "bytes_per_vector": num(m.bytes_per_vector),
        "side_bytes_per_vector": num(m.side_bytes_per_vector),
        "code_bytes_per_vector": num(m.bytes_per_vector - m.side_bytes_per_vector),
        "ratio_vs_f32": opt(dim_bytes.map(|b| b / m.bytes_per_vector)),
        "recall_at_1": opt(m.recall_at_1),
        "recall_at_10": opt(m.recall_at_10),
        "mrr": opt(m.mrr),
        "neighbour_recall_at_10": num(m.neighbour_recall_at_10),
        "recall_vs_exhaustive_at_10": opt(m.recall_vs_exhaustive_at_10),
        "spearman": num(m.spearman),
        "cosine_mean": num(m.cosine_mean),
        "cosine_min": num(m.cosine_min),
        "queries_per_s": num(m.queries_per_s),
        "speedup_vs_float32": opt(peer.map(|p| m.queries_per_s / p.m.queries_per_s)),
        "batch_queries_per_s": num(m.batch_queries_per_s),
        "batch_speedup_vs_float32": opt(peer.map(|p| m.batch_queries_per_s / p.m.batch_queries_per_s)),
        "fit_encode_s": num(m.fit_encode_s),
        "database": r.sizes.0,
        "queries": r.sizes.1,
        "fit": r.sizes.2,
        "codec_report": extra,
    })
}

/// The headline measure of a dataset: recall@1 with relevance labels, else neighbour
/// recall@10.
fn headline(r: &Row) -> f64 {
    r.m.recall_at_1.unwrap_or(r.m.neighbour_recall_at_10)
}

fn headline_name(ds: &str, rows: &[Row]) -> &'static str {
    if rows
        .iter()
        .any(|r| r.dataset == ds && r.m.recall_at_1.is_some())
    {
        "recall@1"
    } else {
        "neighbour recall@10"
    }
}

fn is_native(r: &Row) -> bool {
    r.planned.family.starts_with("klt")
}

/// Per budget: the best KLT row within it (all-in bytes) against the best baseline whose
/// *code* bytes fit (side information free for the baselines: the conservative
/// comparison) and whose all-in bytes fit.
fn equal_bytes(ds: &str, rows: &[Row]) -> Vec<Value> {
    let mut budgets: Vec<f64> = rows
        .iter()
        .filter(|r| r.dataset == ds && is_native(r))
        .filter_map(|r| r.planned.budget)
        .collect();
    budgets.sort_by(f64::total_cmp);
    budgets.dedup();
    let best = |it: &mut dyn Iterator<Item = &Row>| -> Option<(String, f64, f64)> {
        it.map(|r| (r.planned.spec.clone(), headline(r), r.m.bytes_per_vector))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    let rows_ds: Vec<&Row> = rows
        .iter()
        .filter(|r| r.dataset == ds && r.planned.spec != "float32")
        .collect();
    budgets
        .iter()
        .map(|&b| {
            let eps = 1e-9;
            let native = best(
                &mut rows_ds
                    .iter()
                    .copied()
                    .filter(|r| is_native(r) && r.m.bytes_per_vector <= b + eps),
            );
            let by_code = best(&mut rows_ds.iter().copied().filter(|r| {
                !is_native(r) && r.m.bytes_per_vector - r.m.side_bytes_per_vector <= b + eps
            }));
            let by_all = best(
                &mut rows_ds
                    .iter()
                    .copied()
                    .filter(|r| !is_native(r) && r.m.bytes_per_vector <= b + eps),
            );
            let cell = |x: &Option<(String, f64, f64)>| match x {
                Some((s, v, bytes)) => {
                    json!({"codec": s, "value": num(*v), "bytes_per_vector": num(*bytes)})
                }
                None => Value::Null,
            };
            let margin = |x: &Option<(String, f64, f64)>| match (&native, x) {
                (Some(n), Some(o)) => num(n.1 - o.1),
                (Some(_), None) => Value::Null,
                _ => Value::Null,
            };
            json!({
                "budget": b,
                "native": cell(&native),
                "best_baseline_code_bytes": cell(&by_code),
                "best_baseline_all_in": cell(&by_all),
                "margin_code_bytes": margin(&by_code),
                "margin_all_in": margin(&by_all),
            })
        })
        .collect()
}

/// Writes every output file.
pub fn write(out: &Path, ctx: &Context, rows: &[Row], seed: Option<&JpegImages>) -> Result<()> {
    let json_rows: Vec<Value> = rows.iter().map(|r| row_json(r, rows)).collect();
    write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(&json_rows)?.as_bytes(),
    )?;
    write_atomic(
        &out.join("results.csv"),
        csv(&CSV_COLUMNS, &json_rows).as_bytes(),
    )?;
    let mut datasets: Vec<&'static str> = rows.iter().map(|r| r.dataset).collect();
    datasets.dedup();
    let comparisons: BTreeMap<&str, Vec<Value>> = datasets
        .iter()
        .map(|&d| (d, equal_bytes(d, rows)))
        .collect();
    let run = json!({
        "command": ctx.command,
        "model": ctx.model,
        "skipped": ctx.skipped,
        "embed_s": ctx.embed_s.iter().map(|(d, s)| json!({"dataset": d, "seconds": num(*s)})).collect::<Vec<_>>(),
        "total_s": num(ctx.total_s),
        "threads": rayon::current_num_threads(),
        "equal_bytes": comparisons,
    });
    write_atomic(
        &out.join("run.json"),
        serde_json::to_string_pretty(&run)?.as_bytes(),
    )?;
    let mut md = format!(
        "# embed-eval\n\n`{}`\n\nModel {}; {} threads; total {:.0} s.\n",
        ctx.command,
        ctx.model,
        rayon::current_num_threads(),
        ctx.total_s
    );
    for &ds in &datasets {
        md += &dataset_section(ds, rows, &comparisons[ds]);
        plots(out, ds, rows)?;
    }
    if !ctx.skipped.is_empty() {
        md += "\n## Skipped\n\n";
        for s in &ctx.skipped {
            md += &format!("- {s}\n");
        }
    }
    md += "\n## Files\n\n- results.json / results.csv: one row per dataset × codec\n\
            - run.json: command, timings, the equal-bytes comparison\n\
            - DATASET-recall_at_1.png, DATASET-recall_at_10.png (relevance sets), \
            DATASET-neighbour_recall_at_10.png: against all-in bytes per vector\n\
            - seed000.md / seed000.json: seed 000 reproduced (with the `jpeg` family)\n";
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    if let Some(s) = seed {
        write_atomic(&out.join("seed000.md"), s.markdown.as_bytes())?;
        write_atomic(
            &out.join("seed000.json"),
            serde_json::to_string_pretty(&s.json)?.as_bytes(),
        )?;
    }
    Ok(())
}

fn dataset_section(ds: &str, rows: &[Row], cmp: &[Value]) -> String {
    let rs: Vec<&Row> = rows.iter().filter(|r| r.dataset == ds).collect();
    let Some(first) = rs.first() else {
        return String::new();
    };
    let (nb, nq, nf) = first.sizes;
    let mut md = format!(
        "\n## {ds}: {nb} database vectors, {nq} queries, {nf} fit vectors\n\n\
         Bytes are all-in (side information amortised over the {nb} vectors); `side` is \
         that side information (codebooks, basis, ranges, JPEG headers). Speed: single \
         queries on one thread, and 1,000 queries on all threads; ×f32 against float32 brute \
         force in the same run.\n\n"
    );
    let peer = float32_of(rows, ds);
    let o = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |x| f(x, d));
    let header = [
        "codec",
        "B/vec",
        "side",
        "R@1",
        "R@10",
        "MRR",
        "nR@10",
        "vs exh.",
        "Spearman",
        "cos mean",
        "q/s",
        "×f32",
        "batch q/s",
        "×f32",
    ];
    let table: Vec<Vec<String>> = rs
        .iter()
        .map(|r| {
            let m = &r.m;
            vec![
                r.planned.spec.clone(),
                f(m.bytes_per_vector, 1),
                f(m.side_bytes_per_vector, 1),
                o(m.recall_at_1, 3),
                o(m.recall_at_10, 3),
                o(m.mrr, 3),
                f(m.neighbour_recall_at_10, 3),
                o(m.recall_vs_exhaustive_at_10, 3),
                f(m.spearman, 4),
                f(m.cosine_mean, 4),
                f(m.queries_per_s, 0),
                o(peer.map(|p| m.queries_per_s / p.m.queries_per_s), 2),
                f(m.batch_queries_per_s, 0),
                o(
                    peer.map(|p| m.batch_queries_per_s / p.m.batch_queries_per_s),
                    2,
                ),
            ]
        })
        .collect();
    md += &fenced(render(&header, &table));
    let what = headline_name(ds, rows);
    md += &format!(
        "\n### Equal bytes ({what})\n\nPer budget: the best KLT row within it (all-in), the \
         best baseline whose per-vector codes fit (its side information not counted — the \
         comparison most favourable to the baselines) and whose all-in bytes fit.\n\n"
    );
    let cell = |v: &Value| {
        if v.is_null() {
            "–".to_string()
        } else {
            format!(
                "{} {} ({} B)",
                v["codec"].as_str().unwrap_or(""),
                v["value"].as_f64().map_or("–".into(), |x| f(x, 3)),
                v["bytes_per_vector"]
                    .as_f64()
                    .map_or("–".into(), |x| f(x, 1))
            )
        }
    };
    let m = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:+.3}"));
    let t: Vec<Vec<String>> = cmp
        .iter()
        .map(|c| {
            vec![
                f(c["budget"].as_f64().unwrap_or(f64::NAN), 0),
                cell(&c["native"]),
                cell(&c["best_baseline_code_bytes"]),
                m(&c["margin_code_bytes"]),
                cell(&c["best_baseline_all_in"]),
                m(&c["margin_all_in"]),
            ]
        })
        .collect();
    md += &fenced(render(
        &[
            "budget",
            "KLT",
            "best baseline (codes ≤ budget)",
            "margin",
            "best baseline (all-in ≤ budget)",
            "margin",
        ],
        &t,
    ));
    md
}

/// A measure of a row, for a plot's y axis.
type Measure = Box<dyn Fn(&Row) -> Option<f64>>;

fn plots(out: &Path, ds: &str, rows: &[Row]) -> Result<()> {
    let rs: Vec<&Row> = rows.iter().filter(|r| r.dataset == ds).collect();
    let mut fams: Vec<&str> = Vec::new();
    for r in &rs {
        if !fams.contains(&r.planned.family.as_str()) {
            fams.push(&r.planned.family);
        }
    }
    let series = |y: &dyn Fn(&Row) -> Option<f64>| -> Vec<Series> {
        fams.iter()
            .map(|fam| Series {
                label: fam.to_string(),
                points: rs
                    .iter()
                    .filter(|r| r.planned.family == *fam)
                    .filter_map(|r| Some((r.m.bytes_per_vector, y(r)?)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut figs: Vec<(&str, &str, Measure)> = vec![(
        "neighbour_recall_at_10",
        "neighbour recall@10 (vs float32 top-10)",
        Box::new(|r: &Row| Some(r.m.neighbour_recall_at_10)),
    )];
    if rs.iter().any(|r| r.m.recall_at_1.is_some()) {
        figs.push((
            "recall_at_1",
            "recall@1",
            Box::new(|r: &Row| r.m.recall_at_1),
        ));
        figs.push((
            "recall_at_10",
            "recall@10",
            Box::new(|r: &Row| r.m.recall_at_10),
        ));
    }
    for (file, label, y) in figs {
        let s = series(y.as_ref());
        quality_vs_bytes(
            &out.join(format!("{ds}-{file}.png")),
            &format!("{ds}: {label} vs bytes per vector"),
            label,
            &s,
        )?;
    }
    Ok(())
}

/// A short console summary: the equal-bytes comparison and the fastest searches.
pub fn summary(rows: &[Row]) -> String {
    let mut s = String::new();
    let mut datasets: Vec<&str> = rows.iter().map(|r| r.dataset).collect();
    datasets.dedup();
    for ds in datasets {
        let what = headline_name(ds, rows);
        for c in equal_bytes(ds, rows) {
            let v = |x: &Value| x["value"].as_f64().unwrap_or(f64::NAN);
            s += &format!(
                "{ds} {:>4} B: klt {what} {:.3}  best baseline (codes ≤ budget) {} {:.3}\n",
                c["budget"],
                v(&c["native"]),
                c["best_baseline_code_bytes"]["codec"]
                    .as_str()
                    .unwrap_or("–"),
                v(&c["best_baseline_code_bytes"]),
            );
        }
    }
    s
}
