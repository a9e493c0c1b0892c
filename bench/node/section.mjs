// Node section: tokengate vs jose vs jsonwebtoken vs fast-jwt, per algorithm, cold (a
// different pre-signed token every call) and warm (the same token), median and p99
// per verify, and the ratio to jose.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeKey, jwksOf, signToken, signTokens, exportKey } from "../lib/keys.mjs";
import { run, lastJson, log } from "../lib/proc.mjs";

export const NODE_LIBS = ["tokengate", "tokengate-webcrypto", "jose", "jsonwebtoken", "fast-jwt", "fast-jwt+cache"];
export const NODE_ALGS = ["RS256", "ES256", "EdDSA"];

export async function nodeSection({ smoke, workDir }) {
  const coldN = smoke ? 20 : Number(process.env.BENCH_NODE_COLD_N ?? 2000);
  const warmN = smoke ? 50 : Number(process.env.BENCH_NODE_WARM_N ?? 10000);
  const warmupN = smoke ? 5 : 200;
  const now = Math.floor(Date.now() / 1000);

  const data = { now, algs: {} };
  for (const alg of NODE_ALGS) {
    const t0 = performance.now();
    const key = makeKey(alg);
    // One decoy key in the set, as real JWKS usually hold two or more.
    const decoy = makeKey(alg);
    const all = signTokens(key, warmupN + coldN + 1, now);
    data.algs[alg] = {
      key: exportKey(key),
      jwks: jwksOf([decoy, key]),
      warmup: all.slice(0, warmupN),
      cold: all.slice(warmupN, warmupN + coldN),
      warm: signToken(key, { i: 1_000_000, now }),
      warmN,
    };
    log(`node: signed ${all.length + 1} ${alg} tokens in ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const file = path.join(workDir, "node-tokens.json");
  writeFileSync(file, JSON.stringify(data));

  const script = path.join(import.meta.dirname, "verify.mjs");
  const results = [];
  for (const alg of NODE_ALGS) {
    for (const lib of NODE_LIBS) {
      const r = await run(process.execPath, [script, file, lib, alg, String(warmupN)], { timeoutMs: 600_000 });
      const j = lastJson(r.stdout) ?? { lib, alg, error: `exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
      if (j.error) log(`node: ${lib} ${alg}: ${j.error.split("\n")[0]}`);
      else log(`node: ${lib.padEnd(14)} ${alg.padEnd(6)} cold median ${j.cold.median.toFixed(1)} us, warm median ${j.warm.median.toFixed(2)} us`);
      results.push(j);
    }
  }
  // Ratios to jose (same alg, same mode; median and p99).
  for (const r of results) {
    if (r.error) continue;
    const jose = results.find((x) => x.lib === "jose" && x.alg === r.alg && !x.error);
    if (!jose) continue;
    r.ratioToJose = {
      cold: { median: r.cold.median / jose.cold.median, p99: r.cold.p99 / jose.cold.p99 },
      warm: { median: r.warm.median / jose.warm.median, p99: r.warm.p99 / jose.warm.p99 },
    };
  }
  return {
    node: process.version,
    unit: "us per verify",
    coldN,
    warmN,
    warmupN,
    notes:
      "each library in its own process; keys imported before timing; issuer, audience and alg checked; clock fixed; " +
      "cold = a different pre-signed token per call, warm = the same token again",
    results,
  };
}
