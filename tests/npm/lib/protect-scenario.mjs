// The route helpers (protect, denyResponse, forwardHeaders, identityHeaders) against
// one runtime's own Request, Response and Headers. protect.test.mjs runs this file in
// Node.js, Bun and Deno; it prints "protect scenario: ok" when every check passed and
// exits non-zero (an assertion's message) otherwise.

import assert from "node:assert/strict";
import { createVerifier, decode, protect, denyResponse, forwardHeaders, identityHeaders } from "tokengate";
import { AUDIENCE, jwksOf, machineClaims, makeKeys, now, sign, userClaims } from "./harness.mjs";

const ISSUER = "https://idp.test/";
const keys = makeKeys();
let built = 0;
const verifier = () => {
  built += 1;
  return (verifier.v ??= createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([keys.rs, keys.es, keys.ed]) }));
};
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const requirement = (request) => ({
  scopesAll: [WRITES.has(request.method) ? "update:builds" : "read:builds"],
  machinesBypassScopes: true,
});
const calls = [];
const handler = protect(verifier, requirement, (request, principal, context) => {
  calls.push({ principal, context });
  return Response.json({ kind: principal.kind, subject: principal.subject, upstream: Object.fromEntries(forwardHeaders(request.headers, principal)) });
});
const req = (method, token, headers = {}) =>
  new Request("https://api.test/builds/1", { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

// No token: 401, the bare challenge, the edge's body; the handler is not called.
let res = await handler(req("GET"));
assert.equal(res.status, 401);
assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="tokengate"');
assert.equal(res.headers.get("cache-control"), "no-store");
assert.match(res.headers.get("content-type"), /^application\/json/);
assert.deepEqual(await res.json(), { code: "token_missing", error: "unauthorized", error_description: "no access token was presented" });

// Another scheme: 400 invalid_request.
res = await handler(req("GET", null, { authorization: "Basic dTpw" }));
assert.equal(res.status, 400);
assert.equal((await res.json()).code, "invalid_request");

// A forged signature and an expired token: 401 invalid_token with the challenge.
const user = sign(keys.es, userClaims(ISSUER));
const forged = `${user.slice(0, user.lastIndexOf(".") + 1)}${"A".repeat(86)}`;
res = await handler(req("GET", forged));
assert.equal(res.status, 401);
assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
res = await handler(req("GET", sign(keys.rs, userClaims(ISSUER, { iat: now() - 7200, exp: now() - 3600 }))));
assert.equal(res.status, 401);
assert.equal((await res.json()).code, "token_expired");

// A user without update:builds may read, not write: 403 with the scope asked for.
res = await handler(req("PUT", user));
assert.equal(res.status, 403);
assert.match(res.headers.get("www-authenticate"), /error="insufficient_scope".*scope="update:builds"/);
assert.equal((await res.json()).code, "insufficient_scope");
assert.equal(calls.length, 0, "no refused request reached the handler");

// Allowed: the handler gets the principal and what the framework passed after the request.
res = await handler(req("GET", user, { "x-tokengate-kind": "machine", X_Tokengate_Subject: "admin", "x-http-method-override": "DELETE", "x-request-id": "r1" }), { params: { id: "1" } });
assert.equal(res.status, 200);
let body = await res.json();
assert.equal(body.kind, "user");
assert.deepEqual(calls[0].context, { params: { id: "1" } });
// Upstream headers: spoofed identity and method overrides dropped, identity set, others kept.
assert.equal(body.upstream["x-tokengate-kind"], "user");
assert.equal(body.upstream["x-tokengate-subject"], "auth0|user-1");
assert.equal(body.upstream["x-tokengate-client-id"], "spa-client");
assert.equal(body.upstream["x-tokengate-scopes"], "openid profile read:builds");
assert.equal(body.upstream["x-tokengate-issuer"], ISSUER);
assert.equal(body.upstream["x-http-method-override"], undefined);
assert.equal(body.upstream.x_tokengate_subject, undefined);
assert.equal(body.upstream["x-request-id"], "r1");
assert.ok(body.upstream.authorization.startsWith("Bearer "));

// A machine may write without the scope.
res = await handler(req("DELETE", sign(keys.ed, machineClaims(ISSUER))));
assert.equal(res.status, 200);
body = await res.json();
assert.equal(body.kind, "machine");
assert.equal(body.upstream["x-tokengate-client-id"], "ci-bot");
assert.equal(body.upstream["x-tokengate-user-id"], undefined);
assert.ok(built >= 1, "the verifier function was called");

// identityHeaders: values encoded as the edge encodes them; the client name when given.
const p = calls[0].principal;
const ids = identityHeaders({ ...p, subject: "a b\né", actor: { sub: "svc", act: { sub: "outer" } } }, { clientName: "Build runner" });
assert.equal(ids["x-tokengate-subject"], "a%20b%0A%C3%A9");
assert.equal(ids["x-tokengate-client-name"], "Build%20runner");
assert.equal(ids["x-tokengate-actor"], "svc outer");
assert.deepEqual(Object.keys(identityHeaders(p)), ["x-tokengate-kind", "x-tokengate-subject", "x-tokengate-client-id", "x-tokengate-scopes", "x-tokengate-issuer", "x-tokengate-user-id"]);
// forwardHeaders options: the Authorization header can be held back; a custom secret header is dropped.
const fwd = forwardHeaders(new Headers({ authorization: "Bearer x", "x-origin-key": "guess", host: "a" }), p, { forwardAuthorization: false, originSecretHeader: "x-origin-key" });
assert.equal(fwd.get("authorization"), null);
assert.equal(fwd.get("x-origin-key"), null);
assert.equal(fwd.get("host"), null);

// denyResponse: a 5xx tells the client the fixed text, not the message.
const origError = console.error;
const logged = [];
console.error = (...a) => logged.push(a.join(" "));
try {
  res = denyResponse({ code: "jwks_unavailable", message: "fetch https://idp.internal/jwks failed: ECONNREFUSED", status: 503, wwwAuthenticate: null });
} finally {
  console.error = origError;
}
assert.equal(res.status, 503);
body = await res.json();
assert.equal(body.code, "jwks_unavailable");
assert.doesNotMatch(body.error_description, /idp\.internal/);
assert.match(logged[0], /idp\.internal/);

// Bad arguments are TypeErrors that name the function.
assert.throws(() => protect(null, null, () => {}), { name: "TypeError", message: /protect/ });
assert.throws(() => protect(verifier, null, "no"), { name: "TypeError", message: /handler/ });
assert.throws(() => denyResponse({ code: "no_such_code", message: "", status: 400 }), { name: "TypeError", message: /unknown error code/ });
assert.throws(() => identityHeaders(null), { name: "TypeError" });
assert.throws(() => identityHeaders({ kind: "robot", subject: "x", issuer: "i" }), { name: "TypeError", message: /not a principal/ });
assert.equal(decode("x").ok, false);

console.log("protect scenario: ok");
