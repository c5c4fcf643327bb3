//! `embed-eval`'s outputs: results.json (one row per dataset × codec), results.csv (the
//! same columns), report.md (all rows, the equal-bytes comparison, search speed),
//! seed000.md/.json (seed 000 reproduced), run.json, and plots of recall against bytes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};
use tensorjpeg::vectors::eval::dot;
use tensorjpeg::vectors::registry::{self, SEED_QUALITIES};
use tensorjpeg_models::bert::Embedder;

use super::embed_eval::Row;
use super::{csv, num, write_atomic};
use tensorjpeg_eval::report::plot::{quality_vs_bytes, Series};
use tensorjpeg_eval::report::table::{f, render};

/// Run facts for run.json and the report header.
pub struct Context {
    /// The command line.
    pub command: String,
    /// Model path.
    pub model: String,
    /// Budgets a family could not meet.
    pub skipped: Vec<String>,
    /// Seconds spent embedding, per dataset.
    pub embed_s: Vec<(&'static str, f64)>,
    /// Wall-clock seconds of the whole run.
    pub total_s: f64,
}

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
pub fn write(out: &Path, ctx: &Context, rows: &[Row], seed: Option<&Seed000>) -> Result<()> {
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

/// Seed 000 reproduced: per-vector and whole-collection JPEG at the seed's qualities, and
/// its Table 3.
pub struct Seed000 {
    /// seed000.md.
    pub markdown: String,
    /// seed000.json.
    pub json: Value,
}

/// Seed 000's Table 3: sentence pairs, and its similarities (original, JPEG 50 %, 5 %).
const TABLE3: [(&str, &str, [f64; 3]); 4] = [
    (
        "AI is transforming the world.",
        "Machine learning is changing technology.",
        [0.5866, 0.8309, 1.0000],
    ),
    (
        "The sun rises in the east.",
        "The moon orbits around the Earth.",
        [0.4352, 0.7894, 0.9935],
    ),
    (
        "Programming requires logical thinking.",
        "Mathematics helps in algorithm design.",
        [0.6724, 0.8546, 1.0000],
    ),
    (
        "Exercise improves health.",
        "A balanced diet is essential for well-being.",
        [0.5921, 0.8392, 1.0000],
    ),
];

/// A plain-text table inside a Markdown code fence.
fn fenced(t: String) -> String {
    format!("```\n{t}```\n")
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    f64::from(dot(a, b)) / (f64::from(dot(a, a)) * f64::from(dot(b, b))).sqrt()
}

/// Encodes `x` (`n × d`) with a JPEG vector codec and decodes every vector.
fn jpeg_round_trip(spec: &str, x: &[f32], d: usize) -> Result<(Vec<f32>, f64, f64)> {
    let ix = registry::parse(spec)?.fit_encode(x, x, d)?;
    let n = ix.len();
    let mut out = vec![0.0f32; n * d];
    for (i, o) in out.chunks_exact_mut(d).enumerate() {
        ix.decode(i, o)?;
    }
    Ok((
        out,
        ix.bytes_per_vector(),
        (ix.total_bytes() - ix.side_bytes()) as f64 / n as f64,
    ))
}

/// Runs seed 000's measurements: on `collection` (the first dataset's database) and on
/// the seed's Table 3 pairs.
pub fn seed000(model: &Embedder, collection: Option<(&str, &[f32], usize)>) -> Result<Seed000> {
    let mut md = String::from(
        "# Seed 000 reproduced: JPEG on sentence embeddings\n\nall-MiniLM-L6-v2 embeddings \
         (384 values, 1,536 bytes as float32). The seed's method: each vector min–max \
         normalised to 8 bits with numpy's truncating cast, reshaped to a 2 × 192 grayscale \
         image, baseline JPEG (IJG quality scaling, standard Huffman tables), decoded back. \
         `headers` are the JPEG file's own bytes (SOI … SOS, EOI: 330 per file); the \
         per-vector layout also stores min and max (8 bytes).\n",
    );
    let mut js = json!({});
    if let Some((name, x, d)) = collection {
        let n = x.len() / d;
        let f32b = 4.0 * d as f64;
        let mut t = Vec::new();
        let mut jrows = Vec::new();
        for q in SEED_QUALITIES {
            for (layout, spec) in [
                ("per vector (2×192)", format!("jpeg:trunc:q={q}")),
                (
                    "collection as one image",
                    format!("jpeg:matrix:trunc:q={q}"),
                ),
            ] {
                let (dec, all, nohdr) = jpeg_round_trip(&spec, x, d)?;
                let cos: Vec<f64> = dec
                    .chunks_exact(d)
                    .zip(x.chunks_exact(d))
                    .map(|(a, b)| cosine(a, b))
                    .collect();
                let mean = cos.iter().sum::<f64>() / n as f64;
                let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
                t.push(vec![
                    q.to_string(),
                    layout.to_string(),
                    f(mean, 5),
                    f(min, 5),
                    f(all, 1),
                    f(nohdr, 1),
                    f(f32b / all, 2),
                    f(f32b / nohdr, 2),
                ]);
                jrows.push(json!({
                    "quality": q, "layout": layout, "spec": spec,
                    "cosine_mean": num(mean), "cosine_min": num(min),
                    "bytes_per_vector": num(all), "bytes_per_vector_no_headers": num(nohdr),
                    "ratio_vs_f32": num(f32b / all), "ratio_vs_f32_no_headers": num(f32b / nohdr),
                }));
            }
        }
        md += &format!("\n## Cosine to the original and bytes ({name}, {n} vectors)\n\n");
        md += &fenced(render(
            &[
                "quality",
                "layout",
                "cos mean",
                "cos min",
                "B/vec",
                "B/vec w/o headers",
                "ratio",
                "ratio w/o headers",
            ],
            &t,
        ));
        js["collection"] = json!({"dataset": name, "vectors": n, "rows": jrows});
    }
    // Table 3.
    let sentences: Vec<String> = TABLE3
        .iter()
        .flat_map(|(a, b, _)| [a.to_string(), b.to_string()])
        .collect();
    let e = model.embed(&sentences)?;
    let d = model.dim();
    let mut t = Vec::new();
    let mut jrows = Vec::new();
    let coded: Vec<(u8, Vec<f32>)> = [50u8, 5]
        .iter()
        .map(|&q| Ok((q, jpeg_round_trip(&format!("jpeg:trunc:q={q}"), &e, d)?.0)))
        .collect::<Result<_>>()?;
    for (i, (a, b, seed)) in TABLE3.iter().enumerate() {
        let v = |x: &[f32], j: usize| x[j * d..(j + 1) * d].to_vec();
        let (ea, eb) = (v(&e, 2 * i), v(&e, 2 * i + 1));
        let orig = cosine(&ea, &eb);
        // The pair stacked into one 2 × 384 image (the two rows share every 8 × 8 block).
        let mut stacked = ea.clone();
        stacked.extend_from_slice(&eb);
        let pair_img: Vec<f64> = [50u8, 5]
            .iter()
            .map(|q| {
                let (c, _, _) = jpeg_round_trip(&format!("jpeg:matrix:trunc:q={q}"), &stacked, d)?;
                Ok(cosine(&c[..d], &c[d..]))
            })
            .collect::<Result<_>>()?;
        let ours: Vec<f64> = coded
            .iter()
            .map(|(_, c)| cosine(&v(c, 2 * i), &v(c, 2 * i + 1)))
            .collect();
        t.push(vec![
            format!("{a} / {b}"),
            format!("{} ({})", f(orig, 4), f(seed[0], 4)),
            f(ours[0], 4),
            f(ours[1], 4),
            format!("{} ({})", f(pair_img[0], 4), f(seed[1], 4)),
            format!("{} ({})", f(pair_img[1], 4), f(seed[2], 4)),
        ]);
        jrows.push(json!({
            "sentence_1": a, "sentence_2": b,
            "original": num(orig), "jpeg_50": num(ours[0]), "jpeg_5": num(ours[1]),
            "pair_image_jpeg_50": num(pair_img[0]), "pair_image_jpeg_5": num(pair_img[1]),
            "seed_original": seed[0], "seed_jpeg_50": seed[1], "seed_jpeg_5": seed[2],
        }));
    }
    md += "\n## Table 3: pair similarity after JPEG (the seed's figures in brackets)\n\n\
           `original`: cosine of the two float32 embeddings. `own image`: each vector JPEG'd \
           as its own 2 × 192 image (the storage method), cosine of the decoded pair. \
           `pair image`: the two vectors stacked into one 2 × 384 image (min–max over both), \
           JPEG'd together, cosine of the two decoded rows — this reproduces the seed's \
           columns: every 8 × 8 block spans both rows, so JPEG averages the two sentences \
           into each other and their similarity rises to 1 as quality falls. It measures \
           the blur, not preserved meaning.\n\n";
    md += &fenced(render(
        &[
            "pair",
            "original",
            "own image 50 %",
            "own image 5 %",
            "pair image 50 %",
            "pair image 5 %",
        ],
        &t,
    ));
    js["table3"] = json!(jrows);
    Ok(Seed000 {
        markdown: md,
        json: js,
    })
}
