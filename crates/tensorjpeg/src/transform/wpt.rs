//! N-dimensional wavelet packet transform (WPT): CDF 9/7 (`bior4.4`), periodic boundaries,
//! `J` levels on every sub-band. It is the analysis stage of the machine-oriented signal
//! codec of seed 002, which follows WaLLoC (`DWTForward(J=1, mode='periodization',
//! wave='bior4.4')` applied `J` times to every channel: the full packet tree).
//!
//! **Transform.** One level runs the CDF 9/7 lifting steps of [`super::wavelet`] along every
//! spatial axis, splitting it into a low and a high half; the next level does the same to
//! *every* band (the Mallat tree of [`super::wavelet`] recurses on the low band only).
//! 1-D, 2-D and 3-D signals, any channel count; channels are transformed independently.
//!
//! **Boundary.** Periodic ("periodization"): with `s[i] = x[2i]`, `d[i] = x[2i+1]`, `m = n/2`,
//!
//! ```text
//! d[i] += α (s[i] + s[(i+1) mod m])      s[i] += β (d[(i−1) mod m] + d[i])
//! d[i] += γ (s[i] + s[(i+1) mod m])      s[i] += δ (d[(i−1) mod m] + d[i])
//! s ×= K,  d ÷= K
//! ```
//!
//! so an even-length line gives `n/2 + n/2` coefficients and the inverse (the steps
//! backwards, negated) is exact up to rounding. Each level needs even lengths, so every
//! spatial length must be a multiple of `2^J`; [`reflect_pad`] / [`crop`] fit other sizes
//! with WaLLoC's centred whole-sample reflection.
//!
//! **Scaling.** Low band `× K`, high band `÷ K` (`K = 1.1496…`): DC gain √2 for the
//! analysis low-pass, Nyquist gain √2 for the high-pass — PyWavelets' `bior4.4` `dec_lo`
//! taps exactly, `dec_hi` up to sign (test `analysis_filters_are_bior4_4`; band signs and
//! phase may differ from pytorch_wavelets, no bit-compatibility is claimed). The pair is
//! biorthogonal, not orthogonal: one level along one axis scales a tone of frequency ω by
//! `P(ω) = (|H̃0(ω)|² + |H̃1(ω)|²)/2`, 1 at ω = 0 and π, within about [0.91, 1.10] between
//! (white noise: 1.0117), compounded over levels and axes. Measured ‖y‖²/‖x‖² (test
//! `energy_ratio_close_to_one`), low-frequency periodic data / white noise:
//!
//! | J | D = 1 | D = 2 | D = 3 |
//! |---|---|---|---|
//! | 1 | 1.000 / 1.009 | 0.999 / 1.024 | 0.989 / 1.036 |
//! | 2 | 1.000 / 1.025 | 0.998 / 1.049 | 0.954 / 1.073 |
//! | 3 | 1.000 / 1.040 | 0.993 / 1.075 | 0.882 / 1.112 |
//!
//! Constants keep their energy exactly; coefficient-domain MSE is not exactly signal MSE.
//!
//! **Layout.** Input: channel-major, row-major `f32` of shape `[C, n_1, …, n_D]`
//! (`D ∈ 1..=3`). Output: `[C·2^(J·D), n_1/2^J, …, n_D/2^J]`, channel-major. Each level maps
//! channel `c` to `c·2^D + f`, where bit `D−1−a` of `f` is set when spatial axis `a` (0 = the
//! first, slowest) took the high-pass branch: `f = 0` is the all-low band; in 2-D
//! `f = 2·(row axis high) + (column axis high)`: LL, LH (columns high), HL, HH. After `J`
//! levels the channel is `((c·2^D + f_1)·2^D + f_2)·…·2^D + f_J`, the finest level least
//! significant, as WaLLoC's `'b c f h w -> b (c f) h w'`. Note: pytorch_wavelets' `afb2d`
//! numbers the 2-D bands the other way round (its `f = 1` is high along the height axis), so
//! WaLLoC's bands `f = 1` and `f = 2` are swapped relative to ours.
//!
//! Implementation: per level, the non-last axes are lifted in place with whole inner rows as
//! vector elements, in polyphase (interleaved) order, strip by strip; then every contiguous
//! last-axis line is split, lifted, scaled by its band gain and written straight to its band
//! channel. [`forward_reference`] is a plain f64 version, for tests.

use super::wavelet::{ALPHA, BETA, DELTA, GAMMA, K};
use crate::error::{Error, Result};

const A32: f32 = ALPHA as f32;
const B32: f32 = BETA as f32;
const G32: f32 = GAMMA as f32;
const D32: f32 = DELTA as f32;

