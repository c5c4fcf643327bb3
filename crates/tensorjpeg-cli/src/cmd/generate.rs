//! `tensorjpeg generate`: complete a prompt (greedy or sampled), optionally with the input
//! embeddings or weights through a codec.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use tensorjpeg_models::eval::{generate, Sampling};

use super::model::ModelArgs;

/// Arguments of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The prompt.
    #[arg(long)]
    pub prompt: String,
    /// New tokens.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Softmax temperature; 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Sample among the k most likely tokens only (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling: the smallest set of tokens with probability ≥ p.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Seed (the same seed gives the same text).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of samples (generated as one batch).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Keep generating past the end-of-sequence token (exactly --max-tokens steps, as
    /// `llama-bench`'s tg test does).
    #[arg(long)]
    pub ignore_eos: bool,
}

/// Runs `generate`.
pub fn run(a: &GenerateArgs) -> Result<()> {
    if a.prompt.is_empty() {
        bail!("--prompt is empty");
    }
    if a.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let t_load = std::time::Instant::now();
    let m = a.model.load_lm()?;
    let load_seconds = t_load.elapsed().as_secs_f64();
    let ids = m.tokenizer().encode(&a.prompt)?;
    let s = Sampling {
        max_tokens: a.max_tokens,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
        stop_at_eos: !a.ignore_eos,
    };
    let g = generate(&*m, &ids, a.samples, &s)?;
    let texts: Vec<String> = g
        .tokens
        .iter()
        .map(|t| m.tokenizer().decode(t))
        .collect::<Result<_, _>>()?;
    if a.json {
        let out = json!({
            "model": m.describe(),
            "prompt": a.prompt,
            "prompt_tokens": ids.len(),
            "completions": texts,
            "tokens": g.tokens,
            "seconds": g.seconds,
            "tokens_per_s": g.tokens_per_s,
            "load_seconds": load_seconds,
            "prefill_seconds": g.prefill_seconds,
            "prefill_tokens_per_s": g.prefill_tokens_per_s,
            "decode_steps": g.decode_steps,
            "decode_tokens_per_s": g.decode_tokens_per_s,
            "threads": tensorjpeg_models::compute::threads(),
            "max_rss_mib": max_rss_mib(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (i, t) in texts.iter().enumerate() {
            if a.samples > 1 {
                println!("--- sample {i}");
            }
            println!("{}{}", a.prompt, t);
        }
        eprintln!(
            "{} new tokens in {:.2} s ({:.1} tokens/s)",
            g.tokens.iter().map(Vec::len).sum::<usize>(),
            g.seconds,
            g.tokens_per_s
        );
    }
    Ok(())
}

/// Peak resident memory of this process, MiB (`VmHWM` of /proc/self/status; `null` where
/// there is no /proc).
fn max_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
