//! The probe's building blocks on SmolLM2 (the real asset): per-sequence embedding tables,
//! scoring against the clean table, batched sampling across tables.

#[path = "../../tensorjpeg-models/tests/common/mod.rs"]
mod common;
use common::asset;

use tensorjpeg::Rate;
use tensorjpeg_eval::probe::measure::{code_table, sample_tables, score_text, Table};
use tensorjpeg_models::eval::{perplexity, Sampling, Window};
use tensorjpeg_models::llama::Llama;
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::weights::WeightOptions;

fn load() -> Llama {
    let p = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    Llama::load(
        &p,
        &WeightOptions {
            dequantize: true,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn forward_embeds_of_the_clean_rows_is_forward() {
    let m = load();
    let ids = m.tokenizer().encode("Embeddings in, logits out.").unwrap();
    let want: Vec<f32> = m
        .forward(&ids, 1, &mut m.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let ids_t = candle_core::Tensor::new(ids.as_slice(), &candle_core::Device::Cpu).unwrap();
    let x = m
        .embeddings()
        .unwrap()
        .index_select(&ids_t, 0)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let got: Vec<f32> = m
        .forward_embeds(&x, &mut m.new_cache(), ids.len())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(got, want);
    // A width mismatch is refused.
    let bad = candle_core::Tensor::zeros(
        (1, 2, 7),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let e = m.forward_embeds(&bad, &mut m.new_cache(), 1).unwrap_err();
    assert!(e.to_string().contains("576"), "{e}");
}

#[test]
fn scoring_against_itself_gives_zero_kl_and_the_plain_perplexity() {
    let m = load();
    let text = std::fs::read_to_string(asset("text/enwiki.txt")).unwrap();
    let ids: Vec<u32> = m.tokenizer().encode(&text[..4000]).unwrap()[..300].to_vec();
    let win = Window {
        ctx: 128,
        stride: 128,
    };
    let clean = Table::clean(&m).unwrap();
    let jpeg = code_table(&clean, "jpeg:tworow:trunc", Rate::Quality(10)).unwrap();
    let s = score_text(&m, &[&clean, &clean, &jpeg.table], &ids, win, &|_, _| {}).unwrap();
    let plain = perplexity(&m, &ids, win, &|_, _| {}).unwrap();
    assert_eq!(s[0].nll.len(), plain.tokens);
    assert!((s[0].perplexity() / plain.perplexity - 1.0).abs() < 1e-4);
    assert_eq!(s[1].nll, s[0].nll);
    assert!(s[1].kl_mean() < 1e-6, "{}", s[1].kl_mean());
    assert_eq!(s[1].top1_agreement, 1.0);
    // JPEG at quality 10 moves the model a lot (the seed's "despair" setting).
    assert!(
        s[2].kl_mean() > 0.5 && s[2].top1_agreement < 0.7,
        "{:?}",
        (s[2].kl_mean(), s[2].top1_agreement)
    );
    assert!(s[2].perplexity() > 2.0 * s[0].perplexity());
}

#[test]
fn sampling_across_tables_shares_the_random_streams() {
    let m = load();
    let clean = Table::clean(&m).unwrap();
    let q5 = code_table(&clean, "jpeg:tworow", Rate::Quality(5))
        .unwrap()
        .table;
    let prompt = m
        .tokenizer()
        .encode("What is the meaning of life??")
        .unwrap();
    let s = Sampling {
        max_tokens: 16,
        temperature: 0.8,
        top_k: 50,
        top_p: 0.95,
        seed: 3,
        stop_at_eos: true,
    };
    let out = sample_tables(&m, &prompt, &[&clean, &q5, &clean], 3, &s).unwrap();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|t| t.len() == 3));
    // The same table under the same streams gives the same texts, wherever it sits in the
    // batch; another table changes them.
    assert_eq!(out[0], out[2]);
    assert_ne!(out[0], out[1]);
    assert_ne!(out[0][0], out[0][1], "samples differ");
    // And the same call again gives the same texts.
    assert_eq!(
        sample_tables(&m, &prompt, &[&clean], 3, &s).unwrap()[0],
        out[0]
    );
}
