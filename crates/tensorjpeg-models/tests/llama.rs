//! SmolLM2 (GGUF) on the real asset fetched by `scripts/fetch-assets.sh`.

mod common;
use common::asset;

use tensorjpeg_models::llama::Llama;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

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
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let m = Llama::load(&p, &WeightOptions::default()).unwrap();
    eprintln!("{}", m.describe());
    let text = greedy(&m, "The capital of France is", 8);
    eprintln!("completion: {text:?}");
    assert!(text.contains("Paris"), "{text}");
}

#[test]
fn perplexity_quantized_and_f32_agree() {
    use tensorjpeg_models::eval::{perplexity, Window};
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let text = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    let q = Llama::load(&p, &WeightOptions::default()).unwrap();
    let f = Llama::load(
        &p,
        &WeightOptions {
            dequantize: true,
            ..Default::default()
        },
    )
    .unwrap();
    let ids = q.tokenizer().encode(&text[..4000]).unwrap();
    // A short text keeps CI fast (candle's quantized CPU kernels are slow at prefill);
    // docs/PERFORMANCE.md has the 20,000-token figures.
    let ids = &ids[..ids.len().min(300)];
    let win = Window {
        ctx: 200,
        stride: 100,
    };
    let a = perplexity(&q, ids, win, &|_, _| {}).unwrap();
    let b = perplexity(&f, ids, win, &|_, _| {}).unwrap();
    eprintln!("quantized: {a:?}\nf32:       {b:?}");
    assert!(a.perplexity > 1.0 && a.perplexity < 100.0);
    // candle's quantized kernels also quantize the activations to 8 bits, so the two differ
    // by more on a short text than on the 20,000-token run of docs/PERFORMANCE.md.
    assert!(
        (a.perplexity / b.perplexity - 1.0).abs() < 0.02,
        "{} vs {}",
        a.perplexity,
        b.perplexity
    );
}

fn load_f32(p: &std::path::Path) -> Llama {
    Llama::load(
        p,
        &WeightOptions {
            dequantize: true,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn gguf_tokenizer_round_trips_and_splits_digits() {
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let m = load_f32(&p);
    let tok = m.tokenizer();
    let text = "The year 2024 began: naïve café, tabs\tand  spaces — ok? 🚀";
    let ids = tok.encode(text).unwrap();
    assert_eq!(tok.decode(&ids).unwrap(), text);
    // SmolLM2's pre-tokenizer puts every digit in its own token.
    let digits = tok.encode("2024").unwrap();
    assert_eq!(digits.len(), 4, "{digits:?}");
    assert_eq!(tok.vocab_size(), 49152);
    assert!(tok.eos.is_some());
}

#[test]
fn kv_cache_matches_the_full_forward() {
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let m = load_f32(&p);
    let ids = m
        .tokenizer()
        .encode("Compression of neural network weights with transform coding")
        .unwrap();
    let full: Vec<f32> = m
        .forward(&ids, 1, &mut m.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let vocab = m.config().vocab;
    let mut cache = m.new_cache();
    let split = 5;
    let mut inc: Vec<f32> = m
        .forward(&ids[..split], 1, &mut cache)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for &t in &ids[split..] {
        let l: Vec<f32> = m
            .forward(&[t], 1, &mut cache)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        inc.extend(l);
    }
    assert_eq!(inc.len(), ids.len() * vocab);
    let max = full.iter().fold(0f32, |a, &b| a.max(b.abs()));
    let err = full
        .iter()
        .zip(&inc)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(err < 1e-3 * max, "{err} vs {max}");
    // Batched rows equal single rows.
    let two: Vec<u32> = ids[..6].iter().chain(&ids[..6]).copied().collect();
    let b: Vec<f32> = m
        .forward(&two, 2, &mut m.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let n = 6 * vocab;
    let d = b[..n]
        .iter()
        .zip(&b[n..])
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(d < 1e-3 * max);
    // Too long for the context.
    let mut c = m.new_cache();
    c.len = m.config().context - 2;
    assert!(m.forward(&ids[..3], 1, &mut c).is_err());
}

#[test]
fn hooks_and_weight_codecs_move_the_model_by_the_expected_amount() {
    use std::sync::Arc;
    use tensorjpeg_models::eval::{compare, compare_hook, Window};
    use tensorjpeg_models::hooks::{CodecHook, NoiseHook};
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let text = asset("text/enwiki.txt");
    let mut m = load_f32(&p);
    let text = std::fs::read_to_string(text).unwrap();
    let ids = m.tokenizer().encode(&text[..4000]).unwrap();
    let ids = &ids[..ids.len().min(300)];
    let win = Window {
        ctx: 160,
        stride: 80,
    };
    let mild = compare_hook(
        &mut m,
        Arc::new(NoiseHook {
            snr_db: 40.0,
            seed: 3,
        }),
        ids,
        win,
        &|_, _| {},
    )
    .unwrap();
    let harsh = compare_hook(
        &mut m,
        Arc::new(CodecHook::parse("jpeg:tworow@q=5").unwrap()),
        ids,
        win,
        &|_, _| {},
    )
    .unwrap();
    eprintln!("noise 40 dB: {mild:?}\njpeg q5: {harsh:?}");
    assert!(mild.kl > 0.0 && mild.kl < 0.05 && mild.top1_agreement > 0.9);
    assert!(harsh.kl > 10.0 * mild.kl && harsh.ppl_variant > harsh.ppl_reference);
    assert!((mild.ppl_reference - harsh.ppl_reference).abs() < 1e-6 * mild.ppl_reference);
    // Weights through the codec: only the selected tensors, with a report each.
    let w = Llama::load(
        &p,
        &WeightOptions {
            codec: Some(("native".into(), tensorjpeg::Rate::Bits(3.0))),
            include: Some(regex::Regex::new(r"^blk\.0\.ffn_(up|down)\.weight$").unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = w.weight_reports().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["blk.0.ffn_up.weight", "blk.0.ffn_down.weight"]);
    for r in w.weight_reports() {
        assert!(r.bits_per_value <= 3.01 && r.snr_db > 12.0, "{r:?}");
    }
    let c = compare(&m, &w, ids, win, &|_, _| {}).unwrap();
    assert!(c.kl > 0.0 && c.kl < 0.2, "{c:?}");
}
