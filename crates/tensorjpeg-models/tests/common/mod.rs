//! Locating the real assets fetched by `scripts/fetch-assets.sh`, shared by the tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The assets directory: `TENSORJPEG_ASSETS`, or `assets/` at the workspace root.
pub fn assets() -> PathBuf {
    std::env::var_os("TENSORJPEG_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"))
}

/// `assets/<rel>` if it exists (a message and `None` otherwise; CI always has it).
pub fn asset(rel: &str) -> Option<PathBuf> {
    let p = assets().join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} not found (run scripts/fetch-assets.sh)",
            p.display()
        );
        None
    }
}
