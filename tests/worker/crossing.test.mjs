// What crosses the edge (the built Worker in workerd): inbound identity, origin-secret
// and method-override headers are dropped in every spelling an origin may fold
// together, on every path; `_method` query overrides are refused; identity header
// values reach the origin percent-encoded, exactly; 500 and 503 bodies carry no
// internals; Server-Timing is opt-in; preflights pass only on canonical paths.

import { test, describe, after } from "node:test";
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
      { path: "/builds/*", methods: ["POST", "PUT", "DELETE"], require: { scopes_any: ["update:builds"], machines_bypass_scopes: true } },
      { path: "/builds/*", require: { scopes_any: ["read:builds"] } },
      { path: "/health", public: true },
      { path: "/hooks/*", methods: ["POST"], public: true },
    ],
    unmatched: "any_valid_token",
    ...overrides,
  };
}

/** Starts the Worker with a mocked IdP and an origin that echoes what it received. */
async function boot(issuer, { cfg = config(), vars = {}, idp, kv = {} } = {}) {
  const w = await startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg), ...vars },
    kv,
    outbound: async (req) => {
      if (req.url === JWKS_URL) return idp ? idp(req) : json(issuer.jwks());
      if (new URL(req.url).origin === ORIGIN) {
        return json({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers) });
      }
      return new Response("unexpected", { status: 599 });
    },
  });
  w.originCalls = () => w.callsTo("origin.test").length;
  return w;
}

const bearer = (t, extra = {}) => ({ headers: { authorization: `Bearer ${t}`, ...extra } });

/** The header names a CGI-style origin would read as a reserved one. */
const folded = (headers, names) =>
  Object.keys(headers).filter((k) => names.includes(k.toLowerCase().replaceAll("_", "-")));

const SPOOFED = {
  X_Tokengate_Kind: "machine",
  "x-TOKENGATE-subject": "root",
  X_TOKENGATE_SUBJECT: "root",
  "x_tokengate-client_id": "admin-app",
  X_TOKENGATE_SCOPES: "update:builds admin",
  "X-Tokengate-User_Id": "auth0|admin",
  x_tokengate_whatever: "1",
  X_TOKENGATE_SECRET: "forged",
  "x-custom": "kept",
  x_custom_underscore: "kept",
};
const IDENTITY = [
  "x-tokengate-kind",
  "x-tokengate-subject",
  "x-tokengate-client-id",
  "x-tokengate-client-name",
  "x-tokengate-scopes",
  "x-tokengate-issuer",
  "x-tokengate-user-id",
  "x-tokengate-actor",
  "x-tokengate-whatever",
  "x-tokengate-secret",
];
const OVERRIDES = { "X-HTTP-Method-Override": "DELETE", X_HTTP_METHOD_OVERRIDE: "DELETE", "x-method-override": "DELETE", X_Method_Override: "DELETE", "X-HTTP-Method": "DELETE", x_http_method: "DELETE" };
const OVERRIDE_NAMES = ["x-http-method-override", "x-method-override", "x-http-method"];

