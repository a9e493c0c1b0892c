// Edge token exchange (RFC 8693) in workerd: the seed scenario end to end, the error
// cases, signing-key rotation and the published metadata.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startWorker, json, ROOT } from "./harness.mjs";
import { Issuer } from "./tokens.mjs";

const API = "https://api.example.com";
const EDGE = "https://edge.test/";
const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const ORIGIN = "https://origin.test";

function config() {
  return {
    issuers: [
      { issuer: "https://idp.test/", audiences: [API], jwks_uri: JWKS_URL },
      { issuer: EDGE, audiences: [API] },
    ],
    origin: ORIGIN,
    leeway: 0,
    routes: [
      { path: "/builds", methods: ["POST"], require: { scopes_all: ["create:builds"] } },
      { path: "/builds/*", methods: ["PUT"], require: { scopes_all: ["update:builds"] } },
      { path: "/delegated/*", require: { delegation: "required" } },
    ],
    exchange: {
      issuer: EDGE,
      actors: [{ client_id: "build-runner", audiences: [API] }],
      audiences: [
        { audience: API, scopes: ["read:builds", "update:builds"], max_lifetime: 86400, allow_beyond_subject: true },
      ],
    },
  };
}

/** A key set as the keygen example writes it. */
function keygen(previousFile, alg = "ES256") {
  const args = ["run", "-q", "--example", "keygen", "--", alg];
  if (previousFile) args.push(previousFile);
  return JSON.parse(execFileSync("cargo", args, { cwd: ROOT, encoding: "utf8" }));
}

async function boot(issuer, keys, cfg = config()) {
  return startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg), TOKENGATE_SIGNING_KEYS: JSON.stringify(keys) },
    outbound: async (req) => {
      if (req.url === JWKS_URL) return json(issuer.jwks());
      if (new URL(req.url).origin === ORIGIN) return json({ headers: Object.fromEntries(req.headers) });
      return new Response("unexpected", { status: 599 });
    },
  });
}

function form(fields) {
  const body = new URLSearchParams(fields).toString();
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) },
    body,
  };
}

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT = "urn:ietf:params:oauth:token-type:access_token";

function exchange(w, subject, actor, extra = {}) {
  const fields = { grant_type: GRANT, subject_token: subject, subject_token_type: AT, audience: API, ...extra };
  if (actor) Object.assign(fields, { actor_token: actor, actor_token_type: AT });
  return w.fetch("/oauth/token", form(fields));
}

