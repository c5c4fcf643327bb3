//! The kernels (`tensorjpeg_kernels::check`): any block bytes, shape, batch and activations;
//! every SIMD kernel this CPU has must agree with the scalar reference, and invalid blocks
//! must be refused. The same bytes drive the table-lookup scan of vector search
//! (`check::differential_lut`): the fast scan must give the reference's integers. Must never
//! panic otherwise.
//! Run: `bash scripts/fuzz.sh kernels` (or `cargo fuzz run kernels` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_kernels::check::differential(data);
    tensorjpeg_kernels::check::differential_lut(data);
});
