//! `tensorjpeg signal eval`: seed 002's codec against the codecs people use, at matched bits
//! per sample, on real photos, speech and an MRI volume; digits classified from latents
//! ([`super::signal_digits`]). Writes results.json / results.csv (one row per coded point),
//! report.md, rate–distortion plots and side-by-side crops ([`super::signal_report`]).
//!
//! Every fitted codec is fitted on training signals and evaluated on others.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{self, LatentCoder, Quantizer, QuantizerKind};
use tensorjpeg::signal::latent_image::LatentImageCodec;
use tensorjpeg_eval::signal::peers;
use tensorjpeg_io::Signal;

use super::model::assets_dir;

/// Arguments of `signal eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Output directory.
    #[arg(long, default_value = "out/signal")]
    pub out: PathBuf,
    /// Asset directory (images/, audio/, volume/, digits/ from scripts/fetch-assets.sh).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Modalities: image, digits, audio, volume.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "image,digits,audio,volume"
    )]
    pub modalities: Vec<String>,
    /// Image rates, bits per pixel.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.15,0.25,0.35,0.5,0.7,1,1.5,2"
    )]
    pub bpp: Vec<f64>,
    /// WPT levels J tried for images (ours takes the best J and k per rate; WaLLoC's
    /// configuration uses J = 3 when listed, else the first).
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    pub levels: Vec<usize>,
    /// Latent channel counts k for RGB images (gray images use k/3).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "12,18,24,36,48,72,96,144,192"
    )]
    pub channels: Vec<usize>,
    /// RGB training photos (file names under images/).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ihc.png,motorcycle_left.png"
    )]
    pub train_rgb: Vec<String>,
    /// RGB evaluation photos.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "astronaut.png,chelsea.png,coffee.png"
    )]
    pub eval_rgb: Vec<String>,
    /// Grayscale training photos.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "brick.png,grass.png,gravel.png,moon.png"
    )]
    pub train_gray: Vec<String>,
    /// Grayscale evaluation photos (empty: none).
    #[arg(long, value_delimiter = ',', default_value = "camera.png,coins.png")]
    pub eval_gray: Vec<String>,
    /// JPEG / WebP qualities swept.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,5,10,15,20,30,40,50,60,70,80,90,95"
    )]
    pub qualities: Vec<u8>,
    /// Fewer rates and items (for tests): 3 rates, first evaluation photo only.
    #[arg(long)]
    pub quick: bool,
    /// No progress messages.
    #[arg(long)]
    pub quiet: bool,
}

/// One coded point.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// image, digits, audio or volume.
    pub modality: String,
    /// The evaluated signal (file stem, or the test split).
    pub item: String,
    /// Codec family: wpt-pca (ours, uniform + rANS), walloc-linear (Gaussian compander +
    /// lossless image), jpeg, webp, downsample, pcm-rans.
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

/// An image encoder of [`tensorjpeg_eval::signal::peers`]: pixels, shape, quality.
type EncodeFn = fn(&[f32], [usize; 3], u8) -> tensorjpeg::Result<Vec<u8>>;
/// An image decoder of [`tensorjpeg_eval::signal::peers`].
type DecodeFn = fn(&[u8], [usize; 3]) -> tensorjpeg::Result<Vec<f32>>;

/// A decoded image kept for the side-by-side crops.
pub struct Decoded {
    /// Label (codec and rate).
    pub label: String,
    /// Bits per pixel.
    pub bpp: f64,
    /// Pixels, `[C, H, W]`.
    pub pixels: Vec<f32>,
}

