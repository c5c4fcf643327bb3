//! Quantization (stage 3): uniform scalar quantization with an optional dead zone and a
//! reconstruction offset, and the rate-control rules that pick the step ([`rate`]).
//!
//! `q = sign(x)·⌊|x|/Δ + ½ − θ⌋` (θ = dead-zone offset, 0 = round to nearest) and
//! `x̂ = sign(q)·(|q| − δ)·Δ` for `q ≠ 0` (δ = reconstruction offset towards zero, which
//! suits the peaked, Laplacian-like distributions of weights and transform coefficients;
//! Sullivan 1996). With θ = δ = 0 the error is at most Δ/2 per coefficient.

pub mod feedback;
pub mod rate;
pub mod trellis;
pub mod trellis_feedback;

/// Largest quantization index magnitude (keeps `|q|·Δ` and the entropy coder's escapes sane).
pub const MAX_INDEX: i32 = 1 << 30;

/// A uniform quantizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    /// Step Δ (> 0).
    pub step: f32,
    /// Dead-zone rounding offset θ in [0, 0.5).
    pub deadzone: f32,
    /// Reconstruction offset δ in [0, 0.5).
    pub recon: f32,
}

impl Quantizer {
    /// A round-to-nearest quantizer with step `step`.
    pub fn uniform(step: f32) -> Self {
        Quantizer {
            step,
            deadzone: 0.0,
            recon: 0.0,
        }
    }

    /// Scalar reference: quantizes one value in f64.
    pub fn quantize_ref(&self, x: f32) -> i32 {
        let a = (x.abs() as f64) / self.step as f64 + 0.5 - self.deadzone as f64;
        let q = a.floor().clamp(0.0, MAX_INDEX as f64) as i32;
        if x < 0.0 {
            -q
        } else {
            q
        }
    }

    /// Fast path over a slice (multiplies by the reciprocal in f32; agrees with
    /// [`Quantizer::quantize_ref`] except within a few ulps of a decision boundary).
    pub fn quantize(&self, x: &[f32], out: &mut [i32]) {
        let inv = 1.0 / self.step;
        let off = 0.5 - self.deadzone;
        let max = MAX_INDEX as f32;
        for (o, &v) in out.iter_mut().zip(x) {
            // `as i32` truncates towards zero, which is floor for the non-negative operand.
            let a = (v.abs() * inv + off).min(max) as i32;
            *o = if v < 0.0 { -a } else { a };
        }
    }

    /// Reconstruction of one index.
    #[inline]
    pub fn dequantize_one(&self, q: i32) -> f32 {
        if q == 0 {
            0.0
        } else {
            let m = (q.unsigned_abs() as f32 - self.recon) * self.step;
            if q < 0 {
                -m
            } else {
                m
            }
        }
    }

    /// Reconstructs a slice.
    pub fn dequantize(&self, q: &[i32], out: &mut [f32]) {
        if self.recon == 0.0 {
            let s = self.step;
            for (o, &v) in out.iter_mut().zip(q) {
                *o = v as f32 * s;
            }
        } else {
            for (o, &v) in out.iter_mut().zip(q) {
                *o = self.dequantize_one(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_matches_reference(xs in proptest::collection::vec(-1e3f32..1e3, 1..500),
                                  step in 1e-3f32..10.0, dz in 0.0f32..0.45) {
            let q = Quantizer { step, deadzone: dz, recon: 0.0 };
            let mut fast = vec![0; xs.len()];
            q.quantize(&xs, &mut fast);
            for (&x, &f) in xs.iter().zip(&fast) {
                let r = q.quantize_ref(x);
                if r != f {
                    // Only at a decision boundary.
                    let t = x.abs() as f64 / step as f64 + 0.5 - dz as f64;
                    prop_assert!((t - t.round()).abs() < 1e-4 + 4e-7 * t, "x={x} ref={r} fast={f}");
                }
            }
        }

        #[test]
        fn round_to_nearest_error_is_half_step(xs in proptest::collection::vec(-1e3f32..1e3, 1..500),
                                                step in 1e-3f32..10.0) {
            let q = Quantizer::uniform(step);
            let mut idx = vec![0; xs.len()];
            q.quantize(&xs, &mut idx);
            let mut back = vec![0.0; xs.len()];
            q.dequantize(&idx, &mut back);
            // The fast path's f32 arithmetic (reciprocal, product, + ½, then index × step)
            // may land a value within ~2 ulps of |x| past the half step: 3 ulps allowed.
            for (&x, &y) in xs.iter().zip(&back) {
                let tol = step as f64 * 0.5 * (1.0 + 1e-5) + 3.0 * f64::from(f32::EPSILON) * x.abs() as f64;
                prop_assert!(((x - y).abs() as f64) <= tol, "x={x} y={y} step={step}");
            }
        }
    }
}
