//! `svd`: rank-r truncation of the tensor's 2-D view `A = [rows, cols]` (cols = last
//! dimension; a 1-D tensor is `1 × n`, a scalar `1 × 1`) — the low-rank baseline.
//!
//! Stored: two factors `L` (rows × r) and `R` (r × cols) with `L · R` the best rank-r
//! approximation of `A`, as f16 (default) or f32 (`svd:f32`), `L` row-major then `R`
//! row-major, cut into chunks of [`CHUNK_VALUES`] values. `L = U·diag(S)`, `R = Vᵀ` up to a
//! per-component rescaling: component `j`'s column of `L` and row of `R` are scaled by `c`
//! and `1/c` so their largest magnitudes are equal, which keeps f16 away from overflow and
//! subnormals without changing the product. If f16 still overflows, the tensor is stored
//! as f32 (reported as `svd_f16_fallback`). Parameters: storage type (1 byte), r (varint).
//!
//! The SVD is computed here, without a linear-algebra dependency: the Gram matrix of the
//! smaller side (`AᵀA` when cols ≤ rows, else `AAᵀ`, accumulated in f64 in parallel) is
//! eigendecomposed by the KLT's Householder tridiagonalisation + implicit QL (EISPACK `tred2`/`tql2`,
//! as in JAMA); the other factor is `A` projected on the eigenvectors. Cost: `rows·cols·k`
//! for the Gram matrix and the projection (`k = min(rows, cols)`) plus about `10·k³` for the
//! eigensolver — 30522 × 384 takes a few seconds on one core. Squaring the matrix limits
//! the relative accuracy of singular values below about `1e-8 · s_max`, far below what f16
//! storage resolves.
//!
//! Rank: [`Rate::Bits`]`(b)` — the largest r whose all-in bits (factors and parameters) fit
//! `b · rows · cols` (r may be 0: all zeros); [`Rate::Snr`] — the smallest r reaching the
//! target, predicted from the eigenvalues and checked on the stored factors (the highest
//! rank if none does); [`Rate::Quality`]`(q)` — `max(1, round(q/100 · k))`;
//! [`Rate::Default`] — `rank=N` from the spec, else quality 50. [`Rate::MaxError`] is
//! refused. Options: `f32`, `f16` (the default), `rank=N`.

use super::{check_values, decode_numel, CHUNK_VALUES};
use crate::bytes::{ByteReader, ByteWriter};
use crate::codec::{Codec, CodecSpec, Encoded, Rate};
use crate::error::{Error, Result};
use crate::metrics::snr_db;
use crate::tensor::matrix_dims;
use half::f16;
use rayon::prelude::*;

/// Quality used for [`Rate::Default`] when the spec gives no `rank=`.
pub const DEFAULT_QUALITY: u8 = 50;
/// Largest `min(rows, cols)` this codec decomposes (the Gram matrix is `k × k` f64).
pub const MAX_SMALL_SIDE: usize = 8192;

/// The `svd` codec.
#[derive(Debug, Clone)]
pub struct SvdCodec {
    f32_factors: bool,
    rank: Option<usize>,
}

impl SvdCodec {
    /// A codec storing factors as f32 (`true`) or f16; `rank` fixes the rank used for
    /// [`Rate::Default`] (clamped to `min(rows, cols)`).
    pub fn new(f32_factors: bool, rank: Option<usize>) -> Self {
        SvdCodec { f32_factors, rank }
    }
    /// Parses `svd[:f32|f16][:rank=N]`.
    pub fn from_spec(spec: &CodecSpec) -> Result<Self> {
        spec.check_allowed(&["f32", "f16"], &["rank"])?;
        let f32_factors = spec.flags.iter().any(|f| f == "f32");
        if f32_factors && spec.flags.iter().any(|f| f == "f16") {
            return Err(Error::param(
                "svd storage",
                "f16 and f32",
                "one of f16, f32",
            ));
        }
        let rank: Option<usize> = spec.get_parsed("rank", "a positive integer")?;
        if rank == Some(0) {
            // Rank 0 stores nothing and decodes to zeros: never what anyone asked for.
            return Err(Error::param("rank", 0, "a positive integer"));
        }
        Ok(SvdCodec::new(f32_factors, rank))
    }
}

