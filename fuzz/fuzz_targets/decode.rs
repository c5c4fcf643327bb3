//! Feeds arbitrary bytes to the container decoder: it must return Ok or Err, never panic,
//! hang or allocate without bound. Run: `cargo +nightly fuzz run decode` (from the repo root).
//! The stable test `crates/tensorjpeg/tests/guarantees.rs::random_bytes_never_panic` runs
//! the same check on random and mutated containers in CI.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tensorjpeg::decompress(data);
});
