//! The coarse (fixed-rate) code of the leading components, which search scans.
//!
//! A fixed-rate field costs its width whatever the data, so a field that stores the
//! quantization index itself wastes about a bit per component against entropy coding
//! (uniform levels of a peaked distribution). Here a `w`-bit field stores instead the
//! *cell* of the index: the range of index values of component `j` is cut into `2^w`
//! contiguous cells of (nearly) equal probability, and the vector's stream refines the
//! cell to the exact index with the component's own distribution restricted to the cell.
//! With equiprobable cells the field is itself an ideal code (`H(cell) = w`), and
//! `w + H(q | cell) = H(q)`: the fixed-rate part costs (almost) nothing extra. The width is
//! the largest for which `w − H(cell)` stays below a set penalty; components too peaked for
//! even one bit get no field and are entropy-coded like the rest.
//!
//! Stored per coarse component: the width, and when it is not 0 the index histogram as
//! frequencies at [`PREC`] (`svarint lo`, `varint len`, `varint × len`). Cells, refinement
//! models and the cells' reconstruction centroids (for the search tables) are derived from
//! that histogram by the same code in the encoder and the decoder.

use super::component::{CompQuant, MagModel, PREC};
use crate::bytes::{ByteReader, ByteWriter};
use crate::entropy::model::FreqTable;
use crate::{Error, Result};

/// Largest index range a coarse component may span.
const MAX_RANGE: usize = 4096;

/// One cell: index values `lo..=hi` and the model of `q − lo` inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Smallest index value of the cell.
    pub lo: i32,
    /// Largest index value of the cell.
    pub hi: i32,
    /// Refinement model over `0..=hi−lo` (`None` for a one-value cell: nothing coded).
    pub refine: Option<MagModel>,
}

/// The coarse code of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct CoarseComp {
    /// Field width in bits (0: no field, the component is entropy-coded).
    pub width: u8,
    /// Smallest index value of the histogram.
    pub lo: i32,
    /// Frequencies (summing to `2^PREC`) of the index values `lo, lo+1, …`.
    pub freqs: Vec<u32>,
    /// `2^width` cells (empty when `width == 0`).
    pub cells: Vec<Cell>,
}

impl CoarseComp {
    /// No field.
    pub fn none() -> Self {
        CoarseComp {
            width: 0,
            lo: 0,
            freqs: Vec::new(),
            cells: Vec::new(),
        }
    }

    /// Chooses the field of a component from its indices: the widest `w ≤ max_width` whose
    /// cells' entropy is within `max_penalty` bits of `w`.
    pub fn fit(q: impl Iterator<Item = i32> + Clone, max_width: u8, max_penalty: f64) -> Self {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for v in q.clone() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo >= hi || (hi as i64 - lo as i64) as usize >= MAX_RANGE {
            return Self::none();
        }
        let mut counts = vec![0u64; (hi - lo + 1) as usize];
        for v in q {
            counts[(v - lo) as usize] += 1;
        }
        let Some(t) = FreqTable::from_counts(&counts, PREC) else {
            return Self::none();
        };
        for w in (1..=max_width.min(8)).rev() {
            if let Some(cells) = partition(&t.freqs, w) {
                let total = f64::from(1u32 << PREC);
                let h: f64 = cells
                    .iter()
                    .map(|&(a, b)| {
                        let p = t.freqs[a..=b].iter().sum::<u32>() as f64 / total;
                        -p * p.log2()
                    })
                    .sum();
                if f64::from(w) - h <= max_penalty {
                    return Self::derive(w, lo, t.freqs).expect("valid by construction");
                }
            }
        }
        Self::none()
    }

    /// The same component with a field one bit narrower (no field below 1 bit).
    pub fn narrower(&self) -> Self {
        if self.width <= 1 {
            return Self::none();
        }
        Self::derive(self.width - 1, self.lo, self.freqs.clone()).expect("fewer cells fit")
    }

    /// Builds cells and refinement models from a stored histogram.
    fn derive(width: u8, lo: i32, freqs: Vec<u32>) -> Result<Self> {
        let parts = partition(&freqs, width).ok_or_else(|| {
            Error::corrupt(format!(
                "klt coarse: {} values cannot fill {} cells",
                freqs.len(),
                1u32 << width
            ))
        })?;
        let cells = parts
            .iter()
            .map(|&(a, b)| Cell {
                lo: lo + a as i32,
                hi: lo + b as i32,
                refine: if a == b {
                    None
                } else {
                    let c: Vec<u64> = freqs[a..=b].iter().map(|&f| u64::from(f)).collect();
                    Some(MagModel::from_freq_counts(&c))
                },
            })
            .collect();
        Ok(CoarseComp {
            width,
            lo,
            freqs,
            cells,
        })
    }

    /// The cell holding index value `v` (which must be in the histogram's range).
    #[inline]
    pub fn cell_of(&self, v: i32) -> usize {
        self.cells.partition_point(|c| c.hi < v)
    }

