//! candle's quantizers as registered codecs.
mod common;

use tensorjpeg::{Error, Rate};
use tensorjpeg_io::candle_codecs::NAMES;
use tensorjpeg_io::registry;

#[test]
fn registry_knows_every_codec_by_its_name() {
    let reg = registry();
    for name in NAMES.iter().chain(&["q8_0", "q4_0", "q4_1"]) {
        assert!(reg.names().contains(name), "{name}");
        assert_eq!(reg.build(name).unwrap().name(), *name);
    }
    assert!(reg.build("q4_k:fast").is_err());
}

#[test]
fn candle_codecs_round_trip_with_expected_rates() {
    let (rows, cols) = (8, 512);
    let v = common::random_values(rows * cols, 3, 0.02);
    let reg = registry();
    // (name, bits per value, max relative RMS error)
    for (name, bpv, rel) in [
        ("candle-q8_0", 8.5, 0.01),
        ("candle-q4_0", 4.5, 0.15),
        ("candle-q4_1", 5.0, 0.15),
        ("q2_k", 2.625, 0.6),
        ("q3_k", 3.4375, 0.3),
        ("q4_k", 4.5, 0.15),
        ("q5_k", 5.5, 0.08),
        ("q6_k", 6.5625, 0.04),
    ] {
        let c = reg.build(name).unwrap();
        let enc = c.encode(&v, &[rows, cols], Rate::Default).unwrap();
        let bits = enc.payload_bytes() as f64 * 8.0 / v.len() as f64;
        assert_eq!(bits, bpv, "{name}");
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let d = c.decode(&enc.params, &chunks, &[rows, cols]).unwrap();
        let err: f32 = v.iter().zip(&d).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
        let sig: f32 = v.iter().map(|a| a * a).sum::<f32>();
        let r = (err / sig).sqrt();
        assert!(r < rel, "{name}: relative RMS error {r}");
        // Damaged input is rejected, never mis-decoded or a panic.
        let short = &chunks[0][..chunks[0].len() - 1];
        assert!(c.decode(&[], &[short], &[rows, cols]).is_err(), "{name}");
        assert!(c.decode(&[], &chunks, &[rows + 1, cols]).is_err(), "{name}");
        assert!(c.decode(&[7], &chunks, &[rows, cols]).is_err(), "{name}");
        // Odd offsets (as inside a container) decode the same.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(chunks[0]);
        assert_eq!(
            c.decode(&[], &[&shifted[1..]], &[rows, cols]).unwrap(),
            d,
            "{name}"
        );
    }
}

#[test]
fn k_quants_need_multiples_of_256() {
    let reg = registry();
    let v = common::random_values(4 * 384, 1, 1.0);
    for name in ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k"] {
        let err = reg
            .build(name)
            .unwrap()
            .encode(&v, &[4, 384], Rate::Default)
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("{name}: last dimension 384 is not a multiple of 256 (required by K-quants)")
        );
    }
    // The 32-value formats pad instead.
    let c = reg.build("candle-q4_1").unwrap();
    let enc = c.encode(&v[..4 * 379], &[4, 379], Rate::Default).unwrap();
    let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(c.decode(&[], &chunks, &[4, 379]).unwrap().len(), 4 * 379);
    assert!(c.encode(&v, &[4, 384], Rate::MaxError(0.1)).is_err());
}

#[test]
fn candle_codecs_multi_chunk_and_empty() {
    let reg = registry();
    let c = reg.build("q4_k").unwrap();
    let (rows, cols) = (9000, 256); // 2.3 Mi values -> 2 chunks of 8192 blocks
    let v = common::random_values(rows * cols, 8, 1.0);
    let enc = c.encode(&v, &[rows, cols], Rate::Default).unwrap();
    assert_eq!(enc.chunks.len(), 2);
    let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(
        c.decode(&[], &chunks, &[rows, cols]).unwrap().len(),
        v.len()
    );
    let enc = c.encode(&[], &[0, 256], Rate::Default).unwrap();
    assert!(enc.chunks.is_empty());
    assert!(c.decode(&[], &[], &[0, 256]).unwrap().is_empty());
}

/// One registry: once registered, the codec crate's own `compress` and `decompress` write
/// and read K-quant containers (each test binary is one process, so this test registers).
#[test]
fn registered_codecs_reach_the_codec_crates_decompress() {
    let v = common::random_values(4 * 256, 5, 0.02);
    let t = tensorjpeg::Tensor::from_f32("w", vec![4, 256], v.clone()).unwrap();
    tensorjpeg_io::register_codecs();
    tensorjpeg_io::register_codecs(); // idempotent
    let opts = tensorjpeg::Options {
        codec: "q4_k".into(),
        rate: Rate::Default,
    };
    let c = tensorjpeg::compress(std::slice::from_ref(&t), &opts).unwrap();
    let back = tensorjpeg::decompress(&c.bytes).unwrap();
    let d = back[0].values().unwrap();
    let direct = registry().build("q4_k").unwrap();
    let enc = direct.encode(&v, &[4, 256], Rate::Default).unwrap();
    let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
    assert_eq!(
        d,
        &direct.decode(&enc.params, &chunks, &[4, 256]).unwrap()[..]
    );
    let n = tensorjpeg::default_registry()
        .names()
        .iter()
        .filter(|n| **n == "q4_k")
        .count();
    assert_eq!(n, 1);
}
