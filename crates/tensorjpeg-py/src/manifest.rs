//! Manifests of sharded outputs (`tensorjpeg_io::manifest`): written by the parallel jobs
//! of `tensorjpeg.scale` after their tasks wrote the shards, read back by `Index.load` and
//! `decompress_file` as one collection.

use std::path::PathBuf;

use pyo3::prelude::*;
use tensorjpeg_io::manifest::{self, ManifestKind};

use crate::errors::{InvalidArgumentError, OrPy};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(write_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_manifest, m)?)?;
    Ok(())
}

/// Writes the manifest at `path` (atomically) listing `shards`: `(path relative to the
/// manifest's folder, source path or None)`, in order; `kind` is "index" or "files".
/// Each shard's size, CRC-32 and (index) vector count are measured from the file.
/// Returns the number of shards.
#[pyfunction]
fn write_manifest(
    py: Python<'_>,
    path: PathBuf,
    kind: &str,
    shards: Vec<(String, Option<String>)>,
) -> PyResult<usize> {
    let kind = match kind {
        "index" => ManifestKind::Index,
        "files" => ManifestKind::Files,
        k => {
            return Err(InvalidArgumentError::new_err(format!(
                "manifest kind {k:?}: expected \"index\" or \"files\""
            )))
        }
    };
    py.detach(|| manifest::write_manifest(&path, kind, &shards))
        .py()
        .map(|m| m.shards.len())
}

/// Decompresses every container a files manifest lists into `out_dir`; returns
/// `[(output path, tensors)]`.
#[pyfunction]
fn decompress_manifest(
    py: Python<'_>,
    path: PathBuf,
    out_dir: PathBuf,
) -> PyResult<Vec<(PathBuf, usize)>> {
    py.detach(|| {
        let m = manifest::read_manifest(&path)?;
        manifest::decompress_files(&path, &m, &out_dir)
    })
    .py()
}
