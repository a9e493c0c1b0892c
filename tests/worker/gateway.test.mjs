// Gateway policy at the edge (issue 16), in workerd (Miniflare): claim rules, claim
// headers and their spoofing, revocation through the REVOKED KV namespace (token-cache
// hits included, and the per-isolate cache's staleness bound), per-client rate limits
// through Workers Rate Limiting bindings (Miniflare's local ones) with a client tier
// from the CLIENTS registry, and delegation rules (actors, max_delegation_depth).
// The IdP (JWKS) and the origin are mocked at the fetch layer; every origin call is
// counted, so "nothing forwarded" is checked, not assumed.

import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startWorker, json, ROOT } from "./harness.mjs";
import { Issuer } from "./tokens.mjs";

const ISS = "https://idp.test/";
const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const ORIGIN = "https://origin.test";

function config(overrides = {}) {
  return {
    unmatched: "any_valid_token",
    issuers: [{ issuer: ISS, audiences: ["https://api.example.com"], jwks_uri: JWKS_URL }],
    origin: ORIGIN,
    routes: [{ path: "/health", public: true }],
    ...overrides,
  };
}

/** An origin that echoes the headers it received. */
function echo(req) {
  return json({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers) });
}

/** The Worker with a mocked IdP and an echo origin (its calls counted). */
async function boot(issuer, { cfg = config(), kv = {}, kvNamespaces, ratelimits, serviceWorkers, vars = {} } = {}) {
  const w = await startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg), ...vars },
    kv,
    kvNamespaces,
    ratelimits,
    serviceWorkers,
    outbound: async (req) => {
      const url = new URL(req.url);
      if (req.url === JWKS_URL) return json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } });
      if (url.origin === ORIGIN) return echo(req);
      return new Response("unexpected", { status: 599 });
    },
  });
  w.originCalls = () => w.callsTo("origin.test").length;
  return w;
}

const bearer = (t, headers = {}) => ({ headers: { authorization: `Bearer ${t}`, ...headers } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

async function refused(res, status, code) {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.code, code, JSON.stringify(body));
  return body;
}

/** The headers the origin saw, for a request that must be allowed. */
async function seen(res) {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text).headers;
}

describe("claim rules: org_id for users and machines", async () => {
  const issuer = new Issuer();
  const cfg = config({
    routes: [{ path: "/orgs/*", require: { claims: { org_id: { any_of: ["org_A", "org_B"] } } } }],
  });
  const w = await boot(issuer, { cfg });
  after(() => w.dispose());

  test("a user or a machine of an allowed organisation passes", async () => {
    const user = issuer.user([], "openid", { org_id: "org_A" });
    const machine = issuer.machine("read:builds", "svc-builder", { org_id: "org_B" });
    assert.equal((await w.fetch("/orgs/x", bearer(user))).status, 200);
    assert.equal((await w.fetch("/orgs/x", bearer(machine))).status, 200);
  });

  test("another organisation, or none, is 403 claim_not_allowed naming the claim, not its value", async () => {
    const before = w.originCalls();
    const cases = [
      issuer.user([], "openid", { org_id: "org_SECRET_C" }),
      issuer.machine("read:builds", "svc-builder", { org_id: "org_SECRET_C" }),
      issuer.user([], "openid"),
      issuer.machine("read:builds", "svc-builder"),
      // Mistyped: a number where the rule lists strings.
      issuer.user([], "openid", { org_id: 7 }),
    ];
    for (const t of cases) {
      const res = await w.fetch("/orgs/x", bearer(t));
      const body = await refused(res, 403, "claim_not_allowed");
      assert.match(body.error_description, /org_id/);
      assert.doesNotMatch(JSON.stringify(body), /SECRET/);
      assert.doesNotMatch(res.headers.get("www-authenticate") ?? "", /SECRET/);
    }
    assert.equal(w.originCalls(), before, "nothing forwarded");
  });

  test("routes without claim rules are unaffected", async () => {
    assert.equal((await w.fetch("/other", bearer(issuer.user([], "openid")))).status, 200);
  });
});

