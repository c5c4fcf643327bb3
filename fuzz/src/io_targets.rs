//! What each reader fuzz target does with its input (tensorjpeg-io): the
//! `fuzz_targets/*.rs` files call these functions and
//! `crates/tensorjpeg-io/tests/fuzz_regressions.rs` replays `fuzz/regressions/<target>/*`
//! through them (it includes this file with `#[path]`). Readers that only take a path get
//! the bytes through a temporary file (in `/dev/shm` where it exists).
//!
//! Depends on `tensorjpeg-io` and `flate2`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The reader targets, by name.
pub const TARGETS: &[&str] = &[
    "npy",
    "safetensors",
    "gguf",
    "repacked_gguf",
    "png",
    "wav",
    "nifti",
    "nifti_gz",
    "digits",
    "manifest",
];

/// Runs the reader target `name` on `data`. Panics on an unknown name.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "npy" => npy(data),
        "safetensors" => safetensors(data),
        "gguf" => gguf(data),
        "repacked_gguf" => repacked_gguf(data),
        "png" => png(data),
        "wav" => wav(data),
        "nifti" => nifti(data),
        "nifti_gz" => nifti_gz(data),
        "digits" => digits(data),
        "manifest" => manifest(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// A temporary file holding some bytes, removed on drop.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `data` to a fresh file whose name ends in `ext` (e.g. `"nii.gz"`).
    pub fn new(ext: &str, data: &[u8]) -> TempFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("tjfuzz-{}-{n}.{ext}", std::process::id()));
        std::fs::write(&path, data).expect("write the fuzz input to a temporary file");
        TempFile(path)
    }
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `data` if it already starts with the gzip magic, else `data` gzip'd (fast level).
pub fn gzip_unless_gz(data: &[u8]) -> Vec<u8> {
    if data.starts_with(&[0x1f, 0x8b]) {
        return data.to_vec();
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// `.npy` from memory (`parse_npy`).
pub fn npy(data: &[u8]) {
    let _ = tensorjpeg_io::npy::parse_npy(Path::new("fuzz.npy"), "fuzz", data);
}

/// `.safetensors` from memory (`parse_safetensors`).
pub fn safetensors(data: &[u8]) {
    let _ = tensorjpeg_io::safetensors_io::parse_safetensors(Path::new("fuzz.safetensors"), data);
}

/// GGUF through candle: the tensor-info pre-checks, the metadata, then the tensors.
pub fn gguf(data: &[u8]) {
    let f = TempFile::new("gguf", data);
    let _ = tensorjpeg_io::gguf_tensor_infos(f.path());
    let _ = tensorjpeg_io::gguf_metadata(f.path());
    let _ = tensorjpeg_io::read_gguf(f.path());
}

/// A repacked GGUF file (`.tjgguf`), trailing CRC forged so the body is reached: restored
/// in memory (`unpack_gguf`), and read as a GGUF file through the same path every reader
/// takes.
pub fn repacked_gguf(data: &[u8]) {
    let mut b = data.to_vec();
    if b.len() >= 4 {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let _ = tensorjpeg_io::unpack_gguf(Path::new("fuzz.tjgguf"), &b);
    let f = TempFile::new("tjgguf", &b);
    let _ = tensorjpeg_io::gguf_tensor_infos(f.path());
    let _ = tensorjpeg_io::read_gguf(f.path());
}

/// PNG (`read_image`).
pub fn png(data: &[u8]) {
    let f = TempFile::new("png", data);
    let _ = tensorjpeg_io::signal::read_image(f.path());
}

/// WAV (`read_wav`).
pub fn wav(data: &[u8]) {
    let f = TempFile::new("wav", data);
    let _ = tensorjpeg_io::signal::read_wav(f.path());
}

fn read_volume(f: &TempFile) {
    if let Ok(v) = tensorjpeg_io::read_nifti(f.path()) {
        for t in 0..v.frames().min(3) {
            let _ = v.frame(t);
        }
        let _ = v.frame(v.frames());
    }
}

/// NIfTI-1 `.nii` (`read_nifti`, then its frames).
pub fn nifti(data: &[u8]) {
    read_volume(&TempFile::new("nii", data));
}

/// NIfTI-1 `.nii.gz`: the input gzip'd unless it already is a gzip stream.
pub fn nifti_gz(data: &[u8]) {
    read_volume(&TempFile::new("nii.gz", &gzip_unless_gz(data)));
}

/// scikit-learn's `digits.csv.gz` (`read_digits`): the input gzip'd unless it already is.
pub fn digits(data: &[u8]) {
    let f = TempFile::new("csv.gz", &gzip_unless_gz(data));
    if let Ok(d) = tensorjpeg_io::signal::read_digits(f.path()) {
        for i in 0..d.len().min(3) {
            let _ = d.image(i);
        }
    }
}

/// A shard manifest (`parse_manifest`), then, when it parses, joining it as an index from a
/// temporary folder (its shards are missing there: errors, never a panic).
pub fn manifest(data: &[u8]) {
    let _ = tensorjpeg_io::manifest::is_manifest(data);
    let path = Path::new("/nonexistent-tjfuzz/m.json");
    if let Ok(m) = tensorjpeg_io::manifest::parse_manifest(path, data) {
        let _ = tensorjpeg_io::manifest::read_index_manifest(path, &m);
        for s in &m.shards {
            let _ = tensorjpeg_io::manifest::output_for(
                Path::new("/nonexistent-tjfuzz/out"),
                s.source.as_deref().unwrap_or(&s.path),
            );
        }
    }
}
