//! The literal JPEG backend (`jpeg` codec): the seeds' method, done faithfully and measured
//! honestly.
//!
//! Every image is min–max normalised to 8-bit grayscale,
//! `u8 = round((v - min) / (max - min) * 255)` (a constant image is all 0), encoded as a real
//! baseline JPEG file with [`jpeg_encoder`] (grayscale, IJG quality scaling of the Annex K
//! luminance table, standard Huffman tables — what Pillow writes by default) and decoded with
//! [`zune_jpeg`]; decoding maps `u8` back to `min + u8 / 255 * (max - min)`. `min` and `max`
//! are stored as f32 per image.
//!
//! Layouts (spec flags; the 2-D view is `[rows, cols]`, `cols` = last dimension):
//! - `tworow` (default, the seeds' method): one JPEG per row vector; a vector of length `d`
//!   is padded to even length by repeating its last value and reshaped row-major into a
//!   `2 × ceil(d/2)` image. Rows longer than `2 · 65535` values are cut into segments of
//!   at most `2 · 65535` values (JPEG dimensions are at most 65535), one image each.
//! - `matrix`: the whole 2-D view as one image. JPEG's dimension limit is 65535, so a view
//!   with more than 65535 rows or columns is split into tiles of at most 65535 × 65535,
//!   each its own image with its own min/max.
//! - `tiles` (`tile=N`, default 256): tiles of `N × N` (edge tiles smaller), one JPEG each.
//!
//! Other options: `q=N` fixes the quality used for [`Rate::Default`]; `optimize` turns on
//! optimised Huffman tables (Pillow's `optimize=True`); `trunc` normalises exactly as the
//! seeds' Python does, `u8 = trunc((v − min)/(max − min + 1e-8) · 255)` in f32 (numpy's
//! `astype(np.uint8)` truncates), which biases every pixel down by half a level on average;
//! decoding is the same either way.
//!
//! Storage: one chunk per group of up to 4096 images or about 1 MiB, holding per image a
//! varint length, f32 min, f32 max and the complete JPEG file. jpeg-encoder writes an unused
//! chroma quantization table into grayscale files; it is removed (69 bytes per image) so the
//! files have exactly the segments libjpeg/Pillow write for grayscale: SOI, APP0 (JFIF),
//! one DQT, SOF0, two DHT, SOS, scan data, EOI — 330 bytes of headers per image with the
//! standard Huffman tables.

use crate::bytes::{ByteReader, ByteWriter};
use crate::codec::{Codec, CodecSpec, Encoded, Rate};
use crate::error::{Error, Result};
use crate::metrics::snr_db;
use crate::tensor::{matrix_dims, numel};
use rayon::prelude::*;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// The codec's name in specs and containers.
pub const NAME: &str = "jpeg";
/// Quality used for [`Rate::Default`] unless the spec gives `q=`.
pub const DEFAULT_QUALITY: u8 = 75;
/// Default tile edge of the `tiles` layout.
pub const DEFAULT_TILE: usize = 256;
/// Largest width or height of a JPEG image.
pub const MAX_DIM: usize = 65535;
/// Most images stored in one chunk.
const GROUP_MAX_IMAGES: usize = 4096;
/// A chunk is closed once it holds this many bytes.
const GROUP_MAX_BYTES: usize = 1 << 20;

/// How the tensor's 2-D view is cut into images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One `2 × ceil(d/2)` image per row vector (the seeds' method).
    TwoRow,
    /// The whole 2-D view as one image (tiles of 65535 × 65535 beyond JPEG's limit).
    Matrix,
    /// Square tiles of the given edge, one image each.
    Tiles(usize),
}

impl Layout {
    fn id(self) -> u8 {
        match self {
            Layout::TwoRow => 0,
            Layout::Matrix => 1,
            Layout::Tiles(_) => 2,
        }
    }
    fn tile(self) -> usize {
        match self {
            Layout::TwoRow => 0,
            Layout::Matrix => MAX_DIM,
            Layout::Tiles(t) => t,
        }
    }
    fn from_params(id: u8, tile: u64) -> Result<Self> {
        match (id, tile) {
            (0, 0) => Ok(Layout::TwoRow),
            (1, t) if t == MAX_DIM as u64 => Ok(Layout::Matrix),
            (2, t) if (1..=MAX_DIM as u64).contains(&t) => Ok(Layout::Tiles(t as usize)),
            _ => Err(Error::corrupt(format!(
                "jpeg params: layout id {id} with tile {tile} is not valid"
            ))),
        }
    }
}

/// The literal JPEG codec. Build it with [`factory`] or [`JpegCodec::new`].
#[derive(Debug, Clone)]
pub struct JpegCodec {
    layout: Layout,
    quality: Option<u8>,
    optimize: bool,
    truncate: bool,
}

impl JpegCodec {
    /// A codec with the given layout; `quality` (1..=100) fixes the quality used for
    /// [`Rate::Default`]; `optimize` enables optimised Huffman tables.
    pub fn new(layout: Layout, quality: Option<u8>, optimize: bool) -> Result<Self> {
        if let Some(q) = quality {
            Rate::Quality(q).validate()?;
        }
        if let Layout::Tiles(t) = layout {
            if !(1..=MAX_DIM).contains(&t) {
                return Err(Error::param("jpeg tile", t, format!("1..={MAX_DIM}")));
            }
        }
        Ok(JpegCodec {
            layout,
            quality,
            optimize,
            truncate: false,
        })
    }

