//! The seed-003 probe as a measuring instrument: alter a language model's token-embedding
//! table (a codec at some quality, or a control), then measure what the model does with it.
//!
//! Seed 003 compresses each token embedding on its own (two-row image, min–max to 8 bits,
//! JPEG, back), so the altered model is simply the model with an altered *input* table
//! (the tied output head stays clean). The probe therefore alters the whole table once per
//! setting, and then:
//! * scores held-out text with every table, window by window, against the clean table's
//!   logits from the same window ([`score_text`]: per-position NLL, KL(clean ‖ altered),
//!   top-1 agreement);
//! * samples from many tables *in one batch*: each sequence of the batch reads the rows of
//!   its own table ([`sample_tables`]), with the same random stream for sample `i` under
//!   every table, so settings differ only by the table. Batching settings together keeps the
//!   matrix products wide (160 rows instead of 20), which is what makes a full sweep fit in
//!   minutes on two cores.

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use tensorjpeg::Rate;

use tensorjpeg_models::eval::{argmax, check_prompt, sample_rng, sample_token, Sampling, Window};
use tensorjpeg_models::hooks::{row_cosines, EmbedHook, NoiseHook};
use tensorjpeg_models::lm::LanguageModel;
use tensorjpeg_models::{Error, Result};

use super::textstats;

/// An embedding table `(vocab × dim)`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Values.
    pub values: Vec<f32>,
    /// Width of a row.
    pub dim: usize,
}

impl Table {
    /// The model's own input table.
    pub fn clean(m: &dyn LanguageModel) -> Result<Table> {
        let e = m.embeddings()?;
        let (_, dim) = e.dims2()?;
        Ok(Table {
            values: e.flatten_all()?.to_vec1()?,
            dim,
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.values.len() / self.dim.max(1)
    }

    /// Mean and minimum cosine between this table's rows and `other`'s.
    pub fn cosines(&self, other: &Table) -> (f64, f64) {
        row_cosines(&self.values, &other.values, self.dim)
    }

    /// Seed 003's figure: the cosine between the flattened embeddings of a token sequence
    /// under the two tables (one number for a whole prompt).
    pub fn sequence_cosine(&self, other: &Table, ids: &[u32]) -> f64 {
        let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
        for &id in ids {
            let r = id as usize * self.dim..(id as usize + 1) * self.dim;
            for (&a, &b) in self.values[r.clone()].iter().zip(&other.values[r]) {
                xy += a as f64 * b as f64;
                xx += a as f64 * a as f64;
                yy += b as f64 * b as f64;
            }
        }
        if xx > 0.0 && yy > 0.0 {
            xy / (xx.sqrt() * yy.sqrt())
        } else {
            1.0
        }
    }
}

/// A table passed through a codec, with what the codec would store.
#[derive(Debug, Clone)]
pub struct CodedTable {
    /// The decoded table.
    pub table: Table,
    /// All-in bits per value (codec parameters and every chunk, JPEG headers included).
    pub bits_per_value: f64,
    /// Bits per value without JPEG file headers (entropy-coded scans plus per-vector
    /// min/max); equal to `bits_per_value` for codecs that have no per-image headers.
    pub bits_per_value_no_headers: f64,
}

/// Compresses → decompresses `clean` with codec `spec` at `rate` (the whole table as one
/// tensor: per-vector codecs such as `jpeg:tworow` code each row on its own).
pub fn code_table(clean: &Table, spec: &str, rate: Rate) -> Result<CodedTable> {
    let codec = tensorjpeg_io::registry().build(spec)?;
    rate.validate()?;
    let shape = [clean.rows(), clean.dim];
    let enc = codec.encode(&clean.values, &shape, rate)?;
    let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
    let values = codec.decode(&enc.params, &chunks, &shape)?;
    let n = clean.values.len().max(1) as f64;
    let all = enc.payload_bytes() as f64;
    let stat = |k: &str| enc.stats.iter().find(|s| s.0 == k).map(|s| s.1);
    let no_headers = match stat("jpeg_header_bytes") {
        Some(h) => all - h,
        None => all,
    };
    Ok(CodedTable {
        table: Table {
            values,
            dim: clean.dim,
        },
        bits_per_value: all * 8.0 / n,
        bits_per_value_no_headers: no_headers * 8.0 / n,
    })
}

/// `clean` plus Gaussian noise at `snr_db` per row ([`NoiseHook`]: a fixed perturbation
/// of each token's embedding, like a codec's).
pub fn noise_table(clean: &Table, snr_db: f64, seed: u64) -> Result<Table> {
    let mut values = clean.values.clone();
    NoiseHook { snr_db, seed }.apply(&mut values, clean.rows(), clean.dim)?;
    Ok(Table {
        values,
        dim: clean.dim,
    })
}

/// Input embeddings `(rows, t, dim)`: sequence `r` takes its `t` tokens' rows from
/// `tables[which[r]]`.
fn gather(tables: &[&Table], which: &[usize], tokens: &[u32], t: usize) -> Result<Tensor> {
    let dim = tables[0].dim;
    let mut x = Vec::with_capacity(tokens.len() * dim);
    for (r, seq) in tokens.chunks(t).enumerate() {
        let tab = tables[which[r]];
        for &id in seq {
            let row = tab
                .values
                .get(id as usize * dim..(id as usize + 1) * dim)
                .ok_or_else(|| {
                    Error::Input(format!(
                        "token id {id} outside the table of {} rows",
                        tab.rows()
                    ))
                })?;
            x.extend_from_slice(row);
        }
    }
    Ok(Tensor::from_vec(x, (which.len(), t, dim), &Device::Cpu)?)
}

/// `log Σ exp(row)` with f32 exponentials summed in blocks (the same value as
/// [`tensorjpeg_models::eval::log_sum_exp`] to ~1e-6, several times faster; tested against it).
pub fn lse(row: &[f32]) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f64 = row
        .chunks(256)
        .map(|c| c.iter().map(|&x| (x - max).exp()).sum::<f32>() as f64)
        .sum();
    max as f64 + s.ln()
}

/// What a table does to teacher-forced prediction of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextScore {
    /// −log p(token) for every scored position, nats, in text order.
    pub nll: Vec<f64>,
    /// KL(clean ‖ this) per scored position, nats.
    pub kl: Vec<f64>,
    /// Share of positions where this table's top token equals the clean table's.
    pub top1_agreement: f64,
}

