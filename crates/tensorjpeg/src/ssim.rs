//! Image-quality metrics: PSNR, SSIM and MS-SSIM.
//!
//! SSIM and MS-SSIM follow the reference implementation most learned-compression papers
//! report with, `pytorch_msssim` (VainF/pytorch-msssim, `ssim.py`), detail for detail:
//!
//! * an 11-tap Gaussian window with σ = 1.5, normalised to sum 1, applied separably and
//!   with **no padding** ("valid": an `H×W` plane gives `(H−10)×(W−10)` window positions);
//! * `C1 = (0.01·L)²`, `C2 = (0.03·L)²` with `L` the data range (255 for 8-bit pixels);
//! * at every window position, with `μ` the filtered image and `σ² = E[x²] − μ²`,
//!   `σxy = E[xy] − μxμy` taken from the filtered maps,
//!   `cs = (2σxy + C2) / (σx² + σy² + C2)` and
//!   `ssim = (2μxμy + C1) / (μx² + μy² + C1) · cs`;
//! * SSIM is the mean of the `ssim` map per channel, then the mean over channels;
//! * MS-SSIM runs 5 scales with weights `[0.0448, 0.2856, 0.3001, 0.2363, 0.1333]`. On each of
//!   the first 4 it keeps `relu(mean cs)` and halves both images with PyTorch's
//!   `avg_pool2d(kernel_size=2, padding=(H%2, W%2))`: zero padding on both sides of an odd
//!   dimension, and the padded zeros *count* in the average (`count_include_pad=True`, the
//!   default), so a border output next to the padding is the sum of its real pixels over 4.
//!   The last scale keeps `relu(mean ssim)`. Per channel,
//!   `MS-SSIM = Π_{i<4} cs_i^{w_i} · ssim_5^{w_5}`; the result is the mean over channels.
//!   The window must still fit after 4 halvings, so both sides must exceed
//!   `(11 − 1)·2⁴ = 160` pixels (the reference asserts the same).
//!
//! Images are channel-major `[C, H, W]` slices of `f32`; all arithmetic is in `f64` (the
//! reference runs in `f32`, so the two agree to about 1e-6). The fast path filters whole
//! contiguous rows (horizontal pass, then vertical pass, for the five maps μx, μy, E\[x²\],
//! E\[y²\], E\[xy\]); [`ssim_reference`] and [`ms_ssim_reference`] compute the same numbers with a
//! direct 11×11 window per output pixel and exist to check it.

use crate::error::{Error, Result};

/// Taps of the Gaussian window.
const WIN: usize = 11;
/// Standard deviation of the Gaussian window, in pixels.
const SIGMA: f64 = 1.5;
/// `K1` of `C1 = (K1·L)²`.
const K1: f64 = 0.01;
/// `K2` of `C2 = (K2·L)²`.
const K2: f64 = 0.03;
/// MS-SSIM scale weights, finest first (Wang, Simoncelli & Bovik 2003).
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/// MS-SSIM needs both sides strictly larger than this: `(11 − 1)·2⁴`.
pub const MS_SSIM_MIN_SIDE: usize = (WIN - 1) << (MS_SSIM_WEIGHTS.len() - 1);

/// Peak signal-to-noise ratio in dB: `20·log10(peak) − 10·log10(MSE)`, MSE over all elements
/// in `f64`. Identical inputs give `+∞`.
///
/// # Errors
/// Empty or different-length inputs, non-finite values, or a `peak` that is not finite and
/// positive.
///
/// ```
/// let a = vec![10.0f32; 64];
/// let b = vec![11.0f32; 64];
/// let db = tensorjpeg::ssim::psnr(&a, &b, 255.0).unwrap();
/// assert_eq!(db, 20.0 * 255f64.log10());
/// ```
pub fn psnr(a: &[f32], b: &[f32], peak: f64) -> Result<f64> {
    if a.is_empty() {
        return Err(Error::param("PSNR input length", 0, "at least 1 value"));
    }
    if a.len() != b.len() {
        return Err(Error::param(
            "PSNR input lengths",
            format!("{} vs {}", a.len(), b.len()),
            "two inputs of the same length",
        ));
    }
    check_peak("peak", peak)?;
    check_finite(a, "a")?;
    check_finite(b, "b")?;
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    if sse == 0.0 {
        return Ok(f64::INFINITY);
    }
    let mse = sse / a.len() as f64;
    Ok(20.0 * peak.log10() - 10.0 * mse.log10())
}

