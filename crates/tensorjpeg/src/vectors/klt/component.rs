//! The per-component pieces of the KLT codec's quantization: the dead-zone quantizer of one
//! component ([`CompQuant`]) and a static magnitude model ([`MagModel`]), with the
//! constants both the coarse field ([`super::coarse`]) and the parameter set
//! ([`super::params`]) build on.

use crate::bytes::{ByteReader, ByteWriter};
use crate::entropy::byte_rans::PACKED_PREC;
use crate::entropy::model::FreqTable;
use crate::{Error, Result};

/// Precision of the magnitude models (log2 of the frequency total).
pub const PREC: u32 = PACKED_PREC;
/// Largest magnitude alphabet (including the escape symbol).
pub const MAX_ALPHA: usize = 40;
/// Number of contexts (previous magnitude 0, 1, ≥ 2).
pub const NCTX: usize = 3;
/// Buckets per octave of `σ/Δ`.
pub(super) const BUCKETS_PER_OCTAVE: f64 = 4.0;
/// Largest accepted magnitude (a sanity bound for decoders; far beyond any real value).
pub const MAX_MAG: u32 = 1 << 24;

/// Dead-zone quantizer of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct CompQuant {
    /// Step `Δ_k` (an f16 value).
    pub step: f32,
    /// Centroid position inside the bins of magnitude 1, 2 and ≥ 3, in 1/256 of a step.
    pub centroid: [u8; 3],
}

impl CompQuant {
    /// Quantization index of `c` with rounding offset `rho`.
    #[inline]
    pub fn quantize(&self, c: f32, rho: f32) -> i32 {
        let a = (c.abs() / self.step + rho).floor().min(MAX_MAG as f32) as i32;
        if c < 0.0 {
            -a
        } else {
            a
        }
    }

    /// Reconstruction of magnitude `a` (0 for 0): `a·Δ + (u_ℓ − ρ)·Δ`.
    #[inline]
    pub fn recon(&self, a: u32, rho: f32) -> f32 {
        if a == 0 {
            return 0.0;
        }
        a as f32 * self.step + self.offset(a.min(3) as usize, rho)
    }

    /// `(u_ℓ − ρ)·Δ` for level `ℓ` = 1, 2, 3 (magnitudes 1, 2, ≥ 3).
    #[inline]
    pub fn offset(&self, level: usize, rho: f32) -> f32 {
        let u = (f32::from(self.centroid[level - 1]) + 0.5) / 256.0;
        (u - rho) * self.step
    }

    /// `[Δ, offset(1), offset(2), offset(3)]`: the reconstruction of index `v` is
    /// `v·t[0] + sign(v)·t[min(|v|, 3)]` (branch-free; `v = 0` gives 0).
    pub fn table(&self, rho: f32) -> [f32; 4] {
        [
            self.step,
            self.offset(1, rho),
            self.offset(2, rho),
            self.offset(3, rho),
        ]
    }
}

/// A static magnitude model: cumulative frequencies over `0..alpha` at [`PREC`].
#[derive(Debug, Clone, PartialEq)]
pub struct MagModel {
    /// `alpha + 1` cumulative frequencies, `cum[0] = 0`, `cum[alpha] = 2^PREC`.
    pub cum: Vec<u32>,
    /// The last symbol is an escape (value ≥ `alpha − 1`, excess follows).
    pub esc: bool,
}

impl MagModel {
    fn with_cum(cum: Vec<u32>, esc: bool) -> Self {
        MagModel { cum, esc }
    }

    /// The model that codes only 0 (used for context/bucket pairs that never occur).
    pub(super) fn unused() -> Self {
        Self::with_cum(vec![0, 1 << PREC], false)
    }

    /// The model of exactly these counts over `0..counts.len()` (no escape; zero counts
    /// stay impossible). At least one count must be non-zero.
    pub fn from_freq_counts(counts: &[u64]) -> Self {
        let t = FreqTable::from_counts(counts, PREC).expect("non-empty histogram");
        let mut cum = t.cum;
        cum.push(1 << PREC);
        Self::with_cum(cum, false)
    }

    /// Number of symbols.
    #[inline]
    pub fn alpha(&self) -> usize {
        self.cum.len() - 1
    }

    /// Builds the model of magnitude counts (`counts[a]`, escape-free): the alphabet
    /// ends at the largest magnitude seen, or at [`MAX_ALPHA`] with an escape.
    pub(super) fn from_counts(counts: &[u64]) -> Self {
        let last = match counts.iter().rposition(|&c| c > 0) {
            Some(l) => l,
            None => return Self::unused(),
        };
        let (alpha, esc) = if last < MAX_ALPHA {
            (last + 1, false)
        } else {
            (MAX_ALPHA, true)
        };
        let mut c: Vec<u64> = counts[..alpha].to_vec();
        if esc {
            c[alpha - 1] = counts[alpha - 1..].iter().sum();
        }
        if alpha == 1 {
            return Self::unused();
        }
        let mut m = Self::from_freq_counts(&c);
        m.esc = esc;
        m
    }

    pub(super) fn write(&self, w: &mut ByteWriter) {
        w.varint(self.alpha() as u64);
        w.u8(self.esc as u8);
        if self.alpha() > 1 {
            for f in self.cum.windows(2) {
                w.varint(u64::from(f[1] - f[0]));
            }
        }
    }

    pub(super) fn read(r: &mut ByteReader) -> Result<Self> {
        let alpha = r.varint_max("model alphabet", MAX_ALPHA as u64)? as usize;
        let esc = match r.u8()? {
            0 => false,
            1 => true,
            f => return Err(Error::corrupt(format!("klt model: escape flag {f}"))),
        };
        if alpha <= 1 {
            return Ok(Self::unused());
        }
        let mut freqs = Vec::with_capacity(alpha);
        for _ in 0..alpha {
            freqs.push(r.varint_max("model frequency", 1 << PREC)? as u32);
        }
        let t = FreqTable::from_stored(freqs, PREC)?;
        let mut cum = t.cum;
        cum.push(1 << PREC);
        Ok(Self::with_cum(cum, esc))
    }
}
