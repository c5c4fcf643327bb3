//! Lossless repacking of GGUF block data: the symbols of Q4_0, Q4_1 and Q8_0 blocks
//! entropy-coded with static context models, restored bit for bit.
//!
//! A quantized GGUF file is already small, but its blocks are stored at a fixed rate: a
//! Q4_1 nibble takes 4 bits although its order-0 entropy on SmolLM2 is 3.85, and the f16
//! scales and minima take 1 bit per weight where their entropy is about half that. This
//! module codes exactly those symbols with rANS ([`crate::entropy::rans::encode_mixed`]),
//! each with the static table of its context:
//!
//! | field | symbols | context |
//! |---|---|---|
//! | `d` (f16 scale) | high byte, low byte | high: the previous block's high byte |
//! | `m` (Q4_1 minimum) | high byte, low byte | high: this block's `d` high byte |
//! | nibbles (Q4_0, Q4_1) | the position of the first 0 and of the first 15 (or none), then the other nibbles | the block's zero point `−m/d` in quarter steps (Q4_1), and its scale against the previous block's |
//! | bytes (Q8_0) | 32 per block | the column's class (its RMS in block units relative to the tensor's median, in quarter octaves; stored per tensor), and the block's scale against the previous block's |
//!
//! Contexts come from integer arithmetic on the stored bits, or from correctly rounded
//! f32 division, so every platform derives the same ones.
//!
//! Every Q4_1 block llama.cpp writes holds a 0 (its minimum) and a 15 (its maximum); coding
//! their positions (5 bits each) is cheaper than coding them as rare symbols. The model's
//! tables are fitted once on every tensor of a file ([`Model::fit`]) and stored once
//! ([`Model::write`]); each tensor is then one rANS stream ([`encode`]) that decodes on its
//! own ([`decode`]), so tensors code and decode in parallel. The symbol order is defined
//! once ([`walk`]), for counting, encoding and decoding alike.
//!
//! What is gained, measured on SmolLM2-135M's Q4_1 file: docs/RESULTS.md ("Lossless GGUF
//! repack"). The file layer (the GGUF header, other tensor types, the checksums of the
//! restored file) is `tensorjpeg-io`'s `repack` module.

use half::f16;

use crate::baselines::ggml::{Kind, QK};
use crate::bytes::{ByteReader, ByteWriter};
use crate::entropy::model::FreqTable;
use crate::entropy::rans::{self, DecodeTable, MixedDecoder, LANES};
use crate::error::{Error, Result};

// Table groups inside one block kind's range of table indices.
const T_DHI: usize = 0; // 256 contexts
const T_DLO: usize = 256;
const T_MHI: usize = 257; // 256 contexts
const T_MLO: usize = 513;
const T_POS0: usize = 514;
const T_POS15: usize = 515;
const T_NIB: usize = 516; // ZCTX × RATIOS contexts
const T_BYTE: usize = T_NIB + ZCTX * RATIOS; // CLASSES × RATIOS contexts
const STRIDE: usize = T_BYTE + CLASSES * RATIOS;
/// Scale-ratio classes: `d` against the previous block's in the same row, in quarter
/// octaves −7..=7, and 15 for a row's first block.
const RATIOS: usize = 16;
/// Zero-point contexts: `⌊4·clamp(−m/d, 0, 15.99)⌋` (0..64) for Q4_1, 64 for Q4_0.
const ZCTX: usize = 65;
/// Column classes of a Q8_0 tensor: quarter octaves −8..=8 around the median.
const CLASSES: usize = 17;
/// Position symbols: 0..32 = the position, 32 = not present.
const NO_POS: u16 = QK as u16;

/// Which contexts the nibble and byte tables are split by.
///
/// A repacked file ([`Contexts::File`]) stores one model for all its tensors, so it can
/// afford ~1,000 nibble contexts (the zero point in quarter steps × the scale ratio). A
/// tensor coded on its own (the container's `q4_1:packed` codecs) stores its own tables,
/// and those contexts would cost ~9 KB per tensor — 0.2 bits per weight on SmolLM2's
/// matrices; [`Contexts::Tensor`] keeps the zero point in whole steps and drops the scale
/// ratio from the nibble and byte contexts (17 nibble tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Contexts {
    /// The repacked file's contexts (the `.tjgguf` format).
    #[default]
    File,
    /// Fewer contexts, for a model stored with each tensor.
    Tensor,
}

