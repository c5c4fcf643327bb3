//! `tensorjpeg`: compress, inspect, compare and sweep tensor files; evaluate models
//! (perplexity, generation, embeddings) with codecs on their inputs or weights.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Compress the tensors of AI systems with the JPEG architecture.
#[derive(Parser, Debug)]
#[command(name = "tensorjpeg", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
    /// Most values one tensor (or image) of an input file may declare before it is
    /// decoded; 0 = no cap. See docs/SECURITY.md.
    #[arg(long, global = true, value_name = "N", default_value_t = tensorjpeg::Limits::default().max_elements)]
    max_elements: u64,
    /// Most decoded f32 bytes per byte of an input container, for the whole file (a file may
    /// always decode to 64 Mi values); 0 = no cap. See docs/SECURITY.md.
    #[arg(long, global = true, value_name = "R", default_value_t = tensorjpeg::Limits::default().max_ratio)]
    max_ratio: f64,
}

/// How hard to compress (at most one; the codec's default otherwise).
#[derive(Args, Debug, Clone, Default)]
#[group(multiple = false)]
pub struct RateArgs {
    /// JPEG-like quality 1..=100 (higher is better).
    #[arg(long, value_name = "Q")]
    pub quality: Option<u8>,
    /// Target all-in bits per value (searched; achieved figure reported).
    #[arg(long, value_name = "B")]
    pub bits: Option<f64>,
    /// Target SNR in dB (searched; achieved figure reported).
    #[arg(long, value_name = "DB")]
    pub snr: Option<f64>,
    /// Guaranteed bound on every element's absolute error (verified after decoding).
    #[arg(long = "max-error", value_name = "E")]
    pub max_error: Option<f64>,
}

impl RateArgs {
    fn rate(&self) -> tensorjpeg::Rate {
        use tensorjpeg::Rate;
        if let Some(q) = self.quality {
            Rate::Quality(q)
        } else if let Some(b) = self.bits {
            Rate::Bits(b)
        } else if let Some(s) = self.snr {
            Rate::Snr(s)
        } else if let Some(e) = self.max_error {
            Rate::MaxError(e)
        } else {
            Rate::Default
        }
    }
}

/// Which tensors a command works on.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Only tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Skip tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Only tensors with at least this many dimensions (2 = weight matrices). `compress`
    /// defaults to 2 for a file holding matrices (norms and biases stay exact), else 0.
    #[arg(long, value_name = "N")]
    pub min_ndim: Option<usize>,
}

impl SelectArgs {
    /// (include, exclude, min_ndim) as [`tensorjpeg_eval::plan::PlanConfig::from_flags`]
    /// takes them.
    pub fn filters(&self) -> (Option<&str>, Option<&str>, Option<usize>) {
        (
            self.include.as_deref(),
            self.exclude.as_deref(),
            self.min_ndim,
        )
    }

