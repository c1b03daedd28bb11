#!/usr/bin/env bash
# The cargo-fuzz targets of fuzz/ (every parser of untrusted text), briefly: builds them all once
# (sanitizer none: panics, hangs and huge allocations are what is hunted, and libFuzzer catches
# those without AddressSanitizer), replays every saved crash under fuzz/regressions/<target>/,
# then fuzzes each target for SECONDS (default 15) from a copy of its committed seed corpus
# fuzz/corpus/<target>/, so the committed corpus never grows here. Exits non-zero on any crash,
# naming the target and the input. Installs the nightly toolchain and cargo-fuzz when missing.
#
#   scripts/fuzz.sh          the test step (scripts/test.sh)
#   scripts/fuzz.sh 600      ten minutes per target
#
# Builds go to $STRIDER_CACHE/fuzz-target (default ~/.cache/strider), so CI can cache them; the
# corpora a run grew are kept in $STRIDER_CACHE/fuzz-corpus/<target>/ (replaced on each run). To
# keep what a long run found, merge it into the committed corpus (only inputs that add coverage
# are copied):
#   $STRIDER_CACHE/fuzz-target/<host>/release/<target> -merge=1 \
#     fuzz/corpus/<target> $STRIDER_CACHE/fuzz-corpus/<target>
# A crash leaves its input in $STRIDER_CACHE/fuzz-artifacts/<target>/: fix it, then commit the
# input under fuzz/regressions/<target>/ so every later run replays it.
#
# With AddressSanitizer instead (memory errors in the C parts too; a second cold build, slower
# runs), in a target directory of its own:
#   cd fuzz && CARGO_TARGET_DIR=~/.cache/strider/fuzz-target-asan cargo +nightly fuzz run <target>
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-15}
[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
CARGO_FUZZ_VERSION=0.13.2
if [[ -n ${CARGO_LLVM_COV:-} ]]; then
  echo "scripts/fuzz.sh: run it before \`cargo llvm-cov show-env\` (its flags would reach the fuzz build)" >&2
  exit 2
fi
CACHE=${STRIDER_CACHE:-$HOME/.cache/strider}
export CARGO_TARGET_DIR=$CACHE/fuzz-target CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0
step() { printf '\n==> %s\n' "$*"; }

step "fuzz toolchain"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

step "fuzz build"
TARGETS=$(cd fuzz && cargo +nightly fuzz list)
(cd fuzz && cargo +nightly fuzz build --sanitizer none)
HOST=$(rustc +nightly -vV | sed -n 's/^host: //p')
BIN_DIR=$CARGO_TARGET_DIR/$HOST/release

LOGS=$CACHE/fuzz-logs
ARTIFACTS=$CACHE/fuzz-artifacts
failed=()
# Runs one libFuzzer binary (MODE replay: over the given files; fuzz: from a corpus directory);
# on failure prints the panic, records the target and names the input: a replay's last "Running:"
# file, or the crash libFuzzer wrote ("Test unit written to …").
run_target() {
  local mode=$1 target=$2 log=$LOGS/$2.$1.log
  shift 2
  rm -rf "$ARTIFACTS/$target"
  mkdir -p "$LOGS" "$ARTIFACTS/$target"
  if "$BIN_DIR/$target" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$ARTIFACTS/$target/" \
    "$@" >"$log" 2>&1; then
    return 0
  fi
  # The panic (or libFuzzer's verdict: timeout, out of memory) and the repository's frames.
  grep -E -A1 'panicked at|ERROR: libFuzzer|SUMMARY: libFuzzer' "$log" | head -n 12 || true
  grep -E -B1 '^ +at \./' "$log" | head -n 16 || true
  local input
  if [[ $mode == replay ]]; then
    input=$(grep -o '^Running: .*' "$log" | sed 's/^Running: //' | tail -n 1 || true)
  else
    input=$(grep -o 'Test unit written to .*' "$log" | sed 's/^Test unit written to //' | tail -n 1 || true)
  fi
  echo "FUZZ CRASH: target $target, input ${input:-unknown} (log $log)" >&2
  failed+=("$target: ${input:-unknown}")
}

step "fuzz regressions (replay)"
for dir in fuzz/regressions/*/; do
  [[ -d $dir ]] || continue
  target=$(basename "$dir")
  if ! grep -qx "$target" <<<"$TARGETS"; then
    echo "fuzz/regressions/$target: no such fuzz target" >&2
    failed+=("$target: unknown target")
    continue
  fi
  inputs=("$dir"*)
  [[ -e ${inputs[0]} ]] || continue
  echo "$target: ${#inputs[@]} input(s)"
  # Given files, libFuzzer runs each once and stops at the first that crashes.
  run_target replay "$target" "${inputs[@]}"
done

step "fuzz ${SECONDS_PER_TARGET}s per target"
for target in $TARGETS; do
  corpus=$CACHE/fuzz-corpus/$target
  rm -rf "$corpus"
  mkdir -p "$corpus"
  if [[ -d fuzz/corpus/$target ]]; then
    cp -R "fuzz/corpus/$target/." "$corpus/"
  fi
  echo "$target"
  # A fixed seed keeps the test step repeatable; STRIDER_FUZZ_SEED=0 lets libFuzzer pick one.
  run_target fuzz "$target" "$corpus" -max_total_time="$SECONDS_PER_TARGET" \
    -seed="${STRIDER_FUZZ_SEED:-1}" -print_final_stats=1
  grep -h '^stat::number_of_executed_units' "$LOGS/$target.fuzz.log" | sed "s/^/  /" || true
done

if ((${#failed[@]})); then
  echo >&2
  echo "fuzzing found ${#failed[@]} crash(es):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzzing: no crashes ($(wc -w <<<"$TARGETS") targets, ${SECONDS_PER_TARGET}s each)"
