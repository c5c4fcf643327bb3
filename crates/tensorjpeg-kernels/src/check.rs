//! The differential check that the fuzz target `kernels` and the property tests run: any
//! block bytes, shape, batch and activations, multiplied by every SIMD kernel this CPU has
//! and by the scalar reference, must agree to float rounding (the integer block sums are
//! exact; only the order of float additions differs). Bytes that are not a valid matrix
//! (a non-finite scale) must be refused, never multiplied.

use crate::{Format, Isa, QActs, QMatrix, BLOCK};

/// Interprets `data` as (format, rows, blocks per row, batch, block bytes, activations) and
/// checks every available kernel against the scalar one. Panics on a disagreement; returns
/// quietly for inputs too short to form a case or refused as a matrix.
pub fn differential(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let format = Format::ALL[data[0] as usize % Format::ALL.len()];
    let rows = 1 + data[1] as usize % 9;
    let nb = 1 + data[2] as usize % 20;
    let batch = 1 + data[3] as usize % 6;
    let cols = nb * BLOCK;
    let need = rows * nb * format.block_bytes();
    let rest = &data[4..];
    if rest.is_empty() {
        return;
    }
    // The block bytes: the input cycled to length; with the top bit of byte 0 set, every
    // scale's f16 exponent is kept below the all-ones pattern (finite), so the case reaches
    // the kernels instead of being refused.
    let mut blocks: Vec<u8> = (0..need).map(|i| rest[i % rest.len()]).collect();
    if data[0] & 0x80 != 0 {
        let scales = if format == Format::Q4_1 { 2 } else { 1 };
        for blk in blocks.chunks_exact_mut(format.block_bytes()) {
            for s in 0..scales {
                blk[2 * s + 1] &= 0xBF;
            }
        }
    }
    let xs = &rest[need.min(rest.len())..];
    let Ok(m) = QMatrix::from_blocks(format, rows, cols, blocks) else {
        return;
    };
    // Activations from the remaining bytes (cycled), with a per-row magnitude.
    let x: Vec<f32> = (0..batch * cols)
        .map(|i| {
            if xs.is_empty() {
                return (i as f32 * 0.37).sin();
            }
            let b = xs[i % xs.len()] as i8 as f32;
            let mag = 2f32.powi((xs[(i / cols) % xs.len()] % 16) as i32 - 8);
            b * mag
        })
        .collect();
    let acts = QActs::quantize(&x, batch, cols, format.rotated());
    let mut want = vec![0f32; batch * rows];
    m.matmul_acts(Isa::Scalar, &acts, &mut want)
        .expect("the scalar kernel takes any valid matrix");
    // A bound on each output's rounding: Σ |ŵ|·|x̂| over the row.
    let w = m.dequantize();
    let xh: Vec<f32> = (0..batch * cols)
        .map(|i| acts.q[i] as f32 * acts.d[i / BLOCK])
        .collect();
    for isa in [Isa::Avx2, Isa::Avx512Vnni] {
        if !isa.available() {
            continue;
        }
        let mut got = vec![0f32; batch * rows];
        m.matmul_acts(isa, &acts, &mut got)
            .expect("an available kernel takes any valid matrix");
        for b in 0..batch {
            for r in 0..rows {
                let (g, e) = (got[b * rows + r], want[b * rows + r]);
                if !e.is_finite() || !g.is_finite() {
                    assert_eq!(g.is_finite(), e.is_finite(), "{format} {isa:?}: {g} vs {e}");
                    continue;
                }
                let bound: f64 = if format.rotated() {
                    // Rotated weights against rotated activations: bound in that domain.
                    let blocks = m.to_blocks();
                    let bb = format.block_bytes();
                    (0..nb)
                        .map(|k| {
                            let mut v = [0f32; BLOCK];
                            crate::format::decode_block(
                                format,
                                &blocks[(r * nb + k) * bb..(r * nb + k + 1) * bb],
                                &mut v,
                            );
                            (0..BLOCK)
                                .map(|j| (v[j] as f64 * xh[b * cols + k * BLOCK + j] as f64).abs())
                                .sum::<f64>()
                        })
                        .sum()
                } else {
                    (0..cols)
                        .map(|c| (w[r * cols + c] as f64 * xh[b * cols + c] as f64).abs())
                        .sum()
                };
                let tol = 1e-5 * bound + 1e-30;
                assert!(
                    ((g - e) as f64).abs() <= tol,
                    "{format} {isa:?} row {r} batch {b}: {g} vs {e} (bound {bound})"
                );
            }
        }
    }
}

/// The table-lookup scan ([`crate::lut`]): `data` as (code bytes per vector, vector count,
/// tables, codes), both cycled to length. The fast scan must give the reference's integers,
/// and tables with an entry that could overflow a 16-bit sum must be refused by both.
pub fn differential_lut(data: &[u8]) {
    use crate::lut::{max_entry, scan, scan_reference, BlockedCodes, LANES};
    if data.len() < 4 {
        return;
    }
    let m = 1 + (usize::from(data[0]) | usize::from(data[1] & 1) << 8) % 300;
    let n = usize::from(data[2]) + usize::from(data[3] >> 6) * 256;
    let rest = &data[4..];
    if rest.is_empty() {
        return;
    }
    let cap = max_entry(m);
    // Byte 1's top bit keeps the tables in range (the case reaches the kernels).
    let clamp = data[1] & 0x80 != 0;
    let tables: Vec<u8> = (0..m * 256)
        .map(|i| {
            let v = rest[i % rest.len()];
            if clamp {
                v % (cap.saturating_add(1)).max(1)
            } else {
                v
            }
        })
        .collect();
    let codes: Vec<u8> = (0..n * m)
        .map(|i| rest[(i * 7 + 3) % rest.len()] ^ (i as u8))
        .collect();
    let b = BlockedCodes::new(&codes, m).expect("whole vectors");
    let mut want = vec![0u16; b.blocks() * LANES];
    let mut got = vec![0u16; b.blocks() * LANES];
    let r = scan_reference(&tables, &b, &mut want);
    let s = scan(&tables, &b, &mut got);
    assert_eq!(
        r.is_ok(),
        s.is_ok(),
        "both kernels accept or refuse the tables"
    );
    if r.is_ok() {
        assert_eq!(want, got, "m {m} n {n}");
    } else {
        assert!(
            tables.iter().any(|&v| v > cap),
            "refused only for entries above {cap}"
        );
    }
}
