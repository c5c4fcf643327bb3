//! One chunk of the native codec: the transformed coefficients of a group of planes, how
//! they are quantized, split into bands and entropy coded (or costed, for rate control),
//! and the decoder that turns a chunk's bytes back into planes.

use std::collections::HashMap;

use crate::bytes::{ByteReader, ByteWriter};
use crate::codec::Rate;
use crate::entropy;
use crate::error::{Error, Result};
use crate::layout::{Layout, Plane};
use crate::quant::trellis::{self, Trellis};
use crate::quant::Quantizer;
use crate::transform::Transform;

use super::config::Setup;

/// Groups planes into chunks of about `target` coefficients.
pub(super) fn group_planes(
    planes: &[Plane],
    t: &Transform,
    target: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut acc = 0;
    for (i, p) in planes.iter().enumerate() {
        acc += t.coeff_len(p.shape.0, p.shape.1);
        if acc >= target {
            out.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < planes.len() {
        out.push(start..planes.len());
    }
    out
}

/// Per-plane scale code: the plane step is `step · 2^((code − 128)/8)`.
fn scale_of(code: u8) -> f32 {
    2f32.powf((f32::from(code) - 128.0) / 8.0)
}

/// Transformed coefficients of one chunk, with their band structure.
pub(super) struct ChunkCoefs {
    /// Coefficients of each plane, concatenated.
    pub(super) coefs: Vec<f32>,
    /// (offset, len, shape) of each plane in `coefs`.
    pub(super) planes: Vec<(usize, usize, (usize, usize))>,
    /// Per-plane scale codes (all 128 unless per-block steps).
    pub(super) codes: Vec<u8>,
    /// The coefficients are reconstructions a trellis search with error feedback already
    /// chose ([`crate::quant::trellis_feedback`]): their levels are recovered by rounding,
    /// not searched again.
    pub(super) on_grid: bool,
}

fn band_maps(
    t: &Transform,
    planes: &[(usize, usize, (usize, usize))],
) -> HashMap<(usize, usize), (Vec<u8>, usize)> {
    let mut m = HashMap::new();
    for &(_, _, s) in planes {
        m.entry(s)
            .or_insert_with(|| (t.bands(s.0, s.1), t.num_bands(s.0, s.1)));
    }
    m
}

impl ChunkCoefs {
    /// Extracts the planes of one chunk from the `cols`-wide view `values` and transforms
    /// each; every plane starts with the neutral scale code 128.
    pub(super) fn forward(
        values: &[f32],
        cols: usize,
        layout: Layout,
        planes: &[Plane],
        transform: &Transform,
    ) -> ChunkCoefs {
        let mut coefs = Vec::new();
        let mut meta = Vec::with_capacity(planes.len());
        let mut buf = Vec::new();
        for p in planes {
            buf.resize(p.shape.0 * p.shape.1, 0.0);
            layout.extract(values, cols, p, &mut buf);
            let len = transform.coeff_len(p.shape.0, p.shape.1);
            let off = coefs.len();
            coefs.resize(off + len, 0.0);
            transform.forward(&buf, p.shape.0, p.shape.1, &mut coefs[off..]);
            meta.push((off, len, p.shape));
        }
        ChunkCoefs {
            coefs,
            planes: meta,
            codes: vec![128; planes.len()],
            on_grid: false,
        }
    }

    /// Sum of squared coefficients.
    pub(super) fn energy(&self) -> f64 {
        self.coefs
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum()
    }

    /// Sets each plane's scale code from its RMS relative to the tensor's `rms`:
    /// `round(128 + 8·log2(plane rms / rms))`, 0 for an all-zero plane.
    pub(super) fn set_plane_scales(&mut self, rms: f64) {
        for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
            let prms = (self.coefs[off..off + len]
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>()
                / len.max(1) as f64)
                .sqrt();
            let code = if prms > 0.0 {
                (128.0 + 8.0 * (prms / rms).log2())
                    .round()
                    .clamp(0.0, 255.0)
            } else {
                0.0
            };
            self.codes[pi] = code as u8;
        }
    }

    /// The quantization index (trellis: level) of every coefficient at `q`, in `coefs`
    /// order: rounding per plane, or the trellis search along each band.
    pub(super) fn levels(
        &self,
        t: &Transform,
        q: &Quantizer,
        trellis: Option<Trellis>,
    ) -> Vec<i32> {
        let mut idx = vec![0i32; self.coefs.len()];
        let Some(tr) = trellis.filter(|_| !self.on_grid) else {
            for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
                self.plane_q(pi, q)
                    .quantize(&self.coefs[off..off + len], &mut idx[off..off + len]);
            }
            return idx;
        };
        // Each band's coefficients in coding order, in units of their plane's step, with
        // the squared-error weight of that step against the tensor's.
        let maps = band_maps(t, &self.planes);
        let nb = maps.values().map(|m| m.1).max().unwrap_or(1).max(1);
        let mut pos: Vec<Vec<usize>> = vec![Vec::new(); nb];
        for &(off, len, shape) in &self.planes {
            if nb == 1 {
                pos[0].extend(off..off + len);
            } else {
                for (i, &b) in maps[&shape].0.iter().enumerate() {
                    pos[b as usize].push(off + i);
                }
            }
        }
        let mut scale = vec![1f32; self.coefs.len()];
        for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
            scale[off..off + len].fill(scale_of(self.codes[pi]));
        }
        let uniform = self.codes.iter().all(|&c| c == self.codes[0]);
        for band in pos {
            let x: Vec<f32> = band
                .iter()
                .map(|&i| self.coefs[i] / (q.step * scale[i]))
                .collect();
            // Squared-error weights only where plane steps differ.
            let w: Option<Vec<f32>> =
                (!uniform).then(|| band.iter().map(|&i| scale[i] * scale[i]).collect());
            let mut l = vec![0i32; band.len()];
            trellis::quantize_two_pass(tr, &x, w.as_deref(), trellis::LAMBDA, &mut l);
            for (&i, &v) in band.iter().zip(&l) {
                idx[i] = v;
            }
        }
        idx
    }

    fn plane_q(&self, pi: usize, q: &Quantizer) -> Quantizer {
        Quantizer {
            step: q.step * scale_of(self.codes[pi]),
            ..*q
        }
    }

    /// Quantizes with `q` (scaled per plane) and splits the indices by band.
    fn quantize_bands(
        &self,
        t: &Transform,
        q: &Quantizer,
        trellis: Option<Trellis>,
    ) -> Vec<Vec<i32>> {
        let maps = band_maps(t, &self.planes);
        let nb = maps.values().map(|m| m.1).max().unwrap_or(1).max(1);
        let idx = self.levels(t, q, trellis);
        if nb == 1 {
            return vec![idx];
        }
        let mut bands: Vec<Vec<i32>> = vec![Vec::new(); nb];
        for &(off, len, shape) in &self.planes {
            let map = &maps[&shape].0;
            for (&v, &b) in idx[off..off + len].iter().zip(map) {
                bands[b as usize].push(v);
            }
        }
        bands
    }

    /// `(Σ (|q| − |c|/Δ), count)` over the coefficients whose index `q` under `q` is not
    /// zero (`Δ` the plane's step): the reconstruction offset δ that minimises the squared
    /// error of `x̂ = sign(q)(|q| − δ)Δ` is the sum over the count (the centroid rule,
    /// pooled over every nonzero bin).
    pub(super) fn recon_moments(
        &self,
        t: &Transform,
        q: &Quantizer,
        trellis: Option<Trellis>,
    ) -> (f64, u64) {
        let (mut sum, mut count) = (0f64, 0u64);
        let idx = self.levels(t, q, trellis);
        for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
            let inv = 1.0 / f64::from(self.plane_q(pi, q).step);
            for (&v, &i) in self.coefs[off..off + len].iter().zip(&idx[off..off + len]) {
                if i != 0 {
                    sum += f64::from(i.unsigned_abs()) - f64::from(v.abs()) * inv;
                    count += 1;
                }
            }
        }
        (sum, count)
    }

    /// Squared error of quantizing with `q`, in the coefficient domain.
    pub(super) fn sq_error(&self, t: &Transform, q: &Quantizer, trellis: Option<Trellis>) -> f64 {
        let idx = self.levels(t, q, trellis);
        let mut e = 0.0f64;
        for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
            let pq = self.plane_q(pi, q);
            e += self.coefs[off..off + len]
                .iter()
                .zip(&idx[off..off + len])
                .map(|(&a, &i)| f64::from(a - pq.dequantize_one(i)).powi(2))
                .sum::<f64>();
        }
        e
    }
}

