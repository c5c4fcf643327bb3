//! Models compressed by other programs (SZ3, zfp, llama.cpp…), scored in the same run as
//! tensorjpeg's points: `model-sweep --peers PEERS.json`.
//!
//! The file lists each peer's decompressed model and what its compressed form cost:
//!
//! ```json
//! {"peers": [{"codec": "zfp", "rate": "rate=4", "model": "zfp-4/model.safetensors",
//!             "bytes": 11401234, "matrix_bytes": 11364352, "compress_s": 1.9}]}
//! ```
//!
//! `model` (relative to the JSON file's folder) is what the runtime loads — an embedder's
//! folder or its `model.safetensors` with the original's `config.json` and `tokenizer.json`
//! beside it, or a `.gguf`; `bytes` is the size of everything the peer stored (all-in, every
//! tensor), `matrix_bytes` (optional) of the tensors it compressed. The SNR is measured
//! here, over the tensors of two or more dimensions, against the original's values.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tensorjpeg::Tensor;

use super::{model_file, Judge, Row};

/// One peer point.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// The peer's name (`zfp`, `sz3`, `llama.cpp Q4_K_M`…).
    pub codec: String,
    /// Its setting, as a label.
    pub rate: String,
    /// The decompressed model the runtime loads.
    pub model: PathBuf,
    /// Bytes the peer stored for the whole model.
    pub bytes: u64,
    /// Bytes of the tensors it compressed (the rest stored as they were), if known.
    pub matrix_bytes: Option<u64>,
    /// Seconds it took to compress, if known.
    pub compress_s: Option<f64>,
}

/// Reads a peers file; errors name the file, the entry and the field.
pub fn read(path: &Path) -> Result<Vec<Peer>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let Some(list) = v.get("peers").and_then(Value::as_array) else {
        bail!("{}: expected {{\"peers\": [...]}}", path.display());
    };
    let base = path.parent().unwrap_or(Path::new("."));
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let field = |k: &str| {
                e.get(k)
                    .with_context(|| format!("{}: peer {i} has no `{k}`", path.display()))
            };
            let text = |k: &str| -> Result<String> {
                field(k)?
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("{}: peer {i}: `{k}` is not a string", path.display()))
            };
            let uint = |k: &str| -> Result<u64> {
                field(k)?.as_u64().with_context(|| {
                    format!("{}: peer {i}: `{k}` is not a whole number", path.display())
                })
            };
            let model = base.join(text("model")?);
            Ok(Peer {
                codec: text("codec")?,
                rate: text("rate")?,
                bytes: uint("bytes")?,
                matrix_bytes: e
                    .get("matrix_bytes")
                    .map(|_| uint("matrix_bytes"))
                    .transpose()?,
                compress_s: e.get("compress_s").and_then(Value::as_f64),
                model,
            })
        })
        .collect()
}

/// Scores one peer: loads its decompressed model through the judge and measures the SNR of
/// its tensors of two or more dimensions against `tensors` (the original's), by name.
pub fn measure(tensors: &[Tensor], peer: &Peer, judge: &dyn Judge) -> Result<Row> {
    let file = model_file(&peer.model)?;
    let theirs = tensorjpeg_io::read_tensors(&file)?;
    let mut coded = tensorjpeg::metrics::Stats::default();
    let mut matrix_values = 0usize;
    for t in tensors.iter().filter(|t| t.shape.len() >= 2) {
        let Some(x) = t.values() else { continue };
        let other = theirs
            .iter()
            .find(|o| o.name == t.name)
            .with_context(|| format!("{}: tensor '{}' is missing", file.display(), t.name))?;
        if other.shape != t.shape {
            bail!(
                "{}: tensor '{}' has shape {:?}, the original {:?}",
                file.display(),
                t.name,
                other.shape,
                t.shape
            );
        }
        let y = other.values().with_context(|| {
            format!(
                "{}: tensor '{}' is not a float tensor",
                file.display(),
                t.name
            )
        })?;
        coded.merge(&tensorjpeg::metrics::compare(x, y, 0));
        matrix_values += t.numel();
    }
    drop(theirs);
    let metrics = judge
        .judge_model(&peer.model)
        .with_context(|| format!("scoring {}", peer.model.display()))?;
    let total: usize = tensors.iter().map(Tensor::numel).sum();
    Ok(Row {
        model: String::new(),
        codec: peer.codec.clone(),
        rate: peer.rate.clone(),
        allocation: "peer".into(),
        bits_per_weight: peer.bytes as f64 * 8.0 / total.max(1) as f64,
        bits_per_weight_matrices: peer
            .matrix_bytes
            .map_or(f64::NAN, |b| b as f64 * 8.0 / matrix_values.max(1) as f64),
        snr_db: coded.snr_db(),
        metrics,
        compress_s: peer.compress_s.unwrap_or(f64::NAN),
        kept_tensors: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peers_file_is_read_relative_to_its_folder_and_errors_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("peers.json");
        std::fs::write(
            &p,
            r#"{"peers": [{"codec": "zfp", "rate": "rate=4", "model": "z/model.safetensors",
                "bytes": 1000, "matrix_bytes": 900, "compress_s": 0.5}]}"#,
        )
        .unwrap();
        let peers = read(&p).unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].model, dir.path().join("z/model.safetensors"));
        assert_eq!((peers[0].bytes, peers[0].matrix_bytes), (1000, Some(900)));
        std::fs::write(
            &p,
            r#"{"peers": [{"codec": "zfp", "rate": "4", "model": "z"}]}"#,
        )
        .unwrap();
        let e = format!("{:#}", read(&p).unwrap_err());
        assert!(e.contains("peer 0") && e.contains("`bytes`"), "{e}");
        std::fs::write(&p, r#"[1, 2]"#).unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("peers"));
    }
}
