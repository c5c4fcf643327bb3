//! The compute formats: fixed-rate blocks of [`BLOCK`] weights along a row, each block a
//! scale (and for [`Format::Q4_1`] a minimum) and fixed-width codes, so any block is found by
//! arithmetic and a kernel streams a row without decoding anything else. Three formats are
//! byte-for-byte GGUF's (`Q8_0`, `Q4_0`, `Q4_1`: a GGUF tensor of those types converts by
//! copying); [`Format::Nl4`] is ours: 4-bit indices into a non-uniform 16-entry codebook fitted
//! to Gaussian blocks, optionally with the block rotated by a 32-point Hadamard transform first
//! ([`Format::Nl4H`]), which spreads outliers over the block so the codebook fits better.
//! [`Format::Nl3`] and [`Format::Nl3H`] are the same at 3 bits (an 8-entry codebook).
//!
//! Layout of one block (little-endian), rows after one another, `cols / 32` blocks per row:
//!
//! | format | bytes | contents | value `j` |
//! |---|---|---|---|
//! | `Q8_0` | 34 | `d: f16`, `q: [i8; 32]` | `d·q[j]` |
//! | `Q4_0` | 18 | `d: f16`, `q: [u8; 16]` | `d·(n_j − 8)` |
//! | `Q4_1` | 20 | `d: f16`, `m: f16`, `q: [u8; 16]` | `d·n_j + m` |
//! | `NL4`, `NL4H` | 18 | `d: f16`, `q: [u8; 16]` | `d·NL4_CODEBOOK[n_j]` |
//! | `NL3`, `NL3H` | 14 | `d: f16`, `ql: [u8; 8]`, `qh: [u8; 4]` | `d·NL3_CODEBOOK[t_j]` |
//!
//! where `n_j` is the low nibble of `q[j]` for `j < 16` and the high nibble of `q[j − 16]`
//! otherwise (GGUF's order), and the 3-bit `t_j` is bits `2·⌊j/8⌋..` of `ql[j mod 8]` (its low
//! two bits) plus bit `j` of `qh` read as a little-endian `u32` (its high bit) — the order in
//! which a SIMD kernel unpacks 32 codes with one 64-bit broadcast and shift and one byte
//! shuffle. For the `H` formats the values are those of the rotated block `H·w` (`H` the
//! orthonormal 32-point Walsh–Hadamard matrix); the kernels rotate the activations instead,
//! since `(H w)·(H x) = w·x`.

use half::f16;

use crate::hadamard::fwht32;
use crate::KernelError;

/// Weights per block.
pub const BLOCK: usize = 32;

/// The 16 levels of [`Format::Nl4`], as signed bytes: Lloyd–Max levels of a Gaussian block of
/// 32 divided by minus its largest-magnitude value (so that value lands on −127 exactly),
/// fitted on 6.4 M samples (the numpy script is in `docs/FORMAT.md`, "Compute formats").
pub const NL4_CODEBOOK: [i8; 16] = [
    -127, -101, -80, -63, -48, -34, -21, -9, 3, 15, 27, 40, 55, 71, 89, 112,
];

/// The 8 levels of [`Format::Nl3`], as signed bytes, fitted as [`NL4_CODEBOOK`] is (the same
/// script with 8 levels).
pub const NL3_CODEBOOK: [i8; 8] = [-127, -81, -48, -20, 6, 32, 61, 98];

/// A fixed-rate block format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Format {
    /// GGUF `Q8_0`: 8.5 bits per weight.
    Q8_0,
    /// GGUF `Q4_0`: 4.5 bits per weight.
    Q4_0,
    /// GGUF `Q4_1`: 5.0 bits per weight.
    Q4_1,
    /// Non-uniform 4-bit codebook, one scale per block: 4.5 bits per weight.
    Nl4,
    /// [`Format::Nl4`] of Hadamard-rotated blocks: 4.5 bits per weight.
    Nl4H,
    /// Non-uniform 3-bit codebook, one scale per block: 3.5 bits per weight.
    Nl3,
    /// [`Format::Nl3`] of Hadamard-rotated blocks: 3.5 bits per weight.
    Nl3H,
}

