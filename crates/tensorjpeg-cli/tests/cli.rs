//! The `tensorjpeg` binary end to end, on the real all-MiniLM-L6-v2 weights fetched by
//! `scripts/fetch-assets.sh` (layer 0 and the pooler, to keep CI fast).

use std::path::PathBuf;

mod common;
use common::{asset, fails_with, ok_json, run};

fn minilm() -> PathBuf {
    PathBuf::from(asset("minilm/model.safetensors"))
}

const LAYER0: &str = r"^(encoder\.layer\.0\.|pooler\.)";

#[test]
fn compress_inspect_decompress_compare_on_minilm() {
    let dir = tempfile::tempdir().unwrap();
    let m = minilm();
    let c = dir.path().join("m.tjpg");
    let (ms, cs) = (m.to_str().unwrap(), c.to_str().unwrap());
    let rep = ok_json(&[
        "compress",
        ms,
        "-o",
        cs,
        "--bits",
        "4",
        "--include",
        LAYER0,
        "--min-ndim",
        "2",
        "--json",
    ]);
    assert!(rep["bits_per_value"].as_f64().unwrap() <= 4.0);
    let insp = ok_json(&["inspect", cs, "--json"]);
    let tensors = insp["tensors"].as_array().unwrap();
    assert_eq!(
        tensors.len(),
        104,
        "every tensor of the model is in the container"
    );
    assert!(tensors.iter().any(|t| t["codec"] == "native"));
    assert!(tensors
        .iter()
        .any(|t| t["codec"] == "stored" && t["dtype"] == "I64"));
    // Compare against the container directly and against a decompressed file.
    let cmp = ok_json(&[
        "compare",
        ms,
        cs,
        "--include",
        LAYER0,
        "--min-ndim",
        "2",
        "--json",
    ]);
    let total = &cmp["total"];
    for key in [
        "bits_per_value",
        "snr_db",
        "max_abs_error",
        "mse",
        "mean_cosine",
        "bytes",
    ] {
        assert!(total[key].is_number(), "total.{key} missing: {total}");
    }
    assert!(total["bits_per_value"].as_f64().unwrap() <= 4.1);
    assert!(total["snr_db"].as_f64().unwrap() >= 22.0, "{total}");
    let out = dir.path().join("back.safetensors");
    let o = run(&["decompress", cs, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cmp2 = ok_json(&[
        "compare",
        ms,
        out.to_str().unwrap(),
        "--include",
        LAYER0,
        "--min-ndim",
        "2",
        "--json",
    ]);
    assert_eq!(cmp2["total"]["snr_db"], total["snr_db"]);
    // Untouched tensors come back bit-exactly.
    let exact = ok_json(&[
        "compare",
        ms,
        out.to_str().unwrap(),
        "--include",
        r"^embeddings\.LayerNorm",
        "--json",
    ]);
    assert_eq!(exact["total"]["max_abs_error"], 0.0);
}

#[test]
fn max_error_bound_holds_on_real_weights() {
    let dir = tempfile::tempdir().unwrap();
    let m = minilm();
    let c = dir.path().join("e.tjpg");
    let (ms, cs) = (m.to_str().unwrap(), c.to_str().unwrap());
    ok_json(&[
        "compress",
        ms,
        "-o",
        cs,
        "--max-error",
        "1e-3",
        "--include",
        LAYER0,
        "--json",
    ]);
    let cmp = ok_json(&["compare", ms, cs, "--include", LAYER0, "--json"]);
    let e = cmp["total"]["max_abs_error"].as_f64().unwrap();
    assert!(e <= 1e-3, "max error {e}");
}

#[test]
fn npy_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("x.npy");
    let v: Vec<f32> = (0..50 * 30)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 300.0)
        .collect();
    let t = tensorjpeg::Tensor::from_f32("x", vec![50, 30], v).unwrap();
    tensorjpeg_io::write_tensors(&src, &[t]).unwrap();
    let c = dir.path().join("x.tjpg");
    let back = dir.path().join("y.npy");
    ok_json(&[
        "compress",
        src.to_str().unwrap(),
        "-o",
        c.to_str().unwrap(),
        "--snr",
        "30",
        "--json",
    ]);
    assert!(run(&[
        "decompress",
        c.to_str().unwrap(),
        "-o",
        back.to_str().unwrap()
    ])
    .status
    .success());
    let cmp = ok_json(&[
        "compare",
        src.to_str().unwrap(),
        back.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        cmp["total"]["snr_db"].as_f64().unwrap() >= 30.0 - 0.01,
        "{cmp}"
    );
}

#[test]
fn sweep_writes_csv_json_png() {
    let dir = tempfile::tempdir().unwrap();
    let m = minilm();
    let out = dir.path().join("sw");
    let rows = ok_json(&[
        "sweep",
        m.to_str().unwrap(),
        "--codecs",
        "native@bits=3/4,jpeg:tworow@q=95,q4_0,q8_0,f16",
        "--include",
        r"^encoder\.layer\.0\.attention",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let jpeg = rows.iter().find(|r| r["codec"] == "jpeg:tworow").unwrap();
    assert!(
        jpeg["bits_per_value_scan_only"].as_f64().unwrap()
            < jpeg["bits_per_value"].as_f64().unwrap()
    );
    for f in ["sweep.csv", "sweep.json", "sweep.png"] {
        let p = out.join(f);
        assert!(
            p.metadata().map(|m| m.len() > 100).unwrap_or(false),
            "{} missing or empty",
            p.display()
        );
    }
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("codec,rate,"));
    assert_eq!(csv.lines().count(), 7);
}

#[test]
fn bad_input_gets_clear_errors_and_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let m = minilm();
    let ms = m.to_str().unwrap();
    let out = dir.path().join("o.tjpg");
    let os = out.to_str().unwrap();
    fails_with(
        &["compress", "/nonexistent/model.safetensors", "-o", os],
        "/nonexistent/model.safetensors",
    );
    fails_with(&["compress", ms, "-o", os, "--quality", "0"], "quality");
    fails_with(&["compress", ms, "-o", os, "--bits=-1"], "bits per value");
    fails_with(
        &["compress", ms, "-o", os, "--codec", "nope"],
        "unknown codec 'nope'",
    );
    fails_with(
        &["compress", ms, "-o", os, "--codec", "native:bogus"],
        "bogus",
    );
    fails_with(&["compress", ms, "-o", os, "--include", "("], "--include");
    fails_with(
        &["compress", ms, "-o", os, "--include", "^nothing$"],
        "no float tensor",
    );
    fails_with(
        &[
            "compress",
            ms,
            "-o",
            os,
            "--codec",
            "native:dct8x8",
            "--max-error",
            "1e-3",
            "--include",
            LAYER0,
        ],
        "identity",
    );
    assert!(!out.exists(), "a failed run left {os}");
    // A damaged container is refused with the tensor and chunk named.
    let good = dir.path().join("g.tjpg");
    ok_json(&[
        "compress",
        ms,
        "-o",
        good.to_str().unwrap(),
        "--include",
        r"^pooler\.dense\.weight$",
        "--json",
    ]);
    let mut bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x40;
    let bad = dir.path().join("bad.tjpg");
    std::fs::write(&bad, &bytes).unwrap();
    let back = dir.path().join("b.safetensors");
    fails_with(
        &[
            "decompress",
            bad.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ],
        "checksum mismatch in tensor 'pooler.dense.weight'",
    );
    assert!(!back.exists());
    std::fs::write(&bad, &bytes[..n / 2]).unwrap();
    fails_with(
        &[
            "decompress",
            bad.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ],
        "truncated",
    );
    fails_with(
        &["decompress", ms, "-o", back.to_str().unwrap()],
        "not a tensorjpeg container",
    );
    fails_with(
        &[
            "decompress",
            good.to_str().unwrap(),
            "-o",
            dir.path().join("x.bin").to_str().unwrap(),
        ],
        ".safetensors, .npy or .gguf",
    );
    bytes[8] = 9;
    std::fs::write(&bad, &bytes).unwrap();
    fails_with(
        &["inspect", bad.to_str().unwrap()],
        "unsupported container format version 9",
    );
}
