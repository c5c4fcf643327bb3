//! Trellis-coded quantization (dependent quantization): two scalar quantizers, switched
//! by a state machine that the parity of each index drives, and a Viterbi search that
//! picks the indices minimising `D + λ·R` (the form VVC standardised with 4 states; Schwarz
//! et al., "Hybrid video coding with trellis-coded quantization", DCC 2019).
//!
//! With step Δ, quantizer Q0 reconstructs the even multiples of Δ (`L = 2k`) and Q1 the odd
//! ones and zero (`L = 2k − sgn k`). The union is the grid of a scalar quantizer of step Δ,
//! but each value may only use the half of it that the state allows, so an index costs
//! about one bit less than on the full grid, while the search keeps the error close to the
//! full grid's: on Gaussian data at 3–4 bits this is worth about 0.8–0.9 dB at equal
//! entropy with 4 states (measured in the tests, and on MiniLM's weights in
//! docs/RESULTS.md). More states ([`Trellis`]: 8 to 64) add granular gain at a cost in
//! encoder time linear in the states.
//!
//! The stored symbols are the indices `k`, in two streams (one per quantizer); the decoder
//! walks the state machine ([`merge`]) and gets the levels `L`, which dequantize like a
//! scalar quantizer's indices at step Δ. The encoder works on levels throughout and splits
//! them at the end ([`split`]).

use crate::error::{Error, Result};

/// A trellis of `2^ν` states (ν = 2..=6), a shift register of the indices' parities with
/// one feedback tap set: from state `s`, an index of parity `p` leads to
/// `((p ⊕ par(s & a)) << (ν − 1)) | (s >> 1)`, and state `s` reads quantizer
/// `par(s & c)` (`par` = parity of the set bits). The masks `(a, c)` per ν were chosen by
/// search for the largest granular gain (distortion-only Viterbi on uniform values, 300,000
/// samples; over scalar rounding on the union's half grid): 4 states 0.995 dB, 8 states
/// 1.088, 16 1.154, 32 1.223, 64 1.271 (the bound is 1.533). The 4-state machine is VVC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trellis {
    nu: u8,
}

/// `(a, c)` masks for ν = 2..=6 (see [`Trellis`]).
const MASKS: [(u8, u8); 5] = [(1, 2), (7, 4), (11, 2), (3, 20), (53, 34)];

#[inline]
fn parity(v: usize) -> usize {
    (v.count_ones() & 1) as usize
}

impl Trellis {
    /// VVC's 4-state machine (the `tcq` default).
    pub const FOUR: Trellis = Trellis { nu: 2 };
    /// The state counts a trellis may have.
    pub const STATES: [usize; 5] = [4, 8, 16, 32, 64];

    /// The trellis of `states` states, if it is one of [`Trellis::STATES`].
    pub fn with_states(states: usize) -> Option<Trellis> {
        Trellis::STATES
            .iter()
            .position(|&s| s == states)
            .map(|i| Trellis { nu: i as u8 + 2 })
    }

    /// The trellis stored as `code` (`log2(states) − 2`, as the parameter block holds it).
    pub fn from_code(code: u8) -> Option<Trellis> {
        (usize::from(code) < MASKS.len()).then_some(Trellis { nu: code + 2 })
    }

    /// `log2(states) − 2`: 0 for VVC's 4 states.
    pub fn code(self) -> u8 {
        self.nu - 2
    }

    /// The number of states.
    pub fn states(self) -> usize {
        1 << self.nu
    }

    /// The quantizer (0 or 1) state `s` reads.
    #[inline]
    pub fn quantizer(self, s: usize) -> usize {
        parity(s & usize::from(MASKS[usize::from(self.nu - 2)].1))
    }

    /// The state after state `s` reads an index of parity `p` (0 or 1).
    #[inline]
    pub fn next(self, s: usize, p: usize) -> usize {
        let a = usize::from(MASKS[usize::from(self.nu - 2)].0);
        ((p ^ parity(s & a)) << (self.nu - 1)) | (s >> 1)
    }

