//! Byte-wise rANS for short, independently decodable streams (one per stored vector).
//!
//! Duda's rANS with a 32-bit state in `[L, 256·L)`, `L = 2^23`, and byte renormalisation
//! (the `rans_byte` layout of ryg_rans). Coding step for a symbol of frequency `f` and
//! cumulative frequency `c` at precision `P`: encode `x ← ⌊x/f⌋·2^P + (x mod f) + c`
//! (after emitting low bytes while `x ≥ f·2^(31−P)`), decode
//! `x ← f·⌊x/2^P⌋ + (x mod 2^P) − c` (then reading bytes while `x < L`).
//!
//! Stream: `u32` final encoder state (little-endian), then the renormalisation bytes in
//! decoder order. The encoder runs backwards from an initial state `L + payload`
//! (`payload < 2^30`) instead of the usual `L`: a decoder that has read every symbol ends
//! exactly at that state and hands the payload back. The stream costs
//! `32 + log2(x₀) − log2(x_final)` bits beyond the information of its symbols (the flush);
//! with `p` payload bits of uniformly distributed data (the codec stores signs of
//! coefficients there) that overhead is recovered up to about 5 bits for `p = 30`, and
//! `log2(L + payload) ≈ 23` keeps it about `28 − p` bits for small `p` (an initial state of
//! `2^30 + payload` would waste the unused payload bits). A decoder that does not end in
//! `[L, L + 2^30)` with every byte consumed reports corruption.

use crate::{Error, Result};

/// Resolution of the decoder's start tables: `2^START_BITS` entries per model.
pub const START_BITS: u32 = 6;
/// Precision of the models in a [`Packed`] table.
pub const PACKED_PREC: u32 = 12;
/// Lower bound of the normalised state interval.
const L: u32 = 1 << 23;
/// Payload bits carried by the initial state.
pub const PAYLOAD_BITS: u32 = 30;
const PAYLOAD_LIMIT: u32 = 1 << PAYLOAD_BITS;

/// Models packed into one array for decoding (no pointer chasing per symbol): a record is
/// `[alphabet, escape flag, start × 2^START_BITS, cum × (alphabet + 1)]` (`u16` each, cum
/// at [`PACKED_PREC`]); `start[t]` is the symbol holding slot `t·2^(PREC − START_BITS)`,
/// where the decoder's scan begins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    /// The records back to back.
    pub tab: Vec<u16>,
}

impl Packed {
    /// Appends the model with cumulative frequencies `cum` (`cum[0] = 0`, last
    /// `= 2^PACKED_PREC`) and returns its offset.
    pub fn push(&mut self, cum: &[u32], esc: bool) -> u32 {
        let off = self.tab.len() as u32;
        let alpha = cum.len() - 1;
        self.tab.push(alpha as u16);
        self.tab.push(esc as u16);
        let mut sym = 0usize;
        for t in 0..1u32 << START_BITS {
            let slot = t << (PACKED_PREC - START_BITS);
            while cum[sym + 1] <= slot {
                sym += 1;
            }
            self.tab.push(sym as u16);
        }
        self.tab.extend(cum.iter().map(|&c| c as u16));
        off
    }

    /// The record at `off`.
    #[inline(always)]
    pub fn rec(&self, off: u32) -> &[u16] {
        &self.tab[off as usize..]
    }
}

/// One coding step: frequency, cumulative frequency, precision (log2 of the total).
#[derive(Debug, Clone, Copy)]
struct Op {
    freq: u32,
    cum: u32,
    precision: u32,
}

/// Collects symbols in decoder order, then codes them backwards ([`Encoder::finish`]).
#[derive(Debug, Default)]
pub struct Encoder {
    ops: Vec<Op>,
    rev: Vec<u8>,
}

impl Encoder {
    /// Forgets the symbols of the previous stream (keeps the allocations).
    pub fn clear(&mut self) {
        self.ops.clear();
    }

    /// Appends a symbol with frequency `freq > 0` and cumulative frequency `cum` at
    /// `precision` (1..=16).
    #[inline]
    pub fn symbol(&mut self, freq: u32, cum: u32, precision: u32) {
        debug_assert!(freq > 0 && (1..=16).contains(&precision));
        debug_assert!(cum + freq <= 1 << precision);
        self.ops.push(Op {
            freq,
            cum,
            precision,
        });
    }

    /// Appends one equiprobable bit.
    #[inline]
    pub fn bit(&mut self, b: bool) {
        self.symbol(1, b as u32, 1);
    }

