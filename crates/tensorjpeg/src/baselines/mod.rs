//! Baselines: what users would otherwise use, behind the same [`Codec`] trait so that every
//! comparison runs through one container and one set of metrics.
//!
//! | spec | what it stores |
//! |------|----------------|
//! | `raw` | the f32 bytes as they are (lossless) |
//! | `f16`, `bf16` | each value cast with round-to-nearest-even, 2 bytes per value ([`cast`]) |
//! | `zstd[:level=N][:shuffle]` | zstd of the f32 bytes, optionally byte-plane shuffled (`zstd`; cargo feature `zstd`) |
//! | `svd[:f32][:rank=N]` | a rank-r truncated SVD of the 2-D view ([`svd`]) |
//! | `q8_0`, `q4_0`, `q4_1` | GGUF block quantizers ([`ggml`], its own factory) |
//! | `q8_0:packed`, … | the same blocks, entropy-coded ([`ggml_packed`]; lossless for a tensor the blocks hold exactly) |
//! | `jpeg[:tworow\|matrix\|tiles][:q=N][:optimize][:trunc]` | the seeds' literal JPEG: min–max normalised 8-bit grayscale images through a real baseline JPEG encoder ([`jpeg`], its own factory) |
pub mod cast;
pub mod ggml;
pub mod ggml_packed;
pub mod jpeg;
pub mod svd;
#[cfg(feature = "zstd")]
pub mod zstd;

use crate::codec::{Codec, CodecSpec};
use crate::error::{Error, Result};
use crate::tensor::numel;

/// Values per chunk for the baselines that store a fixed number of bytes per value
/// (1 Mi values: 2 MiB for casts, 4 MiB of input for `raw` and `zstd`).
pub const CHUNK_VALUES: usize = 1 << 20;

/// Builds `f16`, `bf16`, `svd`, `zstd` and `raw` codecs from a spec (`None` for other names).
pub fn factory(spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    fn boxed<C: Codec + 'static>(r: Result<C>) -> Result<Box<dyn Codec>> {
        r.map(|c| Box::new(c) as Box<dyn Codec>)
    }
    Some(match spec.name.as_str() {
        "f16" | "bf16" | "raw" => boxed(cast::CastCodec::from_spec(spec)),
        #[cfg(feature = "zstd")]
        "zstd" => boxed(zstd::ZstdCodec::from_spec(spec)),
        #[cfg(not(feature = "zstd"))]
        "zstd" => Err(Error::unsupported(
            "zstd",
            "this build has no zstd (the codec crate's cargo feature `zstd`, on in the CLI)",
        )),
        "svd" => boxed(svd::SvdCodec::from_spec(spec)),
        _ => return None,
    })
}

/// Checks that `values` holds exactly the elements of `shape`; returns their number.
pub(crate) fn check_values(codec: &str, values: &[f32], shape: &[usize]) -> Result<usize> {
    let n = numel(shape).ok_or_else(|| {
        Error::param(
            "shape",
            format!("{shape:?}"),
            "a shape whose size fits in usize",
        )
    })?;
    if values.len() != n {
        return Err(Error::param(
            "values",
            format!("{} values given to {codec}", values.len()),
            format!("{n} values for shape {shape:?}"),
        ));
    }
    Ok(n)
}

/// The number of elements of `shape` at decode time (a bad shape is corrupt data).
pub(crate) fn decode_numel(codec: &str, shape: &[usize]) -> Result<usize> {
    numel(shape).ok_or_else(|| Error::corrupt(format!("{codec}: shape {shape:?} overflows")))
}

/// Fails unless there are exactly `ceil(n / CHUNK_VALUES)` chunks and chunk `i` holds the
/// values `i * CHUNK_VALUES ..` at `bytes_per_value` each.
pub(crate) fn check_fixed_chunks(
    codec: &str,
    chunks: &[&[u8]],
    n: usize,
    bytes_per_value: usize,
) -> Result<()> {
    let want = n.div_ceil(CHUNK_VALUES);
    if chunks.len() != want {
        return Err(Error::corrupt(format!(
            "{codec}: {} chunks stored, {n} values need {want}",
            chunks.len()
        )));
    }
    for (i, c) in chunks.iter().enumerate() {
        let vals = CHUNK_VALUES.min(n - i * CHUNK_VALUES);
        if c.len() != vals * bytes_per_value {
            return Err(Error::corrupt(format!(
                "{codec}: chunk {i} has {} bytes, expected {}",
                c.len(),
                vals * bytes_per_value
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Rate;

    #[test]
    fn factory_names() {
        for spec in [
            "f16",
            "bf16",
            "raw",
            "zstd",
            "zstd:level=19:shuffle",
            "svd",
            "svd:f32",
        ] {
            let c = factory(&CodecSpec::parse(spec).unwrap()).unwrap().unwrap();
            assert_eq!(c.name(), spec.split(':').next().unwrap());
        }
        assert!(factory(&CodecSpec::parse("jpeg").unwrap()).is_none());
        assert!(factory(&CodecSpec::parse("q8_0").unwrap()).is_none());
        for bad in [
            "f16:x",
            "raw:level=3",
            "zstd:level=0",
            "zstd:level=23",
            "svd:rank=-1",
            "svd:f64",
        ] {
            assert!(
                factory(&CodecSpec::parse(bad).unwrap()).unwrap().is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_codec_rejects_wrong_lengths() {
        for spec in ["f16", "bf16", "raw", "zstd", "svd"] {
            let c = factory(&CodecSpec::parse(spec).unwrap()).unwrap().unwrap();
            assert!(
                c.encode(&[1.0, 2.0], &[3], Rate::Default).is_err(),
                "{spec}"
            );
            let e = c.encode(&[1.0, 2.0, 3.0], &[3], Rate::Default).unwrap();
            let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
            assert!(c.decode(&e.params, &chunks, &[4]).is_err(), "{spec}");
            assert!(c.decode(&e.params, &[], &[3]).is_err(), "{spec}");
            assert_eq!(c.decode(&e.params, &chunks, &[3]).unwrap().len(), 3);
        }
    }
}
