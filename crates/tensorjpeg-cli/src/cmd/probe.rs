//! `tensorjpeg probe`: seed 003 as a measured experiment ([`tensorjpeg_eval::probe`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tensorjpeg_eval::probe::{self, Config};

use super::model::assets_dir;
use super::Bar;

/// Arguments of `probe`.
#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Model: a .gguf file (llama family), a GPT-2 .safetensors file or a model directory
    /// (default: assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, dequantized to f32).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// The codec on the input embeddings, at each quality. The default is seed 003's layer:
    /// each embedding as a 2-row 8-bit image (min–max, numpy's truncating cast), JPEG.
    #[arg(long, default_value = "jpeg:tworow:trunc", value_name = "SPEC")]
    pub codec: String,
    /// Qualities (1..=100), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "Q,...")]
    pub qualities: Option<Vec<u8>>,
    /// The control codec run at the same bits per value as --codec (headers excluded).
    #[arg(long, default_value = "native", value_name = "SPEC")]
    pub control_codec: String,
    /// Skip the controls (Gaussian noise at matched cosine, control codec at matched bits).
    #[arg(long)]
    pub no_controls: bool,
    /// Prompts, one per line (blank lines skipped). Default: three built-in prompts,
    /// the first being the seed's "What is the meaning of life??".
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,
    /// Samples per prompt per setting.
    #[arg(long)]
    pub samples: Option<usize>,
    /// New tokens per sample.
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Sampling temperature (seed 003: 0.8).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Top-k (seed 003: 50).
    #[arg(long, default_value_t = 50)]
    pub top_k: usize,
    /// Top-p (seed 003: 0.95).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Seed: sampling streams and the noise control (same seed, same numbers).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Held-out text for perplexity (default assets/text/enwiki.txt; its last part is used).
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// Tokens of held-out text scored per setting.
    #[arg(long)]
    pub ppl_tokens: Option<usize>,
    /// Perplexity window (tokens); windows advance by the same amount.
    #[arg(long, default_value_t = 512)]
    pub ctx: usize,
    /// Most sequences sampled in one batch (settings × samples are packed into batches).
    #[arg(long, default_value_t = 160)]
    pub batch_rows: usize,
    /// Small preset for CI and demos: qualities 90,50,10,1; the seed's prompt only;
    /// 4 samples of 48 tokens; 1,000 tokens of perplexity. Explicit flags override it.
    #[arg(long)]
    pub quick: bool,
    /// GGUF: multiply with candle's quantized kernels instead of dequantized f32.
    #[arg(long)]
    pub quantized: bool,
    /// Output directory (report.md, report.json, report.csv, plots, samples/).
    #[arg(long, default_value = "probe", value_name = "DIR")]
    pub out: PathBuf,
}

impl ProbeArgs {
    /// The experiment's configuration (the command line recorded in run.json).
    pub fn config(&self) -> Config {
        Config {
            model: self.model.clone(),
            assets: assets_dir(),
            codec: self.codec.clone(),
            qualities: self.qualities.clone(),
            control_codec: self.control_codec.clone(),
            controls: !self.no_controls,
            prompts: self.prompts.clone(),
            samples: self.samples,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
            text: self.text.clone(),
            ppl_tokens: self.ppl_tokens,
            ctx: self.ctx,
            batch_rows: self.batch_rows,
            quick: self.quick,
            quantized: self.quantized,
            out: self.out.clone(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }
}

/// Runs `probe`.
pub fn run(a: &ProbeArgs) -> Result<()> {
    let p = probe::run(&a.config(), &Bar::new(false))?;
    eprintln!(
        "probe: report in {} ({:.1} s in all)",
        a.out.join("report.md").display(),
        p.timing.total
    );
    Ok(())
}
