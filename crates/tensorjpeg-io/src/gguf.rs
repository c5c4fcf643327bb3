//! GGUF reading through candle's `gguf_file`: every tensor (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
//! Q5_1, Q8_0, K-quants) is dequantized to f32 by candle and returned with dtype F32.
//!
//! GGUF stores dimensions innermost first; candle reverses them, so shapes come out
//! row-major, outermost first (SmolLM2's `token_embd.weight` is `[49152, 576]`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::Device;
use tensorjpeg::{DType, Data, Tensor};

use crate::error::{Error, Result};

/// What a GGUF file says about one tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufTensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// The GGML storage type, e.g. `Q4_1`.
    pub ggml_dtype: String,
    /// Bytes the tensor occupies in the file.
    pub bytes: u64,
}

/// Checks what candle's header reader trusts without checking: `general.alignment` must be
/// an integer ≥ 1 (candle divides by it). Walks the metadata without allocating (each
/// value is skipped by its size, read against the bytes present); anything it cannot walk
/// is left to candle's reader, which returns an error for it.
pub fn check_gguf_header(path: &Path) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    check_gguf_in(path, BufReader::new(file), len)
}

/// [`check_gguf_header`] on a GGUF file's bytes held in memory (`path` names it in errors).
pub fn check_gguf_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    check_gguf_in(path, std::io::Cursor::new(bytes), bytes.len() as u64)
}

fn check_gguf_in<R: std::io::Read + std::io::Seek>(path: &Path, mut r: R, len: u64) -> Result<()> {
    use std::io::Read;
    fn u(r: &mut impl Read, n: usize) -> Option<u64> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b[..n]).ok()?;
        Some(u64::from_le_bytes(b))
    }
    let (Some(0x4655_4747), Some(version)) = (u(&mut r, 4), u(&mut r, 4)) else {
        return Ok(());
    };
    let wide = if version == 1 { 4 } else { 8 };
    let (Some(_), Some(kvs)) = (u(&mut r, wide), u(&mut r, wide)) else {
        return Ok(());
    };
    const KEY: &[u8] = b"general.alignment";
    /// Bytes of a scalar of GGUF value type `t` (None: string, array or unknown).
    fn scalar(t: u64) -> Option<i64> {
        match t {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        }
    }
    for _ in 0..kvs {
        let Some(klen) = u(&mut r, wide) else {
            return Ok(());
        };
        if klen > len {
            return Ok(());
        }
        // Short keys are read (candle drops trailing NULs from strings, so must we).
        let mut key = vec![0u8; if klen <= 256 { klen as usize } else { 0 }];
        if key.is_empty() {
            if r.seek_relative(klen as i64).is_err() {
                return Ok(());
            }
        } else if r.read_exact(&mut key).is_err() {
            return Ok(());
        }
        while key.last() == Some(&0) {
            key.pop();
        }
        let Some(t) = u(&mut r, 4) else { return Ok(()) };
        if key == KEY {
            let v = scalar(t).and_then(|n| u(&mut r, n as usize));
            // Integer types only (0..=5, 10, 11); a float or a string is ignored by candle.
            if matches!(t, 0..=5 | 10 | 11) && v == Some(0) {
                return Err(Error::format(
                    path,
                    "general.alignment is 0 (expected an alignment ≥ 1)",
                ));
            }
            return Ok(());
        }
        let skip = match (scalar(t), t) {
            (Some(n), _) => n,
            (None, 8) => match u(&mut r, wide) {
                Some(n) if n <= len => n as i64,
                _ => return Ok(()),
            },
            (None, 9) => {
                // An array: element type, count, then the elements (scalars skipped whole;
                // arrays of strings walked one by one).
                let (Some(et), Some(count)) = (u(&mut r, 4), u(&mut r, wide)) else {
                    return Ok(());
                };
                match scalar(et) {
                    Some(n) if count <= len => n * count as i64,
                    None if et == 8 && count <= len => {
                        for _ in 0..count {
                            match u(&mut r, wide) {
                                Some(n) if n <= len => {
                                    if r.seek_relative(n as i64).is_err() {
                                        return Ok(());
                                    }
                                }
                                _ => return Ok(()),
                            }
                        }
                        0
                    }
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        if r.seek_relative(skip).is_err() || r.stream_position().map_or(true, |p| p > len) {
            return Ok(());
        }
    }
    Ok(())
}

/// A GGUF file's bytes: the file itself, or a repacked file (`.tjgguf`, see
/// [`crate::repack`]) restored in memory. Every GGUF reader of this crate (and the llama
/// loader) opens files through [`open_gguf`], so a repacked file reads like the original.
#[derive(Debug)]
pub enum GgufReader {
    /// The GGUF file on disk.
    File(BufReader<File>),
    /// A restored repacked file.
    Memory(std::io::Cursor<Vec<u8>>),
}

impl std::io::Read for GgufReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            GgufReader::File(f) => f.read(buf),
            GgufReader::Memory(m) => m.read(buf),
        }
    }
}

