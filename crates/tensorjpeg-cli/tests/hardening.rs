//! Issue 14's defects, each reproduced through the command line: files crafted to lie
//! about their sizes, outputs that are inputs or special files, parameters the integer
//! codes cannot carry, and the small ones (stale temporaries, odd specs, messages).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{asset, fails_with, ok, ok_json, run};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// CRC-32 (IEEE), bitwise: what anyone forging a file recomputes.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn varint(b: &[u8], mut p: usize) -> (u64, usize) {
    let (mut v, mut sh) = (0u64, 0);
    loop {
        let x = b[p];
        p += 1;
        v |= u64::from(x & 0x7f) << sh;
        sh += 7;
        if x & 0x80 == 0 {
            return (v, p);
        }
    }
}

fn leb(mut v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    loop {
        let c = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            o.push(c);
            return o;
        }
        o.push(c | 0x80);
    }
}

/// `../shared/repro/set_dim.py` in Rust: rewrites dimension `axis` of the first tensor and
/// recomputes the table CRC-32.
fn set_dim(container: &[u8], axis: usize, value: u64) -> Vec<u8> {
    let mut b = container.to_vec();
    let mut tl = u64::from_le_bytes(b[12..20].try_into().unwrap()) as usize;
    let (_, mut p) = varint(&b, 20); // tensor count
    for _ in 0..2 {
        let (l, q) = varint(&b, p); // name, dtype
        p = q + l as usize;
    }
    let (nd, mut p) = varint(&b, p);
    let mut spans = Vec::new();
    for _ in 0..nd {
        let (_, q) = varint(&b, p);
        spans.push((p, q));
        p = q;
    }
    let (s0, e0) = spans[axis];
    let new = leb(value);
    tl = tl + new.len() - (e0 - s0);
    b.splice(s0..e0, new);
    b[12..20].copy_from_slice(&(tl as u64).to_le_bytes());
    let crc = crc32(&b[20..20 + tl]);
    b[20 + tl..24 + tl].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A real weight matrix ([64, 384] rows of MiniLM's embedding table) as an .npy file.
fn weights_npy(dir: &Path) -> PathBuf {
    let ts = tensorjpeg_io::read_safetensors(Path::new(&asset("minilm/model.safetensors")))
        .expect("MiniLM weights");
    let t = ts
        .iter()
        .find(|t| t.name.ends_with("word_embeddings.weight"))
        .expect("word embeddings");
    let v = t.values().unwrap()[..64 * 384].to_vec();
    let p = dir.join("w.npy");
    let t = tensorjpeg::Tensor::from_f32("w", vec![64, 384], v).unwrap();
    tensorjpeg_io::write_npy(&p, &t).unwrap();
    p
}

/// Failed as an error (exit 1), not killed by a signal (an abort is SIGABRT).
fn clean_failure(o: &Output, args: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{args}: {:?}\n{err}", o.status);
    assert!(!err.contains("panicked"), "{args} panicked:\n{err}");
    err
}

#[test]
fn forged_shapes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights_npy(dir.path());
    for codec in [
        "native",
        "native:rows",
        "native:tiles",
        "native:dct8x8",
        "native:tworow",
        "jpeg",
        "jpeg:tworow",
        "zstd",
        "svd",
        "q8_0",
        "q4_0",
        "f16",
        "raw",
    ] {
        let c = dir.path().join("c.tjpg");
        ok(&["compress", &s(&w), "-o", &s(&c), "--codec", codec]);
        let bytes = std::fs::read(&c).unwrap();
        for (axis, value) in [(0, 4_294_967_295u64), (1, 4_294_967_295), (0, 1 << 20)] {
            let forged = dir.path().join("forged.tjpg");
            std::fs::write(&forged, set_dim(&bytes, axis, value)).unwrap();
            let out = s(&dir.path().join("o.npy"));
            // Refused by the caps, naming the tensor and the flag that raises them...
            if value > 1 << 20 {
                let err = clean_failure(
                    &run(&["decompress", &s(&forged), "-o", &out]),
                    &format!("{codec} axis {axis}"),
                );
                assert!(
                    err.contains("'w'") && err.contains("--max-elements"),
                    "{codec}: {err}"
                );
                fails_with(&["inspect", &s(&forged)], "limit exceeded");
            }
            // ...and with the caps off, by the codec's own size checks or a failed
            // (fallible) allocation: never an abort.
            clean_failure(
                &run(&[
                    "decompress",
                    &s(&forged),
                    "-o",
                    &out,
                    "--max-elements",
                    "0",
                    "--max-ratio",
                    "0",
                ]),
                &format!("{codec} axis {axis} uncapped"),
            );
        }
    }
}

#[test]
fn a_png_header_that_lies_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(asset("images/coins.png")).unwrap();
    b[16..20].copy_from_slice(&1_000_000u32.to_be_bytes());
    b[20..24].copy_from_slice(&1_000_000u32.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, &b).unwrap();
    let basis = s(&dir.path().join("b.tjb"));
    for extra in [&[][..], &["--max-elements", "0"][..]] {
        let mut args = vec!["signal", "fit", huge.to_str().unwrap(), "-o", &basis];
        args.extend_from_slice(extra);
        let err = clean_failure(&run(&args), "signal fit huge.png");
        assert!(err.contains("huge.png") && err.contains("1000000"), "{err}");
    }
}

