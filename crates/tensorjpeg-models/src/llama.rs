//! Llama-family causal LM from a GGUF file (SmolLM2 by default): our own forward pass in
//! candle, returning logits for every position (candle-transformers' `quantized_llama`
//! returns only the last), with a KV cache, grouped-query attention, RoPE and RMSNorm as
//! the GGUF metadata says, and the output head tied to the token embeddings when the file
//! has no `output.weight`.
//!
//! Weights stay quantized (candle's `QMatMul` kernels) unless [`WeightOptions::dequantize`]
//! is set, a codec is applied to them, or a container replaces them: those become dense
//! f32 [`Linear`]s. GGUF stores Q and K rows permuted for interleaved-pair RoPE (llama.cpp's
//! convention), so RoPE here rotates adjacent pairs (`rope_i`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{gguf_file, QTensor};
use candle_core::{Device, Tensor};
use tensorjpeg_kernels::QMatrix;

use crate::attention::attend_one;
use crate::compute::{ComputeMatMul, ComputeSpec};
use crate::linear::Linear;
use crate::lm::{causal_mask, Cache, EmbedTable, LanguageModel, LmConfig, LmParts};
use crate::tokenizer::Tokenizer;
use crate::weights::{Replacements, WeightOptions, WeightReport};
use crate::{Error, Result};

/// Hyper-parameters read from the GGUF metadata (`{arch}.*` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Model width.
    pub dim: usize,
    /// Blocks.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Feed-forward width.
    pub ffn: usize,
    /// RMSNorm epsilon.
    pub eps: f64,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// Context length.
    pub context: usize,
}

struct Block {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A llama-family model.
pub struct Llama {
    parts: LmParts,
    lc: LlamaConfig,
    blocks: Vec<Block>,
    norm: Tensor,
    head: Linear,
    cos: Tensor,
    sin: Tensor,
    path: PathBuf,
    kernels: String,
    /// The output head is the token embedding table.
    tied_head: bool,
}

/// Longest context precomputed for RoPE (SmolLM2 declares 8192).
const MAX_CONTEXT: usize = 8192;

struct Loader<'a> {
    path: &'a Path,
    file: tensorjpeg_io::GgufReader,
    content: gguf_file::Content,
    opts: &'a WeightOptions,
    repl: Replacements,
    reports: Vec<WeightReport>,
}

impl Loader<'_> {
    fn qtensor(&mut self, name: &str) -> Result<QTensor> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(Error::tensor(self.path, name, "missing from the GGUF file"));
        }
        self.content
            .tensor(&mut self.file, name, &Device::Cpu)
            .map_err(|e| Error::tensor(self.path, name, e.to_string()))
    }

    fn check_shape(&self, name: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(Error::tensor(
                self.path,
                name,
                format!("shape {got:?}, expected {want:?}"),
            ));
        }
        Ok(())
    }

    /// Whether `name` must be materialised as f32 (codec, replacement or dequantize mode).
    fn wants_f32(&self, name: &str, ndim: usize) -> bool {
        self.opts.dequantize
            || self.repl.contains(name)
            || (self.opts.codec.is_some() && self.opts.selects(name, ndim))
    }

    /// Whether `name`'s values are altered (codec or replacement): in compute mode those are
    /// quantized from f32; the others convert from their GGUF blocks.
    fn wants_f32_values(&self, name: &str, ndim: usize) -> bool {
        self.repl.contains(name) || (self.opts.codec.is_some() && self.opts.selects(name, ndim))
    }

    /// The tensor as f32 values with the codec or replacement applied.
    fn f32(&mut self, name: &str, want: &[usize]) -> Result<Tensor> {
        let q = self.qtensor(name)?;
        self.check_shape(name, q.shape().dims(), want)?;
        let t = q.dequantize(&Device::Cpu)?;
        if let Some(v) = self.repl.take(name, want)? {
            return Ok(Tensor::from_vec(v, want, &Device::Cpu)?);
        }
        if self.opts.codec.is_some() && self.opts.selects(name, want.len()) {
            let mut v: Vec<f32> = t.flatten_all()?.to_vec1()?;
            if let Some(rep) = self.opts.apply(name, want, &mut v)? {
                self.reports.push(rep);
            }
            return Ok(Tensor::from_vec(v, want, &Device::Cpu)?);
        }
        Ok(t)
    }

    fn linear(&mut self, name: &str, out: usize, inp: usize) -> Result<Linear> {
        if let Some(spec) = self.opts.compute.clone() {
            let m = if self.wants_f32_values(name, 2) {
                let v: Vec<f32> = self.f32(name, &[out, inp])?.flatten_all()?.to_vec1()?;
                spec.from_f32(name, &v, out, inp)?
            } else {
                let q = self.qtensor(name)?;
                self.check_shape(name, q.shape().dims(), &[out, inp])?;
                spec.from_qtensor(name, &q)?
            };
            return Ok(Linear::custom(
                ComputeMatMul::new(m, spec.dense_from_rows),
                None,
            ));
        }
        if self.wants_f32(name, 2) {
            return Linear::dense(self.f32(name, &[out, inp])?, None);
        }
        let q = self.qtensor(name)?;
        self.check_shape(name, q.shape().dims(), &[out, inp])?;
        Linear::quantized(q, None)
    }
}

