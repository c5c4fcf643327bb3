//! `signal eval`, the sampled-series part: seed 002's codec (WPT + PCA projection + uniform
//! quantizer + rANS, [`super::signal_eval::fitted_point`]) on speech and on an MRI volume,
//! against the codecs without a learned transform, at matched bits per sample.
//!
//! * **Audio** ([`audio`]): the nine 48 kHz mono 16-bit alsa-utils WAVs, in 16-bit integer
//!   units (PSNR peak 32768). The basis (J = 6 levels, 64 sub-band channels) is fitted on
//!   five of them and evaluated on the other four.
//! * **Volume** ([`volume`]): the NIfTI MRI series `example4d.nii.gz` (128×96×24 voxels,
//!   2 time points, int16 values). The basis (J = 2, D = 3: 64 sub-bands) is fitted on time
//!   point 1 and evaluated on time point 0: same subject, other time point, since this is
//!   the only public 3-D volume available offline. PSNR peak = the frame's maximum value.
//!
//! Peers: `pcm-rans` (each sample uniformly quantized, integer codes coded with tensorjpeg's
//! rANS, step bisected to meet the rate: the no-transform baseline), `downsample` (box
//! averaging by 2, 4, 8 per axis, kept samples rounded to integers and coded losslessly as
//! first differences with rANS, linear interpolation back), and for the volume `jpeg` slice
//! by slice. Every reconstruction is rounded and clamped to 16-bit integers, as a decoder
//! writing the original sample format would. The SNR (`10·log10(Σx²/Σ(x−y)²)`) is in each
//! row's `config`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::bytes::{ByteReader, ByteWriter};
use tensorjpeg::entropy;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{LatentCoder, QuantizerKind};
use tensorjpeg_eval::signal::peers;
use tensorjpeg_io::Signal;

use super::signal_eval::{fitted_point, mps, timed, EvalArgs, Row};

/// Training WAVs (stems of `.wav` files under `audio/`).
const AUDIO_TRAIN: &str = "Front_Center Front_Left Front_Right Rear_Center Noise";
/// Evaluation WAVs.
const AUDIO_EVAL: &str = "Rear_Left Rear_Right Side_Left Side_Right";
/// WPT levels for audio: `2^6 = 64` sub-band channels.
const AUDIO_LEVELS: usize = 6;
/// WPT levels for the volume: `2^(2·3) = 64` sub-band channels.
const VOLUME_LEVELS: usize = 2;
/// Latent channel counts swept (a 64-component basis, truncated).
const KS: [usize; 5] = [4, 8, 16, 32, 64];
/// The 16-bit sample range every reconstruction is rounded and clamped to.
const I16: (f32, f32) = (-32768.0, 32767.0);

/// Signal-to-noise ratio `10·log10(Σx² / Σ(x − y)²)` in dB (∞ for an exact copy).
pub(crate) fn snr_db(x: &[f32], y: &[f32]) -> f64 {
    tensorjpeg::metrics::compare(x, y, 0).snr_db()
}

/// Samples rounded and clamped to the 16-bit range.
fn to_i16(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v.round().clamp(I16.0, I16.1)).collect()
}

/// `pcm-rans` stream: `f32` step, then the codes `round(x/step)` as one rANS segment.
fn pcm_encode(x: &[f32], step: f32) -> Vec<u8> {
    let inv = 1.0 / step;
    let codes: Vec<i32> = x.iter().map(|&v| (v * inv).round() as i32).collect();
    let mut w = ByteWriter::new();
    w.f32(step);
    entropy::encode(&codes, &mut w);
    w.into_inner()
}

/// Inverse of [`pcm_encode`] for `n` samples.
fn pcm_decode(bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    let mut r = ByteReader::new(bytes, "pcm-rans stream");
    let step = r.f32()?;
    let mut codes = vec![0i32; n];
    entropy::decode(&mut r, &mut codes)?;
    r.finish()?;
    Ok(codes.into_iter().map(|q| q as f32 * step).collect())
}

/// Rate control of `pcm-rans`: the stream of `x` closest to `budget` bytes without
/// exceeding it (or the smallest reachable), by bisection on `log(step)`; with its step.
pub(crate) fn pcm_to_budget(x: &[f32], budget: usize) -> (Vec<u8>, f32) {
    let top = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    // All codes 0 at `hi`; steps far below the sample spacing at `lo`.
    let (mut lo, mut hi) = ((top * 1e-6).ln(), (top * 4.0).ln());
    let mut best = (pcm_encode(x, hi.exp()), hi.exp());
    if best.0.len() > budget {
        return best;
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let got = pcm_encode(x, mid.exp());
        if got.len() <= budget {
            hi = mid;
            best = (got, mid.exp());
        } else {
            lo = mid;
        }
        if hi - lo < 1e-3 {
            break;
        }
    }
    best
}