describe("inbound reserved headers, in every spelling, on every path", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, {
    cfg: config({ edge: { cors_preflight_passthrough: true } }),
    vars: { TOKENGATE_ORIGIN_SECRET: "s3cret" },
  });
  after(() => w.dispose());
  const machine = issuer.machine("read:builds");

  const check = (seen, { identity }) => {
    for (const name of IDENTITY) {
      const got = folded(seen.headers, [name]);
      const mine = name === "x-tokengate-secret" || (identity && !["x-tokengate-whatever", "x-tokengate-client-name", "x-tokengate-user-id", "x-tokengate-actor"].includes(name));
      assert.deepEqual(got, mine ? [name] : [], `${name}: ${JSON.stringify(seen.headers)}`);
    }
    assert.equal(seen.headers["x-tokengate-secret"], "s3cret");
    assert.equal(seen.headers["x-custom"], "kept");
    assert.equal(seen.headers["x_custom_underscore"], "kept");
    assert.deepEqual(folded(seen.headers, OVERRIDE_NAMES), []);
  };

  test("an allowed request: only the edge's own identity headers arrive", async () => {
    const res = await w.fetch("/builds/1", bearer(machine, { ...SPOOFED, ...OVERRIDES }));
    assert.equal(res.status, 200, await res.clone().text());
    const seen = await res.json();
    check(seen, { identity: true });
    assert.equal(seen.headers["x-tokengate-kind"], "machine");
    assert.equal(seen.headers["x-tokengate-subject"], "svc-builder@clients");
    assert.equal(seen.headers["x-tokengate-scopes"], "read:builds");
    assert.equal(seen.method, "GET");
  });

  test("a public route", async () => {
    const res = await w.fetch("/health", { headers: { ...SPOOFED, ...OVERRIDES } });
    assert.equal(res.status, 200);
    check(await res.json(), { identity: false });
  });

  test("a passed-through preflight", async () => {
    const res = await w.fetch("/builds/1", {
      method: "OPTIONS",
      headers: { origin: "https://app.test", "access-control-request-method": "PUT", ...SPOOFED, ...OVERRIDES },
    });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.method, "OPTIONS");
    check(seen, { identity: false });
  });

  test("a method-override header never reaches the origin: a POST stays a POST", async () => {
    const token = issuer.machine("update:builds");
    for (const [name, value] of Object.entries(OVERRIDES)) {
      const res = await w.fetch("/builds/1", { method: "POST", body: "{}", ...bearer(token, { [name]: value }) });
      assert.equal(res.status, 200, name);
      const seen = await res.json();
      assert.equal(seen.method, "POST", name);
      assert.deepEqual(folded(seen.headers, OVERRIDE_NAMES), [], name);
    }
  });
});

describe("a configured origin-secret header", async () => {
  test("is dropped in every spelling, with or without the secret set", async () => {
    const issuer = new Issuer();
    for (const vars of [{ TOKENGATE_ORIGIN_SECRET: "s3cret" }, {}]) {
      const w = await boot(issuer, { cfg: config({ edge: { origin_secret_header: "x-origin-key" } }), vars });
      try {
        const spoof = { "X-Origin-Key": "forged", X_ORIGIN_KEY: "forged", x_origin_key: "forged", "x_origin-KEY": "forged" };
        for (const res of [await w.fetch("/health", { headers: spoof }), await w.fetch("/builds/1", bearer(issuer.machine(), spoof))]) {
          assert.equal(res.status, 200);
          const seen = await res.json();
          const got = folded(seen.headers, ["x-origin-key"]);
          if (vars.TOKENGATE_ORIGIN_SECRET) {
            assert.deepEqual(got, ["x-origin-key"]);
            assert.equal(seen.headers["x-origin-key"], "s3cret");
          } else {
            assert.deepEqual(got, []);
          }
        }
      } finally {
        await w.dispose();
      }
    }
  });
});

describe("_method query parameters", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer);
  after(() => w.dispose());
  const writer = issuer.user(["update:builds"], "read:builds");

  for (const query of ["_method=DELETE", "a=1&_method=delete", "_METHOD=PUT", "%5Fmethod=DELETE", "_method[]=DELETE", "_method=", ".method=PATCH"]) {
    test(`POST ?${query} -> 400 method_override_rejected, the origin sees nothing`, async () => {
      const before = w.originCalls();
      const res = await w.fetch(`/builds/1?${query}`, { method: "POST", body: "{}", ...bearer(writer) });
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.code, "method_override_rejected");
      assert.equal(body.error, "invalid_request");
      assert.match(res.headers.get("www-authenticate"), /error="invalid_request"/);
      assert.equal(w.originCalls(), before);
    });
  }

  test("on a public route and without a token too", async () => {
    const res = await w.fetch("/hooks/1?_method=DELETE", { method: "POST", body: "{}" });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "method_override_rejected");
    const get = await w.fetch("/health?_method=POST");
    assert.equal(get.status, 400);
  });

  test("naming the request's own method is fine, and the query reaches the origin as sent", async () => {
    for (const [method, query] of [["POST", "_method=post"], ["POST", "_method=POST&x=1"], ["GET", "_method=GET"], ["DELETE", "_method=delete"]]) {
      const res = await w.fetch(`/builds/1?${query}`, { method, ...(method === "POST" ? { body: "{}" } : {}), ...bearer(writer) });
      assert.equal(res.status, 200, `${method} ${query}`);
      const seen = await res.json();
      assert.equal(seen.method, method);
      assert.equal(seen.url, `${ORIGIN}/builds/1?${query}`);
    }
  });
});