impl TextScore {
    /// exp(mean NLL).
    pub fn perplexity(&self) -> f64 {
        mean(&self.nll).exp()
    }

    /// Mean KL.
    pub fn kl_mean(&self) -> f64 {
        mean(&self.kl)
    }
}

/// Scores `ids` under every table; `tables[0]` is the reference (the clean table) that KL
/// and top-1 agreement are measured against. Windows as in [`tensorjpeg_models::eval::perplexity`].
/// `progress(done, total)` is called after each window.
pub fn score_text(
    m: &dyn LanguageModel,
    tables: &[&Table],
    ids: &[u32],
    win: Window,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<TextScore>> {
    win.validate(m.config().context)?;
    if tables.is_empty() || ids.len() < 2 {
        return Err(Error::Input(format!(
            "scoring needs a table and at least 2 tokens ({} tables, {} tokens)",
            tables.len(),
            ids.len()
        )));
    }
    let vocab = m.config().vocab;
    let spans = win.spans(ids.len());
    let mut out: Vec<TextScore> = tables
        .iter()
        .map(|_| TextScore {
            nll: Vec::new(),
            kl: Vec::new(),
            top1_agreement: 0.0,
        })
        .collect();
    let mut agree = vec![0usize; tables.len()];
    for (wi, &(begin, end, scored)) in spans.iter().enumerate() {
        let w = &ids[begin..end];
        let targets = &w[w.len() - scored..];
        // The clean table's probabilities and log-normalisers of this window, against which
        // KL(clean ‖ t) = Σ p·(a − b) − lse(a) + lse(b) needs one pass over each row.
        let mut ref_p: Vec<f32> = Vec::new();
        let mut ref_lse: Vec<f64> = Vec::new();
        let mut ref_top: Vec<usize> = Vec::new();
        let mut ref_rows: Vec<f32> = Vec::new();
        for (s, tab) in tables.iter().enumerate() {
            let x = gather(&[tab], &[0], w, w.len())?;
            let mut cache = m.new_cache();
            let logits = m.forward_embeds(&x, &mut cache, scored + 1)?;
            let rows: Vec<f32> = logits
                .squeeze(0)?
                .narrow(0, 0, scored)?
                .flatten_all()?
                .to_vec1()?;
            if s == 0 {
                ref_lse = rows.par_chunks(vocab).map(lse).collect();
                ref_top = rows.par_chunks(vocab).map(argmax).collect();
                ref_p = rows.clone();
                ref_p
                    .par_chunks_mut(vocab)
                    .zip(&ref_lse)
                    .for_each(|(r, &l)| {
                        r.iter_mut().for_each(|x| *x = (*x as f64 - l).exp() as f32)
                    });
                ref_rows = rows;
                for (i, &l) in ref_lse.iter().enumerate() {
                    out[0]
                        .nll
                        .push(l - ref_rows[i * vocab + targets[i] as usize] as f64);
                    out[0].kl.push(0.0);
                }
                agree[0] += scored;
                continue;
            }
            let per: Vec<(f64, f64, bool)> = rows
                .par_chunks(vocab)
                .enumerate()
                .map(|(i, row)| {
                    let lb = lse(row);
                    let nll = lb - row[targets[i] as usize] as f64;
                    let a = &ref_rows[i * vocab..(i + 1) * vocab];
                    let p = &ref_p[i * vocab..(i + 1) * vocab];
                    let dot: f64 = p
                        .chunks(256)
                        .zip(a.chunks(256).zip(row.chunks(256)))
                        .map(|(pc, (ac, bc))| {
                            pc.iter()
                                .zip(ac.iter().zip(bc))
                                .map(|(&p, (&x, &y))| p * (x - y))
                                .sum::<f32>() as f64
                        })
                        .sum();
                    let kl = (dot - ref_lse[i] + lb).max(0.0);
                    (nll, kl, argmax(row) == ref_top[i])
                })
                .collect();
            for (nll, kl, same) in per {
                out[s].nll.push(nll);
                out[s].kl.push(kl);
                agree[s] += usize::from(same);
            }
        }
        progress(wi + 1, spans.len());
    }
    for (o, a) in out.iter_mut().zip(agree) {
        o.top1_agreement = a as f64 / o.nll.len().max(1) as f64;
    }
    Ok(out)
}

/// Samples `samples` continuations of `prompt` under each table, all in one batch:
/// `result[t][i]` is sample `i` under `tables[t]`, drawn with the random stream of sample
/// `i` (the same under every table). Stops a sample at end-of-sequence when `s` says so.
pub fn sample_tables(
    m: &dyn LanguageModel,
    prompt: &[u32],
    tables: &[&Table],
    samples: usize,
    s: &Sampling,
) -> Result<Vec<Vec<Vec<u32>>>> {
    check_prompt(m, prompt, s)?;
    let b = tables.len() * samples;
    if b == 0 {
        return Ok(vec![Vec::new(); tables.len()]);
    }
    let which: Vec<usize> = (0..b).map(|r| r / samples).collect();
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); b];
    let eos = m.tokenizer().eos;
    let vocab = m.config().vocab;
    let mut cache = m.new_cache();
    let batch_prompt: Vec<u32> = (0..b).flat_map(|_| prompt.iter().copied()).collect();
    let x = gather(tables, &which, &batch_prompt, prompt.len())?;
    let mut logits = m.forward_embeds(&x, &mut cache, 1)?;
    // Batch row j holds sample `alive[j]` (None once it has finished) and its generator.
    // Finished rows leave the batch and the cache once they are a quarter of it.
    let mut alive: Vec<Option<usize>> = (0..b).map(Some).collect();
    let mut rngs: Vec<_> = (0..b).map(|r| sample_rng(s.seed, r % samples)).collect();
    for step in 0..s.max_tokens {
        let rows: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        let mut next: Vec<u32> = rows
            .par_chunks(vocab)
            .zip(rngs.par_iter_mut())
            .zip(alive.par_iter())
            .map(|((row, rng), a)| a.map_or(0, |_| sample_token(row, s, rng)))
            .collect();
        for (a, &tok) in alive.iter_mut().zip(&next) {
            let Some(r) = *a else { continue };
            if s.stop_at_eos && Some(tok) == eos {
                *a = None;
            } else {
                out[r].push(tok);
            }
        }
        let live = alive.iter().flatten().count();
        if live == 0 || step + 1 == s.max_tokens {
            break;
        }
        if live * 4 <= alive.len() * 3 {
            let keep: Vec<usize> = (0..alive.len()).filter(|&j| alive[j].is_some()).collect();
            cache.retain(&keep)?;
            alive = keep.iter().map(|&j| alive[j]).collect();
            rngs = keep.iter().map(|&j| rngs[j].clone()).collect();
            next = keep.iter().map(|&j| next[j]).collect();
        }
        // Finished rows still in the batch read table 0; their output is ignored.
        let rows_which: Vec<usize> = alive.iter().map(|a| a.map_or(0, |r| which[r])).collect();
        let x = gather(tables, &rows_which, &next, 1)?;
        logits = m.forward_embeds(&x, &mut cache, 1)?;
    }
    let mut per_table = vec![Vec::with_capacity(samples); tables.len()];
    for (r, seq) in out.into_iter().enumerate() {
        per_table[which[r]].push(seq);
    }
    Ok(per_table)
}

