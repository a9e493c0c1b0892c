// Edge part "gateway": what each gateway-policy feature (issue 16) costs a request in
// the Worker. One tokengate Worker (the real build/) per variant, each in its own
// Miniflare (its own workerd process), the same 100 RS256 tokens (with an org_id claim)
// in turn, loaded in rotating rounds under the same autocannon settings:
//
//   base           the route requires a scope (the load part's "pool" steady state)
//   claims         plus a claim rule (org_id any_of) and two claim headers forwarded
//   revocation     plus `revocation` with the default cache_seconds (10): after the
//                  first request of each token, its jti/client/sub answers come from
//                  the isolate's cache
//   revocation-0   `revocation.cache_seconds: 0`: every request reads the REVOKED KV
//                  namespace (up to three keys, read concurrently)
//   rate-limit     plus a route rate_limit counted per client_id (the Rate Limiting
//                  binding's call on every allowed request; limit set high)
//   ...s           revocation-0 and rate-limit again with in-memory stand-ins for the
//                  binding (counting-entry's BENCH_STUBS): Miniflare's local KV and rate
//                  limiter run in the same workerd, so their CPU counts in the variants
//                  above; the stand-ins leave the Worker's own side of each call
//
// The cost of a request is its workerd's CPU time (user + system, /proc) over the
// measured rounds, divided by the requests it answered; KV reads per request come from
// the counting entry (REVOKED counted like JWKS_CACHE). Every answer must be a 2xx.

import { signToken } from "../lib/keys.mjs";
import { summarize } from "../lib/stats.mjs";
import { log } from "../lib/proc.mjs";
import { cpuSeconds } from "../lib/cpu.mjs";
import { bootWorker, edgeKnobs, getJson, load, tokengateConfig } from "./harness.mjs";

function kvReadsOf(stats, name) {
  const c = stats.kv[name];
  return c ? c.get + c.getWithMetadata : 0;
}

