//! `raw`, `f16` and `bf16`: store every value as little-endian f32 bytes (lossless), or cast
//! to IEEE binary16 / bfloat16 with round-to-nearest-even (the [`half`] crate's conversion,
//! what `torch.Tensor.half()` / `.bfloat16()` do) and store 2 bytes per value.
//!
//! Chunks hold [`CHUNK_VALUES`] values each (the last one fewer), cast in parallel. There are
//! no parameters. The rate does not apply (one fixed size), except that
//! [`Rate::MaxError`] is checked: if the cast's largest error exceeds the bound the encode
//! fails rather than promise what it cannot keep.
//!
//! f16 overflows to ±∞ beyond 65504 and flushes values below about 6e-8 to zero; `encode`
//! reports how many values did (`cast_overflows`, `cast_flushed_to_zero`) — the honest
//! cost of the cast, not hidden by clamping.

use super::{check_fixed_chunks, check_values, decode_numel, CHUNK_VALUES};
use crate::codec::{Codec, CodecSpec, Encoded, Rate};
use crate::error::{Error, Result};
use half::{bf16, f16};
use rayon::prelude::*;

/// Which cast a [`CastCodec`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastKind {
    /// f32 bytes as they are (`raw`, lossless).
    Raw,
    /// IEEE binary16 (`f16`).
    F16,
    /// bfloat16 (`bf16`).
    Bf16,
}

impl CastKind {
    /// The codec name.
    pub fn name(self) -> &'static str {
        match self {
            CastKind::Raw => "raw",
            CastKind::F16 => "f16",
            CastKind::Bf16 => "bf16",
        }
    }
    /// Stored bytes per value.
    pub fn bytes_per_value(self) -> usize {
        match self {
            CastKind::Raw => 4,
            CastKind::F16 | CastKind::Bf16 => 2,
        }
    }
    /// The value after a round trip through the stored type.
    pub fn round(self, v: f32) -> f32 {
        match self {
            CastKind::Raw => v,
            CastKind::F16 => f16::from_f32(v).to_f32(),
            CastKind::Bf16 => bf16::from_f32(v).to_f32(),
        }
    }
    fn write(self, vals: &[f32], out: &mut Vec<u8>) {
        out.reserve(vals.len() * self.bytes_per_value());
        match self {
            CastKind::Raw => vals
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            CastKind::F16 => vals
                .iter()
                .for_each(|&v| out.extend_from_slice(&f16::from_f32(v).to_le_bytes())),
            CastKind::Bf16 => vals
                .iter()
                .for_each(|&v| out.extend_from_slice(&bf16::from_f32(v).to_le_bytes())),
        }
    }
    fn read(self, bytes: &[u8], out: &mut [f32]) {
        match self {
            CastKind::Raw => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            CastKind::F16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
            CastKind::Bf16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = bf16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
        }
    }
}

/// The `raw`, `f16` and `bf16` codecs.
#[derive(Debug, Clone)]
pub struct CastCodec {
    kind: CastKind,
}

impl CastCodec {
    /// A codec applying `kind`.
    pub fn new(kind: CastKind) -> Self {
        CastCodec { kind }
    }
    /// Builds from a spec named `raw`, `f16` or `bf16` (no options).
    pub fn from_spec(spec: &CodecSpec) -> Result<Self> {
        spec.check_allowed(&[], &[])?;
        let kind = match spec.name.as_str() {
            "raw" => CastKind::Raw,
            "f16" => CastKind::F16,
            "bf16" => CastKind::Bf16,
            other => return Err(Error::param("cast codec", other, "raw, f16 or bf16")),
        };
        Ok(CastCodec::new(kind))
    }
    /// The cast applied.
    pub fn kind(&self) -> CastKind {
        self.kind
    }
}

