//! Exploration harness for the KLT codec's options on real MiniLM embeddings — the arrays
//! that `tensorjpeg embed-eval` caches (`OUT/embeddings/enwiki-6000x384-*.npy`,
//! `bible-web-*.npy`, `bible-kjv-*.npy`; directory `TJ_VEC_DIR`, default
//! `out/ee-enwiki/embeddings`). The measurement of record is `embed-eval`; this harness,
//! a bench target without a harness, sweeps options and times decoding:
//!
//! ```text
//! tensorjpeg embed-eval --dataset enwiki,bible --codecs float32 --out out/ee-enwiki
//! cargo bench -p tensorjpeg-eval --bench klt_options [-- enwiki|bible|decode]
//! ```
//!
//! Splits (deterministic, as `embed-eval`'s): enwiki, 6,000 sentences: row `i` is a query
//! when `i % 12 == 0` (500), fits the KLT when `i % 12 ∈ {1, 2}` (1,000), else is in the
//! database (4,500). Bible, 31,092 verse pairs: 2,000 evenly spaced pairs (`⌊t·N/2000⌋`) fit
//! the KLT (their KJV and WEB vectors), the other 29,092 are the evaluation: WEB query →
//! KJV database.
//!
//! `TJ_KLT_*` variables override options for exploration (`BUDGETS`, `EXPONENT`,
//! `ROUNDING`, `MIN_RATIO`, `BASIS`, `COARSE`, `SHORTLIST`); they exist only in this test.

use std::path::PathBuf;
use std::time::Instant;

use tensorjpeg::vectors::klt::*;
use tensorjpeg::vectors::retrieval::{
    brute_force_topk, mrr, neighbour_recall, rank_in, recall_at_k, spearman, BruteForce,
};
use tensorjpeg::vectors::VectorIndex;

fn data_dir() -> PathBuf {
    std::env::var_os("TJ_VEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../out/ee-enwiki/embeddings"),
        PathBuf::from,
    )
}

/// Reads the cached array whose file name starts with `prefix` (a 2-D f32 .npy file):
/// `(values, rows, cols)`.
fn read_npy(prefix: &str) -> Option<(Vec<f32>, usize, usize)> {
    let path = std::fs::read_dir(data_dir())
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".npy"))
        })?;
    let t = tensorjpeg_io::read_npy(&path).unwrap();
    let (rows, cols) = t.matrix_dims();
    Some((t.values()?.to_vec(), rows, cols))
}

