// What the edge measurements share: the local origin, Workers booted in their own
// workerd (Miniflare's JS API, 127.0.0.1 only) with the pid of that workerd, module
// lists for Miniflare, esbuild bundles of the plain-JS Workers, and autocannon runs.
// Used by section.mjs (the load runs) and by the start-up, memory and npm-in-workerd
// parts next to it.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { run, log } from "../lib/proc.mjs";
import { descendants } from "../lib/cpu.mjs";
import { ISSUER, AUDIENCE } from "../lib/keys.mjs";

const require = createRequire(import.meta.url);

export function compatibilityDate(root) {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const m = toml.match(/^compatibility_date\s*=\s*"([0-9-]+)"/m);
  if (!m) throw new Error("no compatibility_date in wrangler.toml");
  return m[1];
}

/** The origin and JWKS mock (origin.mjs) in its own Node process. */
export function startOrigin(jwksFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "origin.mjs"), jwksFile], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let buf = "";
    let stopping = false;
    const stop = () => {
      stopping = true;
      child.kill("SIGTERM");
    };
    child.stdout.on("data", (d) => {
      buf += d;
      const line = buf.split("\n")[0];
      if (buf.includes("\n")) {
        try {
          resolve({ child, port: JSON.parse(line).port, stop });
        } catch (e) {
          reject(e);
        }
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      // Once running, an exit is otherwise silent: every later request just fails.
      if (!stopping) log(`edge: the origin (pid ${child.pid}) exited unexpectedly: code ${code}, signal ${signal}`);
      reject(new Error(`origin exited with ${code ?? signal}`));
    });
  });
}

export async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

/** The load settings of the parts that compare variants (dpop, gateway), from the env. */
export function edgeKnobs(smoke) {
  return {
    duration: smoke ? 1 : Number(process.env.BENCH_EDGE_SECONDS ?? 5),
    rounds: smoke ? 1 : Number(process.env.BENCH_EDGE_ROUNDS ?? 3),
    warmup: smoke ? 1 : Number(process.env.BENCH_EDGE_WARMUP_SECONDS ?? 3),
    connections: smoke ? 4 : Number(process.env.BENCH_EDGE_CONNECTIONS ?? 16),
  };
}

/** Module list for Miniflare: the counting entry first, then the Worker's own modules. */
export function entryModules(dir, innerName, extra) {
  const src = readFileSync(path.join(import.meta.dirname, "workers/counting-entry.mjs"), "utf8").replace(
    /^import inner from "__INNER__";$/m,
    `import inner from ${JSON.stringify(`./${innerName}`)};`,
  );
  return [
    { type: "ESModule", path: path.join(dir, "__bench_entry.mjs"), contents: src },
    { type: "ESModule", path: path.join(dir, innerName) },
    ...extra,
  ];
}

/**
 * The modules `entry` (a file in `dir`) reaches through relative static imports, entry
 * first: ESModule for JS, CompiledWasm for .wasm (what wrangler's bundler makes of a
 * .wasm import). Lists exactly what the Worker loads, so a file missing from a build
 * fails here rather than in workerd.
 */
export function moduleGraph(dir, entry) {
  const seen = new Set();
  const out = [];
  const visit = (rel) => {
    const file = path.join(dir, rel);
    if (seen.has(file)) return;
    seen.add(file);
    if (!existsSync(file)) throw new Error(`module ${rel} (imported in ${dir}) does not exist`);
    if (file.endsWith(".wasm")) {
      out.push({ type: "CompiledWasm", path: file });
      return;
    }
    out.push({ type: "ESModule", path: file });
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:^|[\s;])(?:import|export)\s*(?:[^'"]*?\sfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
      visit(path.relative(dir, path.resolve(path.dirname(file), m[1])));
    }
  };
  visit(entry);
  return out;
}

/** Bundles a plain-JS Worker (and jose) with esbuild for workerd, as wrangler would. */
export async function bundleWorker(root, src, outfile) {
  const esbuild = path.join(root, "node_modules/.bin/esbuild");
  const b = await run(esbuild, [
    src,
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--conditions=workerd,worker,browser",
    "--main-fields=module,main",
    "--minify",
    "--log-level=warning",
    `--outfile=${outfile}`,
  ]);
  if (b.code !== 0) throw new Error(`esbuild of ${path.basename(src)} failed: ${b.stderr}`);
}

