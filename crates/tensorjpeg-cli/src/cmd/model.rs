//! What the model commands (`perplexity`, `generate`, `embed`) share: which model, and the
//! codec hooks on its input embeddings and weights.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use tensorjpeg_models::hooks::{parse_spec_rate, CodecHook, EmbedHook, NoiseHook};
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

/// The assets directory (`TENSORJPEG_ASSETS` or `./assets`).
pub fn assets_dir() -> PathBuf {
    std::env::var_os("TENSORJPEG_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("assets"))
}

/// The default language model: SmolLM2-135M-Instruct (Q4_1 GGUF) from the assets.
pub fn default_lm() -> PathBuf {
    assets_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Model selection and codec hooks.
#[derive(Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// Model: a .gguf file (llama family), a GPT-2 .safetensors file, or a model directory
    /// (default: assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Pass token embeddings through this codec before the first block:
    /// SPEC[@q=Q|@bits=B|@snr=DB], e.g. `jpeg:tworow@q=50` (seed 003) or `native:rows@bits=4`.
    #[arg(long, value_name = "SPEC")]
    pub embed_codec: Option<String>,
    /// Add Gaussian noise to token embeddings at this SNR (dB), the control for --embed-codec.
    #[arg(long, value_name = "DB", conflicts_with = "embed_codec")]
    pub embed_noise: Option<f64>,
    /// Compress → decompress the model's weights on load: SPEC[@q=Q|@bits=B|@snr=DB].
    #[arg(long, value_name = "SPEC")]
    pub weight_codec: Option<String>,
    /// Which weights --weight-codec applies to (regex; default all matrices).
    #[arg(long, value_name = "REGEX")]
    pub weight_include: Option<String>,
    /// Replace the model's tensors by those of a tensorjpeg container (same names).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// GGUF: multiply with candle's quantized kernels instead of dequantizing to f32
    /// (f32 is faster for prefill on CPU; see docs/PERFORMANCE.md).
    #[arg(long, conflicts_with = "compute")]
    pub quantized: bool,
    /// Run every linear layer and the output head from a compute format with tensorjpeg's
    /// integer kernels: FORMAT[,requant][,dense=N], FORMAT one of q8_0, q4_0, q4_1, nl4,
    /// nl4h, nl3, nl3h. GGUF Q8_0/Q4_0/Q4_1 tensors keep their own blocks bit for bit unless `requant`;
    /// products of N rows or more (prefill, default 16) dequantize and run the dense gemm.
    /// See docs/FORMAT.md "Compute formats".
    #[arg(long, value_name = "SPEC")]
    pub compute: Option<String>,
    /// With --compute: per-tensor formats, REGEX=FORMAT or REGEX=keep (the file's own
    /// Q8_0/Q4_0/Q4_1 blocks), first match wins; e.g. `token_embd=keep` keeps the tied
    /// embedding/head of a GGUF as it is, `ffn_down=nl4h` gives those matrices 4.5 bits.
    #[arg(long, value_name = "RULE", requires = "compute")]
    pub compute_rule: Vec<String>,
    /// With --compute: calibrate on the last --compute-calibration-tokens tokens of TEXT
    /// first, and quantize every matrix that goes into the compute format (all of them with
    /// `requant`) with error feedback through its inputs' second moments (GPTQ), so each
    /// layer's output error is minimised instead of its weights'. Score on other text.
    #[arg(long, value_name = "TEXT", requires = "compute")]
    pub compute_calibration: Option<PathBuf>,
    /// Tokens of --compute-calibration text (from its end), in windows of 512.
    #[arg(long, value_name = "N", default_value_t = 8192)]
    pub compute_calibration_tokens: usize,
    /// What --compute-calibration drives: `gptq` (error feedback through each layer's
    /// E[xxᵀ]) or `imatrix` (only E[xⱼ²], as per-column importance in each block's scale
    /// search, as llama.cpp's importance matrix; not for the rotated nl4h/nl3h).
    #[arg(long, value_name = "MODE", default_value = "gptq", value_parser = ["gptq", "imatrix"])]
    pub compute_calibration_mode: String,
    /// Seed of the noise hook.
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
}

impl ModelArgs {
    /// The weight options these flags describe.
    pub fn weight_options(&self) -> Result<WeightOptions> {
        let codec = match &self.weight_codec {
            None => None,
            Some(s) => {
                let (spec, rate) =
                    parse_spec_rate(s).with_context(|| format!("--weight-codec {s}"))?;
                tensorjpeg_io::registry()
                    .build(&spec)
                    .with_context(|| format!("--weight-codec {s}"))?;
                Some((spec, rate))
            }
        };
        let include = match &self.weight_include {
            None => None,
            Some(r) => Some(
                regex::Regex::new(r)
                    .with_context(|| format!("--weight-include {r:?} is not a valid regex"))?,
            ),
        };
        if include.is_some() && codec.is_none() {
            bail!("--weight-include needs --weight-codec");
        }
        Ok(WeightOptions {
            codec,
            include,
            exclude: None,
            container: self.weights.clone(),
            dequantize: !self.quantized,
            compute: self
                .compute
                .as_deref()
                .map(tensorjpeg_models::compute::ComputeSpec::parse)
                .transpose()
                .context("--compute")?,
        })
    }

    /// The embedding hook these flags describe, if any.
    pub fn hook(&self) -> Result<Option<Arc<dyn EmbedHook>>> {
        if let Some(s) = &self.embed_codec {
            let h = CodecHook::parse(s).with_context(|| format!("--embed-codec {s}"))?;
            return Ok(Some(Arc::new(h)));
        }
        if let Some(db) = self.embed_noise {
            if !db.is_finite() {
                bail!("--embed-noise {db}: expected a finite SNR in dB");
            }
            return Ok(Some(Arc::new(NoiseHook {
                snr_db: db,
                seed: self.noise_seed,
            })));
        }
        Ok(None)
    }

    /// The model path (default SmolLM2).
    pub fn path(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_lm)
    }

    /// Loads the language model with hooks and weight options applied.
    pub fn load_lm(&self) -> Result<Box<dyn LanguageModel>> {
        let path = self.path();
        if !path.exists() {
            bail!(
                "model {} not found{}",
                path.display(),
                if self.model.is_none() {
                    " (run scripts/fetch-assets.sh, or pass --model)"
                } else {
                    ""
                }
            );
        }
        let mut opts = self.weight_options()?;
        if let Some(spec) = opts.compute.as_mut() {
            for r in &self.compute_rule {
                spec.rules.push(r.parse()?);
            }
        }
        if let Some(text) = &self.compute_calibration {
            let grams = Arc::new(self.calibrate(&path, &opts, text)?);
            if let Some(spec) = opts.compute.as_mut() {
                spec.feedback = Some(grams);
                spec.diagonal_only = self.compute_calibration_mode == "imatrix";
            }
        }
        let mut m = tensorjpeg_models::load(&path, &opts)?;
        m.set_embed_hook(self.hook()?);
        Ok(m)
    }

    /// Each linear layer's input second moment on the calibration text, from the model
    /// loaded as f32 (with the same weight options but no compute format).
    fn calibrate(
        &self,
        path: &std::path::Path,
        opts: &WeightOptions,
        text: &std::path::Path,
    ) -> Result<std::collections::HashMap<String, Arc<tensorjpeg::Gram>>> {
        let n = self.compute_calibration_tokens;
        if n < 2 {
            bail!("--compute-calibration-tokens {n}: need at least 2");
        }
        let plain = WeightOptions {
            compute: None,
            dequantize: true,
            ..opts.clone()
        };
        let mut m = tensorjpeg_models::load(path, &plain)
            .with_context(|| format!("loading {} to calibrate", path.display()))?;
        let body = tensorjpeg_models::text::read_text(text)?;
        let ids = m.tokenizer().encode(&body)?;
        let ids = &ids[ids.len().saturating_sub(n)..];
        if ids.len() < 2 {
            bail!("{}: fewer than 2 tokens to calibrate on", text.display());
        }
        let ctx = 512.min(ids.len()).min(m.config().context);
        let window = tensorjpeg_models::eval::Window { ctx, stride: ctx };
        let cal = tensorjpeg_models::calibrate::calibrate_lm(m.as_mut(), ids, window, true)
            .with_context(|| format!("calibrating on {}", text.display()))?;
        Ok(cal.input_gram)
    }
}