describe("identity header values", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, { kv: { CLIENTS: { "odd-client": { name: "Ünïcode CI\r\nX-Injected: 1" } } } });
  after(() => w.dispose());

  for (const [name, sub, encoded] of [
    ["a newline", "auth0|a\nb", "auth0|a%0Ab"],
    ["CR LF and a fake header", "x\r\nx-tokengate-kind: machine", "x%0D%0Ax-tokengate-kind:%20machine"],
    ["non-ASCII", "usér|é😀", "us%C3%A9r|%C3%A9%F0%9F%98%80"],
    ["a percent sign", "100%|%41", "100%25|%2541"],
    ["a space, a tab and a NUL", "a b\tc\u0000", "a%20b%09c%00"],
    ["typical values unchanged", "auth0|abc123", "auth0|abc123"],
  ]) {
    test(`a sub with ${name} reaches the origin percent-encoded, exactly`, async () => {
      const token = issuer.user([], "read:builds", { sub });
      const res = await w.fetch("/builds/1", bearer(token));
      assert.equal(res.status, 200, await res.clone().text());
      const seen = await res.json();
      assert.equal(seen.headers["x-tokengate-subject"], encoded);
      assert.equal(seen.headers["x-tokengate-user-id"], encoded);
      assert.equal(decodeURIComponent(seen.headers["x-tokengate-subject"]), sub);
      assert.equal(seen.headers["x-tokengate-kind"], "user");
    });
  }

  test("a registry name with odd characters is encoded; scopes are joined by one space", async () => {
    const token = issuer.sign({ sub: "odd-client@clients", azp: "odd-client", gty: "client-credentials", scope: "read:builds update:builds" });
    const res = await w.fetch("/builds/1", bearer(token));
    assert.equal(res.status, 200, await res.clone().text());
    const seen = await res.json();
    assert.equal(seen.headers["x-tokengate-client-id"], "odd-client");
    assert.equal(seen.headers["x-tokengate-client-name"], "%C3%9Cn%C3%AFcode%20CI%0D%0AX-Injected:%201");
    assert.equal(decodeURIComponent(seen.headers["x-tokengate-client-name"]), "Ünïcode CI\r\nX-Injected: 1");
    assert.equal(seen.headers["x-injected"], undefined);
    assert.equal(seen.headers["x-tokengate-scopes"], "read:builds update:builds");
  });
});

describe("500 and 503 bodies say what the client can do, the log says why", async () => {
  const issuer = new Issuer();

  for (const [name, idp, detail] of [
    ["the IdP answers HTML", () => new Response("<html>oops</html>"), /not valid JSON/],
    ["the IdP answers 502", () => new Response("bad gateway", { status: 502 }), /502/],
    ["the IdP times out", () => new Promise((r) => setTimeout(() => r(json({ keys: [] })), 2000)), /timed out/],
  ]) {
    test(`${name}: 503 with retry-after, no URL and no fetch error in the body`, async () => {
      const w = await boot(issuer, { cfg: config({ edge: { fetch_timeout_ms: 300 } }), idp });
      try {
        const res = await w.fetch("/builds/1", bearer(issuer.machine()));
        assert.equal(res.status, 503);
        const retry = Number(res.headers.get("retry-after"));
        assert.ok(retry > 0);
        const text = await res.text();
        const body = JSON.parse(text);
        assert.equal(body.code, "jwks_unavailable");
        assert.equal(body.error, "temporarily_unavailable");
        assert.equal(body.error_description, `the token issuer's signing keys are unavailable right now; retry after ${retry} seconds`);
        for (const leak of ["idp.test", "http", "fetch", "502", "timed out", "jwks.json", "JSON", "html"]) {
          assert.ok(!text.includes(leak), `the body carries ${leak}: ${text}`);
        }
        const [line] = await w.requestLogs(1);
        assert.equal(line.code, "jwks_unavailable");
        assert.match(line.message, detail);
        assert.equal(w.originCalls(), 0);
      } finally {
        await w.dispose();
      }
    });
  }

  test("a configuration error: 500 config_invalid, the diagnostic only in the log", async () => {
    const cfg = config({ issuers: [{ issuer: "https://idp.test/", audiences: ["a"], jwks_uri: "http://idp.internal.example/jwks" }] });
    const w = await boot(issuer, { cfg });
    try {
      const res = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), {
        error: "server_error",
        error_description: "the authorizer is misconfigured; see its logs",
        code: "config_invalid",
      });
      assert.ok(!text.includes("jwks_uri") && !text.includes("idp.internal"), text);
      const [line] = await w.requestLogs(1);
      assert.equal(line.decision, "config_error");
      assert.match(line.message, /issuers\[0\]\.jwks_uri: must be https/);
      assert.equal(w.outboundCalls.length, 0);
    } finally {
      await w.dispose();
    }
  });

  test("no origin configured: 500 config_invalid with a generic body", async () => {
    const cfg = config();
    delete cfg.origin;
    const w = await boot(issuer, { cfg });
    try {
      const res = await w.fetch("/health");
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.code, "config_invalid");
      assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
      const [line] = await w.requestLogs(1);
      assert.match(line.message, /no origin is configured/);
    } finally {
      await w.dispose();
    }
  });
});