/// Mean and standard deviation (over samples) of one statistic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for fewer than two samples).
    pub std: f64,
}

impl Spread {
    /// Of `v`.
    pub fn of(v: &[f64]) -> Spread {
        let m = mean(v);
        let std = if v.len() > 1 {
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
        } else {
            0.0
        };
        Spread { mean: m, std }
    }
}

/// Diversity and repetition of a set of generations ([`textstats`]), each a spread over
/// the samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenStats {
    /// Samples.
    pub samples: usize,
    /// New tokens per sample.
    pub length: Spread,
    /// Distinct unigrams / unigrams.
    pub distinct_1: Spread,
    /// Distinct bigrams / bigrams.
    pub distinct_2: Spread,
    /// Distinct trigrams / trigrams.
    pub distinct_3: Spread,
    /// Share of 4-grams already seen earlier in the sample.
    pub repeated_4gram_share: Spread,
    /// Longest token run occurring twice.
    pub longest_repeated_span: Spread,
    /// Tokens before the first exact loop ([`textstats::first_loop`]; the length if none).
    pub tokens_before_first_loop: Spread,
    /// Share of samples that fall into an exact loop.
    pub loop_share: f64,
}

impl GenStats {
    /// Of `samples` (token ids of each generation, prompt excluded).
    pub fn of(samples: &[Vec<u32>]) -> GenStats {
        let f = |g: &dyn Fn(&[u32]) -> f64| -> Spread {
            Spread::of(&samples.iter().map(|s| g(s)).collect::<Vec<_>>())
        };
        let looped = samples
            .iter()
            .filter(|s| textstats::first_loop(s) < s.len())
            .count();
        GenStats {
            samples: samples.len(),
            length: f(&|s| s.len() as f64),
            distinct_1: f(&|s| textstats::distinct_n(s, 1)),
            distinct_2: f(&|s| textstats::distinct_n(s, 2)),
            distinct_3: f(&|s| textstats::distinct_n(s, 3)),
            repeated_4gram_share: f(&|s| textstats::repeated_ngram_share(s, 4)),
            longest_repeated_span: f(&|s| textstats::longest_repeated_span(s) as f64),
            tokens_before_first_loop: f(&|s| textstats::first_loop(s) as f64),
            loop_share: looped as f64 / samples.len().max(1) as f64,
        }
    }
}

