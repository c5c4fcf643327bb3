//! SmolLM2 (GGUF) on the real asset fetched by `scripts/fetch-assets.sh`.

use std::path::PathBuf;

use tensorjpeg_models::llama::Llama;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

fn asset(rel: &str) -> Option<PathBuf> {
    let base = std::env::var_os("TENSORJPEG_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"));
    let p = base.join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} not found (run scripts/fetch-assets.sh)",
            p.display()
        );
        None
    }
}

fn greedy(m: &dyn LanguageModel, prompt: &str, n: usize) -> String {
    let tok = m.tokenizer();
    let ids = tok.encode(prompt).unwrap();
    let mut cache = m.new_cache();
    let mut out = Vec::new();
    let mut logits = m.forward_last(&ids, 1, &mut cache, 1).unwrap();
    for _ in 0..n {
        let v: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
        let next = v
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as u32;
        out.push(next);
        logits = m.forward(&[next], 1, &mut cache).unwrap();
    }
    tok.decode(&out).unwrap()
}

#[test]
fn smollm2_names_paris() {
    let Some(p) = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let m = Llama::load(&p, &WeightOptions::default()).unwrap();
    eprintln!("{}", m.describe());
    let text = greedy(&m, "The capital of France is", 8);
    eprintln!("completion: {text:?}");
    assert!(text.contains("Paris"), "{text}");
}

#[test]
fn perplexity_quantized_and_f32_agree() {
    use tensorjpeg_models::eval::{perplexity, Window};
    let Some(p) = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let text = std::fs::read_to_string("/usr/share/common-licenses/GPL-3").unwrap();
    let q = Llama::load(&p, &WeightOptions::default()).unwrap();
    let f = Llama::load(
        &p,
        &WeightOptions {
            dequantize: true,
            ..Default::default()
        },
    )
    .unwrap();
    let ids = q.tokenizer().encode(&text).unwrap();
    let ids = &ids[..ids.len().min(1200)];
    let win = Window {
        ctx: 512,
        stride: 256,
    };
    let a = perplexity(&q, ids, win, &|_, _| {}).unwrap();
    let b = perplexity(&f, ids, win, &|_, _| {}).unwrap();
    eprintln!("quantized: {a:?}\nf32:       {b:?}");
    assert!(a.perplexity > 1.0 && a.perplexity < 100.0);
    assert!(
        (a.perplexity / b.perplexity - 1.0).abs() < 0.005,
        "{} vs {}",
        a.perplexity,
        b.perplexity
    );
}
