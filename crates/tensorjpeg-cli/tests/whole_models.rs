//! Whole models through the CLI: per-tensor rules and what stays exact in `compress`, the
//! one-slope allocation, and `model-sweep` judging compressed models by the model, on the
//! real MiniLM and SmolLM2 assets.

mod common;

use common::{asset, fails_with, ok, ok_json};
use serde_json::Value;

/// Perplexity of `model` on the first 96 tokens of enwiki.txt.
fn ppl96(model: &str) -> f64 {
    let text = asset("text/enwiki.txt");
    let a = [
        "perplexity",
        "--model",
        model,
        "--text",
        &text,
        "--max-tokens",
        "96",
        "--json",
    ];
    ok_json(&a)["perplexity"].as_f64().unwrap()
}

fn tensor<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the report"))
}

#[test]
fn model_files_keep_vectors_exact_rules_decide_and_one_slope_fits_the_budget() {
    let m = asset("minilm/model.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.tjpg");
    let o = out.to_str().unwrap();
    let r = ok_json(&["compress", &m, "-o", o, "--bits", "4", "--json"]);
    let ln = tensor(&r, "encoder.layer.0.attention.output.LayerNorm.weight");
    assert_eq!(ln["codec"], "stored", "{ln}");
    assert_eq!(
        tensor(&r, "encoder.layer.0.output.dense.bias")["codec"],
        "stored"
    );
    let q = tensor(&r, "encoder.layer.0.attention.self.query.weight");
    assert_eq!(q["codec"], "native");
    let bpv = q["bits_per_value"].as_f64().unwrap();
    assert!(bpv <= 4.0 + 1e-9 && bpv > 3.9, "{bpv}");
    // --min-ndim 0 compresses the vectors too.
    let r = ok_json(&[
        "compress",
        &m,
        "-o",
        o,
        "--bits",
        "4",
        "--min-ndim",
        "0",
        "--json",
    ]);
    assert_eq!(
        tensor(&r, "encoder.layer.0.attention.output.LayerNorm.weight")["codec"],
        "native"
    );
    // Rules: first match wins, `exact` stores verbatim, a rule's own rate applies.
    let r = ok_json(&[
        "compress",
        &m,
        "-o",
        o,
        "--bits",
        "4",
        "--rule",
        "word_embeddings=native@bits=2",
        "--rule",
        "attention\\.self\\.value=q8_0",
        "--rule",
        "pooler=exact",
        "--json",
    ]);
    let we = tensor(&r, "embeddings.word_embeddings.weight");
    assert!(we["bits_per_value"].as_f64().unwrap() <= 2.0 + 1e-9, "{we}");
    assert_eq!(
        tensor(&r, "encoder.layer.3.attention.self.value.weight")["codec"],
        "q8_0"
    );
    assert_eq!(tensor(&r, "pooler.dense.weight")["codec"], "stored");
    // One slope: the compressed tensors together fit 3 bits/value, with unequal shares.
    let r = ok_json(&[
        "compress",
        &m,
        "-o",
        o,
        "--bits",
        "3",
        "--allocate",
        "global",
        "--json",
    ]);
    assert_eq!(r["allocation"], "global");
    let bpv = r["bits_per_value"].as_f64().unwrap();
    assert!(bpv <= 3.0 + 1e-9 && bpv > 2.97, "{bpv}");
    let shares: Vec<f64> = r["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["codec"] == "native")
        .map(|t| t["bits_per_value"].as_f64().unwrap())
        .collect();
    let (lo, hi) = shares
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(
        hi - lo > 0.5,
        "one slope gives tensors of different spreads different bits: {lo}..{hi}"
    );
    // The container decodes to every tensor of the file.
    let back = dir.path().join("back.safetensors");
    ok(&["decompress", o, "-o", back.to_str().unwrap()]);
    let cmp = ok_json(&["compare", &m, back.to_str().unwrap(), "--json"]);
    assert!(cmp.to_string().contains("word_embeddings"), "{cmp}");
    // The calibrated allocation, on a short text of its own.
    let cal = dir.path().join("cal.txt");
    let text = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    std::fs::write(&cal, &text[text.len() / 2..text.len() / 2 + 6000]).unwrap();
    let calibrated_with = |allocation: &str, codec: &str| {
        let r = ok_json(&[
            "compress",
            &m,
            "-o",
            o,
            "--bits",
            "4",
            "--codec",
            codec,
            "--allocate",
            allocation,
            "--calibration",
            cal.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(r["allocation"], allocation);
        let bpv = r["bits_per_value"].as_f64().unwrap();
        assert!(bpv <= 4.0 + 1e-9 && bpv > 3.95, "{allocation}: {bpv}");
        r
    };
    let calibrated = |allocation: &str| calibrated_with(allocation, "native");
    let r = calibrated("weighted");
    // The word table (most of its rows never seen in calibration) gets fewer bits than a
    // block's value projection.
    let we = tensor(&r, "embeddings.word_embeddings.weight")["bits_per_value"]
        .as_f64()
        .unwrap();
    let v = tensor(&r, "encoder.layer.2.attention.self.value.weight")["bits_per_value"]
        .as_f64()
        .unwrap();
    assert!(we + 1.0 < v, "{we} vs {v}");
    // With error feedback: the same budget, every linear layer quantized by GPTQ on the
    // codec's grid (the word table, read row by row, has no input statistics: none).
    let g = calibrated("gptq");
    let fed = |name: &str| tensor(&g, name)["stats"]["feedback"] == 1.0;
    assert!(fed("encoder.layer.2.attention.self.value.weight"));
    assert!(fed("encoder.layer.5.output.dense.weight"));
    assert!(!fed("embeddings.word_embeddings.weight"));
    // The same inside the trellis search (`quant::trellis_feedback`); the container decodes.
    let g = calibrated_with("gptq", "native:tcq");
    assert_eq!(
        tensor(&g, "encoder.layer.5.output.dense.weight")["stats"]["feedback"],
        1.0
    );
    ok(&["decompress", o, "-o", back.to_str().unwrap()]);
    fails_with(
        &[
            "compress",
            &m,
            "-o",
            o,
            "--bits",
            "4",
            "--allocate",
            "weighted",
        ],
        "--calibration",
    );
    fails_with(
        &[
            "compress",
            &m,
            "-o",
            o,
            "--bits",
            "4",
            "--calibration",
            cal.to_str().unwrap(),
        ],
        "--allocate weighted",
    );
    // Bad rules and plans are named.
    fails_with(&["compress", &m, "-o", o, "--rule", "x"], "REGEX=SPEC");
    fails_with(
        &["compress", &m, "-o", o, "--rule", "(=native"],
        "regular expression",
    );
    fails_with(&["compress", &m, "-o", o, "--rule", "x=nosuch"], "nosuch");
    fails_with(
        &[
            "compress",
            &m,
            "-o",
            o,
            "--quality",
            "90",
            "--allocate",
            "global",
        ],
        "--bits",
    );
    fails_with(
        &[
            "compress",
            &m,
            "-o",
            o,
            "--bits",
            "3",
            "--allocate",
            "global",
            "--codec",
            "q4_0",
        ],
        "step search",
    );
}

fn rows(dir: &std::path::Path) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    v.as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], codec: &str, rate: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["codec"] == codec && r["rate"] == rate)
        .unwrap_or_else(|| panic!("no row {codec} {rate}"))
}

