//! The language-model interface every causal LM implements, its KV cache, and [`load`],
//! which opens whatever `--model` points at.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use tensorjpeg_kernels::QMatrix;

use crate::hooks::EmbedHook;
use crate::linear::Linear;
use crate::tokenizer::Tokenizer;
use crate::weights::WeightReport;
use crate::{Error, Result};

/// Shape facts of a loaded LM.
#[derive(Debug, Clone, PartialEq)]
pub struct LmConfig {
    /// Architecture name (`llama`, `gpt2`).
    pub arch: String,
    /// Vocabulary size (rows of the embedding table and of the logits).
    pub vocab: usize,
    /// Model width.
    pub dim: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Longest sequence the model handles (positions).
    pub context: usize,
}

/// Per-layer keys and values of the positions seen so far, `(batch, kv_heads, len, head_dim)`.
///
/// Each layer's keys and values live in buffers with room to grow along the position axis
/// (doubling when full), so appending a token writes only that token instead of copying the
/// whole history (`Tensor::cat` per step made batched sampling quadratic in length).
#[derive(Debug, Default)]
pub struct Cache {
    /// One entry per layer, `None` before the first token: the key and value buffers, whose
    /// first `len` positions are valid.
    pub layers: Vec<Option<(Tensor, Tensor)>>,
    /// Positions already in the cache.
    pub len: usize,
}

impl Clone for Cache {
    /// A deep copy: appends write into the buffers in place, so clones must not share them.
    fn clone(&self) -> Self {
        Cache {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    l.as_ref().map(|(k, v)| {
                        (
                            k.copy().expect("copying a CPU tensor"),
                            v.copy().expect("copying a CPU tensor"),
                        )
                    })
                })
                .collect(),
            len: self.len,
        }
    }
}

impl Cache {
    /// An empty cache for `layers` blocks.
    pub fn new(layers: usize) -> Self {
        Cache {
            layers: vec![None; layers],
            len: 0,
        }
    }

    /// Keeps only the sequences `keep` (indices into the batch, in the new order), e.g. to
    /// drop finished samples from a batch.
    pub fn retain(&mut self, keep: &[usize]) -> Result<()> {
        let ids: Vec<u32> = keep.iter().map(|&i| i as u32).collect();
        let ids = Tensor::from_vec(ids, (keep.len(),), &candle_core::Device::Cpu)?;
        for l in self.layers.iter_mut().flatten() {
            let b = l.0.dim(0)?;
            if let Some(&bad) = keep.iter().find(|&&i| i >= b) {
                return Err(Error::Input(format!(
                    "cache retain: sequence {bad} of a batch of {b}"
                )));
            }
            *l = (l.0.index_select(&ids, 0)?, l.1.index_select(&ids, 0)?);
        }
        Ok(())
    }

