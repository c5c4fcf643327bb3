//! `Codec::decode` of the `q4_0` codec on a framed shape/params/chunks input (`tensorjpeg_fuzz::frame`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh codec_q4_0` (or `cargo fuzz run codec_q4_0` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("codec_q4_0", data);
});