/// Codes one band's indices: one entropy segment, or with the trellis the indices of
/// each of its two quantizers as two segments ([`trellis::split`]).
fn encode_band(band: &[i32], trellis: Option<Trellis>, w: &mut ByteWriter) {
    if let Some(tr) = trellis {
        let (k0, k1) = trellis::split(tr, band).expect("the trellis chose levels on its grids");
        entropy::encode(&k0, w);
        entropy::encode(&k1, w);
    } else {
        entropy::encode(band, w);
    }
}

fn band_cost_bits(band: &[i32], trellis: Option<Trellis>) -> f64 {
    if let Some(tr) = trellis {
        let (k0, k1) = trellis::split(tr, band).expect("the trellis chose levels on its grids");
        entropy::cost_bits(&k0) + entropy::cost_bits(&k1)
    } else {
        entropy::cost_bits(band)
    }
}

pub(super) fn chunk_bytes(
    c: &ChunkCoefs,
    t: &Transform,
    q: &Quantizer,
    per_block: bool,
    trellis: Option<Trellis>,
) -> Vec<u8> {
    let mut w = ByteWriter::new();
    if per_block {
        w.bytes(&c.codes);
    }
    for band in c.quantize_bands(t, q, trellis) {
        encode_band(&band, trellis, &mut w);
    }
    w.into_inner()
}

