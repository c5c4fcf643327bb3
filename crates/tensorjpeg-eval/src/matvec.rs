//! `bench-matvec`: matrix–vector products from every weight format on real matrices, as a
//! token step sees them — one pass multiplies every matrix of a set once (each with its own
//! input), so the weights stream from memory (or the shared L3) rather than sitting in L2.
//!
//! Formats: dense f32 and f16 (candle's gemm), candle's `QMatMul` with GGUF block types
//! (`q8_0`, `q4_0`, `q4_1`, `q4k`, `q3k` where the row length allows: K-quants need rows of
//! 256), and each compute format of `tensorjpeg-kernels` with each available kernel. Per
//! row: bits per weight, SNR of the format's weights against the set's values (a GGUF set's
//! values are its dequantized weights, so its own type is exact), ns per mat-vec (median
//! pass over the set / matrices), weight bytes read per second, threads and batch. The
//! thread count is the process's (`RAYON_NUM_THREADS`; candle fixes its pool at first use),
//! so the CLI runs one process per thread count and merges the rows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use regex::Regex;
use serde::{Deserialize, Serialize};
use tensorjpeg_kernels::{Format, Isa, QMatrix};
use tensorjpeg_models::compute::CandleThreads;

use crate::report::{self, plot, table};
use crate::Progress;

/// Where a set of matrices comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The 2-D tensors of a model file (GGUF, safetensors, .npy) whose names match.
    File {
        /// The file.
        path: PathBuf,
        /// Which tensors (regex on the name).
        include: Regex,
    },
    /// One `n × n` matrix of Gaussian values (seed 0).
    Synthetic(usize),
}

/// One matrix set.
#[derive(Clone, Debug)]
pub struct SetSpec {
    /// Its label in reports.
    pub label: String,
    /// The matrices.
    pub source: Source,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Config {
    /// The matrix sets.
    pub sets: Vec<SetSpec>,
    /// Row counts of the activation batch.
    pub batches: Vec<usize>,
    /// Peer formats (`f32`, `f16`, `q8_0`, `q4_0`, `q4_1`, `q4k`, `q3k`).
    pub peers: Vec<String>,
    /// Our compute formats.
    pub formats: Vec<Format>,
    /// Our kernels (those this CPU lacks are skipped).
    pub isas: Vec<Isa>,
    /// Least time spent timing one (set, format, batch), seconds (at least 3 passes).
    pub seconds: f64,
    /// The report folder (`None`: measure only).
    pub out: Option<PathBuf>,
}

impl Config {
    /// The defaults of `tensorjpeg bench-matvec` on the fetched assets.
    pub fn defaults(assets: &Path) -> Config {
        let file = |label: &str, rel: &str, re: &str| SetSpec {
            label: label.into(),
            source: Source::File {
                path: assets.join(rel),
                include: Regex::new(re).expect("valid"),
            },
        };
        let smol = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
        Config {
            sets: vec![
                file("smollm2", smol, r"^(blk\..*|token_embd)\.weight$"),
                file("smollm2:ffn_down", smol, r"ffn_down\.weight$"),
                file(
                    "minilm",
                    "minilm/model.safetensors",
                    r"^encoder\..*\.weight$",
                ),
                // The FFN output matrices (rows of 1536 = 6 × 256): where K-quants apply.
                file(
                    "minilm:ffn_out",
                    "minilm/model.safetensors",
                    r"^encoder\.layer\.\d+\.output\.dense\.weight$",
                ),
                SetSpec {
                    label: "synthetic-4096".into(),
                    source: Source::Synthetic(4096),
                },
            ],
            batches: vec![1],
            peers: ["f32", "f16", "q8_0", "q4_0", "q4_1", "q4k", "q3k"]
                .map(String::from)
                .to_vec(),
            formats: Format::ALL.to_vec(),
            isas: vec![Isa::detect()],
            seconds: 1.0,
            out: None,
        }
    }
}

/// One measured (set, format, kernel, threads, batch).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The matrix set.
    pub matrix: String,
    /// Matrices in the set (those the format accepts).
    pub matrices: usize,
    /// Weights in them.
    pub weights: usize,
    /// Weight format (`f32`, `candle:q4_1`, `q4_1`, `nl4h`, ...).
    pub format: String,
    /// What multiplies: `gemm` (candle dense), `candle` (QMatMul), or our kernel's ISA.
    pub kernel: String,
    /// Bits per weight, scales included.
    pub bits_per_weight: f64,
    /// SNR of the format's weights against the set's values, dB (`null` = exact).
    pub snr_db: Option<f64>,
    /// Threads.
    pub threads: usize,
    /// Activation rows per product.
    pub batch: usize,
    /// Median time of one product, averaged over the set's matrices, ns.
    pub ns_per_matvec: f64,
    /// Weight bytes read per second, GB/s.
    pub gbytes_per_s: f64,
}

