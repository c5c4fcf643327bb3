//! # tensorjpeg
//!
//! Compression for the tensors of AI systems — model weights, embedding collections,
//! activations — built the way JPEG is built:
//!
//! ```text
//! tensor ──► layout ──► transform ──► quantize ──► entropy code ──► container
//! ```
//!
//! Every stage is a module: [`layout`], [`transform`], [`quant`], [`entropy`],
//! [`container`]; [`native`] strings them together as the `native` codec. The seeds'
//! literal JPEG ([`baselines::jpeg`]) and the other baselines people already use
//! ([`baselines`]: fp16/bf16 casts, GGUF Q8_0/Q4_0/Q4_1 blocks, SVD, zstd) are codecs
//! behind the same
//! [`Codec`] trait, so every comparison runs through one container and one set of
//! [`metrics`]; image-quality metrics (PSNR, SSIM, MS-SSIM) are in [`ssim`].
//!
//! ```
//! use tensorjpeg::{compress, decompress, Options, Rate, Tensor};
//!
//! let values: Vec<f32> = (0..64 * 48).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
//! let t = Tensor::from_f32("w", vec![64, 48], values.clone()).unwrap();
//! let opts = Options { rate: Rate::MaxError(1e-3), ..Options::default() };
//! let bytes = compress(&[t], &opts).unwrap().bytes;
//! let back = decompress(&bytes).unwrap();
//! let got = back[0].values().unwrap();
//! assert!(values.iter().zip(got).all(|(a, b)| (a - b).abs() <= 1e-3));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod allocation;
pub mod baselines;
pub mod bytes;
pub mod codec;
pub mod container;
pub mod entropy;
mod entry;
pub mod error;
pub mod framing;
pub mod kernels;
pub mod layout;
pub mod limits;
pub mod metrics;
pub mod native;
pub mod pipeline;
pub mod quant;
pub mod repack;
pub mod rng;
pub mod signal;
pub mod spec;
pub mod ssim;
pub mod tensor;
pub mod transform;
pub mod vectors;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub use codec::{
    register, AxisWeights, Budget, Codec, CodecSpec, Encoded, Rate, RecordCost, Registry,
};
pub use error::{Error, Result};
pub use limits::Limits;
pub use pipeline::{
    compress, compress_planned, decompress, decompress_limited, decompress_with, CompressReport,
    Compressed, Options, TensorPlan,
};
pub use quant::feedback::Gram;
pub use spec::SpecRates;
pub use tensor::{DType, Data, Tensor};

/// The registry of every codec this crate implements — `native`, `jpeg`, `f16`, `bf16`,
/// `q8_0`, `q4_0`, `q4_1`, `svd`, `zstd` (cargo feature `zstd`), `raw` — plus those other
/// crates registered for the process with [`codec::register`] (`tensorjpeg_io::register_codecs`
/// adds candle's quantizers).
pub fn default_registry() -> Registry {
    codec::with_registered(
        Registry::empty()
            .with(&["native"], native::factory)
            .with(&["jpeg"], baselines::jpeg::factory)
            .with(&["f16", "bf16", "svd", "zstd", "raw"], baselines::factory)
            .with(&["q8_0", "q4_0", "q4_1"], baselines::ggml::factory),
    )
}
