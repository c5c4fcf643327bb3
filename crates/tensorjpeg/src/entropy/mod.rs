//! Entropy coding (stage 4): quantized integer symbols ⇄ bytes, exactly.
//!
//! Two rANS coders live here: [`rans`], interleaved lanes of 16-bit words for long
//! segments (the tensor and signal codecs), and [`byte_rans`], byte-wise rANS for short,
//! independently decodable streams (one per stored vector in the KLT collection codec).
//!
//! A *segment* is a run of symbols coded with one static model:
//!
//! ```text
//! varint n                      number of symbols
//! u8     kind                   0 = empty, 1 = constant, 2 = rANS
//! kind 1: svarint value
//! kind 2: svarint lo            symbol s ⇔ value lo + s
//!         varint alphabet        including the escape symbol when present
//!         u8    flags            bit 0: last symbol is the escape
//!         u8    precision        log2 of the frequency total (10..=15)
//!         varint freq × alphabet
//!         varint n_escapes, svarint value × n_escapes   (values outside the window)
//!         u32 state × LANES, varint n_words, u16 word × n_words
//! ```
//!
//! [`plan`] chooses the window and the table once; [`encode`] writes it and [`cost_bits`]
//! counts it, so rate control and the real bitstream never disagree.

pub mod byte_rans;
pub mod model;
pub mod rans;

use crate::bytes::{ByteReader, ByteWriter};
use crate::error::{Error, Result};
use model::{FreqTable, MAX_ALPHABET};
use rans::{DecodeTable, LANES};

/// How a segment will be coded.
#[derive(Debug, Clone)]
pub struct Plan {
    n: usize,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Empty,
    Constant(i32),
    Rans {
        lo: i32,
        /// Alphabet size including the escape symbol if `esc`.
        alpha: usize,
        esc: bool,
        counts: Vec<u64>,
        table: FreqTable,
    },
}

fn write_len(n: usize) -> usize {
    let mut w = ByteWriter::new();
    w.varint(n as u64);
    w.buf.len()
}

fn svarint_len(v: i64) -> usize {
    let mut w = ByteWriter::new();
    w.svarint(v);
    w.buf.len()
}

/// Chooses the coding of `q`: the value window, the escape, and the frequency table.
pub fn plan(q: &[i32]) -> Plan {
    let n = q.len();
    if n == 0 {
        return Plan {
            n,
            kind: Kind::Empty,
        };
    }
    let (mut min, mut max) = (i32::MAX, i32::MIN);
    for &v in q {
        min = min.min(v);
        max = max.max(v);
    }
    if min == max {
        return Plan {
            n,
            kind: Kind::Constant(min),
        };
    }
    let span = max as i64 - min as i64 + 1;
    let (lo, alpha, esc) = if span as usize <= MAX_ALPHABET && span <= MAX_ALPHABET as i64 {
        (min, span as usize, false)
    } else {
        // Window of MAX_ALPHABET-1 values around the mean, plus an escape symbol.
        let mean = q.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let half = (MAX_ALPHABET as i64 - 1) / 2;
        let lo =
            (mean.round() as i64 - half).clamp(min as i64, max as i64 - (MAX_ALPHABET as i64 - 2));
        (lo as i32, MAX_ALPHABET, true)
    };
    let mut counts = vec![0u64; alpha];
    let w = (alpha - esc as usize) as i64;
    for &v in q {
        let s = v as i64 - lo as i64;
        let idx = if s >= 0 && s < w {
            s as usize
        } else {
            alpha - 1
        };
        counts[idx] += 1;
    }
    // Trim an unused escape.
    let table = FreqTable::from_counts(&counts, FreqTable::precision_for(alpha))
        .expect("non-empty histogram over at most MAX_ALPHABET symbols");
    Plan {
        n,
        kind: Kind::Rans {
            lo,
            alpha,
            esc,
            counts,
            table,
        },
    }
}