    /// For each state, its two predecessors as `(state, parity of the index that leads
    /// here)`, and each state's quantizer: the Viterbi search's tables.
    pub(crate) fn tables(self) -> (Vec<[(usize, usize); 2]>, Vec<usize>) {
        let n = self.states();
        let mut pred = vec![[(usize::MAX, 0); 2]; n];
        for s in 0..n {
            for p in 0..2 {
                let ns = self.next(s, p);
                let slot = if pred[ns][0].0 == usize::MAX { 0 } else { 1 };
                pred[ns][slot] = (s, p);
            }
        }
        (pred, (0..n).map(|s| self.quantizer(s)).collect())
    }
}

/// λ of the search, in units of Δ² per bit (the distortion is measured in Δ² as well).
pub const LAMBDA: f32 = 0.2;

/// Largest index magnitude the rate model prices one by one (larger ones pay the edge
/// price plus an escape).
const KMAX: i32 = 255;

/// The level (multiple of Δ) of index `k` under quantizer `q`.
#[inline]
pub fn level(q: usize, k: i32) -> i32 {
    if q == 0 {
        2 * k
    } else {
        2 * k - k.signum()
    }
}

/// The index of level `l` under quantizer `q`, if `l` is on that quantizer's grid.
#[inline]
pub fn index(q: usize, l: i32) -> Option<i32> {
    if q == 0 {
        (l % 2 == 0).then_some(l / 2)
    } else {
        (l == 0 || l % 2 != 0).then_some((l + l.signum()) / 2)
    }
}

/// Splits levels chosen by [`quantize`] into the index streams of Q0 and Q1, walking the
/// state machine of `tr` from state 0. `None` if a level is off its state's grid.
pub fn split(tr: Trellis, levels: &[i32]) -> Option<(Vec<i32>, Vec<i32>)> {
    let (mut k0, mut k1) = (Vec::new(), Vec::new());
    let mut s = 0usize;
    for &l in levels {
        let q = tr.quantizer(s);
        let k = index(q, l)?;
        if q == 0 {
            k0.push(k);
        } else {
            k1.push(k);
        }
        s = tr.next(s, (k & 1) as usize);
    }
    Some((k0, k1))
}

/// Merges the two index streams into `out.len()` levels (the decoder), walking the state
/// machine of `tr` from state 0. Each stream must be used up exactly; anything else means
/// corrupt input.
pub fn merge(tr: Trellis, k0: &[i32], k1: &[i32], out: &mut [i32]) -> Result<()> {
    let (mut i0, mut i1) = (0usize, 0usize);
    let mut s = 0usize;
    for o in out.iter_mut() {
        let q = tr.quantizer(s);
        let k = if q == 0 {
            i0 += 1;
            k0.get(i0 - 1)
        } else {
            i1 += 1;
            k1.get(i1 - 1)
        };
        let k = *k.ok_or_else(|| Error::corrupt("trellis: an index stream ends early"))?;
        if k.unsigned_abs() > (crate::quant::MAX_INDEX as u32) / 2 {
            return Err(Error::corrupt(format!("trellis: index {k} out of range")));
        }
        *o = level(q, k);
        s = tr.next(s, (k & 1) as usize);
    }
    if i0 != k0.len() || i1 != k1.len() {
        return Err(Error::corrupt(format!(
            "trellis: {} and {} indices stored, {i0} and {i1} used",
            k0.len(),
            k1.len()
        )));
    }
    Ok(())
}

/// What an index costs, in bits, under each quantizer (the search's model of the entropy
/// coder).
#[derive(Debug, Clone)]
pub struct RateModel {
    bits: [Vec<f32>; 2],
}

impl RateModel {
    /// A discretised Gaussian of the values' RMS `rms` (in units of Δ) for both quantizers:
    /// the first pass's model.
    pub fn gaussian(rms: f64) -> RateModel {
        let sigma = rms.max(0.25);
        let p: Vec<f64> = (-KMAX..=KMAX)
            .map(|k| (-((2 * k) as f64).powi(2) / (2.0 * sigma * sigma)).exp() + 1e-9)
            .collect();
        let total: f64 = p.iter().sum();
        let bits: Vec<f32> = p.iter().map(|&v| (total / v).log2() as f32).collect();
        RateModel {
            bits: [bits.clone(), bits],
        }
    }