impl std::io::Seek for GgufReader {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            GgufReader::File(f) => f.seek(pos),
            GgufReader::Memory(m) => m.seek(pos),
        }
    }
}

/// Opens a GGUF file, or a repacked one (restored in memory, its checksums checked):
/// the reader, candle's parsed header (after [`check_gguf_header`]'s checks) and the GGUF
/// file's length.
pub fn open_gguf(path: &Path) -> Result<(GgufReader, Content, u64)> {
    use std::io::{Read, Seek};
    let io = |e| Error::io(path, e);
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let len = file.get_ref().metadata().map_err(io)?.len();
    let mut magic = Vec::with_capacity(8);
    (&mut file).take(8).read_to_end(&mut magic).map_err(io)?;
    file.rewind().map_err(io)?;
    let (mut reader, len) = if crate::repack::is_repacked(&magic) {
        let gguf = crate::repack::unpack_gguf(path, &crate::read_file(path)?)?;
        check_gguf_bytes(path, &gguf)?;
        let len = gguf.len() as u64;
        (GgufReader::Memory(std::io::Cursor::new(gguf)), len)
    } else {
        check_gguf_in(path, &mut file, len)?;
        file.rewind().map_err(io)?;
        (GgufReader::File(file), len)
    };
    let content = Content::read(&mut reader).map_err(|e| {
        Error::format(
            path,
            format!("cannot read the GGUF header: {}", candle_message(&e)),
        )
    })?;
    Ok((reader, content, len))
}

/// Tensor infos of a GGUF header read by [`open_gguf`], in file order, each validated:
/// element count and byte size do not overflow, are whole blocks, and lie inside the
/// file of `file_len` bytes.
pub fn check_gguf_tensors(
    path: &Path,
    content: &Content,
    file_len: u64,
) -> Result<Vec<GgufTensorInfo>> {
    let mut out = Vec::with_capacity(content.tensor_infos.len());
    let mut order: Vec<(&String, u64)> = content
        .tensor_infos
        .iter()
        .map(|(n, i)| (n, i.offset))
        .collect();
    order.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    for (name, _) in order {
        let info = &content.tensor_infos[name];
        let shape = info.shape.dims().to_vec();
        let err = |msg: String| Error::tensor(path, name.as_str(), msg);
        let n = tensorjpeg::tensor::numel(&shape)
            .ok_or_else(|| err(format!("shape {shape:?} overflows")))?;
        if n == 0 {
            // candle builds an f32 slice from an empty buffer's (misaligned) pointer for
            // these, which is undefined behaviour (found by fuzzing): refused up front.
            return Err(err(format!(
                "shape {shape:?} has no elements (zero-element tensors are not supported)"
            )));
        }
        if let Some(why) = tensorjpeg::Limits::configured().over_element_cap(n as u64) {
            return Err(err(format!("shape {shape:?} = {n} values, {why}")));
        }
        let bs = info.ggml_dtype.block_size();
        if n % bs != 0 {
            return Err(err(format!(
                "{n} elements are not a whole number of {:?} blocks of {bs}",
                info.ggml_dtype
            )));
        }
        let bytes = (n / bs)
            .checked_mul(info.ggml_dtype.type_size())
            .ok_or_else(|| err(format!("shape {shape:?} overflows")))? as u64;
        let start = content.tensor_data_offset.checked_add(info.offset);
        if start
            .and_then(|s| s.checked_add(bytes))
            .is_none_or(|end| end > file_len)
        {
            return Err(err(format!(
                "truncated file: {bytes} bytes of {:?} data at offset {} + {} lie beyond the end ({file_len} bytes)",
                info.ggml_dtype, content.tensor_data_offset, info.offset
            )));
        }
        out.push(GgufTensorInfo {
            name: name.clone(),
            shape,
            ggml_dtype: format!("{:?}", info.ggml_dtype),
            bytes,
        });
    }
    Ok(out)
}

