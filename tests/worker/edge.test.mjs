// The built edge authorizer in workerd (Miniflare), with the identity provider and the
// origin mocked at the fetch layer and every outbound call counted.

import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startWorker, json } from "./harness.mjs";
import { Issuer } from "./tokens.mjs";

const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const ORIGIN = "https://origin.test";
/** The issuer's JWKS state in KV: jwks:v2:<sha-256 of [issuer, "jwks_uri", url]>. */
const JWKS_KV_KEY = `jwks:v2:${crypto
  .createHash("sha256")
  .update(JSON.stringify(["https://idp.test/", "jwks_uri", JWKS_URL]))
  .digest("hex")}`;

function config(overrides = {}) {
  return {
    // These tests exercise a path no route names with a valid token (the default is deny).
    unmatched: "any_valid_token",
    issuers: [{ issuer: "https://idp.test/", audiences: ["https://api.example.com"], jwks_uri: JWKS_URL }],
    origin: ORIGIN,
    routes: [
      { path: "/admin/*", methods: ["POST", "DELETE"], require: { kinds: ["machine"] } },
      {
        path: "/builds/*",
        methods: ["PUT", "POST"],
        require: { scopes_any: ["update:builds"], machines_bypass_scopes: true },
      },
      { path: "/builds/*", require: { scopes_any: ["read:builds"] } },
      { path: "/partners/*", require: { clients: ["partner-app"] } },
      { path: "/health", public: true },
    ],
    ...overrides,
  };
}

/** An origin that echoes what it received. */
async function echo(req) {
  const body = new Uint8Array(await req.arrayBuffer());
  return json({
    method: req.method,
    url: req.url,
    headers: Object.fromEntries(req.headers),
    bytes: body.length,
    sha256: crypto.createHash("sha256").update(body).digest("hex"),
  });
}

/** Starts the Worker with a mocked IdP (counted) and an echo origin. */
async function boot(issuer, { cfg = config(), kv = {}, idp, vars = {} } = {}) {
  const state = { jwksFetches: 0, idp: idp ?? (() => json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } })) };
  const w = await startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg), ...vars },
    kv,
    outbound: async (req) => {
      const url = new URL(req.url);
      if (req.url === JWKS_URL) {
        state.jwksFetches += 1;
        return state.idp(req);
      }
      if (url.origin === ORIGIN) return echo(req);
      return new Response("unexpected", { status: 599 });
    },
  });
  w.state = state;
  w.originCalls = () => w.callsTo("origin.test").length;
  return w;
}

