//! JPEG images of sentence embeddings, measured as seed 000 proposes (`embed-eval` with
//! the `jpeg` family writes them to seed000.md / seed000.json): every vector min–max
//! normalised to 8 bits and stored as a 2 × 192 grayscale JPEG, or the whole collection as
//! one image, at the seed's qualities — cosine to the original and bytes with and without
//! the JPEG headers; and the seed's Table 3 pairs, which show that its rising similarities
//! measure JPEG blurring two sentences into each other.

use anyhow::Result;
use serde_json::{json, Value};
use tensorjpeg::metrics::cosine;
use tensorjpeg::vectors::registry;

use super::families::SEED_QUALITIES;
use tensorjpeg_models::bert::Embedder;

use crate::report::num;
use crate::report::table::{f, fenced, render};

/// The JPEG-image measurements, as seed000.md and seed000.json.
pub struct JpegImages {
    /// seed000.md.
    pub markdown: String,
    /// seed000.json.
    pub json: Value,
}

/// Seed 000's Table 3: sentence pairs, and its similarities (original, JPEG 50 %, 5 %).
const TABLE3: [(&str, &str, [f64; 3]); 4] = [
    (
        "AI is transforming the world.",
        "Machine learning is changing technology.",
        [0.5866, 0.8309, 1.0000],
    ),
    (
        "The sun rises in the east.",
        "The moon orbits around the Earth.",
        [0.4352, 0.7894, 0.9935],
    ),
    (
        "Programming requires logical thinking.",
        "Mathematics helps in algorithm design.",
        [0.6724, 0.8546, 1.0000],
    ),
    (
        "Exercise improves health.",
        "A balanced diet is essential for well-being.",
        [0.5921, 0.8392, 1.0000],
    ),
];

/// Encodes `x` (`n × d`) with a JPEG vector codec and decodes every vector.
fn jpeg_round_trip(spec: &str, x: &[f32], d: usize) -> Result<(Vec<f32>, f64, f64)> {
    let ix = registry::parse(spec)?.fit_encode(x, x, d)?;
    let n = ix.len();
    let mut out = vec![0.0f32; n * d];
    for (i, o) in out.chunks_exact_mut(d).enumerate() {
        ix.decode(i, o)?;
    }
    Ok((
        out,
        ix.bytes_per_vector(),
        (ix.total_bytes() - ix.side_bytes()) as f64 / n as f64,
    ))
}

