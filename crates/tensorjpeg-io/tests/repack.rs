//! Lossless GGUF repacking: bit-exact restoration, real savings, damage detected.
mod common;

use std::io::Cursor;
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor as CTensor};
use tensorjpeg_io::{is_repacked, repack_gguf, unpack_gguf};

/// A GGUF file with one tensor of each modelled kind, an F32 one and an F16 one.
fn mixed_gguf() -> Vec<u8> {
    let q = |rows: usize, cols: usize, seed: u64, t: GgmlDType| {
        let v = common::random_values(rows * cols, seed, 0.05);
        QTensor::quantize(
            &CTensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap(),
            t,
        )
        .unwrap()
    };
    let tensors = [
        ("a.q4_0", q(24, 128, 1, GgmlDType::Q4_0)),
        ("b.norm", q(1, 37, 2, GgmlDType::F32)),
        ("c.q4_1", q(40, 96, 3, GgmlDType::Q4_1)),
        ("d.q8_0", q(33, 64, 4, GgmlDType::Q8_0)),
        ("e.f16", q(5, 64, 5, GgmlDType::F16)),
    ];
    let arch = Value::String("test".into());
    let mut cur = Cursor::new(Vec::new());
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    gguf_file::write(&mut cur, &[("general.architecture", &arch)], &refs).unwrap();
    cur.into_inner()
}

#[test]
fn every_block_kind_restores_bit_for_bit() {
    let gguf = mixed_gguf();
    let path = Path::new("mixed.gguf");
    let (packed, stats) = repack_gguf(path, &gguf).unwrap();
    assert!(is_repacked(&packed) && !is_repacked(&gguf));
    assert_eq!(stats.coded_tensors, 3, "{stats:?}");
    assert_eq!(stats.original_bytes, gguf.len() as u64);
    assert_eq!(unpack_gguf(path, &packed).unwrap(), gguf);
}

#[test]
fn damage_anywhere_is_an_error_never_another_file() {
    let gguf = mixed_gguf();
    let path = Path::new("mixed.tjgguf");
    let (packed, _) = repack_gguf(path, &gguf).unwrap();
    // Every byte flipped in turn (step 7 for speed): the framing CRC catches it.
    for i in (0..packed.len()).step_by(7) {
        let mut bad = packed.clone();
        bad[i] ^= 0x21;
        let err = unpack_gguf(path, &bad).expect_err("damage must be detected");
        assert!(err.to_string().contains("mixed.tjgguf"), "{err}");
    }
    // A truncated file too.
    assert!(unpack_gguf(path, &packed[..packed.len() - 9]).is_err());
    // A GGUF file is not a repacked one.
    let err = unpack_gguf(path, &gguf).unwrap_err().to_string();
    assert!(err.contains("TJREPACK"), "{err}");
}

#[test]
fn smollm2_repacks_below_its_quantized_size_bit_for_bit() {
    let path = common::asset(common::SMOLLM2);
    let gguf = std::fs::read(&path).unwrap();
    let t = std::time::Instant::now();
    let (packed, stats) = repack_gguf(&path, &gguf).unwrap();
    let t_pack = t.elapsed();
    let t = std::time::Instant::now();
    let back = unpack_gguf(&path, &packed).unwrap();
    let t_unpack = t.elapsed();
    assert!(back == gguf, "the restored file differs");
    let q4 = (stats.coded_values - stats.q8_values) as f64;
    for (group, bits) in stats.symbol_bits {
        let per = if group.starts_with("q8") {
            stats.q8_values as f64
        } else {
            q4
        };
        eprintln!("  {group}: {:.4} bits per value of its tensors", bits / per);
    }
    // Bits per weight over every tensor's values (134,515,008 in this model).
    let values = 134_515_008f64;
    let data_bits = (stats.repacked_bytes - stats.rest_bytes) as f64 * 8.0 / values;
    let all_bits = stats.repacked_bytes as f64 * 8.0 / values;
    eprintln!(
        "SmolLM2 repack: {} -> {} bytes ({:.3} bpw all-in, {:.3} bpw without the header's stream; \
         file {:.3} bpw); coded {} tensors {} -> {} bytes; rest {} -> {} bytes; pack {:.2?}, unpack {:.2?}",
        stats.original_bytes,
        stats.repacked_bytes,
        all_bits,
        data_bits,
        stats.original_bytes as f64 * 8.0 / values,
        stats.coded_tensors,
        stats.coded_original_bytes,
        stats.coded_bytes,
        stats.rest_original_bytes,
        stats.rest_bytes,
        t_pack,
        t_unpack
    );
    // 210 Q4_1 matrices and the Q8_0 embedding; the F32 norms go with the header.
    assert_eq!(stats.coded_tensors, 211);
    // The target: ≤ 5.0 bits per weight, all-in.
    assert!(all_bits <= 5.0, "{all_bits:.3} bpw");
}