const bearer = (t) => ({ headers: { authorization: `Bearer ${t}` } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("allow/deny matrix", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, { kv: { CLIENTS: { "svc-builder": { name: "Build service", metadata: { team: "ci" } } } } });
  after(() => w.dispose());
  const machine = issuer.machine("read:builds");
  const userRead = issuer.user([], "openid read:builds");
  const userWrite = issuer.user(["update:builds"], "openid read:builds");

  const cases = [
    ["machine GET build", "GET", "/builds/1", machine, 200],
    ["machine PUT build without the scope", "PUT", "/builds/1", machine, 200],
    ["machine DELETE admin", "DELETE", "/admin/users/1", machine, 200],
    ["user GET build", "GET", "/builds/1", userRead, 200],
    ["user PUT build without permission", "PUT", "/builds/1", userRead, 403, "insufficient_scope"],
    ["user PUT build with permission", "PUT", "/builds/1", userWrite, 200],
    ["user DELETE admin", "DELETE", "/admin/users/1", userWrite, 403, "kind_not_allowed"],
    ["machine, wrong client for partners", "GET", "/partners/x", machine, 403, "client_not_allowed"],
    ["no token", "GET", "/builds/1", null, 401, "token_missing"],
    ["garbage token", "GET", "/builds/1", "abc.def.ghi", 401, "token_malformed"],
    ["public without token", "GET", "/health", null, 200],
    ["unmatched route, any valid token", "GET", "/other", userRead, 200],
  ];
  for (const [name, method, path, token, status, code] of cases) {
    test(name, async () => {
      const before = w.originCalls();
      const res = await w.fetch(path, { method, ...(token ? bearer(token) : {}) });
      assert.equal(res.status, status, await res.clone().text());
      assert.equal(res.headers.get("server-timing"), null, "Server-Timing is opt-in");
      if (status === 200) {
        assert.equal(w.originCalls(), before + 1);
        return;
      }
      assert.equal(w.originCalls(), before, "a denied request never reaches the origin");
      const body = await res.json();
      assert.equal(body.code, code);
      assert.equal(typeof body.error_description, "string");
      const www = res.headers.get("www-authenticate");
      if (code === "token_missing") {
        assert.equal(body.error, "unauthorized");
        assert.equal(www, 'Bearer realm="tokengate"');
      } else if (status === 401) {
        assert.equal(body.error, "invalid_token");
        assert.match(www, /^Bearer realm="tokengate", error="invalid_token", error_description="[^"]+"$/);
      } else {
        assert.equal(body.error, "insufficient_scope");
        assert.match(www, /^Bearer realm="tokengate", error="insufficient_scope"/);
      }
    });
  }

  test("insufficient_scope names the scope it needs", async () => {
    const res = await w.fetch("/builds/1", { method: "PUT", ...bearer(userRead) });
    assert.equal(
      res.headers.get("www-authenticate"),
      'Bearer realm="tokengate", error="insufficient_scope", error_description="the token lacks a scope this route requires", scope="update:builds"',
    );
  });

  test("identity headers reach the origin; spoofed ones are stripped", async () => {
    const res = await w.fetch("/builds/7?x=1&y=2", {
      headers: {
        authorization: `Bearer ${machine}`,
        "x-tokengate-kind": "machine",
        "x-tokengate-subject": "spoofed",
        "X-TokenGate-User-Id": "spoofed",
        "x-custom": "kept",
      },
    });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.url, `${ORIGIN}/builds/7?x=1&y=2`);
    assert.equal(seen.headers["x-tokengate-kind"], "machine");
    assert.equal(seen.headers["x-tokengate-subject"], "svc-builder@clients");
    assert.equal(seen.headers["x-tokengate-client-id"], "svc-builder");
    // Identity header values are percent-encoded: the registry name's space too.
    assert.equal(seen.headers["x-tokengate-client-name"], "Build%20service");
    assert.equal(seen.headers["x-tokengate-scopes"], "read:builds");
    assert.equal(seen.headers["x-tokengate-issuer"], "https://idp.test/");
    assert.equal(seen.headers["x-tokengate-user-id"], undefined);
    assert.equal(seen.headers["x-custom"], "kept");
    assert.equal(seen.headers.authorization, `Bearer ${machine}`);

    const u = await (await w.fetch("/builds/7", { headers: { authorization: `Bearer ${userRead}`, "x-tokengate-kind": "machine" } })).json();
    assert.equal(u.headers["x-tokengate-kind"], "user");
    assert.equal(u.headers["x-tokengate-user-id"], "auth0|user-1");
  });

  test("a public route strips spoofed identity headers too", async () => {
    const res = await w.fetch("/health", { headers: { "x-tokengate-kind": "machine" } });
    const seen = await res.json();
    assert.equal(seen.headers["x-tokengate-kind"], undefined);
  });

  test("two different tokens (header and cookie) are a 400", async () => {
    const w2 = await boot(issuer, { cfg: config({ edge: { cookie: "at" } }) });
    try {
      const res = await w2.fetch("/builds/1", { headers: { authorization: `Bearer ${machine}`, cookie: `at=${userRead}` } });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, "invalid_request");
      const ok = await w2.fetch("/builds/1", { headers: { cookie: `theme=dark; at=${machine}` } });
      assert.equal(ok.status, 200);
    } finally {
      await w2.dispose();
    }
  });

  test("methods, query strings and a 1 MiB body reach the origin intact", async () => {
    const body = crypto.randomBytes(1024 * 1024);
    const res = await w.fetch("/builds/9?a=1&a=2&b=%20", { method: "POST", body, ...bearer(machine) });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, `${ORIGIN}/builds/9?a=1&a=2&b=%20`);
    assert.equal(seen.bytes, body.length);
    assert.equal(seen.sha256, crypto.createHash("sha256").update(body).digest("hex"));
    for (const method of ["PATCH", "DELETE", "HEAD", "OPTIONS"]) {
      const r = await w.fetch("/other", { method, ...bearer(machine) });
      assert.equal(r.status, 200, method);
    }
  });
});

