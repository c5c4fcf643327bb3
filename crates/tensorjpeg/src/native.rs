//! The `native` codec: layout → transform → uniform quantization → rANS, chunked.
//!
//! Spec: `native[:LAYOUT][:TRANSFORM][:key=value...]` with
//! * LAYOUT: `matrix` (default), `rows`, `tiles` (side `tile=N`, default 8), `tworow`;
//! * TRANSFORM: `identity` (default), `dct8x8`, `dct1d`, `hadamard` (`seed=`, `block=`),
//!   `wavelet` (`levels=`, default 3), `klt` (`k=` components kept, default all; `f16basis`);
//! * `deadzone=θ` (0..0.5, default 0) and `recon=δ` (0..0.5, default 0): see [`crate::quant`];
//! * `step=tensor` (default) or `step=block`: one step per plane, scaled by the plane's RMS.
//!
//! Params (stored in the container entry): `u8 params_version=1, u8 layout, varint tile,
//! transform params, f32 step, f32 deadzone, f32 recon, u8 step_mode, varint chunk_target`.
//! Chunk: `[u8 scale code × planes]` when `step=block`, then one entropy segment per band
//! (see [`crate::entropy`]) holding that band's indices in plane order.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::bytes::{ByteReader, ByteWriter};
use crate::codec::{Codec, CodecSpec, Encoded, Rate};
use crate::entropy;
use crate::error::{Error, Result};
use crate::layout::{Layout, Plane};
use crate::quant::rate::{boundary_step, quality_to_relative_step, Feasible};
use crate::quant::Quantizer;
use crate::tensor::matrix_dims;
use crate::transform::klt::Klt;
use crate::transform::Transform;

/// Coefficients per chunk (chunks are groups of whole planes of about this size).
pub const CHUNK_TARGET: usize = 1 << 17;
const PARAMS_VERSION: u8 = 1;

/// Which transform to build at encode time (KLT is fitted on the data).
#[derive(Debug, Clone, PartialEq)]
enum TransformChoice {
    Ready(Transform),
    Klt {
        k: Option<usize>,
        f16: bool,
    },
    /// Hadamard with the block chosen from the row length at encode time.
    HadamardAuto {
        seed: u64,
    },
}

/// Default Hadamard block for rows of `cols`: the largest power of two dividing `cols`
/// (so rows need no padding, which would add coefficients), at most 1024; rows of odd length
/// fall back to blocks of 64 with padding.
pub fn auto_hadamard_block(cols: usize) -> usize {
    let p = 1usize << cols.max(1).trailing_zeros().min(10);
    if p >= 8 {
        p
    } else {
        64
    }
}

/// The native codec's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Native {
    layout: Layout,
    transform: TransformChoice,
    deadzone: f32,
    recon: f32,
    per_block: bool,
}

impl Default for Native {
    fn default() -> Self {
        Native {
            layout: Layout::Matrix,
            transform: TransformChoice::Ready(Transform::Identity),
            deadzone: 0.0,
            recon: 0.0,
            per_block: false,
        }
    }
}

/// Builds the native codec from a spec (`None` if the name is not `native`).
pub fn factory(spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    (spec.name == "native").then(|| Native::from_spec(spec).map(|n| Box::new(n) as Box<dyn Codec>))
}

