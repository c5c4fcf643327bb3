//! Distortion and size metrics, per tensor and aggregated.
//!
//! SNR is `10·log10(Σx² / Σ(x−x̂)²)`; aggregated over tensors it is the ratio of the summed
//! energies (not a mean of dB). Cosines are per row of the 2-D view (`cols` = last dim).
//! The Shannon gap is `6.02·R − SNR` dB: the distance from the rate–distortion bound of a
//! Gaussian source with the same variance, `D(R) = σ²·2^(−2R)` (Cover & Thomas, 13.3.2).

/// Accumulated comparison of an original and a reconstruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Elements compared (finite originals).
    pub count: u64,
    /// Σ x².
    pub signal_energy: f64,
    /// Σ (x − x̂)².
    pub error_energy: f64,
    /// max |x − x̂|.
    pub max_abs_error: f64,
    /// Rows whose cosine was measured.
    pub rows: u64,
    /// Σ over rows of cos(x_row, x̂_row).
    pub cosine_sum: f64,
    /// min over rows of the cosine.
    pub cosine_min: f64,
    /// Non-finite originals not reproduced bit-exactly.
    pub nonfinite_mismatches: u64,
    /// Stored bytes (all-in).
    pub bytes: u64,
    /// Bytes of the source in its own dtype.
    pub source_bytes: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            count: 0,
            signal_energy: 0.0,
            error_energy: 0.0,
            max_abs_error: 0.0,
            rows: 0,
            cosine_sum: 0.0,
            cosine_min: 1.0,
            nonfinite_mismatches: 0,
            bytes: 0,
            source_bytes: 0,
        }
    }
}

/// Signal-to-noise ratio in dB: `10 log10(Σ x² / Σ (x - y)²)` (infinite when exact). For
/// finite values it equals `compare(orig, rec, 0).snr_db()`; rate control calls this one.
pub fn snr_db(orig: &[f32], rec: &[f32]) -> f64 {
    let (mut s, mut e) = (0f64, 0f64);
    for (&a, &b) in orig.iter().zip(rec) {
        s += f64::from(a) * f64::from(a);
        let d = f64::from(a) - f64::from(b);
        e += d * d;
    }
    if e == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / e).log10()
    }
}

/// Cosine similarity of two vectors in f64 (1 if both are zero, 0 if one is).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 && bb == 0.0 {
        1.0
    } else if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Compares `orig` with `got` viewed as rows of `cols` values.
pub fn compare(orig: &[f32], got: &[f32], cols: usize) -> Stats {
    let mut s = Stats::default();
    for (&x, &y) in orig.iter().zip(got) {
        if !x.is_finite() {
            if x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan()) {
                s.nonfinite_mismatches += 1;
            }
            continue;
        }
        let (xd, yd) = (x as f64, y as f64);
        let e = xd - yd;
        s.count += 1;
        s.signal_energy += xd * xd;
        s.error_energy += e * e;
        let ae = if y.is_finite() {
            e.abs()
        } else {
            f64::INFINITY
        };
        if ae > s.max_abs_error || ae.is_nan() {
            s.max_abs_error = if ae.is_nan() { f64::INFINITY } else { ae };
        }
    }
    if cols > 0 {
        for (a, b) in orig.chunks(cols).zip(got.chunks(cols)) {
            let c = cosine(a, b);
            let c = if c.is_finite() { c } else { 0.0 };
            s.rows += 1;
            s.cosine_sum += c;
            s.cosine_min = s.cosine_min.min(c);
        }
    }
    s
}

impl Stats {
    /// Adds another tensor's figures.
    pub fn merge(&mut self, o: &Stats) {
        self.count += o.count;
        self.signal_energy += o.signal_energy;
        self.error_energy += o.error_energy;
        self.max_abs_error = self.max_abs_error.max(o.max_abs_error);
        self.rows += o.rows;
        self.cosine_sum += o.cosine_sum;
        self.cosine_min = self.cosine_min.min(o.cosine_min);
        self.nonfinite_mismatches += o.nonfinite_mismatches;
        self.bytes += o.bytes;
        self.source_bytes += o.source_bytes;
    }
    /// Mean squared error.
    pub fn mse(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.error_energy / self.count as f64
        }
    }
    /// SNR in dB (infinite for an exact reconstruction).
    pub fn snr_db(&self) -> f64 {
        if self.error_energy == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (self.signal_energy / self.error_energy).log10()
        }
    }
    /// All-in bits per value.
    pub fn bits_per_value(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.bytes as f64 * 8.0 / self.count as f64
        }
    }
    /// Compression ratio against f32.
    pub fn ratio_vs_f32(&self) -> f64 {
        self.count as f64 * 4.0 / self.bytes.max(1) as f64
    }
    /// Compression ratio against the source dtype.
    pub fn ratio_vs_source(&self) -> f64 {
        self.source_bytes as f64 / self.bytes.max(1) as f64
    }
    /// Mean per-row cosine.
    pub fn mean_cosine(&self) -> f64 {
        if self.rows == 0 {
            1.0
        } else {
            self.cosine_sum / self.rows as f64
        }
    }
    /// `6.02·R − SNR` in dB: the gap to the Gaussian rate–distortion bound.
    pub fn shannon_gap_db(&self) -> f64 {
        20.0 * 2f64.log10() * self.bits_per_value() - self.snr_db()
    }
}

