//! `tensorjpeg compare`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::container::{is_container, Container};
use tensorjpeg::metrics::Stats;
use tensorjpeg::Tensor;

use super::read_tensors;
use crate::SelectArgs;
use tensorjpeg_eval::report::compare::{compare_sets, json, text};

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

/// Runs the command.
pub fn run(original: &Path, other: &Path, select: &SelectArgs, json_out: bool) -> Result<()> {
    let sel = select.plan()?;
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
        println!("{}", serde_json::to_string_pretty(&json(&per, &total))?);
    } else {
        print!("{}", text(&per, &total));
    }
    Ok(())
}
