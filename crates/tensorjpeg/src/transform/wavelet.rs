//! The CDF 9/7 wavelet (JPEG 2000's irreversible transform, "bior4.4"), by lifting.
//!
//! One 1-D level splits `x` (length `n ≥ 2`) into `s[i] = x[2i]` (`⌈n/2⌉` values) and
//! `d[i] = x[2i+1]` (`⌊n/2⌋`), then (Daubechies & Sweldens, "Factoring wavelet transforms
//! into lifting steps", 1998; JPEG 2000 Part 1 Annex F):
//!
//! ```text
//! d[i] += α (s[i] + s[i+1])        α = −1.586134342
//! s[i] += β (d[i−1] + d[i])        β = −0.05298011854
//! d[i] += γ (s[i] + s[i+1])        γ =  0.8829110762
//! s[i] += δ (d[i−1] + d[i])        δ =  0.4435068522
//! s ×= K,  d ÷= K                  K =  1.149604398
//! ```
//!
//! With this scaling the analysis low-pass has DC gain √2 and the high-pass Nyquist gain √2,
//! so the transform is nearly orthonormal. Out-of-range neighbours use whole-sample
//! symmetric extension (`x[−1] = x[1]`, `x[n] = x[n−2]`), which the lifting form preserves:
//! `s[−1]`-side terms become `d[0]`, and a missing right neighbour is the left one. Any
//! length works (odd lengths give one more low-pass value); the inverse runs the steps
//! backwards with negated coefficients, so reconstruction is exact up to rounding.
//!
//! 2-D (Mallat): each level transforms the rows of the current LL region (if its width
//! ≥ 2), then its columns (if its height ≥ 2), storing low halves first; the next level
//! recurses on the new top-left LL. A plane with one row is thus transformed 1-D along the
//! row. At most [`MAX_LEVELS`] levels are applied, fewer when the region shrinks to 1×1.
//!
//! **Energy normalisation.** The 9/7 basis is not orthogonal, so each coefficient is
//! finally multiplied by the L2 norm of its synthesis basis function; a coefficient error
//! `e` then costs about `e` of signal error (exactly so for one coefficient). 2-D synthesis
//! functions are separable, so a norm is the product of the two 1-D norms: the low-pass
//! synthesis function after `j` levels, `‖φ_j‖` ([`SYNTH_NORM_LOW`]), or the high-pass one
//! of level `j`, `‖ψ_j‖` ([`SYNTH_NORM_HIGH`]). They were computed in f64 by inverting a
//! unit impulse placed away from the borders (the test `synthesis_norms_match_table`
//! re-derives them):
//!
//! | j | ‖φ_j‖ | ‖ψ_j‖ |
//! |---|---|---|
//! | 1 | 0.99144019 | 1.02001763 |
//! | 2 | 1.01518593 | 0.98347130 |
//! | 3 | 1.02571586 | 1.01962139 |
//! | 4 | 1.02882129 | 1.03688021 |
//! | 5 | 1.02963778 | 1.04203670 |
//! | 6..15 | → 1.02991438 | → 1.04385886 |
//!
//! Coefficient `(r, c)`: let `a` = level whose vertical high band holds row `r` (∞ if `r`
//! is in the final vertical low band), `b` likewise for column `c`, `ℓ = min(a, b)` (the
//! last level if both are ∞). Its scale is `f_v·f_h` with `f_v = ‖ψ_ℓ‖` if `a = ℓ`, else
//! `‖φ_min(ℓ, Lv)‖` (`Lv`: number of levels that transformed columns), and `f_h` alike.
//! Near the borders the true norms differ slightly (symmetric extension); the table values
//! are used everywhere, so the transform is "close to" energy-preserving there.

/// Lifting step 1 (predict), `α`.
pub const ALPHA: f64 = -1.586_134_342;
/// Lifting step 2 (update), `β`.
pub const BETA: f64 = -0.052_980_118_54;
/// Lifting step 3 (predict), `γ`.
pub const GAMMA: f64 = 0.882_911_076_2;
/// Lifting step 4 (update), `δ`.
pub const DELTA: f64 = 0.443_506_852_2;
/// Final scaling: low band `× K`, high band `÷ K`.
pub const K: f64 = 1.149_604_398;

