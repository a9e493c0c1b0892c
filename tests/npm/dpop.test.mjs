// Sender-constrained tokens in the npm package (issue 15): DPoP (RFC 9449) proofs on
// verifyRequest / authorizeRequest / protect, the replay store (default and custom),
// nonces, bearer use of bound tokens, certificate-bound tokens (RFC 8705) through the
// per-request `clientCertificate`, and RFC 9728 protected-resource metadata.
//
// Real implementations written by others: the access tokens come from oidc-provider
// (its DPoP feature, client-credentials grant through oauth4webapi) found by OIDC
// discovery (no jwksUri is configured), and the proofs from panva's `dpop` library
// (tests/idp/index.mjs; npm ci --prefix tests/idp). Deliberately bad proofs are signed
// with the fixture's rawProof, tokens the provider would not issue with its own key
// (idp.signToken).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID, webcrypto } from "node:crypto";
import { createVerifier, denyResponse, forwardHeaders, protect } from "tokengate";
import {
  ath, decodeJwt, dpopHeader, generateDpopKeyPair, getToken, proof, rawProof, startIdp, thumbprint,
  validateRequest,
} from "../idp/index.mjs";

/** The URL clients call (the proof's htu); the verifier sees the same URL. */
const API = "https://api.example.com";
const URL_BUILDS = `${API}/builds/1`;
const NONCE_SECRET = "a-nonce-key-of-at-least-32-bytes-for-tests";

let idp;
/** A DPoP-bound token from the provider, and its key pair. */
let bound;

before(async () => {
  idp = await startIdp();
  bound = await getToken(idp);
  assert.equal(bound.token_type, "DPoP");
  assert.equal(typeof bound.claims.cnf?.jkt, "string");
});
after(() => idp?.close());

function verifierFor(extra = {}) {
  // No jwksUri: the keys are found by discovery, as a user would configure it.
  return createVerifier({ issuer: idp.issuer, audience: idp.audience, ...extra });
}

function dpopRequest(token, proofJwt, { url = URL_BUILDS, method = "GET", headers = {} } = {}) {
  const h = new Headers({ authorization: `DPoP ${token}`, ...headers });
  if (proofJwt !== undefined) h.append("dpop", proofJwt);
  return new Request(url, { method, headers: h });
}

function assertOk(r) {
  assert.equal(r.ok, true, `expected a success, got ${JSON.stringify(r.error)}`);
}

function assertDenied(r, code, status) {
  assert.equal(r.ok, false, `expected ${code}, got a success`);
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  if (status !== undefined) assert.equal(r.error.status, status, JSON.stringify(r.error));
}

/** The claims a valid proof for `token` at GET URL_BUILDS has. */
function proofClaims(token, over = {}) {
  return {
    jti: randomUUID(),
    htm: "GET",
    htu: URL_BUILDS,
    iat: Math.floor(Date.now() / 1000),
    ath: ath(token),
    ...over,
  };
}

test("a valid proof from the dpop library passes, as oauth4webapi's resource-server check agrees", async () => {
  const v = verifierFor({ dpopProofs: {} });
  const token = bound.access_token;
  const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  // The query is not part of htu.
  const req = dpopRequest(token, p, { url: `${URL_BUILDS}?page=2` });
  const r = await v.verifyRequest(req);
  assertOk(r);
  assert.equal(r.principal.binding, "dpop");
  assert.equal(r.principal.kind, "machine");
  assert.equal(r.claims.cnf.jkt, await thumbprint(bound.keyPair));
  // Another implementation accepts the same request.
  const claims = await validateRequest(idp, dpopRequest(token, p, { url: `${URL_BUILDS}?page=2` }), { requireDPoP: true });
  assert.equal(claims.cnf.jkt, r.claims.cnf.jkt);

  // authorizeRequest: the requirement, senderConstrained included.
  const p2 = await proof(bound.keyPair, { htm: "POST", htu: URL_BUILDS, accessToken: token });
  const r2 = await v.authorizeRequest(dpopRequest(token, p2, { method: "POST" }),
    { scopesAll: ["update:builds"], senderConstrained: true });
  assertOk(r2);
  const p3 = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  assertDenied(await v.authorizeRequest(dpopRequest(token, p3), { scopesAll: ["delete:builds"] }),
    "insufficient_scope", 403);

  // protect: the handler gets the principal.
  const handler = protect(v, { senderConstrained: true }, (_req, principal) => Response.json({ binding: principal.binding }));
  const p4 = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  const res = await handler(dpopRequest(token, p4));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { binding: "dpop" });
});