describe("Server-Timing is opt-in (edge.server_timing)", async () => {
  const issuer = new Issuer();

  test("default: no Server-Timing on any response", async () => {
    const w = await boot(issuer);
    try {
      for (const [path, init, status] of [
        ["/builds/1", bearer(issuer.machine()), 200],
        ["/health", {}, 200],
        ["/builds/1", {}, 401],
        ["/builds/1", bearer("abc.def.ghi"), 401],
      ]) {
        const res = await w.fetch(path, init);
        assert.equal(res.status, status);
        assert.equal(res.headers.get("server-timing"), null, `${path} ${status}`);
      }
    } finally {
      await w.dispose();
    }
  });

  test("basic: the total time and the decision only", async () => {
    const w = await boot(issuer, { cfg: config({ edge: { server_timing: "basic" } }) });
    try {
      const ok = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.match(ok.headers.get("server-timing"), /^tokengate;dur=[0-9]+\.[0-9]{2};desc="allow"$/);
      const no = await w.fetch("/builds/1");
      assert.match(no.headers.get("server-timing"), /^tokengate;dur=[0-9]+\.[0-9]{2};desc="deny"$/);
    } finally {
      await w.dispose();
    }
  });

  test("detail: plus the JWKS cache outcome and the verify time", async () => {
    const w = await boot(issuer, { cfg: config({ edge: { server_timing: "detail" } }) });
    try {
      const res = await w.fetch("/builds/1", bearer(issuer.machine()));
      assert.match(res.headers.get("server-timing"), /^tokengate;dur=[0-9]+\.[0-9]{2};desc="allow", jwks;desc="fetched", verify;dur=[0-9]+\.[0-9]{2}$/);
    } finally {
      await w.dispose();
    }
  });

  test("an invalid value is a configuration error naming the field (in the log)", async () => {
    const w = await boot(issuer, { cfg: config({ edge: { server_timing: true } }) });
    try {
      const res = await w.fetch("/health");
      assert.equal(res.status, 500);
      assert.equal((await res.json()).code, "config_invalid");
      const [line] = await w.requestLogs(1);
      assert.match(line.message, /edge\.server_timing: must be "off", "basic" or "detail"/);
    } finally {
      await w.dispose();
    }
  });
});

describe("CORS preflight pass-through only on canonical paths", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, { cfg: config({ edge: { cors_preflight_passthrough: true } }) });
  after(() => w.dispose());
  const preflight = { method: "OPTIONS", headers: { origin: "https://app.test", "access-control-request-method": "DELETE" } };

  for (const path of ["/a//b", "/builds//1", "/builds/1;x", "/builds/a%2Fb"]) {
    test(`a preflight on ${path} -> 400 path_rejected, the origin sees nothing`, async () => {
      const before = w.originCalls();
      const res = await w.fetch(path, preflight);
      assert.equal(res.status, 400, await res.clone().text());
      assert.equal((await res.json()).code, "path_rejected");
      assert.equal(w.originCalls(), before);
    });
  }

  test("a preflight on a canonical path still passes", async () => {
    const res = await w.fetch("/builds/1", preflight);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).method, "OPTIONS");
  });
});
