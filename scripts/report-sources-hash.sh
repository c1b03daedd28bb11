#!/usr/bin/env bash
# The hash of every source the report's wasm is built from (see build-report-assets.sh). Keep in
# step with native-cli/app/src/report/assets.rs, which recomputes it in a test.
set -euo pipefail
cd "$(dirname "$0")/.."
{ find core/*/src wasm/src -type f; ls core/*/Cargo.toml; echo Cargo.lock; echo wasm/Cargo.toml; } \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