#[test]
fn model_sweep_judges_an_embedder_and_the_calibrated_allocation_wins() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ms");
    ok(&[
        "model-sweep",
        "--quick",
        "--model",
        &asset("minilm"),
        "--text",
        &asset("text/enwiki.txt"),
        "--codecs",
        "native@bits=4,weighted:native@bits=4,q8_0,q4_k",
        "--out",
        out.to_str().unwrap(),
    ]);
    for f in [
        "results.json",
        "results.csv",
        "report.md",
        "cosine.png",
        "recall.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let rs = rows(&out);
    assert_eq!(rs[0]["codec"], "original");
    let plain = row(&rs, "native", "bits=4");
    let weighted = row(&rs, "weighted:native", "bits=4");
    let q8 = row(&rs, "q8_0", "default");
    for r in [plain, weighted, q8] {
        for k in [
            "bits_per_weight",
            "bits_per_weight_matrices",
            "snr_db",
            "embedding_cosine",
            "neighbour_recall_at_10",
        ] {
            assert!(r[k].is_number(), "{k} in {r}");
        }
        assert!(r["perplexity"].is_null());
    }
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap();
    // Same size, the model-weighted allocation keeps the model closer to the original.
    assert!((f(plain, "bits_per_weight") - f(weighted, "bits_per_weight")).abs() < 0.01);
    assert!(f(weighted, "embedding_cosine") > f(plain, "embedding_cosine") + 0.01);
    assert!(f(weighted, "neighbour_recall_at_10") > f(plain, "neighbour_recall_at_10"));
    assert!(f(q8, "embedding_cosine") > 0.999);
    // Rows of 384 cannot hold K-quants: skipped with the reason.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("q4_k") && md.contains("256"), "{md}");
}

