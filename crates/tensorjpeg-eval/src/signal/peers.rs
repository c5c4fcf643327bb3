//! The real codecs that the signal codec is compared against at matched bits per pixel (or
//! per sample, or voxel).
//!
//! Images are `f32` values in `0..=255`, planar `[C, H, W]` with `C = 1` (gray) or `C = 3`
//! (RGB). Encoders round and clamp to `u8`; decoders return planar `f32` in `0..=255`.
//!
//! - **JPEG** ([`jpeg_encode`], [`jpeg_decode`]): `jpeg-encoder` with optimized Huffman
//!   tables (JPEG at its best) and the encoder's default chroma subsampling (4:2:0 below
//!   quality 90, 4:4:4 from 90 on). With optimized tables it writes one scan per component;
//!   `zune-jpeg` 0.5.15 decodes such non-interleaved 4:2:0 files to garbage without an error
//!   (etemesi254/zune-image#419, #422), so these files are decoded with `jpeg-decoder`
//!   (libjpeg-style fancy upsampling) instead.
//! - **Lossy WebP** ([`webp_encode`], [`webp_decode`]): libwebp through the `webp` crate,
//!   only with the cargo feature `webp` ([`webp_available`]). libwebp codes RGB only: a gray
//!   image is replicated to R = G = B for encoding and channel 0 (R) is taken on decoding.
//! - **Resolution reduction** ([`downsample`], [`upsample`]): box averaging by an integer
//!   factor and separable linear interpolation back, for signals `[C, spatial…]` with one to
//!   three spatial axes.
//! - [`search_quality`]: the highest quality whose size fits a byte budget, for matched-rate
//!   comparisons.
//! - **PCM** ([`pcm_encode`], [`pcm_decode`], [`pcm_to_budget`]): each sample uniformly
//!   quantized on its own and the integer codes coded with tensorjpeg's rANS
//!   ([`tensorjpeg::entropy`]), the step bisected to meet a byte budget: the no-transform
//!   baseline of the sampled series.
//! - **Lossless first differences** ([`diff_encode`], [`diff_decode`]): samples rounded to
//!   16-bit integers ([`to_i16`]), coded as first differences with rANS: how the series'
//!   downsampled signals are stored.

use tensorjpeg::bytes::{ByteReader, ByteWriter};
use tensorjpeg::entropy;
use tensorjpeg::{Error, Result};

/// The largest image side JPEG can describe (16-bit dimensions).
const JPEG_MAX_DIM: usize = 65535;
/// The largest image side libwebp accepts (`WEBP_MAX_DIMENSION`).
#[cfg_attr(not(feature = "webp"), allow(dead_code))]
const WEBP_MAX_DIM: usize = 16383;

/// Checks an image `[C, H, W]` against its pixel count and a side limit; returns `(C, H, W)`.
fn image_dims(len: usize, shape: [usize; 3], max_dim: usize) -> Result<(usize, usize, usize)> {
    let [c, h, w] = shape;
    let sides = (1..=max_dim).contains(&h) && (1..=max_dim).contains(&w);
    if (c != 1 && c != 3) || !sides || len != c * h * w {
        return Err(Error::param(
            "image shape [C, H, W]",
            format!("{shape:?} for {len} values"),
            format!("C = 1 or 3, 1..={max_dim} pixels per side, C·H·W values"),
        ));
    }
    Ok((c, h, w))
}

/// Rounds and clamps one value to `u8` (NaN becomes 0).
fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Planar `[C, H, W]` `f32` to interleaved `u8` with `out_c` channels per pixel; channel
/// `min(j, C − 1)` fills output channel `j` (so gray is replicated).
fn interleave(pixels: &[f32], c: usize, hw: usize, out_c: usize) -> Vec<u8> {
    let mut out = vec![0u8; hw * out_c];
    for (j, plane) in (0..out_c).map(|j| (j, &pixels[j.min(c - 1) * hw..][..hw])) {
        for (p, &v) in plane.iter().enumerate() {
            out[p * out_c + j] = to_u8(v);
        }
    }
    out
}

/// Interleaved `u8` with `stride` channels per pixel to planar `f32` with the first `c`.
fn deinterleave(data: &[u8], stride: usize, c: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; c * hw];
    for (j, plane) in out.chunks_exact_mut(hw).enumerate() {
        for (p, o) in plane.iter_mut().enumerate() {
            *o = f32::from(data[p * stride + j]);
        }
    }
    out
}

