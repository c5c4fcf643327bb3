//! `tensorjpeg probe`: seed 003 as a measured experiment. A codec (by default the seed's
//! literal JPEG two-row layout with its numpy normalisation) alters the model's input
//! embeddings at each quality; two controls stand beside every quality (Gaussian noise at
//! the same mean cosine, and the native codec at the same bits per value), and the clean
//! model with the same sampling seeds. Every setting is scored on held-out text
//! (perplexity, KL, top-1 vs clean) and sampled (diversity and repetition statistics);
//! [`super::probe_report`] writes the report.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use tensorjpeg::Rate;
use tensorjpeg_eval::probe::measure::{
    code_table, noise_table, sample_tables, score_text, GenStats, Table, TextScore,
};
use tensorjpeg_models::eval::{Sampling, Window};
use tensorjpeg_models::hooks::NoiseHook;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

use super::model::{assets_dir, default_lm};
use super::probe_report;

/// The seed's prompt, and two more of other kinds (an explanation, a story).
pub const DEFAULT_PROMPTS: [&str; 3] = [
    "What is the meaning of life??",
    "The history of the printing press begins",
    "Once upon a time, in a small village by the sea,",
];

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

/// What `probe` resolved its flags to.
#[derive(Debug, Clone)]
pub struct Plan {
    pub qualities: Vec<u8>,
    pub prompts: Vec<String>,
    pub samples: usize,
    pub sampling: Sampling,
    pub ppl_tokens: usize,
    pub text: PathBuf,
}