describe("claim headers", async () => {
  const issuer = new Issuer();
  const cfg = config({
    edge: {
      claim_headers: {
        org_id: "X-Org-Id",
        seats: "x-org-seats",
        groups: "x-groups",
        org_meta: "x-org-meta",
        "/org_meta/tier": "x-org-tier",
      },
    },
  });
  const w = await boot(issuer, { cfg });
  after(() => w.dispose());

  test("strings, numbers, arrays (space-joined) and objects (compact JSON) reach the origin", async () => {
    const t = issuer.user([], "openid", {
      org_id: "org_A",
      seats: 42,
      groups: ["admins", "on call"],
      org_meta: { tier: "gold", seats: 5 },
    });
    const h = await seen(await w.fetch("/api", bearer(t)));
    assert.equal(h["x-org-id"], "org_A");
    assert.equal(h["x-org-seats"], "42");
    // Each element encoded as identity headers are (a space inside one is %20).
    assert.equal(h["x-groups"], "admins on%20call");
    assert.deepEqual(JSON.parse(h["x-org-meta"]), { tier: "gold", seats: 5 });
    assert.doesNotMatch(h["x-org-meta"], /\s/, "compact JSON");
    assert.equal(h["x-org-tier"], "gold", "a JSON pointer names a nested claim");
    // The identity headers are still there.
    assert.equal(h["x-tokengate-subject"], "auth0|user-1");
  });

  test("a claim the token lacks sends no header", async () => {
    const h = await seen(await w.fetch("/api", bearer(issuer.user([], "openid"))));
    for (const name of ["x-org-id", "x-org-seats", "x-groups", "x-org-meta", "x-org-tier"]) {
      assert.equal(h[name], undefined, name);
    }
  });

  test("values with control characters or non-ASCII are percent-encoded, never raw", async () => {
    const t = issuer.user([], "openid", { org_id: "org\r\nx-injected: 1", seats: "é" });
    const h = await seen(await w.fetch("/api", bearer(t)));
    assert.equal(h["x-org-id"], "org%0D%0Ax-injected:%201");
    assert.equal(h["x-org-seats"], "%C3%A9");
    assert.equal(h["x-injected"], undefined);
  });

  test("inbound claim headers are dropped in every spelling, the token's value wins", async () => {
    const spoof = { "X-Org-Id": "spoofed", x_org_id: "spoofed", "X_ORG_TIER": "spoofed", "x-org-meta": "spoofed" };
    // A token with org_id: the origin sees its value only.
    const withOrg = issuer.user([], "openid", { org_id: "org_A" });
    let h = await seen(await w.fetch("/api", bearer(withOrg, spoof)));
    assert.equal(h["x-org-id"], "org_A");
    assert.equal(h.x_org_id, undefined);
    assert.equal(h.x_org_tier, undefined);
    assert.equal(h["x-org-meta"], undefined);
    // A token without: no such header at all.
    h = await seen(await w.fetch("/api", bearer(issuer.user([], "openid"), spoof)));
    for (const name of ["x-org-id", "x_org_id", "x_org_tier", "x-org-meta"]) assert.equal(h[name], undefined, name);
    // A public path drops them too.
    h = await seen(await w.fetch("/health", { headers: spoof }));
    for (const name of ["x-org-id", "x_org_id", "x_org_tier", "x-org-meta"]) assert.equal(h[name], undefined, name);
  });

  test("claim headers survive the token cache (the claims are kept)", async () => {
    const t = issuer.user([], "openid", { org_id: "org_cached", org_meta: { tier: "silver" } });
    for (let i = 0; i < 3; i++) {
      const h = await seen(await w.fetch("/api", bearer(t)));
      assert.equal(h["x-org-id"], "org_cached", `request ${i}`);
      assert.equal(h["x-org-tier"], "silver", `request ${i}`);
    }
  });

  test("a claim header colliding with an identity header is config_invalid", async () => {
    const bad = await boot(issuer, {
      cfg: config({ edge: { claim_headers: { org_id: "X-Tokengate-Subject" } } }),
    });
    try {
      await refused(await bad.fetch("/api", bearer(issuer.user([], "openid"))), 500, "config_invalid");
      assert.equal(bad.originCalls(), 0);
    } finally {
      await bad.dispose();
    }
  });
});