/// Single-scale SSIM of two `[C, H, W]` images (channel-major), the mean over channels of the
/// per-channel mean of the SSIM map; `data_range` is `L` of the constants (255 for 8-bit
/// pixels, 1 for pixels in `[0, 1]`). 1 for identical images.
///
/// # Errors
/// Zero sizes, lengths that do not match `shape`, non-finite values, a non-positive
/// `data_range`, or a side shorter than the 11-pixel window.
pub fn ssim(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Result<f64> {
    single_scale(a, b, shape, data_range, plane_stats)
}

/// [`ssim`] computed with a direct 11×11 window per output pixel: slow, for checking the
/// separable implementation. Same inputs, errors and (to rounding) result.
pub fn ssim_reference(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Result<f64> {
    single_scale(a, b, shape, data_range, plane_stats_direct)
}

/// Multi-scale SSIM (5 scales) of two `[C, H, W]` images, as `pytorch_msssim.ms_ssim`
/// computes it (see the [module documentation](self)); 1 for identical images.
///
/// # Errors
/// Zero sizes, lengths that do not match `shape`, non-finite values, a non-positive
/// `data_range`, or `min(H, W) ≤ 160` (MS-SSIM needs images larger than 160 pixels on each
/// side).
pub fn ms_ssim(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Result<f64> {
    multi_scale(a, b, shape, data_range, plane_stats)
}

/// [`ms_ssim`] computed with a direct 11×11 window per output pixel at every scale: slow,
/// for checking the separable implementation.
pub fn ms_ssim_reference(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Result<f64> {
    multi_scale(a, b, shape, data_range, plane_stats_direct)
}

/// Per-plane statistics: `(mean ssim, mean cs)` of an `h×w` plane pair.
type PlaneStats = fn(&[f64], &[f64], usize, usize, Consts) -> (f64, f64);

/// The stabilising constants of one data range.
#[derive(Clone, Copy)]
struct Consts {
    c1: f64,
    c2: f64,
}

impl Consts {
    fn new(data_range: f64) -> Self {
        Consts {
            c1: (K1 * data_range).powi(2),
            c2: (K2 * data_range).powi(2),
        }
    }
}

fn single_scale(
    a: &[f32],
    b: &[f32],
    shape: [usize; 3],
    data_range: f64,
    stats: PlaneStats,
) -> Result<f64> {
    let [c, h, w] = check_images(a, b, shape, data_range)?;
    if h < WIN || w < WIN {
        return Err(Error::unsupported(
            "ssim",
            format!(
                "SSIM needs images of at least {WIN} pixels on each side (the Gaussian window), got {h}×{w}"
            ),
        ));
    }
    let k = Consts::new(data_range);
    let plane = h * w;
    let mut total = 0.0;
    for ch in 0..c {
        let x = to_f64(&a[ch * plane..][..plane]);
        let y = to_f64(&b[ch * plane..][..plane]);
        total += stats(&x, &y, h, w, k).0;
    }
    Ok(total / c as f64)
}

fn multi_scale(
    a: &[f32],
    b: &[f32],
    shape: [usize; 3],
    data_range: f64,
    stats: PlaneStats,
) -> Result<f64> {
    let [c, h, w] = check_images(a, b, shape, data_range)?;
    if h.min(w) <= MS_SSIM_MIN_SIDE {
        return Err(Error::unsupported(
            "ms_ssim",
            format!(
                "MS-SSIM needs images larger than {MS_SSIM_MIN_SIDE} pixels on each side \
                 (the {WIN}-pixel window must fit after 4 halvings), got {h}×{w}"
            ),
        ));
    }
    let k = Consts::new(data_range);
    let plane = h * w;
    let levels = MS_SSIM_WEIGHTS.len();
    let mut total = 0.0;
    for ch in 0..c {
        let mut x = to_f64(&a[ch * plane..][..plane]);
        let mut y = to_f64(&b[ch * plane..][..plane]);
        let (mut hh, mut ww) = (h, w);
        let mut value = 1.0;
        for (level, &weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
            let (s, cs) = stats(&x, &y, hh, ww, k);
            if level + 1 < levels {
                value *= cs.max(0.0).powf(weight);
                let (px, nh, nw) = avg_pool2(&x, hh, ww);
                let (py, _, _) = avg_pool2(&y, hh, ww);
                (x, y, hh, ww) = (px, py, nh, nw);
            } else {
                value *= s.max(0.0).powf(weight);
            }
        }
        total += value;
    }
    Ok(total / c as f64)
}

/// Validates a pair of `[C, H, W]` images and the data range; returns the shape.
fn check_images(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Result<[usize; 3]> {
    let [c, h, w] = shape;
    if c == 0 || h == 0 || w == 0 {
        return Err(Error::param(
            "image shape",
            format!("{shape:?}"),
            "[C, H, W] with every size ≥ 1",
        ));
    }
    let n = c
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .ok_or_else(|| Error::param("image shape", format!("{shape:?}"), "C·H·W < 2^64"))?;
    for (name, len) in [
        ("length of image a", a.len()),
        ("length of image b", b.len()),
    ] {
        if len != n {
            return Err(Error::param(
                name,
                len,
                format!("{n} = C·H·W of shape {shape:?}"),
            ));
        }
    }
    check_peak("data_range", data_range)?;
    check_finite(a, "a")?;
    check_finite(b, "b")?;
    Ok(shape)
}

fn check_peak(what: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            what,
            v,
            "a finite value > 0 (255 for 8-bit pixels, 1 for [0, 1])",
        ))
    }
}

fn check_finite(x: &[f32], name: &str) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::param(
            "pixel value",
            format!("{} at index {i} of image {name}", x[i]),
            "finite values",
        )),
    }
}

fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// The normalised 11-tap Gaussian, `exp(−d²/(2σ²))` for `d = −5..=5`, divided by its sum.
fn window() -> [f64; WIN] {
    let mut g = [0.0; WIN];
    let half = (WIN / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let d = i as f64 - half;
        *v = (-(d * d) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// `out[j] += g · src[j]` over two equal-length slices (vectorises).
#[inline]
fn axpy(out: &mut [f64], g: f64, src: &[f64]) {
    for (o, &s) in out.iter_mut().zip(src) {
        *o += g * s;
    }
}

/// Separable 'valid' filtering of the five maps, then `(mean ssim, mean cs)` of the plane.
///
/// Horizontal pass: for every input row, each map's row (x, y, x², y², xy) is filtered into
/// `W − 10` outputs by 11 contiguous multiply-adds. Vertical pass: each output row is 11
/// multiply-adds of whole horizontally filtered rows; the SSIM terms are then evaluated on
/// that row and summed, so no full-size vertical maps are stored.
fn plane_stats(x: &[f64], y: &[f64], h: usize, w: usize, k: Consts) -> (f64, f64) {
    let g = window();
    let (oh, ow) = (h + 1 - WIN, w + 1 - WIN);

    // Horizontal pass into five h × ow maps.
    let mut hmaps: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; h * ow]);
    let (mut xx, mut yy, mut xy) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
    for r in 0..h {
        let xr = &x[r * w..][..w];
        let yr = &y[r * w..][..w];
        for j in 0..w {
            xx[j] = xr[j] * xr[j];
            yy[j] = yr[j] * yr[j];
            xy[j] = xr[j] * yr[j];
        }
        let srcs: [&[f64]; 5] = [xr, yr, &xx, &yy, &xy];
        for (map, src) in hmaps.iter_mut().zip(srcs) {
            let out = &mut map[r * ow..][..ow];
            for (t, &gt) in g.iter().enumerate() {
                axpy(out, gt, &src[t..t + ow]);
            }
        }
    }

    // Vertical pass, one output row at a time.
    let mut v: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; ow]);
    let (mut ssim_row, mut cs_row) = (vec![0.0; ow], vec![0.0; ow]);
    let (mut ssim_sum, mut cs_sum) = (0.0, 0.0);
    for i in 0..oh {
        for (vm, hm) in v.iter_mut().zip(&hmaps) {
            vm.fill(0.0);
            for (t, &gt) in g.iter().enumerate() {
                axpy(vm, gt, &hm[(i + t) * ow..][..ow]);
            }
        }
        let [mx, my, exx, eyy, exy] = &v;
        for j in 0..ow {
            let (s, cs) = ssim_cs(mx[j], my[j], exx[j], eyy[j], exy[j], k);
            ssim_row[j] = s;
            cs_row[j] = cs;
        }
        ssim_sum += ssim_row.iter().sum::<f64>();
        cs_sum += cs_row.iter().sum::<f64>();
    }
    let n = (oh * ow) as f64;
    (ssim_sum / n, cs_sum / n)
}

