//! File-level bit allocation: many tensors, one budget, one rate–distortion slope.
//!
//! The pooled tensors ([`crate::pipeline::TensorPlan::Pool`]) share one all-in budget
//! `B · Σ nₜ` bits. Each has a distortion weight `wₜ` — the model's loss per unit of squared
//! error in it (1 for plain MSE; a calibrated sensitivity or activation energy otherwise) —
//! and the goal is the least weighted error `Σ wₜ Dₜ` the budget allows. For entropy-coded
//! uniform quantization at moderate and high rates `Dₜ ≈ nₜΔₜ²/12` and `dDₜ/dRₜ ∝ −Δₜ²`,
//! so the optimum gives every tensor the same slope `wₜΔₜ²`: **Δₜ = Δ/√wₜ** with one
//! global `Δ` (Gish–Pierce; the same rule llama.cpp's importance matrix applies inside a
//! tensor). Equal *bits* per tensor, what a per-tensor `--bits` gives, is optimal only when
//! every tensor has the same variance and weight; MiniLM's 40 matrices do not.
//!
//! The search: every tensor is analysed once ([`crate::codec::StepSearch`]); `Δ` is bisected
//! in the log domain on the codecs' own cost estimates until the pool's all-in bits
//! (records, parameters and chunks) fit; every tensor is encoded at its step, the real
//! bytes are summed, and an overshoot (a few bytes of estimate error) is taken off the
//! target and the search repeated, at most three times.
//!
//! **Kept tensors.** A member may come with a lossless alternative ([`Member::keep`]): a
//! matrix read from a Q4_1 GGUF file is stored exactly, its own blocks entropy-coded
//! (`q4_1:packed`), in ~4.3 bits per value. Its distortion is then 0 and the choice at
//! slope `λ` is between `λ·B_keep` and `w·D + λ·B_lossy`. With `D(R) ∝ 2^(−2R)` the slope
//! is `λ = w · 2 ln 2 · D / n` per bit, so the tensor is kept exactly when coding it lossily
//! would save fewer than `n / (2 ln 2)` ≈ 0.72 bits per value — whatever its weight, which
//! only sets the lossy rate it is compared at. Measured on a whole model, half that break-even
//! ([`KEEP_SAVING`] = 0.36) is better — more matrices go lossy and the budget they free
//! goes to the tied embedding table. Why is not settled: either the high-rate model misjudges
//! the lossy curve of a tensor already on a coarse grid, or the probes under-weight the
//! embedding table against the matrices.
//!
//! **Feedback gain.** A member quantized with error feedback ([`Member::gram`]) loses less
//! output error per unit of plain quantization error: its output error with feedback over
//! that without, measured at the step an allocation without gains gives it
//! ([`StepSearch::feedback_gain`], on the calibration statistics), multiplies its weight,
//! and the budget is allocated again.
//! Layers that feedback helps most then give bits to those it cannot help (a word table).

use rayon::prelude::*;

use crate::codec::{Codec, StepSearch};
use crate::container::Entry;
use crate::entry::{clean_values, coded_entry, EntryRecord, TensorReport};
use crate::error::{Error, Result};
use crate::quant::rate::{boundary_step, Feasible};
use crate::tensor::Tensor;

/// One pooled tensor.
pub struct Member<'a> {
    /// Its position in the file.
    pub index: usize,
    /// The tensor.
    pub tensor: &'a Tensor,
    /// The codec (must support [`Codec::step_search`]).
    pub codec: &'a dyn Codec,
    /// Distortion weight (finite, > 0).
    pub weight: f64,
    /// Weights along its rows and columns (see [`crate::codec::AxisWeights`]), if any.
    pub axes: Option<&'a crate::codec::AxisWeights>,
    /// Its layer's input statistics, for quantization with error feedback, if any.
    pub gram: Option<&'a crate::quant::feedback::Gram>,
    /// A codec that stores the tensor exactly (checked), to keep it so where lossy coding
    /// saves less than [`KEEP_SAVING`] bits per value at the pool's slope.
    pub keep: Option<&'a dyn Codec>,
}

