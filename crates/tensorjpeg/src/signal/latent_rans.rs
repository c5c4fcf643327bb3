//! Context-modelled rANS coding of integer latents (the codec's own lossless stage).
//!
//! Latents are `[k, h, w]` integers (higher-dimensional planes folded into `h`), coded
//! channel by channel in raster order. Each symbol goes to one of a few *contexts*, and every
//! context is one static-model segment of [`crate::entropy`]:
//!
//! * channel 0 (the PCA component with the most energy: the low-pass luminance) is
//!   predicted from its causal neighbours with the median edge detector of LOCO-I
//!   (`med(L, U, L + U − UL)`) and its residual is coded, in a context chosen by the
//!   residuals' magnitude at `L` and `U`;
//! * every other channel is coded directly, in a context chosen by the magnitudes of its
//!   left and upper neighbours and of the same position in the previous channel (energy at a
//!   position is shared by the channels: edges light up many components at once), and by
//!   the channel's rank class (1, 2–3, 4–7, 8–15, 16+).
//!
//! ```text
//! u64 mask of segment starts · one segment per run of contexts (in order)
//! ```
//!
//! A segment holds one context or a run of neighbouring contexts: sparse contexts are merged
//! into the one before them (each segment costs ~30 bytes of table and rANS state), the
//! encoder keeping the smallest of a few merge thresholds. Symbols of a merged segment stay
//! in coding order.
//!
//! The decoder reads every segment, then walks the same raster order, computes each
//! position's context from what it has already decoded, and takes the next symbol of that
//! context's segment. [`encode_plain`]/[`decode_plain`] (one segment per channel, no context)
//! are the plain coder it is tested and measured against.

use crate::bytes::{ByteReader, ByteWriter};
use crate::entropy;
use crate::error::{Error, Result};

/// Magnitude buckets per channel class.
const BUCKETS: usize = 8;
/// Channel classes: channel 0 (residuals), then ranks 1, 2–3, 4–7, 8–15, 16+.
const CLASSES: usize = 6;
/// Contexts in all.
const CONTEXTS: usize = BUCKETS * CLASSES;

#[inline]
fn bucket(m: u32) -> usize {
    match m {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        4..=5 => 4,
        6..=8 => 5,
        9..=14 => 6,
        _ => 7,
    }
}

#[inline]
fn class(j: usize) -> usize {
    match j {
        0 => 0,
        1 => 1,
        2..=3 => 2,
        4..=7 => 3,
        8..=15 => 4,
        _ => 5,
    }
}

#[inline]
fn med(l: i32, u: i32, ul: i32) -> i32 {
    let (lo, hi) = (l.min(u), l.max(u));
    if ul >= hi {
        lo
    } else if ul <= lo {
        hi
    } else {
        l.wrapping_add(u).wrapping_sub(ul)
    }
}

/// Walks `[k, h, w]` in coding order, giving each position's context and (for channel 0)
/// its prediction, with `get` reading already-visited values and `res` already-visited
/// channel-0 residuals.
struct Walker {
    k: usize,
    h: usize,
    w: usize,
}

impl Walker {
    #[inline]
    fn context(&self, vals: &[i32], res: &[i32], j: usize, i: usize, x: usize) -> (usize, i32) {
        let w = self.w;
        let at = |c: usize, y: usize, xx: usize| vals[(c * self.h + y) * w + xx];
        if j == 0 {
            let l = if x > 0 {
                at(0, i, x - 1)
            } else if i > 0 {
                at(0, i - 1, x)
            } else {
                0
            };
            let u = if i > 0 { at(0, i - 1, x) } else { l };
            let ul = if i > 0 && x > 0 {
                at(0, i - 1, x - 1)
            } else {
                u
            };
            let pred = med(l, u, ul);
            let rl = if x > 0 {
                res[i * w + x - 1].unsigned_abs()
            } else {
                0
            };
            let ru = if i > 0 {
                res[(i - 1) * w + x].unsigned_abs()
            } else {
                rl
            };
            (bucket((rl + ru).min(1 << 20)), pred)
        } else {
            let l = if x > 0 {
                at(j, i, x - 1).unsigned_abs()
            } else {
                0
            };
            let u = if i > 0 {
                at(j, i - 1, x).unsigned_abs()
            } else {
                l
            };
            let p = at(j - 1, i, x).unsigned_abs().min(1 << 20);
            let m = (l.min(1 << 20) + u.min(1 << 20) + p.div_ceil(2)).min(1 << 22);
            (class(j) * BUCKETS + bucket(m), 0)
        }
    }
}

