//! `tensorjpeg reorder`: seed 004's function-preserving permutation of MLP hidden units
//! ([`tensorjpeg_eval::reorder`]).

use std::path::Path;

use anyhow::{bail, Result};
use tensorjpeg_eval::reorder::{reorder, Order};

use super::read_tensors;

/// Runs the command.
pub fn run(input: &Path, output: &Path, order: Order) -> Result<()> {
    super::check_output(output, &[input])?;
    let mut tensors = read_tensors(input)?;
    let groups = reorder(&mut tensors, order)?;
    if groups == 0 {
        bail!(
            "{}: no MLP (BERT intermediate/output or llama ffn_up/ffn_down) to reorder",
            input.display()
        );
    }
    if output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        // A llama model back to GGUF, with the input's metadata and tokenizer: the permuted
        // rows of gate/up keep their blocks (written as such), down's columns go to F32.
        tensorjpeg_io::write_gguf_like(output, &tensors, input, tensorjpeg_io::GgufMatrices::F32)?;
    } else {
        tensorjpeg_io::write_tensors(output, &tensors)?;
    }
    println!(
        "{} -> {}: {groups} MLPs reordered ({order:?})",
        input.display(),
        output.display()
    );
    Ok(())
}
