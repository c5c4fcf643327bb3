//! Calibration statistics: what a model's weights see on real text — how often each token
//! and position occurs, and the mean square of every linear layer's input per column
//! (`E[xⱼ²]`, llama.cpp's importance matrix). They weight a codec's squared error by how
//! much it reaches the model's output (`tensorjpeg::AxisWeights`).

use std::collections::HashMap;

use std::sync::Arc;

use tensorjpeg::Gram;

use crate::recorder::{Recorded, Recorder};

/// What a calibration run saw.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// Tokens seen.
    pub tokens: u64,
    /// Occurrences of each token id (the vocabulary's length).
    pub token_counts: Vec<f64>,
    /// Occurrences of each position (the model's position count).
    pub position_counts: Vec<f64>,
    /// `E[xⱼ²]` of the input of each linear layer, by its weight tensor's name.
    pub input_energy: HashMap<String, Vec<f64>>,
    /// `E[xⱼ]` of the input of each linear layer, by its weight tensor's name.
    pub input_mean: HashMap<String, Vec<f64>>,
    /// `E[x xᵀ]` of the input of each linear layer, by its weight tensor's name.
    pub input_gram: HashMap<String, Arc<Gram>>,
}

impl Calibration {
    /// The per-layer statistics of a [`Recorder`] (no counts yet).
    pub fn from_recorded(rec: HashMap<String, Recorded>) -> crate::Result<Calibration> {
        let mut c = Calibration::default();
        for (name, r) in rec {
            if !r.gram.is_empty() {
                let g = Gram::new(r.energy.len(), r.gram)
                    .map_err(|e| crate::Error::Input(format!("calibration of '{name}': {e}")))?;
                c.input_gram.insert(name.clone(), Arc::new(g));
            }
            c.input_mean.insert(name.clone(), r.mean);
            c.input_energy.insert(name, r.energy);
        }
        Ok(c)
    }
}

/// Runs `ids` through a language model in windows of `window.ctx` tokens every
/// `window.stride` and records what its weights see: token counts (the embedding table's
/// rows) and each linear layer's `E[xⱼ²]` — the tied head's under the embedding table's
/// name. Positions are not counted (the models here have no position table).
pub fn calibrate_lm(
    m: &mut dyn crate::lm::LanguageModel,
    ids: &[u32],
    window: crate::eval::Window,
    grams: bool,
) -> crate::Result<Calibration> {
    window.validate(m.config().context)?;
    let rec = std::sync::Arc::new(Recorder::new(grams));
    for (name, l) in m.linears_mut() {
        l.tap(&name, rec.clone());
    }
    let run = || -> crate::Result<()> {
        for (begin, end, _) in window.spans(ids.len()) {
            let mut cache = m.new_cache();
            // Every position's logits: the head sees every hidden state.
            m.forward(&ids[begin..end], 1, &mut cache)?;
        }
        Ok(())
    };
    let r = run();
    for (_, l) in m.linears_mut() {
        l.untap();
    }
    r?;
    let mut token_counts = vec![0f64; m.config().vocab];
    for &t in ids {
        if let Some(c) = token_counts.get_mut(t as usize) {
            *c += 1.0;
        }
    }
    let rec = std::sync::Arc::try_unwrap(rec).unwrap_or_default();
    Ok(Calibration {
        tokens: ids.len() as u64,
        token_counts,
        position_counts: Vec::new(),
        ..Calibration::from_recorded(rec.finish())?
    })
}