    /// Normalise pixels the way the seeds' Python does (`astype(np.uint8)` truncates):
    /// `u8 = trunc((v − min) / (max − min + 1e-8) · 255)` in f32, instead of rounding.
    pub fn with_truncation(mut self, truncate: bool) -> Self {
        self.truncate = truncate;
        self
    }
    /// Parses `jpeg[:tworow|matrix|tiles][:optimize][:trunc][:tile=N][:q=N]`.
    pub fn from_spec(spec: &CodecSpec) -> Result<Self> {
        spec.check_allowed(
            &["tworow", "matrix", "tiles", "optimize", "trunc"],
            &["tile", "q"],
        )?;
        let layouts: Vec<&str> = spec
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| *f != "optimize" && *f != "trunc")
            .collect();
        if layouts.len() > 1 {
            return Err(Error::param(
                "jpeg layout",
                layouts.join(" and "),
                "one of tworow, matrix, tiles",
            ));
        }
        let tile: Option<usize> =
            spec.get_parsed("tile", &format!("an integer in 1..={MAX_DIM}"))?;
        let layout = match layouts.first().copied() {
            None | Some("tworow") => Layout::TwoRow,
            Some("matrix") => Layout::Matrix,
            _ => Layout::Tiles(tile.unwrap_or(DEFAULT_TILE)),
        };
        if tile.is_some() && !matches!(layout, Layout::Tiles(_)) {
            return Err(Error::param(
                "jpeg option",
                "tile= without the tiles layout",
                "jpeg:tiles:tile=N",
            ));
        }
        let quality: Option<u8> = spec.get_parsed("q", "an integer quality in 1..=100")?;
        Ok(
            JpegCodec::new(layout, quality, spec.flags.iter().any(|f| f == "optimize"))?
                .with_truncation(spec.flags.iter().any(|f| f == "trunc")),
        )
    }
    /// The layout this codec uses.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

/// Builds the `jpeg` codec from a spec (`None` for other names).
pub fn factory(spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    if spec.name != NAME {
        return None;
    }
    Some(JpegCodec::from_spec(spec).map(|c| Box::new(c) as Box<dyn Codec>))
}

/// One image: a rectangle of the 2-D view, or (`tworow`) a segment of one row.
#[derive(Debug, Clone, Copy)]
struct Region {
    r0: usize,
    c0: usize,
    h: usize,
    w: usize,
    tworow: bool,
}

impl Region {
    /// (width, height) of the image.
    fn dims(&self) -> (usize, usize) {
        if self.tworow {
            (self.w.div_ceil(2), 2)
        } else {
            (self.w, self.h)
        }
    }
    /// The image's pixels (as values), row-major.
    fn gather(&self, values: &[f32], cols: usize) -> Vec<f32> {
        let (iw, ih) = self.dims();
        let mut px = Vec::with_capacity(iw * ih);
        if self.tworow {
            let start = self.r0 * cols + self.c0;
            let seg = &values[start..start + self.w];
            px.extend_from_slice(seg);
            if self.w % 2 == 1 {
                px.push(seg[self.w - 1]);
            }
        } else {
            for i in 0..self.h {
                let start = (self.r0 + i) * cols + self.c0;
                px.extend_from_slice(&values[start..start + self.w]);
            }
        }
        px
    }
    /// Writes the image's pixels back (dropping padding).
    fn scatter(&self, out: &mut [f32], cols: usize, px: &[f32]) {
        if self.tworow {
            let start = self.r0 * cols + self.c0;
            out[start..start + self.w].copy_from_slice(&px[..self.w]);
        } else {
            for i in 0..self.h {
                let start = (self.r0 + i) * cols + self.c0;
                out[start..start + self.w].copy_from_slice(&px[i * self.w..(i + 1) * self.w]);
            }
        }
    }
}

/// How many images [`regions`] returns, without building them (`None` on overflow).
fn region_count(layout: Layout, rows: usize, cols: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    match layout {
        Layout::TwoRow => rows.checked_mul(cols.div_ceil(cols.min(2 * MAX_DIM))),
        Layout::Matrix | Layout::Tiles(_) => {
            let t = layout.tile();
            rows.div_ceil(t).checked_mul(cols.div_ceil(t))
        }
    }
}

/// The images of a `rows × cols` view under `layout`, in storage order.
fn regions(layout: Layout, rows: usize, cols: usize) -> Vec<Region> {
    let mut out = Vec::new();
    if rows == 0 || cols == 0 {
        return out;
    }
    match layout {
        Layout::TwoRow => {
            let seg = cols.min(2 * MAX_DIM);
            for r in 0..rows {
                for c0 in (0..cols).step_by(seg) {
                    out.push(Region {
                        r0: r,
                        c0,
                        h: 1,
                        w: seg.min(cols - c0),
                        tworow: true,
                    });
                }
            }
        }
        Layout::Matrix | Layout::Tiles(_) => {
            let t = layout.tile();
            for r0 in (0..rows).step_by(t) {
                for c0 in (0..cols).step_by(t) {
                    out.push(Region {
                        r0,
                        c0,
                        h: t.min(rows - r0),
                        w: t.min(cols - c0),
                        tworow: false,
                    });
                }
            }
        }
    }
    out
}

