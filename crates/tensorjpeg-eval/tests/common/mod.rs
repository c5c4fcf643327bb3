//! Locating the real assets fetched by `scripts/fetch-assets.sh`, shared by the tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The assets directory: `TENSORJPEG_ASSETS`, or `assets/` at the workspace root.
pub fn assets() -> PathBuf {
    std::env::var_os("TENSORJPEG_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"))
}

/// `assets/<rel>`; a missing asset fails the test, naming the file (CI fetches them all).
pub fn asset(rel: &str) -> PathBuf {
    let p = assets().join(rel);
    assert!(
        p.is_file(),
        "{} missing: run `bash scripts/fetch-assets.sh` (or set TENSORJPEG_ASSETS)",
        p.display()
    );
    p
}
