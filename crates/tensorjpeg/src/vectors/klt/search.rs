//! Search in the compressed domain.
//!
//! A query `q` is rotated once: `q' = B̂q` (`k` values) and `s₀ = q·μ̂`; then for a stored
//! vector `x̂ = μ̂ + Σ_j ĉ_j b̂_j`, `q·x̂ = s₀ + Σ_j q'_j ĉ_j` exactly — no inverse
//! transform. Three ways to use that:
//!
//! - [`KltIndex::scores_full`] (the [`crate::vectors::VectorIndex::scores`] of the index): decodes every
//!   vector's indices and sums `q'_j ĉ_j` (the reference);
//! - [`KltIndex::search`]: *coarse pass* — each coarse byte `t` of a vector holds whole
//!   fields, so `T_t[v] = Σ_{fields in byte t} q'_j · ĉ_j(cell)` is a 256-entry table
//!   (`ĉ_j(cell)`: the cell's reconstruction centroid) and a vector's coarse score is
//!   `Σ_t T_t[byte_t]`. The tables are rounded to bytes on one common step (each table
//!   minus its minimum; the largest range maps to 255), so the scan is integer lookups
//!   summed in 16 bits — [`tensorjpeg_kernels::lut`], 64 vectors per AVX-512 VBMI step
//!   where the CPU has it — as faiss's fast scan does with 4-bit codes; the rounding only
//!   moves candidates near the shortlist's edge, since every candidate is rescored
//!   exactly. Then the `shortlist` best are decoded and rescored, and the top `k` of those
//!   are returned; [`KltIndex::search_reference`] computes the same rounded scores vector
//!   by vector from the row-major codes (no kernel);
//! - [`KltIndex::search_exact_batch`]: decodes every vector once into coefficients and
//!   searches them with all queries (for evaluating many queries).

use super::stream::{decode_group, GROUP};
use super::KltIndex;
use crate::kernels::{dot, top_k};
use crate::vectors::check_query;
use crate::vectors::retrieval::BruteForce;
use crate::{Error, Result};
use rayon::prelude::*;
use tensorjpeg_kernels::lut;

/// How [`KltIndex::search`] narrows the collection down to the vectors it decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Candidates rescored exactly (their streams decoded) after the coarse pass.
    pub shortlist: usize,
    /// Coarse bytes scored for every vector in a first stage (0: one stage, all bytes).
    pub prefilter_bytes: usize,
    /// Candidates the first stage keeps for the full coarse score.
    pub prefilter_keep: usize,
}

impl Default for SearchOptions {
    /// One coarse stage, [`SearchOptions::DEFAULT_SHORTLIST`] candidates rescored.
    fn default() -> Self {
        Self::shortlist(Self::DEFAULT_SHORTLIST)
    }
}

impl SearchOptions {
    /// Candidates rescored by default: measured on MiniLM (enwiki, 4,500 vectors, 96 B),
    /// recall@10 within 0.01 of exact compressed search.
    pub const DEFAULT_SHORTLIST: usize = 100;

    /// One coarse stage, then `shortlist` candidates rescored.
    pub fn shortlist(shortlist: usize) -> Self {
        SearchOptions {
            shortlist,
            prefilter_bytes: 0,
            prefilter_keep: 0,
        }
    }
}

