//! Encoding a collection: per-component steps, component count, quantized and
//! orthonormalised basis, quantization, parameters, streams; and the bisection on the
//! global step that meets a bytes-per-vector target (see the parent module).

use super::component::CompQuant;
use super::params::{BuildOpts, Params};
use super::search::SearchOptions;
use super::{stream, KltFit, KltIndex, KltOptions};
use crate::entropy::byte_rans;
use crate::transform::klt::Klt;
use crate::vectors::VectorIndex;
use crate::{Error, Result};
use half::f16;
use rayon::prelude::*;

pub(super) fn check_opts(o: &KltOptions) -> Result<()> {
    let pos = |v: f32| v.is_finite() && v > 0.0;
    if !pos(o.step) {
        return Err(Error::param("klt step", o.step, "> 0"));
    }
    if !(0.0..=2.0).contains(&o.exponent) {
        return Err(Error::param("klt exponent", o.exponent, "0..=2"));
    }
    if !(0.0..=0.5).contains(&o.rounding) {
        return Err(Error::param("klt rounding offset", o.rounding, "0..=0.5"));
    }
    if !(o.min_ratio >= 0.0 && o.min_ratio.is_finite()) {
        return Err(Error::param("klt min_ratio", o.min_ratio, "≥ 0"));
    }
    if !(1..=8).contains(&o.coarse_max_width) {
        return Err(Error::param(
            "klt coarse_max_width",
            o.coarse_max_width,
            "1..=8",
        ));
    }
    if !(o.coarse_penalty >= 0.0 && o.coarse_penalty.is_finite()) {
        return Err(Error::param("klt coarse_penalty", o.coarse_penalty, "≥ 0"));
    }
    if !(o.rdo_lambda >= 0.0 && o.rdo_lambda.is_finite()) {
        return Err(Error::param("klt rdo_lambda", o.rdo_lambda, "≥ 0"));
    }
    if !pos(o.basis_precision) {
        return Err(Error::param(
            "klt basis_precision",
            o.basis_precision,
            "> 0",
        ));
    }
    if let Some(t) = o.bytes_per_vector {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::param("klt bytes_per_vector", t, "> 0"));
        }
    }
    Ok(())
}