test("each proof rule has a failing case", async () => {
  const v = verifierFor({ dpopProofs: {} });
  const token = bound.access_token;
  const kp = bound.keyPair;
  const header = await dpopHeader(kp);
  const privateJwk = await webcrypto.subtle.exportKey("jwk", kp.privateKey);
  const other = await generateDpopKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ["typ is not dpop+jwt", await rawProof(kp, { ...header, typ: "JWT" }, proofClaims(token))],
    ["no typ", await rawProof(kp, { alg: header.alg, jwk: header.jwk }, proofClaims(token))],
    ["a symmetric alg", await rawProof(kp, { ...header, alg: "HS256" }, proofClaims(token))],
    ["alg none", await rawProof(kp, { ...header, alg: "none" }, proofClaims(token))],
    ["an alg that does not fit the key", await rawProof(kp, { ...header, alg: "ES384" }, proofClaims(token))],
    ["a private member in jwk", await rawProof(kp, { ...header, jwk: { ...header.jwk, d: privateJwk.d } }, proofClaims(token))],
    ["no jwk", await rawProof(kp, { typ: header.typ, alg: header.alg }, proofClaims(token))],
    ["htm is another method", await proof(kp, { htm: "POST", htu: URL_BUILDS, accessToken: token })],
    ["htu is another URL", await proof(kp, { htm: "GET", htu: `${API}/builds/2`, accessToken: token })],
    ["htu is another host", await proof(kp, { htm: "GET", htu: "https://evil.example/builds/1", accessToken: token })],
    ["iat too old", await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token, iat: now - 3600 })],
    ["iat in the future", await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token, iat: now + 3600 })],
    ["no ath", await proof(kp, { htm: "GET", htu: URL_BUILDS })],
    ["ath of another token", await rawProof(kp, header, proofClaims(token, { ath: ath(`${token}x`) }))],
    ["no jti", await rawProof(kp, header, proofClaims(token, { jti: undefined }))],
    ["a bad signature", (await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token })).replace(/.{4}$/, "AAAA")],
    ["a proof that is not a JWS", "not-a-proof"],
  ];
  for (const [what, p] of cases) {
    assertDenied(await v.verifyRequest(dpopRequest(token, p)), "invalid_dpop_proof", 401);
  }
  // No DPoP header at all.
  assertDenied(await v.verifyRequest(dpopRequest(token, undefined)), "invalid_dpop_proof", 401);
  // Two proofs (two DPoP headers, joined with "," by Headers).
  const a = await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  const b = await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  const two = new Headers({ authorization: `DPoP ${token}` });
  two.append("dpop", a);
  two.append("dpop", b);
  const r = await v.verifyRequest(new Request(URL_BUILDS, { headers: two }));
  assertDenied(r, "invalid_dpop_proof", 401);
  assert.match(r.error.message, /exactly one dpop header/i);
  // A valid proof by another key than the token's cnf.jkt.
  const byOther = await proof(other, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  assertDenied(await v.verifyRequest(dpopRequest(token, byOther)), "dpop_binding_mismatch", 401);
  // The challenge of a proof error is the DPoP one.
  const denied = await v.verifyRequest(dpopRequest(token, cases[0][1]));
  assert.match(denied.error.wwwAuthenticate, /DPoP [^]*error="invalid_dpop_proof"/);
  assert.match(denied.error.wwwAuthenticate, /algs="[^"]*ES256/);
  // Still valid afterwards: the failures consumed nothing.
  assertOk(await v.verifyRequest(dpopRequest(token, await proof(kp, { htm: "GET", htu: URL_BUILDS, accessToken: token }))));
});

test("proofs verify through every signature backend (WebCrypto waits: the answer is a promise)", async () => {
  for (const signatureBackend of ["webcrypto", "wasm", "node"]) {
    for (const tokenCacheSize of [undefined, 0]) {
      const v = verifierFor({ signatureBackend, tokenCacheSize });
      const token = bound.access_token;
      const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
      assertOk(await v.verifyRequest(dpopRequest(token, p)));
      assertDenied(await v.verifyRequest(dpopRequest(token, p)), "dpop_proof_replayed");
      const forged = (await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token })).replace(/.{4}$/, "AAAA");
      assertDenied(await v.verifyRequest(dpopRequest(token, forged)), "invalid_dpop_proof");
    }
  }
});

