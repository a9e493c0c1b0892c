# tokengate: build and test entry points. Tools are pinned and installed by
# scripts/setup.sh (idempotent); scripts/env.sh puts them first on PATH.
#
#   make setup     install pinned tools (first run ~11 min: builds wasm-bindgen-cli
#                  and worker-build from crates.io; later runs ~0.1 s)
#   make test      everything CI runs, stops at the first failure
#   make worker    build the Worker into build/ (release, wasm-opt)
#   make dev       wrangler dev --env demo on http://127.0.0.1:8787 (local KV)
#   make pkg       the npm package into pkg/ (scripts/build-pkg.sh)
#   make www       the decoder page into www/dist/ (scripts/build-www.sh)
#   make bench     benchmarks (scripts/bench.sh; BENCH_SMOKE=1 for a quick pass)
#   make clean     remove build outputs (keeps node_modules and .tools)
#
# Pieces of `make test` can be run alone: fmt-check clippy test-rust wasm-core
# test-worker dry-run test-npm test-www bench-smoke.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := test

# Every recipe line runs with the pinned tools first on PATH.
ENV := . scripts/env.sh &&
WASM := wasm32-unknown-unknown
DRY_RUN_DIR := target/deploy-dry-run
DEV_PORT ?= 8787
# The Worker bundle's gzip budget (index.js + wasm), set from measurement and from issue
# 13's target (200 KiB): 199.0 KiB (203,799 bytes, `wrangler deploy --dry-run`) on
# 2026-12-02, after, in turn: the demo's query stopped going through worker-rs' `Url`
# (319,649 -> 247,504 bytes), P-256/Ed25519 key checks left to the host, KV through the
# binding itself instead of worker-rs' KvStore, HS384/HS512 through WebCrypto, and
# opt-level "z" with a second wasm-opt -Oz pass (scripts/build-worker.sh). Before all
# that the Worker had dropped the core's `rust-crypto` feature (was about 392 KiB). A
# change that grows it past this fails CI.
# Issue 15 (DPoP proofs, the DpopReplay Durable Object, RFC 9728 metadata) grew it to
# 227,436 bytes (222.1 KiB) on 2026-12-03: the core's part 15,745 bytes, the Worker's
# 7,409; issue 13's 200 KiB target is missed by that much until it is won back.
# Issue 16 (claim rules and headers, revocation, rate limits, delegation rules) grew it
# to 248,606 bytes (242.8 KiB) on 2026-12-03: about 17 KB of it the core (the revocation
# path, claim rules, their config schema), about 4 KB the Worker; `twiggy top` shows no
# single large item (the request handler's state machine is the largest, 55 KB raw).
# Issue 13's 200 KiB target is now missed by 42.8 KiB.
WORKER_GZIP_BUDGET_KIB := 250

step = @printf '\n==> %s\n' "$(1)"

.PHONY: setup test fmt-check clippy test-rust wasm-core worker test-worker dry-run \
        test-npm test-www bench-smoke dev pkg www bench clean distclean

setup:
	@bash scripts/setup.sh

test: setup
	@t0=$$SECONDS; \
	$(MAKE) --no-print-directory fmt-check clippy test-rust wasm-core test-worker dry-run \
	  test-npm test-www; \
	printf '\n==> make test: all steps passed in %s s\n' "$$((SECONDS - t0))"

fmt-check:
	$(call step,cargo fmt --check)
	cargo fmt --all -- --check

