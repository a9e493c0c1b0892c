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
//
// The isolate itself is measured too, through workerd's V8 inspector (inspector.mjs:
// the target core:user:<name> of the Worker), before and after the N requests: the JS
// heap in use after a full GC, the ArrayBuffer stores outside it and the size of the
// Worker's wasm memory (which never shrinks: the peak of what the wasm allocated). Their
// sum is the figure to hold against the 128 MB limit; the RSS figures stay as the upper
// bound they are. "before" is read after one request (GET /__bench/stats), so that the
// isolate and its wasm instance exist.

import { signTokens } from "../lib/keys.mjs";
import { log } from "../lib/proc.mjs";
import { memory } from "../lib/cpu.mjs";
import { bootWorker, getJson, load } from "./harness.mjs";
import { connectIsolate, freePort, isolateMemory } from "./inspector.mjs";

export const WORKERS_MEMORY_LIMIT_MB = 128;
const MB = 1e6;

/** An isolateMemory() reading in MB. */
function mbOf(m) {
  const out = {};
  for (const [k, v] of Object.entries(m)) out[k] = k === "wasmMemories" || v == null ? v : v / MB;
  return out;
}

export const fmtIso = (m) =>
  `${m.isolate.toFixed(1)} MB (heap ${m.heapUsed.toFixed(1)} [${m.heapUsedBeforeGc.toFixed(1)} before GC], wasm ${m.wasmMemory.toFixed(1)}, buffers ${(m.backingStore ?? 0).toFixed(1)})`;

export async function memoryPart({ smoke, compatDate, now, esKey, workers }) {
  const n = smoke ? 2000 : Number(process.env.BENCH_EDGE_MEMORY_N ?? 10000);
  const connections = 16;
  const t0 = performance.now();
  // A few spare tokens: autocannon may start a request or two beyond `amount`.
  const tokens = signTokens(esKey, n + 2 * connections, now, 2_000_000);
  log(`edge: memory: signed ${tokens.length} ES256 tokens in ${(performance.now() - t0).toFixed(0)} ms`);
  const results = [];
  for (const w of workers) {
    const name = `${w.id}-memory`;
    const inspectorPort = await freePort();
    const { mf, url, pid } = await bootWorker({ name, dir: w.dir, modules: w.modules, bindings: w.bindings, compatDate, inspectorPort });
    let insp = null;
    try {
      insp = await connectIsolate(inspectorPort, name);
      // One request first, so that the isolate (and a wasm module's instance) exists.
      await getJson(`${url}/__bench/stats`);
      const isoBefore = await isolateMemory(insp);
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
      const isoAfter = await isolateMemory(insp);
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
        isolate: { before: mbOf(isoBefore), after: mbOf(isoAfter) },
      };
      results.push(r);
      log(
        `edge: memory ${w.label}: RSS ${r.rssBeforeMB.toFixed(1)} -> ${r.rssAfterMB.toFixed(1)} MB ` +
          `(+${r.rssDeltaMB.toFixed(1)}, peak ${r.peakRssMB.toFixed(1)}) after ${r.requests} requests; isolate ` +
          `${fmtIso(r.isolate.before)} -> ${fmtIso(r.isolate.after)}`,
      );
    } finally {
      insp?.close();
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
      "with a distinct valid ES256 token; a fresh Miniflare per Worker. isolate: the Worker's own V8 isolate through " +
      "workerd's inspector (target core:user:<name>), after the GC that Runtime.queryObjects runs: heapUsed (JS heap, " +
      "live) + backingStore (ArrayBuffer stores) + wasmMemory (byteLength of the live WebAssembly.Memory objects; " +
      "never shrinks); heapUsedBeforeGc as found",
    results,
  };
}