test("the algorithm allowlist of dpopProofs.algorithms applies to proofs", async () => {
  const v = verifierFor({ dpopProofs: { algorithms: ["PS256"] } });
  const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: bound.access_token });
  assertDenied(await v.verifyRequest(dpopRequest(bound.access_token, p)), "invalid_dpop_proof");
});

test("a replayed proof is refused by the default in-memory store, with or without the token cache", async () => {
  for (const tokenCacheSize of [undefined, 0]) {
    const v = verifierFor({ tokenCacheSize });
    const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: bound.access_token });
    assertOk(await v.verifyRequest(dpopRequest(bound.access_token, p)));
    const again = await v.verifyRequest(dpopRequest(bound.access_token, p));
    assertDenied(again, "dpop_proof_replayed", 401);
    // A fresh proof passes.
    const p2 = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: bound.access_token });
    assertOk(await v.verifyRequest(dpopRequest(bound.access_token, p2)));
  }
});

test("a custom replayStore with claim(key, ttl) is called with the proof's key and ttl, and obeyed", async () => {
  const calls = [];
  let answer = true;
  const v = verifierFor({
    dpopProofs: { proofMaxAge: 120 },
    replayStore: { async claim(key, ttl) { calls.push([key, ttl]); return answer; } },
  });
  const token = bound.access_token;
  const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  assertOk(await v.verifyRequest(dpopRequest(token, p)));
  const { jti } = decodeJwt(p).payload;
  // key: the thumbprint, ".", the jti; ttl: proofMaxAge + clockTolerance (60) from now, through its last second.
  assert.deepEqual(calls, [[`${await thumbprint(bound.keyPair)}.${jti}`, 181]]);
  // The store says it has seen it: refused.
  answer = false;
  const p2 = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  assertDenied(await v.verifyRequest(dpopRequest(token, p2)), "dpop_proof_replayed", 401);
  assert.equal(calls.length, 2);
  // A proof failing an earlier rule never reaches the store.
  await v.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "POST", htu: URL_BUILDS, accessToken: token })));
  assert.equal(calls.length, 2);
  // Not a boolean: refused (fail closed).
  answer = "yes";
  const p3 = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  assertDenied(await v.verifyRequest(dpopRequest(token, p3)), "dpop_replay_unavailable", 503);
});

test("a has/put replayStore: has(key) then put(key, ttl); claim is preferred when present", async () => {
  const seen = new Map();
  const log = [];
  const store = {
    has: async (key) => { log.push(["has", key]); return seen.has(key); },
    put: async (key, ttl) => { log.push(["put", key, ttl]); seen.set(key, ttl); },
  };
  const v = verifierFor({ replayStore: store });
  const token = bound.access_token;
  const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
  const key = `${await thumbprint(bound.keyPair)}.${decodeJwt(p).payload.jti}`;
  assertOk(await v.verifyRequest(dpopRequest(token, p)));
  // Default proofMaxAge 300 + clockTolerance 60.
  assert.deepEqual(log, [["has", key], ["put", key, 361]]);
  assertDenied(await v.verifyRequest(dpopRequest(token, p)), "dpop_proof_replayed");
  assert.deepEqual(log.slice(2), [["has", key]]);

  let claimed = 0;
  const both = verifierFor({
    replayStore: { claim: () => { claimed++; return true; }, has: () => assert.fail("has"), put: () => assert.fail("put") },
  });
  assertOk(await both.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }))));
  assert.equal(claimed, 1);
});

