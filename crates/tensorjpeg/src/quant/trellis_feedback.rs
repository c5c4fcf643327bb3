//! Trellis-coded quantization with error feedback: the Viterbi search of [`super::trellis`]
//! run along each row of a linear layer's weight, every survivor path carrying its own
//! GPTQ working row ([`super::feedback`]).
//!
//! GPTQ's objective for one row is exactly `Σⱼ (w′ⱼ − ŵⱼ)² / Uⱼⱼ²` (plus nothing), where
//! `w′` is the working row: the weights moved by the errors of the columns already
//! quantized, `w′ₖ −= eⱼ·Uⱼₖ` with `eⱼ = (w′ⱼ − ŵⱼ)/Uⱼⱼ`. The working row depends on the
//! path, so the trellis keeps one per state (per-survivor processing): at column `j` each
//! state's survivor offers levels for *its own* target `w′ⱼ`, the Viterbi step keeps the
//! cheapest path into each state (distortion `Σ (w′ⱼ − ŵⱼ)²/Uⱼⱼ²` plus `λ·bits`), and the
//! survivor's error moves only its own copy of the remaining columns. With `U = I` this is
//! the plain trellis search (reconstruction offset included); with one state it would be
//! GPTQ. Keeping one survivor per state is a heuristic (the cost to go depends on the path,
//! not only on the state), as GPTQ's greedy order is.
//!
//! Every row starts and ends in state 0, so rows are independent (they run in parallel) and
//! the decoder's walk through a chunk's rows ([`super::trellis::merge`]) is unchanged. The
//! output values lie on the scalar grid of step Δ with the quantizer's reconstruction
//! offset, so the scalar rounding of [`super::Quantizer::quantize_ref`] recovers the levels.

use rayon::prelude::*;

use super::trellis::{floor_i32, RateModel, Trellis};
use super::Quantizer;

/// Columns per lazy update of the survivors' working rows ([`quantize_row`]).
const BLOCK: usize = 32;

/// The reconstruction (in units of Δ) of level `l` with offset `recon`.
#[inline]
fn recon_of(l: i32, recon: f32) -> f32 {
    Quantizer {
        step: 1.0,
        deadzone: 0.0,
        recon,
    }
    .dequantize_one(l)
}

/// The best level for an even and for an odd index under quantizer `q` for target `x`
/// (units of Δ): `[(level, cost); 2]`, cost = `wt·(x − r(level))² + λ·bits`; the candidates
/// are the two nearest levels of `q`'s grid and zero, as in [`super::trellis::quantize`].
#[inline]
fn options(
    q: usize,
    x: f32,
    wt: f32,
    recon: f32,
    price: &impl Fn(usize, i32) -> f32,
) -> [(i32, f32); 2] {
    let d = |l: i32| {
        let e = x - recon_of(l, recon);
        wt * e * e
    };
    let mut best = [(0i32, f32::INFINITY); 2];
    let mut offer = |l: i32, k: i32| {
        let c = d(l) + price(q, k);
        let slot = &mut best[(k & 1) as usize];
        if c < slot.1 {
            *slot = (l, c);
        }
    };
    if q == 0 {
        let k0 = floor_i32(x * 0.5);
        offer(2 * k0, k0);
        offer(2 * k0 + 2, k0 + 1);
    } else {
        let l1 = 2 * floor_i32((x - 1.0) * 0.5) + 1;
        for l in [l1, l1 + 2] {
            offer(l, (l + l.signum()) / 2);
        }
    }
    offer(0, 0);
    best
}

