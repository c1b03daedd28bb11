#!/usr/bin/env bash
# Run every test of Strider on a fresh machine: installs what the tests need when it is missing
# (wasm32 target, wasm-bindgen CLI pinned to Cargo.lock, Debian's chromium, playwright-core, MLflow,
# Optuna + optuna-dashboard, libclang + cmake for native LightGBM),
# then: format and lint checks, the Rust test suites (unit, property, golden, CLI end-to-end),
# tracking against real MLflow servers, the wasm build, and the headless-Chromium tests that
# compare the browser with the native CLI.
# Idempotent: a rerun skips what is installed and reuses build caches.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
step() { printf '\n==> %s\n' "$*"; }

# CI clones into a new folder every run: keep cargo's build cache outside the clone so a rerun on
# the same machine reuses compiled dependencies.
if [[ -n "${CI:-}" && -z "${CARGO_TARGET_DIR:-}" ]]; then
  export CARGO_TARGET_DIR="$HOME/.cache/strider/target"
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0

WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')

step "toolchain"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  # Not --locked: wasm-bindgen-cli's own lockfile pins a yanked crate.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if [[ ! -x /usr/bin/chromium ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! command -v node >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
# Line coverage of the Rust tests (cargo llvm-cov instruments the workspace's crates only, so the
# test build below is the coverage build: nothing is built twice).
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools-preview
LLVM_COV_VERSION=0.9.1
if [[ "$(cargo llvm-cov --version 2>/dev/null)" != "cargo-llvm-cov $LLVM_COV_VERSION" ]]; then
  cargo install cargo-llvm-cov --version "$LLVM_COV_VERSION" --locked --force
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
# A real MLflow for the tracking tests, in a venv cached per version (about 850 MB, 90 s to build).
MLFLOW_VERSION=3.17.2
MLFLOW_VENV=${STRIDER_CACHE:-$HOME/.cache/strider}/mlflow-venv-$MLFLOW_VERSION
if [[ ! -x $MLFLOW_VENV/bin/mlflow ]]; then
  rm -rf "$MLFLOW_VENV"
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
fi
export MLFLOW="$MLFLOW_VENV/bin/mlflow" STRIDER_MLFLOW_PYTHON="$MLFLOW_VENV/bin/python"
# Optuna and optuna-dashboard, which must read, continue and serve the studies strider writes.
OPTUNA_VERSION=5.0.0
OPTUNA_VENV=${STRIDER_CACHE:-$HOME/.cache/strider}/optuna-venv-$OPTUNA_VERSION
if ! "$OPTUNA_VENV/bin/python" -c "import optuna_dashboard, psycopg" 2>/dev/null; then
  rm -rf "$OPTUNA_VENV"
  python3 -m venv "$OPTUNA_VENV"
  "$OPTUNA_VENV/bin/pip" install -q --disable-pip-version-check "optuna==$OPTUNA_VERSION" \
    "optuna-dashboard==0.21.0" "psycopg[binary]"
fi
export STRIDER_OPTUNA_PYTHON="$OPTUNA_VENV/bin/python"
# Debian's PostgreSQL on 127.0.0.1 for the many-machine storage; the test role may create a
# database per test.
if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_VERSION=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
if [[ -z $PG_VERSION ]]; then
  PG_VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_createcluster "$PG_VERSION" main >/dev/null
fi
if ! pg_lsclusters -h | grep -q online; then
  pg_ctlcluster "$PG_VERSION" main start
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='strider'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE strider LOGIN CREATEDB PASSWORD 'strider'\""
export STRIDER_POSTGRES_URL="postgresql://strider:strider@127.0.0.1:5432/postgres"
# Native LightGBM (cargo feature `lightgbm`): libclang for bindgen, cmake >= 3.28 from PyPI
# (Debian 12 ships 3.25). Its OpenMP threads must not spin on shared 2-core machines.
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi
CMAKE_VENV=${STRIDER_CACHE:-$HOME/.cache/strider}/cmake-venv
if [[ ! -x $CMAKE_VENV/bin/cmake ]]; then
  rm -rf "$CMAKE_VENV"
  python3 -m venv "$CMAKE_VENV"
  "$CMAKE_VENV/bin/pip" install -q --disable-pip-version-check "cmake>=3.28"
fi
export CMAKE="$CMAKE_VENV/bin/cmake" OMP_WAIT_POLICY=passive
FEATURES=(--features strider-cli/lightgbm)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings (with and without native LightGBM)"
cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings
cargo clippy --workspace --all-targets -- -D warnings

step "wasm32 build of the core"
cargo build --release -p strider-wasm --target wasm32-unknown-unknown

step "documentation (cargo doc, doctests run with the tests)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --exclude strider-wasm "${FEATURES[@]}" --quiet

step "production functions at most 120 lines (scripts/long-functions.py)"
python3 scripts/long-functions.py 120

# Every parser of untrusted text under cargo-fuzz (nightly, not instrumented for coverage): saved
# crashes replayed, then each target fuzzed briefly. Longer: `scripts/fuzz.sh 600`.
step "fuzzing (scripts/fuzz.sh ${STRIDER_FUZZ_SECONDS:-10})"
./scripts/fuzz.sh "${STRIDER_FUZZ_SECONDS:-10}"

# From here on the workspace's crates are compiled with LLVM's coverage counters (dependencies are
# not), and every test process, the `strider` binary the CLI and browser tests start included,
# writes its counters under the target directory; the report at the end sums them per crate.
step "coverage instrumentation (cargo llvm-cov $LLVM_COV_VERSION)"
eval "$(cargo llvm-cov show-env --sh 2>/dev/null)"
cargo llvm-cov clean --workspace
# The wasm builds are not instrumented (wasm32 has no profiler runtime).
plain() { env -u RUSTC_WRAPPER -u __CARGO_LLVM_COV_RUSTC_WRAPPER -u CARGO_LLVM_COV "$@"; }

# Tests run optimised (--release): the LSTM and tree trainers are numeric code. Every `cargo test`
# below uses the same flags (--workspace, native LightGBM), so they share one build of burn and
# LightGBM, and it leaves the release `strider` binary the browser tests run.
step "cargo test (with native LightGBM)"
cargo test --release --workspace "${FEATURES[@]}"

step "tracking tests against real MLflow $MLFLOW_VERSION servers"
cargo test --release --workspace "${FEATURES[@]}" --test mlflow -- --ignored --test-threads=1

step "the retraining service on PostgreSQL: takeovers after kill -9, and the soak"
cargo test --release --workspace "${FEATURES[@]}" --test watch_pg -- --ignored --test-threads=1 --nocapture

step "tuning tests against Optuna $OPTUNA_VERSION and optuna-dashboard"
cargo test --release --workspace "${FEATURES[@]}" --test tune -- --ignored --test-threads=2

step "browser tests (headless Chromium vs native CLI; LSTM on CPU wasm and WebGPU)"
CARGO_TARGET_DIR=$TARGET_DIR plain ./scripts/build-www.sh
CARGO_TARGET_DIR=$TARGET_DIR plain ./scripts/build-www.sh --webgpu
export STRIDER_BIN="$TARGET_DIR/release/strider" STRIDER_WWW="$TARGET_DIR/www"
export STRIDER_WWW_WEBGPU="$TARGET_DIR/www-webgpu"
export STRIDER_ARTIFACTS="$ROOT/target/test-artifacts"
(cd tests/browser && node --test)

step "line coverage per crate (library crates at least 90%)"
cargo llvm-cov report --release --json --summary-only > "$TARGET_DIR/coverage.json"
python3 scripts/coverage-check.py 90 < "$TARGET_DIR/coverage.json"
