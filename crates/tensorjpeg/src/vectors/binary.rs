//! Sign (1-bit) codes, with optional float rescoring.
//!
//! Binarisation is sentence-transformers' `binary`/`ubinary` precision: bit `d` is set when
//! `x_d > 0` (no calibration, nothing fitted), `⌈dim/8⌉` bytes per vector (48 for 384).
//! A stored vector stands for the unit-norm sign vector `s/√dim`, `s ∈ {−1, +1}^dim`.
//!
//! Scoring modes (the codec spec in brackets):
//! - plain binary search (`binary`): the query is binarised too and the score is
//!   `(dim − 2·hamming)/dim`, the cosine between the two sign vectors (u64 popcounts);
//! - float rescoring (`binary+rescore`): the float query against the sign vector,
//!   `q·s/√dim`, for every stored vector, computed with per-query byte tables (one lookup
//!   per stored byte). sentence-transformers' `semantic_search(…, rescore=True)` rescores
//!   the query against the unpacked 0/1 bits, `q·b = (q·s + Σq)/2`: the same ranking;
//! - two-stage (`binary+rescore:shortlist=N`): Hamming search for the top `N` (with
//!   sentence-transformers' defaults `top_k = 10`, `rescore_multiplier = 4`: `N = 40`), those
//!   rescored by the float query; the rest score below the shortlist in Hamming order;
//! - two-stage with int8 rescoring (`binary+int8[:shortlist=N]`, default `N = 40`), as some
//!   vector databases do: an int8 copy ([`ScalarIndex`]) is stored beside the bits and
//!   counted in the size.
//!
//! [`BinaryIndex::search`] is the literal two-stage search for any `k` and multiplier.

use super::kmeans::{check_out, check_row, par_scores};
use super::scalar::{ScalarIndex, ScalarQuantizer};
use super::{check_query, check_rows, VectorCodec, VectorIndex};
use crate::kernels::top_k;
use crate::{Error, Result};

/// How a [`BinaryIndex`] scores a float query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescore {
    /// Binarised query, Hamming distance only.
    Hamming,
    /// Float query against the sign vectors: all of them (`None`) or a Hamming shortlist.
    Float {
        /// Hamming shortlist size; `None` rescores every vector.
        shortlist: Option<usize>,
    },
    /// Hamming shortlist of this size, rescored with a stored int8 copy.
    Int8 {
        /// Hamming shortlist size.
        shortlist: usize,
    },
}

/// The default shortlist: sentence-transformers' `top_k = 10` × `rescore_multiplier = 4`.
pub const DEFAULT_SHORTLIST: usize = 40;

/// Sign-bit codes (`binary`, `binary+rescore`, `binary+rescore:shortlist=N`,
/// `binary+int8[:shortlist=N]`).
#[derive(Debug, Clone, Copy)]
pub struct BinaryCodec {
    rescore: Rescore,
}

impl BinaryCodec {
    /// A codec scoring with the given mode (shortlists must be ≥ 1).
    pub fn new(rescore: Rescore) -> Result<Self> {
        match rescore {
            Rescore::Float { shortlist: Some(0) } | Rescore::Int8 { shortlist: 0 } => {
                Err(Error::param("binary rescoring shortlist", 0, "≥ 1"))
            }
            _ => Ok(BinaryCodec { rescore }),
        }
    }
    /// Plain binary search (`binary`).
    pub fn hamming() -> Self {
        BinaryCodec {
            rescore: Rescore::Hamming,
        }
    }
    /// Float rescoring of every vector (`binary+rescore`).
    pub fn rescore() -> Self {
        BinaryCodec {
            rescore: Rescore::Float { shortlist: None },
        }
    }
}

