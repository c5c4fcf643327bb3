//! Tests of the KLT collection codec on synthetic data (deterministic, fast).

use super::*;
use crate::kernels::top_k;
use crate::rng::SplitMix64;
use crate::vectors::retrieval::{brute_force_topk, neighbour_recall};

/// SplitMix64 → standard normal (Box–Muller), deterministic.
struct Gauss(SplitMix64);
impl Gauss {
    fn u(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn n(&mut self) -> f64 {
        (-2.0 * self.u().ln()).sqrt() * (std::f64::consts::TAU * self.u()).cos()
    }
}

/// `rows` unit vectors of dimension `dim` with a decaying spectrum (latent factors with
/// standard deviation `1/(1+t/4)` mixed by a fixed random matrix) and a common offset, like
/// sentence embeddings.
pub(super) fn embeddings(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut g = Gauss(SplitMix64(0xC0FFEE));
    let mix: Vec<f64> = (0..dim * dim)
        .map(|_| g.n() / (dim as f64).sqrt())
        .collect();
    let offset: Vec<f64> = (0..dim)
        .map(|_| 0.5 * g.n() / (dim as f64).sqrt())
        .collect();
    let mut g = Gauss(SplitMix64(seed));
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let lat: Vec<f64> = (0..dim).map(|t| g.n() / (1.0 + t as f64 / 4.0)).collect();
        let mut x: Vec<f64> = offset.clone();
        for (t, &l) in lat.iter().enumerate() {
            for (xi, &m) in x.iter_mut().zip(&mix[t * dim..(t + 1) * dim]) {
                *xi += l * m;
            }
        }
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        out.extend(x.iter().map(|v| (v / norm) as f32));
    }
    out
}

const DIM: usize = 48;

fn small_index(opts: &KltOptions) -> (Vec<f32>, KltIndex) {
    let train = embeddings(300, DIM, 1);
    let base = embeddings(400, DIM, 2);
    let fit = KltFit::fit(&train, DIM).unwrap();
    let ix = fit.encode(&base, DIM, opts).unwrap();
    (base, ix)
}

#[test]
fn round_trip_serialization_and_sizes() {
    let opts = KltOptions {
        step: 0.01,
        coarse_components: 8,
        ..KltOptions::default()
    };
    let (base, ix) = small_index(&opts);
    ix.validate().unwrap();
    let bytes = ix.to_bytes();
    assert_eq!(bytes.len(), ix.total_bytes());
    let back = KltIndex::from_bytes(&bytes).unwrap();
    assert_eq!(back, ix);
    // Decoded vectors are close to the originals (relative squared error).
    let mut err = 0.0f64;
    let mut energy = 0.0f64;
    let mut out = vec![0.0f32; DIM];
    for i in 0..ix.len() {
        back.decode(i, &mut out).unwrap();
        for (a, b) in out.iter().zip(&base[i * DIM..(i + 1) * DIM]) {
            err += f64::from(a - b).powi(2);
            energy += f64::from(*b).powi(2);
        }
    }
    assert!(err / energy < 0.02, "relative error {}", err / energy);
    let st = ix.stats().unwrap();
    assert_eq!(st.total_bytes, bytes.len());
    assert_eq!(
        st.side_bytes + st.basis_bytes + st.length_bytes + st.coarse_total + st.stream_bytes,
        st.total_bytes
    );
    // Real coding within a few bits per vector plus the models' mismatch of ideal.
    assert!(
        st.coded_bits_per_vector < st.ideal_bits_per_vector * 1.15 + 16.0,
        "{st:?}"
    );
}

#[test]
fn scores_equal_dot_with_decoded_vectors() {
    let (_, ix) = small_index(&KltOptions::default());
    let queries = embeddings(5, DIM, 3);
    let mut s = vec![0.0f32; ix.len()];
    let mut x = vec![0.0f32; DIM];
    for q in queries.chunks_exact(DIM) {
        ix.scores(q, &mut s).unwrap();
        for (i, &si) in s.iter().enumerate() {
            ix.decode(i, &mut x).unwrap();
            let want: f32 = q.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!((si - want).abs() < 1e-4, "vector {i}: {si} vs {want}");
        }
    }
}

