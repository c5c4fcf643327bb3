//! The x86-64 kernels: the only `unsafe` code of tensorjpeg. Two instantiations of one body —
//! AVX2 (`vpmaddubsw` + `vpmaddwd`) and AVX-512 VNNI (`vpdpbusd` on 256-bit registers) — each
//! computing exactly the integer block sums of [`crate::scalar`] (tested against it).
//!
//! Blocks go in groups of eight: eight 8-lane integer partial sums are reduced to one vector
//! holding the eight block sums (`vphaddd` tree), converted once, and multiplied by the eight
//! blocks' `d_w·d_x` in one FMA — one float operation per 256 weights instead of per block.
//!
//! Operands: 4-bit codes are used unsigned (`Q4_0`, `Q4_1`: the nibble; `NL4` under VNNI:
//! the codebook level + 128 through a byte shuffle), and the offset comes off the block sum
//! as `offset·Σq_x`; `vpmaddubsw` would saturate on levels up to 240, so the AVX2 kernel
//! takes `NL4`'s signed levels with the sign trick `|x|·sign(w, x) = w·x`, as `Q8_0` does on
//! both. `NL3` goes as `NL4` once its 3-bit codes are unpacked to bytes: the low two bits by
//! one 64-bit broadcast of `ql` shifted by 0, 2, 4, 6 per 64-bit lane, the high bit by a
//! byte shuffle of `qh` and a compare against each byte's bit (AVX2), or by one masked add
//! with `qh` as the byte mask (AVX-512 BW, present wherever VNNI is). The sign trick needs
//! `|x| ≤ 127` (the activation quantizer never emits −128) and
//! `|w| ≤ 127` (a `Q8_0` matrix holding −128 is routed to the scalar kernel by
//! [`crate::QMatrix`]); then no pair sum of `vpmaddubsw` saturates (`2·127·127 < 32767`).
//!
//! Safety, for every `unsafe fn` here: the caller guarantees the CPU has the target features
//! the function is compiled for (checked by [`crate::Isa::available`] before any call). All
//! memory access goes through bounds-checked slices; each unaligned load reads from a slice
//! of exactly the loaded length.

use std::arch::x86_64::*;

use crate::act::QActs;
use crate::format::{Format, BLOCK, NL4_CODEBOOK};
use crate::RowsRef;

/// How a format's codes enter the integer product.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Q8_0`: signed bytes, sign trick.
    Q8,
    /// 4-bit codes through a signed table, sign trick (AVX2 `NL4`).
    SignedTable,
    /// 4-bit codes (or table + offset) unsigned, `offset·Σq_x` subtracted.
    Unsigned,
}

