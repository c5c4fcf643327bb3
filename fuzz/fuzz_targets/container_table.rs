//! Structured fuzzing of the container's tensor table: a custom mutator parses the input
//! as a container ([`RawContainer`]), changes table fields — shape dims (incl. 4294967295
//! and u32::MAX·64), ndim, chunk lengths and counts, params blobs, exception counts and
//! indices, codec and dtype names, whole entries — and re-forges the table and chunk
//! CRC-32s, so every mutation reaches `tensorjpeg::decompress` past the checksums. Inputs
//! that do not parse get libFuzzer's byte mutations, CRCs forged likewise.
//!
//! Every 1024 structured mutations it prints `#tj structured_mutations: N` to stderr
//! (scripts/fuzz.sh reports the last figure).
//! Run: `bash scripts/fuzz.sh container_table`.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use tensorjpeg_fuzz::container::{forge_crcs, mutate, RawContainer, Rng};

static STRUCTURED: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    tensorjpeg_fuzz::targets::container_table(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(u64::from(seed));
    if !rng.one_in(8) {
        if let Some(mut c) = RawContainer::parse(&data[..size]) {
            mutate(&mut c, &mut rng);
            let out = c.to_bytes();
            if out.len() <= max_size {
                data[..out.len()].copy_from_slice(&out);
                let n = STRUCTURED.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1024 == 0 {
                    eprintln!("#tj structured_mutations: {n}");
                }
                return out.len();
            }
        }
    }
    let n = libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    forge_crcs(&mut data[..n]);
    n
});