#[test]
fn fast_search_agrees_with_reference_and_exact() {
    let (base, ix) = small_index(&KltOptions {
        step: 0.015,
        coarse_components: 12,
        ..KltOptions::default()
    });
    let queries = embeddings(20, DIM, 4);
    let exact = ix.search_exact_batch(&queries, 10).unwrap();
    let mut s = vec![0.0f32; ix.len()];
    for (t, q) in queries.chunks_exact(DIM).enumerate() {
        ix.scores(q, &mut s).unwrap();
        let full = top_k(&s, 10);
        // Every candidate rescored: exact compressed-domain search.
        let all = SearchOptions::shortlist(ix.len());
        assert_eq!(ix.search(q, 10, &all).unwrap(), full);
        // A prefilter that keeps everything changes nothing.
        let pre = SearchOptions {
            shortlist: 40,
            prefilter_bytes: 2,
            prefilter_keep: ix.len(),
        };
        assert_eq!(
            ix.search(q, 10, &pre).unwrap(),
            ix.search(q, 10, &SearchOptions::shortlist(40)).unwrap()
        );
        assert_eq!(
            neighbour_recall(
                std::slice::from_ref(&exact[t]),
                std::slice::from_ref(&full),
                10
            ),
            1.0
        );
        // Table-driven coarse pass = field-by-field reference.
        for sl in [10usize, 40] {
            assert_eq!(
                ix.search(q, 10, &SearchOptions::shortlist(sl)).unwrap(),
                ix.search_reference(q, 10, sl).unwrap()
            );
        }
    }
    // The rounded tables approximate the float coarse score within half a step per byte.
    for q in queries.chunks_exact(DIM).take(3) {
        let rot = ix.rotate(q).unwrap();
        let tables = ix.coarse_tables(&rot.qr);
        let t8 = KltIndex::coarse_tables_u8(&tables);
        let m = tables.len();
        let lo: f32 = tables
            .iter()
            .map(|t| t.iter().copied().fold(f32::INFINITY, f32::min))
            .sum();
        let range = tables
            .iter()
            .map(|t| {
                let (a, b) = t
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                b - a
            })
            .fold(0.0f32, f32::max);
        let step = range / 255.0;
        let cb = ix.coarse_bytes();
        for i in (0..ix.len()).step_by(7) {
            let codes = &ix.coarse[i * cb..(i + 1) * cb];
            let sum: u32 = (0..m)
                .map(|t| u32::from(t8[t * 256 + codes[t] as usize]))
                .sum();
            let approx = rot.s0 + lo + step * sum as f32;
            let want = ix.coarse_score_fields(q, i).unwrap();
            assert!(
                (approx - want).abs() <= 0.5 * step * m as f32 + 1e-4,
                "vector {i}: {approx} vs {want} (step {step}, {m} bytes)"
            );
        }
    }
    // A shortlist of 25 % keeps almost all of the exact compressed top-10, and the
    // compressed search finds most of the float32 neighbours.
    let fast = ix
        .search_batch(&queries, 10, &SearchOptions::shortlist(100))
        .unwrap();
    assert!(neighbour_recall(&fast, &exact, 10) >= 0.95);
    let truth = brute_force_topk(&base, &queries, DIM, 10).unwrap();
    assert!(neighbour_recall(&exact, &truth, 10) >= 0.8);
}

#[test]
fn rate_control_meets_targets() {
    let train = embeddings(300, DIM, 5);
    let base = embeddings(600, DIM, 6);
    let fit = KltFit::fit(&train, DIM).unwrap();
    let mut last = 0.0;
    for target in [16.0, 32.0, 48.0] {
        let opts = KltOptions {
            bytes_per_vector: Some(target),
            coarse_components: 6,
            ..KltOptions::default()
        };
        let ix = fit.encode(&base, DIM, &opts).unwrap();
        let got = ix.bytes_per_vector();
        assert!(got <= target && got > 0.85 * target, "{target}: {got}");
        assert!(got > last);
        last = got;
    }
    // Unreachable: smaller than the side information.
    let opts = KltOptions {
        bytes_per_vector: Some(0.5),
        ..KltOptions::default()
    };
    assert!(fit.encode(&base, DIM, &opts).is_err());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let train = embeddings(50, DIM, 7);
    let fit = KltFit::fit(&train, DIM).unwrap();
    let o = KltOptions::default();
    let msg = |r: Result<KltIndex>| r.unwrap_err().to_string();
    assert!(msg(fit.encode(&[], DIM, &o)).contains("empty"));
    let mut nan = embeddings(3, DIM, 8);
    nan[5] = f32::NAN;
    assert!(msg(fit.encode(&nan, DIM, &o)).contains("non-finite"));
    assert!(KltFit::fit(&nan, DIM).is_err());
    assert!(KltFit::fit(&[], DIM).is_err());
    // A basis fitted on another dimension.
    let other = embeddings(3, 32, 9);
    assert!(msg(fit.encode(&other, 32, &o)).contains("fitted on dimension 48"));
    // Bad options.
    let bad = KltOptions {
        rounding: 0.9,
        ..KltOptions::default()
    };
    assert!(fit.encode(&train, DIM, &bad).is_err());
    // Queries of the wrong dimension or with NaN.
    let ix = fit.encode(&train, DIM, &o).unwrap();
    let mut s = vec![0.0f32; ix.len()];
    assert!(ix.scores(&[1.0; 47], &mut s).is_err());
    let mut q = vec![0.1f32; DIM];
    q[3] = f32::INFINITY;
    assert!(ix.scores(&q, &mut s).is_err());
    let so = SearchOptions::shortlist(20);
    assert!(ix.search(&q, 10, &so).is_err());
    assert!(ix.search_batch(&[0.0; 47], 10, &so).is_err());
    let mut out = vec![0.0f32; DIM];
    assert!(ix.decode(ix.len(), &mut out).is_err());
    assert!(ix.decode(0, &mut out[..3]).is_err());
    // The codec trait path.
    let codec = KltCodec::default();
    assert!(codec.fit_encode(&train, &[], DIM).is_err());
    assert!(codec.fit_encode(&train, &train, 0).is_err());
}

