//! `tensorjpeg perplexity`: teacher-forced perplexity of a text under a model, optionally
//! with its input embeddings or weights through a codec.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use tensorjpeg_models::eval::{perplexity, Window};

use super::model::ModelArgs;
use super::{num, progress};

/// Arguments of `perplexity`.
#[derive(Args, Debug)]
pub struct PerplexityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Text file (UTF-8), e.g. assets/text/enwiki.txt.
    #[arg(long)]
    pub text: PathBuf,
    /// Window length in tokens.
    #[arg(long, default_value_t = 512)]
    pub ctx: usize,
    /// Step between windows (each token is scored once, with up to ctx − stride of context).
    #[arg(long, default_value_t = 256)]
    pub stride: usize,
    /// Only the first N tokens of the text.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Runs `perplexity`.
pub fn run(a: &PerplexityArgs) -> Result<()> {
    let text = tensorjpeg_models::text::read_text(&a.text)?;
    let m = a.model.load_lm()?;
    let mut ids = m.tokenizer().encode(&text)?;
    if let Some(n) = a.max_tokens {
        if n < 2 {
            bail!("--max-tokens {n}: need at least 2");
        }
        ids.truncate(n);
    }
    let win = Window {
        ctx: a.ctx,
        stride: a.stride,
    };
    win.validate(m.config().context)?;
    let pb = progress(win.spans(ids.len()).len(), a.json, "windows");
    let r = perplexity(&*m, &ids, win, &|i, _| pb.set_position(i as u64))?;
    pb.finish_and_clear();
    if a.json {
        let out = json!({
            "model": m.describe(),
            "text": a.text.display().to_string(),
            "embed_hook": a.model.hook()?.map(|h| h.describe()),
            "weight_reports": m.weight_reports().iter().map(|w| json!({
                "name": w.name, "bits_per_value": num(w.bits_per_value), "snr_db": num(w.snr_db)
            })).collect::<Vec<_>>(),
            "ctx": a.ctx,
            "stride": a.stride,
            "perplexity": num(r.perplexity),
            "mean_nll": num(r.mean_nll),
            "tokens": r.tokens,
            "processed_tokens": r.processed,
            "seconds": r.seconds,
            "tokens_per_s": num(r.tokens_per_s),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("model:      {}", m.describe());
        if let Some(h) = a.model.hook()? {
            println!("embeddings: {}", h.describe());
        }
        if !m.weight_reports().is_empty() {
            let n = m.weight_reports().len();
            let bits: f64 = m
                .weight_reports()
                .iter()
                .map(|w| w.bits_per_value)
                .sum::<f64>()
                / n as f64;
            println!("weights:    {n} tensors through the codec, mean {bits:.3} bits/value");
        }
        println!(
            "perplexity: {:.4} (mean NLL {:.4} nats) over {} tokens; {} processed in {:.1} s = {:.0} tokens/s",
            r.perplexity, r.mean_nll, r.tokens, r.processed, r.seconds, r.tokens_per_s
        );
    }
    Ok(())
}
