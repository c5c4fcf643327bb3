//! Quantization with error feedback (GPTQ/OPTQ; Frantar et al., 2023): the columns of a
//! linear layer's weight `W` (rows × cols, `y = W x`) are quantized one at a time, and each
//! column's rounding error is spread over the columns not yet quantized so that the layer's
//! *output* error `E‖ΔW x‖² = Σᵢ ΔWᵢ H ΔWᵢᵀ` stays small, where `H = E[x xᵀ]` ([`Gram`]) is
//! the second moment of the layer's inputs on calibration data.
//!
//! With `U` the upper Cholesky factor of `H⁻¹` (`UᵀU = H⁻¹`), the step for column `j` of a
//! row `w` is `q = Q(wⱼ)`, `e = (wⱼ − q)/Uⱼⱼ`, `wₖ −= e·Uⱼₖ` for `k > j`: the optimal
//! update of the remaining weights for the error just made (the OBS step). Rows are
//! independent, so they run in parallel, eight at a time over each row of `U`.
//!
//! The quantizer `Q` is any grid (here the native codec's uniform step with its
//! reconstruction offset): the output values lie on it, so the codec's own rounding
//! reproduces exactly the indices chosen here, and its entropy coder stores them.
//! `H` is damped by [`DAMPING`] of its mean diagonal; a column no input ever reached
//! (`Hⱼⱼ = 0`) is rounded on its own.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Relative damping added to the (scaled) `H`'s diagonal, `λ = DAMPING · mean diag`. GPTQ's
/// default is 0.01; on SmolLM2 with 8,192 calibration tokens that overfits them (a layer's
/// output error on held-out text fell 12–31 % where it fell 39–55 % on the calibration
/// text); 0.1 keeps more of the gain on held-out text (15–37 %).
pub const DAMPING: f64 = 0.1;
/// Rows updated together over one row of `U` (the fast path's block).
const ROW_BLOCK: usize = 8;

/// The second moment `E[x xᵀ]` of a linear layer's inputs (`dim × dim`, row-major,
/// symmetric), from a calibration run.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    dim: usize,
    values: Vec<f64>,
}

impl Gram {
    /// Checks `values` (`dim²` finite numbers, symmetric within rounding, non-negative
    /// diagonal).
    pub fn new(dim: usize, values: Vec<f64>) -> Result<Self> {
        if dim.checked_mul(dim) != Some(values.len()) {
            return Err(Error::param(
                "Gram matrix",
                format!("{} values", values.len()),
                format!("{dim}² values"),
            ));
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::param("Gram matrix", bad, "finite values"));
        }
        for i in 0..dim {
            if values[i * dim + i] < 0.0 {
                return Err(Error::param(
                    "Gram matrix diagonal",
                    values[i * dim + i],
                    "≥ 0",
                ));
            }
            for j in 0..i {
                let (a, b) = (values[i * dim + j], values[j * dim + i]);
                if (a - b).abs() > 1e-6 * (a.abs() + b.abs()) + 1e-30 {
                    return Err(Error::param(
                        "Gram matrix",
                        format!("H[{i}][{j}] = {a}, H[{j}][{i}] = {b}"),
                        "a symmetric matrix",
                    ));
                }
            }
        }
        Ok(Gram { dim, values })
    }

    /// The input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The entries, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// `E[xⱼ²]`.
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.dim)
            .map(|i| self.values[i * self.dim + i])
            .collect()
    }

    /// `U` (upper, row-major, f32) with `UᵀU = (C⁻¹ H C⁻¹ + λI)⁻¹` for the columns
    /// scaled by `col_scale` (`x' = x · cⱼ`, the codec's column weights; `None` = 1): the
    /// factor [`quantize_rows`] needs for weights quantized in the scaled domain. `λ` is
    /// [`DAMPING`] of the scaled matrix's mean diagonal, ten times that on a retry if it is
    /// not positive definite in floating point; an error if that fails too.
    pub fn inverse_factor(&self, col_scale: Option<&[f32]>) -> Result<Vec<f32>> {
        let n = self.dim;
        if let Some(c) = col_scale {
            if c.len() != n || c.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(Error::param(
                    "column scales",
                    c.len(),
                    format!("{n} finite scales > 0"),
                ));
            }
        }
        // In the scaled domain H' = C⁻¹HC⁻¹, where the damping is relative to columns of
        // (about) equal weight: damping the original H by its mean diagonal would swamp
        // every ordinary column whenever a few outlier features dominate the mean.
        let inv_c: Vec<f64> = (0..n)
            .map(|j| col_scale.map_or(1.0, |c| 1.0 / f64::from(c[j])))
            .collect();
        let mut h: Vec<f64> = (0..n * n)
            .map(|k| self.values[k] * inv_c[k / n] * inv_c[k % n])
            .collect();
        for i in 0..n {
            if h[i * n + i] == 0.0 {
                // A dead input: its column is rounded on its own.
                for j in 0..n {
                    h[i * n + j] = 0.0;
                    h[j * n + i] = 0.0;
                }
                h[i * n + i] = 1.0;
            }
        }
        let mean = (0..n).map(|i| h[i * n + i]).sum::<f64>() / n.max(1) as f64;
        let mut damp = DAMPING * mean;
        for _ in 0..2 {
            // H = Ũ Ũᵀ with Ũ upper (Cholesky of the reversed matrix), so H⁻¹ = UᵀU with
            // U = Ũ⁻¹: no explicit inverse of H is formed.
            let mut rev = vec![0f64; n * n];
            for i in 0..n {
                for j in 0..n {
                    rev[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
                }
                rev[i * n + i] += damp;
            }
            if let Some(l) = cholesky(rev, n) {
                let m = lower_inverse(&l, n);
                let mut u = vec![0f32; n * n];
                for i in 0..n {
                    for j in i..n {
                        u[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)] as f32;
                    }
                }
                return Ok(u);
            }
            damp *= 10.0;
        }
        Err(Error::param(
            "Gram matrix",
            "not positive definite",
            "a positive semi-definite E[xxᵀ]",
        ))
    }
}

