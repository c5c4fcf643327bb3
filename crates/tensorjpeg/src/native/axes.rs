//! Importance along the axes of a matrix: per-row and per-column distortion weights turned
//! into scales applied before quantization (`x' = x · rᵢ · cⱼ`, undone after decoding), so
//! that one uniform step minimises the *weighted* squared error `Σ wᵢⱼ (x − x̂)²` with
//! `wᵢⱼ = rᵢ² cⱼ²`.
//!
//! This is how a model's sensitivity enters the codec: a linear layer `y = W x` errs by
//! `E‖ΔW x‖² ≈ Σᵢⱼ ΔWᵢⱼ² E[xⱼ²]`, so its column weights are the calibration inputs'
//! `E[xⱼ²]` (llama.cpp's importance matrix); an embedding table errs in row `v` as often
//! as token `v` occurs, so its row weights are token frequencies.
//!
//! Stored as one byte per row and per column: scale `2^((code − 128)/8)` (1/8 octave, the
//! per-plane step code of `step=block`), with the weights normalised to mean 1 first.

use crate::bytes::{ByteReader, ByteWriter};
pub use crate::codec::AxisWeights;
use crate::error::{Error, Result};

/// The stored form: one scale code per row and per column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AxisScales {
    pub(super) rows: Option<Vec<u8>>,
    pub(super) cols: Option<Vec<u8>>,
}

/// The scale a code stands for.
pub(super) fn scale_of(code: u8) -> f32 {
    2f32.powf((f32::from(code) - 128.0) / 8.0)
}

/// Scale codes for weights `w` (√(w / mean w), to the nearest 1/8 octave).
fn codes(w: &[f32], what: &'static str, expect: usize) -> Result<Vec<u8>> {
    let field = if what == "row" {
        "row weights"
    } else {
        "column weights"
    };
    if w.len() != expect {
        return Err(Error::param(
            field,
            w.len(),
            format!("one per {what} ({expect})"),
        ));
    }
    if let Some(bad) = w.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(Error::param(field, bad, "finite and ≥ 0"));
    }
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len().max(1) as f64;
    if mean <= 0.0 {
        return Err(Error::param(field, "all zero", "a positive sum"));
    }
    Ok(w.iter()
        .map(|&v| {
            let r = f64::from(v) / mean;
            if r <= 0.0 {
                0
            } else {
                (8.0 * 0.5 * r.log2() + 128.0).round().clamp(0.0, 255.0) as u8
            }
        })
        .collect())
}

impl AxisScales {
    /// The codes for `w` on a `rows × cols` view.
    pub(super) fn from_weights(w: &AxisWeights, rows: usize, cols: usize) -> Result<Self> {
        Ok(AxisScales {
            rows: w
                .rows
                .as_deref()
                .map(|v| codes(v, "row", rows))
                .transpose()?,
            cols: w
                .cols
                .as_deref()
                .map(|v| codes(v, "column", cols))
                .transpose()?,
        })
    }

    fn factors(&self, rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>) {
        let f = |c: &Option<Vec<u8>>, n| match c {
            Some(c) => c.iter().map(|&c| scale_of(c)).collect(),
            None => vec![1.0; n],
        };
        (f(&self.rows, rows), f(&self.cols, cols))
    }

    /// The column scales `cⱼ`, if columns are weighted.
    pub(super) fn col_factors(&self, rows: usize, cols: usize) -> Option<Vec<f32>> {
        self.cols.as_ref().map(|_| self.factors(rows, cols).1)
    }

    /// `x · rᵢ · cⱼ`, row-major `rows × cols`.
    pub(super) fn apply(&self, x: &[f32], cols: usize) -> Vec<f32> {
        let rows = x.len() / cols.max(1);
        let (r, c) = self.factors(rows, cols);
        x.chunks(cols.max(1))
            .zip(&r)
            .flat_map(|(row, &ri)| row.iter().zip(&c).map(move |(&v, &cj)| v * ri * cj))
            .collect()
    }