fn md_usize(path: &Path, c: &gguf_file::Content, key: &str) -> Result<usize> {
    c.metadata
        .get(key)
        .ok_or_else(|| Error::format(path, format!("GGUF metadata has no `{key}`")))?
        .to_u64()
        .or_else(|_| c.metadata[key].to_u32().map(u64::from))
        .map(|v| v as usize)
        .map_err(|e| Error::format(path, format!("`{key}`: {e}")))
}

fn md_f64(c: &gguf_file::Content, key: &str) -> Option<f64> {
    c.metadata
        .get(key)
        .and_then(|v| v.to_f32().map(f64::from).or_else(|_| v.to_f64()).ok())
}

impl Llama {
    /// Loads a GGUF llama-family model with its tokenizer (from the same file).
    pub fn load(path: &Path, opts: &WeightOptions) -> Result<Llama> {
        // A repacked file (.tjgguf) is restored in memory; every tensor's shape, size and
        // extent is checked before candle touches its data.
        let (file, content, len) = tensorjpeg_io::open_gguf(path)?;
        tensorjpeg_io::check_gguf_tensors(path, &content, len)?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        if arch != "llama" {
            return Err(Error::format(
                path,
                format!("architecture `{arch}` is not supported (expected llama)"),
            ));
        }
        let k = |s: &str| format!("{arch}.{s}");
        let dim = md_usize(path, &content, &k("embedding_length"))?;
        let heads = md_usize(path, &content, &k("attention.head_count"))?;
        let kv_heads = md_usize(path, &content, &k("attention.head_count_kv")).unwrap_or(heads);
        let layers = md_usize(path, &content, &k("block_count"))?;
        let ffn = md_usize(path, &content, &k("feed_forward_length"))?;
        let context = md_usize(path, &content, &k("context_length")).unwrap_or(2048);
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(Error::format(
                path,
                format!(
                    "inconsistent attention shape: width {dim}, {heads} heads, {kv_heads} kv heads"
                ),
            ));
        }
        let head_dim = dim / heads;
        let lc = LlamaConfig {
            dim,
            layers,
            heads,
            kv_heads,
            head_dim,
            ffn,
            eps: md_f64(&content, &k("attention.layer_norm_rms_epsilon")).unwrap_or(1e-5),
            rope_theta: md_f64(&content, &k("rope.freq_base")).unwrap_or(10_000.0),
            context,
        };
        let tok = Tokenizer::from_gguf(path, &content)?;
        let repl = opts.replacements()?;
        let mut ld = Loader {
            path,
            file,
            content,
            opts,
            repl,
            reports: Vec::new(),
        };
        let emb_q = ld.qtensor("token_embd.weight")?;
        let (vocab, edim) = emb_q.shape().dims2()?;
        ld.check_shape("token_embd.weight", &[vocab, edim], &[vocab, dim])?;
        let embed_altered = ld.wants_f32("token_embd.weight", 2);
        // In compute mode a table whose blocks a compute format holds bit for bit is looked
        // up from them (shared with a tied head that keeps them): no f32 copy of the
        // model's largest matrix is held.
        let packed = match (&opts.compute, ComputeSpec::exact_format(emb_q.dtype())) {
            (Some(_), Some(f)) if !ld.wants_f32_values("token_embd.weight", 2) => {
                let m = QMatrix::from_blocks(f, vocab, dim, emb_q.data()?.into_owned())
                    .map_err(|e| Error::Input(format!("token_embd.weight: {e}")))?;
                Some(Arc::new(m))
            }
            _ => None,
        };
        let embed = match &packed {
            Some(m) => EmbedTable::Packed(m.clone()),
            None => EmbedTable::Dense(ld.f32("token_embd.weight", &[vocab, dim])?),
        };
        let mut blocks = Vec::with_capacity(layers);
        let kv = kv_heads * head_dim;
        for i in 0..layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            let attn_norm = ld.f32(&n("attn_norm"), &[dim])?;
            let ffn_norm = ld.f32(&n("ffn_norm"), &[dim])?;
            blocks.push(Block {
                attn_norm,
                wq: ld.linear(&n("attn_q"), dim, dim)?,
                wk: ld.linear(&n("attn_k"), kv, dim)?,
                wv: ld.linear(&n("attn_v"), kv, dim)?,
                wo: ld.linear(&n("attn_output"), dim, dim)?,
                ffn_norm,
                gate: ld.linear(&n("ffn_gate"), ffn, dim)?,
                up: ld.linear(&n("ffn_up"), ffn, dim)?,
                down: ld.linear(&n("ffn_down"), dim, ffn)?,
            });
        }
        let norm = ld.f32("output_norm.weight", &[dim])?;
        let tied_head = !ld.content.tensor_infos.contains_key("output.weight");
        let head = if !tied_head {
            ld.linear("output.weight", vocab, dim)?
        } else if let Some(spec) = &opts.compute {
            let m = match &packed {
                Some(p)
                    if spec
                        .kept_format("token_embd.weight", emb_q.dtype())?
                        .is_some() =>
                {
                    p.clone()
                }
                _ if ld.wants_f32_values("token_embd.weight", 2) => {
                    let v: Vec<f32> = embed.to_dense()?.flatten_all()?.to_vec1()?;
                    Arc::new(spec.from_f32("token_embd.weight", &v, vocab, dim)?)
                }
                _ => Arc::new(spec.from_qtensor("token_embd.weight", &emb_q)?),
            };
            Linear::custom(ComputeMatMul::shared(m, spec.dense_from_rows), None)
        } else if embed_altered {
            Linear::dense(embed.to_dense()?, None)?
        } else {
            // Tied head, kept in the embedding's own (quantized) format.
            Linear::quantized(emb_q, None)?
        };
        ld.repl.finish(path)?;
        let (cos, sin) = rope_tables(head_dim, lc.rope_theta, context.min(MAX_CONTEXT))?;
        let kernels = {
            let mut ks: Vec<String> = blocks
                .iter()
                .flat_map(|b| [b.wq.kind(), b.down.kind()])
                .collect();
            ks.sort();
            ks.dedup();
            ks.join("+")
        };
        let reports = std::mem::take(&mut ld.reports);
        Ok(Llama {
            parts: LmParts {
                cfg: LmConfig {
                    arch: "llama".into(),
                    vocab,
                    dim,
                    layers,
                    context: context.min(MAX_CONTEXT),
                },
                tok,
                embed,
                hook: None,
                reports,
            },
            lc,
            blocks,
            norm,
            head,
            cos,
            sin,
            path: path.to_path_buf(),
            kernels,
            tied_head,
        })
    }

    /// The hyper-parameters.
    pub fn llama_config(&self) -> &LlamaConfig {
        &self.lc
    }

    /// The blocks and the final norm on input embeddings `(batch, t, dim)`, extending
    /// `cache` (already checked by `begin_step` / `begin_embeds_step`).
    fn blocks_forward(&self, mut x: Tensor, cache: &mut Cache) -> Result<Tensor> {
        let lc = &self.lc;
        let (batch, t, _) = x.dims3()?;
        let pos = cache.len;
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let rep = lc.heads / lc.kv_heads;
        let mask = causal_mask(t, pos, rep)?;
        let scale = 1.0 / (lc.head_dim as f64).sqrt();
        for (i, b) in self.blocks.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &b.attn_norm, lc.eps as f32)?;
            let q =
                b.wq.forward(&h)?
                    .reshape((batch, t, lc.heads, lc.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()?;
            let k =
                b.wk.forward(&h)?
                    .reshape((batch, t, lc.kv_heads, lc.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()?;
            let v =
                b.wv.forward(&h)?
                    .reshape((batch, t, lc.kv_heads, lc.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
            let (k, v) = cache.append(i, k, v)?;
            let y = if t == 1 {
                attend_one(&q, &k, &v, scale)?
            } else {
                // Grouped-query attention without copying keys: the `rep` query heads of a
                // kv head are consecutive, so fold them into the query length.
                let q = (q * scale)?.reshape((batch, lc.kv_heads, rep * t, lc.head_dim))?;
                let att = q.matmul(&k.t()?)?;
                let att = match &mask {
                    Some(m) => att.broadcast_add(m)?,
                    None => att,
                };
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                att.matmul(&v)?
                    .reshape((batch, lc.heads, t, lc.head_dim))?
                    .transpose(1, 2)?
                    .reshape((batch, t, lc.dim))?
            };
            x = (x + b.wo.forward(&y)?)?;
            let h = candle_nn::ops::rms_norm(&x, &b.ffn_norm, lc.eps as f32)?;
            let g = candle_nn::ops::silu(&b.gate.forward(&h)?)?;
            let u = b.up.forward(&h)?;
            x = (x + b.down.forward(&(g * u)?)?)?;
        }
        cache.len += t;
        Ok(candle_nn::ops::rms_norm(&x, &self.norm, lc.eps as f32)?)
    }
}

/// `cos`, `sin` tables `(positions, head_dim/2)` for RoPE.
fn rope_tables(head_dim: usize, theta: f64, positions: usize) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let inv: Vec<f64> = (0..half)
        .map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64))
        .collect();
    let mut c = Vec::with_capacity(positions * half);
    let mut s = Vec::with_capacity(positions * half);
    for p in 0..positions {
        for &f in &inv {
            let a = p as f64 * f;
            c.push(a.cos() as f32);
            s.push(a.sin() as f32);
        }
    }
    Ok((
        Tensor::from_vec(c, (positions, half), &Device::Cpu)?,
        Tensor::from_vec(s, (positions, half), &Device::Cpu)?,
    ))
}

