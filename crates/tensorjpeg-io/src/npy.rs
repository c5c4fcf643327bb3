//! A small implementation of NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
//!
//! Supported: little-endian `float32` (`'<f4'`) and `float16` (`'<f2'`) arrays in C order,
//! read and written. Fortran-order arrays and every other dtype are refused with an error
//! naming what is supported. The tensor of an `.npy` file is named after the file stem.
//!
//! Writing uses version 1.0 unless the header needs more than 65535 bytes (then 2.0); the
//! header is padded with spaces so that the data starts at a multiple of 64 bytes. BF16
//! tensors (NumPy has no bfloat16) are written as `'<f4'`, which holds them exactly.

use std::io::Read;
use std::path::Path;

use half::f16;
use tensorjpeg::tensor::numel;
use tensorjpeg::{DType, Data, Tensor};

use crate::error::{Error, Result};
use crate::write_atomic;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The dtypes this module reads and writes, for error messages.
pub const SUPPORTED: &str = "'<f4' (float32) and '<f2' (float16), little-endian, C order";
/// Largest header accepted on reading (NumPy itself refuses headers over 10 000 bytes by
/// default; this is more lenient).
const MAX_HEADER: usize = 1 << 20;

/// The parsed header of an `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The `descr` field, e.g. `<f4`.
    pub descr: String,
    /// The `fortran_order` field.
    pub fortran_order: bool,
    /// The `shape` field, outermost first.
    pub shape: Vec<usize>,
    /// Byte offset of the data (magic, version, length field and header included).
    pub data_offset: usize,
}

/// Reads an `.npy` file as one tensor named after the file stem.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    crate::note_input(path);
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    // The prefix (magic, version, header length) is at most 12 bytes; read it, then the
    // header (bounded by the file size), and validate the shape against the file size
    // before allocating the data.
    let mut prefix = vec![0u8; 12.min(file_len as usize)];
    file.read_exact(&mut prefix)
        .map_err(|e| Error::io(path, e))?;
    let (header_len, prefix_len) = parse_prefix(path, &prefix)?;
    let total_header = prefix_len + header_len;
    if total_header as u64 > file_len {
        return Err(Error::format(
            path,
            format!("truncated .npy: header needs {total_header} bytes, the file has {file_len}"),
        ));
    }
    let mut head = prefix;
    head.resize(total_header.max(head.len()), 0);
    if total_header > 12 {
        file.read_exact(&mut head[12..])
            .map_err(|e| Error::io(path, e))?;
    }
    let header = parse_header(path, &head[prefix_len..total_header], total_header)?;
    let name = stem(path);
    let nbytes = check_size(path, &name, &header, file_len)?;
    let mut data = vec![0u8; nbytes];
    let mut rest = Vec::new();
    // `head` may already hold the first data bytes (if the header was under 12 bytes).
    let already = head.len() - total_header;
    data[..already].copy_from_slice(&head[total_header..]);
    file.read_exact(&mut data[already..])
        .map_err(|e| Error::io(path, e))?;
    file.read_to_end(&mut rest)
        .map_err(|e| Error::io(path, e))?;
    if !rest.is_empty() {
        return Err(Error::format(path, "the file changed while it was read"));
    }
    tensor_from_data(name, header, &data)
}

/// Parses `.npy` bytes as a tensor called `name`; `path` is only used in error messages.
pub fn parse_npy(path: &Path, name: &str, bytes: &[u8]) -> Result<Tensor> {
    let (header_len, prefix_len) = parse_prefix(path, bytes)?;
    let total_header = prefix_len + header_len;
    if total_header > bytes.len() {
        return Err(Error::format(
            path,
            format!(
                "truncated .npy: header needs {total_header} bytes, the file has {}",
                bytes.len()
            ),
        ));
    }
    let header = parse_header(path, &bytes[prefix_len..total_header], total_header)?;
    let nbytes = check_size(path, name, &header, bytes.len() as u64)?;
    let data = &bytes[total_header..total_header + nbytes];
    tensor_from_data(name.to_string(), header, data)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "array".to_string())
}

