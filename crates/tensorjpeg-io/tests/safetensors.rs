//! safetensors reading and writing.
mod common;

use std::collections::BTreeMap;

use tensorjpeg::{DType, Data, Tensor};
use tensorjpeg_io::safetensors_io::{parse_safetensors, serialize_safetensors};
use tensorjpeg_io::{
    read_safetensors, read_safetensors_with_metadata, read_tensors, write_safetensors,
};
use tensorjpeg_io::{write_safetensors_with_metadata, write_tensors};

fn sample_tensors() -> Vec<Tensor> {
    let f32s = common::random_values(6 * 5, 1, 1.0);
    let f16s: Vec<f32> = common::random_values(4 * 8, 2, 3.0)
        .into_iter()
        .map(|v| half::f16::from_f32(v).to_f32())
        .collect();
    let bf16s: Vec<f32> = common::random_values(3 * 2 * 4, 3, 100.0)
        .into_iter()
        .map(|v| half::bf16::from_f32(v).to_f32())
        .collect();
    let i64s: Vec<u8> = [-3i64, 0, 7, i64::MAX, i64::MIN]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    vec![
        Tensor::from_f32("a.weight", vec![6, 5], f32s).unwrap(),
        Tensor {
            name: "b.half".into(),
            shape: vec![4, 8],
            dtype: DType::F16,
            data: Data::F32(f16s),
        },
        Tensor {
            name: "c.bf16".into(),
            shape: vec![3, 2, 4],
            dtype: DType::BF16,
            data: Data::F32(bf16s),
        },
        Tensor {
            name: "d.ids".into(),
            shape: vec![5],
            dtype: DType::Other("I64".into()),
            data: Data::Raw(i64s),
        },
        Tensor::from_f32("e.scalar", vec![], vec![-0.0]).unwrap(),
    ]
}

fn bit_exact(a: &Tensor, b: &Tensor) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.shape, b.shape, "{}", a.name);
    assert_eq!(a.dtype, b.dtype, "{}", a.name);
    match (&a.data, &b.data) {
        (Data::F32(x), Data::F32(y)) => {
            let xb: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
            let yb: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
            assert_eq!(xb, yb, "{}", a.name);
        }
        (Data::Raw(x), Data::Raw(y)) => assert_eq!(x, y, "{}", a.name),
        _ => panic!("{}: data kinds differ", a.name),
    }
}

#[test]
fn safetensors_round_trip_f32_f16_bf16_i64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let mut tensors = sample_tensors();
    tensors.reverse(); // written in any order, read back sorted by name
    write_safetensors(&path, &tensors).unwrap();
    let back = read_safetensors(&path).unwrap();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(back.len(), tensors.len());
    for (a, b) in tensors.iter().zip(&back) {
        bit_exact(a, b);
    }
    // Written again, the file is byte-identical; no temp files are left behind.
    let bytes1 = std::fs::read(&path).unwrap();
    write_tensors(&path, &back).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // The dispatching reader gives the same.
    assert_eq!(read_tensors(&path).unwrap(), back);
}

#[test]
fn safetensors_metadata_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.safetensors");
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    meta.insert("note".to_string(), "tensorjpeg test".to_string());
    write_safetensors_with_metadata(&path, &sample_tensors(), &meta).unwrap();
    let (tensors, back) = read_safetensors_with_metadata(&path).unwrap();
    assert_eq!(back, meta);
    assert_eq!(tensors.len(), 5);
}

#[test]
fn safetensors_narrowing_rounds_to_nearest() {
    let t = Tensor {
        name: "h".into(),
        shape: vec![2],
        dtype: DType::F16,
        data: Data::F32(vec![1.0 + 1e-4, 65504.0]),
    };
    let bytes = serialize_safetensors("x.safetensors".as_ref(), &[t], &BTreeMap::new()).unwrap();
    let (back, _) = parse_safetensors("x.safetensors".as_ref(), &bytes).unwrap();
    assert_eq!(back[0].values().unwrap(), &[1.0, 65504.0]);
}

