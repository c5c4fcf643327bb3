//! Container bytes with every table and chunk CRC-32 recomputed, then `tensorjpeg::decompress`: mutations reach the codecs instead of stopping at the checksums.
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh container_crc` (or `cargo fuzz run container_crc` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("container_crc", data);
});