impl Plan {
    /// Exact size in bits of the segment [`encode`] will write, up to the rANS flush
    /// (which is bounded by `16 · LANES` bits and counted as its mean).
    pub fn cost_bits(&self, q: &[i32]) -> f64 {
        let head = write_len(self.n) + 1;
        match &self.kind {
            Kind::Empty => (head * 8) as f64,
            Kind::Constant(v) => ((head + svarint_len(*v as i64)) * 8) as f64,
            Kind::Rans {
                lo,
                alpha,
                esc,
                counts,
                table,
            } => {
                let mut bytes = head + svarint_len(*lo as i64) + write_len(*alpha) + 2;
                bytes += table
                    .freqs
                    .iter()
                    .map(|&f| write_len(f as usize))
                    .sum::<usize>();
                let n_esc = if *esc { counts[alpha - 1] as usize } else { 0 };
                bytes += write_len(n_esc);
                if n_esc > 0 {
                    let w = (alpha - 1) as i64;
                    bytes += q
                        .iter()
                        .filter(|&&v| {
                            let s = v as i64 - *lo as i64;
                            s < 0 || s >= w
                        })
                        .map(|&v| svarint_len(v as i64))
                        .sum::<usize>();
                }
                bytes += 4 * LANES + 3;
                bytes as f64 * 8.0
                    + table.cost_bits(counts).unwrap_or(f64::INFINITY)
                    + 8.0 * LANES as f64
            }
        }
    }
}

/// Estimated size of `q` coded as one segment, in bits (see [`Plan::cost_bits`]).
pub fn cost_bits(q: &[i32]) -> f64 {
    plan(q).cost_bits(q)
}

/// Codes `q` as one segment.
pub fn encode(q: &[i32], w: &mut ByteWriter) {
    encode_planned(&plan(q), q, w)
}

/// Codes `q` as one segment with a plan made by [`plan`] for the same `q`.
pub fn encode_planned(plan: &Plan, q: &[i32], w: &mut ByteWriter) {
    w.varint(plan.n as u64);
    match &plan.kind {
        Kind::Empty => w.u8(0),
        Kind::Constant(v) => {
            w.u8(1);
            w.svarint(*v as i64);
        }
        Kind::Rans {
            lo,
            alpha,
            esc,
            table,
            ..
        } => {
            w.u8(2);
            w.svarint(*lo as i64);
            w.varint(*alpha as u64);
            w.u8(*esc as u8);
            w.u8(table.precision as u8);
            for &f in &table.freqs {
                w.varint(f as u64);
            }
            let width = (alpha - *esc as usize) as i64;
            let mut escapes = Vec::new();
            let symbols: Vec<u16> = q
                .iter()
                .map(|&v| {
                    let s = v as i64 - *lo as i64;
                    if s >= 0 && s < width {
                        s as u16
                    } else {
                        escapes.push(v);
                        (alpha - 1) as u16
                    }
                })
                .collect();
            w.varint(escapes.len() as u64);
            for v in escapes {
                w.svarint(v as i64);
            }
            let (states, words) = rans::encode(&symbols, table);
            for s in states {
                w.u32(s);
            }
            w.varint(words.len() as u64);
            for word in words {
                w.u16(word);
            }
        }
    }
}

/// A segment header read from a stream, with its payload, ready to decode.
enum Parsed {
    Empty,
    Constant(i32),
    Rans {
        lo: i32,
        alpha: usize,
        esc: bool,
        table: FreqTable,
        escapes: Vec<i32>,
        states: [u32; LANES],
        words: Vec<u16>,
    },
}

