//! The discrete cosine transform, type II (forward) and III (inverse), orthonormal.
//!
//! For a length-`N` vector `x` the orthonormal DCT-II is
//!
//! ```text
//! X[k] = s(k) · Σ_{n=0}^{N-1} x[n] · cos(π (2n+1) k / (2N)),   s(0) = √(1/N), s(k>0) = √(2/N)
//! ```
//!
//! and its inverse is the transpose, the orthonormal DCT-III
//! `x[n] = Σ_k s(k) X[k] cos(π (2n+1) k / (2N))`. With this normalisation the transform
//! matrix is orthogonal: `Σ x² = Σ X²` (Parseval), which is what makes quantization error
//! in the coefficients equal to the error in the signal.
//!
//! Three implementations:
//!
//! * [`dct_ii_reference`] / [`dct_iii_reference`]: the O(N²) definition in `f64`, for tests.
//! * 8×8 blocks ([`forward_8x8_plane`], [`fdct8x8_block`]): the separable 2-D DCT (rows
//!   then columns, JPEG's `F(u,v) = ¼ C(u) C(v) ΣΣ f(x,y) cos((2x+1)uπ/16) cos((2y+1)vπ/16)`,
//!   `C(0) = 1/√2`, which is the product of two orthonormal 8-point DCT-IIs). Each 8-point
//!   DCT uses the even/odd butterfly (`x[n] ± x[7-n]`) so it needs 32 multiplies instead
//!   of 64; the vertical pass runs over whole 8-row strips so it vectorises across columns.
//! * Any length ([`Dct1dPlan`], used by [`forward_1d_rows`]): Lee's recursive factorisation
//!   (B. G. Lee, "A new algorithm to compute the discrete cosine transform", IEEE TASSP
//!   1984) splits an even-length DCT-II into two half-length ones:
//!   `g[n] = x[n] + x[N-1-n]`, `h[n] = (x[n] − x[N-1-n]) / (2 cos(π(2n+1)/(2N)))`,
//!   `X[2m] = G[m]`, `X[2m+1] = H[m] + H[m+1]` (`H[N/2] = 0`); the recursion stops at an
//!   odd length or length ≤ 32, where a precomputed cosine matrix is applied. Cost
//!   O(N log N) for `N = 2^p·m` with small odd `m`, O(N·m) in general. The division by
//!   small cosines amplifies rounding error by about `N/π`, so the plan works in `f64`.
//!   Plans are cached per length ([`Dct1dPlan::get`]).

use std::sync::{Arc, Mutex, OnceLock};

/// Band index of a DCT8x8 coefficient by its zig-zag diagonal `u+v` (0..=14):
/// `{0}`, `{1}`, `{2}`, `{3,4}`, `{5,6}`, `{7,8,9}`, `{10..14}`.
pub const DIAGONAL_BAND: [u8; 15] = [0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 6, 6, 6];

/// Number of distinct values in [`DIAGONAL_BAND`].
pub const NUM_DIAGONAL_BANDS: usize = 7;

/// Orthonormal DCT-II of `x` by the O(N²) definition, in `f64` (the reference).
pub fn dct_ii_reference(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|k| {
            let s: f64 = x
                .iter()
                .enumerate()
                .map(|(i, &v)| v * cos_term(i, k, n))
                .sum();
            s * norm(k, n)
        })
        .collect()
}

/// Orthonormal DCT-III (the inverse of [`dct_ii_reference`]) by definition, in `f64`.
pub fn dct_iii_reference(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    (0..n)
        .map(|i| {
            c.iter()
                .enumerate()
                .map(|(k, &v)| v * norm(k, n) * cos_term(i, k, n))
                .sum()
        })
        .collect()
}

/// `cos(π (2i+1) k / (2n))`, with the argument reduced exactly in integers first.
#[inline]
fn cos_term(i: usize, k: usize, n: usize) -> f64 {
    let t = ((2 * i + 1) as u128 * k as u128 % (4 * n) as u128) as f64;
    (std::f64::consts::PI * t / (2 * n) as f64).cos()
}

/// The orthonormal DCT-II scale `s(k)`: `√(1/n)` for `k = 0`, `√(2/n)` otherwise.
#[inline]
fn norm(k: usize, n: usize) -> f64 {
    if k == 0 {
        (1.0 / n as f64).sqrt()
    } else {
        (2.0 / n as f64).sqrt()
    }
}

