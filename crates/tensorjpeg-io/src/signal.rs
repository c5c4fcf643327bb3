//! Loaders for non-tensor signals — photos (PNG), sound (PCM WAV) and the labelled 8×8
//! handwritten digits of scikit-learn (`digits.csv.gz`) — as channel-major `f32` arrays.
//!
//! * [`read_image`]: a PNG as `[C, H, W]` (C = 1 for gray, 3 for colour), values `0.0..=255.0`.
//! * [`read_wav`]: a WAV as `[channels, frames]`, values in `[-1, 1)`, with its sample rate.
//! * [`read_digits`]: `digits.csv.gz` as `[n, 8, 8]` pixel values `0.0..=16.0` plus labels.
//! * [`write_png`], [`write_wav`]: the reverse of [`read_image`] and [`read_wav`] (8-bit PNG,
//!   16-bit PCM WAV), written atomically.
//!
//! 3-D volumes (NIfTI) are in [`crate::volume`].
//!
//! Every error names the file (and for the digits, the line), like the rest of this crate.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Error, Result};

/// A signal as a dense, channel-major `f32` array: channel 0 first, then channel 1, ...
/// Images are `[C, H, W]` (row-major within a channel), sound is `[channels, frames]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The samples, `shape.iter().product()` of them, channel-major.
    pub values: Vec<f32>,
    /// The dimensions, channels first: `[C, H, W]` for images, `[channels, frames]` for sound.
    pub shape: Vec<usize>,
    /// Samples per second for sound ([`read_wav`]); `None` for images.
    pub sample_rate: Option<u32>,
}

