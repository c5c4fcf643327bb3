//! The peer entropy coder: the `constriction` crate (Bamler's ANS implementation) with the
//! same frequency tables as `tensorjpeg::entropy::rans`. A test checks both round-trip and
//! give near-identical sizes; the benchmarks compare their speed (the reason our rANS
//! exists is that it decodes faster; `cargo bench -p tensorjpeg-bench --bench throughput --
//! entropy` measures it).

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::Decode;
use tensorjpeg::entropy::model::FreqTable;
use tensorjpeg::{Error, Result};

/// constriction's model over the symbols with non-zero frequency (it allows no zeros),
/// with the maps between our symbol indices and its compact ones.
struct Model {
    m: DefaultContiguousCategoricalEntropyModel,
    /// Compact index of each symbol (`usize::MAX` for zero-frequency symbols).
    to_compact: Vec<usize>,
    /// Symbol of each compact index.
    from_compact: Vec<u16>,
}

fn model(table: &FreqTable) -> Result<Model> {
    // constriction's default precision is 24 bits; scale our 2^P frequencies up exactly.
    let shift = 24 - table.precision;
    let mut to_compact = vec![usize::MAX; table.freqs.len()];
    let mut from_compact = Vec::new();
    let mut probs = Vec::new();
    for (s, &f) in table.freqs.iter().enumerate() {
        if f > 0 {
            to_compact[s] = probs.len();
            from_compact.push(s as u16);
            probs.push(f << shift);
        }
    }
    let m = DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(
        &probs, false,
    )
    .map_err(|()| Error::corrupt("constriction rejected the frequency table"))?;
    Ok(Model {
        m,
        to_compact,
        from_compact,
    })
}

/// Encodes with constriction's ANS coder; returns its 32-bit words. Fails if a symbol has
/// zero frequency in `table`.
pub fn encode(symbols: &[u16], table: &FreqTable) -> Result<Vec<u32>> {
    let m = model(table)?;
    let mut compact = Vec::with_capacity(symbols.len());
    for &s in symbols {
        match m.to_compact.get(s as usize) {
            Some(&c) if c != usize::MAX => compact.push(c),
            _ => {
                return Err(Error::unsupported(
                    "constriction",
                    format!("symbol {s} has zero frequency"),
                ))
            }
        }
    }
    let mut coder = DefaultAnsCoder::new();
    coder
        .encode_iid_symbols_reverse(compact, &m.m)
        .map_err(|e| Error::External(format!("constriction encode: {e:?}")))?;
    Ok(coder.into_compressed().unwrap_or_default())
}

/// Decodes `out.len()` symbols from constriction's words.
pub fn decode(words: Vec<u32>, table: &FreqTable, out: &mut [u16]) -> Result<()> {
    let m = model(table)?;
    let mut coder = DefaultAnsCoder::from_compressed(words)
        .map_err(|_| Error::corrupt("constriction: invalid compressed data"))?;
    for o in out.iter_mut() {
        let s = coder
            .decode_symbol(&m.m)
            .map_err(|e| Error::corrupt(format!("constriction decode: {e:?}")))?;
        *o = m.from_compact[s];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constriction_and_our_rans_agree_on_symbols_and_size() {
        let symbols: Vec<u16> = (0..50_000u32)
            .map(|i| {
                let h = i.wrapping_mul(2_654_435_761) >> 16;
                ((h % 97) * (h % 89) / 700).min(15) as u16
            })
            .collect();
        let mut counts = [0u64; 16];
        for &s in &symbols {
            counts[s as usize] += 1;
        }
        // A symbol that never occurs inside the alphabet (constriction allows no zeros).
        let symbols: Vec<u16> = symbols
            .into_iter()
            .map(|s| if s == 3 { 2 } else { s })
            .collect();
        let mut counts = [0u64; 16];
        for &s in &symbols {
            counts[s as usize] += 1;
        }
        assert_eq!(counts[3], 0);
        let used = counts.iter().rposition(|&c| c > 0).unwrap() + 1;
        let t = FreqTable::from_counts(&counts[..used], 12).unwrap();
        let words = encode(&symbols, &t).unwrap();
        let mut out = vec![0u16; symbols.len()];
        decode(words.clone(), &t, &mut out).unwrap();
        assert_eq!(out, symbols);
        let (_, ours) = tensorjpeg::entropy::rans::encode(&symbols, &t);
        let ref_bits = words.len() as f64 * 32.0;
        let our_bits = ours.len() as f64 * 16.0;
        assert!(
            (our_bits - ref_bits).abs() / ref_bits < 0.01,
            "{our_bits} vs {ref_bits}"
        );
    }
}
