//! `tensorjpeg sweep`: rate–distortion over codecs and rates, every point compressed,
//! decompressed and measured in the same run.
//!
//! `--codecs` is a comma-separated list of `SPEC[@RATES]`, RATES being `bits=2/3/4`,
//! `q=95/75`, `snr=20/30` or `maxerr=1e-3/1e-2`. Without `@`, each codec gets its default
//! points (native: bits 2..6; jpeg: quality 100/95/90/75/50; svd: bits 1/2/4/8; the fixed-rate
//! formats: one point).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use tensorjpeg::metrics::{compare, Stats};
use tensorjpeg::pipeline::{compress_with, Options};
use tensorjpeg::{Rate, Tensor};

use super::{num, progress, read_tensors, stats_json, write_atomic};
use crate::plot::{rate_distortion, Series};
use crate::select::Selection;
use crate::table::{self, f};
use crate::SelectArgs;

/// Arguments of `sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Input tensor file.
    pub input: PathBuf,
    /// Codecs and rates: SPEC[@bits=..|@q=..|@snr=..|@maxerr=..], comma-separated.
    #[arg(long, default_value = "native,jpeg:tworow@q=95/75,q8_0,q4_0,f16")]
    pub codecs: String,
    /// Output directory for sweep.csv, sweep.json, sweep.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Only tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Skip tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Only tensors with at least this many dimensions (default 2: weight matrices).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub min_ndim: usize,
    /// No progress bar; print the JSON rows instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One point to measure.
#[derive(Debug, Clone)]
struct Point {
    spec: String,
    rate: Rate,
    label: String,
}

fn default_rates(spec: &str) -> Vec<Rate> {
    let name = spec.split(':').next().unwrap_or("");
    match name {
        "native" => [2.0, 3.0, 4.0, 5.0, 6.0].map(Rate::Bits).to_vec(),
        "jpeg" => [100, 95, 90, 75, 50].map(Rate::Quality).to_vec(),
        "svd" => [1.0, 2.0, 4.0, 8.0].map(Rate::Bits).to_vec(),
        _ => vec![Rate::Default],
    }
}

fn parse_rates(s: &str) -> Result<Vec<Rate>> {
    let (k, vals) = s.split_once('=').with_context(|| {
        format!("rate list '{s}': expected bits=..., q=..., snr=... or maxerr=...")
    })?;
    vals.split('/')
        .map(|v| Rate::parse(&format!("{k}={v}")).with_context(|| format!("rate list '{s}'")))
        .collect()
}

fn parse_points(list: &str) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (spec, rates) = match item.split_once('@') {
            Some((s, r)) => (s.trim().to_string(), parse_rates(r)?),
            None => (item.to_string(), default_rates(item)),
        };
        for rate in rates {
            rate.validate().with_context(|| format!("codec '{spec}'"))?;
            out.push(Point {
                label: rate.label(),
                spec: spec.clone(),
                rate,
            });
        }
    }
    if out.is_empty() {
        bail!("--codecs is empty");
    }
    Ok(out)
}

/// Measures one point; returns the row.
fn measure(tensors: &[Tensor], p: &Point, registry: &tensorjpeg::Registry) -> Result<Value> {
    let t0 = Instant::now();
    let opts = Options {
        codec: p.spec.clone(),
        rate: p.rate,
    };
    let out = compress_with(tensors, &opts, registry, &|_| true, &|_| {})
        .with_context(|| format!("codec {} at {}", p.spec, p.label))?;
    let enc_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let back = tensorjpeg::decompress_with(&out.bytes, registry)
        .with_context(|| format!("decoding {} at {}", p.spec, p.label))?;
    let dec_s = t1.elapsed().as_secs_f64();
    let mut total = Stats::default();
    let mut extra: BTreeMap<String, f64> = BTreeMap::new();
    for ((t, b), r) in tensors.iter().zip(&back).zip(&out.report.tensors) {
        let (Some(a), Some(bv)) = (t.values(), b.values()) else {
            continue;
        };
        let mut s = compare(a, bv, t.matrix_dims().1);
        s.bytes = r.stored_bytes as u64;
        s.source_bytes = t.source_bytes();
        total.merge(&s);
        for (k, v) in &r.stats {
            if k.ends_with("bytes") || k == "jpeg_images" {
                *extra.entry(k.clone()).or_default() += v;
            }
        }
    }
    // The container's fixed header belongs to the total too.
    let entries: u64 = out
        .report
        .tensors
        .iter()
        .map(|r| r.stored_bytes as u64)
        .sum();
    total.bytes += out.bytes.len() as u64 - entries;
    let mb = total.count as f64 * 4.0 / 1e6;
    let mut row = stats_json(&total);
    row["codec"] = json!(p.spec);
    row["rate"] = json!(p.label);
    row["encode_mb_per_s"] = num(mb / enc_s);
    row["decode_mb_per_s"] = num(mb / dec_s);
    if let Some(&scan) = extra.get("jpeg_scan_bytes") {
        // Seeds' JPEGs judged without their headers: entropy-coded scan data + min/max only.
        let minmax = extra.get("minmax_bytes").copied().unwrap_or(0.0);
        row["bits_per_value_scan_only"] = num((scan + minmax) * 8.0 / total.count as f64);
        row["jpeg_header_bytes"] = num(extra.get("jpeg_header_bytes").copied().unwrap_or(0.0));
        row["jpeg_images"] = num(extra.get("jpeg_images").copied().unwrap_or(0.0));
    }
    Ok(row)
}