struct Mat {
    name: String,
    rows: usize,
    cols: usize,
    values: Vec<f32>,
    /// The GGUF tensor, when the set comes from one.
    gguf: Option<QTensor>,
}

fn load_set(spec: &SetSpec) -> Result<Vec<Mat>> {
    match &spec.source {
        Source::Synthetic(n) => {
            let mut r = rand::rngs::StdRng::seed_from_u64(0);
            let d = Normal::new(0f32, 0.02).expect("valid");
            Ok(vec![Mat {
                name: format!("synthetic {n}x{n}"),
                rows: *n,
                cols: *n,
                values: (0..n * n).map(|_| d.sample(&mut r)).collect(),
                gguf: None,
            }])
        }
        Source::File { path, include } => {
            let is_gguf = path.extension().is_some_and(|e| e == "gguf");
            let mut out = Vec::new();
            if is_gguf {
                let mut f = std::fs::File::open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                let content = gguf_file::Content::read(&mut f)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut names: Vec<String> = content.tensor_infos.keys().cloned().collect();
                names.sort();
                for n in names.into_iter().filter(|n| include.is_match(n)) {
                    let q = content.tensor(&mut f, &n, &Device::Cpu)?;
                    let Ok((rows, cols)) = q.shape().dims2() else {
                        continue;
                    };
                    let values = q.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?;
                    out.push(Mat {
                        name: n,
                        rows,
                        cols,
                        values,
                        gguf: Some(q),
                    });
                }
            } else {
                for t in tensorjpeg_io::read_tensors(path)? {
                    if t.shape.len() != 2 || !include.is_match(&t.name) {
                        continue;
                    }
                    let Some(v) = t.values() else { continue };
                    out.push(Mat {
                        rows: t.shape[0],
                        cols: t.shape[1],
                        values: v.to_vec(),
                        name: t.name.clone(),
                        gguf: None,
                    });
                }
            }
            if out.is_empty() {
                bail!(
                    "{}: no 2-D tensor matches {} (set {})",
                    path.display(),
                    include.as_str(),
                    spec.label
                );
            }
            Ok(out)
        }
    }
}

/// A product over the whole set, ready to time.
trait Prepared {
    fn pass(&self, xs: &[Vec<f32>], batch: usize) -> Result<()>;
}

struct Dense(Vec<Tensor>, DType);
impl Prepared for Dense {
    fn pass(&self, xs: &[Vec<f32>], batch: usize) -> Result<()> {
        for (wt, x) in self.0.iter().zip(xs) {
            let cols = wt.dim(0)?;
            let x = Tensor::from_slice(&x[..batch * cols], (batch, cols), &Device::Cpu)?
                .to_dtype(self.1)?;
            std::hint::black_box(x.matmul(wt)?);
        }
        Ok(())
    }
}

struct Candle(Vec<(QMatMul, usize)>);
impl Prepared for Candle {
    fn pass(&self, xs: &[Vec<f32>], batch: usize) -> Result<()> {
        for ((q, cols), x) in self.0.iter().zip(xs) {
            let x = Tensor::from_slice(&x[..batch * cols], (batch, *cols), &Device::Cpu)?;
            std::hint::black_box(q.forward(&x)?);
        }
        Ok(())
    }
}

struct Ours(Vec<QMatrix>, Isa);
impl Prepared for Ours {
    fn pass(&self, xs: &[Vec<f32>], batch: usize) -> Result<()> {
        let mut y = Vec::new();
        for (m, x) in self.0.iter().zip(xs) {
            y.resize(batch * m.rows(), 0f32);
            // As a layer does: the activations quantized inside the timed pass, the rows on
            // the runtime's threads (candle's spinning pool).
            m.matmul_on(
                &CandleThreads,
                self.1,
                &x[..batch * m.cols()],
                batch,
                &mut y,
            )?;
            std::hint::black_box(&y);
        }
        Ok(())
    }
}

