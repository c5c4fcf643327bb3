//! The I/O crate's error type. Every message names the file, and where it applies the tensor
//! and what was expected, e.g. `model.npy: fortran_order arrays are not supported` or
//! `x.gguf: tensor 'blk.0.attn_q.weight': ...`.

use std::path::Path;

/// Everything that can go wrong reading or writing tensor files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not valid in its format (bad magic, truncated, inconsistent header, ...)
    /// or a format feature this crate does not support.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong and what was expected.
        msg: String,
    },
    /// A problem with one tensor of a file (or of the tensors to be written).
    #[error("{path}: tensor '{tensor}': {msg}")]
    Tensor {
        /// The file.
        path: String,
        /// The tensor name.
        tensor: String,
        /// What is wrong and what was expected.
        msg: String,
    },
    /// A file extension none of the readers/writers handles.
    #[error("{path}: unsupported file type (expected {expected})")]
    Extension {
        /// The file.
        path: String,
        /// The extensions that are supported for this operation.
        expected: &'static str,
    },
    /// An error from the codec crate.
    #[error(transparent)]
    Codec(#[from] tensorjpeg::Error),
}

/// Short-hand result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
    /// Builds an [`Error::Format`] for `path`.
    pub fn format(path: &Path, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }
    /// Builds an [`Error::Tensor`] for `path` and `tensor`.
    pub fn tensor(path: &Path, tensor: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Tensor {
            path: path.display().to_string(),
            tensor: tensor.into(),
            msg: msg.into(),
        }
    }
}

/// Lets callers that work in the codec crate's error type use `?` on this crate's results.
impl From<Error> for tensorjpeg::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Codec(inner) => inner,
            Error::Io { path, source } => tensorjpeg::Error::Io { path, source },
            other => tensorjpeg::Error::External(other.to_string()),
        }
    }
}
