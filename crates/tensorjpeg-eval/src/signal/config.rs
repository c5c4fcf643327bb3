//! What a signal evaluation runs on: the [`Config`] (assets, modalities, rates, training and
//! evaluation photos, qualities) and the [`Modality`] list. The defaults are those of
//! `tensorjpeg signal eval`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{bail, Result};

/// One part of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Modality {
    /// Photos against JPEG, lossy WebP and downsampling (`images/`).
    Image,
    /// Digits classified by 3-NN from compressed signals (`digits/digits.csv.gz`).
    Digits,
    /// Speech WAVs against PCM and downsampling (`audio/`).
    Audio,
    /// An MRI volume against PCM, downsampling and slice-by-slice JPEG
    /// (`volume/example4d.nii.gz`).
    Volume,
}

impl Modality {
    /// Every modality, in the order they run.
    pub const ALL: [Modality; 4] = [
        Modality::Image,
        Modality::Digits,
        Modality::Audio,
        Modality::Volume,
    ];

    /// The name as rows and `--modalities` write it: `image`, `digits`, `audio`, `volume`.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Digits => "digits",
            Modality::Audio => "audio",
            Modality::Volume => "volume",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modality {
    type Err = anyhow::Error;

    /// Parses [`Modality::name`]; the error names the valid ones.
    fn from_str(s: &str) -> Result<Modality> {
        match Modality::ALL.into_iter().find(|m| m.name() == s) {
            Some(m) => Ok(m),
            None => bail!("unknown {s:?} (valid: image, digits, audio, volume)"),
        }
    }
}

/// A signal evaluation: where the assets are, where the outputs go, what runs and at which
/// rates. [`Config::default`] is `tensorjpeg signal eval` without arguments (assets under
/// `assets/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Output directory (results.json, results.csv, run.json, report.md, plots, crops).
    pub out: PathBuf,
    /// Asset directory (images/, audio/, volume/, digits/ from scripts/fetch-assets.sh).
    pub assets: PathBuf,
    /// The parts to run (each runs once, in [`Modality::ALL`]'s order, whatever the order
    /// here).
    pub modalities: Vec<Modality>,
    /// Image rates, bits per pixel.
    pub bpp: Vec<f64>,
    /// WPT levels J tried for images (ours takes the best J and k per rate; WaLLoC's
    /// configuration uses J = 3 when listed, else the first).
    pub levels: Vec<usize>,
    /// Latent channel counts k for RGB images (gray images use k/3).
    pub channels: Vec<usize>,
    /// RGB training photos (file names under images/; empty names are skipped).
    pub train_rgb: Vec<String>,
    /// RGB evaluation photos.
    pub eval_rgb: Vec<String>,
    /// Grayscale training photos.
    pub train_gray: Vec<String>,
    /// Grayscale evaluation photos (empty: none).
    pub eval_gray: Vec<String>,
    /// JPEG / WebP qualities swept.
    pub qualities: Vec<u8>,
    /// Fewer rates and items (for tests): 3 image rates, first evaluation item only, one
    /// timing repetition.
    pub quick: bool,
    /// The command line that started the run (program name first), recorded in report.md
    /// and run.json; empty when not started from one.
    pub command: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        let names = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        Config {
            out: PathBuf::from("out/signal"),
            assets: PathBuf::from("assets"),
            modalities: Modality::ALL.to_vec(),
            bpp: vec![0.1, 0.15, 0.25, 0.35, 0.5, 0.7, 1.0, 1.5, 2.0],
            levels: vec![2, 3],
            channels: vec![12, 18, 24, 36, 48, 72, 96, 144, 192],
            train_rgb: names("ihc.png,motorcycle_left.png"),
            eval_rgb: names("astronaut.png,chelsea.png,coffee.png"),
            train_gray: names("brick.png,grass.png,gravel.png,moon.png"),
            eval_gray: names("camera.png,coins.png"),
            qualities: vec![2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95],
            quick: false,
            command: Vec::new(),
        }
    }
}

impl Config {
    /// Whether `m` is to run.
    pub fn has(&self, m: Modality) -> bool {
        self.modalities.contains(&m)
    }

    /// Checks the rates, levels, channel counts and qualities (before any work); the errors
    /// name the `signal eval` option.
    pub fn validate(&self) -> Result<()> {
        if self.bpp.iter().any(|&b| !(b.is_finite() && b > 0.0)) {
            bail!(
                "--bpp: every rate must be a finite value > 0 (got {:?})",
                self.bpp
            );
        }
        if self.levels.is_empty() || self.levels.iter().any(|&j| !(1..=6).contains(&j)) {
            bail!("--levels: WPT levels each in 1..=6 (got {:?})", self.levels);
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            bail!(
                "--channels: at least one latent channel count ≥ 1 (got {:?})",
                self.channels
            );
        }
        if self.qualities.iter().any(|&q| !(1..=100).contains(&q)) {
            bail!("--qualities: each in 1..=100 (got {:?})", self.qualities);
        }
        Ok(())
    }

    /// Timing repetitions per point (best of): 1 when quick, else 3.
    pub fn reps(&self) -> usize {
        if self.quick {
            1
        } else {
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modalities_parse_and_name() {
        for m in Modality::ALL {
            assert_eq!(m.name().parse::<Modality>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
        }
        let e = "smell".parse::<Modality>().unwrap_err().to_string();
        assert_eq!(e, "unknown \"smell\" (valid: image, digits, audio, volume)");
    }

    #[test]
    fn validation_names_the_option() {
        assert!(Config::default().validate().is_ok());
        let bad = [
            Config {
                bpp: vec![0.5, f64::NAN],
                ..Config::default()
            },
            Config {
                levels: vec![7],
                ..Config::default()
            },
            Config {
                channels: vec![],
                ..Config::default()
            },
            Config {
                qualities: vec![0],
                ..Config::default()
            },
        ];
        for (c, opt) in bad
            .iter()
            .zip(["--bpp", "--levels", "--channels", "--qualities"])
        {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(opt), "{e}");
        }
    }
}
