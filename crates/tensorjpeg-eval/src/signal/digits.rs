//! The digits part of the signal evaluation: machine perception from compressed signals
//! (issue 7, seed 002, after WaLLoC). scikit-learn's 1,797 handwritten 8×8 digits are split
//! 70/30 by a seeded shuffle ([`split`]: 1,257 train, 540 test) and classified by a
//! brute-force 3-NN ([`super::knn::knn3`]) after every codec, train and test passing through
//! the same codec:
//!
//! - `raw`: the pixels (`0..=16`), counted at 8 bits per pixel.
//! - ours, basis fitted on the train images only (pixels scaled to `0..=255` like the other
//!   modalities; WPT `J = 3` gives 64 sub-bands of 1×1, PCA to `k = 32, 16, 8, 4`, i.e. 2×
//!   to 16× reduction), latents quantized by WaLLoC's Gaussian compander with gain
//!   [`GAIN`]`/rms` (rms of the train latents at that `k`) and coded channel by channel
//!   over the whole test set (`[k, 540]`, payload only: the gain and `k` are not counted):
//!   `wpt-pca-latents` classifies the dequantized latents (one row per latent coder: rANS,
//!   PNG, WebP-lossless — same accuracy, different bits), `wpt-pca-decoded` the pixels
//!   decoded from them (rANS bits), `pca-float` the unquantized latents (as f32).
//! - `jpeg`: every digit through JPEG at each quality; bits are the entropy-coded scan
//!   only (headers, about 230 bytes per 8×8 file, excluded — this favours JPEG; the
//!   with-header rate is in the config).
//! - `downsample`: 4×4 and 2×2 box averages at 8 bits per kept value.
//!
//! Bits per sample are coded bits per test pixel, `8·bytes / (540·64)`.
//!
//! Speeds (`encode_mps`, `decode_mps`) time the whole test set, one thread, in millions of
//! pixels per second. The whole run takes about 2 s (release).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use tensorjpeg::baselines::jpeg::jpeg_scan_bytes;
use tensorjpeg::rng::SplitMix64;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{self, LatentCoder, Quantizer};

use super::config::Config;
use super::knn::accuracy;
use super::peers;
use super::row::{mps, timed, Row};
use crate::progress::Progress;

/// Pixels per digit (8×8).
const PIX: usize = 64;
/// Shape of one digit as a signal.
const SHAPE: [usize; 3] = [1, 8, 8];
/// Seed of the train/test shuffle.
pub const SPLIT_SEED: u64 = 0;
/// WPT levels: 8×8 → 64 sub-bands of 1×1.
pub const LEVELS: usize = 3;
/// Latent channel counts swept (reduction 64/k = 2×, 4×, 8×, 16×).
pub const CHANNELS: [usize; 4] = [32, 16, 8, 4];
/// Gaussian-compander gain times the rms of the train latents (at each `k`): near 0, one
/// rms is about 6 codes. Chosen on the train split alone (split 70/30 again, seed 1: basis
/// on 879, 3-NN on 378): the smallest of the doubling ladder 1…64 whose hold-out accuracy
/// is within 1 point of the ladder's best at every `k`. Hold-out accuracy / rANS bits per
/// pixel:
///
/// | gain | k = 32 | k = 16 | k = 8 | k = 4 |
/// |---|---|---|---|---|
/// | 1 | 0.987 / 1.48 | 0.979 / 0.78 | 0.918 / 0.40 | 0.762 / 0.20 |
/// | 2 | 0.982 / 2.05 | 0.992 / 1.08 | 0.944 / 0.55 | 0.833 / 0.28 |
/// | **4** | 0.987 / 2.71 | 0.992 / 1.41 | 0.947 / 0.72 | 0.847 / 0.36 |
/// | 8 | 0.989 / 3.45 | 0.989 / 1.78 | 0.939 / 0.90 | 0.839 / 0.45 |
/// | 16 | 0.984 / 4.36 | 0.989 / 2.23 | 0.944 / 1.11 | 0.849 / 0.55 |
/// | 32 | 0.987 / 5.41 | 0.992 / 2.80 | 0.947 / 1.41 | 0.852 / 0.70 |
pub const GAIN: f32 = 4.0;

/// Indices `0..n` shuffled by Fisher–Yates with [`SplitMix64`] from `seed`, cut into the
/// first `⌊0.7·n⌋` (train) and the rest (test): 1,257 / 540 for the 1,797 digits.
pub fn split(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    let test = idx.split_off(n * 7 / 10);
    (idx, test)
}

/// Images and labels of a subset of indices.
fn gather(x: &[f32], y: &[u8], dim: usize, idx: &[usize]) -> (Vec<f32>, Vec<u8>) {
    let xs = idx
        .iter()
        .flat_map(|&i| &x[i * dim..][..dim])
        .copied()
        .collect();
    (xs, idx.iter().map(|&i| y[i]).collect())
}

