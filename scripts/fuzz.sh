#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a fixed time, one after the
# other; prints a table of executions and coverage per target and exits non-zero if any
# target crashed (the inputs land in fuzz/artifacts/<target>/).
#
#   bash scripts/fuzz.sh                    # every target, 20 s each
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh container_table signal
#   bash scripts/fuzz.sh --list             # the targets
#
# Environment:
#   FUZZ_SECONDS      seconds per target (default 20)
#   FUZZ_SANITIZER    address (default with nightly) or none (default on stable; faster;
#                     -malloc_limit_mb then has no effect, -rss_limit_mb still does)
#   FUZZ_NICE         nice level of the fuzz processes (default 10)
#   FUZZ_ARGS         extra libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_NO_REGRESSIONS=1   do not start from fuzz/regressions/<target> (by default the
#                     regression inputs are replayed first, so an unfixed one fails the run)
#   FUZZ_SKIP_HUGE=1  container targets skip tables declaring > 2^28 elements (a campaign
#                     knob while big-shape bugs are open; exported as TJ_FUZZ_SKIP_HUGE)
#
# Needs no global installs: cargo-fuzz goes to target/tools (inside this clone), the
# toolchain is `nightly` if rustup has one, else stable with RUSTC_BOOTSTRAP=1. Builds in
# fuzz/target; corpora in fuzz/corpus (both git-ignored). Seeds: fuzz/seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ALL_TARGETS=(
  decode container_crc container_table
  codec_native codec_jpeg codec_q8_0 codec_q4_0 codec_q4_1 codec_svd codec_zstd
  codec_f16 codec_bf16 codec_raw entropy signal klt_index embedding_index
  npy safetensors gguf repacked_gguf png wav nifti nifti_gz digits manifest models_json
  kernels
)

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "${ALL_TARGETS[@]}"
  exit 0
fi
TARGETS=("$@")
if [[ ${#TARGETS[@]} -eq 0 ]]; then
  TARGETS=("${ALL_TARGETS[@]}")
fi
SECONDS_EACH=${FUZZ_SECONDS:-20}
NICE=${FUZZ_NICE:-10}

# Toolchain: nightly if installed, else stable with the bootstrap escape hatch (and, by
# default, no sanitizer there: the coverage instrumentation needs no nightly runtime).
if command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly'; then
  CARGO=(cargo +nightly)
  SANITIZER=${FUZZ_SANITIZER:-address}
else
  export RUSTC_BOOTSTRAP=1
  CARGO=(cargo)
  SANITIZER=${FUZZ_SANITIZER:-none}
fi

# cargo-fuzz, inside the clone.
TOOLS="$ROOT/target/tools"
export PATH="$TOOLS/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz into $TOOLS"
  cargo install cargo-fuzz --locked --root "$TOOLS"
fi

echo "== building ${#TARGETS[@]} fuzz targets (sanitizer: $SANITIZER)"
build=(fuzz build -O --debug-assertions --sanitizer "$SANITIZER")
if [[ ${#TARGETS[@]} -eq 1 ]]; then build+=("${TARGETS[0]}"); fi # else all of them
nice -n "$NICE" "${CARGO[@]}" "${build[@]}"

TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN="$ROOT/fuzz/target/$TRIPLE/release"

seed_dir() {
  case $1 in
    decode | container_crc | container_table) echo "$ROOT/fuzz/seeds/containers" ;;
    *) echo "$ROOT/fuzz/seeds/$1" ;;
  esac
}

if [[ -n ${FUZZ_SKIP_HUGE:-} ]]; then export TJ_FUZZ_SKIP_HUGE=1; fi
LOGS="$ROOT/fuzz/target/logs"
mkdir -p "$LOGS"
failed=()
rows=()
total_execs=0
for t in "${TARGETS[@]}"; do
  corpus="$ROOT/fuzz/corpus/$t"
  artifacts="$ROOT/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus" "$(seed_dir "$t")")
  if [[ -z ${FUZZ_NO_REGRESSIONS:-} && -d "$ROOT/fuzz/regressions/$t" ]]; then
    dirs+=("$ROOT/fuzz/regressions/$t")
  fi
  log="$LOGS/$t.log"
  echo "== $t: ${SECONDS_EACH}s (log: ${log#"$ROOT"/})"
  start=$(date +%s)
  set +e
  # shellcheck disable=SC2086
  nice -n "$NICE" "$BIN/$t" "${dirs[@]}" \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  structured=$(sed -n 's/^#tj structured_mutations: //p' "$log" | tail -1)
  result=ok
  if [[ $rc -ne 0 ]]; then
    result="CRASH (rc $rc)"
    failed+=("$t")
    grep -m3 -E 'ERROR: libFuzzer|panicked at|Test unit written to|SUMMARY' "$log" || true
  fi
  total_execs=$((total_execs + ${execs:-0}))
  rows+=("$(printf '%-16s %6s %12s %8s %8s %7s %10s  %s' "$t" "$secs" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "${structured:--}" "$result")")
done

echo
printf '%-16s %6s %12s %8s %8s %7s %10s  %s\n' target seconds execs cov ft corpus structured result
printf '%s\n' "${rows[@]}"
echo "total executions: $total_execs"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in fuzz/target/logs/)" >&2
  exit 1
fi
