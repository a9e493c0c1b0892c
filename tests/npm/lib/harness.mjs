// Test harness for the npm package: signing keys and tokens made with node:crypto,
// and a local issuer (OIDC discovery + JWKS) on 127.0.0.1 that counts its requests.
//
//   const keys = await makeKeys();                 // { rs, es, ed }: RS256, ES256, EdDSA
//   const idp = await startIssuer({ keys: [keys.rs, keys.es, keys.ed] });
//   const token = sign(keys.rs, { iss: idp.issuer, aud: AUDIENCE, sub: "u", ... });
//   idp.count("/jwks"); idp.setKeys([...]); idp.fail = 500; await idp.close();

import { createServer } from "node:http";
import { generateKeyPairSync, sign as cryptoSign, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../../..");
export const AUDIENCE = "https://api.example.com";

/** The real Auth0 client-credentials token of the shared test vectors. */
export function auth0Vector() {
  const file = path.resolve(ROOT, "tests/vectors/real-world/auth0-client-credentials.json");
  return JSON.parse(readFileSync(file, "utf8"));
}

export function b64url(data) {
  return Buffer.from(typeof data === "string" ? data : JSON.stringify(data)).toString(
    "base64url",
  );
}

/** A signing key: { alg, kid, privateKey, jwk (public) }. */
export function makeKey(alg, kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`) {
  let pair;
  if (alg === "RS256") pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  else if (alg === "ES256") pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  else if (alg === "EdDSA") pair = generateKeyPairSync("ed25519");
  else throw new Error(`no key type for ${alg}`);
  const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  return { alg, kid, privateKey: pair.privateKey, jwk };
}

export function makeKeys() {
  return { rs: makeKey("RS256"), es: makeKey("ES256"), ed: makeKey("EdDSA") };
}

export function jwksOf(keys) {
  return { keys: keys.map((k) => k.jwk) };
}

/** Signs `claims` with `key` (header: alg, typ JWT, kid; `header` overrides). */
export function sign(key, claims, header = {}) {
  const h = { alg: key.alg, typ: "JWT", kid: key.kid, ...header };
  const input = `${b64url(h)}.${b64url(claims)}`;
  let sig;
  if (key.alg === "RS256") sig = cryptoSign("sha256", Buffer.from(input), key.privateKey);
  else if (key.alg === "ES256")
    sig = cryptoSign("sha256", Buffer.from(input), {
      key: key.privateKey,
      dsaEncoding: "ieee-p1363",
    });
  else sig = cryptoSign(null, Buffer.from(input), key.privateKey);
  return `${input}.${sig.toString("base64url")}`;
}

/** HS256 with a raw secret (Buffer). */
export async function signHs256(secret, claims, header = {}) {
  const { createHmac } = await import("node:crypto");
  const input = `${b64url({ alg: "HS256", typ: "JWT", ...header })}.${b64url(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

export const now = () => Math.floor(Date.now() / 1000);

/** Claims of a user token (Auth0 style: permissions from RBAC). */
export function userClaims(issuer, extra = {}) {
  const t = now();
  return {
    iss: issuer,
    sub: "auth0|user-1",
    aud: [AUDIENCE, `${issuer}userinfo`],
    azp: "spa-client",
    scope: "openid profile",
    permissions: ["read:builds"],
    iat: t,
    exp: t + 3600,
    ...extra,
  };
}

/** Claims of a machine token (Auth0 client credentials). */
export function machineClaims(issuer, extra = {}) {
  const t = now();
  return {
    iss: issuer,
    sub: "ci-bot@clients",
    aud: AUDIENCE,
    azp: "ci-bot",
    gty: "client-credentials",
    scope: "read:builds",
    iat: t,
    exp: t + 3600,
    ...extra,
  };
}

/**
 * A local issuer on 127.0.0.1: `/.well-known/openid-configuration` and `/jwks`.
 * `issuer` is `http://127.0.0.1:<port>/` (loopback http is allowed by tokengate).
 */
export async function startIssuer({ keys = [], maxAge = 600 } = {}) {
  const counts = new Map();
  let jwks = jwksOf(keys);
  const state = {
    /** When set, /jwks answers with this status. */
    fail: 0,
    /** When set, /jwks never answers (to test timeouts). */
    hang: false,
  };
  const hanging = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    if (url.pathname === "/.well-known/openid-configuration") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ issuer: api.issuer, jwks_uri: `${api.origin}/jwks` }));
    } else if (url.pathname === "/moved") {
      res.statusCode = 302;
      res.setHeader("location", "/jwks");
      res.end();
    } else if (url.pathname === "/jwks") {
      if (state.hang) {
        hanging.add(res);
        return;
      }
      if (state.fail) {
        res.statusCode = state.fail;
        res.end("down");
        return;
      }
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", `public, max-age=${maxAge}`);
      res.end(JSON.stringify(jwks));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const api = {
    state,
    port,
    origin: `http://127.0.0.1:${port}`,
    issuer: `http://127.0.0.1:${port}/`,
    jwksUri: `http://127.0.0.1:${port}/jwks`,
    count: (p) => counts.get(p) ?? 0,
    resetCounts: () => counts.clear(),
    setKeys: (ks) => {
      jwks = jwksOf(ks);
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return api;
}

/** A simple shared cache (what Redis or KV would be) that records its calls. */
export function memoryCache() {
  const map = new Map();
  const calls = [];
  return {
    map,
    calls,
    async get(key) {
      calls.push(["get", key]);
      return map.get(key) ?? null;
    },
    async set(key, value, ttl) {
      calls.push(["set", key, ttl]);
      map.set(key, value);
    },
  };
}
