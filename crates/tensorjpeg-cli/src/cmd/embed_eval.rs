//! `tensorjpeg embed-eval`: embedding-collection codecs judged by retrieval
//! ([`tensorjpeg_eval::embeddings`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use tensorjpeg_eval::embeddings::{self, Dataset};

use super::model::assets_dir;
use super::Bar;

/// Arguments of `embed-eval`.
#[derive(Args, Debug)]
pub struct EmbedEvalArgs {
    /// Sentence-embedding model directory; default assets/minilm.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Evaluation sets (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "enwiki")]
    pub dataset: Vec<Dataset>,
    /// Codecs or codec families (comma-separated): float32, f16, int8, int4, binary,
    /// binary+rescore, binary+int8, pq, opq, pca, klt, klt+search, jpeg (seed 000: one
    /// JPEG per vector at its qualities), jpeg-matrix (the collection as one JPEG), or any
    /// codec spec such as `opq:m=48` or `klt:bytes=64:search:shortlist=50`.
    #[arg(long, value_delimiter = ',', default_value = embeddings::DEFAULT_CODECS)]
    pub codecs: Vec<String>,
    /// Byte budgets (all-in bytes per vector) for the budgeted families.
    #[arg(
        long = "bytes-per-vector",
        value_delimiter = ',',
        default_value = "16,24,32,48,64,96,128,160,192"
    )]
    pub bytes_per_vector: Vec<f64>,
    /// Output directory: results.json, results.csv, report.md, seed000.md, run.json, plots.
    #[arg(long)]
    pub out: PathBuf,
    /// enwiki: sentences sampled from the text (split 1:2:9 into queries, fit, database).
    #[arg(long, default_value_t = 6000)]
    pub sentences: usize,
    /// enwiki: the text file; default assets/text/enwiki.txt.
    #[arg(long, value_name = "PATH")]
    pub text: Option<PathBuf>,
    /// bible: the verse-pair file; default assets/bible/pairs.tsv.
    #[arg(long, value_name = "PATH")]
    pub pairs: Option<PathBuf>,
    /// bible: use at most this many pairs (evenly spaced); default all.
    #[arg(long, value_name = "N")]
    pub max_pairs: Option<usize>,
    /// bible: pairs held out for fitting (both translations).
    #[arg(long, default_value_t = 2000)]
    pub fit_pairs: usize,
    /// Evaluate at most this many queries (evenly spaced); default all.
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// Database pairs for the Spearman correlation.
    #[arg(long, default_value_t = 20_000)]
    pub spearman_pairs: usize,
    /// Queries timed one at a time (single-thread latency).
    #[arg(long, default_value_t = 200)]
    pub latency_queries: usize,
    /// Embedding cache directory (keyed by model and sentences); default OUT/embeddings.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Also write each split as .npy under OUT/splits/ (fit, database, queries; bible: each
    /// query's relevant database row), for peers run outside this program on the same vectors.
    #[arg(long)]
    pub export_splits: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl EmbedEvalArgs {
    /// The evaluation's configuration.
    pub fn config(&self) -> embeddings::Config {
        embeddings::Config {
            model: self.model.clone(),
            datasets: self.dataset.clone(),
            codecs: self.codecs.clone(),
            bytes_per_vector: self.bytes_per_vector.clone(),
            out: self.out.clone(),
            sentences: self.sentences,
            text: self.text.clone(),
            pairs: self.pairs.clone(),
            max_pairs: self.max_pairs,
            fit_pairs: self.fit_pairs,
            queries: self.queries,
            spearman_pairs: self.spearman_pairs,
            latency_queries: self.latency_queries,
            cache: self.cache.clone(),
            assets: assets_dir(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            export_splits: self.export_splits,
        }
    }
}

/// Runs `embed-eval`.
pub fn run(a: &EmbedEvalArgs) -> Result<()> {
    // --quiet hides the bars; notes (skipped points, embedding times) still print.
    let outcome = embeddings::run(&a.config(), &Bar::new(a.quiet))?;
    eprint!("{}", embeddings::report::summary(&outcome.rows));
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