/// Latents (`k` per image, image-major) of every image.
fn latents(b: &SignalBasis, imgs: &[f32]) -> Result<Vec<f32>> {
    let mut z = Vec::with_capacity(imgs.len() / PIX * b.k());
    for x in imgs.chunks_exact(PIX) {
        z.extend(b.encode_latents(x, &SHAPE)?.0);
    }
    Ok(z)
}

/// `[n, k]` ↔ `[k, n]`.
fn transpose<T: Copy>(z: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols * rows)
        .map(|i| z[(i % rows) * cols + i / rows])
        .collect()
}

/// WaLLoC's Gaussian compander with gain `c`/rms of the `train` latents.
fn quantizer(train: &[f32], c: f32) -> Quantizer {
    let ms = train.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / train.len().max(1) as f64;
    Quantizer::Gaussian {
        gain: c / ms.sqrt().max(1e-12) as f32,
    }
}

/// Dequantized latents of `z`.
fn roundtrip(q: Quantizer, z: &[f32]) -> Result<Vec<f32>> {
    Ok(q.dequantize(&q.quantize(z, false)?)?)
}

/// Encodes the test images `x` (image-major) into one stream of `[k, n]` latent codes.
fn encode_set(b: &SignalBasis, q: Quantizer, coder: LatentCoder, x: &[f32]) -> Result<Vec<u8>> {
    let n = x.len() / PIX;
    let z = transpose(&latents(b, x)?, n, b.k());
    Ok(codec::code_latents(
        coder,
        &q.quantize(&z, false)?,
        b.k(),
        &[b.k(), n],
    )?)
}

/// Decodes [`encode_set`]'s stream of `n` images: dequantized latents (image-major) and
/// decoded pixels.
fn decode_set(
    b: &SignalBasis,
    q: Quantizer,
    coder: LatentCoder,
    data: &[u8],
    n: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let codes = codec::decode_latent_codes(coder, data, b.k(), &[b.k(), n])?;
    let z = transpose(&q.dequantize(&codes)?, b.k(), n);
    let mut px = Vec::with_capacity(n * PIX);
    for zi in z.chunks_exact(b.k()) {
        px.extend(b.decode_latents(zi, &SHAPE)?);
    }
    Ok((z, px))
}

/// A digits row: modality `digits`, item `test`, bits over the `nt` test images' pixels,
/// speeds from the encode and decode seconds `secs` of the whole test set.
fn row(
    codec: &str,
    config: String,
    bytes: usize,
    nt: usize,
    acc: f64,
    secs: Option<[f64; 2]>,
) -> Row {
    let mut r = Row::new("digits", "test", codec, config, bytes, nt * PIX);
    r.accuracy = Some(acc);
    if let Some([e, d]) = secs {
        (r.encode_mps, r.decode_mps) = (mps(nt * PIX, e), mps(nt * PIX, d));
    }
    r
}