/// `Σ_t tables[t][codes[t]]` with four independent sums.
#[inline]
fn lookup_sum(tables: &[[f32; 256]], codes: &[u8]) -> f32 {
    let full = codes.len() - codes.len() % 4;
    let (c4, cr) = codes.split_at(full);
    let (t4, tr) = tables.split_at(full);
    let mut acc = [0.0f32; 4];
    for (c, t) in c4.chunks_exact(4).zip(t4.chunks_exact(4)) {
        acc[0] += t[0][c[0] as usize];
        acc[1] += t[1][c[1] as usize];
        acc[2] += t[2][c[2] as usize];
        acc[3] += t[3][c[3] as usize];
    }
    for (&c, t) in cr.iter().zip(tr) {
        acc[0] += t[c as usize];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// A query rotated into the index's basis.
pub(super) struct Rotated {
    /// `q·μ̂`.
    pub s0: f32,
    /// `B̂q`.
    pub qr: Vec<f32>,
}

impl KltIndex {
    pub(super) fn rotate(&self, query: &[f32]) -> Result<Rotated> {
        check_query(query, self.dim)?;
        let s0 = dot(query, &self.mean);
        let qr = self
            .basis
            .rows
            .chunks_exact(self.dim)
            .map(|b| dot(query, b))
            .collect::<Vec<f32>>();
        Ok(Rotated { s0, qr })
    }

    /// The score of one vector from its indices `q`: `q·μ̂ + Σ_j q'_j ĉ_j`, divided by
    /// `‖x̂‖ = sqrt(‖μ̂‖² + Σ_j ĉ_j (ĉ_j + 2 (B̂μ̂)_j))` for a unit-norm index. Branch-free:
    /// `ĉ_j = v·Δ_j + sign(v)·offset_j[min(|v|, 3)]`.
    #[inline]
    fn score_indices(&self, rot: &Rotated, q: &[i32]) -> f32 {
        let (mut s, mut nn) = ([0.0f32; 2], [0.0f32; 2]);
        for (t, (((&v, r), &w), &m)) in q
            .iter()
            .zip(&self.recon)
            .zip(&rot.qr)
            .zip(&self.mean_rot)
            .enumerate()
        {
            let a = v.unsigned_abs().min(3) as usize;
            let c = v as f32 * r[0] + (v.signum() as f32) * r[a];
            s[t & 1] += w * c;
            nn[t & 1] += c * (c + 2.0 * m);
        }
        let dot = rot.s0 + (s[0] + s[1]);
        if self.unit {
            let n2 = self.mean_sq + (nn[0] + nn[1]);
            if n2 > 0.0 {
                return dot / n2.sqrt();
            }
        }
        dot
    }

    /// Quantization indices of the vectors `idx` (at most 4, decoded as a group) into `q`
    /// (`idx.len() × k`), decoded in lockstep.
    pub fn indices_group(&self, idx: &[usize], q: &mut [i32]) -> Result<()> {
        let cb = self.params.coarse_bytes;
        let mut items: [(&[u8], &[u8]); GROUP] = [(&[], &[]); GROUP];
        for (it, &i) in items.iter_mut().zip(idx) {
            *it = (
                &self.coarse[i * cb..(i + 1) * cb],
                &self.payload[self.offsets[i]..self.offsets[i + 1]],
            );
        }
        decode_group(&self.params, &items[..idx.len()], q)
    }

    /// Exact compressed-domain scores of the vectors `idx` into `out` (groups of
    /// [`GROUP`] decoded in lockstep).
    fn score_many(&self, rot: &Rotated, idx: &[usize], out: &mut [f32]) -> Result<()> {
        let k = self.params.k();
        let mut q = vec![0i32; GROUP * k];
        for (ig, og) in idx.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            let qg = &mut q[..ig.len() * k];
            self.indices_group(ig, qg)?;
            for (o, qi) in og.iter_mut().zip(qg.chunks_exact(k)) {
                *o = self.score_indices(rot, qi);
            }
        }
        Ok(())
    }

    /// `q·x̂ᵢ` for every stored vector, from the compressed representation (every stream
    /// decoded, no vector reconstructed). `out` must hold `len()` values.
    pub fn scores_full(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        if out.len() != self.n {
            return Err(Error::param("klt scores output length", out.len(), self.n));
        }
        let rot = self.rotate(query)?;
        out.par_chunks_mut(256)
            .enumerate()
            .try_for_each(|(c, chunk)| {
                let idx: Vec<usize> = (c * 256..c * 256 + chunk.len()).collect();
                self.score_many(&rot, &idx, chunk)
            })
    }

    /// Per-query coarse tables: for each coarse byte, the partial dot product of each of
    /// its 256 values. Built low bits first: with the fields below bit `s` tabulated over
    /// `2^s` values, a `w`-bit field at shift `s` extends the table to `2^(s+w)` values
    /// (`T[u·2^s + low] = T[low] + q'_j ĉ_j(u)`), and bits no field uses repeat it — about
    /// 256 additions per byte however many fields share it.
    pub(super) fn coarse_tables(&self, qr: &[f32]) -> Vec<[f32; 256]> {
        /// Repeats `t[..2^from]` over `t[..2^to]` (bits that select nothing).
        fn repeat(t: &mut [f32; 256], from: u32, to: u32) {
            let (lo, hi) = (1usize << from, 1usize << to);
            for x in lo..hi {
                t[x] = t[x & (lo - 1)];
            }
        }
        let p = &self.params;
        let mut tables = vec![[0.0f32; 256]; p.coarse_bytes];
        for (t, fields) in tables.iter_mut().zip(&p.byte_fields) {
            let mut bits = 0u32;
            for &f in fields {
                let (j, _, s) = p.fields[f];
                repeat(t, bits, s);
                let c = &p.centroids[j];
                let low = 1usize << s;
                // Highest cell first: cell 0 updates the low part in place, last.
                for u in (1..c.len()).rev() {
                    let v = qr[j] * c[u];
                    for x in 0..low {
                        t[(u << s) | x] = t[x] + v;
                    }
                }
                let v0 = qr[j] * c[0];
                for x in t[..low].iter_mut() {
                    *x += v0;
                }
                bits = s + c.len().trailing_zeros();
            }
            repeat(t, bits, 8);
        }
        tables
    }

    /// The coarse tables rounded to bytes on one step for all of them (each minus its own
    /// minimum, the widest range mapped to [`lut::max_entry`]): `m × 256` entries, in the
    /// layout [`lut::scan`] takes. Sums of the rounded entries rank vectors as the float
    /// coarse scores do, up to half a step per coarse byte.
    pub(super) fn coarse_tables_u8(tables: &[[f32; 256]]) -> Vec<u8> {
        let top = f32::from(lut::max_entry(tables.len()));
        let bounds: Vec<(f32, f32)> = tables
            .iter()
            .map(|t| {
                t.iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    })
            })
            .collect();
        let range = bounds.iter().map(|&(a, b)| b - a).fold(0.0f32, f32::max);
        let scale = if range > 0.0 && range.is_finite() {
            top / range
        } else {
            0.0
        };
        let mut out = vec![0u8; tables.len() * 256];
        for ((o, t), &(lo, _)) in out.chunks_exact_mut(256).zip(tables).zip(&bounds) {
            for (o, &v) in o.iter_mut().zip(t) {
                // Round half up (`v − lo ≥ 0`; a NaN or an overshoot saturates in the cast).
                *o = ((v - lo) * scale + 0.5).min(top) as u8;
            }
        }
        out
    }

    /// One-stage coarse pass: the rounded tables scanned over every vector by
    /// [`lut::scan`], then the `shortlist` best (ties to the lower position) rescored.
    fn search_fast(
        &self,
        rot: &Rotated,
        tables: &[[f32; 256]],
        k: usize,
        shortlist: usize,
    ) -> Result<Vec<(u32, f32)>> {
        let blocked = self
            .blocked
            .as_ref()
            .expect("derived whenever there is a coarse code");
        let t8 = Self::coarse_tables_u8(tables);
        let mut scores = vec![0u16; blocked.blocks() * lut::LANES];
        lut::scan(&t8, blocked, &mut scores).map_err(|e| Error::corrupt(e.to_string()))?;
        let cand = lut::top_k_u16(&scores[..self.n], shortlist.max(k));
        self.rescore_candidates(rot, cand.into_iter().map(|i| i as usize).collect(), k)
    }

    /// Top-`k` by a coarse pass over every vector and exact rescoring of the
    /// `opts.shortlist` best (single-threaded: one query's latency). With
    /// `opts.prefilter_bytes > 0` the coarse pass runs in two stages: the first
    /// `prefilter_bytes` coarse bytes (the widest fields: the leading components) for every
    /// vector, then the rest for the `prefilter_keep` best only. A shortlist of `len()`
    /// (and no prefilter) rescores everything: exact compressed-domain search, which is
    /// also what an index without a coarse code does.
    pub fn search(&self, query: &[f32], k: usize, opts: &SearchOptions) -> Result<Vec<u32>> {
        Ok(self
            .search_scored(query, k, opts)?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    /// [`KltIndex::search`] with each hit's score: `(position, q·x̂)` best first (a cosine
    /// with the reconstruction for a unit-norm index), the exact compressed-domain score of
    /// the rescored candidate.
    pub fn search_scored(
        &self,
        query: &[f32],
        k: usize,
        opts: &SearchOptions,
    ) -> Result<Vec<(u32, f32)>> {
        let rot = self.rotate(query)?;
        let cb = self.params.coarse_bytes;
        if cb == 0 {
            // No coarse code to prune with: every vector is rescored.
            return self.rescore(&rot, &vec![rot.s0; self.n], k, self.n);
        }
        let tables = self.coarse_tables(&rot.qr);
        let b1 = opts.prefilter_bytes.min(cb);
        let keep = opts.prefilter_keep.max(opts.shortlist).max(k);
        if b1 == 0 || b1 == cb || keep >= self.n {
            return self.search_fast(&rot, &tables, k, opts.shortlist);
        }
        let (t1, t2) = tables.split_at(b1);
        let partial: Vec<f32> = self
            .coarse
            .chunks_exact(cb)
            .map(|codes| lookup_sum(t1, &codes[..b1]))
            .collect();
        let kept = top_k(&partial, keep);
        // Full coarse scores of the kept vectors; the others can no longer be chosen.
        let mut coarse = vec![f32::NEG_INFINITY; self.n];
        for &i in &kept {
            let i = i as usize;
            coarse[i] =
                rot.s0 + partial[i] + lookup_sum(t2, &self.coarse[i * cb + b1..(i + 1) * cb]);
        }
        self.rescore(&rot, &coarse, k, opts.shortlist)
    }

    /// Rescores the `shortlist` best coarse candidates exactly and returns the top `k` with
    /// their scores (ties to the lower index).
    pub(super) fn rescore(
        &self,
        rot: &Rotated,
        coarse: &[f32],
        k: usize,
        shortlist: usize,
    ) -> Result<Vec<(u32, f32)>> {
        let cand: Vec<usize> = top_k(coarse, shortlist.max(k))
            .into_iter()
            .map(|i| i as usize)
            .filter(|&i| coarse[i] > f32::NEG_INFINITY)
            .collect();
        self.rescore_candidates(rot, cand, k)
    }

    /// Rescores the candidates exactly and returns the top `k` with their scores (ties to
    /// the lower index).
    fn rescore_candidates(
        &self,
        rot: &Rotated,
        mut cand: Vec<usize>,
        k: usize,
    ) -> Result<Vec<(u32, f32)>> {
        // Ascending positions: the streams are read front to back.
        cand.sort_unstable();
        let mut s = vec![0.0f32; cand.len()];
        self.score_many(rot, &cand, &mut s)?;
        let mut scored: Vec<(f32, u32)> =
            s.into_iter().zip(cand.iter().map(|&i| i as u32)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(scored.into_iter().take(k).map(|(s, i)| (i, s)).collect())
    }

    /// [`KltIndex::search`] without the scan kernel: each vector's rounded coarse score
    /// summed from its row-major codes, the shortlist chosen by sorting (the scalar
    /// reference of the coarse pass; the same results as [`KltIndex::search`]).
    pub fn search_reference(&self, query: &[f32], k: usize, shortlist: usize) -> Result<Vec<u32>> {
        let rot = self.rotate(query)?;
        let cb = self.params.coarse_bytes;
        if cb == 0 {
            return Ok(self
                .rescore(&rot, &vec![rot.s0; self.n], k, self.n)?
                .into_iter()
                .map(|(i, _)| i)
                .collect());
        }
        let t8 = Self::coarse_tables_u8(&self.coarse_tables(&rot.qr));
        let coarse: Vec<f32> = self
            .coarse
            .chunks_exact(cb)
            .map(|codes| {
                codes
                    .iter()
                    .enumerate()
                    .map(|(t, &c)| u32::from(t8[t * 256 + c as usize]))
                    .sum::<u32>() as f32
            })
            .collect();
        Ok(self
            .rescore(&rot, &coarse, k, shortlist)?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    /// The float coarse score of vector `i` computed field by field from the cell
    /// centroids (`q·μ̂ + Σ_fields q'_j ĉ_j(cell)`): what the rounded tables approximate.
    #[cfg(test)]
    pub(super) fn coarse_score_fields(&self, query: &[f32], i: usize) -> Result<f32> {
        let rot = self.rotate(query)?;
        let p = &self.params;
        let cb = p.coarse_bytes;
        let codes = self
            .coarse
            .get(i * cb..(i + 1) * cb)
            .ok_or_else(|| Error::param("vector position", i, format!("< {}", self.n)))?;
        Ok(p.fields
            .iter()
            .enumerate()
            .fold(rot.s0, |s, (f, &(j, _, _))| {
                s + rot.qr[j] * p.centroids[j][super::stream::field(p, f, codes)]
            }))
    }

    /// [`KltIndex::search`] for many queries (row-major, `dim` wide), in parallel.
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        opts: &SearchOptions,
    ) -> Result<Vec<Vec<u32>>> {
        self.check_queries(queries)?;
        queries
            .par_chunks(self.dim)
            .map(|q| self.search(q, k, opts))
            .collect()
    }

    fn check_queries(&self, queries: &[f32]) -> Result<()> {
        if !queries.len().is_multiple_of(self.dim) {
            return Err(Error::BadTensor {
                tensor: "queries".into(),
                msg: format!(
                    "{} values do not split into queries of dimension {}",
                    queries.len(),
                    self.dim
                ),
            });
        }
        Ok(())
    }

    /// All decoded coefficients, `len() × k` row-major.
    pub fn decode_coefficients(&self) -> Result<Vec<f32>> {
        let k = self.params.k();
        let rho = self.params.rho;
        let mut c = vec![0.0f32; self.n * k];
        c.par_chunks_mut(GROUP * k).enumerate().try_for_each_init(
            || vec![0i32; GROUP * k],
            |q, (g, rows)| {
                let idx: Vec<usize> = (g * GROUP..g * GROUP + rows.len() / k).collect();
                let q = &mut q[..rows.len()];
                self.indices_group(&idx, q)?;
                for (o, (&v, cq)) in rows
                    .iter_mut()
                    .zip(q.iter().zip(self.params.comps.iter().cycle()))
                {
                    let r = cq.recon(v.unsigned_abs(), rho);
                    *o = if v < 0 { -r } else { r };
                }
                Ok(())
            },
        )?;
        Ok(c)
    }

    /// Exact compressed-domain search for many queries: every vector decoded once into its
    /// coefficients `ĉᵢ`, every query rotated once, then `q'·ĉᵢ` by the blocked float32
    /// kernel of [`crate::vectors::retrieval::BruteForce`] (the constant `q·μ̂` does not change a
    /// ranking). The same ranking as [`crate::vectors::VectorIndex::scores`] followed by
    /// top-`k`, up to rounding (sums in another order).
    pub fn search_exact_batch(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<u32>>> {
        self.check_queries(queries)?;
        let c = self.decode_coefficients()?;
        let kc = self.params.k();
        // Vectors [1, ĉᵢ]/‖x̂ᵢ‖ (or [1, ĉᵢ]) against queries [q·μ̂, q'].
        let z: Vec<f32> = c
            .par_chunks(kc)
            .flat_map_iter(|ci| {
                let mut nrm = 1.0f32;
                if self.unit {
                    let n2 = self.mean_sq
                        + ci.iter()
                            .zip(&self.mean_rot)
                            .map(|(&c, &m)| c * (c + 2.0 * m))
                            .sum::<f32>();
                    if n2 > 0.0 {
                        nrm = n2.sqrt();
                    }
                }
                std::iter::once(1.0 / nrm).chain(ci.iter().map(move |&c| c / nrm))
            })
            .collect();
        let rots: Vec<f32> = queries
            .par_chunks(self.dim)
            .map(|q| {
                self.rotate(q)
                    .map(|r| std::iter::once(r.s0).chain(r.qr).collect::<Vec<_>>())
            })
            .collect::<Result<Vec<_>>>()?
            .concat();
        if rots.is_empty() {
            return Ok(Vec::new());
        }
        BruteForce::new(&z, kc + 1)?.topk(&rots, k)
    }
}
