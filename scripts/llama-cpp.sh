#!/usr/bin/env bash
# llama.cpp as a peer — for benchmarks, never for CI.
#
#   bash scripts/llama-cpp.sh build
#       Builds llama-quantize, llama-imatrix, llama-perplexity and llama-bench from the
#       llama.cpp tree vendored in the PyPI sdist of llama-cpp-python 0.3.36 (commit 0c1e570)
#       into .peers/ inside this clone (cmake comes from PyPI too; needs g++). ~7 CPU-minutes.
#
#   bash scripts/llama-cpp.sh quantize-sweep [MODEL.gguf] [OUT_DIR]
#       Re-quantizes MODEL (default: SmolLM2's Q4_1 file; dequantized to F16 first, the same
#       starting point tensorjpeg has) to llama.cpp's types, with and without an importance
#       matrix calibrated on the LAST 8,192 tokens' worth of assets/text/enwiki.txt (its last
#       400,000 bytes, 16 × 512 tokens), and scores every file on the FIRST 5,120 tokens:
#         - by tensorjpeg's runtime (`tensorjpeg perplexity`, ctx 512 stride 256, exactly what
#           `tensorjpeg model-sweep` scores), where candle can load the type;
#         - by llama.cpp itself (`llama-perplexity -c 512 --chunks 10`, which scores the second
#           half of each chunk: its own baseline, so compare rises, not perplexities).
#       Then tensorjpeg's own files (TJ_ALLOCS, default "gptq tcq": `--allocate gptq`, and
#       `--allocate weighted --codec native:tcq`; `gptq-requant` / `tcq-requant` add
#       `--requantize`, the behaviour before the allocation could keep the file's own
#       blocks) at TJ_BITS (default "4 4.5") bits per
#       value, decompressed to GGUF with --like, scored by both the same way.
#       Bits per weight are all-in: file bytes × 8 / every tensor's values.
#       Writes OUT_DIR/llama-cpp.csv and llama-cpp.json (default out/llama-cpp).
#       LLAMA_TYPES / LLAMA_IMATRIX_TYPES override the lists of llama.cpp types (empty: none).
#
#   bash scripts/llama-cpp.sh speed [MODEL.gguf] [OUT_DIR]
#       Token generation and prompt processing side by side, alternating in one script:
#       each round runs `llama-bench -p 512 -n 128 -t 1,2 --repack 0 -r 1`, then tensorjpeg's
#       `generate --compute COMPUTE --ignore-eos --max-tokens 128` (decode tokens/s) and a
#       512-token prompt with --max-tokens 1 (prefill tokens/s), each at 1 and 2 threads
#       (RAYON_NUM_THREADS). ROUNDS (default 5) rounds; medians and ratios to
#       OUT_DIR/speed.json and speed.md (default out/llama-cpp-speed). COMPUTE (default
#       "q4_1": the file's own Q4_1 blocks, bit for bit) may list several --compute specs,
#       space-separated (e.g. "q4_1 nl3h,requant"); COMPUTE_RULE (e.g. "token_embd=keep")
#       adds a --compute-rule to each.
#
# The AMX repack path segfaults on this CPU: every tool runs with -nr / --repack 0.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
peers=$root/.peers
src=$peers/llama_cpp_python-0.3.36/vendor/llama.cpp
bin=$src/build/bin
threads=${THREADS:-2}

die() { echo "llama-cpp.sh: $*" >&2; exit 1; }

build() {
  command -v g++ >/dev/null || die "g++ is needed (apt-get install -y g++)"
  mkdir -p "$peers"
  if [ ! -x "$peers/venv/bin/cmake" ]; then
    python3 -m venv "$peers/venv"
    "$peers/venv/bin/pip" install --quiet cmake
  fi
  if [ ! -d "$src" ]; then
    "$peers/venv/bin/pip" download --quiet --no-deps --no-binary=llama-cpp-python -d "$peers" \
      llama-cpp-python==0.3.36 || die "pip download llama-cpp-python==0.3.36 failed"
    tar -xzf "$peers/llama_cpp_python-0.3.36.tar.gz" -C "$peers"
  fi
  [ -d "$src" ] || die "no vendor/llama.cpp in the sdist"
  local cmake=$peers/venv/bin/cmake
  local log=$peers/build.log
  { "$cmake" -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=ON -DLLAMA_OPENSSL=OFF &&
    "$cmake" --build "$src/build" -j"$threads" \
      --target llama-perplexity llama-quantize llama-bench llama-imatrix; } >"$log" 2>&1 ||
    die "the build failed: see $log"
  echo "built: $(ls "$bin" | grep -E '^llama-(perplexity|quantize|bench|imatrix)$' | tr '\n' ' ')"
}

# Perplexity as llama.cpp prints it ("Final estimate: PPL = 20.8630 +/- 0.60").
llama_ppl() {
  "$bin/llama-perplexity" -m "$1" -f "$text" -c 512 --chunks 10 -t "$threads" -nr 2>&1 |
    sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' | tail -1
}

