//! The audio part of the signal evaluation: the nine 48 kHz mono 16-bit alsa-utils WAVs, in
//! 16-bit integer units (PSNR peak 32768). The basis (J = 6 levels, 64 sub-band channels) is
//! fitted on five of them and evaluated on the other four, against `pcm-rans` and
//! `downsample` ([`super::series`]).

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg_io::Signal;

use super::config::Config;
use super::row::Row;
use super::series::{Item, KS};
use crate::progress::Progress;

/// Training WAVs (stems of `.wav` files under `audio/`).
const AUDIO_TRAIN: &str = "Front_Center Front_Left Front_Right Rear_Center Noise";
/// Evaluation WAVs.
const AUDIO_EVAL: &str = "Rear_Left Rear_Right Side_Left Side_Right";
/// WPT levels for audio: `2^6 = 64` sub-band channels.
const AUDIO_LEVELS: usize = 6;

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

/// The audio part on the WAVs under `dir`, appending its rows: the basis (J = 6, k = 64)
/// fitted on the five training WAVs, every evaluation WAV coded at 0.5, 1, 2, 3, 4 bits per
/// sample (quick: 1 and 2, first file only) with k ∈ {4, 8, 16, 32, 64}, against `pcm-rans`
/// at the same rates and `downsample` by 2, 4 and 8. PSNR with peak 32768.
pub fn run(a: &Config, dir: &Path, rows: &mut Vec<Row>, progress: &dyn Progress) -> Result<()> {
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
            reps: a.reps(),
            positions: s.shape[1..].iter().product(),
        };
        progress.note(&format!(
            "audio {} {:?} at {:?} Hz",
            item.item, s.shape, s.sample_rate
        ));
        item.run(&full, &s, rates, &[2, 4, 8], rows)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::series::testing::{asset, check_rates, quick, series};
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn real_audio_quick() {
        let mut rows = Vec::new();
        run(&quick(), &asset("audio"), &mut rows, &Silent).unwrap();
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
}
