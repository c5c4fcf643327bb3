//! The fuzz corpus, replayed on stable Rust: every file of `fuzz/regressions/<target>/`
//! (inputs that once crashed a fuzz target, see `docs/notes/fuzzing.md`) goes through the
//! very code the target runs (`fuzz/src/targets.rs`, included below), each in a child
//! process with a 4 GiB address-space limit, so an abort or a runaway allocation fails the
//! test naming the file instead of killing the test binary. The committed seed corpus
//! (`fuzz/seeds/`) is replayed too, and a deterministic run of the structured table mutator
//! (`fuzz/src/container.rs`) checks that forged-CRC table mutations are rejected or decoded,
//! never crash.
//!
//! `TJ_WRITE_SEEDS=1 cargo test -p tensorjpeg --test fuzz_regressions seed_corpus`
//! regenerates the seed corpus.

#[allow(dead_code)]
#[path = "../../../fuzz/src/container.rs"]
mod container;
#[allow(dead_code)]
#[path = "../../../fuzz/src/frame.rs"]
mod frame;
#[allow(dead_code)]
#[path = "../../../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tensorjpeg::bytes::ByteWriter;
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{LatentCoder, Quantizer};
use tensorjpeg::vectors::klt::{KltFit, KltOptions};
use tensorjpeg::{compress, default_registry, DType, Data, Options, Rate, Tensor};

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

/// Runs one `target\tfile` (or `sweep\tN`) job when spawned by a parent test; a no-op
/// otherwise.
#[test]
fn replay_child() {
    let Ok(job) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (target, arg) = job.split_once('\t').expect("target\\tfile");
    if target == "sweep" {
        mutation_sweep(arg.parse().expect("mutation count"));
        return;
    }
    let bytes = std::fs::read(arg).expect("read the regression input");
    targets::run(target, &bytes);
}

