// Gateway policy in the npm package (issue 16): claim rules (`claims`, for users and
// machines alike: the Auth0 Organizations `org_id` case), delegation rules (`actors`,
// `maxDelegationDepth`), and revocation (`revocation: { store, cacheSeconds }`) on
// every path: verify, authorize, verifyRequest / authorizeRequest, kept (repeated)
// tokens included; a store that throws or rejects refuses (503), never lets through.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as tg from "tokengate";
import { AUDIENCE, jwksOf, machineClaims, makeKey, sign, userClaims, now } from "./lib/harness.mjs";

const { createVerifier, revocationKey, revocationValue } = tg;
const ISSUER = "https://tenant.example.com/";
const key = makeKey("ES256");
const base = { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf([key]) };

/** A clock the test moves: currentDate reads it. */
function clock(start = now()) {
  let t = start;
  return { currentDate: () => new Date(t * 1000), set: (s) => (t = s), get: () => t };
}

function assertDenied(r, code, status) {
  assert.equal(r.ok, false, `expected ${code}, got ok: ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  assert.equal(r.error.status, status);
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.error));
}

/** A request presenting `token` as a bearer token. */
const request = (token) => new Request("https://api.example.com/builds", { headers: { authorization: `Bearer ${token}` } });

/** Every way of asking a verifier to authorize a token, each asked twice (the repeat is served from the kept result). */
async function everyPath(v, token, requirement) {
  const out = [];
  for (let i = 0; i < 2; i++) {
    out.push(["authorize", await v.authorize(token, requirement)]);
    out.push(["authorizeRequest", await v.authorizeRequest(request(token), requirement)]);
  }
  return out;
}

const ORGS = { claims: { org_id: { anyOf: ["org_A", "org_B"] } } };

test("claim rules: org_id must be one of the route's organisations, for users and machines", async () => {
  for (const tokenCacheSize of [4096, 0]) {
    const v = createVerifier({ ...base, tokenCacheSize });
    const cases = [
      [userClaims(ISSUER, { org_id: "org_A" }), true],
      [machineClaims(ISSUER, { org_id: "org_B" }), true],
      [userClaims(ISSUER, { org_id: "org_C" }), false],
      [machineClaims(ISSUER, { org_id: "org_C" }), false],
      [userClaims(ISSUER), false],
      [machineClaims(ISSUER, { org_id: 7 }), false],
    ];
    for (const [claims, allowed] of cases) {
      const token = sign(key, claims);
      for (const [path, r] of await everyPath(v, token, ORGS)) {
        const what = `${path} ${JSON.stringify(claims.org_id)} (tokenCacheSize ${tokenCacheSize})`;
        if (allowed) {
          assert.equal(r.ok, true, `${what}: ${JSON.stringify(r.error)}`);
          assert.equal(r.claims.org_id, claims.org_id);
        } else {
          assertDenied(r, "claim_not_allowed", 403);
          assert.match(r.error.message, /org_id/, what);
          assert.doesNotMatch(r.error.message, /org_C|\b7\b/, `${what}: the message never carries the value`);
          assert.match(r.error.wwwAuthenticate, /^Bearer realm="tokengate"/);
        }
      }
      // verify() has no requirement: the token itself is valid.
      assert.equal((await v.verify(token)).ok, true);
    }
  }
});

test("claim rules: machinesBypassScopes does not bypass them, and every operator is the core's", async () => {
  const v = createVerifier(base);
  const m = sign(key, machineClaims(ISSUER, { org_id: "org_C" }));
  assertDenied(await v.authorize(m, { ...ORGS, scopesAll: "admin", machinesBypassScopes: true }), "claim_not_allowed", 403);
  const ok = sign(key, machineClaims(ISSUER, { org_id: "org_A" }));
  assert.equal((await v.authorize(ok, { ...ORGS, scopesAll: "admin", machinesBypassScopes: true })).ok, true);

  const token = sign(key, userClaims(ISSUER, {
    org: { id: "o1", tier: 2 },
    roles: ["builder", "viewer"],
    email_verified: true,
    "https://example.com/tenant": "t1",
    gone: null,
  }));
  const allow = [
    { "/org/id": { equals: "o1" } },
    { "/org/tier": { equals: 2.0 } },
    { roles: { includes: ["viewer", "builder"] } },
    { roles: { anyOf: ["admin", "viewer"] } },
    { email_verified: { equals: true, present: true } },
    { "https://example.com/tenant": { anyOf: ["t1"] } },
    { gone: { present: false }, missing: { present: false } },
    { org: { equals: { tier: 2, id: "o1" } } },
  ];
  for (const claims of allow) {
    const r = await v.authorize(token, { claims });
    assert.equal(r.ok, true, `${JSON.stringify(claims)}: ${JSON.stringify(r.error)}`);
  }
  const deny = [
    [{ "/org/id": { equals: "o2" } }, "/org/id"],
    [{ "/org/tier": { equals: "2" } }, "/org/tier"],
    [{ roles: { includes: ["admin", "builder"] } }, "roles"],
    [{ email_verified: { equals: false } }, "email_verified"],
    [{ gone: { present: true } }, "gone"],
    [{ org: { includes: ["o1"] } }, "org"],
    [{ roles: { anyOf: ["viewer"] }, "/org/id": { anyOf: ["o9"] } }, "/org/id"],
  ];
  for (const [claims, name] of deny) {
    const r = await v.authorize(token, { claims });
    assertDenied(r, "claim_not_allowed", 403);
    assert.ok(r.error.message.includes(name), `${JSON.stringify(claims)}: ${r.error.message}`);
  }
});

test("an invalid claim or delegation rule is a TypeError naming it", async () => {
  const v = createVerifier(base);
  const token = sign(key, userClaims(ISSUER));
  const bad = [
    [{ claims: { org_id: { any_of: ["a"] } } }, /"claims\.org_id\.any_of": is not a known option \(did you mean "anyOf"\?\)/],
    [{ claims: { org_id: {} } }, /"claims\.org_id": needs at least one of equals, anyOf, includes, present/],
    [{ claims: { org_id: { anyOf: [] } } }, /"claims\.org_id\.anyOf": must not be an empty array/],
    [{ claims: { org_id: { anyOf: "org_A" } } }, /"claims\.org_id\.anyOf": must be an array, got a string/],
    [{ claims: { org_id: "org_A" } }, /"claims\.org_id": must be an object/],
    [{ claims: { x: { present: false, equals: 1 } } }, /"claims\.x": present: false cannot be combined/],
    [{ claims: { "/a~2": { present: true } } }, /"claims\.\/a~2": .*json pointer/],
    [{ actors: [] }, /"actors": must not be an empty array/],
    [{ actors: "gw", maxDelegationDepth: 0 }, /"actors": needs a delegated token, which delegation: forbidden or maxDelegationDepth: 0 refuses/],
    [{ maxDelegationDepth: -1 }, /"maxDelegationDepth": must be a non-negative number/],
  ];
  for (const [requirement, pattern] of bad) {
    for (const call of [() => v.authorize(token, requirement), () => v.authorizeRequest(request(token), requirement)]) {
      await assert.rejects(call, (e) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, /^tokengate: invalid requirement /);
        assert.match(e.message, pattern);
        return true;
      }, JSON.stringify(requirement));
    }
  }
});

test("delegation rules: actors and maxDelegationDepth", async () => {
  const v = createVerifier(base);
  const direct = sign(key, userClaims(ISSUER));
  const one = sign(key, userClaims(ISSUER, { act: { sub: "gateway-svc@clients", client_id: "gateway" } }));
  const bySub = sign(key, userClaims(ISSUER, { act: { sub: "gateway" } }));
  const two = sign(key, userClaims(ISSUER, { act: { sub: "gateway", act: { sub: "frontend" } } }));
  const other = sign(key, userClaims(ISSUER, { act: { sub: "intruder" } }));
  const expect = async (token, requirement, code) => {
    for (const [path, r] of await everyPath(v, token, requirement)) {
      if (code === null) assert.equal(r.ok, true, `${path} ${JSON.stringify(requirement)}: ${JSON.stringify(r.error)}`);
      else assertDenied(r, code, 403);
    }
  };
  const actors = { actors: ["gateway"] };
  await expect(one, actors, null);
  await expect(bySub, actors, null);
  await expect(two, actors, null);
  await expect(other, actors, "actor_not_allowed");
  await expect(direct, actors, "delegation_required");
  await expect(direct, { maxDelegationDepth: 0 }, null);
  await expect(one, { maxDelegationDepth: 0 }, "delegation_too_deep");
  await expect(one, { maxDelegationDepth: 1 }, null);
  await expect(two, { maxDelegationDepth: 1 }, "delegation_too_deep");
  await expect(two, { maxDelegationDepth: 2, actors: "gateway" }, null);
  const r = await v.authorize(two, { maxDelegationDepth: 1 });
  assert.match(r.error.message, /deeper than this route allows \(1\)/);
  // The principal names the actor's client, which `actors` matches first.
  assert.deepEqual((await v.verify(one)).principal.actor, { sub: "gateway-svc@clients", clientId: "gateway" });
  assert.deepEqual((await v.verify(two)).principal.actor, { sub: "gateway", act: { sub: "frontend" } });
});

/** A revocation store in memory: the entries, and the keys asked for. */
function memoryStore(entries = {}) {
  const map = new Map(Object.entries(entries));
  const asked = [];
  return {
    map,
    asked,
    async get(key) {
      asked.push(key);
      return map.get(key) ?? null;
    },
  };
}

test("revocationKey and revocationValue are the store's format", () => {
  const cjs = createRequire(import.meta.url)("tokengate");
  for (const m of [tg, cjs]) {
    assert.equal(m.revocationKey(ISSUER, "jti", "j-1"), `${ISSUER}|jti|j-1`);
    assert.equal(m.revocationKey(ISSUER, "client", "spa-client"), `${ISSUER}|client|spa-client`);
    assert.equal(m.revocationKey(ISSUER, "sub", "auth0|user-1"), `${ISSUER}|sub|auth0|user-1`);
    assert.equal(m.revocationValue(1700000000), '{"before":1700000000}');
    assert.throws(() => m.revocationKey(ISSUER, "user", "u"), /by must be "jti", "client" or "sub"/);
    assert.throws(() => m.revocationKey("", "sub", "u"), TypeError);
    assert.throws(() => m.revocationKey(ISSUER, "sub", ""), TypeError);
    assert.throws(() => m.revocationKey(ISSUER, "sub", "u".repeat(600)), /over 512/);
    for (const bad of [-1, 1.5, "1", Number.NaN, undefined]) assert.throws(() => m.revocationValue(bad), TypeError, String(bad));
  }
});

test("revocation by jti, client and sub, on every path, kept tokens included", async () => {
  const c = clock();
  const t0 = c.get();
  const entries = (k, value) => ({ [k]: value });
  const cases = [
    ["jti", entries(revocationKey(ISSUER, "jti", "j-1"), "{}"), userClaims(ISSUER, { jti: "j-1", iat: t0 - 10 })],
    ["client", entries(revocationKey(ISSUER, "client", "spa-client"), revocationValue(t0 - 5)), userClaims(ISSUER, { iat: t0 - 10 })],
    ["sub", entries(revocationKey(ISSUER, "sub", "ci-bot@clients"), revocationValue(t0 - 5)), machineClaims(ISSUER, { iat: t0 - 10 })],
    ["sub, no iat", entries(revocationKey(ISSUER, "sub", "auth0|user-1"), revocationValue(0)), userClaims(ISSUER, { iat: undefined })],
    ["a value that is not {before}", entries(revocationKey(ISSUER, "client", "ci-bot"), "yes"), machineClaims(ISSUER)],
  ];
  for (const [what, revoked, claims] of cases) {
    const store = memoryStore(revoked);
    const v = createVerifier({ ...base, currentDate: c.currentDate, revocation: { store } });
    const token = sign(key, claims);
    for (let i = 0; i < 2; i++) {
      assertDenied(await v.verify(token), "token_revoked", 401);
      assertDenied(await v.authorize(token, ORGS), "token_revoked", 401);
      assertDenied(await v.verifyRequest(request(token)), "token_revoked", 401);
      assertDenied(await v.authorizeRequest(request(token), { kinds: ["user", "machine"] }), "token_revoked", 401);
    }
    const r = await v.verify(token);
    assert.match(r.error.wwwAuthenticate, /^Bearer realm="tokengate", error="invalid_token"/, what);
    // The entry is gone: a token issued after `before` (or after the jti's own) passes.
    const later = sign(key, { ...claims, jti: "j-2", iat: t0 + 1 });
    if (what !== "a value that is not {before}" && what !== "sub, no iat") {
      assert.equal((await v.verify(later)).ok, true, `${what}: a later token`);
    }
  }
  // Every key the verifier reads is scoped to the issuer.
  const store = memoryStore();
  const v = createVerifier({ ...base, revocation: { store } });
  assert.equal((await v.verify(sign(key, userClaims(ISSUER, { jti: "j-9" })))).ok, true);
  assert.deepEqual(store.asked.sort(), [`${ISSUER}|client|spa-client`, `${ISSUER}|jti|j-9`, `${ISSUER}|sub|auth0|user-1`]);
});

test("a kept verification is revoked once cacheSeconds have passed, and not before", async () => {
  for (const tokenCacheSize of [4096, 0]) {
    const c = clock();
    const t0 = c.get();
    const store = memoryStore();
    const v = createVerifier({ ...base, tokenCacheSize, currentDate: c.currentDate, revocation: { store, cacheSeconds: 30 } });
    const token = sign(key, userClaims(ISSUER, { iat: t0 - 60, org_id: "org_A" }));
    const first = await v.verify(token);
    assert.equal(first.ok, true, JSON.stringify(first.error));
    const reads = store.asked.length;
    assert.equal(reads, 2, "client and subject entries");
    if (tokenCacheSize > 0) assert.equal(await v.verify(token), first, "the repeat is the kept result");
    // Revoked now: within cacheSeconds, the cached absence still answers.
    store.map.set(revocationKey(ISSUER, "sub", "auth0|user-1"), revocationValue(t0));
    c.set(t0 + 29);
    assert.equal((await v.verify(token)).ok, true);
    assert.equal((await v.authorize(token, ORGS)).ok, true);
    assert.equal(store.asked.length, reads, "no store read within cacheSeconds");
    // At the bound, the store is read again, by every path.
    c.set(t0 + 30);
    assertDenied(await v.verify(token), "token_revoked", 401);
    assertDenied(await v.authorize(token, ORGS), "token_revoked", 401);
    assertDenied(await v.authorizeRequest(request(token), ORGS), "token_revoked", 401);
    // Another token of the same user, issued after `before`, passes.
    assert.equal((await v.verify(sign(key, userClaims(ISSUER, { iat: t0 + 1 })))).ok, true);
    // The entry removed: seen again after cacheSeconds.
    store.map.clear();
    c.set(t0 + 59);
    assertDenied(await v.verify(token), "token_revoked", 401);
    c.set(t0 + 61);
    assert.equal((await v.verify(token)).ok, true);
  }
  // cacheSeconds 0: every call reads the store.
  const store = memoryStore();
  const v = createVerifier({ ...base, revocation: { store, cacheSeconds: 0 } });
  const token = sign(key, userClaims(ISSUER));
  for (let i = 0; i < 3; i++) assert.equal((await v.verify(token)).ok, true);
  assert.equal(store.asked.length, 6);
  store.map.set(revocationKey(ISSUER, "client", "spa-client"), revocationValue(now()));
  assertDenied(await v.verify(token), "token_revoked", 401);
});

test("a store that throws, rejects or answers nonsense refuses with 503 revocation_unavailable", async () => {
  const stores = {
    throws: { get() { throw new Error("redis down"); } },
    rejects: { get: async () => { throw new Error("kv timeout"); } },
    number: { get: () => 1 },
    object: { get: async () => ({ before: 1 }) },
  };
  for (const [what, store] of Object.entries(stores)) {
    let fail = true;
    const flaky = { get: (k) => (fail ? store.get(k) : null) };
    const c = clock();
    const v = createVerifier({ ...base, currentDate: c.currentDate, revocation: { store: flaky, cacheSeconds: 10 } });
    const token = sign(key, machineClaims(ISSUER));
    for (let i = 0; i < 2; i++) {
      for (const r of [await v.verify(token), await v.authorize(token), await v.authorizeRequest(request(token), null)]) {
        assertDenied(r, "revocation_unavailable", 503);
        assert.equal(r.error.wwwAuthenticate, null, what);
        assert.match(r.error.message, /revocation store/, what);
      }
    }
    // A kept token whose store fails later is refused too.
    fail = false;
    const ok = await v.verify(token);
    assert.equal(ok.ok, true, `${what}: ${JSON.stringify(ok.error)}`);
    fail = true;
    c.set(c.get() + 10);
    assertDenied(await v.verify(token), "revocation_unavailable", 503);
    assertDenied(await v.authorize(token, {}), "revocation_unavailable", 503);
  }
});

test("the revocation option is checked", () => {
  const bad = [
    [{ revocation: {} }, /"revocation\.store": is required/],
    [{ revocation: { store: new Map() , cacheSeconds: 301 } }, /"revocation\.cacheSeconds": must be at most 300/],
    [{ revocation: { store: {} } }, /"revocation\.store": must be an object with a get\(key\) method/],
    [{ revocation: { store: "kv" } }, /"revocation\.store": must be an object/],
    [{ revocation: { store: new Map(), ttl: 5 } }, /"revocation\.ttl": is not a known option/],
    [{ revocation: true }, /"revocation": must be an object/],
  ];
  for (const [options, pattern] of bad) {
    assert.throws(() => createVerifier({ ...base, ...options }), (e) => e instanceof TypeError && pattern.test(e.message), JSON.stringify(options));
  }
  // A Map is a store (get answers undefined for an absent key).
  assert.doesNotThrow(() => createVerifier({ ...base, revocation: { store: new Map() } }));
});

test("a Map store: entries by the package's own format", async () => {
  const map = new Map();
  const v = createVerifier({ ...base, revocation: { store: map, cacheSeconds: 0 } });
  const token = sign(key, userClaims(ISSUER, { jti: "abc" }));
  assert.equal((await v.verify(token)).ok, true);
  map.set(revocationKey(ISSUER, "jti", "abc"), revocationValue(0));
  assertDenied(await v.verify(token), "token_revoked", 401);
});

test("revocation on the DPoP request path: a kept DPoP-bound token is revoked, its proof notwithstanding", async () => {
  const { generateDpopKeyPair, proof, thumbprint } = await import("../idp/index.mjs");
  const keyPair = await generateDpopKeyPair("ES256");
  const jkt = await thumbprint(keyPair);
  const c = clock();
  const t0 = c.get();
  const store = memoryStore();
  const v = createVerifier({ ...base, dpopProofs: {}, currentDate: c.currentDate, revocation: { store, cacheSeconds: 5 } });
  const token = sign(key, userClaims(ISSUER, { iat: t0 - 60, org_id: "org_A", cnf: { jkt } }));
  const url = "https://api.example.com/builds/1";
  const dpop = async () => new Request(url, {
    headers: { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: "GET", htu: url, accessToken: token, iat: c.get() }) },
  });
  for (let i = 0; i < 2; i++) {
    const r = await v.authorizeRequest(await dpop(), ORGS);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.principal.binding, "dpop");
  }
  store.map.set(revocationKey(ISSUER, "client", "spa-client"), revocationValue(t0));
  c.set(t0 + 5);
  assertDenied(await v.authorizeRequest(await dpop(), ORGS), "token_revoked", 401);
  assertDenied(await v.verifyRequest(await dpop()), "token_revoked", 401);
  // As a bearer token it is refused for its binding either way.
  assert.equal((await v.verify(token)).ok, false);
});
