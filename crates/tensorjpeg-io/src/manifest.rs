//! Sharded outputs: a JSON manifest naming the files a parallel job wrote (one `.tjv` shard
//! of an embedding index per task, or one container per model file), read back as one
//! collection by `tensorjpeg index …`, `tensorjpeg decompress` and the Python package.
//!
//! ```json
//! {"format": "tensorjpeg-manifest", "version": 1, "kind": "index",
//!  "shards": [{"path": "shard-00000.tjv", "bytes": 64012, "crc32": 305419896,
//!              "vectors": 1000, "source": null}, …]}
//! ```
//!
//! Paths are relative to the manifest's folder and may not leave it. Each shard's size and
//! CRC-32 (of the whole file) are checked before it is decoded, so a missing, truncated,
//! swapped or rewritten shard is an error naming the manifest and the shard. For an index
//! the shards must share one codebook (checked when they are joined, in the manifest's
//! order) and hold the listed numbers of vectors. Nothing in a shard knows about the others:
//! any engine that writes the shards and this file makes a collection.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};
use tensorjpeg::vectors::collection::Collection;

use crate::error::{Error, Result};
use crate::{read_file, write_atomic};

/// The manifest's `format` field.
pub const MANIFEST_FORMAT: &str = "tensorjpeg-manifest";
/// The largest manifest read (a million shards fit in less).
const MAX_MANIFEST_BYTES: usize = 256 << 20;

/// What the shards of a manifest are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// `.tjv` shards of one embedding index (one codebook), joined in order.
    Index,
    /// Containers, one per source file (`source`: the file's path relative to the input
    /// folder).
    Files,
}

impl ManifestKind {
    fn name(self) -> &'static str {
        match self {
            ManifestKind::Index => "index",
            ManifestKind::Files => "files",
        }
    }
}

/// One file a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Path relative to the manifest's folder.
    pub path: String,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// CRC-32 of the whole file.
    pub crc32: u32,
    /// Vectors in an index shard.
    pub vectors: Option<u64>,
    /// The source file's relative path (files manifests).
    pub source: Option<String>,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// What the shards are.
    pub kind: ManifestKind,
    /// The shards, in order.
    pub shards: Vec<Shard>,
}

/// Whether `bytes` look like a manifest (a JSON object naming [`MANIFEST_FORMAT`]): cheap,
/// for dispatching on a file's content.
pub fn is_manifest(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|s| bytes[s] == b'{')
        && bytes
            .windows(MANIFEST_FORMAT.len())
            .take(4096)
            .any(|w| w == MANIFEST_FORMAT.as_bytes())
}

fn relative(manifest: &Path, p: &str) -> Result<PathBuf> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !ok {
        return Err(Error::format(
            manifest,
            format!(
                "shard path {p:?} must be relative to the manifest's folder and stay inside it"
            ),
        ));
    }
    Ok(path.to_path_buf())
}

fn folder(manifest: &Path) -> &Path {
    manifest.parent().unwrap_or(Path::new("."))
}

/// Writes a manifest of `kind` listing `shards` (paths relative to the manifest's folder,
/// each with its source path for a files manifest), measuring each shard's size and CRC-32
/// (and, for an index, its vectors) from the file. Atomic.
pub fn write_manifest(
    path: &Path,
    kind: ManifestKind,
    shards: &[(String, Option<String>)],
) -> Result<Manifest> {
    let mut out = Vec::with_capacity(shards.len());
    for (rel, source) in shards {
        let file = folder(path).join(relative(path, rel)?);
        let bytes = read_file(&file)?;
        let vectors = match kind {
            ManifestKind::Index => Some(
                Collection::from_bytes(&bytes)
                    .map_err(|e| Error::format(&file, e.to_string()))?
                    .len() as u64,
            ),
            ManifestKind::Files => None,
        };
        out.push(Shard {
            path: rel.clone(),
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
            vectors,
            source: source.clone(),
        });
    }
    let m = Manifest { kind, shards: out };
    let shards: Vec<Value> = m
        .shards
        .iter()
        .map(|s| {
            json!({"path": s.path, "bytes": s.bytes, "crc32": s.crc32,
                   "vectors": s.vectors, "source": s.source})
        })
        .collect();
    let doc = json!({"format": MANIFEST_FORMAT, "version": 1, "kind": kind.name(),
                     "shards": shards});
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    write_atomic(path, text.as_bytes())?;
    Ok(m)
}

