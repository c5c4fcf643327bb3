//! 3-D volumes and 4-D series (MRI, CT, ...) from NIfTI-1 files (`.nii`, `.nii.gz`).
//!
//! [`read_nifti`] reads every voxel as `f32` into a [`Volume`]; [`Volume::frame`] gives one
//! time point as a [`Signal`] of shape `[1, nz, ny, nx]`.
//!
//! ## Axis order
//!
//! NIfTI stores voxels with x varying fastest, then y, then z, then t. Read as a C-order
//! (row-major, last axis fastest) array that is the shape `[nt, nz, ny, nx]`, so no voxel is
//! moved: [`Volume::data`] is the file's order, and the voxel at `(x, y, z, t)` is
//! `data[((t * nz + z) * ny + y) * nx + x]`. A frame is the contiguous block of time point
//! `t`, given the shape `[1, nz, ny, nx]` (one channel, then the spatial axes with x last):
//! its value at `[0, z, y, x]` is the voxel `(x, y, z, t)`.
//!
//! Every error names the file, like the rest of this crate.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::signal::{is_data_error, Signal};

/// Size of a NIfTI-1 header, and the value of its `sizeof_hdr` field.
const HEADER_LEN: usize = 348;
/// The smallest `vox_offset` of a single-file NIfTI-1 (`n+1`): header plus 4 extension bytes.
const MIN_VOX_OFFSET: u64 = 352;

/// A 3-D volume or 4-D series read by [`read_nifti`].
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The file it was read from (named in the errors of [`Volume::frame`]).
    pub path: PathBuf,
    /// `[nx, ny, nz, nt]`, always 4 entries, each at least 1: a 3-D file has `nt = 1`, a 2-D
    /// one also `nz = 1`.
    pub dims: Vec<usize>,
    /// `[dx, dy, dz, dt]`: the header's `pixdim[1..=4]` as stored, in the units of its
    /// `xyzt_units` (usually mm, and s or ms); 0 for the axes past `dim[0]`.
    pub voxel_size: Vec<f32>,
    /// The stored data type: `"uint8"`, `"int16"`, `"int32"`, `"float32"`, `"float64"`,
    /// `"int8"`, `"uint16"` or `"uint32"`.
    pub datatype: &'static str,
    /// The voxels, `nx * ny * nz * nt` of them, x fastest (see the module docs), scaled by
    /// `scl_slope`/`scl_inter` where the header asks for it.
    pub data: Vec<f32>,
}

impl Volume {
    /// The number of time points, `nt` (`dims[3]`).
    pub fn frames(&self) -> usize {
        self.dims.get(3).copied().unwrap_or(0)
    }

