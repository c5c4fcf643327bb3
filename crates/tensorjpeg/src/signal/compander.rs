//! Companders from real latent values to `i8` codes in `[−127, 127]` and back.
//!
//! **Gaussian (WaLLoC's `ToUniform` / `ToNormal`).** For `bits = 8`,
//! `L = 2^(bits−1) − 1 + 0.5 − 10⁻³ = 127.499` and `s = (2^(bits−1) − 1)/1.85 ≈ 68.65`:
//!
//! ```text
//! encode  y = round(2L·(Φ(g·x/s) − ½))                      ∈ [−127, 127]
//! decode  u = clamp(y/(2L) + ½, 10⁻⁴, 0.9999),   x̂ = s·Φ⁻¹(u)/g
//! ```
//!
//! `Φ` is the standard normal CDF. A latent distributed like `N(0, (s/g)²)` maps to codes
//! spread uniformly over the int8 range. Near 0 the slope is `2L·φ(0)·g/s ≈ 1.48·g` codes
//! per unit, i.e. a uniform step of about `0.675/g` with compressed (coarser) tails. The
//! gain `g` is the rate knob: WaLLoC trains its projection to fit the fixed compander,
//! while our projection is a PCA, so the scale is set here instead.
//!
//! **Uniform.** With step `Δ`: `y = clamp(round(x/Δ), −127, 127)`, `x̂ = y·Δ`.
//!
//! NaN inputs encode as 0. `±∞` saturate at `±127`.
//!
//! The normal CDF [`normal_cdf`] and quantile [`normal_quantile`] are computed in `f64`:
//! `Φ` through `erf`/`erfc` ([`erf`], [`erfc`]) to about 1e-15, `Φ⁻¹` by Acklam's rational
//! approximation refined by one Halley step to about 1e-15 relative.

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};

/// Code range: `2^(bits−1) − 1` for `bits = 8`.
const CODE_MAX: f64 = 127.0;
/// `L = 2^(bits−1) − 1 + 0.5 − 10⁻³`.
const LATENT_MAX: f64 = CODE_MAX + 0.5 - 1e-3;
/// `s = (2^(bits−1) − 1)/1.85`.
pub(crate) const SCALE: f64 = CODE_MAX / 1.85;

/// A compander from real values to `i8` codes in `[−127, 127]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compander {
    /// WaLLoC's Gaussian-CDF compander with gain `gain` (finite, `> 0`) applied before it.
    Gaussian {
        /// Multiplies the input before companding (the rate knob).
        gain: f32,
    },
    /// A uniform mid-tread quantizer with step `step` (finite, `> 0`), clamped to ±127.
    Uniform {
        /// Quantization step.
        step: f32,
    },
}

impl Compander {
    /// The Gaussian compander with gain `gain`, validated.
    pub fn gaussian(gain: f32) -> Result<Self> {
        let c = Compander::Gaussian { gain };
        c.validate()?;
        Ok(c)
    }

    /// The uniform quantizer with step `step`, validated.
    pub fn uniform(step: f32) -> Result<Self> {
        let c = Compander::Uniform { step };
        c.validate()?;
        Ok(c)
    }