// ---------------------------------------------------------------------------------------
// 8-point DCT, even/odd factorised.
// ---------------------------------------------------------------------------------------

/// The 8-point orthonormal DCT matrix `M[u][n] = s(u) cos(π(2n+1)u/16)` split into its even
/// rows (`e[m][n] = M[2m][n]`, symmetric in `n ↔ 7-n`) and odd rows (`o[m][n] = M[2m+1][n]`,
/// antisymmetric), `n < 4`.
#[derive(Clone, Copy)]
struct Dct8 {
    e: [[f32; 4]; 4],
    o: [[f32; 4]; 4],
}

fn dct8() -> &'static Dct8 {
    static C: OnceLock<Dct8> = OnceLock::new();
    C.get_or_init(|| {
        let mut d = Dct8 {
            e: [[0.0; 4]; 4],
            o: [[0.0; 4]; 4],
        };
        for m in 0..4 {
            for n in 0..4 {
                d.e[m][n] = (norm(2 * m, 8) * cos_term(n, 2 * m, 8)) as f32;
                d.o[m][n] = (norm(2 * m + 1, 8) * cos_term(n, 2 * m + 1, 8)) as f32;
            }
        }
        d
    })
}

/// Forward 8-point DCT-II: `s = x[n] + x[7-n]`, `d = x[n] − x[7-n]`, then
/// `X[2m] = e[m]·s`, `X[2m+1] = o[m]·d`.
#[inline(always)]
fn fwd8(x: [f32; 8], c: &Dct8) -> [f32; 8] {
    let s = [x[0] + x[7], x[1] + x[6], x[2] + x[5], x[3] + x[4]];
    let d = [x[0] - x[7], x[1] - x[6], x[2] - x[5], x[3] - x[4]];
    let mut y = [0.0f32; 8];
    for m in 0..4 {
        let (e, o) = (&c.e[m], &c.o[m]);
        y[2 * m] = e[0] * s[0] + e[1] * s[1] + e[2] * s[2] + e[3] * s[3];
        y[2 * m + 1] = o[0] * d[0] + o[1] * d[1] + o[2] * d[2] + o[3] * d[3];
    }
    y
}

/// Inverse 8-point DCT (DCT-III, the transpose of [`fwd8`]):
/// `E[n] = Σ_m e[m][n] X[2m]`, `O[n] = Σ_m o[m][n] X[2m+1]`, `x[n] = E+O`, `x[7-n] = E−O`.
#[inline(always)]
fn inv8(y: [f32; 8], c: &Dct8) -> [f32; 8] {
    let mut x = [0.0f32; 8];
    for n in 0..4 {
        let ev = c.e[0][n] * y[0] + c.e[1][n] * y[2] + c.e[2][n] * y[4] + c.e[3][n] * y[6];
        let od = c.o[0][n] * y[1] + c.o[1][n] * y[3] + c.o[2][n] * y[5] + c.o[3][n] * y[7];
        x[n] = ev + od;
        x[7 - n] = ev - od;
    }
    x
}

/// Applies `f` down the columns of 8 rows of length `w` (`src` and `dst` hold 8 rows each,
/// stride `w`), vectorised across the columns.
#[inline(always)]
fn columns8(src: &[f32], dst: &mut [f32], w: usize, f: impl Fn([f32; 8]) -> [f32; 8]) {
    let s: [&[f32]; 8] = std::array::from_fn(|i| &src[i * w..(i + 1) * w]);
    let (d0, rest) = dst[..8 * w].split_at_mut(w);
    let (d1, rest) = rest.split_at_mut(w);
    let (d2, rest) = rest.split_at_mut(w);
    let (d3, rest) = rest.split_at_mut(w);
    let (d4, rest) = rest.split_at_mut(w);
    let (d5, rest) = rest.split_at_mut(w);
    let (d6, d7) = rest.split_at_mut(w);
    for j in 0..w {
        let y = f([
            s[0][j], s[1][j], s[2][j], s[3][j], s[4][j], s[5][j], s[6][j], s[7][j],
        ]);
        d0[j] = y[0];
        d1[j] = y[1];
        d2[j] = y[2];
        d3[j] = y[3];
        d4[j] = y[4];
        d5[j] = y[5];
        d6[j] = y[6];
        d7[j] = y[7];
    }
}

