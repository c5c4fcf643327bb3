//! Lossless coding of int8 latents as one grayscale 8-bit image, as WaLLoC does.
//!
//! The latents are `k` channels of `h × w` values, channel-major (`latents.len() == k·h·w`).
//! They are tiled into a grid of `cols = ⌈√k⌉` columns and `rows = ⌈k/cols⌉` rows of tiles;
//! channel `c` occupies tile `(c / cols, c % cols)` and a value `v` is stored as the byte
//! `v + 128`. Tiles without a channel are filled with 128 (the code of 0).
//!
//! **1-D signals.** Audio latents have `h = 1` and a long `w`, which would make an image far
//! wider than WebP allows (16383 pixels per side). When `h = 1` and `w` exceeds the fold
//! width `F = min(4096, ⌊16383/cols⌋)`, every channel is folded into a tile of `⌈w/F⌉` rows of
//! `F` values (row-major, the tail padded with 128), so the grid is never wider than 16383.
//! The layout is a function of `(k, h, w)` only and round trips are exact. [`latent_grid`]
//! describes it.
//!
//! Two lossless image codecs are offered ([`LatentImageCodec`]): PNG (the `png` crate,
//! best compression, adaptive filtering) and lossless WebP (the pure-Rust `image-webp`).
//! Decoding checks that the image is exactly the expected grid, 8-bit gray, and that unused
//! tiles and padding hold 128; corrupt or truncated bytes give an error, never a panic.

use crate::error::{Error, Result};
use std::io::Cursor;
use std::str::FromStr;

/// The largest image side lossless WebP accepts here (libwebp's `WEBP_MAX_DIMENSION`).
pub const WEBP_MAX_DIM: usize = 16383;
/// The largest image side PNG allows (`2^31 − 1`).
const PNG_MAX_DIM: usize = (1 << 31) - 1;
/// The fold width for 1-D latents (`h = 1`), before narrowing to fit [`WEBP_MAX_DIM`].
pub const FOLD_WIDTH: usize = 4096;
/// The byte that codes the latent value 0 (and fills unused tiles and padding).
const FILL: u8 = 128;

/// A lossless image codec for int8 latents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatentImageCodec {
    /// PNG, 8-bit grayscale, best deflate compression, adaptive row filters.
    Png,
    /// Lossless WebP (VP8L), 8-bit grayscale input, through the pure-Rust `image-webp`.
    WebpLossless,
}

impl LatentImageCodec {
    /// Every codec, in a fixed order.
    pub const ALL: [LatentImageCodec; 2] = [LatentImageCodec::Png, LatentImageCodec::WebpLossless];

    /// The codec's name as [`FromStr`] parses it: `png` or `webp-lossless`.
    pub fn name(self) -> &'static str {
        match self {
            LatentImageCodec::Png => "png",
            LatentImageCodec::WebpLossless => "webp-lossless",
        }
    }

    /// The largest image side the codec accepts.
    pub fn max_dim(self) -> usize {
        match self {
            LatentImageCodec::Png => PNG_MAX_DIM,
            LatentImageCodec::WebpLossless => WEBP_MAX_DIM,
        }
    }
}

impl std::fmt::Display for LatentImageCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LatentImageCodec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        LatentImageCodec::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| Error::param("latent image codec", s, "png or webp-lossless"))
    }
}

/// Where the latents of shape `(k, h, w)` lie in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentGrid {
    /// Number of latent channels.
    pub k: usize,
    /// Height of a channel plane.
    pub h: usize,
    /// Width of a channel plane.
    pub w: usize,
    /// Tile height: `h`, or `⌈w/fold⌉` for a folded 1-D plane.
    pub tile_h: usize,
    /// Tile width: `w`, or the fold width for a folded 1-D plane.
    pub tile_w: usize,
    /// Tile columns, `⌈√k⌉`.
    pub cols: usize,
    /// Tile rows, `⌈k/cols⌉`.
    pub rows: usize,
}

impl LatentGrid {
    /// Image width in pixels.
    pub fn width(&self) -> usize {
        self.cols * self.tile_w
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.rows * self.tile_h
    }

    /// Whether 1-D planes are folded into several rows.
    pub fn folded(&self) -> bool {
        self.tile_h != self.h
    }
}

/// The smallest `c` with `c² ≥ k`.
fn ceil_sqrt(k: usize) -> usize {
    let mut c = (k as f64).sqrt() as usize;
    while c * c < k {
        c += 1;
    }
    while c > 1 && (c - 1) * (c - 1) >= k {
        c -= 1;
    }
    c
}