describe("JWKS caching", async () => {
  test("100 requests -> 1 JWKS fetch; KV holds the set; a fresh isolate with warm KV fetches nothing", async () => {
    const issuer = new Issuer();
    const w = await boot(issuer);
    let kvState;
    try {
      for (let i = 0; i < 100; i++) {
        const t = i % 2 ? issuer.machine() : issuer.user([], "read:builds", { jti: String(i) });
        const res = await w.fetch("/builds/1", bearer(t));
        assert.equal(res.status, 200);
      }
      assert.equal(w.state.jwksFetches, 1);
      kvState = await w.kvGet("JWKS_CACHE", JWKS_KV_KEY);
      assert.ok(kvState, "the JWKS cache state is in KV");
      assert.ok(JSON.parse(kvState).jwks.includes(issuer.current.kid));
    } finally {
      await w.dispose();
    }
    const fresh = await boot(issuer, { kv: { JWKS_CACHE: { [JWKS_KV_KEY]: kvState } } });
    try {
      const res = await fresh.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(res.status, 200);
      assert.equal(fresh.state.jwksFetches, 0);
      assert.equal((await fresh.requestLogs(1))[0].jwks, "store");
    } finally {
      await fresh.dispose();
    }
  });

  test("key rotation: a new kid -> one refetch, then allowed", async () => {
    const issuer = new Issuer();
    const w = await boot(issuer, { cfg: config({ jwks_cache: { cooldown: 1 }, edge: { server_timing: "detail" } }) });
    try {
      assert.equal((await w.fetch("/builds/1", bearer(issuer.machine()))).status, 200);
      assert.equal(w.state.jwksFetches, 1);
      issuer.rotate();
      await sleep(1100); // past the 1 s cooldown
      const res = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(res.status, 200);
      assert.equal(w.state.jwksFetches, 2);
      assert.match(res.headers.get("server-timing"), /jwks;desc="kid_refetch"/);
      assert.equal((await w.fetch("/builds/1", bearer(issuer.machine()))).status, 200);
      assert.equal(w.state.jwksFetches, 2);
    } finally {
      await w.dispose();
    }
  });

  test("200 random unknown kids -> at most one JWKS fetch per cooldown", async () => {
    const issuer = new Issuer();
    const w = await boot(issuer);
    try {
      assert.equal((await w.fetch("/builds/1", bearer(issuer.machine()))).status, 200);
      const started = Date.now();
      for (let i = 0; i < 200; i++) {
        const t = issuer.machine("read:builds", "svc", {});
        const forged = issuer.sign({ sub: "x@clients", gty: "client-credentials" }, { kid: crypto.randomUUID() });
        const res = await w.fetch("/builds/1", bearer(i % 2 ? forged : t));
        assert.equal(res.status, i % 2 ? 401 : 200);
      }
      const cooldowns = Math.floor((Date.now() - started) / 30_000) + 1;
      assert.ok(w.state.jwksFetches - 1 <= cooldowns, `${w.state.jwksFetches - 1} refetches in ${cooldowns} cooldown(s)`);
    } finally {
      await w.dispose();
    }
  });
});

