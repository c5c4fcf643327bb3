//! THE key check: the pure-Rust GGUF block quantizers in `tensorjpeg::baselines::ggml`
//! write byte-identical blocks to candle's `QTensor::quantize` (a port of llama.cpp's
//! `quantize_row_q*_ref`), on random data and on a real MiniLM weight matrix.
mod common;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor as CTensor};
use tensorjpeg::{Codec, Rate};
use tensorjpeg_io::read_safetensors;

const KINDS: [(&str, &str, GgmlDType); 3] = [
    ("q8_0", "candle-q8_0", GgmlDType::Q8_0),
    ("q4_0", "candle-q4_0", GgmlDType::Q4_0),
    ("q4_1", "candle-q4_1", GgmlDType::Q4_1),
];

fn candle_bytes(values: &[f32], rows: usize, cols: usize, dtype: GgmlDType) -> Vec<u8> {
    let t = CTensor::from_vec(values.to_vec(), (rows, cols), &Device::Cpu).unwrap();
    QTensor::quantize(&t, dtype)
        .unwrap()
        .data()
        .unwrap()
        .into_owned()
}

fn ours(codec: &dyn Codec, values: &[f32], shape: &[usize]) -> Vec<u8> {
    let enc = codec.encode(values, shape, Rate::Default).unwrap();
    assert!(enc.params.is_empty());
    enc.chunks.concat()
}

/// Compares block by block and reports the first difference readably.
fn assert_same_blocks(name: &str, what: &str, ours: &[u8], theirs: &[u8], block_bytes: usize) {
    assert_eq!(ours.len(), theirs.len(), "{name} on {what}: lengths differ");
    if let Some(i) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
        let b = i / block_bytes;
        panic!(
            "{name} on {what}: first difference in block {b} at byte {}:\n ours   {:?}\n candle {:?}",
            i % block_bytes,
            &ours[b * block_bytes..(b + 1) * block_bytes],
            &theirs[b * block_bytes..(b + 1) * block_bytes]
        );
    }
}

fn check_all(values: &[f32], rows: usize, cols: usize, what: &str) {
    let reg = tensorjpeg_io::registry();
    for (ours_name, candle_name, dtype) in KINDS {
        let ours_codec = reg.build(ours_name).unwrap();
        let mine = ours(ours_codec.as_ref(), values, &[rows, cols]);
        let theirs = candle_bytes(values, rows, cols, dtype);
        assert_same_blocks(ours_name, what, &mine, &theirs, dtype.type_size());
        // The candle codec stores the same bytes, and both decoders agree exactly.
        let candle_codec = reg.build(candle_name).unwrap();
        assert_eq!(
            ours(candle_codec.as_ref(), values, &[rows, cols]),
            mine,
            "{candle_name}"
        );
        let enc = ours_codec
            .encode(values, &[rows, cols], Rate::Default)
            .unwrap();
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let a = ours_codec.decode(&[], &chunks, &[rows, cols]).unwrap();
        let b = candle_codec.decode(&[], &chunks, &[rows, cols]).unwrap();
        let (ab, bb): (Vec<u32>, Vec<u32>) = (
            a.iter().map(|v| v.to_bits()).collect(),
            b.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(ab, bb, "{ours_name} vs {candle_name} decoding on {what}");
    }
}

#[test]
fn ggml_blocks_match_candle_on_random_data() {
    // Gaussian-ish, heavy-tailed, tiny, huge, all-equal, signed-tie and zero blocks.
    let (rows, cols) = (64, 256);
    let mut v = common::random_values(rows * cols, 42, 0.05);
    for (i, x) in v.iter_mut().enumerate() {
        match (i / 32) % 16 {
            1 => *x = x.powi(3) * 1e4,                     // heavy tails
            2 => *x *= 1e-6,                               // tiny scale (f16 subnormal d)
            3 => *x *= 1e5, // large scale (near f16 range limit for d)
            4 => *x = 0.0,  // zero block
            5 => *x = 0.75, // constant block
            6 => *x = if i % 2 == 0 { -1.0 } else { 1.0 }, // equal magnitudes, both signs
            7 => *x = (i % 32) as f32 / 31.0 - 0.5, // ramp: many exact .5 ties
            8 => *x = x.abs(), // all positive
            _ => {}
        }
    }
    check_all(&v, rows, cols, "random data");
    // Several seeds and shapes, including a row of one block.
    for seed in 0..8 {
        let v = common::random_values(32 * 96, seed, 1.0 + seed as f32);
        check_all(&v, 32, 96, &format!("seed {seed}"));
    }
    check_all(&common::random_values(32, 99, 1.0), 1, 32, "one block");
}

#[test]
fn ggml_blocks_match_candle_on_minilm_query_weight() {
    let path = common::asset(common::MINILM);
    let tensors = read_safetensors(&path).unwrap();
    for name in [
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.3.intermediate.dense.weight",
        "embeddings.position_embeddings.weight",
    ] {
        let t = tensors.iter().find(|t| t.name == name).unwrap();
        let (rows, cols) = t.matrix_dims();
        check_all(t.values().unwrap(), rows, cols, name);
    }
}

#[test]
fn ggml_padding_matches_candle_on_padded_rows() {
    // With cols not a multiple of 32, our padded rows equal candle on explicitly padded data.
    let (rows, cols) = (5, 70);
    let v = common::random_values(rows * cols, 5, 1.0);
    let mut padded = vec![0f32; rows * 96];
    for r in 0..rows {
        padded[r * 96..r * 96 + cols].copy_from_slice(&v[r * cols..(r + 1) * cols]);
    }
    let reg = tensorjpeg_io::registry();
    for (ours_name, candle_name, dtype) in KINDS {
        let mine = ours(reg.build(ours_name).unwrap().as_ref(), &v, &[rows, cols]);
        assert_same_blocks(
            ours_name,
            "padded rows",
            &mine,
            &candle_bytes(&padded, rows, 96, dtype),
            dtype.type_size(),
        );
        assert_eq!(
            ours(reg.build(candle_name).unwrap().as_ref(), &v, &[rows, cols]),
            mine
        );
    }
}
