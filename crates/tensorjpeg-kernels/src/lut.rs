//! Table-lookup scans: `score[i] = Σ_t table_t[code_{i,t}]` over a collection of byte codes
//! (`m` bytes per vector), with 8-bit tables and 16-bit sums — the inner loop of searching
//! product-quantized or coarse codes (faiss's "fast scan", here with whole bytes).
//!
//! The codes are stored transposed in blocks of [`LANES`] vectors ([`BlockedCodes`]), so one
//! 64-byte load holds byte `t` of 64 vectors. With AVX-512 VBMI a 256-entry byte table is
//! four registers and one lookup of 64 codes is two `vpermi2b` (the low and high 128
//! entries) and a blend by each code's top bit; the 64 byte results are added into two
//! 16-bit accumulators (even and odd lanes). Elsewhere the scalar reference
//! ([`scan_reference`]) runs; both give the same integers.

use crate::KernelError;

/// Vectors per block of [`BlockedCodes`].
pub const LANES: usize = 64;

/// Byte codes of `n` vectors, `m` bytes each, transposed in blocks of [`LANES`] vectors:
/// byte `t` of vector `i` sits at `(i / 64)·64·m + t·64 + i % 64`; the last block is padded
/// with zero codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedCodes {
    m: usize,
    n: usize,
    data: Vec<u8>,
}

impl BlockedCodes {
    /// Transposes row-major codes (`n × m` bytes).
    pub fn new(codes: &[u8], m: usize) -> Result<Self, KernelError> {
        if m == 0 || !codes.len().is_multiple_of(m) {
            return Err(KernelError::Shape(format!(
                "{} code bytes do not split into vectors of {m} bytes",
                codes.len()
            )));
        }
        let mut b = BlockedCodes {
            m,
            n: 0,
            data: Vec::new(),
        };
        b.extend(codes);
        Ok(b)
    }