/// The block kinds this module models; a kind's position here is its code in files
/// ([`kind_code`]) and orders the model's tables.
pub const KINDS: [Kind; 3] = [Kind::Q4_0, Kind::Q4_1, Kind::Q8_0];

/// The code of a block kind (its position in [`KINDS`]).
pub fn kind_code(kind: Kind) -> u8 {
    KINDS
        .iter()
        .position(|&k| k == kind)
        .expect("every kind is in KINDS") as u8
}

/// The block kind of a code, if it names one.
pub fn kind_of_code(code: u8) -> Option<Kind> {
    KINDS.get(usize::from(code)).copied()
}

fn kind_base(kind: Kind) -> usize {
    STRIDE * usize::from(kind_code(kind))
}

/// Alphabet of table `t`.
fn alphabet(t: usize) -> usize {
    match t % STRIDE {
        T_POS0 | T_POS15 => QK + 1,
        x if (T_NIB..T_BYTE).contains(&x) => 16,
        _ => 256,
    }
}

/// One tensor's block data, as it lies in a GGUF file.
#[derive(Debug, Clone, Copy)]
pub struct Blocks<'a> {
    /// The block format.
    pub kind: Kind,
    /// Values per row (the GGUF `ne0`): a multiple of 32.
    pub row_len: usize,
    /// The blocks, row after row.
    pub data: &'a [u8],
}

impl Blocks<'_> {
    fn check(&self) -> Result<()> {
        let bb = self.kind.block_bytes();
        if self.row_len == 0 || !self.row_len.is_multiple_of(QK) {
            return Err(Error::param(
                "row length",
                self.row_len,
                "a positive multiple of 32",
            ));
        }
        if !self.data.len().is_multiple_of(bb * (self.row_len / QK)) {
            return Err(Error::param(
                "block data length",
                self.data.len(),
                format!("whole rows of {} blocks of {bb} bytes", self.row_len / QK),
            ));
        }
        Ok(())
    }
}

/// What [`walk`] hands each symbol to: it returns the symbol to store (the given one when
/// counting or encoding, the decoded one when decoding).
trait Sink {
    fn code(&mut self, table: usize, sym: u16) -> Result<u16>;
}

/// The zero-point context of a Q4_1 block from its stored `d` and `m` (f32 arithmetic on
/// the f16 values: the same on every platform).
fn zero_context(d: u16, m: u16) -> usize {
    let z = -f16::from_bits(m).to_f32() / f16::from_bits(d).to_f32();
    if z.is_finite() {
        (z.clamp(0.0, 15.99) * 4.0) as usize
    } else {
        0
    }
}

/// The scale-ratio class of a block's `d` against the previous block's (`None` at a row's
/// start): integer arithmetic on the f16 bits (exponent and two mantissa bits, a quarter-
/// octave log scale), so every platform derives the same context.
fn ratio_class(prev: Option<u16>, d: u16) -> usize {
    let q = |b: u16| i32::from((b & 0x7fff) >> 8);
    match prev {
        Some(p) => ((q(d) - q(p)).clamp(-7, 7) + 7) as usize,
        None => RATIOS - 1,
    }
}

