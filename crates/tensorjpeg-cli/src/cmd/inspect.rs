//! `tensorjpeg inspect`.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use tensorjpeg::container::{is_container, Container};

use super::read_tensors;
use tensorjpeg_eval::report::table::{self, f};

/// Runs the command.
pub fn run(file: &Path, json_out: bool) -> Result<()> {
    let bytes = super::read_file(file)?;
    if is_container(&bytes) {
        let c = Container::open(&bytes).with_context(|| format!("{}", file.display()))?;
        let damaged: Vec<String> = c
            .entries
            .iter()
            .filter_map(|e| e.verified_chunks().err().map(|err| err.to_string()))
            .collect();
        if json_out {
            let entries: Vec<_> = c
                .entries
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name, "dtype": e.dtype.name(), "shape": e.shape,
                        "codec": e.storage().to_string(),
                        "bytes": e.stored_bytes(), "chunks": e.chunks.len(), "exceptions": e.exceptions.len(),
                        "bits_per_value": super::num(e.stored_bytes() as f64 * 8.0 / e.numel().max(1) as f64),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "file": file.display().to_string(), "kind": "tensorjpeg container",
                    "format_version": tensorjpeg::container::FORMAT_VERSION, "file_bytes": c.file_bytes,
                    "tensors": entries, "damaged": damaged,
                }))?
            );
        } else {
            let rows: Vec<Vec<String>> = c
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        e.dtype.name().to_string(),
                        format!("{:?}", e.shape),
                        e.storage().to_string(),
                        e.stored_bytes().to_string(),
                        f(e.stored_bytes() as f64 * 8.0 / e.numel().max(1) as f64, 3),
                        e.chunks.len().to_string(),
                        e.exceptions.len().to_string(),
                    ]
                })
                .collect();
            println!(
                "{}: tensorjpeg container, format version {}, {} bytes, {} tensors",
                file.display(),
                tensorjpeg::container::FORMAT_VERSION,
                c.file_bytes,
                c.entries.len()
            );
            print!(
                "{}",
                table::render(
                    &[
                        "tensor",
                        "dtype",
                        "shape",
                        "codec",
                        "bytes",
                        "bits/value",
                        "chunks",
                        "exceptions"
                    ],
                    &rows
                )
            );
            for d in &damaged {
                println!("DAMAGED: {d}");
            }
        }
        if !damaged.is_empty() {
            anyhow::bail!("{}: {} damaged chunk(s)", file.display(), damaged.len());
        }
        return Ok(());
    }
    let tensors = read_tensors(file)?;
    if json_out {
        let list: Vec<_> = tensors
            .iter()
            .map(|t| json!({"name": t.name, "dtype": t.dtype.name(), "shape": t.shape, "bytes": t.source_bytes()}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"file": file.display().to_string(), "tensors": list})
            )?
        );
    } else {
        let rows: Vec<Vec<String>> = tensors
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.dtype.name().to_string(),
                    format!("{:?}", t.shape),
                    t.source_bytes().to_string(),
                ]
            })
            .collect();
        println!("{}: {} tensors", file.display(), tensors.len());
        print!(
            "{}",
            table::render(&["tensor", "dtype", "shape", "bytes"], &rows)
        );
    }
    Ok(())
}
