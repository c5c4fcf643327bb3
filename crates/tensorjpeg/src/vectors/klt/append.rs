//! Growing an index without refitting: new vectors are coded with the index's frozen
//! codebook (mean, basis, quantizers, coarse cells, magnitude models), so an index can be
//! built once, added to, sharded across processes and merged.
//!
//! The models were fitted on the first collection, and a model gives no probability to a
//! value it never saw (a coarse component outside its histogram, a magnitude with a zero
//! frequency, one past an escape-free alphabet). Such a value cannot be coded; it is
//! replaced by the nearest value the model can code (ties to the smaller magnitude), and
//! [`AppendReport`] counts how often that happened. Components are visited in order, so
//! the context of component `j` (the magnitude of `j − 1`) is the one the decoder sees.

use super::encode::{encode_codes, project};
use super::params::{ctx_of, Params};
use super::KltIndex;
use crate::transform::klt::Klt;
use crate::vectors::check_rows;
use crate::{Error, Result};
use rayon::prelude::*;
use tensorjpeg_kernels::lut::BlockedCodes;

/// What [`KltIndex::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendReport {
    /// Vectors added.
    pub added: usize,
    /// Quantization indices the frozen models could not code, replaced by the nearest
    /// codable value.
    pub clamped_values: usize,
    /// Added vectors with at least one such value.
    pub clamped_vectors: usize,
}

/// Position of each component in the stream order (`usize::MAX` for a coarse field).
fn stream_position(p: &Params) -> Vec<usize> {
    let mut t_of = vec![usize::MAX; p.k()];
    for (t, &j) in p.stream.iter().enumerate() {
        t_of[j] = t;
    }
    t_of
}

/// The codable value nearest to `v` among `lo..lo + freqs.len()` with a non-zero
/// frequency (ties to the smaller magnitude).
fn nearest_in_histogram(v: i32, lo: i32, freqs: &[u32]) -> i32 {
    let mut best = (u64::MAX, u32::MAX, v);
    for (i, &f) in freqs.iter().enumerate() {
        if f == 0 {
            continue;
        }
        let c = lo + i as i32;
        let key = (
            (i64::from(c) - i64::from(v)).unsigned_abs(),
            c.unsigned_abs(),
        );
        if key < (best.0, best.1) {
            best = (key.0, key.1, c);
        }
    }
    best.2
}

/// Replaces each index of `q` (one vector) that the frozen models cannot code by the
/// nearest one they can; returns how many it replaced.
fn make_codable(p: &Params, t_of: &[usize], q: &mut [i32]) -> usize {
    let mut clamped = 0;
    for j in 0..q.len() {
        let v = q[j];
        let t = t_of[j];
        let c = if t == usize::MAX {
            let cc = &p.coarse[j];
            let i = i64::from(v) - i64::from(cc.lo);
            if (0..cc.freqs.len() as i64).contains(&i) && cc.freqs[i as usize] > 0 {
                v
            } else {
                nearest_in_histogram(v, cc.lo, &cc.freqs)
            }
        } else {
            let prev = if j > 0 { q[j - 1].unsigned_abs() } else { 0 };
            let m = &p.models[ctx_of(prev) * p.n_buckets + p.bucket[t] as usize];
            let alpha = m.alpha() as u32;
            let codable = |a: u32| {
                let s = if m.esc { a.min(alpha - 1) } else { a };
                s < alpha && m.cum[s as usize + 1] > m.cum[s as usize]
            };
            let a = v.unsigned_abs();
            if codable(a) {
                v
            } else {
                let best = (0..=alpha)
                    .filter(|&b| codable(b))
                    .min_by_key(|&b| (b.abs_diff(a), b))
                    .expect("every model codes at least one magnitude");
                if v < 0 {
                    -(best as i32)
                } else {
                    best as i32
                }
            }
        };
        if c != v {
            q[j] = c;
            clamped += 1;
        }
    }
    clamped
}

impl KltIndex {
    /// Bytes each vector costs, the codebook not counted: (serialized size − the size of
    /// [`KltIndex::codebook`]'s) / vectors — its coarse code, stream and stream length. The
    /// all-in size of a collection grown from this codebook approaches it as it grows.
    pub fn vector_bytes_per_vector(&self) -> f64 {
        let book = self.codebook().total;
        self.total.saturating_sub(book) as f64 / self.n.max(1) as f64
    }