/// Quantizes one row (`row.len()` = `cols` columns, in units of the tensor's values) onto
/// the trellis `tr` of step `quant.step`, with error feedback through `u` (`cols × cols`,
/// [`super::feedback::Gram::inverse_factor`]) and column weights `wt` (`1/Uⱼⱼ²` relative to
/// their mean); `row` receives the reconstructions and `levels` the levels. Starts in
/// state 0 and, with `end_at_zero`, ends there.
#[allow(clippy::too_many_arguments)]
pub fn quantize_row(
    tr: Trellis,
    row: &mut [f32],
    u: &[f32],
    wt: &[f32],
    quant: &Quantizer,
    lambda: f32,
    model: &RateModel,
    end_at_zero: bool,
    levels: &mut [i32],
) {
    let cols = row.len();
    if cols == 0 {
        return;
    }
    let (pred, qs) = tr.tables();
    let ns = tr.states();
    let step = quant.step;
    let inv = 1.0 / step;
    let lim = (super::MAX_INDEX as f32) / 4.0;
    let price = |q: usize, k: i32| lambda * model.cost(q, k);
    // The survivors' working rows are updated lazily, a block of `BLOCK` columns at a
    // time (GPTQ's own trick): `base[b]` is a working row as of the block's first column,
    // and each state's path inside the block is `orig[s]` (the base row it started from)
    // plus its errors `errs[s]`; a target is its base value less the block's errors so
    // far times `U`. At the block's end every live state's row is brought up to date in
    // one pass over the block's rows of `U`.
    // Row-major `ns × cols` and `ns × BLOCK`.
    let mut base: Vec<f32> = row.repeat(ns);
    let mut next_base: Vec<f32> = vec![0f32; ns * cols];
    let mut orig: Vec<usize> = (0..ns).collect();
    let mut next_orig = orig.clone();
    let mut errs = vec![0f32; ns * BLOCK];
    let mut next_errs = errs.clone();
    // The block's `U[i][j]`, `i < j`, by column: `ut[(j − j0)·BLOCK + (i − j0)]`.
    let mut ut = vec![0f32; BLOCK * BLOCK];
    let mut cost = vec![f32::INFINITY; ns];
    cost[0] = 0.0;
    let mut next = vec![f32::INFINITY; ns];
    // Per column and state: the level its best path ends on; a bit per state: which of
    // its two predecessors that path came from.
    let mut lv: Vec<i32> = vec![0; cols * ns];
    let mut from: Vec<u64> = vec![0; cols];
    let mut opts = vec![[(0i32, f32::INFINITY); 2]; ns];
    let mut xs = vec![0f32; ns];
    for j0 in (0..cols).step_by(BLOCK) {
        let j1 = (j0 + BLOCK).min(cols);
        for (s, o) in orig.iter_mut().enumerate() {
            *o = s;
        }
        for jj in 0..j1 - j0 {
            for ii in 0..jj {
                ut[jj * BLOCK + ii] = u[(j0 + ii) * cols + j0 + jj];
            }
        }
        for j in j0..j1 {
            let jj = j - j0;
            let uc = &ut[jj * BLOCK..jj * BLOCK + jj];
            for s in 0..ns {
                opts[s] = [(0, f32::INFINITY); 2];
                if cost[s].is_finite() {
                    let e = &errs[s * BLOCK..s * BLOCK + jj];
                    let fed: f32 = e.iter().zip(uc).map(|(&e, &x)| e * x).sum();
                    let v = (base[orig[s] * cols + j] - fed) * inv;
                    let x = if v.is_finite() {
                        v.clamp(-lim, lim)
                    } else {
                        0.0
                    };
                    xs[s] = x;
                    opts[s] = options(qs[s], x, wt[j], quant.recon, &price);
                }
            }
            let mut bits = 0u64;
            let chosen = &mut lv[j * ns..(j + 1) * ns];
            for (t, p) in pred.iter().enumerate() {
                let [(a, pa), (b, pb)] = *p;
                let (ca, cb) = (cost[a] + opts[a][pa].1, cost[b] + opts[b][pb].1);
                let (c, src, l) = if ca <= cb {
                    (ca, a, opts[a][pa].0)
                } else {
                    bits |= 1 << t;
                    (cb, b, opts[b][pb].0)
                };
                next[t] = c;
                if !c.is_finite() {
                    continue;
                }
                chosen[t] = l;
                // The survivor's own error, carried on its own path.
                next_orig[t] = orig[src];
                let dst = &mut next_errs[t * BLOCK..(t + 1) * BLOCK];
                dst[..jj].copy_from_slice(&errs[src * BLOCK..src * BLOCK + jj]);
                dst[jj] = (xs[src] - recon_of(l, quant.recon)) * step / u[j * cols + j];
            }
            debug_assert!(next.iter().any(|c| c.is_finite()));
            let m = next.iter().fold(f32::INFINITY, |a, &b| a.min(b));
            for (c, &v) in cost.iter_mut().zip(&next) {
                *c = v - m;
            }
            from[j] = bits;
            std::mem::swap(&mut orig, &mut next_orig);
            std::mem::swap(&mut errs, &mut next_errs);
        }
        if j1 < cols {
            // Each live state's working row after the block: its origin's, less its path's
            // errors through the block's rows of `U`.
            // (The rows of dead states are never read.)
            for t in (0..ns).filter(|&t| cost[t].is_finite()) {
                let o = orig[t];
                next_base[t * cols + j1..(t + 1) * cols]
                    .copy_from_slice(&base[o * cols + j1..(o + 1) * cols]);
            }
            tensorjpeg_kernels::gemm::sub_product(
                ns,
                j1 - j0,
                cols - j1,
                &errs,
                BLOCK,
                &u[j0 * cols + j1..],
                cols,
                &mut next_base[j1..],
                cols,
            )
            .expect("the shapes are the row's");
            std::mem::swap(&mut base, &mut next_base);
        }
    }
    let mut s = if end_at_zero && cost[0].is_finite() {
        0
    } else {
        (0..ns)
            .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
            .unwrap_or(0)
    };
    for j in (0..cols).rev() {
        levels[j] = lv[j * ns + s];
        row[j] = recon_of(levels[j], quant.recon) * step;
        s = pred[s][((from[j] >> s) & 1) as usize].0;
    }
    debug_assert!(!end_at_zero || s == 0);
}

