//! The 32-point rotation of [`crate::Format::Nl4H`] and [`crate::Format::Nl3H`]: `R = H·S`,
//! with `S` a fixed diagonal of signs and `H` the orthonormal Walsh–Hadamard matrix (fast
//! transform: 5 butterfly stages).
//! `R` is orthogonal, so `(R w)·(R x) = w·x`: weights are stored rotated and the kernel rotates
//! each block of the activation once per product instead of un-rotating the weights.

/// The signs of `S`, one bit per position (1 = negate): a fixed pseudo-random pattern, so a
/// block's structure (one large value, a ramp) does not line up with a Hadamard row.
pub const SIGNS: u32 = 0x9E37_79B9;

/// Rotates 32 values in place by `R = H·S` (orthonormal).
#[inline]
pub fn fwht32(v: &mut [f32; 32]) {
    for (j, x) in v.iter_mut().enumerate() {
        if SIGNS >> j & 1 == 1 {
            *x = -*x;
        }
    }
    butterflies(v);
    let s = 1.0 / (32f32).sqrt();
    for x in v.iter_mut() {
        *x *= s;
    }
}

/// The unnormalised Walsh–Hadamard transform `H·√32`: 5 stages of butterflies.
fn butterflies<T: Copy + std::ops::Add<Output = T> + std::ops::Sub<Output = T>>(v: &mut [T; 32]) {
    let mut h = 1;
    while h < 32 {
        for i in (0..32).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (v[j], v[j + h]);
                v[j] = a + b;
                v[j + h] = a - b;
            }
        }
        h *= 2;
    }
}

/// Undoes [`fwht32`] (`Rᵀ = S·H`, since `H` is symmetric and its own inverse).
pub fn ifwht32(v: &mut [f32; 32]) {
    butterflies(v);
    let s = 1.0 / (32f32).sqrt();
    for (j, x) in v.iter_mut().enumerate() {
        *x *= if SIGNS >> j & 1 == 1 { -s } else { s };
    }
}

/// Rotates every block of 32 of `x` (length a multiple of 32).
pub fn rotate_blocks(x: &mut [f32]) {
    for c in x.chunks_exact_mut(32) {
        let a: &mut [f32; 32] = c.try_into().expect("32 values");
        fwht32(a);
    }
}

/// `R H Rᵀ` for a `dim × dim` row-major matrix `h` (`dim` a multiple of 32), `R` the
/// block-diagonal rotation of [`rotate_blocks`]: the second moment of rotated inputs when `h`
/// is that of the inputs, in f64.
pub fn rotate_gram(h: &mut [f64], dim: usize) {
    assert!(
        dim.is_multiple_of(32) && h.len() == dim * dim,
        "a dim × dim Gram, dim % 32 = 0"
    );
    // H Rᵀ rotates each row's blocks; then (H Rᵀ)ᵀ Rᵀ = R H Rᵀ rotates the transpose's.
    let rotate_rows = |h: &mut [f64]| {
        for c in h.chunks_exact_mut(32) {
            let a: &mut [f64; 32] = c.try_into().expect("32 values");
            fwht32_f64(a);
        }
    };
    rotate_rows(h);
    for i in 0..dim {
        for j in 0..i {
            h.swap(i * dim + j, j * dim + i);
        }
    }
    rotate_rows(h);
}

/// [`fwht32`] in f64.
fn fwht32_f64(v: &mut [f64; 32]) {
    for (j, x) in v.iter_mut().enumerate() {
        if SIGNS >> j & 1 == 1 {
            *x = -*x;
        }
    }
    butterflies(v);
    let s = 1.0 / 32f64.sqrt();
    for x in v.iter_mut() {
        *x *= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_orthonormal_and_inverts() {
        let x: [f32; 32] = std::array::from_fn(|i| (i as f32 * 0.7).sin() + i as f32 * 0.01);
        let y: [f32; 32] = std::array::from_fn(|i| (i as f32 * 1.3).cos());
        let (mut rx, mut ry) = (x, y);
        fwht32(&mut rx);
        fwht32(&mut ry);
        let dot = |a: &[f32; 32], b: &[f32; 32]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&x, &y) - dot(&rx, &ry)).abs() < 1e-4);
        assert!((dot(&x, &x) - dot(&rx, &rx)).abs() < 1e-4);
        ifwht32(&mut rx);
        for (a, b) in x.iter().zip(&rx) {
            assert!((a - b).abs() < 1e-5);
        }
        // A single spike spreads over the whole block.
        let mut s = [0f32; 32];
        s[5] = 1.0;
        fwht32(&mut s);
        assert!(s
            .iter()
            .all(|v| (v.abs() - 1.0 / 32f32.sqrt()).abs() < 1e-6));
    }

    #[test]
    fn a_rotated_gram_is_the_rotated_inputs_second_moment() {
        // H = Σ x xᵀ over a few inputs of 64; R H Rᵀ must equal Σ (R x)(R x)ᵀ.
        let dim = 64;
        let xs: Vec<Vec<f32>> = (0..5)
            .map(|s| {
                (0..dim)
                    .map(|i| ((i * 7 + s * 13) as f32 * 0.37).sin())
                    .collect()
            })
            .collect();
        let gram = |xs: &[Vec<f32>]| -> Vec<f64> {
            let mut h = vec![0f64; dim * dim];
            for x in xs {
                for i in 0..dim {
                    for j in 0..dim {
                        h[i * dim + j] += x[i] as f64 * x[j] as f64;
                    }
                }
            }
            h
        };
        let mut h = gram(&xs);
        rotate_gram(&mut h, dim);
        let rx: Vec<Vec<f32>> = xs
            .iter()
            .map(|x| {
                let mut r = x.clone();
                rotate_blocks(&mut r);
                r
            })
            .collect();
        let want = gram(&rx);
        for (a, b) in h.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
