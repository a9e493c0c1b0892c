// Sender-constrained tokens at the edge (issue 15), in workerd (Miniflare), with real
// implementations written by others: DPoP-bound JWT access tokens from oidc-provider
// (tests/idp, client credentials, found by OIDC discovery: no jwks_uri is configured)
// and proofs from panva's `dpop` library (rawProof for the bad ones). The replay store
// is the Worker's own Durable Object (DPOP_REPLAY, class DpopReplay); a second isolate
// of the same deployment is a second Miniflare worker bound to it through scriptName.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startWorker, json, BASE_URL } from "./harness.mjs";
import {
  startIdp, getToken, generateDpopKeyPair, proof, rawProof, dpopHeader, ath, decodeJwt,
} from "../idp/index.mjs";

const ORIGIN = "https://origin.test";
const NONCE_SECRET = "a-test-nonce-secret-of-at-least-32-bytes!";
const METADATA_PATH = "/.well-known/oauth-protected-resource";

/** An origin that echoes the headers it received. */
function echo(req) {
  return json({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers) });
}

function config(idp, overrides = {}, issuer = {}) {
  return {
    unmatched: "any_valid_token",
    // Keys by discovery: no jwks_uri.
    issuers: [{ issuer: idp.issuer, audiences: [idp.audience], ...issuer }],
    origin: ORIGIN,
    routes: [
      { path: "/health", public: true },
      { path: "/strict/*", require: { sender_constrained: true } },
    ],
    dpop: {},
    resource_metadata: { resource: BASE_URL, scopes_supported: ["read:builds"] },
    edge: { forward_authorization: false },
    ...overrides,
  };
}

/** The Worker with the IdP reached for real (discovery and JWKS) and an echo origin. */
async function boot(idp, { cfg = config(idp), vars = {}, dpopReplay = true, isolates = 1 } = {}) {
  const idpHost = new URL(idp.issuer).host;
  return startWorker({
    vars: { TOKENGATE_CONFIG: JSON.stringify(cfg), ...vars },
    dpopReplay,
    isolates,
    outbound: async (req) => {
      const url = new URL(req.url);
      if (url.host === idpHost) return fetch(req.url);
      if (url.origin === ORIGIN) return echo(req);
      return new Response("unexpected", { status: 599 });
    },
  });
}

const now = () => Math.floor(Date.now() / 1000);
const url = (p) => new URL(p, BASE_URL).href;
const dpopAuth = (token, p) => ({ headers: { authorization: `DPoP ${token}`, dpop: p } });

async function refused(res, status, code) {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.code, code, JSON.stringify(body));
  return body;
}

let idp;
before(async () => {
  idp = await startIdp();
});
after(async () => {
  await idp?.close();
});

