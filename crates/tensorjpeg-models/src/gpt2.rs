//! GPT-2 from a Hugging Face checkpoint (`model.safetensors`, `config.json`, tokenizer
//! files): our own forward pass in candle, returning logits for every position, with a KV
//! cache.
//!
//! The checkpoint layout is Hugging Face's `GPT2Model` (`wte.weight`, `wpe.weight`,
//! `h.N.ln_1`, `h.N.attn.c_attn`, `h.N.attn.c_proj`, `h.N.ln_2`, `h.N.mlp.c_fc`,
//! `h.N.mlp.c_proj`, `ln_f`), optionally under a `transformer.` prefix (`GPT2LMHeadModel`).
//! Its projections are `Conv1D`s, whose weights are stored `(in, out)`, i.e. transposed
//! relative to `nn.Linear`: they are transposed once at load into `(out, in)` [`Linear`]s.
//! The output head is tied to `wte` (a separate `lm_head.weight` is ignored, as are the
//! `attn.bias` / `attn.masked_bias` mask buffers of older checkpoints, which are also kept
//! away from the weight codec).
//!
//! Weights go through [`Weights::load`], so [`WeightOptions`] (codec, container) apply as
//! for every other model; the optional [`EmbedHook`] acts on the token embeddings (the
//! `wte` rows, before the position embeddings are added).

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use regex::Regex;
use serde_json::Value;

use crate::attention::attend_one;
use crate::compute::{ComputeMatMul, ComputeSpec};
use crate::linear::Linear;
use crate::lm::{causal_mask, Cache, EmbedTable, LanguageModel, LmConfig, LmParts};
use crate::tokenizer::Tokenizer;
use crate::weights::{WeightOptions, Weights};
use crate::{Error, Result};

/// The activation of the feed-forward layers (`activation_function` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU, tanh approximation (`gelu_new`, GPT-2's own; also `gelu_pytorch_tanh`,
    /// `gelu_fast`).
    GeluTanh,
    /// Exact GELU (`gelu`).
    GeluErf,
    /// ReLU (`relu`).
    Relu,
}

impl Activation {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "gelu" => Some(Activation::GeluErf),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::GeluTanh => x.gelu()?,
            Activation::GeluErf => x.gelu_erf()?,
            Activation::Relu => x.relu()?,
        })
    }
}

/// GPT-2 hyper-parameters (from `config.json`, or inferred from the tensor shapes).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpt2Config {
    /// Vocabulary size (`vocab_size`).
    pub vocab: usize,
    /// Model width (`n_embd`).
    pub dim: usize,
    /// Blocks (`n_layer`).
    pub layers: usize,
    /// Attention heads (`n_head`).
    pub heads: usize,
    /// Positions (`n_positions`, or `n_ctx` in old configs).
    pub context: usize,
    /// Feed-forward width (`n_inner`, 4 × `n_embd` when unset).
    pub ffn: usize,
    /// LayerNorm epsilon (`layer_norm_epsilon`, 1e-5 when unset).
    pub eps: f64,
    /// Feed-forward activation (`activation_function`, `gelu_new` when unset).
    pub activation: Activation,
    /// Whether attention scores are divided by √head_dim (`scale_attn_weights`, true).
    pub scale_attn_weights: bool,
    /// Whether attention scores of block `i` are also divided by `i + 1`
    /// (`scale_attn_by_inverse_layer_idx`, false).
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Whether the output head is `wte` (`tie_word_embeddings`, true); when false the
    /// checkpoint's `lm_head.weight` `(vocab, n_embd)` is the head.
    pub tie_word_embeddings: bool,
}

