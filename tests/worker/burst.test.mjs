// Bursts of concurrent requests on a fresh isolate (a new Miniflare per scenario), with
// a slow mocked IdP that counts requests: every response must equal a lone request's,
// the burst costs at most one JWKS fetch (plus one discovery fetch) per issuer, and
// workerd must never warn that a promise was resolved from another request's context.
// Also: the request leading the fetch is cancelled (the others time out and fetch
// themselves), and redirects of the JWKS fetch are re-checked.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import path from "node:path";
import * as miniflareNs from "miniflare";
import { BASE_URL, BUILD_DIR, KV_BINDINGS, compatibilityDate, startWorker, json } from "./harness.mjs";
import { Issuer } from "./tokens.mjs";

const { Miniflare } = miniflareNs;

const ISSUER = "https://idp.test/";
const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const DISCOVERY_URL = "https://idp.test/.well-known/openid-configuration";
const ORIGIN = "https://origin.test";
const BURST = 8;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (t, init = {}) => ({ ...init, headers: { authorization: `Bearer ${t}` } });

/** The KV key of an issuer's JWKS state: jwks:v2:<sha-256 of [issuer, kind, url]>. */
function storeKey(issuer, kind, url) {
  const digest = crypto.createHash("sha256").update(JSON.stringify([issuer, kind, url])).digest("hex");
  return `jwks:v2:${digest}`;
}

function config({ discovery = false, jwksUri = JWKS_URL, edge = {}, jwksCache } = {}) {
  const issuer = { issuer: ISSUER, audiences: ["https://api.example.com"] };
  if (!discovery) issuer.jwks_uri = jwksUri;
  return {
    issuers: [issuer],
    origin: ORIGIN,
    routes: [{ path: "/builds/*", require: { scopes_any: ["read:builds"] } }],
    // The tests read the JWKS cache outcome from Server-Timing, which is opt-in.
    edge: { server_timing: "detail", ...edge },
    ...(jwksCache ? { jwks_cache: jwksCache } : {}),
  };
}

/**
 * A fresh isolate with an IdP answering after `delay` ms (or as `jwks(req, n)` says,
 * n counting from 1) and an origin that echoes the identity headers it received.
 */
async function boot(issuer, { cfg = config(), kv = {}, delay = 300, jwks } = {}) {
  const counts = { jwks: 0, discovery: 0, other: [] };
  const w = await startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
    kv,
    outbound: async (req) => {
      const url = new URL(req.url);
      if (req.url === DISCOVERY_URL) {
        counts.discovery += 1;
        await sleep(delay);
        return json({ issuer: ISSUER, jwks_uri: JWKS_URL });
      }
      if (req.url === JWKS_URL) {
        counts.jwks += 1;
        if (jwks) return jwks(req, counts.jwks);
        await sleep(delay);
        return json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } });
      }
      if (url.origin === ORIGIN) {
        const identity = Object.fromEntries(
          [...req.headers].filter(([k]) => k.startsWith("x-tokengate-")),
        );
        return json({ method: req.method, url: req.url, identity });
      }
      counts.other.push(req.url);
      return new Response("unexpected", { status: 599 });
    },
  });
  w.counts = counts;
  return w;
}

/** Status, body and the key outcome of a response, for comparing. */
async function answer(res) {
  const timing = res.headers.get("server-timing") ?? "";
  return {
    status: res.status,
    body: await res.text(),
    jwks: /jwks;desc="([a-z_]+)"/.exec(timing)?.[1] ?? null,
  };
}

/** Fires `n` concurrent requests and returns their answers in order. */
async function burst(w, token, n = BURST) {
  return Promise.all(
    Array.from({ length: n }, () => w.fetch("/builds/1", bearer(token)).then(answer)),
  );
}

/** What one request alone gets on another fresh isolate booted the same way. */
async function lone(issuer, token, opts) {
  const w = await boot(issuer, opts);
  try {
    return await answer(await w.fetch("/builds/1", bearer(token)));
  } finally {
    await w.dispose();
  }
}