/// Bits per value a lossy encoding must save over a member's exact one to be chosen. The
/// high-rate break-even is `1 / (2 ln 2)` ≈ 0.72 (module docs); measured on SmolLM2 at
/// 4.0 bits per weight all-in, half of it keeps the model best (perplexity rise / KL over
/// the thresholds 1.44, 0.72, 0.36, 0.18, 0: +9.35 % / 0.091, +7.09 % / 0.069,
/// **+5.68 % / 0.067**, +6.80 % / 0.072, +7.74 % / 0.083; docs/RESULTS.md).
pub const KEEP_SAVING: f64 = 0.36;

/// A member analysed: its search handle, record, exceptions and step bounds.
struct Analysed<'a> {
    member: &'a Member<'a>,
    search: Box<dyn StepSearch>,
    record: EntryRecord,
    exceptions: Vec<crate::container::Exception>,
    /// The exact entry and its all-in bits, if the member has one.
    kept: Option<((Entry, TensorReport), f64)>,
    /// The member's weight times its feedback gain ([`StepSearch::feedback_gain`]; 1
    /// without feedback): what a unit of plain quantization error costs it.
    weight: f64,
    /// The feedback gain, if the member has feedback.
    gain: Option<f64>,
}

impl Analysed<'_> {
    /// This tensor's step for the global `delta`: `Δ/√w`, within the codec's step range.
    fn step(&self, delta: f64) -> f64 {
        let u = self.search.unit();
        (delta / self.weight.sqrt()).clamp(u * 1e-7, u * 1e3)
    }

    /// The feedback gain at `delta`'s step ([`StepSearch::feedback_gain`]), kept within
    /// [0.05, 1] so that no layer starves itself; `None` without feedback.
    fn measure_gain(&self, delta: f64) -> Result<Option<f64>> {
        Ok(self
            .search
            .feedback_gain(self.step(delta))
            .map_err(|e| Error::BadTensor {
                tensor: self.member.tensor.name.clone(),
                msg: e.to_string(),
            })?
            .map(|v| {
                if v.is_finite() {
                    v.clamp(0.05, 1.0)
                } else {
                    1.0
                }
            }))
    }

    /// All-in bits at `delta`, and whether the exact entry is chosen there.
    fn bits_at(&self, delta: f64) -> (f64, bool) {
        let lossy = self.search.bits_at(self.step(delta), &self.record);
        match &self.kept {
            Some((_, keep)) if keep - lossy < KEEP_SAVING * self.member.tensor.numel() as f64 => {
                (*keep, true)
            }
            _ => (lossy, false),
        }
    }
}

