//! Rate–distortion of tensor codecs (`tensorjpeg sweep`): every point compressed,
//! decompressed and measured in the same run.
//!
//! The codec list is a comma-separated list of `SPEC[@RATES]`, RATES being `bits=2/3/4`,
//! `q=95/75`, `snr=20/30` or `maxerr=1e-3/1e-2`. Without `@`, each codec gets its default
//! points (native: bits 2..6; jpeg: quality 100/95/90/75/50; svd: bits 1/2/4/8; the fixed-rate
//! formats: one point). A `global:` prefix (`global:native@bits=3/4`) shares each `bits=`
//! budget among all the tensors at one rate–distortion slope ([`Allocation::Global`])
//! instead of giving every tensor the same bits; `weighted:` (the model sweep only) weights
//! that error by the model's calibrated sensitivity, and `gptq:` (the model sweep only) also
//! quantizes every linear layer with error feedback through its calibrated `E[xxᵀ]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tensorjpeg::metrics::{compare, Stats};
use tensorjpeg::pipeline::{compress_planned, compress_with, Options, TensorPlan};
use tensorjpeg::{Rate, Registry, SpecRates, Tensor};

use crate::plan::Allocation;
use crate::report::plot::{rate_distortion, Series};
use crate::report::table::{self, f};
use crate::report::{num, stats_json, write_atomic};
use crate::Progress;

/// One point to measure: a codec spec at one rate.
#[derive(Debug, Clone)]
pub struct Point {
    /// Codec spec, as the registry parses it.
    pub spec: String,
    /// The rate asked for.
    pub rate: Rate,
    /// The rate as written in reports (`bits=4`, `q=95`).
    pub label: String,
    /// How a `bits=` budget is shared among the tensors.
    pub allocation: Allocation,
    /// Pooled tensors held exactly by GGUF blocks are re-quantized instead of being offered
    /// to the allocation as they are (`requant:` prefix; [`crate::plan::PlanConfig::requantize`]).
    pub requantize: bool,
}

impl Point {
    /// The codec as reports name it: the spec, `global:` first for a global allocation,
    /// `requant:` before that when asked.
    pub fn codec_label(&self) -> String {
        let base = match self.allocation {
            Allocation::PerTensor => self.spec.clone(),
            a => format!("{}:{}", a.name(), self.spec),
        };
        if self.requantize {
            format!("requant:{base}")
        } else {
            base
        }
    }
}

/// One measured point: the whole selection compressed, decompressed and compared.
#[derive(Debug, Clone)]
pub struct Row {
    /// Codec spec.
    pub codec: String,
    /// Rate label.
    pub rate: String,
    /// Tensors measured.
    pub tensors: usize,
    /// Distortion and size over all of them; `bytes` counts the whole container.
    pub stats: Stats,
    /// Encoding speed, MB of f32 per second.
    pub encode_mb_per_s: f64,
    /// Decoding speed, MB of f32 per second.
    pub decode_mb_per_s: f64,
    /// For JPEG codecs: bytes of entropy-coded scans, of headers, and image count.
    pub jpeg: Option<JpegBytes>,
    /// The Gaussian rate–distortion bound at this row's bits per value with each tensor's
    /// own variance ([`tensorjpeg::metrics::gaussian_bound_db`]), dB.
    pub bound_db: f64,
}

/// Where a JPEG codec's bytes go (the seeds judge JPEGs without their headers).
#[derive(Debug, Clone, Copy)]
pub struct JpegBytes {
    /// Bits per value counting only scan data and the min/max of each image.
    pub bits_per_value_scan_only: f64,
    /// Header bytes of all images.
    pub header_bytes: f64,
    /// Number of images.
    pub images: f64,
}

