//! What kind of model a path holds: a sentence embedder or a language model.

use std::path::Path;

/// What kind of model a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A BERT-family sentence embedder (a folder with model.safetensors, config.json,
    /// tokenizer.json, or its model.safetensors).
    Embedder,
    /// A causal language model the runtime loads (`.gguf` llama family, GPT-2).
    LanguageModel,
}

impl ModelKind {
    /// `.gguf` files and GPT-2 folders are language models; anything else is taken for an
    /// embedder (its loader says what is missing otherwise).
    pub fn of(path: &Path) -> ModelKind {
        if path.extension().is_some_and(|e| e == "gguf") {
            return ModelKind::LanguageModel;
        }
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let cfg = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
        if cfg.contains("\"gpt2\"") || (path.is_dir() && !dir.join("tokenizer.json").exists()) {
            ModelKind::LanguageModel
        } else {
            ModelKind::Embedder
        }
    }
}