#[test]
fn model_sweep_judges_a_language_model_against_its_original_file() {
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ms");
    ok(&[
        "model-sweep",
        "--quick",
        "--model",
        &m,
        "--text",
        &asset("text/enwiki.txt"),
        "--codecs",
        "native@bits=4,weighted:native@bits=4,q8_0",
        "--out",
        out.to_str().unwrap(),
    ]);
    for f in ["results.json", "report.md", "perplexity.png", "kl.png"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let rs = rows(&out);
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap();
    let orig = &rs[0];
    assert_eq!(f(orig, "perplexity_rise"), 0.0);
    let plain = row(&rs, "native", "bits=4");
    let weighted = row(&rs, "weighted:native", "bits=4");
    let q8 = row(&rs, "q8_0", "default");
    // Q8_0 of the dequantized weights is nearly the original; 4 bits is not.
    assert!(f(q8, "perplexity_rise").abs() < 0.02, "{q8}");
    assert!(f(q8, "top1_agreement") > 0.95, "{q8}");
    assert!(f(plain, "perplexity_rise") > 0.05, "{plain}");
    assert!(f(plain, "kl") > f(q8, "kl"));
    // Calibrated per-column and per-row importance (no probes in --quick) at the same size.
    assert!((f(plain, "bits_per_weight") - f(weighted, "bits_per_weight")).abs() < 0.01);
    assert!(
        f(weighted, "perplexity_rise") < f(plain, "perplexity_rise"),
        "{weighted} vs {plain}"
    );
    assert!(rs.iter().all(|r| r["embedding_cosine"].is_null()));
}

/// A language model's container back to GGUF, for llama.cpp: the original's metadata and
/// tokenizer, the decoded weights exactly (F32), or F16.
#[test]
fn a_container_decompresses_to_a_gguf_the_runtime_runs() {
    let dir = tempfile::tempdir().unwrap();
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&[
        "compress",
        &m,
        "-o",
        &p("s.tjz"),
        "--bits",
        "4",
        "--include",
        r"blk\.0\.",
    ]);
    ok(&["decompress", &p("s.tjz"), "-o", &p("s.gguf"), "--like", &m]);
    let text = asset("text/enwiki.txt");
    let ppl = |args: &[&str]| {
        let mut a = vec![
            "perplexity",
            "--text",
            &text,
            "--max-tokens",
            "96",
            "--json",
        ];
        a.extend_from_slice(args);
        ok_json(&a)["perplexity"].as_f64().unwrap()
    };
    // The GGUF holds exactly the container's values: the same model, the same perplexity.
    let from_gguf = ppl(&["--model", &p("s.gguf")]);
    let from_container = ppl(&["--model", &m, "--weights", &p("s.tjz")]);
    assert_eq!(from_gguf, from_container);
    assert!(from_gguf != ppl(&["--model", &m]));
    let info = ok_json(&["inspect", &p("s.gguf"), "--json"]);
    assert_eq!(info["tensors"].as_array().unwrap().len(), 272, "{info}");
    ok(&[
        "decompress",
        &p("s.tjz"),
        "-o",
        &p("h.gguf"),
        "--like",
        &m,
        "--f16",
    ]);
    let (f32_len, f16_len) = (
        std::fs::metadata(p("s.gguf")).unwrap().len(),
        std::fs::metadata(p("h.gguf")).unwrap().len(),
    );
    // Only block 0's 7 matrices (3.54 M values) are lossy: F16 saves 2 bytes on each (up
    // to alignment padding); every other tensor was kept exact and goes back to its Q4_1 or
    // Q8_0 blocks, not F32 (the original file is 98.4 MB; all F32 would be 538 MB).
    assert!(f32_len < 120_000_000, "{f32_len}");
    let saved = f32_len as i64 - f16_len as i64;
    assert!(
        (saved - 2 * 3_538_944).abs() < 32 * 7,
        "{f16_len} vs {f32_len}"
    );
    assert!((ppl(&["--model", &p("h.gguf")]) / from_gguf - 1.0).abs() < 0.01);
    // Tensors whose values GGUF blocks hold exactly go back to those blocks: coded with the
    // file's own formats, the GGUF written has the original's tensor data, byte for byte.
    ok(&[
        "compress",
        &m,
        "-o",
        &p("b.tjz"),
        "--codec",
        "q4_1",
        "--rule",
        "token_embd=q8_0",
    ]);
    ok(&["decompress", &p("b.tjz"), "-o", &p("b.gguf"), "--like", &m]);
    let (orig, back) = (
        std::fs::read(&m).unwrap(),
        std::fs::read(p("b.gguf")).unwrap(),
    );
    assert_eq!(orig.len(), back.len());
    let data = 1_785_664; // SmolLM2's header (metadata and tokenizer) ends here
    assert!(orig[data..] == back[data..], "the tensor data differs");
    // Without the original, or from another model's container: errors naming what is wrong.
    fails_with(&["decompress", &p("s.tjz"), "-o", &p("x.gguf")], "--like");
    fails_with(
        &[
            "decompress",
            &p("s.tjz"),
            "-o",
            &p("x.safetensors"),
            "--like",
            &m,
        ],
        "--like is for a .gguf",
    );
    ok(&[
        "compress",
        &asset("minilm/model.safetensors"),
        "-o",
        &p("mini.tjz"),
        "--codec",
        "f16",
    ]);
    fails_with(
        &[
            "decompress",
            &p("mini.tjz"),
            "-o",
            &p("x.gguf"),
            "--like",
            &m,
        ],
        "token_embd.weight",
    );
    assert!(!dir.path().join("x.gguf").exists());
}

