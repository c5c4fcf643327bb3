//! The tensorjpeg-models loaders under fuzzing: tokenizer JSON, byte-level BPE
//! vocab/merges files, BERT and GPT-2 `config.json`. They take paths, so the bytes go
//! through temporary files. Input: `u8 mode` (mod 4) then the file bytes; for BPE the
//! vocab and merges are split at the first NUL byte.

use crate::io_targets::TempFile;
use tensorjpeg_models::tokenizer::Tokenizer;

/// The models target, `models_json`.
pub fn models_json(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let f = TempFile::new("json", rest);
            if let Ok(t) = Tokenizer::from_json_file(f.path()) {
                exercise(&t);
            }
        }
        1 => {
            let (vocab, merges) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let v = TempFile::new("json", vocab);
            let m = TempFile::new("txt", merges);
            if let Ok(t) = Tokenizer::from_bpe_files(v.path(), m.path()) {
                exercise(&t);
            }
        }
        2 => {
            let f = TempFile::new("json", rest);
            let _ = tensorjpeg_models::bert::Config::from_json_file(f.path());
        }
        _ => {
            let f = TempFile::new("json", rest);
            let _ = tensorjpeg_models::gpt2::Gpt2Config::from_json_file(f.path());
        }
    }
}

fn exercise(t: &Tokenizer) {
    let _ = t.vocab_size();
    if let Ok(ids) = t.encode("Hello, world! The capital of France is Paris.") {
        let _ = t.decode(&ids);
    }
    let _ = t.decode(&[0, 1, 2, 3, u32::MAX]);
}