/// An image ready to encode: its 8-bit pixels and the range they map to.
struct Prepared {
    min: f32,
    max: f32,
    width: u16,
    height: u16,
    pixels: Vec<u8>,
}

fn prepare(region: &Region, values: &[f32], cols: usize, truncate: bool) -> Prepared {
    let px = region.gather(values, cols);
    let (min, max) = px
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = f64::from(max) - f64::from(min);
    let pixels = if truncate {
        // numpy: (x - min) / (max - min + 1e-8) * 255.0 in float32, then astype(uint8).
        let den = (max - min) + 1e-8f32;
        px.iter()
            .map(|&v| (((v - min) / den) * 255.0f32).clamp(0.0, 255.0) as u8)
            .collect()
    } else if range > 0.0 {
        let scale = 255.0 / range;
        px.iter()
            .map(|&v| {
                ((f64::from(v) - f64::from(min)) * scale)
                    .round()
                    .clamp(0.0, 255.0) as u8
            })
            .collect()
    } else {
        vec![0u8; px.len()]
    };
    let (w, h) = region.dims();
    Prepared {
        min,
        max,
        width: w as u16,
        height: h as u16,
        pixels,
    }
}

/// Maps decoded 8-bit pixels back to values.
fn dequantize(pixels: &[u8], min: f32, max: f32) -> Vec<f32> {
    let (lo, range) = (f64::from(min), f64::from(max) - f64::from(min));
    pixels
        .iter()
        .map(|&u| (lo + f64::from(u) / 255.0 * range) as f32)
        .collect()
}

/// Encodes one grayscale image as a baseline JPEG file (IJG quality scaling, Annex K tables).
fn encode_jpeg(
    pixels: &[u8],
    width: u16,
    height: u16,
    quality: u8,
    optimize: bool,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(400 + pixels.len() / 2);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_optimized_huffman_tables(optimize);
    enc.encode(pixels, width, height, jpeg_encoder::ColorType::Luma)
        .map_err(|e| Error::External(format!("jpeg encoder: {e}")))?;
    Ok(strip_unused_dqt(&out).unwrap_or(out))
}

/// Decodes one grayscale JPEG file that must be `width × height`.
fn decode_jpeg(data: &[u8], width: usize, height: usize) -> Result<Vec<u8>> {
    let run = || -> Result<Vec<u8>> {
        let opts = DecoderOptions::new_fast()
            .set_max_width(MAX_DIM)
            .set_max_height(MAX_DIM)
            .set_strict_mode(true)
            .jpeg_set_out_colorspace(ColorSpace::Luma);
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), opts);
        dec.decode_headers()
            .map_err(|e| Error::corrupt(format!("jpeg: {e:?}")))?;
        let dims = dec.dimensions();
        if dims != Some((width, height)) {
            return Err(Error::corrupt(format!(
                "jpeg: image is {dims:?} (width, height), expected ({width}, {height})"
            )));
        }
        let mut out = vec![0u8; width * height];
        if dec.output_buffer_size() != Some(out.len()) {
            return Err(Error::corrupt("jpeg: image is not single-channel"));
        }
        dec.decode_into(&mut out)
            .map_err(|e| Error::corrupt(format!("jpeg: {e:?}")))?;
        Ok(out)
    };
    // zune-jpeg aims never to panic; a panic on hostile bytes must still not escape.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(Error::corrupt("jpeg: the decoder failed on malformed data")))
}

fn u16_be(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*b.get(at)?) << 8 | usize::from(*b.get(at + 1)?))
}