describe("revocation (REVOKED KV)", async () => {
  const issuer = new Issuer();
  const cfg = config({ revocation: { cache_seconds: 1 } });
  const w = await boot(issuer, { cfg, kvNamespaces: ["REVOKED"] });
  after(() => w.dispose());

  /** Revoked after the 1 s bound: the first request reads (and caches) an absence. */
  async function revokedAfterBound(token, key, value) {
    assert.equal((await w.fetch("/api", bearer(token))).status, 200, "first request");
    // Again: now a token-cache hit (no signature check), still allowed.
    assert.equal((await w.fetch("/api", bearer(token))).status, 200, "cached token");
    await w.kvPut("REVOKED", key, value);
    await sleep(1100);
    const before = w.originCalls();
    const res = await w.fetch("/api", bearer(token));
    const body = await refused(res, 401, "token_revoked");
    assert.match(res.headers.get("www-authenticate") ?? "", /invalid_token/);
    assert.equal(w.originCalls(), before, "nothing forwarded");
    return body;
  }

  test("by jti (whatever the value), on a token already in the token cache", async () => {
    const t = issuer.user([], "openid", { sub: "auth0|jti-user", jti: "jti-revoked-1" });
    await revokedAfterBound(t, `${ISS}|jti|jti-revoked-1`, "x");
    // Another token of the same user is unaffected.
    const other = issuer.user([], "openid", { sub: "auth0|jti-user", jti: "jti-fine-2" });
    assert.equal((await w.fetch("/api", bearer(other))).status, 200);
  });

  test("by client: every token of the client issued up to `before`", async () => {
    const t = issuer.machine("read:builds", "leaky-client", { iat: now() - 30 });
    await revokedAfterBound(t, `${ISS}|client|leaky-client`, { before: now() - 10 });
    // Issued after the entry's time: allowed.
    const fresh = issuer.machine("read:builds", "leaky-client", { iat: now() });
    assert.equal((await w.fetch("/api", bearer(fresh))).status, 200);
    // Another client: allowed.
    assert.equal((await w.fetch("/api", bearer(issuer.machine("read:builds", "other-client")))).status, 200);
  });

  test("by sub: every token of the user issued up to `before`", async () => {
    const t = issuer.user([], "openid", { sub: "auth0|fired", iat: now() - 30 });
    await revokedAfterBound(t, `${ISS}|sub|auth0|fired`, { before: now() });
    const another = issuer.user([], "openid", { sub: "auth0|fired", iat: now() - 5, jti: "j-other" });
    await refused(await w.fetch("/api", bearer(another)), 401, "token_revoked");
  });

  test("an entry of another issuer's scope revokes nothing", async () => {
    const t = issuer.user([], "openid", { sub: "auth0|scoped", iat: now() - 30 });
    await w.kvPut("REVOKED", `https://other-idp.test/|sub|auth0|scoped`, { before: now() });
    assert.equal((await w.fetch("/api", bearer(t))).status, 200);
  });

  test("the cache bound: with cache_seconds 60 a new entry is not seen at once", async () => {
    const slow = await boot(issuer, {
      cfg: config({ revocation: { cache_seconds: 60 } }),
      kvNamespaces: ["REVOKED"],
    });
    try {
      const t = issuer.user([], "openid", { sub: "auth0|late", jti: "jti-late" });
      assert.equal((await slow.fetch("/api", bearer(t))).status, 200);
      await slow.kvPut("REVOKED", `${ISS}|jti|jti-late`, "{}");
      await sleep(1100);
      // Within the bound the isolate's cached absence stands.
      assert.equal((await slow.fetch("/api", bearer(t))).status, 200);
      // A token whose entries were never read sees the store.
      const t2 = issuer.user([], "openid", { sub: "auth0|late-2", jti: "jti-late-2" });
      await slow.kvPut("REVOKED", `${ISS}|jti|jti-late-2`, "{}");
      await refused(await slow.fetch("/api", bearer(t2)), 401, "token_revoked");
    } finally {
      await slow.dispose();
    }
  });

  test("the token exchange refuses a revoked subject or actor token", async () => {
    const EDGE = "https://edge.test/";
    const API = "https://api.example.com";
    const keys = JSON.parse(
      execFileSync("cargo", ["run", "-q", "--example", "keygen", "--", "ES256"], { cwd: ROOT, encoding: "utf8" }),
    );
    const ex = await boot(issuer, {
      cfg: config({
        issuers: [
          { issuer: ISS, audiences: [API], jwks_uri: JWKS_URL },
          { issuer: EDGE, audiences: [API] },
        ],
        revocation: { cache_seconds: 0 },
        exchange: {
          issuer: EDGE,
          actors: [{ client_id: "build-runner", audiences: [API] }],
          audiences: [{ audience: API, scopes: ["read:builds"], max_lifetime: 3600, allow_beyond_subject: true }],
        },
      }),
      kvNamespaces: ["REVOKED"],
      vars: { TOKENGATE_SIGNING_KEYS: JSON.stringify(keys) },
    });
    try {
      const post = (subject, actor) => {
        const body = new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: subject,
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
          actor_token: actor,
          actor_token_type: "urn:ietf:params:oauth:token-type:access_token",
          audience: API,
        }).toString();
        return ex.fetch("/oauth/token", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body,
        });
      };
      const subject = issuer.user([], "openid read:builds", { sub: "auth0|exchanger", jti: "ex-subject" });
      const actor = issuer.machine("", "build-runner", { jti: "ex-actor" });
      const ok = await post(subject, actor);
      assert.equal(ok.status, 200, await ok.clone().text());
      // The exchanged token works at the edge.
      const minted = (await ok.json()).access_token;
      assert.equal((await ex.fetch("/api", bearer(minted))).status, 200);

      // RFC 6749 §5.2 errors (the body's `error` is the code).
      const oauthError = async (res, status, error, what) => {
        const body = await res.json();
        assert.equal(res.status, status, JSON.stringify(body));
        assert.equal(body.error, error, JSON.stringify(body));
        assert.match(body.error_description, what);
      };
      await ex.kvPut("REVOKED", `${ISS}|jti|ex-actor`, "{}");
      await oauthError(await post(subject, actor), 401, "unauthorized_client", /actor_token: the token was revoked/);
      await ex.kvPut("REVOKED", `${ISS}|jti|ex-subject`, "{}");
      await oauthError(await post(subject, actor), 400, "invalid_grant", /subject_token: the token was revoked/);
    } finally {
      await ex.dispose();
    }
  });

  test("public routes are not checked (no token)", async () => {
    assert.equal((await w.fetch("/health")).status, 200);
  });

  test("a revocation section without the REVOKED binding is config_invalid", async () => {
    const bare = await boot(issuer, { cfg: config({ revocation: {} }) });
    try {
      await refused(await bare.fetch("/api", bearer(issuer.user([], "openid"))), 500, "config_invalid");
      assert.equal(bare.originCalls(), 0);
      const [line] = await bare.requestLogs(1);
      assert.match(line.message ?? JSON.stringify(line), /REVOKED/);
    } finally {
      await bare.dispose();
    }
  });
});

