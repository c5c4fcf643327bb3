//! `tensorjpeg compress`.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use regex::Regex;
use serde_json::json;
use tensorjpeg::pipeline::compress_planned;
use tensorjpeg::{Rate, TensorPlan};
use tensorjpeg_eval::plan::{Allocation, PlanConfig, Rule};

use super::{progress, read_tensors, write_atomic};
use crate::SelectArgs;
use tensorjpeg_eval::report::table::{self, f};

/// The plan configuration from the command's flags (regexes and specs checked here).
pub fn plan_config(
    codec: &str,
    rate: Rate,
    select: &SelectArgs,
    rules: Vec<Rule>,
    allocation: Allocation,
) -> Result<PlanConfig> {
    rate.validate().context("rate option")?;
    let compile = |flag: &str, s: &Option<String>| -> Result<Option<Regex>> {
        s.as_deref()
            .map(|p| {
                Regex::new(p)
                    .with_context(|| format!("--{flag} '{p}' is not a valid regular expression"))
            })
            .transpose()
    };
    Ok(PlanConfig {
        codec: codec.to_string(),
        rate,
        allocation,
        rules,
        include: compile("include", &select.include)?,
        exclude: compile("exclude", &select.exclude)?,
        min_ndim: select.min_ndim,
        weights: Default::default(),
        axes: Default::default(),
    })
}

/// Calibration sentences (embedders) or tokens (language models) for `--allocate weighted`.
const CALIBRATION_LIMIT: (usize, usize) = (512, 8192);

/// Runs the command.
pub fn run(
    input: &Path,
    output: &Path,
    cfg: &PlanConfig,
    calibration: Option<&Path>,
    json_out: bool,
) -> Result<()> {
    let (codec, rate) = (cfg.codec.as_str(), cfg.rate);
    let weighted = cfg.allocation == Allocation::Weighted;
    match (weighted, calibration) {
        (true, None) => bail!("--allocate weighted needs --calibration TEXT"),
        (false, Some(_)) => bail!("--calibration is for --allocate weighted"),
        _ => {}
    }
    let registry = tensorjpeg_io::registry();
    // Check the codec spec before the (possibly long) read.
    registry
        .build(codec)
        .with_context(|| format!("--codec {codec}"))?;
    super::check_output(output, &[input])?;
    let tensors = read_tensors(input)?;
    let mut cfg = cfg.clone();
    if let Some(text) = calibration {
        let kind = tensorjpeg_eval::model_sweep::ModelKind::of(input);
        let limit = match kind {
            tensorjpeg_eval::model_sweep::ModelKind::Embedder => CALIBRATION_LIMIT.0,
            tensorjpeg_eval::model_sweep::ModelKind::LanguageModel => CALIBRATION_LIMIT.1,
        };
        let scratch = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let imp = tensorjpeg_eval::sensitivity::calibrate_file(
            input,
            &tensors,
            text,
            limit,
            scratch,
            &super::Bar::new(json_out),
        )
        .with_context(|| format!("calibrating {} on {}", input.display(), text.display()))?;
        cfg.weights = imp.weights;
        cfg.axes = imp.axes;
    }
    let plan = cfg.plan(&tensors, &registry)?;
    if plan.tensors.iter().all(|p| *p == TensorPlan::Verbatim) {
        bail!(
            "{}: no float tensor matches the selection (of {} tensors)",
            input.display(),
            tensors.len()
        );
    }
    let pb = progress(tensors.len(), json_out, "compress");
    let t0 = Instant::now();
    let out = compress_planned(
        &tensors,
        &plan.tensors,
        plan.pool_bits,
        &registry,
        &|name| {
            pb.inc(1);
            pb.set_message(name.to_string());
        },
    )
    .with_context(|| format!("compressing {}", input.display()))?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    write_atomic(output, &out.bytes)?;
    let input_bytes: u64 = tensors.iter().map(|t| t.source_bytes()).sum();
    let rep = &out.report;
    let warnings: Vec<&String> = rep.tensors.iter().flat_map(|r| &r.warnings).collect();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let (mut vals, mut bytes) = (0usize, 0usize);
    for (t, r) in tensors.iter().zip(&rep.tensors) {
        if r.codec.is_coded() {
            vals += t.numel();
            bytes += r.stored_bytes;
        }
    }
    let bpv = if vals > 0 {
        bytes as f64 * 8.0 / vals as f64
    } else {
        0.0
    };
    if json_out {
        let tensors_json: Vec<_> = tensors
            .iter()
            .zip(&rep.tensors)
            .map(|(t, r)| {
                let stats: serde_json::Map<String, serde_json::Value> = r.stats.iter().map(|(k, v)| (k.clone(), super::num(*v))).collect();
                json!({
                    "name": r.name, "codec": r.codec.to_string(), "dtype": r.dtype.name(), "shape": r.shape,
                    "bytes": r.stored_bytes, "bits_per_value": super::num(r.stored_bytes as f64 * 8.0 / t.numel().max(1) as f64),
                    "exceptions": r.exceptions, "stats": stats, "warnings": r.warnings,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "input": input.display().to_string(), "output": output.display().to_string(),
                "codec": codec, "rate": format!("{rate:?}"), "allocation": cfg.allocation.name(),
                "input_bytes": input_bytes, "file_bytes": rep.file_bytes,
                "compressed_values": vals, "compressed_bytes": bytes, "bits_per_value": bpv,
                "seconds": secs, "tensors": tensors_json, "targets_missed": warnings.len(),
            }))?
        );
    } else {
        let rows: Vec<Vec<String>> = tensors
            .iter()
            .zip(&rep.tensors)
            .map(|(t, r)| {
                vec![
                    r.name.clone(),
                    r.codec.to_string(),
                    format!("{:?}", r.shape),
                    r.stored_bytes.to_string(),
                    f(r.stored_bytes as f64 * 8.0 / t.numel().max(1) as f64, 3),
                    r.exceptions.to_string(),
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &[
                    "tensor",
                    "codec",
                    "shape",
                    "bytes",
                    "bits/value",
                    "exceptions"
                ],
                &rows
            )
        );
        println!(
            "{} -> {}: {} -> {} bytes ({:.2}x); compressed tensors {:.3} bits/value; {:.2} s",
            input.display(),
            output.display(),
            input_bytes,
            rep.file_bytes,
            input_bytes as f64 / rep.file_bytes.max(1) as f64,
            bpv,
            secs
        );
    }
    Ok(())
}