/// A pooled budget above what the file's own blocks cost: the allocation keeps SmolLM2's
/// Q4_1 matrices exactly (entropy-coded), and they go back to the same GGUF bytes.
#[test]
fn the_allocation_keeps_a_files_own_blocks_and_they_come_back_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let compress = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "compress",
            &m,
            "-o",
            out,
            "--bits",
            "4.5",
            "--allocate",
            "global",
            "--include",
            r"blk\.0\.",
            "--json",
        ];
        a.extend_from_slice(extra);
        ok_json(&a)
    };
    let r = compress(&p("k.tjz"), &[]);
    let names = [
        "blk.0.attn_q.weight",
        "blk.0.attn_k.weight",
        "blk.0.ffn_down.weight",
    ];
    for name in names {
        let t = tensor(&r, name);
        assert_eq!(t["codec"], "q4_1", "{t}");
        assert_eq!(t["stats"]["kept_exact"], 1.0, "{t}");
        // Its own blocks, entropy-coded: fewer bits than the file's 5.0.
        let bpv = t["bits_per_value"].as_f64().unwrap();
        assert!(bpv < 4.5, "{t}");
    }
    ok(&["decompress", &p("k.tjz"), "-o", &p("k.gguf"), "--like", &m]);
    let (orig, back) = (
        std::fs::read(&m).unwrap(),
        std::fs::read(p("k.gguf")).unwrap(),
    );
    assert_eq!(orig.len(), back.len());
    let data = 1_785_664; // SmolLM2's header (metadata and tokenizer) ends here
    assert!(orig[data..] == back[data..], "the tensor data differs");
    // --requantize: the same budget re-quantizes them (lossy, the pre-keep behaviour).
    let r = compress(&p("r.tjz"), &["--requantize"]);
    for name in names {
        let t = tensor(&r, name);
        assert_eq!(t["codec"], "native", "{t}");
        assert!(t["stats"]["kept_exact"].is_null(), "{t}");
    }
}

