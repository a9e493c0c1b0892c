#!/usr/bin/env bash
# Builds the token decoder page into www/dist/ (override with WWW_OUT=dir): a
# self-contained static site that works from any static file server, with relative
# paths only (so the Worker can serve it as static assets too).
#
#   1. brings the npm package up to date (bash scripts/build-pkg.sh, which skips the
#      build when nothing that feeds it changed: scripts/stamp.sh);
#      set TG_WWW_NO_PKG_BUILD=1 to use pkg/ as it is (it must exist);
#   2. copies the page (www/ without dist/) and the browser build of the package
#      (browser.mjs as tokengate/browser.js, the modules it imports and the .wasm it
#      fetches, and explain.js, the lints and times the page shares with the CLI) into
#      a staging directory, stamps the version into index.html;
#   3. checks that nothing refers to another origin (no CDN, no web fonts) and that
#      every module import is relative;
#   4. swaps the result into www/dist/ and prints the sizes.
#
# No bundler: the page is plain HTML, CSS and JS modules.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[build-www] %s\n' "$*" >&2; }
die() { printf '[build-www] ERROR: %s\n' "$*" >&2; exit 1; }

SRC="$ROOT/www"
OUT="${WWW_OUT:-$ROOT/www/dist}"
PKG="$ROOT/pkg"
PKG_FILES=(browser.mjs explain.js tokengate_bg.wasm package.json)

if [ -n "${TG_WWW_NO_PKG_BUILD:-}" ]; then
  for f in "${PKG_FILES[@]}"; do
    [ -f "$PKG/$f" ] || die "pkg/$f is missing (TG_WWW_NO_PKG_BUILD is set): run bash scripts/build-pkg.sh"
  done
else
  # Up to date in well under a second when nothing changed (scripts/stamp.sh).
  bash "$ROOT/scripts/build-pkg.sh"
fi

NODE="$(command -v node)" || die "node not found"
version="$("$NODE" -p 'require(process.argv[1]).version' "$PKG/package.json")"

parent="$(dirname "$OUT")"
mkdir -p "$parent"
stage="$(mktemp -d "$parent/.www-stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# The page: everything in www/ but dist/ (and editor leftovers).
(cd "$SRC" && find . -path ./dist -prune -o -type f \
  ! -name '*~' ! -name '.*' ! -name '*.swp' -print) | while read -r f; do
  mkdir -p "$stage/$(dirname "$f")"
  cp "$SRC/$f" "$stage/$f"
done
[ -f "$stage/index.html" ] || die "www/index.html is missing"

# The browser build of the package: browser.mjs and the closure of its relative
# imports, plus the .wasm it locates with new URL(..., import.meta.url). browser.mjs
# becomes browser.js so that any static server sends it as JavaScript (some do not
# know .mjs).
mkdir -p "$stage/tokengate"
"$NODE" -e '
  const fs = require("fs"), path = require("path");
  const [pkg, out] = process.argv.slice(1);
  const seen = new Set();
  let wasm = 0;
  const visit = (rel) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const src = path.join(pkg, rel);
    if (!fs.existsSync(src)) throw new Error(`pkg/${rel} (imported by the browser entry) is missing`);
    const text = fs.readFileSync(src, "utf8");
    const dest = rel === "browser.mjs" ? "browser.js" : rel;
    fs.mkdirSync(path.dirname(path.join(out, dest)), { recursive: true });
    fs.writeFileSync(path.join(out, dest), text);
    // Imports are looked for outside comments (JSDoc types say import("./index.js")).
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const specs = [
      ...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["\x27]([^"\x27]+)["\x27]/gms),
      ...code.matchAll(/^\s*import\s*["\x27]([^"\x27]+)["\x27]/gm),
      ...code.matchAll(/\bimport\(\s*["\x27]([^"\x27]+)["\x27]\s*\)/g),
    ].map((m) => m[1]);
    for (const s of specs) {
      if (!s.startsWith("./") && !s.startsWith("../")) throw new Error(`pkg/${rel} imports ${s}, which is not relative`);
      visit(path.posix.normalize(path.posix.join(path.posix.dirname(rel), s)));
    }
    for (const m of code.matchAll(/new URL\(\s*["\x27](\.\/[^"\x27]+\.wasm)["\x27]\s*,\s*import\.meta\.url\s*\)/g)) {
      const w = path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1]));
      fs.copyFileSync(path.join(pkg, w), path.join(out, w));
      wasm++;
    }
  };
  visit("browser.mjs");
  // The inspector logic the page shares with the CLI (www/lib/lints.js, time.js).
  visit("explain.js");
  if (!wasm) throw new Error("pkg/browser.mjs does not load a .wasm relative to itself");
  console.error(`[build-www] package files: ${[...seen].join(" ")} + ${wasm} wasm`);
' "$PKG" "$stage/tokengate" || die "cannot copy the browser build of the package"

sed -i "s/__TOKENGATE_VERSION__/$version/g" "$stage/index.html"

# Self-containment checks.
bad="$(grep -EnH '(src|href)=["'\''](https?:)?//' "$stage"/*.html || true)"
[ -z "$bad" ] || die "index.html loads something from another origin:
$bad"
bad="$(grep -EnH 'url\((["'\'']?)(https?:)?//|@import' "$stage"/*.css || true)"
[ -z "$bad" ] || die "a stylesheet loads something from another origin:
$bad"
bad="$(find "$stage" -name '*.js' -print0 | xargs -0 grep -EnH '^\s*(import|export)\b[^;]*\bfrom\s*["'\''][^.]' || true)"
[ -z "$bad" ] || die "a module import is not relative:
$bad"
bad="$(find "$stage" -name '*.js' -print0 | xargs -0 grep -EnH 'import\(\s*["'\''][^.]' || true)"
[ -z "$bad" ] || die "a dynamic import is not relative:
$bad"

rm -rf "$OUT"
mv "$stage" "$OUT"
trap - EXIT

total=0
while IFS= read -r -d '' f; do
  total=$((total + $(wc -c < "$f")))
done < <(find "$OUT" -type f -print0)
log "built $OUT (tokengate $version): $(find "$OUT" -type f | wc -l) files, $total bytes"
printf '[build-www] %-28s %9s bytes raw %9s bytes gzip\n' \
  "tokengate_bg.wasm" "$(wc -c < "$OUT/tokengate/tokengate_bg.wasm")" "$(gzip -9 -c "$OUT/tokengate/tokengate_bg.wasm" | wc -c)" \
  "page (html, css, js)" "$(cat "$OUT"/*.html "$OUT"/*.css "$OUT"/*.js "$OUT"/lib/*.js | wc -c)" "$(cat "$OUT"/*.html "$OUT"/*.css "$OUT"/*.js "$OUT"/lib/*.js | gzip -9 -c | wc -c)" \
  "tokengate/*.js (bindings)" "$(cat "$OUT"/tokengate/*.js | wc -c)" "$(cat "$OUT"/tokengate/*.js | gzip -9 -c | wc -c)" >&2
