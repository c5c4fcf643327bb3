//! One module per subcommand, plus what they share.

pub mod bench_matvec;
pub mod compare;
pub mod compress;
pub mod decompress;
pub mod embed;
pub mod embed_eval;
pub mod generate;
pub mod index;
pub mod inspect;
pub mod model;
pub mod model_sweep;
pub mod perplexity;
pub mod probe;
pub mod reorder;
pub mod repack;
pub mod signal;
pub mod sweep;

use std::path::Path;

use std::sync::Mutex;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tensorjpeg::Tensor;
pub use tensorjpeg_eval::report::num;

/// Reads a tensor file (.safetensors, .npy, .gguf), naming it in errors.
pub fn read_tensors(path: &Path) -> Result<Vec<Tensor>> {
    // The reader's errors name the file (and tensor) already.
    Ok(tensorjpeg_io::read_tensors(path)?)
}

/// A progress bar over `n` tensors, hidden when `quiet` or stderr is not a terminal.
pub fn progress(n: usize, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// An experiment's progress ([`tensorjpeg_eval::Progress`]) on an indicatif bar per phase,
/// hidden when `quiet` or stderr is not a terminal.
pub struct Bar {
    quiet: bool,
    bar: Mutex<ProgressBar>,
}

impl Bar {
    /// A bar that shows nothing until the first phase.
    pub fn new(quiet: bool) -> Bar {
        Bar {
            quiet,
            bar: Mutex::new(ProgressBar::hidden()),
        }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(b) = self.bar.lock() {
            f(&b);
        }
    }
}

impl tensorjpeg_eval::Progress for Bar {
    fn phase(&self, what: &str, len: usize) {
        if let Ok(mut b) = self.bar.lock() {
            b.finish_and_clear();
            *b = progress(len, self.quiet, what);
        }
    }
    fn message(&self, msg: &str) {
        self.with(|b| b.set_message(msg.to_string()));
    }
    fn advance(&self, n: usize) {
        self.with(|b| b.inc(n as u64));
    }
    fn note(&self, msg: &str) {
        self.with(|b| b.suspend(|| eprintln!("{msg}")));
    }
    fn finish(&self) {
        self.with(ProgressBar::finish_and_clear);
    }
}

/// Writes `bytes` to `path` atomically (temp file + rename; never over an input or a
/// special file). The error names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(tensorjpeg_io::write_atomic(path, bytes)?)
}

/// Reads a whole file (recorded as an input: no output may replace it). The error names
/// the file once.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    Ok(tensorjpeg_io::read_file(path)?)
}

/// Refuses, before any work, an output that is one of `inputs` (or any file read so far)
/// or that exists and is not a regular file.
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    Ok(tensorjpeg_io::check_output(output, inputs)?)
}
