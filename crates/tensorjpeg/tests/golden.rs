//! Golden vectors: fixed inputs must produce byte-identical files and bit-identical decoded
//! values, for every codec and rate mode of the container (`.tjpg`), for the signal file
//! (`.tjs`) and its basis (`.tjb`), and for the KLT collection index (`TJVK`). Each case pins
//! a 64-bit hash and the size of the bytes written, a hash of the decoded values' f32 bits and
//! four decoded values (as f32 bits, at positions 0, n/3, 2n/3 and n − 1), so any change to a
//! stage's bitstream — or to what a decoder makes of the same bytes — fails here.
//!
//! Inputs are generated without floating-point library calls (an integer hash), so they are
//! the same on every platform; every case is run on a 1-thread and a 2-thread rayon pool and
//! must give the same results on both.
//!
//! To re-pin after an intended change: `GOLDEN_PRINT=1 cargo test -p tensorjpeg --test golden
//! -- --nocapture` prints the table in source form (the test still fails while anything
//! differs: paste the table, then bump the format's version if old files no longer decode).

use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{self as signal, LatentCoder, Quantizer, QuantizerKind};
use tensorjpeg::signal::latent_image::LatentImageCodec;
use tensorjpeg::vectors::klt::{KltFit, KltOptions};
use tensorjpeg::vectors::VectorIndex;
use tensorjpeg::{
    compress, compress_planned, decompress, DType, Data, Options, Rate, Tensor, TensorPlan,
};

/// An integer hash of `i` mapped to [-0.5, 0.5).
fn hashed(i: usize, salt: u32) -> f32 {
    let h = (i as u32 ^ salt)
        .wrapping_mul(2_654_435_761)
        .rotate_left(13)
        ^ 0x5bd1_e995;
    (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5
}

/// A 24×40 matrix of hashed values in [-0.5, 0.5) with a smooth component.
fn input() -> Tensor {
    let (r, c) = (24usize, 40usize);
    let v: Vec<f32> = (0..r * c)
        .map(|i| {
            let noise = hashed(i, 0);
            let smooth = ((i % c) as f32 - 20.0) / 40.0;
            0.1 * noise + smooth * 0.05
        })
        .collect();
    Tensor::from_f32("golden", vec![r, c], v).unwrap()
}

/// Two tensors of the 16-bit dtypes (values already representable), one 3-D, one 1-D.
fn input_16bit() -> Vec<Tensor> {
    let a: Vec<f32> = (0..2 * 9 * 33)
        .map(|i| DType::F16.round_f32(0.2 * hashed(i, 7)))
        .collect();
    let b: Vec<f32> = (0..77)
        .map(|i| DType::BF16.round_f32(hashed(i, 9) * (1.0 + (i % 5) as f32)))
        .collect();
    vec![
        Tensor {
            name: "h".into(),
            shape: vec![2, 9, 33],
            dtype: DType::F16,
            data: Data::F32(a),
        },
        Tensor {
            name: "b".into(),
            shape: vec![77],
            dtype: DType::BF16,
            data: Data::F32(b),
        },
    ]
}

/// A `[3, 32, 32]` "photo" in 0..=255: smooth gradients, an edge and hashed texture.
fn image(salt: u32) -> (Vec<f32>, Vec<usize>) {
    let v = (0..3 * 32 * 32)
        .map(|i| {
            let (c, y, x) = (i / 1024, (i / 32) % 32, i % 32);
            let base = (x * 4 + y * 2 + c * 30) as f32;
            let edge = if x + y > 40 { 60.0 } else { 0.0 };
            (base + edge + 40.0 * hashed(i, salt))
                .clamp(0.0, 255.0)
                .round()
        })
        .collect();
    (v, vec![3, 32, 32])
}

/// A `[1, 512]` "sound": a square-ish wave plus hashed noise.
fn sound(salt: u32) -> (Vec<f32>, Vec<usize>) {
    let v = (0..512)
        .map(|i| {
            let wave = if (i / 16) % 2 == 0 { 3000.0 } else { -3000.0 };
            wave * ((i % 64) as f32 / 64.0) + 2000.0 * hashed(i, salt)
        })
        .collect();
    (v, vec![1, 512])
}

/// `n` vectors of `dim` values with decaying variance per coordinate (a KLT has work to do).
fn vectors(n: usize, dim: usize, salt: u32) -> Vec<f32> {
    (0..n * dim)
        .map(|i| {
            let (r, j) = (i / dim, i % dim);
            let shared = hashed(r, salt ^ 0xabcd);
            hashed(i, salt) / (1.0 + j as f32) + shared * (j % 3) as f32 * 0.3
        })
        .collect()
}

/// FNV-1a, 64 bits. (Not a CRC-32: the files end with their own CRC-32, and the CRC-32 of
/// any message followed by its CRC is one constant, so it would pin nothing.)
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What one case pins.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    hash: u64,
    size: usize,
    decoded_hash: u64,
    samples: [u32; 4],
}

