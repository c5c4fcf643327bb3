//! Encode/decode throughput in bytes of f32-equivalent data per second, for each transform
//! of the native codec, one core and all cores, beside zstd and candle's Q4_0 in the same run.
//! `cargo bench -p tensorjpeg-bench` (filter with e.g. `-- native/identity`).

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor as CTensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tensorjpeg::entropy;
use tensorjpeg::{default_registry, Codec, Rate};
use tensorjpeg_bench::{matrix, SHAPE};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn bench_native(c: &mut Criterion) {
    let (m, src) = matrix();
    eprintln!("benchmark matrix: {src}");
    let shape = [SHAPE.0, SHAPE.1];
    let bytes = (m.len() * 4) as u64;
    let reg = default_registry();
    let all = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut g = c.benchmark_group("native");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    for spec in [
        "native",
        "native:dct8x8",
        "native:dct1d",
        "native:hadamard",
        "native:wavelet",
        "native:klt",
    ] {
        let codec: Box<dyn Codec> = reg.build(spec).unwrap();
        let enc = codec.encode(&m, &shape, Rate::Quality(75)).unwrap();
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        for threads in [1, all] {
            let p = pool(threads);
            g.bench_function(
                BenchmarkId::new(format!("{spec}/encode"), format!("{threads}t")),
                |b| b.iter(|| p.install(|| codec.encode(&m, &shape, Rate::Quality(75)).unwrap())),
            );
            g.bench_function(
                BenchmarkId::new(format!("{spec}/decode"), format!("{threads}t")),
                |b| b.iter(|| p.install(|| codec.decode(&enc.params, &chunks, &shape).unwrap())),
            );
        }
    }
    g.finish();
}

fn bench_entropy(c: &mut Criterion) {
    // The symbols the identity codec codes at quality 75 (~4 bits/value).
    let (m, _) = matrix();
    let rms = (m.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / m.len() as f64).sqrt();
    let q = tensorjpeg::quant::Quantizer::uniform((rms * 0.25) as f32);
    let mut idx = vec![0i32; m.len()];
    q.quantize(&m, &mut idx);
    let mut w = tensorjpeg::bytes::ByteWriter::new();
    entropy::encode(&idx, &mut w);
    let seg = w.into_inner();
    let lo = *idx.iter().min().unwrap();
    let hi = *idx.iter().max().unwrap();
    let sym: Vec<u16> = idx.iter().map(|&v| (v - lo) as u16).collect();
    let mut counts = vec![0u64; (hi - lo + 1) as usize];
    for &s in &sym {
        counts[s as usize] += 1;
    }
    let table = entropy::model::FreqTable::from_counts(&counts, 12).unwrap();
    let cwords = tensorjpeg_bench::constriction::encode(&sym, &table);
    let mut g = c.benchmark_group("entropy");
    g.throughput(Throughput::Elements(m.len() as u64));
    g.sample_size(10);
    g.bench_function("rans/encode", |b| {
        b.iter(|| {
            let mut w = tensorjpeg::bytes::ByteWriter::new();
            entropy::encode(&idx, &mut w);
            w
        })
    });
    g.bench_function("rans/decode", |b| {
        let mut out = vec![0i32; idx.len()];
        b.iter(|| {
            entropy::decode(
                &mut tensorjpeg::bytes::ByteReader::new(&seg, "bench"),
                &mut out,
            )
            .unwrap()
        })
    });
    if let Ok(words) = cwords {
        g.bench_function("constriction/encode", |b| {
            b.iter(|| tensorjpeg_bench::constriction::encode(&sym, &table).unwrap())
        });
        g.bench_function("constriction/decode", |b| {
            let mut out = vec![0u16; sym.len()];
            b.iter(|| {
                tensorjpeg_bench::constriction::decode(words.clone(), &table, &mut out).unwrap()
            })
        });
    }
    g.finish();
}

fn bench_peers(c: &mut Criterion) {
    let (m, _) = matrix();
    let bytes: Vec<u8> = m.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut g = c.benchmark_group("peers");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    let z = zstd::bulk::compress(&bytes, 3).unwrap();
    g.bench_function("zstd3/encode", |b| {
        b.iter(|| zstd::bulk::compress(&bytes, 3).unwrap())
    });
    g.bench_function("zstd3/decode", |b| {
        b.iter(|| zstd::bulk::decompress(&z, bytes.len()).unwrap())
    });
    let t = CTensor::from_slice(&m, (SHAPE.0, SHAPE.1), &Device::Cpu).unwrap();
    let qt = QTensor::quantize(&t, GgmlDType::Q4_0).unwrap();
    g.bench_function("candle-q4_0/encode", |b| {
        b.iter(|| QTensor::quantize(&t, GgmlDType::Q4_0).unwrap())
    });
    g.bench_function("candle-q4_0/decode", |b| {
        b.iter(|| qt.dequantize(&Device::Cpu).unwrap())
    });
    let ours = default_registry().build("q4_0").unwrap();
    let enc = ours.encode(&m, &[SHAPE.0, SHAPE.1], Rate::Default).unwrap();
    let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
    g.bench_function("q4_0/encode", |b| {
        b.iter(|| ours.encode(&m, &[SHAPE.0, SHAPE.1], Rate::Default).unwrap())
    });
    g.bench_function("q4_0/decode", |b| {
        b.iter(|| {
            ours.decode(&enc.params, &chunks, &[SHAPE.0, SHAPE.1])
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_entropy, bench_native, bench_peers);
criterion_main!(benches);