    /// Appends `k`, `v` (`(b, h, t, d)`) after the `len` cached positions of layer `i` and
    /// returns views of all `len + t` keys and values. The caller increments `len` once all
    /// layers have appended.
    pub fn append(&mut self, i: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let t = k.dim(2)?;
        let need = self.len + t;
        let grow = |old: Option<&Tensor>, new: &Tensor| -> Result<Tensor> {
            let cap = old.map(|o| o.dim(2)).transpose()?.unwrap_or(0);
            if cap >= need {
                return Ok(old.expect("capacity implies a buffer").clone());
            }
            let mut shape = new.dims().to_vec();
            shape[2] = need.max(2 * cap).max(64);
            let buf = Tensor::zeros(shape, new.dtype(), new.device())?;
            if let Some(o) = old {
                if self.len > 0 {
                    buf.slice_set(&o.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                }
            }
            Ok(buf)
        };
        let (kb, vb) = match self.layers[i].take() {
            None => (grow(None, &k)?, grow(None, &v)?),
            Some((ok, ov)) => {
                if ok.dims()[..2] != k.dims()[..2] || ok.dim(3)? != k.dim(3)? {
                    return Err(Error::Input(format!(
                        "cache holds keys of shape {:?}, new keys are {:?}",
                        ok.dims(),
                        k.dims()
                    )));
                }
                (grow(Some(&ok), &k)?, grow(Some(&ov), &v)?)
            }
        };
        kb.slice_set(&k.contiguous()?, 2, self.len)?;
        vb.slice_set(&v.contiguous()?, 2, self.len)?;
        let out = (kb.narrow(2, 0, need)?, vb.narrow(2, 0, need)?);
        self.layers[i] = Some((kb, vb));
        Ok(out)
    }
}

/// What every language model holds beside its blocks: shape facts, tokenizer, input
/// embedding table, the hook on it, and what a weight codec did on load. A model keeps one
/// and [`LanguageModel`]'s accessors read it.
pub struct LmParts {
    /// Shape facts.
    pub cfg: LmConfig,
    /// The tokenizer.
    pub tok: Tokenizer,
    /// The input embedding table `(vocab, dim)`.
    pub embed: EmbedTable,
    /// The hook applied to token embeddings before the first block, if any.
    pub hook: Option<Arc<dyn EmbedHook>>,
    /// What the codec did to the weights on load.
    pub reports: Vec<WeightReport>,
}

/// A causal language model.
pub trait LanguageModel: Send + Sync {
    /// The parts every model shares ([`LmParts`]).
    fn parts(&self) -> &LmParts;
    /// The same, mutable.
    fn parts_mut(&mut self) -> &mut LmParts;
    /// Final hidden states `(batch, t, dim)` for input embeddings `x` (`(batch, t, dim)`,
    /// before any position embedding): the blocks and the final norm, extending `cache`
    /// (already checked by [`begin_step`] / [`begin_embeds_step`]).
    fn blocks(&self, x: &Tensor, cache: &mut Cache) -> Result<Tensor>;
    /// The output head (hidden states → logits).
    fn head(&self) -> &Linear;
    /// One line for reports: architecture, size, weight kernels.
    fn describe(&self) -> String;

    /// Shape facts.
    fn config(&self) -> &LmConfig {
        &self.parts().cfg
    }
    /// Its tokenizer.
    fn tokenizer(&self) -> &Tokenizer {
        &self.parts().tok
    }
    /// Logits `(batch, keep, vocab)` of the last `keep` positions for `tokens` (`batch × t`,
    /// row-major), which continue the sequences in `cache` (positions `cache.len ..`);
    /// appends them to the cache. Errors if `cache.len + t` exceeds the context. The head is
    /// the largest matrix, so scoring only the positions that count saves time.
    fn forward_last(
        &self,
        tokens: &[u32],
        batch: usize,
        cache: &mut Cache,
        keep: usize,
    ) -> Result<Tensor> {
        let p = self.parts();
        let t = begin_step(&p.cfg, tokens, batch, cache)?;
        let x = p.embed.lookup(tokens, p.hook.as_ref())?;
        let h = self.blocks(&x.reshape((batch, t, p.cfg.dim))?, cache)?;
        tail_logits(&h, self.head(), keep)
    }
    /// Logits `(batch, keep, vocab)` of the last `keep` positions for input embeddings `x`
    /// (`(batch, t, dim)`: token-embedding rows, before any position embedding), continuing
    /// the sequences in `cache`. No hook is applied: the caller chose the rows (the probe
    /// feeds each sequence rows of its own codec-altered table).
    fn forward_embeds(&self, x: &Tensor, cache: &mut Cache, keep: usize) -> Result<Tensor> {
        begin_embeds_step(self.config(), x, cache)?;
        let h = self.blocks(x, cache)?;
        tail_logits(&h, self.head(), keep)
    }
    /// Logits `(batch, t, vocab)` of every position ([`LanguageModel::forward_last`] with
    /// `keep = t`).
    fn forward(&self, tokens: &[u32], batch: usize, cache: &mut Cache) -> Result<Tensor> {
        let t = tokens.len() / batch.max(1);
        self.forward_last(tokens, batch, cache, t)
    }
    /// Sets (or clears) the hook applied to token embeddings before the first block.
    fn set_embed_hook(&mut self, hook: Option<Arc<dyn EmbedHook>>) {
        self.parts_mut().hook = hook;
    }
    /// The input embedding table `(vocab, dim)` as f32 values, before any hook (a copy of
    /// the values when the table is held in a compute format).
    fn embeddings(&self) -> Result<Tensor> {
        self.parts().embed.to_dense()
    }
    /// What the codec did to the weights on load (empty if nothing).
    fn weight_reports(&self) -> &[WeightReport] {
        &self.parts().reports
    }
    /// A fresh KV cache.
    fn new_cache(&self) -> Cache {
        Cache::new(self.config().layers)
    }
    /// Every weight matrix with the name of its tensor in the model file (for calibration
    /// taps); the default has none.
    fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        Vec::new()
    }
}

