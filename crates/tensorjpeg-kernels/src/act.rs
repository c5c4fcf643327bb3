//! Activations quantized for the integer kernels: each block of 32 values of each row gets a
//! scale `d = max|x| / 127` and codes `q = round(x / d)` in −127..=127 (never −128, which the
//! sign trick of the SIMD kernels cannot negate), plus `d·Σq` for the minimum term of `Q4_1`.
//! Rotated formats rotate each block first.

use crate::format::BLOCK;
use crate::hadamard::fwht32;

/// A batch of activation rows, quantized per block.
#[derive(Clone, Debug, Default)]
pub struct QActs {
    /// Rows in the batch.
    pub batch: usize,
    /// Values per row (a multiple of 32).
    pub cols: usize,
    /// Codes, row-major `(batch, cols)`.
    pub q: Vec<i8>,
    /// Per-block scales, `(batch, cols / 32)`.
    pub d: Vec<f32>,
    /// Per-block `d·Σq`, `(batch, cols / 32)`.
    pub s: Vec<f32>,
    /// Per-block `Σq`, `(batch, cols / 32)` (the offset term of unsigned weight codes).
    pub qsum: Vec<i32>,
}

impl QActs {
    /// Quantizes `x` `(batch, cols)`; `rotate` applies the Hadamard rotation of
    /// [`crate::Format::Nl4H`] to each block first. `cols` must be a multiple of 32.
    pub fn quantize(x: &[f32], batch: usize, cols: usize, rotate: bool) -> QActs {
        let mut a = QActs::default();
        a.fill(x, batch, cols, rotate);
        a
    }

    /// [`QActs::quantize`] into this buffer (reusing its allocations).
    pub fn fill(&mut self, x: &[f32], batch: usize, cols: usize, rotate: bool) {
        debug_assert_eq!(x.len(), batch * cols);
        debug_assert_eq!(cols % BLOCK, 0);
        let nb = batch * cols / BLOCK;
        self.batch = batch;
        self.cols = cols;
        self.q.resize(batch * cols, 0);
        self.d.resize(nb, 0.0);
        self.s.resize(nb, 0.0);
        self.qsum.resize(nb, 0);
        let mut tmp = [0f32; BLOCK];
        for (k, (xb, qb)) in x
            .chunks_exact(BLOCK)
            .zip(self.q.chunks_exact_mut(BLOCK))
            .enumerate()
        {
            tmp.copy_from_slice(xb);
            if rotate {
                fwht32(&mut tmp);
            }
            let amax = tmp.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, v) in qb.iter_mut().zip(&tmp) {
                // NaN → 0 (the cast saturates), ±inf clamp.
                let c = (v * id).round().clamp(-127.0, 127.0) as i8;
                *q = c;
                sum += c as i32;
            }
            self.d[k] = d;
            self.s[k] = d * sum as f32;
            self.qsum[k] = sum;
        }
    }

    /// The codes of row `b`.
    pub fn row(&self, b: usize) -> &[i8] {
        &self.q[b * self.cols..(b + 1) * self.cols]
    }

    /// The block scales of row `b`.
    pub fn scales(&self, b: usize) -> &[f32] {
        let nb = self.cols / BLOCK;
        &self.d[b * nb..(b + 1) * nb]
    }

    /// The block `Σq` of row `b`.
    pub fn qsums(&self, b: usize) -> &[i32] {
        let nb = self.cols / BLOCK;
        &self.qsum[b * nb..(b + 1) * nb]
    }

    /// The block `d·Σq` of row `b`.
    pub fn sums(&self, b: usize) -> &[f32] {
        let nb = self.cols / BLOCK;
        &self.s[b * nb..(b + 1) * nb]
    }
}
