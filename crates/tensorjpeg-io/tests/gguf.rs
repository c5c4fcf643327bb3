//! GGUF reading through candle.
mod common;

use std::io::Cursor;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor as CTensor};
use tensorjpeg::DType;
use tensorjpeg_io::{
    gguf_metadata, gguf_tensor_infos, read_gguf, read_gguf_selected, read_tensors,
};

/// A small GGUF file written by candle: a Q8_0 [4, 64] tensor and an F32 [3, 5] tensor.
fn small_gguf() -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let a = common::random_values(4 * 64, 11, 1.0);
    let b = common::random_values(15, 12, 1.0);
    let qa = QTensor::quantize(
        &CTensor::from_vec(a.clone(), (4, 64), &Device::Cpu).unwrap(),
        GgmlDType::Q8_0,
    )
    .unwrap();
    let qb = QTensor::quantize(
        &CTensor::from_vec(b.clone(), (3, 5), &Device::Cpu).unwrap(),
        GgmlDType::F32,
    )
    .unwrap();
    let arch = Value::String("test".into());
    let list = Value::Array((0..20).map(Value::U32).collect());
    let mut cur = Cursor::new(Vec::new());
    gguf_file::write(
        &mut cur,
        &[("general.architecture", &arch), ("test.list", &list)],
        &[("blk.0.attn_q.weight", &qa), ("output_norm.weight", &qb)],
    )
    .unwrap();
    let a_deq = qa
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    (cur.into_inner(), a_deq, b)
}

#[test]
fn gguf_small_file_reads_dequantized() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.gguf");
    let (bytes, a, b) = small_gguf();
    std::fs::write(&path, &bytes).unwrap();
    let tensors = read_tensors(&path).unwrap();
    assert_eq!(tensors.len(), 2);
    let qa = tensors
        .iter()
        .find(|t| t.name == "blk.0.attn_q.weight")
        .unwrap();
    assert_eq!(
        (qa.shape.clone(), qa.dtype.clone()),
        (vec![4, 64], DType::F32)
    );
    assert_eq!(qa.values().unwrap(), a.as_slice());
    let qb = tensors
        .iter()
        .find(|t| t.name == "output_norm.weight")
        .unwrap();
    assert_eq!(qb.shape, vec![3, 5]);
    assert_eq!(qb.values().unwrap(), b.as_slice());

    let infos = gguf_tensor_infos(&path).unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(
        infos.iter().find(|i| i.ggml_dtype == "Q8_0").unwrap().bytes,
        8 * 34
    );

    let meta = gguf_metadata(&path).unwrap();
    assert_eq!(
        meta[0],
        ("general.architecture".to_string(), "\"test\"".to_string())
    );
    assert_eq!(meta[1].1, "[0, 1, 2, 3, 4, 5, 6, 7, ... (20 items)]");
}

#[test]
fn gguf_truncated_or_bad_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.gguf");
    let (bytes, _, _) = small_gguf();
    // candle pads each tensor's data to 32 bytes: the F32 [3, 5] tensor (60 bytes) is last,
    // followed by 4 padding bytes, so cutting 5 bytes cuts into its data.
    let end = bytes.len() - 4;
    for cut in [0, 3, 8, 24, 60, bytes.len() / 2, end - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = read_gguf(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&path.display().to_string()),
            "cut {cut}: {err}"
        );
    }
    // Cut inside the tensor data: the error names the tensor.
    std::fs::write(&path, &bytes[..end - 1]).unwrap();
    let err = read_gguf(&path).unwrap_err().to_string();
    assert!(err.contains("tensor 'output_norm.weight'"), "{err}");
    // Cutting only the trailing padding loses nothing.
    std::fs::write(&path, &bytes[..end]).unwrap();
    assert_eq!(read_gguf(&path).unwrap().len(), 2);
    let mut bad = bytes.clone();
    bad[0] = b'X';
    std::fs::write(&path, &bad).unwrap();
    assert!(read_gguf(&path).is_err());
}

#[test]
fn smollm2_gguf_token_embd_shape() {
    let path = common::asset(common::SMOLLM2);
    let infos = gguf_tensor_infos(&path).unwrap();
    assert_eq!(
        infos.len(),
        272,
        "SmolLM2-135M has 30 blocks x 9 tensors + 2"
    );
    let embd = infos
        .iter()
        .find(|i| i.name == "token_embd.weight")
        .unwrap();
    assert_eq!(embd.shape, vec![49152, 576]);
    let q = infos
        .iter()
        .find(|i| i.name == "blk.0.attn_q.weight")
        .unwrap();
    assert_eq!(q.shape, vec![576, 576]);
    let k = infos
        .iter()
        .find(|i| i.name == "blk.0.attn_k.weight")
        .unwrap();
    assert_eq!(k.shape, vec![192, 576]);
    let up = infos
        .iter()
        .find(|i| i.name == "blk.0.ffn_up.weight")
        .unwrap();
    assert_eq!(up.shape, vec![1536, 576]);

    let keep = [
        "token_embd.weight",
        "blk.0.attn_q.weight",
        "blk.0.attn_norm.weight",
    ];
    let tensors = read_gguf_selected(&path, |n| keep.contains(&n)).unwrap();
    assert_eq!(tensors.len(), 3);
    for t in &tensors {
        assert_eq!(t.dtype, DType::F32);
        let v = t.values().unwrap();
        assert_eq!(v.len(), t.numel());
        assert!(v.iter().all(|x| x.is_finite()), "{}", t.name);
        let rms = (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        assert!(rms > 1e-3 && rms < 10.0, "{}: rms {rms}", t.name);
    }
    let embd = tensors
        .iter()
        .find(|t| t.name == "token_embd.weight")
        .unwrap();
    assert_eq!(embd.shape, vec![49152, 576]);
    assert_eq!(
        tensors
            .iter()
            .find(|t| t.name == "blk.0.attn_norm.weight")
            .unwrap()
            .shape,
        vec![576]
    );

    let meta = gguf_metadata(&path).unwrap();
    let arch = meta
        .iter()
        .find(|(k, _)| k == "general.architecture")
        .unwrap();
    assert_eq!(arch.1, "\"llama\"");
    let tokens = meta
        .iter()
        .find(|(k, _)| k == "tokenizer.ggml.tokens")
        .unwrap();
    assert!(tokens.1.ends_with("(49152 items)]"), "{}", tokens.1);
}

/// Reads and dequantizes all 272 tensors (~135 M values, ~540 MB of f32; about 4 s).
#[test]
fn smollm2_gguf_read_all() {
    let path = common::asset(common::SMOLLM2);
    let t0 = std::time::Instant::now();
    let tensors = read_gguf(&path).unwrap();
    println!("read {} tensors in {:.1?}", tensors.len(), t0.elapsed());
    assert_eq!(tensors.len(), 272);
    let total: usize = tensors.iter().map(|t| t.numel()).sum();
    assert!(
        (134_000_000..136_000_000).contains(&total),
        "{total} parameters"
    );
    assert_eq!(tensors[0].name, "token_embd.weight");
}