/// The SSIM and contrast-structure terms at one window position from the filtered maps.
#[inline(always)]
fn ssim_cs(mx: f64, my: f64, exx: f64, eyy: f64, exy: f64, k: Consts) -> (f64, f64) {
    let (mxx, myy, mxy) = (mx * mx, my * my, mx * my);
    let (sxx, syy, sxy) = (exx - mxx, eyy - myy, exy - mxy);
    let cs = (2.0 * sxy + k.c2) / (sxx + syy + k.c2);
    let lum = (2.0 * mxy + k.c1) / (mxx + myy + k.c1);
    (lum * cs, cs)
}

/// The same statistics as [`plane_stats`], with the 2-D window `g[a]·g[b]` applied directly
/// at every output pixel (121 taps, no separability, no intermediate maps).
fn plane_stats_direct(x: &[f64], y: &[f64], h: usize, w: usize, k: Consts) -> (f64, f64) {
    let g = window();
    let (oh, ow) = (h + 1 - WIN, w + 1 - WIN);
    let (mut ssim_sum, mut cs_sum) = (0.0, 0.0);
    for i in 0..oh {
        for j in 0..ow {
            let mut m = [0.0f64; 5];
            for (a, &ga) in g.iter().enumerate() {
                for (b, &gb) in g.iter().enumerate() {
                    let wgt = ga * gb;
                    let p = (i + a) * w + j + b;
                    let (xv, yv) = (x[p], y[p]);
                    m[0] += wgt * xv;
                    m[1] += wgt * yv;
                    m[2] += wgt * xv * xv;
                    m[3] += wgt * yv * yv;
                    m[4] += wgt * xv * yv;
                }
            }
            let (s, cs) = ssim_cs(m[0], m[1], m[2], m[3], m[4], k);
            ssim_sum += s;
            cs_sum += cs;
        }
    }
    let n = (oh * ow) as f64;
    (ssim_sum / n, cs_sum / n)
}

