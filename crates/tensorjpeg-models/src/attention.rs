//! Attention of a single new position per sequence against the KV cache, the step of
//! batched sampling, in plain Rust.
//!
//! Through candle, one decoding step of `b` sequences is `b × kv_heads` tiny batched matmuls
//! per layer (two gemm calls each, with their thread hand-offs), which cost more than the
//! projections themselves at batch 160. Here each `(sequence, query head)` pair is one
//! dot-product/softmax/weighted-sum loop, pairs spread over candle's barrier pool (the
//! threads the projections' kernels run on, spinning between the operations of a step). The
//! candle path (`matmul`, `softmax_last_dim`, `matmul`) remains for prefill and is the
//! reference this is tested against.

use candle_core::{Device, Layout, Tensor};
use std::sync::Mutex;

use crate::{Error, Result};

/// Scores × head width (`b · heads · len · hd`) from which a step's attention is split over
/// threads.
const PARALLEL_MIN_WORK: usize = 1 << 13;

/// Runs `f` on the f32 storage of `t` and its layout.
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32], &Layout) -> Result<R>) -> Result<R> {
    let (s, l) = t.storage_and_layout();
    match &*s {
        candle_core::Storage::Cpu(cpu) => f(cpu.as_slice::<f32>()?, l),
        _ => Err(Error::Input("attention: expected an f32 CPU tensor".into())),
    }
}

/// Softmax-weighted attention for one query position per sequence.
///
/// `q` is `(b, heads, 1, hd)`; `k`, `v` are `(b, kv_heads, len, hd)` views whose last axis
/// is contiguous (the cache's narrowed buffers); query head `h` reads kv head
/// `h / (heads / kv_heads)`. Scores are `scale · q·k`. Returns `(b, 1, heads·hd)`, heads
/// concatenated, as the output projection expects.
pub fn attend_one(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, heads, t, hd) = q.dims4()?;
    let (kb, kvh, len, khd) = k.dims4()?;
    if t != 1 || kb != b || khd != hd || v.dims() != k.dims() || kvh == 0 || heads % kvh != 0 {
        return Err(Error::Input(format!(
            "attend_one: q {:?}, k {:?}, v {:?}",
            q.dims(),
            k.dims(),
            v.dims()
        )));
    }
    let rep = heads / kvh;
    let q = q.contiguous()?;
    let mut out = vec![0f32; b * heads * hd];
    with_f32(&q, |qs, ql| {
        let qs = &qs[ql.start_offset()..];
        with_f32(k, |ks, kl| {
            with_f32(v, |vs, vl| {
                let (kst, vst) = (kl.stride(), vl.stride());
                if kst[3] != 1 || vst[3] != 1 {
                    return Err(Error::Input("attend_one: keys not contiguous".into()));
                }
                // One query head of one sequence: `o` its `hd` outputs, `p` scratch.
                let task = |p: &mut [f32], task: usize, o: &mut [f32]| {
                    let (bi, h) = (task / heads, task % heads);
                    let g = h / rep;
                    let kbase = kl.start_offset() + bi * kst[0] + g * kst[1];
                    let vbase = vl.start_offset() + bi * vst[0] + g * vst[1];
                    let qv = &qs[(bi * heads + h) * hd..][..hd];
                    let mut max = f32::NEG_INFINITY;
                    for (j, pj) in p.iter_mut().enumerate() {
                        let kv = &ks[kbase + j * kst[2]..][..hd];
                        let s = tensorjpeg::kernels::dot(qv, kv) * scale as f32;
                        *pj = s;
                        max = max.max(s);
                    }
                    let mut sum = 0f32;
                    for pj in p.iter_mut() {
                        *pj = (*pj - max).exp();
                        sum += *pj;
                    }
                    o.fill(0.0);
                    for (j, &pj) in p.iter().enumerate() {
                        let w = pj / sum;
                        let vv = &vs[vbase + j * vst[2]..][..hd];
                        for (x, &y) in o.iter_mut().zip(vv) {
                            *x += w * y;
                        }
                    }
                };
                let pool = candle_core::utils::barrier_pool();
                if pool.n_workers() > 0 && b * heads * len * hd >= PARALLEL_MIN_WORK {
                    // On candle's barrier pool, whose workers spin between the operations of
                    // a step (as the projections' kernels do): query heads are taken from a
                    // shared cursor, each writing only its own output slice.
                    let slots: Vec<Mutex<&mut [f32]>> =
                        out.chunks_mut(hd).map(Mutex::new).collect();
                    pool.execute_chunked(slots.len(), |range| {
                        let mut p = vec![0f32; len];
                        for t in range {
                            let mut o = slots[t].lock().unwrap_or_else(|e| e.into_inner());
                            task(&mut p, t, &mut o);
                        }
                    });
                } else {
                    let mut p = vec![0f32; len];
                    for (t, o) in out.chunks_mut(hd).enumerate() {
                        task(&mut p, t, o);
                    }
                }
                Ok(())
            })
        })
    })?;
    Ok(Tensor::from_vec(out, (b, 1, heads * hd), &Device::Cpu)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candle path the models use for prefill: `(q·kᵀ)·scale → softmax → ·v`, with the
    /// grouped query heads folded into the query length.
    fn reference(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Tensor {
        let (b, heads, _, hd) = q.dims4().unwrap();
        let kvh = k.dim(1).unwrap();
        let rep = heads / kvh;
        let qf = (q.reshape((b, kvh, rep, hd)).unwrap() * scale).unwrap();
        let att = qf.matmul(&k.t().unwrap()).unwrap();
        let att = candle_nn::ops::softmax_last_dim(&att).unwrap();
        att.matmul(&v.contiguous().unwrap())
            .unwrap()
            .reshape((b, 1, heads * hd))
            .unwrap()
    }

    #[test]
    fn matches_the_candle_path_on_cache_views() {
        let dev = Device::Cpu;
        for (b, heads, kvh, len, hd) in [(3, 9, 3, 17, 64), (2, 4, 4, 1, 8), (5, 6, 2, 40, 16)] {
            let q = Tensor::randn(0f32, 1.0, (b, heads, 1, hd), &dev).unwrap();
            // Views into larger buffers, like the cache's narrowed keys and values.
            let kbuf = Tensor::randn(0f32, 1.0, (b, kvh, len + 7, hd), &dev).unwrap();
            let vbuf = Tensor::randn(0f32, 1.0, (b, kvh, len + 7, hd), &dev).unwrap();
            let k = kbuf.narrow(2, 0, len).unwrap();
            let v = vbuf.narrow(2, 0, len).unwrap();
            let scale = 1.0 / (hd as f64).sqrt();
            let got: Vec<f32> = attend_one(&q, &k, &v, scale)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let want: Vec<f32> = reference(&q, &k, &v, scale)
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{b} {heads} {kvh} {len}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let dev = Device::Cpu;
        let q = Tensor::zeros((2, 4, 1, 8), candle_core::DType::F32, &dev).unwrap();
        let k = Tensor::zeros((2, 3, 5, 8), candle_core::DType::F32, &dev).unwrap();
        assert!(attend_one(&q, &k, &k, 1.0).is_err());
        let q2 = Tensor::zeros((2, 4, 2, 8), candle_core::DType::F32, &dev).unwrap();
        let k2 = Tensor::zeros((2, 2, 5, 8), candle_core::DType::F32, &dev).unwrap();
        assert!(attend_one(&q2, &k2, &k2, 1.0).is_err());
    }
}