    /// The codebook alone: this index with no vectors, to [`KltIndex::append`] to
    /// (for example one shard of a collection coded in many processes).
    pub fn codebook(&self) -> KltIndex {
        // Field by field: cloning the whole index would copy every vector's codes first.
        let mut ix = KltIndex {
            dim: self.dim,
            n: 0,
            mean: self.mean.clone(),
            basis: self.basis.clone(),
            params: self.params.clone(),
            unit: self.unit,
            recon: self.recon.clone(),
            mean_rot: self.mean_rot.clone(),
            mean_sq: self.mean_sq,
            coarse: Vec::new(),
            blocked: BlockedCodes::new(&[], self.params.coarse_bytes).ok(),
            offsets: vec![0],
            payload: Vec::new(),
            total: 0,
            search_opts: self.search_opts,
        };
        ix.total = ix.to_bytes().len();
        ix
    }

    /// Codes `vectors` (row-major, `dim()` wide) with the frozen codebook and appends
    /// them: nothing is refitted, so the vectors already stored keep their codes and
    /// every index built from the same codebook stays mergeable
    /// ([`KltIndex::extend_from`]). Errors on ragged rows, a non-finite value, or —
    /// for a unit-norm index, whose decoder renormalises — a vector whose norm is not 1.
    pub fn append(&mut self, vectors: &[f32]) -> Result<AppendReport> {
        if vectors.is_empty() {
            return Ok(AppendReport::default());
        }
        let m = check_rows(vectors, self.dim, "added vectors")?;
        if self.unit {
            if let Some((i, x)) = vectors
                .chunks_exact(self.dim)
                .enumerate()
                .find(|(_, x)| (crate::kernels::dot(x, x) - 1.0).abs() > 1e-3)
            {
                return Err(Error::BadTensor {
                    tensor: "added vectors".into(),
                    msg: format!(
                        "vector {i} has norm {:.4}, but the index holds unit-norm vectors \
                         (its decoder renormalises): normalise them first",
                        crate::kernels::dot(x, x).sqrt()
                    ),
                });
            }
        }
        let k = self.params.k();
        let klt = Klt {
            cols: self.dim,
            k,
            mean: self.mean.clone(),
            basis: self.basis.rows.clone(),
            f16_basis: false,
        };
        let c = project(&klt, vectors, m);
        let rho = self.params.rho;
        let t_of = stream_position(&self.params);
        let mut q = vec![0i32; m * k];
        let clamped: Vec<usize> = q
            .par_chunks_mut(k)
            .zip(c.par_chunks(k))
            .map(|(qr, cr)| {
                for ((o, &v), cq) in qr.iter_mut().zip(cr).zip(&self.params.comps) {
                    *o = cq.quantize(v, rho);
                }
                make_codable(&self.params, &t_of, qr)
            })
            .collect();
        let (coarse, payload, offsets) = encode_codes(&self.params, &q);
        self.push_codes(&coarse, &payload, &offsets);
        Ok(AppendReport {
            added: m,
            clamped_values: clamped.iter().sum(),
            clamped_vectors: clamped.iter().filter(|&&c| c > 0).count(),
        })
    }

    /// Appends the vectors of `other`, which must share this index's codebook
    /// ([`KltIndex::codebook_crc`]; shards of one collection do).
    pub fn extend_from(&mut self, other: &KltIndex) -> Result<()> {
        let (a, b) = (self.codebook_crc(), other.codebook_crc());
        if a != b {
            return Err(Error::param(
                "index to merge",
                format!("codebook {b:08x} (dimension {})", other.dim),
                format!("this index's codebook {a:08x} (dimension {})", self.dim),
            ));
        }
        self.push_codes(&other.coarse, &other.payload, &other.offsets);
        Ok(())
    }

    /// Appends coded vectors: coarse bytes, streams and their `added + 1` offsets.
    fn push_codes(&mut self, coarse: &[u8], payload: &[u8], offsets: &[usize]) {
        let base = self.payload.len();
        self.coarse.extend_from_slice(coarse);
        if let Some(b) = &mut self.blocked {
            b.extend(coarse);
        }
        self.payload.extend_from_slice(payload);
        self.offsets
            .extend(offsets.iter().skip(1).map(|&o| o + base));
        self.n += offsets.len() - 1;
        self.total = self.to_bytes().len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::klt::{KltFit, KltOptions};
    use crate::vectors::VectorIndex;

    fn vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        crate::rng::correlated_unit_vectors(n, dim, seed)
    }

    fn opts(bytes: f64) -> KltOptions {
        KltOptions {
            bytes_per_vector: Some(bytes),
            coarse_components: KltOptions::SEARCH_COARSE_COMPONENTS,
            ..KltOptions::default()
        }
    }

