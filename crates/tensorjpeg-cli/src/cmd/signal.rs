//! `tensorjpeg signal fit|encode|decode|inspect|eval`: the machine-oriented signal codec of
//! seed 002 (wavelet packets + fitted projection + int8/uniform latents + lossless coding)
//! on images (.png), audio (.wav), volumes (.nii/.nii.gz) and raw arrays (.npy, shape
//! `[C, n_1, …, n_D]`). `eval` is [`tensorjpeg_eval::signal`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use tensorjpeg::signal::basis::SignalBasis;
use tensorjpeg::signal::codec::{self, LatentCoder, QuantizerKind};
use tensorjpeg_eval::signal::{self as eval_signal, Config, Modality};
use tensorjpeg_eval::{Progress, Silent};
use tensorjpeg_io::Signal;

use super::model::assets_dir;
use super::{write_atomic, Bar};

/// `signal` subcommands.
#[derive(Subcommand, Debug)]
pub enum SignalCommand {
    /// Fit a basis (WPT levels + PCA projection) on training signals.
    Fit(FitArgs),
    /// Encode a signal with a fitted basis.
    Encode(EncodeArgs),
    /// Decode a signal file (.png, .wav or .npy by the output's extension).
    Decode(DecodeArgs),
    /// Print a signal file's header.
    Inspect {
        /// Signal file (.tjs).
        file: PathBuf,
    },
    /// The seed-002 evaluation: rate–distortion against JPEG, WebP and downsampling on
    /// photos, audio and an MRI volume, and digit classification from latents.
    Eval(EvalArgs),
}

/// Arguments of `signal fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Training signals (.png, .wav, .nii/.nii.gz, .npy); all with the same channel count
    /// and dimensionality.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// WPT levels J (every spatial size must be at least 2^J).
    #[arg(long, default_value_t = 3)]
    pub levels: usize,
    /// Latent channels k (default: all C·2^(J·D); smaller k is dimension reduction).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Time point of 4-D NIfTI inputs.
    #[arg(long, default_value_t = 0)]
    pub frame: usize,
    /// Output basis file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `signal encode`.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// Input signal (.png, .wav, .nii/.nii.gz, .npy).
    pub input: PathBuf,
    /// Basis from `signal fit`.
    #[arg(long)]
    pub basis: PathBuf,
    /// Use only the basis's first k latent channels.
    #[arg(long)]
    pub channels: Option<usize>,
    /// gaussian (WaLLoC's compander to int8) or uniform.
    #[arg(long, default_value = "uniform")]
    pub quantizer: QuantizerKind,
    /// rans (tensorjpeg's entropy coder), png or webp-lossless (latents tiled as an image).
    #[arg(long, default_value = "rans")]
    pub coder: LatentCoder,
    /// Uniform quantizer step in latent units.
    #[arg(long, conflicts_with_all = ["gain", "bits"])]
    pub step: Option<f32>,
    /// Gaussian compander gain.
    #[arg(long, conflicts_with_all = ["step", "bits"])]
    pub gain: Option<f32>,
    /// Target bits per sample (per pixel, frame or voxel; searched).
    #[arg(long = "bpp", alias = "bits")]
    pub bits: Option<f64>,
    /// Time point of a 4-D NIfTI input.
    #[arg(long, default_value_t = 0)]
    pub frame: usize,
    /// Output signal file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `signal decode`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Signal file from `signal encode`.
    pub input: PathBuf,
    /// The basis it was encoded with.
    #[arg(long)]
    pub basis: PathBuf,
    /// Output: .png (images), .wav (audio) or .npy (any).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `signal eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Output directory.
    #[arg(long, default_value = "out/signal")]
    pub out: PathBuf,
    /// Asset directory (images/, audio/, volume/, digits/ from scripts/fetch-assets.sh).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Modalities: image, digits, audio, volume.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "image,digits,audio,volume"
    )]
    pub modalities: Vec<Modality>,
    /// Image rates, bits per pixel.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.15,0.25,0.35,0.5,0.7,1,1.5,2"
    )]
    pub bpp: Vec<f64>,
    /// WPT levels J tried for images (ours takes the best J and k per rate; WaLLoC's
    /// configuration uses J = 3 when listed, else the first).
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    pub levels: Vec<usize>,
    /// Latent channel counts k for RGB images (gray images use k/3).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "12,18,24,36,48,72,96,144,192"
    )]
    pub channels: Vec<usize>,
    /// RGB training photos (file names under images/).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ihc.png,motorcycle_left.png"
    )]
    pub train_rgb: Vec<String>,
    /// RGB evaluation photos.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "astronaut.png,chelsea.png,coffee.png"
    )]
    pub eval_rgb: Vec<String>,
    /// Grayscale training photos.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "brick.png,grass.png,gravel.png,moon.png"
    )]
    pub train_gray: Vec<String>,
    /// Grayscale evaluation photos (empty: none).
    #[arg(long, value_delimiter = ',', default_value = "camera.png,coins.png")]
    pub eval_gray: Vec<String>,
    /// JPEG / WebP qualities swept.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,5,10,15,20,30,40,50,60,70,80,90,95"
    )]
    pub qualities: Vec<u8>,
    /// Fewer rates and items (for tests): 3 rates, first evaluation photo only.
    #[arg(long)]
    pub quick: bool,
    /// No progress messages.
    #[arg(long)]
    pub quiet: bool,
}

