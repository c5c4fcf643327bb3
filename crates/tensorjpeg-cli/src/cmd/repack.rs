//! `tensorjpeg repack`: a GGUF file stored losslessly in fewer bytes (`.tjgguf`).

use std::path::Path;

use anyhow::{bail, Result};

/// Repacks `input` (a .gguf) into `output` (a .tjgguf) and checks that it restores.
pub fn run(input: &Path, output: &Path, json: bool) -> Result<()> {
    if !output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tjgguf"))
    {
        bail!(
            "{}: a repacked GGUF file takes the extension .tjgguf",
            output.display()
        );
    }
    super::check_output(output, &[input])?;
    let gguf = super::read_file(input)?;
    let t = std::time::Instant::now();
    let (packed, s) = tensorjpeg_io::repack_gguf(input, &gguf)?;
    let secs = t.elapsed().as_secs_f64();
    // Never write a file that does not restore to its input.
    if tensorjpeg_io::unpack_gguf(output, &packed)? != gguf {
        bail!(
            "{}: the repacked file does not restore bit for bit (a bug: please report it)",
            input.display()
        );
    }
    super::write_atomic(output, &packed)?;
    let ratio = s.repacked_bytes as f64 / s.original_bytes as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "input": input, "output": output, "original_bytes": s.original_bytes,
                "repacked_bytes": s.repacked_bytes, "ratio": ratio,
                "coded_tensors": s.coded_tensors, "coded_original_bytes": s.coded_original_bytes,
                "coded_bytes": s.coded_bytes, "rest_original_bytes": s.rest_original_bytes,
                "rest_bytes": s.rest_bytes, "seconds": secs, "coded_values": s.coded_values,
                "q8_values": s.q8_values,
                "symbol_bits": s.symbol_bits.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            })
        );
    } else {
        eprintln!(
            "{} -> {}: {} -> {} bytes ({:.1} %); {} block tensors {} -> {} bytes, header and other \
             tensors {} -> {} bytes; {secs:.1} s; restores bit for bit",
            input.display(),
            output.display(),
            s.original_bytes,
            s.repacked_bytes,
            100.0 * ratio,
            s.coded_tensors,
            s.coded_original_bytes,
            s.coded_bytes,
            s.rest_original_bytes,
            s.rest_bytes
        );
    }
    Ok(())
}
