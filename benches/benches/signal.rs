//! Signal-codec stages (issue 7): the N-D wavelet packet transform on a real photo, beside
//! its scalar reference, MS-SSIM, and the whole codec's encode/decode beside real JPEG. Throughput in pixels (megapixels/s = pixels/s ÷ 10⁶,
//! all channels of a pixel together, as WaLLoC reports it).
//!
//! `cargo bench -p tensorjpeg-bench --bench signal` (run `scripts/fetch-assets.sh` first for
//! assets/images/astronaut.png; without it the bench stops, unless
//! `TENSORJPEG_BENCH_SYNTHETIC=1` asks for a synthetic 3 × 512 × 512 image).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tensorjpeg::ssim::ms_ssim;
use tensorjpeg::transform::wpt;

/// astronaut.png as `[3, 512, 512]` values in 0..=255 (a synthetic image of that shape only
/// with `TENSORJPEG_BENCH_SYNTHETIC=1`).
fn photo() -> (Vec<f32>, Vec<usize>) {
    let path = tensorjpeg_bench::assets().join("images/astronaut.png");
    match tensorjpeg_io::read_image(&path) {
        Ok(s) => (s.values, s.shape),
        Err(e) => {
            tensorjpeg_bench::missing(&path.display().to_string(), &e.to_string());
            let v = (0..3 * 512 * 512)
                .map(|i| {
                    let (c, y, x) = (i / (512 * 512), (i / 512) % 512, i % 512);
                    128.0 + 100.0 * ((x as f32 * 0.05 + c as f32).sin() * (y as f32 * 0.03).cos())
                })
                .collect();
            (v, vec![3, 512, 512])
        }
    }
}

fn bench_wpt(c: &mut Criterion) {
    let (x, shape) = photo();
    let pixels = (shape[1] * shape[2]) as u64;
    let mut g = c.benchmark_group("wpt_3x512x512");
    g.throughput(Throughput::Elements(pixels));
    g.sample_size(20);
    for levels in [1usize, 3] {
        let (y, ys) = wpt::forward(&x, &shape, levels).expect("forward");
        g.bench_function(format!("forward/J={levels}"), |b| {
            b.iter(|| wpt::forward(&x, &shape, levels).expect("forward"))
        });
        g.bench_function(format!("inverse/J={levels}"), |b| {
            b.iter(|| wpt::inverse(&y, &ys, levels).expect("inverse"))
        });
    }
    g.bench_function("forward_reference/J=3", |b| {
        b.iter(|| wpt::forward_reference(&x, &shape, 3).expect("reference"))
    });
    g.finish();
}

fn bench_ms_ssim(c: &mut Criterion) {
    let (x, shape) = photo();
    let y: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| (v + ((i * 7919 % 13) as f32 - 6.0)).clamp(0.0, 255.0))
        .collect();
    let mut g = c.benchmark_group("ms_ssim_3x512x512");
    g.throughput(Throughput::Elements((shape[1] * shape[2]) as u64));
    g.sample_size(10);
    let s = [shape[0], shape[1], shape[2]];
    g.bench_function("ms_ssim", |b| {
        b.iter(|| ms_ssim(&x, &y, s, 255.0).expect("ms_ssim"))
    });
    g.finish();
}

/// The whole codec (WPT → projection → quantizer → lossless coder) on astronaut, with a
/// basis fitted on the photo itself (fitting is not timed), beside real JPEG in the same run.
fn bench_codec(c: &mut Criterion) {
    use tensorjpeg::signal::basis::SignalBasis;
    use tensorjpeg::signal::codec::{self, LatentCoder, Quantizer};
    use tensorjpeg::signal::latent_image::LatentImageCodec;
    use tensorjpeg_eval::signal::peers;
    let (x, shape) = photo();
    let full = SignalBasis::fit(&[(&x, &shape)], 3, 192).expect("fit");
    let mut g = c.benchmark_group("signal_codec_3x512x512");
    g.throughput(Throughput::Elements((shape[1] * shape[2]) as u64));
    g.sample_size(20);
    let configs = [
        (
            "walloc-linear k=12 gaussian webp-lossless",
            12,
            Quantizer::Gaussian { gain: 0.05 },
            LatentCoder::Image(LatentImageCodec::WebpLossless),
        ),
        (
            "k=12 uniform rans",
            12,
            Quantizer::Uniform { step: 8.0 },
            LatentCoder::Rans,
        ),
        (
            "k=48 uniform rans",
            48,
            Quantizer::Uniform { step: 8.0 },
            LatentCoder::Rans,
        ),
        (
            "k=192 uniform rans",
            192,
            Quantizer::Uniform { step: 8.0 },
            LatentCoder::Rans,
        ),
    ];
    for (name, k, q, coder) in configs {
        let b = full.truncate(k).expect("truncate");
        let f = codec::encode(&b, &x, &shape, q, coder).expect("encode");
        g.bench_function(format!("encode/{name}"), |bn| {
            bn.iter(|| codec::encode(&b, &x, &shape, q, coder).expect("encode"))
        });
        g.bench_function(format!("decode/{name}"), |bn| {
            bn.iter(|| codec::decode(&b, &f).expect("decode"))
        });
    }
    let s3 = [shape[0], shape[1], shape[2]];
    let j = peers::jpeg_encode(&x, s3, 75).expect("jpeg");
    g.bench_function("encode/jpeg q75", |bn| {
        bn.iter(|| peers::jpeg_encode(&x, s3, 75).expect("jpeg"))
    });
    g.bench_function("decode/jpeg q75", |bn| {
        bn.iter(|| peers::jpeg_decode(&j, s3).expect("jpeg"))
    });
    g.finish();
}

criterion_group!(benches, bench_wpt, bench_ms_ssim, bench_codec);
criterion_main!(benches);