impl Gpt2Config {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads.max(1)
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not valid JSON: {e}")))?;
        Self::from_json(path, &v)
    }

    fn from_json(path: &Path, v: &Value) -> Result<Self> {
        if !v.is_object() {
            return Err(Error::format(path, "expected a JSON object"));
        }
        if let Some(mt) = v.get("model_type").and_then(Value::as_str) {
            if mt != "gpt2" {
                return Err(Error::format(
                    path,
                    format!("model_type `{mt}` is not supported here (expected gpt2)"),
                ));
            }
        }
        let opt_usize = |keys: &[&str]| -> Result<Option<usize>> {
            for k in keys {
                match v.get(*k) {
                    None | Some(Value::Null) => continue,
                    Some(x) => {
                        return x.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
                            Error::format(path, format!("`{k}` is not a non-negative integer"))
                        })
                    }
                }
            }
            Ok(None)
        };
        let req = |keys: &[&str]| -> Result<usize> {
            opt_usize(keys)?
                .ok_or_else(|| Error::format(path, format!("no `{}` in the config", keys[0])))
        };
        let opt_bool = |k: &str, default: bool| -> Result<bool> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x
                    .as_bool()
                    .ok_or_else(|| Error::format(path, format!("`{k}` is not a boolean"))),
            }
        };
        let dim = req(&["n_embd", "hidden_size"])?;
        let heads = req(&["n_head", "num_attention_heads"])?;
        let activation = match v.get("activation_function").and_then(Value::as_str) {
            None => Activation::GeluTanh,
            Some(s) => Activation::parse(s).ok_or_else(|| {
                Error::format(
                    path,
                    format!(
                        "activation_function `{s}` is not supported \
                         (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu)"
                    ),
                )
            })?,
        };
        let eps = match v.get("layer_norm_epsilon") {
            None | Some(Value::Null) => 1e-5,
            Some(x) => x
                .as_f64()
                .ok_or_else(|| Error::format(path, "`layer_norm_epsilon` is not a number"))?,
        };
        let cfg = Gpt2Config {
            vocab: req(&["vocab_size"])?,
            dim,
            layers: req(&["n_layer", "num_hidden_layers"])?,
            heads,
            context: req(&["n_positions", "n_ctx", "max_position_embeddings"])?,
            ffn: opt_usize(&["n_inner"])?.unwrap_or(4 * dim),
            eps,
            activation,
            scale_attn_weights: opt_bool("scale_attn_weights", true)?,
            scale_attn_by_inverse_layer_idx: opt_bool("scale_attn_by_inverse_layer_idx", false)?,
            tie_word_embeddings: opt_bool("tie_word_embeddings", true)?,
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Infers the configuration from the tensors of a checkpoint without `config.json`:
    /// vocabulary and width from `wte`, positions from `wpe`, blocks by counting, the
    /// feed-forward width from `c_fc`. The number of heads is not in any shape; it is
    /// taken from the published GPT-2 sizes (all with 64-wide heads: widths 768, 1024,
    /// 1280, 1600), and anything else is an error asking for `config.json`.
    fn infer(w: &Weights, prefix: &str, config_path: &Path) -> Result<Self> {
        let wte = w.get_any(&format!("{prefix}wte.weight"))?;
        let (vocab, dim) = dims2(&w.path, &format!("{prefix}wte.weight"), &wte)?;
        let wpe = w.get_any(&format!("{prefix}wpe.weight"))?;
        let (context, _) = dims2(&w.path, &format!("{prefix}wpe.weight"), &wpe)?;
        let mut layers = 0;
        while w.contains(&format!("{prefix}h.{layers}.ln_1.weight")) {
            layers += 1;
        }
        let fc_name = format!("{prefix}h.0.mlp.c_fc.weight");
        let ffn = if layers > 0 {
            dims2(&w.path, &fc_name, &w.get_any(&fc_name)?)?.1
        } else {
            4 * dim
        };
        let heads = match dim {
            768 | 1024 | 1280 | 1600 => dim / 64,
            _ => {
                return Err(Error::format(
                    config_path,
                    format!(
                        "missing: the number of attention heads of this checkpoint (width {dim}) \
                         cannot be inferred from tensor shapes; add a Hugging Face config.json \
                         (with n_head) beside {}",
                        w.path.display()
                    ),
                ))
            }
        };
        let cfg = Gpt2Config {
            vocab,
            dim,
            layers,
            heads,
            context,
            ffn,
            eps: 1e-5,
            activation: Activation::GeluTanh,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            tie_word_embeddings: true,
        };
        cfg.validate(&w.path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if self.dim == 0 || self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return Err(Error::format(
                path,
                format!(
                    "width {} does not split into {} attention heads",
                    self.dim, self.heads
                ),
            ));
        }
        if self.vocab == 0 || self.layers == 0 || self.context == 0 || self.ffn == 0 {
            return Err(Error::format(
                path,
                format!(
                    "empty model: vocabulary {}, {} blocks, {} positions, feed-forward width {}",
                    self.vocab, self.layers, self.context, self.ffn
                ),
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::format(
                path,
                format!("layer_norm_epsilon {} is not a positive number", self.eps),
            ));
        }
        Ok(())
    }
}

fn dims2(path: &Path, name: &str, t: &Tensor) -> Result<(usize, usize)> {
    t.dims2().map_err(|_| {
        Error::tensor(
            path,
            name,
            format!("shape {:?}, expected two dimensions", t.dims()),
        )
    })
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    attn_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
}

/// A GPT-2 model with its tokenizer.
pub struct Gpt2 {
    parts: LmParts,
    gc: Gpt2Config,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    path: PathBuf,
}

/// Tensors of GPT-2 checkpoints that are not weights (causal-mask buffers): never passed
/// through the weight codec.
const BUFFERS: &str = r"(?:^|\.)attn\.(?:masked_)?bias$";

/// The separate head of `GPT2LMHeadModel` checkpoints, unused (and not passed through the
/// weight codec) when the head is tied to `wte`.
const LM_HEAD: &str = r"(?:^|\.)lm_head\.weight$";

/// The tokenizer files looked for, in order of preference.
const TOKENIZER_FILES: [&[&str]; 3] = [
    &["tokenizer.json"],
    &["vocab.json", "merges.txt"],
    &["encoder.json", "vocab.bpe"],
];

struct Loader<'a> {
    w: &'a Weights,
    prefix: &'a str,
    compute: Option<ComputeSpec>,
}

