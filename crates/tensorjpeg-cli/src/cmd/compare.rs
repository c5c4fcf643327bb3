//! `tensorjpeg compare`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;
use tensorjpeg::container::{is_container, Container};
use tensorjpeg::metrics::{compare, Stats};
use tensorjpeg::{Data, Tensor};

use super::{read_tensors, stats_json};
use crate::select::Selection;
use crate::SelectArgs;
use tensorjpeg_eval::report::table::{self, f};

/// Decoded tensors of OTHER with their stored bytes.
fn load_other(path: &Path) -> Result<(Vec<Tensor>, HashMap<String, u64>)> {
    let bytes = super::read_file(path)?;
    if is_container(&bytes) {
        let c = Container::open(&bytes).with_context(|| format!("{}", path.display()))?;
        let sizes = c
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.stored_bytes() as u64))
            .collect();
        let tensors = tensorjpeg::decompress_with(&bytes, &tensorjpeg_io::registry())
            .with_context(|| format!("decoding {}", path.display()))?;
        Ok((tensors, sizes))
    } else {
        let tensors = read_tensors(path)?;
        let sizes = tensors
            .iter()
            .map(|t| (t.name.clone(), t.source_bytes()))
            .collect();
        Ok((tensors, sizes))
    }
}

/// Per-tensor and total statistics of `other` against `orig`.
pub fn compare_sets(
    orig: &[Tensor],
    other: &[Tensor],
    sizes: &HashMap<String, u64>,
    sel: &Selection,
) -> Result<Vec<(String, Stats)>> {
    let mut by_name: HashMap<&str, &Tensor> = other.iter().map(|t| (t.name.as_str(), t)).collect();
    // Two single-tensor files (.npy names come from the file stem) are compared as a pair.
    if orig.len() == 1 && other.len() == 1 {
        by_name.insert(orig[0].name.as_str(), &other[0]);
    }
    let mut out = Vec::new();
    for t in orig.iter().filter(|t| sel.selects(t)) {
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

/// Runs the command.
pub fn run(original: &Path, other: &Path, select: &SelectArgs, json_out: bool) -> Result<()> {
    let sel = Selection::new(select)?;
    let orig = read_tensors(original)?;
    let (oth, sizes) = load_other(other)?;
    let per = compare_sets(&orig, &oth, &sizes, &sel)?;
    if per.is_empty() {
        bail!(
            "{}: no float tensor matches the selection",
            original.display()
        );
    }
    let mut total = Stats::default();
    for (_, s) in &per {
        total.merge(s);
    }
    if json_out {
        let tensors: Vec<_> = per
            .iter()
            .map(|(n, s)| {
                let mut v = stats_json(s);
                v["name"] = json!(n);
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"tensors": tensors, "total": stats_json(&total)})
            )?
        );
    } else {
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
        rows.push(row("TOTAL", &total));
        print!(
            "{}",
            table::render(
                &[
                    "tensor",
                    "bytes",
                    "bits/value",
                    "snr_db",
                    "max_abs_err",
                    "mse",
                    "mean_cos",
                    "min_cos"
                ],
                &rows
            )
        );
    }
    Ok(())
}