/// Checks one forward step's input against the model and its cache, and readies the cache:
/// `tokens` must split into `batch` sequences of ids inside the vocabulary that fit the
/// context after the cached positions, and a non-empty cache must hold this model's blocks
/// and `batch` sequences. Returns the tokens per sequence.
pub fn begin_step(
    cfg: &LmConfig,
    tokens: &[u32],
    batch: usize,
    cache: &mut Cache,
) -> Result<usize> {
    if batch == 0 || tokens.is_empty() || !tokens.len().is_multiple_of(batch) {
        return Err(Error::Input(format!(
            "{} tokens do not split into {batch} equal sequences",
            tokens.len()
        )));
    }
    let t = tokens.len() / batch;
    if let Some(&bad) = tokens.iter().find(|&&id| id as usize >= cfg.vocab) {
        return Err(Error::Input(format!(
            "token id {bad} outside the vocabulary of {}",
            cfg.vocab
        )));
    }
    ready_cache(cfg, batch, t, cache)?;
    Ok(t)
}

/// Like [`begin_step`] for input embeddings `x` `(batch, t, dim)`: checks the width and
/// readies the cache. Returns `(batch, t)`.
pub fn begin_embeds_step(cfg: &LmConfig, x: &Tensor, cache: &mut Cache) -> Result<(usize, usize)> {
    let (batch, t, dim) = x.dims3().map_err(|_| {
        Error::Input(format!(
            "input embeddings of shape {:?}, expected (batch, tokens, {})",
            x.dims(),
            cfg.dim
        ))
    })?;
    if dim != cfg.dim || batch == 0 || t == 0 {
        return Err(Error::Input(format!(
            "input embeddings of shape {:?}, expected (batch ≥ 1, tokens ≥ 1, {})",
            x.dims(),
            cfg.dim
        )));
    }
    ready_cache(cfg, batch, t, cache)?;
    Ok((batch, t))
}

/// A non-empty cache must hold this model's blocks and `batch` sequences, and `t` more
/// positions must fit the context.
fn ready_cache(cfg: &LmConfig, batch: usize, t: usize, cache: &mut Cache) -> Result<()> {
    if cache.layers.len() != cfg.layers {
        if cache.len != 0 {
            return Err(Error::Input(format!(
                "KV cache of {} blocks, this model has {}",
                cache.layers.len(),
                cfg.layers
            )));
        }
        *cache = Cache::new(cfg.layers);
    }
    if let Some(Some((k, _))) = cache.layers.first() {
        if k.dim(0)? != batch {
            return Err(Error::Input(format!(
                "KV cache holds {} sequences, {batch} given",
                k.dim(0)?
            )));
        }
    }
    check_context(cache.len, t, cfg.context)
}

/// An input embedding table: f32 values, or the blocks of a compute format that a lookup
/// decodes row by row (the table a tied output head multiplies from, shared with it), so
/// that the model holds no f32 copy of its largest matrix.
#[derive(Clone)]
pub enum EmbedTable {
    /// `(vocab, dim)` f32 values.
    Dense(Tensor),
    /// The rows of a compute-format matrix.
    Packed(Arc<QMatrix>),
}

