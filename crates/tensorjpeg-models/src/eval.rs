//! Evaluation primitives: teacher-forced perplexity over a sliding window, comparison of
//! next-token distributions between two model variants (KL divergence, top-1 agreement),
//! and reproducible batched generation (greedy, or sampled with temperature, top-k, top-p).

use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::hooks::EmbedHook;
use crate::lm::LanguageModel;
use crate::{Error, Result};

/// Sliding-window settings (Hugging Face's strided perplexity: each window of `ctx` tokens
/// starts `stride` after the previous one and scores only the tokens not scored before, so
/// every token after the first is scored once with up to `ctx − stride` tokens of context).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Window length in tokens.
    pub ctx: usize,
    /// Step between windows.
    pub stride: usize,
}

impl Window {
    /// Checks `1 ≤ stride ≤ ctx ≤ context`.
    pub fn validate(&self, context: usize) -> Result<()> {
        if self.ctx < 2 || self.stride == 0 || self.stride > self.ctx {
            return Err(Error::Input(format!(
                "window: need 1 ≤ stride ({}) ≤ ctx ({}) and ctx ≥ 2",
                self.stride, self.ctx
            )));
        }
        if self.ctx > context {
            return Err(Error::Input(format!(
                "--ctx {} exceeds the model's context of {context}",
                self.ctx
            )));
        }
        Ok(())
    }

    /// The windows over `n` tokens: `(begin, end, scored)`: tokens `begin..end` are fed and
    /// the last `scored` of them are predicted (the first window scores all but its first).
    /// Every token after the first is scored exactly once; when `stride = ctx` the windows
    /// advance by `ctx − 1` so that no window starts with an unpredictable token.
    pub fn spans(&self, n: usize) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        if self.ctx < 2 || self.stride == 0 {
            return out;
        }
        let mut prev_end = 0;
        let mut begin = 0;
        while begin < n {
            let end = (begin + self.ctx).min(n);
            let scored = (end - prev_end).min(end - begin - 1);
            if scored > 0 {
                out.push((begin, end, scored));
            }
            prev_end = end;
            if end == n {
                break;
            }
            // The next window's first new token needs at least one token of context inside
            // the window, so windows overlap by ≥ 1 even when stride = ctx.
            begin = (begin + self.stride).min(prev_end - 1);
        }
        out
    }
}

/// Logits `(scored × vocab)`, row-major, of the positions that predict a window's scored
/// tokens, and those tokens.
struct WindowLogits {
    rows: Vec<f32>,
    vocab: usize,
    targets: Vec<u32>,
}

fn window_logits(
    m: &dyn LanguageModel,
    ids: &[u32],
    (begin, end, scored): (usize, usize, usize),
) -> Result<WindowLogits> {
    let w = &ids[begin..end];
    let mut cache = m.new_cache();
    // Positions w.len()-scored-1 .. w.len()-1 predict the last `scored` tokens.
    let logits = m.forward_last(w, 1, &mut cache, scored + 1)?;
    let vocab = logits.dim(2)?;
    let logits = logits.squeeze(0)?.narrow(0, 0, scored)?;
    Ok(WindowLogits {
        rows: logits.flatten_all()?.to_vec1()?,
        vocab,
        targets: w[w.len() - scored..].to_vec(),
    })
}

/// `log Σ exp(row)`, computed stably in f64.
pub fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let s: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    max + s.ln()
}

impl WindowLogits {
    fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.vocab..(i + 1) * self.vocab]
    }

    /// Σ −log p(target) over the window.
    fn nll_sum(&self) -> Result<f64> {
        let mut nll = 0.0;
        for (i, &t) in self.targets.iter().enumerate() {
            let row = self.row(i);
            let x = *row.get(t as usize).ok_or_else(|| {
                Error::Input(format!(
                    "target token {t} outside the vocabulary of {}",
                    self.vocab
                ))
            })?;
            nll += log_sum_exp(row) - x as f64;
        }
        Ok(nll)
    }
}