/// Runs `job` in a child process (this test binary, filtered to `replay_child`) under a
/// 4 GiB address-space limit and a time limit; returns a description of the failure.
fn in_child(job: &str, limit: Duration) -> Option<String> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(exe)
        .args(["replay_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, job)
        .env("RUST_BACKTRACE", "0")
        .env("RAYON_NUM_THREADS", "2")
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
            let tail: String = err
                .lines()
                .filter(|l| !l.trim().is_empty())
                .rev()
                .take(6)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ");
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
    for target in targets::TARGETS {
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
        "{} of {n} regression inputs crashed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Which seed directory a target starts from (scripts/fuzz.sh uses the same map).
fn seed_dir(target: &str) -> PathBuf {
    seed_dir_in(&fuzz_dir().join("seeds"), target)
}

fn seed_dir_in(root: &Path, target: &str) -> PathBuf {
    let name = match target {
        "decode" | "container_crc" | "container_table" => "containers",
        t => t,
    };
    root.join(name)
}

#[test]
fn seeds_replay() {
    let mut n = 0;
    for target in targets::TARGETS {
        let files = files_in(&seed_dir(target));
        assert!(!files.is_empty(), "no seeds for fuzz target {target}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            targets::run(target, &bytes);
            n += 1;
        }
    }
    // The container seeds are valid containers: they decode.
    for f in files_in(&seed_dir("decode")) {
        let bytes = std::fs::read(&f).unwrap();
        tensorjpeg::decompress(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    assert!(n > 50, "only {n} seeds");
}

/// Applies `n` structured mutations (forged CRCs) to the container seeds and decodes each.
fn mutation_sweep(n: usize) {
    let seeds: Vec<container::RawContainer> = files_in(&seed_dir("decode"))
        .iter()
        .map(|f| container::RawContainer::parse(&std::fs::read(f).unwrap()).expect("seed parses"))
        .collect();
    let mut rng = container::Rng::new(0x7e45);
    for i in 0..n {
        let mut c = seeds[i % seeds.len()].clone();
        container::mutate(&mut c, &mut rng);
        let bytes = c.to_bytes();
        let _ = tensorjpeg::decompress(&bytes);
    }
}

#[test]
fn structured_table_mutations() {
    if let Some(e) = in_child("sweep\t2000", Duration::from_secs(300)) {
        panic!("structured mutation sweep crashed: {e}");
    }
}

#[test]
fn forged_crcs_pass_the_checksums() {
    let t = Tensor::from_f32("w", vec![8, 8], (0..64).map(|i| i as f32 / 64.0).collect()).unwrap();
    let bytes = compress(&[t], &Options::default()).unwrap().bytes;
    let mut raw = container::RawContainer::parse(&bytes).unwrap();
    assert_eq!(raw.to_bytes(), bytes, "parse/serialise is the identity");
    // Damage a chunk: the CRC catches it, forging makes the codec see it.
    let last = bytes.len() - 1;
    let mut damaged = bytes.clone();
    damaged[last] ^= 0x55;
    assert!(matches!(
        tensorjpeg::decompress(&damaged),
        Err(tensorjpeg::Error::Checksum { .. })
    ));
    assert!(container::forge_crcs(&mut damaged));
    if let Err(e) = tensorjpeg::decompress(&damaged) {
        assert!(!matches!(e, tensorjpeg::Error::Checksum { .. }), "{e}");
    }
    // A forged big shape reaches the table checks (a size limit may refuse it, the
    // checksums must not).
    for dims in [vec![64, 4294967295], vec![65536, 65536]] {
        raw.entries[0].dims = dims.clone();
        let forged = raw.to_bytes();
        match tensorjpeg::container::Container::open(&forged) {
            Ok(c) => {
                assert_eq!(
                    c.entries[0].shape,
                    dims.iter().map(|&d| d as usize).collect::<Vec<_>>()
                );
                c.entries[0].verified_chunks().expect("chunk CRCs forged");
            }
            Err(e) => assert!(!matches!(e, tensorjpeg::Error::Checksum { .. }), "{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Seed corpus generation.

fn smooth(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = i as f32;
            (x * 0.37 + seed as f32).sin() * 0.8
                + ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 20) as f32 / 4096.0
                - 0.5
        })
        .collect()
}

fn write_seed(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if bytes.len() > 10240 {
        eprintln!("seed {name} is {} bytes: not written", bytes.len());
        return;
    }
    std::fs::write(dir.join(safe), bytes).unwrap();
}

const CONTAINER_SPECS: &[(&str, &str)] = &[
    ("native", "default"),
    ("native", "bits=2"),
    ("native", "maxerr=0.01"),
    ("native:matrix", "q=50"),
    ("native:rows", "default"),
    ("native:tiles:tile=4", "default"),
    ("native:tworow", "default"),
    ("native:identity", "q=75"),
    ("native:dct8x8", "default"),
    ("native:dct1d", "default"),
    ("native:hadamard", "default"),
    ("native:hadamard:block=8", "default"),
    ("native:wavelet:levels=2", "default"),
    ("native:klt", "default"),
    ("native:rows:klt:k=4:f16basis", "default"),
    ("native:step=block:deadzone=0.2", "default"),
    ("native:recon=0.1", "snr=20"),
    ("native:tcq", "bits=3"),
    ("native:tcq:states=64", "bits=3"),
    ("native:dct8x8:step=block:tcq", "default"),
    ("jpeg", "q=90"),
    ("jpeg:tworow", "q=75"),
    ("jpeg:matrix:optimize", "q=50"),
    ("jpeg:tiles:tile=16", "q=95"),
    ("jpeg:tworow:trunc", "q=50"),
    ("f16", "default"),
    ("bf16", "default"),
    ("q8_0", "default"),
    ("q4_0", "default"),
    ("q4_1", "default"),
    ("q4_1:packed", "default"),
    ("q8_0:packed", "default"),
    ("svd", "default"),
    ("svd:f32:rank=3", "default"),
    ("zstd", "default"),
    ("zstd:shuffle:level=3", "default"),
    ("raw", "default"),
];

fn rate(s: &str) -> Rate {
    if s == "default" {
        Rate::Default
    } else {
        Rate::parse(s).unwrap()
    }
}

fn write_container_seeds(dir: &Path) {
    let w = Tensor::from_f32("w", vec![16, 16], smooth(16 * 16, 1)).unwrap();
    for (spec, r) in CONTAINER_SPECS {
        let opts = Options {
            codec: spec.to_string(),
            rate: rate(r),
        };
        let bytes = compress(std::slice::from_ref(&w), &opts)
            .unwrap_or_else(|e| panic!("{spec} {r}: {e}"))
            .bytes;
        write_seed(dir, &format!("{spec}@{r}.tjpg"), &bytes);
    }
    // Several tensors: a bias, a 3-D tensor, non-finite values (exceptions), an f16 source
    // tensor, an integer tensor stored verbatim and an empty one.
    let mut nan = smooth(64, 2);
    nan[3] = f32::NAN;
    nan[40] = f32::INFINITY;
    let f16 = Tensor {
        name: "h".into(),
        shape: vec![4, 8],
        dtype: DType::F16,
        data: Data::F32(
            smooth(32, 3)
                .into_iter()
                .map(|v| half::f16::from_f32(v).to_f32())
                .collect(),
        ),
    };
    let ids = Tensor {
        name: "ids".into(),
        shape: vec![4],
        dtype: DType::Other("I32".into()),
        data: Data::Raw((0..16u8).collect()),
    };
    let many = vec![
        Tensor::from_f32("b", vec![16], smooth(16, 4)).unwrap(),
        Tensor::from_f32("c", vec![4, 6, 8], smooth(192, 5)).unwrap(),
        Tensor::from_f32("nan", vec![8, 8], nan).unwrap(),
        f16,
        ids,
        Tensor::from_f32("empty", vec![0, 4], Vec::new()).unwrap(),
    ];
    for spec in ["native", "jpeg", "q4_0", "zstd", "svd"] {
        let opts = Options {
            codec: spec.into(),
            rate: Rate::Default,
        };
        let bytes = compress(&many, &opts)
            .unwrap_or_else(|e| panic!("{spec} (many): {e}"))
            .bytes;
        write_seed(dir, &format!("many-{spec}.tjpg"), &bytes);
    }
}

fn write_codec_seeds(root: &Path) {
    let reg = default_registry();
    let shapes: &[&[usize]] = &[&[16, 16], &[40], &[4, 6, 8]];
    for (spec, r) in CONTAINER_SPECS {
        let codec = reg.build(spec).unwrap();
        let dir = root.join(format!("codec_{}", codec.name()));
        for shape in shapes {
            let n: usize = shape.iter().product();
            let Ok(enc) = codec.encode(&smooth(n, 7), shape, rate(r)) else {
                continue;
            };
            let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
            let framed = frame::write(shape, &enc.params, &chunks);
            assert!(frame::parse(&framed).is_some());
            write_seed(&dir, &format!("{spec}@{r}-{shape:?}"), &framed);
        }
    }
}

fn write_entropy_seeds(dir: &Path) {
    let arrays: Vec<(&str, Vec<i32>)> = vec![
        ("zeros", vec![0; 300]),
        ("constant", vec![-7; 100]),
        ("small", (0..500i32).map(|i| (i * 7919) % 9 - 4).collect()),
        (
            "escapes",
            (0..120)
                .map(|i| {
                    if i % 37 == 0 {
                        100_000 - i
                    } else {
                        (i % 5) - 2
                    }
                })
                .collect(),
        ),
        ("wide", (0..64).map(|i| i * i * 7 - 3000).collect()),
        ("one", vec![1]),
    ];
    for (name, q) in arrays {
        for mode in [0u8, 1] {
            let mut w = ByteWriter::new();
            tensorjpeg::entropy::encode(&q, &mut w);
            tensorjpeg::entropy::encode(&q, &mut w);
            let mut b = (q.len() as u16).to_le_bytes().to_vec();
            b.push(mode);
            b.extend_from_slice(&w.into_inner());
            write_seed(dir, &format!("{name}-{mode}"), &b);
        }
    }
}

fn write_signal_seeds(dir: &Path) {
    // An RGB image [3, 32, 32] (J = 2, 48 sub-bands → k = 8) and a mono sound [1, 512]
    // (J = 3, 8 sub-bands → k = 4).
    let img: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| {
            let (c, y, x) = (i / 1024, (i / 32) % 32, i % 32);
            128.0 + 60.0 * ((x as f32 * 0.3 + c as f32).sin() * (y as f32 * 0.2).cos())
        })
        .collect();
    let snd: Vec<f32> = (0..512)
        .map(|i| 0.5 * (i as f32 * 0.05).sin() + 0.2 * (i as f32 * 0.31).sin())
        .collect();
    type Case<'a> = (&'a str, &'a [f32], &'a [usize], usize, usize);
    let cases: [Case; 2] = [
        ("img", &img, &[3, 32, 32], 2, 8),
        ("snd", &snd, &[1, 512], 3, 4),
    ];
    for (name, x, shape, levels, k) in cases {
        let basis = SignalBasis::fit(&[(x, shape)], levels, k).unwrap();
        let basis_bytes = basis.to_bytes();
        for (qn, q) in [
            ("gauss", Quantizer::Gaussian { gain: 0.05 }),
            ("unif", Quantizer::Uniform { step: 4.0 }),
        ] {
            for coder in LatentCoder::ALL {
                let Ok(sig) = tensorjpeg::signal::codec::encode(&basis, x, shape, q, coder) else {
                    continue;
                };
                tensorjpeg::signal::codec::decode(&basis, &sig).unwrap();
                let input = targets::signal_input(0, &basis_bytes, &sig);
                write_seed(dir, &format!("{name}-{qn}-{}", coder.name()), &input);
            }
        }
        // A signal decoded with the basis it was truncated from.
        if let Ok(t) = basis.truncate(k / 2) {
            let sig = tensorjpeg::signal::codec::encode(
                &t,
                x,
                shape,
                Quantizer::Uniform { step: 2.0 },
                LatentCoder::Rans,
            )
            .unwrap();
            let input = targets::signal_input(2, &basis_bytes, &sig);
            write_seed(dir, &format!("{name}-truncated"), &input);
        }
    }
}

fn write_klt_seeds(dir: &Path) {
    let dim = 16;
    let train = smooth(96 * dim, 11);
    let base = smooth(24 * dim, 12);
    let fit = KltFit::fit(&train, dim).unwrap();
    let variants = [
        ("default", KltOptions::default()),
        (
            "coarse",
            KltOptions {
                coarse_components: KltOptions::SEARCH_COARSE_COMPONENTS,
                ..KltOptions::default()
            },
        ),
        (
            "unit-k4",
            KltOptions {
                unit_norm: Some(true),
                max_components: Some(4),
                step: 0.1,
                ..KltOptions::default()
            },
        ),
    ];
    for (name, opts) in variants {
        let Ok(index) = fit.encode(&base, dim, &opts) else {
            continue;
        };
        write_seed(dir, name, &index.to_bytes());
    }
}

fn write_collection_seeds(dir: &Path) {
    use tensorjpeg::vectors::collection::{BuildOptions, Collection, Ids};
    let dim = 16;
    let x = tensorjpeg::rng::correlated_unit_vectors(40, dim, 13);
    let opts = |searchable| BuildOptions {
        bytes_per_vector: 12.0,
        searchable,
    };
    let variants = [
        ("positions", None, true),
        (
            "int-ids",
            Some(Ids::Int((0..40).map(|i| 3 * i - 7).collect())),
            false,
        ),
        (
            "text-ids",
            Some(Ids::Text((0..40).map(|i| format!("v{i}")).collect())),
            true,
        ),
    ];
    for (name, ids, searchable) in variants {
        if let Ok(c) = Collection::build(&x, dim, None, ids, &opts(searchable)) {
            write_seed(dir, name, &c.to_bytes());
        }
    }
}

/// The seed generators run on every `cargo test`: they write the codec-crate targets'
/// seeds into a temporary folder, and every seed they make is replayed through its target
/// (the container seeds must also decode). With `TJ_WRITE_SEEDS=1` they write
/// `fuzz/seeds/` instead (to regenerate the corpus).
#[test]
fn seed_corpus_generates_and_replays() {
    let tmp = std::env::temp_dir().join(format!("tj-fuzz-seeds-{}", std::process::id()));
    let root = if std::env::var_os("TJ_WRITE_SEEDS").is_some() {
        fuzz_dir().join("seeds")
    } else {
        tmp.clone()
    };
    write_container_seeds(&root.join("containers"));
    write_codec_seeds(&root);
    write_entropy_seeds(&root.join("entropy"));
    write_signal_seeds(&root.join("signal"));
    write_klt_seeds(&root.join("klt_index"));
    write_collection_seeds(&root.join("embedding_index"));
    let mut n = 0;
    for target in targets::TARGETS {
        let dir = seed_dir_in(&root, target);
        if !dir.exists() {
            continue;
        }
        for f in files_in(&dir) {
            targets::run(target, &std::fs::read(&f).unwrap());
            n += 1;
        }
    }
    for f in files_in(&seed_dir_in(&root, "decode")) {
        let bytes = std::fs::read(&f).unwrap();
        tensorjpeg::decompress(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(n > 50, "only {n} seeds generated");
}