describe("identity provider outages", async () => {
  const fastCache = { default_max_age: 1, min_max_age: 1, max_max_age: 1, cooldown: 1, stale_window: 4, refresh_ahead: 0 };

  test("down after warm-up: served from the stale set until the window ends, then 503", async () => {
    const issuer = new Issuer();
    const w = await boot(issuer, { cfg: config({ jwks_cache: fastCache, edge: { server_timing: "detail" } }) });
    try {
      assert.equal((await w.fetch("/builds/1", bearer(issuer.machine()))).status, 200);
      w.state.idp = () => new Response("down", { status: 502 });
      await sleep(2200); // past freshness (1 s), inside the stale window (4 s)
      const stale = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(stale.status, 200);
      assert.match(stale.headers.get("server-timing"), /jwks;desc="stale"/);
      await sleep(3500); // past fresh_until + stale_window
      const gone = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(gone.status, 503, await gone.clone().text());
      assert.ok(Number(gone.headers.get("retry-after")) > 0);
      assert.equal((await gone.json()).code, "jwks_unavailable");
    } finally {
      await w.dispose();
    }
  });

  const downs = {
    "502 from the start": () => new Response("bad gateway", { status: 502 }),
    "not JSON": () => new Response("<html>oops</html>", { status: 200 }),
    "an empty key set": () => json({ keys: [] }),
    "a timeout": () => sleep(3000).then(() => json({ keys: [] })),
  };
  for (const [name, idp] of Object.entries(downs)) {
    test(`IdP ${name} -> 503 and the origin sees nothing`, async () => {
      const issuer = new Issuer();
      const w = await boot(issuer, { cfg: config({ edge: { fetch_timeout_ms: 500 } }), idp });
      try {
        const res = await w.fetch("/builds/1", bearer(issuer.machine()));
        assert.equal(res.status, 503);
        assert.equal((await res.json()).code, "jwks_unavailable");
        assert.ok(res.headers.get("retry-after"));
        assert.equal(w.originCalls(), 0);
      } finally {
        await w.dispose();
      }
    });
  }
});

describe("forwarding", async () => {
  const issuer = new Issuer();
  const machine = issuer.machine("read:builds");

  test("the origin secret goes in x-tokengate-secret (or the configured header); the client's is replaced", async () => {
    for (const [edge, header] of [[{}, "x-tokengate-secret"], [{ origin_secret_header: "x-origin-key" }, "x-origin-key"]]) {
      const w = await boot(issuer, { cfg: config({ edge }), vars: { TOKENGATE_ORIGIN_SECRET: "s3cret" } });
      try {
        const seen = await (await w.fetch("/builds/1", { headers: { authorization: `Bearer ${machine}`, [header]: "forged" } })).json();
        assert.equal(seen.headers[header], "s3cret");
        const pub = await (await w.fetch("/health")).json();
        assert.equal(pub.headers[header], "s3cret");
      } finally {
        await w.dispose();
      }
    }
  });

  test("forward_authorization false drops the Authorization header", async () => {
    const w = await boot(issuer, { cfg: config({ edge: { forward_authorization: false } }) });
    try {
      const seen = await (await w.fetch("/builds/1", { headers: { authorization: `Bearer ${machine}`, "x-other": "1" } })).json();
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers["x-other"], "1");
      assert.equal(seen.headers["x-tokengate-kind"], "machine");
    } finally {
      await w.dispose();
    }
  });

  test("CORS preflights pass without a token only when configured", async () => {
    const preflight = { method: "OPTIONS", headers: { origin: "https://app.test", "access-control-request-method": "PUT", "x-tokengate-kind": "machine" } };
    const off = await boot(issuer);
    try {
      assert.equal((await off.fetch("/builds/1", preflight)).status, 401);
      assert.equal(off.originCalls(), 0);
    } finally {
      await off.dispose();
    }
    const on = await boot(issuer, { cfg: config({ edge: { cors_preflight_passthrough: true, server_timing: "basic" } }) });
    try {
      const res = await on.fetch("/builds/1", preflight);
      assert.equal(res.status, 200);
      const seen = await res.json();
      assert.equal(seen.method, "OPTIONS");
      assert.equal(seen.headers["x-tokengate-kind"], undefined);
      assert.match(res.headers.get("server-timing"), /desc="preflight"/);
    } finally {
      await on.dispose();
    }
  });

  test("the origin's status, status text, redirects and repeated headers come back as sent, plus Server-Timing when asked for", async () => {
    const w = await startWorker({
      vars: { TOKENGATE_CONFIG: JSON.stringify(config({ edge: { server_timing: "detail" } })) },
      outbound: (req) => {
        if (req.url === JWKS_URL) return json(issuer.jwks());
        const headers = new Headers({ location: "/elsewhere", "x-origin": "1" });
        headers.append("set-cookie", "a=1; Path=/");
        headers.append("set-cookie", "b=2; Path=/");
        return new Response("moved", { status: 302, statusText: "Found It", headers });
      },
    });
    try {
      const res = await w.fetch("/builds/1", { ...bearer(machine), redirect: "manual" });
      assert.equal(res.status, 302);
      assert.equal(res.statusText, "Found It");
      assert.equal(res.headers.get("location"), "/elsewhere");
      assert.equal(res.headers.get("x-origin"), "1");
      assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
      assert.match(res.headers.get("server-timing"), /^tokengate;dur=[0-9]+\.[0-9]{2};desc="allow", jwks;desc="fetched", verify;dur=[0-9]+\.[0-9]{2}$/);
      assert.equal(await res.text(), "moved");
    } finally {
      await w.dispose();
    }
  });

  test("a service binding named ORIGIN receives allowed requests (no origin URL)", async () => {
    const seen = [];
    const cfg = config();
    delete cfg.origin;
    const w = await startWorker({
      vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
      outbound: (req) => (req.url === JWKS_URL ? json(issuer.jwks()) : new Response("unexpected", { status: 599 })),
      services: {
        ORIGIN: async (req) => {
          seen.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body: await req.text() });
          return new Response("from the service");
        },
      },
    });
    try {
      const res = await w.fetch("/builds/3?x=1", { method: "PUT", body: "hello", headers: { authorization: `Bearer ${machine}`, "x-tokengate-kind": "user" } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "from the service");
      assert.equal(seen.length, 1);
      assert.equal(seen[0].method, "PUT");
      assert.equal(seen[0].url, "https://origin/builds/3?x=1");
      assert.equal(seen[0].body, "hello");
      assert.equal(seen[0].headers["x-tokengate-kind"], "machine");
      assert.equal((await w.fetch("/builds/3")).status, 401);
      assert.equal(seen.length, 1, "a denied request never reaches the service");
    } finally {
      await w.dispose();
    }
  });

  test("the origin gets the method the route was matched with (worker-rs' mapping: unknown -> GET)", async () => {
    const w = await boot(issuer);
    try {
      for (const [sent, seen] of [["PATCH", "PATCH"], ["PURGE", "GET"]]) {
        const res = await w.fetch("/builds/1", { method: sent, ...bearer(machine) });
        assert.equal(res.status, 200, sent);
        assert.equal((await res.json()).method, seen, sent);
      }
      const [, purge] = await w.requestLogs(2);
      assert.equal(purge.method, "GET");
    } finally {
      await w.dispose();
    }
  });

  test("no origin and no ORIGIN binding: 500 config_invalid, nothing forwarded", async () => {
    const cfg = config();
    delete cfg.origin;
    const w = await boot(issuer, { cfg });
    try {
      const res = await w.fetch("/health");
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.code, "config_invalid");
      assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
      assert.equal(w.originCalls(), 0);
    } finally {
      await w.dispose();
    }
  });
});