/**
 * Fails on workerd's cross-request promise warning (or any cross-request I/O error),
 * once the Worker's output of the requests so far has arrived.
 */
async function assertNoCrossContext(w) {
  await sleep(300);
  const bad = w.logs.filter((l) => /different request context|on behalf of a different request/i.test(l.message));
  assert.deepEqual(bad, [], "workerd reported cross-request promise use");
}

function assertSameAnswers(got, want, jwks) {
  for (const [i, a] of got.entries()) {
    assert.equal(a.status, want.status, `request ${i}: ${a.body}`);
    assert.equal(a.body, want.body, `request ${i}`);
    if (jwks) assert.ok(jwks.includes(a.jwks), `request ${i}: jwks outcome ${a.jwks}`);
  }
}

/** The KV state a warmed isolate stored (its key checked), for planting in another. */
async function warmState(issuer, key) {
  const w = await boot(issuer, { delay: 0 });
  try {
    const t = issuer.machine();
    assert.equal((await w.fetch("/builds/1", bearer(t))).status, 200);
    const state = await w.kvGet("JWKS_CACHE", key);
    assert.ok(state, `the state is stored under ${key}`);
    return state;
  } finally {
    await w.dispose();
  }
}

describe("cold bursts", () => {
  test(`fetch path: ${BURST} concurrent first requests, one JWKS fetch, all answered alike`, async () => {
    const issuer = new Issuer();
    const token = issuer.machine();
    const want = await lone(issuer, token);
    assert.equal(want.status, 200, want.body);
    const w = await boot(issuer);
    try {
      const got = await burst(w, token);
      assertSameAnswers(got, want, ["fetched"]);
      assert.equal(w.counts.jwks, 1, "one JWKS fetch for the burst");
      assert.deepEqual(w.counts.other, []);
      // Warm now: the next burst is served from memory.
      assertSameAnswers(await burst(w, token), want, ["memory"]);
      assert.equal(w.counts.jwks, 1);
      await assertNoCrossContext(w);
    } finally {
      await w.dispose();
    }
  });

  test(`fetch path with OIDC discovery: one discovery and one JWKS fetch for ${BURST} requests`, async () => {
    const issuer = new Issuer();
    const token = issuer.user([], "read:builds");
    const opts = { cfg: config({ discovery: true }), delay: 200 };
    const want = await lone(issuer, token, opts);
    assert.equal(want.status, 200, want.body);
    const w = await boot(issuer, opts);
    try {
      assertSameAnswers(await burst(w, token), want, ["fetched"]);
      assert.equal(w.counts.discovery, 1);
      assert.equal(w.counts.jwks, 1);
      await assertNoCrossContext(w);
    } finally {
      await w.dispose();
    }
  });

  test(`KV path: ${BURST} concurrent first requests with a fresh state in KV fetch nothing`, async () => {
    const issuer = new Issuer();
    const key = storeKey(ISSUER, "jwks_uri", JWKS_URL);
    const state = await warmState(issuer, key);
    const token = issuer.machine();
    const opts = { kv: { JWKS_CACHE: { [key]: state } } };
    const want = await lone(issuer, token, opts);
    assert.equal(want.status, 200, want.body);
    assert.equal(want.jwks, "store");
    const w = await boot(issuer, opts);
    try {
      assertSameAnswers(await burst(w, token), want, ["store", "memory"]);
      assert.equal(w.counts.jwks, 0, "no JWKS fetch: KV had the set");
      await assertNoCrossContext(w);
    } finally {
      await w.dispose();
    }
  });

  test(`memory path: a rotated key in a burst of ${BURST} costs one refetch, all allowed`, async () => {
    const issuer = new Issuer();
    const w = await boot(issuer, { cfg: config({ jwksCache: { cooldown: 1 } }) });
    try {
      const first = await answer(await w.fetch("/builds/1", bearer(issuer.machine())));
      assert.equal(first.status, 200, first.body);
      assert.equal(w.counts.jwks, 1);
      issuer.rotate();
      await sleep(1100); // past the 1 s cooldown
      const token = issuer.machine();
      const got = await burst(w, token);
      for (const [i, a] of got.entries()) {
        assert.equal(a.status, 200, `request ${i}: ${a.body}`);
        assert.equal(a.body, got[0].body);
        assert.equal(a.jwks, "kid_refetch", `request ${i}`);
      }
      assert.equal(w.counts.jwks, 2, "one refetch for the burst");
      await assertNoCrossContext(w);
    } finally {
      await w.dispose();
    }
  });
});