impl Native {
    /// Parses a `native:...` spec.
    pub fn from_spec(spec: &CodecSpec) -> Result<Self> {
        spec.check_allowed(
            &[
                "matrix", "rows", "tiles", "tworow", "identity", "dct8x8", "dct1d", "hadamard",
                "wavelet", "klt", "f16basis",
            ],
            &[
                "deadzone", "recon", "step", "tile", "levels", "seed", "block", "k",
            ],
        )?;
        spec.check_exclusive("layout", &["matrix", "rows", "tiles", "tworow"])?;
        spec.check_exclusive(
            "transform",
            &["identity", "dct8x8", "dct1d", "hadamard", "wavelet", "klt"],
        )?;
        let mut n = Native::default();
        let tile: usize = spec
            .get_parsed("tile", "an integer 1..=65536")?
            .unwrap_or(8);
        if !(1..=65536).contains(&tile) {
            return Err(Error::param("tile", tile, "1..=65536"));
        }
        for f in &spec.flags {
            match f.as_str() {
                "matrix" => n.layout = Layout::Matrix,
                "rows" => n.layout = Layout::Rows,
                "tiles" => n.layout = Layout::Tiles(tile),
                "tworow" => n.layout = Layout::TwoRow,
                "identity" => n.transform = TransformChoice::Ready(Transform::Identity),
                "dct8x8" => n.transform = TransformChoice::Ready(Transform::Dct8x8),
                "dct1d" => n.transform = TransformChoice::Ready(Transform::Dct1d),
                "hadamard" => {
                    let seed = spec
                        .get_parsed("seed", "an unsigned integer")?
                        .unwrap_or(0x7e45_0a1b);
                    n.transform = match spec
                        .get_parsed::<usize>("block", "a power of two 2..=65536")?
                    {
                        None => TransformChoice::HadamardAuto { seed },
                        Some(block) if block.is_power_of_two() && (2..=65536).contains(&block) => {
                            TransformChoice::Ready(Transform::Hadamard { seed, block })
                        }
                        Some(block) => {
                            return Err(Error::param("block", block, "a power of two 2..=65536"))
                        }
                    };
                }
                "wavelet" => {
                    let levels: u8 = spec.get_parsed("levels", "an integer 1..=8")?.unwrap_or(3);
                    if !(1..=8).contains(&levels) {
                        return Err(Error::param("levels", levels, "1..=8"));
                    }
                    n.transform = TransformChoice::Ready(Transform::Wavelet { levels });
                }
                "klt" => {
                    let k: Option<usize> = spec.get_parsed("k", "a positive integer")?;
                    if k == Some(0) {
                        return Err(Error::param("k", 0, "a positive integer"));
                    }
                    n.transform = TransformChoice::Klt {
                        k,
                        f16: spec.flags.iter().any(|f| f == "f16basis"),
                    };
                }
                _ => {}
            }
        }
        n.deadzone = spec
            .get_parsed("deadzone", "a number in [0, 0.5)")?
            .unwrap_or(0.0);
        n.recon = spec
            .get_parsed("recon", "a number in [0, 0.5)")?
            .unwrap_or(0.0);
        for (what, v) in [("deadzone", n.deadzone), ("recon", n.recon)] {
            if !(0.0..0.5).contains(&v) {
                return Err(Error::param(
                    if what == "deadzone" {
                        "deadzone"
                    } else {
                        "recon"
                    },
                    v,
                    "a number in [0, 0.5)",
                ));
            }
        }
        n.per_block = match spec.get("step") {
            None | Some("tensor") => false,
            Some("block") => true,
            Some(v) => return Err(Error::param("step", v, "tensor or block")),
        };
        if matches!(n.transform, TransformChoice::Klt { .. })
            && !matches!(n.layout, Layout::Matrix | Layout::Rows)
        {
            return Err(Error::unsupported(
                "native",
                "the klt transform needs the matrix or rows layout",
            ));
        }
        Ok(n)
    }
}

/// Everything the decoder needs, parsed from params.
struct Setup {
    layout: Layout,
    transform: Transform,
    quant: Quantizer,
    per_block: bool,
    chunk_target: usize,
}

fn write_params(s: &Setup) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u8(PARAMS_VERSION);
    w.u8(s.layout.id());
    w.varint(match s.layout {
        Layout::Tiles(t) => t as u64,
        _ => 0,
    });
    s.transform.write_params(&mut w);
    w.f32(s.quant.step);
    w.f32(s.quant.deadzone);
    w.f32(s.quant.recon);
    w.u8(s.per_block as u8);
    w.varint(s.chunk_target as u64);
    w.into_inner()
}

fn read_params(p: &[u8]) -> Result<Setup> {
    let mut r = ByteReader::new(p, "native codec params");
    let v = r.u8()?;
    if v != PARAMS_VERSION {
        return Err(Error::corrupt(format!(
            "native params version {v} (expected {PARAMS_VERSION})"
        )));
    }
    let layout_id = r.u8()?;
    let tile = r.varint_max("tile", 65536)? as usize;
    let layout = Layout::from_id(layout_id, tile)?;
    let transform = Transform::read_params(&mut r)?;
    let step = r.f32()?;
    let deadzone = r.f32()?;
    let recon = r.f32()?;
    if !(step.is_finite()
        && step > 0.0
        && (0.0..0.5).contains(&deadzone)
        && (0.0..0.5).contains(&recon))
    {
        return Err(Error::corrupt(format!(
            "native quantizer step {step}, deadzone {deadzone}, recon {recon} out of range"
        )));
    }
    let per_block = match r.u8()? {
        0 => false,
        1 => true,
        x => return Err(Error::corrupt(format!("native step mode {x}"))),
    };
    let chunk_target = r.varint_max("chunk target", 1 << 30)? as usize;
    r.finish()?;
    Ok(Setup {
        layout,
        transform,
        quant: Quantizer {
            step,
            deadzone,
            recon,
        },
        per_block,
        chunk_target: chunk_target.max(1),
    })
}