fn rows(x: &[f32], d: usize, idx: impl Iterator<Item = usize>) -> Vec<f32> {
    idx.flat_map(|i| x[i * d..(i + 1) * d].iter().copied())
        .collect()
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(format!("TJ_KLT_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(target: f64) -> KltOptions {
    let d = KltOptions::default();
    KltOptions {
        bytes_per_vector: Some(target),
        exponent: env("EXPONENT", d.exponent),
        rounding: env("ROUNDING", d.rounding),
        min_ratio: env("MIN_RATIO", d.min_ratio),
        basis_precision: env("BASIS", d.basis_precision),
        coarse_components: env("COARSE", d.coarse_components),
        coarse_max_width: env("WIDTH", d.coarse_max_width),
        rdo_lambda: env("RDO", d.rdo_lambda),
        rdo_passes: env("RDOPASSES", d.rdo_passes),
        coarse_penalty: env("PENALTY", d.coarse_penalty),
        ..d
    }
}

fn budgets(default: &str) -> Vec<f64> {
    env("BUDGETS", default.to_string())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

/// Seconds per call of `f` (best of `reps` timings of one call each), wall clock.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`), or `None`.
fn thread_cpu() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}

/// Seconds per call of single-threaded `f`, best of `reps`: thread CPU time where the
/// kernel reports it (robust to other processes on a busy machine), else wall clock.
fn cpu_time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    if thread_cpu().is_none() {
        return time(reps, f);
    }
    (0..reps)
        .map(|_| {
            let t = thread_cpu().unwrap();
            std::hint::black_box(f());
            thread_cpu().unwrap() - t
        })
        .fold(f64::INFINITY, f64::min)
}

fn enwiki_neighbour_recall() {
    let Some((x, n, d)) = read_npy("enwiki-6000x") else {
        eprintln!(
            "skipped: {}/enwiki-6000x*.npy missing (run embed-eval first)",
            data_dir().display()
        );
        return;
    };
    let queries = rows(&x, d, (0..n).filter(|i| i % 12 == 0));
    let train = rows(&x, d, (0..n).filter(|i| matches!(i % 12, 1 | 2)));
    let base = rows(&x, d, (0..n).filter(|i| i % 12 > 2));
    let (nq, nb) = (queries.len() / d, base.len() / d);
    let truth = brute_force_topk(&base, &queries, d, 10).unwrap();
    let fit = KltFit::fit(&train, d).unwrap();
    let shortlist: usize = env("SHORTLIST", 100);
    let sopts = SearchOptions {
        shortlist,
        prefilter_bytes: env("PREBYTES", 0),
        prefilter_keep: env("PREKEEP", 0),
    };
    let shortlists: Vec<usize> = env("SHORTLISTS", "50,100,200,400".to_string())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    println!(
        "enwiki: {nq} queries, {nb} database, {} fit, dim {d}; options {:?}",
        train.len() / d,
        options(0.0)
    );
    println!("target  B/vec    k   m  cB  nR@10  fastR@10  ideal_b  coded_b  basis_B/v  side_B/v  len_B/v  spearman");
    let mut speed_ix = None;
    for target in budgets("32,48,64,80,96,128,160,192") {
        let ix = match fit.encode(&base, d, &options(target)) {
            Ok(ix) => ix,
            Err(e) => {
                println!("{target:6}  {e}");
                continue;
            }
        };
        let exact = ix.search_exact_batch(&queries, 10).unwrap();
        let fast = ix.search_batch(&queries, 10, &sopts).unwrap();
        // Experiment: rank by the cosine with the decoded vectors (renormalised).
        let mut dec = vec![0.0f32; nb * d];
        for (i, row) in dec.chunks_exact_mut(d).enumerate() {
            ix.decode(i, row).unwrap();
            let nrm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= nrm);
        }
        let renorm = brute_force_topk(&dec, &queries, d, 10).unwrap();
        println!(
            "        renormalised decoded vectors: nR@10 {:.3}",
            neighbour_recall(&renorm, &truth, 10)
        );
        let fasts: Vec<String> = shortlists
            .iter()
            .map(|&sl| {
                let o = SearchOptions {
                    shortlist: sl,
                    ..sopts
                };
                let f = ix.search_batch(&queries, 10, &o).unwrap();
                format!("{sl}:{:.3}", neighbour_recall(&f, &exact, 10))
            })
            .collect();
        let st = ix.stats().unwrap();
        // Pair ranking: similarities of 20,000 (query, database) pairs.
        let s32: Vec<f64> = (0..20_000)
            .map(|t| {
                let (qi, bi) = (t % nq, (t * 7919) % nb);
                let q = &queries[qi * d..(qi + 1) * d];
                f64::from(
                    q.iter()
                        .zip(&base[bi * d..(bi + 1) * d])
                        .map(|(a, b)| a * b)
                        .sum::<f32>(),
                )
            })
            .collect();
        let mut xb = vec![0.0f32; d];
        let sc: Vec<f64> = (0..20_000)
            .map(|t| {
                let (qi, bi) = (t % nq, (t * 7919) % nb);
                ix.decode(bi, &mut xb).unwrap();
                let q = &queries[qi * d..(qi + 1) * d];
                f64::from(q.iter().zip(&xb).map(|(a, b)| a * b).sum::<f32>())
            })
            .collect();
        println!(
            "{target:6} {:6.2} {:4} {:3} {:3} {:6.3} {:8.3} {:8.1} {:8.1} {:9.2} {:9.2} {:8.2} {:9.4}",
            ix.bytes_per_vector(),
            st.k,
            st.m,
            st.coarse_bytes,
            neighbour_recall(&exact, &truth, 10),
            neighbour_recall(&fast, &truth, 10),
            st.ideal_bits_per_vector,
            st.coded_bits_per_vector,
            st.basis_bytes as f64 / nb as f64,
            st.side_bytes as f64 / nb as f64,
            st.length_bytes as f64 / nb as f64,
            spearman(&s32, &sc).unwrap(),
        );
        println!(
            "        fast search vs exact compressed search, by shortlist: {}",
            fasts.join(" ")
        );
        if (target - 96.0).abs() < 1e-9 || speed_ix.is_none() {
            speed_ix = Some(ix);
        }
    }
    let Some(ix) = speed_ix else { return };
    if env("NOSPEED", 0) == 1 {
        return;
    }
    speed(&ix, &base, &queries, d, &sopts);
}

