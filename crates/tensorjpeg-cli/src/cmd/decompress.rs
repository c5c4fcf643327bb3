//! `tensorjpeg decompress`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use tensorjpeg::container::is_container;

/// Runs the command.
pub fn run(input: &Path, output: &Path) -> Result<()> {
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext != "safetensors" && ext != "npy" {
        bail!(
            "{}: output format is chosen by extension: .safetensors or .npy",
            output.display()
        );
    }
    super::check_output(output, &[input])?;
    let bytes = super::read_file(input)?;
    if !is_container(&bytes) {
        bail!(
            "{}: not a tensorjpeg container (bad magic number)",
            input.display()
        );
    }
    let tensors = tensorjpeg::decompress_with(&bytes, &tensorjpeg_io::registry())
        .with_context(|| format!("decoding {}", input.display()))?;
    tensorjpeg_io::write_tensors(output, &tensors)?;
    eprintln!(
        "{} -> {}: {} tensors",
        input.display(),
        output.display(),
        tensors.len()
    );
    Ok(())
}