/// Parses a manifest (the shards are not read; see [`read_shard`]).
pub fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(Error::format(
            path,
            format!(
                "a manifest of {} bytes (at most {MAX_MANIFEST_BYTES})",
                bytes.len()
            ),
        ));
    }
    let bad = |m: String| Error::format(path, m);
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if doc.get("format").and_then(Value::as_str) != Some(MANIFEST_FORMAT) {
        return Err(bad(format!(
            "not a manifest (\"format\" is not \"{MANIFEST_FORMAT}\")"
        )));
    }
    match doc.get("version").and_then(Value::as_u64) {
        Some(1) => {}
        v => {
            return Err(bad(format!(
                "manifest version {v:?}; this build reads version 1"
            )))
        }
    }
    let kind = match doc.get("kind").and_then(Value::as_str) {
        Some("index") => ManifestKind::Index,
        Some("files") => ManifestKind::Files,
        k => {
            return Err(bad(format!(
                "manifest kind {k:?}; expected \"index\" or \"files\""
            )))
        }
    };
    let list = doc
        .get("shards")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no \"shards\" list".into()))?;
    if list.is_empty() {
        return Err(bad("the manifest lists no shard".into()));
    }
    let mut shards = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let field = |k: &str| s.get(k).filter(|v| !v.is_null());
        let p = field("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("shard {i}: no \"path\"")))?;
        relative(path, p)?;
        let bytes = field("bytes")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("shard {i} ({p}): no \"bytes\"")))?;
        let crc32 = field("crc32")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| bad(format!("shard {i} ({p}): no 32-bit \"crc32\"")))?;
        let vectors = field("vectors").and_then(Value::as_u64);
        let source = field("source").and_then(Value::as_str).map(String::from);
        match kind {
            ManifestKind::Index if vectors.is_none() => {
                return Err(bad(format!(
                    "shard {i} ({p}): an index shard needs \"vectors\""
                )))
            }
            ManifestKind::Files => {
                let src = source.as_deref().ok_or_else(|| {
                    bad(format!("shard {i} ({p}): a file shard needs \"source\""))
                })?;
                relative(path, src)?;
            }
            _ => {}
        }
        shards.push(Shard {
            path: p.into(),
            bytes,
            crc32,
            vectors,
            source,
        });
    }
    Ok(Manifest { kind, shards })
}

/// Reads a manifest file.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    parse_manifest(path, &read_file(path)?)
}

/// Reads one shard of the manifest at `manifest`, checking its size and CRC-32 first.
pub fn read_shard(manifest: &Path, shard: &Shard) -> Result<(PathBuf, Vec<u8>)> {
    let file = folder(manifest).join(relative(manifest, &shard.path)?);
    let bytes = read_file(&file)?;
    let problem = if bytes.len() as u64 != shard.bytes {
        Some(format!(
            "{} bytes, the manifest says {}",
            bytes.len(),
            shard.bytes
        ))
    } else if crc32fast::hash(&bytes) != shard.crc32 {
        Some("its CRC-32 differs from the manifest's (changed or damaged)".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::format(
            manifest,
            format!("shard {}: {p}", file.display()),
        )),
        None => Ok((file, bytes)),
    }
}

/// The embedding index a manifest's shards make, joined in order (one codebook; each
/// shard's vectors as listed).
pub fn read_index_manifest(path: &Path, m: &Manifest) -> Result<Collection> {
    if m.kind != ManifestKind::Index {
        return Err(Error::format(
            path,
            "a manifest of model files, not of an embedding index (use `decompress`)",
        ));
    }
    let mut all: Option<Collection> = None;
    for s in &m.shards {
        let (file, bytes) = read_shard(path, s)?;
        let c = Collection::from_bytes(&bytes).map_err(|e| Error::format(&file, e.to_string()))?;
        if Some(c.len() as u64) != s.vectors {
            return Err(Error::format(
                path,
                format!(
                    "shard {} holds {} vectors, the manifest says {:?}",
                    file.display(),
                    c.len(),
                    s.vectors
                ),
            ));
        }
        match all.as_mut() {
            None => all = Some(c),
            Some(a) => a.merge(&c).map_err(|e| {
                Error::format(&file, format!("joining it to the shards before: {e}"))
            })?,
        }
    }
    all.ok_or_else(|| Error::format(path, "the manifest lists no shard"))
}