// The f32 values the lifting uses. `1/K` is the high-band scale (multiplying by one
// constant everywhere keeps the row and column paths bit-identical).
const A32: f32 = ALPHA as f32;
const B32: f32 = BETA as f32;
const G32: f32 = GAMMA as f32;
const D32: f32 = DELTA as f32;
const K32: f32 = K as f32;
const INV_K: f32 = (1.0 / K) as f32;

/// Most decomposition levels applied (so that `1 + levels ≤ 16` bands).
pub const MAX_LEVELS: usize = 15;

/// `‖φ_j‖`, L2 norm of the 1-D low-pass synthesis function after `j` levels (`j = 0`: 1).
pub const SYNTH_NORM_LOW: [f64; MAX_LEVELS + 1] = [
    1.0,
    0.991_440_193_683_747_6,
    1.015_185_928_167_081_9,
    1.025_715_858_404_702_1,
    1.028_821_293_573_176_6,
    1.029_637_781_794_647_4,
    1.029_844_991_194_355_2,
    1.029_897_017_370_135_8,
    1.029_910_039_403_028,
    1.029_913_295_821_469,
    1.029_914_109_842_839_7,
    1.029_914_313_198_509,
    1.029_914_363_883_369,
    1.029_914_376_400_245_9,
    1.029_914_379_375_106_9,
    1.029_914_379_964_464_3,
];

/// `‖ψ_j‖`, L2 norm of the 1-D high-pass synthesis function of level `j` (index 0 unused).
pub const SYNTH_NORM_HIGH: [f64; MAX_LEVELS + 1] = [
    1.0,
    1.020_017_628_867_461_4,
    0.983_471_304_213_562_7,
    1.019_621_394_298_472_6,
    1.036_880_209_821_634_8,
    1.042_036_703_079_467_3,
    1.043_397_364_331_441_6,
    1.043_743_052_889_149,
    1.043_829_876_781_836_1,
    1.043_851_610_732_389_4,
    1.043_857_045_981_322_6,
    1.043_858_404_765_378,
    1.043_858_744_313_400_4,
    1.043_858_829_044_519_2,
    1.043_858_850_070_872_3,
    1.043_858_855_171_022_2,
];

/// The decomposition actually applied to a rows×cols plane.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    /// `(height, width)` of the LL region each level transforms.
    regions: Vec<(usize, usize)>,
    /// Levels that transformed columns (height ≥ 2) / rows (width ≥ 2); each is a prefix.
    lv: usize,
    lh: usize,
}

impl Plan {
    fn new(rows: usize, cols: usize, levels: usize) -> Plan {
        let mut p = Plan {
            regions: Vec::new(),
            lv: 0,
            lh: 0,
        };
        let (mut h, mut w) = (rows, cols);
        for _ in 0..levels.min(MAX_LEVELS) {
            if h < 2 && w < 2 {
                break;
            }
            p.regions.push((h, w));
            if h >= 2 {
                p.lv += 1;
                h = h.div_ceil(2);
            }
            if w >= 2 {
                p.lh += 1;
                w = w.div_ceil(2);
            }
        }
        p
    }

    fn total(&self) -> usize {
        self.regions.len()
    }

    /// Boundaries of one axis's bands: `len[j]` = low-band length after `j` levels on that
    /// axis, `len[0] = n`.
    fn axis_lens(n: usize, levels: usize) -> Vec<usize> {
        let mut v = vec![n];
        for _ in 0..levels {
            let last = *v.last().unwrap();
            v.push(last.div_ceil(2));
        }
        v
    }

    /// Runs `(start, end, level)` of one axis: the final low band has level `None`, the
    /// high band of level `j` spans `[len[j], len[j−1])`.
    fn runs(n: usize, levels: usize) -> Vec<(usize, usize, Option<usize>)> {
        let lens = Self::axis_lens(n, levels);
        let mut v = vec![(0, lens[levels], None)];
        for j in (1..=levels).rev() {
            v.push((lens[j], lens[j - 1], Some(j)));
        }
        v
    }

    /// `ℓ`, and the scale `f_v · f_h`, of coefficients whose row lies in band `a` and
    /// column in band `b` (`None` = final low band).
    fn level_and_scale(&self, a: Option<usize>, b: Option<usize>) -> (usize, f64) {
        let inf = usize::MAX;
        let (ai, bi) = (a.unwrap_or(inf), b.unwrap_or(inf));
        let l = ai.min(bi);
        let l = if l == inf { self.total() } else { l };
        let fv = if ai == l {
            SYNTH_NORM_HIGH[l]
        } else {
            SYNTH_NORM_LOW[l.min(self.lv)]
        };
        let fh = if bi == l {
            SYNTH_NORM_HIGH[l]
        } else {
            SYNTH_NORM_LOW[l.min(self.lh)]
        };
        (l, fv * fh)
    }
}

