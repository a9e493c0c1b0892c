// The token matrix, run against a loaded `tokengate` module: once from ESM
// (esm.test.mjs, `import`) and once from CommonJS (cjs.test.cjs, `require`).
//
// runMatrix(tg, t) registers subtests of the node:test context `t`.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  AUDIENCE,
  auth0Vector,
  b64url,
  jwksOf,
  machineClaims,
  makeKey,
  makeKeys,
  memoryCache,
  now,
  sign,
  signHs256,
  startIssuer,
  userClaims,
} from "./harness.mjs";

function assertDenied(r, code, status = 401) {
  assert.equal(r.ok, false, `expected ${code}, got ok: ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  assert.equal(r.error.status, status);
  assert.equal(typeof r.error.message, "string");
  if (status === 503) assert.equal(r.error.wwwAuthenticate, null);
  else assert.match(r.error.wwwAuthenticate, /^Bearer realm="[^"]*"/);
}

function assertThrowsOption(fn, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    assert.match(e.message, /^tokengate: /);
    assert.match(e.message, pattern);
    return true;
  });
}

export async function runMatrix(tg, t) {
  const { createVerifier, decode, bearerToken } = tg;
  const keys = makeKeys();
  const stranger = makeKey("RS256", "stranger");
  const idp = await startIssuer({ keys: [keys.rs, keys.es, keys.ed] });
  t.after(() => idp.close());
  const base = { issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri };

  await t.test("exports", () => {
    for (const name of ["createVerifier", "decode", "bearerToken"]) {
      assert.equal(typeof tg[name], "function", name);
    }
    assert.ok(tg.ready instanceof Promise);
  });

  await t.test("valid tokens: RS256, ES256 and EdDSA, users and machines", async () => {
    const v = createVerifier(base);
    for (const key of [keys.rs, keys.es, keys.ed]) {
      const u = await v.verify(sign(key, userClaims(idp.issuer)));
      assert.equal(u.ok, true, `${key.alg}: ${JSON.stringify(u)}`);
      assert.deepEqual(Object.keys(u), ["ok", "principal", "claims", "header"]);
      assert.equal(u.header.alg, key.alg);
      assert.equal(u.header.kid, key.kid);
      assert.equal(u.claims.sub, "auth0|user-1");
      const p = u.principal;
      assert.equal(p.kind, "user");
      assert.equal(p.subject, "auth0|user-1");
      assert.equal(p.userId, "auth0|user-1");
      assert.equal(p.clientId, "spa-client");
      assert.equal(p.decidedBy, "default");
      assert.deepEqual(p.scopes, ["openid", "profile", "read:builds"]);
      assert.deepEqual(p.roles, []);
      assert.equal(p.issuer, idp.issuer);
      assert.deepEqual(p.audiences, [AUDIENCE, `${idp.issuer}userinfo`]);
      assert.equal(typeof p.expiresAt, "number");
      assert.equal("actor" in p, false);

      const m = await v.verify(sign(key, machineClaims(idp.issuer)));
      assert.equal(m.ok, true, JSON.stringify(m));
      assert.equal(m.principal.kind, "machine");
      assert.equal(m.principal.decidedBy, "gty");
      assert.equal(m.principal.clientId, "ci-bot");
      assert.equal("userId" in m.principal, false);
      assert.deepEqual(m.principal.scopes, ["read:builds"]);
    }
  });

  await t.test("error codes", async () => {
    const v = createVerifier(base);
    const t0 = now();
    const rs = (claims, header) => sign(keys.rs, claims, header);
    const cases = [
      ["expired", rs(userClaims(idp.issuer, { exp: t0 - 3600, iat: t0 - 7200 })), "token_expired"],
      ["not yet valid", rs(userClaims(idp.issuer, { nbf: t0 + 3600 })), "token_not_yet_valid"],
      ["issued in the future", rs(userClaims(idp.issuer, { iat: t0 + 3600 })), "issued_in_future"],
      ["wrong audience", rs(userClaims(idp.issuer, { aud: "https://other.example" })), "audience_mismatch"],
      ["wrong issuer", rs(userClaims("https://evil.example/")), "issuer_mismatch"],
      ["no sub", rs(userClaims(idp.issuer, { sub: undefined })), "claim_missing"],
      ["unknown kid", sign(stranger, userClaims(idp.issuer)), "key_not_found"],
      ["crit", rs(userClaims(idp.issuer), { crit: ["exp"], exp: 1 }), "crit_unsupported"],
      ["malformed", "abc", "token_malformed"],
      ["malformed parts", "a.b.c", "token_malformed"],
      ["unsigned", `${b64url({ alg: "none" })}.${b64url(userClaims(idp.issuer))}.`, "token_malformed"],
      ["alg none", `${b64url({ alg: "none" })}.${b64url(userClaims(idp.issuer))}.AAAA`, "alg_not_allowed"],
      ["too large", `${"a".repeat(17000)}.b.c`, "token_too_large"],
    ];
    // A valid signature over other claims.
    const good = rs(userClaims(idp.issuer));
    const forged = rs(userClaims(idp.issuer, { sub: "admin" }));
    cases.push([
      "bad signature",
      `${forged.split(".").slice(0, 2).join(".")}.${good.split(".")[2]}`,
      "signature_invalid",
    ]);
    for (const [name, token, code] of cases) {
      const r = await v.verify(token);
      assert.equal(r.ok, false, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.error.code, code, `${name}: ${JSON.stringify(r.error)}`);
      assertDenied(r, code);
      assert.match(r.error.wwwAuthenticate, /error="invalid_token"/, name);
    }
    // HS256 signed with the RSA public key as the secret (key confusion).
    const confused = await signHs256(Buffer.from(keys.rs.jwk.n, "base64url"), userClaims(idp.issuer), {
      kid: keys.rs.kid,
    });
    const r = await v.verify(confused);
    assert.equal(r.ok, false);
    assert.ok(["alg_not_allowed", "key_not_found"].includes(r.error.code), r.error.code);
    // A missing token: no error attribute in the challenge (RFC 6750 §3.1).
    for (const missing of [undefined, null, ""]) {
      const m = await v.verify(missing);
      assertDenied(m, "token_missing");
      assert.equal(m.error.wwwAuthenticate, 'Bearer realm="tokengate"');
    }
    assertDenied(await v.verify(42), "token_malformed");
    assertDenied(await v.verify({}), "token_malformed");
  });

  await t.test("requiredTyp and realm", async () => {
    const v = createVerifier({ ...base, requiredTyp: "at+jwt", realm: "api" });
    assertDenied(await v.verify(sign(keys.es, userClaims(idp.issuer))), "typ_mismatch");
    const r = await v.verify(sign(keys.es, userClaims(idp.issuer), { typ: "at+JWT" }));
    assert.equal(r.ok, true, JSON.stringify(r));
    const d = await v.verify("x");
    assert.match(d.error.wwwAuthenticate, /^Bearer realm="api", error="invalid_token"/);
  });

  await t.test("JWKS: fetched once across many verifies, also concurrent ones", async () => {
    const server = await startIssuer({ keys: [keys.rs, keys.es] });
    t.after(() => server.close());
    const v = createVerifier({ issuer: server.issuer, audience: AUDIENCE, jwksUri: server.jwksUri });
    const tokens = Array.from({ length: 30 }, (_, i) =>
      sign(i % 2 ? keys.rs : keys.es, userClaims(server.issuer, { jti: `t${i}` })),
    );
    const results = await Promise.all(tokens.map((tok) => v.verify(tok)));
    assert.ok(results.every((r) => r.ok));
    for (const tok of tokens) assert.equal((await v.verify(tok)).ok, true);
    assert.equal(server.count("/jwks"), 1);
    assert.equal(server.count("/.well-known/openid-configuration"), 0);
  });

  await t.test("JWKS: OIDC discovery from the issuer by default", async () => {
    const server = await startIssuer({ keys: [keys.ed] });
    t.after(() => server.close());
    const v = createVerifier({ issuer: server.issuer, audience: AUDIENCE });
    for (let i = 0; i < 5; i++) {
      assert.equal((await v.verify(sign(keys.ed, machineClaims(server.issuer)))).ok, true);
    }
    assert.equal(server.count("/.well-known/openid-configuration"), 1);
    assert.equal(server.count("/jwks"), 1);
  });

  await t.test("JWKS: unknown kid refetches within the cooldown rules; rotation", async () => {
    const server = await startIssuer({ keys: [keys.rs] });
    t.after(() => server.close());
    let clock = Date.now();
    const v = createVerifier({
      issuer: server.issuer,
      audience: AUDIENCE,
      jwksUri: server.jwksUri,
      currentDate: () => new Date(clock),
      jwksCache: { cooldown: 30 },
    });
    assert.equal((await v.verify(sign(keys.rs, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/jwks"), 1);
    // Right after a fetch the cooldown forbids a refetch for an unknown kid.
    assertDenied(await v.verify(sign(stranger, userClaims(server.issuer))), "key_not_found");
    assert.equal(server.count("/jwks"), 1);
    // After the cooldown: one refetch, then none however many unknown kids come.
    clock += 31_000;
    for (let i = 0; i < 20; i++) {
      const k = i % 2 ? stranger : makeKey("EdDSA", `x${i}`);
      assertDenied(await v.verify(sign(k, userClaims(server.issuer))), "key_not_found");
    }
    assert.equal(server.count("/jwks"), 2);
    // Rotation: the issuer publishes a new key; a token with it triggers one refetch.
    const next = makeKey("ES256", "next");
    server.setKeys([keys.rs, next]);
    clock += 31_000;
    assert.equal((await v.verify(sign(next, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/jwks"), 3);
    for (let i = 0; i < 5; i++) {
      assert.equal((await v.verify(sign(next, userClaims(server.issuer, { jti: `${i}` })))).ok, true);
    }
    assert.equal(server.count("/jwks"), 3);
  });

  await t.test("JWKS: unavailable keys are a 503 without a challenge", async () => {
    const server = await startIssuer({ keys: [keys.rs] });
    t.after(() => server.close());
    server.state.fail = 500;
    const v = createVerifier({ issuer: server.issuer, audience: AUDIENCE, jwksUri: server.jwksUri });
    for (let i = 0; i < 5; i++) {
      assertDenied(await v.verify(sign(keys.rs, userClaims(server.issuer))), "jwks_unavailable", 503);
    }
    // Failures are not retried on every request.
    assert.equal(server.count("/jwks"), 1);
    // Nothing listening.
    const dead = createVerifier({ issuer: server.issuer, audience: AUDIENCE, jwksUri: "http://127.0.0.1:9/jwks" });
    const r = await dead.verify(sign(keys.rs, userClaims(server.issuer)));
    assertDenied(r, "jwks_unavailable", 503);
  });

  await t.test("JWKS: fetch timeout (fetchTimeout, AbortController)", async () => {
    const server = await startIssuer({ keys: [keys.rs] });
    t.after(() => server.close());
    server.state.hang = true;
    const v = createVerifier({
      issuer: server.issuer,
      audience: AUDIENCE,
      jwksUri: server.jwksUri,
      fetchTimeout: 200,
    });
    const started = Date.now();
    const r = await v.verify(sign(keys.rs, userClaims(server.issuer)));
    assertDenied(r, "jwks_unavailable", 503);
    assert.match(r.error.message, /timed out after 200 ms/);
    assert.ok(Date.now() - started < 5000);
  });

  await t.test("JWKS: the global fetch is read at call time", async () => {
    const original = globalThis.fetch;
    const seen = [];
    globalThis.fetch = async (url, init) => {
      seen.push(String(url));
      assert.ok(init.signal, "an AbortSignal is passed");
      const body = String(url).endsWith("/openid-configuration")
        ? { issuer: "https://stubbed.example/", jwks_uri: "https://stubbed.example/keys" }
        : jwksOf([keys.ed]);
      return new Response(JSON.stringify(body), {
        headers: { "content-type": "application/json", "cache-control": "max-age=300" },
      });
    };
    try {
      const v = createVerifier({ issuer: "https://stubbed.example/", audience: AUDIENCE });
      const r = await v.verify(sign(keys.ed, userClaims("https://stubbed.example/")));
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.deepEqual(seen, [
        "https://stubbed.example/.well-known/openid-configuration",
        "https://stubbed.example/keys",
      ]);
    } finally {
      globalThis.fetch = original;
    }
  });

  await t.test("JWKS: redirects are followed only to allowed URLs", async () => {
    const server = await startIssuer({ keys: [keys.rs] });
    t.after(() => server.close());
    const v = createVerifier({ issuer: server.issuer, audience: AUDIENCE, jwksUri: `${server.origin}/moved` });
    assert.equal((await v.verify(sign(keys.rs, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/moved"), 1);
    assert.equal(server.count("/jwks"), 1);
    // A response that ended up on plain http elsewhere is refused.
    const original = globalThis.fetch;
    globalThis.fetch = async () => ({
      status: 200,
      url: "http://evil.example/jwks",
      headers: new Headers({ "content-type": "application/json" }),
      text: async () => JSON.stringify(jwksOf([keys.rs])),
    });
    try {
      const w = createVerifier({ issuer: "https://idp.example/", audience: AUDIENCE, jwksUri: "https://idp.example/jwks" });
      const r = await w.verify(sign(keys.rs, userClaims("https://idp.example/")));
      assertDenied(r, "jwks_unavailable", 503);
      assert.match(r.error.message, /redirected to http:\/\/evil\.example\/jwks/);
    } finally {
      globalThis.fetch = original;
    }
  });

  await t.test("JWKS: shared through the optional cache", async () => {
    const server = await startIssuer({ keys: [keys.rs] });
    t.after(() => server.close());
    const cache = memoryCache();
    const opts = { issuer: server.issuer, audience: AUDIENCE, jwksUri: server.jwksUri, cache };
    const a = createVerifier(opts);
    assert.equal((await a.verify(sign(keys.rs, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/jwks"), 1);
    const key = `jwks:v2:${createHash("sha256")
      .update(JSON.stringify([server.issuer, "jwks_uri", server.jwksUri]))
      .digest("hex")}`;
    assert.ok(cache.map.has(key), [...cache.map.keys()].join());
    const set = cache.calls.find((c) => c[0] === "set");
    assert.ok(set[2] >= 60, `ttl ${set[2]}`);
    // Another process (a new verifier) with the same store fetches nothing.
    const b = createVerifier(opts);
    assert.equal((await b.verify(sign(keys.rs, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/jwks"), 1);
    assert.ok(cache.calls.some((c) => c[0] === "get" && c[1] === key));
    // A failing store is ignored.
    const broken = {
      get: async () => {
        throw new Error("redis down");
      },
      set: () => {
        throw new Error("redis down");
      },
    };
    const c = createVerifier({ ...opts, cache: broken });
    assert.equal((await c.verify(sign(keys.rs, userClaims(server.issuer)))).ok, true);
    assert.equal(server.count("/jwks"), 2);
  });

  await t.test("currentDate and clockTolerance", async () => {
    const t0 = now();
    const old = sign(keys.rs, userClaims(idp.issuer, { iat: t0 - 7200, exp: t0 - 3600 }));
    const v = createVerifier(base);
    assertDenied(await v.verify(old), "token_expired");
    const then = createVerifier({ ...base, currentDate: () => new Date((t0 - 5000) * 1000) });
    assert.equal((await then.verify(old)).ok, true);

    const justExpired = sign(keys.rs, userClaims(idp.issuer, { exp: t0 - 30 }));
    assert.equal((await v.verify(justExpired)).ok, true, "default leeway 60 s");
    const strict = createVerifier({ ...base, clockTolerance: 0 });
    assertDenied(await strict.verify(justExpired), "token_expired");
    const lenient = createVerifier({ ...base, clockTolerance: 45 });
    assert.equal((await lenient.verify(justExpired)).ok, true);

    const bad = createVerifier({ ...base, currentDate: () => "yesterday" });
    await assert.rejects(bad.verify(old), (e) => e instanceof TypeError && /currentDate/.test(e.message));
    // Seconds instead of milliseconds (a clock in 1970), as a number or as a Date.
    for (const f of [() => t0, () => new Date(t0)]) {
      const secs = createVerifier({ ...base, currentDate: f });
      await assert.rejects(secs.verify(old), (e) => e instanceof TypeError && /seconds/.test(e.message));
      await assert.rejects(secs.authorize(old, {}), (e) => e instanceof TypeError && /currentDate/.test(e.message));
    }
    // Epoch milliseconds as a number are fine.
    const ms = createVerifier({ ...base, currentDate: () => (t0 - 5000) * 1000 });
    assert.equal((await ms.verify(old)).ok, true);
  });

  await t.test("classification: gty spellings and a user's sub imitating a machine", async () => {
    const v = createVerifier(base);
    for (const gty of ["client-credentials", "client_credentials"]) {
      const r = await v.verify(sign(keys.es, machineClaims(idp.issuer, { gty })));
      assert.equal(r.principal.kind, "machine", gty);
      assert.equal(r.principal.decidedBy, "gty", gty);
    }
    // Without gty, `<azp>@clients` is a machine...
    const own = await v.verify(sign(keys.es, machineClaims(idp.issuer, { gty: undefined })));
    assert.equal(own.principal.kind, "machine");
    assert.equal(own.principal.decidedBy, "sub_at_clients");
    // ... but a user whose identifier merely ends in "@clients" stays a user, and a
    // machine-only requirement refuses it.
    for (const sub of ["mallory@clients", "auth0|ci-bot@clients"]) {
      const token = sign(keys.es, userClaims(idp.issuer, { sub }));
      const r = await v.verify(token);
      assert.equal(r.principal.kind, "user", sub);
      assert.equal(r.principal.decidedBy, "default", sub);
      assertDenied(await v.authorize(token, { kinds: ["machine"] }), "kind_not_allowed", 403);
    }
    // A permissions entry with a space cannot pass for two scopes.
    const spaced = sign(keys.es, userClaims(idp.issuer, { permissions: ["read:builds update:builds"] }));
    assertDenied(await v.verify(spaced), "claim_invalid");
  });

  await t.test("the real Auth0 client-credentials token", async () => {
    const vec = auth0Vector();
    const v = createVerifier({
      issuer: vec.issuer,
      audience: vec.audience,
      jwks: vec.jwks,
      currentDate: () => new Date(vec.verify_at * 1000),
    });
    const r = await v.verify(vec.token);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.principal.kind, vec.expected.kind);
    assert.equal(r.principal.clientId, vec.expected.client_id);
    assert.deepEqual(r.principal.scopes, vec.expected.scopes);
    assert.equal(r.principal.decidedBy, "gty");
    assert.deepEqual(r.header, vec.header);
    assert.deepEqual(r.claims, vec.claims);
    // The same token today is expired.
    const today = createVerifier({ issuer: vec.issuer, audience: vec.audience, jwks: vec.jwks });
    assertDenied(await today.verify(vec.token), "token_expired");
  });

  await t.test("authorize", async () => {
    const v = createVerifier({ ...base, classify: { rolesClaim: "https://example.com/roles" } });
    const user = sign(keys.rs, userClaims(idp.issuer, { "https://example.com/roles": ["editor"] }));
    const writer = sign(keys.rs, userClaims(idp.issuer, { permissions: ["read:builds", "update:builds"] }));
    const machine = sign(keys.es, machineClaims(idp.issuer));
    const write = { scopesAll: ["update:builds"], machinesBypassScopes: true };

    assert.equal((await v.authorize(writer, write)).ok, true);
    assert.equal((await v.authorize(machine, write)).principal.kind, "machine");
    const denied = await v.authorize(user, write);
    assertDenied(denied, "insufficient_scope", 403);
    assert.match(denied.error.wwwAuthenticate, /error="insufficient_scope"/);
    assert.match(denied.error.wwwAuthenticate, /scope="update:builds"/);

    assert.equal((await v.authorize(user, { scopesAny: ["read:builds", "x"] })).ok, true);
    assert.equal((await v.authorize(user, { rolesAny: "editor" })).ok, true);
    assertDenied(await v.authorize(writer, { rolesAny: ["admin"] }), "role_not_allowed", 403);
    assertDenied(await v.authorize(user, { kinds: ["machine"] }), "kind_not_allowed", 403);
    assert.equal((await v.authorize(machine, { kinds: "machine", clients: ["ci-bot"] })).ok, true);
    assertDenied(await v.authorize(machine, { clients: ["other"] }), "client_not_allowed", 403);
    assertDenied(await v.authorize(user, { delegation: "required" }), "delegation_required", 403);
    // Token errors come first, with their own status.
    assertDenied(await v.authorize("nope", write), "token_malformed");
    assertDenied(await v.authorize(undefined, write), "token_missing");
    // No requirement: any valid token.
    assert.equal((await v.authorize(user)).ok, true);
    assert.equal((await v.authorize(user, {})).ok, true);
    // An invalid requirement is a programming error.
    await assert.rejects(v.authorize(user, { scopes: ["x"] }), (e) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /^tokengate: invalid requirement "scopes": is not a known option/);
      return true;
    });
    await assert.rejects(v.authorize(user, { kinds: ["robot"] }), /invalid requirement "kinds\[0\]"/);
    await assert.rejects(v.authorize(user, { delegation: "maybe" }), /invalid requirement "delegation"/);
    await assert.rejects(v.authorize(user, { scopesAll: [1] }), /invalid requirement "scopesAll\[0\]"/);
    await assert.rejects(v.authorize(user, "update:builds"), /requirement object/);
  });

  await t.test("classification options", async () => {
    const v = createVerifier({
      ...base,
      classify: { m2mClaim: "https://example.com/m2m", userIdClaim: "https://example.com/uid" },
      scopeClaims: ["permissions"],
    });
    const r = await v.verify(
      sign(keys.ed, userClaims(idp.issuer, { "https://example.com/m2m": true, "https://example.com/uid": "u-9" })),
    );
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.principal.kind, "machine");
    assert.equal(r.principal.decidedBy, "m2m_claim");
    assert.equal(r.principal.userId, "u-9");
    assert.deepEqual(r.principal.scopes, ["read:builds"]);
    const act = await v.verify(
      sign(keys.ed, userClaims(idp.issuer, { act: { sub: "svc-a", act: { sub: "svc-b" } } })),
    );
    assert.deepEqual(act.principal.actor, { sub: "svc-a", act: { sub: "svc-b" } });
  });

  await t.test("several issuers and a shared secret", async () => {
    const other = await startIssuer({ keys: [keys.ed] });
    t.after(() => other.close());
    const secret = randomBytes(32);
    const v = createVerifier({
      audience: AUDIENCE,
      issuers: [
        { issuer: idp.issuer, jwksUri: idp.jwksUri },
        { issuer: other.issuer, jwksUri: other.jwksUri, algorithms: ["EdDSA"] },
        { issuer: "https://hs.example/", secret: secret.toString("base64url") },
      ],
    });
    assert.equal((await v.verify(sign(keys.rs, userClaims(idp.issuer)))).ok, true);
    assert.equal((await v.verify(sign(keys.ed, userClaims(other.issuer)))).ok, true);
    assert.equal((await v.verify(await signHs256(secret, userClaims("https://hs.example/")))).ok, true);
    assertDenied(await v.verify(await signHs256(randomBytes(32), userClaims("https://hs.example/"))), "signature_invalid");
    assertDenied(await v.verify(sign(keys.rs, userClaims("https://nobody.example/"))), "issuer_mismatch");
  });

  await t.test("invalid options throw a TypeError naming the option", () => {
    const ok = { issuer: "https://tenant.example/", audience: AUDIENCE };
    assertThrowsOption(() => createVerifier(), /options object/);
    assertThrowsOption(() => createVerifier("x"), /options object/);
    assertThrowsOption(() => createVerifier({}), /invalid option "issuer": is required/);
    assertThrowsOption(() => createVerifier({ issuer: "https://a/" }), /invalid option "audience": is required/);
    assertThrowsOption(() => createVerifier({ ...ok, audience: 5 }), /"audience": must be a string/);
    assertThrowsOption(() => createVerifier({ ...ok, audience: [] }), /"audience"/);
    assertThrowsOption(() => createVerifier({ ...ok, jwksUri: "http://idp.example/jwks" }), /"jwksUri": must be https/);
    assertThrowsOption(() => createVerifier({ ...ok, jwksUri: "not a url" }), /"jwksUri"/);
    assertThrowsOption(() => createVerifier({ issuer: "http://idp.example/", audience: "x" }), /"issuer": discovery/);
    assertThrowsOption(() => createVerifier({ ...ok, audiences: [AUDIENCE] }), /"audiences": is not a known option \(did you mean "audience"\?\)/);
    assertThrowsOption(() => createVerifier({ ...ok, algorithms: ["none"] }), /"algorithms\[0\]"/);
    assertThrowsOption(() => createVerifier({ ...ok, algorithms: ["HS256"] }), /"algorithms"/);
    assertThrowsOption(() => createVerifier({ ...ok, clockTolerance: "1m" }), /"clockTolerance": must be a number/);
    assertThrowsOption(() => createVerifier({ ...ok, clockTolerance: 7200 }), /"clockTolerance"/);
    assertThrowsOption(() => createVerifier({ ...ok, jwks: { keys: "x" } }), /"jwks"/);
    assertThrowsOption(() => createVerifier({ ...ok, jwks: {}, jwksUri: "https://a/j" }), /"jwksUri"/);
    assertThrowsOption(() => createVerifier({ ...ok, secret: "c2hvcnQ" }), /"secret"/);
    assertThrowsOption(() => createVerifier({ ...ok, classify: { foo: 1 } }), /"classify.foo"/);
    assertThrowsOption(() => createVerifier({ ...ok, classify: { m2mClaim: "" } }), /"classify.m2mClaim"/);
    assertThrowsOption(() => createVerifier({ ...ok, scopeClaims: ["bogus"] }), /"scopeClaims\[0\]"/);
    assertThrowsOption(() => createVerifier({ ...ok, maxTokenBytes: 1 }), /"maxTokenBytes"/);
    assertThrowsOption(() => createVerifier({ ...ok, fetchTimeout: 0 }), /"fetchTimeout"/);
    assertThrowsOption(() => createVerifier({ ...ok, jwksCache: { cooldown: 0 } }), /"jwksCache.cooldown"/);
    assertThrowsOption(() => createVerifier({ ...ok, cache: {} }), /"cache"/);
    assertThrowsOption(() => createVerifier({ ...ok, currentDate: 5 }), /"currentDate"/);
    assertThrowsOption(() => createVerifier({ ...ok, issuers: [ok] }), /"issuer": give either/);
    assertThrowsOption(() => createVerifier({ issuers: [] }), /"issuers": must not be empty/);
    assertThrowsOption(() => createVerifier({ issuers: [{ issuer: "https://a/" }] }), /"issuers\[0\].audience": is required/);
    assertThrowsOption(
      () => createVerifier({ audience: "x", issuers: [{ issuer: "https://a/", jwksUri: "ftp://a" }] }),
      /"issuers\[0\].jwksUri"/,
    );
    assertThrowsOption(() => createVerifier({ ...ok, big: 10n }), /BigInt/);
    // Loopback http is allowed, options with undefined values are ignored.
    createVerifier({ ...ok, jwksUri: "http://127.0.0.1:1/jwks" });
    createVerifier({ ...ok, jwksUri: "http://localhost:1/jwks", algorithms: undefined, cache: null });
    createVerifier({ ...ok, jwksUri: "http://[::1]:1/jwks" });
  });

  await t.test("decode (not verified)", () => {
    const token = sign(keys.rs, machineClaims(idp.issuer, { scope: "a b", permissions: ["b", "c"] }));
    const d = decode(token);
    assert.equal(d.ok, true);
    assert.equal(d.verified, false);
    assert.equal(d.header.kid, keys.rs.kid);
    assert.equal(d.claims.azp, "ci-bot");
    assert.equal(d.hint.kind, "machine");
    assert.equal(d.hint.decidedBy, "gty");
    assert.deepEqual(d.hint.scopes, ["a", "b", "c"]);
    // Decoding does not check anything else: a forged token decodes too.
    const forged = `${token.split(".").slice(0, 2).join(".")}.AAAA`;
    assert.equal(decode(forged).ok, true);
    // Options: which claims to read.
    const o = decode(token, { scopeClaims: ["permissions"], classify: { rules: ["sub_at_clients"] } });
    assert.deepEqual(o.hint.scopes, ["b", "c"]);
    assert.equal(o.hint.decidedBy, "sub_at_clients");
    // Claims that cannot be classified: a hint error, still ok.
    const nosub = decode(sign(keys.rs, { iss: "x", aud: "y" }));
    assert.equal(nosub.ok, true);
    assert.equal(nosub.hint, null);
    assert.equal(nosub.hintError.code, "claim_missing");
    // Bad tokens never throw.
    for (const bad of ["", "abc", "a.b.c", 42, null, undefined, `${b64url({ alg: "none" })}.${b64url({})}.AA`]) {
      const r = decode(bad);
      assert.equal(r.ok, false, String(bad));
      assert.equal(r.verified, false);
      assert.ok(r.error.code, JSON.stringify(r));
    }
    assert.equal(decode("a".repeat(20000)).error.code, "token_too_large");
    assert.throws(() => decode(token, { nope: 1 }), TypeError);
  });

  await t.test("decode: JWE, opaque and ID tokens say what they are", async () => {
    // A signed access token: form jws, no ID-token warning.
    const at = decode(sign(keys.rs, userClaims(idp.issuer)));
    assert.equal(at.form, "jws");
    assert.equal(at.idToken, null);
    // A five-part compact JWE: the header is readable, the claims are not.
    const jweHeader = { alg: "RSA-OAEP", enc: "A256GCM", kid: "enc-1", cty: "JWT" };
    const jwe = [b64url(jweHeader), "ZW5jcnlwdGVkLWtleQ", "aXZpdml2aXZpdg", "Y2lwaGVydGV4dA", "dGFndGFndGFndGFn"].join(".");
    const e = decode(jwe);
    assert.equal(e.ok, false);
    assert.equal(e.verified, false);
    assert.equal(e.form, "jwe");
    assert.deepEqual(e.jweHeader, jweHeader);
    assert.equal(e.error.code, "token_malformed");
    assert.match(e.error.message, /encrypted jwe, not a signed jws/);
    // An opaque access token (Auth0's, when no audience is requested).
    const opaque = "vL2QvbUy9dN3ZkWUyB-1Ic1SOzoN_y6L";
    const o = decode(opaque);
    assert.equal(o.form, "opaque");
    assert.equal(o.error.code, "token_malformed");
    assert.match(o.error.message, /opaque token, not a jwt.*audience.*rfc 7662/);
    assert.equal("jweHeader" in o, false);
    // Other shapes, each named; no message repeats the token.
    const jwt = sign(keys.es, machineClaims(idp.issuer));
    const cases = [
      [`Bearer ${jwt}`, "scheme_prefixed", /authorization scheme/],
      [`${jwt.slice(0, 40)}\n${jwt.slice(40)}`, "whitespace", /whitespace or line breaks/],
      [jwt.split(".").slice(0, 2).join("."), "wrong_parts", /this has 2/],
      [`${jwt}.AAAA`, "wrong_parts", /this has 4/],
      ["abcd.efgh.ijkl", "opaque", /opaque token/],
      ['{"payload":"e30"}', "json", /json document/],
      ["", "empty", /empty/],
      ["a".repeat(20000), "too_large", /larger than/],
    ];
    for (const [token, form, message] of cases) {
      const r = decode(token);
      assert.equal(r.ok, false, form);
      assert.equal(r.form, form, JSON.stringify(r));
      assert.match(r.error.message, message);
      if (token.length > 8) assert.equal(r.error.message.includes(token), false);
    }
    // An ID token sent as an access token: decodes, with the signals seen.
    const t0 = now();
    const idClaims = {
      iss: idp.issuer, sub: "auth0|user-1", aud: "spa-client", iat: t0, exp: t0 + 600,
      nonce: "n-0S6_WzA2Mj", auth_time: t0 - 5, sid: "s1", name: "Ada",
    };
    const idToken = sign(keys.rs, idClaims);
    const d = decode(idToken);
    assert.equal(d.ok, true);
    assert.equal(d.form, "jws");
    assert.deepEqual(d.idToken.signals, ["nonce", "aud_is_client", "auth_time", "typ_not_at_jwt"]);
    assert.match(d.idToken.message, /openid connect id token.*audience_mismatch/);
    assert.equal(d.idToken.message.includes("spa-client"), false);
    // ... and a verifier for the API refuses it on its audience.
    assertDenied(await createVerifier(base).verify(idToken), "audience_mismatch");
    // Typed at+jwt (RFC 9068): an access token, whatever its claims.
    assert.equal(decode(sign(keys.rs, idClaims, { typ: "at+jwt" })).idToken, null);
  });

  await t.test("bearerToken", () => {
    assert.deepEqual(bearerToken("Bearer abc.def.ghi"), { ok: true, token: "abc.def.ghi" });
    assert.deepEqual(bearerToken("bearer   abc"), { ok: true, token: "abc" });
    assert.deepEqual(bearerToken(null), { ok: true, token: null });
    assert.deepEqual(bearerToken(undefined), { ok: true, token: null });
    for (const bad of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "abc"]) {
      const r = bearerToken(bad);
      assert.equal(r.ok, false, bad);
      assert.equal(r.error.code, "invalid_request");
      assert.equal(r.error.status, 400);
    }
  });

  await t.test("verifier methods work detached", async () => {
    const { verify, authorize } = createVerifier(base);
    assert.equal((await verify(sign(keys.rs, userClaims(idp.issuer)))).ok, true);
    assert.equal((await authorize(sign(keys.rs, userClaims(idp.issuer)), {})).ok, true);
  });
}
