//! A checked dense product for the codec's encoders: `C −= A·B` on row-major slices with
//! leading dimensions ([`sub_product`]), run by `matrixmultiply`'s `sgemm` (AVX/FMA chosen
//! at run time), beside the plain loop it is tested against ([`sub_product_reference`]).
//! Every index the product touches is checked against the slices before the call.

use std::fmt;

/// A product whose shapes do not fit the slices it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "matrix product: {}", self.0)
    }
}

impl std::error::Error for ShapeError {}

/// Checks that an `rows × cols` row-major matrix with leading dimension `ld` fits `len`.
fn fits(what: &str, len: usize, rows: usize, cols: usize, ld: usize) -> Result<(), ShapeError> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let need = (rows - 1)
        .checked_mul(ld)
        .and_then(|v| v.checked_add(cols))
        .ok_or_else(|| ShapeError(format!("{what}: {rows} × {cols} overflows")))?;
    if ld < cols || need > len {
        return Err(ShapeError(format!(
            "{what}: {rows} × {cols} with leading dimension {ld} needs {need} values, has {len}"
        )));
    }
    Ok(())
}

/// Checks `A` (`m × k`), `B` (`k × n`) and `C` (`m × n`) against their slices' lengths.
fn shapes([m, k, n]: [usize; 3], len: [usize; 3], ld: [usize; 3]) -> Result<(), ShapeError> {
    fits("A", len[0], m, k, ld[0])?;
    fits("B", len[1], k, n, ld[1])?;
    fits("C", len[2], m, n, ld[2])
}

/// `C[i][j] −= Σₚ A[i][p]·B[p][j]` for `i < m`, `p < k`, `j < n`; `A`, `B`, `C` row-major
/// with leading dimensions `lda`, `ldb`, `ldc`. An error (nothing written) if a shape does
/// not fit its slice.
#[allow(clippy::too_many_arguments)]
pub fn sub_product(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) -> Result<(), ShapeError> {
    shapes([m, k, n], [a.len(), b.len(), c.len()], [lda, ldb, ldc])?;
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let (lda, ldb, ldc) = (lda as isize, ldb as isize, ldc as isize);
    // SAFETY: `fits` checked that every element `sgemm` reads (A[i·lda + p], B[p·ldb + j])
    // and writes (C[i·ldc + j]) for i < m, p < k, j < n lies inside its slice; `c` is a
    // unique borrow, so it aliases neither `a` nor `b`; strides fit `isize` because the
    // slices' lengths do.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            -1.0,
            a.as_ptr(),
            lda,
            1,
            b.as_ptr(),
            ldb,
            1,
            1.0,
            c.as_mut_ptr(),
            ldc,
            1,
        );
    }
    Ok(())
}

/// The plain triple loop [`sub_product`] is tested against.
#[allow(clippy::too_many_arguments)]
pub fn sub_product_reference(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) -> Result<(), ShapeError> {
    shapes([m, k, n], [a.len(), b.len(), c.len()], [lda, ldb, ldc])?;
    for i in 0..m {
        for p in 0..k {
            let x = a[i * lda + p];
            for j in 0..n {
                c[i * ldc + j] -= x * b[p * ldb + j];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Equal to the plain loop (to rounding), with padding in every leading dimension,
        /// and nothing outside the `m × n` window of `C` touched.
        #[test]
        fn equals_the_reference(m in 0usize..70, k in 0usize..40, n in 0usize..90,
                                pad in 0usize..5, seed in 0u64..1000) {
            let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            };
            let (lda, ldb, ldc) = (k + pad, n + pad, n + 2 * pad);
            let a: Vec<f32> = (0..m * lda).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * ldb).map(|_| next()).collect();
            let c0: Vec<f32> = (0..m.max(1) * ldc).map(|_| next()).collect();
            let (mut c, mut r) = (c0.clone(), c0.clone());
            sub_product(m, k, n, &a, lda, &b, ldb, &mut c, ldc).unwrap();
            sub_product_reference(m, k, n, &a, lda, &b, ldb, &mut r, ldc).unwrap();
            for (i, (&x, &y)) in c.iter().zip(&r).enumerate() {
                prop_assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{i}: {x} vs {y}");
                if i % ldc >= n || i / ldc >= m {
                    prop_assert_eq!(x, c0[i]);
                }
            }
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        let a = vec![0f32; 6];
        let mut c = vec![0f32; 6];
        // A 2 × 3 times a 3 × 2 that holds only 5 values.
        let e = sub_product(2, 3, 2, &a, 3, &a[..5], 2, &mut c, 2).unwrap_err();
        assert!(e.to_string().contains("B"), "{e}");
        // A leading dimension below the width.
        assert!(sub_product(2, 3, 2, &a, 2, &a, 2, &mut c, 2).is_err());
        // C too small.
        let mut small = vec![0f32; 3];
        assert!(sub_product(2, 3, 2, &a, 3, &a, 2, &mut small, 2).is_err());
        assert!(sub_product(0, 3, 2, &a, 3, &a, 2, &mut small, 2).is_ok());
    }
}
