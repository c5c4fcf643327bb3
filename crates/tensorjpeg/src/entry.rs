//! One stored entry of a container, as the pipeline and the allocator build it: the tensor's
//! values cleaned of non-finite values (kept as exact exceptions), the container record
//! whose cost a codec is told, and the entry with its report.

use crate::codec::{Codec, RecordCost};
use crate::container::{Entry, Exception, Storage};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// What happened to one tensor.
#[derive(Debug, Clone)]
pub struct TensorReport {
    /// Tensor name.
    pub name: String,
    /// How it was stored: verbatim, or through which codec.
    pub codec: Storage,
    /// Shape.
    pub shape: Vec<usize>,
    /// Source dtype.
    pub dtype: DType,
    /// All-in stored bytes of the entry.
    pub stored_bytes: usize,
    /// Values stored exactly as exceptions.
    pub exceptions: usize,
    /// Codec measurements.
    pub stats: Vec<(String, f64)>,
    /// Targets the codec could not reach for this tensor (e.g. `--bits` below what its
    /// side information costs), with the achieved figure; empty when every target was met.
    pub warnings: Vec<String>,
}

/// A float tensor's values, the same with non-finite values zeroed (borrowed when all are
/// finite), and those values as exact exceptions.
pub(crate) type Cleaned<'a> = (&'a [f32], std::borrow::Cow<'a, [f32]>, Vec<Exception>);

/// Splits a float tensor's values into what a codec sees and the exact exceptions.
pub(crate) fn clean_values(t: &Tensor) -> Result<Cleaned<'_>> {
    let values = t.values().ok_or_else(|| Error::BadTensor {
        tensor: t.name.clone(),
        msg: "not a float tensor".into(),
    })?;
    if values.len() != t.numel() {
        return Err(Error::BadTensor {
            tensor: t.name.clone(),
            msg: format!("{} values for shape {:?}", values.len(), t.shape),
        });
    }
    let mut exceptions: Vec<Exception> = Vec::new();
    let clean: std::borrow::Cow<[f32]> = if values.iter().all(|v| v.is_finite()) {
        std::borrow::Cow::Borrowed(values)
    } else {
        let mut c = values.to_vec();
        for (i, v) in c.iter_mut().enumerate() {
            if !v.is_finite() {
                exceptions.push(Exception {
                    index: i,
                    bits: v.to_bits(),
                });
                *v = 0.0;
            }
        }
        std::borrow::Cow::Owned(c)
    };
    Ok((values, clean, exceptions))
}

/// The entry and report of a tensor encoded by `codec`.
pub(crate) fn coded_entry(
    t: &Tensor,
    codec: &dyn Codec,
    enc: crate::codec::Encoded,
    exceptions: Vec<Exception>,
    warnings: Vec<String>,
) -> (Entry, TensorReport) {
    let report = TensorReport {
        name: t.name.clone(),
        codec: Storage::Codec(codec.name().to_string()),
        shape: t.shape.clone(),
        dtype: t.dtype.clone(),
        stored_bytes: 0,
        exceptions: exceptions.len(),
        stats: enc.stats,
        warnings,
    };
    (
        Entry {
            name: t.name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
            codec: codec.name().to_string(),
            params: enc.params,
            exceptions,
            chunks: enc.chunks,
        },
        report,
    )
}

/// The container record of one entry — name, dtype, shape, codec name, exceptions — whose
/// size the codec's parameters and chunk lengths complete ([`RecordCost`]).
pub(crate) struct EntryRecord {
    /// The record with empty parameters and chunks of the right count filled in per call.
    empty: Entry,
}

impl EntryRecord {
    pub(crate) fn new(t: &Tensor, codec: &str, exceptions: usize) -> EntryRecord {
        EntryRecord {
            empty: Entry {
                name: t.name.clone(),
                dtype: t.dtype.clone(),
                shape: t.shape.clone(),
                codec: codec.to_string(),
                params: Vec::new(),
                exceptions: vec![Exception { index: 0, bits: 0 }; exceptions],
                chunks: Vec::new(),
            },
        }
    }
}

impl RecordCost for EntryRecord {
    fn bytes(&self, params: usize, chunks: &[usize]) -> usize {
        // The record with an empty parameter blob and no chunks, plus the varint growth of
        // the real parameter length and one (length, CRC) pair per chunk.
        let varint = |v: usize| (usize::BITS - v.max(1).leading_zeros()).div_ceil(7) as usize;
        let mut e = self.empty.clone();
        e.chunks = vec![Vec::new(); chunks.len()];
        e.stored_bytes() + varint(params) - 1 + chunks.iter().map(|&c| varint(c) - 1).sum::<usize>()
    }
}
