// Repeated tokens (npm/api.js keeps each success by token string and, on a repeat,
// only asks the wasm side `recheck(id)`): the kept result must never outlive what a
// fresh verification would allow. Each test first shows the repeat is served from the
// kept result (the same frozen object), then moves time, keys or options so that it
// must not be, and checks the answer a full verification gives.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createVerifier } from "tokengate";
import { AUDIENCE, makeKey, jwksOf, sign, userClaims, startIssuer, now } from "./lib/harness.mjs";

const ISSUER = "https://issuer.example/";

/** A clock the test moves: currentDate reads it. */
function clock(start = now()) {
  let t = start;
  return { currentDate: () => new Date(t * 1000), set: (s) => (t = s), get: () => t };
}

test("a repeated token gets the same deeply frozen result", async () => {
  const key = makeKey("RS256");
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]) });
  const token = sign(key, userClaims(ISSUER));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  const second = await v.verify(token);
  assert.equal(second, first, "the repeat is the kept result");
  for (const part of [first, first.principal, first.principal.scopes, first.claims, first.claims.aud, first.header]) {
    assert.ok(Object.isFrozen(part), JSON.stringify(part));
  }
  // ES modules are strict: writing to a frozen result throws instead of corrupting
  // what the next caller gets.
  assert.throws(() => {
    first.claims.sub = "someone-else";
  }, TypeError);
  assert.throws(() => first.principal.scopes.push("admin"), TypeError);
  assert.equal((await v.verify(token)).claims.sub, "auth0|user-1");
  // Failures are frozen too (and not kept).
  const bad = await v.verify(token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA"));
  assert.equal(bad.ok, false);
  assert.ok(Object.isFrozen(bad) && Object.isFrozen(bad.error));
});

test("a kept result is not served once the token has expired", async () => {
  const key = makeKey("ES256");
  const c = clock();
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), currentDate: c.currentDate, clockTolerance: 0 });
  const t0 = c.get();
  const token = sign(key, userClaims(ISSUER, { iat: t0, exp: t0 + 100 }));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  c.set(t0 + 99);
  assert.equal(await v.verify(token), first);
  c.set(t0 + 100);
  const late = await v.verify(token);
  assert.equal(late.ok, false);
  assert.equal(late.error.code, "token_expired");
});

test("a kept result follows the clock back before nbf and iat", async () => {
  const key = makeKey("EdDSA");
  const c = clock();
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), currentDate: c.currentDate, clockTolerance: 0 });
  const t0 = c.get();
  const token = sign(key, userClaims(ISSUER, { iat: t0, nbf: t0, exp: t0 + 600 }));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  assert.equal(await v.verify(token), first);
  c.set(t0 - 10);
  const early = await v.verify(token);
  assert.equal(early.ok, false);
  assert.equal(early.error.code, "token_not_yet_valid");
});

test("maxTokenAge is applied to repeats", async () => {
  const key = makeKey("RS256");
  const c = clock();
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), currentDate: c.currentDate, maxTokenAge: 60, clockTolerance: 0 });
  const t0 = c.get();
  const token = sign(key, userClaims(ISSUER, { iat: t0, exp: t0 + 3600 }));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  c.set(t0 + 60);
  assert.equal(await v.verify(token), first);
  c.set(t0 + 61);
  assert.equal((await v.verify(token)).error?.code, "token_too_old");
});

