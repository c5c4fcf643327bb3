//! The signal codec: a [`SignalBasis`] (WPT + projection) followed by a quantizer and a
//! lossless latent coder, and its file format.
//!
//! ```text
//! magic "TJSIGNAL" · u8 version
//! u8 D · varint C · varint n_1 … n_D · u8 J · varint k · u32 basis CRC-32
//! u8 quantizer (0 Gaussian compander, 1 uniform) · f32 gain or step
//! u8 coder (0 rANS with contexts, 1 PNG, 2 WebP-lossless, 3 plain rANS) · varint sample rate (0 = none)
//! varint payload length · payload
//! u32 CRC-32 of everything before
//! ```
//!
//! **Quantizers.** WaLLoC's Gaussian-CDF compander always gives `i8` codes. The uniform
//! quantizer gives unbounded integers with the rANS coder (a step of `1/t` is the rate
//! knob) and is clamped to `±127` when the latents go through an 8-bit image codec.
//!
//! **Coders.** rANS: context-modelled ([`super::latent_rans`]: channel 0 predicted, the rest
//! in contexts of neighbour magnitude); rans-plain: every latent channel one entropy segment
//! of [`crate::entropy`] (its own static histogram). PNG / WebP-lossless: the `i8` latents
//! tiled into one grayscale image ([`super::latent_image`]), as WaLLoC does.
//!
//! Bits per sample count the whole file (header and CRC included) over the signal's spatial
//! positions: bits per pixel for images (all colour channels together), per audio frame,
//! per voxel. The basis is shared by both ends, like a JPEG quantization table fitted
//! offline, and is not counted.

use super::basis::SignalBasis;
use super::compander::Compander;
use super::latent_image::{self, LatentImageCodec};
use super::latent_rans;

use crate::error::{Error, Result};
use crate::framing::{self, Framing};
use crate::transform::wpt;
use std::fmt;
use std::str::FromStr;

/// Largest magnitude of an unbounded (rANS-coded) latent code.
pub const WIDE_CODE_MAX: f64 = 1e9;
/// Largest share of latents an explicit `i8` quantizer may clip at ±127
/// ([`Quantizer::check_range`]).
pub const MAX_SATURATED: f64 = 0.05;

/// Rounding offset of the unbounded uniform quantizer: `q = sign(v)·⌊|v|/step + 0.4⌋`, a
/// slightly widened dead zone (plain rounding is 0.5). Latents are peaked around zero, so
/// values just above half a step cost more bits than they save error: measured on astronaut
/// and camera at 0.25–0.7 bpp, 0.4 gains 0.2–0.6 dB over 0.5 (0.3 and 0.35 are within
/// ±0.1 dB of 0.4). Encoder-side only: the decoder reconstructs `q·step`.
pub const DEADZONE_ROUNDING: f32 = 0.4;

/// How latents become integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantizer {
    /// WaLLoC's Gaussian-CDF compander to `i8`, input multiplied by `gain` first.
    Gaussian {
        /// Multiplies latents before companding (larger = finer).
        gain: f32,
    },
    /// Uniform quantization with step `step` (dead-zone rounding [`DEADZONE_ROUNDING`] when
    /// unbounded; plain rounding to `±127` for the image coders).
    Uniform {
        /// Quantization step in latent units.
        step: f32,
    },
}

/// The quantizer family, without its parameter (for rate control).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantizerKind {
    /// [`Quantizer::Gaussian`].
    Gaussian,
    /// [`Quantizer::Uniform`].
    Uniform,
}

impl QuantizerKind {
    /// The quantizer of this family at fineness `t > 0` (gain `t`, or step `1/t`).
    pub fn at(self, t: f32) -> Quantizer {
        match self {
            QuantizerKind::Gaussian => Quantizer::Gaussian { gain: t },
            QuantizerKind::Uniform => Quantizer::Uniform { step: 1.0 / t },
        }
    }