// ---------------------------------------------------------------------------------------
// 1-D lifting on separated even (s) / odd (d) halves.
// ---------------------------------------------------------------------------------------

/// `d[i] += a (s[i] + s[i+1])`, with `s[ns] := s[ns−1]` (symmetric extension).
#[inline]
fn predict(d: &mut [f32], s: &[f32], a: f32) {
    let (ns, nd) = (s.len(), d.len());
    let m = nd.min(ns - 1);
    for ((di, &s0), &s1) in d[..m].iter_mut().zip(&s[..m]).zip(&s[1..=m]) {
        *di += a * (s0 + s1);
    }
    if nd == ns {
        d[nd - 1] += 2.0 * a * s[ns - 1];
    }
}

/// `s[i] += b (d[i−1] + d[i])`, with `d[−1] := d[0]` and `d[nd] := d[nd−1]`.
#[inline]
fn update(s: &mut [f32], d: &[f32], b: f32) {
    let (ns, nd) = (s.len(), d.len());
    s[0] += 2.0 * b * d[0];
    for ((si, &d0), &d1) in s[1..nd].iter_mut().zip(&d[..nd - 1]).zip(&d[1..]) {
        *si += b * (d0 + d1);
    }
    if ns > nd {
        s[ns - 1] += 2.0 * b * d[nd - 1];
    }
}

/// Forward 1-D level of `row` (length ≥ 2) in place: `[s | d]` afterwards. `scratch.len() ≥
/// row.len()`.
fn fwd_1d(row: &mut [f32], scratch: &mut [f32]) {
    let n = row.len();
    let ns = n.div_ceil(2);
    let buf = &mut scratch[..n];
    {
        let (s, d) = buf.split_at_mut(ns);
        for (i, v) in s.iter_mut().enumerate() {
            *v = row[2 * i];
        }
        for (i, v) in d.iter_mut().enumerate() {
            *v = row[2 * i + 1];
        }
        predict(d, s, A32);
        update(s, d, B32);
        predict(d, s, G32);
        update(s, d, D32);
        scale(s, K32);
        scale(d, INV_K);
    }
    row.copy_from_slice(buf);
}

/// Inverse of [`fwd_1d`].
fn inv_1d(row: &mut [f32], scratch: &mut [f32]) {
    let n = row.len();
    let ns = n.div_ceil(2);
    let buf = &mut scratch[..n];
    buf.copy_from_slice(row);
    let (s, d) = buf.split_at_mut(ns);
    scale(s, INV_K);
    scale(d, K32);
    update(s, d, -D32);
    predict(d, s, -G32);
    update(s, d, -B32);
    predict(d, s, -A32);
    for (i, &v) in s.iter().enumerate() {
        row[2 * i] = v;
    }
    for (i, &v) in d.iter().enumerate() {
        row[2 * i + 1] = v;
    }
}

// ---------------------------------------------------------------------------------------
// Column lifting: the same steps with whole rows (width w) as the elements, vectorised
// across the row.
// ---------------------------------------------------------------------------------------

#[inline]
fn axpy2(dst: &mut [f32], a: f32, x: &[f32], y: &[f32]) {
    for ((o, &u), &v) in dst.iter_mut().zip(x).zip(y) {
        *o += a * (u + v);
    }
}

#[inline]
fn axpy1(dst: &mut [f32], a: f32, x: &[f32]) {
    for (o, &u) in dst.iter_mut().zip(x) {
        *o += a * u;
    }
}

fn predict_rows(d: &mut [f32], s: &[f32], w: usize, a: f32) {
    let (ns, nd) = (s.len() / w, d.len() / w);
    let m = nd.min(ns - 1);
    for (i, di) in d.chunks_exact_mut(w).take(m).enumerate() {
        axpy2(di, a, &s[i * w..(i + 1) * w], &s[(i + 1) * w..(i + 2) * w]);
    }
    if nd == ns {
        axpy1(&mut d[(nd - 1) * w..], 2.0 * a, &s[(ns - 1) * w..]);
    }
}