test("a replayStore that throws or rejects refuses the proof with dpop_replay_unavailable", async () => {
  const token = bound.access_token;
  const stores = [
    { claim() { throw new Error("redis is down"); } },
    { claim: () => Promise.reject(new Error("redis is down")) },
    { has: () => Promise.reject(new Error("down")), put: () => {} },
    { has: () => false, put: () => { throw new Error("full"); } },
  ];
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a.join(" "));
  try {
    for (const replayStore of stores) {
      const v = verifierFor({ replayStore });
      const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token });
      const r = await v.verifyRequest(dpopRequest(token, p));
      assertDenied(r, "dpop_replay_unavailable", 503);
      // The answer does not tell the client the store's error; the log does.
      const res = denyResponse(r.error);
      assert.equal(res.status, 503);
      assert.doesNotMatch(await res.text(), /redis|down|full/);
    }
  } finally {
    console.error = original;
  }
  assert.equal(errors.length, stores.length);
  assert.match(errors[0], /redis is down/);
  // A store without the methods is an invalid option.
  assert.throws(() => verifierFor({ replayStore: {} }), /invalid option "replayStore"/);
  assert.throws(() => verifierFor({ replayStore: { has() {} } }), /invalid option "replayStore"/);
  assert.throws(() => verifierFor({ replayStore: "memory" }), /invalid option "replayStore"/);
});

test("nonces: use_dpop_nonce with a DPoP-Nonce header, then the proof with the nonce passes", async () => {
  assert.throws(() => verifierFor({ dpopProofs: { nonce: true } }), /invalid option "dpopNonceSecret"/);
  assert.throws(() => verifierFor({ dpopProofs: { nonce: true }, dpopNonceSecret: "short" }), /invalid option "dpopNonceSecret"/);
  const v = verifierFor({ dpopProofs: { nonce: true }, dpopNonceSecret: NONCE_SECRET });
  const token = bound.access_token;
  const first = await v.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token })));
  assertDenied(first, "use_dpop_nonce", 401);
  const nonce = first.error.dpopNonce;
  assert.equal(typeof nonce, "string");
  const res = denyResponse(first.error);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("dpop-nonce"), nonce);
  assert.match(res.headers.get("www-authenticate"), /DPoP [^]*error="use_dpop_nonce"/);
  assert.equal((await res.json()).code, "use_dpop_nonce");
  // The client retries with the nonce (the dpop library puts it in the proof).
  const second = await v.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token, nonce })));
  assertOk(second);
  // A nonce of another key (or made up) gets a fresh one.
  const other = verifierFor({ dpopProofs: { nonce: true }, dpopNonceSecret: `${NONCE_SECRET}-other` });
  const elsewhere = await other.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token, nonce })));
  assertDenied(elsewhere, "use_dpop_nonce");
  assert.notEqual(elsewhere.error.dpopNonce, nonce);
  // A second verifier with the same secret (another process) accepts the nonce.
  const peer = verifierFor({ dpopProofs: { nonce: true }, dpopNonceSecret: NONCE_SECRET });
  assertOk(await peer.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token, nonce }))));
  // dpopNonce() issues one for any answer; null when nonces are off.
  assert.equal(typeof v.dpopNonce(), "string");
  assert.equal(verifierFor().dpopNonce(), null);
  // Through protect, the refusal carries the header.
  const handler = protect(v, null, () => new Response("ok"));
  const refused = await handler(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token })));
  assert.equal(refused.status, 401);
  assert.equal(typeof refused.headers.get("dpop-nonce"), "string");
  const ok = await handler(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token, nonce: refused.headers.get("dpop-nonce") })));
  assert.equal(ok.status, 200);
});

test("a DPoP-bound token is never accepted as a bearer token; dpop: \"required\" refuses bearer tokens", async () => {
  const v = verifierFor();
  const token = bound.access_token;
  const bearerReq = () => new Request(URL_BUILDS, { headers: { authorization: `Bearer ${token}` } });
  assertDenied(await v.verify(token), "dpop_required", 401);
  assertDenied(await v.authorize(token), "dpop_required", 401);
  assertDenied(await v.verifyRequest(bearerReq()), "dpop_required", 401);
  // After a successful DPoP request (the verification is kept), still refused as bearer.
  assertOk(await v.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }))));
  assertDenied(await v.verify(token), "dpop_required");
  assertDenied(await v.verifyRequest(bearerReq()), "dpop_required");
  const res = await protect(v, null, () => new Response("ok"))(bearerReq());
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "dpop_required");

  // A plain bearer token from the same provider.
  const plain = await getToken(idp, { dpop: false });
  assert.equal(plain.claims.cnf, undefined);
  assertOk(await v.verify(plain.access_token));
  assertOk(await v.verifyRequest(new Request(URL_BUILDS, { headers: { authorization: `Bearer ${plain.access_token}` } })));
  // An unbound token with the DPoP scheme.
  const p = await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: plain.access_token });
  assertDenied(await v.verifyRequest(dpopRequest(plain.access_token, p)), "dpop_binding_mismatch");
  // senderConstrained refuses the bearer token.
  assertDenied(await v.authorize(plain.access_token, { senderConstrained: true }), "sender_constraint_required", 401);

  const strict = verifierFor({ dpop: "required" });
  assertDenied(await strict.verify(plain.access_token), "dpop_required", 401);
  const r = await strict.verifyRequest(new Request(URL_BUILDS, { headers: { authorization: `Bearer ${plain.access_token}` } }));
  assertDenied(r, "dpop_required");
  // Bearer tokens are not accepted at all: the challenge is the DPoP one only.
  assert.match(r.error.wwwAuthenticate, /^DPoP /);
  assert.doesNotMatch(r.error.wwwAuthenticate, /Bearer/);
  assertOk(await strict.verifyRequest(dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }))));
});

