//! Every SIMD kernel against the scalar reference, and the formats against the values
//! they encode.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, StudentT};
use tensorjpeg_kernels::{Format, Isa, KernelError, QActs, QMatrix, BLOCK};

fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let d = Normal::new(0f32, 0.05).unwrap();
    (0..n).map(|_| d.sample(&mut r)).collect()
}

fn heavy(n: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let d = StudentT::new(3f32).unwrap();
    (0..n).map(|_| d.sample(&mut r) * 0.02).collect()
}

fn snr_db(a: &[f32], b: &[f32]) -> f64 {
    let s: f64 = a.iter().map(|&v| (v as f64).powi(2)).sum();
    let e: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    10.0 * (s / e).log10()
}

#[test]
fn simd_kernels_match_the_scalar_reference() {
    // 8 blocks per row (whole groups of eight), 10 and 3 (a partial group).
    for (rows, cols, seed, heavy_w) in [(67, 256, 1, false), (67, 320, 2, true), (5, 96, 3, true)] {
        let w = if heavy_w {
            heavy(rows * cols, seed)
        } else {
            gaussian(rows * cols, seed)
        };
        for format in Format::ALL {
            let m = QMatrix::quantize(&w, rows, cols, format, None).unwrap();
            for batch in [1, 2, 3, 4, 5, 8] {
                let x = heavy(batch * cols, seed * 100 + batch as u64);
                let acts = QActs::quantize(&x, batch, cols, format.rotated());
                let mut want = vec![0f32; batch * rows];
                m.matmul_acts(Isa::Scalar, &acts, &mut want).unwrap();
                for isa in [Isa::Avx2, Isa::Avx512Vnni] {
                    if !isa.available() {
                        continue;
                    }
                    let mut got = vec![0f32; batch * rows];
                    m.matmul_acts(isa, &acts, &mut got).unwrap();
                    let scale = want.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-3);
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() <= 1e-5 * scale,
                            "{format} {isa:?} batch {batch} out {i}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn products_match_dequantize_then_multiply() {
    let (rows, cols) = (48, 576);
    let w = gaussian(rows * cols, 7);
    let x = heavy(2 * cols, 8);
    for format in Format::ALL {
        let m = QMatrix::quantize(&w, rows, cols, format, None).unwrap();
        let deq = m.dequantize();
        let mut y = vec![0f32; 2 * rows];
        m.matmul(&x, 2, &mut y).unwrap();
        let want: Vec<f32> = (0..2)
            .flat_map(|b| {
                let (deq, x) = (&deq, &x);
                (0..rows).map(move |r| {
                    (0..cols)
                        .map(|c| deq[r * cols + c] * x[b * cols + c])
                        .sum::<f32>()
                })
            })
            .collect();
        // Only the activations' 8-bit rounding separates the two: ≥ 35 dB.
        let s = snr_db(&want, &y);
        assert!(s > 35.0, "{format}: {s:.1} dB");
    }
}

#[test]
fn gathered_rows_equal_the_dequantized_matrix() {
    let (rows, cols) = (37, 96);
    let w = heavy(rows * cols, 11);
    for format in Format::ALL {
        let m = QMatrix::quantize(&w, rows, cols, format, None).unwrap();
        let deq = m.dequantize();
        let ids = [36u32, 0, 5, 5, 17];
        let mut got = vec![f32::NAN; ids.len() * cols];
        m.dequantize_rows(&ids, &mut got).unwrap();
        for (o, &r) in got.chunks_exact(cols).zip(&ids) {
            let want = &deq[r as usize * cols..][..cols];
            assert!(
                o.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{format} row {r}"
            );
        }
        // An index past the last row, or a buffer of the wrong size: errors, nothing written.
        let mut out = vec![0f32; cols];
        assert!(matches!(
            m.dequantize_rows(&[37], &mut out),
            Err(KernelError::Shape(_))
        ));
        assert!(matches!(
            m.dequantize_rows(&[1, 2], &mut out),
            Err(KernelError::Shape(_))
        ));
        assert!(out.iter().all(|&v| v == 0.0));
        assert!(m.dequantize_rows(&[], &mut []).is_ok());
    }
}

#[test]
fn formats_reach_their_expected_accuracy() {
    let (rows, cols) = (64, 512);
    let w = gaussian(rows * cols, 3);
    let snr = |f| {
        snr_db(
            &w,
            &QMatrix::quantize(&w, rows, cols, f, None)
                .unwrap()
                .dequantize(),
        )
    };
    let (q8, q40, q41, nl4, nl4h) = (
        snr(Format::Q8_0),
        snr(Format::Q4_0),
        snr(Format::Q4_1),
        snr(Format::Nl4),
        snr(Format::Nl4H),
    );
    assert!(q8 > 38.0, "q8_0 {q8}");
    assert!((17.0..23.0).contains(&q40), "q4_0 {q40}");
    // The codebook and the scale search beat uniform levels at the same 4.5 bits.
    assert!(nl4 > q40 + 1.0, "nl4 {nl4} vs q4_0 {q40}");
    assert!(nl4h > q40 + 1.0, "nl4h {nl4h} vs q4_0 {q40}");
    assert!(q41 > q40, "q4_1 {q41} vs q4_0 {q40}");
    // On heavy-tailed weights the rotation pays.
    let h = heavy(rows * cols, 4);
    let snr_h = |f| {
        snr_db(
            &h,
            &QMatrix::quantize(&h, rows, cols, f, None)
                .unwrap()
                .dequantize(),
        )
    };
    assert!(snr_h(Format::Nl4H) > snr_h(Format::Nl4) + 0.3);
    // 3 bits: about 6 dB below 4 bits (one bit), the rotation still paying on heavy tails.
    let (nl3, nl3h) = (snr(Format::Nl3), snr(Format::Nl3H));
    assert!((14.5..18.0).contains(&nl3), "nl3 {nl3}");
    assert!((nl4 - nl3 - 6.0).abs() < 1.5, "nl4 {nl4} vs nl3 {nl3}");
    assert!(nl3h > 14.5, "nl3h {nl3h}");
    assert!(snr_h(Format::Nl3H) > snr_h(Format::Nl3) + 0.3);
}

#[test]
fn three_bit_codes_sit_where_the_layout_says() {
    // One block whose values are the codebook levels in a known order: code j = (j·5) mod 8.
    // The bytes must hold code j's low bits in ql[j mod 8] at bit 2·⌊j/8⌋ and its high bit
    // at bit j of qh, and decode back to the levels.
    let levels: Vec<f32> = (0..32)
        .map(|j| tensorjpeg_kernels::NL3_CODEBOOK[(j * 5) % 8] as f32 / 127.0)
        .collect();
    let m = QMatrix::quantize(&levels, 1, 32, Format::Nl3, None).unwrap();
    let b = m.to_blocks();
    assert_eq!(b.len(), 14);
    let (ql, qh) = (&b[2..10], u32::from_le_bytes(b[10..14].try_into().unwrap()));
    for j in 0..32 {
        let t = (j * 5) % 8;
        assert_eq!(
            (ql[j % 8] >> (2 * (j / 8))) & 3,
            (t & 3) as u8,
            "low bits of {j}"
        );
        assert_eq!((qh >> j) & 1, (t >> 2) as u32, "high bit of {j}");
    }
    let back = m.dequantize();
    assert!(snr_db(&levels, &back) > 45.0, "{}", snr_db(&levels, &back));
    assert_eq!(Format::Nl3H.bits_per_weight(), 3.5);
}

#[test]
fn importance_lowers_the_weighted_error() {
    let (rows, cols) = (32, 256);
    let w = gaussian(rows * cols, 5);
    let mut r = rand::rngs::StdRng::seed_from_u64(6);
    let imp: Vec<f32> = (0..cols)
        .map(|_| r.gen_range(0.01f32..10.0).powi(2))
        .collect();
    let werr = |m: &QMatrix| {
        let d = m.dequantize();
        (0..rows * cols)
            .map(|i| imp[i % cols] as f64 * (w[i] - d[i]) as f64 * (w[i] - d[i]) as f64)
            .sum::<f64>()
    };
    let plain = QMatrix::quantize(&w, rows, cols, Format::Nl4, None).unwrap();
    let weighted = QMatrix::quantize(&w, rows, cols, Format::Nl4, Some(&imp)).unwrap();
    assert!(werr(&weighted) < 0.97 * werr(&plain));
}

#[test]
fn gguf_blocks_round_trip_bit_for_bit() {
    let (rows, cols) = (8, 96);
    let w = gaussian(rows * cols, 9);
    for format in [Format::Q8_0, Format::Q4_0, Format::Q4_1] {
        let m = QMatrix::quantize(&w, rows, cols, format, None).unwrap();
        let again = QMatrix::from_blocks(format, rows, cols, m.to_blocks()).unwrap();
        assert_eq!(again.to_blocks(), m.to_blocks());
        assert_eq!(again.dequantize(), m.dequantize());
    }
}

#[test]
fn q8_blocks_holding_minus_128_take_the_scalar_kernel() {
    let (rows, cols) = (3, 64);
    let w = gaussian(rows * cols, 10);
    let m = QMatrix::quantize(&w, rows, cols, Format::Q8_0, None).unwrap();
    let mut b = m.to_blocks();
    b[2 + 5] = 0x80; // row 0, block 0, value 5 = −128
    let bad = QMatrix::from_blocks(Format::Q8_0, rows, cols, b).unwrap();
    assert_eq!(bad.isa(), Isa::Scalar);
    let x = heavy(cols, 11);
    let acts = QActs::quantize(&x, 1, cols, false);
    let mut want = vec![0f32; rows];
    bad.matmul_acts(Isa::Scalar, &acts, &mut want).unwrap();
    let mut got = vec![0f32; rows];
    // Asking for a SIMD kernel still gives the exact (scalar) answer.
    bad.matmul_acts(Isa::detect(), &acts, &mut got).unwrap();
    assert_eq!(got, want);
    let deq = bad.dequantize();
    let d0 = deq[5] / -128.0;
    assert!((deq[0] - d0 * (m.to_blocks()[2] as i8) as f32).abs() < 1e-6);
}

#[test]
fn bad_shapes_and_blocks_are_errors() {
    let w = vec![0.5f32; 40];
    assert!(matches!(
        QMatrix::quantize(&w, 1, 40, Format::Nl4, None),
        Err(KernelError::Shape(_))
    ));
    assert!(QMatrix::quantize(&w[..32], 2, 32, Format::Nl4, None).is_err());
    assert!(QMatrix::from_blocks(Format::Q4_0, 1, 32, vec![0; 17]).is_err());
    // A NaN scale (f16 0x7E00).
    let mut b = vec![0u8; 18];
    b[0..2].copy_from_slice(&0x7E00u16.to_le_bytes());
    let e = QMatrix::from_blocks(Format::Q4_0, 1, 32, b).unwrap_err();
    assert!(e.to_string().contains("block 0 of row 0"), "{e}");
    let m = QMatrix::quantize(&vec![0.1f32; 64], 2, 32, Format::Q4_1, None).unwrap();
    let mut y = vec![0f32; 3];
    assert!(m.matmul(&[0.0; 32], 1, &mut y).is_err());
    assert!(m.matmul(&[0.0; 31], 1, &mut y[..2]).is_err());
    assert!(m.matmul(&[], 0, &mut []).is_err());
    assert!(Format::parse("q5_k").is_err());
    assert_eq!(Format::parse("NL4H").unwrap(), Format::Nl4H);
    // Zero, NaN and infinite inputs do not panic.
    let z = QMatrix::quantize(&vec![0f32; 64], 2, 32, Format::Nl4, None).unwrap();
    assert!(z.dequantize().iter().all(|&v| v == 0.0));
    let mut y = vec![0f32; 2];
    m.matmul(&[f32::NAN; 32], 1, &mut y).unwrap();
    m.matmul(&[f32::INFINITY; 32], 1, &mut y).unwrap();
}

#[test]
fn threads_do_not_change_the_result() {
    let (rows, cols) = (1000, 128);
    let w = gaussian(rows * cols, 12);
    let x = heavy(cols * 3, 13);
    let m = QMatrix::quantize(&w, rows, cols, Format::Q4_1, None).unwrap();
    let mut many = vec![0f32; 3 * rows];
    m.matmul(&x, 3, &mut many).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut one = vec![0f32; 3 * rows];
    pool.install(|| m.matmul(&x, 3, &mut one).unwrap());
    assert_eq!(many, one);
    let _ = BLOCK;
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Arbitrary block bytes (scales included), shapes, batches and activations: every SIMD
    /// kernel agrees with the scalar reference (the fuzz target `kernels` runs the same check).
    #[test]
    fn any_blocks_agree_with_the_reference(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 4..3000)) {
        tensorjpeg_kernels::check::differential(&data);
    }

    /// Arbitrary tables, code widths and collections: the table-lookup scan agrees with its
    /// reference, or both refuse the tables (the fuzz target `kernels` runs the same check).
    #[test]
    fn any_lookup_scan_agrees_with_the_reference(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 4..3000)) {
        tensorjpeg_kernels::check::differential_lut(&data);
    }
}
