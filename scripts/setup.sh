#!/usr/bin/env bash
# Installs every tool the build and tests need, pinned, without downloading
# anything but registry packages (crates.io, npm). Idempotent: a second run only
# checks versions and returns in about a second.
#
#   rust target  wasm32-unknown-unknown (rustup)
#   wasm-bindgen wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen version
#   worker-build at exactly Cargo.lock's `worker` version (they are released together)
#   npm          `npm ci` of package.json/package-lock.json: node 24, wrangler,
#                miniflare/workerd, esbuild, binaryen (wasm-opt), playwright-core;
#                and of tests/idp (the test OpenID provider: oidc-provider, oauth4webapi, dpop)
#
# Cargo tools are built once per version into $TOKENGATE_TOOL_CACHE
# (default ~/.cache/tokengate/tools/<name>-<version>) so fresh clones and CI runs on
# the same machine reuse them; .tools/bin/ in the repo gets symlinks to them.
#
# Usage: scripts/setup.sh [rust|npm|all]   (default all)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
what="${1:-all}"

TOOL_CACHE="${TOKENGATE_TOOL_CACHE:-$HOME/.cache/tokengate/tools}"
TOOLS_BIN="$ROOT/.tools/bin"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Version of a package as recorded in Cargo.lock (first match; the lock has one
# entry for each of the packages we ask about).
lock_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' Cargo.lock
}

# Last word of `EXE --version` ("wasm-bindgen 0.2.130" / "0.8.7"), or nothing.
tool_version() {
  [ -x "$1" ] && "$1" --version 2>/dev/null | awk 'NR == 1 { print $NF }'
}

# install_cargo_tool CRATE VERSION BIN MINUTES
# Ensures $TOOLS_BIN/BIN runs and reports VERSION; builds it if needed.
install_cargo_tool() {
  local crate="$1" version="$2" bin="$3" minutes="$4"
  local root="$TOOL_CACHE/$crate-$version"
  local exe="$root/bin/$bin"
  if [ "$(tool_version "$exe")" != "$version" ]; then
    log "building $crate $version from crates.io into $root"
    log "  (first run only: about $minutes min on 2 cores)"
    local t0=$SECONDS
    # --locked uses the crate's own Cargo.lock; if the registry lacks one of its
    # pinned versions (seen: webpki-roots 1.0.11 for wasm-bindgen-cli 0.2.130),
    # fall back to fresh resolution within the crate's semver ranges.
    if ! cargo install --locked --root "$root" "$crate" --version "=$version" --bin "$bin"; then
      log "  --locked install failed; retrying with freshly resolved dependencies"
      cargo install --root "$root" "$crate" --version "=$version" --bin "$bin" \
        || die "cargo install $crate $version failed"
    fi
    log "  built $crate in $((SECONDS - t0)) s"
    [ "$(tool_version "$exe")" = "$version" ] \
      || die "$exe does not report version $version"
  fi
  mkdir -p "$TOOLS_BIN"
  ln -sfn "$exe" "$TOOLS_BIN/$bin"
}

setup_rust() {
  command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
  [ -f Cargo.lock ] || die "Cargo.lock missing"

  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown (about 1 min)"
    rustup target add wasm32-unknown-unknown
  fi
  for comp in clippy rustfmt; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
      log "rustup component add $comp"
      rustup component add "$comp"
    fi
  done

  local wb_version worker_version
  wb_version="${WASM_BINDGEN_VERSION:-$(lock_version wasm-bindgen)}"
  worker_version="${WORKER_BUILD_VERSION:-$(lock_version worker)}"
  [ -n "$wb_version" ] || die "no wasm-bindgen in Cargo.lock"
  [ -n "$worker_version" ] || die "no worker in Cargo.lock"

  install_cargo_tool wasm-bindgen-cli "$wb_version" wasm-bindgen 5
  install_cargo_tool worker-build "$worker_version" worker-build 4
}

setup_npm() {
  command -v npm >/dev/null || die "npm not found"
  # tests/idp: its own node_modules (the test OpenID provider the worker and npm
  # tests import as ../idp/index.mjs).
  local idp_stamp="tests/idp/node_modules/.tokengate-npm-stamp" idp_want
  idp_want="$(cat tests/idp/package.json tests/idp/package-lock.json | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$idp_stamp" ] || [ "$(cat "$idp_stamp")" != "$idp_want" ]; then
    log "npm ci --prefix tests/idp (oidc-provider, oauth4webapi, dpop; about 5 s)"
    local t1=$SECONDS
    npm ci --prefix tests/idp --no-audit --no-fund --loglevel=error
    echo "$idp_want" > "$idp_stamp"
    log "  npm ci of tests/idp took $((SECONDS - t1)) s"
  fi
  local stamp="node_modules/.tokengate-npm-stamp" want
  want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && [ -x node_modules/.bin/node ] && [ -x node_modules/.bin/wrangler ]; then
    return 0
  fi
  log "npm ci (node 24, wrangler, workerd, esbuild, binaryen; ~550 MB; about 30 s)"
  local t0=$SECONDS
  # The system node may be older than wrangler's engines field; npm only warns.
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
  log "  npm ci took $((SECONDS - t0)) s"
}

check_versions() {
  # shellcheck source=scripts/env.sh
  . "$ROOT/scripts/env.sh"
  local node_v
  node_v="$(node --version)"
  case "$node_v" in
    v2[2-9].*|v[3-9][0-9].*) ;;
    *) die "node on PATH is $node_v; expected node_modules/.bin/node >= 22" ;;
  esac
}

case "$what" in
  rust) setup_rust ;;
  npm) setup_npm; check_versions ;;
  all) setup_rust; setup_npm; check_versions ;;
  *) die "usage: $0 [rust|npm|all]" ;;
esac
