//! Whole tensor files through a codec plan (`tensorjpeg compress`, Python's
//! `compress_file`): read, calibrate when the plan needs it, plan, compress, write
//! atomically, report.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tensorjpeg::pipeline::compress_planned;
use tensorjpeg::TensorPlan;

use crate::plan::PlanConfig;
use crate::report::compress::CompressRun;
use crate::Progress;

/// What [`compress_file`] did.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The report as JSON (the CLI's `--json`).
    pub json: serde_json::Value,
    /// The report as a table and a summary line.
    pub text: String,
    /// Targets missed, one line each.
    pub warnings: Vec<String>,
}

/// Compresses every tensor of `input` (.safetensors, .npy, .gguf) by the plan `cfg` into
/// the container `output` (written atomically, never over an input). `calibration`: the
/// text that a weighted allocation calibrates on.
pub fn compress_file(
    input: &Path,
    output: &Path,
    cfg: &PlanConfig,
    calibration: Option<&Path>,
    progress: &dyn Progress,
) -> Result<FileReport> {
    let registry = tensorjpeg_io::registry();
    // Check the codec spec and the calibration flags before the (possibly long) read.
    registry
        .build(&cfg.codec)
        .with_context(|| format!("codec {}", cfg.codec))?;
    cfg.check_calibration(calibration)?;
    let mut cfg = cfg.clone();
    tensorjpeg_io::check_output(output, &[input])?;
    let tensors = tensorjpeg_io::read_tensors(input)?;
    cfg.calibrate(input, &tensors, calibration, progress)?;
    let plan = cfg.plan(&tensors, &registry)?;
    if plan.tensors.iter().all(|p| *p == TensorPlan::Verbatim) {
        bail!(
            "{}: no float tensor matches the selection (of {} tensors)",
            input.display(),
            tensors.len()
        );
    }
    progress.phase("compress", tensors.len());
    let t0 = Instant::now();
    let on_tensor = |name: &str| {
        progress.advance(1);
        progress.message(name);
    };
    let out = compress_planned(
        &tensors,
        &plan.tensors,
        plan.pool_bits,
        &registry,
        &on_tensor,
    )
    .with_context(|| format!("compressing {}", input.display()))?;
    progress.finish();
    tensorjpeg_io::write_atomic(output, &out.bytes)?;
    let run = CompressRun {
        input,
        output,
        codec: &cfg.codec,
        rate: format!("{:?}", cfg.rate),
        allocation: cfg.allocation.name(),
        tensors: &tensors,
        report: &out.report,
        seconds: t0.elapsed().as_secs_f64(),
    };
    Ok(FileReport {
        json: run.json(),
        text: run.text(),
        warnings: run.warnings().into_iter().cloned().collect(),
    })
}
