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
//! u64 mask of the non-empty contexts · one segment per non-empty context (in order)
//! ```
//!
//! The decoder reads every segment, then walks the same raster order, computes each
//! position's context from what it has already decoded, and takes the next symbol of that
//! context. [`encode_reference`]/[`decode_reference`] (one segment per channel, no context)
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
    let mut ctx: Vec<Vec<i32>> = vec![Vec::new(); CONTEXTS];
    for j in 0..walker.k {
        for i in 0..h {
            for x in 0..w {
                let v = codes[(j * h + i) * w + x];
                let (c, pred) = walker.context(codes, &res, j, i, x);
                if j == 0 {
                    let r = v.wrapping_sub(pred);
                    res[i * w + x] = r;
                    ctx[c].push(r);
                } else {
                    ctx[c].push(v);
                }
            }
        }
    }
    let mut out = ByteWriter::new();
    let mask = ctx
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .fold(0u64, |m, (i, _)| m | 1 << i);
    out.u64(mask);
    for s in ctx.iter().filter(|s| !s.is_empty()) {
        entropy::encode(s, &mut out);
    }
    Ok(out.into_inner())
}

/// Inverse of [`encode`].
pub fn decode(data: &[u8], k: usize, h: usize, w: usize) -> Result<Vec<i32>> {
    let total = k
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .ok_or_else(|| Error::corrupt("latent size overflows"))?;
    let mut r = ByteReader::new(data, "signal latents");
    let mask = r.u64()?;
    if mask >> CONTEXTS != 0 {
        return Err(Error::corrupt(format!(
            "signal latents: context mask {mask:#x} names contexts beyond {CONTEXTS}"
        )));
    }
    let mut streams = Vec::with_capacity(CONTEXTS);
    let mut sum = 0usize;
    for i in 0..CONTEXTS {
        let mut s = Vec::new();
        if mask >> i & 1 == 1 {
            // The segment starts with its symbol count.
            let c = ByteReader::new(r.rest(), "signal latents")
                .varint_max("context symbol count", (total - sum) as u64)?
                as usize;
            sum += c;
            s = vec![0i32; c];
            entropy::decode(&mut r, &mut s)?;
        }
        streams.push(s.into_iter());
    }
    if sum != total {
        return Err(Error::corrupt(format!(
            "signal latents: contexts hold {sum} symbols, k·h·w = {total}"
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
                let s = streams[c].next().ok_or_else(|| {
                    Error::corrupt("signal latents: a context ran out of symbols")
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
pub fn encode_reference(codes: &[i32], k: usize, h: usize, w: usize) -> Result<Vec<u8>> {
    check(codes.len(), k, h, w)?;
    let mut out = ByteWriter::new();
    for ch in codes.chunks_exact((h * w).max(1)) {
        entropy::encode(ch, &mut out);
    }
    Ok(out.into_inner())
}

/// Inverse of [`encode_reference`].
pub fn decode_reference(data: &[u8], k: usize, h: usize, w: usize) -> Result<Vec<i32>> {
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
    use crate::transform::hadamard::SplitMix64;

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
            let g = encode_reference(&v, k, h, w).unwrap();
            assert_eq!(decode_reference(&g, k, h, w).unwrap(), v);
        }
        let v = latents(12, 64, 64, 4);
        let (a, b) = (
            encode(&v, 12, 64, 64).unwrap().len(),
            encode_reference(&v, 12, 64, 64).unwrap().len(),
        );
        assert!(a < b * 9 / 10, "context {a} vs plain {b}");
        // Extreme values survive (prediction wraps).
        let x = vec![i32::MAX, i32::MIN, 0, -1, i32::MAX, 7];
        assert_eq!(decode(&encode(&x, 1, 2, 3).unwrap(), 1, 2, 3).unwrap(), x);
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
