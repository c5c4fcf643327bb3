//! `tensorjpeg signal …` end to end on the real assets (scikit-image photos, alsa-utils
//! speech, the NIfTI MRI series, scikit-learn digits).

mod common;
use common::{asset, fails_with, ok, run};
use serde_json::Value;

use tensorjpeg::metrics::snr_db;

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// The baseline any codec at `bits` bits per sample should beat: each sample on its own,
/// uniformly quantized to `2^bits` levels over `[min, max]`, reconstructed at the midpoints.
fn samplewise(x: &[f32], bits: u32) -> Vec<f32> {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let levels = (1u32 << bits) as f32;
    let step = (hi - lo) / levels;
    x.iter()
        .map(|&v| lo + (((v - lo) / step).floor().min(levels - 1.0) + 0.5) * step)
        .collect()
}

/// The other baseline at `8 / f` bits per sample: box averages over `f` consecutive samples
/// of each run of `len` (the fastest axis), stored at 8 bits over `[min, max]`, each
/// repeated `f` times.
fn box_downsample(x: &[f32], f: usize) -> Vec<f32> {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let step = (hi - lo) / 255.0;
    let mut out = Vec::with_capacity(x.len());
    for c in x.chunks(f) {
        let m = c.iter().sum::<f32>() / c.len() as f32;
        let q = lo + ((m - lo) / step).round() * step;
        out.extend(std::iter::repeat_n(q, c.len()));
    }
    out
}

/// PSNR (peak 255) of `y` against `x`.
fn psnr(x: &[f32], y: &[f32]) -> f64 {
    tensorjpeg::ssim::psnr(x, y, 255.0).unwrap()
}

/// The `[c, h, w]` image averaged over `f × f` blocks and repeated (the downsampling peer
/// at `1/f²` of the samples, kept as f32: an upper bound on what it reaches at 8 bits).
fn block_average(x: &[f32], shape: &[usize], f: usize) -> Vec<f32> {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let mut y = vec![0f32; x.len()];
    for ch in 0..c {
        for by in (0..h).step_by(f) {
            for bx in (0..w).step_by(f) {
                let (ey, ex) = ((by + f).min(h), (bx + f).min(w));
                let mut sum = 0f64;
                for yy in by..ey {
                    for xx in bx..ex {
                        sum += f64::from(x[(ch * h + yy) * w + xx]);
                    }
                }
                let m = (sum / ((ey - by) * (ex - bx)) as f64) as f32;
                for yy in by..ey {
                    for xx in bx..ex {
                        y[(ch * h + yy) * w + xx] = m;
                    }
                }
            }
        }
    }
    y
}

#[test]
fn fit_encode_decode_inspect_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let basis = dir.path().join("rgb.tjb");
    ok(&[
        "signal",
        "fit",
        &asset("images/ihc.png"),
        &asset("images/motorcycle_left.png"),
        "--levels",
        "3",
        "--channels",
        "48",
        "-o",
        &s(&basis),
    ]);
    let enc = dir.path().join("a.tjs");
    ok(&[
        "signal",
        "encode",
        &asset("images/astronaut.png"),
        "--basis",
        &s(&basis),
        "--bpp",
        "0.5",
        "-o",
        &s(&enc),
    ]);
    let n = std::fs::metadata(&enc).unwrap().len() as f64;
    assert!(n * 8.0 / (512.0 * 512.0) <= 0.5, "{n} bytes");
    let out = ok(&["signal", "inspect", &s(&enc)]);
    assert!(
        out.contains("[3, 512, 512]") && out.contains("k = 48"),
        "{out}"
    );
    let png = dir.path().join("a.png");
    ok(&[
        "signal",
        "decode",
        &s(&enc),
        "--basis",
        &s(&basis),
        "-o",
        &s(&png),
    ]);
    let a =
        tensorjpeg_io::read_image(std::path::Path::new(&asset("images/astronaut.png"))).unwrap();
    let b = tensorjpeg_io::read_image(&png).unwrap();
    assert_eq!(a.shape, b.shape);
    let p = tensorjpeg::ssim::psnr(&a.values, &b.values, 255.0).unwrap();
    assert!(p > 24.0 && p < 40.0, "PSNR {p}");
    // WaLLoC's configuration: Gaussian compander, latents as a WebP-lossless image.
    let enc2 = dir.path().join("w.tjs");
    ok(&[
        "signal",
        "encode",
        &asset("images/astronaut.png"),
        "--basis",
        &s(&basis),
        "--channels",
        "12",
        "--quantizer",
        "gaussian",
        "--gain",
        "0.05",
        "--coder",
        "webp-lossless",
        "-o",
        &s(&enc2),
    ]);
    let wnpy = dir.path().join("w.npy");
    ok(&[
        "signal",
        "decode",
        &s(&enc2),
        "--basis",
        &s(&basis),
        "-o",
        &s(&wnpy),
    ]);
    // 12 of the 192 coefficients of each 8 × 8 × 3 block kept (16× fewer values): the
    // projection spans at least what an 8 × 8 block average keeps, so its PSNR must reach
    // that peer's, less the compander's quantization (gain 0.05).
    let w = &tensorjpeg_io::read_tensors(&wnpy).unwrap()[0];
    assert_eq!(w.shape, a.shape);
    let wv = w.values().unwrap();
    let pw = psnr(&a.values, wv);
    let p_box = psnr(&a.values, &block_average(&a.values, &a.shape, 8));
    let wbytes = std::fs::metadata(&enc2).unwrap().len() as f64;
    eprintln!(
        "walloc-linear: PSNR {pw:.2} dB at {:.3} bpp; 8×8 block average {p_box:.2} dB",
        wbytes * 8.0 / (512.0 * 512.0)
    );
    assert!(
        pw > p_box - 1.0,
        "WaLLoC PSNR {pw} vs block average {p_box}"
    );
}

