//! The fitted basis of the signal codec: what `tensorjpeg signal fit` writes and both the
//! encoder and the decoder load. It fixes the signal's dimensionality `D`, its channel
//! count `C`, the WPT depth `J` and the projection from the `C·2^(J·D)` sub-band channels to
//! `k` latent channels.
//!
//! ```text
//! magic "TJSBASIS" · u8 version · u8 D · varint C · u8 J · projection · u32 CRC-32 of all before
//! ```
//!
//! PCA components are nested, so a basis fitted with `k` channels also serves every smaller
//! `k` ([`SignalBasis::truncate`]): fit once, sweep the dimension reduction.

use super::projection::Projection;
use crate::error::{Error, Result};
use crate::framing::{self, Framing};
use crate::transform::wpt;

/// Deepest WPT accepted (`2^(J·D)` sub-band channels per signal channel).
pub const MAX_LEVELS: usize = 8;
/// Most sub-band channels a basis may have (`C·2^(J·D)`).
pub const MAX_SUBBANDS: usize = 1 << 14;

/// A fitted signal basis: dimensionality, channels, WPT depth and projection.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalBasis {
    /// Spatial dimensions `D` (1 audio, 2 images, 3 volumes).
    pub dims: usize,
    /// Signal channels `C` (1 gray or mono, 3 RGB, …).
    pub channels: usize,
    /// WPT levels `J`.
    pub levels: usize,
    /// The projection from `C·2^(J·D)` sub-band channels to `k` latent channels.
    pub projection: Projection,
}

/// `C·2^(J·D)`, or an error naming the limit.
pub fn subbands(dims: usize, channels: usize, levels: usize) -> Result<usize> {
    if !(1..=wpt::MAX_DIMS).contains(&dims) {
        return Err(Error::param("signal dimensions", dims, "1, 2 or 3"));
    }
    if channels == 0 {
        return Err(Error::param("signal channels", 0, "≥ 1"));
    }
    if !(1..=MAX_LEVELS).contains(&levels) {
        return Err(Error::param(
            "WPT levels",
            levels,
            format!("1..={MAX_LEVELS}"),
        ));
    }
    let n = (1usize << (levels * dims)).checked_mul(channels);
    match n {
        Some(n) if n <= MAX_SUBBANDS => Ok(n),
        _ => Err(Error::param(
            "sub-band channels C·2^(J·D)",
            format!("{channels}·2^({levels}·{dims})"),
            format!("at most {MAX_SUBBANDS}: use fewer levels"),
        )),
    }
}

/// Checks that `shape` (`[C, n_1, …, n_D]`) holds `len` values and that every spatial size
/// is at least `2^levels` (a smaller signal has nothing to split at the deepest level).
pub fn check_signal(shape: &[usize], len: usize, levels: usize) -> Result<()> {
    if !(2..=wpt::MAX_DIMS + 1).contains(&shape.len()) {
        return Err(Error::param(
            "signal shape",
            format!("{shape:?}"),
            "[C, n_1, …, n_D] with D = 1..=3",
        ));
    }
    let total = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if total != Some(len) {
        return Err(Error::param(
            "signal length",
            len,
            format!("the product of shape {shape:?}"),
        ));
    }
    let min = 1usize << levels.min(usize::BITS as usize - 1);
    if shape[0] == 0 {
        return Err(Error::param("signal channels", 0, "≥ 1"));
    }
    if let Some((a, &n)) = shape[1..].iter().enumerate().find(|(_, &n)| n < min) {
        return Err(Error::param(
            "signal size",
            format!("{n} along spatial axis {a} of shape {shape:?}"),
            format!("at least 2^J = {min} (J = {levels} WPT levels): use fewer levels"),
        ));
    }
    Ok(())
}

