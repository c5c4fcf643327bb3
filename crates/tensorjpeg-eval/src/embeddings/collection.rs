//! The evaluation collections: a dataset's sentences embedded with the model (through an
//! on-disk cache keyed by the model's files and the sentences) and split into fit,
//! database and query vectors ([`super::datasets`] defines the splits).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use tensorjpeg_models::bert::Embedder;

use super::datasets;
use super::measure::Split;
use super::plan::{Config, Dataset};
use crate::Progress;

/// One dataset, embedded and split.
pub struct Prepared {
    /// Which set.
    pub dataset: Dataset,
    /// Embedding dimension.
    pub dim: usize,
    /// Fit vectors.
    pub train: Vec<f32>,
    /// Database vectors.
    pub base: Vec<f32>,
    /// Query vectors.
    pub queries: Vec<f32>,
    /// Relevant database index per query (bible).
    pub relevant: Option<Vec<u32>>,
    /// Seconds spent embedding (0 when cached).
    pub embed_s: f64,
}

impl Prepared {
    /// Writes the split as `.npy` files in `dir`: `{set}-fit.npy`, `{set}-database.npy`,
    /// `{set}-queries.npy` (float32 `[n, dim]`) and, where relevance is known,
    /// `{set}-relevant.npy` (int64, one database row per query).
    pub fn export(&self, dir: &Path) -> Result<()> {
        use tensorjpeg_io::npy::npy_bytes;
        let name = self.dataset.name();
        let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        for (part, v) in [
            ("fit", &self.train),
            ("database", &self.base),
            ("queries", &self.queries),
        ] {
            let shape = [v.len() / self.dim, self.dim];
            let p = dir.join(format!("{name}-{part}.npy"));
            tensorjpeg_io::write_atomic(&p, &npy_bytes("<f4", &shape, &f32s(v)))?;
        }
        if let Some(r) = &self.relevant {
            let b: Vec<u8> = r.iter().flat_map(|&i| i64::from(i).to_le_bytes()).collect();
            let p = dir.join(format!("{name}-relevant.npy"));
            tensorjpeg_io::write_atomic(&p, &npy_bytes("<i8", &[r.len()], &b))?;
        }
        Ok(())
    }

    /// The split as the measurement takes it.
    pub fn split(&self) -> Split<'_> {
        Split {
            train: &self.train,
            base: &self.base,
            queries: &self.queries,
            dim: self.dim,
            relevant: self.relevant.as_deref(),
        }
    }
}

/// Evenly spaced subset of `idx` of at most `n`.
fn thin(idx: Vec<usize>, n: Option<usize>) -> Vec<usize> {
    match n {
        Some(n) if n < idx.len() => (0..n).map(|i| idx[i * idx.len() / n]).collect(),
        _ => idx,
    }
}

fn rows_of(x: &[f32], d: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
        .collect()
}

/// Loads, embeds (or reads from the cache) and splits one dataset.
pub fn prepare(
    a: &Config,
    ds: Dataset,
    model: &Embedder,
    model_path: &Path,
    cache: &Path,
    progress: &dyn Progress,
) -> Result<Prepared> {
    let d = model.dim();
    match ds {
        Dataset::Enwiki => {
            let path = a
                .text
                .clone()
                .unwrap_or_else(|| a.assets.join("text/enwiki.txt"));
            let (s, split) = datasets::enwiki(&path, a.sentences)?;
            let (x, embed_s) = embed_cached(model, model_path, &s, cache, "enwiki", progress)?;
            let q = thin(split.queries, a.queries);
            Ok(Prepared {
                dataset: ds,
                dim: d,
                train: rows_of(&x, d, &split.fit),
                base: rows_of(&x, d, &split.database),
                queries: rows_of(&x, d, &q),
                relevant: None,
                embed_s,
            })
        }
        Dataset::Bible => {
            let path = a
                .pairs
                .clone()
                .unwrap_or_else(|| a.assets.join("bible/pairs.tsv"));
            let p = datasets::bible(&path, a.max_pairs)?;
            let n = p.refs.len();
            let (held, eval) = datasets::bible_split(n, a.fit_pairs);
            let (web, t1) = embed_cached(model, model_path, &p.web, cache, "bible-web", progress)?;
            let (kjv, t2) = embed_cached(model, model_path, &p.kjv, cache, "bible-kjv", progress)?;
            let mut train = rows_of(&kjv, d, &held);
            train.extend(rows_of(&web, d, &held));
            let qpos = thin((0..eval.len()).collect(), a.queries);
            let qidx: Vec<usize> = qpos.iter().map(|&t| eval[t]).collect();
            Ok(Prepared {
                dataset: ds,
                dim: d,
                train,
                base: rows_of(&kjv, d, &eval),
                queries: rows_of(&web, d, &qidx),
                relevant: Some(qpos.iter().map(|&t| t as u32).collect()),
                embed_s: t1 + t2,
            })
        }
    }
}

/// FNV-1a 64 over bytes.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// Embeds `sentences`, or reads them from the cache (keyed by the model's files and the
/// sentences); returns the vectors and the seconds spent embedding.
fn embed_cached(
    model: &Embedder,
    model_path: &Path,
    sentences: &[String],
    cache: &Path,
    name: &str,
    progress: &dyn Progress,
) -> Result<(Vec<f32>, f64)> {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        let p = model_path.join(f);
        if let Ok(meta) = std::fs::metadata(&p) {
            fnv(&mut h, &meta.len().to_le_bytes());
            // Weights: length plus the first MiB (the header names every tensor); only
            // that much is read.
            let mut head = Vec::new();
            if let Ok(f) = std::fs::File::open(&p) {
                use std::io::Read;
                f.take(1 << 20).read_to_end(&mut head).ok();
            }
            fnv(&mut h, &head);
        }
    }
    for s in sentences {
        fnv(&mut h, s.as_bytes());
        fnv(&mut h, b"\n");
    }
    let file = cache.join(format!(
        "{name}-{}x{}-{h:016x}.npy",
        sentences.len(),
        model.dim()
    ));
    if let Ok(t) = tensorjpeg_io::read_tensors(&file) {
        if let Some(v) = t.first().and_then(|t| t.values()) {
            if v.len() == sentences.len() * model.dim() && v.iter().all(|x| x.is_finite()) {
                return Ok((v.to_vec(), 0.0));
            }
        }
        progress.note(&format!(
            "{}: stale or damaged cache entry, re-embedding",
            file.display()
        ));
    }
    let t = Instant::now();
    progress.phase(&format!("embedding {name}"), sentences.len());
    let mut out = Vec::with_capacity(sentences.len() * model.dim());
    for chunk in sentences.chunks(256) {
        out.extend(model.embed(chunk)?);
        progress.advance(chunk.len());
    }
    progress.finish();
    let secs = t.elapsed().as_secs_f64();
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let tensor = tensorjpeg::Tensor::from_f32(
        "embeddings",
        vec![sentences.len(), model.dim()],
        out.clone(),
    )?;
    tensorjpeg_io::write_tensors(&file, &[tensor])
        .with_context(|| format!("writing {}", file.display()))?;
    progress.note(&format!(
        "embedded {} {name} sentences in {secs:.1} s ({:.0}/s) → {}",
        sentences.len(),
        sentences.len() as f64 / secs.max(1e-9),
        file.display()
    ));
    Ok((out, secs))
}