export async function gatewayPart({ smoke, compatDate, now, rsKey, originUrl, workers }) {
  const { duration, rounds, warmup, connections } = edgeKnobs(smoke);
  const tg = workers.find((w) => w.id === "tokengate");
  const base = tokengateConfig(originUrl, "denials");
  const api = base.routes.find((r) => r.path === "/api/*");
  const withRoute = (extra) => ({
    ...base,
    routes: base.routes.map((r) => (r === api ? { ...r, ...extra.route, require: { ...r.require, ...extra.require } } : r)),
    ...extra.top,
    edge: { ...base.edge, ...extra.edge },
  });
  const variants = [
    { id: "base", label: "scope rule only (baseline)", config: base },
    {
      id: "claims",
      label: "+ claim rule (org_id any_of) and 2 claim headers",
      config: withRoute({
        require: { claims: { org_id: { any_of: ["org_1", "org_2", "org_3"] } } },
        edge: { claim_headers: { org_id: "x-tokengate-org-id", "/org/tier": "x-tokengate-org-tier" } },
      }),
    },
    {
      id: "revocation",
      label: "+ revocation, cache_seconds 10 (answers cached per isolate)",
      config: withRoute({ top: { revocation: { cache_seconds: 10 } } }),
      kv: ["REVOKED"],
    },
    {
      id: "revocation0",
      label: "+ revocation, cache_seconds 0 (KV read every request)",
      config: withRoute({ top: { revocation: { cache_seconds: 0 } } }),
      kv: ["REVOKED"],
    },
    {
      id: "revocation0s",
      label: "+ revocation, cache_seconds 0, in-memory KV stand-in (the Worker's side)",
      config: withRoute({ top: { revocation: { cache_seconds: 0 } } }),
      stubs: "REVOKED",
    },
    {
      id: "ratelimit",
      label: "+ rate limit per client_id (binding call every request)",
      config: withRoute({
        top: { rate_limits: { RL: { period: 60 } } },
        route: { rate_limit: { binding: "RL", key: "client_id" } },
      }),
      ratelimits: { RL: { namespace_id: "1001", simple: { limit: 100000000, period: 60 } } },
    },
    {
      id: "ratelimits",
      label: "+ rate limit per client_id, in-memory binding stand-in (the Worker's side)",
      config: withRoute({
        top: { rate_limits: { RL: { period: 60 } } },
        route: { rate_limit: { binding: "RL", key: "client_id" } },
      }),
      stubs: "RL",
    },
  ];
  const tokens = Array.from({ length: 100 }, (_, i) =>
    signToken(rsKey, { i, now, claims: { org_id: `org_${(i % 3) + 1}`, org: { tier: "gold" } } }),
  );
  const requests = tokens.map((t) => ({ method: "GET", path: "/api/data", headers: { authorization: `Bearer ${t}` } }));
  const running = [];
  try {
    for (const v of variants) {
      const w = await bootWorker({
        name: `tokengate-gw-${v.id}`,
        dir: tg.dir,
        modules: tg.modules,
        bindings: { TOKENGATE_CONFIG: JSON.stringify(v.config), ...(v.stubs ? { BENCH_STUBS: v.stubs } : {}) },
        compatDate,
        kvNamespaces: v.kv,
        ratelimits: v.ratelimits,
      });
      running.push({ ...v, ...w });
    }
    // Each variant answers a token 200 before it is measured.
    for (const w of running) {
      const r = await fetch(`${w.url}/api/data`, { headers: { authorization: `Bearer ${tokens[0]}` } });
      const body = await r.text();
      if (r.status !== 200) throw new Error(`edge gateway: ${w.id} answered ${r.status} ${body.slice(0, 300)}`);
    }
    for (const w of running) await load(w.url, { connections, duration: warmup, requests });
    const acc = Object.fromEntries(running.map((w) => [w.id, { cpu: 0, n: 0, non2xx: 0, rps: [], lat: [], kv: 0 }]));
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => running[(i + round) % running.length]);
      for (const w of order) {
        const s0 = await getJson(`${w.url}/__bench/stats`);
        const cpu0 = cpuSeconds(w.pid);
        const { res, lat } = await load(w.url, { connections, duration, requests });
        const a = acc[w.id];
        a.cpu += cpuSeconds(w.pid) - cpu0;
        const s1 = await getJson(`${w.url}/__bench/stats`);
        a.kv += kvReadsOf(s1, "REVOKED") - kvReadsOf(s0, "REVOKED");
        a.n += res["2xx"] + res.non2xx;
        a.non2xx += res.non2xx;
        a.rps.push(res["2xx"] / res.duration);
        for (const x of lat) a.lat.push(x);
        log(`edge gateway: round ${round + 1}/${rounds} ${w.id.padEnd(11)} ${(res["2xx"] / res.duration).toFixed(0).padStart(6)} req/s`);
      }
    }
    const out = { variants: [] };
    let baseCpu = null;
    for (const w of running) {
      const a = acc[w.id];
      if (a.non2xx) throw new Error(`edge gateway: ${a.non2xx} ${w.id} requests were refused`);
      const l = summarize(a.lat);
      const cpuUs = (a.cpu * 1e6) / Math.max(1, a.n);
      if (w.id === "base") baseCpu = cpuUs;
      out.variants.push({
        id: w.id,
        label: w.label,
        requests: a.n,
        rps: summarize(a.rps).median,
        cpuUsPerRequest: cpuUs,
        overUsPerRequest: baseCpu === null ? null : cpuUs - baseCpu,
        revokedKvReadsPerRequest: a.n ? a.kv / a.n : 0,
        latencyMs: { p50: l.median, p99: l.p99 },
      });
    }
    out.notes =
      `one workerd per variant on 127.0.0.1, ${connections} connections, ${rounds} rotating rounds of ${duration} s, ` +
      "100 RS256 tokens in turn (token cache hits); KV and the rate-limit binding are Miniflare's local ones";
    for (const v of out.variants) {
      log(
        `edge gateway: ${v.id.padEnd(11)} ${v.cpuUsPerRequest.toFixed(0)} us/req` +
          (v.overUsPerRequest === null ? "" : ` (${v.overUsPerRequest >= 0 ? "+" : ""}${v.overUsPerRequest.toFixed(0)} us)`) +
          `  REVOKED reads/req ${v.revokedKvReadsPerRequest.toFixed(3)}`,
      );
    }
    return out;
  } finally {
    for (const w of running) await w.mf.dispose().catch(() => {});
  }
}
