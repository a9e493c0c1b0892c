#!/usr/bin/env bash
# Builds the `tokengate` npm package into pkg/ (override with PKG_OUT=dir):
#
#   1. cargo build --release --target wasm32-unknown-unknown -p tokengate-js (the JS
#      bindings crate, crates/js), at opt-level 3
#      (PKG_OPT_LEVEL): the package is tuned for speed, where the Worker (under a gzip
#      budget) is tuned for size. Measured by an in-process A/B run of decode and verify in Node (this machine):
#      opt-level 3 + wasm-opt -O3 cut the wasm-side time of a cold RS256 verify by
#      about 10% (decode 16.4 -> 13.4 us) for 253 -> 304 KB of gzipped wasm;
#   2. wasm-bindgen --target bundler (the version pinned to Cargo.lock, from
#      .tools/bin; run scripts/setup.sh first) for the JS side of the bindings
#      (tokengate_bg.js), which each entry point connects to the module itself
#      (npm/init.js);
#   3. wasm-opt -O3 (PKG_WASM_OPT) from node_modules/binaryen when it is installed
#      (else skipped);
#   4. the hand-written entry points and types of npm/, one per runtime (see
#      npm/README.md): node.mjs (+ node.cjs, bundled with esbuild) with the wasm inlined
#      as base64, edge.mjs / workerd.mjs importing the .wasm as a module, browser.mjs
#      fetching it next to itself;
#   5. prints the raw and gzip sizes.
#
# Idempotent: pkg/ is rebuilt from scratch in a temporary directory and swapped in, and
# not at all when nothing that feeds it changed (scripts/stamp.sh; FORCE=1 rebuilds).
# Pack it with `npm pack ./pkg`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"

log() { printf '[build-pkg] %s\n' "$*" >&2; }
die() { printf '[build-pkg] ERROR: %s\n' "$*" >&2; exit 1; }

OUT="${PKG_OUT:-$ROOT/pkg}"
NPM_SRC="$ROOT/npm"