impl VectorCodec for BinaryCodec {
    fn name(&self) -> String {
        match self.rescore {
            Rescore::Hamming => "binary".into(),
            Rescore::Float { shortlist: None } => "binary+rescore".into(),
            Rescore::Float { shortlist: Some(n) } => format!("binary+rescore:shortlist={n}"),
            Rescore::Int8 {
                shortlist: DEFAULT_SHORTLIST,
            } => "binary+int8".into(),
            Rescore::Int8 { shortlist } => format!("binary+int8:shortlist={shortlist}"),
        }
    }
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        check_rows(train, dim, "training set")?;
        let mut index = BinaryIndex::encode(base, dim, self.rescore)?;
        if let Rescore::Int8 { .. } = self.rescore {
            let q = ScalarQuantizer::fit(train, dim, 8)?;
            index.int8 = Some(ScalarIndex::encode(q, base)?);
        }
        Ok(Box::new(index))
    }
}

/// A collection of sign-bit codes, packed into u64 words.
#[derive(Debug, Clone)]
pub struct BinaryIndex {
    dim: usize,
    words: usize,
    bits: Vec<u64>,
    rescore: Rescore,
    int8: Option<ScalarIndex>,
}

/// Packs the signs of one vector (`x_d > 0` → bit `d`) into `out`.
fn pack(x: &[f32], out: &mut [u64]) {
    out.iter_mut().for_each(|w| *w = 0);
    for (d, &v) in x.iter().enumerate() {
        if v > 0.0 {
            out[d / 64] |= 1 << (d % 64);
        }
    }
}

impl BinaryIndex {
    /// Binarises `base` (row-major, `dim` wide). `Rescore::Int8` needs an int8 copy, which
    /// only [`BinaryCodec`] builds (it falls back to float rescoring here).
    pub fn encode(base: &[f32], dim: usize, rescore: Rescore) -> Result<Self> {
        let n = check_rows(base, dim, "collection")?;
        let words = dim.div_ceil(64);
        let mut bits = vec![0u64; n * words];
        for (x, out) in base.chunks_exact(dim).zip(bits.chunks_exact_mut(words)) {
            pack(x, out);
        }
        Ok(BinaryIndex {
            dim,
            words,
            bits,
            rescore,
            int8: None,
        })
    }
    fn row(&self, i: usize) -> &[u64] {
        &self.bits[i * self.words..(i + 1) * self.words]
    }
    /// Plain binary search scores: `(dim − 2·hamming(sign(q), xᵢ))/dim` for every vector.
    pub fn hamming_scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        let mut q = vec![0u64; self.words];
        pack(query, &mut q);
        let dim = self.dim as f32;
        par_scores(out, |first, block| {
            for (j, o) in block.iter_mut().enumerate() {
                let h: u32 = self
                    .row(first + j)
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum();
                *o = (dim - 2.0 * h as f32) / dim;
            }
        });
        Ok(())
    }
    /// Per-query byte tables: `t[j·256 + b]` = sum of `query[8j + t]` over the bits `t`
    /// set in `b`; with `Σq` and `1/√dim`.
    fn tables(&self, query: &[f32]) -> (Vec<f32>, f32, f32) {
        let nbytes = 8 * self.words;
        let mut t = vec![0f32; nbytes * 256];
        for (j, tab) in t.chunks_exact_mut(256).enumerate() {
            for b in 1..256usize {
                let d = 8 * j + b.trailing_zeros() as usize;
                tab[b] = tab[b & (b - 1)] + query.get(d).copied().unwrap_or(0.0);
            }
        }
        (t, query.iter().sum(), 1.0 / (self.dim as f32).sqrt())
    }
    /// `q·sᵢ/√dim` from the tables: `(2·Σ_{set bits} q − Σq)/√dim`.
    fn float_score(&self, tables: &(Vec<f32>, f32, f32), i: usize) -> f32 {
        let (t, sum, scale) = tables;
        let mut acc = [0f32; 8];
        for (w, tab) in self.row(i).iter().zip(t.chunks_exact(8 * 256)) {
            for (k, (a, tab)) in acc.iter_mut().zip(tab.chunks_exact(256)).enumerate() {
                *a += tab[((w >> (8 * k)) & 0xff) as usize];
            }
        }
        (2.0 * acc.iter().sum::<f32>() - sum) * scale
    }
    /// Float rescoring of every vector: `q·sᵢ/√dim` (the query is not binarised).
    pub fn float_scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        let tables = self.tables(query);
        par_scores(out, |first, block| {
            for (j, o) in block.iter_mut().enumerate() {
                *o = self.float_score(&tables, first + j);
            }
        });
        Ok(())
    }
    /// Rescored scores of the listed rows (int8 copy when stored, else float·sign).
    fn rescore_rows(&self, query: &[f32], rows: &[usize]) -> Result<Vec<f32>> {
        match &self.int8 {
            Some(int8) => int8.scores_of(query, rows),
            None => {
                let tables = self.tables(query);
                Ok(rows.iter().map(|&i| self.float_score(&tables, i)).collect())
            }
        }
    }
    /// Two-stage search: the `k·multiplier` nearest by Hamming distance, rescored (by the
    /// stored int8 copy if any, else the float query against the sign vectors); returns
    /// the best `k` as `(index, score)`, best first.
    pub fn search(&self, query: &[f32], k: usize, multiplier: usize) -> Result<Vec<(usize, f32)>> {
        let mut ham = vec![0f32; self.len()];
        self.hamming_scores(query, &mut ham)?;
        let short = indices(top_k(&ham, k.saturating_mul(multiplier.max(1))));
        let rescored = self.rescore_rows(query, &short)?;
        let best = top_k(&rescored, k);
        Ok(best
            .into_iter()
            .map(|j| (short[j as usize], rescored[j as usize]))
            .collect())
    }
}

