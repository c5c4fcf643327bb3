//! What the experiments write: JSON numbers, CSV, plain-text tables ([`table`]) and PNG
//! plots ([`plot`]), every file written atomically and never over an input
//! (`tensorjpeg_io::write_atomic`).

pub mod compare;
pub mod compress;
pub mod plot;
pub mod table;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tensorjpeg::metrics::Stats;

/// JSON number that is `null` when not finite (an exact reconstruction has SNR = ∞).
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// The metrics object of `compare`, `sweep` and `compress --json`.
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

/// Creates the output folder `dir` (and its parents).
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}