/// `downsample` stream: the kept samples, rounded to 16-bit integers, as first differences
/// in one rANS segment.
fn diff_encode(x: &[f32]) -> Vec<u8> {
    let q: Vec<i32> = to_i16(x).into_iter().map(|v| v as i32).collect();
    let d: Vec<i32> = q
        .iter()
        .take(1)
        .copied()
        .chain(q.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let mut w = ByteWriter::new();
    entropy::encode(&d, &mut w);
    w.into_inner()
}

/// Inverse of [`diff_encode`] for `n` samples.
fn diff_decode(bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    let mut r = ByteReader::new(bytes, "downsample stream");
    let mut d = vec![0i32; n];
    entropy::decode(&mut r, &mut d)?;
    r.finish()?;
    Ok(d.into_iter()
        .scan(0i64, |acc, v| {
            *acc += i64::from(v);
            Some(*acc as f32)
        })
        .collect())
}

/// One evaluated signal: where its rows go and how it is measured.
struct Item<'a> {
    modality: &'a str,
    item: String,
    /// PSNR peak.
    peak: f64,
    /// Timing repetitions (best of).
    reps: usize,
    /// Spatial positions (samples, voxels): the denominator of bits per sample.
    positions: usize,
}

impl Item<'_> {
    fn row(&self, codec: &str, config: String, bytes: usize) -> Row {
        Row::new(
            self.modality,
            &self.item,
            codec,
            config,
            bytes,
            self.positions,
        )
    }

    /// Pushes row `r` of reconstruction `y` of `x`: `y` rounded to 16-bit integers, its PSNR,
    /// its SNR appended to the config, and the encode and decode seconds when given.
    fn push(
        &self,
        rows: &mut Vec<Row>,
        mut r: Row,
        x: &[f32],
        y: &[f32],
        secs: Option<(f64, f64)>,
    ) -> Result<()> {
        let y = to_i16(y);
        let p = tensorjpeg::ssim::psnr(x, &y, self.peak)?;
        r.psnr_db = Some(p).filter(|v| v.is_finite());
        r.config += &format!("; SNR {:.2} dB", snr_db(x, &y));
        if let Some((te, td)) = secs {
            (r.encode_mps, r.decode_mps) = (mps(self.positions, te), mps(self.positions, td));
        }
        rows.push(r);
        Ok(())
    }

    /// Ours at every k and rate, then `pcm-rans` at every rate and `downsample` at every
    /// factor.
    fn run(
        &self,
        full: &SignalBasis,
        s: &Signal,
        rates: &[f64],
        factors: &[usize],
        rows: &mut Vec<Row>,
    ) -> Result<()> {
        let n = s.values.len();
        for k in KS.into_iter().filter(|&k| k <= full.k()) {
            let b = full.truncate(k)?;
            for &t in rates {
                let (r, y, _) = fitted_point(
                    self.modality,
                    &self.item,
                    "wpt-pca",
                    &b,
                    s,
                    QuantizerKind::Uniform,
                    LatentCoder::Rans,
                    t,
                    self.reps,
                )?;
                self.push(rows, r, &s.values, &y, None)?;
            }
        }
        for &t in rates {
            let budget = (t * self.positions as f64 / 8.0).floor() as usize;
            let (bytes, step) = pcm_to_budget(&s.values, budget);
            let (_, te) = timed(self.reps, || Ok(pcm_encode(&s.values, step)))?;
            let (y, td) = timed(self.reps, || pcm_decode(&bytes, n))?;
            let mut r = self.row(
                "pcm-rans",
                format!("uniform step {step:.4}, rANS"),
                bytes.len(),
            );
            r.target_bits = Some(t);
            self.push(rows, r, &s.values, &y, Some((te, td)))?;
        }
        let dims = s.shape.len() - 1;
        for &f in factors {
            let ((bytes, small), te) = timed(self.reps, || {
                let (small, sshape) = peers::downsample(&s.values, &s.shape, f)?;
                Ok((diff_encode(&small), sshape))
            })?;
            let m: usize = small.iter().product();
            let (y, td) = timed(self.reps, || {
                Ok(peers::upsample(
                    &diff_decode(&bytes, m)?,
                    &small,
                    f,
                    &s.shape,
                )?)
            })?;
            let config = format!("factor {f} per axis, 16-bit first differences, rANS");
            let mut r = self.row("downsample", config, bytes.len());
            r.reduction = Some(f.pow(dims as u32) as f64);
            self.push(rows, r, &s.values, &y, Some((te, td)))?;
        }
        Ok(())
    }
}

