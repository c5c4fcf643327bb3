//! `tensorjpeg model-sweep`: whole models judged by the model
//! ([`tensorjpeg_eval::model_sweep`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tensorjpeg_eval::model_sweep::{self, Config, DEFAULT_CODECS};

use super::model::assets_dir;
use super::Bar;

/// Arguments of `model-sweep`.
#[derive(Args, Debug)]
pub struct ModelSweepArgs {
    /// Sentence-embedding model directory (default assets/minilm).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Codecs and rates: SPEC[@bits=..|@q=..], comma-separated; a `global:` prefix shares
    /// each bits= budget among the tensors at one slope.
    #[arg(long, default_value = DEFAULT_CODECS)]
    pub codecs: String,
    /// Text to sample the evaluation sentences from (default assets/text/enwiki.txt).
    #[arg(long, value_name = "PATH")]
    pub text: Option<PathBuf>,
    /// Sentences embedded per point.
    #[arg(long, default_value_t = 2000)]
    pub sentences: usize,
    /// Calibration sentences for `weighted:` points (never among the evaluated ones).
    #[arg(long, default_value_t = 512)]
    pub calibration_sentences: usize,
    /// A quick run for tests: 200 sentences, 64 for calibration.
    #[arg(long)]
    pub quick: bool,
    /// Output folder: results.json, results.csv, report.md, cosine.png, recall.png.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `model-sweep`.
pub fn run(a: &ModelSweepArgs) -> Result<()> {
    let cfg = Config {
        model: a
            .model
            .clone()
            .unwrap_or_else(|| assets_dir().join("minilm")),
        text: a
            .text
            .clone()
            .unwrap_or_else(|| assets_dir().join("text/enwiki.txt")),
        codecs: a.codecs.clone(),
        sentences: if a.quick { 200 } else { a.sentences },
        calibration_sentences: if a.quick { 64 } else { a.calibration_sentences },
        out: a.out.clone(),
    };
    let out = model_sweep::run(&cfg, &Bar::new(false))?;
    print!("{}", model_sweep::table(&out.rows));
    for (p, why) in &out.skipped {
        eprintln!("skipped {p}: {why}");
    }
    println!(
        "wrote {}/results.json, results.csv, report.md, cosine.png, recall.png",
        a.out.display()
    );
    Ok(())
}
