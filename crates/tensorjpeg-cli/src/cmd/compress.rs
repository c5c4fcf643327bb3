//! `tensorjpeg compress`.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tensorjpeg::pipeline::compress_planned;
use tensorjpeg::{Rate, TensorPlan};
use tensorjpeg_eval::plan::{Allocation, PlanConfig, Rule};

use super::{progress, read_tensors, write_atomic};
use crate::SelectArgs;
use tensorjpeg_eval::report::compress::CompressRun;

/// The plan configuration from the command's flags (regexes and specs checked here).
pub fn plan_config(
    codec: &str,
    rate: Rate,
    select: &SelectArgs,
    rules: Vec<Rule>,
    allocation: Allocation,
) -> Result<PlanConfig> {
    PlanConfig::from_flags(codec, rate, select.filters(), rules, allocation)
}

/// Runs the command.
pub fn run(
    input: &Path,
    output: &Path,
    cfg: &PlanConfig,
    calibration: Option<&Path>,
    json_out: bool,
) -> Result<()> {
    let registry = tensorjpeg_io::registry();
    // Check the codec spec and the calibration flags before the (possibly long) read.
    registry
        .build(&cfg.codec)
        .with_context(|| format!("--codec {}", cfg.codec))?;
    cfg.check_calibration(calibration)?;
    let mut cfg = cfg.clone();
    super::check_output(output, &[input])?;
    let tensors = read_tensors(input)?;
    let scratch = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    cfg.calibrate(
        input,
        &tensors,
        calibration,
        scratch,
        &super::Bar::new(json_out),
    )?;
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
    let on_tensor = |name: &str| {
        pb.inc(1);
        pb.set_message(name.to_string());
    };
    let out = compress_planned(
        &tensors,
        &plan.tensors,
        plan.pool_bits,
        &registry,
        &on_tensor,
    )
    .with_context(|| format!("compressing {}", input.display()))?;
    pb.finish_and_clear();
    write_atomic(output, &out.bytes)?;
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
    for w in run.warnings() {
        eprintln!("warning: {w}");
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&run.json())?);
    } else {
        print!("{}", run.text());
    }
    Ok(())
}