/**
 * The built Worker behind a JS "front" Worker that calls it through a service binding:
 * `?cancel_after=ms` makes the front answer 499 after `ms` without waiting, which
 * cancels the subrequest, and so the Worker's request (workerd never resumes it; a
 * client that disconnects from Miniflare does not cancel anything).
 */
async function startFronted({ cfg, outbound }) {
  const logs = [];
  const options = {
    host: "127.0.0.1",
    port: 0,
    cf: false,
    handleStructuredLogs: (l) => logs.push(l),
    workers: [
      {
        name: "front",
        modules: true,
        compatibilityDate: compatibilityDate(),
        serviceBindings: { TOKENGATE: "tokengate" },
        script: `export default {
          async fetch(req, env) {
            const after = Number(new URL(req.url).searchParams.get("cancel_after") ?? 0);
            const sub = env.TOKENGATE.fetch(req);
            if (!after) return sub;
            const timer = new Promise((r) => setTimeout(() => r(null), after));
            return (await Promise.race([sub, timer])) ?? new Response("cancelled", { status: 499 });
          },
        };`,
      },
      {
        name: "tokengate",
        modules: [
          { type: "ESModule", path: path.join(BUILD_DIR, "index.js") },
          { type: "CompiledWasm", path: path.join(BUILD_DIR, "index_bg.wasm") },
        ],
        modulesRoot: BUILD_DIR,
        compatibilityDate: compatibilityDate(),
        kvNamespaces: KV_BINDINGS,
        bindings: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
        outboundService: outbound,
      },
    ],
  };
  const mf = new Miniflare(
    typeof miniflareNs.convertV4MiniflareOptions === "function"
      ? miniflareNs.convertV4MiniflareOptions(options)
      : options,
  );
  await mf.ready;
  return {
    logs,
    fetch: (p, init) => mf.dispatchFetch(new URL(p, BASE_URL).href, init),
    dispose: () => mf.dispose(),
  };
}

/** Resolves to `p`, or rejects after `ms` (a hang). */
function within(ms, p, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe("the request leading the fetch is cancelled", () => {
  test(`the ${BURST} waiters time out, one of them fetches for all, nobody hangs`, async () => {
    const issuer = new Issuer();
    let jwksCalls = 0;
    let leaderSeen;
    const leaderArrived = new Promise((r) => (leaderSeen = r));
    const held = [];
    const w = await startFronted({
      cfg: config({ edge: { fetch_timeout_ms: 1000 } }),
      // The leader's fetch answers only when the test ends; later ones at once.
      outbound: async (req) => {
        if (req.url === JWKS_URL) {
          jwksCalls += 1;
          if (jwksCalls === 1) {
            leaderSeen();
            return new Promise((resolve) => held.push(resolve));
          }
          return json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } });
        }
        if (new URL(req.url).origin === ORIGIN) return json({ ok: true });
        return new Response("unexpected", { status: 599 });
      },
    });
    try {
      const token = issuer.machine();
      // The leader: its request is cancelled 300 ms after it started the fetch.
      const leader = w.fetch("/builds/1?cancel_after=300", bearer(token));
      await leaderArrived;
      const started = Date.now();
      const waiters = Promise.all(
        Array.from({ length: BURST }, () => w.fetch("/builds/1", bearer(token)).then(answer)),
      );
      assert.equal((await leader).status, 499, "the leader's request was cancelled");
      const got = await within(10_000, waiters, "the waiters");
      const took = Date.now() - started;
      for (const [i, a] of got.entries()) {
        assert.equal(a.status, 200, `request ${i}: ${a.body}`);
        assert.equal(a.body, got[0].body);
        assert.equal(a.jwks, "fetched");
      }
      // They gave the leader up after the wait limit (1000 + 500 + 100 ms of sleeps),
      // and one fetch served them all.
      assert.ok(took >= 1600, `answered after ${took} ms`);
      assert.equal(jwksCalls, 2, "the cancelled leader's fetch and one take-over");
      await assertNoCrossContext(w);
    } finally {
      for (const resolve of held) resolve(new Response("late", { status: 503 }));
      await w.dispose();
    }
  });
});

