#!/usr/bin/env bash
# The test command: formatting, lints, and every test (unit, property, golden, CLI) on the
# real assets fetched by scripts/fetch-assets.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet
# The Python package: wheel built and installed into a fresh virtual environment, pytest.
bash scripts/python.sh