impl Format {
    /// Every format, in the order reports list them.
    pub const ALL: [Format; 7] = [
        Format::Q8_0,
        Format::Q4_0,
        Format::Q4_1,
        Format::Nl4,
        Format::Nl4H,
        Format::Nl3,
        Format::Nl3H,
    ];

    /// Bytes of one block of [`BLOCK`] weights.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::Q8_0 => 34,
            Format::Q4_0 | Format::Nl4 | Format::Nl4H => 18,
            Format::Q4_1 => 20,
            Format::Nl3 | Format::Nl3H => 14,
        }
    }

    /// Code bytes of one block (32 for `Q8_0`, 16 for the 4-bit formats, 12 for the 3-bit).
    pub fn code_bytes(self) -> usize {
        match self {
            Format::Q8_0 => 32,
            Format::Nl3 | Format::Nl3H => 12,
            _ => 16,
        }
    }

    /// Bits per code: 8, 4 or 3.
    pub fn code_bits(self) -> u32 {
        match self {
            Format::Q8_0 => 8,
            Format::Nl3 | Format::Nl3H => 3,
            _ => 4,
        }
    }

    /// Bits per weight, scales included.
    pub fn bits_per_weight(self) -> f64 {
        self.block_bytes() as f64 * 8.0 / BLOCK as f64
    }

    /// Its name in reports and on the command line (`q8_0`, `q4_0`, `q4_1`, `nl4`, `nl4h`,
    /// `nl3`, `nl3h`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Q8_0 => "q8_0",
            Format::Q4_0 => "q4_0",
            Format::Q4_1 => "q4_1",
            Format::Nl4 => "nl4",
            Format::Nl4H => "nl4h",
            Format::Nl3 => "nl3",
            Format::Nl3H => "nl3h",
        }
    }

    /// Parses [`Format::name`] (case-insensitive).
    pub fn parse(s: &str) -> Result<Format, KernelError> {
        let l = s.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == l)
            .ok_or_else(|| KernelError::UnknownFormat(s.to_string()))
    }

    /// Whether the block's values are Hadamard-rotated (the activations must be too).
    pub fn rotated(self) -> bool {
        matches!(self, Format::Nl4H | Format::Nl3H)
    }

    /// The signed levels of a table format, indexed by code (`Q4_0`: `n − 8`; `NL4`, `NL3`:
    /// the codebook, `NL3`'s padded with zeros to 16 entries, which no 3-bit code reaches);
    /// `None` for `Q8_0` and `Q4_1` (whose codes are used as they are).
    pub fn table(self) -> Option<[i8; 16]> {
        match self {
            Format::Q4_0 => Some(std::array::from_fn(|i| i as i8 - 8)),
            Format::Nl4 | Format::Nl4H => Some(NL4_CODEBOOK),
            Format::Nl3 | Format::Nl3H => Some(std::array::from_fn(|i| {
                NL3_CODEBOOK.get(i).copied().unwrap_or(0)
            })),
            Format::Q8_0 | Format::Q4_1 => None,
        }
    }

    /// The codebook an `NL` format's encoder searches (sorted), else `None`.
    pub(crate) fn codebook(self) -> Option<&'static [i8]> {
        match self {
            Format::Nl4 | Format::Nl4H => Some(&NL4_CODEBOOK),
            Format::Nl3 | Format::Nl3H => Some(&NL3_CODEBOOK),
            _ => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The code of value `j` of a block's code bytes (a nibble, a 3-bit code, or a byte).
#[inline]
pub(crate) fn code(format: Format, q: &[u8], j: usize) -> u8 {
    match format.code_bits() {
        8 => q[j],
        3 => ((q[j % 8] >> (2 * (j / 8))) & 3) | (((q[8 + j / 8] >> (j % 8)) & 1) << 2),
        _ => nibble(q, j),
    }
}

/// The function that stores code `n` of value `j` in a block's code bytes.
pub(crate) fn code_setter(format: Format) -> fn(&mut [u8], usize, u8) {
    match format.code_bits() {
        8 => |q, j, n| q[j] = n,
        3 => put_code3,
        _ => put_nibble,
    }
}

fn put_code3(q: &mut [u8], j: usize, t: u8) {
    let s = 2 * (j / 8);
    q[j % 8] = (q[j % 8] & !(3 << s)) | ((t & 3) << s);
    q[8 + j / 8] = (q[8 + j / 8] & !(1 << (j % 8))) | (((t >> 2) & 1) << (j % 8));
}

/// The nibble of value `j` of a 4-bit block's 16 code bytes.
#[inline]
pub(crate) fn nibble(q: &[u8], j: usize) -> u8 {
    if j < 16 {
        q[j] & 15
    } else {
        q[j - 16] >> 4
    }
}

fn put_nibble(q: &mut [u8], j: usize, n: u8) {
    if j < 16 {
        q[j] = (q[j] & 0xF0) | (n & 15);
    } else {
        q[j - 16] = (q[j - 16] & 0x0F) | ((n & 15) << 4);
    }
}

#[inline]
pub(crate) fn read_f16(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

fn write_f16(b: &mut [u8], at: usize, v: f32) {
    b[at..at + 2].copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
}

/// Decodes one block (GGUF layout) into `out` (32 values; rotated formats stay in the
/// rotated domain).
pub fn decode_block(format: Format, b: &[u8], out: &mut [f32]) {
    let head = if format == Format::Q4_1 { 4 } else { 2 };
    let m = if format == Format::Q4_1 {
        read_f16(b, 2)
    } else {
        0.0
    };
    decode_codes(format, read_f16(b, 0), m, &b[head..], out);
}

/// Decodes one block given its scale `d`, minimum `m` (`Q4_1`; ignored otherwise) and code
/// bytes into `out` (32 values, rotated formats in the rotated domain).
pub(crate) fn decode_codes(format: Format, d: f32, m: f32, codes: &[u8], out: &mut [f32]) {
    match format {
        Format::Q8_0 => {
            for j in 0..BLOCK {
                out[j] = d * codes[j] as i8 as f32;
            }
        }
        Format::Q4_1 => {
            for j in 0..BLOCK {
                out[j] = d * nibble(codes, j) as f32 + m;
            }
        }
        Format::Q4_0 | Format::Nl4 | Format::Nl4H | Format::Nl3 | Format::Nl3H => {
            let t = format.table().expect("table format");
            for j in 0..BLOCK {
                out[j] = d * t[code(format, codes, j) as usize] as f32;
            }
        }
    }
}

/// Encodes 32 values (already rotated for `NL4H`) into one block, minimising the squared error
/// weighted by `imp` (all ones when `None`): round-to-nearest for the GGUF formats (what
/// llama.cpp's reference quantizers do; `Q4_0` with importance searches scales as llama.cpp
/// does with an importance matrix), a scale search for the `NL` formats.
pub(crate) fn encode_block(format: Format, x: &[f32], imp: Option<&[f32]>, b: &mut [u8]) {
    b.fill(0);
    match format {
        Format::Q8_0 => {
            let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            write_f16(b, 0, d);
            for j in 0..BLOCK {
                b[2 + j] = ((x[j] * id).round().clamp(-127.0, 127.0) as i8) as u8;
            }
        }
        Format::Q4_0 if imp.is_some() => {
            // With importance, a weighted scale search over the levels −8..7 (what
            // llama.cpp does with an importance matrix) instead of round-to-nearest.
            let levels = format.table().expect("Q4_0's levels");
            let (d, idx) = encode_nl(&levels, x, imp);
            write_f16(b, 0, d);
            for j in 0..BLOCK {
                put_nibble(&mut b[2..], j, idx[j]);
            }
        }
        Format::Q4_0 => {
            // The largest-magnitude value maps to −8, as in ggml's reference quantizer.
            let mut max = 0f32;
            for &v in x {
                if v.abs() > max.abs() {
                    max = v;
                }
            }
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            write_f16(b, 0, d);
            for j in 0..BLOCK {
                let n = (x[j] * id + 8.5).clamp(0.0, 15.0) as u8;
                put_nibble(&mut b[2..], j, n);
            }
        }
        Format::Q4_1 => {
            let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = (hi - lo) / 15.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            write_f16(b, 0, d);
            write_f16(b, 2, lo);
            for j in 0..BLOCK {
                let n = ((x[j] - lo) * id + 0.5).clamp(0.0, 15.0) as u8;
                put_nibble(&mut b[4..], j, n);
            }
        }
        Format::Nl4 | Format::Nl4H | Format::Nl3 | Format::Nl3H => {
            let book = format.codebook().expect("an NL format");
            let (d, idx) = encode_nl(book, x, imp);
            write_f16(b, 0, d);
            let set_code = code_setter(format);
            for j in 0..BLOCK {
                set_code(&mut b[2..], j, idx[j]);
            }
        }
    }
}

/// The nearest level of the sorted codebook `book` to `v` (in codebook units).
#[inline]
pub(crate) fn nearest(book: &[i8], v: f32) -> usize {
    // The levels are sorted: a binary search over the midpoints.
    let mut lo = 0usize;
    let mut hi = book.len() - 1;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let m = 0.5 * (book[mid] as f32 + book[mid + 1] as f32);
        if v > m {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The scale and codes of one block in codebook `book` (all zero for an all-zero block).
fn encode_nl(book: &[i8], x: &[f32], imp: Option<&[f32]>) -> (f32, [u8; BLOCK]) {
    let w = |j: usize| imp.map_or(1.0, |i| i[j]);
    let mut max = 0f32;
    for &v in x {
        if v.abs() > max.abs() {
            max = v;
        }
    }
    if max == 0.0 {
        return (0.0, [0; BLOCK]); // d = 0: every value decodes to 0
    }
    // Candidate scales around "the largest value on the lowest level"; for each, the
    // assignment's least-squares scale, keeping the best (as llama.cpp's non-linear
    // quantizers search).
    let base = max / book[0] as f32;
    let mut best = (f32::INFINITY, base, [0u8; BLOCK]);
    for step in -9..=9 {
        let d = base * (1.0 + step as f32 * 0.025);
        let id = 1.0 / d;
        let mut idx = [0u8; BLOCK];
        let (mut sxl, mut sll) = (0f32, 0f32);
        for j in 0..BLOCK {
            let k = nearest(book, x[j] * id);
            idx[j] = k as u8;
            let l = book[k] as f32;
            sxl += w(j) * x[j] * l;
            sll += w(j) * l * l;
        }
        let d2 = if sll > 0.0 { sxl / sll } else { d };
        let d2 = f16::from_f32(d2).to_f32();
        let err: f32 = (0..BLOCK)
            .map(|j| {
                let e = x[j] - d2 * book[idx[j] as usize] as f32;
                w(j) * e * e
            })
            .sum();
        if err < best.0 {
            best = (err, d2, idx);
        }
    }
    (best.1, best.2)
}

/// Encodes one row of `cols` values into `cols / 32` blocks (rotating first for `NL4H`).
pub(crate) fn encode_row(format: Format, row: &[f32], imp: Option<&[f32]>, out: &mut [u8]) {
    let bb = format.block_bytes();
    let mut tmp = [0f32; BLOCK];
    let mut timp = [0f32; BLOCK];
    for (k, (x, b)) in row
        .chunks_exact(BLOCK)
        .zip(out.chunks_exact_mut(bb))
        .enumerate()
    {
        let imp_k = imp.map(|i| &i[k * BLOCK..(k + 1) * BLOCK]);
        if format.rotated() {
            tmp.copy_from_slice(x);
            fwht32(&mut tmp);
            // Importance in the rotated domain: the weights' mean (a diagonal importance
            // does not rotate into a diagonal one; the mean keeps its overall level).
            let imp_r = imp_k.map(|i| {
                let m = i.iter().sum::<f32>() / BLOCK as f32;
                timp.fill(m);
                &timp[..]
            });
            encode_block(format, &tmp, imp_r, b);
        } else {
            encode_block(format, x, imp_k, b);
        }
    }
}