describe("request log (edge.log)", async () => {
  const issuer = new Issuer();
  const machine = issuer.machine("read:builds");

  test("default: one JSON line per request, never the token", async () => {
    const w = await boot(issuer);
    try {
      assert.equal((await w.fetch("/builds/1?q=1", bearer(machine))).status, 200);
      assert.equal((await w.fetch("/health")).status, 200);
      assert.equal((await w.fetch("/builds/1")).status, 401);
      assert.equal((await w.fetch("/builds/1", { method: "PUT", ...bearer(issuer.user([], "read:builds")) })).status, 403);
      const [allow, pub, missing, scope] = await w.requestLogs(4);
      assert.equal(allow.decision, "allow");
      assert.equal(allow.status, 200);
      assert.equal(allow.method, "GET");
      assert.equal(allow.path, "/builds/1");
      assert.equal(allow.route, 2);
      assert.equal(allow.kind, "machine");
      assert.equal(allow.subject, "svc-builder@clients");
      assert.equal(allow.client, "svc-builder");
      assert.equal(allow.jwks, "fetched");
      assert.equal(typeof allow.verify_ms, "number");
      assert.equal(typeof allow.total_ms, "number");
      assert.equal(pub.decision, "public");
      assert.equal(pub.path, "/health");
      assert.equal(pub.kind, null);
      assert.deepEqual([missing.decision, missing.status, missing.code], ["deny", 401, "token_missing"]);
      assert.deepEqual([scope.decision, scope.status, scope.code], ["deny", 403, "insufficient_scope"]);
      const signature = machine.split(".")[2];
      for (const l of w.logs) assert.ok(!l.message.includes(signature), "a token never reaches the log");
    } finally {
      await w.dispose();
    }
  });

  test("denials: allowed and public requests are not logged; denials, errors and stale keys are", async () => {
    const fastCache = { default_max_age: 1, min_max_age: 1, max_max_age: 1, cooldown: 1, stale_window: 60, refresh_ahead: 0 };
    const w = await boot(issuer, { cfg: config({ edge: { log: "denials", server_timing: "basic" }, jwks_cache: fastCache }) });
    try {
      assert.equal((await w.fetch("/builds/1", bearer(machine))).status, 200);
      assert.equal((await w.fetch("/health")).status, 200);
      const bad = await w.fetch("/builds/1", bearer("abc.def.ghi"));
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get("server-timing"), /tokengate;dur=[0-9]+\.[0-9]{2};desc="deny"/);
      const [first] = await w.requestLogs(1);
      assert.deepEqual([first.decision, first.code, first.path], ["deny", "token_malformed", "/builds/1"]);
      // A stale key set is worth a line even though the request is let through.
      w.state.idp = () => new Response("down", { status: 502 });
      await sleep(2200);
      const stale = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(stale.status, 200);
      const [, second] = await w.requestLogs(2);
      assert.deepEqual([second.decision, second.jwks, second.status], ["allow", "stale", 200]);
      await sleep(300);
      assert.equal(w.requestLines().length, 2);
    } finally {
      await w.dispose();
    }
  });

  test("off: no request lines", async () => {
    const w = await boot(issuer, { cfg: config({ edge: { log: "off" } }) });
    try {
      assert.equal((await w.fetch("/builds/1", bearer(machine))).status, 200);
      assert.equal((await w.fetch("/builds/1")).status, 401);
      await sleep(500);
      assert.deepEqual(w.requestLines(), []);
    } finally {
      await w.dispose();
    }
  });

  for (const value of ["debug", 3, null]) {
    test(`edge.log ${JSON.stringify(value)} -> 500 config_invalid, the log line naming the field`, async () => {
      const w = await boot(issuer, { cfg: config({ edge: { log: value } }) });
      try {
        const res = await w.fetch("/health");
        assert.equal(res.status, 500);
        const body = await res.json();
        assert.equal(body.code, "config_invalid");
        assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
        const [line] = await w.requestLogs(1);
        assert.match(line.message, /edge\.log: must be "all", "denials" or "off"/);
        assert.equal(w.originCalls(), 0);
      } finally {
        await w.dispose();
      }
    });
  }
});