fn ggml_type(peer: &str) -> Option<GgmlDType> {
    Some(match peer {
        "q8_0" => GgmlDType::Q8_0,
        "q4_0" => GgmlDType::Q4_0,
        "q4_1" => GgmlDType::Q4_1,
        "q4k" => GgmlDType::Q4K,
        "q3k" => GgmlDType::Q3K,
        _ => return None,
    })
}

fn snr(mats: &[&Mat], back: impl Fn(usize) -> Result<Vec<f32>>) -> Result<Option<f64>> {
    let (mut s, mut e) = (0f64, 0f64);
    for (i, m) in mats.iter().enumerate() {
        let b = back(i)?;
        for (&x, &y) in m.values.iter().zip(&b) {
            s += (x as f64).powi(2);
            e += (x as f64 - y as f64).powi(2);
        }
    }
    Ok((e > 0.0).then(|| 10.0 * (s / e).log10()))
}

/// One candidate: its label, kernel, bits, SNR and the prepared product, over the matrices
/// it accepts.
struct Candidate {
    format: String,
    kernel: String,
    bits: f64,
    snr: Option<f64>,
    bytes: usize,
    idx: Vec<usize>,
    prepared: Box<dyn Prepared>,
}

fn peer(mats: &[Mat], name: &str) -> Result<Option<Candidate>> {
    let dev = Device::Cpu;
    if name == "f32" || name == "f16" {
        let dt = if name == "f32" {
            DType::F32
        } else {
            DType::F16
        };
        let mut ws = Vec::new();
        for m in mats {
            let w = Tensor::from_slice(&m.values, (m.rows, m.cols), &dev)?;
            ws.push(w.t()?.contiguous()?.to_dtype(dt)?);
        }
        let refs: Vec<&Mat> = mats.iter().collect();
        let snr = if dt == DType::F32 {
            None
        } else {
            snr(&refs, |i| {
                Ok(ws[i].to_dtype(DType::F32)?.t()?.flatten_all()?.to_vec1()?)
            })?
        };
        let per = if dt == DType::F32 { 4 } else { 2 };
        return Ok(Some(Candidate {
            format: name.into(),
            kernel: "gemm".into(),
            bits: per as f64 * 8.0,
            snr,
            bytes: mats.iter().map(|m| m.rows * m.cols * per).sum(),
            idx: (0..mats.len()).collect(),
            prepared: Box::new(Dense(ws, dt)),
        }));
    }
    let Some(t) = ggml_type(name) else {
        bail!("unknown peer format {name:?} (f32, f16, q8_0, q4_0, q4_1, q4k, q3k)");
    };
    let idx: Vec<usize> = (0..mats.len())
        .filter(|&i| mats[i].cols.is_multiple_of(t.block_size()))
        .collect();
    if idx.is_empty() {
        return Ok(None);
    }
    let mut qs = Vec::new();
    let mut backs = Vec::new();
    let mut bytes = 0;
    for &i in &idx {
        let m = &mats[i];
        let q = match &m.gguf {
            // The file's own blocks when it holds this type (llama.cpp's quantizer).
            Some(g) if g.dtype() == t => {
                let data = g.data()?.into_owned();
                QTensor::new(
                    candle_core::quantized::QStorage::from_data(
                        std::borrow::Cow::Owned(data),
                        &dev,
                        t,
                    )?,
                    (m.rows, m.cols),
                )?
            }
            _ => QTensor::quantize(&Tensor::from_slice(&m.values, (m.rows, m.cols), &dev)?, t)?,
        };
        bytes += q.storage_size_in_bytes();
        backs.push(q.dequantize(&dev)?.flatten_all()?.to_vec1::<f32>()?);
        qs.push((QMatMul::from_qtensor(q)?, m.cols));
    }
    let weights: usize = idx.iter().map(|&i| mats[i].rows * mats[i].cols).sum();
    let refs: Vec<&Mat> = idx.iter().map(|&i| &mats[i]).collect();
    let snr = snr(&refs, |k| Ok(backs[k].clone()))?;
    Ok(Some(Candidate {
        format: format!("candle:{name}"),
        kernel: "candle".into(),
        bits: bytes as f64 * 8.0 / weights as f64,
        snr,
        bytes,
        idx,
        prepared: Box::new(Candle(qs)),
    }))
}