/// An `(out, in)` weight as a [`Linear`]: dense f32, or a compute-format matrix with
/// `--compute` (quantized from the f32 values).
fn linear(
    name: &str,
    w: Tensor,
    bias: Option<Tensor>,
    compute: Option<ComputeSpec>,
) -> Result<Linear> {
    let Some(spec) = compute else {
        return Linear::dense(w, bias);
    };
    let (out, inp) = w.dims2()?;
    let v: Vec<f32> = w.contiguous()?.flatten_all()?.to_vec1()?;
    let m = spec.from_f32(name, &v, out, inp)?;
    Ok(Linear::custom(
        ComputeMatMul::new(m, spec.dense_from_rows),
        bias,
    ))
}

impl Loader<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.w.get(&format!("{}{name}", self.prefix), shape)
    }

    fn layer_norm(&self, name: &str, dim: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.get(&format!("{name}.weight"), &[dim])?,
            bias: self.get(&format!("{name}.bias"), &[dim])?,
        })
    }

    /// A `Conv1D` with weight `(inp, out)` on disk, as an `(out, in)` [`Linear`].
    fn conv1d(&self, name: &str, inp: usize, out: usize) -> Result<Linear> {
        let w = self.get(&format!("{name}.weight"), &[inp, out])?;
        let b = self.get(&format!("{name}.bias"), &[out])?;
        // Conv1D stores (in, out): its transpose is the (out, in) weight Linear expects.
        linear(name, w.t()?, Some(b), self.compute.clone())
    }
}