impl Codec for CastCodec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        rate.validate()?;
        let n = check_values(self.name(), values, shape)?;
        let kind = self.kind;
        let chunks: Vec<Vec<u8>> = values
            .par_chunks(CHUNK_VALUES)
            .map(|c| {
                let mut out = Vec::new();
                kind.write(c, &mut out);
                out
            })
            .collect();
        let (max_err, overflows, flushed) = values
            .par_iter()
            .map(|&v| {
                let r = kind.round(v);
                let overflow = v.is_finite() && !r.is_finite();
                let err = if overflow {
                    f64::INFINITY
                } else {
                    f64::from((v - r).abs())
                };
                (
                    err,
                    usize::from(overflow),
                    usize::from(v != 0.0 && r == 0.0),
                )
            })
            .reduce(|| (0.0, 0, 0), |a, b| (a.0.max(b.0), a.1 + b.1, a.2 + b.2));
        if let Rate::MaxError(e) = rate {
            if max_err > e {
                return Err(Error::unsupported(
                    self.name(),
                    format!("the cast's largest error is {max_err:e}, above the bound {e:e}"),
                ));
            }
        }
        let bits = if n == 0 {
            0.0
        } else {
            8.0 * kind.bytes_per_value() as f64
        };
        Ok(Encoded {
            params: Vec::new(),
            chunks,
            stats: vec![
                ("bits_per_value".into(), bits),
                ("max_abs_error".into(), max_err),
                ("cast_overflows".into(), overflows as f64),
                ("cast_flushed_to_zero".into(), flushed as f64),
            ],
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        if !params.is_empty() {
            return Err(Error::corrupt(format!(
                "{}: {} parameter bytes where none are written",
                self.name(),
                params.len()
            )));
        }
        let n = decode_numel(self.name(), shape)?;
        let bpv = self.kind.bytes_per_value();
        check_fixed_chunks(self.name(), chunks, n, bpv)?;
        let mut out = crate::limits::try_zeroed::<f32>(n, "cast output")?;
        out.par_chunks_mut(CHUNK_VALUES)
            .zip(chunks.par_iter())
            .for_each(|(o, c)| self.kind.read(c, o));
        Ok(out)
    }

    fn lossless(&self) -> bool {
        self.kind == CastKind::Raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(kind: CastKind, v: &[f32], shape: &[usize]) -> (Encoded, Vec<f32>) {
        let c = CastCodec::new(kind);
        let e = c.encode(v, shape, Rate::Default).unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let d = c.decode(&e.params, &chunks, shape).unwrap();
        (e, d)
    }

    #[test]
    fn casts_are_exact_round_to_nearest_even() {
        let v = [
            0.0f32,
            -0.0,
            1.0,
            1.0 + 1.0 / 2048.0,
            2.0e-8,
            70000.0,
            -1.2345678,
            1e-40,
        ];
        let (e, d) = round_trip(CastKind::F16, &v, &[v.len()]);
        for (a, b) in v.iter().zip(&d) {
            assert_eq!(f16::from_f32(*a).to_f32().to_bits(), b.to_bits());
        }
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even mantissa wins.
        assert_eq!(d[3], 1.0);
        let stat = |k: &str| e.stats.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(stat("cast_overflows"), 1.0);
        assert_eq!(stat("cast_flushed_to_zero"), 2.0);
        let (_, d) = round_trip(CastKind::Bf16, &v, &[v.len()]);
        for (a, b) in v.iter().zip(&d) {
            assert_eq!(bf16::from_f32(*a).to_f32().to_bits(), b.to_bits());
        }
        let (_, d) = round_trip(CastKind::Raw, &v, &[2, 4]);
        assert!(v.iter().zip(&d).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn max_error_is_checked() {
        let c = CastCodec::new(CastKind::Bf16);
        assert!(c.encode(&[1.001], &[1], Rate::MaxError(1e-6)).is_err());
        assert!(c.encode(&[1.001], &[1], Rate::MaxError(1e-2)).is_ok());
        assert!(CastCodec::new(CastKind::Raw)
            .encode(&[1.001], &[1], Rate::MaxError(1e-30))
            .is_ok());
    }

    #[test]
    fn multi_chunk_and_bad_chunks() {
        let n = CHUNK_VALUES + 5;
        let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.25).collect();
        let c = CastCodec::new(CastKind::F16);
        let e = c.encode(&v, &[n], Rate::Default).unwrap();
        assert_eq!(e.chunks.len(), 2);
        assert_eq!(e.chunks[1].len(), 10);
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let d = c.decode(&[], &chunks, &[n]).unwrap();
        assert_eq!(d[n - 1], f16::from_f32(v[n - 1]).to_f32());
        assert!(c.decode(&[], &[chunks[0], &chunks[1][..9]], &[n]).is_err());
        assert!(c.decode(&[], &[chunks[0]], &[n]).is_err());
        assert!(c.decode(&[1], &chunks, &[n]).is_err());
        assert!(c.decode(&[], &chunks, &[usize::MAX, 3]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn prop_exact(v in proptest::collection::vec(-1e6f32..1e6, 0..300), k in 0usize..3) {
            let kind = [CastKind::Raw, CastKind::F16, CastKind::Bf16][k];
            let (e, d) = round_trip(kind, &v, &[v.len()]);
            prop_assert_eq!(e.payload_bytes(), v.len() * kind.bytes_per_value());
            for (a, b) in v.iter().zip(&d) {
                prop_assert_eq!(kind.round(*a).to_bits(), b.to_bits());
            }
        }
    }
}
