//! The 32-point rotation of [`crate::Format::Nl4H`]: `R = H·S`, with `S` a fixed diagonal of
//! signs and `H` the orthonormal Walsh–Hadamard matrix (fast transform: 5 butterfly stages).
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
fn butterflies(v: &mut [f32; 32]) {
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
}
