//! Model runtime for tensorjpeg's evaluations, on CPU with candle, from local files only.
//!
//! * [`bert`]: all-MiniLM-L6-v2 / BERT sentence embeddings (sentence-transformers
//!   semantics: mean pooling over real tokens, L2 normalisation); [`mpnet`]: what MPNet
//!   (all-mpnet-base-v2) changes in it.
//! * [`llama`]: llama-family causal LMs from GGUF (SmolLM2 by default), logits for every
//!   position, KV cache, weights quantized ([`candle_core::quantized::QMatMul`]) or f32.
//! * [`gpt2`]: GPT-2 from Hugging Face safetensors (Conv1D weights, tied head).
//! * [`tokenizer`]: byte-level BPE built from GGUF metadata, GPT-2 vocab/merges files, or a
//!   `tokenizer.json`.
//! * Codec hooks: [`hooks`] passes input embeddings through any tensorjpeg codec (or adds
//!   Gaussian noise at a chosen SNR); [`weights`] loads weights through a codec or from a
//!   tensorjpeg container; [`linear`] is the matmul seam a compressed-domain kernel plugs into;
//!   [`compute`] plugs in the integer kernels of `tensorjpeg-kernels` (`--compute`).
//! * [`eval`]: perplexity, next-token distribution comparisons (KL, top-1), generation.
//!   The seed-003 probe built on them (altered embedding tables scored and sampled in one
//!   batch through [`lm::LanguageModel::forward_embeds`]) is `tensorjpeg_eval::probe`.
//! * [`attention`]: the single-position attention step of batched sampling.
//! * [`lm`]: the [`lm::LanguageModel`] trait; [`load`]: one entry point for any supported
//!   `--model` path.

pub mod attention;
pub mod bert;
pub mod calibrate;
pub mod compute;
pub mod error;
pub mod eval;
pub mod gpt2;
pub mod hooks;
pub mod linear;
pub mod llama;
pub mod lm;
pub mod load;
pub mod mpnet;
pub mod recorder;
pub mod text;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
pub use load::load;