/// A WAV in 16-bit integer units (`read_wav` gives `[-1, 1)`); a missing file is an error
/// naming it.
fn load_wav(dir: &Path, stem: &str) -> Result<Signal> {
    let p = dir.join(format!("{stem}.wav"));
    let mut s = tensorjpeg_io::read_wav(&p).with_context(|| {
        format!(
            "reading audio asset {} (run scripts/fetch-assets.sh)",
            p.display()
        )
    })?;
    s.values.iter_mut().for_each(|v| *v *= 32768.0);
    Ok(s)
}

/// The audio part of `signal eval`: the basis (J = 6, k = 64) fitted on the five training
/// WAVs of `dir`, every evaluation WAV coded at 0.5, 1, 2, 3, 4 bits per sample (quick: 1
/// and 2, first file only) with k ∈ {4, 8, 16, 32, 64}, against `pcm-rans` at the same
/// rates and `downsample` by 2, 4 and 8. PSNR with peak 32768.
pub fn audio(a: &EvalArgs, dir: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let train = AUDIO_TRAIN
        .split(' ')
        .map(|n| load_wav(dir, n))
        .collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&[f32], &[usize])> = train
        .iter()
        .map(|s| (s.values.as_slice(), s.shape.as_slice()))
        .collect();
    let full = SignalBasis::fit(&pairs, AUDIO_LEVELS, KS[KS.len() - 1])
        .context("fitting the audio basis")?;
    let rates: &[f64] = if a.quick {
        &[1.0, 2.0]
    } else {
        &[0.5, 1.0, 2.0, 3.0, 4.0]
    };
    for name in AUDIO_EVAL
        .split(' ')
        .take(if a.quick { 1 } else { usize::MAX })
    {
        let s = load_wav(dir, name)?;
        if s.shape[0] != full.channels {
            bail!(
                "{}: {} channels, the training WAVs have {}",
                dir.join(format!("{name}.wav")).display(),
                s.shape[0],
                full.channels
            );
        }
        let item = Item {
            modality: "audio",
            item: name.to_string(),
            peak: 32768.0,
            reps: if a.quick { 1 } else { 3 },
            positions: s.shape[1..].iter().product(),
        };
        if !a.quiet {
            eprintln!(
                "audio {} {:?} at {:?} Hz",
                item.item, s.shape, s.sample_rate
            );
        }
        item.run(&full, &s, rates, &[2, 4, 8], rows)?;
    }
    Ok(())
}

/// Baseline JPEG of every axial slice (`[ny, nx]` planes along z) of `x` (`[1, nz, ny, nx]`)
/// scaled to 0..255 by `255/max`: baseline JPEG has 8-bit samples, so its quantization to
/// 256 levels is part of its error. The 4-byte scale is not counted.
fn jpeg_slices(x: &[f32], shape: &[usize], max: f32, q: u8) -> Result<Vec<Vec<u8>>> {
    let plane = shape[2] * shape[3];
    x.chunks_exact(plane)
        .map(|sl| {
            let sl: Vec<f32> = sl.iter().map(|v| v * 255.0 / max).collect();
            Ok(peers::jpeg_encode(&sl, [1, shape[2], shape[3]], q)?)
        })
        .collect()
}

/// Inverse of [`jpeg_slices`].
fn unjpeg_slices(files: &[Vec<u8>], shape: &[usize], max: f32) -> Result<Vec<f32>> {
    let mut y = Vec::with_capacity(shape.iter().product());
    for f in files {
        y.extend(
            peers::jpeg_decode(f, [1, shape[2], shape[3]])?
                .into_iter()
                .map(|v| v * max / 255.0),
        );
    }
    Ok(y)
}