    /// The number of voxels of one frame, `nx * ny * nz` (0 if `dims` is malformed).
    pub fn frame_len(&self) -> usize {
        match self.dims[..] {
            [nx, ny, nz, _] => nx
                .checked_mul(ny)
                .and_then(|v| v.checked_mul(nz))
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Time point `t` as a [`Signal`] of shape `[1, nz, ny, nx]` (C order, x fastest): its
    /// value at `[0, z, y, x]` is the voxel `(x, y, z, t)`.
    ///
    /// Errors (naming the file) if `t` is not in `0..nt`, or if the fields were changed
    /// so that `dims` and `data` no longer agree.
    pub fn frame(&self, t: usize) -> Result<Signal> {
        let [nx, ny, nz, nt] = match self.dims[..] {
            [nx, ny, nz, nt] => [nx, ny, nz, nt],
            _ => {
                return Err(Error::format(
                    &self.path,
                    format!("volume dims {:?} are not [nx, ny, nz, nt]", self.dims),
                ))
            }
        };
        if t >= nt {
            let valid = if nt == 0 {
                "none".to_string()
            } else {
                format!("0..={}", nt - 1)
            };
            return Err(Error::format(
                &self.path,
                format!("frame {t} is out of range: the series has {nt} frame(s) (valid: {valid})"),
            ));
        }
        let n = self.frame_len();
        let values = t
            .checked_mul(n)
            .and_then(|start| self.data.get(start..start.checked_add(n)?))
            .filter(|_| n > 0)
            .ok_or_else(|| {
                Error::format(
                    &self.path,
                    format!(
                        "volume of dims {:?} has {} values: frame {t} is not all there",
                        self.dims,
                        self.data.len()
                    ),
                )
            })?;
        Ok(Signal {
            values: values.to_vec(),
            shape: vec![1, nz, ny, nx],
            sample_rate: None,
        })
    }
}

/// A supported NIfTI datatype: its code, name and size in bytes.
const DATATYPES: [(i16, &str, usize); 8] = [
    (2, "uint8", 1),
    (4, "int16", 2),
    (8, "int32", 4),
    (16, "float32", 4),
    (64, "float64", 8),
    (256, "int8", 1),
    (512, "uint16", 2),
    (768, "uint32", 4),
];

/// What [`read_nifti`] needs of the header.
#[derive(Debug)]
struct Header {
    big_endian: bool,
    /// `[nx, ny, nz, nt]`.
    dims: [usize; 4],
    voxel_size: [f32; 4],
    /// Datatype code, name and size.
    datatype: (i16, &'static str, usize),
    vox_offset: u64,
    /// `(slope, inter)` to apply, or `None` for the identity.
    scaling: Option<(f64, f64)>,
}

/// Reads a NIfTI-1 file, `.nii` or gzip'd `.nii.gz` (recognised by its gzip magic, not its
/// name), as a [`Volume`] of `f32` voxels.
///
/// * Both byte orders, recognised by `sizeof_hdr == 348`.
/// * Single-file NIfTI-1 only (magic `n+1`; voxels at `vox_offset`, extensions skipped).
///   Header/image pairs (`ni1`), ANALYZE 7.5 and NIfTI-2 are refused.
/// * Datatypes uint8 (2), int16 (4), int32 (8), float32 (16), float64 (64), int8 (256),
///   uint16 (512) and uint32 (768); `bitpix` is not checked (the datatype wins). Values that
///   `f32` cannot hold exactly (int32 beyond 2^24, float64) are rounded to the nearest `f32`.
/// * Up to 4 dimensions (x, y, z, t); `dim[5..=7]` must be 1.
/// * If `scl_slope` is finite and not 0, every voxel is `scl_slope * v + scl_inter`
///   (computed in `f64`; a non-finite `scl_inter` counts as 0). A slope of 0 or NaN means
///   no scaling, as the NIfTI standard says.
///
/// Errors name the file and, where it applies, the valid range: not a NIfTI-1 file,
/// truncated header, extensions or voxel data, an unsupported datatype, bad or overflowing
/// dims, a bad `vox_offset`, a corrupt gzip stream. No input makes it panic, and it never
/// allocates more than the file's (decompressed) data needs, whatever the header claims.
pub fn read_nifti(path: &Path) -> Result<Volume> {
    crate::note_input(path);
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = BufReader::new(file);
    let gz = {
        let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let read_err = |what: &str, e: std::io::Error| {
        if gz && is_data_error(&e) {
            Error::format(
                path,
                format!("{what}: not a valid gzip stream (truncated or corrupt): {e}"),
            )
        } else if is_data_error(&e) {
            Error::format(path, format!("{what}: {e}"))
        } else {
            Error::io(path, e)
        }
    };

    let mut header = [0u8; HEADER_LEN];
    let got = read_full(&mut reader, &mut header).map_err(|e| read_err("reading the header", e))?;
    if got < HEADER_LEN {
        let after = if gz { " (after gunzip)" } else { "" };
        return Err(Error::format(
            path,
            format!(
                "not a NIfTI-1 file: {got} bytes{after}, shorter than the {HEADER_LEN}-byte header"
            ),
        ));
    }
    let h = parse_header(path, &header)?;
    let [nx, ny, nz, nt] = h.dims;
    let (_, type_name, size) = h.datatype;
    let described = format!("{nx}x{ny}x{nz}x{nt} {type_name}");
    let voxels = voxel_count(&h.dims, size).ok_or_else(|| {
        Error::format(
            path,
            format!("dims {described} overflow: too many bytes to address"),
        )
    })?;
    let nbytes = voxels * size; // checked by voxel_count
    if let Some(why) = tensorjpeg::Limits::configured().over_element_cap(voxels as u64) {
        return Err(Error::format(
            path,
            format!("dims {described} = {voxels} voxels, {why}"),
        ));
    }

    // Skip the rest of the header and the extensions, up to vox_offset.
    let skip = h.vox_offset - HEADER_LEN as u64;
    let skipped = std::io::copy(&mut reader.by_ref().take(skip), &mut std::io::sink())
        .map_err(|e| read_err("reading the header extensions", e))?;
    if skipped < skip {
        return Err(Error::format(
            path,
            format!(
                "truncated: the file ends at byte {} (after the header), before vox_offset {}",
                HEADER_LEN as u64 + skipped,
                h.vox_offset
            ),
        ));
    }

    // Never reserve more than a little up front: the header may lie about the size.
    let mut raw = Vec::with_capacity(nbytes.min(1 << 24));
    reader
        .by_ref()
        .take(nbytes as u64)
        .read_to_end(&mut raw)
        .map_err(|e| read_err("reading the voxel data", e))?;
    if raw.len() < nbytes {
        return Err(Error::format(
            path,
            format!(
                "truncated voxel data: {} of the {nbytes} bytes of {described} after vox_offset {}",
                raw.len(),
                h.vox_offset
            ),
        ));
    }
    if gz {
        // Read the stream to its end, so that its CRC is checked: a cut or corrupt file is an
        // error even where the voxels came out whole. (Data after the voxels is ignored.)
        std::io::copy(&mut reader, &mut std::io::sink())
            .map_err(|e| read_err("reading past the voxel data", e))?;
    }
    let data = decode(h.datatype.0, &raw, h.big_endian, h.scaling);
    Ok(Volume {
        path: path.to_path_buf(),
        dims: h.dims.to_vec(),
        voxel_size: h.voxel_size.to_vec(),
        datatype: type_name,
        data,
    })
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The number of voxels of `dims`, if it and its size in bytes (as stored with `size` bytes a
/// voxel, and as `f32`) fit in memory (`isize::MAX` bytes).
fn voxel_count(dims: &[usize; 4], size: usize) -> Option<usize> {
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    let bytes = n.checked_mul(size.max(std::mem::size_of::<f32>()))?;
    (bytes <= isize::MAX as usize).then_some(n)
}

/// Decodes and checks the fields of a NIfTI-1 header.
fn parse_header(path: &Path, b: &[u8; HEADER_LEN]) -> Result<Header> {
    let bad = |msg: String| Error::format(path, msg);
    let word = |at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
    let sizeof_le = i32::from_le_bytes(word(0));
    let sizeof_be = i32::from_be_bytes(word(0));
    let big_endian = match (sizeof_le, sizeof_be) {
        (348, _) => false,
        (_, 348) => true,
        (540, _) | (_, 540) => {
            return Err(bad(
                "a NIfTI-2 file (sizeof_hdr 540): only NIfTI-1 is supported".into(),
            ))
        }
        _ => {
            return Err(bad(format!(
                "not a NIfTI-1 file: sizeof_hdr is {sizeof_le} (expected 348, in either byte order)"
            )))
        }
    };
    let i16_at = |at: usize| {
        let v = [b[at], b[at + 1]];
        if big_endian {
            i16::from_be_bytes(v)
        } else {
            i16::from_le_bytes(v)
        }
    };
    let f32_at = |at: usize| {
        if big_endian {
            f32::from_be_bytes(word(at))
        } else {
            f32::from_le_bytes(word(at))
        }
    };
    match &b[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => {
            return Err(bad(
                "a NIfTI-1 header/image pair (magic \"ni1\", voxels in a separate .img): \
                 only single-file NIfTI-1 (magic \"n+1\") is supported"
                    .into(),
            ))
        }
        other => {
            return Err(bad(format!(
                "not a NIfTI-1 file: magic at byte 344 is {:?}, expected \"n+1\\0\" \
                 (an ANALYZE 7.5 header?)",
                String::from_utf8_lossy(other)
            )))
        }
    }

    let dim: Vec<i16> = (0..8).map(|i| i16_at(40 + 2 * i)).collect();
    let ndim = dim[0];
    if !(1..=7).contains(&ndim) {
        return Err(bad(format!(
            "dim[0] (the number of dimensions) is {ndim}, expected 1..=7"
        )));
    }
    let ndim = ndim as usize; // 1..=7
    for (i, &d) in dim.iter().enumerate().take(ndim + 1).skip(1) {
        if d < 1 {
            return Err(bad(format!("dim[{i}] is {d}, expected 1..=32767")));
        }
    }
    if let Some(i) = (5..=ndim).find(|&i| dim[i] != 1) {
        return Err(bad(format!(
            "dim[{i}] is {}: data of more than 4 dimensions (x, y, z, t) is not supported \
             (dim[5..=7] must be 1)",
            dim[i]
        )));
    }
    let mut dims = [1usize; 4];
    let mut voxel_size = [0f32; 4];
    for i in 1..=ndim.min(4) {
        dims[i - 1] = dim[i] as usize; // >= 1, checked above
        voxel_size[i - 1] = f32_at(76 + 4 * i);
    }

    let code = i16_at(70);
    let datatype = DATATYPES
        .iter()
        .copied()
        .find(|&(c, _, _)| c == code)
        .ok_or_else(|| {
            let supported: Vec<String> = DATATYPES
                .iter()
                .map(|(c, name, _)| format!("{c} ({name})"))
                .collect();
            bad(format!(
                "datatype {code} is not supported; supported: {}",
                supported.join(", ")
            ))
        })?;

    let vox_offset = f32_at(108);
    if !(vox_offset.is_finite()
        && vox_offset.fract() == 0.0
        && (MIN_VOX_OFFSET as f32..=u32::MAX as f32).contains(&vox_offset))
    {
        return Err(bad(format!(
            "vox_offset is {vox_offset}, expected a whole number of bytes >= {MIN_VOX_OFFSET}"
        )));
    }
    let vox_offset = vox_offset as u64; // whole, in 352..=2^32

    let (slope, inter) = (f32_at(112), f32_at(116));
    let scaling = if slope.is_finite() && slope != 0.0 {
        let inter = if inter.is_finite() { inter } else { 0.0 };
        (slope != 1.0 || inter != 0.0).then_some((f64::from(slope), f64::from(inter)))
    } else {
        None
    };
    Ok(Header {
        big_endian,
        dims,
        voxel_size,
        datatype,
        vox_offset,
        scaling,
    })
}

/// The voxels of `raw` (whole values of datatype `code`) as `f32`, scaled.
fn decode(code: i16, raw: &[u8], big_endian: bool, scaling: Option<(f64, f64)>) -> Vec<f32> {
    macro_rules! convert {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let value = |c: &[u8]| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                if big_endian {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            };
            match scaling {
                None => raw.chunks_exact(N).map(|c| value(c) as f32).collect(),
                Some((slope, inter)) => raw
                    .chunks_exact(N)
                    .map(|c| (slope * (value(c) as f64) + inter) as f32)
                    .collect(),
            }
        }};
    }
    match code {
        2 => convert!(u8),
        4 => convert!(i16),
        8 => convert!(i32),
        16 => convert!(f32),
        64 => convert!(f64),
        256 => convert!(i8),
        512 => convert!(u16),
        768 => convert!(u32),
        _ => Vec::new(), // not reached: parse_header accepts only DATATYPES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Options of a synthetic NIfTI-1 file.
    #[derive(Clone)]
    struct Spec {
        big: bool,
        dim: [i16; 8],
        datatype: i16,
        vox_offset: f32,
        slope: f32,
        inter: f32,
        magic: [u8; 4],
        sizeof_hdr: i32,
    }

    impl Spec {
        fn new(dims: &[i16], datatype: i16) -> Spec {
            let mut dim = [1i16; 8];
            dim[0] = dims.len() as i16;
            dim[1..=dims.len()].copy_from_slice(dims);
            Spec {
                big: false,
                dim,
                datatype,
                vox_offset: 352.0,
                slope: 0.0,
                inter: 0.0,
                magic: *b"n+1\0",
                sizeof_hdr: 348,
            }
        }

        /// Header (+ zero extension bytes up to vox_offset) followed by `data`.
        fn bytes(&self, data: &[u8]) -> Vec<u8> {
            let mut b = vec![0u8; HEADER_LEN];
            let put = |b: &mut Vec<u8>, at: usize, bytes: &[u8]| {
                b[at..at + bytes.len()].copy_from_slice(bytes)
            };
            macro_rules! enc {
                ($v:expr) => {
                    if self.big {
                        $v.to_be_bytes()
                    } else {
                        $v.to_le_bytes()
                    }
                };
            }
            put(&mut b, 0, &enc!(self.sizeof_hdr));
            for (i, d) in self.dim.iter().enumerate() {
                put(&mut b, 40 + 2 * i, &enc!(*d));
            }
            put(&mut b, 70, &enc!(self.datatype));
            let pixdim = [1.0f32, 2.0, 3.0, 4.0, 5.0, 1.0, 1.0, 1.0];
            for (i, p) in pixdim.iter().enumerate() {
                put(&mut b, 76 + 4 * i, &enc!(*p));
            }
            put(&mut b, 108, &enc!(self.vox_offset));
            put(&mut b, 112, &enc!(self.slope));
            put(&mut b, 116, &enc!(self.inter));
            put(&mut b, 344, &self.magic);
            b.resize(self.vox_offset.max(348.0) as usize, 0);
            b.extend_from_slice(data);
            b
        }
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err_string<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("should fail").to_string()
    }

    /// 4x3x2x2 int16 voxels with value = index, x fastest.
    fn ramp_i16(big: bool) -> (Spec, Vec<u8>) {
        let mut s = Spec::new(&[4, 3, 2, 2], 4);
        s.big = big;
        let data: Vec<u8> = (0..48i16)
            .flat_map(|v| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            })
            .collect();
        (s, data)
    }

    #[test]
    fn reads_both_byte_orders_plain_and_gzip_in_x_fastest_order() {
        let dir = tempfile::tempdir().unwrap();
        for big in [false, true] {
            let (s, data) = ramp_i16(big);
            let bytes = s.bytes(&data);
            for (name, file) in [("v.nii", bytes.clone()), ("v.nii.gz", gz(&bytes))] {
                let p = write(&dir, name, &file);
                let v = read_nifti(&p).unwrap();
                assert_eq!(v.dims, vec![4, 3, 2, 2], "{name} big={big}");
                assert_eq!(v.voxel_size, vec![2.0, 3.0, 4.0, 5.0]);
                assert_eq!(v.datatype, "int16");
                assert_eq!(v.frames(), 2);
                assert_eq!(v.frame_len(), 24);
                let want: Vec<f32> = (0..48).map(|i| i as f32).collect();
                assert_eq!(v.data, want);
                // Voxel (x, y, z, t) = (1, 2, 1, 1) is at [0, z, y, x] of frame 1.
                let f = v.frame(1).unwrap();
                assert_eq!(f.shape, vec![1, 2, 3, 4]);
                assert_eq!(f.sample_rate, None);
                let (x, y, z, t) = (1, 2, 1, 1);
                let at = (z * 3 + y) * 4 + x;
                assert_eq!(f.values[at], (((t * 2 + z) * 3 + y) * 4 + x) as f32);
                assert_eq!(v.frame(0).unwrap().values, want[..24].to_vec());
            }
        }
    }

    #[test]
    fn every_datatype_and_scaling() {
        let dir = tempfile::tempdir().unwrap();
        let vals = [0.0f64, 1.0, 2.0, 100.0];
        for big in [false, true] {
            for &(code, name, _) in &DATATYPES {
                let data: Vec<u8> = vals
                    .iter()
                    .flat_map(|&v| -> Vec<u8> {
                        macro_rules! e {
                            ($x:expr) => {
                                if big {
                                    $x.to_be_bytes().to_vec()
                                } else {
                                    $x.to_le_bytes().to_vec()
                                }
                            };
                        }
                        match code {
                            2 => e!(v as u8),
                            4 => e!(v as i16),
                            8 => e!(v as i32),
                            16 => e!(v as f32),
                            64 => e!(v),
                            256 => e!(v as i8),
                            512 => e!(v as u16),
                            768 => e!(v as u32),
                            _ => unreachable!(),
                        }
                    })
                    .collect();
                let mut s = Spec::new(&[2, 2], code);
                s.big = big;
                let v = read_nifti(&write(&dir, "t.nii", &s.bytes(&data))).unwrap();
                assert_eq!(v.datatype, name);
                assert_eq!(v.dims, vec![2, 2, 1, 1]);
                assert_eq!(v.data, vec![0.0, 1.0, 2.0, 100.0], "{name} big={big}");
                s.slope = 0.5;
                s.inter = -1.0;
                let v = read_nifti(&write(&dir, "t.nii", &s.bytes(&data))).unwrap();
                assert_eq!(v.data, vec![-1.0, -0.5, 0.0, 49.0], "{name} scaled");
                // A slope of 0 or NaN means no scaling, whatever the intercept.
                for slope in [0.0, f32::NAN] {
                    s.slope = slope;
                    let v = read_nifti(&write(&dir, "t.nii", &s.bytes(&data))).unwrap();
                    assert_eq!(v.data, vec![0.0, 1.0, 2.0, 100.0], "{name} slope {slope}");
                }
            }
        }
        // Negative values of the signed types.
        let mut s = Spec::new(&[2], 4);
        s.vox_offset = 416.0; // extension bytes are skipped
        let data: Vec<u8> = [-32768i16, 32767]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let v = read_nifti(&write(&dir, "n.nii", &s.bytes(&data))).unwrap();
        assert_eq!(v.data, vec![-32768.0, 32767.0]);
        assert_eq!(v.voxel_size, vec![2.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn header_errors_name_the_file_and_what_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let (good, data) = ramp_i16(false);
        let cases: Vec<(Spec, &str)> = vec![
            (
                Spec {
                    sizeof_hdr: 1234,
                    ..good.clone()
                },
                "not a NIfTI-1 file: sizeof_hdr is 1234",
            ),
            (
                Spec {
                    sizeof_hdr: 540,
                    ..good.clone()
                },
                "NIfTI-2",
            ),
            (
                Spec {
                    magic: *b"ni1\0",
                    ..good.clone()
                },
                "header/image pair",
            ),
            (
                Spec {
                    magic: [0; 4],
                    ..good.clone()
                },
                "expected \"n+1\\0\"",
            ),
            (
                Spec {
                    datatype: 32, // complex64
                    ..good.clone()
                },
                "datatype 32 is not supported; supported: 2 (uint8), 4 (int16)",
            ),
            (
                Spec {
                    dim: [0, 4, 3, 2, 2, 1, 1, 1],
                    ..good.clone()
                },
                "dim[0] (the number of dimensions) is 0, expected 1..=7",
            ),
            (
                Spec {
                    dim: [8, 4, 3, 2, 2, 1, 1, 1],
                    ..good.clone()
                },
                "expected 1..=7",
            ),
            (
                Spec {
                    dim: [4, 4, 0, 2, 2, 1, 1, 1],
                    ..good.clone()
                },
                "dim[2] is 0, expected 1..=32767",
            ),
            (
                Spec {
                    dim: [4, 4, -3, 2, 2, 1, 1, 1],
                    ..good.clone()
                },
                "dim[2] is -3",
            ),
            (
                Spec {
                    dim: [5, 4, 3, 2, 1, 3, 1, 1],
                    ..good.clone()
                },
                "dim[5] is 3: data of more than 4 dimensions",
            ),
            (
                Spec {
                    vox_offset: 0.0,
                    ..good.clone()
                },
                "vox_offset is 0, expected a whole number of bytes >= 352",
            ),
            (
                Spec {
                    vox_offset: 352.5,
                    ..good.clone()
                },
                "vox_offset is 352.5",
            ),
            (
                Spec {
                    vox_offset: f32::NAN,
                    ..good.clone()
                },
                "vox_offset is NaN",
            ),
        ];
        for (spec, want) in cases {
            let p = write(&dir, "bad.nii", &spec.bytes(&data));
            let msg = err_string(read_nifti(&p));
            assert!(msg.contains("bad.nii"), "{msg}");
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
        // Missing file: an I/O error naming it.
        let e = read_nifti(&dir.path().join("nope.nii")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("nope.nii"), "{e}");
    }

    #[test]
    fn frame_out_of_range_names_the_file_and_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let (s, data) = ramp_i16(false);
        let v = read_nifti(&write(&dir, "four.nii", &s.bytes(&data))).unwrap();
        let msg = err_string(v.frame(2));
        assert!(msg.contains("four.nii"), "{msg}");
        assert!(msg.contains("frame 2 is out of range"), "{msg}");
        assert!(msg.contains("valid: 0..=1"), "{msg}");
        // Fields changed by hand so they disagree: an error, not a panic.
        let mut broken = v.clone();
        broken.data.truncate(30);
        assert!(broken.frame(0).is_ok());
        assert!(err_string(broken.frame(1)).contains("not all there"));
        broken.dims = vec![4, 3];
        assert_eq!(broken.frames(), 0);
        assert!(err_string(broken.frame(0)).contains("not [nx, ny, nz, nt]"));
        broken.dims = vec![usize::MAX, 2, 1, 1];
        assert!(broken.frame(0).is_err());
    }

    #[test]
    fn truncated_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, data) = ramp_i16(false);
        s.vox_offset = 400.0;
        let full = s.bytes(&data);
        let p = write(&dir, "cut.nii", &full[..full.len() - 1]);
        let msg = err_string(read_nifti(&p));
        assert!(msg.contains("cut.nii"), "{msg}");
        assert!(
            msg.contains("truncated voxel data: 95 of the 96 bytes of 4x3x2x2 int16"),
            "{msg}"
        );
        let p = write(&dir, "ext.nii", &full[..380]);
        let msg = err_string(read_nifti(&p));
        assert!(msg.contains("before vox_offset 400"), "{msg}");
        let p = write(&dir, "head.nii", &full[..100]);
        let msg = err_string(read_nifti(&p));
        assert!(
            msg.contains("100 bytes, shorter than the 348-byte header"),
            "{msg}"
        );
        // gzip'd: a cut stream, and a whole stream of a cut file.
        let z = gz(&full);
        let p = write(&dir, "cut.nii.gz", &z[..z.len() / 2]);
        let msg = err_string(read_nifti(&p));
        assert!(msg.contains("cut.nii.gz"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
        let p = write(&dir, "short.nii.gz", &gz(&full[..full.len() - 10]));
        let msg = err_string(read_nifti(&p));
        assert!(msg.contains("truncated voxel data: 86 of the 96"), "{msg}");
        // A header claiming a huge volume over a tiny file: an error, no huge allocation.
        let mut huge = Spec::new(&[32767, 32767, 32767, 32767], 64);
        huge.vox_offset = 352.0;
        for (name, file) in [
            ("huge.nii", huge.bytes(&[0; 64])),
            ("huge.nii.gz", gz(&huge.bytes(&[0; 64]))),
        ] {
            let msg = err_string(read_nifti(&write(&dir, name, &file)));
            assert!(msg.contains(name), "{msg}");
            assert!(
                msg.contains("truncated voxel data")
                    || msg.contains("overflow")
                    || msg.contains("above the cap"),
                "{msg}"
            );
        }
    }

    #[test]
    fn dims_that_overflow_are_refused() {
        assert_eq!(voxel_count(&[2, 3, 4, 5], 8), Some(120));
        assert_eq!(voxel_count(&[usize::MAX, 2, 1, 1], 1), None);
        assert_eq!(voxel_count(&[1 << 20, 1 << 20, 1 << 20, 1 << 4], 1), None);
        // Fits as a count, not as f32 bytes.
        assert_eq!(voxel_count(&[usize::MAX / 2, 1, 1, 1], 1), None);
        // The largest NIfTI-1 volume (32767^4 float64) still fits in 64-bit memory.
        let n = voxel_count(&[32767; 4], 8);
        assert_eq!(n.is_some(), usize::BITS == 64);
    }

    #[test]
    fn never_panics_on_truncated_or_garbage_bytes() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (s, data) = ramp_i16(false);
        let full = s.bytes(&data);
        let zipped = gz(&full);
        // Every truncation of the plain and the gzip'd file.
        for (name, file) in [("t.nii", &full), ("t.nii.gz", &zipped)] {
            for len in 0..file.len() {
                let r = read_nifti(&write(&dir, name, &file[..len]));
                let msg = err_string(r);
                assert!(msg.contains(name), "{msg}");
            }
        }
        // Random garbage, and garbage after a valid magic / sizeof_hdr.
        for i in 0..300 {
            let len = rng.gen_range(0..1200);
            let mut g: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if i % 3 == 1 && g.len() >= 348 {
                g[..4].copy_from_slice(&348i32.to_le_bytes());
                g[344..348].copy_from_slice(b"n+1\0");
            }
            let file = if i % 3 == 2 { gz(&g) } else { g };
            let _ = read_nifti(&write(&dir, "g.nii", &file));
        }
        // Random byte flips of a valid file: Ok or an error, never a panic.
        for _ in 0..2000 {
            let mut m = full.clone();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..HEADER_LEN + 8);
                m[at] = rng.gen();
            }
            if let Ok(v) = read_nifti(&write(&dir, "m.nii", &m)) {
                let n: usize = v.dims.iter().product();
                assert_eq!(v.data.len(), n);
                for t in 0..=v.frames() {
                    let _ = v.frame(t);
                }
            }
        }
        // Garbage gzip with the gzip magic.
        let mut bad = vec![0x1f, 0x8b];
        bad.extend((0..500).map(|_| rng.gen::<u8>()));
        let msg = err_string(read_nifti(&write(&dir, "bad.nii.gz", &bad)));
        assert!(msg.contains("bad.nii.gz") && msg.contains("gzip"), "{msg}");
    }

    /// The real 4-D EPI series that scripts/fetch-assets.sh fetches (nibabel 5.4.2's
    /// `example4d.nii.gz`); a missing asset fails the test (CI fetches them all).
    fn example4d() -> PathBuf {
        let assets = match std::env::var_os("TENSORJPEG_ASSETS") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
        };
        let p = assets.join("volume/example4d.nii.gz");
        assert!(
            p.is_file(),
            "{} missing: run scripts/fetch-assets.sh (or set TENSORJPEG_ASSETS)",
            p.display()
        );
        p
    }

    #[test]
    fn example4d_is_a_128x96x24x2_int16_series() {
        let v = read_nifti(&example4d()).unwrap();
        assert_eq!(v.dims, vec![128, 96, 24, 2]);
        assert_eq!(v.datatype, "int16");
        assert_eq!(&v.voxel_size[..2], &[2.0, 2.0]);
        assert!((v.voxel_size[2] - 2.2).abs() < 1e-5, "{:?}", v.voxel_size);
        assert_eq!(v.voxel_size[3], 2000.0);
        assert_eq!(v.data.len(), 128 * 96 * 24 * 2);
        assert!(v.data.iter().all(|&x| x.fract() == 0.0));
        // Golden values from an independent decode (Python: gzip + struct, x fastest).
        let f0 = v.frame(0).unwrap();
        assert_eq!(f0.shape, vec![1, 24, 96, 128]);
        let min_max = |s: &[f32]| {
            s.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                })
        };
        assert_eq!(min_max(&f0.values), (0.0, 1162.0));
        let sum = |s: &[f32]| s.iter().map(|&x| f64::from(x)).sum::<f64>();
        assert_eq!(sum(&f0.values), 50_994_397.0);
        let mean = sum(&f0.values) / f0.values.len() as f64;
        assert!((mean - 172.913_943_8).abs() < 1e-6, "mean {mean}");
        // [0, z, y, x] of a frame is voxel (x, y, z).
        let at = |s: &Signal, x: usize, y: usize, z: usize| s.values[(z * 96 + y) * 128 + x];
        assert_eq!(at(&f0, 64, 49, 0), 1162.0); // frame 0's maximum
        assert_eq!(at(&f0, 64, 48, 12), 265.0);
        let f1 = v.frame(1).unwrap();
        assert_eq!(min_max(&f1.values), (0.0, 1140.0));
        assert_eq!(sum(&f1.values), 50_990_959.0);
        assert_eq!(at(&f1, 62, 86, 10), 1140.0);
        assert_eq!(at(&f1, 64, 48, 12), 266.0);
        assert_eq!(at(&f1, 70, 40, 5), 305.0);
        let msg = err_string(v.frame(2));
        assert!(msg.contains("example4d.nii.gz"), "{msg}");
        assert!(msg.contains("valid: 0..=1"), "{msg}");
    }
}