/** Waits, when needed, so that the next requests fall in one window of `period` s
 * (Miniflare's windows are aligned to the wall clock). */
async function freshWindow(period, needMs = 4000) {
  const into = Date.now() % (period * 1000);
  if (period * 1000 - into < needMs) await sleep(period * 1000 - into + 50);
}

describe("rate limits (Workers Rate Limiting bindings)", async () => {
  const issuer = new Issuer();
  const cfg = config({
    rate_limits: { API_LIMIT: { period: 60 }, PARTNER_LIMIT: { period: 10 }, ORG_LIMIT: { period: 60 } },
    routes: [
      { path: "/limited/*", rate_limit: { binding: "API_LIMIT", key: "client_id" } },
      { path: "/per-org/*", rate_limit: { binding: "ORG_LIMIT", key: "org_id" } },
      { path: "/health", public: true },
    ],
  });
  const ratelimits = {
    API_LIMIT: { simple: { limit: 3, period: 60 } },
    PARTNER_LIMIT: { simple: { limit: 1, period: 10 } },
    ORG_LIMIT: { simple: { limit: 2, period: 60 } },
  };
  const w = await boot(issuer, {
    cfg,
    ratelimits,
    kv: {
      CLIENTS: {
        "partner-app": { name: "Partner", rate_limit_binding: "PARTNER_LIMIT" },
        "rogue-tier": { rate_limit_binding: "NOT_DECLARED" },
      },
    },
  });
  after(() => w.dispose());

  test("beyond the limit: 429 rate_limited with Retry-After the period, nothing forwarded", async () => {
    await freshWindow(60);
    const t = issuer.machine("read:builds", "svc-counted");
    for (let i = 0; i < 3; i++) {
      assert.equal((await w.fetch("/limited/x", bearer(t))).status, 200, `request ${i + 1}`);
    }
    const before = w.originCalls();
    for (let i = 0; i < 2; i++) {
      const res = await w.fetch("/limited/x", bearer(t));
      await refused(res, 429, "rate_limited");
      assert.equal(res.headers.get("retry-after"), "60");
      assert.equal(res.headers.get("www-authenticate"), null, "no challenge");
    }
    assert.equal(w.originCalls(), before, "nothing forwarded");
    // Another client has its own count (the key is per client).
    assert.equal((await w.fetch("/limited/x", bearer(issuer.machine("read:builds", "svc-other")))).status, 200);
    // Routes without a rate limit are not counted.
    assert.equal((await w.fetch("/unlimited", bearer(t))).status, 200);
  });

  test("a client tier from the registry uses its own binding", async () => {
    await freshWindow(10);
    const t = issuer.machine("read:builds", "partner-app");
    const first = await w.fetch("/limited/x", bearer(t));
    const h = await seen(first);
    assert.equal(h["x-tokengate-client-name"], "Partner");
    const before = w.originCalls();
    const res = await w.fetch("/limited/x", bearer(t));
    await refused(res, 429, "rate_limited");
    assert.equal(res.headers.get("retry-after"), "10", "the tier's period");
    assert.equal(w.originCalls(), before, "nothing forwarded");
  });

  test("a key from a claim (org_id): shared by the organisation's users; missing is 403", async () => {
    await freshWindow(60);
    const a = issuer.user([], "openid", { sub: "auth0|a", org_id: "org_rl" });
    const b = issuer.user([], "openid", { sub: "auth0|b", org_id: "org_rl" });
    assert.equal((await w.fetch("/per-org/x", bearer(a))).status, 200);
    assert.equal((await w.fetch("/per-org/x", bearer(b))).status, 200);
    const res = await w.fetch("/per-org/x", bearer(a));
    await refused(res, 429, "rate_limited");
    assert.equal(res.headers.get("retry-after"), "60");
    const body = await refused(await w.fetch("/per-org/x", bearer(issuer.user([], "openid"))), 403, "claim_not_allowed");
    assert.match(body.error_description, /org_id/);
  });

  test("a tier naming an undeclared binding fails closed (config_invalid)", async () => {
    const before = w.originCalls();
    await refused(await w.fetch("/limited/x", bearer(issuer.machine("read:builds", "rogue-tier"))), 500, "config_invalid");
    assert.equal(w.originCalls(), before);
  });

  test("a rate_limits binding the Worker lacks is config_invalid naming it", async () => {
    const bad = await boot(issuer, {
      cfg: config({
        rate_limits: { MISSING_LIMIT: { period: 60 } },
        routes: [{ path: "/limited/*", rate_limit: { binding: "MISSING_LIMIT", key: "client_id" } }],
      }),
    });
    try {
      await refused(await bad.fetch("/other", bearer(issuer.machine())), 500, "config_invalid");
      assert.equal(bad.originCalls(), 0);
      const [line] = await bad.requestLogs(1);
      assert.match(JSON.stringify(line), /rate_limits\.MISSING_LIMIT/);
    } finally {
      await bad.dispose();
    }
  });
});

