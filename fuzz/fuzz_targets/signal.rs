//! `.tjb` signal bases and `.tjs` signal files (`SignalBasis::from_bytes`, `read_header`, `decode_full`), frame CRCs and the basis CRC field forged.
//! Must return, never panic, abort, hang or allocate without bound.
//! Run: `bash scripts/fuzz.sh signal` (or `cargo fuzz run signal` from the repo root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::run("signal", data);
});