fn update_rows(s: &mut [f32], d: &[f32], w: usize, b: f32) {
    let (ns, nd) = (s.len() / w, d.len() / w);
    axpy1(&mut s[..w], 2.0 * b, &d[..w]);
    for (i, si) in s.chunks_exact_mut(w).enumerate().take(nd).skip(1) {
        axpy2(si, b, &d[(i - 1) * w..i * w], &d[i * w..(i + 1) * w]);
    }
    if ns > nd {
        axpy1(&mut s[(ns - 1) * w..], 2.0 * b, &d[(nd - 1) * w..nd * w]);
    }
}

fn scale(v: &mut [f32], f: f32) {
    v.iter_mut().for_each(|x| *x *= f);
}

/// Forward column transform of the `h × w` top-left region of `plane` (stride `cols`,
/// `h ≥ 2`); `tmp.len() ≥ h·w`.
fn fwd_cols(plane: &mut [f32], cols: usize, h: usize, w: usize, tmp: &mut [f32]) {
    let ns = h.div_ceil(2);
    let buf = &mut tmp[..h * w];
    for r in 0..h {
        let dst = if r % 2 == 0 { r / 2 } else { ns + r / 2 };
        buf[dst * w..(dst + 1) * w].copy_from_slice(&plane[r * cols..r * cols + w]);
    }
    {
        let (s, d) = buf.split_at_mut(ns * w);
        predict_rows(d, s, w, A32);
        update_rows(s, d, w, B32);
        predict_rows(d, s, w, G32);
        update_rows(s, d, w, D32);
        scale(s, K32);
        scale(d, INV_K);
    }
    for r in 0..h {
        plane[r * cols..r * cols + w].copy_from_slice(&buf[r * w..(r + 1) * w]);
    }
}

/// Inverse of [`fwd_cols`].
fn inv_cols(plane: &mut [f32], cols: usize, h: usize, w: usize, tmp: &mut [f32]) {
    let ns = h.div_ceil(2);
    let buf = &mut tmp[..h * w];
    for r in 0..h {
        buf[r * w..(r + 1) * w].copy_from_slice(&plane[r * cols..r * cols + w]);
    }
    {
        let (s, d) = buf.split_at_mut(ns * w);
        scale(s, INV_K);
        scale(d, K32);
        update_rows(s, d, w, -D32);
        predict_rows(d, s, w, -G32);
        update_rows(s, d, w, -B32);
        predict_rows(d, s, w, -A32);
    }
    for r in 0..h {
        let src = if r % 2 == 0 { r / 2 } else { ns + r / 2 };
        plane[r * cols..r * cols + w].copy_from_slice(&buf[src * w..(src + 1) * w]);
    }
}

/// Multiplies each coefficient by its subband's synthesis norm (`inverse`: divides).
fn apply_scales(out: &mut [f32], rows: usize, cols: usize, p: &Plan, inverse: bool) {
    if p.total() == 0 {
        return;
    }
    let rruns = Plan::runs(rows, p.lv);
    let cruns = Plan::runs(cols, p.lh);
    for &(r0, r1, a) in &rruns {
        let facs: Vec<(usize, usize, f32)> = cruns
            .iter()
            .map(|&(c0, c1, b)| {
                let f = p.level_and_scale(a, b).1;
                (c0, c1, if inverse { 1.0 / f } else { f } as f32)
            })
            .collect();
        for r in r0..r1 {
            let row = &mut out[r * cols..(r + 1) * cols];
            for &(c0, c1, f) in &facs {
                scale(&mut row[c0..c1], f);
            }
        }
    }
}

/// Forward 2-D CDF 9/7 transform of a rows×cols plane, `levels` levels (clamped to what
/// the size allows and to [`MAX_LEVELS`]), energy-normalised. `out.len() == rows·cols`.
pub fn forward(x: &[f32], rows: usize, cols: usize, levels: usize, out: &mut [f32]) {
    out.copy_from_slice(x);
    if rows == 0 || cols == 0 {
        return;
    }
    let p = Plan::new(rows, cols, levels);
    let mut scratch = vec![0.0f32; cols];
    let mut tmp = vec![0.0f32; if p.lv > 0 { rows * cols } else { 0 }];
    for &(h, w) in &p.regions {
        if w >= 2 {
            for row in out.chunks_exact_mut(cols).take(h) {
                fwd_1d(&mut row[..w], &mut scratch);
            }
        }
        if h >= 2 {
            fwd_cols(out, cols, h, w, &mut tmp);
        }
    }
    apply_scales(out, rows, cols, &p, false);
}

