//! `tensorjpeg embed-eval` end to end on the real assets (all-MiniLM-L6-v2, enwiki text,
//! the Bible verse pairs built by `scripts/fetch-assets.sh`), on small sets to keep CI fast.

mod common;
use common::{asset, fails_with, ok};
use serde_json::Value;

fn rows(dir: &std::path::Path) -> Vec<Value> {
    let s = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str::<Value>(&s)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(rows: &'a [Value], codec: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["codec"] == codec)
        .unwrap_or_else(|| panic!("no row {codec}"))
}

#[test]
fn enwiki_rows_plots_and_seed_000() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e");
    let o = out.to_str().unwrap();
    ok(&[
        "embed-eval",
        "--model",
        &asset("minilm"),
        "--text",
        &asset("text/enwiki.txt"),
        "--dataset",
        "enwiki",
        "--sentences",
        "720",
        "--codecs",
        "float32,int8,binary,pca,jpeg,klt,klt+search",
        "--bytes-per-vector",
        "24,64",
        "--latency-queries",
        "10",
        "--spearman-pairs",
        "2000",
        "--out",
        o,
        "--quiet",
        "--export-splits",
    ]);
    let r = rows(&out);
    // The split, exported for peers run outside the program: float32 [rows, 384].
    for (part, n) in [("fit", 120usize), ("database", 540), ("queries", 60)] {
        let b = std::fs::read(out.join(format!("splits/enwiki-{part}.npy"))).unwrap();
        assert!(b.len() >= n * 384 * 4 + 64);
        let h = String::from_utf8_lossy(&b[..128]).to_string();
        assert!(
            h.contains(&format!("({n}, 384)")) && h.contains("<f4"),
            "{h}"
        );
    }
    // 720 sentences: 60 queries, 120 fit, 540 database.
    let f32r = find(&r, "float32");
    assert_eq!(f32r["database"], 540);
    assert_eq!(f32r["queries"], 60);
    assert_eq!(f32r["neighbour_recall_at_10"], 1.0);
    assert_eq!(f32r["bytes_per_vector"], 1536.0);
    assert!(
        f32r["recall_at_1"].is_null(),
        "enwiki has no relevance labels"
    );
    let int8 = find(&r, "int8");
    assert!(int8["neighbour_recall_at_10"].as_f64().unwrap() > 0.9);
    for b in [24.0, 64.0] {
        let k = find(&r, &format!("klt:bytes={b}"));
        let bytes = k["bytes_per_vector"].as_f64().unwrap();
        assert!(bytes <= b && bytes > 0.9 * b, "{b}: {bytes}");
        let s = find(&r, &format!("klt:bytes={b}:search"));
        let vs = s["recall_vs_exhaustive_at_10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&vs));
    }
    // More bytes, better neighbours; and KLT beats binary at the same 64 bytes or fewer.
    let n = |c: &str| find(&r, c)["neighbour_recall_at_10"].as_f64().unwrap();
    assert!(n("klt:bytes=64") > n("klt:bytes=24"));
    assert!(n("klt:bytes=64") > n("binary"));
    // Seed 000's qualities, one row each, and the per-vector JPEG headers counted.
    for q in [100, 95, 90, 75, 50, 25, 10, 5] {
        let j = find(&r, &format!("jpeg:trunc:q={q}"));
        assert_eq!(j["side_bytes_per_vector"], 330.0);
    }
    for f in [
        "results.csv",
        "report.md",
        "run.json",
        "seed000.md",
        "seed000.json",
        "enwiki-neighbour_recall_at_10.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.starts_with("dataset,codec,family,budget,bytes_per_vector,"));
    assert_eq!(csv.lines().count(), r.len() + 1);
    // Table 3: the first pair is the reference pair (0.5866); coding the pair as one
    // image drives its similarity to 1 at quality 5, as the seed reports.
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("seed000.json")).unwrap()).unwrap();
    let t = &s["table3"][0];
    assert!(
        (t["original"].as_f64().unwrap() - 0.5866).abs() < 1e-3,
        "{t}"
    );
    assert!(t["pair_image_jpeg_5"].as_f64().unwrap() > 0.999, "{t}");
    assert!(t["jpeg_5"].as_f64().unwrap() < 0.9, "{t}");
    // The embedding time is recorded (a fresh cache: the sentences were embedded).
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert!(run["embed_s"][0]["seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn bible_paraphrase_retrieval_has_relevance_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    ok(&[
        "embed-eval",
        "--model",
        &asset("minilm"),
        "--dataset",
        "bible",
        "--pairs",
        &asset("bible/pairs.tsv"),
        "--max-pairs",
        "700",
        "--fit-pairs",
        "150",
        "--codecs",
        "float32,int8,klt",
        "--bytes-per-vector",
        "48",
        "--latency-queries",
        "10",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let r = rows(&out);
    let f = find(&r, "float32");
    assert_eq!(f["database"], 550);
    assert_eq!(f["fit"], 300, "both translations of the held-out pairs");
    let r1 = f["recall_at_1"].as_f64().unwrap();
    assert!(r1 > 0.8, "WEB→KJV recall@1 {r1}");
    assert!(f["recall_at_10"].as_f64().unwrap() >= r1);
    assert!(f["mrr"].as_f64().unwrap() >= r1);
    let k = find(&r, "klt:bytes=48");
    assert!(k["recall_at_1"].as_f64().unwrap() > 0.7 * r1);
    assert!(out.join("bible-recall_at_1.png").is_file());
    assert!(out.join("bible-recall_at_10.png").is_file());
}

#[test]
fn embed_eval_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x");
    let o = o.to_str().unwrap();
    let m = asset("minilm");
    let base = ["embed-eval", "--model", &m, "--out", o];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let check = |extra: &[&str], needle: &str| {
        let args = with(extra);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&a, needle);
    };
    check(&["--codecs", "zip"], "zip");
    check(&["--codecs", "klt:bytes=-3"], "klt bytes");
    check(&["--bytes-per-vector", "0"], "budget");
    check(&["--sentences", "5"], "--sentences");
    check(&["--fit-pairs", "0", "--dataset", "bible"], "--fit-pairs");
    let bad = dir.path().join("pairs.tsv");
    std::fs::write(&bad, "ref\tweb\tkjv\nGen 1:1\tonly two fields\n").unwrap();
    check(
        &["--dataset", "bible", "--pairs", bad.to_str().unwrap()],
        "line 2",
    );
    fails_with(
        &["embed-eval", "--model", "/nonexistent/minilm", "--out", o],
        "minilm",
    );
}
