//! `tensorjpeg compress`.

use std::path::Path;

use anyhow::Result;
use tensorjpeg::Rate;
use tensorjpeg_eval::plan::{Allocation, PlanConfig, Rule};

use crate::SelectArgs;

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
    let r = tensorjpeg_eval::files::compress_file(
        input,
        output,
        cfg,
        calibration,
        &super::Bar::new(json_out),
    )?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r.json)?);
    } else {
        print!("{}", r.text);
    }
    Ok(())
}
