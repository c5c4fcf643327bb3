//! The machine-oriented signal evaluation of seed 002 (`tensorjpeg signal eval`): seed 002's
//! codec (`tensorjpeg::signal`) against the codecs people use, at matched bits per sample,
//! on real photos, speech and an MRI volume, and digits classified from latents. Every
//! fitted codec is fitted on training signals and evaluated on others.
//!
//! [`run`] validates a [`Config`], measures every asked [`Modality`] into an [`Evaluation`]
//! (one [`Row`] per coded point) and writes results.json / results.csv (one row per coded
//! point), run.json, report.md, rate–distortion plots and side-by-side crops
//! ([`report::write`]).
//!
//! | file | what it measures |
//! |---|---|
//! | [`config`] | the inputs: [`Config`], [`Modality`] |
//! | [`row`] | the outputs: [`Row`], [`Crops`], [`Evaluation`]; timing helpers |
//! | [`peers`] | the comparison codecs: JPEG, lossy WebP, downsampling, PCM, first differences |
//! | [`fitted`] | seed 002's codec at a target rate (one row) |
//! | [`images`] | photos: ours, WaLLoC's linear configuration, JPEG, WebP, downsampling |
//! | [`digits`] | 3-NN digit classification from compressed digits ([`knn`]: the classifier) |
//! | [`series`] | what audio and volume share: ours, `pcm-rans`, `downsample` on one signal |
//! | [`audio`] | speech WAVs |
//! | [`volume`] | an MRI volume, with slice-by-slice JPEG |
//! | [`report`] | the files a run writes |
//!
//! No two of these files import each other: [`config`], [`row`] and [`peers`] import none
//! of the others, the parts import those (and [`fitted`], [`series`], [`knn`]), [`report`]
//! only [`row`], and this file calls them all.

pub mod audio;
pub mod config;
pub mod digits;
pub mod fitted;
pub mod images;
pub mod knn;
pub mod peers;
pub mod report;
pub mod row;
pub mod series;
pub mod volume;

use std::time::Instant;

use anyhow::Result;

pub use config::{Config, Modality};
pub use row::{Crops, Decoded, Evaluation, Row};

use crate::progress::Progress;
use crate::report::create_dir;

/// What [`run`] measured and wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The measurements.
    pub evaluation: Evaluation,
    /// The text of report.md.
    pub report: String,
}

/// Measures every modality of `config` (after [`Config::validate`]), in the order image,
/// digits, audio, volume, reading the assets under `config.assets`. Progress notes (one per
/// evaluated item) go to `progress`.
pub fn measure(config: &Config, progress: &dyn Progress) -> Result<Evaluation> {
    config.validate()?;
    let assets = &config.assets;
    let t0 = Instant::now();
    let mut ev = Evaluation {
        webp_lossy: peers::webp_available(),
        ..Evaluation::default()
    };
    if config.has(Modality::Image) {
        images::run(
            config,
            &assets.join("images"),
            &mut ev.rows,
            &mut ev.crops,
            progress,
        )?;
    }
    if config.has(Modality::Digits) {
        let path = assets.join("digits/digits.csv.gz");
        digits::run(config, &path, &mut ev.rows, progress)?;
    }
    if config.has(Modality::Audio) {
        audio::run(config, &assets.join("audio"), &mut ev.rows, progress)?;
    }
    if config.has(Modality::Volume) {
        let path = assets.join("volume/example4d.nii.gz");
        volume::run(config, &path, &mut ev.rows, progress)?;
    }
    ev.seconds = t0.elapsed().as_secs_f64();
    Ok(ev)
}

/// The whole evaluation: validates `config`, creates `config.out`, [`measure`]s and writes
/// every output there ([`report::write`]).
pub fn run(config: &Config, progress: &dyn Progress) -> Result<Outcome> {
    config.validate()?;
    create_dir(&config.out)?;
    let evaluation = measure(config, progress)?;
    let report = report::write(&config.out, &config.command, &evaluation)?;
    Ok(Outcome { evaluation, report })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::series::testing::quick;
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn missing_assets_are_errors_naming_them() {
        let mut rows = Vec::new();
        let e = audio::run(
            &quick(),
            Path::new("/nonexistent/audio"),
            &mut rows,
            &Silent,
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("/nonexistent/audio/Front_Center.wav"),
            "{e:#}"
        );
        let e = volume::run(
            &quick(),
            Path::new("/nonexistent/v.nii.gz"),
            &mut rows,
            &Silent,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/v.nii.gz"), "{e:#}");
        assert!(rows.is_empty());
    }
}