    /// The ideal code lengths of the indices of `levels` (on `tr`'s grids; counts with
    /// add-½ smoothing).
    pub fn from_levels(tr: Trellis, levels: &[i32]) -> Option<RateModel> {
        let (k0, k1) = split(tr, levels)?;
        let price = |ks: &[i32]| {
            let mut c = vec![0.5f64; (2 * KMAX + 1) as usize];
            for &k in ks {
                c[(k.clamp(-KMAX, KMAX) + KMAX) as usize] += 1.0;
            }
            let total: f64 = c.iter().sum();
            c.iter()
                .map(|&v| (total / v).log2() as f32)
                .collect::<Vec<f32>>()
        };
        Some(RateModel {
            bits: [price(&k0), price(&k1)],
        })
    }

    /// What index `k` costs under quantizer `q`, in bits.
    #[inline]
    pub(crate) fn cost(&self, q: usize, k: i32) -> f32 {
        let b = &self.bits[q];
        if k.abs() <= KMAX {
            b[(k + KMAX) as usize]
        } else {
            b[(k.signum() * KMAX + KMAX) as usize] + 16.0
        }
    }
}

impl RateModel {
    /// `λ·bits` of index `k` under quantizer `q`, from a table scaled once (the search's
    /// price; the escape price of larger indices is rare: kept in [`RateModel::cost`]).
    fn priced(&self, lambda: f32) -> impl Fn(usize, i32) -> f32 + '_ {
        let priced: [Vec<f32>; 2] =
            [0, 1].map(|q| self.bits[q].iter().map(|&b| lambda * b).collect());
        move |q, k| {
            if k.abs() <= KMAX {
                priced[q][(k + KMAX) as usize]
            } else {
                lambda * self.cost(q, k)
            }
        }
    }
}

/// `⌊x⌋` for finite `|x| < 2^30` without a libm call (`f32::floor` is one on baseline
/// x86-64): truncate, then step down where truncation went up.
#[inline]
pub(super) fn floor_i32(x: f32) -> i32 {
    let t = x as i32;
    t - i32::from((t as f32) > x)
}

/// The candidate levels of value `t` (in units of Δ) under quantizer `q`: the two nearest
/// on its grid, and zero — those [`quantize`] chooses among (the tests enumerate them).
#[cfg(test)]
fn candidates(q: usize, t: f32) -> [i32; 3] {
    let t = t.clamp(
        -(crate::quant::MAX_INDEX as f32) / 4.0,
        (crate::quant::MAX_INDEX as f32) / 4.0,
    );
    let lo = if q == 0 {
        2 * floor_i32(t * 0.5)
    } else {
        2 * floor_i32((t - 1.0) * 0.5) + 1
    };
    [lo, lo + 2, 0]
}

/// Each quantizer's best level for value `x` (units of Δ; `wi` weighs its squared error)
/// among its two nearest and zero, for an even and for an odd index (the parity picks the
/// next state): `[Q0 even, Q0 odd, Q1 even, Q1 odd]` as `(level, cost)`.
#[inline]
fn options(x: f32, wi: f32, price: &impl Fn(usize, i32) -> f32) -> [(i32, f32); 4] {
    let d = |l: i32| {
        let e = x - l as f32;
        wi * e * e
    };
    // Q0: levels 2k.
    let k0 = floor_i32(x * 0.5);
    let (ke, ko) = if k0 & 1 == 0 {
        (k0, k0 + 1)
    } else {
        (k0 + 1, k0)
    };
    let (je, jz) = (d(2 * ke) + price(0, ke), d(0) + price(0, 0));
    let even0 = if jz < je { (0, jz) } else { (2 * ke, je) };
    let odd0 = (2 * ko, d(2 * ko) + price(0, ko));
    // Q1: odd levels l (index (l + sgn l)/2) and zero.
    let l1 = 2 * floor_i32((x - 1.0) * 0.5) + 1;
    let k1 = |l: i32| (l + l.signum()) / 2;
    let (la, lb) = (l1, l1 + 2);
    let (ja, jb) = (d(la) + price(1, k1(la)), d(lb) + price(1, k1(lb)));
    let j0 = d(0) + price(1, 0);
    let (mut even1, mut odd1) = ((0, j0), (0, f32::INFINITY));
    for (l, j) in [(la, ja), (lb, jb)] {
        let slot = if k1(l) & 1 == 0 {
            &mut even1
        } else {
            &mut odd1
        };
        if j < slot.1 {
            *slot = (l, j);
        }
    }
    [even0, odd0, even1, odd1]
}