    /// Fails unless the parameter is finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        let (what, v) = match *self {
            Compander::Gaussian { gain } => ("compander gain", gain),
            Compander::Uniform { step } => ("compander step", step),
        };
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::param(what, v, "a finite value > 0"));
        }
        Ok(())
    }

    /// The code of one value.
    fn encode_one(&self, x: f32) -> i8 {
        if x.is_nan() {
            return 0;
        }
        let y = match *self {
            Compander::Gaussian { gain } => {
                let z = f64::from(gain) * f64::from(x) / SCALE;
                (2.0 * LATENT_MAX * (normal_cdf(z) - 0.5)).round()
            }
            Compander::Uniform { step } => (f64::from(x) / f64::from(step)).round(),
        };
        y.clamp(-CODE_MAX, CODE_MAX) as i8
    }

    /// The reconstruction of one code (any `i8`, `−128` included).
    fn decode_one(&self, y: i8) -> f32 {
        match *self {
            Compander::Gaussian { gain } => {
                let u = (f64::from(y) / (2.0 * LATENT_MAX) + 0.5).clamp(1e-4, 0.9999);
                (SCALE * normal_quantile(u) / f64::from(gain)) as f32
            }
            Compander::Uniform { step } => (f64::from(y) * f64::from(step)) as f32,
        }
    }

    /// Encodes `x` into `out` (same length).
    pub fn encode(&self, x: &[f32], out: &mut [i8]) -> Result<()> {
        self.validate()?;
        check_len(x.len(), out.len())?;
        for (o, &v) in out.iter_mut().zip(x) {
            *o = self.encode_one(v);
        }
        Ok(())
    }

    /// Decodes `y` into `out` (same length), through a 256-entry table.
    pub fn decode(&self, y: &[i8], out: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_len(y.len(), out.len())?;
        let table: Vec<f32> = (-128i16..=127).map(|c| self.decode_one(c as i8)).collect();
        for (o, &c) in out.iter_mut().zip(y) {
            *o = table[(i16::from(c) + 128) as usize];
        }
        Ok(())
    }

    /// Appends the compander: a tag byte (0 Gaussian, 1 uniform) and the parameter as f32.
    pub fn write(&self, w: &mut ByteWriter) {
        match *self {
            Compander::Gaussian { gain } => {
                w.u8(0);
                w.f32(gain);
            }
            Compander::Uniform { step } => {
                w.u8(1);
                w.f32(step);
            }
        }
    }

    /// Reads what [`Compander::write`] wrote, validating the parameter.
    pub fn read(r: &mut ByteReader) -> Result<Self> {
        let tag = r.u8()?;
        let v = r.f32()?;
        let c = match tag {
            0 => Compander::Gaussian { gain: v },
            1 => Compander::Uniform { step: v },
            t => {
                return Err(Error::corrupt(format!(
                    "compander: unknown kind {t} (expected 0 Gaussian or 1 uniform)"
                )))
            }
        };
        c.validate()
            .map_err(|e| Error::corrupt(format!("compander: {e}")))?;
        Ok(c)
    }
}

fn check_len(n_in: usize, n_out: usize) -> Result<()> {
    if n_in != n_out {
        return Err(Error::param(
            "compander output length",
            n_out,
            format!("{n_in} (the input length)"),
        ));
    }
    Ok(())
}

/// `2/√π`.
const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// Below this `|x|` `erf` uses its power series, above it `erfc` its continued fraction.
const ERF_SWITCH: f64 = 2.0;

/// `erf(x)` for `0 ≤ x < ERF_SWITCH` by the positive-term series
/// `erf(x) = (2/√π)·e^(−x²)·Σ_n 2ⁿ x^(2n+1) / (1·3·…·(2n+1))` (no cancellation).
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for n in 0..200 {
        term *= 2.0 * x2 / (2 * n + 3) as f64;
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    FRAC_2_SQRT_PI * (-x2).exp() * sum
}

/// `erfc(x)` for `x ≥ ERF_SWITCH` by the continued fraction
/// `erfc(x) = (e^(−x²)/√π) · 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …)))))`,
/// evaluated with the modified Lentz method.
fn erfc_cf(x: f64) -> f64 {
    if x == f64::INFINITY {
        return 0.0;
    }
    const TINY: f64 = 1e-300;
    let mut f = TINY;
    let mut c = f;
    let mut d = 0.0;
    for i in 1..1000 {
        let a = if i == 1 { 1.0 } else { (i - 1) as f64 * 0.5 };
        d = x + a * d;
        if d == 0.0 {
            d = TINY;
        }
        c = x + a / c;
        if c == 0.0 {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() * f
}

/// The error function `erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt`, accurate to about 1e-15: a
/// positive-term power series for `|x| < 2`, `1 − erfc` (continued fraction) beyond.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let v = if a < ERF_SWITCH {
        erf_series(a)
    } else {
        1.0 - erfc_cf(a)
    };
    v.copysign(x)
}