/// Encodes the pooled tensors at one slope so that together they take at most `bits` all-in
/// bits per value; returns each member's file position with its entry and report. Every
/// report carries `step`, `relative_step`, `allocated_bits_per_value` and `weight`; if the
/// budget is below what the coarsest steps store, every member gets a warning saying so.
pub fn allocate(
    members: &[Member],
    bits: f64,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<(usize, (Entry, TensorReport))>> {
    if !(bits.is_finite() && bits > 0.0 && bits <= 32.0) {
        return Err(Error::param(
            "pool bits per value",
            bits,
            "a number in (0, 32]",
        ));
    }
    for m in members {
        if !(m.weight.is_finite() && m.weight > 0.0) {
            return Err(Error::BadTensor {
                tensor: m.tensor.name.clone(),
                msg: format!(
                    "distortion weight {} (expected a finite number > 0)",
                    m.weight
                ),
            });
        }
    }
    let mut analysed: Vec<Analysed> = members
        .par_iter()
        .map(|m| analyse(m))
        .collect::<Result<_>>()?;
    let values: usize = members.iter().map(|m| m.tensor.numel()).sum();
    let budget = bits * values as f64;
    let real_bits = |encoded: &[(Entry, TensorReport)]| -> f64 {
        encoded
            .iter()
            .map(|(e, _)| e.stored_bytes() as f64 * 8.0)
            .sum()
    };
    if analysed.iter().any(|a| a.member.gram.is_some()) {
        // Each fed member's gain at the step the allocation gives it without gains.
        let (lo, hi, guess) = bracket(&analysed, bits);
        let total_at =
            |delta: f64| -> f64 { analysed.par_iter().map(|a| a.bits_at(delta).0).sum() };
        let delta = search(&total_at, budget, guess, lo, hi);
        let gains: Vec<Option<f64>> = analysed
            .par_iter()
            .map(|a| a.measure_gain(delta))
            .collect::<Result<_>>()?;
        for (a, g) in analysed.iter_mut().zip(gains) {
            a.gain = g;
            a.weight = a.member.weight * g.unwrap_or(1.0);
        }
    }
    let analysed = analysed;
    let total_at = |delta: f64| -> f64 { analysed.par_iter().map(|a| a.bits_at(delta).0).sum() };
    let (lo, hi, guess) = bracket(&analysed, bits);
    let mut target = budget;
    let mut delta = search(&total_at, target, guess, lo, hi);
    let mut encoded = encode_all(&analysed, delta)?;
    for _ in 0..3 {
        let over = real_bits(&encoded) - budget;
        if over <= 0.0 || delta >= hi {
            break;
        }
        target -= over + 64.0;
        delta = search(&total_at, target, delta, lo, hi);
        encoded = encode_all(&analysed, delta)?;
    }
    let got = real_bits(&encoded) / values.max(1) as f64;
    let missed = got > bits * 1.01 + 1e-9;
    Ok(analysed
        .iter()
        .zip(encoded)
        .map(|(a, (entry, mut report))| {
            let n = a.member.tensor.numel().max(1) as f64;
            report.stats.extend([
                (
                    "allocated_bits_per_value".into(),
                    entry.stored_bytes() as f64 * 8.0 / n,
                ),
                ("weight".into(), a.member.weight),
            ]);
            if let Some(g) = a.gain {
                report.stats.push(("feedback_gain".into(), g));
            }
            if missed {
                report.warnings.push(format!(
                    "tensor '{}': the pool's {bits} bits/value not reached: {got:.3} bits/value \
                     all-in is the least its {} tensors store at the coarsest steps",
                    a.member.tensor.name,
                    members.len()
                ));
            }
            progress(&a.member.tensor.name);
            (a.member.index, (entry, report))
        })
        .collect())
}

/// The finest and coarsest `Δ` any member allows, and a first guess: the members' median
/// of the step a scalar quantizer needs for `bits` at their own scale (about 6 dB, one
/// bit, per halving).
fn bracket(analysed: &[Analysed], bits: f64) -> (f64, f64, f64) {
    let lo = analysed
        .iter()
        .map(|a| a.search.unit() * 1e-7 * a.weight.sqrt())
        .fold(f64::INFINITY, f64::min);
    let hi = analysed
        .iter()
        .map(|a| a.search.unit() * 1e3 * a.weight.sqrt())
        .fold(0f64, f64::max);
    let mut guesses: Vec<f64> = analysed
        .iter()
        .map(|a| a.search.unit() * a.weight.sqrt() * 0.1 * 2f64.powf(4.0 - bits))
        .collect();
    guesses.sort_by(f64::total_cmp);
    let guess = guesses.get(guesses.len() / 2).copied().unwrap_or(1.0);
    (lo, hi, guess)
}

fn analyse<'a>(m: &'a Member<'a>) -> Result<Analysed<'a>> {
    let named = |e: Error| Error::BadTensor {
        tensor: m.tensor.name.clone(),
        msg: e.to_string(),
    };
    let (_, clean, exceptions) = clean_values(m.tensor)?;
    let mut search = m
        .codec
        .step_search(&clean, &m.tensor.shape, m.axes)
        .ok_or_else(|| Error::BadTensor {
            tensor: m.tensor.name.clone(),
            msg: format!(
                "codec '{}' has no step search: allocation across tensors needs a \
                 step-controlled codec (native)",
                m.codec.name()
            ),
        })?
        .map_err(named)?;
    if let Some(g) = m.gram {
        search.set_feedback(g).map_err(named)?;
    }
    let record = EntryRecord::new(m.tensor, m.codec.name(), exceptions.len());
    let kept = match m.keep {
        Some(codec) => {
            let kept = crate::pipeline::encode_tensor(m.tensor, codec, crate::Rate::Default)?;
            // Kept means exact: decoded and compared bit for bit before it is offered.
            let chunks: Vec<&[u8]> = kept.0.chunks.iter().map(Vec::as_slice).collect();
            let back = codec
                .decode(&kept.0.params, &chunks, &m.tensor.shape)
                .map_err(named)?;
            if !kept.0.exceptions.is_empty()
                || back.len() != clean.len()
                || back
                    .iter()
                    .zip(clean.iter())
                    .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                return Err(Error::BadTensor {
                    tensor: m.tensor.name.clone(),
                    msg: format!("codec '{}' does not store it exactly", codec.name()),
                });
            }
            let bits = kept.0.stored_bytes() as f64 * 8.0;
            Some((kept, bits))
        }
        None => None,
    };
    Ok(Analysed {
        member: m,
        search,
        record,
        exceptions,
        kept,
        weight: m.weight,
        gain: None,
    })
}