fn bible_paraphrase_recall() {
    let (Some((web, n, d)), Some((kjv, n2, _))) = (read_npy("bible-web-"), read_npy("bible-kjv-"))
    else {
        eprintln!(
            "skipped: {}/bible-{{web,kjv}}-*.npy missing (run embed-eval first)",
            data_dir().display()
        );
        return;
    };
    assert_eq!(n, n2);
    let held: Vec<usize> = (0..2000).map(|t| t * n / 2000).collect();
    let mut is_held = vec![false; n];
    held.iter().for_each(|&i| is_held[i] = true);
    let eval: Vec<usize> = (0..n).filter(|&i| !is_held[i]).collect();
    let train: Vec<f32> = rows(&kjv, d, held.iter().copied())
        .into_iter()
        .chain(rows(&web, d, held.iter().copied()))
        .collect();
    // TJ_KLT_QSTEP > 1 evaluates every QSTEP-th query only (quicker sweeps); the
    // database is always complete.
    let qstep: usize = env("QSTEP", 1);
    let qidx: Vec<usize> = (0..eval.len()).step_by(qstep.max(1)).collect();
    let queries = rows(&web, d, qidx.iter().map(|&t| eval[t]));
    let base = rows(&kjv, d, eval.iter().copied());
    let ne = eval.len();
    let relevant: Vec<u32> = qidx.iter().map(|&t| t as u32).collect();
    let report = |name: &str, bpv: f64, res: &[Vec<u32>]| {
        let ranks: Vec<_> = res
            .iter()
            .zip(&relevant)
            .map(|(r, &t)| rank_in(r, t))
            .collect();
        println!(
            "{name:>12} {bpv:7.2}  R@1 {:.4}  R@10 {:.4}  MRR@10 {:.4}",
            recall_at_k(res, &relevant, 1),
            recall_at_k(res, &relevant, 10),
            mrr(&ranks)
        );
    };
    println!(
        "bible: {} WEB queries → {ne} KJV database, KLT fitted on {} held-out pairs (both translations); {:?}",
        qidx.len(),
        held.len(),
        options(0.0)
    );
    let truth = brute_force_topk(&base, &queries, d, 10).unwrap();
    report("float32", 4.0 * d as f64, &truth);
    let fit = KltFit::fit(&train, d).unwrap();
    for target in budgets("16,24,32,48,64,96") {
        match fit.encode(&base, d, &options(target)) {
            Ok(ix) => {
                let res = ix.search_exact_batch(&queries, 10).unwrap();
                report(&format!("klt@{target}"), ix.bytes_per_vector(), &res);
                if ix.coarse_components() > 0 {
                    let sopts = SearchOptions::shortlist(env("SHORTLIST", 50));
                    let fast = ix.search_batch(&queries, 10, &sopts).unwrap();
                    report(
                        &format!("  fast{}", sopts.shortlist),
                        ix.bytes_per_vector(),
                        &fast,
                    );
                    if (target - env("SPEEDAT", 64.0)).abs() < 1e-9 {
                        speed(&ix, &base, &queries, d, &sopts);
                    }
                }
                let st = ix.stats().unwrap();
                println!(
                    "             k {} m {} coarse {} B, side {:.2} basis {:.2} lengths {:.2} B/vector, coded {:.1} bits vs ideal {:.1}",
                    st.k,
                    st.m,
                    st.coarse_bytes,
                    st.side_bytes as f64 / ne as f64,
                    st.basis_bytes as f64 / ne as f64,
                    st.length_bytes as f64 / ne as f64,
                    st.coded_bits_per_vector,
                    st.ideal_bits_per_vector
                );
            }
            Err(e) => println!("klt@{target}: {e}"),
        }
    }
}