const bearer = (t, method = "GET") => ({ method, headers: { authorization: `Bearer ${t}` } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("token exchange", async () => {
  const idp = new Issuer();
  const keys = keygen();
  const w = await boot(idp, keys);
  const runner = idp.machine("", "build-runner");
  const now = () => Math.floor(Date.now() / 1000);

  test("the seed scenario: narrowed token outlives the user token", async () => {
    const user = idp.user([], "read:builds create:builds update:builds", { exp: now() + 3 });
    const res = await exchange(w, user, runner, { scope: "update:builds", requested_lifetime: "3600" });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.issued_token_type, AT);
    assert.equal(body.scope, "update:builds");
    assert.equal(body.expires_in, 3600);
    const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url"));
    assert.equal(claims.iss, EDGE);
    assert.equal(claims.sub, "auth0|user-1");
    assert.deepEqual(claims.act, { sub: "build-runner" });
    assert.equal(claims.client_id, "build-runner");
    assert.ok(claims.jti);

    await sleep(4000); // the user token has expired now (leeway 0)
    assert.equal((await w.fetch("/builds/1", bearer(user, "PUT"))).status, 401);
    const put = await w.fetch("/builds/1", bearer(body.access_token, "PUT"));
    assert.equal(put.status, 200, await put.clone().text());
    const seen = await put.json();
    assert.equal(seen.headers["x-tokengate-kind"], "user");
    assert.equal(seen.headers["x-tokengate-user-id"], "auth0|user-1");
    assert.equal(seen.headers["x-tokengate-actor"], "build-runner");
    const post = await w.fetch("/builds", bearer(body.access_token, "POST"));
    assert.equal(post.status, 403);
    assert.equal((await post.json()).code, "insufficient_scope");
    assert.equal((await w.fetch("/delegated/x", bearer(body.access_token))).status, 200);
    assert.equal((await w.fetch("/delegated/x", bearer(runner))).status, 403);
  });

  const user = () => idp.user([], "read:builds update:builds");
  const cases = [
    ["scope escalation", () => exchange(w, user(), runner, { scope: "create:builds" }), 400, "invalid_scope"],
    ["disallowed actor", () => exchange(w, user(), idp.machine("", "stranger")), 401, "unauthorized_client"],
    ["a user token as actor", () => exchange(w, user(), user()), 401, "unauthorized_client"],
    ["disallowed audience", () => exchange(w, user(), runner, { audience: "https://other.example.com" }), 400, "invalid_target"],
    ["expired subject token", () => exchange(w, idp.user([], "update:builds", { exp: now() - 5 }), runner), 400, "invalid_grant"],
    ["missing actor token", () => exchange(w, user(), null), 400, "invalid_request"],
    ["wrong grant type", () => exchange(w, user(), runner, { grant_type: "client_credentials" }), 400, "unsupported_grant_type"],
    [
      "forged act in a token signed by an untrusted key",
      () => {
        const attacker = new Issuer();
        const forged = attacker.sign({ sub: "auth0|user-1", scope: "update:builds", act: { sub: "build-runner" } }, { kid: idp.current.kid });
        return exchange(w, forged, runner);
      },
      400,
      "invalid_grant",
    ],
    [
      "an oversized request",
      () => exchange(w, user(), runner, { padding: "x".repeat(5000) }),
      400,
      "invalid_request",
    ],
  ];
  for (const [name, run, status, error] of cases) {
    test(name, async () => {
      const res = await run();
      assert.equal(res.status, status, await res.clone().text());
      const body = await res.json();
      assert.equal(body.error, error);
      assert.equal(typeof body.error_description, "string");
      // RFC 6749 §5.2: only the refused client gets a challenge, with the default realm.
      assert.equal(res.headers.get("www-authenticate"), status === 401 ? 'Bearer realm="tokengate"' : null);
    });
  }

  test("a refused client's challenge names the configured realm", async () => {
    const w5 = await boot(idp, keys, { ...config(), realm: "builds-api" });
    try {
      const res = await exchange(w5, user(), idp.machine("", "stranger"));
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error, "unauthorized_client");
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="builds-api"');
    } finally {
      await w5.dispose();
    }
  });

  test("an unsupported grant_type is answered before any other parameter is checked", async () => {
    for (const fields of [
      // A client-credentials or password request: no token-exchange parameter at all.
      { grant_type: "client_credentials", client_id: "build-runner", client_secret: "s" },
      { grant_type: "password", username: "alice", password: "p" },
      // Tokens that would not verify, types that are not allowed.
      { grant_type: "refresh_token", subject_token: "garbage", subject_token_type: AT, actor_token: "x", actor_token_type: "y" },
      { grant_type: "authorization_code", subject_token: user(), subject_token_type: "urn:x", requested_lifetime: "-1" },
    ]) {
      const res = await w.fetch("/oauth/token", form(fields));
      const body = await res.json();
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error, "unsupported_grant_type", fields.grant_type);
      assert.equal(body.error_description, `grant_type must be ${GRANT}`);
    }
    // A missing grant_type is a malformed request, also before the other parameters.
    const res = await w.fetch("/oauth/token", form({ subject_token: "garbage", subject_token_type: AT }));
    const body = await res.json();
    assert.equal(res.status, 400);
    assert.equal(body.error, "invalid_request");
    assert.equal(body.error_description, "parameter grant_type is missing");
  });

  test("metadata: JWKS without private parts, OIDC configuration", async () => {
    const jwks = await (await w.fetch("/.well-known/jwks.json")).json();
    assert.equal(jwks.keys.length, 1);
    for (const k of jwks.keys) assert.equal(k.d, undefined);
    assert.equal(jwks.keys[0].kid, keys.keys[0].kid);
    const oidc = await (await w.fetch("/.well-known/openid-configuration")).json();
    assert.equal(oidc.issuer, EDGE);
    assert.equal(oidc.jwks_uri, "https://edge.test/.well-known/jwks.json");
    assert.equal(oidc.token_endpoint, "https://edge.test/oauth/token");
  });

  test("key rotation keeps issued tokens valid until the old key is retired", async () => {
    const r1 = await (await exchange(w, user(), runner, { scope: "update:builds" })).json();
    const old = r1.access_token;
    await w.dispose();

    const fs = await import("node:fs/promises");
    const os = await import("node:os");
    const path = await import("node:path");
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "tg-keys-"));
    const file = path.join(dir, "keys.json");
    await fs.writeFile(file, JSON.stringify(keys));
    const rotated = keygen(file);
    assert.equal(rotated.keys.length, 2);
    assert.equal(rotated.keys[1].kid, keys.keys[0].kid);

    const w2 = await boot(idp, rotated);
    try {
      assert.equal((await w2.fetch("/builds/1", bearer(old, "PUT"))).status, 200);
      const r2 = await (await exchange(w2, user(), runner, { scope: "update:builds" })).json();
      const header = JSON.parse(Buffer.from(r2.access_token.split(".")[0], "base64url"));
      assert.equal(header.kid, rotated.keys[0].kid);
      assert.equal(header.typ, "at+jwt");
      assert.equal((await (await w2.fetch("/.well-known/jwks.json")).json()).keys.length, 2);
    } finally {
      await w2.dispose();
    }
    const retired = { keys: [rotated.keys[0]] };
    const w3 = await boot(idp, retired);
    try {
      const res = await w3.fetch("/builds/1", bearer(old, "PUT"));
      assert.equal(res.status, 401);
      assert.equal((await res.json()).code, "key_not_found");
    } finally {
      await w3.dispose();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test("without signing keys the exchange config is a 500, never an open door", async () => {
    const w4 = await startWorker({ vars: { TOKENGATE_CONFIG: JSON.stringify(config()) } });
    try {
      const res = await w4.fetch("/builds/1", bearer(runner, "PUT"));
      assert.equal(res.status, 500);
      assert.equal((await res.json()).code, "config_invalid");
    } finally {
      await w4.dispose();
    }
  });
});

