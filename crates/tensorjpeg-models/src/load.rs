//! One entry point for any supported `--model` path: [`load`].

use std::path::Path;

use crate::gpt2::Gpt2;
use crate::llama::Llama;
use crate::lm::LanguageModel;
use crate::weights::WeightOptions;
use crate::{Error, Result};

/// Opens a causal LM: a `.gguf` file (llama family; or a repacked `.tjgguf`), a GPT-2 `.safetensors` file, or a model
/// directory (a Hugging Face snapshot folder holding `config.json` and `model.safetensors`,
/// or a folder with one `.gguf`).
pub fn load(path: &Path, opts: &WeightOptions) -> Result<Box<dyn LanguageModel>> {
    if path.is_dir() {
        if path.join("model.safetensors").exists() {
            return Ok(Box::new(Gpt2::load(path, opts)?));
        }
        let ggufs: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        return match ggufs.as_slice() {
            [one] => Ok(Box::new(Llama::load(one, opts)?)),
            [] => Err(Error::format(
                path,
                "no model.safetensors (GPT-2 layout) or .gguf file in this directory",
            )),
            _ => Err(Error::format(
                path,
                "several .gguf files in this directory: pass one of them",
            )),
        };
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("gguf" | "tjgguf") => Ok(Box::new(Llama::load(path, opts)?)),
        Some("safetensors") => Ok(Box::new(Gpt2::load(path, opts)?)),
        _ => Err(Error::format(
            path,
            "expected a .gguf file (or one repacked: .tjgguf), a GPT-2 .safetensors file or a model directory",
        )),
    }
}