/// Returns (header length, prefix length) from the magic, version and length field.
fn parse_prefix(path: &Path, b: &[u8]) -> Result<(usize, usize)> {
    let n = b.len().min(6);
    if b[..n] != MAGIC[..n] {
        return Err(Error::format(
            path,
            "not an .npy file (missing the \\x93NUMPY magic)",
        ));
    }
    if b.len() < 10 {
        return Err(Error::format(
            path,
            format!("truncated .npy: {} bytes", b.len()),
        ));
    }
    let (major, minor) = (b[6], b[7]);
    let (len, prefix) = match major {
        1 => (usize::from(u16::from_le_bytes([b[8], b[9]])), 10),
        2 | 3 => {
            if b.len() < 12 {
                return Err(Error::format(path, "truncated .npy header"));
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        _ => {
            let msg =
                format!(".npy version {major}.{minor} is not supported (expected 1.0, 2.0 or 3.0)");
            return Err(Error::format(path, msg));
        }
    };
    if len > MAX_HEADER {
        return Err(Error::format(
            path,
            format!(".npy header of {len} bytes exceeds the limit of {MAX_HEADER} bytes"),
        ));
    }
    Ok((len, prefix))
}

fn check_size(path: &Path, name: &str, h: &NpyHeader, file_len: u64) -> Result<usize> {
    let n = numel(&h.shape)
        .ok_or_else(|| Error::tensor(path, name, format!("shape {:?} overflows", h.shape)))?;
    let item = if h.descr == "<f4" { 4 } else { 2 };
    let nbytes = n
        .checked_mul(item)
        .ok_or_else(|| Error::tensor(path, name, format!("shape {:?} overflows", h.shape)))?;
    let avail = file_len.saturating_sub(h.data_offset as u64);
    if nbytes as u64 != avail {
        let what = if (nbytes as u64) > avail {
            "truncated .npy"
        } else {
            "trailing bytes in .npy"
        };
        return Err(Error::tensor(
            path,
            name,
            format!(
                "{what}: shape {:?} of {} needs {nbytes} data bytes, the file has {avail}",
                h.shape, h.descr
            ),
        ));
    }
    Ok(nbytes)
}

fn tensor_from_data(name: String, h: NpyHeader, data: &[u8]) -> Result<Tensor> {
    let (dtype, values) = if h.descr == "<f4" {
        (
            DType::F32,
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    } else {
        (
            DType::F16,
            data.chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        )
    };
    Ok(Tensor {
        name,
        shape: h.shape,
        dtype,
        data: Data::F32(values),
    })
}

/// Parses the header dictionary, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`,
/// and checks that it describes a supported array.
pub fn parse_header(path: &Path, bytes: &[u8], data_offset: usize) -> Result<NpyHeader> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::format(path, ".npy header is not UTF-8/ASCII text"))?;
    let bad = |what: &str| {
        Error::format(
            path,
            format!("malformed .npy header ({what}): {}", text.trim_end()),
        )
    };
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if !p.eat(b'{') {
        return Err(bad("expected '{'"));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
        p.ws();
        if !p.eat(b':') {
            return Err(bad("expected ':'"));
        }
        p.ws();
        match key.as_str() {
            "descr" => descr = Some(p.string().ok_or_else(|| bad("descr must be a string"))?),
            "fortran_order" => {
                fortran = Some(if p.word("True") {
                    true
                } else if p.word("False") {
                    false
                } else {
                    return Err(bad("fortran_order must be True or False"));
                })
            }
            "shape" => {
                shape = Some(
                    p.tuple()
                        .ok_or_else(|| bad("shape must be a tuple of integers"))?,
                )
            }
            _ => return Err(bad(&format!("unexpected key '{key}'"))),
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            if p.eat(b'}') {
                break;
            }
            return Err(bad("expected ',' or '}'"));
        }
    }
    let descr = descr.ok_or_else(|| bad("no 'descr'"))?;
    let fortran_order = fortran.ok_or_else(|| bad("no 'fortran_order'"))?;
    let shape = shape.ok_or_else(|| bad("no 'shape'"))?;
    if fortran_order {
        return Err(Error::format(
            path,
            "fortran_order arrays are not supported (save a C-order array, e.g. np.ascontiguousarray)",
        ));
    }
    if descr != "<f4" && descr != "<f2" {
        return Err(Error::format(
            path,
            format!("dtype '{descr}' is not supported (supported: {SUPPORTED})"),
        ));
    }
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Option<String> {
        let q = *self.s.get(self.i)?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = start + self.s[start..].iter().position(|&c| c == q)?;
        self.i = end + 1;
        String::from_utf8(self.s[start..end].to_vec()).ok()
    }
    fn tuple(&mut self) -> Option<Vec<usize>> {
        if !self.eat(b'(') {
            return None;
        }
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Some(dims);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            // Python 2 era files may write longs as `3L`.
            let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            dims.push(digits.parse().ok()?);
            self.eat(b'L');
            self.ws();
            if !self.eat(b',') {
                self.ws();
                return self.eat(b')').then_some(dims);
            }
        }
    }
}

/// Writes one float tensor as an `.npy` file (atomically): F32 and BF16 as `'<f4'`, F16 as
/// `'<f2'`. Raw (non-float) tensors are refused.
pub fn write_npy(path: &Path, tensor: &Tensor) -> Result<()> {
    let bytes = serialize_npy(path, tensor)?;
    write_atomic(path, &bytes)
}

/// Serializes one float tensor to `.npy` bytes; `path` is only used in error messages.
pub fn serialize_npy(path: &Path, t: &Tensor) -> Result<Vec<u8>> {
    let values = match &t.data {
        Data::F32(v) => v,
        Data::Raw(_) => {
            return Err(Error::tensor(
                path,
                &t.name,
                format!(
                    "dtype {} cannot be written to .npy (supported: {SUPPORTED})",
                    t.dtype.name()
                ),
            ))
        }
    };
    let n = numel(&t.shape).ok_or_else(|| Error::tensor(path, &t.name, "shape overflows"))?;
    if n != values.len() {
        return Err(Error::tensor(
            path,
            &t.name,
            format!(
                "shape {:?} needs {n} values, {} given",
                t.shape,
                values.len()
            ),
        ));
    }
    let half = t.dtype == DType::F16;
    let data: Vec<u8> = if half {
        values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect()
    } else {
        values.iter().flat_map(|&v| v.to_le_bytes()).collect()
    };
    Ok(npy_bytes(if half { "<f2" } else { "<f4" }, &t.shape, &data))
}

/// An `.npy` file of `shape` whose little-endian, C-order data (of NumPy type `descr`,
/// e.g. `<i8`) is `data`.
pub fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Version 1.0 has a u16 header length; the whole prefix + header is padded to 64 bytes,
    // ending in '\n'.
    let v1 = 10 + header.len() < 65_535;
    let prefix = if v1 { 10 } else { 12 };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    header.push_str(&" ".repeat(total - prefix - header.len() - 1));
    header.push('\n');
    let mut out = Vec::with_capacity(total + data.len());
    out.extend_from_slice(MAGIC);
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}
