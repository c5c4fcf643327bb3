//! Files of the persisted embedding index (`tensorjpeg index`, the Python `Index`): the
//! `.tjv` collection itself ([`tensorjpeg::vectors::collection`]), vectors and queries from
//! `.npy`, ids from text, and search hits to `.npy`. Every error names its file.

use std::path::{Path, PathBuf};

use tensorjpeg::vectors::collection::{Collection, Hit, Id, Ids};

use crate::error::{Error, Result};
use crate::npy::npy_bytes;
use crate::{read_file, read_npy, write_atomic};

/// Reads a 2-D `.npy` array (float32 or float16) as row-major vectors: `(values, dim)`. A
/// 1-D array is one vector.
pub fn read_vectors(path: &Path) -> Result<(Vec<f32>, usize)> {
    let t = read_npy(path)?;
    let dim = match t.shape.as_slice() {
        [d] => *d,
        [_, d] => *d,
        s => {
            return Err(Error::format(
                path,
                format!(
                "an array of vectors must be 2-D [vectors, dimension]; this one has shape {s:?}"
            ),
            ))
        }
    };
    if dim == 0 {
        return Err(Error::format(path, "vectors of dimension 0"));
    }
    let values = match t.data {
        tensorjpeg::Data::F32(v) => v,
        tensorjpeg::Data::Raw(_) => return Err(Error::format(path, "not a float array")),
    };
    Ok((values, dim))
}

/// Reads ids, one per line (a trailing `\r` and surrounding spaces dropped; empty lines
/// are refused, since they would shift every later id): integers when every line parses
/// as a 64-bit integer, text otherwise.
pub fn read_ids(path: &Path) -> Result<Ids> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, format!("ids are not UTF-8 text ({e})")))?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if let Some(i) = lines.iter().position(|l| l.is_empty()) {
        return Err(Error::format(
            path,
            format!("line {} is empty (one id per line, none empty)", i + 1),
        ));
    }
    let ints: Option<Vec<i64>> = lines.iter().map(|l| l.parse().ok()).collect();
    Ok(match ints {
        Some(v) => Ids::Int(v),
        None => Ids::Text(lines.iter().map(|s| s.to_string()).collect()),
    })
}

/// What an index holds, as `tensorjpeg index inspect --json` and Python's `Index.info`
/// show it; `file_bytes` is the size of its `.tjv` file.
pub fn summary(c: &Collection, file_bytes: usize) -> serde_json::Value {
    use tensorjpeg::vectors::VectorIndex;
    serde_json::json!({
        "kind": "embedding index", "vectors": c.len(), "dimension": c.dim(),
        "file_bytes": file_bytes,
        "bytes_per_vector": file_bytes as f64 / c.len().max(1) as f64,
        "index_bytes_per_vector": c.index.bytes_per_vector(),
        "components": c.index.components(), "coarse_bytes_per_vector": c.index.coarse_bytes(),
        "unit_norm": c.index.unit_norm(),
        "codebook_crc32": format!("{:08x}", c.index.codebook_crc()),
        "fit_vectors": c.info.fit_vectors, "codec": c.info.codec,
        "options": c.info.options.iter().map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "writer": c.info.writer, "ids": c.ids.kind(),
    })
}

/// Reads a `.tjv` embedding index, or the manifest of a sharded one (its shards joined); a
/// damaged or foreign file is an error naming it.
pub fn read_index(path: &Path) -> Result<Collection> {
    Ok(index_from_bytes(path, &read_file(path)?)?.0)
}

/// The index held by the file at `path` whose bytes are `bytes`: a `.tjv`, or a manifest of
/// shards (read from beside it, each checked against the manifest). Also returns the bytes
/// the index is stored in: the file's, or the shards' total.
pub fn index_from_bytes(path: &Path, bytes: &[u8]) -> Result<(Collection, u64)> {
    if crate::manifest::is_manifest(bytes) {
        let m = crate::manifest::parse_manifest(path, bytes)?;
        let stored = m.shards.iter().map(|s| s.bytes).sum();
        return Ok((crate::manifest::read_index_manifest(path, &m)?, stored));
    }
    let c = Collection::from_bytes(bytes).map_err(|e| Error::format(path, e.to_string()))?;
    Ok((c, bytes.len() as u64))
}

/// Writes a `.tjv` embedding index atomically (never over an input).
pub fn write_index(path: &Path, c: &Collection) -> Result<()> {
    write_atomic(path, &c.to_bytes())
}

/// The path of the scores that [`write_hits`] writes beside `ids`: `hits.npy` →
/// `hits.scores.npy`.
pub fn scores_path(ids: &Path) -> PathBuf {
    let stem = ids
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hits".into());
    ids.with_file_name(format!("{stem}.scores.npy"))
}

/// Writes search hits as two `.npy` arrays of shape `[queries, k]`: the ids (int64) to
/// `path` and the scores (float32) to [`scores_path`]. Rows with fewer than `k` hits are
/// padded with id −1 and score −inf (as faiss does). Text ids cannot go to `.npy`: an
/// error says to use JSON.
pub fn write_hits(path: &Path, hits: &[Vec<Hit>], k: usize) -> Result<PathBuf> {
    let mut ids = Vec::with_capacity(hits.len() * k * 8);
    let mut scores = Vec::with_capacity(hits.len() * k * 4);
    for row in hits {
        for j in 0..k {
            let (id, s) = match row.get(j) {
                Some(h) => match &h.id {
                    Id::Int(i) => (*i, h.score),
                    Id::Text(_) => {
                        return Err(Error::format(
                            path,
                            "the collection's ids are text, which .npy cannot hold: use --json",
                        ))
                    }
                },
                None => (-1, f32::NEG_INFINITY),
            };
            ids.extend_from_slice(&id.to_le_bytes());
            scores.extend_from_slice(&s.to_le_bytes());
        }
    }
    let shape = [hits.len(), k];
    let sp = scores_path(path);
    crate::check_output(&sp, &[])?;
    write_atomic(path, &npy_bytes("<i8", &shape, &ids))?;
    write_atomic(&sp, &npy_bytes("<f4", &shape, &scores))?;
    Ok(sp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_integers_or_text_and_empty_lines_are_refused() {
        let dir = std::env::temp_dir().join(format!("tj-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        std::fs::write(&p, "3\n-7\r\n12\n").unwrap();
        assert_eq!(read_ids(&p).unwrap(), Ids::Int(vec![3, -7, 12]));
        let p = dir.join("b.txt");
        std::fs::write(&p, "3\nabc\n").unwrap();
        assert_eq!(
            read_ids(&p).unwrap(),
            Ids::Text(vec!["3".into(), "abc".into()])
        );
        let p = dir.join("c.txt");
        std::fs::write(&p, "a\n\nb\n").unwrap();
        let e = read_ids(&p).unwrap_err().to_string();
        assert!(e.contains("c.txt") && e.contains("line 2"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
