//! The tensorjpeg-io `safetensors` reader (`tensorjpeg_fuzz::io_targets::safetensors`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh safetensors` (or `cargo fuzz run safetensors` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("safetensors", data);
});
