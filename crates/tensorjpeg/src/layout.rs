//! Layout (stage 1): how a tensor's 2-D view `[rows, cols]` (cols = last dimension) is cut
//! into *planes*, the 2-D blocks a transform works on.
//!
//! * `matrix` — bands of [`MATRIX_BAND`] whole rows: 2-D transforms see the matrix as an
//!   image (8×8 DCT blocks and wavelets span neighbouring rows).
//! * `rows` — one plane per row (vector): 2-D transforms degrade to 1-D, the natural layout
//!   for a batch of embeddings.
//! * `tiles` — `t × t` tiles (edge tiles smaller).
//! * `tworow` — the seeds' "two-row image per vector": row `i` of length `d` becomes a
//!   `2 × ⌈d/2⌉` plane (an odd last column repeats the last value and is cropped back).

use crate::error::{Error, Result};

/// Rows per plane in the `matrix` layout (a multiple of 8 and of 2^6 for wavelets).
pub const MATRIX_BAND: usize = 64;

/// Planes any view may have (see [`Layout::check_planes`]).
pub const MAX_FREE_PLANES: usize = 1 << 16;
/// Values per plane required of views with more than [`MAX_FREE_PLANES`] planes.
pub const MIN_VALUES_PER_PLANE: usize = 8;

/// A layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Bands of whole rows.
    Matrix,
    /// One plane per row.
    Rows,
    /// Square tiles of the given side.
    Tiles(usize),
    /// Each row as a two-row image.
    TwoRow,
}

/// Where one plane sits in the 2-D view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    /// First row of the view covered.
    pub row0: usize,
    /// First column covered.
    pub col0: usize,
    /// Rows of the view covered.
    pub rows: usize,
    /// Columns of the view covered.
    pub cols: usize,
    /// Plane shape as the transform sees it.
    pub shape: (usize, usize),
}