/// The image layout for `k` channels of `h × w` latents (all at least 1).
pub fn latent_grid(k: usize, h: usize, w: usize) -> Result<LatentGrid> {
    if k == 0 || h == 0 || w == 0 {
        return Err(Error::param(
            "latent shape (k, h, w)",
            format!("({k}, {h}, {w})"),
            "all ≥ 1",
        ));
    }
    let cols = ceil_sqrt(k);
    let rows = k.div_ceil(cols);
    let fold = FOLD_WIDTH.min(WEBP_MAX_DIM / cols).max(1);
    let (tile_h, tile_w) = if h == 1 && w > fold {
        (w.div_ceil(fold), fold)
    } else {
        (h, w)
    };
    let grid = LatentGrid {
        k,
        h,
        w,
        tile_h,
        tile_w,
        cols,
        rows,
    };
    let too_big = || {
        Error::param(
            "latent shape (k, h, w)",
            format!("({k}, {h}, {w})"),
            "a size that fits in memory",
        )
    };
    cols.checked_mul(tile_w)
        .and_then(|a| rows.checked_mul(tile_h).and_then(|b| a.checked_mul(b)))
        .ok_or_else(too_big)?;
    Ok(grid)
}

/// Pixel index of latent `(c, y, x)`.
fn pixel(g: &LatentGrid, c: usize, y: usize, x: usize) -> usize {
    let (ty, tx) = if g.folded() {
        (x / g.tile_w, x % g.tile_w)
    } else {
        (y, x)
    };
    let (row, col) = (c / g.cols, c % g.cols);
    (row * g.tile_h + ty) * g.width() + col * g.tile_w + tx
}

/// Tiles the latents into the grid image (row-major bytes).
fn tile(latents: &[i8], g: &LatentGrid) -> Vec<u8> {
    let mut img = vec![FILL; g.width() * g.height()];
    for (c, plane) in latents.chunks_exact(g.h * g.w).enumerate() {
        for (i, &v) in plane.iter().enumerate() {
            img[pixel(g, c, i / g.w, i % g.w)] = (i16::from(v) + 128) as u8;
        }
    }
    img
}

/// Reads the latents back from the grid image; the bytes outside them must all be 128.
fn untile(img: &[u8], g: &LatentGrid) -> Result<Vec<i8>> {
    let mut used = vec![false; img.len()];
    let mut out = vec![0i8; g.k * g.h * g.w];
    for (c, plane) in out.chunks_exact_mut(g.h * g.w).enumerate() {
        for (i, o) in plane.iter_mut().enumerate() {
            let p = pixel(g, c, i / g.w, i % g.w);
            used[p] = true;
            *o = (i16::from(img[p]) - 128) as i8;
        }
    }
    if img.iter().zip(&used).any(|(&b, &u)| !u && b != FILL) {
        return Err(Error::corrupt(
            "latent image: padding or an unused tile is not 128 (wrong k, h, w or damaged data)",
        ));
    }
    Ok(out)
}

/// Checks the grid against a codec's side limit and returns `(width, height)` as `u32`.
fn image_size(codec: LatentImageCodec, g: &LatentGrid) -> Result<(u32, u32)> {
    let max = codec.max_dim();
    if g.width() > max || g.height() > max {
        return Err(Error::unsupported(
            codec.name(),
            format!(
                "latents (k={}, h={}, w={}) tile into a {}×{} image; {} allows at most {max} pixels per side",
                g.k,
                g.h,
                g.w,
                g.width(),
                g.height(),
                codec.name()
            ),
        ));
    }
    Ok((g.width() as u32, g.height() as u32))
}

/// Codes `k` channels of `h × w` int8 latents (channel-major) losslessly as one image.
pub fn encode(
    codec: LatentImageCodec,
    latents: &[i8],
    k: usize,
    h: usize,
    w: usize,
) -> Result<Vec<u8>> {
    let g = latent_grid(k, h, w)?;
    if latents.len() != k * h * w {
        return Err(Error::param(
            "latent count",
            latents.len(),
            format!("k·h·w = {} for (k, h, w) = ({k}, {h}, {w})", k * h * w),
        ));
    }
    let (width, height) = image_size(codec, &g)?;
    let img = tile(latents, &g);
    let mut out = Vec::new();
    match codec {
        LatentImageCodec::Png => {
            let ext = |e: png::EncodingError| Error::External(format!("png encoder: {e}"));
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Best);
            enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
            let mut writer = enc.write_header().map_err(ext)?;
            writer.write_image_data(&img).map_err(ext)?;
            writer.finish().map_err(ext)?;
        }
        LatentImageCodec::WebpLossless => {
            image_webp::WebPEncoder::new(&mut out)
                .encode(&img, width, height, image_webp::ColorType::L8)
                .map_err(|e| Error::External(format!("webp encoder: {e}")))?;
        }
    }
    Ok(out)
}

