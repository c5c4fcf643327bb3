//! Error feedback (GPTQ on the native codec's grid) judged where it matters: a layer's output
//! error on text that was not used to calibrate it. On the calibration text itself GPTQ
//! looks better than it is (it fits the sampled `E[xxᵀ]`); this test holds it to held-out
//! text, on SmolLM2's real weights and activations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tensorjpeg::{AxisWeights, Gram, Tensor, TensorPlan};
use tensorjpeg_models::eval::Window;
use tensorjpeg_models::weights::WeightOptions;

fn asset(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(p)
}

/// `Σᵢ ΔWᵢ H ΔWᵢᵀ`: the layer's mean squared output error on inputs of second moment `h`.
fn output_error(w: &[f32], y: &[f32], h: &Gram) -> f64 {
    let k = h.dim();
    let h = h.values();
    w.chunks(k)
        .zip(y.chunks(k))
        .map(|(a, b)| {
            let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| f64::from(x - y)).collect();
            (0..k)
                .map(|i| d[i] * (0..k).map(|j| h[i * k + j] * d[j]).sum::<f64>())
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn error_feedback_lowers_the_held_out_output_error_at_equal_size() {
    let file = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let opts = WeightOptions {
        dequantize: true,
        ..Default::default()
    };
    let mut m = tensorjpeg_models::load::load(&file, &opts).unwrap();
    let text = tensorjpeg_models::text::read_text(&asset("text/enwiki.txt")).unwrap();
    let ids = m.tokenizer().encode(&text).unwrap();
    let window = Window {
        ctx: 512,
        stride: 512,
    };
    // Calibration from the end of the text, the held-out inputs from its start.
    let cal = tensorjpeg_models::calibrate::calibrate_lm(
        m.as_mut(),
        &ids[ids.len() - 4096..],
        window,
        true,
    )
    .unwrap();
    let held =
        tensorjpeg_models::calibrate::calibrate_lm(m.as_mut(), &ids[..1024], window, true).unwrap();
    let tensors = tensorjpeg_io::read_tensors(&file).unwrap();
    for name in ["blk.0.attn_k.weight", "blk.15.ffn_gate.weight"] {
        let t: &Tensor = tensors.iter().find(|t| t.name == name).unwrap();
        let g: &Arc<Gram> = &cal.input_gram[name];
        let energy = &cal.input_energy[name];
        let mean = energy.iter().sum::<f64>() / energy.len() as f64;
        // The weighted plan's column weights (sensitivity::axis_weights).
        let axes = AxisWeights {
            rows: None,
            cols: Some(energy.iter().map(|&v| (v + 1e-3 * mean) as f32).collect()),
        };
        let run = |gram: Option<Arc<Gram>>| {
            let plans = vec![TensorPlan::Pool {
                codec: "native".into(),
                weight: 1.0,
                axes: Some(axes.clone()),
                gram,
                keep: None,
            }];
            let c = tensorjpeg::compress_planned(
                std::slice::from_ref(t),
                &plans,
                Some(4.0),
                &tensorjpeg::default_registry(),
                &|_| {},
            )
            .unwrap();
            let y = tensorjpeg::decompress(&c.bytes).unwrap()[0]
                .values()
                .unwrap()
                .to_vec();
            (c.bytes.len(), y)
        };
        let x = t.values().unwrap();
        let (plain_len, plain) = run(None);
        let (fed_len, fed) = run(Some(g.clone()));
        assert!(
            (fed_len as f64) < plain_len as f64 * 1.005,
            "{name}: {fed_len} vs {plain_len} bytes"
        );
        let h = &held.input_gram[name];
        let (on_cal, off_cal) = (
            output_error(x, &fed, g) / output_error(x, &plain, g),
            output_error(x, &fed, h) / output_error(x, &plain, h),
        );
        println!("{name}: output error with feedback / without: calibration text {on_cal:.3}, held-out text {off_cal:.3}");
        assert!(
            on_cal < off_cal,
            "{name}: fits calibration better than held-out"
        );
        assert!(off_cal < 0.9, "{name}: held-out ratio {off_cal}");
    }
}
