// Edge part "npm": the npm package in workerd against jose in workerd, cold and warm,
// per verification. Two plain-JS Workers, each in its own Miniflare: workers/
// npm-tokengate.mjs (pkg/workerd.mjs and its modules, tokengate_bg.wasm as a
// CompiledWasm module, the module list read off the imports) and its twin
// workers/npm-jose.mjs (bundled with esbuild), both configured as in the Node benchmark
// (inline JWKS, one algorithm, fixed clock). Each request verifies a list of tokens in
// a loop inside the Worker (workers/verify-loop.mjs):
//
//   cold  BENCH_EDGE_NPM_COLD_N (500; 50 in smoke mode) distinct tokens the isolate has
//         never seen, per algorithm (RS256, ES256) and round;
//   warm  the same token BENCH_EDGE_NPM_WARM_N times (5000; 100 in smoke mode).
//
// The cost is the CPU time of the Worker's workerd process (/proc, per-thread
// schedstat, in ns) across the request, minus that of the same request with the loop
// not verifying (the fixed cost: HTTP, parsing the JSON body of tokens; median of
// three such requests), divided by the verifications. Date.now() does not advance within a request in workerd, so the
// process's CPU time is the clock. After a warm-up request per Worker, algorithm and
// mode, BENCH_EDGE_NPM_ROUNDS (5; 1 in smoke mode) rounds, the Workers' order
// alternating; median over the rounds.

import { copyFileSync, cpSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ISSUER, AUDIENCE, jwksOf, signToken, signTokens } from "../lib/keys.mjs";
import { summarize } from "../lib/stats.mjs";
import { log } from "../lib/proc.mjs";
import { cpuNs } from "../lib/cpu.mjs";
import { bootWorker, bundleWorker, moduleGraph } from "./harness.mjs";

const ALGS = ["RS256", "ES256"];

function tamper(token) {
  const [h, p, s] = token.split(".");
  const sig = Buffer.from(s, "base64url");
  sig[Math.floor(sig.length / 2)] ^= 0x01;
  return `${h}.${p}.${sig.toString("base64url")}`;
}

