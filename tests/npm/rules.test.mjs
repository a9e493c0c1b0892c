// The core's rules as the package exports them for token inspectors (checkFetchUrl,
// discoveryUrl, jwksUriFromDiscovery, timeState, checkTyp, algorithms), through the
// ESM and CommonJS entries: the same answers as the verifier's own checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as esm from "tokengate";

const cjs = createRequire(import.meta.url)("tokengate");
const ISS = "https://tenant.example.com/";

for (const [entry, tg] of [["ESM", esm], ["CJS", cjs]]) {
  test(`checkFetchUrl (${entry}): https, or http on every loopback host`, () => {
    for (const u of ["https://k.example.com/j", "http://127.0.0.1:8/j", "http://127.0.0.2/j", "http://[::1]:8/j", "http://x.localhost/j", "http://localhost/j"]) {
      assert.deepEqual(tg.checkFetchUrl(u), { ok: true }, u);
    }
    for (const u of ["http://k.example.com/j", "http://localhost.example.com/j", "http://128.0.0.1/j", "https://u@k.example.com/j", "file:///etc/passwd"]) {
      const r = tg.checkFetchUrl(u);
      assert.equal(r.ok, false, u);
      assert.equal(typeof r.message, "string");
    }
    assert.match(tg.checkFetchUrl("http://k.example.com/j").message, /must be https/);
    assert.throws(() => tg.checkFetchUrl(1), TypeError);
    // A verifier refuses the same URL.
    assert.throws(() => tg.createVerifier({ issuer: ISS, audience: "a", jwksUri: "http://k.example.com/j" }), /must be https/);
  });

  test(`discovery (${entry}): the URL, and a document's issuer must be exactly the issuer`, () => {
    assert.deepEqual(tg.discoveryUrl(ISS), { ok: true, url: "https://tenant.example.com/.well-known/openid-configuration" });
    assert.equal(tg.discoveryUrl("http://tenant.example.com").ok, false);
    const doc = (v) => JSON.stringify(v);
    assert.deepEqual(tg.jwksUriFromDiscovery(doc({ issuer: ISS, jwks_uri: "https://k.example.com/j" }), ISS), { ok: true, jwksUri: "https://k.example.com/j" });
    assert.deepEqual(tg.jwksUriFromDiscovery(doc({ issuer: "https://tenant.example.com", jwks_uri: "https://k/j" }), ISS),
      { ok: false, message: "discovery document names another issuer" });
    assert.match(tg.jwksUriFromDiscovery(doc({ issuer: ISS, jwks_uri: "http://k.example.com/j" }), ISS).message, /^discovered jwks_uri: must be https/);
    assert.match(tg.jwksUriFromDiscovery("{", ISS).message, /not valid JSON/);
    assert.throws(() => tg.jwksUriFromDiscovery({}, ISS), TypeError);
  });

  test(`timeState (${entry}): the verifier's boundaries and tolerance`, () => {
    const c = { iat: 900, nbf: 900, exp: 1000 };
    assert.deepEqual(tg.timeState(c, 950.5), { state: "valid", error: null });
    assert.equal(tg.timeState(c, 1059.9).state, "grace");
    const e = tg.timeState(c, 1060);
    assert.equal(e.state, "expired");
    assert.equal(e.error.code, "token_expired");
    assert.equal(tg.timeState(c, 1000, 0).state, "expired");
    assert.equal(tg.timeState(c, 839).state, "not-yet-valid");
    assert.equal(tg.timeState({ iat: 2000 }, 1000).state, "issued-in-future");
    assert.equal(tg.timeState({}, 1000).state, "no-exp");
    assert.equal(tg.timeState({ exp: "1000" }, 0).error.code, "claim_invalid");
    assert.equal(tg.timeState(c, 1060, 30.9).state, "expired");
    assert.equal(tg.timeState(c, 1020, 30.9).state, "grace");
    for (const bad of [-1, 3601, Number.NaN, "60"]) assert.throws(() => tg.timeState(c, 950, bad), TypeError, String(bad));
    assert.throws(() => tg.timeState(null, 950), TypeError);
    assert.throws(() => tg.timeState([], 950), TypeError);
    assert.throws(() => tg.timeState(c, Number.POSITIVE_INFINITY), TypeError);
  });

  test(`checkTyp and algorithms (${entry})`, () => {
    assert.deepEqual(tg.checkTyp("application/AT+JWT", "at+jwt"), { ok: true });
    const r = tg.checkTyp("JWT", "at+jwt");
    assert.equal(r.ok, false);
    assert.equal(r.error.code, "typ_mismatch");
    assert.equal(tg.checkTyp(undefined, "at+jwt").ok, false);
    assert.equal(tg.checkTyp(7, "at+jwt").ok, false);
    assert.throws(() => tg.checkTyp("at+jwt", 1), TypeError);
    const algs = tg.algorithms();
    assert.deepEqual(algs.map((a) => a.name), ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512"]);
    assert.deepEqual(algs.filter((a) => a.symmetric).map((a) => a.name), ["HS256", "HS384", "HS512"]);
    assert.ok(algs.every((a) => a.allowedByDefault === !a.symmetric));
  });
}