fn digest(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

/// `args` must fail, naming the clash, and leave every file of `keep` as it was.
fn refuses_and_keeps(args: &[&str], keep: &[&Path], needle: &str) {
    let before: Vec<Vec<u8>> = keep.iter().map(|p| digest(p)).collect();
    fails_with(args, needle);
    for (p, b) in keep.iter().zip(before) {
        assert_eq!(digest(p), b, "{args:?} changed {}", p.display());
    }
}

#[test]
fn no_command_writes_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = weights_npy(d);
    let same = "same file as the input";
    // compress: .npy, ./path, a link to the input, .safetensors.
    refuses_and_keeps(&["compress", &s(&w), "-o", &s(&w)], &[&w], same);
    let dotted = d.join(".").join("w.npy");
    refuses_and_keeps(&["compress", &s(&w), "-o", &s(&dotted)], &[&w], same);
    let link = d.join("link.npy");
    std::os::unix::fs::symlink(&w, &link).unwrap();
    refuses_and_keeps(&["compress", &s(&w), "-o", &s(&link)], &[&w], same);
    let st = d.join("m.safetensors");
    std::fs::copy(asset("minilm/model.safetensors"), &st).unwrap();
    refuses_and_keeps(
        &["compress", &s(&st), "-o", &s(&st), "--include", "pooler"],
        &[&st],
        same,
    );
    // decompress: the container named .npy, written over itself.
    let c = d.join("c.npy");
    let c_real = d.join("c.tjpg");
    ok(&["compress", &s(&w), "-o", &s(&c_real)]);
    std::fs::copy(&c_real, &c).unwrap();
    refuses_and_keeps(&["decompress", &s(&c), "-o", &s(&c)], &[&c], same);
    // signal fit / encode / decode.
    let img = d.join("coins.png");
    std::fs::copy(asset("images/coins.png"), &img).unwrap();
    let basis = d.join("b.tjb");
    refuses_and_keeps(
        &["signal", "fit", &s(&img), "--levels", "2", "-o", &s(&img)],
        &[&img],
        same,
    );
    ok(&[
        "signal",
        "fit",
        &s(&img),
        "--levels",
        "2",
        "--channels",
        "8",
        "-o",
        &s(&basis),
    ]);
    let enc = ["signal", "encode", &s(&img), "--basis", &s(&basis), "-o"];
    refuses_and_keeps(&[&enc[..], &[&s(&basis)]].concat(), &[&basis], same);
    refuses_and_keeps(&[&enc[..], &[&s(&img)]].concat(), &[&img], same);
    let tjs = d.join("s.png"); // a signal file that happens to end in .png
    ok(&[&enc[..], &[&s(&tjs)]].concat());
    refuses_and_keeps(
        &[
            "signal",
            "decode",
            &s(&tjs),
            "--basis",
            &s(&basis),
            "-o",
            &s(&tjs),
        ],
        &[&tjs, &basis],
        same,
    );
    // embed: the sentences file named .npy.
    let text = d.join("t.npy");
    std::fs::write(&text, "one sentence\nanother sentence\n").unwrap();
    refuses_and_keeps(
        &["embed", "--text", &s(&text), "-o", &s(&text)],
        &[&text],
        same,
    );
}

#[test]
fn special_files_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights_npy(dir.path());
    fails_with(
        &["compress", &s(&w), "-o", "/dev/null"],
        "not a regular file",
    );
    assert!(!Path::new("/dev/null").is_file(), "/dev/null was replaced");
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    fails_with(&["compress", &s(&w), "-o", &s(&fifo)], "not a regular file");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    fails_with(&["compress", &s(&w), "-o", &s(&sub)], "directory");
}

