#!/usr/bin/env bash
# The main job: fetch the default assets, then sweep all-MiniLM-L6-v2's weight matrices with
# the native codec at several rates beside literal JPEG (q95, q75), GGUF Q8_0/Q4_0 and fp16,
# printing the table and writing out/minilm/sweep.{csv,json,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-assets.sh
assets=${TENSORJPEG_ASSETS:-assets}
cargo build --release -p tensorjpeg-cli --quiet
./target/release/tensorjpeg sweep "$assets/minilm/model.safetensors" \
  --codecs 'native@bits=2/3/4/5/6,jpeg:tworow@q=95/75,q8_0,q4_0,f16' \
  --out out/minilm "$@"