/// Chooses a level for each value `t[i]` (in units of Δ; `w[i]` weighs its squared error,
/// 1 when `w` is `None`) by a Viterbi search over the state machine of `tr` from state 0,
/// minimising `Σ wᵢ(tᵢ − Lᵢ)² + λ·bits` under `model`.
pub fn quantize(
    tr: Trellis,
    t: &[f32],
    w: Option<&[f32]>,
    lambda: f32,
    model: &RateModel,
    out: &mut [i32],
) {
    let n = t.len();
    let (pred, qs) = tr.tables();
    let ns = tr.states();
    let price = model.priced(lambda);
    let lim = (crate::quant::MAX_INDEX as f32) / 4.0;
    // Per value: the level of each (quantizer, parity) option, and (a bit per state) which
    // of the state's two predecessors its best path came from.
    let mut opt_level: Vec<[[i32; 2]; 2]> = vec![[[0; 2]; 2]; n];
    let mut from: Vec<u64> = vec![0; n];
    let mut cost = vec![f32::INFINITY; ns];
    cost[0] = 0.0;
    let mut next = vec![0f32; ns];
    // State t's predecessors are 2m and 2m + 1 with m = t mod h (the shift register);
    // `branch[t]` holds the option (2·quantizer + parity) each of them takes into t.
    let h = ns / 2;
    let branch: Vec<(usize, usize)> = pred
        .iter()
        .enumerate()
        .map(|(t, p)| {
            let [(a, pa), (b, pb)] = *p;
            debug_assert!(a == 2 * (t % h) && b == a + 1);
            (2 * qs[a] + pa, 2 * qs[b] + pb)
        })
        .collect();
    let (mut ba, mut bb) = (vec![0f32; ns], vec![0f32; ns]);
    let (mut ce, mut co) = (vec![0f32; h], vec![0f32; h]);
    let mut take = vec![0u8; ns];
    for i in 0..n {
        let x = if t[i].is_finite() {
            t[i].clamp(-lim, lim)
        } else {
            0.0
        };
        let [even0, odd0, even1, odd1] = options(x, w.map_or(1.0, |w| w[i]), &price);
        opt_level[i] = [[even0.0, odd0.0], [even1.0, odd1.0]];
        // The branch costs into each state from its two predecessors `2m` and `2m + 1`
        // (`m = t mod ns/2`), and those predecessors' costs, de-interleaved: the loop
        // below then runs over contiguous lanes.
        let oc = [even0.1, odd0.1, even1.1, odd1.1];
        for ((x, y), &(ia, ib)) in ba.iter_mut().zip(bb.iter_mut()).zip(&branch) {
            *x = oc[ia];
            *y = oc[ib];
        }
        for ((e, o), pair) in ce.iter_mut().zip(co.iter_mut()).zip(cost.chunks_exact(2)) {
            *e = pair[0];
            *o = pair[1];
        }
        for half in 0..2 {
            let r = half * h..(half + 1) * h;
            for ((((c, tk), &e), &o), (&x, &y)) in next[r.clone()]
                .iter_mut()
                .zip(&mut take[r.clone()])
                .zip(&ce)
                .zip(&co)
                .zip(ba[r.clone()].iter().zip(&bb[r]))
            {
                let (ca, cb) = (e + x, o + y);
                *tk = u8::from(ca > cb);
                *c = if ca <= cb { ca } else { cb };
            }
        }
        let m = next.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        // Keep the path costs small (f32 keeps its precision for the comparisons).
        for (c, &v) in cost.iter_mut().zip(&next) {
            *c = v - m;
        }
        from[i] = take
            .iter()
            .enumerate()
            .fold(0u64, |b, (t, &v)| b | (u64::from(v) << t));
    }
    let mut s = (0..ns)
        .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
        .unwrap_or(0);
    for i in (0..n).rev() {
        let (src, p) = pred[s][((from[i] >> s) & 1) as usize];
        out[i] = opt_level[i][qs[src]][p];
        s = src;
    }
}

