// Self-test of the OpenID provider fixture (index.mjs):
//   . scripts/env.sh && node --test tests/idp/idp.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";

import {
  startIdp, getToken, generateDpopKeyPair, proof, rawProof, dpopHeader, publicJwk,
  thumbprint, ath, decodeJwt, discover, validateRequest,
  DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID,
} from "./index.mjs";

// Verifies a compact JWS with a JWK from the provider's JWKS, node:crypto only.
function verifyWithJwks(jwt, jwks) {
  const [h, p, s] = jwt.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the JWKS`);
  assert.equal(jwk.d, undefined, "JWKS must not contain private members");
  const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  switch (header.alg) {
    case "ES256": return crypto.verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
    case "ES384": return crypto.verify("sha384", data, { key, dsaEncoding: "ieee-p1363" }, sig);
    case "RS256": return crypto.verify("sha256", data, key, sig);
    case "PS256": return crypto.verify("sha256", data,
      { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    case "EdDSA": case "Ed25519": return crypto.verify(null, data, key, sig);
    default: throw new Error(`alg ${header.alg}`);
  }
}

let idp;
before(async () => { idp = await startIdp(); });
after(async () => { await idp?.close(); });

test("listens on 127.0.0.1 with an ephemeral port; discovery lists jwks_uri and DPoP algs", async () => {
  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(new URL(idp.issuer).port, "");
  const res = await fetch(idp.discovery);
  assert.equal(res.status, 200);
  const meta = await res.json();
  assert.equal(meta.issuer, idp.issuer);
  assert.equal(meta.jwks_uri, idp.jwksUri);
  assert.equal(meta.token_endpoint, idp.tokenEndpoint);
  assert.ok(meta.grant_types_supported.includes("client_credentials"));
  assert.ok(meta.dpop_signing_alg_values_supported.includes("ES256"));
  // oauth4webapi's discovery agrees.
  const as = await discover(idp);
  assert.equal(as.issuer, idp.issuer);
  assert.equal(as.jwks_uri, idp.jwksUri);
});

test("DPoP token: at+jwt with cnf.jkt = thumbprint of the key pair, token_type DPoP", async () => {
  const keyPair = await generateDpopKeyPair();
  const t = await getToken(idp, { keyPair, scope: "read:builds" });
  assert.equal(t.token_type, "DPoP");
  assert.equal(t.access_token.split(".").length, 3);
  assert.equal(t.header.typ, "at+jwt");
  assert.equal(t.header.alg, "ES256");
  assert.equal(t.header.kid, idp.kid);
  const jwk = await publicJwk(keyPair.publicKey);
  const jkt = await thumbprint(jwk);
  assert.equal(await thumbprint(keyPair.publicKey), jkt, "JWK and CryptoKey thumbprints agree");
  assert.deepEqual(t.claims.cnf, { jkt });
  assert.equal(t.claims.iss, idp.issuer);
  assert.equal(t.claims.aud, DEFAULT_AUDIENCE);
  assert.equal(t.claims.client_id, DEFAULT_CLIENT_ID);
  assert.equal(t.claims.sub, DEFAULT_CLIENT_ID);
  assert.equal(t.claims.scope, "read:builds");
  assert.ok(t.claims.exp > t.claims.iat);
  assert.equal(typeof t.claims.jti, "string");
});

test("bearer token has no cnf; default scope is all of idp.scope", async () => {
  const t = await getToken(idp, { dpop: false });
  assert.equal(t.token_type, "Bearer");
  assert.equal(t.claims.cnf, undefined);
  assert.equal(t.claims.scope, "read:builds update:builds");
  assert.equal((await getToken(idp, { dpop: false, scope: "" })).claims.scope, undefined);
});

test("the provider's JWKS verifies the access token signature (node:crypto)", async () => {
  const jwks = await (await fetch(idp.jwksUri)).json();
  assert.deepEqual(jwks, idp.jwks);
  const t = await getToken(idp);
  assert.equal(verifyWithJwks(t.access_token, jwks), true);
  const tampered = t.access_token.replace(/\.[^.]+\./, (m) => m.slice(0, -2) + (m.at(-2) === "A" ? "B" : "A") + ".");
  assert.equal(verifyWithJwks(tampered, jwks), false);
  // signToken() uses the same key.
  const forged = idp.signToken({ ...t.claims, aud: "https://other.example" });
  assert.equal(verifyWithJwks(forged, jwks), true);
  assert.equal(decodeJwt(forged).header.typ, "at+jwt");
});

test("unknown resource and scope outside the client's allow-list are refused", async () => {
  await assert.rejects(getToken(idp, { resource: "https://elsewhere.example" }), /invalid_target/);
  const t = await getToken(idp, { scope: "read:builds delete:everything" });
  assert.equal(t.claims.scope, "read:builds");
});

test("proofs: dpop library and rawProof pass oauth4webapi's resource-server check", async () => {
  const keyPair = await generateDpopKeyPair();
  const t = await getToken(idp, { keyPair });
  const htu = "https://api.example.com/builds/7";
  const good = await proof(keyPair, { htm: "POST", htu, accessToken: t.access_token });
  const p = decodeJwt(good);
  assert.equal(p.header.typ, "dpop+jwt");
  assert.equal(p.header.jwk.d, undefined);
  assert.equal(p.payload.ath, ath(t.access_token));
  assert.equal(p.payload.htm, "POST");
  assert.equal(p.payload.htu, htu);
  const req = (dpopProof, scheme = "DPoP") => new Request(htu, {
    method: "POST", headers: { authorization: `${scheme} ${t.access_token}`, dpop: dpopProof },
  });
  const claims = await validateRequest(idp, req(good), { requireDPoP: true });
  assert.equal(claims.cnf.jkt, t.claims.cnf.jkt);

  // Explicit iat (recent) goes through rawProof with the dpop library's header.
  const now = Math.floor(Date.now() / 1000);
  await validateRequest(idp, req(await proof(keyPair, { htm: "POST", htu, accessToken: t.access_token, iat: now - 5 })));
  // Deliberately bad proofs are refused by the reference check.
  const header = await dpopHeader(keyPair);
  const base = { iat: now, jti: crypto.randomUUID(), htm: "POST", htu, ath: ath(t.access_token) };
  const bad = [
    [/"typ"/, await rawProof(keyPair, { ...header, typ: "JWT" }, base)],
    [/htm mismatch/, await rawProof(keyPair, header, { ...base, htm: "GET" })],
    [/htu mismatch/, await rawProof(keyPair, header, { ...base, htu: "https://api.example.com/other" })],
    [/iat is not recent/, await proof(keyPair, { htm: "POST", htu, accessToken: t.access_token, iat: now - 3600 })],
    [/ath mismatch/, await rawProof(keyPair, header, { ...base, ath: ath("another token") })],
    [/"jti".*missing/, await rawProof(keyPair, header, { ...base, jti: undefined })],
    [/confirmation mismatch/, await proof(await generateDpopKeyPair(), { htm: "POST", htu, accessToken: t.access_token })],
  ];
  for (const [reason, jwt] of bad) {
    await assert.rejects(validateRequest(idp, req(jwt)), reason);
  }
  // A private `d` can be put in the jwk (extractable private key).
  const { d } = await crypto.webcrypto.subtle.exportKey("jwk", keyPair.privateKey);
  const withD = decodeJwt(await rawProof(keyPair, { ...header, jwk: { ...header.jwk, d } }, base));
  assert.equal(withD.header.jwk.d, d);
});

test("the token endpoint refuses a replayed DPoP proof (jti)", async () => {
  const dpop = await proof(await generateDpopKeyPair(), { htm: "POST", htu: idp.tokenEndpoint });
  const post = () => fetch(idp.tokenEndpoint, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${idp.clientId}:${idp.clientSecret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
      dpop,
    },
    body: "grant_type=client_credentials",
  });
  assert.equal((await post()).status, 200);
  const again = await post();
  assert.equal(again.status, 400);
  assert.equal((await again.json()).error, "invalid_grant");
});

test("other key types: RS256/PS256/Ed25519 DPoP keys, RS256 and EdDSA provider keys", async () => {
  for (const alg of ["PS256", "RS256", "Ed25519"]) {
    const keyPair = await generateDpopKeyPair(alg);
    const t = await getToken(idp, { keyPair });
    assert.equal(t.claims.cnf.jkt, await thumbprint(await publicJwk(keyPair)), alg);
    const htu = "https://api.example.com/x";
    const req = new Request(htu, { headers: {
      authorization: `DPoP ${t.access_token}`,
      dpop: await proof(keyPair, { htu, accessToken: t.access_token }),
    } });
    await validateRequest(idp, req);
  }
  for (const signingAlg of ["RS256", "EdDSA"]) {
    const other = await startIdp({ signingAlg, audience: "urn:example:api", scope: "a b" });
    try {
      const t = await getToken(other, { scope: "a" });
      assert.equal(t.header.alg, signingAlg);
      assert.equal(t.claims.aud, "urn:example:api");
      assert.equal(verifyWithJwks(t.access_token, await (await fetch(other.jwksUri)).json()), true);
    } finally {
      await other.close();
    }
  }
});

test("dpopNonce: the token endpoint demands a nonce and getToken retries once", async () => {
  const nidp = await startIdp({ dpopNonce: true, clients: [
    { client_id: "dpop-only", client_secret: "s3cret-s3cret-s3cret", dpop_bound_access_tokens: true },
  ] });
  try {
    const res = await fetch(nidp.tokenEndpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from("dpop-only:s3cret-s3cret-s3cret").toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        dpop: await proof(await generateDpopKeyPair(), { htm: "POST", htu: nidp.tokenEndpoint }),
      },
      body: "grant_type=client_credentials",
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, "use_dpop_nonce");
    assert.ok(res.headers.get("dpop-nonce"));

    const t = await getToken(nidp);
    assert.equal(t.token_type, "DPoP");
    assert.ok(t.claims.cnf.jkt);
    // DPoP is mandatory for this client.
    await assert.rejects(getToken(nidp, { dpop: false }), /invalid_grant/);
  } finally {
    await nidp.close();
  }
});
