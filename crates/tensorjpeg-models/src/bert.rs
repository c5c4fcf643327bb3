//! BERT-family sentence embeddings (all-MiniLM-L6-v2; MPNet's all-mpnet-base-v2, see
//! [`crate::mpnet`]) with sentence-transformers semantics.
//!
//! A model directory holds `model.safetensors`, `config.json` and `tokenizer.json` (and,
//! optionally, sentence-transformers' `sentence_bert_config.json`). Each sentence is
//! tokenized with the tokenizer's own post-processor (`[CLS] … [SEP]`), truncated to
//! [`Embedder::max_seq_length`] tokens, run through the encoder (absolute position
//! embeddings, token type 0, post-LayerNorm blocks, exact-erf GELU), mean-pooled over its
//! tokens and L2-normalised — what `SentenceTransformer.encode(...,
//! normalize_embeddings=True)` returns for this model.
//!
//! Sentences are batched without padding: a batch's tokens are packed row after row for
//! the weight products and attention runs within each sentence, so an embedding does not
//! depend on what it is batched with (beyond rounding). Batches run in parallel.
//!
//! Every weight matrix is a [`Linear`], weights load through [`Weights`] (so
//! [`WeightOptions`] can pass them through a codec or replace them from a container), and an
//! optional [`EmbedHook`] alters the word embeddings before the first block.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use regex::Regex;
use serde_json::Value;

use crate::calibrate::Calibration;
use crate::hooks::EmbedHook;
use crate::linear::Linear;
use crate::mpnet::{self, RelativeBias};
use crate::recorder::Recorder;
use crate::tokenizer::Tokenizer;
use crate::weights::{WeightOptions, WeightReport, Weights};
use crate::{Error, Result};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2 (tokens, `[CLS]` and
/// `[SEP]` included), used when the model directory has no `sentence_bert_config.json`.
pub const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// Sentences per forward pass by default.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// The feed-forward activation (`hidden_act` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact GELU, `x·Φ(x)` with the error function.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

/// The encoder family (`model_type` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// BERT (and MiniLM): absolute positions from 0, token-type embeddings.
    Bert,
    /// MPNet: positions from `pad_token_id + 1`, no token types, a relative position bias
    /// over `buckets` buckets in every block ([`crate::mpnet`]).
    MpNet {
        /// The padding token id (positions start one past it).
        pad_token_id: usize,
        /// Relative position buckets (`relative_attention_num_buckets`).
        buckets: usize,
    },
}

/// Hyper-parameters from a Hugging Face BERT or MPNet `config.json`.
#[derive(Debug, Clone)]
pub struct Config {
    /// BERT or MPNet.
    pub arch: Arch,
    /// Width of the hidden states (384 for MiniLM-L6).
    pub hidden_size: usize,
    /// Number of encoder blocks.
    pub num_hidden_layers: usize,
    /// Attention heads per block.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Rows of the position-embedding table: the longest input the model accepts.
    pub max_position_embeddings: usize,
    /// Vocabulary size, if the file states it (otherwise taken from the embedding table).
    pub vocab_size: Option<usize>,
    /// Rows of the token-type table.
    pub type_vocab_size: usize,
    /// Feed-forward activation.
    pub hidden_act: Activation,
}