describe("configuration errors", async () => {
  const bad = {
    "an empty object": "{}",
    "not JSON": "{nope",
    "unknown key": JSON.stringify({ ...config(), colour: "blue" }),
    "http jwks_uri": JSON.stringify(config({ issuers: [{ issuer: "https://idp.test/", audiences: ["a"], jwks_uri: "http://idp.test/jwks" }] })),
  };
  for (const [name, value] of Object.entries(bad)) {
    test(`${name} -> 500 for every request, origin untouched`, async () => {
      const issuer = new Issuer();
      const w = await startWorker({
        vars: { TOKENGATE_CONFIG: value },
        outbound: () => new Response("should not be called"),
      });
      try {
        for (const path of ["/health", "/builds/1"]) {
          const res = await w.fetch(path, bearer(issuer.machine()));
          assert.equal(res.status, 500);
          const body = await res.json();
          assert.equal(body.code, "config_invalid");
          assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
        }
        assert.equal(w.outboundCalls.length, 0);
      } finally {
        await w.dispose();
      }
    });
  }
});

describe("an origin that fails", async () => {
  // The origin's fetch rejects (a service-bound Worker that throws): the answer is the
  // authorizer's own 500, never the runtime's error page, and the line is logged. Both
  // ways an origin's answer is carried out: settled in JS (no Server-Timing) and
  // awaited in Rust (Server-Timing on).
  const issuer = new Issuer();
  for (const [timing, log] of [["off", "denials"], ["off", "all"], ["off", "off"], ["basic", "denials"]]) {
    test(`server_timing ${timing}, edge.log ${log}`, async () => {
      const cfg = config({ origin: undefined, edge: { log, server_timing: timing } });
      const w = await startWorker({
        vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
        outbound: (req) => (req.url === JWKS_URL ? json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } }) : new Response("unexpected", { status: 599 })),
        serviceWorkers: { ORIGIN: 'export default { async fetch() { throw new Error("origin down"); } }' },
      });
      try {
        for (const [path, init] of [["/builds/1", bearer(issuer.machine("read:builds"))], ["/health", {}]]) {
          const res = await w.fetch(path, init);
          assert.equal(res.status, 500, path);
          assert.equal(res.headers.get("content-type"), "application/json");
          assert.equal(res.headers.get("cache-control"), "no-store");
          assert.equal((await res.json()).code, "internal_error");
        }
        if (log === "off") {
          await sleep(300);
          assert.equal(w.logs.filter((l) => l.message.startsWith('{"tokengate"')).length, 0);
          return;
        }
        const lines = await w.requestLogs(2);
        assert.deepEqual(lines.map((l) => [l.path, l.decision, l.status, l.code]), [
          ["/builds/1", "error", 500, "internal_error"],
          ["/health", "error", 500, "internal_error"],
        ]);
        for (const l of lines) {
          assert.match(l.message, /the origin's fetch failed: origin down/);
          assert.equal(typeof l.total_ms, "number");
        }
      } finally {
        await w.dispose();
      }
    });
  }
});

