#!/usr/bin/env bash
# SZ3 and zfp as peers on a sentence embedder's model curves, scored by tensorjpeg
# model-sweep in the same run as tensorjpeg's own points. A benchmark, not CI: installs
# numpy, safetensors, pysz (SZ3) and zfpy from PyPI into .peers/float-venv (inside the
# clone; remove it to reclaim the space).
#
#   bash scripts/float-peers.sh [MODEL_DIR] [OUT] [-- extra model-sweep flags]
#   e.g. CODECS='weighted:native:tcq@bits=3/4' bash scripts/float-peers.sh assets/mpnet out/float-peers-mpnet
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-assets/minilm}
OUT=${2:-out/float-peers}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
[ -f "$MODEL/model.safetensors" ] || { echo "$MODEL/model.safetensors: no such file (bash scripts/fetch-assets.sh)" >&2; exit 1; }
venv=.peers/float-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-cache-dir numpy safetensors pysz==1.1.0 zfpy==1.0.1
fi
cargo build --release -q -p tensorjpeg-cli
"$venv/bin/python" scripts/float-peers.py "$MODEL" "$OUT/models"
codecs=${CODECS:-'weighted:native:tcq@bits=2/3/4,native@bits=3/4/5,q8_0,q4_0'}
./target/release/tensorjpeg model-sweep --model "$MODEL" --codecs "$codecs" \
  --peers "$OUT/models/peers.json" --out "$OUT" "$@"
rm -rf "$OUT/models"/*/
