// Native section: runs the criterion benchmarks of the Rust core (bench/rust/run.sh)
// and collects criterion's estimates (nanoseconds per iteration).

import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { run, log } from "../lib/proc.mjs";

/** The benchmark ids of benches/core/bench.rs, in table order, with a description. */
export const RUST_BENCHES = [
  ["parse/jws", "split + base64url + JSON header (no duplicate keys)"],
  ["parse/peek", "parse + claims JSON + issuer lookup"],
  ["verify/RS256", "key select + signature + claims (pre-parsed token)"],
  ["verify/PS256", "key select + signature + claims"],
  ["verify/ES256", "key select + signature + claims"],
  ["verify/ES384", "key select + signature + claims"],
  ["verify/EdDSA", "key select + signature + claims"],
  ["claims/validate_classify", "time/iss/aud checks + machine/user classification"],
  ["token_cache/hit", "Gate::verify of a cached token (SHA-256 + lookup + time checks)"],
  ["token_cache/decide_hit", "route + peek + cache hit + policy (warm edge path)"],
  ["token_cache/insert_evict", "insert into a full 1024-entry cache"],
  ["policy/route_match", "20 routes, match at index 19"],
  ["policy/route_and_authorize", "route match + requirement check"],
  ["jwks/parse_2_rsa", "JWKS with 2 RSA-2048 keys"],
  ["jwks/parse_5_mixed", "JWKS with RSA, RSA-PSS, P-256, P-384, Ed25519 keys"],
];

export async function rustSection({ smoke, root, startedAt }) {
  const targetDir = process.env.BENCH_CARGO_TARGET_DIR || path.join(root, "target/bench");
  const r = await run("bash", [path.join(import.meta.dirname, "run.sh"), ...(smoke ? ["--smoke"] : [])], {
    cwd: root,
    env: { ...process.env, BENCH_CARGO_TARGET_DIR: targetDir },
    echo: true,
    prefix: "  [cargo] ",
  });
  if (r.code !== 0) {
    throw new Error(`bench/rust/run.sh failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`);
  }
  const mode = /using .*shim/.test(r.stderr) ? "shim crate (Cargo.toml does not declare the bench yet)" : "cargo bench --bench core";
  const results = [];
  for (const [id, what] of RUST_BENCHES) {
    const f = path.join(targetDir, "criterion", id, "new", "estimates.json");
    if (!existsSync(f) || statSync(f).mtimeMs < startedAt) {
      results.push({ id, what, error: "no estimate from this run" });
      continue;
    }
    const e = JSON.parse(readFileSync(f, "utf8"));
    results.push({
      id,
      what,
      medianNs: e.median.point_estimate,
      meanNs: e.mean.point_estimate,
      meanCi95Ns: [e.mean.confidence_interval.lower_bound, e.mean.confidence_interval.upper_bound],
    });
  }
  const missing = results.filter((x) => x.error).map((x) => x.id);
  if (missing.length) log(`rust: no estimates for ${missing.join(", ")}`);
  return {
    mode,
    profile: {
      opt_level: process.env.CARGO_PROFILE_BENCH_OPT_LEVEL ?? "3",
      lto: process.env.CARGO_PROFILE_BENCH_LTO ?? "false",
      codegen_units: process.env.CARGO_PROFILE_BENCH_CODEGEN_UNITS ?? "16",
    },
    unit: "ns per iteration (criterion median of sample means)",
    buildAndRunSeconds: r.ms / 1000,
    results,
  };
}
