//! Static (per-segment) frequency models: a histogram of the quantized symbols, normalised
//! to integer frequencies summing to `2^precision`, as rANS needs.
//!
//! A segment's model is stored in its header (a few dozen bytes for typical alphabets), so
//! the decoder needs no adaptation and each chunk decodes independently. The exact cost of
//! coding a histogram with a model is `Σ count[s] · (precision − log2 freq[s])` bits, which
//! is what rate control uses ([`FreqTable::cost_bits`]) — the same table the coder uses.

use crate::error::{Error, Result};

/// Largest alphabet a segment codes directly (including the escape symbol).
pub const MAX_ALPHABET: usize = 4096;
/// Smallest and largest supported precision (log2 of the frequency total).
pub const MIN_PRECISION: u32 = 10;
/// See [`MIN_PRECISION`].
pub const MAX_PRECISION: u32 = 15;

/// Integer frequencies over a contiguous alphabet `0..freqs.len()`, summing to `2^precision`.
///
/// Invariants: every entry is ≤ `2^precision`, the entries sum to exactly `2^precision`,
/// and a symbol that occurs in the data has a non-zero frequency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreqTable {
    /// log2 of the total.
    pub precision: u32,
    /// Frequency of each symbol.
    pub freqs: Vec<u32>,
    /// Cumulative frequency before each symbol (`cum[s] = Σ_{t<s} freqs[t]`).
    pub cum: Vec<u32>,
}

impl FreqTable {
    /// Precision chosen for an alphabet: enough headroom that rare symbols lose little.
    pub fn precision_for(alphabet: usize) -> u32 {
        let need = usize::BITS - alphabet.max(1).leading_zeros() + 4;
        need.clamp(12, MAX_PRECISION)
    }

    /// Normalises symbol counts to frequencies summing to `2^precision`. Symbols with a
    /// non-zero count keep a frequency ≥ 1. Returns `None` if all counts are zero or the
    /// alphabet is larger than `2^precision`.
    pub fn from_counts(counts: &[u64], precision: u32) -> Option<Self> {
        let total: u64 = counts.iter().sum();
        let target = 1u64 << precision;
        let nonzero = counts.iter().filter(|&&c| c > 0).count() as u64;
        if total == 0 || nonzero > target {
            return None;
        }
        let mut freqs: Vec<u32> = counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0
                } else {
                    ((c as u128 * target as u128 + total as u128 / 2) / total as u128).max(1) as u32
                }
            })
            .collect();
        let mut sum: i64 = freqs.iter().map(|&f| i64::from(f)).sum();
        // Fix the total: take from (or give to) the symbols where it costs least, i.e. the
        // ones with the largest frequency, one unit at a time in rounds.
        while sum != target as i64 {
            let mut order: Vec<usize> = (0..freqs.len()).filter(|&i| freqs[i] > 0).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(freqs[i]));
            for &i in &order {
                if sum == target as i64 {
                    break;
                }
                if sum > target as i64 {
                    let take = ((sum - target as i64) as u32)
                        .min(freqs[i] - 1)
                        .min(freqs[i] / 8 + 1);
                    freqs[i] -= take;
                    sum -= i64::from(take);
                } else {
                    let give = (target as i64 - sum) as u32;
                    freqs[i] += give;
                    sum += i64::from(give);
                }
            }
        }
        Some(Self::from_freqs(freqs, precision))
    }

    fn from_freqs(freqs: Vec<u32>, precision: u32) -> Self {
        let mut cum = Vec::with_capacity(freqs.len());
        let mut acc = 0u32;
        for &f in &freqs {
            cum.push(acc);
            acc += f;
        }
        FreqTable {
            precision,
            freqs,
            cum,
        }
    }

    /// Rebuilds a table read from a stream, checking its invariants.
    pub fn from_stored(freqs: Vec<u32>, precision: u32) -> Result<Self> {
        if !(MIN_PRECISION..=MAX_PRECISION).contains(&precision) {
            return Err(Error::corrupt(format!(
                "entropy model precision {precision} (expected {MIN_PRECISION}..={MAX_PRECISION})"
            )));
        }
        let sum: u64 = freqs.iter().map(|&f| u64::from(f)).sum();
        if sum != 1u64 << precision {
            return Err(Error::corrupt(format!(
                "entropy model frequencies sum to {sum}, expected {}",
                1u64 << precision
            )));
        }
        Ok(Self::from_freqs(freqs, precision))
    }

    /// Exact ideal cost in bits of coding symbols with these counts under this table
    /// (`None` if a counted symbol has zero frequency).
    pub fn cost_bits(&self, counts: &[u64]) -> Option<f64> {
        let mut bits = 0.0;
        for (&c, &f) in counts.iter().zip(&self.freqs) {
            if c > 0 {
                if f == 0 {
                    return None;
                }
                bits += c as f64 * (f64::from(self.precision) - f64::from(f).log2());
            }
        }
        Some(bits)
    }
}

/// Shannon entropy of a histogram in bits per symbol (the ideal-coder reference).
pub fn entropy_bits(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / t;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_tables_sum_and_keep_rare_symbols() {
        let counts = [1000u64, 1, 0, 5, 100_000, 1];
        for p in 12..=15 {
            let t = FreqTable::from_counts(&counts, p).unwrap();
            assert_eq!(t.freqs.iter().map(|&f| u64::from(f)).sum::<u64>(), 1 << p);
            for (c, f) in counts.iter().zip(&t.freqs) {
                assert_eq!(*c > 0, *f > 0);
            }
            // Coding loss against the entropy is small.
            let ideal = entropy_bits(&counts) * counts.iter().sum::<u64>() as f64;
            let got = t.cost_bits(&counts).unwrap();
            assert!(
                got >= ideal - 1e-6 && got < ideal * 1.01 + 64.0,
                "{got} vs {ideal}"
            );
        }
    }

    #[test]
    fn too_many_symbols_is_refused() {
        assert!(FreqTable::from_counts(&vec![1u64; 5000], 12).is_none());
        assert!(FreqTable::from_counts(&[0, 0], 12).is_none());
    }
}