/// Encodes an image as a baseline JPEG at `quality` (1..=100) with optimized Huffman tables
/// and the encoder's default chroma subsampling.
pub fn jpeg_encode(pixels: &[f32], shape: [usize; 3], quality: u8) -> Result<Vec<u8>> {
    if !(1..=100).contains(&quality) {
        return Err(Error::param("JPEG quality", quality, "1..=100"));
    }
    let (c, h, w) = image_dims(pixels.len(), shape, JPEG_MAX_DIM)?;
    let data = interleave(pixels, c, h * w, c);
    let color = if c == 1 {
        jpeg_encoder::ColorType::Luma
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    let mut out = Vec::with_capacity(1024 + data.len() / 4);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_optimized_huffman_tables(true);
    // `image_dims` bounded both sides by 65535.
    enc.encode(&data, w as u16, h as u16, color)
        .map_err(|e| Error::External(format!("jpeg encoder: {e}")))?;
    Ok(out)
}

/// Decodes a JPEG file that must hold an image of `shape` (`[C, H, W]`: gray for `C = 1`,
/// colour for `C = 3`).
pub fn jpeg_decode(bytes: &[u8], shape: [usize; 3]) -> Result<Vec<f32>> {
    let [c, h, w] = shape;
    image_dims(c * h * w, shape, JPEG_MAX_DIM)?;
    let run = || -> Result<Vec<f32>> {
        let bad = |e: jpeg_decoder::Error| Error::corrupt(format!("jpeg: {e}"));
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        dec.set_max_decoding_buffer_size(c * h * w + 4096);
        dec.read_info().map_err(bad)?;
        let info = dec
            .info()
            .ok_or_else(|| Error::corrupt("jpeg: no frame header"))?;
        let format = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => 1,
            jpeg_decoder::PixelFormat::RGB24 => 3,
            _ => 0,
        };
        let dims = (usize::from(info.width), usize::from(info.height));
        if dims != (w, h) || format != c {
            return Err(Error::corrupt(format!(
                "jpeg: image is {dims:?} (width, height) in {:?}, expected ({w}, {h}) with {c} components",
                info.pixel_format
            )));
        }
        let out = dec.decode().map_err(bad)?;
        if out.len() != c * h * w {
            return Err(Error::corrupt("jpeg: unexpected decoded size"));
        }
        Ok(deinterleave(&out, c, c, h * w))
    };
    // A panic on hostile bytes must not escape.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(Error::corrupt("jpeg: the decoder failed on malformed data")))
}

/// Whether this build has lossy WebP (the cargo feature `webp`).
pub fn webp_available() -> bool {
    cfg!(feature = "webp")
}

#[cfg(not(feature = "webp"))]
fn webp_missing() -> Error {
    Error::unsupported(
        "webp",
        "this build has no WebP support; build tensorjpeg-eval with `--features webp`",
    )
}

/// Encodes an image as lossy WebP at `quality` (`0.0..=100.0`) with libwebp's default
/// configuration. A gray image (`C = 1`) is replicated to RGB, since libwebp codes RGB only.
/// Without the cargo feature `webp` this returns an error.
#[cfg(feature = "webp")]
pub fn webp_encode(pixels: &[f32], shape: [usize; 3], quality: f32) -> Result<Vec<u8>> {
    if !(0.0..=100.0).contains(&quality) {
        return Err(Error::param("WebP quality", quality, "0.0..=100.0"));
    }
    let (c, h, w) = image_dims(pixels.len(), shape, WEBP_MAX_DIM)?;
    let rgb = interleave(pixels, c, h * w, 3);
    // `image_dims` bounded both sides by 16383 and `rgb` holds exactly w·h·3 bytes.
    let enc = webp::Encoder::from_rgb(&rgb, w as u32, h as u32);
    let mem = enc
        .encode_simple(false, quality)
        .map_err(|e| Error::External(format!("webp encoder: {e:?}")))?;
    Ok(mem.to_vec())
}

/// Encodes an image as lossy WebP (unavailable: this build lacks the cargo feature `webp`).
#[cfg(not(feature = "webp"))]
pub fn webp_encode(pixels: &[f32], shape: [usize; 3], quality: f32) -> Result<Vec<u8>> {
    let _ = (pixels, shape, quality);
    Err(webp_missing())
}