impl Config {
    /// Reads `config.json`; errors name the file and the offending key.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not valid JSON: {e}")))?;
        let uint = |k: &str| -> Result<Option<usize>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x
                    .as_u64()
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| Error::format(path, format!("`{k}` is not an integer: {x}"))),
            }
        };
        let need = |k: &str| -> Result<usize> {
            uint(k)?.ok_or_else(|| Error::format(path, format!("`{k}` is missing")))
        };
        let act_name = v
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        let hidden_act = Activation::parse(act_name).ok_or_else(|| {
            Error::format(
                path,
                format!("hidden_act `{act_name}` is not supported (gelu, gelu_new, relu)"),
            )
        })?;
        if let Some(p) = v.get("position_embedding_type").and_then(Value::as_str) {
            if p != "absolute" {
                return Err(Error::format(
                    path,
                    format!("position_embedding_type `{p}` is not supported (absolute)"),
                ));
            }
        }
        let layer_norm_eps = match v.get("layer_norm_eps") {
            None => 1e-12,
            Some(x) => x.as_f64().ok_or_else(|| {
                Error::format(path, format!("`layer_norm_eps` is not a number: {x}"))
            })?,
        };
        let arch = match v.get("model_type").and_then(Value::as_str) {
            Some("mpnet") => Arch::MpNet {
                pad_token_id: uint("pad_token_id")?.unwrap_or(1),
                buckets: uint("relative_attention_num_buckets")?.unwrap_or(32),
            },
            _ => Arch::Bert,
        };
        if let Arch::MpNet { buckets, .. } = arch {
            if buckets < 4 {
                return Err(Error::format(
                    path,
                    format!("relative_attention_num_buckets {buckets} is below 4"),
                ));
            }
        }
        let cfg = Config {
            arch,
            hidden_size: need("hidden_size")?,
            num_hidden_layers: need("num_hidden_layers")?,
            num_attention_heads: need("num_attention_heads")?,
            intermediate_size: need("intermediate_size")?,
            layer_norm_eps,
            max_position_embeddings: uint("max_position_embeddings")?.unwrap_or(512),
            vocab_size: uint("vocab_size")?,
            type_vocab_size: uint("type_vocab_size")?.unwrap_or(2),
            hidden_act,
        };
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(Error::format(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    cfg.hidden_size, cfg.num_attention_heads
                ),
            ));
        }
        if cfg.type_vocab_size == 0 && cfg.arch == Arch::Bert {
            return Err(Error::format(path, "type_vocab_size is 0"));
        }
        Ok(cfg)
    }

    /// The position-table row of a sequence's first token (MPNet: `pad_token_id + 1`).
    pub fn position_offset(&self) -> usize {
        match self.arch {
            Arch::Bert => 0,
            Arch::MpNet { pad_token_id, .. } => pad_token_id + 1,
        }
    }

    /// The longest input in tokens the position table allows.
    pub fn max_positions(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }
}

/// LayerNorm over rows of `dim` values.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f64,
}

impl Norm {
    fn load(w: &Weights, name: &str, dim: usize, eps: f64) -> Result<Self> {
        Ok(Norm {
            weight: w.get(&format!("{name}.weight"), &[dim])?.to_vec1()?,
            bias: w.get(&format!("{name}.bias"), &[dim])?.to_vec1()?,
            eps,
        })
    }

    /// Normalises one row in place.
    fn row(&self, x: &mut [f32]) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        let (mean, inv) = (mean as f32, inv as f32);
        for ((v, &g), &b) in x.iter_mut().zip(&self.weight).zip(&self.bias) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// A weight matrix (the [`Linear`] seam, without bias) and its bias, which is added by
/// the fused element-wise step that follows the product.
struct Dense {
    linear: Linear,
    bias: Vec<f32>,
    inp: usize,
    /// The weight tensor's name (calibration statistics are keyed by it).
    name: String,
}

impl Dense {
    fn load(w: &Weights, prefix: &str, out: usize, inp: usize) -> Result<Self> {
        let name = format!("{prefix}.weight");
        Ok(Dense {
            linear: Linear::dense(w.get(&name, &[out, inp])?, None)?,
            bias: w.get(&format!("{prefix}.bias"), &[out])?.to_vec1()?,
            inp,
            name,
        })
    }

    /// `x · Wᵀ` for `x` of `rows × inp` values (the bias is not added); the input is
    /// recorded if a calibration is running.
    fn product(&self, x: &[f32], rec: Option<&Recorder>) -> Result<Vec<f32>> {
        if let Some(r) = rec {
            r.record(&self.name, x, self.inp)?;
        }
        let rows = x.len() / self.inp;
        let t = Tensor::from_slice(x, (rows, self.inp), &Device::Cpu)?;
        Ok(self.linear.forward(&t)?.flatten_all()?.to_vec1()?)
    }
}

/// Rows per parallel task of the element-wise steps.
const ROWS_PER_TASK: usize = 32;

/// One encoder block (post-LayerNorm, as in BERT).
struct Block {
    query: Dense,
    key: Dense,
    value: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    intermediate: Dense,
    output: Dense,
    out_norm: Norm,
}

impl Block {
    fn load(w: &Weights, p: &str, cfg: &Config) -> Result<Self> {
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        let names = match cfg.arch {
            Arch::Bert => mpnet::BERT_NAMES,
            Arch::MpNet { .. } => mpnet::MPNET_NAMES,
        };
        let [q, k, v, o] = names.qkvo;
        Ok(Block {
            query: Dense::load(w, &format!("{p}.{q}"), h, h)?,
            key: Dense::load(w, &format!("{p}.{k}"), h, h)?,
            value: Dense::load(w, &format!("{p}.{v}"), h, h)?,
            attn_out: Dense::load(w, &format!("{p}.{o}"), h, h)?,
            attn_norm: Norm::load(w, &format!("{p}.{}", names.attn_norm), h, eps)?,
            intermediate: Dense::load(w, &format!("{p}.intermediate.dense"), i, h)?,
            output: Dense::load(w, &format!("{p}.output.dense"), h, i)?,
            out_norm: Norm::load(w, &format!("{p}.output.LayerNorm"), h, eps)?,
        })
    }