// A new token on a warm isolate waits only for WebCrypto's verify promise, which the
// Worker hands out of its first poll and resumes with (crates/worker/src/lib.rs): each
// request must get its own outcome, for every Server-Timing setting (with "detail" the
// origin's answer is then awaited in Rust).
describe("new tokens on a warm isolate, concurrently", () => {
  for (const serverTiming of ["off", "detail"]) {
    test(`valid and forged new tokens interleaved get their own answers (server_timing ${serverTiming})`, async () => {
      const issuer = new Issuer();
      const w = await boot(issuer, { cfg: config({ edge: { server_timing: serverTiming } }), delay: 0 });
      try {
        assert.equal((await w.fetch("/builds/1", bearer(issuer.machine()))).status, 200, "warm-up");
        const n = 16;
        const tokens = Array.from({ length: n }, (_, i) => {
          const t = issuer.machine("read:builds", `svc-${i}`);
          if (i % 2 === 0) return t;
          // A signature of the right length that does not verify.
          const sig = Buffer.from(t.split(".")[2], "base64url");
          sig[10] ^= 1;
          return `${t.split(".").slice(0, 2).join(".")}.${sig.toString("base64url")}`;
        });
        const got = await Promise.all(tokens.map((t) => w.fetch("/builds/1", bearer(t)).then(answer)));
        for (const [i, a] of got.entries()) {
          if (i % 2 === 0) {
            assert.equal(a.status, 200, `request ${i}: ${a.body}`);
            assert.equal(JSON.parse(a.body).identity["x-tokengate-client-id"], `svc-${i}`, `request ${i}`);
          } else {
            assert.equal(a.status, 401, `request ${i}: ${a.body}`);
            assert.equal(JSON.parse(a.body).error, "invalid_token", `request ${i}`);
          }
        }
        await assertNoCrossContext(w);
      } finally {
        await w.dispose();
      }
    });
  }
});

describe("redirects of the JWKS fetch", () => {
  const MOVED = "https://idp.test/moved";
  async function bootMoved(issuer, location) {
    const w = await startWorker({
      vars: { TOKENGATE_CONFIG: JSON.stringify(config({ jwksUri: MOVED })) },
      outbound: async (req) => {
        if (req.url === MOVED) return new Response(null, { status: 302, headers: { location } });
        if (req.url === location) return json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } });
        if (new URL(req.url).origin === ORIGIN) return json({ ok: true });
        return new Response("unexpected", { status: 599 });
      },
    });
    return w;
  }

  test("a redirect to plain http elsewhere is refused (503 jwks_unavailable)", async () => {
    const issuer = new Issuer();
    const w = await bootMoved(issuer, "http://evil.test/jwks.json");
    try {
      const res = await w.fetch("/builds/1", bearer(issuer.machine()));
      const body = await res.json();
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.code, "jwks_unavailable");
      // The client learns the decision; the fetch error is in the log line only.
      assert.doesNotMatch(body.error_description, /evil|redirect/);
      const [line] = await w.requestLogs(1);
      assert.match(line.message, /redirected to http:\/\/evil\.test\/jwks\.json: must be https/);
      assert.equal(w.callsTo("origin.test").length, 0);
    } finally {
      await w.dispose();
    }
  });

  test("a redirect to another https URL is followed", async () => {
    const issuer = new Issuer();
    const w = await bootMoved(issuer, "https://keys.idp.test/jwks.json");
    try {
      const res = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(res.status, 200, await res.text());
      assert.equal(w.callsTo("keys.idp.test").length, 1);
    } finally {
      await w.dispose();
    }
  });
});
