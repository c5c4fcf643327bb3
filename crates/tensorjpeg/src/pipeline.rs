//! Whole-file compression: pick tensors, run a codec on each, keep non-finite values and
//! `--max-error` violations as exact exceptions, and write the container; and the way back.

use rayon::prelude::*;

use crate::codec::{Budget, Codec, Rate, Registry};
use crate::container::{self, Container, Entry, EntryRef, Exception, Storage};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::tensor::{DType, Data, Tensor};

pub use crate::entry::TensorReport;
use crate::entry::{clean_values, coded_entry, EntryRecord};

/// Bytes per chunk for tensors stored verbatim.
const RAW_CHUNK: usize = 1 << 24;

/// What to compress and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Codec spec (see [`crate::codec::CodecSpec`]), e.g. `native` or `jpeg:tworow`; a
    /// typed configuration prints as its spec (`NativeConfig { .. }.to_string()`).
    pub codec: String,
    /// Rate mode.
    pub rate: Rate,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            codec: "native".into(),
            rate: Rate::Default,
        }
    }
}

/// The report of a [`compress`] call.
#[derive(Debug, Clone, Default)]
pub struct CompressReport {
    /// One per tensor, in file order.
    pub tensors: Vec<TensorReport>,
    /// Size of the whole container.
    pub file_bytes: usize,
}

/// A compressed container and its report.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The container bytes.
    pub bytes: Vec<u8>,
    /// What was done.
    pub report: CompressReport,
}

/// Compresses every float tensor with the default registry.
pub fn compress(tensors: &[Tensor], opts: &Options) -> Result<Compressed> {
    compress_with(
        tensors,
        opts,
        &crate::default_registry(),
        &|t| t.dtype.is_float(),
        &|_| {},
    )
}

/// Compresses the float tensors for which `select` is true (others are stored verbatim),
/// calling `progress(name)` after each tensor.
pub fn compress_with(
    tensors: &[Tensor],
    opts: &Options,
    registry: &Registry,
    select: &(dyn Fn(&Tensor) -> bool + Sync),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Compressed> {
    opts.rate.validate()?;
    // Check the spec once, before any tensor is analysed.
    registry.build(&opts.codec)?;
    let plans: Vec<TensorPlan> = tensors
        .iter()
        .map(|t| {
            if t.dtype.is_float() && select(t) {
                TensorPlan::Own {
                    codec: opts.codec.clone(),
                    rate: opts.rate,
                }
            } else {
                TensorPlan::Verbatim
            }
        })
        .collect();
    compress_planned(tensors, &plans, None, registry, progress)
}

/// How one tensor of a file is stored ([`compress_planned`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TensorPlan {
    /// The source bytes, verbatim (lossless; what non-float tensors always get).
    Verbatim,
    /// Its own codec spec and rate.
    Own {
        /// Codec spec.
        codec: String,
        /// Rate.
        rate: Rate,
    },
    /// A share of the pool's budget, allocated across the pool at one rate–distortion
    /// slope ([`crate::allocation`]); the codec must support [`Codec::step_search`].
    Pool {
        /// Codec spec.
        codec: String,
        /// Distortion weight: the loss per unit of squared error in this tensor (1 = plain
        /// MSE; larger gets a finer step, `Δ/√weight`).
        weight: f64,
        /// Weights along its rows and columns (importance inside the tensor), if any.
        axes: Option<crate::codec::AxisWeights>,
        /// The layer's input statistics `E[xxᵀ]` for quantization with error feedback
        /// (GPTQ, [`crate::quant::feedback`]), if any.
        gram: Option<std::sync::Arc<crate::quant::feedback::Gram>>,
        /// A codec spec that stores this tensor *exactly* in its own bits (e.g.
        /// `q4_1:packed` for a matrix read from a Q4_1 GGUF file), if any: the allocation
        /// keeps the tensor so where lossy coding would save too little
        /// ([`crate::allocation`]).
        keep: Option<String>,
    },
}

