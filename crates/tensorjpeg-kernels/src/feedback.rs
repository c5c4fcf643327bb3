//! Encoding into a compute format with error feedback (GPTQ; Frantar et al., 2023), so a
//! fixed-rate matrix minimises the layer's *output* error `E‖ΔW x‖²` on calibration inputs
//! instead of the weights' own squared error.
//!
//! Each row is encoded block by block, left to right. At a block's first column its scale
//! (and minimum) is chosen from the row's current values by the format's own encoder
//! ([`crate::format::encode_block`], its error weighted by `1/Uⱼⱼ²` per column — GPTQ's
//! own objective — where the format's search takes weights); then every column of the
//! block is rounded onto that block's grid, and its rounding error is spread over the columns not yet encoded through
//! `U`, the upper factor of the damped `H⁻¹` (`UᵀU = H⁻¹`, `H = E[x xᵀ]`): `e = (wⱼ − q)/Uⱼⱼ`,
//! `wₖ −= e·Uⱼₖ` for `k > j`. The caller computes `U` (the codec crate's
//! `Gram::inverse_factor`); for the rotated formats it is the factor of the rotated
//! `R H Rᵀ` ([`crate::hadamard::rotate_gram`]), since the rows are rotated first and the
//! kernel's inputs are `R x`.
//!
//! With `U = I` (uncorrelated inputs) no error is fed anywhere and the result is
//! [`crate::QMatrix::quantize`]'s up to the rounding of each value on its block's final
//! scale (tested).

use crate::format::{code_setter, encode_block, read_f16, Format, BLOCK};

/// The stored code and value of `v` on a block's grid (scale `d`, minimum `m` for `Q4_1`).
fn round_on(format: Format, d: f32, m: f32, v: f32) -> (u8, f32) {
    if d == 0.0 || !d.is_finite() {
        // A block whose scale is zero decodes to `m` (zero but for `Q4_1`) whatever its codes.
        return match format {
            Format::Q4_0 => (8, 0.0),
            _ => (0, m),
        };
    }
    let t = v / d;
    match format {
        Format::Q8_0 => {
            let n = t.round().clamp(-127.0, 127.0);
            (n as i8 as u8, d * n)
        }
        Format::Q4_0 => {
            let n = (t.round() + 8.0).clamp(0.0, 15.0);
            (n as u8, d * (n - 8.0))
        }
        Format::Q4_1 => {
            let n = ((v - m) / d).round().clamp(0.0, 15.0);
            (n as u8, d * n + m)
        }
        Format::Nl4 | Format::Nl4H | Format::Nl3 | Format::Nl3H => {
            let book = format.codebook().expect("an NL format");
            let k = crate::format::nearest(book, t);
            (k as u8, d * book[k] as f32)
        }
    }
}

/// Encodes one row (`row`, already rotated for the rotated formats, changed in place into
/// the values the blocks decode to) into `out`, with error feedback through `u` (`cols ×
/// cols`, row-major, upper triangular with a positive diagonal).
pub(crate) fn encode_row(format: Format, row: &mut [f32], u: &[f32], out: &mut [u8]) {
    let cols = row.len();
    let bb = format.block_bytes();
    let head = if format == Format::Q4_1 { 4 } else { 2 };
    let set_code = code_setter(format);
    let mut imp = [0f32; BLOCK];
    for (k, b) in out.chunks_exact_mut(bb).enumerate() {
        let j0 = k * BLOCK;
        // The scale search weights each column's error as GPTQ's objective does:
        // `Σ ((wⱼ − qⱼ)/Uⱼⱼ)²`, so columns whose error later columns cannot absorb count most.
        for (i, m) in imp.iter_mut().enumerate() {
            let d = u[(j0 + i) * cols + j0 + i];
            *m = if d > 0.0 { 1.0 / (d * d) } else { 1.0 };
        }
        encode_block(format, &row[j0..j0 + BLOCK], Some(&imp), b);
        let d = read_f16(b, 0);
        let m = if format == Format::Q4_1 {
            read_f16(b, 2)
        } else {
            0.0
        };
        for j in j0..j0 + BLOCK {
            let w = row[j];
            let (n, v) = round_on(format, d, m, w);
            set_code(&mut b[head..], j - j0, n);
            row[j] = v;
            let ujj = u[j * cols + j];
            if ujj > 0.0 {
                let e = (w - v) / ujj;
                let uj = &u[j * cols + j + 1..(j + 1) * cols];
                for (t, &x) in row[j + 1..].iter_mut().zip(uj) {
                    *t -= e * x;
                }
            }
        }
    }
}
