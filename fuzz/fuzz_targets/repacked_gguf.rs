//! The repacked GGUF reader (`tensorjpeg_io::unpack_gguf`, then the GGUF readers on the
//! restored bytes), trailing CRC forged. Must return, never panic, abort, hang or allocate
//! without bound. Run: `bash scripts/fuzz.sh repacked_gguf`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::io_targets::run("repacked_gguf", data);
});