/// Reads a segment's header and payload, checking it holds `n_expected` symbols.
fn parse(r: &mut ByteReader, n_expected: usize) -> Result<Parsed> {
    let n = r.varint()?;
    if n != n_expected as u64 {
        return Err(Error::corrupt(format!(
            "entropy segment holds {n} symbols, expected {n_expected}"
        )));
    }
    match r.u8()? {
        0 if n == 0 => Ok(Parsed::Empty),
        1 => {
            let v = r.svarint()?;
            let v = i32::try_from(v)
                .map_err(|_| Error::corrupt(format!("symbol {v} out of i32 range")))?;
            Ok(Parsed::Constant(v))
        }
        2 => {
            let lo = r.svarint()?;
            let lo =
                i32::try_from(lo).map_err(|_| Error::corrupt("segment window out of range"))?;
            let alpha = r.varint_max("alphabet size", MAX_ALPHABET as u64)? as usize;
            let esc = match r.u8()? {
                0 => false,
                1 => true,
                f => return Err(Error::corrupt(format!("unknown segment flags {f}"))),
            };
            let precision = u32::from(r.u8()?);
            if alpha < 2 {
                return Err(Error::corrupt(format!(
                    "alphabet size {alpha} (expected 2..={MAX_ALPHABET})"
                )));
            }
            let mut freqs = Vec::with_capacity(alpha);
            for _ in 0..alpha {
                freqs.push(r.varint_max("frequency", 1 << 15)? as u32);
            }
            let table = FreqTable::from_stored(freqs, precision)?;
            if table.freqs.iter().any(|&f| f >= 1 << 16) {
                return Err(Error::corrupt("frequency too large"));
            }
            let n_esc = r.len("escape count")?;
            if !esc && n_esc > 0 {
                return Err(Error::corrupt(
                    "escaped values stored in a segment without an escape symbol",
                ));
            }
            let mut escapes = Vec::with_capacity(n_esc);
            for _ in 0..n_esc {
                let v = r.svarint()?;
                escapes.push(
                    i32::try_from(v)
                        .map_err(|_| Error::corrupt("escaped symbol out of i32 range"))?,
                );
            }
            let mut states = [0u32; LANES];
            for s in &mut states {
                *s = r.u32()?;
            }
            let n_words = r.len("word count")?;
            let raw = r.take(
                n_words
                    .checked_mul(2)
                    .ok_or_else(|| Error::corrupt("word count overflow"))?,
            )?;
            let words: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            Ok(Parsed::Rans {
                lo,
                alpha,
                esc,
                table,
                escapes,
                states,
                words,
            })
        }
        k => Err(Error::corrupt(format!(
            "unknown entropy segment kind {k} for {n} symbols"
        ))),
    }
}

/// The number of symbols the next segment holds, without consuming it (for callers that
/// learn a segment's length from the segment and bound it before allocating).
pub fn peek_len(r: &ByteReader) -> Result<usize> {
    let n = r.clone().varint()?;
    usize::try_from(n).map_err(|_| Error::corrupt(format!("entropy segment of {n} symbols")))
}

/// Decodes one segment into `out`, whose length must equal the stored count.
pub fn decode(r: &mut ByteReader, out: &mut [i32]) -> Result<()> {
    let parsed = parse(r, out.len())?;
    decode_parsed(parsed, out)
}

fn decode_parsed(parsed: Parsed, out: &mut [i32]) -> Result<()> {
    match parsed {
        Parsed::Empty => Ok(()),
        Parsed::Constant(v) => {
            out.fill(v);
            Ok(())
        }
        Parsed::Rans {
            lo,
            alpha,
            esc,
            table,
            escapes,
            states,
            words,
        } => {
            let mut sym = vec![0u16; out.len()];
            rans::decode(states, &words, &DecodeTable::new(&table), &mut sym)?;
            let esc_sym = if esc { (alpha - 1) as u16 } else { u16::MAX };
            let mut e = escapes.iter();
            for (o, &s) in out.iter_mut().zip(&sym) {
                if s == esc_sym {
                    *o = *e.next().ok_or_else(|| {
                        Error::corrupt("fewer escaped symbols than escapes coded")
                    })?;
                } else {
                    *o = lo.wrapping_add(i32::from(s));
                }
            }
            if e.next().is_some() {
                return Err(Error::corrupt("more escaped symbols stored than used"));
            }
            Ok(())
        }
    }
}

