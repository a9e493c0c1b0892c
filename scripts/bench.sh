#!/usr/bin/env bash
# The benchmark suite (`make bench`): prints one table on stdout (progress on stderr) and
# writes bench/results.json (bench/results-smoke.json for a smoke run).
#
#   bash scripts/bench.sh            full run (about 5 min on 2 cores, builds excluded)
#   bash scripts/bench.sh --smoke    tiny iteration counts, well under 2 min once built
#                                    (also BENCH_SMOKE=1); keeps the suite working in CI
#   bash scripts/bench.sh --only node,wasm   some sections: rust, node, wasm, edge
#
# What it does:
#   1. scripts/setup.sh (pinned tools) and `npm ci` in bench/ (jose, jsonwebtoken,
#      fast-jwt, autocannon; bench/package-lock.json);
#   2. builds what is stale: the Worker (scripts/build-worker.sh, which skips itself
#      when up to date) and the npm package (scripts/build-pkg.sh, when pkg/ is missing
#      or older than its sources); BENCH_NO_BUILD=1 uses build/ and pkg/ as they are;
#   3. node bench/run.mjs: criterion benches of the native core (bench/rust/run.sh),
#      the Node comparison, the wasm sizes, upload and start-up, the Worker under load,
#      its first request, its memory, and the npm package in workerd.
#
# Knobs (full mode): BENCH_NODE_COLD_N (2000), BENCH_NODE_WARM_N (10000),
# BENCH_NODE_RUNS (5), BENCH_EDGE_PARTS (load,first,memory,npm,dpop,gateway),
# BENCH_EDGE_SECONDS (5 per round), BENCH_EDGE_ROUNDS (3), BENCH_EDGE_WARMUP_SECONDS (3),
# BENCH_EDGE_CONNECTIONS (16), BENCH_EDGE_FIRST_N (5), BENCH_EDGE_MEMORY_N (10000),
# BENCH_EDGE_NPM_COLD_N (500), BENCH_EDGE_NPM_WARM_N (5000), BENCH_EDGE_NPM_ROUNDS (5),
# BENCH_WASM_N (15), BENCH_CRITERION_SECONDS (3), BENCH_CRITERION_WARMUP (1),
# BENCH_CARGO_TARGET_DIR (target/bench). Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }
t_start=$SECONDS

smoke=0
for a in "$@"; do
  [ "$a" = "--smoke" ] && smoke=1
done
[ "${BENCH_SMOKE:-0}" = 1 ] && smoke=1
if [ "$smoke" = 1 ]; then log "smoke mode: tiny iteration counts"; fi

# Everything before the table goes to stderr, so stdout is the table alone.
bash scripts/setup.sh >&2
# shellcheck source=scripts/env.sh
. scripts/env.sh

# Benchmark dependencies (their own lock file; installed only when it changes).
stamp=bench/node_modules/.tokengate-bench-stamp
want="$(cat bench/package.json bench/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci in bench/ (jose, jsonwebtoken, fast-jwt, autocannon)"
  (cd bench && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$want" > "$stamp"
fi

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  t0=$SECONDS
  bash scripts/build-worker.sh >&2
  bash scripts/build-pkg.sh >&2
  log "builds checked in $((SECONDS - t0)) s"
fi

t0=$SECONDS
status=0
node bench/run.mjs "$@" || status=$?
log "bench/run.mjs took $((SECONDS - t0)) s; scripts/bench.sh took $((SECONDS - t_start)) s in all"
exit "$status"