impl ProbeArgs {
    /// Applies the defaults (or the --quick preset) and checks every range.
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
        if !self.no_controls {
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
            text: self
                .text
                .clone()
                .unwrap_or_else(|| assets_dir().join("text/enwiki.txt")),
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
pub struct Setting {
    pub role: Role,
    /// Codec spec (`clean`, the codec, `noise`, the control codec).
    pub codec: String,
    /// The codec quality this setting belongs to (None for clean).
    pub quality: Option<u8>,
    /// All-in bits per value the codec stores (None for clean and noise).
    pub bits_per_value: Option<f64>,
    /// Without JPEG file headers.
    pub bits_per_value_no_headers: Option<f64>,
    /// Noise SNR (dB).
    pub snr_db: Option<f64>,
    pub table: Table,
    /// Mean and min per-token cosine to the clean table, over the whole vocabulary.
    pub cosine_mean: f64,
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
pub struct Measured {
    pub setting: Setting,
    pub text: TextScore,
    pub gen: GenStats,
    /// Per prompt, the decoded samples.
    pub texts: Vec<Vec<String>>,
}

/// Timings of the stages, seconds, and throughput.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub load: f64,
    pub tables: f64,
    pub perplexity: f64,
    pub perplexity_tokens_per_s: f64,
    pub generation: f64,
    pub generated_tokens: usize,
    pub generation_rows_per_s: f64,
    pub total: f64,
}

fn heldout(m: &dyn LanguageModel, path: &std::path::Path, n: usize) -> Result<Vec<u32>> {
    let text = tensorjpeg_models::text::read_text(path)?;
    // The end of the file: take enough characters for n tokens (≈ 4 characters per token,
    // with margin), starting at a line boundary.
    let mut from = text.len().saturating_sub(n * 8);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let from = text[from..].find('\n').map_or(from, |i| from + i + 1);
    let from = if from >= text.len() { 0 } else { from };
    let mut ids = m.tokenizer().encode(&text[from..])?;
    if ids.len() < n {
        ids = m.tokenizer().encode(&text)?;
    }
    if ids.len() < 2 {
        bail!("{}: fewer than 2 tokens of text", path.display());
    }
    let start = ids.len().saturating_sub(n);
    Ok(ids[start..].to_vec())
}

fn log(msg: String) {
    eprintln!("probe: {msg}");
}

/// Runs `probe`.
pub fn run(a: &ProbeArgs) -> Result<()> {
    let plan = a.plan()?;
    let t_all = Instant::now();
    let mut timing = Timing::default();
    let path = a.model.clone().unwrap_or_else(default_lm);
    if !path.exists() {
        bail!(
            "model {} not found{}",
            path.display(),
            if a.model.is_none() {
                " (run scripts/fetch-assets.sh, or pass --model)"
            } else {
                ""
            }
        );
    }
    if !plan.text.exists() {
        bail!("text {} not found (pass --text)", plan.text.display());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let t0 = Instant::now();
    let opts = WeightOptions {
        dequantize: !a.quantized,
        ..Default::default()
    };
    let m = tensorjpeg_models::lm::load(&path, &opts)?;
    timing.load = t0.elapsed().as_secs_f64();
    log(format!("{} (loaded in {:.1} s)", m.describe(), timing.load));
    let tok = m.tokenizer();
    let prompt_ids: Vec<Vec<u32>> = plan
        .prompts
        .iter()
        .map(|p| tok.encode(p))
        .collect::<Result<_, _>>()?;
    if let Some((i, _)) = prompt_ids.iter().enumerate().find(|(_, p)| p.is_empty()) {
        bail!("prompt {} encodes to no tokens", i + 1);
    }
    let ids = heldout(&*m, &plan.text, plan.ppl_tokens)?;

    // Tables: clean, then per quality the codec and its two controls.
    let t0 = Instant::now();
    let clean = Table::clean(&*m)?;
    let seed_prompt = &prompt_ids[0];
    let mut settings = vec![Setting {
        role: Role::Clean,
        codec: "clean".into(),
        quality: None,
        bits_per_value: Some(32.0),
        bits_per_value_no_headers: Some(32.0),
        snr_db: None,
        prompt_cosine: 1.0,
        cosine_mean: 1.0,
        cosine_min: 1.0,
        table: clean.clone(),
    }];
    let finish = |role, codec: &str, q, bits: Option<(f64, f64)>, snr, table: Table| {
        let (cm, cmin) = table.cosines(&clean);
        Setting {
            role,
            codec: codec.to_string(),
            quality: Some(q),
            bits_per_value: bits.map(|b| b.0),
            bits_per_value_no_headers: bits.map(|b| b.1),
            snr_db: snr,
            prompt_cosine: table.sequence_cosine(&clean, seed_prompt),
            cosine_mean: cm,
            cosine_min: cmin,
            table,
        }
    };
    for &q in &plan.qualities {
        let c = code_table(&clean, &a.codec, Rate::Quality(q))
            .with_context(|| format!("--codec {} at quality {q}", a.codec))?;
        let s = finish(
            Role::Codec,
            &a.codec,
            q,
            Some((c.bits_per_value, c.bits_per_value_no_headers)),
            None,
            c.table,
        );
        log(format!(
            "{} q{q}: cosine mean {:.5} min {:.5}, {:.3} bits/value all-in, {:.3} without headers",
            a.codec,
            s.cosine_mean,
            s.cosine_min,
            s.bits_per_value.unwrap_or(f64::NAN),
            s.bits_per_value_no_headers.unwrap_or(f64::NAN)
        ));
        let (cos, bits) = (s.cosine_mean, s.bits_per_value_no_headers.unwrap_or(32.0));
        settings.push(s);
        if a.no_controls {
            continue;
        }
        let snr = NoiseHook::snr_for_cosine(cos);
        let n = noise_table(&clean, snr, a.seed)?;
        settings.push(finish(Role::Noise, "noise", q, None, Some(snr), n));
        let c = code_table(&clean, &a.control_codec, Rate::Bits(bits.clamp(0.05, 32.0)))
            .with_context(|| format!("--control-codec {} at {bits:.3} bits", a.control_codec))?;
        settings.push(finish(
            Role::Control,
            &a.control_codec,
            q,
            Some((c.bits_per_value, c.bits_per_value_no_headers)),
            None,
            c.table,
        ));
    }
    timing.tables = t0.elapsed().as_secs_f64();
    log(format!(
        "{} settings built in {:.1} s",
        settings.len(),
        timing.tables
    ));

    // Held-out text, every table against the clean one.
    let t0 = Instant::now();
    let win = Window {
        ctx: a.ctx,
        stride: a.ctx,
    };
    let tables: Vec<&Table> = settings.iter().map(|s| &s.table).collect();
    let pb = super::progress(win.spans(ids.len()).len(), false, "perplexity windows");
    let scores = score_text(&*m, &tables, &ids, win, &|i, _| pb.set_position(i as u64))?;
    pb.finish_and_clear();
    timing.perplexity = t0.elapsed().as_secs_f64();
    let processed: usize = win.spans(ids.len()).iter().map(|s| s.1 - s.0).sum();
    timing.perplexity_tokens_per_s =
        (processed * settings.len()) as f64 / timing.perplexity.max(1e-9);
    log(format!(
        "perplexity on {} tokens × {} settings in {:.1} s ({:.0} tokens/s); clean {:.3}",
        ids.len(),
        settings.len(),
        timing.perplexity,
        timing.perplexity_tokens_per_s,
        scores[0].perplexity()
    ));

    // Generations: every prompt under every table, settings packed into batches.
    let t0 = Instant::now();
    let per_batch = (a.batch_rows / plan.samples).max(1);
    let mut gens: Vec<Vec<Vec<u32>>> = vec![Vec::new(); settings.len()];
    let mut texts: Vec<Vec<Vec<String>>> = vec![Vec::new(); settings.len()];
    let batches = settings.len().div_ceil(per_batch);
    let pb = super::progress(batches * prompt_ids.len(), false, "sample batches");
    for (pi, prompt) in prompt_ids.iter().enumerate() {
        // Sample i of prompt p draws the same random stream under every setting.
        let s = Sampling {
            seed: plan
                .sampling
                .seed
                .wrapping_add((pi as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)),
            ..plan.sampling
        };
        for (bi, group) in tables.chunks(per_batch).enumerate() {
            let out = sample_tables(&*m, prompt, group, plan.samples, &s)?;
            for (j, seqs) in out.into_iter().enumerate() {
                let si = bi * per_batch + j;
                timing.generated_tokens += seqs.iter().map(Vec::len).sum::<usize>();
                texts[si].push(
                    seqs.iter()
                        .map(|t| tok.decode(t))
                        .collect::<Result<_, _>>()?,
                );
                gens[si].extend(seqs);
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    timing.generation = t0.elapsed().as_secs_f64();
    let rows_stepped =
        (settings.len() * plan.samples * prompt_ids.len()) as f64 * plan.sampling.max_tokens as f64;
    timing.generation_rows_per_s = rows_stepped / timing.generation.max(1e-9);
    log(format!(
        "{} samples ({} new tokens) in {:.1} s ({:.0} sequence-steps/s)",
        settings.len() * plan.samples * prompt_ids.len(),
        timing.generated_tokens,
        timing.generation,
        timing.generation_rows_per_s
    ));

    let measured: Vec<Measured> = settings
        .into_iter()
        .zip(scores)
        .zip(gens)
        .zip(texts)
        .map(|(((setting, text), g), texts)| Measured {
            setting,
            text,
            gen: GenStats::of(&g),
            texts,
        })
        .collect();
    timing.total = t_all.elapsed().as_secs_f64();
    let ctx = probe_report::Context {
        args: a,
        plan: &plan,
        model: m.describe(),
        arch: m.config().arch.clone(),
        text_tokens: ids.len(),
        timing,
    };
    probe_report::write(&a.out, &ctx, &measured)?;
    log(format!(
        "report in {} ({:.1} s in all)",
        a.out.join("report.md").display(),
        ctx.timing.total
    ));
    Ok(())
}
