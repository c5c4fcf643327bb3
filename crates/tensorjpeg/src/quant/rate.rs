//! Rate control: from what the user asked for (`--quality`, `--bits`, `--snr`,
//! `--max-error`) to a quantizer step.
//!
//! * Quality follows IJG libjpeg's scaling: `S = 5000/Q` for `Q < 50`, `200 − 2Q` otherwise
//!   (at least 1), and the step is `Δ = σ · 0.5 · S/100` with σ the RMS of the values. So
//!   quality 50 quantizes with half a standard deviation (≈3 bits/value on Gaussian data,
//!   ≈17 dB), 75 with a quarter (≈4 bits, ≈23 dB), 95 with 1/20 (≈6.3 bits, ≈37 dB).
//! * Bits and SNR targets are met by bisection on log Δ, counting bits with the entropy
//!   coder's own cost function (so the estimate is the real size) and measuring the real
//!   quantization error.
//! * Max-error uses round-to-nearest with Δ slightly below 2E on an orthonormal-free path
//!   (identity transform); the container verifies every element after decoding.

/// IJG libjpeg's quality scale factor in percent (1..=5000).
pub fn ijg_scale(quality: u8) -> u32 {
    let q = u32::from(quality.clamp(1, 100));
    let s = if q < 50 { 5000 / q } else { 200 - 2 * q };
    s.max(1)
}

/// The relative step (in units of the RMS) for a quality.
pub fn quality_to_relative_step(quality: u8) -> f64 {
    0.5 * f64::from(ijg_scale(quality)) / 100.0
}

/// Bisection on a monotone decreasing function of the step: finds the largest step in
/// `[lo, hi]` (log-spaced) whose `ok(step)` is true, assuming `ok` is true for small steps.
/// Returns `lo` if even that fails.
pub fn largest_step(
    mut lo: f64,
    mut hi: f64,
    iters: usize,
    mut ok: impl FnMut(f64) -> bool,
) -> f64 {
    if ok(hi) {
        return hi;
    }
    if !ok(lo) {
        return lo;
    }
    for _ in 0..iters {
        let mid = (lo * hi).sqrt();
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi / lo < 1.0 + 1e-4 {
            break;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ijg_scale_matches_libjpeg() {
        assert_eq!(ijg_scale(50), 100);
        assert_eq!(ijg_scale(75), 50);
        assert_eq!(ijg_scale(95), 10);
        assert_eq!(ijg_scale(100), 1);
        assert_eq!(ijg_scale(1), 5000);
        assert_eq!(ijg_scale(10), 500);
    }

    #[test]
    fn bisection_finds_threshold() {
        let s = largest_step(1e-6, 1e3, 100, |x| x <= 0.37);
        assert!((s - 0.37).abs() < 1e-3, "{s}");
    }
}