/// Row indices as `usize`.
fn indices(top: Vec<u32>) -> Vec<usize> {
    top.into_iter().map(|i| i as usize).collect()
}

impl VectorIndex for BinaryIndex {
    fn len(&self) -> usize {
        self.bits.len() / self.words
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        let int8 = self.int8.as_ref().map_or(0, |x| x.total_bytes());
        self.len() * self.dim.div_ceil(8) + int8
    }
    fn side_bytes(&self) -> usize {
        self.int8.as_ref().map_or(0, |x| x.side_bytes())
    }
    /// The int8 copy when stored, else the unit sign vector `sᵢ/√dim`.
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        if let Some(int8) = &self.int8 {
            return int8.decode(i, out);
        }
        let s = 1.0 / (self.dim as f32).sqrt();
        let row = self.row(i);
        for (d, o) in out.iter_mut().enumerate() {
            *o = if row[d / 64] >> (d % 64) & 1 == 1 {
                s
            } else {
                -s
            };
        }
        Ok(())
    }
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        let shortlist = match self.rescore {
            Rescore::Hamming => return self.hamming_scores(query, out),
            Rescore::Float { shortlist: None } => return self.float_scores(query, out),
            Rescore::Float { shortlist: Some(s) } | Rescore::Int8 { shortlist: s } => s,
        };
        self.hamming_scores(query, out)?;
        let short = indices(top_k(out, shortlist));
        let rescored = self.rescore_rows(query, &short)?;
        // Everything else below the shortlist, in Hamming order (Hamming scores are in [−1, 1]).
        let floor = rescored.iter().copied().fold(f32::INFINITY, f32::min) - 3.0;
        out.iter_mut().for_each(|o| *o += floor);
        for (&i, &r) in short.iter().zip(&rescored) {
            out[i] = r;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::kmeans::testdata::{all_scores, exact_scores, overlap, parse, vectors};
    use super::*;

    #[test]
    fn sizes_names_and_bits() {
        let base = vectors(10, 384, 1);
        for spec in [
            "binary",
            "binary+rescore",
            "binary+rescore:shortlist=20",
            "binary+int8",
        ] {
            let codec = parse(spec).unwrap();
            assert_eq!(codec.name(), spec);
            let index = codec.fit_encode(&base, &base, 384).unwrap();
            let extra = if spec == "binary+int8" {
                10 * 384 + 8 * 384
            } else {
                0
            };
            assert_eq!(index.total_bytes(), 10 * 48 + extra, "{spec}");
        }
        let index = BinaryIndex::encode(&[0.5, -0.1, 0.0, 2.0, -3.0], 5, Rescore::Hamming).unwrap();
        assert_eq!(index.bits, vec![0b01001]);
        assert!(parse("binary:shortlist=3").is_none());
        assert!(parse("binary+rescore:shortlist=0").is_none());
    }

    #[test]
    fn scores_are_sign_vector_dot_products() {
        let dim = 70; // two words, ragged last byte
        let base = vectors(300, dim, 2);
        let q = vectors(1, dim, 3);
        let index = BinaryIndex::encode(&base, dim, Rescore::Float { shortlist: None }).unwrap();
        let (mut fl, mut ham) = (vec![0f32; 300], vec![0f32; 300]);
        index.scores(&q, &mut fl).unwrap();
        index.hamming_scores(&q, &mut ham).unwrap();
        let qs: Vec<f32> = q
            .iter()
            .map(|&v| if v > 0.0 { 1.0 } else { -1.0 })
            .collect();
        let mut row = vec![0f32; dim];
        for i in 0..300 {
            index.decode(i, &mut row).unwrap();
            let want: f32 = row.iter().zip(&q).map(|(a, b)| a * b).sum();
            assert!(
                (fl[i] - want).abs() < 1e-5,
                "float {i}: {} vs {want}",
                fl[i]
            );
            let signs: f32 =
                row.iter().zip(&qs).map(|(a, b)| a * b).sum::<f32>() / (dim as f32).sqrt();
            assert!((ham[i] - signs).abs() < 1e-5, "hamming {i}");
        }
    }

    #[test]
    fn two_stage_search_and_shortlist_scores() {
        let dim = 64;
        let base = vectors(1000, dim, 4);
        let q = vectors(1, dim, 5);
        for rescore in [
            Rescore::Float {
                shortlist: Some(40),
            },
            Rescore::Int8 { shortlist: 40 },
        ] {
            let index = BinaryCodec::new(rescore)
                .unwrap()
                .fit_encode(&base, &base, dim)
                .unwrap();
            let mut s = vec![0f32; 1000];
            index.scores(&q, &mut s).unwrap();
            let mut plain = BinaryIndex::encode(&base, dim, rescore).unwrap();
            if let Rescore::Int8 { .. } = rescore {
                let sq = ScalarQuantizer::fit(&base, dim, 8).unwrap();
                plain.int8 = Some(ScalarIndex::encode(sq, &base).unwrap());
            }
            let found = plain.search(&q, 10, 4).unwrap();
            assert_eq!(found.len(), 10);
            let top: Vec<usize> = indices(top_k(&s, 10));
            assert_eq!(
                top,
                found.iter().map(|f| f.0).collect::<Vec<_>>(),
                "{rescore:?}"
            );
            for (i, score) in found {
                assert_eq!(s[i], score);
            }
        }
    }

    #[test]
    fn rescoring_improves_recall() {
        let dim = 128;
        let base = vectors(3000, dim, 6);
        let queries = vectors(30, dim, 7);
        let exact: Vec<Vec<f32>> = queries
            .chunks_exact(dim)
            .map(|q| exact_scores(&base, dim, q))
            .collect();
        let r = |spec: &str| {
            let index = parse(spec).unwrap().fit_encode(&base, &base, dim).unwrap();
            overlap(&exact, &all_scores(index.as_ref(), &queries), 10)
        };
        let (plain, rescored, int8) = (
            r("binary"),
            r("binary+rescore"),
            r("binary+int8:shortlist=100"),
        );
        assert!(plain > 0.2, "binary {plain}");
        assert!(rescored > plain, "rescore {rescored} vs {plain}");
        assert!(int8 > rescored, "int8 {int8} vs {rescored}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let base = vectors(5, 16, 1);
        let index = BinaryCodec::rescore().fit_encode(&base, &base, 16).unwrap();
        let mut out = vec![0f32; 5];
        assert!(index.scores(&[0.0; 15], &mut out).is_err());
        assert!(index.scores(&[f32::INFINITY; 16], &mut out).is_err());
        assert!(index.decode(5, &mut [0.0; 16]).is_err());
        assert!(BinaryCodec::hamming().fit_encode(&base, &[], 16).is_err());
        assert!(BinaryCodec::hamming().fit_encode(&base, &base, 0).is_err());
        assert!(BinaryCodec::new(Rescore::Int8 { shortlist: 0 }).is_err());
    }
}
