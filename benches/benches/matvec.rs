//! The compute-format kernels (issue 17) beside candle's GGUF kernels and dense f32 gemm on
//! one synthetic 4096 × 4096 Gaussian matrix, batch 1: bytes of weights per second. One
//! matrix sits in L3 here; `tensorjpeg bench-matvec` measures as a token step sees it (all of
//! a model's matrices in turn) and is the figure docs/PERFORMANCE.md reports.
//!
//! `cargo bench -p tensorjpeg-bench --bench matvec` (`RAYON_NUM_THREADS=1` for one thread).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use tensorjpeg_kernels::{Format, Isa, QActs, QMatrix};

const N: usize = 4096;

fn bench_matvec(c: &mut Criterion) {
    let mut r = rand::rngs::StdRng::seed_from_u64(0);
    let d = Normal::new(0f32, 0.02).unwrap();
    let w: Vec<f32> = (0..N * N).map(|_| d.sample(&mut r)).collect();
    let x: Vec<f32> = (0..N).map(|_| d.sample(&mut r) * 50.0).collect();
    let dev = Device::Cpu;
    let wt = Tensor::from_slice(&w, (N, N), &dev).unwrap();
    let xt = Tensor::from_slice(&x, (1, N), &dev).unwrap();
    let mut g = c.benchmark_group("matvec_4096");
    g.sample_size(20);
    let dense = wt.t().unwrap().contiguous().unwrap();
    g.throughput(Throughput::Bytes((N * N * 4) as u64));
    g.bench_function("f32/gemm", |b| b.iter(|| xt.matmul(&dense).unwrap()));
    for (name, t) in [
        ("q4_0", GgmlDType::Q4_0),
        ("q4k", GgmlDType::Q4K),
        ("q8_0", GgmlDType::Q8_0),
    ] {
        let q = QTensor::quantize(&wt, t).unwrap();
        g.throughput(Throughput::Bytes(q.storage_size_in_bytes() as u64));
        let mm = QMatMul::from_qtensor(q).unwrap();
        g.bench_function(format!("candle/{name}"), |b| {
            b.iter(|| mm.forward(&xt).unwrap())
        });
    }
    for f in [Format::Q4_0, Format::Q4_1, Format::Nl4H, Format::Q8_0] {
        let m = QMatrix::quantize(&w, N, N, f, None).unwrap();
        g.throughput(Throughput::Bytes(m.bytes() as u64));
        let mut acts = QActs::default();
        let mut y = vec![0f32; N];
        for isa in [Isa::Avx2, Isa::Avx512Vnni]
            .into_iter()
            .filter(|i| i.available())
        {
            g.bench_function(format!("tensorjpeg/{f}/{}", isa.name()), |b| {
                b.iter(|| {
                    acts.fill(&x, 1, N, f.rotated());
                    m.matmul_acts(isa, &acts, &mut y).unwrap();
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_matvec);
criterion_main!(benches);