/// Decodes a WebP file that must hold an image of `shape`'s height and width. For `C = 1`
/// channel 0 (R) of the decoded RGB is returned. Without the cargo feature `webp` this
/// returns an error.
#[cfg(feature = "webp")]
pub fn webp_decode(bytes: &[u8], shape: [usize; 3]) -> Result<Vec<f32>> {
    let [c, h, w] = shape;
    image_dims(c * h * w, shape, WEBP_MAX_DIM)?;
    // Check the header before libwebp allocates the image it announces.
    let features = webp::BitstreamFeatures::new(bytes)
        .ok_or_else(|| Error::corrupt("webp: not a WebP file"))?;
    let dims = (features.width() as usize, features.height() as usize);
    if dims != (w, h) || features.has_animation() {
        return Err(Error::corrupt(format!(
            "webp: image is {dims:?} (width, height), expected a still ({w}, {h}) image"
        )));
    }
    let image = webp::Decoder::new(bytes)
        .decode()
        .ok_or_else(|| Error::corrupt("webp: the decoder rejected the data"))?;
    let stride = usize::from(image.layout().bytes_per_pixel());
    if (image.width() as usize, image.height() as usize) != (w, h) || image.len() != stride * h * w
    {
        return Err(Error::corrupt("webp: decoded image has the wrong size"));
    }
    Ok(deinterleave(&image, stride, c, h * w))
}

/// Decodes a WebP file (unavailable: this build lacks the cargo feature `webp`).
#[cfg(not(feature = "webp"))]
pub fn webp_decode(bytes: &[u8], shape: [usize; 3]) -> Result<Vec<f32>> {
    let _ = (bytes, shape);
    Err(webp_missing())
}

/// Checks a signal shape `[C, spatial…]` (1..=3 spatial axes, no zero sizes) against `len`.
fn signal_dims(len: usize, shape: &[usize]) -> Result<()> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if !(2..=4).contains(&shape.len()) || n.is_none_or(|n| n == 0 || n != len) {
        return Err(Error::param(
            "signal shape",
            format!("{shape:?} for {len} values"),
            "[C, spatial…], 1 to 3 spatial axes, sizes ≥ 1, as many values as it holds",
        ));
    }
    Ok(())
}

/// `(outer, n, inner)` of `dims` around `axis`.
fn split(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = dims[..axis].iter().product();
    let inner = dims[axis + 1..].iter().product();
    (outer, dims[axis], inner)
}

/// Box average along one axis: block `j` is `[j·f, min((j+1)·f, n))`.
fn box_axis(x: &[f32], dims: &[usize], axis: usize, f: usize) -> Vec<f32> {
    let (outer, n, inner) = split(dims, axis);
    let m = n.div_ceil(f);
    let mut out = vec![0f32; outer * m * inner];
    for (o, dst_o) in out.chunks_exact_mut(m * inner).enumerate() {
        let src_o = &x[o * n * inner..][..n * inner];
        for (j, dst) in dst_o.chunks_exact_mut(inner).enumerate() {
            let (lo, hi) = (j * f, ((j + 1) * f).min(n));
            for src in src_o[lo * inner..hi * inner].chunks_exact(inner) {
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
            }
            let inv = 1.0 / (hi - lo) as f32;
            dst.iter_mut().for_each(|d| *d *= inv);
        }
    }
    out
}

/// Linear-interpolation taps `(i0, i1, t)` for `n` fine samples from `m` coarse ones:
/// fine sample `i` sits at coarse coordinate `(i + ½)/f − ½`, clamped to `[0, m − 1]`.
fn lerp_taps(n: usize, m: usize, f: usize) -> Vec<(usize, usize, f32)> {
    (0..n)
        .map(|i| {
            let pos = ((i as f64 + 0.5) / f as f64 - 0.5).clamp(0.0, (m - 1) as f64);
            let i0 = pos.floor() as usize;
            (i0, (i0 + 1).min(m - 1), (pos - i0 as f64) as f32)
        })
        .collect()
}

/// Linear interpolation along one axis from `dims[axis]` to `n` samples.
fn lerp_axis(x: &[f32], dims: &[usize], axis: usize, f: usize, n: usize) -> Vec<f32> {
    let (outer, m, inner) = split(dims, axis);
    let taps = lerp_taps(n, m, f);
    let mut out = vec![0f32; outer * n * inner];
    for (o, dst_o) in out.chunks_exact_mut(n * inner).enumerate() {
        let src_o = &x[o * m * inner..][..m * inner];
        for (dst, &(i0, i1, t)) in dst_o.chunks_exact_mut(inner).zip(&taps) {
            let (a, b) = (&src_o[i0 * inner..][..inner], &src_o[i1 * inner..][..inner]);
            for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                *d = a + t * (b - a);
            }
        }
    }
    out
}

