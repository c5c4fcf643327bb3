//! `compare`'s measurement and report: every selected tensor of one file against the
//! same-named tensor of another, and the total.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tensorjpeg::metrics::{compare, Stats};
use tensorjpeg::{Data, Tensor};

use super::stats_json;
use super::table::{self, f};
use crate::plan::PlanConfig;

/// Per-tensor and total statistics of `other` against `orig`.
pub fn compare_sets(
    orig: &[Tensor],
    other: &[Tensor],
    sizes: &HashMap<String, u64>,
    sel: &PlanConfig,
) -> Result<Vec<(String, Stats)>> {
    let mut by_name: HashMap<&str, &Tensor> = other.iter().map(|t| (t.name.as_str(), t)).collect();
    // Two single-tensor files (.npy names come from the file stem) are compared as a pair.
    if orig.len() == 1 && other.len() == 1 {
        by_name.insert(orig[0].name.as_str(), &other[0]);
    }
    let mut out = Vec::new();
    for t in orig.iter().filter(|t| sel.selects(t, 0)) {
        let o = by_name
            .get(t.name.as_str())
            .with_context(|| format!("tensor '{}' is missing from the other file", t.name))?;
        if o.shape != t.shape {
            bail!("tensor '{}': shape {:?} vs {:?}", t.name, t.shape, o.shape);
        }
        let (Data::F32(a), Data::F32(b)) = (&t.data, &o.data) else {
            bail!("tensor '{}': not a float tensor in both files", t.name);
        };
        let mut s = compare(a, b, t.matrix_dims().1);
        s.bytes = sizes.get(&t.name).copied().unwrap_or(0);
        s.source_bytes = t.source_bytes();
        out.push((t.name.clone(), s));
    }
    Ok(out)
}

/// The per-tensor statistics and their total as JSON.
pub fn json(per: &[(String, Stats)], total: &Stats) -> Value {
    let tensors: Vec<Value> = per
        .iter()
        .map(|(n, s)| {
            let mut v = stats_json(s);
            v["name"] = json!(n);
            v
        })
        .collect();
    json!({"tensors": tensors, "total": stats_json(total)})
}

/// The per-tensor statistics and their total as a table.
pub fn text(per: &[(String, Stats)], total: &Stats) -> String {
    let row = |n: &str, s: &Stats| {
        vec![
            n.to_string(),
            s.bytes.to_string(),
            f(s.bits_per_value(), 3),
            f(s.snr_db(), 2),
            format!("{:.3e}", s.max_abs_error),
            format!("{:.3e}", s.mse()),
            f(s.mean_cosine(), 5),
            f(s.cosine_min, 5),
        ]
    };
    let mut rows: Vec<Vec<String>> = per.iter().map(|(n, s)| row(n, s)).collect();
    rows.push(row("TOTAL", total));
    let head = [
        "tensor",
        "bytes",
        "bits/value",
        "snr_db",
        "max_abs_err",
        "mse",
        "mean_cos",
        "min_cos",
    ];
    table::render(&head, &rows)
}