/// Inverse of [`forward`].
pub fn inverse(c: &[f32], rows: usize, cols: usize, levels: usize, out: &mut [f32]) {
    out.copy_from_slice(c);
    if rows == 0 || cols == 0 {
        return;
    }
    let p = Plan::new(rows, cols, levels);
    apply_scales(out, rows, cols, &p, true);
    let mut scratch = vec![0.0f32; cols];
    let mut tmp = vec![0.0f32; if p.lv > 0 { rows * cols } else { 0 }];
    for &(h, w) in p.regions.iter().rev() {
        if h >= 2 {
            inv_cols(out, cols, h, w, &mut tmp);
        }
        if w >= 2 {
            for row in out.chunks_exact_mut(cols).take(h) {
                inv_1d(&mut row[..w], &mut scratch);
            }
        }
    }
}

/// Levels actually applied to a rows×cols plane for a requested `levels`.
pub fn effective_levels(rows: usize, cols: usize, levels: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    Plan::new(rows, cols, levels).total()
}

/// Number of bands: `1 + effective_levels` (LL, then one per level's details).
pub fn num_bands(rows: usize, cols: usize, levels: usize) -> usize {
    1 + effective_levels(rows, cols, levels)
}

/// Band of each coefficient: `0` = final LL, `1 + L − ℓ` for details of level `ℓ`
/// (`1` = coarsest details, `L` = finest).
pub fn bands(rows: usize, cols: usize, levels: usize) -> Vec<u8> {
    let mut v = vec![0u8; rows * cols];
    if rows == 0 || cols == 0 {
        return v;
    }
    let p = Plan::new(rows, cols, levels);
    let total = p.total();
    for &(r0, r1, a) in &Plan::runs(rows, p.lv) {
        for &(c0, c1, b) in &Plan::runs(cols, p.lh) {
            let band = if a.is_none() && b.is_none() {
                0
            } else {
                (1 + total - p.level_and_scale(a, b).0) as u8
            };
            for r in r0..r1 {
                v[r * cols + c0..r * cols + c1].fill(band);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{data, energy, rel_err};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn synthesis_norms_match_table() {
        // Re-derive ‖φ_j‖, ‖ψ_j‖ (j ≤ 8) by inverting an impulse in a long 1-D signal.
        for j in 1..=8usize {
            let n = 64 << j;
            for high in [false, true] {
                let mut x = vec![0.0f32; n];
                let low_len = n >> j;
                x[if high {
                    low_len + low_len / 2
                } else {
                    low_len / 2
                }] = 1.0;
                for lev in (1..=j).rev() {
                    let len = n >> (lev - 1);
                    let mut s = vec![0.0; len];
                    inv_1d(&mut x[..len], &mut s);
                }
                let norm = energy(&x).sqrt();
                let want = if high {
                    SYNTH_NORM_HIGH[j]
                } else {
                    SYNTH_NORM_LOW[j]
                };
                assert!(
                    (norm - want).abs() < 2e-5,
                    "j={j} high={high}: {norm} vs {want}"
                );
            }
        }
    }

    #[test]
    fn lifting_has_expected_gains() {
        // Constant → low band √2·c, high band 0; alternating → the reverse.
        let mut x = vec![1.0f32; 32];
        let mut s = vec![0.0; 32];
        fwd_1d(&mut x, &mut s);
        assert!(
            x[..16].iter().all(|v| (v - 2f32.sqrt()).abs() < 1e-5),
            "{x:?}"
        );
        assert!(x[16..].iter().all(|v| v.abs() < 1e-5));
        let mut x: Vec<f32> = (0..32)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        fwd_1d(&mut x, &mut s);
        assert!(x[..16].iter().all(|v| v.abs() < 1e-5));
        assert!(
            x[16..].iter().all(|v| (v.abs() - 2f32.sqrt()).abs() < 1e-4),
            "{x:?}"
        );
    }

    #[test]
    fn near_energy_preserving_on_smooth_and_random_data() {
        let (rows, cols) = (64, 96);
        let x = data(rows * cols, 4);
        let mut c = vec![0.0; rows * cols];
        forward(&x, rows, cols, 4, &mut c);
        let r = energy(&c) / energy(&x);
        assert!((0.9..1.1).contains(&r), "{r}");
        // Single-coefficient errors map to unit signal errors in the interior.
        let mut y0 = vec![0.0; rows * cols];
        inverse(&c, rows, cols, 4, &mut y0);
        for &(i, j) in &[(20usize, 40usize), (40, 70), (6, 50), (50, 5)] {
            let mut c2 = c.clone();
            c2[i * cols + j] += 1.0;
            let mut y = vec![0.0; rows * cols];
            inverse(&c2, rows, cols, 4, &mut y);
            let d: f64 = y
                .iter()
                .zip(&y0)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((d - 1.0).abs() < 1e-3, "({i},{j}): {d}");
        }
    }

    #[test]
    fn one_row_is_1d() {
        let x = data(37, 8);
        let mut a = vec![0.0; 37];
        forward(&x, 1, 37, 3, &mut a);
        let mut b = vec![0.0; 37];
        forward(&x, 37, 1, 3, &mut b);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-6);
        }
        assert_eq!(bands(1, 37, 3), bands(37, 1, 3));
        let bd = bands(1, 37, 3);
        // lengths 37 → 19 → 10 → 5: LL 5, then level-3 details 5, level 2: 9, level 1: 18.
        assert_eq!(&bd[..5], &[0; 5]);
        assert_eq!(&bd[5..10], &[1; 5]);
        assert_eq!(&bd[10..19], &[2; 9]);
        assert_eq!(&bd[19..], &[3; 18]);
    }

    #[test]
    fn plan_and_bands_of_2d() {
        assert_eq!(effective_levels(1, 1, 5), 0);
        assert_eq!(effective_levels(2, 2, 5), 1);
        assert_eq!(effective_levels(1, 1 << 20, 255), MAX_LEVELS);
        assert_eq!(num_bands(8, 8, 2), 3);
        let b = bands(8, 8, 2);
        assert_eq!(b[0], 0); // LL2 is 2×2
        assert_eq!(b[9], 0);
        assert_eq!(b[2], 1); // HL2
        assert_eq!(b[2 * 8], 1); // LH2
        assert_eq!(b[4], 2); // HL1
        assert_eq!(b[63], 2); // HH1
                              // A 3×40 plane: columns stop after 2 levels, rows continue.
        let p = Plan::new(3, 40, 5);
        assert_eq!((p.lv, p.lh, p.total()), (2, 5, 5));
        let (l, f) = p.level_and_scale(None, None);
        assert_eq!(l, 5);
        assert!((f - SYNTH_NORM_LOW[2] * SYNTH_NORM_LOW[5]).abs() < 1e-12);
        let (l, f) = p.level_and_scale(None, Some(4));
        assert_eq!(l, 4);
        assert!((f - SYNTH_NORM_LOW[2] * SYNTH_NORM_HIGH[4]).abs() < 1e-12);
    }

    #[test]
    fn round_trip_odd_and_tiny_sizes() {
        for &(r, c) in &[
            (1, 2),
            (2, 1),
            (2, 2),
            (3, 3),
            (5, 2),
            (7, 13),
            (33, 17),
            (1, 1000),
        ] {
            for lv in [1usize, 2, 5, 15] {
                let x = data(r * c, (r * 100 + c) as u64);
                let mut co = vec![0.0; r * c];
                forward(&x, r, c, lv, &mut co);
                let mut y = vec![0.0; r * c];
                inverse(&co, r, c, lv, &mut y);
                assert!(rel_err(&x, &y) <= 1e-5, "{r}x{c} lv={lv}");
            }
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(rows in 0usize..40, cols in 0usize..40, lv in 0usize..16, seed in any::<u64>()) {
            let x = data(rows * cols, seed);
            let mut co = vec![0.0; rows * cols];
            forward(&x, rows, cols, lv, &mut co);
            let mut y = vec![0.0; rows * cols];
            inverse(&co, rows, cols, lv, &mut y);
            prop_assert!(rel_err(&x, &y) <= 1e-5);
            let b = bands(rows, cols, lv);
            let nb = num_bands(rows, cols, lv);
            prop_assert!(b.iter().all(|&v| (v as usize) < nb));
        }
    }
}
