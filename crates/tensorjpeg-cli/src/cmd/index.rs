//! `tensorjpeg index build|add|search|inspect|decode`: a persisted, searchable embedding
//! collection (`.tjv`) coded by the KLT collection codec
//! ([`tensorjpeg::vectors::collection`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use tensorjpeg::vectors::collection::{BuildOptions, Collection, Hit};
use tensorjpeg::vectors::klt::SearchOptions;
use tensorjpeg::vectors::VectorIndex;
use tensorjpeg_io::index::{
    index_from_bytes, read_ids, read_index, read_vectors, write_hits, write_index,
};
use tensorjpeg_io::manifest;

/// `index` subcommands.
#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Build an index from vectors (.npy, float32/float16, [vectors, dimension]).
    Build(BuildArgs),
    /// Add vectors to an index with its codebook kept (never refitted).
    Add(AddArgs),
    /// The k best vectors for each query, scored in the compressed domain.
    Search(SearchArgs),
    /// What an index holds: size, codebook, what it was built with.
    Inspect {
        /// Index (.tjv).
        index: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Decode every vector of an index into an .npy file.
    Decode {
        /// Index (.tjv).
        index: PathBuf,
        /// Output .npy (float32 [vectors, dimension], written atomically).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Arguments of `index build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Vectors to store (.npy).
    pub vectors: PathBuf,
    /// Output index (.tjv, written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// All-in bytes per vector (codes plus the codebook amortised over the collection).
    #[arg(long, value_name = "B")]
    pub bytes_per_vector: f64,
    /// Fit the basis on these vectors (.npy) instead of the collection itself.
    #[arg(long, value_name = "TRAIN")]
    pub fit: Option<PathBuf>,
    /// Ids, one per line (integers, or any text), one per vector.
    #[arg(long)]
    pub ids: Option<PathBuf>,
    /// No coarse code: a smaller index whose every search decodes every vector.
    #[arg(long)]
    pub exhaustive: bool,
    /// JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `index add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Index (.tjv) to add to: rewritten atomically, unless --output is given.
    pub index: PathBuf,
    /// Vectors to add (.npy), of the index's dimension.
    pub vectors: PathBuf,
    /// Their ids, one per line (required when the index has ids).
    #[arg(long)]
    pub ids: Option<PathBuf>,
    /// Write the grown index here and leave INDEX as it is.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `index search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Index (.tjv).
    pub index: PathBuf,
    /// Queries (.npy, [queries, dimension]).
    pub queries: PathBuf,
    /// Hits per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Candidates rescored exactly after the coarse scan (more: closer to exhaustive).
    #[arg(long, default_value_t = SearchOptions::DEFAULT_SHORTLIST)]
    pub shortlist: usize,
    /// Print the hits as JSON (ids, scores, positions).
    #[arg(long, conflicts_with = "output")]
    pub json: bool,
    /// Write the ids (int64) to this .npy and the scores (float32) beside it
    /// (`NAME.scores.npy`), both [queries, k].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Runs an `index` subcommand.
pub fn run(cmd: &IndexCommand) -> Result<()> {
    match cmd {
        IndexCommand::Build(a) => build(a),
        IndexCommand::Add(a) => add(a),
        IndexCommand::Search(a) => search(a),
        IndexCommand::Inspect { index, json } => inspect(index, *json),
        IndexCommand::Decode { index, output } => decode(index, output),
    }
}

fn need_ext(path: &Path, ext: &str, what: &str) -> Result<()> {
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    {
        bail!("{}: {what} takes the extension .{ext}", path.display());
    }
    Ok(())
}

fn build(a: &BuildArgs) -> Result<()> {
    need_ext(&a.output, "tjv", "an embedding index")?;
    let mut inputs: Vec<&Path> = vec![&a.vectors];
    inputs.extend(a.fit.as_deref());
    inputs.extend(a.ids.as_deref());
    super::check_output(&a.output, &inputs)?;
    if !(a.bytes_per_vector.is_finite() && a.bytes_per_vector > 0.0) {
        bail!(
            "--bytes-per-vector {}: expected a number > 0",
            a.bytes_per_vector
        );
    }
    let (x, dim) = read_vectors(&a.vectors)?;
    let fit = match &a.fit {
        Some(p) => {
            let (f, fd) = read_vectors(p)?;
            if fd != dim {
                bail!(
                    "{}: fit vectors of dimension {fd}, but {} holds vectors of dimension {dim}",
                    p.display(),
                    a.vectors.display()
                );
            }
            Some(f)
        }
        None => None,
    };
    let ids = a.ids.as_deref().map(read_ids).transpose()?;
    let t = Instant::now();
    let c = Collection::build(
        &x,
        dim,
        fit.as_deref(),
        ids,
        &BuildOptions {
            bytes_per_vector: a.bytes_per_vector,
            searchable: !a.exhaustive,
        },
    )
    .with_context(|| format!("building an index of {}", a.vectors.display()))?;
    let secs = t.elapsed().as_secs_f64();
    write_index(&a.output, &c)?;
    report(&a.output, &c, "built", secs, a.json, json!({}))
}

/// Prints what an index holds after `what` ("built", "added to") in `secs`.
fn report(
    path: &Path,
    c: &Collection,
    what: &str,
    secs: f64,
    as_json: bool,
    extra: serde_json::Value,
) -> Result<()> {
    let file = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if as_json {
        let mut v = summary(path, c, file);
        v["seconds"] = json!(secs);
        if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        println!("{v}");
    } else {
        eprintln!(
            "{}: {what} in {secs:.2} s — {} vectors of dimension {}, {} bytes ({:.2} bytes/vector \
             all-in; index {:.2}), {} components, {} coarse bytes per vector",
            path.display(),
            c.len(),
            c.dim(),
            file,
            file as f64 / c.len().max(1) as f64,
            c.index.bytes_per_vector(),
            c.index.components(),
            c.index.coarse_bytes(),
        );
    }
    Ok(())
}

fn summary(path: &Path, c: &Collection, file_bytes: u64) -> serde_json::Value {
    let mut v = tensorjpeg_io::index::summary(c, file_bytes as usize);
    v["index"] = json!(path);
    v
}

fn add(a: &AddArgs) -> Result<()> {
    // Rewritten in place when no --output is given: read without recording it as an input
    // (the atomic write replaces it whole, or leaves it untouched on any error).
    let bytes = std::fs::read(&a.index).with_context(|| a.index.display().to_string())?;
    if a.output.is_none() && manifest::is_manifest(&bytes) {
        bail!(
            "{} is a manifest of index shards: give -o NEW.tjv for the joined index with the \
             vectors added (or write another shard with the job that wrote them)",
            a.index.display()
        );
    }
    let out = a.output.clone().unwrap_or_else(|| a.index.clone());
    need_ext(&out, "tjv", "an embedding index")?;
    let mut inputs: Vec<&Path> = vec![&a.vectors];
    inputs.extend(a.ids.as_deref());
    if a.output.is_some() {
        inputs.push(&a.index);
    }
    super::check_output(&out, &inputs)?;
    let (mut c, _) = index_from_bytes(&a.index, &bytes)?;
    let (x, dim) = read_vectors(&a.vectors)?;
    if dim != c.dim() {
        bail!(
            "{}: vectors of dimension {dim}, but the index {} holds dimension {}",
            a.vectors.display(),
            a.index.display(),
            c.dim()
        );
    }
    let ids = a.ids.as_deref().map(read_ids).transpose()?;
    let before = c.len();
    let t = Instant::now();
    let rep = c
        .add(&x, ids)
        .with_context(|| format!("adding {} to {}", a.vectors.display(), a.index.display()))?;
    let secs = t.elapsed().as_secs_f64();
    write_index(&out, &c)?;
    if rep.clamped_vectors > 0 && !a.json {
        eprintln!(
            "note: {} of {} added vectors had values the index's codebook never saw ({} values \
             coded as the nearest it can code); rebuild with a fit set like them if this grows",
            rep.clamped_vectors, rep.added, rep.clamped_values
        );
    }
    report(
        &out,
        &c,
        &format!("{} vectors added to {before}", rep.added),
        secs,
        a.json,
        json!({"added": rep.added, "clamped_vectors": rep.clamped_vectors,
               "clamped_values": rep.clamped_values}),
    )
}

fn search(a: &SearchArgs) -> Result<()> {
    if a.k == 0 {
        bail!("-k 0: expected at least 1 hit per query");
    }
    if let Some(o) = &a.output {
        need_ext(o, "npy", "the hits")?;
        super::check_output(o, &[&a.index, &a.queries])?;
    }
    let c = read_index(&a.index)?;
    let (q, dim) = read_vectors(&a.queries)?;
    if dim != c.dim() {
        bail!(
            "{}: queries of dimension {dim}, but the index {} holds dimension {}",
            a.queries.display(),
            a.index.display(),
            c.dim()
        );
    }
    let t = Instant::now();
    let hits = c.search(&q, a.k, a.shortlist)?;
    let secs = t.elapsed().as_secs_f64();
    let nq = hits.len();
    if let Some(o) = &a.output {
        let sp = write_hits(o, &hits, a.k)?;
        eprintln!(
            "{nq} queries in {secs:.3} s ({:.0} queries/s): ids → {}, scores → {}",
            nq as f64 / secs.max(1e-9),
            o.display(),
            sp.display()
        );
    } else if a.json {
        let rows: Vec<_> = hits.iter().map(|h| hit_json(h)).collect::<Vec<_>>();
        println!(
            "{}",
            json!({"index": a.index, "queries": nq, "k": a.k, "seconds": secs, "hits": rows})
        );
    } else {
        println!(
            "{:>6} {:>4} {:>10} {:>9}  id",
            "query", "rank", "position", "score"
        );
        for (i, row) in hits.iter().enumerate() {
            for (r, h) in row.iter().enumerate() {
                println!(
                    "{i:>6} {:>4} {:>10} {:>9.5}  {}",
                    r + 1,
                    h.position,
                    h.score,
                    h.id
                );
            }
        }
        eprintln!(
            "{nq} queries in {secs:.3} s ({:.0} queries/s)",
            nq as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn hit_json(row: &[Hit]) -> serde_json::Value {
    json!(row
        .iter()
        .map(|h| {
            let id = match &h.id {
                tensorjpeg::vectors::collection::Id::Int(i) => json!(i),
                tensorjpeg::vectors::collection::Id::Text(s) => json!(s),
            };
            json!({"id": id, "score": h.score, "position": h.position})
        })
        .collect::<Vec<_>>())
}

fn inspect(path: &Path, as_json: bool) -> Result<()> {
    // A sharded index's bytes are its shards' (each checked against the manifest).
    let (c, file) = index_from_bytes(path, &super::read_file(path)?)?;
    let st = c.index.stats()?;
    if as_json {
        let mut v = summary(path, &c, file);
        v["breakdown"] = json!({
            "header_and_parameters": st.side_bytes, "basis": st.basis_bytes,
            "stream_lengths": st.length_bytes, "coarse_codes": st.coarse_total,
            "streams": st.stream_bytes, "index_total": st.total_bytes,
            "ideal_bits_per_vector": st.ideal_bits_per_vector,
            "coded_bits_per_vector": st.coded_bits_per_vector,
        });
        println!("{v}");
        return Ok(());
    }
    let v = summary(path, &c, file);
    println!("{}", path.display());
    for key in [
        "vectors",
        "dimension",
        "file_bytes",
        "bytes_per_vector",
        "index_bytes_per_vector",
        "components",
        "coarse_bytes_per_vector",
        "unit_norm",
        "codebook_crc32",
        "fit_vectors",
        "codec",
        "ids",
        "writer",
    ] {
        println!("  {key:<24} {}", v[key].to_string().trim_matches('"'));
    }
    for (k, val) in &c.info.options {
        println!("  {:<24} {val}", format!("option {k}"));
    }
    println!(
        "  bytes: header+parameters {}, basis {}, stream lengths {}, coarse codes {}, streams {}",
        st.side_bytes, st.basis_bytes, st.length_bytes, st.coarse_total, st.stream_bytes
    );
    println!(
        "  bits/vector: coded {:.1}, ideal entropy of the indices {:.1}",
        st.coded_bits_per_vector, st.ideal_bits_per_vector
    );
    Ok(())
}

fn decode(path: &Path, output: &Path) -> Result<()> {
    need_ext(output, "npy", "the decoded vectors")?;
    super::check_output(output, &[path])?;
    let c = read_index(path)?;
    let t = Instant::now();
    let x = c.decode_all()?;
    let secs = t.elapsed().as_secs_f64();
    let t = tensorjpeg::Tensor::from_f32("vectors", vec![c.len(), c.dim()], x)?;
    tensorjpeg_io::write_npy(output, &t)?;
    eprintln!(
        "{} vectors of dimension {} decoded in {secs:.2} s → {}",
        c.len(),
        c.dim(),
        output.display()
    );
    Ok(())
}