/// The complementary error function `erfc(x) = 1 − erf(x)`, with full relative accuracy
/// (about 1e-15) in the upper tail: a continued fraction for `x ≥ 2`, the series of
/// [`erf`] for `|x| < 2`, `2 − erfc(−x)` for `x ≤ −2`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x >= ERF_SWITCH {
        erfc_cf(x)
    } else if x > -ERF_SWITCH {
        1.0 - erf(x)
    } else {
        2.0 - erfc_cf(-x)
    }
}

/// The standard normal CDF `Φ(x) = ½·erfc(−x/√2)`, accurate to about 1e-15 absolute, with
/// full relative accuracy in the lower tail (down to underflow near `x = −38`).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The standard normal quantile `Φ⁻¹(p)` for `p ∈ (0, 1)` (`−∞` at `p ≤ 0`, `+∞` at
/// `p ≥ 1`, NaN for NaN): Acklam's rational approximation (relative error < 1.15e-9),
/// refined by one Halley step on `Φ(x) − p` (computed from the nearer tail), which brings
/// it to about 1e-15 relative.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    const P_LOW: f64 = 0.02425;
    if p.is_nan() {
        return p;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    // Halley step: e = Φ(x) − p, from the upper tail when p > ½ (Φ(x) − p = (1 − p) − Φ(−x)).
    let e = if p > 0.5 {
        (1.0 - p) - normal_cdf(-x)
    } else {
        normal_cdf(x) - p
    };
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() {
        refined
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        // Reference values (from high-precision tables).
        let cases = [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
        ];
        for (x, v) in cases {
            assert!((erf(x) - v).abs() < 1e-15, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + v).abs() < 1e-15);
        }
        let tails = [
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 4.677_734_981_047_266e-3),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
        ];
        for (x, v) in tails {
            assert!(((erfc(x) - v) / v).abs() < 1e-13, "erfc({x}) = {}", erfc(x));
            assert!((erfc(-x) - (2.0 - v)).abs() < 1e-15);
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
        assert!(erf(f64::NAN).is_nan());
    }

    #[test]
    fn normal_cdf_known_points() {
        assert_eq!(normal_cdf(0.0), 0.5);
        assert!((normal_cdf(1.959963984540054) - 0.975).abs() < 1e-9);
        assert!((normal_cdf(-1.959963984540054) - 0.025).abs() < 1e-9);
        assert!((normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-14);
        // Lower tail keeps relative accuracy: Φ(−6) = 9.865876450377e-10.
        assert!((normal_cdf(-6.0) / 9.865_876_450_377_012e-10 - 1.0).abs() < 1e-12);
        for i in -80..=80 {
            let x = i as f64 * 0.1;
            let s = normal_cdf(x) + normal_cdf(-x);
            assert!((s - 1.0).abs() < 1e-15, "symmetry at {x}: {s}");
        }
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn normal_quantile_inverts_cdf() {
        for i in 0..=1200 {
            let x = -6.0 + i as f64 * 0.01;
            let back = normal_quantile(normal_cdf(x));
            assert!((back - x).abs() < 1e-7, "x {x}: back {back}");
        }
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-12);
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(f64::NAN).is_nan());
    }

    fn round_trip(c: &Compander, x: &[f32]) -> (Vec<i8>, Vec<f32>) {
        let mut y = vec![0i8; x.len()];
        c.encode(x, &mut y).unwrap();
        let mut back = vec![0f32; x.len()];
        c.decode(&y, &mut back).unwrap();
        (y, back)
    }

    #[test]
    fn gaussian_constants() {
        assert!((LATENT_MAX - 127.499).abs() < 1e-12);
        assert!((SCALE - 68.648_648_648_648_65).abs() < 1e-9);
    }

    #[test]
    fn gaussian_round_trip() {
        let c = Compander::gaussian(1.0).unwrap();
        let x: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005).collect();
        let (y, back) = round_trip(&c, &x);
        // Monotone codes, zero maps to zero.
        assert!(y.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(y[2000], 0);
        assert_eq!(back[2000], 0.0);
        // With gain 1 the step near 0 is s/(2L·φ(0)) ≈ 0.675: error ≤ about half of it.
        let half_step = SCALE / (2.0 * LATENT_MAX * 0.398_942_280_401_432_7) / 2.0;
        for (&a, &b) in x.iter().zip(&back) {
            assert!(((a - b).abs() as f64) < half_step * 1.02, "{a} -> {b}");
        }
        // Every value lies in the bin of its code: between the reconstructions of y ± ½.
        let edge = |y: f64| SCALE * normal_quantile(y / (2.0 * LATENT_MAX) + 0.5);
        for (&a, &q) in x.iter().zip(&y) {
            let (lo, hi) = (edge(q as f64 - 0.5), edge(q as f64 + 0.5));
            assert!(
                lo - 1e-4 <= a as f64 && a as f64 <= hi + 1e-4,
                "{a} code {q}"
            );
        }
        // A larger gain is a finer quantizer: error < 0.01 for |x| ≤ 1 at gain 40.
        let c40 = Compander::gaussian(40.0).unwrap();
        let x: Vec<f32> = (-1000..=1000).map(|i| i as f32 * 0.001).collect();
        let (_, back) = round_trip(&c40, &x);
        for (&a, &b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 0.01, "{a} -> {b}");
        }
    }

    #[test]
    fn gaussian_saturates_and_handles_specials() {
        let c = Compander::gaussian(1.0).unwrap();
        let x = [
            1e6f32,
            -1e6,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.0,
        ];
        let (y, back) = round_trip(&c, &x);
        assert_eq!(y, vec![127, -127, 127, -127, 0, 0]);
        assert!(back[0] > 0.0 && back[0] == -back[1]);
        let mut all = vec![0f32; 256];
        let codes: Vec<i8> = (-128i16..=127).map(|v| v as i8).collect();
        c.decode(&codes, &mut all).unwrap();
        assert!(all.iter().all(|v| v.is_finite()));
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn uniform_round_trip() {
        let step = 0.25f32;
        let c = Compander::uniform(step).unwrap();
        let x: Vec<f32> = (-3100..=3100).map(|i| i as f32 * 0.01).collect();
        let (y, back) = round_trip(&c, &x);
        assert!(y.windows(2).all(|w| w[0] <= w[1]));
        for (&a, &b) in x.iter().zip(&back) {
            assert!((a - b).abs() <= step / 2.0 + 1e-6, "{a} -> {b}");
        }
        let (y, back) = round_trip(&c, &[1e9, -1e9, f32::NAN]);
        assert_eq!(y, vec![127, -127, 0]);
        assert_eq!(back, vec![127.0 * step, -127.0 * step, 0.0]);
    }

    #[test]
    fn bad_parameters_are_errors() {
        for v in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
            assert!(Compander::gaussian(v).is_err());
            assert!(Compander::uniform(v).is_err());
            let c = Compander::Uniform { step: v };
            assert!(c.encode(&[1.0], &mut [0]).is_err());
            assert!(c.decode(&[1], &mut [0.0]).is_err());
        }
        let c = Compander::gaussian(1.0).unwrap();
        assert!(c.encode(&[1.0, 2.0], &mut [0]).is_err());
        assert!(c.decode(&[1], &mut [0.0, 0.0]).is_err());
    }

    #[test]
    fn serialization_round_trip() {
        for c in [
            Compander::gaussian(3.5).unwrap(),
            Compander::uniform(0.125).unwrap(),
        ] {
            let mut w = ByteWriter::new();
            c.write(&mut w);
            let buf = w.into_inner();
            let mut r = ByteReader::new(&buf, "compander");
            assert_eq!(Compander::read(&mut r).unwrap(), c);
            r.finish().unwrap();
            assert!(Compander::read(&mut ByteReader::new(&buf[..3], "c")).is_err());
        }
        let mut w = ByteWriter::new();
        w.u8(7);
        w.f32(1.0);
        let buf = w.into_inner();
        assert!(Compander::read(&mut ByteReader::new(&buf, "c")).is_err());
        let mut w = ByteWriter::new();
        w.u8(0);
        w.f32(-1.0);
        let buf = w.into_inner();
        assert!(Compander::read(&mut ByteReader::new(&buf, "c")).is_err());
    }
}
