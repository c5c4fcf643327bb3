//! Quantization and coding parameters of the KLT collection codec, chosen from the
//! collection's own coefficients and stored once per collection.
//!
//! - Component `k` has a step `Δ_k` (f16) and a dead-zone quantizer
//!   `q = sign(c)·⌊|c|/Δ_k + ρ⌋` (`ρ = ½` is plain rounding, smaller widens the zero bin).
//!   Reconstruction uses the measured centroid of each magnitude bin:
//!   `ĉ = sign(q)·(|q|·Δ_k + (u_{k,ℓ} − ρ)·Δ_k)` with `ℓ = min(|q|, 3)` and `u` the
//!   centroid's position inside the bin, stored as a byte.
//! - The first `m` components may get a fixed-rate coarse field (`coarse.rs`); the
//!   per-component quantizer and magnitude model are in `component.rs`.
//! - The other components are entropy-coded: the magnitude `|q|` with a static model chosen
//!   by (context, bucket), the sign as a raw bit. The bucket groups components whose
//!   `σ_k/Δ_k` falls in the same quarter octave (their quantized distributions are alike, so
//!   a few dozen tables serve a few hundred components); the context is the previous
//!   component's magnitude (0, 1, ≥ 2). A model's last symbol may be an escape: the excess
//!   follows as an exp-Golomb code.

use super::coarse::CoarseComp;
use super::component::{CompQuant, MagModel, BUCKETS_PER_OCTAVE, MAX_ALPHA, NCTX};
use crate::bytes::{ByteReader, ByteWriter};
use crate::entropy::byte_rans::Packed;
use crate::{Error, Result};

/// Everything a decoder needs besides the basis: quantizers, coarse code, models.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Rounding offset `ρ` of the dead-zone quantizer (a multiple of 1/256).
    pub rho: f32,
    /// One quantizer per stored component (`k` of them).
    pub comps: Vec<CompQuant>,
    /// Coarse code of the first `m` components (width 0: entropy-coded instead).
    pub coarse: Vec<CoarseComp>,
    /// `(component, byte, shift)` of each coarse field (derived).
    pub fields: Vec<(usize, usize, u32)>,
    /// Coarse bytes per vector (derived).
    pub coarse_bytes: usize,
    /// The fields of each coarse byte (indices into `fields`), by ascending shift (derived).
    pub byte_fields: Vec<Vec<usize>>,
    /// Reconstruction centroid of each cell of each coarse component (derived).
    pub centroids: Vec<Vec<f32>>,
    /// Entropy-coded components in stream order (derived: the first `m` without a field,
    /// then `m..k`).
    pub stream: Vec<usize>,
    /// Bucket of each entropy-coded component (same order as `stream`).
    pub bucket: Vec<u8>,
    /// Number of buckets.
    pub n_buckets: usize,
    /// Models, index `ctx · n_buckets + bucket`.
    pub models: Vec<MagModel>,
    /// Every model packed for the fast decoder (derived).
    pub packed: Packed,
    /// Offset in `packed` of each of `models` (derived).
    pub model_off: Vec<u32>,
    /// Offset in `packed` of the refinement model of each cell of each coarse component,
    /// `u32::MAX` for a one-value cell (derived).
    pub cell_off: Vec<Vec<u32>>,
}

/// Context of a component from the previous component's magnitude.
#[inline]
pub fn ctx_of(prev: u32) -> usize {
    (prev as usize).min(NCTX - 1)
}

/// First-fit-decreasing placement of fields of `widths` (1..=8 bits) into bytes:
/// `(byte, shift)` of each field and the number of bytes.
pub fn layout(widths: &[u8]) -> (Vec<(usize, u32)>, usize) {
    let mut order: Vec<usize> = (0..widths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(widths[i]));
    let mut free: Vec<u32> = Vec::new();
    let mut place = vec![(0usize, 0u32); widths.len()];
    for i in order {
        let w = u32::from(widths[i]);
        let b = match free.iter().position(|&f| f >= w) {
            Some(b) => b,
            None => {
                free.push(8);
                free.len() - 1
            }
        };
        place[i] = (b, 8 - free[b]);
        free[b] -= w;
    }
    let n = free.len();
    (place, n)
}

/// Bucket index (before compaction) of a component with spread `ratio = σ/Δ`.
pub fn raw_bucket(ratio: f64) -> i32 {
    (BUCKETS_PER_OCTAVE * ratio.max(1e-6).log2()).round() as i32
}

/// Settings of [`Params::build`] besides the data.
#[derive(Debug, Clone, Copy)]
pub struct BuildOpts {
    /// Rounding offset `ρ`.
    pub rho: f32,
    /// Components considered for the coarse code.
    pub m: usize,
    /// Widest coarse field.
    pub max_width: u8,
    /// Largest accepted `w − H(cell)` of a coarse field, bits.
    pub max_penalty: f64,
}

