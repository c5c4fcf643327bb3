//! The Karhunen–Loève transform (PCA) of the rows of a plane.
//!
//! Fitting: with `μ` the mean row and `Σ = (1/n) Σ_r (x_r − μ)(x_r − μ)ᵀ` the covariance of
//! the rows (over an evenly spaced subsample of at most [`max_fit_rows`] rows), the basis is
//! the `k` leading eigenvectors of `Σ` (decreasing eigenvalue), found in `f64` by
//! Householder tridiagonalisation (`Σ = Q T Qᵀ`) followed by implicit QL iterations with
//! Wilkinson shifts on `T` (the EISPACK `tql2` scheme), and back-transformation of the
//! chosen eigenvectors by the stored reflectors. Each eigenvector's sign is fixed so its
//! largest-magnitude entry is positive, so fitting is deterministic.
//!
//! Transform: `c_r = B (x_r − μ)` (`B`: `k × cols`, orthonormal rows), inverse
//! `x_r = Bᵀ c_r + μ`. With `k = cols` this is an orthogonal change of basis (energy of
//! `x − μ` preserved, perfect reconstruction); with `k < cols` the inverse is the best
//! rank-`k` (affine) approximation on the fitted data. When the basis is rounded to f16
//! (`f16_basis`) both directions use the rounded values, so encoder and decoder agree; the
//! rounded basis is orthonormal only to about 1e-3.

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};
use half::f16;

/// A fitted KLT: mean row and `k` orthonormal basis rows of length `cols`.
#[derive(Debug, Clone, PartialEq)]
pub struct Klt {
    /// Length of the rows it transforms.
    pub cols: usize,
    /// Number of components kept (`k ≤ cols`).
    pub k: usize,
    /// Mean row subtracted before projecting (`cols` values).
    pub mean: Vec<f32>,
    /// `k` rows of length `cols`, orthonormal, in decreasing-variance order.
    pub basis: Vec<f32>,
    /// Basis values are f16-representable and are stored as f16.
    pub f16_basis: bool,
}

/// Rows of a `rows × cols` fit that are actually used: all of them up to a work budget
/// (about 4·10⁹ multiply-adds for the covariance, never fewer than `2·cols`, never more
/// than 20 000 rows).
pub fn max_fit_rows(rows: usize, cols: usize) -> usize {
    let budget = 8.0e9 / ((cols.max(1) as f64) * (cols.max(1) as f64));
    rows.min(20_000.min((2 * cols).max(budget as usize)).max(1))
}

impl Klt {
    /// Fits a KLT with `k` components (clamped to `cols`) to the rows of `data`
    /// (`rows × cols`, row-major). Non-finite values are treated as 0.
    pub fn fit(data: &[f32], rows: usize, cols: usize, k: usize, f16_basis: bool) -> Klt {
        Self::fit_with_spectrum(data, rows, cols, k, f16_basis).0
    }

    /// Like [`Klt::fit`], also returning all `cols` eigenvalues of the covariance in
    /// decreasing order (the variance each component captures), e.g. to choose `k`.
    pub fn fit_with_spectrum(
        data: &[f32],
        rows: usize,
        cols: usize,
        k: usize,
        f16_basis: bool,
    ) -> (Klt, Vec<f64>) {
        assert_eq!(data.len(), rows * cols, "klt fit: data length");
        let k = k.min(cols);
        let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
        // Mean over all rows, in f64.
        let mut mean64 = vec![0.0f64; cols];
        for row in data.chunks_exact(cols.max(1)).take(rows) {
            for (m, &v) in mean64.iter_mut().zip(row) {
                *m += clean(v) as f64;
            }
        }
        let mean: Vec<f32> = mean64
            .iter()
            .map(|&m| (m / rows.max(1) as f64) as f32)
            .collect();
        let n_use = max_fit_rows(rows, cols);
        let mut cov = covariance(data, rows, cols, &mean, n_use, clean);
        let (mut vals, vecs) = if cov.iter().all(|v| v.is_finite()) {
            sym_eigen(&mut cov, cols, k)
        } else {
            (vec![0.0; cols], identity_rows(cols, k))
        };
        let vecs = if vecs.iter().all(|v| v.is_finite()) {
            vecs
        } else {
            vals = vec![0.0; cols];
            identity_rows(cols, k)
        };
        let basis = vecs
            .iter()
            .map(|&v| {
                if f16_basis {
                    f16::from_f64(v).to_f32()
                } else {
                    v as f32
                }
            })
            .collect();
        (
            Klt {
                cols,
                k,
                mean,
                basis,
                f16_basis,
            },
            vals,
        )
    }

