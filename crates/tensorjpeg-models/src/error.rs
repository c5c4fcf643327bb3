//! Errors of the model runtime: each names the file (and tensor) it is about.

use std::path::{Path, PathBuf};

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A model-runtime error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not what was expected.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected.
        msg: String,
    },
    /// A tensor is missing or has the wrong shape.
    #[error("{path}: tensor {tensor}: {msg}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What is wrong, and what was expected.
        msg: String,
    },
    /// Bad input from the caller (a prompt longer than the context, an empty text, ...).
    #[error("{0}")]
    Input(String),
    /// An error inside candle.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A codec error.
    #[error(transparent)]
    Codec(#[from] tensorjpeg::Error),
    /// A tensor-file error.
    #[error(transparent)]
    TensorIo(#[from] tensorjpeg_io::Error),
}

impl Error {
    /// A format error about `path`.
    pub fn format(path: &Path, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A tensor error about `tensor` in `path`.
    pub fn tensor(path: &Path, tensor: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Tensor {
            path: path.to_path_buf(),
            tensor: tensor.into(),
            msg: msg.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