impl Params {
    /// Chooses centroids, coarse fields, buckets and models from the quantization indices
    /// `q` (`n × k`, row-major) of the collection and its unquantized coefficients `c`.
    /// `ratios[j]` is `σ/Δ` of component `j`.
    pub fn build(
        o: BuildOpts,
        steps: &[f32],
        ratios: &[f64],
        c: &[f32],
        q: &[i32],
        n: usize,
    ) -> Params {
        let k = steps.len();
        let rho = o.rho;
        // Centroids: mean of |c|/Δ − (|q| − ρ) per component and level.
        let mut sum = vec![[0.0f64; 3]; k];
        let mut cnt = vec![[0u64; 3]; k];
        for (cr, qr) in c.chunks_exact(k).zip(q.chunks_exact(k)).take(n) {
            for j in 0..k {
                let a = qr[j].unsigned_abs();
                if a > 0 {
                    let l = (a.min(3) - 1) as usize;
                    sum[j][l] +=
                        f64::from(cr[j].abs() / steps[j]) - (f64::from(a) - f64::from(rho));
                    cnt[j][l] += 1;
                }
            }
        }
        let comps = (0..k)
            .map(|j| CompQuant {
                step: steps[j],
                centroid: std::array::from_fn(|l| {
                    let u = if cnt[j][l] > 0 {
                        sum[j][l] / cnt[j][l] as f64
                    } else {
                        0.5
                    };
                    (u * 256.0 - 0.5).round().clamp(0.0, 255.0) as u8
                }),
            })
            .collect();
        let mut coarse: Vec<CoarseComp> = (0..o.m.min(k))
            .map(|j| {
                CoarseComp::fit(
                    q.chunks_exact(k).map(move |r| r[j]),
                    o.max_width,
                    o.max_penalty,
                )
            })
            .collect();
        // Whole bytes: narrow the last fields until the widths add up to a multiple of 8
        // (a partly filled last byte would be stored for nothing; the narrowed components'
        // bits move to their refinement, at about the same cost).
        let mut total: u32 = coarse.iter().map(|c| u32::from(c.width)).sum();
        while !total.is_multiple_of(8) {
            let j = coarse.iter().rposition(|c| c.width > 0).expect("total > 0");
            total -= u32::from(coarse[j].width);
            coarse[j] = coarse[j].narrower();
            total += u32::from(coarse[j].width);
        }
        let stream = stream_order(&coarse, k);
        // Buckets over the entropy-coded components, compacted to 0..n_buckets.
        let raw: Vec<i32> = stream.iter().map(|&j| raw_bucket(ratios[j])).collect();
        let mut distinct = raw.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let bucket: Vec<u8> = raw
            .iter()
            .map(|r| distinct.binary_search(r).unwrap().min(255) as u8)
            .collect();
        let n_buckets = distinct.len().min(256);
        let mut counts = vec![vec![0u64; MAX_ALPHA + 1]; NCTX * n_buckets];
        for qr in q.chunks_exact(k).take(n) {
            for (t, &j) in stream.iter().enumerate() {
                let prev = if j > 0 { qr[j - 1].unsigned_abs() } else { 0 };
                let a = qr[j].unsigned_abs();
                counts[ctx_of(prev) * n_buckets + bucket[t] as usize]
                    [(a as usize).min(MAX_ALPHA)] += 1;
            }
        }
        let models = counts.iter().map(|c| MagModel::from_counts(c)).collect();
        Self::finish(rho, comps, coarse, stream, bucket, n_buckets, models)
    }

    /// Derives the field layout and the cell centroids.
    fn finish(
        rho: f32,
        comps: Vec<CompQuant>,
        coarse: Vec<CoarseComp>,
        stream: Vec<usize>,
        bucket: Vec<u8>,
        n_buckets: usize,
        models: Vec<MagModel>,
    ) -> Params {
        let with: Vec<usize> = (0..coarse.len()).filter(|&j| coarse[j].width > 0).collect();
        let widths: Vec<u8> = with.iter().map(|&j| coarse[j].width).collect();
        let (place, coarse_bytes) = layout(&widths);
        let fields = with
            .iter()
            .zip(place)
            .map(|(&j, (b, s))| (j, b, s))
            .collect::<Vec<_>>();
        let mut byte_fields = vec![Vec::new(); coarse_bytes];
        for (f, &(_, b, _)) in fields.iter().enumerate() {
            byte_fields[b].push(f);
        }
        for bf in &mut byte_fields {
            bf.sort_by_key(|&f| fields[f].2);
        }
        let centroids = coarse
            .iter()
            .zip(&comps)
            .map(|(c, cq)| c.centroids(cq, rho))
            .collect();
        let mut packed = Packed::default();
        let model_off = models.iter().map(|m| packed.push(&m.cum, m.esc)).collect();
        let cell_off = coarse
            .iter()
            .map(|c| {
                c.cells
                    .iter()
                    .map(|cell| {
                        cell.refine
                            .as_ref()
                            .map_or(u32::MAX, |m| packed.push(&m.cum, false))
                    })
                    .collect()
            })
            .collect();
        Params {
            rho,
            comps,
            coarse,
            fields,
            coarse_bytes,
            byte_fields,
            centroids,
            stream,
            bucket,
            n_buckets,
            models,
            packed,
            model_off,
            cell_off,
        }
    }