/// PyTorch's `avg_pool2d(kernel_size=2, stride=2, padding=(h%2, w%2))` with the default
/// `count_include_pad=True`: an odd dimension gets one zero on each side, the output has
/// `⌊(n + 2p − 2)/2⌋ + 1` = `⌈n/2⌉` samples, and every output is its 2×2 window's sum over 4
/// (padded zeros included). Output `(i, j)` covers input rows `2i − p_h, 2i − p_h + 1` and
/// columns `2j − p_w, 2j − p_w + 1`; the trailing pad is never reached.
fn avg_pool2(x: &[f64], h: usize, w: usize) -> (Vec<f64>, usize, usize) {
    let (ph, pw) = (h % 2, w % 2);
    let (oh, ow) = ((h + 2 * ph - 2) / 2 + 1, (w + 2 * pw - 2) / 2 + 1);
    let mut out = vec![0.0; oh * ow];
    let mut pair = vec![0.0; ow];
    for r in 0..h {
        let row = &x[r * w..][..w];
        if pw == 1 {
            pair[0] = row[0];
            for (p, c) in pair[1..].iter_mut().zip(row[1..].chunks_exact(2)) {
                *p = c[0] + c[1];
            }
        } else {
            for (p, c) in pair.iter_mut().zip(row.chunks_exact(2)) {
                *p = c[0] + c[1];
            }
        }
        let o = (r + ph) / 2;
        axpy(&mut out[o * ow..][..ow], 1.0, &pair);
    }
    out.iter_mut().for_each(|v| *v *= 0.25);
    (out, oh, ow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// SplitMix64, for deterministic test data.
    struct Rng(SplitMix64);
    impl Rng {
        /// Uniform in [0, 1).
        fn uniform(&mut self) -> f64 {
            self.0.uniform()
        }
        /// Approximately standard normal (Irwin–Hall, 12 uniforms).
        fn gauss(&mut self) -> f64 {
            (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
        }
    }

    fn random_image(shape: [usize; 3], seed: u64, range: f64) -> Vec<f32> {
        let mut rng = Rng(SplitMix64(seed));
        (0..shape.iter().product::<usize>())
            .map(|_| (rng.uniform() * range) as f32)
            .collect()
    }

    /// A smooth pattern with some texture, integer-valued in [0, 255].
    fn pattern(shape: [usize; 3]) -> Vec<f32> {
        let [c, h, w] = shape;
        let mut v = Vec::with_capacity(c * h * w);
        for ch in 0..c {
            for i in 0..h {
                for j in 0..w {
                    let s = 128.0
                        + 80.0
                            * (0.09 * i as f64 + 0.5 * ch as f64).sin()
                            * (0.06 * j as f64).cos()
                        + ((i * 7 + j * 11 + ch * 3) % 13) as f64 * 2.0
                        - 12.0;
                    v.push(s.round() as f32);
                }
            }
        }
        v
    }

    /// `(mean ssim, mean cs)` averaged over channels, fast path.
    fn components(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> (f64, f64) {
        let [c, h, w] = shape;
        let plane = h * w;
        let k = Consts::new(data_range);
        let (mut s, mut cs) = (0.0, 0.0);
        for ch in 0..c {
            let x = to_f64(&a[ch * plane..][..plane]);
            let y = to_f64(&b[ch * plane..][..plane]);
            let (si, ci) = plane_stats(&x, &y, h, w, k);
            s += si;
            cs += ci;
        }
        (s / c as f64, cs / c as f64)
    }

    fn err_msg(r: Result<f64>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got Ok({v})"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ssim_window_is_normalised_and_symmetric() {
        let g = window();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        for i in 0..WIN {
            assert_eq!(g[i], g[WIN - 1 - i]);
        }
        assert!(g[5] > g[4] && g[4] > g[0]);
        assert_eq!(MS_SSIM_MIN_SIDE, 160);
    }

    #[test]
    fn ssim_fast_matches_direct_window_on_random_images() {
        for (shape, range, seed) in [
            ([2, 37, 41], 255.0, 1),
            ([1, 11, 11], 255.0, 2),
            ([3, 11, 30], 1.0, 3),
            ([1, 52, 12], 1.0, 4),
        ] {
            let a = random_image(shape, seed, range);
            let mut b = random_image(shape, seed + 100, range);
            // Correlate b with a so cs is not ≈ 0.
            for (bv, &av) in b.iter_mut().zip(&a) {
                *bv = 0.7 * av + 0.3 * *bv;
            }
            let fast = ssim(&a, &b, shape, range).unwrap();
            let slow = ssim_reference(&a, &b, shape, range).unwrap();
            assert!((fast - slow).abs() < 1e-6, "{shape:?}: {fast} vs {slow}");
            assert!(fast > 0.0 && fast < 1.0, "{fast}");
            // The per-plane statistics (ssim and cs) agree too.
            let [c, h, w] = shape;
            let k = Consts::new(range);
            for ch in 0..c {
                let x = to_f64(&a[ch * h * w..][..h * w]);
                let y = to_f64(&b[ch * h * w..][..h * w]);
                let (s1, c1) = plane_stats(&x, &y, h, w, k);
                let (s2, c2) = plane_stats_direct(&x, &y, h, w, k);
                assert!((s1 - s2).abs() < 1e-9 && (c1 - c2).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn ssim_ms_fast_matches_direct_window_with_odd_sizes() {
        // 171×165: odd at the first scale (pads rows and columns), then 86×83, 43×42, 22×21.
        let shape = [1, 171, 165];
        let a = pattern(shape);
        let mut rng = Rng(SplitMix64(7));
        let b: Vec<f32> = a.iter().map(|&v| v + (6.0 * rng.gauss()) as f32).collect();
        let fast = ms_ssim(&a, &b, shape, 255.0).unwrap();
        let slow = ms_ssim_reference(&a, &b, shape, 255.0).unwrap();
        assert!((fast - slow).abs() < 1e-6, "{fast} vs {slow}");
        assert!(fast > 0.5 && fast < 1.0, "{fast}");
    }

    #[test]
    fn ssim_pooling_counts_padded_zeros() {
        // 3×3 → 2×2 with one zero row/column of padding in front (and behind, unused).
        let x: Vec<f64> = (1..=9).map(|v| v as f64).collect();
        let (p, h, w) = avg_pool2(&x, 3, 3);
        assert_eq!((h, w), (2, 2));
        assert_eq!(
            p,
            vec![
                1.0 / 4.0,
                (2.0 + 3.0) / 4.0,
                (4.0 + 7.0) / 4.0,
                (5.0 + 6.0 + 8.0 + 9.0) / 4.0
            ]
        );
        // Even sizes: plain 2×2 means.
        let x: Vec<f64> = (0..8).map(|v| v as f64).collect();
        let (p, h, w) = avg_pool2(&x, 2, 4);
        assert_eq!((h, w), (1, 2));
        assert_eq!(
            p,
            vec![(0.0 + 1.0 + 4.0 + 5.0) / 4.0, (2.0 + 3.0 + 6.0 + 7.0) / 4.0]
        );
        // Odd height, even width: padding rows only.
        let x: Vec<f64> = (0..6).map(|v| v as f64).collect();
        let (p, h, w) = avg_pool2(&x, 3, 2);
        assert_eq!((h, w), (2, 1));
        assert_eq!(p, vec![(0.0 + 1.0) / 4.0, (2.0 + 3.0 + 4.0 + 5.0) / 4.0]);
        // A constant plane loses value at the padded border, as in PyTorch.
        let (p, h, w) = avg_pool2(&vec![4.0; 5 * 7], 5, 7);
        assert_eq!((h, w), (3, 4));
        assert_eq!(p[0], 1.0);
        assert_eq!(p[1], 2.0);
        assert_eq!(p[4], 2.0);
        assert_eq!(p[5], 4.0);
    }

    #[test]
    fn ssim_of_identical_images_is_one() {
        let shape = [3, 40, 33];
        let a = random_image(shape, 9, 255.0);
        assert!((ssim(&a, &a, shape, 255.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((ssim_reference(&a, &a, shape, 255.0).unwrap() - 1.0).abs() < 1e-12);
        let shape = [3, 171, 200];
        let a = random_image(shape, 10, 1.0);
        assert!((ms_ssim(&a, &a, shape, 1.0).unwrap() - 1.0).abs() < 1e-12);
        let p = pattern(shape);
        assert!((ms_ssim(&p, &p, shape, 255.0).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ssim_and_ms_ssim_are_symmetric() {
        let shape = [2, 161, 170];
        let a = pattern(shape);
        let mut rng = Rng(SplitMix64(11));
        let b: Vec<f32> = a
            .iter()
            .map(|&v| v + (10.0 * rng.gauss()) as f32 + 3.0)
            .collect();
        let (s1, s2) = (
            ssim(&a, &b, shape, 255.0).unwrap(),
            ssim(&b, &a, shape, 255.0).unwrap(),
        );
        assert!((s1 - s2).abs() < 1e-12, "{s1} vs {s2}");
        let (m1, m2) = (
            ms_ssim(&a, &b, shape, 255.0).unwrap(),
            ms_ssim(&b, &a, shape, 255.0).unwrap(),
        );
        assert!((m1 - m2).abs() < 1e-12, "{m1} vs {m2}");
        assert!(s1 < 1.0 && m1 < 1.0 && m1 > s1, "ssim {s1}, ms-ssim {m1}");
    }

    #[test]
    fn ssim_decreases_as_noise_grows() {
        let shape = [2, 176, 192];
        let a = pattern(shape);
        let mut rng = Rng(SplitMix64(12));
        let noise: Vec<f64> = a.iter().map(|_| rng.gauss()).collect();
        let (mut last_s, mut last_m) = (1.0 + 1e-9, 1.0 + 1e-9);
        for amp in [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0] {
            let b: Vec<f32> = a
                .iter()
                .zip(&noise)
                .map(|(&v, &n)| (v as f64 + amp * n) as f32)
                .collect();
            let s = ssim(&b, &a, shape, 255.0).unwrap();
            let m = ms_ssim(&a, &b, shape, 255.0).unwrap();
            assert!(s < last_s, "amp {amp}: ssim {s} !< {last_s}");
            assert!(m < last_m, "amp {amp}: ms-ssim {m} !< {last_m}");
            (last_s, last_m) = (s, m);
        }
        assert!(last_s < 0.6, "ssim at σ = 32: {last_s}");
    }

    #[test]
    fn ssim_constant_offset_lowers_only_the_luminance_term() {
        let shape = [1, 48, 60];
        let a = pattern(shape);
        let mut last = 1.0 + 1e-12;
        for offset in [2.0f32, 8.0, 32.0, 64.0] {
            let b: Vec<f32> = a.iter().map(|&v| v + offset).collect();
            let (s, cs) = components(&a, &b, shape, 255.0);
            // Contrast and structure are unchanged by a shift: cs = 1, ssim = mean luminance.
            assert!((cs - 1.0).abs() < 1e-9, "offset {offset}: cs {cs}");
            assert!(s < last, "offset {offset}: {s} !< {last}");
            last = s;
        }
        assert!(last < 0.95, "{last}");
    }

    #[test]
    fn ssim_psnr_of_known_error() {
        let a: Vec<f32> = (0..1000).map(|i| (i % 200) as f32).collect();
        let b: Vec<f32> = a
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 2 == 0 { v + 1.0 } else { v - 1.0 })
            .collect();
        assert_eq!(psnr(&a, &b, 255.0).unwrap(), 20.0 * 255f64.log10());
        // MSE 4 at peak 1: 10·log10(1/4).
        let c: Vec<f32> = a.iter().map(|&v| v + 2.0).collect();
        let db = psnr(&a, &c, 1.0).unwrap();
        assert!((db - 10.0 * 0.25f64.log10()).abs() < 1e-12, "{db}");
        assert_eq!(psnr(&a, &a, 255.0).unwrap(), f64::INFINITY);
    }

    /// Golden values from an independent port of the reference, `pytorch_msssim/ssim.py`
    /// (VainF/pytorch-msssim), to plain Python in f64 (numpy was not at hand): the 1-D
    /// Gaussian of `_fspecial_gauss_1d`, `gaussian_filter` as a 'valid' convolution along W
    /// then H, `_ssim`, and `ms_ssim` with `avg_pool2d(kernel 2, padding (H%2, W%2))`
    /// implemented from PyTorch's definition (an explicitly zero-padded array, each 2×2 sum
    /// divided by 4, output size `(n + 2p − 2)//2 + 1`). The images are `[3, 192, 200]`,
    /// every pixel rounded to f32 (`struct.pack('f', v)`):
    ///
    /// ```text
    /// x(c,i,j) = 128 + 90·sin(0.11·i + 0.7·c)·cos(0.07·j − 0.3·c) + 4·((7i + 11j + 3c) mod 13) − 24
    /// y(c,i,j) = x(c,i,j) + 12·sin(0.5·i + 0.9·j + c) + 3·((5i + 3j + c) mod 5) − 6   (x unrounded)
    /// ```
    ///
    /// with data range 255, giving MS-SSIM = 0.962225618243853 and SSIM = 0.885686917325686
    /// (means over the 3 channels).
    #[test]
    fn ssim_ms_ssim_match_golden_values_of_a_reference_port() {
        let (c, h, w) = (3usize, 192usize, 200usize);
        let xval = |c: usize, i: usize, j: usize| -> f64 {
            let (cf, fi, fj) = (c as f64, i as f64, j as f64);
            128.0
                + 90.0 * (0.11 * fi + 0.7 * cf).sin() * (0.07 * fj - 0.3 * cf).cos()
                + 4.0 * ((7 * i + 11 * j + 3 * c) % 13) as f64
                - 24.0
        };
        let yval = |c: usize, i: usize, j: usize| -> f64 {
            xval(c, i, j)
                + 12.0 * (0.5 * i as f64 + 0.9 * j as f64 + c as f64).sin()
                + 3.0 * ((5 * i + 3 * j + c) % 5) as f64
                - 6.0
        };
        let mut x = Vec::with_capacity(c * h * w);
        let mut y = Vec::with_capacity(c * h * w);
        for ch in 0..c {
            for i in 0..h {
                for j in 0..w {
                    x.push(xval(ch, i, j) as f32);
                    y.push(yval(ch, i, j) as f32);
                }
            }
        }
        let shape = [c, h, w];
        let ms = ms_ssim(&x, &y, shape, 255.0).unwrap();
        assert!((ms - 0.962225618243853).abs() < 1e-6, "{ms}");
        let s = ssim(&x, &y, shape, 255.0).unwrap();
        assert!((s - 0.885686917325686).abs() < 1e-6, "{s}");
    }

    #[test]
    fn ssim_errors_are_explained() {
        let a = vec![0.0f32; 20 * 20];
        let m = err_msg(psnr(&a, &a[..10], 255.0));
        assert!(m.contains("400 vs 10"), "{m}");
        assert!(err_msg(psnr(&[], &[], 255.0)).contains("at least 1"));
        assert!(err_msg(psnr(&a, &a, 0.0)).contains("peak"));
        let nan = vec![f32::NAN; 4];
        assert!(err_msg(psnr(&nan, &[0.0; 4], 1.0)).contains("finite"));

        let m = err_msg(ssim(&a, &a, [1, 20, 21], 255.0));
        assert!(m.contains("420 = C·H·W"), "{m}");
        let m = err_msg(ssim(&a, &a[..399], [1, 20, 20], 255.0));
        assert!(m.contains("image b"), "{m}");
        let m = err_msg(ssim(&[], &[], [0, 20, 20], 255.0));
        assert!(m.contains("every size ≥ 1"), "{m}");
        let m = err_msg(ssim(&a, &a, [1, 20, 20], -1.0));
        assert!(m.contains("data_range"), "{m}");
        let m = err_msg(ssim(&a[..100], &a[..100], [1, 10, 10], 255.0));
        assert!(m.contains("at least 11 pixels"), "{m}");
        let mut bad = a.clone();
        bad[17] = f32::INFINITY;
        let m = err_msg(ssim(&a, &bad, [1, 20, 20], 255.0));
        assert!(m.contains("index 17 of image b"), "{m}");

        let shape = [1, 160, 300];
        let big = vec![1.0f32; 160 * 300];
        let m = err_msg(ms_ssim(&big, &big, shape, 255.0));
        assert!(
            m.contains("MS-SSIM needs images larger than 160 pixels on each side"),
            "{m}"
        );
        assert!(m.contains("160×300"), "{m}");
        let m = err_msg(ms_ssim(&big, &big, [1, 300, 160], 255.0));
        assert!(m.contains("larger than 160"), "{m}");
        assert!(ms_ssim(&big[..161 * 161], &big[..161 * 161], [1, 161, 161], 255.0).is_ok());
    }
}
