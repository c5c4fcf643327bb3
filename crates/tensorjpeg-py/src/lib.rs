//! `tensorjpeg._native`: the Python extension module behind the `tensorjpeg` package
//! (`python/tensorjpeg/__init__.py` is the public face: it coerces arrays, turns keyword
//! arguments into rate specs and JSON reports into dicts).
//!
//! Every function calls the same library functions and typed configurations as the CLI,
//! releases the GIL while it works, and raises a `tensorjpeg` exception carrying the Rust
//! message ([`errors`]). Arrays come in as C-contiguous float32 (borrowed, not copied,
//! where the library takes a slice) and go out as numpy arrays that own the decoded
//! buffer (no copy).

mod errors;
mod index;
mod manifest;
mod signal;
mod tensors;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    tensors::register(m)?;
    index::register(m)?;
    manifest::register(m)?;
    signal::register(m)?;
    Ok(())
}
