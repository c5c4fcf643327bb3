//! The readers' fuzz corpus, replayed on stable Rust: every file of
//! `fuzz/regressions/<target>/` for the reader targets (npy, safetensors, gguf, png, wav,
//! nifti, nifti_gz, digits) goes through the very code the fuzz target runs
//! (`fuzz/src/io_targets.rs`, included below), each in a child process with a 4 GiB
//! address-space limit, so an abort or a runaway allocation fails the test naming the file.
//! The committed seeds (`fuzz/seeds/<target>/`) are replayed in-process.
//!
//! `TJ_WRITE_SEEDS=1 cargo test -p tensorjpeg-io --test fuzz_regressions seed_corpus`
//! regenerates the seeds.

#[allow(dead_code)]
#[path = "../../../fuzz/src/io_targets.rs"]
mod io_targets;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tensorjpeg::{DType, Data, Tensor};

const CHILD_ENV: &str = "TJ_FUZZ_REPLAY_ONE";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Runs one `target\tfile` job when spawned by [`regressions_replay`]; a no-op otherwise.
#[test]
fn replay_child() {
    let Ok(job) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (target, file) = job.split_once('\t').expect("target\\tfile");
    let bytes = std::fs::read(file).expect("read the regression input");
    io_targets::run(target, &bytes);
}

fn in_child(job: &str, limit: Duration) -> Option<String> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(exe)
        .args(["replay_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, job)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the replay child");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the replay child") {
            if status.success() {
                return None;
            }
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use std::io::Read;
                let _ = s.read_to_string(&mut err);
            }
            let tail: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(6)..].join(" | ");
            return Some(format!("{job}: {status}: {tail}"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("{job}: still running after {limit:?} (hang?)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn regressions_replay() {
    let root = fuzz_dir().join("regressions");
    assert!(
        root.is_dir(),
        "{} is missing: the fuzz regression corpus must be checked out",
        root.display()
    );
    let mut n = 0;
    let mut failures = Vec::new();
    for target in io_targets::TARGETS {
        for f in files_in(&root.join(target)) {
            n += 1;
            let job = format!("{target}\t{}", f.display());
            if let Some(e) = in_child(&job, Duration::from_secs(60)) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} reader regression inputs crashed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn seeds_replay() {
    for target in io_targets::TARGETS {
        let files = files_in(&fuzz_dir().join("seeds").join(target));
        assert!(!files.is_empty(), "no seeds for fuzz target {target}");
        for f in files {
            io_targets::run(target, &std::fs::read(&f).unwrap());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Seed corpus generation.

fn write_seed(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        bytes.len() <= 8192,
        "seed {target}/{name} is {} bytes",
        bytes.len()
    );
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.7).sin() * 3.0).collect()
}

fn tensors() -> Vec<Tensor> {
    vec![
        Tensor::from_f32("w", vec![8, 6], ramp(48)).unwrap(),
        Tensor::from_f32("b", vec![5], ramp(5)).unwrap(),
        Tensor {
            name: "h".into(),
            shape: vec![2, 3],
            dtype: DType::F16,
            data: Data::F32(ramp(6)),
        },
        Tensor {
            name: "ids".into(),
            shape: vec![3],
            dtype: DType::Other("I32".into()),
            data: Data::Raw(vec![1, 0, 0, 0, 2, 0, 0, 0, 255, 255, 255, 255]),
        },
    ]
}

fn write_tensor_seeds(root: &Path) {
    let p = Path::new("seed");
    for (i, t) in tensors().iter().enumerate() {
        match tensorjpeg_io::npy::serialize_npy(p, t) {
            Ok(b) => write_seed(root, "npy", &format!("t{i}.npy"), &b),
            Err(e) => eprintln!("npy seed {i}: {e}"),
        }
    }
    // Hand-written headers: big-endian, Fortran order, 0-d, f64.
    for (name, header, data) in [
        (
            "be",
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }",
            vec![0u8; 16],
        ),
        (
            "fortran",
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            vec![0u8; 24],
        ),
        (
            "scalar",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            vec![0u8; 8],
        ),
        (
            "u8",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }",
            vec![7u8; 4],
        ),
    ] {
        let mut h = header.to_string();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&data);
        write_seed(root, "npy", &format!("{name}.npy"), &b);
    }
    let mut meta = tensorjpeg_io::safetensors_io::Metadata::new();
    meta.insert("format".into(), "pt".into());
    match tensorjpeg_io::safetensors_io::serialize_safetensors(p, &tensors(), &meta) {
        Ok(b) => write_seed(root, "safetensors", "all.safetensors", &b),
        Err(e) => eprintln!("safetensors seed: {e}"),
    }
    let b = tensorjpeg_io::safetensors_io::serialize_safetensors(
        p,
        &tensors()[..1],
        &Default::default(),
    )
    .unwrap();
    write_seed(root, "safetensors", "one.safetensors", &b);
}

fn write_gguf_seeds(root: &Path) {
    use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
    use candle_core::{Device, Tensor as CTensor};
    let dev = Device::Cpu;
    let t = CTensor::from_vec(ramp(64 * 2), (2, 64), &dev).unwrap();
    for (name, dtypes) in [
        ("f32", vec![GgmlDType::F32]),
        ("f16-q8", vec![GgmlDType::F16, GgmlDType::Q8_0]),
        ("q4", vec![GgmlDType::Q4_0, GgmlDType::Q4_1]),
    ] {
        let qs: Vec<QTensor> = dtypes
            .iter()
            .map(|&d| QTensor::quantize(&t, d).unwrap())
            .collect();
        let names: Vec<String> = (0..qs.len()).map(|i| format!("blk.{i}.weight")).collect();
        let tensors: Vec<(&str, &QTensor)> =
            names.iter().map(String::as_str).zip(qs.iter()).collect();
        let arch = gguf_file::Value::String("llama".into());
        let ctx = gguf_file::Value::U32(128);
        let list = gguf_file::Value::Array(vec![
            gguf_file::Value::String("a".into()),
            gguf_file::Value::String("b".into()),
        ]);
        let meta = [
            ("general.architecture", &arch),
            ("llama.context_length", &ctx),
            ("tokenizer.ggml.tokens", &list),
        ];
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(&mut out, &meta, &tensors).unwrap();
        let gguf = out.into_inner();
        let (packed, _) = tensorjpeg_io::repack_gguf(Path::new("seed.gguf"), &gguf).unwrap();
        write_seed(root, "repacked_gguf", &format!("{name}.tjgguf"), &packed);
        write_seed(root, "gguf", &format!("{name}.gguf"), &gguf);
    }
}

fn png_bytes(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(color);
        e.set_depth(depth);
        if color == png::ColorType::Indexed {
            e.set_palette(vec![0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]);
        }
        let mut wr = e.write_header().unwrap();
        wr.write_image_data(data).unwrap();
    }
    out
}

