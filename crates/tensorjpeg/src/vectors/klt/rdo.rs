//! Rate–distortion optimised quantization (RDOQ) of the entropy-coded components.
//!
//! The dead-zone quantizer rounds every coefficient on its own. Once the models are known,
//! each index `q ≠ 0` can also be moved one step towards zero when that saves more bits
//! than it costs in distortion: minimise `J = w_j·(|c|/Δ_j − r(a))² + λ·bits(a)` over
//! `a ∈ {|q|, |q| − 1}`, with `r(a)` the reconstruction (centroid) of magnitude `a` in
//! steps, `bits(a)` its cost under the component's model in its context (plus the sign
//! bit and any escape), and `w_j = w_j·Δ_j² / mean` the component's share of the ranking
//! error per squared step (1 for every component when `α = ½`). A greedy pass in stream
//! order, each decision seeing the contexts already decided; the caller then rebuilds the
//! models and centroids from the new indices.

use super::component::PREC;
use super::params::{ctx_of, Params};
use rayon::prelude::*;

/// Bits of each symbol of each model (`f64::INFINITY` for a symbol without frequency).
fn costs(p: &Params) -> Vec<Vec<f64>> {
    p.models
        .iter()
        .map(|m| {
            m.cum
                .windows(2)
                .map(|w| {
                    let f = w[1] - w[0];
                    if f == 0 {
                        f64::INFINITY
                    } else {
                        f64::from(PREC) - f64::from(f).log2()
                    }
                })
                .collect()
        })
        .collect()
}

/// Bits of an order-0 exp-Golomb code of `v`.
fn exp_golomb_bits(v: u32) -> f64 {
    f64::from(2 * (31 - (v + 1).leading_zeros()) + 1)
}

/// One greedy RDOQ pass over `q` (`n × k`, row-major) given the coefficients `c`, the
/// distortion weights `wd` (per component) and `lambda` (squared steps per bit).
pub fn pass(p: &Params, c: &[f32], q: &mut [i32], wd: &[f64], lambda: f64) {
    let k = p.k();
    let cost = costs(p);
    let rho = f64::from(p.rho);
    q.par_chunks_mut(k)
        .zip(c.par_chunks(k))
        .for_each(|(qr, cr)| {
            for (t, &j) in p.stream.iter().enumerate() {
                let a = qr[j].unsigned_abs();
                if a == 0 {
                    continue;
                }
                let prev = if j > 0 { qr[j - 1].unsigned_abs() } else { 0 };
                let mi = ctx_of(prev) * p.n_buckets + p.bucket[t] as usize;
                let (m, bits) = (&p.models[mi], &cost[mi]);
                let alpha = m.alpha() as u32;
                let cq = &p.comps[j];
                let x = f64::from(cr[j].abs() / cq.step);
                let j_of = |a: u32| -> f64 {
                    let r = if a == 0 {
                        0.0
                    } else {
                        let u = (f64::from(cq.centroid[(a.min(3) - 1) as usize]) + 0.5) / 256.0;
                        f64::from(a) - rho + u
                    };
                    let s = if m.esc { a.min(alpha - 1) } else { a };
                    if s >= alpha {
                        return f64::INFINITY;
                    }
                    let mut b = bits[s as usize] + if a > 0 { 1.0 } else { 0.0 };
                    if m.esc && s == alpha - 1 {
                        b += exp_golomb_bits(a - s);
                    }
                    wd[j] * (x - r) * (x - r) + lambda * b
                };
                if j_of(a - 1) < j_of(a) {
                    qr[j] = if qr[j] < 0 {
                        -(a as i32 - 1)
                    } else {
                        a as i32 - 1
                    };
                }
            }
        });
}
