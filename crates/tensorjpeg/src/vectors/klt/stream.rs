//! One vector's bits: its coarse bytes (the cell of each coarse component, fixed-rate) and
//! its rANS stream.
//!
//! Stream order (decoder order): first, for each coarse component whose cell holds more
//! than one index, the offset of the index inside the cell (the cell's refinement model);
//! then for each entropy-coded component `j` (in [`Params::stream`] order): its magnitude
//! under model `(ctx(|q_{j−1}|), bucket_j)`, the exp-Golomb excess when that is the model's
//! escape, and for a non-zero magnitude its sign — except the signs of the first 30
//! non-zero entropy-coded components, which ride in the stream's initial state
//! ([`crate::entropy::byte_rans`]).

use super::component::{MagModel, MAX_MAG, PREC};
use super::params::{ctx_of, Params};
use crate::entropy::byte_rans::{Decoder, Encoder, PAYLOAD_BITS};
use crate::{Error, Result};

#[inline]
fn put(enc: &mut Encoder, m: &MagModel, s: usize) {
    let (c0, c1) = (m.cum[s], m.cum[s + 1]);
    debug_assert!(c1 > c0, "symbol {s} has no frequency");
    enc.symbol(c1 - c0, c0, PREC);
}

/// Writes vector `q` (`k` quantization indices): its coarse fields into `coarse`
/// (`coarse_bytes` long) and its stream onto `out`.
pub fn encode_vector(
    p: &Params,
    q: &[i32],
    enc: &mut Encoder,
    coarse: &mut [u8],
    out: &mut Vec<u8>,
) {
    debug_assert_eq!(q.len(), p.k());
    coarse.fill(0);
    enc.clear();
    for &(j, b, s) in &p.fields {
        let cc = &p.coarse[j];
        let c = cc.cell_of(q[j]);
        coarse[b] |= (c as u8) << s;
        let cell = &cc.cells[c];
        if let Some(m) = &cell.refine {
            put(enc, m, (q[j] - cell.lo) as usize);
        }
    }
    let (mut payload, mut npay) = (0u32, 0u32);
    for (t, &j) in p.stream.iter().enumerate() {
        let prev = if j > 0 { q[j - 1].unsigned_abs() } else { 0 };
        let a = q[j].unsigned_abs();
        let model = &p.models[ctx_of(prev) * p.n_buckets + p.bucket[t] as usize];
        let alpha = model.alpha() as u32;
        let s = if model.esc { a.min(alpha - 1) } else { a };
        debug_assert!(s < alpha, "magnitude {a} outside its model");
        put(enc, model, s as usize);
        if model.esc && s == alpha - 1 {
            enc.exp_golomb(a - s);
        }
        if a > 0 {
            let neg = q[j] < 0;
            if npay < PAYLOAD_BITS {
                payload |= (neg as u32) << npay;
                npay += 1;
            } else {
                enc.bit(neg);
            }
        }
    }
    enc.finish(payload, out);
}

/// Cell index of coarse field `f` (an entry of [`Params::fields`]) in `coarse`.
#[inline]
pub fn field(p: &Params, f: usize, coarse: &[u8]) -> usize {
    let (j, b, s) = p.fields[f];
    let w = p.coarse[j].width;
    ((u32::from(coarse[b]) >> s) & ((1u32 << w) - 1)) as usize
}

#[inline]
fn get(dec: &mut Decoder, m: &MagModel) -> usize {
    dec.symbol(&m.cum, &[], PREC)
}

/// Decodes vector `q` (`k` indices) from its coarse bytes and stream.
pub fn decode_vector(p: &Params, coarse: &[u8], stream: &[u8], q: &mut [i32]) -> Result<()> {
    let mut dec = Decoder::new(stream)?;
    for f in 0..p.fields.len() {
        let j = p.fields[f].0;
        let cell = &p.coarse[j].cells[field(p, f, coarse)];
        q[j] = match &cell.refine {
            Some(m) => cell.lo + get(&mut dec, m) as i32,
            None => cell.lo,
        };
    }
    // Components whose sign is in the payload.
    let mut pay = [0u32; PAYLOAD_BITS as usize];
    let mut npay = 0usize;
    for (t, &j) in p.stream.iter().enumerate() {
        let prev = if j > 0 { q[j - 1].unsigned_abs() } else { 0 };
        let model = &p.models[ctx_of(prev) * p.n_buckets + p.bucket[t] as usize];
        let mut a = get(&mut dec, model) as u32;
        if model.esc && a as usize == model.alpha() - 1 {
            let x = dec.exp_golomb()?;
            if x > MAX_MAG {
                return Err(Error::corrupt("klt: magnitude escape too large"));
            }
            a += x;
        }
        let mut v = a as i32;
        if a > 0 {
            if npay < pay.len() {
                pay[npay] = j as u32;
                npay += 1;
            } else if dec.bit() {
                v = -v;
            }
        }
        q[j] = v;
    }
    let payload = dec.finish()?;
    for (t, &j) in pay[..npay].iter().enumerate() {
        if (payload >> t) & 1 == 1 {
            q[j as usize] = -q[j as usize];
        }
    }
    Ok(())
}

