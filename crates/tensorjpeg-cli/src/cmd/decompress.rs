//! `tensorjpeg decompress`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::container::is_container;
use tensorjpeg_io::manifest;

/// Runs the command; a `.gguf` output takes its metadata and tensor order from `like`.
pub fn run(input: &Path, output: &Path, like: Option<&Path>, f16: bool) -> Result<()> {
    if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return files(input, output, like.is_some() || f16);
    }
    if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tjgguf"))
    {
        return restore(input, output, like.is_some() || f16);
    }
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match (ext.as_str(), like) {
        ("safetensors" | "npy", None) | ("gguf", Some(_)) => {}
        ("gguf", None) => bail!(
            "{}: a .gguf output needs --like MODEL.gguf (the file the container came from: \
             its metadata and tokenizer)",
            output.display()
        ),
        (_, Some(_)) => bail!("--like is for a .gguf output, not {}", output.display()),
        _ => bail!(
            "{}: output format is chosen by extension: .safetensors, .npy or .gguf",
            output.display()
        ),
    }
    let inputs: Vec<&Path> = std::iter::once(input).chain(like).collect();
    super::check_output(output, &inputs)?;
    let bytes = super::read_file(input)?;
    if !is_container(&bytes) {
        bail!(
            "{}: not a tensorjpeg container (bad magic number)",
            input.display()
        );
    }
    let tensors = tensorjpeg::decompress_with(&bytes, &tensorjpeg_io::registry())
        .with_context(|| format!("decoding {}", input.display()))?;
    match like {
        Some(template) => {
            let m = if f16 {
                tensorjpeg_io::GgufMatrices::F16
            } else {
                tensorjpeg_io::GgufMatrices::F32
            };
            tensorjpeg_io::write_gguf_like(output, &tensors, template, m)?
        }
        None => tensorjpeg_io::write_tensors(output, &tensors)?,
    }
    eprintln!(
        "{} -> {}: {} tensors",
        input.display(),
        output.display(),
        tensors.len()
    );
    Ok(())
}

/// A repacked GGUF file back to its GGUF file, bit for bit.
fn restore(input: &Path, output: &Path, flags: bool) -> Result<()> {
    if flags {
        bail!("--like and --f16 are for containers: a .tjgguf restores to its own GGUF file");
    }
    if !output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        bail!("{}: a .tjgguf restores to a .gguf file", output.display());
    }
    super::check_output(output, &[input])?;
    let gguf = tensorjpeg_io::unpack_gguf(input, &super::read_file(input)?)?;
    super::write_atomic(output, &gguf)?;
    eprintln!(
        "{} -> {}: {} bytes, bit for bit",
        input.display(),
        output.display(),
        gguf.len()
    );
    Ok(())
}

/// A manifest of containers (one per model file, written by a parallel job) into a folder:
/// each source file's tensors at `OUTPUT/<its relative path>`.
fn files(input: &Path, output: &Path, flags: bool) -> Result<()> {
    if flags {
        bail!("--like and --f16 are for one container, not a manifest of them");
    }
    if output.exists() && !output.is_dir() {
        bail!(
            "{}: a manifest decompresses into a folder (one file per source), not over a file",
            output.display()
        );
    }
    let m = manifest::read_manifest(input)?;
    let done = manifest::decompress_files(input, &m, output)?;
    let tensors: usize = done.iter().map(|(_, n)| n).sum();
    for (path, n) in &done {
        eprintln!("  {}: {n} tensors", path.display());
    }
    eprintln!(
        "{} -> {}: {} files, {tensors} tensors",
        input.display(),
        output.display(),
        done.len()
    );
    Ok(())
}