/// What every trial encoding of one collection shares.
pub(super) struct Prepared<'a> {
    fit: &'a KltFit,
    base: &'a [f32],
    n: usize,
    /// Mean rounded to f16 (what is stored).
    mean: Vec<f32>,
    /// Standard deviation of each component over the collection.
    sigma: Vec<f64>,
    /// rms ‖x − μ̂‖ over the collection.
    rms: f64,
    /// Mean query weight.
    wbar: f64,
    /// Every collection vector has norm 1 (within 10⁻³).
    unit: bool,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(fit: &'a KltFit, base: &'a [f32], n: usize) -> Result<Self> {
        let dim = fit.dim;
        let mean: Vec<f32> = fit
            .mean
            .iter()
            .map(|&m| f16::from_f32(m).to_f32())
            .collect();
        let klt = Klt {
            cols: dim,
            k: dim,
            mean: mean.clone(),
            basis: fit.basis.clone(),
            f16_basis: false,
        };
        let c = project(&klt, base, n);
        let mut var = vec![0.0f64; dim];
        for row in c.chunks_exact(dim) {
            for (s, &v) in var.iter_mut().zip(row) {
                *s += f64::from(v) * f64::from(v);
            }
        }
        let total: f64 = var.iter().sum::<f64>() / n as f64;
        let sigma = var.iter().map(|s| (s / n as f64).sqrt()).collect();
        let wbar = fit.weight.iter().sum::<f64>() / dim as f64;
        Ok(Prepared {
            fit,
            base,
            n,
            mean,
            sigma,
            rms: total.sqrt().max(1e-30),
            wbar: wbar.max(1e-30),
            unit: base
                .chunks_exact(dim)
                .all(|x| (crate::kernels::dot(x, x) - 1.0).abs() <= 1e-3),
        })
    }

    /// Per-component steps (f16 values) for global step `delta`.
    fn steps(&self, delta: f32, opts: &KltOptions) -> Vec<f32> {
        self.fit
            .weight
            .iter()
            .map(|&w| {
                let s =
                    f64::from(delta) * (w.max(1e-30) / self.wbar).powf(-f64::from(opts.exponent));
                let h = f16::from_f64(s.clamp(1e-7, 6.0e4));
                h.to_f32().max(f16::MIN_POSITIVE.to_f32())
            })
            .collect()
    }

    /// Encodes with global step `delta`.
    pub(super) fn build(&self, delta: f32, opts: &KltOptions) -> Result<KltIndex> {
        let dim = self.fit.dim;
        let steps = self.steps(delta, opts);
        let ratios: Vec<f64> = self
            .sigma
            .iter()
            .zip(&steps)
            .map(|(&s, &d)| s / f64::from(d))
            .collect();
        let mut k = ratios
            .iter()
            .rposition(|&r| r >= f64::from(opts.min_ratio))
            .map_or(1, |p| p + 1);
        if let Some(mx) = opts.max_components {
            k = k.min(mx.max(1));
        }
        // Quantized basis rows, then orthonormalised (as the decoder will).
        let mut exps = Vec::with_capacity(k);
        let mut ints = Vec::with_capacity(k * dim);
        for (&step, row) in steps[..k].iter().zip(self.fit.basis.chunks_exact(dim)) {
            let s = (f64::from(opts.basis_precision)).sqrt() * f64::from(step) / self.rms;
            let e = (4.0 * s.log2()).round().clamp(-128.0, 127.0) as i8;
            exps.push(e);
            let s = basis_step(e);
            for &b in row {
                ints.push((b / s).round().clamp(-1e6, 1e6) as i32);
            }
        }
        let klt = Klt {
            cols: dim,
            k,
            mean: self.mean.clone(),
            basis: basis_from_ints(&ints, &exps, dim),
            f16_basis: false,
        };
        let c = project(&klt, self.base, self.n);
        let rho = (opts.rounding * 256.0).round() / 256.0;
        let comps: Vec<CompQuant> = steps[..k]
            .iter()
            .map(|&step| CompQuant {
                step,
                centroid: [128; 3],
            })
            .collect();
        let mut q: Vec<i32> = c
            .par_chunks(k)
            .flat_map_iter(|row| {
                row.iter()
                    .zip(&comps)
                    .map(|(&v, cq)| cq.quantize(v, rho))
                    .collect::<Vec<_>>()
            })
            .collect();
        let bo = BuildOpts {
            rho,
            m: opts.coarse_components,
            max_width: opts.coarse_max_width,
            max_penalty: f64::from(opts.coarse_penalty),
        };
        let mut params = Params::build(bo, &steps[..k], &ratios[..k], &c, &q, self.n);
        if opts.rdo_lambda > 0.0 {
            // Distortion weight per squared step, relative to the mean over the components.
            let wd: Vec<f64> = steps[..k]
                .iter()
                .zip(&self.fit.weight)
                .map(|(&s, &w)| w * f64::from(s) * f64::from(s))
                .collect();
            let mean = wd.iter().sum::<f64>() / k as f64;
            let wd: Vec<f64> = wd.iter().map(|w| w / mean.max(1e-30)).collect();
            for _ in 0..opts.rdo_passes {
                super::rdo::pass(&params, &c, &mut q, &wd, f64::from(opts.rdo_lambda));
                params = Params::build(bo, &steps[..k], &ratios[..k], &c, &q, self.n);
            }
        }
        let basis = Basis {
            ints,
            exps,
            rows: klt.basis,
        };
        let unit = opts.unit_norm.unwrap_or(self.unit);
        KltIndex::assemble(dim, self.mean.clone(), basis, params, unit, &q, self.n)
    }

    /// Bisection on `log Δ` for the smallest step whose index fits `target` bytes/vector.
    pub(super) fn rate_control(&self, target: f64, opts: &KltOptions) -> Result<KltIndex> {
        let size = |ix: &KltIndex| {
            if opts.exclude_codebook {
                ix.vector_bytes_per_vector()
            } else {
                ix.bytes_per_vector()
            }
        };
        let fits = |ix: &KltIndex| size(ix) <= target;
        // Start near the spread of the leading component, then bracket.
        let mut hi = (self.sigma[0] as f32 / 4.0).max(1e-6);
        let mut best = self.build(hi, opts)?;
        let mut lo: f32;
        if fits(&best) {
            lo = hi;
            for _ in 0..40 {
                lo /= 2.0;
                let ix = self.build(lo, opts)?;
                if !fits(&ix) {
                    break;
                }
                hi = lo;
                best = ix;
            }
        } else {
            let mut found = false;
            for _ in 0..40 {
                hi *= 2.0;
                let ix = self.build(hi, opts)?;
                if fits(&ix) {
                    best = ix;
                    found = true;
                    break;
                }
                if hi > 1e4 {
                    break;
                }
            }
            if !found {
                return Err(Error::unsupported(
                    "klt",
                    format!(
                        "{target} bytes per vector is below the smallest reachable size ({:.1})",
                        size(&best)
                    ),
                ));
            }
            lo = hi / 2.0;
        }
        for _ in 0..14 {
            let mid = (lo * hi).sqrt();
            let ix = self.build(mid, opts)?;
            if fits(&ix) {
                hi = mid;
                best = ix;
            } else {
                lo = mid;
            }
        }
        Ok(best)
    }
}

/// Basis step of exponent `e`: `2^(e/4)`.
pub(super) fn basis_step(e: i8) -> f32 {
    (f32::from(e) / 4.0).exp2()
}