impl EmbedTable {
    /// Every row as f32 values (for a packed table, a decoded copy).
    pub fn to_dense(&self) -> Result<Tensor> {
        match self {
            EmbedTable::Dense(t) => Ok(t.clone()),
            EmbedTable::Packed(m) => Ok(Tensor::from_vec(
                m.dequantize(),
                (m.rows(), m.cols()),
                &Device::Cpu,
            )?),
        }
    }

    /// The rows for `tokens`, as `(tokens, dim)`, passed through the embedding hook if
    /// there is one; a token past the vocabulary is an error.
    pub fn lookup(&self, tokens: &[u32], hook: Option<&Arc<dyn EmbedHook>>) -> Result<Tensor> {
        match self {
            EmbedTable::Dense(t) => embed_tokens(t, tokens, hook),
            EmbedTable::Packed(m) => {
                let dim = m.cols();
                let mut v = vec![0f32; tokens.len() * dim];
                m.dequantize_rows(tokens, &mut v).map_err(|e| {
                    Error::Input(format!(
                        "embedding lookup in a vocabulary of {}: {e}",
                        m.rows()
                    ))
                })?;
                if let Some(h) = hook {
                    h.apply(&mut v, tokens.len(), dim)?;
                }
                Ok(Tensor::from_vec(v, (tokens.len(), dim), &Device::Cpu)?)
            }
        }
    }
}

/// The rows of `table` (`(vocab, dim)`) for `tokens`, as `(tokens, dim)`, passed through
/// the embedding hook if there is one.
pub fn embed_tokens(
    table: &Tensor,
    tokens: &[u32],
    hook: Option<&Arc<dyn EmbedHook>>,
) -> Result<Tensor> {
    let ids = Tensor::from_slice(tokens, (tokens.len(),), table.device())?;
    let x = table.index_select(&ids, 0)?;
    let Some(h) = hook else {
        return Ok(x);
    };
    let dim = table.dim(1)?;
    let mut v: Vec<f32> = x.flatten_all()?.to_vec1()?;
    h.apply(&mut v, tokens.len(), dim)?;
    Ok(Tensor::from_vec(v, (tokens.len(), dim), table.device())?)
}

/// Additive causal mask `(rep·t, pos + t)` for `t` new positions after `pos` cached ones,
/// with the `t` query rows repeated `rep` times (grouped-query heads folded into the query
/// length): row `r` is position `pos + r % t`. `None` for a single new position.
pub fn causal_mask(t: usize, pos: usize, rep: usize) -> Result<Option<Tensor>> {
    if t <= 1 {
        return Ok(None);
    }
    let total = pos + t;
    let m: Vec<f32> = (0..rep * t)
        .flat_map(|r| {
            let qi = pos + r % t;
            (0..total).map(move |j| if j > qi { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    Ok(Some(Tensor::from_vec(
        m,
        (rep * t, total),
        &candle_core::Device::Cpu,
    )?))
}

/// Logits of the last `keep` positions of hidden states `x` (`(batch, t, dim)`) through
/// `head`: the output head is the largest matrix, so only the positions that count go in.
pub fn tail_logits(x: &Tensor, head: &crate::linear::Linear, keep: usize) -> Result<Tensor> {
    let t = x.dim(1)?;
    let keep = keep.clamp(1, t);
    let x = if keep == t {
        x.clone()
    } else {
        x.narrow(1, t - keep, keep)?.contiguous()?
    };
    head.forward(&x)
}

/// Checks that `t` more positions fit after `cache_len` in a context of `context`.
pub fn check_context(cache_len: usize, t: usize, context: usize) -> Result<()> {
    if cache_len + t > context {
        return Err(Error::Input(format!(
            "sequence of {} tokens exceeds the model's context of {context}",
            cache_len + t
        )));
    }
    Ok(())
}