    /// Appends row-major codes (a whole number of `m`-byte vectors).
    ///
    /// # Panics
    /// If `codes.len()` is not a multiple of `m` (a caller's bug: [`BlockedCodes::new`]
    /// checks the first batch).
    pub fn extend(&mut self, codes: &[u8]) {
        let m = self.m;
        assert!(codes.len().is_multiple_of(m), "whole vectors of {m} bytes");
        let added = codes.len() / m;
        let total = self.n + added;
        self.data.resize(total.div_ceil(LANES) * LANES * m, 0);
        for (r, row) in codes.chunks_exact(m).enumerate() {
            let i = self.n + r;
            let base = (i / LANES) * LANES * m + i % LANES;
            for (t, &c) in row.iter().enumerate() {
                self.data[base + t * LANES] = c;
            }
        }
        self.n = total;
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no vector is stored.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bytes per vector.
    pub fn bytes_per_vector(&self) -> usize {
        self.m
    }

    /// Number of blocks (scores written by a scan: `blocks() · 64`).
    pub fn blocks(&self) -> usize {
        self.n.div_ceil(LANES)
    }
}

/// The largest table entry for which `m` lookups cannot overflow a 16-bit sum.
pub fn max_entry(m: usize) -> u8 {
    (65_535 / m.max(1)).min(255) as u8
}

fn check(tables: &[u8], codes: &BlockedCodes, out: &[u16]) -> Result<(), KernelError> {
    let m = codes.m;
    if tables.len() != m * 256 {
        return Err(KernelError::Shape(format!(
            "{} table bytes for {m} code bytes (want {})",
            tables.len(),
            m * 256
        )));
    }
    if out.len() != codes.blocks() * LANES {
        return Err(KernelError::Shape(format!(
            "scan output holds {} scores, the codes need {}",
            out.len(),
            codes.blocks() * LANES
        )));
    }
    if let Some(&big) = tables.iter().find(|&&v| v > max_entry(m)) {
        return Err(KernelError::Shape(format!(
            "table entry {big} above {} (the largest {m} lookups can sum in 16 bits)",
            max_entry(m)
        )));
    }
    Ok(())
}

/// The scalar reference: `out[i] = Σ_t tables[t·256 + code_{i,t}]` for every vector and the
/// padding of the last block. `tables` is `m × 256` entries, each at most
/// [`max_entry`]`(m)`; `out` holds `blocks() · 64` scores.
pub fn scan_reference(
    tables: &[u8],
    codes: &BlockedCodes,
    out: &mut [u16],
) -> Result<(), KernelError> {
    check(tables, codes, out)?;
    let m = codes.m;
    for (blk, o) in codes
        .data
        .chunks_exact(LANES * m)
        .zip(out.chunks_exact_mut(LANES))
    {
        o.fill(0);
        for (t, col) in blk.chunks_exact(LANES).enumerate() {
            let tab = &tables[t * 256..(t + 1) * 256];
            for (s, &c) in o.iter_mut().zip(col) {
                *s += u16::from(tab[c as usize]);
            }
        }
    }
    Ok(())
}

/// Whether this CPU runs the AVX-512 VBMI scan (`TJ_KERNEL=scalar|avx2` forces the
/// reference).
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| {
            let forced = matches!(
                std::env::var("TJ_KERNEL").as_deref(),
                Ok("scalar") | Ok("avx2")
            );
            !forced
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vbmi")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`scan_reference`] with the fastest kernel this CPU has (the same integers).
pub fn scan(tables: &[u8], codes: &BlockedCodes, out: &mut [u16]) -> Result<(), KernelError> {
    #[cfg(target_arch = "x86_64")]
    if simd_available() {
        check(tables, codes, out)?;
        // SAFETY: the CPU has avx512f, avx512bw and avx512vbmi (checked above); the shapes
        // were checked, and the kernel reads only through bounds-checked slices.
        unsafe { crate::x86_lut::scan(tables, codes.m, &codes.data, out) };
        return Ok(());
    }
    scan_reference(tables, codes, out)
}

/// The `k` best of `scores[..n]` by score, ties to the lower index, in ascending index
/// order: a histogram of the scores finds the threshold, one pass collects (no sort of the
/// collection). The same set as sorting by `(score desc, index asc)` and keeping `k`.
pub fn top_k_u16(scores: &[u16], k: usize) -> Vec<u32> {
    let k = k.min(scores.len());
    if k == 0 {
        return Vec::new();
    }
    let max = scores.iter().copied().max().unwrap_or(0) as usize;
    let mut hist = vec![0u32; max + 1];
    for &s in scores {
        hist[s as usize] += 1;
    }
    let (mut thr, mut above) = (max, 0usize);
    loop {
        let here = hist[thr] as usize;
        if above + here >= k || thr == 0 {
            break;
        }
        above += here;
        thr -= 1;
    }
    let mut equal = k - above;
    let thr = thr as u16;
    let mut out = Vec::with_capacity(k);
    for (i, &s) in scores.iter().enumerate() {
        if s > thr {
            out.push(i as u32);
        } else if s == thr && equal > 0 {
            out.push(i as u32);
            equal -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn blocked_layout_and_simd_match_the_reference() {
        let mut seed = 7u64;
        for (n, m) in [(1, 1), (63, 3), (64, 24), (65, 7), (200, 17), (1000, 300)] {
            let codes: Vec<u8> = (0..n * m).map(|_| lcg(&mut seed) as u8).collect();
            let b = BlockedCodes::new(&codes, m).unwrap();
            let cap = u64::from(max_entry(m)) + 1;
            let tables: Vec<u8> = (0..m * 256).map(|_| (lcg(&mut seed) % cap) as u8).collect();
            let mut want = vec![0u16; b.blocks() * LANES];
            let mut got = vec![1u16; b.blocks() * LANES];
            scan_reference(&tables, &b, &mut want).unwrap();
            scan(&tables, &b, &mut got).unwrap();
            assert_eq!(want, got, "n {n} m {m}");
            for i in 0..n {
                let s: u32 = (0..m)
                    .map(|t| u32::from(tables[t * 256 + codes[i * m + t] as usize]))
                    .sum();
                assert_eq!(u32::from(want[i]), s, "vector {i}");
            }
        }
    }

    #[test]
    fn extend_equals_building_at_once() {
        let codes: Vec<u8> = (0..130 * 5).map(|i| (i * 31 % 251) as u8).collect();
        let mut a = BlockedCodes::new(&codes[..70 * 5], 5).unwrap();
        a.extend(&codes[70 * 5..]);
        assert_eq!(a, BlockedCodes::new(&codes, 5).unwrap());
    }

    #[test]
    fn bad_shapes_and_overflowing_tables_are_errors() {
        let b = BlockedCodes::new(&[1, 2, 3, 4], 2).unwrap();
        let mut out = vec![0u16; 64];
        assert!(scan(&[0; 256], &b, &mut out).is_err());
        assert!(scan(&[0; 512], &b, &mut out[..10]).is_err());
        assert!(BlockedCodes::new(&[1, 2, 3], 2).is_err());
        let b = BlockedCodes::new(&vec![0u8; 300], 300).unwrap();
        let mut t = vec![0u8; 300 * 256];
        t[5] = 255;
        assert!(scan(&t, &b, &mut out).is_err());
    }

    #[test]
    fn top_k_u16_matches_a_sort() {
        let mut seed = 3u64;
        for (n, k, range) in [(1000, 100, 50), (1000, 10, 3000), (50, 60, 5), (500, 1, 1)] {
            let s: Vec<u16> = (0..n).map(|_| (lcg(&mut seed) % range) as u16).collect();
            let mut idx: Vec<u32> = (0..n as u32).collect();
            idx.sort_by(|&a, &b| s[b as usize].cmp(&s[a as usize]).then(a.cmp(&b)));
            idx.truncate(k);
            idx.sort_unstable();
            assert_eq!(top_k_u16(&s, k), idx, "n {n} k {k}");
        }
    }
}