/// Vectors decoded together by [`decode_group`].
pub const GROUP: usize = 4;

/// Decodes up to [`GROUP`] vectors in lockstep, `(coarse bytes, stream)` each, into
/// `q[g·k..(g+1)·k]`: the same steps as [`decode_vector`], interleaved so the
/// independent rANS state chains of the vectors overlap in the CPU (one vector's chain is
/// a sequence of dependent loads and multiplies). Same results as [`decode_vector`].
pub fn decode_group(p: &Params, items: &[(&[u8], &[u8])], q: &mut [i32]) -> Result<()> {
    let k = p.k();
    let g = items.len();
    assert!(g <= GROUP && q.len() == g * k);
    if g == 0 {
        return Ok(());
    }
    // Every lane runs (fixed-size arrays keep the lanes in registers and the loops
    // unrolled); a missing vector decodes a dummy stream whose results are dropped.
    const DUMMY: [u8; 4] = [0, 0, 0x80, 0];
    let mut decs: [Decoder; GROUP] = [
        Decoder::new(&DUMMY)?,
        Decoder::new(&DUMMY)?,
        Decoder::new(&DUMMY)?,
        Decoder::new(&DUMMY)?,
    ];
    let mut coarse: [&[u8]; GROUP] = [&[]; GROUP];
    for (l, &(c, s)) in items.iter().enumerate() {
        decs[l] = Decoder::new(s)?;
        coarse[l] = c;
    }
    let mut buf = [0i32; GROUP * 512];
    let mut big = Vec::new();
    let qa: &mut [i32] = if k <= 512 {
        &mut buf[..GROUP * k]
    } else {
        big.resize(GROUP * k, 0);
        &mut big
    };
    for f in 0..p.fields.len() {
        let j = p.fields[f].0;
        let (cells, offs) = (&p.coarse[j].cells, &p.cell_off[j]);
        for l in 0..GROUP {
            let c = if l < g { field(p, f, coarse[l]) } else { 0 };
            qa[l * k + j] = cells[c].lo
                + match offs[c] {
                    u32::MAX => 0,
                    off => decs[l].symbol_packed(p.packed.rec(off)) as i32,
                };
        }
    }
    // One spare slot so the payload bookkeeping can write unconditionally.
    const NP: usize = PAYLOAD_BITS as usize;
    let mut pay = [[0u32; NP + 1]; GROUP];
    let mut npay = [0usize; GROUP];
    let mut bad = false;
    for (t, &j) in p.stream.iter().enumerate() {
        let bucket = p.bucket[t] as usize;
        for l in 0..GROUP {
            let prev = if j > 0 {
                qa[l * k + j - 1].unsigned_abs()
            } else {
                0
            };
            let rec = p
                .packed
                .rec(p.model_off[ctx_of(prev) * p.n_buckets + bucket]);
            let dec = &mut decs[l];
            let mut a = dec.symbol_packed(rec) as u32;
            // rec[0]: alphabet, rec[1]: escape flag.
            if rec[1] != 0 && a + 1 == u32::from(rec[0]) {
                match dec.exp_golomb() {
                    Ok(x) if x <= MAX_MAG => a += x,
                    _ => bad |= l < g,
                }
            }
            // Branch-free: the sign goes to the payload list (first 30 non-zeros) or is
            // read from the stream.
            let in_pay = a > 0 && npay[l] < NP;
            pay[l][npay[l]] = j as u32;
            npay[l] += in_pay as usize;
            let neg = dec.bit_if(a > 0 && !in_pay);
            qa[l * k + j] = if neg { -(a as i32) } else { a as i32 };
        }
    }
    if bad {
        return Err(Error::corrupt("klt: bad magnitude escape"));
    }
    for (l, dec) in decs.into_iter().enumerate().take(g) {
        let payload = dec.finish()?;
        let ql = &mut qa[l * k..(l + 1) * k];
        for (t, &j) in pay[l][..npay[l]].iter().enumerate() {
            if (payload >> t) & 1 == 1 {
                ql[j as usize] = -ql[j as usize];
            }
        }
    }
    q.copy_from_slice(&qa[..g * k]);
    Ok(())
}