/// Forward 2-D DCT of one 8×8 block (row-major, in place), orthonormal.
pub fn fdct8x8_block(b: &mut [f32; 64]) {
    let c = dct8();
    let mut t = [0.0f32; 64];
    columns8(&b[..], &mut t, 8, |v| fwd8(v, c));
    for (o, i) in b.chunks_exact_mut(8).zip(t.chunks_exact(8)) {
        o.copy_from_slice(&fwd8(i.try_into().unwrap(), c));
    }
}

/// Inverse 2-D DCT of one 8×8 block (row-major, in place), orthonormal.
pub fn idct8x8_block(b: &mut [f32; 64]) {
    let c = dct8();
    let mut t = [0.0f32; 64];
    for (o, i) in t.chunks_exact_mut(8).zip(b.chunks_exact(8)) {
        o.copy_from_slice(&inv8(i.try_into().unwrap(), c));
    }
    columns8(&t, &mut b[..], 8, |v| inv8(v, c));
}

/// Forward 8×8 block DCT of a rows×cols plane into the padded `R8 × C8` coefficient plane
/// (`out.len() == R8·C8`, rows/cols rounded up to multiples of 8). The plane is extended by
/// edge replication; coefficient `(u, v)` of block `(i, j)` lands at `(8i+u, 8j+v)`.
pub fn forward_8x8_plane(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    let c = dct8();
    let w = cols.div_ceil(8) * 8;
    let r8 = rows.div_ceil(8) * 8;
    assert_eq!(x.len(), rows * cols);
    assert_eq!(out.len(), r8 * w);
    let mut strip = vec![0.0f32; 8 * w];
    for (sb, ostrip) in out.chunks_exact_mut(8 * w).enumerate() {
        // Gather 8 rows with edge replication (right and bottom).
        for (i, srow) in strip.chunks_exact_mut(w).enumerate() {
            let r = (sb * 8 + i).min(rows - 1);
            let xr = &x[r * cols..(r + 1) * cols];
            srow[..cols].copy_from_slice(xr);
            let last = xr[cols - 1];
            srow[cols..].fill(last);
        }
        columns8(&strip, ostrip, w, |v| fwd8(v, c));
        for ch in ostrip.chunks_exact_mut(8) {
            let y = fwd8(ch.try_into().unwrap(), c);
            ch.copy_from_slice(&y);
        }
    }
}

