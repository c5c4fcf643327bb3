//! Embedding collections: many vectors of one dimension, stored compressed, searched by
//! inner product (cosine for L2-normalised embeddings) without decoding them all.
//!
//! A [`VectorCodec`] fits on training vectors (never the evaluated ones) and encodes a
//! collection into a [`VectorIndex`], which reports its all-in size (side information such
//! as codebooks or a basis amortised over the collection), decodes any single vector
//! (random access), and scores a query against every stored vector in the compressed domain.
//!
//! Baselines ([`scalar`], [`binary`], [`pq`], [`pca`]) are what vector-search engineers use
//! today; [`klt`] is tensorjpeg's own collection codec. [`retrieval`] has exact search and the retrieval metrics.

pub mod binary;
pub mod collection;
pub mod jpeg;
pub mod klt;
pub mod kmeans;
pub mod pca;
pub mod pq;
pub mod registry;
pub mod retrieval;
pub mod scalar;

use crate::{Error, Result};

/// A compressed collection of `len()` vectors of dimension `dim()`.
pub trait VectorIndex: Send + Sync {
    /// Number of stored vectors.
    fn len(&self) -> usize;
    /// True when no vector is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Dimension of the vectors.
    fn dim(&self) -> usize;
    /// All-in stored bytes: codes plus side information (codebooks, basis, ranges, offsets).
    fn total_bytes(&self) -> usize;
    /// All-in bytes per vector (side information amortised over the collection).
    fn bytes_per_vector(&self) -> f64 {
        self.total_bytes() as f64 / self.len().max(1) as f64
    }
    /// Decodes vector `i` into `out` (`dim()` values).
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()>;
    /// Approximate inner products `query · xᵢ` for every stored vector, computed from the
    /// compressed representation (no full decode), into `out` (`len()` values).
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()>;
    /// Bytes of side information (codebooks, basis, calibration ranges, model tables)
    /// included in [`VectorIndex::total_bytes`]; the rest are per-vector codes.
    fn side_bytes(&self) -> usize {
        0
    }
    /// Codec-specific figures for reports, e.g. `("jpeg_quality", 75.0)` or
    /// `("components", 120.0)`.
    fn report(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// Whether [`VectorIndex::search`] prunes (scores only a shortlist exactly), so that
    /// it can differ from [`VectorIndex::exact_search_batch`].
    fn prunes(&self) -> bool {
        false
    }
    /// The index's own single-query search: the `k` best vectors, best first. Default:
    /// [`VectorIndex::scores`] then top-`k`; indices with a faster path (a coarse pass and
    /// a shortlist) override it.
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<u32>> {
        check_query(query, self.dim())?;
        let mut s = vec![0.0f32; self.len()];
        self.scores(query, &mut s)?;
        Ok(crate::kernels::top_k(&s, k))
    }
    /// [`VectorIndex::search`] for many queries (row-major), in parallel.
    fn search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<u32>>> {
        use rayon::prelude::*;
        check_rows(queries, self.dim(), "queries")?;
        queries
            .par_chunks(self.dim())
            .map(|q| self.search(q, k))
            .collect()
    }
    /// Search with every stored vector scored from its full compressed representation
    /// (no shortlist): the reference that [`VectorIndex::search`]'s pruning is measured
    /// against. Default: [`retrieval::search`] over [`VectorIndex::scores`].
    fn exact_search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<u32>>> {
        retrieval::search(self, queries, k)
    }
}

/// A method that fits on training vectors and encodes a collection.
pub trait VectorCodec: Send + Sync {
    /// Short name for reports, e.g. `int8`, `pq:m=32`, `klt`.
    fn name(&self) -> String;
    /// Fits on `train` (row-major, `dim` wide) and encodes `base` (row-major, `dim` wide).
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>>;
}

/// Checks a row-major collection: `dim > 0`, whole rows, at least one row, finite values.
/// `what` names the collection in the error (`"training set"`, `"collection"`, `"query"`).
pub fn check_rows(values: &[f32], dim: usize, what: &str) -> Result<usize> {
    if dim == 0 {
        return Err(Error::param("dimension", 0, "≥ 1"));
    }
    let bad = |msg: String| Error::BadTensor {
        tensor: what.to_string(),
        msg,
    };
    if values.is_empty() {
        return Err(bad("empty (no vectors)".into()));
    }
    if !values.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "{} values do not split into vectors of dimension {dim}",
            values.len()
        )));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "vector {} has a non-finite value ({}) at dimension {}",
            i / dim,
            values[i],
            i % dim
        )));
    }
    Ok(values.len() / dim)
}

/// Checks a query against an index's dimension.
pub fn check_query(query: &[f32], dim: usize) -> Result<()> {
    let bad = |msg: String| Error::BadTensor {
        tensor: "query".into(),
        msg,
    };
    if query.len() != dim {
        return Err(bad(format!(
            "dimension {} against a collection of dimension {dim}",
            query.len()
        )));
    }
    if let Some(i) = query.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "non-finite value ({}) at dimension {i}",
            query[i]
        )));
    }
    Ok(())
}