/// The volume part of `signal eval` on the NIfTI series at `path`: the basis (J = 2, D = 3,
/// k = 64) fitted on time point 1, time point 0 coded at 0.25, 0.5, 1, 2 bits per voxel
/// (quick: 0.5 and 1) with k ∈ {4, 8, 16, 32, 64}, against `pcm-rans`, `downsample` by 2 and
/// 4 per axis and slice-by-slice `jpeg` at `a.qualities`. PSNR peak = the frame's maximum.
pub fn volume(a: &EvalArgs, path: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let vol = tensorjpeg_io::read_nifti(path).with_context(|| {
        format!(
            "reading volume asset {} (run scripts/fetch-assets.sh)",
            path.display()
        )
    })?;
    if vol.frames() < 2 {
        bail!(
            "{}: {} time point(s); fitting on one and evaluating another needs 2",
            path.display(),
            vol.frames()
        );
    }
    let (fit, s) = (vol.frame(1)?, vol.frame(0)?);
    if let Some(v) = fit
        .values
        .iter()
        .chain(&s.values)
        .find(|v| v.fract() != 0.0 || !(I16.0..=I16.1).contains(*v))
    {
        bail!("{}: voxel {v} is not a 16-bit integer", path.display());
    }
    let full = SignalBasis::fit(
        &[(&fit.values, &fit.shape)],
        VOLUME_LEVELS,
        KS[KS.len() - 1],
    )
    .context("fitting the volume basis")?;
    let max = s.values.iter().fold(0f32, |m, &v| m.max(v));
    if max <= 0.0 {
        bail!(
            "{}: frame 0 has no positive voxel (PSNR peak = its maximum)",
            path.display()
        );
    }
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("volume");
    let item = Item {
        modality: "volume",
        item: stem.split('.').next().unwrap_or(stem).to_string(),
        peak: f64::from(max),
        reps: if a.quick { 1 } else { 3 },
        positions: s.shape[1..].iter().product(),
    };
    if !a.quiet {
        eprintln!(
            "volume {} frame 0 {:?}, max {max}, basis fitted on frame 1",
            item.item, s.shape
        );
    }
    let rates: &[f64] = if a.quick {
        &[0.5, 1.0]
    } else {
        &[0.25, 0.5, 1.0, 2.0]
    };
    item.run(&full, &s, rates, &[2, 4], rows)?;
    for &q in &a.qualities {
        let (files, te) = timed(item.reps, || jpeg_slices(&s.values, &s.shape, max, q))?;
        let (y, td) = timed(item.reps, || unjpeg_slices(&files, &s.shape, max))?;
        let bytes = files.iter().map(Vec::len).sum();
        let config = format!("q={q}, {} axial slices scaled to 8 bits", files.len());
        item.push(
            rows,
            item.row("jpeg", config, bytes),
            &s.values,
            &y,
            Some((te, td)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real assets: `scripts/fetch-assets.sh` fetches them; a missing one fails.
    fn asset(rel: &str) -> std::path::PathBuf {
        let dir = match std::env::var_os("TENSORJPEG_ASSETS") {
            Some(p) => std::path::PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
        };
        let p = dir.join(rel);
        assert!(
            p.exists(),
            "{} missing: run scripts/fetch-assets.sh",
            p.display()
        );
        p
    }

    fn quick() -> EvalArgs {
        #[derive(clap::Parser)]
        struct P {
            #[command(flatten)]
            a: EvalArgs,
        }
        <P as clap::Parser>::try_parse_from(["eval", "--quick", "--quiet"])
            .unwrap()
            .a
    }

    /// Synthetic speech-like samples in 16-bit units.
    fn synthetic(n: usize) -> Vec<f32> {
        let mut s = 12345u64;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((s >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 400.0;
                (3000.0 * (i as f32 * 0.031).sin() * (i as f32 * 0.0007).cos() + noise).round()
            })
            .collect()
    }

    #[test]
    fn pcm_bisection_meets_the_target() {
        let x = synthetic(20_000);
        let mut last = f64::NEG_INFINITY;
        for bits in [0.5, 1.0, 2.0, 4.0, 8.0] {
            let budget = (bits * x.len() as f64 / 8.0) as usize;
            let (b, step) = pcm_to_budget(&x, budget);
            let got = b.len() as f64 * 8.0 / x.len() as f64;
            assert!(
                got <= bits && got > 0.9 * bits,
                "{bits}: {got} bits, step {step}"
            );
            let y = pcm_decode(&b, x.len()).unwrap();
            let err = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err <= 0.5 * step * 1.001, "{err} > step/2 = {}", step / 2.0);
            let snr = snr_db(&x, &y);
            assert!(snr > last, "SNR {snr} dB at {bits} bits, {last} dB below");
            last = snr;
        }
        // Below the smallest stream: the smallest stream (all codes 0).
        let (b, _) = pcm_to_budget(&x, 1);
        assert!(b.len() < 20 && pcm_decode(&b, x.len()).unwrap().iter().all(|&v| v == 0.0));
        // The downsample stream is lossless on 16-bit integers.
        let d = diff_decode(&diff_encode(&x), x.len()).unwrap();
        assert_eq!(d, x);
    }

    #[test]
    fn snr_of_known_errors() {
        let x = [3.0f32, 4.0];
        assert!((snr_db(&x, &[3.0, 3.0]) - 10.0 * 25f64.log10()).abs() < 1e-12);
        assert!((snr_db(&[1.0; 8], &[1.1; 8]) - 20.0).abs() < 1e-4);
        assert_eq!(snr_db(&x, &x), f64::INFINITY);
    }

    /// Rows of `codec`, at `k` for the fitted ones, in rate order.
    fn series<'a>(rows: &'a [Row], codec: &str, k: Option<usize>) -> Vec<&'a Row> {
        rows.iter()
            .filter(|r| r.codec == codec && r.k == k)
            .collect()
    }

    fn check_rates(rows: &[Row], codec: &str, k: Option<usize>, n: usize) {
        let s = series(rows, codec, k);
        assert_eq!(s.len(), n, "{codec} k={k:?}");
        for r in &s {
            let t = r.target_bits.unwrap();
            let b = r.bits_per_sample;
            assert!(b <= t + 0.01 && b > 0.8 * t, "{codec}: {b} bits for {t}");
        }
        let p: Vec<f64> = s.iter().map(|r| r.psnr_db.unwrap()).collect();
        assert!(p.windows(2).all(|w| w[1] > w[0]), "{codec} k={k:?}: {p:?}");
    }

    #[test]
    fn real_audio_quick() {
        let mut rows = Vec::new();
        audio(&quick(), &asset("audio"), &mut rows).unwrap();
        assert!(rows
            .iter()
            .all(|r| r.modality == "audio" && r.item == "Rear_Left"));
        assert_eq!(series(&rows, "wpt-pca", None).len(), 0);
        for k in KS {
            assert_eq!(series(&rows, "wpt-pca", Some(k)).len(), 2);
        }
        check_rates(&rows, "wpt-pca", Some(64), 2);
        check_rates(&rows, "pcm-rans", None, 2);
        assert_eq!(series(&rows, "downsample", None).len(), 3);
        // The transform pays: at 2 bits per sample k = 64 beats plain PCM.
        let at2 = |c: &str, k| series(&rows, c, k)[1].psnr_db.unwrap();
        assert!(at2("wpt-pca", Some(64)) > at2("pcm-rans", None) + 3.0);
        assert!(rows
            .iter()
            .all(|r| r.config.contains("SNR") && r.encode_mps.is_some()));
    }

    #[test]
    fn real_volume_quick() {
        let a = quick();
        let mut rows = Vec::new();
        volume(&a, &asset("volume/example4d.nii.gz"), &mut rows).unwrap();
        assert!(rows
            .iter()
            .all(|r| r.modality == "volume" && r.item == "example4d"));
        check_rates(&rows, "wpt-pca", Some(64), 2);
        check_rates(&rows, "pcm-rans", None, 2);
        assert_eq!(series(&rows, "downsample", None).len(), 2);
        let jpeg = series(&rows, "jpeg", None);
        assert_eq!(jpeg.len(), a.qualities.len());
        assert!(jpeg
            .windows(2)
            .all(|w| w[1].bits_per_sample > w[0].bits_per_sample));
        let at1 = |c: &str, k| series(&rows, c, k)[1].psnr_db.unwrap();
        let ours = at1("wpt-pca", Some(64));
        assert!(ours > at1("pcm-rans", None));
        // …and every slice-by-slice JPEG that is no larger.
        let beaten = jpeg.iter().filter(|r| r.bits_per_sample <= 1.0);
        assert!(beaten.clone().all(|r| r.psnr_db.unwrap() < ours));
        assert!(beaten.count() > 3);
    }

    #[test]
    fn missing_assets_are_errors_naming_them() {
        let mut rows = Vec::new();
        let e = audio(&quick(), Path::new("/nonexistent/audio"), &mut rows).unwrap_err();
        assert!(
            format!("{e:#}").contains("/nonexistent/audio/Front_Center.wav"),
            "{e:#}"
        );
        let e = volume(&quick(), Path::new("/nonexistent/v.nii.gz"), &mut rows).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/v.nii.gz"), "{e:#}");
        assert!(rows.is_empty());
    }
}