#[test]
fn corrupted_bytes_are_detected() {
    let (_, ix) = small_index(&KltOptions::default());
    let bytes = ix.to_bytes();
    // Every single-byte change is caught (CRC-32 detects all of them).
    for pos in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        let mut b = bytes.clone();
        b[pos] ^= 0x5A;
        assert!(KltIndex::from_bytes(&b).is_err(), "flip at {pos}");
    }
    assert!(KltIndex::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(KltIndex::from_bytes(&[]).is_err());
    let mut v = bytes.clone();
    v[4] = 9;
    assert!(matches!(
        KltIndex::from_bytes(&v),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
}

#[test]
fn weighted_steps_beat_one_uniform_step_on_ranking() {
    // At equal size, α = ½ keeps more of the float32 neighbours than α = 0.
    let train = embeddings(400, DIM, 10);
    let base = embeddings(800, DIM, 11);
    let queries = embeddings(60, DIM, 12);
    let fit = KltFit::fit(&train, DIM).unwrap();
    let truth = brute_force_topk(&base, &queries, DIM, 10).unwrap();
    let recall = |alpha: f32| {
        let opts = KltOptions {
            bytes_per_vector: Some(14.0),
            exponent: alpha,
            ..KltOptions::default()
        };
        let ix = fit.encode(&base, DIM, &opts).unwrap();
        neighbour_recall(&ix.search_exact_batch(&queries, 10).unwrap(), &truth, 10)
    };
    let (r0, r5) = (recall(0.0), recall(0.5));
    assert!(r5 > r0, "α=0: {r0}, α=½: {r5}");
}

#[test]
fn lockstep_decoding_equals_one_at_a_time() {
    let (_, ix) = small_index(&KltOptions {
        coarse_components: 10,
        ..KltOptions::default()
    });
    let k = ix.components();
    let mut one = vec![0i32; k];
    let mut grp = vec![0i32; stream::GROUP * k];
    for idx in [
        vec![0usize],
        vec![5, 3],
        vec![7, 8, 9],
        vec![399, 0, 17, 200],
    ] {
        let g = &mut grp[..idx.len() * k];
        ix.indices_group(&idx, g).unwrap();
        for (t, &i) in idx.iter().enumerate() {
            ix.indices(i, &mut one).unwrap();
            assert_eq!(&g[t * k..(t + 1) * k], &one[..], "vector {i}");
        }
    }
}

#[test]
fn unit_norm_collections_decode_to_unit_vectors() {
    let (_, ix) = small_index(&KltOptions::default());
    assert!(ix.unit_norm());
    let mut x = vec![0.0f32; DIM];
    for i in [0usize, 17, 399] {
        ix.decode(i, &mut x).unwrap();
        let n: f32 = x.iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-4, "{n}");
    }
    // Not unit-norm: no renormalisation (and the flag survives serialization).
    let train = embeddings(300, DIM, 1);
    let base: Vec<f32> = embeddings(100, DIM, 2).iter().map(|v| 2.0 * v).collect();
    let fit = KltFit::fit(&train, DIM).unwrap();
    let ix = fit.encode(&base, DIM, &KltOptions::default()).unwrap();
    assert!(!ix.unit_norm());
    assert!(!KltIndex::from_bytes(&ix.to_bytes()).unwrap().unit_norm());
    ix.decode(0, &mut x).unwrap();
    let n: f32 = x.iter().map(|v| v * v).sum();
    assert!(n > 2.0, "{n}");
}

#[test]
fn rdo_quantization_round_trips_and_saves_bits() {
    let train = embeddings(300, DIM, 13);
    let base = embeddings(500, DIM, 14);
    let fit = KltFit::fit(&train, DIM).unwrap();
    let plain = fit.encode(&base, DIM, &KltOptions::default()).unwrap();
    let rdo = fit
        .encode(
            &base,
            DIM,
            &KltOptions {
                rdo_lambda: 0.2,
                ..KltOptions::default()
            },
        )
        .unwrap();
    rdo.validate().unwrap();
    assert_eq!(KltIndex::from_bytes(&rdo.to_bytes()).unwrap(), rdo);
    assert!(rdo.total_bytes() < plain.total_bytes());
    assert_eq!(KltCodec::searchable(32.0).name(), "klt:bytes=32:search");
    // Without a coarse code, search decodes everything: exact compressed-domain top-k.
    let q = &embeddings(1, DIM, 15)[..];
    let mut s = vec![0.0f32; plain.len()];
    plain.scores(q, &mut s).unwrap();
    assert_eq!(
        plain.search(q, 5, &SearchOptions::shortlist(3)).unwrap(),
        top_k(&s, 5)
    );
    assert_eq!(KltCodec::with_target(32.0).name(), "klt:bytes=32");
}
