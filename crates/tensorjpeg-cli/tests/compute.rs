//! `--compute` (linear layers from a compute format with the integer kernels) and
//! `bench-matvec`, on the real SmolLM2 asset and a small tensor file.

mod common;
use common::*;

#[test]
fn generate_from_the_compute_format_names_paris() {
    let model = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let v = ok_json(&[
        "generate",
        "--model",
        &model,
        "--compute",
        "q4_1",
        "--prompt",
        "The capital of France is",
        "--max-tokens",
        "6",
        "--ignore-eos",
        "--json",
    ]);
    let text = v["completions"][0].as_str().unwrap();
    assert!(text.contains("Paris"), "{text}");
    assert!(v["model"].as_str().unwrap().contains("compute:q4_1"), "{v}");
    assert_eq!(v["decode_steps"], 6);
    assert!(v["decode_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["prefill_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["max_rss_mib"].as_f64().unwrap() > 10.0);
}

#[test]
fn compute_flags_reject_bad_input() {
    let model = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let base = [
        "generate",
        "--model",
        &model,
        "--prompt",
        "Hi",
        "--max-tokens",
        "1",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    for (extra, needle) in [
        (
            &["--compute", "q5_k"][..],
            "valid: q8_0, q4_0, q4_1, nl4, nl4h, nl3, nl3h",
        ),
        (&["--compute", "q4_1,dense=x"][..], "dense=N"),
        (&["--compute", "q4_1,fast"][..], "unknown option"),
        (
            &["--compute", "q4_1", "--quantized"][..],
            "cannot be used with",
        ),
        (
            &["--compute", "q4_1", "--compute-rule", "ffn=q5_k"][..],
            "--compute-rule \"ffn=q5_k\"",
        ),
        (
            &["--compute", "q4_1", "--compute-rule", "(ffn=nl4"][..],
            "not a valid regex",
        ),
        (&["--compute-rule", "ffn=nl4"][..], "--compute"),
        (
            &["--compute-calibration", "assets/text/enwiki.txt"][..],
            "--compute",
        ),
        (
            &[
                "--compute",
                "nl4,requant",
                "--compute-calibration",
                "no/such/text.txt",
            ][..],
            "no/such/text.txt",
        ),
    ] {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, needle);
    }
}

#[test]
fn bench_matvec_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    // A small real-valued matrix file: 64 × 256 values.
    let npy = dir.path().join("w.npy");
    let vals: Vec<f32> = (0..64 * 256)
        .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.1)
        .collect();
    tensorjpeg_io::write_tensors(
        &npy,
        &[tensorjpeg::Tensor::from_f32("w", vec![64, 256], vals).unwrap()],
    )
    .unwrap();
    let out = dir.path().join("bm");
    let set = format!("tiny={}", npy.display());
    ok(&[
        "bench-matvec",
        "--out",
        out.to_str().unwrap(),
        "--sets",
        &set,
        "--threads",
        "1",
        "--batch",
        "1,3",
        "--seconds",
        "0",
        "--peers",
        "f32,q4_0,q4k",
        "--formats",
        "q4_1,nl4h",
        "--kernels",
        "all",
    ]);
    let rows: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    for r in rows {
        for k in [
            "matrix",
            "format",
            "bits_per_weight",
            "snr_db",
            "threads",
            "batch",
            "ns_per_matvec",
            "gbytes_per_s",
        ] {
            assert!(r.get(k).is_some(), "{k} missing: {r}");
        }
        assert!(r["ns_per_matvec"].as_f64().unwrap() > 0.0);
    }
    let has = |f: &str, k: &str| rows.iter().any(|r| r["format"] == f && r["kernel"] == k);
    assert!(has("f32", "gemm") && has("candle:q4_0", "candle") && has("candle:q4k", "candle"));
    assert!(has("nl4h", "scalar") && has("q4_1", "scalar"));
    // The same format's SNR does not depend on the kernel.
    let snrs: Vec<f64> = rows
        .iter()
        .filter(|r| r["format"] == "nl4h")
        .map(|r| r["snr_db"].as_f64().unwrap())
        .collect();
    assert!(
        snrs.windows(2).all(|w| w[0] == w[1]) && snrs[0] > 15.0,
        "{snrs:?}"
    );
    assert!(out.join("results.md").is_file() && out.join("matvec-tiny.png").is_file());
    fails_with(
        &[
            "bench-matvec",
            "--out",
            out.to_str().unwrap(),
            "--batch",
            "0",
        ],
        "--batch",
    );
    fails_with(
        &[
            "bench-matvec",
            "--out",
            out.to_str().unwrap(),
            "--sets",
            "nope",
        ],
        "unknown set",
    );
}
