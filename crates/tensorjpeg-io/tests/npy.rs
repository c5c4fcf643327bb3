//! `.npy` reading and writing.
mod common;

use tensorjpeg::{DType, Data, Tensor};
use tensorjpeg_io::npy::{parse_npy, serialize_npy};
use tensorjpeg_io::{read_npy, read_tensors, write_npy, write_tensors};

/// Builds an .npy file by hand, the way NumPy 1.x writes it.
fn npy_bytes(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut h = header.to_string();
    let total = (prefix + h.len() + 1).div_ceil(64) * 64;
    h.push_str(&" ".repeat(total - prefix - h.len() - 1));
    h.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn npy_round_trip_f32_and_f16() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::random_values(3 * 4 * 5, 7, 2.0);
    let t32 = Tensor::from_f32("weights", vec![3, 4, 5], v.clone()).unwrap();
    let p32 = dir.path().join("weights.npy");
    write_npy(&p32, &t32).unwrap();
    let b32 = read_npy(&p32).unwrap();
    assert_eq!(b32, t32);
    assert_eq!(std::fs::metadata(&p32).unwrap().len() % 64, (60 * 4) % 64);

    let h: Vec<f32> = v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
    let t16 = Tensor {
        name: "halves".into(),
        shape: vec![60],
        dtype: DType::F16,
        data: Data::F32(h),
    };
    let p16 = dir.path().join("halves.npy");
    write_tensors(&p16, std::slice::from_ref(&t16)).unwrap();
    assert_eq!(read_tensors(&p16).unwrap(), vec![t16]);
    // The header is NumPy's own spelling: 1-D shapes carry the trailing comma.
    let bytes = std::fs::read(&p16).unwrap();
    let header = String::from_utf8_lossy(&bytes[10..128]);
    assert!(
        header.contains("'descr': '<f2'") && header.contains("'shape': (60,)"),
        "{header}"
    );

    // Scalars and empty arrays.
    for (shape, vals) in [(vec![], vec![2.5f32]), (vec![0, 3], vec![])] {
        let t = Tensor::from_f32("s", shape, vals).unwrap();
        let b = serialize_npy("s.npy".as_ref(), &t).unwrap();
        assert_eq!(parse_npy("s.npy".as_ref(), "s", &b).unwrap(), t);
    }
}

#[test]
fn npy_reads_numpy_style_headers_v1_and_v2() {
    let data: Vec<u8> = [1.0f32, -2.0, 3.5, 0.25, 8.0, 9.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for version in [1, 2, 3] {
        let b = npy_bytes(
            version,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &data,
        );
        let t = parse_npy("a.npy".as_ref(), "a", &b).unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.values().unwrap(), &[1.0, -2.0, 3.5, 0.25, 8.0, 9.0]);
    }
    // Key order and quoting vary between writers.
    let b = npy_bytes(
        1,
        "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}",
        &data,
    );
    assert_eq!(parse_npy("b.npy".as_ref(), "b", &b).unwrap().shape, vec![6]);
}

#[test]
fn npy_truncated_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tensor::from_f32("x", vec![16, 16], common::random_values(256, 1, 1.0)).unwrap();
    let full = serialize_npy("x.npy".as_ref(), &t).unwrap();
    let path = dir.path().join("x.npy");
    for cut in [0, 5, 9, 40, 128, full.len() - 1] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(err.contains("x.npy"), "{err}");
        assert!(parse_npy("x.npy".as_ref(), "x", &full[..cut]).is_err());
    }
    // Trailing garbage is refused too.
    let mut long = full.clone();
    long.push(0);
    std::fs::write(&path, &long).unwrap();
    let err = read_npy(&path).unwrap_err().to_string();
    assert!(err.contains("trailing"), "{err}");
    // A shape far larger than the file fails before allocating.
    let b = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }",
        &[0; 8],
    );
    let err = parse_npy("big.npy".as_ref(), "big", &b)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("truncated") || err.contains("overflows"),
        "{err}"
    );
    let b = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 2), }",
        &[],
    );
    assert!(parse_npy("o.npy".as_ref(), "o", &b)
        .unwrap_err()
        .to_string()
        .contains("overflows"));
}

#[test]
fn npy_refuses_fortran_order_and_other_dtypes() {
    let data = [0u8; 16];
    let b = npy_bytes(
        1,
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        &data,
    );
    let err = parse_npy("model.npy".as_ref(), "model", &b)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("model.npy: fortran_order arrays are not supported"),
        "{err}"
    );
    for descr in ["<f8", ">f4", "<i4", "|u1", "<c8"] {
        let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}");
        let err = parse_npy("d.npy".as_ref(), "d", &npy_bytes(1, &h, &data))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(descr) && err.contains("'<f4'") && err.contains("'<f2'"),
            "{err}"
        );
    }
    for header in [
        "{'descr': '<f4', 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,x), }",
        "nonsense",
    ] {
        assert!(
            parse_npy("h.npy".as_ref(), "h", &npy_bytes(1, header, &data)).is_err(),
            "{header}"
        );
    }
    assert!(parse_npy("m.npy".as_ref(), "m", b"NUMPY\x01\x00").is_err());
}

#[test]
fn npy_write_rejects_raw_and_multiple_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let raw = Tensor {
        name: "ids".into(),
        shape: vec![2],
        dtype: DType::Other("I64".into()),
        data: Data::Raw(vec![0; 16]),
    };
    assert!(write_npy(&dir.path().join("ids.npy"), &raw).is_err());
    let t = Tensor::from_f32("a", vec![1], vec![1.0]).unwrap();
    let err = write_tensors(&dir.path().join("two.npy"), &[t.clone(), t])
        .unwrap_err()
        .to_string();
    assert!(err.contains("exactly one tensor"), "{err}");
    assert!(write_tensors(&dir.path().join("x.bin"), &[]).is_err());
    assert!(read_tensors(&dir.path().join("x.bin")).is_err());
    // BF16 goes to '<f4', exactly.
    let b = Tensor {
        name: "b".into(),
        shape: vec![2],
        dtype: DType::BF16,
        data: Data::F32(vec![1.5, -3.0]),
    };
    let p = dir.path().join("b.npy");
    write_npy(&p, &b).unwrap();
    let back = read_npy(&p).unwrap();
    assert_eq!(
        (&back.dtype, back.values().unwrap()),
        (&DType::F32, [1.5f32, -3.0].as_slice())
    );
}