macro_rules! kernels {
    ($modname:ident, $features:literal, $vnni:literal, $dotu:ident, $hi3:ident) => {
        /// Kernels compiled for one instruction set.
        pub mod $modname {
            use super::*;

            /// `out[r·batch + b] = Σ_blocks` of weight row `r` against activation row `b`.
            ///
            /// # Safety
            /// The CPU supports this module's target features.
            #[target_feature(enable = $features)]
            pub unsafe fn rows(format: Format, w: &RowsRef<'_>, acts: &QActs, out: &mut [f32]) {
                let batch = acts.batch;
                assert!(batch > 0 && w.nb * BLOCK == acts.cols);
                assert!(out.len() == w.rows() * batch);
                assert!(w.qs.len() == w.d.len() * format.code_bytes());
                assert!(format != Format::Q4_1 || w.m.len() == w.d.len());
                let mut b0 = 0;
                while b0 < batch {
                    let bn = (batch - b0).min(4);
                    match format {
                        Format::Q8_0 => by_batch::<0>(bn, w, acts, b0, out),
                        Format::Q4_1 => by_batch::<1>(bn, w, acts, b0, out),
                        Format::Q4_0 => by_batch::<2>(bn, w, acts, b0, out),
                        Format::Nl4 | Format::Nl4H => by_batch::<3>(bn, w, acts, b0, out),
                        Format::Nl3 | Format::Nl3H => by_batch::<4>(bn, w, acts, b0, out),
                    }
                    b0 += bn;
                }
            }

            #[target_feature(enable = $features)]
            fn by_batch<const F: u8>(
                bn: usize,
                w: &RowsRef<'_>,
                acts: &QActs,
                b0: usize,
                out: &mut [f32],
            ) {
                match bn {
                    1 => rows_b::<1, F>(w, acts, b0, out),
                    2 => rows_b::<2, F>(w, acts, b0, out),
                    3 => rows_b::<3, F>(w, acts, b0, out),
                    _ => rows_b::<4, F>(w, acts, b0, out),
                }
            }

            /// Rows against activation rows `b0..b0 + B`, format `F` (0 `Q8_0`, 1 `Q4_1`,
            /// 2 `Q4_0`, 3 `NL4`/`NL4H`, 4 `NL3`/`NL3H`), all of it resolved at compile time.
            #[target_feature(enable = $features)]
            fn rows_b<const B: usize, const F: u8>(
                w: &RowsRef<'_>,
                acts: &QActs,
                b0: usize,
                out: &mut [f32],
            ) {
                let batch = acts.batch;
                let nb = w.nb;
                let cb = match F {
                    0 => 32,
                    4 => 12,
                    _ => 16,
                };
                let mode = match F {
                    0 => Mode::Q8,
                    3 | 4 if !$vnni => Mode::SignedTable,
                    _ => Mode::Unsigned,
                };
                let offset: i32 = match F {
                    2 => 8,
                    3 | 4 if $vnni => 128,
                    _ => 0,
                };
                let book: [i8; 16] = match F {
                    4 => Format::Nl3.table().expect("NL3's levels"),
                    _ => NL4_CODEBOOK,
                };
                let table: [i8; 16] = match F {
                    // Levels + 128 as bytes (0..=255, read unsigned by vpdpbusd).
                    3 | 4 if $vnni => std::array::from_fn(|i| (book[i] as i16 + 128) as u8 as i8),
                    3 | 4 => book,
                    _ => std::array::from_fn(|i| i as i8),
                };
                let tbl = {
                    let t = load16(&table);
                    _mm256_set_m128i(t, t)
                };
                let m4 = _mm256_set1_epi8(0x0F);
                // 3-bit unpacking: the low two bits' shift per 64-bit lane.
                let m3 = _mm256_set1_epi8(3);
                let shifts = _mm256_set_epi64x(6, 4, 2, 0);
                let off = _mm256_set1_epi32(offset);
                let xq: [&[i8]; B] = std::array::from_fn(|i| acts.row(b0 + i));
                let xd: [&[f32]; B] = std::array::from_fn(|i| acts.scales(b0 + i));
                let xs: [&[f32]; B] = std::array::from_fn(|i| acts.sums(b0 + i));
                let xn: [&[i32]; B] = std::array::from_fn(|i| acts.qsums(b0 + i));
                let prep = |c: &[u8]| -> __m256i {
                    if F == 0 {
                        load32(c)
                    } else if F == 4 {
                        let ql = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                        let qh = u32::from_le_bytes(c[8..12].try_into().expect("4 bytes"));
                        let lo = _mm256_and_si256(
                            _mm256_srlv_epi64(_mm256_set1_epi64x(ql as i64), shifts),
                            m3,
                        );
                        _mm256_shuffle_epi8(tbl, $hi3(lo, qh))
                    } else {
                        let v = load16(c);
                        let n = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), m4);
                        if F == 1 || F == 2 {
                            n
                        } else {
                            _mm256_shuffle_epi8(tbl, n)
                        }
                    }
                };
                let dot = |wv: __m256i, x: __m256i| -> __m256i {
                    match mode {
                        Mode::Q8 | Mode::SignedTable => dot_signed(wv, x),
                        Mode::Unsigned => dot_unsigned(wv, x),
                    }
                };
                for r in 0..w.rows() {
                    let mut acc = [_mm256_setzero_ps(); B];
                    let row_qs = &w.qs[r * nb * cb..(r + 1) * nb * cb];
                    let row_d = &w.d[r * nb..(r + 1) * nb];
                    let row_m = if F == 1 {
                        &w.m[r * nb..(r + 1) * nb]
                    } else {
                        &[][..]
                    };
                    let mut k0 = 0;
                    // Whole groups of eight blocks: fixed offsets, no copies.
                    while k0 + 8 <= nb {
                        let c = &row_qs[k0 * cb..(k0 + 8) * cb];
                        // Plain loops, not `array::from_fn`: a closure handed to a generic
                        // function without these target features is not inlined.
                        let mut wv = [_mm256_setzero_si256(); 8];
                        for j in 0..8 {
                            wv[j] = prep(&c[j * cb..(j + 1) * cb]);
                        }
                        let dw = _mm256_cvtph_ps(load16(&row_d[k0..k0 + 8]));
                        for i in 0..B {
                            let x = &xq[i][k0 * BLOCK..(k0 + 8) * BLOCK];
                            let mut p = [_mm256_setzero_si256(); 8];
                            for j in 0..8 {
                                p[j] = dot(wv[j], load32(&x[j * BLOCK..(j + 1) * BLOCK]));
                            }
                            let mut sums = reduce8(&p);
                            if offset != 0 {
                                let qn = load32(&xn[i][k0..k0 + 8]);
                                sums = _mm256_sub_epi32(sums, _mm256_mullo_epi32(off, qn));
                            }
                            let dx = load_f32x8(&xd[i][k0..k0 + 8]);
                            let scale = _mm256_mul_ps(dw, dx);
                            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[i]);
                            if F == 1 {
                                let mw = _mm256_cvtph_ps(load16(&row_m[k0..k0 + 8]));
                                acc[i] =
                                    _mm256_fmadd_ps(mw, load_f32x8(&xs[i][k0..k0 + 8]), acc[i]);
                            }
                        }
                        k0 += 8;
                    }
                    // The last blocks (fewer than eight), one at a time.
                    let mut tail = [0f32; B];
                    for k in k0..nb {
                        let wv = prep(&row_qs[k * cb..(k + 1) * cb]);
                        let dw = f16_to_f32(row_d[k]);
                        for i in 0..B {
                            let x = load32(&xq[i][k * BLOCK..(k + 1) * BLOCK]);
                            let s = hsum_i32(dot(wv, x)) - offset * xn[i][k];
                            tail[i] += dw * xd[i][k] * s as f32;
                            if F == 1 {
                                tail[i] += f16_to_f32(row_m[k]) * xs[i][k];
                            }
                        }
                    }
                    for i in 0..B {
                        out[r * batch + b0 + i] = hsum(acc[i]) + tail[i];
                    }
                }
            }

            /// Signed bytes × signed bytes: eight i32 sums of four products.
            #[inline]
            #[target_feature(enable = $features)]
            fn dot_signed(w: __m256i, x: __m256i) -> __m256i {
                let ax = _mm256_sign_epi8(x, x);
                let sw = _mm256_sign_epi8(w, x);
                dot_unsigned(ax, sw)
            }

            /// Unsigned bytes `u` × signed bytes `s`: eight i32 sums of four products.
            #[inline]
            #[target_feature(enable = $features)]
            fn dot_unsigned(u: __m256i, s: __m256i) -> __m256i {
                $dotu(u, s)
            }
        }
    };
}