#[test]
fn safetensors_bad_input_is_an_error_naming_the_file() {
    let good = serialize_safetensors("g".as_ref(), &sample_tensors(), &BTreeMap::new()).unwrap();
    for cut in [0, 3, 8, 20, good.len() - 1] {
        let err = parse_safetensors("cut.safetensors".as_ref(), &good[..cut]).unwrap_err();
        assert!(err.to_string().starts_with("cut.safetensors: "), "{err}");
    }
    // A header length far beyond the file.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(parse_safetensors("h.safetensors".as_ref(), &huge).is_err());
    // Missing file.
    let err = read_safetensors("/nonexistent/dir/x.safetensors".as_ref()).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/dir/x.safetensors"),
        "{err}"
    );
}

#[test]
fn safetensors_write_rejects_inconsistent_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let wrong_len = Tensor {
        name: "w".into(),
        shape: vec![3],
        dtype: DType::F32,
        data: Data::F32(vec![1.0]),
    };
    let err = write_safetensors(&path, &[wrong_len])
        .unwrap_err()
        .to_string();
    assert!(err.contains("tensor 'w'"), "{err}");
    let raw_wrong = Tensor {
        name: "r".into(),
        shape: vec![2],
        dtype: DType::Other("I64".into()),
        data: Data::Raw(vec![0; 15]),
    };
    assert!(write_safetensors(&path, &[raw_wrong]).is_err());
    let unknown = Tensor {
        name: "u".into(),
        shape: vec![1],
        dtype: DType::Other("Q4_1".into()),
        data: Data::Raw(vec![0]),
    };
    assert!(write_safetensors(&path, &[unknown]).is_err());
    let t = Tensor::from_f32("dup", vec![1], vec![1.0]).unwrap();
    assert!(write_safetensors(&path, &[t.clone(), t]).is_err());
    assert!(!path.exists());
}

#[test]
fn minilm_safetensors_names_and_shapes() {
    let path = common::asset(common::MINILM);
    let tensors = read_safetensors(&path).unwrap();
    let find = |n: &str| {
        tensors
            .iter()
            .find(|t| t.name == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let emb = find("embeddings.word_embeddings.weight");
    assert_eq!(emb.shape, vec![30522, 384]);
    assert_eq!(emb.dtype, DType::F32);
    assert_eq!(
        find("embeddings.position_embeddings.weight").shape,
        vec![512, 384]
    );
    assert_eq!(
        find("encoder.layer.0.attention.self.query.weight").shape,
        vec![384, 384]
    );
    assert_eq!(
        find("encoder.layer.5.intermediate.dense.weight").shape,
        vec![1536, 384]
    );
    assert_eq!(
        find("encoder.layer.5.output.dense.weight").shape,
        vec![384, 1536]
    );
    let ids = find("embeddings.position_ids");
    assert_eq!(
        (ids.shape.as_slice(), &ids.dtype),
        ([1usize, 512].as_slice(), &DType::Other("I64".into()))
    );
    match &ids.data {
        Data::Raw(b) => {
            assert_eq!(b.len(), 512 * 8);
            assert_eq!(i64::from_le_bytes(b[8..16].try_into().unwrap()), 1);
        }
        Data::F32(_) => panic!("position_ids must stay raw"),
    }
    let (_, meta) = read_safetensors_with_metadata(&path).unwrap();
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    assert_eq!(tensors.len(), 104);
    let total: usize = tensors.iter().map(Tensor::numel).sum();
    assert!(
        (22_000_000..23_000_000).contains(&total),
        "{total} parameters"
    );
    assert!(tensors.windows(2).all(|w| w[0].name < w[1].name));
    assert!(emb.values().unwrap().iter().all(|v| v.is_finite()));
}