/// Lists the tensors of a GGUF file (in file order) without reading their data.
pub fn gguf_tensor_infos(path: &Path) -> Result<Vec<GgufTensorInfo>> {
    crate::note_input(path);
    let (_, content, len) = open_gguf(path)?;
    check_gguf_tensors(path, &content, len)
}

/// Reads and dequantizes every tensor of a GGUF file, in file order.
pub fn read_gguf(path: &Path) -> Result<Vec<Tensor>> {
    read_gguf_selected(path, |_| true)
}

/// Reads and dequantizes the tensors of a GGUF file whose names `keep` accepts, in file order.
pub fn read_gguf_selected(path: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<Tensor>> {
    crate::note_input(path);
    let (mut reader, content, len) = open_gguf(path)?;
    let mut out = Vec::new();
    for info in check_gguf_tensors(path, &content, len)? {
        if !keep(&info.name) {
            continue;
        }
        let err =
            |e: candle_core::Error| Error::tensor(path, info.name.as_str(), candle_message(&e));
        let q = content
            .tensor(&mut reader, &info.name, &Device::Cpu)
            .map_err(err)?;
        let values = q
            .dequantize(&Device::Cpu)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(err)?;
        if values.len() != info.shape.iter().product::<usize>() {
            return Err(Error::tensor(
                path,
                info.name.as_str(),
                format!(
                    "dequantized to {} values, shape {:?} expected",
                    values.len(),
                    info.shape
                ),
            ));
        }
        out.push(Tensor {
            name: info.name,
            shape: info.shape,
            dtype: DType::F32,
            data: Data::F32(values),
        });
    }
    Ok(out)
}

/// Longest array rendered in full by [`gguf_metadata`]; longer ones show their first items.
pub const METADATA_ARRAY_ITEMS: usize = 8;
/// Longest string rendered in full by [`gguf_metadata`].
pub const METADATA_STRING_CHARS: usize = 200;

/// The metadata of a GGUF file as `(key, rendered value)` pairs sorted by key. Strings are
/// quoted and cut at [`METADATA_STRING_CHARS`] characters; arrays longer than
/// [`METADATA_ARRAY_ITEMS`] show their first items and their length.
pub fn gguf_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    crate::note_input(path);
    let (_, content, _) = open_gguf(path)?;
    let mut out: Vec<(String, String)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), render(v)))
        .collect();
    out.sort();
    Ok(out)
}

fn render(v: &Value) -> String {
    match v {
        Value::U8(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
        Value::String(s) => {
            let mut cut: String = s.chars().take(METADATA_STRING_CHARS).collect();
            if cut.len() < s.len() {
                cut.push('…');
            }
            format!("{cut:?}")
        }
        Value::Array(items) => {
            let shown: Vec<String> = items
                .iter()
                .take(METADATA_ARRAY_ITEMS)
                .map(render)
                .collect();
            if items.len() > METADATA_ARRAY_ITEMS {
                format!("[{}, ... ({} items)]", shown.join(", "), items.len())
            } else {
                format!("[{}]", shown.join(", "))
            }
        }
    }
}

/// A candle error's message without the backtrace candle attaches under `RUST_BACKTRACE`.
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    let mut e = e;
    while let candle_core::Error::WithBacktrace { inner, .. } = e {
        e = inner;
    }
    let s = e.to_string();
    s.split("\nstack backtrace:")
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// How [`write_gguf_like`] stores matrices whose values no GGUF block type (Q4_0, Q4_1,
/// Q8_0) holds exactly; those that one does are stored in its blocks. Vectors (norms,
/// biases) are always F32, as llama.cpp keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GgufMatrices {
    /// The decoded values exactly.
    #[default]
    F32,
    /// Rounded to half precision (half the bytes).
    F16,
}

