//! The model sweep's judge for language models: next-token distributions of the compressed
//! model against the original file's, scored by the same runtime on the same windows.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tensorjpeg::Tensor;
use tensorjpeg_models::eval::{compare, perplexity};
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

use super::{Config, Judge, Metrics};
use crate::Progress;

/// The original model, its perplexity, and the scored tokens.
pub struct LmJudge {
    model: PathBuf,
    reference: Box<dyn LanguageModel>,
    ids: Vec<u32>,
    calibration: Vec<u32>,
    window: tensorjpeg_models::eval::Window,
    ppl: f64,
    probe: bool,
}

impl LmJudge {
    /// Loads the original model (GGUF weights dequantized to f32, the fast path) and
    /// tokenizes the first `cfg.tokens` tokens of the text.
    pub fn new(cfg: &Config) -> Result<Self> {
        let opts = WeightOptions {
            dequantize: true,
            ..Default::default()
        };
        let reference = tensorjpeg_models::load::load(&cfg.model, &opts)
            .with_context(|| format!("loading {}", cfg.model.display()))?;
        let text = tensorjpeg_models::text::read_text(&cfg.text)?;
        let all = reference.tokenizer().encode(&text)?;
        let ids: Vec<u32> = all[..cfg.tokens.min(all.len())].to_vec();
        if ids.len() < 2 {
            bail!("{}: fewer than 2 tokens", cfg.text.display());
        }
        // Calibration from the end of the text, never overlapping the scored tokens.
        let start = all
            .len()
            .saturating_sub(cfg.calibration_tokens)
            .max(ids.len());
        let calibration = all[start..].to_vec();
        let ppl = perplexity(reference.as_ref(), &ids, cfg.window, &|_, _| {})?.perplexity;
        Ok(LmJudge {
            model: cfg.model.clone(),
            reference,
            ids,
            calibration,
            window: cfg.window,
            ppl,
            probe: cfg.probe,
        })
    }
}

impl LmJudge {
    /// Scores `variant` on the judge's tokens against the original.
    fn score(&self, variant: &dyn LanguageModel) -> Result<Metrics> {
        let c = compare(
            self.reference.as_ref(),
            variant,
            &self.ids,
            self.window,
            &|_, _| {},
        )?;
        Ok(Metrics {
            perplexity: Some(c.ppl_variant),
            perplexity_rise: Some(c.ppl_variant / c.ppl_reference - 1.0),
            kl: Some(c.kl),
            top1_agreement: Some(c.top1_agreement),
            ..Default::default()
        })
    }
}

impl Judge for LmJudge {
    fn original(&self) -> Metrics {
        Metrics {
            perplexity: Some(self.ppl),
            perplexity_rise: Some(0.0),
            kl: Some(0.0),
            top1_agreement: Some(1.0),
            ..Default::default()
        }
    }

    fn judge(&self, container: &Path) -> Result<Metrics> {
        let opts = WeightOptions {
            container: Some(container.to_path_buf()),
            dequantize: true,
            ..Default::default()
        };
        self.score(tensorjpeg_models::load::load(&self.model, &opts)?.as_ref())
    }

    fn judge_model(&self, model: &Path) -> Result<Metrics> {
        let opts = WeightOptions {
            dequantize: true,
            ..Default::default()
        };
        self.score(tensorjpeg_models::load::load(model, &opts)?.as_ref())
    }

    fn importance(
        &self,
        tensors: &[Tensor],
        grams: bool,
        progress: &dyn Progress,
    ) -> Result<crate::sensitivity::Importance> {
        if self.calibration.len() < 2 {
            bail!("weighted points need calibration tokens beyond the scored ones");
        }
        let opts = WeightOptions {
            dequantize: true,
            ..Default::default()
        };
        let mut m = tensorjpeg_models::load::load(&self.model, &opts)?;
        crate::sensitivity::language_model(
            m.as_mut(),
            tensors,
            &self.calibration,
            self.window.ctx,
            self.probe,
            grams,
            progress,
        )
    }
}
