//! The signal loaders on the real assets that scripts/fetch-assets.sh fetches: the
//! scikit-image photos, the alsa-utils WAVs and scikit-learn's digits.
mod common;
use common::asset;

use tensorjpeg_io::{read_digits, read_image, read_wav, Signal};

/// The sum of `s` in f64 (exact for 8-bit images of this size).
fn sum(s: &[f32]) -> f64 {
    s.iter().map(|&v| f64::from(v)).sum()
}

/// The value at row `y`, column `x` of channel `c` of an image `[C, H, W]`.
fn at(s: &Signal, c: usize, y: usize, x: usize) -> f32 {
    s.channel(c)[y * s.shape[2] + x]
}

fn min_max(s: &[f32]) -> (f32, f32) {
    s.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// An 8-bit photo: the right length, whole values in 0..=255, not flat.
fn check_photo(name: &str, s: &Signal) {
    assert_eq!(s.values.len(), s.shape.iter().product::<usize>(), "{name}");
    assert_eq!(s.sample_rate, None, "{name}");
    assert!(
        s.values
            .iter()
            .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0),
        "{name}: values outside 0..=255 or not whole"
    );
    for c in 0..s.channels() {
        let (lo, hi) = min_max(s.channel(c));
        assert!(hi - lo > 100.0, "{name} channel {c}: range {lo}..{hi}");
    }
}

#[test]
fn camera_png_is_512x512_gray() {
    let s = read_image(&asset("images/camera.png")).unwrap();
    assert_eq!(s.shape, vec![1, 512, 512]);
    check_photo("camera.png", &s);
    // Golden values from an independent decode (zlib + PNG filters, in Python).
    assert_eq!(sum(&s.values), 33_832_495.0);
    assert_eq!(at(&s, 0, 100, 200), 54.0);
    assert_eq!(at(&s, 0, 511, 511), 149.0);
}

#[test]
fn astronaut_png_is_512x512_rgb() {
    let s = read_image(&asset("images/astronaut.png")).unwrap();
    assert_eq!(s.shape, vec![3, 512, 512]);
    check_photo("astronaut.png", &s);
    assert_ne!(s.channel(0), s.channel(1), "R and G planes identical");
    assert_ne!(s.channel(1), s.channel(2), "G and B planes identical");
    // Golden values from an independent decode (zlib + PNG filters, in Python).
    let sums: Vec<f64> = (0..3).map(|c| sum(s.channel(c))).collect();
    assert_eq!(sums, vec![37_109_758.0, 27_724_204.0, 25_290_362.0]);
    let px: Vec<f32> = (0..3).map(|c| at(&s, c, 100, 200)).collect();
    assert_eq!(px, vec![81.0, 57.0, 17.0]);
}

#[test]
fn every_photo_has_its_shape() {
    // [C, H, W] of each photo fetched (scikit-image 0.26.0).
    let photos: [(&str, [usize; 3]); 11] = [
        ("astronaut", [3, 512, 512]),
        ("camera", [1, 512, 512]),
        ("coffee", [3, 400, 600]),
        ("chelsea", [3, 300, 451]),
        ("coins", [1, 303, 384]),
        ("moon", [1, 512, 512]),
        ("brick", [1, 512, 512]),
        ("grass", [1, 512, 512]),
        ("gravel", [1, 512, 512]),
        ("ihc", [3, 512, 512]),
        ("motorcycle_left", [3, 500, 741]),
    ];
    for (name, shape) in photos {
        let s = read_image(&asset(&format!("images/{name}.png"))).unwrap();
        assert_eq!(s.shape, shape.to_vec(), "{name}.png");
        check_photo(name, &s);
    }
}

#[test]
fn alsa_wavs_are_48khz_mono_with_their_lengths() {
    let wavs = [
        ("Front_Center", 68545),
        ("Front_Left", 71042),
        ("Front_Right", 73473),
        ("Noise", 67579),
        ("Rear_Center", 65026),
        ("Rear_Left", 63010),
        ("Rear_Right", 73218),
        ("Side_Left", 67412),
        ("Side_Right", 64961),
    ];
    for (name, frames) in wavs {
        let s = read_wav(&asset(&format!("audio/{name}.wav"))).unwrap();
        assert_eq!(s.shape, vec![1, frames], "{name}.wav");
        assert_eq!(s.sample_rate, Some(48000), "{name}.wav");
        assert_eq!(s.values.len(), frames, "{name}.wav");
        assert!(
            s.values.iter().all(|v| (-1.0..1.0).contains(v)),
            "{name}.wav: sample outside [-1, 1)"
        );
        // 16-bit PCM: every value is a multiple of 2^-15.
        assert!(
            s.values.iter().all(|&v| (v * 32768.0).fract() == 0.0),
            "{name}.wav: not 16-bit steps"
        );
        let rms =
            (s.values.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / frames as f64).sqrt();
        assert!(rms > 0.005, "{name}.wav: rms {rms} (silent?)");
    }
}

#[test]
fn front_center_wav_matches_an_independent_decode() {
    // Golden values from Python's wave module: sum of the i16 samples, sample 10000, extremes.
    let s = read_wav(&asset("audio/Front_Center.wav")).unwrap();
    let ints: Vec<i64> = s.values.iter().map(|&v| (v * 32768.0) as i64).collect();
    assert_eq!(ints.iter().sum::<i64>(), 90461);
    assert_eq!(ints[10000], -2076);
    assert_eq!(ints.iter().max(), Some(&13448));
    assert_eq!(ints.iter().min(), Some(&-15487));
}

#[test]
fn digits_are_1797_labelled_8x8_images() {
    let d = read_digits(&asset("digits/digits.csv.gz")).unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.shape(), [1797, 8, 8]);
    assert_eq!(d.images.len(), 1797 * 64);
    let mut counts = [0usize; 10];
    for &l in &d.labels {
        counts[usize::from(l)] += 1;
    }
    for (digit, &n) in counts.iter().enumerate() {
        assert!((174..=183).contains(&n), "digit {digit}: {n} images");
    }
    assert!(d.images.iter().all(|&v| (0.0..=16.0).contains(&v)));
    assert_eq!(min_max(&d.images), (0.0, 16.0));
    // The first line of the file: a zero.
    assert_eq!(d.labels[0], 0);
    let first: Vec<f32> = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]
        .iter()
        .map(|&v| v as f32)
        .collect();
    assert_eq!(&d.image(0)[..16], &first[..]);
    assert_eq!(&d.image(0)[59..], &[13.0, 10.0, 0.0, 0.0, 0.0]);
}