    /// Checks internal consistency (`k ≤ cols`, vector lengths).
    pub fn check(&self) -> Result<()> {
        if self.k > self.cols
            || self.mean.len() != self.cols
            || self.basis.len() != self.k * self.cols
        {
            return Err(Error::param(
                "klt sizes",
                format!(
                    "cols {} k {} mean {} basis {}",
                    self.cols,
                    self.k,
                    self.mean.len(),
                    self.basis.len()
                ),
                "k ≤ cols, mean.len() == cols, basis.len() == k·cols",
            ));
        }
        Ok(())
    }

    /// Projects each row: `out[r·k + j] = basis_j · (x_r − mean)`; `x` is `rows × cols`,
    /// `out` is `rows × k`.
    pub fn forward(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        let (cols, k) = (self.cols, self.k);
        assert_eq!(x.len(), rows * cols);
        assert_eq!(out.len(), rows * k);
        if rows == 0 || cols == 0 || k == 0 {
            return;
        }
        let mut cen = vec![0.0f32; 4 * cols];
        for (xg, og) in x.chunks(4 * cols).zip(out.chunks_mut(4 * k)) {
            let g = xg.len() / cols;
            for (i, c) in cen.chunks_exact_mut(cols).enumerate() {
                if i < g {
                    for ((o, &v), &m) in c
                        .iter_mut()
                        .zip(&xg[i * cols..(i + 1) * cols])
                        .zip(&self.mean)
                    {
                        *o = v - m;
                    }
                } else {
                    c.fill(0.0);
                }
            }
            let a: [&[f32]; 4] = std::array::from_fn(|i| &cen[i * cols..(i + 1) * cols]);
            for j in (0..k).step_by(2) {
                let j1 = (j + 1).min(k - 1);
                let d = dot4x2(
                    a,
                    &self.basis[j * cols..(j + 1) * cols],
                    &self.basis[j1 * cols..(j1 + 1) * cols],
                );
                for i in 0..g {
                    og[i * k + j] = d[0][i];
                    og[i * k + j1] = d[1][i];
                }
            }
        }
    }

    /// Reconstructs each row: `out_r = mean + Σ_j c[r·k + j] · basis_j` (computed as dot
    /// products with the transposed basis, four rows by two columns at a time).
    pub fn inverse(&self, c: &[f32], rows: usize, out: &mut [f32]) {
        let (cols, k) = (self.cols, self.k);
        assert_eq!(c.len(), rows * k);
        assert_eq!(out.len(), rows * cols);
        if rows == 0 || cols == 0 {
            return;
        }
        if k == 0 {
            for row in out.chunks_exact_mut(cols) {
                row.copy_from_slice(&self.mean);
            }
            return;
        }
        let mut bt = vec![0.0f32; cols * k];
        for (j, b) in self.basis.chunks_exact(cols).enumerate() {
            for (t, &v) in b.iter().enumerate() {
                bt[t * k + j] = v;
            }
        }
        let mut cbuf = vec![0.0f32; 4 * k];
        for (cg, og) in c.chunks(4 * k).zip(out.chunks_mut(4 * cols)) {
            let g = cg.len() / k;
            cbuf[..cg.len()].copy_from_slice(cg);
            cbuf[cg.len()..].fill(0.0);
            let a: [&[f32]; 4] = std::array::from_fn(|i| &cbuf[i * k..(i + 1) * k]);
            for t in (0..cols).step_by(2) {
                let t1 = (t + 1).min(cols - 1);
                let d = dot4x2(a, &bt[t * k..(t + 1) * k], &bt[t1 * k..(t1 + 1) * k]);
                for i in 0..g {
                    og[i * cols + t] = self.mean[t] + d[0][i];
                    og[i * cols + t1] = self.mean[t1] + d[1][i];
                }
            }
        }
    }

    /// Serializes: varint cols, varint k, u8 flags (bit 0: f16 basis), cols × f32 mean,
    /// k·cols basis values (u16 f16 bits or f32).
    pub(crate) fn write(&self, w: &mut ByteWriter) {
        w.varint(self.cols as u64);
        w.varint(self.k as u64);
        w.u8(self.f16_basis as u8);
        for &m in &self.mean {
            w.f32(m);
        }
        for &b in &self.basis {
            if self.f16_basis {
                w.u16(f16::from_f32(b).to_bits());
            } else {
                w.f32(b);
            }
        }
    }

