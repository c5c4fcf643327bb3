//! The tensorjpeg-io `wav` reader (`tensorjpeg_fuzz::io_targets::wav`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh wav` (or `cargo fuzz run wav` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("wav", data);
});
