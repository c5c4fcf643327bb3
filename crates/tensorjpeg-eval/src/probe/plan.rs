//! The probe's shared types: what it is asked ([`Config`]), what that resolves to
//! ([`Plan`]), and what it measures ([`Setting`], [`Measured`], [`Timing`], [`Probe`]).
//! The steps in [`super`] produce them; [`super::report`] reads them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use tensorjpeg_models::eval::Sampling;

use super::measure::{GenStats, Table, TextScore};

/// The seed's prompt, and two more of other kinds (an explanation, a story).
pub const DEFAULT_PROMPTS: [&str; 3] = [
    "What is the meaning of life??",
    "The history of the printing press begins",
    "Once upon a time, in a small village by the sea,",
];

/// The default model, under the assets directory: SmolLM2-135M-Instruct (Q4_1 GGUF).
pub const DEFAULT_MODEL: &str = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default held-out text, under the assets directory.
pub const DEFAULT_TEXT: &str = "text/enwiki.txt";

/// What the probe is asked to do; one field per flag of `tensorjpeg probe` (the flag's
/// name is given where errors name it). `None` means the default, or the `quick` preset's.
#[derive(Debug, Clone)]
pub struct Config {
    /// Model: a .gguf file (llama family), a GPT-2 .safetensors file or a model directory
    /// (`--model`; default [`DEFAULT_MODEL`] under `assets`, dequantized to f32).
    pub model: Option<PathBuf>,
    /// The assets directory the defaults of `model` and `text` are taken from.
    pub assets: PathBuf,
    /// The codec on the input embeddings, at each quality (`--codec`).
    pub codec: String,
    /// Qualities, 1..=100 (`--qualities`; default 100,95,90,75,50,25,10,5,1, quick 90,50,10,1).
    pub qualities: Option<Vec<u8>>,
    /// The control codec run at the same bits per value as `codec`, headers excluded
    /// (`--control-codec`).
    pub control_codec: String,
    /// Whether to run the controls (Gaussian noise at matched cosine, control codec at
    /// matched bits); `--no-controls` clears it.
    pub controls: bool,
    /// A file of prompts, one per line, blank lines skipped (`--prompts`; default
    /// [`DEFAULT_PROMPTS`], quick: the first only).
    pub prompts: Option<PathBuf>,
    /// Samples per prompt per setting (`--samples`; default 20, quick 4).
    pub samples: Option<usize>,
    /// New tokens per sample (`--max-tokens`; default 200, quick 48).
    pub max_tokens: Option<usize>,
    /// Sampling temperature (seed 003: 0.8).
    pub temperature: f64,
    /// Top-k (seed 003: 50).
    pub top_k: usize,
    /// Top-p (seed 003: 0.95).
    pub top_p: f64,
    /// Seed of the sampling streams and of the noise control.
    pub seed: u64,
    /// Held-out text for perplexity, its last part used (`--text`; default [`DEFAULT_TEXT`]
    /// under `assets`).
    pub text: Option<PathBuf>,
    /// Tokens of held-out text scored per setting (`--ppl-tokens`; default 5000, quick 1000).
    pub ppl_tokens: Option<usize>,
    /// Perplexity window (tokens); windows advance by the same amount.
    pub ctx: usize,
    /// Most sequences sampled in one batch (`--batch-rows`).
    pub batch_rows: usize,
    /// The small preset for CI and demos; explicit values override it.
    pub quick: bool,
    /// GGUF: multiply with candle's quantized kernels instead of dequantized f32.
    pub quantized: bool,
    /// Output directory (report.md, report.json, report.csv, run.json, plots, samples/).
    pub out: PathBuf,
    /// The command line recorded in run.json.
    pub command: String,
}

impl Default for Config {
    /// The defaults of `tensorjpeg probe`, with assets in `assets/` and no command line.
    fn default() -> Config {
        Config {
            model: None,
            assets: PathBuf::from("assets"),
            codec: "jpeg:tworow:trunc".into(),
            qualities: None,
            control_codec: "native".into(),
            controls: true,
            prompts: None,
            samples: None,
            max_tokens: None,
            temperature: 0.8,
            top_k: 50,
            top_p: 0.95,
            seed: 0,
            text: None,
            ppl_tokens: None,
            ctx: 512,
            batch_rows: 160,
            quick: false,
            quantized: false,
            out: PathBuf::from("probe"),
            command: String::new(),
        }
    }
}

/// What a [`Config`] resolves to.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Codec qualities, in the order run.
    pub qualities: Vec<u8>,
    /// Prompts; the first is the one seed 003's cosine is measured on.
    pub prompts: Vec<String>,
    /// Samples per prompt per setting.
    pub samples: usize,
    /// Sampling settings (the seed is that of the first prompt's streams).
    pub sampling: Sampling,
    /// Tokens of held-out text to score.
    pub ppl_tokens: usize,
    /// The model file or directory.
    pub model: PathBuf,
    /// The held-out text file.
    pub text: PathBuf,
}