/// Mean of `v` (0 for none).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Standard error of the mean of a correlated series by batch means: the series is cut
/// into consecutive blocks of `block` values and the blocks' means are treated as
/// independent (neighbouring tokens' losses are correlated, so the plain formula is too
/// optimistic).
pub fn batch_means_se(v: &[f64], block: usize) -> f64 {
    let block = block.max(1);
    let means: Vec<f64> = v
        .chunks(block)
        .filter(|c| c.len() == block)
        .map(mean)
        .collect();
    if means.len() < 2 {
        return f64::NAN;
    }
    Spread::of(&means).std / (means.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_cosine_and_row_cosines() {
        let a = Table {
            values: vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            dim: 2,
        };
        let b = Table {
            values: vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
            dim: 2,
        };
        let (m, lo) = a.cosines(&b);
        assert!((m - 2.0 / 3.0).abs() < 1e-12 && lo.abs() < 1e-12);
        assert!((a.sequence_cosine(&b, &[0, 2]) - 1.0).abs() < 1e-12);
        // Flattened [1,0,0,1] vs [1,0,1,0]: cosine 1/2.
        assert!((a.sequence_cosine(&b, &[0, 1]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn jpeg_table_reports_headers_and_noise_hits_the_cosine() {
        let rows = 64;
        let dim = 96;
        let clean = Table {
            values: (0..rows * dim)
                .map(|i| ((i * 7919 % 1013) as f32 / 1013.0) - 0.5)
                .collect(),
            dim,
        };
        let c = code_table(&clean, "jpeg:tworow", Rate::Quality(50)).unwrap();
        assert!(c.bits_per_value > c.bits_per_value_no_headers);
        assert!(c.bits_per_value_no_headers > 0.0);
        let (cm, _) = c.table.cosines(&clean);
        assert!(cm < 0.9999 && cm > 0.5, "{cm}");
        let n = noise_table(&clean, NoiseHook::snr_for_cosine(cm), 3).unwrap();
        let (nm, _) = n.cosines(&clean);
        assert!((nm - cm).abs() < 0.02, "{nm} vs {cm}");
        assert!(code_table(&clean, "jpeg:tworow", Rate::Quality(0)).is_err());
        assert!(code_table(&clean, "nosuch", Rate::Default).is_err());
    }

    #[test]
    fn fast_lse_and_kl_match_the_reference() {
        use tensorjpeg_models::eval::{kl_row, log_sum_exp};
        let a: Vec<f32> = (0..5000)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..5000)
            .map(|i| ((i * 53 % 97) as f32 - 40.0) / 6.0)
            .collect();
        assert!((lse(&a) - log_sum_exp(&a)).abs() < 1e-5);
        let la = lse(&a);
        let p: Vec<f32> = a.iter().map(|&x| (x as f64 - la).exp() as f32).collect();
        let dot: f64 = p
            .iter()
            .zip(a.iter().zip(&b))
            .map(|(&p, (&x, &y))| (p * (x - y)) as f64)
            .sum();
        let kl = dot - la + lse(&b);
        assert!(
            (kl - kl_row(&a, &b)).abs() < 1e-4 * kl_row(&a, &b).max(1.0),
            "{kl}"
        );
    }

    #[test]
    fn gen_stats_and_batch_means() {
        let g = GenStats::of(&[
            vec![1, 2, 3, 4],
            vec![5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        ]);
        assert_eq!(g.samples, 2);
        assert_eq!(g.length.mean, 8.5);
        assert_eq!(g.distinct_1.mean, (1.0 + 1.0 / 13.0) / 2.0);
        assert_eq!(g.loop_share, 0.5);
        let se = batch_means_se(&[1.0, 1.0, 3.0, 3.0, 1.0, 1.0, 3.0, 3.0], 2);
        assert!((se - (4f64 / 3.0).sqrt() / 2.0).abs() < 1e-12, "{se}");
        assert!(batch_means_se(&[1.0], 2).is_nan());
    }
}