impl Row {
    /// The row as `sweep.json` writes it.
    pub fn to_json(&self) -> Value {
        let mut row = stats_json(&self.stats);
        row["codec"] = json!(self.codec);
        row["rate"] = json!(self.rate);
        row["encode_mb_per_s"] = num(self.encode_mb_per_s);
        row["decode_mb_per_s"] = num(self.decode_mb_per_s);
        if let Some(j) = &self.jpeg {
            row["bits_per_value_scan_only"] = num(j.bits_per_value_scan_only);
            row["jpeg_header_bytes"] = num(j.header_bytes);
            row["jpeg_images"] = num(j.images);
        }
        row["tensors"] = json!(self.tensors);
        row["bound_db"] = num(self.bound_db);
        row["gap_to_bound_db"] = num(self.bound_db - self.stats.snr_db());
        row
    }
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

/// Parses `--codecs`: comma-separated `SPEC[@RATES]` items (see the module docs).
pub fn parse_points(list: &str) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (requantize, item) = match item.strip_prefix("requant:") {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        let (allocation, item) = if let Some(rest) = item.strip_prefix("global:") {
            (Allocation::Global, rest)
        } else if let Some(rest) = item.strip_prefix("weighted:") {
            (Allocation::Weighted, rest)
        } else if let Some(rest) = item.strip_prefix("gptq:") {
            (Allocation::Gptq, rest)
        } else {
            (Allocation::PerTensor, item)
        };
        let parsed: SpecRates = item
            .parse()
            .with_context(|| format!("--codecs: '{item}'"))?;
        let spec = parsed.spec;
        let rates = if parsed.rates.is_empty() {
            default_rates(&spec)
        } else {
            parsed.rates
        };
        for rate in rates {
            rate.validate().with_context(|| format!("codec '{spec}'"))?;
            if allocation != Allocation::PerTensor && !matches!(rate, Rate::Bits(_)) {
                bail!(
                    "--codecs: '{}:{item}' shares a bits= budget; the rate is {}",
                    allocation.name(),
                    rate.label()
                );
            }
            out.push(Point {
                label: rate.label(),
                spec: spec.clone(),
                rate,
                allocation,
                requantize,
            });
        }
    }
    if out.is_empty() {
        bail!("--codecs is empty");
    }
    Ok(out)
}

/// Measures one point on `tensors`.
pub fn measure(tensors: &[Tensor], p: &Point, registry: &Registry) -> Result<Row> {
    let t0 = Instant::now();
    if p.allocation.is_calibrated() {
        bail!(
            "{}: a calibrated allocation needs a model to calibrate: use `tensorjpeg model-sweep`",
            p.codec_label()
        );
    }
    let out = match (p.allocation, p.rate) {
        (Allocation::Global, Rate::Bits(b)) => {
            let plans = vec![
                TensorPlan::Pool {
                    codec: p.spec.clone(),
                    weight: 1.0,
                    axes: None,
                    gram: None,
                    keep: None,
                };
                tensors.len()
            ];
            compress_planned(tensors, &plans, Some(b), registry, &|_| {})
        }
        _ => {
            let opts = Options {
                codec: p.spec.clone(),
                rate: p.rate,
            };
            compress_with(tensors, &opts, registry, &|_| true, &|_| {})
        }
    }
    .with_context(|| format!("codec {} at {}", p.codec_label(), p.label))?;
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
    let jpeg = extra.get("jpeg_scan_bytes").map(|&scan| {
        let minmax = extra.get("minmax_bytes").copied().unwrap_or(0.0);
        JpegBytes {
            bits_per_value_scan_only: (scan + minmax) * 8.0 / total.count as f64,
            header_bytes: extra.get("jpeg_header_bytes").copied().unwrap_or(0.0),
            images: extra.get("jpeg_images").copied().unwrap_or(0.0),
        }
    });
    let bound_db =
        tensorjpeg::metrics::gaussian_bound_db(&gaussian_parts(tensors), total.bits_per_value());
    Ok(Row {
        codec: p.codec_label(),
        rate: p.label.clone(),
        tensors: tensors.len(),
        stats: total,
        encode_mb_per_s: mb / enc_s,
        decode_mb_per_s: mb / dec_s,
        jpeg,
        bound_db,
    })
}