/// Where [`decompress_files`] writes a source file's tensors: `out_dir/source`, with a
/// `.gguf` source (whose container holds dequantized tensors) written as `.safetensors`.
pub fn output_for(out_dir: &Path, source: &str) -> PathBuf {
    let p = out_dir.join(source);
    match p.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("safetensors") || e.eq_ignore_ascii_case("npy") => p,
        _ => {
            let mut s = p.into_os_string();
            s.push(".safetensors");
            PathBuf::from(s)
        }
    }
}

/// Decompresses every container of a files manifest into `out_dir` (see [`output_for`]),
/// checking each shard before decoding it; returns each output with its tensor count.
pub fn decompress_files(
    path: &Path,
    m: &Manifest,
    out_dir: &Path,
) -> Result<Vec<(PathBuf, usize)>> {
    if m.kind != ManifestKind::Files {
        return Err(Error::format(
            path,
            "a manifest of an embedding index, not of model files (use `index`)",
        ));
    }
    let registry = crate::registry();
    let mut done = Vec::with_capacity(m.shards.len());
    for s in &m.shards {
        let (file, bytes) = read_shard(path, s)?;
        if !tensorjpeg::container::is_container(&bytes) {
            return Err(Error::format(
                &file,
                "not a tensorjpeg container (bad magic number)",
            ));
        }
        let tensors = tensorjpeg::decompress_with(&bytes, &registry)
            .map_err(|e| Error::format(&file, e.to_string()))?;
        let out = output_for(out_dir, s.source.as_deref().unwrap_or(&s.path));
        crate::check_output(&out, &[path, &file])?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        crate::write_tensors(&out, &tensors)?;
        done.push((out, tensors.len()));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        parse_manifest(Path::new("m.json"), text.as_bytes())
    }

    #[test]
    fn written_manifests_read_back_and_lies_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.tjz"), b"first").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.tjz"), b"second shard").unwrap();
        let path = dir.path().join("files.json");
        let shards = [
            ("a.tjz".to_string(), Some("a.npy".to_string())),
            (
                "sub/b.tjz".to_string(),
                Some("sub/b.safetensors".to_string()),
            ),
        ];
        let m = write_manifest(&path, ManifestKind::Files, &shards).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(is_manifest(&bytes));
        assert_eq!(read_manifest(&path).unwrap(), m);
        assert_eq!(m.shards[1].bytes, 12);
        assert_eq!(read_shard(&path, &m.shards[1]).unwrap().1, b"second shard");
        // A rewritten shard of the same size: the CRC catches it.
        std::fs::write(dir.path().join("sub/b.tjz"), b"second SHARD").unwrap();
        let e = read_shard(&path, &m.shards[1]).unwrap_err().to_string();
        assert!(e.contains("CRC-32") && e.contains("b.tjz"), "{e}");
        std::fs::write(dir.path().join("a.tjz"), b"firs").unwrap();
        let e = read_shard(&path, &m.shards[0]).unwrap_err().to_string();
        assert!(e.contains("4 bytes, the manifest says 5"), "{e}");
        // A files manifest is not an index.
        assert!(read_index_manifest(&path, &m).is_err());
        assert!(write_manifest(&path, ManifestKind::Files, &[("../x".into(), None)]).is_err());
    }

    #[test]
    fn malformed_manifests_are_errors() {
        let ok = r#"{"format": "tensorjpeg-manifest", "version": 1, "kind": "index",
                     "shards": [{"path": "s.tjv", "bytes": 10, "crc32": 7, "vectors": 3}]}"#;
        assert_eq!(parse(ok).unwrap().shards[0].vectors, Some(3));
        for (text, want) in [
            ("{", "not JSON"),
            (r#"{"format": "other"}"#, "not a manifest"),
            (&ok.replace("\"version\": 1", "\"version\": 2"), "version"),
            (&ok.replace("\"index\"", "\"blobs\""), "kind"),
            (&ok.replace("s.tjv", "/etc/passwd"), "stay inside"),
            (&ok.replace("s.tjv", "a/../../s.tjv"), "stay inside"),
            (
                &ok.replace("\"crc32\": 7", "\"crc32\": 4294967296"),
                "crc32",
            ),
            (&ok.replace(", \"vectors\": 3", ""), "vectors"),
            (
                &ok.replace("\"kind\": \"index\"", "\"kind\": \"files\""),
                "source",
            ),
            (
                r#"{"format": "tensorjpeg-manifest", "version": 1, "kind": "index", "shards": []}"#,
                "no shard",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("m.json"), "{text}: {e}");
        }
        assert!(!is_manifest(b"TJVINDEX"));
    }
}
