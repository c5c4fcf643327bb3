//! Rust errors as Python exceptions: `TensorJpegError` and its subclasses, each carrying
//! the Rust message (with its causes, as the CLI prints them).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    tensorjpeg,
    TensorJpegError,
    PyException,
    "Base class of every tensorjpeg error."
);
create_exception!(
    tensorjpeg,
    CorruptDataError,
    TensorJpegError,
    "Damaged or foreign bytes: a checksum mismatch, a bad magic number, a newer format version, inconsistent contents."
);
create_exception!(
    tensorjpeg,
    InvalidArgumentError,
    TensorJpegError,
    "An argument outside its valid range, an unknown codec, a tensor or array a codec cannot take."
);
create_exception!(
    tensorjpeg,
    LimitError,
    TensorJpegError,
    "A declared size above a decode limit: refused before the memory is touched."
);
create_exception!(
    tensorjpeg,
    FileError,
    TensorJpegError,
    "A file that cannot be read or written, or is not valid in its format."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TensorJpegError", py.get_type::<TensorJpegError>())?;
    m.add("CorruptDataError", py.get_type::<CorruptDataError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    Ok(())
}

/// The exception of a codec-crate error.
pub fn codec(e: &tensorjpeg::Error) -> PyErr {
    classify(e, e.to_string())
}

/// The exception of an error from any layer (codec, files, experiments), classified by
/// its innermost tensorjpeg cause; the message is the whole chain.
pub fn any(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}");
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<tensorjpeg::Error>() {
            return classify(c, msg);
        }
        if let Some(io) = cause.downcast_ref::<tensorjpeg_io::Error>() {
            return match io {
                tensorjpeg_io::Error::Codec(c) => classify(c, msg),
                _ => FileError::new_err(msg),
            };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return FileError::new_err(msg);
        }
    }
    TensorJpegError::new_err(msg)
}

/// The exception class of `e`, with the message `msg`.
fn classify(e: &tensorjpeg::Error, msg: String) -> PyErr {
    use tensorjpeg::Error as E;
    match e {
        E::Corrupt(_) | E::Checksum { .. } | E::UnsupportedVersion { .. } => {
            CorruptDataError::new_err(msg)
        }
        E::Limit(_) => LimitError::new_err(msg),
        E::InvalidParam { .. }
        | E::UnknownCodec(..)
        | E::Unsupported { .. }
        | E::BadTensor { .. } => InvalidArgumentError::new_err(msg),
        E::Io { .. } => FileError::new_err(msg),
        _ => TensorJpegError::new_err(msg),
    }
}

/// `Result<T, tensorjpeg::Error>` → `PyResult<T>`.
pub trait OrPy<T> {
    /// Converts the error into its Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for tensorjpeg::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| codec(&e))
    }
}

impl<T> OrPy<T> for tensorjpeg_io::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| any(e.into()))
    }
}

impl<T> OrPy<T> for anyhow::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(any)
    }
}