/// Best-of-`n` wall time of `f`, and its last result.
pub(crate) fn timed<T>(n: usize, mut f: impl FnMut() -> Result<T>) -> Result<(T, f64)> {
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

pub(crate) fn mps(positions: usize, secs: f64) -> Option<f64> {
    Some(positions as f64 / secs / 1e6)
}

/// Image quality of `y` against `x` (`[C, H, W]`, 0..255): PSNR and MS-SSIM (when large
/// enough).
fn image_quality(x: &[f32], y: &[f32], shape: [usize; 3]) -> Result<(Option<f64>, Option<f64>)> {
    let y: Vec<f32> = y.iter().map(|v| v.round().clamp(0.0, 255.0)).collect();
    let p = tensorjpeg::ssim::psnr(x, &y, 255.0)?;
    let m = if shape[1].min(shape[2]) > 160 {
        Some(tensorjpeg::ssim::ms_ssim(x, &y, shape, 255.0)?)
    } else {
        None
    };
    Ok((Some(p).filter(|v| v.is_finite()), m))
}

fn load_image(dir: &Path, name: &str) -> Result<Signal> {
    let p = dir.join(name);
    tensorjpeg_io::read_image(&p)
        .with_context(|| format!("reading evaluation image {}", p.display()))
}

fn stem(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_string()
}

/// Fits a basis with every component on the named images.
fn fit_images(dir: &Path, names: &[String], levels: usize) -> Result<SignalBasis> {
    let imgs = names
        .iter()
        .map(|n| load_image(dir, n))
        .collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&[f32], &[usize])> = imgs
        .iter()
        .map(|s| (s.values.as_slice(), s.shape.as_slice()))
        .collect();
    let c = imgs.first().map_or(1, |s| s.shape[0]);
    let n = tensorjpeg::signal::basis::subbands(2, c, levels)?;
    Ok(SignalBasis::fit(&pairs, levels, n)?)
}

/// Our codec at a target rate: rate-controlled encode, timed encode and decode, metrics.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fitted_point(
    modality: &str,
    item: &str,
    family: &str,
    basis: &SignalBasis,
    s: &Signal,
    kind: QuantizerKind,
    coder: LatentCoder,
    target: f64,
    reps: usize,
) -> Result<(Row, Vec<f32>, Quantizer)> {
    let positions: usize = s.shape[1..].iter().product();
    let (bytes, q) = codec::encode_to_rate(
        basis,
        &s.values,
        &s.shape,
        kind,
        coder,
        target,
        s.sample_rate,
    )?;
    let (_, enc) = timed(reps, || {
        Ok(codec::encode(basis, &s.values, &s.shape, q, coder)?)
    })?;
    let ((y, _), dec) = timed(reps, || Ok(codec::decode(basis, &bytes)?))?;
    let mut r = Row::new(
        modality,
        item,
        family,
        format!(
            "J={} k={} {} {} {:?}",
            basis.levels,
            basis.k(),
            kind.name(),
            coder,
            q
        ),
        bytes.len(),
        positions,
    );
    r.levels = Some(basis.levels);
    r.k = Some(basis.k());
    r.reduction = Some(basis.reduction());
    r.target_bits = Some(target);
    r.encode_mps = mps(positions, enc);
    r.decode_mps = mps(positions, dec);
    Ok((r, y, q))
}

