// A V8 CPU profile of the built Worker (build/) in workerd under load: where a request's
// CPU goes, by function (self time), for the public route, 100 reused RS256 tokens or a
// new ES256 token per request. Not part of `make bench`; a tool for the cost work of
// issue 13 (its findings are in the README's Performance section).
//
//   node bench/edge/profile.mjs [public|pool|unique] [seconds] [out.cpuprofile]
//
// Run from the repository root after `make worker` and `npm ci` in bench/ (scripts/bench.sh
// does that), with the pinned Node (`. scripts/env.sh`). The Worker is booted in its own
// Miniflare with workerd's inspector (bench/edge/inspector.mjs), warmed up for 3 s, then
// profiled (Profiler domain, 50 µs sampling) while autocannon loads it. The table is the
// self time per function in µs per request (sampling inflates every figure about
// twofold; compare shares, not absolute values); the .cpuprofile opens in Chrome's
// DevTools. For Rust function names build without stripping them: `cd crates/worker &&
// worker-build --release`, then pass that build/ as BENCH_PROFILE_BUILD.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeKey, jwksOf, signTokens } from "../lib/keys.mjs";
import { bootWorker, compatibilityDate, load, moduleGraph, scenarios, startOrigin, tokengateConfig } from "./harness.mjs";
import { connectIsolate, freePort } from "./inspector.mjs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const [scenario = "pool", seconds = "6", out] = process.argv.slice(2);
if (!["public", "pool", "unique"].includes(scenario)) throw new Error(`unknown scenario ${scenario}`);
const buildDir = path.resolve(process.env.BENCH_PROFILE_BUILD ?? path.join(ROOT, "build"));
const work = path.join(ROOT, "bench/.work/profile");
mkdirSync(work, { recursive: true });

const now = Math.floor(Date.now() / 1000);
const rsKey = makeKey("RS256");
const esKey = makeKey("ES256");
const jwksFile = path.join(work, "jwks.json");
writeFileSync(jwksFile, JSON.stringify(jwksOf([rsKey, esKey])));
const poolTokens = signTokens(rsKey, 100, now);
const uniqueTokens = scenario === "unique" ? signTokens(esKey, 20000, now, 1_000_000) : [];
const origin = await startOrigin(jwksFile);
const originUrl = `http://127.0.0.1:${origin.port}`;
const config = tokengateConfig(originUrl, process.env.BENCH_EDGE_TOKENGATE_LOG ?? "denials");
const inspectorPort = await freePort();
const w = await bootWorker({
  name: "tokengate",
  dir: buildDir,
  modules: moduleGraph(buildDir, "index.js"),
  bindings: { TOKENGATE_CONFIG: JSON.stringify(config) },
  compatDate: compatibilityDate(ROOT),
  inspectorPort,
});
const requests = scenarios({ poolTokens, uniqueTokens })
  .find((s) => s.id === scenario)
  .requests();
try {
  await load(w.url, { connections: 8, duration: 3, requests });
  const insp = await connectIsolate(inspectorPort, "tokengate");
  await insp.send("Profiler.enable");
  await insp.send("Profiler.setSamplingInterval", { interval: 50 });
  await insp.send("Profiler.start");
  const { res } = await load(w.url, { connections: 8, duration: Number(seconds), requests });
  const { profile } = await insp.send("Profiler.stop");
  insp.close();
  if (res.non2xx || res.errors) throw new Error(`${res.non2xx} non-2xx answers, ${res.errors} errors under load`);
  if (out) writeFileSync(out, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const perFunction = new Map();
  let busy = 0;
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame;
    if (f.functionName === "(idle)") continue;
    busy += us;
    const name = `${f.functionName || "(anonymous)"} ${path.basename(f.url)}:${f.lineNumber}:${f.columnNumber}`;
    perFunction.set(name, (perFunction.get(name) ?? 0) + us);
  }
  const n = res.requests.total;
  console.log(`${scenario}: ${n} requests in ${seconds} s; sampled busy time ${(busy / n).toFixed(1)} µs per request`);
  for (const [name, us] of [...perFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(us / n).toFixed(1).padStart(8)} µs ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
  }
} finally {
  await w.mf.dispose().catch(() => {});
  origin.stop();
}
