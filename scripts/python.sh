#!/usr/bin/env bash
# The Python package: builds the abi3 wheel with maturin (release), installs it into a fresh
# virtual environment (.venv, inside the clone), and runs its pytest suite on the real
# assets. Needs python3 (>= 3.9, with venv and pip) and the CLI binary that the tests use
# to make embeddings (`cargo build -p tensorjpeg-cli`, or TENSORJPEG_BIN).
#
#   bash scripts/python.sh            # build, install, test
#   bash scripts/python.sh --no-test  # build and install only (then: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${TJ_VENV:-.venv}
rm -rf "$VENV"
python3 -m venv "$VENV"
# ray[data]: the scale-out module (tensorjpeg.scale) and its tests on a local cluster.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" "numpy>=1.21" "pytest>=7" \
  "ray[data]>=2.52,<3"
rm -rf target/wheels
"$VENV/bin/maturin" build --release -q -m crates/tensorjpeg-py/Cargo.toml -o target/wheels
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps target/wheels/tensorjpeg-*.whl
if [[ ${1:-} == --no-test ]]; then
  exit 0
fi
cd crates/tensorjpeg-py/pytests
"../../../$VENV/bin/python" -m pytest -q -p no:cacheprovider