#[test]
fn targets_the_codes_cannot_reach_are_errors_or_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = asset("images/coins.png");
    let basis = s(&d.join("b.tjb"));
    ok(&[
        "signal",
        "fit",
        &img,
        "--levels",
        "2",
        "--channels",
        "8",
        "-o",
        &basis,
    ]);
    let out = s(&d.join("s.tjs"));
    let enc = ["signal", "encode", &img, "--basis", &basis, "-o", &out];
    fails_with(&[&enc[..], &["--step", "1e-9"]].concat(), "invalid step");
    fails_with(
        &[
            &enc[..],
            &[
                "--quantizer",
                "gaussian",
                "--gain",
                "1e30",
                "--coder",
                "png",
            ],
        ]
        .concat(),
        "clip at ±127",
    );
    // A legal but extreme step in a file (CRC recomputed): refused, never NaNs.
    ok(&[&enc[..], &["--step", "2"]].concat());
    let mut b = std::fs::read(&out).unwrap();
    let at = b
        .windows(4)
        .position(|x| x == 2f32.to_le_bytes())
        .expect("step in the header");
    b[at..at + 4].copy_from_slice(&3e38f32.to_le_bytes());
    let n = b.len();
    let crc = crc32(&b[..n - 4]);
    b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let forged = d.join("forged.tjs");
    std::fs::write(&forged, &b).unwrap();
    fails_with(
        &[
            "signal",
            "decode",
            &s(&forged),
            "--basis",
            &basis,
            "-o",
            &s(&d.join("o.png")),
        ],
        "a damaged or forged file",
    );
    // --bits below what the KLT basis alone costs: a warning and the count in the JSON.
    let w = weights_npy(d);
    let ts = tensorjpeg_io::read_npy(&w).unwrap();
    let small = tensorjpeg::Tensor::from_f32(
        "e",
        vec![50, 384],
        ts.values().unwrap()[..50 * 384].to_vec(),
    )
    .unwrap();
    let e = d.join("e.npy");
    tensorjpeg_io::write_npy(&e, &small).unwrap();
    for bits in ["1", "4", "8"] {
        let o = run(&[
            "compress",
            &s(&e),
            "-o",
            &s(&d.join("e.tjpg")),
            "--codec",
            "native:klt",
            "--bits",
            bits,
        ]);
        assert!(o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--bits") && err.contains("not reached"),
            "{err}"
        );
    }
    let j = ok_json(&[
        "compress",
        &s(&e),
        "-o",
        &s(&d.join("e.tjpg")),
        "--codec",
        "native:klt",
        "--bits",
        "4",
        "--json",
    ]);
    assert_eq!(j["targets_missed"], 1, "{j}");
    // An ordinary --bits target is met and reports nothing.
    let j = ok_json(&[
        "compress",
        &s(&w),
        "-o",
        &s(&d.join("w.tjpg")),
        "--bits",
        "4",
        "--json",
    ]);
    assert_eq!(j["targets_missed"], 0, "{j}");
    assert!(j["bits_per_value"].as_f64().unwrap() <= 4.0 + 1e-9, "{j}");
}

#[test]
fn small_defects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = weights_npy(d);
    let out = d.join("o.tjpg");
    // Odd specs.
    for (codec, needle) in [
        ("svd:rank=0", "rank"),
        ("native::", "empty option"),
        ("native:dct8x8:dct8x8", "repeated"),
        ("native:dct8x8:wavelet", "at most one transform"),
        ("native:rows:tiles", "at most one layout"),
        ("native:deadzone=0.1:deadzone=0.2", "each key once"),
    ] {
        fails_with(
            &["compress", &s(&w), "-o", &s(&out), "--codec", codec],
            needle,
        );
    }
    // A bound finer than any f32 step: named as a parameter, not as corrupt data.
    let o = run(&["compress", &s(&w), "-o", &s(&out), "--max-error", "1e-300"]);
    let err = clean_failure(&o, "--max-error 1e-300");
    assert!(
        err.contains("max error") && !err.contains("corrupt"),
        "{err}"
    );
    // The OS error once; no backtrace even under RUST_BACKTRACE=1.
    let o = run(&["compress", &s(&d.join("missing.npy")), "-o", &s(&out)]);
    let err = clean_failure(&o, "missing input");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    let gguf = d.join("bad.gguf");
    let mut g = std::fs::read(asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    g.truncate(4096);
    std::fs::write(&gguf, &g).unwrap();
    for args in [
        vec!["inspect", gguf.to_str().unwrap()],
        vec![
            "compress",
            gguf.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_tensorjpeg"))
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = clean_failure(&o, "truncated gguf");
        assert!(err.contains("bad.gguf"), "{err}");
        assert!(
            !err.contains("backtrace") && !err.contains("   0: "),
            "{err}"
        );
    }
    // A temporary file left by a killed run is removed by the next write there; none is
    // left by this one.
    let stale = d.join(".o.tjpg.tensorjpeg-tmp.4194305.0");
    let legacy = d.join(".o.tjpg.tmp-4194306-1");
    std::fs::write(&stale, b"partial").unwrap();
    std::fs::write(&legacy, b"partial").unwrap();
    let o = run(&["compress", &s(&w), "-o", &s(&out)]);
    assert!(o.status.success());
    assert!(!stale.exists() && !legacy.exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted run"));
    let tmp: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// A reader that stops early (`tensorjpeg inspect … | head`) ends the process quietly,
/// never with a panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    // 4,000 tensors: a listing far larger than a pipe's buffer.
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("many.safetensors");
    let ts: Vec<tensorjpeg::Tensor> = (0..4000)
        .map(|i| {
            tensorjpeg::Tensor::from_f32(format!("layer.{i}.weight"), vec![2], vec![1.0, 2.0])
                .unwrap()
        })
        .collect();
    tensorjpeg_io::write_tensors(&m, &ts).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tensorjpeg"))
        .args(["inspect", "--json", m.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is closed here; the rest of the listing (tens of kB) hits a closed pipe.
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        status.success() || status.signal() == Some(13),
        "{status:?}: {err}"
    );
}