/// An eigendecomposition of a symmetric matrix: eigenvalues in decreasing order and the
/// matching unit eigenvectors, `vectors[j * n .. (j + 1) * n]` for eigenvalue `j`.
#[derive(Debug, Clone)]
pub struct SymEigen {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Eigenvectors, one contiguous row per eigenvalue.
    pub vectors: Vec<f64>,
}

/// Eigendecomposition of the symmetric `n × n` row-major matrix `a`: the KLT's solver
/// ([`crate::transform::klt::sym_eigen`], Householder tridiagonalisation + implicit QL),
/// keeping every eigenvector.
pub fn sym_eigen(a: &[f64], n: usize) -> SymEigen {
    assert_eq!(a.len(), n * n, "sym_eigen: matrix is not n × n");
    let mut m = a.to_vec();
    let (values, vectors) = crate::transform::klt::sym_eigen(&mut m, n, n);
    SymEigen { values, vectors }
}

/// `Σ_rows a aᵀ` (the `cols × cols` Gram matrix `AᵀA`) of a row-major `rows × cols` matrix,
/// accumulated in f64, four rows at a time, in parallel over row blocks.
pub fn gram_of_rows(a: &[f32], cols: usize) -> Vec<f64> {
    let c = cols;
    if c == 0 {
        return Vec::new();
    }
    let block = 256 * c;
    let mut g = a
        .par_chunks(block)
        .fold(
            || vec![0f64; c * c],
            |mut g, blk| {
                let mut r = vec![0f64; 4 * c];
                for quad in blk.chunks(4 * c) {
                    r.fill(0.0);
                    for (x, &y) in r.iter_mut().zip(quad) {
                        *x = f64::from(y);
                    }
                    let (r0, rest) = r.split_at(c);
                    let (r1, rest) = rest.split_at(c);
                    let (r2, r3) = rest.split_at(c);
                    for j in 0..c {
                        let (x0, x1, x2, x3) = (r0[j], r1[j], r2[j], r3[j]);
                        let row = &mut g[j * c + j..(j + 1) * c];
                        for ((((gk, &a0), &a1), &a2), &a3) in row
                            .iter_mut()
                            .zip(&r0[j..])
                            .zip(&r1[j..])
                            .zip(&r2[j..])
                            .zip(&r3[j..])
                        {
                            *gk += x0 * a0 + x1 * a1 + x2 * a2 + x3 * a3;
                        }
                    }
                }
                g
            },
        )
        .reduce(
            || vec![0f64; c * c],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    for j in 0..c {
        for k in j + 1..c {
            g[k * c + j] = g[j * c + k];
        }
    }
    g
}

/// `L · R` for row-major `L` (`rows × r`) and `R` (`r × cols`), in parallel over rows.
fn product(l: &[f32], r: &[f32], rows: usize, rank: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    if cols == 0 || rank == 0 {
        return out;
    }
    out.par_chunks_mut(cols).enumerate().for_each(|(i, o)| {
        for (j, &lij) in l[i * rank..(i + 1) * rank].iter().enumerate() {
            if lij != 0.0 {
                for (x, &y) in o.iter_mut().zip(&r[j * cols..(j + 1) * cols]) {
                    *x += lij * y;
                }
            }
        }
    });
    out
}

/// The decomposition of one tensor, from which factors of any rank are cut.
struct Decomposition {
    rows: usize,
    cols: usize,
    /// True when the Gram matrix was `AᵀA` (cols ≤ rows): eigenvectors are rows of `Vᵀ`.
    tall: bool,
    eig: SymEigen,
}

impl Decomposition {
    fn new(values: &[f32], rows: usize, cols: usize) -> Self {
        let tall = cols <= rows;
        let g = if tall {
            gram_of_rows(values, cols)
        } else {
            let mut at = vec![0f32; rows * cols];
            for i in 0..rows {
                for j in 0..cols {
                    at[j * rows + i] = values[i * cols + j];
                }
            }
            gram_of_rows(&at, rows)
        };
        let k = rows.min(cols);
        let mut eig = sym_eigen(&g, k);
        eig.values.iter_mut().for_each(|x| *x = x.max(0.0));
        Decomposition {
            rows,
            cols,
            tall,
            eig,
        }
    }
    fn k(&self) -> usize {
        self.rows.min(self.cols)
    }
    /// Squared Frobenius error of rank `r` (sum of the discarded eigenvalues).
    fn tail(&self, r: usize) -> f64 {
        self.eig.values[r.min(self.k())..].iter().sum()
    }
    /// Balanced f64 factors `(L, R)` of rank `r`.
    fn factors(&self, values: &[f32], r: usize) -> (Vec<f64>, Vec<f64>) {
        let (m, c, k) = (self.rows, self.cols, self.k());
        let w = &self.eig.vectors[..r * k];
        let (mut l, mut rr) = if self.tall {
            // L = A · W_rᵀ, R = W_r.
            let mut l = vec![0f64; m * r];
            l.par_chunks_mut(r.max(1)).enumerate().for_each(|(i, li)| {
                let row: Vec<f64> = values[i * c..(i + 1) * c]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect();
                for (j, lij) in li.iter_mut().enumerate().take(r) {
                    *lij = row
                        .iter()
                        .zip(&w[j * k..(j + 1) * k])
                        .map(|(a, b)| a * b)
                        .sum();
                }
            });
            (l, w.to_vec())
        } else {
            // L = W_rᵀ, R = W_r · A.
            let mut l = vec![0f64; m * r];
            for j in 0..r {
                for i in 0..m {
                    l[i * r + j] = w[j * k + i];
                }
            }
            let mut rr = vec![0f64; r * c];
            rr.par_chunks_mut(c).enumerate().for_each(|(j, rj)| {
                for i in 0..m {
                    let wij = w[j * k + i];
                    if wij != 0.0 {
                        for (x, &a) in rj.iter_mut().zip(&values[i * c..(i + 1) * c]) {
                            *x += wij * f64::from(a);
                        }
                    }
                }
            });
            (l, rr)
        };
        for j in 0..r {
            let ml = (0..m).map(|i| l[i * r + j].abs()).fold(0.0, f64::max);
            let mr = rr[j * c..(j + 1) * c]
                .iter()
                .map(|x| x.abs())
                .fold(0.0, f64::max);
            if ml > 0.0 && mr > 0.0 {
                let s = (mr / ml).sqrt();
                (0..m).for_each(|i| l[i * r + j] *= s);
                rr[j * c..(j + 1) * c].iter_mut().for_each(|x| *x /= s);
            }
        }
        (l, rr)
    }
}

/// Stored factors of one rank: the values as they decode, and the bytes.
struct Stored {
    rank: usize,
    f32_factors: bool,
    l: Vec<f32>,
    r: Vec<f32>,
}

impl Stored {
    /// Rounds f64 factors to the storage type; `None` if f16 overflows.
    fn new(l: &[f64], r: &[f64], rank: usize, f32_factors: bool) -> Option<Self> {
        let round = |x: &f64| -> f32 {
            let v = *x as f32;
            if f32_factors {
                v
            } else {
                f16::from_f32(v).to_f32()
            }
        };
        let l: Vec<f32> = l.iter().map(round).collect();
        let r: Vec<f32> = r.iter().map(round).collect();
        if l.iter().chain(&r).any(|x| !x.is_finite()) {
            return None;
        }
        Some(Stored {
            rank,
            f32_factors,
            l,
            r,
        })
    }
    fn params(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u8(u8::from(self.f32_factors));
        w.varint(self.rank as u64);
        w.into_inner()
    }
    fn chunks(&self) -> Vec<Vec<u8>> {
        let all: Vec<f32> = self.l.iter().chain(&self.r).copied().collect();
        let f32_factors = self.f32_factors;
        all.par_chunks(CHUNK_VALUES)
            .map(|c| {
                if f32_factors {
                    c.iter().flat_map(|v| v.to_le_bytes()).collect()
                } else {
                    c.iter()
                        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                        .collect()
                }
            })
            .collect()
    }
}

/// All-in bytes of rank `r`: parameters plus factors.
fn payload_bytes(rows: usize, cols: usize, r: usize, bytes_per_value: usize) -> usize {
    let mut w = ByteWriter::new();
    w.varint(r as u64);
    1 + w.buf.len() + (rows + cols) * r * bytes_per_value
}

/// The tensor's 2-D view and its decomposition, with the steps of choosing a rank.
struct Plan<'a> {
    values: &'a [f32],
    rows: usize,
    cols: usize,
    /// `min(rows, cols)`, the highest rank.
    k: usize,
    dec: Decomposition,
    /// Total energy `Σ s²`.
    total: f64,
}

