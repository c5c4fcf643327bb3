//! all-MiniLM-L6-v2 on the real asset fetched by `scripts/fetch-assets.sh`.

mod common;
use common::asset;

use std::path::PathBuf;

use tensorjpeg_models::bert::Embedder;
use tensorjpeg_models::weights::WeightOptions;

/// The MiniLM directory (its weights must be present).
fn minilm() -> PathBuf {
    asset("minilm/model.safetensors")
        .parent()
        .unwrap()
        .to_path_buf()
}

use tensorjpeg::metrics::cosine;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

/// Sentences of 10–40 words from the pinned Wikipedia text (`text/enwiki.txt`), cycled to `n`.
fn text_sentences(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    let all: Vec<String> = text
        .split(['.', ';'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>())
        .filter(|w| (10..=40).contains(&w.len()))
        .map(|w| w.join(" ") + ".")
        .collect();
    assert!(!all.is_empty());
    all.iter().cycle().take(n).cloned().collect()
}

#[test]
fn reference_cosine_matches_sentence_transformers() {
    let dir = minilm();
    let m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    eprintln!("{}", m.describe());
    assert_eq!(m.dim(), 384);
    assert_eq!(m.max_seq_length, 256);
    let e = m
        .embed(&strings(&[
            "AI is transforming the world.",
            "Machine learning is changing technology.",
        ]))
        .unwrap();
    assert_eq!(e.len(), 2 * 384);
    let c = cosine(&e[..384], &e[384..]);
    eprintln!("cosine = {c:.8}");
    assert!((c - 0.5866).abs() < 5e-5, "cosine {c:.6}, expected 0.5866");
}

#[test]
fn unit_norm_and_batching_invariant() {
    let dir = minilm();
    let m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    let h = m.dim();
    assert!(m.embed(&[]).unwrap().is_empty());

    let mut batch = text_sentences(40);
    batch.insert(7, "A short one.".to_string());
    batch.push(String::new());
    let many = m.embed(&batch).unwrap();
    assert_eq!(many.len(), batch.len() * h);
    for row in many.chunks(h) {
        assert!((dot(row, row).sqrt() - 1.0).abs() < 1e-5);
        assert!(row.iter().all(|v| v.is_finite()));
    }
    for &i in &[7, batch.len() - 1, 0] {
        let alone = m.embed(&batch[i..i + 1]).unwrap();
        let row = &many[i * h..(i + 1) * h];
        let diff = alone
            .iter()
            .zip(row)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "sentence {i}: max difference {diff}");
    }
    // The empty sentence is [CLS][SEP] and still gives a unit vector.
    assert_eq!(m.encode("").unwrap(), vec![101, 102]);

    // Truncation keeps [CLS] … [SEP] within max_seq_length.
    let long = text_sentences(30).join(" ");
    let ids = m.encode(&long).unwrap();
    assert_eq!(ids.len(), 256);
    assert_eq!((ids[0], ids[255]), (101, 102));
    // … exactly as the tokenizer's own truncation to 256 does it.
    let mut direct = m.tokenizer().inner().clone();
    direct
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: 256,
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(ids, direct.encode(long.as_str(), true).unwrap().get_ids());
}

#[test]
fn weights_through_a_codec_stay_close() {
    let dir = minilm();
    let sentences = strings(&[
        "AI is transforming the world.",
        "Machine learning is changing technology.",
        "The cat sat on the mat while the dog slept by the fire.",
        "",
    ]);
    let clean = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    let opts = WeightOptions {
        codec: Some(("native".into(), tensorjpeg::Rate::Bits(6.0))),
        ..Default::default()
    };
    let coded = Embedder::load(&dir.join("model.safetensors"), &opts).unwrap();
    assert!(!coded.reports().is_empty());
    assert!(coded.reports().iter().all(|r| !r.name.contains("pooler")));
    let a = clean.embed(&sentences).unwrap();
    let b = coded.embed(&sentences).unwrap();
    let h = clean.dim();
    for (i, (x, y)) in a.chunks(h).zip(b.chunks(h)).enumerate() {
        let c = cosine(x, y);
        eprintln!("sentence {i}: cosine clean vs codec = {c:.6}");
        assert!(c > 0.99, "sentence {i}: {c}");
    }
}