/// Decodes one segment straight into reconstructed values: symbol value `v` becomes
/// `map(v)` (e.g. dequantization), in the same pass as the entropy decoding, without an
/// intermediate integer buffer. Same checks as [`decode`]; [`decode`] followed by `map`
/// gives identical results (tested).
pub fn decode_map(r: &mut ByteReader, out: &mut [f32], map: impl Fn(i32) -> f32) -> Result<()> {
    match parse(r, out.len())? {
        Parsed::Empty => Ok(()),
        Parsed::Constant(v) => {
            out.fill(map(v));
            Ok(())
        }
        Parsed::Rans {
            lo,
            esc: false,
            table,
            states,
            words,
            ..
        } => {
            let values: Vec<f32> = (0..table.freqs.len())
                .map(|s| map(lo.wrapping_add(s as i32)))
                .collect();
            rans::decode(
                states,
                &words,
                &DecodeTable::with_values(&table, &values),
                out,
            )
        }
        parsed => {
            // Escapes are rare (outliers beyond a 4096-symbol window): take the integer path.
            let mut q = vec![0i32; out.len()];
            decode_parsed(parsed, &mut q)?;
            for (o, v) in out.iter_mut().zip(q) {
                *o = map(v);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(q: &[i32]) -> usize {
        let mut w = ByteWriter::new();
        let p = plan(q);
        let est = p.cost_bits(q);
        encode_planned(&p, q, &mut w);
        let bytes = w.into_inner();
        let got = bytes.len() as f64 * 8.0;
        // The estimate may overshoot by the rANS flush and varint slack, never undershoot much.
        assert!(
            est >= got - 32.0 && est <= got + 8.0 * (LANES as f64 * 4.0 + 8.0),
            "estimate {est} vs {got}"
        );
        let mut r = ByteReader::new(&bytes, "segment");
        let mut out = vec![0i32; q.len()];
        decode(&mut r, &mut out).unwrap();
        r.finish().unwrap();
        assert_eq!(out, q);
        bytes.len()
    }

    #[test]
    fn special_segments() {
        round_trip(&[]);
        round_trip(&[5; 100]);
        round_trip(&[i32::MIN, i32::MAX, 0, -1]);
        let wide: Vec<i32> = (0..10_000).map(|i| (i * i) % 100_003 - 50_000).collect();
        round_trip(&wide);
    }

    #[test]
    fn laplacian_symbols_cost_near_entropy() {
        let q: Vec<i32> = (0..100_000u64)
            .map(|i| {
                let u =
                    ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64) / (1u64 << 53) as f64;
                let l = -(1.0 - u).ln() * 3.0;
                if i % 2 == 0 {
                    l as i32
                } else {
                    -(l as i32)
                }
            })
            .collect();
        let bytes = round_trip(&q);
        let mut hist = std::collections::HashMap::new();
        for &v in &q {
            *hist.entry(v).or_insert(0u64) += 1;
        }
        let counts: Vec<u64> = hist.values().copied().collect();
        let ideal = model::entropy_bits(&counts) * q.len() as f64 / 8.0;
        assert!((bytes as f64) < ideal * 1.005 + 200.0, "{bytes} vs {ideal}");
    }

    #[test]
    fn decode_map_equals_decode_then_map() {
        let cases: Vec<Vec<i32>> = vec![
            vec![],
            vec![7; 33],
            (0..5000).map(|i| (i * 7919) % 23 - 11).collect(),
            // Wide enough to need escapes.
            (0..5000)
                .map(|i| if i % 97 == 0 { i * 1000 } else { i % 5 })
                .collect(),
        ];
        let map = |v: i32| (v as f32 - 0.25 * v.signum() as f32) * 0.37;
        for q in cases {
            let mut w = ByteWriter::new();
            encode(&q, &mut w);
            let bytes = w.into_inner();
            let mut got = vec![0f32; q.len()];
            let mut r = ByteReader::new(&bytes, "segment");
            decode_map(&mut r, &mut got, map).unwrap();
            r.finish().unwrap();
            let want: Vec<f32> = q.iter().map(|&v| map(v)).collect();
            assert_eq!(got, want);
            // Corruption is caught on this path too.
            if bytes.len() > 8 {
                let mut bad = bytes.clone();
                let k = bad.len() - 3;
                bad[k] ^= 0x5a;
                let mut r = ByteReader::new(&bad, "segment");
                let res = decode_map(&mut r, &mut got, map).and_then(|_| r.finish());
                assert!(res.is_err() || got == want);
            }
        }
    }

    proptest! {
        #[test]
        fn any_symbols_round_trip(q in proptest::collection::vec(-3000i32..3000, 0..3000)) {
            round_trip(&q);
        }
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), n in 0usize..50) {
            let mut r = ByteReader::new(&bytes, "fuzz");
            let mut out = vec![0i32; n];
            let _ = decode(&mut r, &mut out);
        }
    }
}