/// Result of [`perplexity`].
#[derive(Debug, Clone, PartialEq)]
pub struct Perplexity {
    /// exp(mean NLL).
    pub perplexity: f64,
    /// Mean negative log-likelihood per scored token, nats.
    pub mean_nll: f64,
    /// Tokens scored.
    pub tokens: usize,
    /// Tokens fed through the model (windows overlap).
    pub processed: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Processed tokens per second.
    pub tokens_per_s: f64,
}

/// Teacher-forced perplexity of `ids` under `m`. `progress(done, total)` is called after
/// each window.
pub fn perplexity(
    m: &dyn LanguageModel,
    ids: &[u32],
    win: Window,
    progress: &dyn Fn(usize, usize),
) -> Result<Perplexity> {
    win.validate(m.config().context)?;
    if ids.len() < 2 {
        return Err(Error::Input(format!(
            "perplexity needs at least 2 tokens, got {}",
            ids.len()
        )));
    }
    let spans = win.spans(ids.len());
    let t0 = Instant::now();
    let (mut nll, mut n, mut processed) = (0.0, 0usize, 0usize);
    for (i, &sp) in spans.iter().enumerate() {
        let w = window_logits(m, ids, sp)?;
        nll += w.nll_sum()?;
        n += w.targets.len();
        processed += sp.1 - sp.0;
        progress(i + 1, spans.len());
    }
    let seconds = t0.elapsed().as_secs_f64();
    let mean = nll / n as f64;
    Ok(Perplexity {
        perplexity: mean.exp(),
        mean_nll: mean,
        tokens: n,
        processed,
        seconds,
        tokens_per_s: processed as f64 / seconds.max(1e-9),
    })
}

/// Next-token distributions of a variant against a reference, over the same windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Perplexity of the reference.
    pub ppl_reference: f64,
    /// Perplexity of the variant.
    pub ppl_variant: f64,
    /// Mean KL(reference ‖ variant) per position, nats.
    pub kl: f64,
    /// Share of positions where both put the same token first.
    pub top1_agreement: f64,
    /// Positions compared.
    pub positions: usize,
}

fn compare_windows(
    ids: &[u32],
    win: Window,
    mut reference: impl FnMut((usize, usize, usize)) -> Result<WindowLogits>,
    mut variant: impl FnMut((usize, usize, usize)) -> Result<WindowLogits>,
    progress: &dyn Fn(usize, usize),
) -> Result<Comparison> {
    if ids.len() < 2 {
        return Err(Error::Input("comparison needs at least 2 tokens".into()));
    }
    let spans = win.spans(ids.len());
    let (mut nll_a, mut nll_b, mut kl, mut agree, mut n) = (0.0, 0.0, 0.0, 0usize, 0usize);
    for (i, &sp) in spans.iter().enumerate() {
        let a = reference(sp)?;
        let b = variant(sp)?;
        if a.vocab != b.vocab {
            return Err(Error::Input(format!(
                "vocabularies differ: {} vs {}",
                a.vocab, b.vocab
            )));
        }
        nll_a += a.nll_sum()?;
        nll_b += b.nll_sum()?;
        for r in 0..a.targets.len() {
            let (ra, rb) = (a.row(r), b.row(r));
            kl += kl_row(ra, rb);
            agree += (argmax(ra) == argmax(rb)) as usize;
        }
        n += a.targets.len();
        progress(i + 1, spans.len());
    }
    let nf = n as f64;
    Ok(Comparison {
        ppl_reference: (nll_a / nf).exp(),
        ppl_variant: (nll_b / nf).exp(),
        kl: kl / nf,
        top1_agreement: agree as f64 / nf,
        positions: n,
    })
}

/// KL(softmax(a) ‖ softmax(b)) in nats, from two rows of logits.
pub fn kl_row(a: &[f32], b: &[f32]) -> f64 {
    let (la, lb) = (log_sum_exp(a), log_sum_exp(b));
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let lpa = x as f64 - la;
            let lpb = y as f64 - lb;
            lpa.exp() * (lpa - lpb)
        })
        .sum::<f64>()
        .max(0.0)
}

/// Index of the largest logit (the last one on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// Compares two models (e.g. clean weights vs weights through a codec) on `ids`.
pub fn compare(
    reference: &dyn LanguageModel,
    variant: &dyn LanguageModel,
    ids: &[u32],
    win: Window,
    progress: &dyn Fn(usize, usize),
) -> Result<Comparison> {
    win.validate(reference.config().context.min(variant.config().context))?;
    compare_windows(
        ids,
        win,
        |sp| window_logits(reference, ids, sp),
        |sp| window_logits(variant, ids, sp),
        progress,
    )
}