fn got(bytes: &[u8], decoded: &[f32]) -> Got {
    let raw: Vec<u8> = decoded.iter().flat_map(|v| v.to_le_bytes()).collect();
    let n = decoded.len();
    let at = |i: usize| decoded.get(i).map_or(0, |v| v.to_bits());
    Got {
        hash: fnv1a(bytes),
        size: bytes.len(),
        decoded_hash: fnv1a(&raw),
        samples: [at(0), at(n / 3), at(2 * n / 3), at(n.saturating_sub(1))],
    }
}

/// A container case: tensors through one codec spec at one rate.
fn container(tensors: &[Tensor], spec: &str, rate: Rate) -> Got {
    let c = compress(
        tensors,
        &Options {
            codec: spec.into(),
            rate,
        },
    )
    .unwrap_or_else(|e| panic!("{spec} at {rate:?}: {e}"));
    let back = decompress(&c.bytes).unwrap();
    assert_eq!(back.len(), tensors.len());
    let mut vals = Vec::new();
    for (b, t) in back.iter().zip(tensors) {
        assert_eq!((&b.name, &b.shape, &b.dtype), (&t.name, &t.shape, &t.dtype));
        vals.extend_from_slice(b.values().unwrap());
    }
    got(&c.bytes, &vals)
}

