//! The model commands (`perplexity`, `generate`, `embed`) end to end on the real assets
//! fetched by `scripts/fetch-assets.sh` (SmolLM2-135M GGUF, all-MiniLM-L6-v2, enwiki text),
//! on short texts to keep CI fast.

mod common;
use common::{asset, fails_with, ok, ok_json};

#[test]
fn generate_names_paris_and_is_reproducible() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let out = ok(&[
        "generate",
        "--model",
        &m,
        "--prompt",
        "The capital of France is",
        "--max-tokens",
        "6",
    ]);
    assert!(out.contains("Paris"), "{out}");
    let sampled = |seed: &str| {
        ok_json(&[
            "generate",
            "--model",
            &m,
            "--prompt",
            "Once upon a time",
            "--max-tokens",
            "12",
            "--temperature",
            "0.9",
            "--top-k",
            "50",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--samples",
            "2",
            "--json",
        ])["completions"]
            .clone()
    };
    let a = sampled("7");
    assert_eq!(a, sampled("7"));
    assert_ne!(a, sampled("8"));
    assert_ne!(a[0], a[1], "samples of one batch differ");
}

#[test]
fn perplexity_json_and_embedding_codec_hook() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let text = asset("text/enwiki.txt");
    let base = [
        "perplexity",
        "--model",
        &m,
        "--text",
        &text,
        "--max-tokens",
        "160",
        "--ctx",
        "128",
        "--stride",
        "64",
        "--json",
    ];
    let clean = ok_json(&base);
    for k in ["perplexity", "tokens", "tokens_per_s"] {
        assert!(clean[k].is_number(), "{k}: {clean}");
    }
    assert_eq!(clean["tokens"], 159);
    let p0 = clean["perplexity"].as_f64().unwrap();
    assert!(p0 > 2.0 && p0 < 200.0, "{p0}");
    let mut hooked = base.to_vec();
    hooked.extend(["--embed-codec", "jpeg:tworow@q=5"]);
    let p5 = ok_json(&hooked)["perplexity"].as_f64().unwrap();
    assert!(
        p5 > p0 * 1.2,
        "JPEG q5 on the embeddings should hurt: {p5} vs {p0}"
    );
    let mut noisy = base.to_vec();
    noisy.extend(["--embed-noise", "40"]);
    let pn = ok_json(&noisy)["perplexity"].as_f64().unwrap();
    assert!(
        (pn / p0 - 1.0).abs() < 0.05,
        "40 dB noise barely matters: {pn} vs {p0}"
    );
}

#[test]
fn embed_writes_npy() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("s.txt");
    std::fs::write(
        &txt,
        "AI is transforming the world.\n\nMachine learning is changing technology.\n",
    )
    .unwrap();
    let out = dir.path().join("e.npy");
    ok(&[
        "embed",
        "--model",
        &asset("minilm"),
        "--text",
        txt.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let info = ok_json(&["inspect", out.to_str().unwrap(), "--json"]);
    assert_eq!(
        info["tensors"][0]["shape"],
        serde_json::json!([2, 384]),
        "{info}"
    );
}

#[test]
fn model_commands_reject_bad_input() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let text = asset("text/enwiki.txt");
    fails_with(
        &["perplexity", "--model", &m, "--text", "/nonexistent/t.txt"],
        "/nonexistent/t.txt",
    );
    fails_with(
        &[
            "perplexity",
            "--model",
            &m,
            "--text",
            &text,
            "--embed-codec",
            "nosuch",
        ],
        "nosuch",
    );
    fails_with(
        &[
            "perplexity",
            "--model",
            &m,
            "--text",
            &text,
            "--embed-codec",
            "jpeg:tworow@q=101",
        ],
        "1..=100",
    );
    fails_with(
        &[
            "perplexity",
            "--model",
            &m,
            "--text",
            &text,
            "--ctx",
            "100000",
        ],
        "context",
    );
    fails_with(
        &[
            "perplexity",
            "--model",
            "/nonexistent/m.gguf",
            "--text",
            &text,
        ],
        "m.gguf",
    );
    let long = "word ".repeat(9000);
    fails_with(
        &[
            "generate",
            "--model",
            &m,
            "--prompt",
            &long,
            "--max-tokens",
            "4",
        ],
        "context",
    );
    fails_with(
        &["generate", "--model", &text, "--prompt", "x"],
        "expected a .gguf",
    );
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        &[
            "embed",
            "--model",
            dir.path().to_str().unwrap(),
            "--text",
            &text,
            "-o",
            "x.npy",
        ],
        "tokenizer.json",
    );
}