fn check(len: usize, k: usize, h: usize, w: usize) -> Result<()> {
    let n = k.checked_mul(h).and_then(|v| v.checked_mul(w));
    if n != Some(len) {
        return Err(Error::param(
            "latent codes",
            len,
            format!("k·h·w = {k}·{h}·{w}"),
        ));
    }
    Ok(())
}

/// Codes `codes` (`[k, h, w]`, channel-major) with context modelling.
pub fn encode(codes: &[i32], k: usize, h: usize, w: usize) -> Result<Vec<u8>> {
    check(codes.len(), k, h, w)?;
    let walker = Walker { k, h, w };
    let mut res = vec![0i32; h * w];
    // The symbol and the context of every position, in coding order.
    let mut syms = Vec::with_capacity(codes.len());
    let mut ctxs = Vec::with_capacity(codes.len());
    let mut counts = [0usize; CONTEXTS];
    for j in 0..walker.k {
        for i in 0..h {
            for x in 0..w {
                let v = codes[(j * h + i) * w + x];
                let (c, pred) = walker.context(codes, &res, j, i, x);
                let sym = if j == 0 {
                    let r = v.wrapping_sub(pred);
                    res[i * w + x] = r;
                    r
                } else {
                    v
                };
                syms.push(sym);
                ctxs.push(c as u8);
                counts[c] += 1;
            }
        }
    }
    // Every segment costs ~30 bytes of table and rANS state: merge sparse contexts into
    // their neighbours, with the threshold whose estimated size (order-0 entropy of each
    // merged histogram plus a table estimate) is smallest; then code once.
    let mut hists: Vec<std::collections::BTreeMap<i32, u64>> = vec![Default::default(); CONTEXTS];
    for (&v, &c) in syms.iter().zip(&ctxs) {
        *hists[c as usize].entry(v).or_insert(0) += 1;
    }
    let starts = MERGE_THRESHOLDS
        .iter()
        .map(|&min| segment_starts(&counts, min))
        .min_by(|&a, &b| estimate_bits(&hists, a).total_cmp(&estimate_bits(&hists, b)))
        .expect("at least one threshold");
    let seg = segment_of(starts);
    let mut streams: Vec<Vec<i32>> = vec![Vec::new(); seg[CONTEXTS - 1] + 1];
    for (&v, &c) in syms.iter().zip(&ctxs) {
        streams[seg[c as usize]].push(v);
    }
    let mut out = ByteWriter::new();
    out.u64(starts);
    for st in &streams {
        entropy::encode(st, &mut out);
    }
    Ok(out.into_inner())
}

/// Estimated coded size in bits of the segments `starts` makes: per segment, the order-0
/// entropy of its merged histogram plus ~2 bytes per table entry and 24 bytes of fixed cost.
fn estimate_bits(hists: &[std::collections::BTreeMap<i32, u64>], starts: u64) -> f64 {
    let seg = segment_of(starts);
    let mut merged: Vec<std::collections::BTreeMap<i32, u64>> =
        vec![Default::default(); seg[CONTEXTS - 1] + 1];
    for (h, &s) in hists.iter().zip(&seg) {
        for (&v, &c) in h {
            *merged[s].entry(v).or_insert(0) += c;
        }
    }
    merged
        .iter()
        .map(|h| {
            let n: u64 = h.values().sum();
            if n == 0 {
                return 16.0;
            }
            let (lo, hi) = (
                h.keys().next().copied().unwrap_or(0),
                h.keys().last().copied().unwrap_or(0),
            );
            let span = (i64::from(hi) - i64::from(lo) + 1).min(4096) as f64;
            let ent: f64 = h
                .values()
                .map(|&c| -(c as f64) * (c as f64 / n as f64).log2())
                .sum();
            ent + 8.0 * (24.0 + 2.0 * span)
        })
        .sum()
}

