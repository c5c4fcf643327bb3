//! `Codec::decode` of the `bf16` codec on a framed shape/params/chunks input (`tensorjpeg_fuzz::frame`).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh codec_bf16` (or `cargo fuzz run codec_bf16` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("codec_bf16", data);
});