/// The reference [`quantize`] is tested against: the same search, each state's two
/// predecessors looked up in the trellis's tables one state at a time.
#[cfg(test)]
pub fn quantize_reference(
    tr: Trellis,
    t: &[f32],
    w: Option<&[f32]>,
    lambda: f32,
    model: &RateModel,
    out: &mut [i32],
) {
    let n = t.len();
    let (pred, qs) = tr.tables();
    let ns = tr.states();
    let price = model.priced(lambda);
    let lim = (crate::quant::MAX_INDEX as f32) / 4.0;
    // Per value: the level of each (quantizer, parity) option, and (a bit per state) which
    // of the state's two predecessors its best path came from.
    let mut opt_level: Vec<[[i32; 2]; 2]> = vec![[[0; 2]; 2]; n];
    let mut from: Vec<u64> = vec![0; n];
    let mut cost = vec![f32::INFINITY; ns];
    cost[0] = 0.0;
    let mut next = vec![0f32; ns];
    for i in 0..n {
        let x = if t[i].is_finite() {
            t[i].clamp(-lim, lim)
        } else {
            0.0
        };
        let [even0, odd0, even1, odd1] = options(x, w.map_or(1.0, |w| w[i]), &price);
        let opt = [[even0, odd0], [even1, odd1]];
        opt_level[i] = [[even0.0, odd0.0], [even1.0, odd1.0]];
        let mut bits = 0u64;
        let mut m = f32::INFINITY;
        for (s, (c, p)) in next.iter_mut().zip(&pred).enumerate() {
            let [(a, pa), (b, pb)] = *p;
            let ca = cost[a] + opt[qs[a]][pa].1;
            let cb = cost[b] + opt[qs[b]][pb].1;
            *c = if ca <= cb {
                ca
            } else {
                bits |= 1 << s;
                cb
            };
            m = m.min(*c);
        }
        // Keep the path costs small (f32 keeps its precision for the comparisons).
        for (c, &v) in cost.iter_mut().zip(&next) {
            *c = v - m;
        }
        from[i] = bits;
    }
    let mut s = (0..ns)
        .min_by(|&a, &b| cost[a].total_cmp(&cost[b]))
        .unwrap_or(0);
    for i in (0..n).rev() {
        let (src, p) = pred[s][((from[i] >> s) & 1) as usize];
        out[i] = opt_level[i][qs[src]][p];
        s = src;
    }
}

