// Test harness: runs the BUILT Worker (build/index.js + build/index_bg.wasm, made by
// scripts/build-worker.sh) in workerd through Miniflare's JS API, with given vars and
// KV contents, and with every outbound fetch() answered by a mock in this process.
//
//   import { startWorker, json } from "./harness.mjs";
//   const w = await startWorker({
//     vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
//     kv: { CLIENTS: { "client-a": { scopes: ["read"] } } },   // objects are JSON-encoded
//     outbound: (req) => {                                     // IdP, origin, ...
//       const url = new URL(req.url);
//       if (url.pathname === "/.well-known/jwks.json") return json(jwks);
//       return new Response("origin says hi");
//     },
//   });
//   const res = await w.fetch("/api/x", { headers: { authorization: `Bearer ${t}` } });
//   w.outboundCalls        // [{ method, url, headers, body }] in order
//   w.callsTo("idp.test")  // those whose host is idp.test
//   w.logs                 // [{ level, message }]: the Worker's console output, in order
//   await w.requestLogs(n) // the first n tokengate request lines (parsed), waiting for them
//   await w.kvGet("JWKS_CACHE", key); await w.kvPut("CLIENTS", key, value);
//   await w.dispose();
//
// The DPoP replay store (the Worker's Durable Object class DpopReplay) is bound as
// DPOP_REPLAY with `dpopReplay: true`; `isolates: 2` runs the Worker twice (two workers,
// so two isolates, of one deployment) with the second bound to the first one's
// objects through `scriptName`, and `w.fetchAt(1, path, init)` reaches the second.
//
// Nothing leaves the machine: outbound requests without a mock get a 599 response
// (and are still recorded), and Miniflare listens on 127.0.0.1 only.
//
// Written against the Miniflare 4 option shape; the Miniflare 5 pinned with wrangler
// takes it through its convertV4MiniflareOptions adapter.

import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as miniflare from "miniflare";

const { Miniflare } = miniflare;

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILD_DIR = path.join(ROOT, "build");

/** KV namespaces the Worker binds (wrangler.toml), all bound in every test. */
export const KV_BINDINGS = ["JWKS_CACHE", "CLIENTS"];

/** Base URL requests are dispatched to (the host the Worker sees). */
export const BASE_URL = "https://tokengate.test";

/** compatibility_date from wrangler.toml, so tests run what `wrangler dev` runs. */
export function compatibilityDate() {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const m = toml.match(/^compatibility_date\s*=\s*"([0-9-]+)"/m);
  if (!m) throw new Error("no compatibility_date in wrangler.toml");
  return m[1];
}

/** A JSON Response, for mocks. */
export function json(value, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return new Response(JSON.stringify(value), { ...init, headers });
}

/** Throws a helpful error if the Worker has not been built. */
export function assertBuilt() {
  for (const f of ["index.js", "index_bg.wasm"]) {
    if (!existsSync(path.join(BUILD_DIR, f))) {
      throw new Error(
        `build/${f} is missing: build the Worker first (make worker, or bash scripts/build-worker.sh)`,
      );
    }
  }
}

