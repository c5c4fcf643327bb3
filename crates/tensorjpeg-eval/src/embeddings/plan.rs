//! What `embed-eval` is asked to run ([`Config`]) and what it measures ([`Row`]).

use std::path::PathBuf;

use super::families::Planned;
use anyhow::{bail, Result};

use super::measure::Measured;

/// The evaluation sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Dataset {
    /// Neighbour preservation on enwiki sentences (no relevance labels).
    Enwiki,
    /// Paraphrase retrieval: World English Bible verse → its King James verse.
    Bible,
}

impl Dataset {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Enwiki => "enwiki",
            Dataset::Bible => "bible",
        }
    }
}

/// What to run. [`Config::default`] has the CLI's defaults (with `out` empty).
#[derive(Debug, Clone)]
pub struct Config {
    /// Sentence-embedding model directory; default `assets/minilm`.
    pub model: Option<PathBuf>,
    /// Evaluation sets.
    pub datasets: Vec<Dataset>,
    /// Codecs or codec families ([`DEFAULT_CODECS`]; any vector-codec spec).
    pub codecs: Vec<String>,
    /// Byte budgets (all-in bytes per vector) for the budgeted families.
    pub bytes_per_vector: Vec<f64>,
    /// Output directory.
    pub out: PathBuf,
    /// enwiki: sentences sampled from the text (split 1:2:9 into queries, fit, database).
    pub sentences: usize,
    /// enwiki: the text file; default `assets/text/enwiki.txt`.
    pub text: Option<PathBuf>,
    /// bible: the verse-pair file; default `assets/bible/pairs.tsv`.
    pub pairs: Option<PathBuf>,
    /// bible: use at most this many pairs (evenly spaced); default all.
    pub max_pairs: Option<usize>,
    /// bible: pairs held out for fitting (both translations).
    pub fit_pairs: usize,
    /// Evaluate at most this many queries (evenly spaced); default all.
    pub queries: Option<usize>,
    /// Database pairs for the Spearman correlation.
    pub spearman_pairs: usize,
    /// Queries timed one at a time (single-thread latency).
    pub latency_queries: usize,
    /// Embedding cache directory (keyed by model and sentences); default `OUT/embeddings`.
    pub cache: Option<PathBuf>,
    /// The assets folder the default paths are under.
    pub assets: PathBuf,
    /// The command line, recorded in run.json and report.md.
    pub command: String,
    /// Also write each dataset's split as `.npy` files under `OUT/splits/` (fit, database,
    /// queries, and for bible each query's relevant database row), so that peers outside
    /// this program (faiss, scripts) run on exactly these vectors.
    pub export_splits: bool,
}

/// The default codec list: every baseline family, seed 000's JPEG, and the KLT codec.
pub const DEFAULT_CODECS: &str = "float32,f16,int8,int4,binary,binary+rescore,binary+int8,\
pq,opq,pca,jpeg,jpeg-matrix,klt,klt+search";

/// The default byte budgets.
pub const DEFAULT_BUDGETS: [f64; 9] = [16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0, 160.0, 192.0];

impl Default for Config {
    fn default() -> Self {
        Config {
            model: None,
            datasets: vec![Dataset::Enwiki],
            codecs: DEFAULT_CODECS.split(',').map(String::from).collect(),
            bytes_per_vector: DEFAULT_BUDGETS.to_vec(),
            out: PathBuf::new(),
            sentences: 6000,
            text: None,
            pairs: None,
            max_pairs: None,
            fit_pairs: 2000,
            queries: None,
            spearman_pairs: 20_000,
            latency_queries: 200,
            cache: None,
            assets: PathBuf::from("assets"),
            command: String::new(),
            export_splits: false,
        }
    }
}

impl Config {
    /// Checks the configuration before any work (messages name the CLI's flags).
    pub fn check(&self) -> Result<()> {
        if self.codecs.iter().all(|c| c.trim().is_empty()) {
            bail!("--codecs: give at least one codec or family");
        }
        if let Some(b) = self
            .bytes_per_vector
            .iter()
            .find(|b| !(b.is_finite() && **b > 0.0))
        {
            bail!("--bytes-per-vector {b}: every budget must be > 0");
        }
        if self.sentences < 24 {
            bail!(
                "--sentences {}: at least 24 (queries, fit and database are split 1:2:9)",
                self.sentences
            );
        }
        if self.fit_pairs == 0 {
            bail!("--fit-pairs 0: at least 1 pair must be held out for fitting");
        }
        if self.queries == Some(0) {
            bail!("--queries 0: at least 1");
        }
        Ok(())
    }

    /// Whether the JPEG-image measurements (seed000.md) are asked for: the `jpeg` family.
    pub fn wants_jpeg_images(&self) -> bool {
        self.codecs.iter().any(|c| c.trim() == "jpeg")
    }
}

/// One result row: dataset, plan entry, measurements.
pub struct Row {
    /// Dataset name.
    pub dataset: &'static str,
    /// What was run.
    pub planned: Planned,
    /// What was measured.
    pub m: Measured,
    /// Sizes: database, queries, fit vectors.
    pub sizes: (usize, usize, usize),
}

/// Run facts for run.json and the report header.
pub struct Context {
    /// The command line.
    pub command: String,
    /// Model path.
    pub model: String,
    /// Budgets a family could not meet.
    pub skipped: Vec<String>,
    /// Seconds spent embedding, per dataset.
    pub embed_s: Vec<(&'static str, f64)>,
    /// Wall-clock seconds of the whole run.
    pub total_s: f64,
}