pub(super) fn chunk_cost_bits(
    c: &ChunkCoefs,
    t: &Transform,
    q: &Quantizer,
    per_block: bool,
    trellis: Option<Trellis>,
) -> f64 {
    let head = if per_block {
        c.codes.len() as f64 * 8.0
    } else {
        0.0
    };
    head + c
        .quantize_bands(t, q, trellis)
        .iter()
        .map(|b| band_cost_bits(b, trellis))
        .sum::<f64>()
}

/// Refuses a step the integer indices cannot carry: one that is not a normal positive
/// `f32` (`--max-error 1e-300`), or (outside `--max-error`, where clamped elements become
/// exceptions) one so fine that a coefficient's index would pass
/// ±[`crate::quant::MAX_INDEX`] and be clamped silently.
pub(super) fn check_step(chunks: &[ChunkCoefs], q: &Quantizer, rate: Rate) -> Result<()> {
    let what = match rate {
        Rate::MaxError(_) => "max error",
        Rate::Quality(_) => "quality",
        Rate::Bits(_) => "bits per value",
        Rate::Snr(_) => "snr",
        Rate::Default => "quantizer step",
    };
    if !(q.step.is_normal() && q.step > 0.0) {
        return Err(Error::param(
            what,
            rate.label(),
            format!(
                "a setting whose quantizer step is a normal f32 ≥ {:e} (it gives {:e})",
                f32::MIN_POSITIVE,
                q.step
            ),
        ));
    }
    if matches!(rate, Rate::MaxError(_)) {
        // Clamped elements break the bound and are stored exactly as exceptions.
        return Ok(());
    }
    let mut worst = 0f64;
    let mut cmax = 0f32;
    for c in chunks {
        for (pi, &(off, len, _)) in c.planes.iter().enumerate() {
            let m = c.coefs[off..off + len]
                .iter()
                .fold(0f32, |a, &v| a.max(v.abs()));
            let r = f64::from(m) / (f64::from(q.step) * f64::from(scale_of(c.codes[pi])));
            if r > worst {
                worst = r;
                cmax = m;
            }
        }
    }
    if worst + 1.0 >= f64::from(crate::quant::MAX_INDEX) {
        return Err(Error::param(
            what,
            rate.label(),
            format!(
                "a coarser setting: coefficients reach |c| = {cmax:e}, and step {:e} would need \
                 indices beyond ±2^30 (for an exact copy use --codec raw or zstd)",
                q.step
            ),
        ));
    }
    Ok(())
}