function encodeKvValue(v) {
  if (typeof v === "string" || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return v;
  return JSON.stringify(v);
}

/**
 * Boots the built Worker in workerd.
 *
 * @param {object} [opts]
 * @param {Record<string, string|object>} [opts.vars] plain-text (string) or JSON vars;
 *   TOKENGATE_CONFIG defaults to "{}".
 * @param {Record<string, Record<string, string|object|Uint8Array>>} [opts.kv] initial
 *   KV contents per binding; non-string values are JSON-encoded.
 * @param {(req: Request) => Response|Promise<Response>} [opts.outbound] answers every
 *   fetch() the Worker makes. Default: 599 "no outbound mock".
 * @param {Record<string, (req: Request) => Response|Promise<Response>>} [opts.services]
 *   service bindings (e.g. ORIGIN) answered in this process.
 * @param {Record<string, string>} [opts.serviceWorkers] service bindings answered by
 *   Workers of their own in the same workerd (ES module source each), for what a
 *   function in this process cannot do: Miniflare turns its throw into a response, a
 *   Worker's throw rejects the caller's fetch.
 * @param {boolean} [opts.dpopReplay] bind the DPoP replay store: DPOP_REPLAY, the
 *   Worker's own Durable Object class DpopReplay (SQLite-backed, as wrangler.toml's
 *   migration declares it).
 * @param {number} [opts.isolates] how many copies of the Worker to run (default 1):
 *   copy i is the worker `tokengate-<i+1>` (the first is `tokengate`), with the same
 *   vars, KV and outbound mock; with `dpopReplay`, every copy's DPOP_REPLAY is the
 *   first one's namespace (`scriptName`), as one deployment's isolates share it.
 * @param {string[]} [opts.kvNamespaces] more KV bindings than KV_BINDINGS (e.g.
 *   REVOKED, the revocation store), bound empty unless `kv` fills them.
 * @param {Record<string, {simple: {limit: number, period?: 10|60}, namespace_id?: string}>} [opts.ratelimits]
 *   Workers Rate Limiting bindings (Miniflare's local ones: windows aligned to the
 *   wall clock); `namespace_id` defaults to a distinct one per binding.
 * @param {boolean} [opts.verbose] show Miniflare's own log lines, and print the
 *   Worker's console output (always collected in `logs`).
 */
export async function startWorker(opts = {}) {
  assertBuilt();
  const {
    vars = {}, kv = {}, outbound, services, serviceWorkers, verbose = false,
    dpopReplay = false, isolates = 1, kvNamespaces = [], ratelimits,
  } = opts;

  const outboundCalls = [];
  // The Worker's console output arrives through workerd's stdout, shortly after the
  // response; requestLogs() waits for it.
  const logs = [];
  const handleStructuredLogs = ({ level, message }) => {
    logs.push({ level, message });
    if (verbose) console.log(`[workerd ${level}] ${message}`);
  };
  const outboundService = async (req) => {
    const body = ["GET", "HEAD"].includes(req.method) ? "" : await req.clone().text();
    outboundCalls.push({
      method: req.method,
      url: req.url,
      headers: Object.fromEntries(req.headers),
      body,
    });
    if (!outbound) {
      return new Response(`no outbound mock for ${req.method} ${req.url}`, { status: 599 });
    }
    try {
      return await outbound(req);
    } catch (err) {
      return new Response(`outbound mock threw: ${err?.stack ?? err}`, { status: 598 });
    }
  };

  const worker = {
    modules: [
      { type: "ESModule", path: path.join(BUILD_DIR, "index.js") },
      { type: "CompiledWasm", path: path.join(BUILD_DIR, "index_bg.wasm") },
    ],
    modulesRoot: BUILD_DIR,
    compatibilityDate: compatibilityDate(),
    kvNamespaces: [...new Set([...KV_BINDINGS, ...kvNamespaces])],
    ...(ratelimits
      ? {
          ratelimits: Object.fromEntries(
            Object.entries(ratelimits).map(([name, r], i) => [name, { namespace_id: String(1001 + i), ...r }]),
          ),
        }
      : {}),
    bindings: { TOKENGATE_CONFIG: "{}", ...vars },
    outboundService,
    ...(services || serviceWorkers
      ? {
          serviceBindings: {
            ...services,
            ...Object.fromEntries(Object.keys(serviceWorkers ?? {}).map((b) => [b, `service-${b.toLowerCase()}`])),
          },
        }
      : {}),
  };
  const shared = {
    host: "127.0.0.1",
    port: 0,
    cf: false, // don't try to fetch cf.json from the internet
    verbose,
    handleStructuredLogs,
  };
  const names = Array.from({ length: isolates }, (_, i) => (i === 0 ? "tokengate" : `tokengate-${i + 1}`));
  const copies = names.map((name, i) => ({
    name,
    ...worker,
    ...(dpopReplay
      ? {
          durableObjects: {
            DPOP_REPLAY: { className: "DpopReplay", useSQLite: true, ...(i > 0 ? { scriptName: names[0] } : {}) },
          },
        }
      : {}),
  }));
  const v4Options = serviceWorkers || isolates > 1 || dpopReplay
    ? {
        ...shared,
        workers: [
          ...copies,
          ...Object.entries(serviceWorkers ?? {}).map(([b, script]) => ({
            name: `service-${b.toLowerCase()}`,
            modules: true,
            script,
            compatibilityDate: compatibilityDate(),
          })),
        ],
      }
    : { ...shared, ...worker };
  const options =
    typeof miniflare.convertV4MiniflareOptions === "function"
      ? miniflare.convertV4MiniflareOptions(v4Options)
      : v4Options;

  const mf = new Miniflare(options);
  try {
    await mf.ready;
    for (const [binding, entries] of Object.entries(kv)) {
      const ns = await mf.getKVNamespace(binding);
      for (const [key, value] of Object.entries(entries)) {
        await ns.put(key, encodeKvValue(value));
      }
    }
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }

  /** The tokengate request lines (`{"tokengate":1,...}`) logged so far, parsed. */
  const requestLines = () =>
    logs
      .map((l) => {
        try {
          const v = JSON.parse(l.message);
          return v && v.tokengate === 1 ? v : null;
        } catch {
          return null;
        }
      })
      .filter(Boolean);

  return {
    mf,
    outboundCalls,
    logs,
    /** The first `n` tokengate request lines, waiting up to `ms` for them to arrive. */
    async requestLogs(n, ms = 5000) {
      const until = Date.now() + ms;
      for (;;) {
        const lines = requestLines();
        if (lines.length >= n) return lines.slice(0, n);
        if (Date.now() > until) {
          throw new Error(`expected ${n} request log line(s), got ${lines.length}: ${JSON.stringify(logs)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** All tokengate request lines that have arrived so far. */
    requestLines,
    /** Outbound calls whose host (or full URL prefix) matches. */
    callsTo(hostOrPrefix) {
      return outboundCalls.filter((c) => {
        const u = new URL(c.url);
        return u.host === hostOrPrefix || c.url.startsWith(hostOrPrefix);
      });
    },
    resetCalls() {
      outboundCalls.length = 0;
    },
    /** dispatchFetch relative to BASE_URL; returns the Worker's Response. */
    fetch(pathOrUrl, init) {
      return mf.dispatchFetch(new URL(pathOrUrl, BASE_URL).href, init);
    },
    /** As fetch, to the Worker's copy `i` (0: the one `fetch` reaches; see `isolates`). */
    async fetchAt(i, pathOrUrl, init) {
      const target = await mf.getWorker(names[i]);
      return target.fetch(new URL(pathOrUrl, BASE_URL).href, init);
    },
    async kvGet(binding, key, type = "text") {
      return (await mf.getKVNamespace(binding)).get(key, type);
    },
    async kvPut(binding, key, value, putOpts) {
      return (await mf.getKVNamespace(binding)).put(key, encodeKvValue(value), putOpts);
    },
    async dispose() {
      await mf.dispose();
    },
  };
}