#[test]
fn a_repacked_gguf_restores_bit_for_bit_and_the_runtime_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let r = ok_json(&["repack", &m, "-o", &p("s.tjgguf"), "--json"]);
    let (orig, packed) = (
        r["original_bytes"].as_u64().unwrap(),
        r["repacked_bytes"].as_u64().unwrap(),
    );
    assert_eq!(packed, std::fs::metadata(p("s.tjgguf")).unwrap().len());
    // Issue 16's target: at most 5.0 bits per weight all-in (134,515,008 values).
    assert!(packed as f64 * 8.0 / 134_515_008.0 <= 5.0, "{r}");
    assert!(packed < orig, "{r}");
    ok(&["decompress", &p("s.tjgguf"), "-o", &p("s.gguf")]);
    assert!(std::fs::read(p("s.gguf")).unwrap() == std::fs::read(&m).unwrap());
    // The runtime and the readers take the repacked file as it is.
    assert_eq!(ppl96(&p("s.tjgguf")), ppl96(&m));
    let info = ok_json(&["inspect", &p("s.tjgguf"), "--json"]);
    assert_eq!(info["tensors"].as_array().unwrap().len(), 272, "{info}");
    // Bad input: a damaged file, a wrong extension, a file that is not GGUF.
    let text = asset("text/enwiki.txt");
    let mut bad = std::fs::read(p("s.tjgguf")).unwrap();
    let k = bad.len() / 2;
    bad[k] ^= 1;
    std::fs::write(p("bad.tjgguf"), &bad).unwrap();
    fails_with(
        &["decompress", &p("bad.tjgguf"), "-o", &p("x.gguf")],
        "bad.tjgguf",
    );
    fails_with(
        &["perplexity", "--model", &p("bad.tjgguf"), "--text", &text],
        "checksum",
    );
    fails_with(&["repack", &m, "-o", &p("x.tjz")], ".tjgguf");
    fails_with(&["decompress", &p("s.tjgguf"), "-o", &p("x.npy")], ".gguf");
    fails_with(&["repack", &text, "-o", &p("x.tjgguf")], "enwiki.txt");
    assert!(!dir.path().join("x.gguf").exists() && !dir.path().join("x.tjgguf").exists());
}

#[test]
fn a_container_of_another_model_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("minilm.tjpg");
    ok(&[
        "compress",
        &asset("minilm/model.safetensors"),
        "-o",
        c.to_str().unwrap(),
        "--codec",
        "f16",
    ]);
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "The river flows into the sea and the sea is wide.").unwrap();
    fails_with(
        &[
            "perplexity",
            "--model",
            &asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            "--text",
            text.to_str().unwrap(),
            "--weights",
            c.to_str().unwrap(),
        ],
        "not a tensor of the model",
    );
    fails_with(
        &[
            "model-sweep",
            "--quick",
            "--codecs",
            "global:native@q=90",
            "--out",
            "/tmp/x",
        ],
        "bits=",
    );
}