test("a request with Node's shape: plain headers, a relative url with publicBaseUrl or options.url", async () => {
  const token = bound.access_token;
  const nodeLike = (p) => ({ method: "GET", url: "/builds/1?x=1", headers: { authorization: `DPoP ${token}`, dpop: p } });
  const behindProxy = verifierFor({ dpopProofs: { publicBaseUrl: API } });
  assertOk(await behindProxy.verifyRequest(nodeLike(await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }))));
  // publicBaseUrl: only the path of the request's own URL counts.
  const internal = dpopRequest(token, await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }), { url: "http://10.0.0.7:8080/builds/1" });
  assertOk(await behindProxy.verifyRequest(internal));
  const v = verifierFor();
  assertOk(await v.verifyRequest(nodeLike(await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token })), { url: `${URL_BUILDS}?x=1` }));
  // Without the absolute URL the proof cannot match.
  assertDenied(await v.verifyRequest(nodeLike(await proof(bound.keyPair, { htm: "GET", htu: URL_BUILDS, accessToken: token }))), "invalid_dpop_proof");
  await assert.rejects(v.verifyRequest("GET /"), TypeError);
});

test("certificate-bound tokens (cnf x5t#S256): the clientCertificate thumbprint must match", async () => {
  const v = verifierFor();
  const der = randomBytes(512);
  const digest = createHash("sha256").update(der).digest();
  const x5t = digest.toString("base64url");
  // Node's fingerprint256: uppercase hex pairs joined with ":".
  const fingerprint256 = digest.toString("hex").toUpperCase().match(/../g).join(":");
  const now = Math.floor(Date.now() / 1000);
  const token = idp.signToken({
    iss: idp.issuer, aud: idp.audience, sub: "mtls-client", client_id: "mtls-client",
    iat: now, exp: now + 300, scope: "read:builds", cnf: { "x5t#S256": x5t },
  });
  const req = () => new Request(URL_BUILDS, { headers: { authorization: `Bearer ${token}` } });
  const r = await v.verifyRequest(req(), { clientCertificate: fingerprint256 });
  assertOk(r);
  assert.equal(r.principal.binding, "mtls");
  assertOk(await v.verifyRequest(req(), { clientCertificate: x5t }));
  assertOk(await v.authorizeRequest(req(), { senderConstrained: true, scopesAll: "read:builds" }, { clientCertificate: digest.toString("hex") }));
  // Another certificate, none, or verify(token) (no certificate): refused.
  const otherFp = createHash("sha256").update(randomBytes(16)).digest("hex");
  assertDenied(await v.verifyRequest(req(), { clientCertificate: otherFp }), "mtls_binding_mismatch", 401);
  assertDenied(await v.verifyRequest(req()), "mtls_binding_mismatch", 401);
  assertDenied(await v.verify(token), "mtls_binding_mismatch", 401);
  // After a match (kept), a mismatch is still refused.
  assertDenied(await v.verifyRequest(req(), { clientCertificate: otherFp }), "mtls_binding_mismatch");
  // Not a SHA-256 fingerprint: a TypeError (a programming error, not a bad token).
  await assert.rejects(v.verifyRequest(req(), { clientCertificate: "abc" }), TypeError);
  // protect takes it from a function of the request.
  const handler = protect(v, null, (_r, p) => Response.json(p.binding), {
    clientCertificate: (request) => request.headers.get("x-test-cert"),
  });
  const withCert = new Request(URL_BUILDS, { headers: { authorization: `Bearer ${token}`, "x-test-cert": fingerprint256 } });
  assert.equal((await handler(withCert)).status, 200);
  const wrongCert = new Request(URL_BUILDS, { headers: { authorization: `Bearer ${token}`, "x-test-cert": otherFp } });
  const denied = await handler(wrongCert);
  assert.equal(denied.status, 401);
  assert.equal((await denied.json()).code, "mtls_binding_mismatch");
  // An unbound token with a certificate is fine.
  const plain = await getToken(idp, { dpop: false });
  assertOk(await v.verifyRequest(new Request(URL_BUILDS, { headers: { authorization: `Bearer ${plain.access_token}` } }), { clientCertificate: otherFp }));
});

