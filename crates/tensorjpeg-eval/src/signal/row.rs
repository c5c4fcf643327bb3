//! What a signal evaluation measures: one [`Row`] per coded point, the decoded images kept
//! for the side-by-side crops ([`Decoded`], [`Crops`]), the whole [`Evaluation`], and the
//! measuring helpers every part shares ([`timed`], [`mps`]; SNR is `tensorjpeg::metrics::snr_db`).

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

/// One coded point.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// image, digits, audio or volume.
    pub modality: String,
    /// The evaluated signal (file stem, or the test split).
    pub item: String,
    /// Codec family: wpt-pca (ours, uniform + rANS), walloc-linear (Gaussian compander +
    /// lossless image), jpeg, webp, downsample, pcm-rans; for digits also raw, pca-float,
    /// wpt-pca-latents, wpt-pca-decoded.
    pub codec: String,
    /// Parameters of the point.
    pub config: String,
    /// WPT levels (fitted codecs).
    pub levels: Option<usize>,
    /// Latent channels (fitted codecs).
    pub k: Option<usize>,
    /// Dimension reduction (values in / values out of the encoder's linear stage).
    pub reduction: Option<f64>,
    /// Requested rate, bits per sample, for rate-controlled points.
    pub target_bits: Option<f64>,
    /// Coded bytes (whole file or stream).
    pub bytes: usize,
    /// `8·bytes / positions` (per pixel, frame or voxel).
    pub bits_per_sample: f64,
    /// PSNR in dB (peak 255 for images, 32768 for audio, the volume's maximum).
    pub psnr_db: Option<f64>,
    /// MS-SSIM (images larger than 160 px only).
    pub ms_ssim: Option<f64>,
    /// Encode speed, millions of positions per second, one thread.
    pub encode_mps: Option<f64>,
    /// Decode speed, millions of positions per second, one thread.
    pub decode_mps: Option<f64>,
    /// Classification accuracy (digits).
    pub accuracy: Option<f64>,
}

impl Row {
    /// A row with the common fields; the rest `None`.
    pub fn new(
        modality: &str,
        item: &str,
        codec: &str,
        config: String,
        bytes: usize,
        positions: usize,
    ) -> Row {
        Row {
            modality: modality.into(),
            item: item.into(),
            codec: codec.into(),
            config,
            levels: None,
            k: None,
            reduction: None,
            target_bits: None,
            bytes,
            bits_per_sample: bytes as f64 * 8.0 / positions as f64,
            psnr_db: None,
            ms_ssim: None,
            encode_mps: None,
            decode_mps: None,
            accuracy: None,
        }
    }
}

/// A decoded image kept for the side-by-side crops.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Label (codec and rate).
    pub label: String,
    /// Bits per pixel.
    pub bpp: f64,
    /// Pixels, `[C, H, W]`.
    pub pixels: Vec<f32>,
}

/// A crop set: one evaluation photo and its decoded versions.
#[derive(Debug, Clone)]
pub struct Crops {
    /// The photo's name (file stem).
    pub item: String,
    /// Its shape `[C, H, W]`.
    pub shape: Vec<usize>,
    /// The original pixels.
    pub original: Vec<f32>,
    /// The decoded versions shown beside it.
    pub decoded: Vec<Decoded>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Every coded point, in the order measured (images, digits, audio, volume).
    pub rows: Vec<Row>,
    /// The crop sets of the evaluation photos.
    pub crops: Vec<Crops>,
    /// Wall time of the measurements, seconds.
    pub seconds: f64,
    /// Whether lossy WebP was among the peers (the build's `webp` feature).
    pub webp_lossy: bool,
}

/// Best-of-`n` wall time of `f` in seconds (at least 1 ns), and its last result.
pub fn timed<T>(n: usize, mut f: impl FnMut() -> Result<T>) -> Result<(T, f64)> {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..n.max(1) {
        let t0 = Instant::now();
        let v = f()?;
        best = best.min(t0.elapsed().as_secs_f64());
        out = Some(v);
    }
    Ok((out.expect("n ≥ 1"), best.max(1e-9)))
}

/// Millions of `positions` per second in `secs`.
pub fn mps(positions: usize, secs: f64) -> Option<f64> {
    Some(positions as f64 / secs / 1e6)
}