/// Minimum symbols a context (and the run before it) needs to start its own segment.
const MERGE_THRESHOLDS: [usize; 4] = [0, 128, 512, 2048];

/// Bit `i` set: context `i` starts a new segment (context 0 always does); a context that does
/// not joins the segment of the context before it. A context starts one when it and the
/// current run each hold at least `min` symbols.
fn segment_starts(counts: &[usize; CONTEXTS], min: usize) -> u64 {
    let mut starts = 1u64;
    let mut run = counts[0];
    for (i, &n) in counts.iter().enumerate().skip(1) {
        if n > 0 && n >= min && run >= min.max(1) {
            starts |= 1 << i;
            run = n;
        } else {
            run += n;
        }
    }
    starts
}

/// Segment index of every context under `starts`.
fn segment_of(starts: u64) -> [usize; CONTEXTS] {
    let mut seg = [0usize; CONTEXTS];
    let mut s = 0usize;
    for (i, o) in seg.iter_mut().enumerate() {
        if i > 0 && starts >> i & 1 == 1 {
            s += 1;
        }
        *o = s;
    }
    seg
}

/// Inverse of [`encode`].
pub fn decode(data: &[u8], k: usize, h: usize, w: usize) -> Result<Vec<i32>> {
    let total = k
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .ok_or_else(|| Error::corrupt("latent size overflows"))?;
    let mut r = ByteReader::new(data, "signal latents");
    let starts = r.u64()?;
    if starts >> CONTEXTS != 0 || starts & 1 == 0 {
        return Err(Error::corrupt(format!(
            "signal latents: segment mask {starts:#x} (bit 0 set, none beyond {CONTEXTS})"
        )));
    }
    let seg = segment_of(starts);
    let mut streams = Vec::with_capacity(seg[CONTEXTS - 1] + 1);
    let mut sum = 0usize;
    for _ in 0..=seg[CONTEXTS - 1] {
        // The segment starts with its symbol count.
        let c = ByteReader::new(r.rest(), "signal latents")
            .varint_max("segment symbol count", (total - sum) as u64)? as usize;
        sum += c;
        let mut s = vec![0i32; c];
        entropy::decode(&mut r, &mut s)?;
        streams.push(s.into_iter());
    }
    if sum != total {
        return Err(Error::corrupt(format!(
            "signal latents: segments hold {sum} symbols, k·h·w = {total}"
        )));
    }
    r.finish()?;
    let walker = Walker { k, h, w };
    let mut out = vec![0i32; total];
    let mut res = vec![0i32; h * w];
    for j in 0..k {
        for i in 0..h {
            for x in 0..w {
                let (c, pred) = walker.context(&out, &res, j, i, x);
                let s = streams[seg[c]].next().ok_or_else(|| {
                    Error::corrupt("signal latents: a segment ran out of symbols")
                })?;
                out[(j * h + i) * w + x] = if j == 0 {
                    res[i * w + x] = s;
                    pred.wrapping_add(s)
                } else {
                    s
                };
            }
        }
    }
    Ok(out)
}

/// The plain coder: one static-model segment per channel, no prediction or context.
pub fn encode_plain(codes: &[i32], k: usize, h: usize, w: usize) -> Result<Vec<u8>> {
    check(codes.len(), k, h, w)?;
    let mut out = ByteWriter::new();
    for ch in codes.chunks_exact((h * w).max(1)) {
        entropy::encode(ch, &mut out);
    }
    Ok(out.into_inner())
}

