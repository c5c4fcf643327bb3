#!/usr/bin/env bash
# Lossless GGUF repacking against general-purpose compressors, on the same file in one run:
# tensorjpeg repack (and its restore), zstd -19, zstd --ultra -22 --long, xz -9, each on
# 2 threads where it has them. Prints a markdown table (bits per weight = bytes × 8 over
# every tensor's values) and writes it to OUT/repack-peers.md.
#
#   bash scripts/repack-peers.sh [MODEL.gguf] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${2:-out/repack}
mkdir -p "$OUT"
cargo build --release -q -p tensorjpeg-cli
T=./target/release/tensorjpeg
values=$($T inspect "$MODEL" --json | python3 -c 'import json,sys,math; print(sum(math.prod(t["shape"]) for t in json.load(sys.stdin)["tensors"]))')
orig=$(stat -c %s "$MODEL")
row() { printf '| %s | %s | %.3f | %.1f %% | %s | %s |\n' "$1" "$2" "$(echo "$2*8/$values" | bc -l)" "$(echo "100*$2/$orig" | bc -l)" "$3" "$4"; }
secs() { python3 -c "import time; print(f'{time.time()-$1:.1f} s')"; }
{
  echo "Model: $MODEL ($values values, $orig bytes)"
  echo
  echo "| compressor | bytes | bits/weight | of the file | compress | restore |"
  echo "|---|---|---|---|---|---|"
  row "original GGUF" "$orig" "—" "—"
  t=$(date +%s.%N); $T repack "$MODEL" -o "$OUT/model.tjgguf" 2>/dev/null; c=$(secs "$t")
  t=$(date +%s.%N); $T decompress "$OUT/model.tjgguf" -o "$OUT/restored.gguf" 2>/dev/null; d=$(secs "$t")
  cmp -s "$OUT/restored.gguf" "$MODEL" || { echo "tensorjpeg repack did not restore bit for bit" >&2; exit 1; }
  row "**tensorjpeg repack**" "$(stat -c %s "$OUT/model.tjgguf")" "$c (with its restore check)" "$d"
  rm -f "$OUT/restored.gguf"
  for c in "zstd -19 -T2" "zstd --ultra -22 --long=27 -T2" "xz -9 -T2"; do
    command -v "${c%% *}" >/dev/null || continue
    t=$(date +%s.%N); $c -c "$MODEL" > "$OUT/peer.bin"; ct=$(secs "$t")
    t=$(date +%s.%N); $c -d -c "$OUT/peer.bin" 2>/dev/null | cmp -s - "$MODEL"; dt=$(secs "$t")
    row "\`$c\`" "$(stat -c %s "$OUT/peer.bin")" "$ct" "$dt"
  done
  rm -f "$OUT/peer.bin"
} | tee "$OUT/repack-peers.md"
