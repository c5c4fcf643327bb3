//! # tensorjpeg-io
//!
//! Tensor files for tensorjpeg:
//! * safetensors read/write ([`read_safetensors`], [`write_safetensors`]),
//! * NumPy `.npy` read/write for float32/float16 ([`read_npy`], [`write_npy`]),
//! * GGUF read through candle, dequantizing every tensor ([`read_gguf`], [`gguf_metadata`]),
//! * extension dispatch ([`read_tensors`], [`write_tensors`]) and atomic writes
//!   ([`write_atomic`]),
//! * candle's quantizers (Q8_0/Q4_0/Q4_1 and the K-quants) as comparison codecs
//!   ([`registry`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod candle_codecs;
pub mod error;
pub mod gguf;
pub mod npy;
pub mod safetensors_io;
pub mod signal;
pub mod volume;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use error::{Error, Result};
pub use gguf::{gguf_metadata, gguf_tensor_infos, read_gguf, read_gguf_selected, GgufTensorInfo};
pub use npy::{read_npy, write_npy};
pub use safetensors_io::{
    read_safetensors, read_safetensors_with_metadata, write_safetensors,
    write_safetensors_with_metadata,
};
pub use signal::{
    encode_png, read_digits, read_image, read_wav, write_png, write_wav, Digits, Signal, DIGIT_SIDE,
};
use tensorjpeg::Tensor;
pub use volume::{read_nifti, Volume};

/// The codec crate's registry plus candle's quantizers: `candle-q8_0`, `candle-q4_0`,
/// `candle-q4_1`, `q2_k`, `q3_k`, `q4_k`, `q5_k`, `q6_k`.
pub fn registry() -> tensorjpeg::Registry {
    tensorjpeg::default_registry().with(&candle_codecs::NAMES, candle_codecs::factory)
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
            "gguf" => Some(Format::Gguf),
            _ => None,
        }
    }
}

/// Reads all tensors of a `.safetensors`, `.npy` or `.gguf` file (chosen by extension).
pub fn read_tensors(path: &Path) -> Result<Vec<Tensor>> {
    match Format::of(path) {
        Some(Format::Safetensors) => read_safetensors(path),
        Some(Format::Npy) => Ok(vec![read_npy(path)?]),
        Some(Format::Gguf) => read_gguf(path),
        None => Err(Error::Extension {
            path: path.display().to_string(),
            expected: ".safetensors, .npy or .gguf",
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

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. Readers see the old file or the new one, never a
/// partial one; on error the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::format(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