    /// Undoes [`AxisScales::apply`] in place, after checking the counts against the shape.
    pub(super) fn undo(&self, x: &mut [f32], rows: usize, cols: usize) -> Result<()> {
        for (what, c, n) in [("row", &self.rows, rows), ("column", &self.cols, cols)] {
            if let Some(c) = c {
                if c.len() != n {
                    return Err(Error::corrupt(format!(
                        "native: {} {what} scales stored for {n} {what}s",
                        c.len()
                    )));
                }
            }
        }
        let (r, c) = self.factors(rows, cols);
        let inv_c: Vec<f32> = c.iter().map(|v| 1.0 / v).collect();
        for (row, &ri) in x.chunks_mut(cols.max(1)).zip(&r) {
            let inv_r = 1.0 / ri;
            for (v, &ic) in row.iter_mut().zip(&inv_c) {
                *v = *v * inv_r * ic;
            }
        }
        Ok(())
    }

    /// `u8 flags` (bit 0 rows, bit 1 columns), then for each present axis `varint n` and
    /// `n` codes.
    pub(super) fn write(&self, w: &mut ByteWriter) {
        w.u8(u8::from(self.rows.is_some()) | (u8::from(self.cols.is_some()) << 1));
        for c in [&self.rows, &self.cols].into_iter().flatten() {
            w.varint(c.len() as u64);
            w.bytes(c);
        }
    }

    /// Reads what [`AxisScales::write`] wrote (lengths checked against the bytes present).
    pub(super) fn read(r: &mut ByteReader) -> Result<Self> {
        let flags = r.u8()?;
        if flags == 0 || flags > 3 {
            return Err(Error::corrupt(format!("native axis-scale flags {flags}")));
        }
        let mut axis = |present: bool| -> Result<Option<Vec<u8>>> {
            if !present {
                return Ok(None);
            }
            let n = r.varint_max("axis scales", 1 << 40)? as usize;
            Ok(Some(r.take(n)?.to_vec()))
        };
        let rows = axis(flags & 1 != 0)?;
        let cols = axis(flags & 2 != 0)?;
        Ok(AxisScales { rows, cols })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_square_root_of_the_weight() {
        let c = codes(&[1.0, 4.0, 0.25, 0.0, 1.0], "row", 5).unwrap();
        // mean 1.25: √(w/mean) = 0.894, 1.789, 0.447, 0, 0.894 → 8·log2 + 128.
        assert_eq!(c, vec![127, 135, 119, 0, 127]);
        assert!((scale_of(c[1]) / scale_of(c[0]) - 2.0).abs() < 1e-6);
        for (w, n) in [
            (vec![1.0, f32::NAN], 2),
            (vec![-1.0, 1.0], 2),
            (vec![0.0; 3], 3),
            (vec![1.0], 2),
        ] {
            assert!(codes(&w, "row", n).is_err(), "{w:?}");
        }
    }

    #[test]
    fn apply_then_undo_is_the_identity_and_bytes_round_trip() {
        let x: Vec<f32> = (0..12).map(|i| i as f32 - 5.5).collect();
        let s = AxisScales::from_weights(
            &AxisWeights {
                rows: Some(vec![1.0, 9.0, 0.5]),
                cols: Some(vec![2.0, 1.0, 1.0, 0.1]),
            },
            3,
            4,
        )
        .unwrap();
        let mut y = s.apply(&x, 4);
        s.undo(&mut y, 3, 4).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} {b}");
        }
        let mut w = ByteWriter::new();
        s.write(&mut w);
        let bytes = w.into_inner();
        let back = AxisScales::read(&mut ByteReader::new(&bytes, "t")).unwrap();
        assert_eq!(back, s);
        assert!(s.undo(&mut y, 4, 3).is_err());
        for cut in 0..bytes.len() {
            assert!(AxisScales::read(&mut ByteReader::new(&bytes[..cut], "t")).is_err());
        }
    }
}