test("RFC 9728: the metadata document, its response for route handlers, and the challenge's resource_metadata", async () => {
  const resource = `${API}/v1`;
  const wellKnown = "/.well-known/oauth-protected-resource/v1";
  const v = verifierFor({
    dpopProofs: {},
    resourceMetadata: { resource, scopesSupported: ["read:builds", "update:builds"], resourceName: "Builds API" },
  });
  const doc = v.resourceMetadata();
  assert.equal(doc.resource, resource);
  assert.deepEqual(doc.authorization_servers, [idp.issuer]);
  assert.deepEqual(doc.scopes_supported, ["read:builds", "update:builds"]);
  assert.equal(doc.resource_name, "Builds API");
  assert.ok(doc.dpop_signing_alg_values_supported.includes("ES256"), JSON.stringify(doc));
  assert.deepEqual(v.resourceMetadata(wellKnown), doc);
  assert.equal(v.resourceMetadata("/.well-known/oauth-protected-resource"), null);
  assert.equal(v.resourceMetadata("/builds"), null);
  assert.equal(v.resourceMetadataUrl(), `${API}${wellKnown}`);

  const res = v.metadataResponse(new Request(`${API}${wellKnown}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.match(res.headers.get("content-type"), /application\/json/);
  assert.deepEqual(await res.json(), doc);
  const preflight = v.metadataResponse(new Request(`${API}${wellKnown}`, { method: "OPTIONS" }));
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.equal(v.metadataResponse(new Request(`${API}${wellKnown}`, { method: "POST" })).status, 405);
  assert.equal(v.metadataResponse(new Request(`${API}/builds`)), null);
  assert.equal(verifierFor().metadataResponse(new Request(`${API}${wellKnown}`)), null);
  assert.equal(verifierFor().resourceMetadata(), null);
  assert.equal(verifierFor().resourceMetadataUrl(), null);

  // 401 challenges name the document: no token, a bad proof, a bearer-used bound token.
  const attr = `resource_metadata="${API}${wellKnown}"`;
  const none = await v.verifyRequest(new Request(URL_BUILDS));
  assertDenied(none, "token_missing", 401);
  assert.ok(none.error.wwwAuthenticate.includes(attr), none.error.wwwAuthenticate);
  assert.match(none.error.wwwAuthenticate, /DPoP /);
  const res401 = await protect(v, null, () => new Response("ok"))(new Request(URL_BUILDS));
  assert.ok(res401.headers.get("www-authenticate").includes(attr));
  const bad = await v.verifyRequest(dpopRequest(bound.access_token, "x.y.z"));
  assert.ok(bad.error.wwwAuthenticate.includes(attr), bad.error.wwwAuthenticate);

  assert.throws(() => verifierFor({ resourceMetadata: { resource: "http://api.example.com/" } }), /invalid option "resourceMetadata.resource"/);
});

test("forwardHeaders drops the DPoP header with the Authorization header", () => {
  const incoming = new Headers({ authorization: "DPoP t", dpop: "proof", accept: "application/json" });
  const principal = { kind: "machine", subject: "s", clientId: "c", scopes: [], roles: [], issuer: "https://i/", audiences: [], expiresAt: null, decidedBy: "gty" };
  const kept = forwardHeaders(incoming, principal);
  assert.equal(kept.get("authorization"), "DPoP t");
  assert.equal(kept.get("dpop"), "proof");
  const dropped = forwardHeaders(incoming, principal, { forwardAuthorization: false });
  assert.equal(dropped.get("authorization"), null);
  assert.equal(dropped.get("dpop"), null);
  assert.equal(dropped.get("accept"), "application/json");
});
