//! `tensorjpeg bench-matvec`: mat-vec products from every weight format on real matrices
//! ([`tensorjpeg_eval::matvec`]). candle fixes its thread pool when first used, so each
//! thread count runs in its own process (this binary, `RAYON_NUM_THREADS=N`) and the parent
//! merges their rows into one report.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;
use tensorjpeg_eval::matvec::{self, Config, Row, SetSpec, Source};
use tensorjpeg_kernels::{Format, Isa};

use super::model::assets_dir;
use super::Bar;

/// Arguments of `bench-matvec`.
#[derive(Args, Debug, Clone)]
pub struct BenchMatvecArgs {
    /// Report folder: results.json, results.csv, results.md, one PNG per matrix set.
    #[arg(long)]
    pub out: PathBuf,
    /// Matrix sets, comma-separated: smollm2, smollm2:ffn_down, minilm, minilm:ffn_out, synthetic-4096
    /// (default all), or LABEL=FILE[:REGEX] for the 2-D tensors of any model file.
    #[arg(long, value_delimiter = ',')]
    pub sets: Vec<String>,
    /// Thread counts, each in its own process.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Activation rows per product.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub batch: Vec<usize>,
    /// Peer formats: f32, f16 (candle gemm), q8_0, q4_0, q4_1, q4k, q3k (candle QMatMul).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "f32,f16,q8_0,q4_0,q4_1,q4k,q3k"
    )]
    pub peers: Vec<String>,
    /// Our compute formats (q8_0, q4_0, q4_1, nl4, nl4h, nl3, nl3h).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "q8_0,q4_0,q4_1,nl4,nl4h,nl3,nl3h"
    )]
    pub formats: Vec<String>,
    /// Our kernels: best (what this CPU runs), scalar, avx2, vnni, all.
    #[arg(long, value_delimiter = ',', default_value = "best")]
    pub kernels: Vec<String>,
    /// Least seconds of timing per (set, format, batch).
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Internal: measure at this process's thread count and write the rows here.
    #[arg(long, hide = true)]
    pub rows_json: Option<PathBuf>,
}

fn sets(names: &[String]) -> Result<Vec<SetSpec>> {
    let defaults = Config::defaults(&assets_dir()).sets;
    if names.is_empty() {
        return Ok(defaults);
    }
    names
        .iter()
        .map(|n| {
            if let Some((label, rest)) = n.split_once('=') {
                let (file, re) = match rest.rsplit_once(':') {
                    Some((f, r)) if !r.contains('/') => (f, r),
                    _ => (rest, "."),
                };
                let include = regex::Regex::new(re)
                    .with_context(|| format!("--sets {n}: {re:?} is not a valid regex"))?;
                return Ok(SetSpec {
                    label: label.to_string(),
                    source: Source::File {
                        path: PathBuf::from(file),
                        include,
                    },
                });
            }
            defaults
                .iter()
                .find(|s| &s.label == n)
                .cloned()
                .with_context(|| {
                    format!(
                        "--sets: unknown set {n:?} (smollm2, smollm2:ffn_down, minilm, minilm:ffn_out, synthetic-4096, or LABEL=FILE[:REGEX])"
                    )
                })
        })
        .collect()
}

fn isas(names: &[String]) -> Result<Vec<Isa>> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "best" => out.push(Isa::detect()),
            "all" => out.extend(Isa::ALL),
            "scalar" => out.push(Isa::Scalar),
            "avx2" => out.push(Isa::Avx2),
            "vnni" | "avx512vnni" => out.push(Isa::Avx512Vnni),
            _ => bail!("--kernels: unknown kernel {n:?} (best, scalar, avx2, vnni, all)"),
        }
    }
    out.dedup();
    Ok(out)
}

/// Runs the command.
pub fn run(a: &BenchMatvecArgs) -> Result<()> {
    if !(a.seconds.is_finite() && a.seconds >= 0.0) {
        bail!("--seconds {}: expected a finite number >= 0", a.seconds);
    }
    if a.batch.iter().any(|&b| b == 0 || b > 4096) {
        bail!("--batch: each batch must be 1..=4096");
    }
    if a.threads.iter().any(|&t| t == 0 || t > 1024) {
        bail!("--threads: each count must be 1..=1024");
    }
    let formats = a
        .formats
        .iter()
        .map(|f| Format::parse(f).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    let cfg = Config {
        sets: sets(&a.sets)?,
        batches: a.batch.clone(),
        peers: a.peers.clone(),
        formats,
        isas: isas(&a.kernels)?,
        seconds: a.seconds,
        out: None,
    };
    if let Some(rows_json) = &a.rows_json {
        let rows = matvec::run(&cfg, &Bar::new(true))?;
        std::fs::write(rows_json, serde_json::to_vec(&rows)?)
            .with_context(|| format!("writing {}", rows_json.display()))?;
        return Ok(());
    }
    tensorjpeg_eval::report::create_dir(&a.out)?;
    let exe = std::env::current_exe().context("locating this executable")?;
    let mut rows: Vec<Row> = Vec::new();
    for &t in &a.threads {
        let tmp = a.out.join(format!(".rows-{t}.json"));
        eprintln!("bench-matvec: {t} thread(s)");
        let mut cmd = Command::new(&exe);
        cmd.env("RAYON_NUM_THREADS", t.to_string())
            .arg("bench-matvec")
            .arg("--out")
            .arg(&a.out)
            .arg("--rows-json")
            .arg(&tmp)
            .arg("--seconds")
            .arg(a.seconds.to_string());
        for (flag, v) in [
            ("--sets", &a.sets),
            ("--peers", &a.peers),
            ("--formats", &a.formats),
            ("--kernels", &a.kernels),
        ] {
            if !v.is_empty() {
                cmd.arg(flag).arg(v.join(","));
            }
        }
        let b: Vec<String> = a.batch.iter().map(usize::to_string).collect();
        cmd.arg("--batch").arg(b.join(","));
        let st = cmd
            .status()
            .context("running bench-matvec for one thread count")?;
        if !st.success() {
            bail!("bench-matvec with {t} thread(s) failed ({st})");
        }
        let bytes = std::fs::read(&tmp).with_context(|| format!("reading {}", tmp.display()))?;
        let _ = std::fs::remove_file(&tmp);
        rows.extend(serde_json::from_slice::<Vec<Row>>(&bytes)?);
    }
    matvec::write_report(&a.out, &rows)?;
    print!("{}", matvec::markdown(&rows));
    println!("report: {}", a.out.display());
    Ok(())
}
