//! The tensorjpeg-io `npy` reader (`tensorjpeg_fuzz::io_targets::npy`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh npy` (or `cargo fuzz run npy` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("npy", data);
});
