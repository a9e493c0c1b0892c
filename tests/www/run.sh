#!/usr/bin/env bash
# Browser tests of the token decoder page (www/), for `make test`:
#
#   1. installs Debian's Chromium with apt-get when /usr/bin/chromium is missing
#      (idempotent; CHROMIUM_PATH overrides the path and skips the install);
#   2. `npm ci` here (playwright-core only, no browser download) when node_modules is
#      missing or older than package-lock.json;
#   3. builds the page: bash scripts/build-www.sh (cheap; it rebuilds pkg/ only when
#      stale); TG_WWW_SKIP_BUILD=1 uses www/dist as it is;
#   4. runs node --test on tests/www/*.test.mjs (one file at a time).
#
# Screenshots of each state, light and dark, are written to tests/artifacts/www/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

log() { printf '[test-www] %s\n' "$*" >&2; }
die() { printf '[test-www] ERROR: %s\n' "$*" >&2; exit 1; }

# The project's pinned tools (node 24 from node_modules, when installed) first on PATH.
# shellcheck source=scripts/env.sh
[ -f "$ROOT/scripts/env.sh" ] && . "$ROOT/scripts/env.sh"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

bash "$ROOT/scripts/ensure-chromium.sh"

if [ ! -f "$HERE/node_modules/playwright-core/package.json" ] \
  || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  log "npm ci in tests/www"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -z "${TG_WWW_SKIP_BUILD:-}" ]; then
  bash "$ROOT/scripts/build-www.sh"
fi
[ -f "$ROOT/www/dist/index.html" ] || die "www/dist is not built: run bash scripts/build-www.sh"

mkdir -p "$ROOT/tests/artifacts/www"
node --test --test-concurrency=1 "$HERE"/*.test.mjs
