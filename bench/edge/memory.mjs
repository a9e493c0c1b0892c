// Edge part "memory": what an isolate holds after many distinct tokens. For tokengate
// (build/), jose+KV and passthrough (the floor), one after the other, each in a fresh
// Miniflare: the resident memory of its workerd process right after boot, then N
// requests each with a different valid ES256 token (BENCH_EDGE_MEMORY_N, 10000; 2000 in
// smoke mode; sent by autocannon, 16 connections), then the resident memory again.
// tokengate keeps verified tokens (a bounded cache, 4096 entries), jose keeps nothing.
//
// RSS is that of the whole workerd process (/proc/<pid>/status VmRSS; VmHWM is its peak):
// the isolate plus workerd itself and Miniflare's small service Workers in the same
// process, so an upper bound of the isolate's memory, to hold against the 128 MB a
// Workers isolate may use. The delta is the part the requests added (garbage that V8
// has not collected yet included). Under Miniflare the workerd process grows with
// every request whatever the Worker does (a Worker that answers "ok" without a fetch
// too, by some 15 KB a request when tried on the 2-core machine, 2026-12-02), so the
// passthrough's delta is the floor and the delta over it is the authorizer's part.

import { signTokens } from "../lib/keys.mjs";
import { log } from "../lib/proc.mjs";
import { memory } from "../lib/cpu.mjs";
import { bootWorker, getJson, load } from "./harness.mjs";

export const WORKERS_MEMORY_LIMIT_MB = 128;
const MB = 1e6;

export async function memoryPart({ smoke, compatDate, now, esKey, workers }) {
  const n = smoke ? 2000 : Number(process.env.BENCH_EDGE_MEMORY_N ?? 10000);
  const connections = 16;
  const t0 = performance.now();
  // A few spare tokens: autocannon may start a request or two beyond `amount`.
  const tokens = signTokens(esKey, n + 2 * connections, now, 2_000_000);
  log(`edge: memory: signed ${tokens.length} ES256 tokens in ${(performance.now() - t0).toFixed(0)} ms`);
  const results = [];
  for (const w of workers) {
    const { mf, url, pid } = await bootWorker({ name: `${w.id}-memory`, dir: w.dir, modules: w.modules, bindings: w.bindings, compatDate });
    try {
      const before = memory(pid);
      let next = 0;
      const requests = [
        {
          method: "GET",
          path: "/api/data",
          setupRequest: (req) => {
            req.headers = { authorization: `Bearer ${tokens[next++]}` };
            return req;
          },
        },
      ];
      const { res } = await load(url, { connections, amount: n, requests });
      const after = memory(pid);
      const stats = await getJson(`${url}/__bench/stats`);
      if (next > tokens.length) throw new Error(`${w.label}: ${next} requests sent, only ${tokens.length} distinct tokens`);
      if (res["2xx"] < n || res.non2xx || res.errors || res.timeouts) {
        throw new Error(`${w.label}: ${res["2xx"]} of ${n} requests answered 2xx (non-2xx ${res.non2xx}, errors ${res.errors}, timeouts ${res.timeouts})`);
      }
      const r = {
        worker: w.id,
        label: w.label,
        requests: stats.requests,
        distinctTokens: next,
        rssBeforeMB: before.rss / MB,
        rssAfterMB: after.rss / MB,
        rssDeltaMB: (after.rss - before.rss) / MB,
        peakRssMB: after.hwm / MB,
      };
      results.push(r);
      log(
        `edge: memory ${w.label}: RSS ${r.rssBeforeMB.toFixed(1)} -> ${r.rssAfterMB.toFixed(1)} MB ` +
          `(+${r.rssDeltaMB.toFixed(1)}, peak ${r.peakRssMB.toFixed(1)}) after ${r.requests} requests`,
      );
    } finally {
      await mf.dispose().catch(() => {});
    }
  }
  // What the authorizer itself added: its delta less the passthrough's (the floor's
  // growth: connections, request buffers, garbage of the request path).
  const floor = results.find((r) => r.worker === "passthrough");
  for (const r of results) r.deltaOverPassthroughMB = floor && r !== floor ? r.rssDeltaMB - floor.rssDeltaMB : null;
  return {
    n,
    alg: "ES256",
    connections,
    unit: "MB (10^6 bytes)",
    limitMB: WORKERS_MEMORY_LIMIT_MB,
    notes:
      "RSS (VmRSS; peak = VmHWM) of the whole workerd process: the isolate plus workerd and Miniflare's service " +
      "Workers, an upper bound of the isolate's memory; before = right after boot, after = after n requests, each " +
      "with a distinct valid ES256 token; a fresh Miniflare per Worker",
    results,
  };
}
