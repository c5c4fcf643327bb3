//! The persisted embedding index (`Collection::from_bytes`, then search, decode, add), trailing CRC forged.
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh embedding_index` (or `cargo fuzz run embedding_index` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("embedding_index", data);
});