fn enwiki_decode_loop() {
    let Some((x, n, d)) = read_npy("enwiki-6000x") else {
        return;
    };
    let train = rows(&x, d, (0..n).filter(|i| matches!(i % 12, 1 | 2)));
    let base = rows(&x, d, (0..n).filter(|i| i % 12 > 2));
    let nb = base.len() / d;
    let fit = KltFit::fit(&train, d).unwrap();
    let ix = fit.encode(&base, d, &options(env("BUDGET", 96.0))).unwrap();
    let k = ix.components();
    let mut q = vec![0i32; 4 * k];
    let all: Vec<usize> = (0..nb).collect();
    let reps = env("REPS", 50);
    let t = cpu_time(1, || {
        for _ in 0..reps {
            for g in all.chunks(4) {
                ix.indices_group(g, &mut q[..g.len() * k]).unwrap();
            }
        }
    });
    println!(
        "decode {:.3} µs/vector, k {k}",
        t * 1e6 / (reps * nb) as f64
    );
    // Where the last non-zero component sits, and how many components are non-zero.
    let (mut last, mut nz) = (0usize, 0usize);
    let mut one = vec![0i32; k];
    for i in 0..nb {
        ix.indices(i, &mut one).unwrap();
        last += one.iter().rposition(|&v| v != 0).map_or(0, |p| p + 1);
        nz += one.iter().filter(|&&v| v != 0).count();
    }
    println!(
        "mean last non-zero component {:.1}, non-zeros {:.1} of {k}",
        last as f64 / nb as f64,
        nz as f64 / nb as f64
    );
}

/// Speed, same machine, same run: one query at a time (one thread each; thread CPU time)
/// and 1,000 queries batched (all cores; wall clock), float32 brute force against the
/// index's two-stage search.
fn speed(ix: &KltIndex, base: &[f32], queries: &[f32], d: usize, sopts: &SearchOptions) {
    let nb = base.len() / d;
    let nq = (queries.len() / d).min(500);
    let queries = &queries[..nq * d];
    let q1000: Vec<f32> = queries.iter().cycle().take(1000 * d).copied().collect();
    let reps = 3;
    let bf = BruteForce::new(base, d).unwrap();
    let bf1 = cpu_time(reps, || {
        for q in queries.chunks_exact(d) {
            bf.topk(q, 10).unwrap();
        }
    }) / nq as f64;
    let kl1 = cpu_time(reps, || {
        for q in queries.chunks_exact(d) {
            ix.search(q, 10, sopts).unwrap();
        }
    }) / nq as f64;
    let bfb = time(reps, || bf.topk(&q1000, 10).unwrap());
    let klb = time(reps, || ix.search_batch(&q1000, 10, sopts).unwrap());
    let exb = time(1, || ix.search_exact_batch(&q1000, 10).unwrap());
    let dec1 = cpu_time(reps, || ix.validate().unwrap()) / nb as f64;
    let mut qbuf = vec![0i32; 4 * ix.components()];
    let dec = cpu_time(reps, || {
        let all: Vec<usize> = (0..nb).collect();
        for g in all.chunks(4) {
            ix.indices_group(g, &mut qbuf[..g.len() * ix.components()])
                .unwrap();
        }
    }) / nb as f64;
    let q0 = &queries[..d];
    let scan = cpu_time(3, || {
        for _ in 0..100 {
            ix.search(
                q0,
                10,
                &SearchOptions {
                    shortlist: 10,
                    ..*sopts
                },
            )
            .unwrap();
        }
    }) / 100.0;
    println!(
        "decode {:.2} µs/vector one at a time, {:.2} µs four in lockstep ({:.1} ns/component); coarse-only search (shortlist 10) {:.1} µs",
        dec1 * 1e6,
        dec * 1e6,
        dec * 1e9 / ix.components() as f64,
        scan * 1e6
    );
    println!(
        "speed at {:.1} B/vector, {sopts:?}: single query float32 {:.1} µs, klt {:.1} µs ({:.2}×); \
         1000 queries float32 {:.1} ms ({:.0} q/s), klt {:.1} ms ({:.0} q/s, {:.2}×), klt decode-all {:.1} ms",
        ix.bytes_per_vector(),
        bf1 * 1e6,
        kl1 * 1e6,
        bf1 / kl1,
        bfb * 1e3,
        1000.0 / bfb,
        klb * 1e3,
        1000.0 / klb,
        bfb / klb,
        exb * 1e3
    );
}

/// Runs the experiments named on the command line (`enwiki`, `bible`, `decode`; all by
/// default). Flags cargo passes (`--bench`) are ignored.
fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    if run("enwiki") {
        enwiki_neighbour_recall();
    }
    if run("bible") {
        bible_paraphrase_recall();
    }
    if run("decode") {
        enwiki_decode_loop();
    }
}
