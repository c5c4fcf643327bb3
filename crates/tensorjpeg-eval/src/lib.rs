//! The experiments of tensorjpeg, as library functions with typed inputs and outputs, so
//! that the command-line tool and any other front end run the same code.
//!
//! | module | experiment | CLI |
//! |---|---|---|
//! | [`sweep`] | rate–distortion of tensor codecs on a tensor file | `tensorjpeg sweep` |
//! | [`embeddings`] | embedding-collection codecs at equal bytes per vector, judged by retrieval on real sentence embeddings; seed 000's JPEG images | `tensorjpeg embed-eval` |
//! | [`files`] | whole tensor files through a codec plan into a container | `tensorjpeg compress` |
//! | [`matvec`] | mat-vec products from every weight format (dense, candle's GGUF kernels, our compute formats) on real matrices: SNR, ns, GB/s | `tensorjpeg bench-matvec` |
//! | [`kind`] | whether a model path holds a sentence embedder or a language model | — |
//! | [`model_sweep`] | whole models judged by the model: every tensor through a codec plan, the container loaded by the runtime, embeddings compared with the original model's | `tensorjpeg model-sweep` |
//! | [`plan`] | which tensor of a file gets which codec: rules, what stays exact, how a `--bits` budget is shared | `tensorjpeg compress` |
//! | [`probe`] | seed 003's input-embedding probe: a codec and its controls on a language model's input embeddings, scored (perplexity, KL, top-1) and sampled (repetition, diversity) | `tensorjpeg probe` |
//! | [`signal`] | seed 002's signal codec against JPEG, WebP, downsampling and PCM on photos, speech, an MRI volume, and digits classified from latents | `tensorjpeg signal eval` |
//! | [`sensitivity`] | how much each weight of a model matters, from calibration text: per-row/column importance and per-tensor loss per unit of error | `tensorjpeg model-sweep` (`weighted:`) |
//! | [`reorder`] | seed 004's function-preserving permutation of MLP hidden units | `tensorjpeg reorder` |
//! | [`report`] | CSV, JSON, Markdown tables and PNG plots the experiments write | — |
//! | [`progress`] | how an experiment reports progress to its front end | — |
//!
//! Each experiment takes a `Config` (plain data; [`Config::default`](embeddings::Config)
//! has the CLI's defaults) and a [`Progress`], measures, writes its report into the
//! configured folder and returns what it measured. The `clap` feature derives
//! `clap::ValueEnum` on the closed sets of choices, for command-line front ends. The
//! benchmark `klt_options` sweeps the KLT collection codec's options on cached embeddings.
//!
//! The codec crate (`tensorjpeg`) holds codecs only; the readers live in `tensorjpeg-io`
//! and the model runtime in `tensorjpeg-models`. What measures them lives here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod embeddings;
pub mod files;
pub mod kind;
pub mod matvec;
pub mod model_sweep;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod reorder;
pub mod report;
pub mod sensitivity;
pub mod signal;
pub mod sweep;

pub use progress::{Progress, Silent};