/// Measures JPEG images on `collection` (name, row-major vectors, dimension: the first
/// dataset's database) and on the seed's Table 3 pairs, embedded with `model`.
pub fn measure(model: &Embedder, collection: Option<(&str, &[f32], usize)>) -> Result<JpegImages> {
    let mut md = String::from(
        "# Seed 000 reproduced: JPEG on sentence embeddings\n\nall-MiniLM-L6-v2 embeddings \
         (384 values, 1,536 bytes as float32). The seed's method: each vector min–max \
         normalised to 8 bits with numpy's truncating cast, reshaped to a 2 × 192 grayscale \
         image, baseline JPEG (IJG quality scaling, standard Huffman tables), decoded back. \
         `headers` are the JPEG file's own bytes (SOI … SOS, EOI: 330 per file); the \
         per-vector layout also stores min and max (8 bytes).\n",
    );
    let mut js = json!({});
    if let Some((name, x, d)) = collection {
        let n = x.len() / d;
        let f32b = 4.0 * d as f64;
        let mut t = Vec::new();
        let mut jrows = Vec::new();
        for q in SEED_QUALITIES {
            for (layout, spec) in [
                ("per vector (2×192)", format!("jpeg:trunc:q={q}")),
                (
                    "collection as one image",
                    format!("jpeg:matrix:trunc:q={q}"),
                ),
            ] {
                let (dec, all, nohdr) = jpeg_round_trip(&spec, x, d)?;
                let cos: Vec<f64> = dec
                    .chunks_exact(d)
                    .zip(x.chunks_exact(d))
                    .map(|(a, b)| cosine(a, b))
                    .collect();
                let mean = cos.iter().sum::<f64>() / n as f64;
                let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
                t.push(vec![
                    q.to_string(),
                    layout.to_string(),
                    f(mean, 5),
                    f(min, 5),
                    f(all, 1),
                    f(nohdr, 1),
                    f(f32b / all, 2),
                    f(f32b / nohdr, 2),
                ]);
                jrows.push(json!({
                    "quality": q, "layout": layout, "spec": spec,
                    "cosine_mean": num(mean), "cosine_min": num(min),
                    "bytes_per_vector": num(all), "bytes_per_vector_no_headers": num(nohdr),
                    "ratio_vs_f32": num(f32b / all), "ratio_vs_f32_no_headers": num(f32b / nohdr),
                }));
            }
        }
        md += &format!("\n## Cosine to the original and bytes ({name}, {n} vectors)\n\n");
        md += &fenced(render(
            &[
                "quality",
                "layout",
                "cos mean",
                "cos min",
                "B/vec",
                "B/vec w/o headers",
                "ratio",
                "ratio w/o headers",
            ],
            &t,
        ));
        js["collection"] = json!({"dataset": name, "vectors": n, "rows": jrows});
    }
    // Table 3.
    let sentences: Vec<String> = TABLE3
        .iter()
        .flat_map(|(a, b, _)| [a.to_string(), b.to_string()])
        .collect();
    let e = model.embed(&sentences)?;
    let d = model.dim();
    let mut t = Vec::new();
    let mut jrows = Vec::new();
    let coded: Vec<(u8, Vec<f32>)> = [50u8, 5]
        .iter()
        .map(|&q| Ok((q, jpeg_round_trip(&format!("jpeg:trunc:q={q}"), &e, d)?.0)))
        .collect::<Result<_>>()?;
    for (i, (a, b, seed)) in TABLE3.iter().enumerate() {
        let v = |x: &[f32], j: usize| x[j * d..(j + 1) * d].to_vec();
        let (ea, eb) = (v(&e, 2 * i), v(&e, 2 * i + 1));
        let orig = cosine(&ea, &eb);
        // The pair stacked into one 2 × 384 image (the two rows share every 8 × 8 block).
        let mut stacked = ea.clone();
        stacked.extend_from_slice(&eb);
        let pair_img: Vec<f64> = [50u8, 5]
            .iter()
            .map(|q| {
                let (c, _, _) = jpeg_round_trip(&format!("jpeg:matrix:trunc:q={q}"), &stacked, d)?;
                Ok(cosine(&c[..d], &c[d..]))
            })
            .collect::<Result<_>>()?;
        let ours: Vec<f64> = coded
            .iter()
            .map(|(_, c)| cosine(&v(c, 2 * i), &v(c, 2 * i + 1)))
            .collect();
        t.push(vec![
            format!("{a} / {b}"),
            format!("{} ({})", f(orig, 4), f(seed[0], 4)),
            f(ours[0], 4),
            f(ours[1], 4),
            format!("{} ({})", f(pair_img[0], 4), f(seed[1], 4)),
            format!("{} ({})", f(pair_img[1], 4), f(seed[2], 4)),
        ]);
        jrows.push(json!({
            "sentence_1": a, "sentence_2": b,
            "original": num(orig), "jpeg_50": num(ours[0]), "jpeg_5": num(ours[1]),
            "pair_image_jpeg_50": num(pair_img[0]), "pair_image_jpeg_5": num(pair_img[1]),
            "seed_original": seed[0], "seed_jpeg_50": seed[1], "seed_jpeg_5": seed[2],
        }));
    }
    md += "\n## Table 3: pair similarity after JPEG (the seed's figures in brackets)\n\n\
           `original`: cosine of the two float32 embeddings. `own image`: each vector JPEG'd \
           as its own 2 × 192 image (the storage method), cosine of the decoded pair. \
           `pair image`: the two vectors stacked into one 2 × 384 image (min–max over both), \
           JPEG'd together, cosine of the two decoded rows — this reproduces the seed's \
           columns: every 8 × 8 block spans both rows, so JPEG averages the two sentences \
           into each other and their similarity rises to 1 as quality falls. It measures \
           the blur, not preserved meaning.\n\n";
    md += &fenced(render(
        &[
            "pair",
            "original",
            "own image 50 %",
            "own image 5 %",
            "pair image 50 %",
            "pair image 5 %",
        ],
        &t,
    ));
    js["table3"] = json!(jrows);
    Ok(JpegImages {
        markdown: md,
        json: js,
    })
}