# Perplexity by tensorjpeg's runtime on the same tokens model-sweep scores ("" if it cannot
# load the type).
our_ppl() {
  "$root/target/release/tensorjpeg" perplexity --model "$1" --text "$text" --max-tokens 5120 \
    --ctx 512 --stride 256 --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])' 2>/dev/null || true
}

quantize_sweep() {
  local model=${1:-assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
  local out=${2:-out/llama-cpp}
  [ -x "$bin/llama-quantize" ] || die "run 'bash scripts/llama-cpp.sh build' first"
  [ -f "$model" ] || die "$model: no such file (bash scripts/fetch-assets.sh)"
  text=$root/assets/text/enwiki.txt
  [ -f "$text" ] || die "$text: no such file (bash scripts/fetch-assets.sh)"
  cargo build --release -p tensorjpeg-cli --quiet
  mkdir -p "$out"
  local work=$out/files
  mkdir -p "$work"
  local values
  values=$("$root/target/release/tensorjpeg" inspect --json "$model" | python3 -c '
import json, sys, math
print(sum(math.prod(t["shape"]) for t in json.load(sys.stdin)["tensors"]))')
  local f16=$work/f16.gguf
  [ -f "$f16" ] || "$bin/llama-quantize" --allow-requantize "$model" "$f16" F16 >/dev/null 2>&1
  local calib=$work/calibration.txt
  tail -c 400000 "$text" >"$calib"
  local imatrix=$work/imatrix.dat
  [ -f "$imatrix" ] || "$bin/llama-imatrix" -m "$f16" -f "$calib" -o "$imatrix" -c 512 \
    --chunks 16 -t "$threads" -nr >/dev/null 2>&1 || die "llama-imatrix failed"
  local rows=$out/rows.tsv
  : >"$rows"
  score() { # name imatrix file
    local bytes ours theirs
    bytes=$(stat -c %s "$3")
    ours=$(our_ppl "$3")
    theirs=$(llama_ppl "$3")
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$bytes" "${ours:-}" "${theirs:-}" >>"$rows"
    echo "$1 imatrix=$2 bpw=$(python3 -c "print(round($bytes*8/$values,3))") tensorjpeg=${ours:-n/a} llama.cpp=${theirs:-n/a}"
  }
  score original no "$model"
  score F16 no "$f16"
  for t in ${LLAMA_TYPES-Q8_0 Q6_K Q4_K_M Q4_0 Q3_K_M IQ4_XS Q2_K}; do
    "$bin/llama-quantize" --allow-requantize "$f16" "$work/$t.gguf" "$t" >/dev/null 2>&1 ||
      die "llama-quantize $t failed"
    score "$t" no "$work/$t.gguf"
    rm -f "$work/$t.gguf"
  done
  for t in ${LLAMA_IMATRIX_TYPES-Q4_K_M Q4_0 Q3_K_M IQ4_XS Q2_K IQ3_XXS IQ2_XS}; do
    "$bin/llama-quantize" --allow-requantize --imatrix "$imatrix" "$f16" "$work/$t-imatrix.gguf" \
      "$t" >/dev/null 2>&1 || die "llama-quantize --imatrix $t failed"
    score "$t" yes "$work/$t-imatrix.gguf"
    rm -f "$work/$t-imatrix.gguf"
  done
  # tensorjpeg's own files, decompressed to GGUF (--like) so that llama.cpp scores them too;
  # their size is the container's. Calibrated on the same text as the importance matrix.
  for alloc in ${TJ_ALLOCS:-gptq tcq}; do
  local how=(--allocate gptq)
  [ "${alloc%-requant}" = tcq ] && how=(--allocate weighted --codec native:tcq)
  [ "${alloc%-requant}" != "$alloc" ] && how+=(--requantize)
  for b in ${TJ_BITS:-4 4.5}; do
    "$root/target/release/tensorjpeg" compress "$model" -o "$work/tj-$b.tjz" --bits "$b" \
      "${how[@]}" --calibration "$calib" >/dev/null 2>&1 || die "tensorjpeg compress failed"
    "$root/target/release/tensorjpeg" decompress "$work/tj-$b.tjz" -o "$work/tj-$b.gguf" \
      --like "$model" >/dev/null 2>&1 || die "tensorjpeg decompress failed"
    local tj_bytes ours theirs
    tj_bytes=$(stat -c %s "$work/tj-$b.tjz")
    ours=$(our_ppl "$work/tj-$b.gguf")
    theirs=$(llama_ppl "$work/tj-$b.gguf")
    printf '%s\t%s\t%s\t%s\t%s\n' "tensorjpeg-$alloc-$b" yes "$tj_bytes" "$ours" "$theirs" >>"$rows"
    echo "tensorjpeg $alloc bits=$b bpw=$(python3 -c "print(round($tj_bytes*8/$values,3))") tensorjpeg=$ours llama.cpp=$theirs"
    rm -f "$work/tj-$b.gguf"
  done
  done
  python3 - "$rows" "$values" "$out" <<'EOF'
import csv, json, sys
rows_file, values, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(rows_file) if l.strip()]
f = lambda s: float(s) if s else None
base = {r[0]: r for r in rows}["original"]
ours0, theirs0 = f(base[3]), f(base[4])
res = []
for name, imat, size, ours, theirs in rows:
    o, t = f(ours), f(theirs)
    res.append({
        "type": name, "imatrix": imat == "yes",
        "bits_per_weight": int(size) * 8 / values,
        "perplexity_tensorjpeg": o,
        "perplexity_rise_tensorjpeg": (o / ours0 - 1) if o and ours0 else None,
        "perplexity_llama_cpp": t,
        "perplexity_rise_llama_cpp": (t / theirs0 - 1) if t and theirs0 else None,
    })
json.dump(res, open(f"{out}/llama-cpp.json", "w"), indent=1)
with open(f"{out}/llama-cpp.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(res[0]))
    w.writeheader()
    w.writerows(res)
print(f"wrote {out}/llama-cpp.json and llama-cpp.csv")
EOF
}

speed() {
  local model=${1:-assets/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
  local out=${2:-out/llama-cpp-speed}
  local rounds=${ROUNDS:-5}
  local computes=${COMPUTE:-q4_1}
  [ -x "$bin/llama-bench" ] || die "run 'bash scripts/llama-cpp.sh build' first"
  [ -f "$model" ] || die "$model: no such file (bash scripts/fetch-assets.sh)"
  cargo build --release -p tensorjpeg-cli --quiet
  mkdir -p "$out"
  local raw=$out/raw.jsonl
  : >"$raw"
  # A prompt of about 512 tokens: the start of the held-out text.
  local prompt
  prompt=$(head -c 2300 "$root/assets/text/enwiki.txt")
  for r in $(seq 1 "$rounds"); do
    echo "round $r/$rounds: llama-bench" >&2
    "$bin/llama-bench" -m "$model" -p 512 -n 128 -t 1,2 --repack 0 -r 1 -o jsonl 2>/dev/null |
      python3 -c 'import json,sys
for l in sys.stdin:
    l=l.strip()
    if not l.startswith("{"): continue
    d=json.loads(l)
    test="pp" if d["n_prompt"]>0 else "tg"
    print(json.dumps({"who":"llama.cpp","test":test,"threads":d["n_threads"],"tokens_per_s":d["avg_ts"],"round":'"$r"'}))' >>"$raw"
    for c in $computes; do
      local rule=()
      [ -n "${COMPUTE_RULE:-}" ] && rule=(--compute-rule "$COMPUTE_RULE")
      for t in 1 2; do
        echo "round $r/$rounds: tensorjpeg --compute $c, $t thread(s)" >&2
        RAYON_NUM_THREADS=$t "$root/target/release/tensorjpeg" generate --model "$model" \
          --compute "$c" "${rule[@]}" --prompt "The history of the Roman Empire" --max-tokens 128 \
          --ignore-eos --json 2>/dev/null |
          python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"who":"tensorjpeg:'"$c"'","test":"tg","threads":'"$t"',"tokens_per_s":d["decode_tokens_per_s"],"max_rss_mib":d["max_rss_mib"],"round":'"$r"'}))' >>"$raw"
        RAYON_NUM_THREADS=$t "$root/target/release/tensorjpeg" generate --model "$model" \
          --compute "$c" "${rule[@]}" --prompt "$prompt" --max-tokens 1 --json 2>/dev/null |
          python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"who":"tensorjpeg:'"$c"'","test":"pp","threads":'"$t"',"prompt_tokens":d["prompt_tokens"],"tokens_per_s":d["prefill_tokens_per_s"],"round":'"$r"'}))' >>"$raw"
      done
    done
  done
  python3 - "$raw" "$out" <<'EOF'
