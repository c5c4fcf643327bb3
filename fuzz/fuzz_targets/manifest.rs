//! A manifest of shards (`tensorjpeg_io::manifest::parse_manifest`, then joining it as an index).
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh manifest` (or `cargo fuzz run manifest` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("manifest", data);
});