/// `(values, Σx², variance)` of each float tensor's finite values.
fn gaussian_parts(tensors: &[Tensor]) -> Vec<(u64, f64, f64)> {
    tensors
        .iter()
        .filter_map(|t| t.values())
        .map(|v| {
            let (mut n, mut s, mut ss) = (0u64, 0f64, 0f64);
            for &x in v.iter().filter(|x| x.is_finite()) {
                n += 1;
                s += f64::from(x);
                ss += f64::from(x) * f64::from(x);
            }
            let mean = s / n.max(1) as f64;
            (n, ss, (ss / n.max(1) as f64 - mean * mean).max(0.0))
        })
        .collect()
}

/// Checks every point's spec against `registry` (before any work).
pub fn check_points(points: &[Point], registry: &Registry) -> Result<()> {
    for p in points {
        registry
            .build(&p.spec)
            .with_context(|| format!("--codecs: '{}'", p.spec))?;
    }
    Ok(())
}

/// Measures every point on `tensors` (the selection of one file), in order.
pub fn run(
    tensors: &[Tensor],
    points: &[Point],
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<Vec<Row>> {
    if tensors.is_empty() {
        bail!("no float tensor matches the selection");
    }
    check_points(points, registry)?;
    progress.phase("sweep", points.len());
    let mut rows = Vec::new();
    for p in points {
        progress.message(&format!("{} {}", p.spec, p.label));
        rows.push(measure(tensors, p, registry)?);
        progress.advance(1);
    }
    progress.finish();
    Ok(rows)
}

/// The rows as a plain-text table.
pub fn table(rows: &[Row]) -> String {
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = &r.stats;
            vec![
                r.codec.clone(),
                r.rate.clone(),
                f(s.bits_per_value(), 3),
                r.jpeg
                    .map(|j| f(j.bits_per_value_scan_only, 3))
                    .unwrap_or_else(|| "-".into()),
                f(s.snr_db(), 2),
                f(r.bound_db, 2),
                f(r.bound_db - s.snr_db(), 2),
                format!("{:.2e}", s.max_abs_error),
                f(s.mean_cosine(), 5),
                f(s.ratio_vs_f32(), 2),
                f(r.encode_mb_per_s, 1),
                f(r.decode_mb_per_s, 1),
            ]
        })
        .collect();
    table::render(
        &[
            "codec",
            "rate",
            "bits/value",
            "scan-only",
            "snr_db",
            "bound_db",
            "gap_db",
            "max_err",
            "mean_cos",
            "x_f32",
            "enc_MB/s",
            "dec_MB/s",
        ],
        &t,
    )
}

const CSV_COLS: [&str; 19] = [
    "codec",
    "rate",
    "tensors",
    "values",
    "bytes",
    "bits_per_value",
    "bits_per_value_scan_only",
    "snr_db",
    "shannon_gap_db",
    "bound_db",
    "gap_to_bound_db",
    "mse",
    "max_abs_error",
    "mean_cosine",
    "min_cosine",
    "ratio_vs_f32",
    "ratio_vs_source",
    "encode_mb_per_s",
    "decode_mb_per_s",
];

/// Writes `dir`/sweep.csv, sweep.json and sweep.png for the rows measured on `input`
/// (`values` values in all).
pub fn write(dir: &Path, input: &Path, rows: &[Row], values: usize) -> Result<()> {
    let rows: Vec<Value> = rows.iter().map(Row::to_json).collect();
    let mut csv = CSV_COLS.join(",") + "\n";
    for r in &rows {
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
    for r in &rows {
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
    let title = format!(
        "{}: SNR vs bits per value",
        input.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    rate_distortion(&dir.join("sweep.png"), &title, &series)
}