    /// Reads what [`Klt::write`] wrote, checking sizes against the bytes left first.
    pub(crate) fn read(r: &mut ByteReader) -> Result<Klt> {
        let cols = r.varint_max("klt cols", super::MAX_KLT_COLS as u64)? as usize;
        let k = r.varint_max("klt k", cols as u64)? as usize;
        let flags = r.u8()?;
        if flags > 1 {
            return Err(Error::corrupt(format!("klt: unknown flags {flags:#x}")));
        }
        let f16_basis = flags == 1;
        let per = if f16_basis { 2 } else { 4 };
        let need = cols
            .checked_mul(k)
            .and_then(|n| n.checked_mul(per))
            .and_then(|n| n.checked_add(cols * 4));
        match need {
            Some(n) if n <= r.remaining() => {}
            _ => {
                return Err(Error::corrupt(format!(
                    "klt: cols {cols} × k {k} basis does not fit the {} bytes left",
                    r.remaining()
                )))
            }
        }
        let mut mean = Vec::with_capacity(cols);
        for _ in 0..cols {
            mean.push(r.f32()?);
        }
        let mut basis = Vec::with_capacity(cols * k);
        for _ in 0..cols * k {
            basis.push(if f16_basis {
                f16::from_bits(r.u16()?).to_f32()
            } else {
                r.f32()?
            });
        }
        if !mean.iter().chain(&basis).all(|v| v.is_finite()) {
            return Err(Error::corrupt("klt: non-finite mean or basis value"));
        }
        Ok(Klt {
            cols,
            k,
            mean,
            basis,
            f16_basis,
        })
    }
}

/// Eight dot products, `[[a_t · b0]_t, [a_t · b1]_t]` for four `a` rows and two `b` rows
/// (a 4×2 register block with 4-lane accumulators, which the compiler vectorises).
#[inline]
fn dot4x2(a: [&[f32]; 4], b0: &[f32], b1: &[f32]) -> [[f32; 4]; 2] {
    let n = b0.len();
    let m = n - n % 4;
    let (a0, a1, a2, a3) = (&a[0][..n], &a[1][..n], &a[2][..n], &a[3][..n]);
    let b1 = &b1[..n];
    let z = [0.0f32; 4];
    let (mut p0, mut p1, mut p2, mut p3) = (z, z, z, z);
    let (mut q0, mut q1, mut q2, mut q3) = (z, z, z, z);
    for o in (0..m).step_by(4) {
        let y0: &[f32; 4] = b0[o..o + 4].try_into().unwrap();
        let y1: &[f32; 4] = b1[o..o + 4].try_into().unwrap();
        let x0: &[f32; 4] = a0[o..o + 4].try_into().unwrap();
        let x1: &[f32; 4] = a1[o..o + 4].try_into().unwrap();
        let x2: &[f32; 4] = a2[o..o + 4].try_into().unwrap();
        let x3: &[f32; 4] = a3[o..o + 4].try_into().unwrap();
        for l in 0..4 {
            p0[l] += x0[l] * y0[l];
            p1[l] += x1[l] * y0[l];
            p2[l] += x2[l] * y0[l];
            p3[l] += x3[l] * y0[l];
            q0[l] += x0[l] * y1[l];
            q1[l] += x1[l] * y1[l];
            q2[l] += x2[l] * y1[l];
            q3[l] += x3[l] * y1[l];
        }
    }
    let h = |v: [f32; 4]| (v[0] + v[2]) + (v[1] + v[3]);
    let mut out = [[h(p0), h(p1), h(p2), h(p3)], [h(q0), h(q1), h(q2), h(q3)]];
    for i in m..n {
        for (t, x) in [a0, a1, a2, a3].iter().enumerate() {
            out[0][t] += x[i] * b0[i];
            out[1][t] += x[i] * b1[i];
        }
    }
    out
}

/// `k` rows of the identity (`k × n`).
fn identity_rows(n: usize, k: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * k];
    for i in 0..k {
        v[i * n + i] = 1.0;
    }
    v
}

