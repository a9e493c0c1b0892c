// Keys and tokens for the benchmarks, made with node:crypto only (no library under
// test signs anything): one key pair per algorithm, its public JWK with a `kid`, and
// compact JWS access tokens with Auth0-shaped claims.

import crypto from "node:crypto";

export const ISSUER = "https://idp.bench.test/";
export const AUDIENCE = "https://api.bench.test";

/** The algorithms the Node comparison covers, with how to make and use their keys. */
export const ALGS = {
  RS256: {
    generate: () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }),
    sign: (input, key) => crypto.sign("sha256", input, key),
  },
  ES256: {
    generate: () => crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }),
    sign: (input, key) => crypto.sign("sha256", input, { key, dsaEncoding: "ieee-p1363" }),
  },
  EdDSA: {
    generate: () => crypto.generateKeyPairSync("ed25519"),
    sign: (input, key) => crypto.sign(null, input, key),
  },
};

const b64u = (buf) => Buffer.from(buf).toString("base64url");

/** A signing key for `alg`: { alg, kid, privateKey, publicKey, jwk, pem }. */
export function makeKey(alg, kid = `bench-${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`) {
  const spec = ALGS[alg];
  if (!spec) throw new Error(`unknown alg ${alg}`);
  const { privateKey, publicKey } = spec.generate();
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  const pem = publicKey.export({ format: "pem", type: "spki" });
  return { alg, kid, privateKey, publicKey, jwk, pem };
}

/** The JWKS publishing the public halves of `keys`. */
export function jwksOf(keys) {
  return { keys: keys.map((k) => k.jwk) };
}

/**
 * Signs one access token. `i` makes it unique (jti, and the subject of user tokens);
 * `now` is the unix time the token is valid at (iat = now - 30, exp = now + 3600).
 */
export function signToken(key, { i = 0, now, claims = {} } = {}) {
  const header = { alg: key.alg, typ: "at+jwt", kid: key.kid };
  const machine = i % 2 === 0;
  const payload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: machine ? `svc-${i % 8}@clients` : `auth0|user-${i}`,
    azp: machine ? `svc-${i % 8}` : "spa-client",
    ...(machine ? { gty: "client-credentials" } : {}),
    scope: "read:data write:data",
    iat: now - 30,
    exp: now + 3600,
    jti: `${i.toString(36)}-${crypto.randomBytes(6).toString("hex")}`,
    ...claims,
  };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig = ALGS[key.alg].sign(Buffer.from(input), key.privateKey);
  return `${input}.${b64u(sig)}`;
}

/** `n` distinct tokens. */
export function signTokens(key, n, now, offset = 0) {
  const out = new Array(n);
  for (let j = 0; j < n; j++) out[j] = signToken(key, { i: offset + j, now });
  return out;
}

/** The public parts of a key, serialisable for the child processes. */
export function exportKey(key) {
  return { alg: key.alg, kid: key.kid, jwk: key.jwk, pem: key.pem };
}
