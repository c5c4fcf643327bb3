//! Interleaved rANS (range asymmetric numeral systems, Duda 2013; layout after ryg_rans):
//! 32-bit states, 16-bit renormalisation words, `LANES` states interleaved so that the
//! decoder's dependency chains overlap. Symbol `i` belongs to lane `i % LANES`.
//!
//! Coding step for a symbol with frequency `f` and cumulative frequency `c` at precision `P`:
//! encode `x ← ⌊x/f⌋·2^P + (x mod f) + c`, decode `x ← f·⌊x/2^P⌋ + (x mod 2^P) − c`.
//! States live in `[2^16, 2^32)`; the encoder emits the low 16 bits when `x ≥ f·2^(32−P)`,
//! the decoder reads 16 bits when `x < 2^16`. The encoder runs backwards over the symbols
//! and its word stack is reversed, so the decoder reads words front to back.
//!
//! Integrity: every lane starts at `2^16` in the encoder, so a decoder that consumed all
//! words must end with every lane back at `2^16`; anything else means corrupt input.
//!
//! The benchmark crate's `tensorjpeg_bench::constriction` codes the same symbols with the
//! `constriction` crate; its test checks both agree and the benchmarks compare their speed.

use super::model::FreqTable;
use crate::error::{Error, Result};

/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Number of interleaved states.
pub const LANES: usize = 4;

/// Encodes `symbols` (indices into `table`) and returns the final lane states and the
/// renormalisation words in decoder order. Panics only on a symbol outside the table, which
/// callers rule out by construction.
pub fn encode(symbols: &[u16], table: &FreqTable) -> ([u32; LANES], Vec<u16>) {
    let p = table.precision;
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 3 + 8);
    for (i, &s) in symbols.iter().enumerate().rev() {
        let (f, c) = (table.freqs[s as usize], table.cum[s as usize]);
        put(&mut states[i % LANES], &mut words, f, c, p);
    }
    words.reverse();
    (states, words)
}

/// One encoding step: renormalise state `x` (pushing its low 16 bits) so that it stays
/// below 2^32, then code the symbol of frequency `f` and cumulative frequency `c`.
#[inline]
fn put(x: &mut u32, words: &mut Vec<u16>, f: u32, c: u32, p: u32) {
    if u64::from(*x) >= (u64::from(f) << (32 - p)) {
        words.push(*x as u16);
        *x >>= 16;
    }
    *x = ((*x / f) << p) + (*x % f) + c;
}

/// One slot of the decoder's lookup table: the coding step's constants and the value the
/// decoder writes for the slot's symbol (the symbol index itself, or e.g. its dequantized
/// value, so that decoding and reconstruction are one pass).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Slot<T> {
    freq: u16,
    /// `slot − cum[sym]`, the offset added after the multiply.
    bias: u16,
    val: T,
}

/// Decoder lookup table: one entry per slot of `2^precision`, mapping a state's low bits
/// to a symbol's frequency, bias and output value `T`.
#[derive(Debug, Clone)]
pub struct DecodeTable<T = u16> {
    precision: u32,
    slots: Vec<Slot<T>>,
}

impl DecodeTable<u16> {
    /// Builds the slot table for `table`, decoding to symbol indices.
    /// Frequencies must be < 2^16 (true for precision ≤ 15).
    pub fn new(table: &FreqTable) -> Self {
        let values: Vec<u16> = (0..table.freqs.len()).map(|s| s as u16).collect();
        Self::with_values(table, &values)
    }
}

impl<T: Copy + Default> DecodeTable<T> {
    /// Builds the slot table for `table`, decoding symbol `s` to `values[s]`.
    /// `values` must have one entry per symbol of `table`.
    pub fn with_values(table: &FreqTable, values: &[T]) -> Self {
        assert_eq!(values.len(), table.freqs.len(), "one value per symbol");
        let mut slots = vec![Slot::default(); 1 << table.precision];
        for ((&f, &c), &val) in table.freqs.iter().zip(&table.cum).zip(values) {
            for k in 0..f {
                slots[(c + k) as usize] = Slot {
                    freq: f as u16,
                    bias: k as u16,
                    val,
                };
            }
        }
        DecodeTable {
            precision: table.precision,
            slots,
        }
    }
}

