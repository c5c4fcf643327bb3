//! Property-based round trips through the whole pipeline: shapes, dtypes, codecs, modes.

mod common;

use proptest::prelude::*;
use tensorjpeg::metrics::compare;
use tensorjpeg::{compress, decompress, DType, Data, Options, Rate, Tensor};

fn tensor(shape: Vec<usize>, dtype: DType, seed: u64) -> Tensor {
    let n = shape.iter().product();
    let v: Vec<f32> = common::weights(n, seed)
        .into_iter()
        .map(|x| dtype.round_f32(x))
        .collect();
    Tensor {
        name: "t".into(),
        shape,
        dtype,
        data: Data::F32(v),
    }
}

fn shapes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![]),
        (0usize..70).prop_map(|n| vec![n]),
        (1usize..40, 1usize..40).prop_map(|(a, b)| vec![a, b]),
        (1usize..5, 1usize..9, 1usize..20).prop_map(|(a, b, c)| vec![a, b, c]),
        Just(vec![0, 7]),
        Just(vec![130, 3]),
    ]
}

fn dtypes() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F16), Just(DType::BF16)]
}

const CODECS: &[&str] = &[
    "native",
    "native:dct8x8",
    "native:dct1d",
    "native:hadamard",
    "native:wavelet",
    "native:klt",
    "native:rows:dct1d",
    "native:tiles:dct8x8",
    "native:tworow:dct8x8",
    "native:step=block:deadzone=0.2:recon=0.1",
    "jpeg",
    "jpeg:matrix",
    "jpeg:tiles:tile=16",
    "f16",
    "bf16",
    "q8_0",
    "q4_0",
    "q4_1",
    "svd",
    "zstd",
    "raw",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Names, shapes and dtypes survive every codec; values come back with bounded error.
    #[test]
    fn every_codec_round_trips(shape in shapes(), dtype in dtypes(), ci in 0..CODECS.len(), seed in 0u64..1000) {
        let t = tensor(shape, dtype, seed);
        let opts = Options { codec: CODECS[ci].into(), rate: Rate::Default };
        let c = compress(std::slice::from_ref(&t), &opts).unwrap();
        let back = decompress(&c.bytes).unwrap();
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(&back[0].name, &t.name);
        prop_assert_eq!(&back[0].shape, &t.shape);
        prop_assert_eq!(&back[0].dtype, &t.dtype);
        let (a, b) = (t.values().unwrap(), back[0].values().unwrap());
        prop_assert_eq!(a.len(), b.len());
        prop_assert!(b.iter().all(|v| v.is_finite()));
        for &v in b {
            prop_assert_eq!(t.dtype.round_f32(v), v, "value not representable in {:?}", t.dtype);
        }
    }

    /// Every rate mode of the native codec meets its promise on random weights.
    #[test]
    fn native_rate_modes(rows in 1usize..50, cols in 1usize..50, seed in 0u64..1000, mode in 0usize..4) {
        let t = tensor(vec![rows, cols], DType::F32, seed);
        let rate = [Rate::Quality(75), Rate::Bits(4.0), Rate::Snr(20.0), Rate::MaxError(1e-3)][mode];
        let c = compress(std::slice::from_ref(&t), &Options { codec: "native".into(), rate }).unwrap();
        let back = decompress(&c.bytes).unwrap();
        let s = compare(t.values().unwrap(), back[0].values().unwrap(), cols);
        match rate {
            Rate::MaxError(e) => prop_assert!(s.max_abs_error <= e),
            Rate::Snr(db) => prop_assert!(s.snr_db() >= db - 0.01 || s.error_energy == 0.0, "snr {}", s.snr_db()),
            _ => {}
        }
    }
}

#[test]
fn bits_target_is_met_on_a_real_sized_matrix() {
    let t = tensor(vec![384, 384], DType::F32, 1);
    let c = compress(
        std::slice::from_ref(&t),
        &Options {
            codec: "native".into(),
            rate: Rate::Bits(4.0),
        },
    )
    .unwrap();
    let bits = c.report.tensors[0].stored_bytes as f64 * 8.0 / t.numel() as f64;
    assert!(bits <= 4.0 && bits > 3.9, "{bits}");
    let back = decompress(&c.bytes).unwrap();
    let s = compare(t.values().unwrap(), back[0].values().unwrap(), 384);
    // Entropy-coded uniform quantization on heavy-tailed data: above the Gaussian ECSQ line.
    assert!(s.snr_db() > 6.02 * 4.0 - 1.53, "snr {}", s.snr_db());
}

#[test]
fn quality_is_monotone() {
    let t = tensor(vec![128, 96], DType::F32, 3);
    let mut last = (0.0, 0.0);
    for q in [10u8, 30, 50, 75, 90, 95, 100] {
        let c = compress(
            std::slice::from_ref(&t),
            &Options {
                codec: "native".into(),
                rate: Rate::Quality(q),
            },
        )
        .unwrap();
        let back = decompress(&c.bytes).unwrap();
        let s = compare(t.values().unwrap(), back[0].values().unwrap(), 96);
        let bits = c.bytes.len() as f64 * 8.0 / t.numel() as f64;
        assert!(
            bits >= last.0 && s.snr_db() >= last.1,
            "q={q}: {bits} bits {} dB after {last:?}",
            s.snr_db()
        );
        last = (bits, s.snr_db());
    }
}

#[test]
fn raw_dtypes_and_unselected_tensors_pass_through_bit_exactly() {
    let ids = Tensor {
        name: "ids".into(),
        shape: vec![3],
        dtype: DType::Other("I64".into()),
        data: Data::Raw((0u8..24).collect()),
    };
    let w = tensor(vec![4, 4], DType::BF16, 9);
    let c = tensorjpeg::pipeline::compress_with(
        &[ids.clone(), w.clone()],
        &Options::default(),
        &tensorjpeg::default_registry(),
        &|_| false,
        &|_| {},
    )
    .unwrap();
    let back = decompress(&c.bytes).unwrap();
    assert_eq!(back, vec![ids, w]);
}
