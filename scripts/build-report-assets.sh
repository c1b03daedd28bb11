#!/usr/bin/env bash
# Rebuild the wasm core that `strider report` inlines into report.html, and record which sources
# it was built from. The output is committed (native-cli/app/assets/report/), so building the CLI
# needs no wasm toolchain; a test fails when core/ or wasm/ changed since the last rebuild.
# Needs the wasm32 target and wasm-bindgen-cli (scripts/test.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
out=native-cli/app/assets/report
cargo build --profile wasm-report -p strider-wasm --target wasm32-unknown-unknown
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# no-modules: a classic script defining `wasm_bindgen`, which can be inlined into the page and
# into a Web Worker created from a blob (ES module imports cannot work from a file:// page).
wasm-bindgen --target no-modules --no-typescript --out-dir "$tmp" \
  "$target/wasm32-unknown-unknown/wasm-report/strider_wasm.wasm"
mkdir -p "$out"
gzip -9n -c "$tmp/strider_wasm_bg.wasm" > "$out/strider_wasm_bg.wasm.gz"
cp "$tmp/strider_wasm.js" "$out/strider_wasm.js"
./scripts/report-sources-hash.sh > "$out/SOURCES.sha256"
echo "report assets: $(wc -c < "$out/strider_wasm_bg.wasm.gz") bytes of gzipped wasm, sources $(cat "$out/SOURCES.sha256")"
