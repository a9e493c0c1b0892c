// The shared key store (the `cache` option): states are keyed by issuer and key source,
// so verifiers (tenants) with the same issuer and different JWKS sources sharing one
// cache object never read each other's keys; a state dated in the future is refused;
// and a burst of concurrent first verifies costs one cache read and no fetch when the
// cache holds a fresh state.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createVerifier } from "tokengate";
import { AUDIENCE, makeKey, memoryCache, now, sign, startIssuer, userClaims } from "./lib/harness.mjs";

/** One issuer string, as two tenants (or two misconfigured verifiers) might share. */
const ISSUER = "https://tenant.example/";

function storeKey(issuer, kind, url) {
  return `jwks:v2:${createHash("sha256").update(JSON.stringify([issuer, kind, url])).digest("hex")}`;
}

function assertDenied(r, code) {
  assert.equal(r.ok, false, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r.error));
}

test("two verifiers with one issuer and different jwks sources sharing a cache never read each other's keys", async (t) => {
  const keyA = makeKey("ES256", "tenant-a");
  const keyB = makeKey("ES256", "tenant-b");
  const idpA = await startIssuer({ keys: [keyA] });
  const idpB = await startIssuer({ keys: [keyB] });
  t.after(() => idpA.close());
  t.after(() => idpB.close());
  const cache = memoryCache();
  const a = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: idpA.jwksUri, cache });
  const b = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: idpB.jwksUri, cache });
  const tokenA = sign(keyA, userClaims(ISSUER));
  const tokenB = sign(keyB, userClaims(ISSUER));

  assert.equal((await a.verify(tokenA)).ok, true);
  assert.ok(cache.map.has(storeKey(ISSUER, "jwks_uri", idpA.jwksUri)), [...cache.map.keys()].join());
  // b must not take a's stored keys: a's token is not valid for b.
  assertDenied(await b.verify(tokenA), "key_not_found");
  assert.equal(idpB.count("/jwks"), 1, "b fetched its own keys");
  assert.equal((await b.verify(tokenB)).ok, true);
  assert.ok(cache.map.has(storeKey(ISSUER, "jwks_uri", idpB.jwksUri)));
  assert.equal(cache.map.size, 2);
  // Fresh verifiers reading the shared cache get their own tenant's keys, no fetch.
  const a2 = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: idpA.jwksUri, cache });
  const b2 = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: idpB.jwksUri, cache });
  assert.equal((await a2.verify(tokenA)).ok, true);
  assertDenied(await a2.verify(tokenB), "key_not_found");
  assert.equal((await b2.verify(tokenB)).ok, true);
  assert.equal(idpA.count("/jwks"), 1);
  assert.equal(idpB.count("/jwks"), 1);
});

test("a stored state dated in the future is refused", async (t) => {
  const oldKey = makeKey("RS256", "old");
  const newKey = makeKey("RS256", "new");
  const idp = await startIssuer({ keys: [oldKey] });
  t.after(() => idp.close());
  const cache = memoryCache();
  const opts = { issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri, cache };
  // A process whose clock is a year ahead stores the old set, stamped a year ahead.
  const skewed = createVerifier({ ...opts, currentDate: () => new Date((now() + 365 * 86400) * 1000) });
  await skewed.verify(sign(oldKey, userClaims(idp.issuer)));
  const stored = JSON.parse(cache.map.get(storeKey(idp.issuer, "jwks_uri", idp.jwksUri)));
  assert.ok(stored.fetched_at > now() + 86400, JSON.stringify(stored));
  // The issuer rotates. A process with a right clock must not serve the skewed state
  // (it would count as fresh for a year): it fetches the current set.
  idp.setKeys([newKey]);
  const v = createVerifier(opts);
  assertDenied(await v.verify(sign(oldKey, userClaims(idp.issuer))), "key_not_found");
  assert.equal((await v.verify(sign(newKey, userClaims(idp.issuer)))).ok, true);
  assert.equal(idp.count("/jwks"), 2);
});

test("a burst of first verifies with a fresh state in the cache: one cache read, no fetch", async (t) => {
  const key = makeKey("EdDSA", "k");
  const idp = await startIssuer({ keys: [key] });
  t.after(() => idp.close());
  const cache = memoryCache();
  const opts = { issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri, cache };
  assert.equal((await createVerifier(opts).verify(sign(key, userClaims(idp.issuer)))).ok, true);
  assert.equal(idp.count("/jwks"), 1);
  cache.calls.length = 0;
  // A slow cache, so that the burst overlaps the read.
  const slow = {
    get: (k) => new Promise((r) => setTimeout(() => r(cache.get(k)), 50)),
    set: (k, v, ttl) => cache.set(k, v, ttl),
  };
  const v = createVerifier({ ...opts, cache: slow });
  const tokens = Array.from({ length: 8 }, (_, i) => sign(key, userClaims(idp.issuer, { jti: `b${i}` })));
  const results = await Promise.all(tokens.map((tok) => v.verify(tok)));
  for (const r of results) assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(idp.count("/jwks"), 1, "no fetch: the cache had the set");
  assert.equal(cache.calls.filter((c) => c[0] === "get").length, 1, "one cache read");
});