    fn denses(&self) -> [&Dense; 6] {
        [
            &self.query,
            &self.key,
            &self.value,
            &self.attn_out,
            &self.intermediate,
            &self.output,
        ]
    }

    fn denses_mut(&mut self) -> [&mut Dense; 6] {
        [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.attn_out,
            &mut self.intermediate,
            &mut self.output,
        ]
    }

    /// `x`: the hidden states of sequences of lengths `lens`, packed row after row (no
    /// padding: attention runs within each sequence).
    fn forward(
        &self,
        x: &[f32],
        lens: &[usize],
        heads: usize,
        act: Activation,
        bias: Option<&RelativeBias>,
        rec: Option<&Recorder>,
    ) -> Result<Vec<f32>> {
        let h = self.query.bias.len();
        let mut q = self.query.product(x, rec)?;
        let mut k = self.key.product(x, rec)?;
        let mut v = self.value.product(x, rec)?;
        for (m, d) in [
            (&mut q, &self.query),
            (&mut k, &self.key),
            (&mut v, &self.value),
        ] {
            m.par_chunks_mut(h)
                .with_min_len(ROWS_PER_TASK)
                .for_each(|r| add(r, &d.bias));
        }
        let ctx = attention(&q, &k, &v, lens, h, heads, bias);
        drop((q, k, v));

        // attention output: dense + bias + residual, LayerNorm.
        let mut a = self.attn_out.product(&ctx, rec)?;
        a.par_chunks_mut(h)
            .zip(x.par_chunks(h))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(r, res)| {
                for ((y, &b), &s) in r.iter_mut().zip(&self.attn_out.bias).zip(res) {
                    *y = (*y + b) + s;
                }
                self.attn_norm.row(r);
            });

        // feed-forward: dense + bias, activation, dense + bias + residual, LayerNorm.
        let i = self.intermediate.bias.len();
        let mut f = self.intermediate.product(&a, rec)?;
        f.par_chunks_mut(i)
            .with_min_len(ROWS_PER_TASK)
            .for_each(|r| act.apply_biased(r, &self.intermediate.bias));
        let mut y = self.output.product(&f, rec)?;
        drop(f);
        y.par_chunks_mut(h)
            .zip(a.par_chunks(h))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(r, res)| {
                for ((y, &b), &s) in r.iter_mut().zip(&self.output.bias).zip(res) {
                    *y = (*y + b) + s;
                }
                self.out_norm.row(r);
            });
        Ok(y)
    }
}

fn add(x: &mut [f32], b: &[f32]) {
    for (v, &b) in x.iter_mut().zip(b) {
        *v += b;
    }
}

/// Multi-head self-attention within each packed sequence: `softmax(q·kᵀ/√d + b)·v` per
/// head, `b` MPNet's relative position bias (none for BERT).
fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    lens: &[usize],
    h: usize,
    heads: usize,
    bias: Option<&RelativeBias>,
) -> Vec<f32> {
    let hd = h / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut ctx = vec![0f32; q.len()];
    let mut parts = Vec::with_capacity(lens.len());
    let mut rest = ctx.as_mut_slice();
    let mut start = 0;
    for &len in lens {
        let (part, tail) = rest.split_at_mut(len * h);
        parts.push((part, start));
        rest = tail;
        start += len;
    }
    parts.into_par_iter().for_each(|(out, start)| {
        let len = out.len() / h;
        let span = start * h..(start + len) * h;
        let (q, k, v) = (&q[span.clone()], &k[span.clone()], &v[span]);
        let mut p = vec![0f32; len];
        for (head, c) in (0..heads).map(|i| (i, i * hd..(i + 1) * hd)) {
            // By distance j − i + len − 1.
            let rel = bias.map(|b| b.for_head(head, len));
            for r in 0..len {
                let qr = &q[r * h..][c.clone()];
                let mut max = f32::NEG_INFINITY;
                for (j, pj) in p.iter_mut().enumerate() {
                    *pj = tensorjpeg::kernels::dot(qr, &k[j * h..][c.clone()]) * scale;
                    if let Some(rel) = &rel {
                        *pj += rel[j + len - 1 - r];
                    }
                    max = max.max(*pj);
                }
                let mut sum = 0f32;
                for pj in p.iter_mut() {
                    *pj = (*pj - max).exp();
                    sum += *pj;
                }
                let o = &mut out[r * h..][c.clone()];
                for (j, &pj) in p.iter().enumerate() {
                    let w = pj / sum;
                    for (o, &x) in o.iter_mut().zip(&v[j * h..][c.clone()]) {
                        *o += w * x;
                    }
                }
            }
        }
    });
    ctx
}