/// Most spatial dimensions supported.
pub const MAX_DIMS: usize = 3;

/// Columns lifted together along a non-last axis (keeps the working set in cache).
const STRIP: usize = 512;

/// `n` rounded up to a multiple of `2^levels` (the length [`reflect_pad`] pads to).
///
/// # Panics
/// If `2^levels` or the result overflows `usize`.
pub fn padded_len(n: usize, levels: usize) -> usize {
    assert!(levels < usize::BITS as usize, "wpt: 2^{levels} overflows");
    n.next_multiple_of(1 << levels)
}

fn prod(v: &[usize]) -> usize {
    v.iter().product()
}

/// Steps the row-major multi-index `idx` over `dims` (last fastest); wraps to zeros.
fn advance(idx: &mut [usize], dims: &[usize]) {
    for a in (0..dims.len()).rev() {
        idx[a] += 1;
        if idx[a] < dims[a] {
            return;
        }
        idx[a] = 0;
    }
}

/// `out[c, j_1, …, j_D] = x[c, maps[0][j_1], …, maps[D−1][j_D]]` (`x` of shape `shape`).
fn gather(x: &[f32], shape: &[usize], maps: &[Vec<usize>]) -> Vec<f32> {
    let d = maps.len();
    let mut strides = vec![1usize; d + 1];
    for a in (0..d).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    let mut outer = vec![shape[0]];
    outer.extend(maps[..d - 1].iter().map(Vec::len));
    let mut out = Vec::with_capacity(prod(&outer) * maps[d - 1].len());
    let mut idx = vec![0usize; d];
    for _ in 0..prod(&outer) {
        let off = idx[0] * strides[0]
            + (1..d)
                .map(|a| maps[a - 1][idx[a]] * strides[a])
                .sum::<usize>();
        out.extend(maps[d - 1].iter().map(|&j| x[off + j]));
        advance(&mut idx, &outer);
    }
    out
}

/// Pads every spatial axis of `x` (shape `[C, n_1, …, n_D]`, `D ≥ 1`) to
/// [`padded_len`]`(n, levels)`, centred as WaLLoC does (`left = (padded − n)/2`, the rest on
/// the right), by whole-sample reflection `… x2 x1 | x0 x1 … x(n−1) | x(n−2) …`, repeated
/// (period `2(n−1)`) when a pad exceeds `n − 1`; length 1 is repeated. Returns the padded
/// data and its shape.
///
/// # Panics
/// If `shape` has fewer than 2 entries, a size is 0, or `x.len()` is not its product.
pub fn reflect_pad(x: &[f32], shape: &[usize], levels: usize) -> (Vec<f32>, Vec<usize>) {
    assert!(
        shape.len() >= 2 && !shape.contains(&0),
        "wpt reflect_pad: shape {shape:?}"
    );
    assert_eq!(
        x.len(),
        prod(shape),
        "wpt reflect_pad: data length vs shape"
    );
    let mut ps = shape.to_vec();
    let maps: Vec<Vec<usize>> = (1..shape.len())
        .map(|a| {
            let (n, p) = (shape[a], padded_len(shape[a], levels));
            ps[a] = p;
            let (left, period) = (((p - n) / 2) as isize, 2 * (n as isize - 1));
            (0..p as isize)
                .map(|j| match (j - left).rem_euclid(period.max(1)) as usize {
                    r if r < n => r,
                    r => period as usize - r,
                })
                .collect()
        })
        .collect();
    (gather(x, shape, &maps), ps)
}

/// Inverse of [`reflect_pad`]: the centred `original_shape` window of `y` (shape
/// `padded_shape`).
///
/// # Panics
/// If the shapes differ in rank (or have fewer than 2 entries) or channels, a padded length
/// is smaller than the original, or `y.len()` is not the product of `padded_shape`.
pub fn crop(y: &[f32], padded_shape: &[usize], original_shape: &[usize]) -> Vec<f32> {
    let (ps, os) = (padded_shape, original_shape);
    let ok = ps.len() >= 2 && ps.len() == os.len() && ps[0] == os[0];
    assert!(
        ok && ps.iter().zip(os).all(|(p, o)| p >= o),
        "wpt crop: {ps:?} to {os:?}"
    );
    assert_eq!(y.len(), prod(ps), "wpt crop: data length vs padded shape");
    let maps: Vec<Vec<usize>> = (1..ps.len())
        .map(|a| ((ps[a] - os[a]) / 2..).take(os[a]).collect())
        .collect();
    gather(y, ps, &maps)
}

