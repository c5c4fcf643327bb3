//! # tensorjpeg-io
//!
//! Tensor files for tensorjpeg:
//! * safetensors read/write ([`read_safetensors`], [`write_safetensors`]),
//! * NumPy `.npy` read/write for float32/float16 ([`read_npy`], [`write_npy`]),
//! * GGUF read through candle, dequantizing every tensor ([`read_gguf`], [`gguf_metadata`]),
//! * extension dispatch ([`read_tensors`], [`write_tensors`]) and safe writes
//!   ([`write_atomic`]: atomic, never over an input or a special file; see [`output`]),
//! * the persisted embedding index's files ([`index`]: `.tjv`, vectors, ids, hits),
//! * manifests of sharded outputs written by parallel jobs ([`manifest`]),
//! * lossless repacking of GGUF files ([`repack_gguf`], [`unpack_gguf`]),
//! * candle's quantizers (Q8_0/Q4_0/Q4_1 and the K-quants) as comparison codecs
//!   ([`registry`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "candle")]
pub mod candle_codecs;
pub mod error;
#[cfg(feature = "candle")]
pub mod gguf;
pub mod index;
pub mod manifest;
pub mod npy;
pub mod output;
#[cfg(feature = "candle")]
pub mod repack;
pub mod safetensors_io;
pub mod signal;
pub mod volume;

use std::path::Path;

pub use error::{Error, Result};
#[cfg(feature = "candle")]
pub use gguf::{
    check_gguf_bytes, check_gguf_header, check_gguf_tensors, gguf_metadata, gguf_tensor_infos,
    open_gguf, read_gguf, read_gguf_selected, write_gguf_like, GgufMatrices, GgufReader,
    GgufTensorInfo,
};
pub use npy::{read_npy, write_npy};
pub use output::{check_output, guard_inputs, note_input, read_file, write_atomic};
#[cfg(feature = "candle")]
pub use repack::{is_repacked, repack_gguf, unpack_gguf, RepackStats};
pub use safetensors_io::{
    read_safetensors, read_safetensors_with_metadata, write_safetensors,
    write_safetensors_with_metadata,
};
pub use signal::{
    encode_png, read_digits, read_image, read_wav, write_png, write_wav, Digits, Signal, DIGIT_SIDE,
};
use tensorjpeg::Tensor;
pub use volume::{read_nifti, Volume};

/// Registers candle's quantizers (`candle-q8_0`, `candle-q4_0`, `candle-q4_1`, `q2_k`,
/// `q3_k`, `q4_k`, `q5_k`, `q6_k`; cargo feature `candle`) with the codec crate for the
/// whole process, so that `tensorjpeg::compress` and `tensorjpeg::decompress` know them.
/// Calling it again does nothing.
pub fn register_codecs() {
    #[cfg(feature = "candle")]
    tensorjpeg::register(&candle_codecs::NAMES, candle_codecs::factory);
}

/// Every codec: the codec crate's registry after [`register_codecs`].
pub fn registry() -> tensorjpeg::Registry {
    register_codecs();
    tensorjpeg::default_registry()
}

/// The tensor file formats [`read_tensors`] recognises, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.safetensors`
    Safetensors,
    /// `.npy`
    Npy,
    /// `.gguf`
    Gguf,
}

impl Format {
    /// The format of `path`, from its extension (case-insensitive).
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "safetensors" => Some(Format::Safetensors),
            "npy" => Some(Format::Npy),
            "gguf" | "tjgguf" => Some(Format::Gguf),
            _ => None,
        }
    }
}

/// Reads all tensors of a `.safetensors`, `.npy` or `.gguf` file (chosen by extension).
pub fn read_tensors(path: &Path) -> Result<Vec<Tensor>> {
    match Format::of(path) {
        Some(Format::Safetensors) => read_safetensors(path),
        Some(Format::Npy) => Ok(vec![read_npy(path)?]),
        #[cfg(feature = "candle")]
        Some(Format::Gguf) => read_gguf(path),
        #[cfg(not(feature = "candle"))]
        Some(Format::Gguf) => Err(Error::format(
            path,
            "this build reads no GGUF (tensorjpeg-io's cargo feature `candle`)",
        )),
        None => Err(Error::Extension {
            path: path.display().to_string(),
            expected: ".safetensors, .npy, .gguf or .tjgguf (a repacked GGUF)",
        }),
    }
}

/// Writes tensors to a `.safetensors` file, or exactly one tensor to an `.npy` file (chosen
/// by extension), atomically.
pub fn write_tensors(path: &Path, tensors: &[Tensor]) -> Result<()> {
    match Format::of(path) {
        Some(Format::Safetensors) => write_safetensors(path, tensors),
        Some(Format::Npy) => match tensors {
            [t] => write_npy(path, t),
            _ => Err(Error::format(
                path,
                format!(
                    "an .npy file holds exactly one tensor, {} given",
                    tensors.len()
                ),
            )),
        },
        _ => Err(Error::Extension {
            path: path.display().to_string(),
            expected: ".safetensors or .npy for writing",
        }),
    }
}
