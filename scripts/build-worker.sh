#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/ with worker-build and the project's
# pinned local tools (no downloads), then prints the wasm's raw and gzip size.
#
#   build/index.js        the module wrangler.toml's `main` points at
#   build/index_bg.wasm   the Rust core + the Worker adapter crate (crates/worker)
#   build/worker/shim.mjs re-export of index.js (worker-build's compat alias)
#
# wrangler.toml's [build] command runs this, so `wrangler dev` / `wrangler deploy`
# build on a fresh machine too.
#
# worker-build's generated JS glue ships as generated: no rewriting of its template.
# Its entry module exports a class (a WorkerEntrypoint constructed per request, behind a
# Proxy that re-creates the Wasm instance after a trap); a profile of the Worker in
# workerd (V8 CPU profile over the inspector, 2026-12-02) puts that construction at
# 7.6% (cached tokens) to 10.9% (new tokens) of the sampled CPU of the workerd process. worker-build's one alternative,
# CUSTOM_SHIM, builds for wasm-bindgen's bundler target, which has no state reset: a
# trap would then leave the isolate answering 500 until it is recycled. The entry stays.
# (What the request path itself does about its cost, in crates/worker/src/lib.rs: one
# synchronous poll, no Rust future around the origin's fetch.)
#
# Size: the release build is compiled at opt-level "z" (WORKER_OPT_LEVEL; the workspace
# profile says "s", which the native build and the npm package, at 3, do not use) and
# wasm-opt -Oz runs once more after worker-build's own -Oz pass. Measured 2026-12-02
# (`make worker`, gzip -9 of the wasm): "s" 214,937 bytes, "z" about 19 KB less, the
# second -Oz pass about 1.8 KB less; in an 8-round A/B in workerd "z" cost +19 µs per
# request with reused tokens and +20 µs with new ones, within the rounds' noise
# (round-to-round s.d. about 50 µs). The token cache's SHA-256 stays at opt-level 3
# (Cargo.toml's package override).
#
# Env knobs:
#   WORKER_PROFILE=release|dev   cargo profile (default release)
#   WORKER_OPT_LEVEL=z           opt-level of the release build (0-3, s, z; default z)
#   WASM_OPT=0                   skip wasm-opt (binaryen) entirely
#   FORCE=1                      rebuild even if the inputs are unchanged (scripts/stamp.sh)
#   CARGO_TARGET_DIR             honoured (worker-build finds the wasm through cargo)
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

# worker-build always re-runs wasm-bindgen, wasm-opt and esbuild (~20-60 s) even when
# cargo has nothing to do, and wrangler runs this script on every `dev` start and
# every `deploy`; so skip the whole thing when nothing that feeds it has changed
# (scripts/stamp.sh: the one staleness scheme of the build scripts).
# shellcheck source=scripts/stamp.sh
. scripts/stamp.sh
stamp="$(stamp_hash "$(
    printf '%s\n' "${args[*]}" "opt-level=${WORKER_OPT_LEVEL:-z}"
    "$WASM_BINDGEN_BIN" --version; worker-build --version
    "$ESBUILD_BIN" --version; "$WASM_OPT_BIN" --version
  )" src crates/webcrypto crates/worker Cargo.toml Cargo.lock scripts/build-worker.sh scripts/stamp.sh)"

report() {
  local wasm=build/index_bg.wasm raw gz
  raw=$(wc -c < "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf '[build-worker] %s: %s bytes raw, %s bytes gzip -9 (%s KiB)\n' \
    "$wasm" "$raw" "$gz" "$((gz / 1024))"
  printf '[build-worker] build/index.js: %s bytes\n' "$(wc -c < build/index.js)"
}

if stamp_fresh worker "$stamp" build/index.js build/index_bg.wasm; then
  echo "[build-worker] up to date (FORCE=1 to rebuild)"
  report
  exit 0
fi

echo "[build-worker] worker-build ${args[*]}"
echo "[build-worker]   (cold release build about 2-4 min on 2 cores; warm about 30 s)"
t0=$SECONDS
stamp_clear worker
# worker-build builds the crate of the directory it runs in and writes its build/
# there; the result moves to the top-level build/ that wrangler.toml's `main` names.
build_crate() {
  rm -rf crates/worker/build
  (cd crates/worker && "$@")
  rm -rf build
  mv crates/worker/build build
}
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${WORKER_OPT_LEVEL:-z}"
build_crate worker-build "${args[@]}"
# worker-build keeps the wasm "name" section (about 150 KB) for symbolicated panics;
# drop it and the producers section: the Worker never panics by design, and the
# bundle-size budget is checked on what ships. The same pass optimises for size once
# more (see Size above).
if [ "${WASM_OPT:-1}" != 0 ]; then
  "$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types \
    --enable-exception-handling -o build/index_bg.wasm
fi
stamp_record worker "$stamp"
echo "[build-worker] done in $((SECONDS - t0)) s"
report