WASM_BINDGEN="$TG_TOOLS_BIN/wasm-bindgen"
[ -x "$WASM_BINDGEN" ] || die "$WASM_BINDGEN not found: run scripts/setup.sh"
want_wb="$(awk '$0 == "name = \"wasm-bindgen\"" { f = 1; next } f && /^version = / { gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
have_wb="$("$WASM_BINDGEN" --version | awk '{ print $NF }')"
[ "$want_wb" = "$have_wb" ] \
  || die "wasm-bindgen is $have_wb but Cargo.lock has $want_wb: run scripts/setup.sh"

NODE="$(command -v node)" || die "node not found"
ESBUILD="$TG_NODE_BIN/esbuild"
[ -x "$ESBUILD" ] || die "$ESBUILD not found: run scripts/setup.sh (npm part)"
WASM_OPT="$TG_NODE_BIN/wasm-opt"

# The prebuilt edge authorizer (`tokengate/authorizer`): the Worker as build/ holds it
# (scripts/build-worker.sh, itself skipped when its inputs are unchanged).
bash "$ROOT/scripts/build-worker.sh"
for f in build/index.js build/index_bg.wasm; do
  [ -f "$ROOT/$f" ] || die "$f was not built (scripts/build-worker.sh)"
done

# shellcheck source=scripts/stamp.sh
. "$ROOT/scripts/stamp.sh"
stamp_name="pkg-$(printf '%s' "$OUT" | sha256sum | cut -c1-12)"
stamp="$(stamp_hash "$(
    printf 'out=%s opt=%s wasm-opt=%s\n' "$OUT" "${PKG_OPT_LEVEL:-3}" "${PKG_WASM_OPT:--O3}"
    "$WASM_BINDGEN" --version; "$ESBUILD" --version; [ ! -x "$WASM_OPT" ] || "$WASM_OPT" --version
  )" src crates/js crates/webcrypto npm Cargo.toml Cargo.lock scripts/build-pkg.sh scripts/stamp.sh \
  build/index.js build/index_bg.wasm)"
if stamp_fresh "$stamp_name" "$stamp" "$OUT/package.json" "$OUT/tokengate_bg.wasm" "$OUT/node.cjs"; then
  log "$OUT is up to date (FORCE=1 to rebuild)"
  exit 0
fi
stamp_clear "$stamp_name"

version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
[ -n "$version" ] || die "no version in Cargo.toml"

target_dir="$(cargo metadata --format-version 1 --no-deps \
  | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
[ -n "$target_dir" ] || die "cannot find cargo's target directory"

log "cargo build --release --target wasm32-unknown-unknown -p tokengate-js"
CARGO_PROFILE_RELEASE_OPT_LEVEL="${PKG_OPT_LEVEL:-3}" \
  cargo build --release --lib --target wasm32-unknown-unknown -p tokengate-js
raw_wasm="$target_dir/wasm32-unknown-unknown/release/tokengate_js.wasm"
[ -f "$raw_wasm" ] || die "$raw_wasm was not built"

mkdir -p "$target_dir"
stage="$(mktemp -d "$target_dir/pkg-stage.XXXXXX")"
trap '[ -n "${KEEP_STAGE:-}" ] || rm -rf "$stage"' EXIT
cp "$raw_wasm" "$stage/tokengate.wasm"
raw_wasm="$stage/tokengate.wasm"

log "wasm-bindgen $have_wb --target bundler"
"$WASM_BINDGEN" --target bundler --no-typescript --out-name tokengate \
  --out-dir "$stage/bindgen" "$raw_wasm"
glue="$stage/bindgen/tokengate_bg.js"
wasm="$stage/bindgen/tokengate_bg.wasm"
[ -f "$glue" ] && [ -f "$wasm" ] || die "wasm-bindgen did not produce tokengate_bg.js and tokengate_bg.wasm"
[ ! -d "$stage/bindgen/snippets" ] || die "wasm-bindgen produced JS snippets, which npm/init.js does not load"
grep -q '^export function __wbg_set_wasm(' "$glue" || die "wasm-bindgen glue has no __wbg_set_wasm export"
for sym in createVerifier decode bearerToken errorCatalogue checkWorkerConfig; do
  grep -q "^export function $sym(" "$glue" \
    || die "the wasm has no $sym export"
done

if [ -x "$WASM_OPT" ]; then
  log "wasm-opt ${PKG_WASM_OPT:--O3} ($("$WASM_OPT" --version))"
  # The features are the ones rustc enables by default for wasm32-unknown-unknown,
  # which every runtime we target supports.
  "$WASM_OPT" "${PKG_WASM_OPT:--O3}" --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$stage/opt.wasm" "$wasm"
  mv "$stage/opt.wasm" "$wasm"
else
  log "wasm-opt not found in node_modules/.bin: skipping size optimisation"
fi

pkg="$stage/pkg"
mkdir -p "$pkg"
cp "$glue" "$wasm" "$pkg/"
for f in init.js api.js node.mjs node-crypto.js edge.mjs workerd.mjs browser.mjs index.d.ts README.md; do
  [ -f "$NPM_SRC/$f" ] || die "npm/$f is missing"
  cp "$NPM_SRC/$f" "$pkg/$f"
done
# The CLI (cli.js, cli/*.js, the project template of `tokengate init`) and the inspector
# module tokengate/explain: the files package.json "files" lists under those names.
"$NODE" -e '
  const p = require(process.argv[1]);
  for (const f of p.files) if (/^(cli\.js$|cli\/|template\/|explain\.)/.test(f)) console.log(f);
' "$NPM_SRC/package.json" | while read -r f; do
  [ -f "$NPM_SRC/$f" ] || die "npm/$f is missing"
  mkdir -p "$pkg/$(dirname "$f")"
  cp "$NPM_SRC/$f" "$pkg/$f"
done
chmod 755 "$pkg/cli.js"
# The edge authorizer: worker-build's entry module and its wasm, unchanged (the entry
# imports "./index_bg.wasm", which wrangler's default rules load as a compiled module,
# and "cloudflare:workers"), with its declarations.
mkdir -p "$pkg/authorizer"
cp "$ROOT/build/index.js" "$ROOT/build/index_bg.wasm" "$pkg/authorizer/"
cp "$NPM_SRC/authorizer.d.ts" "$pkg/authorizer/index.d.ts"
grep -q 'from"./index_bg.wasm"\|from "./index_bg.wasm"' "$pkg/authorizer/index.js" \
  || die "build/index.js does not import ./index_bg.wasm"
# The same declarations for CommonJS consumers (TypeScript reads .d.cts as CJS).
cp "$NPM_SRC/index.d.ts" "$pkg/index.d.cts"

# The wasm bytes as a base64 string in a CommonJS module, shared by node.mjs (ESM can
# import CommonJS) and node.cjs, so that the package ships them once more, not twice.
"$NODE" -e '
  const fs = require("fs");
  const [wasmPath, outPath] = process.argv.slice(1);
  const b64 = fs.readFileSync(wasmPath).toString("base64");
  fs.writeFileSync(outPath,
    "// Generated by scripts/build-pkg.sh: tokengate_bg.wasm, base64-encoded.\n" +
    "module.exports = \"" + b64 + "\";\n");
' "$wasm" "$pkg/tokengate_wasm.cjs"

# The module must import from tokengate_bg.js only (npm/init.js provides exactly that).
"$NODE" -e '
  const fs = require("fs");
  const mods = new Set(WebAssembly.Module.imports(new WebAssembly.Module(fs.readFileSync(process.argv[1]))).map((i) => i.module));
  if (mods.size !== 1 || !mods.has("./tokengate_bg.js")) { console.error([...mods]); process.exit(1); }
' "$wasm" || die "the wasm imports from modules other than ./tokengate_bg.js"

# node.cjs: node.mjs and everything it imports but the base64 module, as one CommonJS
# file.
"$ESBUILD" "$pkg/node.mjs" --bundle --format=cjs --platform=node --target=node20 \
  --external:./tokengate_wasm.cjs --log-level=warning \
  --banner:js="// Generated by scripts/build-pkg.sh from node.mjs (CommonJS build)." \
  --outfile="$pkg/node.cjs"

# package.json with the crate's version.
"$NODE" -e '
  const fs = require("fs");
  const [src, out, version] = process.argv.slice(1);
  const p = JSON.parse(fs.readFileSync(src, "utf8"));
  p.version = version;
  fs.writeFileSync(out, JSON.stringify(p, null, 2) + "\n");
' "$NPM_SRC/package.json" "$pkg/package.json" "$version"

# Every file listed in package.json "files" must exist, and nothing else is shipped.
"$NODE" -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1];
  const p = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const missing = p.files.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) { console.error("missing files: " + missing.join(", ")); process.exit(1); }
