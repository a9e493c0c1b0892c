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
# After worker-build, two changes to its generated JS glue take fixed cost off every
# request (measured with bench/edge; see "Glue patches" below). They are checked: the
# build fails if worker-build's output no longer has the expected shape.
#
# Env knobs:
#   WORKER_PROFILE=release|dev   cargo profile (default release)
#   WASM_OPT=0                   skip wasm-opt (binaryen) entirely
#   GLUE_PATCH=0                 keep worker-build's glue as generated (for comparison)
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
    printf '%s\n' "${args[*]}"
    "$WASM_BINDGEN_BIN" --version; worker-build --version
    "$ESBUILD_BIN" --version; "$WASM_OPT_BIN" --version
    printf 'glue-patch=%s\n' "${GLUE_PATCH:-1}"
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
if [ "${GLUE_PATCH:-1}" = 0 ]; then
  build_crate worker-build "${args[@]}"
else
  # Unminified, so that the patches below match worker-build's own template text;
  # minified afterwards with the same esbuild.
  build_crate env NO_MINIFY=1 worker-build "${args[@]}"
  # Glue patches (worker-build 0.8.7 / wasm-bindgen 0.2.130 output):
  #
  # 1. Microtasks. wasm-bindgen-futures schedules each poll of a Rust future with the
  #    global queueMicrotask(); in workerd that call costs far more than a promise
  #    reaction (about 25-35 us of CPU per request here, two calls per request).
  #    js-sys itself falls back to Promise.resolve().then() where queueMicrotask is
  #    missing; the same fallback is used here, and a trap while polling still reaches
  #    the shim's handleMaybeCritical (so the instance is re-initialised and logged as
  #    before; a Rust panic also sets criticalError through worker-rs' panic hook).
  # 2. Entrypoint. worker-build exports the Worker's class wrapped in a Proxy that, per
  #    request, builds a Proxy around the instance and one around each method it
  #    hands out, to re-initialise the wasm instance after a panic. The class here is
  #    stateless (its fetch calls the wasm export with this.env/this.ctx), so a
  #    subclass with the same checks (checkReinitialize before construction and each
  #    fetch, handleMaybeCritical on a throw) keeps that recovery without the Proxies.
  node - build/index.js <<'PATCH'
const fs = require("node:fs");
const file = process.argv[2];
let s = fs.readFileSync(file, "utf8");
const fail = (why) => {
  console.error(`[build-worker] glue patch: ${why}; worker-build's output changed (GLUE_PATCH=0 skips the patches)`);
  process.exit(1);
};
const once = (re, what) => {
  const m = [...s.matchAll(re)];
  if (m.length !== 1) fail(`expected one ${what}, found ${m.length}`);
  return m[0];
};
const qm = once(/function\((\w+)\) \{\s*queueMicrotask\(\1\);\s*\}/g, "queueMicrotask(f) import");
// A trap while polling is reported as queueMicrotask's uncaught error would be.
s = s.replace(
  qm[0],
  `function(${qm[1]}) { Promise.resolve().then(${qm[1]}).catch((e) => { handleMaybeCritical(e); throw e; }); }`,
);
const handlers = [...s.matchAll(/^Entrypoint\.prototype\.(\w+) = /gm)].map((m) => m[1]);
if (handlers.join() !== "fetch") fail(`expected Entrypoint handlers [fetch], found [${handlers}]`);
for (const f of ["function checkReinitialize()", "function handleMaybeCritical(e)", "var initState = "]) {
  if (!s.includes(f)) fail(`missing "${f}"`);
}
const ep = once(/^var (\w+) = new Proxy\(Entrypoint, classProxyHooks\);$/gm, "default entrypoint Proxy");
once(new RegExp(`\\b${ep[1]} as default\\b`, "g"), `export of ${ep[1]} as default`);
s = s.replace(ep[0], `var ${ep[1]} = class TokengateEntrypoint extends Entrypoint {
  constructor(...args) {
    try {
      checkReinitialize();
      super(...args);
    } catch (e) {
      initState.criticalError = true;
      throw e;
    }
  }
  fetch(request) {
    checkReinitialize();
    try {
      return super.fetch(request);
    } catch (e) {
      handleMaybeCritical(e);
      throw e;
    }
  }
};`);
fs.writeFileSync(file, s);
PATCH
  "$ESBUILD_BIN" build/index.js --minify --format=esm --log-level=warning \
    --outfile=build/index.js --allow-overwrite
  echo "[build-worker] glue patched: queueMicrotask -> promise reaction, entrypoint subclass"
fi
# worker-build keeps the wasm "name" section (about 150 KB) for symbolicated panics;
# drop it and the producers section: the Worker never panics by design, and the
# bundle-size budget is checked on what ships.
if [ "${WASM_OPT:-1}" != 0 ]; then
  "$WASM_OPT_BIN" build/index_bg.wasm --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types \
    --enable-exception-handling -o build/index_bg.wasm
fi
stamp_record worker "$stamp"
echo "[build-worker] done in $((SECONDS - t0)) s"
report