    /// The selection as a plan (the regexes compiled; a bad one names its flag).
    pub fn plan(&self) -> anyhow::Result<tensorjpeg_eval::plan::PlanConfig> {
        tensorjpeg_eval::plan::PlanConfig::from_flags(
            "raw",
            tensorjpeg::Rate::Default,
            self.filters(),
            Vec::new(),
            Default::default(),
        )
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compress a .safetensors, .npy or .gguf file into a tensorjpeg container.
    Compress {
        /// Input tensor file.
        input: PathBuf,
        /// Output container (written atomically).
        #[arg(short, long)]
        output: PathBuf,
        /// Codec spec: native[:LAYOUT][:TRANSFORM][:k=v], jpeg[:tworow|matrix|tiles], f16, bf16, q8_0, q4_0, q4_1, q4_k, svd, zstd, raw.
        #[arg(long, default_value = "native")]
        codec: String,
        #[command(flatten)]
        rate: RateArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// Per-tensor rule REGEX=SPEC[@RATE] (repeatable, first match wins; SPEC `exact`
        /// stores verbatim; the regex ends at the first '=').
        #[arg(long, value_name = "RULE")]
        rule: Vec<tensorjpeg_eval::plan::Rule>,
        /// How a --bits budget is shared: the same bits for every tensor; one budget at one
        /// rate–distortion slope (least total squared error); one slope of the model's
        /// calibrated, weighted error; or that with GPTQ error feedback (needs --calibration;
        /// with `--codec native:tcq` the feedback runs inside the trellis search).
        #[arg(long, value_enum, default_value_t)]
        allocate: tensorjpeg_eval::plan::Allocation,
        /// Text to calibrate --allocate weighted|gptq on (never your evaluation text): a sentence
        /// embedder's model.safetensors (config.json, tokenizer.json beside it) or a .gguf.
        #[arg(long, value_name = "TEXT")]
        calibration: Option<PathBuf>,
        /// With --allocate global|weighted|gptq: re-quantize matrices a GGUF file holds as
        /// Q4_0/Q4_1/Q8_0 blocks like any other tensor. By default the allocation may keep
        /// them exactly, their own blocks entropy-coded (`q4_1:packed`), where lossy coding
        /// would save less than 0.36 bits per value (`tensorjpeg::allocation::KEEP_SAVING`).
        #[arg(long)]
        requantize: bool,
        /// Print a JSON report instead of a table (no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// Decompress a container into .safetensors, .npy or .gguf (chosen by OUT's extension),
    /// or restore a repacked .tjgguf to its GGUF file.
    Decompress {
        /// Input container (or .tjgguf).
        input: PathBuf,
        /// Output file (.safetensors, .npy, or .gguf with --like; .gguf for a .tjgguf).
        #[arg(short, long)]
        output: PathBuf,
        /// .gguf output: the model file the container came from (metadata, tokenizer and
        /// tensor order copied; matrices F32, or F16 with --f16), for llama.cpp to run.
        #[arg(long, value_name = "GGUF")]
        like: Option<PathBuf>,
        /// .gguf output: matrices as F16 instead of F32.
        #[arg(long, requires = "like")]
        f16: bool,
    },
    /// Store a GGUF file losslessly in fewer bytes (.tjgguf): its Q4_0/Q4_1/Q8_0 blocks
    /// entropy-coded. `decompress` restores it bit for bit; the runtime loads it as it is.
    Repack {
        /// Input .gguf.
        input: PathBuf,
        /// Output .tjgguf (written atomically, after checking that it restores).
        #[arg(short, long)]
        output: PathBuf,
        /// JSON report.
        #[arg(long)]
        json: bool,
    },
    /// List the tensors of a container or tensor file.
    Inspect {
        /// Container, .safetensors, .npy or .gguf.
        file: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Compare a tensor file with a decompressed file or a container.
    Compare {
        /// The original tensors.
        original: PathBuf,
        /// A decompressed tensor file or a tensorjpeg container.
        other: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Rate–distortion sweep over codecs and rates: DIR/sweep.{csv,json,png}.
    Sweep(cmd::sweep::SweepArgs),
    /// Teacher-forced perplexity of a text under a language model (sliding window).
    Perplexity(cmd::perplexity::PerplexityArgs),
    /// Complete a prompt with a language model (greedy or sampled).
    Generate(cmd::generate::GenerateArgs),
    /// Sentence embeddings (a BERT/MiniLM or MPNet sentence-transformers model), one sentence per line, into an .npy file.
    Embed(cmd::embed::EmbedArgs),
    /// Embedding-collection codecs at equal bytes per vector, judged by retrieval on real
    /// sentence embeddings (enwiki neighbours, Bible paraphrases); seed 000 reproduced.
    EmbedEval(cmd::embed_eval::EmbedEvalArgs),
    /// A persisted embedding index (.tjv): build from .npy vectors, add, search in the
    /// compressed domain, inspect, decode.
    Index {
        #[command(subcommand)]
        cmd: cmd::index::IndexCommand,
    },
    /// Seed 004: permute each MLP's hidden units (rows of up/gate and their bias, columns of
    /// down) so that neighbouring rows are alike; the model computes the same function.
    Reorder {
        /// Input .safetensors (or .gguf, written out dequantized).
        input: PathBuf,
        /// Output .safetensors, or .gguf for a .gguf input (its metadata and tokenizer kept;
        /// written atomically).
        #[arg(short, long)]
        output: PathBuf,
        /// Norm order or a greedy nearest-neighbour chain.
        #[arg(long, value_enum, default_value = "nearest")]
        order: tensorjpeg_eval::reorder::Order,
    },
    /// Whole models judged by the model: every tensor through a codec plan, the container
    /// loaded by the runtime, embeddings compared with the original model's.
    ModelSweep(cmd::model_sweep::ModelSweepArgs),
    /// Mat-vec products from every weight format (dense f32/f16, candle's GGUF kernels,
    /// tensorjpeg's compute formats) on real matrices, one process per thread count:
    /// DIR/results.{json,csv,md} and a PNG per matrix set.
    BenchMatvec(cmd::bench_matvec::BenchMatvecArgs),
    /// Seed 003 as an experiment: a codec on a language model's input embeddings at each
    /// quality, with controls; perplexity, KL, top-1 and sampled-text statistics; a report.
    Probe(cmd::probe::ProbeArgs),
    /// Seed 002's machine-oriented signal codec (wavelet packets + fitted projection +
    /// int8/uniform latents + lossless coding) for images, audio and volumes: fit, encode,
    /// decode, inspect, and the evaluation against JPEG, WebP and downsampling.
    Signal {
        #[command(subcommand)]
        cmd: cmd::signal::SignalCommand,
    },
}

fn main() -> ExitCode {
    // A closed pipe ends the process quietly (`tensorjpeg inspect … | head`), as it does any
    // Unix filter. SAFETY: SIG_DFL installs no handler; no other thread exists yet.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // No output of this process may replace a file it read (docs/SECURITY.md).
    tensorjpeg_io::guard_inputs();
    // One registry: candle's quantizers join the codec crate's codecs.
    tensorjpeg_io::register_codecs();
    if !(cli.max_ratio.is_finite() && cli.max_ratio >= 0.0) {
        eprintln!(
            "error: --max-ratio {}: expected a finite number >= 0 (0 = no cap)",
            cli.max_ratio
        );
        return ExitCode::FAILURE;
    }
    tensorjpeg::Limits {
        max_elements: cli.max_elements,
        max_ratio: cli.max_ratio,
    }
    .install();
    let r = match cli.cmd {
        Command::Compress {
            input,
            output,
            codec,
            rate,
            select,
            rule,
            allocate,
            calibration,
            requantize,
            json,
        } => cmd::compress::plan_config(&codec, rate.rate(), &select, rule, allocate).and_then(
            |mut plan| {
                plan.requantize = requantize;
                cmd::compress::run(&input, &output, &plan, calibration.as_deref(), json)
            },
        ),
        Command::Decompress {
            input,
            output,
            like,
            f16,
        } => cmd::decompress::run(&input, &output, like.as_deref(), f16),
        Command::Repack {
            input,
            output,
            json,
        } => cmd::repack::run(&input, &output, json),
        Command::Inspect { file, json } => cmd::inspect::run(&file, json),
        Command::Compare {
            original,
            other,
            select,
            json,
        } => cmd::compare::run(&original, &other, &select, json),
        Command::Sweep(args) => cmd::sweep::run(&args),
        Command::Perplexity(args) => cmd::perplexity::run(&args),
        Command::Generate(args) => cmd::generate::run(&args),
        Command::Embed(args) => cmd::embed::run(&args),
        Command::EmbedEval(args) => cmd::embed_eval::run(&args),
        Command::Index { cmd } => cmd::index::run(&cmd),
        Command::ModelSweep(args) => cmd::model_sweep::run(&args),
        Command::BenchMatvec(args) => cmd::bench_matvec::run(&args),
        Command::Reorder {
            input,
            output,
            order,
        } => cmd::reorder::run(&input, &output, order),
        Command::Probe(args) => cmd::probe::run(&args),
        Command::Signal { cmd } => cmd::signal::run(&cmd),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text its parent
/// already shows (an I/O error printed as `path: error`) is not repeated, and a
/// backtrace captured by a library (candle's, under `RUST_BACKTRACE=1`) is cut off.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text
            .split("\nstack backtrace:")
            .next()
            .unwrap_or("")
            .trim_end();
        let text = text.split("\n   0: ").next().unwrap_or("").trim_end();
        if text.is_empty() || out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out
}
