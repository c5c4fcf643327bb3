//! candle's GGUF quantizers as comparison codecs: `candle-q8_0`, `candle-q4_0`,
//! `candle-q4_1` (the same formats as the pure-Rust `q8_0`/`q4_0`/`q4_1` baselines, computed
//! by candle) and the K-quants `q2_k` … `q6_k`.
//!
//! Each codec quantizes the 2-D view `[rows, cols]` of the tensor with
//! `QTensor::quantize(&tensor, GgmlDType)` and stores candle's block bytes (`QTensor::data()`)
//! as chunks of whole blocks; decoding rebuilds the `QTensor` from those bytes and
//! dequantizes it. For the 32-value formats a `cols` that is not a multiple of 32 is padded
//! with zeros to the next multiple (as the pure-Rust baselines do, so both write the same
//! bytes); K-quants need `cols` to be a multiple of 256 and refuse other shapes.

use std::borrow::Cow;

use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor as CTensor};
use tensorjpeg::codec::{Codec, CodecSpec, Encoded, Rate};
use tensorjpeg::tensor::{matrix_dims, numel};
use tensorjpeg::{Error, Result};

/// The names [`factory`] answers to, as registered by [`crate::registry`].
pub const NAMES: [&str; 8] = [
    "candle-q8_0",
    "candle-q4_0",
    "candle-q4_1",
    "q2_k",
    "q3_k",
    "q4_k",
    "q5_k",
    "q6_k",
];

/// Values per chunk (rounded to whole blocks): 2 Mi values.
const CHUNK_VALUES: usize = 1 << 21;

/// A candle quantizer as a [`Codec`].
#[derive(Debug, Clone, Copy)]
pub struct CandleCodec {
    name: &'static str,
    dtype: GgmlDType,
}

impl CandleCodec {
    /// The codec registered as `name`, if it is one of [`NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        let (name, dtype) = match name {
            "candle-q8_0" => ("candle-q8_0", GgmlDType::Q8_0),
            "candle-q4_0" => ("candle-q4_0", GgmlDType::Q4_0),
            "candle-q4_1" => ("candle-q4_1", GgmlDType::Q4_1),
            "q2_k" => ("q2_k", GgmlDType::Q2K),
            "q3_k" => ("q3_k", GgmlDType::Q3K),
            "q4_k" => ("q4_k", GgmlDType::Q4K),
            "q5_k" => ("q5_k", GgmlDType::Q5K),
            "q6_k" => ("q6_k", GgmlDType::Q6K),
            _ => return None,
        };
        Some(CandleCodec { name, dtype })
    }
    /// candle's type for this codec.
    pub fn ggml_dtype(&self) -> GgmlDType {
        self.dtype
    }
    fn is_k_quant(&self) -> bool {
        self.dtype.block_size() == 256
    }
    /// (rows, cols, padded cols, blocks per chunk, total bytes) for a shape.
    fn geometry(&self, shape: &[usize]) -> Result<(usize, usize, usize, usize, usize)> {
        let (rows, cols) = matrix_dims(shape);
        let bs = self.dtype.block_size();
        if self.is_k_quant() && cols % bs != 0 {
            return Err(Error::unsupported(
                self.name,
                format!("last dimension {cols} is not a multiple of {bs} (required by K-quants)"),
            ));
        }
        let padded = cols.div_ceil(bs) * bs;
        let overflow = || Error::corrupt(format!("{}: shape {shape:?} overflows", self.name));
        let blocks = rows.checked_mul(padded / bs).ok_or_else(overflow)?;
        let bytes = blocks
            .checked_mul(self.dtype.type_size())
            .ok_or_else(overflow)?;
        Ok((rows, cols, padded, CHUNK_VALUES / bs, bytes))
    }
}

fn ext(e: candle_core::Error) -> Error {
    Error::External(format!("candle: {}", crate::gguf::candle_message(&e)))
}