import json, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw)]
keys = sorted({(r["who"], r["test"], r["threads"]) for r in rows})
med = {k: statistics.median(r["tokens_per_s"] for r in rows if (r["who"], r["test"], r["threads"]) == k) for k in keys}
res = []
for (who, test, t) in keys:
    base = med.get(("llama.cpp", test, t))
    res.append({"who": who, "test": test, "threads": t, "median_tokens_per_s": med[(who, test, t)],
                "rounds": sum(1 for r in rows if (r["who"], r["test"], r["threads"]) == (who, test, t)),
                "ratio_to_llama_cpp": med[(who, test, t)] / base if base else None})
json.dump(res, open(f"{out}/speed.json", "w"), indent=1)
with open(f"{out}/speed.md", "w") as f:
    f.write("| who | test | threads | tokens/s (median) | × llama.cpp |\n|---|---|---|---|---|\n")
    for r in res:
        ratio = f'{r["ratio_to_llama_cpp"]:.2f}' if r["ratio_to_llama_cpp"] else ""
        f.write(f'| {r["who"]} | {r["test"]} | {r["threads"]} | {r["median_tokens_per_s"]:.1f} | {ratio} |\n')
print(open(f"{out}/speed.md").read())
EOF
}

case "${1:-}" in
  build) build ;;
  quantize-sweep) shift; quantize_sweep "$@" ;;
  speed) shift; speed "$@" ;;
  *) die "usage: bash scripts/llama-cpp.sh build | quantize-sweep [MODEL.gguf] [OUT_DIR] | speed [MODEL.gguf] [OUT_DIR]" ;;
esac
