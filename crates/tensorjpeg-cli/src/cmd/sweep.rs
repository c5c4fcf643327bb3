//! `tensorjpeg sweep`: rate–distortion over codecs and rates ([`tensorjpeg_eval::sweep`]).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;
use tensorjpeg::Tensor;
use tensorjpeg_eval::report::create_dir;
use tensorjpeg_eval::sweep;

use super::{read_tensors, Bar};
use crate::SelectArgs;

/// Arguments of `sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Input tensor file.
    pub input: PathBuf,
    /// Codecs and rates: SPEC[@bits=..|@q=..|@snr=..|@maxerr=..], comma-separated.
    #[arg(long, default_value = "native,jpeg:tworow@q=95/75,q8_0,q4_0,f16")]
    pub codecs: String,
    /// Output directory for sweep.csv, sweep.json, sweep.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Only tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Skip tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Only tensors with at least this many dimensions (default 2: weight matrices).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub min_ndim: usize,
    /// No progress bar; print the JSON rows instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: &SweepArgs) -> Result<()> {
    let sel = SelectArgs {
        include: a.include.clone(),
        exclude: a.exclude.clone(),
        min_ndim: Some(a.min_ndim),
    }
    .plan()?;
    let points = sweep::parse_points(&a.codecs)?;
    let registry = tensorjpeg_io::registry();
    sweep::check_points(&points, &registry)?;
    let tensors: Vec<Tensor> = read_tensors(&a.input)?
        .into_iter()
        .filter(|t| sel.selects(t, 2))
        .collect();
    if tensors.is_empty() {
        bail!(
            "{}: no float tensor matches the selection",
            a.input.display()
        );
    }
    let values: usize = tensors.iter().map(Tensor::numel).sum();
    create_dir(&a.out)?;
    let rows = sweep::run(&tensors, &points, &registry, &Bar::new(a.json))?;
    sweep::write(&a.out, &a.input, &rows, values)?;
    if a.json {
        let rows: Vec<Value> = rows.iter().map(sweep::Row::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{}: {} tensors, {} values",
            a.input.display(),
            tensors.len(),
            values
        );
        print!("{}", sweep::table(&rows));
        println!("wrote {}/sweep.csv, sweep.json, sweep.png", a.out.display());
    }
    Ok(())
}
