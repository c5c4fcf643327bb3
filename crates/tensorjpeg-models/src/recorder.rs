//! Calibration taps: what a linear layer's inputs look like, accumulated over forward
//! passes — `Σ xⱼ²` per column (the importance matrix of [`crate::calibrate`]) and the full
//! `Σ x xᵀ` (the Gram matrix that quantization with error feedback needs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor};

/// Accumulates `Σ xⱼ²`, `Σ x xᵀ` and the row count per named linear layer during forward
/// passes.
#[derive(Default)]
pub struct Recorder {
    /// Whether `Σ x xᵀ` is accumulated (only error feedback needs it: a gemm per layer
    /// input and `cols²` f64 per layer).
    grams: bool,
    sums: Mutex<HashMap<String, Sums>>,
    /// The last input's fingerprint and `xᵀx`: layers fed the same input (a block's query,
    /// key and value projections) share one product.
    last: Mutex<Option<LastProduct>>,
}

/// An input's fingerprint, its column count and its `xᵀx`.
type LastProduct = (u64, usize, Arc<Vec<f32>>);

struct Sums {
    sums: Vec<f64>,
    squares: Vec<f64>,
    gram: Vec<f64>,
    rows: u64,
}

/// What a calibration recorded for one layer.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `E[xⱼ²]`.
    pub energy: Vec<f64>,
    /// `E[xⱼ]` (what a bias can absorb of the layer's output error: `ΔW E[x]`).
    pub mean: Vec<f64>,
    /// `E[x xᵀ]`, row-major `cols × cols` (empty unless the recorder kept Gram matrices).
    pub gram: Vec<f64>,
}

/// A fingerprint of `x` (FNV-style over the bits; equal inputs give equal fingerprints).
fn fingerprint(x: &[f32], cols: usize) -> u64 {
    x.iter().fold(0xcbf2_9ce4_8422_2325 ^ cols as u64, |h, v| {
        (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Recorder {
    /// An empty recorder; `grams`: also accumulate each input's `Σ x xᵀ`.
    pub fn new(grams: bool) -> Self {
        Recorder {
            grams,
            ..Recorder::default()
        }
    }

    /// `xᵀx` (`cols × cols`) of the rows of `x`, by gemm; the previous input's when `x` is
    /// the same.
    fn gram_of(&self, x: &[f32], cols: usize) -> crate::Result<Arc<Vec<f32>>> {
        let fp = fingerprint(x, cols);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((f, c, g)) = last.as_ref() {
            if *f == fp && *c == cols {
                return Ok(g.clone());
            }
        }
        let t = Tensor::from_slice(x, (x.len() / cols, cols), &Device::Cpu)?;
        let g: Vec<f32> = t.t()?.matmul(&t)?.flatten_all()?.to_vec1()?;
        let g = Arc::new(g);
        *last = Some((fp, cols, g.clone()));
        Ok(g)
    }

    /// Adds the rows of `x` (`cols` values each), the input of the weight `name`.
    pub fn record(&self, name: &str, x: &[f32], cols: usize) -> crate::Result<()> {
        if cols == 0 || x.is_empty() {
            return Ok(());
        }
        let gram = if self.grams {
            Some(self.gram_of(x, cols)?)
        } else {
            None
        };
        let mut local = vec![0f64; cols];
        let mut local_sum = vec![0f64; cols];
        for row in x.chunks_exact(cols) {
            for ((s, m), &v) in local.iter_mut().zip(&mut local_sum).zip(row) {
                *s += f64::from(v) * f64::from(v);
                *m += f64::from(v);
            }
        }
        let rows = (x.len() / cols) as u64;
        let mut m = self.sums.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(name.to_string()).or_insert_with(|| Sums {
            sums: vec![0f64; cols],
            squares: vec![0f64; cols],
            gram: vec![0f64; if gram.is_some() { cols * cols } else { 0 }],
            rows: 0,
        });
        if e.squares.len() != cols {
            return Err(crate::Error::Input(format!(
                "calibration: '{name}' saw inputs of {cols} and of {} columns",
                e.squares.len()
            )));
        }
        for (s, v) in e.squares.iter_mut().zip(&local) {
            *s += v;
        }
        for (s, v) in e.sums.iter_mut().zip(&local_sum) {
            *s += v;
        }
        if let Some(gram) = gram {
            for (s, &v) in e.gram.iter_mut().zip(gram.iter()) {
                *s += f64::from(v);
            }
        }
        e.rows += rows;
        Ok(())
    }

    /// `E[xⱼ²]`, `E[xⱼ]` and `E[x xᵀ]` per weight name.
    pub fn finish(self) -> HashMap<String, Recorded> {
        let m = self.sums.into_inner().unwrap_or_else(|e| e.into_inner());
        m.into_iter()
            .map(|(k, s)| {
                let n = s.rows.max(1) as f64;
                let c = if s.gram.is_empty() {
                    0
                } else {
                    s.squares.len()
                };
                // gemm's sums of `xᵢxⱼ` and `xⱼxᵢ` may round apart: symmetrised.
                let mut gram = s.gram;
                for i in 0..c {
                    for j in 0..i {
                        let m = 0.5 * (gram[i * c + j] + gram[j * c + i]);
                        gram[i * c + j] = m;
                        gram[j * c + i] = m;
                    }
                }
                let mean = |v: Vec<f64>| v.into_iter().map(|v| v / n).collect();
                (
                    k,
                    Recorded {
                        energy: mean(s.squares),
                        mean: mean(s.sums),
                        gram: mean(gram),
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_of_squares_and_products() {
        let r = Recorder::new(true);
        r.record("w", &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        r.record("w", &[1.0, 0.0], 2).unwrap();
        r.record("v", &[2.0], 1).unwrap();
        // The same input again (the shared-product path).
        r.record("u", &[1.0, 0.0], 2).unwrap();
        assert!(r.record("v", &[2.0, 1.0], 2).is_err());
        let m = r.finish();
        assert_eq!(m["w"].energy, vec![11.0 / 3.0, 20.0 / 3.0]);
        assert_eq!(m["w"].mean, vec![5.0 / 3.0, 2.0]);
        assert_eq!(
            m["w"].gram,
            vec![11.0 / 3.0, 14.0 / 3.0, 14.0 / 3.0, 20.0 / 3.0]
        );
        assert_eq!(m["v"].energy, vec![4.0]);
        assert_eq!(m["u"].gram, vec![1.0, 0.0, 0.0, 0.0]);
        // Without Gram matrices: the same energies, no products.
        let r = Recorder::new(false);
        r.record("w", &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        r.record("w", &[1.0, 0.0], 2).unwrap();
        let m = r.finish();
        assert_eq!(m["w"].energy, vec![11.0 / 3.0, 20.0 / 3.0]);
        assert!(m["w"].gram.is_empty());
    }
}
