//! `tensorjpeg index` end to end on real sentence embeddings (all-MiniLM-L6-v2 on enwiki
//! sentences, embedded by `tensorjpeg embed`): build, inspect, search, add, decode, and the
//! errors a user meets.

mod common;
use common::{asset, fails_with, ok, ok_json, run};
use std::path::Path;

/// Embeds `n` sentences (at least 6 words) of enwiki starting at sentence `from` into
/// `dir/name.npy`; returns its path and the sentences.
fn embed(dir: &Path, name: &str, from: usize, n: usize) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.split_whitespace().count() >= 6)
        .skip(from)
        .take(n)
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), n, "enwiki.txt has too few lines");
    let txt = dir.join(format!("{name}.txt"));
    std::fs::write(&txt, lines.join("\n") + "\n").unwrap();
    let npy = dir.join(format!("{name}.npy"));
    ok(&[
        "embed",
        "--model",
        &asset("minilm"),
        "--text",
        txt.to_str().unwrap(),
        "-o",
        npy.to_str().unwrap(),
    ]);
    (npy.to_str().unwrap().to_string(), lines)
}

/// The `[rows, cols]` shape and dtype of an .npy file, from its header.
fn npy_shape(path: &Path) -> (String, Vec<usize>) {
    let b = std::fs::read(path).unwrap();
    let len = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(&b[10..10 + len]).unwrap();
    let descr = h
        .split("'descr': '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    let shape = h
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let dims = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    (descr.to_string(), dims)
}

/// A float32 .npy of `rows × cols` values 0.1.
fn write_npy(path: &Path, rows: usize, cols: usize) {
    let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    h.push_str(&" ".repeat(63 - (10 + h.len()) % 64));
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for _ in 0..rows * cols {
        b.extend_from_slice(&0.1f32.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn build_search_add_decode_on_real_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (base, lines) = embed(d, "base", 0, 400);
    let (more, _) = embed(d, "more", 400, 100);
    let ids = d.join("ids.txt");
    std::fs::write(
        &ids,
        (0..400).map(|i| format!("doc-{i}\n")).collect::<String>(),
    )
    .unwrap();
    let ix = d.join("c.tjv");
    let ixs = ix.to_str().unwrap();
    let b = ok_json(&[
        "index",
        "build",
        &base,
        "-o",
        ixs,
        "--bytes-per-vector",
        "64",
        "--ids",
        ids.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(b["vectors"], 400);
    assert_eq!(b["dimension"], 384);
    assert_eq!(b["ids"], "text");
    assert_eq!(b["fit_vectors"], 400);
    assert_eq!(b["unit_norm"], true);
    assert!(b["index_bytes_per_vector"].as_f64().unwrap() <= 64.0, "{b}");
    // The file holds the ids too: a few bytes a vector more than the index.
    let file = b["bytes_per_vector"].as_f64().unwrap();
    assert!(file > 64.0 && file < 72.0, "{b}");
    let crc = b["codebook_crc32"].as_str().unwrap().to_string();
    let i = ok_json(&["index", "inspect", ixs, "--json"]);
    assert_eq!(i["codebook_crc32"], crc.as_str());
    assert!(i["breakdown"]["streams"].as_u64().unwrap() > 0);
    assert!(ok(&["index", "inspect", ixs]).contains("klt:bytes=64:search"));

    // Each stored vector, as a query, finds itself first (at 64 B/vector).
    let s = ok_json(&["index", "search", ixs, &base, "-k", "3", "--json"]);
    let hits = s["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 400);
    let self_hits = hits
        .iter()
        .enumerate()
        .filter(|(q, h)| h[0]["id"] == format!("doc-{q}").as_str())
        .count();
    assert!(self_hits >= 390, "{self_hits}/400 self hits");
    let (top, second) = (
        hits[0][0]["score"].as_f64().unwrap(),
        hits[0][1]["score"].as_f64().unwrap(),
    );
    assert!(top > 0.9 && top <= 1.0001 && second <= top, "{}", hits[0]);
    // Text ids cannot go to .npy.
    let out = d.join("hits.npy");
    fails_with(
        &["index", "search", ixs, &base, "-o", out.to_str().unwrap()],
        "use --json",
    );

    // Adding: the ids must come too, of the same kind; the index is rewritten in place,
    // its codebook kept; a refused add leaves the file as it was.
    let before = std::fs::read(&ix).unwrap();
    fails_with(&["index", "add", ixs, &more], "none given");
    let wrong = d.join("wrong.txt");
    std::fs::write(&wrong, "doc-3\n".repeat(100)).unwrap();
    fails_with(
        &["index", "add", ixs, &more, "--ids", wrong.to_str().unwrap()],
        "doc-3",
    );
    assert_eq!(std::fs::read(&ix).unwrap(), before);
    let ids2 = d.join("ids2.txt");
    std::fs::write(
        &ids2,
        (400..500).map(|i| format!("doc-{i}\n")).collect::<String>(),
    )
    .unwrap();
    let a = ok_json(&[
        "index",
        "add",
        ixs,
        &more,
        "--ids",
        ids2.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(a["vectors"], 500);
    assert_eq!(a["added"], 100);
    assert_eq!(a["codebook_crc32"], crc.as_str());
    let s = ok_json(&["index", "search", ixs, &more, "-k", "1", "--json"]);
    let found = s["hits"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(q, h)| h[0]["id"] == format!("doc-{}", 400 + q).as_str())
        .count();
    assert!(found >= 95, "{found}/100 added vectors found");

    // Decoding: every vector, close to its original.
    let back = d.join("back.npy");
    ok(&["index", "decode", ixs, "-o", back.to_str().unwrap()]);
    assert_eq!(npy_shape(&back), ("<f4".into(), vec![500, 384]));
    assert!(!lines.is_empty());
}

#[test]
fn hits_to_npy_with_integer_ids_and_bad_input_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (base, _) = embed(d, "base", 1000, 120);
    let (q, _) = embed(d, "q", 1200, 7);
    let ix = d.join("c.tjv");
    let ixs = ix.to_str().unwrap();
    // Fitted on another set; no coarse code (every search decodes every vector).
    ok(&[
        "index",
        "build",
        &base,
        "-o",
        ixs,
        "--bytes-per-vector",
        "128",
        "--fit",
        &q,
        "--exhaustive",
    ]);
    let i = ok_json(&["index", "inspect", ixs, "--json"]);
    assert_eq!(i["fit_vectors"], 7);
    assert_eq!(i["coarse_bytes_per_vector"], 0);
    assert_eq!(i["ids"], "positions");
    let out = d.join("hits.npy");
    ok(&[
        "index",
        "search",
        ixs,
        &q,
        "-k",
        "200",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(npy_shape(&out), ("<i8".into(), vec![7, 200]));
    let scores = d.join("hits.scores.npy");
    assert_eq!(npy_shape(&scores), ("<f4".into(), vec![7, 200]));
    // k beyond the collection: padded with -1 (as faiss does).
    let b = std::fs::read(&out).unwrap();
    let last = i64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());
    assert_eq!(last, -1);

    // Errors name the file and what was expected; nothing panics.
    let one = d.join("one.npy");
    write_npy(&one, 2, 10);
    fails_with(
        &["index", "search", ixs, one.to_str().unwrap()],
        "dimension 384",
    );
    fails_with(
        &["index", "add", ixs, one.to_str().unwrap()],
        "dimension 384",
    );
    fails_with(
        &["index", "inspect", &base],
        "not a tensorjpeg embedding index",
    );
    let mut bad = std::fs::read(&ix).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let badp = d.join("bad.tjv");
    std::fs::write(&badp, &bad).unwrap();
    fails_with(&["index", "search", badp.to_str().unwrap(), &q], "bad.tjv");
    fails_with(&["index", "inspect", badp.to_str().unwrap()], "checksum");
    fails_with(
        &[
            "index",
            "build",
            &base,
            "-o",
            d.join("x.npy").to_str().unwrap(),
            "--bytes-per-vector",
            "64",
        ],
        ".tjv",
    );
    fails_with(
        &[
            "index",
            "build",
            &base,
            "-o",
            d.join("y.tjv").to_str().unwrap(),
            "--bytes-per-vector",
            "0.5",
        ],
        "bytes per vector",
    );
    fails_with(
        &[
            "index",
            "build",
            &base,
            "-o",
            &base,
            "--bytes-per-vector",
            "64",
        ],
        ".tjv",
    );
    fails_with(&["index", "search", ixs, &q, "-k", "0"], "-k 0");
    assert!(!run(&["index", "decode", ixs, "-o", ixs]).status.success());
}