/// The smallest of Q4_0, Q4_1 and Q8_0 whose blocks hold `values` (a matrix, rows a
/// multiple of 32) exactly, bit for bit — a tensor the container kept exact, or coded with
/// a block codec, goes back to its blocks instead of F32. The search is the codec crate's
/// ([`tensorjpeg::baselines::ggml_packed::exact_kind`]); candle's quantizers write the same
/// blocks.
fn exact_blocks(
    dense: &candle_core::Tensor,
    values: &[f32],
    ndim: usize,
) -> candle_core::Result<Option<candle_core::quantized::QTensor>> {
    use candle_core::quantized::{GgmlDType, QTensor};
    use tensorjpeg::baselines::ggml::Kind;
    if ndim < 2 {
        return Ok(None);
    }
    let Some(kind) = tensorjpeg::baselines::ggml_packed::exact_kind(values, dense.dims()) else {
        return Ok(None);
    };
    let dt = match kind {
        Kind::Q4_0 => GgmlDType::Q4_0,
        Kind::Q4_1 => GgmlDType::Q4_1,
        Kind::Q8_0 => GgmlDType::Q8_0,
    };
    QTensor::quantize(dense, dt).map(Some)
}

/// Writes `tensors` (decoded from a container) as a GGUF file llama.cpp can run, with the
/// metadata (architecture, hyper-parameters, tokenizer) and tensor order of `template`, the
/// model file they came from. Every template tensor must be among `tensors` with the same
/// shape, and no other; `general.file_type` says what is stored. Written atomically.
pub fn write_gguf_like(
    path: &Path,
    tensors: &[Tensor],
    template: &Path,
    matrices: GgufMatrices,
) -> Result<()> {
    use candle_core::quantized::{GgmlDType, QTensor};
    crate::note_input(template);
    let (_, content, len) = open_gguf(template)?;
    let order = check_gguf_tensors(template, &content, len)?;
    let mut given: std::collections::HashMap<&str, &Tensor> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut stored = Vec::with_capacity(order.len());
    let mut by_type = std::collections::HashMap::new();
    for info in &order {
        let name = info.name.as_str();
        let t = given.remove(name).ok_or_else(|| {
            Error::tensor(
                path,
                name,
                format!("missing: {} has it", template.display()),
            )
        })?;
        if t.shape != info.shape {
            return Err(Error::tensor(
                path,
                name,
                format!(
                    "shape {:?}, but {:?} in {}",
                    t.shape,
                    info.shape,
                    template.display()
                ),
            ));
        }
        let values = t
            .values()
            .ok_or_else(|| Error::tensor(path, name, "not a float tensor"))?;
        let err = |e: candle_core::Error| Error::tensor(path, name, candle_message(&e));
        let dense = candle_core::Tensor::from_slice(values, t.shape.as_slice(), &Device::Cpu)
            .map_err(err)?;
        let dtype = match matrices {
            GgufMatrices::F16 if t.shape.len() >= 2 => GgmlDType::F16,
            _ => GgmlDType::F32,
        };
        let q = match exact_blocks(&dense, values, t.shape.len()).map_err(err)? {
            Some(q) => q,
            None => QTensor::quantize(&dense, dtype).map_err(err)?,
        };
        *by_type.entry(q.dtype()).or_insert(0) += values.len();
        stored.push((name, q));
    }
    if let Some(extra) = given.keys().min() {
        return Err(Error::tensor(
            path,
            *extra,
            format!("not a tensor of {}", template.display()),
        ));
    }
    let mut metadata: Vec<(String, Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.alignment")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.sort_by(|a, b| a.0.cmp(&b.0));
    // llama.cpp's LLAMA_FTYPE of the type holding most values: 0 = all F32, 1 = mostly F16,
    // 2 = Q4_0, 3 = Q4_1, 7 = Q8_0.
    let ftype = match by_type.iter().max_by_key(|(t, n)| (**n, format!("{t:?}"))) {
        Some((GgmlDType::F16, _)) => 1,
        Some((GgmlDType::Q4_0, _)) => 2,
        Some((GgmlDType::Q4_1, _)) => 3,
        Some((GgmlDType::Q8_0, _)) => 7,
        _ => 0,
    };
    match metadata.iter_mut().find(|(k, _)| k == "general.file_type") {
        Some((_, v)) => *v = Value::U32(ftype),
        None => metadata.push(("general.file_type".into(), Value::U32(ftype))),
    }
    let meta: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = stored.iter().map(|(n, q)| (*n, q)).collect();
    let mut bytes = std::io::Cursor::new(Vec::new());
    candle_core::quantized::gguf_file::write(&mut bytes, &meta, &refs)
        .map_err(|e| Error::format(path, format!("writing GGUF: {}", candle_message(&e))))?;
    crate::output::write_atomic(path, &bytes.into_inner())
}