/// Inverse of [`encode_plain`].
pub fn decode_plain(data: &[u8], k: usize, h: usize, w: usize) -> Result<Vec<i32>> {
    let p = h
        .checked_mul(w)
        .filter(|p| p.checked_mul(k).is_some())
        .ok_or_else(|| Error::corrupt("latent size overflows"))?;
    let mut r = ByteReader::new(data, "signal latents");
    let mut out = vec![0i32; k * p];
    for ch in out.chunks_exact_mut(p.max(1)) {
        entropy::decode(&mut r, ch)?;
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Latents with spatially varying energy shared across channels, and a smooth channel 0.
    fn latents(k: usize, h: usize, w: usize, seed: u64) -> Vec<i32> {
        let mut g = SplitMix64::new(seed);
        let mut v = vec![0i32; k * h * w];
        for j in 0..k {
            for i in 0..h {
                for x in 0..w {
                    let edge = if (x as i64 - w as i64 / 2).abs() < 3 {
                        8.0
                    } else {
                        0.5
                    };
                    let s = if j == 0 {
                        40.0 * ((i + x) as f64 * 0.05).sin() + g.gaussian()
                    } else {
                        edge * g.gaussian() / (1.0 + j as f64 * 0.3)
                    };
                    v[(j * h + i) * w + x] = s.round() as i32;
                }
            }
        }
        v
    }

    #[test]
    fn round_trips_and_beats_the_plain_coder() {
        for (k, h, w) in [(1, 1, 1), (3, 1, 50), (12, 16, 16), (20, 9, 33), (5, 40, 1)] {
            let v = latents(k, h, w, 3);
            let f = encode(&v, k, h, w).unwrap();
            assert_eq!(decode(&f, k, h, w).unwrap(), v, "{k}×{h}×{w}");
            let g = encode_plain(&v, k, h, w).unwrap();
            assert_eq!(decode_plain(&g, k, h, w).unwrap(), v);
        }
        let v = latents(12, 64, 64, 4);
        let (a, b) = (
            encode(&v, 12, 64, 64).unwrap().len(),
            encode_plain(&v, 12, 64, 64).unwrap().len(),
        );
        assert!(a < b * 9 / 10, "context {a} vs plain {b}");
        // Extreme values survive (prediction wraps).
        let x = vec![i32::MAX, i32::MIN, 0, -1, i32::MAX, 7];
        assert_eq!(decode(&encode(&x, 1, 2, 3).unwrap(), 1, 2, 3).unwrap(), x);
    }

    #[test]
    fn sparse_contexts_merge_into_their_neighbours() {
        let mut counts = [0usize; CONTEXTS];
        counts[0] = 1000;
        counts[1] = 10; // sparse: joins context 0
        counts[3] = 600; // starts a segment at min 512
        counts[9] = 5000;
        assert_eq!(segment_starts(&counts, 0), 1 | 1 << 1 | 1 << 3 | 1 << 9);
        let s = segment_starts(&counts, 512);
        assert_eq!(s, 1 | 1 << 3 | 1 << 9);
        let seg = segment_of(s);
        assert_eq!(
            (seg[0], seg[1], seg[2], seg[3], seg[8], seg[9], seg[47]),
            (0, 0, 0, 1, 1, 2, 2)
        );
        // Whatever merge the encoder keeps, the stream round-trips.
        let v = latents(6, 20, 24, 7);
        let f = encode(&v, 6, 20, 24).unwrap();
        assert_eq!(decode(&f, 6, 20, 24).unwrap(), v);
    }

    #[test]
    fn damaged_or_mismatched_streams_are_errors() {
        let v = latents(4, 8, 8, 5);
        let f = encode(&v, 4, 8, 8).unwrap();
        assert!(decode(&f, 4, 8, 9).is_err());
        assert!(decode(&f, 5, 8, 8).is_err());
        for n in [0, 1, f.len() / 2, f.len() - 1] {
            assert!(decode(&f[..n], 4, 8, 8).is_err());
        }
        assert!(encode(&v, 4, 8, 7).is_err());
    }
}
