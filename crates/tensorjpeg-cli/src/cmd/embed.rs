//! `tensorjpeg embed`: sentence embeddings (MiniLM / BERT), one sentence per line → .npy.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use tensorjpeg_models::bert::Embedder;

use super::model::assets_dir;

/// Arguments of `embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// Sentence-embedding model directory (model.safetensors, config.json, tokenizer.json);
    /// BERT (MiniLM) or MPNet (all-mpnet-base-v2: `fetch-assets.sh --with mpnet`); default
    /// assets/minilm.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Text file, one sentence per line (empty lines skipped).
    #[arg(long)]
    pub text: PathBuf,
    /// Output .npy file, f32 [sentences, dim] (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Runs `embed`.
pub fn run(a: &EmbedArgs) -> Result<()> {
    if a.output.extension().and_then(|e| e.to_str()) != Some("npy") {
        bail!("{}: the output must be a .npy file", a.output.display());
    }
    super::check_output(&a.output, &[&a.text])?;
    let lines = tensorjpeg_models::text::read_lines(&a.text)?;
    let path = a
        .model
        .clone()
        .unwrap_or_else(|| assets_dir().join("minilm"));
    let m = Embedder::load(&path, &Default::default())
        .with_context(|| format!("loading {}", path.display()))?;
    let t0 = std::time::Instant::now();
    let v = m.embed(&lines)?;
    let secs = t0.elapsed().as_secs_f64();
    let t = tensorjpeg::Tensor::from_f32("embeddings", vec![lines.len(), m.dim()], v)?;
    tensorjpeg_io::write_tensors(&a.output, &[t])?;
    eprintln!(
        "{} sentences → {} [{} × {}] in {:.2} s ({:.0} sentences/s)",
        lines.len(),
        a.output.display(),
        lines.len(),
        m.dim(),
        secs,
        lines.len() as f64 / secs.max(1e-9)
    );
    Ok(())
}