/// Checks a `[C, n_1, …, n_D]` shape (and, if given, that it holds `len` values).
fn check_shape(shape: &[usize], len: Option<usize>) -> Result<()> {
    let s = format!("{shape:?}");
    if !(2..=MAX_DIMS + 1).contains(&shape.len()) {
        let want = "[C, n_1, …, n_D] with D = 1..=3 spatial dimensions (2..=4 entries)";
        return Err(Error::param("wpt shape", s, want));
    }
    if shape.contains(&0) {
        return Err(Error::param(
            "wpt shape",
            s,
            "all sizes ≥ 1 (no zero sizes)",
        ));
    }
    let Some(total) = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b)) else {
        return Err(Error::param("wpt shape", s, "a product that fits in usize"));
    };
    match len {
        Some(len) if len != total => Err(Error::param(
            "wpt data length",
            len,
            format!("{total}, the product of shape {s}"),
        )),
        _ => Ok(()),
    }
}

/// The coefficient shape `[C·2^(J·D), n_1/2^J, …, n_D/2^J]` of a signal of shape `shape`,
/// or the error [`forward`] gives for it.
pub fn coef_shape(shape: &[usize], levels: usize) -> Result<Vec<usize>> {
    check_shape(shape, None)?;
    let dims = &shape[1..];
    if levels == 0 {
        return Err(Error::param("wpt levels", 0, "at least 1"));
    }
    let (a, &nmin) = dims.iter().enumerate().min_by_key(|p| p.1).expect("D ≥ 1");
    let max = nmin.ilog2() as usize;
    if levels > max {
        return Err(Error::param(
            "wpt levels",
            levels,
            format!(
                "at most {max}: the signal is smaller than 2^J = 2^{levels} along spatial \
                 axis {a} (length {nmin}); each level needs even lengths ≥ 2"
            ),
        ));
    }
    let m = 1usize << levels;
    if let Some((a, n)) = dims.iter().enumerate().find(|p| p.1 % m != 0) {
        return Err(Error::param(
            "wpt spatial length",
            format!("{n} on spatial axis {a}"),
            format!("a multiple of 2^J = {m} for J = {levels}; use reflect_pad to pad it"),
        ));
    }
    let mut out = vec![shape[0] << (levels * dims.len())];
    out.extend(dims.iter().map(|&n| n >> levels));
    Ok(out)
}

/// `d[i] += a (s[i] + s[(i+1) mod m])` on separated halves (`m ≥ 1`).
#[inline]
fn predict(d: &mut [f32], s: &[f32], a: f32) {
    let m = s.len();
    for ((di, &s0), &s1) in d[..m - 1].iter_mut().zip(&s[..m - 1]).zip(&s[1..]) {
        *di += a * (s0 + s1);
    }
    d[m - 1] += a * (s[m - 1] + s[0]);
}

/// `s[i] += b (d[(i−1) mod m] + d[i])` on separated halves (`m ≥ 1`).
#[inline]
fn update(s: &mut [f32], d: &[f32], b: f32) {
    let m = d.len();
    s[0] += b * (d[m - 1] + d[0]);
    for ((si, &d0), &d1) in s[1..].iter_mut().zip(&d[..m - 1]).zip(&d[1..]) {
        *si += b * (d0 + d1);
    }
}

/// One lifting step along a non-last axis, in place: `blk` holds `n` interleaved rows of
/// stride `w` (even = s, odd = d); every row `t ≡ parity (mod 2)` gets, in columns
/// `c0..c1`, `coef · (row t−1 + row t+1)`, indices mod `n`.
fn lift_rows(
    blk: &mut [f32],
    n: usize,
    w: usize,
    (c0, c1): (usize, usize),
    parity: usize,
    coef: f32,
) {
    for t in (parity..n).step_by(2) {
        let (prev, next) = (if t == 0 { n - 1 } else { t - 1 }, (t + 1) % n);
        let (lo, hi) = blk.split_at_mut(t * w);
        let (dst, rest) = hi.split_at_mut(w);
        let row = |k: usize| match k < t {
            true => &lo[k * w + c0..k * w + c1],
            false => &rest[(k - t - 1) * w + c0..(k - t - 1) * w + c1],
        };
        for ((o, &u), &v) in dst[c0..c1].iter_mut().zip(row(prev)).zip(row(next)) {
            *o += coef * (u + v);
        }
    }
}