/// The container cases: every codec of the default registry and every rate mode.
fn container_cases() -> Vec<(String, Got)> {
    let t = vec![input()];
    let t16 = input_16bit();
    let cases: &[(&str, Rate)] = &[
        // The default pipeline: identity transform, one step, rANS.
        ("native", Rate::Quality(75)),
        // A guaranteed bound: step 2E, exceptions where f32 rounding would break it.
        ("native", Rate::MaxError(1e-3)),
        ("native", Rate::Bits(4.0)),
        ("native", Rate::Snr(30.0)),
        ("native", Rate::Default),
        ("native:dct8x8", Rate::Quality(90)),
        ("native:dct1d", Rate::Quality(75)),
        ("native:wavelet:levels=2", Rate::Quality(50)),
        ("native:hadamard:seed=1", Rate::Quality(75)),
        ("native:klt", Rate::Quality(75)),
        ("native:klt:k=8:f16basis", Rate::Bits(3.0)),
        ("native:tiles:tile=8:dct8x8", Rate::Quality(75)),
        ("native:tworow:dct8x8", Rate::Quality(75)),
        (
            "native:rows:step=block:deadzone=0.2:recon=0.1",
            Rate::Quality(60),
        ),
        // Trellis-coded quantization: native params version 3, two index streams per band.
        ("native:tcq", Rate::Bits(4.0)),
        ("native:dct8x8:step=block:tcq", Rate::Quality(75)),
        ("native:tcq:states=32", Rate::Bits(3.0)),
        ("q8_0", Rate::Default),
        ("q4_0", Rate::Default),
        ("q4_1", Rate::Default),
        ("q4_1:packed", Rate::Default),
        ("f16", Rate::Default),
        ("bf16", Rate::Default),
        ("raw", Rate::Default),
        ("zstd", Rate::Default),
        ("zstd:level=19:shuffle", Rate::Default),
        ("svd", Rate::Default),
        ("svd:f32", Rate::Quality(25)),
        ("svd", Rate::Bits(4.0)),
        ("svd", Rate::Snr(10.0)),
        // The seeds' literal JPEG, two rows per vector, and its other layouts and modes.
        ("jpeg:tworow", Rate::Quality(95)),
        ("jpeg:matrix", Rate::Quality(75)),
        ("jpeg:tiles:tile=16:optimize", Rate::Quality(50)),
        ("jpeg:tworow:trunc", Rate::Quality(50)),
        ("jpeg", Rate::Bits(2.0)),
        ("jpeg", Rate::Snr(20.0)),
    ];
    let mut out: Vec<(String, Got)> = cases
        .iter()
        .map(|&(spec, rate)| {
            (
                format!("{spec}@{}", rate.label()),
                container(&t, spec, rate),
            )
        })
        .collect();
    // The 16-bit dtypes: values rounded back to the tensor's dtype after decoding.
    for (spec, rate) in [("native", Rate::Quality(75)), ("f16", Rate::Default)] {
        out.push((
            format!("16bit:{spec}@{}", rate.label()),
            container(&t16, spec, rate),
        ));
    }
    // A pooled allocation (one slope over two tensors, centroid reconstruction), the
    // second tensor with row and column weights: native params version 2.
    let t2 = Tensor::from_f32(
        "second",
        vec![8, 40],
        input().values().unwrap()[..320]
            .iter()
            .map(|v| 3.0 * v)
            .collect(),
    )
    .unwrap();
    let axes = tensorjpeg::AxisWeights {
        rows: Some((0..8).map(|i| 1.0 + i as f32).collect()),
        cols: Some((0..40).map(|j| if j < 5 { 16.0 } else { 1.0 }).collect()),
    };
    let plans = vec![
        TensorPlan::Pool {
            codec: "native".into(),
            weight: 1.0,
            axes: None,
            gram: None,
            keep: None,
        },
        TensorPlan::Pool {
            codec: "native".into(),
            weight: 2.0,
            axes: Some(axes),
            gram: None,
            keep: None,
        },
    ];
    let c = compress_planned(
        &[input(), t2],
        &plans,
        Some(3.0),
        &tensorjpeg::default_registry(),
        &|_| {},
    )
    .unwrap();
    let back = decompress(&c.bytes).unwrap();
    let decoded: Vec<f32> = back
        .iter()
        .flat_map(|t| t.values().unwrap().to_vec())
        .collect();
    out.push(("pool native@bits=3 axes".into(), got(&c.bytes, &decoded)));
    out
}

/// The signal cases: bases (`.tjb`) fitted on fixed signals, and signal files (`.tjs`) with
/// every quantizer and latent coder, decoded.
fn signal_cases() -> Vec<(String, Got)> {
    let mut out = Vec::new();
    let (a, ash) = image(1);
    let (b, bsh) = image(2);
    let basis = SignalBasis::fit(&[(&a, &ash), (&b, &bsh)], 2, 12).unwrap();
    let bb = basis.to_bytes();
    let back = SignalBasis::from_bytes(&bb).unwrap();
    assert_eq!(back.to_bytes(), bb);
    out.push(("tjb image J=2 k=12".into(), got(&bb, &[])));
    let (x, xsh) = image(3);
    let files: Vec<(&str, Quantizer, LatentCoder)> = vec![
        (
            "gaussian rans",
            QuantizerKind::Gaussian.at(0.5),
            LatentCoder::Rans,
        ),
        (
            "uniform rans-plain",
            QuantizerKind::Uniform.at(0.25),
            LatentCoder::RansPlain,
        ),
        (
            "gaussian png",
            QuantizerKind::Gaussian.at(0.05),
            LatentCoder::Image(LatentImageCodec::Png),
        ),
        (
            "gaussian webp-lossless",
            QuantizerKind::Gaussian.at(0.05),
            LatentCoder::Image(LatentImageCodec::WebpLossless),
        ),
    ];
    for (name, q, coder) in files {
        let f = signal::encode(&basis, &x, &xsh, q, coder).unwrap();
        let (y, ysh) = signal::decode(&basis, &f).unwrap();
        assert_eq!(ysh, xsh);
        out.push((format!("tjs image {name}"), got(&f, &y)));
    }
    let rate = signal::RateTarget {
        kind: QuantizerKind::Uniform,
        coder: LatentCoder::Rans,
        bits_per_sample: 1.0,
        sample_rate: None,
    };
    let (f, _) = signal::encode_to_rate(&basis, &x, &xsh, &rate).unwrap();
    let (y, _) = signal::decode(&basis, &f).unwrap();
    out.push(("tjs image uniform rans @1bpp".into(), got(&f, &y)));
    // 1-D: a sound, J = 3, 4 of 8 channels, with a sample rate in the header.
    let (s, ssh) = sound(4);
    let sb = SignalBasis::fit(&[(&s, &ssh)], 3, 4).unwrap();
    out.push(("tjb sound J=3 k=4".into(), got(&sb.to_bytes(), &[])));
    let (z, csh) = sb.encode_latents(&sound(5).0, &ssh).unwrap();
    let f = signal::encode_from_latents(
        &sb,
        &z,
        &csh,
        &ssh,
        QuantizerKind::Gaussian.at(2.0),
        LatentCoder::Rans,
        Some(48_000),
    )
    .unwrap();
    let (y, _) = signal::decode(&sb, &f).unwrap();
    out.push(("tjs sound gaussian rans".into(), got(&f, &y)));
    out
}