impl Gpt2 {
    /// Loads GPT-2 from a model directory (a Hugging Face snapshot folder with
    /// `model.safetensors`, `config.json` and tokenizer files) or from a `.safetensors`
    /// file with `config.json` and the tokenizer beside it.
    ///
    /// The tokenizer is `tokenizer.json`, else `vocab.json` + `merges.txt`, else
    /// `encoder.json` + `vocab.bpe`. Without `config.json` the shape is inferred from the
    /// tensors where possible (see [`Gpt2Config`]). `opts` alter the weights as for every
    /// model; the mask buffers, and `lm_head.weight` when the head is tied to `wte` (the
    /// default), are never altered (nor used).
    pub fn load(path: &Path, opts: &WeightOptions) -> Result<Gpt2> {
        let (dir, file) = if path.is_dir() {
            (path.to_path_buf(), path.join("model.safetensors"))
        } else {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (dir, path.to_path_buf())
        };
        if !file.is_file() {
            return Err(Error::format(
                &file,
                "missing: expected a GPT-2 checkpoint in safetensors format",
            ));
        }
        // Fail on a missing tokenizer or a bad config before reading (and maybe
        // compressing) the weights.
        let tok = load_tokenizer(&dir)?;
        let config_path = dir.join("config.json");
        let config = if config_path.is_file() {
            Some(Gpt2Config::from_json_file(&config_path)?)
        } else {
            None
        };
        let tied = config.as_ref().is_none_or(|c| c.tie_word_embeddings);
        let weights = Weights::load(&file, &with_excluded(opts, tied)?)?;
        let prefix = if weights.contains("transformer.wte.weight") {
            "transformer."
        } else {
            ""
        };
        let gc = match config {
            Some(c) => c,
            None => Gpt2Config::infer(&weights, prefix, &config_path)?,
        };
        let ld = Loader {
            w: &weights,
            prefix,
            compute: opts.compute.clone(),
        };
        let d = gc.dim;
        let wte = ld.get("wte.weight", &[gc.vocab, d])?;
        let wpe = ld.get("wpe.weight", &[gc.context, d])?;
        let mut blocks = Vec::with_capacity(gc.layers);
        for i in 0..gc.layers {
            let n = |s: &str| format!("h.{i}.{s}");
            blocks.push(Block {
                ln_1: ld.layer_norm(&n("ln_1"), d)?,
                c_attn: ld.conv1d(&n("attn.c_attn"), d, 3 * d)?,
                attn_proj: ld.conv1d(&n("attn.c_proj"), d, d)?,
                ln_2: ld.layer_norm(&n("ln_2"), d)?,
                c_fc: ld.conv1d(&n("mlp.c_fc"), d, gc.ffn)?,
                mlp_proj: ld.conv1d(&n("mlp.c_proj"), gc.ffn, d)?,
            });
        }
        if ld
            .w
            .contains(&format!("{prefix}h.{}.ln_1.weight", gc.layers))
        {
            return Err(Error::tensor(
                &file,
                format!("{prefix}h.{}.ln_1.weight", gc.layers),
                format!(
                    "the checkpoint has more blocks than n_layer = {}",
                    gc.layers
                ),
            ));
        }
        let ln_f = ld.layer_norm("ln_f", d)?;
        let head = if gc.tie_word_embeddings {
            linear("wte.weight", wte.clone(), None, opts.compute.clone())?
        } else {
            // `lm_head` sits beside `transformer.` in GPT2LMHeadModel checkpoints.
            let name = ["lm_head.weight", &format!("{prefix}lm_head.weight")]
                .into_iter()
                .find(|n| weights.contains(n))
                .unwrap_or("lm_head.weight")
                .to_string();
            linear(
                &name,
                weights.get(&name, &[gc.vocab, d])?,
                None,
                opts.compute.clone(),
            )?
        };
        let reports = weights.reports.clone();
        Ok(Gpt2 {
            parts: LmParts {
                cfg: LmConfig {
                    arch: "gpt2".into(),
                    vocab: gc.vocab,
                    dim: d,
                    layers: gc.layers,
                    context: gc.context,
                },
                tok,
                embed: EmbedTable::Dense(wte),
                hook: None,
                reports,
            },
            gc,
            wpe,
            blocks,
            ln_f,
            head,
            path: file,
        })
    }

    /// The hyper-parameters.
    pub fn gpt2_config(&self) -> &Gpt2Config {
        &self.gc
    }