impl<'a> Plan<'a> {
    fn new(values: &'a [f32], rows: usize, cols: usize) -> Self {
        let dec = Decomposition::new(values, rows, cols);
        let total = dec.tail(0);
        Plan {
            values,
            rows,
            cols,
            k: rows.min(cols),
            dec,
            total,
        }
    }

    /// SNR of rank `r` predicted from the discarded eigenvalues.
    fn predicted_snr(&self, r: usize) -> f64 {
        let t = self.dec.tail(r);
        if t <= 0.0 {
            f64::INFINITY
        } else {
            10.0 * (self.total / t).log10()
        }
    }

    fn by_quality(&self, q: u8) -> usize {
        ((f64::from(q) / 100.0 * self.k as f64).round() as usize).clamp(1, self.k)
    }

    /// The largest rank whose all-in bits fit `b` bits per value.
    fn by_bits(&self, b: f64, bytes_per_value: usize) -> usize {
        let budget = b * (self.rows * self.cols) as f64;
        (0..=self.k)
            .rev()
            .find(|&r| {
                8.0 * payload_bytes(self.rows, self.cols, r, bytes_per_value) as f64 <= budget
            })
            .unwrap_or(0)
    }

    /// The first rank to try for `rate` (an SNR target is refined by [`Plan::reach_snr`]).
    fn initial_rank(&self, rate: Rate, default_rank: Option<usize>, f32_factors: bool) -> usize {
        match rate {
            Rate::Quality(q) => self.by_quality(q),
            Rate::Default => match default_rank {
                Some(r) => r.min(self.k),
                None => self.by_quality(DEFAULT_QUALITY),
            },
            Rate::Bits(b) => self.by_bits(b, if f32_factors { 4 } else { 2 }),
            Rate::Snr(db) => (0..=self.k)
                .find(|&r| self.predicted_snr(r) >= db)
                .unwrap_or(self.k),
            // Refused by `encode` before a plan is made.
            Rate::MaxError(_) => self.k,
        }
    }

