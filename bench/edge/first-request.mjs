// Edge part "first": the first request on a fresh isolate, tokengate (build/) against
// the jose+KV baseline. Each sample boots a new Miniflare (a new workerd process, empty
// in-memory KV, no keys) for one Worker and sends it one request with a valid RS256
// token, timed from this process (fetch until the body is read). That request includes
// the Worker's first call into its code (for tokengate: into the wasm, whose functions
// V8 compiles lazily), the JWKS fetch from the local origin (checked: the origin counts
// one fetch for that Worker per sample), the key import and the verification. A second
// request with the same token is timed too, for scale. Boot = `new Miniflare` until
// ready (workerd start, module compilation). The two Workers alternate, N samples each
// (BENCH_EDGE_FIRST_N, 5; 1 in smoke mode); medians.

import { bootWorker, getJson } from "./harness.mjs";
import { summarize } from "../lib/stats.mjs";
import { log } from "../lib/proc.mjs";

async function timedGet(url, token) {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status };
}

export async function firstRequestPart({ smoke, compatDate, poolTokens, originUrl, workers }) {
  const n = smoke ? 1 : Number(process.env.BENCH_EDGE_FIRST_N ?? 5);
  const subjects = workers.filter((w) => w.id === "tokengate" || w.id === "jose-kv");
  const samples = new Map(subjects.map((w) => [w.id, []]));
  // Loaded before any timing: the first boot of a process would also time the import.
  await import("miniflare");
  for (let i = 0; i < n; i++) {
    // Alternate who goes first, so that a drift in background load hits both alike.
    const order = i % 2 === 0 ? subjects : [...subjects].reverse();
    for (const w of order) {
      const jwks0 = (await getJson(`${originUrl}/__stats`)).jwksFetchesBy[w.id] ?? 0;
      const t0 = performance.now();
      const { mf, url } = await bootWorker({ name: `${w.id}-first-${i}`, dir: w.dir, modules: w.modules, bindings: w.bindings, compatDate });
      const bootMs = performance.now() - t0;
      try {
        const first = await timedGet(`${url}/api/data`, poolTokens[0]);
        const second = await timedGet(`${url}/api/data`, poolTokens[0]);
        if (first.status !== 200 || second.status !== 200) {
          throw new Error(`${w.label}: valid token answered ${first.status}, then ${second.status}`);
        }
        const jwksFetches = ((await getJson(`${originUrl}/__stats`)).jwksFetchesBy[w.id] ?? 0) - jwks0;
        if (jwksFetches !== 1) throw new Error(`${w.label}: ${jwksFetches} JWKS fetches on a fresh isolate (expected 1)`);
        samples.get(w.id).push({ bootMs, firstMs: first.ms, secondMs: second.ms });
        log(`edge: first request ${w.label}: boot ${bootMs.toFixed(0)} ms, first ${first.ms.toFixed(1)} ms, second ${second.ms.toFixed(2)} ms`);
      } finally {
        await mf.dispose().catch(() => {});
      }
    }
  }
  const results = subjects.map((w) => {
    const s = samples.get(w.id);
    const pick = (k) => summarize(s.map((x) => x[k]));
    return { worker: w.id, label: w.label, boot: pick("bootMs"), first: pick("firstMs"), second: pick("secondMs"), samples: s };
  });
  const tg = results.find((r) => r.worker === "tokengate");
  const jose = results.find((r) => r.worker === "jose-kv");
  return {
    n,
    unit: "ms",
    notes:
      "a fresh Miniflare (own workerd) per sample; one request with a valid RS256 token, timed by the client, " +
      "including the JWKS fetch from the local origin (1 per sample, checked); medians over n samples per Worker",
    results,
    firstVsJose: tg.first.median / jose.first.median,
    bootVsJose: tg.boot.median / jose.boot.median,
  };
}
