//! The tensor type that flows through the pipeline: a name, a shape, the source dtype, and
//! either float values (held as f32, which represents F16/BF16 exactly) or raw bytes that
//! are passed through untouched.

use crate::error::{Error, Result};

/// Element type of a stored tensor, named as safetensors names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// Any other type (`"F64"`, `"I64"`, `"U8"`, ...): passed through losslessly.
    Other(String),
}

impl DType {
    /// The safetensors name of the type.
    pub fn name(&self) -> &str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::Other(s) => s,
        }
    }
    /// Parses a safetensors dtype name.
    pub fn from_name(s: &str) -> Self {
        match s {
            "F32" => DType::F32,
            "F16" => DType::F16,
            "BF16" => DType::BF16,
            other => DType::Other(other.to_string()),
        }
    }
    /// True for the types the lossy codecs work on.
    pub fn is_float(&self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }
    /// Bits per element of the source type, where known (for "ratio vs source dtype").
    pub fn bits(&self) -> Option<u32> {
        Some(match self {
            DType::F32 => 32,
            DType::F16 | DType::BF16 => 16,
            DType::Other(s) => match s.as_str() {
                "F64" | "I64" | "U64" => 64,
                "I32" | "U32" => 32,
                "I16" | "U16" => 16,
                "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 8,
                _ => return None,
            },
        })
    }
    /// Rounds an f32 to the nearest value representable in this dtype (identity for F32).
    pub fn round_f32(&self, v: f32) -> f32 {
        match self {
            DType::F16 => half::f16::from_f32(v).to_f32(),
            DType::BF16 => half::bf16::from_f32(v).to_f32(),
            _ => v,
        }
    }
}

/// The payload of a tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Float values (F32, F16 or BF16 source), widened exactly to f32, row-major.
    F32(Vec<f32>),
    /// Raw little-endian bytes of a type the codecs do not touch.
    Raw(Vec<u8>),
}

/// A named, shaped tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Name (e.g. `encoder.layer.0.attention.self.query.weight`).
    pub name: String,
    /// Shape, outermost first; `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Source element type, restored on decompression.
    pub dtype: DType,
    /// The values.
    pub data: Data,
}

impl Tensor {
    /// A float tensor from f32 values; checks that the shape matches the length.
    pub fn from_f32(name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) -> Result<Self> {
        let name = name.into();
        let n = numel(&shape).ok_or_else(|| Error::BadTensor {
            tensor: name.clone(),
            msg: format!("shape {shape:?} overflows"),
        })?;
        if n != values.len() {
            return Err(Error::BadTensor {
                tensor: name,
                msg: format!(
                    "shape {shape:?} holds {n} values but {} were given",
                    values.len()
                ),
            });
        }
        Ok(Tensor {
            name,
            shape,
            dtype: DType::F32,
            data: Data::F32(values),
        })
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape).unwrap_or(0)
    }
    /// The float values, if this is a float tensor.
    pub fn values(&self) -> Option<&[f32]> {
        match &self.data {
            Data::F32(v) => Some(v),
            Data::Raw(_) => None,
        }
    }
    /// Size of the tensor in its source dtype, in bytes.
    pub fn source_bytes(&self) -> u64 {
        match &self.data {
            Data::Raw(b) => b.len() as u64,
            Data::F32(v) => v.len() as u64 * u64::from(self.dtype.bits().unwrap_or(32)) / 8,
        }
    }
    /// The 2-D view codecs work on: (rows, cols) with cols = the last dimension
    /// (1 for a scalar) and rows = the product of the others.
    pub fn matrix_dims(&self) -> (usize, usize) {
        matrix_dims(&self.shape)
    }
}

/// Product of dimensions, `None` on overflow.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// (rows, cols) of the 2-D view of a shape: cols = last dim, rows = product of the rest.
pub fn matrix_dims(shape: &[usize]) -> (usize, usize) {
    match shape.split_last() {
        None => (1, 1),
        Some((&c, rest)) => (rest.iter().product(), c),
    }
}