// A shared-secret (HMAC) issuer. The Worker's core is built without `hmac-sha512`:
// HS256 is checked in Rust, HS384 and HS512 through WebCrypto (crates/webcrypto).
describe("HMAC tokens from a shared-secret issuer", () => {
  const secret = crypto.randomBytes(64);
  const b64u = (b) => Buffer.from(b).toString("base64url");
  function hs(alg, claims, key = secret) {
    const now = Math.floor(Date.now() / 1000);
    const h = b64u(JSON.stringify({ alg, typ: "at+jwt" }));
    const p = b64u(JSON.stringify({ iss: "https://hs.test/", aud: "https://api.example.com", sub: "svc@clients", gty: "client-credentials", scope: "read:builds", iat: now, exp: now + 600, ...claims }));
    const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
    return `${h}.${p}.${b64u(crypto.createHmac(hash, key).update(`${h}.${p}`).digest())}`;
  }
  const cfg = config({
    issuers: [{ issuer: "https://hs.test/", audiences: ["https://api.example.com"], shared_secret: "HS_SECRET", algorithms: ["HS256", "HS384", "HS512"] }],
  });

  for (const alg of ["HS256", "HS384", "HS512"]) {
    test(`${alg}: the right secret passes; another secret, a cut tag and a flipped bit are 401`, async () => {
      const w = await boot(new Issuer(), { cfg, vars: { HS_SECRET: b64u(secret) } });
      try {
        // Twice: the first import of the key, then the kept one.
        for (let i = 0; i < 2; i++) {
          const res = await w.fetch("/builds/1", bearer(hs(alg, { jti: `ok-${i}` })));
          const body = await res.json();
          assert.equal(res.status, 200, JSON.stringify(body));
          assert.equal(body.headers["x-tokengate-kind"], "machine");
        }
        const good = hs(alg, { jti: "bad" });
        const [h, p, tag] = good.split(".");
        const raw = Buffer.from(tag, "base64url");
        const flipped = Buffer.from(raw);
        flipped[0] ^= 1;
        for (const [what, token] of [
          ["another secret", hs(alg, { jti: "other" }, crypto.randomBytes(64))],
          ["a cut tag", `${h}.${p}.${b64u(raw.subarray(0, raw.length - 1))}`],
          ["a flipped bit", `${h}.${p}.${b64u(flipped)}`],
        ]) {
          const res = await w.fetch("/builds/1", bearer(token));
          const body = await res.json();
          assert.equal(res.status, 401, `${what}: ${JSON.stringify(body)}`);
          assert.equal(body.error, "invalid_token", what);
        }
        assert.equal(w.originCalls(), 2, "only the valid tokens reached the origin");
      } finally {
        await w.dispose();
      }
    });
  }
});
