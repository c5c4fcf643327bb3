//! The tensorjpeg-io `png` reader (`tensorjpeg_fuzz::io_targets::png`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh png` (or `cargo fuzz run png` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("png", data);
});
