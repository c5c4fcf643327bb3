//! The tensorjpeg-io `gguf` reader (`tensorjpeg_fuzz::io_targets::gguf`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh gguf` (or `cargo fuzz run gguf` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("gguf", data);
});