fn ours(mats: &[Mat], format: Format) -> Result<Option<(QMatrices, Option<f64>)>> {
    let idx: Vec<usize> = (0..mats.len())
        .filter(|&i| mats[i].cols.is_multiple_of(32))
        .collect();
    if idx.is_empty() {
        return Ok(None);
    }
    let mut qs = Vec::new();
    for &i in &idx {
        let m = &mats[i];
        let exact = m.gguf.as_ref().and_then(|g| {
            tensorjpeg_models::compute::ComputeSpec::exact_format(g.dtype())
                .filter(|&f| f == format)
                .map(|_| g)
        });
        let q = match exact {
            Some(g) => QMatrix::from_blocks(format, m.rows, m.cols, g.data()?.into_owned()),
            None => QMatrix::quantize(&m.values, m.rows, m.cols, format, None),
        }
        .with_context(|| format!("{} as {format}", m.name))?;
        qs.push(q);
    }
    let refs: Vec<&Mat> = idx.iter().map(|&i| &mats[i]).collect();
    let snr = snr(&refs, |k| Ok(qs[k].dequantize()))?;
    Ok(Some((QMatrices { idx, qs }, snr)))
}

struct QMatrices {
    idx: Vec<usize>,
    qs: Vec<QMatrix>,
}

/// Times `prepared` over the inputs: warm-up, then passes until `seconds` and ≥ 3 passes;
/// the median pass, ns.
fn time_passes(p: &dyn Prepared, xs: &[Vec<f32>], batch: usize, seconds: f64) -> Result<f64> {
    p.pass(xs, batch)?;
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (start.elapsed().as_secs_f64() < seconds && times.len() < 1000) {
        let t = Instant::now();
        p.pass(xs, batch)?;
        times.push(t.elapsed().as_secs_f64() * 1e9);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Measures every (set, format, kernel, batch) at this process's thread count.
pub fn run(cfg: &Config, progress: &dyn Progress) -> Result<Vec<Row>> {
    let threads = rayon::current_num_threads();
    let mut rows = Vec::new();
    let maxb = cfg.batches.iter().copied().max().unwrap_or(1).max(1);
    for set in &cfg.sets {
        progress.message(&format!("{}: loading", set.label));
        let mats = load_set(set)?;
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        let nd = Normal::new(0f32, 1.0).expect("valid");
        let all_xs: Vec<Vec<f32>> = mats
            .iter()
            .map(|m| (0..maxb * m.cols).map(|_| nd.sample(&mut r)).collect())
            .collect();
        let mut cands: Vec<Candidate> = Vec::new();
        for p in &cfg.peers {
            if let Some(c) = peer(&mats, p)? {
                cands.push(c);
            }
        }
        for &f in &cfg.formats {
            let Some((q, snr)) = ours(&mats, f)? else {
                continue;
            };
            let bytes: usize = q.qs.iter().map(QMatrix::bytes).sum();
            for &isa in cfg.isas.iter().filter(|i| i.available()) {
                cands.push(Candidate {
                    format: f.name().into(),
                    kernel: isa.name().into(),
                    bits: f.bits_per_weight(),
                    snr,
                    bytes,
                    idx: q.idx.clone(),
                    prepared: Box::new(Ours(q.qs.clone(), isa)),
                });
            }
        }
        progress.phase(&set.label, cands.len() * cfg.batches.len());
        for c in &cands {
            let xs: Vec<Vec<f32>> = c.idx.iter().map(|&i| all_xs[i].clone()).collect();
            let weights: usize = c.idx.iter().map(|&i| mats[i].rows * mats[i].cols).sum();
            for &batch in &cfg.batches {
                progress.message(&format!("{} {} batch {batch}", set.label, c.format));
                let ns = time_passes(c.prepared.as_ref(), &xs, batch, cfg.seconds)?;
                rows.push(Row {
                    matrix: set.label.clone(),
                    matrices: c.idx.len(),
                    weights,
                    format: c.format.clone(),
                    kernel: c.kernel.clone(),
                    bits_per_weight: c.bits,
                    snr_db: c.snr,
                    threads,
                    batch,
                    ns_per_matvec: ns / c.idx.len() as f64,
                    gbytes_per_s: c.bytes as f64 / ns,
                });
                progress.advance(1);
            }
        }
    }
    if let Some(out) = &cfg.out {
        write_report(out, &rows)?;
    }
    Ok(rows)
}

/// Writes `results.json`, `results.csv`, `results.md` and one PNG per set (SNR against time
/// per mat-vec, batch 1, fewest threads).
pub fn write_report(out: &Path, rows: &[Row]) -> Result<()> {
    report::create_dir(out)?;
    let json = serde_json::to_vec_pretty(rows)?;
    report::write_atomic(&out.join("results.json"), &json)?;
    let vals: Vec<serde_json::Value> = rows
        .iter()
        .map(serde_json::to_value)
        .collect::<std::result::Result<_, _>>()?;
    let cols = [
        "matrix",
        "matrices",
        "weights",
        "format",
        "kernel",
        "bits_per_weight",
        "snr_db",
        "threads",
        "batch",
        "ns_per_matvec",
        "gbytes_per_s",
    ];
    report::write_atomic(
        &out.join("results.csv"),
        report::csv(&cols, &vals).as_bytes(),
    )?;
    report::write_atomic(&out.join("results.md"), markdown(rows).as_bytes())?;
    let mut sets: Vec<&str> = rows.iter().map(|r| r.matrix.as_str()).collect();
    sets.dedup();
    for set in sets {
        let min_t = rows
            .iter()
            .filter(|r| r.matrix == set)
            .map(|r| r.threads)
            .min()
            .unwrap_or(1);
        let series: Vec<plot::Series> = rows
            .iter()
            .filter(|r| r.matrix == set && r.batch == 1 && r.threads == min_t)
            .map(|r| plot::Series {
                label: format!("{} ({})", r.format, r.kernel),
                points: vec![(r.ns_per_matvec / 1000.0, r.snr_db.unwrap_or(60.0))],
            })
            .collect();
        let file = format!("matvec-{}.png", set.replace([':', '/'], "-"));
        plot::log_x(
            &out.join(file),
            &format!("{set}: mat-vec, batch 1, {min_t} thread(s) (exact shown at 60 dB)"),
            ("µs per mat-vec (log scale)", "SNR of the weights, dB"),
            &series,
        )?;
    }
    Ok(())
}

/// The Markdown table: per set, batch and threads, each format with its speed relative to
/// dense f32 and to candle's q4_0.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("# bench-matvec\n\n");
    let mut keys: Vec<(String, usize, usize)> = rows
        .iter()
        .map(|r| (r.matrix.clone(), r.batch, r.threads))
        .collect();
    keys.dedup();
    for (set, batch, threads) in keys {
        let grp: Vec<&Row> = rows
            .iter()
            .filter(|r| r.matrix == set && r.batch == batch && r.threads == threads)
            .collect();
        let base = |f: &str| grp.iter().find(|r| r.format == f).map(|r| r.ns_per_matvec);
        let (f32ns, q40ns) = (base("f32"), base("candle:q4_0"));
        out.push_str(&format!("## {set}, batch {batch}, {threads} thread(s)\n\n"));
        let body: Vec<Vec<String>> = grp
            .iter()
            .map(|r| {
                vec![
                    r.format.clone(),
                    r.kernel.clone(),
                    r.matrices.to_string(),
                    table::f(r.bits_per_weight, 2),
                    r.snr_db.map_or("exact".into(), |s| table::f(s, 2)),
                    table::f(r.ns_per_matvec / 1000.0, 1),
                    table::f(r.gbytes_per_s, 2),
                    f32ns.map_or("".into(), |b| table::f(b / r.ns_per_matvec, 2)),
                    q40ns.map_or("".into(), |b| table::f(b / r.ns_per_matvec, 2)),
                ]
            })
            .collect();
        out.push_str(&table::fenced(table::render(
            &[
                "format",
                "kernel",
                "matrices",
                "bits/w",
                "SNR dB",
                "µs/matvec",
                "GB/s",
                "× f32",
                "× candle q4_0",
            ],
            &body,
        )));
        out.push('\n');
    }
    out
}