/// The smallest `Δ` in `[lo, hi]` whose total bits fit `target` (`hi` if none does),
/// starting from `guess`: regula falsi in log-step ([`boundary_step`]), a handful of
/// evaluations where bisection over the whole bracket needs ~25 — each evaluation costs
/// every member's cost function (the trellis's two passes, for `native:tcq`).
fn search(
    total_at: &(dyn Fn(f64) -> f64 + Sync),
    target: f64,
    guess: f64,
    lo: f64,
    hi: f64,
) -> f64 {
    boundary_step(
        total_at,
        target,
        guess.clamp(lo, hi),
        lo,
        hi,
        Feasible::Above,
    )
}

fn encode_all(analysed: &[Analysed], delta: f64) -> Result<Vec<(Entry, TensorReport)>> {
    analysed
        .par_iter()
        .map(|a| {
            // Only a member with an exact entry pays for the extra cost estimate (the
            // trellis runs twice per estimate).
            if let Some((kept, _)) = a.kept.as_ref().filter(|_| a.bits_at(delta).1) {
                let (entry, mut report) = kept.clone();
                report.stats.push(("kept_exact".into(), 1.0));
                return Ok((entry, report));
            }
            let enc = a
                .search
                .encode_at(a.step(delta))
                .map_err(|e| Error::BadTensor {
                    tensor: a.member.tensor.name.clone(),
                    msg: e.to_string(),
                })?;
            Ok(coded_entry(
                a.member.tensor,
                a.member.codec,
                enc,
                a.exceptions.clone(),
                Vec::new(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::pipeline::{compress_planned, TensorPlan};
    use crate::rng::SplitMix64;
    use crate::{decompress, Rate, Tensor};

    /// Gaussian tensors of very different spreads (as a model's matrices are).
    fn tensors() -> Vec<Tensor> {
        let mut rng = SplitMix64::new(7);
        [
            (64, 96, 0.02f64),
            (128, 64, 0.1),
            (48, 200, 0.005),
            (96, 96, 0.05),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(r, c, s))| {
            let v = (0..r * c).map(|_| (rng.gaussian() * s) as f32).collect();
            Tensor::from_f32(format!("t{i}"), vec![r, c], v).unwrap()
        })
        .collect()
    }

    /// (all-in bits per value, Σ squared error per tensor) of a container of `ts`.
    fn measure(ts: &[Tensor], bytes: &[u8]) -> (f64, Vec<f64>) {
        let back = decompress(bytes).unwrap();
        let n: usize = ts.iter().map(Tensor::numel).sum();
        let errs = ts
            .iter()
            .zip(&back)
            .map(|(a, b)| {
                let (a, b) = (a.values().unwrap(), b.values().unwrap());
                a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
            })
            .collect();
        (bytes.len() as f64 * 8.0 / n as f64, errs)
    }

    fn pooled(ts: &[Tensor], weights: &[f64], bits: f64) -> crate::Compressed {
        let plans: Vec<TensorPlan> = weights
            .iter()
            .map(|&w| TensorPlan::Pool {
                codec: "native".into(),
                weight: w,
                axes: None,
                gram: None,
                keep: None,
            })
            .collect();
        compress_planned(ts, &plans, Some(bits), &crate::default_registry(), &|_| {}).unwrap()
    }

    #[test]
    fn one_slope_beats_equal_bits_at_the_same_size() {
        let ts = tensors();
        let n: usize = ts.iter().map(Tensor::numel).sum();
        let sum_sq: f64 = ts
            .iter()
            .flat_map(|t| t.values().unwrap())
            .map(|&x| f64::from(x).powi(2))
            .sum();
        for bits in [2.0, 3.0, 4.0] {
            let plans = vec![
                TensorPlan::Own {
                    codec: "native".into(),
                    rate: Rate::Bits(bits),
                };
                ts.len()
            ];
            let own =
                compress_planned(&ts, &plans, None, &crate::default_registry(), &|_| {}).unwrap();
            let pool = pooled(&ts, &[1.0; 4], bits);
            let (own_bits, own_err) = measure(&ts, &own.bytes);
            let (pool_bits, pool_err) = measure(&ts, &pool.bytes);
            // The pool's entries fit its budget (the container header is outside it).
            let entries: usize = pool.report.tensors.iter().map(|r| r.stored_bytes).sum();
            assert!(entries as f64 * 8.0 <= bits * n as f64, "{bits}: {entries}");
            assert!(
                entries as f64 * 8.0 >= 0.98 * bits * n as f64,
                "{bits}: {entries}"
            );
            assert!(
                pool_bits <= own_bits + 1e-3,
                "{bits}: {pool_bits} > {own_bits}"
            );
            let snr = |e: &[f64]| 10.0 * (sum_sq / e.iter().sum::<f64>()).log10();
            let (a, b) = (snr(&own_err), snr(&pool_err));
            // Spreads 20× apart: equal bits wastes them on the small tensors.
            assert!(
                b > a + 0.3,
                "{bits} bits: pool {b:.2} dB vs per-tensor {a:.2} dB"
            );
            // One slope: every tensor ends at (about) the same absolute step.
            let steps: Vec<f64> = pool
                .report
                .tensors
                .iter()
                .map(|r| r.stats.iter().find(|s| s.0 == "step").unwrap().1)
                .collect();
            for s in &steps {
                assert!((s / steps[0] - 1.0).abs() < 1e-4, "{steps:?}");
            }
        }
    }

    #[test]
    fn a_heavier_weight_gets_a_finer_step_and_less_error() {
        let ts = tensors();
        let plain = pooled(&ts, &[1.0; 4], 3.0);
        let heavy = pooled(&ts, &[1.0, 16.0, 1.0, 1.0], 3.0);
        let (_, e_plain) = measure(&ts, &plain.bytes);
        let (_, e_heavy) = measure(&ts, &heavy.bytes);
        assert!(e_heavy[1] < 0.5 * e_plain[1], "{e_heavy:?} {e_plain:?}");
        assert!(e_heavy[0] > e_plain[0], "{e_heavy:?} {e_plain:?}");
        let step = |c: &crate::Compressed, i: usize| {
            c.report.tensors[i]
                .stats
                .iter()
                .find(|s| s.0 == "step")
                .unwrap()
                .1
        };
        let ratio = step(&heavy, 0) / step(&heavy, 1);
        assert!((ratio - 4.0).abs() < 1e-3, "{ratio}");
    }

    #[test]
    fn axis_weights_move_error_to_the_light_columns_and_rows() {
        let ts = tensors();
        let t = &ts[1]; // 128 × 64
        let x = t.values().unwrap();
        // Columns 0..8 matter 64× more; rows 100.. hardly at all.
        let axes = crate::AxisWeights {
            rows: Some(
                (0..128)
                    .map(|i| if i >= 100 { 0.01 } else { 1.0 })
                    .collect(),
            ),
            cols: Some((0..64).map(|j| if j < 8 { 64.0 } else { 1.0 }).collect()),
        };
        let run = |axes: Option<crate::AxisWeights>| {
            let plans = vec![TensorPlan::Pool {
                codec: "native".into(),
                weight: 1.0,
                axes,
                gram: None,
                keep: None,
            }];
            let c = compress_planned(
                &ts[1..2],
                &plans,
                Some(3.0),
                &crate::default_registry(),
                &|_| {},
            )
            .unwrap();
            let back = decompress(&c.bytes).unwrap();
            let y = back[0].values().unwrap().to_vec();
            (c.bytes.len(), y)
        };
        let (plain_len, plain) = run(None);
        let (len, y) = run(Some(axes.clone()));
        // The scales cost 1 byte per row and column: the budget still holds.
        assert!(
            len as f64 * 8.0 <= 3.0 * 128.0 * 64.0 + 200.0,
            "{len} vs {plain_len}"
        );
        let err = |y: &[f32], f: &dyn Fn(usize, usize) -> bool| -> f64 {
            let mut e = 0.0;
            for i in 0..128 {
                for j in 0..64 {
                    if f(i, j) {
                        e += f64::from(x[i * 64 + j] - y[i * 64 + j]).powi(2);
                    }
                }
            }
            e
        };
        let heavy = |i: usize, j: usize| j < 8 && i < 100;
        let light = |i: usize, _: usize| i >= 100;
        assert!(err(&y, &heavy) < 0.25 * err(&plain, &heavy));
        assert!(err(&y, &light) > 2.0 * err(&plain, &light));
        // The weighted error — what the weights ask for — is lower.
        let weighted = |y: &[f32]| -> f64 {
            let (r, c) = (axes.rows.as_ref().unwrap(), axes.cols.as_ref().unwrap());
            (0..128 * 64)
                .map(|k| f64::from(r[k / 64] * c[k % 64]) * f64::from(x[k] - y[k]).powi(2))
                .sum()
        };
        assert!(
            weighted(&y) < 0.8 * weighted(&plain),
            "{} {}",
            weighted(&y),
            weighted(&plain)
        );
        // Wrong lengths are errors naming the axis.
        let bad = crate::AxisWeights {
            rows: Some(vec![1.0; 3]),
            cols: None,
        };
        let plans = vec![TensorPlan::Pool {
            codec: "native".into(),
            weight: 1.0,
            axes: Some(bad),
            gram: None,
            keep: None,
        }];
        let e = compress_planned(
            &ts[1..2],
            &plans,
            Some(3.0),
            &crate::default_registry(),
            &|_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("row weights") && e.contains("t1"), "{e}");
    }

    #[test]
    fn error_feedback_cuts_the_layer_output_error_at_the_same_size() {
        let (rows, cols) = (96, 64);
        let (g, xs) = crate::quant::feedback::tests::gram(cols, 600, 5);
        let g = std::sync::Arc::new(g);
        let mut rng = SplitMix64::new(21);
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| (rng.gaussian() * 0.05) as f32)
            .collect();
        let ts = vec![Tensor::from_f32("fc.weight", vec![rows, cols], w.clone()).unwrap()];
        let axes = crate::AxisWeights {
            rows: None,
            cols: Some(g.diagonal().iter().map(|&v| v as f32).collect()),
        };
        let run = |codec: &str, gram: Option<std::sync::Arc<crate::Gram>>| {
            let fed = gram.is_some();
            let plans = vec![TensorPlan::Pool {
                codec: codec.into(),
                weight: 1.0,
                axes: Some(axes.clone()),
                gram,
                keep: None,
            }];
            let c = compress_planned(&ts, &plans, Some(3.0), &crate::default_registry(), &|_| {})
                .unwrap();
            let y = decompress(&c.bytes).unwrap()[0].values().unwrap().to_vec();
            // With feedback the report carries the measured gain the allocation weighs by.
            let gain = c.report.tensors[0]
                .stats
                .iter()
                .find(|(k, _)| k == "feedback_gain")
                .map(|s| s.1);
            assert_eq!(gain.is_some(), fed, "{codec}");
            assert!(
                gain.is_none_or(|g| g > 0.05 && g < 0.8),
                "{codec}: gain {gain:?}"
            );
            // Σ over the calibration inputs of ‖(W − Ŵ) x‖².
            let err: f64 = xs
                .chunks(cols)
                .map(|x| {
                    (0..rows)
                        .map(|r| {
                            let d: f64 = (0..cols)
                                .map(|j| {
                                    f64::from(w[r * cols + j] - y[r * cols + j]) * f64::from(x[j])
                                })
                                .sum();
                            d * d
                        })
                        .sum::<f64>()
                })
                .sum();
            (c.bytes.len(), err)
        };
        // Scalar rounding, and the trellis (its search carrying each survivor's feedback,
        // `quant::trellis_feedback`).
        for codec in ["native", "native:tcq"] {
            let (plain_len, plain) = run(codec, None);
            let (len, fed) = run(codec, Some(g.clone()));
            assert!(
                (len as f64) < plain_len as f64 * 1.02
                    && len as f64 * 8.0 <= 3.0 * (rows * cols) as f64 + 400.0,
                "{codec}: {len} vs {plain_len}"
            );
            assert!(
                fed < 0.8 * plain,
                "{codec}: feedback {fed} vs weighted rounding {plain}"
            );
        }
        // A Gram of the wrong size, or a transform, is an error naming the tensor.
        let (small, _) = crate::quant::feedback::tests::gram(8, 20, 1);
        for (codec, gram) in [("native", small), ("native:dct8x8", (*g).clone())] {
            let plans = vec![TensorPlan::Pool {
                codec: codec.into(),
                weight: 1.0,
                axes: None,
                gram: Some(std::sync::Arc::new(gram)),
                keep: None,
            }];
            let e = compress_planned(&ts, &plans, Some(3.0), &crate::default_registry(), &|_| {})
                .unwrap_err()
                .to_string();
            assert!(e.contains("fc.weight"), "{e}");
        }
    }

    #[test]
    fn an_exact_alternative_is_kept_where_lossy_coding_saves_too_little() {
        use crate::codec::Codec;
        // Tensor 0 already lies on a Q4_1 grid (a matrix of a Q4_1 GGUF file); the others
        // are plain floats.
        let mut ts = tensors();
        let q41 = crate::baselines::ggml::GgmlCodec::new(crate::baselines::ggml::Kind::Q4_1);
        let t0 = &ts[0];
        let e = q41
            .encode(t0.values().unwrap(), &t0.shape, Rate::Default)
            .unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let grid = q41.decode(&e.params, &chunks, &t0.shape).unwrap();
        ts[0] = Tensor::from_f32("t0", t0.shape.clone(), grid.clone()).unwrap();
        let n: usize = ts.iter().map(Tensor::numel).sum();
        // Every tensor pooled; tensor `at` offered `keep`.
        let compress = |bits: f64, at: usize, keep: Option<&str>| {
            let plans: Vec<TensorPlan> = (0..ts.len())
                .map(|i| TensorPlan::Pool {
                    codec: "native".into(),
                    weight: 1.0,
                    axes: None,
                    gram: None,
                    keep: keep.filter(|_| i == at).map(String::from),
                })
                .collect();
            compress_planned(&ts, &plans, Some(bits), &crate::default_registry(), &|_| {})
        };
        let run = |bits: f64, keep: Option<&str>| compress(bits, 0, keep).unwrap();
        let kept = |c: &crate::Compressed| {
            c.report.tensors[0]
                .stats
                .iter()
                .any(|(k, _)| k == "kept_exact")
        };
        // Generous budget: the grid tensor is kept, bit for bit, and the budget holds.
        let c = run(6.0, Some("q4_1:packed"));
        assert!(kept(&c));
        let entries: usize = c.report.tensors.iter().map(|r| r.stored_bytes).sum();
        assert!(entries as f64 * 8.0 <= 6.0 * n as f64, "{entries}");
        let back = decompress(&c.bytes).unwrap();
        let v = back[0].values().unwrap();
        assert!(v.iter().zip(&grid).all(|(a, b)| a.to_bits() == b.to_bits()));
        // The others get the bits the kept tensor left: less error than with no keep.
        let plain = run(6.0, None);
        let (_, e_keep) = measure(&ts, &c.bytes);
        let (_, e_plain) = measure(&ts, &plain.bytes);
        assert_eq!(e_keep[0], 0.0);
        assert!(e_keep.iter().sum::<f64>() < e_plain.iter().sum::<f64>());
        // Tight budget: coding it lossily saves more than the break-even, so it is.
        let c = run(2.0, Some("q4_1:packed"));
        assert!(!kept(&c));
        // A keep codec that is not exact for the tensor is an error naming it.
        let e = compress(4.0, 1, Some("q4_1:packed"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t1") && e.contains("exactly"), "{e}");
    }

    #[test]
    fn bad_pools_are_errors() {
        let ts = tensors();
        let reg = crate::default_registry();
        let plan = |codec: &str, w: f64| {
            vec![
                TensorPlan::Pool {
                    codec: codec.into(),
                    weight: w,
                    axes: None,
                    gram: None,
                    keep: None,
                };
                4
            ]
        };
        let err = |p: Vec<TensorPlan>, bits: Option<f64>| {
            compress_planned(&ts, &p, bits, &reg, &|_| {})
                .unwrap_err()
                .to_string()
        };
        assert!(err(plan("q8_0", 1.0), Some(4.0)).contains("no step search"));
        assert!(err(plan("native", 0.0), Some(4.0)).contains("weight"));
        assert!(err(plan("native", f64::NAN), Some(4.0)).contains("weight"));
        assert!(err(plan("native", 1.0), None).contains("pool bits"));
        assert!(err(plan("native", 1.0), Some(0.0)).contains("(0, 32]"));
        assert!(err(plan("native", 1.0)[..2].to_vec(), Some(4.0)).contains("one per tensor"));
        // A budget below the side information: met as closely as possible, with warnings.
        let c = compress_planned(&ts, &plan("native", 1.0), Some(1e-4), &reg, &|_| {}).unwrap();
        assert!(c.report.tensors.iter().all(|r| !r.warnings.is_empty()));
    }
}
