//! The KLT embedding-index format (`KltIndex::from_bytes`, then decode, scores, search), trailing CRC forged.
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh klt_index` (or `cargo fuzz run klt_index` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("klt_index", data);
});