/**
 * Boots one Worker in its own Miniflare, hence its own workerd process, and returns
 * { mf, url, pid }: the pid is that workerd's, whose CPU time and memory are what the
 * Worker costs (Miniflare's own small service Workers run in the same process).
 * `inspectorPort`: workerd then serves the V8 inspector there (inspector.mjs).
 * `durableObjects`, `kvNamespaces` (besides JWKS_CACHE and CLIENTS) and `ratelimits`
 * are Miniflare's options of those names.
 */
export async function bootWorker({ name, dir, modules, bindings, compatDate, inspectorPort, durableObjects, kvNamespaces = [], ratelimits }) {
  const miniflare = await import("miniflare");
  const v4 = {
    name,
    host: "127.0.0.1",
    port: 0,
    cf: false,
    verbose: false,
    logRequests: false,
    // With edge.log "all" the authorizer logs one JSON line per request; drop them
    // here rather than print thousands of lines (workerd still produces them).
    handleStructuredLogs: () => {},
    modules,
    modulesRoot: dir,
    compatibilityDate: compatDate,
    kvNamespaces: ["JWKS_CACHE", "CLIENTS", ...kvNamespaces],
    bindings,
  };
  if (durableObjects) v4.durableObjects = durableObjects;
  if (ratelimits) v4.ratelimits = ratelimits;
  // workerd's own inspector (see inspector.mjs); no Miniflare proxy in front of it.
  if (inspectorPort != null) v4.inspectorPort = inspectorPort;
  const opts = typeof miniflare.convertV4MiniflareOptions === "function" ? miniflare.convertV4MiniflareOptions(v4) : v4;
  const known = new Set(descendants(process.pid, "workerd"));
  const mf = new miniflare.Miniflare(opts);
  const url = await mf.ready;
  // The workerd process this Miniflare started: its CPU time is what the Worker costs.
  const pids = descendants(process.pid, "workerd").filter((p) => !known.has(p));
  if (pids.length !== 1) {
    await mf.dispose().catch(() => {});
    throw new Error(`${name}: expected one new workerd process, found ${pids.length}`);
  }
  return { mf, url: String(url).replace(/\/$/, ""), pid: pids[0] };
}

/**
 * One autocannon run; latencies (ms, 2xx only) recorded at full precision. `amount`
 * (a number of requests) ends the run instead of `duration`.
 */
export function load(url, { connections, duration, requests, amount }) {
  const autocannon = require("autocannon");
  return new Promise((resolve, reject) => {
    const lat = [];
    const opts = { url, connections, pipelining: 1, requests, timeout: 10 };
    if (amount != null) opts.amount = amount;
    else opts.duration = duration;
    const inst = autocannon(
      opts,
      (err, res) => (err ? reject(err) : resolve({ res, lat })),
    );
    inst.on("response", (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) lat.push(ms);
    });
  });
}

export const autocannonVersion = () => require("autocannon/package.json").version;

/**
 * tokengate's configuration in the edge runs: the local JWKS (tagged `?w=tokengate`, so
 * the origin counts its fetches), the local origin, `/health` public and `/api/*` needing
 * `read:data`, and `edge.log` as given.
 */
export function tokengateConfig(originUrl, log) {
  return {
    issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_uri: `${originUrl}/.well-known/jwks.json?w=tokengate` }],
    origin: originUrl,
    routes: [
      { path: "/health", public: true },
      { path: "/api/*", require: { scopes_any: ["read:data"] } },
    ],
    edge: { log },
  };
}

/**
 * The edge scenarios: `requests()` makes one autocannon request list (call it once per
 * Worker). public: GET /health without a token; pool: the RS256 `poolTokens` in turn;
 * unique: the ES256 `uniqueTokens` in turn, each list with its own position.
 */
export function scenarios({ poolTokens, uniqueTokens }) {
  return [
    {
      // No token, a public route (tokengate: "public": true; jose+KV: /health): what
      // each Worker costs before any authentication, for comparison.
      id: "public",
      label: "public route, no token",
      requests: () => [{ method: "GET", path: "/health" }],
    },
    {
      id: "pool",
      label: "100 RS256 tokens",
      requests: () =>
        poolTokens.map((t) => ({ method: "GET", path: "/api/data", headers: { authorization: `Bearer ${t}` } })),
    },
    {
      id: "unique",
      label: "unique ES256 tokens",
      // One request list per Worker, kept across its warm-up and rounds, with its own
      // position in the token pool.
      requests: () => {
        let next = 0;
        return [
          {
            method: "GET",
            path: "/api/data",
            setupRequest: (req) => {
              req.headers = { authorization: `Bearer ${uniqueTokens[next++ % uniqueTokens.length]}` };
              return req;
            },
          },
        ];
      },
    },
  ];
}
