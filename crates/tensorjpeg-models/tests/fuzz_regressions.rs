//! Replays the committed `models_json` fuzz regressions (`fuzz/regressions/models_json/`)
//! through the loaders the fuzz target calls: each must return Ok or Err, never panic.
//! Input layout as in `fuzz/src/models_targets.rs`: `u8 mode` (mod 4), then the file bytes.

use std::path::Path;

use tensorjpeg_models::tokenizer::Tokenizer;

fn replay(data: &[u8], dir: &Path) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    match mode % 4 {
        0 => {
            if let Ok(t) = Tokenizer::from_json_file(&file("tokenizer.json", rest)) {
                let _ = t.encode("Hello, world!").map(|ids| t.decode(&ids));
            }
        }
        1 => {
            let (vocab, merges) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let v = file("vocab.json", vocab);
            let m = file("merges.txt", merges);
            if let Ok(t) = Tokenizer::from_bpe_files(&v, &m) {
                let _ = t.encode("Hello, world!").map(|ids| t.decode(&ids));
            }
        }
        2 => {
            let _ = tensorjpeg_models::bert::Config::from_json_file(&file("config.json", rest));
        }
        _ => {
            let _ = tensorjpeg_models::gpt2::Gpt2Config::from_json_file(&file("config.json", rest));
        }
    }
}

#[test]
fn models_json_regressions_replay() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/models_json");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the committed regression corpus)", dir.display()))
        .flatten()
        .collect();
    assert!(
        !entries.is_empty(),
        "{}: no regression inputs",
        dir.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    for e in entries {
        let data = std::fs::read(e.path()).unwrap();
        replay(&data, tmp.path());
    }
}