/// The one definition of the symbol order: visits every block of `data` (decoding: zeros,
/// overwritten as the symbols come back), handing each symbol to `sink` with its table.
fn walk(
    ctx: Contexts,
    kind: Kind,
    row_len: usize,
    classes: &[u8],
    data: &mut [u8],
    sink: &mut impl Sink,
) -> Result<()> {
    let base = kind_base(kind);
    let bb = kind.block_bytes();
    let per_row = row_len / QK;
    let mut prev_dhi = 0usize;
    let mut prev_d = 0u16;
    for (bi, blk) in data.chunks_exact_mut(bb).enumerate() {
        let dhi = sink.code(base + T_DHI + prev_dhi, u16::from(blk[1]))?;
        blk[1] = dhi as u8;
        blk[0] = sink.code(base + T_DLO, u16::from(blk[0]))? as u8;
        prev_dhi = dhi as usize;
        let d = u16::from_le_bytes([blk[0], blk[1]]);
        let ratio = match ctx {
            Contexts::File => ratio_class((bi % per_row != 0).then_some(prev_d), d),
            Contexts::Tensor => 0,
        };
        prev_d = d;
        match kind {
            Kind::Q8_0 => {
                let col = (bi % per_row) * QK;
                for (j, b) in blk[2..].iter_mut().enumerate() {
                    *b = sink.code(base + T_BYTE + usize::from(classes[col + j]), u16::from(*b))?
                        as u8;
                }
            }
            Kind::Q4_0 | Kind::Q4_1 => {
                let (zctx, qs) = if kind == Kind::Q4_1 {
                    blk[3] = sink.code(base + T_MHI + dhi as usize, u16::from(blk[3]))? as u8;
                    blk[2] = sink.code(base + T_MLO, u16::from(blk[2]))? as u8;
                    let m = u16::from_le_bytes([blk[2], blk[3]]);
                    match ctx {
                        Contexts::File => (zero_context(d, m), 4),
                        Contexts::Tensor => (zero_context(d, m) & !3, 4),
                    }
                } else {
                    (ZCTX - 1, 2)
                };
                let qs = &mut blk[qs..];
                let mut nib = [0u8; QK];
                for j in 0..QK / 2 {
                    nib[j] = qs[j] & 15;
                    nib[j + QK / 2] = qs[j] >> 4;
                }
                let first = |v: u8| {
                    nib.iter()
                        .position(|&x| x == v)
                        .map_or(NO_POS, |p| p as u16)
                };
                let p0 = sink.code(base + T_POS0, first(0))?;
                let p15 = sink.code(base + T_POS15, first(15))?;
                if p0 == p15 && p0 != NO_POS {
                    return Err(Error::corrupt(format!(
                        "block {bi}: the first 0 and the first 15 both at position {p0}"
                    )));
                }
                for (j, x) in nib.iter_mut().enumerate() {
                    *x = match j as u16 {
                        p if p == p0 => 0,
                        p if p == p15 => 15,
                        _ => sink.code(base + T_NIB + zctx * RATIOS + ratio, u16::from(*x))? as u8,
                    };
                }
                for j in 0..QK / 2 {
                    qs[j] = nib[j] | (nib[j + QK / 2] << 4);
                }
            }
        }
    }
    Ok(())
}

/// The column classes of a Q8_0 tensor (empty for the 4-bit kinds): each column's RMS
/// byte value relative to the median column's, in quarter octaves, clamped to ±2 octaves.
fn column_classes(b: &Blocks) -> Vec<u8> {
    if b.kind != Kind::Q8_0 {
        return Vec::new();
    }
    let bb = b.kind.block_bytes();
    let per_row = b.row_len / QK;
    let mut sq = vec![0f64; b.row_len];
    for (bi, blk) in b.data.chunks_exact(bb).enumerate() {
        let col = (bi % per_row) * QK;
        for (j, &q) in blk[2..].iter().enumerate() {
            sq[col + j] += f64::from(q as i8).powi(2);
        }
    }
    let mut sorted = sq.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mid = (CLASSES / 2) as f64;
    sq.iter()
        .map(|&s| {
            if median <= 0.0 || s <= 0.0 {
                if s > 0.0 {
                    CLASSES - 1
                } else {
                    0
                }
            } else {
                ((2.0 * (s / median).log2()).round().clamp(-mid, mid) + mid) as usize
            }
        })
        .map(|c| c as u8)
        .collect()
}

/// Symbol counts per table (the input to [`Model::fit`]); counts of several tensors add up.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    contexts: Contexts,
    counts: Vec<Vec<u64>>,
}

impl Counts {
    /// Counts the symbols of one tensor, under the repacked file's contexts.
    pub fn of(b: &Blocks) -> Result<Counts> {
        Counts::with_contexts(b, Contexts::File)
    }