#[test]
fn reordering_mlp_units_preserves_the_function_and_refuses_what_it_cannot_reorder() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(asset(&format!("minilm/{f}")), model.join(f)).unwrap();
    }
    let permuted = model.join("model.safetensors");
    let out = ok(&[
        "reorder",
        &asset("minilm/model.safetensors"),
        "-o",
        permuted.to_str().unwrap(),
        "--order",
        "nearest",
    ]);
    assert!(out.contains("6 MLPs reordered"), "{out}");
    // The permuted weights really differ...
    let cmp = ok_json(&[
        "compare",
        &asset("minilm/model.safetensors"),
        permuted.to_str().unwrap(),
        "--json",
    ]);
    let inter = cmp["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "encoder.layer.0.intermediate.dense.weight")
        .unwrap();
    assert!(inter["snr_db"].as_f64().unwrap() < 10.0, "{inter}");
    // ...and the model computes the same embeddings (float summation order aside).
    let text = dir.path().join("s.txt");
    let body = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    let lines: Vec<&str> = body
        .lines()
        .filter(|l| l.split(' ').count() > 8)
        .take(24)
        .collect();
    std::fs::write(&text, lines.join("\n")).unwrap();
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    let t = text.to_str().unwrap();
    ok(&[
        "embed",
        "--model",
        &asset("minilm"),
        "--text",
        t,
        "-o",
        a.to_str().unwrap(),
    ]);
    ok(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--text",
        t,
        "-o",
        b.to_str().unwrap(),
    ]);
    let e = ok_json(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]);
    let max = e["total"]["max_abs_error"].as_f64().unwrap();
    assert!(max < 1e-5, "embeddings moved by {max}");
    // A llama model, GGUF in and out (RoPE and GQA untouched: only the MLPs move): the same
    // perplexity, float summation order aside.
    let m = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let g = dir.path().join("p.gguf");
    let out = ok(&["reorder", &m, "-o", g.to_str().unwrap(), "--order", "norm"]);
    assert!(out.contains("30 MLPs reordered"), "{out}");
    let (p0, p1) = (ppl96(&m), ppl96(g.to_str().unwrap()));
    assert!((p1 / p0 - 1.0).abs() < 1e-5, "{p0} vs {p1}");
    // A file without an MLP is refused by name.
    let npy = dir.path().join("x.npy");
    std::fs::copy(&a, &npy).unwrap();
    fails_with(
        &[
            "reorder",
            npy.to_str().unwrap(),
            "-o",
            dir.path().join("y.safetensors").to_str().unwrap(),
        ],
        "no MLP",
    );
}

#[test]
fn a_peer_model_is_scored_like_the_same_weights_from_a_container() {
    // The "peer" is tensorjpeg itself, decompressed to safetensors by hand: its row must
    // equal the native@bits=4 row measured from the container in the same run.
    let dir = tempfile::tempdir().unwrap();
    let minilm = asset("minilm");
    let tjpg = dir.path().join("m.tjpg");
    ok(&[
        "compress",
        &asset("minilm/model.safetensors"),
        "-o",
        tjpg.to_str().unwrap(),
        "--bits",
        "4",
    ]);
    let peer = dir.path().join("peer");
    std::fs::create_dir(&peer).unwrap();
    ok(&[
        "decompress",
        tjpg.to_str().unwrap(),
        "-o",
        peer.join("model.safetensors").to_str().unwrap(),
    ]);
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(std::path::Path::new(&minilm).join(f), peer.join(f)).unwrap();
    }
    let bytes = std::fs::metadata(&tjpg).unwrap().len();
    let peers = dir.path().join("peers.json");
    std::fs::write(
        &peers,
        format!(
            r#"{{"peers": [{{"codec": "by hand", "rate": "4", "model": "peer", "bytes": {bytes}}},
                {{"codec": "missing", "rate": "-", "model": "nowhere", "bytes": 1}}]}}"#
        ),
    )
    .unwrap();
    let out = dir.path().join("ms");
    ok(&[
        "model-sweep",
        "--quick",
        "--model",
        &minilm,
        "--text",
        &asset("text/enwiki.txt"),
        "--codecs",
        "native@bits=4",
        "--peers",
        peers.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let rs = rows(&out);
    let (ours, theirs) = (row(&rs, "native", "bits=4"), row(&rs, "by hand", "4"));
    assert_eq!(theirs["allocation"], "peer");
    for k in [
        "bits_per_weight",
        "snr_db",
        "embedding_cosine",
        "neighbour_recall_at_10",
    ] {
        let (a, b) = (ours[k].as_f64().unwrap(), theirs[k].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{k}: {a} vs {b}");
    }
    assert!(theirs["bits_per_weight_matrices"].is_null());
    // A peer that cannot be loaded is skipped with the reason, naming it.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("missing") && md.contains("nowhere"), "{md}");
}