    /// `"gaussian"` or `"uniform"`.
    pub fn name(self) -> &'static str {
        match self {
            QuantizerKind::Gaussian => "gaussian",
            QuantizerKind::Uniform => "uniform",
        }
    }
}

impl FromStr for QuantizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gaussian" => Ok(QuantizerKind::Gaussian),
            "uniform" => Ok(QuantizerKind::Uniform),
            _ => Err(Error::param("quantizer", s, "gaussian or uniform")),
        }
    }
}

impl Quantizer {
    /// Its family.
    pub fn kind(&self) -> QuantizerKind {
        match self {
            Quantizer::Gaussian { .. } => QuantizerKind::Gaussian,
            Quantizer::Uniform { .. } => QuantizerKind::Uniform,
        }
    }

    fn param(&self) -> f32 {
        match *self {
            Quantizer::Gaussian { gain } => gain,
            Quantizer::Uniform { step } => step,
        }
    }

    fn compander(&self) -> Result<Compander> {
        match *self {
            Quantizer::Gaussian { gain } => Compander::gaussian(gain),
            Quantizer::Uniform { step } => Compander::uniform(step),
        }
    }

    /// Checks that the quantizer represents latents `z` faithfully: with unbounded codes
    /// no code passes ±[`WIDE_CODE_MAX`] (a step that fine would overflow the integers
    /// silently), with `i8` codes at most [`MAX_SATURATED`] of the latents clip at ±127.
    /// The error names the parameter and the range that works for this signal.
    pub fn check_range(&self, z: &[f32], wide: bool) -> Result<()> {
        self.compander()?;
        let zmax = z.iter().fold(0f32, |a, &v| a.max(v.abs()));
        match (*self, wide) {
            (Quantizer::Uniform { step }, true) => {
                if f64::from(zmax) / f64::from(step) + 1.0 > WIDE_CODE_MAX {
                    return Err(Error::param(
                        "step",
                        step,
                        format!(
                            "a step ≥ {:.3e}: latents reach |z| = {zmax:.4e} and codes must stay \
                             within ±{WIDE_CODE_MAX:e}",
                            f64::from(zmax) / (WIDE_CODE_MAX - 1.0)
                        ),
                    ));
                }
            }
            _ => {
                let codes = self.quantize(z, wide)?;
                let clipped = codes.iter().filter(|&&c| c.abs() >= 127).count();
                let frac = clipped as f64 / codes.len().max(1) as f64;
                if frac > MAX_SATURATED {
                    let (what, useful) = match *self {
                        Quantizer::Gaussian { .. } => (
                            "gain",
                            format!(
                                "a gain ≤ {:.3e} (beyond it the largest latent saturates)",
                                2.65 * super::compander::SCALE / f64::from(zmax.max(1e-30))
                            ),
                        ),
                        Quantizer::Uniform { .. } => (
                            "step",
                            format!(
                                "a step ≥ {:.3e} with an image coder (codes are ±127), or the \
                                 rans coder",
                                f64::from(zmax) / 127.0
                            ),
                        ),
                    };
                    return Err(Error::param(
                        what,
                        format!(
                            "{} ({:.1} % of the latents clip at ±127)",
                            self.param(),
                            100.0 * frac
                        ),
                        useful,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Integer codes of latents `z`: `i8` range unless `wide` (uniform only: unbounded).
    pub fn quantize(&self, z: &[f32], wide: bool) -> Result<Vec<i32>> {
        match (*self, wide) {
            (Quantizer::Uniform { step }, true) => {
                self.compander()?;
                let inv = 1.0 / step;
                Ok(z.iter()
                    .map(|&v| {
                        let a = ((v * inv).abs() + DEADZONE_ROUNDING).floor().min(1e9) as i32;
                        if v < 0.0 {
                            -a
                        } else {
                            a
                        }
                    })
                    .collect())
            }
            _ => {
                let mut codes = vec![0i8; z.len()];
                self.compander()?.encode(z, &mut codes)?;
                Ok(codes.into_iter().map(i32::from).collect())
            }
        }
    }

    /// [`Quantizer::quantize`] for `[k, positions]` latents: with unbounded uniform codes,
    /// channel 0 (the leading component, a smooth low-pass image with values far from zero)
    /// is rounded plainly; the dead zone only pays on the zero-peaked channels (+0.05–0.13 dB
    /// on astronaut and camera at 0.15–0.7 bpp).
    pub fn quantize_latents(&self, z: &[f32], k: usize, wide: bool) -> Result<Vec<i32>> {
        let mut codes = self.quantize(z, wide)?;
        if let (Quantizer::Uniform { step }, true) = (*self, wide) {
            let p = z.len() / k.max(1);
            for (c, &v) in codes.iter_mut().zip(&z[..p]) {
                *c = (v / step).round().clamp(-1e9, 1e9) as i32;
            }
        }
        Ok(codes)
    }

    /// Reconstructed latents of integer codes (inverse of [`Quantizer::quantize`]).
    pub fn dequantize(&self, codes: &[i32]) -> Result<Vec<f32>> {
        match *self {
            Quantizer::Uniform { step } => {
                self.compander()?;
                Ok(codes.iter().map(|&q| q as f32 * step).collect())
            }
            Quantizer::Gaussian { .. } => {
                let mut out = vec![0f32; codes.len()];
                let bytes: Vec<i8> = codes.iter().map(|&q| q.clamp(-128, 127) as i8).collect();
                self.compander()?.decode(&bytes, &mut out)?;
                Ok(out)
            }
        }
    }
}

/// How integer latents are coded losslessly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentCoder {
    /// tensorjpeg's rANS entropy coder with context modelling ([`super::latent_rans`]).
    Rans,
    /// tensorjpeg's rANS entropy coder, one static model per latent channel, no context.
    RansPlain,
    /// Tiled into a grayscale image coded by a lossless image codec.
    Image(LatentImageCodec),
}

impl LatentCoder {
    /// Every coder, rANS first.
    pub const ALL: [LatentCoder; 4] = [
        LatentCoder::Rans,
        LatentCoder::RansPlain,
        LatentCoder::Image(LatentImageCodec::Png),
        LatentCoder::Image(LatentImageCodec::WebpLossless),
    ];

    /// `"rans"`, `"rans-plain"`, `"png"` or `"webp-lossless"`.
    pub fn name(&self) -> &'static str {
        match self {
            LatentCoder::Rans => "rans",
            LatentCoder::RansPlain => "rans-plain",
            LatentCoder::Image(c) => c.name(),
        }
    }

    /// One of tensorjpeg's own coders (which take unbounded integers).
    pub fn is_rans(&self) -> bool {
        matches!(self, LatentCoder::Rans | LatentCoder::RansPlain)
    }

    fn tag(&self) -> u8 {
        match self {
            LatentCoder::Rans => 0,
            LatentCoder::Image(LatentImageCodec::Png) => 1,
            LatentCoder::Image(LatentImageCodec::WebpLossless) => 2,
            LatentCoder::RansPlain => 3,
        }
    }

    fn from_tag(t: u8) -> Result<Self> {
        Ok(match t {
            0 => LatentCoder::Rans,
            1 => LatentCoder::Image(LatentImageCodec::Png),
            2 => LatentCoder::Image(LatentImageCodec::WebpLossless),
            3 => LatentCoder::RansPlain,
            _ => return Err(Error::corrupt(format!("signal: unknown latent coder {t}"))),
        })
    }
}

impl fmt::Display for LatentCoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LatentCoder {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rans" => return Ok(LatentCoder::Rans),
            "rans-plain" => return Ok(LatentCoder::RansPlain),
            _ => {}
        }
        s.parse::<LatentImageCodec>()
            .map(LatentCoder::Image)
            .map_err(|_| Error::param("latent coder", s, "rans, rans-plain, png or webp-lossless"))
    }
}

/// The header of an encoded signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalHeader {
    /// Signal shape `[C, n_1, …, n_D]`.
    pub shape: Vec<usize>,
    /// WPT levels.
    pub levels: usize,
    /// Latent channels.
    pub k: usize,
    /// CRC-32 of the basis it was encoded with.
    pub basis_crc: u32,
    /// The quantizer.
    pub quantizer: Quantizer,
    /// The latent coder.
    pub coder: LatentCoder,
    /// Samples per second of an audio signal, if known.
    pub sample_rate: Option<u32>,
}

impl SignalHeader {
    /// Spatial positions (pixels, frames, voxels): the denominator of bits per sample.
    pub fn positions(&self) -> usize {
        self.shape[1..].iter().product()
    }
}

/// Latent plane geometry `(h, w)` for the image coders: the last coefficient axis is the
/// width, the others fold into the height.
fn plane(cshape: &[usize]) -> (usize, usize) {
    let w = *cshape.last().expect("rank ≥ 2");
    (cshape[1..cshape.len() - 1].iter().product(), w)
}

/// Codes integer latents `codes` (`[k, positions]`) with `coder`.
pub fn code_latents(
    coder: LatentCoder,
    codes: &[i32],
    k: usize,
    cshape: &[usize],
) -> Result<Vec<u8>> {
    let p: usize = cshape[1..].iter().product();
    if codes.len() != k * p {
        return Err(Error::param(
            "latent codes",
            codes.len(),
            format!("k·positions = {k}·{p}"),
        ));
    }
    match coder {
        LatentCoder::Rans => {
            let (h, w) = plane(cshape);
            latent_rans::encode(codes, k, h, w)
        }
        LatentCoder::RansPlain => {
            let (h, w) = plane(cshape);
            latent_rans::encode_plain(codes, k, h, w)
        }
        LatentCoder::Image(c) => {
            let bytes: Vec<i8> = codes.iter().map(|&q| q.clamp(-128, 127) as i8).collect();
            let (h, w) = plane(cshape);
            latent_image::encode(c, &bytes, k, h, w)
        }
    }
}

/// Inverse of [`code_latents`].
pub fn decode_latent_codes(
    coder: LatentCoder,
    data: &[u8],
    k: usize,
    cshape: &[usize],
) -> Result<Vec<i32>> {
    match coder {
        LatentCoder::Rans => {
            let (h, w) = plane(cshape);
            latent_rans::decode(data, k, h, w)
        }
        LatentCoder::RansPlain => {
            let (h, w) = plane(cshape);
            latent_rans::decode_plain(data, k, h, w)
        }
        LatentCoder::Image(c) => {
            let (h, w) = plane(cshape);
            Ok(latent_image::decode(c, data, k, h, w)?
                .into_iter()
                .map(i32::from)
                .collect())
        }
    }
}

/// Encodes precomputed latents `z` (from [`SignalBasis::encode_latents`]) of a signal of
/// shape `shape` into a signal file.
pub fn encode_from_latents(
    basis: &SignalBasis,
    z: &[f32],
    cshape: &[usize],
    shape: &[usize],
    quantizer: Quantizer,
    coder: LatentCoder,
    sample_rate: Option<u32>,
) -> Result<Vec<u8>> {
    let wide = coder.is_rans();
    let codes = quantizer.quantize_latents(z, basis.k(), wide)?;
    let payload = code_latents(coder, &codes, basis.k(), cshape)?;
    let mut w = framing::SIGNAL_FILE.start();
    w.u8(basis.dims as u8);
    for &n in shape {
        w.varint(n as u64);
    }
    w.u8(basis.levels as u8);
    w.varint(basis.k() as u64);
    w.u32(basis.checksum());
    w.u8(quantizer.kind() as u8);
    w.f32(quantizer.param());
    w.u8(coder.tag());
    w.varint(u64::from(sample_rate.unwrap_or(0)));
    w.blob(&payload);
    Ok(Framing::seal(w))
}

/// Encodes signal `x` (shape `[C, n_1, …, n_D]`) with `basis`, `quantizer` and `coder`.
pub fn encode(
    basis: &SignalBasis,
    x: &[f32],
    shape: &[usize],
    quantizer: Quantizer,
    coder: LatentCoder,
) -> Result<Vec<u8>> {
    let (z, cshape) = basis.encode_latents(x, shape)?;
    encode_from_latents(basis, &z, &cshape, shape, quantizer, coder, None)
}

/// Reads and checks the header of a signal file; returns it and the payload.
pub fn read_header(bytes: &[u8]) -> Result<(SignalHeader, &[u8])> {
    let mut r = framing::SIGNAL_FILE.open_sealed(bytes)?;
    let dims = r.u8()? as usize;
    if !(1..=wpt::MAX_DIMS).contains(&dims) {
        return Err(Error::corrupt(format!(
            "signal file: {dims} spatial dimensions"
        )));
    }
    let mut shape = Vec::with_capacity(dims + 1);
    for _ in 0..=dims {
        shape.push(r.varint_max("signal size", 1 << 40)? as usize);
    }
    let levels = r.u8()? as usize;
    let k = r.varint_max("signal latent channels", super::basis::MAX_SUBBANDS as u64)? as usize;
    let basis_crc = r.u32()?;
    let tag = r.u8()?;
    let param = r.f32()?;
    let quantizer = match tag {
        0 => Quantizer::Gaussian { gain: param },
        1 => Quantizer::Uniform { step: param },
        _ => {
            return Err(Error::corrupt(format!(
                "signal file: unknown quantizer {tag}"
            )))
        }
    };
    quantizer
        .compander()
        .map_err(|e| Error::corrupt(format!("signal file: {e}")))?;
    let coder = LatentCoder::from_tag(r.u8()?)?;
    let rate = r.varint_max("signal sample rate", u64::from(u32::MAX))? as u32;
    let payload = r.blob()?;
    r.finish()?;
    let total = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if total.is_none_or(|t| t > 1 << 34) || shape.contains(&0) {
        return Err(Error::corrupt(format!("signal file: shape {shape:?}")));
    }
    // The declared size drives the decoder's allocations: hold it to the decode limits
    // (per signal, and against the file's size) before anything is allocated.
    let limits = crate::limits::Limits::configured();
    let values = total.unwrap_or(usize::MAX) as u64;
    limits.check_tensor("signal", &shape, values)?;
    limits.check_total(values, bytes.len())?;
    let header = SignalHeader {
        shape,
        levels,
        k,
        basis_crc,
        quantizer,
        coder,
        sample_rate: (rate > 0).then_some(rate),
    };
    Ok((header, payload))
}

/// Decodes a signal file with the basis it was encoded with (or the basis it was truncated
/// from): the values and the shape.
pub fn decode(basis: &SignalBasis, bytes: &[u8]) -> Result<(Vec<f32>, Vec<usize>)> {
    decode_full(basis, bytes).map(|(x, h)| (x, h.shape))
}

/// [`decode`], returning the whole header.
pub fn decode_full(basis: &SignalBasis, bytes: &[u8]) -> Result<(Vec<f32>, SignalHeader)> {
    let (h, payload) = read_header(bytes)?;
    // A file encoded with the basis's first k components (`truncate`) decodes with the full
    // basis file.
    let truncated;
    let mut crc = basis.checksum();
    let basis = if h.k < basis.k() && h.basis_crc != crc {
        truncated = basis.truncate(h.k)?;
        crc = truncated.checksum();
        &truncated
    } else {
        basis
    };
    if h.basis_crc != crc || h.levels != basis.levels || h.shape.len() != basis.dims + 1 {
        return Err(Error::param(
            "signal basis",
            format!(
                "basis CRC {:08x} (J = {}, {}-D, k = {})",
                crc,
                basis.levels,
                basis.dims,
                basis.k()
            ),
            format!(
                "the basis the file was encoded with: CRC {:08x} (J = {}, {}-D, k = {})",
                h.basis_crc,
                h.levels,
                h.shape.len() - 1,
                h.k
            ),
        ));
    }
    basis.check(&h.shape, h.positions() * h.shape[0])?;
    let mut cshape = vec![basis.subbands()];
    cshape.extend(
        h.shape[1..]
            .iter()
            .map(|&n| wpt::padded_len(n, basis.levels) >> basis.levels),
    );
    let codes = decode_latent_codes(h.coder, payload, basis.k(), &cshape)?;
    let z = h.quantizer.dequantize(&codes)?;
    let x = basis.decode_latents(&z, &h.shape)?;
    // A legal but extreme step or gain (3e38, say) overflows f32: refuse, never return
    // infinities or NaNs as a decoded signal.
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::corrupt(format!(
            "signal file: decoded value {i} is {} ({:?} with codes up to ±{}): a damaged or \
             forged file",
            x[i],
            h.quantizer,
            codes.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0)
        )));
    }
    Ok((x, h))
}