/// Reduces the resolution of a signal `[C, spatial…]` (1..=3 spatial axes) by `factor` on
/// every spatial axis: each output sample is the mean of its `factor^D` block, a partial
/// block at an edge being averaged over the samples it has. Returns the values and the
/// shape `[C, ⌈n/factor⌉…]`.
pub fn downsample(x: &[f32], shape: &[usize], factor: usize) -> Result<(Vec<f32>, Vec<usize>)> {
    if factor == 0 {
        return Err(Error::param("downsampling factor", factor, "≥ 1"));
    }
    signal_dims(x.len(), shape)?;
    let mut dims = shape.to_vec();
    let mut cur = x.to_vec();
    if factor > 1 {
        for axis in 1..dims.len() {
            cur = box_axis(&cur, &dims, axis, factor);
            dims[axis] = dims[axis].div_ceil(factor);
        }
    }
    Ok((cur, dims))
}

/// Brings a signal made by [`downsample`] back to `out_shape` by separable linear
/// interpolation: fine sample `i` sits at coarse coordinate `(i + ½)/factor − ½` (pixel
/// centres aligned), clamped to the coarse signal at the edges. `small_shape` must be
/// [`downsample`]'s shape for `out_shape` and `factor`.
pub fn upsample(
    y: &[f32],
    small_shape: &[usize],
    factor: usize,
    out_shape: &[usize],
) -> Result<Vec<f32>> {
    if factor == 0 {
        return Err(Error::param("upsampling factor", factor, "≥ 1"));
    }
    signal_dims(y.len(), small_shape)?;
    let n_out = out_shape.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    signal_dims(n_out, out_shape)?;
    let expected: Vec<usize> = out_shape
        .iter()
        .enumerate()
        .map(|(a, &n)| if a == 0 { n } else { n.div_ceil(factor) })
        .collect();
    if small_shape != expected.as_slice() {
        return Err(Error::param(
            "downsampled shape",
            format!("{small_shape:?}"),
            format!("{expected:?} for {out_shape:?} at factor {factor}"),
        ));
    }
    let mut dims = small_shape.to_vec();
    let mut cur = y.to_vec();
    if factor > 1 {
        for axis in 1..dims.len() {
            cur = lerp_axis(&cur, &dims, axis, factor, out_shape[axis]);
            dims[axis] = out_shape[axis];
        }
    }
    Ok(cur)
}

/// The highest quality in `1..=100` whose encoded size `encode_len(quality)` is at most
/// `target_bytes`, with that size; quality 1 (and its size) when none fits. Bisects on the
/// assumption that size grows with quality, then tries the two qualities just above the
/// boundary in case the sizes are locally not monotone. Every quality is encoded at most
/// once.
pub fn search_quality<F: FnMut(u8) -> Result<usize>>(
    target_bytes: usize,
    mut encode_len: F,
) -> Result<(u8, usize)> {
    let mut seen = [None::<usize>; 101];
    let mut len = |q: u8| -> Result<usize> {
        if let Some(n) = seen[usize::from(q)] {
            return Ok(n);
        }
        let n = encode_len(q)?;
        seen[usize::from(q)] = Some(n);
        Ok(n)
    };
    let first = len(1)?;
    if first > target_bytes {
        return Ok((1, first));
    }
    let (mut lo, mut hi) = (1u8, 100u8);
    let top = len(100)?;
    if top <= target_bytes {
        return Ok((100, top));
    }
    // Invariant: len(lo) ≤ target < len(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if len(mid)? <= target_bytes {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut best = lo;
    for q in (hi + 1)..=(hi + 2).min(100) {
        if len(q)? <= target_bytes {
            best = q;
        }
    }
    Ok((best, len(best)?))
}

/// The 16-bit sample range the series codecs round and clamp to.
pub const I16_RANGE: (f32, f32) = (-32768.0, 32767.0);

/// Samples rounded and clamped to the 16-bit range ([`I16_RANGE`]).
pub fn to_i16(x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|v| v.round().clamp(I16_RANGE.0, I16_RANGE.1))
        .collect()
}

