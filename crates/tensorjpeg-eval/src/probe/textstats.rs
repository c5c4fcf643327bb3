//! Repetition and diversity statistics of generated token sequences (for the seed-003
//! probe): distinct-n, the share of repeated 4-grams, the longest repeated span, and the
//! length before the first exact loop.

use std::collections::HashSet;

/// Unique n-grams / n-grams (1.0 for a sequence shorter than `n`, which repeats nothing).
pub fn distinct_n(tokens: &[u32], n: usize) -> f64 {
    if n == 0 || tokens.len() < n {
        return 1.0;
    }
    let grams: Vec<&[u32]> = tokens.windows(n).collect();
    let unique: HashSet<&[u32]> = grams.iter().copied().collect();
    unique.len() as f64 / grams.len() as f64
}

/// Share of n-gram positions whose n-gram already occurred earlier in the sequence.
pub fn repeated_ngram_share(tokens: &[u32], n: usize) -> f64 {
    if n == 0 || tokens.len() < n {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let mut rep = 0usize;
    let mut total = 0usize;
    for g in tokens.windows(n) {
        total += 1;
        if !seen.insert(g) {
            rep += 1;
        }
    }
    rep as f64 / total as f64
}

/// Length of the longest run of tokens that occurs at least twice (occurrences may overlap).
pub fn longest_repeated_span(tokens: &[u32]) -> usize {
    let n = tokens.len();
    // L[i][j] = common prefix length of the suffixes at i and j (i < j), computed backwards
    // keeping one row.
    let mut best = 0;
    let mut next = vec![0usize; n + 1];
    for i in (0..n).rev() {
        let mut cur = vec![0usize; n + 1];
        for j in (i + 1..n).rev() {
            if tokens[i] == tokens[j] {
                cur[j] = next[j + 1] + 1;
                best = best.max(cur[j]);
            }
        }
        next = cur;
    }
    best
}

/// Tokens before the first *exact loop*: the first position where a block of `k` tokens
/// is immediately repeated back to back, covering at least `min_span` tokens in all
/// (e.g. "a b a b a b …" or a whole sentence said twice in a row); the sequence length if
/// there is none. Blocks up to `max_block` tokens are considered.
pub fn tokens_before_first_loop(tokens: &[u32], max_block: usize, min_span: usize) -> usize {
    let n = tokens.len();
    for i in 0..n {
        for k in 1..=max_block.min((n - i) / 2) {
            // How many times the block at i repeats back to back.
            let mut reps = 1;
            while i + (reps + 1) * k <= n
                && tokens[i + reps * k..i + (reps + 1) * k] == tokens[i..i + k]
            {
                reps += 1;
            }
            if reps >= 2 && reps * k >= min_span {
                return i;
            }
        }
    }
    n
}

/// Default loop rule of the probe: blocks of up to 64 tokens covering ≥ 12 tokens.
pub fn first_loop(tokens: &[u32]) -> usize {
    tokens_before_first_loop(tokens, 64, 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_and_repeated() {
        let t = [1, 2, 3, 1, 2, 3, 1, 2];
        assert!((distinct_n(&t, 1) - 3.0 / 8.0).abs() < 1e-12);
        assert!((distinct_n(&t, 2) - 3.0 / 7.0).abs() < 1e-12);
        // 4-grams: 1231 2312 3123 1231* 2312* → 2 of 5 repeated.
        assert!((repeated_ngram_share(&t, 4) - 2.0 / 5.0).abs() < 1e-12);
        assert_eq!(distinct_n(&[], 2), 1.0);
        assert_eq!(repeated_ngram_share(&[1, 2], 4), 0.0);
        let fresh: Vec<u32> = (0..50).collect();
        assert_eq!(distinct_n(&fresh, 3), 1.0);
        assert_eq!(repeated_ngram_share(&fresh, 4), 0.0);
    }

    #[test]
    fn longest_span() {
        assert_eq!(longest_repeated_span(&[1, 2, 3, 4]), 0);
        assert_eq!(longest_repeated_span(&[5, 1, 2, 3, 9, 1, 2, 3, 7]), 3);
        // Overlapping occurrences count: a a a a → "a a a" occurs twice.
        assert_eq!(longest_repeated_span(&[4, 4, 4, 4]), 3);
    }

    #[test]
    fn loops() {
        let mut t: Vec<u32> = (100..120).collect();
        let lp = [1u32, 2, 3, 4];
        for _ in 0..5 {
            t.extend_from_slice(&lp);
        }
        assert_eq!(first_loop(&t), 20);
        let fresh: Vec<u32> = (0..100).collect();
        assert_eq!(first_loop(&fresh), 100);
        // "the the" is not a loop.
        assert_eq!(first_loop(&[1, 7, 7, 2, 3, 4]), 6);
    }
}
