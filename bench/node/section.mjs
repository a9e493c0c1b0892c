// Node section: tokengate vs jose vs jsonwebtoken vs fast-jwt, per algorithm, cold (a
// different pre-signed token every call) and warm (the same token), median and p99
// per verify, and the ratio to jose. Then tokengate's and jose's cold RS256 and ES256
// again, for BENCH_NODE_RUNS consecutive runs in all (5; 1 in smoke mode; run 1 is the
// comparison above), since issue 13's Node targets hold "in each of 5 consecutive
// runs": every run's medians and ratio.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeKey, jwksOf, signToken, signTokens, exportKey } from "../lib/keys.mjs";
import { run, lastJson, log } from "../lib/proc.mjs";

export const NODE_LIBS = ["tokengate", "tokengate-webcrypto", "jose", "jsonwebtoken", "fast-jwt", "fast-jwt+cache"];
export const NODE_ALGS = ["RS256", "ES256", "EdDSA"];
/** The algorithms and libraries of the repeated cold runs. */
export const RUNS_ALGS = ["RS256", "ES256"];
const RUNS_LIBS = ["tokengate", "jose"];

export async function nodeSection({ smoke, workDir }) {
  const runsN = smoke ? 1 : Number(process.env.BENCH_NODE_RUNS ?? 5);
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
  /** One library x algorithm in a fresh process: its JSON line, or { lib, alg, error }. */
  const measure = async (lib, alg) => {
    const r = await run(process.execPath, [script, file, lib, alg, String(warmupN)], { timeoutMs: 600_000 });
    const j = lastJson(r.stdout) ?? { lib, alg, error: `exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
    if (j.error) log(`node: ${lib} ${alg}: ${j.error.split("\n")[0]}`);
    else log(`node: ${lib.padEnd(14)} ${alg.padEnd(6)} cold median ${j.cold.median.toFixed(1)} us, warm median ${j.warm.median.toFixed(2)} us`);
    return j;
  };
  const results = [];
  for (const alg of NODE_ALGS) {
    for (const lib of NODE_LIBS) results.push(await measure(lib, alg));
  }

  // The consecutive cold runs: run 1 is the comparison above, the others repeat
  // tokengate and jose (each again in a fresh process, on the same tokens).
  const failures = [];
  const runs = [];
  for (let k = 1; k <= runsN; k++) {
    const entry = { run: k };
    for (const alg of RUNS_ALGS) {
      const got = {};
      for (const lib of RUNS_LIBS) {
        got[lib] = k === 1 ? results.find((x) => x.lib === lib && x.alg === alg) : await measure(lib, alg);
      }
      const bad = RUNS_LIBS.find((lib) => !got[lib] || got[lib].error);
      if (bad) {
        entry[alg] = { error: `${bad}: ${got[bad]?.error?.split("\n")[0] ?? "not measured"}` };
        failures.push(`run ${k} ${alg} ${entry[alg].error}`);
        continue;
      }
      const tg = got.tokengate.cold.median;
      const jose = got.jose.cold.median;
      entry[alg] = { tokengate: tg, jose, ratio: tg / jose };
    }
    runs.push(entry);
    log(`node: cold run ${k}/${runsN}: ${RUNS_ALGS.map((a) => (entry[a].error ? `${a} failed` : `${a} ${entry[a].ratio.toFixed(3)}x jose`)).join(", ")}`);
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
      "cold = a different pre-signed token per call, warm = the same token again; " +
      "runs = tokengate's and jose's cold medians in consecutive runs (run 1 = results), each in fresh processes",
    results,
    runsN,
    runs,
    failures,
  };
}