    /// Reconstruction centroid of each cell: the histogram-weighted mean of the
    /// reconstructed values `±cq.recon(|q|)` of the cell's indices.
    pub fn centroids(&self, cq: &CompQuant, rho: f32) -> Vec<f32> {
        self.cells
            .iter()
            .map(|c| {
                let (mut s, mut m) = (0.0f64, 0.0f64);
                for v in c.lo..=c.hi {
                    let f = f64::from(self.freqs[(v - self.lo) as usize]);
                    let r = f64::from(cq.recon(v.unsigned_abs(), rho));
                    s += f * if v < 0 { -r } else { r };
                    m += f;
                }
                if m > 0.0 {
                    (s / m) as f32
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Serializes: `u8 width`, then for a field `svarint lo`, `varint len`, frequencies.
    pub fn write(&self, w: &mut ByteWriter) {
        w.u8(self.width);
        if self.width > 0 {
            w.svarint(i64::from(self.lo));
            w.varint(self.freqs.len() as u64);
            for &f in &self.freqs {
                w.varint(u64::from(f));
            }
        }
    }

    /// Reads what [`CoarseComp::write`] wrote.
    pub fn read(r: &mut ByteReader) -> Result<Self> {
        let width = r.u8()?;
        if width == 0 {
            return Ok(Self::none());
        }
        if width > 8 {
            return Err(Error::corrupt(format!("klt coarse: width {width}")));
        }
        let lo = r.svarint()?;
        let lo = i32::try_from(lo)
            .ok()
            .filter(|v| v.unsigned_abs() <= super::component::MAX_MAG)
            .ok_or_else(|| Error::corrupt(format!("klt coarse: lowest index {lo}")))?;
        let len = r.varint_max("coarse range", MAX_RANGE as u64)? as usize;
        let mut freqs = Vec::with_capacity(len);
        for _ in 0..len {
            freqs.push(r.varint_max("coarse frequency", 1 << PREC)? as u32);
        }
        FreqTable::from_stored(freqs.clone(), PREC)?;
        Self::derive(width, lo, freqs)
    }
}

/// Cuts the values with non-zero frequency into `2^w` contiguous groups of nearly equal
/// mass (greedy: each cut goes where the running total is nearest its target, leaving at
/// least one value for every later cell). Returns `(first, last)` positions in `freqs` of
/// each cell (zero-frequency positions between two cells go to the earlier one), or `None`
/// when fewer than `2^w` values occur.
fn partition(freqs: &[u32], w: u8) -> Option<Vec<(usize, usize)>> {
    let nz: Vec<usize> = (0..freqs.len()).filter(|&i| freqs[i] > 0).collect();
    let cells = 1usize << w;
    if nz.len() < cells {
        return None;
    }
    let total: u64 = freqs.iter().map(|&f| u64::from(f)).sum();
    let mut starts = Vec::with_capacity(cells);
    let mut cum = 0u64;
    let mut i = 0;
    for c in 0..cells {
        starts.push(i);
        let target = (c as u64 + 1) * total;
        // Take one value, then more while that brings the total nearer the target.
        cum += u64::from(freqs[nz[i]]) * cells as u64;
        i += 1;
        while nz.len() - i > cells - c - 1 {
            let next = cum + u64::from(freqs[nz[i]]) * cells as u64;
            if next.abs_diff(target) < cum.abs_diff(target) || (c == cells - 1) {
                cum = next;
                i += 1;
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(cells);
    for c in 0..cells {
        let first = if c == 0 { 0 } else { nz[starts[c]] };
        let last = if c + 1 < cells {
            nz[starts[c + 1]] - 1
        } else {
            freqs.len() - 1
        };
        out.push((first, last));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_contiguous_and_balanced() {
        // Uniform over 16 values, 4 cells of 4.
        let f = vec![256u32; 16];
        let p = partition(&f, 2).unwrap();
        assert_eq!(p, vec![(0, 3), (4, 7), (8, 11), (12, 15)]);
        // A peak at the centre gets a cell of its own; zero-frequency gaps are covered.
        let f = [100u32, 0, 300, 3000, 300, 0, 396];
        let p = partition(&f, 2).unwrap();
        assert_eq!(p.first().unwrap().0, 0);
        assert_eq!(p.last().unwrap().1, 6);
        assert!(p.windows(2).all(|w| w[1].0 == w[0].1 + 1));
        assert!(p.contains(&(3, 3)), "{p:?}");
        assert!(partition(&f, 3).is_none());
    }

    #[test]
    fn fit_gives_near_ideal_fields_and_round_trips() {
        // A discretised Gaussian-like spread over ±12.
        let q: Vec<i32> = (0..4000)
            .map(|i| {
                let u = ((i * 7919) % 4000) as f64 / 4000.0 - 0.5;
                (u * u.abs() * 48.0).round() as i32
            })
            .collect();
        let c = CoarseComp::fit(q.iter().copied(), 8, 0.1);
        assert!(c.width >= 2, "{}", c.width);
        for &v in &q {
            let cell = &c.cells[c.cell_of(v)];
            assert!(cell.lo <= v && v <= cell.hi);
        }
        let mut w = ByteWriter::new();
        c.write(&mut w);
        let mut r = ByteReader::new(&w.buf, "t");
        assert_eq!(CoarseComp::read(&mut r).unwrap(), c);
        // Constant values: no field.
        assert_eq!(CoarseComp::fit([3, 3, 3].into_iter(), 8, 0.1).width, 0);
    }
}