#[test]
fn probe_writes_a_reproducible_report() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompts.txt");
    std::fs::write(
        &prompts,
        "What is the meaning of life??\n\nOnce upon a time\n",
    )
    .unwrap();
    let text = asset("text/enwiki.txt");
    let run = |out: &str| {
        let out = dir.path().join(out);
        ok(&[
            "probe",
            "--model",
            &m,
            "--text",
            &text,
            "--qualities",
            "50,5",
            "--prompts",
            prompts.to_str().unwrap(),
            "--samples",
            "2",
            "--max-tokens",
            "8",
            "--ppl-tokens",
            "300",
            "--ctx",
            "128",
            "--seed",
            "11",
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let a = run("a");
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("report.json")).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["setting"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "clean",
            "codec-q50",
            "noise-q50",
            "control-q50",
            "codec-q5",
            "noise-q5",
            "control-q5"
        ]
    );
    for r in rows {
        for k in [
            "codec",
            "quality",
            "bits_per_value",
            "cosine_mean",
            "cosine_min",
            "perplexity",
            "kl",
            "top1_agreement",
            "distinct_2",
            "repeated_4gram_share",
        ] {
            assert!(r.get(k).is_some(), "{k} missing: {r}");
        }
    }
    let get = |name: &str, k: &str| {
        rows.iter().find(|r| r["setting"] == name).unwrap()[k]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    // Lower quality: lower cosine, higher perplexity; the noise control sits at the
    // codec's cosine, the native control at its bits (headers excluded).
    assert!(get("codec-q5", "cosine_mean") < get("codec-q50", "cosine_mean"));
    assert!(get("codec-q5", "perplexity") > get("codec-q50", "perplexity"));
    assert!(get("codec-q50", "perplexity") > get("clean", "perplexity"));
    assert!((get("noise-q50", "cosine_mean") - get("codec-q50", "cosine_mean")).abs() < 0.01);
    assert!(
        (get("control-q5", "bits_per_value") / get("codec-q5", "bits_per_value_no_headers") - 1.0)
            .abs()
            < 0.1
    );
    assert_eq!(get("clean", "kl"), 0.0);
    assert_eq!(get("codec-q50", "samples"), 4.0);
    for f in [
        "report.md",
        "report.csv",
        "run.json",
        "perplexity.png",
        "kl.png",
        "repetition.png",
        "samples/codec-q5.txt",
        "samples/clean.txt",
    ] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(
        md.contains("5 % threshold") && md.contains("0.99878"),
        "{md}"
    );
    let samples = std::fs::read_to_string(a.join("samples/clean.txt")).unwrap();
    assert!(
        samples.contains("prompt 2 sample 1\nOnce upon a time"),
        "{samples}"
    );
    // Same command, same seed: the same numbers and texts.
    let b = run("b");
    for f in ["report.json", "samples/codec-q5.txt"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between identical runs"
        );
    }
}

#[test]
fn probe_rejects_bad_input() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let out = out.to_str().unwrap();
    fails_with(
        &["probe", "--model", &m, "--codec", "nosuch:x", "--out", out],
        "nosuch",
    );
    fails_with(
        &["probe", "--model", &m, "--qualities", "50,0", "--out", out],
        "1..=100",
    );
    fails_with(
        &["probe", "--model", &m, "--qualities", "101", "--out", out],
        "1..=100",
    );
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n  \n").unwrap();
    fails_with(
        &[
            "probe",
            "--model",
            &m,
            "--prompts",
            empty.to_str().unwrap(),
            "--out",
            out,
        ],
        "empty",
    );
    fails_with(
        &["probe", "--model", "/nonexistent/m.gguf", "--out", out],
        "m.gguf",
    );
}