/// `pcm-rans` stream: `f32` step, then the codes `round(x/step)` as one rANS segment.
pub fn pcm_encode(x: &[f32], step: f32) -> Vec<u8> {
    let inv = 1.0 / step;
    let codes: Vec<i32> = x.iter().map(|&v| (v * inv).round() as i32).collect();
    let mut w = ByteWriter::new();
    w.f32(step);
    entropy::encode(&codes, &mut w);
    w.into_inner()
}

/// Inverse of [`pcm_encode`] for `n` samples.
pub fn pcm_decode(bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    let mut r = ByteReader::new(bytes, "pcm-rans stream");
    let step = r.f32()?;
    let mut codes = vec![0i32; n];
    entropy::decode(&mut r, &mut codes)?;
    r.finish()?;
    Ok(codes.into_iter().map(|q| q as f32 * step).collect())
}

/// Rate control of `pcm-rans`: the stream of `x` closest to `budget` bytes without
/// exceeding it (or the smallest reachable), by bisection on `log(step)`; with its step.
pub fn pcm_to_budget(x: &[f32], budget: usize) -> (Vec<u8>, f32) {
    let top = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    // All codes 0 at `hi`; steps far below the sample spacing at `lo`.
    let (mut lo, mut hi) = ((top * 1e-6).ln(), (top * 4.0).ln());
    let mut best = (pcm_encode(x, hi.exp()), hi.exp());
    if best.0.len() > budget {
        return best;
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let got = pcm_encode(x, mid.exp());
        if got.len() <= budget {
            hi = mid;
            best = (got, mid.exp());
        } else {
            lo = mid;
        }
        if hi - lo < 1e-3 {
            break;
        }
    }
    best
}

