#!/usr/bin/env bash
# tensorjpeg's index against faiss-cpu's quantizers on the same vectors, in one run
# (docs/RESULTS.md "The index against faiss"). Builds the CLI and the wheel if needed,
# exports the exact splits `embed-eval` measures (MiniLM embeddings of enwiki sentences and
# Bible verse pairs; embedding ~31k verses twice takes ~6 minutes), installs faiss-cpu into
# .venv and runs scripts/faiss-peers.py. Not part of CI.
#
#   bash scripts/faiss-peers.sh                 # PQ/OPQ/PCA+SQ8/SQ with speed, then RQ/LSQ
#   FAST=1 bash scripts/faiss-peers.sh          # skip the additive quantizers (~1 h here)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tensorjpeg-cli
SPLITS=out/faiss/tj/splits
if [[ ! -f $SPLITS/bible-relevant.npy ]]; then
  ./target/release/tensorjpeg embed-eval --dataset enwiki,bible --codecs float32 \
    --export-splits --out out/faiss/tj
fi
if ! .venv/bin/python -c "import tensorjpeg" 2>/dev/null; then
  bash scripts/python.sh --no-test
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "faiss-cpu==1.15.1"
# Speed and the cheap quantizers (timed one query at a time on one thread, and batched).
.venv/bin/python scripts/faiss-peers.py --splits "$SPLITS" --out out/faiss/speed \
  --families Flat,PQ,OPQ,PCA+SQ8,SQ4,SQ8
# The index without a coarse code (every byte to the fine code, exhaustive search).
.venv/bin/python scripts/faiss-peers.py --splits "$SPLITS" --out out/faiss/exhaustive \
  --no-single --exhaustive --shortlists 100 --families Flat
if [[ -z ${FAST:-} ]]; then
  # faiss's additive quantizers: recall only (their training dominates the run).
  .venv/bin/python scripts/faiss-peers.py --splits "$SPLITS" --out out/faiss/additive \
    --no-single --families Flat,RQ,PLSQ,LSQ
fi
