// Route matching in the built Worker: every spelling of a protected path that an
// origin framework would route to the same handler gets that route's decision or is
// refused (case, Unicode case folds, percent-escapes), case variants of a public path
// are not public, and a path no route names is denied by default.

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
      { path: "/health", public: true },
      { path: "/admin", require: { kinds: ["machine"] } },
      { path: "/admin/*", require: { kinds: ["machine"] } },
      { path: "/builds/*", require: { scopes_any: ["read:builds"] } },
    ],
    ...overrides,
  };
}

async function boot(issuer, cfg) {
  const w = await startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg) },
    outbound: async (req) => {
      if (req.url === JWKS_URL) return json(issuer.jwks(), { headers: { "cache-control": "max-age=600" } });
      if (new URL(req.url).origin === ORIGIN) return json({ path: new URL(req.url).pathname });
      return new Response("unexpected", { status: 599 });
    },
  });
  w.originCalls = () => w.callsTo("origin.test").length;
  return w;
}

const bearer = (t) => (t ? { headers: { authorization: `Bearer ${t}` } } : {});

describe("path spellings (unmatched: deny, the default)", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, config());
  after(() => w.dispose());
  const user = issuer.user([], "openid read:builds");
  const machine = issuer.machine("read:builds");

  const cases = [
    // [name, method, path, token, status, code]
    ["machine on /admin/x", "DELETE", "/admin/x", machine, 200],
    ["machine on bare /admin", "POST", "/admin", machine, 200],
    ["user on bare /admin", "POST", "/admin", user, 403, "kind_not_allowed"],
    ["user on /ADMIN/x", "DELETE", "/ADMIN/x", user, 403, "kind_not_allowed"],
    ["user on /Admin/x", "DELETE", "/Admin/x", user, 403, "kind_not_allowed"],
    ["user on /adm%C4%B1n/x (dotless i)", "DELETE", "/adm%C4%B1n/x", user, 403, "kind_not_allowed"],
    ["long s: /build%C5%BF/1 folds to /builds/1, its exact reading matches no route", "GET", "/build%C5%BF/1", user, 403, "denied_by_default"],
    ["user on fullwidth /ａdmin/x", "DELETE", "/%EF%BD%81dmin/x", user, 403, "kind_not_allowed"],
    ["user on /admin./x (trailing dot)", "DELETE", "/admin./x", user, 403, "kind_not_allowed"],
    ["machine on /ADMIN/x: the exact reading matches no route", "DELETE", "/ADMIN/x", machine, 403, "denied_by_default"],
    ["escaped unreserved /%61dmin/x", "DELETE", "/%61dmin/x", user, 400, "path_rejected"],
    ["escaped digit /admin/%31", "GET", "/admin/%31", machine, 400, "path_rejected"],
    ["escaped ~ is decoded (Java's URLEncoder)", "GET", "/admin/%7Ex", machine, 200],
    ["fullwidth dot segments are refused", "GET", "/builds/%EF%BC%8E%EF%BC%8E/admin", user, 400, "path_rejected"],
    ["malformed escape", "GET", "/builds/%zz", user, 400, "path_rejected"],
    ["encoded slash", "GET", "/admin%2Fx", user, 400, "path_rejected"],
    ["semicolon", "GET", "/admin;x=1/y", user, 400, "path_rejected"],
    ["double slash", "GET", "/admin//x", user, 400, "path_rejected"],
    ["public /health", "GET", "/health", null, 200],
    ["/HEALTH is not public", "GET", "/HEALTH", null, 401, "token_missing"],
    ["/health%20 is not public", "GET", "/health%20", null, 401, "token_missing"],
    ["escaped reserved @ is decoded", "GET", "/builds/a%40b", user, 200],
    ["unmatched path with a valid token", "GET", "/other", machine, 403, "denied_by_default"],
  ];
  for (const [name, method, path, token, status, code] of cases) {
    test(name, async () => {
      const before = w.originCalls();
      const res = await w.fetch(path, { method, ...bearer(token) });
      const body = await res.text();
      assert.equal(res.status, status, `${method} ${path}: ${body}`);
      if (status === 200) {
        assert.equal(w.originCalls(), before + 1);
        return;
      }
      assert.equal(w.originCalls(), before, "a refused request never reaches the origin");
      assert.equal(JSON.parse(body).code, code, body);
    });
  }
});

describe("path spellings (unmatched: any_valid_token)", async () => {
  const issuer = new Issuer();
  const w = await boot(issuer, config({ unmatched: "any_valid_token" }));
  after(() => w.dispose());
  const user = issuer.user([], "openid read:builds");
  const machine = issuer.machine("read:builds");

  test("a case variant gets the protected route's rule, not the default", async () => {
    const res = await w.fetch("/ADMIN/x", { method: "DELETE", ...bearer(user) });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, "kind_not_allowed");
    const ok = await w.fetch("/ADMIN/x", { method: "DELETE", ...bearer(machine) });
    const body = await ok.text();
    assert.equal(ok.status, 200, body);
    assert.equal(JSON.parse(body).path, "/ADMIN/x", "the path is forwarded as sent");
  });

  test("an unmatched path needs a valid token", async () => {
    assert.equal((await w.fetch("/other")).status, 401);
    assert.equal((await w.fetch("/other", bearer(user))).status, 200);
  });
});
