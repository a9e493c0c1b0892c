// Edge section: three Workers in workerd (Miniflare's JS API, 127.0.0.1 only), each under
// the same load from autocannon, with the same local origin and identity provider:
//
//   passthrough  no authentication, forwards to the origin (the floor);
//   tokengate    the real build/ (index.js + index_bg.wasm from scripts/build-worker.sh)
//                with a TOKENGATE_CONFIG whose jwks_uri and origin are the local server,
//                and edge.log "denials" (BENCH_EDGE_TOKENGATE_LOG): like the other two
//                Workers it then logs nothing for the 2xx requests measured here. With
//                the default "all" it writes one console line per request, which local
//                workerd pipes to this process; that costs CPU the baselines do not pay;
//   jose+KV      a plain-JS authorizer with jose and a KV-cached JWKS (baseline).
//
// Every Worker is entered through workers/counting-entry.mjs, which counts KV calls
// and requests. The three run side by side (one workerd each) and are loaded in turn,
// in rounds whose order rotates, so that drifting background load on the machine hits
// them alike; req/s is the median over the rounds, latencies are pooled. The cost of a
// request is also measured as the CPU time (user + system, from /proc) of the Worker's
// own workerd process over the measured rounds, divided by the requests it answered. KV reads per
// request are counted over all measured rounds, after a warm-up run. Scenarios:
//
//   public  GET /health without a token, a public route for both authorizers (their
//           cost before any authentication);
//   pool    each request carries one of 100 RS256 tokens (steady state: many clients,
//           tokens reused, as in production);
//   unique  each request carries an ES256 token the Worker has not seen for at least
//           20000 requests (6000 in smoke mode), more than tokengate's 4096-entry token
//           cache holds, so every request pays a signature check (the worst case).
//
// The load runs are the part "load" of this section; the others, each with fresh
// Workers of its own, are in their own files (BENCH_EDGE_PARTS picks, default all):
//
//   first   first-request.mjs: boot to first answer of tokengate and jose+KV
//   memory  memory.mjs: workerd RSS before and after 10,000 distinct tokens
//   npm     npm-workerd.mjs: the npm package in a JS Worker vs jose, per verify
//   dpop    dpop.mjs: a DPoP request (proof check, Durable Object replay claim) vs a
//           bearer request, CPU per request
//   gateway gateway.mjs: claim rules and headers, revocation (cached and not), a rate
//           limit, each over the same Worker without them, CPU and KV reads per request

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeKey, jwksOf, signTokens, ISSUER, AUDIENCE } from "../lib/keys.mjs";
import { summarize } from "../lib/stats.mjs";
import { log } from "../lib/proc.mjs";
import { cpuSeconds } from "../lib/cpu.mjs";
import { autocannonVersion, bootWorker, bundleWorker, compatibilityDate, entryModules, getJson, load, scenarios, startOrigin, tokengateConfig } from "./harness.mjs";
import { firstRequestPart } from "./first-request.mjs";
import { memoryPart } from "./memory.mjs";
import { npmWorkerdPart } from "./npm-workerd.mjs";
import { dpopPart } from "./dpop.mjs";
import { gatewayPart } from "./gateway.mjs";

export const EDGE_PARTS = ["load", "first", "memory", "npm", "dpop", "gateway"];

function kvReads(stats) {
  let reads = 0;
  let writes = 0;
  for (const c of Object.values(stats.kv)) {
    reads += c.get + c.getWithMetadata;
    writes += c.put + c.delete;
  }
  return { reads, writes };
}