/// `vpmaddubsw` + `vpmaddwd` (AVX2); no pair sum saturates for the operands used here.
#[inline]
#[target_feature(enable = "avx2")]
fn dotu_avx2(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

/// `vpdpbusd` (AVX-512 VNNI on 256-bit registers).
#[inline]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn dotu_vnni(u: __m256i, s: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
}

/// Adds 4 to byte `j` of `lo` where bit `j` of `qh` is set: a shuffle puts `qh`'s byte
/// `⌊j/8⌋` in byte `j`, a compare against bit `j mod 8` turns it into a byte mask.
#[inline]
#[target_feature(enable = "avx2")]
fn hi3_avx2(lo: __m256i, qh: u32) -> __m256i {
    let hsel = _mm256_set_epi64x(
        0x0303_0303_0303_0303,
        0x0202_0202_0202_0202,
        0x0101_0101_0101_0101,
        0,
    );
    let hbit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
    let h = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), hsel);
    let h = _mm256_cmpeq_epi8(_mm256_and_si256(h, hbit), hbit);
    _mm256_or_si256(lo, _mm256_and_si256(h, _mm256_set1_epi8(4)))
}

/// [`hi3_avx2`] in one instruction: `qh` is the byte mask of an add (AVX-512 BW).
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
fn hi3_bw(lo: __m256i, qh: u32) -> __m256i {
    _mm256_mask_add_epi8(lo, qh, lo, _mm256_set1_epi8(4))
}

/// Eight vectors of eight i32 partial sums → one vector of their eight totals.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce8(p: &[__m256i; 8]) -> __m256i {
    let s01 = _mm256_hadd_epi32(p[0], p[1]);
    let s23 = _mm256_hadd_epi32(p[2], p[3]);
    let s45 = _mm256_hadd_epi32(p[4], p[5]);
    let s67 = _mm256_hadd_epi32(p[6], p[7]);
    let t0 = _mm256_hadd_epi32(s01, s23);
    let t1 = _mm256_hadd_epi32(s45, s67);
    let lo = _mm256_permute2x128_si256(t0, t1, 0x20);
    let hi = _mm256_permute2x128_si256(t0, t1, 0x31);
    _mm256_add_epi32(lo, hi)
}

#[inline]
#[target_feature(enable = "avx2")]
fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    _mm_cvtsi128_si32(s)
}

#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16_to_f32(bits: u16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
}

#[inline]
#[target_feature(enable = "avx2")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

/// 16 bytes of any 2-byte-or-smaller element type.
#[inline]
#[target_feature(enable = "avx2")]
fn load16<T: Copy>(s: &[T]) -> __m128i {
    assert_eq!(std::mem::size_of_val(s), 16);
    // SAFETY: `s` spans exactly 16 bytes (checked); an unaligned load.
    unsafe { _mm_loadu_si128(s.as_ptr() as *const __m128i) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn load32<T: Copy>(s: &[T]) -> __m256i {
    assert_eq!(std::mem::size_of_val(s), 32);
    // SAFETY: `s` spans exactly 32 bytes (checked); an unaligned load.
    unsafe { _mm256_loadu_si256(s.as_ptr() as *const __m256i) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn load_f32x8(s: &[f32]) -> __m256 {
    assert_eq!(s.len(), 8);
    // SAFETY: `s` is 8 f32 (checked), 32 bytes; an unaligned load.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

kernels!(avx2, "avx2,fma,f16c", false, dotu_avx2, hi3_avx2);
kernels!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vnni,avx512vl",
    true,
    dotu_vnni,
    hi3_bw
);