/// Covariance (full symmetric `cols × cols`, f64) of `n_use` evenly spaced rows, centred
/// by `mean`. Accumulates blocks of 64 rows in f32 (transposed so dot products are
/// contiguous) and sums the blocks in f64.
fn covariance(
    data: &[f32],
    rows: usize,
    cols: usize,
    mean: &[f32],
    n_use: usize,
    clean: impl Fn(f32) -> f32,
) -> Vec<f64> {
    const R: usize = 64;
    let mut cov = vec![0.0f64; cols * cols];
    if rows == 0 || cols == 0 || n_use == 0 {
        return cov;
    }
    let mut t = vec![0.0f32; cols * R];
    let mut start = 0;
    while start < n_use {
        let cnt = R.min(n_use - start);
        t.fill(0.0);
        for q in 0..cnt {
            let r = (start + q) * rows / n_use;
            let row = &data[r * cols..(r + 1) * cols];
            for (c, (&v, &m)) in row.iter().zip(mean).enumerate() {
                t[c * R + q] = clean(v) - m;
            }
        }
        for i0 in (0..cols).step_by(4) {
            let a: [&[f32]; 4] = std::array::from_fn(|q| {
                let i = (i0 + q).min(cols - 1);
                &t[i * R..(i + 1) * R]
            });
            for j in (i0..cols).step_by(2) {
                let j1 = (j + 1).min(cols - 1);
                let d = dot4x2(a, &t[j * R..(j + 1) * R], &t[j1 * R..(j1 + 1) * R]);
                let pairs = [(j, d[0]), (j1, d[1])];
                // j1 == j on the last odd column: count it once.
                for &(jj, dj) in &pairs[..if j1 == j { 1 } else { 2 }] {
                    for (q, &v) in dj.iter().enumerate() {
                        if i0 + q <= jj {
                            cov[(i0 + q) * cols + jj] += v as f64;
                        }
                    }
                }
            }
        }
        start += cnt;
    }
    let inv = 1.0 / n_use as f64;
    for i in 0..cols {
        for j in i..cols {
            let v = cov[i * cols + j] * inv;
            cov[i * cols + j] = v;
            cov[j * cols + i] = v;
        }
    }
    cov
}

/// `Σ a_i b_i` in f64 with four accumulators.
#[inline]
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Turns `x` into a Householder vector in place: returns `(α, τ)` with
/// `(I − τ v vᵀ) x = α e₁` (`τ = 0`, `α = 0` when `x = 0`).
#[inline]
fn house(x: &mut [f64]) -> (f64, f64) {
    let norm = dot64(x, x).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return (0.0, 0.0);
    }
    let alpha = if x[0] > 0.0 { -norm } else { norm };
    x[0] -= alpha;
    (alpha, 2.0 / dot64(x, x))
}

/// `row ← row − vi·w − wi·v` (one row of the symmetric rank-2 update).
#[inline]
fn rank2(row: &mut [f64], vi: f64, wi: f64, v: &[f64], w: &[f64]) {
    for ((x, &vj), &wj) in row.iter_mut().zip(v).zip(w) {
        *x -= vi * wj + wi * vj;
    }
}

/// One row's share of a symmetric matrix–vector product from the upper triangle:
/// `row` = `A[i][i..]`; adds `A[i][i..]·v[i..]` to `p[i]` and `A[i][j]·v[i]` to `p[j]`,
/// `j > i`.
#[inline]
fn sym_row_matvec(row: &[f64], v: &[f64], p: &mut [f64], i: usize) {
    let vi = v[i];
    let (rest_v, rest_p) = (&v[i + 1..], &mut p[i + 1..]);
    let mut acc = [0.0f64; 2];
    let mut pairs = row[1..].chunks_exact(2).zip(rest_v.chunks_exact(2));
    let mut pc = rest_p.chunks_exact_mut(2);
    for ((r, vv), pp) in (&mut pairs).zip(&mut pc) {
        acc[0] += r[0] * vv[0];
        acc[1] += r[1] * vv[1];
        pp[0] += r[0] * vi;
        pp[1] += r[1] * vi;
    }
    let mut s = row[0] * vi + acc[0] + acc[1];
    let done = 2 * ((row.len() - 1) / 2);
    for j in done..row.len() - 1 {
        s += row[1 + j] * rest_v[j];
        rest_p[j] += row[1 + j] * vi;
    }
    p[i] += s;
}