    /// Counts the symbols of one tensor under `contexts`.
    pub fn with_contexts(b: &Blocks, contexts: Contexts) -> Result<Counts> {
        b.check()?;
        struct C(Vec<Vec<u64>>);
        impl Sink for C {
            fn code(&mut self, t: usize, s: u16) -> Result<u16> {
                let v = &mut self.0[t];
                if v.is_empty() {
                    v.resize(alphabet(t), 0);
                }
                v[usize::from(s)] += 1;
                Ok(s)
            }
        }
        let mut c = C(vec![Vec::new(); 3 * STRIDE]);
        let mut data = b.data.to_vec();
        walk(
            contexts,
            b.kind,
            b.row_len,
            &column_classes(b),
            &mut data,
            &mut c,
        )?;
        Ok(Counts {
            contexts,
            counts: c.0,
        })
    }

    /// Adds another tensor's counts (counted under the same contexts).
    pub fn add(&mut self, other: &Counts) {
        debug_assert!(self.counts.is_empty() || self.contexts == other.contexts);
        if self.counts.is_empty() {
            self.contexts = other.contexts;
            self.counts = vec![Vec::new(); 3 * STRIDE];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            if a.is_empty() {
                a.clone_from(b);
            } else if !b.is_empty() {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            }
        }
    }
}

/// What each group of symbols costs under `model`, in bits (the ideal code lengths of
/// the tables; the streams add a few bytes each): the 4-bit blocks' `d` (f16 scales), `m`
/// (Q4_1 minima), positions of each block's first 0 and 15 and other nibbles, then the
/// Q8_0 blocks' `d` and bytes — for reports of where the bits go.
pub fn group_bits(model: &Model, counts: &Counts) -> [(&'static str, f64); 6] {
    let mut out = [
        ("q4_d", 0.0),
        ("q4_m", 0.0),
        ("q4_positions", 0.0),
        ("q4_nibbles", 0.0),
        ("q8_d", 0.0),
        ("q8_bytes", 0.0),
    ];
    for (t, c) in counts.counts.iter().enumerate() {
        let Some(table) = model.tables.get(t).and_then(Option::as_ref) else {
            continue;
        };
        let bits = table.cost_bits(c).unwrap_or(f64::INFINITY);
        let q8 = kind_of_code((t / STRIDE) as u8) == Some(Kind::Q8_0);
        let g = match t % STRIDE {
            x if x < T_MHI && q8 => 4,
            x if x < T_MHI => 0,
            x if x < T_POS0 => 1,
            x if x < T_NIB => 2,
            x if x < T_BYTE => 3,
            _ => 5,
        };
        out[g].1 += bits;
    }
    out
}

/// The static tables of every context that occurs, fitted on a file's tensors.
#[derive(Debug, Clone)]
pub struct Model {
    contexts: Contexts,
    tables: Vec<Option<FreqTable>>,
    decode: Vec<Option<DecodeTable>>,
}

impl Model {
    /// Fits the tables to the summed counts of the tensors that will be coded with them.
    pub fn fit(counts: &Counts) -> Model {
        let tables = (0..3 * STRIDE)
            .map(|t| {
                let c = counts.counts.get(t).filter(|c| c.iter().any(|&n| n > 0))?;
                FreqTable::from_counts(c, FreqTable::precision_for(c.len()))
            })
            .collect();
        Model::with_tables(counts.contexts, tables)
    }

    fn with_tables(contexts: Contexts, tables: Vec<Option<FreqTable>>) -> Model {
        let decode = tables
            .iter()
            .map(|t| t.as_ref().map(DecodeTable::new))
            .collect();
        Model {
            contexts,
            tables,
            decode,
        }
    }

    /// Writes the tables: `varint n`, then per table `varint index`, `u8 precision`,
    /// `varint lo`, `varint span`, `varint freq × span` (the symbols `lo..lo+span`; the
    /// others have frequency 0).
    pub fn write(&self, w: &mut ByteWriter) {
        let present: Vec<(usize, &FreqTable)> = self
            .tables
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i, t.as_ref()?)))
            .collect();
        w.varint(present.len() as u64);
        for (i, t) in present {
            let lo = t.freqs.iter().position(|&f| f > 0).unwrap_or(0);
            let hi = t.freqs.iter().rposition(|&f| f > 0).map_or(lo, |h| h + 1);
            w.varint(i as u64);
            w.u8(t.precision as u8);
            w.varint(lo as u64);
            w.varint((hi - lo) as u64);
            for &f in &t.freqs[lo..hi] {
                w.varint(u64::from(f));
            }
        }
    }

    /// Reads tables written by [`Model::write`] for a repacked file, validating every one.
    pub fn read(r: &mut ByteReader) -> Result<Model> {
        Model::read_with_contexts(r, Contexts::File)
    }

    /// Reads tables written by [`Model::write`] for `contexts`, validating every one.
    pub fn read_with_contexts(r: &mut ByteReader, contexts: Contexts) -> Result<Model> {
        let n = r.varint_max("repack table count", (3 * STRIDE) as u64)? as usize;
        let mut tables: Vec<Option<FreqTable>> = vec![None; 3 * STRIDE];
        for _ in 0..n {
            let i = r.varint_max("repack table index", (3 * STRIDE - 1) as u64)? as usize;
            let precision = u32::from(r.u8()?);
            let alpha = alphabet(i);
            let lo = r.varint_max("repack table start", alpha as u64)? as usize;
            let span = r.varint_max("repack table span", (alpha - lo) as u64)? as usize;
            let mut freqs = vec![0u32; alpha];
            for f in &mut freqs[lo..lo + span] {
                *f = r.varint_max("repack frequency", 1 << 15)? as u32;
            }
            if tables[i].is_some() {
                return Err(Error::corrupt(format!("repack table {i} stored twice")));
            }
            tables[i] = Some(FreqTable::from_stored(freqs, precision)?);
        }
        Ok(Model::with_tables(contexts, tables))
    }
}