describe("delegation rules (act)", async () => {
  const issuer = new Issuer();
  const cfg = config({
    routes: [
      { path: "/delegated/*", require: { actors: ["svc-actor"], max_delegation_depth: 1 } },
      { path: "/direct/*", require: { max_delegation_depth: 0 } },
      { path: "/chain/*", require: { max_delegation_depth: 2 } },
    ],
  });
  const w = await boot(issuer, { cfg });
  after(() => w.dispose());
  const user = (extra) => issuer.user([], "openid", { sub: "auth0|owner", ...extra });

  test("an allowed actor passes; the origin sees the chain", async () => {
    const t = user({ act: { sub: "svc-actor@clients", client_id: "svc-actor" } });
    const h = await seen(await w.fetch("/delegated/x", bearer(t)));
    assert.equal(h["x-tokengate-actor"], "svc-actor@clients");
    // By sub when the act has no client_id.
    const bySub = user({ act: { sub: "svc-actor" } });
    assert.equal((await w.fetch("/delegated/x", bearer(bySub))).status, 200);
  });

  test("another actor is 403 actor_not_allowed; no act is delegation_required", async () => {
    const before = w.originCalls();
    await refused(await w.fetch("/delegated/x", bearer(user({ act: { sub: "intruder", client_id: "intruder" } }))), 403, "actor_not_allowed");
    await refused(await w.fetch("/delegated/x", bearer(user())), 403, "delegation_required");
    assert.equal(w.originCalls(), before);
  });

  test("a chain deeper than max_delegation_depth is 403 delegation_too_deep", async () => {
    const deep = user({ act: { sub: "svc-actor", client_id: "svc-actor", act: { sub: "svc-first" } } });
    await refused(await w.fetch("/delegated/x", bearer(deep)), 403, "delegation_too_deep");
    assert.equal((await w.fetch("/chain/x", bearer(deep))).status, 200);
    const deeper = user({ act: { sub: "a", act: { sub: "b", act: { sub: "c" } } } });
    await refused(await w.fetch("/chain/x", bearer(deeper)), 403, "delegation_too_deep");
  });

  test("max_delegation_depth 0 refuses every delegated token, not direct ones", async () => {
    assert.equal((await w.fetch("/direct/x", bearer(user()))).status, 200);
    await refused(await w.fetch("/direct/x", bearer(user({ act: { sub: "svc-actor" } }))), 403, "delegation_too_deep");
  });
});

