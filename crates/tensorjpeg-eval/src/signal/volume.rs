//! The volume part of the signal evaluation: the NIfTI MRI series `example4d.nii.gz`
//! (128×96×24 voxels, 2 time points, int16 values). The basis (J = 2, D = 3: 64 sub-bands) is
//! fitted on time point 1 and evaluated on time point 0: same subject, other time point,
//! since this is the only public 3-D volume available offline. PSNR peak = the frame's
//! maximum value. Peers: `pcm-rans` and `downsample` ([`super::series`]) and `jpeg` slice by
//! slice.

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::signal::basis::SignalBasis;

use super::config::Config;
use super::peers::{self, I16_RANGE};
use super::row::{timed, Row};
use super::series::{Item, KS};
use crate::progress::Progress;

/// WPT levels for the volume: `2^(2·3) = 64` sub-band channels.
const VOLUME_LEVELS: usize = 2;

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

/// The volume part on the NIfTI series at `path`, appending its rows: the basis (J = 2,
/// D = 3, k = 64) fitted on time point 1, time point 0 coded at 0.25, 0.5, 1, 2 bits per
/// voxel (quick: 0.5 and 1) with k ∈ {4, 8, 16, 32, 64}, against `pcm-rans`, `downsample` by
/// 2 and 4 per axis and slice-by-slice `jpeg` at `a.qualities`. PSNR peak = the frame's
/// maximum.
pub fn run(a: &Config, path: &Path, rows: &mut Vec<Row>, progress: &dyn Progress) -> Result<()> {
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
        .find(|v| v.fract() != 0.0 || !(I16_RANGE.0..=I16_RANGE.1).contains(*v))
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
        reps: a.reps(),
        positions: s.shape[1..].iter().product(),
    };
    progress.note(&format!(
        "volume {} frame 0 {:?}, max {max}, basis fitted on frame 1",
        item.item, s.shape
    ));
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
    use super::super::series::testing::{asset, check_rates, quick, series};
    use super::*;
    use crate::progress::Silent;

    #[test]
    fn real_volume_quick() {
        let a = quick();
        let mut rows = Vec::new();
        run(&a, &asset("volume/example4d.nii.gz"), &mut rows, &Silent).unwrap();
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
}