/// Compares a model with itself under an input-embedding hook (`None` = clean), window by
/// window. The model's hook is restored to none afterwards.
pub fn compare_hook(
    m: &mut dyn LanguageModel,
    hook: Arc<dyn EmbedHook>,
    ids: &[u32],
    win: Window,
    progress: &dyn Fn(usize, usize),
) -> Result<Comparison> {
    win.validate(m.config().context)?;
    let m = std::cell::RefCell::new(m);
    let r = compare_windows(
        ids,
        win,
        |sp| {
            let mut g = m.borrow_mut();
            g.set_embed_hook(None);
            window_logits(&**g, ids, sp)
        },
        |sp| {
            let mut g = m.borrow_mut();
            g.set_embed_hook(Some(hook.clone()));
            let r = window_logits(&**g, ids, sp);
            g.set_embed_hook(None);
            r
        },
        progress,
    );
    m.borrow_mut().set_embed_hook(None);
    r
}

/// Sampling settings. Temperature 0 is greedy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// New tokens per sample.
    pub max_tokens: usize,
    /// Softmax temperature (0 = greedy).
    pub temperature: f64,
    /// Keep only the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1 = all).
    pub top_p: f64,
    /// Seed; sample `i` uses its own generator derived from `seed` and `i`, so a sample's
    /// text does not depend on how many samples run beside it.
    pub seed: u64,
    /// Stop a sample at the end-of-sequence token.
    pub stop_at_eos: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            max_tokens: 64,
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            stop_at_eos: true,
        }
    }
}

impl Sampling {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Input(format!(
                "--temperature {} must be ≥ 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Input(format!(
                "--top-p {} must be in (0, 1]",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// Picks the next token from one row of logits.
pub fn sample_token(logits: &[f32], s: &Sampling, rng: &mut impl Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap_or(0)
    };
    if s.temperature == 0.0 {
        return argmax();
    }
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    let order = |&a: &usize, &b: &usize| logits[b].total_cmp(&logits[a]).then(a.cmp(&b));
    if s.top_k > 0 && s.top_k < idx.len() {
        // Select the k largest in linear time, then sort only those.
        idx.select_nth_unstable_by(s.top_k - 1, order);
        idx.truncate(s.top_k);
    }
    idx.sort_unstable_by(order);
    let max = logits[idx[0]] as f64;
    let mut p: Vec<f64> = idx
        .iter()
        .map(|&i| ((logits[i] as f64 - max) / s.temperature).exp())
        .collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    if s.top_p < 1.0 {
        let mut acc = 0.0;
        let mut keep = p.len();
        for (i, &x) in p.iter().enumerate() {
            acc += x;
            if acc >= s.top_p {
                keep = i + 1;
                break;
            }
        }
        p.truncate(keep);
        idx.truncate(keep);
        let t: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= t);
    }
    let u: f64 = rng.gen();
    let mut acc = 0.0;
    for (k, &x) in p.iter().enumerate() {
        acc += x;
        if u < acc {
            return idx[k] as u32;
        }
    }
    idx[p.len() - 1] as u32
}

/// The generator of sample `i`.
pub fn sample_rng(seed: u64, i: usize) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Result of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// New tokens of each sample (without the prompt; up to and excluding EOS).
    pub tokens: Vec<Vec<u32>>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// New tokens generated per second, all samples together (prefill included).
    pub tokens_per_s: f64,
    /// Seconds of the prompt's forward pass (prefill), to the first logits.
    pub prefill_seconds: f64,
    /// Prompt tokens per second of the prefill, all samples together.
    pub prefill_tokens_per_s: f64,
    /// One-token forward steps after the prefill.
    pub decode_steps: usize,
    /// Tokens per second of those steps, all samples together (what `llama-bench`'s `tg`
    /// measures: sampling included, prefill not).
    pub decode_tokens_per_s: f64,
}