    /// Number of stored components.
    pub fn k(&self) -> usize {
        self.comps.len()
    }

    /// Number of components with a coarse field.
    pub fn m(&self) -> usize {
        self.fields.len()
    }

    /// Serializes (see `format`).
    pub fn write(&self, w: &mut ByteWriter) {
        w.u8((self.rho * 256.0).round() as u8);
        w.varint(self.k() as u64);
        for c in &self.comps {
            w.u16(half::f16::from_f32(c.step).to_bits());
            w.bytes(&c.centroid);
        }
        w.varint(self.coarse.len() as u64);
        for c in &self.coarse {
            c.write(w);
        }
        w.varint(self.n_buckets as u64);
        w.bytes(&self.bucket);
        for m in &self.models {
            m.write(w);
        }
    }

    /// Reads what [`Params::write`] wrote; `max_k` bounds the component count.
    pub fn read(r: &mut ByteReader, max_k: usize) -> Result<Params> {
        let rho = f32::from(r.u8()?) / 256.0;
        if rho > 0.5 {
            return Err(Error::corrupt(format!("klt: rounding offset {rho}")));
        }
        let k = r.varint_max("klt components", max_k as u64)? as usize;
        if r.remaining() < k * 5 {
            return Err(Error::corrupt("klt parameters truncated"));
        }
        let mut comps = Vec::with_capacity(k);
        for _ in 0..k {
            let step = half::f16::from_bits(r.u16()?).to_f32();
            if !(step.is_finite() && step > 0.0) {
                return Err(Error::corrupt(format!("klt: step {step}")));
            }
            let c = r.take(3)?;
            comps.push(CompQuant {
                step,
                centroid: [c[0], c[1], c[2]],
            });
        }
        let m = r.varint_max("klt coarse components", k as u64)? as usize;
        let mut coarse = Vec::with_capacity(m);
        for _ in 0..m {
            coarse.push(CoarseComp::read(r)?);
        }
        let stream = stream_order(&coarse, k);
        let n_buckets = r.varint_max("klt buckets", 256)? as usize;
        let bucket = r.take(stream.len())?.to_vec();
        if bucket.iter().any(|&b| b as usize >= n_buckets) {
            return Err(Error::corrupt("klt: bucket index out of range"));
        }
        let mut models = Vec::with_capacity(NCTX * n_buckets);
        for _ in 0..NCTX * n_buckets {
            models.push(MagModel::read(r)?);
        }
        Ok(Self::finish(
            rho, comps, coarse, stream, bucket, n_buckets, models,
        ))
    }
}

/// Entropy-coded components: the first `coarse.len()` without a field, then the rest.
fn stream_order(coarse: &[CoarseComp], k: usize) -> Vec<usize> {
    (0..coarse.len())
        .filter(|&j| coarse[j].width == 0)
        .chain(coarse.len()..k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizer_dead_zone_and_centroids() {
        let cq = CompQuant {
            step: 0.5,
            centroid: [128, 0, 255],
        };
        assert_eq!(cq.quantize(0.3, 0.5), 1);
        assert_eq!(cq.quantize(0.3, 0.3), 0);
        assert_eq!(cq.quantize(-0.9, 0.3), -2);
        assert_eq!(cq.recon(0, 0.3), 0.0);
        // Level 1 with the centroid mid-bin: (1 − 0.3 + 128.5/256)·0.5.
        assert!((cq.recon(1, 0.3) - (0.7 + 128.5 / 256.0) * 0.5).abs() < 1e-6);
        assert!((cq.recon(5, 0.3) - (4.7 + 255.5 / 256.0) * 0.5).abs() < 1e-6);
    }

    #[test]
    fn layout_packs_fields_within_bytes() {
        let (place, n) = layout(&[8, 4, 4, 3, 3, 2, 5]);
        assert_eq!(n, 4);
        // No two fields of one byte overlap, none crosses a byte end.
        let w = [8u32, 4, 4, 3, 3, 2, 5];
        let mut used = vec![0u32; n];
        for (i, &(b, s)) in place.iter().enumerate() {
            let mask = ((1u32 << w[i]) - 1) << s;
            assert!(s + w[i] <= 8 && used[b] & mask == 0);
            used[b] |= mask;
        }
    }

    #[test]
    fn models_round_trip_and_escape() {
        let mut counts = vec![0u64; MAX_ALPHA + 1];
        counts[0] = 500;
        counts[1] = 100;
        counts[MAX_ALPHA] = 3;
        let m = MagModel::from_counts(&counts);
        assert!(m.esc && m.alpha() == MAX_ALPHA);
        let mut w = ByteWriter::new();
        m.write(&mut w);
        MagModel::unused().write(&mut w);
        let mut r = ByteReader::new(&w.buf, "t");
        assert_eq!(MagModel::read(&mut r).unwrap(), m);
        assert_eq!(MagModel::read(&mut r).unwrap(), MagModel::unused());
        r.finish().unwrap();
    }
}
