//! The scalar reference kernel: integer dot products per block, then `d_w·d_x·Σ` in f32.
//! Every SIMD kernel computes the same integer sums and is tested against this one.

use half::f16;

use crate::act::QActs;
use crate::format::{code, Format, BLOCK};
use crate::RowsRef;

/// The signed level of code `n` of a 4- or 3-bit block (`Q4_1`: the unsigned nibble).
#[inline]
fn level(format: Format, n: u8) -> i32 {
    match format.table() {
        Some(t) => t[n as usize] as i32,
        None => n as i32,
    }
}

/// `Σ_blocks` of weight row `r` of `w` against activation row `b`.
pub fn dot_row(format: Format, w: &RowsRef<'_>, r: usize, acts: &QActs, b: usize) -> f32 {
    let nb = w.nb;
    let cb = format.code_bytes();
    let (q, d, s) = (acts.row(b), acts.scales(b), acts.sums(b));
    let mut acc = 0f32;
    for k in 0..nb {
        let blk = r * nb + k;
        let codes = &w.qs[blk * cb..(blk + 1) * cb];
        let x = &q[k * BLOCK..(k + 1) * BLOCK];
        let dw = f16::from_bits(w.d[blk]).to_f32();
        let isum: i32 = if format == Format::Q8_0 {
            (0..BLOCK)
                .map(|j| codes[j] as i8 as i32 * x[j] as i32)
                .sum()
        } else {
            (0..BLOCK)
                .map(|j| level(format, code(format, codes, j)) * x[j] as i32)
                .sum()
        };
        acc += dw * d[k] * isum as f32;
        if format == Format::Q4_1 {
            acc += f16::from_bits(w.m[blk]).to_f32() * s[k];
        }
    }
    acc
}

/// `out[r·batch + b] = dot_row(r, b)` for every row of `w`.
pub fn rows(format: Format, w: &RowsRef<'_>, acts: &QActs, out: &mut [f32]) {
    let batch = acts.batch;
    for r in 0..w.rows() {
        for b in 0..batch {
            out[r * batch + b] = dot_row(format, w, r, acts, b);
        }
    }
}
