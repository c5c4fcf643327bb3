//! `tensorjpeg model-sweep`: whole models judged by the model
//! ([`tensorjpeg_eval::model_sweep`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tensorjpeg_eval::model_sweep::{self, default_codecs, Config};
use tensorjpeg_models::eval::Window;

use super::model::assets_dir;
use super::Bar;

/// Arguments of `model-sweep`.
#[derive(Args, Debug)]
pub struct ModelSweepArgs {
    /// A sentence embedder's folder (default assets/minilm), a .gguf language model or a
    /// GPT-2 folder.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Codecs and rates: SPEC[@bits=..|@q=..], comma-separated; a `global:` prefix shares
    /// each bits= budget among the tensors at one slope, `weighted:` at one slope of the
    /// calibrated model-weighted error, `gptq:` as weighted with error feedback through each
    /// layer's E[xxᵀ]; before any of these, `requant:` re-quantizes the matrices a GGUF
    /// file holds as blocks instead of letting the allocation keep them (`compress
    /// --requantize`). Default: a list per kind of model.
    #[arg(long)]
    pub codecs: Option<String>,
    /// Text for evaluation and calibration (default assets/text/enwiki.txt).
    #[arg(long, value_name = "PATH")]
    pub text: Option<PathBuf>,
    /// Embedders: sentences embedded per point.
    #[arg(long, default_value_t = 2000)]
    pub sentences: usize,
    /// Embedders: calibration sentences for `weighted:` points (never among the evaluated).
    #[arg(long, default_value_t = 512)]
    pub calibration_sentences: usize,
    /// Language models: tokens scored, from the start of the text.
    #[arg(long, default_value_t = 5120)]
    pub tokens: usize,
    /// Language models: calibration tokens for `weighted:` points (from the end of the text).
    #[arg(long, default_value_t = 8192)]
    pub calibration_tokens: usize,
    /// Language models: no per-matrix sensitivity probes for `weighted:` points (every
    /// matrix then weighs 1; the probes take ~1 s per matrix).
    #[arg(long)]
    pub no_probe: bool,
    /// Language models: window length in tokens.
    #[arg(long, default_value_t = 512)]
    pub ctx: usize,
    /// Language models: step between windows.
    #[arg(long, default_value_t = 256)]
    pub stride: usize,
    /// A quick run for tests: 200 sentences (64 for calibration), or 256 tokens in windows
    /// of 128 (512 for calibration).
    #[arg(long)]
    pub quick: bool,
    /// Output folder: results.json, results.csv, report.md and plots.
    #[arg(long)]
    pub out: PathBuf,
    /// Models compressed by other programs, scored in the same run beside the codecs: a
    /// JSON file {"peers": [{"codec", "rate", "model", "bytes", "matrix_bytes"}]}, model
    /// paths relative to it (scripts/float-peers.sh writes one for SZ3 and zfp).
    #[arg(long, value_name = "PEERS.json")]
    pub peers: Option<PathBuf>,
}

/// Runs `model-sweep`.
pub fn run(a: &ModelSweepArgs) -> Result<()> {
    let model = a
        .model
        .clone()
        .unwrap_or_else(|| assets_dir().join("minilm"));
    let cfg = Config {
        codecs: a
            .codecs
            .clone()
            .unwrap_or_else(|| default_codecs(&model).into()),
        text: a
            .text
            .clone()
            .unwrap_or_else(|| assets_dir().join("text/enwiki.txt")),
        sentences: a.sentences,
        calibration_sentences: a.calibration_sentences,
        tokens: a.tokens,
        calibration_tokens: a.calibration_tokens,
        probe: !a.no_probe,
        window: Window {
            ctx: a.ctx,
            stride: a.stride,
        },
        out: a.out.clone(),
        peers: a.peers.clone(),
        model,
    };
    let cfg = if a.quick { cfg.quick() } else { cfg };
    let out = model_sweep::run(&cfg, &Bar::new(false))?;
    print!("{}", model_sweep::table(&out.rows));
    for (p, why) in &out.skipped {
        eprintln!("skipped {p}: {why}");
    }
    println!(
        "wrote {}/results.json, results.csv, report.md and plots",
        a.out.display()
    );
    Ok(())
}