/// Lifts axis `a` (`< D − 1`) of `buf` (shape `[ch, dims…]`) in place, unscaled.
fn lift_axis(buf: &mut [f32], dims: &[usize], a: usize, inverse: bool) {
    let (n, w) = (dims[a], prod(&dims[a + 1..]));
    let steps = [(1, A32), (0, B32), (1, G32), (0, D32)];
    for blk in buf.chunks_exact_mut(n * w) {
        for c0 in (0..w).step_by(STRIP) {
            let cols = (c0, (c0 + STRIP).min(w));
            if inverse {
                for &(p, c) in steps.iter().rev() {
                    lift_rows(blk, n, w, cols, p, -c);
                }
            } else {
                for &(p, c) in &steps {
                    lift_rows(blk, n, w, cols, p, c);
                }
            }
        }
    }
}

/// Gain of band `f` (bit set = high along that axis): `K` per low axis, `1/K` per high one.
fn band_gains(d: usize) -> Vec<f32> {
    (0..1usize << d)
        .map(|f| K.powi(d as i32 - 2 * f.count_ones() as i32) as f32)
        .collect()
}

/// Calls `f(line, low, high, f)` for every last-axis line of a level's input
/// `[ch, dims…]`, with `low`/`high` the offsets of its two output lines in
/// `[ch·2^D, dims/2…]` and `f` the band of the low one.
fn for_each_line(ch: usize, dims: &[usize], mut f: impl FnMut(usize, usize, usize, usize)) {
    let d = dims.len();
    let band_len = prod(dims) >> d;
    let mut outer = vec![ch];
    outer.extend_from_slice(&dims[..d - 1]);
    let mut idx = vec![0usize; d];
    for line in 0..prod(&outer) {
        let (mut band, mut pos) = (0usize, 0usize);
        for a in 0..d - 1 {
            band |= (idx[a + 1] & 1) << (d - 1 - a);
            pos = pos * (dims[a] / 2) + idx[a + 1] / 2;
        }
        let low = ((idx[0] << d) + band) * band_len + pos * (dims[d - 1] / 2);
        f(line, low, low + band_len, band);
        advance(&mut idx, &outer);
    }
}

/// One forward level: `buf` (`[ch, dims…]`, destroyed) → `out` (`[ch·2^D, dims/2…]`).
fn forward_level(buf: &mut [f32], out: &mut [f32], ch: usize, dims: &[usize]) {
    let d = dims.len();
    for a in 0..d - 1 {
        lift_axis(buf, dims, a, false);
    }
    let (n, m, g) = (dims[d - 1], dims[d - 1] / 2, band_gains(d));
    let (mut s, mut dd) = (vec![0f32; m], vec![0f32; m]);
    for_each_line(ch, dims, |line, lo, hi, f| {
        for ((p, sv), dv) in buf[line * n..(line + 1) * n]
            .chunks_exact(2)
            .zip(&mut s)
            .zip(&mut dd)
        {
            (*sv, *dv) = (p[0], p[1]);
        }
        predict(&mut dd, &s, A32);
        update(&mut s, &dd, B32);
        predict(&mut dd, &s, G32);
        update(&mut s, &dd, D32);
        for (o, &v) in out[lo..lo + m].iter_mut().zip(&s) {
            *o = v * g[f];
        }
        for (o, &v) in out[hi..hi + m].iter_mut().zip(&dd) {
            *o = v * g[f | 1];
        }
    });
}

/// Inverse of [`forward_level`]: `inp` (`[ch·2^D, dims/2…]`) → `out` (`[ch, dims…]`).
fn inverse_level(inp: &[f32], out: &mut [f32], ch: usize, dims: &[usize]) {
    let d = dims.len();
    let (n, m) = (dims[d - 1], dims[d - 1] / 2);
    let g: Vec<f32> = band_gains(d).iter().map(|g| 1.0 / g).collect();
    let (mut s, mut dd) = (vec![0f32; m], vec![0f32; m]);
    for_each_line(ch, dims, |line, lo, hi, f| {
        for (sv, &v) in s.iter_mut().zip(&inp[lo..lo + m]) {
            *sv = v * g[f];
        }
        for (dv, &v) in dd.iter_mut().zip(&inp[hi..hi + m]) {
            *dv = v * g[f | 1];
        }
        update(&mut s, &dd, -D32);
        predict(&mut dd, &s, -G32);
        update(&mut s, &dd, -B32);
        predict(&mut dd, &s, -A32);
        for ((p, &sv), &dv) in out[line * n..(line + 1) * n]
            .chunks_exact_mut(2)
            .zip(&s)
            .zip(&dd)
        {
            (p[0], p[1]) = (sv, dv);
        }
    });
    for a in (0..d - 1).rev() {
        lift_axis(out, dims, a, true);
    }
}