// The Worker signs through WebCrypto (crypto.subtle.sign), not Rust: the tokens it
// issues are checked here by Node's WebCrypto against the JWKS it publishes.
describe("edge signing through WebCrypto", async () => {
  const idp = new Issuer();
  for (const [alg, params] of [
    ["ES256", { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" }],
    ["EdDSA", { name: "Ed25519" }],
  ]) {
    test(`an ${alg} key from keygen signs tokens that verify against the published JWKS`, async () => {
      const keys = keygen(undefined, alg);
      const w = await boot(idp, keys);
      try {
        const res = await exchange(w, idp.user([], "read:builds update:builds"), idp.machine("", "build-runner"), {
          scope: "update:builds",
        });
        assert.equal(res.status, 200, await res.clone().text());
        const token = (await res.json()).access_token;
        const [h, p, s] = token.split(".");
        const header = JSON.parse(Buffer.from(h, "base64url"));
        assert.deepEqual(header, { alg, kid: keys.keys[0].kid, typ: "at+jwt" });
        const jwks = await (await w.fetch("/.well-known/jwks.json")).json();
        assert.equal(jwks.keys.length, 1);
        const { d, ...publicMembers } = keys.keys[0];
        assert.ok(d);
        assert.deepEqual(jwks.keys[0], publicMembers);
        const key = await crypto.subtle.importKey("jwk", jwks.keys[0], params, false, ["verify"]);
        const signature = Buffer.from(s, "base64url");
        assert.equal(signature.length, 64);
        const input = new TextEncoder().encode(`${h}.${p}`);
        assert.ok(await crypto.subtle.verify(params, key, signature, input));
        const tampered = Buffer.from(signature);
        tampered[5] ^= 1;
        assert.equal(await crypto.subtle.verify(params, key, tampered, input), false);
        assert.equal((await w.fetch("/builds/1", bearer(token, "PUT"))).status, 200);
      } finally {
        await w.dispose();
      }
    });
  }

  test("a signing key whose d is not 32 bytes is a config error", async () => {
    const keys = keygen();
    keys.keys[0].d = "AAAA";
    const w = await boot(idp, keys);
    try {
      const res = await w.fetch("/builds/1", bearer(idp.user([], "update:builds"), "PUT"));
      assert.equal(res.status, 500);
    } finally {
      await w.dispose();
    }
  });
});