/// The stored basis: integers and step exponents, and the rows they define.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Basis {
    /// `k × dim` integers; row `j` is `ints_j · 2^(exps_j/4)` before orthonormalisation.
    pub ints: Vec<i32>,
    /// Step exponent of each row.
    pub exps: Vec<i8>,
    /// The orthonormalised rows (what encoding, decoding and search use).
    pub rows: Vec<f32>,
}

/// Dequantizes the basis rows and orthonormalises them by modified Gram–Schmidt in f64,
/// leading rows first (they are the most precise and move least). Quantizing the rows
/// alone would leave `B̂ᵀB̂ ≠ I`, which reconstructs `x − μ` with an error of the order of
/// the basis error times `‖x − μ‖`; an orthonormal `B̃` close to the KLT only decorrelates
/// slightly less well, so rows can be stored far more coarsely. Encoder and decoder run
/// this same code on the same integers, so they agree exactly. A row that vanishes (all
/// its integers zero, or dependent on earlier rows) stays zero.
pub(super) fn basis_from_ints(ints: &[i32], exps: &[i8], dim: usize) -> Vec<f32> {
    let k = exps.len();
    let mut u = vec![0.0f64; k * dim];
    for j in 0..k {
        let s = f64::from(basis_step(exps[j]));
        let (done, rest) = u.split_at_mut(j * dim);
        let v = &mut rest[..dim];
        for (x, &q) in v.iter_mut().zip(&ints[j * dim..(j + 1) * dim]) {
            *x = f64::from(q) * s;
        }
        // Two passes of projections (MGS twice is orthogonal to working precision).
        for _ in 0..2 {
            for prev in done.chunks_exact(dim) {
                let d: f64 = prev.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                for (x, &p) in v.iter_mut().zip(prev) {
                    *x -= d * p;
                }
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-9 {
            v.iter_mut().for_each(|x| *x /= norm);
        } else {
            v.fill(0.0);
        }
    }
    u.iter().map(|&x| x as f32).collect()
}

/// `c = B(x − μ)` for `n` rows, in parallel over blocks of rows.
pub(super) fn project(klt: &Klt, x: &[f32], n: usize) -> Vec<f32> {
    let (dim, k) = (klt.cols, klt.k);
    let mut c = vec![0.0f32; n * k];
    const ROWS: usize = 64;
    c.par_chunks_mut(ROWS * k.max(1))
        .zip(x.par_chunks(ROWS * dim))
        .for_each(|(cb, xb)| klt.forward(xb, xb.len() / dim, cb));
    c
}

impl KltIndex {
    /// Encodes every vector and builds the index.
    pub(super) fn assemble(
        dim: usize,
        mean: Vec<f32>,
        basis: Basis,
        params: Params,
        unit: bool,
        q: &[i32],
        n: usize,
    ) -> Result<Self> {
        let (coarse, payload, offsets) = encode_codes(&params, q);
        debug_assert_eq!(offsets.len(), n + 1);
        let mut ix = KltIndex {
            dim,
            n,
            mean,
            basis,
            params,
            coarse,
            blocked: None,
            offsets,
            payload,
            unit,
            recon: Vec::new(),
            mean_rot: Vec::new(),
            mean_sq: 0.0,
            search_opts: SearchOptions::default(),
            total: 0,
        };
        ix.derive();
        ix.total = ix.to_bytes().len();
        Ok(ix)
    }
}

/// Codes every vector of `q` (`n × k` indices), in parallel over chunks of vectors: the
/// coarse bytes (`n × coarse_bytes`), the streams back to back, and `n + 1` offsets.
pub(super) fn encode_codes(params: &Params, q: &[i32]) -> (Vec<u8>, Vec<u8>, Vec<usize>) {
    let k = params.k().max(1);
    let cb = params.coarse_bytes;
    const CHUNK: usize = 256;
    let parts: Vec<(Vec<u8>, Vec<u8>, Vec<usize>)> = q
        .par_chunks(CHUNK * k)
        .map(|qc| {
            let rows = qc.len() / k;
            let mut enc = byte_rans::Encoder::default();
            let mut coarse = vec![0u8; rows * cb];
            let mut out = Vec::new();
            let mut lens = Vec::with_capacity(rows);
            for (r, qr) in qc.chunks_exact(k).enumerate() {
                let before = out.len();
                stream::encode_vector(
                    params,
                    qr,
                    &mut enc,
                    &mut coarse[r * cb..(r + 1) * cb],
                    &mut out,
                );
                lens.push(out.len() - before);
            }
            (coarse, out, lens)
        })
        .collect();
    let n = q.len() / k;
    let mut coarse = Vec::with_capacity(n * cb);
    let mut payload = Vec::new();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0);
    for (c, p, lens) in parts {
        coarse.extend_from_slice(&c);
        payload.extend_from_slice(&p);
        for l in lens {
            offsets.push(offsets.last().unwrap() + l);
        }
    }
    (coarse, payload, offsets)
}
