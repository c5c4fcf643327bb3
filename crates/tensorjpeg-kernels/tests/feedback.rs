//! Error feedback into the compute formats: with correlated inputs the output error falls
//! well below plain rounding's; with uncorrelated ones it is no worse.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use tensorjpeg::Gram;
use tensorjpeg_kernels::{hadamard, Format, QMatrix};

/// `n` inputs of `dim` with strongly correlated features (eight factors shared by every
/// draw, plus noise, one outlier feature), row-major; `seed` picks the draws.
fn inputs(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let g = Normal::new(0f32, 1.0).unwrap();
    let mut r = rand::rngs::StdRng::seed_from_u64(99);
    let mix: Vec<f32> = (0..8 * dim).map(|_| g.sample(&mut r)).collect();
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = vec![0f32; n * dim];
    for s in 0..n {
        let f: Vec<f32> = (0..8).map(|_| g.sample(&mut r)).collect();
        for i in 0..dim {
            let shared: f32 = (0..8).map(|k| f[k] * mix[k * dim + i]).sum();
            x[s * dim + i] = shared + 0.3 * g.sample(&mut r) + if i == 5 { 4.0 } else { 0.0 };
        }
    }
    x
}

fn gram(x: &[f32], dim: usize) -> Vec<f64> {
    let n = x.len() / dim;
    let mut h = vec![0f64; dim * dim];
    for s in x.chunks_exact(dim) {
        for i in 0..dim {
            for j in 0..dim {
                h[i * dim + j] += s[i] as f64 * s[j] as f64 / n as f64;
            }
        }
    }
    h
}

/// `Σ ‖(W − Ŵ) x‖²` over the inputs.
fn output_error(w: &[f32], wh: &[f32], cols: usize, x: &[f32]) -> f64 {
    let mut e = 0f64;
    for (a, b) in w.chunks_exact(cols).zip(wh.chunks_exact(cols)) {
        for s in x.chunks_exact(cols) {
            let d: f64 = (0..cols).map(|j| (a[j] - b[j]) as f64 * s[j] as f64).sum();
            e += d * d;
        }
    }
    e
}

#[test]
fn feedback_lowers_the_output_error_on_held_out_inputs() {
    let (rows, cols) = (32, 128);
    let mut r = rand::rngs::StdRng::seed_from_u64(1);
    let g = Normal::new(0f32, 0.05).unwrap();
    let w: Vec<f32> = (0..rows * cols).map(|_| g.sample(&mut r)).collect();
    let calib = inputs(2048, cols, 2);
    let held = inputs(512, cols, 3);
    let h = gram(&calib, cols);
    for format in [
        Format::Q4_0,
        Format::Q4_1,
        Format::Nl4,
        Format::Nl3,
        Format::Nl3H,
    ] {
        let mut hf = h.clone();
        if format.rotated() {
            hadamard::rotate_gram(&mut hf, cols);
        }
        let u = Gram::new(cols, hf).unwrap().inverse_factor(None).unwrap();
        let plain = QMatrix::quantize(&w, rows, cols, format, None)
            .unwrap()
            .dequantize();
        let fb = QMatrix::quantize_feedback(&w, rows, cols, format, &u)
            .unwrap()
            .dequantize();
        let (ep, ef) = (
            output_error(&w, &plain, cols, &held),
            output_error(&w, &fb, cols, &held),
        );
        eprintln!("{format}: feedback {ef} vs plain {ep}");
        assert!(ef < 0.5 * ep, "{format}: feedback {ef} vs plain {ep}");
    }
}

#[test]
fn without_correlation_feedback_changes_little() {
    let (rows, cols) = (32, 128);
    let mut r = rand::rngs::StdRng::seed_from_u64(4);
    let g = Normal::new(0f32, 0.05).unwrap();
    let w: Vec<f32> = (0..rows * cols).map(|_| g.sample(&mut r)).collect();
    let mut u = vec![0f32; cols * cols];
    for j in 0..cols {
        u[j * cols + j] = 1.0;
    }
    for format in Format::ALL {
        let snr = |v: &[f32]| {
            let s: f64 = w.iter().map(|&a| (a as f64).powi(2)).sum();
            let e: f64 = w
                .iter()
                .zip(v)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            10.0 * (s / e).log10()
        };
        let plain = snr(&QMatrix::quantize(&w, rows, cols, format, None)
            .unwrap()
            .dequantize());
        let fb = snr(&QMatrix::quantize_feedback(&w, rows, cols, format, &u)
            .unwrap()
            .dequantize());
        // No error moves anywhere; only Q4_0's scale search (which plain rounding lacks)
        // may gain a little.
        assert!(
            fb > plain - 0.1 && fb < plain + 1.0,
            "{format}: {plain} vs {fb} dB"
        );
    }
}

#[test]
fn a_bad_factor_is_an_error() {
    let w = vec![0.1f32; 64];
    assert!(QMatrix::quantize_feedback(&w, 2, 32, Format::Nl4, &[1.0; 31]).is_err());
    let mut u = vec![0f32; 32 * 32];
    u[0] = f32::NAN;
    assert!(QMatrix::quantize_feedback(&w, 2, 32, Format::Nl4, &u).is_err());
}