' "$pkg" || die "package.json lists files that were not built"

# Smoke test: both Node entry points load and decode.
"$NODE" --input-type=module -e '
  const m = await import(process.argv[1] + "/node.mjs");
  const r = m.decode("x");
  if (r.ok !== false || r.error.code !== "token_malformed") throw new Error("ESM smoke test failed");
' "$pkg" || die "node.mjs smoke test failed"
"$NODE" -e '
  const m = require(process.argv[1] + "/node.cjs");
  const r = m.decode("x");
  if (r.ok !== false || r.error.code !== "token_malformed") throw new Error("CJS smoke test failed");
' "$pkg" || die "node.cjs smoke test failed"

rm -rf "$OUT"
mv "$pkg" "$OUT"
stamp_record "$stamp_name" "$stamp"

size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
raw_size=$(size "$raw_wasm")
log "built $OUT (tokengate $version)"
printf '[build-pkg] %-28s %9s bytes raw %9s bytes gzip\n' \
  "cargo output (pre-bindgen)" "$raw_size" "$(gz "$raw_wasm")" \
  "tokengate_bg.wasm" "$(size "$OUT/tokengate_bg.wasm")" "$(gz "$OUT/tokengate_bg.wasm")" \
  "tokengate_wasm.cjs (base64)" "$(size "$OUT/tokengate_wasm.cjs")" "$(gz "$OUT/tokengate_wasm.cjs")" \
  "node.cjs (bundled, no wasm)" "$(size "$OUT/node.cjs")" "$(gz "$OUT/node.cjs")" \
  "tokengate_bg.js (bindings)" "$(size "$OUT/tokengate_bg.js")" "$(gz "$OUT/tokengate_bg.js")" >&2