describe("a failing revocation store or rate limiter fails closed", async () => {
  // Stand-ins bound as service bindings (RPC): a REVOKED whose `get` throws or never
  // answers, and Rate Limiting bindings whose `limit` throws, never answers, or answers
  // without a success flag.
  const stub = (body) => `import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  ${body}
  fetch() { return new Response("stub"); }
}`;
  // Answers after 3 s, well past the 300 ms fetch timeout (a promise that never
  // settles is cancelled by workerd as a hung request, which is a failure, not a wait).
  const late = (value) => `new Promise((r) => setTimeout(() => r(${value}), 3000))`;
  const issuer = new Issuer();
  const limited = (binding) => ({ path: `/${binding}/*`, rate_limit: { binding, key: "client_id" } });
  const base = {
    jwks_cache: { fetch_timeout_ms: 300 },
    rate_limits: { THROWS: { period: 60 }, HANGS: { period: 60 }, ODD: { period: 60 } },
    routes: [limited("THROWS"), limited("HANGS"), limited("ODD")],
  };
  const limiters = {
    THROWS: stub('async limit() { throw new Error("limiter down"); }'),
    HANGS: stub(`limit() { return ${late("{ success: true }")}; }`),
    ODD: stub("async limit() { return { ok: true }; }"),
  };

  test("a limiter that throws, hangs or answers no success flag: 503 rate_limit_unavailable, nothing forwarded", async () => {
    const w = await boot(issuer, { cfg: config(base), serviceWorkers: limiters });
    try {
      const t = issuer.machine();
      for (const b of ["THROWS", "HANGS", "ODD"]) {
        const started = Date.now();
        const res = await w.fetch(`/${b}/x`, bearer(t));
        await refused(res, 503, "rate_limit_unavailable");
        assert.ok(Date.now() - started < 2500, `${b}: within the fetch timeout`);
      }
      assert.equal(w.originCalls(), 0, "nothing forwarded");
      const lines = await w.requestLogs(3);
      assert.match(lines[0].message, /THROWS rate limiter failed/);
      assert.match(lines[1].message, /HANGS rate limiter did not answer within 300 ms/);
      // Routes without a rate limit still work.
      assert.equal((await w.fetch("/free", bearer(t))).status, 200);
    } finally {
      await w.dispose();
    }
  });

  for (const [what, body, message] of [
    ["throws", 'async get() { throw new Error("kv down"); }', /reading REVOKED failed/],
    ["hangs", `get() { return ${late("null")}; }`, /REVOKED did not answer within 300 ms/],
  ]) {
    test(`a revocation store that ${what}: 503 revocation_unavailable, nothing forwarded`, async () => {
      const w = await boot(issuer, {
        cfg: config({ jwks_cache: { fetch_timeout_ms: 300 }, revocation: { cache_seconds: 0 } }),
        serviceWorkers: { REVOKED: stub(body) },
      });
      try {
        const res = await w.fetch("/api", bearer(issuer.user([], "openid")));
        await refused(res, 503, "revocation_unavailable");
        assert.equal(w.originCalls(), 0);
        const [line] = await w.requestLogs(1);
        assert.match(line.message, message);
      } finally {
        await w.dispose();
      }
    });
  }
});