#[test]
fn audio_and_volume_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let basis = dir.path().join("a.tjb");
    ok(&[
        "signal",
        "fit",
        &asset("audio/Front_Center.wav"),
        "--levels",
        "5",
        "--channels",
        "8",
        "-o",
        &s(&basis),
    ]);
    let enc = dir.path().join("a.tjs");
    ok(&[
        "signal",
        "encode",
        &asset("audio/Rear_Left.wav"),
        "--basis",
        &s(&basis),
        "--bpp",
        "2",
        "-o",
        &s(&enc),
    ]);
    let wav = dir.path().join("a.wav");
    ok(&[
        "signal",
        "decode",
        &s(&enc),
        "--basis",
        &s(&basis),
        "-o",
        &s(&wav),
    ]);
    let x = tensorjpeg_io::read_wav(std::path::Path::new(&asset("audio/Rear_Left.wav"))).unwrap();
    let y = tensorjpeg_io::read_wav(&wav).unwrap();
    assert_eq!(
        (x.shape.clone(), x.sample_rate),
        (y.shape.clone(), y.sample_rate)
    );
    // 2 bits per sample, against two peers at the same rate: each sample quantized on its
    // own to 2 bits, and a 4× box downsampling at 8 bits.
    let bits = std::fs::metadata(&enc).unwrap().len() as f64 * 8.0 / x.values.len() as f64;
    assert!(bits <= 2.0, "{bits} bits per sample");
    let ours = snr_db(&x.values, &y.values);
    let (sq, ds) = (
        snr_db(&x.values, &samplewise(&x.values, 2)),
        snr_db(&x.values, &box_downsample(&x.values, 4)),
    );
    eprintln!("audio at {bits:.3} bits/sample: SNR {ours:.2} dB; 2-bit samples {sq:.2}, 4× downsampling {ds:.2}");
    // Each sample on its own is a floor the codec must clear. The 8 latent channels of 32
    // sub-bands keep as many values as the 4× box average, but with a basis fitted on
    // another file and quantized latents they fall short of it on this low-passed speech
    // (21.6 against 22.8 dB when written): allow 3 dB (twice the error energy), no more.
    assert!(ours > sq, "audio SNR {ours} dB vs 2-bit samples {sq}");
    assert!(
        ours > ds - 3.0,
        "audio SNR {ours} dB vs 4× downsampling {ds}"
    );
    let vb = dir.path().join("v.tjb");
    let nii = asset("volume/example4d.nii.gz");
    ok(&[
        "signal",
        "fit",
        &nii,
        "--frame",
        "1",
        "--levels",
        "2",
        "--channels",
        "16",
        "-o",
        &s(&vb),
    ]);
    let ve = dir.path().join("v.tjs");
    ok(&[
        "signal",
        "encode",
        &nii,
        "--basis",
        &s(&vb),
        "--bpp",
        "1",
        "-o",
        &s(&ve),
    ]);
    let vnpy = dir.path().join("v.npy");
    ok(&[
        "signal",
        "decode",
        &s(&ve),
        "--basis",
        &s(&vb),
        "-o",
        &s(&vnpy),
    ]);
    // Frame 0 (encode's default) at 1 bit per voxel against each voxel quantized to 1 bit
    // on its own and an 8× downsampling (8 voxels along x) at 8 bits, both 1 bit per voxel.
    let vol = tensorjpeg_io::read_nifti(std::path::Path::new(&nii)).unwrap();
    let x = vol.frame(0).unwrap();
    let y = &tensorjpeg_io::read_tensors(&vnpy).unwrap()[0];
    assert_eq!(y.shape, x.shape);
    let bits = std::fs::metadata(&ve).unwrap().len() as f64 * 8.0 / x.values.len() as f64;
    assert!(bits <= 1.0, "{bits} bits per voxel");
    let ours = snr_db(&x.values, y.values().unwrap());
    let (sq, ds) = (
        snr_db(&x.values, &samplewise(&x.values, 1)),
        snr_db(&x.values, &box_downsample(&x.values, 8)),
    );
    eprintln!("volume at {bits:.3} bits/voxel: SNR {ours:.2} dB; 1-bit voxels {sq:.2}, 8× downsampling {ds:.2}");
    assert!(
        ours > sq.max(ds),
        "volume SNR {ours} dB vs peers {sq}, {ds}"
    );
    // A PNG cannot hold a volume.
    fails_with(
        &[
            "signal",
            "decode",
            &s(&ve),
            "--basis",
            &s(&vb),
            "-o",
            &s(&dir.path().join("v.png")),
        ],
        "write .npy",
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rgb = dir.path().join("rgb.tjb");
    ok(&[
        "signal",
        "fit",
        &asset("images/chelsea.png"),
        "--levels",
        "3",
        "--channels",
        "12",
        "-o",
        &s(&rgb),
    ]);
    // Another channel count, another dimensionality.
    fails_with(
        &[
            "signal",
            "encode",
            &asset("images/camera.png"),
            "--basis",
            &s(&rgb),
            "-o",
            &s(&dir.path().join("x")),
        ],
        "3-channel",
    );
    fails_with(
        &[
            "signal",
            "encode",
            &asset("audio/Noise.wav"),
            "--basis",
            &s(&rgb),
            "-o",
            &s(&dir.path().join("x")),
        ],
        "2-D",
    );
    // A signal smaller than 2^J.
    let tiny = dir.path().join("tiny.npy");
    let t = tensorjpeg::Tensor::from_f32("x", vec![3, 4, 40], vec![1.0; 480]).unwrap();
    tensorjpeg_io::write_tensors(&tiny, &[t]).unwrap();
    fails_with(
        &[
            "signal",
            "encode",
            &s(&tiny),
            "--basis",
            &s(&rgb),
            "-o",
            &s(&dir.path().join("x")),
        ],
        "2^J = 8",
    );
    fails_with(
        &[
            "signal",
            "fit",
            &s(&tiny),
            "--levels",
            "3",
            "-o",
            &s(&dir.path().join("b")),
        ],
        "2^J = 8",
    );
    // Unreadable image and WAV; a file that is not a basis or signal file.
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not a png at all").unwrap();
    fails_with(
        &[
            "signal",
            "encode",
            &s(&junk),
            "--basis",
            &s(&rgb),
            "-o",
            &s(&dir.path().join("x")),
        ],
        "junk.png",
    );
    let junkw = dir.path().join("junk.wav");
    std::fs::write(&junkw, b"RIFF....WAVEfmt ").unwrap();
    fails_with(
        &["signal", "fit", &s(&junkw), "-o", &s(&dir.path().join("b"))],
        "junk.wav",
    );
    fails_with(
        &[
            "signal",
            "encode",
            &asset("images/astronaut.png"),
            "--basis",
            &s(&junk),
            "-o",
            &s(&dir.path().join("x")),
        ],
        "TJSBASIS",
    );
    // Decoding with another basis, a corrupted file, bad flags.
    let enc = dir.path().join("a.tjs");
    ok(&[
        "signal",
        "encode",
        &asset("images/astronaut.png"),
        "--basis",
        &s(&rgb),
        "--step",
        "4",
        "-o",
        &s(&enc),
    ]);
    let other = dir.path().join("other.tjb");
    ok(&[
        "signal",
        "fit",
        &asset("images/coffee.png"),
        "--levels",
        "3",
        "--channels",
        "12",
        "-o",
        &s(&other),
    ]);
    fails_with(
        &[
            "signal",
            "decode",
            &s(&enc),
            "--basis",
            &s(&other),
            "-o",
            &s(&dir.path().join("y.png")),
        ],
        "encoded with",
    );
    let mut bytes = std::fs::read(&enc).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = dir.path().join("bad.tjs");
    std::fs::write(&bad, &bytes).unwrap();
    fails_with(
        &[
            "signal",
            "decode",
            &s(&bad),
            "--basis",
            &s(&rgb),
            "-o",
            &s(&dir.path().join("y.png")),
        ],
        "CRC",
    );
    fails_with(
        &[
            "signal",
            "encode",
            &asset("images/astronaut.png"),
            "--basis",
            &s(&rgb),
            "--channels",
            "13",
            "-o",
            &s(&dir.path().join("x")),
        ],
        "1..=12",
    );
    fails_with(
        &[
            "signal",
            "encode",
            &asset("images/astronaut.png"),
            "--basis",
            &s(&rgb),
            "--coder",
            "gif",
            "-o",
            &s(&dir.path().join("x")),
        ],
        "webp-lossless",
    );
    fails_with(
        &[
            "signal",
            "eval",
            "--modalities",
            "smell",
            "--out",
            &s(&dir.path().join("e")),
        ],
        "smell",
    );
    assert!(!dir.path().join("x").exists());
}