    /// The factors of rank `rank` in the given precision (`None`: f16 overflows).
    fn store(&self, rank: usize, f32_factors: bool) -> Option<Stored> {
        let (l, r) = self.dec.factors(self.values, rank);
        Stored::new(&l, &r, rank, f32_factors)
    }

    fn store_or_err(&self, rank: usize, f32_factors: bool) -> Result<Stored> {
        self.store(rank, f32_factors)
            .ok_or_else(|| Error::External("svd: factors overflow".into()))
    }

    /// SNR of the stored factors against the tensor.
    fn actual_snr(&self, s: &Stored) -> f64 {
        snr_db(
            self.values,
            &product(&s.l, &s.r, self.rows, s.rank, self.cols),
        )
    }

    /// Checks the predicted rank's SNR on the stored factors and, if it fell short,
    /// bisects upwards for the smallest rank that reaches `db` (the highest rank if none
    /// does). Returns the factors and their SNR.
    fn reach_snr(&self, stored: Stored, db: f64) -> Result<(Stored, f64)> {
        let snr = self.actual_snr(&stored);
        if snr >= db || stored.rank >= self.k {
            return Ok((stored, snr));
        }
        let f32_factors = stored.f32_factors;
        let full = self.store_or_err(self.k, f32_factors)?;
        let full_snr = self.actual_snr(&full);
        if full_snr < db {
            return Ok((full, full_snr));
        }
        let (mut lo, mut hi) = (stored.rank + 1, self.k);
        let (mut best, mut best_snr) = (full, full_snr);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let s = self.store_or_err(mid, f32_factors)?;
            let v = self.actual_snr(&s);
            if v >= db {
                (best, best_snr) = (s, v);
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok((best, best_snr))
    }

    /// The statistics reported for the stored factors.
    fn stats(&self, stored: &Stored, payload: usize) -> Vec<(String, f64)> {
        let n = (self.rows * self.cols) as f64;
        vec![
            ("rank".into(), stored.rank as f64),
            ("max_rank".into(), self.k as f64),
            (
                "factor_bits".into(),
                if stored.f32_factors { 32.0 } else { 16.0 },
            ),
            (
                "energy_kept".into(),
                if self.total > 0.0 {
                    1.0 - self.dec.tail(stored.rank) / self.total
                } else {
                    1.0
                },
            ),
            ("bits_per_value".into(), 8.0 * payload as f64 / n),
        ]
    }
}

impl Codec for SvdCodec {
    fn name(&self) -> &'static str {
        "svd"
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        rate.validate()?;
        let n = check_values("svd", values, shape)?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::param(
                "value",
                v,
                "finite values (the container stores the others)",
            ));
        }
        if let Rate::MaxError(_) = rate {
            return Err(Error::unsupported(
                "svd",
                "a truncated SVD cannot bound every element's error; use a rank, bits or SNR target",
            ));
        }
        let (rows, cols) = matrix_dims(shape);
        let k = rows.min(cols);
        if n == 0 {
            let s = Stored {
                rank: 0,
                f32_factors: self.f32_factors,
                l: Vec::new(),
                r: Vec::new(),
            };
            return Ok(Encoded {
                params: s.params(),
                chunks: Vec::new(),
                stats: vec![("rank".into(), 0.0)],
            });
        }
        if k > MAX_SMALL_SIDE {
            return Err(Error::unsupported(
                "svd",
                format!("the smaller side of the 2-D view is {k}; at most {MAX_SMALL_SIDE} is supported"),
            ));
        }
        let plan = Plan::new(values, rows, cols);
        let mut extra: Vec<(String, f64)> = Vec::new();
        let rank = plan.initial_rank(rate, self.rank, self.f32_factors);
        let mut stored = match plan.store(rank, self.f32_factors) {
            Some(s) => s,
            None => {
                // f16 overflows: store f32 factors, at the rank the rate gives for them.
                extra.push(("svd_f16_fallback".into(), 1.0));
                let rank = plan.initial_rank(rate, self.rank, true);
                plan.store(rank, true)
                    .ok_or_else(|| Error::External("svd: f32 factors overflow".into()))?
            }
        };
        if let Rate::Snr(db) = rate {
            let snr;
            (stored, snr) = plan.reach_snr(stored, db)?;
            extra.push(("snr_db".into(), snr));
            extra.push(("snr_target_met".into(), f64::from(u8::from(snr >= db))));
        }
        if let Rate::Bits(b) = rate {
            let bytes_per_value = if stored.f32_factors { 4 } else { 2 };
            let bits =
                8.0 * payload_bytes(rows, cols, stored.rank, bytes_per_value) as f64 / n as f64;
            extra.push(("bits_budget_met".into(), f64::from(u8::from(bits <= b))));
        }
        let params = stored.params();
        let chunks = stored.chunks();
        let payload = params.len() + chunks.iter().map(Vec::len).sum::<usize>();
        let mut stats = plan.stats(&stored, payload);
        stats.extend(extra);
        Ok(Encoded {
            params,
            chunks,
            stats,
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        let n = decode_numel("svd", shape)?;
        let (rows, cols) = matrix_dims(shape);
        let k = if n == 0 { 0 } else { rows.min(cols) };
        let mut p = ByteReader::new(params, "svd params");
        let f32_factors = match p.u8()? {
            0 => false,
            1 => true,
            t => {
                return Err(Error::corrupt(format!(
                    "svd params: storage type {t} (expected 0 or 1)"
                )))
            }
        };
        let rank = p.varint_max("rank", k as u64)? as usize;
        p.finish()?;
        let total = (rows + cols) * rank;
        let bpv = if f32_factors { 4 } else { 2 };
        super::check_fixed_chunks("svd", chunks, total, bpv)?;
        let mut all = crate::limits::try_zeroed::<f32>(total, "svd factors")?;
        all.par_chunks_mut(CHUNK_VALUES)
            .zip(chunks.par_iter())
            .for_each(|(o, c)| {
                if f32_factors {
                    for (x, b) in o.iter_mut().zip(c.chunks_exact(4)) {
                        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    }
                } else {
                    for (x, b) in o.iter_mut().zip(c.chunks_exact(2)) {
                        *x = f16::from_le_bytes([b[0], b[1]]).to_f32();
                    }
                }
            });
        if all.iter().any(|x| !x.is_finite()) {
            return Err(Error::corrupt("svd: a stored factor is not finite"));
        }
        let (l, r) = all.split_at(rows * rank);
        Ok(if rank == 0 {
            vec![0f32; n]
        } else {
            product(l, r, rows, rank, cols)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    fn random(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..rows * cols)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect()
    }

    /// A matrix with decaying singular values (like trained weights).
    fn decaying(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let k = rows.min(cols);
        let mut a = vec![0f32; rows * cols];
        for j in 0..k {
            let s = 1.0 / (1.0 + j as f32);
            let u: Vec<f32> = (0..rows).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let v: Vec<f32> = (0..cols).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            for i in 0..rows {
                for c in 0..cols {
                    a[i * cols + c] += s * u[i] * v[c];
                }
            }
        }
        a
    }

    fn round_trip(c: &SvdCodec, v: &[f32], shape: &[usize], rate: Rate) -> (Encoded, Vec<f32>) {
        let e = c.encode(v, shape, rate).unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let d = c.decode(&e.params, &chunks, shape).unwrap();
        assert_eq!(d.len(), v.len());
        (e, d)
    }

    fn rel_err(a: &[f32], b: &[f32]) -> f64 {
        let e: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
        let s: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
        (e / s).sqrt()
    }

    fn stat(e: &Encoded, k: &str) -> f64 {
        e.stats.iter().find(|(n, _)| n == k).unwrap().1
    }

    #[test]
    fn eigen_of_known_matrix() {
        // [[2,1],[1,2]]: eigenvalues 3 and 1.
        let e = sym_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((e.values[0] - 3.0).abs() < 1e-12 && (e.values[1] - 1.0).abs() < 1e-12);
        let v0 = &e.vectors[..2];
        assert!((v0[0].abs() - 0.5f64.sqrt()).abs() < 1e-12 && (v0[0] - v0[1]).abs() < 1e-12);
        // A random symmetric matrix: A v = λ v, V orthonormal.
        let n = 40;
        let r = random(n, n, 7);
        let mut a = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = f64::from(r[i * n + j] + r[j * n + i]);
            }
        }
        let e = sym_eigen(&a, n);
        for j in 0..n {
            let v = &e.vectors[j * n..(j + 1) * n];
            for i in 0..n {
                let av: f64 = (0..n).map(|k| a[i * n + k] * v[k]).sum();
                assert!((av - e.values[j] * v[i]).abs() < 1e-9);
            }
            let w = &e.vectors[((j + 1) % n) * n..((j + 1) % n + 1) * n];
            assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(v.iter().zip(w).map(|(x, y)| x * y).sum::<f64>().abs() < 1e-12);
        }
        assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
        assert!(sym_eigen(&[], 0).values.is_empty());
        assert_eq!(sym_eigen(&[5.0], 1).values, vec![5.0]);
    }

    #[test]
    fn full_rank_is_exact_with_f32_factors() {
        let c = SvdCodec::new(true, None);
        for (rows, cols) in [(30, 20), (20, 30), (17, 17), (1, 9), (9, 1)] {
            let v = random(rows, cols, (rows * 100 + cols) as u64);
            let (e, d) = round_trip(&c, &v, &[rows, cols], Rate::Quality(100));
            assert_eq!(stat(&e, "rank"), rows.min(cols) as f64);
            assert!(rel_err(&v, &d) < 1e-4, "{rows}x{cols}: {}", rel_err(&v, &d));
        }
        // f16 factors: about f16 precision.
        let v = random(30, 20, 1);
        let (_, d) = round_trip(
            &SvdCodec::new(false, None),
            &v,
            &[30, 20],
            Rate::Quality(100),
        );
        assert!(rel_err(&v, &d) < 3e-3);
    }

    #[test]
    fn error_decreases_with_rank() {
        for (rows, cols) in [(60, 24), (24, 60)] {
            let v = decaying(rows, cols, 3);
            let c = SvdCodec::new(true, None);
            let errs: Vec<f64> = (1..=24)
                .map(|r| {
                    let c = SvdCodec::new(true, Some(r));
                    rel_err(&v, &round_trip(&c, &v, &[rows, cols], Rate::Default).1)
                })
                .collect();
            assert!(errs.windows(2).all(|w| w[1] <= w[0] + 1e-6), "{errs:?}");
            assert!(errs[23] < 1e-4);
            let (e, _) = round_trip(&c, &v, &[rows, cols], Rate::Default);
            assert_eq!(stat(&e, "rank"), 12.0);
        }
    }

    #[test]
    fn bits_and_snr_targets() {
        let (rows, cols) = (80, 48);
        let v = decaying(rows, cols, 5);
        let n = (rows * cols) as f64;
        for f32f in [false, true] {
            let c = SvdCodec::new(f32f, None);
            for b in [0.1, 1.0, 3.0, 8.0, 20.0] {
                let e = c.encode(&v, &[rows, cols], Rate::Bits(b)).unwrap();
                assert!(8.0 * e.payload_bytes() as f64 <= b * n, "{b}");
                let r = stat(&e, "rank") as usize;
                if r < rows.min(cols) {
                    let bpv = if f32f { 4 } else { 2 };
                    assert!(8.0 * payload_bytes(rows, cols, r + 1, bpv) as f64 > b * n);
                }
            }
            for db in [10.0, 20.0, 30.0] {
                let (e, d) = round_trip(&c, &v, &[rows, cols], Rate::Snr(db));
                assert!(snr_db(&v, &d) >= db);
                assert_eq!(stat(&e, "snr_target_met"), 1.0);
                let r = stat(&e, "rank") as usize;
                let (_, d1) = round_trip(
                    &SvdCodec::new(f32f, Some(r - 1)),
                    &v,
                    &[rows, cols],
                    Rate::Default,
                );
                assert!(snr_db(&v, &d1) < db, "rank {} also reaches {db}", r - 1);
            }
        }
        // Beyond f16's floor: highest rank, reported as not met.
        let (e, _) = round_trip(
            &SvdCodec::new(false, None),
            &v,
            &[rows, cols],
            Rate::Snr(150.0),
        );
        assert_eq!(stat(&e, "rank"), 48.0);
        assert_eq!(stat(&e, "snr_target_met"), 0.0);
        assert!(SvdCodec::new(false, None)
            .encode(&v, &[rows, cols], Rate::MaxError(0.1))
            .is_err());
    }

    #[test]
    fn degenerate_inputs() {
        let c = SvdCodec::new(false, None);
        let (_, d) = round_trip(&c, &[0.0; 12], &[3, 4], Rate::Snr(40.0));
        assert!(d.iter().all(|&x| x == 0.0));
        let (_, d) = round_trip(&c, &[], &[0, 5], Rate::Default);
        assert!(d.is_empty());
        let (_, d) = round_trip(&c, &[2.5], &[], Rate::Default);
        assert!((d[0] - 2.5).abs() < 2.5 * 2e-3, "{d:?}");
        let (e, d) = round_trip(&c, &[1.0, 2.0, 3.0], &[3], Rate::Bits(0.5));
        assert_eq!(stat(&e, "rank"), 0.0);
        assert_eq!(d, vec![0.0; 3]);
        // Large values overflow f16 without balancing... and with it fall back only if needed.
        let big: Vec<f32> = (0..64).map(|i| 1e6 * (i as f32 + 1.0)).collect();
        let (e, d) = round_trip(&c, &big, &[8, 8], Rate::Quality(100));
        assert!(rel_err(&big, &d) < 3e-3);
        assert!(e.stats.iter().all(|(k, _)| k != "svd_f16_fallback"));
        let huge: Vec<f32> = (0..64).map(|i| 1e30 * (i as f32 + 1.0)).collect();
        let (e, _) = round_trip(&c, &huge, &[8, 8], Rate::Quality(100));
        assert_eq!(stat(&e, "svd_f16_fallback"), 1.0);
        assert_eq!(stat(&e, "factor_bits"), 32.0);
    }

    #[test]
    fn bad_data_is_rejected() {
        let c = SvdCodec::new(false, None);
        let v = random(10, 6, 9);
        let e = c.encode(&v, &[10, 6], Rate::Quality(50)).unwrap();
        let ch = e.chunks[0].as_slice();
        assert!(c.decode(&e.params, &[ch], &[10, 6]).is_ok());
        assert!(c
            .decode(&e.params, &[&ch[..ch.len() - 1]], &[10, 6])
            .is_err());
        assert!(c.decode(&e.params, &[ch], &[11, 6]).is_err());
        assert!(c.decode(&[0, 99], &[ch], &[10, 6]).is_err());
        assert!(c.decode(&[2, 3], &[ch], &[10, 6]).is_err());
        assert!(c.decode(&[0, 3, 0], &[ch], &[10, 6]).is_err());
        let mut m = ch.to_vec();
        m[1] = 0x7C; // f16 infinity
        m[0] = 0x00;
        assert!(c.decode(&e.params, &[&m], &[10, 6]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn prop_round_trip(rows in 0usize..20, cols in 0usize..20, q in 1u8..=100, seed in any::<u64>()) {
            let v = random(rows, cols, seed);
            let c = SvdCodec::new(true, None);
            let e = c.encode(&v, &[rows, cols], Rate::Quality(q)).unwrap();
            let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
            let d = c.decode(&e.params, &chunks, &[rows, cols]).unwrap();
            prop_assert_eq!(d.len(), v.len());
            if q == 100 && !v.is_empty() {
                prop_assert!(rel_err(&v, &d) < 1e-4);
            }
        }
    }
}