    /// Appends `v` as an order-0 exponential-Golomb code of equiprobable bits
    /// (`2·⌊log2(v+1)⌋ + 1` bits): `z` zeros, then the `z+1` bits of `v+1`, MSB first.
    pub fn exp_golomb(&mut self, v: u32) {
        let w = u64::from(v) + 1;
        let z = 63 - w.leading_zeros();
        for _ in 0..z {
            self.bit(false);
        }
        for i in (0..=z).rev() {
            self.bit((w >> i) & 1 == 1);
        }
    }

    /// Codes the collected symbols with `payload` (< 2^30) in the initial state and
    /// appends the stream to `out`.
    pub fn finish(&mut self, payload: u32, out: &mut Vec<u8>) {
        debug_assert!(payload < PAYLOAD_LIMIT);
        let mut x = L + (payload & (PAYLOAD_LIMIT - 1));
        self.rev.clear();
        for op in self.ops.iter().rev() {
            // x_max = ((L >> P) << 8) · f: the largest state that stays below 256·L after
            // the step.
            let x_max = ((L >> op.precision) << 8) * op.freq;
            while x >= x_max {
                self.rev.push(x as u8);
                x >>= 8;
            }
            x = ((x / op.freq) << op.precision) + (x % op.freq) + op.cum;
        }
        out.extend_from_slice(&x.to_le_bytes());
        out.extend(self.rev.iter().rev());
    }
}

