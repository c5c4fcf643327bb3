//! The tensorjpeg-io `digits` reader (`tensorjpeg_fuzz::io_targets::digits`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh digits` (or `cargo fuzz run digits` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("digits", data);
});