/// `erf(x)` in f32 without branches (so that it vectorises): the rational approximation
/// `x·P(x²)/Q(x²)` on `[-4, 4]` used by Eigen and XLA, within a few f32 ulps of the exact
/// function (erf(±4) is ±1 in f32).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_4e-10_f32;
    for c in [
        2.770_681_5e-8,
        -2.101_024e-6,
        -5.692_506_2e-5,
        -7.349_906_4e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = p * x2 + c;
    }
    let mut q = -1.456_607_15e-5_f32;
    for c in [
        -2.133_740_5e-4,
        -1.682_827e-3,
        -7.373_329_3e-3,
        -1.426_473_9e-2,
    ] {
        q = q * x2 + c;
    }
    x * p / q
}

impl Activation {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            _ => return None,
        })
    }

    /// `y ← act(y + b)`.
    fn apply_biased(self, y: &mut [f32], b: &[f32]) {
        match self {
            Activation::GeluErf => {
                for (v, &b) in y.iter_mut().zip(b) {
                    let x = *v + b;
                    *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
                }
            }
            Activation::GeluTanh => {
                const C: f32 = 0.797_884_6; // √(2/π)
                for (v, &b) in y.iter_mut().zip(b) {
                    let x = *v + b;
                    *v = 0.5 * x * (1.0 + (C * (x + 0.044_715 * x * x * x)).tanh());
                }
            }
            Activation::Relu => {
                for (v, &b) in y.iter_mut().zip(b) {
                    *v = (*v + b).max(0.0);
                }
            }
        }
    }
}

/// A BERT sentence embedder: sentences in, unit-norm mean-pooled vectors out.
pub struct Embedder {
    /// Longest input in tokens, `[CLS]` and `[SEP]` included; longer sentences are
    /// truncated (sentence-transformers' `max_seq_length`: 256 for all-MiniLM-L6-v2). At most
    /// the model's `max_position_embeddings`.
    pub max_seq_length: usize,
    /// Sentences per forward pass (their tokens are packed without padding); results do not
    /// depend on it beyond rounding.
    pub batch_size: usize,
    cfg: Config,
    path: PathBuf,
    tokenizer: Tokenizer,
    /// The tokenizer without truncation (applied per call from `max_seq_length`).
    raw_tokenizer: tokenizers::Tokenizer,
    added_tokens: usize,
    word_embeddings: Tensor,
    position_embeddings: Vec<f32>,
    /// Token type 0's embedding (BERT; MPNet has none).
    token_type0: Option<Vec<f32>>,
    embed_norm: Norm,
    blocks: Vec<Block>,
    /// MPNet's relative position bias, shared by every block.
    relative_bias: Option<RelativeBias>,
    /// The file's tensor-name prefix (`""`, `bert.` or `mpnet.`).
    prefix: String,
    reports: Vec<WeightReport>,
    hook: Option<Arc<dyn EmbedHook>>,
}

fn need_file(path: &Path) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::format(
            path,
            "not found (a BERT or MPNet model directory holds model.safetensors, config.json \
             and tokenizer.json)",
        ))
    }
}

/// `max_seq_length` from sentence-transformers' `sentence_bert_config.json`, if present.
fn sentence_bert_max_len(dir: &Path) -> Result<Option<usize>> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("not valid JSON: {e}")))?;
    Ok(v.get("max_seq_length")
        .and_then(Value::as_u64)
        .map(|n| n as usize))
}

