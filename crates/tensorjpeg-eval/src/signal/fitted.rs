//! Seed 002's codec (a fitted basis, a quantizer, a latent coder) measured at a target rate:
//! the point every modality's `wpt-pca` and `walloc-linear` rows come from.

use anyhow::Result;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{self, LatentCoder, Quantizer, QuantizerKind};
use tensorjpeg_io::Signal;

use super::row::{mps, timed, Row};

/// Our codec at a target rate: rate-controlled encode, timed encode and decode (best of
/// `reps`). Returns the row (no quality metric yet), the reconstruction and the quantizer
/// the rate control chose.
#[allow(clippy::too_many_arguments)]
pub fn point(
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
    let rate = codec::RateTarget {
        kind,
        coder,
        bits_per_sample: target,
        sample_rate: s.sample_rate,
    };
    let (bytes, q) = codec::encode_to_rate(basis, &s.values, &s.shape, &rate)?;
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