/// Forward WPT of `x` (shape `[C, n_1, …, n_D]`, `D ∈ 1..=3`, every `n_a` a multiple of
/// `2^levels`, `levels ≥ 1`): the coefficients and their shape
/// `[C·2^(J·D), n_1/2^J, …, n_D/2^J]` (see the module docs for the channel order).
pub fn forward(x: &[f32], shape: &[usize], levels: usize) -> Result<(Vec<f32>, Vec<usize>)> {
    check_shape(shape, Some(x.len()))?;
    let out_shape = coef_shape(shape, levels)?;
    let (dims, d) = (&shape[1..], shape.len() - 1);
    let p = prod(dims);
    let mut out = vec![0f32; x.len()];
    let (mut cur, mut next) = (vec![0f32; p], vec![0f32; p]);
    for (xc, oc) in x.chunks_exact(p).zip(out.chunks_exact_mut(p)) {
        cur.copy_from_slice(xc);
        for l in 0..levels {
            let dl: Vec<usize> = dims.iter().map(|&n| n >> l).collect();
            forward_level(&mut cur, &mut next, 1 << (l * d), &dl);
            std::mem::swap(&mut cur, &mut next);
        }
        oc.copy_from_slice(&cur);
    }
    Ok((out, out_shape))
}

/// Inverse of [`forward`]: `y` of coefficient shape `[C·2^(J·D), h_1, …, h_D]` back to the
/// signal and its shape `[C, h_1·2^J, …, h_D·2^J]`.
pub fn inverse(y: &[f32], coef_shape: &[usize], levels: usize) -> Result<(Vec<f32>, Vec<usize>)> {
    check_shape(coef_shape, Some(y.len()))?;
    let (half, d, cc) = (&coef_shape[1..], coef_shape.len() - 1, coef_shape[0]);
    if levels == 0 {
        return Err(Error::param("wpt levels", 0, "at least 1"));
    }
    let bands = (levels.checked_mul(d).and_then(|b| u32::try_from(b).ok()))
        .and_then(|b| 1usize.checked_shl(b))
        .filter(|&b| b <= cc && cc % b == 0);
    let Some(bands) = bands else {
        let want = format!(
            "a multiple of 2^(J·D) = 2^{} (J = {levels}, D = {d})",
            levels * d
        );
        return Err(Error::param("wpt coefficient channels", cc, want));
    };
    let p = y.len() / (cc / bands);
    let mut out = vec![0f32; y.len()];
    let (mut cur, mut next) = (vec![0f32; p], vec![0f32; p]);
    for (yc, oc) in y.chunks_exact(p).zip(out.chunks_exact_mut(p)) {
        cur.copy_from_slice(yc);
        for l in (0..levels).rev() {
            let dl: Vec<usize> = half.iter().map(|&h| h << (levels - l)).collect();
            inverse_level(&cur, &mut next, 1 << (l * d), &dl);
            std::mem::swap(&mut cur, &mut next);
        }
        oc.copy_from_slice(&cur);
    }
    let mut shape = vec![cc / bands];
    shape.extend(half.iter().map(|&h| h << levels));
    Ok((out, shape))
}