/// The rate–distortion bound for a set of independent Gaussian sources (one per tensor,
/// with its own variance) at `bits` bits per value on average: reverse water-filling
/// (Cover & Thomas, 10.3.3) — each part costs `max(0, ½·log2(σ²/θ))` bits per value and errs
/// by `min(θ, σ²)`, with one water level θ. `parts` are `(values, Σx², variance)`; returns
/// the SNR `Σx² / D` in dB. At high rate this is `6.02·R + 10·log10(AM/GM of the
/// variances)`: parts of unequal variance raise the bound above a single Gaussian's.
pub fn gaussian_bound_db(parts: &[(u64, f64, f64)], bits: f64) -> f64 {
    let n: f64 = parts.iter().map(|p| p.0 as f64).sum();
    let energy: f64 = parts.iter().map(|p| p.1).sum();
    let live: Vec<&(u64, f64, f64)> = parts.iter().filter(|p| p.2 > 0.0 && p.0 > 0).collect();
    if n == 0.0 || live.is_empty() || bits.is_nan() || bits <= 0.0 {
        return 0.0;
    }
    let rate_at = |ln_theta: f64| -> f64 {
        live.iter()
            .map(|p| p.0 as f64 * (0.5 * (p.2.ln() - ln_theta) / std::f64::consts::LN_2).max(0.0))
            .sum::<f64>()
            / n
    };
    let max_var = live.iter().map(|p| p.2).fold(0f64, f64::max);
    // θ = max σ² gives rate 0; lower θ until the rate reaches `bits`.
    let (mut lo, mut hi) = (
        max_var.ln() - 2.0 * bits * std::f64::consts::LN_2 - 60.0,
        max_var.ln(),
    );
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if rate_at(mid) > bits {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let theta = hi.exp();
    let d: f64 = parts.iter().map(|p| p.0 as f64 * theta.min(p.2)).sum();
    10.0 * (energy / d).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_bound_is_water_filling() {
        // One part: 6.02·R exactly (zero mean, so Σx² = n·σ²).
        let one = gaussian_bound_db(&[(100, 100.0, 1.0)], 4.0);
        assert!((one - 24.0824).abs() < 1e-3, "{one}");
        // Two equal-sized parts, variances 1 and 1/16: at high rate AM/GM = 1.0625/0.25.
        let two = gaussian_bound_db(&[(100, 100.0, 1.0), (100, 100.0 / 16.0, 1.0 / 16.0)], 4.0);
        let want = 24.0824 + 10.0 * (0.53125f64 / 0.25).log10();
        assert!((two - want).abs() < 1e-3, "{two} vs {want}");
        // At a low rate the small part gets nothing: its error is its whole variance.
        let low = gaussian_bound_db(&[(100, 100.0, 1.0), (100, 1e-6, 1e-8)], 1.0);
        assert!((low - 10.0 * (100.0f64 / (100.0 * 0.0625 + 1e-6)).log10()).abs() < 1e-3);
    }

    #[test]
    fn known_values() {
        let a = [1.0f32, 0.0, 0.0, 1.0];
        let b = [1.0f32, 0.0, 0.0, 0.5];
        let mut s = compare(&a, &b, 2);
        assert_eq!(s.count, 4);
        assert!((s.mse() - 0.0625).abs() < 1e-12);
        assert!((s.snr_db() - 10.0 * (2.0f64 / 0.25).log10()).abs() < 1e-9);
        assert_eq!(s.max_abs_error, 0.5);
        assert!((s.mean_cosine() - 1.0).abs() < 1e-12);
        s.bytes = 2;
        assert_eq!(s.bits_per_value(), 4.0);
        assert!((s.shannon_gap_db() - (24.082 - s.snr_db())).abs() < 1e-2);
        let n = compare(&[f32::NAN, f32::INFINITY], &[f32::NAN, 0.0], 2);
        assert_eq!(n.nonfinite_mismatches, 1);
        assert_eq!(compare(&[1.0, 0.0], &[-1.0, 0.0], 2).cosine_min, -1.0);
    }

    #[test]
    fn snr_of_known_errors() {
        let x = [3.0f32, 4.0];
        assert!((snr_db(&x, &[3.0, 3.0]) - 10.0 * 25f64.log10()).abs() < 1e-12);
        assert!((snr_db(&[1.0; 8], &[1.1; 8]) - 20.0).abs() < 1e-4);
        assert_eq!(snr_db(&x, &x), f64::INFINITY);
    }
}
