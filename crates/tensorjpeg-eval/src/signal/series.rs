//! What the sampled-series parts of the signal evaluation (`audio.rs`, `volume.rs`)
//! share: one evaluated signal ([`Item`]) measured with seed 002's codec
//! (WPT + PCA projection + uniform quantizer + rANS, [`super::fitted::point`]) at every k
//! and rate, against the codecs without a learned transform, at matched bits per sample:
//! `pcm-rans` (each sample uniformly quantized, integer codes coded with tensorjpeg's rANS,
//! step bisected to meet the rate: the no-transform baseline) and `downsample` (box
//! averaging by an integer factor per axis, kept samples rounded to integers and coded
//! losslessly as first differences with rANS, linear interpolation back); both in
//! [`super::peers`]. Every reconstruction is rounded and clamped to 16-bit integers, as a
//! decoder writing the original sample format would. The SNR (`10·log10(Σx²/Σ(x−y)²)`) is
//! in each row's `config`.

use anyhow::Result;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{LatentCoder, QuantizerKind};
use tensorjpeg_io::Signal;

use super::fitted;
use super::peers;
use super::row::{mps, timed, Row};
use tensorjpeg::metrics::snr_db;

/// Latent channel counts swept (a 64-component basis, truncated).
pub const KS: [usize; 5] = [4, 8, 16, 32, 64];

/// One evaluated signal: where its rows go and how it is measured.
pub struct Item<'a> {
    /// `audio` or `volume`.
    pub modality: &'a str,
    /// The signal's name.
    pub item: String,
    /// PSNR peak.
    pub peak: f64,
    /// Timing repetitions (best of).
    pub reps: usize,
    /// Spatial positions (samples, voxels): the denominator of bits per sample.
    pub positions: usize,
}

impl Item<'_> {
    /// A row of this signal.
    pub fn row(&self, codec: &str, config: String, bytes: usize) -> Row {
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
    pub fn push(
        &self,
        rows: &mut Vec<Row>,
        mut r: Row,
        x: &[f32],
        y: &[f32],
        secs: Option<(f64, f64)>,
    ) -> Result<()> {
        let y = peers::to_i16(y);
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
    pub fn run(
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
                let (r, y, _) = fitted::point(
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
            let (bytes, step) = peers::pcm_to_budget(&s.values, budget);
            let (_, te) = timed(self.reps, || Ok(peers::pcm_encode(&s.values, step)))?;
            let (y, td) = timed(self.reps, || Ok(peers::pcm_decode(&bytes, n)?))?;
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
                Ok((peers::diff_encode(&small), sshape))
            })?;
            let m: usize = small.iter().product();
            let (y, td) = timed(self.reps, || {
                Ok(peers::upsample(
                    &peers::diff_decode(&bytes, m)?,
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

/// What the audio and volume tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use super::super::config::Config;
    use super::super::row::Row;

    /// The real assets: `scripts/fetch-assets.sh` fetches them; a missing one fails.
    pub fn asset(rel: &str) -> std::path::PathBuf {
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

    /// `signal eval --quick`.
    pub fn quick() -> Config {
        Config {
            quick: true,
            ..Config::default()
        }
    }

    /// Rows of `codec`, at `k` for the fitted ones, in rate order.
    pub fn series<'a>(rows: &'a [Row], codec: &str, k: Option<usize>) -> Vec<&'a Row> {
        rows.iter()
            .filter(|r| r.codec == codec && r.k == k)
            .collect()
    }

    /// `n` rows of `codec` at `k`, each within its target rate, PSNR rising with rate.
    pub fn check_rates(rows: &[Row], codec: &str, k: Option<usize>, n: usize) {
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
}