/// Decodes latents coded by [`encode`] with the same codec and `(k, h, w)`.
pub fn decode(
    codec: LatentImageCodec,
    bytes: &[u8],
    k: usize,
    h: usize,
    w: usize,
) -> Result<Vec<i8>> {
    let g = latent_grid(k, h, w)?;
    let (width, height) = image_size(codec, &g)?;
    let run = || match codec {
        LatentImageCodec::Png => decode_png(bytes, width, height),
        LatentImageCodec::WebpLossless => decode_webp(bytes, width, height),
    };
    // Both decoders aim never to panic; a panic on hostile bytes must still not escape.
    let img = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(Error::corrupt(format!(
            "{}: the decoder failed on malformed data",
            codec.name()
        )))
    })?;
    untile(&img, &g)
}

/// The error for an image of the wrong size.
fn wrong_size(codec: &str, got: (u32, u32), want: (u32, u32)) -> Error {
    Error::corrupt(format!(
        "{codec}: image is {}×{} (width × height), expected {}×{} for these latents",
        got.0, got.1, want.0, want.1
    ))
}

/// Decodes an 8-bit grayscale PNG of exactly `width × height`.
fn decode_png(bytes: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let bad = |e: png::DecodingError| Error::corrupt(format!("png: {e}"));
    let n = width as usize * height as usize;
    let limits = png::Limits {
        bytes: n.saturating_mul(2).saturating_add(1 << 20),
    };
    let mut dec = png::Decoder::new_with_limits(bytes, limits);
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut reader = dec.read_info().map_err(bad)?;
    let info = reader.info();
    if (info.width, info.height) != (width, height) {
        return Err(wrong_size(
            "png",
            (info.width, info.height),
            (width, height),
        ));
    }
    if (info.color_type, info.bit_depth) != (png::ColorType::Grayscale, png::BitDepth::Eight) {
        return Err(Error::corrupt(format!(
            "png: image is {:?} at {:?} bits, expected 8-bit grayscale",
            info.color_type, info.bit_depth
        )));
    }
    if reader.output_buffer_size() != n {
        return Err(Error::corrupt("png: unexpected output size"));
    }
    let mut img = vec![0u8; n];
    reader.next_frame(&mut img).map_err(bad)?;
    reader.finish().map_err(bad)?;
    Ok(img)
}

