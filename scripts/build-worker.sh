#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/ with worker-build and the project's
# pinned local tools (no downloads), then prints the wasm's raw and gzip size.
#
#   build/index.js        the module wrangler.toml's `main` points at
#   build/index_bg.wasm   the Rust core + edge adapter (cargo --release --features worker)
#   build/worker/shim.mjs re-export of index.js (worker-build's compat alias)
#
# wrangler.toml's [build] command runs this, so `wrangler dev` / `wrangler deploy`
# build on a fresh machine too.
#
# Env knobs:
#   WORKER_PROFILE=release|dev   cargo profile (default release)
#   WASM_OPT=0                   skip wasm-opt (binaryen) entirely
#   FORCE=1                      rebuild even if sources are unchanged
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh rust
if [ ! -x node_modules/.bin/esbuild ] || [ ! -x node_modules/.bin/wasm-opt ]; then
  bash scripts/setup.sh npm
fi
# shellcheck source=scripts/env.sh
. scripts/env.sh

args=()
case "${WORKER_PROFILE:-release}" in
  release) args+=(--release) ;;
  dev) args+=(--dev) ;;
  *) echo "WORKER_PROFILE must be release or dev" >&2; exit 2 ;;
esac
if [ "${WASM_OPT:-1}" = 0 ]; then
  args+=(--no-opt)
fi
args+=(--features worker)

# worker-build always re-runs wasm-bindgen, wasm-opt and esbuild (~20-60 s) even when
# cargo has nothing to do, and wrangler runs this script on every `dev` start and
# every `deploy`; so skip the whole thing when nothing that feeds it has changed.
stamp_file=build/.tokengate-build-stamp
stamp="$(
  {
    printf '%s\n' "${args[*]}"
    "$WASM_BINDGEN_BIN" --version; worker-build --version
    "$ESBUILD_BIN" --version; "$WASM_OPT_BIN" --version
    find src -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml Cargo.lock
  } | sha256sum | cut -d' ' -f1
)"

report() {
  local wasm=build/index_bg.wasm raw gz
  raw=$(wc -c < "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf '[build-worker] %s: %s bytes raw, %s bytes gzip -9 (%s KiB)\n' \
    "$wasm" "$raw" "$gz" "$((gz / 1024))"
  printf '[build-worker] build/index.js: %s bytes\n' "$(wc -c < build/index.js)"
}

if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
   && [ -f build/index.js ] && [ -f build/index_bg.wasm ]; then
  echo "[build-worker] up to date (FORCE=1 to rebuild)"
  report
  exit 0
fi

echo "[build-worker] worker-build ${args[*]}"
echo "[build-worker]   (cold release build about 2-4 min on 2 cores; warm about 30 s)"
t0=$SECONDS
rm -f "$stamp_file"
worker-build "${args[@]}"
# worker-build keeps the wasm "name" section (about 150 KB) for symbolicated panics;
# drop it and the producers section: the Worker never panics by design, and the
# bundle-size budget is checked on what ships.
if [ "${WASM_OPT:-1}" != 0 ]; then
  "$WASM_OPT_BIN" build/index_bg.wasm --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types \
    --enable-exception-handling -o build/index_bg.wasm
fi
echo "$stamp" > "$stamp_file"
echo "[build-worker] done in $((SECONDS - t0)) s"
report