/// Checks sampling settings and that `prompt` is non-empty and leaves room in the model's
/// context for `s.max_tokens` new tokens.
pub fn check_prompt(m: &dyn LanguageModel, prompt: &[u32], s: &Sampling) -> Result<()> {
    s.validate()?;
    if prompt.is_empty() {
        return Err(Error::Input("the prompt is empty (no tokens)".into()));
    }
    let ctx = m.config().context;
    if prompt.len() + s.max_tokens > ctx {
        return Err(Error::Input(format!(
            "prompt of {} tokens + {} new tokens exceeds the model's context of {ctx}",
            prompt.len(),
            s.max_tokens
        )));
    }
    Ok(())
}

/// Generates `samples` continuations of `prompt` as one batch with a KV cache.
pub fn generate(
    m: &dyn LanguageModel,
    prompt: &[u32],
    samples: usize,
    s: &Sampling,
) -> Result<Generation> {
    check_prompt(m, prompt, s)?;
    let b = samples.max(1);
    let t0 = Instant::now();
    let mut rngs: Vec<_> = (0..b).map(|i| sample_rng(s.seed, i)).collect();
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); b];
    let mut done = vec![false; b];
    let eos = m.tokenizer().eos;
    let mut cache = m.new_cache();
    let batch_prompt: Vec<u32> = (0..b).flat_map(|_| prompt.iter().copied()).collect();
    let mut logits = m.forward_last(&batch_prompt, b, &mut cache, 1)?;
    let prefill_seconds = t0.elapsed().as_secs_f64();
    let vocab = m.config().vocab;
    let mut produced = 0usize;
    let mut steps = 0usize;
    for _ in 0..s.max_tokens {
        let rows: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        let mut next = Vec::with_capacity(b);
        for (i, row) in rows.chunks(vocab).enumerate() {
            let tok = sample_token(row, s, &mut rngs[i]);
            if !done[i] {
                if s.stop_at_eos && Some(tok) == eos {
                    done[i] = true;
                } else {
                    out[i].push(tok);
                    produced += 1;
                }
            }
            next.push(tok);
        }
        if done.iter().all(|&d| d) {
            break;
        }
        logits = m.forward(&next, b, &mut cache)?;
        steps += 1;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let decode = (seconds - prefill_seconds).max(1e-9);
    Ok(Generation {
        tokens: out,
        seconds,
        tokens_per_s: produced as f64 / seconds.max(1e-9),
        prefill_seconds,
        prefill_tokens_per_s: batch_prompt.len() as f64 / prefill_seconds.max(1e-9),
        decode_steps: steps,
        decode_tokens_per_s: (steps * b) as f64 / decode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_score_every_token_once() {
        for (n, ctx, stride) in [
            (10, 4, 2),
            (1000, 512, 256),
            (5, 8, 8),
            (513, 512, 512),
            (2000, 512, 512),
            (7, 2, 2),
            (2, 2, 1),
        ] {
            let spans = Window { ctx, stride }.spans(n);
            let scored: usize = spans.iter().map(|s| s.2).sum();
            assert_eq!(scored, n - 1, "{n} {ctx} {stride}: {spans:?}");
            for &(b, e, s) in &spans {
                assert!(e - b <= ctx && s < e - b + 1 && s >= 1);
            }
        }
    }

    #[test]
    fn sampling_respects_top_k_and_greedy() {
        let logits = [0.0f32, 5.0, 1.0, 4.9];
        let mut rng = sample_rng(1, 0);
        let greedy = Sampling::default();
        assert_eq!(sample_token(&logits, &greedy, &mut rng), 1);
        let s = Sampling {
            temperature: 1.0,
            top_k: 2,
            ..Sampling::default()
        };
        let mut seen = [0usize; 4];
        for _ in 0..2000 {
            seen[sample_token(&logits, &s, &mut rng) as usize] += 1;
        }
        assert_eq!(seen[0] + seen[2], 0);
        assert!(seen[1] > 800 && seen[3] > 800, "{seen:?}");
        let p = Sampling {
            temperature: 1.0,
            top_p: 0.5,
            ..Sampling::default()
        };
        for _ in 0..100 {
            assert_eq!(sample_token(&logits, &p, &mut rng), 1);
        }
    }
}