/// Reflect-pads `x` (shape `[C, n…]`) to multiples of `2^levels` and runs the forward WPT:
/// the sub-band coefficients, their shape `[C·2^(J·D), m…]`, and the padded shape.
pub fn analyze(
    x: &[f32],
    shape: &[usize],
    levels: usize,
) -> Result<(Vec<f32>, Vec<usize>, Vec<usize>)> {
    check_signal(shape, x.len(), levels)?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::param(
            "signal value",
            format!("{} at index {i}", x[i]),
            "finite values",
        ));
    }
    let aligned = shape[1..].iter().all(|&n| n % (1 << levels) == 0);
    if aligned {
        let (coef, cshape) = wpt::forward(x, shape, levels)?;
        return Ok((coef, cshape, shape.to_vec()));
    }
    let (padded, pshape) = wpt::reflect_pad(x, shape, levels);
    let (coef, cshape) = wpt::forward(&padded, &pshape, levels)?;
    Ok((coef, cshape, pshape))
}

/// Inverse of [`analyze`]: coefficients of shape `cshape` back to a signal of `shape`.
pub fn synthesize(
    coef: &[f32],
    cshape: &[usize],
    levels: usize,
    shape: &[usize],
) -> Result<Vec<f32>> {
    let (y, pshape) = wpt::inverse(coef, cshape, levels)?;
    if pshape.len() != shape.len() || pshape[0] != shape[0] {
        return Err(Error::corrupt(format!(
            "signal: coefficients give shape {pshape:?}, expected {shape:?}"
        )));
    }
    if pshape == shape {
        return Ok(y);
    }
    if pshape.iter().zip(shape).any(|(p, s)| p < s) {
        return Err(Error::corrupt(format!(
            "signal: padded shape {pshape:?} smaller than {shape:?}"
        )));
    }
    Ok(wpt::crop(&y, &pshape, shape))
}

impl SignalBasis {
    /// Fits a basis to training signals (each `(values, shape)` with shape `[C, n…]`, all of
    /// the same `C` and `D`): WPT with `levels` levels, then a `k`-channel PCA projection of
    /// the sub-band channels over every position of every signal.
    pub fn fit(signals: &[(&[f32], &[usize])], levels: usize, k: usize) -> Result<SignalBasis> {
        let Some(&(_, first)) = signals.first() else {
            return Err(Error::param("training signals", 0, "at least one"));
        };
        if first.len() < 2 {
            return Err(Error::param(
                "training signal shape",
                format!("{first:?}"),
                "[C, n_1, …, n_D]",
            ));
        }
        let (dims, channels) = (first.len() - 1, first[0]);
        let n_in = subbands(dims, channels, levels)?;
        let mut coefs = Vec::with_capacity(signals.len());
        for (i, &(x, shape)) in signals.iter().enumerate() {
            if shape.len() != first.len() || shape[0] != channels {
                return Err(Error::param(
                    "training signal shape",
                    format!("{shape:?} (signal {i})"),
                    format!(
                        "{channels} channels and {dims} spatial dimensions, as signal 0 {first:?}"
                    ),
                ));
            }
            coefs.push(analyze(x, shape, levels)?.0);
        }
        let refs: Vec<&[f32]> = coefs.iter().map(|c| c.as_slice()).collect();
        let projection = Projection::fit(&refs, n_in, k)?;
        Ok(SignalBasis {
            dims,
            channels,
            levels,
            projection,
        })
    }

    /// Latent channels `k`.
    pub fn k(&self) -> usize {
        self.projection.k
    }

    /// Sub-band channels `C·2^(J·D)`.
    pub fn subbands(&self) -> usize {
        self.projection.channels
    }

    /// Dimension reduction `C·2^(J·D) / k` (the projection's ratio of input to latent values).
    pub fn reduction(&self) -> f64 {
        self.subbands() as f64 / self.k() as f64
    }

    /// The same basis keeping its first `k` components (PCA components are nested).
    pub fn truncate(&self, k: usize) -> Result<SignalBasis> {
        let n = self.subbands();
        if !(1..=self.k()).contains(&k) {
            return Err(Error::param(
                "latent channels",
                k,
                format!("1..={} (the basis has {} components)", self.k(), self.k()),
            ));
        }
        let basis = self.projection.basis()[..k * n].to_vec();
        Ok(SignalBasis {
            projection: Projection::from_parts(self.projection.mean().to_vec(), basis, k)?,
            ..self.clone()
        })
    }