/// Groups planes into chunks of about `target` coefficients.
fn group_planes(planes: &[Plane], t: &Transform, target: usize) -> Vec<std::ops::Range<usize>> {
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
struct ChunkCoefs {
    /// Coefficients of each plane, concatenated.
    coefs: Vec<f32>,
    /// (offset, len, shape) of each plane in `coefs`.
    planes: Vec<(usize, usize, (usize, usize))>,
    /// Per-plane scale codes (all 128 unless per-block steps).
    codes: Vec<u8>,
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
    /// Quantizes with `q` (scaled per plane) and splits the indices by band.
    fn quantize_bands(&self, t: &Transform, q: &Quantizer) -> Vec<Vec<i32>> {
        let maps = band_maps(t, &self.planes);
        let nb = maps.values().map(|m| m.1).max().unwrap_or(1).max(1);
        let mut bands: Vec<Vec<i32>> = vec![Vec::new(); nb];
        let mut idx = Vec::new();
        for (pi, &(off, len, shape)) in self.planes.iter().enumerate() {
            let pq = Quantizer {
                step: q.step * scale_of(self.codes[pi]),
                ..*q
            };
            idx.resize(len, 0);
            pq.quantize(&self.coefs[off..off + len], &mut idx);
            if nb == 1 {
                bands[0].extend_from_slice(&idx);
            } else {
                let map = &maps[&shape].0;
                for (&v, &b) in idx.iter().zip(map) {
                    bands[b as usize].push(v);
                }
            }
        }
        bands
    }

    /// Squared error of quantizing with `q`, in the coefficient domain.
    fn sq_error(&self, q: &Quantizer) -> f64 {
        let mut e = 0.0f64;
        let mut idx = Vec::new();
        let mut back = Vec::new();
        for (pi, &(off, len, _)) in self.planes.iter().enumerate() {
            let pq = Quantizer {
                step: q.step * scale_of(self.codes[pi]),
                ..*q
            };
            idx.resize(len, 0);
            back.resize(len, 0.0);
            let c = &self.coefs[off..off + len];
            pq.quantize(c, &mut idx);
            pq.dequantize(&idx, &mut back);
            e += c
                .iter()
                .zip(&back)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>();
        }
        e
    }
}

fn chunk_bytes(c: &ChunkCoefs, t: &Transform, q: &Quantizer, per_block: bool) -> Vec<u8> {
    let mut w = ByteWriter::new();
    if per_block {
        w.bytes(&c.codes);
    }
    for band in c.quantize_bands(t, q) {
        entropy::encode(&band, &mut w);
    }
    w.into_inner()
}

fn chunk_cost_bits(c: &ChunkCoefs, t: &Transform, q: &Quantizer, per_block: bool) -> f64 {
    let head = if per_block {
        c.codes.len() as f64 * 8.0
    } else {
        0.0
    };
    head + c
        .quantize_bands(t, q)
        .iter()
        .map(|b| entropy::cost_bits(b))
        .sum::<f64>()
}

impl Codec for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        rate.validate()?;
        let (rows, cols) = matrix_dims(shape);
        let n = values.len();
        if rows * cols != n {
            return Err(Error::param(
                "values",
                n,
                format!("{} values for shape {shape:?}", rows * cols),
            ));
        }
        let transform = match (&self.transform, rate) {
            (TransformChoice::Ready(t), Rate::MaxError(_)) if *t != Transform::Identity => {
                return Err(Error::unsupported(
                    "native",
                    format!("--max-error needs the identity transform (got {}): a bound on coefficients is not a bound on values", t.name()),
                ))
            }
            (TransformChoice::Klt { .. } | TransformChoice::HadamardAuto { .. }, Rate::MaxError(_)) => {
                return Err(Error::unsupported("native", "--max-error needs the identity transform"))
            }
            (TransformChoice::HadamardAuto { seed }, _) => Transform::Hadamard {
                seed: *seed,
                block: auto_hadamard_block(cols),
            },
            (TransformChoice::Ready(t), _) => t.clone(),
            (TransformChoice::Klt { k, f16 }, _) => {
                let k = k.unwrap_or(cols).min(cols).max(1);
                Transform::Klt(Klt::fit(values, rows, cols, k, *f16))
            }
        };
        let layout = self.layout;
        layout.check_planes(rows, cols)?;
        let planes = layout.planes(rows, cols);
        let groups = group_planes(&planes, &transform, CHUNK_TARGET);
        let per_block = self.per_block && !matches!(rate, Rate::MaxError(_));
        // Forward transform, chunk by chunk, in parallel.
        let chunks: Vec<ChunkCoefs> = groups
            .par_iter()
            .map(|g| {
                let mut coefs = Vec::new();
                let mut meta = Vec::with_capacity(g.len());
                let mut codes = Vec::with_capacity(g.len());
                let mut buf = Vec::new();
                for p in &planes[g.clone()] {
                    buf.resize(p.shape.0 * p.shape.1, 0.0);
                    layout.extract(values, cols, p, &mut buf);
                    let len = transform.coeff_len(p.shape.0, p.shape.1);
                    let off = coefs.len();
                    coefs.resize(off + len, 0.0);
                    transform.forward(&buf, p.shape.0, p.shape.1, &mut coefs[off..]);
                    meta.push((off, len, p.shape));
                    codes.push(128);
                }
                ChunkCoefs {
                    coefs,
                    planes: meta,
                    codes,
                }
            })
            .collect();
        let (sum_sq, count) = chunks
            .iter()
            .map(|c| {
                (
                    c.coefs
                        .iter()
                        .map(|&v| (v as f64) * (v as f64))
                        .sum::<f64>(),
                    c.coefs.len(),
                )
            })
            .fold((0.0, 0usize), |a, b| (a.0 + b.0, a.1 + b.1));
        let rms = if count > 0 {
            (sum_sq / count as f64).sqrt()
        } else {
            0.0
        };
        let mut chunks = chunks;
        if per_block && rms > 0.0 {
            for c in &mut chunks {
                for (pi, &(off, len, _)) in c.planes.iter().enumerate() {
                    let prms = (c.coefs[off..off + len]
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
                    c.codes[pi] = code as u8;
                }
            }
        }
        let base = if rms > 0.0 && rms.is_finite() {
            rms
        } else {
            1.0
        };
        let mk = |step: f64| Quantizer {
            step: step as f32,
            deadzone: self.deadzone,
            recon: self.recon,
        };
        let setup_for = |q: Quantizer| Setup {
            layout,
            transform: transform.clone(),
            quant: q,
            per_block,
            chunk_target: CHUNK_TARGET,
        };
        let quant = match rate {
            Rate::Default => mk(base * quality_to_relative_step(75)),
            Rate::Quality(qv) => mk(base * quality_to_relative_step(qv)),
            Rate::MaxError(e) => Quantizer::uniform((2.0 * e * (1.0 - 1e-6)) as f32),
            Rate::Bits(b) => {
                let budget = b * n as f64;
                let params_bits = write_params(&setup_for(mk(1.0))).len() as f64 * 8.0;
                let bits_at = |s: f64| {
                    let q = mk(s);
                    params_bits
                        + chunks
                            .par_iter()
                            .map(|c| chunk_cost_bits(c, &transform, &q, per_block))
                            .sum::<f64>()
                };
                let guess = base * quality_to_relative_step(75) * 2f64.powf(4.0 - b);
                mk(boundary_step(
                    bits_at,
                    budget,
                    guess,
                    base * 1e-7,
                    base * 1e3,
                    Feasible::Above,
                ))
            }
            Rate::Snr(db) => {
                let allowed = sum_sq / 10f64.powf(db / 10.0);
                let err_at = |s: f64| {
                    let q = mk(s);
                    chunks.par_iter().map(|c| c.sq_error(&q)).sum::<f64>()
                };
                // Uniform quantization: SNR ≈ 10·log10(12·σ²/Δ²).
                let guess = base * (12f64 / 10f64.powf(db / 10.0)).sqrt();
                mk(boundary_step(
                    err_at,
                    allowed,
                    guess,
                    base * 1e-7,
                    base * 1e3,
                    Feasible::Below,
                ))
            }
        };
        check_step(&chunks, &quant, rate)?;
        let encoded: Vec<Vec<u8>> = chunks
            .par_iter()
            .map(|c| chunk_bytes(c, &transform, &quant, per_block))
            .collect();
        let setup = setup_for(quant);
        Ok(Encoded {
            params: write_params(&setup),
            chunks: encoded,
            stats: vec![
                ("step".into(), quant.step as f64),
                ("relative_step".into(), quant.step as f64 / base),
            ],
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        let s = read_params(params)?;
        let (rows, cols) = matrix_dims(shape);
        let n = rows
            .checked_mul(cols)
            .ok_or_else(|| Error::corrupt("shape overflows"))?;
        if let Transform::Klt(k) = &s.transform {
            if k.cols != cols {
                return Err(Error::corrupt(format!(
                    "KLT basis has {} columns but the tensor has {cols}",
                    k.cols
                )));
            }
        }
        // Sizes read from a file are checked before anything is built from them.
        s.layout
            .check_planes(rows, cols)
            .map_err(|e| Error::corrupt(e.to_string()))?;
        // The output first (fallibly): the plane list is at most 7 bytes per value.
        let mut out = crate::limits::try_zeroed::<f32>(n, "native output")?;
        let planes = s.layout.planes(rows, cols);
        // Parameters read from a file must fit every plane before a transform runs.
        let mut shapes: Vec<(usize, usize)> = planes.iter().map(|p| p.shape).collect();
        shapes.dedup();
        for (r, c) in shapes {
            s.transform.validate(r, c)?;
        }
        let groups = group_planes(&planes, &s.transform, s.chunk_target);
        if groups.len() != chunks.len() {
            return Err(Error::corrupt(format!(
                "native: {} chunks stored, {} expected for shape {shape:?}",
                chunks.len(),
                groups.len()
            )));
        }
        if matches!(s.layout, Layout::Matrix | Layout::Rows) {
            // Each plane is a run of whole rows, so each chunk owns a contiguous slice of
            // the output: decode in place, in parallel, with no copies.
            let mut slices = Vec::with_capacity(groups.len());
            let mut rest = &mut out[..];
            for g in &groups {
                let len: usize = planes[g.clone()].iter().map(|p| p.rows * p.cols).sum();
                let (head, tail) = rest.split_at_mut(len);
                slices.push(head);
                rest = tail;
            }
            groups
                .par_iter()
                .zip(chunks.par_iter())
                .zip(slices.into_par_iter())
                .try_for_each(|((g, bytes), dst)| {
                    decode_chunk(&s, &planes[g.clone()], bytes, Sink::Contiguous(dst))
                })?;
        } else {
            let decoded: Vec<Vec<f32>> = groups
                .par_iter()
                .zip(chunks.par_iter())
                .map(|(g, bytes)| {
                    let p = &planes[g.clone()];
                    let mut buf = vec![0.0; p.iter().map(|p| p.shape.0 * p.shape.1).sum()];
                    decode_chunk(&s, p, bytes, Sink::Planes(&mut buf))?;
                    Ok(buf)
                })
                .collect::<Result<_>>()?;
            for (g, buf) in groups.iter().zip(decoded) {
                let mut off = 0;
                for p in &planes[g.clone()] {
                    let len = p.shape.0 * p.shape.1;
                    s.layout.insert(&mut out, cols, p, &buf[off..off + len]);
                    off += len;
                }
            }
        }
        Ok(out)
    }
}

/// Refuses a step the integer indices cannot carry: one that is not a normal positive
/// `f32` (`--max-error 1e-300`), or (outside `--max-error`, where clamped elements become
/// exceptions) one so fine that a coefficient's index would pass
/// ±[`crate::quant::MAX_INDEX`] and be clamped silently.
fn check_step(chunks: &[ChunkCoefs], q: &Quantizer, rate: Rate) -> Result<()> {
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
enum Sink<'a> {
    /// The chunk's rows of the output tensor (planes are whole rows, unpadded).
    Contiguous(&'a mut [f32]),
    /// Plane buffers (`shape.0 × shape.1` each, padding included), concatenated.
    Planes(&'a mut [f32]),
}

/// Decodes one chunk: entropy decoding fused with dequantization into the coefficient
/// buffer (which *is* the output for the identity transform on whole rows), then the
/// inverse transform of each plane.
fn decode_chunk(s: &Setup, planes: &[Plane], bytes: &[u8], sink: Sink) -> Result<()> {
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
    if nb == 1 {
        if !s.per_block {
            return entropy::decode_map(r, coef, |v| q.dequantize_one(v));
        }
        let mut idx = vec![0i32; total];
        entropy::decode(r, &mut idx)?;
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
    if !s.per_block {
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
        let mut bands = Vec::with_capacity(nb);
        for &sz in &sizes {
            let mut v = vec![0i32; sz];
            entropy::decode(r, &mut v)?;
            bands.push(v);
        }
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