impl Embedder {
    /// Loads a model from a directory holding `model.safetensors`, `config.json` and
    /// `tokenizer.json`, or from the `model.safetensors` file with the other two beside it.
    ///
    /// Tensor names may carry a `bert.` prefix or not. `opts` applies a codec or a
    /// container to the weights; tensors the embedder does not use (the pooler, a masked-LM
    /// head) are never passed through the codec.
    pub fn load(path: &Path, opts: &WeightOptions) -> Result<Self> {
        if opts.compute.is_some() {
            return Err(Error::Input(
                "compute formats (--compute) run llama and GPT-2 models; the BERT embedder does not take them yet".into(),
            ));
        }
        let (dir, model) = if path.is_dir() {
            (path.to_path_buf(), path.join("model.safetensors"))
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (dir, path.to_path_buf())
        };
        let config_path = dir.join("config.json");
        let tokenizer_path = dir.join("tokenizer.json");
        need_file(&model)?;
        need_file(&config_path)?;
        need_file(&tokenizer_path)?;
        let cfg = Config::from_json_file(&config_path)?;
        let tokenizer = Tokenizer::from_json_file(&tokenizer_path)?;
        let mut raw_tokenizer = tokenizer.inner().clone();
        raw_tokenizer
            .with_truncation(None)
            .map_err(|e| Error::format(&tokenizer_path, format!("tokenizer: {e}")))?;
        let added_tokens = {
            use tokenizers::PostProcessor;
            raw_tokenizer
                .get_post_processor()
                .map_or(0, |p| p.added_tokens(false))
        };
        let max_seq_length = sentence_bert_max_len(&dir)?
            .unwrap_or(DEFAULT_MAX_SEQ_LENGTH)
            .min(cfg.max_positions());

        let unused = r"^(?:bert\.|mpnet\.)?pooler\.|^cls\.|^lm_head\.|position_ids$";
        let exclude = match &opts.exclude {
            Some(r) => format!("(?:{})|{unused}", r.as_str()),
            None => unused.to_string(),
        };
        let opts = WeightOptions {
            exclude: Some(Regex::new(&exclude).map_err(|e| Error::Input(e.to_string()))?),
            ..opts.clone()
        };
        let w = Weights::load(&model, &opts)?;

        let p = ["", "bert.", "mpnet."]
            .into_iter()
            .find(|p| w.contains(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| {
                Error::tensor(
                    &model,
                    "embeddings.word_embeddings.weight",
                    "missing (with or without a `bert.`/`mpnet.` prefix): not a BERT or MPNet model",
                )
            })?;
        let h = cfg.hidden_size;
        let word_name = format!("{p}embeddings.word_embeddings.weight");
        let vocab = match cfg.vocab_size {
            Some(v) => v,
            None => w.get_any(&word_name)?.dim(0)?,
        };
        let word_embeddings = w.get(&word_name, &[vocab, h])?;
        let position_embeddings = w
            .get(
                &format!("{p}embeddings.position_embeddings.weight"),
                &[cfg.max_position_embeddings, h],
            )?
            .flatten_all()?
            .to_vec1()?;
        let (token_type0, relative_bias) = match cfg.arch {
            Arch::Bert => {
                let t = w
                    .get(
                        &format!("{p}embeddings.token_type_embeddings.weight"),
                        &[cfg.type_vocab_size, h],
                    )?
                    .get(0)?
                    .to_vec1()?;
                (Some(t), None)
            }
            Arch::MpNet { buckets, .. } => {
                let heads = cfg.num_attention_heads;
                let table = w
                    .get(
                        &format!("{p}encoder.relative_attention_bias.weight"),
                        &[buckets, heads],
                    )?
                    .flatten_all()?
                    .to_vec1()?;
                (None, Some(RelativeBias::new(table, buckets, heads)?))
            }
        };
        let embed_norm = Norm::load(
            &w,
            &format!("{p}embeddings.LayerNorm"),
            h,
            cfg.layer_norm_eps,
        )?;
        let blocks = (0..cfg.num_hidden_layers)
            .map(|i| Block::load(&w, &format!("{p}encoder.layer.{i}"), &cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Embedder {
            max_seq_length,
            batch_size: DEFAULT_BATCH_SIZE,
            cfg,
            path: model,
            tokenizer,
            raw_tokenizer,
            added_tokens,
            word_embeddings,
            position_embeddings,
            token_type0,
            embed_norm,
            blocks,
            relative_bias,
            prefix: p.to_string(),
            reports: w.reports,
            hook: None,
        })
    }

    /// Width of the embeddings (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.cfg.hidden_size
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The tokenizer (from `tokenizer.json`, padding disabled).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// What the weight codec did, per altered tensor (empty without a codec).
    pub fn reports(&self) -> &[WeightReport] {
        &self.reports
    }

    /// The names (as the model file has them) of the matrices [`Embedder::set_matrix`] can
    /// replace: every one the model uses.
    pub fn matrix_names(&self) -> Vec<String> {
        let p = &self.prefix;
        let mut names = vec![
            format!("{p}embeddings.word_embeddings.weight"),
            format!("{p}embeddings.position_embeddings.weight"),
        ];
        if self.token_type0.is_some() {
            names.push(format!("{p}embeddings.token_type_embeddings.weight"));
        }
        if self.relative_bias.is_some() {
            names.push(format!("{p}encoder.relative_attention_bias.weight"));
        }
        names.extend(
            self.blocks
                .iter()
                .flat_map(|b| b.denses().map(|d| d.name.clone())),
        );
        names
    }

    /// Replaces the matrix `name` (as the model file names it: a linear layer's weight, an
    /// embedding table, MPNet's relative-position bias) by `values` (row-major, the same
    /// shape), in memory: what a probe of one tensor needs, without reloading the model.
    pub fn set_matrix(&mut self, name: &str, values: Vec<f32>) -> Result<()> {
        let h = self.cfg.hidden_size;
        let local = name.strip_prefix(self.prefix.as_str()).unwrap_or(name);
        let wrong = |expect: usize| {
            Error::Input(format!(
                "matrix '{name}': {} values given, the model's has {expect}",
                values.len()
            ))
        };
        match local {
            "embeddings.word_embeddings.weight" => {
                let (v, d) = self.word_embeddings.dims2()?;
                if values.len() != v * d {
                    return Err(wrong(v * d));
                }
                self.word_embeddings = Tensor::from_vec(values, (v, d), &Device::Cpu)?;
            }
            "embeddings.position_embeddings.weight" => {
                if values.len() != self.position_embeddings.len() {
                    return Err(wrong(self.position_embeddings.len()));
                }
                self.position_embeddings = values;
            }
            "embeddings.token_type_embeddings.weight" if self.token_type0.is_some() => {
                let n = self.cfg.type_vocab_size * h;
                if values.len() != n {
                    return Err(wrong(n));
                }
                self.token_type0 = Some(values[..h].to_vec());
            }
            "encoder.relative_attention_bias.weight" if self.relative_bias.is_some() => {
                let (buckets, heads) = match self.cfg.arch {
                    Arch::MpNet { buckets, .. } => (buckets, self.cfg.num_attention_heads),
                    Arch::Bert => (0, 0),
                };
                if values.len() != buckets * heads {
                    return Err(wrong(buckets * heads));
                }
                self.relative_bias = Some(RelativeBias::new(values, buckets, heads)?);
            }
            _ => {
                let dense = self
                    .blocks
                    .iter_mut()
                    .flat_map(|b| b.denses_mut())
                    .find(|d| d.name == name)
                    .ok_or_else(|| {
                        Error::Input(format!("the model has no matrix named '{name}'"))
                    })?;
                let (o, i) = dense.linear.shape()?;
                if values.len() != o * i {
                    return Err(wrong(o * i));
                }
                dense.linear =
                    Linear::dense(Tensor::from_vec(values, (o, i), &Device::Cpu)?, None)?;
            }
        }
        Ok(())
    }

    /// Sets (or clears) the hook applied to the word embeddings of the real tokens, before
    /// position embeddings are added and before the first block.
    pub fn set_embed_hook(&mut self, hook: Option<Arc<dyn EmbedHook>>) {
        self.hook = hook;
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        let c = &self.cfg;
        let family = match c.arch {
            Arch::Bert => "BERT",
            Arch::MpNet { .. } => "MPNet",
        };
        let mut s = format!(
            "{family} {} ({} layers, {} hidden, {} heads, max {} tokens)",
            self.path.display(),
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            self.max_seq_length
        );
        if !self.reports.is_empty() {
            s += &format!(", {} weights through the codec", self.reports.len());
        }
        if let Some(h) = &self.hook {
            s += &format!(", embedding hook {}", h.describe());
        }
        s
    }

    /// Token ids of `text` as the model sees it: `[CLS] … [SEP]` (MPNet: `<s> … </s>`), truncated to
    /// [`Embedder::max_seq_length`] (the special tokens kept).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let tok_err =
            |e: tokenizers::Error| Error::format(&self.tokenizer.source, format!("tokenizer: {e}"));
        let mut enc = self
            .raw_tokenizer
            .encode(text.trim(), false)
            .map_err(tok_err)?;
        let room = self.max_seq_length.saturating_sub(self.added_tokens).max(1);
        enc.truncate(room, 0, tokenizers::TruncationDirection::Right);
        let enc = self
            .raw_tokenizer
            .post_process(enc, None, true)
            .map_err(tok_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Embeds `sentences`: `n × dim` values, row-major, each row of unit L2 norm (the mean
    /// of the final hidden states over the sentence's tokens, `[CLS]` and `[SEP]` included).
    pub fn embed(&self, sentences: &[String]) -> Result<Vec<f32>> {
        if self.max_seq_length > self.cfg.max_positions() {
            return Err(Error::Input(format!(
                "max_seq_length {} exceeds the model's {} positions",
                self.max_seq_length,
                self.cfg.max_positions()
            )));
        }
        let ids = sentences
            .par_iter()
            .map(|s| self.encode(s))
            .collect::<Result<Vec<_>>>()?;
        // Batches run in parallel (each one's products also use every core): on two cores
        // this beats running the batches one after the other.
        let outs = ids
            .par_chunks(self.batch_size.max(1))
            .map(|batch| {
                let seqs: Vec<&[u32]> = batch.iter().map(Vec::as_slice).collect();
                self.forward(&seqs, None)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(outs.concat())
    }

    /// Runs `sentences` through the model and records what its weights see: token and
    /// position counts, and each linear layer's `E[xⱼ²]` ([`Calibration`]); with `grams`
    /// also its `E[x xᵀ]` (for error feedback).
    pub fn calibrate(&self, sentences: &[String], grams: bool) -> Result<Calibration> {
        let ids = sentences
            .par_iter()
            .map(|s| self.encode(s))
            .collect::<Result<Vec<_>>>()?;
        let rec = Recorder::new(grams);
        for batch in ids.chunks(self.batch_size.max(1)) {
            let seqs: Vec<&[u32]> = batch.iter().map(Vec::as_slice).collect();
            self.forward(&seqs, Some(&rec))?;
        }
        let (token_counts, position_counts, tokens) = self.count(&ids)?;
        Ok(Calibration {
            tokens,
            token_counts,
            position_counts,
            ..Calibration::from_recorded(rec.finish())?
        })
    }

    /// How often each token and each row of the position table occurs in `sentences` (as
    /// the model sees them), and the tokens in all: the row statistics of a calibration,
    /// which need no forward pass and so can come from more text than the layers see.
    pub fn count_tokens(&self, sentences: &[String]) -> Result<(Vec<f64>, Vec<f64>, u64)> {
        let ids = sentences
            .par_iter()
            .map(|s| self.encode(s))
            .collect::<Result<Vec<_>>>()?;
        self.count(&ids)
    }

    fn count(&self, ids: &[Vec<u32>]) -> Result<(Vec<f64>, Vec<f64>, u64)> {
        let mut token_counts = vec![0f64; self.word_embeddings.dim(0)?];
        // By row of the position table.
        let mut position_counts = vec![0f64; self.cfg.max_position_embeddings];
        let offset = self.cfg.position_offset();
        let mut tokens = 0u64;
        for seq in ids {
            for (pos, &t) in seq.iter().enumerate() {
                token_counts[t as usize] += 1.0;
                position_counts[pos + offset] += 1.0;
                tokens += 1;
            }
        }
        Ok((token_counts, position_counts, tokens))
    }

    /// Embeddings of a batch of sequences (`b × dim`, in the order of `seqs`). The
    /// sequences are packed row after row, without padding.
    fn forward(&self, seqs: &[&[u32]], rec: Option<&Recorder>) -> Result<Vec<f32>> {
        let h = self.dim();
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let flat: Vec<u32> = seqs.iter().flat_map(|s| s.iter().copied()).collect();
        let vocab = self.word_embeddings.dim(0)?;
        if let Some(&bad) = flat.iter().find(|&&id| id as usize >= vocab) {
            return Err(Error::Input(format!(
                "token id {bad} outside the vocabulary of {vocab}"
            )));
        }
        let n = flat.len();
        let ids = Tensor::from_vec(flat, n, &Device::Cpu)?;
        let mut x: Vec<f32> = self
            .word_embeddings
            .index_select(&ids, 0)?
            .flatten_all()?
            .to_vec1()?;
        if let Some(hook) = &self.hook {
            hook.apply(&mut x, n, h)?;
        }
        // (word + token type 0) + position, summed as Hugging Face does, then LayerNorm
        // (MPNet: word + position, positions from pad_token_id + 1).
        let offset = self.cfg.position_offset();
        let positions = lens.iter().flat_map(|&l| offset..offset + l);
        for (row, j) in x.chunks_exact_mut(h).zip(positions) {
            let pos = &self.position_embeddings[j * h..(j + 1) * h];
            match &self.token_type0 {
                Some(ty) => {
                    for ((v, &ty), &p) in row.iter_mut().zip(ty).zip(pos) {
                        *v = (*v + ty) + p;
                    }
                }
                None => {
                    for (v, &p) in row.iter_mut().zip(pos) {
                        *v += p;
                    }
                }
            }
            self.embed_norm.row(row);
        }
        let (heads, act) = (self.cfg.num_attention_heads, self.cfg.hidden_act);
        let bias = self.relative_bias.as_ref();
        for block in &self.blocks {
            x = block.forward(&x, &lens, heads, act, bias, rec)?;
        }
        // Mean over each sequence's tokens, then L2 normalisation.
        let mut out = vec![0f32; seqs.len() * h];
        let mut rows = x.chunks_exact(h);
        for (o, &len) in out.chunks_exact_mut(h).zip(&lens) {
            let mut acc = vec![0f64; h];
            for row in rows.by_ref().take(len) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v as f64;
                }
            }
            let count = (len as f64).max(1e-9);
            let norm = acc.iter().map(|a| (a / count).powi(2)).sum::<f64>().sqrt();
            let scale = 1.0 / (count * norm.max(1e-12));
            for (o, &a) in o.iter_mut().zip(&acc) {
                *o = (a * scale) as f32;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_f32_rounding_of_the_exact_function() {
        let exact = candle_core::cpu::erf::erf_f64;
        let mut worst = 0f64;
        for i in -8000..=8000 {
            let x = i as f32 * 1e-3;
            let err = (erf(x) as f64 - exact(x as f64)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 5e-7, "max |erf error| {worst:e}");
        assert_eq!(erf(-30.0), -1.0);
        assert_eq!(erf(0.0), 0.0);
        // GELU through it agrees with x·Φ(x) to f32 precision.
        let mut y = [-3.0f32, -0.5, 0.0, 0.7, 2.5];
        Activation::GeluErf.apply_biased(&mut y, &[0.0; 5]);
        for (x, y) in [-3.0f64, -0.5, 0.0, 0.7, 2.5].iter().zip(y) {
            let want = 0.5 * x * (1.0 + exact(x / std::f64::consts::SQRT_2));
            assert!(
                (y as f64 - want).abs() < 1e-6,
                "gelu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn attention_stays_within_each_sequence() {
        // Two sequences packed: the second's context must not see the first's values.
        let (h, heads) = (4, 2);
        let lens = [2, 1];
        let q: Vec<f32> = (0..12).map(|i| (i as f32 * 0.3).sin()).collect();
        let k: Vec<f32> = (0..12).map(|i| (i as f32 * 0.7).cos()).collect();
        let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let ctx = attention(&q, &k, &v, &lens, h, heads, None);
        // A one-token sequence attends only to itself.
        assert_eq!(&ctx[8..], &v[8..]);
        // Softmax weights sum to one: each head's context lies between its rows of v.
        for r in 0..2 {
            for c in 0..h {
                let (a, b) = (v[c], v[h + c]);
                assert!(ctx[r * h + c] >= a.min(b) - 1e-5 && ctx[r * h + c] <= a.max(b) + 1e-5);
            }
        }
    }

    #[test]
    fn config_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"hidden_size": 384, "num_hidden_layers": 6}"#).unwrap();
        let e = Config::from_json_file(&p).unwrap_err().to_string();
        assert!(
            e.contains("num_attention_heads") && e.contains("config.json"),
            "{e}"
        );
        std::fs::write(
            &p,
            r#"{"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                "intermediate_size": 1536, "hidden_act": "swish"}"#,
        )
        .unwrap();
        let e = Config::from_json_file(&p).unwrap_err().to_string();
        assert!(e.contains("swish"), "{e}");
    }
}