/// The image part: every evaluation photo against every codec.
fn images(
    a: &EvalArgs,
    dir: &Path,
    rows: &mut Vec<Row>,
    crops: &mut Vec<super::signal_report::Crops>,
) -> Result<()> {
    let rates: Vec<f64> = if a.quick {
        vec![0.25, 0.5, 1.0]
    } else {
        a.bpp.clone()
    };
    let sets = [
        (&a.train_rgb, &a.eval_rgb, 3usize),
        (&a.train_gray, &a.eval_gray, 1),
    ];
    let reps = if a.quick { 1 } else { 3 };
    for (train, eval, c) in sets {
        let nonempty = |v: &Vec<String>| -> Vec<String> {
            v.iter().filter(|n| !n.is_empty()).cloned().collect()
        };
        let (train, eval) = (&nonempty(train), &nonempty(eval));
        if eval.is_empty() || train.is_empty() {
            continue;
        }
        let mut fulls = Vec::new();
        for &j in &a.levels {
            let full = fit_images(dir, train, j)?;
            if full.channels != c {
                bail!(
                    "training photos {train:?} have {} channels, expected {c}",
                    full.channels
                );
            }
            fulls.push(full);
        }
        let walloc_j = if a.levels.contains(&3) {
            3
        } else {
            a.levels[0]
        };
        let eval: Vec<&String> = if a.quick {
            eval.iter().take(1).collect()
        } else {
            eval.iter().collect()
        };
        for name in eval {
            let s = load_image(dir, name)?;
            if s.shape[0] != c {
                bail!(
                    "{name}: {} channels, but the {c}-channel set was asked for",
                    s.shape[0]
                );
            }
            let item = stem(name);
            let shape = [s.shape[0], s.shape[1], s.shape[2]];
            let positions = shape[1] * shape[2];
            let mut kept = Vec::new();
            if !a.quiet {
                eprintln!("image {item} {shape:?}");
            }
            // Ours: uniform + rANS at every J and k.
            for full in &fulls {
                for &k3 in &a.channels {
                    let k = if c == 3 { k3 } else { (k3 / 3).max(1) };
                    if k > full.k() {
                        continue;
                    }
                    let b = full.truncate(k)?;
                    for &t in &rates {
                        let (mut r, y, _) = fitted_point(
                            "image",
                            &item,
                            "wpt-pca",
                            &b,
                            &s,
                            QuantizerKind::Uniform,
                            LatentCoder::Rans,
                            t,
                            reps,
                        )?;
                        (r.psnr_db, r.ms_ssim) = image_quality(&s.values, &y, shape)?;
                        if (t - 0.5).abs() < 1e-9 && full.levels == walloc_j {
                            kept.push(Decoded {
                                label: format!("wpt-pca J={} k={k}", full.levels),
                                bpp: r.bits_per_sample,
                                pixels: y,
                            });
                        }
                        rows.push(r);
                    }
                }
            }
            // WaLLoC's linear configuration: 16× reduction, Gaussian compander, lossless image.
            let full = fulls.iter().find(|f| f.levels == walloc_j).expect("fitted");
            let k16 = (full.subbands() / 16).max(1);
            let b = full.truncate(k16.min(full.k()))?;
            for coder in [
                LatentCoder::Image(LatentImageCodec::WebpLossless),
                LatentCoder::Image(LatentImageCodec::Png),
                LatentCoder::Rans,
            ] {
                for &t in &rates {
                    let (mut r, y, _) = fitted_point(
                        "image",
                        &item,
                        "walloc-linear",
                        &b,
                        &s,
                        QuantizerKind::Gaussian,
                        coder,
                        t,
                        reps,
                    )?;
                    (r.psnr_db, r.ms_ssim) = image_quality(&s.values, &y, shape)?;
                    if (t - 0.5).abs() < 1e-9
                        && coder == LatentCoder::Image(LatentImageCodec::WebpLossless)
                    {
                        kept.push(Decoded {
                            label: format!("walloc-linear k={k16}"),
                            bpp: r.bits_per_sample,
                            pixels: y,
                        });
                    }
                    rows.push(r);
                }
            }
            // JPEG and lossy WebP over their quality range.
            let mut peers_run: Vec<(&str, EncodeFn, DecodeFn)> =
                vec![("jpeg", peers::jpeg_encode, peers::jpeg_decode)];
            if peers::webp_available() {
                peers_run.push((
                    "webp",
                    |x, s, q| peers::webp_encode(x, s, f32::from(q)),
                    peers::webp_decode,
                ));
            }
            for (name, enc, dec) in peers_run {
                let mut best_half: Option<Decoded> = None;
                for &q in &a.qualities {
                    let (bytes, te) = timed(reps, || Ok(enc(&s.values, shape, q)?))?;
                    let (y, td) = timed(reps, || Ok(dec(&bytes, shape)?))?;
                    let mut r = Row::new(
                        "image",
                        &item,
                        name,
                        format!("q={q}"),
                        bytes.len(),
                        positions,
                    );
                    (r.psnr_db, r.ms_ssim) = image_quality(&s.values, &y, shape)?;
                    r.encode_mps = mps(positions, te);
                    r.decode_mps = mps(positions, td);
                    if r.bits_per_sample <= 0.5
                        && best_half.as_ref().is_none_or(|d| d.bpp < r.bits_per_sample)
                    {
                        best_half = Some(Decoded {
                            label: format!("{name} q={q}"),
                            bpp: r.bits_per_sample,
                            pixels: y,
                        });
                    }
                    rows.push(r);
                }
                kept.extend(best_half);
            }
            // Plain resolution reduction, the small image stored as PNG.
            for f in [2usize, 4, 8] {
                let ((small, sshape), te) =
                    timed(reps, || Ok(peers::downsample(&s.values, &s.shape, f)?))?;
                let small: Vec<f32> = small.iter().map(|v| v.round().clamp(0.0, 255.0)).collect();
                let png = tensorjpeg_io::encode_png(&small, &sshape)?;
                let (y, td) = timed(reps, || Ok(peers::upsample(&small, &sshape, f, &s.shape)?))?;
                let mut r = Row::new(
                    "image",
                    &item,
                    "downsample",
                    format!("factor {f} per axis, PNG"),
                    png.len(),
                    positions,
                );
                r.reduction = Some((f * f) as f64);
                (r.psnr_db, r.ms_ssim) = image_quality(&s.values, &y, shape)?;
                r.encode_mps = mps(positions, te);
                r.decode_mps = mps(positions, td);
                if f == 4 {
                    kept.push(Decoded {
                        label: "downsample ×4".into(),
                        bpp: r.bits_per_sample,
                        pixels: y,
                    });
                }
                rows.push(r);
            }
            crops.push((item, s.shape.clone(), s.values.clone(), kept));
        }
    }
    Ok(())
}