/// Decodes a lossless, grayscale (R = G = B) WebP of exactly `width × height`.
fn decode_webp(bytes: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let bad = |e: image_webp::DecodingError| Error::corrupt(format!("webp: {e}"));
    let mut dec = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
    if dec.dimensions() != (width, height) {
        return Err(wrong_size("webp", dec.dimensions(), (width, height)));
    }
    if dec.is_animated() || dec.is_lossy() {
        return Err(Error::corrupt(
            "webp: expected a still, lossless (VP8L) image",
        ));
    }
    let n = width as usize * height as usize;
    let size = dec.output_buffer_size();
    let stride = match size {
        Some(s) if s == 3 * n || s == 4 * n => s / n,
        _ => {
            return Err(Error::corrupt(format!(
                "webp: unexpected output size {size:?}"
            )))
        }
    };
    dec.set_memory_limit(n.saturating_mul(8).saturating_add(1 << 20));
    let mut rgb = vec![0u8; stride * n];
    dec.read_image(&mut rgb).map_err(bad)?;
    let mut img = Vec::with_capacity(n);
    for px in rgb.chunks_exact(stride) {
        if px[0] != px[1] || px[1] != px[2] {
            return Err(Error::corrupt("webp: image is not grayscale"));
        }
        img.push(px[1]);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_latents(n: usize, seed: u64) -> Vec<i8> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v: Vec<i8> = (0..n).map(|_| rng.gen()).collect();
        v[0] = -128;
        if n > 1 {
            v[1] = 127;
            v[n - 1] = -128;
        }
        v
    }

    fn round_trip(k: usize, h: usize, w: usize, seed: u64) {
        let lat = random_latents(k * h * w, seed);
        for codec in LatentImageCodec::ALL {
            let bytes = encode(codec, &lat, k, h, w).unwrap();
            let back = decode(codec, &bytes, k, h, w).unwrap();
            assert!(back == lat, "{codec} k={k} h={h} w={w}");
        }
    }

    #[test]
    fn exact_round_trips() {
        for (i, k) in [1, 3, 12, 13].into_iter().enumerate() {
            for (h, w) in [(1, 1), (5, 7), (16, 16), (3, 40)] {
                round_trip(k, h, w, i as u64 * 100 + h as u64);
            }
        }
    }

    #[test]
    fn grid_layout() {
        assert_eq!(
            (1..=10).map(ceil_sqrt).collect::<Vec<_>>(),
            [1, 2, 2, 2, 3, 3, 3, 3, 3, 4]
        );
        let g = latent_grid(13, 2, 3).unwrap();
        assert_eq!((g.cols, g.rows, g.width(), g.height()), (4, 4, 12, 8));
        let g = latent_grid(12, 2, 3).unwrap();
        assert_eq!((g.cols, g.rows), (4, 3));
        let g = latent_grid(3, 2, 3).unwrap();
        assert_eq!((g.cols, g.rows), (2, 2));
        // Channel c fills tile (c / cols, c % cols); the unused tile holds 128.
        let g = latent_grid(3, 2, 2).unwrap();
        let lat: Vec<i8> = (0..12).map(|i| i as i8 - 6).collect();
        let img = tile(&lat, &g);
        let want: Vec<u8> = [[-6, -5, -2, -1], [-4, -3, 0, 1], [2, 3, 0, 0], [4, 5, 0, 0]]
            .iter()
            .flatten()
            .map(|&v: &i8| (i16::from(v) + 128) as u8)
            .collect();
        assert_eq!(img, want);
    }

    #[test]
    fn folded_1d_round_trips() {
        // Not folded up to the fold width, folded beyond it.
        assert!(!latent_grid(3, 1, 4096).unwrap().folded());
        let g = latent_grid(3, 1, 4097).unwrap();
        assert_eq!(
            (g.tile_h, g.tile_w, g.width(), g.height()),
            (2, 4096, 8192, 4)
        );
        // cols = 4: the fold narrows to 4095 so the image stays within WebP's limit.
        let g = latent_grid(12, 1, 20_000).unwrap();
        assert_eq!((g.tile_w, g.tile_h, g.width()), (4095, 5, 16380));
        for (k, w) in [(1, 4097), (3, 10_000), (12, 20_000), (13, 5000)] {
            round_trip(k, 1, w, w as u64);
        }
    }

    #[test]
    fn oversized_webp_grid_is_rejected() {
        let lat = vec![0i8; 2 * 20_000];
        let e = encode(LatentImageCodec::WebpLossless, &lat, 1, 2, 20_000).unwrap_err();
        assert!(e.to_string().contains("16383"), "{e}");
        assert!(decode(LatentImageCodec::WebpLossless, b"RIFF", 1, 2, 20_000).is_err());
        let bytes = encode(LatentImageCodec::Png, &lat, 1, 2, 20_000).unwrap();
        assert_eq!(
            decode(LatentImageCodec::Png, &bytes, 1, 2, 20_000).unwrap(),
            lat
        );
    }

    #[test]
    fn corrupt_and_mismatched_data_is_rejected() {
        let (k, h, w) = (3, 9, 11);
        let lat = random_latents(k * h * w, 5);
        for codec in LatentImageCodec::ALL {
            let bytes = encode(codec, &lat, k, h, w).unwrap();
            for cut in [0, 1, 8, 20, bytes.len() / 2, bytes.len() - 5] {
                assert!(
                    decode(codec, &bytes[..cut], k, h, w).is_err(),
                    "{codec} cut {cut}"
                );
            }
            for cut in bytes.len() - 4..bytes.len() {
                let _ = decode(codec, &bytes[..cut], k, h, w); // must not panic
            }
            let mut rng = rand::rngs::StdRng::seed_from_u64(9);
            for _ in 0..200 {
                let mut bad = bytes.clone();
                let at = rng.gen_range(0..bad.len());
                bad[at] ^= 1 << rng.gen_range(0..8);
                let _ = decode(codec, &bad, k, h, w); // must not panic
            }
            assert!(decode(codec, b"definitely not an image", k, h, w).is_err());
            // Wrong shapes: different image sizes, or an unused tile that is not empty.
            assert!(decode(codec, &bytes, 5, h, w).is_err());
            assert!(decode(codec, &bytes, k, h + 1, w).is_err());
            assert!(decode(codec, &bytes, k, h, w - 1).is_err());
            assert!(decode(codec, &bytes, 0, h, w).is_err());
            let four = encode(codec, &random_latents(4 * h * w, 6), 4, h, w).unwrap();
            assert!(decode(codec, &four, 3, h, w).is_err());
            // Encoder argument checks.
            assert!(encode(codec, &lat[1..], k, h, w).is_err());
            assert!(encode(codec, &[], 0, h, w).is_err());
        }
        // The other codec's bytes are rejected.
        let png = encode(LatentImageCodec::Png, &lat, k, h, w).unwrap();
        assert!(decode(LatentImageCodec::WebpLossless, &png, k, h, w).is_err());
    }

    #[test]
    fn names_parse() {
        for codec in LatentImageCodec::ALL {
            assert_eq!(codec.name().parse::<LatentImageCodec>().unwrap(), codec);
            assert_eq!(codec.to_string(), codec.name());
        }
        assert!("webp".parse::<LatentImageCodec>().is_err());
        assert!("PNG ".parse::<LatentImageCodec>().is_err());
    }
}
