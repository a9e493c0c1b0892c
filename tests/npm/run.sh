#!/usr/bin/env bash
# Tests of the npm package, end to end:
#
#   1. scripts/build-pkg.sh (skip with TOKENGATE_SKIP_BUILD=1 to test the current pkg/)
#      and `npm pack` into target/npm/tokengate.tgz;
#   2. npm ci of tests/npm (typescript), then the tarball installed with --no-save;
#   3. node:test suites: the token matrix through `import` (ESM) and `require` (CJS),
#      the browser and worker entry points, the package layout, sender-constrained
#      tokens (DPoP, mTLS, RFC 9728; against tests/idp's oidc-provider), gateway policy
#      (claim rules, delegation rules, revocation), the CLI; on the Node.js of
#      scripts/env.sh and, when it is a different major, on the system `node` too
#      (Node >= 20 is supported);
#   4. tsc --noEmit of a TypeScript consumer (NodeNext ESM + CJS, and bundler
#      resolution);
#   5. a JS Cloudflare Worker bundled by wrangler and run in workerd (Miniflare), and
#      the browser entry in headless Chromium (playwright-core; Debian's chromium is
#      installed by scripts/ensure-chromium.sh when missing);
#   5b. the prebuilt edge authorizer (tokengate/authorizer) as a user gets it: a project
#      written by `tokengate init` from the tarball, npm install, `wrangler dev` against
#      a local issuer and origin, and `wrangler deploy --dry-run`, with no cargo on PATH;
#   6. the Next.js example (examples/nextjs): npm install of the tarball into a copy,
#      next build, next start on 127.0.0.1, real requests against the Node.js route,
#      the edge route and proxy.ts, and a client page using the browser entry (skip
#      with TOKENGATE_SKIP_NEXT=1; TOKENGATE_NEXT_BUNDLERS=turbopack,webpack also runs
#      `next build --webpack`).
#
# Usage: tests/npm/run.sh [--quick]   (--quick: steps 1-4 only)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
export NEXT_TELEMETRY_DISABLED=1

log() { printf '[npm-tests] %s\n' "$*" >&2; }
die() { printf '[npm-tests] ERROR: %s\n' "$*" >&2; exit 1; }

quick=0
[ "${1:-}" = "--quick" ] && quick=1

t0=$SECONDS
if [ -z "${TOKENGATE_SKIP_BUILD:-}" ]; then
  bash "$ROOT/scripts/build-pkg.sh"
fi
[ -f "$ROOT/pkg/package.json" ] || die "pkg/ is not built (scripts/build-pkg.sh)"

# Pack. The tarball is what users install; tests never import pkg/ directly.
mkdir -p "$ROOT/target/npm"
rm -f "$ROOT"/target/npm/tokengate-*.tgz
npm pack "$ROOT/pkg" --pack-destination "$ROOT/target/npm" --loglevel=error >/dev/null
tarball="$(ls "$ROOT"/target/npm/tokengate-*.tgz)"
cp "$tarball" "$ROOT/target/npm/tokengate.tgz"
export TOKENGATE_TARBALL="$ROOT/target/npm/tokengate.tgz"
log "packed $(basename "$tarball") ($(wc -c < "$tarball" | tr -d ' ') bytes)"

cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error "$TOKENGATE_TARBALL"

# dpop.test.mjs imports the test OpenID provider of tests/idp (its own node_modules).
[ -d "$ROOT/tests/idp/node_modules/oidc-provider" ] \
  || die "tests/idp is not installed: bash scripts/setup.sh npm (or npm ci --prefix tests/idp)"
suites=(esm.test.mjs cjs.test.cjs entries.test.mjs webcrypto.test.mjs repeat.test.mjs keystore.test.mjs headers.test.mjs rules.test.mjs protect.test.mjs dpop.test.mjs gateway.test.mjs cli.test.mjs)
log "node $(node --version): ${suites[*]}"
node --test --test-reporter=spec "${suites[@]}"
if command -v /usr/bin/node >/dev/null; then
  sys_major="$(/usr/bin/node -p 'process.versions.node.split(".")[0]')"
  if [ "$sys_major" -ge 20 ] && [ "$sys_major" != "$(node -p 'process.versions.node.split(".")[0]')" ]; then
    log "system node $(/usr/bin/node --version): ${suites[*]}"
    /usr/bin/node --test --test-reporter=spec "${suites[@]}"
  fi
fi

log "tsc --noEmit (NodeNext ESM + CJS, bundler resolution)"
node node_modules/typescript/bin/tsc -p types/tsconfig.json
node node_modules/typescript/bin/tsc -p types/tsconfig.bundler.json

if [ "$quick" = 1 ]; then
  log "quick run done in $((SECONDS - t0)) s"
  exit 0
fi

log "Cloudflare Worker (wrangler bundle + workerd)"
node --test --test-reporter=spec workerd.test.mjs

log "the prebuilt edge authorizer: tokengate init, npm install, wrangler dev and deploy --dry-run without cargo"
node --test --test-reporter=spec authorizer.test.mjs

# Chromium is installed here (as tests/www does) so that the browser test runs rather
# than skips on a fresh machine.
bash "$ROOT/scripts/ensure-chromium.sh"
log "browser entry in headless Chromium"
node --test --test-reporter=spec browser.test.mjs

if [ -z "${TOKENGATE_SKIP_NEXT:-}" ]; then
  log "Next.js example end to end"
  node --test --test-reporter=spec nextjs.test.mjs
fi

log "all npm tests passed in $((SECONDS - t0)) s"