/// Codes one tensor's blocks with `model` (fitted on counts that include this tensor's):
/// `varint n_classes`, the column classes (Q8_0), `u32 state × 4`, `varint n_words`,
/// `u16 word × n_words`.
pub fn encode(model: &Model, b: &Blocks) -> Result<Vec<u8>> {
    b.check()?;
    struct E<'m>(Vec<(u16, u16)>, &'m Model);
    impl Sink for E<'_> {
        fn code(&mut self, t: usize, s: u16) -> Result<u16> {
            match &self.1.tables[t] {
                Some(table) if table.freqs[usize::from(s)] > 0 => {
                    self.0.push((t as u16, s));
                    Ok(s)
                }
                _ => Err(Error::param(
                    "repack model",
                    format!("table {t} has no code for symbol {s}"),
                    "a model fitted on this tensor",
                )),
            }
        }
    }
    let classes = column_classes(b);
    let mut e = E(Vec::with_capacity(b.data.len() * 2), model);
    let mut data = b.data.to_vec();
    walk(
        model.contexts,
        b.kind,
        b.row_len,
        &classes,
        &mut data,
        &mut e,
    )?;
    let (states, words) = rans::encode_mixed(&e.0, |t| {
        model.tables[t].as_ref().expect("checked while walking")
    });
    let mut w = ByteWriter::new();
    w.blob(&classes);
    for s in states {
        w.u32(s);
    }
    w.varint(words.len() as u64);
    for x in words {
        w.u16(x);
    }
    Ok(w.into_inner())
}

