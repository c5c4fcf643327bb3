//! Input-embedding hooks: what happens to token embeddings between the lookup table and
//! the first transformer block. [`CodecHook`] passes them through any tensorjpeg codec
//! (seed 003: the literal-JPEG two-row layout at quality Q), [`NoiseHook`] adds Gaussian
//! noise at a chosen SNR (the control).
//!
//! Both are deterministic functions of each embedding vector (for per-vector codecs such
//! as `jpeg:tworow` or `native:rows`), so a token gets the same corrupted embedding at every
//! position and in every run.

use tensorjpeg::{Codec, Rate};

use crate::{Error, Result};

/// Transforms a batch of embedding vectors (`rows × cols`, row-major) in place.
pub trait EmbedHook: Send + Sync {
    /// Applies the hook.
    fn apply(&self, values: &mut [f32], rows: usize, cols: usize) -> Result<()>;
    /// A short description for reports.
    fn describe(&self) -> String;
}

/// Compress → decompress with a tensorjpeg codec.
pub struct CodecHook {
    codec: Box<dyn Codec>,
    spec: String,
    rate: Rate,
}

impl CodecHook {
    /// Builds the hook from a codec spec (e.g. `jpeg:tworow`, `native:rows`) and a rate.
    pub fn new(spec: &str, rate: Rate) -> Result<Self> {
        let codec = tensorjpeg_io::registry().build(spec)?;
        rate.validate()?;
        Ok(CodecHook {
            codec,
            spec: spec.to_string(),
            rate,
        })
    }

    /// Parses `SPEC[@q=Q|@bits=B|@snr=DB]` (the codec's default rate if none is given).
    pub fn parse(s: &str) -> Result<Self> {
        let (spec, rate) = parse_spec_rate(s)?;
        Self::new(&spec, rate)
    }

    /// The codec spec.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// All-in bits per value this codec stores for `values` (`rows × cols`).
    pub fn bits_per_value(&self, values: &[f32], rows: usize, cols: usize) -> Result<f64> {
        let enc = self.codec.encode(values, &[rows, cols], self.rate)?;
        Ok(enc.payload_bytes() as f64 * 8.0 / values.len().max(1) as f64)
    }
}

/// Splits `SPEC[@RATE]` into the codec spec and its [`Rate`] (the grammar of
/// [`tensorjpeg::SpecRates`], one rate; [`Rate::Default`] when none is given).
pub fn parse_spec_rate(s: &str) -> Result<(String, Rate)> {
    let p: tensorjpeg::SpecRates = s.parse()?;
    let rate = p.single()?;
    Ok((p.spec, rate))
}

impl EmbedHook for CodecHook {
    fn apply(&self, values: &mut [f32], rows: usize, cols: usize) -> Result<()> {
        let shape = [rows, cols];
        let enc = self.codec.encode(values, &shape, self.rate)?;
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let back = self.codec.decode(&enc.params, &chunks, &shape)?;
        values.copy_from_slice(&back);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{}@{:?}", self.spec, self.rate)
    }
}

/// Adds white Gaussian noise to each vector with power `‖v‖²/n / 10^(snr/10)`. The noise of
/// a vector is drawn from a generator seeded by `seed` and the vector's bits, so equal
/// vectors get equal noise.
pub struct NoiseHook {
    /// Signal-to-noise ratio per vector, dB.
    pub snr_db: f64,
    /// Seed.
    pub seed: u64,
}

impl NoiseHook {
    /// The SNR (dB) that gives an expected cosine `c` between a vector and its noisy copy:
    /// `c = 1/√(1 + 10^(−snr/10))` (noise independent of the vector).
    pub fn snr_for_cosine(c: f64) -> f64 {
        let c = c.clamp(1e-6, 1.0 - 1e-12);
        -10.0 * (1.0 / (c * c) - 1.0).log10()
    }
}

impl EmbedHook for NoiseHook {
    fn apply(&self, values: &mut [f32], rows: usize, cols: usize) -> Result<()> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        if rows * cols != values.len() {
            return Err(Error::Input(format!(
                "noise hook: {} values for {rows}×{cols}",
                values.len()
            )));
        }
        let scale = 10f64.powf(-self.snr_db / 20.0);
        for v in values.chunks_mut(cols.max(1)) {
            let rms = (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / cols as f64).sqrt();
            // FNV-1a over the vector's bits, mixed with the seed.
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.seed;
            for &x in v.iter() {
                h = (h ^ u64::from(x.to_bits())).wrapping_mul(0x100_0000_01b3);
            }
            let mut rng = rand::rngs::StdRng::seed_from_u64(h);
            for x in v.iter_mut() {
                let z: f64 = StandardNormal.sample(&mut rng);
                *x += (z * rms * scale) as f32;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("noise@snr={:.2}dB", self.snr_db)
    }
}

/// Mean and minimum cosine between corresponding rows of `a` and `b`.
pub fn row_cosines(a: &[f32], b: &[f32], cols: usize) -> (f64, f64) {
    let mut sum = 0.0;
    let mut min = f64::INFINITY;
    let mut n = 0usize;
    for (x, y) in a.chunks(cols.max(1)).zip(b.chunks(cols.max(1))) {
        let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
        for (&p, &q) in x.iter().zip(y) {
            xy += p as f64 * q as f64;
            xx += p as f64 * p as f64;
            yy += q as f64 * q as f64;
        }
        let c = if xx > 0.0 && yy > 0.0 {
            xy / (xx.sqrt() * yy.sqrt())
        } else if xx == yy {
            1.0
        } else {
            0.0
        };
        sum += c;
        min = min.min(c);
        n += 1;
    }
    if n == 0 {
        (1.0, 1.0)
    } else {
        (sum / n as f64, min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_hits_the_requested_cosine_and_is_deterministic() {
        let rows = 200;
        let cols = 576;
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 30.0)
            .collect();
        let target = 0.9;
        let hook = NoiseHook {
            snr_db: NoiseHook::snr_for_cosine(target),
            seed: 1,
        };
        let mut a = v.clone();
        hook.apply(&mut a, rows, cols).unwrap();
        let mut b = v.clone();
        hook.apply(&mut b, rows, cols).unwrap();
        assert_eq!(a, b);
        let (mean, _) = row_cosines(&v, &a, cols);
        assert!((mean - target).abs() < 0.01, "{mean}");
    }

    #[test]
    fn codec_hook_round_trips_through_jpeg() {
        let rows = 4;
        let cols = 192;
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| ((i as f32) * 0.37).sin())
            .collect();
        let hook = CodecHook::parse("jpeg:tworow@q=95").unwrap();
        let mut a = v.clone();
        hook.apply(&mut a, rows, cols).unwrap();
        let (mean, min) = row_cosines(&v, &a, cols);
        assert!(mean > 0.99 && min > 0.98 && a != v, "{mean} {min}");
        assert!(CodecHook::parse("jpeg:tworow@q=0").is_err());
        assert!(CodecHook::parse("jpeg:tworow@q=101").is_err());
        assert!(CodecHook::parse("nosuchcodec").is_err());
    }
}