describe("DPoP proofs (RFC 9449 §4.3)", async () => {
  let w;
  let tok; // a DPoP-bound token and its key pair
  let other; // another key pair
  before(async () => {
    w = await boot(idp);
    tok = await getToken(idp, { scope: "read:builds" });
    other = await generateDpopKeyPair();
    assert.equal(tok.token_type, "DPoP");
    assert.ok(tok.claims.cnf?.jkt, "the provider bound the token");
  });
  after(() => w?.dispose());

  const good = (o = {}) =>
    proof(tok.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: tok.access_token, ...o });
  const claims = (o = {}) => ({
    jti: crypto.randomUUID(), htm: "GET", htu: url("/api/x"), iat: now(), ath: ath(tok.access_token), ...o,
  });
  const send = (p, path = "/api/x", init = {}) =>
    w.fetch(path, { ...dpopAuth(tok.access_token, p), ...init });

  test("a valid proof passes; the origin sees the identity and no DPoP header", async () => {
    const res = await send(await good());
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.headers["x-tokengate-subject"], tok.claims.sub);
    assert.equal(seen.headers["x-tokengate-client-id"], tok.claims.client_id);
    assert.equal(seen.headers.dpop, undefined);
    assert.equal(seen.headers.authorization, undefined);
  });

  test("the same proof again is a replay", async () => {
    const p = await good();
    assert.equal((await send(p)).status, 200);
    await refused(await send(p), 401, "dpop_proof_replayed");
  });

  test("htu: the query is ignored; host case and the default port are normalised", async () => {
    assert.equal((await send(await good(), "/api/x?page=2")).status, 200);
    const odd = await good({ htu: "https://TOKENGATE.test:443/api/x" });
    assert.equal((await send(odd)).status, 200);
    const dots = await good({ htu: "https://tokengate.test/api/./y/../x" });
    assert.equal((await send(dots)).status, 200);
  });

  const bad = [
    ["typ is not dpop+jwt", async () =>
      rawProof(tok.keyPair, { ...(await dpopHeader(tok.keyPair)), typ: "JWT" }, claims())],
    ["no typ", async () => {
      const { typ: _typ, ...h } = await dpopHeader(tok.keyPair);
      return rawProof(tok.keyPair, h, claims());
    }],
    ["alg none", async () => {
      const h = { ...(await dpopHeader(tok.keyPair)), alg: "none" };
      const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${b64(h)}.${b64(claims())}.`;
    }],
    ["alg HS256", async () =>
      rawProof(tok.keyPair, { ...(await dpopHeader(tok.keyPair)), alg: "HS256" }, claims())],
    ["a jwk with the private d", async () => {
      const priv = await crypto.webcrypto.subtle.exportKey("jwk", tok.keyPair.privateKey);
      const h = await dpopHeader(tok.keyPair);
      return rawProof(tok.keyPair, { ...h, jwk: { ...h.jwk, d: priv.d } }, claims());
    }],
    ["no jwk", async () => {
      const { jwk: _jwk, ...h } = await dpopHeader(tok.keyPair);
      return rawProof(tok.keyPair, h, claims());
    }],
    ["htm is another method", () => good({ htm: "POST" })],
    ["htu is another path", () => good({ htu: url("/api/other") })],
    ["htu is another host", () => good({ htu: "https://elsewhere.test/api/x" })],
    ["iat too old", () => good({ iat: now() - 3600 })],
    ["iat in the future", () => good({ iat: now() + 3600 })],
    ["ath is another token's", async () =>
      rawProof(tok.keyPair, await dpopHeader(tok.keyPair), claims({ ath: ath("another.token.value") }))],
    ["no ath", () => proof(tok.keyPair, { htm: "GET", htu: url("/api/x") })],
    ["no jti", async () =>
      rawProof(tok.keyPair, await dpopHeader(tok.keyPair), claims({ jti: undefined }))],
    ["a bad signature", async () => {
      const p = await good();
      const [h, c, s] = p.split(".");
      const sig = Buffer.from(s, "base64url");
      sig[5] ^= 0xff;
      return `${h}.${c}.${sig.toString("base64url")}`;
    }],
  ];
  const WHY = {
    "typ is not dpop+jwt": /typ is not dpop\+jwt/,
    "no typ": /no typ/,
    "alg none": /unsecured|signature part is empty/,
    "alg HS256": /HS256 is not one of the allowed algorithms/,
    "a jwk with the private d": /private member "d"/,
    "no jwk": /no jwk/,
    "htm is another method": /htm/,
    "htu is another path": /htu/,
    "htu is another host": /htu/,
    "iat too old": /too old/,
    "iat in the future": /future/,
    "ath is another token's": /ath is not/,
    "no ath": /no ath/,
    "no jti": /no jti/,
    "a bad signature": /signature does not verify/,
  };
  for (const [name, make] of bad) {
    test(`refused: ${name}`, async () => {
      const res = await send(await make());
      const body = await refused(res, 401, "invalid_dpop_proof");
      // The rule that refused it, not an earlier one.
      assert.match(body.error_description, WHY[name]);
      assert.match(res.headers.get("www-authenticate"), /DPoP .*error="invalid_dpop_proof"/);
    });
  }

  test("refused: two DPoP headers", async () => {
    const headers = new Headers({ authorization: `DPoP ${tok.access_token}` });
    headers.append("dpop", await good());
    headers.append("dpop", await good());
    const body = await refused(await w.fetch("/api/x", { headers }), 401, "invalid_dpop_proof");
    assert.match(body.error_description, /exactly one DPoP header/);
  });

  test("refused: no DPoP header with the DPoP scheme", async () => {
    const res = await w.fetch("/api/x", { headers: { authorization: `DPoP ${tok.access_token}` } });
    await refused(res, 401, "invalid_dpop_proof");
  });

  test("refused: a proof signed by another key than the token's cnf.jkt", async () => {
    const p = await proof(other, { htm: "GET", htu: url("/api/x"), accessToken: tok.access_token });
    await refused(await send(p), 401, "dpop_binding_mismatch");
  });

  test("a DPoP-bound token as a bearer token: dpop_required, with a DPoP challenge", async () => {
    const res = await w.fetch("/api/x", { headers: { authorization: `Bearer ${tok.access_token}` } });
    await refused(res, 401, "dpop_required");
    const challenge = res.headers.get("www-authenticate");
    assert.match(challenge, /DPoP /);
    assert.match(challenge, /algs="[^"]*ES256/);
    assert.match(challenge, new RegExp(`resource_metadata="${BASE_URL}${METADATA_PATH}"`));
  });

  test("a bearer token with the DPoP scheme: dpop_binding_mismatch", async () => {
    const plain = await getToken(idp, { dpop: false, scope: "read:builds" });
    assert.equal(plain.claims.cnf, undefined);
    const p = await proof(other, { htm: "GET", htu: url("/api/x"), accessToken: plain.access_token });
    await refused(await w.fetch("/api/x", dpopAuth(plain.access_token, p)), 401, "dpop_binding_mismatch");
    // As a bearer token it passes (the issuer allows them).
    const ok = await w.fetch("/api/x", { headers: { authorization: `Bearer ${plain.access_token}` } });
    assert.equal(ok.status, 200);
  });

  test("a route with sender_constrained refuses a bearer token and takes a DPoP one", async () => {
    const plain = await getToken(idp, { dpop: false, scope: "read:builds" });
    const res = await w.fetch("/strict/a", { headers: { authorization: `Bearer ${plain.access_token}` } });
    await refused(res, 401, "sender_constraint_required");
    const p = await good({ htu: url("/strict/a") });
    assert.equal((await send(p, "/strict/a")).status, 200);
  });

  test("the request log names the refusal", async () => {
    const lines = w.requestLines();
    assert.ok(lines.some((l) => l.code === "invalid_dpop_proof" && l.decision === "deny"));
    assert.ok(!JSON.stringify(w.logs).includes(tok.access_token), "no token in the logs");
  });
});

describe("replay across isolates (one Durable Object namespace, two workers)", async () => {
  let w;
  before(async () => {
    w = await boot(idp, { isolates: 2 });
  });
  after(() => w?.dispose());

  test("a proof used in one isolate is refused in the other", async () => {
    const t = await getToken(idp, {});
    const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
    const first = await w.fetchAt(0, "/api/x", dpopAuth(t.access_token, p));
    assert.equal(first.status, 200);
    await refused(await w.fetchAt(1, "/api/x", dpopAuth(t.access_token, p)), 401, "dpop_proof_replayed");
    // ... and the other way round, with a fresh proof.
    const q = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
    assert.equal((await w.fetchAt(1, "/api/x", dpopAuth(t.access_token, q))).status, 200);
    await refused(await w.fetchAt(0, "/api/x", dpopAuth(t.access_token, q)), 401, "dpop_proof_replayed");
  });

  test("concurrent uses of one proof in both isolates: exactly one passes", async () => {
    const t = await getToken(idp, {});
    const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
    const answers = await Promise.all(
      [0, 1, 0, 1].map((i) => w.fetchAt(i, "/api/x", dpopAuth(t.access_token, p))),
    );
    const statuses = await Promise.all(answers.map(async (r) => (await r.arrayBuffer(), r.status)));
    assert.deepEqual(statuses.filter((s) => s === 200).length, 1, JSON.stringify(statuses));
  });
});

describe("forward_authorization", async () => {
  test("with it on, the origin gets the Authorization and DPoP headers together", async () => {
    const w = await boot(idp, { cfg: config(idp, { edge: { forward_authorization: true } }) });
    try {
      const t = await getToken(idp, {});
      const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
      const res = await w.fetch("/api/x", dpopAuth(t.access_token, p));
      assert.equal(res.status, 200);
      const seen = await res.json();
      assert.equal(seen.headers.authorization, `DPoP ${t.access_token}`);
      assert.equal(seen.headers.dpop, p);
    } finally {
      await w.dispose();
    }
  });
});

describe("issuer dpop: required", async () => {
  test("refuses bearer tokens and takes DPoP-bound ones", async () => {
    const w = await boot(idp, { cfg: config(idp, {}, { dpop: "required" }) });
    try {
      const plain = await getToken(idp, { dpop: false });
      const res = await w.fetch("/api/x", { headers: { authorization: `Bearer ${plain.access_token}` } });
      await refused(res, 401, "dpop_required");
      // No Bearer challenge where bearer tokens are refused.
      assert.doesNotMatch(res.headers.get("www-authenticate"), /Bearer/);
      const t = await getToken(idp, {});
      const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
      assert.equal((await w.fetch("/api/x", dpopAuth(t.access_token, p))).status, 200);
    } finally {
      await w.dispose();
    }
  });

  test("without the DPOP_REPLAY binding the configuration is refused (config_invalid)", async () => {
    const w = await boot(idp, { cfg: config(idp, {}, { dpop: "required" }), dpopReplay: false });
    try {
      const body = await refused(await w.fetch("/api/x"), 500, "config_invalid");
      assert.ok(!/DPOP_REPLAY/.test(JSON.stringify(body)), "the body does not describe the failure");
      const [line] = await w.requestLogs(1);
      assert.equal(line.decision, "config_error");
      assert.match(line.message, /issuers\[0\]\.dpop.*DPOP_REPLAY/);
    } finally {
      await w.dispose();
    }
  });

  test("an issuer that only allows DPoP, without the binding: 503 dpop_replay_unavailable", async () => {
    const w = await boot(idp, { dpopReplay: false });
    try {
      const t = await getToken(idp, {});
      const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
      await refused(await w.fetch("/api/x", dpopAuth(t.access_token, p)), 503, "dpop_replay_unavailable");
      const plain = await getToken(idp, { dpop: false });
      const ok = await w.fetch("/api/x", { headers: { authorization: `Bearer ${plain.access_token}` } });
      assert.equal(ok.status, 200);
    } finally {
      await w.dispose();
    }
  });
});

describe("nonces (RFC 9449 §8-9)", async () => {
  test("use_dpop_nonce with a DPoP-Nonce, the retry with it passes, a forged one is refused", async () => {
    const w = await boot(idp, {
      cfg: config(idp, { dpop: { nonce: true } }),
      vars: { TOKENGATE_DPOP_NONCE_SECRET: NONCE_SECRET },
    });
    try {
      const t = await getToken(idp, {});
      const mk = (nonce) =>
        proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token, nonce });
      const first = await w.fetch("/api/x", dpopAuth(t.access_token, await mk()));
      await refused(first, 401, "use_dpop_nonce");
      const nonce = first.headers.get("dpop-nonce");
      assert.match(nonce ?? "", /^[A-Za-z0-9_-]{32}$/);
      assert.match(first.headers.get("www-authenticate"), /DPoP .*error="use_dpop_nonce"/);
      const retry = await w.fetch("/api/x", dpopAuth(t.access_token, await mk(nonce)));
      assert.equal(retry.status, 200);
      // A nonce of the right shape that this edge did not issue.
      const forged = Buffer.from(nonce, "base64url");
      forged[20] ^= 0xff;
      const res = await w.fetch("/api/x", dpopAuth(t.access_token, await mk(forged.toString("base64url"))));
      await refused(res, 401, "use_dpop_nonce");
      assert.ok(res.headers.get("dpop-nonce"));
    } finally {
      await w.dispose();
    }
  });

  test("nonces on without the secret: 500 config_invalid", async () => {
    const w = await boot(idp, { cfg: config(idp, { dpop: { nonce: true } }) });
    try {
      const t = await getToken(idp, {});
      const p = await proof(t.keyPair, { htm: "GET", htu: url("/api/x"), accessToken: t.access_token });
      await refused(await w.fetch("/api/x", dpopAuth(t.access_token, p)), 500, "config_invalid");
    } finally {
      await w.dispose();
    }
  });
});

describe("certificate-bound tokens (RFC 8705) from request.cf.tlsClientAuth", async () => {
  let w;
  let token;
  const der = crypto.randomBytes(600); // stands for the certificate's DER
  const fingerprint = crypto.createHash("sha256").update(der).digest("hex");
  before(async () => {
    w = await boot(idp);
    const plain = await getToken(idp, { dpop: false, scope: "read:builds" });
    const x5t = Buffer.from(fingerprint, "hex").toString("base64url");
    token = idp.signToken({ ...plain.claims, cnf: { "x5t#S256": x5t } });
    assert.deepEqual(decodeJwt(token).payload.cnf, { "x5t#S256": x5t });
  });
  after(() => w?.dispose());

  const withCert = (tlsClientAuth) => ({
    headers: { authorization: `Bearer ${token}` },
    ...(tlsClientAuth ? { cf: { tlsClientAuth } } : {}),
  });

  test("the matching verified certificate passes", async () => {
    const res = await w.fetch("/api/x", withCert({
      certPresented: "1", certVerified: "SUCCESS", certFingerprintSHA256: fingerprint,
    }));
    assert.equal(res.status, 200);
    // A certificate-bound token also meets sender_constrained.
    const strict = await w.fetch("/strict/a", withCert({
      certPresented: "1", certVerified: "SUCCESS", certFingerprintSHA256: fingerprint.toUpperCase(),
    }));
    assert.equal(strict.status, 200);
  });

  for (const [name, auth] of [
    ["another certificate", { certPresented: "1", certVerified: "SUCCESS", certFingerprintSHA256: "ab".repeat(32) }],
    ["a certificate not verified", { certPresented: "1", certVerified: "FAILED:self signed certificate", certFingerprintSHA256: fingerprint }],
    ["no certificate", { certPresented: "0", certVerified: "NONE", certFingerprintSHA256: "" }],
    ["no tlsClientAuth at all", undefined],
  ]) {
    test(`refused: ${name}`, async () => {
      await refused(await w.fetch("/api/x", withCert(auth)), 401, "mtls_binding_mismatch");
    });
  }
});

describe("protected resource metadata (RFC 9728)", async () => {
  test("served at the well-known path without a token, whatever unmatched says", async () => {
    const w = await boot(idp, { cfg: config(idp, { unmatched: "deny" }) });
    try {
      const res = await w.fetch(METADATA_PATH);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.match(res.headers.get("content-type"), /^application\/json/);
      assert.match(res.headers.get("cache-control"), /max-age=\d+/);
      const doc = await res.json();
      assert.equal(doc.resource, BASE_URL);
      assert.deepEqual(doc.authorization_servers, [idp.issuer]);
      assert.deepEqual(doc.scopes_supported, ["read:builds"]);
      assert.ok(doc.dpop_signing_alg_values_supported.includes("ES256"));
      assert.equal(w.callsTo(new URL(idp.issuer).host).length, 0, "no key fetch");

      const head = await w.fetch(METADATA_PATH, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("access-control-allow-origin"), "*");
      const pre = await w.fetch(METADATA_PATH, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "GET" },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), "*");
      assert.match(pre.headers.get("access-control-allow-methods"), /GET/);
      const post = await w.fetch(METADATA_PATH, { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      assert.match(post.headers.get("allow"), /GET, HEAD/);

      // Every other path is denied (unmatched: deny), and the challenges name the document.
      const denied = await w.fetch("/api/x");
      assert.equal(denied.status, 401);
      assert.match(denied.headers.get("www-authenticate"),
        new RegExp(`resource_metadata="${BASE_URL}${METADATA_PATH}"`));
      const [line] = await w.requestLogs(1);
      assert.equal(line.decision, "metadata");
    } finally {
      await w.dispose();
    }
  });

  test("a resource with a path: the path-suffixed well-known form", async () => {
    const cfg = config(idp, { resource_metadata: { resource: `${BASE_URL}/v1` } });
    const w = await boot(idp, { cfg });
    try {
      const res = await w.fetch(`${METADATA_PATH}/v1`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).resource, `${BASE_URL}/v1`);
      // The bare well-known path is not this resource's: it goes to the routes.
      assert.equal((await w.fetch(METADATA_PATH)).status, 401);
      const denied = await w.fetch("/v1/x");
      assert.match(denied.headers.get("www-authenticate"),
        new RegExp(`resource_metadata="${BASE_URL}${METADATA_PATH}/v1"`));
    } finally {
      await w.dispose();
    }
  });
});
