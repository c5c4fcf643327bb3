//! The tensorjpeg-io `nifti` reader (`tensorjpeg_fuzz::io_targets::nifti`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh nifti` (or `cargo fuzz run nifti` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("nifti", data);
});
