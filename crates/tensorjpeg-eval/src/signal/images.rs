//! The image part of the signal evaluation: seed 002's codec (WPT + PCA projection +
//! uniform quantizer + rANS, [`super::fitted::point`]) at every J, k and rate, WaLLoC's
//! linear configuration (16× projection, Gaussian compander, lossless latent coder), JPEG and
//! lossy WebP over their quality range and plain downsampling, on every evaluation photo,
//! with the basis fitted on the training photos. PSNR (peak 255) and MS-SSIM; the decoded
//! images near 0.5 bits per pixel are kept for the side-by-side crops.

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{LatentCoder, QuantizerKind};
use tensorjpeg::signal::latent_image::LatentImageCodec;
use tensorjpeg_io::Signal;

use super::config::Config;
use super::fitted;
use super::peers;
use super::row::{mps, timed, Crops, Decoded, Row};
use crate::progress::Progress;

/// An image encoder of [`peers`]: pixels, shape, quality.
type EncodeFn = fn(&[f32], [usize; 3], u8) -> tensorjpeg::Result<Vec<u8>>;
/// An image decoder of [`peers`].
type DecodeFn = fn(&[u8], [usize; 3]) -> tensorjpeg::Result<Vec<f32>>;

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

/// The image part on the photos under `dir`: every evaluation photo against every codec,
/// appending its rows to `rows` and its crop set to `crops`.
pub fn run(
    a: &Config,
    dir: &Path,
    rows: &mut Vec<Row>,
    crops: &mut Vec<Crops>,
    progress: &dyn Progress,
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
    let reps = a.reps();
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
            progress.note(&format!("image {item} {shape:?}"));
            // Ours: uniform + rANS at every J and k.
            for full in &fulls {
                for &k3 in &a.channels {
                    let k = if c == 3 { k3 } else { (k3 / 3).max(1) };
                    if k > full.k() {
                        continue;
                    }
                    let b = full.truncate(k)?;
                    for &t in &rates {
                        let (mut r, y, _) = fitted::point(
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
                    let (mut r, y, _) = fitted::point(
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
            crops.push(Crops {
                item,
                shape: s.shape.clone(),
                original: s.values.clone(),
                decoded: kept,
            });
        }
    }
    Ok(())
}