/// Where a chunk's reconstructed planes go.
pub(super) enum Sink<'a> {
    /// The chunk's rows of the output tensor (planes are whole rows, unpadded).
    Contiguous(&'a mut [f32]),
    /// Plane buffers (`shape.0 × shape.1` each, padding included), concatenated.
    Planes(&'a mut [f32]),
}

/// Decodes one chunk: entropy decoding fused with dequantization into the coefficient
/// buffer (which *is* the output for the identity transform on whole rows), then the
/// inverse transform of each plane.
pub(super) fn decode_chunk(s: &Setup, planes: &[Plane], bytes: &[u8], sink: Sink) -> Result<()> {
    let t = &s.transform;
    let mut r = ByteReader::new(bytes, "native chunk");
    let codes: Vec<u8> = if s.per_block {
        r.take(planes.len())?.to_vec()
    } else {
        vec![128; planes.len()]
    };
    let meta: Vec<(usize, usize, (usize, usize))> = {
        let mut off = 0;
        planes
            .iter()
            .map(|p| {
                let len = t.coeff_len(p.shape.0, p.shape.1);
                let m = (off, len, p.shape);
                off += len;
                m
            })
            .collect()
    };
    let total: usize = meta.iter().map(|m| m.1).sum();
    if *t == Transform::Identity {
        // Coefficients are the values: decode straight into the destination.
        let dst = match sink {
            Sink::Contiguous(d) | Sink::Planes(d) => d,
        };
        if dst.len() != total {
            return Err(Error::corrupt(
                "native: plane sizes disagree with the transform",
            ));
        }
        decode_coefs(s, &meta, &codes, &mut r, dst)?;
        return r.finish();
    }
    let mut coef = vec![0.0f32; total];
    decode_coefs(s, &meta, &codes, &mut r, &mut coef)?;
    r.finish()?;
    let mut o = 0;
    let dst = match sink {
        Sink::Contiguous(d) | Sink::Planes(d) => d,
    };
    for &(off, len, shape) in &meta {
        let l = shape.0 * shape.1;
        let plane = dst
            .get_mut(o..o + l)
            .ok_or_else(|| Error::corrupt("native: plane sizes disagree with the layout"))?;
        t.inverse(&coef[off..off + len], shape.0, shape.1, plane);
        o += l;
    }
    Ok(())
}

/// Entropy-decodes a chunk's bands and dequantizes them into `coef` (all planes'
/// coefficients, in plane order). With one step for the tensor, dequantization happens
/// inside the rANS loop ([`entropy::decode_map`]); per-plane steps take the integer path.
fn decode_coefs(
    s: &Setup,
    meta: &[(usize, usize, (usize, usize))],
    codes: &[u8],
    r: &mut ByteReader,
    coef: &mut [f32],
) -> Result<()> {
    let t = &s.transform;
    let total = coef.len();
    let maps = band_maps(t, meta);
    let nb = maps.values().map(|m| m.1).max().unwrap_or(1).max(1);
    let plane_q = |pi: usize| Quantizer {
        step: s.quant.step * scale_of(codes[pi]),
        ..s.quant
    };
    let q = s.quant;
    // One step and plain indices: dequantize inside the rANS loop. Otherwise (per-plane
    // steps, or the trellis's levels) decode the integers first.
    let fused = !s.per_block && s.trellis.is_none();
    if nb == 1 {
        if fused {
            return entropy::decode_map(r, coef, |v| q.dequantize_one(v));
        }
        let idx = decode_band(r, total, s.trellis)?;
        for (pi, &(off, len, _)) in meta.iter().enumerate() {
            plane_q(pi).dequantize(&idx[off..off + len], &mut coef[off..off + len]);
        }
        return Ok(());
    }
    // Band sizes in this chunk.
    let mut sizes = vec![0usize; nb];
    for &(_, _, shape) in meta {
        for &b in &maps[&shape].0 {
            sizes[b as usize] += 1;
        }
    }
    let mut pos = vec![0usize; nb];
    if fused {
        let mut bands = Vec::with_capacity(nb);
        for &sz in &sizes {
            let mut v = vec![0f32; sz];
            entropy::decode_map(r, &mut v, |v| q.dequantize_one(v))?;
            bands.push(v);
        }
        for &(off, len, shape) in meta {
            for (c, &b) in coef[off..off + len].iter_mut().zip(&maps[&shape].0) {
                let b = b as usize;
                *c = bands[b][pos[b]];
                pos[b] += 1;
            }
        }
    } else {
        let bands = sizes
            .iter()
            .map(|&sz| decode_band(r, sz, s.trellis))
            .collect::<Result<Vec<_>>>()?;
        for (pi, &(off, len, shape)) in meta.iter().enumerate() {
            let pq = plane_q(pi);
            for (c, &b) in coef[off..off + len].iter_mut().zip(&maps[&shape].0) {
                let b = b as usize;
                *c = pq.dequantize_one(bands[b][pos[b]]);
                pos[b] += 1;
            }
        }
    }
    Ok(())
}

/// One band's `n` indices: one entropy segment, or with the trellis its two index
/// streams merged into levels by the state machine ([`trellis::merge`]).
fn decode_band(r: &mut ByteReader, n: usize, trellis: Option<Trellis>) -> Result<Vec<i32>> {
    let mut v = vec![0i32; n];
    if let Some(tr) = trellis {
        // Each stream holds at most the band's indices (checked before allocating).
        let k0 = decode_at_most(r, n)?;
        let k1 = decode_at_most(r, n)?;
        trellis::merge(tr, &k0, &k1, &mut v)?;
    } else {
        entropy::decode(r, &mut v)?;
    }
    Ok(v)
}

/// Decodes one entropy segment of at most `max` values.
fn decode_at_most(r: &mut ByteReader, max: usize) -> Result<Vec<i32>> {
    let n = entropy::peek_len(r)?;
    if n > max {
        return Err(Error::corrupt(format!(
            "trellis: a segment of {n} indices in a band of {max}"
        )));
    }
    let mut v = vec![0i32; n];
    entropy::decode(r, &mut v)?;
    Ok(v)
}