impl Config {
    /// Applies the defaults (or the quick preset) and checks every range and both codec
    /// specs, before any model is loaded.
    pub fn plan(&self) -> Result<Plan> {
        let q = self.quick;
        let qualities = self.qualities.clone().unwrap_or_else(|| {
            if q {
                vec![90, 50, 10, 1]
            } else {
                vec![100, 95, 90, 75, 50, 25, 10, 5, 1]
            }
        });
        if qualities.is_empty() {
            bail!("--qualities is empty");
        }
        if let Some(bad) = qualities.iter().find(|&&x| !(1..=100).contains(&x)) {
            bail!("--qualities: {bad} is outside 1..=100");
        }
        let prompts = match &self.prompts {
            Some(p) => {
                let lines = tensorjpeg_models::text::read_lines(p)
                    .with_context(|| format!("--prompts {}", p.display()))?;
                let v: Vec<String> = lines
                    .into_iter()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
                if v.is_empty() {
                    bail!("--prompts {}: no prompts (the file is empty)", p.display());
                }
                v
            }
            None if q => vec![DEFAULT_PROMPTS[0].to_string()],
            None => DEFAULT_PROMPTS.iter().map(|s| s.to_string()).collect(),
        };
        let samples = self.samples.unwrap_or(if q { 4 } else { 20 });
        if samples == 0 {
            bail!("--samples must be at least 1");
        }
        let max_tokens = self.max_tokens.unwrap_or(if q { 48 } else { 200 });
        if max_tokens == 0 {
            bail!("--max-tokens must be at least 1");
        }
        let ppl_tokens = self.ppl_tokens.unwrap_or(if q { 1000 } else { 5000 });
        if ppl_tokens < 2 {
            bail!("--ppl-tokens {ppl_tokens}: need at least 2");
        }
        if self.batch_rows == 0 {
            bail!("--batch-rows must be at least 1");
        }
        let sampling = Sampling {
            max_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
            stop_at_eos: true,
        };
        sampling.validate()?;
        // Codec specs are checked before the model loads.
        tensorjpeg_io::registry()
            .build(&self.codec)
            .with_context(|| format!("--codec {}", self.codec))?;
        if self.controls {
            tensorjpeg_io::registry()
                .build(&self.control_codec)
                .with_context(|| format!("--control-codec {}", self.control_codec))?;
        }
        Ok(Plan {
            qualities,
            prompts,
            samples,
            sampling,
            ppl_tokens,
            model: self
                .model
                .clone()
                .unwrap_or_else(|| self.assets.join(DEFAULT_MODEL)),
            text: self
                .text
                .clone()
                .unwrap_or_else(|| self.assets.join(DEFAULT_TEXT)),
        })
    }
}

/// What a setting is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The unaltered model.
    Clean,
    /// The probed codec (seed 003's JPEG by default).
    Codec,
    /// Gaussian noise at the codec's mean cosine.
    Noise,
    /// The control codec at the codec's bits per value.
    Control,
}

impl Role {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Clean => "clean",
            Role::Codec => "codec",
            Role::Noise => "noise",
            Role::Control => "control",
        }
    }
}

/// One altered embedding table and what it cost.
#[derive(Debug, Clone)]
pub struct Setting {
    /// What the setting is.
    pub role: Role,
    /// Codec spec (`clean`, the codec, `noise`, the control codec).
    pub codec: String,
    /// The codec quality this setting belongs to (None for clean).
    pub quality: Option<u8>,
    /// All-in bits per value the codec stores (None for noise).
    pub bits_per_value: Option<f64>,
    /// Without JPEG file headers.
    pub bits_per_value_no_headers: Option<f64>,
    /// Noise SNR (dB).
    pub snr_db: Option<f64>,
    /// The altered table.
    pub table: Table,
    /// Mean per-token cosine to the clean table, over the whole vocabulary.
    pub cosine_mean: f64,
    /// Minimum per-token cosine to the clean table, over the whole vocabulary.
    pub cosine_min: f64,
    /// Seed 003's figure: cosine of the flattened embeddings of the first prompt.
    pub prompt_cosine: f64,
}

impl Setting {
    /// Short file-name-safe label: `clean`, `codec-q50`, `noise-q50`, `control-q50`.
    pub fn label(&self) -> String {
        match self.quality {
            None => self.role.name().to_string(),
            Some(q) => format!("{}-q{q}", self.role.name()),
        }
    }
}

/// Everything measured for one setting.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The setting.
    pub setting: Setting,
    /// Its score on the held-out text.
    pub text: TextScore,
    /// Statistics of its samples, all prompts together.
    pub gen: GenStats,
    /// Per prompt, the decoded samples.
    pub texts: Vec<Vec<String>>,
}

/// Timings of the stages, seconds, and throughput.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Loading the model.
    pub load: f64,
    /// Building every setting's table.
    pub tables: f64,
    /// Scoring the held-out text under every table.
    pub perplexity: f64,
    /// Tokens scored per second, all settings together.
    pub perplexity_tokens_per_s: f64,
    /// Sampling.
    pub generation: f64,
    /// New tokens generated, all settings together.
    pub generated_tokens: usize,
    /// Sequence-steps per second of sampling (sequences × max tokens / seconds).
    pub generation_rows_per_s: f64,
    /// From the plan to the last measurement.
    pub total: f64,
}

/// A finished probe: what was asked, what was measured, and how long it took.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The configuration run.
    pub config: Config,
    /// What it resolved to.
    pub plan: Plan,
    /// The model, in one line ([`tensorjpeg_models::lm::LanguageModel::describe`]).
    pub model: String,
    /// The model's architecture name.
    pub arch: String,
    /// Tokens of held-out text scored.
    pub text_tokens: usize,
    /// Timings.
    pub timing: Timing,
    /// One entry per setting, the clean model first.
    pub measured: Vec<Measured>,
}