#[test]
fn eval_quick_writes_rows_plots_and_crops() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e");
    let o = run(&[
        "signal",
        "eval",
        "--quick",
        "--quiet",
        "--modalities",
        "image,digits",
        "--eval-gray",
        "",
        "--channels",
        "12,48,192",
        "--qualities",
        "10,50,90",
        "--out",
        &s(&out),
        "--assets",
        &common::assets().display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for key in [
        "modality",
        "codec",
        "bits_per_sample",
        "psnr_db",
        "ms_ssim",
        "encode_mps",
        "decode_mps",
        "accuracy",
    ] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "{key} missing");
    }
    let img: Vec<&Value> = rows.iter().filter(|r| r["modality"] == "image").collect();
    for codec in ["wpt-pca", "walloc-linear", "jpeg", "downsample"] {
        assert!(img.iter().any(|r| r["codec"] == codec), "{codec}");
    }
    // Rate control holds, and PSNR rises with rate at k = 192.
    let ours: Vec<&&Value> = img
        .iter()
        .filter(|r| r["codec"] == "wpt-pca" && r["k"] == 192)
        .collect();
    assert_eq!(ours.len(), 3);
    for w in ours.windows(2) {
        assert!(w[1]["psnr_db"].as_f64() > w[0]["psnr_db"].as_f64());
    }
    for r in &ours {
        assert!(r["bits_per_sample"].as_f64().unwrap() <= r["target_bits"].as_f64().unwrap());
        assert!(r["ms_ssim"].as_f64().unwrap() > 0.8);
    }
    // Digits: the uncompressed row, then the compressed ones. A PCA projection to k of the
    // 64 pixels keeps at least the variance of a box average to k values, so 3-NN on the
    // latents must classify at least as well as on the downsampled digits of the same size
    // (less 1 point for the compander's rounding), and stay near the raw pixels at 2-4×.
    let digits: Vec<&Value> = rows.iter().filter(|r| r["modality"] == "digits").collect();
    let acc = |codec: &str, k: Option<u64>, reduction: Option<f64>| -> f64 {
        let r = digits
            .iter()
            .find(|r| {
                r["codec"] == codec
                    && k.is_none_or(|k| r["k"] == k)
                    && reduction.is_none_or(|f| r["reduction"].as_f64() == Some(f))
            })
            .unwrap_or_else(|| panic!("no digits row {codec} k={k:?} reduction={reduction:?}"));
        r["accuracy"].as_f64().unwrap()
    };
    let raw = acc("raw", None, None);
    assert!(raw > 0.95, "raw digits accuracy {raw}");
    for (k, f) in [(16u64, 4.0), (4, 16.0)] {
        let ours = acc("wpt-pca-latents", Some(k), None);
        let decoded = acc("wpt-pca-decoded", Some(k), None);
        let boxed = acc("downsample", None, Some(f));
        eprintln!("digits {f}×: latents {ours:.4}, decoded {decoded:.4}, box average {boxed:.4}, raw {raw:.4}");
        assert!(
            ours >= boxed - 0.01,
            "{f}×: latents {ours} below box average {boxed}"
        );
        assert!(
            decoded >= boxed - 0.01,
            "{f}×: decoded {decoded} below box average {boxed}"
        );
    }
    for k in [32u64, 16] {
        let ours = acc("wpt-pca-latents", Some(k), None);
        assert!(ours >= raw - 0.02, "k={k}: latents {ours} vs raw {raw}");
    }
    // Every compressed digits row classifies far above chance (0.1).
    for r in digits.iter().filter(|r| r["codec"] != "raw") {
        let a = r["accuracy"].as_f64().unwrap();
        assert!(a > 0.5, "{}: accuracy {a}", r["codec"]);
    }
    for f in [
        "results.csv",
        "report.md",
        "run.json",
        "crops-astronaut.png",
        "image-astronaut-psnr.png",
        "image-astronaut-ms_ssim.png",
        "digits-accuracy.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
}