/// Two passes of [`quantize`]: the first under a Gaussian model of the values, the second
/// under the ideal code lengths of the first pass's indices.
pub fn quantize_two_pass(tr: Trellis, t: &[f32], w: Option<&[f32]>, lambda: f32, out: &mut [i32]) {
    let rms = if t.is_empty() {
        1.0
    } else {
        (t.iter()
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            / t.len() as f64)
            .sqrt()
    };
    quantize(tr, t, w, lambda, &RateModel::gaussian(rms), out);
    if let Some(m) = RateModel::from_levels(tr, out) {
        quantize(tr, t, w, lambda, &m, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn entropy_bits(ks: &[i32]) -> f64 {
        let mut h = std::collections::HashMap::new();
        for &k in ks {
            *h.entry(k).or_insert(0u64) += 1;
        }
        let n = ks.len() as f64;
        h.values().map(|&c| c as f64 * (n / c as f64).log2()).sum()
    }

    /// VVC's table, which files written before the trellis took a state count hold.
    #[test]
    fn four_states_are_vvcs_machine() {
        const NEXT: [[usize; 2]; 4] = [[0, 2], [2, 0], [1, 3], [3, 1]];
        let tr = Trellis::FOUR;
        for (s, next) in NEXT.iter().enumerate() {
            assert_eq!(tr.quantizer(s), s >> 1);
            for (p, &n) in next.iter().enumerate() {
                assert_eq!(tr.next(s, p), n);
            }
        }
        for (i, &n) in Trellis::STATES.iter().enumerate() {
            let tr = Trellis::with_states(n).unwrap();
            assert_eq!((tr.states(), usize::from(tr.code())), (n, i));
            assert_eq!(Trellis::from_code(tr.code()), Some(tr));
            // Every state has two predecessors, and both quantizers are used.
            let (pred, qs) = tr.tables();
            assert!(pred.iter().all(|p| p[1].0 != usize::MAX));
            assert!(qs.contains(&0) && qs.contains(&1));
        }
        assert_eq!(Trellis::with_states(6), None);
        assert_eq!(Trellis::from_code(5), None);
    }

    #[test]
    fn levels_split_and_merge_back() {
        let levels = [0, 3, -4, 1, 0, 0, 7, -1, 2, -6, 5, 0];
        for &n in &Trellis::STATES {
            let tr = Trellis::with_states(n).unwrap();
            // Not every sequence is reachable; the trellis's are. Build one by walking states.
            let mut s = 0usize;
            let mut walk = Vec::new();
            for &l in &levels {
                let q = tr.quantizer(s);
                let l = if index(q, l).is_some() { l } else { l + 1 };
                let k = index(q, l).unwrap();
                walk.push(l);
                s = tr.next(s, (k & 1) as usize);
            }
            let (k0, k1) = split(tr, &walk).unwrap();
            let mut back = vec![0; walk.len()];
            merge(tr, &k0, &k1, &mut back).unwrap();
            assert_eq!(back, walk);
            assert!(
                merge(tr, &k0, &k1[..k1.len().saturating_sub(1)], &mut back).is_err()
                    || k1.is_empty()
            );
            let mut extra = k0.clone();
            extra.push(1);
            assert!(merge(tr, &extra, &k1, &mut back).is_err());
            // State 0 reads Q0, which holds only even levels: no path starts with an odd one.
            assert!(split(tr, &[1]).is_none());
        }
    }

    /// The lane-wise search equals the state-by-state reference, level for level, on
    /// weighted and unweighted values, every trellis.
    #[test]
    fn search_equals_the_reference() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let normal = Normal::new(0.0f32, 2.5).unwrap();
        let t: Vec<f32> = (0..5_000).map(|_| normal.sample(&mut rng)).collect();
        let w: Vec<f32> = (0..t.len()).map(|i| [1.0, 0.25, 3.0][i % 3]).collect();
        let model = RateModel::gaussian(2.5);
        for &n in &Trellis::STATES {
            let tr = Trellis::with_states(n).unwrap();
            for wts in [None, Some(&w[..])] {
                let (mut a, mut b) = (vec![0; t.len()], vec![0; t.len()]);
                quantize(tr, &t, wts, LAMBDA, &model, &mut a);
                quantize_reference(tr, &t, wts, LAMBDA, &model, &mut b);
                assert_eq!(a, b, "{n} states");
            }
        }
    }

    /// The Viterbi search finds the cheapest path among the candidates (checked by
    /// enumerating every path on short sequences).
    #[test]
    fn viterbi_equals_exhaustive_search() {
        let model = RateModel::gaussian(3.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let normal = Normal::new(0.0f32, 3.0).unwrap();
        for it in 0..60 {
            let tr = Trellis::with_states(Trellis::STATES[it % Trellis::STATES.len()]).unwrap();
            let t: Vec<f32> = (0..6).map(|_| normal.sample(&mut rng)).collect();
            let mut got = vec![0; t.len()];
            quantize(tr, &t, None, LAMBDA, &model, &mut got);
            let cost = |ls: &[i32]| -> Option<f32> {
                let mut s = 0usize;
                let mut c = 0.0;
                for (&l, &x) in ls.iter().zip(&t) {
                    let q = tr.quantizer(s);
                    if !candidates(q, x).contains(&l) {
                        return None;
                    }
                    let k = index(q, l)?;
                    c += (x - l as f32).powi(2) + LAMBDA * model.cost(q, k);
                    s = tr.next(s, (k & 1) as usize);
                }
                Some(c)
            };
            let mut best = f32::INFINITY;
            let mut ls = vec![0i32; t.len()];
            fn rec(
                i: usize,
                ls: &mut Vec<i32>,
                t: &[f32],
                best: &mut f32,
                cost: &dyn Fn(&[i32]) -> Option<f32>,
            ) {
                if i == t.len() {
                    if let Some(c) = cost(ls) {
                        *best = best.min(c);
                    }
                    return;
                }
                let mut opts: Vec<i32> = candidates(0, t[i])
                    .into_iter()
                    .chain(candidates(1, t[i]))
                    .collect();
                opts.sort();
                opts.dedup();
                for l in opts {
                    ls[i] = l;
                    rec(i + 1, ls, t, best, cost);
                }
            }
            rec(0, &mut ls, &t, &mut best, &cost);
            let c = cost(&got).expect("the search's path is valid");
            assert!((c - best).abs() <= 1e-4 * best.max(1.0), "{c} vs {best}");
        }
    }

    /// At equal entropy the trellis beats the uniform scalar quantizer on Gaussian data by
    /// well over half a dB (the granular gain).
    #[test]
    fn beats_scalar_quantization_at_equal_rate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        let x: Vec<f32> = (0..200_000).map(|_| normal.sample(&mut rng)).collect();
        let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        // (bits per value, SNR dB) of each quantizer over a range of steps.
        let scalar = |step: f32| {
            let q: Vec<i32> = x.iter().map(|&v| (v / step).round() as i32).collect();
            let e: f64 = x
                .iter()
                .zip(&q)
                .map(|(&v, &k)| f64::from(v - k as f32 * step).powi(2))
                .sum();
            (
                entropy_bits(&q) / x.len() as f64,
                10.0 * (energy / e).log10(),
            )
        };
        let trellis = |tr: Trellis, step: f32| {
            let t: Vec<f32> = x.iter().map(|&v| v / step).collect();
            let mut l = vec![0; t.len()];
            quantize_two_pass(tr, &t, None, LAMBDA, &mut l);
            let e: f64 = x
                .iter()
                .zip(&l)
                .map(|(&v, &k)| f64::from(v - k as f32 * step).powi(2))
                .sum();
            let (k0, k1) = split(tr, &l).unwrap();
            (
                (entropy_bits(&k0) + entropy_bits(&k1)) / x.len() as f64,
                10.0 * (energy / e).log10(),
            )
        };
        // SNR at 3.5 bits by linear interpolation between the two steps around it.
        let at = |f: &dyn Fn(f32) -> (f64, f64), lo: f32, hi: f32| {
            let (a, b) = (f(lo), f(hi));
            assert!(a.0 >= 3.5 && b.0 <= 3.5, "{a:?} {b:?}");
            a.1 + (b.1 - a.1) * (a.0 - 3.5) / (a.0 - b.0)
        };
        let s = at(&scalar, 0.3, 0.42);
        let t: Vec<f64> = Trellis::STATES
            .iter()
            .map(|&n| {
                let tr = Trellis::with_states(n).unwrap();
                at(&|step| trellis(tr, step), 0.18, 0.28)
            })
            .collect();
        eprintln!("at 3.5 bits: scalar {s:.3} dB, trellis (4..64 states) {t:.3?} dB");
        assert!(
            t[0] - s > 0.6,
            "trellis {:.2} dB vs scalar {s:.2} dB at 3.5 bits",
            t[0]
        );
        // More states, more gain.
        for w in t.windows(2) {
            assert!(w[1] > w[0] + 0.02, "{t:?}");
        }
    }
}