/// Applies recorded plane rotations `(i, c, s)` in order to the rows `i`, `i+1` of the
/// `n × n` row-major `zt` (`row_{i+1} ← s·row_i + c·row_{i+1}`,
/// `row_i ← c·row_i − s·row_{i+1}`), one panel of columns at a time.
fn apply_rotations(zt: &mut [f64], n: usize, rots: &[(u32, f64, f64)]) {
    const PANEL: usize = 128;
    for j0 in (0..n).step_by(PANEL) {
        let j1 = (j0 + PANEL).min(n);
        for &(i, c, s) in rots {
            let i = i as usize;
            let (top, bottom) = zt.split_at_mut((i + 1) * n);
            let zi = &mut top[i * n + j0..i * n + j1];
            let zi1 = &mut bottom[j0..j1];
            for (a0, a1) in zi.iter_mut().zip(zi1.iter_mut()) {
                let h = *a1;
                *a1 = s * *a0 + c * h;
                *a0 = c * *a0 - s * h;
            }
        }
    }
}

/// Symmetric eigendecomposition of the `n × n` matrix `a` (destroyed). Returns all
/// eigenvalues in decreasing order and the first `k` eigenvectors as rows (`k × n`).
///
/// Cost about `(4/3 + 4/3 + 4.5)·n³` flops (tridiagonalisation, accumulation of `Qᵀ`,
/// QL rotations): a few seconds for `n = 1536` on one core.
pub fn sym_eigen(a: &mut [f64], n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), n * n);
    let k = k.min(n);
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    // 1. Householder tridiagonalisation, Q = H_0 H_1 ⋯ H_{n−3}, QᵀAQ = T. For column kk,
    //    H = I − τ v vᵀ maps a[kk+1.., kk] (= row kk, by symmetry) to (α, 0, …); the
    //    trailing block becomes H A H via p = τ A v, w = p − (τ/2)(pᵀv) v,
    //    A ← A − v wᵀ − w vᵀ. v stays in row kk of `a`. The rank-2 update of each row is
    //    fused with the next step's product p' = τ' A' v' so the block is swept once.
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    let mut tau = vec![0.0f64; n];
    let mut p = vec![0.0f64; n];
    let mut wv = vec![0.0f64; n];
    let steps = n.saturating_sub(2);
    let mut pre: Option<(f64, f64)> = None;
    for kk in 0..steps {
        let m = n - kk - 1;
        d[kk] = a[kk * n + kk];
        let (head, tail) = a.split_at_mut((kk + 1) * n);
        let v = &mut head[kk * n + kk + 1..(kk + 1) * n];
        let (alpha, t, p_ready) = match pre.take() {
            Some((al, t)) => (al, t, true),
            None => {
                let (al, t) = house(v);
                (al, t, false)
            }
        };
        e[kk] = alpha;
        tau[kk] = t;
        if t == 0.0 {
            continue;
        }
        let v: &[f64] = v;
        if !p_ready {
            // p = τ A22 v from the upper triangle: row i contributes a_ii v_i + Σ_{j>i}
            // a_ij v_j to p_i and a_ij v_i to each p_j, j > i.
            p[..m].fill(0.0);
            for i in 0..m {
                let row = &tail[i * n + kk + 1 + i..(i + 1) * n];
                sym_row_matvec(row, v, &mut p[..m], i);
            }
            p[..m].iter_mut().for_each(|x| *x *= t);
        }
        let kf = 0.5 * t * dot64(&p[..m], v);
        for ((w, &pi), &vi) in wv[..m].iter_mut().zip(&p[..m]).zip(v) {
            *w = pi - kf * vi;
        }
        let w = &wv[..m];
        // Rank-2 update of the upper triangle (row i from its diagonal on), fused with the
        // next step's p' = τ' A' v' (A' = this block without its first row/column).
        let (row0, rest) = tail.split_at_mut(n);
        rank2(&mut row0[kk + 1..], v[0], w[0], v, w);
        if kk + 1 < steps {
            let v2 = &mut row0[kk + 2..];
            let (al2, t2) = house(v2);
            pre = Some((al2, t2));
            let v2: &[f64] = v2;
            let p2 = &mut p[..m - 1];
            p2.fill(0.0);
            for i in 1..m {
                let row = &mut rest[(i - 1) * n + kk + 1 + i..i * n];
                rank2(row, v[i], w[i], &v[i..], &w[i..]);
                sym_row_matvec(row, v2, p2, i - 1);
            }
            p2.iter_mut().for_each(|x| *x *= t2);
        } else {
            for i in 1..m {
                let row = &mut rest[(i - 1) * n + kk + 1 + i..i * n];
                rank2(row, v[i], w[i], &v[i..], &w[i..]);
            }
        }
    }
    if n >= 2 {
        d[n - 2] = a[(n - 2) * n + n - 2];
        e[n - 2] = a[(n - 2) * n + n - 1];
    }
    d[n - 1] = a[n * n - 1];
    e[n - 1] = 0.0;

    // 2. zt = Qᵀ = H_{n−3} ⋯ H_0, accumulated backwards by right-multiplication
    //    (M ← M H_kk touches only rows/columns kk+1..: one dot and one axpy per row). Rows
    //    are independent, so blocks of rows take every reflector while they sit in cache.
    let mut zt = identity_rows(n, n);
    const ROW_BLOCK: usize = 16;
    for (bi, block) in zt.chunks_mut(ROW_BLOCK * n).enumerate() {
        let r0 = bi * ROW_BLOCK;
        for kk in (0..steps).rev() {
            let t = tau[kk];
            if t == 0.0 || r0 + block.len() / n <= kk + 1 {
                continue;
            }
            let v = &a[kk * n + kk + 1..(kk + 1) * n];
            for (q, row) in block.chunks_exact_mut(n).enumerate() {
                if r0 + q <= kk {
                    continue;
                }
                let seg = &mut row[kk + 1..];
                let sc = t * dot64(seg, v);
                for (x, &vi) in seg.iter_mut().zip(v) {
                    *x -= sc * vi;
                }
            }
        }
    }

    // 3. Implicit QL with Wilkinson-type shifts on the tridiagonal (d, e), e[i] = T[i+1][i]
    //    (EISPACK tql2). Rotations V ← V G act on the rows of zt = Vᵀ, so each touches two
    //    contiguous rows; afterwards row j of zt is the eigenvector of eigenvalue d[j].
    //    The rotations only feed zt (never d, e), so they are recorded and applied in
    //    batches, column panel by column panel (columns of zt are independent), which keeps
    //    the panel in cache instead of streaming the whole matrix once per sweep.
    //    (Tests use small batches so the batching itself is exercised.)
    const ROT_BATCH: usize = if cfg!(test) { 1 << 10 } else { 1 << 19 };
    let mut rots: Vec<(u32, f64, f64)> = Vec::with_capacity(ROT_BATCH.min(n * n));
    let eps = f64::EPSILON;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = d[l];
                let mut pp = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = pp.hypot(1.0);
                if pp < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (pp + r);
                d[l + 1] = e[l] * (pp + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in d[l + 2..].iter_mut() {
                    *di -= h;
                }
                f += h;
                pp = d[m];
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * pp;
                    r = pp.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = pp / r;
                    pp = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    rots.push((i as u32, c, s));
                }
                pp = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * pp;
                d[l] = c * pp;
                if rots.len() >= ROT_BATCH {
                    apply_rotations(&mut zt, n, &rots);
                    rots.clear();
                }
                if e[l].abs() <= eps * tst1 || iter >= 60 || !e[l].is_finite() {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    apply_rotations(&mut zt, n, &rots);

    // 4. Sort, keep the k leading, fix signs (largest-magnitude entry positive).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let vals: Vec<f64> = order.iter().map(|&i| d[i]).collect();
    let mut vecs = vec![0.0f64; k * n];
    for (y, &src) in vecs.chunks_exact_mut(n).zip(&order) {
        y.copy_from_slice(&zt[src * n..(src + 1) * n]);
        let (mut big, mut bi) = (0.0f64, 0usize);
        for (i, &x) in y.iter().enumerate() {
            if x.abs() > big {
                big = x.abs();
                bi = i;
            }
        }
        if y[bi] < 0.0 {
            y.iter_mut().for_each(|x| *x = -*x);
        }
    }
    (vals, vecs)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{data, energy, rel_err};
    use super::*;
    use proptest::prelude::*;

    /// Correlated data: rows = latent (dim `d`) · mixing + small noise.
    fn correlated(rows: usize, cols: usize, d: usize, seed: u64) -> Vec<f32> {
        let lat = data(rows * d, seed);
        let mix = data(d * cols, seed ^ 99);
        let noise = data(rows * cols, seed ^ 7);
        let mut x = vec![0.0f32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                let mut s = 0.3 + 0.01 * noise[r * cols + c];
                for t in 0..d {
                    s += lat[r * d + t] * mix[t * cols + c] * (1.0 / (1 + t) as f32);
                }
                x[r * cols + c] = s;
            }
        }
        x
    }

    fn orthonormality_error(b: &[f32], k: usize, n: usize) -> f64 {
        let mut worst = 0.0f64;
        for i in 0..k {
            for j in 0..k {
                let d: f64 = (0..n)
                    .map(|t| b[i * n + t] as f64 * b[j * n + t] as f64)
                    .sum();
                let want = if i == j { 1.0 } else { 0.0 };
                worst = worst.max((d - want).abs());
            }
        }
        worst
    }

    #[test]
    fn covariance_matches_naive() {
        for &(rows, cols, n_use) in &[
            (1usize, 1usize, 1usize),
            (70, 7, 70),
            (130, 13, 65),
            (5, 2, 5),
        ] {
            let x = data(rows * cols, (rows + cols) as u64);
            let mean = data(cols, 1);
            let cov = covariance(&x, rows, cols, &mean, n_use, |v| v);
            for i in 0..cols {
                for j in 0..cols {
                    let mut s = 0.0f64;
                    for q in 0..n_use {
                        let r = q * rows / n_use;
                        s +=
                            (x[r * cols + i] - mean[i]) as f64 * (x[r * cols + j] - mean[j]) as f64;
                    }
                    s /= n_use as f64;
                    let got = cov[i * cols + j];
                    assert!(
                        (got - s).abs() <= 1e-5 * (1.0 + s.abs()),
                        "{rows}x{cols} ({i},{j}): {got} vs {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn forward_matches_naive_projection() {
        let (rows, cols) = (7, 13);
        let x = correlated(rows, cols, 4, 9);
        for k in [1usize, 4, 13] {
            let klt = Klt::fit(&x, rows, cols, k, false);
            let mut c = vec![0.0; rows * k];
            klt.forward(&x, rows, &mut c);
            for r in 0..rows {
                for j in 0..k {
                    let want: f64 = (0..cols)
                        .map(|t| {
                            (x[r * cols + t] - klt.mean[t]) as f64 * klt.basis[j * cols + t] as f64
                        })
                        .sum();
                    assert!((c[r * k + j] as f64 - want).abs() < 1e-5, "k={k} ({r},{j})");
                }
            }
        }
    }

    #[test]
    fn eigen_of_known_matrices() {
        // Diagonal: eigenvalues sorted, eigenvectors unit vectors.
        let mut a = vec![0.0; 9];
        a[0] = 1.0;
        a[4] = 3.0;
        a[8] = 2.0;
        let (vals, vecs) = sym_eigen(&mut a, 3, 3);
        assert_eq!(vals, vec![3.0, 2.0, 1.0]);
        assert_eq!(vecs, vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        // Random symmetric matrices: A v = λ v, VVᵀ = I.
        for &n in &[1usize, 2, 3, 5, 17, 64, 150] {
            let r = data(n * n, n as u64);
            let mut a: Vec<f64> = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = (r[i * n + j] + r[j * n + i]) as f64;
                }
            }
            let orig = a.clone();
            let (vals, vecs) = sym_eigen(&mut a, n, n);
            assert!(vals.windows(2).all(|w| w[0] >= w[1]));
            for (i, v) in vecs.chunks_exact(n).enumerate() {
                for row in 0..n {
                    let av: f64 = (0..n).map(|j| orig[row * n + j] * v[j]).sum();
                    assert!((av - vals[i] * v[row]).abs() < 1e-9, "n={n} i={i}");
                }
                for (j, w) in vecs.chunks_exact(n).enumerate() {
                    let d: f64 = v.iter().zip(w).map(|(a, b)| a * b).sum();
                    assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
                }
            }
            let tr: f64 = (0..n).map(|i| orig[i * n + i]).sum();
            assert!((vals.iter().sum::<f64>() - tr).abs() < 1e-9);
        }
    }

    #[test]
    fn full_klt_is_orthonormal_and_perfect() {
        let (rows, cols) = (200, 24);
        let x = correlated(rows, cols, 4, 1);
        let klt = Klt::fit(&x, rows, cols, cols, false);
        assert!(orthonormality_error(&klt.basis, cols, cols) < 1e-6);
        let mut c = vec![0.0; rows * cols];
        klt.forward(&x, rows, &mut c);
        let centred: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| v - klt.mean[i % cols])
            .collect();
        let (e0, e1) = (energy(&centred), energy(&c));
        assert!((e0 - e1).abs() <= 1e-5 * e0, "{e0} vs {e1}");
        let mut y = vec![0.0; rows * cols];
        klt.inverse(&c, rows, &mut y);
        assert!(rel_err(&x, &y) <= 1e-5);
    }

    #[test]
    fn components_capture_variance_in_order() {
        let (rows, cols) = (500, 32);
        let x = correlated(rows, cols, 3, 2);
        let (klt, vals) = Klt::fit_with_spectrum(&x, rows, cols, 3, false);
        assert_eq!(vals.len(), cols);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]));
        // Rank-3 signal + tiny noise: 3 components hold almost everything.
        let total: f64 = vals.iter().sum();
        assert!(vals[..3].iter().sum::<f64>() > 0.999 * total);
        let mut c = vec![0.0; rows * 3];
        klt.forward(&x, rows, &mut c);
        let mut y = vec![0.0; rows * cols];
        klt.inverse(&c, rows, &mut y);
        assert!(rel_err(&x, &y) < 0.01, "{}", rel_err(&x, &y));
        // Component variances match the eigenvalues and decrease.
        let var: Vec<f64> = (0..3)
            .map(|j| {
                (0..rows)
                    .map(|r| (c[r * 3 + j] as f64).powi(2))
                    .sum::<f64>()
                    / rows as f64
            })
            .collect();
        for j in 0..3 {
            assert!(
                (var[j] - vals[j]).abs() <= 1e-3 * vals[0],
                "{var:?} {vals:?}"
            );
        }
    }

    #[test]
    fn f16_basis_is_consistent() {
        let (rows, cols) = (100, 16);
        let x = correlated(rows, cols, 5, 3);
        let klt = Klt::fit(&x, rows, cols, cols, true);
        assert!(klt.basis.iter().all(|&v| f16::from_f32(v).to_f32() == v));
        let mut w = ByteWriter::new();
        klt.write(&mut w);
        assert_eq!(w.buf.len(), 1 + 1 + 1 + 16 * 4 + 16 * 16 * 2);
        let mut r = ByteReader::new(&w.buf, "t");
        assert_eq!(Klt::read(&mut r).unwrap(), klt);
        let mut c = vec![0.0; rows * cols];
        klt.forward(&x, rows, &mut c);
        let mut y = vec![0.0; rows * cols];
        klt.inverse(&c, rows, &mut y);
        assert!(rel_err(&x, &y) < 1e-2);
    }

    #[test]
    fn degenerate_inputs() {
        // Constant rows: zero covariance, basis still orthonormal.
        let x = vec![2.5f32; 10 * 6];
        let klt = Klt::fit(&x, 10, 6, 6, false);
        assert!(orthonormality_error(&klt.basis, 6, 6) < 1e-6);
        assert!(klt.mean.iter().all(|&m| m == 2.5));
        // Fewer rows than columns (rank-deficient) and NaNs.
        let mut x = data(3 * 20, 4);
        x[5] = f32::NAN;
        let klt = Klt::fit(&x, 3, 20, 20, false);
        assert!(orthonormality_error(&klt.basis, 20, 20) < 1e-6);
        // Empty shapes.
        let klt = Klt::fit(&[], 0, 5, 3, false);
        assert_eq!((klt.k, klt.basis.len()), (3, 15));
        let klt = Klt::fit(&[], 4, 0, 3, false);
        assert_eq!((klt.k, klt.cols), (0, 0));
        let mut out = vec![];
        klt.forward(&[], 4, &mut out);
    }

    #[test]
    fn subsampling_bound() {
        assert_eq!(max_fit_rows(100, 10), 100);
        assert_eq!(max_fit_rows(1_000_000, 10), 20_000);
        let r = max_fit_rows(1_000_000, 1536);
        assert!((3072..=4000).contains(&r), "{r}");
        assert_eq!(max_fit_rows(0, 5), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn prop_round_trip(rows in 0usize..30, cols in 0usize..30, seed in any::<u64>()) {
            let x = data(rows * cols, seed);
            let klt = Klt::fit(&x, rows, cols, cols, false);
            prop_assert!(orthonormality_error(&klt.basis, cols, cols) < 1e-5);
            let mut c = vec![0.0; rows * cols];
            klt.forward(&x, rows, &mut c);
            let mut y = vec![0.0; rows * cols];
            klt.inverse(&c, rows, &mut y);
            prop_assert!(rel_err(&x, &y) <= 1e-5);
        }
    }
}