/// The KLT collection index: fitted on one set, encoded on another, every vector decoded.
fn klt_cases() -> Vec<(String, Got)> {
    let dim = 24;
    let train = vectors(200, dim, 11);
    let base = vectors(60, dim, 12);
    let fit = KltFit::fit(&train, dim).unwrap();
    let mut out = Vec::new();
    let opts = [
        ("klt step", KltOptions::default()),
        (
            "klt 12 B/vector",
            KltOptions {
                bytes_per_vector: Some(12.0),
                ..KltOptions::default()
            },
        ),
        (
            "klt+search rdo",
            KltOptions {
                coarse_components: KltOptions::SEARCH_COARSE_COMPONENTS,
                rdo_lambda: 0.1,
                ..KltOptions::default()
            },
        ),
    ];
    for (name, o) in opts {
        let idx = fit.encode(&base, dim, &o).unwrap();
        let bytes = idx.to_bytes();
        let back = tensorjpeg::vectors::klt::KltIndex::from_bytes(&bytes).unwrap();
        let mut y = vec![0f32; 60 * dim];
        for (i, row) in y.chunks_mut(dim).enumerate() {
            back.decode(i, row).unwrap();
        }
        out.push((name.to_string(), got(&bytes, &y)));
    }
    out
}

fn all_cases() -> Vec<(String, Got)> {
    let mut v = container_cases();
    v.extend(signal_cases());
    v.extend(klt_cases());
    v
}

