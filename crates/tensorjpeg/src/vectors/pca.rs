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

/// Parses `pca:k=K+int8` (or `pca:k=K`).
pub fn parse(spec: &str) -> Option<Box<dyn VectorCodec>> {
    let rest = spec.trim().strip_prefix("pca:k=")?;
    let k = rest.strip_suffix("+int8").unwrap_or(rest).parse().ok()?;
    Some(Box::new(PcaCodec::new(k).ok()?))
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
        let dim = 64;
        let train = vectors(1000, dim, 6);
        let base = vectors(2000, dim, 7);
        let queries = vectors(30, dim, 8);
        let exact: Vec<Vec<f32>> = queries
            .chunks_exact(dim)
            .map(|q| exact_scores(&base, dim, q))
            .collect();
        let index = parse("pca:k=48")
            .unwrap()
            .fit_encode(&train, &base, dim)
            .unwrap();
        let r = overlap(&exact, &all_scores(index.as_ref(), &queries), 10);
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

/// Every baseline on the MiniLM embeddings in `out/vec/` (skipped when they are missing):
/// `cargo test -p tensorjpeg --release --lib vectors::pca::real_data --features real-data-bench -- --nocapture`.
#[cfg(all(test, feature = "real-data-bench"))]
mod real_data {
    use super::super::kmeans::top_k;
    use super::super::{binary, pq, scalar};
    use super::*;
    use std::path::PathBuf;
    use std::time::Instant;

    /// The codecs measured (override with `TJ_CODECS`, space separated).
    fn codecs() -> Vec<String> {
        let list = std::env::var("TJ_CODECS").unwrap_or_else(|_| CODECS.to_string());
        list.split_whitespace().map(String::from).collect()
    }

    const CODECS: &str =
        "f16 int8 int4 binary binary+rescore binary+rescore:shortlist=40 binary+int8 \
        pq:m=16 pq:m=32 pq:m=64 opq:m=16 opq:m=32 opq:m=48 opq:m=64 pca:k=64 pca:k=128 pca:k=192";

    /// A little-endian f32 2-d `.npy` file: `(rows, cols, values)`.
    fn read_npy(name: &str) -> Option<(usize, usize, Vec<f32>)> {
        let dir = std::env::var("TJ_VEC_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../out/vec").to_string());
        let bytes = std::fs::read(PathBuf::from(dir).join(name)).ok()?;
        let (hlen, start) = if bytes[6] == 1 {
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        } else {
            (
                u32::from_le_bytes(bytes[8..12].try_into().ok()?) as usize,
                12,
            )
        };
        let header = std::str::from_utf8(&bytes[start..start + hlen]).ok()?;
        assert!(
            header.contains("'<f4'") && header.contains("'fortran_order': False"),
            "{header}"
        );
        let shape = header.split("'shape': (").nth(1)?.split(')').next()?;
        let dims: Vec<usize> = shape
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let values: Vec<f32> = bytes[start + hlen..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values.len(), dims[0] * dims[1]);
        Some((dims[0], dims[1], values))
    }

    fn rows(x: &[f32], dim: usize, idx: &[usize]) -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| x[i * dim..(i + 1) * dim].iter().copied())
            .collect()
    }

    fn codec(spec: &str) -> Box<dyn VectorCodec> {
        scalar::parse(spec)
            .or_else(|| binary::parse(spec))
            .or_else(|| pq::parse(spec))
            .or_else(|| parse(spec))
            .unwrap_or_else(|| panic!("unknown codec {spec}"))
    }

    /// Top-`k` lists of every query against an index (`None`: exact float32).
    fn search(
        index: Option<&dyn VectorIndex>,
        base: &[f32],
        queries: &[f32],
        dim: usize,
        k: usize,
    ) -> Vec<Vec<usize>> {
        let n = base.len() / dim;
        queries
            .chunks_exact(dim)
            .map(|q| {
                let mut s = vec![0f32; n];
                match index {
                    Some(ix) => ix.scores(q, &mut s).unwrap(),
                    None => s
                        .iter_mut()
                        .zip(base.chunks_exact(dim))
                        .for_each(|(s, x)| *s = dot_f32(q, x)),
                }
                top_k(&s, k)
            })
            .collect()
    }

    #[test]
    fn enwiki_neighbour_recall() {
        let Some((n, dim, x)) = read_npy("enwiki_sentences.npy") else {
            eprintln!("out/vec/enwiki_sentences.npy missing: skipped");
            return;
        };
        // The suggested split (out/vec/README.txt): i%12 == 0 query, i%12 in {1, 2} fit,
        // the rest the database.
        let pick = |f: &dyn Fn(usize) -> bool| {
            let idx: Vec<usize> = (0..n).filter(|&i| f(i)).collect();
            rows(&x, dim, &idx)
        };
        let queries = &pick(&|i| i % 12 == 0);
        let train = &pick(&|i| i % 12 == 1 || i % 12 == 2);
        let base = &pick(&|i| i % 12 > 2);
        let nq = queries.len() / dim;
        println!(
            "enwiki: {n} sentences, train {}, queries {nq}, database {}",
            train.len() / dim,
            base.len() / dim
        );
        let t = Instant::now();
        let exact = search(None, base, queries, dim, 10);
        let qps = nq as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:28} {:7.1} B/vec  nR@10 1.000  {qps:7.0} q/s",
            "float32",
            4.0 * dim as f64
        );
        for spec in codecs().iter().map(String::as_str) {
            let t = Instant::now();
            let index = codec(spec).fit_encode(train, base, dim).unwrap();
            let fit = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let got = search(Some(index.as_ref()), base, queries, dim, 10);
            let qps = nq as f64 / t.elapsed().as_secs_f64();
            let hits: usize = exact
                .iter()
                .zip(&got)
                .map(|(a, b)| a.iter().filter(|i| b.contains(i)).count())
                .sum();
            println!(
                "{spec:28} {:7.1} B/vec  nR@10 {:.3}  fit {fit:6.1}s  {qps:7.0} q/s  total {} B",
                index.bytes_per_vector(),
                hits as f64 / (10 * nq) as f64,
                index.total_bytes()
            );
        }
    }

    #[test]
    fn bible_paraphrase_recall() {
        let (Some((n, dim, web)), Some((n2, _, kjv))) =
            (read_npy("bible_web.npy"), read_npy("bible_kjv.npy"))
        else {
            eprintln!("out/vec/bible_*.npy missing: skipped");
            return;
        };
        assert_eq!(n, n2);
        let held: Vec<usize> = (0..2000).map(|j| j * n / 2000).collect();
        let eval: Vec<usize> = (0..n).filter(|i| held.binary_search(i).is_err()).collect();
        let nq: usize = std::env::var("TJ_BIBLE_QUERIES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let qidx: Vec<usize> = (0..nq.min(eval.len()))
            .map(|j| j * eval.len() / nq.min(eval.len()))
            .collect();
        let (train, base) = (rows(&kjv, dim, &held), rows(&kjv, dim, &eval));
        let queries = rows(
            &web,
            dim,
            &qidx.iter().map(|&j| eval[j]).collect::<Vec<_>>(),
        );
        println!(
            "bible: {n} pairs, fit on 2000 held-out KJV, database {} KJV, {} WEB queries",
            eval.len(),
            qidx.len()
        );
        let report = |name: &str, bpv: f64, got: &[Vec<usize>]| {
            let (mut r1, mut r10, mut mrr) = (0.0, 0.0, 0.0);
            for (&want, top) in qidx.iter().zip(got) {
                if let Some(p) = top.iter().position(|&i| i == want) {
                    if p == 0 {
                        r1 += 1.0;
                    }
                    if p < 10 {
                        r10 += 1.0;
                    }
                    mrr += 1.0 / (p + 1) as f64;
                }
            }
            let q = got.len() as f64;
            println!(
                "{name:28} {bpv:7.1} B/vec  R@1 {:.3}  R@10 {:.3}  MRR@100 {:.3}",
                r1 / q,
                r10 / q,
                mrr / q
            );
        };
        report(
            "float32",
            4.0 * dim as f64,
            &search(None, &base, &queries, dim, 100),
        );
        for spec in codecs().iter().map(String::as_str) {
            let index = codec(spec).fit_encode(&train, &base, dim).unwrap();
            report(
                spec,
                index.bytes_per_vector(),
                &search(Some(index.as_ref()), &base, &queries, dim, 100),
            );
        }
    }
}
