// The Worker's own settings (`edge`, `origin`; crates/worker/src/settings.rs): a bad value
// is a 500 config_invalid whose log line names the field, and the one key-fetch timeout
// (`jwks_cache.fetch_timeout_ms`, with `edge.fetch_timeout_ms` its alias) is honoured.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { startWorker, json } from "./harness.mjs";
import { Issuer } from "./tokens.mjs";

const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const ORIGIN = "https://origin.test";

function config(overrides = {}) {
  return {
    issuers: [{ issuer: "https://idp.test/", audiences: ["https://api.example.com"], jwks_uri: JWKS_URL }],
    origin: ORIGIN,
    routes: [
      { path: "/builds/*", require: { scopes_any: ["read:builds"] } },
      { path: "/health", public: true },
    ],
    ...overrides,
  };
}

/** Starts the Worker with an IdP answering through `idp` and an origin that says ok. */
async function boot(cfg, idp = () => new Response("no IdP here", { status: 599 })) {
  return startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
    outbound: (req) => {
      if (req.url === JWKS_URL) return idp(req);
      if (new URL(req.url).origin === ORIGIN) return new Response("origin ok");
      return new Response("unexpected", { status: 599 });
    },
  });
}

/** The request gets a 500 config_invalid and its log line matches `message`. */
async function assertConfigError(w, message) {
  const res = await w.fetch("/health");
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.code, "config_invalid");
  assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
  const [line] = await w.requestLogs(1);
  assert.equal(line.decision, "config_error");
  assert.match(line.message, message);
  assert.equal(w.callsTo("origin.test").length, 0);
}

describe("a bad Worker setting names its path", async () => {
  const cases = [
    [{ edge: { cookie: 5 } }, /invalid configuration: edge\.cookie: invalid type: integer `5`, expected a string/],
    [{ edge: { cookie: "a=b" } }, /edge\.cookie: is not a valid cookie name/],
    [{ edge: { colour: "blue" } }, /edge\.colour: unknown field `colour`, expected one of .*`log`/],
    [{ edge: { forward_authorization: "yes" } }, /edge\.forward_authorization: invalid type: string "yes", expected a boolean/],
    [{ edge: { cors_preflight_passthrough: 1 } }, /edge\.cors_preflight_passthrough: invalid type/],
    [{ edge: { origin_secret_header: "x secret" } }, /edge\.origin_secret_header: is not a valid header name/],
    [{ edge: { fetch_timeout_ms: 0 } }, /edge\.fetch_timeout_ms: must be between 1 and 60000/],
    [{ edge: { fetch_timeout_ms: "300" } }, /edge\.fetch_timeout_ms: invalid type: string "300"/],
    [{ edge: { server_timing: "full" } }, /edge\.server_timing: must be "off", "basic" or "detail"/],
    [{ edge: { log: "debug" } }, /edge\.log: must be "all", "denials" or "off"/],
    [{ edge: ["cookie"] }, /invalid configuration: edge: must be an object/],
    [{ origin: "ftp://origin.test" }, /invalid configuration: origin: must be an http:\/\/ or https:\/\/ url/],
    [{ origin: 7 }, /invalid configuration: origin: must be an http:\/\/ or https:\/\/ url/],
  ];
  for (const [overrides, message] of cases) {
    test(`${JSON.stringify(overrides)} -> 500, ${message}`, async () => {
      const w = await boot(config(overrides));
      try {
        await assertConfigError(w, message);
      } finally {
        await w.dispose();
      }
    });
  }

  test("the core's own errors still name their fields beside the Worker's sections", async () => {
    const w = await boot(config({ edge: { log: "denials" }, leeway: 7200 }));
    try {
      await assertConfigError(w, /invalid configuration: leeway: must be at most 3600 seconds/);
    } finally {
      await w.dispose();
    }
  });
});

describe("one key-fetch timeout: jwks_cache.fetch_timeout_ms, edge.fetch_timeout_ms its alias", async () => {
  const issuer = new Issuer();
  // The IdP answers with the right keys, but only after 1.5 s.
  const slow = () =>
    new Promise((r) => setTimeout(() => r(json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } })), 1500));

  for (const [name, overrides] of [
    ["jwks_cache.fetch_timeout_ms", { jwks_cache: { fetch_timeout_ms: 300 } }],
    ["its alias edge.fetch_timeout_ms", { edge: { fetch_timeout_ms: 300 } }],
  ]) {
    test(`${name}: 300 ms cuts a 1.5 s key fetch short (503, "timed out after 300 ms")`, async () => {
      const w = await boot(config(overrides), slow);
      try {
        const t0 = Date.now();
        const res = await w.fetch("/builds/1", { headers: { authorization: `Bearer ${issuer.machine()}` } });
        const took = Date.now() - t0;
        assert.equal(res.status, 503);
        assert.equal((await res.json()).code, "jwks_unavailable");
        assert.ok(took < 1400, `answered after ${took} ms, so the 1.5 s fetch was waited for`);
        const [line] = await w.requestLogs(1);
        assert.match(line.message, /timed out after 300 ms/);
      } finally {
        await w.dispose();
      }
    });
  }

  test("by default (5000 ms) the same slow key fetch is waited for", async () => {
    const w = await boot(config(), slow);
    try {
      const res = await w.fetch("/builds/1", { headers: { authorization: `Bearer ${issuer.machine()}` } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), "origin ok");
    } finally {
      await w.dispose();
    }
  });

  test("both keys at once are a configuration error naming the alias", async () => {
    const w = await boot(config({ edge: { fetch_timeout_ms: 300 }, jwks_cache: { fetch_timeout_ms: 300 } }));
    try {
      await assertConfigError(
        w,
        /edge\.fetch_timeout_ms: is an alias of jwks_cache\.fetch_timeout_ms: give only jwks_cache\.fetch_timeout_ms/,
      );
    } finally {
      await w.dispose();
    }
  });

  test("a bad jwks_cache.fetch_timeout_ms names its own path", async () => {
    const w = await boot(config({ jwks_cache: { fetch_timeout_ms: 60001 } }));
    try {
      await assertConfigError(w, /jwks_cache\.fetch_timeout_ms/);
    } finally {
      await w.dispose();
    }
  });
});