/// Runs the command.
pub fn run(a: &SweepArgs) -> Result<()> {
    let sel = Selection::new(&SelectArgs {
        include: a.include.clone(),
        exclude: a.exclude.clone(),
        min_ndim: a.min_ndim,
    })?;
    let points = parse_points(&a.codecs)?;
    let registry = tensorjpeg_io::registry();
    for p in &points {
        registry
            .build(&p.spec)
            .with_context(|| format!("--codecs: '{}'", p.spec))?;
    }
    let tensors: Vec<Tensor> = read_tensors(&a.input)?
        .into_iter()
        .filter(|t| sel.selects(t))
        .collect();
    if tensors.is_empty() {
        bail!(
            "{}: no float tensor matches the selection",
            a.input.display()
        );
    }
    let values: usize = tensors.iter().map(Tensor::numel).sum();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let pb = progress(points.len(), a.json, "sweep");
    let mut rows = Vec::new();
    for p in &points {
        pb.set_message(format!("{} {}", p.spec, p.label));
        let mut row = measure(&tensors, p, &registry)?;
        row["tensors"] = json!(tensors.len());
        rows.push(row);
        pb.inc(1);
    }
    pb.finish_and_clear();
    write_outputs(&a.out, &a.input, &rows, values)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let t: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let g = |k: &str| r[k].as_f64().unwrap_or(f64::INFINITY);
                vec![
                    r["codec"].as_str().unwrap_or("").to_string(),
                    r["rate"].as_str().unwrap_or("").to_string(),
                    f(g("bits_per_value"), 3),
                    r.get("bits_per_value_scan_only")
                        .and_then(Value::as_f64)
                        .map(|v| f(v, 3))
                        .unwrap_or_else(|| "-".into()),
                    f(g("snr_db"), 2),
                    f(g("shannon_gap_db"), 2),
                    format!("{:.2e}", g("max_abs_error")),
                    f(g("mean_cosine"), 5),
                    f(g("ratio_vs_f32"), 2),
                    f(g("encode_mb_per_s"), 1),
                    f(g("decode_mb_per_s"), 1),
                ]
            })
            .collect();
        println!(
            "{}: {} tensors, {} values",
            a.input.display(),
            tensors.len(),
            values
        );
        print!(
            "{}",
            table::render(
                &[
                    "codec",
                    "rate",
                    "bits/value",
                    "scan-only",
                    "snr_db",
                    "gap_db",
                    "max_err",
                    "mean_cos",
                    "x_f32",
                    "enc_MB/s",
                    "dec_MB/s"
                ],
                &rows_ref(&t)
            )
        );
        println!("wrote {}/sweep.csv, sweep.json, sweep.png", a.out.display());
    }
    Ok(())
}

fn rows_ref(t: &[Vec<String>]) -> Vec<Vec<String>> {
    t.to_vec()
}

const CSV_COLS: [&str; 17] = [
    "codec",
    "rate",
    "tensors",
    "values",
    "bytes",
    "bits_per_value",
    "bits_per_value_scan_only",
    "snr_db",
    "shannon_gap_db",
    "mse",
    "max_abs_error",
    "mean_cosine",
    "min_cosine",
    "ratio_vs_f32",
    "ratio_vs_source",
    "encode_mb_per_s",
    "decode_mb_per_s",
];

fn write_outputs(dir: &Path, input: &Path, rows: &[Value], values: usize) -> Result<()> {
    let mut csv = CSV_COLS.join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = CSV_COLS
            .iter()
            .map(|k| match r.get(*k) {
                Some(Value::String(s)) => s.replace(',', ";"),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            })
            .collect();
        csv += &(cells.join(",") + "\n");
    }
    write_atomic(&dir.join("sweep.csv"), csv.as_bytes())?;
    let doc = json!({"input": input.display().to_string(), "values": values, "rows": rows});
    write_atomic(
        &dir.join("sweep.json"),
        serde_json::to_string_pretty(&doc)?.as_bytes(),
    )?;
    let mut series: Vec<Series> = Vec::new();
    for r in rows {
        let label = r["codec"].as_str().unwrap_or("").to_string();
        let pt = (
            r["bits_per_value"].as_f64().unwrap_or(f64::NAN),
            r["snr_db"].as_f64().unwrap_or(f64::NAN),
        );
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(pt),
            None => series.push(Series {
                label,
                points: vec![pt],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let tmp = dir.join(".sweep.png.part.png");
    let title = format!(
        "{}: SNR vs bits per value",
        input.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    rate_distortion(&tmp, &title, &series)?;
    std::fs::rename(&tmp, dir.join("sweep.png"))
        .with_context(|| format!("writing {}/sweep.png", dir.display()))?;
    Ok(())
}
