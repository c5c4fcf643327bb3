//! PCA truncation + int8 (`pca:k=K+int8`).
//!
//! Fitted on the training set: the mean `μ` and the `K` leading principal directions `B`
//! (`K × dim`, orthonormal rows, [`crate::transform::klt::Klt`]: eigenvectors of the
//! covariance by [`crate::transform::klt::sym_eigen`]); then a calibrated int8 quantizer
//! ([`ScalarQuantizer`]) on the training set's `K` coefficients. A vector is stored as the
//! int8 codes of `B (x − μ)`: `K` bytes.
//!
//! Scoring: `q·x̂ = q·μ + (B q)·ŷ`, so the query is rotated once into the PCA basis and
//! scored against the int8 codes as in [`super::scalar`].
//!
//! Size: `K` bytes per vector, plus the mean and basis (`(1 + K)·dim` f32) and the int8
//! ranges (`2K` f32), amortised over the collection.

use super::kmeans::{check_out, check_row, par_scores};
use super::scalar::{dot_f32, ScalarQuantizer};
use super::{check_query, check_rows, VectorCodec, VectorIndex};
use crate::transform::klt::Klt;
use crate::{Error, Result};

/// PCA to `k` components, then calibrated int8 codes.
#[derive(Debug, Clone, Copy)]
pub struct PcaCodec {
    k: usize,
}

impl PcaCodec {
    /// Keeps `k ≥ 1` components (at most the dimension, checked at fit time).
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::param("PCA components k", 0, "≥ 1"));
        }
        Ok(PcaCodec { k })
    }
    /// Fits on `train` and encodes `base`.
    pub fn fit(&self, train: &[f32], base: &[f32], dim: usize) -> Result<PcaIndex> {
        let n_train = check_rows(train, dim, "training set")?;
        let n = check_rows(base, dim, "collection")?;
        if self.k > dim {
            return Err(Error::param(
                "PCA components k",
                self.k,
                format!("≤ the dimension {dim}"),
            ));
        }
        let klt = Klt::fit(train, n_train, dim, self.k, false);
        let mut coef = vec![0f32; n_train * self.k];
        klt.forward(train, n_train, &mut coef);
        let quantizer = ScalarQuantizer::fit(&coef, self.k, 8)?;
        let mut coef = vec![0f32; n * self.k];
        klt.forward(base, n, &mut coef);
        let mut codes = Vec::with_capacity(n * self.k);
        for row in coef.chunks_exact(self.k) {
            quantizer.encode_row(row, &mut codes);
        }
        Ok(PcaIndex {
            dim,
            klt,
            quantizer,
            codes,
        })
    }
}

impl VectorCodec for PcaCodec {
    fn name(&self) -> String {
        format!("pca:k={}+int8", self.k)
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        Ok(Box::new(self.fit(train, base, dim)?))
    }
}

/// A collection stored as int8 codes of its PCA coefficients.
#[derive(Debug, Clone)]
pub struct PcaIndex {
    dim: usize,
    klt: Klt,
    quantizer: ScalarQuantizer,
    codes: Vec<u8>,
}

impl PcaIndex {
    /// Number of components kept (bytes of code per vector).
    pub fn k(&self) -> usize {
        self.klt.k
    }
    /// The fitted PCA (mean and basis).
    pub fn pca(&self) -> &Klt {
        &self.klt
    }
    fn row(&self, i: usize) -> &[u8] {
        &self.codes[i * self.k()..(i + 1) * self.k()]
    }
}

impl VectorIndex for PcaIndex {
    fn len(&self) -> usize {
        self.codes.len() / self.k()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        self.codes.len()
            + 4 * (self.klt.mean.len() + self.klt.basis.len())
            + self.quantizer.side_bytes()
    }
    fn side_bytes(&self) -> usize {
        self.total_bytes() - self.codes.len()
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        let mut coef = vec![0f32; self.k()];
        self.quantizer.decode_row(self.row(i), &mut coef);
        self.klt.inverse(&coef, 1, out);
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        let rotated: Vec<f32> = self
            .klt
            .basis
            .chunks_exact(self.dim)
            .map(|b| dot_f32(b, query))
            .collect();
        let mut terms = self.quantizer.query_terms(&rotated);
        terms.bias += dot_f32(query, &self.klt.mean);
        par_scores(out, |first, block| {
            for (j, o) in block.iter_mut().enumerate() {
                *o = self.quantizer.score(&terms, self.row(first + j));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::kmeans::testdata::*;
    use super::*;

    #[test]
    fn scores_are_decoded_dot_products_and_sizes_add_up() {
        let dim = 40;
        let train = vectors(400, dim, 1);
        let base = vectors(300, dim, 2);
        let q = vectors(1, dim, 3);
        let codec = parse("pca:k=12+int8").unwrap();
        assert_eq!(codec.name(), "pca:k=12+int8");
        let index = codec.fit_encode(&train, &base, dim).unwrap();
        assert_eq!(
            index.total_bytes(),
            300 * 12 + 4 * (dim + 12 * dim) + 8 * 12
        );
        check_consistent(index.as_ref(), &q, 1e-4);
    }

    #[test]
    fn full_rank_is_close_and_truncation_costs() {
        let dim = 32;
        let train = vectors(1000, dim, 4);
        let base = vectors(500, dim, 5);
        let err = |k: usize| {
            let index = PcaCodec::new(k).unwrap().fit(&train, &base, dim).unwrap();
            let mut row = vec![0f32; dim];
            let mut se = 0f32;
            for (i, x) in base.chunks_exact(dim).enumerate() {
                index.decode(i, &mut row).unwrap();
                se += x
                    .iter()
                    .zip(&row)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>();
            }
            se / 500.0 // mean squared error per (unit-norm) vector
        };
        let (full, half) = (err(dim), err(dim / 4));
        // int8 rounding of the coefficients only: about 1 % of the energy at most.
        assert!(full < 1e-3, "full-rank error {full}");
        assert!(half > 10.0 * full, "truncated {half} vs full {full}");
    }

    #[test]
    fn recall_sanity() {
        let r = top10_overlap(&*parse("pca:k=48").unwrap(), 1000, 64);
        assert!(r > 0.8, "pca:k=48 top-10 overlap {r}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let train = vectors(20, 8, 1);
        assert!(PcaCodec::new(0).is_err());
        assert!(PcaCodec::new(9).unwrap().fit(&train, &train, 8).is_err());
        assert!(PcaCodec::new(4).unwrap().fit(&train, &[], 8).is_err());
        assert!(PcaCodec::new(4)
            .unwrap()
            .fit(&[f32::NAN; 8], &train, 8)
            .is_err());
        let index = PcaCodec::new(4).unwrap().fit(&train, &train, 8).unwrap();
        let mut out = vec![0f32; 20];
        assert!(index.scores(&[0.0; 7], &mut out).is_err());
        assert!(index.decode(20, &mut [0.0; 8]).is_err());
        assert!(index.decode(0, &mut [0.0; 7]).is_err());
        assert!(parse("pca:k=x").is_none() && parse("pca").is_none());
    }
}
