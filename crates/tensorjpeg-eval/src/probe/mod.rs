//! The input-embedding probe (`tensorjpeg probe`): seed 003 as a measured experiment. A
//! codec (by default the seed's literal JPEG two-row layout with its numpy normalisation)
//! alters the model's input embeddings at each quality; two controls stand beside every
//! quality (Gaussian noise at the same mean cosine, and the native codec at the same bits
//! per value), and the clean model with the same sampling seeds. Every setting is scored on
//! held-out text (perplexity, KL, top-1 vs clean) and sampled (diversity and repetition
//! statistics); [`report`] writes the report.
//!
//! * [`plan`]: the types — [`Config`] in, [`Plan`], [`Setting`], [`Measured`], [`Timing`],
//!   [`Probe`] out;
//! * [`measure`]: altered embedding tables, scoring and batched sampling across tables;
//! * [`textstats`]: repetition and diversity of generated token sequences;
//! * [`report`]: report.md, report.json, report.csv, run.json, plots, samples/;
//! * [`run`]: the whole experiment, in named steps.

pub mod measure;
pub mod plan;
pub mod report;
pub mod textstats;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tensorjpeg::Rate;
use tensorjpeg_models::eval::{Sampling, Window};
use tensorjpeg_models::hooks::NoiseHook;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

use crate::Progress;
use measure::{code_table, noise_table, sample_tables, score_text, GenStats, Table, TextScore};
pub use plan::{
    Config, Measured, Plan, Probe, Role, Setting, Timing, DEFAULT_MODEL, DEFAULT_PROMPTS,
    DEFAULT_TEXT,
};

/// Runs the probe: resolves `config`, loads the model, builds every setting's table,
/// scores the held-out text, samples, and writes the report into `config.out`. Notes
/// (`probe: …` lines) and the two phases (perplexity windows, sample batches) go to
/// `progress`.
pub fn run(config: &Config, progress: &dyn Progress) -> Result<Probe> {
    let plan = prepare(config)?;
    let t_all = Instant::now();
    let mut timing = Timing::default();
    let t0 = Instant::now();
    let m = load(config, &plan)?;
    timing.load = t0.elapsed().as_secs_f64();
    note(
        progress,
        format!("{} (loaded in {:.1} s)", m.describe(), timing.load),
    );
    let prompt_ids = encode_prompts(&*m, &plan)?;
    let ids = heldout(&*m, &plan.text, plan.ppl_tokens)?;
    let settings = build_settings(config, &plan, &*m, &prompt_ids[0], &mut timing, progress)?;
    let scores = score(&*m, config, &settings, &ids, &mut timing, progress)?;
    let samples = sample(
        &*m,
        config,
        &plan,
        &settings,
        &prompt_ids,
        &mut timing,
        progress,
    )?;
    let measured = settings
        .into_iter()
        .zip(scores)
        .zip(samples)
        .map(|((setting, text), s)| Measured {
            setting,
            text,
            gen: GenStats::of(&s.tokens),
            texts: s.texts,
        })
        .collect();
    timing.total = t_all.elapsed().as_secs_f64();
    let probe = Probe {
        config: config.clone(),
        plan,
        model: m.describe(),
        arch: m.config().arch.clone(),
        text_tokens: ids.len(),
        timing,
        measured,
    };
    report::write(&config.out, &probe)?;
    Ok(probe)
}

fn note(progress: &dyn Progress, msg: String) {
    progress.note(&format!("probe: {msg}"));
}

/// The plan, the model and text checked to exist, the output directory created.
fn prepare(config: &Config) -> Result<Plan> {
    let plan = config.plan()?;
    if !plan.model.exists() {
        bail!(
            "model {} not found{}",
            plan.model.display(),
            if config.model.is_none() {
                " (run scripts/fetch-assets.sh, or pass --model)"
            } else {
                ""
            }
        );
    }
    if !plan.text.exists() {
        bail!("text {} not found (pass --text)", plan.text.display());
    }
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("creating {}", config.out.display()))?;
    Ok(plan)
}

fn load(config: &Config, plan: &Plan) -> Result<Box<dyn LanguageModel>> {
    let opts = WeightOptions {
        dequantize: !config.quantized,
        ..Default::default()
    };
    Ok(tensorjpeg_models::load(&plan.model, &opts)?)
}

fn encode_prompts(m: &dyn LanguageModel, plan: &Plan) -> Result<Vec<Vec<u32>>> {
    let tok = m.tokenizer();
    let prompt_ids: Vec<Vec<u32>> = plan
        .prompts
        .iter()
        .map(|p| tok.encode(p))
        .collect::<Result<_, _>>()?;
    if let Some((i, _)) = prompt_ids.iter().enumerate().find(|(_, p)| p.is_empty()) {
        bail!("prompt {} encodes to no tokens", i + 1);
    }
    Ok(prompt_ids)
}