#[test]
fn embed_hook_alters_the_word_embeddings() {
    use std::sync::Arc;
    use tensorjpeg_models::hooks::NoiseHook;
    let dir = minilm();
    let mut m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    let s = strings(&["The quick brown fox jumps over the lazy dog."]);
    let clean = m.embed(&s).unwrap();
    m.set_embed_hook(Some(Arc::new(NoiseHook {
        snr_db: 30.0,
        seed: 7,
    })));
    assert!(m.describe().contains("noise"));
    let noisy = m.embed(&s).unwrap();
    let c = cosine(&clean, &noisy);
    eprintln!("cosine clean vs 30 dB noise on word embeddings = {c:.6}");
    assert!(c < 0.999_999 && c > 0.95, "{c}");
    m.set_embed_hook(None);
    assert_eq!(m.embed(&s).unwrap(), clean);
}

#[test]
fn bert_prefixed_tensor_names_load_the_same() {
    let dir = minilm();
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let renamed = st.iter().map(|(n, v)| (format!("bert.{n}"), v));
    safetensors::serialize_to_file(renamed, None, &tmp.path().join("model.safetensors")).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::os::unix::fs::symlink(dir.join(f), tmp.path().join(f)).unwrap();
    }
    let s = strings(&["Tensor names with a prefix.", "And without."]);
    let a = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    let b = Embedder::load(
        &tmp.path().join("model.safetensors"),
        &WeightOptions::default(),
    );
    assert_eq!(a.embed(&s).unwrap(), b.unwrap().embed(&s).unwrap());
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = minilm();
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(dir.join(f), tmp.path().join(f)).unwrap();
    }
    let err = Embedder::load(tmp.path(), &WeightOptions::default())
        .err()
        .expect("loading without tokenizer.json fails")
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

/// all-mpnet-base-v2 against sentence-transformers 6.3 / transformers 5.25 (torch 2.15,
/// CPU, float32): `SentenceTransformer(dir).encode(s, normalize_embeddings=True)`. The model
/// is 438 MB and fetched only on request (`bash scripts/fetch-assets.sh --with mpnet`), so
/// this test runs with `cargo test -p tensorjpeg-models --test bert -- --ignored`; the MPNet
/// code path itself is checked in every run against a tiny random MPNet
/// (`tiny_mpnet_matches_transformers`).
#[test]
#[ignore = "needs assets/mpnet (bash scripts/fetch-assets.sh --with mpnet)"]
fn mpnet_matches_sentence_transformers() {
    let dir = asset("mpnet/model.safetensors")
        .parent()
        .unwrap()
        .to_path_buf();
    let m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    assert_eq!((m.dim(), m.max_seq_length), (768, 384));
    let long = "In the beginning God created the heavens and the earth. ".repeat(60);
    let cases: [(&str, usize, [f32; 6]); 5] = [
        (
            "The quick brown fox jumps over the lazy dog.",
            12,
            [
                -0.0342926, -0.0013394, 0.0043362, -0.0018684, 0.0254409, 0.028019,
            ],
        ),
        (
            "Hello world",
            4,
            [
                0.0262497, 0.0133955, -0.0045332, -0.0217914, 0.0545518, -0.0049665,
            ],
        ),
        (
            "Anarchism is a political philosophy and movement that is sceptical of authority \
             and rejects all involuntary, coercive forms of hierarchy.",
            30,
            [
                -0.0012606, 0.0565524, 0.0148045, -0.0218779, -0.0540896, 0.0085084,
            ],
        ),
        (
            "Café déjà-vu: naïve coöperation, 3.14159 and ½ of ĀĒĪ!",
            21,
            [
                0.026421, 0.0636262, -0.01735, 0.0234844, -0.0727756, -0.0175418,
            ],
        ),
        (
            long.as_str(),
            384,
            [
                0.0379432, 0.0597102, -0.0077571, -0.0006217, -0.0113881, 0.0197557,
            ],
        ),
    ];
    let ids = m.encode(cases[0].0).unwrap();
    assert_eq!(
        ids,
        [0, 2000, 4252, 2833, 4423, 14527, 2062, 2000, 13975, 3903, 1016, 2]
    );
    let sentences: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    let e = m.embed(&sentences).unwrap();
    for (i, (text, len, want)) in cases.iter().enumerate() {
        assert_eq!(m.encode(text).unwrap().len(), *len, "{text}");
        let got = &e[i * 768..i * 768 + 6];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-6, "sentence {i}: {got:?} vs {want:?}");
        }
    }
}