    /// Fails unless `shape` is a signal this basis can code: same `D` and `C`, every spatial
    /// size at least `2^J`.
    pub fn check(&self, shape: &[usize], len: usize) -> Result<()> {
        if shape.len() != self.dims + 1 {
            return Err(Error::param(
                "signal dimensionality",
                format!(
                    "{} spatial dimensions (shape {shape:?})",
                    shape.len().saturating_sub(1)
                ),
                format!(
                    "{} — the basis was fitted on {}-D signals",
                    self.dims, self.dims
                ),
            ));
        }
        if shape[0] != self.channels {
            return Err(Error::param(
                "signal channels",
                format!("{} (shape {shape:?})", shape[0]),
                format!(
                    "{} — the basis was fitted on {}-channel signals",
                    self.channels, self.channels
                ),
            ));
        }
        check_signal(shape, len, self.levels)
    }

    /// The latents of `x` (shape `[C, n…]`): `[k, m…]` values, channel-major, and the
    /// coefficient shape `[C·2^(J·D), m…]`.
    pub fn encode_latents(&self, x: &[f32], shape: &[usize]) -> Result<(Vec<f32>, Vec<usize>)> {
        self.check(shape, x.len())?;
        let (coef, cshape, _) = analyze(x, shape, self.levels)?;
        let p: usize = cshape[1..].iter().product();
        let mut z = vec![0f32; self.k() * p];
        self.projection.forward(&coef, p, &mut z)?;
        Ok((z, cshape))
    }

    /// The signal of shape `shape` reconstructed from latents `z` (`[k, m…]`, with `m` the
    /// coefficient sizes of `shape`): the projection's transpose plus mean, then the inverse
    /// WPT and the crop.
    pub fn decode_latents(&self, z: &[f32], shape: &[usize]) -> Result<Vec<f32>> {
        self.check(shape, shape.iter().product())?;
        let mut cshape = vec![self.subbands()];
        cshape.extend(
            shape[1..]
                .iter()
                .map(|&n| wpt::padded_len(n, self.levels) >> self.levels),
        );
        let p: usize = cshape[1..].iter().product();
        if z.len() != self.k() * p {
            return Err(Error::param(
                "latent length",
                z.len(),
                format!("k·positions = {}·{p}", self.k()),
            ));
        }
        let mut coef = vec![0f32; self.subbands() * p];
        self.projection.inverse(z, p, &mut coef)?;
        synthesize(&coef, &cshape, self.levels, shape)
    }

    /// Serializes the basis (format in the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = framing::SIGNAL_BASIS.start();
        w.u8(self.dims as u8);
        w.varint(self.channels as u64);
        w.u8(self.levels as u8);
        self.projection.write(&mut w);
        Framing::seal(w)
    }

    /// CRC-32 of the serialized basis: encoded signals record it, so a signal is never
    /// decoded with a basis other than the one it was encoded with.
    pub fn checksum(&self) -> u32 {
        Framing::sealed_crc(&self.to_bytes()).expect("a sealed basis ends with its CRC")
    }

    /// Reads what [`SignalBasis::to_bytes`] wrote; anything else (another file type, a
    /// truncated or corrupted basis) is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignalBasis> {
        let mut r = framing::SIGNAL_BASIS.open_sealed(bytes)?;
        let dims = r.u8()? as usize;
        let channels = r.varint_max("signal basis channels", MAX_SUBBANDS as u64)? as usize;
        let levels = r.u8()? as usize;
        let n = subbands(dims, channels, levels)
            .map_err(|e| Error::corrupt(format!("signal basis: {e}")))?;
        let projection = Projection::read(&mut r)?;
        r.finish()?;
        if projection.channels != n {
            return Err(Error::corrupt(format!(
                "signal basis: projection has {} input channels, C·2^(J·D) = {n}",
                projection.channels
            )));
        }
        Ok(SignalBasis {
            dims,
            channels,
            levels,
            projection,
        })
    }
}