/// Decodes `out.len()` symbols, writing each symbol's table value. Fails (never panics) on
/// truncated or corrupt streams.
pub fn decode<T: Copy>(
    states: [u32; LANES],
    words: &[u16],
    table: &DecodeTable<T>,
    out: &mut [T],
) -> Result<()> {
    let p = table.precision;
    let mask = (1u32 << p) - 1;
    let slots = &table.slots[..];
    check_start(&states)?;
    let mut st = states;
    let mut pos = 0usize;
    let mut groups = out.chunks_exact_mut(LANES);
    for group in &mut groups {
        for (lane, o) in group.iter_mut().enumerate() {
            let x = st[lane];
            let e = slots[(x & mask) as usize];
            *o = e.val;
            let mut y = u32::from(e.freq) * (x >> p) + u32::from(e.bias);
            // Branch-free renormalisation: read a word (0 past the end) and keep it only
            // if the state fell below 2^16.
            let w = u32::from(words.get(pos).copied().unwrap_or(0));
            let need = y < RANS_L;
            y = if need { (y << 16) | w } else { y };
            pos += need as usize;
            st[lane] = y;
        }
    }
    for (lane, o) in groups.into_remainder().iter_mut().enumerate() {
        *o = take(&mut st[lane], table, words, &mut pos);
    }
    check_end(&st, pos, words.len())
}

/// Refuses initial states no encoder writes.
fn check_start(states: &[u32; LANES]) -> Result<()> {
    match states.iter().find(|&&x| x < RANS_L) {
        Some(x) => Err(Error::corrupt(format!("rANS state {x} below 2^16"))),
        None => Ok(()),
    }
}

/// One decoding step on state `x` with `table`, reading a word at `pos` when the state
/// falls below 2^16 (0 past the end: the end check catches it).
#[inline]
fn take<T: Copy>(x: &mut u32, table: &DecodeTable<T>, words: &[u16], pos: &mut usize) -> T {
    let p = table.precision;
    let e = table.slots[(*x & ((1u32 << p) - 1)) as usize];
    let mut y = u32::from(e.freq) * (*x >> p) + u32::from(e.bias);
    if y < RANS_L {
        y = (y << 16) | u32::from(words.get(*pos).copied().unwrap_or(0));
        *pos += 1;
    }
    *x = y;
    e.val
}

/// A stream ends where the encoder's did: every word read, every lane back at its initial
/// state; anything else means corrupt input.
fn check_end(st: &[u32; LANES], pos: usize, n_words: usize) -> Result<()> {
    if pos != n_words || st.iter().any(|&x| x != RANS_L) {
        return Err(Error::corrupt(format!(
            "rANS stream does not end cleanly (read {pos} of {n_words} words, final states {st:?})"
        )));
    }
    Ok(())
}

/// Encodes `(table, symbol)` pairs, each symbol with its own table (context modelling with
/// static tables): `table(t)` returns table `t`. The lanes, words and final states are as
/// in [`encode`], so [`MixedDecoder`] reads them back one symbol at a time, the caller
/// choosing each symbol's table from what it has decoded so far. Panics only on a symbol
/// outside its table, which callers rule out by construction.
pub fn encode_mixed<'t>(
    symbols: &[(u16, u16)],
    table: impl Fn(usize) -> &'t FreqTable,
) -> ([u32; LANES], Vec<u16>) {
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 3 + 8);
    for (i, &(t, s)) in symbols.iter().enumerate().rev() {
        let table = table(t as usize);
        let (f, c) = (table.freqs[s as usize], table.cum[s as usize]);
        put(&mut states[i % LANES], &mut words, f, c, table.precision);
    }
    words.reverse();
    (states, words)
}

/// Decodes a stream written by [`encode_mixed`] symbol by symbol.
#[derive(Debug)]
pub struct MixedDecoder<'w> {
    st: [u32; LANES],
    words: &'w [u16],
    pos: usize,
    i: usize,
}

impl<'w> MixedDecoder<'w> {
    /// Starts decoding; fails on a state no encoder writes.
    pub fn new(states: [u32; LANES], words: &'w [u16]) -> Result<Self> {
        check_start(&states)?;
        Ok(MixedDecoder {
            st: states,
            words,
            pos: 0,
            i: 0,
        })
    }