impl Layout {
    /// Stable id for the container.
    pub fn id(&self) -> u8 {
        match self {
            Layout::Matrix => 0,
            Layout::Rows => 1,
            Layout::Tiles(_) => 2,
            Layout::TwoRow => 3,
        }
    }
    /// Inverse of [`Layout::id`] (`tile` is the stored tile side).
    pub fn from_id(id: u8, tile: usize) -> Result<Self> {
        Ok(match id {
            0 => Layout::Matrix,
            1 => Layout::Rows,
            2 if (1..=65536).contains(&tile) => Layout::Tiles(tile),
            3 => Layout::TwoRow,
            _ => {
                return Err(Error::corrupt(format!(
                    "unknown layout id {id} (tile {tile})"
                )))
            }
        })
    }
    /// Name as used in codec specs.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Matrix => "matrix",
            Layout::Rows => "rows",
            Layout::Tiles(_) => "tiles",
            Layout::TwoRow => "tworow",
        }
    }

    /// How many planes [`Layout::planes`] returns for a `rows × cols` view, without
    /// building them (`None` on overflow).
    pub fn num_planes(&self, rows: usize, cols: usize) -> Option<usize> {
        if rows == 0 || cols == 0 {
            return Some(0);
        }
        match *self {
            Layout::Matrix => Some(rows.div_ceil(MATRIX_BAND)),
            Layout::Rows | Layout::TwoRow => Some(rows),
            Layout::Tiles(t) => rows.div_ceil(t).checked_mul(cols.div_ceil(t)),
        }
    }

    /// Checks that the plane list of a `rows × cols` view stays small next to the values it
    /// describes: at most [`MAX_FREE_PLANES`] planes, or one plane per
    /// [`MIN_VALUES_PER_PLANE`] values. (A plane record is 56 bytes; a file that declares a
    /// `[4294967295, 1]` tensor in the `rows` layout must not make the decoder build
    /// billions of them.) The encoder applies the same rule, so every file it writes decodes.
    pub fn check_planes(&self, rows: usize, cols: usize) -> Result<usize> {
        let n = rows.saturating_mul(cols);
        let p = self.num_planes(rows, cols).unwrap_or(usize::MAX);
        if p > MAX_FREE_PLANES && p > n / MIN_VALUES_PER_PLANE {
            return Err(Error::unsupported(
                "native",
                format!(
                    "the {} layout cuts a {rows} × {cols} view into {p} planes: at most \
                     {MAX_FREE_PLANES}, or one per {MIN_VALUES_PER_PLANE} values (use the \
                     matrix layout, or larger tiles)",
                    self.name()
                ),
            ));
        }
        Ok(p)
    }

    /// The planes covering a `rows × cols` view, in storage order.
    pub fn planes(&self, rows: usize, cols: usize) -> Vec<Plane> {
        let mut out = Vec::new();
        if rows == 0 || cols == 0 {
            return out;
        }
        match *self {
            Layout::Matrix => {
                for r0 in (0..rows).step_by(MATRIX_BAND) {
                    let r = MATRIX_BAND.min(rows - r0);
                    out.push(Plane {
                        row0: r0,
                        col0: 0,
                        rows: r,
                        cols,
                        shape: (r, cols),
                    });
                }
            }
            Layout::Rows => {
                for r0 in 0..rows {
                    out.push(Plane {
                        row0: r0,
                        col0: 0,
                        rows: 1,
                        cols,
                        shape: (1, cols),
                    });
                }
            }
            Layout::Tiles(t) => {
                for r0 in (0..rows).step_by(t) {
                    for c0 in (0..cols).step_by(t) {
                        let (r, c) = (t.min(rows - r0), t.min(cols - c0));
                        out.push(Plane {
                            row0: r0,
                            col0: c0,
                            rows: r,
                            cols: c,
                            shape: (r, c),
                        });
                    }
                }
            }
            Layout::TwoRow => {
                let h = cols.div_ceil(2);
                let shape = if cols == 1 { (1, 1) } else { (2, h) };
                for r0 in 0..rows {
                    out.push(Plane {
                        row0: r0,
                        col0: 0,
                        rows: 1,
                        cols,
                        shape,
                    });
                }
            }
        }
        out
    }

    /// Copies a plane out of the view into `buf` (length `shape.0 * shape.1`).
    pub fn extract(&self, view: &[f32], view_cols: usize, p: &Plane, buf: &mut [f32]) {
        match self {
            Layout::TwoRow => {
                let row = &view[p.row0 * view_cols..(p.row0 + 1) * view_cols];
                buf[..row.len()].copy_from_slice(row);
                if buf.len() > row.len() {
                    buf[row.len()] = row[row.len() - 1];
                }
            }
            _ => {
                for r in 0..p.rows {
                    let src = (p.row0 + r) * view_cols + p.col0;
                    buf[r * p.cols..(r + 1) * p.cols].copy_from_slice(&view[src..src + p.cols]);
                }
            }
        }
    }

    /// Writes a plane back into the view (cropping any padding).
    pub fn insert(&self, view: &mut [f32], view_cols: usize, p: &Plane, buf: &[f32]) {
        match self {
            Layout::TwoRow => {
                view[p.row0 * view_cols..(p.row0 + 1) * view_cols]
                    .copy_from_slice(&buf[..view_cols]);
            }
            _ => {
                for r in 0..p.rows {
                    let dst = (p.row0 + r) * view_cols + p.col0;
                    view[dst..dst + p.cols].copy_from_slice(&buf[r * p.cols..(r + 1) * p.cols]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_cover_the_view_exactly_once() {
        for layout in [
            Layout::Matrix,
            Layout::Rows,
            Layout::Tiles(8),
            Layout::Tiles(5),
            Layout::TwoRow,
        ] {
            for (rows, cols) in [(1, 1), (3, 7), (130, 9), (64, 64), (0, 5), (5, 0)] {
                let view: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
                let mut back = vec![-1.0; rows * cols];
                for p in layout.planes(rows, cols) {
                    let mut buf = vec![0.0; p.shape.0 * p.shape.1];
                    layout.extract(&view, cols, &p, &mut buf);
                    layout.insert(&mut back, cols, &p, &buf);
                }
                assert_eq!(back, view, "{layout:?} {rows}x{cols}");
            }
        }
    }
}
