//! Rate control: from what the user asked for (`--quality`, `--bits`, `--snr`,
//! `--max-error`) to a quantizer step.
//!
//! * Quality follows IJG libjpeg's scaling: `S = 5000/Q` for `Q < 50`, `200 − 2Q` otherwise
//!   (at least 1), and the step is `Δ = σ · 0.5 · S/100` with σ the RMS of the values. So
//!   quality 50 quantizes with half a standard deviation (≈3 bits/value on Gaussian data,
//!   ≈17 dB), 75 with a quarter (≈4 bits, ≈23 dB), 95 with 1/20 (≈6.3 bits, ≈37 dB).
//! * Bits and SNR targets are met by a bracketing root search on log Δ
//!   ([`boundary_step`]), counting bits with the entropy coder's own cost function (so the
//!   estimate is the real size) and measuring the real quantization error.
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

/// Which side of the boundary [`boundary_step`] should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feasible {
    /// `f(step) ≤ target` holds for large steps (e.g. bits): return the smallest such step.
    Above,
    /// `f(step) ≤ target` holds for small steps (e.g. error): return the largest such step.
    Below,
}

/// Finds the step where a monotone measurement `f` crosses `target`, starting from a
/// `guess` and staying within `[min, max]`, and returns the step on the feasible side
/// (`f(step) ≤ target`) of the crossing, within a relative width of `1e-4` — or within
/// `1e-4·|target|` of the target, whichever comes first.
///
/// Works in log-step: doubling steps from the guess until the crossing is bracketed, then
/// the Illinois variant of regula falsi (measurements like bits per value are nearly linear
/// in log Δ, so a handful of evaluations suffice where bisection needs ~30); it is a
/// bracketing method, so it also converges on step-shaped `f`. Returns the feasible
/// bound if the crossing lies outside `[min, max]` (`max` for [`Feasible::Above`] if nothing
/// is feasible: the caller reports what it got).
pub fn boundary_step(
    mut f: impl FnMut(f64) -> f64,
    target: f64,
    guess: f64,
    min: f64,
    max: f64,
    side: Feasible,
) -> f64 {
    let (lmin, lmax) = (min.ln(), max.ln());
    // Work with g(x) = f(e^x) − target, oriented so that g ≤ 0 is feasible and the
    // feasible side is at larger x (mirror x for `Below`).
    let sign = if side == Feasible::Above { 1.0 } else { -1.0 };
    let mut g = |x: f64| f((x * sign).exp()) - target;
    let (xmin, xmax) = if sign > 0.0 {
        (lmin, lmax)
    } else {
        (-lmax, -lmin)
    };
    let tol_y = 1e-4 * target.abs().max(1e-300);
    let tol_x = 1e-4;
    let out = |x: f64| (x * sign).exp();
    let mut x = (guess.ln() * sign).clamp(xmin, xmax);
    let mut y = g(x);
    // Bracket: a infeasible (g > 0), b feasible (g ≤ 0), a < b.
    let (mut a, mut ya, mut b, mut yb);
    if y > 0.0 {
        (a, ya) = (x, y);
        loop {
            if x >= xmax {
                return if sign > 0.0 { max } else { min };
            }
            x = (x + std::f64::consts::LN_2).min(xmax);
            y = g(x);
            if y <= 0.0 {
                (b, yb) = (x, y);
                break;
            }
            (a, ya) = (x, y);
        }
    } else {
        (b, yb) = (x, y);
        loop {
            if x <= xmin {
                return if sign > 0.0 { min } else { max };
            }
            x = (x - std::f64::consts::LN_2).max(xmin);
            y = g(x);
            if y > 0.0 {
                (a, ya) = (x, y);
                break;
            }
            (b, yb) = (x, y);
        }
    }
    // Illinois regula falsi on [a, b].
    let (mut fa, mut fb) = (ya, yb);
    let mut last = 0i8;
    for _ in 0..100 {
        if b - a < tol_x || -yb <= tol_y {
            break;
        }
        let mut c = if fa - fb > 0.0 {
            b - fb * (b - a) / (fb - fa)
        } else {
            0.5 * (a + b)
        };
        // Keep strictly inside, away from the ends.
        let w = b - a;
        if !c.is_finite() || c <= a + 0.01 * w || c >= b - 0.01 * w {
            c = c.clamp(a + 0.01 * w, b - 0.01 * w);
            if !c.is_finite() {
                c = 0.5 * (a + b);
            }
        }
        let yc = g(c);
        if yc > 0.0 {
            a = c;
            fa = yc;
            if last == -1 {
                fb *= 0.5;
            }
            last = -1;
        } else {
            b = c;
            yb = yc;
            fb = yc;
            if last == 1 {
                fa *= 0.5;
            }
            last = 1;
        }
    }
    out(b)
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
    fn boundary_step_brackets_and_converges_quickly() {
        // Bits-like: ~ n·(h − log2 Δ), feasible above.
        for &budget in &[0.5e6, 2e6, 4e6, 8e6] {
            let mut evals = 0;
            let bits = |s: f64| 1e6 * (3.0 - s.log2()).max(0.01);
            let s = boundary_step(
                |s| {
                    evals += 1;
                    bits(s)
                },
                budget,
                0.25,
                1e-9,
                1e6,
                Feasible::Above,
            );
            assert!(bits(s) <= budget, "{budget}: {} > budget", bits(s));
            assert!(bits(s) >= budget * (1.0 - 2e-4) || bits(s / 1.0002) > budget);
            assert!(evals <= 15, "{evals} evaluations");
        }
        // Step-shaped measurement, feasible above.
        let s = boundary_step(
            |s| (100.0 / s).floor(),
            7.0,
            1.0,
            1e-6,
            1e6,
            Feasible::Above,
        );
        // Any step reaching the target exactly is acceptable.
        assert_eq!((100.0 / s).floor(), 7.0, "{s}");
        // Error-like, feasible below: err = Δ²/12, target 1e-6.
        let s = boundary_step(|s| s * s / 12.0, 1e-6, 1.0, 1e-9, 1e3, Feasible::Below);
        let want = (12e-6f64).sqrt();
        assert!(s <= want && s > want * 0.9997, "{s} vs {want}");
        // Out of range: nothing feasible returns the bound.
        assert_eq!(
            boundary_step(|_| 1.0, 0.5, 1.0, 1e-3, 1e3, Feasible::Above),
            1e3
        );
    }
}
