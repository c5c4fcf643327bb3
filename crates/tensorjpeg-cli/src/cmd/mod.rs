//! One module per subcommand, plus what they share.

pub mod compare;
pub mod compress;
pub mod decompress;
pub mod embed;
pub mod embed_eval;
pub mod embed_eval_report;
pub mod generate;
pub mod inspect;
pub mod model;
pub mod perplexity;
pub mod probe;
pub mod probe_report;
pub mod signal;
pub mod signal_digits;
pub mod signal_eval;
pub mod signal_report;
pub mod signal_series;
pub mod sweep;

use std::path::Path;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tensorjpeg::metrics::Stats;
use tensorjpeg::Tensor;

/// Reads a tensor file (.safetensors, .npy, .gguf), naming it in errors.
pub fn read_tensors(path: &Path) -> Result<Vec<Tensor>> {
    // The reader's errors name the file (and tensor) already.
    Ok(tensorjpeg_io::read_tensors(path)?)
}

/// A progress bar over `n` tensors, hidden when `quiet` or stderr is not a terminal.
pub fn progress(n: usize, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// JSON number that is `null` when not finite (an exact reconstruction has SNR = ∞).
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// The metrics object used by `compare`, `sweep` and `compress --json`.
pub fn stats_json(s: &Stats) -> Value {
    json!({
        "values": s.count,
        "bytes": s.bytes,
        "bits_per_value": num(s.bits_per_value()),
        "ratio_vs_f32": num(s.ratio_vs_f32()),
        "ratio_vs_source": num(s.ratio_vs_source()),
        "mse": num(s.mse()),
        "snr_db": num(s.snr_db()),
        "max_abs_error": num(s.max_abs_error),
        "mean_cosine": num(s.mean_cosine()),
        "min_cosine": num(s.cosine_min),
        "shannon_gap_db": num(s.shannon_gap_db()),
        "nonfinite_mismatches": s.nonfinite_mismatches,
    })
}

/// CSV of JSON rows: a header of `columns`, then one line per row (strings quoted, `null`
/// empty).
pub fn csv(columns: &[&str], rows: &[Value]) -> String {
    let mut out = columns.join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &r[*c] {
                Value::Null => String::new(),
                Value::String(s) => format!("\"{}\"", s.replace('"', "\"\"")),
                v => v.to_string(),
            })
            .collect();
        out += &cells.join(",");
        out.push('\n');
    }
    out
}

/// Writes `bytes` to `path` atomically (temp file + rename; never over an input or a
/// special file). The error names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(tensorjpeg_io::write_atomic(path, bytes)?)
}

/// Reads a whole file (recorded as an input: no output may replace it). The error names
/// the file once.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    Ok(tensorjpeg_io::read_file(path)?)
}

/// Refuses, before any work, an output that is one of `inputs` (or any file read so far)
/// or that exists and is not a regular file.
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    Ok(tensorjpeg_io::check_output(output, inputs)?)
}