/// Lower Cholesky factor of the symmetric `a` (`n × n`), or `None` if it is not positive
/// definite. Column by column; the rows below the diagonal in parallel.
fn cholesky(mut a: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let (done, rest) = a.split_at_mut((j + 1) * n);
        let row_j = &mut done[j * n..];
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let djj = d.sqrt();
        row_j[j] = djj;
        for v in &mut row_j[j + 1..] {
            *v = 0.0;
        }
        let row_j = &done[j * n..j * n + j];
        rest.par_chunks_mut(n).with_min_len(64).for_each(|row_i| {
            row_i[j] = (row_i[j] - dot(&row_i[..j], row_j)) / djj;
        });
    }
    Some(a)
}

/// The inverse of the lower-triangular `l` (`n × n`), lower-triangular; columns in parallel.
fn lower_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let cols: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|c| {
            // Solve L m = e_c; m is zero above c.
            let mut m = vec![0f64; n];
            m[c] = 1.0 / l[c * n + c];
            for i in c + 1..n {
                m[i] = -dot(&l[i * n + c..i * n + i], &m[c..i]) / l[i * n + i];
            }
            m
        })
        .collect();
    let mut out = vec![0f64; n * n];
    for (c, m) in cols.iter().enumerate() {
        for i in c..n {
            out[i * n + c] = m[i];
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `Σ ‖(w − ŵ) U⁻¹‖²` over the rows of `w` and `wq` (`cols` per row): the output error
/// `Σᵢ ΔWᵢ H ΔWᵢᵀ` under the (damped) `H = (UᵀU)⁻¹` whose factor `u` is
/// ([`Gram::inverse_factor`]), by a triangular solve per row.
pub fn output_error(w: &[f32], wq: &[f32], u: &[f32], cols: usize) -> f64 {
    if cols == 0 {
        return 0.0;
    }
    w.par_chunks(cols)
        .zip(wq.par_chunks(cols))
        .map(|(a, b)| {
            // x U = d, U upper: xⱼ = (dⱼ − Σᵢ<ⱼ xᵢ Uᵢⱼ) / Uⱼⱼ, accumulated row by row of U.
            let mut acc: Vec<f64> = a.iter().zip(b).map(|(p, q)| f64::from(p - q)).collect();
            let mut sum = 0.0;
            for i in 0..cols {
                let xi = acc[i] / f64::from(u[i * cols + i]);
                sum += xi * xi;
                for (t, &uij) in acc[i + 1..]
                    .iter_mut()
                    .zip(&u[i * cols + i + 1..(i + 1) * cols])
                {
                    *t -= xi * f64::from(uij);
                }
            }
            sum
        })
        .sum()
}

/// Scalar reference of [`quantize_rows`]: one row at a time.
pub fn quantize_rows_ref(values: &mut [f32], cols: usize, u: &[f32], q: &dyn Fn(f32) -> f32) {
    for row in values.chunks_mut(cols.max(1)) {
        for j in 0..cols {
            let w = row[j];
            let r = q(w);
            row[j] = r;
            let e = (w - r) / u[j * cols + j];
            let uj = &u[j * cols..(j + 1) * cols];
            for k in j + 1..cols {
                row[k] -= e * uj[k];
            }
        }
    }
}

/// Quantizes every row of the row-major `values` (`cols` per row) onto the grid `q` with
/// error feedback through `u` ([`Gram::inverse_factor`], `cols × cols`), in place. Rows in
/// parallel, [`ROW_BLOCK`] at a time over each row of `u`; the result equals
/// [`quantize_rows_ref`]'s exactly (same operations, same order per value).
pub fn quantize_rows(values: &mut [f32], cols: usize, u: &[f32], q: &(dyn Fn(f32) -> f32 + Sync)) {
    if cols == 0 {
        return;
    }
    assert_eq!(u.len(), cols * cols, "U is cols × cols");
    values.par_chunks_mut(cols * ROW_BLOCK).for_each(|block| {
        let rows = block.len() / cols;
        let mut e = [0f32; ROW_BLOCK];
        for j in 0..cols {
            let d = u[j * cols + j];
            for (r, e) in e.iter_mut().enumerate().take(rows) {
                let w = block[r * cols + j];
                let v = q(w);
                block[r * cols + j] = v;
                *e = (w - v) / d;
            }
            let uj = &u[j * cols + j + 1..(j + 1) * cols];
            for (r, &e) in e.iter().enumerate().take(rows) {
                let tail = &mut block[r * cols + j + 1..(r + 1) * cols];
                for (t, &x) in tail.iter_mut().zip(uj) {
                    *t -= e * x;
                }
            }
        }
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quant::Quantizer;
    use crate::rng::SplitMix64;

    /// `E[xxᵀ]` of `t` correlated inputs of dimension `n` (a random mixing of Gaussians, with
    /// very different column energies, like a layer's activations).
    pub(crate) fn gram(n: usize, t: usize, seed: u64) -> (Gram, Vec<f32>) {
        let mut rng = SplitMix64::new(seed);
        let mix: Vec<f64> = (0..n * n).map(|_| rng.gaussian()).collect();
        let gain: Vec<f64> = (0..n).map(|j| 0.2 + 3.0 * (j % 5) as f64).collect();
        let mut h = vec![0f64; n * n];
        let mut xs = Vec::with_capacity(t * n);
        for _ in 0..t {
            let z: Vec<f64> = (0..n).map(|_| rng.gaussian()).collect();
            let x: Vec<f64> = (0..n)
                .map(|i| gain[i] * (0..n).map(|k| mix[i * n + k] * z[k]).sum::<f64>() / 3.0)
                .collect();
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += x[i] * x[j] / t as f64;
                }
            }
            xs.extend(x.iter().map(|&v| v as f32));
        }
        (Gram::new(n, h).unwrap(), xs)
    }

    /// `Σ ‖(W − Ŵ) x‖²` over the inputs `xs` (`n` values each) for the row-major `w`, `wq`.
    pub(crate) fn out_err(xs: &[f32], w: &[f32], wq: &[f32], n: usize) -> f64 {
        xs.chunks(n)
            .map(|x| {
                w.chunks(n)
                    .zip(wq.chunks(n))
                    .map(|(a, b)| {
                        let d: f64 = (0..n)
                            .map(|j| f64::from(a[j] - b[j]) * f64::from(x[j]))
                            .sum();
                        d * d
                    })
                    .sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn the_factor_inverts_the_damped_gram() {
        for n in [1, 7, 40] {
            let (g, _) = gram(n, 3 * n + 5, n as u64);
            let scale: Vec<f32> = (0..n).map(|j| 0.5 + (j % 3) as f32).collect();
            for c in [None, Some(&scale[..])] {
                let u = g.inverse_factor(c).unwrap();
                let h = g.values();
                let cj = |j: usize| c.map_or(1.0, |c| f64::from(c[j]));
                let mean = (0..n).map(|j| h[j * n + j] / cj(j).powi(2)).sum::<f64>() / n as f64;
                // (UᵀU) · (C⁻¹HC⁻¹ + λI) = I.
                for i in 0..n {
                    for k in 0..n {
                        let mut s = 0.0;
                        for j in 0..n {
                            let utu: f64 = (0..n)
                                .map(|m| f64::from(u[m * n + i]) * f64::from(u[m * n + j]))
                                .sum();
                            let damped = h[j * n + k] / (cj(j) * cj(k))
                                + if j == k { DAMPING * mean } else { 0.0 };
                            s += utu * damped;
                        }
                        let want = if i == k { 1.0 } else { 0.0 };
                        assert!((s - want).abs() < 1e-3, "n={n} [{i}][{k}] = {s}");
                    }
                }
                for i in 0..n {
                    for j in 0..i {
                        assert_eq!(u[i * n + j], 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn feedback_lands_on_the_grid_and_cuts_the_output_error() {
        let (n, rows) = (48, 37);
        let (g, xs) = gram(n, 400, 3);
        let mut rng = SplitMix64::new(9);
        let w: Vec<f32> = (0..rows * n).map(|_| rng.gaussian() as f32).collect();
        let quant = Quantizer {
            step: 0.7,
            deadzone: 0.0,
            recon: 0.1,
        };
        let q = |x: f32| quant.dequantize_one(quant.quantize_ref(x));
        let u = g.inverse_factor(None).unwrap();
        let mut fed = w.clone();
        quantize_rows(&mut fed, n, &u, &q);
        let mut reference = w.clone();
        quantize_rows_ref(&mut reference, n, &u, &q);
        assert_eq!(fed, reference, "fast path == scalar reference");
        let plain: Vec<f32> = w.iter().map(|&x| q(x)).collect();
        // On the grid: re-quantizing changes nothing.
        assert!(fed.iter().all(|&v| q(v) == v));
        let (a, b) = (out_err(&xs, &w, &plain, n), out_err(&xs, &w, &fed, n));
        assert!(b < 0.7 * a, "feedback {b} vs rounding {a}");
    }

    #[test]
    fn the_output_error_is_the_damped_quadratic_form() {
        let n = 24;
        let (g, _) = gram(n, 3 * n, 8);
        let u = g.inverse_factor(None).unwrap();
        let h = g.values();
        let mean = (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
        let mut rng = SplitMix64::new(2);
        let w: Vec<f32> = (0..2 * n).map(|_| rng.gaussian() as f32).collect();
        let wq: Vec<f32> = w.iter().map(|&v| (v * 2.0).round() / 2.0).collect();
        let want: f64 = w
            .chunks(n)
            .zip(wq.chunks(n))
            .map(|(a, b)| {
                let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| f64::from(x - y)).collect();
                (0..n)
                    .map(|i| {
                        d[i] * (0..n)
                            .map(|j| {
                                (h[i * n + j] + if i == j { DAMPING * mean } else { 0.0 }) * d[j]
                            })
                            .sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .sum();
        let got = output_error(&w, &wq, &u, n);
        assert!((got - want).abs() < 1e-3 * want, "{got} vs {want}");
    }

    #[test]
    fn bad_grams_are_errors() {
        assert!(Gram::new(2, vec![1.0; 3]).is_err());
        assert!(Gram::new(2, vec![1.0, 0.5, 0.4, 1.0]).is_err());
        assert!(Gram::new(2, vec![1.0, f64::NAN, f64::NAN, 1.0]).is_err());
        assert!(Gram::new(1, vec![-1.0]).is_err());
        let g = Gram::new(2, vec![1.0, 0.0, 0.0, 0.0]).unwrap();
        // A dead input is fine; wrong scales are not.
        assert!(g.inverse_factor(None).is_ok());
        assert!(g.inverse_factor(Some(&[1.0])).is_err());
        assert!(g.inverse_factor(Some(&[1.0, 0.0])).is_err());
        // Indefinite: damping cannot rescue it.
        let bad = Gram::new(2, vec![1.0, 5.0, 5.0, 1.0]).unwrap();
        assert!(bad.inverse_factor(None).is_err());
    }
}