/// (case, FNV-1a of the file, file size, FNV-1a of the decoded f32 bits, decoded samples as
/// f32 bits)
type Pin = (&'static str, u64, usize, u64, [u32; 4]);

const PINNED: &[Pin] = &[
    (
        "native:tcq@bits=4",
        0x81d9df6b61cc4ffa,
        485,
        0x082445c7c77406b6,
        [0xbd1b1bed, 0xbd1b1bed, 0xbd1b1bed, 0x00000000],
    ),
    (
        "native:dct8x8:step=block:tcq@q=75",
        0xd6a1b08ce00af095,
        928,
        0x014a85254cf36139,
        [0xbd308be2, 0xbd40e5dc, 0xbd259b81, 0xbb318088],
    ),
    (
        "native:tcq:states=32@bits=3",
        0x2dca039a9bc08c2d,
        363,
        0xf6da3d5de88a312e,
        [0xbd2105e1, 0xbd2105e1, 0xbd2105e1, 0x00000000],
    ),
    (
        "pool native@bits=3 axes",
        0x1b85ed529d8d928e,
        485,
        0x7f3d77cb5cc69f4a,
        [0xbd4bc886, 0x00000000, 0x00000000, 0x00000000],
    ),
    (
        "native@q=75",
        0xcda971ba23d776f4,
        608,
        0x1321949f896174ee,
        [0xbd2401a4, 0xbd2401a4, 0xbd2401a4, 0x00000000],
    ),
    (
        "native@maxerr=0.001",
        0x9363bd4813689321,
        885,
        0x3b47d199408f3cf3,
        [0xbd23d700, 0xbd23d700, 0xbd1ba5d9, 0xbb031266],
    ),
    (
        "native@bits=4",
        0xe97ebf16698128ba,
        497,
        0x4c2823966aef6166,
        [0xbd31e8bd, 0xbd31e8bd, 0xbd31e8bd, 0x00000000],
    ),
    (
        "native@snr=30",
        0x51126763ba7e2c14,
        775,
        0x9f123e710b5f3aa8,
        [0xbd1de663, 0xbd2c4126, 0xbd1de663, 0x00000000],
    ),
    (
        "native@default",
        0xcda971ba23d776f4,
        608,
        0x1321949f896174ee,
        [0xbd2401a4, 0xbd2401a4, 0xbd2401a4, 0x00000000],
    ),
    (
        "native:dct8x8@q=90",
        0x1ad2178eba62b5f1,
        1183,
        0x7082e96a3fea7e6c,
        [0xbd1fe41d, 0xbd22507d, 0xbd1d9900, 0xba2c5b28],
    ),
    (
        "native:dct1d@q=75",
        0x6467ab7c999644b7,
        790,
        0x709f2447bc5fcc78,
        [0xbd29c97b, 0xbd230634, 0xbd33b5c4, 0x398cdbb4],
    ),
    (
        "native:wavelet:levels=2@q=50",
        0x485c44f7a30dfd86,
        551,
        0x0e0cb6bc3350e893,
        [0xbd30885d, 0xbd275070, 0xbd2b89e5, 0x3bbc84a8],
    ),
    (
        "native:hadamard:seed=1@q=75",
        0xd7cfa7fb735f1f5d,
        629,
        0x49dde1c0e074f132,
        [0xbd2df47e, 0xbd16c2d3, 0xbd398d53, 0x80000000],
    ),
    (
        "native:klt@q=75",
        0xfae1337c965e16db,
        7204,
        0x8acbd37b92e26d60,
        [0xbd218458, 0xbd1ec5e3, 0xbd1dd198, 0xba5430c0],
    ),
    (
        "native:klt:k=8:f16basis@bits=3",
        0x9eaa9d31a837e982,
        890,
        0x71c83b7324d85b05,
        [0xbcada723, 0xbcada723, 0xbcada723, 0x3ca97ce3],
    ),
    (
        "native:tiles:tile=8:dct8x8@q=75",
        0x7877a68c5428b6ee,
        831,
        0x8055cf547d2a886b,
        [0xbd2275b8, 0xbd213fa4, 0xbd23e4a8, 0xbbb10704],
    ),
    (
        "native:tworow:dct8x8@q=75",
        0xd33375bff558a0aa,
        2109,
        0xa30b6cda234364b6,
        [0xbd1f98c7, 0xbd24e8fd, 0xbd23a0d5, 0xba81b51a],
    ),
    (
        "native:rows:step=block:deadzone=0.2:recon=0.1@q=60",
        0xd953e55a3682c112,
        529,
        0xfa82c71cd4517ac0,
        [0xbd1832ac, 0xbd1832ac, 0xbd1832ac, 0x00000000],
    ),
    (
        "q8_0@default",
        0x109e6383c39bd877,
        1685,
        0xdc48c18c2ff025ac,
        [0xbd1f63c0, 0xbd254800, 0xbd1e70c0, 0xbaa12800],
    ),
    (
        "q4_0@default",
        0xa6a76a2618bfb349,
        917,
        0xa9bf6198df6aec5d,
        [0xbd1c2c00, 0xbd1fec00, 0xbd1b3c00, 0x80000000],
    ),
    (
        "q4_1@default",
        0x4705aa5e785eba16,
        1013,
        0xfcf80cf1ed4bec74,
        [0xbd255c00, 0xbd250800, 0xbd1da000, 0xbb0b0000],
    ),
    (
        "q4_1:packed@default",
        0xaffb9b17953d15d7,
        1898,
        0xfcf80cf1ed4bec74,
        [0xbd255c00, 0xbd250800, 0xbd1da000, 0xbb0b0000],
    ),
    (
        "f16@default",
        0xa0a56fdcef0bfed8,
        1972,
        0x5ed68d2b6d8a4092,
        [0xbd204000, 0xbd25a000, 0xbd1f4000, 0xbaa0a000],
    ),
    (
        "bf16@default",
        0xfa1342e8aca88bed,
        1973,
        0xccbfcc8e1e7a6a9c,
        [0xbd200000, 0xbd260000, 0xbd1f0000, 0xbaa10000],
    ),
    (
        "raw@default",
        0xcc51610ce58403b8,
        3892,
        0x4c6adfd36cd40fa7,
        [0xbd2049be, 0xbd25a34b, 0xbd1f300d, 0xbaa09db0],
    ),
    (
        "zstd@default",
        0x4ba6893dc24f1e9d,
        3660,
        0x4c6adfd36cd40fa7,
        [0xbd2049be, 0xbd25a34b, 0xbd1f300d, 0xbaa09db0],
    ),
    (
        "zstd:level=19:shuffle@default",
        0x4a86f2358348499c,
        3221,
        0x4c6adfd36cd40fa7,
        [0xbd2049be, 0xbd25a34b, 0xbd1f300d, 0xbaa09db0],
    ),
    (
        "svd@default",
        0xc07c3e794b4df30a,
        1590,
        0x377d814f5b1b3a36,
        [0xbd219266, 0xbd316ab5, 0xbd1457bc, 0x3a44d228],
    ),
    (
        "svd:f32@q=25",
        0xaeb2a5017caac772,
        1590,
        0x77170d232170289d,
        [0xbd084bbe, 0xbd10227b, 0xbcdf805a, 0x3c88acbb],
    ),
    (
        "svd@bits=4",
        0xc8e9711acfdf3e9e,
        438,
        0x3dba2ad7653ad776,
        [0xbd0fc191, 0xbd235dd7, 0xbd19ec4a, 0x3c08e9f0],
    ),
    (
        "svd@snr=10",
        0xfe0918594030fd45,
        950,
        0x6068f67cd95417f3,
        [0xbd1c2808, 0xbd27f052, 0xbd009d8c, 0x3c148cf6],
    ),
    (
        "jpeg:tworow@q=95",
        0x34a4ea1cff782205,
        11778,
        0xe7858a373a21da62,
        [0xbd1f72f7, 0xbd27672a, 0xbd202847, 0xbaf49fd6],
    ),
    (
        "jpeg:matrix@q=75",
        0xfd1b8ddc5de73c95,
        816,
        0xf628e990f5ea5b46,
        [0xbd17e533, 0xbd1a2be2, 0xbd1a2be2, 0xba7ca26e],
    ),
    (
        "jpeg:tiles:tile=16:optimize@q=50",
        0x7cced5739ad13b8f,
        1464,
        0x9e7eee3ebeef1031,
        [0xbd02c923, 0xbd08390b, 0xbd131ef5, 0xbb90209d],
    ),
    (
        "jpeg:tworow:trunc@q=50",
        0x86aeb7501c26fc42,
        9451,
        0xc97421d26df73e58,
        [0xbd04b804, 0xbd254bef, 0xbd0c18f9, 0xbbbd89e8],
    ),
    (
        "jpeg@bits=2",
        0x47b2dc31862867b7,
        8420,
        0xa7e9845955b5b9a8,
        [0x3d3e19ca, 0x3be3ea54, 0xbc8bc6d3, 0xba687bc7],
    ),
    (
        "jpeg@snr=20",
        0x88db38dece79ff55,
        10374,
        0x7059b33ecb8a31fa,
        [0xbd1b5634, 0xbd27672a, 0xbd202847, 0x3b836af6],
    ),
    (
        "16bit:native@q=75",
        0xe9996484c9bdcf12,
        543,
        0x1c152467489f6a8e,
        [0x3d69e000, 0x3c69e000, 0x00000000, 0xbf2f0000],
    ),
    (
        "16bit:f16@default",
        0xdb05d8faf1b36a1d,
        1412,
        0xb3d455b43419a549,
        [0x3d82a000, 0x3c396000, 0xba6da000, 0xbf3b0000],
    ),
    (
        "tjb image J=2 k=12",
        0xd4295b07447df7e8,
        2515,
        0xcbf29ce484222325,
        [0x00000000, 0x00000000, 0x00000000, 0x00000000],
    ),
    (
        "tjs image gaussian rans",
        0xac93328e801c8f01,
        973,
        0xac2b4c88b5754c7e,
        [0xbfb55836, 0x420dc219, 0x427c55ba, 0x437e31d8],
    ),
    (
        "tjs image uniform rans-plain",
        0x53389c2a4aabc977,
        1733,
        0x4e78e11053a47016,
        [0x40711b01, 0x421d3a34, 0x4284c2d7, 0x43822056],
    ),
    (
        "tjs image gaussian png",
        0x3f9404814023ff36,
        544,
        0x1397bff04317f3e4,
        [0x4050b74a, 0x42139334, 0x427c606e, 0x4381a56a],
    ),
    (
        "tjs image gaussian webp-lossless",
        0xf279df7908bf0f18,
        522,
        0x1397bff04317f3e4,
        [0x4050b74a, 0x42139334, 0x427c606e, 0x4381a56a],
    ),
    (
        "tjs image uniform rans @1bpp",
        0x5cc7517d7b96131b,
        128,
        0xb5ee51404074bcca,
        [0x40814dca, 0x420cc90d, 0x429358ce, 0x436b24b8],
    ),
    (
        "tjb sound J=3 k=4",
        0xa51a3be775eb157b,
        179,
        0xcbf29ce484222325,
        [0x00000000, 0x00000000, 0x00000000, 0x00000000],
    ),
    (
        "tjs sound gaussian rans",
        0x7a1c9b5a96eddcd7,
        655,
        0x8bf7fffc351a34fd,
        [0xc3ac2b29, 0xc390a9f8, 0xc3925282, 0xc404bba9],
    ),
    (
        "klt step",
        0xf93c04f8123324ca,
        1440,
        0x124ae730d3097a9a,
        [0xbd9ae797, 0x3eceaa88, 0xbecbed34, 0x3d67ec5a],
    ),
    (
        "klt 12 B/vector",
        0x3e500fbdc7272a33,
        692,
        0x6fc22443e94fdd13,
        [0xbdb07481, 0x3ec68374, 0xbeb81240, 0x3d070fb9],
    ),
    (
        "klt+search rdo",
        0x20358f86f7f3c2b3,
        1620,
        0x51dde55eb7273539,
        [0xbd9ae797, 0x3ece4e19, 0xbecaeea2, 0x3d6700c1],
    ),
];

#[test]
fn files_and_decoded_values_are_bit_identical() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(all_cases);
    let two = pool(2).install(all_cases);
    for ((name, a), (_, b)) in one.iter().zip(&two) {
        assert_eq!(a, b, "{name}: 1 thread and 2 threads differ");
    }
    let mut failures = Vec::new();
    let mut table = String::new();
    for (name, g) in &one {
        let [s0, s1, s2, s3] = g.samples;
        table.push_str(&format!(
            "    (\"{name}\", {:#018x}, {}, {:#018x}, [{s0:#010x}, {s1:#010x}, {s2:#010x}, {s3:#010x}]),\n",
            g.hash, g.size, g.decoded_hash
        ));
        match PINNED.iter().find(|p| p.0 == name) {
            None => failures.push(format!("{name}: not pinned")),
            Some(&(_, hash, size, decoded_hash, samples)) => {
                let want = Got {
                    hash,
                    size,
                    decoded_hash,
                    samples,
                };
                if *g != want {
                    failures.push(format!("{name}: got {g:x?}, pinned {want:x?}"));
                }
            }
        }
    }
    for p in PINNED {
        if !one.iter().any(|(n, _)| n == p.0) {
            failures.push(format!("{}: pinned but no longer produced", p.0));
        }
    }
    if std::env::var_os("GOLDEN_PRINT").is_some() {
        println!("const PINNED: &[Pin] = &[\n{table}];");
    }
    assert!(
        failures.is_empty(),
        "golden vectors changed (GOLDEN_PRINT=1 prints the current table):\n{}",
        failures.join("\n")
    );
}
