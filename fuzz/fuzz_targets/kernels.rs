//! The compute-format kernels (`tensorjpeg_kernels::check::differential`): any block bytes,
//! shape, batch and activations; every SIMD kernel this CPU has must agree with the scalar
//! reference, and invalid blocks must be refused. Must never panic otherwise.
//! Run: `bash scripts/fuzz.sh kernels` (or `cargo fuzz run kernels` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_kernels::check::differential(data);
});