    /// Position embeddings, the blocks and `ln_f` on token embeddings `(batch, t, dim)`,
    /// extending `cache` (already checked by `begin_step` / `begin_embeds_step`).
    fn blocks_forward(&self, tok_emb: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        let gc = &self.gc;
        let (batch, t, _) = tok_emb.dims3()?;
        let (d, heads, hd) = (gc.dim, gc.heads, gc.head_dim());
        let pos = cache.len;
        let pos_emb = self.wpe.narrow(0, pos, t)?;
        let mut x = tok_emb.broadcast_add(&pos_emb)?;
        let mask = causal_mask(t, pos, 1)?;
        let eps = gc.eps as f32;
        for (i, b) in self.blocks.iter().enumerate() {
            let h = layer_norm(&x, &b.ln_1, eps)?;
            let qkv = b.c_attn.forward(&h)?;
            let split = |j: usize| -> Result<Tensor> {
                Ok(qkv
                    .narrow(2, j * d, d)?
                    .reshape((batch, t, heads, hd))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?);
            let (k, v) = cache.append(i, k, v)?;
            let mut scale = 1.0;
            if gc.scale_attn_weights {
                scale /= (hd as f64).sqrt();
            }
            if gc.scale_attn_by_inverse_layer_idx {
                scale /= (i + 1) as f64;
            }
            let y = if t == 1 {
                attend_one(&q, &k, &v, scale)?
            } else {
                let att = (q.matmul(&k.t()?)? * scale)?;
                let att = match &mask {
                    Some(m) => att.broadcast_add(m)?,
                    None => att,
                };
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                att.matmul(&v)?
                    .transpose(1, 2)?
                    .contiguous()?
                    .reshape((batch, t, d))?
            };
            x = (x + b.attn_proj.forward(&y)?)?;
            let h = layer_norm(&x, &b.ln_2, eps)?;
            let m = gc.activation.apply(&b.c_fc.forward(&h)?)?;
            x = (x + b.mlp_proj.forward(&m)?)?;
        }
        cache.len += t;
        layer_norm(&x, &self.ln_f, eps)
    }
}

fn layer_norm(x: &Tensor, ln: &LayerNorm, eps: f32) -> Result<Tensor> {
    Ok(candle_nn::ops::layer_norm(
        &x.contiguous()?,
        &ln.weight,
        &ln.bias,
        eps,
    )?)
}

/// `opts` with the tensors of GPT-2 checkpoints that are not weights of the model (mask
/// buffers; `lm_head.weight` when the head is `tied`) added to the exclusions.
fn with_excluded(opts: &WeightOptions, tied: bool) -> Result<WeightOptions> {
    let mut o = opts.clone();
    let mut pattern = BUFFERS.to_string();
    if tied {
        pattern = format!("{pattern}|{LM_HEAD}");
    }
    if let Some(r) = &opts.exclude {
        pattern = format!("(?:{})|{pattern}", r.as_str());
    }
    o.exclude = Some(
        Regex::new(&pattern)
            .map_err(|e| Error::Input(format!("exclude pattern `{pattern}`: {e}")))?,
    );
    Ok(o)
}

/// The tokenizer in `dir` (see [`TOKENIZER_FILES`]), with `<|endoftext|>` as BOS/EOS.
fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    for files in TOKENIZER_FILES {
        if !files.iter().all(|f| dir.join(f).is_file()) {
            continue;
        }
        return match files {
            [json] => {
                let mut t = Tokenizer::from_json_file(&dir.join(json))?;
                let eot = t.inner().token_to_id("<|endoftext|>");
                t.bos = eot;
                t.eos = eot;
                Ok(t)
            }
            [vocab, merges] => Tokenizer::from_bpe_files(&dir.join(vocab), &dir.join(merges)),
            _ => unreachable!("tokenizer file sets have one or two files"),
        };
    }
    let looked: Vec<String> = TOKENIZER_FILES.iter().map(|fs| fs.join(" + ")).collect();
    Err(Error::format(
        dir,
        format!(
            "no GPT-2 tokenizer: expected {} in this directory",
            looked.join(", or ")
        ),
    ))
}

impl LanguageModel for Gpt2 {
    fn parts(&self) -> &LmParts {
        &self.parts
    }

    fn parts_mut(&mut self) -> &mut LmParts {
        &mut self.parts
    }

    fn blocks(&self, x: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        self.blocks_forward(x, cache)
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    fn describe(&self) -> String {
        let mut kinds: Vec<String> = self
            .blocks
            .iter()
            .flat_map(|b| [b.c_attn.kind(), b.c_fc.kind()])
            .collect();
        kinds.sort();
        kinds.dedup();
        format!(
            "gpt2 {} ({} layers, width {}, {} heads, vocab {}, context {}, weights {})",
            self.path.display(),
            self.gc.layers,
            self.gc.dim,
            self.gc.heads,
            self.gc.vocab,
            self.gc.context,
            kinds.join("+")
        )
    }
}
