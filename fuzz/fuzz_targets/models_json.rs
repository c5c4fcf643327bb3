//! The tensorjpeg-models tokenizer and config JSON loaders.
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh models_json` (or `cargo fuzz run models_json` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::models_targets::models_json(data);
});
