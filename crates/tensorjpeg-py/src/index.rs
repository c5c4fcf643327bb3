//! `Index`: the persisted embedding collection (`.tjv`, the same file as
//! `tensorjpeg index`), numpy in and out.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tensorjpeg::vectors::collection::{BuildOptions, Collection, Id, Ids};
use tensorjpeg::vectors::klt::SearchOptions;
use tensorjpeg::vectors::VectorIndex;

use crate::errors::{InvalidArgumentError, OrPy};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Index>()?;
    Ok(())
}

/// Row-major values and the dimension of a C-contiguous float32 matrix (borrowed).
fn rows<'a>(x: &'a PyReadonlyArray2<'_, f32>) -> PyResult<(&'a [f32], usize)> {
    let dim = x.shape()[1];
    let v = x
        .as_slice()
        .map_err(|_| InvalidArgumentError::new_err("the array must be C-contiguous"))?;
    Ok((v, dim))
}

/// Ids from Python: `None`, a sequence of ints, or a sequence of str.
fn ids_of(ids: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Ids>> {
    let Some(ids) = ids else { return Ok(None) };
    if let Ok(v) = ids.extract::<Vec<i64>>() {
        return Ok(Some(Ids::Int(v)));
    }
    if let Ok(v) = ids.extract::<Vec<String>>() {
        return Ok(Some(Ids::Text(v)));
    }
    Err(InvalidArgumentError::new_err(
        "ids must be a sequence of integers or of strings, one per vector",
    ))
}

/// A compressed, searchable collection of embeddings.
#[pyclass(module = "tensorjpeg._native")]
pub struct Index {
    c: Collection,
}

#[pymethods]
impl Index {
    /// Fits a codebook on `train` at `bytes_per_vector` (each added vector's bytes, the
    /// codebook not counted; rate-controlled on `train`) and returns an empty index to
    /// `add` to.
    #[staticmethod]
    #[pyo3(signature = (train, bytes_per_vector, searchable = true))]
    fn fit(
        py: Python<'_>,
        train: PyReadonlyArray2<'_, f32>,
        bytes_per_vector: f64,
        searchable: bool,
    ) -> PyResult<Index> {
        let (x, dim) = rows(&train)?;
        let opts = BuildOptions {
            bytes_per_vector,
            searchable,
        };
        let c = py.detach(|| Collection::fit(x, dim, &opts)).py()?;
        Ok(Index { c })
    }

    /// Builds an index of `vectors` at `bytes_per_vector` all-in, the basis fitted on `fit`
    /// (default: the vectors themselves).
    #[staticmethod]
    #[pyo3(signature = (vectors, bytes_per_vector, fit = None, ids = None, searchable = true))]
    fn build(
        py: Python<'_>,
        vectors: PyReadonlyArray2<'_, f32>,
        bytes_per_vector: f64,
        fit: Option<PyReadonlyArray2<'_, f32>>,
        ids: Option<&Bound<'_, PyAny>>,
        searchable: bool,
    ) -> PyResult<Index> {
        let (x, dim) = rows(&vectors)?;
        let f = match &fit {
            Some(f) => {
                let (v, d) = rows(f)?;
                if d != dim {
                    return Err(InvalidArgumentError::new_err(format!(
                        "fit vectors of dimension {d} against vectors of dimension {dim}"
                    )));
                }
                Some(v)
            }
            None => None,
        };
        let ids = ids_of(ids)?;
        let opts = BuildOptions {
            bytes_per_vector,
            searchable,
        };
        let c = py
            .detach(|| Collection::build(x, dim, f, ids, &opts))
            .py()?;
        Ok(Index { c })
    }

    /// Codes `vectors` with the frozen codebook and appends them; returns
    /// `(added, clamped_vectors, clamped_values)`.
    #[pyo3(signature = (vectors, ids = None))]
    fn add(
        &mut self,
        py: Python<'_>,
        vectors: PyReadonlyArray2<'_, f32>,
        ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(usize, usize, usize)> {
        let (x, dim) = rows(&vectors)?;
        if dim != self.c.dim() {
            return Err(InvalidArgumentError::new_err(format!(
                "vectors of dimension {dim}, but the index holds dimension {}",
                self.c.dim()
            )));
        }
        let ids = ids_of(ids)?;
        let c = &mut self.c;
        let r = py.detach(|| c.add(x, ids)).py()?;
        Ok((r.added, r.clamped_vectors, r.clamped_values))
    }

    /// The `k` best hits of each query: `(scores [q, k] float32, positions [q, k] int64,
    /// ids)`; rows with fewer hits are padded with score -inf and position -1. `ids` is
    /// `None` when the index stores no ids (positions are the ids), an int64 array, or a
    /// list of lists of str.
    #[pyo3(signature = (queries, k = 10, shortlist = SearchOptions::DEFAULT_SHORTLIST))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, f32>,
        k: usize,
        shortlist: usize,
    ) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        if k == 0 {
            return Err(InvalidArgumentError::new_err("k must be at least 1"));
        }
        let (q, dim) = rows(&queries)?;
        if dim != self.c.dim() {
            return Err(InvalidArgumentError::new_err(format!(
                "queries of dimension {dim}, but the index holds dimension {}",
                self.c.dim()
            )));
        }
        let c = &self.c;
        let hits = py.detach(|| c.search(q, k, shortlist)).py()?;
        let nq = hits.len();
        let mut scores = vec![f32::NEG_INFINITY; nq * k];
        let mut pos = vec![-1i64; nq * k];
        let mut int_ids = vec![-1i64; nq * k];
        let mut text_ids: Vec<Vec<String>> = Vec::new();
        for (qi, row) in hits.iter().enumerate() {
            let mut texts = Vec::new();
            for (j, h) in row.iter().enumerate() {
                scores[qi * k + j] = h.score;
                pos[qi * k + j] = h.position as i64;
                match &h.id {
                    Id::Int(i) => int_ids[qi * k + j] = *i,
                    Id::Text(s) => texts.push(s.clone()),
                }
            }
            text_ids.push(texts);
        }
        let shape = [nq, k];
        let s = PyArray1::from_vec(py, scores).reshape(shape)?;
        let p = PyArray1::from_vec(py, pos).reshape(shape)?;
        let ids: Py<PyAny> = match &self.c.ids {
            Ids::Positions => py.None(),
            Ids::Int(_) => PyArray1::from_vec(py, int_ids)
                .reshape(shape)?
                .into_any()
                .unbind(),
            Ids::Text(_) => text_ids.into_pyobject(py)?.into_any().unbind(),
        };
        Ok((s.into_any().unbind(), p.into_any().unbind(), ids))
    }

    /// Decodes the vectors at `positions` (default: all) into a float32 array.
    #[pyo3(signature = (positions = None))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        positions: Option<Vec<usize>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.c;
        let (n, v) = py
            .detach(|| match &positions {
                Some(p) => c.decode(p).map(|v| (p.len(), v)),
                None => c.decode_all().map(|v| (c.len(), v)),
            })
            .py()?;
        Ok(PyArray1::from_vec(py, v)
            .reshape([n, self.c.dim()])?
            .into_any())
    }

    /// Positions of the given ids (ints or str), in order; a missing id raises.
    fn positions(&self, ids: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let wanted: Vec<Id> = match ids_of(Some(ids))? {
            Some(Ids::Int(v)) => v.into_iter().map(Id::Int).collect(),
            Some(Ids::Text(v)) => v.into_iter().map(Id::Text).collect(),
            _ => Vec::new(),
        };
        let map = self.c.positions();
        wanted
            .iter()
            .map(|id| {
                map.get(id).copied().ok_or_else(|| {
                    pyo3::exceptions::PyKeyError::new_err(format!("id {id} is not in the index"))
                })
            })
            .collect()
    }

    /// Appends the vectors of `other`, which must share this index's codebook (shards fitted
    /// once and coded apart) and id kind.
    fn merge(&mut self, py: Python<'_>, other: &Index) -> PyResult<()> {
        let c = &mut self.c;
        let o = &other.c;
        py.detach(|| c.merge(o)).py()
    }

    /// The index as bytes (the `.tjv` file).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let c = &self.c;
        let b = py.detach(|| c.to_bytes());
        PyBytes::new(py, &b)
    }

    /// Reads an index from bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Index> {
        let c = py.detach(|| Collection::from_bytes(data)).py()?;
        Ok(Index { c })
    }

    /// Writes the index to `path` (.tjv) atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let c = &self.c;
        py.detach(|| tensorjpeg_io::index::write_index(&path, c))
            .py()
    }

    /// Reads an index from `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Index> {
        let c = py.detach(|| tensorjpeg_io::index::read_index(&path)).py()?;
        Ok(Index { c })
    }

    /// What the index holds, as JSON.
    fn info_json(&self) -> String {
        tensorjpeg_io::index::summary(&self.c, self.c.to_bytes().len()).to_string()
    }

    /// Number of vectors.
    fn __len__(&self) -> usize {
        self.c.len()
    }

    /// Dimension of the vectors.
    #[getter]
    fn dim(&self) -> usize {
        self.c.dim()
    }

    fn __repr__(&self) -> String {
        format!(
            "Index({} vectors of dimension {}, {:.2} bytes/vector, codec {})",
            self.c.len(),
            self.c.dim(),
            self.c.index.bytes_per_vector(),
            self.c.info.codec
        )
    }
}
