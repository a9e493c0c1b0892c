// Test tokens made with node:crypto: ES256 and RS256 keys, JWKS, Auth0-shaped claims.

import crypto from "node:crypto";

const b64u = (buf) => Buffer.from(buf).toString("base64url");
export const b64uJson = (v) => b64u(JSON.stringify(v));

export const ISSUER = "https://tenant.eu.auth0.com/";
export const AUDIENCE = "https://api.example.com";

export function makeKeys() {
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = (k, kid, alg) => ({ ...k.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
  return {
    ec: { ...ec, kid: "ec-test-1", alg: "ES256" },
    rsa: { ...rsa, kid: "rsa-test-1", alg: "RS256" },
    jwks: { keys: [jwk(ec, "ec-test-1", "ES256"), jwk(rsa, "rsa-test-1", "RS256")] },
  };
}

/** Signs claims with `key` (one of makeKeys().ec / .rsa); `header` adds to the default. */
export function sign(key, claims, header = {}) {
  const h = { alg: key.alg, typ: "JWT", kid: key.kid, ...header };
  const input = `${b64uJson(h)}.${b64uJson(claims)}`;
  const sig = key.alg === "ES256"
    ? crypto.sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" })
    : crypto.sign("sha256", Buffer.from(input), key.privateKey);
  return `${input}.${b64u(sig)}`;
}

/** A token with arbitrary header and payload and a dummy signature (for lints). */
export function unsigned(header, claims, signature = "c2lnbmF0dXJl") {
  return `${b64uJson(header)}.${b64uJson(claims)}.${signature}`;
}

/** Replaces the payload of a signed token, keeping its signature. */
export function tamper(token, change) {
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  return `${h}.${b64uJson(change(claims))}.${s}`;
}

export const now = () => Math.floor(Date.now() / 1000);

export function machineClaims(over = {}) {
  const t = now();
  return {
    iss: ISSUER,
    sub: "Zx8fk2PqL0aB3cD4eF5gH6iJ7kL8mN9o@clients",
    aud: AUDIENCE,
    iat: t - 300,
    exp: t - 300 + 3600,
    gty: "client-credentials",
    azp: "Zx8fk2PqL0aB3cD4eF5gH6iJ7kL8mN9o",
    scope: "read:builds update:builds",
    ...over,
  };
}

export function userClaims(over = {}) {
  const t = now();
  return {
    iss: ISSUER,
    sub: "auth0|64f1c0ffee0ddba11c0ffee0",
    aud: [AUDIENCE, `${ISSUER}userinfo`],
    iat: t - 600,
    exp: t - 600 + 30 * 86400,
    azp: "Web4ppCl1entId0000000000000000",
    scope: "openid profile read:builds",
    permissions: ["read:builds", "write:logs"],
    "https://example.com/roles": ["builder"],
    ...over,
  };
}
