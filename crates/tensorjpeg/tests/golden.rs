//! Golden vectors: fixed inputs must produce byte-identical containers (pinned by CRC-32 and
//! size), so any change to a stage's bitstream is noticed and the format doc updated. The
//! input is generated without floating-point library calls (an integer hash), so it is the
//! same on every platform.
//!
//! To re-pin after an intended format change: `GOLDEN_PRINT=1 cargo test -p tensorjpeg
//! --test golden -- --nocapture`, then bump `FORMAT_VERSION` if old files no longer decode.

use tensorjpeg::{compress, decompress, Options, Rate, Tensor};

/// A 24×40 matrix of hashed values in [-0.5, 0.5) with a smooth component.
fn input() -> Tensor {
    let (r, c) = (24usize, 40usize);
    let v: Vec<f32> = (0..r * c)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761).rotate_left(13) ^ 0x5bd1_e995;
            let noise = (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let smooth = ((i % c) as f32 - 20.0) / 40.0;
            0.1 * noise + smooth * 0.05
        })
        .collect();
    Tensor::from_f32("golden", vec![r, c], v).unwrap()
}

/// (case, codec spec, rate, expected container CRC-32, expected size in bytes)
const CASES: &[(&str, &str, Rate, u32, usize)] = &[
    // The default pipeline: identity transform, one step, rANS.
    ("native q75", "native", Rate::Quality(75), 0x7198c439, 608),
    // A guaranteed bound: step 2E, exceptions where f32 rounding would break it.
    (
        "native maxerr 1e-3",
        "native",
        Rate::MaxError(1e-3),
        0x5205e30f,
        885,
    ),
    // JPEG's 8×8 DCT with per-band entropy models.
    (
        "native dct8x8 q90",
        "native:dct8x8",
        Rate::Quality(90),
        0x98879727,
        1183,
    ),
    // CDF 9/7, 2 levels.
    (
        "native wavelet q50",
        "native:wavelet:levels=2",
        Rate::Quality(50),
        0x885987c8,
        551,
    ),
    // Seeded randomized Hadamard.
    (
        "native hadamard q75",
        "native:hadamard:seed=1",
        Rate::Quality(75),
        0x4c7d871e,
        629,
    ),
    // Per-plane steps, dead zone and reconstruction offset.
    (
        "native block dz",
        "native:rows:step=block:deadzone=0.2:recon=0.1",
        Rate::Quality(60),
        0x7813d7d5,
        529,
    ),
    // GGUF Q4_0 blocks (bit-identical to llama.cpp's reference quantizer).
    ("q4_0", "q4_0", Rate::Default, 0x938defe0, 917),
    // The seeds' literal JPEG, two rows per vector.
    (
        "jpeg tworow q95",
        "jpeg:tworow",
        Rate::Quality(95),
        0x198f1030,
        11778,
    ),
];

#[test]
fn containers_are_byte_identical() {
    let t = input();
    let print = std::env::var_os("GOLDEN_PRINT").is_some();
    let mut failures = Vec::new();
    for &(case, spec, rate, crc, size) in CASES {
        let bytes = compress(
            std::slice::from_ref(&t),
            &Options {
                codec: spec.into(),
                rate,
            },
        )
        .unwrap()
        .bytes;
        let got = (crc32fast::hash(&bytes), bytes.len());
        // Every golden container must still decode.
        decompress(&bytes).unwrap();
        if print {
            println!(
                "    (\"{case}\", \"{spec}\", {rate:?}, {:#010x}, {}),",
                got.0, got.1
            );
        } else if got != (crc, size) {
            failures.push(format!(
                "{case}: crc {:#010x} size {} (pinned {crc:#010x}, {size})",
                got.0, got.1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "bitstream changed:\n{}",
        failures.join("\n")
    );
}