/// The last `n` tokens of the text at `path`.
fn heldout(m: &dyn LanguageModel, path: &Path, n: usize) -> Result<Vec<u32>> {
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

/// The settings: clean, then per quality the codec and (unless disabled) its two controls.
fn build_settings(
    config: &Config,
    plan: &Plan,
    m: &dyn LanguageModel,
    seed_prompt: &[u32],
    timing: &mut Timing,
    progress: &dyn Progress,
) -> Result<Vec<Setting>> {
    let t0 = Instant::now();
    let clean = Table::clean(m)?;
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
        let c = code_table(&clean, &config.codec, Rate::Quality(q))
            .with_context(|| format!("--codec {} at quality {q}", config.codec))?;
        let s = finish(
            Role::Codec,
            &config.codec,
            q,
            Some((c.bits_per_value, c.bits_per_value_no_headers)),
            None,
            c.table,
        );
        note(
            progress,
            format!(
                "{} q{q}: cosine mean {:.5} min {:.5}, {:.3} bits/value all-in, {:.3} without headers",
                config.codec,
                s.cosine_mean,
                s.cosine_min,
                s.bits_per_value.unwrap_or(f64::NAN),
                s.bits_per_value_no_headers.unwrap_or(f64::NAN)
            ),
        );
        let (cos, bits) = (s.cosine_mean, s.bits_per_value_no_headers.unwrap_or(32.0));
        settings.push(s);
        if !config.controls {
            continue;
        }
        let snr = NoiseHook::snr_for_cosine(cos);
        let n = noise_table(&clean, snr, config.seed)?;
        settings.push(finish(Role::Noise, "noise", q, None, Some(snr), n));
        let c = code_table(
            &clean,
            &config.control_codec,
            Rate::Bits(bits.clamp(0.05, 32.0)),
        )
        .with_context(|| format!("--control-codec {} at {bits:.3} bits", config.control_codec))?;
        settings.push(finish(
            Role::Control,
            &config.control_codec,
            q,
            Some((c.bits_per_value, c.bits_per_value_no_headers)),
            None,
            c.table,
        ));
    }
    timing.tables = t0.elapsed().as_secs_f64();
    note(
        progress,
        format!(
            "{} settings built in {:.1} s",
            settings.len(),
            timing.tables
        ),
    );
    Ok(settings)
}

/// The held-out text `ids` under every table, against the clean one (the first).
fn score(
    m: &dyn LanguageModel,
    config: &Config,
    settings: &[Setting],
    ids: &[u32],
    timing: &mut Timing,
    progress: &dyn Progress,
) -> Result<Vec<TextScore>> {
    let t0 = Instant::now();
    let win = Window {
        ctx: config.ctx,
        stride: config.ctx,
    };
    let tables: Vec<&Table> = settings.iter().map(|s| &s.table).collect();
    progress.phase("perplexity windows", win.spans(ids.len()).len());
    let scores = score_text(m, &tables, ids, win, &|_, _| progress.advance(1))?;
    progress.finish();
    timing.perplexity = t0.elapsed().as_secs_f64();
    let processed: usize = win.spans(ids.len()).iter().map(|s| s.1 - s.0).sum();
    timing.perplexity_tokens_per_s =
        (processed * settings.len()) as f64 / timing.perplexity.max(1e-9);
    note(
        progress,
        format!(
            "perplexity on {} tokens × {} settings in {:.1} s ({:.0} tokens/s); clean {:.3}",
            ids.len(),
            settings.len(),
            timing.perplexity,
            timing.perplexity_tokens_per_s,
            scores[0].perplexity()
        ),
    );
    Ok(scores)
}

/// One setting's samples: per prompt, `samples` generations.
struct Samples {
    /// Token ids of every sample, all prompts in order.
    tokens: Vec<Vec<u32>>,
    /// Per prompt, the decoded samples.
    texts: Vec<Vec<String>>,
}

/// Every prompt under every table, settings packed into batches of at most
/// `config.batch_rows` sequences.
fn sample(
    m: &dyn LanguageModel,
    config: &Config,
    plan: &Plan,
    settings: &[Setting],
    prompt_ids: &[Vec<u32>],
    timing: &mut Timing,
    progress: &dyn Progress,
) -> Result<Vec<Samples>> {
    let t0 = Instant::now();
    let tok = m.tokenizer();
    let tables: Vec<&Table> = settings.iter().map(|s| &s.table).collect();
    let per_batch = (config.batch_rows / plan.samples).max(1);
    let mut out: Vec<Samples> = (0..settings.len())
        .map(|_| Samples {
            tokens: Vec::new(),
            texts: Vec::new(),
        })
        .collect();
    let batches = settings.len().div_ceil(per_batch);
    progress.phase("sample batches", batches * prompt_ids.len());
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
            let seqs_of = sample_tables(m, prompt, group, plan.samples, &s)?;
            for (j, seqs) in seqs_of.into_iter().enumerate() {
                let o = &mut out[bi * per_batch + j];
                timing.generated_tokens += seqs.iter().map(Vec::len).sum::<usize>();
                o.texts.push(
                    seqs.iter()
                        .map(|t| tok.decode(t))
                        .collect::<Result<_, _>>()?,
                );
                o.tokens.extend(seqs);
            }
            progress.advance(1);
        }
    }
    progress.finish();
    timing.generation = t0.elapsed().as_secs_f64();
    let rows_stepped =
        (settings.len() * plan.samples * prompt_ids.len()) as f64 * plan.sampling.max_tokens as f64;
    timing.generation_rows_per_s = rows_stepped / timing.generation.max(1e-9);
    note(
        progress,
        format!(
            "{} samples ({} new tokens) in {:.1} s ({:.0} sequence-steps/s)",
            settings.len() * plan.samples * prompt_ids.len(),
            timing.generated_tokens,
            timing.generation,
            timing.generation_rows_per_s
        ),
    );
    Ok(out)
}