/** POSTs one loop; { ok, n, ns: workerd CPU ns across the request }. */
async function loop(w, body) {
  const c0 = cpuNs(w.pid);
  const res = await fetch(`${w.url}/__bench/verify`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.text();
  const ns = cpuNs(w.pid) - c0;
  if (res.status !== 200) throw new Error(`${w.label}: /__bench/verify answered ${res.status}: ${text.slice(0, 200)}`);
  return { ...JSON.parse(text), ns };
}

/**
 * Net CPU µs per verification of `tokens` x `repeat`, all of which must verify. The
 * fixed cost is the median of three requests that do not verify (one alone can catch
 * a garbage collection left over from the previous loop, several milliseconds).
 */
async function measure(w, alg, tokens, repeat) {
  const empty = [];
  for (let i = 0; i < 3; i++) empty.push((await loop(w, { alg, tokens, repeat, verify: false })).ns);
  const fixedNs = summarize(empty).median;
  const full = await loop(w, { alg, tokens, repeat, verify: true });
  if (full.ok !== full.n || full.n !== tokens.length * repeat) {
    throw new Error(`${w.label} ${alg}: ${full.ok} of ${full.n} verifications succeeded (expected ${tokens.length * repeat})`);
  }
  return { usPerVerify: (full.ns - fixedNs) / 1e3 / full.n, rawUsPerVerify: full.ns / 1e3 / full.n, fixedUs: fixedNs / 1e3 };
}

export async function npmWorkerdPart({ smoke, root, dir, pkgDir, compatDate, now, rsKey, esKey }) {
  const coldN = smoke ? 50 : Number(process.env.BENCH_EDGE_NPM_COLD_N ?? 500);
  const warmN = smoke ? 100 : Number(process.env.BENCH_EDGE_NPM_WARM_N ?? 5000);
  const rounds = smoke ? 1 : Number(process.env.BENCH_EDGE_NPM_ROUNDS ?? 5);
  const warmupN = smoke ? 10 : 50;

  // Tokens: per algorithm a warm-up list, one distinct list per round, the warm token.
  const keys = { RS256: rsKey, ES256: esKey };
  const tokens = {};
  for (const alg of ALGS) {
    const t0 = performance.now();
    const all = signTokens(keys[alg], warmupN + rounds * coldN, now, 3_000_000);
    tokens[alg] = {
      warmup: all.slice(0, warmupN),
      cold: Array.from({ length: rounds }, (_, r) => all.slice(warmupN + r * coldN, warmupN + (r + 1) * coldN)),
      warm: signToken(keys[alg], { i: 4_000_000, now }),
    };
    log(`edge: npm: signed ${all.length + 1} ${alg} tokens in ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const bindings = { ISSUER, AUDIENCE, NOW: String(now), JWKS: JSON.stringify(jwksOf([rsKey, esKey])) };

  // The tokengate Worker: the handler, the shared loop, a copy of pkg/ in ./tokengate/.
  const tgDir = path.join(dir, "npm-tokengate");
  mkdirSync(tgDir, { recursive: true });
  copyFileSync(path.join(import.meta.dirname, "workers/npm-tokengate.mjs"), path.join(tgDir, "worker.mjs"));
  copyFileSync(path.join(import.meta.dirname, "workers/verify-loop.mjs"), path.join(tgDir, "verify-loop.mjs"));
  cpSync(pkgDir, path.join(tgDir, "tokengate"), { recursive: true });
  const joseDir = path.join(dir, "npm-jose");
  mkdirSync(joseDir, { recursive: true });
  await bundleWorker(root, path.join(import.meta.dirname, "workers/npm-jose.mjs"), path.join(joseDir, "worker.mjs"));
  const defs = [
    { id: "tokengate", label: "tokengate (npm)", dir: tgDir, modules: moduleGraph(tgDir, "worker.mjs") },
    { id: "jose", label: "jose", dir: joseDir, modules: moduleGraph(joseDir, "worker.mjs") },
  ];

  const running = [];
  const samples = new Map();
  try {
    for (const d of defs) {
      const { mf, url, pid } = await bootWorker({ name: `npm-${d.id}`, dir: d.dir, modules: d.modules, bindings, compatDate });
      running.push({ ...d, mf, url, pid });
    }
    // Correctness and warm-up: a forged token fails, every warm-up token verifies.
    for (const w of running) {
      for (const alg of ALGS) {
        const t = tokens[alg];
        const forged = await loop(w, { alg, tokens: [tamper(t.warm)], repeat: 1 });
        if (forged.ok !== 0) throw new Error(`${w.label} ${alg}: accepted a token with a bad signature`);
        await measure(w, alg, t.warmup, 1);
        await measure(w, alg, [t.warm], Math.min(200, warmN));
      }
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? running : [...running].reverse();
      for (const alg of ALGS) {
        for (const mode of ["cold", "warm"]) {
          for (const w of order) {
            const m = mode === "cold" ? await measure(w, alg, tokens[alg].cold[r], 1) : await measure(w, alg, [tokens[alg].warm], warmN);
            const key = `${w.id}/${alg}/${mode}`;
            if (!samples.has(key)) samples.set(key, []);
            samples.get(key).push(m);
            log(`edge: npm round ${r + 1}/${rounds} ${w.label.padEnd(15)} ${alg} ${mode}: ${m.usPerVerify.toFixed(2)} us/verify (raw ${m.rawUsPerVerify.toFixed(2)}, fixed ${m.fixedUs.toFixed(0)} us)`);
          }
        }
      }
    }
  } finally {
    for (const w of running) await w.mf.dispose().catch(() => {});
  }

  const results = [];
  for (const d of defs) {
    for (const alg of ALGS) {
      const r = { lib: d.id, label: d.label, alg };
      for (const mode of ["cold", "warm"]) {
        const s = samples.get(`${d.id}/${alg}/${mode}`);
        r[mode] = {
          verifications: mode === "cold" ? coldN : warmN,
          usPerVerify: summarize(s.map((x) => x.usPerVerify)).median,
          rawUsPerVerify: summarize(s.map((x) => x.rawUsPerVerify)).median,
          fixedUsPerRequest: summarize(s.map((x) => x.fixedUs)).median,
          rounds: s.map((x) => x.usPerVerify),
        };
      }
      results.push(r);
    }
  }
  for (const r of results) {
    const jose = results.find((x) => x.lib === "jose" && x.alg === r.alg);
    r.ratioToJose = { cold: r.cold.usPerVerify / jose.cold.usPerVerify, warm: r.warm.usPerVerify / jose.warm.usPerVerify };
  }
  return {
    coldN,
    warmN,
    rounds,
    unit: "us of workerd CPU per verify",
    notes:
      "each Worker in its own workerd; CPU = sum of the workerd threads' schedstat run time across one request, " +
      "minus the same request with the loop not verifying (HTTP + JSON body), divided by the verifications; " +
      "cold = distinct never-seen tokens, warm = one token repeated; median over rounds",
    results,
  };
}