impl EvalArgs {
    /// The evaluation these arguments ask for (assets default to `assets_dir()`; the
    /// command line is this process's).
    pub fn config(&self) -> Result<Config> {
        Ok(Config {
            out: self.out.clone(),
            assets: self.assets.clone().unwrap_or_else(assets_dir),
            modalities: self.modalities.clone(),
            bpp: self.bpp.clone(),
            levels: self.levels.clone(),
            channels: self.channels.clone(),
            train_rgb: self.train_rgb.clone(),
            eval_rgb: self.eval_rgb.clone(),
            train_gray: self.train_gray.clone(),
            eval_gray: self.eval_gray.clone(),
            qualities: self.qualities.clone(),
            quick: self.quick,
            command: std::env::args().collect(),
        })
    }
}

/// Runs a `signal` subcommand.
pub fn run(c: &SignalCommand) -> Result<()> {
    match c {
        SignalCommand::Fit(a) => fit(a),
        SignalCommand::Encode(a) => encode(a),
        SignalCommand::Decode(a) => decode(a),
        SignalCommand::Inspect { file } => inspect(file),
        SignalCommand::Eval(a) => eval(a),
    }
}

fn ext_of(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name.ends_with(".nii.gz") {
        return "nii.gz".into();
    }
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Reads a signal by extension: .png, .wav, .nii/.nii.gz (time point `frame`), .npy.
pub fn read_signal(path: &Path, frame: usize) -> Result<Signal> {
    let s = match ext_of(path).as_str() {
        "png" => tensorjpeg_io::read_image(path)?,
        "wav" => tensorjpeg_io::read_wav(path)?,
        "nii" | "nii.gz" => tensorjpeg_io::read_nifti(path)?.frame(frame)?,
        "npy" => {
            let t = tensorjpeg_io::read_npy(path)?;
            let Some(v) = t.values() else {
                bail!("{}: not a float array", path.display());
            };
            Signal {
                values: v.to_vec(),
                shape: t.shape.clone(),
                sample_rate: None,
            }
        }
        e => bail!(
            "{}: unknown signal type {e:?} (expected .png, .wav, .nii, .nii.gz or .npy)",
            path.display()
        ),
    };
    Ok(s)
}

fn read_basis(path: &Path) -> Result<SignalBasis> {
    let bytes = super::read_file(path)?;
    SignalBasis::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

fn fit(a: &FitArgs) -> Result<()> {
    let inputs: Vec<&Path> = a.inputs.iter().map(PathBuf::as_path).collect();
    super::check_output(&a.output, &inputs)?;
    let signals = a
        .inputs
        .iter()
        .map(|p| read_signal(p, a.frame))
        .collect::<Result<Vec<_>>>()?;
    let first = &signals[0].shape;
    let n_in =
        tensorjpeg::signal::basis::subbands(first.len().saturating_sub(1), first[0], a.levels)
            .with_context(|| format!("{}: shape {first:?}", a.inputs[0].display()))?;
    for (s, p) in signals.iter().zip(&a.inputs) {
        if s.shape.len() != first.len() || s.shape[0] != first[0] {
            bail!(
                "{}: shape {:?} differs in channels or dimensionality from {} {first:?}",
                p.display(),
                s.shape,
                a.inputs[0].display()
            );
        }
        tensorjpeg::signal::basis::check_signal(&s.shape, s.values.len(), a.levels)
            .with_context(|| format!("{}", p.display()))?;
    }
    let k = a.channels.unwrap_or(n_in);
    let pairs: Vec<(&[f32], &[usize])> = signals
        .iter()
        .map(|s| (s.values.as_slice(), s.shape.as_slice()))
        .collect();
    let t0 = Instant::now();
    let b = SignalBasis::fit(&pairs, a.levels, k)?;
    write_atomic(&a.output, &b.to_bytes())?;
    eprintln!(
        "{}: {}-D, {} channels, J = {}, {} sub-bands → k = {} ({:.1}× reduction), fitted on {} signals in {:.2} s",
        a.output.display(),
        b.dims,
        b.channels,
        b.levels,
        b.subbands(),
        b.k(),
        b.reduction(),
        signals.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn encode(a: &EncodeArgs) -> Result<()> {
    super::check_output(&a.output, &[&a.input, &a.basis])?;
    let mut basis = read_basis(&a.basis)?;
    if let Some(k) = a.channels {
        basis = basis.truncate(k)?;
    }
    let (kind, coder) = (a.quantizer, a.coder);
    let s = read_signal(&a.input, a.frame)?;
    let ctx = || format!("{} with basis {}", a.input.display(), a.basis.display());
    basis.check(&s.shape, s.values.len()).with_context(ctx)?;
    let t0 = Instant::now();
    let (bytes, q) = if let Some(bits) = a.bits {
        let rate = codec::RateTarget {
            kind,
            coder,
            bits_per_sample: bits,
            sample_rate: s.sample_rate,
        };
        codec::encode_to_rate(&basis, &s.values, &s.shape, &rate).with_context(ctx)?
    } else {
        let t = match (kind, a.step, a.gain) {
            (QuantizerKind::Uniform, Some(step), None) => 1.0 / step,
            (QuantizerKind::Gaussian, None, Some(g)) => g,
            (QuantizerKind::Uniform, None, None) => 1.0,
            (QuantizerKind::Gaussian, None, None) => 1.0,
            (k, _, _) => bail!(
                "--step goes with --quantizer uniform, --gain with gaussian (got {} with {})",
                k.name(),
                if a.step.is_some() { "--step" } else { "--gain" }
            ),
        };
        if !(t.is_finite() && t > 0.0) {
            bail!("--step/--gain must be a finite value > 0");
        }
        let q = kind.at(t);
        let (z, cshape) = basis
            .encode_latents(&s.values, &s.shape)
            .with_context(ctx)?;
        q.check_range(&z, coder.is_rans()).with_context(ctx)?;
        let b = codec::encode_from_latents(&basis, &z, &cshape, &s.shape, q, coder, s.sample_rate)
            .with_context(ctx)?;
        (b, q)
    };
    let secs = t0.elapsed().as_secs_f64();
    write_atomic(&a.output, &bytes)?;
    let positions: usize = s.shape[1..].iter().product();
    eprintln!(
        "{} {:?} → {}: {} bytes, {:.4} bits per sample, {:?}, coder {}, k = {} of {}, {:.2} s",
        a.input.display(),
        s.shape,
        a.output.display(),
        bytes.len(),
        bytes.len() as f64 * 8.0 / positions as f64,
        q,
        coder,
        basis.k(),
        basis.subbands(),
        secs
    );
    Ok(())
}

fn decode(a: &DecodeArgs) -> Result<()> {
    super::check_output(&a.output, &[&a.input, &a.basis])?;
    let basis = read_basis(&a.basis)?;
    let bytes = super::read_file(&a.input)?;
    let (x, h) = codec::decode_full(&basis, &bytes).with_context(|| {
        format!(
            "decoding {} with basis {}",
            a.input.display(),
            a.basis.display()
        )
    })?;
    match ext_of(&a.output).as_str() {
        "png" => {
            if h.shape.len() != 3 || ![1, 3, 4].contains(&h.shape[0]) {
                bail!(
                    "{}: a PNG holds a [C, H, W] image with 1, 3 or 4 channels; this signal is {:?} (write .npy)",
                    a.output.display(),
                    h.shape
                );
            }
            tensorjpeg_io::write_png(&a.output, &x, &h.shape)?
        }
        "wav" => {
            if h.shape.len() != 2 {
                bail!(
                    "{}: a WAV holds a [channels, frames] signal; this one is {:?} (write .npy)",
                    a.output.display(),
                    h.shape
                );
            }
            tensorjpeg_io::write_wav(&a.output, &x, &h.shape, h.sample_rate.unwrap_or(48_000))?
        }
        "npy" => {
            let t = tensorjpeg::Tensor::from_f32("signal", h.shape.clone(), x)?;
            tensorjpeg_io::write_tensors(&a.output, &[t])?
        }
        e => bail!(
            "{}: output type {e:?} unknown (expected .png, .wav or .npy)",
            a.output.display()
        ),
    }
    eprintln!(
        "{} → {} {:?}",
        a.input.display(),
        a.output.display(),
        h.shape
    );
    Ok(())
}

fn inspect(file: &Path) -> Result<()> {
    let bytes = super::read_file(file)?;
    let (h, payload) = codec::read_header(&bytes).with_context(|| format!("{}", file.display()))?;
    let positions = h.positions();
    println!(
        "{}\n  shape {:?}, J = {}, k = {}, basis CRC {:08x}\n  quantizer {:?}, coder {}, sample rate {}\n  {} bytes ({} latent payload), {:.4} bits per sample",
        file.display(),
        h.shape,
        h.levels,
        h.k,
        h.basis_crc,
        h.quantizer,
        h.coder,
        h.sample_rate.map_or("-".to_string(), |r| r.to_string()),
        bytes.len(),
        payload.len(),
        bytes.len() as f64 * 8.0 / positions as f64
    );
    Ok(())
}

/// `signal eval`: the evaluation, then (unless `--quiet`) report.md and the files written.
fn eval(a: &EvalArgs) -> Result<()> {
    let config = a.config()?;
    let bar = Bar::new(a.quiet);
    let progress: &dyn Progress = if a.quiet { &Silent } else { &bar };
    let outcome = eval_signal::run(&config, progress)?;
    if !a.quiet {
        eprintln!("{}", outcome.report);
        eprintln!(
            "wrote {}/{{results.json,results.csv,report.md,*.png}}",
            config.out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct P {
        #[command(flatten)]
        a: EvalArgs,
    }

    /// The clap defaults are the library's.
    #[test]
    fn eval_defaults_are_the_library_defaults() {
        let a = P::try_parse_from(["eval", "--assets", "assets"]).unwrap().a;
        let c = a.config().unwrap();
        assert_eq!(
            Config {
                command: Vec::new(),
                ..c
            },
            Config::default()
        );
        let e = P::try_parse_from(["eval", "--modalities", "audio,smell"])
            .err()
            .expect("an unknown modality is refused")
            .to_string();
        assert!(
            e.contains("'smell'") && e.contains("[possible values: image, digits, audio, volume]"),
            "{e}"
        );
    }
}