#[cfg(test)]
/// The reference [`quantize_row`] is tested against: every survivor's working row updated
/// at every column (no blocks). Quantizes one row (`row.len()` = `cols` columns) onto
/// the trellis `tr` of step `quant.step`, with error feedback through `u` (`cols × cols`,
/// [`super::feedback::Gram::inverse_factor`]) and column weights `wt` (`1/Uⱼⱼ²` relative to
/// their mean); `row` receives the reconstructions and `levels` the levels. Starts in
/// state 0 and, with `end_at_zero`, ends there.
#[allow(clippy::too_many_arguments)]
pub fn quantize_row_reference(
    tr: Trellis,
    row: &mut [f32],
    u: &[f32],
    wt: &[f32],
    quant: &Quantizer,
    lambda: f32,
    model: &RateModel,
    end_at_zero: bool,
    levels: &mut [i32],
) {
    let cols = row.len();
    if cols == 0 {
        return;
    }
    let (pred, qs) = tr.tables();
    let ns = tr.states();
    let step = quant.step;
    let inv = 1.0 / step;
    let lim = (super::MAX_INDEX as f32) / 4.0;
    let price = |q: usize, k: i32| lambda * model.cost(q, k);
    // Each state's working row (only the columns not yet quantized matter) and path cost.
    let mut work: Vec<Vec<f32>> = vec![row.to_vec(); ns];
    let mut next_work: Vec<Vec<f32>> = vec![vec![0f32; cols]; ns];
    let mut cost = vec![f32::INFINITY; ns];
    cost[0] = 0.0;
    let mut next = vec![f32::INFINITY; ns];
    // Per column and state: the level its best path ends on; a bit per state: which of
    // its two predecessors that path came from.
    let mut lv: Vec<i32> = vec![0; cols * ns];
    let mut from: Vec<u64> = vec![0; cols];
    let mut opts = vec![[(0i32, f32::INFINITY); 2]; ns];
    let mut xs = vec![0f32; ns];
    for j in 0..cols {
        for s in 0..ns {
            opts[s] = [(0, f32::INFINITY); 2];
            if cost[s].is_finite() {
                let v = work[s][j] * inv;
                let x = if v.is_finite() {
                    v.clamp(-lim, lim)
                } else {
                    0.0
                };
                xs[s] = x;
                opts[s] = options(qs[s], x, wt[j], quant.recon, &price);
            }
        }
        let mut bits = 0u64;
        let chosen = &mut lv[j * ns..(j + 1) * ns];
        let uj = &u[j * cols + j + 1..(j + 1) * cols];
        for (t, p) in pred.iter().enumerate() {
            let [(a, pa), (b, pb)] = *p;
            let (ca, cb) = (cost[a] + opts[a][pa].1, cost[b] + opts[b][pb].1);
            let (c, src, l) = if ca <= cb {
                (ca, a, opts[a][pa].0)
            } else {
                bits |= 1 << t;
                (cb, b, opts[b][pb].0)
            };
            next[t] = c;
            if !c.is_finite() {
                continue;
            }
            chosen[t] = l;
            // The survivor's own error, fed to its own copy of the remaining columns.
            let e = (xs[src] - recon_of(l, quant.recon)) * step / u[j * cols + j];
            let (dst, srcw) = (&mut next_work[t][j + 1..], &work[src][j + 1..]);
            for ((d, &w), &x) in dst.iter_mut().zip(srcw).zip(uj) {
                *d = w - e * x;
            }
        }
        debug_assert!(next.iter().any(|c| c.is_finite()));
        let m = next.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        for (c, &v) in cost.iter_mut().zip(&next) {
            *c = v - m;
        }
        from[j] = bits;
        std::mem::swap(&mut work, &mut next_work);
    }
    let mut s = if end_at_zero && cost[0].is_finite() {
        0
    } else {
        (0..ns)
            .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
            .unwrap_or(0)
    };
    for j in (0..cols).rev() {
        levels[j] = lv[j * ns + s];
        row[j] = recon_of(levels[j], quant.recon) * step;
        s = pred[s][((from[j] >> s) & 1) as usize].0;
    }
    debug_assert!(!end_at_zero || s == 0);
}