/// Slow, obviously-correct version of [`forward`] (f64; one 1-D line at a time with explicit
/// modulo indexing, then a separate gather to the band channels), for cross-checks.
pub fn forward_reference(
    x: &[f32],
    shape: &[usize],
    levels: usize,
) -> Result<(Vec<f32>, Vec<usize>)> {
    check_shape(shape, Some(x.len()))?;
    let out_shape = coef_shape(shape, levels)?;
    let (mut ch, mut dims, d) = (shape[0], shape[1..].to_vec(), shape.len() - 1);
    let mut cur: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for _ in 0..levels {
        let p = prod(&dims);
        let mut strides = vec![1usize; d];
        for a in (0..d - 1).rev() {
            strides[a] = strides[a + 1] * dims[a + 1];
        }
        // Every line along every axis becomes [K·s | d/K].
        for blk in cur.chunks_exact_mut(p) {
            for a in 0..d {
                let (n, st) = (dims[a], strides[a]);
                let m = n / 2;
                for k in (0..p).filter(|k| (k / st) % n == 0) {
                    let mut s: Vec<f64> = (0..m).map(|i| blk[k + 2 * i * st]).collect();
                    let mut e: Vec<f64> = (0..m).map(|i| blk[k + (2 * i + 1) * st]).collect();
                    for (pc, uc) in [(ALPHA, BETA), (GAMMA, DELTA)] {
                        for i in 0..m {
                            e[i] += pc * (s[i] + s[(i + 1) % m]);
                        }
                        for i in 0..m {
                            s[i] += uc * (e[(i + m - 1) % m] + e[i]);
                        }
                    }
                    for i in 0..m {
                        blk[k + i * st] = s[i] * K;
                        blk[k + (m + i) * st] = e[i] / K;
                    }
                }
            }
        }
        // Band f (bit D−1−a: the high half of axis a) of channel c → channel c·2^D + f.
        let half: Vec<usize> = dims.iter().map(|n| n / 2).collect();
        let mut next = Vec::with_capacity(cur.len());
        for c in 0..ch {
            for f in 0..1usize << d {
                let mut j = vec![0usize; d];
                for _ in 0..prod(&half) {
                    let src: usize = (0..d)
                        .map(|a| (j[a] + ((f >> (d - 1 - a)) & 1) * half[a]) * strides[a])
                        .sum();
                    next.push(cur[c * p + src]);
                    advance(&mut j, &half);
                }
            }
        }
        (cur, ch, dims) = (next, ch << d, half);
    }
    Ok((cur.iter().map(|&v| v as f32).collect(), out_shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rng::uniform_values as noise;

    /// Low-frequency periodic random data: four random cosines with 0 or 1 cycle per axis,
    /// amplitudes growing with the channel, plus 1 % white noise.
    fn smooth(shape: &[usize], seed: u64) -> Vec<f32> {
        let (r, e) = (noise(32, seed), noise(prod(shape), seed ^ 7));
        let mut idx = vec![0usize; shape.len()];
        (0..prod(shape))
            .map(|k| {
                let mut v = 0.0f64;
                for t in 0..4 {
                    let mut ph = r[8 * t] as f64 * 3.0;
                    for (a, &n) in shape[1..].iter().enumerate() {
                        let cycles = (r[8 * t + 1 + a] > 0.0) as usize as f64;
                        ph += std::f64::consts::TAU * cycles * idx[a + 1] as f64 / n as f64;
                    }
                    v += (r[8 * t + 5] as f64 + (idx[0] + 1) as f64) * ph.cos();
                }
                advance(&mut idx, shape);
                v as f32 + 0.01 * e[k]
            })
            .collect()
    }

    fn energy(v: &[f32]) -> f64 {
        v.iter().map(|&a| a as f64 * a as f64).sum()
    }

    /// max |a − b| / max |b|.
    fn rel_diff(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let m = b.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
        a.iter()
            .zip(b)
            .fold(0.0f64, |e, (&x, &y)| e.max((x as f64 - y as f64).abs()))
            / m
    }

    /// Shapes `[C, dims…]` for D = 1..=3, C ∈ {1, 3}, multiples of 2^levels, non-square.
    fn shapes(levels: usize) -> Vec<Vec<usize>> {
        let m = 1usize << levels;
        let per_c = |c| {
            [
                vec![c, 5 * m],
                vec![c, 3 * m, 2 * m],
                vec![c, m, m],
                vec![c, 2 * m, m, 3 * m],
            ]
        };
        per_c(1).into_iter().chain(per_c(3)).collect()
    }

    #[test]
    fn perfect_reconstruction() {
        let mut cases: Vec<_> = (1..=3)
            .flat_map(|j| shapes(j).into_iter().map(move |s| (s, j)))
            .collect();
        cases.extend([(vec![1, 48], 4), (vec![3, 16 * 7], 4)]);
        for (i, (shape, j)) in cases.into_iter().enumerate() {
            let x = noise(prod(&shape), i as u64);
            let (y, ys) = forward(&x, &shape, j).unwrap();
            assert_eq!(ys, coef_shape(&shape, j).unwrap());
            assert_eq!(ys[0], shape[0] << (j * (shape.len() - 1)));
            assert_eq!(prod(&ys), x.len());
            let (back, bs) = inverse(&y, &ys, j).unwrap();
            assert_eq!(bs, shape);
            let e = rel_diff(&back, &x);
            assert!(e < 1e-4, "{shape:?} J={j}: rel err {e}");
        }
    }

    #[test]
    fn pad_forward_inverse_crop_round_trip() {
        let cases = [
            (vec![3, 37, 50], 3),
            (vec![1, 1001], 4),
            (vec![2, 9, 10, 11], 2),
            (vec![1, 3, 1], 3),
        ];
        for (shape, j) in cases {
            let x = noise(prod(&shape), 11);
            let (p, ps) = reflect_pad(&x, &shape, j);
            assert!(ps[1..]
                .iter()
                .zip(&shape[1..])
                .all(|(&p, &n)| p % (1 << j) == 0 && p >= n));
            let (y, ys) = forward(&p, &ps, j).unwrap();
            let (back, bs) = inverse(&y, &ys, j).unwrap();
            assert_eq!(bs, ps);
            assert!(rel_diff(&crop(&back, &ps, &shape), &x) < 1e-4, "{shape:?}");
            assert_eq!(crop(&p, &ps, &shape), x);
        }
    }

    #[test]
    fn reflect_pad_whole_sample_and_centred() {
        assert_eq!(
            (padded_len(37, 3), padded_len(40, 3), padded_len(1, 4)),
            (40, 40, 16)
        );
        let (p, ps) = reflect_pad(&[0.0, 1.0, 2.0, 3.0, 4.0], &[1, 5], 3); // left 1, right 2
        assert_eq!(
            (p, ps),
            (vec![1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0], vec![1, 8])
        );
        // Pads beyond n − 1 reflect repeatedly (period 2(n − 1)); length 1 repeats.
        let (p, _) = reflect_pad(&[5.0, 6.0], &[1, 2], 3); // left 3, right 3
        assert_eq!(p, [6.0, 5.0, 6.0, 5.0, 6.0, 5.0, 6.0, 5.0]);
        assert_eq!(reflect_pad(&[7.0], &[1, 1], 2).0, [7.0; 4]);
        // N-D: each spatial axis on its own, channel-major.
        let x: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let (p, ps) = reflect_pad(&x, &[2, 1, 3], 1);
        assert_eq!(ps, [2, 2, 4]);
        assert_eq!(
            p,
            [0., 1., 2., 1., 0., 1., 2., 1., 3., 4., 5., 4., 3., 4., 5., 4.]
        );
        assert_eq!(crop(&p, &ps, &[2, 1, 3]), x);
    }

    #[test]
    fn channel_order_constant_and_nyquist() {
        for j in 1..=3 {
            for shape in shapes(j) {
                let (p, n, d) = (prod(&shape[1..]), shape[shape.len() - 1], shape.len() - 1);
                // A constant per channel: all energy in channel c·2^(J·D).
                let x: Vec<f32> = (0..prod(&shape)).map(|k| 1.5 + (k / p) as f32).collect();
                let (y, ys) = forward(&x, &shape, j).unwrap();
                let per = ys[0] / shape[0];
                for (ch, band) in y.chunks_exact(p / per).enumerate() {
                    let (e, c) = (energy(band), ch / per);
                    let want = if ch % per == 0 {
                        energy(&x[c * p..(c + 1) * p])
                    } else {
                        0.0
                    };
                    assert!(
                        (e - want).abs() < 1e-5 * want.max(1.0),
                        "{shape:?} J={j} ch {ch}"
                    );
                }
                // Nyquist along the last axis: all energy where bit 0 of f_1 (the last axis's
                // bit at level 1) is set, i.e. bit D·(J − 1) of the channel.
                let x: Vec<f32> = (0..prod(&shape)).map(|k| [1.0, -1.0][k % n % 2]).collect();
                let (y, _) = forward(&x, &shape, j).unwrap();
                for (ch, band) in y.chunks_exact(p / per).enumerate() {
                    let high = (ch >> (d * (j - 1))) & 1 == 1;
                    let e = energy(band);
                    assert!(
                        high || e < 1e-8 * energy(&x),
                        "{shape:?} J={j} ch {ch}: {e}"
                    );
                }
                let ratio = energy(&y) / energy(&x);
                assert!((ratio - 1.0).abs() < 1e-5, "{shape:?} J={j}: {ratio}");
            }
        }
    }

    #[test]
    fn energy_ratio_close_to_one() {
        // White-noise gain per level and axis, (‖h̃0‖² + ‖h̃1‖²)/2 = (1.04044 + 0.98295)/2.
        const RHO: f64 = 1.011_695;
        for j in 1..=3 {
            for (d, dims) in [(1, vec![4096]), (2, vec![256, 192]), (3, vec![64, 64, 48])] {
                let jd = (j * d) as i32;
                let shape: Vec<usize> = [2].into_iter().chain(dims).collect();
                let ratio = |x: &[f32]| energy(&forward(x, &shape, j).unwrap().0) / energy(x);
                let (rs, rn) = (
                    ratio(&smooth(&shape, j as u64)),
                    ratio(&noise(prod(&shape), 3)),
                );
                eprintln!("energy ratio D={d} J={j}: smooth {rs:.4}, white noise {rn:.4}");
                // Within 5 % where the filters allow it (see the module docs), else bounded.
                assert!(
                    (rs - 1.0).abs() < 0.05 || (jd > 4 && rs > 0.9f64.powi(jd)),
                    "{d} {j}: {rs}"
                );
                assert!((rn - 1.0).abs() < 0.05 || jd > 3, "D={d} J={j}: noise {rn}");
                assert!(
                    (rn / RHO.powi(jd) - 1.0).abs() < 0.03,
                    "D={d} J={j}: noise {rn}"
                );
            }
        }
    }

    #[test]
    fn fast_path_matches_reference() {
        for j in 1..=3 {
            for (i, shape) in shapes(j).into_iter().enumerate() {
                let x = noise(prod(&shape), 100 + i as u64);
                let (a, sa) = forward(&x, &shape, j).unwrap();
                let (b, sb) = forward_reference(&x, &shape, j).unwrap();
                assert_eq!(sa, sb);
                let e = rel_diff(&a, &b);
                assert!(e < 1e-5, "{shape:?} J={j}: rel diff {e}");
            }
        }
    }

    #[test]
    fn analysis_filters_are_bior4_4() {
        // Coefficient 8 of each band as a function of the impulse position = the filter taps.
        let n = 32;
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        for p in 0..n {
            let x: Vec<f32> = (0..n).map(|k| (k == p) as u8 as f32).collect();
            let (y, _) = forward(&x, &[1, n], 1).unwrap();
            lo.push(y[8] as f64);
            hi.push(y[n / 2 + 8].abs() as f64);
        }
        // PyWavelets bior4.4 dec_lo (centre last) and |dec_hi|, symmetric.
        let dec_lo = [
            0.0378284555,
            -0.0238494650,
            -0.1106244044,
            0.3774028556,
            0.8526986790,
        ];
        let dec_hi = [0.0645388826, 0.0406894176, 0.4180922732, 0.7884856164];
        for (k, &t) in dec_lo.iter().enumerate() {
            assert!(
                (lo[12 + k] - t).abs() < 1e-6 && (lo[20 - k] - t).abs() < 1e-6,
                "{lo:?}"
            );
        }
        for (k, &t) in dec_hi.iter().enumerate() {
            assert!(
                (hi[14 + k] - t).abs() < 1e-6 && (hi[20 - k] - t).abs() < 1e-6,
                "{hi:?}"
            );
        }
        let nz = |v: &[f64]| v.iter().filter(|a| a.abs() > 1e-7).count();
        assert_eq!((nz(&lo), nz(&hi)), (9, 7));
    }

    #[test]
    fn errors_are_reported() {
        let x = vec![0f32; 64];
        let y = vec![0f32; 120];
        type R = Result<(Vec<f32>, Vec<usize>)>;
        let cases: Vec<(R, &[&str])> = vec![
            (forward(&x, &[64], 1), &["shape", "D = 1..=3"]),
            (forward(&x, &[1, 2, 2, 2, 8], 1), &["D = 1..=3"]),
            (forward(&[], &[1, 0], 1), &["zero"]),
            (forward(&x, &[1, 8, 4], 1), &["data length", "product"]),
            (
                forward(&x, &[1, 4, 16], 3),
                &["smaller than 2^J", "axis 0", "length 4"],
            ),
            (forward(&x, &[1, 64], 100), &["smaller than 2^J"]),
            (forward(&x, &[1, 64], 0), &["levels", "at least 1"]),
            (
                forward(&y, &[1, 12, 10], 2),
                &["10 on spatial axis 1", "a multiple of 2^J", "reflect_pad"],
            ),
            (forward_reference(&y, &[1, 12, 10], 2), &["reflect_pad"]),
            (inverse(&x, &[2, 32], 2), &["multiple of 2^(J·D)"]),
            (inverse(&x, &[4, 16], 1 << 40), &["multiple of 2^(J·D)"]),
            (inverse(&x, &[4, 16], 0), &["at least 1"]),
            (inverse(&x, &[4, 8], 2), &["data length"]),
            (inverse(&x, &[64], 1), &["D = 1..=3"]),
        ];
        for (i, (r, words)) in cases.into_iter().enumerate() {
            let e = r.expect_err("expected an error").to_string();
            assert!(words.iter().all(|w| e.contains(w)), "case {i}: {e}");
        }
        assert!(coef_shape(&[1, usize::MAX, 4], 1).is_err());
        // Non-finite values pass through without an error.
        let z: Vec<f32> = (0..16)
            .map(|k| if k == 3 { f32::NAN } else { 0.0 })
            .collect();
        assert!(forward(&z, &[1, 16], 2).is_ok());
    }
}
