//! The entropy coder's segment decoders (`entropy::decode`, `entropy::decode_map`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh entropy` (or `cargo fuzz run entropy` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("entropy", data);
});