clippy:
	$(call step,clippy: native$(,) the core and the JS bindings' unit tests$(,) all targets)
	cargo clippy --all-targets -p tokengate -p tokengate-js -- -D warnings
	$(call step,clippy: the core without default features (no rust-crypto: the Worker's build))
	cargo clippy --all-targets -p tokengate --no-default-features -- -D warnings
	$(call step,cargo doc (the core's curated API and the JS bindings; broken or private links fail))
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p tokengate -p tokengate-js
	$(call step,clippy: $(WASM)$(,) the adapter crates (worker$(,) js$(,) webcrypto))
	cargo clippy --target $(WASM) -p tokengate-worker -p tokengate-js -p tokengate-webcrypto --all-targets -- -D warnings

test-rust:
	$(call step,cargo test (native))
	cargo test
	$(call step,cargo test -p tokengate-js (the JS bindings' option translation and kept results$(,) natively))
	cargo test -p tokengate-js --lib
	$(call step,cargo test -p tokengate --no-default-features (no rust-crypto: Rust refuses what the host must check))
	cargo test -p tokengate --no-default-features
	$(call step,Wycheproof counts per file)
	cargo test -q --test wycheproof -- --show-output | grep -E '^(wycheproof |test result)'

wasm-core:
	$(call step,cargo build --target $(WASM) --lib (the core alone))
	cargo build --target $(WASM) --lib -p tokengate

worker:
	$(call step,build the Worker (scripts/build-worker.sh))
	@bash scripts/build-worker.sh

test-worker: setup worker
	$(call step,Worker tests in workerd (node --test tests/worker))
	$(ENV) node --test --test-concurrency=1 'tests/worker/*.test.mjs'

dry-run: worker
	$(call step,wrangler deploy --dry-run (top level and --env demo))
	rm -rf $(DRY_RUN_DIR) $(DRY_RUN_DIR)-demo
	$(ENV) wrangler deploy --dry-run --env="" --outdir $(DRY_RUN_DIR)
	$(ENV) wrangler deploy --dry-run --env demo --outdir $(DRY_RUN_DIR)-demo
	@for f in $(DRY_RUN_DIR)/index.js $(DRY_RUN_DIR)/*.wasm; do \
	  printf '[dry-run] %-60s %8d bytes raw %8d bytes gzip -9\n' "$$f" \
	    "$$(wc -c < "$$f")" "$$(gzip -9 -c "$$f" | wc -c)"; \
	done; \
	total=$$(( $$(gzip -9 -c $(DRY_RUN_DIR)/index.js | wc -c) + $$(gzip -9 -c $(DRY_RUN_DIR)/*.wasm | wc -c) )); \
	printf '[dry-run] bundle gzip -9 (index.js + wasm): %d bytes (%d KiB); budget %d KiB\n' \
	  "$$total" "$$((total / 1024))" "$(WORKER_GZIP_BUDGET_KIB)"; \
	if [ "$$total" -gt "$$(( $(WORKER_GZIP_BUDGET_KIB) * 1024 ))" ]; then \
	  echo "[dry-run] FAIL: the Worker bundle is over its gzip budget" >&2; exit 1; \
	fi

dev: setup
	$(ENV) wrangler dev --env demo --ip 127.0.0.1 --port $(DEV_PORT)

pkg: setup
	$(call step,npm package into pkg/ (scripts/build-pkg.sh))
	@bash scripts/build-pkg.sh

www: setup
	$(call step,decoder page into www/dist/ (scripts/build-www.sh))
	@bash scripts/build-www.sh

test-npm: setup
	$(call step,npm package: Node ESM/CJS$(,) types$(,) Next.js (tests/npm/run.sh))
	@bash tests/npm/run.sh

test-www: setup
	$(call step,decoder page in Chromium (tests/www/run.sh))
	@bash tests/www/run.sh

bench: setup
	@bash scripts/bench.sh

bench-smoke: setup
	$(call step,benchmarks$(,) smoke mode (scripts/bench.sh --smoke))
	@BENCH_SMOKE=1 bash scripts/bench.sh --smoke

clean:
	rm -rf build .wrangler $(DRY_RUN_DIR) $(DRY_RUN_DIR)-demo
	cargo clean

# Also drops node_modules and the repo's tool links (not the shared tool cache in
# ~/.cache/tokengate/tools).
distclean: clean
	rm -rf node_modules .tools

, := ,
