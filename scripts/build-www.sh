#!/usr/bin/env bash
# Build the browser page into target/www: the wasm core (release), its JS glue from wasm-bindgen,
# the static page, and the bundled example. Serve target/www over http(s) or localhost to use it.
# `--webgpu` builds the wasm with burn's WebGPU backend into target/www-webgpu instead (about 30 MB
# of wasm and a 25 CPU-minute cold build, so the report and the default page leave it out).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${CARGO_TARGET_DIR:-target}/www
features=(--features drift)
if [[ "${1:-}" == "--webgpu" ]]; then
  out=${CARGO_TARGET_DIR:-target}/www-webgpu
  features=(--features webgpu,drift)
fi
cargo build --release -p strider-wasm --target wasm32-unknown-unknown "${features[@]}"
rm -rf "$out"
mkdir -p "$out/example"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/strider_wasm.wasm"
cp www/index.html www/app.js www/deploy.html www/deploy.js www/style.css "$out/"
cp -r examples/default.toml examples/data "$out/example/"
echo "built $out ($(du -sh "$out/pkg" | cut -f1) of wasm + glue)"