/// Inverse of [`forward_8x8_plane`]: reads the `R8 × C8` coefficient plane and writes the
/// top-left rows×cols of the reconstruction.
pub fn inverse_8x8_plane(coef: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    let c = dct8();
    let w = cols.div_ceil(8) * 8;
    let r8 = rows.div_ceil(8) * 8;
    assert_eq!(coef.len(), r8 * w);
    assert_eq!(out.len(), rows * cols);
    let mut a = vec![0.0f32; 8 * w];
    let mut b = vec![0.0f32; 8 * w];
    for (sb, cstrip) in coef.chunks_exact(8 * w).enumerate() {
        for (o, i) in a.chunks_exact_mut(8).zip(cstrip.chunks_exact(8)) {
            o.copy_from_slice(&inv8(i.try_into().unwrap(), c));
        }
        columns8(&a, &mut b, w, |v| inv8(v, c));
        let r0 = sb * 8;
        for i in 0..8.min(rows - r0) {
            out[(r0 + i) * cols..(r0 + i + 1) * cols].copy_from_slice(&b[i * w..i * w + cols]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Any-length DCT: Lee's recursion over a cosine-matrix base case.
// ---------------------------------------------------------------------------------------

/// Base-case size at or below which the recursion stops even for even lengths.
const BASE_MAX_EVEN: usize = 32;
/// Largest odd base case stored as a full `f64` matrix (8 MiB); larger ones use a cosine
/// table of `4m` entries indexed by `(2j+1)k mod 4m`.
const BASE_MATRIX_MAX: usize = 1024;

#[derive(Debug)]
enum Base {
    /// `m × m`, row-major, `C[k][j] = cos(π(2j+1)k/(2m))` (unnormalised).
    Matrix(Vec<f64>),
    /// `T[t] = cos(π t / (2m))`, `t < 4m`.
    Table(Vec<f64>),
}

/// A precomputed orthonormal DCT-II/III of one length `n` (Lee recursion + cosine-matrix
/// base case, all in `f64`). Build with [`Dct1dPlan::new`] or take a cached one with
/// [`Dct1dPlan::get`].
#[derive(Debug)]
pub struct Dct1dPlan {
    n: usize,
    /// Lee weights per recursion level `ℓ` (length `n_ℓ/2`, `n_ℓ = n >> ℓ`):
    /// `w[i] = 1 / (2 cos(π(2i+1)/(2 n_ℓ)))`.
    levels: Vec<Vec<f64>>,
    base_n: usize,
    base: Base,
    /// Orthonormal output scale, `s(0)` and `s(k>0)`.
    s0: f64,
    s1: f64,
}

impl Dct1dPlan {
    /// Precomputes the plan for length `n` (O(n + m²) work for base size `m`).
    pub fn new(n: usize) -> Self {
        let mut levels = Vec::new();
        let mut m = n;
        while m.is_multiple_of(2) && m > BASE_MAX_EVEN {
            let h = m / 2;
            let w = (0..h)
                .map(|i| {
                    let th = std::f64::consts::PI * (2 * i + 1) as f64 / (2 * m) as f64;
                    0.5 / th.cos()
                })
                .collect();
            levels.push(w);
            m = h;
        }
        let base = if m <= BASE_MATRIX_MAX {
            let mut c = vec![0.0; m * m];
            for k in 0..m {
                for j in 0..m {
                    c[k * m + j] = cos_term(j, k, m);
                }
            }
            Base::Matrix(c)
        } else {
            Base::Table(
                (0..4 * m)
                    .map(|t| (std::f64::consts::PI * t as f64 / (2 * m) as f64).cos())
                    .collect(),
            )
        };
        Dct1dPlan {
            n,
            levels,
            base_n: m,
            base,
            s0: norm(0, n.max(1)),
            s1: norm(1, n.max(1)),
        }
    }

    /// The cached plan for length `n` (a small process-wide cache of recent lengths).
    pub fn get(n: usize) -> Arc<Dct1dPlan> {
        static CACHE: OnceLock<Mutex<Vec<Arc<Dct1dPlan>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        if let Ok(c) = cache.lock() {
            if let Some(p) = c.iter().find(|p| p.n == n) {
                return p.clone();
            }
        }
        let p = Arc::new(Dct1dPlan::new(n));
        if let Ok(mut c) = cache.lock() {
            if !c.iter().any(|q| q.n == n) {
                if c.len() >= 16 {
                    c.remove(0);
                }
                c.push(p.clone());
            }
        }
        p
    }

    /// The length this plan transforms.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True for the length-0 plan.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Orthonormal DCT-II of `x` into `out` (both length `n`); `buf`, `tmp` are `f64`
    /// scratch of length `n` (reused across rows so no allocation happens per row).
    pub fn forward(&self, x: &[f32], out: &mut [f32], buf: &mut [f64], tmp: &mut [f64]) {
        let n = self.n;
        if n == 0 {
            return;
        }
        let (buf, tmp) = (&mut buf[..n], &mut tmp[..n]);
        for (b, &v) in buf.iter_mut().zip(&x[..n]) {
            *b = v as f64;
        }
        self.fwd(0, buf, tmp);
        out[0] = (buf[0] * self.s0) as f32;
        for (o, &b) in out[1..n].iter_mut().zip(&buf[1..]) {
            *o = (b * self.s1) as f32;
        }
    }

    /// Orthonormal DCT-III (inverse) of `c` into `out`; scratch as in [`Dct1dPlan::forward`].
    pub fn inverse(&self, c: &[f32], out: &mut [f32], buf: &mut [f64], tmp: &mut [f64]) {
        let n = self.n;
        if n == 0 {
            return;
        }
        let (buf, tmp) = (&mut buf[..n], &mut tmp[..n]);
        buf[0] = c[0] as f64 * self.s0;
        for (b, &v) in buf[1..].iter_mut().zip(&c[1..n]) {
            *b = v as f64 * self.s1;
        }
        self.inv(0, buf, tmp);
        for (o, &b) in out[..n].iter_mut().zip(buf.iter()) {
            *o = b as f32;
        }
    }

    /// Unnormalised DCT-II of `buf` in place (`tmp`: scratch of the same length).
    fn fwd(&self, lvl: usize, buf: &mut [f64], tmp: &mut [f64]) {
        let n = buf.len();
        if lvl == self.levels.len() {
            self.base_fwd(buf, tmp);
            return;
        }
        let h = n / 2;
        let w = &self.levels[lvl];
        {
            let (lo, hi) = tmp.split_at_mut(h);
            let (a, b) = buf.split_at(h);
            for (((l, hh), (&x0, &x1)), &wi) in lo
                .iter_mut()
                .zip(hi.iter_mut())
                .zip(a.iter().zip(b.iter().rev()))
                .zip(w)
            {
                *l = x0 + x1;
                *hh = (x0 - x1) * wi;
            }
        }
        {
            let (tlo, thi) = tmp.split_at_mut(h);
            let (blo, bhi) = buf.split_at_mut(h);
            self.fwd(lvl + 1, tlo, blo);
            self.fwd(lvl + 1, thi, bhi);
        }
        // X[2m] = G[m], X[2m+1] = H[m] + H[m+1], H[h] = 0.
        let (g, hh) = tmp.split_at(h);
        for (m, pair) in buf.chunks_exact_mut(2).enumerate() {
            pair[0] = g[m];
            pair[1] = hh[m] + if m + 1 < h { hh[m + 1] } else { 0.0 };
        }
    }

    /// Unnormalised DCT-III (transpose of [`Self::fwd`]) of `buf` in place.
    fn inv(&self, lvl: usize, buf: &mut [f64], tmp: &mut [f64]) {
        let n = buf.len();
        if lvl == self.levels.len() {
            self.base_inv(buf, tmp);
            return;
        }
        let h = n / 2;
        let w = &self.levels[lvl];
        {
            // Transpose of the output interleave: G[m] = X[2m], H[m] = X[2m+1] + X[2m-1].
            let (g, hh) = tmp.split_at_mut(h);
            let mut prev = 0.0;
            for (m, pair) in buf.chunks_exact(2).enumerate() {
                g[m] = pair[0];
                hh[m] = pair[1] + prev;
                prev = pair[1];
            }
        }
        {
            let (tlo, thi) = tmp.split_at_mut(h);
            let (blo, bhi) = buf.split_at_mut(h);
            self.inv(lvl + 1, tlo, blo);
            self.inv(lvl + 1, thi, bhi);
        }
        // Transpose of the input butterfly: x[i] = g + w h, x[n-1-i] = g − w h.
        let (g, hh) = tmp.split_at(h);
        let (a, b) = buf.split_at_mut(h);
        for (((xa, xb), (&gi, &hi)), &wi) in a
            .iter_mut()
            .zip(b.iter_mut().rev())
            .zip(g.iter().zip(hh))
            .zip(w)
        {
            let t = hi * wi;
            *xa = gi + t;
            *xb = gi - t;
        }
    }

    fn base_fwd(&self, buf: &mut [f64], tmp: &mut [f64]) {
        let m = self.base_n;
        match &self.base {
            Base::Matrix(c) => {
                for (t, row) in tmp.iter_mut().zip(c.chunks_exact(m)) {
                    *t = dot_f64(row, buf);
                }
            }
            Base::Table(tab) => {
                let p = 4 * m;
                for (k, t) in tmp.iter_mut().enumerate() {
                    let (step, mut idx) = ((2 * k) % p, k % p);
                    let mut s = 0.0;
                    for &v in buf.iter() {
                        s += v * tab[idx];
                        idx += step;
                        if idx >= p {
                            idx -= p;
                        }
                    }
                    *t = s;
                }
            }
        }
        buf.copy_from_slice(tmp);
    }

    fn base_inv(&self, buf: &mut [f64], tmp: &mut [f64]) {
        let m = self.base_n;
        match &self.base {
            Base::Matrix(c) => {
                tmp.fill(0.0);
                for (&v, row) in buf.iter().zip(c.chunks_exact(m)) {
                    for (t, &r) in tmp.iter_mut().zip(row) {
                        *t += v * r;
                    }
                }
            }
            Base::Table(tab) => {
                let p = 4 * m;
                tmp.fill(0.0);
                for (k, &v) in buf.iter().enumerate() {
                    let (step, mut idx) = ((2 * k) % p, k % p);
                    for t in tmp.iter_mut() {
                        *t += v * tab[idx];
                        idx += step;
                        if idx >= p {
                            idx -= p;
                        }
                    }
                }
            }
        }
        buf.copy_from_slice(tmp);
    }
}

/// Dot product with four independent accumulators (lets the compiler vectorise).
#[inline]
fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
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

/// Orthonormal DCT-II of each row of a rows×cols plane (`out`: rows×cols, frequency-major
/// within each row).
pub fn forward_1d_rows(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    let plan = Dct1dPlan::get(cols);
    let (mut buf, mut tmp) = (vec![0.0f64; cols], vec![0.0f64; cols]);
    for (xr, or) in x
        .chunks_exact(cols)
        .zip(out.chunks_exact_mut(cols))
        .take(rows)
    {
        plan.forward(xr, or, &mut buf, &mut tmp);
    }
}

/// Inverse of [`forward_1d_rows`] (orthonormal DCT-III of each row).
pub fn inverse_1d_rows(c: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    let plan = Dct1dPlan::get(cols);
    let (mut buf, mut tmp) = (vec![0.0f64; cols], vec![0.0f64; cols]);
    for (cr, or) in c
        .chunks_exact(cols)
        .zip(out.chunks_exact_mut(cols))
        .take(rows)
    {
        plan.inverse(cr, or, &mut buf, &mut tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{data, energy, rel_err};
    use super::*;
    use proptest::prelude::*;

    fn to64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&a| a as f64).collect()
    }

    #[test]
    fn reference_is_orthonormal() {
        // Columns of the reference matrix are orthonormal: DCT of unit vectors.
        for n in [1usize, 2, 3, 8, 13] {
            let cols: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    let mut e = vec![0.0; n];
                    e[i] = 1.0;
                    dct_ii_reference(&e)
                })
                .collect();
            for i in 0..n {
                for j in 0..n {
                    let d: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12, "n={n} ({i},{j}) {d}");
                }
            }
            let x: Vec<f64> = to64(&data(n, n as u64));
            let back = dct_iii_reference(&dct_ii_reference(&x));
            for (a, b) in x.iter().zip(&back) {
                assert!((a - b).abs() < 1e-12);
            }
        }
        // DC of a constant: √N · value.
        let c = dct_ii_reference(&[2.0; 16]);
        assert!((c[0] - 8.0).abs() < 1e-12);
        assert!(c[1..].iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn fast_8x8_matches_reference() {
        for seed in 0..20u64 {
            let x = data(64, seed);
            let mut b: [f32; 64] = x.clone().try_into().unwrap();
            fdct8x8_block(&mut b);
            // Reference: rows then columns, f64.
            let mut r = to64(&x);
            for row in r.chunks_exact_mut(8) {
                let y = dct_ii_reference(row);
                row.copy_from_slice(&y);
            }
            for j in 0..8 {
                let col: Vec<f64> = (0..8).map(|i| r[i * 8 + j]).collect();
                let y = dct_ii_reference(&col);
                for i in 0..8 {
                    r[i * 8 + j] = y[i];
                }
            }
            for (a, b) in b.iter().zip(&r) {
                assert!((*a as f64 - b).abs() <= 1e-5, "{a} vs {b}");
            }
            assert!((energy(&x) - energy(&b)).abs() <= 1e-5 * energy(&x));
            idct8x8_block(&mut b);
            assert!(rel_err(&x, &b) <= 1e-6);
        }
    }

    #[test]
    fn plane_8x8_matches_blocks_and_replicates_edges() {
        let (rows, cols) = (11, 19);
        let x = data(rows * cols, 9);
        let mut out = vec![0.0; 16 * 24];
        forward_8x8_plane(&x, rows, cols, &mut out);
        for bi in 0..2 {
            for bj in 0..3 {
                let mut b = [0.0f32; 64];
                for u in 0..8 {
                    for v in 0..8 {
                        let r = (bi * 8 + u).min(rows - 1);
                        let c = (bj * 8 + v).min(cols - 1);
                        b[u * 8 + v] = x[r * cols + c];
                    }
                }
                fdct8x8_block(&mut b);
                for u in 0..8 {
                    for v in 0..8 {
                        let got = out[(bi * 8 + u) * 24 + bj * 8 + v];
                        assert!((got - b[u * 8 + v]).abs() <= 1e-5);
                    }
                }
            }
        }
        // A constant plane has only DC energy, even where padded.
        let x = vec![3.0f32; 5 * 13];
        let mut out = vec![0.0; 8 * 16];
        forward_8x8_plane(&x, 5, 13, &mut out);
        for (i, &v) in out.iter().enumerate() {
            if i % 8 == 0 && (i / 16) % 8 == 0 {
                assert!((v - 24.0).abs() < 1e-4, "{i}: {v}");
            } else {
                assert!(v.abs() < 1e-4, "{i}: {v}");
            }
        }
    }

    #[test]
    fn fast_1d_matches_reference_many_lengths() {
        let lens = [
            1usize, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 17, 24, 31, 32, 48, 64, 96, 100, 128, 384,
            1000, 1024, 1536, 2048,
        ];
        for &n in &lens {
            let x = data(n, n as u64 + 1);
            let p = Dct1dPlan::new(n);
            let (mut b, mut t) = (vec![0.0; n], vec![0.0; n]);
            let mut y = vec![0.0f32; n];
            p.forward(&x, &mut y, &mut b, &mut t);
            let r = dct_ii_reference(&to64(&x));
            let scale = r.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (k, (a, b)) in y.iter().zip(&r).enumerate() {
                assert!(
                    (*a as f64 - b).abs() <= 1e-5 * scale,
                    "n={n} k={k}: {a} vs {b}"
                );
            }
            let ex = energy(&x);
            assert!((ex - energy(&y)).abs() <= 1e-5 * ex.max(1e-30), "n={n}");
            let mut z = vec![0.0f32; n];
            p.inverse(&y, &mut z, &mut b, &mut t);
            let ri = dct_iii_reference(&to64(&y));
            for (a, b) in z.iter().zip(&ri) {
                assert!((*a as f64 - b).abs() <= 1e-5 * scale);
            }
            assert!(rel_err(&x, &z) <= 1e-5, "n={n}");
        }
    }

    #[test]
    fn table_base_case_matches_reference() {
        // 2·1031: one Lee level over an odd prime base above BASE_MATRIX_MAX.
        let n = 2 * 1031;
        let p = Dct1dPlan::new(n);
        assert!(matches!(p.base, Base::Table(_)));
        let x = data(n, 5);
        let (mut b, mut t) = (vec![0.0; n], vec![0.0; n]);
        let mut y = vec![0.0f32; n];
        p.forward(&x, &mut y, &mut b, &mut t);
        let r = dct_ii_reference(&to64(&x));
        for (a, b) in y.iter().zip(&r) {
            assert!((*a as f64 - b).abs() <= 1e-5);
        }
        let mut z = vec![0.0f32; n];
        p.inverse(&y, &mut z, &mut b, &mut t);
        assert!(rel_err(&x, &z) <= 1e-5);
    }

    #[test]
    fn rows_use_independent_vectors() {
        let (rows, cols) = (3, 12);
        let x = data(rows * cols, 2);
        let mut out = vec![0.0; rows * cols];
        forward_1d_rows(&x, rows, cols, &mut out);
        for r in 0..rows {
            let want = dct_ii_reference(&to64(&x[r * cols..(r + 1) * cols]));
            for (a, b) in out[r * cols..(r + 1) * cols].iter().zip(&want) {
                assert!((*a as f64 - b).abs() <= 1e-5);
            }
        }
    }

    proptest! {
        #[test]
        fn prop_1d_matches_reference(n in 1usize..300, seed in any::<u64>()) {
            let x = data(n, seed);
            let p = Dct1dPlan::new(n);
            let (mut b, mut t) = (vec![0.0; n], vec![0.0; n]);
            let mut y = vec![0.0f32; n];
            p.forward(&x, &mut y, &mut b, &mut t);
            let r = dct_ii_reference(&to64(&x));
            let scale = r.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (a, b) in y.iter().zip(&r) {
                prop_assert!((*a as f64 - b).abs() <= 1e-5 * scale);
            }
            let mut z = vec![0.0f32; n];
            p.inverse(&y, &mut z, &mut b, &mut t);
            prop_assert!(rel_err(&x, &z) <= 1e-5);
        }

        #[test]
        fn prop_8x8_plane_round_trip(rows in 1usize..30, cols in 1usize..30, seed in any::<u64>()) {
            let x = data(rows * cols, seed);
            let n = rows.div_ceil(8) * 8 * cols.div_ceil(8) * 8;
            let mut c = vec![0.0; n];
            forward_8x8_plane(&x, rows, cols, &mut c);
            let mut y = vec![0.0; rows * cols];
            inverse_8x8_plane(&c, rows, cols, &mut y);
            prop_assert!(rel_err(&x, &y) <= 1e-5);
        }
    }
}