test("a key removed from the issuer's JWKS ends the kept results it verified", async () => {
  const old = makeKey("RS256");
  const next = makeKey("RS256");
  const idp = await startIssuer({ keys: [old], maxAge: 60 });
  try {
    const c = clock();
    const v = createVerifier({ issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri, currentDate: c.currentDate });
    const t0 = c.get();
    const token = sign(old, userClaims(idp.issuer, { iat: t0, exp: t0 + 7200 }));
    // The first verification waits for the JWKS fetch (the asynchronous path, whose
    // result is not kept); the second is synchronous and kept; the third is a repeat.
    assert.equal((await v.verify(token)).ok, true);
    const first = await v.verify(token);
    assert.equal(first.ok, true, JSON.stringify(first.error));
    assert.equal(await v.verify(token), first);
    assert.equal(idp.count("/jwks"), 1);
    // The issuer rotates; once the held set is due for a refresh, the repeat is no
    // longer served from the kept result: the verification that starts the refresh
    // still accepts the token (the held set has the key), the one after the refresh
    // must not.
    idp.setKeys([next]);
    c.set(t0 + 3600);
    const during = await v.verify(token);
    assert.equal(during.ok, true);
    assert.notEqual(during, first, "not the kept result: the keys are due for a refresh");
    for (let i = 0; i < 50 && idp.count("/jwks") < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(idp.count("/jwks"), 2, "the background refresh ran");
    await new Promise((r) => setTimeout(r, 20));
    const after = await v.verify(token);
    assert.equal(after.ok, false);
    assert.equal(after.error.code, "key_not_found");
  } finally {
    await idp.close();
  }
});

test("tokenCacheSize 0 keeps nothing", async () => {
  const key = makeKey("ES256");
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), tokenCacheSize: 0 });
  const token = sign(key, userClaims(ISSUER));
  const a = await v.verify(token);
  const b = await v.verify(token);
  assert.equal(a.ok, true);
  assert.equal(b.ok, true);
  assert.notEqual(a, b);
  assert.deepEqual(a, b);
});

test("the kept results are bounded by tokenCacheSize", async () => {
  const key = makeKey("EdDSA");
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), tokenCacheSize: 2 });
  const tokens = ["a", "b", "c"].map((sub) => sign(key, userClaims(ISSUER, { sub })));
  const first = [];
  for (const t of tokens) first.push(await v.verify(t));
  // "a" was dropped for "c"; "b" and "c" are kept.
  assert.notEqual(await v.verify(tokens[0]), first[0]);
  assert.equal((await v.verify(tokens[0])).principal.subject, "a");
  assert.equal(await v.verify(tokens[2]), first[2]);
});

test("authorize results are frozen and repeats are checked again", async () => {
  const key = makeKey("RS256");
  const c = clock();
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), currentDate: c.currentDate, clockTolerance: 0 });
  const t0 = c.get();
  const token = sign(key, userClaims(ISSUER, { iat: t0, exp: t0 + 30 }));
  const ok = await v.authorize(token, { scopesAll: ["read:builds"] });
  assert.equal(ok.ok, true, JSON.stringify(ok.error));
  assert.ok(Object.isFrozen(ok.principal));
  assert.equal((await v.authorize(token, { scopesAll: ["update:builds"] })).error.code, "insufficient_scope");
  c.set(t0 + 30);
  assert.equal((await v.authorize(token, { scopesAll: ["read:builds"] })).error.code, "token_expired");
});

test("authorize: invalid requirements reject on repeats too; tokenCacheSize 0 still authorizes", async () => {
  const key = makeKey("ES256");
  const token = sign(key, userClaims(ISSUER));
  for (const tokenCacheSize of [4096, 0]) {
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), tokenCacheSize });
    for (let i = 0; i < 3; i++) {
      const r = await v.authorize(token, { scopesAll: "read:builds" });
      assert.equal(r.ok, true, `${tokenCacheSize}: ${JSON.stringify(r.error)}`);
      const denied = await v.authorize(token, { kinds: "machine" });
      assert.equal(denied.ok, false);
      assert.equal(denied.error.status, 403);
      await assert.rejects(v.authorize(token, { scopesAll: 7 }), TypeError);
    }
  }
});

test("the asynchronous path (WebCrypto) keeps its results too", async () => {
  const key = makeKey("RS256");
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]), signatureBackend: "webcrypto" });
  const token = sign(key, userClaims(ISSUER));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  assert.equal(await v.verify(token), first);
  assert.ok(Object.isFrozen(first.claims));
});

test("long tokens are kept as well", async () => {
  const key = makeKey("EdDSA");
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]) });
  const token = sign(key, userClaims(ISSUER, { permissions: Array.from({ length: 400 }, (_, i) => `read:thing-${i}`) }));
  assert.ok(token.length > 8000, String(token.length));
  const first = await v.verify(token);
  assert.equal(first.ok, true, JSON.stringify(first.error));
  assert.equal(await v.verify(token), first);
});