impl Signal {
    /// The number of channels (`shape[0]`).
    pub fn channels(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// The samples of channel `c` (its `shape[1..]` block, row-major).
    ///
    /// # Panics
    /// If `c >= self.channels()`.
    pub fn channel(&self, c: usize) -> &[f32] {
        assert!(
            c < self.channels(),
            "channel {c} of a {}-channel signal",
            self.channels()
        );
        let n: usize = self.shape[1..].iter().product();
        &self.values[c * n..(c + 1) * n]
    }
}

/// Deflate's largest expansion (a 258-byte match coded in 2 bits is about 1032:1).
const DEFLATE_MAX_RATIO: u64 = 1032;

/// A palette (PLTE) of whole RGB entries, 1 to 256 of them: the `png` crate's palette
/// expansion slices by these lengths without checking them (a 40-byte palette, with valid
/// checksums, made it panic).
fn check_palette(path: &Path, info: &png::Info) -> Result<()> {
    if let Some(pal) = &info.palette {
        if pal.is_empty() || pal.len() % 3 != 0 || pal.len() > 3 * 256 {
            return Err(Error::format(
                path,
                format!(
                    "PNG palette (PLTE) of {} bytes: expected 1 to 256 RGB entries of 3 bytes",
                    pal.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a PNG image as `[C, H, W]` `f32` values in `0.0..=255.0`.
///
/// Gray (and gray + alpha) images give C = 1, RGB, RGBA and palette images give C = 3: alpha
/// is dropped, palettes and low bit depths (1/2/4-bit) are expanded. 16-bit samples are
/// scaled to the same range (`v * 255 / 65535`, not rounded). Interlaced images are
/// de-interlaced; of an animated PNG only the first frame is read.
pub fn read_image(path: &Path) -> Result<Signal> {
    crate::note_input(path);
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder =
        png::Decoder::new_with_limits(BufReader::new(file), png::Limits { bytes: usize::MAX });
    decoder.set_transformations(png::Transformations::EXPAND);
    let png_err = |e: png::DecodingError| match e {
        png::DecodingError::IoError(io) if !is_data_error(&io) => Error::io(path, io),
        other => Error::format(path, format!("not a readable PNG image: {other}")),
    };
    let mut reader = decoder.read_info().map_err(png_err)?;
    check_palette(path, reader.info())?;
    // The header's size drives the allocation: check it against the bytes present first.
    // Deflate expands at most 1032:1, so a file of F bytes holds at most ~1032·F bytes of
    // filtered scanlines; a header that claims more is a lie, refused before allocating.
    let file_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let (hw, hh) = reader.info().size();
    let need = reader.output_buffer_size() as u64;
    let pixels = u64::from(hw) * u64::from(hh);
    if let Some(why) = tensorjpeg::Limits::configured().over_element_cap(pixels) {
        return Err(Error::format(
            path,
            format!("PNG header declares {hw} × {hh} = {pixels} pixels, {why}"),
        ));
    }
    if need > file_len.saturating_mul(DEFLATE_MAX_RATIO) + 4096 {
        return Err(Error::format(
            path,
            format!(
                "PNG header declares {hw} × {hh} pixels ({need} bytes decoded), but the file's \
                 {file_len} bytes cannot hold that much (deflate expands at most \
                 {DEFLATE_MAX_RATIO}:1): a damaged or forged header"
            ),
        ));
    }
    let mut buf = tensorjpeg::limits::try_zeroed::<u8>(reader.output_buffer_size(), "PNG pixels")
        .map_err(|e| Error::format(path, e.to_string()))?;
    let info = reader.next_frame(&mut buf).map_err(png_err)?;
    let (w, h) = (info.width as usize, info.height as usize);
    // Samples per pixel in the decoded buffer, and how many of them we keep.
    let (spp, keep) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => {
            return Err(Error::format(path, "palette PNG was not expanded to RGB"))
        }
    };
    let bytes = match info.bit_depth {
        png::BitDepth::Eight => 1,
        png::BitDepth::Sixteen => 2,
        other => {
            return Err(Error::format(
                path,
                format!("{other:?}-bit PNG samples were not expanded to 8 bits"),
            ))
        }
    };
    if info.line_size < w * spp * bytes || buf.len() < info.line_size * h {
        return Err(Error::format(path, "PNG decoder returned a short frame"));
    }
    let plane = w * h;
    let mut values = vec![0f32; keep * plane];
    for y in 0..h {
        let row = &buf[y * info.line_size..][..w * spp * bytes];
        for x in 0..w {
            for c in 0..keep {
                let i = (x * spp + c) * bytes;
                let v = if bytes == 1 {
                    f32::from(row[i])
                } else {
                    f32::from(u16::from_be_bytes([row[i], row[i + 1]])) * (255.0 / 65535.0)
                };
                values[c * plane + y * w + x] = v;
            }
        }
    }
    Ok(Signal {
        values,
        shape: vec![keep, h, w],
        sample_rate: None,
    })
}

/// Reads a PCM WAV file as `[channels, frames]` `f32` samples (de-interleaved) with its
/// sample rate.
///
/// Integer samples of `b` bits are divided by `2^(b-1)`, so 16-bit PCM maps to `[-1, 1)`
/// (`-32768 → -1.0`, `32767 → 0.99997`); 8-bit (unsigned in WAV) is centred first.
/// 32-bit float samples are returned as they are.
pub fn read_wav(path: &Path) -> Result<Signal> {
    crate::note_input(path);
    let wav_err = |e: hound::Error| match e {
        hound::Error::IoError(io) if !is_data_error(&io) => Error::io(path, io),
        other => Error::format(path, format!("not a readable PCM WAV file: {other}")),
    };
    let mut reader = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 {
        return Err(Error::format(path, "WAV header declares 0 channels"));
    }
    let total = reader.len() as usize;
    if !total.is_multiple_of(channels) {
        return Err(Error::format(
            path,
            format!("{total} samples is not a whole number of {channels}-channel frames"),
        ));
    }
    let frames = total / channels;
    // hound reports a short data chunk as an `Other` I/O error ("Failed to read enough
    // bytes."), so every error past the header is reported as bad sample data.
    let sample_err = |e: hound::Error| {
        Error::format(
            path,
            format!("truncated or corrupt WAV sample data ({total} samples declared): {e}"),
        )
    };
    // Do not trust the header's length for the allocation (a bad header could claim 4 GiB).
    let file_len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len() as usize;
    let bytes_per_sample = usize::from(spec.bits_per_sample).div_ceil(8).max(1);
    let mut interleaved = Vec::with_capacity(total.min(file_len / bytes_per_sample));
    match spec.sample_format {
        hound::SampleFormat::Int => {
            if !(8..=32).contains(&spec.bits_per_sample) {
                return Err(Error::format(
                    path,
                    format!(
                        "{}-bit integer samples are not supported",
                        spec.bits_per_sample
                    ),
                ));
            }
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            for s in reader.samples::<i32>() {
                interleaved.push((f64::from(s.map_err(sample_err)?) * scale) as f32);
            }
        }
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(Error::format(
                    path,
                    format!(
                        "{}-bit float samples are not supported",
                        spec.bits_per_sample
                    ),
                ));
            }
            for s in reader.samples::<f32>() {
                interleaved.push(s.map_err(sample_err)?);
            }
        }
    }
    let mut values = vec![0f32; total];
    for (i, v) in interleaved.into_iter().enumerate() {
        values[(i % channels) * frames + i / channels] = v;
    }
    Ok(Signal {
        values,
        shape: vec![channels, frames],
        sample_rate: Some(spec.sample_rate),
    })
}

/// Side of a digit image of [`read_digits`] (8×8 pixels).
pub const DIGIT_SIDE: usize = 8;

/// Labelled 8×8 handwritten digits, as read by [`read_digits`].
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    /// The images, `[n, 8, 8]` row-major: pixel values `0.0..=16.0`.
    pub images: Vec<f32>,
    /// The digit shown by each image, `0..=9`, `n` of them.
    pub labels: Vec<u8>,
}

impl Digits {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of [`Digits::images`]: `[n, 8, 8]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.len(), DIGIT_SIDE, DIGIT_SIDE]
    }

    /// The 64 pixels of image `i`, row-major.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = DIGIT_SIDE * DIGIT_SIDE;
        &self.images[i * n..(i + 1) * n]
    }
}

/// Reads scikit-learn's `digits.csv.gz`: a gzip'd CSV without header, one digit per line,
/// 65 comma-separated integers — 64 pixels (8×8 row-major, `0..=16`) then the label
/// (`0..=9`). Every line is checked; an error names the file and the line number (from 1).
/// Blank lines are allowed only at the end.
pub fn read_digits(path: &Path) -> Result<Digits> {
    crate::note_input(path);
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    read_digits_from(path, BufReader::new(flate2::read::GzDecoder::new(file)))
}

fn read_digits_from(path: &Path, mut reader: impl BufRead) -> Result<Digits> {
    const PIXELS: usize = DIGIT_SIDE * DIGIT_SIDE;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    let mut line = Vec::new();
    let mut blank_at = None; // first blank line seen, an error if data follows
    for number in 1usize.. {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| {
            if is_data_error(&e) {
                Error::format(
                    path,
                    format!("line {number}: not a valid gzip stream (truncated or corrupt): {e}"),
                )
            } else {
                Error::io(path, e)
            }
        })?;
        if read == 0 {
            break;
        }
        let bad = |msg: String| Error::format(path, format!("line {number}: {msg}"));
        let text = std::str::from_utf8(&line)
            .map_err(|_| bad("not UTF-8 text (is this a gzip'd CSV?)".into()))?
            .trim();
        if text.is_empty() {
            blank_at.get_or_insert(number);
            continue;
        }
        if let Some(blank) = blank_at {
            return Err(Error::format(
                path,
                format!("line {blank}: blank line before more data"),
            ));
        }
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(bad(format!(
                "{} comma-separated values, expected {} (64 pixels and a label)",
                fields.len(),
                PIXELS + 1
            )));
        }
        for (i, f) in fields.iter().enumerate() {
            let f = f.trim();
            let (what, max) = if i < PIXELS {
                ("pixel", 16)
            } else {
                ("label", 9)
            };
            let v: u8 = f
                .parse()
                .ok()
                .filter(|&v| v <= max)
                .ok_or_else(|| bad(format!("{what} {f:?} is not an integer in 0..={max}")))?;
            if i < PIXELS {
                images.push(f32::from(v));
            } else {
                labels.push(v);
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::format(path, "no digits in the file"));
    }
    Ok(Digits { images, labels })
}

/// Writes `values` of shape `[C, H, W]` (channel-major, as [`read_image`] returns them) as an
/// 8-bit PNG: C = 1 gray, 3 RGB, 4 RGBA. Each value is rounded to the nearest integer and
/// clamped to `0..=255` (NaN gives 0); the channels are interleaved. The file is written
/// atomically ([`crate::write_atomic`]).
///
/// Errors (naming the file) on any other shape, a `values` length that is not the shape's
/// product, or an empty or too large image.
pub fn write_png(path: &Path, values: &[f32], shape: &[usize]) -> Result<()> {
    crate::write_atomic(path, &png_encode(path, values, shape)?)
}

/// The bytes [`write_png`] would write (best for sizes, e.g. an image coded losslessly as a
/// comparison point); errors name the image as "PNG in memory".
pub fn encode_png(values: &[f32], shape: &[usize]) -> Result<Vec<u8>> {
    png_encode(Path::new("PNG in memory"), values, shape)
}

/// [`write_png`]'s encoder: the PNG file of `values`, errors naming `path`.
fn png_encode(path: &Path, values: &[f32], shape: &[usize]) -> Result<Vec<u8>> {
    let bad_shape = |why: &str| {
        Error::format(
            path,
            format!("cannot write a PNG of shape {shape:?}: {why}"),
        )
    };
    let &[c, h, w] = shape else {
        return Err(bad_shape("expected [C, H, W]"));
    };
    let color = match c {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        4 => png::ColorType::Rgba,
        _ => {
            return Err(bad_shape(
                "expected C = 1 (gray), 3 (RGB) or 4 (RGBA) channels",
            ))
        }
    };
    // PNG allows 1..=2^31-1 pixels a side.
    let side = |n: usize| {
        u32::try_from(n)
            .ok()
            .filter(|&n| (1..=i32::MAX as u32).contains(&n))
    };
    let (Some(w32), Some(h32)) = (side(w), side(h)) else {
        return Err(bad_shape("H and W must be in 1..=2147483647"));
    };
    let plane = h
        .checked_mul(w)
        .filter(|p| p.checked_mul(c).is_some())
        .ok_or_else(|| bad_shape("too many pixels"))?;
    if values.len() != plane * c {
        return Err(bad_shape(&format!(
            "{} values given, the shape has {}",
            values.len(),
            plane * c
        )));
    }
    let mut pixels = vec![0u8; plane * c];
    for (ch, src) in values.chunks_exact(plane).enumerate() {
        for (i, &v) in src.iter().enumerate() {
            pixels[i * c + ch] = v.round().clamp(0.0, 255.0) as u8; // NaN as u8 is 0
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w32, h32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let png_err = |e: png::EncodingError| Error::format(path, format!("PNG encoder: {e}"));
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(&pixels).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
    }
    Ok(out)
}

/// Writes `values` of shape `[channels, frames]` (channel-major, as [`read_wav`] returns
/// them) as a 16-bit PCM WAV at `sample_rate`. Each value is scaled by 32768 (the inverse of
/// [`read_wav`]), rounded and clamped to `-32768..=32767` (NaN gives 0), so 16-bit sound
/// read with [`read_wav`] is written back exactly. The file is written atomically
/// ([`crate::write_atomic`]).
///
/// Errors (naming the file) unless the shape is `[channels, frames]` with 1..=65535
/// channels, `values` has `channels * frames` samples, `sample_rate` is not 0 and the data
/// fits a WAV file (under 4 GiB).
pub fn write_wav(path: &Path, values: &[f32], shape: &[usize], sample_rate: u32) -> Result<()> {
    let bad = |why: String| {
        Error::format(
            path,
            format!("cannot write a WAV of shape {shape:?} at {sample_rate} Hz: {why}"),
        )
    };
    let &[channels, frames] = shape else {
        return Err(bad("expected [channels, frames]".into()));
    };
    let channels16 = u16::try_from(channels)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| bad("expected 1..=65535 channels".into()))?;
    if sample_rate == 0 {
        return Err(bad("the sample rate must be at least 1 Hz".into()));
    }
    let total = channels
        .checked_mul(frames)
        .filter(|&n| {
            n.checked_mul(2)
                .is_some_and(|b| b <= u32::MAX as usize - 64)
        })
        .ok_or_else(|| bad("too many samples for a WAV file (4 GiB at most)".into()))?;
    if values.len() != total {
        return Err(bad(format!(
            "{} values given, the shape has {total}",
            values.len()
        )));
    }
    let spec = hound::WavSpec {
        channels: channels16,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_err = |e: hound::Error| Error::format(path, format!("WAV encoder: {e}"));
    let mut cur = std::io::Cursor::new(Vec::with_capacity(44 + 2 * total));
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).map_err(wav_err)?;
        for f in 0..frames {
            for c in 0..channels {
                let v = (values[c * frames + f] * 32768.0).round();
                w.write_sample(v.clamp(-32768.0, 32767.0) as i16) // NaN as i16 is 0
                    .map_err(wav_err)?;
            }
        }
        w.finalize().map_err(wav_err)?;
    }
    crate::write_atomic(path, &cur.into_inner())
}

/// Whether an I/O error reports bad or missing data (as decoders do) rather than an OS failure.
pub(crate) fn is_data_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), InvalidData | InvalidInput | UnexpectedEof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    /// A fresh directory for one test's files, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "tensorjpeg-io-signal-{}-{name}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn png_bytes(
        w: u32,
        h: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(color);
            enc.set_depth(depth);
            let mut wr = enc.write_header().unwrap();
            wr.write_image_data(data).unwrap();
        }
        out
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn digit_line(pixel: u8, label: u8) -> String {
        let mut v: Vec<String> = (0..64).map(|_| pixel.to_string()).collect();
        v.push(label.to_string());
        v.join(",") + "\n"
    }

    fn err_string<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("should fail").to_string()
    }

    #[test]
    fn image_rejects_non_png_and_names_the_file() {
        let d = TempDir::new("notpng");
        let p = d.file("fake.png", b"GIF89a this is not a PNG file at all");
        let msg = err_string(read_image(&p));
        assert!(msg.contains("fake.png"), "{msg}");
        assert!(msg.contains("not a readable PNG"), "{msg}");
    }

    #[test]
    fn image_rejects_truncated_png() {
        let d = TempDir::new("truncpng");
        let data: Vec<u8> = (0..64 * 64).map(|i| (i * 7 % 251) as u8).collect();
        let full = png_bytes(
            64,
            64,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &data,
        );
        let p = d.file("cut.png", &full[..full.len() / 2]);
        let msg = err_string(read_image(&p));
        assert!(msg.contains("cut.png"), "{msg}");
    }

    #[test]
    fn image_missing_file_is_an_io_error() {
        let d = TempDir::new("missingpng");
        let p = d.0.join("nope.png");
        let e = read_image(&p).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("nope.png"));
    }

    #[test]
    fn image_layouts_are_channel_major() {
        let d = TempDir::new("layouts");
        // 2×1 RGBA: alpha dropped, channel-major.
        let p = d.file(
            "rgba.png",
            &png_bytes(
                2,
                1,
                png::ColorType::Rgba,
                png::BitDepth::Eight,
                &[1, 2, 3, 9, 4, 5, 6, 9],
            ),
        );
        let s = read_image(&p).unwrap();
        assert_eq!(s.shape, vec![3, 1, 2]);
        assert_eq!(s.values, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(s.channel(1), &[2.0, 5.0]);
        assert_eq!(s.sample_rate, None);
        // 1×2 16-bit gray: scaled to 0..=255.
        let p = d.file(
            "g16.png",
            &png_bytes(
                1,
                2,
                png::ColorType::Grayscale,
                png::BitDepth::Sixteen,
                &[0xff, 0xff, 0x01, 0x01],
            ),
        );
        let s = read_image(&p).unwrap();
        assert_eq!(s.shape, vec![1, 2, 1]);
        assert_eq!(s.values, vec![255.0, 1.0]);
        // 4×1 1-bit gray: expanded to 0/255.
        let p = d.file(
            "g1.png",
            &png_bytes(
                4,
                1,
                png::ColorType::Grayscale,
                png::BitDepth::One,
                &[0b1010_0000],
            ),
        );
        let s = read_image(&p).unwrap();
        assert_eq!(s.values, vec![255.0, 0.0, 255.0, 0.0]);
        // Gray + alpha: one channel.
        let p = d.file(
            "ga.png",
            &png_bytes(
                2,
                1,
                png::ColorType::GrayscaleAlpha,
                png::BitDepth::Eight,
                &[7, 0, 8, 255],
            ),
        );
        let s = read_image(&p).unwrap();
        assert_eq!((s.shape.clone(), s.values), (vec![1, 1, 2], vec![7.0, 8.0]));
    }

    #[test]
    fn image_palette_is_expanded_to_rgb() {
        let d = TempDir::new("palette");
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 2, 1);
            enc.set_color(png::ColorType::Indexed);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_palette(vec![10, 20, 30, 40, 50, 60]);
            let mut wr = enc.write_header().unwrap();
            wr.write_image_data(&[1, 0]).unwrap();
        }
        let s = read_image(&d.file("pal.png", &out)).unwrap();
        assert_eq!(s.shape, vec![3, 1, 2]);
        assert_eq!(s.values, vec![40.0, 10.0, 50.0, 20.0, 60.0, 30.0]);
    }

    fn wav_bytes(channels: u16, samples: &[i16]) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cur = std::io::Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
            for &s in samples {
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        cur.into_inner()
    }

    #[test]
    fn wav_stereo_is_deinterleaved_and_scaled() {
        let d = TempDir::new("stereo");
        let p = d.file(
            "st.wav",
            &wav_bytes(2, &[-32768, 16384, 0, -16384, 32767, 1]),
        );
        let s = read_wav(&p).unwrap();
        assert_eq!(s.shape, vec![2, 3]);
        assert_eq!(s.sample_rate, Some(8000));
        assert_eq!(s.channel(0), &[-1.0, 0.0, 32767.0 / 32768.0]);
        assert_eq!(s.channel(1), &[0.5, -0.5, 1.0 / 32768.0]);
    }

    #[test]
    fn wav_rejects_garbage() {
        let d = TempDir::new("garbagewav");
        let p = d.file("noise.wav", b"RIFX\x00\x01\x02 definitely not a wave file");
        let msg = err_string(read_wav(&p));
        assert!(msg.contains("noise.wav"), "{msg}");
        assert!(msg.contains("WAV"), "{msg}");
    }

    #[test]
    fn wav_rejects_truncated_data() {
        let d = TempDir::new("truncwav");
        let full = wav_bytes(1, &(0..1000).map(|i| i as i16).collect::<Vec<_>>());
        let p = d.file("cut.wav", &full[..full.len() - 501]);
        let msg = err_string(read_wav(&p));
        assert!(msg.contains("cut.wav"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
        // Cut inside the header.
        let p = d.file("head.wav", &full[..20]);
        let msg = err_string(read_wav(&p));
        assert!(msg.contains("head.wav"), "{msg}");
    }

    /// The names of the files in `dir` (to check no temporary file is left behind).
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn png_round_trips_through_read_image() {
        let d = TempDir::new("writepng");
        // Gray 3x2, RGB 2x2: every value an integer in 0..=255 comes back as it was.
        let gray: Vec<f32> = vec![0.0, 1.0, 2.0, 127.0, 254.0, 255.0];
        let p = d.0.join("gray.png");
        write_png(&p, &gray, &[1, 2, 3]).unwrap();
        let s = read_image(&p).unwrap();
        assert_eq!((s.shape, s.values), (vec![1, 2, 3], gray));
        let rgb: Vec<f32> = (0..12).map(|i| (i * 20) as f32).collect();
        let p = d.0.join("rgb.png");
        write_png(&p, &rgb, &[3, 2, 2]).unwrap();
        let s = read_image(&p).unwrap();
        assert_eq!((s.shape, s.values), (vec![3, 2, 2], rgb.clone()));
        // RGBA: read_image drops alpha.
        let mut rgba = rgb.clone();
        rgba.extend([255.0, 0.0, 9.0, 3.0]);
        let p = d.0.join("rgba.png");
        write_png(&p, &rgba, &[4, 2, 2]).unwrap();
        let s = read_image(&p).unwrap();
        assert_eq!((s.shape, s.values), (vec![3, 2, 2], rgb));
        // A real-size photo-like image, overwritten in place.
        let big: Vec<f32> = (0..3 * 61 * 47).map(|i| (i * 37 % 256) as f32).collect();
        write_png(&p, &big, &[3, 61, 47]).unwrap();
        let s = read_image(&p).unwrap();
        assert_eq!((s.shape, s.values), (vec![3, 61, 47], big));
        assert_eq!(names(&d.0), ["gray.png", "rgb.png", "rgba.png"]);
    }

    #[test]
    fn png_rounds_and_clamps() {
        let d = TempDir::new("clamppng");
        let p = d.0.join("c.png");
        let v = [-5.0, 0.49, 0.5, 1.5, 254.6, 300.0, f32::NAN, f32::INFINITY];
        write_png(&p, &v, &[1, 1, 8]).unwrap();
        let s = read_image(&p).unwrap();
        assert_eq!(s.values, vec![0.0, 0.0, 1.0, 2.0, 255.0, 255.0, 0.0, 255.0]);
    }

    #[test]
    fn png_bad_shapes_name_the_file() {
        let d = TempDir::new("badpng");
        let p = d.0.join("bad.png");
        let cases: [(&[usize], usize, &str); 7] = [
            (&[2, 2, 2], 8, "C = 1 (gray), 3 (RGB) or 4"),
            (&[1, 4], 4, "expected [C, H, W]"),
            (&[1, 2, 2, 1], 4, "expected [C, H, W]"),
            (&[1, 0, 3], 0, "H and W must be"),
            (&[3, 1 << 40, 2], 0, "H and W must be"),
            (&[1, 2, 2], 5, "5 values given, the shape has 4"),
            (&[3, 2, 2], 4, "4 values given, the shape has 12"),
        ];
        for (shape, n, want) in cases {
            let msg = err_string(write_png(&p, &vec![1.0; n], shape));
            assert!(msg.contains("bad.png"), "{msg}");
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
        assert!(names(&d.0).is_empty(), "{:?}", names(&d.0));
        // A missing directory: an I/O error naming the file, nothing left behind.
        let e = write_png(&d.0.join("no/such/dir.png"), &[0.0], &[1, 1, 1]).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("dir.png"), "{e}");
        assert!(names(&d.0).is_empty());
    }

    #[test]
    fn wav_round_trips_through_read_wav() {
        let d = TempDir::new("writewav");
        // Stereo 16-bit sound read back, written, read again: identical.
        let p = d.0.join("in.wav");
        std::fs::write(
            &p,
            wav_bytes(2, &[-32768, 16384, 0, -16384, 32767, 1, 5, -7]),
        )
        .unwrap();
        let s = read_wav(&p).unwrap();
        let q = d.0.join("out.wav");
        write_wav(&q, &s.values, &s.shape, 8000).unwrap();
        assert_eq!(read_wav(&q).unwrap(), s);
        assert_eq!(std::fs::read(&q).unwrap(), std::fs::read(&p).unwrap());
        // Rounding and clamping; another rate; mono; overwrite in place.
        let v = [0.0, 1.0, -1.5, 0.6 / 32768.0, -0.4 / 32768.0, f32::NAN, 0.5];
        write_wav(&q, &v, &[1, 7], 44100).unwrap();
        let s = read_wav(&q).unwrap();
        assert_eq!(s.shape, vec![1, 7]);
        assert_eq!(s.sample_rate, Some(44100));
        let ints: Vec<i32> = s.values.iter().map(|&x| (x * 32768.0) as i32).collect();
        assert_eq!(ints, vec![0, 32767, -32768, 1, 0, 0, 16384]);
        // No frames at all is a valid (empty) WAV.
        write_wav(&q, &[], &[2, 0], 8000).unwrap();
        assert_eq!(read_wav(&q).unwrap().shape, vec![2, 0]);
        assert_eq!(names(&d.0), ["in.wav", "out.wav"]);
    }

    #[test]
    fn wav_bad_shapes_name_the_file() {
        let d = TempDir::new("badwav");
        let p = d.0.join("bad.wav");
        let cases: [(&[usize], usize, u32, &str); 6] = [
            (&[4], 4, 8000, "expected [channels, frames]"),
            (&[1, 2, 2], 4, 8000, "expected [channels, frames]"),
            (&[0, 4], 0, 8000, "1..=65535 channels"),
            (&[70000, 1], 70000, 8000, "1..=65535 channels"),
            (&[1, 4], 4, 0, "at least 1 Hz"),
            (&[2, 3], 5, 8000, "5 values given, the shape has 6"),
        ];
        for (shape, n, rate, want) in cases {
            let msg = err_string(write_wav(&p, &vec![0.0; n], shape, rate));
            assert!(msg.contains("bad.wav"), "{msg}");
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
        let msg = err_string(write_wav(&p, &[], &[2, 1 << 31], 8000));
        assert!(msg.contains("4 GiB"), "{msg}");
        assert!(names(&d.0).is_empty(), "{:?}", names(&d.0));
    }

    #[test]
    fn digits_parse_good_lines() {
        let d = TempDir::new("digitsok");
        let text = digit_line(16, 9) + &digit_line(0, 0) + "\n";
        let p = d.file("d.csv.gz", &gz(&text));
        let digits = read_digits(&p).unwrap();
        assert_eq!(digits.shape(), [2, 8, 8]);
        assert_eq!(digits.labels, vec![9, 0]);
        assert!(digits.image(0).iter().all(|&v| v == 16.0));
        assert!(digits.image(1).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn digits_bad_lines_name_the_line() {
        let d = TempDir::new("digitsbad");
        let good = digit_line(3, 4);
        let cases = [
            (good.clone() + "1,2,3\n", "line 2", "expected 65"),
            (
                good.clone() + &good + &digit_line(17, 1),
                "line 3",
                "pixel \"17\"",
            ),
            (digit_line(1, 10), "line 1", "label \"10\""),
            (
                good.clone() + &good.replace("3,", "x,"),
                "line 2",
                "pixel \"x\"",
            ),
            (
                good.clone() + &digit_line(1, 1).replace(",1\n", ",-1\n"),
                "line 2",
                "label \"-1\"",
            ),
            (good.clone() + "\n" + &good, "line 2", "blank line"),
            (String::new(), "d.csv.gz", "no digits"),
        ];
        for (text, line, what) in cases {
            let p = d.file("d.csv.gz", &gz(&text));
            let msg = err_string(read_digits(&p));
            assert!(msg.contains("d.csv.gz"), "{msg}");
            assert!(msg.contains(line), "{msg} lacks {line}");
            assert!(msg.contains(what), "{msg} lacks {what}");
        }
    }

    #[test]
    fn digits_rejects_non_gzip_and_truncated_gzip() {
        let d = TempDir::new("digitsgz");
        let p = d.file("plain.csv.gz", digit_line(1, 1).as_bytes());
        let msg = err_string(read_digits(&p));
        assert!(
            msg.contains("plain.csv.gz") && msg.contains("gzip"),
            "{msg}"
        );
        let mut text = String::new();
        for i in 0..200 {
            text += &digit_line((i % 17) as u8, (i % 10) as u8);
        }
        let full = gz(&text);
        let p = d.file("cut.csv.gz", &full[..full.len() / 2]);
        let msg = err_string(read_digits(&p));
        assert!(msg.contains("cut.csv.gz") && msg.contains("gzip"), "{msg}");
    }
}