/// What [`encode_to_rate`] aims for: a quantizer family, a latent coder and a size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateTarget {
    /// The quantizer family whose fineness is searched.
    pub kind: QuantizerKind,
    /// The lossless coder of the latents.
    pub coder: LatentCoder,
    /// All-in file bits per sample position (the file may not exceed it).
    pub bits_per_sample: f64,
    /// Sample rate written into the header (audio), if any.
    pub sample_rate: Option<u32>,
}

/// Rate control: the file of `x` whose size is closest to `target.bits_per_sample` without
/// exceeding it (or the smallest reachable), found by bisection on the quantizer's
/// fineness. Returns the file and the quantizer used.
pub fn encode_to_rate(
    basis: &SignalBasis,
    x: &[f32],
    shape: &[usize],
    target: &RateTarget,
) -> Result<(Vec<u8>, Quantizer)> {
    let RateTarget {
        kind,
        coder,
        bits_per_sample,
        sample_rate,
    } = *target;
    if !(bits_per_sample.is_finite() && bits_per_sample > 0.0) {
        return Err(Error::param(
            "target bits per sample",
            bits_per_sample,
            "a finite value > 0",
        ));
    }
    let (z, cshape) = basis.encode_latents(x, shape)?;
    let positions: usize = shape[1..].iter().product();
    let budget = (bits_per_sample * positions as f64 / 8.0).floor() as usize;
    // Fineness relative to the latents' spread.
    let rms = (z.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / z.len().max(1) as f64)
        .sqrt()
        .max(1e-12);
    let unit = (1.0 / rms) as f32;
    let try_at = |lt: f64| -> Result<(Vec<u8>, Quantizer)> {
        let q = kind.at(unit * (lt.exp() as f32));
        Ok((
            encode_from_latents(basis, &z, &cshape, shape, q, coder, sample_rate)?,
            q,
        ))
    };
    let (mut lo, mut hi) = (-12.0f64, 12.0f64);
    if kind == QuantizerKind::Gaussian {
        // Beyond the gain that sends the largest latent to Φ(3.5) (code ±127) the compander
        // saturates: files shrink again while quality collapses, so stop there.
        let zmax = z.iter().fold(0f32, |a, &v| a.max(v.abs())).max(1e-12);
        hi = hi.min((3.5 * super::compander::SCALE / f64::from(zmax * unit)).ln());
        lo = lo.min(hi - 1.0);
    }
    let mut best = try_at(lo)?;
    if best.0.len() > budget {
        return Ok(best);
    }
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        let got = try_at(mid)?;
        if got.0.len() <= budget {
            lo = mid;
            best = got;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-3 {
            break;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// A smooth 3-channel test image with texture, 0..255.
    fn image(h: usize, w: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let mut x = Vec::with_capacity(3 * h * w);
        for c in 0..3 {
            for i in 0..h {
                for j in 0..w {
                    let (u, v) = (i as f32 / h as f32, j as f32 / w as f32);
                    let s = 128.0
                        + 60.0 * (6.0 * u + c as f32).sin() * (4.0 * v).cos()
                        + 20.0 * (25.0 * u * v).sin()
                        + 4.0 * rng.gaussian() as f32;
                    x.push(s.clamp(0.0, 255.0));
                }
            }
        }
        (x, vec![3, h, w])
    }

    fn psnr(a: &[f32], b: &[f32]) -> f64 {
        crate::ssim::psnr(a, b, 255.0).unwrap()
    }

    fn basis(k: usize) -> SignalBasis {
        let (a, sa) = image(64, 64, 1);
        let (b, sb) = image(48, 80, 2);
        SignalBasis::fit(&[(&a, &sa), (&b, &sb)], 2, k).unwrap()
    }

    #[test]
    fn full_basis_reconstructs_without_quantization() {
        let b = basis(48);
        let (x, s) = image(40, 56, 3);
        let (z, _) = b.encode_latents(&x, &s).unwrap();
        let y = b.decode_latents(&z, &s).unwrap();
        assert!(psnr(&x, &y) > 80.0, "{}", psnr(&x, &y));
    }

    #[test]
    fn every_coder_round_trips_and_rate_drops_with_k() {
        let b = basis(48);
        let (x, s) = image(61, 70, 4); // not a multiple of 4: padded and cropped
        let mut last = usize::MAX;
        for k in [48, 12, 3] {
            let bk = b.truncate(k).unwrap();
            for coder in LatentCoder::ALL {
                for q in [
                    Quantizer::Uniform { step: 2.0 },
                    Quantizer::Gaussian { gain: 0.5 },
                ] {
                    let f = encode(&bk, &x, &s, q, coder).unwrap();
                    let (y, ys) = decode(&bk, &f).unwrap();
                    assert_eq!(ys, s);
                    // Decoding equals quantize → dequantize → synthesize done by hand.
                    let (z, _) = bk.encode_latents(&x, &s).unwrap();
                    let zq = q
                        .dequantize(&q.quantize_latents(&z, k, coder.is_rans()).unwrap())
                        .unwrap();
                    let want = bk.decode_latents(&zq, &s).unwrap();
                    assert_eq!(y, want, "{coder} {q:?} k {k}");
                    if k == 48
                        && matches!(q, Quantizer::Uniform { .. })
                        && coder == LatentCoder::Rans
                    {
                        assert!(psnr(&x, &y) > 35.0, "{}", psnr(&x, &y));
                    }
                }
            }
            let f = encode(
                &bk,
                &x,
                &s,
                Quantizer::Uniform { step: 2.0 },
                LatentCoder::Rans,
            )
            .unwrap();
            assert!(f.len() < last);
            last = f.len();
        }
    }

    #[test]
    fn rate_control_meets_the_budget() {
        let b = basis(24);
        let (x, s) = image(64, 64, 5);
        for target in [0.25, 0.5, 1.0, 2.0] {
            for coder in [LatentCoder::Rans, LatentCoder::Image(LatentImageCodec::Png)] {
                let t = RateTarget {
                    kind: QuantizerKind::Uniform,
                    coder,
                    bits_per_sample: target,
                    sample_rate: None,
                };
                let (f, _) = encode_to_rate(&b, &x, &s, &t).unwrap();
                let bps = f.len() as f64 * 8.0 / (64.0 * 64.0);
                // A PNG has a floor of about 140 bytes (0.27 bpp here): below it, the
                // smallest file is returned.
                assert!(bps <= target.max(0.3), "{coder} {bps} > {target}");
                if coder == LatentCoder::Rans {
                    assert!(bps > 0.8 * target, "{coder} {bps} ≪ {target}");
                }
            }
        }
        let zero = RateTarget {
            kind: QuantizerKind::Uniform,
            coder: LatentCoder::Rans,
            bits_per_sample: 0.0,
            sample_rate: None,
        };
        assert!(encode_to_rate(&b, &x, &s, &zero).is_err());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let b = basis(12);
        let (x, s) = image(16, 16, 6);
        // Too small for J = 2.
        let e = b
            .encode_latents(&x[..3 * 3 * 16], &[3, 3, 16])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2^J = 4"), "{e}");
        // Wrong channel count and dimensionality.
        let e = b
            .encode_latents(&x[..16 * 16], &[1, 16, 16])
            .unwrap_err()
            .to_string();
        assert!(e.contains("3-channel"), "{e}");
        let e = b.encode_latents(&x, &[3, 256]).unwrap_err().to_string();
        assert!(e.contains("2-D"), "{e}");
        let mut nan = x.clone();
        nan[5] = f32::NAN;
        assert!(encode(
            &b,
            &nan,
            &s,
            Quantizer::Uniform { step: 1.0 },
            LatentCoder::Rans
        )
        .is_err());
        // Decoding with another basis, or corrupted bytes.
        let f = encode(
            &b,
            &x,
            &s,
            Quantizer::Uniform { step: 1.0 },
            LatentCoder::Rans,
        )
        .unwrap();
        // Encoded with the first 5 components: the full basis decodes it.
        let b5 = b.truncate(5).unwrap();
        let f5 = encode(
            &b5,
            &x,
            &s,
            Quantizer::Uniform { step: 1.0 },
            LatentCoder::Rans,
        )
        .unwrap();
        assert_eq!(decode(&b, &f5).unwrap(), decode(&b5, &f5).unwrap());
        let other = basis(11);
        let e = decode(&other, &f).unwrap_err().to_string();
        assert!(e.contains("encoded with"), "{e}");
        for i in [0, 9, f.len() / 2, f.len() - 1] {
            let mut g = f.clone();
            g[i] ^= 0x10;
            assert!(decode(&b, &g).is_err(), "flip at {i}");
        }
        for n in [0, 8, f.len() - 1] {
            assert!(decode(&b, &f[..n]).is_err());
        }
    }

    #[test]
    fn basis_serialization_round_trips_and_rejects_damage() {
        let b = basis(12);
        let bytes = b.to_bytes();
        assert_eq!(SignalBasis::from_bytes(&bytes).unwrap(), b);
        let mut g = bytes.clone();
        g[20] ^= 1;
        assert!(SignalBasis::from_bytes(&g).is_err());
        assert!(SignalBasis::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(SignalBasis::from_bytes(b"TJSIGNAL....").is_err());
        assert!(b.truncate(13).is_err() && b.truncate(0).is_err());
        assert_eq!(b.truncate(5).unwrap().k(), 5);
    }

    #[test]
    fn one_and_three_dimensional_signals() {
        let mut rng = SplitMix64::new(9);
        let audio: Vec<f32> = (0..1000)
            .map(|i| (i as f32 * 0.05).sin() * 1000.0 + rng.gaussian() as f32)
            .collect();
        let b = SignalBasis::fit(&[(&audio, &[1, 1000])], 4, 16).unwrap();
        let (y, _) = decode(
            &b,
            &encode(
                &b,
                &audio[..999],
                &[1, 999],
                Quantizer::Uniform { step: 0.5 },
                LatentCoder::Rans,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(crate::ssim::psnr(&audio[..999], &y, 1000.0).unwrap() > 50.0);
        let vol: Vec<f32> = (0..12 * 10 * 9)
            .map(|i| ((i % 7) * 3 + i / 90) as f32)
            .collect();
        let b = SignalBasis::fit(&[(&vol, &[1, 12, 10, 9])], 1, 8).unwrap();
        let (y, s) = decode(
            &b,
            &encode(
                &b,
                &vol,
                &[1, 12, 10, 9],
                Quantizer::Uniform { step: 0.5 },
                LatentCoder::Image(LatentImageCodec::Png),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(s, vec![1, 12, 10, 9]);
        assert!(crate::ssim::psnr(&vol, &y, 40.0).unwrap() > 20.0);
    }
}