/// `downsample` stream: the kept samples, rounded to 16-bit integers, as first differences
/// in one rANS segment.
pub fn diff_encode(x: &[f32]) -> Vec<u8> {
    let q: Vec<i32> = to_i16(x).into_iter().map(|v| v as i32).collect();
    let d: Vec<i32> = q
        .iter()
        .take(1)
        .copied()
        .chain(q.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let mut w = ByteWriter::new();
    entropy::encode(&d, &mut w);
    w.into_inner()
}

/// Inverse of [`diff_encode`] for `n` samples.
pub fn diff_decode(bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    let mut r = ByteReader::new(bytes, "downsample stream");
    let mut d = vec![0i32; n];
    entropy::decode(&mut r, &mut d)?;
    r.finish()?;
    Ok(d.into_iter()
        .scan(0i64, |acc, v| {
            *acc += i64::from(v);
            Some(*acc as f32)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use tensorjpeg::metrics::snr_db;

    /// A smooth synthetic image in 0..=255.
    fn smooth(c: usize, h: usize, w: usize) -> Vec<f32> {
        let idx = |i: usize| ((i / (h * w)) as f32, ((i / w) % h) as f32, (i % w) as f32);
        (0..c * h * w)
            .map(idx)
            .map(|(c, y, x)| {
                let s = (x / (9.0 + 3.0 * c)).sin() * (y / 7.0 + c).cos();
                128.0 + 70.0 * s + 30.0 * (x + y) / (w + h) as f32
            })
            .collect()
    }

    fn psnr(a: &[f32], b: &[f32]) -> f64 {
        let se: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x - y).powi(2))
            .sum();
        10.0 * (255.0f64 * 255.0 * a.len() as f64 / se.max(1e-12)).log10()
    }

    #[test]
    fn jpeg_round_trip_and_rate() {
        // 4:4:4 from quality 90 on, 4:2:0 below (one scan per component with optimized
        // tables); odd sizes leave partial MCUs.
        for (c, h, w) in [(1, 48, 64), (3, 48, 64), (3, 37, 53), (1, 21, 35)] {
            let (shape, img) = ([c, h, w], smooth(c, h, w));
            let mut sizes = Vec::new();
            for (q, min_db) in [(20, 26.0), (50, 28.0), (75, 29.0), (90, 30.0), (100, 40.0)] {
                let bytes = jpeg_encode(&img, shape, q).unwrap();
                let back = jpeg_decode(&bytes, shape).unwrap();
                assert!(back.iter().all(|v| (0.0..=255.0).contains(v)));
                let p = psnr(&img, &back);
                assert!(p > min_db, "{shape:?} q{q}: PSNR {p:.2} dB");
                sizes.push(bytes.len());
            }
            assert!(sizes.windows(2).all(|s| s[0] < s[1]), "{sizes:?}");
        }
    }

    #[test]
    fn jpeg_errors() {
        let img = smooth(3, 16, 16);
        assert!(jpeg_encode(&img, [3, 16, 16], 0).is_err());
        assert!(jpeg_encode(&img, [3, 16, 16], 101).is_err());
        assert!(jpeg_encode(&img, [3, 16, 15], 80).is_err());
        assert!(jpeg_encode(&img[..512], [2, 16, 16], 80).is_err());
        assert!(jpeg_encode(&[], [1, 0, 0], 80).is_err());
        let bytes = jpeg_encode(&img, [3, 16, 16], 80).unwrap();
        assert!(jpeg_decode(&bytes, [3, 16, 17]).is_err());
        assert!(jpeg_decode(&bytes, [1, 16, 16]).is_err());
        let gray = jpeg_encode(&img[..256], [1, 16, 16], 80).unwrap();
        assert!(jpeg_decode(&gray, [3, 16, 16]).is_err());
        assert!(jpeg_decode(b"not a jpeg", [1, 16, 16]).is_err());
        assert!(jpeg_decode(&[], [1, 16, 16]).is_err());
        for cut in [2, 20, bytes.len() / 2, bytes.len() - 2] {
            let _ = jpeg_decode(&bytes[..cut], [3, 16, 16]); // must not panic
        }
    }

    #[cfg(feature = "webp")]
    #[test]
    fn webp_round_trip_and_rate() {
        assert!(webp_available());
        for c in [1, 3] {
            let shape = [c, 48, 64];
            let img = smooth(c, 48, 64);
            let bytes = webp_encode(&img, shape, 90.0).unwrap();
            let back = webp_decode(&bytes, shape).unwrap();
            assert_eq!(back.len(), img.len());
            let p = psnr(&img, &back);
            assert!(p > 30.0, "C={c}: PSNR {p:.2} dB");
            let lo = webp_encode(&img, shape, 10.0).unwrap().len();
            let hi = webp_encode(&img, shape, 95.0).unwrap().len();
            let mid = bytes.len();
            assert!(lo < mid && mid < hi, "{lo} {mid} {hi}");
        }
        let img = smooth(3, 16, 16);
        let bytes = webp_encode(&img, [3, 16, 16], 75.0).unwrap();
        assert!(webp_decode(&bytes, [3, 16, 17]).is_err());
        assert!(webp_decode(b"RIFF garbage", [3, 16, 16]).is_err());
        for cut in [0, 4, 12, bytes.len() / 2, bytes.len() - 1] {
            assert!(webp_decode(&bytes[..cut], [3, 16, 16]).is_err(), "{cut}");
        }
        assert!(webp_encode(&img, [3, 16, 16], 101.0).is_err());
        assert!(webp_encode(&img, [3, 16, 16], f32::NAN).is_err());
        assert!(webp_encode(&img, [3, 16, 15], 50.0).is_err());
    }

    #[cfg(not(feature = "webp"))]
    #[test]
    fn webp_needs_the_feature() {
        assert!(!webp_available());
        let img = smooth(1, 8, 8);
        let e = webp_encode(&img, [1, 8, 8], 75.0).unwrap_err().to_string();
        assert!(e.contains("--features webp"), "{e}");
        assert!(webp_decode(b"RIFF", [1, 8, 8]).is_err());
    }

    #[test]
    fn search_quality_finds_the_boundary() {
        // Synthetic monotone sizes.
        let size = |q: u8| usize::from(q) * 10;
        assert_eq!(search_quality(555, |q| Ok(size(q))).unwrap(), (55, 550));
        assert_eq!(search_quality(5, |q| Ok(size(q))).unwrap(), (1, 10));
        assert_eq!(search_quality(5000, |q| Ok(size(q))).unwrap(), (100, 1000));
        assert_eq!(search_quality(10, |q| Ok(size(q))).unwrap(), (1, 10));
        // A local bump: quality 62 is larger than 63, which still fits.
        let bumpy = |q: u8| if q == 62 { 10_000 } else { size(q) };
        assert_eq!(search_quality(635, |q| Ok(bumpy(q))).unwrap(), (63, 630));
        // Errors propagate.
        assert!(search_quality(100, |_| Err(Error::corrupt("x"))).is_err());
        // Real JPEG: the result fits and the next quality does not.
        let img = smooth(3, 32, 40);
        let enc = |q: u8| jpeg_encode(&img, [3, 32, 40], q).map(|b| b.len());
        let target = enc(50).unwrap() + 3;
        let mut calls = 0;
        let (q, n) = search_quality(target, |q| {
            calls += 1;
            enc(q)
        })
        .unwrap();
        assert!(n <= target && q >= 50 && n == enc(q).unwrap(), "{q} {n}");
        assert!(enc(q + 1).unwrap() > target);
        assert!(calls <= 12, "{calls} encodes");
    }

    /// `shape` padded to `[C, a, b, d]` and its coarse counterpart at factor `f`.
    fn pad(shape: &[usize], f: usize) -> ([usize; 4], [usize; 4]) {
        let mut s = [1usize; 4];
        s[..shape.len()].copy_from_slice(shape);
        (
            s,
            [s[0], s[1].div_ceil(f), s[2].div_ceil(f), s[3].div_ceil(f)],
        )
    }

    /// Row-major multi-index of flat index `i` in `s`.
    fn unravel(i: usize, s: [usize; 4]) -> [usize; 4] {
        [
            i / (s[1] * s[2] * s[3]),
            i / (s[2] * s[3]) % s[1],
            i / s[3] % s[2],
            i % s[3],
        ]
    }

    /// Reference box average: every input sample adds itself to its block's `f64` sum.
    fn downsample_ref(x: &[f32], shape: &[usize], f: usize) -> Vec<f32> {
        let (s, m) = pad(shape, f);
        let mut acc = vec![(0f64, 0usize); m.iter().product()];
        for (i, &v) in x.iter().enumerate() {
            let [c, a, b, d] = unravel(i, s);
            let o = &mut acc[((c * m[1] + a / f) * m[2] + b / f) * m[3] + d / f];
            *o = (o.0 + f64::from(v), o.1 + 1);
        }
        acc.iter()
            .map(|&(sum, n)| (sum / n as f64) as f32)
            .collect()
    }

    /// Reference interpolation: one output sample at a time, from its 8 corner weights.
    fn upsample_ref(y: &[f32], shape: &[usize], f: usize) -> Vec<f32> {
        let (s, m) = pad(shape, f);
        let tap = |i: usize, m: usize| {
            let pos = ((i as f64 + 0.5) / f as f64 - 0.5).clamp(0.0, (m - 1) as f64);
            let (i0, t) = (pos.floor() as usize, pos - pos.floor());
            [(i0, 1.0 - t), ((i0 + 1).min(m - 1), t)]
        };
        let value = |i: usize| {
            let [c, a, b, d] = unravel(i, s);
            let mut v = 0f64;
            for (ia, wa) in tap(a, m[1]) {
                for (ib, wb) in tap(b, m[2]) {
                    for (id, wd) in tap(d, m[3]) {
                        let at = ((c * m[1] + ia) * m[2] + ib) * m[3] + id;
                        v += wa * wb * wd * f64::from(y[at]);
                    }
                }
            }
            v as f32
        };
        (0..s.iter().product()).map(value).collect()
    }

    #[test]
    fn resampling_shapes_and_identities() {
        let cases: [(&[usize], usize, &[usize]); 5] = [
            (&[3, 5, 7], 2, &[3, 3, 4]),
            (&[2, 9], 4, &[2, 3]),
            (&[1, 5, 6, 7], 3, &[1, 2, 2, 3]),
            (&[1, 1, 1], 5, &[1, 1, 1]),
            (&[2, 8, 8], 8, &[2, 1, 1]),
        ];
        for (shape, f, small) in cases {
            let n: usize = shape.iter().product();
            let x = vec![42.5f32; n];
            let (y, s) = downsample(&x, shape, f).unwrap();
            assert_eq!(s, small);
            assert!(y.iter().all(|&v| (v - 42.5).abs() < 1e-4));
            let up = upsample(&y, &s, f, shape).unwrap();
            assert!(up.iter().all(|&v| (v - 42.5).abs() < 1e-4));
            let ramp: Vec<f32> = (0..n).map(|i| i as f32 * 0.37).collect();
            let (y1, s1) = downsample(&ramp, shape, 1).unwrap();
            assert_eq!((y1.as_slice(), s1.as_slice()), (ramp.as_slice(), shape));
            assert_eq!(upsample(&ramp, shape, 1, shape).unwrap(), ramp);
        }
        let (y, _) = downsample(&[1.0, 2.0, 3.0], &[1, 3], 2).unwrap();
        assert_eq!(y, vec![1.5, 3.0]);
    }

    #[test]
    fn upsampling_reproduces_a_ramp_inside() {
        // Coarse sample j sits at fine coordinate (j + ½)·f − ½.
        let f = 4;
        let coarse: Vec<f32> = (0..6).map(|j| j as f32).collect();
        let up = upsample(&coarse, &[1, 6], f, &[1, 24]).unwrap();
        for (i, &v) in up.iter().enumerate() {
            let want = ((i as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, 5.0);
            assert!((v - want).abs() < 1e-6, "{i}: {v} vs {want}");
        }
    }

    #[test]
    fn resampling_matches_reference() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let far = |a: &[f32], b: &[f32]| a.iter().zip(b).any(|(a, b)| (a - b).abs() > 1e-3);
        let shapes: [&[usize]; 5] = [
            &[1, 17],
            &[3, 7, 10],
            &[2, 5, 5],
            &[1, 4, 5, 6],
            &[2, 3, 9, 2],
        ];
        for (shape, f) in shapes
            .into_iter()
            .flat_map(|s| (1..=4).map(move |f| (s, f)))
        {
            let n: usize = shape.iter().product();
            let x: Vec<f32> = (0..n).map(|_| rng.gen_range(0.0..255.0)).collect();
            let (y, s) = downsample(&x, shape, f).unwrap();
            assert!(!far(&y, &downsample_ref(&x, shape, f)), "{shape:?} f{f}");
            let up = upsample(&y, &s, f, shape).unwrap();
            assert_eq!(up.len(), n);
            assert!(!far(&up, &upsample_ref(&y, shape, f)), "{shape:?} f{f}");
        }
    }

    #[test]
    fn resampling_errors() {
        let x = vec![0f32; 12];
        assert!(downsample(&x, &[3, 4], 0).is_err());
        assert!(downsample(&x, &[12], 2).is_err());
        assert!(downsample(&x, &[1, 1, 1, 3, 4], 2).is_err());
        assert!(downsample(&x, &[3, 5], 2).is_err());
        assert!(downsample(&[], &[0, 4], 2).is_err());
        let (y, s) = downsample(&x, &[3, 4], 2).unwrap();
        assert!(upsample(&y, &s, 0, &[3, 4]).is_err());
        assert!(upsample(&y, &s, 2, &[3, 3]).is_ok());
        assert!(upsample(&y, &s, 2, &[3, 6]).is_err());
        assert!(upsample(&y, &s, 2, &[2, 4]).is_err());
        assert!(upsample(&y, &s, 2, &[3, 4, 1]).is_err());
        assert!(upsample(&y[..5], &s, 2, &[3, 4]).is_err());
    }

    /// Synthetic speech-like samples in 16-bit units.
    fn synthetic(n: usize) -> Vec<f32> {
        let mut s = 12345u64;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((s >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 400.0;
                (3000.0 * (i as f32 * 0.031).sin() * (i as f32 * 0.0007).cos() + noise).round()
            })
            .collect()
    }

    #[test]
    fn pcm_bisection_meets_the_target() {
        let x = synthetic(20_000);
        let mut last = f64::NEG_INFINITY;
        for bits in [0.5, 1.0, 2.0, 4.0, 8.0] {
            let budget = (bits * x.len() as f64 / 8.0) as usize;
            let (b, step) = pcm_to_budget(&x, budget);
            let got = b.len() as f64 * 8.0 / x.len() as f64;
            assert!(
                got <= bits && got > 0.9 * bits,
                "{bits}: {got} bits, step {step}"
            );
            let y = pcm_decode(&b, x.len()).unwrap();
            let err = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err <= 0.5 * step * 1.001, "{err} > step/2 = {}", step / 2.0);
            let snr = snr_db(&x, &y);
            assert!(snr > last, "SNR {snr} dB at {bits} bits, {last} dB below");
            last = snr;
        }
        // Below the smallest stream: the smallest stream (all codes 0).
        let (b, _) = pcm_to_budget(&x, 1);
        assert!(b.len() < 20 && pcm_decode(&b, x.len()).unwrap().iter().all(|&v| v == 0.0));
        // The downsample stream is lossless on 16-bit integers.
        let d = diff_decode(&diff_encode(&x), x.len()).unwrap();
        assert_eq!(d, x);
    }
}