    /// Decodes the next symbol with `table` (the one the encoder used for it).
    #[inline]
    pub fn next<T: Copy>(&mut self, table: &DecodeTable<T>) -> T {
        let lane = self.i % LANES;
        self.i += 1;
        take(&mut self.st[lane], table, self.words, &mut self.pos)
    }

    /// Checks that the stream ended where the encoder's did (every word read, every lane
    /// back at its initial state): anything else means corrupt input.
    pub fn finish(self) -> Result<()> {
        check_end(&self.st, self.pos, self.words.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn table_for(symbols: &[u16], alpha: usize, p: u32) -> FreqTable {
        let mut counts = vec![0u64; alpha];
        for &s in symbols {
            counts[s as usize] += 1;
        }
        FreqTable::from_counts(&counts, p).unwrap()
    }

    #[test]
    fn round_trips_all_lengths_and_precisions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 100, 1001, 20_000] {
            for p in [12u32, 15] {
                let alpha = 37;
                let symbols: Vec<u16> = (0..n)
                    .map(|_| {
                        let g: f64 = rng.gen::<f64>() * rng.gen::<f64>();
                        ((g * alpha as f64) as u16).min(alpha as u16 - 1)
                    })
                    .collect();
                let t = table_for(&symbols, alpha, p);
                let (st, words) = encode(&symbols, &t);
                let mut out = vec![0u16; n];
                decode(st, &words, &DecodeTable::new(&t), &mut out).unwrap();
                assert_eq!(out, symbols, "n={n} p={p}");
                // Size close to the model's ideal cost.
                let mut counts = vec![0u64; alpha];
                for &s in &symbols {
                    counts[s as usize] += 1;
                }
                let ideal = t.cost_bits(&counts).unwrap();
                let got = (words.len() * 16 + LANES * 32) as f64;
                assert!(got <= ideal + (LANES * 32 + 16) as f64, "{got} vs {ideal}");
            }
        }
    }

    #[test]
    fn corrupt_words_are_detected_not_decoded() {
        let symbols: Vec<u16> = (0..5000).map(|i| ((i * 7919) % 13) as u16).collect();
        let t = table_for(&symbols, 13, 12);
        let (st, words) = encode(&symbols, &t);
        let dt = DecodeTable::new(&t);
        let mut out = vec![0u16; symbols.len()];
        // Truncated stream.
        assert!(decode(st, &words[..words.len() - 1], &dt, &mut out).is_err());
        // A flipped state.
        let mut bad = st;
        bad[1] ^= 0x10;
        assert!(decode(bad, &words, &dt, &mut out).is_err());
    }
    #[test]
    fn mixed_tables_round_trip_and_match_one_table() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let a: Vec<u16> = (0..3000).map(|_| rng.gen_range(0..5u16)).collect();
        let b: Vec<u16> = (0..3000).map(|_| rng.gen_range(0..200u16)).collect();
        let (ta, tb) = (table_for(&a, 5, 12), table_for(&b, 200, 13));
        // Alternate the two tables; the decoder picks each symbol's table itself.
        let pairs: Vec<(u16, u16)> = (0..6000)
            .map(|i| {
                if i % 3 == 0 {
                    (0, a[i / 2])
                } else {
                    (1, b[i / 2])
                }
            })
            .collect();
        let tables = [ta.clone(), tb.clone()];
        let (st, words) = encode_mixed(&pairs, |t| &tables[t]);
        let dts = [DecodeTable::new(&ta), DecodeTable::new(&tb)];
        let mut d = MixedDecoder::new(st, &words).unwrap();
        for &(t, s) in &pairs {
            assert_eq!(d.next(&dts[t as usize]), s);
        }
        d.finish().unwrap();
        // With one table it is the plain coder, word for word.
        let one: Vec<(u16, u16)> = a.iter().map(|&s| (0, s)).collect();
        assert_eq!(encode_mixed(&one, |_| &ta), encode(&a, &ta));
        // A truncated stream is an error at the end.
        let mut d = MixedDecoder::new(st, &words[..words.len() - 1]).unwrap();
        for &(t, _) in &pairs {
            d.next(&dts[t as usize]);
        }
        assert!(d.finish().is_err());
    }
}