/// Restores `n_blocks` blocks of `kind` (rows of `row_len` values) from [`encode`]'s
/// bytes. The caller checks `n_blocks` against its limits before calling: a stream can
/// describe many more bytes than it holds.
pub fn decode(
    model: &Model,
    kind: Kind,
    row_len: usize,
    n_blocks: usize,
    bytes: &[u8],
) -> Result<Vec<u8>> {
    let bb = kind.block_bytes();
    let total = n_blocks
        .checked_mul(bb)
        .ok_or_else(|| Error::corrupt(format!("{n_blocks} blocks overflow")))?;
    let mut data = crate::limits::try_zeroed::<u8>(total, "repacked blocks")?;
    Blocks {
        kind,
        row_len,
        data: &data,
    }
    .check()?;
    let mut r = ByteReader::new(bytes, "repacked tensor");
    let classes = r.blob()?;
    let want = if kind == Kind::Q8_0 { row_len } else { 0 };
    if classes.len() != want || classes.iter().any(|&c| usize::from(c) >= CLASSES) {
        return Err(Error::corrupt(format!(
            "repacked tensor: {} column classes (expected {want}, each below {CLASSES})",
            classes.len()
        )));
    }
    let mut states = [0u32; LANES];
    for s in &mut states {
        *s = r.u32()?;
    }
    let n_words = r.varint_max("rANS word count", (r.remaining() / 2) as u64)? as usize;
    let words: Vec<u16> = r
        .take(n_words * 2)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    r.finish()?;
    struct D<'m, 'w>(MixedDecoder<'w>, &'m Model);
    impl Sink for D<'_, '_> {
        fn code(&mut self, t: usize, _: u16) -> Result<u16> {
            let table = self.1.decode[t].as_ref().ok_or_else(|| {
                Error::corrupt(format!(
                    "repacked tensor uses table {t}, which the model lacks"
                ))
            })?;
            Ok(self.0.next(table))
        }
    }
    let mut d = D(MixedDecoder::new(states, &words)?, model);
    walk(model.contexts, kind, row_len, classes, &mut data, &mut d)?;
    d.0.finish()?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::ggml::Kind;
    use rand::{Rng, SeedableRng};

    fn quantized(kind: Kind, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        for r in 0..rows {
            for b in 0..cols / QK {
                let mut xs = [0f32; QK];
                for (j, x) in xs.iter_mut().enumerate() {
                    let col_scale = if (b * QK + j).is_multiple_of(7) {
                        3.0
                    } else {
                        1.0
                    };
                    *x = (rng.gen::<f32>() - 0.5) * col_scale * (1.0 + (r % 5) as f32);
                }
                if r == 1 && b == 0 {
                    xs = [0.25; QK]; // a constant block: d = 0, no 15
                }
                kind.quantize_block(&xs, &mut out);
            }
        }
        out
    }

    #[test]
    fn every_kind_round_trips_bit_for_bit_and_shrinks() {
        for kind in KINDS {
            let (a, b) = (quantized(kind, 40, 96, 1), quantized(kind, 9, 64, 2));
            let ts = [
                Blocks {
                    kind,
                    row_len: 96,
                    data: &a,
                },
                Blocks {
                    kind,
                    row_len: 64,
                    data: &b,
                },
            ];
            let mut counts = Counts::default();
            for t in &ts {
                counts.add(&Counts::of(t).unwrap());
            }
            let model = Model::fit(&counts);
            let mut w = ByteWriter::new();
            model.write(&mut w);
            let stored = w.into_inner();
            let model = Model::read(&mut ByteReader::new(&stored, "model")).unwrap();
            for t in &ts {
                let coded = encode(&model, t).unwrap();
                assert!(
                    coded.len() < t.data.len(),
                    "{kind:?}: {} ≥ {}",
                    coded.len(),
                    t.data.len()
                );
                let n = t.data.len() / kind.block_bytes();
                let back = decode(&model, kind, t.row_len, n, &coded).unwrap();
                assert_eq!(back, t.data, "{kind:?}");
                // Damage is an error, never other blocks.
                let mut bad = coded.clone();
                let k = bad.len() - 3;
                bad[k] ^= 0x40;
                if let Ok(other) = decode(&model, kind, t.row_len, n, &bad) {
                    assert_ne!(other, t.data);
                }
                assert!(decode(&model, kind, t.row_len, n, &coded[..coded.len() - 2]).is_err());
            }
        }
    }

    #[test]
    fn a_model_fitted_elsewhere_is_an_error_not_a_panic() {
        let a = quantized(Kind::Q4_1, 4, 64, 3);
        let model = Model::fit(
            &Counts::of(&Blocks {
                kind: Kind::Q4_1,
                row_len: 64,
                data: &a,
            })
            .unwrap(),
        );
        let b = quantized(Kind::Q8_0, 4, 64, 3);
        assert!(encode(
            &model,
            &Blocks {
                kind: Kind::Q8_0,
                row_len: 64,
                data: &b
            }
        )
        .is_err());
        assert!(Counts::of(&Blocks {
            kind: Kind::Q8_0,
            row_len: 48,
            data: &b
        })
        .is_err());
        let coded = encode(
            &model,
            &Blocks {
                kind: Kind::Q4_1,
                row_len: 64,
                data: &a,
            },
        )
        .unwrap();
        assert!(decode(&model, Kind::Q8_0, 64, 8, &coded).is_err());
    }
}
