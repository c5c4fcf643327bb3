//! safetensors reading and writing (through the `safetensors` crate).
//!
//! F32, F16 and BF16 tensors become [`Data::F32`] (widened exactly; the dtype is kept and
//! used to narrow them back on writing); every other dtype is carried as [`Data::Raw`] bytes
//! with `DType::Other("I64")` etc. Tensors are returned sorted by name. The optional
//! `__metadata__` string map can be read and written with the `*_with_metadata` functions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use half::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors, TensorView, View};
use tensorjpeg::tensor::numel;
use tensorjpeg::{DType, Data, Tensor};

use crate::error::{Error, Result};
use crate::write_atomic;

/// The `__metadata__` map of a safetensors file.
pub type Metadata = BTreeMap<String, String>;

/// Reads every tensor of a safetensors file, sorted by name.
pub fn read_safetensors(path: &Path) -> Result<Vec<Tensor>> {
    Ok(read_safetensors_with_metadata(path)?.0)
}

/// Reads every tensor of a safetensors file (sorted by name) and its `__metadata__` map
/// (empty if the file has none).
pub fn read_safetensors_with_metadata(path: &Path) -> Result<(Vec<Tensor>, Metadata)> {
    crate::note_input(path);
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_safetensors(path, &bytes)
}

/// Parses safetensors bytes; `path` is only used in error messages.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<(Vec<Tensor>, Metadata)> {
    // `read_metadata` validates the header size against the buffer, the offsets, and the
    // byte size of every tensor before anything is allocated.
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let metadata: Metadata = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let view = st
            .tensor(name)
            .map_err(|e| Error::tensor(path, name, e.to_string()))?;
        out.push(tensor_from_view(path, name, &view)?);
    }
    Ok((out, metadata))
}

fn dtype_name(d: Dtype) -> String {
    // The serde name is the on-disk name ("F8_E4M3", "I64", ...).
    serde_json::to_string(&d)
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_else(|_| format!("{d:?}"))
}

fn tensor_from_view(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Tensor> {
    let shape = view.shape().to_vec();
    let data = view.data();
    let n = numel(&shape)
        .ok_or_else(|| Error::tensor(path, name, format!("shape {shape:?} overflows")))?;
    let (dtype, values) = match view.dtype() {
        Dtype::F32 => (
            DType::F32,
            widen(data, 4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        Dtype::F16 => (
            DType::F16,
            widen(data, 2, |b| f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        Dtype::BF16 => (
            DType::BF16,
            widen(data, 2, |b| bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        other => {
            return Ok(Tensor {
                name: name.to_string(),
                shape,
                dtype: DType::Other(dtype_name(other)),
                data: Data::Raw(data.to_vec()),
            })
        }
    };
    if values.len() != n {
        return Err(Error::tensor(
            path,
            name,
            format!(
                "shape {shape:?} needs {n} values, the file holds {}",
                values.len()
            ),
        ));
    }
    Ok(Tensor {
        name: name.to_string(),
        shape,
        dtype,
        data: Data::F32(values),
    })
}

fn widen(data: &[u8], size: usize, f: impl Fn(&[u8]) -> f32) -> Vec<f32> {
    data.chunks_exact(size).map(f).collect()
}

/// Writes tensors to a safetensors file (atomically, see [`write_atomic`]).
///
/// F16 and BF16 tensors are narrowed back to their dtype (exact for values that were read
/// from such a file; other values are rounded to nearest); raw tensors are written as they
/// are. On disk the tensors are ordered as safetensors orders them (by dtype alignment, then
/// by name).
pub fn write_safetensors(path: &Path, tensors: &[Tensor]) -> Result<()> {
    write_safetensors_with_metadata(path, tensors, &Metadata::new())
}

/// Like [`write_safetensors`], with a `__metadata__` map (omitted from the file if empty).
pub fn write_safetensors_with_metadata(
    path: &Path,
    tensors: &[Tensor],
    metadata: &Metadata,
) -> Result<()> {
    let bytes = serialize_safetensors(path, tensors, metadata)?;
    write_atomic(path, &bytes)
}

/// Serializes tensors to safetensors bytes; `path` is only used in error messages.
pub fn serialize_safetensors(
    path: &Path,
    tensors: &[Tensor],
    metadata: &Metadata,
) -> Result<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut owned = Vec::with_capacity(tensors.len());
    for t in tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(Error::tensor(
                path,
                &t.name,
                "the name occurs twice (safetensors names must be unique)",
            ));
        }
        owned.push((t.name.clone(), OwnedView::from_tensor(path, t)?));
    }
    let info: Option<HashMap<String, String>> = if metadata.is_empty() {
        None
    } else {
        Some(
            metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    safetensors::serialize(owned.iter().map(|(n, v)| (n.as_str(), v)), info)
        .map_err(|e| Error::format(path, format!("cannot serialize safetensors: {e}")))
}

/// A tensor's bytes in its on-disk dtype.
struct OwnedView {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl OwnedView {
    fn from_tensor(path: &Path, t: &Tensor) -> Result<Self> {
        let err = |msg: String| Error::tensor(path, &t.name, msg);
        let n = numel(&t.shape).ok_or_else(|| err(format!("shape {:?} overflows", t.shape)))?;
        let dtype: Dtype =
            serde_json::from_str(&format!("\"{}\"", t.dtype.name())).map_err(|_| {
                err(format!(
                    "dtype '{}' is not a safetensors dtype",
                    t.dtype.name()
                ))
            })?;
        let bytes = match (&t.data, &t.dtype) {
            (Data::F32(v), DType::F32 | DType::F16 | DType::BF16) => {
                if v.len() != n {
                    return Err(err(format!(
                        "shape {:?} needs {n} values, {} given",
                        t.shape,
                        v.len()
                    )));
                }
                match t.dtype {
                    DType::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    DType::F16 => v
                        .iter()
                        .flat_map(|&x| f16::from_f32(x).to_le_bytes())
                        .collect(),
                    _ => v
                        .iter()
                        .flat_map(|&x| bf16::from_f32(x).to_le_bytes())
                        .collect(),
                }
            }
            (Data::F32(_), other) => {
                return Err(err(format!(
                    "float values with dtype {} (expected F32, F16 or BF16 for float data)",
                    other.name()
                )))
            }
            (Data::Raw(b), _) => {
                let bits = n
                    .checked_mul(dtype.bitsize())
                    .ok_or_else(|| err("size overflows".into()))?;
                if bits % 8 != 0 || b.len() != bits / 8 {
                    return Err(err(format!(
                        "shape {:?} of {} needs {} bits, {} bytes given",
                        t.shape,
                        t.dtype.name(),
                        bits,
                        b.len()
                    )));
                }
                b.clone()
            }
        };
        Ok(OwnedView {
            dtype,
            shape: t.shape.clone(),
            bytes,
        })
    }
}

impl View for &OwnedView {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}
