//! The codec crate's one error type. Messages name the offending value and the valid range.

use thiserror::Error;

/// Everything that can go wrong inside the codec. Normal outcomes (a target that was met
/// only approximately, say) are reported in results, not as errors.
#[derive(Debug, Error)]
pub enum Error {
    /// A parameter outside its valid range, e.g. `quality 0 (expected 1..=100)`.
    #[error("invalid {what}: {value} (expected {expected})")]
    InvalidParam {
        /// Which parameter.
        what: &'static str,
        /// The value given, rendered.
        value: String,
        /// The valid range or set, rendered.
        expected: String,
    },
    /// A byte stream that is not a valid tensorjpeg container (or chunk), with where and why.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A file (container, signal file, basis, index) written by a format version this
    /// build does not read.
    #[error("unsupported {what} format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which file type (see [`crate::framing`]).
        what: &'static str,
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// A stored checksum does not match the bytes: the data was damaged after writing.
    #[error("checksum mismatch in {what}: CRC-32 stored {stored:08x}, computed {computed:08x} (damaged or truncated after writing)")]
    Checksum {
        /// What was checked (header, tensor/chunk).
        what: String,
        /// The stored CRC-32.
        stored: u32,
        /// The CRC-32 of the bytes read.
        computed: u32,
    },
    /// A declared size above a decode limit (see [`crate::limits`]), or an allocation that
    /// failed: refused before the memory is touched.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// A codec name that no registered codec answers to.
    #[error("unknown codec '{0}' (known: {1})")]
    UnknownCodec(String, String),
    /// The codec cannot do what was asked with this tensor (rate mode, shape, ...).
    #[error("{codec}: {msg}")]
    Unsupported {
        /// The codec name.
        codec: String,
        /// What is not supported.
        msg: String,
    },
    /// Values the codec cannot represent (e.g. NaN under a codec without exceptions).
    #[error("tensor '{tensor}': {msg}")]
    BadTensor {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        msg: String,
    },
    /// An error from an underlying library (JPEG, zstd, ...).
    #[error("{0}")]
    External(String),
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Short-hand result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an [`Error::InvalidParam`].
    pub fn param(what: &'static str, value: impl ToString, expected: impl ToString) -> Self {
        Error::InvalidParam {
            what,
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
    /// Builds an [`Error::Corrupt`].
    pub fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
    /// Builds an [`Error::Unsupported`].
    pub fn unsupported(codec: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Unsupported {
            codec: codec.into(),
            msg: msg.into(),
        }
    }
}