impl Codec for CandleCodec {
    fn name(&self) -> &'static str {
        self.name
    }

    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded> {
        if let Rate::MaxError(_) = rate {
            return Err(Error::unsupported(
                self.name,
                "max-error rate is not supported (fixed-rate block format)",
            ));
        }
        let (rows, cols, padded, chunk_blocks, total) = self.geometry(shape)?;
        if numel(shape) != Some(values.len()) {
            return Err(Error::corrupt(format!(
                "{}: shape {shape:?} does not hold {} values",
                self.name,
                values.len()
            )));
        }
        let data: Vec<u8> = if total == 0 {
            Vec::new()
        } else {
            let src: Vec<f32> = if padded == cols {
                values.to_vec()
            } else {
                let mut v = vec![0f32; rows * padded];
                for (dst, src) in v.chunks_exact_mut(padded).zip(values.chunks_exact(cols)) {
                    dst[..cols].copy_from_slice(src);
                }
                v
            };
            let t = CTensor::from_vec(src, (rows, padded), &Device::Cpu).map_err(ext)?;
            let q = QTensor::quantize(&t, self.dtype).map_err(ext)?;
            q.data().map_err(ext)?.into_owned()
        };
        if data.len() != total {
            return Err(Error::External(format!(
                "{}: candle wrote {} bytes, {total} expected",
                self.name,
                data.len()
            )));
        }
        let chunk_bytes = chunk_blocks * self.dtype.type_size();
        let n = values.len().max(1) as f64;
        Ok(Encoded {
            params: Vec::new(),
            chunks: data.chunks(chunk_bytes).map(<[u8]>::to_vec).collect(),
            stats: vec![
                (
                    "padding_values".to_string(),
                    (rows * (padded - cols)) as f64,
                ),
                ("bits_per_value".to_string(), total as f64 * 8.0 / n),
            ],
        })
    }

    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>> {
        let name = self.name;
        if !params.is_empty() {
            return Err(Error::corrupt(format!(
                "{name}: expected no parameters, found {} bytes",
                params.len()
            )));
        }
        let (rows, cols, padded, chunk_blocks, total) = self.geometry(shape)?;
        let chunk_bytes = chunk_blocks * self.dtype.type_size();
        let n_chunks = total.div_ceil(chunk_bytes);
        if chunks.len() != n_chunks {
            return Err(Error::corrupt(format!(
                "{name}: shape {shape:?} needs {n_chunks} chunks, found {}",
                chunks.len()
            )));
        }
        for (c, chunk) in chunks.iter().enumerate() {
            let want = (total - c * chunk_bytes).min(chunk_bytes);
            if chunk.len() != want {
                return Err(Error::corrupt(format!(
                    "{name}: chunk {c} has {} bytes, expected {want}",
                    chunk.len()
                )));
            }
        }
        if total == 0 {
            return Ok(vec![0f32; rows * cols]);
        }
        // candle reinterprets the bytes as blocks and asserts their alignment: copy them to
        // an 8-byte-aligned position of a buffer.
        let mut buf = vec![0u8; total + 8];
        let off = (8 - buf.as_ptr() as usize % 8) % 8;
        let mut at = off;
        for chunk in chunks {
            buf[at..at + chunk.len()].copy_from_slice(chunk);
            at += chunk.len();
        }
        let storage = QStorage::from_data(
            Cow::Borrowed(&buf[off..off + total]),
            &Device::Cpu,
            self.dtype,
        )
        .map_err(ext)?;
        let q = QTensor::new(storage, (rows, padded)).map_err(ext)?;
        let all = q
            .dequantize(&Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(ext)?;
        if padded == cols {
            return Ok(all);
        }
        let mut out = Vec::with_capacity(rows * cols);
        for row in all.chunks_exact(padded) {
            out.extend_from_slice(&row[..cols]);
        }
        Ok(out)
    }
}

/// Builds the candle codecs ([`NAMES`]) from a spec (no options are accepted).
pub fn factory(spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    let codec = CandleCodec::from_name(&spec.name)?;
    Some(
        spec.check_allowed(&[], &[])
            .map(|()| Box::new(codec) as Box<dyn Codec>),
    )
}
