//! The tensorjpeg-io `nifti_gz` reader (`tensorjpeg_fuzz::io_targets::nifti_gz`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh nifti_gz` (or `cargo fuzz run nifti_gz` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("nifti_gz", data);
});
