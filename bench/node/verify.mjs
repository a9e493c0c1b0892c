// One library x one algorithm, in its own process (so that one library's garbage and
// JIT state do not land in another's timings). Reads the keys and pre-signed tokens
// from the file the orchestrator wrote, then:
//
//   1. correctness: every token must verify, and a token with a flipped signature
//      byte must not (a library that fails this is reported, not timed);
//   2. cold: each call verifies a token never seen before (warm-up tokens first, then
//      the measured ones), one sample per call;
//   3. warm: the same token again and again.
//
// Prints one JSON line: { lib, alg, cold: {n, median, p99, ...}, warm: {...} } in
// microseconds, or { lib, alg, error }.
//
//   node bench/node/verify.mjs <tokens.json> <lib> <alg> <warmupN>

import { readFileSync } from "node:fs";
import { LIBS } from "./libs.mjs";
import { summarize } from "../lib/stats.mjs";

const [file, libName, alg, warmupArg] = process.argv.slice(2);
const data = JSON.parse(readFileSync(file, "utf8"));
const set = data.algs[alg];
const warmupN = Number(warmupArg ?? 50);

function out(obj) {
  process.stdout.write(JSON.stringify({ lib: libName, alg, ...obj }) + "\n");
}

function tamper(token) {
  const [h, p, s] = token.split(".");
  const sig = Buffer.from(s, "base64url");
  sig[Math.floor(sig.length / 2)] ^= 0x01;
  return `${h}.${p}.${sig.toString("base64url")}`;
}

async function call(verify, token) {
  const r = verify(token);
  return r && typeof r.then === "function" ? await r : r;
}

async function main() {
  const lib = LIBS[libName];
  if (!lib) throw new Error(`unknown library ${libName}`);
  let v;
  try {
    v = await lib.setup({ alg, jwks: set.jwks, key: set.key, now: data.now });
  } catch (e) {
    return out({ error: `setup: ${e.message}` });
  }
  const { verify, ok } = v;

  /** One timed call per token `tokenAt(i)`, i < n: { us: durations, rejected: count }. */
  async function sample(n, tokenAt) {
    const us = new Float64Array(n);
    let rejected = 0;
    for (let i = 0; i < n; i++) {
      const t = tokenAt(i);
      const t0 = process.hrtime.bigint();
      const r = verify(t);
      const res = r && typeof r.then === "function" ? await r : r;
      const t1 = process.hrtime.bigint();
      us[i] = Number(t1 - t0) / 1e3;
      if (!ok(res)) rejected++;
    }
    return { us, rejected };
  }

  // 1. Correctness (also loads keys and warms the first code paths).
  try {
    const r = await call(verify, set.warm);
    if (!ok(r)) return out({ error: `rejected a valid token: ${JSON.stringify(r?.error ?? r)}` });
  } catch (e) {
    return out({ error: `rejected a valid token: ${e.message}` });
  }
  let forged = false;
  try {
    forged = ok(await call(verify, tamper(set.warmup[0])));
  } catch {
    forged = false;
  }
  if (forged) return out({ error: "accepted a token with a bad signature" });

  // 2. Cold: warm-up tokens, then one sample per measured token.
  const warm = set.warmup.slice(0, warmupN);
  for (const t of warm) {
    if (!ok(await call(verify, t))) return out({ error: "rejected a warm-up token" });
  }
  const cold = await sample(set.cold.length, (i) => set.cold[i]);
  if (cold.rejected) return out({ error: `rejected ${cold.rejected} valid cold tokens` });

  // 3. Warm: the same token.
  const token = set.warm;
  for (let i = 0; i < Math.min(200, set.warmN); i++) await call(verify, token);
  const warmS = await sample(set.warmN, () => token);
  if (warmS.rejected) return out({ error: `rejected the warm token ${warmS.rejected} times` });

  out({ cold: summarize(cold.us), warm: summarize(warmS.us) });
}

main().catch((e) => {
  out({ error: e.stack || String(e) });
  process.exitCode = 1;
});
