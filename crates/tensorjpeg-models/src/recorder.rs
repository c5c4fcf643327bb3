//! Calibration taps: what a linear layer's inputs look like, accumulated over forward
//! passes (`Σ xⱼ²` per column), for the importance matrix of [`crate::calibrate`].

use std::collections::HashMap;
use std::sync::Mutex;

/// Accumulates `Σ xⱼ²` and the row count per named linear layer during forward passes.
#[derive(Default)]
pub struct Recorder {
    sums: Mutex<HashMap<String, (Vec<f64>, u64)>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Adds the rows of `x` (`cols` values each), the input of the weight `name`.
    pub fn record(&self, name: &str, x: &[f32], cols: usize) {
        if cols == 0 {
            return;
        }
        let mut local = vec![0f64; cols];
        for row in x.chunks_exact(cols) {
            for (s, &v) in local.iter_mut().zip(row) {
                *s += f64::from(v) * f64::from(v);
            }
        }
        let rows = (x.len() / cols) as u64;
        let mut m = self.sums.lock().unwrap_or_else(|e| e.into_inner());
        let e = m
            .entry(name.to_string())
            .or_insert_with(|| (vec![0f64; cols], 0));
        for (s, v) in e.0.iter_mut().zip(&local) {
            *s += v;
        }
        e.1 += rows;
    }

    /// `E[xⱼ²]` per weight name.
    pub fn finish(self) -> HashMap<String, Vec<f64>> {
        let m = self.sums.into_inner().unwrap_or_else(|e| e.into_inner());
        m.into_iter()
            .map(|(k, (s, n))| {
                let n = n.max(1) as f64;
                (k, s.into_iter().map(|v| v / n).collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_of_squares_per_column() {
        let r = Recorder::new();
        r.record("w", &[1.0, 2.0, 3.0, 4.0], 2);
        r.record("w", &[1.0, 0.0], 2);
        r.record("v", &[2.0], 1);
        let m = r.finish();
        assert_eq!(m["w"], vec![11.0 / 3.0, 20.0 / 3.0]);
        assert_eq!(m["v"], vec![4.0]);
    }
}
