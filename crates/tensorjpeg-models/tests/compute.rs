//! The compute formats on SmolLM2's real weights: GGUF blocks converted bit for bit, the
//! integer kernels against dequantize-then-multiply, and the model run from them.

mod common;
use common::asset;

use candle_core::quantized::gguf_file;
use candle_core::Device;
use tensorjpeg_models::compute::ComputeSpec;

#[test]
fn gguf_blocks_convert_bit_for_bit() {
    let path = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut f = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let spec = ComputeSpec::default();
    for name in [
        "blk.0.attn_q.weight",
        "blk.3.ffn_down.weight",
        "token_embd.weight",
    ] {
        let q = content.tensor(&mut f, name, &Device::Cpu).unwrap();
        let m = spec.from_qtensor(name, &q).unwrap();
        assert!(ComputeSpec::exact_format(q.dtype()).is_some(), "{name}");
        assert_eq!(m.to_blocks(), &q.data().unwrap()[..], "{name}");
        let want: Vec<f32> = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let got = m.dequantize();
        let bad = want.iter().zip(&got).filter(|(a, b)| a != b).count();
        assert_eq!(
            bad,
            0,
            "{name}: {bad} values differ, e.g. {:?}",
            want.iter().zip(&got).find(|(a, b)| a != b)
        );
    }
}

#[test]
fn products_match_the_dense_layer() {
    use candle_core::Tensor;
    use tensorjpeg_models::compute::ComputeMatMul;
    use tensorjpeg_models::linear::Linear;
    let path = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut f = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    for name in [
        "blk.2.ffn_up.weight",
        "blk.2.attn_k.weight",
        "blk.2.ffn_down.weight",
        "token_embd.weight",
    ] {
        let q = content.tensor(&mut f, name, &Device::Cpu).unwrap();
        let (out, inp) = q.shape().dims2().unwrap();
        let dense = Linear::dense(q.dequantize(&Device::Cpu).unwrap(), None).unwrap();
        for (rows, dense_from) in [(1usize, 16usize), (3, 16), (20, 16), (20, 1000), (13, 1)] {
            let m = ComputeSpec::default().from_qtensor(name, &q).unwrap();
            let lin = Linear::custom(ComputeMatMul::new(m, dense_from), None);
            let xv: Vec<f32> = (0..rows * inp)
                .map(|i| (i * 7919 % 1000) as f32 / 500.0 - 1.0)
                .collect();
            let x = Tensor::from_vec(xv, (1, rows, inp), &Device::Cpu).unwrap();
            let want: Vec<f32> = dense
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let got: Vec<f32> = lin
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(got.len(), rows * out);
            let s: f64 = want.iter().map(|v| (*v as f64).powi(2)).sum();
            let e: f64 = want
                .iter()
                .zip(&got)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            let snr = 10.0 * (s / e.max(1e-30)).log10();
            assert!(
                snr > 35.0,
                "{name} rows {rows} dense_from {dense_from}: {snr:.1} dB"
            );
        }
    }
}

#[test]
fn the_model_runs_from_the_compute_format() {
    use tensorjpeg_models::llama::Llama;
    use tensorjpeg_models::lm::LanguageModel;
    use tensorjpeg_models::weights::WeightOptions;
    let path = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let f32m = Llama::load(
        &path,
        &WeightOptions {
            dequantize: true,
            ..Default::default()
        },
    )
    .unwrap();
    let spec = ComputeSpec {
        dense_from_rows: 1,
        ..Default::default()
    };
    let cm = Llama::load(
        &path,
        &WeightOptions {
            dequantize: true,
            compute: Some(spec),
            ..Default::default()
        },
    )
    .unwrap();
    let ids = f32m
        .tokenizer()
        .encode("The capital of France is Paris, and the capital of Italy is")
        .unwrap();
    let a: Vec<f32> = f32m
        .forward(&ids, 1, &mut f32m.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = cm
        .forward(&ids, 1, &mut cm.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let s: f64 = a.iter().map(|v| (*v as f64).powi(2)).sum();
    let e: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    let snr = 10.0 * (s / e.max(1e-30)).log10();
    assert!(
        snr > 60.0,
        "dense path logits {snr:.1} dB from the f32 model"
    );
    // The integer kernels (activations at 8 bits per block of 32) on every product.
    let spec = ComputeSpec {
        dense_from_rows: usize::MAX,
        ..Default::default()
    };
    let km = Llama::load(
        &path,
        &WeightOptions {
            compute: Some(spec),
            ..Default::default()
        },
    )
    .unwrap();
    let c: Vec<f32> = km
        .forward(&ids, 1, &mut km.new_cache())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let e: f64 = a
        .iter()
        .zip(&c)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    let snr = 10.0 * (s / e.max(1e-30)).log10();
    eprintln!("kernel path logits: {snr:.1} dB");
    assert!(
        snr > 22.0,
        "kernel path logits {snr:.1} dB from the f32 model"
    );
    let vocab = f32m.config().vocab;
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .max_by(|p, q| p.1.total_cmp(q.1))
            .unwrap()
            .0
    };
    let same = (0..ids.len())
        .filter(|&t| {
            argmax(&a[t * vocab..(t + 1) * vocab]) == argmax(&c[t * vocab..(t + 1) * vocab])
        })
        .count();
    assert!(
        same + 1 >= ids.len(),
        "top-1 agrees at {same} of {} positions",
        ids.len()
    );
}