fn write_signal_seeds(root: &Path) {
    let gray: Vec<f32> = (0..64).map(|i| (i * 4) as f32).collect();
    let rgb: Vec<f32> = (0..3 * 64).map(|i| (i % 256) as f32).collect();
    write_seed(
        root,
        "png",
        "gray.png",
        &tensorjpeg_io::encode_png(&gray, &[1, 8, 8]).unwrap(),
    );
    write_seed(
        root,
        "png",
        "rgb.png",
        &tensorjpeg_io::encode_png(&rgb, &[3, 8, 8]).unwrap(),
    );
    use png::{BitDepth, ColorType};
    write_seed(
        root,
        "png",
        "rgba16.png",
        &png_bytes(4, 4, ColorType::Rgba, BitDepth::Sixteen, &[0x5a; 4 * 4 * 8]),
    );
    write_seed(
        root,
        "png",
        "palette2.png",
        &png_bytes(8, 4, ColorType::Indexed, BitDepth::Two, &[0b0110_1100; 8]),
    );
    write_seed(
        root,
        "png",
        "gray1.png",
        &png_bytes(16, 2, ColorType::Grayscale, BitDepth::One, &[0xa5; 4]),
    );
    write_seed(
        root,
        "png",
        "graya.png",
        &png_bytes(3, 3, ColorType::GrayscaleAlpha, BitDepth::Eight, &[9; 18]),
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let snd: Vec<f32> = (0..200).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
    tensorjpeg_io::write_wav(&path, &snd, &[1, 200], 8000).unwrap();
    write_seed(root, "wav", "mono16.wav", &std::fs::read(&path).unwrap());
    tensorjpeg_io::write_wav(&path, &snd, &[2, 100], 44100).unwrap();
    write_seed(root, "wav", "stereo16.wav", &std::fs::read(&path).unwrap());
    for (name, bits, fmt) in [
        ("f32", 32, hound::SampleFormat::Float),
        ("i24", 24, hound::SampleFormat::Int),
        ("i8", 8, hound::SampleFormat::Int),
    ] {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
            for i in 0..64 {
                if fmt == hound::SampleFormat::Float {
                    w.write_sample(i as f32 / 64.0).unwrap();
                } else {
                    w.write_sample(i - 32).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        write_seed(root, "wav", &format!("{name}.wav"), &out.into_inner());
    }

    // Digits: 65 integers per line (64 pixels 0..=16, then the label).
    let mut csv = String::new();
    for d in 0..4 {
        let px: Vec<String> = (0..64).map(|i| ((i + d) % 17).to_string()).collect();
        csv.push_str(&format!("{},{d}\n", px.join(",")));
    }
    write_seed(root, "digits", "four.csv", csv.as_bytes());
    write_seed(
        root,
        "digits",
        "four.csv.gz",
        &io_targets::gzip_unless_gz(csv.as_bytes()),
    );
}

/// A NIfTI-1 single file (`n+1`): 348-byte header, 4 extension bytes, voxels.
fn nifti_bytes(dims: [i16; 4], datatype: i16, bitpix: i16, slope: f32, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let ndim = if dims[3] > 1 { 4 } else { 3 };
    let dim = [ndim, dims[0], dims[1], dims[2], dims[3], 1, 1, 1];
    for (i, d) in dim.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&datatype.to_le_bytes());
    h[72..74].copy_from_slice(&bitpix.to_le_bytes());
    for i in 0..8 {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&1.0f32.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352.0f32.to_le_bytes());
    h[112..116].copy_from_slice(&slope.to_le_bytes());
    h[116..120].copy_from_slice(&0.5f32.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(data);
    h
}

fn write_volume_seeds(root: &Path) {
    let f32s: Vec<u8> = (0..4 * 3 * 2)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let i16s: Vec<u8> = (0..4 * 4 * 2 * 2)
        .flat_map(|i| (i as i16 * 100 - 900).to_le_bytes())
        .collect();
    let seeds = [
        ("f32.nii", nifti_bytes([4, 3, 2, 1], 16, 32, 0.0, &f32s)),
        ("i16-4d.nii", nifti_bytes([4, 4, 2, 2], 4, 16, 2.0, &i16s)),
        ("u8.nii", nifti_bytes([5, 5, 1, 1], 2, 8, 0.0, &[3u8; 25])),
    ];
    for (name, b) in &seeds {
        write_seed(root, "nifti", name, b);
        write_seed(root, "nifti_gz", name, b);
    }
    write_seed(
        root,
        "nifti_gz",
        "f32.nii.gz",
        &io_targets::gzip_unless_gz(&seeds[0].1),
    );
}

fn write_manifest_seeds(root: &Path) {
    let index = r#"{"format": "tensorjpeg-manifest", "version": 1, "kind": "index",
 "shards": [{"path": "shard-00000.tjv", "bytes": 4096, "crc32": 305419896, "vectors": 64, "source": null},
            {"path": "shard-00001.tjv", "bytes": 2048, "crc32": 7, "vectors": 32, "source": null}]}
"#;
    write_seed(root, "manifest", "index.json", index.as_bytes());
    let files = r#"{"format": "tensorjpeg-manifest", "version": 1, "kind": "files",
 "shards": [{"path": "model.safetensors.tjz", "bytes": 100, "crc32": 1, "vectors": null,
             "source": "model.safetensors"},
            {"path": "sub/acts.npy.tjz", "bytes": 10, "crc32": 2, "source": "sub/acts.npy"}]}
"#;
    write_seed(root, "manifest", "files.json", files.as_bytes());
}

/// The seed generators run on every `cargo test`: they write the reader targets' seeds
/// into a temporary folder, and every seed they make is replayed through its target. With
/// `TJ_WRITE_SEEDS=1` they write `fuzz/seeds/` instead (to regenerate the corpus).
#[test]
fn seed_corpus_generates_and_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let root = if std::env::var_os("TJ_WRITE_SEEDS").is_some() {
        fuzz_dir().join("seeds")
    } else {
        tmp.path().to_path_buf()
    };
    write_tensor_seeds(&root);
    write_gguf_seeds(&root);
    write_signal_seeds(&root);
    write_volume_seeds(&root);
    write_manifest_seeds(&root);
    for target in io_targets::TARGETS {
        let dir = root.join(target);
        if !dir.exists() {
            continue; // a target whose seeds are hand-written (none generated here)
        }
        for f in files_in(&dir) {
            io_targets::run(target, &std::fs::read(&f).unwrap());
        }
    }
}
