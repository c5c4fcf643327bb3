//! The AVX-512 VBMI table-lookup scan of [`crate::lut`] (the same integers as
//! [`crate::lut::scan_reference`], tested against it).
//!
//! Per block of 64 vectors and code byte `t`: the 256-entry table is four 64-byte registers;
//! `vpermi2b` looks the 64 codes up in entries 0–127 and in 128–255 (bit 6 of each code
//! picks the register of a pair, bit 7 is ignored), and a blend by each code's top bit
//! (`vpmovb2m`) keeps the right one. The bytes are added into two 16-bit accumulators: the
//! even lanes (`v & 0xff`) and the odd lanes (`v >> 8`), interleaved back once per block.
//!
//! Safety: the caller guarantees the CPU has avx512f, avx512bw and avx512vbmi. Every load
//! and store goes through a slice of exactly the accessed length.

use std::arch::x86_64::*;

use crate::lut::LANES;

/// 64 bytes from a slice of exactly 64 bytes.
#[inline]
#[target_feature(enable = "avx512f")]
fn load(s: &[u8]) -> __m512i {
    assert!(s.len() == 64);
    // SAFETY: `s` spans exactly 64 bytes (checked); an unaligned load.
    unsafe { _mm512_loadu_si512(s.as_ptr() as *const __m512i) }
}

/// `out[i] = Σ_t tables[t·256 + code]` for every vector of `blocks` (the blocked layout of
/// [`crate::lut::BlockedCodes`], `m` bytes per vector).
///
/// # Safety
/// The CPU supports avx512f, avx512bw and avx512vbmi; `tables.len() == 256·m`,
/// `blocks.len() == out.len()·m` with `out.len()` a multiple of 64, and no 16-bit sum
/// overflows (checked by the caller; an overflow would wrap, not fault).
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub unsafe fn scan(tables: &[u8], m: usize, blocks: &[u8], out: &mut [u16]) {
    assert!(m > 0 && tables.len() == 256 * m);
    assert!(out.len().is_multiple_of(LANES) && blocks.len() == out.len() * m);
    let low = _mm512_set1_epi16(0xff);
    // Interleave even (a) and odd (b) lanes: result word 2j = a[j], 2j+1 = b[j].
    let mut lo_idx = [0u16; 32];
    let mut hi_idx = [0u16; 32];
    for j in 0..16 {
        lo_idx[2 * j] = j as u16;
        lo_idx[2 * j + 1] = 32 + j as u16;
        hi_idx[2 * j] = 16 + j as u16;
        hi_idx[2 * j + 1] = 48 + j as u16;
    }
    // SAFETY: each array is 64 bytes; unaligned loads.
    let lo_idx = unsafe { _mm512_loadu_si512(lo_idx.as_ptr() as *const __m512i) };
    let hi_idx = unsafe { _mm512_loadu_si512(hi_idx.as_ptr() as *const __m512i) };
    for (blk, o) in blocks
        .chunks_exact(LANES * m)
        .zip(out.chunks_exact_mut(LANES))
    {
        let mut even = _mm512_setzero_si512();
        let mut odd = _mm512_setzero_si512();
        for (col, tab) in blk.chunks_exact(LANES).zip(tables.chunks_exact(256)) {
            let c = load(col);
            let a = _mm512_permutex2var_epi8(load(&tab[..64]), c, load(&tab[64..128]));
            let b = _mm512_permutex2var_epi8(load(&tab[128..192]), c, load(&tab[192..]));
            let v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(c), a, b);
            even = _mm512_add_epi16(even, _mm512_and_si512(v, low));
            odd = _mm512_add_epi16(odd, _mm512_srli_epi16::<8>(v));
        }
        let first = _mm512_permutex2var_epi16(even, lo_idx, odd);
        let second = _mm512_permutex2var_epi16(even, hi_idx, odd);
        let (o1, o2) = o.split_at_mut(32);
        // SAFETY: `o1` and `o2` are 32 u16 each (64 bytes); unaligned stores.
        unsafe {
            _mm512_storeu_si512(o1.as_mut_ptr() as *mut __m512i, first);
            _mm512_storeu_si512(o2.as_mut_ptr() as *mut __m512i, second);
        }
    }
}
