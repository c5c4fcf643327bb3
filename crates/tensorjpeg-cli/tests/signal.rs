//! `tensorjpeg signal …` end to end on the real assets (scikit-image photos, alsa-utils
//! speech, the NIfTI MRI series, scikit-learn digits).

mod common;
use common::{asset, fails_with, ok, run};
use serde_json::Value;

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
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
    ok(&[
        "signal",
        "decode",
        &s(&enc2),
        "--basis",
        &s(&basis),
        "-o",
        &s(&dir.path().join("w.npy")),
    ]);
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
    ok(&[
        "signal",
        "decode",
        &s(&ve),
        "--basis",
        &s(&vb),
        "-o",
        &s(&dir.path().join("v.npy")),
    ]);
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
    assert!(rows
        .iter()
        .any(|r| r["modality"] == "digits" && r["accuracy"].as_f64().unwrap_or(0.0) > 0.95));
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