    #[test]
    fn appending_codes_like_the_original_and_merges_shards() {
        let dim = 48;
        let x = vectors(900, dim, 1);
        let fit = KltFit::fit(&x, dim).unwrap();
        let whole = fit.encode(&x, dim, &opts(24.0)).unwrap();
        // The same vectors appended to the codebook get the same codes, bit for bit:
        // the codebook was fitted on them, so nothing needs clamping.
        let mut again = whole.codebook();
        assert_eq!(again.len(), 0);
        let rep = again.append(&x).unwrap();
        assert_eq!(rep.added, 900);
        assert_eq!(rep.clamped_values, 0);
        assert_eq!(again.to_bytes(), whole.to_bytes());
        // Shards coded apart and merged are the whole collection.
        let mut a = whole.codebook();
        a.append(&x[..400 * dim]).unwrap();
        let mut b = whole.codebook();
        b.append(&x[400 * dim..]).unwrap();
        a.extend_from(&b).unwrap();
        assert_eq!(a.to_bytes(), whole.to_bytes());
        // The empty codebook survives a round trip through bytes.
        let cb = whole.codebook();
        let back = KltIndex::from_bytes(&cb.to_bytes()).unwrap();
        assert_eq!(back.len(), 0);
        assert_eq!(back.codebook_crc(), whole.codebook_crc());
        assert!(back
            .search(&x[..dim], 5, &Default::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn new_vectors_decode_close_and_unseen_values_are_clamped_and_counted() {
        let dim = 48;
        let x = vectors(600, dim, 2);
        let fit = KltFit::fit(&x, dim).unwrap();
        let mut ix = fit.encode(&x, dim, &opts(32.0)).unwrap();
        let crc = ix.codebook_crc();
        // Vectors from the same distribution, and a few far outside it.
        let mut more = vectors(300, dim, 3);
        let odd = vectors(1, dim, 4);
        let mut spike = vec![0.0f32; dim];
        spike[dim - 1] = 1.0;
        more.extend_from_slice(&odd);
        more.extend_from_slice(&spike);
        let rep = ix.append(&more).unwrap();
        assert_eq!(rep.added, 302);
        assert!(rep.clamped_vectors >= 1, "{rep:?}");
        assert!(rep.clamped_vectors < 302, "{rep:?}");
        assert_eq!(ix.len(), 902);
        assert_eq!(ix.codebook_crc(), crc, "appending never refits");
        let back = KltIndex::from_bytes(&ix.to_bytes()).unwrap();
        back.validate().unwrap();
        // Typical new vectors decode about as well as the originals.
        let cos = |ix: &KltIndex, i: usize, x: &[f32]| {
            let mut d = vec![0.0f32; dim];
            ix.decode(i, &mut d).unwrap();
            crate::kernels::dot(&d, x)
        };
        let old: f32 = (0..300)
            .map(|i| cos(&back, i, &x[i * dim..][..dim]))
            .sum::<f32>()
            / 300.0;
        let new: f32 = (0..300)
            .map(|i| cos(&back, 600 + i, &more[i * dim..][..dim]))
            .sum::<f32>()
            / 300.0;
        assert!(new > old - 0.02, "new {new} against old {old}");
        // Searching for an added vector finds it.
        let hits = back
            .search_scored(&more[5 * dim..6 * dim], 3, &Default::default())
            .unwrap();
        assert_eq!(hits[0].0, 605);
        assert!(hits[0].1 > 0.9 && hits[0].1 >= hits[1].1, "{hits:?}");
    }

    #[test]
    fn a_unit_index_refuses_unnormalised_vectors_and_merging_checks_the_codebook() {
        let dim = 32;
        let x = vectors(400, dim, 5);
        let fit = KltFit::fit(&x, dim).unwrap();
        let mut ix = fit.encode(&x, dim, &opts(20.0)).unwrap();
        let twice: Vec<f32> = x[..dim].iter().map(|v| v * 2.0).collect();
        let e = ix.append(&twice).unwrap_err().to_string();
        assert!(e.contains("norm 2.0000") && e.contains("unit-norm"), "{e}");
        assert!(ix.append(&x[..dim - 1]).is_err());
        assert_eq!(ix.len(), 400, "a refused append changes nothing");
        let other = fit.encode(&x, dim, &opts(28.0)).unwrap();
        let e = ix.extend_from(&other).unwrap_err().to_string();
        assert!(e.contains("codebook"), "{e}");
        assert_eq!(ix.append(&[]).unwrap().added, 0);
    }
}