/// Runs the digits task on `digits.csv.gz` at `path`, appending its rows.
pub fn run(a: &Config, path: &Path, rows: &mut Vec<Row>, progress: &dyn Progress) -> Result<()> {
    let d = tensorjpeg_io::read_digits(path)
        .with_context(|| format!("reading the digits {}", path.display()))?;
    ensure!(d.len() >= 10, "{}: only {} digits", path.display(), d.len());
    let reps = a.reps();
    let (train_i, test_i) = split(d.len(), SPLIT_SEED);
    let nt = test_i.len();
    let (raw_tr, ytr) = gather(&d.images, &d.labels, PIX, &train_i);
    let (raw_te, yte) = gather(&d.images, &d.labels, PIX, &test_i);
    let scale = |x: &[f32]| -> Vec<f32> { x.iter().map(|v| v * 255.0 / 16.0).collect() };
    let (tr, te) = (scale(&raw_tr), scale(&raw_te));
    let split_txt = format!("{} train / {nt} test, seed {SPLIT_SEED}", train_i.len());

    let raw_acc = accuracy(&raw_tr, &ytr, &raw_te, &yte, PIX);
    let cfg = format!("pixels 0..16, 8 bits each; {split_txt}");
    rows.push(row("raw", cfg, nt * PIX, nt, raw_acc, None));
    progress.note(&format!(
        "digits: {split_txt}, raw 3-NN accuracy {raw_acc:.4}"
    ));

    // Ours: one basis with every component, fitted on the train digits, truncated per k.
    let pairs: Vec<(&[f32], &[usize])> = tr.chunks_exact(PIX).map(|x| (x, &SHAPE[..])).collect();
    let full = SignalBasis::fit(&pairs, LEVELS, PIX)?;
    for k in CHANNELS {
        let b = full.truncate(k)?;
        let (ztr, zte) = (latents(&b, &tr)?, latents(&b, &te)?);
        let q = quantizer(&ztr, GAIN);
        let qtr = roundtrip(q, &ztr)?;
        let fill = |mut r: Row| {
            (r.levels, r.k, r.reduction) = (Some(LEVELS), Some(k), Some(b.reduction()));
            r
        };
        let float_acc = accuracy(&ztr, &ytr, &zte, &yte, k);
        let cfg = format!("J={LEVELS} k={k} f32 latents");
        rows.push(fill(row("pca-float", cfg, nt * k * 4, nt, float_acc, None)));
        for coder in LatentCoder::ALL {
            let (bytes, te_s) = timed(reps, || encode_set(&b, q, coder, &te))?;
            let ((zq, px), td_s) = timed(reps, || decode_set(&b, q, coder, &bytes, nt))?;
            ensure!(zq == roundtrip(q, &zte)?, "digits: {coder} latents differ");
            let acc = accuracy(&qtr, &ytr, &zq, &yte, k);
            let cfg = format!("J={LEVELS} k={k} gaussian {coder} {q:?}");
            let (n, secs) = (bytes.len(), Some([te_s, td_s]));
            rows.push(fill(row("wpt-pca-latents", cfg.clone(), n, nt, acc, secs)));
            // The digits are independent 1×1 "images": neighbour contexts have nothing to
            // model, so the decoded row uses the plain per-channel coder.
            if coder != LatentCoder::RansPlain {
                continue;
            }
            let dtr = decode_set(&b, q, coder, &encode_set(&b, q, coder, &tr)?, ytr.len())?.1;
            let dec_acc = accuracy(&dtr, &ytr, &px, &yte, PIX);
            rows.push(fill(row("wpt-pca-decoded", cfg, n, nt, dec_acc, secs)));
            let bpp = n as f64 * 8.0 / (nt * PIX) as f64;
            progress.note(&format!(
                "digits k={k} ({}×): latents {acc:.4} at {bpp:.3} bpp (plain rANS), decoded {dec_acc:.4}, float {float_acc:.4}",
                b.reduction()
            ));
        }
    }

    // JPEG over its quality range (plus 100), train and test digits alike.
    let mut qualities = a.qualities.clone();
    if !qualities.contains(&100) {
        qualities.push(100);
    }
    let jpeg_all = |x: &[f32], q: u8| -> Result<Vec<Vec<u8>>> {
        Ok(x.chunks_exact(PIX)
            .map(|p| peers::jpeg_encode(p, SHAPE, q))
            .collect::<tensorjpeg::Result<_>>()?)
    };
    let unjpeg_all = |f: &[Vec<u8>]| -> Result<Vec<f32>> {
        Ok(f.iter()
            .map(|j| peers::jpeg_decode(j, SHAPE))
            .collect::<tensorjpeg::Result<Vec<_>>>()?
            .concat())
    };
    for q in qualities {
        let (files, te_s) = timed(reps, || jpeg_all(&te, q))?;
        let (dte, td_s) = timed(reps, || unjpeg_all(&files))?;
        let dtr = unjpeg_all(&jpeg_all(&tr, q)?)?;
        let whole: usize = files.iter().map(Vec::len).sum();
        let scan = files
            .iter()
            .map(|f| jpeg_scan_bytes(f).context("digits: JPEG without a scan"))
            .sum::<Result<usize>>()?;
        let with = whole as f64 * 8.0 / (nt * PIX) as f64;
        let cfg = format!("q={q}, scan only ({with:.2} bpp with headers)");
        let acc = accuracy(&dtr, &ytr, &dte, &yte, PIX);
        rows.push(row("jpeg", cfg, scan, nt, acc, Some([te_s, td_s])));
    }
    let best = rows
        .iter()
        .filter(|r| r.codec == "jpeg")
        .filter_map(|r| r.accuracy)
        .fold(0.0, f64::max);
    progress.note(&format!("digits: JPEG best accuracy {best:.4}"));

    // Plain resolution reduction, 8 bits per kept value.
    for f in [2usize, 4] {
        let small = |x: &[f32]| -> Result<Vec<f32>> {
            let s = x
                .chunks_exact(PIX)
                .map(|p| peers::downsample(p, &SHAPE, f).map(|s| s.0));
            let s = s.collect::<tensorjpeg::Result<Vec<_>>>()?.concat();
            Ok(s.into_iter().map(|v| v.round().clamp(0.0, 255.0)).collect())
        };
        let (ste, te_s) = timed(reps, || small(&te))?;
        let dim = PIX / (f * f);
        let cfg = format!("{0}×{0} box average, 8 bits per value", 8 / f);
        let acc = accuracy(&small(&tr)?, &ytr, &ste, &yte, dim);
        let mut r = row("downsample", cfg, nt * dim, nt, acc, Some([te_s, 0.0]));
        (r.reduction, r.decode_mps) = (Some((f * f) as f64), None);
        rows.push(r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn split_is_a_seeded_permutation() {
        let (tr, te) = split(1797, SPLIT_SEED);
        assert_eq!((tr.len(), te.len()), (1257, 540));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        assert_ne!(all[..10], (0..10).collect::<Vec<_>>()[..]);
        all.sort_unstable();
        assert_eq!(all, (0..1797).collect::<Vec<_>>());
        assert_eq!(split(1797, SPLIT_SEED), (tr, te));
        assert_ne!(split(1797, 1).0, split(1797, 0).0);
    }

    /// The real digits: `scripts/fetch-assets.sh` fetches them (CI does before the tests);
    /// a missing asset fails, as in the other real-data tests.
    fn asset() -> std::path::PathBuf {
        let dir = match std::env::var_os("TENSORJPEG_ASSETS") {
            Some(p) => std::path::PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
        };
        let p = dir.join("digits/digits.csv.gz");
        assert!(
            p.is_file(),
            "{} missing: run scripts/fetch-assets.sh",
            p.display()
        );
        p
    }

    /// Hold-out accuracy and rANS bits per pixel of `wpt-pca-latents` at `k` with gain `c`,
    /// from `train` alone (split 70/30 again, seed 1): how [`GAIN`] was chosen.
    fn holdout(train: &[f32], y: &[u8], k: usize, c: f32) -> Result<(f64, f64)> {
        let (fit, val) = split(y.len(), 1);
        let (fx, fy) = gather(train, y, PIX, &fit);
        let (vx, vy) = gather(train, y, PIX, &val);
        let pairs: Vec<(&[f32], &[usize])> =
            fx.chunks_exact(PIX).map(|x| (x, &SHAPE[..])).collect();
        let b = SignalBasis::fit(&pairs, LEVELS, k)?;
        let zf = latents(&b, &fx)?;
        let q = quantizer(&zf, c);
        let bytes = encode_set(&b, q, LatentCoder::Rans, &vx)?;
        let acc = accuracy(
            &roundtrip(q, &zf)?,
            &fy,
            &roundtrip(q, &latents(&b, &vx)?)?,
            &vy,
            k,
        );
        Ok((acc, bytes.len() as f64 * 8.0 / vx.len() as f64))
    }

    #[test]
    fn gain_is_near_the_best_on_the_train_split() {
        let d = tensorjpeg_io::read_digits(&asset()).unwrap();
        let (tri, _) = split(d.len(), SPLIT_SEED);
        let (x, y) = gather(&d.images, &d.labels, PIX, &tri);
        let x: Vec<f32> = x.iter().map(|v| v * 255.0 / 16.0).collect();
        for k in CHANNELS {
            let ladder: Vec<(f64, f64)> = [0.5, 1.0, 2.0, 4.0]
                .iter()
                .map(|&m| holdout(&x, &y, k, m * GAIN).unwrap())
                .collect();
            let best = ladder.iter().map(|p| p.0).fold(0.0, f64::max);
            assert!(ladder[1].0 >= best - 0.01, "k={k}: {ladder:?}");
            assert!(
                ladder.windows(2).all(|w| w[0].1 < w[1].1),
                "k={k}: {ladder:?}"
            );
        }
    }

    #[test]
    fn real_digits_classify_from_latents() {
        let a = Config {
            quick: true,
            ..Config::default()
        };
        let mut rows = Vec::new();
        run(&a, &asset(), &mut rows, &Silent).unwrap();
        let get = |codec: &str, k: Option<usize>| {
            let r = rows.iter().find(|r| r.codec == codec && r.k == k).unwrap();
            (r.accuracy.unwrap(), r.bits_per_sample)
        };
        let (raw, raw_bits) = get("raw", None);
        assert!(raw >= 0.97 && raw_bits == 8.0, "raw {raw}");
        let (x4, bits4) = get("wpt-pca-latents", Some(16));
        let (x16, _) = get("wpt-pca-latents", Some(4));
        assert!(x4 >= raw - 0.02, "4×: {x4} vs raw {raw}");
        assert!(x16 < x4, "16×: {x16} vs 4×: {x4}");
        assert!(bits4 < 8.0, "{bits4} bpp at 4×");
        assert!(get("wpt-pca-decoded", Some(16)).0 >= raw - 0.02);
        let jpeg = rows.iter().filter(|r| r.codec == "jpeg").count();
        assert_eq!(
            jpeg,
            a.qualities.len() + usize::from(!a.qualities.contains(&100))
        );
        assert!(rows
            .iter()
            .all(|r| r.modality == "digits" && r.accuracy.is_some()));
    }
}