export async function edgeSection({ smoke, root, workDir, buildDir, pkgDir }) {
  const parts = (process.env.BENCH_EDGE_PARTS ?? EDGE_PARTS.join(",")).split(",").filter(Boolean);
  for (const p of parts) if (!EDGE_PARTS.includes(p)) throw new Error(`BENCH_EDGE_PARTS: unknown part ${p} (${EDGE_PARTS.join(", ")})`);
  const compatDate = compatibilityDate(root);
  // tokengate's edge.log; see the header comment.
  const tokengateLog = process.env.BENCH_EDGE_TOKENGATE_LOG ?? "denials";
  const dir = path.join(workDir, "edge");
  mkdirSync(dir, { recursive: true });

  // Keys, JWKS and tokens.
  const now = Math.floor(Date.now() / 1000);
  const rsKey = makeKey("RS256");
  const esKey = makeKey("ES256");
  const jwksFile = path.join(dir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify(jwksOf([rsKey, esKey])));
  const poolTokens = signTokens(rsKey, 100, now);

  // Worker directories: a snapshot of build/ (so a concurrent rebuild cannot change
  // the Worker mid-run), the bundled baseline, the passthrough.
  const tgDir = path.join(dir, "tokengate");
  mkdirSync(tgDir, { recursive: true });
  copyFileSync(path.join(buildDir, "index.js"), path.join(tgDir, "index.js"));
  copyFileSync(path.join(buildDir, "index_bg.wasm"), path.join(tgDir, "index_bg.wasm"));
  const joseDir = path.join(dir, "jose");
  mkdirSync(joseDir, { recursive: true });
  await bundleWorker(root, path.join(import.meta.dirname, "workers/jose-baseline.mjs"), path.join(joseDir, "worker.mjs"));
  const ptDir = path.join(dir, "passthrough");
  mkdirSync(ptDir, { recursive: true });
  copyFileSync(path.join(import.meta.dirname, "workers/passthrough.mjs"), path.join(ptDir, "worker.mjs"));

  // Started last: nothing may fail between here and the try that stops it.
  const origin = await startOrigin(jwksFile);
  const originUrl = `http://127.0.0.1:${origin.port}`;
  log(`edge: origin and JWKS mock on ${originUrl}`);

  const tgConfig = tokengateConfig(originUrl, tokengateLog);
  const workers = [
    {
      id: "passthrough",
      label: "passthrough",
      dir: ptDir,
      modules: entryModules(ptDir, "worker.mjs", []),
      bindings: { ORIGIN_URL: originUrl },
    },
    {
      id: "tokengate",
      label: tokengateLog === "all" ? "tokengate" : `tokengate (edge.log ${tokengateLog})`,
      dir: tgDir,
      modules: entryModules(tgDir, "index.js", [{ type: "CompiledWasm", path: path.join(tgDir, "index_bg.wasm") }]),
      bindings: { TOKENGATE_CONFIG: JSON.stringify(tgConfig) },
    },
    {
      id: "jose-kv",
      label: "jose+KV",
      dir: joseDir,
      modules: entryModules(joseDir, "worker.mjs", []),
      bindings: {
        ORIGIN_URL: originUrl,
        JWKS_URI: `${originUrl}/.well-known/jwks.json?w=jose-kv`,
        ISSUER,
        AUDIENCE,
      },
    },
  ];

  // Each part boots its own Workers and disposes of them; a part that fails is
  // recorded (and named in `failures`, which fails the run) and the others still run.
  const out = { parts, failures: [] };
  const shared = { smoke, root, dir, buildDir, pkgDir, compatDate, now, rsKey, esKey, jwksFile, poolTokens, originUrl, workers, tokengateLog };
  try {
    for (const part of parts) {
      const t1 = performance.now();
      try {
        if (part === "load") Object.assign(out, await loadPart(shared));
        else if (part === "first") out.firstRequest = await firstRequestPart(shared);
        else if (part === "memory") out.memory = await memoryPart(shared);
        else if (part === "npm") out.npmWorkerd = await npmWorkerdPart(shared);
        else if (part === "dpop") out.dpop = await dpopPart(shared);
        else if (part === "gateway") out.gateway = await gatewayPart(shared);
      } catch (e) {
        out.failures.push(`${part}: ${e.message}`);
        out[part === "load" ? "loadError" : `${part}Error`] = e.stack || String(e);
        log(`edge: part ${part} FAILED: ${e.message}`);
      }
      log(`edge: part ${part} done in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    }
  } finally {
    origin.stop();
  }
  return out;
}

/** The load runs (see the header comment): the three Workers side by side under autocannon. */
async function loadPart({ smoke, dir, compatDate, now, esKey, poolTokens, originUrl, workers, tokengateLog }) {
  const duration = smoke ? 1 : Number(process.env.BENCH_EDGE_SECONDS ?? 5);
  const rounds = smoke ? 1 : Number(process.env.BENCH_EDGE_ROUNDS ?? 3);
  const warmup = smoke ? 1 : Number(process.env.BENCH_EDGE_WARMUP_SECONDS ?? 3);
  const connections = smoke ? 4 : Number(process.env.BENCH_EDGE_CONNECTIONS ?? 16);
  // Tokens are sent round-robin per Worker; a token comes back only after uniqueN
  // others, long after tokengate's token cache (4096 entries) has dropped it.
  const uniqueN = smoke ? 6000 : 20000;
  const t0 = performance.now();
  const uniqueTokens = signTokens(esKey, uniqueN, now, 1_000_000);
  log(`edge: signed ${uniqueN} ES256 tokens for the unique scenario in ${(performance.now() - t0).toFixed(0)} ms`);

  const scenarioList = scenarios({ poolTokens, uniqueTokens });

  const results = [];
  const running = [];
  try {
    // Boot all three and check that they do their job.
    for (const w of workers) {
      const t1 = performance.now();
      const { mf, url, pid } = await bootWorker({ name: w.id, dir: w.dir, modules: w.modules, bindings: w.bindings, compatDate });
      running.push({ ...w, mf, url, pid });
      log(`edge: ${w.label} up on ${url} in ${(performance.now() - t1).toFixed(0)} ms`);
      const ok = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${poolTokens[0]}` } });
      await ok.arrayBuffer();
      if (ok.status !== 200) throw new Error(`${w.label}: valid token answered ${ok.status}`);
      if (w.id !== "passthrough" && !ok.headers.get("x-origin-saw-subject")) {
        throw new Error(`${w.label}: the origin saw no identity header`);
      }
      const forged = poolTokens[1].slice(0, -4) + (poolTokens[1].endsWith("AAAA") ? "BBBB" : "AAAA");
      const bad = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${forged}` } });
      await bad.arrayBuffer();
      if (w.id !== "passthrough" && bad.status !== 401) throw new Error(`${w.label}: forged token answered ${bad.status}`);
    }

    for (const sc of scenarioList) {
      const reqs = new Map(running.map((w) => [w.id, sc.requests()]));
      // Warm-up (JIT tiers, caches, keys), one Worker after the other.
      for (const w of running) await load(w.url, { connections, duration: warmup, requests: reqs.get(w.id) });
      const before = new Map();
      for (const w of running) before.set(w.id, await getJson(`${w.url}/__bench/stats`));
      const o0 = await getJson(`${originUrl}/__stats`);
      const perWorker = new Map(running.map((w) => [w.id, { rps: [], lat: [], n2xx: 0, non2xx: 0, errors: 0, timeouts: 0, seconds: 0, cpu: 0, cpuRounds: [] }]));
      for (let round = 0; round < rounds; round++) {
        // Rotate the order: round 0 = a b c, round 1 = b c a, ...
        const order = running.map((_, k) => running[(k + round) % running.length]);
        for (const w of order) {
          const cpu0 = cpuSeconds(w.pid);
          const { res, lat } = await load(w.url, { connections, duration, requests: reqs.get(w.id) });
          const cpu = cpuSeconds(w.pid) - cpu0;
          const acc = perWorker.get(w.id);
          acc.cpu += cpu;
          acc.cpuRounds.push((cpu * 1e6) / Math.max(1, res["2xx"] + res.non2xx));
          acc.rps.push(res["2xx"] / res.duration);
          for (const x of lat) acc.lat.push(x);
          acc.n2xx += res["2xx"];
          acc.non2xx += res.non2xx;
          acc.errors += res.errors;
          acc.timeouts += res.timeouts;
          acc.seconds += res.duration;
          log(`edge: ${sc.id} round ${round + 1}/${rounds} ${w.label.padEnd(11)} ${(res["2xx"] / res.duration).toFixed(0).padStart(6)} req/s`);
        }
      }
      const o1 = await getJson(`${originUrl}/__stats`);
      for (const w of running) {
        const s0 = before.get(w.id);
        const s1 = await getJson(`${w.url}/__bench/stats`);
        const acc = perWorker.get(w.id);
        const kv0 = kvReads(s0);
        const kv1 = kvReads(s1);
        const served = s1.requests - s0.requests;
        const l = summarize(acc.lat);
        const rpsS = summarize(acc.rps);
        const r = {
          worker: w.id,
          label: w.label,
          scenario: sc.id,
          connections,
          rounds,
          seconds: acc.seconds,
          requests: acc.n2xx,
          non2xx: acc.non2xx,
          errors: acc.errors,
          timeouts: acc.timeouts,
          rps: rpsS.median,
          rpsRounds: acc.rps,
          // workerd CPU (user + system, /proc) per request answered, over all rounds.
          cpuUsPerRequest: (acc.cpu * 1e6) / Math.max(1, acc.n2xx + acc.non2xx),
          cpuUsRounds: acc.cpuRounds,
          latencyMs: { p50: l.median, p99: l.p99, mean: l.mean, max: l.max },
          workerRequests: served,
          kvReads: kv1.reads - kv0.reads,
          kvWrites: kv1.writes - kv0.writes,
          kvReadsPerRequest: served ? (kv1.reads - kv0.reads) / served : null,
          kvReadsTotal: kv1.reads,
          kvSinceBoot: s1.kv,
          jwksFetches: (o1.jwksFetchesBy[w.id] ?? 0) - (o0.jwksFetchesBy[w.id] ?? 0),
          jwksFetchesTotal: o1.jwksFetchesBy[w.id] ?? 0,
        };
        if (sc.id === "unique") r.uniqueTokenPool = uniqueN;
        results.push(r);
        log(
          `edge: ${w.label.padEnd(11)} ${sc.id.padEnd(6)} median ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.latencyMs.p50.toFixed(2)} ms  ` +
            `p99 ${r.latencyMs.p99.toFixed(2)} ms  cpu ${r.cpuUsPerRequest.toFixed(0)} us/req  non2xx ${r.non2xx}  KV reads/req ${r.kvReadsPerRequest?.toFixed(4)} ` +
            `(${r.kvReads} in window, ${r.kvReadsTotal} since boot)`,
        );
      }
    }
  } finally {
    for (const w of running) await w.mf.dispose().catch(() => {});
  }

  // Ratios.
  for (const r of results) {
    const pt = results.find((x) => x.worker === "passthrough" && x.scenario === r.scenario);
    const jk = results.find((x) => x.worker === "jose-kv" && x.scenario === r.scenario);
    r.rpsVsPassthrough = pt ? r.rps / pt.rps : null;
    // CPU over passthrough's, and that overhead against the jose Worker's overhead.
    r.cpuOverheadUs = pt ? r.cpuUsPerRequest - pt.cpuUsPerRequest : null;
    // (No ratio when jose's own overhead was not measurable: at or below passthrough.)
    const joseOverhead = pt && jk ? jk.cpuUsPerRequest - pt.cpuUsPerRequest : 0;
    r.cpuOverheadVsJose = joseOverhead > 0 ? r.cpuOverheadUs / joseOverhead : null;
    r.rpsVsJose = jk ? r.rps / jk.rps : null;
  }
  return {
    loadGenerator: `autocannon ${autocannonVersion()} (in-process), ${connections} connections, pipelining 1`,
    tokengateLog,
    warmupSeconds: warmup,
    secondsPerRound: duration,
    rounds,
    notes:
      "workerd via Miniflare on 127.0.0.1; load generator, origin (separate Node process) and workerd share the 2 cores; " +
      "the Workers are loaded in turn in rotating rounds, req/s = median of the rounds, latencies pooled (2xx only); " +
      "KV reads counted by a wrapper around the KV bindings over all measured rounds; " +
      `tokengate runs with edge.log "${tokengateLog}" (the baselines log nothing)`,
    results,
  };
}