/// Decodes one stream written by [`Encoder::finish`].
#[derive(Debug)]
pub struct Decoder<'a> {
    x: u32,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `stream` (the whole stream of one vector).
    pub fn new(stream: &'a [u8]) -> Result<Self> {
        if stream.len() < 4 {
            return Err(Error::corrupt(format!(
                "vector stream of {} bytes (at least 4)",
                stream.len()
            )));
        }
        let x = u32::from_le_bytes([stream[0], stream[1], stream[2], stream[3]]);
        if !(L..=u32::MAX >> 1).contains(&x) {
            return Err(Error::corrupt(format!("rANS state {x:#x} out of range")));
        }
        Ok(Decoder {
            x,
            bytes: &stream[4..],
            pos: 0,
        })
    }

    /// One conditional renormalisation step, written without a branch (the condition is
    /// data-dependent and mispredicts often): read a byte (0 past the end) and keep it only
    /// if the state is below `L`.
    #[inline(always)]
    fn renorm_step(&mut self) {
        let need = self.x < L;
        let b = u32::from(self.bytes.get(self.pos).copied().unwrap_or(0));
        self.x = if need { (self.x << 8) | b } else { self.x };
        self.pos += need as usize;
    }

    /// Reads bytes until the state is back in `[L, 256·L)`. Past the end it reads zeros
    /// and [`Decoder::finish`] reports the overrun. A symbol of precision ≤ 12 leaves the
    /// state ≥ `2^11`, so two steps always suffice there; the loop covers the rest.
    #[inline(always)]
    fn renorm(&mut self) {
        self.renorm_step();
        self.renorm_step();
        while self.x < L {
            self.renorm_step();
        }
    }

    /// Decodes one symbol of a table given as cumulative frequencies `cum` (`cum[0] = 0`,
    /// `cum[len − 1] = 2^precision`, non-decreasing): the `s` with
    /// `cum[s] ≤ slot < cum[s + 1]`, found by a linear scan that starts at
    /// `start[slot >> (precision − START_BITS)]` (the symbol holding the first slot of that
    /// `2^START_BITS`-th of the range; an empty `start` starts the scan at 0).
    #[inline]
    pub fn symbol(&mut self, cum: &[u32], start: &[u16], precision: u32) -> usize {
        let slot = self.x & ((1 << precision) - 1);
        let mut s = start
            .get((slot >> precision.saturating_sub(START_BITS)) as usize)
            .map_or(0, |&v| v as usize);
        while cum[s + 1] <= slot {
            s += 1;
        }
        let (c, f) = (cum[s], cum[s + 1] - cum[s]);
        self.x = f * (self.x >> precision) + slot - c;
        self.renorm();
        s
    }

    /// Decodes one symbol of a packed model record ([`Packed`]).
    #[inline(always)]
    pub fn symbol_packed(&mut self, rec: &[u16]) -> usize {
        let slot = self.x & ((1 << PACKED_PREC) - 1);
        let start = &rec[2..2 + (1 << START_BITS)];
        let cum = &rec[2 + (1 << START_BITS)..];
        let mut s = start[(slot >> (PACKED_PREC - START_BITS)) as usize] as usize;
        while u32::from(cum[s + 1]) <= slot {
            s += 1;
        }
        let (c, f) = (u32::from(cum[s]), u32::from(cum[s + 1] - cum[s]));
        self.x = f * (self.x >> PACKED_PREC) + slot - c;
        self.renorm();
        s
    }

    /// Decodes one equiprobable bit.
    #[inline]
    pub fn bit(&mut self) -> bool {
        let b = self.x & 1 == 1;
        self.x >>= 1;
        self.renorm();
        b
    }

    /// Decodes an equiprobable bit if `cond`, else returns false and reads nothing (the
    /// same as `cond && self.bit()`, without a branch).
    #[inline]
    pub fn bit_if(&mut self, cond: bool) -> bool {
        let s = cond as u32;
        let b = self.x & s;
        self.x >>= s;
        self.renorm_step();
        b == 1
    }

    /// Decodes an order-0 exponential-Golomb value ([`Encoder::exp_golomb`]). Fails on more
    /// than 31 leading zeros (corrupt input).
    pub fn exp_golomb(&mut self) -> Result<u32> {
        let mut z = 0;
        while !self.bit() {
            z += 1;
            if z > 31 {
                return Err(Error::corrupt("exp-Golomb code longer than 32 bits"));
            }
        }
        let mut w: u64 = 1;
        for _ in 0..z {
            w = (w << 1) | self.bit() as u64;
        }
        Ok((w - 1) as u32)
    }

    /// Ends the stream: checks every byte was consumed and the state is a valid initial
    /// state, and returns the payload.
    pub fn finish(self) -> Result<u32> {
        if self.pos != self.bytes.len() || !(L..L + PAYLOAD_LIMIT).contains(&self.x) {
            return Err(Error::corrupt(format!(
                "vector stream does not end cleanly (read {} of {} bytes, final state {:#x})",
                self.pos,
                self.bytes.len(),
                self.x
            )));
        }
        Ok(self.x - L)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cum_of(freqs: &[u32]) -> Vec<u32> {
        let mut c = vec![0];
        for &f in freqs {
            c.push(c.last().unwrap() + f);
        }
        c
    }

    #[test]
    fn round_trips_symbols_bits_golomb_and_payload() {
        let freqs = [3000u32, 700, 300, 60, 35, 1];
        let cum = cum_of(&freqs);
        let p = 12;
        let mut s = 12345u64;
        for n in [0usize, 1, 2, 5, 50, 400] {
            let mut enc = Encoder::default();
            let mut want = Vec::new();
            for i in 0..n {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (s >> 33) as u32 % 4096;
                let sym = cum.iter().rposition(|&c| c <= r).unwrap().min(5);
                enc.symbol(freqs[sym], cum[sym], p);
                enc.bit(i % 3 == 0);
                enc.exp_golomb((s >> 50) as u32 % 40);
                want.push((sym, i % 3 == 0, (s >> 50) as u32 % 40));
            }
            let payload = (s as u32) & ((1 << 30) - 1);
            let mut out = Vec::new();
            enc.finish(payload, &mut out);
            let mut dec = Decoder::new(&out).unwrap();
            for &(sym, b, g) in &want {
                assert_eq!(dec.symbol(&cum, &[], p), sym);
                assert_eq!(dec.bit(), b);
                assert_eq!(dec.exp_golomb().unwrap(), g);
            }
            assert_eq!(dec.finish().unwrap(), payload, "n={n}");
            if n == 0 {
                assert_eq!(out.len(), 4);
            }
        }
    }

    #[test]
    fn cost_is_information_plus_under_a_byte_or_so() {
        // 1000 fair bits plus 30 payload bits: 1030 bits of information; the stream may
        // add at most a byte and a half.
        let mut enc = Encoder::default();
        for i in 0..1000 {
            enc.bit(i % 7 < 3);
        }
        let mut out = Vec::new();
        enc.finish(0x2345_6789, &mut out);
        assert!(out.len() * 8 <= 1030 + 12, "{}", out.len());
    }

    #[test]
    fn truncation_and_bad_states_are_errors() {
        let mut enc = Encoder::default();
        for i in 0..200 {
            enc.bit(i % 5 == 0);
        }
        let mut out = Vec::new();
        enc.finish(7, &mut out);
        let mut dec = Decoder::new(&out[..out.len() - 1]).unwrap();
        for _ in 0..200 {
            dec.bit();
        }
        assert!(dec.finish().is_err());
        assert!(Decoder::new(&[1, 2]).is_err());
        assert!(Decoder::new(&[0, 0, 0, 0]).is_err());
        // Extra trailing byte.
        let mut long = out.clone();
        long.push(0);
        let mut dec = Decoder::new(&long).unwrap();
        for _ in 0..200 {
            dec.bit();
        }
        assert!(dec.finish().is_err());
    }
}