/// Compresses each tensor as its plan says (one plan per tensor, in order). The
/// [`TensorPlan::Pool`] tensors share `pool_bits` all-in bits per value over their values
/// (required if any tensor is pooled).
pub fn compress_planned(
    tensors: &[Tensor],
    plans: &[TensorPlan],
    pool_bits: Option<f64>,
    registry: &Registry,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Compressed> {
    if plans.len() != tensors.len() {
        return Err(Error::param(
            "tensor plans",
            plans.len(),
            format!("one per tensor ({})", tensors.len()),
        ));
    }
    let mut codecs: std::collections::HashMap<&str, Box<dyn Codec>> = Default::default();
    for p in plans {
        let (codec, keep) = match p {
            TensorPlan::Own { codec, rate } => {
                rate.validate()?;
                (codec, None)
            }
            TensorPlan::Pool { codec, keep, .. } => (codec, keep.as_ref()),
            TensorPlan::Verbatim => continue,
        };
        for c in std::iter::once(codec).chain(keep) {
            if !codecs.contains_key(c.as_str()) {
                codecs.insert(c, registry.build(c)?);
            }
        }
    }
    let mut results: Vec<Option<(Entry, TensorReport)>> = tensors
        .par_iter()
        .zip(plans)
        .map(|(t, p)| {
            let r = match p {
                TensorPlan::Own { codec, rate } if t.dtype.is_float() => {
                    encode_tensor(t, codecs[codec.as_str()].as_ref(), *rate)?
                }
                TensorPlan::Pool { .. } if t.dtype.is_float() => return Ok(None),
                _ => stored_entry(t),
            };
            progress(&t.name);
            Ok(Some(r))
        })
        .collect::<Result<_>>()?;
    let pool: Vec<crate::allocation::Member> = tensors
        .iter()
        .zip(plans)
        .enumerate()
        .filter_map(|(i, (t, p))| match p {
            TensorPlan::Pool {
                codec,
                weight,
                axes,
                gram,
                keep,
            } if t.dtype.is_float() => Some(crate::allocation::Member {
                index: i,
                tensor: t,
                codec: codecs[codec.as_str()].as_ref(),
                weight: *weight,
                axes: axes.as_ref(),
                gram: gram.as_deref(),
                keep: keep.as_ref().map(|k| codecs[k.as_str()].as_ref()),
            }),
            _ => None,
        })
        .collect();
    if !pool.is_empty() {
        let bits = pool_bits.ok_or_else(|| {
            Error::param("pool bits", "none", "bits per value for the pooled tensors")
        })?;
        for (i, r) in crate::allocation::allocate(&pool, bits, progress)? {
            results[i] = Some(r);
        }
    }
    let (entries, mut reports): (Vec<Entry>, Vec<TensorReport>) = results
        .into_iter()
        .map(|r| r.expect("every tensor planned"))
        .unzip();
    let bytes = container::write(&entries);
    for (r, e) in reports.iter_mut().zip(&entries) {
        r.stored_bytes = e.stored_bytes();
    }
    Ok(Compressed {
        report: CompressReport {
            tensors: reports,
            file_bytes: bytes.len(),
        },
        bytes,
    })
}

fn source_bytes(t: &Tensor) -> Vec<u8> {
    match &t.data {
        Data::Raw(b) => b.clone(),
        Data::F32(v) => match t.dtype {
            DType::F16 => v
                .iter()
                .flat_map(|&x| half::f16::from_f32(x).to_bits().to_le_bytes())
                .collect(),
            DType::BF16 => v
                .iter()
                .flat_map(|&x| half::bf16::from_f32(x).to_bits().to_le_bytes())
                .collect(),
            _ => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
        },
    }
}

/// The entry that stores a tensor's source bytes verbatim.
pub fn stored_entry(t: &Tensor) -> (Entry, TensorReport) {
    let bytes = source_bytes(t);
    let chunks: Vec<Vec<u8>> = if bytes.is_empty() {
        vec![]
    } else {
        bytes.chunks(RAW_CHUNK).map(<[u8]>::to_vec).collect()
    };
    let e = Entry {
        name: t.name.clone(),
        dtype: t.dtype.clone(),
        shape: t.shape.clone(),
        codec: String::new(),
        params: vec![],
        exceptions: vec![],
        chunks,
    };
    let r = TensorReport {
        name: t.name.clone(),
        codec: Storage::Verbatim,
        shape: t.shape.clone(),
        dtype: t.dtype.clone(),
        stored_bytes: e.stored_bytes(),
        exceptions: 0,
        stats: vec![],
        warnings: vec![],
    };
    (e, r)
}

/// Encodes one float tensor with `codec`: non-finite values become exceptions, and under
/// [`Rate::MaxError`] the reconstruction is verified (after rounding to the tensor's dtype)
/// and every element off by more than the bound is stored exactly.
pub fn encode_tensor(t: &Tensor, codec: &dyn Codec, rate: Rate) -> Result<(Entry, TensorReport)> {
    let (values, clean, mut exceptions) = clean_values(t)?;
    // The `--bits` budget is all-in: the entry's own record (name, shape, chunk table,
    // exceptions) counts too, and the codec is told what that record costs.
    let record = EntryRecord::new(t, codec.name(), exceptions.len());
    let enc = match rate {
        Rate::Bits(b) if !values.is_empty() => codec.encode_within(
            &clean,
            &t.shape,
            &Budget {
                bits: b * values.len() as f64,
                record: &record,
            },
        ),
        r => codec.encode(&clean, &t.shape, r),
    }
    .map_err(|e| name_error(&t.name, e))?;
    if let Rate::MaxError(bound) = rate {
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let back = codec
            .decode(&enc.params, &chunks, &t.shape)
            .map_err(|e| name_error(&t.name, e))?;
        for (i, (&x, &y)) in values.iter().zip(&back).enumerate() {
            if x.is_finite() {
                let y = t.dtype.round_f32(y);
                let err = (x as f64 - y as f64).abs();
                if err.is_nan() || err > bound {
                    exceptions.push(Exception {
                        index: i,
                        bits: x.to_bits(),
                    });
                }
            }
        }
        exceptions.sort_by_key(|e| e.index);
    }
    let warnings = missed_targets(t, codec, rate, &enc, exceptions.len())?;
    Ok(coded_entry(t, codec, enc, exceptions, warnings))
}

/// Targets of `rate` that `enc` misses: `--bits` above the budget (all-in, 1 % slack),
/// `--snr` below the target (0.1 dB slack), each with the achieved figure.
fn missed_targets(
    t: &Tensor,
    codec: &dyn Codec,
    rate: Rate,
    enc: &crate::codec::Encoded,
    exceptions: usize,
) -> Result<Vec<String>> {
    let Some(values) = t.values() else {
        return Ok(Vec::new());
    };
    if values.is_empty() || codec.lossless() {
        return Ok(Vec::new());
    }
    let n = values.len() as f64;
    Ok(match rate {
        Rate::Bits(b) => {
            let record = EntryRecord::new(t, codec.name(), exceptions);
            let budget = Budget {
                bits: b * n,
                record: &record,
            };
            let got = budget.bits_per_value(enc, values.len());
            if got > b * 1.01 + 1e-9 {
                vec![format!(
                    "tensor '{}': --bits {b} not reached with {}: {got:.3} bits/value all-in is \
                     the least this codec stores for shape {:?} (its side information alone \
                     may exceed the budget)",
                    t.name,
                    codec.name(),
                    t.shape
                )]
            } else {
                Vec::new()
            }
        }
        Rate::Snr(db) => {
            let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
            let back = codec
                .decode(&enc.params, &chunks, &t.shape)
                .map_err(|e| name_error(&t.name, e))?;
            let (mut s, mut e) = (0f64, 0f64);
            for (&x, &y) in values.iter().zip(&back) {
                if x.is_finite() {
                    s += f64::from(x) * f64::from(x);
                    e += (f64::from(x) - f64::from(t.dtype.round_f32(y))).powi(2);
                }
            }
            let got = if e > 0.0 {
                10.0 * (s / e).log10()
            } else {
                f64::INFINITY
            };
            if got < db - 0.1 {
                vec![format!(
                    "tensor '{}': --snr {db} not reached with {}: {got:.2} dB is the best this \
                     codec reaches",
                    t.name,
                    codec.name()
                )]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    })
}

fn name_error(tensor: &str, e: Error) -> Error {
    match e {
        Error::BadTensor { .. } => e,
        other => Error::BadTensor {
            tensor: tensor.to_string(),
            msg: other.to_string(),
        },
    }
}

/// Decompresses a container with the default registry.
pub fn decompress(bytes: &[u8]) -> Result<Vec<Tensor>> {
    decompress_with(bytes, &crate::default_registry())
}

/// Decompresses a container, looking codecs up in `registry`, under
/// [`Limits::configured`].
pub fn decompress_with(bytes: &[u8], registry: &Registry) -> Result<Vec<Tensor>> {
    decompress_limited(bytes, registry, &Limits::configured())
}

/// Decompresses a container, looking codecs up in `registry`; declared shapes are held to
/// `limits` before anything is allocated (see [`crate::limits`]).
pub fn decompress_limited(
    bytes: &[u8],
    registry: &Registry,
    limits: &Limits,
) -> Result<Vec<Tensor>> {
    let c = Container::open_with(bytes, limits)?;
    c.entries
        .par_iter()
        .map(|e| decode_entry(e, registry))
        .collect()
}

/// Decodes one entry (checking chunk CRCs first).
pub fn decode_entry(e: &EntryRef, registry: &Registry) -> Result<Tensor> {
    let chunks = e.verified_chunks()?;
    let n = e.numel();
    if e.codec.is_empty() {
        let bytes: Vec<u8> = chunks.concat();
        let width = match e.dtype {
            DType::F32 => Some(4),
            DType::F16 | DType::BF16 => Some(2),
            _ => None,
        };
        if let Some(w) = width {
            if bytes.len() != n * w {
                return Err(Error::corrupt(format!(
                    "tensor '{}': {} bytes stored, {} expected",
                    e.name,
                    bytes.len(),
                    n * w
                )));
            }
            let values: Vec<f32> = match e.dtype {
                DType::F32 => bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                DType::F16 => bytes
                    .chunks_exact(2)
                    .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
                    .collect(),
                _ => bytes
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
                    .collect(),
            };
            return Ok(Tensor {
                name: e.name.clone(),
                shape: e.shape.clone(),
                dtype: e.dtype.clone(),
                data: Data::F32(values),
            });
        }
        if let Some(bits) = e.dtype.bits() {
            if bytes.len() as u128 != n as u128 * bits as u128 / 8 {
                return Err(Error::corrupt(format!(
                    "tensor '{}': {} bytes stored for {n} {} values",
                    e.name,
                    bytes.len(),
                    e.dtype.name()
                )));
            }
        }
        return Ok(Tensor {
            name: e.name.clone(),
            shape: e.shape.clone(),
            dtype: e.dtype.clone(),
            data: Data::Raw(bytes),
        });
    }
    if !e.dtype.is_float() {
        return Err(Error::corrupt(format!(
            "tensor '{}': codec '{}' on non-float dtype {}",
            e.name,
            e.codec,
            e.dtype.name()
        )));
    }
    let codec = registry.build(&e.codec)?;
    let mut values = codec
        .decode(e.params, &chunks, &e.shape)
        .map_err(|err| name_error(&e.name, err))?;
    if values.len() != n {
        return Err(Error::corrupt(format!(
            "tensor '{}': codec returned {} values, expected {n}",
            e.name,
            values.len()
        )));
    }
    for v in values.iter_mut() {
        *v = e.dtype.round_f32(*v);
    }
    for x in &e.exceptions {
        values[x.index] = f32::from_bits(x.bits);
    }
    Ok(Tensor {
        name: e.name.clone(),
        shape: e.shape.clone(),
        dtype: e.dtype.clone(),
        data: Data::F32(values),
    })
}