/// Runs `signal eval`.
pub fn run(a: &EvalArgs) -> Result<()> {
    let assets = a.assets.clone().unwrap_or_else(assets_dir);
    for m in &a.modalities {
        if !["image", "digits", "audio", "volume"].contains(&m.as_str()) {
            bail!("--modalities: unknown {m:?} (valid: image, digits, audio, volume)");
        }
    }
    if a.bpp.iter().any(|&b| !(b.is_finite() && b > 0.0)) {
        bail!(
            "--bpp: every rate must be a finite value > 0 (got {:?})",
            a.bpp
        );
    }
    if a.levels.is_empty() || a.levels.iter().any(|&j| !(1..=6).contains(&j)) {
        bail!("--levels: WPT levels each in 1..=6 (got {:?})", a.levels);
    }
    if a.channels.is_empty() || a.channels.contains(&0) {
        bail!(
            "--channels: at least one latent channel count ≥ 1 (got {:?})",
            a.channels
        );
    }
    if a.qualities.iter().any(|&q| !(1..=100).contains(&q)) {
        bail!("--qualities: each in 1..=100 (got {:?})", a.qualities);
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let mut crops = Vec::new();
    let has = |m: &str| a.modalities.iter().any(|x| x == m);
    if has("image") {
        images(a, &assets.join("images"), &mut rows, &mut crops)?;
    }
    if has("digits") {
        super::signal_digits::run(a, &assets.join("digits/digits.csv.gz"), &mut rows)?;
    }
    if has("audio") {
        super::signal_series::audio(a, &assets.join("audio"), &mut rows)?;
    }
    if has("volume") {
        super::signal_series::volume(a, &assets.join("volume/example4d.nii.gz"), &mut rows)?;
    }
    super::signal_report::write(a, &rows, &crops, t0.elapsed().as_secs_f64())
}