/// The column weights of [`quantize_row`]: `1/Uⱼⱼ²` over their mean.
pub fn column_weights(u: &[f32], cols: usize) -> Vec<f32> {
    let w: Vec<f64> = (0..cols)
        .map(|j| 1.0 / f64::from(u[j * cols + j]).powi(2))
        .collect();
    let mean = w.iter().sum::<f64>() / cols.max(1) as f64;
    w.iter().map(|&v| (v / mean.max(1e-300)) as f32).collect()
}

/// Quantizes the row-major `values` (`cols` per row, one chunk of whole rows) onto the
/// trellis `tr` at the step of `quant` with error feedback through `u`, in two passes as
/// [`super::trellis::quantize_two_pass`] (a Gaussian rate model first, then the first
/// pass's own index statistics); rows in parallel, each from state 0 back to state 0.
/// `values` receives the reconstructions (on the scalar grid of `quant`).
pub fn quantize_rows(
    tr: Trellis,
    values: &mut [f32],
    cols: usize,
    u: &[f32],
    quant: &Quantizer,
    lambda: f32,
) {
    if cols == 0 || values.is_empty() {
        return;
    }
    assert_eq!(u.len(), cols * cols, "U is cols × cols");
    let wt = column_weights(u, cols);
    let rms = (values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        / values.len() as f64)
        .sqrt()
        / f64::from(quant.step);
    let original = values.to_vec();
    let run = |model: &RateModel, out: &mut [f32]| -> Vec<i32> {
        out.copy_from_slice(&original);
        let mut levels = vec![0i32; out.len()];
        out.par_chunks_mut(cols)
            .zip(levels.par_chunks_mut(cols))
            .for_each(|(r, l)| quantize_row(tr, r, u, &wt, quant, lambda, model, true, l));
        levels
    };
    let first = run(&RateModel::gaussian(rms), values);
    if let Some(m) = RateModel::from_levels(tr, &first) {
        run(&m, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::feedback::tests::{gram, out_err};
    use crate::quant::trellis;
    use crate::rng::SplitMix64;

    #[test]
    fn without_feedback_it_is_the_plain_trellis() {
        let mut rng = SplitMix64::new(4);
        let cols = 300;
        let t: Vec<f32> = (0..cols).map(|_| (2.5 * rng.gaussian()) as f32).collect();
        let model = RateModel::gaussian(2.5);
        let mut u = vec![0f32; cols * cols];
        for j in 0..cols {
            u[j * cols + j] = 1.0;
        }
        let q = Quantizer::uniform(1.0);
        for &n in &Trellis::STATES {
            let tr = Trellis::with_states(n).unwrap();
            let mut plain = vec![0i32; cols];
            trellis::quantize(tr, &t, None, trellis::LAMBDA, &model, &mut plain);
            let mut row = t.clone();
            let mut levels = vec![0i32; cols];
            quantize_row(
                tr,
                &mut row,
                &u,
                &vec![1.0; cols],
                &q,
                trellis::LAMBDA,
                &model,
                false,
                &mut levels,
            );
            assert_eq!(levels, plain, "{n} states");
            assert!(trellis::split(tr, &levels).is_some());
        }
    }

    /// The blocked search equals the reference on data whose sums are exact in `f32`
    /// (dyadic values and `U`), row lengths across block boundaries, every trellis.
    #[test]
    fn blocked_updates_equal_the_reference() {
        let mut rng = SplitMix64::new(21);
        let mut dyadic =
            |scale: f64, den: f64| ((rng.gaussian() * scale * den).round() / den) as f32;
        for cols in [1, 5, 31, 32, 33, 70, 100] {
            let mut u = vec![0f32; cols * cols];
            for i in 0..cols {
                u[i * cols + i] = 1.0;
                for j in i + 1..cols {
                    u[i * cols + j] = dyadic(0.1, 16.0);
                }
            }
            let row: Vec<f32> = (0..cols).map(|_| dyadic(3.0, 64.0)).collect();
            let wt: Vec<f32> = (0..cols).map(|j| [1.0, 0.5, 2.0][j % 3]).collect();
            let q = Quantizer::uniform(1.0);
            let model = RateModel::gaussian(3.0);
            for &n in &Trellis::STATES {
                let tr = Trellis::with_states(n).unwrap();
                let (mut a, mut b) = (row.clone(), row.clone());
                let (mut la, mut lb) = (vec![0i32; cols], vec![0i32; cols]);
                quantize_row(
                    tr,
                    &mut a,
                    &u,
                    &wt,
                    &q,
                    trellis::LAMBDA,
                    &model,
                    true,
                    &mut la,
                );
                quantize_row_reference(
                    tr,
                    &mut b,
                    &u,
                    &wt,
                    &q,
                    trellis::LAMBDA,
                    &model,
                    true,
                    &mut lb,
                );
                assert_eq!(la, lb, "{cols} columns, {n} states");
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn fed_back_levels_are_on_the_grid_and_cut_the_output_error() {
        let (n, rows) = (48, 40);
        let (g, xs) = gram(n, 400, 3);
        let mut rng = SplitMix64::new(11);
        let w: Vec<f32> = (0..rows * n).map(|_| rng.gaussian() as f32).collect();
        let q = Quantizer {
            step: 0.5,
            deadzone: 0.0,
            recon: 0.05,
        };
        let u = g.inverse_factor(None).unwrap();
        for &states in &Trellis::STATES {
            let tr = Trellis::with_states(states).unwrap();
            let mut fed = w.clone();
            quantize_rows(tr, &mut fed, n, &u, &q, trellis::LAMBDA);
            // On the grid, and every row a valid path from state 0 back to state 0.
            let levels: Vec<i32> = fed.iter().map(|&v| q.quantize_ref(v)).collect();
            for (&v, &l) in fed.iter().zip(&levels) {
                assert_eq!(q.dequantize_one(l), v);
            }
            for r in levels.chunks(n) {
                assert!(trellis::split(tr, r).is_some());
            }
            assert!(trellis::split(tr, &levels).is_some());
            // Output error against the plain trellis (no feedback) on the same grid.
            let mut plain_l = vec![0i32; w.len()];
            let t: Vec<f32> = w.iter().map(|&v| v / q.step).collect();
            trellis::quantize_two_pass(tr, &t, None, trellis::LAMBDA, &mut plain_l);
            let plain: Vec<f32> = plain_l.iter().map(|&l| q.dequantize_one(l)).collect();
            let (a, b) = (out_err(&xs, &w, &plain, n), out_err(&xs, &w, &fed, n));
            assert!(
                b < 0.7 * a,
                "{states} states: feedback {b} vs plain trellis {a}"
            );
        }
    }
}
