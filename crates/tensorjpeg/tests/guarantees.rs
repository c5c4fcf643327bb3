//! The promises the container makes whatever the input: `--max-error` is never exceeded,
//! non-finite values survive exactly, damaged files are refused, never mis-decoded.

mod common;

use rand::{Rng, SeedableRng};
use tensorjpeg::metrics::compare;
use tensorjpeg::{compress, decompress, DType, Data, Options, Rate, Tensor};

#[test]
fn max_error_is_never_exceeded() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for case in 0..120u64 {
        let rows = rng.gen_range(1..80);
        let cols = rng.gen_range(1..80);
        let n = rows * cols;
        let values = match case % 4 {
            0 => common::weights(n, case),
            1 => common::gaussian(n, case, 10f64.powi(rng.gen_range(-6..4))),
            2 => common::nasty(n, case),
            _ => (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect(),
        };
        let bound = 10f64.powf(rng.gen_range(-6.0..0.0));
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let v: Vec<f32> = values
                .iter()
                .map(|&x| dtype.round_f32(x))
                .filter(|x| x.is_finite())
                .collect();
            if v.len() != n {
                continue;
            }
            let t = Tensor {
                name: format!("case{case}"),
                shape: vec![rows, cols],
                dtype: dtype.clone(),
                data: Data::F32(v.clone()),
            };
            let c = compress(
                &[t],
                &Options {
                    codec: "native".into(),
                    rate: Rate::MaxError(bound),
                },
            )
            .unwrap();
            let back = decompress(&c.bytes).unwrap();
            let s = compare(&v, back[0].values().unwrap(), cols);
            assert!(
                s.max_abs_error <= bound,
                "case {case} {dtype:?}: max error {} > bound {bound}",
                s.max_abs_error
            );
        }
    }
}

#[test]
fn non_finite_values_survive_exactly() {
    let mut v = common::weights(300, 5);
    v[0] = f32::NAN;
    v[17] = f32::INFINITY;
    v[299] = f32::NEG_INFINITY;
    v[100] = f32::from_bits(0x7fc0_1234); // a NaN with payload
    v[101] = f32::from_bits(1); // smallest subnormal
    for codec in [
        "native",
        "native:dct8x8",
        "jpeg",
        "q4_0",
        "f16",
        "zstd",
        "svd",
    ] {
        let t = Tensor::from_f32("x", vec![10, 30], v.clone()).unwrap();
        let c = compress(
            &[t],
            &Options {
                codec: codec.into(),
                rate: Rate::Default,
            },
        )
        .unwrap();
        let back = decompress(&c.bytes).unwrap();
        let b = back[0].values().unwrap();
        for i in [0usize, 17, 299, 100] {
            assert_eq!(b[i].to_bits(), v[i].to_bits(), "{codec}: element {i}");
        }
        let s = compare(&v, b, 30);
        assert_eq!(s.nonfinite_mismatches, 0);
    }
    // Lossless codecs keep subnormals bit-exactly too.
    let t = Tensor::from_f32("x", vec![300], v.clone()).unwrap();
    let c = compress(
        &[t],
        &Options {
            codec: "zstd".into(),
            rate: Rate::Default,
        },
    )
    .unwrap();
    assert_eq!(
        decompress(&c.bytes).unwrap()[0].values().unwrap()[101].to_bits(),
        1
    );
}

fn sample_container() -> (Vec<u8>, Vec<Tensor>) {
    let a = Tensor::from_f32("a", vec![40, 33], common::weights(40 * 33, 1)).unwrap();
    let b = Tensor::from_f32("b", vec![70], common::weights(70, 2)).unwrap();
    let c = compress(&[a.clone(), b.clone()], &Options::default()).unwrap();
    (c.bytes, vec![a, b])
}

#[test]
fn every_truncation_is_refused() {
    let (bytes, _) = sample_container();
    for cut in 0..bytes.len() {
        assert!(
            decompress(&bytes[..cut]).is_err(),
            "truncated at {cut} decoded"
        );
    }
}

#[test]
fn bit_flips_are_detected_never_decoded_into_wrong_numbers() {
    let (bytes, _) = sample_container();
    let good = decompress(&bytes).unwrap();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            if let Ok(t) = decompress(&b) {
                // A flip may only be accepted if it changed nothing observable.
                assert_eq!(
                    t, good,
                    "flip of bit {bit} in byte {i} decoded into different numbers"
                );
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (bytes, _) = sample_container();
    for _ in 0..3000 {
        let n = rng.gen_range(0..300);
        let mut junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        if rng.gen_bool(0.5) && junk.len() >= 12 {
            junk[..12].copy_from_slice(&bytes[..12]);
        }
        let _ = decompress(&junk);
    }
    // Structured mutations of a real container: overwrite runs of bytes.
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let at = rng.gen_range(0..b.len());
        let len = rng.gen_range(1..8).min(b.len() - at);
        for x in &mut b[at..at + len] {
            *x = rng.gen();
        }
        let _ = decompress(&b);
    }
}

#[test]
fn empty_and_odd_shapes_work() {
    for shape in [
        vec![0usize],
        vec![0, 5],
        vec![5, 0],
        vec![],
        vec![1],
        vec![7, 9],
        vec![3, 1, 13],
    ] {
        let n: usize = shape.iter().product();
        let t = Tensor::from_f32("e", shape.clone(), common::weights(n, 7)).unwrap();
        for codec in [
            "native",
            "native:dct8x8",
            "native:wavelet",
            "jpeg",
            "q4_0",
            "svd",
        ] {
            let c = compress(
                std::slice::from_ref(&t),
                &Options {
                    codec: codec.into(),
                    rate: Rate::Default,
                },
            )
            .unwrap();
            let back = decompress(&c.bytes).unwrap();
            assert_eq!(back[0].shape, shape, "{codec}");
            assert_eq!(back[0].values().unwrap().len(), n, "{codec}");
        }
    }
}
