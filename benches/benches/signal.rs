//! Signal-codec stages (issue 7): the N-D wavelet packet transform on a real photo, beside
//! its scalar reference, and MS-SSIM. Throughput in pixels (megapixels/s = pixels/s ÷ 10⁶,
//! all channels of a pixel together, as WaLLoC reports it).
//!
//! `cargo bench -p tensorjpeg-bench --bench signal` (run `scripts/fetch-assets.sh` first for
//! assets/images/astronaut.png; without it a synthetic 3 × 512 × 512 image is used).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tensorjpeg::ssim::ms_ssim;
use tensorjpeg::transform::wpt;

/// astronaut.png as `[3, 512, 512]` values in 0..=255, or a synthetic image of that shape.
fn photo() -> (Vec<f32>, Vec<usize>) {
    let dir = std::env::var("TENSORJPEG_ASSETS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../assets").to_string());
    let path = std::path::Path::new(&dir).join("images/astronaut.png");
    match tensorjpeg_io::read_image(&path) {
        Ok(s) => (s.values, s.shape),
        Err(e) => {
            eprintln!("{e}: using a synthetic 3 × 512 × 512 image");
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

criterion_group!(benches, bench_wpt, bench_ms_ssim);
criterion_main!(benches);