/// A tiny random MPNet (2 layers, 16 wide, 4 heads, its relative position bias drawn large
/// so that it matters) and a 61-word WordPiece tokenizer, against transformers 5.25 +
/// sentence-transformers 6.3 (Transformer → mean Pooling → Normalize) on the same files:
/// `tests/data/tiny-mpnet/` (made by its `make_fixture.py`). Sequences of 98 and 128
/// tokens reach every logarithmic bucket of the relative position bias.
#[test]
fn tiny_mpnet_matches_transformers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-mpnet");
    let m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    assert!(m.describe().starts_with("MPNet"), "{}", m.describe());
    assert_eq!((m.dim(), m.max_seq_length), (16, 128));
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = v["sentences"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    let sentences: Vec<String> = cases
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    let e = m.embed(&sentences).unwrap();
    for (i, c) in cases.iter().enumerate() {
        let ids: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(m.encode(&sentences[i]).unwrap(), ids, "sentence {i}");
        let want: Vec<f32> = c["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = &e[i * 16..(i + 1) * 16];
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 2e-5,
            "sentence {i}: max |Δ| {worst:e}\n{got:?}\n{want:?}"
        );
    }
}

#[test]
fn token_counts_without_a_forward_pass_equal_the_calibrations() {
    let m = Embedder::load(&minilm(), &WeightOptions::default()).unwrap();
    let s = text_sentences(12);
    let cal = m.calibrate(&s, false).unwrap();
    let (tokens, positions, n) = m.count_tokens(&s).unwrap();
    assert_eq!(
        (tokens, positions, n),
        (cal.token_counts, cal.position_counts, cal.tokens)
    );
    assert!(n > 12 * 10, "{n} tokens");
    // MPNet's positions start past the padding id: row 2 holds every sentence's first token.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-mpnet");
    let tiny = Embedder::load(&dir, &WeightOptions::default()).unwrap();
    let (_, positions, _) = tiny
        .count_tokens(&strings(&["the cat sat on the mat.", "dog"]))
        .unwrap();
    assert_eq!(&positions[..5], &[0.0, 0.0, 2.0, 2.0, 2.0]);
}

/// `dir`'s tensor `name` (f32), and it plus a small ramp, also written alone to a
/// safetensors file in `tmp`: the replacement both ways of swapping a matrix must agree on.
fn perturbed(
    dir: &std::path::Path,
    name: &str,
    tmp: &std::path::Path,
) -> (Vec<f32>, Vec<f32>, PathBuf) {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(name).unwrap();
    let original: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let v: Vec<f32> = original
        .iter()
        .enumerate()
        .map(|(i, x)| x + 0.01 * ((i % 7) as f32 - 3.0))
        .collect();
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(t.dtype(), t.shape().to_vec(), &data).unwrap();
    let file = tmp.join(format!("{}.safetensors", name.replace('.', "_")));
    safetensors::serialize_to_file([(name, view)], None, &file).unwrap();
    (original, v, file)
}

/// Swapping a matrix in memory (what the sensitivity probes do) gives exactly the model
/// loaded with that matrix replaced from a file, and swapping the original back gives the
/// clean model; a wrong size or an unknown name is an error.
#[test]
fn set_matrix_equals_reloading_with_the_matrix_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-mpnet");
    let cases = [
        (tiny, None),
        (
            minilm(),
            Some(vec![
                "embeddings.word_embeddings.weight",
                "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight",
                "encoder.layer.3.intermediate.dense.weight",
            ]),
        ),
    ];
    let s = strings(&[
        "A matrix swapped in memory.",
        "The same model, reloaded from a file.",
    ]);
    for (dir, pick) in cases {
        let mut m = Embedder::load(&dir, &WeightOptions::default()).unwrap();
        let clean = m.embed(&s).unwrap();
        let names = m.matrix_names();
        assert!(
            names
                .iter()
                .any(|n| n.ends_with("relative_attention_bias.weight"))
                == pick.is_none()
        );
        let names: Vec<String> = match pick {
            Some(p) => p.iter().map(|n| n.to_string()).collect(),
            None => names,
        };
        for name in &names {
            let (original, v, file) = perturbed(&dir, name, tmp.path());
            m.set_matrix(name, v.clone()).unwrap();
            let swapped = m.embed(&s).unwrap();
            let reloaded = Embedder::load(
                &dir,
                &WeightOptions {
                    container: Some(file),
                    ..Default::default()
                },
            )
            .unwrap()
            .embed(&s)
            .unwrap();
            assert_eq!(swapped, reloaded, "{name}");
            assert_ne!(swapped, clean, "{name}: the change had no effect");
            assert!(m
                .set_matrix(name, v[1..].to_vec())
                .unwrap_err()
                .to_string()
                .contains(name));
            m.set_matrix(name, original).unwrap();
            assert_eq!(m.embed(&s).unwrap(), clean, "{name}");
        }
        let e = m
            .set_matrix("pooler.dense.weight", vec![0.0; 4])
            .unwrap_err();
        assert!(e.to_string().contains("pooler.dense.weight"), "{e}");
    }
}