impl LanguageModel for Llama {
    fn parts(&self) -> &LmParts {
        &self.parts
    }

    fn parts_mut(&mut self) -> &mut LmParts {
        &mut self.parts
    }

    fn blocks(&self, x: &Tensor, cache: &mut Cache) -> Result<Tensor> {
        self.blocks_forward(x.clone(), cache)
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter_mut().enumerate() {
            for (n, l) in [
                ("attn_q", &mut b.wq),
                ("attn_k", &mut b.wk),
                ("attn_v", &mut b.wv),
                ("attn_output", &mut b.wo),
                ("ffn_gate", &mut b.gate),
                ("ffn_up", &mut b.up),
                ("ffn_down", &mut b.down),
            ] {
                out.push((format!("blk.{i}.{n}.weight"), l));
            }
        }
        let head = if self.tied_head {
            "token_embd.weight"
        } else {
            "output.weight"
        };
        out.push((head.to_string(), &mut self.head));
        out
    }

    fn describe(&self) -> String {
        format!(
            "llama {} ({} layers, width {}, {} heads / {} kv, vocab {}, weights {})",
            self.path.display(),
            self.lc.layers,
            self.lc.dim,
            self.lc.heads,
            self.lc.kv_heads,
            self.parts.cfg.vocab,
            self.kernels
        )
    }
}