/// Bytes of entropy-coded scan data in a JPEG file: everything between the end of each
/// SOS segment header and the next marker that is not a restart marker (normally EOI).
/// Everything else in the file is header. `None` if the file does not parse (no SOI, a
/// segment running past the end, no SOS, no EOI).
pub fn jpeg_scan_bytes(jpeg: &[u8]) -> Option<usize> {
    if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
        return None;
    }
    let mut pos = 2;
    let mut scan = 0usize;
    let mut saw_sos = false;
    loop {
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        let mut p = pos + 1;
        while *jpeg.get(p)? == 0xFF {
            p += 1;
        }
        let marker = jpeg[p];
        pos = p + 1;
        match marker {
            0xD9 => return saw_sos.then_some(scan),
            0x01 | 0xD0..=0xD7 => {}
            0x00 | 0xD8 => return None,
            _ => {
                let len = u16_be(jpeg, pos)?;
                if len < 2 || pos + len > jpeg.len() {
                    return None;
                }
                pos += len;
                if marker == 0xDA {
                    saw_sos = true;
                    let start = pos;
                    loop {
                        let i = pos + jpeg.get(pos..)?.iter().position(|&b| b == 0xFF)?;
                        let next = *jpeg.get(i + 1)?;
                        if next == 0x00 || (0xD0..=0xD7).contains(&next) {
                            pos = i + 2;
                        } else {
                            scan += i - start;
                            pos = i;
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Removes DQT segments whose tables no frame component uses (jpeg-encoder always writes a
/// chroma table, even for grayscale). `None` if the file does not parse as expected.
fn strip_unused_dqt(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] {
        return None;
    }
    // Segments before the first SOS: (marker, start, end).
    let mut segs = Vec::new();
    let mut pos = 2;
    let sos_at = loop {
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(pos + 1)?;
        if marker == 0xDA {
            break pos;
        }
        let len = u16_be(jpeg, pos + 2)?;
        if len < 2 || pos + 2 + len > jpeg.len() {
            return None;
        }
        segs.push((marker, pos, pos + 2 + len));
        pos += 2 + len;
    };
    let mut used = [false; 4];
    let mut saw_sof = false;
    for &(m, s, e) in &segs {
        if (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC) {
            saw_sof = true;
            let body = &jpeg[s + 4..e];
            let n = usize::from(*body.get(5)?);
            for c in 0..n {
                let tq = usize::from(*body.get(6 + 3 * c + 2)?);
                *used.get_mut(tq)? = true;
            }
        }
    }
    if !saw_sof {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..2]);
    for &(m, s, e) in &segs {
        if m == 0xDB {
            let mut body = &jpeg[s + 4..e];
            let mut any_used = false;
            while !body.is_empty() {
                let pq = body[0] >> 4;
                let tq = usize::from(body[0] & 0x0F);
                any_used |= *used.get(tq)?;
                let n = 1 + 64 * (usize::from(pq) + 1);
                body = body.get(n..)?;
            }
            if !any_used {
                continue;
            }
        }
        out.extend_from_slice(&jpeg[s..e]);
    }
    out.extend_from_slice(&jpeg[sos_at..]);
    Some(out)
}

/// The encoding of every image at one quality.
struct Trial {
    quality: u8,
    jpegs: Vec<Vec<u8>>,
    params: Vec<u8>,
    chunks: Vec<Vec<u8>>,
}

impl Trial {
    fn payload_bytes(&self) -> usize {
        self.params.len() + self.chunks.iter().map(Vec::len).sum::<usize>()
    }
}

impl JpegCodec {
    fn params(&self, quality: u8) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.u8(self.layout.id());
        w.varint(self.layout.tile() as u64);
        w.u8(quality);
        w.u8(u8::from(self.optimize));
        w.into_inner()
    }

    fn trial(&self, prepared: &[Prepared], quality: u8) -> Result<Trial> {
        let jpegs = prepared
            .par_iter()
            .map(|p| encode_jpeg(&p.pixels, p.width, p.height, quality, self.optimize))
            .collect::<Result<Vec<_>>>()?;
        let chunks = group(prepared, &jpegs);
        Ok(Trial {
            quality,
            jpegs,
            params: self.params(quality),
            chunks,
        })
    }
}

/// Packs images into chunks: `varint count`, then per image `varint len, f32 min, f32 max,
/// JPEG bytes`.
fn group(prepared: &[Prepared], jpegs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < jpegs.len() {
        let (mut j, mut bytes) = (i, 0usize);
        while j < jpegs.len() && j - i < GROUP_MAX_IMAGES && bytes < GROUP_MAX_BYTES {
            bytes += jpegs[j].len() + 10;
            j += 1;
        }
        let mut w = ByteWriter::new();
        w.buf.reserve(bytes + 4);
        w.varint((j - i) as u64);
        for k in i..j {
            w.varint(jpegs[k].len() as u64);
            w.f32(prepared[k].min);
            w.f32(prepared[k].max);
            w.bytes(&jpegs[k]);
        }
        chunks.push(w.into_inner());
        i = j;
    }
    chunks
}

/// Decodes every image (in parallel) and writes it into a `rows × cols` output.
fn reconstruct(
    regions: &[Region],
    cols: usize,
    images: &[(f32, f32, &[u8])],
    n: usize,
) -> Result<Vec<f32>> {
    let decoded = regions
        .par_iter()
        .zip(images.par_iter())
        .map(|(reg, &(min, max, data))| {
            let (w, h) = reg.dims();
            Ok(dequantize(&decode_jpeg(data, w, h)?, min, max))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = crate::limits::try_zeroed::<f32>(n, "jpeg output")?;
    for (reg, px) in regions.iter().zip(&decoded) {
        reg.scatter(&mut out, cols, px);
    }
    Ok(out)
}

fn dims_of(shape: &[usize]) -> Result<(usize, usize, usize)> {
    let n = numel(shape).ok_or_else(|| {
        Error::param(
            "shape",
            format!("{shape:?}"),
            "a shape whose size fits in usize",
        )
    })?;
    let (rows, cols) = matrix_dims(shape);
    Ok((n, rows, cols))
}

impl Codec for JpegCodec {
    fn name(&self) -> &'static str {
        NAME
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        rate.validate()?;
        let (n, rows, cols) = dims_of(shape)?;
        if values.len() != n {
            return Err(Error::param(
                "values",
                format!("{} values", values.len()),
                format!("{n} values for shape {shape:?}"),
            ));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::param(
                "value",
                v,
                "finite values (the container stores the others)",
            ));
        }
        let regions = regions(self.layout, rows, cols);
        let prepared: Vec<Prepared> = regions
            .par_iter()
            .map(|r| prepare(r, values, cols, self.truncate))
            .collect();
        let bits = |t: &Trial| {
            if n == 0 {
                0.0
            } else {
                8.0 * t.payload_bytes() as f64 / n as f64
            }
        };
        let snr_of = |t: &Trial| -> Result<f64> {
            let images: Vec<(f32, f32, &[u8])> = prepared
                .iter()
                .zip(&t.jpegs)
                .map(|(p, j)| (p.min, p.max, j.as_slice()))
                .collect();
            Ok(snr_db(values, &reconstruct(&regions, cols, &images, n)?))
        };
        let mut extra: Vec<(String, f64)> = Vec::new();
        let trial = match rate {
            Rate::Quality(q) => self.trial(&prepared, q)?,
            Rate::Default => self.trial(&prepared, self.quality.unwrap_or(DEFAULT_QUALITY))?,
            Rate::MaxError(_) => return Err(Error::unsupported(
                NAME,
                "a max-error bound cannot be guaranteed through 8-bit JPEG; use the native codec",
            )),
            Rate::Bits(b) => {
                // Highest quality whose all-in bits per value fit the budget.
                let first = self.trial(&prepared, 1)?;
                if bits(&first) > b {
                    extra.push(("bits_budget_met".into(), 0.0));
                    first
                } else {
                    let (mut best, mut lo, mut hi) = (first, 1u8, 100u8);
                    while lo < hi {
                        let mid = lo + (hi - lo).div_ceil(2);
                        let t = self.trial(&prepared, mid)?;
                        if bits(&t) <= b {
                            best = t;
                            lo = mid;
                        } else {
                            hi = mid - 1;
                        }
                    }
                    extra.push(("bits_budget_met".into(), 1.0));
                    best
                }
            }
            Rate::Snr(db) => {
                // Lowest quality reaching the target SNR (the highest if none does).
                let top = self.trial(&prepared, 100)?;
                let top_snr = snr_of(&top)?;
                if top_snr < db {
                    extra.push(("snr_db".into(), top_snr));
                    extra.push(("snr_target_met".into(), 0.0));
                    top
                } else {
                    let (mut best, mut best_snr, mut lo, mut hi) = (top, top_snr, 1u8, 100u8);
                    while lo < hi {
                        let mid = lo + (hi - lo) / 2;
                        let t = self.trial(&prepared, mid)?;
                        let s = snr_of(&t)?;
                        if s >= db {
                            (best, best_snr) = (t, s);
                            hi = mid;
                        } else {
                            lo = mid + 1;
                        }
                    }
                    extra.push(("snr_db".into(), best_snr));
                    extra.push(("snr_target_met".into(), 1.0));
                    best
                }
            }
        };
        let file_bytes: usize = trial.jpegs.iter().map(Vec::len).sum();
        let scan_bytes: usize = trial
            .jpegs
            .iter()
            .map(|j| jpeg_scan_bytes(j).unwrap_or(0))
            .sum();
        let mut stats = vec![
            ("quality".to_string(), f64::from(trial.quality)),
            ("jpeg_images".to_string(), trial.jpegs.len() as f64),
            ("jpeg_file_bytes".to_string(), file_bytes as f64),
            (
                "jpeg_header_bytes".to_string(),
                (file_bytes - scan_bytes) as f64,
            ),
            ("jpeg_scan_bytes".to_string(), scan_bytes as f64),
            ("minmax_bytes".to_string(), 8.0 * trial.jpegs.len() as f64),
            ("bits_per_value".to_string(), bits(&trial)),
        ];
        stats.extend(extra);
        Ok(Encoded {
            params: trial.params,
            chunks: trial.chunks,
            stats,
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        let mut r = ByteReader::new(params, "jpeg params");
        let id = r.u8()?;
        let tile = r.varint()?;
        let layout = Layout::from_params(id, tile)?;
        let quality = r.u8()?;
        if !(1..=100).contains(&quality) {
            return Err(Error::corrupt(format!(
                "jpeg params: quality {quality} outside 1..=100"
            )));
        }
        if r.u8()? > 1 {
            return Err(Error::corrupt("jpeg params: bad optimize flag"));
        }
        r.finish()?;
        let (n, rows, cols) = dims_of(shape).map_err(|e| Error::corrupt(e.to_string()))?;
        // The image count follows from the shape; every image costs at least 10 bytes
        // (count, length, range, one byte of JPEG), so the stored images are counted and
        // compared before the region list or the output is allocated.
        let n_regions = region_count(layout, rows, cols)
            .ok_or_else(|| Error::corrupt(format!("jpeg: shape {shape:?} overflows")))?;
        let mut images: Vec<(f32, f32, &[u8])> = Vec::new();
        for (ci, chunk) in chunks.iter().enumerate() {
            let mut r = ByteReader::new(chunk, "jpeg chunk");
            let count = r.varint_max("image count", GROUP_MAX_IMAGES as u64)? as usize;
            if count == 0 || images.len() + count > n_regions {
                return Err(Error::corrupt(format!(
                    "jpeg chunk {ci}: {count} images, but the shape has {n_regions} images and {} came before",
                    images.len()
                )));
            }
            for _ in 0..count {
                let len = r.len("jpeg length")?;
                let min = r.f32()?;
                let max = r.f32()?;
                if !(min.is_finite() && max.is_finite() && min <= max) {
                    return Err(Error::corrupt(format!(
                        "jpeg chunk {ci}: bad image range min {min}, max {max}"
                    )));
                }
                images.push((min, max, r.take(len)?));
            }
            r.finish()?;
        }
        if images.len() != n_regions {
            return Err(Error::corrupt(format!(
                "jpeg: {} images stored, the shape {shape:?} needs {n_regions}",
                images.len(),
            )));
        }
        let regions = regions(layout, rows, cols);
        reconstruct(&regions, cols, &images, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Annex K luminance table, natural (row-major) order.
    const ANNEX_K_LUMA: [u16; 64] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
        56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
        104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];
    /// Natural index of the k-th coefficient in zigzag order.
    const ZIGZAG: [usize; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
        20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];

    /// IJG libjpeg's `jpeg_quality_scaling` + `jpeg_add_quant_table(force_baseline=TRUE)`.
    fn ijg_table(q: u32) -> [u16; 64] {
        let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
        ANNEX_K_LUMA.map(|b| ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16)
    }

    /// The DQT tables of a file, as (table id, natural-order values).
    fn dqt_tables(jpeg: &[u8]) -> Vec<(u8, [u16; 64])> {
        let mut out = Vec::new();
        let mut pos = 2;
        while jpeg[pos + 1] != 0xDA {
            let len = u16_be(jpeg, pos + 2).unwrap();
            if jpeg[pos + 1] == 0xDB {
                let body = &jpeg[pos + 4..pos + 2 + len];
                assert_eq!(body.len(), 65, "one 8-bit table per DQT segment");
                let mut t = [0u16; 64];
                for k in 0..64 {
                    t[ZIGZAG[k]] = u16::from(body[1 + k]);
                }
                out.push((body[0], t));
            }
            pos += 2 + len;
        }
        out
    }

    fn smooth(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                (r * 0.05).sin() * 2.0 + (c * 0.03).cos() + 0.5
            })
            .collect()
    }

    fn codec(spec: &str) -> JpegCodec {
        JpegCodec::from_spec(&CodecSpec::parse(spec).unwrap()).unwrap()
    }

    fn round_trip(c: &JpegCodec, v: &[f32], shape: &[usize], rate: Rate) -> (Encoded, Vec<f32>) {
        let e = c.encode(v, shape, rate).unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let d = c.decode(&e.params, &chunks, shape).unwrap();
        assert_eq!(d.len(), v.len());
        (e, d)
    }

    fn stat(e: &Encoded, k: &str) -> f64 {
        e.stats.iter().find(|(n, _)| n == k).unwrap().1
    }

    #[test]
    fn trunc_reproduces_numpy_uint8_truncation() {
        // A smooth vector, so JPEG at q100 adds little beyond the 8-bit mapping.
        let v: Vec<f32> = (0..384).map(|i| (i as f32 * 0.01).sin()).collect();
        let range = 2.0f64 * v.iter().fold(0f32, |a, &b| a.max(b.abs())) as f64;
        let plain = JpegCodec::new(Layout::TwoRow, None, false).unwrap();
        let seed = plain.clone().with_truncation(true);
        let bias = |c: &JpegCodec| {
            let (_, d) = round_trip(c, &v, &[1, 384], Rate::Quality(100));
            d.iter().zip(&v).map(|(&a, &b)| (a - b) as f64).sum::<f64>() / v.len() as f64
        };
        let (b_round, b_trunc) = (bias(&plain), bias(&seed));
        let level = range / 255.0;
        assert!(b_round.abs() < 0.15 * level, "{b_round} vs level {level}");
        assert!(
            (b_trunc + 0.5 * level).abs() < 0.2 * level,
            "{b_trunc} vs level {level}"
        );
        let spec = CodecSpec::parse("jpeg:tworow:trunc").unwrap();
        assert!(JpegCodec::from_spec(&spec).unwrap().truncate);
    }

    #[test]
    fn quant_tables_are_ijg() {
        let px: Vec<u8> = (0..16 * 16).map(|i| (i * 7 % 256) as u8).collect();
        for q in [10u8, 30, 50, 75, 90, 95, 100] {
            let f = encode_jpeg(&px, 16, 16, q, false).unwrap();
            let tables = dqt_tables(&f);
            assert_eq!(tables.len(), 1, "grayscale file has exactly one DQT table");
            assert_eq!(tables[0].0, 0);
            assert_eq!(tables[0].1, ijg_table(u32::from(q)), "quality {q}");
        }
        // Spot values of IJG's scaling: Q75 DC = 8, Q95 DC = 2.
        assert_eq!(ijg_table(75)[0], 8);
        assert_eq!(ijg_table(95)[0], 2);
    }

    #[test]
    fn header_bytes_match_libjpeg_grayscale() {
        // SOI 2 + APP0 18 + DQT 69 + SOF0 13 + DHT(DC) 33 + DHT(AC) 183 + SOS 10 + EOI 2.
        let c = codec("jpeg");
        let v = smooth(3, 384);
        let e = c.encode(&v, &[3, 384], Rate::Quality(75)).unwrap();
        assert_eq!(stat(&e, "jpeg_images"), 3.0);
        assert_eq!(stat(&e, "jpeg_header_bytes"), 3.0 * 330.0);
        assert_eq!(
            stat(&e, "jpeg_file_bytes"),
            stat(&e, "jpeg_header_bytes") + stat(&e, "jpeg_scan_bytes")
        );
        assert_eq!(stat(&e, "minmax_bytes"), 24.0);
    }

    #[test]
    fn scan_bytes_parser() {
        let px: Vec<u8> = (0..24 * 8).map(|i| (i * 13 % 256) as u8).collect();
        let f = encode_jpeg(&px, 24, 8, 90, false).unwrap();
        let scan = jpeg_scan_bytes(&f).unwrap();
        // SOS is the last segment before the scan: find its end by hand.
        let sos = f.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let start = sos + 2 + u16_be(&f, sos + 2).unwrap();
        assert_eq!(scan, f.len() - 2 - start);
        assert_eq!(&f[f.len() - 2..], &[0xFF, 0xD9]);
        // Hand-made: SOI, SOS (len 8), data with a stuffed FF00 and a RST0, EOI.
        let hand = [
            0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0,
            0x56, 0xFF, 0xD9,
        ];
        assert_eq!(jpeg_scan_bytes(&hand), Some(7));
        assert_eq!(jpeg_scan_bytes(&hand[..hand.len() - 2]), None);
        assert_eq!(jpeg_scan_bytes(&f[..f.len() / 2]), None);
        assert_eq!(jpeg_scan_bytes(b"not a jpeg"), None);
        assert_eq!(jpeg_scan_bytes(&[]), None);
    }

    #[test]
    fn q95_error_bound_on_smooth_data() {
        for spec in ["jpeg", "jpeg:matrix", "jpeg:tiles:tile=32"] {
            let c = codec(spec);
            let (rows, cols) = (40, 97);
            let v = smooth(rows, cols);
            let (e, d) = round_trip(&c, &v, &[rows, cols], Rate::Quality(95));
            // Every image's range is within the tensor's: bound by the global range.
            let (lo, hi) = v
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let bound = (hi - lo) / 255.0 * 8.0;
            let err = v
                .iter()
                .zip(&d)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err <= bound, "{spec}: max error {err} > {bound}");
            assert_eq!(stat(&e, "quality"), 95.0);
        }
    }

    #[test]
    fn layouts_count_images() {
        let v = smooth(300, 260);
        let sh = [300, 260];
        let n = |s: &str| {
            stat(
                &codec(s).encode(&v, &sh, Rate::Default).unwrap(),
                "jpeg_images",
            )
        };
        assert_eq!(n("jpeg"), 300.0);
        assert_eq!(n("jpeg:tworow"), 300.0);
        assert_eq!(n("jpeg:matrix"), 1.0);
        assert_eq!(n("jpeg:tiles"), 4.0);
        assert_eq!(n("jpeg:tiles:tile=100"), 9.0);
        let e = codec("jpeg:q=90").encode(&v, &sh, Rate::Default).unwrap();
        assert_eq!(stat(&e, "quality"), 90.0);
        let e = codec("jpeg").encode(&v, &sh, Rate::Default).unwrap();
        assert_eq!(stat(&e, "quality"), 75.0);
    }

    #[test]
    fn long_rows_split_into_segments() {
        let regs = regions(Layout::TwoRow, 2, 2 * MAX_DIM + 3);
        assert_eq!(regs.len(), 4);
        assert_eq!(regs[1].dims(), (2, 2));
        let regs = regions(Layout::Matrix, 70000, 3);
        assert_eq!(regs.len(), 2);
        assert_eq!(regs[1].dims(), (3, 70000 - MAX_DIM));
    }

    #[test]
    fn spec_errors() {
        let bad = |s: &str| JpegCodec::from_spec(&CodecSpec::parse(s).unwrap()).is_err();
        assert!(bad("jpeg:bogus"));
        assert!(bad("jpeg:tworow:matrix"));
        assert!(bad("jpeg:q=0"));
        assert!(bad("jpeg:q=101"));
        assert!(bad("jpeg:tiles:tile=0"));
        assert!(bad("jpeg:matrix:tile=8"));
        assert!(bad("jpeg:x=1"));
        let msg = JpegCodec::from_spec(&CodecSpec::parse("jpeg:bogus").unwrap())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("tworow") && msg.contains("tiles"), "{msg}");
        assert!(factory(&CodecSpec::parse("f16").unwrap()).is_none());
        assert_eq!(codec("jpeg:tiles:tile=128").layout(), Layout::Tiles(128));
        assert!(matches!(
            codec("jpeg").encode(&[1.0], &[1], Rate::MaxError(0.1)),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn bits_search_respects_budget() {
        let c = codec("jpeg:tiles:tile=64");
        let v = smooth(128, 128);
        let n = v.len() as f64;
        for b in [0.5, 1.0, 2.0, 4.0] {
            let e = c.encode(&v, &[128, 128], Rate::Bits(b)).unwrap();
            let bits = 8.0 * e.payload_bytes() as f64 / n;
            let q = stat(&e, "quality") as u8;
            if stat(&e, "bits_budget_met") == 0.0 {
                // Four 330-byte headers alone are 0.64 bits per value here.
                assert!(q == 1 && bits > b && b < 0.7, "budget {b}: q {q}, {bits}");
                continue;
            }
            assert!(bits <= b, "budget {b}: got {bits}");
            if q < 100 {
                let up = c.encode(&v, &[128, 128], Rate::Quality(q + 1)).unwrap();
                assert!(
                    8.0 * up.payload_bytes() as f64 / n > b,
                    "q{} also fits {b}",
                    q + 1
                );
            }
        }
        // Two-row images of 8 values cannot fit 1 bit per value: quality 1, reported.
        let e = codec("jpeg")
            .encode(&v[..64], &[8, 8], Rate::Bits(1.0))
            .unwrap();
        assert_eq!(stat(&e, "quality"), 1.0);
        assert_eq!(stat(&e, "bits_budget_met"), 0.0);
    }

    #[test]
    fn snr_search_reaches_target() {
        let c = codec("jpeg:matrix");
        let v = smooth(64, 64);
        let (e, d) = round_trip(&c, &v, &[64, 64], Rate::Snr(30.0));
        assert!(snr_db(&v, &d) >= 30.0);
        assert_eq!(stat(&e, "snr_target_met"), 1.0);
        let q = stat(&e, "quality") as u8;
        if q > 1 {
            let (_, d2) = round_trip(&c, &v, &[64, 64], Rate::Quality(q - 1));
            assert!(snr_db(&v, &d2) < 30.0);
        }
    }

    #[test]
    fn constant_and_degenerate_shapes() {
        let c = codec("jpeg");
        let (_, d) = round_trip(&c, &[3.5; 10], &[2, 5], Rate::Default);
        assert!(d.iter().all(|&x| x == 3.5));
        let (e, d) = round_trip(&c, &[], &[0, 7], Rate::Default);
        assert!(d.is_empty() && e.chunks.is_empty());
        let (_, d) = round_trip(&c, &[-2.0], &[], Rate::Quality(90));
        assert_eq!(d, vec![-2.0]);
        let (_, d) = round_trip(&c, &[-2.0, 7.0], &[2], Rate::Quality(100));
        assert!((d[0] + 2.0).abs() < 0.1 && (d[1] - 7.0).abs() < 0.1);
    }

    #[test]
    fn bad_data_is_rejected() {
        let c = codec("jpeg");
        let v = smooth(6, 33);
        let shape = [6, 33];
        let e = c.encode(&v, &shape, Rate::Default).unwrap();
        let chunk = &e.chunks[0];
        let dec = |p: &[u8], ch: &[u8], s: &[usize]| c.decode(p, &[ch], s);
        assert!(dec(&e.params, chunk, &shape).is_ok());
        // Truncations anywhere.
        for cut in [0, 1, 5, 20, chunk.len() / 2, chunk.len() - 1] {
            assert!(dec(&e.params, &chunk[..cut], &shape).is_err(), "cut {cut}");
        }
        // Wrong shape: more images, or same images of other width.
        assert!(dec(&e.params, chunk, &[7, 33]).is_err());
        assert!(dec(&e.params, chunk, &[6, 40]).is_err());
        // Non-finite min / max.
        let mut bad = chunk.clone();
        let at = 1 + 2; // count varint, first length varint (2 bytes)
        bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(dec(&e.params, &bad, &shape).is_err());
        // Bad params.
        assert!(dec(&[9, 0, 75, 0], chunk, &shape).is_err());
        assert!(dec(&e.params[..2], chunk, &shape).is_err());
        // Mutated bytes never panic.
        for i in (0..chunk.len()).step_by(7) {
            let mut m = chunk.clone();
            m[i] ^= 0x5A;
            let _ = dec(&e.params, &m, &shape);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn prop_round_trip(rows in 0usize..12, cols in 0usize..40, layout in 0usize..3, seed in any::<u32>()) {
            let spec = ["jpeg:tworow", "jpeg:matrix", "jpeg:tiles:tile=8"][layout];
            let v: Vec<f32> = (0..rows * cols)
                .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 100.0 - 5.0)
                .collect();
            let c = codec(spec);
            let (_, d) = round_trip(&c, &v, &[rows, cols], Rate::Quality(100));
            // Quality 100 still rounds in the DCT domain; stay within a few 8-bit steps.
            for (a, b) in v.iter().zip(&d) {
                prop_assert!((a - b).abs() <= 10.0 / 255.0 * 6.0, "{a} vs {b}");
            }
        }
    }
}
